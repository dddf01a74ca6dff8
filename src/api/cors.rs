//! Cross-origin reads: the headers that let a page on any site read the public content routes,
//! and the preflight answer. Which routes these apply to is a property of the route in the
//! table (`cors_route`); the dispatcher adds the headers to every answer of such a route,
//! errors included, and answers its `OPTIONS` with [`preflight`].

use crate::http::Response;

/// Headers a cross-origin page may read from our answers.
const EXPOSED_HEADERS: &str =
    "ETag, X-Total-Count, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After";

/// `response` readable by pages of any origin, with its useful headers exposed.
pub fn allow_any_origin(response: Response) -> Response {
    response
        .with_header("Access-Control-Allow-Origin", "*")
        .with_header("Access-Control-Expose-Headers", EXPOSED_HEADERS)
}

/// The answer to `OPTIONS` on a CORS route: any origin may `GET`/`HEAD` it with a credential
/// and a validator, and may remember that for a day.
pub fn preflight() -> Response {
    Response::empty(204)
        .with_header("Access-Control-Allow-Origin", "*")
        .with_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        .with_header(
            "Access-Control-Allow-Headers",
            "Authorization, If-None-Match",
        )
        .with_header("Access-Control-Max-Age", "86400")
}
