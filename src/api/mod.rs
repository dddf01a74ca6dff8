//! The glue between HTTP and the domain: the route table, the application state handlers
//! share, and the single entry point the HTTP layer calls for every request.
//!
//! May use `http`, `auth`, `store`, `config` and `clock`; never `tiny_http` or `rusqlite`.

pub mod conditional;
pub mod cors;
pub mod dashboard;
pub mod dto;
pub mod extract;
pub mod feed_cache;
pub mod field_rules;
pub mod gate;
mod internal;
pub mod leaks;
pub mod mcp;
mod openapi;
mod pages;
pub mod principal;
mod public;
pub mod respond;
pub mod retention;
pub mod router;
mod setup;
pub mod usage;
mod v1;

#[cfg(test)]
mod tests;

use crate::auth::password::PasswordHasher;
use crate::auth::ratelimit::{Class, Decision, RateLimiter};
use crate::client_ip::{self, TrustedProxies};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::Error;
use crate::http::{Request, Response};
use crate::keyring::KeyRing;
use crate::store::{Audit, Store};
use router::{Dispatch, PathParams, Route};
pub use setup::{arm_link as arm_setup_link, disarm_link as disarm_setup_link};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use Dispatch::{Inline, Pool};

/// Responses authenticated by a key expiring within this many seconds carry
/// `X-Key-Expires-At`.
pub const KEY_EXPIRY_WARNING_SECS: i64 = 7 * 24 * 3600;

/// Everything a handler may use; shared by all workers.
pub struct App {
    /// Effective configuration.
    pub config: Config,
    /// The database (shared with the rate limiter's buckets on PostgreSQL).
    pub store: Arc<Store>,
    /// Password hashing with bounded concurrency.
    pub hasher: PasswordHasher,
    /// The time source.
    pub clock: Clock,
    /// JWT signing keys.
    pub keys: KeyRing,
    /// This node's one-time first-start setup token, while it is armed (for printing, and
    /// as the cheap "setup is over" mark once disarmed); which tokens are valid is asked of
    /// the database, where every node stores the hash of its own.
    pub setup_token: Mutex<Option<String>>,
    /// Buffered API-key usage and last-use times.
    pub usage: usage::UsageRecorder,
    /// Per-class request rate limits.
    pub limiter: RateLimiter,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Admits at most `max_concurrent_public_reads` public content reads at once.
    pub public_reads: gate::Gate,
    /// The list feeds, kept until content changes.
    pub feeds: feed_cache::FeedCache,
    /// When the audit log is next pruned (`audit_retention_days`).
    pub audit_retention: retention::AuditRetention,
}

/// What a handler receives: the request, its path parameters, and the record of what it used.
pub struct Ctx<'a> {
    /// The request.
    pub req: &'a Request,
    /// Parameters from the matched pattern.
    pub params: PathParams,
    /// What the handler used, owned by the dispatcher and read by it once the handler is done.
    pub used: Used,
}

/// What answering a request used, recorded by the authentication and throttling steps the
/// handler runs: the dispatcher passes it in with the [`Ctx`] (by `&mut`, so a step that
/// records says so in its signature) and reads it afterwards, whether the handler succeeded
/// or failed, for the log line, key usage and the response headers.
#[derive(Debug, Default)]
pub struct Used {
    /// Who is calling, once authenticated (`user:<id>`, `key:<prefix>`), for the log line.
    pub principal: Option<String>,
    /// The API key that authenticated the request (id, expiry), for usage and expiry headers.
    pub key: Option<(String, Option<i64>)>,
    /// The most restrictive rate-limit decision taken for this request, for its headers.
    pub rate: Option<Decision>,
}

impl Ctx<'_> {
    /// The client address as text (`-` when unknown), the key of per-address rate limits.
    pub fn client_ip(&self, app: &App) -> String {
        client_ip::display(self.client_addr(app))
    }

    /// The client address (see [`client_address`]).
    pub fn client_addr(&self, app: &App) -> Option<IpAddr> {
        client_address(app, self.req)
    }

    /// The request's `User-Agent`, cut as every stored user agent is (sessions, audit events,
    /// key activity: [`usage::bounded_user_agent`]), if it sent one.
    pub fn user_agent(&self) -> Option<String> {
        self.req
            .header("user-agent")
            .map(|ua| usage::bounded_user_agent(ua).to_string())
    }

    /// The audit context of this request: `actor` (e.g. [`Audit::user`], [`Audit::key`],
    /// [`principal::Caller::actor`], [`Audit::anonymous`]) seen at the resolved client address
    /// (behind trusted proxies, the client's own) with the request's user agent. The one place
    /// a handler gets the "who and from where" that a store method completes into an event.
    pub fn audit(&self, app: &App, actor: Audit) -> Audit {
        let ip = self.client_addr(app).map(|ip| ip.to_string());
        actor.from_client(ip, self.user_agent())
    }
}

/// The client address of `req`: the socket peer, or behind a trusted proxy the address it
/// names (see [`client_ip::client_ip`]), reading every `X-Forwarded-For` line. The one
/// address used for rate limits, sessions and the log line.
pub fn client_address(app: &App, req: &Request) -> Option<IpAddr> {
    client_ip::client_ip(
        req.peer,
        req.header_values("x-forwarded-for"),
        &app.trusted_proxies,
    )
}

/// Counts the request against `class` for `client`: 429 when over the limit, 503 when the
/// buckets shared with other nodes cannot be reached. The decision is kept for the
/// `X-RateLimit-*` headers (the tighter one when several classes apply).
pub fn throttle(app: &App, ctx: &mut Ctx<'_>, class: Class, client: &str) -> Result<(), Error> {
    throttle_with(app, ctx, class, |_| client.to_owned())
}

/// As [`throttle`], but names the client (from the request) only when `class` is limited at
/// all, so that a request pays nothing for a class that is turned off.
pub fn throttle_with(
    app: &App,
    ctx: &mut Ctx<'_>,
    class: Class,
    client: impl FnOnce(&Ctx<'_>) -> String,
) -> Result<(), Error> {
    if !app.limiter.is_on(class) {
        return Ok(());
    }
    let Some(decision) = app
        .limiter
        .check(class, &client(ctx), app.clock.now_millis())?
    else {
        return Ok(());
    };
    let kept = &mut ctx.used.rate;
    let tighter = kept
        .is_none_or(|old| (!decision.allowed && old.allowed) || decision.remaining < old.remaining);
    if tighter {
        *kept = Some(decision);
    }
    if decision.allowed {
        Ok(())
    } else {
        Err(Error::RateLimited {
            retry_after_secs: decision.retry_after_secs,
        })
    }
}

/// A handler: builds the answer or fails with an [`Error`] mapped in one place.
pub type HandlerFn = fn(&App, &mut Ctx<'_>) -> Result<Response, Error>;

const fn route(
    dispatch: Dispatch,
    method: &'static str,
    pattern: &'static str,
    handler: HandlerFn,
) -> Route<HandlerFn> {
    Route {
        method,
        pattern,
        handler,
        cors: false,
        dispatch,
    }
}

/// A route whose answers, errors included, any origin may read; its pattern also answers the
/// CORS preflight (see [`cors`]).
const fn cors_route(
    dispatch: Dispatch,
    method: &'static str,
    pattern: &'static str,
    handler: HandlerFn,
) -> Route<HandlerFn> {
    Route {
        method,
        pattern,
        handler,
        cors: true,
        dispatch,
    }
}

/// Every route, one row each. Literal routes come before parameter routes with the same
/// prefix. `cors_route` rows answer `OPTIONS` too, from [`cors::preflight`].
///
/// The first column says where the handler runs (see [`dispatch`]). `Inline`, on the event
/// loop that read the request, only when its work is small and bounded whatever the data:
/// health, key and session checks with small reads, single items (bounded by
/// `max_content_bytes`), the embedded dashboard. `Pool` for everything whose work grows with
/// the data (lists, feeds, rendered HTML pages, an internal content list carries whole
/// bodies) and every method that may hash a password or wait for SQLite's write lock.
#[rustfmt::skip]
static ROUTES: &[Route<HandlerFn>] = &[
    route(Inline, "GET", "/api/v1/health", v1::get_health),
    route(Inline, "GET", "/api/v1/me", v1::get_me),
    route(Pool, "POST", "/api/v1/keys/report-leak", leaks::post_report_leak),
    cors_route(Pool, "GET", "/api/v1/changelogs", public::get_changelogs),
    cors_route(Pool, "GET", "/api/v1/changelogs/feed", public::get_changelogs_feed),
    cors_route(Inline, "GET", "/api/v1/changelog/{public_slug}", public::get_changelog),
    cors_route(Pool, "GET", "/api/v1/changelog/{public_slug}/feed", public::get_changelog_feed),
    cors_route(Pool, "GET", "/api/v1/blogs", public::get_blogs),
    cors_route(Pool, "GET", "/api/v1/blogs/feed", public::get_blogs_feed),
    cors_route(Inline, "GET", "/api/v1/blog/{public_slug}", public::get_blog),
    cors_route(Pool, "GET", "/api/v1/blog/{public_slug}/feed", public::get_blog_feed),
    cors_route(Pool, "GET", "/api/v1/kb", public::get_kb_list),
    cors_route(Inline, "GET", "/api/v1/kb/{public_slug}", public::get_kb),
    route(Pool, "POST", "/api/internal/auth/jwt/login", internal::auth::post_login),
    route(Pool, "POST", "/api/internal/auth/jwt/refresh", internal::auth::post_refresh),
    route(Pool, "POST", "/api/internal/auth/jwt/logout", internal::auth::post_logout),
    route(Pool, "POST", "/api/internal/auth/register", internal::auth::post_register),
    route(Inline, "GET", "/api/internal/auth/sessions", internal::auth::get_sessions),
    route(Pool, "POST", "/api/internal/auth/sessions/revoke-all", internal::auth::post_revoke_all),
    route(Pool, "DELETE", "/api/internal/auth/sessions/{id}", internal::auth::delete_session),
    route(Inline, "GET", "/api/internal/users/me", internal::users::get_me),
    route(Pool, "PATCH", "/api/internal/users/me", internal::users::patch_me),
    route(Inline, "GET", "/api/internal/users", internal::users::get_users),
    route(Pool, "POST", "/api/internal/users", internal::users::post_user),
    route(Pool, "PATCH", "/api/internal/users/{id}", internal::users::patch_user),
    route(Inline, "GET", "/api/internal/teams", internal::teams::get_teams),
    route(Pool, "POST", "/api/internal/teams", internal::teams::post_team),
    route(Inline, "GET", "/api/internal/teams/{team_id}/members", internal::teams::get_members),
    route(Pool, "POST", "/api/internal/teams/{team_id}/members", internal::teams::post_member),
    route(Pool, "PATCH", "/api/internal/teams/{team_id}/members/{user_id}", internal::teams::patch_member),
    route(Pool, "DELETE", "/api/internal/teams/{team_id}/members/{user_id}", internal::teams::delete_member),
    route(Pool, "POST", "/api/internal/teams/{team_id}/projects", internal::teams::post_project),
    route(Inline, "GET", "/api/internal/teams/{team_id}/audit-log", internal::audit::get_team_audit_log),
    route(Inline, "GET", "/api/internal/audit-log", internal::audit::get_audit_log),
    route(Inline, "GET", "/api/internal/projects", internal::teams::get_projects),
    route(Inline, "GET", "/api/internal/projects/{project_id}", internal::teams::get_project),
    route(Inline, "GET", "/api/internal/projects/{project_id}/api-keys", internal::keys::get_keys),
    route(Pool, "POST", "/api/internal/projects/{project_id}/api-keys", internal::keys::post_key),
    route(Inline, "GET", "/api/internal/api-keys/{key_id}", internal::keys::get_key),
    route(Pool, "PATCH", "/api/internal/api-keys/{key_id}", internal::keys::patch_key),
    route(Pool, "DELETE", "/api/internal/api-keys/{key_id}", internal::keys::delete_key),
    route(Pool, "POST", "/api/internal/api-keys/{key_id}/roll", internal::keys::post_roll),
    route(Inline, "GET", "/api/internal/api-keys/{key_id}/usage", internal::keys::get_usage),
    route(Inline, "GET", "/api/internal/api-keys/{key_id}/activity", internal::key_activity::get_activity),
    route(Pool, "POST", "/api/internal/projects/{project_id}/content", internal::content::post_content),
    route(Pool, "GET", "/api/internal/projects/{project_id}/content", internal::content::get_content_list),
    route(Inline, "GET", "/api/internal/sources/content/{content_id}", internal::content::get_content),
    route(Pool, "PATCH", "/api/internal/content/{content_id}", internal::content::patch_content),
    route(Pool, "DELETE", "/api/internal/content/{content_id}", internal::content::delete_content),
    route(Pool, "POST", "/api/internal/content/{content_id}/publish", internal::content::post_publish),
    route(Pool, "POST", "/api/internal/content/{content_id}/unpublish", internal::content::post_unpublish),
    route(Inline, "GET", "/api/openapi.json", openapi::get_openapi),
    route(Pool, "POST", "/mcp", mcp::post_mcp),
    route(Inline, "GET", "/", dashboard::get_root),
    route(Inline, "GET", "/dashboard", dashboard::get_index),
    route(Inline, "GET", "/dashboard/", dashboard::get_dashboard_slash),
    route(Inline, "GET", "/dashboard/assets/{name}", dashboard::get_asset),
    route(Pool, "GET", "/changelog", pages::get_changelog_list_page),
    route(Pool, "GET", "/changelog/{public_slug}", pages::get_changelog_page),
    route(Pool, "GET", "/blog", pages::get_blog_list_page),
    route(Pool, "GET", "/blog/{public_slug}", pages::get_blog_page),
    route(Pool, "GET", "/kb", pages::get_kb_list_page),
    route(Pool, "GET", "/kb/{public_slug}", pages::get_kb_page),
    route(Inline, "GET", setup::SETUP_PATH, setup::get_setup),
    route(Pool, "POST", setup::SETUP_PATH, setup::post_setup),
];

/// Where a request runs: its route's class, as the route table gives it. A preflight is
/// answered from a constant, so inline. A request no route takes is answered 404 or 405
/// without a handler, so inline too, except for methods that may change state, which stay on
/// the pool as every such method does. Cheap (one walk of the table, no I/O): it runs on the
/// event loop. The route found for an inline request is kept for its handler, which runs next
/// on this thread, so such a request walks the table once.
pub fn dispatch(req: &Request) -> Dispatch {
    let found = router::find_index(ROUTES, &req.method, &req.path);
    let route = found
        .as_ref()
        .ok()
        .and_then(|(index, _)| ROUTES.get(*index));
    let class = match route {
        Some(route) if route.is_preflight(&req.method) => Inline,
        Some(route) => route.dispatch,
        None => crate::http::safe_methods_inline(req),
    };
    if let (Inline, Ok(found)) = (class, found) {
        Found::keep(req, found);
    }
    class
}

/// [`dispatch`] for a store across a network (PostgreSQL): a database read there is a round
/// trip that can take as long as the network and the database do (and a connection attempt
/// up to its timeout when the database is away), so no request that may read it runs on an
/// event loop, where it would hold up every other connection of that loop. Only a CORS
/// preflight, which reads nothing, stays inline; the rest goes to the worker pool.
pub fn dispatch_remote_store(req: &Request) -> Dispatch {
    // Only an `OPTIONS` can be a preflight: every other request goes to the pool without a
    // walk of the route table (the handler walks it there anyway).
    if req.method != "OPTIONS" {
        return Pool;
    }
    match router::find_index(ROUTES, &req.method, &req.path) {
        Ok((index, _))
            if ROUTES
                .get(index)
                .is_some_and(|r| r.is_preflight(&req.method)) =>
        {
            Inline
        }
        _ => Pool,
    }
}

/// The route [`dispatch`] found for the last inline request it classified on this thread:
/// the event loop runs that request's handler next, on the same thread, and [`handle`] takes
/// the route from here instead of walking the table again. It is kept with the method and
/// path it was found for, and taken only by a request with the same two: the route table's
/// answer depends on nothing else, so a request this was not found for (one run on the pool,
/// a test calling [`handle`] directly) can never take a wrong route, only walk the table.
struct Found {
    method: String,
    path: String,
    route: Option<(usize, PathParams)>,
}

thread_local! {
    static FOUND: std::cell::RefCell<Found> = const {
        std::cell::RefCell::new(Found {
            method: String::new(),
            path: String::new(),
            route: None,
        })
    };
}

impl Found {
    /// Keeps `route` for `req` (reusing the strings' space: no allocation once warm).
    fn keep(req: &Request, route: (usize, PathParams)) {
        FOUND.with(|found| {
            let mut found = found.borrow_mut();
            found.method.clear();
            found.method.push_str(&req.method);
            found.path.clear();
            found.path.push_str(&req.path);
            found.route = Some(route);
        });
    }

    /// The route kept for a request with `req`'s method and path, if any (taken: once).
    fn take(req: &Request) -> Option<(usize, PathParams)> {
        FOUND.with(|found| {
            let mut found = found.borrow_mut();
            if found.route.is_some() && found.method == req.method && found.path == req.path {
                found.route.take()
            } else {
                None
            }
        })
    }
}

/// Answers one request: route, run the handler, map any error. Never panics on input; a
/// panic from a bug is turned into a 500 by the HTTP layer. The answer carries the resolved
/// client address, so that the log line names the client rather than its proxy.
pub fn handle(app: &App, req: &Request) -> Response {
    let client = client_address(app, req);
    let response = route_and_run(app, req, client);
    response.with_client_ip(client)
}

fn route_and_run(app: &App, req: &Request, client: Option<IpAddr>) -> Response {
    let found = match Found::take(req) {
        Some(kept) => Ok(kept),
        None => router::find_index(ROUTES, &req.method, &req.path),
    };
    let found = found.and_then(|(index, params)| match ROUTES.get(index) {
        Some(route) => Ok((route, params)),
        None => Err(Error::NotFound("Not Found".into())),
    });
    let (route, params) = match found {
        Ok(found) => found,
        // Once any user exists `/setup` is 404 for every method, not 405 for the ones it
        // never took: the page is gone, and nothing about it should still be learnable.
        Err(Error::MethodNotAllowed(_))
            if req.path == setup::SETUP_PATH && setup::is_closed(app).unwrap_or(false) =>
        {
            return setup::dead_link();
        }
        Err(err) => return respond::error_response(&err),
    };
    if route.is_preflight(&req.method) {
        return cors::preflight();
    }
    let mut ctx = Ctx {
        req,
        params,
        used: Used::default(),
    };
    let mut response = match (route.handler)(app, &mut ctx) {
        Ok(response) => response,
        Err(err) => respond::error_response(&err),
    };
    if route.cors {
        response = cors::allow_any_origin(response);
    }
    if let Some((key_id, expires_at)) = ctx.used.key {
        let now = app.clock.now_secs();
        let rejected = matches!(response.status, 403 | 429);
        // Counted, with the key's activity (address and agent), in memory: the flusher
        // writes it within FLUSH_INTERVAL_MILLIS, so the answer never waits for it.
        let user_agent = req.header("user-agent");
        app.usage
            .count_use(&key_id, now, !rejected, client, user_agent);
        if let Some(at) = expires_at.filter(|at| at - now <= KEY_EXPIRY_WARNING_SECS) {
            response = response.with_header("X-Key-Expires-At", respond::rfc3339(at));
        }
    }
    if let Some(decision) = ctx.used.rate {
        response = response
            .with_header("X-RateLimit-Limit", decision.limit.to_string())
            .with_header("X-RateLimit-Remaining", decision.remaining.to_string())
            .with_header("X-RateLimit-Reset", decision.reset_unix.to_string());
    }
    response.with_principal(ctx.used.principal)
}
