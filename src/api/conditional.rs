//! Conditional requests: strong entity tags and `If-None-Match`, shared by every cacheable
//! answer (public content, public pages, the OpenAPI document, dashboard files).

use crate::http::{Request, Response};
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

/// `response`, a complete successful answer, made cacheable: it gains `Cache-Control:
/// cache_control` and the strong `ETag` of its body. When the request's `If-None-Match`
/// names that tag, the answer is instead a bodiless 304 with the same two headers (and none
/// of the original ones: the client already has them).
pub fn cacheable(req: &Request, response: Response, cache_control: &str) -> Response {
    let etag = strong_etag(&response.body);
    let response = if client_has(req, &etag) {
        Response::empty(304)
    } else {
        response
    };
    response
        .with_header("Cache-Control", cache_control)
        .with_header("ETag", etag)
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
    fn cacheable_answers_carry_validators_and_a_matching_copy_gets_304() {
        let page = || Response::bytes(200, "text/html", b"<p>x</p>".to_vec());
        let fresh = cacheable(&Request::new("GET", "/p"), page(), "public, max-age=60");
        let etag = strong_etag(b"<p>x</p>");
        assert_eq!(fresh.status, 200);
        assert_eq!(fresh.body, b"<p>x</p>");
        assert_eq!(fresh.header("ETag"), Some(etag.as_str()));
        assert_eq!(fresh.header("Cache-Control"), Some("public, max-age=60"));
        let req = Request::new("GET", "/p").with_header("If-None-Match", &etag);
        let current = cacheable(&req, page(), "public, max-age=60");
        assert_eq!(current.status, 304);
        assert!(current.body.is_empty() && current.header("Content-Type").is_none());
        assert_eq!(current.header("ETag"), Some(etag.as_str()));
        let stale = Request::new("GET", "/p").with_header("If-None-Match", "\"other\"");
        assert_eq!(cacheable(&stale, page(), "no-cache").status, 200);
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
