//! The benchmark ceiling: a bare hyper 1.x HTTP/1.1 server on tokio's multi-threaded runtime
//! (one worker thread per core), answering every request with the 49-byte JSON body of
//! shipstar's health answer. It does nothing else per request, so it stands for the cost of
//! one HTTP exchange on this machine with the fastest widely used Rust stack; `benches/run.sh`
//! reports shipstar's figures as fractions of it, measured in the same run.
//!
//! ```text
//! cargo build --release --example hyper_ceiling
//! hyper_ceiling 127.0.0.1:8082
//! ```

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::process::ExitCode;

/// The body: the size and shape of shipstar's health answer.
const BODY: &[u8] = br#"{"database":"ok","status":"ok","version":"0.1.0"}"#;

async fn answer(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn main() -> ExitCode {
    let Some(addr) = std::env::args().nth(1) else {
        eprintln!("usage: hyper_ceiling ADDR");
        return ExitCode::from(2);
    };
    // shipstar's own listening socket (TCP_NODELAY, the same backlog), so the two compare fairly.
    let listener = match shipstar::http::listen(&addr) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {addr}: {err}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start tokio: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        if listener.set_nonblocking(true).is_err() {
            return ExitCode::FAILURE;
        }
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return ExitCode::FAILURE;
        };
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    })
}
