//! The HTTP layer: the only module that touches `tiny_http`.
//!
//! It owns the listening socket and a fixed pool of worker threads, turns each wire request
//! into our own [`Request`] (with the body already read under the size limit), calls one
//! handler function, and writes the [`Response`] back. It also guarantees the things every
//! response needs regardless of the route: `X-Request-Id`, `X-Content-Type-Options`, a 500
//! when the handler panics, a 413 before an oversized body is read, a 431 for an oversized
//! header section, and one log line. Every connection inherits a read and write timeout, so
//! a silent or stalled client is cut off after `client_timeout` (see `listener`).
//!
//! Must not import `auth`, `store` or `api`: handlers arrive as a plain function.

mod listener;
mod request;
mod response;
mod server;

pub use listener::{listen, raise_open_file_limit};
pub use request::Request;
pub use response::Response;
pub use server::{Handler, HttpServer, ServerOptions, MAX_HEADER_BYTES};
