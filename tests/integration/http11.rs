//! Integration tests: the server's own HTTP/1.1 connection layer speaks the protocol as
//! clients expect (keep-alive, pipelining, chunked bodies, `100 Continue`, `HEAD`, HTTP/1.0)
//! and refuses what it does not speak (HTTP/2 and later) with an answer and a close.

use crate::fixture::*;
use serde_json::json;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(server: &TestServer) -> TcpStream {
    let stream = TcpStream::connect(server.addr).expect("connect");
    // A hang guard, not a timing assertion.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Whether the server has closed `reader`'s connection (end of stream or reset).
fn is_closed(reader: &mut BufReader<TcpStream>) -> bool {
    let mut rest = Vec::new();
    match reader.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(err) => err.kind() == ErrorKind::ConnectionReset,
    }
}

#[test]
fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let server = TestServer::start();
    let mut stream = connect(&server);
    stream
        .write_all(
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n\
              GET /api/v1/nothing-here HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\n\r\n\
              GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Request-Id: third\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let first = read_response(&mut reader).unwrap();
    first.expect_status(200);
    assert_eq!(first.header("X-Request-Id"), Some("first"));
    assert_eq!(first.header("Connection"), None);
    let second = read_response(&mut reader).unwrap();
    second.expect_status(404);
    assert_eq!(second.header("X-Request-Id"), Some("second"));
    let third = read_response(&mut reader).unwrap();
    third.expect_status(200);
    assert_eq!(third.header("X-Request-Id"), Some("third"));
    assert_eq!(third.header("Connection"), Some("close"));
    assert!(is_closed(&mut reader), "Connection: close was not honoured");
}

#[test]
fn a_chunked_body_is_read_whole_with_extensions_and_trailers() {
    let server = TestServer::start();
    let token = server.admin_token();
    let body =
        json!({"email": "chunked@example.com", "password": "long-enough-password"}).to_string();
    let (head, tail) = body.split_at(10);
    let request = format!(
        "POST /api/internal/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x};ext=1\r\n{head}\r\n{:X}\r\n{tail}\r\n0\r\nX-Trailer: ignored\r\n\r\n",
        head.len(),
        tail.len()
    );
    let resp = send_raw(server.addr, request.as_bytes());
    resp.expect_status(201);
    assert_eq!(resp.json()["email"], json!("chunked@example.com"));
}

#[test]
fn a_chunked_body_over_the_limit_is_413_before_it_is_all_read() {
    let server = TestServer::start_with(Options::default().env("SHIPSTAR_MAX_BODY_BYTES", "2048"));
    let mut stream = connect(&server);
    // The first chunk alone passes the limit; the rest is never sent.
    stream
        .write_all(
            b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\n\
              Transfer-Encoding: chunked\r\n\r\n1000\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let resp = read_response(&mut reader).unwrap();
    resp.expect_detail(413, json!("Request body too large"));
    assert_eq!(resp.header("Connection"), Some("close"));
    assert!(is_closed(&mut reader));
}

#[test]
fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let server = TestServer::start();
    let mut stream = connect(&server);
    let body = "username=admin%40example.com&password=correct-horse-battery";
    stream
        .write_all(
            format!(
                "POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
                 Expect: 100-continue\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut interim = String::new();
    reader.read_line(&mut interim).unwrap();
    assert_eq!(interim, "HTTP/1.1 100 Continue\r\n");
    let mut blank = String::new();
    reader.read_line(&mut blank).unwrap();
    assert_eq!(blank, "\r\n");
    stream.write_all(body.as_bytes()).unwrap();
    let resp = read_response(&mut reader).unwrap();
    resp.expect_status(200);
    assert!(resp.json()["access_token"].is_string());
}

#[test]
fn an_unknown_expectation_is_417() {
    let server = TestServer::start();
    let resp = send_raw(
        server.addr,
        b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\
          Expect: something-else\r\n\r\nabc",
    );
    resp.expect_detail(417, json!("Expectation failed"));
}

#[test]
fn head_gets_the_headers_of_get_without_a_body() {
    let server = TestServer::start();
    let mut stream = connect(&server);
    stream
        .write_all(
            b"HEAD /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n\
              GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = Some(value.trim().parse::<usize>().unwrap());
        }
    }
    let get = server.get("/api/openapi.json").send();
    assert_eq!(status_line, "HTTP/1.1 200 OK\r\n");
    assert_eq!(length, Some(get.body.len()));
    // No body followed: the next bytes on the connection are the pipelined GET's answer.
    let next = read_response(&mut reader).unwrap();
    next.expect_status(200);
    assert_eq!(next.json()["status"], json!("ok"));
}

#[test]
fn http_1_0_is_answered_in_1_0_and_closed_unless_kept_alive() {
    let server = TestServer::start();
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /api/v1/health HTTP/1.0\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    assert_eq!(status_line, "HTTP/1.0 200 OK\r\n");
    let mut rest = Vec::new();
    let _ = reader.read_to_end(&mut rest);
    let rest = String::from_utf8_lossy(&rest).to_ascii_lowercase();
    assert!(rest.contains("connection: close\r\n"), "{rest}");

    let mut stream = connect(&server);
    stream
        .write_all(
            b"GET /api/v1/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
              GET /api/v1/health HTTP/1.0\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let kept = read_response(&mut reader).unwrap();
    kept.expect_status(200);
    assert_eq!(kept.header("Connection"), Some("keep-alive"));
    read_response(&mut reader).unwrap().expect_status(200);
    assert!(is_closed(&mut reader));
}

/// Each gets an answer and a close. With a cap of 8 connections, a server that leaked even one
/// connection per such request would lock itself out long before the 50th.
#[test]
fn http_2_and_later_get_505_and_a_close_and_leak_nothing() {
    let server = TestServer::start_with(Options::default().env("SHIPSTAR_MAX_CONNECTIONS", "8"));
    for round in 0..50 {
        let preface: &[u8] = if round % 2 == 0 {
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        } else {
            b"GET /api/v1/health HTTP/3.0\r\nHost: x\r\n\r\n"
        };
        let mut stream = connect(&server);
        stream.write_all(preface).unwrap();
        let mut reader = BufReader::new(stream);
        let resp = read_response(&mut reader)
            .unwrap_or_else(|err| panic!("round {round}: no answer: {err}"));
        resp.expect_detail(505, json!("HTTP version not supported"));
        assert_eq!(resp.header("Connection"), Some("close"));
        assert!(is_closed(&mut reader), "round {round}: left open");
    }
    server.get("/api/v1/health").send().expect_status(200);
}

#[test]
fn conflicting_body_framing_is_400_and_closes_the_connection() {
    let server = TestServer::start();
    for (name, framing) in [
        (
            "length and chunked",
            "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
        ),
        ("two lengths", "Content-Length: 3\r\nContent-Length: 4\r\n"),
        (
            "chunked not last",
            "Transfer-Encoding: chunked, identity\r\n",
        ),
    ] {
        let mut stream = connect(&server);
        stream
            .write_all(
                format!(
                    "POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\n{framing}\r\n\
                     abc\r\nGET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
                )
                .as_bytes(),
            )
            .unwrap();
        let mut reader = BufReader::new(stream);
        let resp = read_response(&mut reader).unwrap();
        assert_eq!(resp.status, 400, "{name}");
        // The smuggled second request must not be answered.
        assert!(is_closed(&mut reader), "{name}: connection left open");
    }
}

/// Sends `request` followed by a pipelined health check on one connection, and returns the
/// answer to `request` after asserting that the server said `Connection: close` and closed
/// without answering the pipelined request (so nothing after the refused request was read as
/// another request).
fn refused_then_closed(server: &TestServer, name: &str, request: &[u8]) -> Resp {
    let mut stream = connect(server);
    let mut bytes = request.to_vec();
    bytes.extend_from_slice(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    // The server may close before reading everything: a failed write is fine.
    let _ = stream.write_all(&bytes);
    let mut reader = BufReader::new(stream);
    let resp = read_response(&mut reader).unwrap_or_else(|err| panic!("{name}: {err}"));
    assert_eq!(resp.header("Connection"), Some("close"), "{name}");
    assert!(is_closed(&mut reader), "{name}: connection left open");
    resp
}

/// Optional white space is SP and HTAB only (RFC 9110 section 5.6.3): a framing header padded
/// with any other Unicode white space is not a number or a coding, so the request's end cannot
/// be known: 400 and a close.
#[test]
fn framing_headers_padded_with_non_ascii_white_space_are_400_and_close() {
    let server = TestServer::start();
    for (name, framing, detail) in [
        (
            "no-break space before a length",
            "Content-Length: \u{a0}3",
            "Malformed Content-Length",
        ),
        (
            "ideographic space after a length",
            "Content-Length: 3\u{3000}",
            "Malformed Content-Length",
        ),
        (
            "next line in a length list",
            "Content-Length: 3,\u{85}3",
            "Malformed Content-Length",
        ),
        (
            "em space before chunked",
            "Transfer-Encoding: \u{2003}chunked",
            "Malformed Transfer-Encoding",
        ),
        (
            "no-break space after chunked",
            "Transfer-Encoding: chunked\u{a0}",
            "Malformed Transfer-Encoding",
        ),
        (
            "line separator in a coding list",
            "Transfer-Encoding: gzip,\u{2028}chunked",
            "Malformed Transfer-Encoding",
        ),
    ] {
        let request = format!(
            "POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\n{framing}\r\n\r\n\
             3\r\nabc\r\n0\r\n\r\n"
        );
        let resp = refused_then_closed(&server, name, request.as_bytes());
        resp.expect_detail(400, json!(detail));
    }
    // SP and HTAB around the value and around list items are optional white space.
    let resp = send_raw(
        server.addr,
        b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length:\t 3 ,\t3 \r\n\r\nabc",
    );
    assert_eq!(resp.status, 422, "{}", resp.text());
}

/// The chunked coding's grammar (RFC 9112 section 7.1) is followed exactly: every line ends
/// in CRLF, a chunk size is hex digits alone unless extensions follow (with the bad white
/// space the grammar allows around `;` and `=`), and trailer lines are field lines.
#[test]
fn chunked_bodies_that_break_the_grammar_are_400_and_close() {
    let server = TestServer::start();
    for (name, chunks) in [
        ("bare LF after a chunk size", "3\nabc\r\n0\r\n\r\n"),
        ("bare LF after chunk data", "3\r\nabc\n0\r\n\r\n"),
        ("bare LF after the last chunk", "3\r\nabc\r\n0\n\r\n"),
        ("bare LF ending the body", "3\r\nabc\r\n0\r\n\n"),
        ("bare LF after a trailer", "3\r\nabc\r\n0\r\nX-T: v\n\r\n"),
        ("bare CR in a size line", "3\rx\r\nabc\r\n0\r\n\r\n"),
        ("space after a size", "3 \r\nabc\r\n0\r\n\r\n"),
        ("tab after a size", "3\t\r\nabc\r\n0\r\n\r\n"),
        ("space before a size", " 3\r\nabc\r\n0\r\n\r\n"),
        ("space after the last chunk", "3\r\nabc\r\n0 \r\n\r\n"),
        ("sign before a size", "+3\r\nabc\r\n0\r\n\r\n"),
        ("hex prefix", "0x3\r\nabc\r\n0\r\n\r\n"),
        ("extension without a name", "3;\r\nabc\r\n0\r\n\r\n"),
        (
            "extension with a space in its name",
            "3;a b\r\nabc\r\n0\r\n\r\n",
        ),
        ("extension without a value", "3;a=\r\nabc\r\n0\r\n\r\n"),
        (
            "extension with an open quote",
            "3;a=\"b\r\nabc\r\n0\r\n\r\n",
        ),
        ("space after an extension", "3;a=b \r\nabc\r\n0\r\n\r\n"),
        ("chunk data longer than its size", "3\r\nabcd\r\n0\r\n\r\n"),
        (
            "trailer that is not a field",
            "3\r\nabc\r\n0\r\nnot a field\r\n\r\n",
        ),
        (
            "folded trailer",
            "3\r\nabc\r\n0\r\nX-T: v\r\n folded\r\n\r\n",
        ),
        (
            "blank before a trailer's colon",
            "3\r\nabc\r\n0\r\nX-T : v\r\n\r\n",
        ),
    ] {
        let request = format!(
            "POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Transfer-Encoding: chunked\r\n\r\n{chunks}"
        );
        let resp = refused_then_closed(&server, name, request.as_bytes());
        assert_eq!(resp.status, 400, "{name}: {}", resp.text());
        assert_eq!(
            resp.json(),
            json!({"detail": "Malformed chunked body"}),
            "{name}"
        );
    }
}

/// What the grammar does allow is read: bad white space around `;` and `=`, quoted extension
/// values with escapes, upper-case hex, leading zeros, and trailer fields.
#[test]
fn chunked_bodies_with_everything_the_grammar_allows_are_read() {
    let server = TestServer::start();
    let body = "username=nobody%40example.com&password=wrong-password";
    let (first, rest) = body.split_at(10);
    let request = format!(
        "POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\n\r\n\
         {:04x} \t; a = b ;c;d=\"q \\\" \\\\ x\"\r\n{first}\r\n\
         {:X};e\r\n{rest}\r\n\
         000;last=\"\"\r\nX-Trailer: one\r\nX-Other:\r\n\r\n",
        first.len(),
        rest.len()
    );
    let resp = send_raw(server.addr, request.as_bytes());
    resp.expect_detail(400, json!("LOGIN_BAD_CREDENTIALS"));
}

/// RFC 9112 section 6.1: an HTTP/1.0 message with `Transfer-Encoding` has faulty framing. It
/// is refused (400, the safest reading) and the connection closed, even with `keep-alive`.
#[test]
fn http_1_0_with_transfer_encoding_is_400_and_close() {
    let server = TestServer::start();
    for (name, framing) in [
        ("chunked", "Transfer-Encoding: chunked\r\n"),
        (
            "chunked and a length",
            "Transfer-Encoding: chunked\r\nContent-Length: 12\r\n",
        ),
        ("another coding", "Transfer-Encoding: gzip, chunked\r\n"),
    ] {
        let request = format!(
            "POST /api/internal/auth/jwt/login HTTP/1.0\r\nConnection: keep-alive\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\
             3\r\nabc\r\n0\r\n\r\n"
        );
        let resp = refused_then_closed(&server, name, request.as_bytes());
        assert_eq!(resp.status, 400, "{name}: {}", resp.text());
    }
    let resp = refused_then_closed(
        &server,
        "chunked",
        b"POST /api/internal/auth/jwt/login HTTP/1.0\r\nConnection: keep-alive\r\n\
          Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    resp.expect_detail(400, json!("Transfer-Encoding in an HTTP/1.0 request"));
}

/// RFC 9112 section 3.2: an HTTP/1.1 request without `Host`, and any request with more than one
/// `Host` line or a `Host` that is not `uri-host [":" port]` (RFC 9110 section 7.2), is 400.
#[test]
fn a_missing_repeated_or_malformed_host_is_400_and_close() {
    let server = TestServer::start();
    let cases = [
        (
            "missing",
            "GET /api/v1/health HTTP/1.1\r\n",
            "Missing Host header",
        ),
        (
            "missing with absolute form",
            "GET http://example.com/api/v1/health HTTP/1.1\r\n",
            "Missing Host header",
        ),
        (
            "repeated",
            "GET /api/v1/health HTTP/1.1\r\nHost: a\r\nHost: a\r\n",
            "Repeated Host header",
        ),
        (
            "repeated on 1.0",
            "GET /api/v1/health HTTP/1.0\r\nHost: a\r\nHost: b\r\n",
            "Repeated Host header",
        ),
        (
            "empty",
            "GET /api/v1/health HTTP/1.1\r\nHost: \r\n",
            "Malformed Host header",
        ),
        (
            "a space inside",
            "GET /api/v1/health HTTP/1.1\r\nHost: a b\r\n",
            "Malformed Host header",
        ),
        (
            "a path",
            "GET /api/v1/health HTTP/1.1\r\nHost: a/b\r\n",
            "Malformed Host header",
        ),
        (
            "user info",
            "GET /api/v1/health HTTP/1.1\r\nHost: user@a\r\n",
            "Malformed Host header",
        ),
        (
            "a letter in the port",
            "GET /api/v1/health HTTP/1.1\r\nHost: a:8o\r\n",
            "Malformed Host header",
        ),
        (
            "two ports",
            "GET /api/v1/health HTTP/1.1\r\nHost: a:1:2\r\n",
            "Malformed Host header",
        ),
        (
            "an open bracket",
            "GET /api/v1/health HTTP/1.1\r\nHost: [::1\r\n",
            "Malformed Host header",
        ),
        (
            "not an IPv6 address",
            "GET /api/v1/health HTTP/1.1\r\nHost: [a]\r\n",
            "Malformed Host header",
        ),
        (
            "a broken escape",
            "GET /api/v1/health HTTP/1.1\r\nHost: a%zz\r\n",
            "Malformed Host header",
        ),
        (
            "non-ASCII",
            "GET /api/v1/health HTTP/1.1\r\nHost: caf\u{e9}\r\n",
            "Malformed Host header",
        ),
        (
            "malformed on 1.0",
            "GET /api/v1/health HTTP/1.0\r\nHost: a b\r\n",
            "Malformed Host header",
        ),
    ];
    for (name, head, detail) in cases {
        let request = format!("{head}\r\n");
        let resp = refused_then_closed(&server, name, request.as_bytes());
        resp.expect_detail(400, json!(detail));
    }
}

/// Every host form of the grammar is served, and an absolute-form target is served by its own
/// path whatever `Host` says (RFC 9112 section 3.2.2: its value is then ignored), while its own
/// authority must be a valid host without user info (RFC 9110 section 4.2.4).
#[test]
fn every_valid_host_and_absolute_form_target_is_served() {
    let server = TestServer::start();
    for host in [
        "example.com",
        "EXAMPLE.com.",
        "127.0.0.1",
        "127.0.0.1:8080",
        "a:",
        "[::1]",
        "[2001:db8::7]:443",
        "[v7.fe80::a+en1]",
        "xn--bcher-kva.example",
        "a%2Db",
        "sub_delims!$&'()*+,;=",
    ] {
        let resp = send_raw(
            server.addr,
            format!("GET /api/v1/health HTTP/1.1\r\nHost:\t{host} \r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(resp.status, 200, "Host {host:?}: {}", resp.text());
    }
    // HTTP/1.0 does not need a Host.
    let resp = send_raw(server.addr, b"GET /api/v1/health HTTP/1.0\r\n\r\n");
    assert_eq!(resp.status, 200);
    for target in [
        "http://example.com/api/v1/health",
        "HTTPS://example.com:8443/api/v1/health",
        "http://[::1]/api/v1/health",
    ] {
        let resp = send_raw(
            server.addr,
            format!("GET {target} HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(resp.status, 200, "{target}: {}", resp.text());
    }
    for (name, target) in [
        ("user info", "http://user@example.com/api/v1/health"),
        ("no host", "http:///api/v1/health"),
        ("bad port", "http://example.com:x/api/v1/health"),
        ("bad IPv6", "http://[::g]/api/v1/health"),
        ("fragment", "http://example.com#/api/v1/health"),
    ] {
        let request = format!("GET {target} HTTP/1.1\r\nHost: example.com\r\n\r\n");
        let resp = refused_then_closed(&server, name, request.as_bytes());
        assert_eq!(resp.status, 400, "{name}: {}", resp.text());
    }
}

/// Methods are case-sensitive (RFC 9110 section 9.1): `delete` is not `DELETE`. Like any other
/// method a path does not have, it is 405 with `Allow` on a known path (the contract's rule)
/// and 404 elsewhere, and it changes nothing.
#[test]
fn methods_are_case_sensitive() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let other = server.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    let sessions = server
        .get("/api/internal/auth/sessions")
        .bearer(&admin)
        .send();
    sessions.expect_status(200);
    let other_sid = sessions
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == json!(false))
        .expect("the other session")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/internal/auth/sessions/{other_sid}");
    for method in ["delete", "Delete", "DELETe"] {
        let resp = server.request(method, &path).bearer(&admin).send();
        resp.expect_detail(405, json!("Method Not Allowed"));
        assert_eq!(resp.header("Allow"), Some("DELETE"), "{method}");
        server
            .get("/api/internal/users/me")
            .bearer(&other)
            .send()
            .expect_status(200);
    }
    for method in ["get", "head", "Get"] {
        let resp = server.request(method, "/api/v1/health").send();
        resp.expect_detail(405, json!("Method Not Allowed"));
        assert_eq!(resp.header("Allow"), Some("GET, HEAD"), "{method}");
    }
    server
        .request("get", "/api/v1/no-such-route")
        .send()
        .expect_status(404);
    // The upper-case method still does what it says.
    server
        .delete(&path)
        .bearer(&admin)
        .send()
        .expect_status(204);
    server
        .get("/api/internal/users/me")
        .bearer(&other)
        .send()
        .expect_status(401);
}
