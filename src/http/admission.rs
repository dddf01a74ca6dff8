//! Which new connections are let in: the global cap, the per-address cap and the reserve.
//!
//! Every open connection holds a [`Slot`]; dropping it (when the connection's thread ends,
//! however it ends, a panic included) gives the slot back, so the counts cannot leak.
//!
//! The rule, checked in this order for a connection from address A:
//!
//! 1. At most `max_connections` are open at once.
//! 2. A holds at most `max_connections_per_ip` (0: no cap). IPv6 addresses count per /64, the
//!    block one host is usually given, so an IPv6 client cannot step around the cap by
//!    changing the low bits of its address.
//! 3. The reserve: the last eighth of `max_connections` (rounded up, at least one slot when
//!    `max_connections` is 2 or more) is kept for addresses holding fewer than
//!    [`RESERVE_MAX_HELD`] connections. So one address, or a few, can never take every slot: a
//!    new client is still served while they sit at their caps.
//!
//! A trusted proxy carries many clients on its connections, so it is exempt from 2 and 3
//! (otherwise every client behind it would share one address's share); it still counts
//! towards 1.
//!
//! This module holds only counts and the rule (no sockets), so the rule is unit-tested here.

use crate::client_ip::{canonical, TrustedProxies};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// An address holding fewer connections than this may use the reserve.
pub const RESERVE_MAX_HELD: usize = 4;

/// The caps, as configured.
#[derive(Debug, Clone)]
pub struct Caps {
    /// Most connections open at once (at least 1).
    pub max_connections: usize,
    /// Most connections open at once from one address; 0 means no cap.
    pub max_per_address: usize,
    /// Addresses exempt from the per-address cap and the reserve.
    pub trusted_proxies: TrustedProxies,
}

impl Caps {
    /// How many of the last slots only addresses holding few connections may take.
    pub fn reserve(&self) -> usize {
        self.max_connections
            .div_ceil(8)
            .min(self.max_connections.saturating_sub(1))
    }
}

/// Why a connection was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` are open.
    Full,
    /// The address holds `max_connections_per_ip` already.
    AddressFull,
    /// Only the reserve is left, and the address holds too many to use it.
    ReserveOnly,
}

/// The counts of open connections, shared by the accept loop and every connection thread.
#[derive(Debug)]
pub struct Admission {
    caps: Caps,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Connections open now, exempt ones included.
    open: usize,
    /// Connections open now per counted address; an address holding none has no entry, so
    /// the map never outgrows `max_connections`.
    by_address: HashMap<IpAddr, usize>,
}

/// One admitted connection's place; dropping it gives the place back.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    /// The counted address, `None` for a trusted proxy.
    address: Option<IpAddr>,
}

impl Admission {
    /// No connection open yet.
    pub fn new(caps: Caps) -> Arc<Admission> {
        Arc::new(Admission {
            caps,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Admits a connection from `peer`, or says which rule refuses it. The slot is taken at
    /// once, so two connections racing for the last place cannot both get it.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refusal> {
        let caps = &self.caps;
        let address = (!caps.trusted_proxies.contains(peer)).then(|| counted_address(peer));
        // The counts stay consistent under a poisoned lock: every change below is one
        // statement that cannot panic halfway.
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.open >= caps.max_connections {
            return Err(Refusal::Full);
        }
        if let Some(address) = address {
            let held = counts.by_address.get(&address).copied().unwrap_or(0);
            if caps.max_per_address > 0 && held >= caps.max_per_address {
                return Err(Refusal::AddressFull);
            }
            let in_reserve = counts.open >= caps.max_connections - caps.reserve();
            if in_reserve && held >= RESERVE_MAX_HELD {
                return Err(Refusal::ReserveOnly);
            }
            *counts.by_address.entry(address).or_insert(0) += 1;
        }
        counts.open += 1;
        Ok(Slot {
            admission: Arc::clone(self),
            address,
        })
    }

    fn release(&self, address: Option<IpAddr>) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.open = counts.open.saturating_sub(1);
        if let Some(address) = address {
            if let Some(held) = counts.by_address.get_mut(&address) {
                *held -= 1;
                if *held == 0 {
                    counts.by_address.remove(&address);
                }
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.release(self.address);
    }
}

/// The address a connection counts against: IPv4 (also when IPv4-mapped) as is, IPv6 as its
/// /64 network.
fn counted_address(peer: IpAddr) -> IpAddr {
    match canonical(peer) {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(
        max_connections: usize,
        max_per_address: usize,
        trusted: &[&str],
    ) -> Arc<Admission> {
        Admission::new(Caps {
            max_connections,
            max_per_address,
            trusted_proxies: TrustedProxies::parse(trusted).unwrap(),
        })
    }

    impl Admission {
        fn open(&self) -> usize {
            self.counts.lock().unwrap().open
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Admits `count` connections from `peer`, all of which must get in.
    fn fill(admission: &Arc<Admission>, peer: &str, count: usize) -> Vec<Slot> {
        (0..count)
            .map(|n| {
                admission
                    .admit(ip(peer))
                    .unwrap_or_else(|refusal| panic!("connection {n} from {peer}: {refusal:?}"))
            })
            .collect()
    }

    #[test]
    fn the_reserve_is_an_eighth_rounded_up_and_never_every_slot() {
        let reserve = |max| admission(max, 0, &[]).caps.reserve();
        assert_eq!(reserve(1), 0);
        assert_eq!(reserve(2), 1);
        assert_eq!(reserve(8), 1);
        assert_eq!(reserve(9), 2);
        assert_eq!(reserve(1024), 128);
    }

    #[test]
    fn one_address_is_capped_and_others_are_not_affected() {
        let admission = admission(100, 3, &[]);
        let _held = fill(&admission, "192.0.2.1", 3);
        assert_eq!(
            admission.admit(ip("192.0.2.1")).unwrap_err(),
            Refusal::AddressFull
        );
        // The same address written as IPv4-mapped IPv6 is the same client.
        assert_eq!(
            admission.admit(ip("::ffff:192.0.2.1")).unwrap_err(),
            Refusal::AddressFull
        );
        let _other = fill(&admission, "192.0.2.2", 3);
        assert_eq!(admission.open(), 6);
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let admission = admission(100, 2, &[]);
        let _held = fill(&admission, "2001:db8:1:2::1", 1);
        let _more = fill(&admission, "2001:db8:1:2:ffff::9", 1);
        assert_eq!(
            admission.admit(ip("2001:db8:1:2::77")).unwrap_err(),
            Refusal::AddressFull
        );
        let _next_block = fill(&admission, "2001:db8:1:3::1", 2);
    }

    #[test]
    fn zero_means_no_per_address_cap_but_the_reserve_still_holds() {
        let admission = admission(16, 0, &[]);
        // 16 - 2 reserved slots.
        let _held = fill(&admission, "192.0.2.1", 14);
        assert_eq!(
            admission.admit(ip("192.0.2.1")).unwrap_err(),
            Refusal::ReserveOnly
        );
        let _newcomers = fill(&admission, "192.0.2.2", 2);
        assert_eq!(admission.admit(ip("192.0.2.3")).unwrap_err(), Refusal::Full);
    }

    #[test]
    fn the_reserve_admits_addresses_holding_few_connections_only() {
        let admission = admission(24, 0, &[]);
        // 24 - 3 reserved: 21 ordinary slots.
        let _a = fill(&admission, "192.0.2.1", 18);
        let _b = fill(&admission, "192.0.2.2", 3);
        // In the reserve: A holds 18, B holds 3 (fewer than RESERVE_MAX_HELD).
        assert_eq!(
            admission.admit(ip("192.0.2.1")).unwrap_err(),
            Refusal::ReserveOnly
        );
        let b4 = admission.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(
            admission.admit(ip("192.0.2.2")).unwrap_err(),
            Refusal::ReserveOnly
        );
        let _c = fill(&admission, "192.0.2.3", 2);
        assert_eq!(admission.open(), 24);
        assert_eq!(admission.admit(ip("192.0.2.4")).unwrap_err(), Refusal::Full);
        drop(b4);
        let _d = fill(&admission, "192.0.2.4", 1);
    }

    #[test]
    fn trusted_proxies_are_exempt_from_the_address_cap_and_the_reserve_not_the_total() {
        let admission = admission(10, 2, &["10.0.0.0/8"]);
        let proxied = fill(&admission, "10.0.0.5", 10);
        assert_eq!(admission.admit(ip("10.0.0.5")).unwrap_err(), Refusal::Full);
        assert_eq!(admission.admit(ip("192.0.2.1")).unwrap_err(), Refusal::Full);
        drop(proxied);
        assert_eq!(admission.open(), 0);
    }

    #[test]
    fn closing_gives_every_slot_back() {
        let admission = admission(8, 2, &["10.0.0.0/8"]);
        for round in 0..1000 {
            let peer = if round % 3 == 0 {
                "10.1.2.3"
            } else {
                "192.0.2.1"
            };
            let slots = fill(&admission, peer, 2);
            drop(slots);
        }
        assert_eq!(admission.open(), 0);
        let counts = admission.counts.lock().unwrap();
        assert!(counts.by_address.is_empty(), "{:?}", counts.by_address);
    }

    #[test]
    fn a_slot_dropped_by_a_panicking_thread_is_given_back() {
        let admission = admission(4, 1, &[]);
        let slot = admission.admit(ip("192.0.2.1")).unwrap();
        let joined = std::thread::spawn(move || {
            let _slot = slot;
            panic!("deliberate test panic");
        })
        .join();
        assert!(joined.is_err());
        assert_eq!(admission.open(), 0);
        let _again = fill(&admission, "192.0.2.1", 1);
    }
}
