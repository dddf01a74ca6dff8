//! Integration tests: the conventions every endpoint follows (http-api.md "Conventions").

use crate::fixture::*;
use serde_json::json;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[test]
fn health_is_200_with_version_and_common_headers() {
    let server = TestServer::start();
    let resp = server.get("/api/v1/health").send();
    resp.expect_status(200);
    assert_eq!(
        resp.json(),
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "database": "ok"})
    );
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_eq!(resp.header("X-Content-Type-Options"), Some("nosniff"));
    let id = resp.header("X-Request-Id").expect("request id");
    assert_eq!(id.len(), 32);
    assert!(resp.header("Access-Control-Allow-Origin").is_none());
}

#[test]
fn sane_request_id_is_echoed_and_odd_one_replaced() {
    let server = TestServer::start();
    let resp = server
        .get("/api/v1/health")
        .header("X-Request-Id", "trace-abc.123")
        .send();
    assert_eq!(resp.header("X-Request-Id"), Some("trace-abc.123"));
    let resp = server
        .get("/api/v1/health")
        .header("X-Request-Id", "bad id with spaces")
        .send();
    let id = resp.header("X-Request-Id").unwrap();
    assert_ne!(id, "bad id with spaces");
    assert_eq!(id.len(), 32);
}

#[test]
fn unknown_route_is_404_not_found() {
    let server = TestServer::start();
    server
        .get("/api/v1/nothing-here")
        .send()
        .expect_detail(404, json!("Not Found"));
    let resp = server.get("/api/v1/me/").send();
    resp.expect_detail(404, json!("Not Found"));
    assert_eq!(resp.header("X-Content-Type-Options"), Some("nosniff"));
}

#[test]
fn wrong_method_is_405_with_allow() {
    let server = TestServer::start();
    let resp = server.delete("/api/v1/health").send();
    resp.expect_detail(405, json!("Method Not Allowed"));
    assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
    let resp = server.get("/api/internal/auth/jwt/login").send();
    resp.expect_detail(405, json!("Method Not Allowed"));
    assert_eq!(resp.header("Allow"), Some("POST"));
}

/// Regression: a literal path fell through to the parameter route beside it, so `Allow` for
/// `/api/internal/auth/sessions/revoke-all` also named DELETE (routed as a session id).
#[test]
fn a_literal_path_allows_only_its_own_methods() {
    let server = TestServer::start();
    let token = server.admin_token();
    for method in ["DELETE", "OPTIONS", "GET"] {
        let resp = server
            .request(method, "/api/internal/auth/sessions/revoke-all")
            .bearer(&token)
            .send();
        resp.expect_detail(405, json!("Method Not Allowed"));
        assert_eq!(resp.header("Allow"), Some("POST"), "{method}");
    }
    let resp = server
        .delete("/api/internal/users/me")
        .bearer(&token)
        .send();
    resp.expect_detail(405, json!("Method Not Allowed"));
    assert_eq!(resp.header("Allow"), Some("GET, PATCH, HEAD"));
    // The session is still there: nothing was revoked.
    server
        .get("/api/internal/users/me")
        .bearer(&token)
        .send()
        .expect_status(200);
}

#[test]
fn declared_oversized_body_is_413_before_it_is_sent() {
    let server = TestServer::start();
    // Only the headers are sent: the server must answer without waiting for the body.
    let head = format!(
        "POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        1_048_577
    );
    let resp = send_raw(server.addr, head.as_bytes());
    resp.expect_detail(413, json!("Request body too large"));
    server.get("/api/v1/health").send().expect_status(200);
}

#[test]
fn chunked_oversized_body_is_413() {
    let server = TestServer::start_with(Options::default().env("SHIPSTAR_MAX_BODY_BYTES", "2048"));
    let chunk = "a".repeat(1024);
    let mut raw = String::from(
        "POST /api/internal/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for _ in 0..3 {
        raw.push_str(&format!("400\r\n{chunk}\r\n"));
    }
    raw.push_str("0\r\n\r\n");
    send_raw(server.addr, raw.as_bytes()).expect_detail(413, json!("Request body too large"));
}

#[test]
fn json_route_refuses_other_content_types_with_415() {
    let server = TestServer::start();
    let token = server.admin_token();
    let resp = server
        .post("/api/internal/users")
        .bearer(&token)
        .header("Content-Type", "text/plain")
        .body(b"{}".to_vec())
        .send();
    resp.expect_status(415);
    assert!(resp.json()["detail"]
        .as_str()
        .unwrap()
        .contains("application/json"));
}

#[test]
fn validation_errors_list_every_problem() {
    let server = TestServer::start();
    let token = server.admin_token();
    let resp = server
        .post("/api/internal/users")
        .bearer(&token)
        .json(&json!({"first_name": 5}))
        .send();
    resp.expect_status(422);
    let detail = resp.json()["detail"].as_array().unwrap().clone();
    assert!(detail
        .contains(&json!({"loc": ["body", "email"], "msg": "Field required", "type": "missing"})));
    assert!(detail.contains(
        &json!({"loc": ["body", "password"], "msg": "Field required", "type": "missing"})
    ));
    assert!(detail
        .iter()
        .any(|d| d["loc"] == json!(["body", "first_name"])));
}

#[test]
fn broken_json_is_422_json_invalid() {
    let server = TestServer::start();
    let token = server.admin_token();
    let resp = server
        .post("/api/internal/users")
        .bearer(&token)
        .header("Content-Type", "application/json")
        .body(b"{\"email\": ".to_vec())
        .send();
    resp.expect_status(422);
    let detail = resp.json()["detail"].clone();
    assert_eq!(detail[0]["loc"], json!(["body"]));
    assert_eq!(detail[0]["type"], json!("json_invalid"));
}

#[test]
fn a_repeated_member_name_at_any_depth_is_422_json_invalid_and_changes_nothing() {
    let server = TestServer::start();
    let token = server.admin_token();
    let teams = || {
        let resp = server.get("/api/internal/teams").bearer(&token).send();
        resp.expect_status(200);
        resp.json().as_array().unwrap().len()
    };
    let before = teams();
    for (body, name) in [
        (
            r#"{"name": "Nested", "extra": {"a": 1, "b": [{"x": 1, "x": 2}]}}"#,
            "x",
        ),
        (r#"{"name": "First", "\u006eame": "Second"}"#, "name"),
    ] {
        let resp = server
            .post("/api/internal/teams")
            .bearer(&token)
            .header("Content-Type", "application/json")
            .body(body.as_bytes().to_vec())
            .send();
        resp.expect_status(422);
        let detail = resp.json()["detail"].clone();
        assert_eq!(detail.as_array().unwrap().len(), 1, "{detail}");
        assert_eq!(detail[0]["loc"], json!(["body"]));
        assert_eq!(detail[0]["type"], json!("json_invalid"));
        let msg = detail[0]["msg"].as_str().unwrap();
        assert!(
            msg.contains(&format!("duplicate object member name \"{name}\"")),
            "{msg}"
        );
    }
    assert_eq!(teams(), before, "a refused body created a team");
}

#[test]
fn a_repeated_form_or_query_field_is_422_even_when_the_route_ignores_it() {
    let server = TestServer::start();
    let resp = server
        .post("/api/internal/auth/jwt/login")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            format!("username={ADMIN_EMAIL}&password={ADMIN_PASSWORD}&extra=1&extra=2")
                .into_bytes(),
        )
        .send();
    expect_problems(&resp, &[(json!(["body", "extra"]), "value_error")]);
    assert!(
        resp.header("Cache-Control").is_none(),
        "no token was issued"
    );
    let resp = server.get("/api/v1/blogs?limit=5&x=1&x=2").send();
    expect_problems(&resp, &[(json!(["query", "x"]), "value_error")]);
    server
        .get("/api/v1/blogs?limit=5&x=1")
        .send()
        .expect_status(200);
}

#[test]
fn token_responses_are_not_cacheable() {
    let server = TestServer::start();
    let resp = server
        .post("/api/internal/auth/jwt/login")
        .form(&[("username", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send();
    resp.expect_status(200);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
}

#[test]
fn garbage_request_line_gets_400_and_server_keeps_serving() {
    let server = TestServer::start();
    let resp = try_send_raw(server.addr, b"\x00\x01garbage\r\n\r\n");
    if let Ok(resp) = resp {
        assert!((400..500).contains(&resp.status), "{resp:?}");
    }
    server.get("/api/v1/health").send().expect_status(200);
}

/// The HTTP layer in-process with a handler that panics on one path: that request answers
/// 500 with the contract's body, and the same worker goes on serving.
#[test]
fn panicking_handler_answers_500_and_server_keeps_serving() {
    use shipstar::http::{Handler, HttpServer, Response, ServerOptions, Service};
    let http = HttpServer::bind("127.0.0.1:0").unwrap();
    let addr = http.local_addr();
    let shutdown = Arc::new(AtomicBool::new(false));
    let handler: Handler = Arc::new(|req| {
        if req.path == "/panic" {
            panic!("deliberate test panic");
        }
        Response::json(200, &json!({"ok": true}))
    });
    let options = ServerOptions {
        workers: 1,
        max_body_bytes: 1024,
        client_timeout: std::time::Duration::from_secs(30),
        max_connections: 16,
        max_connections_per_ip: 0,
        trusted_proxies: Default::default(),
    };
    let stop = Arc::clone(&shutdown);
    let thread = std::thread::spawn(move || {
        http.run(
            &options,
            Service::safe_methods_inline(handler),
            stop,
            std::time::Duration::from_secs(1),
        )
        .unwrap()
    });
    for _ in 0..3 {
        let resp = send_raw(
            addr,
            b"GET /panic HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        resp.expect_detail(500, json!("Internal Server Error"));
        assert_eq!(resp.header("X-Content-Type-Options"), Some("nosniff"));
        let resp = send_raw(
            addr,
            b"GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        resp.expect_status(200);
    }
    shutdown.store(true, std::sync::atomic::Ordering::SeqCst);
    thread.join().unwrap();
}
