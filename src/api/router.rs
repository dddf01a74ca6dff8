//! Matching a method and path against the route table.
//!
//! Patterns are literal segments and `{name}` parameters, one per segment. The first pattern in
//! table order that matches a path owns it: the method is looked up among that pattern's routes
//! only, so `/api/internal/auth/sessions/revoke-all` (POST) never falls through to
//! `/api/internal/auth/sessions/{id}` (DELETE). A path whose pattern lacks the method is 405
//! with `Allow` listing exactly that pattern's methods; a path that matches none is 404.
//! Trailing slashes are not normalised (`/api/v1/me/` is 404), as the contract says.
//!
//! CORS is a property of a route: a pattern with a CORS route also takes `OPTIONS` (the
//! preflight, answered from that property, so the table has no `OPTIONS` rows), and lists it
//! in `Allow`. So is where it runs ([`Dispatch`]): on the event loop that read it when its
//! work is small and bounded, on the pool otherwise.

use crate::error::Error;
pub use crate::http::Dispatch;
use crate::ids::{ApiKeyId, ContentId, ProjectId, SessionId, TeamId, UserId};

/// An id type that a path parameter (or a tool argument) can name, with the 404 detail the
/// routes answer when the text is not a well-formed id: a malformed id names nothing, so it
/// reads exactly like an unknown one.
pub trait PathId: Sized {
    /// The `detail` of the 404 for a malformed (or unknown) id of this kind.
    const NOT_FOUND: &'static str;
    /// `text` as this id, `None` when it is not one (see [`crate::ids`]).
    fn parse_text(text: &str) -> Option<Self>;
}

/// Implements [`PathId`] for an id type with its 404 detail.
macro_rules! path_id {
    ($($name:ident => $detail:literal),* $(,)?) => {
        $(impl PathId for $name {
            const NOT_FOUND: &'static str = $detail;
            fn parse_text(text: &str) -> Option<Self> {
                $name::parse(text)
            }
        })*
    };
}

path_id!(
    UserId => "User not found",
    TeamId => "Team not found",
    ProjectId => "Project not found",
    ApiKeyId => "API key not found",
    ContentId => "Content not found",
    SessionId => "Session not found",
);

/// `text` as an id of kind `T`, or the 404 with `not_found` as its detail.
pub fn parse_id_or<T: PathId>(text: &str, not_found: &str) -> Result<T, Error> {
    T::parse_text(text).ok_or_else(|| Error::NotFound(not_found.into()))
}

/// `text` as an id of kind `T`, or the 404 [`PathId::NOT_FOUND`] of that kind.
pub fn parse_id<T: PathId>(text: &str) -> Result<T, Error> {
    parse_id_or(text, T::NOT_FOUND)
}

/// The parameters taken from the path, percent-decoded, with the pattern they came from.
///
/// Every `{name}` of the pattern has a value (a pattern matches only when each is non-empty),
/// so the only way a lookup can miss is a name the pattern lacks: a misspelling in the
/// handler. That is a bug, not a missing resource, so it fails loudly rather than as a 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathParams {
    pattern: &'static str,
    values: Vec<(&'static str, String)>,
}

impl PathParams {
    /// The value of parameter `name`. A name the route's pattern lacks is a bug in the
    /// handler: it fails a `debug_assert!` (so tests stop at it) and otherwise answers
    /// `Error::Internal` (a logged 500), never an empty value that would read as a 404.
    pub fn get(&self, name: &str) -> Result<&str, Error> {
        let found = self.lookup(name);
        debug_assert!(found.is_ok(), "{}", self.missing(name));
        found
    }

    /// Parameter `name` as an id of kind `T`, parsed once: a malformed id is the 404
    /// [`PathId::NOT_FOUND`] of that kind (as an unknown one), a name the pattern lacks fails
    /// as [`PathParams::get`] does.
    pub fn id<T: PathId>(&self, name: &str) -> Result<T, Error> {
        parse_id(self.get(name)?)
    }

    /// [`PathParams::id`] with the 404 detail `not_found`, for routes where a malformed id
    /// reads as something else being missing (a user id in a team's member list is a
    /// "Member not found").
    pub fn id_or<T: PathId>(&self, name: &str, not_found: &str) -> Result<T, Error> {
        parse_id_or(self.get(name)?, not_found)
    }

    /// [`PathParams::get`] without the debug assertion.
    fn lookup(&self, name: &str) -> Result<&str, Error> {
        self.values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
            .ok_or_else(|| Error::Internal(self.missing(name)))
    }

    fn missing(&self, name: &str) -> String {
        format!("route {} has no path parameter {name:?}", self.pattern)
    }
}

/// One route: method, pattern and whatever the caller dispatches to.
#[derive(Debug)]
pub struct Route<H> {
    /// Upper-case method.
    pub method: &'static str,
    /// Pattern such as `/api/internal/users/{id}`.
    pub pattern: &'static str,
    /// What to run.
    pub handler: H,
    /// Whether pages of any origin may read the answers (errors included): the pattern then
    /// also answers the CORS preflight `OPTIONS`.
    pub cors: bool,
    /// Where the handler runs: inline on the event loop only when its work is small and
    /// bounded whatever the data (see `api::dispatch`).
    pub dispatch: Dispatch,
}

impl<H> Route<H> {
    /// Whether `method` on this route is the CORS preflight rather than a call of the handler.
    pub fn is_preflight(&self, method: &str) -> bool {
        self.cors && method == "OPTIONS"
    }
}

/// Finds the route for `method` and `path`; `HEAD` is served by the `GET` route, and
/// `OPTIONS` on a pattern with a CORS route by that route (see [`Route::is_preflight`]).
pub fn find<'r, H>(
    routes: &'r [Route<H>],
    method: &str,
    path: &str,
) -> Result<(&'r Route<H>, PathParams), Error> {
    let (index, params) = find_index(routes, method, path)?;
    // `find_index` only returns indices of `routes`.
    let route = routes
        .get(index)
        .ok_or_else(|| Error::NotFound("Not Found".into()))?;
    Ok((route, params))
}

/// [`find`], giving the route's index in `routes` rather than the route, so that a caller can
/// keep it (the classifier hands it to the handler, see `api::dispatch`).
pub fn find_index<H>(
    routes: &[Route<H>],
    method: &str,
    path: &str,
) -> Result<(usize, PathParams), Error> {
    let lookup_method = if method == "HEAD" { "GET" } else { method };
    let Some((first, owner, params)) = routes.iter().enumerate().find_map(|(index, route)| {
        Some((index, route.pattern, match_pattern(route.pattern, path)?))
    }) else {
        return Err(Error::NotFound("Not Found".into()));
    };
    let mut allowed: Vec<&'static str> = Vec::new();
    let mut cors = false;
    // The owner is the first route with its pattern: the others come after it.
    for (index, route) in routes
        .iter()
        .enumerate()
        .skip(first)
        .filter(|(_, route)| route.pattern == owner)
    {
        if route.method == lookup_method || route.is_preflight(method) {
            return Ok((index, params));
        }
        if !allowed.contains(&route.method) {
            allowed.push(route.method);
        }
        cors |= route.cors;
    }
    if cors {
        allowed.push("OPTIONS");
    }
    if allowed.contains(&"GET") {
        allowed.push("HEAD");
    }
    Err(Error::MethodNotAllowed(allowed))
}

fn match_pattern(pattern: &'static str, path: &str) -> Option<PathParams> {
    // Every request walks the table, so most routes must be rejected cheaply: the literal text
    // before the first parameter has to start the path (and a pattern without parameters has
    // to equal it). One byte loop, stopping at the first difference, before any splitting or
    // allocation.
    let (pattern_bytes, path_bytes) = (pattern.as_bytes(), path.as_bytes());
    let mut at = 0;
    while at < pattern_bytes.len() && pattern_bytes[at] != b'{' {
        if path_bytes.get(at) != Some(&pattern_bytes[at]) {
            return None;
        }
        at += 1;
    }
    if at == pattern_bytes.len() {
        return (at == path_bytes.len()).then(|| PathParams {
            pattern,
            values: Vec::new(),
        });
    }
    let mut params = Vec::new();
    let mut pattern_parts = pattern.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (pattern_parts.next(), path_parts.next()) {
            (None, None) => {
                return Some(PathParams {
                    pattern,
                    values: params,
                })
            }
            (Some(expected), Some(actual)) => {
                if let Some(name) = expected
                    .strip_prefix('{')
                    .and_then(|rest| rest.strip_suffix('}'))
                {
                    if actual.is_empty() {
                        return None;
                    }
                    params.push((name, percent_decode(actual)?));
                } else if expected != actual {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Decodes `%XX` escapes; `None` for a broken escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex_value(*bytes.get(i + 1)?)?;
            let low = hex_value(*bytes.get(i + 2)?)?;
            out.push(high * 16 + low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<Route<u8>> {
        vec![
            Route {
                method: "GET",
                pattern: "/api/v1/me",
                handler: 1,
                cors: false,
                dispatch: Dispatch::Inline,
            },
            Route {
                method: "GET",
                pattern: "/api/internal/users/{id}",
                handler: 2,
                cors: false,
                dispatch: Dispatch::Inline,
            },
            Route {
                method: "PATCH",
                pattern: "/api/internal/users/{id}",
                handler: 3,
                cors: false,
                dispatch: Dispatch::Inline,
            },
            Route {
                method: "GET",
                pattern: "/api/internal/users/me",
                handler: 4,
                cors: false,
                dispatch: Dispatch::Inline,
            },
        ]
    }

    #[test]
    fn literal_and_parameter_routes_match() {
        let routes = table();
        let (route, _) = find(&routes, "GET", "/api/v1/me").unwrap();
        assert_eq!(route.handler, 1);
        let (route, params) = find(&routes, "PATCH", "/api/internal/users/a%20b").unwrap();
        assert_eq!(route.handler, 3);
        assert_eq!(params.get("id"), Ok("a b"));
    }

    #[test]
    fn earlier_routes_win() {
        let routes = table();
        let (route, params) = find(&routes, "GET", "/api/internal/users/me").unwrap();
        assert_eq!((route.handler, params.get("id")), (2, Ok("me")));
    }

    #[test]
    fn a_path_matches_only_whole_literals_and_non_empty_parameters() {
        let routes = table();
        for path in [
            "/api/v1/m",
            "/api/v1/mex",
            "/api/v1",
            "",
            "/api/internal/users/",
            "/api/internal/users",
            "/api/internal/users/a/b",
            "/api/internal/userz/a",
        ] {
            assert_eq!(
                find(&routes, "GET", path).unwrap_err(),
                Error::NotFound("Not Found".into()),
                "{path:?}"
            );
        }
    }

    #[test]
    fn a_literal_path_does_not_fall_through_to_a_later_parameter_route() {
        let routes = vec![
            Route {
                method: "POST",
                pattern: "/sessions/revoke-all",
                handler: 1,
                cors: false,
                dispatch: Dispatch::Inline,
            },
            Route {
                method: "DELETE",
                pattern: "/sessions/{id}",
                handler: 2,
                cors: false,
                dispatch: Dispatch::Inline,
            },
        ];
        assert_eq!(
            find(&routes, "DELETE", "/sessions/revoke-all").unwrap_err(),
            Error::MethodNotAllowed(vec!["POST"])
        );
        assert_eq!(
            find(&routes, "POST", "/sessions/revoke-all")
                .unwrap()
                .0
                .handler,
            1
        );
        let (route, params) = find(&routes, "DELETE", "/sessions/abc").unwrap();
        assert_eq!((route.handler, params.get("id")), (2, Ok("abc")));
        assert_eq!(
            find(&routes, "POST", "/sessions/abc").unwrap_err(),
            Error::MethodNotAllowed(vec!["DELETE"])
        );
    }

    #[test]
    fn trailing_slash_is_not_found() {
        assert_eq!(
            find(&table(), "GET", "/api/v1/me/").unwrap_err(),
            Error::NotFound("Not Found".into())
        );
    }

    #[test]
    fn wrong_method_lists_allowed_ones() {
        assert_eq!(
            find(&table(), "DELETE", "/api/internal/users/x").unwrap_err(),
            Error::MethodNotAllowed(vec!["GET", "PATCH", "HEAD"])
        );
    }

    #[test]
    fn a_cors_pattern_takes_options_as_its_preflight_and_lists_it() {
        let routes = vec![Route {
            method: "GET",
            pattern: "/feed",
            handler: 1,
            cors: true,
            dispatch: Dispatch::Inline,
        }];
        let (route, _) = find(&routes, "OPTIONS", "/feed").unwrap();
        assert!(route.is_preflight("OPTIONS"));
        assert!(!route.is_preflight("GET"));
        assert_eq!(
            find(&routes, "DELETE", "/feed").unwrap_err(),
            Error::MethodNotAllowed(vec!["GET", "OPTIONS", "HEAD"])
        );
        // A route without the property does not take OPTIONS.
        assert_eq!(
            find(&table(), "OPTIONS", "/api/v1/me").unwrap_err(),
            Error::MethodNotAllowed(vec!["GET", "HEAD"])
        );
    }

    #[test]
    fn a_name_the_pattern_lacks_is_an_internal_error_not_an_empty_value() {
        let (_, params) = find(&table(), "GET", "/api/internal/users/x").unwrap();
        assert_eq!(
            params.lookup("user_id"),
            Err(Error::Internal(
                "route /api/internal/users/{id} has no path parameter \"user_id\"".into()
            ))
        );
        let (_, none) = find(&table(), "GET", "/api/v1/me").unwrap();
        assert!(matches!(none.lookup("id"), Err(Error::Internal(_))));
    }

    #[test]
    fn a_typed_id_parses_once_and_a_malformed_one_is_the_kinds_404() {
        use crate::ids::{TeamId, UserId};
        let uuid = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
        let (_, params) = find(&table(), "GET", &format!("/api/internal/users/{uuid}")).unwrap();
        assert_eq!(params.id::<UserId>("id"), Ok(UserId::parse(uuid).unwrap()));
        let (_, bad) = find(&table(), "GET", "/api/internal/users/NOT-A-UUID").unwrap();
        assert_eq!(
            bad.id::<UserId>("id"),
            Err(Error::NotFound("User not found".into()))
        );
        assert_eq!(
            bad.id::<TeamId>("id"),
            Err(Error::NotFound("Team not found".into()))
        );
        assert_eq!(
            bad.id_or::<UserId>("id", "Member not found"),
            Err(Error::NotFound("Member not found".into()))
        );
        assert_eq!(
            parse_id::<UserId>(&uuid.to_uppercase()),
            Err(Error::NotFound("User not found".into()))
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "has no path parameter \"user_id\"")]
    fn a_name_the_pattern_lacks_stops_a_debug_build() {
        let (_, params) = find(&table(), "GET", "/api/internal/users/x").unwrap();
        let _ = params.get("user_id");
    }

    #[test]
    fn head_uses_the_get_route() {
        assert_eq!(find(&table(), "HEAD", "/api/v1/me").unwrap().0.handler, 1);
    }

    #[test]
    fn broken_escapes_do_not_match() {
        assert!(find(&table(), "GET", "/api/internal/users/%zz").is_err());
        assert_eq!(percent_decode("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}
