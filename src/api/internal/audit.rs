//! The audit log's routes (key-security.md, "Audit log"): a team's events for its owners and
//! admins, and every event for superusers. Read-only: no route updates or deletes an event.

use crate::api::dto;
use crate::api::extract::Fields;
use crate::api::principal::{require_manager, require_session, require_superuser, team_role};
use crate::api::respond::ok;
use crate::api::{App, Ctx};
use crate::error::{Error, FieldError};
use crate::http::Response;
use crate::ids::TeamId;
use crate::store::{AuditAction, AuditFilter, Page};
use serde_json::Value;

/// `GET /api/internal/teams/{team_id}/audit-log` (owner, admin, superuser): the events of the
/// team (those whose `team_id` is it), filtered and paginated as [`get_audit_log`].
pub fn get_team_audit_log(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let team_id: TeamId = ctx.params.id("team_id")?;
    require_manager(team_role(app, &caller.user, &team_id)?)?;
    let (mut filter, page) = read_query(ctx)?;
    filter.team_id = Some(team_id.into_string());
    list(app, &filter, page)
}

/// `GET /api/internal/audit-log` (superuser): every event, newest first. Filters
/// `?action=` (repeatable; exact names or prefixes ending in `.`), `?actor_id=`,
/// `?target_id=` (UUIDs), `?since=`, `?until=` (RFC 3339, inclusive); `?limit=` 1..100
/// (default 20), `?offset=`; the number of matching events in `X-Total-Count`.
pub fn get_audit_log(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    require_superuser(app, ctx)?;
    let (filter, page) = read_query(ctx)?;
    list(app, &filter, page)
}

fn list(app: &App, filter: &AuditFilter, page: Page) -> Result<Response, Error> {
    let listed = app.store.audit_events(filter, page)?;
    let events: Vec<Value> = listed.events.iter().map(dto::audit_event).collect();
    Ok(ok(&Value::Array(events)).with_header("X-Total-Count", listed.total.to_string()))
}

/// The filters and page of the query, or 422 listing every problem.
fn read_query(ctx: &Ctx<'_>) -> Result<(AuditFilter, Page), Error> {
    let (fields, actions) = Fields::from_query_with_repeated(ctx.req, "action")?;
    let mut problems = Vec::new();
    if actions.iter().any(|action| !AuditAction::is_filter(action)) {
        problems.push(FieldError::new(
            &["query", "action"],
            "value_error",
            "Input should be an audit action, or a prefix of one ending in '.' such as \
             'api_key.'",
        ));
    }
    let mut uuid = |name: &str| {
        let text = fields.optional(name, &mut problems)?.to_ascii_lowercase();
        if crate::ids::is_uuid(&text) {
            Some(text)
        } else {
            problems.push(FieldError::new(
                &["query", name],
                "uuid_parsing",
                "Input should be a valid UUID",
            ));
            None
        }
    };
    let actor_id = uuid("actor_id");
    let target_id = uuid("target_id");
    let mut datetime = |name: &str| {
        let text = fields.optional(name, &mut problems)?;
        match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
            Ok(at) => Some(at.unix_timestamp()),
            Err(_) => {
                problems.push(FieldError::new(
                    &["query", name],
                    "datetime_parsing",
                    "Input should be a valid RFC 3339 datetime",
                ));
                None
            }
        }
    };
    let since = datetime("since");
    let until = datetime("until");
    let page = fields.page(&mut problems);
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    let filter = AuditFilter {
        team_id: None,
        actions,
        actor_id,
        target_id,
        since,
        until,
    };
    Ok((filter, page))
}
