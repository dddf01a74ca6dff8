//! Integration tests: the audit events of API keys and content (key-security.md, "Audit
//! log"), written by every path that changes them (routes with a session or a key, MCP tools,
//! the CLI, seeds), read back through the team and superuser routes; refusals and reads write
//! none, and no key, token or password ever reaches the log.

use crate::fixture::*;
use serde_json::{json, Value};

const PASSWORD: &str = "audit-password-123";
const AGENT: &str = "audit-test/1.0";
const LOCAL: &str = "127.0.0.1";

struct World {
    server: TestServer,
    admin: String,
    owner_id: String,
    owner: String,
    team_id: String,
    project_id: String,
    project_slug: String,
}

fn world() -> World {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (owner_id, owner) = server.create_user(&admin, "owner@example.com", PASSWORD);
    let team = create_team(&server, &owner, json!({"name": "Audit Team"}));
    let team_id = team["id"].as_str().unwrap().to_string();
    let project = create_project(&server, &owner, &team_id, json!({"name": "Audit Project"}));
    World {
        server,
        admin,
        owner_id,
        owner,
        team_id,
        project_id: project["id"].as_str().unwrap().to_string(),
        project_slug: project["slug"].as_str().unwrap().to_string(),
    }
}

impl World {
    /// A change as `token` sends it: JSON body, the test's user agent.
    fn send(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Resp {
        let req = self
            .server
            .request(method, path)
            .bearer(token)
            .header("User-Agent", AGENT);
        match body {
            Some(body) => req.json(&body).send(),
            None => req.send(),
        }
    }

    /// Creates a key as the owner: (object, the key itself).
    fn create_key(&self, name: &str) -> (Value, String) {
        let path = format!("/api/internal/projects/{}/api-keys", self.project_id);
        let resp = self.send("POST", &path, &self.owner, Some(json!({"name": name})));
        resp.expect_status(201);
        let body = resp.json();
        let raw = body["key"].as_str().unwrap().to_string();
        (body, raw)
    }

    /// The team's events matching `query`, newest first (as the owner reads them).
    fn team_events(&self, query: &str) -> Vec<Value> {
        let resp = self
            .server
            .get(&format!(
                "/api/internal/teams/{}/audit-log?limit=100{query}",
                self.team_id
            ))
            .bearer(&self.owner)
            .send();
        resp.expect_status(200);
        resp.json().as_array().unwrap().clone()
    }

    /// How many events the whole log holds (the superuser route's `X-Total-Count`).
    fn total_events(&self) -> i64 {
        let resp = self
            .server
            .get("/api/internal/audit-log?limit=1")
            .bearer(&self.admin)
            .send();
        resp.expect_status(200);
        resp.header("X-Total-Count").unwrap().parse().unwrap()
    }

    /// The actor object of the owner's session.
    fn owner_actor(&self) -> Value {
        json!({"type": "user", "id": self.owner_id, "label": "owner@example.com"})
    }

    /// The expected event, with the fields every event of this world shares.
    fn expected(&self, action: &str, actor: Value, target: Value, details: Value) -> Value {
        json!({
            "action": action,
            "actor": actor,
            "target": target,
            "team_id": self.team_id,
            "project_id": self.project_id,
            "ip": LOCAL,
            "user_agent": AGENT,
            "details": details,
        })
    }
}

/// The event without its own `id` and `at` (checked for shape separately).
fn comparable(event: &Value) -> Value {
    let mut event = event.clone();
    let map = event.as_object_mut().unwrap();
    let id = map.remove("id").unwrap();
    assert_eq!(id.as_str().unwrap().len(), 36, "{id}");
    let at = map.remove("at").unwrap();
    assert!(at.as_str().unwrap().ends_with('Z'), "{at}");
    event
}

fn oldest_first(mut events: Vec<Value>) -> Vec<Value> {
    events.reverse();
    events.iter().map(comparable).collect()
}

fn key_target(key: &Value) -> Value {
    json!({"type": "api_key", "id": key["id"], "label": key["key_prefix"]})
}

/// Every text the audit table holds, row by row, read straight from the database file.
fn audit_rows(server: &TestServer) -> Vec<String> {
    server.db().texts(
        "SELECT coalesce(action, '') || '|' || coalesce(actor_type, '') || '|' || \
             coalesce(actor_id, '') || '|' || coalesce(actor_label, '') || '|' || \
             coalesce(target_type, '') || '|' || coalesce(target_id, '') || '|' || \
             coalesce(target_label, '') || '|' || coalesce(team_id, '') || '|' || \
             coalesce(project_id, '') || '|' || coalesce(ip, '') || '|' || \
             coalesce(user_agent, '') || '|' || coalesce(details, '') FROM audit_events",
    )
}

/// Fails when any audit row holds any of `secrets` (keys, their random part, tokens,
/// passwords).
fn assert_no_secret(server: &TestServer, secrets: &[&str]) {
    let rows = audit_rows(server);
    assert!(!rows.is_empty());
    for secret in secrets {
        assert!(secret.len() >= 16, "too short to be a meaningful probe");
        for row in &rows {
            assert!(!row.contains(secret), "the audit log holds a secret: {row}");
        }
    }
}

/// The part of a key after its public prefix: the secret that must never be stored.
fn key_secret(raw: &str) -> &str {
    &raw["sk_live_".len() + 8..]
}

#[test]
fn key_changes_over_http_record_exact_events_and_no_key() {
    let w = world();
    let (key, raw) = w.create_key("ci");
    let key_path = format!("/api/internal/api-keys/{}", key["id"].as_str().unwrap());
    w.send(
        "PATCH",
        &key_path,
        &w.owner,
        Some(json!({"name": "deploy", "expires_at": "2099-01-01T00:00:00Z"})),
    )
    .expect_status(200);
    // The same values again change nothing and record nothing.
    w.send(
        "PATCH",
        &key_path,
        &w.owner,
        Some(json!({"name": "deploy", "is_active": true})),
    )
    .expect_status(200);
    w.send(
        "PATCH",
        &key_path,
        &w.owner,
        Some(json!({"is_active": false})),
    )
    .expect_status(200);
    w.send(
        "PATCH",
        &key_path,
        &w.owner,
        Some(json!({"is_active": true})),
    )
    .expect_status(200);
    let roll = w.send(
        "POST",
        &format!("{key_path}/roll"),
        &w.owner,
        Some(json!({"overlap_seconds": 3600})),
    );
    roll.expect_status(201);
    let rolled = roll.json();
    let rolled_raw = rolled["key"].as_str().unwrap().to_string();
    let rolled_path = format!("/api/internal/api-keys/{}", rolled["id"].as_str().unwrap());
    w.send("DELETE", &rolled_path, &w.owner, None)
        .expect_status(204);

    let events = oldest_first(w.team_events("&action=api_key."));
    let owner = w.owner_actor();
    let expected = vec![
        w.expected(
            "api_key.created",
            owner.clone(),
            key_target(&key),
            json!({"name": "ci", "expires_at": null}),
        ),
        w.expected(
            "api_key.updated",
            owner.clone(),
            key_target(&key),
            json!({"fields": ["name", "expires_at"], "old_expires_at": null,
                   "new_expires_at": "2099-01-01T00:00:00Z"}),
        ),
        w.expected(
            "api_key.deactivated",
            owner.clone(),
            key_target(&key),
            json!({}),
        ),
        w.expected(
            "api_key.activated",
            owner.clone(),
            key_target(&key),
            json!({}),
        ),
        w.expected(
            "api_key.rolled",
            owner.clone(),
            key_target(&key),
            json!({"new_key_id": rolled["id"], "new_key_prefix": rolled["key_prefix"],
                   "overlap_seconds": 3600}),
        ),
        w.expected(
            "api_key.deleted",
            owner,
            key_target(&rolled),
            json!({"name": "deploy"}),
        ),
    ];
    assert_eq!(events, expected);
    // Filters by target find the key's own history.
    let about_key = w.team_events(&format!("&target_id={}", key["id"].as_str().unwrap()));
    assert_eq!(about_key.len(), 5);
    assert_no_secret(
        &w.server,
        &[
            &raw,
            key_secret(&raw),
            &rolled_raw,
            key_secret(&rolled_raw),
            &w.owner,
            PASSWORD,
        ],
    );
}

#[test]
fn content_changes_by_a_session_and_by_a_key_record_their_actor() {
    let w = world();
    let (key, raw) = w.create_key("writer");
    let project_content = format!("/api/internal/projects/{}/content", w.project_id);
    let created = w.send(
        "POST",
        &project_content,
        &w.owner,
        Some(json!({"type": "blog", "title": "Launch", "content": "Hello"})),
    );
    created.expect_status(201);
    let item = created.json();
    let id = item["id"].as_str().unwrap();
    let item_path = format!("/api/internal/content/{id}");
    // With the API key from here on.
    w.send(
        "PATCH",
        &item_path,
        &raw,
        Some(json!({"title": "Launch day", "content": "Hello"})),
    )
    .expect_status(200);
    w.send(
        "POST",
        &format!("{item_path}/publish"),
        &raw,
        Some(json!({"slug": "launch-day"})),
    )
    .expect_status(200);
    w.send("POST", &format!("{item_path}/unpublish"), &raw, None)
        .expect_status(200);
    w.send("DELETE", &item_path, &w.owner, None)
        .expect_status(204);

    let key_actor = json!({"type": "key", "id": key["id"], "label": key["key_prefix"]});
    let target = |label: &str| json!({"type": "content", "id": id, "label": label});
    let events = oldest_first(w.team_events("&action=content."));
    assert_eq!(
        events,
        vec![
            w.expected(
                "content.created",
                w.owner_actor(),
                target("Launch"),
                json!({"type": "blog"})
            ),
            w.expected(
                "content.updated",
                key_actor.clone(),
                target("Launch day"),
                json!({"fields": ["title"]})
            ),
            w.expected(
                "content.published",
                key_actor.clone(),
                target("Launch day"),
                json!({"slug": "launch-day"})
            ),
            w.expected(
                "content.unpublished",
                key_actor,
                target("Launch day"),
                json!({"slug": "launch-day"})
            ),
            w.expected(
                "content.deleted",
                w.owner_actor(),
                target("Launch day"),
                json!({"type": "blog"})
            ),
        ]
    );
    // The person filter: the owner's own events (the key's carry the key's id).
    let by_owner = w.team_events(&format!("&action=content.&actor_id={}", w.owner_id));
    assert_eq!(by_owner.len(), 2);
    assert_no_secret(&w.server, &[&raw, key_secret(&raw), &w.owner]);
}

#[test]
fn an_mcp_tool_write_records_the_key_as_actor() {
    let w = world();
    let (key, raw) = w.create_key("assistant");
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "create_content",
        "arguments": {"type": "blog", "title": "From an assistant", "content": "Hi"}}});
    let resp = w
        .server
        .post("/mcp")
        .bearer(&raw)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .header("User-Agent", AGENT)
        .json(&call)
        .send();
    resp.expect_status(200);
    let result = &resp.json()["result"];
    assert_eq!(result["isError"], false, "{result}");
    let id = &result["structuredContent"]["id"];
    let events = oldest_first(w.team_events("&action=content.created"));
    assert_eq!(
        events,
        vec![w.expected(
            "content.created",
            json!({"type": "key", "id": key["id"], "label": key["key_prefix"]}),
            json!({"type": "content", "id": id, "label": "From an assistant"}),
            json!({"type": "blog"}),
        )]
    );
    assert_no_secret(&w.server, &[&raw, key_secret(&raw)]);
}

#[test]
fn cli_key_commands_and_a_seed_record_cli_events() {
    let w = world();
    let out = w.server.cli(
        &[
            "key",
            "create",
            "--project",
            &w.project_slug,
            "--user",
            "owner@example.com",
            "--name",
            "from the shell",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let raw = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let key = w
        .server
        .get(&format!("/api/internal/projects/{}/api-keys", w.project_id))
        .bearer(&w.owner)
        .send()
        .json()[0]
        .clone();
    assert_eq!(key["key_prefix"].as_str(), Some(&raw[..16]));
    let out = w.server.cli(
        &["key", "deactivate", "--id", key["id"].as_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let cli = |command: &str| json!({"type": "cli", "id": null, "label": command});
    let local = |event: Value| {
        let mut event = event;
        event["ip"] = Value::Null;
        event["user_agent"] = Value::Null;
        event
    };
    let events = oldest_first(w.team_events("&action=api_key."));
    assert_eq!(
        events,
        vec![
            local(w.expected(
                "api_key.created",
                cli("shipstar key create"),
                key_target(&key),
                json!({"name": "from the shell", "expires_at": null}),
            )),
            local(w.expected(
                "api_key.deactivated",
                cli("shipstar key deactivate"),
                key_target(&key),
                json!({}),
            )),
        ]
    );

    // A seed is a command too: its key and content are recorded as `shipstar seed`'s.
    let seed = repo_path("tests/examples/seed.toml");
    let out = w.server.cli(&["seed", seed.to_str().unwrap()], None);
    assert!(out.status.success(), "{out:?}");
    let teams = w
        .server
        .get("/api/internal/teams")
        .bearer(&w.server.login("dev@example.com", "dev-password-for-tests"))
        .send()
        .json();
    let acme = teams[0]["id"].as_str().unwrap().to_string();
    let seeded = w
        .server
        .get("/api/internal/audit-log?limit=100&action=api_key.&action=content.")
        .bearer(&w.admin)
        .send()
        .json();
    let seeded: Vec<(String, String)> = seeded
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["team_id"] == acme.as_str())
        .map(|e| {
            assert_eq!(e["actor"], cli("shipstar seed"), "{e}");
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"]["label"].as_str().unwrap().to_string(),
            )
        })
        .rev()
        .collect();
    let pairs: Vec<(&str, &str)> = seeded
        .iter()
        .map(|(a, l)| (a.as_str(), l.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("api_key.created", "sk_live_cel5QZx0"),
            ("content.created", "Release 1.0"),
            ("content.published", "Release 1.0"),
            ("content.created", "Coming soon"),
        ]
    );
    assert_no_secret(
        &w.server,
        &[
            &raw,
            key_secret(&raw),
            "sk_live_cel5QZx0BEZZN6iZPbyXEK75YjPdINSK25FDmg",
            "BEZZN6iZPbyXEK75YjPdINSK25FDmg",
            "dev-password-for-tests",
        ],
    );
}

#[test]
fn refused_changes_record_nothing() {
    let w = world();
    let (key, raw) = w.create_key("ci");
    let key_path = format!("/api/internal/api-keys/{}", key["id"].as_str().unwrap());
    let (_, member) = w
        .server
        .create_user(&w.admin, "member@example.com", PASSWORD);
    w.send(
        "POST",
        &format!("/api/internal/teams/{}/members", w.team_id),
        &w.owner,
        Some(json!({"email": "member@example.com", "role": "member"})),
    )
    .expect_status(201);
    let content_path = format!("/api/internal/projects/{}/content", w.project_id);
    let first = w
        .send(
            "POST",
            &content_path,
            &w.owner,
            Some(json!({"type": "blog", "title": "One", "content": "x"})),
        )
        .json();
    let second = w
        .send(
            "POST",
            &content_path,
            &w.owner,
            Some(json!({"type": "blog", "title": "Two", "content": "x"})),
        )
        .json();
    let publish = |item: &Value| {
        format!(
            "/api/internal/content/{}/publish",
            item["id"].as_str().unwrap()
        )
    };
    w.send(
        "POST",
        &publish(&first),
        &w.owner,
        Some(json!({"slug": "taken"})),
    )
    .expect_status(200);
    // A key of another project.
    let other = create_project(&w.server, &w.owner, &w.team_id, json!({"name": "Other"}));
    let other_key = w
        .send(
            "POST",
            &format!(
                "/api/internal/projects/{}/api-keys",
                other["id"].as_str().unwrap()
            ),
            &w.owner,
            Some(json!({"name": "other"})),
        )
        .json()["key"]
        .as_str()
        .unwrap()
        .to_string();

    let before = w.total_events();
    let refusals: Vec<(u16, Resp)> = vec![
        (
            422,
            w.send("PATCH", &key_path, &w.owner, Some(json!({"name": ""}))),
        ),
        (
            422,
            w.send(
                "PATCH",
                &key_path,
                &w.owner,
                Some(json!({"expires_at": "2000-01-01T00:00:00Z"})),
            ),
        ),
        (
            403,
            w.send(
                "PATCH",
                &key_path,
                &member,
                Some(json!({"is_active": false})),
            ),
        ),
        (403, w.send("DELETE", &key_path, &member, None)),
        (
            403,
            w.send(
                "POST",
                &format!("/api/internal/projects/{}/api-keys", w.project_id),
                &raw,
                Some(json!({"name": "minted by a key"})),
            ),
        ),
        (
            422,
            w.send(
                "POST",
                &content_path,
                &w.owner,
                Some(json!({"type": "blog", "title": "", "content": "x"})),
            ),
        ),
        (
            403,
            w.send(
                "PATCH",
                &format!("/api/internal/content/{}", first["id"].as_str().unwrap()),
                &other_key,
                Some(json!({"title": "Hijacked"})),
            ),
        ),
        (
            409,
            w.send(
                "POST",
                &publish(&second),
                &w.owner,
                Some(json!({"slug": "taken"})),
            ),
        ),
        (
            404,
            w.send(
                "DELETE",
                "/api/internal/content/00000000-0000-4000-8000-000000000000",
                &w.owner,
                None,
            ),
        ),
    ];
    for (status, resp) in &refusals {
        resp.expect_status(*status);
    }
    assert_eq!(w.total_events(), before, "a refused change wrote an event");
}

#[test]
fn reads_record_nothing() {
    let w = world();
    let (_, raw) = w.create_key("reader");
    let content_path = format!("/api/internal/projects/{}/content", w.project_id);
    let item = w
        .send(
            "POST",
            &content_path,
            &w.owner,
            Some(json!({"type": "blog", "title": "Public post", "content": "x"})),
        )
        .json();
    let id = item["id"].as_str().unwrap();
    w.send(
        "POST",
        &format!("/api/internal/content/{id}/publish"),
        &w.owner,
        Some(json!({"slug": "public-post"})),
    )
    .expect_status(200);

    let before = w.total_events();
    for _ in 0..20 {
        // Key checks, session (JWT) checks, public content.
        w.server
            .get("/api/v1/me")
            .bearer(&raw)
            .send()
            .expect_status(200);
        w.server
            .get(&format!("/api/internal/sources/content/{id}"))
            .bearer(&raw)
            .send()
            .expect_status(200);
        w.server
            .get("/api/internal/users/me")
            .bearer(&w.owner)
            .send()
            .expect_status(200);
        w.server
            .get(&content_path)
            .bearer(&w.owner)
            .send()
            .expect_status(200);
        w.server.get("/api/v1/blogs").send().expect_status(200);
        w.server
            .get("/api/v1/blog/public-post")
            .send()
            .expect_status(200);
    }
    // An invalid key is a read too: refused, never recorded.
    w.server
        .get("/api/v1/me")
        .bearer("sk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .expect_status(401);
    assert_eq!(w.total_events(), before, "a read wrote an event");
}
