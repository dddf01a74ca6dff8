//! # shipstar
//!
//! A self-hostable Shipstar API server in one static binary on an embedded SQLite file.
//!
//! ## Architecture in one screen
//!
//! ```text
//!   main.rs ──► cli ──► server (bootstrap: config, store, secrets, first user)
//!                          │
//!                          ▼
//!   http (HTTP/1.1 event loops, our Request/Response, limits, panic → 500)
//!                          │  calls one handler function per request
//!                          ▼
//!   api (route table, extractors, wire types, handlers, Error → Response)
//!            │                         │
//!            ▼                         ▼
//!   auth (JWT, API keys, passwords,   store (SQLite: the only SQL in the crate)
//!         rate limits: pure logic)
//! ```
//!
//! Connections are served by a few event loops (at most one per CPU core), each waiting on
//! many sockets at once: a loop reads a request, runs the handler inline for `GET`, `HEAD` and
//! `OPTIONS`, and writes the answer, so an idle connection costs no thread and a read never
//! changes threads; requests with other methods (which may hash a password or wait for the
//! database's write lock) run on a small blocking pool so that they never stall a loop. Beside
//! them run the accept thread (which applies `max_connections` and, per client address,
//! `max_connections_per_ip`), the log writer (request lines are handed over a channel, so no
//! loop waits on stderr) and the usage flusher (API-key usage, `last_used_at` and session
//! `last_seen_at` are counted in memory and written about twice a second, so checking a
//! credential never writes). See the `http` module docs for the whole path of a request.
//!
//! ## The dependency rule
//!
//! * `auth` knows nothing of HTTP or SQL; `store` knows nothing of HTTP or tokens.
//! * `http` is the only module that touches sockets; `store` the only one that touches
//!   `rusqlite`. `api` is the glue and may use both through their own types.
//! * `client_ip` (trusted proxies, and which address a request comes from) is plain logic
//!   that `http` (the per-address connection cap) and `api` (everything else) share.
//! * [`error::Error`] carries no HTTP types; `api::respond` maps it to a status in one place.
//! * [`json`] (strict JSON parsing) and [`clock`] are pure helpers any module may use, and so
//!   is [`database_url`] (which backend a `database` value selects, and how it is printed
//!   with a URL's password masked).
//! * [`email`] holds the one rule for email addresses (shape and normal form); the API, the
//!   setup page, config, the CLI and seed files all parse addresses through it.
//! * Rules that every front end (the API, the setup page, the CLI, seed files) applies live
//!   in modules of their own, beside `store` and below `api`: [`email`], [`slug`] (slug
//!   shape and derivation), [`roles`] (a member's standing in a team), [`ids`] (the typed
//!   ids: only `parse` checks an id from outside, so store methods cannot take one kind of id
//!   for another; `api::router::PathParams::id` parses path ids), [`keyring`] (which signing key signs and which verifies what),
//!   [`audit`] (the audit event's shape), [`seed`]. `cli` and `seed` use none of `api`
//!   (`.ci/run` checks it).
//! * Domain modules own a rule and the writes that follow from it, using `store`, `auth`,
//!   [`email`] and [`clock`] but nothing of HTTP (`.ci/run` checks it); each front end parses
//!   its input, calls them, and words their errors its own way:
//!   - [`accounts`]: the password policy (8..=1024 characters, [`accounts::Password`]) and
//!     creating a user, for the register and users routes, the setup page, the first-admin
//!     bootstrap, `shipstar user create` and seed files alike.
//!   - [`keys`]: API-key names (1..=100 characters), relative expiry (1..=3650 days from
//!     creation), that a key acts as a member of the project's team, the roll overlap
//!     (0..=30 days) and a rolled key's expiry, and making the key itself; the key routes,
//!     `shipstar key create` and seed files follow it. The shape of a key (prefix, checksum,
//!     hash) is [`auth::api_key`]'s.

#![forbid(unsafe_code)]

pub mod accounts;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod client_ip;
pub mod clock;
pub mod config;
pub mod content;
pub mod database_url;
pub mod email;
pub mod ephemeral;
pub mod error;
pub mod http;
pub mod ids;
pub mod json;
pub mod keyring;
pub mod keys;
pub mod logging;
pub mod roles;
pub mod seed;
pub mod server;
pub mod slug;
pub mod store;

/// The version printed by `shipstar version` and reported by `/api/v1/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
