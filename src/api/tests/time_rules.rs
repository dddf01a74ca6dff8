//! The time rules of sessions and API keys, on a fixed clock moved by hand: the refresh reuse
//! window, the absolute session age, key expiry, the expiry of a rolled key, the order of
//! the key list and the once-a-minute `last_used_at` write. Each asserts what the black-box test it replaces asserted after sleeping,
//! and the exact boundary second besides.

use serde_json::{json, Value};

use super::{expect, id_of, TestApp, ADMIN_EMAIL, START};
use crate::api::internal::auth::REUSE_WINDOW_SECS;
use crate::api::principal::KEYS_CANNOT_MANAGE_ACCOUNTS;
use crate::api::respond::{rfc3339, API_KEY_UNAUTHORIZED, SESSION_UNAUTHORIZED};
use crate::auth::jwt::{self, Claims};
use crate::http::Response;

const ME: &str = "/api/internal/users/me";
const REFRESH: &str = "/api/internal/auth/jwt/refresh";
const V1_ME: &str = "/api/v1/me";
const DAY: i64 = 86_400;

/// The claims of a token, read without checking it.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&jwt::b64url_decode(payload).unwrap()).unwrap()
}

fn me(t: &TestApp, token: &str) -> Response {
    t.call("GET", ME, Some(token), None)
}

fn refresh(t: &TestApp, token: &str) -> Response {
    t.call("POST", REFRESH, Some(token), None)
}

/// A successful refresh: 200, not cacheable; returns the new token.
#[track_caller]
fn expect_token_answer(resp: &Response, case: &str) -> String {
    let body = expect(resp, 200, case);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{case}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[track_caller]
fn assert_me(resp: &Response, case: &str) {
    let body = expect(resp, 200, case);
    assert_eq!(body["email"], json!(ADMIN_EMAIL), "{case}");
}

/// The one answer to every session failure: 401, `WWW-Authenticate: Bearer`, fixed detail.
#[track_caller]
fn assert_unauthorized(resp: &Response, case: &str) {
    let body = expect(resp, 401, case);
    assert_eq!(body, json!({"detail": SESSION_UNAUTHORIZED}), "{case}");
    assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"), "{case}");
}

#[test]
fn replaying_the_replaced_token_at_the_end_of_the_reuse_window_gets_the_current_generation() {
    let t = TestApp::new(&[]);
    let first = t.admin_token();
    let second = expect_token_answer(&refresh(&t, &first), "first refresh");
    t.clock.advance_millis(REUSE_WINDOW_SECS * 1000);
    let again = expect_token_answer(&refresh(&t, &first), "a second tab, 10 s later");
    assert_eq!(claims(&again)["gen"], json!(1), "the current generation");
    assert_eq!(claims(&again)["sid"], claims(&first)["sid"]);
    assert_me(&me(&t, &again), "token from the repeated refresh");
    assert_me(&me(&t, &second), "the first tab's token");
}

#[test]
fn refresh_with_the_previous_token_after_10s_revokes_the_session() {
    let t = TestApp::new(&[]);
    let first = t.admin_token();
    let second = expect_token_answer(&refresh(&t, &first), "first refresh");
    t.clock.advance_millis((REUSE_WINDOW_SECS + 1) * 1000);
    assert_me(&me(&t, &second), "current token before the replay");
    assert_unauthorized(&refresh(&t, &first), "late replay of generation 0");
    assert_unauthorized(&me(&t, &second), "current token after the replay");
    assert_unauthorized(&refresh(&t, &second), "refresh after the replay");
}

/// `token` with its `exp` moved to `exp`, validly signed with the server's current key.
fn with_exp(t: &TestApp, token: &str, exp: i64) -> String {
    let c = claims(token);
    let text = |name: &str| c[name].as_str().unwrap().to_owned();
    let claims = Claims {
        sub: text("sub"),
        sid: text("sid"),
        gen: c["gen"].as_i64().unwrap(),
        iat: c["iat"].as_i64().unwrap(),
        exp,
        aud: text("aud"),
        jti: text("jti"),
        nbf: None,
    };
    jwt::sign(&claims, &t.app.keys.signing_key(&t.app.store).unwrap())
}

#[test]
fn session_past_max_age_can_neither_be_used_nor_refreshed() {
    let t = TestApp::new(&[("SHIPSTAR_SESSION_MAX_AGE_SECONDS", "2")]);
    let token = t.admin_token();
    assert_me(&me(&t, &token), "fresh session");
    t.clock.advance_millis(1_999);
    assert_me(&me(&t, &token), "the last moment of the session");
    t.clock.advance_millis(501);
    assert_unauthorized(&me(&t, &token), "/users/me after max age");
    assert_unauthorized(&refresh(&t, &token), "refresh after max age");
    // Even a token whose own exp is still far ahead: the session itself has ended.
    let long_lived = with_exp(&t, &token, t.clock.now_secs() + 3600);
    assert_unauthorized(&me(&t, &long_lived), "unexpired token of an ended session");
    assert_unauthorized(&refresh(&t, &long_lived), "refresh of an ended session");
}

/// A team and project owned by the superuser, for the key tests.
struct KeyWorld {
    t: TestApp,
    admin: String,
    team_id: String,
    project_id: String,
}

fn key_world() -> KeyWorld {
    let t = TestApp::new(&[]);
    let admin = t.admin_token();
    let team = t.post_ok(&admin, "/api/internal/teams", &json!({"name": "Keys"}), 201);
    let team_id = id_of(&team);
    let path = format!("/api/internal/teams/{team_id}/projects");
    let project = t.post_ok(&admin, &path, &json!({"name": "Key Project"}), 201);
    KeyWorld {
        t,
        admin,
        team_id,
        project_id: id_of(&project),
    }
}

impl KeyWorld {
    fn keys_path(&self) -> String {
        format!("/api/internal/projects/{}/api-keys", self.project_id)
    }

    /// Creates a key with `body`: (key object with `key`, raw key).
    fn create_key(&self, body: Value) -> (Value, String) {
        let object = self.t.post_ok(&self.admin, &self.keys_path(), &body, 201);
        let raw = object["key"].as_str().unwrap().to_owned();
        (object, raw)
    }

    fn patch_key(&self, id: &str, body: Value) -> Response {
        let path = format!("/api/internal/api-keys/{id}");
        self.t.call("PATCH", &path, Some(&self.admin), Some(&body))
    }

    fn roll(&self, id: &str, body: Option<Value>) -> Response {
        let path = format!("/api/internal/api-keys/{id}/roll");
        self.t.call("POST", &path, Some(&self.admin), body.as_ref())
    }

    fn list_keys(&self) -> Value {
        let resp = self
            .t
            .call("GET", &self.keys_path(), Some(&self.admin), None);
        expect(&resp, 200, "list keys")
    }

    /// The key is accepted: `/api/v1/me` answers 200 with the creator's profile and an
    /// account route answers the valid-key 403.
    #[track_caller]
    fn assert_valid(&self, key: &str, case: &str) {
        let profile = expect(&self.t.call("GET", V1_ME, Some(key), None), 200, case);
        assert_eq!(profile["email"], json!(ADMIN_EMAIL), "{case}");
        assert_eq!(profile["is_active"], json!(true), "{case}");
        let resp = self.t.call("GET", "/api/internal/teams", Some(key), None);
        let body = expect(&resp, 403, case);
        assert_eq!(
            body,
            json!({"detail": KEYS_CANNOT_MANAGE_ACCOUNTS}),
            "{case}"
        );
    }

    /// The key is refused: 401 with the API-key detail and `WWW-Authenticate: Bearer`, also
    /// on an account route (not the 403 of a valid key).
    #[track_caller]
    fn assert_refused(&self, key: &str, case: &str) {
        let resp = self.t.call("GET", V1_ME, Some(key), None);
        let body = expect(&resp, 401, case);
        assert_eq!(body, json!({"detail": API_KEY_UNAUTHORIZED}), "{case}");
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"), "{case}");
        let resp = self.t.call("GET", "/api/internal/teams", Some(key), None);
        expect(&resp, 401, case);
    }
}

/// The key object as read back: everything but the key itself.
fn without_key(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("key");
    }
    object
}

#[test]
fn an_expiry_takes_effect_when_it_passes() {
    let w = key_world();
    let (object, raw) = w.create_key(json!({"name": "short-lived"}));
    let id = id_of(&object);
    let expires_at = START + 2;
    let resp = w.patch_key(&id, json!({"expires_at": rfc3339(expires_at)}));
    let body = expect(&resp, 200, "set the expiry");
    assert_eq!(body["expires_at"], json!(rfc3339(expires_at)));
    w.assert_valid(&raw, "before the expiry");
    w.t.clock.advance_millis(1_999);
    w.assert_valid(&raw, "the last moment before the expiry");
    w.t.clock.advance_millis(1);
    w.assert_refused(&raw, "at the expiry");
    w.t.clock.advance_millis(200);
    w.assert_refused(&raw, "after the expiry");
    // Moving the expiry into the future again revives it.
    let later = rfc3339(w.t.clock.now_secs() + DAY);
    expect(
        &w.patch_key(&id, json!({"expires_at": later})),
        200,
        "move it out",
    );
    w.assert_valid(&raw, "expiry moved out");
}

#[test]
fn keys_are_listed_newest_first_without_the_key() {
    let w = key_world();
    let first = w.create_key(json!({"name": "first"})).0;
    w.t.clock.advance_millis(1_100);
    // The same second for these two: the later one is still listed first.
    let second = w.create_key(json!({"name": "second"})).0;
    let third = w.create_key(json!({"name": "third"})).0;
    let listed = w.list_keys();
    assert_eq!(
        listed,
        json!([
            without_key(&third),
            without_key(&second),
            without_key(&first)
        ])
    );
    for object in listed.as_array().unwrap() {
        assert!(object.get("key").is_none(), "{object}");
    }
    // Another project's list is separate.
    let path = format!("/api/internal/teams/{}/projects", w.team_id);
    let other = w.t.post_ok(&w.admin, &path, &json!({"name": "Other"}), 201);
    let path = format!("/api/internal/projects/{}/api-keys", id_of(&other));
    let resp = w.t.call("GET", &path, Some(&w.admin), None);
    assert_eq!(expect(&resp, 200, "the other project's keys"), json!([]));
}

#[test]
fn rolling_keeps_the_expiry_rule_and_validates_the_overlap() {
    let w = key_world();
    // A relative expiry is applied again from the roll.
    let (relative, _) = w.create_key(json!({"name": "rel", "expires_in_days": 10}));
    assert_eq!(relative["expires_at"], json!(rfc3339(START + 10 * DAY)));
    w.t.clock.advance_millis(1_100);
    let rolled_at = w.t.clock.now_secs();
    let resp = w.roll(&id_of(&relative), Some(json!({})));
    let rolled = expect(&resp, 201, "roll the relative key");
    assert_eq!(rolled["expires_at"], json!(rfc3339(rolled_at + 10 * DAY)));
    // An absolute expiry is kept as it is.
    let fixed = rfc3339(START + 20 * DAY);
    let (absolute, _) = w.create_key(json!({"name": "abs", "expires_at": fixed}));
    let rolled = expect(&w.roll(&id_of(&absolute), Some(json!({}))), 201, "roll abs");
    assert_eq!(rolled["expires_at"], json!(fixed));
    assert_eq!(rolled["name"], json!("abs"));
    // A roll with no body at all uses the defaults: overlap 0, the old key ends at once.
    let (plain, plain_raw) = w.create_key(json!({"name": "no body"}));
    w.assert_valid(&plain_raw, "before the roll");
    expect(&w.roll(&id_of(&plain), None), 201, "roll without a body");
    w.assert_refused(&plain_raw, "rolled with the default overlap 0");
}

#[test]
fn last_used_at_is_rewritten_at_most_once_a_minute() {
    let w = key_world();
    let (object, raw) = w.create_key(json!({"name": "busy"}));
    let path = format!("/api/internal/api-keys/{}", id_of(&object));
    let last_used = || {
        // What the background flusher does about twice a second.
        w.t.app
            .usage
            .flush(&w.t.app.store, w.t.app.clock.now_secs());
        let resp = w.t.call("GET", &path, Some(&w.admin), None);
        expect(&resp, 200, "read the key")["last_used_at"].clone()
    };
    assert_eq!(last_used(), Value::Null, "never used");
    w.assert_valid(&raw, "first use");
    assert_eq!(last_used(), json!(rfc3339(START)));
    w.t.clock.advance_millis(59_000);
    w.assert_valid(&raw, "59 s later");
    assert_eq!(
        last_used(),
        json!(rfc3339(START)),
        "within the minute: no write"
    );
    w.t.clock.advance_millis(1_000);
    w.assert_valid(&raw, "a minute later");
    assert_eq!(last_used(), json!(rfc3339(START + 60)));
}
