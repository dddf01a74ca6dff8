//! The benchmark ceiling: a bare tiny_http server that answers every request with a fixed JSON
//! body, in the same shape as shipstar's HTTP layer (one listener with `TCP_NODELAY` and the
//! same backlog, a fixed pool of worker threads each looping on `recv`). Whatever shipstar
//! does per request beyond this costs throughput relative to it, so `benches/run.sh` reports
//! every scenario as a fraction of this server's figure measured in the same run.
//!
//! ```text
//! cargo build --release --example ceiling
//! ceiling 127.0.0.1:8081 [WORKERS]    # WORKERS defaults to CPU cores x 4, like shipstar
//! ```

use std::process::ExitCode;
use std::sync::Arc;

/// The body: the size and shape of shipstar's health answer.
const BODY: &[u8] = br#"{"database":"ok","status":"ok","version":"0.1.0"}"#;
/// Pending connections the kernel queues before `accept` (as shipstar).
const LISTEN_BACKLOG: i32 = 1024;

fn listen(addr: &str) -> Result<std::net::TcpListener, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    let address: std::net::SocketAddr = addr.parse().map_err(|err| format!("{addr}: {err}"))?;
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|err| err.to_string())?;
    socket
        .set_reuse_address(true)
        .map_err(|err| err.to_string())?;
    socket
        .set_tcp_nodelay(true)
        .map_err(|err| err.to_string())?;
    socket
        .bind(&address.into())
        .map_err(|err| err.to_string())?;
    socket
        .listen(LISTEN_BACKLOG)
        .map_err(|err| err.to_string())?;
    Ok(socket.into())
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
    let server = match listen(&addr).and_then(|listener| {
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
        .map(|_| {
            let server = Arc::clone(&server);
            let content_type = content_type.clone();
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    let response =
                        tiny_http::Response::from_data(BODY).with_header(content_type.clone());
                    let _ = request.respond(response);
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    ExitCode::SUCCESS
}
