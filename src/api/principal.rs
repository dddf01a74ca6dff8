//! Who is calling: turning the bearer credential into an authenticated caller.
//!
//! Every failure of a session token, whatever its cause (bad signature, expired, revoked
//! session, rotated generation, inactive user), answers the same 401 `"Unauthorized"`: the
//! client learns nothing it could use to probe tokens. The precise reason is not needed by an
//! honest client, who simply signs in again.

use super::extract::{credential, Credential};
use super::router::PathId;
use super::{throttle, throttle_with, App, Ctx};
use crate::auth::api_key;
use crate::auth::jwt::{Claims, Validation};
use crate::auth::ratelimit::Class;
use crate::error::{AuthFailure, Error};
use crate::ids::{ProjectId, TeamId};
use crate::keyring::Verified;
use crate::roles::Role;
use crate::store::{ApiKey, Audit, Project, Session, User};

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
pub fn require_session(app: &App, ctx: &mut Ctx<'_>) -> Result<SessionCaller, Error> {
    let unauthorized = || Error::Unauthorized(AuthFailure::Session);
    match credential(ctx.req, &AuthFailure::Session)? {
        Credential::None => Err(unauthorized()),
        Credential::ApiKey(raw) => {
            // A valid key is refused with 403 (and counted as rejected): a leaked key must
            // not be able to mint keys or touch accounts. An invalid one is a plain 401.
            authenticate_key(app, ctx, raw)?;
            Err(Error::Forbidden(KEYS_CANNOT_MANAGE_ACCOUNTS.into()))
        }
        Credential::Jwt(token) => {
            let caller = verify_session_token(app, token)?;
            admit_user(app, ctx, &caller.user)?;
            Ok(caller)
        }
    }
}

/// Names the signed-in user for the log line and counts the request against their
/// authenticated-class rate limit.
fn admit_user(app: &App, ctx: &mut Ctx<'_>, user: &User) -> Result<(), Error> {
    let principal = format!("user:{}", user.id);
    let admitted = throttle(app, ctx, Class::Authenticated, &principal);
    ctx.used.principal = Some(principal);
    admitted
}

/// Requires a superuser session: 403 `"Superuser required"` for anyone else signed in.
pub fn require_superuser(app: &App, ctx: &mut Ctx<'_>) -> Result<SessionCaller, Error> {
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
    let validation = Validation::new(app.config.jwt_leeway_seconds);
    let verified = app.keys.verify(&app.store, token, &validation, now)?;
    let (user, session) = live_session_of(app, &verified, now)?;
    let claims = verified.claims;
    if session.generation != claims.gen {
        return Err(Error::Unauthorized(AuthFailure::Session));
    }
    if now - session.last_seen_at >= LAST_SEEN_RESOLUTION_SECS {
        // Written by the background flusher: checking a token never waits for a write.
        app.usage.note_session_seen(&session.id, now);
    }
    Ok(SessionCaller {
        user,
        session,
        claims,
    })
}

/// The session and user named by a verified token's claims, if the session is live (not
/// revoked, within its absolute maximum age, owned by `sub`) and the user is active, and the
/// token's signing key is still good (checked against the key counter read with the session,
/// so a key retired since it was cached fails here). Generation is not checked.
pub fn live_session_of(
    app: &App,
    verified: &Verified<'_>,
    now: i64,
) -> Result<(User, Session), Error> {
    let unauthorized = || Error::Unauthorized(AuthFailure::Session);
    let claims = &verified.claims;
    let (session, user, keys_version) = app
        .store
        .session_with_user(&claims.sid)?
        .ok_or_else(unauthorized)?;
    app.keys.confirm(&app.store, verified, keys_version, now)?;
    let max_age = app.config.session_max_age_seconds;
    if session.revoked_at.is_some()
        || session.user_id != claims.sub
        || now >= session.created_at.saturating_add(max_age)
        || !user.is_active
    {
        return Err(unauthorized());
    }
    Ok((user, session))
}

/// A caller authenticated by an API key: it acts as `user` inside `project_id` only.
#[derive(Debug, Clone)]
pub struct KeyCaller {
    /// The key.
    pub key: ApiKey,
    /// The user the key acts as (its creator, active).
    pub user: User,
    /// The team owning the key's project.
    pub team_id: crate::ids::TeamId,
}

/// Either kind of authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A signed-in person.
    Session(SessionCaller),
    /// A program with a project API key.
    Key(KeyCaller),
}

impl Caller {
    /// The user acting.
    pub fn user(&self) -> &User {
        match self {
            Caller::Session(caller) => &caller.user,
            Caller::Key(caller) => &caller.user,
        }
    }

    /// The audit actor: the signed-in user, or the key (labelled by its prefix) for a key.
    /// Pass it to [`Ctx::audit`](super::Ctx::audit) to add the client address.
    pub fn actor(&self) -> Audit {
        match self {
            Caller::Session(caller) => Audit::user(&caller.user),
            Caller::Key(caller) => Audit::key(&caller.key),
        }
    }
}

/// Requires a session JWT or a valid API key; failures answer with the API-key 401 detail
/// when a key was presented, the session one otherwise.
pub fn require_caller(app: &App, ctx: &mut Ctx<'_>, failure: AuthFailure) -> Result<Caller, Error> {
    match credential(ctx.req, &failure)? {
        Credential::None => Err(Error::Unauthorized(failure)),
        Credential::ApiKey(raw) => Ok(Caller::Key(authenticate_key(app, ctx, raw)?)),
        Credential::Jwt(token) => {
            let caller = verify_session_token(app, token).map_err(|err| match err {
                Error::Unauthorized(_) => Error::Unauthorized(failure.clone()),
                other => other,
            })?;
            admit_user(app, ctx, &caller.user)?;
            Ok(Caller::Session(caller))
        }
    }
}

/// Checks a presented API key: shape and checksum first (no database work for garbage), then
/// one indexed lookup by hash. The key works while it is active, not expired, not retired by
/// a roll, and its creator is active and still a member of the project's team (or a
/// superuser). Nothing is cached, so every change takes effect on the next request.
pub fn authenticate_key(app: &App, ctx: &mut Ctx<'_>, raw: &str) -> Result<KeyCaller, Error> {
    let unauthorized = || Error::Unauthorized(AuthFailure::ApiKey);
    if !api_key::is_well_formed(raw) {
        return Err(unauthorized());
    }
    let holder = app
        .store
        .key_holder_by_hash(&api_key::hash(raw))?
        .ok_or_else(unauthorized)?;
    let now = app.clock.now_secs();
    let key = &holder.key;
    ctx.used.principal = Some(format!("key:{}", key.key_prefix));
    let usable = key.is_active
        && key.ends_at().is_none_or(|at| at > now)
        && holder.user.is_active
        && (holder.role.is_some() || holder.user.is_superuser);
    if !usable {
        app.usage.count(&key.id, now, false);
        return Err(unauthorized());
    }
    app.usage.note_use(key, now);
    // The end of a roll's overlap counts as an expiry for the warning header too.
    ctx.used.key = Some((key.id.to_string(), key.ends_at()));
    throttle_with(app, ctx, Class::Authenticated, |_| {
        format!("key:{}", key.id)
    })?;
    Ok(KeyCaller {
        key: holder.key,
        user: holder.user,
        team_id: holder.team_id,
    })
}

/// The 403 for a resource of a team the caller is not in.
pub fn other_team() -> Error {
    Error::Forbidden("This resource belongs to another team".into())
}

/// The caller's role in `team_id`: 404 when the team does not exist, 403 when the caller is
/// not a member. Superusers act as owners everywhere (see [`acting_role`]).
pub fn team_role(app: &App, user: &User, team_id: &TeamId) -> Result<Role, Error> {
    let not_found = || Error::NotFound(TeamId::NOT_FOUND.into());
    app.store.team_by_id(team_id)?.ok_or_else(not_found)?;
    // A superuser's membership changes nothing: no need to read it.
    let membership = if user.is_superuser {
        None
    } else {
        app.store.member_role(team_id, &user.id)?
    };
    acting_role(user, membership)
}

/// The role `user` acts with in a team where their membership is `membership` (`None`: not a
/// member, 403). Superusers act as owners everywhere, including in teams where they are a
/// plain member: their membership never takes powers away.
pub fn acting_role(user: &User, membership: Option<Role>) -> Result<Role, Error> {
    if user.is_superuser {
        return Ok(Role::Owner);
    }
    membership.ok_or_else(other_team)
}

/// The project and the caller's role in its team (404 unknown, 403 another team).
pub fn project_role(
    app: &App,
    user: &User,
    project_id: &ProjectId,
) -> Result<(Project, Role), Error> {
    let project = project_by_id(app, project_id)?;
    let role = team_role(app, user, &project.team_id)?;
    Ok((project, role))
}

/// The project `project_id`, or the 404 for an unknown one.
pub fn project_by_id(app: &App, project_id: &ProjectId) -> Result<Project, Error> {
    app.store
        .project_by_id(project_id)?
        .ok_or_else(|| Error::NotFound(ProjectId::NOT_FOUND.into()))
}

/// Requires at least `admin` (owners and admins manage keys, projects and members).
pub fn require_manager(role: Role) -> Result<(), Error> {
    if role >= Role::Admin {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "Only team owners and admins can do this".into(),
        ))
    }
}
