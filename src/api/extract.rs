//! Reading the parts of a request the handlers need: the bearer credential, form and JSON
//! bodies, and query parameters, each failing with the contract's status and shape.

use super::router::percent_decode;
use crate::error::{AuthFailure, Error, FieldError};
use crate::http::Request;
use crate::store::Page;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// The prefix every API key starts with.
pub const API_KEY_PREFIX: &str = "sk_live_";

/// The detail for an API key sent anywhere but `Authorization: Bearer`.
pub const MISPLACED_KEY_DETAIL: &str =
    "Send the API key in the Authorization header as 'Authorization: Bearer <key>'.";

/// What the request presents as its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No credential at all.
    None,
    /// A token shaped like a JWT (three dot-separated base64url parts).
    Jwt(&'a str),
    /// A token starting with `sk_live_`.
    ApiKey(&'a str),
}

/// Reads `Authorization: Bearer <token>` and classifies the token.
///
/// * absent header (and no key elsewhere) → `Credential::None`;
/// * key in `Api-Key`/`X-Api-Key`, or `Authorization: <key>` without `Bearer` → 401 with a
///   detail saying how to send it;
/// * any other scheme, extra spaces, or a token that is neither shape → 401.
pub fn credential<'r>(req: &'r Request, failure: &AuthFailure) -> Result<Credential<'r>, Error> {
    let unauthorized = || Error::Unauthorized(failure.clone());
    let misplaced = || Error::Unauthorized(AuthFailure::Misplaced(MISPLACED_KEY_DETAIL.into()));
    if req.header_count("authorization") > 1 {
        return Err(unauthorized());
    }
    let Some(value) = req.header("authorization") else {
        if req.header("api-key").is_some() || req.header("x-api-key").is_some() {
            return Err(misplaced());
        }
        return Ok(Credential::None);
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        if value.trim().starts_with(API_KEY_PREFIX) {
            return Err(misplaced());
        }
        return Err(unauthorized());
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        if scheme.starts_with(API_KEY_PREFIX) || token.starts_with(API_KEY_PREFIX) {
            return Err(misplaced());
        }
        return Err(unauthorized());
    }
    if token.is_empty() || token.contains(' ') {
        return Err(unauthorized());
    }
    if token.starts_with(API_KEY_PREFIX) {
        return Ok(Credential::ApiKey(token));
    }
    if looks_like_jwt(token) {
        return Ok(Credential::Jwt(token));
    }
    Err(unauthorized())
}

/// What each byte is in a JWT: 1 for the base64url alphabet, 2 for the dot, 0 otherwise. A
/// table, because every authenticated request runs a few hundred bytes through it.
const JWT_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            table[byte] = 1;
        }
        byte += 1;
    }
    table[b'.' as usize] = 2;
    table
};

/// Three non-empty parts of the base64url alphabet separated by dots; one pass, no allocation.
fn looks_like_jwt(token: &str) -> bool {
    let mut dots = 0;
    let mut part_len = 0;
    for byte in token.bytes() {
        match JWT_BYTES[usize::from(byte)] {
            1 => part_len += 1,
            2 if part_len > 0 => {
                dots += 1;
                part_len = 0;
            }
            _ => return false,
        }
    }
    dots == 2 && part_len > 0
}

/// Requires `Content-Type: application/x-www-form-urlencoded` (415 otherwise).
pub fn require_form(req: &Request) -> Result<(), Error> {
    match req.media_type().as_deref() {
        Some("application/x-www-form-urlencoded") => Ok(()),
        _ => Err(Error::UnsupportedMediaType(
            "This route takes application/x-www-form-urlencoded.".into(),
        )),
    }
}

/// Decoded `name=value` pairs of a form body or query string, strictly: a broken percent
/// escape or a value that is not UTF-8 is an error (`None`), never silently replaced.
pub fn decode_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for part in text.split('&').filter(|part| !part.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let decode = |raw: &str| percent_decode(&raw.replace('+', " "));
        pairs.push((decode(name)?, decode(value)?));
    }
    Some(pairs)
}

/// At most this many repeated field names are listed in one 422 answer.
const MAX_REPEATED_REPORTED: usize = 10;

/// The fields of a form body (or query) by name. A name given more than once is refused
/// when the body or query is parsed, whether or not the route reads that field: two readers
/// that disagree on which of two values counts are how a value slips past a check.
#[derive(Debug)]
pub struct Fields {
    pairs: Vec<(String, String)>,
    part: &'static str,
}

/// `number` if it lies in `min..=max`, else the 422 problem at `loc`.
pub fn int_in_range(loc: &[&str], number: i64, min: i64, max: i64) -> Result<i64, FieldError> {
    if number < min {
        Err(FieldError::new(
            loc,
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        ))
    } else if number > max {
        Err(FieldError::new(
            loc,
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ))
    } else {
        Ok(number)
    }
}

impl Fields {
    /// The single integer value of `name` in `min..=max`, or `default` when absent;
    /// problems (not an integer, out of range, duplicate) are recorded.
    pub fn int_or(
        &self,
        name: &str,
        default: i64,
        min: i64,
        max: i64,
        problems: &mut Vec<FieldError>,
    ) -> i64 {
        let Some(text) = self.optional(name, problems) else {
            return default;
        };
        let loc = [self.part, name];
        match text.parse::<i64>() {
            Ok(number) => int_in_range(&loc, number, min, max).unwrap_or_else(|problem| {
                problems.push(problem);
                default
            }),
            Err(_) => {
                problems.push(FieldError::new(
                    &loc,
                    "int_parsing",
                    "Input should be a valid integer",
                ));
                default
            }
        }
    }

    /// Parses a form body: 415 for another content type, 422 for broken escapes, non-UTF-8.
    pub fn from_form(req: &Request) -> Result<Fields, Error> {
        require_form(req)?;
        let text = std::str::from_utf8(&req.body).map_err(|_| {
            Error::invalid(FieldError::new(
                &["body"],
                "value_error",
                "Form body is not UTF-8",
            ))
        })?;
        let pairs = decode_pairs(text).ok_or_else(|| {
            Error::invalid(FieldError::new(
                &["body"],
                "value_error",
                "Form body has a malformed percent-escape or is not UTF-8",
            ))
        })?;
        Fields::unique(pairs, "body")
    }

    /// Parses the query string, taking every value of the `repeatable` name out (in order)
    /// and checking the rest as [`Fields::from_query`] does: a filter such as `?action=a&
    /// action=b` may repeat, while a repeated `limit` stays an error.
    pub fn from_query_with_repeated(
        req: &Request,
        repeatable: &str,
    ) -> Result<(Fields, Vec<String>), Error> {
        let (repeated, rest): (Vec<_>, Vec<_>) = Self::query_pairs(req)?
            .into_iter()
            .partition(|(name, _)| name == repeatable);
        let values = repeated.into_iter().map(|(_, value)| value).collect();
        Ok((Fields::unique(rest, "query")?, values))
    }

    fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, Error> {
        decode_pairs(&req.query).ok_or_else(|| {
            Error::invalid(FieldError::new(
                &["query"],
                "value_error",
                "Query string has a malformed percent-escape or is not UTF-8",
            ))
        })
    }

    /// Parses the query string: 422 for broken escapes.
    pub fn from_query(req: &Request) -> Result<Fields, Error> {
        Fields::unique(Self::query_pairs(req)?, "query")
    }

    /// The fields, or 422 with one problem per name given more than once (compared after
    /// decoding, so `a` and `%61` are the same field). A set, not pairwise comparison: a 1 MiB
    /// form can hold hundreds of thousands of fields.
    fn unique(pairs: Vec<(String, String)>, part: &'static str) -> Result<Fields, Error> {
        let mut seen = HashSet::with_capacity(pairs.len());
        let mut reported = HashSet::new();
        let mut repeated: Vec<&str> = Vec::new();
        for (name, _) in &pairs {
            if !seen.insert(name.as_str()) && reported.insert(name.as_str()) {
                repeated.push(name);
                // The answer stays small however many names a large body repeats.
                if repeated.len() == MAX_REPEATED_REPORTED {
                    break;
                }
            }
        }
        if repeated.is_empty() {
            return Ok(Fields { pairs, part });
        }
        Err(Error::Validation(
            repeated
                .into_iter()
                .map(|name| {
                    FieldError::new(&[part, name], "value_error", "Field given more than once")
                })
                .collect(),
        ))
    }

    /// The single value of `name`: records `missing` or a duplicate in `problems`.
    pub fn required(&self, name: &str, problems: &mut Vec<FieldError>) -> Option<&str> {
        let value = self.optional(name, problems);
        if value.is_none() && self.count(name) == 0 {
            problems.push(FieldError::missing(&[self.part, name]));
        }
        value
    }

    /// The single value of `name` if given; a duplicate is recorded in `problems`.
    pub fn optional(&self, name: &str, problems: &mut Vec<FieldError>) -> Option<&str> {
        match self.count(name) {
            0 => None,
            1 => self
                .pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str()),
            _ => {
                problems.push(FieldError::new(
                    &[self.part, name],
                    "value_error",
                    "Field given more than once",
                ));
                None
            }
        }
    }

    fn count(&self, name: &str) -> usize {
        self.pairs.iter().filter(|(key, _)| key == name).count()
    }
}

/// Parses a JSON object body: 415 unless `Content-Type` is JSON, 422 `json_invalid` for
/// broken JSON or an object (at any depth) that repeats a member name (the message names
/// it), 422 for a JSON value that is not an object.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, Error> {
    match json_value(req)? {
        Value::Object(map) => Ok(map),
        _ => Err(Error::invalid(FieldError::new(
            &["body"],
            "value_error",
            "Input should be a JSON object",
        ))),
    }
}

/// Parses a JSON body of any shape, as strictly as [`json_object`]: 415 unless
/// `Content-Type` is JSON, 422 `json_invalid` for broken JSON or a repeated member name.
pub fn json_value(req: &Request) -> Result<Value, Error> {
    match req.media_type().as_deref() {
        Some("application/json") => {}
        _ => {
            return Err(Error::UnsupportedMediaType(
                "This route takes application/json.".into(),
            ))
        }
    }
    // Strict: an object (at any depth) that repeats a member name is `json_invalid` too,
    // where serde_json alone would silently keep the last one.
    crate::json::from_slice(&req.body).map_err(|err| {
        Error::invalid(FieldError::new(
            &["body"],
            "json_invalid",
            format!("JSON decode error: {err}"),
        ))
    })
}

/// 2^63 as a float: every integral float below it in magnitude converts to i64 exactly.
const I64_BOUND: f64 = 9_223_372_036_854_775_808.0;

/// The problem of a body field that should be a string and is not.
fn not_a_string(name: &str) -> FieldError {
    FieldError::new(
        &["body", name],
        "string_type",
        "Input should be a valid string",
    )
}

/// Typed reading of JSON object fields that collects every problem before failing.
pub struct JsonFields<'a> {
    map: &'a Map<String, Value>,
    /// Problems found so far.
    pub problems: Vec<FieldError>,
}

impl<'a> JsonFields<'a> {
    /// Starts reading `map`.
    pub fn new(map: &'a Map<String, Value>) -> Self {
        JsonFields {
            map,
            problems: Vec::new(),
        }
    }

    /// Reads `map` with `read` and hands back what it built only when no problem was
    /// recorded, else 422 listing every problem. This is how a route gets its typed request:
    /// the placeholders that readers such as [`JsonFields::required_string`] return after
    /// recording a problem can never leave this function, so a handler never checks again
    /// what was already checked.
    pub fn parse<T>(
        map: &'a Map<String, Value>,
        read: impl FnOnce(&mut JsonFields<'a>) -> T,
    ) -> Result<T, Error> {
        let mut fields = JsonFields::new(map);
        let value = read(&mut fields);
        fields.finish().map(|()| value)
    }

    /// Records `problem` (a rule of the route beyond the field readers).
    pub fn problem(&mut self, problem: FieldError) {
        self.problems.push(problem);
    }

    /// A required string of `min..=max` characters, as [`JsonFields::string`]; when a problem
    /// was recorded the answer is an empty placeholder, which [`JsonFields::parse`] never lets
    /// out.
    pub fn required_string(&mut self, name: &str, min: usize, max: usize) -> String {
        self.string(name, min, max).unwrap_or_default()
    }

    /// Whether `name` is present (possibly null).
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// A required string of `min..=max` characters; absent is `missing`, null is
    /// `string_type` (a problem is always recorded when `None` is returned).
    pub fn string(&mut self, name: &str, min: usize, max: usize) -> Option<String> {
        match self.map.get(name) {
            None => {
                self.problems.push(FieldError::missing(&["body", name]));
                None
            }
            Some(Value::Null) => {
                self.problems.push(not_a_string(name));
                None
            }
            Some(_) => self.optional_string(name, min, max),
        }
    }

    /// An optional string of `min..=max` characters (absent or null is `None`).
    pub fn optional_string(&mut self, name: &str, min: usize, max: usize) -> Option<String> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => {
                let chars = text.chars().take(max.saturating_add(1)).count();
                if chars < min {
                    self.problems.push(FieldError::new(
                        &["body", name],
                        "string_too_short",
                        format!("String should have at least {min} characters"),
                    ));
                    None
                } else if chars > max {
                    self.problems.push(FieldError::new(
                        &["body", name],
                        "string_too_long",
                        format!("String should have at most {max} characters"),
                    ));
                    None
                } else {
                    Some(text.clone())
                }
            }
            Some(_) => {
                self.problems.push(not_a_string(name));
                None
            }
        }
    }

    /// An optional nullable name field: absent → `None`, null → `Some(None)`.
    pub fn nullable_string(&mut self, name: &str, max: usize) -> Option<Option<String>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(_) => self.optional_string(name, 0, max).map(Some),
        }
    }

    /// An optional boolean (absent or null is `None`).
    pub fn optional_bool(&mut self, name: &str) -> Option<bool> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(flag)) => Some(*flag),
            Some(_) => {
                self.problems.push(FieldError::new(
                    &["body", name],
                    "bool_parsing",
                    "Input should be a valid boolean",
                ));
                None
            }
        }
    }

    /// An optional integer in `min..=max` (absent or null is `None`).
    pub fn optional_int(&mut self, name: &str, min: i64, max: i64) -> Option<i64> {
        let value = match self.map.get(name) {
            None | Some(Value::Null) => return None,
            Some(value) => value,
        };
        // JSON has one number type: `90.0` is the integer 90 (JSON Schema and pydantic agree),
        // while `90.5` and numbers beyond i64 are not integers.
        let integral = value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < I64_BOUND);
        let Some(number) = value.as_i64().or(integral.map(|f| f as i64)) else {
            self.problems.push(FieldError::new(
                &["body", name],
                "int_parsing",
                "Input should be a valid integer",
            ));
            return None;
        };
        int_in_range(&["body", name], number, min, max)
            .map_err(|problem| self.problems.push(problem))
            .ok()
    }

    /// An optional RFC 3339 timestamp as unix seconds: absent → `None`, null → `Some(None)`.
    pub fn optional_datetime(&mut self, name: &str) -> Option<Option<i64>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(text)) => {
                match time::OffsetDateTime::parse(
                    text,
                    &time::format_description::well_known::Rfc3339,
                ) {
                    Ok(at) => Some(Some(at.unix_timestamp())),
                    Err(_) => {
                        self.problems.push(FieldError::new(
                            &["body", name],
                            "datetime_parsing",
                            "Input should be a valid RFC 3339 datetime",
                        ));
                        None
                    }
                }
            }
            Some(_) => {
                self.problems.push(FieldError::new(
                    &["body", name],
                    "datetime_parsing",
                    "Input should be a valid RFC 3339 datetime",
                ));
                None
            }
        }
    }

    /// Fails with every collected problem, if any.
    pub fn finish(self) -> Result<(), Error> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.problems))
        }
    }
}

/// Largest `?limit=` of a paginated list.
pub const MAX_PAGE_LIMIT: i64 = 100;
/// `?limit=` when absent.
pub const DEFAULT_PAGE_LIMIT: i64 = 20;

impl Fields {
    /// The `?limit=` (1..=100, default 20) and `?offset=` (>= 0, default 0) of a paginated
    /// list; problems are recorded.
    pub fn page(&self, problems: &mut Vec<FieldError>) -> Page {
        Page {
            limit: self.int_or("limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT, problems),
            offset: self.int_or("offset", 0, 0, i64::MAX, problems),
        }
    }

    /// The single boolean value of `name` (`true`/`false`, as FastAPI also takes `1`/`0`),
    /// if given; problems are recorded.
    pub fn optional_bool(&self, name: &str, problems: &mut Vec<FieldError>) -> Option<bool> {
        match self.optional(name, problems)? {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => {
                problems.push(FieldError::new(
                    &[self.part, name],
                    "bool_parsing",
                    "Input should be a valid boolean",
                ));
                None
            }
        }
    }
}

/// Like [`json_object`], but a request without a body (no `Content-Type`, no bytes) reads as
/// `{}`: for routes whose every field is optional, such as publishing.
pub fn optional_json_object(req: &Request) -> Result<Map<String, Value>, Error> {
    if req.body.is_empty() && req.header("content-type").is_none() {
        return Ok(Map::new());
    }
    json_object(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(value: &str) -> Request {
        Request::new("GET", "/").with_header("Authorization", value)
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let req = with_auth("bEaReR a.b.c");
        assert_eq!(
            credential(&req, &AuthFailure::Session),
            Ok(Credential::Jwt("a.b.c"))
        );
    }

    #[test]
    fn api_key_is_recognised_by_prefix() {
        let req = with_auth("Bearer sk_live_abc");
        assert_eq!(
            credential(&req, &AuthFailure::ApiKey),
            Ok(Credential::ApiKey("sk_live_abc"))
        );
    }

    #[test]
    fn malformed_bearer_values_are_401() {
        for value in [
            "Bearer",
            "Bearer ",
            "Bearer  a.b.c",
            "Bearer a.b.c d",
            "Basic a.b.c",
            "Bearer a.b",
            "Bearer a.b.c=",
            "Bearer a..c",
            "Bearer .b.c",
            "Bearer a.b.",
            "Bearer a.b.c.d",
            "Bearer a.b+.c",
            "Token x",
        ] {
            assert_eq!(
                credential(&with_auth(value), &AuthFailure::Session),
                Err(Error::Unauthorized(AuthFailure::Session)),
                "{value:?}"
            );
        }
    }

    #[test]
    fn key_in_the_wrong_place_gets_a_hint() {
        let hint = Err(Error::Unauthorized(AuthFailure::Misplaced(
            MISPLACED_KEY_DETAIL.into(),
        )));
        assert_eq!(
            credential(&with_auth("sk_live_abc"), &AuthFailure::ApiKey),
            hint
        );
        let req = Request::new("GET", "/").with_header("X-Api-Key", "sk_live_abc");
        assert_eq!(credential(&req, &AuthFailure::ApiKey), hint);
        let req = Request::new("GET", "/").with_header("Api-Key", "sk_live_abc");
        assert_eq!(credential(&req, &AuthFailure::ApiKey), hint);
    }

    #[test]
    fn no_credential_is_none() {
        assert_eq!(
            credential(&Request::new("GET", "/"), &AuthFailure::Session),
            Ok(Credential::None)
        );
    }

    #[test]
    fn form_pairs_decode_plus_and_escapes_strictly() {
        assert_eq!(
            decode_pairs("a=b+c&d=%41%42&e").unwrap(),
            vec![
                ("a".into(), "b c".into()),
                ("d".into(), "AB".into()),
                ("e".into(), String::new())
            ]
        );
        assert!(decode_pairs("a=%zz").is_none());
        assert!(decode_pairs("a=%ff").is_none());
    }

    fn form(body: &str) -> Request {
        Request::new("POST", "/")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(body)
    }

    /// The (loc, type, msg) of each problem of a 422, or a panic.
    fn problems(
        result: Result<impl std::fmt::Debug, Error>,
    ) -> Vec<(Vec<Value>, &'static str, String)> {
        match result {
            Err(Error::Validation(problems)) => problems
                .into_iter()
                .map(|p| (p.loc, p.kind, p.msg))
                .collect(),
            other => panic!("not a 422: {other:?}"),
        }
    }

    #[test]
    fn a_repeated_form_field_is_422_even_when_the_route_does_not_read_it() {
        let found = problems(Fields::from_form(&form("username=a&username=b&password=p")));
        assert_eq!(
            found,
            [(
                vec![Value::from("body"), Value::from("username")],
                "value_error",
                "Field given more than once".to_string()
            )]
        );
        // Names are compared decoded: `%61` is `a`.
        let found = problems(Fields::from_form(&form("a=1&%61=2")));
        assert_eq!(found[0].0, vec![Value::from("body"), Value::from("a")]);
        // One problem per repeated name, however often it repeats.
        let found = problems(Fields::from_form(&form("x=1&y=1&x=2&x=3&y=2")));
        let names: Vec<&Value> = found.iter().map(|(loc, _, _)| &loc[1]).collect();
        assert_eq!(names, [&Value::from("x"), &Value::from("y")]);
        // Distinct names pass, and a missing field is still reported by the route.
        let fields = Fields::from_form(&form("username=a&grant_type=")).unwrap();
        let mut missing = Vec::new();
        assert_eq!(fields.required("username", &mut missing), Some("a"));
        assert_eq!(fields.required("password", &mut missing), None);
        assert_eq!(missing[0].kind, "missing");
    }

    #[test]
    fn a_repeated_query_field_is_422() {
        let req = Request::new("GET", "/?limit=5&offset=0&tag=a&tag=b");
        let found = problems(Fields::from_query(&req));
        assert_eq!(found[0].0, vec![Value::from("query"), Value::from("tag")]);
        assert!(Fields::from_query(&Request::new("GET", "/?limit=5&offset=0")).is_ok());
    }

    #[test]
    fn a_body_repeating_many_names_gets_a_short_answer() {
        let body: String = (0..5000).map(|i| format!("f{i}=1&f{i}=2&")).collect();
        let found = problems(Fields::from_form(&form(&body)));
        assert_eq!(found.len(), MAX_REPEATED_REPORTED);
        assert_eq!(found[0].0[1], Value::from("f0"));
    }

    fn json_request(body: &str) -> Request {
        Request::new("POST", "/")
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    #[test]
    fn a_json_body_repeating_a_member_name_is_json_invalid_naming_it() {
        for (body, name) in [
            (r#"{"name": "a", "name": "b"}"#, "name"),
            (r#"{"name": "a", "meta": {"x": 1, "x": 2}}"#, "x"),
            (r#"{"list": [{"k": 1}, {"k": 1, "k": 2}]}"#, "k"),
            (r#"{"a": 1, "\u0061": 2}"#, "a"),
        ] {
            let found = problems(json_object(&json_request(body)));
            assert_eq!(found.len(), 1, "{body}");
            let (loc, kind, msg) = &found[0];
            assert_eq!(loc, &vec![Value::from("body")], "{body}");
            assert_eq!(*kind, "json_invalid", "{body}");
            assert!(
                msg.starts_with(&format!(
                    "JSON decode error: duplicate object member name \"{name}\""
                )),
                "{body}: {msg}"
            );
        }
        // The same name in sibling objects is not a repeat.
        assert!(json_object(&json_request(r#"{"a": {"k": 1}, "b": {"k": 2}}"#)).is_ok());
    }

    #[test]
    fn json_body_needs_json_content_type_and_an_object() {
        let req = Request::new("POST", "/").with_body("{}");
        assert!(matches!(
            json_object(&req),
            Err(Error::UnsupportedMediaType(_))
        ));
        let req = req.with_header("content-type", "application/json");
        assert!(json_object(&req).is_ok());
        let bad = Request::new("POST", "/")
            .with_header("content-type", "application/json")
            .with_body("[1]");
        assert!(matches!(json_object(&bad), Err(Error::Validation(_))));
        let broken = Request::new("POST", "/")
            .with_header("content-type", "application/json")
            .with_body("{");
        match json_object(&broken) {
            Err(Error::Validation(problems)) => assert_eq!(problems[0].kind, "json_invalid"),
            other => panic!("{other:?}"),
        }
    }

    fn object(text: &str) -> Map<String, Value> {
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn an_optional_string_sent_as_null_is_left_out() {
        let map = object(r#"{"slug": null}"#);
        let mut fields = JsonFields::new(&map);
        assert_eq!(fields.optional_string("slug", 1, 10), None);
        assert!(fields.problems.is_empty());
    }

    #[test]
    fn integral_floats_are_integers_and_other_numbers_are_not() {
        let map = object(r#"{"a": 90.0, "b": 90.5, "c": 1e300, "d": -3.0, "e": "9"}"#);
        let mut fields = JsonFields::new(&map);
        assert_eq!(fields.optional_int("a", 1, 100), Some(90));
        assert_eq!(fields.optional_int("b", 1, 100), None);
        assert_eq!(fields.optional_int("c", 1, 100), None);
        assert_eq!(fields.optional_int("d", 1, 100), None);
        assert_eq!(fields.optional_int("e", 1, 100), None);
        let kinds: Vec<&str> = fields.problems.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                "int_parsing",
                "int_parsing",
                "greater_than_equal",
                "int_parsing"
            ]
        );
    }

    #[test]
    fn a_required_string_always_explains_why_it_is_absent() {
        let body = serde_json::json!({"null": null, "number": 5, "ok": "x"});
        let map = body.as_object().unwrap();
        let mut fields = JsonFields::new(map);
        assert_eq!(fields.string("ok", 1, 5), Some("x".to_string()));
        for name in ["null", "number", "absent"] {
            assert_eq!(fields.string(name, 1, 5), None, "{name}");
        }
        let kinds: Vec<_> = fields.problems.iter().map(|p| p.kind).collect();
        assert_eq!(kinds, ["string_type", "string_type", "missing"]);
    }
}
