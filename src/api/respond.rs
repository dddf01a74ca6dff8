//! The one place where an [`Error`] becomes an HTTP status and a `{"detail": ...}` body, and
//! the small helpers every handler uses to build answers.

use crate::error::{AuthFailure, Error};
use crate::http::Response;
use crate::logging;
use serde_json::{json, Value};

/// The 401 detail on routes that take a JWT.
pub const SESSION_UNAUTHORIZED: &str = "Unauthorized";
/// The 401 detail on routes that take an API key.
pub const API_KEY_UNAUTHORIZED: &str = "Invalid or expired API token.";

/// Maps an error to its response. Internal details go to the log, never to the client.
pub fn error_response(err: &Error) -> Response {
    let (status, detail) = match err {
        Error::BadRequest(detail) => (400, detail.clone()),
        Error::Unauthorized(kind) => {
            let detail = match kind {
                AuthFailure::Session => SESSION_UNAUTHORIZED.to_string(),
                AuthFailure::ApiKey => API_KEY_UNAUTHORIZED.to_string(),
                AuthFailure::Misplaced(hint) => hint.clone(),
            };
            return Response::detail(401, &detail).with_header("WWW-Authenticate", "Bearer");
        }
        Error::Forbidden(why) => (403, Value::from(why.as_str())),
        Error::NotFound(what) => (404, Value::from(what.as_str())),
        Error::MethodNotAllowed(allowed) => {
            return Response::detail(405, "Method Not Allowed")
                .with_header("Allow", allowed.join(", "));
        }
        Error::Conflict(what) => (409, Value::from(what.as_str())),
        Error::PayloadTooLarge => (413, Value::from("Request body too large")),
        Error::UnsupportedMediaType(why) => (415, Value::from(why.as_str())),
        Error::Validation(problems) => {
            let list: Vec<Value> = problems
                .iter()
                .map(|p| json!({ "loc": p.loc, "msg": p.msg, "type": p.kind }))
                .collect();
            (422, Value::Array(list))
        }
        Error::RateLimited { retry_after_secs } => {
            let secs = (*retry_after_secs).max(1);
            return Response::detail(
                429,
                &format!("Rate limit exceeded. Retry after {secs} seconds."),
            )
            .with_header("Retry-After", secs.to_string());
        }
        Error::Unavailable(why) => {
            logging::event(logging::Level::Warn, &format!("503: {why}"));
            (503, Value::from(why.as_str()))
        }
        Error::Internal(why) => {
            logging::event(logging::Level::Error, &format!("500: {why}"));
            (500, Value::from("Internal Server Error"))
        }
    };
    Response::json(status, &json!({ "detail": detail }))
}

/// A 200 JSON answer.
pub fn ok(body: &(impl serde::Serialize + ?Sized)) -> Response {
    Response::json(200, body)
}

/// A JSON answer that carries a credential: never cached.
pub fn token_response(status: u16, body: &Value) -> Response {
    Response::json(status, body).with_header("Cache-Control", "no-store")
}

pub use crate::clock::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;

    fn body(resp: &Response) -> Value {
        serde_json::from_slice(&resp.body).unwrap()
    }

    #[test]
    fn unauthorized_carries_www_authenticate_and_fixed_detail() {
        let resp = error_response(&Error::Unauthorized(AuthFailure::ApiKey));
        assert_eq!(resp.status, 401);
        assert_eq!(resp.header("WWW-Authenticate"), Some("Bearer"));
        assert_eq!(
            body(&resp),
            json!({"detail": "Invalid or expired API token."})
        );
    }

    #[test]
    fn validation_lists_every_problem_in_fastapi_shape() {
        let resp = error_response(&Error::Validation(vec![
            FieldError::missing(&["body", "name"]),
            FieldError::new(&["query", "limit"], "less_than_equal", "too big"),
        ]));
        assert_eq!(resp.status, 422);
        assert_eq!(
            body(&resp),
            json!({"detail": [
                {"loc": ["body", "name"], "msg": "Field required", "type": "missing"},
                {"loc": ["query", "limit"], "msg": "too big", "type": "less_than_equal"}
            ]})
        );
    }

    #[test]
    fn internal_errors_leak_nothing() {
        let resp = error_response(&Error::Internal("secret table xyz".into()));
        assert_eq!(resp.status, 500);
        assert_eq!(body(&resp), json!({"detail": "Internal Server Error"}));
    }

    #[test]
    fn rate_limit_has_retry_after_of_at_least_one() {
        let resp = error_response(&Error::RateLimited {
            retry_after_secs: 0,
        });
        assert_eq!(resp.header("Retry-After"), Some("1"));
        assert_eq!(
            body(&resp),
            json!({"detail": "Rate limit exceeded. Retry after 1 seconds."})
        );
    }

    #[test]
    fn method_not_allowed_lists_allow() {
        let resp = error_response(&Error::MethodNotAllowed(vec!["GET", "HEAD"]));
        assert_eq!(resp.header("Allow"), Some("GET, HEAD"));
    }

    #[test]
    fn timestamps_are_rfc3339_with_z() {
        assert_eq!(rfc3339(1_743_433_200), "2025-03-31T15:00:00Z");
    }
}
