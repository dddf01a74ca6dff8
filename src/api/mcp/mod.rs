//! `POST /mcp`: the project's content as tools for AI assistants, over the Model Context
//! Protocol's Streamable HTTP transport (contract: `mcp.md`).
//!
//! The endpoint is stateless: it issues no `Mcp-Session-Id` and keeps nothing between
//! requests, so any node of a deployment can answer any POST. `initialize` only negotiates a
//! revision; every later request names its revision in the `MCP-Protocol-Version` header (or,
//! at the stateless 2026-07-28 revision, in the request's `_meta` envelope, which that revision
//! reaches through `server/discover` instead of `initialize`).
//!
//! Checks run in a fixed order, each before any work the next one needs:
//!
//! 1. `Origin`, when present, must be this server's own origin (403): a browser page of
//!    another site must not drive a local server through DNS rebinding.
//! 2. The API key, exactly as on the public API: the same authentication, rate limit (429)
//!    and usage counts, before a byte of JSON-RPC is read (401, also for a JWT: assistants
//!    get keys, not sessions).
//! 3. `Accept` must admit `application/json` (406) and the body must be JSON (415).
//! 4. Then JSON-RPC: parse error -32700, invalid request -32600, unknown method -32601,
//!    malformed `tools/call` params -32602. Failures of a tool the assistant can act on (its
//!    arguments do not fit, not found, slug taken, invalid content) are tool results with
//!    `isError: true`, as the MCP specification asks.
//!
//! May use `http` (types only), `auth`, `store` through the domain functions; never sockets.

pub mod schemas;
pub mod tools;

use super::extract::{credential, Credential};
use super::principal::{authenticate_key, Caller};
use super::{throttle, App, Ctx};
use crate::auth::ratelimit::Class;
use crate::error::{AuthFailure, Error, FieldError};
use crate::http::{Request, Response};
use crate::store::Audit;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// JSON-RPC: the body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the JSON is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: no such method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC: the method's params are malformed (or name an unknown tool).
pub const INVALID_PARAMS: i64 = -32602;
/// MCP: the request's headers disagree with its body (2026-07-28).
pub const HEADER_MISMATCH: i64 = -32020;
/// MCP: the named protocol revision is not served.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Most messages in one batch: each is counted against the key's rate limit.
pub const MAX_BATCH_MESSAGES: usize = 20;

/// The `_meta` key naming a stateless request's revision.
const PROTOCOL_VERSION_META_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key carrying a stateless request's client capabilities.
const CLIENT_CAPABILITIES_META_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
/// The `_meta` key of a stateless result naming the server.
const SERVER_INFO_META_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// What the server tells an assistant about itself.
const INSTRUCTIONS: &str = "Tools for one shipstar project (the project of the API key): read \
    its published changelogs, blog posts and knowledge-base article sets, and create, edit, \
    publish and unpublish its content. Read tools return exactly what the public API serves.";

/// A protocol revision this server speaks, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Revision {
    /// The first revision (HTTP+SSE era; batches allowed).
    V2024_11_05,
    /// Streamable HTTP, batches, tool annotations.
    V2025_03_26,
    /// Structured tool output, no batches, the version header required.
    V2025_06_18,
    /// The newest revision reached through `initialize`.
    V2025_11_25,
    /// Stateless: no `initialize`, each request carries its revision in `_meta`.
    V2026_07_28,
}

/// Every revision, oldest first.
pub const REVISIONS: [Revision; 5] = [
    Revision::V2024_11_05,
    Revision::V2025_03_26,
    Revision::V2025_06_18,
    Revision::V2025_11_25,
    Revision::V2026_07_28,
];

/// The answer to an `initialize` asking for a revision this server does not speak.
pub const LATEST_HANDSHAKE: Revision = Revision::V2025_11_25;

/// The revision of a request without `MCP-Protocol-Version`, as the MCP specification asks.
pub const DEFAULT_REVISION: Revision = Revision::V2025_03_26;

impl Revision {
    /// The revision named `text`, if it is served.
    pub fn parse(text: &str) -> Option<Revision> {
        REVISIONS
            .into_iter()
            .find(|revision| revision.as_str() == text)
    }

    /// Its name, a date.
    pub fn as_str(self) -> &'static str {
        match self {
            Revision::V2024_11_05 => "2024-11-05",
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
        }
    }

    /// Whether it is reached through `server/discover` and the per-request envelope rather
    /// than `initialize`.
    pub fn is_stateless(self) -> bool {
        self >= Revision::V2026_07_28
    }

    /// Whether a POST may carry a JSON array of messages.
    pub fn allows_batches(self) -> bool {
        self <= Revision::V2025_03_26
    }

    /// Whether tools have output schemas and results `structuredContent`.
    pub fn has_structured_output(self) -> bool {
        self >= Revision::V2025_06_18
    }

    /// Whether tools carry annotations.
    pub fn has_annotations(self) -> bool {
        self >= Revision::V2025_03_26
    }
}

/// Every served revision's name.
fn supported_names() -> Vec<&'static str> {
    REVISIONS.iter().map(|revision| revision.as_str()).collect()
}

/// `POST /mcp`.
pub fn post_mcp(app: &App, ctx: &mut Ctx<'_>) -> Result<Response, Error> {
    let req = ctx.req;
    if let Some(origin) = req.header("origin") {
        if !same_origin(origin, &app.config.effective_base_url()) {
            return Err(Error::Forbidden("Origin not allowed".into()));
        }
    }
    let key = match credential(req, &AuthFailure::ApiKey)? {
        Credential::ApiKey(raw) => authenticate_key(app, ctx, raw)?,
        Credential::None | Credential::Jwt(_) => {
            return Err(Error::Unauthorized(AuthFailure::ApiKey))
        }
    };
    if !accepts_json(req.header("accept")) {
        return Ok(Response::detail(
            406,
            "The MCP endpoint answers with application/json; send Accept: application/json",
        ));
    }
    if req.media_type().as_deref() != Some("application/json") {
        return Err(Error::UnsupportedMediaType(
            "This route takes application/json.".into(),
        ));
    }
    let project_id = key.key.project_id.clone();
    let caller = Caller::Key(key);
    let session = Session {
        app,
        audit: ctx.audit(app, caller.actor()),
        caller,
        project_id,
        header: req.header("mcp-protocol-version"),
        req,
    };
    let message: Value = match crate::json::from_slice(&req.body) {
        Ok(message) => message,
        Err(err) => {
            let reply = error_reply(Value::Null, PARSE_ERROR, &format!("Parse error: {err}"));
            return Ok(Response::json(400, &reply));
        }
    };
    match message {
        Value::Array(batch) => session.batch(ctx, batch),
        single => {
            let outcome = session.message(single, false)?;
            Ok(outcome.into_response())
        }
    }
}

/// What one POST knows while its messages are answered.
struct Session<'a> {
    app: &'a App,
    caller: Caller,
    /// Who writes (the key) and from where, for the audit events of tool writes.
    audit: Audit,
    project_id: crate::ids::ProjectId,
    /// The `MCP-Protocol-Version` header, if sent.
    header: Option<&'a str>,
    req: &'a Request,
}

/// The answer to one message.
enum Outcome {
    /// A notification or a response: accepted, nothing to say.
    Accepted,
    /// A JSON-RPC response (result or error) and the HTTP status it is sent with alone.
    Reply(Reply, u16),
}

/// A JSON-RPC response, serialised straight into the response body.
enum Reply {
    /// An error response, or a result built as a JSON value.
    Plain(Value),
    /// A successful `tools/call`.
    Tool { id: Value, output: ToolOutput },
}

impl From<Value> for Reply {
    fn from(value: Value) -> Self {
        Reply::Plain(value)
    }
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Reply::Plain(value) => value.serialize(serializer),
            Reply::Tool { id, output } => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("jsonrpc", "2.0")?;
                map.serialize_entry("id", id)?;
                map.serialize_entry("result", output)?;
                map.end()
            }
        }
    }
}

/// A tool's result. A tool's data is serialised once, from the same wire shapes the routes
/// serialise, and goes out twice: as `structuredContent` (embedded as it is) and escaped into
/// the text block, which is all a client of an older revision reads.
struct ToolOutput {
    /// The data, or the message of a failure (`isError`).
    body: Result<Box<RawValue>, String>,
    /// Whether the revision has `structuredContent`.
    structured: bool,
    /// Adds what every result of the stateless revision carries.
    stateless: bool,
}

/// One text content block.
#[derive(Serialize)]
struct TextBlock<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

impl Serialize for ToolOutput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let text = match &self.body {
            Ok(data) => data.get(),
            Err(message) => message.as_str(),
        };
        map.serialize_entry("content", &[TextBlock { kind: "text", text }])?;
        map.serialize_entry("isError", &self.body.is_err())?;
        if let (Ok(data), true) = (&self.body, self.structured) {
            map.serialize_entry("structuredContent", data)?;
        }
        if self.stateless {
            map.serialize_entry("resultType", "complete")?;
            map.serialize_entry("_meta", &json!({SERVER_INFO_META_KEY: server_info()}))?;
        }
        map.end()
    }
}

impl Outcome {
    fn into_response(self) -> Response {
        match self {
            Outcome::Accepted => Response::empty(202),
            Outcome::Reply(body, status) => Response::json(status, &body),
        }
    }
}

/// A JSON-RPC error response.
fn error_reply(id: Value, code: i64, message: &str) -> Reply {
    Reply::Plain(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

/// A JSON-RPC error response with `data`.
fn error_reply_with(id: Value, code: i64, message: &str, data: Value) -> Reply {
    Reply::Plain(
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": data}}),
    )
}

/// The HTTP status of a JSON-RPC error sent alone. Messages that could not be taken at all
/// are 400; at the stateless revision every protocol error is mapped as its transport asks
/// (unknown method 404, other client errors 400); otherwise errors ride a 200.
fn error_status(code: i64, stateless: bool) -> u16 {
    match code {
        PARSE_ERROR | INVALID_REQUEST | UNSUPPORTED_PROTOCOL_VERSION | HEADER_MISMATCH => 400,
        INVALID_PARAMS if stateless => 400,
        METHOD_NOT_FOUND if stateless => 404,
        _ => 200,
    }
}

/// One message, classified.
enum Message {
    Request {
        id: Value,
        method: String,
        params: Map<String, Value>,
    },
    Notification,
    Response,
    /// Not a JSON-RPC message; `id` is the request's id when one could be read.
    Invalid {
        id: Value,
        why: &'static str,
    },
}

/// Whether `id` is a JSON-RPC request id MCP accepts: a string or an integer.
fn is_request_id(id: &Value) -> bool {
    id.is_string() || id.is_i64() || id.is_u64()
}

fn classify(message: Value) -> Message {
    let Value::Object(mut object) = message else {
        return Message::Invalid {
            id: Value::Null,
            why: "A JSON-RPC message must be an object",
        };
    };
    let id = object.remove("id");
    let usable_id = id.clone().filter(is_request_id).unwrap_or(Value::Null);
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Message::Invalid {
            id: usable_id,
            why: "jsonrpc must be \"2.0\"",
        };
    }
    let Some(method) = object.get("method") else {
        let one_outcome = object.contains_key("result") != object.contains_key("error");
        return if id.as_ref().is_some_and(is_request_id) && one_outcome {
            Message::Response
        } else {
            Message::Invalid {
                id: usable_id,
                why: "A message needs a method, or an id and a result or error",
            }
        };
    };
    let Some(method) = method.as_str().map(str::to_owned) else {
        return Message::Invalid {
            id: usable_id,
            why: "method must be a string",
        };
    };
    let params = match object.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(params)) => params,
        Some(_) => {
            return Message::Invalid {
                id: usable_id,
                why: "params must be an object",
            }
        }
    };
    match id {
        None => Message::Notification,
        Some(id) if is_request_id(&id) => Message::Request { id, method, params },
        Some(_) => Message::Invalid {
            id: Value::Null,
            why: "id must be a string or an integer",
        },
    }
}

impl Session<'_> {
    /// The revision the header names: `Ok(None)` when absent, `Err` with the name when it
    /// is not served.
    fn header_revision(&self) -> Result<Option<Revision>, &str> {
        match self.header {
            None => Ok(None),
            Some(name) => Revision::parse(name).map(Some).ok_or(name),
        }
    }

    /// Answers a JSON array of messages, where the request's revision allows batches.
    fn batch(&self, ctx: &mut Ctx<'_>, batch: Vec<Value>) -> Result<Response, Error> {
        let revision = match self.header_revision() {
            Ok(revision) => revision.unwrap_or(DEFAULT_REVISION),
            Err(name) => return Ok(self.unsupported(Value::Null, name).into_response()),
        };
        let refuse = |why: &str| {
            Ok(Response::json(
                400,
                &error_reply(Value::Null, INVALID_REQUEST, why),
            ))
        };
        if !revision.allows_batches() {
            return refuse(&format!(
                "Protocol revision {} does not allow batches",
                revision.as_str()
            ));
        }
        if batch.is_empty() {
            return refuse("An empty batch is not a request");
        }
        if batch.len() > MAX_BATCH_MESSAGES {
            return refuse(&format!(
                "A batch may hold at most {MAX_BATCH_MESSAGES} messages"
            ));
        }
        // The request itself was counted once when the key was checked; every further
        // message counts as one more call, so a batch buys no extra allowance.
        let client = format!("key:{}", self.key_id());
        for _ in 1..batch.len() {
            throttle(self.app, ctx, Class::Authenticated, &client)?;
        }
        let mut replies = Vec::new();
        for message in batch {
            if let Outcome::Reply(reply, _) = self.message(message, true)? {
                replies.push(reply);
            }
        }
        if replies.is_empty() {
            Ok(Response::empty(202))
        } else {
            Ok(Response::json(200, &replies))
        }
    }

    fn key_id(&self) -> &str {
        match &self.caller {
            Caller::Key(key) => &key.key.id,
            Caller::Session(session) => &session.user.id,
        }
    }

    /// The -32022 answer for a revision this server does not speak.
    fn unsupported(&self, id: Value, requested: &str) -> Outcome {
        let data = json!({"supported": supported_names(), "requested": requested});
        Outcome::Reply(
            error_reply_with(
                id,
                UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version",
                data,
            ),
            400,
        )
    }

    /// Answers one message (`in_batch` when it is an element of a batch).
    fn message(&self, message: Value, in_batch: bool) -> Result<Outcome, Error> {
        let (id, method, params) = match classify(message) {
            Message::Invalid { id, why } => {
                return Ok(Outcome::Reply(error_reply(id, INVALID_REQUEST, why), 400))
            }
            Message::Request { id, method, params } => (id, method, params),
            Message::Notification | Message::Response => {
                return Ok(match self.header_revision() {
                    Err(name) => self.unsupported(Value::Null, name),
                    Ok(_) => Outcome::Accepted,
                })
            }
        };
        if method == "initialize" {
            if in_batch {
                return Ok(Outcome::Reply(
                    error_reply(id, INVALID_REQUEST, "initialize cannot be part of a batch"),
                    400,
                ));
            }
            return Ok(self.initialize(id, &params));
        }
        let header = match self.header_revision() {
            Ok(revision) => revision,
            Err(name) => return Ok(self.unsupported(id, name)),
        };
        let envelope = params
            .get("_meta")
            .and_then(Value::as_object)
            .is_some_and(|meta| meta.contains_key(PROTOCOL_VERSION_META_KEY));
        let revision = if envelope || header.is_some_and(Revision::is_stateless) {
            if in_batch {
                return Ok(Outcome::Reply(
                    error_reply(
                        id,
                        INVALID_REQUEST,
                        "Stateless requests are sent one by one",
                    ),
                    400,
                ));
            }
            match self.stateless_revision(&method, &params) {
                Ok(revision) => revision,
                Err((code, message, data)) => {
                    let reply = match data {
                        Some(data) => error_reply_with(id, code, &message, data),
                        None => error_reply(id, code, &message),
                    };
                    return Ok(Outcome::Reply(reply, error_status(code, true)));
                }
            }
        } else {
            header.unwrap_or(DEFAULT_REVISION)
        };
        let stateless = revision.is_stateless();
        let answer = match method.as_str() {
            "ping" => Ok(json!({})),
            "server/discover" => Ok(discover()),
            "tools/list" => self.tools_list(&params, revision),
            "tools/call" => match self.tools_call(&params, revision)? {
                Ok(output) => return Ok(Outcome::Reply(Reply::Tool { id, output }, 200)),
                Err(failure) => Err(failure),
            },
            _ => Err((METHOD_NOT_FOUND, format!("Method not found: {method}"))),
        };
        Ok(match answer {
            Ok(mut result) => {
                if stateless {
                    stateless_result(&mut result);
                }
                Outcome::Reply(
                    json!({"jsonrpc": "2.0", "id": id, "result": result}).into(),
                    200,
                )
            }
            Err((code, message)) => Outcome::Reply(
                error_reply(id, code, &message),
                error_status(code, stateless),
            ),
        })
    }

    /// Checks the envelope of a stateless request as its revision asks: `_meta` carries the
    /// revision and the client's capabilities, and the routing headers repeat the revision,
    /// the method and (for `tools/call`) the tool's name.
    fn stateless_revision(
        &self,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<Revision, (i64, String, Option<Value>)> {
        let meta = params.get("_meta").and_then(Value::as_object);
        let Some(meta) = meta.filter(|meta| {
            meta.contains_key(PROTOCOL_VERSION_META_KEY)
                && meta.contains_key(CLIENT_CAPABILITIES_META_KEY)
        }) else {
            return Err((
                INVALID_PARAMS,
                format!(
                    "params._meta must carry {PROTOCOL_VERSION_META_KEY} and \
                     {CLIENT_CAPABILITIES_META_KEY}"
                ),
                None,
            ));
        };
        let mismatch = |what: &str| {
            Err((
                HEADER_MISMATCH,
                format!("{what} header does not match the request body"),
                None,
            ))
        };
        let version = meta.get(PROTOCOL_VERSION_META_KEY);
        if self.header.is_none() || version.and_then(Value::as_str) != self.header {
            return mismatch("MCP-Protocol-Version");
        }
        if self.req.header("mcp-method") != Some(method) {
            return mismatch("Mcp-Method");
        }
        if method == "tools/call" {
            if let Some(name) = params.get("name").and_then(Value::as_str) {
                if self.req.header("mcp-name") != Some(name) {
                    return mismatch("Mcp-Name");
                }
            }
        }
        let name = self.header.unwrap_or_default();
        match Revision::parse(name).filter(|revision| revision.is_stateless()) {
            Some(revision) => Ok(revision),
            None => {
                let supported: Vec<&str> = REVISIONS
                    .iter()
                    .filter(|revision| revision.is_stateless())
                    .map(|revision| revision.as_str())
                    .collect();
                Err((
                    UNSUPPORTED_PROTOCOL_VERSION,
                    "Unsupported protocol version".into(),
                    Some(json!({"supported": supported, "requested": name})),
                ))
            }
        }
    }

    /// `initialize`: the client's revision when served through `initialize`, else the newest
    /// such revision.
    fn initialize(&self, id: Value, params: &Map<String, Value>) -> Outcome {
        let Some(requested) = params.get("protocolVersion").and_then(Value::as_str) else {
            return Outcome::Reply(
                error_reply(
                    id,
                    INVALID_PARAMS,
                    "initialize needs a protocolVersion string",
                ),
                200,
            );
        };
        let revision = Revision::parse(requested)
            .filter(|revision| !revision.is_stateless())
            .unwrap_or(LATEST_HANDSHAKE);
        let result = json!({
            "protocolVersion": revision.as_str(),
            "capabilities": capabilities(),
            "serverInfo": server_info(),
            "instructions": INSTRUCTIONS,
        });
        Outcome::Reply(
            json!({"jsonrpc": "2.0", "id": id, "result": result}).into(),
            200,
        )
    }

    fn tools_list(
        &self,
        params: &Map<String, Value>,
        revision: Revision,
    ) -> Result<Value, (i64, String)> {
        if params
            .get("cursor")
            .is_some_and(|cursor| !cursor.is_string())
        {
            return Err((INVALID_PARAMS, "cursor must be a string".into()));
        }
        let tools: Vec<Value> = tools::TOOLS
            .iter()
            .map(|tool| tool.definition(revision))
            .collect();
        let mut result = json!({"tools": tools});
        if revision.is_stateless() {
            // The list depends on nothing but the revision, yet it is answered to a key.
            result["ttlMs"] = json!(0);
            result["cacheScope"] = json!("private");
        }
        Ok(result)
    }

    /// `tools/call`: a protocol error for malformed params or an unknown tool, a result
    /// (possibly `isError`) for everything the tool itself decides, and `Err` for a failure
    /// of the server, which the HTTP layer answers as everywhere (500, 503).
    fn tools_call(
        &self,
        params: &Map<String, Value>,
        revision: Revision,
    ) -> Result<Result<ToolOutput, (i64, String)>, Error> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Ok(Err((INVALID_PARAMS, "tools/call needs a tool name".into())));
        };
        let Some(tool) = tools::find(name) else {
            return Ok(Err((INVALID_PARAMS, format!("Unknown tool: {name}"))));
        };
        let empty = Map::new();
        let arguments = match params.get("arguments") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(arguments)) => arguments,
            Some(_) => return Ok(Err((INVALID_PARAMS, "arguments must be an object".into()))),
        };
        let body = match tool.call(
            self.app,
            &self.caller,
            &self.audit,
            &self.project_id,
            arguments,
        ) {
            Ok(data) => Ok(data),
            Err(err) => Err(tool_failure(&err).ok_or(err)?),
        };
        Ok(Ok(ToolOutput {
            body,
            structured: revision.has_structured_output(),
            stateless: revision.is_stateless(),
        }))
    }
}

/// The message an assistant gets for a failure it can act on, or `None` for a failure of the
/// server (which must not be dressed up as the assistant's mistake).
fn tool_failure(err: &Error) -> Option<String> {
    match err {
        Error::Validation(problems) => Some(format!(
            "Invalid arguments: {}",
            problems
                .iter()
                .map(describe_problem)
                .collect::<Vec<_>>()
                .join("; ")
        )),
        Error::NotFound(detail) | Error::Conflict(detail) | Error::Forbidden(detail) => {
            Some(detail.clone())
        }
        Error::BadRequest(detail) => Some(match detail {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }),
        _ => None,
    }
}

/// `title: String should have at least 1 character`: the problem's location without the
/// request part the routes put first (`body`), since a tool has only arguments.
fn describe_problem(problem: &FieldError) -> String {
    let path: Vec<String> = problem
        .loc
        .iter()
        .skip(1)
        .map(|part| match part {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    if path.is_empty() {
        problem.msg.clone()
    } else {
        format!("{}: {}", path.join("."), problem.msg)
    }
}

/// What the server offers: tools, whose list never changes while it runs.
fn capabilities() -> Value {
    json!({"tools": {"listChanged": false}})
}

fn server_info() -> Value {
    json!({"name": "shipstar", "title": "shipstar", "version": crate::VERSION})
}

/// The `server/discover` result: the stateless revisions and what the server offers.
fn discover() -> Value {
    let supported: Vec<&str> = REVISIONS
        .iter()
        .filter(|revision| revision.is_stateless())
        .map(|revision| revision.as_str())
        .collect();
    json!({
        "supportedVersions": supported,
        "capabilities": capabilities(),
        "instructions": INSTRUCTIONS,
        "ttlMs": 0,
        "cacheScope": "public",
    })
}

/// Adds what every stateless result carries: `resultType` and the server's name in `_meta`.
fn stateless_result(result: &mut Value) {
    if let Some(object) = result.as_object_mut() {
        object.insert("resultType".into(), json!("complete"));
        object.insert("_meta".into(), json!({SERVER_INFO_META_KEY: server_info()}));
    }
}

/// Whether the `Accept` header admits `application/json` (an absent header admits anything).
pub fn accepts_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let wanted = matches!(media.as_str(), "application/json" | "application/*" | "*/*");
        let refused = parts.any(|param| {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            name.trim().eq_ignore_ascii_case("q")
                && value.trim().parse::<f64>().map_or(true, |q| q <= 0.0)
        });
        wanted && !refused
    })
}

/// `scheme://host[:port]` of a URL, lower-cased, with the scheme's default port left out;
/// `None` for anything that is not an absolute http(s) URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let host = authority
        .strip_suffix(default_port)
        .unwrap_or(&authority)
        .to_owned();
    Some(format!("{scheme}://{host}"))
}

/// Whether the `Origin` header names the origin of `base_url` (`null` never does).
pub fn same_origin(origin: &str, base_url: &str) -> bool {
    // An Origin is only ever scheme, host and port: anything after them is not an origin.
    let only_authority = origin
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.contains(['/', '?', '#']));
    if !only_authority {
        return false;
    }
    match (origin_of(origin), origin_of(base_url)) {
        (Some(presented), Some(own)) => presented == own,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_parse_by_name_and_know_their_features() {
        for revision in REVISIONS {
            assert_eq!(Revision::parse(revision.as_str()), Some(revision));
        }
        assert_eq!(Revision::parse("2025-01-01"), None);
        assert!(Revision::V2025_03_26.allows_batches() && !Revision::V2025_06_18.allows_batches());
        assert!(!Revision::V2025_03_26.has_structured_output());
        assert!(Revision::V2026_07_28.is_stateless() && !LATEST_HANDSHAKE.is_stateless());
    }

    #[test]
    fn accept_must_admit_json() {
        for accepted in [
            None,
            Some("application/json"),
            Some("application/json, text/event-stream"),
            Some("text/event-stream, application/*;q=0.5"),
            Some("*/*"),
            Some("Application/JSON"),
        ] {
            assert!(accepts_json(accepted), "{accepted:?}");
        }
        for refused in [
            Some("text/event-stream"),
            Some("text/html"),
            Some(""),
            Some("application/json;q=0"),
            Some("application/json;q=x"),
            Some("application/jsonx"),
        ] {
            assert!(!accepts_json(refused), "{refused:?}");
        }
    }

    #[test]
    fn only_the_base_urls_own_origin_is_the_same_origin() {
        let base = "https://Example.com:443/shipstar";
        for same in ["https://example.com", "https://EXAMPLE.com:443"] {
            assert!(same_origin(same, base), "{same}");
        }
        for other in [
            "null",
            "http://example.com",
            "https://example.com:8443",
            "https://evil.example.com",
            "https://example.com.evil.net",
            "https://user@example.com",
            "",
        ] {
            assert!(!same_origin(other, base), "{other}");
        }
        assert!(same_origin(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080"
        ));
        assert!(!same_origin(
            "http://localhost:8080",
            "http://127.0.0.1:8080"
        ));
    }

    #[test]
    fn messages_are_classified_as_json_rpc_says() {
        let invalid = |value: Value| matches!(classify(value), Message::Invalid { .. });
        assert!(invalid(json!([])));
        assert!(invalid(
            json!({"jsonrpc": "1.0", "id": 1, "method": "ping"})
        ));
        assert!(invalid(json!({"jsonrpc": "2.0", "id": 1, "method": 5})));
        assert!(invalid(
            json!({"jsonrpc": "2.0", "id": 1.5, "method": "ping"})
        ));
        assert!(invalid(
            json!({"jsonrpc": "2.0", "id": null, "method": "ping"})
        ));
        assert!(invalid(
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]})
        ));
        assert!(invalid(json!({"jsonrpc": "2.0", "id": 1})));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})),
            Message::Notification
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": "a", "result": {}})),
            Message::Response
        ));
        assert!(matches!(
            classify(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"})),
            Message::Request { .. }
        ));
    }

    #[test]
    fn problems_are_described_without_the_request_part() {
        let problem = FieldError {
            loc: vec![json!("body"), json!("content"), json!("entries"), json!(2)],
            msg: "Each item must be an object".into(),
            kind: "value_error",
        };
        assert_eq!(
            describe_problem(&problem),
            "content.entries.2: Each item must be an object"
        );
        let message = tool_failure(&Error::Validation(vec![FieldError::missing(&[
            "body", "title",
        ])]));
        assert_eq!(
            message.as_deref(),
            Some("Invalid arguments: title: Field required")
        );
        assert_eq!(tool_failure(&Error::Internal("x".into())), None);
    }
}
