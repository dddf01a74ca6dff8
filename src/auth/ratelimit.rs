//! Rate limiting with GCRA (the generic cell rate algorithm, a token bucket kept as one
//! number per client).
//!
//! A class allows `limit` requests per minute with a burst of `limit`: a client may spend all
//! of them at once and then gets one more every `60 / limit` seconds. Each client of a class
//! is one "theoretical arrival time" (TAT) in milliseconds; a request is allowed when the TAT
//! it would push forward stays within one minute of now. Time is passed in, so tests step a
//! fixed clock instead of sleeping.
//!
//! Memory is bounded: at most `max_entries` clients are remembered. Entries whose bucket has
//! refilled carry no information and are dropped first; if that is not enough, the entries
//! closest to refilled go, so spraying addresses cannot grow the table.
//!
//! # Several nodes
//!
//! Nodes serving one database share their buckets through [`SharedBuckets`] (a table in the
//! database, given with [`RateLimiter::with_shared`]); a node alone keeps them in memory only.
//! Buckets are shared by the SHA-256 of the client's key, never the key itself.
//!
//! - **Exact classes** (login per IP, login per email, refresh: [`Class::is_exact`]): every
//!   decision is one atomic statement on the shared bucket, so the limits hold across nodes
//!   exactly as on one node, and the `X-RateLimit-*` numbers are the shared bucket's.
//! - **Public and authenticated**: each node decides in memory, on its view of the shared
//!   bucket, and every [`SYNC_INTERVAL_MILLIS`] ([`RateLimiter::sync`]) adds what it admitted
//!   to the shared bucket and takes the shared TAT back as its view. A client's first request
//!   on a node is decided on the shared bucket (that gives the node its view); after that,
//!   between two syncs a node admits at most [`local_allowance`] (`ceil(limit / 20)`, at
//!   least 1) requests of one client on its own, and the next one is decided on the shared
//!   bucket, with what the node has admitted so far added first. Time admitted beyond the bucket is kept as debt and paid
//!   back by waiting. So with N nodes, in any window a client gets at most N × `ceil(limit /
//!   20)` requests more than one exact bucket would give it (100 per minute on 3 nodes: at
//!   most 15 more), and the headers describe the shared bucket as of the node's last sync.
//!   A request usually costs no database statement for its rate limit (a client's first on
//!   a node, and bursts past the allowance, cost one).
//!
//! Must not import `http`, `store` or `api`.

use crate::error::Error;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Milliseconds in the window a limit is expressed over.
const WINDOW_MILLIS: i64 = 60_000;

/// How often a node adds what it admitted to the shared buckets and reads them back.
pub const SYNC_INTERVAL_MILLIS: u64 = 250;

/// The rate-limit classes of `auth.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Public content, per client IP.
    Public,
    /// Authenticated requests, per API key or user.
    Authenticated,
    /// Login and register, per client IP.
    LoginIp,
    /// Login, per submitted email.
    LoginEmail,
    /// Refresh, per session.
    Refresh,
}

impl Class {
    /// The class's name where buckets are stored.
    pub fn name(self) -> &'static str {
        match self {
            Class::Public => "public",
            Class::Authenticated => "authenticated",
            Class::LoginIp => "login_ip",
            Class::LoginEmail => "login_email",
            Class::Refresh => "refresh",
        }
    }

    /// Whether the class is decided on the shared bucket on every request when nodes share
    /// buckets (the login and refresh limits: exact across nodes); the others decide locally
    /// and synchronize (see the module doc).
    pub fn is_exact(self) -> bool {
        matches!(self, Class::LoginIp | Class::LoginEmail | Class::Refresh)
    }
}

/// The answer for one request, with what the `X-RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// The class's limit per minute (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Requests left right now (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Unix seconds when the bucket is full again (`X-RateLimit-Reset`).
    pub reset_unix: i64,
    /// For a refusal: whole seconds (>= 1) until one request is allowed (`Retry-After`).
    pub retry_after_secs: u64,
}

/// Per-class limits per minute; `0` turns a class off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// [`Class::Public`].
    pub public: u32,
    /// [`Class::Authenticated`].
    pub authenticated: u32,
    /// [`Class::LoginIp`].
    pub login_ip: u32,
    /// [`Class::LoginEmail`].
    pub login_email: u32,
    /// [`Class::Refresh`].
    pub refresh: u32,
}

impl Limits {
    fn of(&self, class: Class) -> u32 {
        match class {
            Class::Public => self.public,
            Class::Authenticated => self.authenticated,
            Class::LoginIp => self.login_ip,
            Class::LoginEmail => self.login_email,
            Class::Refresh => self.refresh,
        }
    }
}

/// Requests of one client a node admits between two syncs without asking the shared bucket,
/// for a limit of `limit` per minute: `ceil(limit / 20)`, at least 1. The per-node allowance
/// of the documented tolerance.
pub fn local_allowance(limit: u32) -> u32 {
    limit.div_ceil(20).max(1)
}

/// One spend on a shared bucket, in milliseconds (see [`SharedBuckets::spend`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedSpend {
    /// The time of the decision.
    pub now_millis: i64,
    /// Time a node admitted and has not added yet: added whatever the decision.
    pub pending_millis: i64,
    /// The request's cost (one emission interval), or 0 to only add `pending_millis`.
    pub cost_millis: i64,
    /// The burst: how far the TAT may run ahead of now for a request to be admitted.
    pub burst_millis: i64,
}

/// A shared bucket after a spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedBucket {
    /// Its theoretical arrival time, unix milliseconds.
    pub tat_millis: i64,
    /// Whether the spend's request was admitted.
    pub admitted: bool,
}

/// Buckets the nodes of one deployment share (implemented on the database).
pub trait SharedBuckets: Send + Sync {
    /// Atomically, on the bucket of `class` and `client_hash`: moves its TAT to
    /// `max(tat, now) + pending`, plus `cost` if that still admits the request
    /// (`max(tat, now) + pending + cost - burst <= now`); returns the bucket after.
    fn spend(
        &self,
        class: Class,
        client_hash: &str,
        spend: SharedSpend,
    ) -> Result<SharedBucket, Error>;

    /// Deletes buckets that have refilled by `now_millis`, keeping the shared table bounded.
    fn prune(&self, now_millis: i64) -> Result<usize, Error>;
}

/// One client's bucket as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// The TAT: this node's own, or the shared one read at the last sync if later.
    tat: i64,
    /// Time admitted here and not yet added to the shared bucket (shared mode only).
    pending: i64,
    /// Whether the client sent a request since the last sync (shared mode only): the sync
    /// refreshes the view of every client active here, not only of those with time to add.
    touched: bool,
}

/// The limiter shared by all workers.
pub struct RateLimiter {
    limits: Limits,
    max_entries: usize,
    tats: Mutex<HashMap<(Class, String), Entry>>,
    shared: Option<Arc<dyn SharedBuckets>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits)
            .field("max_entries", &self.max_entries)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

/// The SHA-256 (hex) a client's key is shared as.
fn client_hash(client: &str) -> String {
    crate::ids::to_hex(&Sha256::digest(client.as_bytes()))
}

/// The decision for a bucket whose TAT is `tat` after the request (admitted or not).
fn decision(limit: u32, interval: i64, burst: i64, now: i64, tat: i64, allowed: bool) -> Decision {
    if allowed {
        let used = (tat - now + interval - 1) / interval;
        Decision {
            allowed: true,
            limit,
            remaining: u32::try_from(i64::from(limit) - used).unwrap_or(0),
            reset_unix: ceil_secs(tat),
            retry_after_secs: 0,
        }
    } else {
        let wait = tat.max(now) + interval - burst - now;
        Decision {
            allowed: false,
            limit,
            remaining: 0,
            reset_unix: ceil_secs(tat.max(now)),
            retry_after_secs: u64::try_from((wait + 999) / 1000).unwrap_or(1).max(1),
        }
    }
}

impl RateLimiter {
    /// A limiter with `limits` remembering at most `max_entries` (>= 1) clients, in this
    /// process only.
    pub fn new(limits: Limits, max_entries: usize) -> Self {
        RateLimiter {
            limits,
            max_entries: max_entries.max(1),
            tats: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// The same limiter sharing its buckets with other nodes through `shared` (see the
    /// module doc); [`Self::sync`] must then run every [`SYNC_INTERVAL_MILLIS`].
    pub fn with_shared(mut self, shared: Arc<dyn SharedBuckets>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Whether `class` is limited at all (a limit of 0 turns it off).
    pub fn is_on(&self, class: Class) -> bool {
        self.limits.of(class) != 0
    }

    /// Counts one request of `client` in `class` at `now_millis`; `Ok(None)` when the class
    /// is off. A refused request does not consume anything. Fails only when the shared
    /// buckets cannot be reached (the database is down).
    pub fn check(
        &self,
        class: Class,
        client: &str,
        now_millis: i64,
    ) -> Result<Option<Decision>, Error> {
        let limit = self.limits.of(class);
        if limit == 0 {
            return Ok(None);
        }
        let interval = WINDOW_MILLIS / i64::from(limit);
        let burst = interval * i64::from(limit);
        let decide = |tat, allowed| decision(limit, interval, burst, now_millis, tat, allowed);
        if let Some(shared) = self.shared.as_ref().filter(|_| class.is_exact()) {
            let spend = SharedSpend {
                now_millis,
                pending_millis: 0,
                cost_millis: interval,
                burst_millis: burst,
            };
            let bucket = shared.spend(class, &client_hash(client), spend)?;
            return Ok(Some(decide(bucket.tat_millis, bucket.admitted)));
        }
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        let key = (class, client.to_string());
        let known = tats.get(&key).copied();
        let entry = known.unwrap_or(Entry {
            tat: now_millis,
            pending: 0,
            touched: false,
        });
        let tat = entry.tat.max(now_millis);
        if now_millis < tat + interval - burst {
            if let Some(held) = tats.get_mut(&key) {
                held.touched = self.shared.is_some();
            }
            return Ok(Some(decide(tat, false)));
        }
        let allowance = i64::from(local_allowance(limit)) * interval;
        let ask_shared = known.is_none() || entry.pending >= allowance;
        if let Some(shared) = self.shared.as_ref().filter(|_| ask_shared) {
            // A client new to this node, or one this node has admitted its allowance of since
            // the last sync: add what it admitted to the shared bucket and decide this request
            // there (which also gives the node its view of the bucket), without holding the
            // lock meanwhile.
            if let Some(held) = tats.get_mut(&key) {
                held.pending = 0;
            }
            drop(tats);
            let spend = SharedSpend {
                now_millis,
                pending_millis: entry.pending,
                cost_millis: interval,
                burst_millis: burst,
            };
            let outcome = shared.spend(class, &client_hash(client), spend);
            let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
            let held = tats.entry(key).or_insert(Entry {
                tat: now_millis,
                pending: 0,
                touched: false,
            });
            return match outcome {
                Ok(bucket) => {
                    held.tat = held.tat.max(bucket.tat_millis + held.pending);
                    Ok(Some(decide(bucket.tat_millis, bucket.admitted)))
                }
                Err(err) => {
                    held.pending += entry.pending;
                    Err(err)
                }
            };
        }
        if !tats.contains_key(&key) && tats.len() >= self.max_entries {
            evict(&mut tats, now_millis, self.max_entries);
        }
        let new_tat = tat + interval;
        let pending = if self.shared.is_some() {
            entry.pending + interval
        } else {
            0
        };
        tats.insert(
            key,
            Entry {
                tat: new_tat,
                pending,
                touched: self.shared.is_some(),
            },
        );
        Ok(Some(decide(new_tat, true)))
    }

    /// With shared buckets: for every client active here since the last sync, adds the time
    /// admitted here to its shared bucket and takes the shared TAT back as this node's view;
    /// then deletes shared buckets that have refilled. Without, nothing. On a failure the unsent time is kept
    /// for the next sync.
    pub fn sync(&self, now_millis: i64) -> Result<(), Error> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let mut batch: Vec<((Class, String), i64)> = {
            let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
            tats.iter_mut()
                .filter(|(_, entry)| entry.pending > 0 || entry.touched)
                .map(|(key, entry)| {
                    entry.touched = false;
                    (key.clone(), std::mem::take(&mut entry.pending))
                })
                .collect()
        };
        // A fixed order, so two nodes syncing together lock rows in the same order.
        batch.sort_unstable_by(|a, b| (a.0 .0.name(), &a.0 .1).cmp(&(b.0 .0.name(), &b.0 .1)));
        let mut unsent = batch.into_iter();
        while let Some((key, pending)) = unsent.next() {
            let limit = self.limits.of(key.0);
            if limit == 0 {
                continue;
            }
            let interval = WINDOW_MILLIS / i64::from(limit);
            let spend = SharedSpend {
                now_millis,
                pending_millis: pending,
                cost_millis: 0,
                burst_millis: interval * i64::from(limit),
            };
            let outcome = shared.spend(key.0, &client_hash(&key.1), spend);
            let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
            match outcome {
                Ok(bucket) => {
                    if let Some(entry) = tats.get_mut(&key) {
                        entry.tat = entry.tat.max(bucket.tat_millis + entry.pending);
                    }
                }
                Err(err) => {
                    for (key, pending) in std::iter::once((key, pending)).chain(unsent) {
                        let entry = tats.entry(key).or_insert(Entry {
                            tat: now_millis,
                            pending: 0,
                            touched: true,
                        });
                        entry.pending += pending;
                    }
                    return Err(err);
                }
            }
        }
        shared.prune(now_millis)?;
        Ok(())
    }

    /// How many clients are remembered now.
    pub fn entries(&self) -> usize {
        self.tats.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

fn ceil_secs(millis: i64) -> i64 {
    (millis + 999).div_euclid(1000)
}

/// Makes room for one entry: drops refilled buckets, then the ones nearest to refilled.
/// (Time a dropped entry admitted and had not synced is forgotten: only under a spray.)
fn evict(tats: &mut HashMap<(Class, String), Entry>, now_millis: i64, max_entries: usize) {
    tats.retain(|_, entry| entry.tat > now_millis);
    if tats.len() < max_entries {
        return;
    }
    let mut by_tat: Vec<i64> = tats.values().map(|entry| entry.tat).collect();
    by_tat.sort_unstable();
    // Free a tenth of the table at once so a spray does not sort on every request.
    let drop = (max_entries / 10).max(1).min(by_tat.len());
    let cutoff = by_tat[drop - 1];
    let mut dropped = 0;
    tats.retain(|_, entry| {
        if dropped < drop && entry.tat <= cutoff {
            dropped += 1;
            false
        } else {
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(n: u32) -> Limits {
        Limits {
            public: n,
            authenticated: n,
            login_ip: n,
            login_email: n,
            refresh: n,
        }
    }

    #[test]
    fn a_burst_of_the_limit_is_allowed_then_one_per_interval() {
        let limiter = RateLimiter::new(limits(100), 1000);
        let t0 = 1_000_000;
        for i in 0..100 {
            let d = limiter.check(Class::Public, "ip", t0).unwrap().unwrap();
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 99 - i);
        }
        let refused = limiter.check(Class::Public, "ip", t0).unwrap().unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        // 0.6 s later exactly one more is allowed.
        assert!(allowed(&limiter, Class::Public, "ip", t0 + 600));
        assert!(!allowed(&limiter, Class::Public, "ip", t0 + 600));
    }

    #[test]
    fn refusals_do_not_consume_and_retry_after_is_honest() {
        let limiter = RateLimiter::new(limits(10), 1000);
        for _ in 0..10 {
            assert!(allowed(&limiter, Class::LoginIp, "ip", 0));
        }
        for _ in 0..50 {
            let d = limiter.check(Class::LoginIp, "ip", 0).unwrap().unwrap();
            assert!(!d.allowed);
            assert_eq!(d.retry_after_secs, 6);
        }
        assert!(!allowed(&limiter, Class::LoginIp, "ip", 5_999));
        assert!(allowed(&limiter, Class::LoginIp, "ip", 6_000));
    }

    /// Whether `limiter` lets the request through (a check that cannot fail here).
    fn allowed(limiter: &RateLimiter, class: Class, client: &str, now: i64) -> bool {
        limiter.check(class, client, now).unwrap().unwrap().allowed
    }

    #[test]
    fn classes_and_clients_are_separate() {
        let limiter = RateLimiter::new(limits(1), 1000);
        assert!(allowed(&limiter, Class::LoginIp, "a", 0));
        assert!(allowed(&limiter, Class::LoginIp, "b", 0));
        assert!(allowed(&limiter, Class::LoginEmail, "a", 0));
        assert!(!allowed(&limiter, Class::LoginIp, "a", 0));
    }

    #[test]
    fn zero_turns_a_class_off() {
        let limiter = RateLimiter::new(
            Limits {
                public: 0,
                ..limits(1)
            },
            10,
        );
        for _ in 0..1000 {
            assert_eq!(limiter.check(Class::Public, "ip", 0).unwrap(), None);
        }
    }

    #[test]
    fn reset_is_when_the_bucket_is_full_again() {
        let limiter = RateLimiter::new(limits(60), 10);
        let d = limiter.check(Class::Refresh, "s", 10_000).unwrap().unwrap();
        assert_eq!(d.reset_unix, 11);
        assert_eq!(d.remaining, 59);
    }

    #[test]
    fn memory_stays_bounded_under_an_address_spray() {
        let limiter = RateLimiter::new(limits(100), 1000);
        for i in 0..50_000 {
            limiter
                .check(Class::Public, &format!("10.0.{}.{}", i / 256, i % 256), 0)
                .unwrap();
        }
        assert!(limiter.entries() <= 1000);
    }

    #[test]
    fn refilled_entries_are_evicted_first() {
        let limiter = RateLimiter::new(limits(100), 2);
        limiter.check(Class::Public, "old", 0).unwrap();
        limiter.check(Class::Public, "busy", 120_000).unwrap();
        limiter.check(Class::Public, "new", 120_000).unwrap();
        let tats = limiter.tats.lock().unwrap();
        assert!(!tats.contains_key(&(Class::Public, "old".to_string())));
        assert!(tats.contains_key(&(Class::Public, "busy".to_string())));
    }

    /// The shared buckets of several nodes, in memory, with the arithmetic the database's
    /// statement has (the store's own tests check that statement).
    #[derive(Default)]
    struct MemoryBuckets {
        tats: Mutex<HashMap<(Class, String), i64>>,
        down: std::sync::atomic::AtomicBool,
        spends: std::sync::atomic::AtomicUsize,
    }

    impl SharedBuckets for MemoryBuckets {
        fn spend(
            &self,
            class: Class,
            client_hash: &str,
            spend: SharedSpend,
        ) -> Result<SharedBucket, Error> {
            use std::sync::atomic::Ordering;
            if self.down.load(Ordering::SeqCst) {
                return Err(Error::Unavailable("down".into()));
            }
            self.spends.fetch_add(1, Ordering::SeqCst);
            let mut tats = self.tats.lock().unwrap();
            let key = (class, client_hash.to_string());
            let stored = tats.get(&key).copied().unwrap_or(spend.now_millis);
            let base = stored.max(spend.now_millis) + spend.pending_millis;
            let admitted = base + spend.cost_millis - spend.burst_millis <= spend.now_millis;
            let tat = if admitted {
                base + spend.cost_millis
            } else {
                base
            };
            tats.insert(key, tat);
            Ok(SharedBucket {
                tat_millis: tat,
                admitted,
            })
        }

        fn prune(&self, now_millis: i64) -> Result<usize, Error> {
            let mut tats = self.tats.lock().unwrap();
            let before = tats.len();
            tats.retain(|_, tat| *tat > now_millis);
            Ok(before - tats.len())
        }
    }

    fn nodes(count: usize, limit: u32) -> (Arc<MemoryBuckets>, Vec<RateLimiter>) {
        let shared = Arc::new(MemoryBuckets::default());
        let nodes = (0..count)
            .map(|_| {
                RateLimiter::new(limits(limit), 1000)
                    .with_shared(Arc::clone(&shared) as Arc<dyn SharedBuckets>)
            })
            .collect();
        (shared, nodes)
    }

    #[test]
    fn exact_classes_hold_across_nodes_and_report_the_shared_budget() {
        let (shared, nodes) = nodes(3, 10);
        let mut remaining = Vec::new();
        for i in 0..30 {
            let d = nodes[i % 3]
                .check(Class::LoginIp, "ip", 0)
                .unwrap()
                .unwrap();
            if d.allowed {
                remaining.push(d.remaining);
            } else {
                assert_eq!(d.retry_after_secs, 6);
            }
        }
        assert_eq!(remaining, (0..10).rev().collect::<Vec<u32>>());
        // Every decision was one shared statement, and nothing was kept locally.
        assert_eq!(shared.spends.load(std::sync::atomic::Ordering::SeqCst), 30);
        assert!(nodes.iter().all(|node| node.entries() == 0));
        // Other exact classes too; and 6 s later exactly one more, on whichever node.
        assert!(allowed(&nodes[0], Class::Refresh, "s", 0));
        assert!(allowed(&nodes[2], Class::LoginIp, "ip", 6_000));
        assert!(!allowed(&nodes[1], Class::LoginIp, "ip", 6_000));
    }

    /// Drives `count` nodes sharing buckets with requests of one client (`arrivals(step,
    /// node)` of them per node every 50 ms), each node syncing every 250 ms at its own
    /// phase, for `steps` steps; returns the admission times.
    fn simulate(
        count: usize,
        limit: u32,
        steps: i64,
        arrivals: impl Fn(i64, usize) -> u32,
    ) -> Vec<i64> {
        let (_shared, nodes) = nodes(count, limit);
        let mut admitted = Vec::new();
        for step in 0..steps {
            let now = 1_000_000 + step * 50;
            for (n, node) in nodes.iter().enumerate() {
                for _ in 0..arrivals(step, n) {
                    let d = node.check(Class::Public, "ip", now).unwrap().unwrap();
                    if d.allowed {
                        admitted.push(now);
                    }
                }
                if (step + 2 * n as i64) % 5 == 0 {
                    node.sync(now).unwrap();
                }
            }
        }
        admitted
    }

    /// The documented tolerance: in any window, at most N × `local_allowance` more than one
    /// exact bucket admits (the limit, plus one per interval).
    fn assert_within_tolerance(admitted: &[i64], count: usize, limit: u32, window: i64) {
        let interval = WINDOW_MILLIS / i64::from(limit);
        let exact = i64::from(limit) + window / interval;
        let bound = exact + (count as i64) * i64::from(local_allowance(limit));
        for (i, start) in admitted.iter().enumerate() {
            let inside = admitted[i..]
                .iter()
                .take_while(|t| **t < start + window)
                .count() as i64;
            assert!(
                inside <= bound,
                "{inside} admitted in the {window} ms from {start}, more than {bound}"
            );
        }
    }

    #[test]
    fn a_flood_on_every_node_stays_within_the_documented_tolerance() {
        for limit in [10, 20, 100] {
            // Every node gets 3 requests every 50 ms for ten minutes.
            let admitted = simulate(3, limit, 12_000, |_, _| 3);
            for window in [1_000, 10_000, 60_000, 600_000] {
                assert_within_tolerance(&admitted, 3, limit, window);
            }
            // Far from three times the limit: about the limit per minute over ten minutes.
            let minutes = 10;
            assert!(
                admitted.len() as i64
                    <= i64::from(limit) * (minutes + 1) + 3 * i64::from(local_allowance(limit)),
                "{} admitted for a limit of {limit}",
                admitted.len()
            );
        }
    }

    #[test]
    fn irregular_traffic_across_nodes_stays_within_the_documented_tolerance() {
        for (limit, seed) in [(20u32, 7u64), (100, 11), (60, 23)] {
            let arrivals = |step: i64, node: usize| {
                // A fixed pseudo-random pattern: quiet spells and bursts, per node.
                let mut x = seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ node as u64;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 7 == 0 {
                    (x % 40) as u32
                } else {
                    (x % 3) as u32
                }
            };
            let admitted = simulate(3, limit, 12_000, arrivals);
            for window in [1_000, 10_000, 60_000, 600_000] {
                assert_within_tolerance(&admitted, 3, limit, window);
            }
        }
    }

    #[test]
    fn a_node_admits_its_allowance_alone_then_asks_the_shared_bucket() {
        let (shared, nodes) = nodes(2, 100);
        let spends = || shared.spends.load(std::sync::atomic::Ordering::SeqCst);
        // A client's first request on a node is decided on the shared bucket.
        let d = nodes[0]
            .check(Class::Authenticated, "k", 0)
            .unwrap()
            .unwrap();
        assert_eq!((d.allowed, d.remaining), (true, 99));
        assert_eq!(spends(), 1);
        // 100 per minute: then 5 requests between syncs without a statement.
        for _ in 0..5 {
            assert!(allowed(&nodes[0], Class::Authenticated, "k", 0));
        }
        assert_eq!(spends(), 1);
        let d = nodes[0]
            .check(Class::Authenticated, "k", 0)
            .unwrap()
            .unwrap();
        assert_eq!((d.allowed, d.remaining), (true, 93));
        assert_eq!(spends(), 2);
        // Another node's first request sees the shared budget: seven spent.
        let d = nodes[1]
            .check(Class::Authenticated, "k", 10)
            .unwrap()
            .unwrap();
        assert_eq!(d.remaining, 92);
        // Node 0 learns of it at its next sync.
        nodes[0].sync(20).unwrap();
        let d = nodes[0]
            .check(Class::Authenticated, "k", 20)
            .unwrap()
            .unwrap();
        assert_eq!(d.remaining, 91);
    }

    #[test]
    fn a_failed_sync_keeps_the_unsent_time_for_the_next() {
        let (shared, nodes) = nodes(2, 10);
        assert!(allowed(&nodes[0], Class::Public, "ip", 0));
        assert!(allowed(&nodes[0], Class::Public, "ip", 0));
        shared.down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(nodes[0].sync(0).is_err());
        // Past its allowance the node needs the shared bucket: unavailable while it is away.
        assert!(nodes[0].check(Class::Public, "ip", 0).is_err());
        shared
            .down
            .store(false, std::sync::atomic::Ordering::SeqCst);
        nodes[0].sync(0).unwrap();
        assert_eq!(
            shared
                .tats
                .lock()
                .unwrap()
                .values()
                .copied()
                .collect::<Vec<_>>(),
            [12_000]
        );
        let d = nodes[1].check(Class::Public, "ip", 0).unwrap().unwrap();
        assert_eq!((d.allowed, d.remaining), (true, 7));
    }

    #[test]
    fn sync_deletes_refilled_shared_buckets() {
        let (shared, nodes) = nodes(1, 10);
        nodes[0].check(Class::Public, "a", 0).unwrap();
        nodes[0].sync(0).unwrap();
        assert_eq!(shared.tats.lock().unwrap().len(), 1);
        nodes[0].sync(6_000).unwrap();
        assert!(shared.tats.lock().unwrap().is_empty());
    }
}
