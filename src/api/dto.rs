//! Wire shapes: domain types turned into the exact JSON objects of the contract.

use super::respond::rfc3339;
use crate::store::{Session, User};
use serde_json::{json, Value};

/// The internal user object: `id, email, first_name, last_name, is_active, is_verified,
/// is_superuser, created_at`.
pub fn user(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "is_verified": user.is_verified,
        "is_superuser": user.is_superuser,
        "created_at": rfc3339(user.created_at),
    })
}

/// The public `/api/v1/me` object: exactly six fields.
pub fn public_me(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "is_verified": user.is_verified,
    })
}

/// A session as listed to its owner; `current` marks the one making the request.
pub fn session(session: &Session, current_id: &str) -> Value {
    json!({
        "id": session.id,
        "created_at": rfc3339(session.created_at),
        "last_seen_at": rfc3339(session.last_seen_at),
        "user_agent": session.user_agent,
        "ip": session.ip,
        "current": session.id == current_id,
    })
}

/// The login and refresh answer.
pub fn token(access_token: &str, expires_in: i64) -> Value {
    json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": expires_in,
    })
}

/// A team as seen by a member: `id, name, slug, role, created_at`.
pub fn team(team: &crate::store::Team, role: &str) -> Value {
    json!({
        "id": team.id,
        "name": team.name,
        "slug": team.slug,
        "role": role,
        "created_at": rfc3339(team.created_at),
    })
}

/// A team member: `user_id, email, role, added_at`.
pub fn member(member: &crate::store::Member) -> Value {
    json!({
        "user_id": member.user_id,
        "email": member.email,
        "role": member.role,
        "added_at": rfc3339(member.added_at),
    })
}

/// A project: `id, team_id, name, slug, created_at`.
pub fn project(project: &crate::store::Project) -> Value {
    json!({
        "id": project.id,
        "team_id": project.team_id,
        "name": project.name,
        "slug": project.slug,
        "created_at": rfc3339(project.created_at),
    })
}

/// An API key object; never contains the key itself.
pub fn api_key(key: &crate::store::ApiKey) -> Value {
    json!({
        "id": key.id,
        "project_id": key.project_id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "created_by": key.created_by,
        "created_at": rfc3339(key.created_at),
        "expires_at": key.expires_at.map(rfc3339),
        "last_used_at": key.last_used_at.map(rfc3339),
        "is_active": key.is_active,
        "deactivated_at": key.deactivated_at.map(rfc3339),
    })
}
