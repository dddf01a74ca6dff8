//! The benchmark ceiling: a bare tiny_http server that answers every request with a fixed JSON
//! body (one listener bound by shipstar's own `listen`, so with `TCP_NODELAY` and the same
//! backlog, and as many worker threads as shipstar, each looping on `recv`). Whatever shipstar
//! does per request beyond this costs throughput relative to it, so `benches/run.sh` reports
//! every scenario as a fraction of this server's figure measured in the same run.
//!
//! ```text
//! cargo build --release --example ceiling
//! ceiling 127.0.0.1:8081 [WORKERS]    # WORKERS defaults to CPU cores x 4, like shipstar
//! ```
//!
//! `GET /?bytes=N` answers a JSON body of exactly N bytes instead (at most 1 MiB), so that a
//! scenario with a larger answer can be compared with a ceiling of the same size on the wire.
//!
//! It connects to itself 4 times every 10 ms: tiny_http 0.12's connection pool can leave a
//! connection that arrives in a burst queued behind long-lived keep-alive connections, and
//! each such empty connection lets one queued connection through. Without it the ceiling
//! could serve only a few of wrk's connections (see docs/BENCHMARKS.md).

use std::process::ExitCode;
use std::sync::Arc;

/// The body: the size and shape of shipstar's health answer.
const BODY: &[u8] = br#"{"database":"ok","status":"ok","version":"0.1.0"}"#;
/// How often the server connects to itself to unstick tiny_http's connection pool.
const NUDGE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);
/// Nudges per interval, as shipstar sends while busy (the ceiling is always busy).
const NUDGES_PER_TICK: usize = 4;
/// The largest body `?bytes=N` may ask for.
const MAX_SIZED_BODY: usize = 1024 * 1024;

/// The body for a request target: `BODY`, or `{"pad":"xx…"}` of exactly N bytes for
/// `?bytes=N` (N at least the 10 bytes of the empty object).
fn body_for(target: &str) -> Vec<u8> {
    let wanted = target
        .split_once("?bytes=")
        .and_then(|(_, n)| n.parse::<usize>().ok())
        .filter(|n| (10..=MAX_SIZED_BODY).contains(n));
    match wanted {
        None => BODY.to_vec(),
        Some(n) => {
            let mut body = Vec::with_capacity(n);
            body.extend_from_slice(br#"{"pad":""#);
            body.resize(n - 2, b'x');
            body.extend_from_slice(br#""}"#);
            body
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else {
        eprintln!("usage: ceiling ADDR [WORKERS]");
        return ExitCode::from(2);
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = match args.next().map(|text| text.parse::<usize>()) {
        None => cores * 4,
        Some(Ok(n)) if n >= 1 => n,
        Some(_) => {
            eprintln!("WORKERS must be a positive number");
            return ExitCode::from(2);
        }
    };
    // shipstar's own listening socket (TCP_NODELAY, the same backlog), so the two compare fairly.
    let server = match shipstar::http::listen(&addr).and_then(|listener| {
        tiny_http::Server::from_listener(listener, None).map_err(|e| e.to_string())
    }) {
        Ok(server) => Arc::new(server),
        Err(err) => {
            eprintln!("cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let content_type = tiny_http::Header::from_bytes("Content-Type", "application/json")
        .expect("a constant ASCII header is valid");
    let threads: Vec<_> = (0..workers)
        .filter_map(|index| {
            let server = Arc::clone(&server);
            let content_type = content_type.clone();
            // Named, so that benches/run.sh can tell them from tiny_http's connection threads.
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{index}"))
                .spawn(move || {
                    while let Ok(request) = server.recv() {
                        let response = tiny_http::Response::from_data(body_for(request.url()))
                            .with_header(content_type.clone());
                        let _ = request.respond(response);
                    }
                });
            if let Err(err) = &spawned {
                eprintln!("cannot start worker {index}: {err}");
            }
            spawned.ok()
        })
        .collect();
    let Some(own_address) = server.server_addr().to_ip() else {
        eprintln!("the listener has no IP address");
        return ExitCode::FAILURE;
    };
    // Runs until the process is killed; a failed connect only skips one nudge.
    while threads.iter().any(|thread| !thread.is_finished()) {
        std::thread::sleep(NUDGE_INTERVAL);
        for _ in 0..NUDGES_PER_TICK {
            let _ = std::net::TcpStream::connect_timeout(&own_address, NUDGE_INTERVAL * 5);
        }
    }
    for thread in threads {
        let _ = thread.join();
    }
    ExitCode::SUCCESS
}
