//! Markdown to HTML that is safe to put in a public page.
//!
//! Blog posts and KB article bodies are Markdown written by API clients, so their text is
//! untrusted: it may hold raw HTML, links with any scheme, or markup crafted to slip past a
//! naive filter. Two well-kept crates do the work, each for what it is good at:
//!
//! 1. `pulldown-cmark` turns CommonMark (with tables and strikethrough) into HTML. Raw HTML in
//!    the source passes through it unchanged: escaping it instead would lose harmless markup
//!    such as `<kbd>` or `<details>`, and the next step is what makes it safe either way.
//! 2. `ammonia` parses that HTML as a browser would (html5ever) and rebuilds it from an
//!    allow-list: unknown elements are dropped (`<script>` and `<style>` with their text),
//!    every attribute not listed is dropped (so no `on*` handler, no `style`, no `id` or
//!    `name` to clobber the page's own), and URLs keep only the `http`, `https` and `mailto`
//!    schemes (so no `javascript:`, `vbscript:` or `data:` URL survives, however encoded).
//!
//! Sanitising the *output* of the Markdown step, not its input, is what matters: Markdown
//! itself makes links (`[x](javascript:alert(1))`, `<javascript:alert(1)>`), and only the
//! final HTML is what a browser sees. The page's Content-Security-Policy (no script at all,
//! nothing from another origin) is a second wall behind this one.
//!
//! Knows nothing of HTTP or SQL.

use pulldown_cmark::{html, Options, Parser};
use std::collections::HashSet;
use std::sync::OnceLock;

/// URL schemes a link or image in rendered Markdown may use. Relative URLs are kept as they
/// are (they point at this server, which the page's policy allows anyway).
const URL_SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// `rel` of every link in rendered Markdown: the author's links earn no ranking from this
/// server (`nofollow`), and the target gets neither a handle on this page nor its address.
const LINK_REL: &str = "nofollow noopener noreferrer";

/// The sanitiser, built once: ammonia's default allow-list of elements and attributes, with
/// the URL schemes and link `rel` above.
fn sanitiser() -> &'static ammonia::Builder<'static> {
    static SANITISER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITISER.get_or_init(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .url_schemes(HashSet::from(URL_SCHEMES))
            .link_rel(Some(LINK_REL));
        builder
    })
}

/// `markdown` as HTML that is safe inside a page: no element that runs code or loads a frame,
/// no event-handler or style attribute, no URL but `http:`, `https:`, `mailto:` and relative
/// ones. Never fails: any text renders to something (at worst, to its escaped source).
pub fn to_safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut unsafe_html = String::with_capacity(markdown.len() + markdown.len() / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    sanitiser().clean(&unsafe_html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tags of sanitised `html`: ammonia escapes every `<` in text, so each `<` starts
    /// a tag, which runs to the next `>` (attribute values ammonia writes never hold one
    /// before the parts checked here).
    fn tags(html: &str) -> Vec<String> {
        html.split('<')
            .skip(1)
            .map(|rest| {
                rest.split('>')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            })
            .collect()
    }

    /// Whether `tag` has an attribute whose name starts with `on` (an event handler): `on`
    /// after a separator, then letters, then optional blanks and `=`.
    fn has_event_handler(tag: &str) -> bool {
        let bytes = tag.as_bytes();
        (1..bytes.len()).any(|at| {
            let after_separator =
                matches!(bytes[at - 1], b' ' | b'\t' | b'\n' | b'/' | b'"' | b'\'');
            if !after_separator || !tag[at..].starts_with("on") {
                return false;
            }
            let rest = &tag[at + 2..];
            let letters = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            letters > 0 && rest[letters..].trim_start().starts_with('=')
        })
    }

    /// Asserts that no tag of `html` can run code, load a frame or carry a dangerous URL.
    /// Text may mention anything: it is escaped and inert.
    #[track_caller]
    fn assert_inert(html: &str) {
        for tag in tags(html) {
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            assert!(
                ![
                    "script", "iframe", "frame", "object", "embed", "style", "svg", "math", "form",
                    "input", "button", "textarea", "meta", "base", "link", "template", "noscript",
                ]
                .contains(&name.as_str()),
                "<{name}> survived in {html:?}"
            );
            for sign in [
                "javascript:",
                "vbscript:",
                "data:",
                "style=",
                "srcdoc",
                "formaction",
            ] {
                assert!(
                    !tag.contains(sign),
                    "{sign:?} survived in <{tag}> of {html:?}"
                );
            }
            assert!(
                !has_event_handler(&tag),
                "event handler in <{tag}> of {html:?}"
            );
        }
    }

    #[test]
    fn the_inertness_check_itself_catches_live_markup() {
        assert!(has_event_handler("img src=x onerror=alert(1)"));
        assert!(has_event_handler("svg/onload =alert(1)"));
        assert!(!has_event_handler("a href=\"/x\" rel=\"noopener\""));
        assert_eq!(tags("a <b>x</b> &lt;c&gt;"), ["b", "/b"]);
    }

    #[test]
    fn markdown_renders_to_html() {
        let html = to_safe_html(
            "# Title\n\nSome *emphasis*, `code` and [a link](https://example.com/a?b=1&c=2).\n\n\
             - one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~\n",
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>emphasis</em>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(
            html.contains(
                "<a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"nofollow noopener noreferrer\">a link</a>"
            ),
            "{html}"
        );
        assert!(html.contains("<li>one</li>"), "{html}");
        assert!(
            html.contains("<table>") && html.contains("<td>2</td>"),
            "{html}"
        );
        assert!(html.contains("<del>gone</del>"), "{html}");
    }

    #[test]
    fn text_that_looks_like_markup_is_escaped() {
        let html = to_safe_html("1 < 2 & 3 > 2, \"quoted\" 'single'");
        assert!(html.contains("1 &lt; 2 &amp; 3 &gt; 2"), "{html}");
        let code = to_safe_html("```\n<script>alert(1)</script>\n```");
        assert!(
            code.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{code}"
        );
        assert_inert(&code);
    }

    #[test]
    fn script_elements_are_dropped_with_their_text() {
        let html =
            to_safe_html("before\n\n<script>alert(1)</script>\n\nafter <script>x()</script>");
        assert!(!html.contains("alert") && !html.contains("x()"), "{html}");
        assert!(html.contains("before") && html.contains("after"), "{html}");
        assert_inert(&html);
    }

    #[test]
    fn event_handlers_are_removed_and_the_element_kept_harmless() {
        let html = to_safe_html("<img src=\"/x.png\" onerror=\"alert(1)\" alt=\"pic\">");
        assert!(html.contains("<img src=\"/x.png\" alt=\"pic\">"), "{html}");
        assert_inert(&html);
        for hostile in [
            "<a href=\"https://example.com\" onclick=\"alert(1)\">x</a>",
            "<p onmouseover=alert(1)>hover</p>",
            "<div style=\"background:url(javascript:alert(1))\">x</div>",
            "<details open ontoggle=alert(1)><summary>s</summary></details>",
            "<body onload=alert(1)>",
        ] {
            assert_inert(&to_safe_html(hostile));
        }
    }

    #[test]
    fn javascript_and_data_urls_do_not_survive_in_any_spelling() {
        for hostile in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x]( javascript:alert(1) )",
            "[x](javascript&#58;alert(1))",
            "[x](java%0ascript:alert(1))",
            "<javascript:alert(1)>",
            "[x]: javascript:alert(1)\n\n[y][x]",
            "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
            "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
            "<a href=\"vbscript:msgbox(1)\">x</a>",
            "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
            "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
            "<img src=\"data:image/png;base64,AAAA\">",
            "<a href=\"DATA:text/html,<script>alert(1)</script>\">x</a>",
        ] {
            assert_inert(&to_safe_html(hostile));
        }
    }

    #[test]
    fn raw_html_blocks_keep_only_allowed_markup() {
        let html = to_safe_html(
            "<div>\n<iframe src=\"https://evil.example\"></iframe>\n<b>bold</b>\
             <form action=\"/x\"><input name=\"q\"><button formaction=\"javascript:alert(1)\">go\
             </button></form>\n<style>body{display:none}</style>\n<object data=\"x.swf\"></object>\n\
             <meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">\n</div>",
        );
        assert!(html.contains("<b>bold</b>"), "{html}");
        assert!(!html.contains("display:none"), "{html}");
        assert_inert(&html);
    }

    #[test]
    fn nested_and_broken_markup_cannot_rebuild_a_script() {
        for hostile in [
            "<scr<script>ipt>alert(1)</scr</script>ipt>",
            "<<script>script>alert(1)<</script>/script>",
            "<svg><script>alert(1)</script></svg>",
            "<svg/onload=alert(1)>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
            "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
            "<!--<img src=x onerror=alert(1)>-->",
            "<a href=\"https://ok.example\"><a href=\"javascript:alert(1)\">x</a></a>",
            "<img src=x onerror=alert(1)//",
            "[<img src=x onerror=alert(1)>](https://ok.example)",
            "<textarea><script>alert(1)</script></textarea>",
            "<template><script>alert(1)</script></template>",
        ] {
            assert_inert(&to_safe_html(hostile));
        }
    }

    #[test]
    fn ids_and_names_are_dropped_so_the_page_cannot_be_clobbered() {
        let html = to_safe_html("<p id=\"main\" class=\"x\" name=\"y\">t</p><a name=\"top\">a</a>");
        assert!(!html.contains("id=") && !html.contains("name="), "{html}");
    }

    #[test]
    fn links_get_a_rel_that_hands_the_target_nothing() {
        let html =
            to_safe_html("<a href=\"https://example.com\" rel=\"opener\" target=\"_self\">x</a>");
        assert!(
            html.contains("rel=\"nofollow noopener noreferrer\"") && !html.contains("opener\""),
            "{html}"
        );
        let mail = to_safe_html("[mail](mailto:team@example.com) [rel](/changelog/x)");
        assert!(mail.contains("href=\"mailto:team@example.com\""), "{mail}");
        assert!(mail.contains("href=\"/changelog/x\""), "{mail}");
    }

    #[test]
    fn empty_and_odd_input_renders_without_panicking() {
        assert_eq!(to_safe_html(""), "");
        for odd in [
            "\0", "\u{FEFF}", "[", "<", "&", "](", "|\n|-|", "> > > >", "\r\n\r\n",
        ] {
            assert_inert(&to_safe_html(odd));
        }
        let deep = "> ".repeat(5_000) + "x";
        assert!(to_safe_html(&deep).contains('x'));
    }
}
