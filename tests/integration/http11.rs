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
