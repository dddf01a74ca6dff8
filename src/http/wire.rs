//! The HTTP/1.x request head on the wire: finding where it ends, parsing the request line and
//! header fields, and deciding how the body is framed (RFC 9112). Pure functions over bytes,
//! so every rule is unit-tested and fuzzed without a socket.
//!
//! The parser is strict where leniency has caused request smuggling or header injection in
//! other servers: no whitespace before a field's colon, no folded lines, no control bytes, one
//! agreed `Content-Length`, never both `Content-Length` and `Transfer-Encoding`, no
//! `Transfer-Encoding` in HTTP/1.0, optional white space that is SP and HTAB only (never other
//! Unicode white space), a chunked body that follows its grammar exactly (CRLF line ends), and
//! exactly one valid `Host` (RFC 9112 section 3.2). It is lenient where RFC 9112 allows it:
//! empty lines before the request line are skipped, a bare LF ends a line of the head (section
//! 2.2; not of a chunked body, whose grammar has no such allowance), and an absolute-form target
//! is reduced to its path. Methods are case-sensitive and kept as sent (RFC 9110 section 9.1).
//!
//! Where the parser is stricter than the grammar (on purpose):
//! - a field value must be UTF-8 (handlers get `String`s); RFC 9110 allows any obs-text;
//! - control bytes other than HTAB are refused in field values, where RFC 9110 section 5.5
//!   lets a recipient keep them;
//! - empty list elements in `Transfer-Encoding` and `Content-Length` are refused, where RFC
//!   9110 section 5.6.1.2 asks a recipient to ignore a few: a framing header that two parsers
//!   might read two ways is refused rather than guessed at;
//! - an empty `Host` is refused: an `http` URI must have a non-empty host (RFC 9110 section
//!   4.2.1), and RFC 9112 section 3.3 lets a server reject a request whose target URI has none.
//!
//! And more lenient (on purpose): the request target may hold any visible ASCII, not only what
//! `origin-form` allows, because browsers send `|`, `^`, `{`, `}`, `[` and `]` unescaped (the
//! WHATWG URL standard leaves them so); such a path simply matches no route.

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
    /// The method as sent (a token; methods are case-sensitive, so case is kept).
    pub method: String,
    /// The request target in origin form (`/path?query`), still percent-encoded.
    pub target: String,
    /// The authority (`host[:port]`) of an absolute-form target, which stands for `Host`
    /// (RFC 9112 section 3.2.2); `None` for an origin-form target.
    pub authority: Option<String>,
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
            .any(|item| trim_ows(item).eq_ignore_ascii_case(option))
    }

    /// The request handlers see: the method as sent (case-sensitive: `delete` is not
    /// `DELETE`), the target split into path and query, and `body`. For an absolute-form
    /// target, `Host` carries the target's authority, as the received `Host` must be ignored
    /// then (RFC 9112 section 3.2.2). Its request id is left empty for the server to fill in.
    pub fn into_request(self, body: Vec<u8>, peer: Option<IpAddr>) -> Request {
        let (path, query) = match self.target.split_once('?') {
            Some((path, query)) => (path.to_string(), query.to_string()),
            None => (self.target, String::new()),
        };
        let mut headers = self.headers;
        if let Some(authority) = self.authority {
            headers.retain(|(name, _)| name != "host");
            headers.push(("host".into(), authority));
        }
        Request {
            method: self.method,
            path,
            query,
            headers,
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
    let (method, target, authority, minor_version) = parse_request_line(request_line)?;
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
        authority,
        minor_version,
        headers,
    })
}

/// The method, the origin-form target, the authority of an absolute-form target, and the
/// minor version of a request line (RFC 9112 section 3).
type RequestLine = (String, String, Option<String>, u8);

fn parse_request_line(line: &[u8]) -> Result<RequestLine, HeadError> {
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
    let (target, authority) = origin_form(target).ok_or(BAD)?;
    // All three are checked ASCII above.
    Ok((
        String::from_utf8_lossy(method).into_owned(),
        target,
        authority.map(|authority| String::from_utf8_lossy(authority).into_owned()),
        minor_version,
    ))
}

/// The origin form of a request target with the authority of an absolute-form one: itself
/// when it starts with `/`; for `http://authority/path?query` (`http` or `https`, any case) the
/// path and query (`/` when the path is empty, RFC 9112 section 3.2.1) and the authority, which
/// must be a non-empty host with an optional port and no user info (RFC 9110 sections 4.2.1
/// and 4.2.4); `None` for anything else (`*`, authority form), which no route of ours serves.
fn origin_form(target: &[u8]) -> Option<(String, Option<&[u8]>)> {
    if target.first() == Some(&b'/') {
        return Some((String::from_utf8_lossy(target).into_owned(), None));
    }
    let lower = target.get(..8).map(<[u8]>::to_ascii_lowercase)?;
    let after_scheme = if lower.starts_with(b"http://") {
        &target[7..]
    } else if lower.starts_with(b"https://") {
        &target[8..]
    } else {
        return None;
    };
    let end = after_scheme
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(end);
    if !is_host_and_port(authority) {
        return None;
    }
    let rest = String::from_utf8_lossy(rest);
    let path = if rest.starts_with('/') {
        rest.into_owned()
    } else {
        format!("/{rest}")
    };
    Some((path, Some(authority)))
}

/// Whether `value` is `uri-host [ ":" port ]` (RFC 9110 section 7.2, RFC 3986 section 3.2)
/// with a non-empty host: a bracketed IPv6 address or IPvFuture, or a reg-name (which covers
/// IPv4 addresses) of unreserved characters, sub-delims and percent escapes; the port is
/// decimal digits (possibly none, as the grammar allows).
fn is_host_and_port(value: &[u8]) -> bool {
    let (host_ok, port) = if let Some(inner) = value.strip_prefix(b"[") {
        match inner.iter().position(|&b| b == b']') {
            Some(close) => (is_ip_literal(&inner[..close]), &inner[close + 1..]),
            None => return false,
        }
    } else {
        let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        (is_reg_name(&value[..end]), &value[end..])
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    host_ok && port_ok
}

/// A non-empty `reg-name` of RFC 3986.
fn is_reg_name(host: &[u8]) -> bool {
    let mut rest = host;
    while let [first, tail @ ..] = rest {
        rest = match first {
            b'%' => match tail {
                [high, low, after @ ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    after
                }
                _ => return false,
            },
            b if is_unreserved(*b) || is_sub_delim(*b) => tail,
            _ => return false,
        };
    }
    !host.is_empty()
}

/// The inside of an RFC 3986 `IP-literal`: an IPv6 address or `v` HEXDIG+ `.` followed by
/// unreserved, sub-delims or `:`.
fn is_ip_literal(inner: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = inner {
        let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        return match &rest[digits..] {
            [b'.', tail @ ..] if digits > 0 && !tail.is_empty() => tail
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':'),
            _ => false,
        };
    }
    std::str::from_utf8(inner).is_ok_and(|text| text.parse::<std::net::Ipv6Addr>().is_ok())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// The `Host` rule of RFC 9112 section 3.2: an HTTP/1.1 request without `Host`, and any request
/// with more than one `Host` line or one whose value is not `uri-host [":" port]`, is 400. For
/// an absolute-form target `Host` must still be there and valid, but its value is ignored
/// (the target's authority stands for it, see [`Head::into_request`]).
pub fn check_host(head: &Head) -> Result<(), HeadError> {
    let mut hosts = head.values("host");
    match (hosts.next(), hosts.next()) {
        (None, _) if head.minor_version >= 1 => Err(HeadError::Malformed("Missing Host header")),
        (None, _) => Ok(()),
        (Some(_), Some(_)) => Err(HeadError::Malformed("Repeated Host header")),
        (Some(value), None) if is_host_and_port(value.as_bytes()) => Ok(()),
        (Some(_), None) => Err(HeadError::Malformed("Malformed Host header")),
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
    if has_control_byte(value) {
        return Err(HeadError::Malformed("Malformed header field"));
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| HeadError::Malformed("Header field value is not UTF-8"))?;
    Ok((
        String::from_utf8_lossy(name).to_ascii_lowercase(),
        value.to_string(),
    ))
}

/// Whether `line` (without its line end) is a `field-line` as the head accepts it: what a
/// trailer section of a chunked body must consist of (RFC 9112 section 7.1.2).
pub fn is_field_line(line: &[u8]) -> bool {
    parse_field(line).is_ok()
}

/// `bytes` without the optional white space (`OWS`: SP and HTAB, nothing else) around it.
fn trim_blanks(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// [`trim_blanks`] on text: never `str::trim`, whose Unicode white space is no `OWS`.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// `tchar` of RFC 9110: the characters of methods and field names.
fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[usize::from(b)]
}

/// [`is_token_byte`] as a table: every byte of every field name passes through it, in
/// requests and in answers.
const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        byte += 1;
    }
    table
};

/// Whether `bytes` holds a control character other than HTAB, or DEL: what a field value may
/// not contain. Every byte is looked at, without stopping at the first bad one, so that the
/// compiler checks many at a time: a value is rarely bad, and a token is hundreds of bytes.
fn has_control_byte(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |found, &b| {
        found | ((b < 0x20) & (b != b'\t')) | (b == 0x7f)
    })
}

/// How the body of a request with this head is framed (RFC 9112 section 6).
///
/// A request with both `Transfer-Encoding` and `Content-Length` is refused rather than
/// guessed at, and so is a `Content-Length` whose values disagree or are not plain digits, a
/// `Transfer-Encoding` whose codings are not tokens, in which `chunked` is not last or appears
/// twice, and any `Transfer-Encoding` in an HTTP/1.0 request: RFC 9112 section 6.1 calls its
/// framing faulty, and the safest reading is to refuse it (400) and close. List items are
/// trimmed of SP and HTAB only, so a value padded with other white space is refused.
pub fn framing(head: &Head) -> Result<Framing, HeadError> {
    const BAD_CODING: HeadError = HeadError::Malformed("Malformed Transfer-Encoding");
    let mut codings = head
        .values("transfer-encoding")
        .flat_map(|value| value.split(','))
        .map(trim_ows)
        .peekable();
    let has_length = head.values("content-length").next().is_some();
    if codings.peek().is_some() {
        if head.minor_version == 0 {
            return Err(HeadError::Malformed(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        if has_length {
            return Err(HeadError::Malformed(
                "Both Content-Length and Transfer-Encoding",
            ));
        }
        let codings: Vec<&str> = codings.collect();
        // `transfer-coding = token *( OWS ";" OWS transfer-parameter )`: each coding's name
        // must be a token; `chunked` takes no parameters.
        let is_chunked = |coding: &str| coding.eq_ignore_ascii_case("chunked");
        let names_are_tokens = codings.iter().all(|coding| {
            let name = trim_ows(coding.split(';').next().unwrap_or_default());
            !name.is_empty() && name.bytes().all(is_token_byte)
        });
        if !names_are_tokens {
            return Err(BAD_CODING);
        }
        // Chunked must be last and appear once; anything else means the end of the body
        // cannot be found, so the connection cannot be trusted either.
        let chunked = codings.iter().filter(|coding| is_chunked(coding)).count();
        if chunked != 1 || !codings.last().is_some_and(|last| is_chunked(last)) {
            return Err(BAD_CODING);
        }
        return match codings.len() {
            1 => Ok(Framing::Chunked),
            _ => Err(HeadError::UnsupportedCoding),
        };
    }
    let mut length: Option<u64> = None;
    for item in head
        .values("content-length")
        .flat_map(|value| value.split(','))
    {
        let digits = trim_ows(item);
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

/// Parses a chunk-size line (`1a3;name=value`) without its CRLF, exactly as RFC 9112 section
/// 7.1 writes it:
///
/// ```text
/// chunk-size     = 1*HEXDIG
/// chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-name = token
/// chunk-ext-val  = token / quoted-string
/// ```
///
/// so white space is allowed only before a `;` or around an `=`, never alone after the size
/// or at the end. `None` when the line breaks the grammar; a size too large for `u64` is
/// `u64::MAX`, which is beyond any body limit. Extensions are checked and then ignored.
pub fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || !is_chunk_ext(&line[digits..]) {
        return None;
    }
    Some(line[..digits].iter().fold(0u64, |size, &digit| {
        // Checked ASCII hex above.
        let value = char::from(digit).to_digit(16).unwrap_or(0);
        size.saturating_mul(16).saturating_add(u64::from(value))
    }))
}

/// Whether `ext` is a (possibly empty) `chunk-ext`.
fn is_chunk_ext(mut ext: &[u8]) -> bool {
    while !ext.is_empty() {
        let [b';', rest @ ..] = skip_ows(ext) else {
            return false;
        };
        let rest = skip_ows(rest);
        let name = token_len(rest);
        if name == 0 {
            return false;
        }
        ext = &rest[name..];
        if let [b'=', value @ ..] = skip_ows(ext) {
            let value = skip_ows(value);
            let len = match value.first() {
                Some(b'"') => quoted_string_len(value),
                _ => Some(token_len(value)).filter(|&len| len > 0),
            };
            let Some(len) = len else {
                return false;
            };
            ext = &value[len..];
        }
    }
    true
}

fn skip_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

/// How many bytes at the start of `bytes` are token characters.
fn token_len(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|&&b| is_token_byte(b)).count()
}

/// The length of the `quoted-string` (RFC 9110 section 5.6.4) that `bytes` starts with.
fn quoted_string_len(bytes: &[u8]) -> Option<usize> {
    let mut at = 1;
    loop {
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            b'\\' => match *bytes.get(at + 1)? {
                b'\t' | b' '..=b'~' | 0x80..=0xff => at += 2,
                _ => return None,
            },
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            b'\t' | b' '..=b'~' | 0x80..=0xff => at += 1,
            _ => return None,
        }
    }
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
    // Appended piece by piece rather than through `write!`: this runs for every answer, and
    // the formatting machinery costs more than the rest of the head.
    let mut number = itoa::Buffer::new();
    out.extend_from_slice(if minor_version == 0 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    });
    out.extend_from_slice(number.format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        let clean_name = !name.is_empty() && name.bytes().all(is_token_byte);
        let clean_value = !has_control_byte(value.as_bytes());
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
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(number.format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
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

    #[test]
    fn the_byte_tables_match_the_rules_they_replace() {
        for b in 0..=255u8 {
            assert_eq!(
                is_token_byte(b),
                b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b),
                "{b}"
            );
            let alone = [b'a', b, b'z'];
            assert_eq!(
                has_control_byte(&alone),
                (b < 0x20 && b != b'\t') || b == 0x7f,
                "{b}"
            );
        }
        assert!(!has_control_byte(b""));
    }

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
        // An empty path is "/", and the query stays (RFC 9112 section 3.2.1).
        assert_eq!(
            head("GET http://example.com?q=1 HTTP/1.1\r\n\r\n")
                .unwrap()
                .target,
            "/?q=1"
        );
        let parsed = head("GET http://[::1]:80/a HTTP/1.1\r\nHost: other\r\n\r\n").unwrap();
        assert_eq!(parsed.authority.as_deref(), Some("[::1]:80"));
        assert_eq!(head("GET /a HTTP/1.1\r\n\r\n").unwrap().authority, None);
        // The authority must be a host (no user info, RFC 9110 section 4.2.4).
        for bad in [
            "http://user@example.com/",
            "http:///a",
            "http://",
            "http://a:b/",
            "http://[::1/",
            "http://a#/b",
            "http://a%/b",
            "ftp://a/b",
        ] {
            assert!(
                matches!(
                    head(&format!("GET {bad} HTTP/1.1\r\n\r\n")),
                    Err(HeadError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_request_keeps_the_method_as_sent_and_an_absolute_targets_authority_as_host() {
        let request = head("delete /a HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .into_request(Vec::new(), None);
        assert_eq!(request.method, "delete", "methods are case-sensitive");
        let request = head("GET http://example.com:8080/a HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n")
            .unwrap()
            .into_request(Vec::new(), None);
        assert_eq!(request.header("host"), Some("example.com:8080"));
        assert_eq!(request.header_count("host"), 1);
        assert_eq!(
            (request.path.as_str(), request.header("a")),
            ("/a", Some("b"))
        );
    }

    fn host_check(text: &str) -> Result<(), HeadError> {
        check_host(&head(text).unwrap())
    }

    #[test]
    fn host_is_required_once_on_1_1_and_must_be_a_host_with_an_optional_port() {
        assert_eq!(
            host_check("GET / HTTP/1.1\r\n\r\n"),
            Err(HeadError::Malformed("Missing Host header"))
        );
        assert_eq!(
            host_check("GET http://a/ HTTP/1.1\r\n\r\n"),
            Err(HeadError::Malformed("Missing Host header")),
            "an absolute-form target still needs Host"
        );
        assert_eq!(host_check("GET / HTTP/1.0\r\n\r\n"), Ok(()));
        for repeated in [
            "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
        ] {
            assert_eq!(
                host_check(repeated),
                Err(HeadError::Malformed("Repeated Host header")),
                "{repeated:?}"
            );
        }
        for good in [
            "example.com",
            "EXAMPLE.COM.",
            "127.0.0.1:8080",
            "a:",
            "[::1]",
            "[::ffff:1.2.3.4]:1",
            "[v1.a:b]",
            "a%2Db",
            "a-b_c~d!$&'()*+,;=",
        ] {
            let text = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
            assert_eq!(host_check(&text), Ok(()), "{good:?}");
        }
        for bad in [
            "",
            "a b",
            "a/b",
            "a?b",
            "a#b",
            "u@a",
            "a:1:2",
            "a:x",
            ":80",
            "[::1",
            "[::1]x",
            "[a]",
            "[v.a]",
            "[v1.]",
            "a%2",
            "a%zz",
            "caf\u{e9}",
            "a\u{a0}",
            "\"a\"",
        ] {
            let text = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert_eq!(
                host_check(&text),
                Err(HeadError::Malformed("Malformed Host header")),
                "{bad:?}"
            );
        }
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
        assert!(!head("GET / HTTP/1.1\r\nConnection: te,\tclose \r\n\r\n")
            .unwrap()
            .wants_keep_alive());
        // Only SP and HTAB are optional white space.
        assert!(head("GET / HTTP/1.1\r\nConnection: \u{a0}close\r\n\r\n")
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
        assert_eq!(
            framing_of("Content-Length:\t 7 ,\t7\t\r\n"),
            Ok(Framing::Length(7))
        );
        assert_eq!(
            framing_of("Transfer-Encoding: gzip\r\nTransfer-Encoding:\tchunked \r\n"),
            Err(HeadError::UnsupportedCoding)
        );
    }

    #[test]
    fn framing_values_padded_with_other_white_space_are_malformed() {
        // NBSP, NEL, en quad, ideographic space, line separator, BOM, VT and FF: `str::trim`
        // removes all but the last three, none of them is optional white space.
        for space in [
            "\u{a0}", "\u{85}", "\u{2000}", "\u{3000}", "\u{2028}", "\u{feff}", "\x0b", "\x0c",
        ] {
            for fields in [
                format!("Content-Length: {space}5\r\n"),
                format!("Content-Length: 5{space}\r\n"),
                format!("Content-Length: 5,{space}5\r\n"),
                format!("Transfer-Encoding: {space}chunked\r\n"),
                format!("Transfer-Encoding: chunked{space}\r\n"),
                format!("Transfer-Encoding: gzip,{space}chunked\r\n"),
            ] {
                let request = format!("POST / HTTP/1.1\r\n{fields}\r\n");
                let result = match head(&request) {
                    Ok(parsed) => framing(&parsed),
                    Err(err) => Err(err),
                };
                assert!(
                    matches!(result, Err(HeadError::Malformed(_))),
                    "{fields:?}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn transfer_encoding_in_http_1_0_is_malformed() {
        for fields in [
            "Transfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
            "Transfer-Encoding: gzip, chunked\r\n",
        ] {
            let parsed = head(&format!("POST / HTTP/1.0\r\n{fields}\r\n")).unwrap();
            assert_eq!(
                framing(&parsed),
                Err(HeadError::Malformed(
                    "Transfer-Encoding in an HTTP/1.0 request"
                )),
                "{fields:?}"
            );
        }
        let parsed = head("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n").unwrap();
        assert_eq!(framing(&parsed), Ok(Framing::Length(3)));
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
            "Transfer-Encoding: chunked, chunked\r\n",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked;a=b\r\n",
            "Transfer-Encoding: g zip, chunked\r\n",
            "Transfer-Encoding: \"gzip\", chunked\r\n",
            "Transfer-Encoding: \r\n",
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
        assert_eq!(chunk_size(b"000"), Some(0));
        assert_eq!(chunk_size(b"A;name=value"), Some(10));
        assert_eq!(chunk_size(b"00000000000000000010"), Some(16));
        // Too large for u64 is too large for any body: it saturates, to be refused as 413.
        assert_eq!(chunk_size(b"1234567890abcdef0"), Some(u64::MAX));
        assert_eq!(chunk_size(&[b'f'; 100]), Some(u64::MAX));
    }

    #[test]
    fn chunk_size_lines_follow_the_grammar_exactly() {
        // BWS is allowed before ";" and around "=", a value is a token or a quoted string.
        for good in [
            &b"a;x"[..],
            b"a ;x",
            b"a\t; x",
            b"a; x = y",
            b"a;x=y;z",
            b"a;x=y ;z=\"\"",
            b"a;x=\"quoted \\\" pair\\\\ and\ttab\"",
            b"a;x=\"obs-text \x80\xff\"",
            b"a;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
        ] {
            assert_eq!(
                chunk_size(good),
                Some(10),
                "{:?}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            &b""[..],
            b" ",
            b"zz",
            b"-1",
            b"+1",
            b"0x10",
            b"10 ",
            b"10\t",
            b" 10",
            b"1 0",
            b"10\r",
            b"10\rx",
            b"10\n",
            b"10\x00",
            b"10\xc2\xa0",
            b"10;",
            b"10; ",
            b"10;;x",
            b"10;x ",
            b"10;x=",
            b"10;x= ",
            b"10;x=y ",
            b"10;x y",
            b"10;x=y z",
            b"10;x=\"open",
            b"10;x=\"a\"b",
            b"10;x=\"\\",
            b"10;x=\"\x00\"",
            b"10;x=\"\\\x7f\"",
            b"10;(x)",
            b"10,x",
            b"10;x=y,z",
        ] {
            assert_eq!(chunk_size(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn trailer_lines_are_field_lines() {
        assert!(is_field_line(b"X-T: v"));
        assert!(is_field_line(b"X-T:"));
        for bad in [
            &b""[..],
            b"X-T v",
            b"X-T : v",
            b" X-T: v",
            b"\tv",
            b": v",
            b"X: a\rb",
        ] {
            assert!(!is_field_line(bad), "{:?}", String::from_utf8_lossy(bad));
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
