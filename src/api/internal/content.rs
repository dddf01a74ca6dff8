//! Authoring content: create, list, read, change, publish, unpublish, delete.
//!
//! Every route takes a session JWT of a member of the project's team (any role may write
//! content) or an API key of the project itself; a key of another project is 403.

use crate::api::extract::{self, Fields, JsonFields};
use crate::api::principal::{project_by_id, project_role, require_caller, Caller};
use crate::api::respond::ok;
use crate::api::router::PathId;
use crate::api::{dto, App, Ctx};
use crate::content;
use crate::error::{AuthFailure, Error, FieldError};
use crate::http::Response;
use crate::ids::{ContentId, ProjectId};
use crate::slug;
use crate::store::{
    Audit, Content, ContentChanges, ContentFilter, ContentKind, Listed, NewContent, Project,
};
use serde::Serialize;
use serde_json::{Map, Value};

/// Longest public slug, as the public routes accept.
pub const MAX_PUBLIC_SLUG_CHARS: usize = content::MAX_PUBLIC_SLUG_CHARS;

/// The detail of a 403 for a key addressing another project's content.
const OTHER_PROJECT: &str = "This resource belongs to another project";

/// Checks that `caller` may work on content of `project_id`: a key only on its own project,
/// a person as a member of the project's team. 404 for an unknown project.
pub(crate) fn admit_to_project(
    app: &App,
    caller: &Caller,
    project_id: &ProjectId,
) -> Result<Project, Error> {
    match caller {
        Caller::Session(session) => Ok(project_role(app, &session.user, project_id)?.0),
        Caller::Key(key) => {
            let project = project_by_id(app, project_id)?;
            if project.id != key.key.project_id {
                return Err(Error::Forbidden(OTHER_PROJECT.into()));
            }
            Ok(project)
        }
    }
}

/// The item named by `{content_id}`, if the caller may work on it (404 unknown, 403 another
/// project or team), and the caller.
fn content_access(app: &App, ctx: &mut Ctx<'_>) -> Result<(Content, Caller), Error> {
    let caller = require_caller(app, ctx, AuthFailure::Session)?;
    let item = content_for(app, &caller, &ctx.params.id("content_id")?)?;
    Ok((item, caller))
}

/// The audit context of a change by `caller` over this request.
fn audit_of(app: &App, ctx: &Ctx<'_>, caller: &Caller) -> Audit {
    ctx.audit(app, caller.actor())
}

/// The item with id `id`, if `caller` may work on it: 404 unknown, 403 an item of another
/// project (for a key) or of another team (for a person).
pub(crate) fn content_for(app: &App, caller: &Caller, id: &ContentId) -> Result<Content, Error> {
    let item = app
        .store
        .content_by_id(id)?
        .ok_or_else(|| Error::NotFound(ContentId::NOT_FOUND.into()))?;
    match caller {
        Caller::Key(key) if key.key.project_id != item.project_id => {
            Err(Error::Forbidden(OTHER_PROJECT.into()))
        }
        Caller::Key(_) => Ok(item),
        Caller::Session(session) => {
            project_role(app, &session.user, &item.project_id)?;
            Ok(item)
        }
    }
}

/// The problem of a `type` that names no kind of content.
pub(crate) fn kind_problem(loc: &[&str]) -> FieldError {
    FieldError::new(
        loc,
        "value_error",
        "Input should be 'changelog', 'blog' or 'kb'",
    )
}

/// A 422 at `loc` unless the period ends no earlier than it starts.
fn check_period(start: Option<i64>, end: Option<i64>, problems: &mut Vec<FieldError>) {
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            problems.push(FieldError::new(
                &["body", "period_end"],
                "value_error",
                "period_end must not be before period_start",
            ));
        }
    }
}

/// KB article sets have no period: a non-null bound is a 422.
fn reject_kb_period(
    kind: ContentKind,
    start: Option<i64>,
    end: Option<i64>,
    problems: &mut Vec<FieldError>,
) {
    if kind != ContentKind::Kb {
        return;
    }
    for (name, value) in [("period_start", start), ("period_end", end)] {
        if value.is_some() {
            problems.push(FieldError::new(
                &["body", name],
                "value_error",
                "KB article sets have no period",
            ));
        }
    }
}

/// A paginated JSON array with `X-Total-Count`.
pub fn list_response<'a, T: Serialize>(
    listed: &'a Listed,
    shape: impl Fn(&'a Content) -> T,
) -> Response {
    let items: Vec<T> = listed.items.iter().map(shape).collect();
    ok(&items).with_header("X-Total-Count", listed.total.to_string())
}

/// `POST /api/internal/projects/{project_id}/content` → 201 with the new draft.
pub fn post_content(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_caller(app, ctx, AuthFailure::Session)?;
    let project = admit_to_project(app, &caller, &ctx.params.id("project_id")?)?;
    let body = extract::json_object(ctx.req)?;
    let item = create(app, &audit_of(app, ctx, &caller), project, &body)?;
    Ok(Response::json(201, &dto::content_internal(&item)))
}

/// Creates a draft in `project` from the fields of a create request (`type`, `title`,
/// `content`, `period_start`, `period_end`), checked by every rule of the route: each problem
/// is reported (located under `body`) and nothing is written unless all pass. The draft is
/// recorded as created by `audit` (`content.created`), in the same transaction.
pub(crate) fn create(
    app: &App,
    audit: &Audit,
    project: Project,
    body: &Map<String, Value>,
) -> Result<Content, Error> {
    let new = JsonFields::parse(body, |fields| {
        let kind = match body.get("type") {
            None => {
                fields.problem(FieldError::missing(&["body", "type"]));
                None
            }
            Some(value) => {
                let kind = value.as_str().and_then(ContentKind::parse);
                if kind.is_none() {
                    fields.problem(kind_problem(&["body", "type"]));
                }
                kind
            }
        };
        let title = fields.required_string("title", 1, content::MAX_TITLE_CHARS);
        // Only its type here: `content::validate` applies the limit, in bytes.
        let text = fields.string("content", 0, usize::MAX);
        let period_start = fields.optional_datetime("period_start").flatten();
        let period_end = fields.optional_datetime("period_end").flatten();
        if let Some(kind) = kind {
            if let Some(text) = &text {
                let max_bytes = app.config.max_content_bytes;
                fields
                    .problems
                    .extend(content::validate(kind, text, max_bytes));
            }
            reject_kb_period(kind, period_start, period_end, &mut fields.problems);
        }
        check_period(period_start, period_end, &mut fields.problems);
        NewContent {
            project_id: project.id,
            // A missing or unknown type was recorded as a problem, so this placeholder never
            // leaves `parse`.
            kind: kind.unwrap_or(ContentKind::Changelog),
            title,
            body: text.unwrap_or_default(),
            period_start,
            period_end,
        }
    })?;
    app.store.create_content(&new, audit, app.clock.now_secs())
}

/// `GET /api/internal/projects/{project_id}/content`: `?type=&published=`, paginated,
/// newest created first.
pub fn get_content_list(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let caller = require_caller(app, ctx, AuthFailure::Session)?;
    let project = admit_to_project(app, &caller, &ctx.params.id("project_id")?)?;
    let query = Fields::from_query(ctx.req)?;
    let mut problems = Vec::new();
    let page = query.page(&mut problems);
    let kind = query.optional("type", &mut problems).and_then(|text| {
        let kind = ContentKind::parse(text);
        if kind.is_none() {
            problems.push(kind_problem(&["query", "type"]));
        }
        kind
    });
    let published = query.optional_bool("published", &mut problems);
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    let listed =
        app.store
            .content_of_project(&project.id, ContentFilter { kind, published }, page)?;
    Ok(list_response(&listed, dto::content_internal))
}

/// `GET /api/internal/sources/content/{content_id}`.
pub fn get_content(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let (item, _) = content_access(app, ctx)?;
    Ok(ok(&dto::content_internal(&item)))
}

/// `PATCH /api/internal/content/{content_id}`: title, content, period.
pub fn patch_content(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let (item, caller) = content_access(app, ctx)?;
    let audit = audit_of(app, ctx, &caller);
    let body = extract::json_object(ctx.req)?;
    let item = update(app, &audit, &item, &body)?;
    Ok(ok(&dto::content_internal(&item)))
}

/// Changes `item` by the fields of a change request (`title`, `content`, `period_start`,
/// `period_end`; any left out stay as they are), checked by every rule of the route. Other
/// members of `body` are ignored. A change is recorded as made by `audit`
/// (`content.updated`), in the same transaction.
pub(crate) fn update(
    app: &App,
    audit: &Audit,
    item: &Content,
    body: &Map<String, Value>,
) -> Result<Content, Error> {
    let mut fields = JsonFields::new(body);
    // Title and content may be left out but not cleared: null is refused, not ignored.
    let title = match body.get("title") {
        Some(_) => fields.string("title", 1, content::MAX_TITLE_CHARS),
        None => None,
    };
    let text = match body.get("content") {
        Some(_) => fields.string("content", 0, usize::MAX),
        None => None,
    };
    if let Some(text) = &text {
        let max_bytes = app.config.max_content_bytes;
        fields
            .problems
            .extend(content::validate(item.kind, text, max_bytes));
    }
    let period_start = fields.optional_datetime("period_start");
    let period_end = fields.optional_datetime("period_end");
    reject_kb_period(
        item.kind,
        period_start.flatten(),
        period_end.flatten(),
        &mut fields.problems,
    );
    check_period(
        period_start.unwrap_or(item.period_start),
        period_end.unwrap_or(item.period_end),
        &mut fields.problems,
    );
    fields.finish()?;
    let changes = ContentChanges {
        title,
        body: text,
        period_start,
        period_end,
    };
    app.store
        .update_content(&item.id, &changes, audit, app.clock.now_secs())
}

/// `POST /api/internal/content/{content_id}/publish`: `{"slug"?}`. Without a slug, the
/// item's earlier slug is reused, else one is made from the title (`title`, `title-2`, ...).
pub fn post_publish(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let (item, caller) = content_access(app, ctx)?;
    let audit = audit_of(app, ctx, &caller);
    let body = extract::optional_json_object(ctx.req)?;
    let published = publish(app, &audit, &item, &body)?;
    Ok(ok(&dto::content_internal(&published)))
}

/// Publishes `item` under `body["slug"]` when given (422 when not a valid slug, 409 when
/// another item of its kind has it), else under its earlier slug, else under one made from
/// its title. Other members of `body` are ignored. Recorded as done by `audit`
/// (`content.published`), in the same transaction.
pub(crate) fn publish(
    app: &App,
    audit: &Audit,
    item: &Content,
    body: &Map<String, Value>,
) -> Result<Content, Error> {
    let mut fields = JsonFields::new(body);
    let requested = fields.optional_string("slug", 1, MAX_PUBLIC_SLUG_CHARS);
    if let Some(text) = &requested {
        if !slug::is_valid(text, MAX_PUBLIC_SLUG_CHARS) {
            fields.problems.push(slug::mismatch(&["body", "slug"]));
        }
    }
    fields.finish()?;
    let now = app.clock.now_secs();
    match requested.or_else(|| item.public_slug.clone()) {
        Some(chosen) => app.store.publish_content(&item.id, &chosen, audit, now),
        None => {
            let base = slug::from_name(&item.title, item.kind.as_str(), slug::MAX_SLUG_CHARS);
            app.store
                .publish_content_derived(&item.id, &base, audit, now)
        }
    }
}

/// `POST /api/internal/content/{content_id}/unpublish`: off every public endpoint and feed
/// from the next request on.
pub fn post_unpublish(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let (item, caller) = content_access(app, ctx)?;
    let audit = audit_of(app, ctx, &caller);
    let item = unpublish(app, &audit, &item)?;
    Ok(ok(&dto::content_internal(&item)))
}

/// Takes `item` off every public endpoint and feed from the next request on; its slug is kept
/// for a later publish. Recorded as done by `audit` (`content.unpublished`), in the same
/// transaction.
pub(crate) fn unpublish(app: &App, audit: &Audit, item: &Content) -> Result<Content, Error> {
    app.store
        .unpublish_content(&item.id, audit, app.clock.now_secs())
}

/// `DELETE /api/internal/content/{content_id}` → 204.
pub fn delete_content(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let (item, caller) = content_access(app, ctx)?;
    let audit = audit_of(app, ctx, &caller);
    if !app
        .store
        .delete_content(&item.id, &audit, app.clock.now_secs())?
    {
        return Err(Error::NotFound(ContentId::NOT_FOUND.into()));
    }
    Ok(Response::empty(204))
}
