//! Every name a handler asks [`PathParams`](crate::api::router::PathParams) for exists in its
//! route's pattern: each route with parameters is called with made-up values as the
//! superuser (so authentication never stops it before the lookup), and none answers 500. A
//! misspelt name fails the lookup's `debug_assert!` here, or answers 500 in a release build.

use super::super::ROUTES;
use super::TestApp;
use serde_json::json;

/// A made-up id: a well-formed UUID that names nothing, also a valid slug and asset name.
const MADE_UP: &str = "00000000-0000-4000-8000-000000000001";

/// A path `pattern` matches, each `{parameter}` replaced by [`MADE_UP`].
fn path_of(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|part| if part.starts_with('{') { MADE_UP } else { part })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_route_with_parameters_finds_the_names_its_handler_asks_for() {
    let test = TestApp::new(&[]);
    let admin = test.admin_token();
    let routes: Vec<_> = ROUTES
        .iter()
        .filter(|route| route.pattern.contains('{'))
        .collect();
    assert!(routes.len() > 20, "the table lost its parameter routes");
    for route in routes {
        let path = path_of(route.pattern);
        let body = (!matches!(route.method, "GET" | "DELETE")).then(|| json!({}));
        let resp = test.call(route.method, &path, Some(&admin), body.as_ref());
        assert_ne!(
            resp.status,
            500,
            "{} {}: {}",
            route.method,
            route.pattern,
            String::from_utf8_lossy(&resp.body)
        );
    }
}
