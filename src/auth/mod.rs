//! Authentication logic with no HTTP and no SQL: token signing and verification, password
//! hashing. Callers pass keys, parameters and the current time in explicitly.
//!
//! Must not import `http`, `store`, `api`, `tiny_http` or `rusqlite`.

pub mod api_key;
pub mod jwt;
pub mod password;
pub mod ratelimit;
