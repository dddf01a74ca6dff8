//! The public API: health and `/api/v1/me`.

use super::respond::ok;
use super::{dto, principal, App, Ctx};
use crate::error::{AuthFailure, Error};
use crate::http::Response;
use serde_json::json;

/// `GET /api/v1/health`: 200 when the database answers a read, 503 otherwise.
pub fn get_health(app: &App, _ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    if app.store.is_healthy() {
        Ok(ok(&json!({
            "status": "ok", "version": crate::VERSION, "database": "ok"
        })))
    } else {
        Ok(Response::json(
            503,
            &json!({"status": "unavailable", "version": crate::VERSION, "database": "unavailable"}),
        ))
    }
}

/// `GET /api/v1/me`: the public profile of the key's owner (or of the signed-in user).
/// Any failure answers the API-key 401 detail.
pub fn get_me(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = principal::require_caller(app, ctx, AuthFailure::ApiKey)?;
    Ok(ok(&dto::public_me(caller.user())))
}
