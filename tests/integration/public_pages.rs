//! Integration tests: the public HTML pages of published content.
//!
//! Contract: `http-api.md` ("Public pages (HTML)", and "Public content" for the feed links
//! these pages resolve). Where the contract is silent, the tests pin the documented choices:
//! a slug that is not a valid slug, an unknown `?project=` and a `?page=` past the end are HTML
//! 404s; a `?page=` that is not a whole number from 1 (or a repeated query field) is an HTML
//! 422; error pages are `Cache-Control: no-store`; KB pages name no feed (the contract has
//! none for KB sets).

use crate::content::*;
use crate::fixture::*;
use serde_json::{json, Value};
use std::io::{Read, Write};

const HTML: &str = "text/html; charset=utf-8";
const CSP: &str = "default-src 'self'; frame-ancestors 'none'";

/// Creates an item of `kind` with `title` and `content` and publishes it under `slug`.
fn published(w: &World, kind: &str, title: &str, content: &str, slug: &str) -> Value {
    let resp = w.create(&json!({"type": kind, "title": title, "content": content}));
    resp.expect_status(201);
    w.publish(s(&resp.json(), "id"), Some(slug))
}

/// Asserts the headers every page carries, success or error.
#[track_caller]
fn assert_page_headers(resp: &Resp, what: &str) {
    assert_eq!(resp.header("Content-Type"), Some(HTML), "{what}");
    assert_eq!(resp.header("Content-Security-Policy"), Some(CSP), "{what}");
    assert_eq!(resp.header("X-Frame-Options"), Some("DENY"), "{what}");
    assert_eq!(
        resp.header("Referrer-Policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(
        resp.header("X-Content-Type-Options"),
        Some("nosniff"),
        "{what}"
    );
}

/// GETs `path`, asserts a 200 page with the caching headers, and returns it.
#[track_caller]
fn page_ok(w: &World, path: &str) -> Resp {
    let resp = w.server.get(path).send();
    resp.expect_status(200);
    assert_page_headers(&resp, path);
    assert_eq!(
        resp.header("Cache-Control"),
        Some("public, max-age=60"),
        "{path}"
    );
    let tag = resp
        .header("ETag")
        .unwrap_or_else(|| panic!("{path}: no ETag"));
    assert!(
        tag.len() > 2 && tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"),
        "{path}: not a strong entity tag: {tag}"
    );
    let html = resp.text();
    assert!(html.starts_with("<!doctype html>"), "{path}: {html}");
    // Works without JavaScript: there is none to run.
    assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "{path}: {html}"
    );
    resp
}

/// GETs `path` and asserts an HTML error page with `status` and `sentence` in it.
#[track_caller]
fn page_error(w: &World, path: &str, status: u16, sentence: &str) -> Resp {
    let resp = w.server.get(path).send();
    resp.expect_status(status);
    assert_page_headers(&resp, path);
    assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{path}");
    assert!(resp.header("ETag").is_none(), "{path}");
    let html = resp.text();
    assert!(html.starts_with("<!doctype html>"), "{path}: {html}");
    assert!(
        html.contains(sentence),
        "{path}: {sentence:?} not in {html}"
    );
    resp
}

/// The hrefs of the item links of a list page, in order.
fn item_links(html: &str, prefix: &str) -> Vec<String> {
    html.split("<h2><a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| href.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// The `href` of the link with `rel` in `html` (`&amp;` decoded).
fn rel_href(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\" href=\""))?;
    let rest = &html[at + rel.len() + 13..];
    Some(rest.split('"').next()?.replace("&amp;", "&"))
}

#[test]
fn changelog_page_shows_the_entries_by_category() {
    let w = world();
    let content = changelog_text(
        "Release 1.4",
        &[
            (
                "Added",
                "Dark <mode>",
                "Follows the system setting.\n\nAlso in the editor.",
            ),
            ("Fixed", "Crash on start", ""),
            ("Added", "CSV export", "From every list."),
        ],
    );
    published(&w, "changelog", "March & April", &content, "march-2025");
    let resp = page_ok(&w, "/changelog/march-2025");
    let html = resp.text();
    assert!(
        html.contains("<title>March &amp; April · Web App</title>"),
        "{html}"
    );
    assert!(html.contains("<h1>March &amp; April</h1>"), "{html}");
    assert!(
        html.contains("<p class=\"public-lead\">Release 1.4</p>"),
        "{html}"
    );
    let added = html.find("<h2>Added</h2>").expect("an Added section");
    let export = html
        .find("<strong>CSV export</strong>")
        .expect("the export entry");
    let fixed = html.find("<h2>Fixed</h2>").expect("a Fixed section");
    assert!(added < export && export < fixed, "{html}");
    assert!(html.contains(
        "<li><strong>Dark &lt;mode&gt;</strong><p>Follows the system setting.</p>\
         <p>Also in the editor.</p></li>"
    ));
    assert!(
        html.contains(
            "<link rel=\"alternate\" type=\"application/rss+xml\" \
         title=\"March &amp; April · Web App\" href=\"/api/v1/changelog/march-2025/feed\">"
        ),
        "{html}"
    );
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/dashboard/assets/app.css\">"));
    // The stylesheet the page names is served.
    w.server
        .get("/dashboard/assets/app.css")
        .send()
        .expect_status(200);
}

#[test]
fn blog_page_renders_markdown_and_links_its_feed() {
    let w = world();
    published(
        &w,
        "blog",
        "Hello <world>",
        "# Big news\n\nIt is *really* here: see [the docs](https://example.com/docs).\n\n\
         ```\nlet x = 1 < 2;\n```\n",
        "hello",
    );
    let html = page_ok(&w, "/blog/hello").text();
    assert!(html.contains("<h1>Hello &lt;world&gt;</h1>"), "{html}");
    assert!(
        html.contains("<div class=\"prose\"><h1>Big news</h1>"),
        "{html}"
    );
    assert!(html.contains("<em>really</em>"), "{html}");
    assert!(html.contains(
        "<a href=\"https://example.com/docs\" rel=\"nofollow noopener noreferrer\">the docs</a>"
    ), "{html}");
    assert!(html.contains("let x = 1 &lt; 2;"), "{html}");
    assert!(
        html.contains(
            "<link rel=\"alternate\" type=\"application/rss+xml\" \
         title=\"Hello &lt;world&gt; · Web App\" href=\"/api/v1/blog/hello/feed\">"
        ),
        "{html}"
    );
    assert!(html.contains("<a href=\"/blog\" aria-current=\"page\">Blog</a>"));
}

#[test]
fn kb_page_renders_every_article_and_names_no_feed() {
    let w = world();
    let content = kb_text(&[
        ("Getting started", "Install", "Run `./install`."),
        ("Admin", "Backups", "Use **shipstar backup**."),
        ("Getting started", "Sign in", "Open the dashboard."),
    ]);
    published(&w, "kb", "Guide", &content, "guide");
    let html = page_ok(&w, "/kb/guide").text();
    assert!(html.contains("<h1>Guide</h1>"), "{html}");
    assert!(
        html.contains("<a href=\"#article-3\">Sign in</a>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<article id=\"article-1\"><h3>Install</h3><div class=\"prose\">\
         <p>Run <code>./install</code>.</p>"
        ),
        "{html}"
    );
    assert!(html.contains("<strong>shipstar backup</strong>"), "{html}");
    assert!(!html.contains("application/rss+xml"), "{html}");
    let list = page_ok(&w, "/kb").text();
    assert!(
        list.contains("<h2><a href=\"/kb/guide\">Guide</a></h2>"),
        "{list}"
    );
    assert!(!list.contains("application/rss+xml"), "{list}");
}

#[test]
fn hostile_markdown_is_sanitised_on_blog_and_kb_pages() {
    let w = world();
    let hostile = "Safe *text*.\n\n<script>alert('s')</script>\n\n\
        <img src=\"/x.png\" onerror=\"alert('i')\">\n\n[click](javascript:alert('j'))\n\n\
        [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)\n\n\
        <div><iframe src=\"https://evil.example\"></iframe><b style=\"x\" onclick=\"alert('c')\">bold</b></div>\n\n\
        <scr<script>ipt>alert('n')</scr</script>ipt>\n\n<svg onload=\"alert('v')\"><script>alert('v')</script></svg>\n\n\
        <a href=\"jav&#x09;ascript:alert('e')\">enc</a> <a href=\"/ok\" onmouseover=\"alert('m')\">ok</a>\n";
    published(&w, "blog", "Hostile", hostile, "hostile");
    published(
        &w,
        "kb",
        "Hostile set",
        &kb_text(&[("Tricks", "All of them", hostile)]),
        "hostile",
    );
    for path in ["/blog/hostile", "/kb/hostile"] {
        let html = page_ok(&w, path).text();
        let lower = html.to_ascii_lowercase();
        for gone in [
            "<script",
            "<iframe",
            "<svg",
            "onerror",
            "onclick",
            "onload",
            "onmouseover",
            "javascript:",
            "data:",
            "style=",
            "alert(",
        ] {
            assert!(!lower.contains(gone), "{path}: {gone:?} survived in {html}");
        }
        assert!(html.contains("<em>text</em>"), "{path}: {html}");
        assert!(html.contains("<img src=\"/x.png\">"), "{path}: {html}");
        assert!(html.contains("<b>bold</b>"), "{path}: {html}");
        assert!(
            html.contains("<a rel=\"nofollow noopener noreferrer\">click</a>"),
            "{path}: {html}"
        );
        assert!(
            html.contains("<a href=\"/ok\" rel=\"nofollow noopener noreferrer\">ok</a>"),
            "{path}: {html}"
        );
    }
}

#[test]
fn a_matching_if_none_match_gets_304_and_a_change_a_new_tag() {
    let w = world();
    let item = published(&w, "blog", "Tagged", "First version.", "tagged");
    for path in ["/blog/tagged", "/blog", "/blog?project=web-app"] {
        let first = page_ok(&w, path);
        let tag = first.header("ETag").unwrap().to_string();
        let again = w.server.get(path).header("If-None-Match", &tag).send();
        again.expect_status(304);
        assert!(again.body.is_empty(), "{path}");
        assert_eq!(again.header("ETag"), Some(tag.as_str()), "{path}");
        assert_eq!(
            again.header("Cache-Control"),
            Some("public, max-age=60"),
            "{path}"
        );
        assert_eq!(again.header("Content-Security-Policy"), Some(CSP), "{path}");
        let other = w
            .server
            .get(path)
            .header("If-None-Match", "\"other\"")
            .send();
        other.expect_status(200);
        assert_eq!(other.body, first.body, "{path}");
    }
    let tag = page_ok(&w, "/blog/tagged")
        .header("ETag")
        .unwrap()
        .to_string();
    w.patch(
        &w.owner,
        s(&item, "id"),
        &json!({"content": "Second version."}),
    )
    .expect_status(200);
    let changed = w
        .server
        .get("/blog/tagged")
        .header("If-None-Match", &tag)
        .send();
    changed.expect_status(200);
    assert!(changed.text().contains("Second version."));
    assert_ne!(changed.header("ETag"), Some(tag.as_str()));
}

#[test]
fn head_answers_like_get_without_a_body() {
    let w = world();
    published(
        &w,
        "changelog",
        "Headed",
        &sample_content("changelog"),
        "headed",
    );
    for (path, status) in [
        ("/changelog/headed", 200),
        ("/changelog", 200),
        ("/changelog/none", 404),
    ] {
        let get = w.server.get(path).send();
        get.expect_status(status);
        let mut stream = std::net::TcpStream::connect(w.server.addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("a header section");
        assert_eq!(body, "", "{path}: HEAD sent a body");
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{path}: {head}"
        );
        let lower = format!("{head}\r\n").to_ascii_lowercase();
        assert!(
            lower.contains(&format!("content-length: {}\r\n", get.body.len())),
            "{path}: {head}"
        );
        assert!(
            lower.contains("content-type: text/html; charset=utf-8"),
            "{path}: {head}"
        );
        if let Some(tag) = get.header("ETag") {
            assert!(head.contains(tag), "{path}: {head}");
        }
    }
}

#[test]
fn unknown_invalid_and_other_kind_slugs_are_html_404s() {
    let w = world();
    published(
        &w,
        "changelog",
        "Only a changelog",
        &sample_content("changelog"),
        "only",
    );
    w.draft("blog", "A draft");
    for path in [
        "/changelog/nope",
        "/changelog/Bad_Slug",
        "/changelog/a--b",
        "/changelog/-a",
        &format!("/changelog/{}", "a".repeat(201)),
        "/changelog/%C3%A9",
        "/blog/only",
        "/kb/only",
        "/blog/a-draft",
    ] {
        page_error(&w, path, 404, "has this address.");
    }
    let html = page_error(
        &w,
        "/blog/only",
        404,
        "No published blog post has this address.",
    )
    .text();
    assert!(html.contains("<h1>Page not found</h1>"), "{html}");
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
}

#[test]
fn unpublishing_makes_the_page_404_at_once_and_republishing_restores_it() {
    let w = world();
    let item = published(
        &w,
        "changelog",
        "Short-lived",
        &sample_content("changelog"),
        "short-lived",
    );
    let id = s(&item, "id");
    page_ok(&w, "/changelog/short-lived");
    assert_eq!(
        item_links(&page_ok(&w, "/changelog").text(), "/changelog/"),
        ["/changelog/short-lived"]
    );
    w.unpublish(id);
    page_error(
        &w,
        "/changelog/short-lived",
        404,
        "No published changelog has this address.",
    );
    let list = page_ok(&w, "/changelog").text();
    assert!(item_links(&list, "/changelog/").is_empty(), "{list}");
    assert!(list.contains("Nothing published yet"), "{list}");
    w.publish(id, None);
    page_ok(&w, "/changelog/short-lived");
}

#[test]
fn lists_are_newest_first_twenty_to_a_page() {
    let w = world();
    for n in 0..23 {
        let item = published(
            &w,
            "blog",
            &format!("Post {n}"),
            "Text.",
            &format!("post-{n}"),
        );
        // Distinct publication times, in an order unlike creation's.
        let minutes = (n * 7) % 23;
        w.set_time(s(&item, "id"), "published_at", 1_743_000_000 + minutes * 60);
    }
    let newest_first: Vec<String> = {
        let mut by_time: Vec<(i64, i64)> = (0..23).map(|n| ((n * 7) % 23, n)).collect();
        by_time.sort_by(|a, b| b.cmp(a));
        by_time
            .iter()
            .map(|(_, n)| format!("/blog/post-{n}"))
            .collect()
    };
    let first = page_ok(&w, "/blog").text();
    assert_eq!(item_links(&first, "/blog/"), newest_first[..20]);
    assert!(first.contains("23 published · page 1 of 2"), "{first}");
    assert!(rel_href(&first, "prev").is_none(), "{first}");
    assert!(first.contains(
        "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Blog\" href=\"/api/v1/blogs/feed\">"
    ), "{first}");
    let next = rel_href(&first, "next").expect("a link to the next page");
    assert_eq!(next, "/blog?page=2");
    let second = page_ok(&w, &next).text();
    assert_eq!(item_links(&second, "/blog/"), newest_first[20..]);
    assert_eq!(rel_href(&second, "prev").as_deref(), Some("/blog"));
    assert!(rel_href(&second, "next").is_none(), "{second}");
    assert_eq!(page_ok(&w, "/blog?page=1").body, page_ok(&w, "/blog").body);
    page_error(&w, "/blog?page=3", 404, "This list has no page 3.");
    for (query, problem) in [
        ("page=0", "page: Input should be greater than or equal to 1"),
        (
            "page=-1",
            "page: Input should be greater than or equal to 1",
        ),
        ("page=two", "page: Input should be a valid integer"),
        ("page=", "page: Input should be a valid integer"),
        ("page=1.5", "page: Input should be a valid integer"),
        (
            "page=99999999999999999999",
            "page: Input should be a valid integer",
        ),
        (
            "page=1000000001",
            "page: Input should be less than or equal to 1000000000",
        ),
        ("page=1&page=2", "page: Field given more than once"),
        ("project=a&project=b", "project: Field given more than once"),
        ("page=%zz", "Query string has a malformed percent-escape"),
    ] {
        page_error(&w, &format!("/blog?{query}"), 422, problem);
    }
    // Other query fields are ignored.
    assert_eq!(
        page_ok(&w, "/blog?utm_source=feed").body,
        page_ok(&w, "/blog").body
    );
}

#[test]
fn the_project_filter_lists_one_project_and_keeps_to_it_across_pages() {
    let w = world();
    let (other_id, other_slug) = w.new_project("Mobile App");
    published(
        &w,
        "changelog",
        "Web release",
        &sample_content("changelog"),
        "web-release",
    );
    let theirs = w.draft_in(&other_id, "changelog", "Mobile release");
    w.publish(s(&theirs, "id"), Some("mobile-release"));
    let all = page_ok(&w, "/changelog").text();
    assert_eq!(item_links(&all, "/changelog/").len(), 2, "{all}");
    let ours = page_ok(&w, &format!("/changelog?project={}", w.project_slug)).text();
    assert_eq!(item_links(&ours, "/changelog/"), ["/changelog/web-release"]);
    assert!(ours.contains("<h1>Changelog · Web App</h1>"), "{ours}");
    let mobile = page_ok(&w, &format!("/changelog?project={other_slug}")).text();
    assert_eq!(
        item_links(&mobile, "/changelog/"),
        ["/changelog/mobile-release"]
    );
    assert!(
        mobile.contains("<h1>Changelog · Mobile App</h1>"),
        "{mobile}"
    );
    page_error(
        &w,
        "/changelog?project=no-such-project",
        404,
        "No project has this slug.",
    );
    page_error(&w, "/changelog?project=", 404, "No project has this slug.");
    // Past twenty items the pager keeps the filter.
    for n in 0..21 {
        let item = w.draft_in(&other_id, "changelog", &format!("Mobile {n}"));
        w.publish(s(&item, "id"), None);
    }
    let first = page_ok(&w, &format!("/changelog?project={other_slug}")).text();
    let next = rel_href(&first, "next").expect("next page");
    assert_eq!(next, format!("/changelog?project={other_slug}&page=2"));
    let second = page_ok(&w, &next).text();
    assert_eq!(item_links(&second, "/changelog/").len(), 2, "{second}");
    assert!(!second.contains("/changelog/web-release"), "{second}");
}

/// The `<link>` of every item of the RSS document `xml`.
fn feed_item_links(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|err| panic!("{err}: {xml}"));
    doc.descendants()
        .filter(|node| node.has_tag_name("item"))
        .filter_map(|item| item.children().find(|c| c.has_tag_name("link")))
        .filter_map(|link| link.text().map(str::to_owned))
        .collect()
}

#[test]
fn every_feed_item_link_opens_its_page_on_this_server() {
    let w = world();
    published(
        &w,
        "changelog",
        "Linked changelog",
        &sample_content("changelog"),
        "linked",
    );
    published(&w, "blog", "Linked post", "Body.", "linked-post");
    for (feed, title) in [
        ("/api/v1/changelogs/feed", "Linked changelog"),
        ("/api/v1/changelog/linked/feed", "Linked changelog"),
        ("/api/v1/blogs/feed", "Linked post"),
        ("/api/v1/blog/linked-post/feed", "Linked post"),
    ] {
        let resp = w.server.get(feed).send();
        resp.expect_status(200);
        let links = feed_item_links(&resp.text());
        assert!(!links.is_empty(), "{feed}: no items");
        for link in links {
            let path = link
                .strip_prefix(BASE_URL)
                .unwrap_or_else(|| panic!("{feed}: {link} is not under {BASE_URL}"));
            let html = page_ok(&w, path).text();
            assert!(
                html.contains(&format!("<h1>{title}</h1>")),
                "{feed} → {path}: {html}"
            );
        }
    }
    // Each page names the feed it came from, and that feed is served.
    for page in [
        "/changelog/linked",
        "/blog/linked-post",
        "/changelog",
        "/blog",
    ] {
        let html = page_ok(&w, page).text();
        let feed = html
            .split("type=\"application/rss+xml\"")
            .nth(1)
            .and_then(|rest| rest.split("href=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{page}: no feed link"));
        let resp = w.server.get(feed).send();
        resp.expect_status(200);
        assert_eq!(
            resp.header("Content-Type"),
            Some("application/rss+xml; charset=utf-8"),
            "{page} → {feed}"
        );
    }
}

#[test]
fn pages_count_against_the_public_rate_limit_and_say_so_in_html() {
    let w = world_with(Options::default().env("SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE", "2"));
    page_ok(&w, "/changelog");
    page_error(
        &w,
        "/changelog/nope",
        404,
        "No published changelog has this address.",
    );
    let resp = page_error(&w, "/blog", 429, "Rate limit exceeded. Retry after");
    let retry: u64 = resp
        .header("Retry-After")
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", resp.headers));
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(
        resp.text().contains("<h1>Too many requests</h1>"),
        "{}",
        resp.text()
    );
    assert_eq!(resp.header("X-RateLimit-Remaining"), Some("0"));
}
