//! RSS 2.0 documents, written by hand because the format is small and every byte of it must
//! be escaped the same way.
//!
//! Every text node and attribute goes through [`xml_text`], which escapes markup characters
//! and drops the characters XML 1.0 forbids outright (most C0 controls, U+FFFE, U+FFFF):
//! those cannot be escaped, only removed, or the whole feed stops being XML. No CDATA is used,
//! so a `]]>` in a title is just text.

use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

/// The channel of a feed.
#[derive(Debug, Clone)]
pub struct Channel {
    /// Channel title.
    pub title: String,
    /// The page the feed describes.
    pub link: String,
    /// One sentence about the feed.
    pub description: String,
    /// When the newest item changed (unix seconds).
    pub last_build: i64,
}

/// One item of a feed.
#[derive(Debug, Clone)]
pub struct Item {
    /// Item title.
    pub title: String,
    /// The item's page.
    pub link: String,
    /// A stable identifier that is not a URL (`isPermaLink="false"`).
    pub guid: String,
    /// Publication time (unix seconds).
    pub pub_date: i64,
    /// HTML describing the item (escaped again as XML text, as RSS expects).
    pub description_html: String,
}

/// The RSS 2.0 document for `channel` and `items`, in the given item order.
pub fn render(channel: &Channel, items: &[Item]) -> String {
    let mut out = String::with_capacity(512 + items.len() * 512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">\n<channel>\n");
    element(&mut out, "title", &channel.title);
    element(&mut out, "link", &channel.link);
    element(&mut out, "description", &channel.description);
    element(&mut out, "lastBuildDate", &rfc822(channel.last_build));
    element(
        &mut out,
        "generator",
        concat!("shipstar ", env!("CARGO_PKG_VERSION")),
    );
    for item in items {
        out.push_str("<item>\n");
        element(&mut out, "title", &item.title);
        element(&mut out, "link", &item.link);
        out.push_str("<guid isPermaLink=\"false\">");
        out.push_str(&xml_text(&item.guid));
        out.push_str("</guid>\n");
        element(&mut out, "pubDate", &rfc822(item.pub_date));
        element(&mut out, "description", &item.description_html);
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&xml_text(text));
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// Whether XML 1.0 allows `c` in a document at all.
fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `text` as XML character data or attribute value: `& < > " '` escaped, characters XML
/// forbids removed.
pub fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if allowed_in_xml(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// `text` as HTML text: markup characters escaped.
pub fn html_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text as HTML paragraphs: blank lines separate paragraphs, single newlines break
/// lines. Markdown is shown as its source text, which reads well and cannot inject markup.
pub fn paragraphs_html(text: &str) -> String {
    let mut out = String::new();
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        let lines: Vec<String> = paragraph.lines().map(html_text).collect();
        out.push_str(&lines.join("<br/>"));
        out.push_str("</p>");
    }
    out
}

/// Unix seconds as an RFC 822 date (`Mon, 31 Mar 2025 15:00:00 +0000`; four-digit year as
/// RFC 1123 and every feed reader expect).
pub fn rfc822(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|at| at.format(&Rfc2822).ok())
        .unwrap_or_else(|| String::from("Thu, 01 Jan 1970 00:00:00 +0000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_forbidden_characters_are_handled() {
        assert_eq!(
            xml_text("a<b>&\"c\"'d']]>\u{0}\u{1}\u{8}\u{B}\u{FFFE}\t\n🎉"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;]]&gt;\t\n🎉"
        );
    }

    #[test]
    fn dates_are_rfc_822() {
        assert_eq!(rfc822(1_743_433_200), "Mon, 31 Mar 2025 15:00:00 +0000");
        assert_eq!(rfc822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn paragraphs_escape_and_break() {
        assert_eq!(
            paragraphs_html("# Title <x>\n\nline one\nline & two\n\n\n"),
            "<p># Title &lt;x&gt;</p><p>line one<br/>line &amp; two</p>"
        );
    }

    #[test]
    fn a_document_has_the_channel_and_items_in_order() {
        let channel = Channel {
            title: "T & T".into(),
            link: "http://h/changelog/x".into(),
            description: "d".into(),
            last_build: 0,
        };
        let item = |n: i64| Item {
            title: format!("<{n}>"),
            link: "http://h/changelog/x".into(),
            guid: format!("g{n}"),
            pub_date: n,
            description_html: "<p>x</p>".into(),
        };
        let doc = render(&channel, &[item(2), item(1)]);
        assert!(
            doc.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\">")
        );
        assert!(doc.contains("<title>T &amp; T</title>"));
        assert!(doc.contains("<guid isPermaLink=\"false\">g2</guid>"));
        assert!(doc.contains("<description>&lt;p&gt;x&lt;/p&gt;</description>"));
        assert!(doc.find("&lt;2&gt;").unwrap() < doc.find("&lt;1&gt;").unwrap());
        assert!(doc.ends_with("</channel>\n</rss>\n"));
    }
}
