//! Integration tests: API keys.
//!
//! Contract: `http-api.md` ("Internal API: API keys", "Public API", "Conventions for every
//! endpoint") and `auth.md` ("API keys", "Authorization summary").
//!
//! Whether a key is accepted is observed in two ways, both fixed by the contract:
//! * `GET /api/v1/me` answers 200 with the creator's profile, or 401 `"Invalid or expired API
//!   token."` with `WWW-Authenticate: Bearer`;
//! * an account route (`GET /api/internal/teams`) answers a *valid* key with 403 `"API keys
//!   cannot manage account resources; sign in"` and an invalid one with 401.
//!
//! The lifecycle tests ("takes effect on the very next request") check both. Rules that need
//! time to pass (expiry, the expiry of a rolled key, list order across seconds) are tested
//! in-process on a fixed clock, in `src/api/tests/time_rules.rs`, rather than by sleeping here.
//!
//! Every server here runs with rate limits off (rate limits are tested elsewhere).

use crate::fixture::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const PROJECTS: &str = "/api/internal/projects";
const KEYS: &str = "/api/internal/api-keys";
const ME: &str = "/api/v1/me";
const PASSWORD: &str = "a-long-enough-password";
const INVALID_KEY: &str = "Invalid or expired API token.";
const KEYS_CANNOT: &str = "API keys cannot manage account resources; sign in";
const MANAGERS_ONLY: &str = "Only team owners and admins can do this";
const DAY: i64 = 86_400;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn server() -> TestServer {
    TestServer::start_with(
        Options::default()
            .env("SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE", "0")
            .env("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "0")
            .env("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "0")
            .env("SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE", "0")
            .env("SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE", "0"),
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rfc3339(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// Parses an RFC 3339 UTC timestamp with a `Z` suffix (panics otherwise).
#[track_caller]
fn parse_ts(value: &Value, what: &str) -> i64 {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value}"));
    assert!(text.ends_with('Z'), "{what}: {text:?} has no Z suffix");
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|err| panic!("{what}: {text:?} is not RFC 3339: {err}"))
        .unix_timestamp()
}

/// Today's UTC date as `YYYY-MM-DD`, and `days_back` days before.
fn utc_date(days_back: i64) -> String {
    let date = OffsetDateTime::from_unix_timestamp(now() - days_back * DAY)
        .unwrap()
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// CRC-32 (IEEE, reflected, as zlib), written here independently of the server's.
fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc ^ 0xFFFF_FFFF
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Six base62 digits, most significant first, zero-padded.
fn base62_6(mut value: u32) -> String {
    let mut digits = vec![b'0'; 6];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(digits).unwrap()
}

/// `sk_live_` + `random` (32 base62 characters) + its correct checksum.
fn forge_key(random: &str) -> String {
    assert_eq!(random.len(), 32);
    let body = format!("sk_live_{random}");
    format!("{body}{}", base62_6(crc32_ieee(body.as_bytes())))
}

/// Asserts the documented key format.
#[track_caller]
fn assert_key_format(key: &str) {
    assert_eq!(key.len(), 46, "{key:?}");
    assert!(key.starts_with("sk_live_"), "{key:?}");
    assert!(
        key[8..].bytes().all(|b| b.is_ascii_alphanumeric()),
        "{key:?} has characters outside [0-9A-Za-z]"
    );
    assert_eq!(
        &key[40..],
        base62_6(crc32_ieee(&key.as_bytes()[..40])),
        "{key:?}: wrong checksum"
    );
    assert!(shipstar::auth::api_key::is_well_formed(key));
}

/// The fields of a key object, sorted.
fn key_object_fields() -> Vec<String> {
    let mut names: Vec<String> = [
        "id",
        "project_id",
        "name",
        "key_prefix",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "is_active",
        "deactivated_at",
        "deactivated_reason",
        "leak_report_url",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.sort();
    names
}

/// `value` without its `key` field.
fn without_key(value: &Value) -> Value {
    let mut value = value.clone();
    value.as_object_mut().unwrap().remove("key");
    value
}

fn me(server: &TestServer, key: &str) -> Resp {
    server.get(ME).bearer(key).send()
}

/// Asserts `/api/v1/me` refuses `key`: 401, the API-key detail, `WWW-Authenticate: Bearer`.
#[track_caller]
fn assert_refused(server: &TestServer, key: &str, case: &str) {
    let resp = me(server, key);
    assert!(
        resp.status == 401
            && resp.header("WWW-Authenticate") == Some("Bearer")
            && serde_json::from_slice::<Value>(&resp.body).ok()
                == Some(json!({"detail": INVALID_KEY})),
        "{case}: expected 401 {INVALID_KEY:?} with WWW-Authenticate: Bearer\nstatus: {}\n\
         headers: {:?}\nbody: {}",
        resp.status,
        resp.headers,
        resp.text()
    );
    // An account route refuses it as a credential too (401, not the 403 of a valid key).
    let resp = server.get("/api/internal/teams").bearer(key).send();
    assert_eq!(resp.status, 401, "{case}: account route: {}", resp.text());
}

/// Asserts `key` is accepted: `/api/v1/me` answers 200 with an active user's profile, and
/// an account route answers the valid-key 403 (an invalid key gets 401 there).
#[track_caller]
fn assert_valid(server: &TestServer, key: &str, case: &str) {
    let resp = me(server, key);
    assert!(
        resp.status == 200,
        "{case}: expected 200 from /api/v1/me\nstatus: {}\nheaders: {:?}\nbody: {}",
        resp.status,
        resp.headers,
        resp.text()
    );
    let profile = resp.json();
    assert_eq!(
        fields_of(&profile),
        [
            "email",
            "first_name",
            "id",
            "is_active",
            "is_verified",
            "last_name"
        ],
        "{case}"
    );
    assert_eq!(profile["is_active"], json!(true), "{case}");
    let resp = server.get("/api/internal/teams").bearer(key).send();
    assert!(
        resp.status == 403
            && serde_json::from_slice::<Value>(&resp.body).ok()
                == Some(json!({"detail": KEYS_CANNOT})),
        "{case}: expected the valid-key 403 {KEYS_CANNOT:?} on an account route\nstatus: {}\n\
         body: {}",
        resp.status,
        resp.text()
    );
}

/// Asserts `/api/v1/me` accepts `key` and answers exactly `profile`.
#[track_caller]
fn assert_me(server: &TestServer, key: &str, profile: &Value, case: &str) {
    let resp = me(server, key);
    assert!(
        resp.status == 200,
        "{case}: expected 200 from /api/v1/me\nstatus: {}\nheaders: {:?}\nbody: {}",
        resp.status,
        resp.headers,
        resp.text()
    );
    assert_eq!(&resp.json(), profile, "{case}");
}

/// The `/api/v1/me` profile of the user signed in with `token`, from `/users/me`.
fn profile_of(server: &TestServer, token: &str) -> Value {
    let resp = server.get("/api/internal/users/me").bearer(token).send();
    resp.expect_status(200);
    let user = resp.json();
    json!({
        "id": user["id"], "email": user["email"], "first_name": user["first_name"],
        "last_name": user["last_name"], "is_active": user["is_active"],
        "is_verified": user["is_verified"],
    })
}

/// A server with a team owned by a regular user and one project in it.
struct World {
    server: TestServer,
    admin: String,
    owner_id: String,
    owner: String,
    team_id: String,
    project_id: String,
}

fn world() -> World {
    let server = server();
    let admin = server.admin_token();
    let (owner_id, owner) = server.create_user(&admin, "owner@example.com", PASSWORD);
    let team = create_team(&server, &owner, json!({"name": "Key Team"}));
    let team_id = team["id"].as_str().unwrap().to_string();
    let project = create_project(&server, &owner, &team_id, json!({"name": "Key Project"}));
    let project_id = project["id"].as_str().unwrap().to_string();
    World {
        server,
        admin,
        owner_id,
        owner,
        team_id,
        project_id,
    }
}

impl World {
    fn keys_path(&self) -> String {
        format!("{PROJECTS}/{}/api-keys", self.project_id)
    }

    /// `POST .../api-keys` as `token` with `body`.
    fn post_key(&self, token: &str, body: Value) -> Resp {
        self.server
            .post(&self.keys_path())
            .bearer(token)
            .json(&body)
            .send()
    }

    /// Creates a key as `token`: (key object with `key`, raw key).
    fn create_key_as(&self, token: &str, body: Value) -> (Value, String) {
        let resp = self.post_key(token, body);
        resp.expect_status(201);
        let object = resp.json();
        let raw = object["key"].as_str().unwrap().to_string();
        (object, raw)
    }

    /// Creates a key as the owner.
    fn create_key(&self, name: &str) -> (Value, String) {
        self.create_key_as(&self.owner, json!({"name": name}))
    }

    fn list_keys(&self, token: &str) -> Vec<Value> {
        let resp = self.server.get(&self.keys_path()).bearer(token).send();
        resp.expect_status(200);
        resp.json().as_array().unwrap().clone()
    }

    fn get_key(&self, id: &str) -> Value {
        let resp = self
            .server
            .get(&format!("{KEYS}/{id}"))
            .bearer(&self.owner)
            .send();
        resp.expect_status(200);
        resp.json()
    }

    fn patch_key(&self, id: &str, body: Value) -> Resp {
        self.server
            .patch(&format!("{KEYS}/{id}"))
            .bearer(&self.owner)
            .json(&body)
            .send()
    }

    fn roll(&self, id: &str, body: Value) -> Resp {
        self.server
            .post(&format!("{KEYS}/{id}/roll"))
            .bearer(&self.owner)
            .json(&body)
            .send()
    }

    fn usage(&self, id: &str, query: &str) -> Resp {
        self.server
            .get(&format!("{KEYS}/{id}/usage{query}"))
            .bearer(&self.owner)
            .send()
    }

    /// A new user added to the team with `role`: (id, token).
    fn member(&self, email: &str, role: &str) -> (String, String) {
        let (id, token) = self.server.create_user(&self.admin, email, PASSWORD);
        self.server
            .post(&format!("/api/internal/teams/{}/members", self.team_id))
            .bearer(&self.owner)
            .json(&json!({"email": email, "role": role}))
            .send()
            .expect_status(201);
        (id, token)
    }
}

/// Polls `key_id`'s usage until today's row satisfies `done`, up to `within`; returns it.
fn poll_today(w: &World, key_id: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let resp = w.usage(key_id, "?days=1");
        resp.expect_status(200);
        let row = resp.json()[0].clone();
        if done(&row) || Instant::now() >= deadline {
            return row;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// Creating, listing, reading
// ---------------------------------------------------------------------------------------------

#[test]
fn creating_a_key_shows_it_once_in_the_documented_format() {
    let w = world();
    let before = now();
    let resp = w.post_key(&w.owner, json!({"name": "CI/CD Pipeline"}));
    resp.expect_status(201);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    let object = resp.json();
    let mut expected = key_object_fields();
    expected.push("key".into());
    expected.sort();
    assert_eq!(fields_of(&object), expected, "{object}");

    let key = object["key"].as_str().unwrap();
    assert_key_format(key);
    assert_eq!(object["key_prefix"], json!(&key[..16]));
    assert_eq!(object["name"], json!("CI/CD Pipeline"));
    assert_eq!(object["project_id"], json!(w.project_id));
    assert_eq!(object["created_by"], json!(w.owner_id));
    assert_eq!(object["expires_at"], Value::Null);
    assert_eq!(object["last_used_at"], Value::Null);
    assert_eq!(object["deactivated_at"], Value::Null);
    assert_eq!(object["is_active"], json!(true));
    let id = object["id"].as_str().unwrap();
    assert!(
        shipstar::ids::is_uuid(id) && id.as_bytes()[14] == b'4',
        "{id}"
    );
    let created = parse_ts(&object["created_at"], "created_at");
    assert!(created >= before - 1 && created <= now() + 1, "{created}");

    // Reading it back never shows the key again.
    let got = w.get_key(id);
    assert_eq!(fields_of(&got), key_object_fields());
    assert_eq!(got, without_key(&object));
    assert!(!got.to_string().contains(key));
    let listed = w.list_keys(&w.owner);
    assert_eq!(listed, vec![without_key(&object)]);
    assert!(!listed[0].to_string().contains(&key[16..]));
    // The answers that do not show a key are not no-store token answers.
    let resp = w
        .server
        .get(&format!("{KEYS}/{id}"))
        .bearer(&w.owner)
        .send();
    assert_ne!(resp.header("Cache-Control"), Some("no-store"));

    // The key acts: an account route sees a valid key (and refuses it).
    assert_valid(&w.server, key, "new key");
}

#[test]
fn every_key_is_different_and_prefixes_identify_them() {
    let w = world();
    let keys: Vec<(Value, String)> = (0..5).map(|i| w.create_key(&format!("k{i}"))).collect();
    for (object, raw) in &keys {
        assert_key_format(raw);
        assert_eq!(object["key_prefix"], json!(&raw[..16]));
    }
    let mut raws: Vec<&String> = keys.iter().map(|(_, raw)| raw).collect();
    raws.sort();
    raws.dedup();
    assert_eq!(raws.len(), 5);
    let mut ids: Vec<&Value> = keys.iter().map(|(o, _)| &o["id"]).collect();
    ids.sort_by_key(|v| v.to_string());
    ids.dedup();
    assert_eq!(ids.len(), 5);
}

#[test]
fn key_creation_is_validated() {
    let w = world();
    let future = rfc3339(now() + 3600);
    let cases: Vec<(Value, Vec<(Value, &str)>)> = vec![
        (json!({}), vec![(json!(["body", "name"]), "missing")]),
        // Regression: a null name was read as valid and answered 500.
        (
            json!({"name": null}),
            vec![(json!(["body", "name"]), "string_type")],
        ),
        (
            json!({"name": ""}),
            vec![(json!(["body", "name"]), "string_too_short")],
        ),
        (
            json!({"name": "n".repeat(101)}),
            vec![(json!(["body", "name"]), "string_too_long")],
        ),
        (
            json!({"name": "🔑".repeat(101)}),
            vec![(json!(["body", "name"]), "string_too_long")],
        ),
        (
            json!({"name": "k", "expires_in_days": 0}),
            vec![(json!(["body", "expires_in_days"]), "greater_than_equal")],
        ),
        (
            json!({"name": "k", "expires_in_days": -5}),
            vec![(json!(["body", "expires_in_days"]), "greater_than_equal")],
        ),
        (
            json!({"name": "k", "expires_in_days": 3651}),
            vec![(json!(["body", "expires_in_days"]), "less_than_equal")],
        ),
        (
            json!({"name": "k", "expires_in_days": "abc"}),
            vec![(json!(["body", "expires_in_days"]), "int_parsing")],
        ),
        (
            json!({"name": "k", "expires_in_days": 1.5}),
            vec![(json!(["body", "expires_in_days"]), "int_parsing")],
        ),
        (
            json!({"name": "k", "expires_at": "tomorrow"}),
            vec![(json!(["body", "expires_at"]), "datetime_parsing")],
        ),
        (
            json!({"name": "", "expires_in_days": 0}),
            vec![
                (json!(["body", "name"]), "string_too_short"),
                (json!(["body", "expires_in_days"]), "greater_than_equal"),
            ],
        ),
    ];
    for (body, problems) in &cases {
        expect_problems(&w.post_key(&w.owner, body.clone()), problems);
    }
    // An expiry in the past (or now) is 422 on `expires_at`.
    for past in [rfc3339(now() - 60), rfc3339(now() - 400 * DAY)] {
        let resp = w.post_key(&w.owner, json!({"name": "k", "expires_at": past}));
        resp.expect_status(422);
        let problems = resp.json()["detail"].as_array().unwrap().clone();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0]["loc"], json!(["body", "expires_at"]));
    }
    // Both expiry fields at once: 422.
    let resp = w.post_key(
        &w.owner,
        json!({"name": "k", "expires_at": future, "expires_in_days": 5}),
    );
    resp.expect_status(422);
    assert!(resp.json()["detail"].is_array());
    // Nothing was created.
    assert_eq!(w.list_keys(&w.owner), Vec::<Value>::new());
    // The limits themselves are accepted.
    for body in [
        json!({"name": "n".repeat(100)}),
        json!({"name": "🔑".repeat(100)}),
        json!({"name": "k", "expires_in_days": 1}),
        json!({"name": "k", "expires_in_days": 3650}),
        json!({"name": "k", "expires_at": future}),
    ] {
        w.post_key(&w.owner, body).expect_status(201);
    }
}

#[test]
fn expiry_fields_set_expires_at() {
    let w = world();
    let before = now();
    let (object, _) = w.create_key_as(&w.owner, json!({"name": "three", "expires_in_days": 3}));
    let at = parse_ts(&object["expires_at"], "expires_at");
    assert!(
        at >= before + 3 * DAY - 1 && at <= now() + 3 * DAY + 1,
        "{at}"
    );
    // JSON has one number type: 3.0 is the integer 3 (it was refused with `int_parsing`).
    let (object, _) = w.create_key_as(&w.owner, json!({"name": "float", "expires_in_days": 3.0}));
    let at_float = parse_ts(&object["expires_at"], "expires_at");
    assert!(
        at_float >= before + 3 * DAY - 1 && at_float <= now() + 3 * DAY + 1,
        "{at_float}"
    );
    let (object, _) = w.create_key_as(&w.owner, json!({"name": "max", "expires_in_days": 3650}));
    let at = parse_ts(&object["expires_at"], "expires_at");
    assert!(at >= before + 3650 * DAY - 1 && at <= now() + 3650 * DAY + 1);

    let wanted = now() + 10 * DAY;
    let (object, raw) = w.create_key_as(
        &w.owner,
        json!({"name": "explicit", "expires_at": rfc3339(wanted)}),
    );
    assert_eq!(object["expires_at"], json!(rfc3339(wanted)));
    // Another offset is the same instant, answered in UTC with Z.
    let local = OffsetDateTime::from_unix_timestamp(wanted)
        .unwrap()
        .to_offset(time::macros::offset!(+02:00))
        .format(&Rfc3339)
        .unwrap();
    let (object, _) = w.create_key_as(&w.owner, json!({"name": "offset", "expires_at": local}));
    assert_eq!(object["expires_at"], json!(rfc3339(wanted)));
    // `expires_at: null` is no expiry.
    let (object, _) = w.create_key_as(&w.owner, json!({"name": "null", "expires_at": null}));
    assert_eq!(object["expires_at"], Value::Null);
    assert_valid(&w.server, &raw, "explicit expiry in the future");
}

#[test]
fn unicode_and_emoji_key_names_round_trip_exactly() {
    let w = world();
    let names = [
        "Déploiement 🚀",
        "本番キー",
        "👩‍💻 CI / CD \"prod\" \\ key",
        "  spaces kept  ",
        "Ω≈ç√∫",
    ];
    for name in names {
        let (object, _) = w.create_key(name);
        assert_eq!(object["name"], json!(name));
        let id = object["id"].as_str().unwrap();
        assert_eq!(w.get_key(id)["name"], json!(name));
    }
    let listed: Vec<Value> = w
        .list_keys(&w.owner)
        .iter()
        .map(|k| k["name"].clone())
        .collect();
    for name in names {
        assert!(listed.contains(&json!(name)), "{name:?} not in {listed:?}");
    }
    // Renaming keeps Unicode exactly too.
    let (object, _) = w.create_key("plain");
    let id = object["id"].as_str().unwrap();
    let resp = w.patch_key(id, json!({"name": "🔐 renamed ✓"}));
    resp.expect_status(200);
    assert_eq!(resp.json()["name"], json!("🔐 renamed ✓"));
    assert_eq!(w.get_key(id)["name"], json!("🔐 renamed ✓"));
}

#[test]
fn patching_a_key() {
    let w = world();
    let (object, raw) = w.create_key("old name");
    let id = object["id"].as_str().unwrap();

    let resp = w.patch_key(id, json!({"name": "new name"}));
    resp.expect_status(200);
    let patched = resp.json();
    assert_eq!(fields_of(&patched), key_object_fields());
    assert_eq!(patched["name"], json!("new name"));
    assert_eq!(patched["id"], object["id"]);
    assert_eq!(patched["key_prefix"], object["key_prefix"]);
    assert_eq!(w.get_key(id), patched);
    assert_valid(&w.server, &raw, "renamed key");

    // Deactivation records when; reactivation clears it.
    let resp = w.patch_key(id, json!({"is_active": false}));
    resp.expect_status(200);
    assert_eq!(resp.json()["is_active"], json!(false));
    let at = parse_ts(&resp.json()["deactivated_at"], "deactivated_at");
    assert!((at - now()).abs() <= 5);
    assert_eq!(w.get_key(id)["is_active"], json!(false));
    let resp = w.patch_key(id, json!({"is_active": true}));
    resp.expect_status(200);
    assert_eq!(resp.json()["is_active"], json!(true));
    assert_eq!(resp.json()["deactivated_at"], Value::Null);

    // Expiry: set, then removed with null.
    let at = now() + 5 * DAY;
    let resp = w.patch_key(id, json!({"expires_at": rfc3339(at)}));
    resp.expect_status(200);
    assert_eq!(resp.json()["expires_at"], json!(rfc3339(at)));
    let resp = w.patch_key(id, json!({"expires_at": null}));
    resp.expect_status(200);
    assert_eq!(resp.json()["expires_at"], Value::Null);

    // Validation.
    expect_problems(
        &w.patch_key(id, json!({"expires_at": rfc3339(now() - 10)})),
        &[(json!(["body", "expires_at"]), "value_error")],
    );
    expect_problems(
        &w.patch_key(id, json!({"name": "x".repeat(101)})),
        &[(json!(["body", "name"]), "string_too_long")],
    );
    expect_problems(
        &w.patch_key(id, json!({"name": ""})),
        &[(json!(["body", "name"]), "string_too_short")],
    );
    expect_problems(
        &w.patch_key(id, json!({"is_active": "no"})),
        &[(json!(["body", "is_active"]), "bool_parsing")],
    );
    expect_problems(
        &w.patch_key(id, json!({"expires_at": "soon"})),
        &[(json!(["body", "expires_at"]), "datetime_parsing")],
    );
    // Nothing changed by the failures.
    let current = w.get_key(id);
    assert_eq!(current["name"], json!("new name"));
    assert_eq!(current["is_active"], json!(true));
    assert_eq!(current["expires_at"], Value::Null);
    assert_valid(&w.server, &raw, "after failed patches");
}

// ---------------------------------------------------------------------------------------------
// The public API and how keys are presented
// ---------------------------------------------------------------------------------------------

#[test]
fn v1_me_with_a_key_answers_the_creators_profile() {
    let w = world();
    // A creator with names set, who is a team admin (not the owner).
    let resp = w
        .server
        .post("/api/internal/users")
        .bearer(&w.admin)
        .json(&json!({"email": "ada@example.com", "password": PASSWORD,
                      "first_name": "Ada", "last_name": "Lovelace", "is_verified": true}))
        .send();
    resp.expect_status(201);
    let ada_id = resp.json()["id"].as_str().unwrap().to_string();
    w.server
        .post(&format!("/api/internal/teams/{}/members", w.team_id))
        .bearer(&w.owner)
        .json(&json!({"email": "ada@example.com", "role": "admin"}))
        .send()
        .expect_status(201);
    let ada = w.server.login("ada@example.com", PASSWORD);
    let (_, raw) = w.create_key_as(&ada, json!({"name": "ada's key"}));

    let resp = me(&w.server, &raw);
    resp.expect_status(200);
    assert_eq!(
        resp.json(),
        json!({"id": ada_id, "email": "ada@example.com", "first_name": "Ada",
               "last_name": "Lovelace", "is_active": true, "is_verified": true})
    );
    // The owner's key answers the owner; the superuser's key answers the superuser.
    let (_, owner_key) = w.create_key("owner key");
    assert_me(
        &w.server,
        &owner_key,
        &profile_of(&w.server, &w.owner),
        "owner key",
    );
    let (_, admin_key) = w.create_key_as(&w.admin, json!({"name": "superuser key"}));
    assert_me(
        &w.server,
        &admin_key,
        &profile_of(&w.server, &w.admin),
        "superuser key",
    );
    // The scheme is case-insensitive.
    let resp = w
        .server
        .get(ME)
        .header("Authorization", &format!("bearer {raw}"))
        .send();
    resp.expect_status(200);
    assert_eq!(resp.json()["email"], json!("ada@example.com"));
}

#[test]
fn v1_me_with_a_session_jwt_answers_the_caller() {
    let w = world();
    let resp = me(&w.server, &w.owner);
    resp.expect_status(200);
    assert_eq!(resp.json(), profile_of(&w.server, &w.owner));
    assert_eq!(
        fields_of(&resp.json()),
        vec![
            "email",
            "first_name",
            "id",
            "is_active",
            "is_verified",
            "last_name"
        ]
    );
    // No credential: 401 with the API-key detail.
    let resp = w.server.get(ME).send();
    resp.expect_detail(401, json!(INVALID_KEY));
    assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
}

#[test]
fn bad_keys_are_401_on_v1_me() {
    let w = world();
    let (_, raw) = w.create_key("real");
    // One changed character breaks the checksum.
    let mut tampered: Vec<char> = raw.chars().collect();
    tampered[20] = if tampered[20] == 'a' { 'b' } else { 'a' };
    let tampered: String = tampered.into_iter().collect();
    // A changed checksum character.
    let mut bad_sum: Vec<char> = raw.chars().collect();
    bad_sum[45] = if bad_sum[45] == '0' { '1' } else { '0' };
    let bad_sum: String = bad_sum.into_iter().collect();
    // Well-formed with a correct checksum, but never issued.
    let unknown = forge_key("AbCdEfGhIjKlMnOpQrStUvWxYz012345");
    assert!(shipstar::auth::api_key::is_well_formed(&unknown));
    let cases = [
        ("garbage", "sk_live_garbage".to_string()),
        ("prefix only", "sk_live_".to_string()),
        ("tampered", tampered),
        ("bad checksum", bad_sum),
        ("never issued", unknown),
        ("too long", format!("{raw}0")),
        ("too short", raw[..45].to_string()),
        ("test prefix", raw.replacen("sk_live_", "sk_test_", 1)),
        ("not a key", "hello".to_string()),
        ("broken jwt", "a.b.c".to_string()),
    ];
    for (case, key) in &cases {
        assert_refused(&w.server, key, case);
    }
    // Other schemes and shapes.
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  x"] {
        let resp = w.server.get(ME).header("Authorization", value).send();
        resp.expect_detail(401, json!(INVALID_KEY));
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"), "{value}");
    }
    // The real key is unaffected by all that.
    assert_valid(&w.server, &raw, "real key");
}

#[test]
fn keys_sent_outside_authorization_bearer_get_a_hint() {
    let w = world();
    let (_, raw) = w.create_key("misplaced");
    let requests = [
        ("X-Api-Key", raw.clone()),
        ("Api-Key", raw.clone()),
        ("Authorization", raw.clone()),
        ("Authorization", format!("Token {raw}")),
    ];
    for (header, value) in &requests {
        for path in [ME, "/api/internal/teams"] {
            let resp = w.server.get(path).header(header, value).send();
            resp.expect_status(401);
            let detail = resp.json()["detail"].clone();
            assert!(
                detail
                    .as_str()
                    .is_some_and(|d| d.contains("Authorization: Bearer")),
                "{header}: {value}: detail {detail} does not say how to send the key"
            );
            assert!(!resp.text().contains(&raw[16..]), "the key is echoed");
        }
    }
}

#[test]
fn api_keys_cannot_call_account_routes() {
    let w = world();
    let (object, raw) = w.create_key("least privilege");
    let key_id = object["id"].as_str().unwrap().to_string();
    let p = &w.project_id;
    let t = &w.team_id;
    let o = &w.owner_id;
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("{PROJECTS}/{p}/api-keys"), None),
        (
            "POST",
            format!("{PROJECTS}/{p}/api-keys"),
            Some(json!({"name": "minted by a key"})),
        ),
        ("GET", format!("{KEYS}/{key_id}"), None),
        (
            "PATCH",
            format!("{KEYS}/{key_id}"),
            Some(json!({"expires_at": null})),
        ),
        ("POST", format!("{KEYS}/{key_id}/roll"), Some(json!({}))),
        ("GET", format!("{KEYS}/{key_id}/usage"), None),
        ("DELETE", format!("{KEYS}/{key_id}"), None),
        ("GET", "/api/internal/teams".into(), None),
        (
            "POST",
            "/api/internal/teams".into(),
            Some(json!({"name": "Key Team 2"})),
        ),
        ("GET", format!("/api/internal/teams/{t}/members"), None),
        (
            "POST",
            format!("/api/internal/teams/{t}/members"),
            Some(json!({"email": "admin@example.com", "role": "admin"})),
        ),
        (
            "PATCH",
            format!("/api/internal/teams/{t}/members/{o}"),
            Some(json!({"role": "member"})),
        ),
        (
            "DELETE",
            format!("/api/internal/teams/{t}/members/{o}"),
            None,
        ),
        (
            "POST",
            format!("/api/internal/teams/{t}/projects"),
            Some(json!({"name": "By Key"})),
        ),
        ("GET", PROJECTS.into(), None),
        ("GET", format!("{PROJECTS}/{p}"), None),
        ("GET", "/api/internal/users/me".into(), None),
        (
            "PATCH",
            "/api/internal/users/me".into(),
            Some(json!({"first_name": "Mallory"})),
        ),
        ("GET", "/api/internal/users".into(), None),
        (
            "POST",
            "/api/internal/users".into(),
            Some(json!({"email": "mallory@example.com", "password": PASSWORD})),
        ),
        (
            "PATCH",
            format!("/api/internal/users/{o}"),
            Some(json!({"is_superuser": true})),
        ),
        ("GET", "/api/internal/auth/sessions".into(), None),
        (
            "POST",
            "/api/internal/auth/sessions/revoke-all".into(),
            None,
        ),
    ];
    for (method, path, body) in &routes {
        let mut req = w.server.request(method, path).bearer(&raw);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().expect_detail(403, json!(KEYS_CANNOT));
    }
    // Nothing happened: one key, still active, same name; no new team, project or user.
    let keys = w.list_keys(&w.owner);
    assert_eq!(keys, vec![without_key(&object)]);
    let resp = w.server.get("/api/internal/teams").bearer(&w.owner).send();
    assert_eq!(resp.json().as_array().unwrap().len(), 1);
    let resp = w.server.get(PROJECTS).bearer(&w.owner).send();
    assert_eq!(resp.json().as_array().unwrap().len(), 1);
    let resp = w.server.get("/api/internal/users").bearer(&w.admin).send();
    let users = resp.json();
    assert!(!users.to_string().contains("mallory@example.com"));
    let owner_row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == json!(w.owner_id))
        .unwrap()
        .clone();
    assert_eq!(owner_row["is_superuser"], json!(false));
    assert_eq!(owner_row["first_name"], Value::Null);
    // The owner's session survived the revoke-all attempt.
    w.server
        .get("/api/internal/users/me")
        .bearer(&w.owner)
        .send()
        .expect_status(200);
}

#[test]
fn members_read_keys_but_only_owners_and_admins_manage_them() {
    let w = world();
    let (_, plain) = w.member("plain@example.com", "member");
    let (team_admin_id, team_admin) = w.member("team.admin@example.com", "admin");
    let (object, raw) = w.create_key("shared");
    let id = object["id"].as_str().unwrap().to_string();

    // A member reads the list, the key and its usage.
    assert_eq!(w.list_keys(&plain), vec![without_key(&object)]);
    let resp = w.server.get(&format!("{KEYS}/{id}")).bearer(&plain).send();
    resp.expect_status(200);
    assert_eq!(resp.json(), without_key(&object));
    w.server
        .get(&format!("{KEYS}/{id}/usage"))
        .bearer(&plain)
        .send()
        .expect_status(200);

    // But creates, changes, rolls and deletes nothing.
    w.post_key(&plain, json!({"name": "mine"}))
        .expect_detail(403, json!(MANAGERS_ONLY));
    w.server
        .patch(&format!("{KEYS}/{id}"))
        .bearer(&plain)
        .json(&json!({"is_active": false}))
        .send()
        .expect_detail(403, json!(MANAGERS_ONLY));
    w.server
        .post(&format!("{KEYS}/{id}/roll"))
        .bearer(&plain)
        .json(&json!({"overlap_seconds": 0}))
        .send()
        .expect_detail(403, json!(MANAGERS_ONLY));
    w.server
        .delete(&format!("{KEYS}/{id}"))
        .bearer(&plain)
        .send()
        .expect_detail(403, json!(MANAGERS_ONLY));
    assert_eq!(w.list_keys(&w.owner), vec![without_key(&object)]);
    assert_valid(&w.server, &raw, "after the member's attempts");

    // A team admin manages keys.
    let (admin_object, _) = w.create_key_as(&team_admin, json!({"name": "admin's"}));
    assert_eq!(admin_object["created_by"], json!(team_admin_id));
    w.server
        .patch(&format!("{KEYS}/{id}"))
        .bearer(&team_admin)
        .json(&json!({"name": "renamed by admin"}))
        .send()
        .expect_status(200);
    let resp = w
        .server
        .post(&format!("{KEYS}/{id}/roll"))
        .bearer(&team_admin)
        .json(&json!({"overlap_seconds": 0}))
        .send();
    resp.expect_status(201);
    let rolled_id = resp.json()["id"].as_str().unwrap().to_string();
    w.server
        .delete(&format!("{KEYS}/{rolled_id}"))
        .bearer(&team_admin)
        .send()
        .expect_status(204);
}

// ---------------------------------------------------------------------------------------------
// Changes take effect on the very next request
// ---------------------------------------------------------------------------------------------

#[test]
fn deactivation_and_reactivation_take_effect_at_once() {
    let w = world();
    let (object, raw) = w.create_key("toggle");
    let id = object["id"].as_str().unwrap();
    assert_valid(&w.server, &raw, "new key");
    w.patch_key(id, json!({"is_active": false}))
        .expect_status(200);
    assert_refused(&w.server, &raw, "right after deactivation");
    w.patch_key(id, json!({"is_active": true}))
        .expect_status(200);
    assert_valid(&w.server, &raw, "right after reactivation");
    // Deactivating one key leaves the others alone.
    let (_, other) = w.create_key("other");
    w.patch_key(id, json!({"is_active": false}))
        .expect_status(200);
    assert_refused(&w.server, &raw, "deactivated again");
    assert_valid(&w.server, &other, "other key");
}

#[test]
fn a_deleted_key_fails_at_once_and_is_gone() {
    let w = world();
    let (object, raw) = w.create_key("doomed");
    let (kept, kept_raw) = w.create_key("kept");
    let id = object["id"].as_str().unwrap();
    assert_valid(&w.server, &raw, "before deletion");
    let resp = w
        .server
        .delete(&format!("{KEYS}/{id}"))
        .bearer(&w.owner)
        .send();
    resp.expect_status(204);
    assert!(resp.body.is_empty());
    assert_refused(&w.server, &raw, "right after deletion");
    for resp in [
        w.server
            .get(&format!("{KEYS}/{id}"))
            .bearer(&w.owner)
            .send(),
        w.server
            .delete(&format!("{KEYS}/{id}"))
            .bearer(&w.owner)
            .send(),
        w.server
            .get(&format!("{KEYS}/{id}/usage"))
            .bearer(&w.owner)
            .send(),
        w.patch_key(id, json!({"name": "x"})),
        w.roll(id, json!({})),
    ] {
        resp.expect_detail(404, json!("API key not found"));
    }
    assert_eq!(w.list_keys(&w.owner), vec![without_key(&kept)]);
    assert_valid(&w.server, &kept_raw, "the other key");
}

#[test]
fn rolling_with_no_overlap_switches_keys_at_once() {
    let w = world();
    let (old, old_raw) = w.create_key("Rolling Key");
    let old_id = old["id"].as_str().unwrap();
    assert_valid(&w.server, &old_raw, "old key before the roll");
    let resp = w.roll(old_id, json!({"overlap_seconds": 0}));
    resp.expect_status(201);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    let new = resp.json();
    let mut expected = key_object_fields();
    expected.push("key".into());
    expected.sort();
    assert_eq!(fields_of(&new), expected);
    let new_raw = new["key"].as_str().unwrap().to_string();
    assert_key_format(&new_raw);
    assert_ne!(new_raw, old_raw);
    assert_ne!(new["id"], old["id"]);
    assert_eq!(new["key_prefix"], json!(&new_raw[..16]));
    assert_eq!(new["name"], json!("Rolling Key"));
    assert_eq!(new["project_id"], json!(w.project_id));
    assert_eq!(new["is_active"], json!(true));
    assert_eq!(new["expires_at"], Value::Null);

    assert_refused(&w.server, &old_raw, "old key right after the roll");
    assert_valid(&w.server, &new_raw, "new key right after the roll");
    // The new key is listed (newest first) and never shows the key again.
    let listed = w.list_keys(&w.owner);
    assert_eq!(listed[0], without_key(&new));
}

#[test]
fn rolling_with_an_overlap_keeps_both_keys_working() {
    let w = world();
    let (old, old_raw) = w.create_key("overlapping");
    let old_id = old["id"].as_str().unwrap();
    let resp = w.roll(old_id, json!({"overlap_seconds": 60}));
    resp.expect_status(201);
    let new_raw = resp.json()["key"].as_str().unwrap().to_string();
    assert_valid(&w.server, &old_raw, "old key within the overlap");
    assert_valid(&w.server, &new_raw, "new key");
    // Deactivating the old key still ends it at once.
    w.patch_key(old_id, json!({"is_active": false}))
        .expect_status(200);
    assert_refused(
        &w.server,
        &old_raw,
        "old key deactivated during the overlap",
    );
    assert_valid(&w.server, &new_raw, "new key");
}

/// The `expires_at` of key `id` as every answer that shows it reports it: GET, the list, and
/// a PATCH that changes something else.
fn shown_expiry(w: &World, id: &str) -> Value {
    let got = w.get_key(id)["expires_at"].clone();
    let listed = w
        .list_keys(&w.owner)
        .into_iter()
        .find(|key| key["id"] == json!(id))
        .unwrap_or_else(|| panic!("key {id} is not listed"));
    assert_eq!(listed["expires_at"], got, "list and GET disagree");
    let resp = w.patch_key(id, json!({"name": "renamed after the roll"}));
    resp.expect_status(200);
    assert_eq!(
        resp.json()["expires_at"],
        got,
        "PATCH answer and GET disagree"
    );
    got
}

#[test]
fn a_rolled_key_shows_the_end_of_its_overlap_as_its_expiry() {
    let w = world();
    // With an overlap: the old key's expires_at is the moment it stops working.
    let (old, old_raw) = w.create_key("overlap end");
    let old_id = old["id"].as_str().unwrap();
    assert_eq!(old["expires_at"], Value::Null);
    let before = now();
    w.roll(old_id, json!({"overlap_seconds": 3600}))
        .expect_status(201);
    let after = now();
    let end = parse_ts(&shown_expiry(&w, old_id), "old key expires_at");
    assert!(
        (before + 3600..=after + 3600).contains(&end),
        "expires_at {end} is not the roll ({before}..={after}) plus the overlap"
    );
    assert_valid(&w.server, &old_raw, "within the overlap");

    // An own expiry earlier than the overlap's end is kept.
    let own = rfc3339(now() + 600);
    let (early, _) = w.create_key_as(&w.owner, json!({"name": "early", "expires_at": own}));
    let early_id = early["id"].as_str().unwrap();
    w.roll(early_id, json!({"overlap_seconds": 3600}))
        .expect_status(201);
    assert_eq!(shown_expiry(&w, early_id), json!(own));

    // Overlap 0: the old key ends at the roll, and says so.
    let (instant, instant_raw) = w.create_key("no overlap");
    let instant_id = instant["id"].as_str().unwrap();
    let before = now();
    w.roll(instant_id, json!({"overlap_seconds": 0}))
        .expect_status(201);
    let after = now();
    let end = parse_ts(&shown_expiry(&w, instant_id), "instant expires_at");
    assert!(
        (before..=after).contains(&end),
        "expires_at {end} is not the moment of the roll ({before}..={after})"
    );
    assert_refused(&w.server, &instant_raw, "rolled without overlap");
}

#[test]
fn deactivating_the_creator_stops_their_keys() {
    let w = world();
    let (admin_id, team_admin) = w.member("creator@example.com", "admin");
    let (_, raw) = w.create_key_as(&team_admin, json!({"name": "creator's"}));
    let (_, owner_raw) = w.create_key("owner's");
    assert_valid(&w.server, &raw, "before deactivation");
    w.server
        .patch(&format!("/api/internal/users/{admin_id}"))
        .bearer(&w.admin)
        .json(&json!({"is_active": false}))
        .send()
        .expect_status(200);
    assert_refused(&w.server, &raw, "creator deactivated");
    assert_valid(&w.server, &owner_raw, "another creator's key");
    w.server
        .patch(&format!("/api/internal/users/{admin_id}"))
        .bearer(&w.admin)
        .json(&json!({"is_active": true}))
        .send()
        .expect_status(200);
    assert_valid(&w.server, &raw, "creator reactivated");
}

#[test]
fn removing_the_creator_from_the_team_stops_their_keys() {
    let w = world();
    let (admin_id, team_admin) = w.member("leaver@example.com", "admin");
    let (_, raw) = w.create_key_as(&team_admin, json!({"name": "leaver's"}));
    assert_valid(&w.server, &raw, "before removal");
    // A demotion to plain member keeps the key working: the creator is still in the team.
    w.server
        .patch(&format!(
            "/api/internal/teams/{}/members/{admin_id}",
            w.team_id
        ))
        .bearer(&w.owner)
        .json(&json!({"role": "member"}))
        .send()
        .expect_status(200);
    assert_valid(&w.server, &raw, "creator demoted to member");
    w.server
        .delete(&format!(
            "/api/internal/teams/{}/members/{admin_id}",
            w.team_id
        ))
        .bearer(&w.owner)
        .send()
        .expect_status(204);
    assert_refused(&w.server, &raw, "creator removed from the team");
    // The key object is still there (it belongs to the project).
    assert_eq!(w.list_keys(&w.owner).len(), 1);
    // Back in the team, the key acts again.
    w.server
        .post(&format!("/api/internal/teams/{}/members", w.team_id))
        .bearer(&w.owner)
        .json(&json!({"email": "leaver@example.com", "role": "member"}))
        .send()
        .expect_status(201);
    assert_valid(&w.server, &raw, "creator back in the team");
}

// ---------------------------------------------------------------------------------------------
// /api/v1/me with keys: profile, expiry warning, usage, last use
// ---------------------------------------------------------------------------------------------

#[test]
fn v1_me_follows_the_key_lifecycle() {
    let w = world();
    let profile = profile_of(&w.server, &w.owner);
    let (object, raw) = w.create_key("lifecycle");
    let id = object["id"].as_str().unwrap();
    assert_me(&w.server, &raw, &profile, "new key");
    w.patch_key(id, json!({"is_active": false}))
        .expect_status(200);
    assert_refused(&w.server, &raw, "deactivated");
    w.patch_key(id, json!({"is_active": true}))
        .expect_status(200);
    assert_me(&w.server, &raw, &profile, "reactivated");
    let resp = w.roll(id, json!({"overlap_seconds": 60}));
    resp.expect_status(201);
    let new_raw = resp.json()["key"].as_str().unwrap().to_string();
    let new_id = resp.json()["id"].as_str().unwrap().to_string();
    assert_me(&w.server, &raw, &profile, "old key within the overlap");
    assert_me(&w.server, &new_raw, &profile, "new key");
    let resp = w.roll(&new_id, json!({"overlap_seconds": 0}));
    resp.expect_status(201);
    let newest = resp.json()["key"].as_str().unwrap().to_string();
    let newest_id = resp.json()["id"].as_str().unwrap().to_string();
    assert_refused(&w.server, &new_raw, "rolled without overlap");
    assert_me(&w.server, &newest, &profile, "newest key");
    w.server
        .delete(&format!("{KEYS}/{newest_id}"))
        .bearer(&w.owner)
        .send()
        .expect_status(204);
    assert_refused(&w.server, &newest, "deleted");
}

#[test]
fn keys_expiring_within_a_week_announce_it() {
    let w = world();
    let (soon, soon_raw) = w.create_key_as(&w.owner, json!({"name": "soon", "expires_in_days": 3}));
    let (_, later_raw) = w.create_key_as(&w.owner, json!({"name": "later", "expires_in_days": 30}));
    let (_, never_raw) = w.create_key("never");

    let resp = me(&w.server, &soon_raw);
    resp.expect_status(200);
    let header = resp
        .header("X-Key-Expires-At")
        .unwrap_or_else(|| panic!("no X-Key-Expires-At: {:?}", resp.headers));
    assert_eq!(
        parse_ts(&json!(header), "X-Key-Expires-At"),
        parse_ts(&soon["expires_at"], "expires_at")
    );
    for (case, raw) in [("30 days", &later_raw), ("no expiry", &never_raw)] {
        let resp = me(&w.server, raw);
        resp.expect_status(200);
        assert_eq!(resp.header("X-Key-Expires-At"), None, "{case}");
    }
    // A session JWT never gets the header.
    let resp = me(&w.server, &w.owner);
    assert_eq!(resp.header("X-Key-Expires-At"), None);
}

#[test]
fn usage_counts_accepted_and_rejected_requests() {
    let w = world();
    let (object, raw) = w.create_key("counted");
    let (other, _) = w.create_key("idle");
    let id = object["id"].as_str().unwrap();
    for _ in 0..3 {
        me(&w.server, &raw).expect_status(200);
    }
    w.server
        .get("/api/internal/teams")
        .bearer(&raw)
        .send()
        .expect_status(403);
    let row = poll_today(&w, id, Duration::from_secs(3), |row| {
        row["requests"] == json!(3) && row["rejected"] == json!(1)
    });
    assert_eq!(
        row,
        json!({"date": utc_date(0), "requests": 3, "rejected": 1})
    );
    // Another key's usage is its own.
    let resp = w.usage(other["id"].as_str().unwrap(), "?days=1");
    assert_eq!(
        resp.json(),
        json!([{"date": utc_date(0), "requests": 0, "rejected": 0}])
    );
}

#[test]
fn last_used_at_shows_a_use_within_two_seconds() {
    let w = world();
    let (object, raw) = w.create_key("used");
    let id = object["id"].as_str().unwrap();
    assert_eq!(w.get_key(id)["last_used_at"], Value::Null);
    let before = now();
    me(&w.server, &raw).expect_status(200);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut seen = Value::Null;
    while Instant::now() < deadline {
        seen = w.get_key(id)["last_used_at"].clone();
        if !seen.is_null() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!seen.is_null(), "last_used_at still null 2 s after a use");
    let at = parse_ts(&seen, "last_used_at");
    assert!(at >= before - 1 && at <= now() + 1, "{at}");
    // It shows in the list too.
    assert_eq!(w.list_keys(&w.owner)[0]["last_used_at"], seen);
}

#[test]
fn keys_created_in_parallel_all_work_on_v1_me() {
    let w = world();
    let profile = profile_of(&w.server, &w.owner);
    for (object, raw) in create_in_parallel(&w, 40) {
        assert_me(&w.server, &raw, &profile, object["name"].as_str().unwrap());
    }
}

// ---------------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------------

#[test]
fn usage_has_one_row_per_day_oldest_first() {
    let w = world();
    let (object, _) = w.create_key("fresh");
    let id = object["id"].as_str().unwrap();
    let resp = w.usage(id, "");
    resp.expect_status(200);
    let rows = resp.json().as_array().unwrap().clone();
    assert_eq!(rows.len(), 30);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(
            row,
            &json!({"date": utc_date(29 - i as i64), "requests": 0, "rejected": 0}),
            "row {i}"
        );
    }
    let resp = w.usage(id, "?days=1");
    resp.expect_status(200);
    assert_eq!(
        resp.json(),
        json!([{"date": utc_date(0), "requests": 0, "rejected": 0}])
    );
    let resp = w.usage(id, "?days=90");
    resp.expect_status(200);
    let rows = resp.json().as_array().unwrap().clone();
    assert_eq!(rows.len(), 90);
    assert_eq!(rows[0]["date"], json!(utc_date(89)));
    assert_eq!(rows[89]["date"], json!(utc_date(0)));

    for (query, kind) in [
        ("?days=0", "greater_than_equal"),
        ("?days=-3", "greater_than_equal"),
        ("?days=91", "less_than_equal"),
        ("?days=abc", "int_parsing"),
        ("?days=", "int_parsing"),
        ("?days=1.5", "int_parsing"),
    ] {
        let resp = w.usage(id, query);
        resp.expect_status(422);
        let problems = resp.json()["detail"].as_array().unwrap().clone();
        assert_eq!(problems.len(), 1, "{query}: {problems:?}");
        assert_eq!(problems[0]["loc"], json!(["query", "days"]), "{query}");
        if query != "?days=" {
            assert_eq!(problems[0]["type"], json!(kind), "{query}");
        }
    }
}

#[test]
fn forbidden_requests_are_counted_as_rejected() {
    let w = world();
    let (object, raw) = w.create_key("forbidden");
    let id = object["id"].as_str().unwrap();
    for _ in 0..2 {
        w.server
            .get("/api/internal/teams")
            .bearer(&raw)
            .send()
            .expect_detail(403, json!(KEYS_CANNOT));
    }
    let row = poll_today(&w, id, Duration::from_secs(3), |row| {
        row["rejected"] == json!(2)
    });
    assert_eq!(
        row,
        json!({"date": utc_date(0), "requests": 0, "rejected": 2})
    );
    // The 30-day view ends with the same row.
    let rows = w.usage(id, "").json();
    assert_eq!(rows[29], row);
    assert_eq!(rows[28]["requests"], json!(0));
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Creates `n` keys in parallel threads; asserts each 201; returns (object, raw key).
fn create_in_parallel(w: &World, n: usize) -> Vec<(Value, String)> {
    let results: Vec<Resp> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let path = w.keys_path();
                let owner = w.owner.clone();
                let server = &w.server;
                scope.spawn(move || {
                    server
                        .post(&path)
                        .bearer(&owner)
                        .json(&json!({"name": format!("parallel {i}")}))
                        .send()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    results
        .iter()
        .map(|resp| {
            resp.expect_status(201);
            let object = resp.json();
            let raw = object["key"].as_str().unwrap().to_string();
            (object, raw)
        })
        .collect()
}

#[test]
fn forty_keys_created_in_parallel_are_all_distinct_and_valid() {
    let w = world();
    let created = create_in_parallel(&w, 40);
    let mut raws: Vec<&str> = created.iter().map(|(_, raw)| raw.as_str()).collect();
    let mut ids: Vec<String> = created.iter().map(|(o, _)| o["id"].to_string()).collect();
    let mut names: Vec<String> = created
        .iter()
        .map(|(o, _)| o["name"].as_str().unwrap().to_string())
        .collect();
    raws.sort();
    raws.dedup();
    ids.sort();
    ids.dedup();
    names.sort();
    names.dedup();
    assert_eq!((raws.len(), ids.len(), names.len()), (40, 40, 40));
    for (object, raw) in &created {
        assert_key_format(raw);
        assert_eq!(object["key_prefix"], json!(&raw[..16]));
        assert_valid(&w.server, raw, object["name"].as_str().unwrap());
    }
    let listed = w.list_keys(&w.owner);
    assert_eq!(listed.len(), 40);
    for (object, _) in &created {
        assert!(listed.contains(&without_key(object)), "{object} not listed");
    }
}
