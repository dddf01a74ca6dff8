//! Integration tests: broken and hostile requests get a 4xx or a closed connection, never a
//! 5xx or a hang, and the server keeps serving afterwards.

use crate::fixture::*;
use std::io::{BufReader, ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// Sends `bytes`, closes the sending side, and returns the status of the answer, or `None`
/// when the server closed the connection without one. Panics when the server neither
/// answered nor closed within 10 s.
fn send_and_close(server: &TestServer, name: &str, bytes: &[u8]) -> Option<u16> {
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    match read_response(&mut BufReader::new(stream)) {
        Ok(resp) => Some(resp.status),
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("{name}: neither answered nor closed")
        }
        Err(_) => None,
    }
}

#[test]
fn corpus_of_broken_requests_gets_4xx_or_a_closed_connection() {
    let server = TestServer::start();
    let huge_token = format!(
        "GET /api/internal/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("tls hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec()),
        ("bare method", b"GET\r\n\r\n".to_vec()),
        ("http/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        ("negative length", b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n".to_vec()),
        ("huge length", b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec()),
        ("chunk size not hex", b"POST /api/internal/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".to_vec()),
        ("chunk shorter than declared", b"POST /api/internal/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc".to_vec()),
        ("body shorter than declared", b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=a".to_vec()),
        ("invalid utf-8 escape in path", b"GET /api/internal/users/%ff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("raw invalid utf-8 in path", b"GET /api/v1/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("bad escape in query", b"GET /setup?token=%zz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("path traversal", b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("encoded traversal", b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("header without colon", b"GET /api/v1/health HTTP/1.1\r\nHost x\r\nnonsense\r\n\r\n".to_vec()),
        ("absolute target", b"GET http://example.com/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("unknown version", b"GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n".to_vec()),
        ("1 MiB token", huge_token.into_bytes()),
        ("nul bytes", vec![0u8; 4096]),
    ];
    for (name, bytes) in cases {
        if let Some(status) = send_and_close(&server, name, &bytes) {
            assert!(
                (400..500).contains(&status) || status == 505,
                "{name}: answered {status}, want a 4xx or a closed connection"
            );
        }
        server.get("/api/v1/health").send().expect_status(200);
    }
}

#[test]
fn percent_escapes_that_decode_to_traversal_never_reach_a_file() {
    let server = TestServer::start();
    for path in [
        "/..%2f..%2fetc%2fpasswd",
        "/setup/../api/v1/health",
        "/api/v1/%2e%2e/health",
    ] {
        let resp = server.get(path).send();
        assert_eq!(resp.status, 404, "{path}: {}", resp.text());
        assert!(!resp.text().contains("root:"));
    }
}

/// A declared body far larger than memory (10^14 bytes) gets its 413 before any of it is read,
/// and the server lives (a server that buffered or drained the declared length would abort).
#[test]
fn absurd_declared_body_lengths_get_413_and_the_server_lives() {
    use std::io::BufRead;
    let server = TestServer::start();
    for path in ["/api/internal/auth/jwt/login", "/api/v1/health"] {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000\r\n\r\nabc"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut status_line = String::new();
        BufReader::new(&stream).read_line(&mut status_line).unwrap();
        assert!(
            status_line.starts_with("HTTP/1.1 413"),
            "{path}: {status_line:?}"
        );
        server.get("/api/v1/health").send().expect_status(200);
    }
    // A merely too-large body is still answered in full on a live connection.
    let resp = send_raw(
        server.addr,
        b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\nConnection: close\r\n\r\nabc",
    );
    assert_eq!(resp.status, 413);
    assert_eq!(resp.json()["detail"], "Request body too large");
}
