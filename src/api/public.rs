//! Public content: published changelogs, blog posts and KB sets, and their RSS feeds. No
//! credential needed.
//!
//! Every route here is a CORS route of the table (see [`cors`](super::cors)): its answers,
//! errors included, carry `Access-Control-Allow-Origin: *` so that a page on any site can
//! show a project's changelog. Successful reads are cacheable for 60 s
//! and carry a strong `ETag` (a hash of the exact body), so a matching `If-None-Match` is a
//! 304 without a body. Requests are rate limited per client address (the public class); a
//! request that presents an API key is counted against that key instead.
//!
//! Every read (lists, items, feeds) also passes the public-read [`gate`](super::gate): at most
//! `max_concurrent_public_reads` are answered at once, and one more gets 503 with
//! `Retry-After: 1` at once, so a flood of expensive reads cannot take every worker. Feed
//! items carry an excerpt of at most `feed::EXCERPT_BYTES` of HTML and a link to the whole
//! item, and the two list feeds are served from the [`FeedCache`](super::feed_cache) until
//! content changes: a request for them costs a copy, not 50 items escaped twice.

use super::conditional::{client_has, strong_etag};
use super::extract::{credential, Credential, Fields};
use super::feed_cache::Built;
use super::internal::content::{list_response, MAX_PUBLIC_SLUG_CHARS};
use super::principal::authenticate_key;
use super::{dto, respond, throttle_with, App, Ctx};
use crate::auth::ratelimit::Class;
use crate::content::{self, feed};
use crate::error::{AuthFailure, Error};
use crate::http::Response;
use crate::slug;
use crate::store::{Content, ContentKind, Listed, Page};

/// Items in a list feed.
const FEED_ITEMS: i64 = 50;
/// The detail of the 503 for a public read over `max_concurrent_public_reads`.
pub const BUSY: &str = "Too many public reads at once. Retry after 1 second.";

/// How an answer may be cached.
#[derive(Clone, Copy)]
enum Audience {
    /// The same for everyone: shared caches may keep it.
    Everyone,
    /// Depends on the API key presented: only the client's own cache may keep it.
    OneKey,
}

/// Runs a public read: throttles, then builds the answer behind the public-read gate and adds
/// caching and the conditional-request handling.
fn public_read(
    app: &App,
    ctx: &mut Ctx<'_>,
    build: impl FnOnce(&Ctx<'_>) -> Result<(Response, Audience), Error>,
) -> Result<Response, Error> {
    throttle_with(app, ctx, Class::Public, |ctx| ctx.client_ip(app))?;
    gated(app, || {
        let (response, audience) = build(ctx)?;
        Ok(cacheable(ctx, response, audience))
    })
}

/// Runs `answer` if the public-read gate admits the request, else answers 503 with
/// `Retry-After: 1` without doing any of the work. The place is held until the answer is
/// built (its `ETag` computed included).
fn gated(app: &App, answer: impl FnOnce() -> Result<Response, Error>) -> Result<Response, Error> {
    match app.public_reads.try_enter() {
        Some(_pass) => answer(),
        // Not through `Error::Unavailable`: that logs a warning each time, and a flood would
        // turn into a flood of log lines; the request's own log line shows the 503.
        None => Ok(Response::detail(503, BUSY).with_header("Retry-After", "1")),
    }
}

/// Adds `Cache-Control`, `ETag` and `Vary`; a matching `If-None-Match` turns the answer
/// into a bodiless 304 with the same validators.
fn cacheable(ctx: &Ctx<'_>, response: Response, audience: Audience) -> Response {
    let etag = strong_etag(&response.body);
    let cache_control = match audience {
        Audience::Everyone => "public, max-age=60",
        Audience::OneKey => "private, max-age=60",
    };
    let response = if client_has(ctx.req, &etag) {
        let mut not_modified = Response::empty(304);
        not_modified.headers = response
            .headers
            .into_iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("x-total-count"))
            .collect();
        not_modified
    } else {
        response
    };
    response
        .with_header("Cache-Control", cache_control)
        .with_header("ETag", etag)
        .with_header("Vary", "Authorization")
}

/// The slug in the path, or the contract's 422.
fn path_slug<'c>(ctx: &'c Ctx<'_>) -> Result<&'c str, Error> {
    let slug = ctx.params.get("public_slug")?;
    if slug::is_valid(slug, MAX_PUBLIC_SLUG_CHARS) {
        Ok(slug)
    } else {
        Err(Error::invalid(slug::mismatch(&["path", "public_slug"])))
    }
}

/// Which projects a public list covers.
enum Scope {
    /// Every project.
    All,
    /// One project, by id.
    Project(String),
    /// None: the `?project=` slug is unknown, or names another project than the key's.
    Nothing,
}

/// The page and the `?project=` scope of a list query.
fn list_query(app: &App, ctx: &Ctx<'_>) -> Result<(Page, Scope), Error> {
    let query = Fields::from_query(ctx.req)?;
    let mut problems = Vec::new();
    let page = query.page(&mut problems);
    let project = query.optional("project", &mut problems).map(str::to_owned);
    if !problems.is_empty() {
        return Err(Error::Validation(problems));
    }
    let scope = match project {
        None => Scope::All,
        Some(slug) => match app.store.project_by_slug(&slug)? {
            Some(project) => Scope::Project(project.id.into_string()),
            None => Scope::Nothing,
        },
    };
    Ok((page, scope))
}

/// One page of the published items of `kind` within `scope`, newest first, and their total.
fn published_listed(
    app: &App,
    kind: ContentKind,
    scope: Scope,
    page: Page,
) -> Result<Listed, Error> {
    match scope {
        Scope::All => app.store.published_content(kind, None, page),
        Scope::Project(id) => app.store.published_content(kind, Some(&id), page),
        Scope::Nothing => Ok(Listed {
            items: Vec::new(),
            total: 0,
        }),
    }
}

/// One page of the published items of `kind` of one project, newest first, and their total:
/// exactly what a list route answers a key of that project (the MCP list tools call this).
pub(crate) fn published_of_project(
    app: &App,
    kind: ContentKind,
    project_id: &str,
    page: Page,
) -> Result<Listed, Error> {
    published_listed(app, kind, Scope::Project(project_id.to_owned()), page)
}

/// A paginated list of published items of `kind` within `scope`.
fn published_list(
    app: &App,
    kind: ContentKind,
    scope: Scope,
    page: Page,
) -> Result<Response, Error> {
    let listed = published_listed(app, kind, scope, page)?;
    Ok(list_response(&listed, dto::content_public))
}

/// `GET /api/v1/changelogs`: with an API key as Bearer, only that key's project.
pub fn get_changelogs(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    // A key is checked before the public throttle so that its own limit applies instead.
    let key_scope = match credential(ctx.req, &AuthFailure::ApiKey) {
        Ok(Credential::ApiKey(raw)) => Some(authenticate_key(app, ctx, raw)),
        _ => None,
    };
    match key_scope {
        Some(key) => {
            let key = key?;
            gated(app, || {
                let (page, scope) = list_query(app, ctx)?;
                let own = key.key.project_id;
                let scope = match scope {
                    Scope::All => Scope::Project(own.into_string()),
                    Scope::Project(id) if own == id => Scope::Project(own.into_string()),
                    Scope::Project(_) | Scope::Nothing => Scope::Nothing,
                };
                let response = published_list(app, ContentKind::Changelog, scope, page)?;
                // Already throttled as the key, whose project it depends on.
                Ok(cacheable(ctx, response, Audience::OneKey))
            })
        }
        None => public_list(app, ctx, ContentKind::Changelog),
    }
}

/// `GET /api/v1/blogs`.
pub fn get_blogs(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    public_list(app, ctx, ContentKind::Blog)
}

/// `GET /api/v1/kb`.
pub fn get_kb_list(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    public_list(app, ctx, ContentKind::Kb)
}

fn public_list(app: &App, ctx: &mut Ctx<'_>, kind: ContentKind) -> Result<Response, Error> {
    public_read(app, ctx, |ctx| {
        let (page, scope) = list_query(app, ctx)?;
        Ok((published_list(app, kind, scope, page)?, Audience::Everyone))
    })
}

/// The published item of `kind` named by the path, or 404 with `missing`.
fn published_item(
    app: &App,
    ctx: &Ctx<'_>,
    kind: ContentKind,
    missing: &str,
) -> Result<Content, Error> {
    let slug = path_slug(ctx)?;
    find_published(app, kind, slug, missing)
}

/// The published item of `kind` with public slug `slug`, or 404 with `missing`. The slug must
/// already be valid ([`slug::is_valid`] with [`MAX_PUBLIC_SLUG_CHARS`]).
fn find_published(
    app: &App,
    kind: ContentKind,
    slug: &str,
    missing: &str,
) -> Result<Content, Error> {
    app.store
        .published_by_slug(kind, slug)?
        .ok_or_else(|| Error::NotFound(missing.into()))
}

/// The published item of `kind` with slug `slug`, as the item routes find it: a slug that is
/// not valid is a 422 located at `loc`, an unknown one the route's 404 (the MCP get tools call
/// this).
pub(crate) fn published_by_slug(
    app: &App,
    kind: ContentKind,
    slug: &str,
    loc: &[&str],
) -> Result<Content, Error> {
    if !slug::is_valid(slug, MAX_PUBLIC_SLUG_CHARS) {
        return Err(Error::invalid(slug::mismatch(loc)));
    }
    find_published(app, kind, slug, not_found_detail(kind))
}

const CHANGELOG_NOT_FOUND: &str = "Changelog not found";
const BLOG_NOT_FOUND: &str = "Blog post not found";
const KB_NOT_FOUND: &str = "KB articles not found";

/// The 404 detail of the item route of `kind`.
pub(crate) fn not_found_detail(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Changelog => CHANGELOG_NOT_FOUND,
        ContentKind::Blog => BLOG_NOT_FOUND,
        ContentKind::Kb => KB_NOT_FOUND,
    }
}

fn public_item(
    app: &App,
    ctx: &mut Ctx<'_>,
    kind: ContentKind,
    missing: &str,
) -> Result<Response, Error> {
    public_read(app, ctx, |ctx| {
        let item = published_item(app, ctx, kind, missing)?;
        Ok((respond::ok(&dto::content_public(&item)), Audience::Everyone))
    })
}

/// `GET /api/v1/changelog/{public_slug}`.
pub fn get_changelog(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    public_item(app, ctx, ContentKind::Changelog, CHANGELOG_NOT_FOUND)
}

/// `GET /api/v1/blog/{public_slug}`.
pub fn get_blog(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    public_item(app, ctx, ContentKind::Blog, BLOG_NOT_FOUND)
}

/// `GET /api/v1/kb/{public_slug}`.
pub fn get_kb(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    public_item(app, ctx, ContentKind::Kb, KB_NOT_FOUND)
}

// ---------------------------------------------------------------------------------------
// Feeds
// ---------------------------------------------------------------------------------------

/// The public page of an item: `{base_url}/changelog/{slug}` or `{base_url}/blog/{slug}`.
fn item_link(app: &App, item: &Content) -> String {
    let base = app.config.effective_base_url();
    format!(
        "{}/{}/{}",
        base.trim_end_matches('/'),
        item.kind.as_str(),
        item.public_slug.as_deref().unwrap_or_default()
    )
}

/// A changelog's entries as an HTML list (every text escaped), cut to an excerpt of at
/// most `limit` bytes; true when some of it was left out.
fn entries_excerpt(item: &Content, limit: usize) -> (String, bool) {
    let entries = content::entries(item.kind, &item.body);
    if entries.is_empty() {
        return (String::new(), false);
    }
    let mut html = feed::BoundedHtml::new(limit);
    html.markup("<ul>");
    for entry in entries {
        // Room for the tags of one entry and a few characters of it.
        if !html.has_room("<li><strong></strong>: </li>".len() + 8) {
            break;
        }
        html.markup("<li><strong>");
        let whole = html.text(&entry.category);
        html.markup("</strong>");
        if whole {
            html.markup(": ");
            if html.text(&entry.title) && !entry.text.is_empty() {
                html.markup(" — ");
                html.text(&entry.text);
            }
        }
        html.markup("</li>");
        if html.is_cut() {
            break;
        }
    }
    html.markup("</ul>");
    html.finish()
}

/// `excerpt` as a feed item's description: when it was cut, followed by a link to the whole
/// item, so a reader knows there is more and where.
fn description(excerpt: (String, bool), link: &str) -> String {
    let (mut html, cut) = excerpt;
    if cut {
        html.push_str("<p><a href=\"");
        html.push_str(&feed::html_text(link));
        html.push_str("\">Read the whole item</a></p>");
    }
    html
}

/// One feed item for a whole changelog or blog post, its description an excerpt.
fn item_of(app: &App, item: &Content) -> feed::Item {
    let link = item_link(app, item);
    let excerpt = match item.kind {
        ContentKind::Blog => feed::paragraphs_excerpt(&item.body, feed::EXCERPT_BYTES),
        _ => entries_excerpt(item, feed::EXCERPT_BYTES),
    };
    feed::Item {
        title: item.title.clone(),
        description_html: description(excerpt, &link),
        link,
        guid: format!("{}:{}", item.kind.as_str(), item.id),
        pub_date: item.published_at.unwrap_or(item.created_at),
    }
}

/// The newest change among `items`, or now for an empty feed.
fn last_build(app: &App, items: &[Content]) -> i64 {
    items
        .iter()
        .map(|item| item.updated_at.max(item.published_at.unwrap_or(0)))
        .max()
        .unwrap_or_else(|| app.clock.now_secs())
}

fn rss(document: impl Into<Vec<u8>>) -> Response {
    Response::bytes(200, "application/rss+xml; charset=utf-8", document.into())
}

/// A feed of the newest published items of `kind`, from the feed cache while content is
/// unchanged.
fn list_feed(app: &App, ctx: &mut Ctx<'_>, kind: ContentKind) -> Result<Response, Error> {
    public_read(app, ctx, |_| {
        // Read before the items, so that a write ending meanwhile leaves a newer number.
        let generation = app.store.content_generation()?;
        let document = app
            .feeds
            .get_or_build(kind.as_str(), generation, || build_list_feed(app, kind))?;
        Ok((rss(document), Audience::Everyone))
    })
}

/// The document of the newest published items of `kind`. An empty feed is dated now, so it
/// is not kept.
fn build_list_feed(app: &App, kind: ContentKind) -> Result<Built, Error> {
    let page = Page {
        limit: FEED_ITEMS,
        offset: 0,
    };
    let listed = app.store.published_content(kind, None, page)?;
    let (title, path, what) = match kind {
        ContentKind::Blog => ("Blog", "blog", "blog posts"),
        _ => ("Changelog", "changelog", "changelogs"),
    };
    let base = app.config.effective_base_url();
    let channel = feed::Channel {
        title: title.into(),
        link: format!("{}/{path}", base.trim_end_matches('/')),
        description: format!("The newest published {what}"),
        last_build: last_build(app, &listed.items),
    };
    let items: Vec<feed::Item> = listed.items.iter().map(|item| item_of(app, item)).collect();
    Ok(Built {
        body: feed::render(&channel, &items).into_bytes(),
        keep: !items.is_empty(),
    })
}

/// `GET /api/v1/changelogs/feed`: the newest 50 published changelogs.
pub fn get_changelogs_feed(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    list_feed(app, ctx, ContentKind::Changelog)
}

/// `GET /api/v1/blogs/feed`: the newest 50 published blog posts.
pub fn get_blogs_feed(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    list_feed(app, ctx, ContentKind::Blog)
}

/// `GET /api/v1/changelog/{public_slug}/feed`: one item per entry of the changelog.
pub fn get_changelog_feed(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    public_read(app, ctx, |ctx| {
        let item = published_item(app, ctx, ContentKind::Changelog, CHANGELOG_NOT_FOUND)?;
        let link = item_link(app, &item);
        let pub_date = item.published_at.unwrap_or(item.created_at);
        let items: Vec<feed::Item> = content::entries(item.kind, &item.body)
            .into_iter()
            .enumerate()
            .map(|(index, entry)| feed::Item {
                title: format!("{}: {}", entry.category, entry.title),
                link: link.clone(),
                guid: format!("changelog:{}:{index}", item.id),
                pub_date,
                description_html: description(
                    feed::paragraphs_excerpt(&entry.text, feed::EXCERPT_BYTES),
                    &link,
                ),
            })
            .collect();
        let channel = feed::Channel {
            title: item.title.clone(),
            link,
            description: format!("Changes in {}", item.title),
            last_build: last_build(app, std::slice::from_ref(&item)),
        };
        Ok((rss(feed::render(&channel, &items)), Audience::Everyone))
    })
}

/// `GET /api/v1/blog/{public_slug}/feed`: the post as the feed's one item.
pub fn get_blog_feed(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    public_read(app, ctx, |ctx| {
        let item = published_item(app, ctx, ContentKind::Blog, BLOG_NOT_FOUND)?;
        let channel = feed::Channel {
            title: item.title.clone(),
            link: item_link(app, &item),
            description: item.title.clone(),
            last_build: last_build(app, std::slice::from_ref(&item)),
        };
        let items = [item_of(app, &item)];
        Ok((rss(feed::render(&channel, &items)), Audience::Everyone))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::http::Request;
    use serde_json::{json, Value};

    /// An application on a fresh database in its own directory, removed on drop.
    struct TestApp {
        app: App,
        dir: std::path::PathBuf,
    }

    impl Drop for TestApp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn app_with_public_reads(limit: usize) -> TestApp {
        let dir =
            std::env::temp_dir().join(format!("shipstar-public-{}", crate::ids::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::defaults();
        config.database =
            crate::config::DatabaseLocation::new(dir.join("test.db").to_string_lossy());
        config.max_concurrent_public_reads = Some(limit);
        let app = crate::server::build_app(config, Clock::fixed(1_743_433_200)).unwrap();
        TestApp { app, dir }
    }

    fn get(app: &App, path: &str) -> Response {
        super::super::handle(app, &Request::new("GET", path))
    }

    #[test]
    fn a_public_read_over_the_limit_is_503_at_once_and_health_still_answers() {
        let test = app_with_public_reads(2);
        let app = &test.app;
        // Two reads in progress fill the gate.
        let in_progress = (
            app.public_reads.try_enter().unwrap(),
            app.public_reads.try_enter().unwrap(),
        );
        for path in [
            "/api/v1/changelogs",
            "/api/v1/changelogs/feed",
            "/api/v1/changelog/any/feed",
            "/api/v1/changelog/any",
            "/api/v1/blogs",
            "/api/v1/blogs/feed",
            "/api/v1/blog/any",
            "/api/v1/blog/any/feed",
            "/api/v1/kb",
            "/api/v1/kb/any",
        ] {
            let resp = get(app, path);
            assert_eq!(resp.status, 503, "{path}");
            assert_eq!(resp.header("Retry-After"), Some("1"), "{path}");
            assert_eq!(
                resp.header("Access-Control-Allow-Origin"),
                Some("*"),
                "{path}"
            );
            assert_eq!(resp.header("ETag"), None, "{path}");
            let body: Value = serde_json::from_slice(&resp.body).unwrap();
            assert_eq!(body, json!({ "detail": BUSY }), "{path}");
        }
        assert_eq!(
            app.public_reads.inside(),
            2,
            "a refused read holds no place"
        );
        // Health and the preflight do not pass the gate.
        let health = get(app, "/api/v1/health");
        assert_eq!(health.status, 200);
        let preflight = super::super::handle(app, &Request::new("OPTIONS", "/api/v1/blogs/feed"));
        assert_eq!(preflight.status, 204);
        // With a place free again, reads are answered.
        drop(in_progress);
        assert_eq!(get(app, "/api/v1/blogs/feed").status, 200);
        assert_eq!(get(app, "/api/v1/changelogs").status, 200);
        assert_eq!(get(app, "/api/v1/blog/any").status, 404);
        assert_eq!(
            app.public_reads.inside(),
            0,
            "every answered read gave its place back"
        );
    }

    #[test]
    fn a_read_holds_its_place_only_while_it_is_answered() {
        let test = app_with_public_reads(1);
        let app = &test.app;
        for _ in 0..3 {
            assert_eq!(get(app, "/api/v1/changelogs/feed").status, 200);
            assert_eq!(app.public_reads.inside(), 0);
        }
        // With the gate full, a refused key is still told so (the key is checked first),
        // and a keyless read is refused for want of a place.
        let _held = app.public_reads.try_enter().unwrap();
        let with_key = |token: &str| {
            let req = Request::new("GET", "/api/v1/changelogs")
                .with_header("Authorization", &format!("Bearer {token}"));
            super::super::handle(app, &req).status
        };
        assert_eq!(with_key("sk_live_unknown"), 401);
        assert_eq!(get(app, "/api/v1/changelogs").status, 503);
    }
}
