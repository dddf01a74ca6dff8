//! API-key and session bookkeeping kept off the request path.
//!
//! Checking a key never waits for a write: uses are counted in memory and a background
//! thread flushes them about once a second (so they show within 2 s), in one transaction per
//! flush. `last_used_at` is written only when the stored value is a minute old or more, so a
//! busy key costs at most one such write per minute. Pending counts are flushed on shutdown.

use crate::store::{ApiKey, Store, UsageBatch};
use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

/// How stale `last_used_at` may get before a use rewrites it.
pub const LAST_USED_RESOLUTION_SECS: i64 = 60;
/// How often pending usage is written.
pub const FLUSH_INTERVAL_MILLIS: u64 = 500;

/// Seconds in a UTC day; usage is counted per day.
const DAY_SECS: i64 = 86_400;

#[derive(Default)]
struct Pending {
    /// Per key id: (UTC day number since the epoch, accepted, rejected). Keyed by the id alone
    /// so that counting a request looks the key up by `&str` and allocates nothing once the
    /// key has been seen; a key rarely has more than one day pending.
    counts: HashMap<String, Vec<(i64, i64, i64)>>,
    last_used: HashMap<String, i64>,
    sessions_seen: HashMap<String, i64>,
}

/// Buffered usage counts and last-use times.
#[derive(Default)]
pub struct UsageRecorder {
    pending: Mutex<Pending>,
}

/// The UTC date of `unix_secs` as `YYYY-MM-DD`.
pub fn utc_day(unix_secs: i64) -> String {
    let date = OffsetDateTime::from_unix_timestamp(unix_secs)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

impl UsageRecorder {
    /// Counts one request by `key_id` at `now`: accepted, or rejected (forbidden, rate
    /// limited, or refused because the key is inactive or expired).
    pub fn count(&self, key_id: &str, now: i64, accepted: bool) {
        let (accepted, rejected) = if accepted { (1, 0) } else { (0, 1) };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        add_count(
            &mut pending.counts,
            key_id,
            now.div_euclid(DAY_SECS),
            accepted,
            rejected,
        );
    }

    /// Notes a use of `key` at `now` if its stored `last_used_at` is a minute old or more.
    pub fn note_use(&self, key: &ApiKey, now: i64) {
        if key
            .last_used_at
            .is_some_and(|at| now - at < LAST_USED_RESOLUTION_SECS)
        {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.last_used.insert(key.id.clone(), now);
    }

    /// Notes that session `session_id` was used at `now` (callers throttle to once a minute).
    pub fn note_session_seen(&self, session_id: &str, now: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.sessions_seen.insert(session_id.to_string(), now);
    }

    /// Writes everything pending. On failure the batch is put back to be retried.
    pub fn flush(&self, store: &Store) {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if taken.counts.is_empty() && taken.last_used.is_empty() && taken.sessions_seen.is_empty() {
            return;
        }
        let batch = UsageBatch {
            counts: taken
                .counts
                .iter()
                .flat_map(|(key, days)| {
                    days.iter().map(|(day, ok, rejected)| {
                        (key.clone(), utc_day(day * DAY_SECS), *ok, *rejected)
                    })
                })
                .collect(),
            last_used: taken
                .last_used
                .iter()
                .map(|(key, at)| (key.clone(), *at))
                .collect(),
            sessions_seen: taken
                .sessions_seen
                .iter()
                .map(|(session, at)| (session.clone(), *at))
                .collect(),
        };
        if store.record_usage(&batch).is_err() {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (key, days) in taken.counts {
                for (day, ok, rejected) in days {
                    add_count(&mut pending.counts, &key, day, ok, rejected);
                }
            }
            for (key, at) in taken.last_used {
                let entry = pending.last_used.entry(key).or_insert(at);
                *entry = (*entry).max(at);
            }
            for (session, at) in taken.sessions_seen {
                let entry = pending.sessions_seen.entry(session).or_insert(at);
                *entry = (*entry).max(at);
            }
        }
    }
}

/// Adds `accepted` and `rejected` to the count of `key_id` on day number `day`.
fn add_count(
    counts: &mut HashMap<String, Vec<(i64, i64, i64)>>,
    key_id: &str,
    day: i64,
    accepted: i64,
    rejected: i64,
) {
    let days = match counts.get_mut(key_id) {
        Some(days) => days,
        None => counts.entry(key_id.to_string()).or_default(),
    };
    match days.iter_mut().find(|(d, _, _)| *d == day) {
        Some(slot) => {
            slot.1 += accepted;
            slot.2 += rejected;
        }
        None => days.push((day, accepted, rejected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_day_formats_dates() {
        assert_eq!(utc_day(0), "1970-01-01");
        assert_eq!(utc_day(1_743_433_200), "2025-03-31");
    }

    #[test]
    fn counts_accumulate_per_key_and_day() {
        let recorder = UsageRecorder::default();
        recorder.count("k", 10, true);
        recorder.count("k", 20, true);
        recorder.count("k", 30, false);
        recorder.count("k", 86_400, true);
        recorder.count("other", 40, false);
        let pending = recorder.pending.lock().unwrap();
        assert_eq!(pending.counts["k"], vec![(0, 2, 1), (1, 1, 0)]);
        assert_eq!(pending.counts["other"], vec![(0, 0, 1)]);
    }

    #[test]
    fn a_flush_writes_each_key_and_day_with_its_date() {
        let temp = crate::store::tests::temp_store();
        let store = &temp.store;
        let owner = store
            .create_first_admin(
                &crate::store::NewUser {
                    email: "a@example.com".into(),
                    password_hash: "x".into(),
                    ..Default::default()
                },
                &crate::store::Audit::cli("test"),
                "test",
                1,
            )
            .unwrap();
        let project = store.project_by_slug("default").unwrap().unwrap();
        let key = store
            .create_api_key(
                &crate::store::NewApiKey {
                    project_id: project.id,
                    name: "k".into(),
                    key_hash: "h".into(),
                    key_prefix: "sk_live_abcdefgh".into(),
                    created_by: owner.id,
                    expires_at: None,
                    expires_in_days: None,
                },
                &crate::store::Audit::cli("test"),
                1,
            )
            .unwrap();
        let recorder = UsageRecorder::default();
        recorder.count(&key.id, 10, true);
        recorder.count(&key.id, 20, false);
        recorder.count(&key.id, DAY_SECS + 5, true);
        recorder.flush(store);
        assert!(recorder.pending.lock().unwrap().counts.is_empty());
        let days = store
            .usage_of_key(&key.id, "1970-01-01", "1970-01-02")
            .unwrap();
        let days: Vec<(String, i64, i64)> = days
            .into_iter()
            .map(|d| (d.day, d.requests, d.rejected))
            .collect();
        assert_eq!(
            days,
            vec![("1970-01-01".into(), 1, 1), ("1970-01-02".into(), 1, 0)]
        );
    }
}
