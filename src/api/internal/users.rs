//! The caller's own account and, for superusers, every account.

use super::auth::read_new_account;
use crate::accounts;
use crate::accounts::{check_password, PasswordProblem};
use crate::api::extract::{self, JsonFields};
use crate::api::field_rules::{self, MAX_EMAIL_CHARS, MAX_PERSON_NAME_CHARS};
use crate::api::principal::{require_session, require_superuser};
use crate::api::respond::ok;
use crate::api::{dto, throttle, App, Ctx};
use crate::auth::password::Verdict;
use crate::auth::ratelimit::Class;
use crate::email;
use crate::error::{Error, FieldError};
use crate::http::Response;
use crate::ids::UserId;
use crate::store::{Audit, RevokeSessions, UserChanges};

/// `GET /api/internal/users/me`.
pub fn get_me(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    Ok(ok(&dto::user(&caller.user)))
}

/// Reads the fields of a user update common to both PATCH routes; `password` is checked
/// (too short: 400 with `invalid_password_code`; too long: 422) and hashed.
fn read_changes(
    app: &App,
    fields: &mut JsonFields<'_>,
    invalid_password_code: &str,
) -> Result<(UserChanges, bool), Error> {
    let mut changes = UserChanges {
        first_name: fields.nullable_string("first_name", MAX_PERSON_NAME_CHARS),
        last_name: fields.nullable_string("last_name", MAX_PERSON_NAME_CHARS),
        email: fields.optional_string("email", 1, MAX_EMAIL_CHARS),
        ..UserChanges::default()
    };
    if let Some(text) = changes.email.take() {
        let email = field_rules::email(fields, &text);
        changes.email = Some(email).filter(|email| !email.is_empty());
    }
    let password = fields.optional_string("password", 0, usize::MAX);
    if let Some(password) = &password {
        field_rules::check_password_not_too_long(fields, password);
    }
    let password_given = password.is_some();
    if !fields.problems.is_empty() {
        return Ok((changes, password_given));
    }
    if let Some(password) = password {
        let password = field_rules::new_password(&password, invalid_password_code)?;
        changes.password_hash = Some(accounts::hash_password(&app.hasher, &password)?);
    }
    Ok((changes, password_given))
}

/// `PATCH /api/internal/users/me`: names, email, password. Email and password changes need
/// `current_password`, checked under the login limits (429 past them); a password change
/// signs out every other session.
pub fn patch_me(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let body = extract::json_object(ctx.req)?;
    let mut fields = JsonFields::new(&body);
    let sensitive = fields.has("email") || fields.has("password");
    let current_password = fields.optional_string("current_password", 0, usize::MAX);
    if sensitive && current_password.is_none() {
        fields
            .problems
            .push(FieldError::missing(&["body", "current_password"]));
    }
    // Check the current password before hashing a new one: a wrong guess costs one hash.
    if let (true, Some(current)) = (sensitive, &current_password) {
        // A session is not proof of knowing the password (it may be stolen), so this check
        // is a login attempt in all but name: it spends the same per-IP and per-email
        // budgets as the login route (the account's own email, the very bucket a login as
        // this account uses), before any hashing, so guesses here and at login add up.
        throttle(app, ctx, Class::LoginIp, &ctx.client_ip(app))?;
        throttle(
            app,
            ctx,
            Class::LoginEmail,
            &email::normalise(&caller.user.email),
        )?;
        if check_password(current) == Err(PasswordProblem::TooLong)
            || app.hasher.verify(current, &caller.user.password_hash) == Verdict::Mismatch
        {
            fields.finish()?;
            return Err(Error::bad_request("CURRENT_PASSWORD_INCORRECT"));
        }
    }
    let (mut changes, password_changed) =
        read_changes(app, &mut fields, "UPDATE_USER_INVALID_PASSWORD")?;
    fields.finish()?;
    if changes.email.as_deref() == Some(caller.user.email.as_str()) {
        changes.email = None;
    }
    let revoke = if password_changed {
        RevokeSessions::AllExcept(&caller.session.id)
    } else {
        RevokeSessions::None
    };
    let audit = ctx.audit(app, Audit::user(&caller.user));
    let user = app.store.update_user(
        &caller.user.id,
        &changes,
        revoke,
        &audit,
        app.clock.now_secs(),
    )?;
    Ok(ok(&dto::user(&user)))
}

/// `GET /api/internal/users` (superuser): every user.
pub fn get_users(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    require_superuser(app, ctx)?;
    let users = app.store.list_users()?;
    let objects: Vec<dto::UserObject<'_>> = users.iter().map(dto::user).collect();
    Ok(ok(&objects))
}

/// `POST /api/internal/users` (superuser): creates a user → 201; a taken email is 409.
pub fn post_user(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_superuser(app, ctx)?;
    let body = extract::json_object(ctx.req)?;
    let account = read_new_account(&body, true, "REGISTER_INVALID_PASSWORD")?;
    let audit = ctx.audit(app, Audit::user(&caller.user));
    let now = app.clock.now_secs();
    let user = accounts::create_user(&app.store, &app.hasher, account, &audit, "api", now)?;
    Ok(Response::json(201, &dto::user(&user)))
}

/// `PATCH /api/internal/users/{id}` (superuser): flags, names, email, password.
/// Deactivation revokes every session of the user at once; a new password signs them out
/// everywhere.
pub fn patch_user(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_superuser(app, ctx)?;
    let id: UserId = ctx.params.id("id")?;
    let body = extract::json_object(ctx.req)?;
    let mut fields = JsonFields::new(&body);
    let is_active = fields.optional_bool("is_active");
    let is_verified = fields.optional_bool("is_verified");
    let is_superuser = fields.optional_bool("is_superuser");
    let (mut changes, password_changed) =
        read_changes(app, &mut fields, "UPDATE_USER_INVALID_PASSWORD")?;
    fields.finish()?;
    changes.is_active = is_active;
    changes.is_verified = is_verified;
    changes.is_superuser = is_superuser;
    let revoke = if password_changed {
        RevokeSessions::All
    } else {
        RevokeSessions::None
    };
    let audit = ctx.audit(app, Audit::user(&caller.user));
    let user = app
        .store
        .update_user(&id, &changes, revoke, &audit, app.clock.now_secs())?;
    Ok(ok(&dto::user(&user)))
}

#[cfg(test)]
mod tests {
    use crate::api::{handle, App};
    use crate::clock::Clock;
    use crate::config::{Config, Overrides};
    use crate::http::{Request, Response};
    use serde_json::{json, Value};
    use std::net::IpAddr;
    use std::path::PathBuf;

    const EMAIL: &str = "owner@example.com";
    const PASSWORD: &str = "the-right-password";

    /// An application on a fresh database in a temporary folder, removed with the guard.
    struct TempApp {
        app: App,
        dir: PathBuf,
    }

    impl Drop for TempApp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// An application with one superuser (`EMAIL`), cheap Argon2, the login limits given and
    /// every other limit off, on `clock`.
    fn app(login_per_ip: &str, login_per_email: &str, clock: Clock) -> TempApp {
        let dir =
            std::env::temp_dir().join(format!("shipstar-users-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("test.db").to_string_lossy().into_owned();
        let env = |name: &str| {
            Some(match name {
                "SHIPSTAR_DATABASE" => database.clone(),
                "SHIPSTAR_ADMIN_EMAIL" => EMAIL.into(),
                "SHIPSTAR_ADMIN_PASSWORD" => PASSWORD.into(),
                "SHIPSTAR_ARGON2_MEMORY_KIB" => "64".into(),
                "SHIPSTAR_ARGON2_ITERATIONS" => "1".into(),
                "SHIPSTAR_ARGON2_PARALLELISM" => "1".into(),
                "SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE" => login_per_ip.into(),
                "SHIPSTAR_RATE_LIMIT_LOGIN_EMAIL_PER_MINUTE" => login_per_email.into(),
                "SHIPSTAR_RATE_LIMIT_AUTH_PER_MINUTE" => "0".into(),
                "SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE" => "0".into(),
                _ => return None,
            })
        };
        let config = Config::load(None, &env, &Overrides::default()).unwrap();
        let app = crate::server::build_app(config, clock).unwrap();
        TempApp { app, dir }
    }

    fn from(req: Request, ip: &str) -> Request {
        let mut req = req;
        req.peer = Some(ip.parse::<IpAddr>().unwrap());
        req
    }

    fn login(app: &App, ip: &str) -> String {
        let req = Request::new("POST", "/api/internal/auth/jwt/login")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(format!("username={EMAIL}&password={PASSWORD}"));
        let resp = handle(app, &from(req, ip));
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    fn change_email(app: &App, token: &str, ip: &str, current: &str) -> Response {
        let body = json!({"email": "new@example.com", "current_password": current});
        let req = Request::new("PATCH", "/api/internal/users/me")
            .with_header("authorization", &format!("Bearer {token}"))
            .with_header("content-type", "application/json")
            .with_body(body.to_string());
        handle(app, &from(req, ip))
    }

    #[track_caller]
    fn assert_throttled(resp: &Response) {
        assert_eq!(resp.status, 429, "{}", String::from_utf8_lossy(&resp.body));
        let retry: u64 = resp.header("Retry-After").unwrap().parse().unwrap();
        assert!(retry >= 1);
        assert_eq!(resp.header("X-RateLimit-Remaining"), Some("0"));
        assert!(resp.header("X-RateLimit-Limit").is_some());
        assert!(resp.header("X-RateLimit-Reset").is_some());
    }

    #[test]
    fn wrong_current_passwords_spend_the_login_budget_of_the_client_ip() {
        let clock = Clock::fixed(1_800_000_000);
        let temp = app("4", "0", clock.clone());
        let token = login(&temp.app, "192.0.2.1");
        // The login spent one of the four; three wrong guesses are answered, the next is not,
        // even with the right password: the throttle comes before the check.
        for _ in 0..3 {
            let resp = change_email(&temp.app, &token, "192.0.2.1", "a-wrong-guess");
            assert_eq!(resp.status, 400, "{}", String::from_utf8_lossy(&resp.body));
            assert_eq!(resp.header("X-RateLimit-Limit"), Some("4"));
        }
        assert_throttled(&change_email(
            &temp.app,
            &token,
            "192.0.2.1",
            "a-wrong-guess",
        ));
        assert_throttled(&change_email(&temp.app, &token, "192.0.2.1", PASSWORD));
        // Another address has its own budget; the limit refills with time.
        let resp = change_email(&temp.app, &token, "192.0.2.2", "a-wrong-guess");
        assert_eq!(resp.status, 400);
        clock.advance_millis(60_000);
        let resp = change_email(&temp.app, &token, "192.0.2.1", PASSWORD);
        assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    }

    #[test]
    fn wrong_current_passwords_spend_the_login_budget_of_the_accounts_email() {
        let clock = Clock::fixed(1_800_000_000);
        let temp = app("0", "3", clock.clone());
        let token = login(&temp.app, "192.0.2.1");
        // Fresh addresses do not help: the account's email is the key.
        for ip in ["198.51.100.1", "198.51.100.2"] {
            assert_eq!(
                change_email(&temp.app, &token, ip, "a-wrong-guess").status,
                400
            );
        }
        assert_throttled(&change_email(
            &temp.app,
            &token,
            "198.51.100.3",
            "a-wrong-guess",
        ));
        // A login as the same account draws on the same budget.
        let req = Request::new("POST", "/api/internal/auth/jwt/login")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(format!("username={EMAIL}&password={PASSWORD}"));
        assert_throttled(&handle(&temp.app, &from(req, "198.51.100.4")));
    }

    #[test]
    fn changes_without_current_password_do_not_touch_the_login_budget() {
        let clock = Clock::fixed(1_800_000_000);
        let temp = app("2", "0", clock);
        let token = login(&temp.app, "192.0.2.1");
        for _ in 0..5 {
            let req = Request::new("PATCH", "/api/internal/users/me")
                .with_header("authorization", &format!("Bearer {token}"))
                .with_header("content-type", "application/json")
                .with_body(r#"{"first_name": "Ada"}"#);
            let resp = handle(&temp.app, &from(req, "192.0.2.1"));
            assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
        }
        let resp = change_email(&temp.app, &token, "192.0.2.1", "a-wrong-guess");
        assert_eq!(resp.status, 400, "{}", String::from_utf8_lossy(&resp.body));
    }
}
