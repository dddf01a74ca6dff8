//! The listening socket, the client timeouts, and keeping tiny_http's accept loop alive.
//!
//! tiny_http sets no socket timeouts and gives no access to the socket of a connection it has
//! accepted. Linux copies a listening socket's `SO_RCVTIMEO` and `SO_SNDTIMEO` into every
//! connection accepted from it, so setting them here bounds every read and write that
//! tiny_http and the workers make: an idle keep-alive connection, a client that stops halfway
//! through its header or body, and a client that does not take its response are all cut off
//! after `client_timeout`. It costs nothing per request: no extra thread, copy or syscall.
//!
//! The price is that `accept` on the same socket also gives up after `client_timeout` without
//! a new connection, and tiny_http's accept loop ends for good on any accept error (that
//! timeout, or `EMFILE` when file descriptors run out). [`Acceptor::supervise`] keeps serving
//! going:
//!
//! * Several times per timeout period it visits the socket: it connects and sends a blank
//!   line, which tiny_http itself answers 400 and closes. No worker sees it and nothing is
//!   logged. The visit restarts accept's wait, so accept never reaches its timeout, and the
//!   answer proves the loop alive.
//! * When a worker reports that the loop ended, or a visit goes unanswered, it starts a fresh
//!   tiny_http server on the same socket (connections wait in the kernel's backlog meanwhile)
//!   and hands the old one to `retire`, which answers the requests still arriving on the
//!   connections that server had accepted. Restarts are at least [`RESTART_BACKOFF`] apart so
//!   that a lasting `EMFILE` cannot make them spin.

use crate::logging;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Pending connections the kernel queues before `accept`.
const LISTEN_BACKLOG: i32 = 1024;
/// Visits per `client_timeout`: a visit may come late by three quarters of the period before
/// accept times out.
const VISITS_PER_TIMEOUT: u32 = 4;
/// Least time between two restarts of the accept loop.
const RESTART_BACKOFF: Duration = Duration::from_secs(1);
/// How often the supervisor looks at the shutdown flag and at reports from workers.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Binds a listening TCP socket with `TCP_NODELAY` set. Linux hands the option down to every
/// accepted connection, which matters because tiny_http writes a response through a 1 KiB
/// buffer: a larger response leaves in two segments, and with Nagle's algorithm the second
/// would wait for the client's delayed ACK (about 40 ms).
pub fn listen(addr: &str) -> Result<TcpListener, String> {
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

/// Raises the soft limit on open files to the hard limit, as Go's runtime does at start.
///
/// Every connection costs tiny_http two descriptors, so the common soft limit of 1024 would
/// make `accept` fail with `EMFILE` at about 500 connections. Failure to raise it is not an
/// error: the server runs with the limit it has.
pub fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum) {
        if current < maximum {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(maximum),
                    maximum: Some(maximum),
                },
            );
        }
    }
}

/// The listening socket and the tiny_http server currently accepting on it.
pub(super) struct Acceptor {
    socket: TcpListener,
    /// Where visits connect: the bound address, with loopback for an unspecified IP.
    visit_addr: SocketAddr,
    visit_every: Duration,
    current: RwLock<Arc<tiny_http::Server>>,
    /// Bumped under the write lock of `current` at each restart.
    generation: AtomicU64,
    reports: Sender<u64>,
}

impl Acceptor {
    /// Sets the client timeouts on `socket` and starts the first tiny_http server on it.
    /// Returns the acceptor and the receiving end of the workers' reports, for
    /// [`Acceptor::supervise`].
    pub(super) fn start(
        socket: TcpListener,
        client_timeout: Duration,
    ) -> Result<(Acceptor, Receiver<u64>), String> {
        let timeout = client_timeout.max(Duration::from_millis(1));
        set_client_timeouts(&socket, timeout)?;
        let bound = socket.local_addr().map_err(|err| err.to_string())?;
        let visit_ip = match bound.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let first = new_server(&socket)?;
        let (reports, received) = mpsc::channel();
        let acceptor = Acceptor {
            socket,
            visit_addr: SocketAddr::new(visit_ip, bound.port()),
            visit_every: timeout / VISITS_PER_TIMEOUT,
            current: RwLock::new(Arc::new(first)),
            generation: AtomicU64::new(0),
            reports,
        };
        Ok((acceptor, received))
    }

    /// The generation number of the current server; it changes at each restart.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current server and its generation.
    pub(super) fn current(&self) -> (u64, Arc<tiny_http::Server>) {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        (self.generation(), Arc::clone(&current))
    }

    /// Tells the supervisor that the accept loop of `generation` ended (its server returned an
    /// error, which tiny_http does exactly once, when that loop stops).
    pub(super) fn report_ended(&self, generation: u64) {
        let _ = self.reports.send(generation);
    }

    /// Keeps the accept loop alive until `shutdown` becomes true (see the module doc). Each
    /// retired server is passed to `retire`, which must answer the requests still queued or
    /// arriving on it.
    pub(super) fn supervise(
        &self,
        reports: &Receiver<u64>,
        shutdown: &AtomicBool,
        retire: &dyn Fn(Arc<tiny_http::Server>),
    ) {
        let mut next_visit = Instant::now() + self.visit_every;
        let mut restart_due = false;
        let mut last_restart: Option<Instant> = None;
        while !shutdown.load(Ordering::SeqCst) {
            match reports.recv_timeout(POLL_INTERVAL) {
                Ok(generation) if generation == self.generation() => restart_due = true,
                Ok(_) | Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
            }
            if !restart_due && Instant::now() >= next_visit {
                next_visit = Instant::now() + self.visit_every;
                if self.visit() == Visit::Unanswered {
                    logging::event(
                        logging::Level::Warn,
                        "the accept loop did not answer a visit; starting a new one",
                    );
                    restart_due = true;
                }
            }
            let backoff_over = last_restart.is_none_or(|at| at.elapsed() >= RESTART_BACKOFF);
            if restart_due && backoff_over {
                last_restart = Some(Instant::now());
                match self.restart() {
                    Ok(old) => {
                        restart_due = false;
                        next_visit = Instant::now() + self.visit_every;
                        retire(old);
                    }
                    Err(err) => logging::event(
                        logging::Level::Error,
                        &format!("cannot restart the accept loop (will retry): {err}"),
                    ),
                }
            }
        }
    }

    /// Connects, sends a blank line and waits for tiny_http's 400.
    fn visit(&self) -> Visit {
        // A connection that cannot even be queued (a full backlog) also means nobody accepts;
        // a local failure such as our own EMFILE says nothing about the loop.
        let mut stream = match TcpStream::connect_timeout(&self.visit_addr, self.visit_every) {
            Ok(stream) => stream,
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => return Visit::Unanswered,
            Err(_) => return Visit::Inconclusive,
        };
        let configured = stream
            .set_read_timeout(Some(self.visit_every))
            .and_then(|()| stream.set_write_timeout(Some(self.visit_every)));
        if configured.is_err() || stream.write_all(b"\r\n").is_err() {
            return Visit::Inconclusive;
        }
        let mut first = [0u8; 1];
        match stream.read(&mut first) {
            Ok(_) => Visit::Answered,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Visit::Unanswered
            }
            // Reset or closed: something accepted the connection.
            Err(_) => Visit::Answered,
        }
    }

    /// Starts a new server on the socket and returns the one it replaces.
    fn restart(&self) -> Result<Arc<tiny_http::Server>, String> {
        let server = Arc::new(new_server(&self.socket)?);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        let old = std::mem::replace(&mut *current, server);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(old)
    }
}

/// What a visit found out about the accept loop.
#[derive(Debug, PartialEq, Eq)]
enum Visit {
    Answered,
    Unanswered,
    Inconclusive,
}

/// Sets `SO_RCVTIMEO` and `SO_SNDTIMEO` on the listening socket, for its connections to
/// inherit.
fn set_client_timeouts(socket: &TcpListener, timeout: Duration) -> Result<(), String> {
    let sock = socket2::SockRef::from(socket);
    sock.set_read_timeout(Some(timeout))
        .and_then(|()| sock.set_write_timeout(Some(timeout)))
        .map_err(|err| format!("cannot set the client timeout: {err}"))
}

/// A tiny_http server accepting on a duplicate of `socket`; the original stays open, so the
/// socket outlives the server's accept loop.
fn new_server(socket: &TcpListener) -> Result<tiny_http::Server, String> {
    let copy = socket
        .try_clone()
        .map_err(|err| format!("cannot duplicate the listening socket: {err}"))?;
    tiny_http::Server::from_listener(copy, None).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acceptor(timeout: Duration) -> (Acceptor, Receiver<u64>) {
        Acceptor::start(listen("127.0.0.1:0").unwrap(), timeout).unwrap()
    }

    #[test]
    fn accepted_connections_inherit_the_timeouts() {
        // The design rests on this kernel behaviour, so check it where the code runs.
        let socket = listen("127.0.0.1:0").unwrap();
        set_client_timeouts(&socket, Duration::from_secs(7)).unwrap();
        let _client = TcpStream::connect(socket.local_addr().unwrap()).unwrap();
        let (accepted, _) = socket.accept().unwrap();
        assert_eq!(
            accepted.read_timeout().unwrap(),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            accepted.write_timeout().unwrap(),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn a_visit_is_answered_by_a_live_loop_and_not_by_a_dead_one() {
        let (acceptor, _reports) = acceptor(Duration::from_secs(2));
        assert_eq!(acceptor.visit(), Visit::Answered);
        // A socket nobody accepts on: the connection is queued, never answered.
        let idle = listen("127.0.0.1:0").unwrap();
        let dead = Acceptor {
            visit_addr: idle.local_addr().unwrap(),
            ..acceptor
        };
        assert_eq!(dead.visit(), Visit::Unanswered);
    }

    #[test]
    fn a_reported_end_restarts_the_loop_and_retires_the_old_server() {
        let (acceptor, reports) = acceptor(Duration::from_secs(2));
        let (first_generation, first) = acceptor.current();
        acceptor.report_ended(first_generation);
        let shutdown = AtomicBool::new(false);
        let retired = std::sync::Mutex::new(Vec::new());
        let (acceptor_ref, shutdown_ref, retired_ref) = (&acceptor, &shutdown, &retired);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                acceptor_ref.supervise(&reports, shutdown_ref, &|old| {
                    retired_ref.lock().unwrap().push(old);
                    shutdown_ref.store(true, Ordering::SeqCst);
                })
            });
        });
        let (generation, current) = acceptor.current();
        assert_eq!(generation, first_generation + 1);
        assert!(!Arc::ptr_eq(&first, &current));
        let retired = retired.into_inner().unwrap();
        assert_eq!(retired.len(), 1);
        assert!(Arc::ptr_eq(&retired[0], &first));
        // The new server accepts on the same socket.
        assert_eq!(acceptor.visit(), Visit::Answered);
    }
}
