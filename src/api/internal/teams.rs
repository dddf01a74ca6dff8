//! Teams, members and projects.

use crate::api::extract::{self, JsonFields};
use crate::api::field_rules;
use crate::api::principal::{
    acting_role, project_role, require_manager, require_session, team_role,
};
use crate::api::respond::ok;
use crate::api::{dto, App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::ids::{TeamId, UserId};
use crate::roles::Role;
use crate::slug;
use crate::store::{Audit, MemberAuthority, User};
use serde_json::Value;

/// Reads `{"name", "slug"?}` for a new team or project.
fn read_name_and_slug(ctx: &Ctx<'_>) -> Result<(String, Option<String>), Error> {
    let body = extract::json_object(ctx.req)?;
    JsonFields::parse(&body, field_rules::name_and_slug)
}

/// `GET /api/internal/teams`: the caller's teams with their role.
pub fn get_teams(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let teams: Vec<Value> = app
        .store
        .teams_of_user(&caller.user.id)?
        .iter()
        .map(|(team, role)| dto::team(team, *role))
        .collect();
    Ok(ok(&Value::Array(teams)))
}

/// `POST /api/internal/teams`: a new team owned by the caller → 201.
pub fn post_team(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let (name, requested) = read_name_and_slug(ctx)?;
    let now = app.clock.now_secs();
    let audit = ctx.audit(app, Audit::user(&caller.user));
    let team = slug::create_with_slug(requested, &name, "team", |slug| {
        app.store
            .create_team(&name, slug, &caller.user.id, &audit, now)
    })?;
    Ok(Response::json(201, &dto::team(&team, Role::Owner)))
}

/// `GET /api/internal/teams/{team_id}/members` (member).
pub fn get_members(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let team_id: TeamId = ctx.params.id("team_id")?;
    team_role(app, &caller.user, &team_id)?;
    let members: Vec<Value> = app
        .store
        .members(&team_id)?
        .iter()
        .map(dto::member)
        .collect();
    Ok(ok(&Value::Array(members)))
}

/// `POST /api/internal/teams/{team_id}/members` (owner, admin): `{"email", "role"}` → 201.
pub fn post_member(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let team_id: TeamId = ctx.params.id("team_id")?;
    require_manager(team_role(app, &caller.user, &team_id)?)?;
    let body = extract::json_object(ctx.req)?;
    // The email is only looked up (trimmed), not checked: an unknown one is "User not found".
    let (email, role) = JsonFields::parse(&body, |fields| {
        let email = fields.required_string("email", 1, field_rules::MAX_EMAIL_CHARS);
        (email, field_rules::role(fields, false))
    })?;
    let user = app
        .store
        .user_by_email(email.trim())?
        .ok_or_else(|| Error::NotFound("User not found".into()))?;
    let audit = ctx.audit(app, Audit::user(&caller.user));
    let member = app
        .store
        .add_member(&team_id, &user.id, role, &audit, app.clock.now_secs())?;
    Ok(Response::json(201, &dto::member(&member)))
}

/// The 404 detail for a user who is not a member of the team (or an id that names nobody).
const MEMBER_NOT_FOUND: &str = "Member not found";

/// Owners manage owners; admins manage admins and members; only owners make owners:
/// whether `caller`, acting in the team with `membership` (`None`: not a member), may change
/// a member holding `current` into `new` (`None`: remove them). The store judges it inside
/// the transaction that makes the change, against the roles as they are there.
fn may_change(
    caller: &User,
    membership: Option<Role>,
    current: Role,
    new: Option<Role>,
) -> Result<(), Error> {
    let actor = acting_role(caller, membership)?;
    require_manager(actor)?;
    if current == Role::Owner && actor < Role::Owner {
        return Err(Error::Forbidden(
            "Only team owners can change an owner".into(),
        ));
    }
    if new == Some(Role::Owner) && actor < Role::Owner {
        return Err(Error::Forbidden(
            "Only team owners can make an owner".into(),
        ));
    }
    Ok(())
}

/// `PATCH /api/internal/teams/{team_id}/members/{user_id}` (owner, admin): `{"role"}`.
pub fn patch_member(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let team_id: TeamId = ctx.params.id("team_id")?;
    require_manager(team_role(app, &caller.user, &team_id)?)?;
    let body = extract::json_object(ctx.req)?;
    let role = JsonFields::parse(&body, |fields| field_rules::role(fields, true))?;
    let user_id: UserId = ctx.params.id_or("user_id", MEMBER_NOT_FOUND)?;
    let audit = ctx.audit(app, Audit::user(&caller.user));
    let allows = |membership: Option<Role>, current: Role| {
        may_change(&caller.user, membership, current, Some(role))
    };
    let authority = MemberAuthority {
        actor: &caller.user.id,
        allows: &allows,
    };
    app.store.set_member_role(
        &team_id,
        &user_id,
        role,
        &authority,
        &audit,
        app.clock.now_secs(),
    )?;
    let member = app
        .store
        .members(&team_id)?
        .into_iter()
        .find(|m| user_id == m.user_id)
        .ok_or_else(|| Error::NotFound(MEMBER_NOT_FOUND.into()))?;
    Ok(ok(&dto::member(&member)))
}

/// `DELETE /api/internal/teams/{team_id}/members/{user_id}` (owner, admin) → 204.
pub fn delete_member(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let team_id: TeamId = ctx.params.id("team_id")?;
    require_manager(team_role(app, &caller.user, &team_id)?)?;
    let user_id: UserId = ctx.params.id_or("user_id", MEMBER_NOT_FOUND)?;
    let audit = ctx.audit(app, Audit::user(&caller.user));
    let allows = |membership: Option<Role>, current: Role| {
        may_change(&caller.user, membership, current, None)
    };
    let authority = MemberAuthority {
        actor: &caller.user.id,
        allows: &allows,
    };
    app.store
        .remove_member(&team_id, &user_id, &authority, &audit, app.clock.now_secs())?;
    Ok(Response::empty(204))
}

/// `GET /api/internal/projects`: projects of the caller's teams.
pub fn get_projects(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let projects: Vec<Value> = app
        .store
        .projects_of_user(&caller.user.id)?
        .iter()
        .map(dto::project)
        .collect();
    Ok(ok(&Value::Array(projects)))
}

/// `POST /api/internal/teams/{team_id}/projects` (owner, admin) → 201; slugs are unique
/// across the server (409).
pub fn post_project(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let team_id: TeamId = ctx.params.id("team_id")?;
    require_manager(team_role(app, &caller.user, &team_id)?)?;
    let (name, requested) = read_name_and_slug(ctx)?;
    let now = app.clock.now_secs();
    let audit = ctx.audit(app, Audit::user(&caller.user));
    let project = slug::create_with_slug(requested, &name, "project", |slug| {
        app.store.create_project(&team_id, &name, slug, &audit, now)
    })?;
    Ok(Response::json(201, &dto::project(&project)))
}

/// `GET /api/internal/projects/{project_id}` (member).
pub fn get_project(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_session(app, ctx)?;
    let (project, _) = project_role(app, &caller.user, &ctx.params.id("project_id")?)?;
    Ok(ok(&dto::project(&project)))
}
