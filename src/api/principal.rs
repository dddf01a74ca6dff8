//! Who is calling: turning the bearer credential into an authenticated caller.
//!
//! Every failure of a session token, whatever its cause (bad signature, expired, revoked
//! session, rotated generation, inactive user), answers the same 401 `"Unauthorized"`: the
//! client learns nothing it could use to probe tokens. The precise reason is not needed by an
//! honest client, who simply signs in again.

use super::extract::{credential, Credential};
use super::{App, Ctx};
use crate::auth::jwt::{self, Claims, Validation};
use crate::error::{AuthFailure, Error};
use crate::store::{Session, User};

/// How stale `last_seen_at` may get before a request refreshes it: one write per session
/// per minute at most.
const LAST_SEEN_RESOLUTION_SECS: i64 = 60;

/// The detail of a 403 for an API key on an account-level route.
pub const KEYS_CANNOT_MANAGE_ACCOUNTS: &str = "API keys cannot manage account resources; sign in";

/// A caller authenticated by a session JWT.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    /// The signed-in user (active).
    pub user: User,
    /// Their live session.
    pub session: Session,
    /// The verified claims.
    pub claims: Claims,
}

/// Requires a valid session JWT; an API key here is 403 (a leaked key must not reach
/// account routes), anything else 401.
pub fn require_session(app: &App, ctx: &Ctx<'_>) -> Result<SessionCaller, Error> {
    let unauthorized = || Error::Unauthorized(AuthFailure::Session);
    match credential(ctx.req, &AuthFailure::Session)? {
        Credential::None => Err(unauthorized()),
        Credential::ApiKey(_) => {
            // API keys are introduced with projects; until a key can be valid, any key is
            // simply unknown here.
            Err(unauthorized())
        }
        Credential::Jwt(token) => {
            let caller = verify_session_token(app, token)?;
            *ctx.principal.borrow_mut() = Some(format!("user:{}", caller.user.id));
            Ok(caller)
        }
    }
}

/// Requires a superuser session: 403 `"Superuser required"` for anyone else signed in.
pub fn require_superuser(app: &App, ctx: &Ctx<'_>) -> Result<SessionCaller, Error> {
    let caller = require_session(app, ctx)?;
    if !caller.user.is_superuser {
        return Err(Error::Forbidden("Superuser required".into()));
    }
    Ok(caller)
}

/// Checks every rule of `auth.md` for an access token: signature, claims, expiry, audience,
/// then the session (exists, belongs to `sub`, not revoked, same generation, within the
/// absolute age) and the user (exists, active).
pub fn verify_session_token(app: &App, token: &str) -> Result<SessionCaller, Error> {
    let now = app.clock.now_secs();
    let keys = app.keys.keys(&app.store, now);
    let validation = Validation::new(app.config.jwt_leeway_seconds);
    let claims = jwt::verify(token, &keys, &validation, now)
        .map_err(|_| Error::Unauthorized(AuthFailure::Session))?;
    let (user, session) = live_session_of(app, &claims, now)?;
    if session.generation != claims.gen {
        return Err(Error::Unauthorized(AuthFailure::Session));
    }
    if now - session.last_seen_at >= LAST_SEEN_RESOLUTION_SECS {
        // Best effort: a failed bookkeeping write must not fail the request.
        let _ = app.store.touch_session(&session.id, now);
    }
    Ok(SessionCaller {
        user,
        session,
        claims,
    })
}

/// The session and user named by `claims`, if the session is live (not revoked, within its
/// absolute maximum age, owned by `sub`) and the user is active. Generation is not checked.
pub fn live_session_of(app: &App, claims: &Claims, now: i64) -> Result<(User, Session), Error> {
    let unauthorized = || Error::Unauthorized(AuthFailure::Session);
    let session = app
        .store
        .session_by_id(&claims.sid)?
        .ok_or_else(unauthorized)?;
    let max_age = app.config.session_max_age_seconds;
    if session.revoked_at.is_some()
        || session.user_id != claims.sub
        || now >= session.created_at.saturating_add(max_age)
    {
        return Err(unauthorized());
    }
    let user = app
        .store
        .user_by_id(&claims.sub)?
        .filter(|user| user.is_active)
        .ok_or_else(unauthorized)?;
    Ok((user, session))
}
