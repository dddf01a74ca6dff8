//! The HTTP layer: the listening socket, client connections, and the fixed pool of workers.
//!
//! It accepts connections, reads each request off the wire into our own [`Request`] within
//! the limits (header section size, body size, a deadline per request), hands it to one
//! handler function on a worker thread, and writes the [`Response`] back. It also guarantees
//! the things every response needs regardless of the route: `X-Request-Id`,
//! `X-Content-Type-Options`, a 500 when the handler panics, a 413 before an oversized body is
//! read, a 431 for an oversized header section, a 408 for a request that does not arrive in
//! time, a 505 for HTTP/2 and later, and one log line.
//!
//! Connections and their I/O are ours (`connection`, `wire`): tiny_http's own connection
//! handling cannot bound a slow or hostile client (see docs/SECURITY.md); its response writer
//! serialises every answer.
//!
//! Must not import `auth`, `store` or `api`: handlers arrive as a plain function.

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
pub use server::{Handler, HttpServer, ServerOptions, MAX_HEADER_BYTES};
