//! Integration tests: the machine-readable description.
//!
//! Contract: `http-api.md` ("Machine-readable description"): `GET /api/openapi.json` serves an
//! OpenAPI 3.1 document of every route, kept true by an OpenAPI-driven fuzzer run against the
//! running binary.
//!
//! The fuzzer is schemathesis (PyPI, version pinned in `tests/requirements.txt`), settings in
//! `tests/schemathesis/`. Plain `cargo test` lists the run as ignored ("needs schemathesis: run
//! ./test"); `./test` installs schemathesis into `.venv/` and runs it. Run without it, the test
//! fails and says how to install it: never skipped in silence, never reported as passed.

use crate::fixture::*;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DOCUMENT: &str = "/api/openapi.json";
/// The whole schemathesis run must end within this; it normally takes well under a minute.
const FUZZ_TIME_LIMIT: Duration = Duration::from_secs(240);
/// A fixed seed keeps the run reproducible; `SHIPSTAR_FUZZ_SEED` picks another.
const DEFAULT_SEED: &str = "1";
const SPARE_EMAIL: &str = "spare@example.com";
const SPARE_PASSWORD: &str = "spare-password-for-fuzzing";

#[test]
fn openapi_json_is_an_openapi_3_1_document_with_validators_and_no_cors() {
    let server = TestServer::start();
    let resp = server.get(DOCUMENT).send();
    resp.expect_status(200);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_eq!(resp.header("Cache-Control"), Some("public, max-age=60"));
    assert_eq!(resp.header("X-Content-Type-Options"), Some("nosniff"));
    assert!(resp.header("Access-Control-Allow-Origin").is_none());
    let doc = resp.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], json!(env!("CARGO_PKG_VERSION")));
    for (path, method) in [
        ("/api/internal/auth/jwt/login", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/changelogs/feed", "get"),
        ("/api/internal/content/{content_id}/publish", "post"),
        ("/mcp", "post"),
        (DOCUMENT, "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let etag = resp.header("ETag").expect("ETag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    // Unchanged: a 304 without a body, with the same validators.
    for presented in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let again = server
            .get(DOCUMENT)
            .header("If-None-Match", &presented)
            .send();
        again.expect_status(304);
        assert!(again.body.is_empty());
        assert_eq!(again.header("ETag"), Some(etag.as_str()));
        assert_eq!(again.header("Cache-Control"), Some("public, max-age=60"));
    }
    let other = server
        .get(DOCUMENT)
        .header("If-None-Match", "\"other\"")
        .send();
    other.expect_status(200);
    assert_eq!(other.body, resp.body);
    // No credential is needed, and one that fails is not even looked at.
    server
        .get(DOCUMENT)
        .bearer("sk_live_not-a-key")
        .send()
        .expect_status(200);
    let resp = server.request("POST", DOCUMENT).send();
    resp.expect_detail(405, json!("Method Not Allowed"));
    assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
}

/// What the run needs to know about the server it fuzzes.
struct Fixture {
    env: Vec<(&'static str, String)>,
    token: String,
    key: String,
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("id").to_string()
}

/// Creates what the fuzzer works with: the administrator's session (the `jwt` scheme), a key of
/// the `default` project (`apiKey`), a spare user for the routes that end sessions, and one
/// published item of each kind so the public routes have something to answer with.
fn prepare(server: &TestServer) -> Fixture {
    let token = server.admin_token();
    let get = |path: &str| {
        let resp = server.get(path).bearer(&token).send();
        resp.expect_status(200);
        resp.json()
    };
    let admin_id = id_of(&get("/api/internal/users/me"));
    let team_id = id_of(&get("/api/internal/teams")[0]);
    let project_id = id_of(&get("/api/internal/projects")[0]);
    let (spare_id, _) = server.create_user(&token, SPARE_EMAIL, SPARE_PASSWORD);
    let resp = server
        .post(&format!("/api/internal/projects/{project_id}/api-keys"))
        .bearer(&token)
        .json(&json!({"name": "schemathesis"}))
        .send();
    resp.expect_status(201);
    let key = resp.json()["key"].as_str().unwrap().to_string();
    let key_id = id_of(&resp.json());
    let changelog = json!({"title": "March", "entries": [
        {"category": "Added", "title": "Feeds <& more>", "description": "RSS for \"everyone\""}
    ]});
    let kb = json!({"articles": [{"category": "Basics", "title": "Install", "body": "Run it."}]});
    for item in [
        json!({"type": "changelog", "title": "March", "content": changelog.to_string(),
               "period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-31T00:00:00Z"}),
        json!({"type": "blog", "title": "Hello", "content": "# Hello\n\nFirst *post*."}),
        json!({"type": "kb", "title": "Start here", "content": kb.to_string()}),
    ] {
        let resp = server
            .post(&format!("/api/internal/projects/{project_id}/content"))
            .bearer(&key)
            .json(&item)
            .send();
        resp.expect_status(201);
        server
            .post(&format!(
                "/api/internal/content/{}/publish",
                id_of(&resp.json())
            ))
            .bearer(&key)
            .send()
            .expect_status(200);
    }
    let env = vec![
        ("SHIPSTAR_FUZZ_BASE_URL", format!("http://{}", server.addr)),
        ("SHIPSTAR_FUZZ_JWT", token.clone()),
        ("SHIPSTAR_FUZZ_KEY", key.clone()),
        ("SHIPSTAR_FUZZ_PROJECT_ID", project_id),
        ("SHIPSTAR_FUZZ_TEAM_ID", team_id),
        ("SHIPSTAR_FUZZ_SPARE_EMAIL", SPARE_EMAIL.into()),
        ("SHIPSTAR_FUZZ_SPARE_PASSWORD", SPARE_PASSWORD.into()),
        (
            "SHIPSTAR_FUZZ_PROTECTED_IDS",
            format!("{admin_id},{spare_id},{key_id}"),
        ),
        (
            "SCHEMATHESIS_HOOKS",
            repo_path("tests/schemathesis/hooks.py")
                .display()
                .to_string(),
        ),
    ];
    Fixture { env, token, key }
}

/// Runs schemathesis against `server` with a hard time limit; returns its output and status.
fn run_schemathesis(server: &TestServer, fixture: &Fixture) -> (bool, String) {
    let seed = std::env::var("SHIPSTAR_FUZZ_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let output_path = server.dir.join("schemathesis.txt");
    let output = std::fs::File::create(&output_path).expect("output file");
    let errors = output.try_clone().expect("output file");
    let mut child = Command::new(python())
        .args(["-m", "schemathesis.cli", "--config-file"])
        .arg(repo_path("tests/schemathesis/schemathesis.toml"))
        .arg("run")
        .arg(format!("http://{}{DOCUMENT}", server.addr))
        .args(["--seed", &seed, "--no-color"])
        // Without a filter, schemathesis leaves out the operation that serves the document
        // itself; every route is under /api/, so this selects them all.
        .args(["--include-path-regex", "^/api/"])
        .envs(fixture.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&server.dir)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(errors)
        .spawn()
        .expect("start schemathesis");
    let deadline = Instant::now() + FUZZ_TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&output_path).unwrap_or_default();
    match status {
        Some(status) => (status.success(), text),
        None => panic!("schemathesis ran past {FUZZ_TIME_LIMIT:?} and was stopped:\n{text}"),
    }
}

#[test]
#[ignore = "needs schemathesis: run ./test"]
fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe() {
    require_python_tool("schemathesis");
    let server =
        TestServer::start_with(Options::default().env("SHIPSTAR_ALLOW_REGISTRATION", "true"));
    let fixture = prepare(&server);
    let doc = server.get(DOCUMENT).send().json();
    // Every operation under /api/. The MCP endpoint is documented too but left out of this run:
    // its body is JSON-RPC, whose methods and tool arguments an OpenAPI schema cannot describe
    // closely enough for generated cases to mean anything; tests/integration/mcp.rs checks each
    // of its rules, and the `mcp` fuzz target (and its seeded loop) fuzzes its body.
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.starts_with("/api/"))
        .map(|(_, item)| item.as_object().unwrap().len())
        .sum();

    let (passed, output) = run_schemathesis(&server, &fixture);
    assert!(passed, "schemathesis found problems:\n{output}");
    assert!(
        output.contains(&format!("Tested: {operations}")),
        "schemathesis did not test all {operations} operations:\n{output}"
    );
    let log = server.log();
    assert!(
        !log.contains(" 500: ") && !log.contains("panicked"),
        "the server logged an internal error during the run:\n{log}"
    );
    // The hooks kept the run's credentials alive to the end, so its answers meant something.
    server
        .get("/api/internal/users/me")
        .bearer(&fixture.token)
        .send()
        .expect_status(200);
    server
        .get("/api/v1/me")
        .bearer(&fixture.key)
        .send()
        .expect_status(200);
}
