//! The crate's one error type, free of HTTP.
//!
//! Every layer below the API (store, auth logic, handlers) reports failures as [`Error`]; the
//! single function `api::respond::error_response` turns it into a status code and the contract's
//! `{"detail": ...}` body. Keeping HTTP out of here means the store and the auth logic can be
//! reused by the CLI, which reports the same errors as one line on stderr.

use serde_json::Value;
use std::fmt;

/// Which credential family a 401 is about; each has its own fixed message in the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// A JWT route: detail `"Unauthorized"`.
    Session,
    /// An API-key route: detail `"Invalid or expired API token."`.
    ApiKey,
    /// The credential was sent the wrong way (e.g. in `X-Api-Key`): the detail says how to send it.
    Misplaced(String),
}

/// One problem found while validating a request (an entry of a 422 `detail` list).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// Where: `["body", "name"]`, `["query", "limit"]`, `["path", "public_slug"]`.
    pub loc: Vec<Value>,
    /// A human sentence, e.g. `"Field required"`.
    pub msg: String,
    /// The machine type, e.g. `"missing"`, `"string_too_long"`.
    pub kind: &'static str,
}

impl FieldError {
    /// A problem at `loc` (first element is the request part: body, query, path or header).
    pub fn new(loc: &[&str], kind: &'static str, msg: impl Into<String>) -> Self {
        FieldError {
            loc: loc.iter().map(|part| Value::from(*part)).collect(),
            msg: msg.into(),
            kind,
        }
    }

    /// A required field that is absent.
    pub fn missing(loc: &[&str]) -> Self {
        Self::new(loc, "missing", "Field required")
    }
}

/// Everything that can go wrong while serving a request or running a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// 400: understood but refused; the detail is a string code or an object.
    BadRequest(Value),
    /// 401: credential missing, malformed, unknown, expired or revoked.
    Unauthorized(AuthFailure),
    /// 403: authenticated but not allowed; the sentence names the reason.
    Forbidden(String),
    /// 404: unknown resource; the sentence names what was not found.
    NotFound(String),
    /// 405: the path exists but not with this method; carries the allowed methods.
    MethodNotAllowed(Vec<&'static str>),
    /// 409: a unique value is already taken.
    Conflict(String),
    /// 413: the body exceeds `max_body_bytes`.
    PayloadTooLarge,
    /// 415: the route does not take this content type.
    UnsupportedMediaType(String),
    /// 422: every validation problem of the request.
    Validation(Vec<FieldError>),
    /// 429: rate limited; retry after this many whole seconds (>= 1).
    RateLimited { retry_after_secs: u64 },
    /// 503: the database cannot be used right now, or the server is shutting down.
    Unavailable(String),
    /// 500: a bug. The message is for the log only and never reaches the client.
    Internal(String),
}

impl Error {
    /// Shorthand for a 400 whose detail is a plain string code.
    pub fn bad_request(code: &str) -> Self {
        Error::BadRequest(Value::from(code))
    }

    /// Shorthand for a 422 with one problem.
    pub fn invalid(problem: FieldError) -> Self {
        Error::Validation(vec![problem])
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadRequest(detail) => write!(f, "bad request: {detail}"),
            Error::Unauthorized(kind) => write!(f, "unauthorized ({kind:?})"),
            Error::Forbidden(why) => write!(f, "forbidden: {why}"),
            Error::NotFound(what) => write!(f, "not found: {what}"),
            Error::MethodNotAllowed(allowed) => {
                write!(f, "method not allowed (allow: {allowed:?})")
            }
            Error::Conflict(what) => write!(f, "conflict: {what}"),
            Error::PayloadTooLarge => f.write_str("request body too large"),
            Error::UnsupportedMediaType(why) => write!(f, "unsupported media type: {why}"),
            Error::Validation(problems) => {
                let parts: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{:?}: {}", p.loc, p.msg))
                    .collect();
                write!(f, "invalid input: {}", parts.join("; "))
            }
            Error::RateLimited { retry_after_secs } => {
                write!(f, "rate limited, retry after {retry_after_secs} s")
            }
            Error::Unavailable(why) => write!(f, "unavailable: {why}"),
            Error::Internal(why) => write!(f, "internal error: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// A failure before the server could start serving: bad config, unusable database path.
/// Printed as one line on stderr, then the process exits non-zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupError(pub String);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

impl From<Error> for StartupError {
    fn from(err: Error) -> Self {
        StartupError(err.to_string())
    }
}
