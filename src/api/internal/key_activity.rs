//! `GET /api/internal/api-keys/{key_id}/activity`: the distinct client addresses and user
//! agents that used a key in the last 30 days (key-security.md, "Key activity").
//!
//! The rows are written by the usage flusher (see [`crate::api::usage`]); this route only
//! reads, and writes nothing, not even to the audit log.

use super::keys::{key_access, KeyAccess};
use crate::api::respond::{ok, rfc3339};
use crate::api::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::store::ActivityEntry;
use serde_json::{json, Value};

/// The entries as answered, naming the value `field` (`ip` or `user_agent`).
fn entries(field: &str, entries: &[ActivityEntry]) -> Value {
    Value::Array(
        entries
            .iter()
            .map(|entry| {
                let mut object = json!({
                    "first_seen_at": rfc3339(entry.first_seen_at),
                    "last_seen_at": rfc3339(entry.last_seen_at),
                    "requests": entry.requests,
                });
                if let Value::Object(map) = &mut object {
                    map.insert(field.to_string(), Value::from(entry.value.clone()));
                }
                object
            })
            .collect(),
    )
}

/// `GET /api/internal/api-keys/{key_id}/activity` (member of the key's team; a session
/// only) → `{"ips": [...], "user_agents": [...]}`, most recently seen first, the last 30 days.
pub fn get_activity(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let KeyAccess { key, .. } = key_access(app, ctx)?;
    let activity = app.store.key_activity(&key.id, app.clock.now_secs())?;
    Ok(ok(&json!({
        "ips": entries("ip", &activity.ips),
        "user_agents": entries("user_agent", &activity.user_agents),
    })))
}
