//! The audit log (key-security.md): one append-only row per change or login attempt.
//!
//! A change and its event are written in the same transaction: store methods that change
//! data take the event and call [`append`] on their own transaction, so a change never lands
//! without its event and no event lands without its change. Events are never updated; only
//! [`Store::prune_audit`] deletes them, by age. Rows have no foreign keys: an event outlives
//! the user, key or content it names.

use super::db::{params, params_from_iter, Connection, OptionalExtension, Row, SqlValue};
use super::{column_count, FromRow, Page, Store};
use crate::error::Error;

/// Who did it (`actor.type` of the contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A signed-in user (a session).
    User,
    /// An API key; its label is the key's prefix.
    Key,
    /// A command run on the server machine.
    Cli,
    /// The server itself (an expiry, a pruning).
    System,
    /// Nobody known: a failed login, a leak report.
    Anonymous,
}

impl ActorKind {
    /// The stored and answered name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Key => "key",
            ActorKind::Cli => "cli",
            ActorKind::System => "system",
            ActorKind::Anonymous => "anonymous",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(text: &str) -> Option<ActorKind> {
        Some(match text {
            "user" => ActorKind::User,
            "key" => ActorKind::Key,
            "cli" => ActorKind::Cli,
            "system" => ActorKind::System,
            "anonymous" => ActorKind::Anonymous,
            _ => return None,
        })
    }
}

/// The actions of the contract, each stored under its dotted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    /// `auth.login_succeeded`
    LoginSucceeded,
    /// `auth.login_failed` (no target, and no trace of the email, when it names nobody)
    LoginFailed,
    /// `auth.logout`
    Logout,
    /// `session.revoked`
    SessionRevoked,
    /// `session.reuse_detected`
    SessionReuseDetected,
    /// `user.created`
    UserCreated,
    /// `user.updated`
    UserUpdated,
    /// `user.password_changed`
    UserPasswordChanged,
    /// `user.deactivated`
    UserDeactivated,
    /// `user.activated`
    UserActivated,
    /// `team.created`
    TeamCreated,
    /// `member.added`
    MemberAdded,
    /// `member.role_changed`
    MemberRoleChanged,
    /// `member.removed`
    MemberRemoved,
    /// `project.created`
    ProjectCreated,
    /// `api_key.created`
    ApiKeyCreated,
    /// `api_key.updated`
    ApiKeyUpdated,
    /// `api_key.deactivated`
    ApiKeyDeactivated,
    /// `api_key.activated`
    ApiKeyActivated,
    /// `api_key.rolled`
    ApiKeyRolled,
    /// `api_key.deleted`
    ApiKeyDeleted,
    /// `api_key.first_use_from_new_ip`
    ApiKeyFirstUseFromNewIp,
    /// `api_key.reported_leaked`
    ApiKeyReportedLeaked,
    /// `content.created`
    ContentCreated,
    /// `content.updated`
    ContentUpdated,
    /// `content.published`
    ContentPublished,
    /// `content.unpublished`
    ContentUnpublished,
    /// `content.deleted`
    ContentDeleted,
    /// `signing_key.rotated`
    SigningKeyRotated,
    /// `signing_key.retired`
    SigningKeyRetired,
}

impl AuditAction {
    /// Every action, in the contract's order.
    pub const ALL: [AuditAction; 30] = [
        AuditAction::LoginSucceeded,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::SessionRevoked,
        AuditAction::SessionReuseDetected,
        AuditAction::UserCreated,
        AuditAction::UserUpdated,
        AuditAction::UserPasswordChanged,
        AuditAction::UserDeactivated,
        AuditAction::UserActivated,
        AuditAction::TeamCreated,
        AuditAction::MemberAdded,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::ProjectCreated,
        AuditAction::ApiKeyCreated,
        AuditAction::ApiKeyUpdated,
        AuditAction::ApiKeyDeactivated,
        AuditAction::ApiKeyActivated,
        AuditAction::ApiKeyRolled,
        AuditAction::ApiKeyDeleted,
        AuditAction::ApiKeyFirstUseFromNewIp,
        AuditAction::ApiKeyReportedLeaked,
        AuditAction::ContentCreated,
        AuditAction::ContentUpdated,
        AuditAction::ContentPublished,
        AuditAction::ContentUnpublished,
        AuditAction::ContentDeleted,
        AuditAction::SigningKeyRotated,
        AuditAction::SigningKeyRetired,
    ];

    /// The stored and answered name, e.g. `api_key.created`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::LoginSucceeded => "auth.login_succeeded",
            AuditAction::LoginFailed => "auth.login_failed",
            AuditAction::Logout => "auth.logout",
            AuditAction::SessionRevoked => "session.revoked",
            AuditAction::SessionReuseDetected => "session.reuse_detected",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserUpdated => "user.updated",
            AuditAction::UserPasswordChanged => "user.password_changed",
            AuditAction::UserDeactivated => "user.deactivated",
            AuditAction::UserActivated => "user.activated",
            AuditAction::TeamCreated => "team.created",
            AuditAction::MemberAdded => "member.added",
            AuditAction::MemberRoleChanged => "member.role_changed",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::ProjectCreated => "project.created",
            AuditAction::ApiKeyCreated => "api_key.created",
            AuditAction::ApiKeyUpdated => "api_key.updated",
            AuditAction::ApiKeyDeactivated => "api_key.deactivated",
            AuditAction::ApiKeyActivated => "api_key.activated",
            AuditAction::ApiKeyRolled => "api_key.rolled",
            AuditAction::ApiKeyDeleted => "api_key.deleted",
            AuditAction::ApiKeyFirstUseFromNewIp => "api_key.first_use_from_new_ip",
            AuditAction::ApiKeyReportedLeaked => "api_key.reported_leaked",
            AuditAction::ContentCreated => "content.created",
            AuditAction::ContentUpdated => "content.updated",
            AuditAction::ContentPublished => "content.published",
            AuditAction::ContentUnpublished => "content.unpublished",
            AuditAction::ContentDeleted => "content.deleted",
            AuditAction::SigningKeyRotated => "signing_key.rotated",
            AuditAction::SigningKeyRetired => "signing_key.retired",
        }
    }

    /// The action a stored name stands for.
    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
    }

    /// Whether `text` may filter a list ([`AuditFilter::actions`]): an action's exact name,
    /// or a prefix ending in `.` that some action starts with (`api_key.`, `auth.`). Routes
    /// and the CLI refuse anything else rather than answer an empty list for a typo.
    pub fn is_filter(text: &str) -> bool {
        if text.ends_with('.') {
            AuditAction::ALL
                .into_iter()
                .any(|action| action.as_str().starts_with(text))
        } else {
            AuditAction::parse(text).is_some()
        }
    }
}

/// Who or what an event is about (`actor` and `target` of the contract): a kind, an id and a
/// readable label (an email, a key prefix, a slug). Never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Named {
    /// `user`, `session`, `team`, `member`, `project`, `api_key`, `content`, `signing_key`
    /// for targets; an [`ActorKind`] name for actors.
    pub kind: String,
    /// Its id, when it has one.
    pub id: Option<String>,
    /// A readable name, when it has one.
    pub label: Option<String>,
}

/// An event to append. `details` is a JSON object as text: what changed, never a password,
/// token, key or secret.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// What happened.
    pub action: AuditAction,
    /// Who did it.
    pub actor_kind: ActorKind,
    /// The actor's id (a user id, a key id), when known.
    pub actor_id: Option<String>,
    /// The actor's label (an email, a key prefix), when known.
    pub actor_label: Option<String>,
    /// What it was done to, if anything.
    pub target: Option<Named>,
    /// The team concerned, if any: the team route lists events by this.
    pub team_id: Option<String>,
    /// The project concerned, if any.
    pub project_id: Option<String>,
    /// The client address (resolved behind trusted proxies), when there was a request.
    pub ip: Option<String>,
    /// The request's `User-Agent`, when there was one.
    pub user_agent: Option<String>,
    /// A JSON object as text; `{}` when there is nothing to add.
    pub details: String,
}

/// Who acts, and from where: the part of an event its caller knows before the change. Store
/// methods that change data take one and complete it into a [`NewAuditEvent`] (action,
/// target, team, project, details) inside their own transaction, so every front end (HTTP,
/// CLI, setup page, start-up) builds its actor in one place and never a whole event by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// The kind of actor.
    pub actor_kind: ActorKind,
    /// The actor's id (a user id, a key id), when it has one.
    pub actor_id: Option<String>,
    /// The actor's readable label (an email, a key prefix, a command), never a secret.
    pub actor_label: Option<String>,
    /// The client address (resolved behind trusted proxies), when there was a request.
    pub ip: Option<String>,
    /// The request's `User-Agent`, when there was one.
    pub user_agent: Option<String>,
}

impl Audit {
    fn actor(kind: ActorKind, id: Option<&str>, label: Option<&str>) -> Audit {
        Audit {
            actor_kind: kind,
            actor_id: id.map(str::to_owned),
            actor_label: label.map(str::to_owned),
            ip: None,
            user_agent: None,
        }
    }

    /// A signed-in user: their id and email.
    pub fn user(user: &super::User) -> Audit {
        Audit::actor(ActorKind::User, Some(&user.id), Some(&user.email))
    }

    /// An API key: its id, labelled by its `key_prefix` (never the key).
    pub fn key(key: &super::ApiKey) -> Audit {
        Audit::actor(ActorKind::Key, Some(&key.id), Some(&key.key_prefix))
    }

    /// A command on the server machine, labelled by the command (`shipstar user create`).
    pub fn cli(command: &str) -> Audit {
        Audit::actor(ActorKind::Cli, None, Some(command))
    }

    /// The server itself, labelled by what it was doing (`first start`).
    pub fn system(doing: &str) -> Audit {
        Audit::actor(ActorKind::System, None, Some(doing))
    }

    /// Nobody known (a failed login, a leak report, a self-registration).
    pub fn anonymous() -> Audit {
        Audit::actor(ActorKind::Anonymous, None, None)
    }

    /// The same actor, seen at the client `ip` with `user_agent`.
    pub fn from_client(mut self, ip: Option<String>, user_agent: Option<String>) -> Audit {
        self.ip = ip;
        self.user_agent = user_agent;
        self
    }

    /// An event of `action` at `at` by this actor: no target, team or project, details `{}`;
    /// the [`NewAuditEvent`] builders add them.
    pub fn event(&self, action: AuditAction, at: i64) -> NewAuditEvent {
        NewAuditEvent {
            at,
            action,
            actor_kind: self.actor_kind,
            actor_id: self.actor_id.clone(),
            actor_label: self.actor_label.clone(),
            target: None,
            team_id: None,
            project_id: None,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            details: "{}".to_owned(),
        }
    }
}

impl NewAuditEvent {
    /// The same event about `kind` (`user`, `session`, `team`, `member`, `project`,
    /// `api_key`, `content`, `signing_key`) `id`, labelled `label` (an email, a slug, a key
    /// prefix; never a secret).
    pub fn target(mut self, kind: &str, id: &str, label: Option<&str>) -> NewAuditEvent {
        self.target = Some(Named {
            kind: kind.to_owned(),
            id: Some(id.to_owned()),
            label: label.map(str::to_owned),
        });
        self
    }

    /// The same event concerning team `team_id` (the team route lists it).
    pub fn team(mut self, team_id: &str) -> NewAuditEvent {
        self.team_id = Some(team_id.to_owned());
        self
    }

    /// The same event concerning project `project_id`.
    pub fn project(mut self, project_id: &str) -> NewAuditEvent {
        self.project_id = Some(project_id.to_owned());
        self
    }

    /// The same event with `details`, a JSON object of what changed (field names, old and
    /// new role, counts), never a password, token, key or secret. A value that is not an
    /// object is kept as `{}`, so the answered `details` is always an object.
    pub fn details(mut self, details: serde_json::Value) -> NewAuditEvent {
        if details.is_object() {
            self.details = details.to_string();
        }
        self
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// UUID.
    pub id: String,
    /// The event as appended.
    pub event: NewAuditEvent,
}

/// Which events a list shows. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events of this team.
    pub team_id: Option<String>,
    /// Action names, or prefixes ending in `.` (`api_key.`): an event matches any one.
    pub actions: Vec<String>,
    /// Only events by this actor id.
    pub actor_id: Option<String>,
    /// Only events about this target id.
    pub target_id: Option<String>,
    /// Only events at or after (unix seconds).
    pub since: Option<i64>,
    /// Only events at or before (unix seconds).
    pub until: Option<i64>,
}

/// One page of events, newest first, and the number in the whole list.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// The events of the page.
    pub events: Vec<AuditEvent>,
    /// Events in the whole filtered list.
    pub total: i64,
}

/// Appends `event` on `conn`, inside the caller's transaction; returns its id.
pub(crate) fn append(conn: &Connection, event: &NewAuditEvent) -> Result<String, Error> {
    let id = crate::ids::uuid_v4();
    let target = event.target.clone().unwrap_or_default();
    let target_kind = event.target.as_ref().map(|t| t.kind.clone());
    conn.prepare_cached(
        "INSERT INTO audit_events (id, at, action, actor_type, actor_id, actor_label, \
         target_type, target_id, target_label, team_id, project_id, ip, user_agent, details) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            id,
            event.at,
            event.action.as_str(),
            event.actor_kind.as_str(),
            event.actor_id,
            event.actor_label,
            target_kind,
            target.id,
            target.label,
            event.team_id,
            event.project_id,
            event.ip,
            event.user_agent,
            event.details,
        ])
    })?;
    Ok(id)
}

/// Whether an event `action` about target `target_id` from address `ip` was appended at or
/// after `since` (one indexed look-up by target): keeps an event that must happen at most
/// once per window from repeating.
pub(crate) fn happened_since(
    conn: &Connection,
    action: AuditAction,
    target_id: &str,
    ip: &str,
    since: i64,
) -> Result<bool, Error> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM audit_events WHERE target_id = ?1 AND at >= ?2 \
         AND action = ?3 AND ip = ?4)",
    )
    .and_then(|mut stmt| {
        stmt.query_row(params![target_id, since, action.as_str(), ip], |row| {
            row.get(0)
        })
    })
    .map_err(Error::from)
}

/// The email of user `id` inside `tx`, for an event's label (`None` if the user is gone).
pub(super) fn email_of(conn: &Connection, id: &str) -> Result<Option<String>, Error> {
    Ok(conn
        .prepare_cached("SELECT email FROM users WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row(params![id], |row| row.get(0)).optional())?)
}

/// The id of the team owning project `project_id`, read inside the caller's transaction (an
/// audit event names the team of the project it is about). 404 when there is no such project.
pub(super) fn team_of_project(
    conn: &super::db::Connection,
    project_id: &str,
) -> Result<String, Error> {
    conn.prepare_cached("SELECT team_id FROM projects WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![project_id], |row| row.get(0))
                .optional()
        })?
        .ok_or_else(|| Error::NotFound("Project not found".into()))
}

/// The event columns in the order [`AuditEvent`]'s [`FromRow`] reads them.
const EVENT_COLUMNS: &str = "id, at, action, actor_type, actor_id, actor_label, target_type, \
                             target_id, target_label, team_id, project_id, ip, user_agent, details";

impl FromRow for AuditEvent {
    const COLUMNS: usize = column_count(EVENT_COLUMNS);

    fn from_row_at(row: &Row<'_>, first: usize) -> super::db::Result<AuditEvent> {
        let unknown = |index: usize, text: String| super::db::DbError::Conversion {
            index,
            why: format!("unknown audit value {text:?}"),
        };
        let action: String = row.get(first + 2)?;
        let action = AuditAction::parse(&action).ok_or_else(|| unknown(first + 2, action))?;
        let actor: String = row.get(first + 3)?;
        let actor_kind = ActorKind::parse(&actor).ok_or_else(|| unknown(first + 3, actor))?;
        let target_kind: Option<String> = row.get(first + 6)?;
        let target = match target_kind {
            Some(kind) => Some(Named {
                kind,
                id: row.get(first + 7)?,
                label: row.get(first + 8)?,
            }),
            None => None,
        };
        Ok(AuditEvent {
            id: row.get(first)?,
            event: NewAuditEvent {
                at: row.get(first + 1)?,
                action,
                actor_kind,
                actor_id: row.get(first + 4)?,
                actor_label: row.get(first + 5)?,
                target,
                team_id: row.get(first + 9)?,
                project_id: row.get(first + 10)?,
                ip: row.get(first + 11)?,
                user_agent: row.get(first + 12)?,
                details: row.get(first + 13)?,
            },
        })
    }
}

/// The `WHERE` clause and its parameters for `filter`.
fn where_clause(filter: &AuditFilter) -> (String, Vec<SqlValue>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let bind = |values: &mut Vec<SqlValue>, value: SqlValue| {
        values.push(value);
        format!("?{}", values.len())
    };
    if let Some(team) = &filter.team_id {
        let p = bind(&mut values, SqlValue::Text(team.clone()));
        conditions.push(format!("team_id = {p}"));
    }
    if !filter.actions.is_empty() {
        let mut any = Vec::new();
        for action in &filter.actions {
            if action.ends_with('.') {
                // A prefix: the range [prefix, prefix + U+10FFFF) holds exactly the names that
                // start with it, and keeps the index usable (LIKE would need escaping).
                let low = bind(&mut values, SqlValue::Text(action.clone()));
                let high = bind(&mut values, SqlValue::Text(format!("{action}\u{10FFFF}")));
                any.push(format!("(action >= {low} AND action < {high})"));
            } else {
                let p = bind(&mut values, SqlValue::Text(action.clone()));
                any.push(format!("action = {p}"));
            }
        }
        conditions.push(format!("({})", any.join(" OR ")));
    }
    if let Some(actor) = &filter.actor_id {
        let p = bind(&mut values, SqlValue::Text(actor.clone()));
        conditions.push(format!("actor_id = {p}"));
    }
    if let Some(target) = &filter.target_id {
        let p = bind(&mut values, SqlValue::Text(target.clone()));
        conditions.push(format!("target_id = {p}"));
    }
    if let Some(since) = filter.since {
        let p = bind(&mut values, SqlValue::Integer(since));
        conditions.push(format!("at >= {p}"));
    }
    if let Some(until) = filter.until {
        let p = bind(&mut values, SqlValue::Integer(until));
        conditions.push(format!("at <= {p}"));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    (clause, values)
}

impl Store {
    /// Appends one event on its own (an event that records no change of its own, such as a
    /// failed login). Events that record a change are appended by the method making it.
    pub fn record_audit(&self, event: &NewAuditEvent) -> Result<String, Error> {
        self.write(|tx| append(tx, event))
    }

    /// The events `filter` selects, newest first, one page of them, and how many there are.
    pub fn audit_events(&self, filter: &AuditFilter, page: Page) -> Result<AuditPage, Error> {
        let conn = self.conn()?;
        let (clause, values) = where_clause(filter);
        let total: i64 = conn
            .prepare_cached(&format!("SELECT count(*) FROM audit_events{clause}"))
            .and_then(|mut stmt| stmt.query_row(&params_from_iter(&values), |r| r.get(0)))?;
        let mut page_values = values;
        page_values.push(SqlValue::Integer(page.limit));
        page_values.push(SqlValue::Integer(page.offset));
        let n = page_values.len();
        // Newest first; `seq` (insertion order) breaks ties within one second.
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events{clause} \
             ORDER BY at DESC, seq DESC LIMIT ?{} OFFSET ?{}",
            n - 1,
            n
        );
        let events = conn.prepare_cached(&sql).and_then(|mut stmt| {
            stmt.query_map(&params_from_iter(&page_values), AuditEvent::from_row)?
                .collect::<super::db::Result<Vec<_>>>()
        })?;
        Ok(AuditPage { events, total })
    }

    /// Deletes the events older than `before` (unix seconds); returns how many. The only way
    /// an event ever leaves the log (`audit_retention_days`).
    pub fn prune_audit(&self, before: i64) -> Result<u64, Error> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM audit_events WHERE at < ?1")
                .and_then(|mut stmt| stmt.execute(params![before]))
                .map(|n| n as u64)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::temp_store;

    fn event(at: i64, action: AuditAction, team: Option<&str>) -> NewAuditEvent {
        NewAuditEvent {
            at,
            action,
            actor_kind: ActorKind::User,
            actor_id: Some("u1".into()),
            actor_label: Some("a@example.com".into()),
            target: Some(Named {
                kind: "api_key".into(),
                id: Some("k1".into()),
                label: Some("sk_live_AbC12xYz".into()),
            }),
            team_id: team.map(str::to_string),
            project_id: None,
            ip: Some("203.0.113.7".into()),
            user_agent: Some("curl/8.5".into()),
            details: "{}".into(),
        }
    }

    const ALL: Page = Page {
        limit: 100,
        offset: 0,
    };

    #[test]
    fn an_audit_context_completes_into_the_event_it_names() {
        let audit = Audit::cli("shipstar team create")
            .from_client(Some("203.0.113.7".into()), Some("curl/8.5".into()));
        let event = audit
            .event(AuditAction::TeamCreated, 42)
            .target("team", "t1", Some("acme"))
            .team("t1")
            .project("p1")
            .details(serde_json::json!({"owner_id": "u1"}));
        assert_eq!(event.actor_kind, ActorKind::Cli);
        assert_eq!(event.actor_id, None);
        assert_eq!(event.actor_label.as_deref(), Some("shipstar team create"));
        assert_eq!(event.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(event.user_agent.as_deref(), Some("curl/8.5"));
        assert_eq!(
            event.target,
            Some(Named {
                kind: "team".into(),
                id: Some("t1".into()),
                label: Some("acme".into())
            })
        );
        assert_eq!(
            (event.team_id.as_deref(), event.project_id.as_deref()),
            (Some("t1"), Some("p1"))
        );
        assert_eq!(event.details, r#"{"owner_id":"u1"}"#);
        // Details are always an object.
        let plain = Audit::anonymous()
            .event(AuditAction::LoginFailed, 1)
            .details(serde_json::json!(["x"]));
        assert_eq!(plain.details, "{}");
        assert_eq!(plain.actor_kind, ActorKind::Anonymous);
        assert_eq!(plain.target, None);
    }

    #[test]
    fn every_action_name_reads_back_as_itself() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("api_key."), None);
    }

    #[test]
    fn filters_are_exact_names_or_prefixes_ending_in_a_dot() {
        for good in [
            "api_key.",
            "auth.",
            "session.",
            "user.created",
            "signing_key.retired",
        ] {
            assert!(AuditAction::is_filter(good), "{good}");
        }
        for bad in [
            "api_key",
            "api_",
            "nope.",
            "user.created.",
            "",
            ".",
            "User.created",
        ] {
            assert!(!AuditAction::is_filter(bad), "{bad}");
        }
    }

    #[test]
    fn events_read_back_whole_newest_first_and_filter_by_team_action_actor_target_and_time() {
        let temp = temp_store();
        let store = &temp.store;
        let first = event(100, AuditAction::ApiKeyCreated, Some("t1"));
        store.record_audit(&first).unwrap();
        store
            .record_audit(&event(100, AuditAction::ApiKeyRolled, Some("t1")))
            .unwrap();
        store
            .record_audit(&event(200, AuditAction::ContentCreated, Some("t2")))
            .unwrap();
        let mut anonymous = event(300, AuditAction::LoginFailed, None);
        anonymous.actor_kind = ActorKind::Anonymous;
        anonymous.actor_id = None;
        anonymous.actor_label = None;
        anonymous.target = None;
        store.record_audit(&anonymous).unwrap();

        let all = store.audit_events(&AuditFilter::default(), ALL).unwrap();
        assert_eq!(all.total, 4);
        let actions: Vec<_> = all.events.iter().map(|e| e.event.action).collect();
        assert_eq!(
            actions,
            [
                AuditAction::LoginFailed,
                AuditAction::ContentCreated,
                AuditAction::ApiKeyRolled,
                AuditAction::ApiKeyCreated
            ]
        );
        assert_eq!(all.events[3].event, first);
        assert_eq!(all.events[0].event, anonymous);

        let filtered = |filter: AuditFilter| store.audit_events(&filter, ALL).unwrap().total;
        let team = |t: &str| AuditFilter {
            team_id: Some(t.into()),
            ..AuditFilter::default()
        };
        assert_eq!(filtered(team("t1")), 2);
        let prefix = AuditFilter {
            actions: vec!["api_key.".into()],
            ..AuditFilter::default()
        };
        assert_eq!(filtered(prefix), 2);
        let exact_or = AuditFilter {
            actions: vec!["content.created".into(), "auth.login_failed".into()],
            ..AuditFilter::default()
        };
        assert_eq!(filtered(exact_or), 2);
        let actor = AuditFilter {
            actor_id: Some("u1".into()),
            ..AuditFilter::default()
        };
        assert_eq!(filtered(actor), 3);
        let target = AuditFilter {
            target_id: Some("k1".into()),
            since: Some(150),
            until: Some(250),
            ..AuditFilter::default()
        };
        assert_eq!(filtered(target), 1);
        let page = store
            .audit_events(
                &AuditFilter::default(),
                Page {
                    limit: 1,
                    offset: 1,
                },
            )
            .unwrap();
        assert_eq!(page.total, 4);
        assert_eq!(page.events[0].event.action, AuditAction::ContentCreated);
    }

    #[test]
    fn pruning_deletes_only_events_older_than_the_cut() {
        let temp = temp_store();
        let store = &temp.store;
        for at in [10, 20, 30] {
            store
                .record_audit(&event(at, AuditAction::TeamCreated, None))
                .unwrap();
        }
        assert_eq!(store.prune_audit(20).unwrap(), 1);
        let left = store.audit_events(&AuditFilter::default(), ALL).unwrap();
        let times: Vec<_> = left.events.iter().map(|e| e.event.at).collect();
        assert_eq!(times, [30, 20]);
    }
}
