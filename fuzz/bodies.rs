//! What each fuzz target does with its input, shared by the cargo-fuzz targets in
//! `fuzz_targets/` and by the bounded loops in `tests/integration/fuzz_loops.rs`, which run the
//! same checks on generated input in every `cargo test`.
//!
//! Every function must return normally for any input: a panic is the finding.

use shipstar::auth::{api_key, jwt};
use shipstar::http::{wire, Request};
use std::sync::OnceLock;

/// The keys tokens are verified against.
fn keys() -> Vec<jwt::SigningKey> {
    vec![jwt::SigningKey::new(
        "k1",
        b"fuzz-secret-fuzz-secret-fuzz-secret!".to_vec(),
    )]
}

/// The JWT verifier on arbitrary text, and on arbitrary header and payload bytes carrying a
/// valid signature (so the input gets past the MAC into the JSON and claim checks).
pub fn jwt(data: &[u8]) {
    let keys = keys();
    let validation = jwt::Validation::new(0);
    let now = 1_700_000_000;
    let text = String::from_utf8_lossy(data);
    if let Ok(claims) = jwt::verify(&text, &keys, &validation, now) {
        assert_eq!(claims.aud, jwt::AUDIENCE);
    }
    // Split the input into a header and a payload and sign them properly.
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (header, payload) = data.split_at(cut);
    let signing_input = format!(
        "{}.{}",
        jwt::b64url_encode(header),
        jwt::b64url_encode(payload)
    );
    let token = format!(
        "{signing_input}.{}",
        jwt::sign_input(signing_input.as_bytes(), &keys[0].secret)
    );
    if let Ok(claims) = jwt::verify(&token, &keys, &validation, now) {
        assert_eq!(claims.aud, jwt::AUDIENCE);
        assert!(now < claims.exp, "an expired token was accepted");
    }
    // And the base64url decoder on its own: whatever it accepts re-encodes to the same text.
    if let Some(bytes) = jwt::b64url_decode(&text) {
        assert_eq!(jwt::b64url_encode(&bytes), text);
    }
}

/// The API-key shape and checksum check on arbitrary text.
pub fn api_key(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if api_key::is_well_formed(&text) {
        assert_eq!(text.len(), api_key::KEY_LEN);
        assert!(text.starts_with("sk_live_"));
        assert_eq!(api_key::prefix_of(&text).len(), 16);
    }
    assert_eq!(api_key::hash(&text).len(), 64);
}

/// The application, built once on a temporary database, and a session token of its
/// administrator.
struct App {
    app: shipstar::api::App,
    token: String,
    /// An API key of the administrator's `default` project.
    key: String,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("shipstar-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = shipstar::config::Config::defaults();
        config.database =
            shipstar::config::DatabaseLocation::new(dir.join("fuzz.db").display().to_string());
        config.argon2_memory_kib = 64;
        config.argon2_iterations = 1;
        config.admin_email = shipstar::email::Email::parse("admin@example.com").ok();
        config.admin_password = Some(shipstar::config::Secret::new("fuzz-password".into()));
        config.rate_limit_public_per_minute = 0;
        config.rate_limit_auth_per_minute = 0;
        config.rate_limit_login_per_minute = 0;
        config.rate_limit_login_email_per_minute = 0;
        config.rate_limit_refresh_per_minute = 0;
        let app = shipstar::server::build_app(config, shipstar::clock::Clock::System)
            .expect("app builds");
        let login = Request::new("POST", "/api/internal/auth/jwt/login")
            .with_header("Content-Type", "application/x-www-form-urlencoded")
            .with_body("username=admin%40example.com&password=fuzz-password");
        let response = shipstar::api::handle(&app, &login);
        assert_eq!(response.status, 200, "fuzz login");
        let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
        let token = body["access_token"].as_str().expect("token").to_string();
        let authorized = |request: Request| {
            let response = shipstar::api::handle(
                &app,
                &request.with_header("Authorization", &format!("Bearer {token}")),
            );
            serde_json::from_slice::<serde_json::Value>(&response.body).expect("JSON")
        };
        let projects = authorized(Request::new("GET", "/api/internal/projects"));
        let project = projects[0]["id"].as_str().expect("project id");
        let created = authorized(
            Request::new(
                "POST",
                &format!("/api/internal/projects/{project}/api-keys"),
            )
            .with_header("Content-Type", "application/json")
            .with_body(r#"{"name": "fuzz"}"#),
        );
        let key = created["key"].as_str().expect("key").to_string();
        App { app, token, key }
    })
}

/// One request through the whole application. Input that is an HTTP/1.1 request head (with
/// its body after it) goes through the server's own parser, as it would off the socket;
/// anything else is read loosely as `METHOD TARGET\nName: value\n...\n\nBODY`, so that
/// mutations of the body and headers still reach the handlers. `{TOKEN}` is replaced by a
/// valid session token so that input gets past authentication. Any answer but 500 is fine.
pub fn request(data: &[u8]) {
    let fixture = app();
    let text = String::from_utf8_lossy(data).replace("{TOKEN}", &fixture.token);
    let bytes = text.as_bytes();
    let parsed =
        wire::head_end(bytes, 0).and_then(|end| Some((wire::parse_head(&bytes[..end]).ok()?, end)));
    let request = match parsed {
        Some((head, end)) => head.into_request(bytes[end..].to_vec(), None),
        None => loose_request(&text),
    };
    let response = shipstar::api::handle(&fixture.app, &request);
    assert!(
        (100..600).contains(&response.status) && response.status != 500,
        "{} {} answered {}: {}",
        request.method,
        request.path,
        response.status,
        String::from_utf8_lossy(&response.body)
    );
}

fn loose_request(text: &str) -> Request {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
    let mut request = Request::new(method, target).with_body(body.as_bytes().to_vec());
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            request = request.with_header(name.trim(), value.trim());
        }
    }
    request
}

/// The server's HTTP/1.1 reading and writing on arbitrary bytes: finding the end of a head
/// (also when it arrives in two pieces), parsing it, checking its `Host`, framing its body,
/// reading a chunk size and a trailer line, and writing an answer with the parsed headers
/// echoed back. What the parser accepts must be
/// what the rest of the server relies on: an origin-form target, token names in lower case,
/// values without control characters, and an answer that cannot be split by a header value.
pub fn wire(data: &[u8]) {
    let end = wire::head_end(data, 0);
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    if wire::head_end(&data[..split], 0).is_none() {
        assert_eq!(wire::head_end(data, split), end, "resumed search differs");
    }
    let _ = wire::chunk_size(data);
    let _ = wire::is_field_line(data);
    let Some(end) = end else {
        return;
    };
    let Ok(head) = wire::parse_head(&data[..end]) else {
        return;
    };
    assert!(head.target.starts_with('/'), "target {:?}", head.target);
    assert!(head.minor_version <= 1);
    if let Some(authority) = &head.authority {
        assert!(!authority.is_empty() && !authority.contains(['@', '/', '?', '#']));
    }
    let _ = wire::check_host(&head);
    for (name, value) in &head.headers {
        assert!(!name.is_empty() && *name == name.to_ascii_lowercase());
        assert!(!value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0));
    }
    let _ = wire::framing(&head);
    let mut out = Vec::new();
    let echoed = head.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    wire::write_response(&mut out, head.minor_version, 200, echoed, b"{}", false);
    let blank = out.windows(4).position(|w| w == b"\r\n\r\n");
    assert_eq!(
        blank,
        Some(out.len() - 6),
        "a header value split the answer"
    );
}

/// The revisions the `mcp` target names in `MCP-Protocol-Version`, picked by the first byte
/// (the last ones are not served, and the empty one leaves the header out).
const MCP_REVISIONS: [&str; 7] = [
    "",
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
    "1999-01-01",
];

/// One `POST /mcp` with a valid API key: the first byte picks the `MCP-Protocol-Version`
/// header (and, when odd in its high bit, the stateless routing headers), the rest is the
/// body. The endpoint must never fail as a server: any answer but 500, a 202 has no body, and
/// every 200 is a JSON-RPC 2.0 response or an array of them.
pub fn mcp(data: &[u8]) {
    let fixture = app();
    let (selector, body) = data.split_first().map_or((0, data), |(b, rest)| (*b, rest));
    let mut request = Request::new("POST", "/mcp")
        .with_header("Authorization", &format!("Bearer {}", fixture.key))
        .with_header("Accept", "application/json, text/event-stream")
        .with_header("Content-Type", "application/json")
        .with_body(body.to_vec());
    let revision = MCP_REVISIONS[usize::from(selector) % MCP_REVISIONS.len()];
    if !revision.is_empty() {
        request = request.with_header("MCP-Protocol-Version", revision);
    }
    if selector & 0x80 != 0 {
        request = request
            .with_header("Mcp-Method", "tools/call")
            .with_header("Mcp-Name", "list_changelogs");
    }
    let response = shipstar::api::handle(&fixture.app, &request);
    let text = String::from_utf8_lossy(&response.body);
    assert!(
        matches!(response.status, 200 | 202 | 400 | 404 | 413 | 429),
        "POST /mcp answered {}: {text}",
        response.status
    );
    if response.status == 202 {
        assert!(response.body.is_empty(), "a 202 with a body: {text}");
    }
    if response.status == 200 {
        let answer: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
        let replies = match &answer {
            serde_json::Value::Array(replies) => replies.clone(),
            single => vec![single.clone()],
        };
        for reply in replies {
            assert_eq!(reply["jsonrpc"], "2.0", "{text}");
            assert!(
                reply.get("result").is_some() != reply.get("error").is_some(),
                "{text}"
            );
        }
    }
}
