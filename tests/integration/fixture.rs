//! The test fixture: starts the real `shipstar` binary on a temporary database and a free
//! port, speaks HTTP/1.1 to it over a plain socket, and kills it on drop.
//!
//! Failures print the whole exchange and the server's log, so a red test explains itself.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The administrator every server starts with (headless bootstrap).
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// Their password.
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

static NEXT_DIR: AtomicU32 = AtomicU32::new(0);

/// A fresh temporary directory, removed by the server's drop.
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shipstar-it-{}-{}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// True (and says so on stderr) when the suite runs on PostgreSQL and the calling test is
/// about what only a SQLite file has (its mode, its lock, its bytes on disk).
pub fn skipped_on_postgres(what: &str) -> bool {
    if on_postgres() {
        eprintln!("skipped on PostgreSQL: {what} is a SQLite file's property");
        return true;
    }
    false
}

/// Whether the suite's servers run on PostgreSQL: `SHIPSTAR_TEST_BACKEND=postgres` (with a
/// cluster in `SHIPSTAR_TEST_POSTGRES`). `./test` runs the integration suite once on SQLite
/// and once so.
pub fn on_postgres() -> bool {
    let chosen = std::env::var("SHIPSTAR_TEST_BACKEND").is_ok_and(|backend| backend == "postgres");
    if chosen && postgres_base_url().is_none() {
        panic!("SHIPSTAR_TEST_BACKEND=postgres needs {NEEDS_POSTGRES}");
    }
    chosen
}

/// The database of the server files in `dir`: the one `dir/database.url` names if a test
/// wrote it (a file path or a URL, whatever the suite runs on), else `dir/test.db`, or on
/// PostgreSQL a database of its own, made on first use and remembered in `dir/database.url`.
pub fn database_in(dir: &Path) -> String {
    let remembered = dir.join("database.url");
    if let Ok(url) = std::fs::read_to_string(&remembered) {
        return url;
    }
    if !on_postgres() {
        return dir.join("test.db").display().to_string();
    }
    let url = fresh_postgres_database();
    std::fs::write(&remembered, &url).unwrap();
    url
}

/// Drops the PostgreSQL database the fixture made for the server files in `dir`, with the
/// directory, so a run of the suite does not leave hundreds of databases on its cluster (nodes
/// sharing one: the first to go drops it, the others are being stopped too). A database a test
/// named itself, or a file, is left alone; kept, like the directory, when a test failed.
fn drop_postgres_database_of(dir: &Path) {
    let Ok(url) = std::fs::read_to_string(dir.join("database.url")) else {
        return;
    };
    let Some(base) = postgres_base_url() else {
        return;
    };
    let name = url
        .split('?')
        .next()
        .and_then(|head| head.rsplit('/').next())
        .unwrap_or_default();
    if !name.starts_with("shipstar_test_")
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return;
    }
    if let Ok(mut admin) =
        shipstar::store::pg_target::PgTarget::parse(&base).and_then(|t| t.connect())
    {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// The built binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_shipstar")
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    child: Option<Child>,
    log_path: PathBuf,
}

/// How to start a server.
pub struct Options {
    pub env: Vec<(String, String)>,
    pub with_admin: bool,
    pub args: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            env: Vec::new(),
            with_admin: true,
            args: Vec::new(),
        }
    }
}

impl Options {
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
}

impl TestServer {
    /// A server with the default administrator and fast (test-only) Argon2 parameters.
    pub fn start() -> TestServer {
        Self::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> TestServer {
        Self::start_in(temp_dir(), options)
    }

    /// Starts (or restarts) a server on the database in `dir`.
    pub fn start_in(dir: PathBuf, options: Options) -> TestServer {
        let log_path = dir.join(format!(
            "server-{}.log",
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database")
            .arg(database_in(&dir))
            .args(&options.args)
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SHIPSTAR_ARGON2_MEMORY_KIB", "64")
            .env("SHIPSTAR_ARGON2_ITERATIONS", "1")
            .env("SHIPSTAR_WORKERS", "8")
            // Tests log in far more often than people do; rate-limit tests turn limits on.
            .env("SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE", "0")
            .env("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "0")
            .env("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "0")
            .env("SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE", "0")
            .env("SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if options.with_admin {
            cmd.env("SHIPSTAR_ADMIN_EMAIL", ADMIN_EMAIL)
                .env("SHIPSTAR_ADMIN_PASSWORD", ADMIN_PASSWORD);
        }
        for (key, value) in &options.env {
            cmd.env(key, value);
        }
        let child = cmd.spawn().expect("start shipstar");
        let mut server = TestServer {
            addr: "127.0.0.1:1".parse().unwrap(),
            dir,
            child: Some(child),
            log_path,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = server.log();
            if let Some(rest) = log.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap();
                server.addr = addr.parse().unwrap();
                break;
            }
            if let Some(Ok(Some(status))) = server.child.as_mut().map(|c| c.try_wait()) {
                panic!("shipstar exited with {status} before listening:\n{log}");
            }
            assert!(Instant::now() < deadline, "server did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The one-time setup URL printed by a server started without an administrator.
    pub fn setup_url(&self) -> String {
        let log = self.log_once_it_has("/setup?token=");
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("/setup?token="))
            .collect();
        assert_eq!(lines.len(), 1, "expected one setup line:\n{log}");
        lines[0]
            .split_whitespace()
            .find(|word| word.contains("/setup?token="))
            .unwrap()
            .trim_matches(|c: char| c == '"' || c == '\'' || c == '<' || c == '>')
            .to_string()
    }

    /// The log once it contains `needle`, or as it is after 5 s: the log is written by a
    /// thread of the server's own, so a line can lag behind the event it reports.
    pub fn log_once_it_has(&self, needle: &str) -> String {
        text_once_it_has(&self.log_path, needle)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// Path of the database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("test.db")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn request(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            server: self,
            method: method.to_string(),
            path: path.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.request("GET", path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.request("POST", path)
    }

    pub fn patch(&self, path: &str) -> Req<'_> {
        self.request("PATCH", path)
    }

    pub fn delete(&self, path: &str) -> Req<'_> {
        self.request("DELETE", path)
    }

    /// Logs in and returns the access token.
    pub fn login(&self, email: &str, password: &str) -> String {
        let resp = self
            .post("/api/internal/auth/jwt/login")
            .form(&[("username", email), ("password", password)])
            .send();
        resp.expect_status(200);
        resp.json()["access_token"].as_str().unwrap().to_string()
    }

    /// Logs in as the bootstrap administrator.
    pub fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    }

    /// Creates a user through the admin API and returns (id, token).
    pub fn create_user(&self, admin_token: &str, email: &str, password: &str) -> (String, String) {
        let resp = self
            .post("/api/internal/users")
            .bearer(admin_token)
            .json(&serde_json::json!({"email": email, "password": password}))
            .send();
        resp.expect_status(201);
        let id = resp.json()["id"].as_str().unwrap().to_string();
        (id, self.login(email, password))
    }

    /// Runs the CLI against this server's database.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        run_cli(&self.db_path(), args, stdin)
    }
}

/// Runs `shipstar --database DB ARGS...` with fast Argon2 parameters.
pub fn run_cli(db: &Path, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    // The server's `test.db` is its PostgreSQL database when the suite runs there.
    let database = match (db.file_name(), db.parent()) {
        (Some(name), Some(dir)) if name == "test.db" => database_in(dir),
        _ => db.display().to_string(),
    };
    let mut child = Command::new(binary())
        .arg("--database")
        .arg(database)
        .args(args)
        .current_dir(db.parent().unwrap())
        .env_clear()
        .env("SHIPSTAR_ARGON2_MEMORY_KIB", "64")
        .env("SHIPSTAR_ARGON2_ITERATIONS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
        if !std::thread::panicking() {
            drop_postgres_database_of(&self.dir);
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!(
                "--- server log ({}) ---\n{}",
                self.log_path.display(),
                self.log()
            );
        }
    }
}

/// A request being built.
pub struct Req<'a> {
    server: &'a TestServer,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn json(self, body: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(body.to_string().into_bytes())
    }

    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(encoded.join("&").into_bytes())
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    pub fn send(self) -> Resp {
        let mut raw = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.method, self.path, self.server.addr
        );
        for (name, value) in &self.headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PATCH" | "PUT") {
            raw.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        raw.push_str("\r\n");
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(&self.body);
        let mut resp = send_raw(self.server.addr, &bytes);
        resp.request = format!("{} {} {:?}", self.method, self.path, self.headers);
        resp
    }
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub request: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {}\n{self:#?}", self.text()))
    }

    /// Asserts the status, printing the whole exchange otherwise.
    pub fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status,
            status,
            "unexpected status for {}\nheaders: {:?}\nbody: {}",
            self.request,
            self.headers,
            self.text()
        );
        self
    }

    /// Asserts status and `{"detail": detail}` exactly.
    pub fn expect_detail(&self, status: u16, detail: Value) -> &Self {
        self.expect_status(status);
        assert_eq!(
            self.json(),
            serde_json::json!({ "detail": detail }),
            "for {}",
            self.request
        );
        self
    }
}

/// Sends raw bytes and reads one response (the connection is closed after it).
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> Resp {
    try_send_raw(addr, bytes).unwrap_or_else(|err| panic!("request failed: {err}"))
}

/// Like [`send_raw`], but reports a closed or broken connection as an error.
pub fn try_send_raw(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Resp> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(bytes)?;
    read_response(&mut BufReader::new(stream))
}

/// Reads one HTTP/1.1 response from `reader`.
pub fn read_response(reader: &mut impl BufRead) -> std::io::Result<Resp> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed without a response",
        ));
    }
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = find("content-length") {
        let len: usize = len.parse().unwrap_or(0);
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if find("transfer-encoding").is_some_and(|te| te.contains("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if status != 204 && status != 304 {
        reader.read_to_end(&mut body)?;
    }
    Ok(Resp {
        status,
        headers,
        body,
        request: String::new(),
    })
}

/// Asserts a 422 whose problem list is exactly `expected` as `(loc, type)` pairs, any order.
#[track_caller]
pub fn expect_problems(resp: &Resp, expected: &[(Value, &str)]) {
    resp.expect_status(422);
    let body = resp.json();
    let list = body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("422 detail is not a list: {body}"));
    let mut got: Vec<(String, String)> = list
        .iter()
        .map(|p| {
            assert!(p["msg"].is_string(), "problem without msg: {p}");
            (
                p["loc"].to_string(),
                p["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(loc, kind)| (loc.to_string(), kind.to_string()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "422 problems for {}: {body}", resp.request);
}

/// Creates a team as `token` and returns its object (fails unless 201).
pub fn create_team(server: &TestServer, token: &str, body: Value) -> Value {
    let resp = server
        .post("/api/internal/teams")
        .bearer(token)
        .json(&body)
        .send();
    resp.expect_status(201);
    resp.json()
}

/// Creates a project in `team_id` as `token` and returns its object (fails unless 201).
pub fn create_project(server: &TestServer, token: &str, team_id: &str, body: Value) -> Value {
    let resp = server
        .post(&format!("/api/internal/teams/{team_id}/projects"))
        .bearer(token)
        .json(&body)
        .send();
    resp.expect_status(201);
    resp.json()
}

/// The 422 problems every paginated list answers for a bad `limit` or `offset`: query
/// strings with the (`loc`, `type`) pairs each must produce.
pub fn pagination_query_errors() -> Vec<(&'static str, Vec<(Value, &'static str)>)> {
    vec![
        (
            "?limit=0",
            vec![(serde_json::json!(["query", "limit"]), "greater_than_equal")],
        ),
        (
            "?limit=101",
            vec![(serde_json::json!(["query", "limit"]), "less_than_equal")],
        ),
        (
            "?limit=abc",
            vec![(serde_json::json!(["query", "limit"]), "int_parsing")],
        ),
        (
            "?offset=-1",
            vec![(serde_json::json!(["query", "offset"]), "greater_than_equal")],
        ),
    ]
}

/// The sorted keys of a JSON object (panics on anything else).
pub fn fields_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// `names` as sorted owned strings, to compare with [`fields_of`].
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The Python interpreter that runs the Python test tools: `SHIPSTAR_PYTHON` (which `./test`
/// points at its `.venv/`), else `python3`.
pub fn python() -> String {
    std::env::var("SHIPSTAR_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Fails, saying how to install it, unless the Python package `package` is installed at the
/// version `tests/requirements.txt` pins. Tests that call this are `#[ignore]`d with the
/// reason, so plain `cargo test` lists them; `./test` installs the tools and runs them.
pub fn require_python_tool(package: &str) {
    let install = "run ./test, which installs it into .venv/ (or `pip install -r \
                   tests/requirements.txt` and point SHIPSTAR_PYTHON at that Python)";
    let requirements = std::fs::read_to_string(repo_path("tests/requirements.txt"))
        .expect("tests/requirements.txt");
    let pinned = requirements
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{package}==")))
        .unwrap_or_else(|| panic!("tests/requirements.txt pins {package}==X.Y.Z"))
        .trim()
        .to_string();
    let output = Command::new(python())
        .args([
            "-c",
            "import importlib.metadata, sys; print(importlib.metadata.version(sys.argv[1]))",
            package,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}; {install}", python()));
    assert!(
        output.status.success(),
        "{package} is not installed ({}); {install}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let installed = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert_eq!(
        installed, pinned,
        "{package} {installed} is installed but the tests pin {pinned}; {install}"
    );
}

/// The text of the file at `path` once it contains `needle`, or as it is after 5 s: a log is
/// written by a thread of the server's own, so a line can lag behind the event it reports.
pub fn text_once_it_has(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) || Instant::now() >= deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A direct connection to a server's database, for tests that set up or inspect what the API
/// does not show (timestamps, stored hashes). SQL given to it must run on both engines;
/// values are written into the SQL by the test (never from a request).
pub enum TestDb {
    /// The SQLite file.
    Sqlite(rusqlite::Connection),
    /// The PostgreSQL database.
    Postgres(postgres::Client),
}

impl TestDb {
    /// Opens the database `database` names (a file path or a PostgreSQL URL).
    pub fn open(database: &str) -> TestDb {
        if database.starts_with("postgres") {
            TestDb::Postgres(postgres::Client::connect(database, postgres::NoTls).unwrap())
        } else {
            let db = rusqlite::Connection::open(database).unwrap();
            db.busy_timeout(Duration::from_secs(10)).unwrap();
            TestDb::Sqlite(db)
        }
    }

    /// Runs a statement; how many rows it changed.
    pub fn execute(&mut self, sql: &str) -> u64 {
        match self {
            TestDb::Sqlite(db) => db.execute(sql, []).unwrap() as u64,
            TestDb::Postgres(db) => db.execute(sql, &[]).unwrap(),
        }
    }

    /// The first column of every row, as text (NULL as the empty string).
    pub fn texts(&mut self, sql: &str) -> Vec<String> {
        match self {
            TestDb::Sqlite(db) => {
                let mut stmt = db.prepare(sql).unwrap();
                stmt.query_map([], |row| row.get::<_, Option<String>>(0))
                    .unwrap()
                    .map(|text| text.unwrap().unwrap_or_default())
                    .collect()
            }
            TestDb::Postgres(db) => db
                .query(sql, &[])
                .unwrap()
                .iter()
                .map(|row| row.get::<_, Option<String>>(0).unwrap_or_default())
                .collect(),
        }
    }

    /// The first column of the first row as bytes, if there is a row and it is not NULL.
    pub fn blob(&mut self, sql: &str) -> Option<Vec<u8>> {
        match self {
            TestDb::Sqlite(db) => db
                .query_row(sql, [], |row| row.get::<_, Option<Vec<u8>>>(0))
                .unwrap(),
            TestDb::Postgres(db) => db
                .query_opt(sql, &[])
                .unwrap()
                .and_then(|row| row.get::<_, Option<Vec<u8>>>(0)),
        }
    }
}

impl TestServer {
    /// The database this server runs on: its file path or PostgreSQL URL.
    pub fn database(&self) -> String {
        database_in(&self.dir)
    }

    /// A new server on this server's database (another node of the same deployment).
    pub fn another_node(&self) -> TestServer {
        start_on(&self.database(), Options::default())
    }

    /// A direct connection to this server's database.
    pub fn db(&self) -> TestDb {
        TestDb::open(&self.database())
    }
}

/// `count` servers on one PostgreSQL database (the nodes of one deployment), started one after
/// the other with the same options; `None` (and a line on stderr) when the suite does not run
/// on PostgreSQL, so multi-node tests skip on SQLite.
pub fn start_nodes(count: usize, options: impl Fn() -> Options) -> Option<Vec<TestServer>> {
    if !on_postgres() {
        eprintln!("skipped on SQLite: several nodes share one PostgreSQL database");
        return None;
    }
    let url = fresh_postgres_database();
    Some((0..count).map(|_| start_on(&url, options())).collect())
}

/// A server in a fresh directory on the given database (a PostgreSQL URL or a file path).
pub fn start_on(database: &str, options: Options) -> TestServer {
    let dir = temp_dir();
    std::fs::write(dir.join("database.url"), database).unwrap();
    TestServer::start_in(dir, options)
}

/// The environment variable holding the base URL of the PostgreSQL cluster tests may use (a
/// superuser on a throwaway cluster: `./test` starts one with `tests/postgres-cluster.sh` and
/// sets this).
pub const POSTGRES_ENV: &str = "SHIPSTAR_TEST_POSTGRES";

/// What a PostgreSQL test says when it has no cluster. Such tests are `#[ignore]`d with this
/// reason, so plain `cargo test` lists them as skipped; `./test` starts a cluster and runs them.
pub const NEEDS_POSTGRES: &str = "needs a PostgreSQL cluster: run ./test, which starts one \
     (or start one with tests/postgres-cluster.sh and set SHIPSTAR_TEST_POSTGRES to its URL)";

/// The base URL of the test cluster (`SHIPSTAR_TEST_POSTGRES`), if one is configured.
pub fn postgres_base_url() -> Option<String> {
    std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// Creates an empty database with a random name on the test cluster and returns its URL.
/// Panics with [`NEEDS_POSTGRES`] when no cluster is configured.
pub fn fresh_postgres_database() -> String {
    let base = postgres_base_url().unwrap_or_else(|| panic!("{NEEDS_POSTGRES}"));
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("random bytes");
    let name = format!("shipstar_test_{}", u64::from_le_bytes(random));
    let mut admin = shipstar::store::pg_target::PgTarget::parse(&base)
        .and_then(|target| target.connect())
        .unwrap_or_else(|err| panic!("{POSTGRES_ENV}: {err}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|err| panic!("CREATE DATABASE {name}: {err}"));
    postgres_url_with_database(&base, &name)
}

/// `url` with its database name replaced by `dbname` (query parameters kept).
pub fn postgres_url_with_database(url: &str, dbname: &str) -> String {
    let scheme_end = url.find("://").expect("a URL") + 3;
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let authority_end = head[scheme_end..]
        .find('/')
        .map_or(head.len(), |slash| scheme_end + slash);
    let mut out = format!("{}/{dbname}", &head[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
/// A PostgreSQL cluster of a test's own, started by `tests/postgres-cluster.sh` in a fresh
/// temporary directory and stopped (directory removed) on drop.
pub struct PostgresCluster {
    /// The superuser's URL, `postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable`.
    pub url: String,
    /// The cluster's directory (data in `data/`, the Unix socket beside it).
    pub dir: PathBuf,
}

impl PostgresCluster {
    /// A directory for a cluster (an empty one under the system's temporary directory, which
    /// the `postgres` OS user can reach), so files such as certificates can be put there first.
    pub fn new_dir() -> PathBuf {
        temp_dir()
    }

    /// Starts a cluster in `dir` with extra server settings (`name=value`). Panics with the
    /// script's output, and how to get PostgreSQL, when it cannot start one.
    pub fn start(dir: PathBuf, settings: &[String]) -> PostgresCluster {
        let output = Command::new("bash")
            .arg(repo_path("tests/postgres-cluster.sh"))
            .arg("start")
            .arg(&dir)
            .args(settings)
            .stdin(Stdio::null())
            .output()
            .expect("run tests/postgres-cluster.sh");
        assert!(
            output.status.success(),
            "tests/postgres-cluster.sh start failed ({}); {NEEDS_POSTGRES}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8_lossy(&output.stdout).trim().to_string();
        assert!(url.starts_with("postgres://"), "no URL printed: {url:?}");
        PostgresCluster { url, dir }
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_path("tests/postgres-cluster.sh"))
            .arg("stop")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
