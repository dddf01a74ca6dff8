//! What each fuzz target does with its input, shared by the cargo-fuzz targets in
//! `fuzz_targets/` and by the bounded loops in `tests/integration/fuzz_loops.rs`, which run the
//! same checks on generated input in every `cargo test`.
//!
//! Every function must return normally for any input: a panic is the finding.

use shipstar::auth::{api_key, jwt};
use shipstar::http::Request;
use std::sync::OnceLock;

/// The keys tokens are verified against.
fn keys() -> Vec<jwt::SigningKey> {
    vec![jwt::SigningKey {
        kid: "k1".into(),
        secret: b"fuzz-secret-fuzz-secret-fuzz-secret!".to_vec(),
    }]
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
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("shipstar-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = shipstar::config::Config::defaults();
        config.database = dir.join("fuzz.db").display().to_string();
        config.argon2_memory_kib = 64;
        config.argon2_iterations = 1;
        config.admin_email = Some("admin@example.com".into());
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
        App { app, token }
    })
}

/// One request through the whole application, read from `data` as
/// `METHOD TARGET\nName: value\n...\n\nBODY`, with `{TOKEN}` replaced by a valid session
/// token so that input gets past authentication. Any answer but 500 is fine.
pub fn request(data: &[u8]) {
    let fixture = app();
    let text = String::from_utf8_lossy(data).replace("{TOKEN}", &fixture.token);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
    let mut request = Request::new(method, target).with_body(body.as_bytes().to_vec());
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            request = request.with_header(name.trim(), value.trim());
        }
    }
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
