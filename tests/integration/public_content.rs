//! Integration tests: public content reads, caching and CORS, and the RSS feeds.
//!
//! Contract: `http-api.md` ("Public content (no credential)", "Conventions for every
//! endpoint") and `auth.md` ("Rate limits", "Authorization summary").
//!
//! Every feed is parsed twice: by `roxmltree`, a strict XML 1.0 parser (any unescaped markup
//! or forbidden character fails the test), and by `feed-rs`, a feed parser as a feed reader
//! uses; the values they read back are compared with what was written.
//!
//! Ordering tests set `published_at` in the database, so that "newest first" does not depend
//! on requests falling into different seconds.

use crate::content::*;
use crate::fixture::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

const RSS: &str = "application/rss+xml; charset=utf-8";
const CHANGELOG_NOT_FOUND: &str = "Changelog not found";
const BLOG_NOT_FOUND: &str = "Blog post not found";
const KB_NOT_FOUND: &str = "KB articles not found";

/// Creates an item of `kind` with `title` and `content` and publishes it under `slug`.
fn published(w: &World, kind: &str, title: &str, content: &str, slug: &str) -> Value {
    let resp = w.create(&json!({"type": kind, "title": title, "content": content}));
    resp.expect_status(201);
    w.publish(s(&resp.json(), "id"), Some(slug))
}

/// Like [`published`], in another project.
fn published_in(w: &World, project_id: &str, kind: &str, slug: &str) -> Value {
    let item = w.draft_in(project_id, kind, slug);
    w.publish(s(&item, "id"), Some(slug))
}

fn public_fields(kind: &str) -> Vec<String> {
    let mut names = vec![
        "id",
        "slug",
        "title",
        "content",
        "published_at",
        "created_at",
    ];
    if kind != "kb" {
        names.extend(["period_start", "period_end"]);
    }
    sorted(&names)
}

/// The public object the contract promises for internal object `item`.
fn public_view(item: &Value) -> Value {
    let mut view = json!({
        "id": item["id"], "slug": item["public_slug"], "title": item["title"],
        "content": item["content"], "published_at": item["published_at"],
        "created_at": item["created_at"],
    });
    if item["type"] != json!("kb") {
        view["period_start"] = item["from_date"].clone();
        view["period_end"] = item["to_date"].clone();
    }
    view
}

/// Asserts the headers of a successful public read shared by everyone.
#[track_caller]
fn assert_public_cacheable(resp: &Resp, what: &str) {
    assert_eq!(
        resp.header("Cache-Control"),
        Some("public, max-age=60"),
        "{what}"
    );
    assert_strong_etag(resp, what);
    assert_eq!(resp.header("Vary"), Some("Authorization"), "{what}");
    assert_eq!(
        resp.header("Access-Control-Allow-Origin"),
        Some("*"),
        "{what}"
    );
}

#[track_caller]
fn assert_strong_etag(resp: &Resp, what: &str) -> String {
    let tag = resp
        .header("ETag")
        .unwrap_or_else(|| panic!("{what}: no ETag: {:?}", resp.headers));
    assert!(
        tag.len() > 2
            && tag.starts_with('"')
            && tag.ends_with('"')
            && !tag[1..tag.len() - 1].contains('"'),
        "{what}: not a strong entity tag: {tag}"
    );
    tag.to_string()
}

/// GET `path` as anyone; asserts 200.
#[track_caller]
fn get_ok(w: &World, path: &str) -> Resp {
    let resp = w.server.get(path).send();
    resp.expect_status(200);
    resp
}

/// Asserts a public 404 with `detail`, carrying CORS but no caching validators.
#[track_caller]
fn assert_public_404(w: &World, path: &str, detail: &str) {
    let resp = w.server.get(path).send();
    resp.expect_detail(404, json!(detail));
    assert_eq!(
        resp.header("Access-Control-Allow-Origin"),
        Some("*"),
        "{path}"
    );
    assert!(resp.header("ETag").is_none(), "{path}");
}

// ---------------------------------------------------------------------------------------------
// Feed reading
// ---------------------------------------------------------------------------------------------

/// Whether XML 1.0 allows `c` in a document (written here independently of the server).
fn xml_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// `text` as a feed can carry it: characters XML forbids dropped.
fn xml_clean(text: &str) -> String {
    text.chars().filter(|c| xml_char(*c)).collect()
}

/// One `<item>` as read by the strict XML parser.
#[derive(Debug, Clone, PartialEq)]
struct XmlItem {
    title: String,
    link: String,
    guid: String,
    guid_is_permalink: String,
    pub_date: String,
    description: String,
}

/// A feed as read by the strict XML parser.
#[derive(Debug)]
struct XmlFeed {
    title: String,
    link: String,
    description: String,
    last_build_date: String,
    items: Vec<XmlItem>,
}

/// The text of the one child element `name` of `node` (empty when it has no text).
#[track_caller]
fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> String {
    let found: Vec<_> = node
        .children()
        .filter(|child| child.is_element() && child.has_tag_name(name))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "<{name}> under <{}>",
        node.tag_name().name()
    );
    found[0].text().unwrap_or_default().to_string()
}

/// Fetches `path` and parses it as an RSS 2.0 feed with both parsers.
#[track_caller]
fn fetch_feed(w: &World, path: &str) -> (XmlFeed, feed_rs::model::Feed, Resp) {
    let resp = get_ok(w, path);
    assert_eq!(resp.header("Content-Type"), Some(RSS), "{path}");
    assert_public_cacheable(&resp, path);
    let text = std::str::from_utf8(&resp.body)
        .unwrap_or_else(|err| panic!("{path}: feed is not UTF-8: {err}"));
    let doc = roxmltree::Document::parse(text)
        .unwrap_or_else(|err| panic!("{path}: feed is not well-formed XML: {err}\n{text}"));
    let rss = doc.root_element();
    assert!(rss.has_tag_name("rss"), "{path}");
    assert_eq!(rss.attribute("version"), Some("2.0"), "{path}");
    let channels: Vec<_> = rss
        .children()
        .filter(|n| n.has_tag_name("channel"))
        .collect();
    assert_eq!(channels.len(), 1, "{path}");
    let channel = channels[0];
    let items = channel
        .children()
        .filter(|n| n.has_tag_name("item"))
        .map(|item| {
            let guid = item
                .children()
                .find(|n| n.has_tag_name("guid"))
                .unwrap_or_else(|| panic!("{path}: item without guid"));
            XmlItem {
                title: child_text(item, "title"),
                link: child_text(item, "link"),
                guid: child_text(item, "guid"),
                guid_is_permalink: guid.attribute("isPermaLink").unwrap_or_default().into(),
                pub_date: child_text(item, "pubDate"),
                description: child_text(item, "description"),
            }
        })
        .collect();
    let xml = XmlFeed {
        title: child_text(channel, "title"),
        link: child_text(channel, "link"),
        description: child_text(channel, "description"),
        last_build_date: child_text(channel, "lastBuildDate"),
        items,
    };
    let parsed = feed_rs::parser::parse(resp.body.as_slice())
        .unwrap_or_else(|err| panic!("{path}: feed-rs cannot read the feed: {err}\n{text}"));
    assert_eq!(parsed.feed_type, feed_rs::model::FeedType::RSS2, "{path}");
    assert_eq!(parsed.entries.len(), xml.items.len(), "{path}");
    (xml, parsed, resp)
}

/// Parses an RFC 822 date as the feed writes it (`Mon, 31 Mar 2025 15:00:00 +0000`).
#[track_caller]
fn rfc822(text: &str) -> i64 {
    OffsetDateTime::parse(text, &Rfc2822)
        .unwrap_or_else(|err| panic!("{text:?} is not an RFC 822 date: {err}"))
        .unix_timestamp()
}

/// Asserts that `feed` (both readings) holds exactly the whole-item entries for `items`,
/// in that order, linking to `{BASE_URL}/{page}/{slug}`.
#[track_caller]
fn assert_item_entries(xml: &XmlFeed, parsed: &feed_rs::model::Feed, page: &str, items: &[Value]) {
    assert_eq!(xml.items.len(), items.len());
    for ((read, entry), item) in xml.items.iter().zip(&parsed.entries).zip(items) {
        let title = xml_clean(s(item, "title"));
        let link = format!("{BASE_URL}/{page}/{}", s(item, "public_slug"));
        let published = parse_ts(&item["published_at"]);
        assert_eq!(read.title, title);
        assert_eq!(read.link, link);
        assert_eq!(read.guid_is_permalink, "false");
        assert_eq!(rfc822(&read.pub_date), published);
        let entry_title = entry.title.as_ref().expect("entry title");
        assert_eq!(entry_title.content, title.trim());
        assert_eq!(entry.links.len(), 1, "{entry:?}");
        assert_eq!(entry.links[0].href, link);
        assert_eq!(entry.id, read.guid);
        assert_eq!(
            entry.published.expect("entry pubDate").timestamp(),
            published
        );
    }
    let guids: std::collections::HashSet<_> = xml.items.iter().map(|i| &i.guid).collect();
    assert_eq!(guids.len(), xml.items.len(), "guids are not unique");
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

#[test]
fn every_public_route_serves_published_items_in_the_contract_shape() {
    let w = world();
    let resp = w.create(&json!({
        "type": "changelog", "title": "March 2025", "content": sample_content("changelog"),
        "period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-31T23:59:59Z",
    }));
    let changelog = w.publish(s(&resp.json(), "id"), Some("march-2025"));
    let blog = published(&w, "blog", "Hello", "# Hi", "hello");
    let kb = published(&w, "kb", "Docs", &sample_content("kb"), "docs");
    let cases = [
        (
            "changelog",
            &changelog,
            "/api/v1/changelogs",
            "/api/v1/changelog/march-2025",
        ),
        ("blog", &blog, "/api/v1/blogs", "/api/v1/blog/hello"),
        ("kb", &kb, "/api/v1/kb", "/api/v1/kb/docs"),
    ];
    for (kind, item, list_path, item_path) in cases {
        let view = public_view(item);
        assert_eq!(fields_of(&view), public_fields(kind));
        let resp = get_ok(&w, list_path);
        assert_eq!(resp.header("Content-Type"), Some("application/json"));
        assert_public_cacheable(&resp, list_path);
        assert_eq!(total_count(&resp), 1, "{list_path}");
        assert_eq!(resp.json(), json!([view]), "{list_path}");
        let resp = get_ok(&w, item_path);
        assert_eq!(resp.header("Content-Type"), Some("application/json"));
        assert_public_cacheable(&resp, item_path);
        assert!(resp.header("X-Total-Count").is_none());
        let object = resp.json();
        assert_eq!(fields_of(&object), public_fields(kind), "{item_path}");
        assert_eq!(object, view, "{item_path}");
        // No rate-limit headers while the public class is off.
        assert!(resp.header("X-RateLimit-Limit").is_none());
    }
    let read = get_ok(&w, "/api/v1/changelog/march-2025").json();
    assert_eq!(read["period_start"], json!("2025-03-01T00:00:00Z"));
    assert_eq!(read["period_end"], json!("2025-03-31T23:59:59Z"));
    assert_eq!(read["slug"], json!("march-2025"));
    // Slugs are per type: the same slug on another type is another item, or nothing.
    assert_public_404(&w, "/api/v1/blog/march-2025", BLOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/kb/hello", KB_NOT_FOUND);
    assert_public_404(&w, "/api/v1/changelog/docs", CHANGELOG_NOT_FOUND);
}

#[test]
fn drafts_are_never_public_and_unpublishing_removes_an_item_everywhere_at_once() {
    let w = world();
    let draft = w.draft("changelog", "Draft");
    w.draft("blog", "Draft post");
    w.draft("kb", "Draft KB");
    for path in ["/api/v1/changelogs", "/api/v1/blogs", "/api/v1/kb"] {
        let resp = get_ok(&w, path);
        assert_eq!(resp.json(), json!([]), "{path}");
        assert_eq!(total_count(&resp), 0);
    }
    let (_, parsed, _) = fetch_feed(&w, "/api/v1/changelogs/feed");
    assert!(parsed.entries.is_empty());

    let changelog = w.publish(s(&draft, "id"), Some("live"));
    let blog = published(&w, "blog", "Post", "Text", "live");
    let kb = published(&w, "kb", "KB", &sample_content("kb"), "live");
    // Warm every answer, as a cache would hold it.
    let paths = [
        "/api/v1/changelogs",
        "/api/v1/changelog/live",
        "/api/v1/changelog/live/feed",
        "/api/v1/changelogs/feed",
        "/api/v1/blogs",
        "/api/v1/blog/live",
        "/api/v1/blog/live/feed",
        "/api/v1/blogs/feed",
        "/api/v1/kb",
        "/api/v1/kb/live",
    ];
    for path in paths {
        get_ok(&w, path);
    }
    assert_eq!(fetch_feed(&w, "/api/v1/changelogs/feed").1.entries.len(), 1);
    for item in [&changelog, &blog, &kb] {
        w.unpublish(s(item, "id"));
    }
    for path in ["/api/v1/changelogs", "/api/v1/blogs", "/api/v1/kb"] {
        let resp = get_ok(&w, path);
        assert_eq!(resp.json(), json!([]), "{path}");
        assert_eq!(total_count(&resp), 0);
    }
    assert_public_404(&w, "/api/v1/changelog/live", CHANGELOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/changelog/live/feed", CHANGELOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/blog/live", BLOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/blog/live/feed", BLOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/kb/live", KB_NOT_FOUND);
    for path in ["/api/v1/changelogs/feed", "/api/v1/blogs/feed"] {
        let (xml, parsed, _) = fetch_feed(&w, path);
        assert!(xml.items.is_empty() && parsed.entries.is_empty(), "{path}");
    }
    // A deleted item is gone the same way.
    let again = w.publish(s(&changelog, "id"), None);
    get_ok(&w, "/api/v1/changelog/live");
    w.delete(&w.owner, s(&again, "id")).expect_status(204);
    assert_public_404(&w, "/api/v1/changelog/live", CHANGELOG_NOT_FOUND);
    assert_eq!(get_ok(&w, "/api/v1/changelogs").json(), json!([]));
}

#[test]
fn unknown_slugs_are_404_with_the_documented_detail() {
    let w = world();
    assert_public_404(&w, "/api/v1/changelog/nothing", CHANGELOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/changelog/nothing/feed", CHANGELOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/blog/nothing", BLOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/blog/nothing/feed", BLOG_NOT_FOUND);
    assert_public_404(&w, "/api/v1/kb/nothing", KB_NOT_FOUND);
    // The longest valid slug is looked up, not refused.
    let longest = "a".repeat(200);
    assert_public_404(&w, &format!("/api/v1/blog/{longest}"), BLOG_NOT_FOUND);
}

#[test]
fn malformed_slugs_are_422_string_pattern_mismatch_at_path_public_slug() {
    let w = world();
    let too_long = "a".repeat(201);
    let bad = [
        "Upper",
        "under_score",
        "double--hyphen",
        "-leading",
        "trailing-",
        too_long.as_str(),
        "%C3%A9",
    ];
    let routes = [
        "/api/v1/changelog/{}",
        "/api/v1/changelog/{}/feed",
        "/api/v1/blog/{}",
        "/api/v1/blog/{}/feed",
        "/api/v1/kb/{}",
    ];
    for route in routes {
        for slug in bad {
            let path = route.replace("{}", slug);
            let resp = w.server.get(&path).send();
            expect_problems(
                &resp,
                &[(json!(["path", "public_slug"]), "string_pattern_mismatch")],
            );
            assert_eq!(
                resp.header("Access-Control-Allow-Origin"),
                Some("*"),
                "{path}"
            );
        }
    }
}

#[test]
fn lists_are_newest_published_first_paginated_and_filtered_by_project() {
    let w = world();
    let (other_project, other_slug) = w.new_project("Mobile App");
    for kind in ["changelog", "blog", "kb"] {
        // Five items over two projects, published out of creation order.
        let mut items = Vec::new();
        for (n, published_at) in [30, 10, 50, 20, 40].iter().enumerate() {
            let project = if n % 2 == 0 {
                &w.project_id
            } else {
                &other_project
            };
            let item = published_in(&w, project, kind, &format!("{kind}-{n}"));
            w.set_time(s(&item, "id"), "published_at", 1_700_000_000 + published_at);
            items.push(s(&item, "id").to_string());
        }
        let id = |n: usize| items[n].clone();
        let list = match kind {
            "changelog" => "/api/v1/changelogs",
            "blog" => "/api/v1/blogs",
            _ => "/api/v1/kb",
        };
        let resp = get_ok(&w, list);
        assert_eq!(ids(&resp.json()), [2, 4, 0, 3, 1].map(id), "{list}");
        assert_eq!(total_count(&resp), 5);
        let first = &resp.json()[0];
        assert_eq!(first["published_at"], json!(rfc3339(1_700_000_050)));
        let pages: [(String, Vec<usize>); 8] = [
            ("?limit=2".into(), vec![2, 4]),
            ("?limit=2&offset=2".into(), vec![0, 3]),
            ("?limit=2&offset=4".into(), vec![1]),
            ("?offset=5".into(), vec![]),
            ("?limit=100&offset=1".into(), vec![4, 0, 3, 1]),
            (format!("?project={}", w.project_slug), vec![2, 4, 0]),
            (format!("?project={other_slug}"), vec![3, 1]),
            (format!("?project={other_slug}&limit=1&offset=1"), vec![1]),
        ];
        for (query, expected) in pages {
            let path = format!("{list}{query}");
            let resp = get_ok(&w, &path);
            let want: Vec<String> = expected.iter().map(|n| id(*n)).collect();
            assert_eq!(ids(&resp.json()), want, "{path}");
            let total = if query.contains(&other_slug) {
                2
            } else if query.contains("project") {
                3
            } else {
                5
            };
            assert_eq!(total_count(&resp), total, "{path}");
            assert_public_cacheable(&resp, &path);
        }
        // An unknown project lists nothing.
        let resp = get_ok(&w, &format!("{list}?project=no-such-project"));
        assert_eq!(resp.json(), json!([]));
        assert_eq!(total_count(&resp), 0);
    }
}

#[test]
fn list_query_errors_are_422_with_query_locs() {
    let w = world();
    for list in ["/api/v1/changelogs", "/api/v1/blogs", "/api/v1/kb"] {
        let mut cases = pagination_query_errors();
        cases.push((
            "?limit=abc&offset=x",
            vec![
                (json!(["query", "limit"]), "int_parsing"),
                (json!(["query", "offset"]), "int_parsing"),
            ],
        ));
        for (query, problems) in cases {
            let resp = w.server.get(&format!("{list}{query}")).send();
            expect_problems(&resp, &problems);
            assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
            assert!(resp.header("ETag").is_none());
        }
        get_ok(&w, &format!("{list}?limit=1")).expect_status(200);
        get_ok(&w, &format!("{list}?limit=100")).expect_status(200);
    }
}

#[test]
fn an_api_key_scopes_the_changelog_list_to_its_project() {
    let w = world();
    let (other_project, other_slug) = w.new_project("Mobile App");
    let ours = published_in(&w, &w.project_id, "changelog", "ours");
    let theirs = published_in(&w, &other_project, "changelog", "theirs");
    w.set_time(s(&ours, "id"), "published_at", 1_700_000_001);
    w.set_time(s(&theirs, "id"), "published_at", 1_700_000_002);
    let (key_id, key) = w.key(&w.project_id);

    let everyone = get_ok(&w, "/api/v1/changelogs");
    assert_eq!(
        ids(&everyone.json()),
        [s(&theirs, "id"), s(&ours, "id")].map(String::from)
    );
    let resp = w.server.get("/api/v1/changelogs").bearer(&key).send();
    resp.expect_status(200);
    assert_eq!(ids(&resp.json()), [s(&ours, "id").to_string()]);
    assert_eq!(total_count(&resp), 1);
    assert_eq!(resp.header("Cache-Control"), Some("private, max-age=60"));
    assert_eq!(resp.header("Vary"), Some("Authorization"));
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    let tag = assert_strong_etag(&resp, "keyed list");
    let resp = w
        .server
        .get("/api/v1/changelogs")
        .bearer(&key)
        .header("If-None-Match", &tag)
        .send();
    resp.expect_status(304);
    assert!(resp.body.is_empty());
    // The key's project, narrowed further by `?project=`.
    let resp = w
        .server
        .get(&format!("/api/v1/changelogs?project={}", w.project_slug))
        .bearer(&key)
        .send();
    assert_eq!(ids(&resp.json()), [s(&ours, "id").to_string()]);
    let resp = w
        .server
        .get(&format!("/api/v1/changelogs?project={other_slug}"))
        .bearer(&key)
        .send();
    resp.expect_status(200);
    assert_eq!(resp.json(), json!([]));
    assert_eq!(total_count(&resp), 0);
    // Bad query values are still 422.
    let resp = w
        .server
        .get("/api/v1/changelogs?limit=0")
        .bearer(&key)
        .send();
    expect_problems(&resp, &[(json!(["query", "limit"]), "greater_than_equal")]);
    // A revoked key, or one that is not a key at all, is 401.
    w.server
        .delete(&format!("/api/internal/api-keys/{key_id}"))
        .bearer(&w.owner)
        .send()
        .expect_status(204);
    for bad in [
        key.as_str(),
        "sk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000",
        "sk_live_short",
    ] {
        let resp = w.server.get("/api/v1/changelogs").bearer(bad).send();
        resp.expect_detail(401, json!(INVALID_KEY));
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
        assert!(resp.header("ETag").is_none());
    }
}

// ---------------------------------------------------------------------------------------------
// Caching, CORS, rate limits
// ---------------------------------------------------------------------------------------------

#[test]
fn etags_are_stable_and_if_none_match_answers_304_without_a_body() {
    let w = world();
    let item = published(
        &w,
        "changelog",
        "Cached",
        &sample_content("changelog"),
        "cached",
    );
    published(&w, "blog", "Post", "text", "post");
    published(&w, "kb", "KB", &sample_content("kb"), "kb-set");
    let paths = [
        "/api/v1/changelogs",
        "/api/v1/changelog/cached",
        "/api/v1/changelog/cached/feed",
        "/api/v1/changelogs/feed",
        "/api/v1/blogs",
        "/api/v1/blog/post",
        "/api/v1/blog/post/feed",
        "/api/v1/blogs/feed",
        "/api/v1/kb",
        "/api/v1/kb/kb-set",
    ];
    for path in paths {
        let first = get_ok(&w, path);
        let tag = assert_strong_etag(&first, path);
        let second = get_ok(&w, path);
        assert_eq!(second.header("ETag"), Some(tag.as_str()), "{path}");
        assert_eq!(second.body, first.body, "{path}");
        let weak = format!("W/{tag}");
        let list = format!("\"nope\", {tag}");
        for condition in [tag.as_str(), weak.as_str(), "*", list.as_str()] {
            let resp = w.server.get(path).header("If-None-Match", condition).send();
            resp.expect_status(304);
            assert!(resp.body.is_empty(), "{path}");
            assert_eq!(resp.header("ETag"), Some(tag.as_str()), "{path}");
            assert_public_cacheable(&resp, path);
            if path.ends_with('s') || path.ends_with("/kb") {
                assert_eq!(
                    resp.header("X-Total-Count"),
                    first.header("X-Total-Count"),
                    "{path}"
                );
            }
        }
        for condition in ["\"nope\"", "W/\"nope\"", "", "\"\""] {
            let resp = w.server.get(path).header("If-None-Match", condition).send();
            resp.expect_status(200);
            assert_eq!(resp.body, first.body, "{path} with {condition:?}");
        }
    }
    // A change makes a new tag, and the old one no longer matches.
    let old = get_ok(&w, "/api/v1/changelog/cached");
    let old_tag = old.header("ETag").unwrap().to_string();
    let old_feed_tag = get_ok(&w, "/api/v1/changelogs/feed")
        .header("ETag")
        .unwrap()
        .to_string();
    w.patch(
        &w.owner,
        s(&item, "id"),
        &json!({"title": "Cached, edited"}),
    )
    .expect_status(200);
    for (path, old_tag) in [
        ("/api/v1/changelog/cached", &old_tag),
        ("/api/v1/changelogs/feed", &old_feed_tag),
    ] {
        let resp = w.server.get(path).header("If-None-Match", old_tag).send();
        resp.expect_status(200);
        assert_ne!(resp.header("ETag"), Some(old_tag.as_str()), "{path}");
    }
}

#[test]
fn preflight_options_is_204_with_the_cors_answer() {
    let w = world();
    let paths = [
        "/api/v1/changelogs",
        "/api/v1/changelogs/feed",
        "/api/v1/changelog/any-slug",
        "/api/v1/changelog/any-slug/feed",
        "/api/v1/blogs",
        "/api/v1/blogs/feed",
        "/api/v1/blog/any-slug",
        "/api/v1/blog/any-slug/feed",
        "/api/v1/kb",
        "/api/v1/kb/any-slug",
    ];
    for path in paths {
        let resp = w
            .server
            .request("OPTIONS", path)
            .header("Origin", "https://www.example.org")
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send();
        resp.expect_status(204);
        assert!(resp.body.is_empty(), "{path}");
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(
            resp.header("Access-Control-Allow-Methods"),
            Some("GET, HEAD, OPTIONS")
        );
        assert_eq!(
            resp.header("Access-Control-Allow-Headers"),
            Some("Authorization, If-None-Match")
        );
        assert_eq!(resp.header("Access-Control-Max-Age"), Some("86400"));
    }
}

#[test]
fn nothing_under_internal_or_v1_me_sends_cors_headers() {
    let w = world();
    let item = w.draft("blog", "Post");
    let (_, key) = w.key(&w.project_id);
    let origin = "https://www.example.org";
    let requests: Vec<(&str, String, Option<&str>)> = vec![
        ("GET", "/api/v1/me".into(), Some(key.as_str())),
        ("GET", "/api/v1/me".into(), None),
        ("OPTIONS", "/api/v1/me".into(), None),
        (
            "GET",
            project_content_path(&w.project_id),
            Some(w.owner.as_str()),
        ),
        (
            "GET",
            project_content_path(&w.project_id),
            Some(key.as_str()),
        ),
        ("GET", project_content_path(&w.project_id), None),
        ("OPTIONS", project_content_path(&w.project_id), None),
        ("GET", read_path(s(&item, "id")), Some(w.owner.as_str())),
        ("GET", read_path("nope"), Some(w.owner.as_str())),
        (
            "POST",
            format!("{}/publish", item_path(s(&item, "id"))),
            Some(key.as_str()),
        ),
        (
            "GET",
            "/api/internal/users/me".into(),
            Some(w.owner.as_str()),
        ),
        ("GET", "/api/internal/teams".into(), None),
        ("GET", "/api/internal/nothing-here".into(), None),
    ];
    for (method, path, token) in requests {
        let mut req = w.server.request(method, &path).header("Origin", origin);
        if let Some(token) = token {
            req = req.bearer(token);
        }
        let resp = req.send();
        assert!(resp.status < 500, "{method} {path}: {}", resp.status);
        assert_no_cors(&resp, &format!("{method} {path}"));
    }
}

#[test]
fn public_reads_are_rate_limited_per_client_with_cors_on_the_429() {
    let w = world_with(Options::default().env("SHIPSTAR_RATE_LIMIT_PUBLIC_PER_MINUTE", "3"));
    published(
        &w,
        "changelog",
        "Limited",
        &sample_content("changelog"),
        "limited",
    );
    // Every public route draws on the same bucket.
    let paths = [
        "/api/v1/changelogs",
        "/api/v1/changelog/limited",
        "/api/v1/changelog/limited/feed",
    ];
    for (path, remaining) in paths.iter().zip([2, 1, 0]) {
        let resp = get_ok(&w, path);
        assert_eq!(resp.header("X-RateLimit-Limit"), Some("3"), "{path}");
        assert_eq!(
            resp.header("X-RateLimit-Remaining"),
            Some(remaining.to_string().as_str()),
            "{path}"
        );
        let reset: i64 = resp.header("X-RateLimit-Reset").unwrap().parse().unwrap();
        assert!(reset >= now(), "{path}");
    }
    for path in [
        "/api/v1/blogs",
        "/api/v1/changelogs/feed",
        "/api/v1/kb/nothing",
    ] {
        let resp = w.server.get(path).send();
        resp.expect_status(429);
        let retry = resp.header("Retry-After").expect("Retry-After");
        let secs: i64 = retry.parse().unwrap();
        assert!(secs >= 1, "{retry}");
        assert_eq!(
            resp.json(),
            json!({"detail": format!("Rate limit exceeded. Retry after {secs} seconds.")})
        );
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(resp.header("X-RateLimit-Limit"), Some("3"));
        assert_eq!(resp.header("X-RateLimit-Remaining"), Some("0"));
        assert!(resp.header("ETag").is_none());
    }
    // Health is never limited; authoring is another class.
    for _ in 0..5 {
        let resp = w.server.get("/api/v1/health").send();
        resp.expect_status(200);
        assert!(resp.header("X-RateLimit-Limit").is_none());
    }
    w.list(&w.owner, "").expect_status(200);
}

// ---------------------------------------------------------------------------------------------
// Feeds
// ---------------------------------------------------------------------------------------------

/// A title with everything XML and feed readers find hard: markup, entity-like text, a CDATA
/// terminator, quotes, forbidden control characters, emoji.
const HOSTILE: &str =
    "Fix <script>alert(1)</script> & &amp; \"q\" 'a' ]]> \u{1}\u{b}\u{0} 🎉 naïve";

#[test]
fn the_changelog_list_feed_reads_back_exactly_in_a_feed_parser() {
    let w = world();
    let text = changelog_text(
        HOSTILE,
        &[(
            "Added <&>",
            "Emoji 🚀 ]]> \u{1}",
            "Line & <one>\u{b}\n\nPara two",
        )],
    );
    let first = published(&w, "changelog", HOSTILE, &text, "hostile");
    let second = published(
        &w,
        "changelog",
        "Plain",
        &sample_content("changelog"),
        "plain",
    );
    w.set_time(s(&first, "id"), "published_at", 1_743_433_200);
    w.set_time(s(&second, "id"), "published_at", 1_743_433_100);
    let first = w.get(&w.owner, s(&first, "id")).json();
    let second = w.get(&w.owner, s(&second, "id")).json();

    let (xml, parsed, resp) = fetch_feed(&w, "/api/v1/changelogs/feed");
    let raw = resp.text();
    assert!(!raw.contains('\u{1}') && !raw.contains('\u{b}') && !raw.contains('\u{0}'));
    assert!(raw.contains("Mon, 31 Mar 2025 15:00:00 +0000"), "{raw}");
    assert_eq!(xml.title, "Changelog");
    assert_eq!(xml.link, format!("{BASE_URL}/changelog"));
    assert!(!xml.description.is_empty());
    assert_eq!(parsed.title.as_ref().unwrap().content, "Changelog");
    assert_eq!(parsed.links[0].href, format!("{BASE_URL}/changelog"));
    // The channel changed when its newest item did.
    let newest_change = [&first, &second]
        .iter()
        .map(|item| parse_ts(&item["updated_at"]).max(parse_ts(&item["published_at"])))
        .max()
        .unwrap();
    assert_eq!(rfc822(&xml.last_build_date), newest_change);
    assert_eq!(parsed.updated.unwrap().timestamp(), newest_change);
    assert_item_entries(&xml, &parsed, "changelog", &[first.clone(), second.clone()]);
    assert_eq!(
        xml.items[0].title,
        "Fix <script>alert(1)</script> & &amp; \"q\" 'a' ]]>  🎉 naïve"
    );
    // The description is HTML listing the entries, every text escaped once for HTML.
    let description = &xml.items[0].description;
    assert!(description.contains("Added &lt;&amp;&gt;"), "{description}");
    assert!(description.contains("Emoji 🚀 ]]&gt; "), "{description}");
    assert!(
        description.contains("Line &amp; &lt;one&gt;"),
        "{description}"
    );
    assert!(!description.contains("<one>"), "{description}");
    let summary = parsed.entries[0].summary.as_ref().expect("summary");
    assert_eq!(&summary.content, description.trim());

    // Guids do not change across requests, nor when the item is edited.
    let guids: Vec<String> = xml.items.iter().map(|i| i.guid.clone()).collect();
    w.patch(&w.owner, s(&first, "id"), &json!({"title": "Edited"}))
        .expect_status(200);
    let (again, _, _) = fetch_feed(&w, "/api/v1/changelogs/feed");
    assert_eq!(
        again
            .items
            .iter()
            .map(|i| i.guid.clone())
            .collect::<Vec<_>>(),
        guids
    );
    assert_eq!(again.items[0].title, "Edited");
    // Moving to another slug changes the link, not the guid.
    w.publish(s(&first, "id"), Some("moved"));
    let (moved, _, _) = fetch_feed(&w, "/api/v1/changelogs/feed");
    assert_eq!(moved.items[0].guid, guids[0]);
    assert_eq!(moved.items[0].link, format!("{BASE_URL}/changelog/moved"));
}

#[test]
fn a_changelog_feed_has_one_item_per_entry() {
    let w = world();
    let entries = [
        ("Added", "Dark <mode>", "At & last"),
        ("Fixed", "Crash ]]> \u{1}on start", ""),
        (
            "Changed 🎉",
            "\"Quotes\" 'too'",
            "Para one\n\nPara two\u{b}",
        ),
    ];
    let item = published(
        &w,
        "changelog",
        "v2.0 <beta> & \u{1}more",
        &changelog_text("v2.0", &entries),
        "v2-0",
    );
    w.set_time(s(&item, "id"), "published_at", 1_743_433_200);
    let item = w.get(&w.owner, s(&item, "id")).json();
    let (xml, parsed, _) = fetch_feed(&w, "/api/v1/changelog/v2-0/feed");
    assert_eq!(xml.title, "v2.0 <beta> & more");
    assert_eq!(parsed.title.as_ref().unwrap().content, "v2.0 <beta> & more");
    assert_eq!(xml.link, format!("{BASE_URL}/changelog/v2-0"));
    let changed = parse_ts(&item["updated_at"]).max(parse_ts(&item["published_at"]));
    assert_eq!(rfc822(&xml.last_build_date), changed);
    assert_eq!(xml.items.len(), 3);
    let link = format!("{BASE_URL}/changelog/v2-0");
    for ((read, entry), (category, title, description)) in
        xml.items.iter().zip(&parsed.entries).zip(entries)
    {
        let expected = xml_clean(&format!("{category}: {title}"));
        assert_eq!(read.title, expected);
        assert_eq!(entry.title.as_ref().unwrap().content, expected);
        assert_eq!(read.link, link);
        assert_eq!(entry.links[0].href, link);
        assert_eq!(read.guid_is_permalink, "false");
        assert_eq!(entry.id, read.guid);
        assert_eq!(rfc822(&read.pub_date), 1_743_433_200);
        assert_eq!(entry.published.unwrap().timestamp(), 1_743_433_200);
        if let Some(first_line) = description.split("\n\n").next().filter(|t| !t.is_empty()) {
            let escaped = first_line.replace('&', "&amp;").replace('<', "&lt;");
            assert!(read.description.contains(&escaped), "{}", read.description);
        }
    }
    assert_eq!(xml.items[2].description, "<p>Para one</p><p>Para two</p>");
    let guids: std::collections::HashSet<_> = xml.items.iter().map(|i| &i.guid).collect();
    assert_eq!(guids.len(), 3);
    // Stable across requests and edits of the wording.
    let edited = changelog_text(
        "v2.0",
        &[
            ("Added", "Dark mode", "x"),
            ("Fixed", "Crash", "y"),
            ("Changed", "Quotes", "z"),
        ],
    );
    w.patch(&w.owner, s(&item, "id"), &json!({ "content": edited }))
        .expect_status(200);
    let (again, _, _) = fetch_feed(&w, "/api/v1/changelog/v2-0/feed");
    let before: Vec<_> = xml.items.iter().map(|i| &i.guid).collect();
    let after: Vec<_> = again.items.iter().map(|i| &i.guid).collect();
    assert_eq!(after, before);
    assert_eq!(again.items[0].title, "Added: Dark mode");
    // A changelog without entries is an empty, well-formed feed.
    published(
        &w,
        "changelog",
        "Empty",
        &changelog_text("Empty", &[]),
        "empty",
    );
    let (xml, parsed, _) = fetch_feed(&w, "/api/v1/changelog/empty/feed");
    assert!(xml.items.is_empty() && parsed.entries.is_empty());
    assert_eq!(xml.title, "Empty");
}

#[test]
fn blog_feeds_carry_posts_with_their_links_and_escaped_text() {
    let w = world();
    let body = "# Hello <world> & ]]>\n\nSecond \u{1}para 🎉\nnext line";
    let post = published(&w, "blog", HOSTILE, body, "hello");
    let older = published(&w, "blog", "Older", "Old news", "older");
    w.set_time(s(&post, "id"), "published_at", 1_743_433_200);
    w.set_time(s(&older, "id"), "published_at", 1_743_000_000);
    let post = w.get(&w.owner, s(&post, "id")).json();
    let older = w.get(&w.owner, s(&older, "id")).json();

    let (xml, parsed, _) = fetch_feed(&w, "/api/v1/blogs/feed");
    assert_eq!(xml.link, format!("{BASE_URL}/blog"));
    assert_item_entries(&xml, &parsed, "blog", &[post.clone(), older.clone()]);
    let description = &xml.items[0].description;
    assert!(
        description.contains("# Hello &lt;world&gt; &amp; ]]&gt;"),
        "{description}"
    );
    assert!(description.contains("Second para 🎉"), "{description}");
    assert!(!description.contains("<world>"), "{description}");

    let (xml, parsed, _) = fetch_feed(&w, "/api/v1/blog/hello/feed");
    assert_eq!(xml.title, xml_clean(HOSTILE));
    assert_eq!(xml.link, format!("{BASE_URL}/blog/hello"));
    assert_item_entries(&xml, &parsed, "blog", std::slice::from_ref(&post));
    // The same post has the same guid in both feeds, on every request.
    let (list, _, _) = fetch_feed(&w, "/api/v1/blogs/feed");
    assert_eq!(list.items[0].guid, xml.items[0].guid);
    let (single, _, _) = fetch_feed(&w, "/api/v1/blog/hello/feed");
    assert_eq!(single.items[0].guid, xml.items[0].guid);
}

#[test]
fn list_feeds_hold_the_newest_50_items() {
    let w = world();
    for (kind, list, page) in [
        ("changelog", "/api/v1/changelogs/feed", "changelog"),
        ("blog", "/api/v1/blogs/feed", "blog"),
    ] {
        let mut items = Vec::new();
        for n in 0..52 {
            let item = published(
                &w,
                kind,
                &format!("Item {n}"),
                &sample_content(kind),
                &format!("item-{n}"),
            );
            w.set_time(s(&item, "id"), "published_at", 1_743_000_000 + n * 60);
            items.push(s(&item, "id").to_string());
        }
        let expected: Vec<Value> = (2..52)
            .rev()
            .map(|n| w.get(&w.owner, &items[n]).json())
            .collect();
        let (xml, parsed, _) = fetch_feed(&w, list);
        assert_eq!(xml.items.len(), 50, "{list}");
        assert_item_entries(&xml, &parsed, page, &expected);
        assert_eq!(xml.items[0].title, "Item 51");
        assert_eq!(xml.items[49].title, "Item 2");
    }
}

#[test]
fn empty_list_feeds_are_well_formed_channels() {
    let w = world();
    for (path, title, page) in [
        ("/api/v1/changelogs/feed", "Changelog", "changelog"),
        ("/api/v1/blogs/feed", "Blog", "blog"),
    ] {
        let before = now();
        let (xml, parsed, _) = fetch_feed(&w, path);
        assert!(xml.items.is_empty() && parsed.entries.is_empty());
        assert_eq!(xml.title, title);
        assert_eq!(xml.link, format!("{BASE_URL}/{page}"));
        assert!(!xml.description.is_empty());
        assert!(rfc822(&xml.last_build_date) >= before);
        assert_eq!(parsed.title.unwrap().content, title);
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded feeds
// ---------------------------------------------------------------------------------------------

/// A blog post of exactly `MAX_CONTENT_BYTES` bytes made of the characters that escaping
/// makes longest (each is escaped for HTML, then the HTML again for XML), in paragraphs.
fn worst_post() -> String {
    let pattern = "\"&<>' é🎉\n\n";
    let mut text = pattern.repeat(MAX_CONTENT_BYTES / pattern.len());
    text.push_str(&"&".repeat(MAX_CONTENT_BYTES - text.len()));
    assert_eq!(text.len(), MAX_CONTENT_BYTES);
    text
}

/// A changelog of nearly `MAX_CONTENT_BYTES` bytes: 24 entries of 8 600 escaped characters.
fn worst_changelog() -> String {
    let description = "&<>\"".repeat(2_150);
    let entries: Vec<(&str, &str, &str)> = (0..24)
        .map(|_| {
            (
                "Fixed <&>",
                "\"Quoted\" & <b>bold</b>",
                description.as_str(),
            )
        })
        .collect();
    let text = changelog_text("Release <&>", &entries);
    assert!(text.len() <= MAX_CONTENT_BYTES, "{}", text.len());
    assert!(text.len() > MAX_CONTENT_BYTES - 4_096, "{}", text.len());
    text
}

/// The most bytes a feed of 50 items at the content limit may take (they would take over
/// 25 MB were the whole text in each item).
const FEED_OF_50_BOUND: usize = 1024 * 1024;

#[test]
fn fifty_items_at_the_content_limit_make_a_bounded_feed_of_excerpts() {
    let w = world();
    let post = worst_post();
    let changelog = worst_changelog();
    for n in 0..50 {
        published(
            &w,
            "blog",
            &format!("Post {n}"),
            &post,
            &format!("post-{n}"),
        );
        published(
            &w,
            "changelog",
            &format!("Release {n}"),
            &changelog,
            &format!("release-{n}"),
        );
    }
    for (path, page, prefix) in [
        ("/api/v1/blogs/feed", "blog", "post"),
        ("/api/v1/changelogs/feed", "changelog", "release"),
    ] {
        let (xml, _, resp) = fetch_feed(&w, path);
        assert_eq!(xml.items.len(), 50, "{path}");
        assert!(
            resp.body.len() < FEED_OF_50_BOUND,
            "{path}: {} bytes",
            resp.body.len()
        );
        for item in &xml.items {
            let description = &item.description;
            assert!(
                description.len() <= 4096 + 200,
                "{path}: {}",
                description.len()
            );
            // The excerpt ends with a link to the whole item.
            let slug = item.link.rsplit('/').next().unwrap();
            assert!(slug.starts_with(prefix), "{path}: {slug}");
            let link =
                format!("<p><a href=\"{BASE_URL}/{page}/{slug}\">Read the whole item</a></p>");
            assert!(description.ends_with(&link), "{path}: {description}");
        }
        // The excerpt is the start of the item, escaped once for HTML.
        let first = &xml.items[0].description;
        let expected_start = match page {
            "blog" => "<p>&quot;&amp;&lt;&gt;&#39; é🎉</p><p>&quot;&amp;",
            _ => "<ul><li><strong>Fixed &lt;&amp;&gt;</strong>: &quot;Quoted&quot; &amp; ",
        };
        assert!(first.starts_with(expected_start), "{path}: {first}");
    }
    // One changelog's own feed: an item per entry, each an excerpt too.
    let (xml, _, resp) = fetch_feed(&w, "/api/v1/changelog/release-0/feed");
    assert_eq!(xml.items.len(), 24);
    assert!(
        resp.body.len() < FEED_OF_50_BOUND,
        "{} bytes",
        resp.body.len()
    );
    for item in &xml.items {
        assert!(
            item.description.len() <= 4096 + 200,
            "{}",
            item.description.len()
        );
        assert!(item.description.ends_with("\">Read the whole item</a></p>"));
    }
    // A short item is whole, without the link.
    published(&w, "blog", "Short", "Just this.", "short");
    let (xml, _, _) = fetch_feed(&w, "/api/v1/blog/short/feed");
    assert_eq!(xml.items[0].description, "<p>Just this.</p>");
}

/// The feed at `path`, its entity tag and its item titles; asserts that a request with the
/// previous tags is answered in full (they no longer match) and one with the new tag is 304.
#[track_caller]
fn feed_now(w: &World, path: &str, old_tags: &[String]) -> (Vec<u8>, String, Vec<String>) {
    let (xml, _, resp) = fetch_feed(w, path);
    let tag = assert_strong_etag(&resp, path);
    assert!(!old_tags.contains(&tag), "{path}: the tag did not change");
    for old in old_tags {
        let again = w.server.get(path).header("If-None-Match", old).send();
        again.expect_status(200);
        assert_eq!(again.body, resp.body, "{path}");
    }
    let cached = w.server.get(path).header("If-None-Match", &tag).send();
    cached.expect_status(304);
    assert!(cached.body.is_empty());
    let titles = xml.items.iter().map(|item| item.title.clone()).collect();
    (resp.body, tag, titles)
}

#[test]
fn list_feeds_follow_every_change_to_content_at_once() {
    let w = world();
    let path = "/api/v1/blogs/feed";
    let mut tags = Vec::new();
    let first = published(&w, "blog", "First", "One", "first");
    let id = s(&first, "id").to_string();
    let (body, tag, titles) = feed_now(&w, path, &tags);
    assert_eq!(titles, ["First"]);
    // Unchanged content: the same bytes and tag, however often it is asked for.
    for _ in 0..3 {
        let again = get_ok(&w, path);
        assert_eq!(again.body, body);
        assert_eq!(again.header("ETag"), Some(tag.as_str()));
    }
    tags.push(tag);

    // Each change shows in the very next answer, with a new tag.
    w.patch(&w.owner, &id, &json!({"title": "First, edited"}))
        .expect_status(200);
    let (_, tag, titles) = feed_now(&w, path, &tags);
    assert_eq!(titles, ["First, edited"]);
    tags.push(tag);

    w.patch(&w.owner, &id, &json!({"content": "Two & more"}))
        .expect_status(200);
    let (body, tag, _) = feed_now(&w, path, &tags);
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("Two &amp;amp; more"));
    tags.push(tag);

    let second = published(&w, "blog", "Second", "Text", "second");
    let (_, tag, titles) = feed_now(&w, path, &tags);
    assert_eq!(titles, ["Second", "First, edited"]);
    tags.push(tag);

    w.unpublish(&id);
    let (_, tag, titles) = feed_now(&w, path, &tags);
    assert_eq!(titles, ["Second"]);
    tags.push(tag);

    w.delete(&w.owner, s(&second, "id")).expect_status(204);
    let (_, tag, titles) = feed_now(&w, path, &tags);
    assert!(titles.is_empty());
    tags.push(tag);

    // Published again, the item may read exactly as it did after the second edit (within
    // the same second), so only the tags of other states must differ.
    w.publish(&id, None);
    let (_, _, titles) = feed_now(&w, path, &tags[3..]);
    assert_eq!(titles, ["First, edited"]);
    // The other list feed is its own document.
    let (_, _, titles) = feed_now(&w, "/api/v1/changelogs/feed", &[]);
    assert!(titles.is_empty());
}
