//! Integration tests: authoring content (changelogs, blog posts, KB article sets).
//!
//! Contract: `http-api.md` ("Internal API: content", "Conventions for every endpoint") and
//! `auth.md` ("Authorization summary"). Where the contract is silent, the tests pin the
//! choices the implementation documents: `content` locations such as
//! `["body", "content", "entries", 2, "title"]`, the length limits of `src/content/mod.rs`,
//! slugs derived from the title, an unpublished item keeping its slug reserved.
//!
//! The helpers here (a world with a team, a project and content builders) are shared with
//! `public_content.rs`.

use crate::fixture::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const PASSWORD: &str = "a-long-enough-password";
/// The public base URL every server here is given; feed links must start with it.
pub const BASE_URL: &str = "https://updates.example.com";
pub const INVALID_KEY: &str = "Invalid or expired API token.";
pub const OTHER_PROJECT: &str = "This resource belongs to another project";
pub const OTHER_TEAM: &str = "This resource belongs to another team";
const CONTENT_NOT_FOUND: &str = "Content not found";
/// The default of `max_content_bytes`.
pub const MAX_CONTENT_BYTES: usize = 262_144;

/// The exact 422 detail for content over `max_content_bytes` at its default.
pub fn content_too_long() -> Value {
    json!([{
        "loc": ["body", "content"],
        "msg": "String should have at most 262144 bytes",
        "type": "string_too_long",
    }])
}
const PROJECT_NOT_FOUND: &str = "Project not found";

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn rfc3339(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// Parses an RFC 3339 UTC timestamp with a `Z` suffix (panics otherwise).
#[track_caller]
pub fn parse_ts(value: &Value) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {value}"));
    assert!(text.ends_with('Z'), "{text:?} has no Z suffix");
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|err| panic!("{text:?} is not RFC 3339: {err}"))
        .unix_timestamp()
}

/// `value[name]` as a `&str` (panics otherwise).
#[track_caller]
pub fn s<'v>(value: &'v Value, name: &str) -> &'v str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} is not a string in {value}"))
}

/// Whether `text` is a lower-case hyphenated UUID v4.
pub fn is_uuid_v4(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && text
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && groups[2].starts_with('4')
        && matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b')
}

/// A changelog's `content`: JSON text with a title and `(category, title, description)`
/// entries.
pub fn changelog_text(title: &str, entries: &[(&str, &str, &str)]) -> String {
    let entries: Vec<Value> = entries
        .iter()
        .map(|(category, title, description)| {
            json!({"category": category, "title": title, "description": description})
        })
        .collect();
    json!({"title": title, "entries": entries}).to_string()
}

/// A KB set's `content`: JSON text with `(category, title, body)` articles.
pub fn kb_text(articles: &[(&str, &str, &str)]) -> String {
    let articles: Vec<Value> = articles
        .iter()
        .map(|(category, title, body)| json!({"category": category, "title": title, "body": body}))
        .collect();
    json!({ "articles": articles }).to_string()
}

/// Valid content for an item of `kind`.
pub fn sample_content(kind: &str) -> String {
    match kind {
        "changelog" => changelog_text(
            "Release",
            &[
                ("Added", "Dark mode", "At last"),
                ("Fixed", "Crash on start", ""),
            ],
        ),
        "kb" => kb_text(&[("Getting started", "Install", "Run the installer.")]),
        _ => "# Hello\n\nA post.".to_string(),
    }
}

pub fn project_content_path(project_id: &str) -> String {
    format!("/api/internal/projects/{project_id}/content")
}

pub fn item_path(id: &str) -> String {
    format!("/api/internal/content/{id}")
}

pub fn read_path(id: &str) -> String {
    format!("/api/internal/sources/content/{id}")
}

/// A server (rate limits off, a fixed public base URL) with a team owned by a regular user
/// and one project in it.
pub struct World {
    pub server: TestServer,
    pub admin: String,
    pub owner: String,
    pub team_id: String,
    pub project_id: String,
    pub project_slug: String,
    pub project_name: String,
}

pub fn world() -> World {
    world_with(Options::default())
}

pub fn world_with(options: Options) -> World {
    let server = TestServer::start_with(options.env("SHIPSTAR_BASE_URL", BASE_URL));
    let admin = server.admin_token();
    let (_, owner) = server.create_user(&admin, "owner@example.com", PASSWORD);
    let team = create_team(&server, &owner, json!({"name": "Content Team"}));
    let team_id = s(&team, "id").to_string();
    let mut w = World {
        server,
        admin,
        owner,
        team_id,
        project_id: String::new(),
        project_slug: String::new(),
        project_name: "Web App".into(),
    };
    let (project_id, project_slug) = w.new_project("Web App");
    w.project_id = project_id;
    w.project_slug = project_slug;
    w
}

impl World {
    /// Another project in the team: (id, slug).
    pub fn new_project(&self, name: &str) -> (String, String) {
        let resp = self
            .server
            .post(&format!("/api/internal/teams/{}/projects", self.team_id))
            .bearer(&self.owner)
            .json(&json!({ "name": name }))
            .send();
        resp.expect_status(201);
        let project = resp.json();
        (s(&project, "id").into(), s(&project, "slug").into())
    }

    /// A user with a team and a project of their own: (token, project id, project slug).
    pub fn outsider(&self, email: &str) -> (String, String, String) {
        let (_, token) = self.server.create_user(&self.admin, email, PASSWORD);
        let team = create_team(
            &self.server,
            &token,
            json!({"name": format!("Team of {email}")}),
        );
        let project = create_project(
            &self.server,
            &token,
            s(&team, "id"),
            json!({"name": format!("Project of {email}")}),
        );
        (token, s(&project, "id").into(), s(&project, "slug").into())
    }

    /// A new user added to the team with `role`; returns their token.
    pub fn member(&self, email: &str, role: &str) -> String {
        let (_, token) = self.server.create_user(&self.admin, email, PASSWORD);
        self.server
            .post(&format!("/api/internal/teams/{}/members", self.team_id))
            .bearer(&self.owner)
            .json(&json!({"email": email, "role": role}))
            .send()
            .expect_status(201);
        token
    }

    /// An API key of `project_id`, made by the owner: (key id, raw key).
    pub fn key(&self, project_id: &str) -> (String, String) {
        self.key_as(&self.owner, project_id)
    }

    pub fn key_as(&self, token: &str, project_id: &str) -> (String, String) {
        let resp = self
            .server
            .post(&format!("/api/internal/projects/{project_id}/api-keys"))
            .bearer(token)
            .json(&json!({"name": "CI/CD Pipeline"}))
            .send();
        resp.expect_status(201);
        let key = resp.json();
        (s(&key, "id").into(), s(&key, "key").into())
    }

    /// `POST .../projects/{project_id}/content` as `token` (a JWT or a key).
    pub fn create_in(&self, token: &str, project_id: &str, body: &Value) -> Resp {
        self.server
            .post(&project_content_path(project_id))
            .bearer(token)
            .json(body)
            .send()
    }

    /// `POST` in the world's project as the owner.
    pub fn create(&self, body: &Value) -> Resp {
        self.create_in(&self.owner, &self.project_id, body)
    }

    /// A new draft of `kind` titled `title` in the world's project, with sample content.
    pub fn draft(&self, kind: &str, title: &str) -> Value {
        self.draft_in(&self.project_id, kind, title)
    }

    pub fn draft_in(&self, project_id: &str, kind: &str, title: &str) -> Value {
        let resp = self.create_in(
            &self.owner,
            project_id,
            &json!({"type": kind, "title": title, "content": sample_content(kind)}),
        );
        resp.expect_status(201);
        resp.json()
    }

    pub fn get(&self, token: &str, id: &str) -> Resp {
        self.server.get(&read_path(id)).bearer(token).send()
    }

    pub fn patch(&self, token: &str, id: &str, body: &Value) -> Resp {
        self.server
            .patch(&item_path(id))
            .bearer(token)
            .json(body)
            .send()
    }

    /// `POST .../publish` with `body` (`None`: no body at all).
    pub fn publish_as(&self, token: &str, id: &str, body: Option<&Value>) -> Resp {
        let req = self
            .server
            .post(&format!("{}/publish", item_path(id)))
            .bearer(token);
        match body {
            Some(body) => req.json(body).send(),
            None => req.send(),
        }
    }

    /// Publishes `id` as the owner (under `slug` if given) and returns the item.
    pub fn publish(&self, id: &str, slug: Option<&str>) -> Value {
        let body = slug.map(|slug| json!({ "slug": slug }));
        let resp = self.publish_as(&self.owner, id, body.as_ref());
        resp.expect_status(200);
        resp.json()
    }

    pub fn unpublish_as(&self, token: &str, id: &str) -> Resp {
        self.server
            .post(&format!("{}/unpublish", item_path(id)))
            .bearer(token)
            .send()
    }

    pub fn unpublish(&self, id: &str) -> Value {
        let resp = self.unpublish_as(&self.owner, id);
        resp.expect_status(200);
        resp.json()
    }

    pub fn delete(&self, token: &str, id: &str) -> Resp {
        self.server.delete(&item_path(id)).bearer(token).send()
    }

    pub fn list(&self, token: &str, query: &str) -> Resp {
        self.server
            .get(&format!(
                "{}{query}",
                project_content_path(&self.project_id)
            ))
            .bearer(token)
            .send()
    }

    /// Sets a stored timestamp column of item `id` directly in the database, so that tests
    /// of "newest first" do not depend on two requests falling into different seconds.
    pub fn set_time(&self, id: &str, column: &str, unix_secs: i64) {
        assert!(matches!(column, "created_at" | "published_at"));
        let changed = self.server.db().execute(&format!(
            "UPDATE content SET {column} = {unix_secs} WHERE id = '{id}'"
        ));
        assert_eq!(changed, 1);
    }
}

/// The fields of the internal content object, sorted.
pub fn internal_fields() -> Vec<String> {
    sorted(&[
        "id",
        "project_id",
        "source",
        "output_type",
        "type",
        "status",
        "title",
        "content",
        "from_date",
        "to_date",
        "model",
        "public_slug",
        "is_published",
        "published_at",
        "created_at",
        "updated_at",
    ])
}

/// Asserts a response carries no CORS header at all.
#[track_caller]
pub fn assert_no_cors(resp: &Resp, what: &str) {
    for (name, value) in &resp.headers {
        assert!(
            !name.to_ascii_lowercase().starts_with("access-control-"),
            "{what}: unexpected {name}: {value}"
        );
    }
}

/// The ids of a JSON array of content objects, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| s(item, "id").to_string())
        .collect()
}

/// `X-Total-Count` as a number.
#[track_caller]
pub fn total_count(resp: &Resp) -> i64 {
    resp.header("X-Total-Count")
        .unwrap_or_else(|| panic!("no X-Total-Count: {:?}", resp.headers))
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Creating
// ---------------------------------------------------------------------------------------------

#[test]
fn creating_each_type_answers_201_with_the_whole_internal_object() {
    let w = world();
    let cases = [
        ("changelog", "public_changelog"),
        ("blog", "blog_post"),
        ("kb", "kb_articles"),
    ];
    for (kind, output_type) in cases {
        let before = now();
        let mut body = json!({
            "type": kind,
            "title": format!("March {kind}"),
            "content": sample_content(kind),
            "unknown_field": "ignored",
        });
        if kind != "kb" {
            body["period_start"] = json!("2025-03-01T00:00:00Z");
            // Any offset is accepted and answered in UTC.
            body["period_end"] = json!("2025-03-31T17:00:00+02:00");
        }
        let resp = w.create(&body);
        resp.expect_status(201);
        assert_eq!(resp.header("Content-Type"), Some("application/json"));
        assert_no_cors(&resp, "create");
        let item = resp.json();
        assert_eq!(fields_of(&item), internal_fields(), "{item}");
        assert!(is_uuid_v4(s(&item, "id")), "{item}");
        assert_eq!(item["project_id"], json!(w.project_id));
        assert_eq!(item["source"], json!(w.project_name));
        assert_eq!(item["output_type"], json!(output_type));
        assert_eq!(item["type"], json!(kind));
        assert_eq!(item["status"], json!("completed"));
        assert_eq!(item["title"], json!(format!("March {kind}")));
        assert_eq!(item["content"], json!(sample_content(kind)));
        assert_eq!(item["model"], Value::Null);
        assert_eq!(item["public_slug"], Value::Null);
        assert_eq!(item["is_published"], json!(false));
        assert_eq!(item["published_at"], Value::Null);
        if kind == "kb" {
            assert_eq!(item["from_date"], Value::Null);
            assert_eq!(item["to_date"], Value::Null);
        } else {
            assert_eq!(item["from_date"], json!("2025-03-01T00:00:00Z"));
            assert_eq!(item["to_date"], json!("2025-03-31T15:00:00Z"));
        }
        let created = parse_ts(&item["created_at"]);
        assert!(before <= created && created <= now(), "{item}");
        assert_eq!(item["updated_at"], item["created_at"]);
        // Reading it back gives the same object.
        let resp = w.get(&w.owner, s(&item, "id"));
        resp.expect_status(200);
        assert_eq!(resp.json(), item);
        assert_no_cors(&resp, "read");
    }
}

#[test]
fn a_period_is_optional_and_may_be_null_or_open_ended() {
    let w = world();
    let resp = w.create(&json!({
        "type": "changelog", "title": "Open", "content": sample_content("changelog"),
        "period_start": "2025-01-01T00:00:00Z", "period_end": null,
    }));
    resp.expect_status(201);
    assert_eq!(resp.json()["from_date"], json!("2025-01-01T00:00:00Z"));
    assert_eq!(resp.json()["to_date"], Value::Null);
    // A period of one instant is allowed.
    let resp = w.create(&json!({
        "type": "blog", "title": "Instant", "content": "x",
        "period_start": "2025-01-01T00:00:00Z", "period_end": "2025-01-01T00:00:00Z",
    }));
    resp.expect_status(201);
    // A KB set may send null bounds.
    let resp = w.create(&json!({
        "type": "kb", "title": "KB", "content": sample_content("kb"),
        "period_start": null, "period_end": null,
    }));
    resp.expect_status(201);
    assert_eq!(resp.json()["from_date"], Value::Null);
}

#[test]
fn create_lists_every_missing_or_malformed_field() {
    let w = world();
    expect_problems(
        &w.create(&json!({})),
        &[
            (json!(["body", "type"]), "missing"),
            (json!(["body", "title"]), "missing"),
            (json!(["body", "content"]), "missing"),
        ],
    );
    expect_problems(
        &w.create(&json!({"type": "news", "title": "", "content": 5,
                          "period_start": "yesterday", "period_end": 12})),
        &[
            (json!(["body", "type"]), "value_error"),
            (json!(["body", "title"]), "string_too_short"),
            (json!(["body", "content"]), "string_type"),
            (json!(["body", "period_start"]), "datetime_parsing"),
            (json!(["body", "period_end"]), "datetime_parsing"),
        ],
    );
    expect_problems(
        &w.create(&json!({"type": 1, "title": null, "content": "x"})),
        &[
            (json!(["body", "type"]), "value_error"),
            (json!(["body", "title"]), "string_type"),
        ],
    );
    // Null where a string is required is a 422, whatever else is right.
    expect_problems(
        &w.create(&json!({"type": "blog", "title": null, "content": null})),
        &[
            (json!(["body", "title"]), "string_type"),
            (json!(["body", "content"]), "string_type"),
        ],
    );
    expect_problems(
        &w.create(&json!({"type": null, "title": "t", "content": "x"})),
        &[(json!(["body", "type"]), "value_error")],
    );
    // Types are matched exactly.
    expect_problems(
        &w.create(&json!({"type": "Changelog", "title": "t", "content": "x"})),
        &[(json!(["body", "type"]), "value_error")],
    );
    // Not JSON, not an object, not JSON at all by content type.
    let resp = w
        .server
        .post(&project_content_path(&w.project_id))
        .bearer(&w.owner)
        .header("Content-Type", "application/json")
        .body(b"{\"type\": ".to_vec())
        .send();
    expect_problems(&resp, &[(json!(["body"]), "json_invalid")]);
    expect_problems(
        &w.create(&json!(["changelog"])),
        &[(json!(["body"]), "value_error")],
    );
    let resp = w
        .server
        .post(&project_content_path(&w.project_id))
        .bearer(&w.owner)
        .form(&[("type", "blog"), ("title", "t"), ("content", "x")])
        .send();
    resp.expect_detail(415, json!("This route takes application/json."));
    // Nothing was stored.
    let resp = w.list(&w.owner, "");
    resp.expect_status(200);
    assert_eq!(resp.json(), json!([]));
    assert_eq!(total_count(&resp), 0);
}

#[test]
fn max_content_bytes_is_enforced_on_create_and_update_and_a_refusal_changes_nothing() {
    let w = world_with(Options::default().env("SHIPSTAR_MAX_CONTENT_BYTES", "2048"));
    let too_long = json!([{
        "loc": ["body", "content"],
        "msg": "String should have at most 2048 bytes",
        "type": "string_too_long",
    }]);
    // Exactly at the limit: stored whole.
    let at_limit = "a".repeat(2046) + "é";
    let resp = w.create(&json!({"type": "blog", "title": "Full", "content": at_limit}));
    resp.expect_status(201);
    let item = resp.json();
    assert_eq!(item["content"], json!(at_limit));
    // One byte over, on create: for every type, and nothing is stored.
    for kind in ["blog", "changelog", "kb"] {
        let body = json!({"type": kind, "title": "Over", "content": "b".repeat(2049)});
        w.create(&body).expect_detail(422, too_long.clone());
    }
    let listed = w.list(&w.owner, "");
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
    // One byte over, on update (a published item too): refused, the item unchanged.
    let published = w.publish(s(&item, "id"), Some("full"));
    let over = at_limit.clone() + "c";
    w.patch(
        &w.owner,
        s(&item, "id"),
        &json!({"title": "New", "content": over}),
    )
    .expect_detail(422, too_long.clone());
    let read = w.get(&w.owner, s(&item, "id"));
    read.expect_status(200);
    assert_eq!(read.json(), published);
    // An API key meets the same limit.
    let (_, key) = w.key(&w.project_id);
    w.create_in(
        &key,
        &w.project_id,
        &json!({"type": "blog", "title": "Key", "content": "k".repeat(2049)}),
    )
    .expect_detail(422, too_long);
}

#[test]
fn titles_are_limited_in_characters_and_content_in_bytes() {
    let w = world();
    // 200 characters (800 bytes) is the most a title may have.
    let longest = "🎉".repeat(200);
    let resp = w.create(&json!({"type": "blog", "title": longest, "content": "x"}));
    resp.expect_status(201);
    assert_eq!(resp.json()["title"], json!(longest));
    expect_problems(
        &w.create(&json!({"type": "blog", "title": "t".repeat(201), "content": "x"})),
        &[(json!(["body", "title"]), "string_too_long")],
    );
    // Content: `max_content_bytes` (262144 by default) UTF-8 bytes at most, for every type;
    // the limit counts bytes, so 131072 two-byte characters are the most.
    let content = "é".repeat(MAX_CONTENT_BYTES / 2);
    let resp = w.create(&json!({"type": "blog", "title": "long", "content": content}));
    resp.expect_status(201);
    assert_eq!(resp.json()["content"], json!(content));
    for (kind, content) in [
        ("blog", "é".repeat(MAX_CONTENT_BYTES / 2) + "x"),
        ("changelog", "x".repeat(MAX_CONTENT_BYTES + 1)),
        ("kb", "x".repeat(MAX_CONTENT_BYTES + 1)),
    ] {
        w.create(&json!({"type": kind, "title": "t", "content": content}))
            .expect_detail(422, content_too_long());
    }
    // A blog post must say something.
    expect_problems(
        &w.create(&json!({"type": "blog", "title": "t", "content": " \n\t "})),
        &[(json!(["body", "content"]), "string_too_short")],
    );
}

#[test]
fn changelog_content_must_be_json_of_the_documented_shape() {
    let w = world();
    let post = |content: &str| {
        w.create(&json!({"type": "changelog", "title": "Release", "content": content}))
    };
    expect_problems(
        &post("# Markdown is not a changelog"),
        &[(json!(["body", "content"]), "json_invalid")],
    );
    expect_problems(&post(""), &[(json!(["body", "content"]), "json_invalid")]);
    expect_problems(
        &post("[1, 2]"),
        &[(json!(["body", "content"]), "value_error")],
    );
    expect_problems(
        &post("{}"),
        &[
            (json!(["body", "content", "title"]), "missing"),
            (json!(["body", "content", "entries"]), "missing"),
        ],
    );
    expect_problems(
        &post(r#"{"title": 7, "entries": {}}"#),
        &[
            (json!(["body", "content", "title"]), "string_type"),
            (json!(["body", "content", "entries"]), "value_error"),
        ],
    );
    let ok = ("Added", "Fine", "Fine");
    let text = json!({"title": "t".repeat(201), "entries": [
        {"category": "Added", "title": "One", "description": "ok"},
        "not an object",
        {"category": "Fixed", "description": "no title"},
        {"category": "", "title": "", "description": 3},
        {"category": "c".repeat(101), "title": "t".repeat(301), "description": "d".repeat(10_001)},
    ]})
    .to_string();
    expect_problems(
        &post(&text),
        &[
            (json!(["body", "content", "title"]), "string_too_long"),
            (json!(["body", "content", "entries", 1]), "value_error"),
            (json!(["body", "content", "entries", 2, "title"]), "missing"),
            (
                json!(["body", "content", "entries", 3, "category"]),
                "string_too_short",
            ),
            (
                json!(["body", "content", "entries", 3, "title"]),
                "string_too_short",
            ),
            (
                json!(["body", "content", "entries", 3, "description"]),
                "string_type",
            ),
            (
                json!(["body", "content", "entries", 4, "category"]),
                "string_too_long",
            ),
            (
                json!(["body", "content", "entries", 4, "title"]),
                "string_too_long",
            ),
            (
                json!(["body", "content", "entries", 4, "description"]),
                "string_too_long",
            ),
        ],
    );
    // Every limit reached exactly is fine; an empty description and no entries too.
    let c100 = "c".repeat(100);
    let t300 = "t".repeat(300);
    let d10k = "d".repeat(10_000);
    let t200 = "t".repeat(200);
    post(&changelog_text(
        &t200,
        &[(&c100, &t300, &d10k), ok, ("Fixed", "Bug", "")],
    ))
    .expect_status(201);
    post(&changelog_text("Nothing yet", &[])).expect_status(201);
    // 500 entries at most.
    let entry = ("Added", "Item", "x");
    post(&changelog_text("Many", &vec![entry; 500])).expect_status(201);
    expect_problems(
        &post(&changelog_text("Too many", &vec![entry; 501])),
        &[(json!(["body", "content", "entries"]), "too_long")],
    );
}

#[test]
fn kb_content_must_be_json_articles() {
    let w = world();
    let post =
        |content: &str| w.create(&json!({"type": "kb", "title": "Docs", "content": content}));
    expect_problems(
        &post("Just text"),
        &[(json!(["body", "content"]), "json_invalid")],
    );
    // A changelog's shape is not a KB set's.
    expect_problems(
        &post(&sample_content("changelog")),
        &[(json!(["body", "content", "articles"]), "missing")],
    );
    let text = json!({"articles": [
        {"category": "Start", "title": "Install"},
        {"category": "Start", "title": "Run", "body": ""},
        {"title": "t".repeat(301), "body": "ok"},
    ]})
    .to_string();
    expect_problems(
        &post(&text),
        &[
            (json!(["body", "content", "articles", 0, "body"]), "missing"),
            (
                json!(["body", "content", "articles", 2, "category"]),
                "missing",
            ),
            (
                json!(["body", "content", "articles", 2, "title"]),
                "string_too_long",
            ),
        ],
    );
    let resp = post(&kb_text(&[
        ("Start", "Install", ""),
        ("Use", "Run", "Run it."),
    ]));
    resp.expect_status(201);
    assert_eq!(resp.json()["output_type"], json!("kb_articles"));
}

#[test]
fn period_end_before_start_and_a_kb_period_are_422() {
    let w = world();
    expect_problems(
        &w.create(&json!({
            "type": "changelog", "title": "t", "content": sample_content("changelog"),
            "period_start": "2025-03-31T00:00:00Z", "period_end": "2025-03-30T23:59:59Z",
        })),
        &[(json!(["body", "period_end"]), "value_error")],
    );
    expect_problems(
        &w.create(&json!({
            "type": "kb", "title": "t", "content": sample_content("kb"),
            "period_start": "2025-03-01T00:00:00Z",
        })),
        &[(json!(["body", "period_start"]), "value_error")],
    );
    expect_problems(
        &w.create(&json!({
            "type": "kb", "title": "t", "content": sample_content("kb"),
            "period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-02T00:00:00Z",
        })),
        &[
            (json!(["body", "period_start"]), "value_error"),
            (json!(["body", "period_end"]), "value_error"),
        ],
    );
}

#[test]
fn unicode_markup_and_control_characters_round_trip_exactly() {
    let w = world();
    let title = "Ünïcödé 🎉🚀 <b>&amp;</b> ]]> \"q\" 'a' \u{1}\u{b}\u{7f} 日本語 e\u{301} \u{202e}rtl\u{fffd}";
    let blog = "# Héllo 👋\r\n\n<script>alert('x')</script> & ]]> \u{0}\u{1}\u{b}\t\u{1F600}\n";
    // A changelog's JSON text is kept as written: spacing, key order, escapes.
    let changelog =
        "{ \"entries\" : [ {\"description\":\"\\u00e9 <&> ]]>\",\"title\":\"🐛 \\\"fix\\\"\",\
                     \"category\":\"Fixed\\u000b\"} ],\n  \"title\": \"Março\" }";
    let mut made = Vec::new();
    for (kind, content) in [("blog", blog), ("changelog", changelog)] {
        let body = json!({"type": kind, "title": title, "content": content});
        let resp = w.create(&body);
        resp.expect_status(201);
        // The answer is UTF-8 JSON: control characters escaped, everything else as is.
        assert!(
            !resp.body.iter().any(|b| *b < 0x20),
            "raw control bytes in {}",
            resp.text()
        );
        let raw = resp.text();
        assert!(raw.contains("\\u0001") && raw.contains("\\u000b"), "{raw}");
        assert!(raw.contains("Ünïcödé 🎉🚀 <b>&amp;</b> ]]>"), "{raw}");
        let item = resp.json();
        assert_eq!(item["title"].as_str().unwrap().as_bytes(), title.as_bytes());
        assert_eq!(
            item["content"].as_str().unwrap().as_bytes(),
            content.as_bytes()
        );
        made.push(item);
    }
    // The same bytes come back from every read.
    for item in &made {
        let read = w.get(&w.owner, s(item, "id")).json();
        assert_eq!(&read, item);
    }
    let listed = w.list(&w.owner, "").json();
    for item in &made {
        assert!(listed.as_array().unwrap().contains(item), "{listed}");
    }
    // And after publishing, from the public endpoints.
    let post = w.publish(s(&made[0], "id"), Some("unicode"));
    let public = w.server.get("/api/v1/blog/unicode").send();
    public.expect_status(200);
    assert_eq!(public.json()["title"], json!(title));
    assert_eq!(public.json()["content"], json!(blog));
    assert_eq!(post["content"], json!(blog));
}

// ---------------------------------------------------------------------------------------------
// Listing and reading
// ---------------------------------------------------------------------------------------------

#[test]
fn list_filters_by_type_and_published_and_pages_newest_created_first() {
    let w = world();
    let mut made = Vec::new();
    for (n, kind) in ["changelog", "blog", "changelog", "kb", "blog", "changelog"]
        .iter()
        .enumerate()
    {
        let item = w.draft(kind, &format!("Item {n}"));
        w.set_time(s(&item, "id"), "created_at", 1_700_000_000 + n as i64);
        made.push(item);
    }
    w.publish(s(&made[0], "id"), None);
    w.publish(s(&made[4], "id"), None);
    let id = |n: usize| s(&made[n], "id").to_string();
    // Another project's content never shows.
    let (other_project, _) = w.new_project("Other");
    w.draft_in(&other_project, "changelog", "Elsewhere");

    let resp = w.list(&w.owner, "");
    resp.expect_status(200);
    assert_eq!(total_count(&resp), 6);
    assert_eq!(ids(&resp.json()), [5, 4, 3, 2, 1, 0].map(id));
    for item in resp.json().as_array().unwrap() {
        assert_eq!(fields_of(item), internal_fields());
    }
    let cases: [(&str, Vec<usize>); 9] = [
        ("?type=changelog", vec![5, 2, 0]),
        ("?type=blog", vec![4, 1]),
        ("?type=kb", vec![3]),
        ("?published=true", vec![4, 0]),
        ("?published=false", vec![5, 3, 2, 1]),
        ("?published=1", vec![4, 0]),
        ("?published=0", vec![5, 3, 2, 1]),
        ("?type=changelog&published=false", vec![5, 2]),
        ("?type=kb&published=true", vec![]),
    ];
    for (query, expected) in cases {
        let resp = w.list(&w.owner, query);
        resp.expect_status(200);
        let want: Vec<String> = expected.iter().map(|n| id(*n)).collect();
        assert_eq!(ids(&resp.json()), want, "{query}");
        assert_eq!(total_count(&resp), want.len() as i64, "{query}");
    }
    // Pages.
    let resp = w.list(&w.owner, "?limit=2&offset=1");
    assert_eq!(ids(&resp.json()), [4, 3].map(id));
    assert_eq!(total_count(&resp), 6);
    let resp = w.list(&w.owner, "?limit=100&offset=5");
    assert_eq!(ids(&resp.json()), [0].map(id));
    let resp = w.list(&w.owner, "?offset=6");
    resp.expect_status(200);
    assert_eq!(resp.json(), json!([]));
    assert_eq!(total_count(&resp), 6);
    let resp = w.list(&w.owner, "?type=changelog&limit=1&offset=1");
    assert_eq!(ids(&resp.json()), [2].map(id));
    assert_eq!(total_count(&resp), 3);
}

#[test]
fn list_defaults_to_20_and_refuses_bad_query_values() {
    let w = world();
    for n in 0..21 {
        w.draft("blog", &format!("Post {n}"));
    }
    let resp = w.list(&w.owner, "");
    assert_eq!(resp.json().as_array().unwrap().len(), 20);
    assert_eq!(total_count(&resp), 21);
    assert_eq!(
        w.list(&w.owner, "?limit=100")
            .json()
            .as_array()
            .unwrap()
            .len(),
        21
    );
    let mut cases = pagination_query_errors();
    cases.extend([
        (
            "?type=news&published=maybe",
            vec![
                (json!(["query", "type"]), "value_error"),
                (json!(["query", "published"]), "bool_parsing"),
            ],
        ),
        (
            "?limit=0&offset=x&type=Blog",
            vec![
                (json!(["query", "limit"]), "greater_than_equal"),
                (json!(["query", "offset"]), "int_parsing"),
                (json!(["query", "type"]), "value_error"),
            ],
        ),
    ]);
    for (query, problems) in cases {
        expect_problems(&w.list(&w.owner, query), &problems);
    }
}

#[test]
fn unknown_or_malformed_ids_are_404() {
    let w = world();
    let item = w.draft("blog", "Real");
    w.delete(&w.owner, s(&item, "id")).expect_status(204);
    for id in [
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        s(&item, "id"),
        "00000000-0000-4000-8000-00000000000G",
    ] {
        w.get(&w.owner, id)
            .expect_detail(404, json!(CONTENT_NOT_FOUND));
        w.patch(&w.owner, id, &json!({"title": "x"}))
            .expect_detail(404, json!(CONTENT_NOT_FOUND));
        w.publish_as(&w.owner, id, None)
            .expect_detail(404, json!(CONTENT_NOT_FOUND));
        w.publish_as(&w.owner, id, Some(&json!({"slug": "fresh"})))
            .expect_detail(404, json!(CONTENT_NOT_FOUND));
        w.unpublish_as(&w.owner, id)
            .expect_detail(404, json!(CONTENT_NOT_FOUND));
        w.delete(&w.owner, id)
            .expect_detail(404, json!(CONTENT_NOT_FOUND));
    }
    // Unknown projects likewise.
    for project in ["00000000-0000-4000-8000-000000000000", "web-app"] {
        w.server
            .get(&project_content_path(project))
            .bearer(&w.owner)
            .send()
            .expect_detail(404, json!(PROJECT_NOT_FOUND));
        w.create_in(
            &w.owner,
            project,
            &json!({"type": "blog", "title": "t", "content": "x"}),
        )
        .expect_detail(404, json!(PROJECT_NOT_FOUND));
    }
}

// ---------------------------------------------------------------------------------------------
// Changing
// ---------------------------------------------------------------------------------------------

#[test]
fn patch_changes_only_the_given_fields() {
    let w = world();
    let resp = w.create(&json!({
        "type": "changelog", "title": "Before", "content": sample_content("changelog"),
        "period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-31T00:00:00Z",
    }));
    let item = resp.json();
    let id = s(&item, "id");
    w.set_time(id, "created_at", 1_700_000_000);
    let before = now();
    let resp = w.patch(&w.owner, id, &json!({"title": "After 🎉"}));
    resp.expect_status(200);
    assert_no_cors(&resp, "patch");
    let changed = resp.json();
    assert_eq!(fields_of(&changed), internal_fields());
    let mut expected = item.clone();
    expected["title"] = json!("After 🎉");
    expected["created_at"] = json!(rfc3339(1_700_000_000));
    expected["updated_at"] = changed["updated_at"].clone();
    assert_eq!(changed, expected);
    assert!(parse_ts(&changed["updated_at"]) >= before);

    let new_text = changelog_text("Renamed", &[("Changed", "Everything", "")]);
    let changed = w
        .patch(
            &w.owner,
            id,
            &json!({"content": new_text, "period_end": null}),
        )
        .json();
    assert_eq!(changed["content"], json!(new_text));
    assert_eq!(changed["title"], json!("After 🎉"));
    assert_eq!(changed["from_date"], json!("2025-03-01T00:00:00Z"));
    assert_eq!(changed["to_date"], Value::Null);
    // An empty patch changes nothing but is fine.
    let same = w.patch(&w.owner, id, &json!({})).json();
    assert_eq!(same["content"], json!(new_text));
    assert_eq!(w.get(&w.owner, id).json()["title"], json!("After 🎉"));
}

#[test]
fn patch_is_validated_against_the_items_type() {
    let w = world();
    let changelog = w.draft("changelog", "C");
    let blog = w.draft("blog", "B");
    let kb = w.draft("kb", "K");
    let (c, b, k) = (s(&changelog, "id"), s(&blog, "id"), s(&kb, "id"));
    // Markdown is fine for a post, not for a changelog or a KB set.
    w.patch(&w.owner, b, &json!({"content": "# New"}))
        .expect_status(200);
    expect_problems(
        &w.patch(&w.owner, c, &json!({"content": "# New"})),
        &[(json!(["body", "content"]), "json_invalid")],
    );
    expect_problems(
        &w.patch(
            &w.owner,
            k,
            &json!({"content": sample_content("changelog")}),
        ),
        &[(json!(["body", "content", "articles"]), "missing")],
    );
    let bad = json!({"title": "t", "entries": [{}, {"category": "a", "title": "b"}]}).to_string();
    expect_problems(
        &w.patch(&w.owner, c, &json!({"content": bad})),
        &[
            (
                json!(["body", "content", "entries", 0, "category"]),
                "missing",
            ),
            (json!(["body", "content", "entries", 0, "title"]), "missing"),
            (
                json!(["body", "content", "entries", 0, "description"]),
                "missing",
            ),
            (
                json!(["body", "content", "entries", 1, "description"]),
                "missing",
            ),
        ],
    );
    expect_problems(
        &w.patch(&w.owner, c, &json!({"title": "", "content": 3})),
        &[
            (json!(["body", "title"]), "string_too_short"),
            (json!(["body", "content"]), "string_type"),
        ],
    );
    expect_problems(
        &w.patch(&w.owner, b, &json!({"title": null})),
        &[(json!(["body", "title"]), "string_type")],
    );
    expect_problems(
        &w.patch(&w.owner, b, &json!({"title": "x".repeat(201)})),
        &[(json!(["body", "title"]), "string_too_long")],
    );
    w.patch(
        &w.owner,
        b,
        &json!({"content": "y".repeat(MAX_CONTENT_BYTES + 1)}),
    )
    .expect_detail(422, content_too_long());
    expect_problems(
        &w.patch(
            &w.owner,
            k,
            &json!({"period_start": "2025-01-01T00:00:00Z"}),
        ),
        &[(json!(["body", "period_start"]), "value_error")],
    );
    w.patch(
        &w.owner,
        k,
        &json!({"period_start": null, "period_end": null}),
    )
    .expect_status(200);
    // The period is checked against the stored bound that is not being changed.
    w.patch(
        &w.owner,
        c,
        &json!({"period_start": "2025-03-10T00:00:00Z"}),
    )
    .expect_status(200);
    expect_problems(
        &w.patch(&w.owner, c, &json!({"period_end": "2025-03-09T00:00:00Z"})),
        &[(json!(["body", "period_end"]), "value_error")],
    );
    expect_problems(
        &w.patch(&w.owner, c, &json!({"period_start": "not a date"})),
        &[(json!(["body", "period_start"]), "datetime_parsing")],
    );
    expect_problems(
        &w.patch(&w.owner, c, &json!([1])),
        &[(json!(["body"]), "value_error")],
    );
    let resp = w
        .server
        .patch(&item_path(c))
        .bearer(&w.owner)
        .body(b"{}".to_vec())
        .send();
    resp.expect_detail(415, json!("This route takes application/json."));
    // Nothing of the refused patches was stored.
    assert_eq!(w.get(&w.owner, c).json()["content"], changelog["content"]);
    assert_eq!(w.get(&w.owner, k).json()["content"], kb["content"]);
    assert_eq!(w.get(&w.owner, b).json()["title"], json!("B"));
}

#[test]
fn patch_of_content_null_is_refused_like_title_null() {
    let w = world();
    let blog = w.draft("blog", "B");
    expect_problems(
        &w.patch(&w.owner, s(&blog, "id"), &json!({"content": null})),
        &[(json!(["body", "content"]), "string_type")],
    );
}

// ---------------------------------------------------------------------------------------------
// Publishing
// ---------------------------------------------------------------------------------------------

#[test]
fn publish_with_a_chosen_slug_sets_the_public_fields() {
    let w = world();
    let item = w.draft("changelog", "March 2025");
    let id = s(&item, "id");
    let before = now();
    let resp = w.publish_as(&w.owner, id, Some(&json!({"slug": "march-2025"})));
    resp.expect_status(200);
    assert_no_cors(&resp, "publish");
    let published = resp.json();
    assert_eq!(fields_of(&published), internal_fields());
    assert_eq!(published["public_slug"], json!("march-2025"));
    assert_eq!(published["is_published"], json!(true));
    let at = parse_ts(&published["published_at"]);
    assert!(before <= at && at <= now());
    assert_eq!(published["updated_at"], published["published_at"]);
    for field in ["id", "title", "content", "created_at", "type", "source"] {
        assert_eq!(published[field], item[field], "{field}");
    }
    assert_eq!(w.get(&w.owner, id).json(), published);
    w.server
        .get("/api/v1/changelog/march-2025")
        .send()
        .expect_status(200);
    // The longest slug the public routes accept.
    let long = "a".repeat(200);
    let other = w.draft("changelog", "Long");
    assert_eq!(
        w.publish(s(&other, "id"), Some(&long))["public_slug"],
        json!(long)
    );
}

#[test]
fn publish_without_a_slug_derives_one_from_the_title() {
    let w = world();
    let first = w.draft("changelog", "March 2025: Dark Mode & More!");
    let second = w.draft("changelog", "March 2025 -- dark mode, & more");
    let third = w.draft("changelog", "  March   2025 dark MODE more ");
    let blog = w.draft("blog", "March 2025 Dark Mode More");
    let unicode = w.draft("changelog", "日本語 🎉");
    let kb = w.draft("kb", "🚀");
    let blog2 = w.draft("blog", "…");
    let slug = |item: &Value, body: Option<&Value>| {
        let resp = w.publish_as(&w.owner, s(item, "id"), body);
        resp.expect_status(200);
        s(&resp.json(), "public_slug").to_string()
    };
    assert_eq!(slug(&first, None), "march-2025-dark-mode-more");
    assert_eq!(
        slug(&second, Some(&json!({}))),
        "march-2025-dark-mode-more-2"
    );
    assert_eq!(
        slug(&third, Some(&json!({"slug": null}))),
        "march-2025-dark-mode-more-3"
    );
    // Slugs are unique per type: a blog post may have the same one.
    assert_eq!(slug(&blog, None), "march-2025-dark-mode-more");
    // Nothing usable in the title: the type's name.
    assert_eq!(slug(&unicode, None), "changelog");
    assert_eq!(slug(&kb, None), "kb");
    assert_eq!(slug(&blog2, None), "blog");
    for (path, expected) in [
        ("/api/v1/changelog/march-2025-dark-mode-more-2", &second),
        ("/api/v1/blog/march-2025-dark-mode-more", &blog),
        ("/api/v1/changelog/changelog", &unicode),
        ("/api/v1/kb/kb", &kb),
    ] {
        let resp = w.server.get(path).send();
        resp.expect_status(200);
        assert_eq!(resp.json()["id"], expected["id"], "{path}");
    }
}

#[test]
fn any_number_of_items_may_share_a_title() {
    // A pipeline that publishes "Weekly update" every week never chooses a slug.
    let w = world();
    let (_, key) = w.key(&w.project_id);
    for n in 1..=25 {
        let resp = w.create_in(
            &key,
            &w.project_id,
            &json!({"type": "blog", "title": "Weekly update", "content": "news"}),
        );
        resp.expect_status(201);
        let resp = w.publish_as(&key, s(&resp.json(), "id"), None);
        resp.expect_status(200);
        let expected = if n == 1 {
            "weekly-update".to_string()
        } else {
            format!("weekly-update-{n}")
        };
        assert_eq!(resp.json()["public_slug"], json!(expected));
    }
    let resp = w.server.get("/api/v1/blogs?limit=100").send();
    assert_eq!(total_count(&resp), 25);
}

#[test]
fn a_slug_taken_by_another_item_of_the_same_type_is_409() {
    let w = world();
    let first = w.draft("changelog", "One");
    let second = w.draft("changelog", "Two");
    w.publish(s(&first, "id"), Some("release"));
    let resp = w.publish_as(
        &w.owner,
        s(&second, "id"),
        Some(&json!({"slug": "release"})),
    );
    resp.expect_detail(
        409,
        json!("The slug 'release' is already used by another changelog"),
    );
    // The refused item is still a draft.
    let unchanged = w.get(&w.owner, s(&second, "id")).json();
    assert_eq!(unchanged["is_published"], json!(false));
    assert_eq!(unchanged["public_slug"], Value::Null);
    // Slugs are public URLs: unique across projects and teams too.
    let (other_project, _) = w.new_project("Other");
    let elsewhere = w.draft_in(&other_project, "changelog", "Elsewhere");
    w.publish_as(
        &w.owner,
        s(&elsewhere, "id"),
        Some(&json!({"slug": "release"})),
    )
    .expect_status(409);
    // Another type may use it.
    for kind in ["blog", "kb"] {
        let item = w.draft(kind, "Same slug");
        assert_eq!(
            w.publish(s(&item, "id"), Some("release"))["public_slug"],
            json!("release")
        );
    }
}

#[test]
fn invalid_slugs_are_422_at_body_slug() {
    let w = world();
    let item = w.draft("blog", "Post");
    let id = s(&item, "id");
    for bad in [
        "Upper",
        "under_score",
        "double--hyphen",
        "-leading",
        "trailing-",
        "with space",
        "é",
        "a/b",
    ] {
        expect_problems(
            &w.publish_as(&w.owner, id, Some(&json!({ "slug": bad }))),
            &[(json!(["body", "slug"]), "string_pattern_mismatch")],
        );
    }
    expect_problems(
        &w.publish_as(&w.owner, id, Some(&json!({"slug": ""}))),
        &[(json!(["body", "slug"]), "string_too_short")],
    );
    expect_problems(
        &w.publish_as(&w.owner, id, Some(&json!({"slug": "a".repeat(201)}))),
        &[(json!(["body", "slug"]), "string_too_long")],
    );
    expect_problems(
        &w.publish_as(&w.owner, id, Some(&json!({"slug": 5}))),
        &[(json!(["body", "slug"]), "string_type")],
    );
    let resp = w
        .server
        .post(&format!("{}/publish", item_path(id)))
        .bearer(&w.owner)
        .header("Content-Type", "application/json")
        .body(b"{\"slug\":".to_vec())
        .send();
    expect_problems(&resp, &[(json!(["body"]), "json_invalid")]);
    assert_eq!(w.get(&w.owner, id).json()["is_published"], json!(false));
}

#[test]
fn publishing_again_is_a_no_op_and_a_new_slug_moves_the_item() {
    let w = world();
    let item = w.draft("blog", "Post");
    let id = s(&item, "id");
    w.publish(id, Some("first-url"));
    // Make a repeated publish observable: the stored time is in the past now.
    w.set_time(id, "published_at", 1_700_000_000);
    let first = w.get(&w.owner, id).json();
    assert_eq!(first["published_at"], json!(rfc3339(1_700_000_000)));
    for body in [None, Some(json!({})), Some(json!({"slug": "first-url"}))] {
        let resp = w.publish_as(&w.owner, id, body.as_ref());
        resp.expect_status(200);
        assert_eq!(resp.json(), first, "{body:?}");
    }
    // Another slug moves it and keeps its publication time.
    let moved = w.publish(id, Some("second-url"));
    assert_eq!(moved["public_slug"], json!("second-url"));
    assert_eq!(moved["published_at"], json!(rfc3339(1_700_000_000)));
    assert_eq!(moved["is_published"], json!(true));
    w.server
        .get("/api/v1/blog/first-url")
        .send()
        .expect_detail(404, json!("Blog post not found"));
    w.server
        .get("/api/v1/blog/second-url")
        .send()
        .expect_status(200);
    // The old slug is free again.
    let other = w.draft("blog", "Other");
    w.publish(s(&other, "id"), Some("first-url"));
}

#[test]
fn unpublish_hides_the_item_and_keeps_its_slug_reserved() {
    let w = world();
    let item = w.draft("changelog", "Launch");
    let id = s(&item, "id");
    w.publish(id, Some("launch"));
    w.set_time(id, "published_at", 1_700_000_000);
    let before = now();
    let resp = w.unpublish_as(&w.owner, id);
    resp.expect_status(200);
    assert_no_cors(&resp, "unpublish");
    let hidden = resp.json();
    assert_eq!(hidden["is_published"], json!(false));
    assert_eq!(hidden["published_at"], Value::Null);
    assert_eq!(hidden["public_slug"], json!("launch"));
    assert!(parse_ts(&hidden["updated_at"]) >= before);
    w.server
        .get("/api/v1/changelog/launch")
        .send()
        .expect_detail(404, json!("Changelog not found"));
    // Unpublishing twice is fine.
    assert_eq!(w.unpublish(id), hidden);
    // Nobody else of the same type can take the slug meanwhile.
    let other = w.draft("changelog", "Launch");
    w.publish_as(&w.owner, s(&other, "id"), Some(&json!({"slug": "launch"})))
        .expect_status(409);
    // A derived slug steps around it.
    assert_eq!(
        w.publish(s(&other, "id"), None)["public_slug"],
        json!("launch-2")
    );
    // The title changed meanwhile, but republishing without a slug restores the same URL,
    // with a new publication time.
    w.patch(&w.owner, id, &json!({"title": "Renamed"}))
        .expect_status(200);
    let back = w.publish(id, None);
    assert_eq!(back["public_slug"], json!("launch"));
    assert_eq!(back["is_published"], json!(true));
    assert!(parse_ts(&back["published_at"]) >= before);
    let resp = w.server.get("/api/v1/changelog/launch").send();
    resp.expect_status(200);
    assert_eq!(resp.json()["title"], json!("Renamed"));
    // Unpublishing a draft changes nothing.
    let draft = w.draft("blog", "Draft");
    assert_eq!(w.unpublish(s(&draft, "id")), draft);
}

#[test]
fn delete_is_204_then_404_and_frees_the_slug() {
    let w = world();
    let item = w.draft("blog", "Gone soon");
    let id = s(&item, "id");
    w.publish(id, Some("gone-soon"));
    let resp = w.delete(&w.owner, id);
    resp.expect_status(204);
    assert!(resp.body.is_empty());
    assert_no_cors(&resp, "delete");
    w.get(&w.owner, id)
        .expect_detail(404, json!(CONTENT_NOT_FOUND));
    w.delete(&w.owner, id)
        .expect_detail(404, json!(CONTENT_NOT_FOUND));
    w.publish_as(&w.owner, id, None)
        .expect_detail(404, json!(CONTENT_NOT_FOUND));
    w.server
        .get("/api/v1/blog/gone-soon")
        .send()
        .expect_detail(404, json!("Blog post not found"));
    assert_eq!(w.list(&w.owner, "").json(), json!([]));
    let other = w.draft("blog", "Next");
    assert_eq!(
        w.publish(s(&other, "id"), Some("gone-soon"))["public_slug"],
        json!("gone-soon")
    );
}

// ---------------------------------------------------------------------------------------------
// Who may do what
// ---------------------------------------------------------------------------------------------

/// Runs every content route as `token` on `w`'s project and item `id`, expecting each to be
/// refused with `status` and `detail`.
#[track_caller]
fn assert_every_route_refused(w: &World, token: &str, id: &str, status: u16, detail: &str) {
    let detail = json!(detail);
    w.create_in(
        token,
        &w.project_id,
        &json!({"type": "blog", "title": "t", "content": "x"}),
    )
    .expect_detail(status, detail.clone());
    w.list(token, "").expect_detail(status, detail.clone());
    w.get(token, id).expect_detail(status, detail.clone());
    w.patch(token, id, &json!({"title": "hijacked"}))
        .expect_detail(status, detail.clone());
    w.publish_as(token, id, Some(&json!({"slug": "hijacked"})))
        .expect_detail(status, detail.clone());
    w.publish_as(token, id, None)
        .expect_detail(status, detail.clone());
    w.unpublish_as(token, id)
        .expect_detail(status, detail.clone());
    w.delete(token, id).expect_detail(status, detail);
}

#[test]
fn any_member_of_the_team_may_write_content() {
    let w = world();
    for role in ["member", "admin"] {
        let token = w.member(&format!("{role}-user@example.com"), role);
        let resp = w.create_in(
            &token,
            &w.project_id,
            &json!({"type": "changelog", "title": role, "content": sample_content("changelog")}),
        );
        resp.expect_status(201);
        let id = s(&resp.json(), "id").to_string();
        w.list(&token, "").expect_status(200);
        w.get(&token, &id).expect_status(200);
        w.patch(&token, &id, &json!({"title": format!("{role} 2")}))
            .expect_status(200);
        let published = w.publish_as(&token, &id, None);
        published.expect_status(200);
        assert_eq!(published.json()["public_slug"], json!(format!("{role}-2")));
        w.unpublish_as(&token, &id).expect_status(200);
        w.delete(&token, &id).expect_status(204);
    }
    // The owner's items are open to members too.
    let token = w.member("late@example.com", "member");
    let item = w.draft("blog", "Owner's");
    w.patch(&token, s(&item, "id"), &json!({"title": "Member's"}))
        .expect_status(200);
}

#[test]
fn a_signed_in_non_member_gets_403_and_changes_nothing() {
    let w = world();
    let item = w.draft("changelog", "Private");
    let id = s(&item, "id");
    let (outsider, _, _) = w.outsider("outsider@example.com");
    assert_every_route_refused(&w, &outsider, id, 403, OTHER_TEAM);
    let unchanged = w.get(&w.owner, id).json();
    assert_eq!(unchanged, item);
    assert_eq!(total_count(&w.list(&w.owner, "")), 1);
    // A member removed from the team loses access at once.
    let member = w.member("leaving@example.com", "member");
    w.get(&member, id).expect_status(200);
    let member_id = {
        let resp = w
            .server
            .get(&format!("/api/internal/teams/{}/members", w.team_id))
            .bearer(&w.owner)
            .send();
        let members = resp.json();
        let found = members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == json!("leaving@example.com"))
            .unwrap()
            .clone();
        s(&found, "user_id").to_string()
    };
    w.server
        .delete(&format!(
            "/api/internal/teams/{}/members/{member_id}",
            w.team_id
        ))
        .bearer(&w.owner)
        .send()
        .expect_status(204);
    w.get(&member, id).expect_detail(403, json!(OTHER_TEAM));
}

#[test]
fn without_a_valid_credential_every_route_is_401() {
    let w = world();
    let item = w.draft("blog", "Post");
    let id = s(&item, "id");
    let routes = [
        ("POST", project_content_path(&w.project_id)),
        ("GET", project_content_path(&w.project_id)),
        ("GET", read_path(id)),
        ("PATCH", item_path(id)),
        ("POST", format!("{}/publish", item_path(id))),
        ("POST", format!("{}/unpublish", item_path(id))),
        ("DELETE", item_path(id)),
    ];
    for (method, path) in &routes {
        let resp = w.server.request(method, path).send();
        resp.expect_detail(401, json!("Unauthorized"));
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
        assert_no_cors(&resp, path);
        // A well-formed key that does not exist gets the API-key detail.
        let resp = w
            .server
            .request(method, path)
            .bearer("sk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000")
            .send();
        resp.expect_detail(401, json!(INVALID_KEY));
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    }
    assert_eq!(w.get(&w.owner, id).json(), item);
}

#[test]
fn a_project_key_runs_the_ci_flow_and_every_route() {
    let w = world();
    let (_, key) = w.key(&w.project_id);
    // The CI/CD flow: two calls, create then publish.
    let resp = w.create_in(
        &key,
        &w.project_id,
        &json!({
            "type": "changelog", "title": "v1.4.0",
            "content": changelog_text("v1.4.0", &[("Added", "Exports", "CSV and JSON")]),
            "period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-31T00:00:00Z",
        }),
    );
    resp.expect_status(201);
    assert_no_cors(&resp, "create with key");
    let created = resp.json();
    assert_eq!(created["source"], json!(w.project_name));
    let id = s(&created, "id");
    let resp = w.publish_as(&key, id, None);
    resp.expect_status(200);
    assert_eq!(resp.json()["public_slug"], json!("v1-4-0"));
    let public = w.server.get("/api/v1/changelog/v1-4-0").send();
    public.expect_status(200);
    assert_eq!(public.json()["id"], json!(id));
    // Everything else.
    let resp = w.list(&key, "?type=changelog");
    resp.expect_status(200);
    assert_eq!(ids(&resp.json()), [id.to_string()]);
    w.get(&key, id).expect_status(200);
    let resp = w.patch(&key, id, &json!({"title": "v1.4.1"}));
    resp.expect_status(200);
    assert_eq!(resp.json()["title"], json!("v1.4.1"));
    w.unpublish_as(&key, id).expect_status(200);
    w.delete(&key, id).expect_status(204);
    // A key addressing an unknown project.
    w.create_in(
        &key,
        "00000000-0000-4000-8000-000000000000",
        &json!({"type": "blog", "title": "t", "content": "x"}),
    )
    .expect_detail(404, json!(PROJECT_NOT_FOUND));
}

#[test]
fn a_key_of_another_project_gets_403_naming_the_reason() {
    let w = world();
    let item = w.draft("changelog", "Mine");
    let id = s(&item, "id");
    // Same team, other project: still refused.
    let (sibling, _) = w.new_project("Sibling");
    let (_, sibling_key) = w.key(&sibling);
    assert_every_route_refused(&w, &sibling_key, id, 403, OTHER_PROJECT);
    // Another team's key likewise.
    let (outsider, outsider_project, _) = w.outsider("outsider@example.com");
    let (_, foreign_key) = w.key_as(&outsider, &outsider_project);
    assert_every_route_refused(&w, &foreign_key, id, 403, OTHER_PROJECT);
    assert_eq!(w.get(&w.owner, id).json(), item);
    // Each key still works on its own project.
    w.create_in(
        &sibling_key,
        &sibling,
        &json!({"type": "blog", "title": "Ours", "content": "x"}),
    )
    .expect_status(201);
}

#[test]
fn a_deactivated_or_deleted_key_is_401_on_the_next_request() {
    let w = world();
    let item = w.draft("blog", "Post");
    let id = s(&item, "id");
    let (key_id, key) = w.key(&w.project_id);
    w.get(&key, id).expect_status(200);
    w.server
        .patch(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&w.owner)
        .json(&json!({"is_active": false}))
        .send()
        .expect_status(200);
    for resp in [
        w.get(&key, id),
        w.publish_as(&key, id, None),
        w.create_in(
            &key,
            &w.project_id,
            &json!({"type": "blog", "title": "t", "content": "x"}),
        ),
    ] {
        resp.expect_detail(401, json!(INVALID_KEY));
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    }
    let (key_id, key) = w.key(&w.project_id);
    w.list(&key, "").expect_status(200);
    w.server
        .delete(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&w.owner)
        .send()
        .expect_status(204);
    w.list(&key, "").expect_detail(401, json!(INVALID_KEY));
    assert_eq!(w.get(&w.owner, id).json()["is_published"], json!(false));
}

#[test]
fn content_requests_with_a_key_count_in_its_usage() {
    let w = world();
    let (key_id, key) = w.key(&w.project_id);
    let resp = w.create_in(
        &key,
        &w.project_id,
        &json!({"type": "blog", "title": "t", "content": "x"}),
    );
    resp.expect_status(201);
    let id = s(&resp.json(), "id").to_string();
    w.publish_as(&key, &id, None).expect_status(200);
    w.list(&key, "").expect_status(200);
    // A refused request (another project) counts as rejected.
    let (sibling, _) = w.new_project("Sibling");
    let sibling_item = w.draft_in(&sibling, "blog", "Theirs");
    w.get(&key, s(&sibling_item, "id"))
        .expect_detail(403, json!(OTHER_PROJECT));
    let usage = |w: &World| {
        let resp = w
            .server
            .get(&format!("/api/internal/api-keys/{key_id}/usage?days=1"))
            .bearer(&w.owner)
            .send();
        resp.expect_status(200);
        resp.json()[0].clone()
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut row = usage(&w);
    while row["requests"] != json!(3) || row["rejected"] != json!(1) {
        assert!(Instant::now() < deadline, "usage not counted: {row}");
        std::thread::sleep(Duration::from_millis(100));
        row = usage(&w);
    }
    assert_eq!(row["requests"], json!(3));
    assert_eq!(row["rejected"], json!(1));
}
