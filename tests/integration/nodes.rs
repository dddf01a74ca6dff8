//! Several nodes on one PostgreSQL database (`scale-out.md`, "Nodes are interchangeable"):
//! what one node issues or changes holds on every other, on the very next request, and the
//! invariants of one server hold when concurrent requests land on different nodes. Requests
//! alternate between the nodes; each test skips on SQLite, where one file has one server.

use crate::fixture::*;
use serde_json::{json, Value};
use shipstar::auth::jwt::b64url_decode;
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ME: &str = "/api/internal/users/me";
const KEY_ME: &str = "/api/v1/me";
const REFRESH: &str = "/api/internal/auth/jwt/refresh";
const SESSIONS: &str = "/api/internal/auth/sessions";
const TEAMS: &str = "/api/internal/teams";
const KEYS: &str = "/api/internal/api-keys";
const PASSWORD: &str = "node-test-password-1";
const INVALID_KEY: &str = "Invalid or expired API token.";
const KEYS_CANNOT: &str = "API keys cannot manage account resources; sign in";
const LAST_OWNER: &str = "The last owner of a team cannot be removed or demoted.";
const OWNERS_ONLY: &str = "Only team owners can change an owner";

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every node once, starting at `first` and going round.
fn round(nodes: &[TestServer], first: usize) -> impl Iterator<Item = &TestServer> {
    (0..nodes.len()).map(move |turn| &nodes[(first + turn) % nodes.len()])
}

/// Asserts `token` is a working session on every node, starting at `first` and going round:
/// `/users/me` answers 200 with `email`.
#[track_caller]
fn session_works_everywhere(nodes: &[TestServer], first: usize, token: &str, email: &str) {
    for node in round(nodes, first) {
        let resp = node.get(ME).bearer(token).send();
        resp.expect_status(200);
        assert_eq!(resp.json()["email"], json!(email), "node {}", node.addr);
    }
}

/// Asserts `token` is refused on every node, starting at `first`: 401 `"Unauthorized"`.
#[track_caller]
fn session_refused_everywhere(nodes: &[TestServer], first: usize, token: &str) {
    for node in round(nodes, first) {
        node.get(ME)
            .bearer(token)
            .send()
            .expect_detail(401, json!("Unauthorized"));
    }
}

/// Asserts API key `key` works on every node, starting at `first`: `/api/v1/me` answers 200
/// as `user_id`.
#[track_caller]
fn key_works_everywhere(nodes: &[TestServer], first: usize, key: &str, user_id: &str) {
    for node in round(nodes, first) {
        let resp = node.get(KEY_ME).bearer(key).send();
        resp.expect_status(200);
        assert_eq!(resp.json()["id"], json!(user_id), "node {}", node.addr);
    }
}

/// Asserts API key `key` is refused on every node, starting at `first`: 401 with the key
/// detail.
#[track_caller]
fn key_refused_everywhere(nodes: &[TestServer], first: usize, key: &str) {
    for node in round(nodes, first) {
        node.get(KEY_ME)
            .bearer(key)
            .send()
            .expect_detail(401, json!(INVALID_KEY));
    }
}

/// The JSON of one part of a token (0: header, 1: claims).
fn token_part(token: &str, index: usize) -> Value {
    let bytes = b64url_decode(token.split('.').nth(index).unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn kid_of(token: &str) -> String {
    token_part(token, 0)["kid"].as_str().unwrap().to_owned()
}

/// The access token of a 200 token answer.
#[track_caller]
fn access_token(resp: &Resp) -> String {
    resp.expect_status(200);
    resp.json()["access_token"].as_str().unwrap().to_owned()
}

/// A user who owns a team with a project and an API key, each made through another node.
struct Holder {
    user_id: String,
    email: String,
    token: String,
    team_id: String,
    project_id: String,
    key_id: String,
    key: String,
}

/// Creates `email` (by the administrator on node 0), their team (node 1), project (node 2) and
/// API key (node 0).
fn holder(nodes: &[TestServer], admin: &str, email: &str) -> Holder {
    let (user_id, token) = nodes[0].create_user(admin, email, PASSWORD);
    let team = create_team(
        &nodes[1],
        &token,
        json!({"name": format!("Team of {email}")}),
    );
    let team_id = team["id"].as_str().unwrap().to_owned();
    let project = create_project(&nodes[2], &token, &team_id, json!({"name": "Project"}));
    let project_id = project["id"].as_str().unwrap().to_owned();
    let (key_id, key) = create_key(&nodes[0], &token, &project_id, "node key");
    Holder {
        user_id,
        email: email.to_owned(),
        token,
        team_id,
        project_id,
        key_id,
        key,
    }
}

/// Creates an API key in `project_id` as `token` on `node`: (id, raw key).
fn create_key(node: &TestServer, token: &str, project_id: &str, name: &str) -> (String, String) {
    let resp = node
        .post(&format!("/api/internal/projects/{project_id}/api-keys"))
        .bearer(token)
        .json(&json!({ "name": name }))
        .send();
    resp.expect_status(201);
    let key = resp.json();
    (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// Revocation: on every node at the very next request
// ---------------------------------------------------------------------------------------------

/// A token issued by one node works on every node, and a logout on one ends it on all.
#[test]
fn a_session_from_one_node_works_on_every_node_until_a_logout_on_another() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let token = nodes[0].login(ADMIN_EMAIL, ADMIN_PASSWORD);
    session_works_everywhere(&nodes, 0, &token, ADMIN_EMAIL);
    nodes[1]
        .post("/api/internal/auth/jwt/logout")
        .bearer(&token)
        .send()
        .expect_status(204);
    session_refused_everywhere(&nodes, 2, &token);
    nodes[0]
        .post(REFRESH)
        .bearer(&token)
        .send()
        .expect_detail(401, json!("Unauthorized"));
}

/// Revoking one session (listed on another node) ends it on every node; the caller's own
/// session, and every other, keeps working everywhere.
#[test]
fn revoking_one_session_on_one_node_ends_it_on_every_node() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let current = nodes[0].admin_token();
    let doomed = nodes[1].admin_token();
    let kept = nodes[2].admin_token();
    let doomed_sid = token_part(&doomed, 1)["sid"].as_str().unwrap().to_owned();
    let listed = nodes[2].get(SESSIONS).bearer(&current).send();
    listed.expect_status(200);
    let ids: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.contains(&doomed_sid), "{ids:?}");
    session_works_everywhere(&nodes, 0, &doomed, ADMIN_EMAIL);

    nodes[1]
        .delete(&format!("{SESSIONS}/{doomed_sid}"))
        .bearer(&current)
        .send()
        .expect_status(204);
    session_refused_everywhere(&nodes, 2, &doomed);
    nodes[0]
        .post(REFRESH)
        .bearer(&doomed)
        .send()
        .expect_detail(401, json!("Unauthorized"));
    session_works_everywhere(&nodes, 1, &current, ADMIN_EMAIL);
    session_works_everywhere(&nodes, 2, &kept, ADMIN_EMAIL);
    // Gone from the list on every node.
    for node in &nodes {
        let resp = node.get(SESSIONS).bearer(&kept).send();
        resp.expect_status(200);
        let listed = resp.json();
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["id"] != json!(doomed_sid)),
            "{listed}"
        );
    }
}

/// "Revoke all" on one node ends every other session of the caller on every node, and keeps
/// the caller's.
#[test]
fn revoke_all_on_one_node_ends_the_other_sessions_on_every_node() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let (_, mine) = nodes[1].create_user(&admin, "many@example.com", PASSWORD);
    let others: Vec<String> = (0..3)
        .map(|i| nodes[i].login("many@example.com", PASSWORD))
        .collect();
    for (i, other) in others.iter().enumerate() {
        session_works_everywhere(&nodes, i, other, "many@example.com");
    }
    nodes[2]
        .post(&format!("{SESSIONS}/revoke-all"))
        .bearer(&mine)
        .send()
        .expect_status(204);
    for (i, other) in others.iter().enumerate() {
        session_refused_everywhere(&nodes, i, other);
    }
    session_works_everywhere(&nodes, 0, &mine, "many@example.com");
    // Another user's sessions are untouched.
    session_works_everywhere(&nodes, 1, &admin, ADMIN_EMAIL);
}

/// A password change on one node ends the user's other sessions on every node at once; the
/// old password is refused and the new one accepted by every node.
#[test]
fn a_password_change_on_one_node_ends_the_other_sessions_on_every_node() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let email = "mover@example.com";
    let (_, changer) = nodes[0].create_user(&admin, email, PASSWORD);
    let other = nodes[2].login(email, PASSWORD);
    session_works_everywhere(&nodes, 0, &other, email);

    nodes[1]
        .patch(ME)
        .bearer(&changer)
        .json(&json!({"password": "node-test-password-2", "current_password": PASSWORD}))
        .send()
        .expect_status(200);
    session_refused_everywhere(&nodes, 2, &other);
    nodes[0]
        .post(REFRESH)
        .bearer(&other)
        .send()
        .expect_detail(401, json!("Unauthorized"));
    session_works_everywhere(&nodes, 0, &changer, email);
    for node in &nodes {
        node.post("/api/internal/auth/jwt/login")
            .form(&[("username", email), ("password", PASSWORD)])
            .send()
            .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
        let fresh = node.login(email, "node-test-password-2");
        session_works_everywhere(&nodes, 1, &fresh, email);
    }
}

/// Logins with the old password on two nodes, racing a password change on a third: every
/// login either came before the change (and the change ended its session) or after it (and
/// was refused); none leaves a session that works.
#[test]
fn a_login_racing_a_password_change_on_another_node_leaves_no_working_session() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let email = "racer@example.com";
    let (_, changer) = nodes[0].create_user(&admin, email, PASSWORD);
    const LOGINS: usize = 4;
    const ATTEMPTS: usize = 12;
    let barrier = Barrier::new(LOGINS + 1);
    let issued: Vec<String> = std::thread::scope(|scope| {
        let logins: Vec<_> = (0..LOGINS)
            .map(|t| {
                let (node, barrier) = (&nodes[1 + t % 2], &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let mut tokens = Vec::new();
                    for _ in 0..ATTEMPTS {
                        let resp = node
                            .post("/api/internal/auth/jwt/login")
                            .form(&[("username", email), ("password", PASSWORD)])
                            .send();
                        if resp.status == 200 {
                            tokens.push(access_token(&resp));
                        } else {
                            resp.expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
                        }
                    }
                    tokens
                })
            })
            .collect();
        barrier.wait();
        std::thread::sleep(Duration::from_millis(10));
        nodes[0]
            .patch(ME)
            .bearer(&changer)
            .json(&json!({"password": "node-test-password-2", "current_password": PASSWORD}))
            .send()
            .expect_status(200);
        logins
            .into_iter()
            .flat_map(|login| login.join().unwrap())
            .collect()
    });
    for (i, token) in issued.iter().enumerate() {
        session_refused_everywhere(&nodes, i, token);
    }
    session_works_everywhere(&nodes, 1, &changer, email);
}

/// Deactivating a user on one node stops every token and API key of theirs on every node at
/// the next request, and their sign-in everywhere; reactivating brings the keys back.
#[test]
fn deactivating_a_user_on_one_node_stops_their_sessions_and_keys_on_every_node() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let h = holder(&nodes, &admin, "leaving@example.com");
    let second = nodes[2].login(&h.email, PASSWORD);
    session_works_everywhere(&nodes, 0, &h.token, &h.email);
    key_works_everywhere(&nodes, 1, &h.key, &h.user_id);

    let resp = nodes[1]
        .patch(&format!("/api/internal/users/{}", h.user_id))
        .bearer(&admin)
        .json(&json!({"is_active": false}))
        .send();
    resp.expect_status(200);
    assert_eq!(resp.json()["is_active"], json!(false));
    session_refused_everywhere(&nodes, 2, &h.token);
    session_refused_everywhere(&nodes, 0, &second);
    key_refused_everywhere(&nodes, 1, &h.key);
    for node in &nodes {
        node.post(REFRESH)
            .bearer(&second)
            .send()
            .expect_detail(401, json!("Unauthorized"));
        node.post("/api/internal/auth/jwt/login")
            .form(&[("username", h.email.as_str()), ("password", PASSWORD)])
            .send()
            .expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
    }

    nodes[2]
        .patch(&format!("/api/internal/users/{}", h.user_id))
        .bearer(&admin)
        .json(&json!({"is_active": true}))
        .send()
        .expect_status(200);
    key_works_everywhere(&nodes, 0, &h.key, &h.user_id);
    // The sessions stay ended: deactivation revoked them.
    session_refused_everywhere(&nodes, 1, &h.token);
}

/// Deactivating a key on one node stops it on every node at the next request; reactivating
/// on another brings it back everywhere; deleting it on a third stops it for good.
#[test]
fn deactivating_and_deleting_a_key_on_one_node_stop_it_on_every_node() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let h = holder(&nodes, &admin, "keys@example.com");
    let (_, other_key) = create_key(&nodes[1], &h.token, &h.project_id, "bystander");
    key_works_everywhere(&nodes, 0, &h.key, &h.user_id);

    let path = format!("{KEYS}/{}", h.key_id);
    let resp = nodes[0]
        .patch(&path)
        .bearer(&h.token)
        .json(&json!({"is_active": false}))
        .send();
    resp.expect_status(200);
    assert_eq!(resp.json()["is_active"], json!(false));
    key_refused_everywhere(&nodes, 1, &h.key);

    nodes[1]
        .patch(&path)
        .bearer(&h.token)
        .json(&json!({"is_active": true}))
        .send()
        .expect_status(200);
    key_works_everywhere(&nodes, 2, &h.key, &h.user_id);

    nodes[2]
        .delete(&path)
        .bearer(&h.token)
        .send()
        .expect_status(204);
    key_refused_everywhere(&nodes, 0, &h.key);
    for node in &nodes {
        node.get(&path)
            .bearer(&h.token)
            .send()
            .expect_detail(404, json!("API key not found"));
    }
    key_works_everywhere(&nodes, 1, &other_key, &h.user_id);
    // A valid key is still only a key: it may not manage accounts, on any node.
    for node in &nodes {
        node.get(TEAMS)
            .bearer(&other_key)
            .send()
            .expect_detail(403, json!(KEYS_CANNOT));
    }
}

/// Rolling a key on one node: without overlap the old key stops on every node at once; with
/// an overlap it works everywhere until the overlap ends and then stops everywhere; the new
/// key works on every node from the roll's answer on.
#[test]
fn a_rolled_key_stops_on_every_node_after_its_overlap_and_the_new_one_works_on_all() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let h = holder(&nodes, &admin, "roller@example.com");
    key_works_everywhere(&nodes, 0, &h.key, &h.user_id);

    let resp = nodes[1]
        .post(&format!("{KEYS}/{}/roll", h.key_id))
        .bearer(&h.token)
        .json(&json!({"overlap_seconds": 0}))
        .send();
    resp.expect_status(201);
    let rolled = resp.json();
    let second_id = rolled["id"].as_str().unwrap().to_owned();
    let second = rolled["key"].as_str().unwrap().to_owned();
    key_refused_everywhere(&nodes, 2, &h.key);
    key_works_everywhere(&nodes, 0, &second, &h.user_id);

    let overlap = 2;
    let rolled_at = now_secs();
    let resp = nodes[2]
        .post(&format!("{KEYS}/{second_id}/roll"))
        .bearer(&h.token)
        .json(&json!({ "overlap_seconds": overlap }))
        .send();
    resp.expect_status(201);
    let third = resp.json()["key"].as_str().unwrap().to_owned();
    // Within the overlap both work on every node (the overlap ends at least a second from now).
    key_works_everywhere(&nodes, 0, &second, &h.user_id);
    key_works_everywhere(&nodes, 1, &third, &h.user_id);
    // The old key shows the end of its overlap as its expiry, on every node.
    for node in &nodes {
        let resp = node
            .get(&format!("{KEYS}/{second_id}"))
            .bearer(&h.token)
            .send();
        resp.expect_status(200);
        assert!(resp.json()["expires_at"].is_string(), "{}", resp.text());
    }
    // Poll, alternating nodes, until the old key stops; from then on it stops everywhere.
    let deadline = Instant::now() + Duration::from_secs(overlap as u64 + 3);
    let mut turn = 0;
    loop {
        let resp = nodes[turn % 3].get(KEY_ME).bearer(&second).send();
        if resp.status == 401 {
            resp.expect_detail(401, json!(INVALID_KEY));
            break;
        }
        resp.expect_status(200);
        assert!(
            Instant::now() < deadline,
            "the old key outlived its overlap"
        );
        turn += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        now_secs() >= rolled_at + overlap,
        "the old key stopped before its overlap ended"
    );
    key_refused_everywhere(&nodes, turn + 1, &second);
    key_works_everywhere(&nodes, turn + 2, &third, &h.user_id);
}

// ---------------------------------------------------------------------------------------------
// Signing keys changed by the CLI next to running nodes
// ---------------------------------------------------------------------------------------------

/// Logs in on `node` until the token is signed by a key other than `old_kid`, for at most the
/// contract's 30 s; the token.
fn login_signed_by_a_key_other_than(node: &TestServer, old_kid: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let token = node.admin_token();
        if kid_of(&token) != old_kid {
            return token;
        }
        assert!(
            Instant::now() < deadline,
            "node {} still signs with {old_kid} 30 s after a rotation",
            node.addr
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[track_caller]
fn cli_ok(node: &TestServer, args: &[&str]) {
    let out = node.cli(args, None);
    assert!(
        out.status.success(),
        "{args:?}: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `secret rotate` on the shared database: every node signs with the new key (within the
/// contract's 30 s; here at once), a token signed by the new key on one node works on every
/// other at once, and tokens of the old key keep working. `secret retire` then ends the
/// retired key's tokens on every node at the next request.
#[test]
fn secret_rotate_and_retire_take_effect_on_every_node() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let first: Vec<String> = nodes.iter().map(TestServer::admin_token).collect();
    let first_kid = kid_of(&first[0]);
    for (i, token) in first.iter().enumerate() {
        assert_eq!(kid_of(token), first_kid);
        session_works_everywhere(&nodes, i, token, ADMIN_EMAIL);
    }

    // Two rotations in a row: the second comes while every node has just read the keys.
    let mut generations = vec![first.clone()];
    let mut kids = vec![first_kid.clone()];
    for round in 0..2 {
        cli_ok(&nodes[round % 3], &["secret", "rotate"]);
        let previous = kids.last().unwrap().clone();
        // One node signs with the new key first; the others, which have not read the keys
        // since the rotation, accept its token at once.
        let signer = (round + 1) % 3;
        let early = login_signed_by_a_key_other_than(&nodes[signer], &previous);
        session_works_everywhere(&nodes, signer + 1, &early, ADMIN_EMAIL);
        let tokens: Vec<String> = nodes
            .iter()
            .map(|node| login_signed_by_a_key_other_than(node, &previous))
            .collect();
        let kid = kid_of(&early);
        for (i, token) in tokens.iter().enumerate() {
            assert_eq!(kid_of(token), kid, "node {i} signs with another new key");
            session_works_everywhere(&nodes, i + 1, token, ADMIN_EMAIL);
        }
        for (i, token) in first.iter().enumerate() {
            session_works_everywhere(&nodes, i + 2, token, ADMIN_EMAIL);
        }
        generations.push(tokens);
        kids.push(kid);
    }

    cli_ok(&nodes[1], &["secret", "retire", "--kid", &first_kid]);
    for (i, token) in generations[0].iter().enumerate() {
        session_refused_everywhere(&nodes, i, token);
        nodes[i]
            .post(REFRESH)
            .bearer(token)
            .send()
            .expect_detail(401, json!("Unauthorized"));
    }
    for tokens in &generations[1..] {
        for (i, token) in tokens.iter().enumerate() {
            session_works_everywhere(&nodes, i + 1, token, ADMIN_EMAIL);
        }
    }

    cli_ok(&nodes[2], &["secret", "retire", "--all-but-current"]);
    for (i, token) in generations[1].iter().enumerate() {
        session_refused_everywhere(&nodes, i + 2, token);
    }
    for (i, token) in generations[2].iter().enumerate() {
        session_works_everywhere(&nodes, i, token, ADMIN_EMAIL);
    }
}

// ---------------------------------------------------------------------------------------------
// Usage written by every node
// ---------------------------------------------------------------------------------------------

/// The sum of `requests` and of `rejected` over the last two days of `key_id`'s usage (two, so
/// a run across midnight UTC still sees every count), read on `node`.
fn usage_totals(node: &TestServer, token: &str, key_id: &str) -> (i64, i64) {
    let resp = node
        .get(&format!("{KEYS}/{key_id}/usage?days=2"))
        .bearer(token)
        .send();
    resp.expect_status(200);
    let rows = resp.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    rows.iter().fold((0, 0), |(ok, rejected), row| {
        (
            ok + row["requests"].as_i64().unwrap(),
            rejected + row["rejected"].as_i64().unwrap(),
        )
    })
}

/// Unix seconds of an RFC 3339 `...Z` timestamp.
fn unix_of(text: &str) -> i64 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|err| panic!("{text:?}: {err}"))
        .unix_timestamp()
}

/// Deadlocks PostgreSQL has detected in the database of `node` so far (its statistics, which a
/// backend reports at the latest when its connection closes).
fn deadlocks(node: &TestServer) -> String {
    node.db()
        .texts(
            "SELECT CAST(deadlocks AS TEXT) FROM pg_stat_database \
             WHERE datname = current_database()",
        )
        .concat()
}

/// Requests by forty keys, from concurrent clients of all three nodes, add up exactly in the
/// usage route: accepted and rejected, none lost and none counted twice, whether a node
/// flushed them while running or on a graceful stop at the same moment as another node.
/// `last_used_at` is the time of a use. Every flush writes the rows of all the keys, each
/// node's in an order of its own making, and two nodes stop (and flush) at once: no flush
/// ever deadlocks with another.
#[test]
fn usage_counted_by_every_node_adds_up_exactly() {
    let Some(mut nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let h = holder(&nodes, &admin, "usage@example.com");
    // Enough keys that flushes are long and overlap: before flushes wrote in one order, this
    // many made PostgreSQL abort a few of them as deadlocks in every run.
    const KEYS_USED: usize = 40;
    let mut keys = vec![(h.key_id.clone(), h.key.clone())];
    for k in 1..KEYS_USED {
        keys.push(create_key(
            &nodes[k % 3],
            &h.token,
            &h.project_id,
            &format!("key {k}"),
        ));
    }
    const ROUNDS: usize = 4;
    const CLIENTS_PER_NODE: usize = 3;
    // Per client, per key and round: requests accepted, then one refused (403).
    const ACCEPTED_PER_USE: i64 = 2;
    const REJECTED_PER_USE: i64 = 1;
    let clients = (nodes.len() * CLIENTS_PER_NODE) as i64;
    let started = now_secs();
    for round in 0..ROUNDS {
        // All clients released together, each going through the keys from another one.
        let barrier = Barrier::new(clients as usize);
        std::thread::scope(|scope| {
            for c in 0..clients as usize {
                let (node, keys, barrier) = (&nodes[c % 3], &keys, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    for k in 0..keys.len() {
                        let raw = &keys[(k + c) % keys.len()].1;
                        for _ in 0..ACCEPTED_PER_USE {
                            node.get(KEY_ME).bearer(raw).send().expect_status(200);
                        }
                        for _ in 0..REJECTED_PER_USE {
                            node.get(TEAMS)
                                .bearer(raw)
                                .send()
                                .expect_detail(403, json!(KEYS_CANNOT));
                        }
                    }
                });
            }
        });
        if round == 0 {
            // Written by the nodes' own flushes, within the contract's 2 s.
            let per_key = (ACCEPTED_PER_USE * clients, REJECTED_PER_USE * clients);
            let deadline = Instant::now() + Duration::from_secs(5);
            for (k, (id, _)) in keys.iter().enumerate() {
                loop {
                    let totals = usage_totals(&nodes[k % 3], &h.token, id);
                    if totals == per_key {
                        break;
                    }
                    assert!(
                        totals.0 <= per_key.0 && totals.1 <= per_key.1,
                        "key {k} counted more than it was used: {totals:?}, {per_key:?}"
                    );
                    assert!(
                        Instant::now() < deadline,
                        "key {k}: {totals:?} of {per_key:?} after 5 s"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
    let ended = now_secs();

    // Stop two nodes at once, each flushing what it still holds on the way out, while the
    // third keeps flushing on its own.
    std::thread::scope(|scope| {
        for node in nodes[1..].iter_mut() {
            scope.spawn(move || assert!(node.terminate().success()));
        }
    });
    let expected = (
        ACCEPTED_PER_USE * clients * ROUNDS as i64,
        REJECTED_PER_USE * clients * ROUNDS as i64,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    for (k, (id, _)) in keys.iter().enumerate() {
        loop {
            let totals = usage_totals(&nodes[0], &h.token, id);
            if totals == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "key {k}: {totals:?} of {expected:?} after 5 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Nothing arrives late and nothing twice: once the last node has stopped too, flushing
    // what it held, a node started afresh reads the same counts.
    assert!(nodes[0].terminate().success());
    let reader = nodes[0].another_node();
    for (k, (id, _)) in keys.iter().enumerate() {
        assert_eq!(
            usage_totals(&reader, &h.token, id),
            expected,
            "key {k} after more flushes"
        );
        let resp = reader.get(&format!("{KEYS}/{id}")).bearer(&h.token).send();
        resp.expect_status(200);
        let last_used = unix_of(resp.json()["last_used_at"].as_str().unwrap());
        assert!(
            (started..=ended).contains(&last_used),
            "key {k}: last_used_at {last_used} outside {started}..={ended}"
        );
    }
    // The stopped nodes' connections are closed, so their statistics are in.
    assert_eq!(deadlocks(&reader), "0");
}

// ---------------------------------------------------------------------------------------------
// Invariants under concurrent requests to different nodes
// ---------------------------------------------------------------------------------------------

/// Sends each request from its own thread, all released together; the answers in order.
fn together(requests: Vec<Req<'_>>) -> Vec<Resp> {
    let barrier = Barrier::new(requests.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = requests
            .into_iter()
            .map(|req| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    req.send()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// The owners of `team_id`, as `node` lists the members.
fn owners(node: &TestServer, token: &str, team_id: &str) -> Vec<String> {
    let resp = node
        .get(&format!("{TEAMS}/{team_id}/members"))
        .bearer(token)
        .send();
    resp.expect_status(200);
    resp.json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == json!("owner"))
        .map(|m| m["user_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Two owners demote each other, or each themself, at the same moment through two different
/// nodes, many times over: the team never ends without an owner. Exactly one request wins;
/// the other gets the answer it would get had it come second: demoting the other, 403 (its
/// sender is no longer an owner); demoting oneself, 400 (the last owner).
#[test]
fn two_owners_demoting_each_other_on_two_nodes_never_leave_the_team_without_an_owner() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let a = holder(&nodes, &admin, "owner-a@example.com");
    let (b_id, b_token) = nodes[1].create_user(&admin, "owner-b@example.com", PASSWORD);
    let team = &a.team_id;
    nodes[2]
        .post(&format!("{TEAMS}/{team}/members"))
        .bearer(&a.token)
        .json(&json!({"email": "owner-b@example.com", "role": "admin"}))
        .send()
        .expect_status(201);
    let member_path = |user: &str| format!("{TEAMS}/{team}/members/{user}");
    let promote = |node: &TestServer, by: &str, user: &str| {
        let resp = node
            .patch(&member_path(user))
            .bearer(by)
            .json(&json!({"role": "owner"}))
            .send();
        resp.expect_status(200);
        assert_eq!(resp.json()["role"], json!("owner"));
    };
    promote(&nodes[0], &a.token, &b_id);
    let people = [
        (a.user_id.as_str(), a.token.as_str()),
        (b_id.as_str(), b_token.as_str()),
    ];

    for round in 0..16 {
        let (first, second) = (&nodes[round % 3], &nodes[(round + 1) % 3]);
        let each_other = round % 2 == 0;
        // Request i is sent by person i; it demotes the other person, or person i.
        let target = |i: usize| {
            if each_other {
                people[1 - i].0
            } else {
                people[i].0
            }
        };
        let answers = together(
            [first, second]
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    node.patch(&member_path(target(i)))
                        .bearer(people[i].1)
                        .json(&json!({"role": "admin"}))
                })
                .collect(),
        );
        let won: Vec<usize> = (0..2).filter(|&i| answers[i].status == 200).collect();
        assert_eq!(
            won.len(),
            1,
            "round {round}: {:?}",
            answers.iter().map(Resp::text).collect::<Vec<_>>()
        );
        let (winner, loser) = (won[0], 1 - won[0]);
        assert_eq!(answers[winner].json()["role"], json!("admin"));
        if each_other {
            answers[loser].expect_detail(403, json!(OWNERS_ONLY));
        } else {
            answers[loser].expect_detail(400, json!(LAST_OWNER));
        }
        // The one owner left: the winner when they demoted the other, else the loser.
        let left = if each_other { winner } else { loser };
        for (n, node) in nodes.iter().enumerate() {
            assert_eq!(
                owners(node, people[left].1, team),
                vec![people[left].0.to_owned()],
                "round {round}, node {n}"
            );
        }
        promote(&nodes[(round + 2) % 3], people[left].1, people[1 - left].0);
    }
}

/// Concurrent creates of one team slug, and of one project slug, through all three nodes:
/// exactly one 201 each, every other 409, and one row.
#[test]
fn a_slug_is_never_given_twice_by_concurrent_creates_on_different_nodes() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let admin = nodes[0].admin_token();
    let a = holder(&nodes, &admin, "slugs-a@example.com");
    let b = holder(&nodes, &admin, "slugs-b@example.com");
    let tokens = [&admin, &a.token, &b.token];
    const PER_NODE: usize = 2;
    let mut db = nodes[0].db();
    for round in 0..6 {
        let team_slug = format!("contested-team-{round}");
        let answers = together(
            (0..nodes.len() * PER_NODE)
                .map(|i| {
                    nodes[i % 3]
                        .post(TEAMS)
                        .bearer(tokens[i % 3])
                        .json(&json!({"name": "Contested", "slug": team_slug}))
                })
                .collect(),
        );
        expect_one_created(&answers, "A team with this slug already exists.", round);
        let rows = db.texts(&format!("SELECT id FROM teams WHERE slug = '{team_slug}'"));
        assert_eq!(rows.len(), 1, "round {round}");

        // Project slugs are unique across the server: two teams race for one.
        let project_slug = format!("contested-project-{round}");
        let answers = together(
            (0..nodes.len() * PER_NODE)
                .map(|i| {
                    let owner = if i % 2 == 0 { &a } else { &b };
                    nodes[(i + round) % 3]
                        .post(&format!("{TEAMS}/{}/projects", owner.team_id))
                        .bearer(&owner.token)
                        .json(&json!({"name": "Contested", "slug": project_slug}))
                })
                .collect(),
        );
        expect_one_created(&answers, "A project with this slug already exists.", round);
        let rows = db.texts(&format!(
            "SELECT id FROM projects WHERE slug = '{project_slug}'"
        ));
        assert_eq!(rows.len(), 1, "round {round}");
    }
    // Slugs derived from one name at once are all different (`x`, `x-2`, ...).
    let answers = together(
        (0..nodes.len() * PER_NODE)
            .map(|i| {
                nodes[i % 3]
                    .post(TEAMS)
                    .bearer(tokens[i % 3])
                    .json(&json!({"name": "Same Name"}))
            })
            .collect(),
    );
    let mut slugs: Vec<String> = answers
        .iter()
        .map(|resp| {
            resp.expect_status(201);
            resp.json()["slug"].as_str().unwrap().to_owned()
        })
        .collect();
    slugs.sort();
    let count = slugs.len();
    slugs.dedup();
    assert_eq!(slugs.len(), count, "{slugs:?}");
}

#[track_caller]
fn expect_one_created(answers: &[Resp], conflict: &str, round: usize) {
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "round {round}: {:?}",
        answers
            .iter()
            .map(|r| (r.status, r.text()))
            .collect::<Vec<_>>()
    );
    for resp in answers.iter().filter(|r| r.status != 201) {
        resp.expect_detail(409, json!(conflict));
    }
}

/// Concurrent refreshes of one token through all three nodes issue one new generation: each
/// answer is a token of that one generation (the loser of the race presents the generation
/// just replaced, within the reuse window, and gets a token of the current one), the session
/// is not ended, and the presented token stops on every node. Repeated from each new token.
#[test]
fn a_refresh_generation_is_never_issued_twice_by_concurrent_refreshes_on_different_nodes() {
    let Some(nodes) = start_nodes(3, Options::default) else {
        return;
    };
    let mut token = nodes[0].admin_token();
    let sid = token_part(&token, 1)["sid"].as_str().unwrap().to_owned();
    let mut db = nodes[0].db();
    const PER_NODE: usize = 2;
    for generation in 1..=5 {
        let answers = together(
            (0..nodes.len() * PER_NODE)
                .map(|i| nodes[(i + generation) % 3].post(REFRESH).bearer(&token))
                .collect(),
        );
        let issued: Vec<String> = answers.iter().map(access_token).collect();
        for fresh in &issued {
            let claims = token_part(fresh, 1);
            assert_eq!(claims["sid"], json!(sid));
            assert_eq!(claims["gen"], json!(generation), "{claims}");
        }
        let stored = db.texts(&format!(
            "SELECT CAST(generation AS TEXT) FROM sessions WHERE id = '{sid}'"
        ));
        assert_eq!(stored, vec![generation.to_string()]);
        session_refused_everywhere(&nodes, generation, &token);
        for (i, fresh) in issued.iter().enumerate() {
            session_works_everywhere(&nodes, i, fresh, ADMIN_EMAIL);
        }
        token = issued[generation % issued.len()].clone();
    }
    let reuse = db.texts("SELECT id FROM audit_events WHERE action = 'session.reuse_detected'");
    assert!(reuse.is_empty(), "{reuse:?}");
}
