//! Our own request type: what handlers see, with no `tiny_http` types in it, so handlers can
//! be unit-tested by building a `Request` by hand.

use std::net::IpAddr;

/// One HTTP request with its body fully read (bounded by `max_body_bytes`).
#[derive(Debug, Clone)]
pub struct Request {
    /// The method as sent, e.g. `GET`. Methods are case-sensitive (RFC 9110 section 9.1):
    /// `delete` is not `DELETE`, and matches no route.
    pub method: String,
    /// The path part of the request target, still percent-encoded, without the query.
    pub path: String,
    /// The raw query string after `?` (empty when absent).
    pub query: String,
    /// Header names in lower case with their values, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The socket peer address, when known.
    pub peer: Option<IpAddr>,
    /// The request id echoed in `X-Request-Id` and in the log line.
    pub request_id: String,
}

impl Request {
    /// A request for tests and internal use: no headers, no body, no peer. The method is kept
    /// as given, as the server keeps it.
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, query),
            None => (target, ""),
        };
        Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            peer: None,
            request_id: String::from("test"),
        }
    }

    /// Adds a header (builder style, for tests).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Sets the body (builder style, for tests).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of header `name` (case-insensitive), one per field line, in arrival order.
    /// A list-valued field sent on several lines is these values joined by commas (RFC 9110
    /// section 5.3), so a reader of such a field must look at all of them, not the first.
    pub fn header_values<'a>(
        &'a self,
        name: &'a str,
    ) -> impl DoubleEndedIterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// How many times header `name` occurs.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .count()
    }

    /// The media type of the body (`Content-Type` without parameters, lower case).
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                // Optional white space is SP and HTAB only, never other Unicode white space.
                .trim_matches([' ', '\t'])
                .to_ascii_lowercase()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_splits_into_path_and_query() {
        let req = Request::new("GET", "/api/v1/blogs?limit=5&offset=1");
        assert_eq!(req.method, "GET");
        assert_eq!(
            Request::new("get", "/").method,
            "get",
            "methods keep their case"
        );
        assert_eq!(req.path, "/api/v1/blogs");
        assert_eq!(req.query, "limit=5&offset=1");
    }

    #[test]
    fn header_lookup_ignores_case_and_media_type_drops_parameters() {
        let req = Request::new("POST", "/")
            .with_header("Content-Type", "Application/JSON; charset=utf-8")
            .with_header("X-A", "1")
            .with_header("x-a", "2");
        assert_eq!(req.media_type().as_deref(), Some("application/json"));
        assert_eq!(req.header("x-A"), Some("1"));
        assert_eq!(req.header_count("X-a"), 2);
        assert_eq!(req.header_values("X-A").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(
            req.header_values("X-A").rev().collect::<Vec<_>>(),
            ["2", "1"]
        );
        assert_eq!(req.header_values("missing").count(), 0);
        assert_eq!(req.header("missing"), None);
    }
}
