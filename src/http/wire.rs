//! The HTTP/1.x request head on the wire: finding where it ends, parsing the request line and
//! header fields, and deciding how the body is framed (RFC 9112). Pure functions over bytes,
//! so every rule is unit-tested and fuzzed without a socket.
//!
//! The parser is strict where leniency has caused request smuggling or header injection in
//! other servers: no whitespace before a field's colon, no folded lines, no control bytes, one
//! agreed `Content-Length`, and never both `Content-Length` and `Transfer-Encoding`. It is
//! lenient where RFC 9112 asks for it: empty lines before the request line are skipped, a bare
//! LF ends a line, and an absolute-form target is reduced to its path.

use super::Request;
use std::net::IpAddr;

/// Largest accepted header section (request line and header fields), in bytes. Room for the
/// longest valid session token (8 KiB) with everything a browser adds; nginx allows 32 KiB too.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields accepted in one request.
pub const MAX_HEADER_FIELDS: usize = 100;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The method as sent (a token; case is kept).
    pub method: String,
    /// The request target in origin form (`/path?query`), still percent-encoded.
    pub target: String,
    /// The minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1 (and any later 1.x).
    pub minor_version: u8,
    /// Header names in lower case with their values (surrounding blanks removed), in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// All values of header `name` (lower case), in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the `Connection` header lists `option` (case-insensitive).
    pub fn connection_has(&self, option: &str) -> bool {
        self.values("connection")
            .flat_map(|value| value.split(','))
            .any(|item| item.trim().eq_ignore_ascii_case(option))
    }

    /// The request handlers see: the method in upper case, the target split into path and
    /// query, and `body`. Its request id is left empty for the server to fill in.
    pub fn into_request(self, body: Vec<u8>, peer: Option<IpAddr>) -> Request {
        let (path, query) = match self.target.split_once('?') {
            Some((path, query)) => (path.to_string(), query.to_string()),
            None => (self.target, String::new()),
        };
        Request {
            method: self.method.to_ascii_uppercase(),
            path,
            query,
            headers: self.headers,
            body,
            peer,
            request_id: String::new(),
        }
    }

    /// Whether the client wants the connection kept open after this request: HTTP/1.1 unless it
    /// says `close`, HTTP/1.0 only when it says `keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        if self.connection_has("close") {
            return false;
        }
        self.minor_version >= 1 || self.connection_has("keep-alive")
    }
}

/// Why a request head was refused; each maps to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// 400: not a well-formed HTTP/1.x head.
    Malformed(&'static str),
    /// 431: the head is larger than [`MAX_HEADER_BYTES`] or has more than
    /// [`MAX_HEADER_FIELDS`] fields.
    TooLarge,
    /// 505: a well-formed request line naming HTTP/2 or later.
    VersionNotSupported,
    /// 501: a transfer coding other than `chunked`.
    UnsupportedCoding,
    /// 413: a declared body length beyond what any configuration accepts (does not fit u64).
    LengthOverflow,
}

impl HeadError {
    /// The status code the client gets.
    pub fn status(self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::TooLarge => 431,
            HeadError::VersionNotSupported => 505,
            HeadError::UnsupportedCoding => 501,
            HeadError::LengthOverflow => 413,
        }
    }

    /// The `detail` text of the JSON error body.
    pub fn detail(self) -> &'static str {
        match self {
            HeadError::Malformed(detail) => detail,
            HeadError::TooLarge => "Request header fields too large",
            HeadError::VersionNotSupported => "HTTP version not supported",
            HeadError::UnsupportedCoding => "Transfer coding not supported",
            HeadError::LengthOverflow => "Request body too large",
        }
    }
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Where the head in `buf` ends (the index just past its blank line), or `None` while it is
/// incomplete. Leading empty lines count as part of the head. `from` is where an earlier call
/// on a shorter prefix of `buf` stopped looking, so a head that arrives in many small pieces
/// is scanned once, not once per piece.
pub fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = skip_leading_blank_lines(buf).max(from.saturating_sub(3));
    while let Some(offset) = buf.get(at..)?.iter().position(|&b| b == b'\n') {
        let newline = at + offset;
        match buf.get(newline + 1..) {
            Some([b'\n', ..]) => return Some(newline + 2),
            Some([b'\r', b'\n', ..]) => return Some(newline + 3),
            _ => at = newline + 1,
        }
    }
    None
}

fn skip_leading_blank_lines(buf: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match buf.get(at..) {
            Some([b'\r', b'\n', ..]) => at += 2,
            Some([b'\n', ..]) => at += 1,
            _ => return at,
        }
    }
}

/// Parses a complete head (`buf[..head_end(buf)]`).
pub fn parse_head(buf: &[u8]) -> Result<Head, HeadError> {
    if buf.len() > MAX_HEADER_BYTES {
        return Err(HeadError::TooLarge);
    }
    let text = &buf[skip_leading_blank_lines(buf)..];
    let mut lines = text.split(|&b| b == b'\n').map(|line| match line {
        [rest @ .., b'\r'] => rest,
        line => line,
    });
    let request_line = lines.next().unwrap_or_default();
    let (method, target, minor_version) = parse_request_line(request_line)?;
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADER_FIELDS {
            return Err(HeadError::TooLarge);
        }
        headers.push(parse_field(line)?);
    }
    Ok(Head {
        method,
        target,
        minor_version,
        headers,
    })
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, u8), HeadError> {
    const BAD: HeadError = HeadError::Malformed("Malformed request line");
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BAD);
    };
    if method.is_empty() || !method.iter().all(|&b| is_token_byte(b)) {
        return Err(BAD);
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(BAD);
    }
    let minor_version = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match major {
                b'1' => u8::from(*minor != b'0'),
                b'0' => return Err(BAD),
                _ => return Err(HeadError::VersionNotSupported),
            }
        }
        _ => return Err(BAD),
    };
    let target = origin_form(target).ok_or(BAD)?;
    // Both are checked ASCII above.
    Ok((
        String::from_utf8_lossy(method).into_owned(),
        String::from_utf8_lossy(target).into_owned(),
        minor_version,
    ))
}

/// The origin form of a request target: itself when it starts with `/`, the path (and query)
/// of an absolute-form `http://host/path` target; `None` for anything else (`*`, authority
/// form), which no route of ours serves.
fn origin_form(target: &[u8]) -> Option<&[u8]> {
    if target.first() == Some(&b'/') {
        return Some(target);
    }
    let lower = target.get(..8).map(<[u8]>::to_ascii_lowercase)?;
    let after_scheme = if lower.starts_with(b"http://") {
        &target[7..]
    } else if lower.starts_with(b"https://") {
        &target[8..]
    } else {
        return None;
    };
    match after_scheme.iter().position(|&b| b == b'/' || b == b'?') {
        Some(at) if after_scheme[at] == b'/' => Some(&after_scheme[at..]),
        // "http://host" and "http://host?q" name the root; the query of the latter is dropped
        // with the authority, as no route reads a query on "/".
        _ => Some(b"/"),
    }
}

fn parse_field(line: &[u8]) -> Result<(String, String), HeadError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(HeadError::Malformed("Malformed header field"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // Also refuses obsolete line folding (a line starting with a blank) and a blank before the
    // colon, both ways of smuggling a field past a proxy.
    if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
        return Err(HeadError::Malformed("Malformed header field"));
    }
    let value = trim_blanks(value);
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(HeadError::Malformed("Malformed header field"));
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| HeadError::Malformed("Header field value is not UTF-8"))?;
    Ok((
        String::from_utf8_lossy(name).to_ascii_lowercase(),
        value.to_string(),
    ))
}

fn trim_blanks(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// `tchar` of RFC 9110: the characters of methods and field names.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// How the body of a request with this head is framed (RFC 9112 section 6.3).
///
/// A request with both `Transfer-Encoding` and `Content-Length` is refused rather than
/// guessed at, and so is a `Content-Length` whose values disagree or are not plain digits.
pub fn framing(head: &Head) -> Result<Framing, HeadError> {
    let mut codings = head
        .values("transfer-encoding")
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .peekable();
    let has_length = head.values("content-length").next().is_some();
    if codings.peek().is_some() {
        if has_length {
            return Err(HeadError::Malformed(
                "Both Content-Length and Transfer-Encoding",
            ));
        }
        let codings: Vec<&str> = codings.collect();
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case("chunked") => Ok(Framing::Chunked),
            // Chunked must be last and appear once; anything else means the end of the body
            // cannot be found, so the connection cannot be trusted either.
            list if list.iter().any(|c| c.is_empty()) => {
                Err(HeadError::Malformed("Malformed Transfer-Encoding"))
            }
            list if !list
                .last()
                .is_some_and(|last| last.eq_ignore_ascii_case("chunked")) =>
            {
                Err(HeadError::Malformed("Malformed Transfer-Encoding"))
            }
            _ => Err(HeadError::UnsupportedCoding),
        };
    }
    let mut length: Option<u64> = None;
    for item in head
        .values("content-length")
        .flat_map(|value| value.split(','))
    {
        let digits = item.trim();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HeadError::Malformed("Malformed Content-Length"));
        }
        let value: u64 = digits.parse().map_err(|_| HeadError::LengthOverflow)?;
        if length.is_some_and(|seen| seen != value) {
            return Err(HeadError::Malformed("Conflicting Content-Length values"));
        }
        length = Some(value);
    }
    Ok(match length {
        None | Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
    })
}

/// Parses the size line of a chunk (`1a3;name=value`), without its line ending.
pub fn chunk_size(line: &[u8]) -> Option<u64> {
    let size = match line.iter().position(|&b| b == b';') {
        Some(at) => &line[..at],
        None => line,
    };
    let size = trim_blanks(size);
    // 15 hex digits are far beyond any accepted body and cannot overflow u64.
    if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    std::str::from_utf8(size)
        .ok()
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
}

/// Writes an answer into `out`: the status line in the request's HTTP version, `headers`,
/// `Date`, `Content-Length`, and `body` unless `head_only` (a `HEAD` request: the length is
/// still that of the body a `GET` would get) or the status forbids one (1xx, 204, 304).
///
/// A header whose name is not a token or whose value holds a control character is left out
/// rather than sent broken, so no value can split the answer. Every header we build is clean,
/// so this only guards against future mistakes.
pub fn write_response<'a>(
    out: &mut Vec<u8>,
    minor_version: u8,
    status: u16,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: &[u8],
    head_only: bool,
) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.{} {status} {}\r\n",
        minor_version.min(1),
        reason_phrase(status)
    );
    for (name, value) in headers {
        let clean_name = !name.is_empty() && name.bytes().all(is_token_byte);
        let clean_value = !value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
        if clean_name && clean_value {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Date: ");
    http_date_now(out);
    out.extend_from_slice(b"\r\n");
    let bodiless = matches!(status, 100..=199 | 204 | 304);
    if !bodiless {
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    if !bodiless && !head_only {
        out.extend_from_slice(body);
    }
}

/// The reason phrase of the status codes this server sends (RFC 9110); the phrase is optional
/// on the wire, so any other code goes without one.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends the current time as an HTTP date (`Mon, 30 Nov 2026 10:51:20 GMT`), formatted once
/// per second per thread.
fn http_date_now(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    thread_local! {
        static CACHED: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = time::OffsetDateTime::now_utc();
    CACHED.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != now.unix_timestamp() {
            *cached = (now.unix_timestamp(), http_date(now));
        }
        out.extend_from_slice(cached.1.as_bytes());
    });
}

/// An HTTP date (RFC 9110 section 5.6.7): RFC 2822 in UTC with `GMT` for the zone.
fn http_date(at: time::OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(&time::format_description::well_known::Rfc2822)
        .map(|text| text.replace("+0000", "GMT"))
        .unwrap_or_else(|_| String::from("Thu, 01 Jan 1970 00:00:00 GMT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Head, HeadError> {
        let bytes = text.as_bytes();
        let end = head_end(bytes, 0).expect("complete head");
        parse_head(&bytes[..end])
    }

    #[test]
    fn a_plain_request_parses_with_lower_case_names_and_trimmed_values() {
        let parsed =
            head("GET /api/v1/blogs?limit=5 HTTP/1.1\r\nHost: x\r\nX-Thing:  a b \t\r\n\r\n")
                .unwrap();
        assert_eq!(parsed.method, "GET");
        assert_eq!(parsed.target, "/api/v1/blogs?limit=5");
        assert_eq!(parsed.minor_version, 1);
        assert_eq!(
            parsed.headers,
            vec![
                ("host".into(), "x".into()),
                ("x-thing".into(), "a b".into())
            ]
        );
    }

    #[test]
    fn the_head_ends_at_the_first_empty_line_with_crlf_or_bare_lf() {
        let full = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody";
        assert_eq!(head_end(full, 0), Some(27));
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: x\n\nbody", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
        assert_eq!(
            head_end(b"\r\n\r\n", 0),
            None,
            "blank lines alone are no head"
        );
        assert_eq!(head_end(b"\r\nGET / HTTP/1.1\r\n\r\n", 0), Some(20));
        assert_eq!(head_end(b"", 0), None);
        // Resuming where a shorter prefix stopped finds the same end, for every split.
        for split in 0..full.len() {
            let earlier = head_end(&full[..split], 0);
            let resumed = head_end(full, if earlier.is_none() { split } else { 0 });
            assert_eq!(resumed, Some(27), "split at {split}");
        }
    }

    #[test]
    fn http_1_0_and_later_1_x_versions_are_served_and_2_or_later_is_505() {
        assert_eq!(head("GET / HTTP/1.0\r\n\r\n").unwrap().minor_version, 0);
        assert_eq!(head("GET / HTTP/1.2\r\n\r\n").unwrap().minor_version, 1);
        assert_eq!(
            head("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            Err(HeadError::VersionNotSupported)
        );
        assert_eq!(
            head("GET / HTTP/9.9\r\n\r\n"),
            Err(HeadError::VersionNotSupported)
        );
        for bad in [
            "GET / HTTP/0.9",
            "GET / HTTP/1",
            "GET / http/1.1",
            "GET / HTTP/1.1x",
        ] {
            assert!(
                matches!(
                    head(&format!("{bad}\r\n\r\n")),
                    Err(HeadError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn broken_request_lines_are_malformed() {
        for bad in [
            "GET\r\n\r\n",
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET /\x01 HTTP/1.1\r\n\r\n",
            "GET /\u{e9} HTTP/1.1\r\n\r\n",
            "GET * HTTP/1.1\r\n\r\n",
            "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
        ] {
            assert!(matches!(head(bad), Err(HeadError::Malformed(_))), "{bad:?}");
        }
        let nul = b"\0\0\0\0\r\n\r\n";
        assert!(parse_head(nul).is_err());
    }

    #[test]
    fn absolute_form_targets_become_their_path() {
        assert_eq!(
            head("GET http://example.com/etc/x?q=1 HTTP/1.1\r\n\r\n")
                .unwrap()
                .target,
            "/etc/x?q=1"
        );
        assert_eq!(
            head("GET HTTPS://example.com HTTP/1.1\r\n\r\n")
                .unwrap()
                .target,
            "/"
        );
    }

    #[test]
    fn broken_fields_are_malformed() {
        for bad in [
            "GET / HTTP/1.1\r\nHost x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET / HTTP/1.1\r\n: x\r\n\r\n",
            "GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nA: x\x00y\r\n\r\n",
            "GET / HTTP/1.1\r\nA: x\ry\r\n\r\n",
        ] {
            assert!(matches!(head(bad), Err(HeadError::Malformed(_))), "{bad:?}");
        }
        let invalid_utf8 = b"GET / HTTP/1.1\r\nA: \xff\xfe\r\n\r\n";
        assert!(matches!(
            parse_head(invalid_utf8),
            Err(HeadError::Malformed(_))
        ));
        // UTF-8 text in a value is kept as it is.
        assert_eq!(
            head("GET / HTTP/1.1\r\nUser-Agent: caf\u{e9}\r\n\r\n")
                .unwrap()
                .headers[0]
                .1,
            "caf\u{e9}"
        );
    }

    #[test]
    fn too_many_or_too_large_fields_are_431() {
        let mut many = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=MAX_HEADER_FIELDS {
            many.push_str(&format!("X-{i}: v\r\n"));
        }
        many.push_str("\r\n");
        assert_eq!(head(&many), Err(HeadError::TooLarge));
        let large = format!(
            "GET / HTTP/1.1\r\nA: {}\r\n\r\n",
            "a".repeat(MAX_HEADER_BYTES)
        );
        assert_eq!(head(&large), Err(HeadError::TooLarge));
    }

    #[test]
    fn keep_alive_follows_the_version_and_the_connection_header() {
        assert!(head("GET / HTTP/1.1\r\n\r\n").unwrap().wants_keep_alive());
        assert!(!head("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n")
            .unwrap()
            .wants_keep_alive());
        assert!(!head("GET / HTTP/1.0\r\n\r\n").unwrap().wants_keep_alive());
        assert!(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .wants_keep_alive());
        assert!(!head("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n")
            .unwrap()
            .wants_keep_alive());
    }

    fn framing_of(fields: &str) -> Result<Framing, HeadError> {
        framing(&head(&format!("POST / HTTP/1.1\r\n{fields}\r\n")).unwrap())
    }

    #[test]
    fn framing_reads_one_agreed_length_or_chunked() {
        assert_eq!(framing_of(""), Ok(Framing::Empty));
        assert_eq!(framing_of("Content-Length: 0\r\n"), Ok(Framing::Empty));
        assert_eq!(
            framing_of("Content-Length: 12\r\n"),
            Ok(Framing::Length(12))
        );
        assert_eq!(
            framing_of("Content-Length: 12\r\nContent-Length: 12\r\n"),
            Ok(Framing::Length(12))
        );
        assert_eq!(
            framing_of("Content-Length: 7, 7\r\n"),
            Ok(Framing::Length(7))
        );
        assert_eq!(
            framing_of("Transfer-Encoding: Chunked\r\n"),
            Ok(Framing::Chunked)
        );
    }

    #[test]
    fn framing_refuses_what_could_be_read_two_ways() {
        for bad in [
            "Content-Length: -5\r\n",
            "Content-Length: +5\r\n",
            "Content-Length: 5 5\r\n",
            "Content-Length: \r\n",
            "Content-Length: 0x10\r\n",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked, identity\r\n",
            "Transfer-Encoding: ,chunked\r\n",
        ] {
            assert!(
                matches!(framing_of(bad), Err(HeadError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            framing_of("Content-Length: 99999999999999999999\r\n"),
            Err(HeadError::LengthOverflow)
        );
        assert_eq!(
            framing_of("Transfer-Encoding: gzip, chunked\r\n"),
            Err(HeadError::UnsupportedCoding)
        );
    }

    #[test]
    fn chunk_sizes_are_hex_with_optional_extensions() {
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"0"), Some(0));
        assert_eq!(chunk_size(b"A;name=value"), Some(10));
        assert_eq!(chunk_size(b"10 "), Some(16));
        for bad in [&b""[..], b"zz", b"-1", b"0x10", b"1234567890abcdef0"] {
            assert_eq!(chunk_size(bad), None, "{bad:?}");
        }
    }

    fn written(status: u16, body: &[u8], head_only: bool) -> String {
        let mut out = Vec::new();
        let headers = [
            ("Content-Type", "text/plain"),
            ("X-Bad", "a\r\nSet-Cookie: x"),
        ];
        write_response(&mut out, 1, status, headers.into_iter(), body, head_only);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn answers_carry_length_and_date_and_drop_headers_that_would_split_them() {
        let text = written(200, b"hello", false);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: "));
        assert!(
            text.ends_with(" GMT\r\nContent-Length: 5\r\n\r\nhello"),
            "{text}"
        );
        assert!(!text.contains("Set-Cookie"));
        let head = written(200, b"hello", true);
        assert!(head.ends_with("Content-Length: 5\r\n\r\n"), "{head}");
        for bodiless in [204, 304] {
            let text = written(bodiless, b"ignored", false);
            assert!(!text.contains("Content-Length") && text.ends_with("GMT\r\n\r\n"));
        }
        assert!(written(299, b"", false).starts_with("HTTP/1.1 299 \r\n"));
    }

    #[test]
    fn http_dates_are_rfc_9110() {
        let at = time::OffsetDateTime::from_unix_timestamp(1_743_433_200).unwrap();
        assert_eq!(http_date(at), "Mon, 31 Mar 2025 15:00:00 GMT");
    }
}
