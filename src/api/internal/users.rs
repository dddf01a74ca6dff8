//! The caller's own account and, for superusers, every account.

use super::auth::{hash_password, password_too_long, read_new_user};
use crate::api::extract::{self, JsonFields};
use crate::api::principal::{require_session, require_superuser};
use crate::api::respond::ok;
use crate::api::{dto, App, Ctx};
use crate::auth::password::{check_length, LengthProblem, Verdict};
use crate::error::{Error, FieldError};
use crate::http::Response;
use crate::store::{RevokeSessions, UserChanges};
use serde_json::json;

/// Longest first or last name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// `GET /api/internal/users/me`.
pub fn get_me(app: &App, ctx: &Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    Ok(ok(&dto::user(&caller.user)))
}

/// Reads the fields of a user update common to both PATCH routes; `password` is checked
/// (too short: 400 with `invalid_password_code`; too long: 422) and hashed.
fn read_changes(
    app: &App,
    fields: &mut JsonFields<'_>,
    invalid_password_code: &str,
) -> Result<(UserChanges, bool), Error> {
    let mut changes = UserChanges {
        first_name: fields.nullable_string("first_name", MAX_NAME_CHARS),
        last_name: fields.nullable_string("last_name", MAX_NAME_CHARS),
        email: fields.optional_string("email", 1, 320),
        ..UserChanges::default()
    };
    if let Some(email) = &changes.email {
        if !extract::is_plausible_email(email) {
            fields.problems.push(FieldError::new(
                &["body", "email"],
                "value_error",
                "value is not a valid email address",
            ));
        }
    }
    let password = fields.optional_string("password", 0, usize::MAX);
    if let Some(password) = &password {
        if check_length(password) == Err(LengthProblem::TooLong) {
            fields.problems.push(password_too_long());
        }
    }
    let password_given = password.is_some();
    if !fields.problems.is_empty() {
        return Ok((changes, password_given));
    }
    if let Some(password) = password {
        if check_length(&password) == Err(LengthProblem::TooShort) {
            return Err(Error::BadRequest(json!({
                "code": invalid_password_code,
                "reason": "Password should be at least 8 characters",
            })));
        }
        changes.password_hash = Some(hash_password(app, &password)?);
    }
    Ok((changes, password_given))
}

/// `PATCH /api/internal/users/me`: names, email, password. Email and password changes need
/// `current_password`; a password change signs out every other session.
pub fn patch_me(app: &App, ctx: &Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let body = extract::json_object(ctx.req)?;
    let mut fields = JsonFields::new(&body);
    let sensitive = fields.has("email") || fields.has("password");
    let current_password = fields.optional_string("current_password", 0, usize::MAX);
    if sensitive && current_password.is_none() {
        fields
            .problems
            .push(FieldError::missing(&["body", "current_password"]));
    }
    // Check the current password before hashing a new one: a wrong guess costs one hash.
    if let (true, Some(current)) = (sensitive, &current_password) {
        if check_length(current) == Err(LengthProblem::TooLong)
            || app.hasher.verify(current, &caller.user.password_hash) == Verdict::Mismatch
        {
            fields.finish()?;
            return Err(Error::bad_request("CURRENT_PASSWORD_INCORRECT"));
        }
    }
    let (mut changes, password_changed) =
        read_changes(app, &mut fields, "UPDATE_USER_INVALID_PASSWORD")?;
    fields.finish()?;
    if changes.email.as_deref().map(str::to_lowercase) == Some(caller.user.email.clone()) {
        changes.email = None;
    }
    let revoke = if password_changed {
        RevokeSessions::AllExcept(&caller.session.id)
    } else {
        RevokeSessions::None
    };
    let user = app
        .store
        .update_user(&caller.user.id, &changes, revoke, app.clock.now_secs())?;
    Ok(ok(&dto::user(&user)))
}

/// `GET /api/internal/users` (superuser): every user.
pub fn get_users(app: &App, ctx: &Ctx<'_>) -> Result<Response, Error> {
    require_superuser(app, ctx)?;
    let users = app.store.list_users()?;
    let objects: Vec<dto::UserObject<'_>> = users.iter().map(dto::user).collect();
    Ok(ok(&objects))
}

/// `POST /api/internal/users` (superuser): creates a user → 201; a taken email is 409.
pub fn post_user(app: &App, ctx: &Ctx<'_>) -> Result<Response, Error> {
    require_superuser(app, ctx)?;
    let body = extract::json_object(ctx.req)?;
    let new = read_new_user(app, &body, true, "REGISTER_INVALID_PASSWORD")?;
    let user = app.store.create_user(&new, app.clock.now_secs())?;
    Ok(Response::json(201, &dto::user(&user)))
}

/// `PATCH /api/internal/users/{id}` (superuser): flags, names, email, password.
/// Deactivation revokes every session of the user at once; a new password signs them out
/// everywhere.
pub fn patch_user(app: &App, ctx: &Ctx<'_>) -> Result<Response, Error> {
    require_superuser(app, ctx)?;
    let id = ctx.params.get("id");
    if !crate::ids::is_uuid(id) {
        return Err(Error::NotFound("User not found".into()));
    }
    let body = extract::json_object(ctx.req)?;
    let mut fields = JsonFields::new(&body);
    let is_active = fields.optional_bool("is_active");
    let is_verified = fields.optional_bool("is_verified");
    let is_superuser = fields.optional_bool("is_superuser");
    let (mut changes, password_changed) =
        read_changes(app, &mut fields, "UPDATE_USER_INVALID_PASSWORD")?;
    fields.finish()?;
    changes.is_active = is_active;
    changes.is_verified = is_verified;
    changes.is_superuser = is_superuser;
    let revoke = if password_changed {
        RevokeSessions::All
    } else {
        RevokeSessions::None
    };
    let user = app
        .store
        .update_user(id, &changes, revoke, app.clock.now_secs())?;
    Ok(ok(&dto::user(&user)))
}
