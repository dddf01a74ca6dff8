//! What content may contain, and how it is shown in feeds ([`feed`]) and public pages
//! ([`pages`], with Markdown through [`markdown`]). Knows nothing of HTTP or SQL.
//!
//! A changelog's and a KB set's `content` is JSON *text* (a string holding JSON), as in the
//! Shipstar docs; it is checked against its shape here and stored verbatim, so a client reads
//! back exactly the bytes it wrote. A blog post's `content` is Markdown and only its length is
//! limited.
//!
//! The whole `content` is limited in UTF-8 bytes (`max_content_bytes`), not characters: what
//! one item costs to store, list and feed grows with its bytes, so the limit bounds that cost
//! whatever the script or escaping.

pub mod feed;
pub mod markdown;
pub mod pages;

use crate::error::FieldError;
use crate::store::ContentKind;
use serde_json::{Map, Value};

/// Longest public slug of a published item, as the public routes accept.
pub const MAX_PUBLIC_SLUG_CHARS: usize = 200;
/// Longest item title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Most entries in a changelog, or articles in a KB set.
pub const MAX_ENTRIES: usize = 500;
/// Longest category of an entry or article.
pub const MAX_CATEGORY_CHARS: usize = 100;
/// Longest title of an entry or article.
pub const MAX_ENTRY_TITLE_CHARS: usize = 300;
/// Longest changelog entry description.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// One changelog entry or KB article, as read from `content`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Category, e.g. "Added", "Fixed", "Getting started".
    pub category: String,
    /// Title.
    pub title: String,
    /// The description (changelog) or body (KB article).
    pub text: String,
}

/// Checks `content` for an item of `kind`; each problem is located under `["body",
/// "content", ...]` down to the offending field (e.g. `["body", "content", "entries", 2,
/// "title"]`). Content longer than `max_bytes` UTF-8 bytes is one `string_too_long` problem
/// at `["body", "content"]`, reported without parsing it.
pub fn validate(kind: ContentKind, content: &str, max_bytes: usize) -> Vec<FieldError> {
    let mut problems = Vec::new();
    if content.len() > max_bytes {
        problems.push(too_long(max_bytes));
        return problems;
    }
    if kind == ContentKind::Blog {
        if content.trim().is_empty() {
            problems.push(FieldError::new(
                &["body", "content"],
                "string_too_short",
                "String should have at least 1 character",
            ));
        }
        return problems;
    }
    let parsed: Value = match serde_json::from_str(content) {
        Ok(value) => value,
        Err(err) => {
            problems.push(FieldError::new(
                &["body", "content"],
                "json_invalid",
                format!(
                    "The content of a {} must be JSON text: {err}",
                    kind.as_str()
                ),
            ));
            return problems;
        }
    };
    let Value::Object(root) = parsed else {
        problems.push(FieldError::new(
            &["body", "content"],
            "value_error",
            "The content must be a JSON object",
        ));
        return problems;
    };
    let (list_name, text_name) = list_fields(kind);
    if kind == ContentKind::Changelog {
        check_string(&root, "title", 1, MAX_TITLE_CHARS, &[], &mut problems);
    }
    let base = [
        Value::from("body"),
        Value::from("content"),
        Value::from(list_name),
    ];
    match root.get(list_name) {
        None => problems.push(located(&base, "missing", "Field required")),
        Some(Value::Array(list)) => {
            if list.len() > MAX_ENTRIES {
                problems.push(located(
                    &base,
                    "too_long",
                    format!("List should have at most {MAX_ENTRIES} items"),
                ));
            }
            for (index, item) in list.iter().enumerate().take(MAX_ENTRIES) {
                let mut at = base.to_vec();
                at.push(Value::from(index));
                let Value::Object(fields) = item else {
                    problems.push(located(&at, "value_error", "Each item must be an object"));
                    continue;
                };
                check_string(
                    fields,
                    "category",
                    1,
                    MAX_CATEGORY_CHARS,
                    &at,
                    &mut problems,
                );
                check_string(
                    fields,
                    "title",
                    1,
                    MAX_ENTRY_TITLE_CHARS,
                    &at,
                    &mut problems,
                );
                // An article's body is bounded by the whole content's limit (a character is
                // at least one byte, so `max_bytes` characters never trips first).
                let text_max = if kind == ContentKind::Kb {
                    max_bytes
                } else {
                    MAX_DESCRIPTION_CHARS
                };
                check_string(fields, text_name, 0, text_max, &at, &mut problems);
            }
        }
        Some(_) => problems.push(located(
            &base,
            "value_error",
            "Input should be a valid list",
        )),
    }
    problems
}

/// The 422 problem for content over `max_bytes`.
pub fn too_long(max_bytes: usize) -> FieldError {
    FieldError::new(
        &["body", "content"],
        "string_too_long",
        format!("String should have at most {max_bytes} bytes"),
    )
}

/// The entries of a changelog or the articles of a KB set (empty for a blog post or for
/// content that does not have the shape, which validation keeps out of the database).
pub fn entries(kind: ContentKind, content: &str) -> Vec<Entry> {
    if kind == ContentKind::Blog {
        return Vec::new();
    }
    let (list_name, text_name) = list_fields(kind);
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(content) else {
        return Vec::new();
    };
    let text_of = |fields: &Map<String, Value>, name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    root.get(list_name)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_object)
                .map(|fields| Entry {
                    category: text_of(fields, "category"),
                    title: text_of(fields, "title"),
                    text: text_of(fields, text_name),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `title` inside a changelog's JSON text (`None` when the text has none, which
/// validation keeps out of the database).
pub fn changelog_title(content: &str) -> Option<String> {
    match serde_json::from_str::<Value>(content) {
        Ok(Value::Object(root)) => root.get("title").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

/// The list field and the per-item text field of a structured kind.
fn list_fields(kind: ContentKind) -> (&'static str, &'static str) {
    match kind {
        ContentKind::Kb => ("articles", "body"),
        _ => ("entries", "description"),
    }
}

fn located(loc: &[Value], kind: &'static str, msg: impl Into<String>) -> FieldError {
    FieldError {
        loc: loc.to_vec(),
        msg: msg.into(),
        kind,
    }
}

/// Records a problem unless `fields[name]` is a string of `min..=max` characters. `at` is the
/// location of `fields` (empty for the root of `content`).
fn check_string(
    fields: &Map<String, Value>,
    name: &str,
    min: usize,
    max: usize,
    at: &[Value],
    problems: &mut Vec<FieldError>,
) {
    let mut loc = if at.is_empty() {
        vec![Value::from("body"), Value::from("content")]
    } else {
        at.to_vec()
    };
    loc.push(Value::from(name));
    match fields.get(name) {
        None => problems.push(located(&loc, "missing", "Field required")),
        Some(Value::String(text)) => {
            let chars = text.chars().take(max.saturating_add(1)).count();
            if chars < min {
                problems.push(located(
                    &loc,
                    "string_too_short",
                    format!("String should have at least {min} characters"),
                ));
            } else if chars > max {
                problems.push(located(
                    &loc,
                    "string_too_long",
                    format!("String should have at most {max} characters"),
                ));
            }
        }
        Some(_) => problems.push(located(
            &loc,
            "string_type",
            "Input should be a valid string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The content limit the tests run with (the default of `max_content_bytes`).
    const MAX_BYTES: usize = 262_144;

    fn locs(kind: ContentKind, content: &str) -> Vec<(String, &'static str)> {
        validate(kind, content, MAX_BYTES)
            .into_iter()
            .map(|p| (Value::Array(p.loc).to_string(), p.kind))
            .collect()
    }

    #[test]
    fn a_well_formed_changelog_passes_and_its_entries_are_read() {
        let text = json!({"title": "March", "entries": [
            {"category": "Added", "title": "Dark mode", "description": "At last"},
            {"category": "Fixed", "title": "Crash", "description": ""}
        ]})
        .to_string();
        assert!(validate(ContentKind::Changelog, &text, MAX_BYTES).is_empty());
        let entries = entries(ContentKind::Changelog, &text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].title, "Dark mode");
        assert_eq!(entries[1].category, "Fixed");
        assert_eq!(changelog_title(&text).as_deref(), Some("March"));
        assert_eq!(changelog_title("not json"), None);
        assert_eq!(changelog_title(r#"{"title": 5}"#), None);
    }

    #[test]
    fn changelog_problems_point_at_the_field() {
        let text = json!({"entries": [
            {"category": "Added", "title": "", "description": "x"},
            {"category": 5, "description": "x"},
            "not an object"
        ]})
        .to_string();
        assert_eq!(
            locs(ContentKind::Changelog, &text),
            [
                (r#"["body","content","title"]"#.into(), "missing"),
                (
                    r#"["body","content","entries",0,"title"]"#.into(),
                    "string_too_short"
                ),
                (
                    r#"["body","content","entries",1,"category"]"#.into(),
                    "string_type"
                ),
                (
                    r#"["body","content","entries",1,"title"]"#.into(),
                    "missing"
                ),
                (r#"["body","content","entries",2]"#.into(), "value_error"),
            ]
        );
    }

    #[test]
    fn not_json_and_not_an_object_are_rejected() {
        assert_eq!(
            locs(ContentKind::Kb, "# Markdown"),
            [(r#"["body","content"]"#.into(), "json_invalid")]
        );
        assert_eq!(
            locs(ContentKind::Kb, "[1]"),
            [(r#"["body","content"]"#.into(), "value_error")]
        );
        assert_eq!(
            locs(ContentKind::Kb, r#"{"articles": {}}"#),
            [(r#"["body","content","articles"]"#.into(), "value_error")]
        );
    }

    #[test]
    fn kb_articles_need_a_body() {
        let text = json!({"articles": [{"category": "Start", "title": "Install"}]}).to_string();
        assert_eq!(
            locs(ContentKind::Kb, &text),
            [(
                r#"["body","content","articles",0,"body"]"#.into(),
                "missing"
            )]
        );
        let ok = json!({"articles": [{"category": "Start", "title": "Install", "body": "Run"}]});
        assert_eq!(entries(ContentKind::Kb, &ok.to_string())[0].text, "Run");
    }

    #[test]
    fn blog_posts_are_any_non_blank_text_within_the_limit() {
        assert!(validate(ContentKind::Blog, "# Hello <b>&</b> 🎉", MAX_BYTES).is_empty());
        assert_eq!(locs(ContentKind::Blog, "  \n")[0].1, "string_too_short");
        let long = "x".repeat(MAX_BYTES + 1);
        assert_eq!(locs(ContentKind::Blog, &long)[0].1, "string_too_long");
        assert!(validate(ContentKind::Blog, &long[1..], MAX_BYTES).is_empty());
        assert!(entries(ContentKind::Blog, "text").is_empty());
    }

    #[test]
    fn the_limit_counts_bytes_not_characters() {
        // 4 characters of 4 bytes each: within a 4-character limit, over a 15-byte one.
        let text = "🎉🎉🎉🎉";
        assert!(validate(ContentKind::Blog, text, 16).is_empty());
        let problems = validate(ContentKind::Blog, text, 15);
        assert_eq!(problems, [too_long(15)]);
        assert_eq!(problems[0].msg, "String should have at most 15 bytes");
        // Over the limit, the shape is not looked at: one problem, not a parse error too.
        assert_eq!(
            locs(ContentKind::Changelog, &"{".repeat(MAX_BYTES + 1)),
            [(r#"["body","content"]"#.into(), "string_too_long")]
        );
    }

    #[test]
    fn too_many_entries_is_one_problem() {
        let entry = json!({"category": "a", "title": "b", "description": "c"});
        let text = json!({"title": "t", "entries": vec![entry; MAX_ENTRIES + 1]}).to_string();
        assert_eq!(
            locs(ContentKind::Changelog, &text),
            [(r#"["body","content","entries"]"#.into(), "too_long")]
        );
    }
}
