//! Integration tests: teams, members, projects.
//!
//! Contract: `http-api.md` ("Internal API: users, teams, projects", "Conventions for every
//! endpoint") and `auth.md` ("Authorization summary"): roles `owner` > `admin` > `member`, a
//! caller outside the owning team gets 403 `"This resource belongs to another team"` and never
//! the resource, unknown ids are 404, superusers act on every team.
//!
//! Every server here runs with rate limits off, so the many requests of one test are never
//! answered 429 (rate limits are tested elsewhere).

use crate::fixture::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const TEAMS: &str = "/api/internal/teams";
const PROJECTS: &str = "/api/internal/projects";
const PASSWORD: &str = "a-long-enough-password";
const OTHER_TEAM: &str = "This resource belongs to another team";
const MANAGERS_ONLY: &str = "Only team owners and admins can do this";
/// A well-formed UUID v4 that no server here ever issues.
const UNKNOWN_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const SLUG_PATTERN_MSG: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

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
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Asserts an RFC 3339 UTC timestamp with a `Z` suffix within a minute of now.
#[track_caller]
fn assert_recent_timestamp(value: &Value, what: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value}"));
    assert!(text.ends_with('Z'), "{what}: {text:?} has no Z suffix");
    let at = OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|err| panic!("{what}: {text:?} is not RFC 3339: {err}"))
        .unix_timestamp();
    assert!((at - now()).abs() <= 60, "{what}: {text:?} is not recent");
}

/// Asserts a UUID v4 in lower-case canonical form.
#[track_caller]
fn assert_uuid_v4(value: &Value, what: &str) {
    let text = value.as_str().unwrap_or_else(|| panic!("{what}: {value}"));
    assert!(
        shipstar::ids::is_uuid(text) && text.as_bytes()[14] == b'4',
        "{what}: {text:?} is not a UUID v4"
    );
}

fn teams_of(server: &TestServer, token: &str) -> Vec<Value> {
    let resp = server.get(TEAMS).bearer(token).send();
    resp.expect_status(200);
    resp.json().as_array().unwrap().clone()
}

fn projects_of(server: &TestServer, token: &str) -> Vec<Value> {
    let resp = server.get(PROJECTS).bearer(token).send();
    resp.expect_status(200);
    resp.json().as_array().unwrap().clone()
}

fn members_path(team_id: &str) -> String {
    format!("{TEAMS}/{team_id}/members")
}

fn member_path(team_id: &str, user_id: &str) -> String {
    format!("{TEAMS}/{team_id}/members/{user_id}")
}

fn members_of(server: &TestServer, token: &str, team_id: &str) -> Vec<Value> {
    let resp = server.get(&members_path(team_id)).bearer(token).send();
    resp.expect_status(200);
    resp.json().as_array().unwrap().clone()
}

fn add_member(server: &TestServer, token: &str, team_id: &str, email: &str, role: &str) -> Resp {
    server
        .post(&members_path(team_id))
        .bearer(token)
        .json(&json!({"email": email, "role": role}))
        .send()
}

fn set_role(server: &TestServer, token: &str, team_id: &str, user_id: &str, role: &str) -> Resp {
    server
        .patch(&member_path(team_id, user_id))
        .bearer(token)
        .json(&json!({"role": role}))
        .send()
}

/// The caller's role in `team_id` as `GET /teams` shows it, if a member.
fn role_in(server: &TestServer, token: &str, team_id: &str) -> Option<String> {
    teams_of(server, token)
        .iter()
        .find(|team| team["id"] == json!(team_id))
        .map(|team| team["role"].as_str().unwrap().to_string())
}

/// A server, the admin token, and a team created by a fresh regular user who owns it.
struct World {
    server: TestServer,
    admin: String,
    owner_id: String,
    owner: String,
    team_id: String,
}

fn world() -> World {
    let server = server();
    let admin = server.admin_token();
    let (owner_id, owner) = server.create_user(&admin, "owner@example.com", PASSWORD);
    let team = create_team(&server, &owner, json!({"name": "Owner Team"}));
    let team_id = team["id"].as_str().unwrap().to_string();
    World {
        server,
        admin,
        owner_id,
        owner,
        team_id,
    }
}

impl World {
    /// A new user added to the team with `role`: (id, token).
    fn member(&self, email: &str, role: &str) -> (String, String) {
        let (id, token) = self.server.create_user(&self.admin, email, PASSWORD);
        add_member(&self.server, &self.owner, &self.team_id, email, role).expect_status(201);
        (id, token)
    }
}

// ---------------------------------------------------------------------------------------------
// Teams
// ---------------------------------------------------------------------------------------------

#[test]
fn bootstrap_admin_owns_the_default_team() {
    let server = server();
    let admin = server.admin_token();
    let teams = teams_of(&server, &admin);
    assert_eq!(teams.len(), 1, "{teams:?}");
    let team = &teams[0];
    assert_eq!(
        fields_of(team),
        sorted(&["id", "name", "slug", "role", "created_at"])
    );
    assert_eq!(team["slug"], json!("default"));
    assert_eq!(team["role"], json!("owner"));
    assert_uuid_v4(&team["id"], "team id");
    assert_recent_timestamp(&team["created_at"], "team created_at");
}

#[test]
fn a_new_user_belongs_to_no_team_and_sees_no_project() {
    let server = server();
    let admin = server.admin_token();
    let (_, user) = server.create_user(&admin, "nobody@example.com", PASSWORD);
    assert_eq!(teams_of(&server, &user), Vec::<Value>::new());
    assert_eq!(projects_of(&server, &user), Vec::<Value>::new());
}

#[test]
fn teams_routes_need_a_session() {
    let server = server();
    for resp in [
        server.get(TEAMS).send(),
        server.post(TEAMS).json(&json!({"name": "X"})).send(),
        server.get(PROJECTS).send(),
    ] {
        resp.expect_detail(401, json!("Unauthorized"));
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
    }
}

#[test]
fn creating_a_team_makes_the_caller_its_owner() {
    let server = server();
    let admin = server.admin_token();
    let (user_id, user) = server.create_user(&admin, "founder@example.com", PASSWORD);
    let resp = server
        .post(TEAMS)
        .bearer(&user)
        .json(&json!({"name": "Acme Corp"}))
        .send();
    resp.expect_status(201);
    let team = resp.json();
    assert_eq!(
        fields_of(&team),
        sorted(&["id", "name", "slug", "role", "created_at"])
    );
    assert_eq!(team["name"], json!("Acme Corp"));
    assert_eq!(team["slug"], json!("acme-corp"));
    assert_eq!(team["role"], json!("owner"));
    assert_uuid_v4(&team["id"], "team id");
    assert_recent_timestamp(&team["created_at"], "created_at");

    // Listed for its creator exactly as created; not for anyone else.
    assert_eq!(teams_of(&server, &user), vec![team.clone()]);
    let admin_teams = teams_of(&server, &admin);
    assert!(admin_teams.iter().all(|t| t["id"] != team["id"]));

    // The creator is its only member, as owner.
    let team_id = team["id"].as_str().unwrap();
    let members = members_of(&server, &user, team_id);
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(
        fields_of(&members[0]),
        sorted(&["user_id", "email", "role", "added_at"])
    );
    assert_eq!(members[0]["user_id"], json!(user_id));
    assert_eq!(members[0]["email"], json!("founder@example.com"));
    assert_eq!(members[0]["role"], json!("owner"));
    assert_recent_timestamp(&members[0]["added_at"], "added_at");
}

#[test]
fn derived_team_slugs_get_a_suffix_when_taken() {
    let server = server();
    let admin = server.admin_token();
    let first = create_team(&server, &admin, json!({"name": "Acme Corp"}));
    let second = create_team(&server, &admin, json!({"name": "Acme Corp"}));
    let third = create_team(&server, &admin, json!({"name": "acme   corp!"}));
    assert_eq!(first["slug"], json!("acme-corp"));
    assert_eq!(second["slug"], json!("acme-corp-2"));
    assert_eq!(third["slug"], json!("acme-corp-3"));
    assert_ne!(first["id"], second["id"]);
    // Same name twice is fine: names are not unique, slugs are.
    assert_eq!(second["name"], json!("Acme Corp"));
    // A derived slug also avoids an explicitly chosen one.
    create_team(&server, &admin, json!({"name": "Other", "slug": "beta"}));
    let derived = create_team(&server, &admin, json!({"name": "Beta"}));
    assert_eq!(derived["slug"], json!("beta-2"));
}

#[test]
fn an_explicit_team_slug_is_kept_and_a_taken_one_is_409() {
    let server = server();
    let admin = server.admin_token();
    let (_, user) = server.create_user(&admin, "u@example.com", PASSWORD);
    let team = create_team(
        &server,
        &admin,
        json!({"name": "Anything", "slug": "my-team-2"}),
    );
    assert_eq!(team["slug"], json!("my-team-2"));
    assert_eq!(team["name"], json!("Anything"));

    // Taken by anyone: 409, a sentence; nothing is created.
    for token in [&admin, &user] {
        let resp = server
            .post(TEAMS)
            .bearer(token)
            .json(&json!({"name": "Again", "slug": "my-team-2"}))
            .send();
        resp.expect_status(409);
        assert!(resp.json()["detail"].is_string(), "{}", resp.text());
    }
    // The bootstrap team's slug is taken too.
    server
        .post(TEAMS)
        .bearer(&user)
        .json(&json!({"name": "Default", "slug": "default"}))
        .send()
        .expect_status(409);
    assert_eq!(teams_of(&server, &user), Vec::<Value>::new());
    assert_eq!(teams_of(&server, &admin).len(), 2);
}

#[test]
fn team_names_are_validated() {
    let server = server();
    let admin = server.admin_token();
    let post = |body: Value| server.post(TEAMS).bearer(&admin).json(&body).send();

    expect_problems(
        &post(json!({"name": ""})),
        &[(json!(["body", "name"]), "string_too_short")],
    );
    expect_problems(
        &post(json!({"name": "x".repeat(101)})),
        &[(json!(["body", "name"]), "string_too_long")],
    );
    // Characters, not bytes: 100 emoji are 400 bytes but within the limit.
    let hundred = "🚀".repeat(100);
    let team = create_team(&server, &admin, json!({"name": hundred}));
    assert_eq!(team["name"], json!(hundred));
    expect_problems(
        &post(json!({"name": "🚀".repeat(101)})),
        &[(json!(["body", "name"]), "string_too_long")],
    );
    let at_limit = create_team(&server, &admin, json!({"name": "n".repeat(100)}));
    assert_eq!(at_limit["name"], json!("n".repeat(100)));
    expect_problems(&post(json!({})), &[(json!(["body", "name"]), "missing")]);
    // Regression: a null name was read as valid and answered 500.
    expect_problems(
        &post(json!({"name": null})),
        &[(json!(["body", "name"]), "string_type")],
    );
    // An optional slug sent as null is left out.
    let derived = create_team(&server, &admin, json!({"name": "Null Slug", "slug": null}));
    assert_eq!(derived["slug"], json!("null-slug"));
    // Every problem of one request is listed.
    expect_problems(
        &post(json!({"name": "", "slug": "Not Valid"})),
        &[
            (json!(["body", "name"]), "string_too_short"),
            (json!(["body", "slug"]), "string_pattern_mismatch"),
        ],
    );
    // Not JSON at all.
    let resp = server
        .post(TEAMS)
        .bearer(&admin)
        .header("Content-Type", "application/json")
        .body(b"{\"name\":".to_vec())
        .send();
    expect_problems(&resp, &[(json!(["body"]), "json_invalid")]);
    // Nothing was created by the failures.
    assert_eq!(teams_of(&server, &admin).len(), 4);
}

#[test]
fn team_slugs_must_match_the_pattern() {
    let server = server();
    let admin = server.admin_token();
    for bad in [
        "Upper", "a--b", "-a", "a-", "a_b", "a b", "é", "a.b", "a/b", "",
    ] {
        let resp = server
            .post(TEAMS)
            .bearer(&admin)
            .json(&json!({"name": "Team", "slug": bad}))
            .send();
        resp.expect_status(422);
        let problems = resp.json()["detail"].as_array().unwrap().clone();
        assert_eq!(problems.len(), 1, "{bad:?}: {problems:?}");
        assert_eq!(problems[0]["loc"], json!(["body", "slug"]), "{bad:?}");
        if !bad.is_empty() {
            assert_eq!(
                problems[0]["type"],
                json!("string_pattern_mismatch"),
                "{bad:?}"
            );
            assert!(
                problems[0]["msg"]
                    .as_str()
                    .unwrap()
                    .contains(SLUG_PATTERN_MSG),
                "{bad:?}: {}",
                problems[0]
            );
        }
    }
    for good in ["a", "0", "a-b-c", "team-2025", "x1y2"] {
        let team = create_team(&server, &admin, json!({"name": "Team", "slug": good}));
        assert_eq!(team["slug"], json!(good));
    }
}

#[test]
fn unicode_and_emoji_team_names_round_trip_exactly() {
    let server = server();
    let admin = server.admin_token();
    let names = [
        "Équipe Zürich",
        "日本のチーム",
        "🚀 Rocket Crew 🛰️",
        "👩‍👩‍👧‍👦 family",
        "quote \" backslash \\ tab\t",
        "  padded  ",
    ];
    for name in names {
        let team = create_team(&server, &admin, json!({"name": name}));
        assert_eq!(team["name"], json!(name));
        let slug = team["slug"].as_str().unwrap();
        assert!(
            shipstar::slug::is_valid(slug, 200),
            "{name:?} gave slug {slug:?}"
        );
    }
    let listed: Vec<Value> = teams_of(&server, &admin)
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    for name in names {
        assert!(listed.contains(&json!(name)), "{name:?} not in {listed:?}");
    }
    let rocket = create_team(&server, &admin, json!({"name": "🚀 Launch Team"}));
    assert_eq!(rocket["slug"], json!("launch-team"));
}

// ---------------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------------

#[test]
fn owners_add_members_who_then_see_the_team() {
    let w = world();
    let (user_id, user) = w
        .server
        .create_user(&w.admin, "new.member@example.com", PASSWORD);
    // Not a member yet.
    w.server
        .get(&members_path(&w.team_id))
        .bearer(&user)
        .send()
        .expect_detail(403, json!(OTHER_TEAM));

    let resp = add_member(
        &w.server,
        &w.owner,
        &w.team_id,
        "new.member@example.com",
        "member",
    );
    resp.expect_status(201);
    let member = resp.json();
    assert_eq!(
        fields_of(&member),
        sorted(&["user_id", "email", "role", "added_at"])
    );
    assert_eq!(member["user_id"], json!(user_id));
    assert_eq!(member["email"], json!("new.member@example.com"));
    assert_eq!(member["role"], json!("member"));
    assert_recent_timestamp(&member["added_at"], "added_at");

    // Listed, after the owner, exactly as answered.
    let members = members_of(&w.server, &w.owner, &w.team_id);
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["user_id"], json!(w.owner_id));
    assert_eq!(members[1], member);
    // The new member reads the list too, and sees the team with its role.
    assert_eq!(members_of(&w.server, &user, &w.team_id), members);
    assert_eq!(
        role_in(&w.server, &user, &w.team_id).as_deref(),
        Some("member")
    );
}

#[test]
fn adding_an_admin_and_email_case() {
    let w = world();
    let (user_id, user) = w.server.create_user(&w.admin, "case@example.com", PASSWORD);
    let resp = add_member(&w.server, &w.owner, &w.team_id, "CASE@Example.com", "admin");
    resp.expect_status(201);
    assert_eq!(resp.json()["user_id"], json!(user_id));
    assert_eq!(resp.json()["role"], json!("admin"));
    assert_eq!(
        role_in(&w.server, &user, &w.team_id).as_deref(),
        Some("admin")
    );
}

#[test]
fn adding_members_fails_cleanly() {
    let w = world();
    let (_, _) = w.server.create_user(&w.admin, "m@example.com", PASSWORD);
    let path = members_path(&w.team_id);
    let post = |body: Value| w.server.post(&path).bearer(&w.owner).json(&body).send();

    post(json!({"email": "ghost@example.com", "role": "member"}))
        .expect_detail(404, json!("User not found"));

    post(json!({"email": "m@example.com", "role": "member"})).expect_status(201);
    for role in ["member", "admin"] {
        let resp = post(json!({"email": "m@example.com", "role": role}));
        resp.expect_status(409);
        assert!(resp.json()["detail"].is_string(), "{}", resp.text());
    }
    // The owner is already a member too.
    post(json!({"email": "owner@example.com", "role": "admin"})).expect_status(409);

    for role in ["owner", "superuser", "Admin", ""] {
        let resp = post(json!({"email": "m@example.com", "role": role}));
        resp.expect_status(422);
        let problems = resp.json()["detail"].as_array().unwrap().clone();
        assert_eq!(problems.len(), 1, "{role:?}: {problems:?}");
        assert_eq!(problems[0]["loc"], json!(["body", "role"]), "{role:?}");
    }
    expect_problems(
        &post(json!({"email": "m@example.com"})),
        &[(json!(["body", "role"]), "missing")],
    );
    expect_problems(
        &post(json!({"role": "member"})),
        &[(json!(["body", "email"]), "missing")],
    );
    // Regression: null for a required field was read as valid and answered 500.
    expect_problems(
        &post(json!({"email": null, "role": null})),
        &[
            (json!(["body", "email"]), "string_type"),
            (json!(["body", "role"]), "string_type"),
        ],
    );
    // Nothing changed: the owner and one member.
    let members = members_of(&w.server, &w.owner, &w.team_id);
    let roles: Vec<&Value> = members.iter().map(|m| &m["role"]).collect();
    assert_eq!(roles, vec![&json!("owner"), &json!("member")]);
}

#[test]
fn members_with_role_member_cannot_manage_members() {
    let w = world();
    let (member_id, member) = w.member("plain@example.com", "member");
    let (other_id, _) = w.member("other@example.com", "member");
    w.server
        .create_user(&w.admin, "candidate@example.com", PASSWORD);

    add_member(
        &w.server,
        &member,
        &w.team_id,
        "candidate@example.com",
        "member",
    )
    .expect_detail(403, json!(MANAGERS_ONLY));
    for target in [&other_id, &member_id, &w.owner_id] {
        set_role(&w.server, &member, &w.team_id, target, "admin")
            .expect_detail(403, json!(MANAGERS_ONLY));
        w.server
            .delete(&member_path(&w.team_id, target))
            .bearer(&member)
            .send()
            .expect_detail(403, json!(MANAGERS_ONLY));
    }
    // Reading is allowed, and nothing changed.
    let members = members_of(&w.server, &member, &w.team_id);
    assert_eq!(members.len(), 3);
    assert_eq!(
        members.iter().map(|m| &m["role"]).collect::<Vec<_>>(),
        vec![&json!("owner"), &json!("member"), &json!("member")]
    );
}

#[test]
fn admins_manage_members_but_not_owners() {
    let w = world();
    let (_, admin_member) = w.member("team.admin@example.com", "admin");
    let (plain_id, plain) = w.member("plain@example.com", "member");
    w.server.create_user(&w.admin, "late@example.com", PASSWORD);

    // An admin adds, promotes, demotes and removes non-owners.
    add_member(
        &w.server,
        &admin_member,
        &w.team_id,
        "late@example.com",
        "member",
    )
    .expect_status(201);
    let resp = set_role(&w.server, &admin_member, &w.team_id, &plain_id, "admin");
    resp.expect_status(200);
    assert_eq!(resp.json()["role"], json!("admin"));
    assert_eq!(resp.json()["user_id"], json!(plain_id));
    assert_eq!(
        role_in(&w.server, &plain, &w.team_id).as_deref(),
        Some("admin")
    );
    set_role(&w.server, &admin_member, &w.team_id, &plain_id, "member").expect_status(200);
    w.server
        .delete(&member_path(&w.team_id, &plain_id))
        .bearer(&admin_member)
        .send()
        .expect_status(204);
    assert_eq!(role_in(&w.server, &plain, &w.team_id), None);

    // But cannot change or remove an owner.
    for role in ["admin", "member"] {
        let resp = set_role(&w.server, &admin_member, &w.team_id, &w.owner_id, role);
        resp.expect_status(403);
        assert!(resp.json()["detail"].is_string());
    }
    w.server
        .delete(&member_path(&w.team_id, &w.owner_id))
        .bearer(&admin_member)
        .send()
        .expect_status(403);
    assert_eq!(
        role_in(&w.server, &w.owner, &w.team_id).as_deref(),
        Some("owner")
    );
}

#[test]
fn member_role_changes_are_validated() {
    let w = world();
    let (plain_id, _) = w.member("plain@example.com", "member");
    let path = member_path(&w.team_id, &plain_id);
    for role in ["boss", "", "OWNER"] {
        let resp = w
            .server
            .patch(&path)
            .bearer(&w.owner)
            .json(&json!({"role": role}))
            .send();
        resp.expect_status(422);
        assert_eq!(resp.json()["detail"][0]["loc"], json!(["body", "role"]));
    }
    expect_problems(
        &w.server
            .patch(&path)
            .bearer(&w.owner)
            .json(&json!({}))
            .send(),
        &[(json!(["body", "role"]), "missing")],
    );
    // Regression: a null role was read as valid and answered 500.
    expect_problems(
        &w.server
            .patch(&path)
            .bearer(&w.owner)
            .json(&json!({"role": null}))
            .send(),
        &[(json!(["body", "role"]), "string_type")],
    );
    // Someone who is not a member of the team: 404.
    let (stranger_id, _) = w
        .server
        .create_user(&w.admin, "stranger@example.com", PASSWORD);
    for user_id in [stranger_id.as_str(), UNKNOWN_ID, "not-a-uuid"] {
        let resp = set_role(&w.server, &w.owner, &w.team_id, user_id, "admin");
        resp.expect_status(404);
        assert!(resp.json()["detail"].is_string());
        let resp = w
            .server
            .delete(&member_path(&w.team_id, user_id))
            .bearer(&w.owner)
            .send();
        resp.expect_status(404);
        assert!(resp.json()["detail"].is_string());
    }
}

#[test]
fn the_last_owner_cannot_be_removed_or_demoted() {
    let w = world();
    for role in ["admin", "member"] {
        let resp = set_role(&w.server, &w.owner, &w.team_id, &w.owner_id, role);
        resp.expect_status(400);
        assert!(resp.json()["detail"].is_string(), "{}", resp.text());
    }
    let resp = w
        .server
        .delete(&member_path(&w.team_id, &w.owner_id))
        .bearer(&w.owner)
        .send();
    resp.expect_status(400);
    assert!(resp.json()["detail"].is_string());
    // Not even a superuser can.
    w.server
        .delete(&member_path(&w.team_id, &w.owner_id))
        .bearer(&w.admin)
        .send()
        .expect_status(400);
    set_role(&w.server, &w.admin, &w.team_id, &w.owner_id, "member").expect_status(400);
    assert_eq!(
        role_in(&w.server, &w.owner, &w.team_id).as_deref(),
        Some("owner")
    );

    // With a second owner, the first may step down, and then leave.
    let (second_id, second) = w.member("second@example.com", "admin");
    let resp = set_role(&w.server, &w.owner, &w.team_id, &second_id, "owner");
    resp.expect_status(200);
    assert_eq!(resp.json()["role"], json!("owner"));
    set_role(&w.server, &w.owner, &w.team_id, &w.owner_id, "admin").expect_status(200);
    assert_eq!(
        role_in(&w.server, &w.owner, &w.team_id).as_deref(),
        Some("admin")
    );
    // Now the second is the last owner.
    w.server
        .delete(&member_path(&w.team_id, &second_id))
        .bearer(&second)
        .send()
        .expect_status(400);
    w.server
        .delete(&member_path(&w.team_id, &w.owner_id))
        .bearer(&second)
        .send()
        .expect_status(204);
    assert_eq!(role_in(&w.server, &w.owner, &w.team_id), None);
    let members = members_of(&w.server, &second, &w.team_id);
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["user_id"], json!(second_id));
    assert_eq!(members[0]["role"], json!("owner"));
}

#[test]
fn a_removed_member_loses_access_at_once() {
    let w = world();
    let (plain_id, plain) = w.member("plain@example.com", "admin");
    let project = create_project(&w.server, &w.owner, &w.team_id, json!({"name": "App"}));
    let project_id = project["id"].as_str().unwrap();
    w.server
        .get(&format!("{PROJECTS}/{project_id}"))
        .bearer(&plain)
        .send()
        .expect_status(200);
    assert_eq!(projects_of(&w.server, &plain).len(), 1);

    w.server
        .delete(&member_path(&w.team_id, &plain_id))
        .bearer(&w.owner)
        .send()
        .expect_status(204);
    assert_eq!(teams_of(&w.server, &plain), Vec::<Value>::new());
    assert_eq!(projects_of(&w.server, &plain), Vec::<Value>::new());
    w.server
        .get(&members_path(&w.team_id))
        .bearer(&plain)
        .send()
        .expect_detail(403, json!(OTHER_TEAM));
    w.server
        .get(&format!("{PROJECTS}/{project_id}"))
        .bearer(&plain)
        .send()
        .expect_detail(403, json!(OTHER_TEAM));
    // Removing again: no longer a member.
    w.server
        .delete(&member_path(&w.team_id, &plain_id))
        .bearer(&w.owner)
        .send()
        .expect_status(404);
    // And they can be added back.
    add_member(
        &w.server,
        &w.owner,
        &w.team_id,
        "plain@example.com",
        "member",
    )
    .expect_status(201);
    assert_eq!(
        role_in(&w.server, &plain, &w.team_id).as_deref(),
        Some("member")
    );
}

// ---------------------------------------------------------------------------------------------
// Projects
// ---------------------------------------------------------------------------------------------

#[test]
fn bootstrap_admin_sees_the_default_project() {
    let server = server();
    let admin = server.admin_token();
    let team_id = teams_of(&server, &admin)[0]["id"].clone();
    let projects = projects_of(&server, &admin);
    assert_eq!(projects.len(), 1, "{projects:?}");
    let project = &projects[0];
    assert_eq!(
        fields_of(project),
        sorted(&["id", "team_id", "name", "slug", "created_at"])
    );
    assert_eq!(project["slug"], json!("default"));
    assert_eq!(project["team_id"], team_id);
    assert_uuid_v4(&project["id"], "project id");
    let resp = server
        .get(&format!("{PROJECTS}/{}", project["id"].as_str().unwrap()))
        .bearer(&admin)
        .send();
    resp.expect_status(200);
    assert_eq!(&resp.json(), project);
}

#[test]
fn owners_create_projects_that_members_read() {
    let w = world();
    let (_, plain) = w.member("plain@example.com", "member");
    let resp = w
        .server
        .post(&format!("{TEAMS}/{}/projects", w.team_id))
        .bearer(&w.owner)
        .json(&json!({"name": "Mobile App"}))
        .send();
    resp.expect_status(201);
    let project = resp.json();
    assert_eq!(
        fields_of(&project),
        sorted(&["id", "team_id", "name", "slug", "created_at"])
    );
    assert_eq!(project["name"], json!("Mobile App"));
    assert_eq!(project["slug"], json!("mobile-app"));
    assert_eq!(project["team_id"], json!(w.team_id));
    assert_uuid_v4(&project["id"], "project id");
    assert_recent_timestamp(&project["created_at"], "created_at");

    let path = format!("{PROJECTS}/{}", project["id"].as_str().unwrap());
    for token in [&w.owner, &plain, &w.admin] {
        let resp = w.server.get(&path).bearer(token).send();
        resp.expect_status(200);
        assert_eq!(resp.json(), project);
    }
    assert_eq!(projects_of(&w.server, &w.owner), vec![project.clone()]);
    assert_eq!(projects_of(&w.server, &plain), vec![project.clone()]);
    // The superuser is not a member: GET /projects lists only their own teams' projects.
    let admin_projects = projects_of(&w.server, &w.admin);
    assert!(admin_projects.iter().all(|p| p["id"] != project["id"]));

    // Admins create projects too; members do not.
    let (_, team_admin) = w.member("team.admin@example.com", "admin");
    let second = create_project(&w.server, &team_admin, &w.team_id, json!({"name": "Web"}));
    assert_eq!(second["slug"], json!("web"));
    w.server
        .post(&format!("{TEAMS}/{}/projects", w.team_id))
        .bearer(&plain)
        .json(&json!({"name": "Nope"}))
        .send()
        .expect_detail(403, json!(MANAGERS_ONLY));
    let listed = projects_of(&w.server, &plain);
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&project) && listed.contains(&second));
}

#[test]
fn project_slugs_are_unique_across_the_server() {
    let server = server();
    let admin = server.admin_token();
    let (_, alice) = server.create_user(&admin, "alice@example.com", PASSWORD);
    let (_, bob) = server.create_user(&admin, "bob@example.com", PASSWORD);
    let team_a = create_team(&server, &alice, json!({"name": "A"}))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let team_b = create_team(&server, &bob, json!({"name": "B"}))["id"]
        .as_str()
        .unwrap()
        .to_string();

    let explicit = create_project(
        &server,
        &alice,
        &team_a,
        json!({"name": "Site", "slug": "site"}),
    );
    assert_eq!(explicit["slug"], json!("site"));
    // Another team asking for the same slug: 409; the bootstrap project's slug too.
    for slug in ["site", "default"] {
        let resp = server
            .post(&format!("{TEAMS}/{team_b}/projects"))
            .bearer(&bob)
            .json(&json!({"name": "Site", "slug": slug}))
            .send();
        resp.expect_status(409);
        assert!(resp.json()["detail"].is_string());
    }
    // Same team too.
    server
        .post(&format!("{TEAMS}/{team_a}/projects"))
        .bearer(&alice)
        .json(&json!({"name": "Site", "slug": "site"}))
        .send()
        .expect_status(409);
    // A derived slug avoids taken ones, across teams.
    let derived = create_project(&server, &bob, &team_b, json!({"name": "Site"}));
    assert_eq!(derived["slug"], json!("site-2"));
    let derived = create_project(&server, &alice, &team_a, json!({"name": "SITE"}));
    assert_eq!(derived["slug"], json!("site-3"));
    assert_eq!(projects_of(&server, &bob).len(), 1);
    assert_eq!(projects_of(&server, &alice).len(), 2);
}

#[test]
fn project_bodies_are_validated() {
    let w = world();
    let path = format!("{TEAMS}/{}/projects", w.team_id);
    let post = |body: Value| w.server.post(&path).bearer(&w.owner).json(&body).send();
    expect_problems(
        &post(json!({"name": ""})),
        &[(json!(["body", "name"]), "string_too_short")],
    );
    expect_problems(
        &post(json!({"name": "p".repeat(101)})),
        &[(json!(["body", "name"]), "string_too_long")],
    );
    expect_problems(&post(json!({})), &[(json!(["body", "name"]), "missing")]);
    expect_problems(
        &post(json!({"name": "Ok", "slug": "Bad Slug"})),
        &[(json!(["body", "slug"]), "string_pattern_mismatch")],
    );
    let name = "Ünïcødé 🚀 Prøject";
    let project = create_project(&w.server, &w.owner, &w.team_id, json!({"name": name}));
    assert_eq!(project["name"], json!(name));
    assert_eq!(projects_of(&w.server, &w.owner), vec![project]);
}

// ---------------------------------------------------------------------------------------------
// Another team's resources, unknown ids, superusers
// ---------------------------------------------------------------------------------------------

#[test]
fn another_teams_resources_are_403_on_every_route() {
    let w = world();
    let (member_id, _) = w.member("insider@example.com", "member");
    let project = create_project(&w.server, &w.owner, &w.team_id, json!({"name": "Secret"}));
    let project_id = project["id"].as_str().unwrap().to_string();
    let resp = w
        .server
        .post(&format!("{PROJECTS}/{project_id}/api-keys"))
        .bearer(&w.owner)
        .json(&json!({"name": "ci"}))
        .send();
    resp.expect_status(201);
    let key = resp.json();
    let key_id = key["id"].as_str().unwrap().to_string();

    // An outsider: owner of their own team, not a member of this one.
    let (_, outsider) = w
        .server
        .create_user(&w.admin, "outsider@example.com", PASSWORD);
    create_team(&w.server, &outsider, json!({"name": "Outsider Team"}));
    w.server
        .create_user(&w.admin, "candidate@example.com", PASSWORD);

    let t = &w.team_id;
    let cases: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("{TEAMS}/{t}/members"), None),
        (
            "POST",
            format!("{TEAMS}/{t}/members"),
            Some(json!({"email": "candidate@example.com", "role": "admin"})),
        ),
        (
            "POST",
            format!("{TEAMS}/{t}/members"),
            Some(json!({"email": "ghost@example.com", "role": "admin"})),
        ),
        (
            "POST",
            format!("{TEAMS}/{t}/members"),
            Some(json!({"role": "bogus"})),
        ),
        (
            "PATCH",
            format!("{TEAMS}/{t}/members/{member_id}"),
            Some(json!({"role": "admin"})),
        ),
        (
            "PATCH",
            format!("{TEAMS}/{t}/members/{}", w.owner_id),
            Some(json!({"role": "member"})),
        ),
        ("DELETE", format!("{TEAMS}/{t}/members/{member_id}"), None),
        ("DELETE", format!("{TEAMS}/{t}/members/{UNKNOWN_ID}"), None),
        (
            "POST",
            format!("{TEAMS}/{t}/projects"),
            Some(json!({"name": "Intruder"})),
        ),
        ("GET", format!("{PROJECTS}/{project_id}"), None),
        ("GET", format!("{PROJECTS}/{project_id}/api-keys"), None),
        (
            "POST",
            format!("{PROJECTS}/{project_id}/api-keys"),
            Some(json!({"name": "stolen"})),
        ),
        ("GET", format!("/api/internal/api-keys/{key_id}"), None),
        (
            "PATCH",
            format!("/api/internal/api-keys/{key_id}"),
            Some(json!({"is_active": false})),
        ),
        (
            "POST",
            format!("/api/internal/api-keys/{key_id}/roll"),
            Some(json!({"overlap_seconds": 0})),
        ),
        ("DELETE", format!("/api/internal/api-keys/{key_id}"), None),
        (
            "GET",
            format!("/api/internal/api-keys/{key_id}/usage"),
            None,
        ),
    ];
    let secrets = [
        project_id.as_str(),
        "Secret",
        key_id.as_str(),
        key["key_prefix"].as_str().unwrap(),
        "insider@example.com",
        "owner@example.com",
    ];
    for (method, path, body) in &cases {
        let mut req = w.server.request(method, path).bearer(&outsider);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send();
        resp.expect_detail(403, json!(OTHER_TEAM));
        let text = resp.text();
        for secret in secrets {
            assert!(!text.contains(secret), "{method} {path} leaked {secret:?}");
        }
    }

    // Nothing changed: same members, one project, the key still there, active.
    let members = members_of(&w.server, &w.owner, &w.team_id);
    assert_eq!(members.len(), 2);
    assert_eq!(members[1]["role"], json!("member"));
    assert_eq!(projects_of(&w.server, &w.owner), vec![project]);
    let resp = w
        .server
        .get(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&w.owner)
        .send();
    resp.expect_status(200);
    assert_eq!(resp.json()["is_active"], json!(true));
    let resp = w
        .server
        .get(&format!("{PROJECTS}/{project_id}/api-keys"))
        .bearer(&w.owner)
        .send();
    assert_eq!(resp.json().as_array().unwrap().len(), 1);
    // And the outsider's listings show none of it.
    let outsider_projects = projects_of(&w.server, &outsider);
    assert!(outsider_projects.is_empty(), "{outsider_projects:?}");
    assert!(teams_of(&w.server, &outsider)
        .iter()
        .all(|team| team["id"] != json!(w.team_id)));
}

#[test]
fn unknown_ids_are_404() {
    let w = world();
    let project = create_project(&w.server, &w.owner, &w.team_id, json!({"name": "P"}));
    let project_id = project["id"].as_str().unwrap().to_string();
    let t = &w.team_id;
    // (method, path, body, detail) with a well-formed id that does not exist.
    let unknown: Vec<(&str, String, Option<Value>, &str)> = vec![
        (
            "GET",
            format!("{TEAMS}/{UNKNOWN_ID}/members"),
            None,
            "Team not found",
        ),
        (
            "POST",
            format!("{TEAMS}/{UNKNOWN_ID}/members"),
            Some(json!({"email": "owner@example.com", "role": "admin"})),
            "Team not found",
        ),
        (
            "PATCH",
            format!("{TEAMS}/{UNKNOWN_ID}/members/{}", w.owner_id),
            Some(json!({"role": "admin"})),
            "Team not found",
        ),
        (
            "DELETE",
            format!("{TEAMS}/{UNKNOWN_ID}/members/{}", w.owner_id),
            None,
            "Team not found",
        ),
        (
            "POST",
            format!("{TEAMS}/{UNKNOWN_ID}/projects"),
            Some(json!({"name": "X"})),
            "Team not found",
        ),
        (
            "GET",
            format!("{PROJECTS}/{UNKNOWN_ID}"),
            None,
            "Project not found",
        ),
        (
            "GET",
            format!("{PROJECTS}/{UNKNOWN_ID}/api-keys"),
            None,
            "Project not found",
        ),
        (
            "POST",
            format!("{PROJECTS}/{UNKNOWN_ID}/api-keys"),
            Some(json!({"name": "k"})),
            "Project not found",
        ),
        (
            "GET",
            format!("/api/internal/api-keys/{UNKNOWN_ID}"),
            None,
            "API key not found",
        ),
        (
            "PATCH",
            format!("/api/internal/api-keys/{UNKNOWN_ID}"),
            Some(json!({"name": "x"})),
            "API key not found",
        ),
        (
            "POST",
            format!("/api/internal/api-keys/{UNKNOWN_ID}/roll"),
            Some(json!({})),
            "API key not found",
        ),
        (
            "DELETE",
            format!("/api/internal/api-keys/{UNKNOWN_ID}"),
            None,
            "API key not found",
        ),
        (
            "GET",
            format!("/api/internal/api-keys/{UNKNOWN_ID}/usage"),
            None,
            "API key not found",
        ),
    ];
    // Both a regular user and a superuser get 404 (not 403) for what does not exist.
    for token in [&w.owner, &w.admin] {
        for (method, path, body, detail) in &unknown {
            let mut req = w.server.request(method, path).bearer(token);
            if let Some(body) = body {
                req = req.json(body);
            }
            req.send().expect_detail(404, json!(detail));
        }
    }
    // Ids that are not UUIDs at all (or not canonical) are 404 as well, never 422 or 500.
    let upper = project_id.to_uppercase();
    let bad_ids = [
        "not-a-uuid",
        "123",
        "00000000-0000-0000-0000-00000000000g",
        &upper,
    ];
    for bad in bad_ids {
        for (method, path, body) in [
            ("GET", format!("{TEAMS}/{bad}/members"), None),
            (
                "POST",
                format!("{TEAMS}/{bad}/projects"),
                Some(json!({"name": "X"})),
            ),
            ("GET", format!("{PROJECTS}/{bad}"), None),
            ("GET", format!("{PROJECTS}/{bad}/api-keys"), None),
            ("GET", format!("/api/internal/api-keys/{bad}"), None),
            ("DELETE", format!("/api/internal/api-keys/{bad}"), None),
            ("GET", format!("/api/internal/api-keys/{bad}/usage"), None),
            (
                "PATCH",
                format!("{TEAMS}/{t}/members/{bad}"),
                Some(json!({"role": "admin"})),
            ),
        ] {
            let mut req = w.server.request(method, &path).bearer(&w.owner);
            if let Some(body) = &body {
                req = req.json(body);
            }
            let resp = req.send();
            resp.expect_status(404);
            assert!(resp.json()["detail"].is_string(), "{method} {path}");
        }
    }
}

#[test]
fn superusers_act_on_every_team() {
    let w = world();
    w.server
        .create_user(&w.admin, "hired@example.com", PASSWORD);
    // The superuser is not a member of the owner's team, yet manages it.
    let members = members_of(&w.server, &w.admin, &w.team_id);
    assert_eq!(members.len(), 1);
    let resp = add_member(
        &w.server,
        &w.admin,
        &w.team_id,
        "hired@example.com",
        "admin",
    );
    resp.expect_status(201);
    let hired_id = resp.json()["user_id"].as_str().unwrap().to_string();
    set_role(&w.server, &w.admin, &w.team_id, &hired_id, "owner").expect_status(200);
    set_role(&w.server, &w.admin, &w.team_id, &hired_id, "member").expect_status(200);
    let project = create_project(&w.server, &w.admin, &w.team_id, json!({"name": "By Admin"}));
    assert_eq!(project["team_id"], json!(w.team_id));
    let path = format!("{PROJECTS}/{}", project["id"].as_str().unwrap());
    w.server
        .get(&path)
        .bearer(&w.admin)
        .send()
        .expect_status(200);
    w.server
        .get(&path)
        .bearer(&w.owner)
        .send()
        .expect_status(200);
    let resp = w
        .server
        .post(&format!("{path}/api-keys"))
        .bearer(&w.admin)
        .json(&json!({"name": "admin key"}))
        .send();
    resp.expect_status(201);
    let key_id = resp.json()["id"].as_str().unwrap().to_string();
    w.server
        .get(&format!("{path}/api-keys"))
        .bearer(&w.admin)
        .send()
        .expect_status(200);
    w.server
        .get(&format!("/api/internal/api-keys/{key_id}/usage"))
        .bearer(&w.admin)
        .send()
        .expect_status(200);
    w.server
        .delete(&member_path(&w.team_id, &hired_id))
        .bearer(&w.admin)
        .send()
        .expect_status(204);
    // Acting on a team does not make the superuser a member of it.
    assert!(teams_of(&w.server, &w.admin)
        .iter()
        .all(|team| team["id"] != json!(w.team_id)));
}

/// Regression: a superuser demoted to `member` of a team lost the owner's powers there, which
/// a superuser outside the team keeps.
#[test]
fn a_superuser_who_is_a_plain_member_still_acts_as_owner() {
    let w = world();
    let (admin_id, _) = w.member("second-admin@example.com", "member");
    let second_admin = w
        .server
        .patch(&format!("/api/internal/users/{admin_id}"))
        .bearer(&w.admin)
        .json(&json!({"is_superuser": true}))
        .send();
    second_admin.expect_status(200);
    let token = w.server.login("second-admin@example.com", PASSWORD);
    // Listed with the role of the membership, yet manages the team as an owner would.
    let roles: Vec<Value> = members_of(&w.server, &token, &w.team_id)
        .iter()
        .map(|m| m["role"].clone())
        .collect();
    assert_eq!(roles, vec![json!("owner"), json!("member")]);
    w.server
        .create_user(&w.admin, "hired@example.com", PASSWORD);
    let resp = add_member(&w.server, &token, &w.team_id, "hired@example.com", "admin");
    resp.expect_status(201);
    let hired_id = resp.json()["user_id"].as_str().unwrap().to_string();
    set_role(&w.server, &token, &w.team_id, &hired_id, "owner").expect_status(200);
    set_role(&w.server, &token, &w.team_id, &w.owner_id, "member").expect_status(200);
    create_project(
        &w.server,
        &token,
        &w.team_id,
        json!({"name": "By Member Admin"}),
    );
    w.server
        .delete(&member_path(&w.team_id, &hired_id))
        .bearer(&token)
        .send()
        .expect_status(400);
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Sends `n` `POST /teams` with `body` at once; returns the responses.
fn create_teams_in_parallel(server: &TestServer, token: &str, n: usize, body: Value) -> Vec<Resp> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let body = body.clone();
                scope.spawn(move || server.post(TEAMS).bearer(token).json(&body).send())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn teams_created_at_once_get_distinct_slugs() {
    let server = server();
    let admin = server.admin_token();
    let answers = create_teams_in_parallel(&server, &admin, 12, json!({"name": "Acme"}));
    let mut slugs: Vec<String> = answers
        .iter()
        .map(|resp| {
            resp.expect_status(201);
            resp.json()["slug"].as_str().unwrap().to_string()
        })
        .collect();
    slugs.sort();
    let mut expected: Vec<String> = std::iter::once("acme".to_string())
        .chain((2..=12).map(|i| format!("acme-{i}")))
        .collect();
    expected.sort();
    assert_eq!(slugs, expected);

    // One explicit slug asked for ten times at once: one team, nine 409s, no 500.
    let answers =
        create_teams_in_parallel(&server, &admin, 10, json!({"name": "Race", "slug": "race"}));
    let mut statuses: Vec<u16> = answers.iter().map(|resp| resp.status).collect();
    statuses.sort();
    assert_eq!(statuses, [vec![201], vec![409; 9]].concat(), "{answers:?}");
    let teams = teams_of(&server, &admin);
    assert_eq!(teams.len(), 1 + 12 + 1);
    assert_eq!(
        teams.iter().filter(|t| t["slug"] == json!("race")).count(),
        1
    );
}

#[test]
fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let w = world();
    for round in 0..5 {
        let email = format!("co-owner-{round}@example.com");
        let (co_id, co) = w.member(&email, "admin");
        set_role(&w.server, &w.owner, &w.team_id, &co_id, "owner").expect_status(200);
        // Each demotes the other at the same moment: only one may succeed.
        let (first, second) = std::thread::scope(|scope| {
            let a = scope.spawn(|| set_role(&w.server, &w.owner, &w.team_id, &co_id, "member"));
            let b = scope.spawn(|| set_role(&w.server, &co, &w.team_id, &w.owner_id, "member"));
            (a.join().unwrap(), b.join().unwrap())
        });
        let mut statuses = [first.status, second.status];
        statuses.sort();
        assert!(
            statuses == [200, 400] || statuses == [200, 403],
            "round {round}: {statuses:?}\n{first:?}\n{second:?}"
        );
        let owners: Vec<Value> = members_of(&w.server, &w.admin, &w.team_id)
            .into_iter()
            .filter(|m| m["role"] == json!("owner"))
            .collect();
        assert_eq!(owners.len(), 1, "round {round}: {owners:?}");
        // Restore: the original owner stays the owner, the co-owner leaves.
        let owner_id = owners[0]["user_id"].as_str().unwrap().to_string();
        if owner_id != w.owner_id {
            set_role(&w.server, &w.admin, &w.team_id, &w.owner_id, "owner").expect_status(200);
        }
        w.server
            .delete(&member_path(&w.team_id, &co_id))
            .bearer(&w.admin)
            .send()
            .expect_status(204);
    }
}
