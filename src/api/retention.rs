//! Pruning the audit log by age (`audit_retention_days`, key-security.md).
//!
//! The server prunes once at start and then every [`PRUNE_INTERVAL_SECS`], on the background
//! thread that already flushes usage, so no request ever waits for it. An event is kept while
//! it is younger than the retention: with 365 days, an event exactly 365 days old stays and
//! one a second older goes. `0` keeps everything and never touches the table.

use crate::clock::DAY_SECS;
use crate::error::Error;
use crate::store::Store;
use std::sync::Mutex;

/// Seconds between two prunings.
pub const PRUNE_INTERVAL_SECS: i64 = 3600;
/// When the audit log is next pruned, for a given retention.
#[derive(Debug)]
pub struct AuditRetention {
    days: u32,
    /// Unix seconds of the next pruning; `None` until the first (which is due at once).
    next_at: Mutex<Option<i64>>,
}

impl AuditRetention {
    /// Keeps events `days` days (0: forever).
    pub fn new(days: u32) -> AuditRetention {
        AuditRetention {
            days,
            next_at: Mutex::new(None),
        }
    }

    /// The oldest `at` kept at `now`: events before it are pruned. `None` when everything is
    /// kept.
    pub fn cut(&self, now: i64) -> Option<i64> {
        (self.days > 0).then(|| now.saturating_sub(i64::from(self.days) * DAY_SECS))
    }

    /// Prunes if due at `now` (the first call always is, then every
    /// [`PRUNE_INTERVAL_SECS`]); returns how many events went, or `None` when it was not due
    /// or nothing is ever pruned. A failure (a busy database) is retried at the next call.
    pub fn prune_if_due(&self, store: &Store, now: i64) -> Result<Option<u64>, Error> {
        let Some(cut) = self.cut(now) else {
            return Ok(None);
        };
        let mut next_at = self.next_at.lock().unwrap_or_else(|p| p.into_inner());
        if next_at.is_some_and(|at| now < at) {
            return Ok(None);
        }
        let pruned = store.prune_audit(cut)?;
        *next_at = Some(now.saturating_add(PRUNE_INTERVAL_SECS));
        Ok(Some(pruned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::store::tests::temp_store;
    use crate::store::{Audit, AuditAction, AuditFilter, Page};

    const START: i64 = 1_800_000_000;
    const DAY: i64 = DAY_SECS;

    fn record(store: &Store, at: i64) {
        store
            .record_audit(&Audit::system("test").event(AuditAction::TeamCreated, at))
            .unwrap();
    }

    fn times(store: &Store) -> Vec<i64> {
        let all = Page {
            limit: 100,
            offset: 0,
        };
        let page = store.audit_events(&AuditFilter::default(), all).unwrap();
        page.events.iter().map(|e| e.event.at).collect()
    }

    #[test]
    fn events_older_than_the_retention_go_and_one_exactly_that_old_stays() {
        let temp = temp_store();
        let store = &temp.store;
        let clock = Clock::fixed(START);
        let now = clock.now_secs();
        for at in [now - 2 * DAY, now - DAY - 1, now - DAY, now - DAY + 1, now] {
            record(store, at);
        }
        let retention = AuditRetention::new(1);
        assert_eq!(retention.cut(now), Some(now - DAY));
        assert_eq!(retention.prune_if_due(store, now).unwrap(), Some(2));
        assert_eq!(times(store), [now, now - DAY + 1, now - DAY]);
    }

    #[test]
    fn pruning_runs_at_start_then_hourly_as_the_clock_moves() {
        let temp = temp_store();
        let store = &temp.store;
        let clock = Clock::fixed(START);
        let retention = AuditRetention::new(365);
        let year = 365 * DAY;
        record(store, START - year - 10);
        assert_eq!(
            retention.prune_if_due(store, clock.now_secs()).unwrap(),
            Some(1)
        );
        // An event that turns too old a minute later waits for the next hour.
        record(store, START - year + 60);
        clock.advance_millis(120_000);
        assert_eq!(
            retention.prune_if_due(store, clock.now_secs()).unwrap(),
            None
        );
        assert_eq!(times(store).len(), 1);
        clock.advance_millis((PRUNE_INTERVAL_SECS - 120) * 1000);
        assert_eq!(
            retention.prune_if_due(store, clock.now_secs()).unwrap(),
            Some(1)
        );
        assert!(times(store).is_empty());
    }

    #[test]
    fn zero_days_keeps_everything() {
        let temp = temp_store();
        let store = &temp.store;
        let clock = Clock::fixed(START);
        record(store, 0);
        record(store, START - 10_000 * DAY);
        let retention = AuditRetention::new(0);
        assert_eq!(retention.cut(START), None);
        assert_eq!(
            retention.prune_if_due(store, clock.now_secs()).unwrap(),
            None
        );
        clock.advance_millis(10 * PRUNE_INTERVAL_SECS * 1000);
        assert_eq!(
            retention.prune_if_due(store, clock.now_secs()).unwrap(),
            None
        );
        assert_eq!(times(store).len(), 2);
    }
}
