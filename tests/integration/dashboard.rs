//! The dashboard's files as served (dashboard.md "Quality"): redirect from `/`, the security
//! headers, content types, caching, 404 for anything not embedded, no path traversal.

use crate::fixture::*;
use serde_json::json;
use std::collections::BTreeSet;

const CSP: &str = "default-src 'self'; frame-ancestors 'none'";

#[track_caller]
fn assert_page_headers(resp: &Resp) {
    assert_eq!(
        resp.header("Content-Security-Policy"),
        Some(CSP),
        "{:?}",
        resp.headers
    );
    assert_eq!(resp.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(resp.header("Referrer-Policy"), Some("no-referrer"));
    assert_eq!(resp.header("X-Content-Type-Options"), Some("nosniff"));
}

#[test]
fn root_redirects_to_the_dashboard() {
    let server = TestServer::start();
    let resp = server.get("/").send();
    resp.expect_status(302);
    assert_eq!(resp.header("Location"), Some("/dashboard"));
    assert!(resp.body.is_empty());
    let resp = server.get("/dashboard/").send();
    resp.expect_status(302);
    assert_eq!(resp.header("Location"), Some("/dashboard"));
}

#[test]
fn dashboard_shell_is_html_with_the_security_headers_and_revalidated_caching() {
    let server = TestServer::start();
    let resp = server.get("/dashboard").send();
    resp.expect_status(200);
    assert_page_headers(&resp);
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(resp.header("Cache-Control"), Some("no-cache"));
    let etag = resp.header("ETag").expect("ETag").to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "{etag}"
    );
    let html = resp.text();
    assert!(
        html.contains("<script src=\"/dashboard/assets/app.js\" defer></script>"),
        "{html}"
    );
    assert!(!html.contains("style="), "{html}");

    // The same ETag back (strong or weak) is a 304 without a body; another one is a 200.
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let again = server
            .get("/dashboard")
            .header("If-None-Match", &tag)
            .send();
        again.expect_status(304);
        assert!(again.body.is_empty());
        assert_eq!(again.header("ETag"), Some(etag.as_str()));
        assert_page_headers(&again);
    }
    server
        .get("/dashboard")
        .header("If-None-Match", "\"stale\"")
        .send()
        .expect_status(200);
}

/// Every asset the shell references is served with its content type and the page headers.
#[test]
fn every_referenced_asset_is_served_with_its_content_type() {
    let server = TestServer::start();
    let shell = server.get("/dashboard").send().text();
    let referenced: BTreeSet<String> = shell
        .split("\"/dashboard/assets/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect();
    for name in &referenced {
        let resp = server.get(&format!("/dashboard/assets/{name}")).send();
        resp.expect_status(200);
        assert_page_headers(&resp);
        assert_eq!(resp.header("Cache-Control"), Some("no-cache"), "{name}");
        assert!(resp.header("ETag").is_some(), "{name}");
        let expected = match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected asset type {other:?} for {name}"),
        };
        assert_eq!(resp.header("Content-Type"), Some(expected), "{name}");
        assert!(!resp.body.is_empty(), "{name}");
    }
    for expected in ["app.css", "app.js", "icon.svg"] {
        assert!(
            referenced.contains(expected),
            "{expected} not referenced: {referenced:?}"
        );
    }
}

#[test]
fn unknown_asset_names_are_404() {
    let server = TestServer::start();
    for path in [
        "/dashboard/assets/nothing.js",
        "/dashboard/assets/api.js",
        "/dashboard/assets/APP.CSS",
        "/dashboard/assets/app.css/",
        "/dashboard/assets/",
        "/dashboard/assets",
        "/dashboard/index.html",
        "/dashboard/keys",
        "/dashboard/assets/mod.rs",
    ] {
        server
            .get(path)
            .send()
            .expect_detail(404, json!("Not Found"));
    }
}

#[test]
fn traversal_never_leaves_the_embedded_set() {
    let server = TestServer::start();
    for path in [
        "/dashboard/../Cargo.toml",
        "/dashboard/assets/../mod.rs",
        "/dashboard/assets/../../../../Cargo.toml",
        "/dashboard/assets/..%2fmod.rs",
        "/dashboard/assets/..%2F..%2F..%2F..%2FCargo.toml",
        "/dashboard/assets/%2e%2e%2f%2e%2e%2fsetup.rs",
        "/dashboard/assets/%2e%2e",
        "/dashboard/assets/..%5cmod.rs",
        "/dashboard/assets/.%2fapp.css",
        "/dashboard/assets/%2fetc%2fpasswd",
        "/dashboard/assets/app.css%00.js",
        "/dashboard/%2e%2e/Cargo.toml",
        "/dashboard/assets/%zz",
    ] {
        let resp = server.get(path).send();
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
        let body = resp.text();
        for leak in ["[package]", "root:", "fn ", "use super"] {
            assert!(!body.contains(leak), "{path} leaked {leak:?}: {body}");
        }
    }
}

#[test]
fn dashboard_routes_answer_only_get_and_head() {
    let server = TestServer::start();
    for path in ["/dashboard", "/dashboard/assets/app.js", "/"] {
        let resp = server.post(path).send();
        resp.expect_detail(405, json!("Method Not Allowed"));
        assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
    }
}

#[test]
fn setup_page_uses_the_dashboard_stylesheet_and_no_inline_code() {
    let server = TestServer::start_with(Options {
        with_admin: false,
        ..Options::default()
    });
    let url = server.setup_url();
    let path = &url[url.find("/setup").expect("setup path")..];
    let resp = server.get(path).send();
    resp.expect_status(200);
    assert_page_headers(&resp);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    let html = resp.text();
    assert!(
        html.contains("<link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\">"),
        "{html}"
    );
    for inline in ["style=", "<style", "<script"] {
        assert!(!html.contains(inline), "{inline} in {html}");
    }
    for id in ["email", "password"] {
        assert!(html.contains(&format!("<label for=\"{id}\">")), "{html}");
    }
    // A dead link gets the same look and points to sign-in.
    let dead = server.get("/setup?token=wrong").send();
    dead.expect_status(404);
    assert_page_headers(&dead);
    assert!(
        dead.text().contains("href=\"/dashboard\""),
        "{}",
        dead.text()
    );
    assert!(dead.text().contains("/dashboard/assets/app.css"));
}
