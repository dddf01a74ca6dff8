//! The public API: health and `/api/v1/me`.

use super::respond::ok;
use super::{dto, principal, App, Ctx};
use crate::error::{AuthFailure, Error};
use crate::http::Response;
use serde::Serialize;

/// The health answer. A borrowing struct rather than a `json!` map, whose keys and values
/// were allocated and freed on every call; its fields are in name order, so the bytes are
/// those of the map (a unit test compares them).
#[derive(Serialize)]
struct Health {
    database: &'static str,
    status: &'static str,
    version: &'static str,
}

/// `GET /api/v1/health`: 200 when the database answers a read, 503 otherwise.
pub fn get_health(app: &App, _ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    if app.store.is_healthy() {
        Ok(ok(&health("ok")))
    } else {
        Ok(Response::json(503, &health("unavailable")))
    }
}

/// The health body with the database and overall status `state`.
fn health(state: &'static str) -> Health {
    Health {
        database: state,
        status: state,
        version: crate::VERSION,
    }
}

/// `GET /api/v1/me`: the public profile of the key's owner (or of the signed-in user).
/// Any failure answers the API-key 401 detail.
pub fn get_me(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = principal::require_caller(app, ctx, AuthFailure::ApiKey)?;
    Ok(ok(&dto::public_me(caller.user())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_health_body_has_the_bytes_of_the_map_it_replaces() {
        for state in ["ok", "unavailable"] {
            assert_eq!(
                serde_json::to_string(&health(state)).unwrap(),
                json!({"status": state, "version": crate::VERSION, "database": state}).to_string()
            );
        }
    }
}
