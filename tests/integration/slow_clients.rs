//! Integration tests: clients that stall, say nothing, idle on keep-alive or send an oversized
//! header section cannot keep a well-behaved client waiting, and are cut off after
//! `client_timeout_seconds`.
//!
//! Every wait is bounded by a client-side read timeout, so a regression fails instead of
//! hanging; none asserts how fast anything happened.

use crate::fixture::*;
use serde_json::json;
use std::io::{BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// The longest any single wait in these tests may take before it counts as a hang.
const PATIENCE: Duration = Duration::from_secs(20);

fn server_with_timeout(seconds: u32) -> TestServer {
    TestServer::start_with(
        Options::default().env("SHIPSTAR_CLIENT_TIMEOUT_SECONDS", &seconds.to_string()),
    )
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads until the server closes the connection; fails if it is still open after
/// [`PATIENCE`]. Returns what was read.
fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    match stream.read_to_end(&mut bytes) {
        Ok(_) => bytes,
        // A reset also means the server closed it.
        Err(err) if err.kind() == ErrorKind::ConnectionReset => bytes,
        Err(err) => panic!(
            "the server kept the connection open ({err}); read so far: {:?}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

/// Asks for health on new connections until one is answered 200; fails with `why` and the
/// server's log if none is within [`PATIENCE`].
fn health_comes_back(server: &TestServer, why: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let resp = try_send_raw(
            server.addr,
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        if resp.is_ok_and(|resp| resp.status == 200) {
            return;
        }
        assert!(Instant::now() < deadline, "{why}:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn stalled_and_silent_connections_do_not_keep_a_client_waiting() {
    // This process holds a thousand sockets too.
    shipstar::http::raise_open_file_limit();
    // The default timeout (30 s) outlasts the test, so every bad connection stays open. One
    // address plays every client here, and this test is about threads: the per-address cap
    // and the reserve for new addresses (client_addresses.rs) would refuse it, so they are
    // off, with room for all the bad connections.
    let server = TestServer::start_with(
        Options::default()
            .env("SHIPSTAR_MAX_CONNECTIONS_PER_IP", "0")
            .env("SHIPSTAR_MAX_CONNECTIONS", "2048"),
    );
    let token = server.admin_token();
    let mut bad = Vec::new();
    for index in 0..500 {
        let mut stream = connect(server.addr);
        let half = if index % 2 == 0 {
            // Stops in the middle of the header section.
            "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_string()
        } else {
            // A complete header, then 10 of the 5000 promised body bytes.
            "POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n\
             username=a"
                .to_string()
        };
        stream.write_all(half.as_bytes()).unwrap();
        bad.push(stream);
    }
    for _ in 0..500 {
        bad.push(connect(server.addr));
    }
    server.get("/api/v1/health").send().expect_status(200);
    let resp = server.get("/api/internal/users/me").bearer(&token).send();
    resp.expect_status(200);
    assert_eq!(resp.json()["email"], json!(ADMIN_EMAIL));
    // A well-behaved upload of more than one segment still goes through.
    server
        .post("/api/internal/users")
        .bearer(&token)
        .json(&json!({
            "email": "patient@example.com",
            "password": "long-enough-password",
            "padding": "p".repeat(2000),
        }))
        .send()
        .expect_status(201);
    drop(bad);
}

#[test]
fn idle_keep_alive_connection_is_closed_after_the_timeout_and_accept_goes_on() {
    let server = server_with_timeout(1);
    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    read_response(&mut reader).unwrap().expect_status(200);
    // Nothing more is sent: the server must hang up.
    let rest = read_until_closed(&mut stream);
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    // A quiet second without a new connection (ten accept polls of 100 ms, and as long as
    // the client timeout): accept must still be going.
    std::thread::sleep(Duration::from_secs(1));
    server.get("/api/v1/health").send().expect_status(200);
}

#[test]
fn stalled_body_gets_408_and_stalled_header_is_closed() {
    let server = server_with_timeout(1);
    let mut stream = connect(server.addr);
    stream
        .write_all(
            b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n\
              username=a",
        )
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    read_response(&mut reader)
        .unwrap()
        .expect_detail(408, json!("Request timed out"));

    let mut stream = connect(server.addr);
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    read_until_closed(&mut stream);

    let mut silent = connect(server.addr);
    let said = read_until_closed(&mut silent);
    assert!(said.is_empty(), "{:?}", String::from_utf8_lossy(&said));
    server.get("/api/v1/health").send().expect_status(200);
}

#[test]
fn oversized_header_section_gets_431_and_the_server_keeps_serving() {
    let server = TestServer::start();
    let limit = shipstar::http::MAX_HEADER_BYTES;
    let one_big_field = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "a".repeat(limit)
    );
    send_raw(server.addr, one_big_field.as_bytes())
        .expect_detail(431, json!("Request header fields too large"));
    let mut many_fields = String::from("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n");
    for index in 0..limit / 16 {
        many_fields.push_str(&format!("X-F{index:05}: abcdef\r\n"));
    }
    many_fields.push_str("Connection: close\r\n\r\n");
    send_raw(server.addr, many_fields.as_bytes())
        .expect_detail(431, json!("Request header fields too large"));
    // Just under the limit is fine.
    let fits = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "a".repeat(limit - 200)
    );
    send_raw(server.addr, fits.as_bytes()).expect_status(200);
    server.get("/api/v1/health").send().expect_status(200);
}

/// Accept fails with EMFILE while the process is out of file descriptors; once the idle
/// connections are cut off, the server must accept again.
#[test]
fn accept_resumes_after_running_out_of_file_descriptors() {
    let server = server_with_timeout(1);
    let limited = Command::new("prlimit")
        .arg(format!("--pid={}", server.pid()))
        .arg("--nofile=64:64")
        .status();
    if !limited.is_ok_and(|status| status.success()) {
        panic!("prlimit is needed for this test (util-linux)");
    }
    // Far more connections than descriptors; the kernel queues the rest.
    let silent: Vec<TcpStream> = (0..100).map(|_| connect(server.addr)).collect();
    health_comes_back(&server, "the server stopped accepting");
    drop(silent);
    let log = server.log_once_it_has("cannot accept connections");
    assert!(
        log.contains("cannot accept connections"),
        "EMFILE was never hit, so this test proved nothing:\n{log}"
    );
}

/// A client that sends its header one byte at a time, each byte well within the timeout, is
/// cut off once the whole request has taken longer than `client_timeout_seconds`: the
/// deadline is per request, not per read.
#[test]
fn a_header_trickled_byte_by_byte_is_cut_off_at_the_request_deadline() {
    let server = server_with_timeout(1);
    let mut stream = connect(server.addr);
    // 100 bytes at one per 100 ms would take 10 s, ten timeouts.
    let request = format!(
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: {}\r\n\r\n",
        "s".repeat(56)
    );
    let mut cut_off_after = None;
    for (sent, byte) in request.bytes().enumerate() {
        if stream.write_all(&[byte]).is_err() {
            cut_off_after = Some(sent);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        // Whatever the server said by now (its 408) ends the trickle.
        stream.set_nonblocking(true).unwrap();
        let mut peek = [0u8; 1];
        let answered =
            !matches!(stream.peek(&mut peek), Err(ref err) if err.kind() == ErrorKind::WouldBlock);
        stream.set_nonblocking(false).unwrap();
        if answered {
            cut_off_after = Some(sent + 1);
            break;
        }
    }
    let sent = cut_off_after.unwrap_or_else(|| {
        panic!(
            "all {} bytes were taken one at a time: no request deadline",
            request.len()
        )
    });
    assert!(sent < request.len(), "{sent}");
    let mut reader = BufReader::new(stream);
    // The answer is a 408 (or, had the close raced it, nothing at all).
    if let Ok(resp) = read_response(&mut reader) {
        resp.expect_detail(408, json!("Request timed out"));
    }
    server.get("/api/v1/health").send().expect_status(200);
}

/// Connections beyond `max_connections` are answered 503 with `Retry-After` and closed at
/// once; when the held ones go, new connections are served again.
#[test]
fn connections_beyond_the_cap_get_503_and_are_closed() {
    let server = TestServer::start_with(
        Options::default()
            .env("SHIPSTAR_MAX_CONNECTIONS", "4")
            .env("SHIPSTAR_CLIENT_TIMEOUT_SECONDS", "600"),
    );
    let held: Vec<TcpStream> = (0..4).map(|_| connect(server.addr)).collect();
    // The server counts a connection once it has accepted it; give it the time to.
    let deadline = Instant::now() + PATIENCE;
    let over = loop {
        let resp = try_send_raw(
            server.addr,
            b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        match resp {
            Ok(resp) if resp.status == 503 => break resp,
            _ => assert!(Instant::now() < deadline, "the cap was never reached"),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    over.expect_detail(503, json!("Too many connections"));
    assert_eq!(over.header("Retry-After"), Some("1"));
    assert_eq!(over.header("Connection"), Some("close"));
    assert_eq!(over.header("X-Request-Id").map(str::len), Some(32));
    let warning = "connection limit reached (max_connections = 4)";
    let log = server.log_once_it_has(warning);
    assert!(log.contains(warning), "no warning:\n{log}");
    drop(held);
    health_comes_back(&server, "closed connections were never given back");
}
