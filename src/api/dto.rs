//! Wire shapes: domain types turned into the exact JSON objects of the contract.
//!
//! Most shapes are built with `json!`, whose objects keep their members in name order. The
//! shapes served on the hottest routes (the user objects, public content) are structs that
//! borrow from the domain value and serialise straight into the response body, with no map
//! or string copies in between; their fields are declared in name order so that the bytes
//! are exactly what `json!` would produce (the tests compare the two).

use super::respond::rfc3339;
use crate::store::{AuditEvent, Content, ContentKind, Session, User};
use serde::Serialize;
use serde_json::{json, Value};

/// The internal user object: `id, email, first_name, last_name, is_active, is_verified,
/// is_superuser, created_at` (serialised in name order).
#[derive(Debug, Serialize)]
pub struct UserObject<'a> {
    created_at: String,
    email: &'a str,
    first_name: Option<&'a str>,
    id: &'a str,
    is_active: bool,
    is_superuser: bool,
    is_verified: bool,
    last_name: Option<&'a str>,
}

/// The internal user object of `user`.
pub fn user(user: &User) -> UserObject<'_> {
    UserObject {
        created_at: rfc3339(user.created_at),
        email: &user.email,
        first_name: user.first_name.as_deref(),
        id: &user.id,
        is_active: user.is_active,
        is_superuser: user.is_superuser,
        is_verified: user.is_verified,
        last_name: user.last_name.as_deref(),
    }
}

/// The public `/api/v1/me` object: exactly six fields (serialised in name order).
#[derive(Debug, Serialize)]
pub struct PublicMe<'a> {
    email: &'a str,
    first_name: Option<&'a str>,
    id: &'a str,
    is_active: bool,
    is_verified: bool,
    last_name: Option<&'a str>,
}

/// The public `/api/v1/me` object of `user`.
pub fn public_me(user: &User) -> PublicMe<'_> {
    PublicMe {
        email: &user.email,
        first_name: user.first_name.as_deref(),
        id: &user.id,
        is_active: user.is_active,
        is_verified: user.is_verified,
        last_name: user.last_name.as_deref(),
    }
}

/// A session as listed to its owner; `current` marks the one making the request.
pub fn session(session: &Session, current_id: &str) -> Value {
    json!({
        "id": session.id,
        "created_at": rfc3339(session.created_at),
        "last_seen_at": rfc3339(session.last_seen_at),
        "user_agent": session.user_agent,
        "ip": session.ip,
        "current": session.id.as_str() == current_id,
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
pub fn team(team: &crate::store::Team, role: crate::roles::Role) -> Value {
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
        // A rolled key ends with its overlap when that comes before its own expiry.
        "expires_at": key.ends_at().map(rfc3339),
        "last_used_at": key.last_used_at.map(rfc3339),
        "is_active": key.is_active,
        "deactivated_at": key.deactivated_at.map(rfc3339),
        // Why it is off when not by hand (`leak_reported`), and where the leak was found.
        "deactivated_reason": key.deactivated_reason,
        "leak_report_url": key.leak_report_url,
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

/// The public content object (serialised in name order); KB sets have no period fields.
#[derive(Debug, Serialize)]
pub struct PublicContent<'a> {
    content: &'a str,
    created_at: String,
    id: &'a str,
    /// `None` leaves the member out (KB sets); `Some(None)` is `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    period_end: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    period_start: Option<Option<String>>,
    published_at: Option<String>,
    slug: Option<&'a str>,
    title: &'a str,
}

/// The public content object of `item`.
pub fn content_public(item: &Content) -> PublicContent<'_> {
    let period = |at: Option<i64>| (item.kind != ContentKind::Kb).then(|| at.map(rfc3339));
    PublicContent {
        content: &item.body,
        created_at: rfc3339(item.created_at),
        id: &item.id,
        period_end: period(item.period_end),
        period_start: period(item.period_start),
        published_at: item.published_at.map(rfc3339),
        slug: item.public_slug.as_deref(),
        title: &item.title,
    }
}

/// An audit event in the contract's shape; see [`crate::audit::event_json`].
pub fn audit_event(stored: &AuditEvent) -> Value {
    crate::audit::event_json(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_user(first_name: Option<&str>) -> User {
        User {
            id: crate::ids::UserId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").unwrap(),
            email: "a\"b@example.com".into(),
            password_hash: "secret-hash".into(),
            first_name: first_name.map(str::to_string),
            last_name: Some("Łukasz <x>".into()),
            is_active: true,
            is_verified: false,
            is_superuser: true,
            created_at: 1_743_433_200,
        }
    }

    fn bytes(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn user_objects_match_the_json_macro_byte_for_byte() {
        for first_name in [None, Some("Ada")] {
            let user = a_user(first_name);
            let expected = json!({
                "id": user.id,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "is_active": user.is_active,
                "is_verified": user.is_verified,
                "is_superuser": user.is_superuser,
                "created_at": rfc3339(user.created_at),
            });
            assert_eq!(bytes(&super::user(&user)), expected.to_string());
            let expected = json!({
                "id": user.id,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "is_active": user.is_active,
                "is_verified": user.is_verified,
            });
            assert_eq!(bytes(&public_me(&user)), expected.to_string());
            assert!(!bytes(&super::user(&user)).contains("secret-hash"));
        }
    }

    #[test]
    fn public_content_matches_the_json_macro_byte_for_byte() {
        for kind in [ContentKind::Changelog, ContentKind::Blog, ContentKind::Kb] {
            for (published_at, period) in [(None, None), (Some(1_743_433_200), Some(86_400))] {
                let item = Content {
                    id: crate::ids::ContentId::new_v4(),
                    project_id: crate::ids::ProjectId::new_v4(),
                    project_name: "P".into(),
                    kind,
                    title: "T \"quoted\"".into(),
                    body: "{\"a\": [1, 2]}\n\u{1}".into(),
                    period_start: period,
                    period_end: period.map(|p| p + 1),
                    public_slug: published_at.map(|_| "v1-0".to_string()),
                    is_published: published_at.is_some(),
                    published_at,
                    created_at: 1_700_000_000,
                    updated_at: 1_700_000_001,
                };
                let mut expected = json!({
                    "id": item.id,
                    "slug": item.public_slug,
                    "title": item.title,
                    "content": item.body,
                    "published_at": optional_time(item.published_at),
                    "created_at": rfc3339(item.created_at),
                });
                if kind != ContentKind::Kb {
                    let map = expected.as_object_mut().unwrap();
                    map.insert("period_start".into(), optional_time(item.period_start));
                    map.insert("period_end".into(), optional_time(item.period_end));
                }
                assert_eq!(bytes(&content_public(&item)), expected.to_string());
            }
        }
    }
}
