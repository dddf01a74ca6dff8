//! Where each request runs: the class of every route in the table, and the classifier the
//! server asks for each request (see [`dispatch`]).

use super::super::{dispatch, dispatch_remote_store, Dispatch, ROUTES};
use crate::http::Request;

/// A path that `pattern` matches: each `{parameter}` replaced by a plain value.
fn path_of(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|part| if part.starts_with('{') { "x1" } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

fn class_of(method: &str, target: &str) -> Dispatch {
    dispatch(&Request::new(method, target))
}

#[test]
fn every_route_is_classified_as_its_row_says_and_head_follows_get() {
    for route in ROUTES {
        let path = path_of(route.pattern);
        assert_eq!(
            class_of(route.method, &path),
            route.dispatch,
            "{} {}",
            route.method,
            route.pattern
        );
        if route.method == "GET" {
            assert_eq!(class_of("HEAD", &path), route.dispatch, "HEAD {path}");
        }
    }
}

#[test]
fn every_method_that_may_change_state_runs_on_the_pool() {
    for route in ROUTES.iter().filter(|route| route.method != "GET") {
        assert_eq!(
            route.dispatch,
            Dispatch::Pool,
            "{} {}",
            route.method,
            route.pattern
        );
    }
    // Also where no route takes the request: nothing of it is known to be cheap.
    assert_eq!(class_of("POST", "/no/such/route"), Dispatch::Pool);
    assert_eq!(class_of("DELETE", "/api/v1/health"), Dispatch::Pool);
}

#[test]
fn lists_feeds_pages_and_mcp_run_on_the_pool() {
    for (method, target) in [
        ("GET", "/api/v1/blogs?limit=100"),
        ("GET", "/api/v1/blogs/feed"),
        ("GET", "/api/v1/blog/acme/feed"),
        ("GET", "/api/v1/changelogs"),
        ("GET", "/api/v1/changelogs/feed"),
        ("GET", "/api/v1/changelog/acme/feed"),
        ("GET", "/api/v1/kb"),
        ("GET", "/changelog"),
        ("GET", "/changelog/acme"),
        ("GET", "/blog"),
        ("GET", "/blog/acme"),
        ("GET", "/kb"),
        ("HEAD", "/kb/acme"),
        ("GET", "/api/internal/projects/p1/content?limit=100"),
        ("POST", "/mcp"),
        ("POST", "/api/internal/auth/jwt/login"),
    ] {
        assert_eq!(
            class_of(method, target),
            Dispatch::Pool,
            "{method} {target}"
        );
    }
}

#[test]
fn health_authenticated_reads_single_items_assets_and_preflights_run_inline() {
    for (method, target) in [
        ("GET", "/api/v1/health"),
        ("HEAD", "/api/v1/health"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/internal/users/me"),
        ("GET", "/api/internal/api-keys/k1/usage"),
        ("GET", "/api/v1/changelog/acme"),
        ("GET", "/api/v1/blog/acme"),
        ("GET", "/api/v1/kb/acme"),
        ("GET", "/dashboard/assets/app.js"),
        // The preflight of a list is a constant answer, whatever the list costs.
        ("OPTIONS", "/api/v1/blogs"),
        ("OPTIONS", "/api/v1/blogs/feed"),
        // No route: a 404 or 405 answered without any handler.
        ("GET", "/no/such/route"),
        ("GET", "/api/v1/me/"),
    ] {
        assert_eq!(
            class_of(method, target),
            Dispatch::Inline,
            "{method} {target}"
        );
    }
}

#[test]
fn the_route_the_classifier_found_is_taken_once_and_only_by_the_same_method_and_path() {
    use super::super::Found;
    let me = Request::new("GET", "/api/v1/me");
    assert_eq!(dispatch(&me), Dispatch::Inline);
    // Another request (one run on the pool, a direct call) finds nothing kept for it.
    assert!(Found::take(&Request::new("GET", "/api/v1/health")).is_none());
    assert!(Found::take(&Request::new("HEAD", "/api/v1/me")).is_none());
    let (index, _) = Found::take(&me).expect("kept for the same method and path");
    assert_eq!(ROUTES[index].pattern, "/api/v1/me");
    assert!(Found::take(&me).is_none(), "taken once");
    // A pooled request keeps nothing: its handler runs on another thread.
    let list = Request::new("GET", "/api/v1/blogs");
    assert_eq!(dispatch(&list), Dispatch::Pool);
    assert!(Found::take(&list).is_none());
    // A parameter route keeps its decoded parameters.
    let item = Request::new("GET", "/api/v1/changelog/a%20b");
    assert_eq!(dispatch(&item), Dispatch::Inline);
    let (_, params) = Found::take(&item).expect("kept");
    assert_eq!(params.get("public_slug").unwrap(), "a b");
}

#[test]
fn on_a_remote_store_only_a_preflight_runs_on_the_event_loop() {
    for route in ROUTES {
        let path = path_of(route.pattern);
        assert_eq!(
            dispatch_remote_store(&Request::new(route.method, &path)),
            Dispatch::Pool,
            "{} {}",
            route.method,
            route.pattern
        );
    }
    let mut preflight = Request::new("OPTIONS", "/api/v1/changelogs");
    preflight
        .headers
        .push(("origin".into(), "https://example.com".into()));
    preflight
        .headers
        .push(("access-control-request-method".into(), "GET".into()));
    assert_eq!(
        dispatch(&preflight),
        dispatch_remote_store(&preflight),
        "a preflight reads nothing: it stays where it was"
    );
    assert_eq!(
        dispatch_remote_store(&Request::new("GET", "/no/such/route")),
        Dispatch::Pool
    );
}
