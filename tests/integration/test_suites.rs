//! Integration tests: shipstar inside other projects' test suites, and finding the database.
//!
//! Contract: `operations.md` ("Inside other projects' test suites": `serve --ephemeral`, port
//! 0, `--seed FILE`, `shipstar seed FILE`, the ready line; "CLI": every command finds the
//! database as the server does, and all but `serve`, `migrate` and `copy` refuse a missing
//! one). The README's three examples (a shell script, a pytest fixture, a CI step) are run
//! here as they are written.

use crate::fixture::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const SEED_KEY: &str = "sk_live_cel5QZx0BEZZN6iZPbyXEK75YjPdINSK25FDmg";

/// The binary with only `PATH`, `TMPDIR` and `env` in its environment, in `dir`.
fn shipstar(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMPDIR", dir)
        .env("SHIPSTAR_ARGON2_MEMORY_KIB", "64")
        .env("SHIPSTAR_ARGON2_ITERATIONS", "1");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    shipstar(dir, args, env)
        .stdin(Stdio::null())
        .output()
        .expect("run shipstar")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A `serve` started with stdout piped; stderr goes to `log`.
struct Served {
    child: Child,
    stdout: BufReader<ChildStdout>,
    ready: Value,
    raw_ready: String,
    log: PathBuf,
}

impl Served {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Served {
        static NEXT_LOG: AtomicU32 = AtomicU32::new(0);
        let log = dir.join(format!(
            "serve-{}.log",
            NEXT_LOG.fetch_add(1, Ordering::SeqCst)
        ));
        let mut child = shipstar(dir, args, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start shipstar");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // read_line blocks until the server prints (or exits and closes stdout).
        stdout.read_line(&mut line).unwrap();
        assert!(
            line.ends_with('\n'),
            "no ready line; server log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|err| panic!("ready line is not JSON ({err}): {line:?}"));
        Served {
            child,
            stdout,
            ready,
            raw_ready: line,
            log,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        let url = self.ready["url"].as_str().unwrap();
        url.strip_prefix("http://").unwrap().parse().unwrap()
    }

    fn database(&self) -> PathBuf {
        PathBuf::from(self.ready["database"].as_str().unwrap())
    }

    /// The log once it contains `needle`, or as it is after 5 s (a thread of the server's own
    /// writes it, so a line can lag behind the ready line).
    fn log_once_it_has(&self, needle: &str) -> String {
        text_once_it_has(&self.log, needle)
    }

    fn get(&self, path: &str, token: Option<&str>) -> Resp {
        let mut raw = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        if let Some(token) = token {
            raw.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        raw.push_str("\r\n");
        send_raw(self.addr(), raw.as_bytes())
    }

    /// Sends `signal`, waits for the exit, and returns the status and the rest of stdout.
    fn stop(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "no exit after SIG{signal}");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (status, rest)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Entries of the private temporary folder the tests give the server as `TMPDIR`.
fn ephemeral_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("shipstar-ephemeral-"))
        })
        .collect()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Asserts the documented shape exactly: `{"url": "http://127.0.0.1:PORT", "database":
/// "...", "pid": N}` on one line, and returns the port.
fn assert_ready_line_shape(served: &Served) -> u16 {
    let ready = &served.ready;
    assert_eq!(
        fields_of(ready),
        sorted(&["url", "database", "pid"]),
        "{ready}"
    );
    assert_eq!(ready["pid"], json!(served.child.id()), "{ready}");
    let url = ready["url"].as_str().unwrap();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("url is not loopback: {url}"))
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    let expected = format!(
        "{{\"url\": \"{url}\", \"database\": {}, \"pid\": {}}}\n",
        json!(ready["database"].as_str().unwrap()),
        served.child.id()
    );
    assert_eq!(served.raw_ready, expected);
    port
}

// ---------------------------------------------------------------------------------------------
// serve --ephemeral, port 0, the ready line
// ---------------------------------------------------------------------------------------------

#[test]
fn ephemeral_serve_prints_one_ready_line_and_deletes_its_private_database_on_sigterm() {
    let dir = temp_dir();
    let served = Served::start(&dir, &["serve", "--ephemeral"], &[]);
    assert_ready_line_shape(&served);
    let database = served.database();
    let private_dir = database.parent().unwrap().to_path_buf();
    assert_eq!(ephemeral_dirs(&dir), vec![private_dir.clone()]);
    assert_eq!(mode_of(&private_dir), 0o700);
    assert_eq!(mode_of(&database), 0o600);
    served.get("/api/v1/health", None).expect_status(200);
    // The setup link of a server without users goes to the log, never to stdout.
    let log = served.log_once_it_has("/setup?token=");
    assert!(log.contains("/setup?token="), "{log}");

    let (status, rest) = served.stop("TERM");
    assert!(status.success(), "{status}");
    assert_eq!(rest, "", "nothing but the ready line goes to stdout");
    assert!(
        !private_dir.exists(),
        "the ephemeral database outlived the server"
    );
    assert!(ephemeral_dirs(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ephemeral_database_is_deleted_on_sigint_and_on_a_startup_error() {
    let dir = temp_dir();
    let served = Served::start(&dir, &["serve", "--ephemeral"], &[]);
    let private_dir = served.database().parent().unwrap().to_path_buf();
    let (status, rest) = served.stop("INT");
    assert!(status.success(), "{status}");
    assert_eq!(rest, "");
    assert!(!private_dir.exists());

    // A startup error after the directory was made (the port is taken) removes it too.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().to_string();
    let out = run(&dir, &["serve", "--ephemeral", "--listen", &taken], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains(&taken), "{}", text(&out.stderr));
    assert!(ephemeral_dirs(&dir).is_empty());

    // --ephemeral makes its own database: --database beside it is a usage error.
    let out = run(&dir, &["serve", "--ephemeral", "--database", "x.db"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--ephemeral"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.join("x.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn listen_port_0_picks_a_free_port_shown_in_the_ready_line_and_the_log() {
    let dir = temp_dir();
    let db = dir.join("served.db");
    let served = Served::start(
        &dir,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            db.to_str().unwrap(),
        ],
        &[],
    );
    let port = assert_ready_line_shape(&served);
    assert_eq!(served.database(), db);
    let log = served.log_once_it_has("/setup?token=");
    assert!(
        log.contains(&format!("listening on http://127.0.0.1:{port} ")),
        "{log}"
    );
    // Links the server makes carry the real port too.
    assert!(
        log.contains(&format!("http://127.0.0.1:{port}/setup?token=")),
        "{log}"
    );
    assert!(!log.contains("127.0.0.1:0"), "{log}");
    served.get("/api/v1/health", None).expect_status(200);
    let (status, rest) = served.stop("TERM");
    assert!(status.success());
    assert_eq!(rest, "");
    // Not ephemeral: the database stays.
    assert!(db.exists());

    // The same through the environment, as a test harness may set it.
    let served = Served::start(
        &dir,
        &["serve", "--database", db.to_str().unwrap()],
        &[("SHIPSTAR_LISTEN", "127.0.0.1:0")],
    );
    assert_ready_line_shape(&served);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------------------------

fn login(served: &Served, email: &str, password: &str) -> Resp {
    let body = format!(
        "username={}&password={}",
        email.replace('@', "%40"),
        password
    );
    let raw = format!(
        "POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    send_raw(served.addr(), raw.as_bytes())
}

#[test]
fn a_seeded_server_signs_in_seeded_users_takes_the_seeded_key_and_serves_published_content() {
    let dir = temp_dir();
    let seed = repo_path("tests/examples/seed.toml");
    let served = Served::start(
        &dir,
        &["serve", "--ephemeral", "--seed", seed.to_str().unwrap()],
        &[],
    );
    // Seeded users: no setup link.
    let log = served.log_once_it_has("listening on");
    assert!(
        log.contains("listening on") && !log.contains("/setup?token="),
        "{log}"
    );

    let resp = login(&served, "dev@example.com", "dev-password-for-tests");
    resp.expect_status(200);
    let token = resp.json()["access_token"].as_str().unwrap().to_string();
    let me = served.get("/api/internal/users/me", Some(&token));
    me.expect_status(200);
    assert_eq!(me.json()["first_name"], json!("Dev"));
    assert_eq!(me.json()["is_verified"], json!(true));
    login(&served, "reader@example.com", "reader-password-for-tests").expect_status(200);
    login(&served, "dev@example.com", "wrong-password").expect_status(400);

    let me = served.get("/api/v1/me", Some(SEED_KEY));
    me.expect_status(200);
    assert_eq!(me.json()["email"], json!("dev@example.com"));

    let item = served.get("/api/v1/changelog/release-1-0", None);
    item.expect_status(200);
    assert_eq!(item.json()["title"], json!("Release 1.0"));
    assert_eq!(item.json()["period_start"], json!("2025-03-01T00:00:00Z"));
    let list = served.get("/api/v1/blogs", None);
    list.expect_status(200);
    assert_eq!(list.json(), json!([]), "the draft must not be public");

    // The reader is a member of the seeded team.
    let teams = served.get("/api/internal/teams", Some(&token));
    assert_eq!(teams.json()[0]["slug"], json!("acme"));
    let (status, _) = served.stop("TERM");
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A seed on the server's database, as JSON: one more user, a team, a key and a post.
fn json_seed(key: &str, team_slug: &str) -> Value {
    json!({
        "users": [{"email": "Eve@Example.com", "password": "eve-password-1"}],
        "teams": [{"name": "Eve's", "slug": team_slug, "owner": "eve@example.com"}],
        "members": [{"team": team_slug, "email": ADMIN_EMAIL, "role": "admin"}],
        "projects": [{"team": team_slug, "name": "Docs", "slug": "eve-docs"}],
        "api_keys": [{"project": "eve-docs", "user": "eve@example.com", "name": "CI",
                      "key": key, "expires_at": "2099-01-01T00:00:00Z"}],
        "content": [{"project": "eve-docs", "type": "blog", "title": "Hello, Eve!",
                     "content": "Hi.", "published": true}]
    })
}

#[test]
fn shipstar_seed_writes_a_json_seed_next_to_a_running_server() {
    let server = TestServer::start();
    // Any well-formed key works as a fixed key: this one is made on a scratch database.
    let seed_key = {
        let scratch = temp_dir();
        let db = scratch.join("scratch.db");
        run_cli(&db, &["migrate"], None);
        run_cli(&db, &["user", "create", "--email", "s@example.com"], None);
        run_cli(
            &db,
            &["team", "create", "--name", "S", "--owner", "s@example.com"],
            None,
        );
        run_cli(
            &db,
            &["project", "create", "--team", "s", "--name", "S"],
            None,
        );
        let out = run_cli(
            &db,
            &[
                "key",
                "create",
                "--project",
                "s",
                "--user",
                "s@example.com",
                "--name",
                "k",
            ],
            None,
        );
        let _ = std::fs::remove_dir_all(&scratch);
        text(&out.stdout).trim().to_string()
    };
    let file = server.dir.join("seed.json");
    std::fs::write(&file, json_seed(&seed_key, "eve").to_string()).unwrap();
    let out = server.cli(&["seed", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "seeded 1 users, 1 teams, 1 members, 1 projects, 1 API keys, 1 content items into {}\n",
            server.database()
        )
    );
    server.login("eve@example.com", "eve-password-1");
    let me = server.get("/api/v1/me").bearer(&seed_key).send();
    me.expect_status(200);
    assert_eq!(me.json()["email"], json!("eve@example.com"));
    let post = server.get("/api/v1/blog/hello-eve").send();
    post.expect_status(200);
    assert_eq!(post.json()["content"], json!("Hi."));
}

#[test]
fn a_seed_that_conflicts_changes_nothing_and_names_the_conflict() {
    let server = TestServer::start();
    let before = text(&server.cli(&["user", "list"], None).stdout);
    // The team slug "default" is taken by the bootstrap team.
    let file = server.dir.join("conflict.toml");
    let doc = json_seed(SEED_KEY, "default");
    let toml_text = toml_of(&doc);
    std::fs::write(&file, toml_text).unwrap();
    let out = server.cli(&["seed", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("teams[0] (slug \"default\")") && err.contains("already exists"),
        "{err}"
    );
    // Nothing was written: not even the user that came before the conflict.
    assert_eq!(text(&server.cli(&["user", "list"], None).stdout), before);
    server
        .post("/api/internal/auth/jwt/login")
        .form(&[
            ("username", "eve@example.com"),
            ("password", "eve-password-1"),
        ])
        .send()
        .expect_status(400);
    server
        .get("/api/v1/me")
        .bearer(SEED_KEY)
        .send()
        .expect_status(401);

    // The same conflict at `serve --seed` stops the start, with the same exit status.
    let out = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(server.database())
        .arg("--seed")
        .arg(&file)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains("teams[0]"),
        "{}",
        text(&out.stderr)
    );
}

/// A flat TOML rendering of the seed document (arrays of tables of scalars).
fn toml_of(doc: &Value) -> String {
    let mut out = String::new();
    for (table, rows) in doc.as_object().unwrap() {
        for row in rows.as_array().unwrap() {
            out.push_str(&format!("[[{table}]]\n"));
            for (key, value) in row.as_object().unwrap() {
                out.push_str(&format!("{key} = {value}\n"));
            }
        }
    }
    out
}

#[test]
fn a_malformed_key_or_bad_field_in_a_seed_is_refused_before_anything_is_written() {
    let dir = temp_dir();
    let db = dir.join("seeded.db");
    run_cli(&db, &["migrate"], None);
    // The key of the example with one character changed: the checksum no longer matches.
    let bad_key = SEED_KEY.replacen("cel5", "cel6", 1);
    let mut doc = json_seed(&bad_key, "eve");
    doc["users"][0]["email"] = json!("not-an-email");
    let file = dir.join("bad.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = run_cli(&db, &["seed", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("api_keys[0].key: not a well-formed API key"),
        "{err}"
    );
    assert!(err.contains("users[0].email"), "{err}");
    assert!(!err.contains(&bad_key), "the key must not be echoed: {err}");
    let list = text(&run_cli(&db, &["user", "list"], None).stdout);
    assert_eq!(list.lines().count(), 1, "only the header: {list}");

    // Unknown fields are named, not ignored.
    std::fs::write(
        &file,
        r#"{"users": [{"email": "a@example.com", "pasword": "x"}]}"#,
    )
    .unwrap();
    let out = run_cli(&db, &["seed", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("pasword"),
        "{}",
        text(&out.stderr)
    );

    // With --ephemeral, a bad seed stops the start and leaves no temporary directory.
    let out = run(
        &dir,
        &["serve", "--ephemeral", "--seed", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    assert!(ephemeral_dirs(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Finding the database; help; config
// ---------------------------------------------------------------------------------------------

/// Arguments, environment, the database path looked for, and what chose it.
type MissingCase<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[test]
fn commands_refuse_a_missing_database_naming_the_path_and_what_chose_it() {
    let dir = temp_dir();
    let config = dir.join("shipstar-test.toml");
    std::fs::write(&config, "database = \"from-file.db\"\n").unwrap();
    let config_arg = config.to_str().unwrap().to_string();
    // (arguments, environment, the path looked for, what chose it)
    let cases: Vec<MissingCase<'_>> = vec![
        (vec!["user", "list"], vec![], "shipstar.db", "default"),
        (
            vec![
                "--database",
                "typo.db",
                "key",
                "list",
                "--project",
                "default",
            ],
            vec![],
            "typo.db",
            "flag --database",
        ),
        (
            vec!["team", "create", "--name", "T", "--owner", "a@example.com"],
            vec![("SHIPSTAR_DATABASE", "env.db")],
            "env.db",
            "environment variable SHIPSTAR_DATABASE",
        ),
        (
            vec![
                "--config",
                &config_arg,
                "user",
                "deactivate",
                "--email",
                "a@example.com",
            ],
            vec![],
            "from-file.db",
            "config file",
        ),
        (
            vec!["seed", "nothing.toml"],
            vec![("SHIPSTAR_CONFIG", &config_arg)],
            "from-file.db",
            "config file",
        ),
        (vec!["backup", "copy.db"], vec![], "shipstar.db", "default"),
        (vec!["secret", "rotate"], vec![], "shipstar.db", "default"),
    ];
    for (args, env, path, source) in cases {
        let out = run(&dir, &args, &env);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        let absolute = dir.join(path);
        assert!(
            err.contains(&format!("database {} does not exist", absolute.display())),
            "{args:?}: {err}"
        );
        assert!(err.contains(source), "{args:?} should name {source}: {err}");
        assert!(!absolute.exists(), "{args:?} created {path}");
    }
    // migrate and serve still create a new database.
    let out = run(&dir, &["migrate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.join("shipstar.db").exists());
    let out = run(&dir, &["user", "list"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_help_lists_the_environment_and_config_says_which_file_it_read() {
    let dir = temp_dir();
    let out = run(&dir, &["serve", "--help"], &[]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for var in [
        "SHIPSTAR_CONFIG",
        "SHIPSTAR_DATABASE",
        "SHIPSTAR_LISTEN",
        "SHIPSTAR_JWT_SECRET_FILE",
        "SHIPSTAR_ADMIN_EMAIL",
        "SHIPSTAR_LOG_FORMAT",
        "--ephemeral",
        "--seed",
    ] {
        assert!(help.contains(var), "serve --help lacks {var}:\n{help}");
    }

    let out = run(&dir, &["config"], &[]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    assert!(listing.starts_with("# config file: none read"), "{listing}");
    std::fs::write(dir.join("shipstar.toml"), "log_level = \"warn\"\n").unwrap();
    let out = run(&dir, &["config"], &[]);
    let listing = text(&out.stdout);
    assert!(
        listing.starts_with(&format!(
            "# config file: {} (in the working directory)\n",
            Path::new("shipstar.toml").display()
        )),
        "{listing}"
    );
    let other = dir.join("other.toml");
    std::fs::write(&other, "log_level = \"error\"\n").unwrap();
    let out = run(
        &dir,
        &["config"],
        &[("SHIPSTAR_CONFIG", other.to_str().unwrap())],
    );
    let listing = text(&out.stdout);
    assert!(
        listing.starts_with(&format!(
            "# config file: {} (named by SHIPSTAR_CONFIG)\n",
            other.display()
        )),
        "{listing}"
    );
    assert!(
        listing.contains("log_level = \"error\"  # config file"),
        "{listing}"
    );
    // A database chosen by SHIPSTAR_DATABASE is credited to the variable, not to a flag.
    let out = run(&dir, &["config"], &[("SHIPSTAR_DATABASE", "env.db")]);
    assert!(
        text(&out.stdout)
            .contains("database = \"env.db\"  # environment variable SHIPSTAR_DATABASE"),
        "{}",
        text(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// The README's three examples
// ---------------------------------------------------------------------------------------------

/// The folder of the built binary, first on `PATH`, so examples can call `shipstar`.
fn path_with_binary() -> String {
    let bin_dir = Path::new(binary()).parent().unwrap();
    format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn readme_shell_script_example_runs() {
    let dir = temp_dir();
    let out = Command::new("bash")
        .arg(repo_path("tests/examples/smoke.sh"))
        .current_dir(&dir)
        .env_clear()
        .env("PATH", path_with_binary())
        .env("TMPDIR", &dir)
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "smoke.sh failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).starts_with("ok: shipstar at http://127.0.0.1:"));
    assert!(
        ephemeral_dirs(&dir).is_empty(),
        "the script left its database"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs pytest: run ./test"]
fn readme_pytest_fixture_example_runs() {
    require_python_tool("pytest");
    let dir = temp_dir();
    let out = Command::new(python())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo_path("tests/python"))
        .current_dir(&dir)
        .env("PATH", path_with_binary())
        .env("TMPDIR", &dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run pytest");
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "pytest failed:\n{report}");
    assert!(report.contains("3 passed"), "{report}");
    assert!(
        ephemeral_dirs(&dir).is_empty(),
        "the fixture left its database"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `run: |` body of the first step of the README's CI block (marked `ci-step`).
fn readme_ci_step() -> String {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let block = readme
        .split("<!-- ci-step:")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("README has a ci-step yaml block");
    let mut lines = block.lines().skip_while(|line| line.trim() != "run: |");
    lines.next();
    let mut script = String::new();
    for line in lines {
        if !line.starts_with("    ") {
            break;
        }
        script.push_str(&line[4..]);
        script.push('\n');
    }
    assert!(script.contains("curl"), "{script}");
    script
}

#[test]
fn readme_ci_step_downloads_the_binary_starts_it_and_exports_its_url() {
    let dir = temp_dir();
    let runner_temp = dir.join("runner-temp");
    std::fs::create_dir_all(&runner_temp).unwrap();
    std::fs::create_dir_all(dir.join("tests")).unwrap();
    std::fs::copy(
        repo_path("tests/examples/seed.toml"),
        dir.join("tests/shipstar-seed.toml"),
    )
    .unwrap();
    let github_env = dir.join("github-env");
    // The "download" fetches the built binary through curl's file:// support.
    let download = format!("file://{}", binary());
    let out = Command::new("bash")
        .args(["-e", "-c", &readme_ci_step()])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMPDIR", &dir)
        .env("RUNNER_TEMP", &runner_temp)
        .env("GITHUB_ENV", &github_env)
        .env("SHIPSTAR_DOWNLOAD_URL", &download)
        .stdin(Stdio::null())
        .output()
        .expect("run the CI step");
    assert!(
        out.status.success(),
        "CI step failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let exported = std::fs::read_to_string(&github_env).unwrap();
    let url = exported
        .trim()
        .strip_prefix("SHIPSTAR_URL=http://")
        .unwrap_or_else(|| panic!("GITHUB_ENV: {exported:?}"));
    let addr: std::net::SocketAddr = url.parse().unwrap();
    let raw = format!("GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {SEED_KEY}\r\n\r\n");
    send_raw(addr, raw.as_bytes()).expect_status(200);
    // The job's end stops the server; here a SIGTERM does, and the database goes with it.
    let ready: Value =
        serde_json::from_str(&std::fs::read_to_string(runner_temp.join("shipstar.json")).unwrap())
            .unwrap();
    let pid = ready["pid"].as_u64().unwrap().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    // The server is no child of ours (the step's shell left it running), so its exit is
    // seen through its database, which it deletes on the way out.
    let private_dir = Path::new(ready["database"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let deadline = Instant::now() + Duration::from_secs(15);
    while private_dir.exists() {
        assert!(Instant::now() < deadline, "server {pid} did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
