//! Integration tests: the MCP endpoint.
//!
//! Contract: `mcp.md`. Every transport rule is checked here over raw HTTP against the real
//! binary; the tools are driven by the official MCP Python SDK (`mcp` on PyPI, pinned in
//! `tests/requirements.txt`) through `tests/mcp/sdk_client.py`. Like schemathesis in
//! `openapi.rs`, the SDK is a required part of the suite: when it is missing, the test fails
//! and says how to install it.

use crate::fixture::*;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BASE_URL: &str = "https://shipstar.example.com";
const ACCEPT: &str = "application/json, text/event-stream";
const HANDSHAKE_REVISIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
const STATELESS: &str = "2026-07-28";
const LATEST: &str = "2025-11-25";
const API_KEY_401: &str = "Invalid or expired API token.";

/// A server with a key of the `default` project.
struct World {
    server: TestServer,
    admin: String,
    key: String,
    key_id: String,
    project_id: String,
}

fn world_with(options: Options) -> World {
    let server = TestServer::start_with(options.env("SHIPSTAR_BASE_URL", BASE_URL));
    let admin = server.admin_token();
    let projects = server
        .get("/api/internal/projects")
        .bearer(&admin)
        .send()
        .json();
    let project_id = projects[0]["id"].as_str().unwrap().to_string();
    let (key, key_id) = new_key(&server, &admin, &project_id, "assistant");
    World {
        server,
        admin,
        key,
        key_id,
        project_id,
    }
}

fn world() -> World {
    world_with(Options::default())
}

/// A new key of `project_id`: (the key, its id).
fn new_key(server: &TestServer, admin: &str, project_id: &str, name: &str) -> (String, String) {
    let resp = server
        .post(&format!("/api/internal/projects/{project_id}/api-keys"))
        .bearer(admin)
        .json(&json!({ "name": name }))
        .send();
    resp.expect_status(201);
    let body = resp.json();
    (
        body["key"].as_str().unwrap().to_string(),
        body["id"].as_str().unwrap().to_string(),
    )
}

/// `POST /mcp` with the key, `Accept` for both answers, JSON, and `headers`.
fn post(w: &World, body: &Value, headers: &[(&str, &str)]) -> Resp {
    let mut req = w
        .server
        .post("/mcp")
        .bearer(&w.key)
        .header("Accept", ACCEPT);
    for (name, value) in headers {
        req = req.header(name, value);
    }
    req.json(body).send()
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// A request at the newest handshake revision; its 200 JSON-RPC answer.
fn rpc(w: &World, method: &str, params: Value) -> Value {
    let resp = post(
        w,
        &request(1, method, params),
        &[("MCP-Protocol-Version", LATEST)],
    );
    resp.expect_status(200);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    let body = resp.json();
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], 1);
    body
}

/// Calls a tool; the `result` member.
fn call(w: &World, name: &str, arguments: Value) -> Value {
    let body = rpc(
        w,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    );
    assert!(body["result"].is_object(), "{body}");
    body["result"].clone()
}

/// Calls a tool that must succeed; its `structuredContent`, checked against the text block.
fn ok_call(w: &World, name: &str, arguments: Value) -> Value {
    let result = call(w, name, arguments);
    assert_eq!(result["isError"], false, "{name}: {result}");
    let text = result["content"][0]["text"].as_str().unwrap();
    assert_eq!(result["content"][0]["type"], "text");
    let parsed: Value = serde_json::from_str(text).unwrap();
    assert_eq!(parsed, result["structuredContent"]);
    parsed
}

/// Calls a tool that must fail as a tool; its message.
fn failed_call(w: &World, name: &str, arguments: Value) -> String {
    let result = call(w, name, arguments);
    assert_eq!(result["isError"], true, "{name}: {result}");
    assert!(result.get("structuredContent").is_none());
    result["content"][0]["text"].as_str().unwrap().to_string()
}

fn changelog_text(title: &str) -> String {
    json!({"title": title, "entries": [
        {"category": "Added", "title": "Tools", "description": "For assistants"}
    ]})
    .to_string()
}

/// A published changelog of the key's project made over MCP: its internal object.
fn published_changelog(w: &World, title: &str, slug: &str) -> Value {
    let created = ok_call(
        w,
        "create_content",
        json!({"type": "changelog", "title": title, "content": changelog_text(title)}),
    );
    ok_call(
        w,
        "publish_content",
        json!({"id": created["id"], "slug": slug}),
    )
}

fn error_of(resp: &Resp) -> (i64, String) {
    let body = resp.json();
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    (
        body["error"]["code"].as_i64().unwrap(),
        body["error"]["message"].as_str().unwrap().to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

#[test]
fn mcp_initialize_answers_the_requested_revision_or_the_newest_and_issues_no_session() {
    let w = world();
    let mut asked: Vec<&str> = HANDSHAKE_REVISIONS.to_vec();
    asked.extend(["2099-01-01", STATELESS]);
    for requested in asked {
        let resp = post(
            &w,
            &request(
                7,
                "initialize",
                json!({"protocolVersion": requested, "capabilities": {},
                       "clientInfo": {"name": "t", "version": "1"}}),
            ),
            &[],
        );
        resp.expect_status(200);
        assert_eq!(resp.header("Mcp-Session-Id"), None);
        assert_eq!(resp.header("Content-Type"), Some("application/json"));
        let result = &resp.json()["result"];
        let expected = if HANDSHAKE_REVISIONS.contains(&requested) {
            requested
        } else {
            LATEST
        };
        assert_eq!(result["protocolVersion"], expected, "asked {requested}");
        assert_eq!(
            result["capabilities"],
            json!({"tools": {"listChanged": false}})
        );
        assert_eq!(result["serverInfo"]["name"], "shipstar");
        assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    }
    // initialize without a revision is malformed params.
    let resp = post(&w, &request(8, "initialize", json!({})), &[]);
    resp.expect_status(200);
    assert_eq!(error_of(&resp).0, -32602);
}

#[test]
fn mcp_every_post_stands_alone_without_initialize() {
    let w = world();
    // No initialize ever happened on this server: a tools/list is answered all the same.
    let body = rpc(&w, "tools/list", json!({}));
    assert_eq!(body["result"]["tools"].as_array().unwrap().len(), 11);
    let body = rpc(&w, "ping", json!({}));
    assert_eq!(body["result"], json!({}));
}

#[test]
fn mcp_unsupported_protocol_version_header_is_400_after_initialize() {
    let w = world();
    for header in ["1999-01-01", "2025-11-26", "latest"] {
        let resp = post(
            &w,
            &request(3, "tools/list", json!({})),
            &[("MCP-Protocol-Version", header)],
        );
        resp.expect_status(400);
        let body = resp.json();
        assert_eq!(body["id"], 3);
        assert_eq!(body["error"]["code"], -32022);
        assert_eq!(body["error"]["data"]["requested"], header);
        assert!(body["error"]["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!(LATEST)));
        // A notification with that header is refused too.
        let resp = post(
            &w,
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            &[("MCP-Protocol-Version", header)],
        );
        resp.expect_status(400);
    }
    // initialize itself is not bound by the header: it is where the revision is chosen.
    let resp = post(
        &w,
        &request(4, "initialize", json!({"protocolVersion": LATEST})),
        &[("MCP-Protocol-Version", "1999-01-01")],
    );
    resp.expect_status(200);
    // Every served revision is accepted in the header.
    for revision in HANDSHAKE_REVISIONS {
        post(
            &w,
            &request(5, "ping", json!({})),
            &[("MCP-Protocol-Version", revision)],
        )
        .expect_status(200);
    }
}

#[test]
fn mcp_server_discover_leads_to_the_stateless_revision_with_its_envelope() {
    let w = world();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    let stateless = |method: &str, params: Value, headers: &[(&str, &str)]| {
        post(&w, &request(9, method, params), headers)
    };
    let headers = [
        ("MCP-Protocol-Version", STATELESS),
        ("Mcp-Method", "server/discover"),
    ];
    let resp = stateless("server/discover", json!({"_meta": meta}), &headers);
    resp.expect_status(200);
    let result = &resp.json()["result"];
    assert_eq!(result["supportedVersions"], json!([STATELESS]));
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["capabilities"]["tools"],
        json!({"listChanged": false})
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "shipstar"
    );

    let call_headers = [
        ("MCP-Protocol-Version", STATELESS),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "list_changelogs"),
    ];
    let params = json!({"_meta": meta, "name": "list_changelogs", "arguments": {}});
    let resp = stateless("tools/call", params.clone(), &call_headers);
    resp.expect_status(200);
    let result = &resp.json()["result"];
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["structuredContent"],
        json!({"items": [], "total": 0})
    );

    // The envelope is required, and the routing headers must repeat it.
    let resp = stateless("tools/list", json!({}), &headers[..1]);
    resp.expect_status(400);
    assert_eq!(error_of(&resp).0, -32602);
    let resp = stateless(
        "tools/call",
        params.clone(),
        &[
            ("MCP-Protocol-Version", STATELESS),
            ("Mcp-Method", "tools/list"),
        ],
    );
    resp.expect_status(400);
    assert_eq!(error_of(&resp).0, -32020);
    let resp = stateless(
        "tools/call",
        params.clone(),
        &[
            ("MCP-Protocol-Version", STATELESS),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "get_changelog"),
        ],
    );
    resp.expect_status(400);
    assert_eq!(error_of(&resp).0, -32020);
    // An envelope naming a revision the header does not: a mismatch.
    let resp = stateless("tools/call", params, &[("Mcp-Method", "tools/call")]);
    resp.expect_status(400);
    assert_eq!(error_of(&resp).0, -32020);
    // An unknown method at this revision is 404, as its transport asks.
    let resp = stateless(
        "resources/list",
        json!({"_meta": meta}),
        &[
            ("MCP-Protocol-Version", STATELESS),
            ("Mcp-Method", "resources/list"),
        ],
    );
    resp.expect_status(404);
    assert_eq!(error_of(&resp).0, -32601);
}

#[test]
fn mcp_notifications_and_responses_are_202_without_a_body() {
    let w = world();
    for message in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}),
        json!({"jsonrpc": "2.0", "id": 5, "result": {}}),
        json!({"jsonrpc": "2.0", "id": "x", "error": {"code": -1, "message": "no"}}),
    ] {
        let resp = post(&w, &message, &[("MCP-Protocol-Version", LATEST)]);
        resp.expect_status(202);
        assert!(resp.body.is_empty(), "{message}");
        assert_eq!(resp.header("Mcp-Session-Id"), None);
    }
}

#[test]
fn mcp_get_and_delete_are_405_with_allow_post() {
    let w = world();
    for method in ["GET", "DELETE", "PUT"] {
        let resp = w
            .server
            .request(method, "/mcp")
            .bearer(&w.key)
            .header("Accept", "text/event-stream")
            .send();
        resp.expect_detail(405, json!("Method Not Allowed"));
        assert_eq!(resp.header("Allow"), Some("POST"));
    }
}

#[test]
fn mcp_client_that_does_not_accept_json_is_406() {
    let w = world();
    let body = request(1, "ping", json!({}));
    for accept in ["text/event-stream", "text/html", "application/json;q=0"] {
        let resp = w
            .server
            .post("/mcp")
            .bearer(&w.key)
            .header("Accept", accept)
            .json(&body)
            .send();
        resp.expect_status(406);
        assert!(resp.json()["detail"]
            .as_str()
            .unwrap()
            .contains("application/json"));
    }
    // No Accept at all accepts anything; */* and application/* admit JSON.
    for accept in [None, Some("*/*"), Some("application/*")] {
        let mut req = w.server.post("/mcp").bearer(&w.key);
        if let Some(accept) = accept {
            req = req.header("Accept", accept);
        }
        req.json(&body).send().expect_status(200);
    }
}

#[test]
fn mcp_body_that_is_not_json_is_415() {
    let w = world();
    let resp = w
        .server
        .post("/mcp")
        .bearer(&w.key)
        .header("Accept", ACCEPT)
        .header("Content-Type", "text/plain")
        .body(b"{}".to_vec())
        .send();
    resp.expect_detail(415, json!("This route takes application/json."));
}

#[test]
fn mcp_foreign_origin_is_403_and_the_servers_own_is_served() {
    let w = world();
    let body = request(1, "ping", json!({}));
    for origin in [
        "https://evil.example.com",
        "http://shipstar.example.com",
        "https://shipstar.example.com:8443",
        "null",
        "http://127.0.0.1",
    ] {
        let resp = post(&w, &body, &[("Origin", origin)]);
        resp.expect_detail(403, json!("Origin not allowed"));
    }
    // Refused before the key is even looked at: no credential is needed to be refused.
    let resp = w
        .server
        .post("/mcp")
        .header("Origin", "https://evil.example.com")
        .json(&body)
        .send();
    resp.expect_status(403);
    for origin in [
        "https://shipstar.example.com",
        "https://SHIPSTAR.example.com:443",
    ] {
        post(&w, &body, &[("Origin", origin)]).expect_status(200);
    }
}

#[test]
fn mcp_missing_bad_or_session_credential_is_401_before_any_json_rpc() {
    let w = world();
    let garbage = b"this is not JSON-RPC".to_vec();
    let check = |resp: Resp| {
        resp.expect_detail(401, json!(API_KEY_401));
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    };
    let send = |auth: Option<String>| {
        let mut req = w.server.post("/mcp").header("Accept", ACCEPT);
        if let Some(auth) = auth {
            req = req.header("Authorization", &auth);
        }
        req.header("Content-Type", "application/json")
            .body(garbage.clone())
            .send()
    };
    check(send(None));
    check(send(Some("Bearer sk_live_not-a-real-key".into())));
    check(send(Some(format!("Bearer {}x", w.key))));
    // A session JWT is refused here: assistants get keys.
    check(send(Some(format!("Bearer {}", w.admin))));
    // A deactivated key stops working on the next request.
    w.server
        .patch(&format!("/api/internal/api-keys/{}", w.key_id))
        .bearer(&w.admin)
        .json(&json!({"is_active": false}))
        .send()
        .expect_status(200);
    check(send(Some(format!("Bearer {}", w.key))));
}

#[test]
fn mcp_json_rpc_errors_carry_their_codes() {
    let w = world();
    let raw = |bytes: &[u8]| {
        w.server
            .post("/mcp")
            .bearer(&w.key)
            .header("Accept", ACCEPT)
            .header("Content-Type", "application/json")
            .body(bytes.to_vec())
            .send()
    };
    let resp = raw(b"{\"jsonrpc\": \"2.0\", ");
    resp.expect_status(400);
    assert_eq!(error_of(&resp).0, -32700);
    assert_eq!(resp.json()["id"], Value::Null);
    // Strict JSON, as on every route: a repeated member name (here inside the tool's
    // arguments, where the last one would otherwise win) is a parse error.
    let resp = raw(
        br#"{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "get_changelog", "arguments": {"slug": "a", "slug": "b"}}}"#,
    );
    resp.expect_status(400);
    let (code, message) = error_of(&resp);
    assert_eq!(code, -32700);
    assert!(
        message.contains("duplicate object member name \"slug\""),
        "{message}"
    );
    for (message, id) in [
        (json!("ping"), Value::Null),
        (
            json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
            json!(1),
        ),
        (json!({"jsonrpc": "2.0", "id": 2, "method": 3}), json!(2)),
        (
            json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}),
            Value::Null,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 4, "method": "ping", "params": [1]}),
            json!(4),
        ),
    ] {
        let resp = post(&w, &message, &[("MCP-Protocol-Version", LATEST)]);
        resp.expect_status(400);
        assert_eq!(error_of(&resp).0, -32600, "{message}");
        assert_eq!(resp.json()["id"], id, "{message}");
    }
    let body = rpc(&w, "resources/list", json!({}));
    assert_eq!(body["error"]["code"], -32601);
    for params in [
        json!({"name": "no_such_tool", "arguments": {}}),
        json!({"arguments": {}}),
        json!({"name": 5}),
        json!({"name": "list_changelogs", "arguments": [1]}),
        json!({"name": "list_changelogs", "arguments": "limit=5"}),
    ] {
        let body = rpc(&w, "tools/call", params.clone());
        assert_eq!(body["error"]["code"], -32602, "{params}");
    }
    let body = rpc(&w, "tools/list", json!({"cursor": 5}));
    assert_eq!(body["error"]["code"], -32602);
}

#[test]
fn mcp_batches_are_taken_only_where_the_revision_allows_them() {
    let w = world();
    let batch = json!([
        request(1, "ping", json!({})),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        request(2, "tools/call", json!({"name": "list_blog_posts"})),
        request(3, "initialize", json!({"protocolVersion": LATEST})),
    ]);
    // Without the header the revision is 2025-03-26, which has batches.
    for headers in [vec![], vec![("MCP-Protocol-Version", "2025-03-26")]] {
        let resp = post(&w, &batch, &headers);
        resp.expect_status(200);
        let replies = resp.json();
        let replies = replies.as_array().unwrap();
        assert_eq!(replies.len(), 3, "{replies:?}");
        assert_eq!(replies[0], json!({"jsonrpc": "2.0", "id": 1, "result": {}}));
        assert_eq!(replies[1]["result"]["isError"], false);
        assert!(replies[1]["result"].get("structuredContent").is_none());
        assert_eq!(replies[2]["error"]["code"], -32600);
    }
    let only_notifications = json!([{"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    let resp = post(&w, &only_notifications, &[]);
    resp.expect_status(202);
    assert!(resp.body.is_empty());
    for revision in ["2025-06-18", LATEST] {
        let resp = post(&w, &batch, &[("MCP-Protocol-Version", revision)]);
        resp.expect_status(400);
        assert_eq!(error_of(&resp).0, -32600);
    }
    let resp = post(&w, &json!([]), &[]);
    resp.expect_status(400);
    assert_eq!(error_of(&resp).0, -32600);
    let many: Vec<Value> = (0..21).map(|n| request(n, "ping", json!({}))).collect();
    let resp = post(&w, &Value::Array(many), &[]);
    resp.expect_status(400);
    assert_eq!(error_of(&resp).0, -32600);
}

// ---------------------------------------------------------------------------------------------
// Limits and usage
// ---------------------------------------------------------------------------------------------

#[test]
fn mcp_calls_count_against_the_keys_rate_limit() {
    let w = world_with(Options::default().env("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "3"));
    let body = request(1, "tools/call", json!({"name": "list_changelogs"}));
    for remaining in ["2", "1", "0"] {
        let resp = post(&w, &body, &[("MCP-Protocol-Version", LATEST)]);
        resp.expect_status(200);
        assert_eq!(resp.header("X-RateLimit-Limit"), Some("3"));
        assert_eq!(resp.header("X-RateLimit-Remaining"), Some(remaining));
    }
    let resp = post(&w, &body, &[("MCP-Protocol-Version", LATEST)]);
    resp.expect_status(429);
    assert!(resp.header("Retry-After").is_some());
    // The same limit as the public API: the key is spent there too.
    w.server
        .get("/api/v1/me")
        .bearer(&w.key)
        .send()
        .expect_status(429);
}

#[test]
fn mcp_calls_count_in_the_keys_usage() {
    let w = world();
    let body = request(1, "tools/call", json!({"name": "list_changelogs"}));
    for _ in 0..3 {
        post(&w, &body, &[("MCP-Protocol-Version", LATEST)]).expect_status(200);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let row = loop {
        let resp = w
            .server
            .get(&format!("/api/internal/api-keys/{}/usage?days=1", w.key_id))
            .bearer(&w.admin)
            .send();
        resp.expect_status(200);
        let row = resp.json()[0].clone();
        if row["requests"] == json!(3) || Instant::now() >= deadline {
            break row;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(row["requests"], 3, "{row}");
    assert_eq!(row["rejected"], 0, "{row}");
    let key = w
        .server
        .get(&format!("/api/internal/api-keys/{}", w.key_id))
        .bearer(&w.admin)
        .send()
        .json();
    assert!(key["last_used_at"].is_string(), "{key}");
}

#[test]
fn mcp_batch_messages_each_count_against_the_rate_limit() {
    let w = world_with(Options::default().env("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "3"));
    let batch: Vec<Value> = (0..4).map(|n| request(n, "ping", json!({}))).collect();
    let resp = post(&w, &Value::Array(batch), &[]);
    resp.expect_status(429);
}

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

#[test]
fn mcp_tools_list_gives_eleven_tools_with_schemas_and_annotations() {
    let w = world();
    let tools = rpc(&w, "tools/list", json!({}))["result"]["tools"].clone();
    let tools = tools.as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "list_changelogs",
            "get_changelog",
            "list_blog_posts",
            "get_blog_post",
            "list_kb_article_sets",
            "get_kb_article_set",
            "list_drafts",
            "create_content",
            "update_content",
            "publish_content",
            "unpublish_content",
        ]
    );
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        let read = name.starts_with("list_") || name.starts_with("get_");
        assert_eq!(tool["annotations"]["readOnlyHint"], read, "{name}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{name}");
        assert!(tool["description"].as_str().unwrap().len() > 20, "{name}");
    }
    assert_eq!(
        tools[7]["inputSchema"]["required"],
        json!(["type", "title", "content"])
    );
    // Revisions before structured output get no output schemas (and no structuredContent).
    let resp = post(
        &w,
        &request(1, "tools/list", json!({})),
        &[("MCP-Protocol-Version", "2025-03-26")],
    );
    let old = resp.json()["result"]["tools"][0].clone();
    assert!(old.get("outputSchema").is_none());
    assert_eq!(old["annotations"]["readOnlyHint"], true);
}

#[test]
fn mcp_read_tools_return_exactly_what_the_public_routes_return() {
    let w = world();
    for n in 0..3 {
        published_changelog(&w, &format!("Release {n}"), &format!("release-{n}"));
    }
    let listed = ok_call(&w, "list_changelogs", json!({"limit": 2, "offset": 1}));
    let resp = w
        .server
        .get("/api/v1/changelogs?limit=2&offset=1")
        .bearer(&w.key)
        .send();
    resp.expect_status(200);
    assert_eq!(listed["items"], resp.json());
    assert_eq!(listed["total"], 3);
    assert_eq!(resp.header("X-Total-Count"), Some("3"));
    let one = ok_call(&w, "get_changelog", json!({"slug": "release-1"}));
    let resp = w.server.get("/api/v1/changelog/release-1").send();
    assert_eq!(one, resp.json());

    let kb = json!({"articles": [{"category": "Start", "title": "Install", "body": "Run."}]});
    let set = ok_call(
        &w,
        "create_content",
        json!({"type": "kb", "title": "Guide", "content": kb.to_string()}),
    );
    ok_call(&w, "publish_content", json!({"id": set["id"]}));
    let sets = ok_call(&w, "list_kb_article_sets", json!({}));
    assert_eq!(sets["items"], w.server.get("/api/v1/kb").send().json());
    let read = ok_call(&w, "get_kb_article_set", json!({"slug": "guide"}));
    assert_eq!(read, w.server.get("/api/v1/kb/guide").send().json());

    let post_item = ok_call(
        &w,
        "create_content",
        json!({"type": "blog", "title": "Hello world", "content": "# Hi"}),
    );
    let drafts = ok_call(&w, "list_drafts", json!({}));
    assert_eq!(drafts["total"], 1);
    assert_eq!(drafts["items"][0]["id"], post_item["id"]);
    let published = ok_call(&w, "publish_content", json!({"id": post_item["id"]}));
    assert_eq!(published["public_slug"], "hello-world");
    let posts = ok_call(&w, "list_blog_posts", json!({}));
    assert_eq!(posts["items"], w.server.get("/api/v1/blogs").send().json());
    let read = ok_call(&w, "get_blog_post", json!({"slug": "hello-world"}));
    assert_eq!(read, w.server.get("/api/v1/blog/hello-world").send().json());
    assert_eq!(ok_call(&w, "list_drafts", json!({}))["total"], 0);
}

#[test]
fn mcp_writes_have_the_routes_effects_on_feeds_etags_and_counts() {
    let w = world();
    let list_etag = || {
        let resp = w.server.get("/api/v1/changelogs").bearer(&w.key).send();
        (
            resp.header("ETag").unwrap().to_string(),
            resp.header("X-Total-Count").unwrap().to_string(),
        )
    };
    let (empty_etag, count) = list_etag();
    assert_eq!(count, "0");
    let item = published_changelog(&w, "Spring", "spring");
    let (etag, count) = list_etag();
    assert_ne!(etag, empty_etag);
    assert_eq!(count, "1");
    let feed = w.server.get("/api/v1/changelogs/feed").send().text();
    assert!(feed.contains("<title>Spring</title>"), "{feed}");

    let updated = ok_call(
        &w,
        "update_content",
        json!({"id": item["id"], "title": "Spring, final"}),
    );
    assert_eq!(updated["title"], "Spring, final");
    assert_eq!(updated["is_published"], true);
    let (changed_etag, _) = list_etag();
    assert_ne!(changed_etag, etag);
    let public = w.server.get("/api/v1/changelog/spring").send();
    assert_eq!(public.json()["title"], "Spring, final");

    let withdrawn = ok_call(&w, "unpublish_content", json!({"id": item["id"]}));
    assert_eq!(withdrawn["is_published"], false);
    assert_eq!(withdrawn["public_slug"], "spring");
    w.server
        .get("/api/v1/changelog/spring")
        .send()
        .expect_detail(404, json!("Changelog not found"));
    let feed = w.server.get("/api/v1/changelogs/feed").send().text();
    assert!(!feed.contains("Spring"), "{feed}");
    assert_eq!(list_etag(), (empty_etag, "0".to_string()));
    // What the MCP tool made is what the dashboard route reads.
    let resp = w
        .server
        .get(&format!(
            "/api/internal/sources/content/{}",
            item["id"].as_str().unwrap()
        ))
        .bearer(&w.admin)
        .send();
    assert_eq!(resp.json(), withdrawn);
}

#[test]
fn mcp_tool_failures_the_assistant_can_act_on_are_is_error_results() {
    let w = world();
    // Arguments that fail the input schema.
    for (name, arguments, expected) in [
        ("list_changelogs", json!({"limit": 0}), "limit: "),
        ("list_changelogs", json!({"limit": "5"}), "limit: "),
        ("list_blog_posts", json!({"offset": -1}), "offset: "),
        (
            "list_blog_posts",
            json!({"page": 2}),
            "page: Extra inputs are not permitted",
        ),
        ("get_changelog", json!({}), "slug: Field required"),
        (
            "get_changelog",
            json!({"slug": "Not A Slug"}),
            "slug: String should match pattern",
        ),
        (
            "list_drafts",
            json!({"type": "video"}),
            "type: Input should be",
        ),
        (
            "create_content",
            json!({"type": "blog"}),
            "title: Field required",
        ),
        (
            "update_content",
            json!({"title": "x"}),
            "id: Field required",
        ),
    ] {
        let message = failed_call(&w, name, arguments.clone());
        assert!(
            message.starts_with("Invalid arguments: ") && message.contains(expected),
            "{name} {arguments}: {message}"
        );
    }
    // Invalid content, located down to the field.
    let message = failed_call(
        &w,
        "create_content",
        json!({"type": "changelog", "title": "T",
               "content": json!({"title": "T", "entries": [{"category": "A"}]}).to_string()}),
    );
    assert!(
        message.contains("content.entries.0.title: Field required"),
        "{message}"
    );
    let message = failed_call(
        &w,
        "create_content",
        json!({"type": "kb", "title": "T", "content": "{}", "period_start": "2025-01-01T00:00:00Z"}),
    );
    assert!(
        message.contains("period_start: KB article sets have no period"),
        "{message}"
    );
    // Not found.
    assert_eq!(
        failed_call(&w, "get_blog_post", json!({"slug": "nothing-here"})),
        "Blog post not found"
    );
    assert_eq!(
        failed_call(
            &w,
            "publish_content",
            json!({"id": "7d4e3c1a-0000-4000-8000-000000000000"})
        ),
        "Content not found"
    );
    assert_eq!(
        failed_call(&w, "unpublish_content", json!({"id": "not-a-uuid"})),
        "Content not found"
    );
    // Slug taken.
    published_changelog(&w, "First", "taken");
    let second = ok_call(
        &w,
        "create_content",
        json!({"type": "changelog", "title": "Second", "content": changelog_text("Second")}),
    );
    let message = failed_call(
        &w,
        "publish_content",
        json!({"id": second["id"], "slug": "taken"}),
    );
    let resp = w
        .server
        .post(&format!(
            "/api/internal/content/{}/publish",
            second["id"].as_str().unwrap()
        ))
        .bearer(&w.key)
        .json(&json!({"slug": "taken"}))
        .send();
    resp.expect_status(409);
    assert_eq!(json!(message), resp.json()["detail"]);
    // Nothing of the refused calls was written.
    let drafts = ok_call(&w, "list_drafts", json!({}));
    assert_eq!(drafts["total"], 1);
    assert_eq!(drafts["items"][0]["id"], second["id"]);
}

#[test]
fn mcp_tools_act_on_the_keys_project_only() {
    let w = world();
    let team = create_team(&w.server, &w.admin, json!({"name": "Others"}));
    let other = create_project(
        &w.server,
        &w.admin,
        team["id"].as_str().unwrap(),
        json!({"name": "Elsewhere"}),
    );
    let other_id = other["id"].as_str().unwrap();
    let make = |title: &str| {
        let resp = w
            .server
            .post(&format!("/api/internal/projects/{other_id}/content"))
            .bearer(&w.admin)
            .json(&json!({"type": "changelog", "title": title, "content": changelog_text(title)}))
            .send();
        resp.expect_status(201);
        resp.json()["id"].as_str().unwrap().to_string()
    };
    let published = make("Theirs");
    w.server
        .post(&format!("/api/internal/content/{published}/publish"))
        .bearer(&w.admin)
        .json(&json!({"slug": "theirs"}))
        .send()
        .expect_status(200);
    let draft = make("Their draft");

    assert_eq!(ok_call(&w, "list_changelogs", json!({}))["total"], 0);
    assert_eq!(ok_call(&w, "list_drafts", json!({}))["total"], 0);
    assert_eq!(
        failed_call(&w, "get_changelog", json!({"slug": "theirs"})),
        "Changelog not found"
    );
    for (name, arguments) in [
        ("update_content", json!({"id": draft, "title": "Mine now"})),
        ("publish_content", json!({"id": draft})),
        ("unpublish_content", json!({"id": published})),
    ] {
        assert_eq!(
            failed_call(&w, name, arguments),
            "This resource belongs to another project"
        );
    }
    // Nothing changed there.
    let resp = w
        .server
        .get(&format!("/api/internal/sources/content/{draft}"))
        .bearer(&w.admin)
        .send();
    assert_eq!(resp.json()["title"], "Their draft");
    assert_eq!(resp.json()["is_published"], false);
    w.server
        .get("/api/v1/changelog/theirs")
        .send()
        .expect_status(200);
    // What the key creates lands in its own project.
    let mine = ok_call(
        &w,
        "create_content",
        json!({"type": "blog", "title": "Mine", "content": "Text"}),
    );
    assert_eq!(mine["project_id"], w.project_id);
}

// ---------------------------------------------------------------------------------------------
// The official Python SDK
// ---------------------------------------------------------------------------------------------

/// The whole SDK run must end within this; it normally takes a few seconds.
const SDK_TIME_LIMIT: Duration = Duration::from_secs(120);

#[test]
#[ignore = "needs the MCP Python SDK: run ./test"]
fn python_sdk_lists_and_calls_every_tool_at_the_stateless_and_handshake_revisions() {
    require_python_tool("mcp");
    let w = world();
    let output_path = w.server.dir.join("sdk.txt");
    let output = std::fs::File::create(&output_path).expect("output file");
    let errors = output.try_clone().expect("output file");
    let mut child = Command::new(python())
        .arg(repo_path("tests/mcp/sdk_client.py"))
        .env("SHIPSTAR_MCP_URL", format!("http://{}/mcp", w.server.addr))
        .env("SHIPSTAR_MCP_KEY", &w.key)
        .current_dir(&w.server.dir)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors)
        .spawn()
        .expect("start the SDK client");
    let deadline = Instant::now() + SDK_TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the SDK client") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&output_path).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("the SDK client ran past its limit:\n{text}"));
    assert!(
        status.success(),
        "the SDK client failed:\n{text}\nserver log:\n{}",
        w.server.log()
    );
    assert!(
        text.contains(&format!("mode=auto protocol={STATELESS} tools=11 ok")),
        "{text}"
    );
    assert!(
        text.contains(&format!("mode=legacy protocol={LATEST} tools=11 ok")),
        "{text}"
    );
    let log = w.server.log();
    assert!(
        !log.contains(" 500: ") && !log.contains("panicked"),
        "{log}"
    );
}
