//! Integration tests: auth.
//!
//! Contract: `http-api.md` ("Conventions for every endpoint", "Internal API: authentication")
//! and `auth.md` ("JWT session tokens", "Sessions and refresh", "Passwords").
//!
//! Token rules are checked by forging tokens: every server here runs with a known
//! `SHIPSTAR_JWT_SECRET`, so a test can take a real token, change one thing, and re-sign it
//! with a valid HMAC-SHA256. A rule is then shown to reject the token *because of that one
//! thing*: `jwt_re_signed_with_the_server_key_is_accepted` shows that re-signing alone changes
//! nothing, and most tests also show a nearby accepted variant.
//!
//! Users other than the bootstrap admin are created with the CLI, so these tests depend only
//! on the routes they check.
//!
//! Rules that need time to pass (the refresh reuse window, the absolute session age) are
//! tested in-process on a fixed clock, in `src/api/tests/time_rules.rs`, rather than by
//! sleeping here.

use crate::fixture::*;
use serde_json::{json, Map, Value};
use shipstar::auth::jwt::{b64url_decode, b64url_encode, sign_input};
use std::time::{SystemTime, UNIX_EPOCH};

/// The secret every server in this file signs with (>= 32 bytes).
const SECRET: &str = "auth-integration-tests-secret-0123456789abcdef";

const LOGIN: &str = "/api/internal/auth/jwt/login";
const REFRESH: &str = "/api/internal/auth/jwt/refresh";
const LOGOUT: &str = "/api/internal/auth/jwt/logout";
const SESSIONS: &str = "/api/internal/auth/sessions";
const REVOKE_ALL: &str = "/api/internal/auth/sessions/revoke-all";
const ME: &str = "/api/internal/users/me";
const HEALTH: &str = "/api/v1/health";

/// Default `refresh_grace_seconds` (30 days).
const REFRESH_GRACE_SECS: i64 = 2_592_000;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Options for every server here: the known secret, and rate limits off so that the many
/// logins and requests of one test are never answered 429 (rate limits are tested elsewhere).
fn options() -> Options {
    Options::default()
        .env("SHIPSTAR_JWT_SECRET", SECRET)
        .env("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "0")
        .env("SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE", "0")
        .env("SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE", "0")
        .env("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "0")
}

fn server() -> TestServer {
    TestServer::start_with(options())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Asserts the JWT-route 401: `{"detail": "Unauthorized"}` and `WWW-Authenticate: Bearer`.
#[track_caller]
fn assert_unauthorized(resp: &Resp, case: &str) {
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    assert!(
        resp.status == 401
            && resp.header("WWW-Authenticate") == Some("Bearer")
            && body == Some(json!({"detail": "Unauthorized"})),
        "{case}: expected 401 {{\"detail\": \"Unauthorized\"}} with WWW-Authenticate: Bearer\n\
         request: {}\nstatus: {}\nheaders: {:?}\nbody: {}",
        resp.request,
        resp.status,
        resp.headers,
        resp.text()
    );
}

/// Asserts a 200 from `/users/me` for `email`.
#[track_caller]
fn assert_me(resp: &Resp, email: &str, case: &str) {
    assert!(
        resp.status == 200,
        "{case}: expected 200\nrequest: {}\nstatus: {}\nheaders: {:?}\nbody: {}",
        resp.request,
        resp.status,
        resp.headers,
        resp.text()
    );
    assert_eq!(resp.json()["email"], json!(email), "{case}");
}

fn me(server: &TestServer, token: &str) -> Resp {
    server.get(ME).bearer(token).send()
}

fn me_with_authorization(server: &TestServer, value: &str) -> Resp {
    server.get(ME).header("Authorization", value).send()
}

fn refresh(server: &TestServer, token: &str) -> Resp {
    server.post(REFRESH).bearer(token).send()
}

/// Logs in with a `User-Agent` and returns the token.
fn login_as_agent(server: &TestServer, email: &str, password: &str, agent: &str) -> String {
    let resp = server
        .post(LOGIN)
        .header("User-Agent", agent)
        .form(&[("username", email), ("password", password)])
        .send();
    resp.expect_status(200);
    resp.json()["access_token"].as_str().unwrap().to_string()
}

/// Asserts a token answer (login or refresh): 200, exactly `{access_token, token_type:
/// "bearer", expires_in: 3600}`, `Cache-Control: no-store`; returns the token.
#[track_caller]
fn expect_token_answer(resp: &Resp) -> String {
    resp.expect_status(200);
    assert_eq!(
        resp.header("Cache-Control"),
        Some("no-store"),
        "{}",
        resp.request
    );
    let body = resp.json();
    let object = body.as_object().expect("token answer is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_token", "expires_in", "token_type"], "{body}");
    assert_eq!(body["token_type"], json!("bearer"));
    assert_eq!(body["expires_in"], json!(3600));
    body["access_token"].as_str().unwrap().to_string()
}

/// The decoded JSON of part `index` (0 header, 1 claims) of a compact token.
fn part(token: &str, index: usize) -> Value {
    let text = token.split('.').nth(index).expect("token part");
    let bytes = b64url_decode(text).expect("part is base64url");
    serde_json::from_slice(&bytes).expect("part is JSON")
}

fn claims(token: &str) -> Map<String, Value> {
    part(token, 1).as_object().unwrap().clone()
}

/// A compact token of these exact header and payload texts with a valid HMAC-SHA256 under
/// the server's secret.
fn forge(header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        b64url_encode(header.as_bytes()),
        b64url_encode(payload.as_bytes())
    );
    let signature = sign_input(input.as_bytes(), SECRET.as_bytes());
    format!("{input}.{signature}")
}

/// The server's own header for `token` (alg, typ, kid as issued).
fn header_text(token: &str) -> String {
    part(token, 0).to_string()
}

/// `token` with its claims edited and re-signed with a valid signature and the same header.
fn resign(token: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = claims(token);
    edit(&mut claims);
    forge(&header_text(token), &Value::Object(claims).to_string())
}

/// `token` with this header (any JSON text) and its payload part unchanged, validly signed.
fn with_header(token: &str, header: &str) -> String {
    sign_parts(
        &b64url_encode(header.as_bytes()),
        token.split('.').nth(1).unwrap(),
    )
}

/// Signs `header.payload` as given (parts already encoded) under the server's secret.
fn sign_parts(header_b64: &str, payload_b64: &str) -> String {
    let input = format!("{header_b64}.{payload_b64}");
    let signature = sign_input(input.as_bytes(), SECRET.as_bytes());
    format!("{input}.{signature}")
}

fn kid(token: &str) -> String {
    part(token, 0)["kid"].as_str().expect("kid").to_string()
}

fn user_id_of(server: &TestServer, token: &str) -> String {
    let resp = me(server, token);
    resp.expect_status(200);
    resp.json()["id"].as_str().unwrap().to_string()
}

/// Creates a user with the CLI on the server's database: these tests then depend only on the
/// routes they check, not on the user-administration API.
fn add_user(server: &TestServer, email: &str, password: &str, verified: bool) {
    let mut args = vec!["user", "create", "--email", email, "--password-stdin"];
    if verified {
        args.push("--verified");
    }
    let out = server.cli(&args, Some(&format!("{password}\n")));
    assert!(
        out.status.success(),
        "user create failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new user (via the CLI) signed in: (id, token).
fn user_with_token(server: &TestServer, email: &str, password: &str) -> (String, String) {
    add_user(server, email, password, true);
    let token = server.login(email, password);
    (user_id_of(server, &token), token)
}

fn deactivate(server: &TestServer, admin: &str, user_id: &str) {
    server
        .patch(&format!("/api/internal/users/{user_id}"))
        .bearer(admin)
        .json(&json!({"is_active": false}))
        .send()
        .expect_status(200);
}

fn list_sessions(server: &TestServer, token: &str) -> Vec<Value> {
    let resp = server.get(SESSIONS).bearer(token).send();
    resp.expect_status(200);
    resp.json().as_array().expect("sessions list").clone()
}

fn sid(token: &str) -> String {
    claims(token)["sid"].as_str().unwrap().to_string()
}

fn gen(token: &str) -> i64 {
    claims(token)["gen"].as_i64().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------------

#[test]
fn login_returns_bearer_token_for_an_hour_with_no_store() {
    let server = server();
    let resp = server
        .post(LOGIN)
        .form(&[("username", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send();
    let token = expect_token_answer(&resp);

    // auth.md: header {"alg":"HS256","typ":"JWT","kid":...}; claims sub, sid, gen, iat, exp,
    // aud, jti; a fresh session is generation 0; lifetime jwt_lifetime_seconds (3600).
    let header = part(&token, 0);
    assert_eq!(header["alg"], json!("HS256"));
    assert_eq!(header["typ"], json!("JWT"));
    assert!(header["kid"].is_string(), "{header}");
    let c = claims(&token);
    for name in ["sub", "sid", "jti"] {
        assert!(c[name].is_string(), "{name} in {c:?}");
    }
    assert_eq!(c["aud"], json!("shipstar:internal"));
    assert_eq!(c["gen"], json!(0));
    let iat = c["iat"].as_i64().expect("iat integer");
    assert_eq!(c["exp"].as_i64().expect("exp integer") - iat, 3600);
    assert!((iat - now()).abs() <= 5, "iat {iat} is not now");

    assert_me(&me(&server, &token), ADMIN_EMAIL, "fresh login token");
    assert_eq!(c["sub"], json!(user_id_of(&server, &token)));
}

#[test]
fn login_email_is_case_insensitive() {
    let server = server();
    let resp = server
        .post(LOGIN)
        .form(&[
            ("username", "ADMIN@Example.COM"),
            ("password", ADMIN_PASSWORD),
        ])
        .send();
    let token = expect_token_answer(&resp);
    assert_me(
        &me(&server, &token),
        ADMIN_EMAIL,
        "login with upper-case email",
    );
}

#[test]
fn login_with_unknown_email_is_400_bad_credentials() {
    let server = server();
    server
        .post(LOGIN)
        .form(&[
            ("username", "nobody@example.com"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
}

#[test]
fn login_with_wrong_password_is_400_bad_credentials() {
    let server = server();
    server
        .post(LOGIN)
        .form(&[
            ("username", ADMIN_EMAIL),
            ("password", "wrong-horse-battery"),
        ])
        .send()
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    // A password of exactly 1024 characters is within limits: a plain wrong password.
    let long = "p".repeat(1024);
    server
        .post(LOGIN)
        .form(&[("username", ADMIN_EMAIL), ("password", &long)])
        .send()
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
}

#[test]
fn login_of_deactivated_user_is_400_bad_credentials() {
    let server = server();
    let admin = server.admin_token();
    let (id, _) = user_with_token(&server, "gone@example.com", "gone-password-1");
    deactivate(&server, &admin, &id);
    server
        .post(LOGIN)
        .form(&[
            ("username", "gone@example.com"),
            ("password", "gone-password-1"),
        ])
        .send()
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
}

#[test]
fn login_accepts_and_ignores_oauth2_password_grant_fields() {
    let server = server();
    let resp = server
        .post(LOGIN)
        .form(&[
            ("grant_type", "password"),
            ("username", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("scope", "read write"),
            ("client_id", "some-client"),
            ("client_secret", "some-secret"),
        ])
        .send();
    let token = expect_token_answer(&resp);
    assert_me(
        &me(&server, &token),
        ADMIN_EMAIL,
        "login with OAuth2 fields",
    );
    // Empty values (what OAuth2 form clients send by default) are accepted too.
    let resp = server
        .post(LOGIN)
        .form(&[
            ("grant_type", ""),
            ("username", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("scope", ""),
            ("client_id", ""),
            ("client_secret", ""),
        ])
        .send();
    expect_token_answer(&resp);
}

#[test]
fn login_of_unverified_user_when_verification_required_is_400_not_verified() {
    let server = TestServer::start_with(options().env("SHIPSTAR_REQUIRE_VERIFIED", "true"));
    add_user(&server, "unverified@example.com", "a-good-password", false);
    add_user(&server, "verified@example.com", "a-good-password", true);
    server
        .post(LOGIN)
        .form(&[
            ("username", "unverified@example.com"),
            ("password", "a-good-password"),
        ])
        .send()
        .expect_detail(400, json!("LOGIN_USER_NOT_VERIFIED"));
    // The verification state is not revealed without the right password.
    server
        .post(LOGIN)
        .form(&[
            ("username", "unverified@example.com"),
            ("password", "a-bad-password"),
        ])
        .send()
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    let resp = server
        .post(LOGIN)
        .form(&[
            ("username", "verified@example.com"),
            ("password", "a-good-password"),
        ])
        .send();
    expect_token_answer(&resp);
}

// ---------------------------------------------------------------------------------------------
// Login: malformed requests
// ---------------------------------------------------------------------------------------------

#[test]
fn login_without_username_and_password_is_422_listing_both() {
    let server = server();
    let resp = server.post(LOGIN).form(&[]).send();
    resp.expect_status(422);
    let detail = resp.json()["detail"]
        .as_array()
        .expect("detail list")
        .clone();
    assert_eq!(detail.len(), 2, "{detail:?}");
    for field in ["username", "password"] {
        let expected = json!({"loc": ["body", field], "msg": "Field required", "type": "missing"});
        assert!(detail.contains(&expected), "{expected} not in {detail:?}");
    }
    // Only the password given: only the username is missing.
    let resp = server
        .post(LOGIN)
        .form(&[("password", ADMIN_PASSWORD)])
        .send();
    resp.expect_detail(
        422,
        json!([{"loc": ["body", "username"], "msg": "Field required", "type": "missing"}]),
    );
}

#[test]
fn login_with_a_field_given_twice_is_422() {
    let server = server();
    let resp = server
        .post(LOGIN)
        .form(&[
            ("username", ADMIN_EMAIL),
            ("username", "other@example.com"),
            ("password", ADMIN_PASSWORD),
        ])
        .send();
    resp.expect_status(422);
    let detail = resp.json()["detail"]
        .as_array()
        .expect("detail list")
        .clone();
    assert!(
        detail
            .iter()
            .any(|p| p["loc"] == json!(["body", "username"])),
        "no problem at body.username: {detail:?}"
    );
}

#[test]
fn login_with_broken_percent_escape_is_422() {
    let server = server();
    for body in ["username=%zz&password=x", "username=a%4&password=x"] {
        let resp = server
            .post(LOGIN)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .send();
        resp.expect_status(422);
        let detail = resp.json()["detail"]
            .as_array()
            .expect("detail list")
            .clone();
        assert!(!detail.is_empty(), "{body}");
        for problem in &detail {
            assert_eq!(problem["loc"][0], json!("body"), "{body}: {problem}");
            assert!(
                problem["msg"].is_string() && problem["type"].is_string(),
                "{problem}"
            );
        }
    }
}

#[test]
fn login_form_content_type_may_carry_parameters_and_any_case() {
    let server = server();
    let body = format!("username={ADMIN_EMAIL}&password={ADMIN_PASSWORD}");
    for content_type in [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "Application/X-WWW-Form-Urlencoded",
    ] {
        let resp = server
            .post(LOGIN)
            .header("Content-Type", content_type)
            .body(body.clone().into_bytes())
            .send();
        expect_token_answer(&resp);
    }
}

#[test]
fn password_hash_with_older_parameters_still_verifies_and_is_upgraded_on_login() {
    let mut first = server();
    add_user(&first, "keeper@example.com", "keeper-password", true);
    assert!(first.terminate().success());
    // Same database, stronger Argon2 parameters.
    let server = TestServer::start_in(
        first.dir.clone(),
        options()
            .env("SHIPSTAR_ARGON2_MEMORY_KIB", "128")
            .env("SHIPSTAR_ARGON2_ITERATIONS", "2"),
    );
    let stored = || -> String {
        server
            .db()
            .texts("SELECT password_hash FROM users WHERE email = 'keeper@example.com'")
            .remove(0)
    };
    let before = stored();
    assert!(before.starts_with("$argon2id$"), "{before}");
    assert!(before.contains("m=64,t=1"), "{before}");
    let token = server.login("keeper@example.com", "keeper-password");
    assert_me(
        &me(&server, &token),
        "keeper@example.com",
        "login with an old hash",
    );
    let after = stored();
    assert!(after.starts_with("$argon2id$"), "{after}");
    assert!(after.contains("m=128,t=2"), "not upgraded: {after}");
    server.login("keeper@example.com", "keeper-password");
    server
        .post(LOGIN)
        .form(&[
            ("username", "keeper@example.com"),
            ("password", "wrong-password"),
        ])
        .send()
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    drop(server);
    drop(first);
}

#[test]
fn login_with_json_body_is_415() {
    let server = server();
    let resp = server
        .post(LOGIN)
        .json(&json!({"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send();
    resp.expect_status(415);
    assert!(resp.json()["detail"].is_string(), "{}", resp.text());
}

#[test]
fn login_without_content_type_is_415() {
    let server = server();
    let body = format!("username={ADMIN_EMAIL}&password={ADMIN_PASSWORD}");
    let resp = server.post(LOGIN).body(body.into_bytes()).send();
    resp.expect_status(415);
    assert!(resp.json()["detail"].is_string(), "{}", resp.text());
}

#[test]
fn login_password_over_1024_characters_is_422_string_too_long() {
    let server = server();
    let just_over = "p".repeat(1025);
    let resp = server
        .post(LOGIN)
        .form(&[("username", ADMIN_EMAIL), ("password", &just_over)])
        .send();
    resp.expect_status(422);
    assert_eq!(resp.json()["detail"][0]["type"], json!("string_too_long"));
    let long = "p".repeat(2000);
    let resp = server
        .post(LOGIN)
        .form(&[("username", ADMIN_EMAIL), ("password", &long)])
        .send();
    resp.expect_status(422);
    let detail = resp.json()["detail"]
        .as_array()
        .expect("detail list")
        .clone();
    assert_eq!(detail.len(), 1, "{detail:?}");
    assert_eq!(detail[0]["loc"], json!(["body", "password"]));
    assert_eq!(detail[0]["type"], json!("string_too_long"));
    assert!(detail[0]["msg"].is_string());
    // Same for an unknown email: length is checked before any lookup.
    let resp = server
        .post(LOGIN)
        .form(&[("username", "nobody@example.com"), ("password", &long)])
        .send();
    resp.expect_status(422);
    assert_eq!(resp.json()["detail"][0]["type"], json!("string_too_long"));
}

#[test]
fn login_body_over_max_body_bytes_is_413() {
    let server = server();
    let long = "p".repeat(1_048_576);
    let resp = server
        .post(LOGIN)
        .form(&[("username", ADMIN_EMAIL), ("password", &long)])
        .send();
    resp.expect_detail(413, json!("Request body too large"));
    server.get(HEALTH).send().expect_status(200);
}

// ---------------------------------------------------------------------------------------------
// Bearer credentials
// ---------------------------------------------------------------------------------------------

#[test]
fn users_me_without_authorization_is_401() {
    let server = server();
    assert_unauthorized(&server.get(ME).send(), "no Authorization header");
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    let server = server();
    let token = server.admin_token();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let resp = me_with_authorization(&server, &format!("{scheme} {token}"));
        assert_me(&resp, ADMIN_EMAIL, scheme);
    }
}

#[test]
fn authorization_other_than_one_bearer_token_is_401() {
    let server = server();
    let token = server.admin_token();
    assert_me(&me(&server, &token), ADMIN_EMAIL, "control");
    let cases = [
        ("scheme alone", "Bearer".to_string()),
        ("scheme and a space", "Bearer ".to_string()),
        ("two spaces", format!("Bearer  {token}")),
        ("extra token", format!("Bearer {token} extra")),
        ("token twice", format!("Bearer {token} {token}")),
        ("Basic scheme", format!("Basic {token}")),
        ("Token scheme", format!("Token {token}")),
        ("no scheme", token.clone()),
        ("not a JWT nor a key", "Bearer not-a-token".to_string()),
        ("two parts", "Bearer abc.def".to_string()),
    ];
    for (case, value) in cases {
        assert_unauthorized(&me_with_authorization(&server, &value), case);
    }
}

#[test]
fn jwt_re_signed_with_the_server_key_is_accepted() {
    // The control for every forged-token test below: the forging helpers are right.
    let server = server();
    let token = server.admin_token();
    assert_me(
        &me(&server, &resign(&token, |_| {})),
        ADMIN_EMAIL,
        "re-signed",
    );
    let header = header_text(&token);
    assert_me(
        &me(&server, &with_header(&token, &header)),
        ADMIN_EMAIL,
        "same header",
    );
    // Unknown extra claims are ignored.
    let extra = resign(&token, |c| {
        c.insert("iss".into(), json!("someone"));
    });
    assert_me(&me(&server, &extra), ADMIN_EMAIL, "extra claim");
}

#[test]
fn jwt_with_alg_other_than_hs256_is_401_even_with_valid_hs256_signature() {
    let server = server();
    let token = server.admin_token();
    let kid = kid(&token);
    for alg in [
        "none", "None", "NONE", "HS384", "HS512", "RS256", "ES256", "hs256", "HS256 ",
    ] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": kid}).to_string();
        assert_unauthorized(&me(&server, &with_header(&token, &header)), alg);
    }
    let no_alg = json!({"typ": "JWT", "kid": kid}).to_string();
    assert_unauthorized(&me(&server, &with_header(&token, &no_alg)), "no alg");
    let array_alg = json!({"alg": ["HS256"], "typ": "JWT", "kid": kid}).to_string();
    assert_unauthorized(&me(&server, &with_header(&token, &array_alg)), "alg array");
    // alg "none" with an empty signature: also not three non-empty parts.
    let unsigned = format!(
        "{}.{}.",
        b64url_encode(json!({"alg": "none", "typ": "JWT"}).to_string().as_bytes()),
        token.split('.').nth(1).unwrap()
    );
    assert_unauthorized(&me(&server, &unsigned), "alg none, empty signature");
}

#[test]
fn jwt_with_crit_header_is_401() {
    let server = server();
    let token = server.admin_token();
    let kid = kid(&token);
    for crit in [json!(["b64"]), json!([]), json!(["exp"])] {
        let header = json!({"alg": "HS256", "typ": "JWT", "kid": kid, "crit": crit}).to_string();
        assert_unauthorized(&me(&server, &with_header(&token, &header)), &header);
    }
}

#[test]
fn jwt_kid_must_name_a_server_key_if_present() {
    let server = server();
    let token = server.admin_token();
    let unknown = json!({"alg": "HS256", "typ": "JWT", "kid": "no-such-key"}).to_string();
    assert_unauthorized(&me(&server, &with_header(&token, &unknown)), "unknown kid");
    let empty = json!({"alg": "HS256", "typ": "JWT", "kid": ""}).to_string();
    assert_unauthorized(&me(&server, &with_header(&token, &empty)), "empty kid");
    // "a kid, if present": a token without one, signed with the server's key, is fine.
    let no_kid = json!({"alg": "HS256", "typ": "JWT"}).to_string();
    assert_me(
        &me(&server, &with_header(&token, &no_kid)),
        ADMIN_EMAIL,
        "no kid",
    );
}

#[test]
fn jwt_with_tampered_payload_or_signature_is_401() {
    let server = server();
    let token = server.admin_token();
    let parts: Vec<&str> = token.split('.').collect();

    // Payload changed, signature kept.
    let mut c = claims(&token);
    c.insert("gen".into(), json!(0));
    c.insert("jti".into(), json!("another-jti"));
    let payload = b64url_encode(Value::Object(c).to_string().as_bytes());
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_unauthorized(&me(&server, &tampered), "tampered payload");

    // Signature changed in its first character (the last one may carry unused bits).
    let sig = parts[2];
    let first = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{}.{}.{first}{}", parts[0], parts[1], &sig[1..]);
    assert_unauthorized(&me(&server, &tampered), "tampered signature");

    // Signed with another secret.
    let input = format!("{}.{}", parts[0], parts[1]);
    let other = sign_input(input.as_bytes(), b"another-secret-of-at-least-32-bytes!!");
    assert_unauthorized(&me(&server, &format!("{input}.{other}")), "wrong secret");

    // Truncated signature (16 of 32 bytes) and an over-long one.
    let full = b64url_decode(sig).unwrap();
    let short = b64url_encode(&full[..16]);
    assert_unauthorized(
        &me(&server, &format!("{input}.{short}")),
        "truncated signature",
    );
    let mut long = full.clone();
    long.push(0);
    let long = b64url_encode(&long);
    assert_unauthorized(&me(&server, &format!("{input}.{long}")), "long signature");
}

#[test]
fn jwt_parts_must_be_three_non_empty_unpadded_base64url() {
    let server = server();
    let token = server.admin_token();
    let parts: Vec<&str> = token.split('.').collect();
    let cases = [
        ("four parts", format!("{token}.{}", parts[2])),
        ("empty header", format!(".{}.{}", parts[1], parts[2])),
        ("empty payload", format!("{}..{}", parts[0], parts[2])),
        ("empty signature", format!("{}.{}.", parts[0], parts[1])),
        ("padded signature", format!("{token}=")),
        ("trailing dot", format!("{token}.")),
        ("leading dot", format!(".{token}")),
    ];
    for (case, value) in cases {
        assert_unauthorized(&me(&server, &value), case);
    }
    // Padding inside the signed input, with a valid HMAC over the padded text.
    let payload_text = Value::Object(claims(&token)).to_string();
    let mut padded_text = payload_text.clone();
    while b64url_encode(padded_text.as_bytes()).len() % 4 == 0 {
        padded_text.insert(padded_text.len() - 1, ' ');
    }
    let mut padded_b64 = b64url_encode(padded_text.as_bytes());
    while padded_b64.len() % 4 != 0 {
        padded_b64.push('=');
    }
    let unpadded = sign_parts(parts[0], padded_b64.trim_end_matches('='));
    assert_me(
        &me(&server, &unpadded),
        ADMIN_EMAIL,
        "control: unpadded payload",
    );
    assert_unauthorized(
        &me(&server, &sign_parts(parts[0], &padded_b64)),
        "padded payload",
    );
    // The standard alphabet ('+' '/') instead of base64url, with a valid HMAC.
    let standard = parts[1].replace('-', "+").replace('_', "/");
    if standard != parts[1] {
        assert_unauthorized(
            &me(&server, &sign_parts(parts[0], &standard)),
            "standard alphabet",
        );
    }
}

#[test]
fn jwt_up_to_8_kib_is_accepted_and_longer_is_401() {
    let server = server();
    let token = server.admin_token();
    // Pad with an unknown (ignored) claim: the longest token of at most 8 KiB and the
    // shortest one over it (base64 lengths move in steps, so not every length is reachable).
    let mut at_limit = None;
    let mut over = None;
    for filler in 4000.. {
        let candidate = resign(&token, |c| {
            c.insert("pad".into(), json!("x".repeat(filler)));
        });
        if candidate.len() <= 8192 {
            at_limit = Some(candidate);
        } else {
            over = Some(candidate);
            break;
        }
    }
    let (at_limit, over) = (at_limit.unwrap(), over.unwrap());
    assert!(
        at_limit.len() >= 8190 && over.len() <= 8195,
        "{} {}",
        at_limit.len(),
        over.len()
    );
    assert_me(
        &me(&server, &at_limit),
        ADMIN_EMAIL,
        &format!("{} bytes", at_limit.len()),
    );
    assert_unauthorized(&me(&server, &over), &format!("{} bytes", over.len()));
}

#[test]
fn jwt_with_duplicate_claim_name_is_401() {
    let server = server();
    let token = server.admin_token();
    let c = claims(&token);
    let text = Value::Object(c.clone()).to_string();
    for name in ["sub", "gen", "exp", "aud"] {
        // The duplicate carries the same value, so only the duplication is wrong.
        let member = format!("{}:{}", json!(name), c[name]);
        let payload = text.replacen('{', &format!("{{{member},"), 1);
        assert_unauthorized(&me(&server, &forge(&header_text(&token), &payload)), name);
    }
    // Also when the names differ only in escaping.
    let payload = text.replacen('{', &format!("{{\"su\\u0062\":{},", c["sub"]), 1);
    assert_unauthorized(
        &me(&server, &forge(&header_text(&token), &payload)),
        "escaped sub",
    );
    // And a duplicate header member.
    let header = header_text(&token).replacen('{', "{\"alg\":\"HS256\",", 1);
    assert_unauthorized(&me(&server, &with_header(&token, &header)), "duplicate alg");
}

#[test]
fn jwt_times_must_be_integers_and_iat_present() {
    let server = server();
    let token = server.admin_token();
    let c = claims(&token);
    let exp = c["exp"].as_i64().unwrap();
    let text = Value::Object(c.clone()).to_string();
    let header = header_text(&token);
    let cases = [
        (
            "exp as float",
            text.replace(&format!("\"exp\":{exp}"), &format!("\"exp\":{exp}.0")),
        ),
        (
            "exp in exponent form",
            text.replace(&format!("\"exp\":{exp}"), &format!("\"exp\":{exp}e0")),
        ),
        (
            "exp as string",
            text.replace(&format!("\"exp\":{exp}"), &format!("\"exp\":\"{exp}\"")),
        ),
    ];
    for (case, payload) in cases {
        assert_ne!(payload, text, "{case}");
        assert_unauthorized(&me(&server, &forge(&header, &payload)), case);
    }
    let without = |name: &str| {
        resign(&token, |c| {
            c.remove(name);
        })
    };
    for name in ["iat", "exp", "sub", "sid", "gen", "aud"] {
        assert_unauthorized(&me(&server, &without(name)), &format!("without {name}"));
    }
    let iat_float = resign(&token, |c| {
        let iat = c["iat"].as_i64().unwrap();
        c.insert("iat".into(), json!(iat as f64 + 0.5));
    });
    assert_unauthorized(&me(&server, &iat_float), "iat as float");
    let gen_string = resign(&token, |c| {
        c.insert("gen".into(), json!("0"));
    });
    assert_unauthorized(&me(&server, &gen_string), "gen as string");
}

#[test]
fn jwt_with_wrong_audience_is_401() {
    let server = server();
    let token = server.admin_token();
    for aud in [
        json!("shipstar:public"),
        json!("SHIPSTAR:INTERNAL"),
        json!(["shipstar:internal"]),
    ] {
        let forged = resign(&token, |c| {
            c.insert("aud".into(), aud.clone());
        });
        assert_unauthorized(&me(&server, &forged), &aud.to_string());
    }
}

#[test]
fn expired_jwt_is_401() {
    let server = server();
    let token = server.admin_token();
    let expired = resign(&token, |c| {
        c.insert("iat".into(), json!(now() - 3700));
        c.insert("exp".into(), json!(now() - 100));
    });
    assert_unauthorized(&me(&server, &expired), "exp 100 s ago");
    let just_expired = resign(&token, |c| {
        c.insert("exp".into(), json!(now() - 1));
    });
    assert_unauthorized(&me(&server, &just_expired), "exp 1 s ago");
}

#[test]
fn jwt_with_nbf_in_the_future_is_401() {
    let server = server();
    let token = server.admin_token();
    let future = resign(&token, |c| {
        c.insert("nbf".into(), json!(now() + 60));
    });
    assert_unauthorized(&me(&server, &future), "nbf in 60 s");
    let past = resign(&token, |c| {
        c.insert("nbf".into(), json!(now() - 60));
    });
    assert_me(&me(&server, &past), ADMIN_EMAIL, "nbf 60 s ago");
}

#[test]
fn jwt_must_name_a_live_session_of_an_existing_user() {
    let server = server();
    let token = server.admin_token();
    let no_session = resign(&token, |c| {
        c.insert("sid".into(), json!("00000000-0000-4000-8000-000000000000"));
    });
    assert_unauthorized(&me(&server, &no_session), "sid of no session");
    let no_user = resign(&token, |c| {
        c.insert("sub".into(), json!("00000000-0000-4000-8000-000000000000"));
    });
    assert_unauthorized(&me(&server, &no_user), "sub of no user");
    // Another user's id with the admin's session.
    let (other_id, _) = user_with_token(&server, "other@example.com", "other-password-1");
    let someone_else = resign(&token, |c| {
        c.insert("sub".into(), json!(other_id));
    });
    assert_unauthorized(&me(&server, &someone_else), "sub not the session's user");
    assert_me(
        &me(&server, &token),
        ADMIN_EMAIL,
        "the real token still works",
    );
}

#[test]
fn jwt_generation_must_equal_the_session_generation() {
    let server = server();
    let token = server.admin_token();
    assert_eq!(gen(&token), 0);
    for other in [1, -1, 2] {
        let forged = resign(&token, |c| {
            c.insert("gen".into(), json!(other));
        });
        assert_unauthorized(&me(&server, &forged), &format!("gen {other}"));
    }
    assert_me(&me(&server, &token), ADMIN_EMAIL, "generation 0");
}

#[test]
fn megabyte_token_is_refused_and_the_server_keeps_serving() {
    let server = server();
    let token = format!("{}.{}.{}", "a".repeat(1 << 20), "b", "c");
    let raw = format!(
        "GET {ME} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n",
        server.addr
    );
    // A server may refuse a huge header outright (4xx) or drop the connection; it must not
    // accept the token or fall over.
    match try_send_raw(server.addr, raw.as_bytes()) {
        Ok(resp) => assert!(
            (400..500).contains(&resp.status),
            "status {} for a 1 MiB token: {}",
            resp.status,
            resp.text()
        ),
        Err(err) => eprintln!("connection ended without a response: {err}"),
    }
    server.get(HEALTH).send().expect_status(200);
    let admin = server.admin_token();
    assert_me(&me(&server, &admin), ADMIN_EMAIL, "after the huge request");
}

#[test]
fn api_key_shaped_bearer_on_users_me_is_401() {
    let server = server();
    // Right shape (sk_live_ + 38 base62), unknown to the server.
    let key = format!("sk_live_{}", "A1b2C3d4E5".repeat(4).get(..38).unwrap());
    let resp = server.get(ME).bearer(&key).send();
    resp.expect_status(401);
    assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    let detail = resp.json()["detail"].clone();
    assert!(
        detail == json!("Unauthorized") || detail == json!("Invalid or expired API token."),
        "{detail}"
    );
    let resp = server.get(ME).bearer("sk_live_x").send();
    resp.expect_status(401);
    assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
}

#[test]
fn api_key_outside_authorization_bearer_is_401_saying_how_to_send_it() {
    let server = server();
    let cases = [
        ("X-Api-Key", "sk_live_x"),
        ("Api-Key", "sk_live_x"),
        ("Authorization", "sk_live_x"),
    ];
    for (name, value) in cases {
        let resp = server.get(ME).header(name, value).send();
        let case = format!("{name}: {value}");
        assert_eq!(resp.status, 401, "{case}: {}", resp.text());
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"), "{case}");
        let detail = resp.json()["detail"].clone();
        assert!(
            detail
                .as_str()
                .is_some_and(|d| d.contains("Authorization: Bearer")),
            "{case}: {detail}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh
// ---------------------------------------------------------------------------------------------

#[test]
fn refresh_rotates_to_the_next_generation_and_retires_the_old_token() {
    let server = server();
    let old = server.admin_token();
    let new = expect_token_answer(&refresh(&server, &old));
    assert_ne!(new, old);
    assert_eq!(gen(&new), 1);
    assert_eq!(sid(&new), sid(&old), "same session");
    assert_eq!(claims(&new)["sub"], claims(&old)["sub"]);
    assert_unauthorized(&me(&server, &old), "replaced token");
    assert_me(&me(&server, &new), ADMIN_EMAIL, "new token");
    let newer = expect_token_answer(&refresh(&server, &new));
    assert_eq!(gen(&newer), 2);
    assert_me(&me(&server, &newer), ADMIN_EMAIL, "generation 2");
}

#[test]
fn refresh_without_a_valid_token_is_401() {
    let server = server();
    let token = server.admin_token();
    assert_unauthorized(&server.post(REFRESH).send(), "no token");
    assert_unauthorized(&refresh(&server, "not-a-token"), "garbage");
    let parts: Vec<&str> = token.split('.').collect();
    let sig = parts[2];
    let first = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{}.{}.{first}{}", parts[0], parts[1], &sig[1..]);
    assert_unauthorized(&refresh(&server, &tampered), "tampered signature");
    let wrong_aud = resign(&token, |c| {
        c.insert("aud".into(), json!("elsewhere"));
    });
    assert_unauthorized(&refresh(&server, &wrong_aud), "wrong audience");
    let header = json!({"alg": "HS512", "typ": "JWT", "kid": kid(&token)}).to_string();
    assert_unauthorized(
        &refresh(&server, &with_header(&token, &header)),
        "alg HS512",
    );
    // Control: none of the above touched the session; the real token refreshes.
    let token = expect_token_answer(&refresh(&server, &token));
    let future_gen = resign(&token, |c| {
        c.insert("gen".into(), json!(5));
    });
    assert_unauthorized(
        &refresh(&server, &future_gen),
        "generation ahead of the session",
    );
}

#[test]
fn refresh_with_just_replaced_token_within_10s_returns_the_current_generation() {
    let server = server();
    let first = server.admin_token();
    let second = expect_token_answer(&refresh(&server, &first));
    // A second tab refreshes the same token right after: not theft.
    let again = expect_token_answer(&refresh(&server, &first));
    assert_eq!(gen(&again), 1, "a token for the current generation");
    assert_eq!(sid(&again), sid(&first));
    assert_me(
        &me(&server, &again),
        ADMIN_EMAIL,
        "token from the repeated refresh",
    );
    assert_me(&me(&server, &second), ADMIN_EMAIL, "the first tab's token");
    assert_unauthorized(&me(&server, &first), "the replaced token itself");
}

#[test]
fn concurrent_refreshes_of_one_token_all_get_the_current_generation() {
    let server = server();
    let token = server.admin_token();
    let answers: Vec<Resp> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| refresh(&server, &token)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for resp in &answers {
        let fresh = expect_token_answer(resp);
        assert_eq!(gen(&fresh), 1, "one rotation, every tab gets its result");
        assert_eq!(sid(&fresh), sid(&token));
        assert_me(
            &me(&server, &fresh),
            ADMIN_EMAIL,
            "token from a concurrent refresh",
        );
    }
}

#[test]
fn refresh_with_a_token_two_generations_old_revokes_the_session() {
    let server = server();
    let g0 = server.admin_token();
    let g1 = expect_token_answer(&refresh(&server, &g0));
    let g2 = expect_token_answer(&refresh(&server, &g1));
    assert_me(
        &me(&server, &g2),
        ADMIN_EMAIL,
        "generation 2 before the replay",
    );
    assert_unauthorized(&me(&server, &g1), "generation 1 once replaced");
    assert_unauthorized(&me(&server, &g0), "generation 0 once replaced");
    assert_unauthorized(&refresh(&server, &g0), "replay of generation 0");
    assert_unauthorized(&me(&server, &g2), "newest token after the replay");
    assert_unauthorized(&refresh(&server, &g2), "refresh of the newest token");
    assert_unauthorized(&refresh(&server, &g1), "refresh of generation 1");
    // Other sessions of the same user are untouched.
    let other = server.admin_token();
    assert_me(&me(&server, &other), ADMIN_EMAIL, "another session");
}

#[test]
fn refresh_of_expired_token_within_grace_succeeds() {
    let server = server();
    let token = server.admin_token();
    let expired = resign(&token, |c| {
        c.insert("iat".into(), json!(now() - 7200));
        c.insert("exp".into(), json!(now() - 3600));
    });
    assert_unauthorized(&me(&server, &expired), "expired token on /users/me");
    let fresh = expect_token_answer(&refresh(&server, &expired));
    assert_eq!(gen(&fresh), 1);
    assert_eq!(sid(&fresh), sid(&token));
    assert!(claims(&fresh)["exp"].as_i64().unwrap() > now());
    assert_me(&me(&server, &fresh), ADMIN_EMAIL, "refreshed token");

    // Near the end of the grace period (30 days by default), still fine.
    let other = server.admin_token();
    let nearly = resign(&other, |c| {
        c.insert("exp".into(), json!(now() - REFRESH_GRACE_SECS + 120));
    });
    expect_token_answer(&refresh(&server, &nearly));
}

#[test]
fn refresh_of_token_expired_beyond_grace_is_401() {
    let server = server();
    let token = server.admin_token();
    let too_old = resign(&token, |c| {
        c.insert("iat".into(), json!(now() - REFRESH_GRACE_SECS - 3700));
        c.insert("exp".into(), json!(now() - REFRESH_GRACE_SECS - 100));
    });
    assert_unauthorized(&refresh(&server, &too_old), "expired 30 days + 100 s ago");

    // With a short grace period configured.
    let server = TestServer::start_with(options().env("SHIPSTAR_REFRESH_GRACE_SECONDS", "60"));
    let token = server.admin_token();
    let within = resign(&token, |c| {
        c.insert("exp".into(), json!(now() - 20));
    });
    expect_token_answer(&refresh(&server, &within));
    let token = server.admin_token();
    let beyond = resign(&token, |c| {
        c.insert("exp".into(), json!(now() - 120));
    });
    assert_unauthorized(&refresh(&server, &beyond), "expired 120 s ago, grace 60 s");
}

#[test]
fn refresh_of_logged_out_session_is_401() {
    let server = server();
    let token = server.admin_token();
    server.post(LOGOUT).bearer(&token).send().expect_status(204);
    assert_unauthorized(&refresh(&server, &token), "refresh after logout");
}

#[test]
fn deactivated_users_tokens_fail_at_once_and_cannot_be_refreshed() {
    let server = server();
    let admin = server.admin_token();
    let (id, token) = user_with_token(&server, "leaving@example.com", "leaving-password");
    assert_me(
        &me(&server, &token),
        "leaving@example.com",
        "before deactivation",
    );
    deactivate(&server, &admin, &id);
    assert_unauthorized(&me(&server, &token), "/users/me after deactivation");
    assert_unauthorized(&refresh(&server, &token), "refresh after deactivation");
}

#[test]
fn password_change_ends_every_other_session_at_once() {
    let server = server();
    let (_, current) = user_with_token(&server, "mover@example.com", "old-password-1");
    let other = server.login("mover@example.com", "old-password-1");
    let resp = server
        .patch(ME)
        .bearer(&current)
        .json(&json!({"password": "new-password-2", "current_password": "old-password-1"}))
        .send();
    resp.expect_status(200);
    assert_unauthorized(
        &me(&server, &other),
        "other session after the password change",
    );
    assert_unauthorized(&refresh(&server, &other), "refresh of the other session");
    assert_me(
        &me(&server, &current),
        "mover@example.com",
        "the session that changed it",
    );
    server
        .post(LOGIN)
        .form(&[
            ("username", "mover@example.com"),
            ("password", "old-password-1"),
        ])
        .send()
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    server.login("mover@example.com", "new-password-2");
}

// ---------------------------------------------------------------------------------------------
// Logout and sessions
// ---------------------------------------------------------------------------------------------

#[test]
fn logout_is_204_and_the_token_is_401_on_the_next_request() {
    let server = server();
    let token = server.admin_token();
    let other = server.admin_token();
    let resp = server.post(LOGOUT).bearer(&token).send();
    resp.expect_status(204);
    assert!(resp.body.is_empty(), "204 with a body: {}", resp.text());
    assert_unauthorized(&me(&server, &token), "/users/me after logout");
    assert_unauthorized(&server.post(LOGOUT).bearer(&token).send(), "second logout");
    assert_me(
        &me(&server, &other),
        ADMIN_EMAIL,
        "another session of the same user",
    );
    assert_unauthorized(&server.post(LOGOUT).send(), "logout without a token");
}

#[test]
fn sessions_lists_live_sessions_and_marks_the_current_one() {
    let server = server();
    let first = login_as_agent(&server, ADMIN_EMAIL, ADMIN_PASSWORD, "agent-one/1.0");
    let second = login_as_agent(&server, ADMIN_EMAIL, ADMIN_PASSWORD, "agent-two/2.0 (test)");
    let ended = login_as_agent(&server, ADMIN_EMAIL, ADMIN_PASSWORD, "agent-ended");
    server.post(LOGOUT).bearer(&ended).send().expect_status(204);
    // Another user's session is not listed.
    let (_, stranger) = user_with_token(&server, "stranger@example.com", "stranger-password");

    let list = list_sessions(&server, &second);
    assert_eq!(list.len(), 2, "{list:#?}");
    let mut agents = Vec::new();
    for session in &list {
        let object = session.as_object().expect("session object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created_at",
                "current",
                "id",
                "ip",
                "last_seen_at",
                "user_agent"
            ],
            "{session}"
        );
        assert_eq!(session["ip"], json!("127.0.0.1"));
        for field in ["created_at", "last_seen_at"] {
            let text = session[field].as_str().expect("timestamp string");
            assert!(text.ends_with('Z'), "{field} {text}");
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|err| panic!("{field} {text} is not RFC 3339: {err}"));
        }
        let is_current = session["id"] == json!(sid(&second));
        assert_eq!(session["current"], json!(is_current), "{session}");
        agents.push(session["user_agent"].as_str().unwrap().to_string());
    }
    agents.sort();
    assert_eq!(agents, ["agent-one/1.0", "agent-two/2.0 (test)"]);
    let ids: Vec<&Value> = list.iter().map(|s| &s["id"]).collect();
    assert!(ids.contains(&&json!(sid(&first))) && ids.contains(&&json!(sid(&second))));
    assert_eq!(
        list.iter().filter(|s| s["current"] == json!(true)).count(),
        1
    );

    // Seen from the first session, that one is current.
    let list = list_sessions(&server, &first);
    let current: Vec<&Value> = list
        .iter()
        .filter(|s| s["current"] == json!(true))
        .collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], json!(sid(&first)));

    let theirs = list_sessions(&server, &stranger);
    assert_eq!(theirs.len(), 1, "{theirs:#?}");
    assert_eq!(theirs[0]["id"], json!(sid(&stranger)));

    assert_unauthorized(&server.get(SESSIONS).send(), "sessions without a token");
}

#[test]
fn deleting_another_users_session_is_404() {
    let server = server();
    let admin = server.admin_token();
    let (_, user) = user_with_token(&server, "user@example.com", "user-password-1");
    let resp = server
        .delete(&format!("{SESSIONS}/{}", sid(&admin)))
        .bearer(&user)
        .send();
    resp.expect_status(404);
    assert!(resp.json()["detail"].is_string(), "{}", resp.text());
    assert_me(
        &me(&server, &admin),
        ADMIN_EMAIL,
        "the admin's session is untouched",
    );
    let resp = server
        .delete(&format!("{SESSIONS}/00000000-0000-4000-8000-000000000000"))
        .bearer(&user)
        .send();
    resp.expect_status(404);
    assert!(resp.json()["detail"].is_string(), "{}", resp.text());
}

#[test]
fn deleting_own_other_session_is_204_and_ends_it_at_once() {
    let server = server();
    let keep = server.admin_token();
    let drop = server.admin_token();
    let resp = server
        .delete(&format!("{SESSIONS}/{}", sid(&drop)))
        .bearer(&keep)
        .send();
    resp.expect_status(204);
    assert_unauthorized(&me(&server, &drop), "deleted session");
    assert_unauthorized(&refresh(&server, &drop), "refresh of a deleted session");
    assert_me(&me(&server, &keep), ADMIN_EMAIL, "the caller's session");
    let listed: Vec<Value> = list_sessions(&server, &keep)
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(listed, [json!(sid(&keep))]);
    // Deleting it again: it is no longer a live session of the caller.
    let resp = server
        .delete(&format!("{SESSIONS}/{}", sid(&drop)))
        .bearer(&keep)
        .send();
    assert!(
        resp.status == 404 || resp.status == 204,
        "{}: {}",
        resp.status,
        resp.text()
    );
}

#[test]
fn revoke_all_ends_every_other_session_of_the_caller() {
    let server = server();
    let a = server.admin_token();
    let b = server.admin_token();
    let c = server.admin_token();
    let (_, stranger) = user_with_token(&server, "stranger@example.com", "stranger-password");
    let resp = server.post(REVOKE_ALL).bearer(&b).send();
    resp.expect_status(204);
    assert!(resp.body.is_empty(), "204 with a body: {}", resp.text());
    assert_unauthorized(&me(&server, &a), "first session");
    assert_unauthorized(&me(&server, &c), "third session");
    assert_unauthorized(&refresh(&server, &a), "refresh of a revoked session");
    assert_me(&me(&server, &b), ADMIN_EMAIL, "the current session");
    let listed: Vec<Value> = list_sessions(&server, &b)
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(listed, [json!(sid(&b))]);
    assert_me(
        &me(&server, &stranger),
        "stranger@example.com",
        "another user's session",
    );
}
