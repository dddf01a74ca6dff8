//! JSON Schemas of the MCP tools' arguments and results.
//!
//! The schemas describe exactly what the shared validation accepts and what the wire shapes of
//! `dto` produce: the argument limits are the constants the HTTP routes check against, and the
//! result schemas are those of `dto::content_public` and `dto::content_internal` (the Python
//! SDK run of the integration suite validates every tool's real `structuredContent` against
//! its `outputSchema`, as that client does for each call). Clients use them to build calls and
//! to check `structuredContent`, so a schema that promised more than the server keeps would
//! break clients, not just documentation.

use crate::api::extract::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use crate::api::internal::content::MAX_PUBLIC_SLUG_CHARS;
use crate::content::MAX_TITLE_CHARS;
use crate::store::ContentKind;
use serde_json::{json, Map, Value};

/// The pattern every public slug matches (see `slug::is_valid`).
const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn nullable_timestamp() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

/// An object schema with exactly `properties`, of which `required` must be present.
fn object(properties: Map<String, Value>, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn properties(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect()
}

fn limit() -> Value {
    json!({
        "type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT, "default": DEFAULT_PAGE_LIMIT,
        "description": "Items per page."
    })
}

fn offset() -> Value {
    json!({"type": "integer", "minimum": 0, "default": 0, "description": "Items to skip."})
}

fn kind() -> Value {
    json!({"type": "string", "enum": ["changelog", "blog", "kb"]})
}

fn content_id() -> Value {
    json!({"type": "string", "format": "uuid", "description": "The item's id."})
}

fn title() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS})
}

fn content_text() -> Value {
    json!({
        "type": "string",
        "description": "A blog post's Markdown; for a changelog or KB set, JSON text: \
            {\"title\", \"entries\": [{\"category\", \"title\", \"description\"}]} or \
            {\"articles\": [{\"category\", \"title\", \"body\"}]}. At most the \
            server's max_content_bytes (UTF-8 bytes; 262144 by default)."
    })
}

fn period(which: &str) -> Value {
    json!({
        "type": ["string", "null"], "format": "date-time",
        "description": format!("RFC 3339 {which} of the period covered (not for KB sets).")
    })
}

fn slug() -> Value {
    json!({
        "type": "string", "minLength": 1, "maxLength": MAX_PUBLIC_SLUG_CHARS,
        "pattern": SLUG_PATTERN
    })
}

/// Arguments of a list of published items: `limit`, `offset`.
pub fn page_input() -> Value {
    object(
        properties(vec![("limit", limit()), ("offset", offset())]),
        &[],
    )
}

/// Arguments of a read by public slug.
pub fn slug_input() -> Value {
    object(properties(vec![("slug", slug())]), &["slug"])
}

/// Arguments of `list_drafts`.
pub fn drafts_input() -> Value {
    object(
        properties(vec![
            ("type", kind()),
            ("limit", limit()),
            ("offset", offset()),
        ]),
        &[],
    )
}

/// Arguments of `create_content` (the body of the create route).
pub fn create_input() -> Value {
    object(
        properties(vec![
            ("type", kind()),
            ("title", title()),
            ("content", content_text()),
            ("period_start", period("start")),
            ("period_end", period("end")),
        ]),
        &["type", "title", "content"],
    )
}

/// Arguments of `update_content`: the id and the fields of the change route.
pub fn update_input() -> Value {
    object(
        properties(vec![
            ("id", content_id()),
            ("title", title()),
            ("content", content_text()),
            ("period_start", period("start")),
            ("period_end", period("end")),
        ]),
        &["id"],
    )
}

/// Arguments of `publish_content`.
pub fn publish_input() -> Value {
    object(
        properties(vec![("id", content_id()), ("slug", slug())]),
        &["id"],
    )
}

/// Arguments naming one item by id.
pub fn id_input() -> Value {
    object(properties(vec![("id", content_id())]), &["id"])
}

/// The public object of an item of `kind` (`dto::content_public`).
pub fn public_item(kind: ContentKind) -> Value {
    let mut fields = vec![
        ("id", json!({"type": "string"})),
        ("slug", json!({"type": ["string", "null"]})),
        ("title", json!({"type": "string"})),
        ("content", json!({"type": "string"})),
        ("published_at", nullable_timestamp()),
        ("created_at", timestamp()),
    ];
    if kind != ContentKind::Kb {
        fields.push(("period_start", nullable_timestamp()));
        fields.push(("period_end", nullable_timestamp()));
    }
    let required: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    object(properties(fields.clone()), &required)
}

/// The internal content object (`dto::content_internal`).
pub fn internal_item() -> Value {
    let fields = vec![
        ("id", json!({"type": "string"})),
        ("project_id", json!({"type": "string"})),
        ("source", json!({"type": "string"})),
        (
            "output_type",
            json!({"type": "string", "enum": ["public_changelog", "blog_post", "kb_articles"]}),
        ),
        ("type", kind()),
        ("status", json!({"type": "string", "enum": ["completed"]})),
        ("title", json!({"type": "string"})),
        ("content", json!({"type": "string"})),
        ("from_date", nullable_timestamp()),
        ("to_date", nullable_timestamp()),
        ("model", json!({"type": "null"})),
        ("public_slug", json!({"type": ["string", "null"]})),
        ("is_published", json!({"type": "boolean"})),
        ("published_at", nullable_timestamp()),
        ("created_at", timestamp()),
        ("updated_at", timestamp()),
    ];
    let required: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    object(properties(fields.clone()), &required)
}

/// A page of items: `{"items": [...], "total": n}`, `total` counting every page.
pub fn list_of(item: Value) -> Value {
    object(
        properties(vec![
            ("items", json!({"type": "array", "items": item})),
            ("total", json!({"type": "integer", "minimum": 0})),
        ]),
        &["items", "total"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_schema_is_a_closed_object() {
        for schema in [
            page_input(),
            slug_input(),
            drafts_input(),
            create_input(),
            update_input(),
            publish_input(),
            id_input(),
        ] {
            assert_eq!(schema["type"], "object");
            assert_eq!(schema["additionalProperties"], false);
            let names = schema["properties"].as_object().unwrap();
            for required in schema["required"].as_array().unwrap() {
                assert!(names.contains_key(required.as_str().unwrap()), "{schema}");
            }
        }
    }

    #[test]
    fn kb_sets_have_no_period_in_their_public_schema() {
        assert!(public_item(ContentKind::Kb)["properties"]
            .get("period_start")
            .is_none());
        assert!(public_item(ContentKind::Blog)["required"]
            .as_array()
            .unwrap()
            .contains(&json!("period_end")));
    }
}
