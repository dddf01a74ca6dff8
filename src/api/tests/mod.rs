//! In-process tests of the handlers: an [`App`] on a temporary database and a fixed
//! [`Clock`], driven through [`handle`] with [`Request`]s built in memory.
//!
//! No socket, no binary and no waiting: the time rules (refresh reuse window, session age,
//! key expiry, roll expiry, list order) move the clock by hand, and the authorization table
//! runs hundreds of requests in well under a second. The black-box suite in `tests/` keeps
//! testing the wire.

mod authorization;
mod dispatch;
mod malformed_ids;
mod route_params;
mod time_rules;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde_json::{json, Value};

use super::{handle, App};
use crate::clock::Clock;
use crate::config::{Config, Overrides};
use crate::http::{Request, Response};

/// The first-start superuser every test app has.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// Password of every user these tests create.
pub const PASSWORD: &str = "a-long-enough-password";
/// A fixed start time (2027-01-15T08:00:00Z), far from any day boundary that matters.
pub const START: i64 = 1_800_000_000;
/// The configured HMAC secret, so tests can sign tokens the server accepts.
pub const JWT_SECRET: &str = "in-process-test-secret-of-at-least-32-bytes";

/// An application on its own temporary database, removed on drop.
pub struct TestApp {
    /// The application, as the HTTP layer would call it.
    pub app: App,
    /// The app's clock; tests move it with [`Clock::advance_millis`].
    pub clock: Clock,
    dir: PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestApp {
    /// An app at [`START`] with the superuser [`ADMIN_EMAIL`], cheap Argon2, every rate limit
    /// off, and `env` (`SHIPSTAR_*` names) on top.
    pub fn new(env: &[(&str, &str)]) -> TestApp {
        let dir =
            std::env::temp_dir().join(format!("shipstar-in-process-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("test.db").to_string_lossy().into_owned();
        let defaults = [
            ("SHIPSTAR_DATABASE", database.as_str()),
            ("SHIPSTAR_JWT_SECRET", JWT_SECRET),
            ("SHIPSTAR_ADMIN_EMAIL", ADMIN_EMAIL),
            ("SHIPSTAR_ADMIN_PASSWORD", PASSWORD),
            ("SHIPSTAR_ARGON2_MEMORY_KIB", "64"),
            ("SHIPSTAR_ARGON2_ITERATIONS", "1"),
            ("SHIPSTAR_ARGON2_PARALLELISM", "1"),
            ("SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE", "0"),
            ("SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE", "0"),
            ("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "0"),
            ("SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE", "0"),
            ("SHIPSTAR_RATE_LIMIT_REFRESH_PER_MINUTE", "0"),
        ];
        let lookup = |name: &str| {
            env.iter()
                .chain(defaults.iter())
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        let config = Config::load(None, &lookup, &Overrides::default()).unwrap();
        let clock = Clock::fixed(START);
        let app = crate::server::build_app(config, clock.clone()).unwrap();
        TestApp { app, clock, dir }
    }

    /// Answers `req` as the server would for a client at 192.0.2.1.
    pub fn send(&self, req: Request) -> Response {
        let mut req = req;
        req.peer = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        handle(&self.app, &req)
    }

    /// `method path` with `credential` as bearer (if any) and `body` as JSON (if any).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        credential: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut req = Request::new(method, path);
        if let Some(credential) = credential {
            req = req.with_header("authorization", &format!("Bearer {credential}"));
        }
        if let Some(body) = body {
            req = req
                .with_header("content-type", "application/json")
                .with_body(body.to_string());
        }
        self.send(req)
    }

    /// A session token for `email` (password [`PASSWORD`]); panics unless login answers 200.
    pub fn login(&self, email: &str) -> String {
        let req = Request::new("POST", "/api/internal/auth/jwt/login")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(format!("username={email}&password={PASSWORD}"));
        let resp = self.send(req);
        let body = expect(&resp, 200, "login");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A session token of the superuser.
    pub fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL)
    }

    /// Creates a user as the superuser `admin` and returns (id, session token).
    pub fn create_user(&self, admin: &str, email: &str) -> (String, String) {
        let body = json!({"email": email, "password": PASSWORD});
        let resp = self.call("POST", "/api/internal/users", Some(admin), Some(&body));
        let user = expect(&resp, 201, "create user");
        (id_of(&user), self.login(email))
    }

    /// `POST path` with `body` as `token`, which must answer `status`; returns the body.
    pub fn post_ok(&self, token: &str, path: &str, body: &Value, status: u16) -> Value {
        let resp = self.call("POST", path, Some(token), Some(body));
        expect(&resp, status, &format!("POST {path}"))
    }
}

/// The JSON body of `resp` after checking its status; the failure shows the whole answer.
#[track_caller]
pub fn expect(resp: &Response, status: u16, case: &str) -> Value {
    assert_eq!(
        resp.status,
        status,
        "{case}: headers {:?}, body {}",
        resp.headers,
        String::from_utf8_lossy(&resp.body)
    );
    serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
}

/// The `id` member of an object.
pub fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}
