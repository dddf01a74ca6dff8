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
//! Must not import `http`, `store` or `api`.

use std::collections::HashMap;
use std::sync::Mutex;

/// Milliseconds in the window a limit is expressed over.
const WINDOW_MILLIS: i64 = 60_000;

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

/// The limiter shared by all workers.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    max_entries: usize,
    tats: Mutex<HashMap<(Class, String), i64>>,
}

impl RateLimiter {
    /// A limiter with `limits` remembering at most `max_entries` (>= 1) clients.
    pub fn new(limits: Limits, max_entries: usize) -> Self {
        RateLimiter {
            limits,
            max_entries: max_entries.max(1),
            tats: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `class` is limited at all (a limit of 0 turns it off).
    pub fn is_on(&self, class: Class) -> bool {
        self.limits.of(class) != 0
    }

    /// Counts one request of `client` in `class` at `now_millis`; `None` when the class is
    /// off. A refused request does not consume anything.
    pub fn check(&self, class: Class, client: &str, now_millis: i64) -> Option<Decision> {
        let limit = self.limits.of(class);
        if limit == 0 {
            return None;
        }
        let interval = WINDOW_MILLIS / i64::from(limit);
        let burst_window = interval * i64::from(limit);
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        let key = (class, client.to_string());
        let tat = tats
            .get(&key)
            .copied()
            .unwrap_or(now_millis)
            .max(now_millis);
        let new_tat = tat + interval;
        let allow_at = new_tat - burst_window;
        if now_millis < allow_at {
            let wait = allow_at - now_millis;
            return Some(Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset_unix: ceil_secs(tat),
                retry_after_secs: u64::try_from((wait + 999) / 1000).unwrap_or(1).max(1),
            });
        }
        if !tats.contains_key(&key) && tats.len() >= self.max_entries {
            evict(&mut tats, now_millis, self.max_entries);
        }
        tats.insert(key, new_tat);
        let used = (new_tat - now_millis + interval - 1) / interval;
        Some(Decision {
            allowed: true,
            limit,
            remaining: u32::try_from(i64::from(limit) - used).unwrap_or(0),
            reset_unix: ceil_secs(new_tat),
            retry_after_secs: 0,
        })
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
fn evict(tats: &mut HashMap<(Class, String), i64>, now_millis: i64, max_entries: usize) {
    tats.retain(|_, tat| *tat > now_millis);
    if tats.len() < max_entries {
        return;
    }
    let mut by_tat: Vec<i64> = tats.values().copied().collect();
    by_tat.sort_unstable();
    // Free a tenth of the table at once so a spray does not sort on every request.
    let drop = (max_entries / 10).max(1).min(by_tat.len());
    let cutoff = by_tat[drop - 1];
    let mut dropped = 0;
    tats.retain(|_, tat| {
        if dropped < drop && *tat <= cutoff {
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
            let d = limiter.check(Class::Public, "ip", t0).unwrap();
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 99 - i);
        }
        let refused = limiter.check(Class::Public, "ip", t0).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        // 0.6 s later exactly one more is allowed.
        assert!(
            limiter
                .check(Class::Public, "ip", t0 + 600)
                .unwrap()
                .allowed
        );
        assert!(
            !limiter
                .check(Class::Public, "ip", t0 + 600)
                .unwrap()
                .allowed
        );
    }

    #[test]
    fn refusals_do_not_consume_and_retry_after_is_honest() {
        let limiter = RateLimiter::new(limits(10), 1000);
        for _ in 0..10 {
            assert!(limiter.check(Class::LoginIp, "ip", 0).unwrap().allowed);
        }
        for _ in 0..50 {
            let d = limiter.check(Class::LoginIp, "ip", 0).unwrap();
            assert!(!d.allowed);
            assert_eq!(d.retry_after_secs, 6);
        }
        assert!(!limiter.check(Class::LoginIp, "ip", 5_999).unwrap().allowed);
        assert!(limiter.check(Class::LoginIp, "ip", 6_000).unwrap().allowed);
    }

    #[test]
    fn classes_and_clients_are_separate() {
        let limiter = RateLimiter::new(limits(1), 1000);
        assert!(limiter.check(Class::LoginIp, "a", 0).unwrap().allowed);
        assert!(limiter.check(Class::LoginIp, "b", 0).unwrap().allowed);
        assert!(limiter.check(Class::LoginEmail, "a", 0).unwrap().allowed);
        assert!(!limiter.check(Class::LoginIp, "a", 0).unwrap().allowed);
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
            assert_eq!(limiter.check(Class::Public, "ip", 0), None);
        }
    }

    #[test]
    fn reset_is_when_the_bucket_is_full_again() {
        let limiter = RateLimiter::new(limits(60), 10);
        let d = limiter.check(Class::Refresh, "s", 10_000).unwrap();
        assert_eq!(d.reset_unix, 11);
        assert_eq!(d.remaining, 59);
    }

    #[test]
    fn memory_stays_bounded_under_an_address_spray() {
        let limiter = RateLimiter::new(limits(100), 1000);
        for i in 0..50_000 {
            limiter.check(Class::Public, &format!("10.0.{}.{}", i / 256, i % 256), 0);
        }
        assert!(limiter.entries() <= 1000);
    }

    #[test]
    fn refilled_entries_are_evicted_first() {
        let limiter = RateLimiter::new(limits(100), 2);
        limiter.check(Class::Public, "old", 0);
        limiter.check(Class::Public, "busy", 120_000);
        limiter.check(Class::Public, "new", 120_000);
        let tats = limiter.tats.lock().unwrap();
        assert!(!tats.contains_key(&(Class::Public, "old".to_string())));
        assert!(tats.contains_key(&(Class::Public, "busy".to_string())));
    }
}
