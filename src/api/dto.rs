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
