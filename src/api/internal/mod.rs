//! Handlers of the internal (dashboard) API under `/api/internal/`.

pub mod audit;
pub mod auth;
pub mod content;
pub mod key_activity;
pub mod keys;
pub mod teams;
pub mod users;
