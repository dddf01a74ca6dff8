//! `POST /api/v1/keys/report-leak`: whoever finds a shipstar key where it should not be
//! (a secret-scanning service, a person) reports it, and the key is switched off at once
//! (key-security.md, "Leaked keys").
//!
//! The route takes no credential: holding the key is all the proof there is, and a key that
//! anyone can report is by definition leaked. The body is the list secret-scanning services
//! send (`[{"token", "type", "url"?, "source"?}]`, as in GitHub's secret scanning partner
//! program); the answer labels each token in order, by its SHA-256 only, and never names a
//! key id or an owner, so the route tells a reporter nothing the token did not already tell.
//! A token that is not a well-formed key (format and checksum) is answered without any
//! database work. Each stored key's report is one transaction: the deactivation (with
//! `leaked_key_action = "deactivate"`) and its `api_key.reported_leaked` event together.
//!
//! The route is throttled per client address in the public class. It sends no CORS
//! headers: scanners call it server to server, and no page in a browser has any business
//! posting keys to it.

use super::respond::ok;
use super::{extract, throttle_with, App, Ctx};
use crate::auth::api_key;
use crate::auth::ratelimit::Class;
use crate::config::LeakedKeyAction;
use crate::error::{Error, FieldError};
use crate::http::Response;
use crate::store::LeakReport;
use serde_json::{json, Value};

/// The token type a report names, and the answer's `token_type`.
pub const TOKEN_TYPE: &str = "shipstar_api_key";
/// Most tokens in one report.
pub const MAX_REPORT_ITEMS: usize = 100;
/// Longest `token` accepted, in characters (a key has 46; a scanner's false match may be
/// longer, but not without bound).
const MAX_TOKEN_CHARS: usize = 1024;
/// Longest `url`, in characters.
const MAX_URL_CHARS: usize = 2048;
/// Longest `source`, in characters.
const MAX_SOURCE_CHARS: usize = 100;

/// One reported token.
struct Item {
    token: String,
    url: Option<String>,
    source: Option<String>,
}

/// Reads the body's list: every problem of every item is reported at once, each located as
/// FastAPI would (`["body", index, field]`).
fn parse_items(body: &Value) -> Result<Vec<Item>, Error> {
    let Value::Array(list) = body else {
        return Err(Error::invalid(FieldError::new(
            &["body"],
            "list_type",
            "Input should be a valid list",
        )));
    };
    if list.is_empty() {
        return Err(Error::invalid(FieldError::new(
            &["body"],
            "too_short",
            "List should have at least 1 item after validation, not 0",
        )));
    }
    if list.len() > MAX_REPORT_ITEMS {
        return Err(Error::invalid(FieldError::new(
            &["body"],
            "too_long",
            format!(
                "List should have at most {MAX_REPORT_ITEMS} items after validation, not {}",
                list.len()
            ),
        )));
    }
    let mut problems = Vec::new();
    let mut items = Vec::with_capacity(list.len());
    for (index, value) in list.iter().enumerate() {
        let at_index = |mut problem: FieldError| {
            problem.loc.insert(1, Value::from(index));
            problem
        };
        let Value::Object(map) = value else {
            problems.push(at_index(FieldError::new(
                &["body"],
                "model_attributes_type",
                "Input should be a valid dictionary or object to extract fields from",
            )));
            continue;
        };
        let mut fields = extract::JsonFields::new(map);
        let token = fields.string("token", 1, MAX_TOKEN_CHARS);
        let kind = fields.string("type", 1, MAX_TOKEN_CHARS);
        if kind.as_deref().is_some_and(|kind| kind != TOKEN_TYPE) {
            fields.problems.push(FieldError::new(
                &["body", "type"],
                "literal_error",
                format!("Input should be '{TOKEN_TYPE}'"),
            ));
        }
        let url = fields.optional_string("url", 1, MAX_URL_CHARS);
        let source = fields.optional_string("source", 1, MAX_SOURCE_CHARS);
        if fields.problems.is_empty() {
            if let Some(token) = token {
                items.push(Item { token, url, source });
            }
        }
        problems.extend(fields.problems.into_iter().map(at_index));
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(Error::Validation(problems))
    }
}

/// `POST /api/v1/keys/report-leak` (no credential) → 200
/// `[{"token_hash", "token_type", "label": "true_positive" | "false_positive"}]` in the order
/// received. A stored key is `true_positive`: deactivated at once unless
/// `leaked_key_action = "notify"`, and `api_key.reported_leaked` is recorded either way.
pub fn post_report_leak(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    throttle_with(app, ctx, Class::Public, |ctx| ctx.client_ip(app))?;
    let items = parse_items(&extract::json_value(ctx.req)?)?;
    let action = app.config.leaked_key_action;
    let ip = ctx.client_addr(app).map(|ip| ip.to_string());
    let user_agent = ctx.user_agent();
    let now = app.clock.now_secs();
    let mut answer = Vec::with_capacity(items.len());
    for item in items {
        let token_hash = api_key::hash(&item.token);
        // Format and checksum first: a made-up or mistyped token costs no database work.
        let stored = api_key::is_well_formed(&item.token) && {
            let report = LeakReport {
                key_hash: token_hash.clone(),
                deactivate: action == LeakedKeyAction::Deactivate,
                url: item.url.clone(),
                ip: ip.clone(),
                user_agent: user_agent.clone(),
                // Where it was found and what was done; never the token.
                details: json!({
                    "url": item.url,
                    "source": item.source,
                    "leaked_key_action": match action {
                        LeakedKeyAction::Deactivate => "deactivate",
                        LeakedKeyAction::Notify => "notify",
                    },
                })
                .to_string(),
            };
            app.store.report_leaked_key(&report, now)?
        };
        answer.push(json!({
            "token_hash": token_hash,
            "token_type": TOKEN_TYPE,
            "label": if stored { "true_positive" } else { "false_positive" },
        }));
    }
    Ok(ok(&Value::Array(answer)))
}
