//! The server: the accept loop, a thread per connection, and the fixed pool of workers that
//! run the handler.
//!
//! Reading requests and writing answers is client I/O, which can be slow or hostile, so it
//! happens on the connection's own thread (see `connection`); the workers only ever run the
//! handler, so a client that stalls can hold its connection's thread but never a worker, and
//! the number of requests handled at once stays at `workers` whatever the number of
//! connections. Connections are capped at `max_connections`, and per client address at
//! `max_connections_per_ip` with a reserve for new addresses (see `admission`): a connection
//! beyond a cap gets a 503 and is closed at once.
//!
//! Every answer gets `X-Request-Id`, `X-Content-Type-Options: nosniff` and `Server`, is
//! serialised into one buffer and sent with one write, and is logged in one line. A handler
//! that panics answers 500 and its worker lives on.

use super::admission::{Admission, Caps, Refusal, Slot};
use super::connection::{Connection, Exchange, Incoming};
use super::listener::listen;
use super::wire;
use super::{Request, Response};
use crate::client_ip::TrustedProxies;
use crate::logging;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

pub use super::wire::MAX_HEADER_BYTES;

/// The function that answers every request.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// How long `accept` waits before the accept loop looks at the shutdown flag again.
const ACCEPT_POLL: Duration = Duration::from_millis(100);
/// How long the accept loop pauses after `accept` failed for want of resources (file
/// descriptors, memory): the pending connections wait in the kernel's backlog meanwhile.
const ACCEPT_RETRY: Duration = Duration::from_millis(20);
/// Least time between two log lines about the same accept-side trouble.
const ACCEPT_WARN_INTERVAL: Duration = Duration::from_secs(10);
/// Stack of a connection thread: it parses and serialises, the handler runs on a worker.
const CONNECTION_STACK_BYTES: usize = 256 * 1024;
/// How long a connection over the cap may take to receive its 503.
const OVER_CAPACITY_WRITE_TIMEOUT: Duration = Duration::from_millis(50);
/// Longest accepted incoming `X-Request-Id`; longer ones are replaced.
const MAX_REQUEST_ID_CHARS: usize = 128;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Number of worker threads running the handler (>= 1).
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

/// A request for a worker, and where its answer goes.
struct Job {
    request: Request,
    /// Takes the request back with its answer.
    reply: SyncSender<(Request, Response)>,
}

/// What the accept loop and every connection thread share.
struct Shared {
    options: ServerOptions,
    jobs: Sender<Job>,
    /// Connections open now, and who may open one more.
    admission: Arc<Admission>,
    /// Connections in the middle of a request (from its first byte to its answer written).
    busy: AtomicUsize,
    shutdown: Arc<AtomicBool>,
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
        handler: Handler,
        shutdown: Arc<AtomicBool>,
        grace: Duration,
    ) -> Result<(), String> {
        // SO_RCVTIMEO bounds `accept` too, so the loop below wakes to look at the flag.
        socket2::SockRef::from(&self.socket)
            .set_read_timeout(Some(ACCEPT_POLL))
            .map_err(|err| format!("cannot set the accept timeout: {err}"))?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..options.workers.max(1) {
            let queue = Arc::clone(&queue);
            let handler = Arc::clone(&handler);
            std::thread::Builder::new()
                .name(format!("http-worker-{index}"))
                .spawn(move || worker_loop(&queue, &handler))
                .map_err(|err| format!("cannot start a worker thread: {err}"))?;
        }
        let shared = Arc::new(Shared {
            options: options.clone(),
            jobs,
            admission: Admission::new(Caps {
                max_connections: options.max_connections,
                max_per_address: options.max_connections_per_ip,
                trusted_proxies: options.trusted_proxies.clone(),
            }),
            busy: AtomicUsize::new(0),
            shutdown,
        });
        accept_loop(&self.socket, &shared);
        // Requests already begun are answered; idle connections are left to close with the
        // process.
        let deadline = Instant::now() + grace;
        while shared.busy.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

/// Takes jobs off the queue and answers them until the queue closes.
fn worker_loop(queue: &Mutex<Receiver<Job>>, handler: &Handler) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Job { request, reply }) = job else {
            return;
        };
        let response = match catch_unwind(AssertUnwindSafe(|| handler(&request))) {
            Ok(response) => response,
            Err(_) => {
                logging::event(
                    logging::Level::Error,
                    &format!("request {} panicked", request.request_id),
                );
                Response::detail(500, "Internal Server Error")
            }
        };
        // The connection may be gone; its answer then has nowhere to go.
        let _ = reply.send((request, response));
    }
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

fn accept_loop(socket: &TcpListener, shared: &Arc<Shared>) {
    let mut warnings = Warnings::default();
    while !shared.shutdown.load(Ordering::SeqCst) {
        match socket.accept() {
            Ok((stream, peer)) => admit(stream, peer, shared, &mut warnings),
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

/// Starts a thread for a new connection, or answers 503 when a cap refuses it.
fn admit(stream: TcpStream, peer: SocketAddr, shared: &Arc<Shared>, warnings: &mut Warnings) {
    let slot = match shared.admission.admit(peer.ip()) {
        Ok(slot) => slot,
        Err(refusal) => {
            warn_refused(refusal, peer, &shared.options, warnings);
            refuse_over_capacity(stream);
            return;
        }
    };
    let for_thread = Arc::clone(shared);
    let started = std::thread::Builder::new()
        .name("http-connection".into())
        .stack_size(CONNECTION_STACK_BYTES)
        .spawn(move || {
            // Held for the connection's life; dropped however the thread ends, a panic
            // included, so the place is always given back.
            let _slot: Slot = slot;
            serve_connection(stream, peer, &for_thread);
        });
    if started.is_err() {
        // The stream and the slot were moved into the closure and dropped with it: the client
        // sees a close and the place is free again.
        warnings
            .thread
            .log("cannot start a thread for a new connection; closed it");
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

/// Counts a connection as busy while it lives.
struct Busy<'a>(&'a AtomicUsize);

impl<'a> Busy<'a> {
    fn start(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Busy(counter)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves the requests of one connection until it closes, the client asks to close, or the
/// server shuts down.
fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let options = &shared.options;
    let Ok(mut connection) = Connection::new(
        stream,
        Some(peer.ip()),
        options.client_timeout,
        options.max_body_bytes,
    ) else {
        return;
    };
    let (reply, answers) = mpsc::sync_channel(1);
    let mut out = Vec::with_capacity(4096);
    loop {
        let mut busy = None;
        let incoming = connection.next_request(&mut || busy = Some(Busy::start(&shared.busy)));
        let (request_id, method, path, response, mut exchange) = match incoming {
            Incoming::Closed => return,
            Incoming::Refused(response, exchange, target) => {
                let (method, path) = target.unwrap_or_default();
                let id = crate::ids::request_id();
                (id, method, path, response, exchange)
            }
            Incoming::Request(mut request, exchange) => {
                request.request_id = request
                    .header("x-request-id")
                    .filter(|id| is_sane_request_id(id))
                    .map(str::to_string)
                    .unwrap_or_else(crate::ids::request_id);
                match handle(*request, shared, &reply, &answers) {
                    Ok((request, response)) => (
                        request.request_id,
                        request.method,
                        request.path,
                        response,
                        exchange,
                    ),
                    Err(request_id) => (
                        request_id,
                        String::new(),
                        String::new(),
                        Response::detail(503, "Service Unavailable"),
                        exchange,
                    ),
                }
            }
        };
        exchange.keep_alive &= !shared.shutdown.load(Ordering::SeqCst);
        let written = answer(&mut connection, &mut out, response, &request_id, exchange);
        logging::request(&logging::RequestLog {
            request_id: &request_id,
            // The handler names the client behind a trusted proxy; a request refused before
            // it reached the handler is known only by its socket peer.
            client_ip: written.client_ip.unwrap_or(peer.ip()).to_string(),
            method: if method.is_empty() { "-" } else { &method },
            path: if path.is_empty() { "-" } else { &path },
            status: written.status,
            duration_micros: exchange.started.elapsed().as_micros(),
            principal: written.principal.as_deref().unwrap_or("-"),
        });
        drop(busy);
        if !written.sent || !exchange.keep_alive {
            // A refused request may have left input unread (see `linger_and_close`).
            if exchange.refused {
                connection.linger_and_close();
            }
            return;
        }
    }
}

/// Hands the request to a worker and waits for its answer. When no worker can take it, the
/// error is the request's id.
fn handle(
    request: Request,
    shared: &Shared,
    reply: &SyncSender<(Request, Response)>,
    answers: &Receiver<(Request, Response)>,
) -> Result<(Request, Response), String> {
    let job = Job {
        request,
        reply: reply.clone(),
    };
    if let Err(mpsc::SendError(job)) = shared.jobs.send(job) {
        return Err(job.request.request_id);
    }
    // Every worker answers each job it takes, even when the handler panics.
    answers.recv().map_err(|_| String::from("-"))
}

/// What sending an answer did.
struct Written {
    status: u16,
    principal: Option<String>,
    client_ip: Option<std::net::IpAddr>,
    /// The answer reached the socket.
    sent: bool,
}

/// Serialises and sends `response`.
fn answer(
    connection: &mut Connection,
    out: &mut Vec<u8>,
    mut response: Response,
    request_id: &str,
    exchange: Exchange,
) -> Written {
    let status = response.status;
    let principal = response.principal.take();
    let client_ip = response.client_ip;
    out.clear();
    serialise(response, request_id, exchange, out);
    Written {
        status,
        principal,
        client_ip,
        sent: connection.write(out).is_ok(),
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
