//! The fixed pool of worker threads.
//!
//! Shape taken from tiny_http's own advice: `workers` threads share the tiny_http server,
//! each looping on `recv_timeout`, so they also notice the shutdown flag. A worker converts
//! the request, refuses an oversized header section (431) and enforces the body limit before
//! reading the body, runs the handler inside `catch_unwind` (a panicking request answers 500
//! and the worker lives on), stamps the common headers, writes the response and logs one line.
//!
//! The socket, its client timeouts and the restart of tiny_http's accept loop are in
//! `listener`: a worker picks up the new server when the generation changes, and a drain
//! thread answers what still arrives on a retired one. While serving, the main thread also
//! nudges tiny_http's own connection pool ([`nudge_connection_pool`]) so that no new
//! connection waits behind idle keep-alive ones.

use super::listener::{listen, Acceptor};
use super::{Request, Response};
use crate::logging;
use serde_json::json;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The function that answers every request.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// How long a worker waits for a request before it looks at the shutdown flag again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// After shutdown is signalled, a worker exits once no request has come for this long.
const DRAIN_IDLE: Duration = Duration::from_millis(500);
/// Largest accepted header section (request line and header fields), in bytes. Room for the
/// longest valid session token (8 KiB) with everything a browser adds; nginx allows 32 KiB too.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How often the connection pool is nudged while requests are arriving: each nudge frees at
/// most one connection stuck in tiny_http's pool queue, so this bounds how long a burst of new
/// connections can wait (N stuck connections clear in N nudges). An idle server is nudged
/// every [`POLL_INTERVAL`].
const BUSY_NUDGE_INTERVAL: Duration = Duration::from_millis(10);
/// Nudges per busy tick: a burst of new connections (a browser opening a page, a load
/// balancer reconnecting) clears this many times faster, for a few hundred connections a
/// second of overhead while busy.
const BUSY_NUDGES_PER_TICK: usize = 4;
/// How long a nudge waits to connect.
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
    /// Longest silence of a client: mid-request, while taking its response, or between
    /// requests on a keep-alive connection. The connection is closed after it.
    pub client_timeout: Duration,
}

/// A bound listening socket, not yet serving: connections wait in the kernel's backlog.
pub struct HttpServer {
    socket: TcpListener,
    local_addr: SocketAddr,
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

    /// Serves until `shutdown` becomes true, then lets requests in flight finish (up to
    /// `grace`) and returns. Blocks the calling thread. Fails only when serving cannot start.
    pub fn run(
        self,
        options: &ServerOptions,
        handler: Handler,
        shutdown: Arc<AtomicBool>,
        grace: Duration,
    ) -> Result<(), String> {
        let (acceptor, reports) = Acceptor::start(self.socket, options.client_timeout)?;
        let acceptor = Arc::new(acceptor);
        let config = Arc::new(WorkerConfig {
            acceptor: Arc::clone(&acceptor),
            ready: ReadyQueue::default(),
            handler,
            max_body_bytes: options.max_body_bytes,
            // Every connection of a retired server is closed by its own timeout once silent
            // for `client_timeout`, so twice that without a request means it has none left.
            drain_idle: options.client_timeout * 2 + POLL_INTERVAL,
            shutdown,
            active: AtomicBool::new(false),
        });
        let mut threads: Vec<JoinHandle<()>> = (0..options.workers.max(1))
            .filter_map(|index| {
                let acceptor = Arc::clone(&acceptor);
                let config = Arc::clone(&config);
                spawn(format!("http-worker-{index}"), move || {
                    worker_loop(&acceptor, &config)
                })
            })
            .collect();
        let drains: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        {
            let acceptor = Arc::clone(&acceptor);
            let config = Arc::clone(&config);
            let drains = Arc::clone(&drains);
            let supervisor = spawn("http-acceptor".into(), move || {
                let retire = |old: Arc<tiny_http::Server>| {
                    let config = Arc::clone(&config);
                    if let Some(handle) =
                        spawn("http-drain".into(), move || drain_loop(&old, &config))
                    {
                        let mut drains = drains.lock().unwrap_or_else(PoisonError::into_inner);
                        drains.retain(|handle| !handle.is_finished());
                        drains.push(handle);
                    }
                };
                acceptor.supervise(&reports, &config.shutdown, &retire)
            });
            threads.extend(supervisor);
        }
        while !config.shutdown.load(Ordering::SeqCst) {
            // Quick nudges for a while after any request (new connections come in bursts
            // with traffic); slow ones on an idle server, which costs next to nothing.
            let busy = config.active.swap(false, Ordering::Relaxed);
            let (interval, nudges) = if busy {
                (
                    BUSY_NUDGE_INTERVAL,
                    POLL_INTERVAL.as_millis() / BUSY_NUDGE_INTERVAL.as_millis(),
                )
            } else {
                (POLL_INTERVAL, 1)
            };
            let per_tick = if busy { BUSY_NUDGES_PER_TICK } else { 1 };
            for _ in 0..nudges {
                std::thread::sleep(interval);
                for _ in 0..per_tick {
                    nudge_connection_pool(self.local_addr);
                }
            }
        }
        threads.append(&mut drains.lock().unwrap_or_else(PoisonError::into_inner));
        let deadline = Instant::now() + grace;
        for thread in threads {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        Ok(())
    }
}

/// What every thread that answers requests needs.
struct WorkerConfig {
    acceptor: Arc<Acceptor>,
    ready: ReadyQueue,
    handler: Handler,
    max_body_bytes: u64,
    /// A drain thread stops after its retired server has delivered nothing for this long.
    drain_idle: Duration,
    shutdown: Arc<AtomicBool>,
    /// Set whenever a request arrives; the serving loop reads and clears it to nudge the
    /// connection pool often only while clients are active.
    active: AtomicBool,
}

/// A request whose body a body thread has read, waiting for a worker.
struct Ready {
    raw: tiny_http::Request,
    request: Request,
    started: Instant,
}

/// Requests read by body threads, answered by the workers before they take new ones.
#[derive(Default)]
struct ReadyQueue {
    queue: Mutex<VecDeque<Ready>>,
    /// Mirrors the queue's length, so workers look at it without taking the lock.
    len: AtomicUsize,
}

impl ReadyQueue {
    fn push(&self, ready: Ready) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.push_back(ready);
        self.len.store(queue.len(), Ordering::Release);
    }

    fn pop(&self) -> Option<Ready> {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let ready = queue.pop_front();
        self.len.store(queue.len(), Ordering::Release);
        ready
    }
}

/// Starts a named thread; a failure is logged and the thread left out.
fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(body)
        .map_err(|err| {
            logging::event(
                logging::Level::Error,
                &format!("could not start thread {name}: {err}"),
            )
        })
        .ok()
}

/// Opens and at once closes a connection to our own listener.
///
/// tiny_http 0.12 serves each connection on a thread of an internal pool, and that pool can
/// lose a wake-up: when connections arrive close together, `spawn` counts a thread that was
/// already woken for the previous connection as still free, queues the new connection and
/// signals nobody. The queued connection then waits until some pool thread finishes its
/// current connection, which for a browser's idle keep-alive connection may be never (or, with
/// client timeouts, until the next visit of the accept loop): the page hangs. An empty
/// connection is a task that ends at once, and the thread that runs it goes on to the queued
/// ones, so one nudge per poll interval bounds that wait.
fn nudge_connection_pool(listening: SocketAddr) {
    let target = match listening.ip() {
        ip if !ip.is_unspecified() => listening,
        IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::LOCALHOST, listening.port())),
        IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::LOCALHOST, listening.port())),
    };
    // Failure (a full backlog, out of descriptors) only skips this nudge.
    let _ = std::net::TcpStream::connect_timeout(&target, NUDGE_CONNECT_TIMEOUT);
}

fn worker_loop(acceptor: &Acceptor, config: &Arc<WorkerConfig>) {
    let (mut generation, mut server) = acceptor.current();
    let mut idle_since: Option<Instant> = None;
    loop {
        let stopping = config.shutdown.load(Ordering::SeqCst);
        // Once stopping, keep answering what is already queued or still arriving (a request
        // whose body was being uploaded at the signal) until the queue stays empty for a while.
        if stopping && idle_since.is_some_and(|since| since.elapsed() >= DRAIN_IDLE) {
            return;
        }
        if acceptor.generation() != generation {
            (generation, server) = acceptor.current();
        }
        if let Some(ready) = config.ready.pop() {
            idle_since = None;
            answer(ready, config);
            continue;
        }
        match server.recv_timeout(POLL_INTERVAL) {
            Ok(Some(request)) => {
                idle_since = None;
                dispatch(request, config);
            }
            Ok(None) => {
                if stopping && idle_since.is_none() {
                    idle_since = Some(Instant::now());
                }
            }
            Err(err) => {
                // tiny_http hands out one error, when its accept loop has ended.
                logging::event(
                    logging::Level::Error,
                    &format!("the accept loop stopped ({err}); starting a new one"),
                );
                acceptor.report_ended(generation);
                std::thread::sleep(POLL_INTERVAL);
            }
        }
    }
}

/// Answers the requests of a retired server's connections until none has come for a while.
fn drain_loop(server: &tiny_http::Server, config: &Arc<WorkerConfig>) {
    let mut last_request = Instant::now();
    while last_request.elapsed() < config.drain_idle {
        match server.recv_timeout(POLL_INTERVAL) {
            Ok(Some(request)) => {
                last_request = Instant::now();
                dispatch(request, config);
            }
            Ok(None) | Err(_) => {
                if config.shutdown.load(Ordering::SeqCst) {
                    return;
                }
            }
        }
    }
}

/// Answers one request. A request whose body tiny_http has not read yet goes to a thread of
/// its own first (see [`needs_client_io`]), so a client that stalls mid-body holds that thread
/// and never a worker.
fn dispatch(raw: tiny_http::Request, config: &Arc<WorkerConfig>) {
    config.active.store(true, Ordering::Relaxed);
    if needs_client_io(&raw) {
        // The request goes over a channel, not into the closure, so that it comes back if
        // no thread can be started; then the body is read here rather than not at all.
        let for_thread = Arc::clone(config);
        let (sender, handed) = std::sync::mpsc::channel();
        let _ = spawn("http-body".into(), move || {
            if let Ok(raw) = handed.recv() {
                read_then_queue(raw, &for_thread)
            }
        });
        if let Err(std::sync::mpsc::SendError(raw)) = sender.send(raw) {
            serve_one(raw, config);
        }
        return;
    }
    serve_one(raw, config);
}

/// Whether reading this request's body may wait on the client. tiny_http reads a body of at
/// most 1024 declared bytes before it queues the request, unless the client expects
/// `100 Continue`; any other body (chunked, longer) is read from the socket on demand.
fn needs_client_io(raw: &tiny_http::Request) -> bool {
    let has_header = |name: &str| {
        raw.headers()
            .iter()
            .any(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
    };
    if has_header("Transfer-Encoding") {
        return true;
    }
    match raw.body_length() {
        None | Some(0) => false,
        Some(length) => length > 1024 || has_header("Expect"),
    }
}

/// On a body thread: reads the body, then queues the request for a worker; a request refused
/// before its handler (408, 413, 431, 400) is answered right here.
fn read_then_queue(mut raw: tiny_http::Request, config: &WorkerConfig) {
    let started = Instant::now();
    match prepare(&mut raw, config.max_body_bytes) {
        (request, None) => {
            config.ready.push(Ready {
                raw,
                request,
                started,
            });
            // Wakes one worker waiting on tiny_http's queue, which then looks at ours.
            config.acceptor.current().1.unblock();
        }
        (request, Some(refusal)) => finish(raw, &request, refusal, started),
    }
}

/// Converts the request, refuses an oversized header section, reads the body. The response
/// is the refusal (431, 413, 408, 400), in which case the handler must not run.
fn prepare(raw: &mut tiny_http::Request, max_body_bytes: u64) -> (Request, Option<Response>) {
    let mut request = convert(raw);
    match check_header_size(raw).and_then(|()| read_body(raw, &request, max_body_bytes)) {
        Ok(body) => {
            request.body = body;
            (request, None)
        }
        Err(response) => (request, Some(response)),
    }
}

/// Answers a request whose body is in memory already.
fn serve_one(mut raw: tiny_http::Request, config: &WorkerConfig) {
    let started = Instant::now();
    match prepare(&mut raw, config.max_body_bytes) {
        (request, None) => answer(
            Ready {
                raw,
                request,
                started,
            },
            config,
        ),
        (request, Some(refusal)) => finish(raw, &request, refusal, started),
    }
}

/// Runs the handler (a panic answers 500) and sends its response.
fn answer(ready: Ready, config: &WorkerConfig) {
    let Ready {
        raw,
        request,
        started,
    } = ready;
    let response = match catch_unwind(AssertUnwindSafe(|| (config.handler)(&request))) {
        Ok(response) => response,
        Err(_) => {
            logging::event(
                logging::Level::Error,
                &format!("request {} panicked", request.request_id),
            );
            detail_response(500, "Internal Server Error")
        }
    };
    finish(raw, &request, response, started);
}

/// Writes the response and logs the request's line.
fn finish(raw: tiny_http::Request, request: &Request, mut response: Response, started: Instant) {
    let status = response.status;
    let principal = response.principal.take();
    let unread = raw
        .body_length()
        .map_or(0, |declared| declared.saturating_sub(request.body.len()));
    write(raw, response, &request.request_id, unread);
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
            .unwrap_or_else(crate::ids::request_id),
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
        // The socket's read timeout (see `listener`): the client stopped sending.
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(detail_response(408, "Request timed out"))
        }
        Err(_) => Err(detail_response(400, "The request body could not be read")),
    }
}

/// Refuses a header section larger than [`MAX_HEADER_BYTES`] with 431.
///
/// tiny_http has already read it by then (it has no limit of its own), so this bounds what
/// reaches the handlers and the logs, not what was buffered; see docs/SECURITY.md.
fn check_header_size(raw: &tiny_http::Request) -> Result<(), Response> {
    // Request line: method, space, target, space, "HTTP/1.1", CRLF; then "name: value" CRLF
    // per field and the final CRLF.
    let request_line = raw.method().as_str().len() + raw.url().len() + 12;
    let fields: usize = raw
        .headers()
        .iter()
        .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len() + 4)
        .sum();
    if request_line + fields + 2 > MAX_HEADER_BYTES {
        return Err(detail_response(431, "Request header fields too large"));
    }
    Ok(())
}

fn detail_response(status: u16, detail: &str) -> Response {
    Response::json(status, &json!({ "detail": detail }))
}

/// Unread declared body bytes beyond which a connection is abandoned rather than drained.
///
/// When a request is dropped, tiny_http drains its unread body into one buffer the size of
/// what is left. For a declared length such as 10^14 bytes that allocation fails and aborts
/// the process, so such a request is answered and its connection given up instead (see
/// [`write`]). Below this size draining is harmless: the buffer is zeroed lazily and the
/// socket timeouts bound the reading.
const MAX_DRAINED_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Writes `response`. `unread` is how much of the declared body was never read.
fn write(raw: tiny_http::Request, response: Response, request_id: &str, unread: usize) {
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
    if unread > MAX_DRAINED_BODY_BYTES {
        // `upgrade` is the one way to answer and take the body reader out of the request
        // without dropping it; forgetting the reader keeps tiny_http from draining it. The
        // client gets the status line and headers (tiny_http sends no body in this mode) and
        // the connection is never read again; its thread and socket stay parked (see
        // docs/SECURITY.md, known limits). "HTTP/1.1" names the protocol already spoken, so
        // the `Upgrade` header tiny_http adds changes nothing.
        std::mem::forget(raw.upgrade("HTTP/1.1", out));
        return;
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
