//! Key activity and leak reports (key-security.md, "Key activity" and "Leaked keys").
//!
//! Activity is the distinct client addresses and user agents that used each key in the last
//! [`ACTIVITY_WINDOW_SECS`], at most [`MAX_ACTIVITY_PER_KEY`] of each per key (the least
//! recently seen go first). It is written only by the usage flusher, inside the same
//! transaction as the usage counts, together with the `api_key.first_use_from_new_ip` events
//! those uses cause: a row and its event land together or not at all.
//!
//! A leak report switches a key off (or only records the report) and appends
//! `api_key.reported_leaked` in one transaction.
//!
//! Must not import `http`, `auth` or `api`.

use super::api_keys::DEACTIVATED_LEAK_REPORTED;
use super::audit::{self, ActorKind, AuditAction, Named, NewAuditEvent};
use super::db::{params, Connection, OptionalExtension};
use super::Store;
use crate::error::Error;
use std::collections::BTreeSet;

/// How long a use keeps an address or a user agent in a key's activity: 30 days.
pub const ACTIVITY_WINDOW_SECS: i64 = 30 * 86_400;
/// Most addresses, and most user agents, kept per key; beyond it the least recently seen
/// go first.
pub const MAX_ACTIVITY_PER_KEY: usize = 100;
/// Longest user agent kept, in characters: a longer one is cut to this many, so that a client
/// sending huge headers cannot grow the table (and two agents alike in their first 256
/// characters count as one).
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// The uses of one key from one address (or with one user agent) since the last flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityUse {
    /// The key.
    pub key_id: String,
    /// The client address as text, or the user agent (at most [`MAX_USER_AGENT_CHARS`]).
    pub value: String,
    /// The first of these uses (unix seconds).
    pub first_at: i64,
    /// The last of these uses (unix seconds).
    pub last_at: i64,
    /// How many uses.
    pub requests: i64,
    /// For an address: the user agent of its first use, named by a new-address event.
    pub user_agent: Option<String>,
}

/// One address or user agent of a key's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEntry {
    /// The address, or the user agent.
    pub value: String,
    /// First use within the window (unix seconds).
    pub first_seen_at: i64,
    /// Last use (unix seconds).
    pub last_seen_at: i64,
    /// Uses since `first_seen_at`.
    pub requests: i64,
}

/// A key's activity over the window, most recently seen first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyActivity {
    /// Client addresses.
    pub ips: Vec<ActivityEntry>,
    /// User agents.
    pub user_agents: Vec<ActivityEntry>,
}

/// A report that a key was found where it should not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakReport {
    /// Hex SHA-256 of the reported token.
    pub key_hash: String,
    /// Switch the key off (`leaked_key_action = "deactivate"`), or only record the report.
    pub deactivate: bool,
    /// Where it was found, if the reporter said.
    pub url: Option<String>,
    /// The reporter's address.
    pub ip: Option<String>,
    /// The reporter's user agent.
    pub user_agent: Option<String>,
    /// The event's details (a JSON object as text: the URL and source, never the token).
    pub details: String,
}

/// The two activity tables, named once so the same code serves both.
#[derive(Clone, Copy)]
enum Table {
    Ips,
    UserAgents,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Ips => "api_key_ips",
            Table::UserAgents => "api_key_user_agents",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Table::Ips => "ip",
            Table::UserAgents => "user_agent",
        }
    }
}

/// What an event needs to name a key.
struct KeyIdentity {
    prefix: String,
    project_id: String,
    team_id: String,
}

/// The identity of key `key_id`; `None` for a key deleted since it was used.
fn key_identity(conn: &Connection, key_id: &str) -> Result<Option<KeyIdentity>, Error> {
    conn.prepare_cached(
        "SELECT k.key_prefix, k.project_id, p.team_id FROM api_keys k \
         JOIN projects p ON p.id = k.project_id WHERE k.id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![key_id], |row| {
            Ok(KeyIdentity {
                prefix: row.get(0)?,
                project_id: row.get(1)?,
                team_id: row.get(2)?,
            })
        })
        .optional()
    })
    .map_err(Error::from)
}

/// Adds `used` to the table: a row last seen within the window of the use grows; a missing
/// or older one starts afresh (its earlier history is outside the window). Returns whether
/// the value was new to the key within the window.
fn upsert(conn: &Connection, table: Table, used: &ActivityUse) -> Result<bool, Error> {
    let (name, column) = (table.name(), table.column());
    let last_seen: Option<i64> = conn
        .prepare_cached(&format!(
            "SELECT last_seen_at FROM {name} WHERE key_id = ?1 AND {column} = ?2"
        ))
        .and_then(|mut stmt| {
            stmt.query_row(params![used.key_id, used.value], |row| row.get(0))
                .optional()
        })?;
    let fresh = last_seen.is_some_and(|at| at >= used.first_at - ACTIVITY_WINDOW_SECS);
    let sql = if fresh {
        format!(
            "UPDATE {name} SET \
             first_seen_at = CASE WHEN first_seen_at < ?3 THEN first_seen_at ELSE ?3 END, \
             last_seen_at = CASE WHEN last_seen_at > ?4 THEN last_seen_at ELSE ?4 END, \
             requests = requests + ?5 \
             WHERE key_id = ?1 AND {column} = ?2"
        )
    } else {
        format!(
            "INSERT INTO {name} (key_id, {column}, first_seen_at, last_seen_at, requests) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key_id, {column}) DO UPDATE SET \
             first_seen_at = excluded.first_seen_at, last_seen_at = excluded.last_seen_at, \
             requests = excluded.requests"
        )
    };
    conn.prepare_cached(&sql).and_then(|mut stmt| {
        stmt.execute(params![
            used.key_id,
            used.value,
            used.first_at,
            used.last_at,
            used.requests
        ])
    })?;
    Ok(!fresh)
}

/// Whether the key has another address last seen within the window of `used`.
fn has_other_address(conn: &Connection, used: &ActivityUse) -> Result<bool, Error> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM api_key_ips WHERE key_id = ?1 AND ip <> ?2 \
         AND last_seen_at >= ?3)",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            params![
                used.key_id,
                used.value,
                used.first_at - ACTIVITY_WINDOW_SECS
            ],
            |row| row.get(0),
        )
    })
    .map_err(Error::from)
}

/// Drops a key's rows last seen before `cut`, then all but the [`MAX_ACTIVITY_PER_KEY`] most
/// recently seen.
fn trim(conn: &Connection, table: Table, key_id: &str, cut: i64) -> Result<(), Error> {
    let (name, column) = (table.name(), table.column());
    conn.prepare_cached(&format!(
        "DELETE FROM {name} WHERE key_id = ?1 AND (last_seen_at < ?2 OR rowid NOT IN \
         (SELECT rowid FROM {name} WHERE key_id = ?1 \
          ORDER BY last_seen_at DESC, first_seen_at DESC, {column} LIMIT ?3))"
    ))
    .and_then(|mut stmt| stmt.execute(params![key_id, cut, MAX_ACTIVITY_PER_KEY as i64]))?;
    Ok(())
}

/// Records uses on `conn`, inside the flush's transaction, as of `now`: adds `ips` and
/// `user_agents` to the keys' activity, appends `api_key.first_use_from_new_ip` for each
/// address new to its key (not seen in the window) while another address was seen in it, at
/// most once per key and address per window, and trims each key to the window and the bound.
/// Uses of keys deleted since are dropped.
pub(crate) fn record(
    conn: &Connection,
    ips: &[ActivityUse],
    user_agents: &[ActivityUse],
    now: i64,
) -> Result<(), Error> {
    // Oldest first within each key: of two addresses new in the same flush, the earlier is
    // the key's first and the later the "new" one.
    let mut ordered: Vec<&ActivityUse> = ips.iter().collect();
    ordered.sort_by(|a, b| (&a.key_id, a.first_at).cmp(&(&b.key_id, b.first_at)));
    let mut keys = BTreeSet::new();
    // The last key looked up, and what was found: uses come grouped by key.
    let mut identity: Option<(String, Option<KeyIdentity>)> = None;
    for used in ordered {
        if identity.as_ref().is_none_or(|(id, _)| *id != used.key_id) {
            identity = Some((used.key_id.clone(), key_identity(conn, &used.key_id)?));
        }
        let Some((
            _,
            Some(KeyIdentity {
                prefix,
                project_id,
                team_id,
            }),
        )) = &identity
        else {
            continue;
        };
        keys.insert(used.key_id.as_str());
        let since = used.first_at - ACTIVITY_WINDOW_SECS;
        // Checked in this order so that a use from a known address costs one query.
        if upsert(conn, Table::Ips, used)?
            && has_other_address(conn, used)?
            && !audit::happened_since(
                conn,
                AuditAction::ApiKeyFirstUseFromNewIp,
                &used.key_id,
                &used.value,
                since,
            )?
        {
            audit::append(
                conn,
                &NewAuditEvent {
                    at: used.first_at,
                    action: AuditAction::ApiKeyFirstUseFromNewIp,
                    actor_kind: ActorKind::Key,
                    actor_id: Some(used.key_id.clone()),
                    actor_label: Some(prefix.clone()),
                    target: Some(Named {
                        kind: "api_key".into(),
                        id: Some(used.key_id.clone()),
                        label: Some(prefix.clone()),
                    }),
                    team_id: Some(team_id.clone()),
                    project_id: Some(project_id.clone()),
                    ip: Some(used.value.clone()),
                    user_agent: used.user_agent.clone(),
                    details: "{}".into(),
                },
            )?;
        }
    }
    let cut = now - ACTIVITY_WINDOW_SECS;
    for key_id in keys {
        trim(conn, Table::Ips, key_id, cut)?;
    }
    let mut keys = BTreeSet::new();
    // By key and agent whatever the batch's order, so flushes lock these rows in one order
    // (see `Store::record_usage`).
    let mut agents: Vec<&ActivityUse> = user_agents.iter().collect();
    agents.sort_by(|a, b| (&a.key_id, &a.value).cmp(&(&b.key_id, &b.value)));
    for used in agents {
        let exists = identity
            .as_ref()
            .filter(|(id, _)| *id == used.key_id)
            .map(|(_, found)| found.is_some());
        let exists = match exists {
            Some(exists) => exists,
            None => key_identity(conn, &used.key_id)?.is_some(),
        };
        if !exists {
            continue;
        }
        upsert(conn, Table::UserAgents, used)?;
        keys.insert(used.key_id.as_str());
    }
    for key_id in keys {
        trim(conn, Table::UserAgents, key_id, cut)?;
    }
    Ok(())
}

fn entries(
    conn: &Connection,
    table: Table,
    key_id: &str,
    now: i64,
) -> Result<Vec<ActivityEntry>, Error> {
    let (name, column) = (table.name(), table.column());
    conn.prepare_cached(&format!(
        "SELECT {column}, first_seen_at, last_seen_at, requests FROM {name} \
         WHERE key_id = ?1 AND last_seen_at >= ?2 \
         ORDER BY last_seen_at DESC, first_seen_at DESC, {column} LIMIT ?3"
    ))
    .and_then(|mut stmt| {
        stmt.query_map(
            params![
                key_id,
                now - ACTIVITY_WINDOW_SECS,
                MAX_ACTIVITY_PER_KEY as i64
            ],
            |row| {
                Ok(ActivityEntry {
                    value: row.get(0)?,
                    first_seen_at: row.get(1)?,
                    last_seen_at: row.get(2)?,
                    requests: row.get(3)?,
                })
            },
        )?
        .collect()
    })
    .map_err(Error::from)
}

impl Store {
    /// The addresses and user agents that used key `key_id` within the window ending at
    /// `now`, most recently seen first, at most [`MAX_ACTIVITY_PER_KEY`] of each.
    pub fn key_activity(
        &self,
        key_id: &crate::ids::ApiKeyId,
        now: i64,
    ) -> Result<KeyActivity, Error> {
        let conn = self.conn()?;
        Ok(KeyActivity {
            ips: entries(&conn, Table::Ips, key_id, now)?,
            user_agents: entries(&conn, Table::UserAgents, key_id, now)?,
        })
    }

    /// Records a leak report of the key whose hash is `report.key_hash`: `false` when no key
    /// has it (nothing is written). Otherwise, in one transaction, switches an active key off
    /// when `report.deactivate` (`deactivated_at` now, `deactivated_reason` =
    /// `leak_reported`, the report's URL kept) and appends `api_key.reported_leaked` (actor
    /// anonymous), then answers `true`. A key already off stays as it is, its reason included.
    pub fn report_leaked_key(&self, report: &LeakReport, now: i64) -> Result<bool, Error> {
        self.write(|tx| {
            let found: Option<(String, String, String, String, bool)> = tx
                .prepare_cached(
                    "SELECT k.id, k.key_prefix, k.project_id, p.team_id, k.is_active \
                     FROM api_keys k JOIN projects p ON p.id = k.project_id WHERE k.key_hash = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![&report.key_hash], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ))
                    })
                    .optional()
                })?;
            let Some((key_id, prefix, project_id, team_id, is_active)) = found else {
                return Ok(false);
            };
            if report.deactivate && is_active {
                tx.prepare_cached(
                    "UPDATE api_keys SET is_active = 0, deactivated_at = ?2, \
                     deactivated_reason = ?3, leak_report_url = ?4 WHERE id = ?1",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![key_id, now, DEACTIVATED_LEAK_REPORTED, report.url])
                })?;
            }
            audit::append(
                tx,
                &NewAuditEvent {
                    at: now,
                    action: AuditAction::ApiKeyReportedLeaked,
                    actor_kind: ActorKind::Anonymous,
                    actor_id: None,
                    actor_label: None,
                    target: Some(Named {
                        kind: "api_key".into(),
                        id: Some(key_id),
                        label: Some(prefix),
                    }),
                    team_id: Some(team_id),
                    project_id: Some(project_id),
                    ip: report.ip.clone(),
                    user_agent: report.user_agent.clone(),
                    details: report.details.clone(),
                },
            )?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{store_with_key, temp_store};
    use crate::store::{AuditFilter, Page, UsageBatch};

    const DAY: i64 = 86_400;
    const T0: i64 = 1_750_000_000;

    fn used(key: &str, value: &str, at: i64, requests: i64) -> ActivityUse {
        ActivityUse {
            key_id: key.into(),
            value: value.into(),
            first_at: at,
            last_at: at,
            requests,
            user_agent: Some("agent/1".into()),
        }
    }

    /// Flushes `ips` (and the same values as user agents) at the time of the last use.
    fn flush(store: &Store, ips: Vec<ActivityUse>) {
        let now = ips.iter().map(|u| u.last_at).max().unwrap_or(0);
        let user_agents = ips
            .iter()
            .map(|u| ActivityUse {
                user_agent: None,
                ..u.clone()
            })
            .collect();
        store
            .record_usage(&UsageBatch {
                ips,
                user_agents,
                now,
                ..UsageBatch::default()
            })
            .unwrap();
    }

    fn new_ip_events(store: &Store) -> i64 {
        let filter = AuditFilter {
            actions: vec![AuditAction::ApiKeyFirstUseFromNewIp.as_str().into()],
            ..AuditFilter::default()
        };
        let page = Page {
            limit: 1,
            offset: 0,
        };
        store.audit_events(&filter, page).unwrap().total
    }

    fn new_ip_event_list(store: &Store) -> Vec<(i64, String)> {
        let filter = AuditFilter {
            actions: vec![AuditAction::ApiKeyFirstUseFromNewIp.as_str().into()],
            ..AuditFilter::default()
        };
        let page = Page {
            limit: 100,
            offset: 0,
        };
        let mut found: Vec<(i64, String)> = store
            .audit_events(&filter, page)
            .unwrap()
            .events
            .into_iter()
            .map(|e| (e.event.at, e.event.ip.unwrap()))
            .collect();
        found.sort();
        found
    }

    fn ips(store: &Store, key: &crate::ids::ApiKeyId, now: i64) -> Vec<(String, i64, i64, i64)> {
        store
            .key_activity(key, now)
            .unwrap()
            .ips
            .into_iter()
            .map(|e| (e.value, e.first_seen_at, e.last_seen_at, e.requests))
            .collect()
    }

    #[test]
    fn uses_add_up_per_address_and_read_back_most_recent_first() {
        let temp = temp_store();
        let store = &temp.store;
        let key = store_with_key(store);
        flush(store, vec![used(&key, "10.0.0.1", T0, 2)]);
        flush(
            store,
            vec![
                used(&key, "10.0.0.1", T0 + 5, 1),
                used(&key, "10.0.0.2", T0 + 3, 4),
            ],
        );
        assert_eq!(
            ips(store, &key, T0 + 10),
            [
                ("10.0.0.1".into(), T0, T0 + 5, 3),
                ("10.0.0.2".into(), T0 + 3, T0 + 3, 4)
            ]
        );
        let agents = store.key_activity(&key, T0 + 10).unwrap().user_agents;
        assert_eq!(agents.len(), 2);
        assert_eq!(agents[0].value, "10.0.0.1");
    }

    #[test]
    fn an_address_is_shown_for_30_days_after_its_last_use_and_then_starts_afresh() {
        let temp = temp_store();
        let store = &temp.store;
        let key = store_with_key(store);
        flush(store, vec![used(&key, "10.0.0.1", T0, 5)]);
        let window_end = T0 + ACTIVITY_WINDOW_SECS;
        assert_eq!(ips(store, &key, window_end).len(), 1);
        assert!(ips(store, &key, window_end + 1).is_empty());
        assert!(store
            .key_activity(&key, window_end + 1)
            .unwrap()
            .user_agents
            .is_empty());
        // Used again after the window: its old history no longer counts.
        flush(store, vec![used(&key, "10.0.0.1", T0 + 31 * DAY, 1)]);
        assert_eq!(
            ips(store, &key, T0 + 31 * DAY),
            [("10.0.0.1".into(), T0 + 31 * DAY, T0 + 31 * DAY, 1)]
        );
    }

    #[test]
    fn a_new_address_is_an_event_only_beside_another_and_once_per_30_days() {
        let temp = temp_store();
        let store = &temp.store;
        let key = store_with_key(store);
        // The first two addresses arrive in one flush: the earlier is the key's first.
        flush(
            store,
            vec![
                used(&key, "10.0.0.2", T0 + 1, 1),
                used(&key, "10.0.0.1", T0, 1),
            ],
        );
        assert_eq!(new_ip_event_list(store), [(T0 + 1, "10.0.0.2".into())]);
        // Known addresses make no event.
        flush(store, vec![used(&key, "10.0.0.2", T0 + DAY, 1)]);
        flush(store, vec![used(&key, "10.0.0.1", T0 + 2 * DAY, 1)]);
        assert_eq!(new_ip_events(store), 1);
        // 10.0.0.2 unused for more than 30 days, while 10.0.0.1 was used: new again.
        let back = T0 + DAY + ACTIVITY_WINDOW_SECS + 1;
        flush(store, vec![used(&key, "10.0.0.1", back - 10, 1)]);
        flush(store, vec![used(&key, "10.0.0.2", back, 1)]);
        assert_eq!(
            new_ip_event_list(store),
            [(T0 + 1, "10.0.0.2".into()), (back, "10.0.0.2".into())]
        );
    }

    #[test]
    fn a_key_unused_for_30_days_has_no_other_address_to_compare_with() {
        let temp = temp_store();
        let store = &temp.store;
        let key = store_with_key(store);
        flush(store, vec![used(&key, "10.0.0.1", T0, 1)]);
        flush(store, vec![used(&key, "10.0.0.2", T0 + 31 * DAY, 1)]);
        assert_eq!(new_ip_events(store), 0);
    }

    #[test]
    fn at_most_100_addresses_are_kept_the_least_recent_going_first() {
        let temp = temp_store();
        let store = &temp.store;
        let key = store_with_key(store);
        let uses: Vec<ActivityUse> = (0..=MAX_ACTIVITY_PER_KEY as i64)
            .map(|i| used(&key, &format!("10.0.{}.{}", i / 256, i % 256), T0 + i, 1))
            .collect();
        flush(store, uses);
        let kept = ips(store, &key, T0 + 200);
        assert_eq!(kept.len(), MAX_ACTIVITY_PER_KEY);
        assert_eq!(kept[0].0, "10.0.0.100");
        assert_eq!(kept[MAX_ACTIVITY_PER_KEY - 1].0, "10.0.0.1");
        assert!(!kept.iter().any(|entry| entry.0 == "10.0.0.0"));
        assert_eq!(
            store
                .key_activity(&key, T0 + 200)
                .unwrap()
                .user_agents
                .len(),
            MAX_ACTIVITY_PER_KEY
        );
        // Every address but the first was new beside another.
        assert_eq!(new_ip_events(store), MAX_ACTIVITY_PER_KEY as i64);
        // 10.0.0.101 pushes out 10.0.0.1, whose return within 30 days is no second event.
        flush(store, vec![used(&key, "10.0.0.101", T0 + 300, 1)]);
        assert!(!ips(store, &key, T0 + 300).iter().any(|e| e.0 == "10.0.0.1"));
        flush(store, vec![used(&key, "10.0.0.1", T0 + 400, 1)]);
        assert_eq!(ips(store, &key, T0 + 400)[0].0, "10.0.0.1");
        assert_eq!(new_ip_events(store), MAX_ACTIVITY_PER_KEY as i64 + 1);
        // 10.0.0.0, the key's first address, never had an event: back beside others, it has.
        flush(store, vec![used(&key, "10.0.0.0", T0 + 500, 1)]);
        assert_eq!(new_ip_events(store), MAX_ACTIVITY_PER_KEY as i64 + 2);
    }

    #[test]
    fn uses_of_a_deleted_key_are_dropped() {
        let temp = temp_store();
        let store = &temp.store;
        let key = store_with_key(store);
        assert!(store
            .delete_api_key(&key, &crate::store::Audit::system("test"), 1)
            .unwrap());
        flush(
            store,
            vec![used(&key, "10.0.0.1", T0, 1), used(&key, "10.0.0.2", T0, 1)],
        );
        assert!(ips(store, &key, T0).is_empty());
        assert_eq!(new_ip_events(store), 0);
    }

    #[test]
    fn a_leak_report_switches_an_active_key_off_with_its_event_and_names_unknown_hashes_false() {
        let temp = temp_store();
        let store = &temp.store;
        let key = store_with_key(store);
        let report = |hash: &str, deactivate: bool| LeakReport {
            key_hash: hash.into(),
            deactivate,
            url: Some("https://example.com/x".into()),
            ip: None,
            user_agent: None,
            details: "{}".into(),
        };
        assert!(!store.report_leaked_key(&report("nope", true), T0).unwrap());
        assert!(store.report_leaked_key(&report("h", false), T0).unwrap());
        assert!(store.api_key_by_id(&key).unwrap().unwrap().is_active);
        assert!(store.report_leaked_key(&report("h", true), T0 + 1).unwrap());
        let off = store.api_key_by_id(&key).unwrap().unwrap();
        assert!(!off.is_active);
        assert_eq!(off.deactivated_at, Some(T0 + 1));
        assert_eq!(off.deactivated_reason.as_deref(), Some("leak_reported"));
        assert_eq!(
            off.leak_report_url.as_deref(),
            Some("https://example.com/x")
        );
        let filter = AuditFilter {
            actions: vec![AuditAction::ApiKeyReportedLeaked.as_str().into()],
            ..AuditFilter::default()
        };
        let page = Page {
            limit: 10,
            offset: 0,
        };
        assert_eq!(store.audit_events(&filter, page).unwrap().total, 2);
    }
}
