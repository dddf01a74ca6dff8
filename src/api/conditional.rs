//! Conditional requests: strong entity tags and `If-None-Match`, shared by every cacheable
//! answer (public content, the OpenAPI document, dashboard files).

use crate::http::Request;
use sha2::{Digest, Sha256};

/// A strong entity tag for exactly these bytes: the first 128 bits of their SHA-256 in hex,
/// quoted. Equal bytes always give equal tags; any change gives another.
pub fn strong_etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", crate::ids::to_hex(&digest[..16]))
}

/// Whether the request's `If-None-Match` (every such header, every comma-separated value)
/// names `etag`: `*` matches, and the comparison is weak (a `W/` prefix is ignored), as RFC
/// 9110 section 13.1.2 requires for this header. A match means the client's copy is current
/// and a 304 may be sent.
pub fn client_has(req: &Request, etag: &str) -> bool {
    if_none_match_matches(
        req.headers
            .iter()
            .filter(|(name, _)| name == "if-none-match")
            .map(|(_, value)| value.as_str()),
        etag,
    )
}

fn if_none_match_matches<'a>(values: impl IntoIterator<Item = &'a str>, etag: &str) -> bool {
    values
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let tag = "\"abc\"";
        assert!(if_none_match_matches(["\"abc\""], tag));
        assert!(if_none_match_matches(["W/\"abc\""], tag));
        assert!(if_none_match_matches(["\"x\", \"abc\""], tag));
        assert!(if_none_match_matches(["\"x\"", "\"abc\""], tag));
        assert!(if_none_match_matches(["*"], tag));
        assert!(!if_none_match_matches(["\"abcd\""], tag));
        assert!(!if_none_match_matches(["abc"], tag));
        assert!(!if_none_match_matches([], tag));
    }

    #[test]
    fn tags_are_strong_quoted_and_follow_the_bytes() {
        let tag = strong_etag(b"body");
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, strong_etag(b"body"));
        assert_ne!(tag, strong_etag(b"body2"));
    }

    #[test]
    fn every_if_none_match_header_counts() {
        let req = Request::new("GET", "/")
            .with_header("If-None-Match", "\"x\"")
            .with_header("If-None-Match", "\"y\"");
        assert!(client_has(&req, "\"y\""));
        assert!(!client_has(&req, "\"z\""));
    }
}
