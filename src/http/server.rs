//! The server: the accept thread, the event loops that serve connections, and the small pool
//! of threads for handlers that may block.
//!
//! The accept thread takes each new connection, checks it against the caps (`max_connections`,
//! and per client address `max_connections_per_ip` with a reserve for new addresses: see
//! `admission`), answers 503 and closes it when a cap refuses it, and otherwise hands it to
//! the event loop holding the fewest connections. From then on the connection lives on that
//! loop (`event_loop`), which reads its requests, runs the handler and writes the answers.
//!
//! Every answer gets `X-Request-Id`, `X-Content-Type-Options: nosniff` and `Server`, is
//! serialised into one buffer and sent with one write (more only when the socket takes part
//! of it), and is logged in one line. A handler that panics answers 500 and its thread lives
//! on.

use super::admission::{Admission, Caps, Refusal};
use super::connection::Exchange;
use super::event_loop::{self, Blocking, LoopHandle};
use super::listener::listen;
use super::wire;
use super::{Request, Response};
use crate::client_ip::TrustedProxies;
use crate::logging;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::wire::MAX_HEADER_BYTES;

/// The function that answers every request.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Where a request's handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dispatch {
    /// On the event loop that read it, at once: for work that is small and bounded (a few
    /// hundred microseconds at most), because the loop's other connections wait meanwhile.
    Inline,
    /// On the pool of `workers` threads, while the loop serves its other connections: for
    /// anything that may block (a password hash, SQLite's write lock) or whose work grows
    /// with the data (lists, feeds, rendered pages).
    Pool,
}

/// Says where a request runs. It runs on the event loop for every request, so it must be
/// cheap and must never block: a look at the method and path, no I/O.
pub type Classifier = fn(&Request) -> Dispatch;

/// What the server runs: the classifier that says where each request goes, and the handler
/// that answers it. The application supplies both, so the HTTP layer knows no routes.
#[derive(Clone)]
pub struct Service {
    /// Where each request runs.
    pub classify: Classifier,
    /// What answers it.
    pub handler: Handler,
}

impl Service {
    /// `handler`, with the requests of methods that change no state (`GET`, `HEAD`,
    /// `OPTIONS`) inline and all others on the pool: right only when every read is small.
    pub fn safe_methods_inline(handler: Handler) -> Service {
        Service {
            classify: safe_methods_inline,
            handler,
        }
    }
}

/// `GET`, `HEAD` and `OPTIONS` inline, every other method on the pool (see
/// [`Service::safe_methods_inline`]).
pub fn safe_methods_inline(request: &Request) -> Dispatch {
    match request.method.as_str() {
        "GET" | "HEAD" | "OPTIONS" => Dispatch::Inline,
        _ => Dispatch::Pool,
    }
}

/// How long `accept` waits before the accept loop looks at the shutdown flag again.
const ACCEPT_POLL: Duration = Duration::from_millis(100);
/// How long the accept loop pauses after `accept` failed for want of resources (file
/// descriptors, memory): the pending connections wait in the kernel's backlog meanwhile.
const ACCEPT_RETRY: Duration = Duration::from_millis(20);
/// Least time between two log lines about the same accept-side trouble.
const ACCEPT_WARN_INTERVAL: Duration = Duration::from_secs(10);
/// How long a connection over the cap may take to receive its 503.
const OVER_CAPACITY_WRITE_TIMEOUT: Duration = Duration::from_millis(50);
/// Longest accepted incoming `X-Request-Id`; longer ones are replaced.
const MAX_REQUEST_ID_CHARS: usize = 128;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Threads that may run the handler (>= 1): the event loops are `workers` capped at the
    /// number of CPU cores, and the pool for requests that may block has `workers` threads.
    pub workers: usize,
    /// Largest accepted request body in bytes; larger ones get 413 without being read.
    pub max_body_bytes: u64,
    /// Longest silence of an idle connection, and the time a request may take to arrive
    /// once begun; also bounds each write of an answer. The connection is closed after it.
    pub client_timeout: Duration,
    /// Most connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Most connections open at once from one client address (IPv6: per /64); more are
    /// answered 503 and closed. 0 means no cap.
    pub max_connections_per_ip: usize,
    /// Peers exempt from `max_connections_per_ip` and from the reserve for new addresses: a
    /// trusted proxy carries many clients.
    pub trusted_proxies: TrustedProxies,
}

/// A bound listening socket, not yet serving: connections wait in the kernel's backlog.
pub struct HttpServer {
    socket: TcpListener,
    local_addr: SocketAddr,
}

/// What the accept thread, the event loops and the blocking pool share.
pub(super) struct Shared {
    pub(super) options: ServerOptions,
    pub(super) handler: Handler,
    /// Where each request runs.
    pub(super) classify: Classifier,
    /// Connections open now, and who may open one more.
    pub(super) admission: Arc<Admission>,
    /// Connections in the middle of a request (from its first byte to its answer written).
    pub(super) busy: AtomicUsize,
    pub(super) shutdown: Arc<AtomicBool>,
}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port). The error says why binding failed.
    pub fn bind(addr: &str) -> Result<HttpServer, String> {
        let socket = listen(addr)?;
        let local_addr = socket.local_addr().map_err(|err| err.to_string())?;
        Ok(HttpServer { socket, local_addr })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` becomes true, then stops accepting, lets requests in flight
    /// finish (up to `grace`) and returns. Blocks the calling thread. Fails only when serving
    /// cannot start.
    pub fn run(
        self,
        options: &ServerOptions,
        service: Service,
        shutdown: Arc<AtomicBool>,
        grace: Duration,
    ) -> Result<(), String> {
        // SO_RCVTIMEO bounds `accept` too, so the loop below wakes to look at the flag.
        socket2::SockRef::from(&self.socket)
            .set_read_timeout(Some(ACCEPT_POLL))
            .map_err(|err| format!("cannot set the accept timeout: {err}"))?;
        let shared = Arc::new(Shared {
            options: options.clone(),
            handler: service.handler,
            classify: service.classify,
            admission: Admission::new(Caps {
                max_connections: options.max_connections,
                max_per_address: options.max_connections_per_ip,
                trusted_proxies: options.trusted_proxies.clone(),
            }),
            busy: AtomicUsize::new(0),
            shutdown,
        });
        let workers = options.workers.max(1);
        let blocking = Blocking::start(workers, &shared)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let loops = (0..workers.min(cores))
            .map(|index| event_loop::start(index, &shared, &blocking))
            .collect::<Result<Vec<_>, String>>()?;
        accept_loop(&self.socket, &shared, &loops);
        // Requests already begun are answered; idle connections are closed with the loops.
        let deadline = Instant::now() + grace;
        while shared.busy.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        for handle in &loops {
            handle.stop();
        }
        Ok(())
    }
}

/// Runs the handler, answering 500 when it panics.
pub(super) fn respond(handler: &Handler, request: &Request) -> Response {
    match catch_unwind(AssertUnwindSafe(|| handler(request))) {
        Ok(response) => response,
        Err(_) => {
            logging::event(
                logging::Level::Error,
                &format!("request {} panicked", request.request_id),
            );
            Response::detail(500, "Internal Server Error")
        }
    }
}

/// Gives a request its id: the client's `X-Request-Id` when it is sane, else a fresh one.
pub(super) fn assign_request_id(request: &mut Request) {
    request.request_id = request
        .header("x-request-id")
        .filter(|id| is_sane_request_id(id))
        .map(str::to_string)
        .unwrap_or_else(crate::ids::request_id);
}

/// Serialises `response` into `out` (appending) and logs the request's line.
pub(super) fn answer(
    out: &mut Vec<u8>,
    mut response: Response,
    request_id: &str,
    target: (&str, &str),
    exchange: Exchange,
    peer: SocketAddr,
) {
    let status = response.status;
    let principal = response.principal.take();
    let client_ip = response.client_ip;
    serialise(response, request_id, exchange, out);
    let (method, path) = target;
    logging::request(&logging::RequestLog {
        request_id,
        // The handler names the client behind a trusted proxy; a request refused before
        // it reached the handler is known only by its socket peer.
        client_ip: client_ip.unwrap_or(peer.ip()),
        method: if method.is_empty() { "-" } else { method },
        path: if path.is_empty() { "-" } else { path },
        status,
        duration_micros: exchange.started.elapsed().as_micros(),
        principal: principal.as_deref().unwrap_or("-"),
    });
}

/// The accept side's rate-limited warnings, one per kind of trouble.
#[derive(Default)]
struct Warnings {
    accept: Warning,
    thread: Warning,
    full: Warning,
    address_full: Warning,
    reserve: Warning,
}

fn accept_loop(socket: &TcpListener, shared: &Arc<Shared>, loops: &[LoopHandle]) {
    let mut warnings = Warnings::default();
    while !shared.shutdown.load(Ordering::SeqCst) {
        match socket.accept() {
            Ok((stream, peer)) => admit(stream, peer, shared, loops, &mut warnings),
            Err(err) => {
                use std::io::ErrorKind;
                if matches!(
                    err.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) {
                    continue;
                }
                // Out of descriptors or memory: wait for resources to come back. Anything
                // else (a connection reset before it was accepted) concerns one connection.
                if is_resource_exhaustion(&err) {
                    warnings
                        .accept
                        .log(&format!("cannot accept connections ({err}); retrying"));
                    std::thread::sleep(ACCEPT_RETRY);
                }
            }
        }
    }
}

/// Whether an `accept` error means the process or the system ran out of something that
/// comes back by itself (descriptors, buffers, memory), rather than a failure of one
/// connection.
fn is_resource_exhaustion(err: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        Errno::from_io_error(err),
        Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)
    )
}

/// Hands a new connection to the event loop holding the fewest, or answers 503 when a cap
/// refuses it.
fn admit(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    loops: &[LoopHandle],
    warnings: &mut Warnings,
) {
    let slot = match shared.admission.admit(peer.ip()) {
        Ok(slot) => slot,
        Err(refusal) => {
            warn_refused(refusal, peer, &shared.options, warnings);
            refuse_over_capacity(stream);
            return;
        }
    };
    let Some(target) = loops.iter().min_by_key(|handle| handle.load()) else {
        return;
    };
    if stream.set_nonblocking(true).is_err() {
        // The stream and the slot are dropped: the client sees a close and the place is free.
        return;
    }
    if !target.adopt(stream, peer, slot) {
        warnings
            .thread
            .log("an event loop is gone; closed a new connection");
    }
}

/// Logs (at most once per [`ACCEPT_WARN_INTERVAL`] for each kind) why a connection was
/// refused. The address is the socket peer: a per-address refusal happens before any request,
/// so there is no header to name anyone else, and a trusted proxy is never refused per address.
fn warn_refused(
    refusal: Refusal,
    peer: SocketAddr,
    options: &ServerOptions,
    warnings: &mut Warnings,
) {
    match refusal {
        Refusal::Full => warnings.full.log(&format!(
            "connection limit reached (max_connections = {}); answering 503",
            options.max_connections
        )),
        Refusal::AddressFull => warnings.address_full.log(&format!(
            "connection limit per address reached by {} (max_connections_per_ip = {}); answering 503",
            peer.ip(),
            options.max_connections_per_ip
        )),
        Refusal::ReserveOnly => warnings.reserve.log(&format!(
            "connection limit nearly reached (max_connections = {}): the last places are kept for \
             addresses holding few connections; answering 503 to {}",
            options.max_connections,
            peer.ip()
        )),
    }
}

/// Tells a connection refused by a cap to come back later, without waiting on it.
fn refuse_over_capacity(mut stream: TcpStream) {
    use std::io::Write;
    let response = Response::detail(503, "Too many connections").with_header("Retry-After", "1");
    let exchange = Exchange {
        minor_version: 1,
        head_only: false,
        keep_alive: false,
        started: Instant::now(),
        refused: false,
    };
    let mut out = Vec::new();
    serialise(response, &crate::ids::request_id(), exchange, &mut out);
    let _ = stream.set_write_timeout(Some(OVER_CAPACITY_WRITE_TIMEOUT));
    let _ = stream.write_all(&out);
}

/// A warning logged at most once per [`ACCEPT_WARN_INTERVAL`], so that a lasting condition
/// (no descriptors, the connection cap) cannot flood the log.
#[derive(Default)]
struct Warning {
    last: Option<Instant>,
}

impl Warning {
    fn log(&mut self, message: &str) {
        if self
            .last
            .is_none_or(|at| at.elapsed() >= ACCEPT_WARN_INTERVAL)
        {
            self.last = Some(Instant::now());
            logging::event(logging::Level::Warn, message);
        }
    }
}

/// Writes `response` with the headers every answer carries into `out`.
fn serialise(response: Response, request_id: &str, exchange: Exchange, out: &mut Vec<u8>) {
    let connection = match (exchange.keep_alive, exchange.minor_version) {
        (false, _) => Some("close"),
        (true, 0) => Some("keep-alive"),
        (true, _) => None,
    };
    let common = [
        ("X-Request-Id", request_id),
        ("X-Content-Type-Options", "nosniff"),
        ("Server", "shipstar"),
    ];
    let headers = response
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(common)
        .chain(connection.map(|value| ("Connection", value)));
    wire::write_response(
        out,
        exchange.minor_version,
        response.status,
        headers,
        &response.body,
        exchange.head_only,
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_waits_only_when_descriptors_buffers_or_memory_run_out() {
        use rustix::io::Errno;
        for errno in [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM] {
            assert!(is_resource_exhaustion(&errno.into()), "{errno:?}");
        }
        for errno in [
            Errno::CONNABORTED,
            Errno::CONNRESET,
            Errno::PROTO,
            Errno::PERM,
        ] {
            assert!(!is_resource_exhaustion(&errno.into()), "{errno:?}");
        }
        let no_errno = std::io::Error::other("not from the OS");
        assert!(!is_resource_exhaustion(&no_errno));
    }

    #[test]
    fn request_ids_with_odd_characters_are_not_echoed() {
        assert!(is_sane_request_id("abc-123_x.y:z"));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("a b"));
        assert!(!is_sane_request_id("a\r\nSet-Cookie: x"));
        assert!(!is_sane_request_id(&"a".repeat(129)));
    }
}
