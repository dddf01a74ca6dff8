//! The public HTML pages: `GET /changelog/{slug}`, `/blog/{slug}` and `/kb/{slug}` show one
//! published item, `GET /changelog`, `/blog` and `/kb` list them. The links in the RSS feeds
//! (`{base_url}/changelog/{slug}`, `{base_url}/blog/{slug}`) resolve here.
//!
//! Thin glue: the items come from the same store reads as the JSON public API
//! (`published_by_slug`, `published_content`), so a page shows exactly what
//! `/api/v1/...` shows and disappears the moment an item is unpublished; the HTML is built by
//! [`crate::content::pages`]. Every answer, errors included, is an HTML page with the
//! dashboard's security headers (its strict Content-Security-Policy among them); successes
//! are cached as the public API's are (`Cache-Control: public, max-age=60`, a strong `ETag`,
//! 304 on a matching `If-None-Match`). Requests count against the public rate limit per
//! client address, as the public API's do.
//!
//! Errors are pages too, never JSON: an unknown or unpublished item, a slug that is not a
//! valid slug, an unknown `?project=` and a `?page=` past the end are 404; a `?page=` that is
//! not a whole number from 1 to 1,000,000,000 (or any repeated query field) is 422. Error
//! pages are `Cache-Control: no-store`, so publishing an item shows it at once.

use super::conditional::cacheable;
use super::dashboard::{with_page_headers, ASSET_PREFIX};
use super::extract::Fields;
use super::internal::content::MAX_PUBLIC_SLUG_CHARS;
use super::{respond, throttle_with, App, Ctx};
use crate::auth::ratelimit::Class;
use crate::content::pages::{self, Layout, Listing, ProjectFilter, ITEMS_PER_PAGE};
use crate::error::Error;
use crate::http::Response;
use crate::slug;
use crate::store::{ContentKind, Page};
use serde_json::Value;

/// How long anyone may keep a page: as the public API's answers.
const CACHE_CONTROL: &str = "public, max-age=60";
const HTML: &str = "text/html; charset=utf-8";
/// The highest `?page=`: far past any real list, and low enough that the row offset it
/// implies cannot overflow.
const MAX_PAGE: i64 = 1_000_000_000;

/// Runs a page read: throttles, builds the HTML, then adds caching (successes) or turns the
/// error into an error page, and the page security headers either way.
fn page(
    app: &App,
    ctx: &mut Ctx<'_>,
    build: impl FnOnce(&Ctx<'_>, &Layout<'_>) -> Result<String, Error>,
) -> Result<Response, Error> {
    let stylesheet = format!("{ASSET_PREFIX}app.css");
    let icon = format!("{ASSET_PREFIX}icon.svg");
    let layout = Layout {
        stylesheet: &stylesheet,
        icon: &icon,
    };
    let answer = throttle_with(app, ctx, Class::Public, |ctx| ctx.client_ip(app))
        .and_then(|()| build(ctx, &layout));
    let response = match answer {
        Ok(html) => cacheable(
            ctx.req,
            Response::bytes(200, HTML, html.into_bytes()),
            CACHE_CONTROL,
        ),
        Err(err) => error_page(&layout, &err),
    };
    Ok(with_page_headers(response))
}

/// The page for `err`. Status, extra headers (`Retry-After`) and logging come from the one
/// mapping every answer uses ([`respond::error_response`]); only the body is HTML here.
fn error_page(layout: &Layout<'_>, err: &Error) -> Response {
    let mapped = respond::error_response(err);
    let detail = serde_json::from_slice::<Value>(&mapped.body)
        .ok()
        .map(|body| body["detail"].clone())
        .unwrap_or(Value::Null);
    let message = match detail {
        Value::String(text) => text,
        // A validation list: one short sentence per problem, e.g. "page: Input should be a
        // valid integer".
        Value::Array(problems) => problems
            .iter()
            .map(|problem| {
                let field = problem["loc"]
                    .as_array()
                    .and_then(|loc| loc.last())
                    .and_then(Value::as_str)
                    .unwrap_or("query");
                format!("{field}: {}", problem["msg"].as_str().unwrap_or("invalid"))
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => "The server could not show this page.".to_string(),
    };
    let heading = match mapped.status {
        404 => "Page not found",
        422 => "Bad address",
        429 => "Too many requests",
        503 => "Temporarily unavailable",
        500 => "Server error",
        _ => "Error",
    };
    let mut response = Response::bytes(
        mapped.status,
        HTML,
        pages::error_page(layout, heading, &message).into_bytes(),
    );
    response.headers.extend(
        mapped
            .headers
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-type")),
    );
    response.with_header("Cache-Control", "no-store")
}

/// What an item of `kind` is called in a 404 sentence.
fn noun(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Changelog => "changelog",
        ContentKind::Blog => "blog post",
        ContentKind::Kb => "knowledge-base article set",
    }
}

/// The page of the published item of `kind` named by the path.
fn item_page(app: &App, ctx: &mut Ctx<'_>, kind: ContentKind) -> Result<Response, Error> {
    page(app, ctx, |ctx, layout| {
        let missing = || Error::NotFound(format!("No published {} has this address.", noun(kind)));
        let slug = ctx.params.get("public_slug")?;
        // An invalid slug names nothing that could ever be published: 404, not the API's
        // 422, because a person following a link needs to know the page is not there.
        if !slug::is_valid(slug, MAX_PUBLIC_SLUG_CHARS) {
            return Err(missing());
        }
        let item = app
            .store
            .published_by_slug(kind, slug)?
            .ok_or_else(missing)?;
        Ok(pages::item_page(layout, &item))
    })
}

/// A page of the list of published items of `kind`, newest first.
fn list_page(app: &App, ctx: &mut Ctx<'_>, kind: ContentKind) -> Result<Response, Error> {
    page(app, ctx, |ctx, layout| {
        let query = Fields::from_query(ctx.req)?;
        let mut problems = Vec::new();
        let number = query.int_or("page", 1, 1, MAX_PAGE, &mut problems);
        let project_slug = query.optional("project", &mut problems);
        if !problems.is_empty() {
            return Err(Error::Validation(problems));
        }
        let project = match project_slug {
            None => None,
            Some(slug) => Some(
                app.store
                    .project_by_slug(slug)?
                    .ok_or_else(|| Error::NotFound("No project has this slug.".into()))?,
            ),
        };
        let window = Page {
            limit: ITEMS_PER_PAGE,
            offset: (number - 1) * ITEMS_PER_PAGE,
        };
        let listed =
            app.store
                .published_content(kind, project.as_ref().map(|p| p.id.as_str()), window)?;
        // The first page exists even for an empty list; a later one only while it has items.
        if number > 1 && listed.items.is_empty() {
            return Err(Error::NotFound(format!("This list has no page {number}.")));
        }
        Ok(pages::list_page(
            layout,
            &Listing {
                kind,
                project: project.as_ref().map(|p| ProjectFilter {
                    slug: &p.slug,
                    name: &p.name,
                }),
                items: &listed.items,
                page: number,
                total: listed.total,
            },
        ))
    })
}

/// `GET /changelog/{public_slug}`.
pub fn get_changelog_page(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    item_page(app, ctx, ContentKind::Changelog)
}

/// `GET /blog/{public_slug}`.
pub fn get_blog_page(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    item_page(app, ctx, ContentKind::Blog)
}

/// `GET /kb/{public_slug}`.
pub fn get_kb_page(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    item_page(app, ctx, ContentKind::Kb)
}

/// `GET /changelog`: published changelogs, `?project=` and `?page=`.
pub fn get_changelog_list_page(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    list_page(app, ctx, ContentKind::Changelog)
}

/// `GET /blog`: published blog posts, `?project=` and `?page=`.
pub fn get_blog_list_page(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    list_page(app, ctx, ContentKind::Blog)
}

/// `GET /kb`: published KB sets, `?project=` and `?page=`.
pub fn get_kb_list_page(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    list_page(app, ctx, ContentKind::Kb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;

    const LAYOUT: Layout<'static> = Layout {
        stylesheet: "/s.css",
        icon: "/i.svg",
    };

    fn text(response: &Response) -> String {
        String::from_utf8(response.body.clone()).expect("UTF-8")
    }

    #[test]
    fn a_missing_item_is_an_html_404_that_is_not_stored() {
        let response = error_page(
            &LAYOUT,
            &Error::NotFound("No published changelog has this address.".into()),
        );
        assert_eq!(response.status, 404);
        assert_eq!(response.header("Content-Type"), Some(HTML));
        assert_eq!(response.header("Cache-Control"), Some("no-store"));
        assert_eq!(
            response
                .headers
                .iter()
                .filter(|(n, _)| n == "Content-Type")
                .count(),
            1
        );
        let html = text(&response);
        assert!(html.contains("<h1>Page not found</h1>"), "{html}");
        assert!(
            html.contains("<p>No published changelog has this address.</p>"),
            "{html}"
        );
    }

    #[test]
    fn a_bad_query_is_an_html_422_naming_each_field() {
        let response = error_page(
            &LAYOUT,
            &Error::Validation(vec![
                FieldError::new(
                    &["query", "page"],
                    "int_parsing",
                    "Input should be a valid integer",
                ),
                FieldError::new(
                    &["query", "project"],
                    "value_error",
                    "Field given more than once",
                ),
            ]),
        );
        assert_eq!(response.status, 422);
        let html = text(&response);
        assert!(html.contains("<h1>Bad address</h1>"), "{html}");
        assert!(
            html.contains(
                "<p>page: Input should be a valid integer; project: Field given more than once</p>"
            ),
            "{html}"
        );
    }

    #[test]
    fn rate_limits_and_failures_keep_their_headers_and_leak_nothing() {
        let limited = error_page(
            &LAYOUT,
            &Error::RateLimited {
                retry_after_secs: 7,
            },
        );
        assert_eq!(limited.status, 429);
        assert_eq!(limited.header("Retry-After"), Some("7"));
        assert!(text(&limited).contains("Retry after 7 seconds."));
        let failed = error_page(&LAYOUT, &Error::Internal("table content is locked".into()));
        assert_eq!(failed.status, 500);
        assert!(!text(&failed).contains("locked"));
        assert!(text(&failed).contains("<h1>Server error</h1>"));
    }
}
