//! cargo-fuzz target: differential fuzzing of our HTTP/1.x parser (`src/http/wire.rs`) against
//! httparse, the parser of hyper. Both read the same bytes; whenever both accept them, they
//! must agree on everything the server relies on, or a proxy built on one and a server built
//! on the other would read one request two ways:
//!
//! - a request head: where it ends, the method, the target, the version, and every header
//!   field's name and value, in order. Our parser accepting a head httparse cannot find the end
//!   of (`Partial`) is a disagreement too.
//! - a chunk-size line (`chunk_size` against `httparse::parse_chunk_size`): the size and where
//!   the line ends.
//!
//! Each input is checked as it is and, to reach header fields and chunk lines without a
//! corpus, behind a valid request line chosen by its first byte.
//!
//! Where httparse accepts what we refuse, ours wins by design (stricter, per RFC 9110/9112),
//! and the bytes are not compared. The known, intended differences:
//!
//! - field values: we refuse values that are not UTF-8 (httparse allows obs-text), and DEL
//!   and every control byte but HTAB (httparse too, except it keeps no bytes we refuse);
//! - the request target: we refuse non-ASCII bytes (httparse allows 0x80-0xFF), `*` and the
//!   authority form, and an absolute-form target whose authority is not `host[:port]` (user
//!   info, an empty host); an accepted absolute-form target is reduced to its path and query,
//!   so it is compared as that;
//! - versions: we serve HTTP/1.2 to 1.9 as 1.1 (RFC 9110 section 2.5) and answer 505 to 2.0
//!   and later, where httparse knows only 1.0 and 1.1; those heads are not compared;
//! - heads over 32 KiB or with more than 100 fields are 431 to us; httparse is given room for
//!   exactly 100 fields;
//! - chunk-size lines: the grammar of RFC 9112 section 7.1 exactly, where httparse accepts
//!   white space after the size without an extension and any bytes in extensions, and refuses
//!   more than 16 hex digits even when they are leading zeros (we read those, and saturate a
//!   size that does not fit 64 bits, which the body limit then refuses).
//!
//! Beyond this target the server applies `check_host`, `framing` and the chunked-body reader;
//! httparse has no counterpart for those, so they are unit-tested and fuzzed by `wire`.
//!
//! This target has no seeded loop in `cargo test` (tests/integration/fuzz_loops.rs): httparse
//! is a dependency of the fuzz crate only.
#![no_main]

use shipstar::http::wire;

/// Request lines put in front of the input, chosen by its first byte.
const PREFIXES: [&[u8]; 4] = [
    b"GET / HTTP/1.1\r\n",
    b"POST /a?b=c HTTP/1.1\r\nHost: x\r\n",
    b"GET http://example.com/p HTTP/1.1\r\n",
    b"PUT /x HTTP/1.0\r\n",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    head(data);
    chunk_line(data);
    if let Some((&choice, rest)) = data.split_first() {
        let mut input = PREFIXES[usize::from(choice) % PREFIXES.len()].to_vec();
        input.extend_from_slice(rest);
        head(&input);
    }
});

/// Both parsers on a request head.
fn head(data: &[u8]) {
    let Some(end) = wire::head_end(data, 0) else {
        return;
    };
    let Ok(ours) = wire::parse_head(&data[..end]) else {
        return;
    };
    let mut slots = [httparse::EMPTY_HEADER; wire::MAX_HEADER_FIELDS];
    let mut theirs = httparse::Request::new(&mut slots);
    let length = match theirs.parse(data) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => {
            panic!("we found a head of {end} bytes, httparse found no end")
        }
        Err(_) => return,
    };
    assert_eq!(length, end, "head length");
    assert_eq!(theirs.method, Some(ours.method.as_str()), "method");
    let path = theirs.path.expect("httparse has a path");
    match &ours.authority {
        None => assert_eq!(path, ours.target, "target"),
        Some(authority) => {
            let after_scheme = path
                .split_once("://")
                .map(|(_, rest)| rest)
                .expect("an absolute-form target");
            let rest = after_scheme
                .strip_prefix(authority.as_str())
                .unwrap_or_else(|| panic!("authority {authority:?} of {path:?}"));
            let origin = if rest.starts_with('/') {
                rest.to_string()
            } else {
                format!("/{rest}")
            };
            assert_eq!(origin, ours.target, "target of {path:?}");
        }
    }
    assert_eq!(theirs.version, Some(ours.minor_version), "version");
    assert_eq!(theirs.headers.len(), ours.headers.len(), "number of fields");
    for (their, (name, value)) in theirs.headers.iter().zip(&ours.headers) {
        assert!(
            their.name.eq_ignore_ascii_case(name),
            "{:?} against {name:?}",
            their.name
        );
        assert_eq!(their.value, value.as_bytes(), "value of {name}");
    }
}

/// Both parsers on a chunk-size line, when the input has one ended by CRLF.
fn chunk_line(data: &[u8]) {
    let Some(newline) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Some(line) = data[..newline].strip_suffix(b"\r") else {
        return;
    };
    let Some(size) = wire::chunk_size(line) else {
        return;
    };
    match httparse::parse_chunk_size(data) {
        Ok(httparse::Status::Complete((end, their_size))) => {
            assert_eq!(end, newline + 1, "end of the chunk-size line");
            assert_eq!(their_size, size, "chunk size");
        }
        Ok(httparse::Status::Partial) => panic!("httparse found no end of a chunk-size line"),
        Err(_) => {}
    }
}
