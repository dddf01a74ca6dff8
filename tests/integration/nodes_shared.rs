//! State that used to live in each process, now shared by several nodes on one PostgreSQL
//! database (`scale-out.md`): rate limits, the first-start setup link, the start-up race for
//! the first administrator, and a node that loses the database and gets it back. Each test
//! skips on SQLite, where one file has one server.

use crate::fixture::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn with_env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn() -> Options + 'a {
    move || {
        let mut options = Options::default();
        for (key, value) in pairs {
            options = options.env(key, value);
        }
        options
    }
}

fn header_num(resp: &Resp, name: &str) -> i64 {
    resp.header(name)
        .unwrap_or_else(|| panic!("{name} missing: {:?}", resp.headers))
        .parse()
        .unwrap()
}

fn bad_login(node: &TestServer, email: &str) -> Resp {
    node.post("/api/internal/auth/jwt/login")
        .form(&[("username", email), ("password", "wrong-password")])
        .send()
}

/// The first column of the first row of `sql` (cast to text in the SQL) as a number.
fn count(node: &TestServer, sql: &str) -> i64 {
    node.db().texts(sql)[0].parse().unwrap()
}

#[test]
fn login_limits_are_exact_across_nodes_with_the_shared_budget_in_the_headers() {
    let env = [
        ("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "6"),
        ("SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE", "0"),
    ];
    let Some(nodes) = start_nodes(3, with_env(&env)) else {
        return;
    };
    // Six attempts from one address, spread over the nodes: the budget counts down once.
    for (i, remaining) in (0..6).rev().enumerate() {
        let resp = bad_login(&nodes[i % 3], "nobody@example.com");
        resp.expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
        assert_eq!(header_num(&resp, "X-RateLimit-Limit"), 6);
        assert_eq!(header_num(&resp, "X-RateLimit-Remaining"), remaining);
    }
    // The seventh is refused on every node, the right password included.
    for node in &nodes {
        let resp = node
            .post("/api/internal/auth/jwt/login")
            .form(&[("username", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
            .send();
        resp.expect_status(429);
        assert_eq!(resp.header("Retry-After"), Some("10"));
        assert_eq!(header_num(&resp, "X-RateLimit-Remaining"), 0);
    }
    // The buckets are stored as hashes, never the address itself.
    let clients = nodes[0]
        .db()
        .texts("SELECT client_hash FROM rate_limit_buckets WHERE class = 'login_ip'");
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].len(), 64);
    assert!(!clients[0].contains("127.0.0.1"));
}

#[test]
fn the_login_limit_per_email_is_exact_across_nodes() {
    let env = [
        ("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "0"),
        ("SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE", "4"),
    ];
    let Some(nodes) = start_nodes(3, with_env(&env)) else {
        return;
    };
    let statuses: Vec<u16> = (0..9)
        .map(|i| bad_login(&nodes[i % 3], "Victim@Example.com").status)
        .collect();
    assert_eq!(statuses, [400, 400, 400, 400, 429, 429, 429, 429, 429]);
    bad_login(&nodes[1], "someone-else@example.com").expect_status(400);
}

#[test]
fn the_refresh_limit_is_exact_across_nodes() {
    let env = [("SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE", "3")];
    let Some(nodes) = start_nodes(3, with_env(&env)) else {
        return;
    };
    let mut token = nodes[0].admin_token();
    for i in 0..3 {
        let resp = nodes[i % 3]
            .post("/api/internal/auth/jwt/refresh")
            .bearer(&token)
            .send();
        resp.expect_status(200);
        assert_eq!(header_num(&resp, "X-RateLimit-Remaining"), 2 - i as i64);
        token = resp.json()["access_token"].as_str().unwrap().to_string();
    }
    for node in &nodes {
        node.post("/api/internal/auth/jwt/refresh")
            .bearer(&token)
            .send()
            .expect_status(429);
    }
}

#[test]
fn authenticated_and_public_limits_hold_across_nodes_within_the_documented_tolerance() {
    // 20 per minute: one every 3 s, and a node admits ceil(20 / 20) = 1 between syncs alone.
    let env = [
        ("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "20"),
        ("SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE", "20"),
    ];
    let Some(nodes) = start_nodes(3, with_env(&env)) else {
        return;
    };
    let token = nodes[0].admin_token();
    // A second user, for a budget of its own below (this spends one of the admin's 20).
    let (_, second) = nodes[0].create_user(&token, "second@example.com", "seconds-password");
    let tolerance = 3;
    for (path, bearer) in [
        ("/api/internal/users/me", Some(token.as_str())),
        ("/api/v1/changelogs", None),
    ] {
        let started = Instant::now();
        let mut admitted = 0;
        for i in 0..90 {
            let mut req = nodes[i % 3].get(path);
            if let Some(token) = bearer {
                req = req.bearer(token);
            }
            let resp = req.send();
            match resp.status {
                200 => admitted += 1,
                429 => assert!(header_num(&resp, "Retry-After") >= 1),
                other => panic!("{path}: unexpected {other}: {}", resp.text()),
            }
        }
        // What one exact bucket admits in the time taken, plus the per-node allowance.
        let refilled = started.elapsed().as_millis() as i64 / 3_000;
        let budget = if bearer.is_some() { 19 } else { 20 };
        assert!(
            (budget..=budget + refilled + tolerance).contains(&admitted),
            "{path}: {admitted} of 90 admitted by 3 nodes for a limit of 20 per minute"
        );
    }
    // Another user's budget: what node 0 admits reaches the others' headers within a sync.
    let remaining = |node: &TestServer| {
        let resp = node.get("/api/internal/users/me").bearer(&second).send();
        resp.expect_status(200);
        header_num(&resp, "X-RateLimit-Remaining")
    };
    let spent_on_0: Vec<i64> = (0..5).map(|_| remaining(&nodes[0])).collect();
    assert_eq!(spent_on_0, [19, 18, 17, 16, 15]);
    std::thread::sleep(Duration::from_millis(600));
    // (One more may have refilled meanwhile: one every 3 s.)
    let on_1 = remaining(&nodes[1]);
    assert!((14..=15).contains(&on_1), "{on_1}");
    let on_2 = remaining(&nodes[2]);
    assert!((13..=14).contains(&on_2) && on_2 < on_1 + 1, "{on_2}");
}

/// The setup token of a node's setup URL, and the path to open it.
fn setup_link(node: &TestServer) -> (String, String) {
    let url = node.setup_url();
    let path = url[url.find("/setup").unwrap()..].to_string();
    let token = path.strip_prefix("/setup?token=").unwrap().to_string();
    (path, token)
}

#[test]
fn the_setup_link_of_any_node_works_on_any_node_once() {
    let no_admin = || Options {
        with_admin: false,
        ..Options::default()
    };
    let Some(nodes) = start_nodes(3, no_admin) else {
        return;
    };
    let links: Vec<(String, String)> = nodes.iter().map(setup_link).collect();
    // Three links, stored as three hashes, none of them the token itself.
    let stored = nodes[0].db().texts("SELECT token_hash FROM setup_tokens");
    assert_eq!(stored.len(), 3);
    for (_, token) in &links {
        assert!(!stored.contains(token));
    }
    // Each node's link opens the form on every node.
    for (path, _) in &links {
        for node in &nodes {
            node.get(path).send().expect_status(200);
        }
    }
    // Node 2's link, used on node 1, creates the administrator.
    nodes[1]
        .post("/setup")
        .form(&[
            ("token", &links[2].1),
            ("email", "owner@example.com"),
            ("password", "owners-password"),
        ])
        .send()
        .expect_status(201);
    // Every link is dead now on every node, node 2's own included.
    for (path, token) in &links {
        for node in &nodes {
            node.get(path).send().expect_status(404);
            node.post("/setup")
                .form(&[
                    ("token", token),
                    ("email", "second@example.com"),
                    ("password", "seconds-password"),
                ])
                .send()
                .expect_status(404);
        }
    }
    assert_eq!(
        count(&nodes[0], "SELECT count(*)::text FROM setup_tokens"),
        0
    );
    assert_eq!(count(&nodes[0], "SELECT count(*)::text FROM users"), 1);
    nodes[2].login("owner@example.com", "owners-password");
}

#[test]
fn a_setup_link_spent_on_one_node_is_dead_on_the_node_that_printed_it() {
    let no_admin = || Options {
        with_admin: false,
        ..Options::default()
    };
    let Some(nodes) = start_nodes(2, no_admin) else {
        return;
    };
    let (path, token) = setup_link(&nodes[0]);
    nodes[0].get(&path).send().expect_status(200);
    // Spent through the other node.
    nodes[1]
        .post("/setup")
        .form(&[
            ("token", token.as_str()),
            ("email", "owner@example.com"),
            ("password", "owners-password"),
        ])
        .send()
        .expect_status(201);
    // The node that printed it still holds the token in memory, and refuses it.
    nodes[0]
        .post("/setup")
        .form(&[
            ("token", token.as_str()),
            ("email", "late@example.com"),
            ("password", "lates-password"),
        ])
        .send()
        .expect_status(404);
    assert_eq!(count(&nodes[0], "SELECT count(*)::text FROM users"), 1);
}

/// `count` servers on one fresh PostgreSQL database, all started at the same moment.
fn start_nodes_together(count: usize, options: fn() -> Options) -> Option<Vec<TestServer>> {
    if !on_postgres() {
        eprintln!("skipped on SQLite: several nodes share one PostgreSQL database");
        return None;
    }
    let url = std::sync::Arc::new(fresh_postgres_database());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(count));
    let starting: Vec<_> = (0..count)
        .map(|_| {
            let (barrier, url) = (std::sync::Arc::clone(&barrier), std::sync::Arc::clone(&url));
            std::thread::spawn(move || {
                barrier.wait();
                start_on(&url, options())
            })
        })
        .collect();
    Some(starting.into_iter().map(|t| t.join().unwrap()).collect())
}

#[test]
fn nodes_starting_together_on_an_empty_database_make_one_administrator_team_project_and_key() {
    for _ in 0..3 {
        let Some(nodes) = start_nodes_together(3, Options::default) else {
            return;
        };
        for node in &nodes {
            node.get("/api/v1/health").send().expect_status(200);
            node.login(ADMIN_EMAIL, ADMIN_PASSWORD);
        }
        let node = &nodes[0];
        assert_eq!(count(node, "SELECT count(*)::text FROM users"), 1);
        assert_eq!(
            count(
                node,
                "SELECT count(*)::text FROM teams WHERE slug = 'default'"
            ),
            1
        );
        assert_eq!(count(node, "SELECT count(*)::text FROM teams"), 1);
        assert_eq!(count(node, "SELECT count(*)::text FROM projects"), 1);
        assert_eq!(
            count(
                node,
                "SELECT count(*)::text FROM signing_keys WHERE is_configured = 0"
            ),
            1
        );
        assert_eq!(
            count(
                node,
                "SELECT count(*)::text FROM audit_events WHERE action = 'user.created'"
            ),
            1
        );
        // A token from one node works on the others: they all use the one key.
        let token = nodes[1].login(ADMIN_EMAIL, ADMIN_PASSWORD);
        for node in &nodes {
            node.get("/api/internal/users/me")
                .bearer(&token)
                .send()
                .expect_status(200);
        }
    }
}

/// A throwaway PostgreSQL cluster of this test's own, on a free port, run as `postgres`.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    /// A new cluster, started; `None` (said on stderr) when one cannot be made here.
    fn start() -> Option<Cluster> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = temp_dir().join("cluster");
        std::fs::create_dir_all(&dir).unwrap();
        let owned = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.parent().unwrap())
            .status();
        let initdb = Command::new("runuser")
            .args([
                "-u", "postgres", "--", "initdb", "-A", "trust", "-U", "postgres", "-D",
            ])
            .arg(dir.join("data"))
            .output();
        match (owned, initdb) {
            (Ok(owned), Ok(out)) if owned.success() && out.status.success() => {}
            (_, out) => {
                eprintln!("skipped: cannot make a PostgreSQL cluster here: {out:?}");
                return None;
            }
        }
        let cluster = Cluster { dir, port };
        cluster.pg_ctl("start");
        Some(cluster)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", "pg_ctl", "-D"])
            .arg(self.dir.join("data"))
            .args(["-l"])
            .arg(self.dir.join("log"))
            .args(["-w", "-o", &options]);
        match action {
            "stop" => cmd.args(["-m", "fast", "stop"]),
            other => cmd.arg(other),
        };
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {action}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", "pg_ctl", "-D"])
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(self.dir.parent().unwrap_or(Path::new(&self.dir)));
    }
}

/// Polls `check` every 100 ms for up to 15 s; the time it took to hold.
fn within_15s(what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{what} did not happen within 15 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

#[test]
fn a_node_that_loses_the_database_answers_503_and_recovers_by_itself() {
    if !on_postgres() {
        eprintln!("skipped on SQLite: losing a database server is PostgreSQL's");
        return;
    }
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let node = start_on(&cluster.url(), Options::default());
    let token = node.admin_token();
    let me = |node: &TestServer| {
        node.get("/api/internal/users/me")
            .bearer(&token)
            .send()
            .status
    };
    assert_eq!(me(&node), 200);

    cluster.pg_ctl("stop");
    within_15s("health saying the database is unavailable", || {
        let resp = node.get("/api/v1/health").send();
        resp.status == 503 && resp.json()["database"] == json!("unavailable")
    });
    let health = node.get("/api/v1/health").send();
    health.expect_status(503);
    assert_eq!(health.json()["status"], json!("unavailable"));
    let started = Instant::now();
    let resp = node.get("/api/internal/users/me").bearer(&token).send();
    resp.expect_status(503);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "a request waited {:?} for a database that is away",
        started.elapsed()
    );

    cluster.pg_ctl("start");
    within_15s("health recovering", || {
        node.get("/api/v1/health").send().status == 200
    });
    within_15s("an authenticated request recovering", || me(&node) == 200);
    assert_eq!(
        node.get("/api/v1/health").send().json()["database"],
        json!("ok")
    );
}
