//! Connections held open by clients (browsers keep several idle keep-alive connections per
//! site) never keep a new connection from being served.

use crate::fixture::*;
use std::io::{BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Opens a few idle connections, then asks on a new one; repeated, because a stall of this
/// kind (a lost wake-up in a connection pool) needs two connections to arrive close together.
#[test]
fn a_new_connection_is_answered_while_others_sit_idle() {
    // Client timeouts long enough that no timeout can be what frees a stuck connection
    // within the hang guard below.
    let server =
        TestServer::start_with(Options::default().env("SHIPSTAR_CLIENT_TIMEOUT_SECONDS", "600"));
    for round in 0..40 {
        let idle: Vec<TcpStream> = (0..(round % 12 + 1))
            .map(|_| TcpStream::connect(server.addr).expect("connect"))
            .collect();
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        // A hang guard, not a timing assertion: an unanswered request blocks for good.
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
            .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let resp = read_response(&mut BufReader::new(stream)).unwrap_or_else(|err| {
            panic!(
                "round {round}: no answer with {} idle connections: {err}",
                idle.len()
            )
        });
        assert_eq!(resp.status, 200, "round {round}");
        drop(idle);
    }
}
