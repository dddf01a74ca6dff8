//! Integration tests: the caller's own account, user administration by superusers, and
//! self-service registration (http-api.md "Internal API: users, teams, projects" and
//! "Internal API: authentication" (register); auth.md "Passwords").

use crate::fixture::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The keys of the internal user object, sorted.
const USER_KEYS: [&str; 8] = [
    "created_at",
    "email",
    "first_name",
    "id",
    "is_active",
    "is_superuser",
    "is_verified",
    "last_name",
];

fn is_uuid_v4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    lens == [8, 4, 4, 4, 12]
        && text
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        && parts[2].starts_with('4')
        && matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b'))
}

/// Asserts `user` is exactly the contract's user object: its eight keys, a UUID v4 id and an
/// RFC 3339 UTC `created_at` with a `Z`, close to now.
fn assert_user_object(user: &Value) {
    let object = user
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {user}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, USER_KEYS, "user object keys: {user}");
    let id = user["id"].as_str().unwrap_or_default();
    assert!(is_uuid_v4(id), "id is not a UUID v4: {user}");
    let created_at = user["created_at"].as_str().unwrap_or_default();
    assert!(created_at.ends_with('Z'), "created_at without Z: {user}");
    let at = OffsetDateTime::parse(created_at, &Rfc3339)
        .unwrap_or_else(|err| panic!("created_at is not RFC 3339 ({err}): {user}"));
    let age = (OffsetDateTime::now_utc() - at).whole_seconds().abs();
    assert!(age < 300, "created_at is {age} s away from now: {user}");
    for flag in ["is_active", "is_verified", "is_superuser"] {
        assert!(user[flag].is_boolean(), "{flag} not a boolean: {user}");
    }
}

/// `user` without its generated fields, for exact comparison.
fn without_generated(user: &Value) -> Value {
    let mut user = user.clone();
    let object = user.as_object_mut().unwrap();
    object.remove("id");
    object.remove("created_at");
    user
}

/// Asserts a 400 whose detail is `{"code": code, "reason": <non-empty string>}` exactly.
fn expect_code_with_reason(resp: &Resp, code: &str) {
    resp.expect_status(400);
    let body = resp.json();
    let detail = &body["detail"];
    let object = detail
        .as_object()
        .unwrap_or_else(|| panic!("detail is not an object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "reason"], "{body}");
    assert_eq!(detail["code"], json!(code), "{body}");
    assert!(
        detail["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "reason is not a non-empty string: {body}"
    );
}

/// Asserts a 422 listing exactly one problem at `loc` of type `kind` (with a string `msg`).
fn expect_one_problem(resp: &Resp, loc: Value, kind: &str) {
    resp.expect_status(422);
    let body = resp.json();
    let problems = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("detail is not a list: {body}"));
    assert_eq!(problems.len(), 1, "{body}");
    assert_eq!(problems[0]["loc"], loc, "{body}");
    assert_eq!(problems[0]["type"], json!(kind), "{body}");
    assert!(problems[0]["msg"].is_string(), "{body}");
}

fn login_status(server: &TestServer, email: &str, password: &str) -> Resp {
    server
        .post("/api/internal/auth/jwt/login")
        .form(&[("username", email), ("password", password)])
        .send()
}

fn me(server: &TestServer, token: &str) -> Resp {
    server.get("/api/internal/users/me").bearer(token).send()
}

fn user_id_by_email(server: &TestServer, admin: &str, email: &str) -> String {
    let resp = server.get("/api/internal/users").bearer(admin).send();
    resp.expect_status(200);
    let users = resp.json();
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == json!(email))
        .unwrap_or_else(|| panic!("{email} not listed: {users}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The stored password hash of `email`, read through the crate's own store.
fn stored_hash(server: &TestServer, email: &str) -> String {
    let store =
        shipstar::store::Store::open_database(&server.database(), 1).expect("open the database");
    store
        .user_by_email(email)
        .expect("read the user")
        .unwrap_or_else(|| panic!("no user {email}"))
        .password_hash
}

// ---------------------------------------------------------------------------------------------
// The caller's own account
// ---------------------------------------------------------------------------------------------

#[test]
fn users_me_is_the_user_object_with_exactly_its_keys() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let resp = me(&server, &admin);
    resp.expect_status(200);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    let user = resp.json();
    assert_user_object(&user);
    assert_eq!(
        without_generated(&user),
        json!({"email": ADMIN_EMAIL, "first_name": null, "last_name": null,
               "is_active": true, "is_verified": user["is_verified"], "is_superuser": true})
    );
}

#[test]
fn users_me_without_a_valid_token_is_401_unauthorized() {
    let server = TestServer::start();
    let resp = server.get("/api/internal/users/me").send();
    resp.expect_detail(401, json!("Unauthorized"));
    assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    let resp = server
        .patch("/api/internal/users/me")
        .bearer("a.b.c")
        .json(&json!({"first_name": "X"}))
        .send();
    resp.expect_detail(401, json!("Unauthorized"));
}

#[test]
fn patch_me_sets_names_and_null_clears_them() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (_, token) = server.create_user(&admin, "ada@example.com", "analytical-engine");
    let resp = server
        .patch("/api/internal/users/me")
        .bearer(&token)
        .json(&json!({"first_name": "Ada", "last_name": "Lovelace"}))
        .send();
    resp.expect_status(200);
    let user = resp.json();
    assert_user_object(&user);
    assert_eq!(user["first_name"], json!("Ada"));
    assert_eq!(user["last_name"], json!("Lovelace"));
    assert_eq!(me(&server, &token).json(), user);

    let resp = server
        .patch("/api/internal/users/me")
        .bearer(&token)
        .json(&json!({"first_name": null}))
        .send();
    resp.expect_status(200);
    let cleared = resp.json();
    assert_eq!(cleared["first_name"], Value::Null);
    assert_eq!(
        cleared["last_name"],
        json!("Lovelace"),
        "absent field must stay"
    );
    assert_eq!(me(&server, &token).json(), cleared);
}

#[test]
fn patch_me_email_or_password_without_current_password_is_422_missing() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (_, token) = server.create_user(&admin, "bob@example.com", "bobs-password");
    for change in [
        json!({"email": "robert@example.com"}),
        json!({"password": "bobs-new-password"}),
    ] {
        let resp = server
            .patch("/api/internal/users/me")
            .bearer(&token)
            .json(&change)
            .send();
        resp.expect_detail(
            422,
            json!([{"loc": ["body", "current_password"], "msg": "Field required", "type": "missing"}]),
        );
    }
    let user = me(&server, &token).json();
    assert_eq!(user["email"], json!("bob@example.com"));
    server.login("bob@example.com", "bobs-password");
}

#[test]
fn patch_me_wrong_current_password_is_400_current_password_incorrect() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (_, token) = server.create_user(&admin, "carol@example.com", "carols-password");
    for change in [
        json!({"email": "caroline@example.com", "current_password": "not-her-password"}),
        json!({"password": "carols-new-password", "current_password": "not-her-password"}),
    ] {
        server
            .patch("/api/internal/users/me")
            .bearer(&token)
            .json(&change)
            .send()
            .expect_detail(400, json!("CURRENT_PASSWORD_INCORRECT"));
    }
    // Nothing changed, and the session survived the failed attempts.
    assert_eq!(
        me(&server, &token).json()["email"],
        json!("carol@example.com")
    );
    login_status(&server, "carol@example.com", "carols-new-password")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    server.login("carol@example.com", "carols-password");
}

#[test]
fn patch_me_email_with_current_password_changes_the_sign_in_name() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (_, token) = server.create_user(&admin, "dave@example.com", "daves-password");
    let resp = server
        .patch("/api/internal/users/me")
        .bearer(&token)
        .json(&json!({"email": "david@example.com", "current_password": "daves-password"}))
        .send();
    resp.expect_status(200);
    assert_eq!(resp.json()["email"], json!("david@example.com"));
    me(&server, &token).expect_status(200);
    login_status(&server, "dave@example.com", "daves-password")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    server.login("david@example.com", "daves-password");
}

#[test]
fn patch_me_email_taken_by_another_user_is_409() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (_, token) = server.create_user(&admin, "erin@example.com", "erins-password");
    let resp = server
        .patch("/api/internal/users/me")
        .bearer(&token)
        .json(&json!({"email": "ADMIN@example.com", "current_password": "erins-password"}))
        .send();
    resp.expect_status(409);
    assert!(resp.json()["detail"].is_string(), "{}", resp.text());
    assert_eq!(
        me(&server, &token).json()["email"],
        json!("erin@example.com")
    );
}

#[test]
fn patch_me_password_change_keeps_this_session_and_revokes_the_others() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (_, this_session) = server.create_user(&admin, "fay@example.com", "fays-old-password");
    let other_session = server.login("fay@example.com", "fays-old-password");
    me(&server, &other_session).expect_status(200);

    let resp = server
        .patch("/api/internal/users/me")
        .bearer(&this_session)
        .json(&json!({"password": "fays-new-password", "current_password": "fays-old-password"}))
        .send();
    resp.expect_status(200);
    assert_user_object(&resp.json());

    me(&server, &this_session).expect_status(200);
    let resp = me(&server, &other_session);
    resp.expect_detail(401, json!("Unauthorized"));
    assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    login_status(&server, "fay@example.com", "fays-old-password")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    let fresh = server.login("fay@example.com", "fays-new-password");
    me(&server, &fresh).expect_status(200);
}

#[test]
fn patch_me_short_password_is_400_update_user_invalid_password() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (_, token) = server.create_user(&admin, "gus@example.com", "guss-password");
    let resp = server
        .patch("/api/internal/users/me")
        .bearer(&token)
        .json(&json!({"password": "short", "current_password": "guss-password"}))
        .send();
    expect_code_with_reason(&resp, "UPDATE_USER_INVALID_PASSWORD");
    me(&server, &token).expect_status(200);
    server.login("gus@example.com", "guss-password");
}

#[test]
fn patch_me_password_over_1024_characters_is_422() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (_, token) = server.create_user(&admin, "hal@example.com", "hals-password");
    let resp = server
        .patch("/api/internal/users/me")
        .bearer(&token)
        .json(&json!({"password": "x".repeat(1025), "current_password": "hals-password"}))
        .send();
    resp.expect_status(422);
    let body = resp.json();
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "password"]),
        "{body}"
    );
    server.login("hal@example.com", "hals-password");
}

// ---------------------------------------------------------------------------------------------
// User administration (superuser)
// ---------------------------------------------------------------------------------------------

#[test]
fn user_admin_routes_are_403_superuser_required_for_other_users() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (id, token) = server.create_user(&admin, "ivy@example.com", "ivys-password");
    let forbidden = json!("Superuser required");
    server
        .get("/api/internal/users")
        .bearer(&token)
        .send()
        .expect_detail(403, forbidden.clone());
    server
        .post("/api/internal/users")
        .bearer(&token)
        .json(&json!({"email": "mallory@example.com", "password": "mallorys-password"}))
        .send()
        .expect_detail(403, forbidden.clone());
    // Not even on their own account: a user cannot make themselves a superuser.
    server
        .patch(&format!("/api/internal/users/{id}"))
        .bearer(&token)
        .json(&json!({"is_superuser": true}))
        .send()
        .expect_detail(403, forbidden);
    assert_eq!(me(&server, &token).json()["is_superuser"], json!(false));
    login_status(&server, "mallory@example.com", "mallorys-password")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
}

#[test]
fn user_admin_routes_without_a_token_are_401() {
    let server = TestServer::start();
    for resp in [
        server.get("/api/internal/users").send(),
        server
            .post("/api/internal/users")
            .json(&json!({"email": "x@example.com", "password": "xs-password"}))
            .send(),
        server
            .patch("/api/internal/users/00000000-0000-4000-8000-000000000000")
            .json(&json!({"is_active": false}))
            .send(),
    ] {
        resp.expect_detail(401, json!("Unauthorized"));
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    }
}

#[test]
fn post_users_creates_201_with_the_given_flags_and_names() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let resp = server
        .post("/api/internal/users")
        .bearer(&admin)
        .json(
            &json!({"email": "jan@example.com", "password": "jans-password",
                      "first_name": "Jan", "last_name": "Novak",
                      "is_superuser": true, "is_verified": true}),
        )
        .send();
    resp.expect_status(201);
    let jan = resp.json();
    assert_user_object(&jan);
    assert_eq!(
        without_generated(&jan),
        json!({"email": "jan@example.com", "first_name": "Jan", "last_name": "Novak",
               "is_active": true, "is_verified": true, "is_superuser": true})
    );

    let resp = server
        .post("/api/internal/users")
        .bearer(&admin)
        .json(&json!({"email": "kim@example.com", "password": "kims-password"}))
        .send();
    resp.expect_status(201);
    let kim = resp.json();
    assert_user_object(&kim);
    assert_eq!(
        without_generated(&kim),
        json!({"email": "kim@example.com", "first_name": null, "last_name": null,
               "is_active": true, "is_verified": false, "is_superuser": false})
    );

    // Both are listed, exactly as created; the new superuser may administer users.
    let resp = server.get("/api/internal/users").bearer(&admin).send();
    resp.expect_status(200);
    let users = resp.json();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 3, "{users:?}");
    for user in users {
        assert_user_object(user);
    }
    assert!(users.contains(&jan) && users.contains(&kim), "{users:?}");
    let jan_token = server.login("jan@example.com", "jans-password");
    server
        .get("/api/internal/users")
        .bearer(&jan_token)
        .send()
        .expect_status(200);
    let kim_token = server.login("KIM@Example.com", "kims-password");
    assert_eq!(me(&server, &kim_token).json(), kim);
}

#[test]
fn post_users_duplicate_email_in_another_case_is_409() {
    let server = TestServer::start();
    let admin = server.admin_token();
    server.create_user(&admin, "lee@example.com", "lees-password");
    let resp = server
        .post("/api/internal/users")
        .bearer(&admin)
        .json(&json!({"email": "Lee@EXAMPLE.com", "password": "another-password"}))
        .send();
    resp.expect_status(409);
    assert!(resp.json()["detail"].is_string(), "{}", resp.text());
    // The first account is untouched.
    server.login("lee@example.com", "lees-password");
    let users = server
        .get("/api/internal/users")
        .bearer(&admin)
        .send()
        .json();
    assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
}

#[test]
fn post_users_invalid_email_is_422_value_error() {
    let server = TestServer::start();
    let admin = server.admin_token();
    for email in [
        "not-an-email",
        "two@@example.com",
        "@example.com",
        "a b@example.com",
    ] {
        let resp = server
            .post("/api/internal/users")
            .bearer(&admin)
            .json(&json!({"email": email, "password": "valid-password"}))
            .send();
        expect_one_problem(&resp, json!(["body", "email"]), "value_error");
    }
}

#[test]
fn post_users_missing_fields_are_all_listed_in_one_422() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let resp = server
        .post("/api/internal/users")
        .bearer(&admin)
        .json(&json!({"first_name": "Nobody"}))
        .send();
    resp.expect_status(422);
    let body = resp.json();
    let mut found: Vec<(Value, Value)> = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|p| (p["loc"].clone(), p["type"].clone()))
        .collect();
    found.sort_by_key(|(loc, _)| loc.to_string());
    assert_eq!(
        found,
        vec![
            (json!(["body", "email"]), json!("missing")),
            (json!(["body", "password"]), json!("missing")),
        ],
        "{body}"
    );
}

/// Regression: a required field sent as `null` was read as valid and then answered 500.
#[test]
fn required_user_fields_sent_as_null_are_422_string_type() {
    let server =
        TestServer::start_with(Options::default().env("SHIPSTAR_ALLOW_REGISTRATION", "true"));
    let admin = server.admin_token();
    let both_null = [
        (json!(["body", "email"]), "string_type"),
        (json!(["body", "password"]), "string_type"),
    ];
    let body = json!({"email": null, "password": null});
    expect_problems(
        &server
            .post("/api/internal/users")
            .bearer(&admin)
            .json(&body)
            .send(),
        &both_null,
    );
    expect_problems(
        &server
            .post("/api/internal/auth/register")
            .json(&body)
            .send(),
        &both_null,
    );
    expect_problems(
        &server
            .post("/api/internal/users")
            .bearer(&admin)
            .json(&json!({"email": "n@example.com", "password": null}))
            .send(),
        &[(json!(["body", "password"]), "string_type")],
    );
}

#[test]
fn post_users_short_password_is_400_with_code_and_reason() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let resp = server
        .post("/api/internal/users")
        .bearer(&admin)
        .json(&json!({"email": "max@example.com", "password": "1234567"}))
        .send();
    // The contract names no code for this route; register's is the natural one.
    resp.expect_status(400);
    let detail = &resp.json()["detail"];
    assert!(detail["code"].is_string(), "{detail}");
    assert!(detail["reason"].is_string(), "{detail}");
    login_status(&server, "max@example.com", "1234567")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
}

#[test]
fn patch_user_deactivation_fails_tokens_at_once_and_reactivation_restores_login() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (id, token) = server.create_user(&admin, "nia@example.com", "nias-password");
    me(&server, &token).expect_status(200);

    let resp = server
        .patch(&format!("/api/internal/users/{id}"))
        .bearer(&admin)
        .json(&json!({"is_active": false}))
        .send();
    resp.expect_status(200);
    let user = resp.json();
    assert_user_object(&user);
    assert_eq!(user["is_active"], json!(false));

    let resp = me(&server, &token);
    resp.expect_detail(401, json!("Unauthorized"));
    assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    server
        .post("/api/internal/auth/jwt/refresh")
        .bearer(&token)
        .send()
        .expect_detail(401, json!("Unauthorized"));
    login_status(&server, "nia@example.com", "nias-password")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));

    let resp = server
        .patch(&format!("/api/internal/users/{id}"))
        .bearer(&admin)
        .json(&json!({"is_active": true}))
        .send();
    resp.expect_status(200);
    assert_eq!(resp.json()["is_active"], json!(true));
    let fresh = server.login("nia@example.com", "nias-password");
    assert_eq!(me(&server, &fresh).json()["is_active"], json!(true));
}

#[test]
fn patch_user_sets_verified_and_superuser_flags() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (id, token) = server.create_user(&admin, "oli@example.com", "olis-password");
    server
        .get("/api/internal/users")
        .bearer(&token)
        .send()
        .expect_status(403);
    let resp = server
        .patch(&format!("/api/internal/users/{id}"))
        .bearer(&admin)
        .json(&json!({"is_verified": true, "is_superuser": true, "first_name": "Oli"}))
        .send();
    resp.expect_status(200);
    let user = resp.json();
    assert_user_object(&user);
    assert_eq!(
        without_generated(&user),
        json!({"email": "oli@example.com", "first_name": "Oli", "last_name": null,
               "is_active": true, "is_verified": true, "is_superuser": true})
    );
    assert_eq!(user["id"], json!(id));
    // The flags take effect for the user's existing session.
    server
        .get("/api/internal/users")
        .bearer(&token)
        .send()
        .expect_status(200);
}

#[test]
fn patch_user_password_sets_a_new_password() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let (id, _) = server.create_user(&admin, "pat@example.com", "pats-old-password");
    server
        .patch(&format!("/api/internal/users/{id}"))
        .bearer(&admin)
        .json(&json!({"password": "pats-new-password"}))
        .send()
        .expect_status(200);
    login_status(&server, "pat@example.com", "pats-old-password")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    server.login("pat@example.com", "pats-new-password");
}

#[test]
fn patch_user_unknown_id_is_404_user_not_found() {
    let server = TestServer::start();
    let admin = server.admin_token();
    for id in ["3f2b8c9e-1d4a-4b6f-9a7e-2c5d8e1f0a3b", "not-a-uuid"] {
        server
            .patch(&format!("/api/internal/users/{id}"))
            .bearer(&admin)
            .json(&json!({"is_active": false}))
            .send()
            .expect_detail(404, json!("User not found"));
    }
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

#[test]
fn register_is_403_when_registration_is_off_by_default() {
    let server = TestServer::start();
    let resp = server
        .post("/api/internal/auth/register")
        .json(&json!({"email": "quinn@example.com", "password": "quinns-password"}))
        .send();
    resp.expect_status(403);
    assert!(resp.json()["detail"].is_string(), "{}", resp.text());
    login_status(&server, "quinn@example.com", "quinns-password")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
}

#[test]
fn register_when_allowed_creates_a_plain_user_once() {
    let server =
        TestServer::start_with(Options::default().env("SHIPSTAR_ALLOW_REGISTRATION", "true"));
    // Privilege fields are not part of the register request: they are ignored.
    let resp = server
        .post("/api/internal/auth/register")
        .json(
            &json!({"email": "rae@example.com", "password": "raes-password",
                      "first_name": "Rae", "is_superuser": true, "is_verified": true}),
        )
        .send();
    resp.expect_status(201);
    let user = resp.json();
    assert_user_object(&user);
    assert_eq!(
        without_generated(&user),
        json!({"email": "rae@example.com", "first_name": "Rae", "last_name": null,
               "is_active": true, "is_verified": false, "is_superuser": false})
    );
    let token = server.login("rae@example.com", "raes-password");
    assert_eq!(me(&server, &token).json(), user);

    server
        .post("/api/internal/auth/register")
        .json(&json!({"email": "RAE@example.com", "password": "other-password"}))
        .send()
        .expect_detail(400, json!("REGISTER_USER_ALREADY_EXISTS"));
    server.login("rae@example.com", "raes-password");

    let resp = server
        .post("/api/internal/auth/register")
        .json(&json!({"email": "sam@example.com", "password": "short"}))
        .send();
    expect_code_with_reason(&resp, "REGISTER_INVALID_PASSWORD");
    login_status(&server, "sam@example.com", "short")
        .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
}

#[test]
fn new_passwords_are_stored_as_argon2id_phc_strings() {
    let server =
        TestServer::start_with(Options::default().env("SHIPSTAR_ALLOW_REGISTRATION", "true"));
    let admin = server.admin_token();
    let (_, token) = server.create_user(&admin, "tess@example.com", "tess-password");
    server
        .post("/api/internal/auth/register")
        .json(&json!({"email": "uma@example.com", "password": "umas-password"}))
        .send()
        .expect_status(201);
    server
        .patch("/api/internal/users/me")
        .bearer(&token)
        .json(&json!({"password": "tess-new-password", "current_password": "tess-password"}))
        .send()
        .expect_status(200);
    let id = user_id_by_email(&server, &admin, "uma@example.com");
    server
        .patch(&format!("/api/internal/users/{id}"))
        .bearer(&admin)
        .json(&json!({"password": "umas-new-password"}))
        .send()
        .expect_status(200);
    for (email, password) in [
        (ADMIN_EMAIL, ADMIN_PASSWORD),
        ("tess@example.com", "tess-new-password"),
        ("uma@example.com", "umas-new-password"),
    ] {
        let hash = stored_hash(&server, email);
        // The fixture runs the server with m=64 KiB, t=1 (and the default p=1).
        assert!(
            hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{email}: not an Argon2id PHC string with the configured parameters: {hash}"
        );
        assert_eq!(hash.split('$').count(), 6, "{email}: {hash}");
        assert!(
            !hash.contains(password),
            "{email}: the password is in the hash"
        );
    }
}
