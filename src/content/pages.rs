//! The public HTML pages: one published changelog, blog post or KB set per page, and the
//! lists of them. Pure text building: knows nothing of HTTP or SQL, so every page can be
//! checked byte for byte in a unit test.
//!
//! Every piece of stored text reaches the page by one of two roads, and no other:
//!
//! * titles, categories, project names and changelog descriptions are plain text, escaped
//!   with [`html_text`] (descriptions keep their paragraphs and line breaks);
//! * blog posts and KB article bodies are Markdown, rendered and sanitised by
//!   [`markdown::to_safe_html`].
//!
//! The pages hold no script and no inline style, so they work without JavaScript and under
//! the dashboard's strict Content-Security-Policy; their look comes from the dashboard's own
//! stylesheet, whose URL the caller passes in ([`Layout`]). Each page names its RSS feed in a
//! `<link rel="alternate">` (and as a visible link) where the contract has one: KB sets have
//! no feed, so their pages have no such link.

use super::feed::{html_text, paragraphs_html};
use super::{changelog_title, entries, markdown, Entry};
use crate::store::{Content, ContentKind};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// Items on one page of a list.
pub const ITEMS_PER_PAGE: i64 = 20;

/// The shared files every page links to, by URL.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    /// The stylesheet.
    pub stylesheet: &'a str,
    /// The icon (SVG).
    pub icon: &'a str,
}

/// The project a list is narrowed to.
#[derive(Debug, Clone, Copy)]
pub struct ProjectFilter<'a> {
    /// Its slug, as in `?project=`.
    pub slug: &'a str,
    /// Its name, shown in the heading.
    pub name: &'a str,
}

/// One page of a list of published items.
#[derive(Debug, Clone, Copy)]
pub struct Listing<'a> {
    /// What is listed.
    pub kind: ContentKind,
    /// The project the list is narrowed to, if any.
    pub project: Option<ProjectFilter<'a>>,
    /// The items of this page, newest first.
    pub items: &'a [Content],
    /// The page number, from 1.
    pub page: i64,
    /// Items in the whole list.
    pub total: i64,
}

/// The path of the public page of the item of `kind` published as `slug`:
/// `/changelog/{slug}`, `/blog/{slug}` or `/kb/{slug}` (the links in feeds point here).
pub fn item_path(kind: ContentKind, slug: &str) -> String {
    format!("/{}/{slug}", kind.as_str())
}

/// The path of the list page of `kind`: `/changelog`, `/blog` or `/kb`.
pub fn list_path(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Changelog => "/changelog",
        ContentKind::Blog => "/blog",
        ContentKind::Kb => "/kb",
    }
}

/// The RSS feed of one item, where the contract has one (KB sets have none).
pub fn item_feed_path(kind: ContentKind, slug: &str) -> Option<String> {
    match kind {
        ContentKind::Changelog | ContentKind::Blog => {
            Some(format!("/api/v1/{}/{slug}/feed", kind.as_str()))
        }
        ContentKind::Kb => None,
    }
}

/// The RSS feed of the list of `kind`, where the contract has one (KB sets have none). The
/// list feeds cover every project, so a list narrowed to one project links the same feed.
pub fn list_feed_path(kind: ContentKind) -> Option<&'static str> {
    match kind {
        ContentKind::Changelog => Some("/api/v1/changelogs/feed"),
        ContentKind::Blog => Some("/api/v1/blogs/feed"),
        ContentKind::Kb => None,
    }
}

/// Pages in a list of `total` items: at least 1, so an empty list still has its first page.
pub fn page_count(total: i64) -> i64 {
    if total <= 0 {
        1
    } else {
        (total - 1) / ITEMS_PER_PAGE + 1
    }
}

/// The name of a section of the site, as a heading.
fn section_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Changelog => "Changelog",
        ContentKind::Blog => "Blog",
        ContentKind::Kb => "Knowledge base",
    }
}

/// What several items of a kind are called, in running text.
fn plural(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Changelog => "changelogs",
        ContentKind::Blog => "blog posts",
        ContentKind::Kb => "knowledge-base pages",
    }
}

/// The full HTML document of one published item.
pub fn item_page(layout: &Layout<'_>, item: &Content) -> String {
    let slug = item.public_slug.as_deref().unwrap_or_default();
    let feed = item_feed_path(item.kind, slug);
    let mut main = String::with_capacity(item.body.len() * 2 + 1024);
    main.push_str("<article class=\"card public-article\"><header class=\"public-header\">");
    main.push_str(&format!(
        "<p class=\"public-meta\">{} · {}</p><h1>{}</h1>",
        html_text(&item.project_name),
        section_name(item.kind),
        html_text(&item.title)
    ));
    main.push_str(&dates_html(item));
    main.push_str("</header>");
    match item.kind {
        ContentKind::Changelog => main.push_str(&changelog_html(item)),
        ContentKind::Blog => {
            main.push_str("<div class=\"prose\">");
            main.push_str(&markdown::to_safe_html(&item.body));
            main.push_str("</div>");
        }
        ContentKind::Kb => main.push_str(&kb_html(item)),
    }
    main.push_str("<footer class=\"public-footer\"><p>");
    if let Some(feed) = &feed {
        main.push_str(&format!("<a href=\"{}\">RSS feed</a> · ", html_text(feed)));
    }
    main.push_str(&format!(
        "<a href=\"{}\">All {}</a></p></footer></article>",
        list_path(item.kind),
        plural(item.kind)
    ));
    let title = format!("{} · {}", item.title, item.project_name);
    document(layout, &title, Some(item.kind), feed.as_deref(), &main)
}

/// "Published 31 March 2025 · Covers 1 March 2025 to 31 March 2025", as `<time>` elements.
fn dates_html(item: &Content) -> String {
    let mut parts = Vec::new();
    if let Some(at) = item.published_at {
        parts.push(format!("Published {}", time_html(at)));
    }
    match (item.period_start, item.period_end) {
        (Some(start), Some(end)) => {
            parts.push(format!("Covers {} to {}", time_html(start), time_html(end)))
        }
        (Some(start), None) => parts.push(format!("Covers from {}", time_html(start))),
        (None, Some(end)) => parts.push(format!("Covers up to {}", time_html(end))),
        (None, None) => {}
    }
    if parts.is_empty() {
        return String::new();
    }
    format!("<p class=\"public-meta\">{}</p>", parts.join(" · "))
}

/// A `<time>` element: the readable date, with the exact instant in RFC 3339.
fn time_html(unix_secs: i64) -> String {
    let Ok(at) = OffsetDateTime::from_unix_timestamp(unix_secs) else {
        return String::new();
    };
    let readable = at
        .format(format_description!(
            "[day padding:none] [month repr:long] [year]"
        ))
        .unwrap_or_default();
    let exact = at.format(&Rfc3339).unwrap_or_default();
    format!("<time datetime=\"{exact}\">{readable}</time>")
}

/// Entries with their positions, grouped by category in the order categories first appear.
fn by_category(entries: &[Entry]) -> Vec<(&str, Vec<(usize, &Entry)>)> {
    let mut groups: Vec<(&str, Vec<(usize, &Entry)>)> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|(category, _)| *category == entry.category)
        {
            Some((_, members)) => members.push((index, entry)),
            None => groups.push((&entry.category, vec![(index, entry)])),
        }
    }
    groups
}

/// A changelog: its own title (when it adds to the item's), then a section per category
/// with the entries as a list; descriptions are plain text.
fn changelog_html(item: &Content) -> String {
    let mut html = String::new();
    if let Some(title) = changelog_title(&item.body).filter(|t| !t.is_empty() && *t != item.title) {
        html.push_str(&format!(
            "<p class=\"public-lead\">{}</p>",
            html_text(&title)
        ));
    }
    let entries = entries(item.kind, &item.body);
    if entries.is_empty() {
        html.push_str("<p class=\"muted\">This changelog has no entries.</p>");
        return html;
    }
    for (category, members) in by_category(&entries) {
        html.push_str(&format!(
            "<section class=\"public-section\"><h2>{}</h2><ul class=\"public-entries\">",
            html_text(category)
        ));
        for (_, entry) in members {
            html.push_str(&format!("<li><strong>{}</strong>", html_text(&entry.title)));
            html.push_str(&paragraphs_html(&entry.text));
            html.push_str("</li>");
        }
        html.push_str("</ul></section>");
    }
    html
}

/// A KB set: a table of contents, then a section per category with each article's title and
/// its Markdown body. Anchors are numbered by the article's place in the set, so they stay
/// put when categories are regrouped; sanitised bodies carry no `id`, so none can clash.
fn kb_html(item: &Content) -> String {
    let articles = entries(item.kind, &item.body);
    if articles.is_empty() {
        return "<p class=\"muted\">This set has no articles.</p>".to_string();
    }
    let groups = by_category(&articles);
    let mut html = String::from(
        "<nav class=\"public-toc\" aria-labelledby=\"toc-heading\">\
         <h2 id=\"toc-heading\">Articles</h2><ul>",
    );
    for (category, members) in &groups {
        html.push_str(&format!("<li>{}<ul>", html_text(category)));
        for (index, article) in members {
            html.push_str(&format!(
                "<li><a href=\"#article-{}\">{}</a></li>",
                index + 1,
                html_text(&article.title)
            ));
        }
        html.push_str("</ul></li>");
    }
    html.push_str("</ul></nav>");
    for (category, members) in &groups {
        html.push_str(&format!(
            "<section class=\"public-section\"><h2>{}</h2>",
            html_text(category)
        ));
        for (index, article) in members {
            html.push_str(&format!(
                "<article id=\"article-{}\"><h3>{}</h3><div class=\"prose\">{}</div></article>",
                index + 1,
                html_text(&article.title),
                markdown::to_safe_html(&article.text)
            ));
        }
        html.push_str("</section>");
    }
    html
}

/// The query string of page `page` of `listing` (empty for an unfiltered first page).
fn page_query(listing: &Listing<'_>, page: i64) -> String {
    let mut pairs = Vec::new();
    if let Some(project) = listing.project {
        pairs.push(format!("project={}", html_text(project.slug)));
    }
    if page > 1 {
        pairs.push(format!("page={page}"));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&amp;"))
    }
}

/// The full HTML document of one page of a list.
pub fn list_page(layout: &Layout<'_>, listing: &Listing<'_>) -> String {
    let section = section_name(listing.kind);
    let heading = match listing.project {
        Some(project) => format!("{section} · {}", html_text(project.name)),
        None => section.to_string(),
    };
    let pages = page_count(listing.total);
    let count = match listing.total {
        0 => "Nothing published yet".to_string(),
        1 => "1 published".to_string(),
        n => format!("{n} published"),
    };
    let mut main = format!(
        "<header class=\"public-header\"><h1>{heading}</h1><p class=\"public-meta\">{count}{}</p>\
         </header>",
        if pages > 1 {
            format!(" · page {} of {pages}", listing.page)
        } else {
            String::new()
        }
    );
    if !listing.items.is_empty() {
        main.push_str("<ol class=\"public-list\">");
        for item in listing.items {
            let slug = item.public_slug.as_deref().unwrap_or_default();
            main.push_str(&format!(
                "<li class=\"card\"><h2><a href=\"{}\">{}</a></h2><p class=\"public-meta\">{}{}</p></li>",
                html_text(&item_path(item.kind, slug)),
                html_text(&item.title),
                html_text(&item.project_name),
                item.published_at
                    .map(|at| format!(" · {}", time_html(at)))
                    .unwrap_or_default()
            ));
        }
        main.push_str("</ol>");
    }
    if pages > 1 {
        let path = list_path(listing.kind);
        main.push_str("<nav class=\"pager\" aria-label=\"Pages\">");
        if listing.page > 1 {
            main.push_str(&format!(
                "<a rel=\"prev\" href=\"{path}{}\">Newer</a>",
                page_query(listing, listing.page - 1)
            ));
        } else {
            main.push_str("<span></span>");
        }
        if listing.page < pages {
            main.push_str(&format!(
                "<a rel=\"next\" href=\"{path}{}\">Older</a>",
                page_query(listing, listing.page + 1)
            ));
        }
        main.push_str("</nav>");
    }
    let feed = list_feed_path(listing.kind);
    if let Some(feed) = feed {
        main.push_str(&format!(
            "<footer class=\"public-footer\"><p><a href=\"{feed}\">RSS feed</a></p></footer>"
        ));
    }
    let title = match (listing.project, listing.page) {
        (Some(project), 1) => format!("{section} · {}", project.name),
        (Some(project), page) => format!("{section} · {} · page {page}", project.name),
        (None, 1) => section.to_string(),
        (None, page) => format!("{section} · page {page}"),
    };
    document(layout, &title, Some(listing.kind), feed, &main)
}

/// The full HTML document of an error: a heading and one sentence, both plain text.
pub fn error_page(layout: &Layout<'_>, heading: &str, message: &str) -> String {
    let main = format!(
        "<article class=\"card public-article\"><h1>{}</h1><p>{}</p>\
         <p><a href=\"/changelog\">Changelog</a> · <a href=\"/blog\">Blog</a> · \
         <a href=\"/kb\">Knowledge base</a></p></article>",
        html_text(heading),
        html_text(message)
    );
    document(layout, heading, None, None, &main)
}

/// The document around `main_html`: head (title, stylesheet, icon, feed link), the site's
/// navigation with `current` marked, and the main landmark. `title` is plain text.
fn document(
    layout: &Layout<'_>,
    title: &str,
    current: Option<ContentKind>,
    feed: Option<&str>,
    main_html: &str,
) -> String {
    let feed_link = feed
        .map(|href| {
            format!(
                "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{}\" href=\"{}\">",
                html_text(title),
                html_text(href)
            )
        })
        .unwrap_or_default();
    let mut nav = String::from("<nav class=\"public-nav\" aria-label=\"Sections\">");
    for kind in [ContentKind::Changelog, ContentKind::Blog, ContentKind::Kb] {
        let marker = if current == Some(kind) {
            " aria-current=\"page\""
        } else {
            ""
        };
        nav.push_str(&format!(
            "<a href=\"{}\"{marker}>{}</a>",
            list_path(kind),
            section_name(kind)
        ));
    }
    nav.push_str("</nav>");
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <link rel=\"icon\" href=\"{icon}\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"{stylesheet}\">{feed_link}</head>\
         <body class=\"public-body\"><div class=\"public-page\">{nav}\
         <main>{main_html}</main></div></body></html>\n",
        title = html_text(title),
        icon = html_text(layout.icon),
        stylesheet = html_text(layout.stylesheet),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LAYOUT: Layout<'static> = Layout {
        stylesheet: "/assets/app.css",
        icon: "/assets/icon.svg",
    };

    fn item(kind: ContentKind, title: &str, body: &str) -> Content {
        Content {
            id: crate::ids::ContentId::parse("00000000-0000-4000-8000-000000000000").unwrap(),
            project_id: crate::ids::ProjectId::new_v4(),
            project_name: "Web <App>".into(),
            kind,
            title: title.into(),
            body: body.into(),
            period_start: None,
            period_end: None,
            public_slug: Some("march-2025".into()),
            is_published: true,
            published_at: Some(1_743_433_200),
            created_at: 1_743_000_000,
            updated_at: 1_743_433_200,
        }
    }

    fn changelog() -> Content {
        let body = json!({"title": "Release 1.4", "entries": [
            {"category": "Added", "title": "Dark <mode>", "description": "Follows the system.\n\nAlso & more."},
            {"category": "Fixed", "title": "Crash", "description": ""},
            {"category": "Added", "title": "Export", "description": "<script>alert(1)</script>"},
        ]});
        let mut item = item(ContentKind::Changelog, "March & April", &body.to_string());
        item.period_start = Some(1_740_787_200);
        item.period_end = Some(1_743_379_200);
        item
    }

    #[test]
    fn paths_of_pages_and_feeds() {
        assert_eq!(item_path(ContentKind::Changelog, "x"), "/changelog/x");
        assert_eq!(item_path(ContentKind::Blog, "x"), "/blog/x");
        assert_eq!(item_path(ContentKind::Kb, "x"), "/kb/x");
        assert_eq!(
            item_feed_path(ContentKind::Changelog, "x").as_deref(),
            Some("/api/v1/changelog/x/feed")
        );
        assert_eq!(
            item_feed_path(ContentKind::Blog, "x").as_deref(),
            Some("/api/v1/blog/x/feed")
        );
        assert_eq!(item_feed_path(ContentKind::Kb, "x"), None);
        assert_eq!(
            list_feed_path(ContentKind::Changelog),
            Some("/api/v1/changelogs/feed")
        );
        assert_eq!(
            list_feed_path(ContentKind::Blog),
            Some("/api/v1/blogs/feed")
        );
        assert_eq!(list_feed_path(ContentKind::Kb), None);
    }

    #[test]
    fn page_counts_round_up_and_never_reach_zero() {
        assert_eq!(page_count(0), 1);
        assert_eq!(page_count(1), 1);
        assert_eq!(page_count(20), 1);
        assert_eq!(page_count(21), 2);
        assert_eq!(page_count(40), 2);
        assert_eq!(page_count(41), 3);
    }

    #[test]
    fn a_changelog_page_has_sections_per_category_in_first_seen_order() {
        let html = item_page(&LAYOUT, &changelog());
        assert!(
            html.starts_with("<!doctype html>\n<html lang=\"en\">"),
            "{html}"
        );
        assert!(html.contains("<title>March &amp; April · Web &lt;App&gt;</title>"));
        assert!(html.contains("<h1>March &amp; April</h1>"));
        assert!(html.contains("<p class=\"public-lead\">Release 1.4</p>"));
        let added = html.find("<h2>Added</h2>").expect("Added section");
        let fixed = html.find("<h2>Fixed</h2>").expect("Fixed section");
        let export = html.find("<strong>Export</strong>").expect("Export entry");
        assert!(added < export && export < fixed, "{html}");
        assert_eq!(html.matches("<h2>Added</h2>").count(), 1);
        assert!(html.contains(
            "<li><strong>Dark &lt;mode&gt;</strong><p>Follows the system.</p><p>Also &amp; more.</p></li>"
        ));
        assert!(html.contains("<li><strong>Crash</strong></li>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn an_item_page_links_its_feed_in_the_head_and_the_body() {
        let html = item_page(&LAYOUT, &changelog());
        assert!(html.contains(
            "<link rel=\"alternate\" type=\"application/rss+xml\" \
             title=\"March &amp; April · Web &lt;App&gt;\" href=\"/api/v1/changelog/march-2025/feed\">"
        ), "{html}");
        assert!(html.contains("<a href=\"/api/v1/changelog/march-2025/feed\">RSS feed</a>"));
        assert!(html.contains("<link rel=\"stylesheet\" href=\"/assets/app.css\">"));
        assert!(html.contains("<a href=\"/changelog\" aria-current=\"page\">Changelog</a>"));
        assert!(html.contains("<a href=\"/changelog\">All changelogs</a>"));
    }

    #[test]
    fn dates_show_publication_and_period() {
        let html = item_page(&LAYOUT, &changelog());
        assert!(
            html.contains(
                "Published <time datetime=\"2025-03-31T15:00:00Z\">31 March 2025</time> · \
             Covers <time datetime=\"2025-03-01T00:00:00Z\">1 March 2025</time> to \
             <time datetime=\"2025-03-31T00:00:00Z\">31 March 2025</time>"
            ),
            "{html}"
        );
    }

    #[test]
    fn a_blog_page_renders_sanitised_markdown() {
        let post = item(
            ContentKind::Blog,
            "Hello",
            "# Big news\n\n*Really* big. [x](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n<script>alert(2)</script>",
        );
        let html = item_page(&LAYOUT, &post);
        assert!(
            html.contains("<div class=\"prose\"><h1>Big news</h1>"),
            "{html}"
        );
        assert!(html.contains("<em>Really</em>"));
        for bad in ["<script", "onerror", "javascript:", "alert(2)"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(html.contains("href=\"/api/v1/blog/march-2025/feed\""));
    }

    #[test]
    fn a_kb_page_has_contents_and_articles_and_no_feed() {
        let body = json!({"articles": [
            {"category": "Start", "title": "Install", "body": "Run `make`."},
            {"category": "Admin", "title": "Backups", "body": "<a href=\"javascript:x\" id=\"toc-heading\">b</a>"},
            {"category": "Start", "title": "Sign in", "body": "**Go** to /dashboard."},
        ]});
        let html = item_page(&LAYOUT, &item(ContentKind::Kb, "Guide", &body.to_string()));
        assert!(
            html.contains(
                "<li>Start<ul><li><a href=\"#article-1\">Install</a></li>\
             <li><a href=\"#article-3\">Sign in</a></li></ul></li>"
            ),
            "{html}"
        );
        assert!(html.contains(
            "<article id=\"article-1\"><h3>Install</h3><div class=\"prose\"><p>Run <code>make</code>.</p>\n</div></article>"
        ), "{html}");
        assert!(html.contains("<strong>Go</strong>"));
        assert_eq!(html.matches("id=\"toc-heading\"").count(), 1, "{html}");
        assert!(!html.contains("javascript:"));
        assert!(!html.contains("application/rss+xml") && !html.contains("RSS feed"));
    }

    #[test]
    fn empty_sets_say_so() {
        let empty = item(
            ContentKind::Changelog,
            "T",
            r#"{"title": "T", "entries": []}"#,
        );
        assert!(item_page(&LAYOUT, &empty).contains("This changelog has no entries."));
        let empty = item(ContentKind::Kb, "T", r#"{"articles": []}"#);
        assert!(item_page(&LAYOUT, &empty).contains("This set has no articles."));
    }

    fn listing_items(n: usize) -> Vec<Content> {
        (0..n)
            .map(|i| {
                let mut it = item(ContentKind::Blog, &format!("Post <{i}>"), "x");
                it.public_slug = Some(format!("post-{i}"));
                it
            })
            .collect()
    }

    #[test]
    fn a_list_page_links_every_item_and_pages_both_ways() {
        let items = listing_items(2);
        let html = list_page(
            &LAYOUT,
            &Listing {
                kind: ContentKind::Blog,
                project: Some(ProjectFilter {
                    slug: "web-app",
                    name: "Web <App>",
                }),
                items: &items,
                page: 2,
                total: 45,
            },
        );
        assert!(
            html.contains("<title>Blog · Web &lt;App&gt; · page 2</title>"),
            "{html}"
        );
        assert!(html.contains("<h1>Blog · Web &lt;App&gt;</h1>"));
        assert!(html.contains("45 published · page 2 of 3"));
        assert!(html.contains("<h2><a href=\"/blog/post-0\">Post &lt;0&gt;</a></h2>"));
        assert!(html.contains("<a href=\"/blog/post-1\">"));
        assert!(html.contains("<a rel=\"prev\" href=\"/blog?project=web-app\">Newer</a>"));
        assert!(
            html.contains("<a rel=\"next\" href=\"/blog?project=web-app&amp;page=3\">Older</a>")
        );
        assert!(html.contains(
            "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Blog · Web &lt;App&gt; · page 2\" href=\"/api/v1/blogs/feed\">"
        ));
    }

    #[test]
    fn a_single_page_list_has_no_pager_and_an_empty_one_says_so() {
        let items = listing_items(1);
        let one = list_page(
            &LAYOUT,
            &Listing {
                kind: ContentKind::Kb,
                project: None,
                items: &items,
                page: 1,
                total: 1,
            },
        );
        assert!(one.contains("<title>Knowledge base</title>") && one.contains("1 published</p>"));
        assert!(!one.contains("class=\"pager\"") && !one.contains("application/rss+xml"));
        let empty = list_page(
            &LAYOUT,
            &Listing {
                kind: ContentKind::Changelog,
                project: None,
                items: &[],
                page: 1,
                total: 0,
            },
        );
        assert!(empty.contains("Nothing published yet") && !empty.contains("<ol"));
        assert!(empty.contains("href=\"/api/v1/changelogs/feed\""));
    }

    #[test]
    fn the_last_page_links_only_back() {
        let items = listing_items(1);
        let html = list_page(
            &LAYOUT,
            &Listing {
                kind: ContentKind::Changelog,
                project: None,
                items: &items,
                page: 3,
                total: 41,
            },
        );
        assert!(html.contains("<a rel=\"prev\" href=\"/changelog?page=2\">Newer</a>"));
        assert!(!html.contains("rel=\"next\""));
    }

    #[test]
    fn error_pages_escape_their_text_and_carry_no_feed() {
        let html = error_page(&LAYOUT, "Not <found>", "Nothing at \"x\".");
        assert!(html.contains("<title>Not &lt;found&gt;</title>"));
        assert!(html.contains("<p>Nothing at &quot;x&quot;.</p>"));
        assert!(!html.contains("aria-current") && !html.contains("application/rss+xml"));
    }

    #[test]
    fn no_page_holds_script_or_inline_style() {
        let items = listing_items(3);
        let pages = [
            item_page(&LAYOUT, &changelog()),
            item_page(
                &LAYOUT,
                &item(ContentKind::Blog, "b", "<b style=\"x\" onclick=\"y\">z</b>"),
            ),
            list_page(
                &LAYOUT,
                &Listing {
                    kind: ContentKind::Blog,
                    project: None,
                    items: &items,
                    page: 1,
                    total: 3,
                },
            ),
            error_page(&LAYOUT, "e", "m"),
        ];
        for html in pages {
            for forbidden in ["<script", "<style", " style=", "onclick", "javascript:"] {
                assert!(!html.contains(forbidden), "{forbidden} in {html}");
            }
        }
    }
}
