//! API-key and session bookkeeping kept off the request path.
//!
//! Checking a key never waits for a write: uses are counted in memory and a background
//! thread flushes them about once a second (so they show within 2 s), in one transaction per
//! flush. `last_used_at` is written only when the stored value is a minute old or more, so a
//! busy key costs at most one such write per minute. Pending counts are flushed on shutdown.
//!
//! Key activity (the distinct client addresses and user agents of each key, key-security.md)
//! rides in the same batch: a request adds to an entry per (key, address) and (key, user
//! agent) in memory, under the same lock as its count, and the flush writes them with the
//! counts in one transaction. The buffer is bounded: at most [`MAX_ACTIVITY_PER_KEY`] entries
//! of each kind per key (beyond it the least recently seen pending entry makes room, which is
//! also what the stored table would keep), and at most [`MAX_PENDING_ACTIVITY`] entries in
//! all (beyond it a new address or agent waits for the next use after a flush; the uses of
//! entries already pending still count).

use crate::clock::DAY_SECS;
use crate::store::{
    ActivityUse, ApiKey, Store, UsageBatch, MAX_ACTIVITY_PER_KEY, MAX_USER_AGENT_CHARS,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::OffsetDateTime;

/// How stale `last_used_at` may get before a use rewrites it.
pub const LAST_USED_RESOLUTION_SECS: i64 = 60;
/// How often pending usage is written.
pub const FLUSH_INTERVAL_MILLIS: u64 = 500;

/// Most key-activity entries (one address or user agent of one key) waiting for a flush.
pub const MAX_PENDING_ACTIVITY: usize = 50_000;

/// Uses of one key from one address or with one user agent since the last flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    first: i64,
    last: i64,
    requests: i64,
}

impl Seen {
    fn at(now: i64) -> Seen {
        Seen {
            first: now,
            last: now,
            requests: 1,
        }
    }

    fn add(&mut self, other: Seen) {
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        self.requests += other.requests;
    }
}

/// A key's pending activity. An address keeps the user agent of its first use, for the
/// new-address event.
#[derive(Default)]
struct KeyUses {
    ips: HashMap<IpAddr, (Seen, Option<String>)>,
    user_agents: HashMap<String, Seen>,
}

#[derive(Default)]
struct Pending {
    /// Per key id: (UTC day number since the epoch, accepted, rejected). Keyed by the id alone
    /// so that counting a request looks the key up by `&str` and allocates nothing once the
    /// key has been seen; a key rarely has more than one day pending.
    counts: HashMap<String, Vec<(i64, i64, i64)>>,
    last_used: HashMap<String, i64>,
    sessions_seen: HashMap<String, i64>,
    /// Per key id, like `counts`.
    activity: HashMap<String, KeyUses>,
    /// Entries in `activity`, all keys and both kinds together.
    activity_entries: usize,
}

/// `text` cut to its first [`MAX_USER_AGENT_CHARS`] characters.
pub fn bounded_user_agent(text: &str) -> &str {
    match text.char_indices().nth(MAX_USER_AGENT_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Makes room for one more entry in `map` when it holds the per-key bound, by dropping its
/// least recently seen entry; returns how many were dropped.
fn evict_least_recent<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    seen: impl Fn(&V) -> Seen,
) -> usize {
    if map.len() < MAX_ACTIVITY_PER_KEY {
        return 0;
    }
    let oldest = map
        .iter()
        .min_by_key(|(_, value)| {
            let seen = seen(value);
            (seen.last, seen.first)
        })
        .map(|(key, _)| key.clone());
    match oldest {
        Some(key) => usize::from(map.remove(&key).is_some()),
        None => 0,
    }
}

impl Pending {
    /// The pending activity of `key_id`, made if there is room.
    fn uses_of(&mut self, key_id: &str) -> Option<&mut KeyUses> {
        if !self.activity.contains_key(key_id) {
            if self.activity_entries >= MAX_PENDING_ACTIVITY {
                return None;
            }
            self.activity.insert(key_id.to_string(), KeyUses::default());
        }
        self.activity.get_mut(key_id)
    }

    /// Adds `seen` uses of `key_id` from `ip`, the first of them with `user_agent`.
    fn add_ip(&mut self, key_id: &str, ip: IpAddr, user_agent: Option<&str>, seen: Seen) {
        let room = self.activity_entries < MAX_PENDING_ACTIVITY;
        let Some(uses) = self.uses_of(key_id) else {
            return;
        };
        let mut added = 0;
        let mut dropped = 0;
        match uses.ips.get_mut(&ip) {
            Some((pending, _)) => pending.add(seen),
            None if room => {
                dropped = evict_least_recent(&mut uses.ips, |(seen, _)| *seen);
                uses.ips.insert(ip, (seen, user_agent.map(str::to_string)));
                added = 1;
            }
            None => {}
        }
        self.activity_entries = self.activity_entries + added - dropped;
    }

    /// Adds `seen` uses of `key_id` with `user_agent` (already bounded).
    fn add_user_agent(&mut self, key_id: &str, user_agent: &str, seen: Seen) {
        let room = self.activity_entries < MAX_PENDING_ACTIVITY;
        let Some(uses) = self.uses_of(key_id) else {
            return;
        };
        let mut added = 0;
        let mut dropped = 0;
        match uses.user_agents.get_mut(user_agent) {
            Some(pending) => pending.add(seen),
            None if room => {
                dropped = evict_least_recent(&mut uses.user_agents, |seen| *seen);
                uses.user_agents.insert(user_agent.to_string(), seen);
                added = 1;
            }
            None => {}
        }
        self.activity_entries = self.activity_entries + added - dropped;
    }
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

    /// Counts one request by a working key as [`UsageRecorder::count`] does, and adds it to
    /// the key's activity: from `client` (the resolved client address) with `user_agent`
    /// (cut to [`MAX_USER_AGENT_CHARS`]). One lock, no allocation once the key, address and
    /// agent are pending: a use never waits for the database.
    pub fn count_use(
        &self,
        key_id: &str,
        now: i64,
        accepted: bool,
        client: Option<IpAddr>,
        user_agent: Option<&str>,
    ) {
        let (accepted, rejected) = if accepted { (1, 0) } else { (0, 1) };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        add_count(
            &mut pending.counts,
            key_id,
            now.div_euclid(DAY_SECS),
            accepted,
            rejected,
        );
        let user_agent = user_agent.map(bounded_user_agent);
        if let Some(ip) = client {
            pending.add_ip(key_id, ip, user_agent, Seen::at(now));
        }
        if let Some(agent) = user_agent {
            pending.add_user_agent(key_id, agent, Seen::at(now));
        }
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
        pending.last_used.insert(key.id.to_string(), now);
    }

    /// Notes that session `session_id` was used at `now` (callers throttle to once a minute).
    pub fn note_session_seen(&self, session_id: &str, now: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.sessions_seen.insert(session_id.to_string(), now);
    }

    /// Writes everything pending, as of `now` (the end of the activity window). On failure
    /// the batch is put back to be retried.
    pub fn flush(&self, store: &Store, now: i64) {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if taken.counts.is_empty()
            && taken.last_used.is_empty()
            && taken.sessions_seen.is_empty()
            && taken.activity.is_empty()
        {
            return;
        }
        let mut ips = Vec::new();
        let mut user_agents = Vec::new();
        for (key_id, uses) in &taken.activity {
            let activity_use =
                |value: String, seen: &Seen, user_agent: Option<String>| ActivityUse {
                    key_id: key_id.clone(),
                    value,
                    first_at: seen.first,
                    last_at: seen.last,
                    requests: seen.requests,
                    user_agent,
                };
            for (ip, (seen, agent)) in &uses.ips {
                ips.push(activity_use(ip.to_string(), seen, agent.clone()));
            }
            for (agent, seen) in &uses.user_agents {
                user_agents.push(activity_use(agent.clone(), seen, None));
            }
        }
        let batch = UsageBatch {
            ips,
            user_agents,
            now,
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
            for (key_id, uses) in taken.activity {
                for (ip, (seen, agent)) in uses.ips {
                    pending.add_ip(&key_id, ip, agent.as_deref(), seen);
                }
                for (agent, seen) in uses.user_agents {
                    pending.add_user_agent(&key_id, &agent, seen);
                }
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
        let key_id = crate::store::tests::store_with_key(store);
        let recorder = UsageRecorder::default();
        recorder.count(&key_id, 10, true);
        recorder.count(&key_id, 20, false);
        recorder.count(&key_id, DAY_SECS + 5, true);
        recorder.flush(store, DAY_SECS + 5);
        assert!(recorder.pending.lock().unwrap().counts.is_empty());
        let days = store
            .usage_of_key(&key_id, "1970-01-01", "1970-01-02")
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
    fn ip(i: usize) -> IpAddr {
        IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8])
    }

    #[test]
    fn a_use_counts_and_notes_its_address_and_agent_once_each() {
        let recorder = UsageRecorder::default();
        recorder.count_use("k", 10, true, Some(ip(1)), Some("a/1"));
        recorder.count_use("k", 20, false, Some(ip(1)), Some("b/2"));
        recorder.count_use("k", 30, true, None, None);
        let pending = recorder.pending.lock().unwrap();
        assert_eq!(pending.counts["k"], vec![(0, 2, 1)]);
        let uses = &pending.activity["k"];
        let (seen, agent) = &uses.ips[&ip(1)];
        assert_eq!(
            *seen,
            Seen {
                first: 10,
                last: 20,
                requests: 2
            }
        );
        assert_eq!(agent.as_deref(), Some("a/1"));
        assert_eq!(uses.user_agents.len(), 2);
        assert_eq!(pending.activity_entries, 3);
    }

    #[test]
    fn a_user_agent_is_cut_to_256_characters() {
        let long = "ü".repeat(300);
        assert_eq!(bounded_user_agent(&long), "ü".repeat(256));
        assert_eq!(bounded_user_agent("curl/8.5"), "curl/8.5");
        let recorder = UsageRecorder::default();
        recorder.count_use("k", 1, true, None, Some(&long));
        let pending = recorder.pending.lock().unwrap();
        assert!(pending.activity["k"]
            .user_agents
            .contains_key(&"ü".repeat(256)));
    }

    #[test]
    fn pending_addresses_per_key_are_bounded_the_least_recent_making_room() {
        let recorder = UsageRecorder::default();
        for i in 0..=MAX_ACTIVITY_PER_KEY {
            recorder.count_use("k", i as i64, true, Some(ip(i)), None);
        }
        // Address 0 was the least recently seen; 1 is used again, so 2 goes next.
        recorder.count_use("k", 500, true, Some(ip(1)), None);
        recorder.count_use("k", 501, true, Some(ip(999)), None);
        let pending = recorder.pending.lock().unwrap();
        let ips = &pending.activity["k"].ips;
        assert_eq!(ips.len(), MAX_ACTIVITY_PER_KEY);
        assert!(!ips.contains_key(&ip(0)) && !ips.contains_key(&ip(2)));
        assert!(ips.contains_key(&ip(1)) && ips.contains_key(&ip(999)));
        assert_eq!(pending.activity_entries, MAX_ACTIVITY_PER_KEY);
        // Every use was still counted.
        assert_eq!(
            pending.counts["k"],
            vec![(0, MAX_ACTIVITY_PER_KEY as i64 + 3, 0)]
        );
    }

    #[test]
    fn pending_activity_is_bounded_over_all_keys() {
        let recorder = UsageRecorder::default();
        let keys = MAX_PENDING_ACTIVITY / MAX_ACTIVITY_PER_KEY + 1;
        for key in 0..keys {
            for i in 0..MAX_ACTIVITY_PER_KEY {
                recorder.count_use(&format!("k{key}"), 1, true, Some(ip(i)), None);
            }
        }
        let pending = recorder.pending.lock().unwrap();
        assert_eq!(pending.activity_entries, MAX_PENDING_ACTIVITY);
        let held: usize = pending.activity.values().map(|uses| uses.ips.len()).sum();
        assert_eq!(held, MAX_PENDING_ACTIVITY);
        assert!(!pending.activity.contains_key(&format!("k{}", keys - 1)));
    }

    #[test]
    fn a_flush_writes_activity_with_the_counts_and_empties_the_buffer() {
        let temp = crate::store::tests::temp_store();
        let store = &temp.store;
        let key_id = crate::store::tests::store_with_key(store);
        let recorder = UsageRecorder::default();
        recorder.count_use(&key_id, 100, true, Some(ip(1)), Some("a/1"));
        recorder.count_use(&key_id, 101, true, Some(ip(2)), Some("a/1"));
        recorder.flush(store, 102);
        {
            let pending = recorder.pending.lock().unwrap();
            assert!(pending.activity.is_empty() && pending.counts.is_empty());
            assert_eq!(pending.activity_entries, 0);
        }
        let activity = store.key_activity(&key_id, 102).unwrap();
        let ips: Vec<(String, i64)> = activity
            .ips
            .iter()
            .map(|e| (e.value.clone(), e.requests))
            .collect();
        assert_eq!(
            ips,
            [("10.0.0.2".to_string(), 1), ("10.0.0.1".to_string(), 1)]
        );
        assert_eq!(activity.user_agents.len(), 1);
        assert_eq!(activity.user_agents[0].requests, 2);
    }
}
