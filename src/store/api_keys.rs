//! API keys (only their SHA-256 is stored) and their per-day usage counters.

use super::audit::{append, team_of_project, Audit, AuditAction, NewAuditEvent};
use super::db::{params, OptionalExtension, Row};
use super::{column_count, ConflictOnUnique, FromRow, Store};
use crate::clock::rfc3339;
use crate::error::Error;
use crate::ids::{ApiKeyId, ProjectId, UserId};
use serde_json::{json, Map, Value};

/// The key columns (alias `k`) in the order [`ApiKey`]'s [`FromRow`] reads them. A macro
/// rather than a `const` so that `concat!` builds each statement at compile time: no SQL text
/// is formatted per call.
macro_rules! key_columns {
    () => {
        columns!("k"; "id", "project_id", "name", "key_prefix", "created_by", "created_at",
            "expires_at", "expires_in_days", "last_used_at", "is_active", "deactivated_at",
            "retires_at", "deactivated_reason", "leak_report_url")
    };
}
pub(super) use key_columns;

/// The usage columns in the order [`UsageDay`]'s [`FromRow`] reads them.
macro_rules! usage_day_columns {
    () => {
        columns!(; "day", "requests", "rejected")
    };
}

/// A stored API key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// Display name.
    pub name: String,
    /// `sk_live_` + 8 characters.
    pub key_prefix: String,
    /// The user it acts as.
    pub created_by: UserId,
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
    pub project_id: ProjectId,
    /// Display name.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// `sk_live_` + 8 characters.
    pub key_prefix: String,
    /// The creating user.
    pub created_by: UserId,
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

impl FromRow for UsageDay {
    const COLUMNS: usize = column_count(usage_day_columns!());

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<UsageDay> {
        Ok(UsageDay {
            day: row.get(first)?,
            requests: row.get(first + 1)?,
            rejected: row.get(first + 2)?,
        })
    }
}

impl FromRow for ApiKey {
    const COLUMNS: usize = column_count(key_columns!());

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<ApiKey> {
        Ok(ApiKey {
            id: row.get(first)?,
            project_id: row.get(first + 1)?,
            name: row.get(first + 2)?,
            key_prefix: row.get(first + 3)?,
            created_by: row.get(first + 4)?,
            created_at: row.get(first + 5)?,
            expires_at: row.get(first + 6)?,
            expires_in_days: row.get(first + 7)?,
            last_used_at: row.get(first + 8)?,
            is_active: row.get(first + 9)?,
            deactivated_at: row.get(first + 10)?,
            retires_at: row.get(first + 11)?,
            deactivated_reason: row.get(first + 12)?,
            leak_report_url: row.get(first + 13)?,
        })
    }
}

fn insert_key(tx: &super::db::Transaction, new: &NewApiKey, now: i64) -> Result<ApiKey, Error> {
    let key = ApiKey {
        id: ApiKeyId::new_v4(),
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
    // Only a key given in full (a seed) can collide; a generated one has 190 random bits.
    .conflict_on_unique(|| Error::Conflict("This API key is already stored.".into()))?;
    Ok(key)
}

fn select_key(tx: &super::db::Connection, id: &str) -> Result<Option<ApiKey>, Error> {
    Ok(tx
        .prepare_cached(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys k WHERE k.id = ?1"
        ))
        .and_then(|mut stmt| stmt.query_row(params![id], ApiKey::from_row).optional())?)
}

/// An event of `action` by `audit` about `key`, in its project and that project's team (read
/// on `conn`, inside the change's transaction). Labelled by the key's prefix, never the key.
fn key_event(
    conn: &super::db::Connection,
    audit: &Audit,
    action: AuditAction,
    key: &ApiKey,
    now: i64,
) -> Result<NewAuditEvent, Error> {
    let team_id = team_of_project(conn, &key.project_id)?;
    Ok(audit
        .event(action, now)
        .target("api_key", &key.id, Some(&key.key_prefix))
        .team(&team_id)
        .project(&key.project_id))
}

/// An expiry as the audit details show it: RFC 3339, or null for none.
fn expiry_value(at: Option<i64>) -> Value {
    at.map_or(Value::Null, |at| Value::from(rfc3339(at)))
}

/// Stores `new` inside `tx` and appends its `api_key.created` event by `audit` (details: the
/// name and expiry). Every way a key is made (route, CLI, seed) comes through here.
pub(super) fn insert_key_audited(
    tx: &super::db::Transaction,
    new: &NewApiKey,
    audit: &Audit,
    now: i64,
) -> Result<ApiKey, Error> {
    let key = insert_key(tx, new, now)?;
    let event = key_event(tx, audit, AuditAction::ApiKeyCreated, &key, now)?.details(json!({
        "name": key.name,
        "expires_at": expiry_value(key.expires_at),
    }));
    append(tx, &event)?;
    Ok(key)
}

impl Store {
    /// Stores a new key and its `api_key.created` event by `audit`, in one transaction.
    pub fn create_api_key(
        &self,
        new: &NewApiKey,
        audit: &Audit,
        now: i64,
    ) -> Result<ApiKey, Error> {
        self.write(|tx| insert_key_audited(tx, new, audit, now))
    }

    /// The key with this id, if any.
    pub fn api_key_by_id(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, Error> {
        let conn = self.conn()?;
        select_key(&conn, id)
    }

    /// A project's keys, newest first.
    pub fn api_keys_of_project(&self, project_id: &ProjectId) -> Result<Vec<ApiKey>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys k WHERE k.project_id = ?1 \
             ORDER BY k.created_at DESC, k.rowid DESC"
        ))?;
        let rows = stmt.query_map(params![project_id], ApiKey::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Applies `changes` to key `id` (404 if absent) and returns it, with one event by `audit`
    /// per kind of change, in the same transaction: `api_key.updated` when the name or expiry
    /// changes (details: the fields changed, and the old and new expiry when it changed),
    /// `api_key.deactivated` or `api_key.activated` when the state flips. A change to a value
    /// it already has is no change: it writes no event.
    pub fn update_api_key(
        &self,
        id: &ApiKeyId,
        changes: &ApiKeyChanges,
        audit: &Audit,
        now: i64,
    ) -> Result<ApiKey, Error> {
        self.write(|tx| {
            let old = select_key(tx, id)?.ok_or_else(|| Error::NotFound("API key not found".into()))?;
            let mut key = old.clone();
            let mut fields: Vec<&str> = Vec::new();
            if let Some(name) = &changes.name {
                if *name != key.name {
                    fields.push("name");
                }
                key.name = name.clone();
            }
            let mut flipped = None;
            if let Some(active) = changes.is_active {
                if active != key.is_active {
                    key.deactivated_at = if active { None } else { Some(now) };
                    flipped = Some(active);
                    // A change by hand replaces whatever reason a leak report gave.
                    key.deactivated_reason = None;
                    key.leak_report_url = None;
                }
                key.is_active = active;
            }
            if let Some(expires_at) = changes.expires_at {
                if expires_at != key.expires_at || key.expires_in_days.is_some() {
                    fields.push("expires_at");
                }
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
            })?;
            if !fields.is_empty() {
                let mut details = Map::new();
                details.insert("fields".into(), json!(fields));
                if fields.contains(&"expires_at") {
                    details.insert("old_expires_at".into(), expiry_value(old.expires_at));
                    details.insert("new_expires_at".into(), expiry_value(key.expires_at));
                }
                let event = key_event(tx, audit, AuditAction::ApiKeyUpdated, &key, now)?
                    .details(Value::Object(details));
                append(tx, &event)?;
            }
            if let Some(active) = flipped {
                let action = if active {
                    AuditAction::ApiKeyActivated
                } else {
                    AuditAction::ApiKeyDeactivated
                };
                append(tx, &key_event(tx, audit, action, &key, now)?)?;
            }
            Ok(key)
        })
    }

    /// Replaces key `old_id` by `new`: the old key stops working at `retires_at`. One
    /// transaction, so there is never a moment with neither or a half-rolled key, and it holds
    /// the `api_key.rolled` event by `audit` about the old key (details: the new key's id and
    /// prefix, and the overlap in seconds).
    pub fn roll_api_key(
        &self,
        old_id: &ApiKeyId,
        new: &NewApiKey,
        retires_at: i64,
        audit: &Audit,
        now: i64,
    ) -> Result<ApiKey, Error> {
        self.write(|tx| {
            let old = select_key(tx, old_id)?
                .ok_or_else(|| Error::NotFound("API key not found".into()))?;
            tx.prepare_cached(
                "UPDATE api_keys SET retires_at = CASE WHEN retires_at < ?2 THEN retires_at ELSE ?2 END \
                 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![old_id, retires_at]))?;
            let key = insert_key(tx, new, now)?;
            let event =
                key_event(tx, audit, AuditAction::ApiKeyRolled, &old, now)?.details(json!({
                    "new_key_id": key.id,
                    "new_key_prefix": key.key_prefix,
                    "overlap_seconds": retires_at - now,
                }));
            append(tx, &event)?;
            Ok(key)
        })
    }

    /// Deletes a key and its usage, with its `api_key.deleted` event by `audit` in the same
    /// transaction; false (and no event) when it did not exist.
    pub fn delete_api_key(&self, id: &ApiKeyId, audit: &Audit, now: i64) -> Result<bool, Error> {
        self.write(|tx| {
            let Some(key) = select_key(tx, id)? else {
                return Ok(false);
            };
            let event = key_event(tx, audit, AuditAction::ApiKeyDeleted, &key, now)?
                .details(json!({"name": key.name}));
            tx.prepare_cached("DELETE FROM api_keys WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute(params![id]))?;
            append(tx, &event)?;
            Ok(true)
        })
    }

    /// Stored usage of a key for days `from..=to` (`YYYY-MM-DD`), oldest first; days without
    /// use are absent.
    pub fn usage_of_key(
        &self,
        key_id: &ApiKeyId,
        from: &str,
        to: &str,
    ) -> Result<Vec<UsageDay>, Error> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(concat!(
            "SELECT ",
            usage_day_columns!(),
            " FROM api_key_usage \
             WHERE key_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day"
        ))?;
        let rows = stmt.query_map(params![key_id, from, to], UsageDay::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;
    use crate::store::{AuditEvent, AuditFilter, NewUser, Page};

    /// A project in a team; returns (user id, team id, project id).
    fn project(store: &Store) -> (UserId, crate::ids::TeamId, ProjectId) {
        let owner = store
            .create_user(
                &NewUser::with_hash(
                    crate::email::Email::parse("owner@example.com").unwrap(),
                    "x".into(),
                ),
                &by(),
                "test",
                1,
            )
            .unwrap();
        let team = store
            .create_team("Acme", "acme", &owner.id, &by(), 1)
            .unwrap();
        let project = store
            .create_project(&team.id, "Web", "web", &by(), 1)
            .unwrap();
        (owner.id, team.id, project.id)
    }

    fn new_key(project_id: &ProjectId, user_id: &UserId, hash: &str, prefix: &str) -> NewApiKey {
        NewApiKey {
            project_id: project_id.clone(),
            name: "ci".into(),
            key_hash: hash.into(),
            key_prefix: prefix.into(),
            created_by: user_id.clone(),
            expires_at: None,
            expires_in_days: None,
        }
    }

    fn by() -> Audit {
        Audit::cli("test").from_client(Some("203.0.113.7".into()), Some("curl/8.5".into()))
    }

    /// Every key event, oldest first.
    fn key_events(store: &Store) -> Vec<AuditEvent> {
        let filter = AuditFilter {
            actions: vec!["api_key.".into()],
            ..AuditFilter::default()
        };
        let page = Page {
            limit: 100,
            offset: 0,
        };
        let mut events = store.audit_events(&filter, page).unwrap().events;
        events.reverse();
        events
    }

    fn details(event: &AuditEvent) -> Value {
        serde_json::from_str(&event.event.details).unwrap()
    }

    #[test]
    fn every_key_change_records_one_event_naming_the_key_its_project_and_team() {
        let temp = temp_store();
        let store = &temp.store;
        let (user, team, project) = project(store);
        let key = store
            .create_api_key(
                &new_key(&project, &user, "h1", "sk_live_AbC12xYz"),
                &by(),
                100,
            )
            .unwrap();
        let rename = ApiKeyChanges {
            name: Some("deploy".into()),
            ..ApiKeyChanges::default()
        };
        store.update_api_key(&key.id, &rename, &by(), 110).unwrap();
        let expire = ApiKeyChanges {
            expires_at: Some(Some(86_400)),
            ..ApiKeyChanges::default()
        };
        store.update_api_key(&key.id, &expire, &by(), 120).unwrap();
        let off = ApiKeyChanges {
            is_active: Some(false),
            ..ApiKeyChanges::default()
        };
        store.update_api_key(&key.id, &off, &by(), 130).unwrap();
        let on = ApiKeyChanges {
            is_active: Some(true),
            ..ApiKeyChanges::default()
        };
        store.update_api_key(&key.id, &on, &by(), 140).unwrap();
        let rolled = store
            .roll_api_key(
                &key.id,
                &new_key(&project, &user, "h2", "sk_live_ZzZ98wVu"),
                150 + 3600,
                &by(),
                150,
            )
            .unwrap();
        assert!(store.delete_api_key(&rolled.id, &by(), 160).unwrap());

        let events = key_events(store);
        let actions: Vec<_> = events.iter().map(|e| e.event.action).collect();
        assert_eq!(
            actions,
            [
                AuditAction::ApiKeyCreated,
                AuditAction::ApiKeyUpdated,
                AuditAction::ApiKeyUpdated,
                AuditAction::ApiKeyDeactivated,
                AuditAction::ApiKeyActivated,
                AuditAction::ApiKeyRolled,
                AuditAction::ApiKeyDeleted,
            ]
        );
        let first = &events[0].event;
        assert_eq!(first.at, 100);
        assert_eq!(first.actor_label.as_deref(), Some("test"));
        assert_eq!(first.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(first.user_agent.as_deref(), Some("curl/8.5"));
        assert_eq!(first.team_id.as_deref(), Some(team.as_str()));
        assert_eq!(first.project_id.as_deref(), Some(project.as_str()));
        let target = first.target.clone().unwrap();
        assert_eq!(
            (
                target.kind.as_str(),
                target.id.as_deref(),
                target.label.as_deref()
            ),
            ("api_key", Some(key.id.as_str()), Some("sk_live_AbC12xYz"))
        );
        assert_eq!(
            details(&events[0]),
            json!({"name": "ci", "expires_at": null})
        );
        assert_eq!(details(&events[1]), json!({"fields": ["name"]}));
        assert_eq!(
            details(&events[2]),
            json!({"fields": ["expires_at"], "old_expires_at": null,
                   "new_expires_at": "1970-01-02T00:00:00Z"})
        );
        assert_eq!(details(&events[3]), json!({}));
        // The roll is about the old key and names the new one.
        assert_eq!(
            events[5].event.target.as_ref().unwrap().id.as_deref(),
            Some(key.id.as_str())
        );
        assert_eq!(
            details(&events[5]),
            json!({"new_key_id": rolled.id, "new_key_prefix": "sk_live_ZzZ98wVu",
                   "overlap_seconds": 3600})
        );
        assert_eq!(
            events[6].event.target.as_ref().unwrap().label.as_deref(),
            Some("sk_live_ZzZ98wVu")
        );
    }

    #[test]
    fn a_change_to_the_same_value_or_to_a_missing_key_records_nothing() {
        let temp = temp_store();
        let store = &temp.store;
        let (user, _, project) = project(store);
        let key = store
            .create_api_key(
                &new_key(&project, &user, "h1", "sk_live_AbC12xYz"),
                &by(),
                100,
            )
            .unwrap();
        let same = ApiKeyChanges {
            name: Some("ci".into()),
            is_active: Some(true),
            expires_at: Some(None),
        };
        store.update_api_key(&key.id, &same, &by(), 110).unwrap();
        assert!(!store
            .delete_api_key(&ApiKeyId::new_v4(), &by(), 120)
            .unwrap());
        let missing = store.update_api_key(&ApiKeyId::new_v4(), &same, &by(), 130);
        assert!(matches!(missing, Err(Error::NotFound(_))));
        let roll = store.roll_api_key(
            &ApiKeyId::new_v4(),
            &new_key(&project, &user, "h2", "sk_live_ZzZ98wVu"),
            140,
            &by(),
            140,
        );
        assert!(matches!(roll, Err(Error::NotFound(_))));
        assert_eq!(key_events(store).len(), 1);
    }

    #[test]
    fn a_key_change_whose_event_cannot_be_written_does_not_land() {
        let temp = temp_store();
        let store = &temp.store;
        let (user, _, project) = project(store);
        let key = store
            .create_api_key(
                &new_key(&project, &user, "h1", "sk_live_AbC12xYz"),
                &by(),
                100,
            )
            .unwrap();
        store
            .conn()
            .unwrap()
            .execute_batch("ALTER TABLE audit_events RENAME TO audit_events_gone")
            .unwrap();
        let created = store.create_api_key(
            &new_key(&project, &user, "h2", "sk_live_ZzZ98wVu"),
            &by(),
            110,
        );
        assert!(created.is_err());
        let off = ApiKeyChanges {
            is_active: Some(false),
            ..ApiKeyChanges::default()
        };
        assert!(store.update_api_key(&key.id, &off, &by(), 120).is_err());
        assert!(store.delete_api_key(&key.id, &by(), 130).is_err());
        let keys = store.api_keys_of_project(&project).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].is_active);
    }

    fn key(expires_at: Option<i64>, retires_at: Option<i64>) -> ApiKey {
        ApiKey {
            id: ApiKeyId::new_v4(),
            project_id: ProjectId::new_v4(),
            name: "n".into(),
            key_prefix: "sk_live_abcdefgh".into(),
            created_by: UserId::new_v4(),
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
