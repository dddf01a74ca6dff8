//! RSS 2.0 documents, written by hand because the format is small and every byte of it must
//! be escaped the same way.
//!
//! Every text node and attribute goes through [`xml_text`], which escapes markup characters
//! and drops the characters XML 1.0 forbids outright (most C0 controls, U+FFFE, U+FFFF):
//! those cannot be escaped, only removed, or the whole feed stops being XML. No CDATA is used,
//! so a `]]>` in a title is just text.
//!
//! An item's `description` is an excerpt: at most [`EXCERPT_BYTES`] of HTML (see
//! [`BoundedHtml`]), so a feed's size follows its item count, not the length of the content
//! behind it. Each byte of that HTML is at most 6 bytes of XML (`"` becomes `&quot;`), so a
//! description never exceeds about 25 KB however the text was chosen.

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

/// `c` as HTML text: markup characters escaped.
fn push_html_char(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// `text` as HTML text, safe in element content and in quoted attribute values: `&`, `<`,
/// `>` and both quotes escaped. The crate's one HTML escape (feeds, pages, the setup page).
pub fn html_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_html_char(&mut out, c);
    }
    out
}

/// Most bytes of HTML in one feed item's `description` before the closing markup and the
/// link to the whole item are added (see [`BoundedHtml`]).
pub const EXCERPT_BYTES: usize = 4096;

/// Room kept for markup that must still be closed: the longest run of closing tags a writer
/// of excerpts appends after its last text (`…</strong></li></ul>`).
const CLOSING_ROOM: usize = 32;

/// HTML written up to a size limit: the text pushed through [`BoundedHtml::text`] is escaped
/// and stops, on a character boundary, before it would take the HTML past the limit; from
/// then on the excerpt is *cut* and takes no more text. Markup is always appended (so open
/// elements can be closed), and writers open elements only while
/// [`BoundedHtml::has_room`] says so; the result is thus at most the limit plus the
/// closing markup and the ellipsis.
#[derive(Debug)]
pub struct BoundedHtml {
    html: String,
    limit: usize,
    cut: bool,
}

impl BoundedHtml {
    /// An empty excerpt of at most `limit` bytes of text and opening markup.
    pub fn new(limit: usize) -> BoundedHtml {
        BoundedHtml {
            html: String::new(),
            limit,
            cut: false,
        }
    }

    /// Appends markup as is.
    pub fn markup(&mut self, markup: &str) {
        self.html.push_str(markup);
    }

    /// Whether `bytes` more (and room to close what is open) still fit; when not, the
    /// excerpt is marked cut.
    pub fn has_room(&mut self, bytes: usize) -> bool {
        let needed = self
            .html
            .len()
            .saturating_add(bytes)
            .saturating_add(CLOSING_ROOM);
        if self.cut || needed > self.limit {
            self.cut = true;
        }
        !self.cut
    }

    /// Appends `text` escaped as HTML, as much as fits; true when all of it did. The first
    /// character that does not fit ends the excerpt with `…`.
    pub fn text(&mut self, text: &str) -> bool {
        if self.cut {
            return false;
        }
        let room = self.limit.saturating_sub(CLOSING_ROOM);
        let mut piece = String::with_capacity(6);
        for c in text.chars() {
            piece.clear();
            push_html_char(&mut piece, c);
            if self.html.len() + piece.len() > room {
                self.cut = true;
                self.html.push('…');
                return false;
            }
            self.html.push_str(&piece);
        }
        true
    }

    /// Whether some text was left out.
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    /// The HTML, and whether it was cut.
    pub fn finish(self) -> (String, bool) {
        (self.html, self.cut)
    }
}

/// Writes plain text as HTML paragraphs into `out`, as much as fits (see
/// [`paragraphs_html`]).
pub fn write_paragraphs(out: &mut BoundedHtml, text: &str) {
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        if !out.has_room("<p>".len()) {
            return;
        }
        out.markup("<p>");
        for (index, line) in paragraph.lines().enumerate() {
            if index > 0 {
                if !out.has_room("<br/>".len()) {
                    break;
                }
                out.markup("<br/>");
            }
            if !out.text(line) {
                break;
            }
        }
        out.markup("</p>");
        if out.is_cut() {
            return;
        }
    }
}

/// Plain text as HTML paragraphs: blank lines separate paragraphs, single newlines break
/// lines. Markdown is shown as its source text, which reads well and cannot inject markup.
pub fn paragraphs_html(text: &str) -> String {
    let mut out = BoundedHtml::new(usize::MAX);
    write_paragraphs(&mut out, text);
    out.finish().0
}

/// As [`paragraphs_html`], cut to an excerpt of at most `limit` bytes of HTML (plus its
/// closing markup); true when text was left out.
pub fn paragraphs_excerpt(text: &str, limit: usize) -> (String, bool) {
    let mut out = BoundedHtml::new(limit);
    write_paragraphs(&mut out, text);
    out.finish()
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
    fn html_text_escapes_markup_and_both_quotes() {
        assert_eq!(
            html_text("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

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
    fn an_excerpt_stops_within_its_limit_on_a_character_boundary() {
        // Short text is whole.
        assert_eq!(
            paragraphs_excerpt("a & b\n\nc", 100),
            ("<p>a &amp; b</p><p>c</p>".to_string(), false)
        );
        // Long text: cut, closed, within the limit plus the closing markup.
        let text = "é&🎉\n".repeat(10_000);
        for limit in [60, 61, 62, 63, 100, 4096] {
            let (html, cut) = paragraphs_excerpt(&text, limit);
            assert!(cut, "{limit}");
            assert!(
                html.len() <= limit + "…</p>".len(),
                "{limit}: {}",
                html.len()
            );
            assert!(html.starts_with("<p>é&amp;🎉<br/>"), "{limit}: {html}");
            assert!(html.ends_with("</p>"), "{limit}: {html}");
            assert_eq!(html.matches("<p>").count(), html.matches("</p>").count());
            // Never inside an entity: every `&` starts a whole `&amp;`.
            assert_eq!(html.matches('&').count(), html.matches("&amp;").count());
        }
        // A limit too small for any paragraph gives nothing but says so.
        assert_eq!(paragraphs_excerpt("text", 10), (String::new(), true));
    }

    #[test]
    fn the_whole_text_is_the_unlimited_excerpt() {
        let text = "x\n".repeat(5_000);
        let (html, cut) = paragraphs_excerpt(&text, usize::MAX);
        assert!(!cut);
        assert_eq!(html, paragraphs_html(&text));
        assert_eq!(html.matches("<br/>").count(), 4_999);
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
