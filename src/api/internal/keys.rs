//! Project API keys: create (shown once), list, read, change, roll, delete, usage.

use crate::api::extract::{self, Fields, JsonFields};
use crate::api::principal::{project_role, require_manager, require_session, SessionCaller};
use crate::api::respond::{ok, token_response};
use crate::api::router::PathId;
use crate::api::usage::utc_day;
use crate::api::{dto, App, Ctx};
use crate::error::{Error, FieldError};
use crate::http::Response;
use crate::ids::ApiKeyId;
use crate::keys::{self, Expiry};
use crate::roles::Role;
use crate::store::{ApiKey, ApiKeyChanges, Audit};
use serde_json::{json, Value};

/// A key addressed by the path, with who is asking and their role in its team.
pub(super) struct KeyAccess {
    pub(super) caller: SessionCaller,
    pub(super) key: ApiKey,
    pub(super) role: Role,
}

/// The audit context of a key change by `caller` over this request.
fn audit_of(app: &App, ctx: &Ctx<'_>, caller: &SessionCaller) -> Audit {
    ctx.audit(app, Audit::user(&caller.user))
}

/// The key in the path and the caller's role in its team (404 unknown key, 403 another team).
pub(super) fn key_access(app: &App, ctx: &mut Ctx<'_>) -> Result<KeyAccess, Error> {
    let caller = require_session(app, ctx)?;
    let key_id: ApiKeyId = ctx.params.id("key_id")?;
    let key = app
        .store
        .api_key_by_id(&key_id)?
        .ok_or_else(|| Error::NotFound(ApiKeyId::NOT_FOUND.into()))?;
    let (_, role) = project_role(app, &caller.user, &key.project_id)?;
    Ok(KeyAccess { caller, key, role })
}

fn future_problem(name: &str) -> FieldError {
    FieldError::new(
        &["body", name],
        "value_error",
        "The expiry must be in the future",
    )
}

/// `GET /api/internal/projects/{project_id}/api-keys` (member): newest first.
pub fn get_keys(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let (project, _) = project_role(app, &caller.user, &ctx.params.id("project_id")?)?;
    let keys: Vec<Value> = app
        .store
        .api_keys_of_project(&project.id)?
        .iter()
        .map(dto::api_key)
        .collect();
    Ok(ok(&Value::Array(keys)))
}

/// The key object plus the key itself: the only time it is ever shown.
fn reveal(key: &ApiKey, raw: &str) -> Response {
    let mut body = dto::api_key(key);
    if let Value::Object(map) = &mut body {
        map.insert("key".into(), Value::from(raw));
    }
    token_response(201, &body)
}

/// `POST /api/internal/projects/{project_id}/api-keys` (owner, admin) → 201 with `key`.
pub fn post_key(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let (project, role) = project_role(app, &caller.user, &ctx.params.id("project_id")?)?;
    require_manager(role)?;
    let body = extract::json_object(ctx.req)?;
    let now = app.clock.now_secs();
    let (name, expires_at, expires_in_days) = JsonFields::parse(&body, |fields| {
        let name = fields.required_string("name", 1, keys::MAX_NAME_CHARS);
        let expires_at = fields.optional_datetime("expires_at").flatten();
        let expires_in_days = fields.optional_int("expires_in_days", 1, keys::MAX_EXPIRES_IN_DAYS);
        if expires_at.is_some_and(|at| !keys::expiry_is_acceptable(at, now)) {
            fields.problem(future_problem("expires_at"));
        }
        if expires_at.is_some() && expires_in_days.is_some() {
            fields.problem(FieldError::new(
                &["body"],
                "value_error",
                "Give expires_at or expires_in_days, not both",
            ));
        }
        (name, expires_at, expires_in_days)
    })?;
    let expiry = match (expires_at, expires_in_days) {
        (Some(at), _) => Expiry::At(at),
        (None, Some(days)) => Expiry::InDays(days),
        (None, None) => Expiry::Never,
    };
    let audit = audit_of(app, ctx, &caller);
    let created = keys::create_key(
        &app.store,
        &project,
        &caller.user,
        name,
        expiry,
        &audit,
        now,
    )?;
    Ok(reveal(&created.key, &created.raw))
}

/// `GET /api/internal/api-keys/{key_id}` (member).
pub fn get_key(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let access = key_access(app, ctx)?;
    Ok(ok(&dto::api_key(&access.key)))
}

/// `PATCH /api/internal/api-keys/{key_id}` (owner, admin): rename, (de)activate, expiry.
pub fn patch_key(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let KeyAccess { caller, key, role } = key_access(app, ctx)?;
    require_manager(role)?;
    let body = extract::json_object(ctx.req)?;
    let mut fields = JsonFields::new(&body);
    let now = app.clock.now_secs();
    let changes = ApiKeyChanges {
        name: fields.optional_string("name", 1, keys::MAX_NAME_CHARS),
        is_active: fields.optional_bool("is_active"),
        expires_at: fields.optional_datetime("expires_at"),
    };
    let expiry = changes.expires_at.flatten();
    if expiry.is_some_and(|at| !keys::expiry_is_acceptable(at, now)) {
        fields.problems.push(future_problem("expires_at"));
    }
    fields.finish()?;
    let audit = audit_of(app, ctx, &caller);
    let key = app.store.update_api_key(&key.id, &changes, &audit, now)?;
    Ok(ok(&dto::api_key(&key)))
}

/// `POST /api/internal/api-keys/{key_id}/roll` (owner, admin): `{"overlap_seconds"?}` → 201
/// a new key with the same name, project and expiry rule; the old one stops working once the
/// overlap has passed.
pub fn post_roll(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let KeyAccess {
        caller,
        key: old,
        role,
    } = key_access(app, ctx)?;
    require_manager(role)?;
    let body = if ctx.req.body.is_empty() {
        serde_json::Map::new()
    } else {
        extract::json_object(ctx.req)?
    };
    let mut fields = JsonFields::new(&body);
    let overlap = fields
        .optional_int("overlap_seconds", 0, keys::MAX_OVERLAP_SECS)
        .unwrap_or(0);
    fields.finish()?;
    let now = app.clock.now_secs();
    let audit = audit_of(app, ctx, &caller);
    let created = keys::roll_key(&app.store, &old, &caller.user, overlap, &audit, now)?;
    Ok(reveal(&created.key, &created.raw))
}

/// `DELETE /api/internal/api-keys/{key_id}` (owner, admin) → 204.
pub fn delete_key(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let KeyAccess { caller, key, role } = key_access(app, ctx)?;
    require_manager(role)?;
    let audit = audit_of(app, ctx, &caller);
    if app
        .store
        .delete_api_key(&key.id, &audit, app.clock.now_secs())?
    {
        Ok(Response::empty(204))
    } else {
        Err(Error::NotFound("API key not found".into()))
    }
}

/// `GET /api/internal/api-keys/{key_id}/usage?days=1..90` (member): one row per UTC day,
/// oldest first, days without use included as zeros.
pub fn get_usage(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let KeyAccess { key, .. } = key_access(app, ctx)?;
    let query = Fields::from_query(ctx.req)?;
    let mut problems = Vec::new();
    let days = query.int_or("days", 30, 1, 90, &mut problems);
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    let now = app.clock.now_secs();
    let first = now - (days - 1) * keys::DAY_SECS;
    let stored = app
        .store
        .usage_of_key(&key.id, &utc_day(first), &utc_day(now))?;
    let rows: Vec<Value> = (0..days)
        .map(|offset| {
            let day = utc_day(first + offset * keys::DAY_SECS);
            let found = stored.iter().find(|row| row.day == day);
            json!({
                "date": day,
                "requests": found.map_or(0, |row| row.requests),
                "rejected": found.map_or(0, |row| row.rejected),
            })
        })
        .collect();
    Ok(ok(&Value::Array(rows)))
}
