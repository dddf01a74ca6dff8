//! The audit log (key-security.md, "Audit log"): every change to users, sessions, teams,
//! members, projects and signing keys, and every login attempt, appends exactly one event in
//! the contract's shape; a refused change appends none; no event holds a secret; the routes
//! filter, paginate and check permissions; `shipstar audit list` prints the same events.

use crate::fixture::{
    create_project, create_team, expect_problems, fields_of, pagination_query_errors, sorted,
    Options, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD,
};
use serde_json::{json, Value};

/// The user agent every request of these tests sends, so events can be checked for it.
const UA: &str = "audit-test/1.0";
/// The client the tests pose as, behind the trusted loopback proxy.
const CLIENT_IP: &str = "203.0.113.9";

/// A server whose loopback proxy is trusted, so `X-Forwarded-For` names the client.
fn server() -> TestServer {
    TestServer::start_with(
        Options::default()
            .env("SHIPSTAR_TRUSTED_PROXIES", "127.0.0.1")
            .env("SHIPSTAR_ALLOW_REGISTRATION", "true"),
    )
}

/// Sends `req` as the test client: its user agent, from [`CLIENT_IP`] through the proxy.
fn as_client(req: crate::fixture::Req<'_>) -> crate::fixture::Req<'_> {
    req.header("User-Agent", UA)
        .header("X-Forwarded-For", CLIENT_IP)
}

fn login(server: &TestServer, email: &str, password: &str) -> String {
    let resp = as_client(server.post("/api/internal/auth/jwt/login"))
        .form(&[("username", email), ("password", password)])
        .send();
    resp.expect_status(200);
    resp.json()["access_token"].as_str().unwrap().to_owned()
}

/// Every event the superuser route lists for `query` (no `?`), newest first.
fn events(server: &TestServer, admin: &str, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let path = format!(
            "/api/internal/audit-log?limit=100&offset={}&{query}",
            all.len()
        );
        let resp = server.get(&path).bearer(admin).send();
        resp.expect_status(200);
        let total: usize = resp.header("X-Total-Count").unwrap().parse().unwrap();
        all.extend(resp.json().as_array().unwrap().iter().cloned());
        if all.len() >= total {
            return all;
        }
    }
}

/// The events of `action`, newest first.
fn of(server: &TestServer, admin: &str, action: &str) -> Vec<Value> {
    events(server, admin, &format!("action={action}"))
}

/// The one event of `action` (fails unless there is exactly one).
#[track_caller]
fn only(server: &TestServer, admin: &str, action: &str) -> Value {
    let found = of(server, admin, action);
    assert_eq!(found.len(), 1, "{action}: {found:#?}");
    found.into_iter().next().unwrap()
}

/// Asserts the contract's shape and that nothing in the whole log contains a secret.
#[track_caller]
fn assert_clean_log(server: &TestServer, admin: &str, secrets: &[&str]) {
    let all = events(server, admin, "");
    for event in &all {
        assert_eq!(
            fields_of(event),
            sorted(&[
                "id",
                "at",
                "action",
                "actor",
                "target",
                "team_id",
                "project_id",
                "ip",
                "user_agent",
                "details"
            ]),
            "{event}"
        );
        assert_eq!(fields_of(&event["actor"]), sorted(&["type", "id", "label"]));
        if !event["target"].is_null() {
            assert_eq!(
                fields_of(&event["target"]),
                sorted(&["type", "id", "label"])
            );
        }
        assert!(event["details"].is_object(), "{event}");
        assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
    }
    let text = serde_json::to_string(&all).unwrap();
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "the log holds a secret {secret:?}: {text}"
        );
    }
    for marker in ["$argon2", "sk_live_", "eyJ"] {
        // Key prefixes are labels, never keys: `sk_live_` + 8 characters at most.
        if marker == "sk_live_" {
            for (i, _) in text.match_indices(marker) {
                let rest: String = text[i + 8..]
                    .chars()
                    .take_while(char::is_ascii_alphanumeric)
                    .collect();
                assert!(rest.len() <= 8, "a whole key in the log: {text}");
            }
        } else {
            assert!(!text.contains(marker), "the log holds {marker}: {text}");
        }
    }
}

fn admin_id(server: &TestServer, admin: &str) -> String {
    let me = server.get("/api/internal/users/me").bearer(admin).send();
    me.json()["id"].as_str().unwrap().to_owned()
}

fn user_actor(id: &str, email: &str) -> Value {
    json!({"type": "user", "id": id, "label": email})
}

#[test]
fn logins_record_actor_target_client_ip_user_agent_and_never_the_password() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let admin_id = admin_id(&server, &admin);
    let ok = only(&server, &admin, "auth.login_succeeded");
    assert_eq!(ok["actor"], user_actor(&admin_id, ADMIN_EMAIL));
    assert_eq!(
        ok["target"],
        json!({"type": "user", "id": admin_id, "label": ADMIN_EMAIL})
    );
    assert_eq!(
        (ok["ip"].as_str(), ok["user_agent"].as_str()),
        (Some(CLIENT_IP), Some(UA))
    );
    assert_eq!(
        (&ok["team_id"], &ok["project_id"]),
        (&Value::Null, &Value::Null)
    );
    let sessions = server
        .get("/api/internal/auth/sessions")
        .bearer(&admin)
        .send();
    assert_eq!(
        ok["details"],
        json!({"session_id": sessions.json()[0]["id"]})
    );

    let wrong = as_client(server.post("/api/internal/auth/jwt/login"))
        .form(&[("username", ADMIN_EMAIL), ("password", "wrong-password-9")])
        .send();
    wrong.expect_status(400);
    let failed = only(&server, &admin, "auth.login_failed");
    assert_eq!(
        failed["actor"],
        json!({"type": "anonymous", "id": null, "label": null})
    );
    assert_eq!(failed["target"], ok["target"]);
    assert_eq!(failed["details"], json!({"reason": "bad_password"}));
    assert_eq!(failed["ip"], CLIENT_IP);
    // A malformed attempt checks no password and records nothing.
    as_client(server.post("/api/internal/auth/jwt/login"))
        .form(&[("username", ADMIN_EMAIL)])
        .send()
        .expect_status(422);
    assert_eq!(of(&server, &admin, "auth.login_failed").len(), 1);
    assert_clean_log(
        &server,
        &admin,
        &[ADMIN_PASSWORD, "wrong-password-9", &admin],
    );
}

#[test]
fn a_failed_login_of_an_unknown_email_stores_nothing_that_identifies_the_email() {
    let mut server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let email = "nobody-q7zx3@unknown-domain.example";
    let resp = as_client(server.post("/api/internal/auth/jwt/login"))
        .form(&[("username", email), ("password", "some-password-1")])
        .send();
    resp.expect_status(400);
    let failed = only(&server, &admin, "auth.login_failed");
    assert_eq!(
        failed["actor"],
        json!({"type": "anonymous", "id": null, "label": null})
    );
    assert_eq!(failed["target"], Value::Null);
    assert_eq!(failed["details"], json!({"reason": "unknown_email"}));
    assert_eq!(
        (failed["ip"].as_str(), failed["user_agent"].as_str()),
        (Some(CLIENT_IP), Some(UA))
    );
    // Nothing in the database files, in any case, nor a hash of it.
    server.terminate();
    let digest = {
        use sha2::{Digest, Sha256};
        let bytes = Sha256::digest(email.as_bytes());
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", server.db_path().display());
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        for needle in ["nobody-q7zx3", "unknown-domain", &digest] {
            assert!(!text.contains(needle), "{path} holds {needle:?}");
        }
    }
    assert!(!server.log().contains("nobody-q7zx3"));
}

/// The caller's sessions: (id, current).
fn sessions(server: &TestServer, token: &str) -> Vec<(String, bool)> {
    let resp = server
        .get("/api/internal/auth/sessions")
        .bearer(token)
        .send();
    resp.expect_status(200);
    resp.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["current"] == true))
        .collect()
}

#[test]
fn logout_single_revoke_and_revoke_all_each_record_one_session_event() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let (user_id, _) = server.create_user(&admin, "sam@example.com", "sam-password-1");
    let first = login(&server, "sam@example.com", "sam-password-1");
    let second = login(&server, "sam@example.com", "sam-password-1");
    let _third = login(&server, "sam@example.com", "sam-password-1");
    let listed = sessions(&server, &first);
    let current = listed.iter().find(|(_, c)| *c).unwrap().0.clone();
    let second_id = sessions(&server, &second)
        .iter()
        .find(|(_, c)| *c)
        .unwrap()
        .0
        .clone();

    as_client(server.delete(&format!("/api/internal/auth/sessions/{second_id}")))
        .bearer(&first)
        .send()
        .expect_status(204);
    let revoked = only(&server, &admin, "session.revoked");
    assert_eq!(revoked["actor"], user_actor(&user_id, "sam@example.com"));
    assert_eq!(
        revoked["target"],
        json!({"type": "session", "id": second_id, "label": null})
    );
    assert_eq!(revoked["details"], json!({}));
    assert_eq!(revoked["ip"], CLIENT_IP);

    // Revoke-all: one event summing up the sessions it ended (the third one and the one
    // `create_user` signed in).
    as_client(server.post("/api/internal/auth/sessions/revoke-all"))
        .bearer(&first)
        .send()
        .expect_status(204);
    let all = of(&server, &admin, "session.revoked");
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0]["target"],
        json!({"type": "user", "id": user_id, "label": "sam@example.com"})
    );
    assert_eq!(
        all[0]["details"],
        json!({"count": 2, "reason": "revoke_all"})
    );
    // Nothing left to revoke: no change, no event.
    as_client(server.post("/api/internal/auth/sessions/revoke-all"))
        .bearer(&first)
        .send()
        .expect_status(204);
    assert_eq!(of(&server, &admin, "session.revoked").len(), 2);

    as_client(server.post("/api/internal/auth/jwt/logout"))
        .bearer(&first)
        .send()
        .expect_status(204);
    let logout = only(&server, &admin, "auth.logout");
    assert_eq!(logout["actor"], user_actor(&user_id, "sam@example.com"));
    assert_eq!(
        logout["target"],
        json!({"type": "session", "id": current, "label": null})
    );
    assert_eq!(logout["user_agent"], UA);
    assert_clean_log(&server, &admin, &["sam-password-1", &first, &second]);
}

#[test]
fn presenting_an_old_generation_records_the_reuse_once() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let admin_id = admin_id(&server, &admin);
    let token = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let refresh = |token: &str| {
        as_client(server.post("/api/internal/auth/jwt/refresh"))
            .bearer(token)
            .send()
    };
    let gen1 = refresh(&token).json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    refresh(&gen1).expect_status(200);
    refresh(&token).expect_status(401);
    let reuse = only(&server, &admin, "session.reuse_detected");
    assert_eq!(reuse["actor"], user_actor(&admin_id, ADMIN_EMAIL));
    assert_eq!(reuse["target"]["type"], "session");
    assert_eq!(
        reuse["details"],
        json!({"presented_generation": 0, "current_generation": 2})
    );
    // The session is revoked already: a second presentation changes nothing.
    refresh(&token).expect_status(401);
    assert_eq!(of(&server, &admin, "session.reuse_detected").len(), 1);
    assert_clean_log(&server, &admin, &[&token, &gen1]);
}

#[test]
fn user_creation_updates_password_changes_and_activation_are_recorded_by_api() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let admin_id = admin_id(&server, &admin);
    let created = as_client(server.post("/api/internal/users"))
        .bearer(&admin)
        .json(
            &json!({"email": "Ann@Example.com", "password": "ann-password-1", "is_verified": true}),
        )
        .send();
    created.expect_status(201);
    let ann = created.json()["id"].as_str().unwrap().to_owned();
    let ann_target = json!({"type": "user", "id": ann, "label": "ann@example.com"});
    let event = &of(&server, &admin, "user.created")[0];
    assert_eq!(event["actor"], user_actor(&admin_id, ADMIN_EMAIL));
    assert_eq!(event["target"], ann_target);
    assert_eq!(
        event["details"],
        json!({"via": "api", "is_superuser": false, "is_verified": true})
    );
    assert_eq!(
        (event["ip"].as_str(), event["user_agent"].as_str()),
        (Some(CLIENT_IP), Some(UA))
    );

    let patch = |body: Value| {
        as_client(server.patch(&format!("/api/internal/users/{ann}")))
            .bearer(&admin)
            .json(&body)
            .send()
    };
    patch(json!({"first_name": "Ann", "is_verified": true, "is_superuser": false}))
        .expect_status(200);
    let updated = only(&server, &admin, "user.updated");
    assert_eq!(updated["target"], ann_target);
    assert_eq!(updated["details"], json!({"fields": ["first_name"]}));
    // Values it already has: no change, no event.
    patch(json!({"first_name": "Ann"})).expect_status(200);
    assert_eq!(of(&server, &admin, "user.updated").len(), 1);

    let ann_token = login(&server, "ann@example.com", "ann-password-1");
    patch(json!({"password": "ann-new-password-2"})).expect_status(200);
    let changed = only(&server, &admin, "user.password_changed");
    assert_eq!(
        (&changed["target"], &changed["details"]),
        (&ann_target, &json!({}))
    );
    let revoked = only(&server, &admin, "session.revoked");
    assert_eq!(revoked["target"], ann_target);
    assert_eq!(
        revoked["details"],
        json!({"count": 1, "reason": "password_changed"})
    );
    assert_eq!(revoked["at"], changed["at"]);

    login(&server, "ann@example.com", "ann-new-password-2");
    patch(json!({"is_active": false})).expect_status(200);
    let off = only(&server, &admin, "user.deactivated");
    assert_eq!(off["target"], ann_target);
    let revoked = &of(&server, &admin, "session.revoked")[0];
    assert_eq!(
        revoked["details"],
        json!({"count": 1, "reason": "user_deactivated"})
    );
    patch(json!({"is_active": false})).expect_status(200);
    assert_eq!(of(&server, &admin, "user.deactivated").len(), 1);
    patch(json!({"is_active": true})).expect_status(200);
    assert_eq!(
        only(&server, &admin, "user.activated")["target"],
        ann_target
    );

    // Her own email change: she is the actor; the field is named, not its values.
    let ann_token2 = login(&server, "ann@example.com", "ann-new-password-2");
    as_client(server.patch("/api/internal/users/me"))
        .bearer(&ann_token2)
        .json(&json!({"email": "ann.b@example.com", "current_password": "ann-new-password-2"}))
        .send()
        .expect_status(200);
    let own = &of(&server, &admin, "user.updated")[0];
    assert_eq!(own["actor"], user_actor(&ann, "ann@example.com"));
    assert_eq!(own["target"]["label"], "ann.b@example.com");
    assert_eq!(own["details"], json!({"fields": ["email"]}));
    // A refused change (wrong current password) records no change.
    as_client(server.patch("/api/internal/users/me"))
        .bearer(&ann_token2)
        .json(&json!({"password": "another-pass-3", "current_password": "not-it-at-all"}))
        .send()
        .expect_status(400);
    assert_eq!(of(&server, &admin, "user.password_changed").len(), 1);

    // Self-registration: nobody is signed in.
    as_client(server.post("/api/internal/auth/register"))
        .json(&json!({"email": "reg@example.com", "password": "reg-password-1"}))
        .send()
        .expect_status(201);
    let registered = &of(&server, &admin, "user.created")[0];
    assert_eq!(
        registered["actor"],
        json!({"type": "anonymous", "id": null, "label": null})
    );
    assert_eq!(registered["target"]["label"], "reg@example.com");
    assert_eq!(registered["details"]["via"], "register");
    assert_clean_log(
        &server,
        &admin,
        &[
            "ann-password-1",
            "ann-new-password-2",
            "another-pass-3",
            "not-it-at-all",
            "reg-password-1",
            &ann_token,
        ],
    );
}

#[test]
fn teams_members_and_projects_record_their_events_and_refusals_record_none() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let (owner_id, owner) = server.create_user(&admin, "olga@example.com", "olga-password-1");
    let (bob_id, _) = server.create_user(&admin, "bob@example.com", "bob-password-1");
    let team = as_client(server.post("/api/internal/teams"))
        .bearer(&owner)
        .json(&json!({"name": "Acme Corp", "slug": "acme"}))
        .send();
    team.expect_status(201);
    let team_id = team.json()["id"].as_str().unwrap().to_owned();
    let created = &of(&server, &admin, "team.created")[0];
    assert_eq!(created["actor"], user_actor(&owner_id, "olga@example.com"));
    assert_eq!(
        created["target"],
        json!({"type": "team", "id": team_id, "label": "acme"})
    );
    assert_eq!(created["team_id"], team_id.as_str());
    assert_eq!(
        created["details"],
        json!({"name": "Acme Corp", "owner_id": owner_id})
    );
    assert_eq!(created["ip"], CLIENT_IP);

    let members = format!("/api/internal/teams/{team_id}/members");
    as_client(server.post(&members))
        .bearer(&owner)
        .json(&json!({"email": "bob@example.com", "role": "member"}))
        .send()
        .expect_status(201);
    let bob = json!({"type": "member", "id": bob_id, "label": "bob@example.com"});
    let added = only(&server, &admin, "member.added");
    assert_eq!(
        (&added["target"], &added["details"]),
        (&bob, &json!({"role": "member"}))
    );
    assert_eq!(added["team_id"], team_id.as_str());
    // Adding him again is refused: no event.
    as_client(server.post(&members))
        .bearer(&owner)
        .json(&json!({"email": "bob@example.com", "role": "member"}))
        .send()
        .expect_status(409);
    assert_eq!(of(&server, &admin, "member.added").len(), 1);

    let set_role = |user: &str, role: &str| {
        as_client(server.patch(&format!("{members}/{user}")))
            .bearer(&owner)
            .json(&json!({"role": role}))
            .send()
    };
    set_role(&bob_id, "admin").expect_status(200);
    let changed = only(&server, &admin, "member.role_changed");
    assert_eq!(changed["target"], bob);
    assert_eq!(
        changed["details"],
        json!({"old_role": "member", "new_role": "admin"})
    );
    set_role(&bob_id, "admin").expect_status(200);
    // Demoting the last owner is refused, and so is recorded nowhere.
    set_role(&owner_id, "member").expect_status(400);
    assert_eq!(of(&server, &admin, "member.role_changed").len(), 1);
    as_client(server.delete(&format!("{members}/{owner_id}")))
        .bearer(&owner)
        .send()
        .expect_status(400);
    assert!(of(&server, &admin, "member.removed").is_empty());

    as_client(server.delete(&format!("{members}/{bob_id}")))
        .bearer(&owner)
        .send()
        .expect_status(204);
    let removed = only(&server, &admin, "member.removed");
    assert_eq!(
        (&removed["target"], &removed["details"]),
        (&bob, &json!({"role": "admin"}))
    );

    let project = as_client(server.post(&format!("/api/internal/teams/{team_id}/projects")))
        .bearer(&owner)
        .json(&json!({"name": "Web", "slug": "web"}))
        .send();
    project.expect_status(201);
    let project_id = project.json()["id"].as_str().unwrap().to_owned();
    let event = &of(&server, &admin, "project.created")[0];
    assert_eq!(
        event["target"],
        json!({"type": "project", "id": project_id, "label": "web"})
    );
    assert_eq!(
        (event["team_id"].as_str(), event["project_id"].as_str()),
        (Some(team_id.as_str()), Some(project_id.as_str()))
    );
    assert_eq!(event["details"], json!({"name": "Web"}));
    // A taken slug: refused, no event.
    as_client(server.post(&format!("/api/internal/teams/{team_id}/projects")))
        .bearer(&owner)
        .json(&json!({"name": "Web", "slug": "web"}))
        .send()
        .expect_status(409);
    assert_eq!(
        of(&server, &admin, "project.created").len(),
        2,
        "default and web"
    );
    assert_clean_log(
        &server,
        &admin,
        &["olga-password-1", "bob-password-1", &owner],
    );
}

#[test]
fn the_first_start_and_the_setup_page_record_who_created_the_first_administrator() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let system = json!({"type": "system", "id": null, "label": "first start"});
    let created = only(&server, &admin, "user.created");
    assert_eq!(created["actor"], system);
    assert_eq!(created["target"]["label"], ADMIN_EMAIL);
    assert_eq!(
        created["details"],
        json!({"via": "bootstrap", "is_superuser": true, "is_verified": true})
    );
    assert_eq!(
        (&created["ip"], &created["user_agent"]),
        (&Value::Null, &Value::Null)
    );
    let team = only(&server, &admin, "team.created");
    assert_eq!(
        (&team["actor"], &team["target"]["label"]),
        (&system, &json!("default"))
    );
    let project = only(&server, &admin, "project.created");
    assert_eq!(project["team_id"], team["team_id"]);
    let rotated = only(&server, &admin, "signing_key.rotated");
    assert_eq!(
        rotated["actor"],
        json!({"type": "system", "id": null, "label": "server start"})
    );

    let fresh = TestServer::start_with(Options {
        with_admin: false,
        ..Options::default()
    });
    let url = fresh.setup_url();
    let token = url.split("token=").nth(1).unwrap().to_owned();
    fresh
        .post("/setup")
        .header("User-Agent", UA)
        .form(&[
            ("token", &token),
            ("email", "root@example.com"),
            ("password", "root-password-1"),
        ])
        .send()
        .expect_status(201);
    let root = fresh.login("root@example.com", "root-password-1");
    let created = only(&fresh, &root, "user.created");
    assert_eq!(
        created["actor"],
        json!({"type": "anonymous", "id": null, "label": null})
    );
    assert_eq!(created["details"]["via"], "setup");
    assert_eq!(
        (created["ip"].as_str(), created["user_agent"].as_str()),
        (Some("127.0.0.1"), Some(UA))
    );
    assert_eq!(
        only(&fresh, &root, "team.created")["actor"],
        created["actor"]
    );
    assert_clean_log(&fresh, &root, &["root-password-1", &token]);
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn cli_actor(command: &str) -> Value {
    json!({"type": "cli", "id": null, "label": format!("shipstar {command}")})
}

#[test]
fn cli_commands_and_seeds_record_their_events_as_the_cli() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let out = stdout(&server.cli(
        &[
            "user",
            "create",
            "--email",
            "cli@example.com",
            "--password-stdin",
        ],
        Some("cli-password-1\n"),
    ));
    assert!(out.contains("cli@example.com"));
    let created = &of(&server, &admin, "user.created")[0];
    assert_eq!(created["actor"], cli_actor("user create"));
    assert_eq!(created["details"]["via"], "cli");
    assert_eq!(
        (&created["ip"], &created["user_agent"]),
        (&Value::Null, &Value::Null)
    );
    stdout(&server.cli(
        &[
            "user",
            "set-password",
            "--email",
            "cli@example.com",
            "--password-stdin",
        ],
        Some("cli-password-2\n"),
    ));
    assert_eq!(
        only(&server, &admin, "user.password_changed")["actor"],
        cli_actor("user set-password")
    );
    stdout(&server.cli(&["user", "deactivate", "--email", "cli@example.com"], None));
    stdout(&server.cli(&["user", "activate", "--email", "cli@example.com"], None));
    assert_eq!(
        only(&server, &admin, "user.deactivated")["actor"],
        cli_actor("user deactivate")
    );
    assert_eq!(
        only(&server, &admin, "user.activated")["actor"],
        cli_actor("user activate")
    );
    stdout(&server.cli(
        &[
            "team",
            "create",
            "--name",
            "Ops",
            "--slug",
            "ops",
            "--owner",
            "cli@example.com",
        ],
        None,
    ));
    stdout(&server.cli(
        &[
            "project", "create", "--team", "ops", "--name", "Api", "--slug", "api",
        ],
        None,
    ));
    assert_eq!(
        of(&server, &admin, "team.created")[0]["actor"],
        cli_actor("team create")
    );
    assert_eq!(
        of(&server, &admin, "project.created")[0]["actor"],
        cli_actor("project create")
    );

    let seed = server.dir.join("seed.json");
    std::fs::write(
        &seed,
        json!({
            "users": [{"email": "seeded@example.com", "password": "seeded-password-1"}],
            "teams": [{"name": "Seeded", "slug": "seeded", "owner": "seeded@example.com"}],
            "members": [{"team": "seeded", "email": "cli@example.com", "role": "admin"}],
            "projects": [{"team": "seeded", "name": "S", "slug": "s"}]
        })
        .to_string(),
    )
    .unwrap();
    stdout(&server.cli(&["seed", seed.to_str().unwrap()], None));
    let seed_actor = cli_actor("seed");
    let user = &of(&server, &admin, "user.created")[0];
    assert_eq!(
        (&user["actor"], &user["details"]["via"]),
        (&seed_actor, &json!("seed"))
    );
    assert_eq!(of(&server, &admin, "team.created")[0]["actor"], seed_actor);
    let added = only(&server, &admin, "member.added");
    assert_eq!(
        (&added["actor"], &added["details"]),
        (&seed_actor, &json!({"role": "admin"}))
    );
    assert_eq!(
        of(&server, &admin, "project.created")[0]["actor"],
        seed_actor
    );
    // The same seed again conflicts: nothing written, no event.
    let before = events(&server, &admin, "").len();
    assert!(!server
        .cli(&["seed", seed.to_str().unwrap()], None)
        .status
        .success());
    assert_eq!(events(&server, &admin, "").len(), before);
    assert_clean_log(
        &server,
        &admin,
        &["cli-password-1", "cli-password-2", "seeded-password-1"],
    );
}

#[test]
fn signing_key_rotation_and_retirement_by_the_cli_are_recorded() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let kids = |server: &TestServer| -> Vec<String> {
        stdout(&server.cli(&["secret", "list"], None))
            .lines()
            .map(|line| line.split_whitespace().next().unwrap().to_owned())
            .collect()
    };
    let old = kids(&server)[0].clone();
    stdout(&server.cli(&["secret", "rotate"], None));
    let new = kids(&server).into_iter().find(|kid| *kid != old).unwrap();
    let rotated = &of(&server, &admin, "signing_key.rotated")[0];
    assert_eq!(rotated["actor"], cli_actor("secret rotate"));
    assert_eq!(
        rotated["target"],
        json!({"type": "signing_key", "id": new, "label": new})
    );
    assert_eq!(rotated["details"], json!({"superseded": [old]}));
    // Retiring the signing key is refused: no event.
    assert!(!server
        .cli(&["secret", "retire", "--kid", &new], None)
        .status
        .success());
    assert!(of(&server, &admin, "signing_key.retired").is_empty());
    stdout(&server.cli(&["secret", "retire", "--kid", &old], None));
    // The old key signed the administrator's token: it fails now, as retiring promises.
    server
        .get("/api/internal/audit-log")
        .bearer(&admin)
        .send()
        .expect_status(401);
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let retired = only(&server, &admin, "signing_key.retired");
    assert_eq!(retired["actor"], cli_actor("secret retire"));
    assert_eq!(
        retired["target"],
        json!({"type": "signing_key", "id": old, "label": old})
    );
    // The secrets themselves never appear.
    let text = serde_json::to_string(&events(&server, &admin, "action=signing_key.")).unwrap();
    assert!(!text.contains("secret\""), "{text}");
}

#[test]
fn the_routes_check_permissions_filter_and_paginate() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let (owner_id, owner) = server.create_user(&admin, "own@example.com", "own-password-1");
    let (_, team_admin) = server.create_user(&admin, "adm@example.com", "adm-password-1");
    let (_, member) = server.create_user(&admin, "mem@example.com", "mem-password-1");
    let (_, stranger) = server.create_user(&admin, "str@example.com", "str-password-1");
    let team = create_team(&server, &owner, json!({"name": "Acme", "slug": "acme"}));
    let team_id = team["id"].as_str().unwrap().to_owned();
    let members = format!("/api/internal/teams/{team_id}/members");
    for (email, role) in [("adm@example.com", "admin"), ("mem@example.com", "member")] {
        server
            .post(&members)
            .bearer(&owner)
            .json(&json!({"email": email, "role": role}))
            .send()
            .expect_status(201);
    }
    let project = create_project(
        &server,
        &owner,
        &team_id,
        json!({"name": "Web", "slug": "web"}),
    );
    let project_id = project["id"].as_str().unwrap();
    let key = server
        .post(&format!("/api/internal/projects/{project_id}/api-keys"))
        .bearer(&owner)
        .json(&json!({"name": "ci"}))
        .send();
    key.expect_status(201);
    let raw_key = key.json()["key"].as_str().unwrap().to_owned();
    create_team(
        &server,
        &stranger,
        json!({"name": "Other", "slug": "other"}),
    );

    let team_log = format!("/api/internal/teams/{team_id}/audit-log");
    for token in [&owner, &team_admin, &admin] {
        let resp = server.get(&team_log).bearer(token).send();
        resp.expect_status(200);
        let listed = resp.json();
        let actions: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(
            actions.ends_with(&["member.added", "member.added", "team.created"]),
            "{actions:?}"
        );
        assert!(listed
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["team_id"] == team_id.as_str()));
        assert_eq!(
            resp.header("X-Total-Count"),
            Some(actions.len().to_string().as_str())
        );
    }
    server
        .get(&team_log)
        .bearer(&member)
        .send()
        .expect_detail(403, json!("Only team owners and admins can do this"));
    server
        .get(&team_log)
        .bearer(&stranger)
        .send()
        .expect_detail(403, json!("This resource belongs to another team"));
    server
        .get("/api/internal/teams/00000000-0000-4000-8000-000000000000/audit-log")
        .bearer(&owner)
        .send()
        .expect_status(404);
    let key_refused = json!("API keys cannot manage account resources; sign in");
    server
        .get(&team_log)
        .bearer(&raw_key)
        .send()
        .expect_detail(403, key_refused.clone());
    server
        .get("/api/internal/audit-log")
        .bearer(&raw_key)
        .send()
        .expect_detail(403, key_refused);
    server
        .get("/api/internal/audit-log")
        .bearer(&owner)
        .send()
        .expect_detail(403, json!("Superuser required"));
    server
        .get("/api/internal/audit-log")
        .send()
        .expect_status(401);

    // Filters: exact names and prefixes, repeatable; actor; target; time.
    let all = events(&server, &admin, "");
    let count = |query: &str| events(&server, &admin, query).len();
    let by_action = |prefix: &str| {
        all.iter()
            .filter(|e| e["action"].as_str().unwrap().starts_with(prefix))
            .count()
    };
    assert_eq!(count("action=member."), by_action("member."));
    assert_eq!(
        count("action=member.added&action=team.created"),
        by_action("member.added") + by_action("team.created")
    );
    assert_eq!(
        count("action=auth.login_succeeded"),
        by_action("auth.login_succeeded")
    );
    let owner_events = events(&server, &admin, &format!("actor_id={owner_id}"));
    assert!(!owner_events.is_empty());
    assert!(owner_events
        .iter()
        .all(|e| e["actor"]["id"] == owner_id.as_str()));
    let about_team = events(&server, &admin, &format!("target_id={team_id}"));
    assert_eq!(about_team.len(), 1);
    assert_eq!(about_team[0]["action"], "team.created");
    let newest = all[0]["at"].as_str().unwrap();
    assert!(count(&format!("since={newest}")) >= 1);
    assert_eq!(count("until=2000-01-01T00:00:00Z"), 0);
    assert_eq!(count("since=2000-01-01T00:00:00%2B02:00"), all.len());
    // Newest first.
    let times: Vec<&str> = all.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted_times = times.clone();
    sorted_times.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted_times);

    // Pagination: limit, offset, total.
    let page = server
        .get("/api/internal/audit-log?limit=2&offset=1")
        .bearer(&admin)
        .send();
    page.expect_status(200);
    assert_eq!(
        page.header("X-Total-Count"),
        Some(all.len().to_string().as_str())
    );
    assert_eq!(page.json(), json!([all[1], all[2]]));
    let default = server.get("/api/internal/audit-log").bearer(&admin).send();
    assert_eq!(default.json().as_array().unwrap().len(), all.len().min(20));
    for (query, problems) in pagination_query_errors() {
        let resp = server
            .get(&format!("/api/internal/audit-log{query}"))
            .bearer(&admin)
            .send();
        expect_problems(&resp, &problems);
    }
    for (query, loc, kind) in [
        ("action=api_key", "action", "value_error"),
        ("action=nope.", "action", "value_error"),
        ("action=user.created&action=bogus", "action", "value_error"),
        ("actor_id=42", "actor_id", "uuid_parsing"),
        ("target_id=not-a-uuid", "target_id", "uuid_parsing"),
        ("since=yesterday", "since", "datetime_parsing"),
        ("until=2026-13-01T00:00:00Z", "until", "datetime_parsing"),
    ] {
        let resp = server
            .get(&format!("/api/internal/audit-log?{query}"))
            .bearer(&admin)
            .send();
        expect_problems(&resp, &[(json!(["query", loc]), kind)]);
        let resp = server
            .get(&format!("{team_log}?{query}"))
            .bearer(&owner)
            .send();
        expect_problems(&resp, &[(json!(["query", loc]), kind)]);
    }
    // Reading the log (and using a key) writes nothing to it.
    let before = events(&server, &admin, "").len();
    server
        .get("/api/v1/me")
        .bearer(&raw_key)
        .send()
        .expect_status(200);
    server
        .get("/api/internal/users/me")
        .bearer(&owner)
        .send()
        .expect_status(200);
    server.get("/api/v1/changelogs").send().expect_status(200);
    assert_eq!(events(&server, &admin, "").len(), before);
    assert_clean_log(&server, &admin, &[&raw_key, "own-password-1", &owner]);
}

#[test]
fn audit_list_prints_lines_or_json_newest_first_with_filters() {
    let server = server();
    let admin = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD);
    let (_, owner) = server.create_user(&admin, "lee@example.com", "lee-password-1");
    create_team(&server, &owner, json!({"name": "Acme", "slug": "acme"}));

    let json_lines: Vec<Value> = stdout(&server.cli(&["audit", "list", "--json"], None))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(json_lines, events(&server, &admin, ""));

    let text = stdout(&server.cli(&["audit", "list"], None));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), json_lines.len());
    assert!(lines[0].contains("team.created"), "{text}");
    assert!(
        lines[0].contains("by user:lee@example.com  on team:acme  from 127.0.0.1"),
        "{text}"
    );
    // The oldest: the server's first signing key, then the bootstrap administrator.
    assert!(
        lines.last().unwrap().contains("signing_key.rotated"),
        "{text}"
    );
    assert!(
        lines.last().unwrap().contains("by system:server start"),
        "{text}"
    );
    assert!(
        lines.iter().any(|line| line.contains("user.created")
            && line.contains("by system:first start  on user:admin@example.com")
            && line.contains(r#""via":"bootstrap""#)),
        "{text}"
    );

    let team_only = stdout(&server.cli(&["audit", "list", "--team", "acme", "--json"], None));
    assert_eq!(team_only.lines().count(), 1);
    let logins = stdout(&server.cli(
        &[
            "audit",
            "list",
            "--action",
            "auth.",
            "--action",
            "team.created",
        ],
        None,
    ));
    assert_eq!(logins.lines().count(), 4, "{logins}");
    let future = stdout(&server.cli(&["audit", "list", "--since", "2100-01-01T00:00:00Z"], None));
    assert!(future.is_empty());

    for args in [
        &["audit", "list", "--action", "nope"][..],
        &["audit", "list", "--since", "tomorrow"],
        &["audit", "list", "--team", "missing"],
    ] {
        let out = server.cli(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
    let missing = crate::fixture::run_cli(&server.dir.join("absent.db"), &["audit", "list"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("absent.db"));
    assert!(!server.dir.join("absent.db").exists());
}
