//! Wire shapes: domain types turned into the exact JSON objects of the contract.

use super::respond::rfc3339;
use crate::store::{Content, ContentKind, Session, User};
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

fn optional_time(at: Option<i64>) -> Value {
    at.map_or(Value::Null, |at| Value::from(rfc3339(at)))
}

/// The `output_type` the Shipstar docs give each kind of content.
fn output_type(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Changelog => "public_changelog",
        ContentKind::Blog => "blog_post",
        ContentKind::Kb => "kb_articles",
    }
}

/// The internal content object (the docs' content-poll shape), `content` verbatim.
pub fn content_internal(item: &Content) -> Value {
    json!({
        "id": item.id,
        "project_id": item.project_id,
        "source": item.project_name,
        "output_type": output_type(item.kind),
        "type": item.kind.as_str(),
        "status": "completed",
        "title": item.title,
        "content": item.body,
        "from_date": optional_time(item.period_start),
        "to_date": optional_time(item.period_end),
        "model": Value::Null,
        "public_slug": item.public_slug,
        "is_published": item.is_published,
        "published_at": optional_time(item.published_at),
        "created_at": rfc3339(item.created_at),
        "updated_at": rfc3339(item.updated_at),
    })
}

/// The public content object; KB sets have no period fields.
pub fn content_public(item: &Content) -> Value {
    let mut object = json!({
        "id": item.id,
        "slug": item.public_slug,
        "title": item.title,
        "content": item.body,
        "published_at": optional_time(item.published_at),
        "created_at": rfc3339(item.created_at),
    });
    if item.kind != ContentKind::Kb {
        if let Value::Object(map) = &mut object {
            map.insert("period_start".into(), optional_time(item.period_start));
            map.insert("period_end".into(), optional_time(item.period_end));
        }
    }
    object
}
