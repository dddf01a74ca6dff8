//! Integration tests: `shipstar copy --to DATABASE` (scale-out.md, "Moving between backends";
//! operations.md, "CLI").
//!
//! A server is filled through its API and the seed command, stopped, and copied: into a new
//! SQLite file, and when the suite has a PostgreSQL cluster, from that file into PostgreSQL
//! and back into another SQLite file. A server started on every copy must take the same
//! password, the same session token, the same API key, and show the same content and usage.

use crate::fixture::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The key `tests/examples/seed.toml` gives dev@example.com.
const SEED_KEY: &str = "sk_live_cel5QZx0BEZZN6iZPbyXEK75YjPdINSK25FDmg";
const DEV_EMAIL: &str = "dev@example.com";
const DEV_PASSWORD: &str = "dev-password-for-tests";
/// Every table the copy prints, in its fixed order.
const TABLES: [&str; 12] = [
    "users",
    "teams",
    "team_members",
    "projects",
    "api_keys",
    "sessions",
    "signing_keys",
    "content",
    "api_key_usage",
    "audit_events",
    "api_key_ips",
    "api_key_user_agents",
];

/// `shipstar --database FROM copy --to TO`, run in `dir` with nothing else in its environment.
fn copy(dir: &Path, from: &str, to: &str) -> Output {
    Command::new(binary())
        .args(["--database", from, "copy", "--to", to])
        .current_dir(dir)
        .env_clear()
        .output()
        .expect("run shipstar copy")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The rows per table of a successful copy's output, checking its shape: one line per table
/// in the fixed order, the name padded to 20 columns and the count to 10, then the total.
fn copied_rows(out: &Output, what: &str) -> Vec<(String, u64)> {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "", "{what}: nothing on stderr");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), TABLES.len() + 1, "{what}:\n{stdout}");
    let rows: Vec<(String, u64)> = lines
        .iter()
        .map(|line| {
            assert_eq!(line.len(), 30, "{what}: {line:?}");
            let (name, count) = line.split_at(20);
            (
                name.trim_end().to_owned(),
                count.trim_start().parse().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
    let mut expected = TABLES.to_vec();
    expected.push("total");
    assert_eq!(names, expected, "{what}");
    let sum: u64 = rows[..TABLES.len()].iter().map(|(_, n)| n).sum();
    assert_eq!(rows[TABLES.len()].1, sum, "{what}: the total adds up");
    rows
}

/// Row count of `table`, as the database holds it.
fn count(database: &str, table: &str) -> u64 {
    TestDb::open(database).texts(&format!("SELECT CAST(count(*) AS TEXT) FROM {table}"))[0]
        .parse()
        .unwrap()
}

/// What the source served before it stopped, to be served the same by every copy.
struct Served {
    /// dev@example.com's access token, issued by the source.
    token: String,
    key_id: String,
    project_id: String,
    usage: Value,
    changelog: Value,
    changelogs: Value,
    total_count: Option<String>,
}

/// Fills a server (seed, a login, three uses of the seeded key), reads what it serves, and
/// stops it so every count is written.
fn fill_and_stop(server: &mut TestServer) -> Served {
    let seed = repo_path("tests/examples/seed.toml");
    let out = server.cli(&["seed", seed.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = server.login(DEV_EMAIL, DEV_PASSWORD);
    for _ in 0..3 {
        server
            .get("/api/v1/me")
            .bearer(SEED_KEY)
            .header("User-Agent", "copy-test/1")
            .send()
            .expect_status(200);
    }
    let projects = server.get("/api/internal/projects").bearer(&token).send();
    projects.expect_status(200);
    let project_id = projects.json()[0]["id"].as_str().unwrap().to_owned();
    let keys = server
        .get(&format!("/api/internal/projects/{project_id}/api-keys"))
        .bearer(&token)
        .send();
    keys.expect_status(200);
    let key_id = keys.json()[0]["id"].as_str().unwrap().to_owned();
    // Usage is counted in memory and written within seconds: wait until the three are in.
    let deadline = Instant::now() + Duration::from_secs(10);
    let usage = loop {
        let resp = server
            .get(&format!("/api/internal/api-keys/{key_id}/usage?days=1"))
            .bearer(&token)
            .send();
        resp.expect_status(200);
        let usage = resp.json();
        if usage[0]["requests"] == json!(3) || Instant::now() >= deadline {
            break usage;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(usage[0]["requests"], json!(3), "{usage}");
    let changelog = server.get("/api/v1/changelog/release-1-0").send();
    changelog.expect_status(200);
    let changelogs = server.get("/api/v1/changelogs").send();
    changelogs.expect_status(200);
    let served = Served {
        token,
        key_id,
        project_id,
        usage,
        changelog: changelog.json(),
        changelogs: changelogs.json(),
        total_count: changelogs.header("X-Total-Count").map(str::to_owned),
    };
    assert!(server.terminate().success());
    served
}

/// Starts a server on `database` and checks every credential and answer of `before` there.
fn assert_serves_the_same(database: &str, before: &Served, what: &str) {
    let dir = temp_dir();
    std::fs::write(dir.join("database.url"), database).unwrap();
    let server = TestServer::start_in(dir, Options::default());

    // Usage first: the requests below are counted too.
    let usage = server
        .get(&format!(
            "/api/internal/api-keys/{}/usage?days=1",
            before.key_id
        ))
        .bearer(&before.token)
        .send();
    usage.expect_status(200);
    assert_eq!(usage.json(), before.usage, "{what}: usage");

    // The session token issued by the source works, and refreshes.
    let me = server
        .get("/api/internal/users/me")
        .bearer(&before.token)
        .send();
    me.expect_status(200);
    assert_eq!(me.json()["email"], json!(DEV_EMAIL), "{what}");
    let refreshed = server
        .post("/api/internal/auth/jwt/refresh")
        .bearer(&before.token)
        .send();
    refreshed.expect_status(200);
    let token = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    server
        .get("/api/internal/users/me")
        .bearer(&token)
        .send()
        .expect_status(200);

    // The password, and a wrong one.
    server.login(DEV_EMAIL, DEV_PASSWORD);
    server
        .post("/api/internal/auth/jwt/login")
        .form(&[("username", DEV_EMAIL), ("password", "not-the-password")])
        .send()
        .expect_status(400);
    server.admin_token();

    // The API key.
    let me = server.get("/api/v1/me").bearer(SEED_KEY).send();
    me.expect_status(200);
    assert_eq!(me.json()["email"], json!(DEV_EMAIL), "{what}");

    // Content, and the published count kept by the target's triggers.
    let changelog = server.get("/api/v1/changelog/release-1-0").send();
    changelog.expect_status(200);
    assert_eq!(changelog.json(), before.changelog, "{what}");
    let changelogs = server.get("/api/v1/changelogs").send();
    changelogs.expect_status(200);
    assert_eq!(changelogs.json(), before.changelogs, "{what}");
    assert_eq!(
        changelogs.header("X-Total-Count").map(str::to_owned),
        before.total_count,
        "{what}"
    );

    // The copy takes new writes: a new key, and its audit event after the copied ones.
    server
        .post(&format!(
            "/api/internal/projects/{}/api-keys",
            before.project_id
        ))
        .bearer(&token)
        .json(&json!({"name": "after the copy"}))
        .send()
        .expect_status(201);
}

#[test]
fn copy_moves_every_credential_and_row_between_backends_and_refuses_a_target_with_data() {
    let mut server = TestServer::start();
    let before = fill_and_stop(&mut server);
    let source = server.database();

    // Into a new SQLite file (from PostgreSQL when the suite runs there).
    let first_dir = temp_dir();
    let first = first_dir.join("copy.db").display().to_string();
    let rows = copied_rows(&copy(&first_dir, &source, &first), "copy into SQLite");
    let of = |table: &str| rows.iter().find(|(name, _)| name == table).unwrap().1;
    assert_eq!(of("users"), 3, "admin, dev and reader");
    assert_eq!(of("teams"), 2, "default and acme");
    assert_eq!(of("projects"), 2);
    assert_eq!(of("api_keys"), 1);
    assert_eq!(of("content"), 2, "a published changelog and a draft");
    assert_eq!(of("signing_keys"), 1);
    assert_eq!(of("api_key_usage"), 1);
    assert_eq!(of("sessions"), 1, "dev's login");
    assert_eq!(of("api_key_ips"), 1);
    assert_eq!(of("api_key_user_agents"), 1);
    assert!(of("audit_events") >= 8, "{rows:?}");
    for table in TABLES {
        assert_eq!(count(&first, table), of(table), "{table} in the copy");
    }

    // A target that holds data is refused, and nothing is written to it.
    let users = count(&first, "users");
    let events = count(&first, "audit_events");
    let out = copy(&first_dir, &source, &first);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("already holds data (table users has rows)"),
        "{err}"
    );
    assert_eq!(count(&first, "users"), users);
    assert_eq!(count(&first, "audit_events"), events);

    let mut copies = vec![(first.clone(), "the SQLite copy".to_owned())];
    if on_postgres() {
        // On to PostgreSQL, and back into another new SQLite file: the same rows each way.
        let postgres = fresh_postgres_database();
        let again = copied_rows(&copy(&first_dir, &first, &postgres), "copy into PostgreSQL");
        assert_eq!(again, rows);
        let refused = copy(&first_dir, &first, &postgres);
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
        let back = first_dir.join("back.db").display().to_string();
        let back_rows = copied_rows(&copy(&first_dir, &postgres, &back), "copy back");
        assert_eq!(back_rows, rows);
        copies.push((postgres, "the PostgreSQL copy".to_owned()));
        copies.push((back, "the copy back into SQLite".to_owned()));
    } else {
        eprintln!("the PostgreSQL legs of the copy test need SHIPSTAR_TEST_POSTGRES");
    }
    for (database, what) in &copies {
        assert_serves_the_same(database, &before, what);
    }
    let _ = std::fs::remove_dir_all(&first_dir);
}

#[test]
fn copy_never_shows_a_database_password() {
    let server = TestServer::start();
    let dir = temp_dir();
    // Nothing listens on port 1: the connection fails, and the error names the target.
    let target = "postgres://shipstar:pa55-w0rd-secret@127.0.0.1:1/shipstar";
    let out = copy(&dir, &server.database(), target);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("pa55-w0rd-secret"), "{err}");
    assert!(
        err.contains("postgres://shipstar:***@127.0.0.1:1/shipstar"),
        "{err}"
    );
    assert_eq!(text(&out.stdout), "");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn copy_from_a_database_that_does_not_exist_is_refused_and_creates_nothing() {
    let dir = temp_dir();
    let missing = dir.join("missing.db").display().to_string();
    let target = dir.join("target.db");
    let out = copy(&dir, &missing, target.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("does not exist"));
    assert!(!Path::new(&missing).exists());
    assert!(!target.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
