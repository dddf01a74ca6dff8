//! The listening socket and the fixed pool of worker threads.
//!
//! Shape taken from tiny_http's own advice: one `Arc<tiny_http::Server>`, `workers` threads
//! each looping on `recv_timeout`, so they also notice the shutdown flag. A worker converts
//! the request, enforces the body limit before reading the body, runs the handler inside
//! `catch_unwind` (a panicking request answers 500 and the worker lives on), stamps the common
//! headers, writes the response and logs one line. While serving, the main thread also nudges
//! tiny_http's own connection pool ([`nudge_connection_pool`]) so that no new connection waits
//! behind idle keep-alive ones.

use super::{Request, Response};
use crate::logging;
use serde_json::json;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The function that answers every request.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// How long a worker waits for a request before it looks at the shutdown flag again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// After shutdown is signalled, a worker exits once no request has come for this long.
const DRAIN_IDLE: Duration = Duration::from_millis(500);
/// How long a nudge of tiny_http's connection pool may wait to connect.
const NUDGE_CONNECT_TIMEOUT: Duration = Duration::from_millis(50);
/// Longest accepted incoming `X-Request-Id`; longer ones are replaced.
const MAX_REQUEST_ID_CHARS: usize = 128;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Number of worker threads (>= 1).
    pub workers: usize,
    /// Largest accepted request body in bytes; larger ones get 413 without being read.
    pub max_body_bytes: u64,
}

/// Pending connections the kernel queues before `accept`.
const LISTEN_BACKLOG: i32 = 1024;

/// Binds a listening TCP socket with `TCP_NODELAY` set. Linux hands the option down to every
/// accepted connection, which matters because tiny_http writes a response through a 1 KiB
/// buffer: a larger response leaves in two segments, and with Nagle's algorithm the second
/// would wait for the client's delayed ACK (about 40 ms).
fn listen(addr: &str) -> Result<std::net::TcpListener, String> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::ToSocketAddrs;
    let address = addr
        .to_socket_addrs()
        .map_err(|err| format!("{addr}: {err}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
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

/// A bound listening socket, not yet serving.
pub struct HttpServer {
    inner: Arc<tiny_http::Server>,
    local_addr: SocketAddr,
}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port). The error says why binding failed.
    pub fn bind(addr: &str) -> Result<HttpServer, String> {
        let server =
            tiny_http::Server::from_listener(listen(addr)?, None).map_err(|err| err.to_string())?;
        let local_addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| String::from("the listener has no IP address"))?;
        Ok(HttpServer {
            inner: Arc::new(server),
            local_addr,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` becomes true, then lets requests in flight finish (up to
    /// `grace`) and returns. Blocks the calling thread.
    pub fn run(
        self,
        options: &ServerOptions,
        handler: Handler,
        shutdown: Arc<AtomicBool>,
        grace: Duration,
    ) {
        let workers: Vec<JoinHandle<()>> = (0..options.workers.max(1))
            .filter_map(|index| {
                let server = Arc::clone(&self.inner);
                let handler = Arc::clone(&handler);
                let shutdown = Arc::clone(&shutdown);
                let max_body = options.max_body_bytes;
                std::thread::Builder::new()
                    .name(format!("http-worker-{index}"))
                    .spawn(move || worker_loop(&server, &handler, &shutdown, max_body))
                    .map_err(|err| {
                        logging::event(
                            logging::Level::Error,
                            &format!("could not start worker {index}: {err}"),
                        )
                    })
                    .ok()
            })
            .collect();
        while !shutdown.load(Ordering::SeqCst) {
            std::thread::sleep(POLL_INTERVAL);
            nudge_connection_pool(self.local_addr);
        }
        let deadline = Instant::now() + grace;
        for worker in workers {
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if worker.is_finished() {
                let _ = worker.join();
            }
        }
    }
}

/// Opens and at once closes a connection to our own listener.
///
/// tiny_http 0.12 serves each connection on a thread of an internal pool, and that pool can
/// lose a wake-up: when connections arrive close together, `spawn` counts a thread that was
/// already woken for the previous connection as still free, queues the new connection and
/// signals nobody. The queued connection then waits until some pool thread finishes its
/// current connection, which for a browser's idle keep-alive connection may be never: the
/// page hangs. An empty connection is a task that ends at once, and the thread that runs it
/// goes on to the queued ones, so one nudge per poll interval bounds that wait.
fn nudge_connection_pool(listening: SocketAddr) {
    let target = match listening.ip() {
        ip if !ip.is_unspecified() => listening,
        IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::LOCALHOST, listening.port())),
        IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::LOCALHOST, listening.port())),
    };
    // Failure (a full backlog, out of descriptors) only skips this nudge.
    let _ = std::net::TcpStream::connect_timeout(&target, NUDGE_CONNECT_TIMEOUT);
}

fn worker_loop(
    server: &tiny_http::Server,
    handler: &Handler,
    shutdown: &AtomicBool,
    max_body_bytes: u64,
) {
    let mut idle_since: Option<Instant> = None;
    loop {
        let stopping = shutdown.load(Ordering::SeqCst);
        // Once stopping, keep answering what is already queued or still arriving (a request
        // whose body was being uploaded at the signal) until the queue stays empty for a while.
        if stopping && idle_since.is_some_and(|since| since.elapsed() >= DRAIN_IDLE) {
            return;
        }
        match server.recv_timeout(POLL_INTERVAL) {
            Ok(Some(request)) => {
                idle_since = None;
                serve_one(request, handler, max_body_bytes);
            }
            Ok(None) => {
                if stopping && idle_since.is_none() {
                    idle_since = Some(Instant::now());
                }
            }
            Err(err) => {
                logging::event(logging::Level::Error, &format!("accept failed: {err}"));
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

fn serve_one(mut raw: tiny_http::Request, handler: &Handler, max_body_bytes: u64) {
    let started = Instant::now();
    let mut request = convert(&raw);
    let response = match read_body(&mut raw, &request, max_body_bytes) {
        Ok(body) => {
            request.body = body;
            match catch_unwind(AssertUnwindSafe(|| handler(&request))) {
                Ok(response) => response,
                Err(_) => {
                    logging::event(
                        logging::Level::Error,
                        &format!("request {} panicked", request.request_id),
                    );
                    detail_response(500, "Internal Server Error")
                }
            }
        }
        Err(response) => response,
    };
    let status = response.status;
    let principal = response.principal.clone();
    write(raw, response, &request.request_id);
    logging::request(&logging::RequestLog {
        request_id: &request.request_id,
        client_ip: request
            .peer
            .map(|ip| ip.to_string())
            .unwrap_or_else(|| "-".into()),
        method: &request.method,
        path: &request.path,
        status,
        duration_micros: started.elapsed().as_micros(),
        principal: principal.as_deref().unwrap_or("-"),
    });
}

fn convert(raw: &tiny_http::Request) -> Request {
    let headers: Vec<(String, String)> = raw
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let target = raw.url();
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, query),
        None => (target, ""),
    };
    let incoming_id = headers
        .iter()
        .find(|(name, _)| name == "x-request-id")
        .map(|(_, value)| value.as_str())
        .filter(|id| is_sane_request_id(id));
    Request {
        method: raw.method().as_str().to_ascii_uppercase(),
        path: path.to_string(),
        query: query.to_string(),
        request_id: incoming_id
            .map(str::to_string)
            .unwrap_or_else(|| crate::ids::random_hex(16)),
        headers,
        body: Vec::new(),
        peer: raw.remote_addr().map(|addr| addr.ip()),
    }
}

/// An incoming request id is echoed only when it is short and made of safe characters, so it
/// cannot inject anything into headers or log lines.
fn is_sane_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_CHARS
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Reads the body, refusing with 413 before reading when the declared length is too large,
/// and after `max + 1` bytes when the length was not declared (chunked).
fn read_body(
    raw: &mut tiny_http::Request,
    request: &Request,
    max_body_bytes: u64,
) -> Result<Vec<u8>, Response> {
    if let Some(declared) = raw.body_length() {
        if declared as u64 > max_body_bytes {
            return Err(detail_response(413, "Request body too large"));
        }
    }
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if raw.body_length().is_none() && !chunked {
        return Ok(Vec::new());
    }
    let mut body = Vec::with_capacity(raw.body_length().unwrap_or(0).min(64 * 1024));
    match raw
        .as_reader()
        .take(max_body_bytes.saturating_add(1))
        .read_to_end(&mut body)
    {
        Ok(_) if body.len() as u64 > max_body_bytes => {
            Err(detail_response(413, "Request body too large"))
        }
        Ok(_) => Ok(body),
        Err(_) => Err(detail_response(400, "The request body could not be read")),
    }
}

fn detail_response(status: u16, detail: &str) -> Response {
    Response::json(status, &json!({ "detail": detail }))
}

fn write(raw: tiny_http::Request, response: Response, request_id: &str) {
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(response.status);
    let common = [
        ("X-Request-Id", request_id),
        ("X-Content-Type-Options", "nosniff"),
        ("Server", "shipstar"),
    ];
    let headers = response
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(common);
    for (name, value) in headers {
        // A header that cannot be represented (non-ASCII) is dropped rather than sent broken;
        // every header we build is ASCII, so this only guards against future mistakes.
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(header);
        }
    }
    let _ = raw.respond(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_with_odd_characters_are_not_echoed() {
        assert!(is_sane_request_id("abc-123_x.y:z"));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("a b"));
        assert!(!is_sane_request_id("a\r\nSet-Cookie: x"));
        assert!(!is_sane_request_id(&"a".repeat(129)));
    }
}
