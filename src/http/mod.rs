//! The HTTP layer: the listening socket, client connections, the event loops that serve them,
//! and our own [`Request`] and [`Response`].
//!
//! It accepts connections, reads each request off the wire within the limits (header section
//! size, body size, a deadline per request), runs one handler function on it, and writes the
//! [`Response`] back. It also guarantees the things every response needs regardless of the
//! route: `X-Request-Id`, `X-Content-Type-Options`, a 500 when the handler panics, a 413
//! before an oversized body is read, a 431 for an oversized header section, a 408 for a
//! request that does not arrive in time, a 505 for HTTP/2 and later, and one log line.
//!
//! # How a request travels (read this first)
//!
//! ```text
//!   accept thread ──(caps: admission)──► event loop k (the one holding fewest connections)
//!                                          │ epoll wait on all its sockets (mio)
//!                                          ▼
//!                      socket readable ─► connection::Reader: bytes → Request (wire: parsing)
//!                                          │
//!        the service's classifier says:    │
//!                       Dispatch::Inline ──┤── Dispatch::Pool ──► pool thread: handler,
//!                       handler, inline    │                      serialise; bytes back
//!                                          ▼                      through the loop's inbox
//!                      serialise (server::answer) ─► one write ─► log line
//! ```
//!
//! 1. **Accept** (`server`): one thread accepts connections, checks the caps (`admission`:
//!    `max_connections`, per address `max_connections_per_ip`, the reserve), answers 503 to a
//!    refused one and hands an admitted one to the event loop holding the fewest.
//! 2. **Wait** (`event_loop`): there are `workers` loops, at most one per CPU core. Each owns
//!    its connections and waits for any of their sockets with one `epoll` call; an idle
//!    connection costs no thread, only a few hundred bytes.
//! 3. **Read** (`connection`): when a socket is readable, the loop reads what it has into the
//!    connection's buffer and asks its `Reader` for a request. The reader is a pure state
//!    machine (no socket, no clock of its own): it keeps its place in a request that arrives in
//!    pieces and enforces every framing rule from `wire` (the RFC 9112 parser).
//! 4. **Handle**: the application gives the server a [`Service`]: a handler and a cheap
//!    classifier that says, for each request, where it runs ([`Dispatch`]). A request whose
//!    work is small and bounded (`Inline`) is handled right there, on the loop's thread: no
//!    hand-over, no thread wake-up. Anything else (`Pool`: a login hashes a password for
//!    50-100 ms; a write may wait for SQLite's write lock; a list of 100 items is megabytes)
//!    goes to a pool of `workers` threads, which also serialises the answer, and the loop
//!    serves its other connections meanwhile. This layer knows no routes: the application's
//!    route table gives each route its class. When the database is PostgreSQL, a read is a
//!    round trip to another process (possibly another machine), so the application's
//!    classifier sends every request that may read it to the pool and keeps only work that
//!    touches nothing outside the process on the loops.
//! 5. **Write**: the answer is serialised into one buffer and written with one `write`. When
//!    the socket takes only part of it, the rest waits for write readiness; the connection
//!    reads nothing more until it is out.
//! 6. **Time**: every connection has one deadline (idle: `client_timeout` after its last
//!    answer; a request in progress: `client_timeout` after its first byte; a pending write:
//!    `client_timeout` without progress), kept in a heap per loop. A passed deadline closes
//!    the connection, or answers 408 when a request had begun.
//!
//! Connections and their I/O are ours, with no HTTP crate below them, so every limit on a slow
//! or hostile client is one we set (see docs/SECURITY.md). tiny_http and hyper appear only in
//! `benches/`, as the bare servers the benchmarks compare against.
//!
//! Must not import `auth`, `store` or `api`: handler and classifier arrive as plain functions.

mod admission;
mod connection;
mod event_loop;
mod listener;
mod request;
mod response;
mod server;
pub mod wire;

pub use listener::{listen, raise_open_file_limit};
pub use request::Request;
pub use response::Response;
pub use server::{
    safe_methods_inline, Classifier, Dispatch, Handler, HttpServer, ServerOptions, Service,
    MAX_HEADER_BYTES,
};
