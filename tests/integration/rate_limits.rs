//! Integration tests: rate limits (auth.md "Rate limits"; http-api.md 429 and headers).

use crate::fixture::*;
use serde_json::json;

fn with_limits(pairs: &[(&str, &str)]) -> TestServer {
    let mut options = Options::default();
    for (key, value) in pairs {
        options = options.env(key, value);
    }
    TestServer::start_with(options)
}

fn bad_login(server: &TestServer, email: &str, forwarded_for: Option<&str>) -> Resp {
    let mut req = server
        .post("/api/internal/auth/jwt/login")
        .form(&[("username", email), ("password", "wrong-password")]);
    if let Some(ip) = forwarded_for {
        req = req.header("X-Forwarded-For", ip);
    }
    req.send()
}

/// A key for the `default` project made with `shipstar key create` (stdout is the key).
fn cli_key(server: &TestServer, name: &str) -> String {
    let out = server.cli(
        &[
            "key",
            "create",
            "--project",
            "default",
            "--user",
            ADMIN_EMAIL,
            "--name",
            name,
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn header_num(resp: &Resp, name: &str) -> i64 {
    resp.header(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", resp.headers))
        .parse()
        .unwrap()
}

#[test]
fn login_per_ip_limit_answers_429_with_retry_after_and_headers() {
    let server = with_limits(&[("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "3")]);
    for remaining in [2, 1, 0] {
        let resp = bad_login(&server, "nobody@example.com", None);
        resp.expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
        assert_eq!(header_num(&resp, "X-RateLimit-Limit"), 3);
        assert_eq!(header_num(&resp, "X-RateLimit-Remaining"), remaining);
        assert!(header_num(&resp, "X-RateLimit-Reset") > 1_700_000_000);
    }
    // Even the right password is refused now: the limit comes before any hashing.
    let resp = server
        .post("/api/internal/auth/jwt/login")
        .form(&[("username", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send();
    resp.expect_detail(429, json!("Rate limit exceeded. Retry after 20 seconds."));
    assert_eq!(resp.header("Retry-After"), Some("20"));
    assert_eq!(header_num(&resp, "X-RateLimit-Remaining"), 0);
    // Other routes are not affected.
    server.get("/api/v1/health").send().expect_status(200);
}

#[test]
fn login_per_email_limit_is_separate_from_the_ip_limit() {
    let server = with_limits(&[("SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE", "2")]);
    bad_login(&server, "victim@example.com", None).expect_status(400);
    bad_login(&server, "Victim@Example.com", None).expect_status(400);
    bad_login(&server, "victim@example.com", None).expect_status(429);
    bad_login(&server, "someone-else@example.com", None).expect_status(400);
}

#[test]
fn current_password_checks_are_throttled_like_logins() {
    let server = with_limits(&[("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "4")]);
    // The sign-in spends one of the four.
    let token = server.admin_token();
    let change = |current: &str| {
        server
            .patch("/api/internal/users/me")
            .bearer(&token)
            .json(&json!({"email": "moved@example.com", "current_password": current}))
            .send()
    };
    for remaining in [2, 1, 0] {
        let resp = change("a-wrong-guess");
        resp.expect_detail(400, json!("CURRENT_PASSWORD_INCORRECT"));
        assert_eq!(header_num(&resp, "X-RateLimit-Limit"), 4);
        assert_eq!(header_num(&resp, "X-RateLimit-Remaining"), remaining);
    }
    // Past the limit even the right password is refused: the throttle comes before hashing.
    let resp = change(ADMIN_PASSWORD);
    resp.expect_detail(429, json!("Rate limit exceeded. Retry after 15 seconds."));
    assert_eq!(resp.header("Retry-After"), Some("15"));
    assert_eq!(header_num(&resp, "X-RateLimit-Remaining"), 0);
    assert!(header_num(&resp, "X-RateLimit-Reset") > 1_700_000_000);
    // And so is a login from the same address: both draw on one budget.
    let resp = bad_login(&server, ADMIN_EMAIL, None);
    resp.expect_status(429);
    // The email did not change.
    let me = server.get("/api/internal/users/me").bearer(&token).send();
    me.expect_status(200);
    assert_eq!(me.json()["email"], json!(ADMIN_EMAIL));
}

#[test]
fn forwarded_for_from_an_untrusted_peer_does_not_pick_a_new_bucket() {
    let server = with_limits(&[("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "1")]);
    bad_login(&server, "a@example.com", Some("198.51.100.1")).expect_status(400);
    bad_login(&server, "a@example.com", Some("198.51.100.2")).expect_status(429);
}

#[test]
fn forwarded_for_from_a_trusted_proxy_names_the_client() {
    let server = with_limits(&[
        ("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "1"),
        ("SHIPSTAR_TRUSTED_PROXIES", "127.0.0.0/8"),
    ]);
    bad_login(&server, "a@example.com", Some("198.51.100.1")).expect_status(400);
    bad_login(&server, "a@example.com", Some("198.51.100.2")).expect_status(400);
    bad_login(&server, "a@example.com", Some("198.51.100.1")).expect_status(429);
}

#[test]
fn authenticated_requests_are_limited_per_user_with_headers_on_every_answer() {
    let server = with_limits(&[("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "2")]);
    let token = server.admin_token();
    let first = server.get("/api/internal/users/me").bearer(&token).send();
    first.expect_status(200);
    assert_eq!(header_num(&first, "X-RateLimit-Limit"), 2);
    assert_eq!(header_num(&first, "X-RateLimit-Remaining"), 1);
    server
        .get("/api/internal/users/me")
        .bearer(&token)
        .send()
        .expect_status(200);
    let limited = server.get("/api/internal/users/me").bearer(&token).send();
    limited.expect_detail(429, json!("Rate limit exceeded. Retry after 30 seconds."));
    assert_eq!(limited.header("Retry-After"), Some("30"));
}

#[test]
fn api_keys_are_limited_per_key_and_429s_count_as_rejected() {
    let server = with_limits(&[("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "1")]);
    let key = cli_key(&server, "limited");
    server
        .get("/api/v1/me")
        .bearer(&key)
        .send()
        .expect_status(200);
    server
        .get("/api/v1/me")
        .bearer(&key)
        .send()
        .expect_status(429);
    let other = cli_key(&server, "other");
    server
        .get("/api/v1/me")
        .bearer(&other)
        .send()
        .expect_status(200);
}

#[test]
fn refresh_is_limited_per_session() {
    let server = with_limits(&[("SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE", "1")]);
    let token = server.admin_token();
    let resp = server
        .post("/api/internal/auth/jwt/refresh")
        .bearer(&token)
        .send();
    resp.expect_status(200);
    let next = resp.json()["access_token"].as_str().unwrap().to_string();
    server
        .post("/api/internal/auth/jwt/refresh")
        .bearer(&next)
        .send()
        .expect_status(429);
    // Another session of the same user has its own bucket.
    let other = server.admin_token();
    server
        .post("/api/internal/auth/jwt/refresh")
        .bearer(&other)
        .send()
        .expect_status(200);
}

#[test]
fn health_is_never_rate_limited() {
    let server = with_limits(&[
        ("SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE", "1"),
        ("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "1"),
    ]);
    for _ in 0..5 {
        let resp = server.get("/api/v1/health").send();
        resp.expect_status(200);
        assert!(resp.header("X-RateLimit-Limit").is_none());
    }
}
