//! Sign-in, token refresh with rotation, sign-out, registration and session management.

use crate::accounts::{self, check_password, NewAccount, PasswordProblem};
use crate::api::extract::{self, Fields, JsonFields};
use crate::api::field_rules::{self, password_too_long};
use crate::api::principal::{live_session_of, require_session};
use crate::api::respond::token_response;
use crate::api::router::PathId;
use crate::api::{dto, throttle, App, Ctx};
use crate::auth::jwt::{self, Claims, Validation, AUDIENCE};
use crate::auth::password::Verdict;
use crate::auth::ratelimit::Class;
use crate::email;
use crate::error::{AuthFailure, Error};
use crate::http::Response;
use crate::ids::SessionId;
use crate::store::{Audit, AuditAction, User};
use serde_json::{json, Value};

/// Two tabs refreshing the same token within this many seconds both get a token for the
/// current generation instead of tripping the theft alarm.
pub const REUSE_WINDOW_SECS: i64 = 10;

/// Signs a token for generation `gen` of a session. `exp` never passes the session's
/// absolute end. Returns the token and its lifetime in seconds.
fn issue_token(
    app: &App,
    user_id: &str,
    session_id: &str,
    gen: i64,
    session_created_at: i64,
    now: i64,
) -> Result<(String, i64), Error> {
    let key = app.keys.signing_key(&app.store)?;
    let session_end = session_created_at.saturating_add(app.config.session_max_age_seconds);
    let exp = now
        .saturating_add(app.config.jwt_lifetime_seconds)
        .min(session_end);
    let claims = Claims {
        sub: user_id.to_string(),
        sid: session_id.to_string(),
        gen,
        iat: now,
        exp,
        aud: AUDIENCE.to_string(),
        jti: crate::ids::random_hex(16),
        nbf: None,
    };
    Ok((jwt::sign(&claims, &key), exp - now))
}

/// `POST /api/internal/auth/jwt/login` (form): a token for a new session.
///
/// Unknown email, wrong password and inactive user get the same 400 after the same hashing
/// work, so neither the answer nor its timing tells whether an account exists.
pub fn post_login(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    // Both limits are checked before any hashing: a flood costs no Argon2 work.
    throttle(app, ctx, Class::LoginIp, &ctx.client_ip(app))?;
    let fields = Fields::from_form(ctx.req)?;
    let mut problems = Vec::new();
    let username = fields.required("username", &mut problems);
    let password = fields.required("password", &mut problems);
    for ignored in ["grant_type", "scope", "client_id", "client_secret"] {
        fields.optional(ignored, &mut problems);
    }
    if let Some(password) = password {
        if check_password(password) == Err(PasswordProblem::TooLong) {
            problems.push(password_too_long());
        }
    }
    let (Some(username), Some(password)) = (username, password) else {
        return Err(Error::Validation(problems));
    };
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    throttle(app, ctx, Class::LoginEmail, &email::normalise(username))?;
    let bad_credentials = || Error::bad_request("LOGIN_BAD_CREDENTIALS");
    let Some(mut user) = app.store.user_by_email(username.trim())? else {
        app.hasher.burn(password);
        record_failed_login(app, ctx, None, "unknown_email")?;
        return Err(bad_credentials());
    };
    let Verdict::Match { needs_rehash } = app.hasher.verify(password, &user.password_hash) else {
        record_failed_login(app, ctx, Some(&user), "bad_password")?;
        return Err(bad_credentials());
    };
    if !user.is_active {
        record_failed_login(app, ctx, Some(&user), "user_inactive")?;
        return Err(bad_credentials());
    }
    if app.config.require_verified && !user.is_verified {
        record_failed_login(app, ctx, Some(&user), "user_not_verified")?;
        return Err(Error::bad_request("LOGIN_USER_NOT_VERIFIED"));
    }
    let now = app.clock.now_secs();
    if needs_rehash {
        if let Ok(hash) = app.hasher.hash(password) {
            // An upgrade that fails (e.g. a busy database) is retried at the next login.
            if let Ok(true) = app
                .store
                .upgrade_password_hash(&user.id, &user.password_hash, &hash)
            {
                user.password_hash = hash;
            }
        }
    }
    let user_agent = ctx.user_agent();
    // The client, not a trusted proxy in front of it (auth.md: one client IP everywhere).
    let ip = ctx.client_addr(app).map(|ip| ip.to_string());
    let provisional_exp = now.saturating_add(app.config.jwt_lifetime_seconds);
    let session = app
        .store
        .create_session(
            &user,
            user_agent.as_deref(),
            ip.as_deref(),
            &ctx.audit(app, Audit::user(&user)),
            now,
            provisional_exp,
        )?
        // Deactivated, or the password changed, since the check above: as after the change.
        .ok_or_else(bad_credentials)?;
    let (token, expires_in) = issue_token(app, &user.id, &session.id, 0, now, now)?;
    ctx.used.principal = Some(format!("user:{}", user.id));
    Ok(token_response(200, &dto::token(&token, expires_in)))
}

/// Appends `auth.login_failed` for an attempt that reached the password check (throttled
/// and malformed attempts write nothing, so a flood cannot grow the log beyond the login
/// limits). The actor is anonymous: nobody proved who they are. The target is the account
/// when the email names one; otherwise there is no target, and nothing derived from the
/// submitted email (not even a hash, which a dictionary would reverse) is stored.
fn record_failed_login(
    app: &App,
    ctx: &Ctx<'_>,
    user: Option<&User>,
    reason: &str,
) -> Result<(), Error> {
    let mut event = ctx
        .audit(app, Audit::anonymous())
        .event(AuditAction::LoginFailed, app.clock.now_secs())
        .details(json!({ "reason": reason }));
    if let Some(user) = user {
        event = event.target("user", &user.id, Some(&user.email));
    }
    app.store.record_audit(&event).map(|_| ())
}

/// `POST /api/internal/auth/jwt/refresh`: rotates the session to the next generation.
///
/// The presented token may be expired, up to `refresh_grace_seconds` ago. Presenting the
/// generation just replaced within [`REUSE_WINDOW_SECS`] returns a token for the current one
/// (concurrent refreshes); presenting anything older is treated as theft: the whole session
/// is revoked.
pub fn post_refresh(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let unauthorized = || Error::Unauthorized(AuthFailure::Session);
    let token = match extract::credential(ctx.req, &AuthFailure::Session)? {
        extract::Credential::Jwt(token) => token,
        _ => return Err(unauthorized()),
    };
    let now = app.clock.now_secs();
    let validation = Validation {
        allow_expired: true,
        ..Validation::new(app.config.jwt_leeway_seconds)
    };
    let verified = app
        .keys
        .verify(&app.store, token, &validation, now)
        .map_err(|_| unauthorized())?;
    let claims = &verified.claims;
    throttle(app, ctx, Class::Refresh, &claims.sid)?;
    if claims.exp.saturating_add(app.config.refresh_grace_seconds) <= now {
        return Err(unauthorized());
    }
    let (user, mut session) = live_session_of(app, &verified, now)?;
    ctx.used.principal = Some(format!("user:{}", user.id));
    if claims.gen == session.generation {
        let next_exp = now.saturating_add(app.config.jwt_lifetime_seconds);
        if app
            .store
            .rotate_session(&session.id, claims.gen, now, next_exp)?
        {
            let (token, expires_in) = issue_token(
                app,
                &user.id,
                &session.id,
                claims.gen + 1,
                session.created_at,
                now,
            )?;
            return Ok(token_response(200, &dto::token(&token, expires_in)));
        }
        // Another refresh of the same token won the race; judge against its result.
        session = app
            .store
            .session_by_id(&session.id)?
            .filter(|s| s.revoked_at.is_none())
            .ok_or_else(unauthorized)?;
    }
    if claims.gen == session.generation - 1 && now - session.rotated_at <= REUSE_WINDOW_SECS {
        let (token, expires_in) = issue_token(
            app,
            &user.id,
            &session.id,
            session.generation,
            session.created_at,
            now,
        )?;
        app.store
            .extend_session_token(&session.id, now, now + expires_in)?;
        return Ok(token_response(200, &dto::token(&token, expires_in)));
    }
    // Theft signal: the presenter holds a token of this user (it may be a thief).
    app.store.revoke_session(
        &user.id,
        &session.id,
        &ctx.audit(app, Audit::user(&user)),
        AuditAction::SessionReuseDetected,
        json!({
            "presented_generation": claims.gen,
            "current_generation": session.generation,
        }),
        now,
    )?;
    Err(unauthorized())
}

/// `POST /api/internal/auth/jwt/logout`: revokes the caller's session at once.
pub fn post_logout(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let now = app.clock.now_secs();
    app.store.revoke_session(
        &caller.user.id,
        &caller.session.id,
        &ctx.audit(app, Audit::user(&caller.user)),
        AuditAction::Logout,
        json!({}),
        now,
    )?;
    Ok(Response::empty(204))
}

/// `POST /api/internal/auth/register` (JSON): self-service sign-up, off unless
/// `allow_registration` is on.
pub fn post_register(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    throttle(app, ctx, Class::LoginIp, &ctx.client_ip(app))?;
    if !app.config.allow_registration {
        return Err(Error::Forbidden(
            "Registration is disabled on this server".into(),
        ));
    }
    let body = extract::json_object(ctx.req)?;
    let account = read_new_account(&body, false, "REGISTER_INVALID_PASSWORD")?;
    // Nobody is signed in: the actor is anonymous, the new account the target.
    let audit = ctx.audit(app, Audit::anonymous());
    let now = app.clock.now_secs();
    match accounts::create_user(&app.store, &app.hasher, account, &audit, "register", now) {
        Ok(user) => Ok(Response::json(201, &dto::user(&user))),
        Err(Error::Conflict(_)) => Err(Error::bad_request("REGISTER_USER_ALREADY_EXISTS")),
        Err(other) => Err(other),
    }
}

/// Reads `{"email", "password", "first_name"?, "last_name"?}` (and the admin flags when
/// `admin` is true) into a [`NewAccount`]. A password too short answers 400
/// `{"code": invalid_password_code, "reason": ...}`; one over 1024 characters is 422 with the
/// other fields' problems, before any hashing.
pub fn read_new_account(
    body: &serde_json::Map<String, Value>,
    admin: bool,
    invalid_password_code: &str,
) -> Result<NewAccount, Error> {
    let (email, password, first_name, last_name, is_superuser, is_verified) =
        JsonFields::parse(body, |fields| {
            let email = fields.string("email", 1, field_rules::MAX_EMAIL_CHARS);
            let password = fields.required_string("password", 0, usize::MAX);
            let max_name = field_rules::MAX_PERSON_NAME_CHARS;
            let first_name = fields.optional_string("first_name", 0, max_name);
            let last_name = fields.optional_string("last_name", 0, max_name);
            let (is_superuser, is_verified) = if admin {
                (
                    fields.optional_bool("is_superuser").unwrap_or(false),
                    fields.optional_bool("is_verified").unwrap_or(false),
                )
            } else {
                (false, false)
            };
            // Checked only once read: a missing email is one problem, not two.
            let email = email.and_then(|text| {
                let parsed = email::Email::parse(&text).ok();
                if parsed.is_none() {
                    fields.problem(field_rules::invalid_email());
                }
                parsed
            });
            field_rules::check_password_not_too_long(fields, &password);
            let names = (first_name, last_name);
            (email, password, names.0, names.1, is_superuser, is_verified)
        })?;
    // A missing or refused email was reported above, so this answers only what parse did.
    let email = email.ok_or_else(|| Error::Validation(vec![field_rules::invalid_email()]))?;
    let password = field_rules::new_password(&password, invalid_password_code)?;
    Ok(NewAccount {
        first_name,
        last_name,
        is_superuser,
        is_verified,
        ..NewAccount::plain(email, password)
    })
}

/// `GET /api/internal/auth/sessions`: the caller's live sessions, newest first.
pub fn get_sessions(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let now = app.clock.now_secs();
    let sessions = app.store.live_sessions(
        &caller.user.id,
        now - app.config.session_max_age_seconds,
        now - app.config.refresh_grace_seconds,
    )?;
    let list: Vec<Value> = sessions
        .iter()
        .map(|s| dto::session(s, &caller.session.id))
        .collect();
    Ok(Response::json(200, &Value::Array(list)))
}

/// `DELETE /api/internal/auth/sessions/{id}`: revokes one of the caller's sessions; another
/// user's session (or an unknown id) is 404.
pub fn delete_session(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let now = app.clock.now_secs();
    let session_id: SessionId = ctx.params.id("id")?;
    if app.store.revoke_session(
        &caller.user.id,
        &session_id,
        &ctx.audit(app, Audit::user(&caller.user)),
        AuditAction::SessionRevoked,
        json!({}),
        now,
    )? {
        Ok(Response::empty(204))
    } else {
        Err(Error::NotFound(SessionId::NOT_FOUND.into()))
    }
}

/// `POST /api/internal/auth/sessions/revoke-all`: every session but the current one.
pub fn post_revoke_all(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let now = app.clock.now_secs();
    app.store.revoke_user_sessions(
        &caller.user.id,
        Some(&caller.session.id),
        &ctx.audit(app, Audit::user(&caller.user)),
        now,
    )?;
    Ok(Response::empty(204))
}
