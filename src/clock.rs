//! Time as the rest of the crate sees it.
//!
//! Expiry, refresh grace and rate limits all depend on "now"; passing a [`Clock`] instead of
//! calling the system clock directly lets tests pin time and step it deterministically.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A source of the current time in whole and fractional unix seconds.
#[derive(Clone, Debug)]
pub enum Clock {
    /// The operating system's wall clock.
    System,
    /// A fixed instant (milliseconds since the epoch) that tests move by hand.
    Fixed(Arc<AtomicI64>),
}

impl Clock {
    /// A clock fixed at `unix_secs`, for tests.
    pub fn fixed(unix_secs: i64) -> Self {
        Clock::Fixed(Arc::new(AtomicI64::new(unix_secs.saturating_mul(1000))))
    }

    /// Moves a fixed clock forward by `millis`; a no-op on the system clock.
    pub fn advance_millis(&self, millis: i64) {
        if let Clock::Fixed(at) = self {
            at.fetch_add(millis, Ordering::SeqCst);
        }
    }

    /// Milliseconds since the unix epoch.
    pub fn now_millis(&self) -> i64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            Clock::Fixed(at) => at.load(Ordering::SeqCst),
        }
    }

    /// Whole seconds since the unix epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// Seconds in a day (UTC days have no leap seconds in Unix time).
pub const DAY_SECS: i64 = 86_400;

/// Unix seconds as an RFC 3339 UTC string with a `Z` suffix, e.g. `2025-03-31T15:00:00Z`:
/// how every instant is answered, and how the audit log's details write one.
pub fn rfc3339(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_else(|| String::from("1970-01-01T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_advanced() {
        let clock = Clock::fixed(1_000);
        assert_eq!(clock.now_secs(), 1_000);
        clock.advance_millis(1_500);
        assert_eq!(clock.now_millis(), 1_001_500);
        assert_eq!(clock.now_secs(), 1_001);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(Clock::System.now_secs() > 1_577_836_800);
    }
}
