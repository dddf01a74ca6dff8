//! `GET /api/openapi.json`: the OpenAPI 3.1 description of every API route.
//!
//! The document is a checked-in JSON file (`openapi.json` beside this module) compiled into the
//! binary, so it cannot go missing at run time. Two things keep it true: the unit tests below
//! compare its paths and methods with the route table in both directions, and the integration
//! test `tests/integration/openapi.rs` runs schemathesis against the real binary, which fails on
//! any answer the document does not describe.
//!
//! Caching follows the public content routes: a strong `ETag` (a hash of the document) and
//! `Cache-Control: public, max-age=60`, with `If-None-Match` answered by 304. The document
//! sends no CORS headers: it is meant for tools that fetch it directly and for pages served
//! from the same origin, and keeping cross-origin reads off means a page on another site
//! cannot map the API of a server on a private network through a visitor's browser.

use super::conditional::{client_has, strong_etag};
use super::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use std::sync::OnceLock;

/// The document, exactly as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// The document may be cached briefly; the `ETag` makes revalidation free.
const CACHE_CONTROL: &str = "public, max-age=60";

/// The strong entity tag of [`DOCUMENT`]: the first 128 bits of its SHA-256, quoted.
fn etag() -> &'static str {
    static ETAG: OnceLock<String> = OnceLock::new();
    ETAG.get_or_init(|| strong_etag(DOCUMENT.as_bytes()))
}

/// `GET /api/openapi.json`: the document, or 304 when the client already has it.
pub fn get_openapi(_app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let etag = etag();
    let response = if client_has(ctx.req, etag) {
        Response::empty(304)
    } else {
        Response::bytes(200, "application/json", DOCUMENT.as_bytes().to_vec())
    };
    Ok(response
        .with_header("ETag", etag)
        .with_header("Cache-Control", CACHE_CONTROL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// Routes the document must describe: everything under `/api/`, and the MCP endpoint, with
    /// the preflight `OPTIONS` of each CORS route. The setup page and the dashboard are HTML
    /// for people, not part of the API.
    fn api_routes() -> BTreeSet<(String, String)> {
        super::super::ROUTES
            .iter()
            .filter(|route| route.pattern.starts_with("/api/") || route.pattern == "/mcp")
            .flat_map(|route| {
                let preflight = route.cors.then_some("options");
                [Some(route.method.to_lowercase().as_str()), preflight]
                    .into_iter()
                    .flatten()
                    .map(|method| (method.to_string(), route.pattern.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
        let paths = doc["paths"].as_object().expect("paths is an object");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let item = item.as_object().expect("path item is an object");
                METHODS
                    .iter()
                    .filter(|method| item.contains_key(**method))
                    .map(move |method| (method.to_string(), path.clone()))
            })
            .collect()
    }

    /// Follows a local `$ref` (`#/components/...`) to what it names.
    fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.strip_prefix('#').expect("only local references");
                resolve(doc, doc.pointer(pointer).expect("reference resolves"))
            }
            None => value,
        }
    }

    #[test]
    fn document_is_openapi_3_1_of_this_version() {
        let doc = document();
        let version = doc["openapi"].as_str().expect("openapi field");
        assert!(version.starts_with("3.1."), "openapi is {version}");
        assert_eq!(doc["info"]["version"], crate::VERSION);
    }

    #[test]
    fn every_api_route_is_documented_with_its_method() {
        let documented = documented_operations(&document());
        let missing: Vec<_> = api_routes().difference(&documented).cloned().collect();
        assert!(
            missing.is_empty(),
            "routes missing from openapi.json: {missing:?}"
        );
    }

    #[test]
    fn every_documented_operation_is_a_real_route() {
        let documented = documented_operations(&document());
        let invented: Vec<_> = documented.difference(&api_routes()).cloned().collect();
        assert!(
            invented.is_empty(),
            "openapi.json describes no such routes: {invented:?}"
        );
    }

    #[test]
    fn path_parameters_match_the_path_template() {
        let doc = document();
        for (method, path) in documented_operations(&doc) {
            let operation = &doc["paths"][&path][&method];
            let in_template: BTreeSet<&str> = path
                .split('/')
                .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|parameter| resolve(&doc, parameter))
                .filter(|parameter| parameter["in"] == "path")
                .map(|parameter| {
                    assert_eq!(parameter["required"], true, "{method} {path}");
                    parameter["name"].as_str().expect("parameter name")
                })
                .collect();
            assert_eq!(declared, in_template, "{method} {path}");
        }
    }

    #[test]
    fn operations_have_unique_ids_security_and_responses() {
        let doc = document();
        let schemes = doc["components"]["securitySchemes"]
            .as_object()
            .expect("security schemes");
        let mut ids = BTreeSet::new();
        for (method, path) in documented_operations(&doc) {
            let operation = &doc["paths"][&path][&method];
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} states its security"));
            for requirement in security {
                for scheme in requirement.as_object().expect("requirement object").keys() {
                    assert!(schemes.contains_key(scheme), "{method} {path}: {scheme}");
                }
            }
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} has no success answer"
            );
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn walk(doc: &Value, value: &Value) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(reference)) = map.get("$ref") {
                        let pointer = reference.strip_prefix('#').unwrap_or(reference);
                        assert!(doc.pointer(pointer).is_some(), "dangling {reference}");
                    }
                    map.values().for_each(|child| walk(doc, child));
                }
                Value::Array(items) => items.iter().for_each(|child| walk(doc, child)),
                _ => {}
            }
        }
        let doc = document();
        walk(&doc, &doc);
    }

    #[test]
    fn etag_is_a_quoted_hash_of_the_document() {
        let tag = etag();
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert!(tag[1..33].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
