//! The periodic flush of what requests used: per-day key counters, the last-use times of keys
//! and sessions, and the keys' activity (addresses and user agents, with the new-address
//! events they cause), written in one transaction across the `api_key_usage`, `api_keys`,
//! `sessions`, activity and audit tables.

use super::db::params;
use super::Store;
use crate::error::Error;

/// Usage to add, and last-use times to record, in one flush.
#[derive(Debug, Clone, Default)]
pub struct UsageBatch {
    /// (key id, day, accepted, rejected) increments.
    pub counts: Vec<(String, String, i64, i64)>,
    /// (key id, unix seconds) last uses.
    pub last_used: Vec<(String, i64)>,
    /// (session id, unix seconds) last uses of sessions.
    pub sessions_seen: Vec<(String, i64)>,
    /// Uses of keys per client address (key activity).
    pub ips: Vec<super::ActivityUse>,
    /// Uses of keys per user agent (key activity).
    pub user_agents: Vec<super::ActivityUse>,
    /// When the batch is written (unix seconds): the end of the activity window.
    pub now: i64,
}

impl UsageBatch {
    /// Whether the batch holds nothing to write.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
            && self.last_used.is_empty()
            && self.sessions_seen.is_empty()
            && self.ips.is_empty()
            && self.user_agents.is_empty()
    }
}

impl Store {
    /// Adds usage counts, records last uses of keys and sessions, and adds the keys'
    /// activity with the new-address events it causes, in one transaction.
    ///
    /// Rows are written in one order whatever the batch's: counts by key and day, last uses
    /// by key, sessions by id, activity by key (`key_activity::record`). Nodes flushing at the
    /// same moment therefore take the locks of the rows they share in the same order: one
    /// waits for the other (and, on PostgreSQL, runs again once it commits) instead of both
    /// waiting for each other until the server aborts one as a deadlock a second later. A key's
    /// count row comes first for that key, so it also orders the activity rows behind it.
    pub fn record_usage(&self, batch: &UsageBatch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut counts: Vec<_> = batch.counts.iter().collect();
        counts.sort();
        let mut last_used: Vec<_> = batch.last_used.iter().collect();
        last_used.sort();
        let mut sessions_seen: Vec<_> = batch.sessions_seen.iter().collect();
        sessions_seen.sort();
        self.write(|tx| {
            for (key_id, day, requests, rejected) in &counts {
                // A key deleted since the request was counted has nothing to count against.
                tx.prepare_cached(
                    "INSERT INTO api_key_usage (key_id, day, requests, rejected) \
                     SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS BIGINT), CAST(?4 AS BIGINT) \
                     WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?1) \
                     ON CONFLICT (key_id, day) DO UPDATE SET \
                     requests = api_key_usage.requests + excluded.requests, \
                     rejected = api_key_usage.rejected + excluded.rejected",
                )
                .and_then(|mut stmt| stmt.execute(params![key_id, day, requests, rejected]))?;
            }
            for (key_id, at) in &last_used {
                tx.prepare_cached(
                    "UPDATE api_keys SET last_used_at = \
                     CASE WHEN last_used_at > ?2 THEN last_used_at ELSE ?2 END WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![key_id, at]))?;
            }
            for (session_id, at) in &sessions_seen {
                tx.prepare_cached(
                    "UPDATE sessions SET last_seen_at = \
                     CASE WHEN last_seen_at > ?2 THEN last_seen_at ELSE ?2 END WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![session_id, at]))?;
            }
            super::key_activity::record(tx, &batch.ips, &batch.user_agents, batch.now)
        })
    }
}
