//! Integration tests: who the client is (`X-Forwarded-For` behind a trusted proxy, read as one
//! list over every field line), that this one address is what sessions and log lines record,
//! and the per-address connection cap with its reserve for new addresses.
//!
//! Several loopback addresses play several clients: on Linux every 127.0.0.0/8 address is
//! local, so a client socket bound to 127.0.0.2 reaches a server on 127.0.0.1. Every wait is
//! bounded; none asserts how fast anything happened.

use crate::fixture::*;
use serde_json::json;
use std::io::{BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The longest any single wait in these tests may take before it counts as a hang.
const PATIENCE: Duration = Duration::from_secs(20);
const LOGIN: &str = "/api/internal/auth/jwt/login";
const HEALTH: &[u8] = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";

fn bad_login(server: &TestServer, forwarded_for: &[&str]) -> Resp {
    let mut req = server.post(LOGIN);
    for line in forwarded_for {
        req = req.header("X-Forwarded-For", line);
    }
    req.form(&[
        ("username", "nobody@example.com"),
        ("password", "wrong-password"),
    ])
    .send()
}

fn login_limited_behind_loopback_proxy() -> TestServer {
    TestServer::start_with(
        Options::default()
            .env("SHIPSTAR_RATE_LIMIT_LOGIN_PER_MINUTE", "1")
            .env("SHIPSTAR_TRUSTED_PROXIES", "127.0.0.0/8"),
    )
}

/// A client behind a proxy that appends its own field line (instead of extending the
/// client's) must not pick a new bucket by changing its own line.
#[test]
fn forwarded_for_lines_are_one_list_so_the_client_line_cannot_rotate_the_bucket() {
    let server = login_limited_behind_loopback_proxy();
    bad_login(&server, &["198.51.100.1", "203.0.113.7"]).expect_status(400);
    bad_login(&server, &["198.51.100.2", "203.0.113.7"]).expect_status(429);
    bad_login(
        &server,
        &["198.51.100.3, 198.51.100.4", "203.0.113.7, 127.0.0.9"],
    )
    .expect_status(429);
    // Another client behind the same proxy has a bucket of its own.
    bad_login(&server, &["198.51.100.1", "203.0.113.8"]).expect_status(400);
}

/// An element the proxy could not have written (not an address) ends what is believed: the
/// client cannot choose its address by writing one to the left of it.
#[test]
fn an_unparsable_forwarded_for_element_does_not_let_the_client_choose() {
    let server = login_limited_behind_loopback_proxy();
    bad_login(&server, &["198.51.100.1, unknown"]).expect_status(400);
    bad_login(&server, &["198.51.100.2, unknown"]).expect_status(429);
    bad_login(&server, &["198.51.100.3", "not-an-address"]).expect_status(429);
    // A port or brackets do not make a new client.
    bad_login(&server, &["203.0.113.7:1111"]).expect_status(400);
    bad_login(&server, &["203.0.113.7:2222"]).expect_status(429);
    bad_login(&server, &["[2001:db8::7]:443"]).expect_status(400);
    bad_login(&server, &["2001:db8::7"]).expect_status(429);
}

/// The request log line of `path` answered `status`, from the server's log.
fn log_line(server: &TestServer, path: &str, status: u16) -> String {
    let needle = format!(" {path} status={status} ");
    let log = server.log_once_it_has(&needle);
    log.lines()
        .find(|line| line.contains(&needle))
        .unwrap_or_else(|| panic!("no log line for {path}:\n{log}"))
        .to_string()
}

/// Behind a trusted proxy the session row and the log line name the client, not the proxy.
#[test]
fn sessions_and_log_lines_record_the_client_behind_a_trusted_proxy() {
    let server =
        TestServer::start_with(Options::default().env("SHIPSTAR_TRUSTED_PROXIES", "127.0.0.1"));
    let resp = server
        .post(LOGIN)
        .header("X-Forwarded-For", "198.51.100.1")
        .header("X-Forwarded-For", "203.0.113.7")
        .form(&[("username", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send();
    resp.expect_status(200);
    let token = resp.json()["access_token"].as_str().unwrap().to_string();
    let line = log_line(&server, LOGIN, 200);
    assert!(line.contains(" ip=203.0.113.7 "), "{line}");

    let sessions = server
        .get("/api/internal/auth/sessions")
        .bearer(&token)
        .header("X-Forwarded-For", "192.0.2.55")
        .send();
    sessions.expect_status(200);
    assert_eq!(sessions.json()[0]["ip"], json!("203.0.113.7"));
    let line = log_line(&server, "/api/internal/auth/sessions", 200);
    assert!(line.contains(" ip=192.0.2.55 "), "{line}");
    // A route the router does not know is logged with the client too.
    server
        .get("/no/such/route")
        .header("X-Forwarded-For", "192.0.2.56")
        .send()
        .expect_status(404);
    let line = log_line(&server, "/no/such/route", 404);
    assert!(line.contains(" ip=192.0.2.56 "), "{line}");
}

/// From a peer that is not a trusted proxy the header is ignored in sessions and logs alike.
#[test]
fn sessions_and_log_lines_ignore_forwarded_for_from_an_untrusted_peer() {
    let server = TestServer::start();
    let resp = server
        .post(LOGIN)
        .header("X-Forwarded-For", "203.0.113.7")
        .form(&[("username", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send();
    resp.expect_status(200);
    let token = resp.json()["access_token"].as_str().unwrap().to_string();
    let line = log_line(&server, LOGIN, 200);
    assert!(line.contains(" ip=127.0.0.1 "), "{line}");
    let sessions = server
        .get("/api/internal/auth/sessions")
        .bearer(&token)
        .send();
    assert_eq!(sessions.json()[0]["ip"], json!("127.0.0.1"));
}

/// A TCP connection to `server` from the loopback address `from`.
fn connect_from(server: SocketAddr, from: &str) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let local: IpAddr = from.parse().unwrap();
    socket
        .bind(&SocketAddr::new(local, 0).into())
        .unwrap_or_else(|err| panic!("cannot bind a client socket to {from}: {err}"));
    socket.connect(&server.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Sends a keep-alive health request on a new connection from `from` and reads the answer:
/// once it is a 200 the server has admitted the connection, which then stays open, idle.
fn exchange_from(server: SocketAddr, from: &str) -> (TcpStream, Resp) {
    let mut stream = connect_from(server, from);
    stream.write_all(HEALTH).unwrap();
    let resp = read_response(&mut BufReader::new(stream.try_clone().unwrap()))
        .unwrap_or_else(|err| panic!("no answer on a connection from {from}: {err}"));
    (stream, resp)
}

/// A connection from `from` that the server admitted and answered, kept open.
fn held_from(server: SocketAddr, from: &str) -> TcpStream {
    let (stream, resp) = exchange_from(server, from);
    resp.expect_status(200);
    stream
}

/// What the server says, unasked, to a new connection from `from`: a connection over a cap is
/// answered at once, before any request (sending none avoids racing the server's close).
fn refused_from(server: SocketAddr, from: &str) -> Resp {
    let stream = connect_from(server, from);
    read_response(&mut BufReader::new(stream))
        .unwrap_or_else(|err| panic!("no refusal on a connection from {from}: {err}"))
}

/// Asserts the refusal a connection over a cap gets: the global cap's 503.
fn expect_refused(resp: &Resp) {
    resp.expect_detail(503, json!("Too many connections"));
    assert_eq!(resp.header("Retry-After"), Some("1"), "{resp:?}");
    assert_eq!(resp.header("Connection"), Some("close"), "{resp:?}");
}

fn server_with(env: &[(&str, &str)]) -> TestServer {
    let mut options = Options::default().env("SHIPSTAR_CLIENT_TIMEOUT_SECONDS", "600");
    for (key, value) in env {
        options = options.env(key, value);
    }
    TestServer::start_with(options)
}

#[test]
fn one_address_over_max_connections_per_ip_gets_503_and_others_are_served() {
    let server = server_with(&[("SHIPSTAR_MAX_CONNECTIONS_PER_IP", "3")]);
    let held: Vec<TcpStream> = (0..3)
        .map(|_| held_from(server.addr, "127.0.0.1"))
        .collect();
    expect_refused(&refused_from(server.addr, "127.0.0.1"));
    let warning = "connection limit per address reached by 127.0.0.1 (max_connections_per_ip = 3)";
    let log = server.log_once_it_has(warning);
    assert!(log.contains(warning), "no warning:\n{log}");
    // Another address is not affected.
    let _other: Vec<TcpStream> = (0..3)
        .map(|_| held_from(server.addr, "127.0.0.2"))
        .collect();
    drop(held);
    comes_back(
        &server,
        "127.0.0.1",
        "closed connections were never given back",
    );
}

#[test]
fn a_trusted_proxy_is_exempt_from_max_connections_per_ip() {
    let server = server_with(&[
        ("SHIPSTAR_MAX_CONNECTIONS_PER_IP", "2"),
        ("SHIPSTAR_TRUSTED_PROXIES", "127.0.0.1"),
    ]);
    let _proxy: Vec<TcpStream> = (0..6)
        .map(|_| held_from(server.addr, "127.0.0.1"))
        .collect();
    let _client: Vec<TcpStream> = (0..2)
        .map(|_| held_from(server.addr, "127.0.0.2"))
        .collect();
    expect_refused(&refused_from(server.addr, "127.0.0.2"));
}

/// With a global cap within one address's reach, the last slots are kept for addresses
/// holding few connections: 127.0.0.1 is refused before it takes them all, 127.0.0.2 is not.
#[test]
fn the_reserve_serves_a_new_address_while_one_address_holds_the_rest() {
    // 8 slots, the last one (an eighth) reserved; no per-address cap at all.
    let server = server_with(&[
        ("SHIPSTAR_MAX_CONNECTIONS", "8"),
        ("SHIPSTAR_MAX_CONNECTIONS_PER_IP", "0"),
    ]);
    let _greedy: Vec<TcpStream> = (0..7)
        .map(|_| held_from(server.addr, "127.0.0.1"))
        .collect();
    expect_refused(&refused_from(server.addr, "127.0.0.1"));
    let newcomer = held_from(server.addr, "127.0.0.2");
    // Now every slot is taken: anyone else gets the global cap's answer.
    expect_refused(&refused_from(server.addr, "127.0.0.3"));
    let warning = "connection limit nearly reached (max_connections = 8)";
    let log = server.log_once_it_has(warning);
    assert!(log.contains(warning), "no warning:\n{log}");
    drop(newcomer);
    comes_back(
        &server,
        "127.0.0.3",
        "the newcomer's slot was never given back",
    );
}

/// Connections that end in every way (closed idle after an answer, `Connection: close`,
/// refused as malformed, cut off in the middle of a request, refused over the cap) all give
/// their place back: many more than the cap come and go, and the cap's worth still gets in.
#[test]
fn closed_connections_are_counted_back() {
    let cap = 4;
    let server = server_with(&[("SHIPSTAR_MAX_CONNECTIONS_PER_IP", &cap.to_string())]);
    // Each ending starts from a connection the server admitted and answered once.
    let endings: [fn(TcpStream); 4] = [
        drop,
        |mut stream| {
            stream
                .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            read_response(&mut BufReader::new(stream))
                .unwrap()
                .expect_status(200);
        },
        |mut stream| {
            stream.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
            read_response(&mut BufReader::new(stream))
                .unwrap()
                .expect_status(400);
        },
        |mut stream| {
            stream
                .write_all(b"POST /api/internal/auth/jwt/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nuser")
                .unwrap();
        },
    ];
    for round in 0..24 {
        // Each round takes the whole cap, so one leaked place per round would lock the
        // address out within a few rounds.
        let mut held: Vec<TcpStream> = (0..cap)
            .map(|_| admitted(&server, "127.0.0.1", "a place leaked"))
            .collect();
        expect_refused(&refused_from(server.addr, "127.0.0.1"));
        let last = held.pop().unwrap();
        drop(held);
        endings[round % endings.len()](last);
    }
    let _full: Vec<TcpStream> = (0..cap)
        .map(|_| admitted(&server, "127.0.0.1", "a place leaked"))
        .collect();
    expect_refused(&refused_from(server.addr, "127.0.0.1"));
}

/// A connection from `from` that gets a 200, retrying while the server has not yet noticed
/// that earlier connections closed; fails with `why` if none does within [`PATIENCE`].
fn admitted(server: &TestServer, from: &str, why: &str) -> TcpStream {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (stream, resp) = exchange_from(server.addr, from);
        if resp.status == 200 {
            return stream;
        }
        assert_eq!(resp.status, 503, "{resp:?}");
        assert!(Instant::now() < deadline, "{why}:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn comes_back(server: &TestServer, from: &str, why: &str) {
    drop(admitted(server, from, why));
}
