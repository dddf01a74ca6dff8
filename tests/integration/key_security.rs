//! Integration tests: key activity and leaked keys.
//!
//! Contract: `key-security.md`, "Key activity" (the distinct client addresses and user agents
//! of each key, visible within 2 seconds, the route's permissions, the
//! `api_key.first_use_from_new_ip` event) and "Leaked keys" (`POST /api/v1/keys/report-leak`:
//! labels, deactivate or notify, the `api_key.reported_leaked` event, 422s, the rate limit).
//! The 30-day windows and the bound of 100 are tested in-process with fixed times
//! (`src/store/key_activity.rs`, `src/api/usage.rs`).
//!
//! Client addresses come from `X-Forwarded-For` behind a trusted loopback proxy, so one test
//! can use a key from as many addresses as it likes; the browser test uses real loopback
//! addresses instead. Audit events are read from the database file through the library.

use crate::fixture::*;
use serde_json::{json, Value};
use shipstar::store::{AuditAction, AuditEvent, AuditFilter, Page, Store};
use std::time::{Duration, Instant};

const REPORT: &str = "/api/v1/keys/report-leak";
/// Longest wait for counts to show: the contract's 2 seconds plus slack for a loaded machine.
const VISIBLE_WITHIN: Duration = Duration::from_secs(5);

/// A server that believes `X-Forwarded-For` from loopback, with extra environment.
fn server_behind_proxy(extra: &[(&str, &str)]) -> TestServer {
    let mut options = Options::default().env("SHIPSTAR_TRUSTED_PROXIES", "127.0.0.1");
    for (key, value) in extra {
        options = options.env(key, value);
    }
    TestServer::start_with(options)
}

/// The id of the administrator's `default` project.
fn default_project(server: &TestServer, token: &str) -> String {
    let resp = server.get("/api/internal/projects").bearer(token).send();
    resp.expect_status(200);
    resp.json()[0]["id"].as_str().unwrap().to_string()
}

/// Creates a key in `project_id`; returns (raw key, key id).
fn create_key(server: &TestServer, token: &str, project_id: &str) -> (String, String) {
    let resp = server
        .post(&format!("/api/internal/projects/{project_id}/api-keys"))
        .bearer(token)
        .json(&json!({"name": "ci"}))
        .send();
    resp.expect_status(201);
    let body = resp.json();
    (
        body["key"].as_str().unwrap().to_string(),
        body["id"].as_str().unwrap().to_string(),
    )
}

/// Calls `/api/v1/me` with `key` as if from `ip` with `agent`; expects `status`.
fn use_key(server: &TestServer, key: &str, ip: &str, agent: &str, status: u16) {
    server
        .get("/api/v1/me")
        .bearer(key)
        .header("X-Forwarded-For", ip)
        .header("User-Agent", agent)
        .send()
        .expect_status(status);
}

fn activity(server: &TestServer, token: &str, key_id: &str) -> Value {
    let resp = server
        .get(&format!("/api/internal/api-keys/{key_id}/activity"))
        .bearer(token)
        .send();
    resp.expect_status(200);
    resp.json()
}

/// Polls the activity route until `done` holds (bounded by [`VISIBLE_WITHIN`]).
fn activity_once(
    server: &TestServer,
    token: &str,
    key_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + VISIBLE_WITHIN;
    loop {
        let body = activity(server, token, key_id);
        if done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "activity not visible within {VISIBLE_WITHIN:?}: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sleeps until the wall clock enters the next second (less than one second), so that two
/// uses are stored with different times.
fn next_second() {
    let second =
        |now: std::time::SystemTime| now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let start = second(std::time::SystemTime::now());
    while second(std::time::SystemTime::now()) == start {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every audit event of `action` in the server's database, newest first.
fn events(server: &TestServer, action: AuditAction) -> Vec<AuditEvent> {
    let store = Store::open_database(&server.database(), 1).expect("open the database");
    let filter = AuditFilter {
        actions: vec![action.as_str().to_string()],
        ..AuditFilter::default()
    };
    store
        .audit_events(
            &filter,
            Page {
                limit: 100,
                offset: 0,
            },
        )
        .expect("read events")
        .events
}

/// The number of audit events of any kind.
fn all_events(server: &TestServer) -> i64 {
    let store = Store::open_database(&server.database(), 1).expect("open the database");
    store
        .audit_events(
            &AuditFilter::default(),
            Page {
                limit: 1,
                offset: 0,
            },
        )
        .expect("read events")
        .total
}

fn values(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|entry| entry[field].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn activity_lists_each_address_and_agent_with_counts_most_recent_first_within_2_seconds() {
    let server = server_behind_proxy(&[]);
    let token = server.admin_token();
    let project = default_project(&server, &token);
    let (key, key_id) = create_key(&server, &token, &project);
    let empty = activity(&server, &token, &key_id);
    assert_eq!(empty, json!({"ips": [], "user_agents": []}));

    use_key(&server, &key, "203.0.113.1", "alpha/1", 200);
    use_key(&server, &key, "203.0.113.1", "alpha/1", 200);
    activity_once(&server, &token, &key_id, |body| {
        body["ips"][0]["requests"] == json!(2)
    });
    next_second();
    // A refused use by a working key (an account route) is a use from that address too.
    use_key(&server, &key, "2001:db8::7", "beta/2", 200);
    server
        .get("/api/internal/users/me")
        .bearer(&key)
        .header("X-Forwarded-For", "2001:db8::7")
        .header("User-Agent", "beta/2")
        .send()
        .expect_status(403);
    let body = activity_once(&server, &token, &key_id, |body| {
        body["ips"].as_array().unwrap().len() == 2 && body["ips"][0]["requests"] == json!(2)
    });
    assert_eq!(values(&body["ips"], "ip"), ["2001:db8::7", "203.0.113.1"]);
    assert_eq!(
        values(&body["user_agents"], "user_agent"),
        ["beta/2", "alpha/1"]
    );
    for list in ["ips", "user_agents"] {
        let newer = &body[list][0];
        let older = &body[list][1];
        assert_eq!(newer["requests"], json!(2), "{body}");
        assert_eq!(older["requests"], json!(2), "{body}");
        assert!(newer["last_seen_at"].as_str() > older["last_seen_at"].as_str());
        assert!(older["first_seen_at"].as_str() <= older["last_seen_at"].as_str());
        assert!(newer["last_seen_at"].as_str().unwrap().ends_with('Z'));
        let fields: Vec<String> = fields_of(newer);
        let name = if list == "ips" { "ip" } else { "user_agent" };
        assert_eq!(
            fields,
            sorted(&[name, "first_seen_at", "last_seen_at", "requests"])
        );
    }
    // A key that fails (unknown, inactive) counts nothing.
    use_key(
        &server,
        "sk_live_not-a-key",
        "198.51.100.9",
        "mallory/1",
        401,
    );
    server
        .patch(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&token)
        .json(&json!({"is_active": false}))
        .send()
        .expect_status(200);
    use_key(&server, &key, "198.51.100.9", "mallory/1", 401);
    // Instead of waiting for a flush that should bring nothing: reactivate the key and use it
    // once more from the newest address; once that use shows, every use before it has been
    // flushed too, so anything the failed ones counted would be there.
    server
        .patch(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&token)
        .json(&json!({"is_active": true}))
        .send()
        .expect_status(200);
    use_key(&server, &key, "2001:db8::7", "beta/2", 200);
    let after = activity_once(&server, &token, &key_id, |body| {
        body["ips"][0]["requests"] == json!(3)
    });
    assert_eq!(values(&after["ips"], "ip"), ["2001:db8::7", "203.0.113.1"]);
}

#[test]
fn a_long_user_agent_is_kept_cut_to_256_characters() {
    let server = server_behind_proxy(&[]);
    let token = server.admin_token();
    let project = default_project(&server, &token);
    let (key, key_id) = create_key(&server, &token, &project);
    let long = "é".repeat(300);
    use_key(&server, &key, "203.0.113.1", &long, 200);
    let body = activity_once(&server, &token, &key_id, |body| {
        !body["user_agents"].as_array().unwrap().is_empty()
    });
    let kept = body["user_agents"][0]["user_agent"].as_str().unwrap();
    assert_eq!(kept, "é".repeat(256));
}

#[test]
fn activity_is_for_members_of_the_keys_team_and_sessions_only() {
    let server = server_behind_proxy(&[]);
    let token = server.admin_token();
    let project = default_project(&server, &token);
    let (key, key_id) = create_key(&server, &token, &project);
    let path = format!("/api/internal/api-keys/{key_id}/activity");
    // A user of another team.
    let (_, outsider) = server.create_user(&token, "outsider@example.com", "outsider-password");
    server
        .get(&path)
        .bearer(&outsider)
        .send()
        .expect_detail(403, json!("This resource belongs to another team"));
    // A plain member of the key's team may read it.
    let (_, member) = server.create_user(&token, "member@example.com", "member-password");
    let team = server
        .get("/api/internal/teams")
        .bearer(&token)
        .send()
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    server
        .post(&format!("/api/internal/teams/{team}/members"))
        .bearer(&token)
        .json(&json!({"email": "member@example.com", "role": "member"}))
        .send()
        .expect_status(201);
    server.get(&path).bearer(&member).send().expect_status(200);
    // An API key, even the key itself, gets the account-route 403.
    server.get(&path).bearer(&key).send().expect_detail(
        403,
        json!("API keys cannot manage account resources; sign in"),
    );
    server.get(&path).send().expect_status(401);
    server
        .get("/api/internal/api-keys/00000000-0000-4000-8000-000000000000/activity")
        .bearer(&token)
        .send()
        .expect_detail(404, json!("API key not found"));
    server
        .get("/api/internal/api-keys/not-a-uuid/activity")
        .bearer(&token)
        .send()
        .expect_status(404);
}

#[test]
fn first_use_from_a_new_address_is_recorded_once_per_key_and_address() {
    let server = server_behind_proxy(&[]);
    let token = server.admin_token();
    let project = default_project(&server, &token);
    let (key, key_id) = create_key(&server, &token, &project);
    // The key's first address is not "new": there is nothing to compare with.
    use_key(&server, &key, "203.0.113.1", "first/1", 200);
    activity_once(&server, &token, &key_id, |body| {
        body["ips"].as_array().unwrap().len() == 1
    });
    assert!(events(&server, AuditAction::ApiKeyFirstUseFromNewIp).is_empty());
    // A second address is, once, however often it is used.
    for _ in 0..3 {
        use_key(&server, &key, "203.0.113.2", "second/2", 200);
    }
    activity_once(&server, &token, &key_id, |body| {
        body["ips"].as_array().unwrap().len() == 2
    });
    use_key(&server, &key, "203.0.113.2", "second/2", 200);
    use_key(&server, &key, "203.0.113.1", "first/1", 200);
    activity_once(&server, &token, &key_id, |body| {
        body["ips"][0]["requests"].as_i64().unwrap() + body["ips"][1]["requests"].as_i64().unwrap()
            == 6
    });
    let found = events(&server, AuditAction::ApiKeyFirstUseFromNewIp);
    assert_eq!(found.len(), 1, "{found:?}");
    let event = &found[0].event;
    assert_eq!(event.ip.as_deref(), Some("203.0.113.2"));
    assert_eq!(event.user_agent.as_deref(), Some("second/2"));
    assert_eq!(event.actor_kind, shipstar::store::ActorKind::Key);
    assert_eq!(event.actor_id.as_deref(), Some(key_id.as_str()));
    let prefix = &key[..16];
    assert_eq!(event.actor_label.as_deref(), Some(prefix));
    let target = event.target.as_ref().unwrap();
    assert_eq!(
        (target.kind.as_str(), target.id.as_deref()),
        ("api_key", Some(key_id.as_str()))
    );
    assert_eq!(event.project_id.as_deref(), Some(project.as_str()));
    assert!(event.team_id.is_some());
    assert_eq!(event.details, "{}");
}

#[test]
fn reads_write_nothing_to_the_audit_log() {
    let server = server_behind_proxy(&[]);
    let token = server.admin_token();
    let project = default_project(&server, &token);
    let (key, key_id) = create_key(&server, &token, &project);
    use_key(&server, &key, "203.0.113.1", "one/1", 200);
    activity_once(&server, &token, &key_id, |body| {
        body["ips"].as_array().unwrap().len() == 1
    });
    let before = all_events(&server);
    for _ in 0..5 {
        use_key(&server, &key, "203.0.113.1", "one/1", 200);
        server
            .get("/api/internal/users/me")
            .bearer(&token)
            .send()
            .expect_status(200);
        server.get("/api/v1/changelogs").send().expect_status(200);
        activity(&server, &token, &key_id);
        server
            .get(&format!("/api/internal/api-keys/{key_id}"))
            .bearer(&token)
            .send()
            .expect_status(200);
    }
    activity_once(&server, &token, &key_id, |body| {
        body["ips"][0]["requests"] == json!(6)
    });
    assert_eq!(all_events(&server), before);
}

/// Posts a leak report as if from `ip`.
fn report(server: &TestServer, body: &Value) -> Resp {
    server
        .post(REPORT)
        .header("User-Agent", "GitHub-Secret-Scanning/1.0")
        .header("X-Forwarded-For", "192.0.2.44")
        .json(body)
        .send()
}

#[test]
fn a_reported_key_is_labelled_and_switched_off_at_once_and_the_answer_names_no_secret() {
    let server = server_behind_proxy(&[]);
    let token = server.admin_token();
    let project = default_project(&server, &token);
    let (key, key_id) = create_key(&server, &token, &project);
    let (other, _) = create_key(&server, &token, &project);
    use_key(&server, &key, "203.0.113.1", "app/1", 200);
    let unknown = shipstar::auth::api_key::generate().raw;
    let mut broken = key.clone();
    broken.replace_range(20..21, if &key[20..21] == "A" { "B" } else { "A" });
    let body = json!([
        {"token": "not-a-key", "type": "shipstar_api_key"},
        {"token": unknown, "type": "shipstar_api_key", "url": null},
        {"token": key, "type": "shipstar_api_key",
         "url": "https://example.com/leak/config.env", "source": "content"},
        {"token": broken, "type": "shipstar_api_key"},
    ]);
    let resp = report(&server, &body);
    resp.expect_status(200);
    assert!(resp.header("Access-Control-Allow-Origin").is_none());
    let hash = |token: &str| shipstar::auth::api_key::hash(token);
    assert_eq!(
        resp.json(),
        json!([
            {"token_hash": hash("not-a-key"), "token_type": "shipstar_api_key", "label": "false_positive"},
            {"token_hash": hash(&unknown), "token_type": "shipstar_api_key", "label": "false_positive"},
            {"token_hash": hash(&key), "token_type": "shipstar_api_key", "label": "true_positive"},
            {"token_hash": hash(&broken), "token_type": "shipstar_api_key", "label": "false_positive"},
        ])
    );
    let text = resp.text();
    for secret in [
        key.as_str(),
        &key[..16],
        key_id.as_str(),
        "admin@",
        unknown.as_str(),
    ] {
        assert!(!text.contains(secret), "answer names {secret:?}: {text}");
    }
    // Switched off at once: the very next request is a 401.
    server
        .get("/api/v1/me")
        .bearer(&key)
        .send()
        .expect_detail(401, json!("Invalid or expired API token."));
    server
        .get("/api/v1/me")
        .bearer(&other)
        .send()
        .expect_status(200);
    let object = server
        .get(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&token)
        .send()
        .json();
    assert_eq!(object["is_active"], json!(false));
    assert!(object["deactivated_at"].is_string(), "{object}");
    assert_eq!(object["deactivated_reason"], json!("leak_reported"));
    assert_eq!(
        object["leak_report_url"],
        json!("https://example.com/leak/config.env")
    );
    let found = events(&server, AuditAction::ApiKeyReportedLeaked);
    assert_eq!(found.len(), 1, "{found:?}");
    let event = &found[0].event;
    assert_eq!(event.actor_kind, shipstar::store::ActorKind::Anonymous);
    assert_eq!(event.actor_id, None);
    assert_eq!(
        event.target.as_ref().unwrap().id.as_deref(),
        Some(key_id.as_str())
    );
    assert_eq!(event.project_id.as_deref(), Some(project.as_str()));
    assert_eq!(event.ip.as_deref(), Some("192.0.2.44"));
    assert_eq!(
        event.user_agent.as_deref(),
        Some("GitHub-Secret-Scanning/1.0")
    );
    let details: Value = serde_json::from_str(&event.details).unwrap();
    assert_eq!(
        details,
        json!({"url": "https://example.com/leak/config.env", "source": "content",
               "leaked_key_action": "deactivate"})
    );
    assert!(!event.details.contains(&key));
    // Reactivated by hand, the key works again and no longer says it was reported.
    let resp = server
        .patch(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&token)
        .json(&json!({"is_active": true}))
        .send();
    resp.expect_status(200);
    assert_eq!(resp.json()["deactivated_reason"], Value::Null);
    assert_eq!(resp.json()["leak_report_url"], Value::Null);
    server
        .get("/api/v1/me")
        .bearer(&key)
        .send()
        .expect_status(200);
    // The log never carries the token either.
    assert!(!server.log().contains(&key));
}

#[test]
fn with_leaked_key_action_notify_a_reported_key_stays_active_and_the_report_is_recorded() {
    let server = server_behind_proxy(&[("SHIPSTAR_LEAKED_KEY_ACTION", "notify")]);
    let token = server.admin_token();
    let project = default_project(&server, &token);
    let (key, key_id) = create_key(&server, &token, &project);
    let resp = report(
        &server,
        &json!([{"token": key, "type": "shipstar_api_key"}]),
    );
    resp.expect_status(200);
    assert_eq!(resp.json()[0]["label"], json!("true_positive"));
    server
        .get("/api/v1/me")
        .bearer(&key)
        .send()
        .expect_status(200);
    let object = server
        .get(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&token)
        .send()
        .json();
    assert_eq!(object["is_active"], json!(true));
    assert_eq!(object["deactivated_reason"], Value::Null);
    let found = events(&server, AuditAction::ApiKeyReportedLeaked);
    assert_eq!(found.len(), 1);
    let details: Value = serde_json::from_str(&found[0].event.details).unwrap();
    assert_eq!(
        details,
        json!({"url": null, "source": null, "leaked_key_action": "notify"})
    );
}

#[test]
fn report_leak_bad_bodies_are_422_and_change_nothing() {
    let server = server_behind_proxy(&[]);
    let token = server.admin_token();
    let project = default_project(&server, &token);
    let (key, _) = create_key(&server, &token, &project);
    let item = |token: &str| json!({"token": token, "type": "shipstar_api_key"});
    let many: Vec<Value> = (0..101).map(|_| item("x")).collect();
    let cases: Vec<(Value, Vec<(Value, &str)>)> = vec![
        (json!({"token": key}), vec![(json!(["body"]), "list_type")]),
        (json!([]), vec![(json!(["body"]), "too_short")]),
        (Value::Array(many), vec![(json!(["body"]), "too_long")]),
        (
            json!([item(&key), "sk_live_x"]),
            vec![(json!(["body", 1]), "model_attributes_type")],
        ),
        (
            json!([item(&key), {"type": "shipstar_api_key"}]),
            vec![(json!(["body", 1, "token"]), "missing")],
        ),
        (
            json!([{"token": key, "type": "aws_key"}, {"token": 7}]),
            vec![
                (json!(["body", 0, "type"]), "literal_error"),
                (json!(["body", 1, "token"]), "string_type"),
                (json!(["body", 1, "type"]), "missing"),
            ],
        ),
        (
            json!([{"token": key, "type": "shipstar_api_key", "url": "x".repeat(2049),
                    "source": ""}]),
            vec![
                (json!(["body", 0, "url"]), "string_too_long"),
                (json!(["body", 0, "source"]), "string_too_short"),
            ],
        ),
        (
            json!([{"token": "", "type": "shipstar_api_key"}]),
            vec![(json!(["body", 0, "token"]), "string_too_short")],
        ),
    ];
    for (body, expected) in cases {
        expect_problems(&report(&server, &body), &expected);
    }
    let repeated = format!(r#"[{{"token": "{key}", "token": "x", "type": "shipstar_api_key"}}]"#);
    let resp = server
        .post(REPORT)
        .header("Content-Type", "application/json")
        .body(repeated.into_bytes())
        .send();
    expect_problems(&resp, &[(json!(["body"]), "json_invalid")]);
    server
        .post(REPORT)
        .header("Content-Type", "text/plain")
        .body(b"[]".to_vec())
        .send()
        .expect_status(415);
    // Nothing was reported: the key still works, and no event was written.
    server
        .get("/api/v1/me")
        .bearer(&key)
        .send()
        .expect_status(200);
    assert!(events(&server, AuditAction::ApiKeyReportedLeaked).is_empty());
}

#[test]
fn report_leak_is_throttled_per_client_address_like_public_content() {
    let server = server_behind_proxy(&[("SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE", "2")]);
    let body = json!([{"token": "not-a-key", "type": "shipstar_api_key"}]);
    for remaining in ["1", "0"] {
        let resp = report(&server, &body);
        resp.expect_status(200);
        assert_eq!(resp.header("X-RateLimit-Limit"), Some("2"));
        assert_eq!(resp.header("X-RateLimit-Remaining"), Some(remaining));
        assert!(resp.header("X-RateLimit-Reset").is_some());
    }
    let resp = report(&server, &body);
    resp.expect_status(429);
    assert!(resp.header("Retry-After").is_some());
    assert_eq!(resp.header("X-RateLimit-Remaining"), Some("0"));
    // The same class: public content from that address is refused too, another address is not.
    server
        .get("/api/v1/changelogs")
        .header("X-Forwarded-For", "192.0.2.44")
        .send()
        .expect_status(429);
    server
        .post(REPORT)
        .header("X-Forwarded-For", "192.0.2.45")
        .json(&body)
        .send()
        .expect_status(200);
}
