//! API keys (only their SHA-256 is stored) and their per-day usage counters.

use super::users::{user_columns_u, user_from_row};
use super::{map_err, Store, User};
use crate::error::Error;
use rusqlite::{params, OptionalExtension, Row};

/// The key columns (alias `k`) in the order `key_from_row` reads them. A macro rather than a
/// `const` so that `concat!` builds each statement at compile time: no SQL text is formatted
/// per call.
macro_rules! key_columns {
    () => {
        "k.id, k.project_id, k.name, k.key_prefix, k.created_by, k.created_at, \
         k.expires_at, k.expires_in_days, k.last_used_at, k.is_active, k.deactivated_at, \
         k.retires_at, k.deactivated_reason, k.leak_report_url"
    };
}

/// A stored API key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// UUID.
    pub id: String,
    /// The project it belongs to.
    pub project_id: String,
    /// Display name.
    pub name: String,
    /// `sk_live_` + 8 characters.
    pub key_prefix: String,
    /// The user it acts as.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// The relative expiry it was created with, reapplied when it is rolled.
    pub expires_in_days: Option<i64>,
    /// Last use (coarse: written at most once a minute).
    pub last_used_at: Option<i64>,
    /// Deactivated keys fail until reactivated.
    pub is_active: bool,
    /// When it was deactivated.
    pub deactivated_at: Option<i64>,
    /// Set by a roll: the key stops working at this instant.
    pub retires_at: Option<i64>,
    /// Why it was switched off, when not by hand: [`DEACTIVATED_LEAK_REPORTED`]. Cleared
    /// whenever `is_active` is changed by hand.
    pub deactivated_reason: Option<String>,
    /// The URL of the leak report that switched it off, when the report gave one.
    pub leak_report_url: Option<String>,
}

/// The `deactivated_reason` of a key switched off by a leak report.
pub const DEACTIVATED_LEAK_REPORTED: &str = "leak_reported";

impl ApiKey {
    /// The instant the key stops working by time alone: the earlier of its own expiry and
    /// the end of a roll's overlap; `None` when neither is set. This is what the key object
    /// shows as `expires_at`, so a rolled key never looks like it lasts longer than it does.
    pub fn ends_at(&self) -> Option<i64> {
        match (self.expires_at, self.retires_at) {
            (Some(expires), Some(retires)) => Some(expires.min(retires)),
            (expires, retires) => expires.or(retires),
        }
    }
}

/// What is stored for a new key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The project.
    pub project_id: String,
    /// Display name.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// `sk_live_` + 8 characters.
    pub key_prefix: String,
    /// The creating user.
    pub created_by: String,
    /// Expiry instant, if any.
    pub expires_at: Option<i64>,
    /// Relative expiry rule, if any.
    pub expires_in_days: Option<i64>,
}

/// Changes to a key; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyChanges {
    /// New name.
    pub name: Option<String>,
    /// Activate or deactivate.
    pub is_active: Option<bool>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<i64>>,
}

/// Everything needed to decide whether a presented key may act, from one indexed lookup.
#[derive(Debug, Clone)]
pub struct KeyHolder {
    /// The key.
    pub key: ApiKey,
    /// The team that owns the key's project.
    pub team_id: String,
    /// The user the key acts as.
    pub user: User,
    /// That user's role in the team, if still a member.
    pub role: Option<String>,
}

/// One day of a key's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Accepted requests.
    pub requests: i64,
    /// Rejected requests (forbidden or rate limited).
    pub rejected: i64,
}

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

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0)?,
        project_id: row.get(1)?,
        name: row.get(2)?,
        key_prefix: row.get(3)?,
        created_by: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        expires_in_days: row.get(7)?,
        last_used_at: row.get(8)?,
        is_active: row.get(9)?,
        deactivated_at: row.get(10)?,
        retires_at: row.get(11)?,
        deactivated_reason: row.get(12)?,
        leak_report_url: row.get(13)?,
    })
}

pub(super) fn insert_key(
    tx: &rusqlite::Transaction<'_>,
    new: &NewApiKey,
    now: i64,
) -> Result<ApiKey, Error> {
    let key = ApiKey {
        id: crate::ids::uuid_v4(),
        project_id: new.project_id.clone(),
        name: new.name.clone(),
        key_prefix: new.key_prefix.clone(),
        created_by: new.created_by.clone(),
        created_at: now,
        expires_at: new.expires_at,
        expires_in_days: new.expires_in_days,
        last_used_at: None,
        is_active: true,
        deactivated_at: None,
        retires_at: None,
        deactivated_reason: None,
        leak_report_url: None,
    };
    tx.prepare_cached(
        "INSERT INTO api_keys (id, project_id, name, key_hash, key_prefix, created_by, created_at, \
         expires_at, expires_in_days, is_active) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            key.id,
            key.project_id,
            key.name,
            new.key_hash,
            key.key_prefix,
            key.created_by,
            now,
            key.expires_at,
            key.expires_in_days
        ])
    })
    .map_err(|err| {
        // Only a key given in full (a seed) can collide; a generated one has 190 random bits.
        if super::is_unique_violation(&err) {
            Error::Conflict("This API key is already stored.".into())
        } else {
            map_err(err)
        }
    })?;
    Ok(key)
}

fn select_key(tx: &rusqlite::Connection, id: &str) -> Result<Option<ApiKey>, Error> {
    tx.prepare_cached(concat!(
        "SELECT ",
        key_columns!(),
        " FROM api_keys k WHERE k.id = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([id], key_from_row).optional())
    .map_err(map_err)
}

impl Store {
    /// Stores a new key.
    pub fn create_api_key(&self, new: &NewApiKey, now: i64) -> Result<ApiKey, Error> {
        self.write(|tx| insert_key(tx, new, now))
    }

    /// The key with this id, if any.
    pub fn api_key_by_id(&self, id: &str) -> Result<Option<ApiKey>, Error> {
        let conn = self.conn()?;
        select_key(&conn, id)
    }

    /// A project's keys, newest first.
    pub fn api_keys_of_project(&self, project_id: &str) -> Result<Vec<ApiKey>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys k WHERE k.project_id = ?1 \
                 ORDER BY k.created_at DESC, k.rowid DESC"
            ))
            .map_err(map_err)?;
        let rows = stmt
            .query_map([project_id], key_from_row)
            .map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }

    /// Applies `changes` to key `id` (404 if absent) and returns it.
    pub fn update_api_key(
        &self,
        id: &str,
        changes: &ApiKeyChanges,
        now: i64,
    ) -> Result<ApiKey, Error> {
        self.write(|tx| {
            let mut key = select_key(tx, id)?.ok_or_else(|| Error::NotFound("API key not found".into()))?;
            if let Some(name) = &changes.name {
                key.name = name.clone();
            }
            if let Some(active) = changes.is_active {
                if active != key.is_active {
                    key.deactivated_at = if active { None } else { Some(now) };
                    // A change by hand replaces whatever reason a leak report gave.
                    key.deactivated_reason = None;
                    key.leak_report_url = None;
                }
                key.is_active = active;
            }
            if let Some(expires_at) = changes.expires_at {
                key.expires_at = expires_at;
                key.expires_in_days = None;
            }
            tx.prepare_cached(
                "UPDATE api_keys SET name = ?2, is_active = ?3, deactivated_at = ?4, expires_at = ?5, \
                 expires_in_days = ?6, deactivated_reason = ?7, leak_report_url = ?8 WHERE id = ?1",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    key.id,
                    key.name,
                    key.is_active,
                    key.deactivated_at,
                    key.expires_at,
                    key.expires_in_days,
                    key.deactivated_reason,
                    key.leak_report_url
                ])
            })
            .map_err(map_err)?;
            Ok(key)
        })
    }

    /// Replaces key `old_id` by `new`: the old key stops working at `retires_at`. One
    /// transaction, so there is never a moment with neither or a half-rolled key.
    pub fn roll_api_key(
        &self,
        old_id: &str,
        new: &NewApiKey,
        retires_at: i64,
        now: i64,
    ) -> Result<ApiKey, Error> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE api_keys SET retires_at = min(coalesce(retires_at, ?2), ?2) WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![old_id, retires_at]))
                .map_err(map_err)?;
            if changed == 0 {
                return Err(Error::NotFound("API key not found".into()));
            }
            insert_key(tx, new, now)
        })
    }

    /// Deletes a key and its usage; false when it did not exist.
    pub fn delete_api_key(&self, id: &str) -> Result<bool, Error> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM api_keys WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute([id]))
                .map(|n| n == 1)
                .map_err(map_err)
        })
    }

    /// The key with this hash with its owner, their role in the project's team, and the
    /// team: one lookup through the unique index on `key_hash`.
    pub fn key_holder_by_hash(&self, key_hash: &str) -> Result<Option<KeyHolder>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(concat!(
                "SELECT ",
                key_columns!(),
                ", p.team_id, (SELECT role FROM team_members m \
                 WHERE m.team_id = p.team_id AND m.user_id = k.created_by), ",
                user_columns_u!(),
                " FROM api_keys k JOIN projects p ON p.id = k.project_id \
                 JOIN users u ON u.id = k.created_by WHERE k.key_hash = ?1"
            ))
            .map_err(map_err)?;
        stmt.query_row([key_hash], |row| {
            Ok(KeyHolder {
                key: key_from_row(row)?,
                team_id: row.get(14)?,
                role: row.get(15)?,
                user: user_from_row(row, 16)?,
            })
        })
        .optional()
        .map_err(map_err)
    }

    /// Adds usage counts, records last uses of keys and sessions, and adds the keys'
    /// activity with the new-address events it causes, in one transaction.
    pub fn record_usage(&self, batch: &UsageBatch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            for (key_id, day, requests, rejected) in &batch.counts {
                // A key deleted since the request was counted has nothing to count against.
                tx.prepare_cached(
                    "INSERT INTO api_key_usage (key_id, day, requests, rejected) \
                     SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?1) \
                     ON CONFLICT (key_id, day) DO UPDATE SET \
                     requests = requests + excluded.requests, rejected = rejected + excluded.rejected",
                )
                .and_then(|mut stmt| stmt.execute(params![key_id, day, requests, rejected]))
                .map_err(map_err)?;
            }
            for (key_id, at) in &batch.last_used {
                tx.prepare_cached(
                    "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![key_id, at]))
                .map_err(map_err)?;
            }
            for (session_id, at) in &batch.sessions_seen {
                tx.prepare_cached(
                    "UPDATE sessions SET last_seen_at = max(last_seen_at, ?2) WHERE id = ?1",
                )
                .and_then(|mut stmt| stmt.execute(params![session_id, at]))
                .map_err(map_err)?;
            }
            super::key_activity::record(tx, &batch.ips, &batch.user_agents, batch.now)
        })
    }

    /// Stored usage of a key for days `from..=to` (`YYYY-MM-DD`), oldest first; days without
    /// use are absent.
    pub fn usage_of_key(&self, key_id: &str, from: &str, to: &str) -> Result<Vec<UsageDay>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT day, requests, rejected FROM api_key_usage \
                 WHERE key_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
            )
            .map_err(map_err)?;
        let rows = stmt
            .query_map(params![key_id, from, to], |row| {
                Ok(UsageDay {
                    day: row.get(0)?,
                    requests: row.get(1)?,
                    rejected: row.get(2)?,
                })
            })
            .map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(expires_at: Option<i64>, retires_at: Option<i64>) -> ApiKey {
        ApiKey {
            id: "k".into(),
            project_id: "p".into(),
            name: "n".into(),
            key_prefix: "sk_live_abcdefgh".into(),
            created_by: "u".into(),
            created_at: 0,
            expires_at,
            expires_in_days: None,
            last_used_at: None,
            is_active: true,
            deactivated_at: None,
            retires_at,
            deactivated_reason: None,
            leak_report_url: None,
        }
    }

    #[test]
    fn a_key_ends_at_the_earlier_of_its_expiry_and_its_retirement() {
        assert_eq!(key(None, None).ends_at(), None);
        assert_eq!(key(Some(50), None).ends_at(), Some(50));
        assert_eq!(key(None, Some(70)).ends_at(), Some(70));
        assert_eq!(key(Some(50), Some(70)).ends_at(), Some(50));
        assert_eq!(key(Some(90), Some(70)).ends_at(), Some(70));
    }
}
