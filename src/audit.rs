//! The audit log's events as users see them (key-security.md): the one JSON shape shared by
//! the audit routes and `shipstar audit list --json`.
//!
//! Knows nothing of HTTP; the store keeps the events, this module only shapes them.

use crate::clock::rfc3339;
use crate::store::AuditEvent;
use serde_json::{json, Value};

/// An audit event: `id, at, action, actor {type, id, label}, target {type, id, label} or
/// null, team_id, project_id, ip, user_agent, details` (key-security.md). `details` is always
/// a JSON object.
pub fn event_json(stored: &AuditEvent) -> Value {
    let event = &stored.event;
    let details = serde_json::from_str::<Value>(&event.details)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    json!({
        "id": stored.id,
        "at": rfc3339(event.at),
        "action": event.action.as_str(),
        "actor": {
            "type": event.actor_kind.as_str(),
            "id": event.actor_id,
            "label": event.actor_label,
        },
        "target": event.target.as_ref().map(|target| json!({
            "type": target.kind,
            "id": target.id,
            "label": target.label,
        })),
        "team_id": event.team_id,
        "project_id": event.project_id,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": details,
    })
}
