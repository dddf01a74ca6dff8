//! Our own response type: status, headers and a body in memory.

use serde::Serialize;
use std::net::IpAddr;

/// One HTTP response. The HTTP layer adds the headers every response carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers as (name, value), in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// Who made the request, for the log line only (`user:<id>`, `key:<prefix>`); never sent.
    pub principal: Option<String>,
    /// The client address the handler resolved (behind trusted proxies, the address they
    /// name), for the log line only; never sent. `None` logs the socket peer.
    pub client_ip: Option<IpAddr>,
}

impl Response {
    /// A response with a JSON body and `Content-Type: application/json`. The body is
    /// serialised straight into the response bytes (compact, the same bytes as `to_string`).
    /// A value that cannot be serialised (a map with non-string keys: a bug) answers 500.
    pub fn json(status: u16, body: &(impl Serialize + ?Sized)) -> Self {
        let mut bytes = Vec::with_capacity(256);
        match serde_json::to_writer(&mut bytes, body) {
            Ok(()) => Self::bytes(status, "application/json", bytes),
            Err(_) => Self::bytes(
                500,
                "application/json",
                br#"{"detail":"Internal Server Error"}"#.to_vec(),
            ),
        }
    }

    /// The error shape every refusal uses: `{"detail": "<detail>"}` as JSON.
    pub fn detail(status: u16, detail: &str) -> Self {
        Self::json(status, &serde_json::json!({ "detail": detail }))
    }

    /// A response with a body of the given content type.
    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body,
            principal: None,
            client_ip: None,
        }
    }

    /// A response without a body (e.g. 204).
    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            principal: None,
            client_ip: None,
        }
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Records who made the request, for the log line.
    pub fn with_principal(mut self, principal: Option<String>) -> Self {
        self.principal = principal;
        self
    }

    /// Records the resolved client address, for the log line.
    pub fn with_client_ip(mut self, client_ip: Option<IpAddr>) -> Self {
        self.client_ip = client_ip;
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}
