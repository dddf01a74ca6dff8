//! The effective configuration: defaults → TOML file → `SHIPSTAR_*` environment → flags.
//!
//! # Every setting in one place
//!
//! Each setting is declared exactly once, as a row of the table `KEYS`: its name, kind, default,
//! validity check and a one-line doc. Everything else is derived from that table: reading the
//! TOML file (an unknown key is an error, so a typo cannot pass silently), the environment
//! variable names (`SHIPSTAR_<KEY>`, plus `SHIPSTAR_<KEY>_FILE` for secrets and `database`),
//! command-line flags, validation, the listing printed by `shipstar config` ([`Config::describe`]) and the
//! test that keeps `shipstar.example.toml` in sync.
//!
//! The rest of the crate reads the typed public fields of [`Config`]. Serde fills them from the
//! merged, already validated table, the way `figment` does: field names are key names, and the
//! tests check that the struct and the table list the same keys. That keeps a new setting at
//! two lines of code (a field and a row) plus its line in the example file.
//!
//! # Layering
//!
//! A layer replaces whole values (a list from the environment replaces the file's list). The
//! winning layer is remembered per key, so `shipstar config` shows where each value came from
//! and every validation error names the key and that source. An environment variable set to the
//! empty string counts as unset (compose files often declare variables they leave empty).
//!
//! The process environment is read only through the `env` function given to [`Config::load`],
//! so tests never touch global state. This module must not import `http`, `store`, `auth` or
//! `api`: they read the `Config`, not the other way round.

use crate::client_ip::ProxyRange;
use crate::email::Email;
use crate::error::StartupError;
use crate::logging::Level;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// The environment variable naming the config file when `--config` is not given.
const CONFIG_PATH_VAR: &str = "SHIPSTAR_CONFIG";
/// The config file used when neither `--config` nor `SHIPSTAR_CONFIG` names one, if it exists.
const LOCAL_CONFIG_FILE: &str = "shipstar.toml";
/// Prefix of every key's environment variable.
const ENV_PREFIX: &str = "SHIPSTAR_";

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The TOML config file.
    File,
    /// A `SHIPSTAR_*` environment variable (or, for a secret, the file its `_FILE` variant names).
    Env,
    /// A command-line flag.
    Flag,
}

/// A secret string whose `Debug`, `Display` and `Serialize` all print `***`, so it cannot reach
/// a log line or a dumped configuration by accident. The one place that needs the bytes calls
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The secret itself; call it only where the bytes are used (HMAC key, password hash).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Serializes as `"***"`: a serialized `Config` never carries a secret.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// The `database` setting: a SQLite file path or a PostgreSQL URL, which may carry a password.
/// Its `Debug`, `Display` and `Serialize` show a URL's password as `***`
/// ([`crate::database_url::masked`]), so neither a dumped configuration nor a message built
/// from it can leak it; [`DatabaseLocation::expose`] gives the value to open.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseLocation(String);

impl DatabaseLocation {
    /// Wraps a path or URL.
    pub fn new(value: impl Into<String>) -> DatabaseLocation {
        DatabaseLocation(value.into())
    }

    /// The path or URL itself, password included; call it only to open the database.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is a PostgreSQL URL rather than a SQLite file path.
    pub fn is_postgres(&self) -> bool {
        crate::database_url::is_postgres_url(&self.0)
    }
}

impl fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", crate::database_url::masked(&self.0))
    }
}

impl fmt::Display for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::database_url::masked(&self.0))
    }
}

/// Serializes masked, like [`Secret`]: a serialized `Config` never carries a password.
impl Serialize for DatabaseLocation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::database_url::masked(&self.0))
    }
}

impl<'de> Deserialize<'de> for DatabaseLocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DatabaseLocation, D::Error> {
        String::deserialize(deserializer).map(DatabaseLocation)
    }
}

impl PartialEq<&str> for DatabaseLocation {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// The request log's line format (`log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `text`: one human-readable line per request.
    Text,
    /// `json`: one JSON object per line.
    Json,
}

/// What a leak report does to a stored key (`leaked_key_action`, key-security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakedKeyAction {
    /// `deactivate`: the key is switched off at once (the next request with it is a 401).
    Deactivate,
    /// `notify`: the key stays active; the report is only recorded in the audit log.
    Notify,
}

/// Flags given on the command line, highest precedence: `(key name, raw string value)` pairs,
/// e.g. `("listen", "0.0.0.0:9000")`, `("database", "x.db")`. A value is parsed like an
/// environment value of the key's kind; a name that is not a key is an error.
#[derive(Clone, Default)]
pub struct Overrides(pub Vec<(&'static str, String)>);

/// The effective configuration, validated. Fields are named exactly as the keys; each key's
/// default and meaning are in `shipstar.example.toml` and the key table of this module.
///
/// Build it with [`Config::load`] (or [`Config::defaults`] in tests). The serde impls exist for
/// the loader: deserializing a `Config` directly would skip validation and sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A socket address (`IP:port`), checked by `SocketAddr`'s parser.
    pub listen: String,
    /// A SQLite file path or a PostgreSQL URL; one line, not empty.
    pub database: DatabaseLocation,
    /// Most PostgreSQL connections this node opens, at least 1; `None` means
    /// [`Config::effective_database_pool_size`] derives it from `workers`.
    pub database_pool_size: Option<usize>,
    /// An `http://` or `https://` URL; `None` means [`Config::effective_base_url`] derives it.
    pub base_url: Option<String>,
    /// HTTP worker threads, at least 1.
    pub workers: usize,
    /// Largest request body in bytes, at least 1024.
    pub max_body_bytes: u64,
    /// Largest stored `content` of a changelog, blog post or KB set in UTF-8 bytes, at least
    /// 1024; a longer one is a 422 on create and update.
    pub max_content_bytes: usize,
    /// Public content reads (lists, items, feeds) answered at once, at least 1; `None` means
    /// [`Config::effective_public_read_concurrency`] derives it from `workers`.
    pub max_concurrent_public_reads: Option<usize>,
    /// Idle-connection and per-request deadline in seconds, 1 to 3600.
    pub client_timeout_seconds: u64,
    /// Most client connections open at once, at least 1.
    pub max_connections: usize,
    /// Most connections open at once from one client address; 0 means no cap. Trusted
    /// proxies are exempt.
    pub max_connections_per_ip: usize,
    /// Reverse proxies as IP addresses or CIDR ranges, each checked to parse.
    pub trusted_proxies: Vec<String>,
    /// The HMAC key, at least 32 bytes; `None` means the one kept in the database.
    pub jwt_secret: Option<Secret>,
    /// Former `jwt_secret` values, each at least 32 bytes, none equal to `jwt_secret` or to
    /// another; empty unless `jwt_secret` is set. They verify only tokens they signed before
    /// they stopped signing (auth.md, "Signing keys").
    pub jwt_secret_fallbacks: Vec<Secret>,
    /// Token lifetime in seconds, at least 1.
    pub jwt_lifetime_seconds: i64,
    /// Allowed clock skew in seconds, at least 0.
    pub jwt_leeway_seconds: i64,
    /// Seconds after expiry during which a token may still be refreshed, at least 0.
    pub refresh_grace_seconds: i64,
    /// Absolute session lifetime in seconds, at least 1.
    pub session_max_age_seconds: i64,
    /// Whether the register route is open.
    pub allow_registration: bool,
    /// Whether login requires a verified email.
    pub require_verified: bool,
    /// Email of the first-start superuser, in normal form; set exactly when `admin_password`
    /// is.
    pub admin_email: Option<Email>,
    /// Password of the first-start superuser, 8 to 1024 characters.
    pub admin_password: Option<Secret>,
    /// Argon2id memory in KiB, at least 8 x `argon2_parallelism` (valid for the argon2 crate).
    pub argon2_memory_kib: u32,
    /// Argon2id iterations, at least 1.
    pub argon2_iterations: u32,
    /// Argon2id lanes, 1 to 2^24 - 1.
    pub argon2_parallelism: u32,
    /// Password hashes computed at once, at least 1.
    pub hash_threads: usize,
    /// Public requests per client IP per minute; 0 disables the limit.
    pub rate_limit_public_per_minute: u32,
    /// Authenticated requests per API key or user per minute; 0 disables the limit.
    pub rate_limit_auth_per_minute: u32,
    /// Login and register attempts per client IP per minute; 0 disables the limit.
    pub rate_limit_login_per_minute: u32,
    /// Login and register attempts per submitted email per minute; 0 disables the limit.
    pub rate_limit_login_email_per_minute: u32,
    /// Refreshes per session per minute; 0 disables the limit.
    pub rate_limit_refresh_per_minute: u32,
    /// Most clients the rate limiter tracks, at least 1.
    pub rate_limit_max_entries: usize,
    /// Days an audit event is kept before the server prunes it; 0 keeps every event.
    pub audit_retention_days: u32,
    /// What a report of a leaked key does to it.
    pub leaked_key_action: LeakedKeyAction,
    /// Request log format.
    pub log_format: LogFormat,
    /// Least severe level logged.
    pub log_level: Level,
    /// Where each key's value came from; filled by the loader.
    #[serde(skip)]
    origins: Origins,
    /// The config file that was read and how it was found; `None` when no file was read.
    #[serde(skip)]
    file_read: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The key table
// ---------------------------------------------------------------------------------------------

/// What a key holds, which decides how the file, the environment and flags spell it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A string.
    Str,
    /// A whole number within this range. The bounds also keep it inside the field's Rust type,
    /// so filling the struct cannot fail on a number that passed the check.
    Int(RangeInclusive<i64>),
    /// `true` or `false` (also `1` or `0` in the environment and flags).
    Bool,
    /// A list of strings; comma-separated in the environment and flags.
    List,
    /// A string masked wherever it is printed, also readable from `SHIPSTAR_<KEY>_FILE`.
    Secret,
    /// A list of secrets, each masked wherever it is printed: comma-separated in
    /// `SHIPSTAR_<KEY>` and flags, one per line in the file `SHIPSTAR_<KEY>_FILE` names.
    SecretList,
    /// A SQLite path or a PostgreSQL URL (`database`): a string printed with a URL's password
    /// masked, also readable from `SHIPSTAR_<KEY>_FILE` (so the password need not sit in the
    /// environment).
    Database,
}

impl Kind {
    /// Whether `SHIPSTAR_<KEY>_FILE` may give the value (it may hold a secret).
    fn has_file_variant(&self) -> bool {
        matches!(self, Kind::Secret | Kind::SecretList | Kind::Database)
    }
}

/// A key's value when no layer sets it.
#[derive(Clone, Copy)]
enum DefaultValue {
    Str(&'static str),
    Int(i64),
    Bool(bool),
    List(&'static [&'static str]),
    /// Computed from the machine at load time; the text says how.
    Computed(fn() -> i64, &'static str),
    /// Unset; the text says what happens then.
    Unset(&'static str),
    /// Unset; the function gives the value the code derives from other keys (shown by
    /// `shipstar config`), the text says how.
    Derived(fn(&Config) -> String, &'static str),
}

/// What a value must satisfy beyond its kind. Checks applied to secrets never echo the value.
#[derive(Clone, Copy)]
enum Check {
    Any,
    SocketAddr,
    HttpUrl,
    OneOf(&'static [&'static str]),
    Email,
    /// At least this many bytes.
    MinBytes(usize),
    /// Between these many characters, inclusive.
    Chars(usize, usize),
    /// Each list entry is an IP address or a CIDR range.
    IpOrCidr,
    /// Not empty and one line (a value read from a file must not carry a second line).
    OneLine,
}

/// One configuration key: the single place that declares it.
struct KeySpec {
    name: &'static str,
    kind: Kind,
    default: DefaultValue,
    check: Check,
    /// Also the key's comment in `shipstar.example.toml`, which a test holds to this text,
    /// and its line in `shipstar serve --help`.
    doc: &'static str,
}

const U32_MAX: i64 = u32::MAX as i64;
/// Durations stop at 100 years, so `now + seconds` cannot overflow an `i64` Unix timestamp.
const MAX_SECONDS: i64 = 100 * 365 * 24 * 60 * 60;
/// A sane ceiling that still leaves room for big machines; each worker is an OS thread.
const MAX_WORKERS: i64 = 4096;
const MAX_HASH_THREADS: i64 = 1024;
/// PostgreSQL's own ceiling on connections (`max_connections`) is 262143.
const MAX_DATABASE_POOL_SIZE: i64 = 262_143;
/// An hour: a client silent for longer is not coming back, and a connection costs a thread.
const MAX_CLIENT_TIMEOUT_SECONDS: i64 = 3600;
/// Longest audit retention: a thousand years, far beyond any need, and well inside `u32`
/// and the seconds of an `i64`.
const MAX_AUDIT_RETENTION_DAYS: i64 = 365_000;
/// Argon2's largest lane count (RFC 9106 section 3.1; argon2 crate `Params::MAX_P_COST`).
const ARGON2_MAX_PARALLELISM: i64 = 0xFF_FFFF;
/// Argon2 needs at least 8 KiB of memory per lane (RFC 9106 section 3.1).
const ARGON2_MIN_KIB_PER_LANE: u64 = 8;

/// Every key, in the order of `shipstar config` and `shipstar.example.toml`.
const KEYS: &[KeySpec] = &[
    // Server
    KeySpec {
        name: "listen",
        kind: Kind::Str,
        default: DefaultValue::Str("127.0.0.1:8080"),
        check: Check::SocketAddr,
        doc: "Address and port the HTTP server listens on.",
    },
    KeySpec {
        name: "database",
        kind: Kind::Database,
        default: DefaultValue::Str("shipstar.db"),
        check: Check::OneLine,
        doc: "Path of the SQLite file, or a postgres:// URL (scale-out.md)",
    },
    KeySpec {
        name: "base_url",
        kind: Kind::Str,
        default: DefaultValue::Derived(Config::effective_base_url, "http://<listen>"),
        check: Check::HttpUrl,
        doc: "Public URL of this server, used in the links it prints (such as the setup URL).",
    },
    KeySpec {
        name: "workers",
        kind: Kind::Int(1..=MAX_WORKERS),
        default: DefaultValue::Computed(default_workers, "CPU cores x 4"),
        check: Check::Any,
        doc: "Threads serving HTTP requests.",
    },
    KeySpec {
        name: "database_pool_size",
        kind: Kind::Int(1..=MAX_DATABASE_POOL_SIZE),
        default: DefaultValue::Derived(Config::describe_database_pool_size, "workers"),
        check: Check::Any,
        doc: "Most PostgreSQL connections this node opens",
    },
    KeySpec {
        name: "max_body_bytes",
        kind: Kind::Int(1024..=i64::MAX),
        default: DefaultValue::Int(1_048_576),
        check: Check::Any,
        doc: "Largest accepted request body in bytes; a larger one is answered 413.",
    },
    KeySpec {
        name: "max_content_bytes",
        kind: Kind::Int(1024..=U32_MAX),
        default: DefaultValue::Int(262_144),
        check: Check::Any,
        doc: "Largest content of a changelog, blog post or KB set in bytes; a longer one is answered 422.",
    },
    KeySpec {
        name: "max_concurrent_public_reads",
        kind: Kind::Int(0..=MAX_WORKERS),
        default: DefaultValue::Derived(
            Config::describe_public_read_concurrency,
            "three quarters of workers, at least 1",
        ),
        check: Check::Any,
        doc: "Public content reads (lists, items, feeds) served at once (0: no limit); one more is answered 503 with Retry-After: 1, so a flood of them leaves workers for everything else.",
    },
    KeySpec {
        name: "client_timeout_seconds",
        kind: Kind::Int(1..=MAX_CLIENT_TIMEOUT_SECONDS),
        default: DefaultValue::Int(30),
        check: Check::Any,
        doc: "Longest silence of an idle connection, and longest time a request may take to arrive once begun (then 408); also bounds each write of an answer.",
    },
    KeySpec {
        name: "max_connections",
        kind: Kind::Int(1..=1_000_000),
        default: DefaultValue::Int(1024),
        check: Check::Any,
        doc: "Most client connections open at once; a connection beyond it is answered 503 and closed.",
    },
    KeySpec {
        name: "max_connections_per_ip",
        kind: Kind::Int(0..=1_000_000),
        default: DefaultValue::Int(64),
        check: Check::Any,
        doc: "Most connections open at once from one client address (an IPv6 client: its /64); one more is answered 503 and closed. 0 means no cap; trusted proxies are exempt.",
    },
    KeySpec {
        name: "trusted_proxies",
        kind: Kind::List,
        default: DefaultValue::List(&[]),
        check: Check::IpOrCidr,
        doc: "Reverse proxies (IP addresses or CIDR ranges) whose X-Forwarded-For is honoured.",
    },
    // Session tokens
    KeySpec {
        name: "jwt_secret",
        kind: Kind::Secret,
        default: DefaultValue::Unset("generated on first start and kept in the database"),
        check: Check::MinBytes(32),
        doc: "HMAC-SHA256 key of session tokens (its UTF-8 bytes), at least 32 bytes.",
    },
    KeySpec {
        name: "jwt_secret_fallbacks",
        kind: Kind::SecretList,
        default: DefaultValue::List(&[]),
        check: Check::MinBytes(32),
        doc: "Former jwt_secret values: each verifies the tokens it signed before it stopped signing, until their refresh grace ends; remove one to retire it.",
    },
    KeySpec {
        name: "jwt_lifetime_seconds",
        kind: Kind::Int(1..=MAX_SECONDS),
        default: DefaultValue::Int(3600),
        check: Check::Any,
        doc: "Lifetime of a session token.",
    },
    KeySpec {
        name: "jwt_leeway_seconds",
        kind: Kind::Int(0..=MAX_SECONDS),
        default: DefaultValue::Int(0),
        check: Check::Any,
        doc: "Clock skew tolerated when checking a token's expiry.",
    },
    KeySpec {
        name: "refresh_grace_seconds",
        kind: Kind::Int(0..=MAX_SECONDS),
        default: DefaultValue::Int(2_592_000),
        check: Check::Any,
        doc: "How long after its expiry a token may still be refreshed.",
    },
    KeySpec {
        name: "session_max_age_seconds",
        kind: Kind::Int(1..=MAX_SECONDS),
        default: DefaultValue::Int(7_776_000),
        check: Check::Any,
        doc: "Absolute lifetime of a session after login; no refresh past it.",
    },
    // Accounts
    KeySpec {
        name: "allow_registration",
        kind: Kind::Bool,
        default: DefaultValue::Bool(false),
        check: Check::Any,
        doc: "Whether anyone may create an account through the register route.",
    },
    KeySpec {
        name: "require_verified",
        kind: Kind::Bool,
        default: DefaultValue::Bool(false),
        check: Check::Any,
        doc: "Whether login requires a verified email address.",
    },
    KeySpec {
        name: "admin_email",
        kind: Kind::Str,
        default: DefaultValue::Unset("no headless setup; the first start prints a setup URL"),
        check: Check::Email,
        doc: "Email of the superuser created at first start, with admin_password (headless setup).",
    },
    KeySpec {
        name: "admin_password",
        kind: Kind::Secret,
        default: DefaultValue::Unset("no headless setup; the first start prints a setup URL"),
        check: Check::Chars(8, 1024),
        doc: "Password of that superuser, 8 to 1024 characters.",
    },
    // Password hashing
    KeySpec {
        name: "argon2_memory_kib",
        kind: Kind::Int(8..=U32_MAX),
        default: DefaultValue::Int(19_456),
        check: Check::Any,
        doc: "Argon2id memory cost in KiB, at least 8 per lane.",
    },
    KeySpec {
        name: "argon2_iterations",
        kind: Kind::Int(1..=U32_MAX),
        default: DefaultValue::Int(2),
        check: Check::Any,
        doc: "Argon2id time cost (passes over memory).",
    },
    KeySpec {
        name: "argon2_parallelism",
        kind: Kind::Int(1..=ARGON2_MAX_PARALLELISM),
        default: DefaultValue::Int(1),
        check: Check::Any,
        doc: "Argon2id lanes.",
    },
    KeySpec {
        name: "hash_threads",
        kind: Kind::Int(1..=MAX_HASH_THREADS),
        default: DefaultValue::Computed(default_hash_threads, "CPU cores"),
        check: Check::Any,
        doc: "Password hashes computed at once, so a login flood cannot starve other requests.",
    },
    // Rate limits
    KeySpec {
        name: "rate_limit_public_per_minute",
        kind: Kind::Int(0..=U32_MAX),
        default: DefaultValue::Int(100),
        check: Check::Any,
        doc: "Public content requests per client IP per minute; 0 disables.",
    },
    KeySpec {
        name: "rate_limit_auth_per_minute",
        kind: Kind::Int(0..=U32_MAX),
        default: DefaultValue::Int(100),
        check: Check::Any,
        doc: "Authenticated requests per API key or user per minute; 0 disables.",
    },
    KeySpec {
        name: "rate_limit_login_per_minute",
        kind: Kind::Int(0..=U32_MAX),
        default: DefaultValue::Int(10),
        check: Check::Any,
        doc: "Login and register attempts per client IP per minute; 0 disables.",
    },
    KeySpec {
        name: "rate_limit_login_email_per_minute",
        kind: Kind::Int(0..=U32_MAX),
        default: DefaultValue::Int(30),
        check: Check::Any,
        doc: "Login and register attempts per submitted email per minute; 0 disables.",
    },
    KeySpec {
        name: "rate_limit_refresh_per_minute",
        kind: Kind::Int(0..=U32_MAX),
        default: DefaultValue::Int(10),
        check: Check::Any,
        doc: "Token refreshes per session per minute; 0 disables.",
    },
    KeySpec {
        name: "rate_limit_max_entries",
        kind: Kind::Int(1..=U32_MAX),
        default: DefaultValue::Int(100_000),
        check: Check::Any,
        doc: "Most clients the rate limiter tracks at once; idle ones are evicted first.",
    },
    // Audit log
    KeySpec {
        name: "audit_retention_days",
        kind: Kind::Int(0..=MAX_AUDIT_RETENTION_DAYS),
        default: DefaultValue::Int(365),
        check: Check::Any,
        doc: "Days an audit event is kept; older ones are pruned at start and then hourly. 0 keeps every event forever.",
    },
    // Keys
    KeySpec {
        name: "leaked_key_action",
        kind: Kind::Str,
        default: DefaultValue::Str("deactivate"),
        check: Check::OneOf(&["deactivate", "notify"]),
        doc: "What a leak report does to a stored key: deactivate it at once, or notify (only record it).",
    },
    // Logging
    KeySpec {
        name: "log_format",
        kind: Kind::Str,
        default: DefaultValue::Str("text"),
        check: Check::OneOf(&["text", "json"]),
        doc: "Log line format: text, or json for one JSON object per line.",
    },
    KeySpec {
        name: "log_level",
        kind: Kind::Str,
        default: DefaultValue::Str("info"),
        check: Check::OneOf(&["error", "warn", "info", "debug"]),
        doc: "Least severe level logged: error, warn, info or debug.",
    },
];

/// The machine's CPU cores, or 1 if the OS will not say.
fn cores() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| i64::try_from(n.get()).unwrap_or(1))
}

fn default_workers() -> i64 {
    cores().saturating_mul(4).min(MAX_WORKERS)
}

fn default_hash_threads() -> i64 {
    cores().min(MAX_HASH_THREADS)
}

impl Kind {
    /// The expected type, for error messages.
    fn expected(&self) -> &'static str {
        match self {
            Kind::Str | Kind::Secret | Kind::Database => "a string",
            Kind::Int(_) => "an integer",
            Kind::Bool => "a boolean (true or false)",
            Kind::List | Kind::SecretList => "a list of strings",
        }
    }
}

impl DefaultValue {
    /// The default as a TOML value, `None` when the key is unset by default.
    fn value(self) -> Option<toml::Value> {
        match self {
            DefaultValue::Str(text) => Some(toml::Value::String(text.to_owned())),
            DefaultValue::Int(number) => Some(toml::Value::Integer(number)),
            DefaultValue::Bool(flag) => Some(toml::Value::Boolean(flag)),
            DefaultValue::List(items) => Some(toml::Value::Array(
                items
                    .iter()
                    .map(|item| toml::Value::String((*item).to_owned()))
                    .collect(),
            )),
            DefaultValue::Computed(compute, _) => Some(toml::Value::Integer(compute())),
            DefaultValue::Unset(_) | DefaultValue::Derived(..) => None,
        }
    }

    /// How a computed or absent default comes about, if it is not a plain value.
    fn explanation(self) -> Option<&'static str> {
        match self {
            DefaultValue::Computed(_, how)
            | DefaultValue::Unset(how)
            | DefaultValue::Derived(_, how) => Some(how),
            _ => None,
        }
    }
}

impl KeySpec {
    /// `SHIPSTAR_<KEY>`.
    fn env_var(&self) -> String {
        format!("{ENV_PREFIX}{}", self.name.to_ascii_uppercase())
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Where a key's value came from, worded for messages: "config file /etc/shipstar.toml",
/// "environment variable SHIPSTAR_LISTEN", "flag --listen", "default".
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    source: Source,
    what: String,
}

impl Origin {
    fn builtin(spec: &KeySpec) -> Origin {
        let what = match spec.default.explanation() {
            Some(how) => format!("default ({how})"),
            None => "default".to_owned(),
        };
        Origin {
            source: Source::Default,
            what,
        }
    }

    fn file(path: &Path) -> Origin {
        Origin {
            source: Source::File,
            what: format!("config file {}", path.display()),
        }
    }

    fn env(var: &str) -> Origin {
        Origin {
            source: Source::Env,
            what: format!("environment variable {var}"),
        }
    }

    fn flag(key: &str) -> Origin {
        Origin {
            source: Source::Flag,
            what: format!("flag --{}", key.replace('_', "-")),
        }
    }
}

/// Key → where its value came from, for every key of a loaded `Config`.
#[derive(Clone, Default, PartialEq, Eq)]
struct Origins(BTreeMap<&'static str, Origin>);

impl Origins {
    fn get(&self, key: &str) -> Option<&Origin> {
        self.0.get(key)
    }
}

/// Lists only the keys not at their default, to keep `{config:?}` readable.
impl fmt::Debug for Origins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .filter(|(_, origin)| origin.source != Source::Default)
                    .map(|(key, origin)| (key, &origin.what)),
            )
            .finish()
    }
}

/// One key's value while the layers are applied.
struct Slot {
    value: Option<toml::Value>,
    origin: Origin,
}

/// A config file, read and parsed as TOML.
struct ConfigFile {
    path: PathBuf,
    /// How the file was found ("given by --config"), for `shipstar config`.
    how: &'static str,
    table: toml::Table,
}

/// The error for a value that fails its key's kind or check.
fn invalid(key: &str, origin: &Origin, problem: &str) -> StartupError {
    StartupError(format!("invalid {key} from {}: {problem}", origin.what))
}

impl Config {
    /// Defaults only (used by tests): every key at its default, sources all [`Source::Default`].
    pub fn defaults() -> Config {
        match resolve(None, &|_| None, &Overrides::default()) {
            Ok(config) => config,
            // Invariant: the built-in defaults pass their own checks; the test
            // `defaults_are_valid_and_match_the_contract` holds it, so this cannot be reached.
            Err(err) => panic!("built-in configuration defaults are invalid: {err}"),
        }
    }

    /// Load: defaults → file → environment → flags, then validate.
    ///
    /// The file is `config_path` (the `--config` flag; it must exist), else the one
    /// `$SHIPSTAR_CONFIG` names (it must exist), else `./shipstar.toml` if present, else none.
    /// `env` looks up an environment variable; the server passes
    /// `&|name| std::env::var(name).ok()`. `overrides` are the flags.
    ///
    /// Errors are one line naming the key and where its bad value came from: an unknown key in
    /// the file, a value of the wrong type, an environment or flag value that does not parse, a
    /// value out of range (`workers >= 1`, `max_body_bytes >= 1024`, `jwt_lifetime_seconds >= 1`,
    /// Argon2 parameters the argon2 crate accepts, `jwt_secret` of at least 32 bytes, `listen` a
    /// socket address, `log_format` and `log_level` among their values, `trusted_proxies`
    /// entries IP addresses or CIDR ranges), or an unreadable file.
    pub fn load(
        config_path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        overrides: &Overrides,
    ) -> Result<Config, StartupError> {
        let file = find_config_file(config_path, env)?;
        resolve(file, env, overrides)
    }

    /// Where `key`'s value came from ([`Source::Default`] for a name that is not a key).
    pub fn source(&self, key: &str) -> Source {
        self.origins
            .get(key)
            .map_or(Source::Default, |origin| origin.source)
    }

    /// Where `key`'s value came from, worded for a message: `flag --database`,
    /// `environment variable SHIPSTAR_DATABASE`, `config file /etc/shipstar.toml`, `default`.
    pub fn origin_of(&self, key: &str) -> String {
        self.origins
            .get(key)
            .map_or_else(|| "default".to_owned(), |origin| origin.what.clone())
    }

    /// The config file that was read and how it was found, e.g.
    /// `/etc/shipstar.toml (named by SHIPSTAR_CONFIG)`; `None` when no file was read.
    pub fn file_read(&self) -> Option<&str> {
        self.file_read.as_deref()
    }

    /// For a database that is thrown away when the server exits (`serve --ephemeral`): the
    /// Argon2 keys still at their built-in default drop to the cheapest cost Argon2 accepts
    /// (8 KiB per lane, one pass), the way test settings of web frameworks swap in a fast
    /// password hasher. A hash's cost only guards a stolen database file, and this one lives
    /// in a private directory and is deleted at exit; test suites sign in often and would
    /// otherwise pay tens of milliseconds per login and per seeded user. A value set in the
    /// file, the environment or a flag is kept.
    pub fn use_throwaway_password_hashing(&mut self) {
        let origin = Origin {
            source: Source::Flag,
            what: "flag --ephemeral (cheapest cost for a throwaway database)".to_owned(),
        };
        if self.source("argon2_iterations") == Source::Default {
            self.argon2_iterations = 1;
            self.origins.0.insert("argon2_iterations", origin.clone());
        }
        if self.source("argon2_memory_kib") == Source::Default {
            let min = ARGON2_MIN_KIB_PER_LANE * u64::from(self.argon2_parallelism);
            self.argon2_memory_kib = u32::try_from(min).unwrap_or(self.argon2_memory_kib);
            self.origins.0.insert("argon2_memory_kib", origin);
        }
    }

    /// Every environment variable the configuration reads, with its one-line meaning, in
    /// declaration order: `SHIPSTAR_CONFIG`, then `SHIPSTAR_<KEY>` per key (and
    /// `SHIPSTAR_<KEY>_FILE` for secrets and `database`). Shown by `shipstar serve --help`.
    pub fn env_vars() -> Vec<(String, &'static str)> {
        let mut vars = vec![(
            CONFIG_PATH_VAR.to_owned(),
            "Config file (TOML) when --config is not given.",
        )];
        for spec in KEYS {
            vars.push((spec.env_var(), spec.doc));
            if spec.kind == Kind::Secret {
                vars.push((
                    format!("{}_FILE", spec.env_var()),
                    "File holding that secret.",
                ));
            }
            if spec.kind == Kind::Database {
                vars.push((
                    format!("{}_FILE", spec.env_var()),
                    "File holding that path or URL on one line (keeps a URL's password out of \
                     the environment).",
                ));
            }
        }
        vars
    }

    /// The listing of `shipstar config`: one line `key = value  # source` per key, in
    /// declaration order, the value in TOML syntax. Secrets print as `"***"` (a database URL's
    /// password too), unset keys as
    /// `(unset)`; `base_url`, when unset, prints the value derived from `listen`.
    pub fn describe(&self) -> String {
        // Serializing cannot fail: every field is a string, an integer, a boolean, a list of
        // strings or an absent option (skipped). Were it to fail, every key would read
        // "(unset)", which is visibly wrong rather than a crash.
        let values = toml::Table::try_from(self).unwrap_or_default();
        let mut out = String::new();
        for spec in KEYS {
            let value = match (values.get(spec.name), spec.default) {
                (Some(_), _) if spec.kind == Kind::Secret => "\"***\"".to_owned(),
                (Some(value), _) => value.to_string(),
                (None, DefaultValue::Derived(derive, _)) => {
                    toml::Value::String(derive(self)).to_string()
                }
                (None, _) => "(unset)".to_owned(),
            };
            let origin = self
                .origins
                .get(spec.name)
                .map_or_else(|| "default".to_owned(), |origin| origin.what.clone());
            out.push_str(&format!("{} = {value}  # {origin}\n", spec.name));
        }
        out
    }

    /// `base_url` if set, else `http://{listen}`; without a trailing slash.
    pub fn effective_base_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Most PostgreSQL connections this node opens: `database_pool_size` if set, else
    /// `workers` (every worker can hold one; a request never waits for another's).
    pub fn effective_database_pool_size(&self) -> usize {
        self.database_pool_size.unwrap_or(self.workers)
    }

    /// [`Config::effective_database_pool_size`] as `shipstar config` prints it.
    fn describe_database_pool_size(&self) -> String {
        self.effective_database_pool_size().to_string()
    }

    /// `max_concurrent_public_reads` if set (0: no limit), else three quarters of `workers`
    /// (at least 1), so that a flood of public reads always leaves a quarter of the workers
    /// to health, login and authenticated calls, while ordinary public traffic rarely meets
    /// the limit.
    pub fn effective_public_read_concurrency(&self) -> usize {
        match self.max_concurrent_public_reads {
            Some(0) => usize::MAX,
            Some(limit) => limit,
            None => (self.workers - self.workers / 4).max(1),
        }
    }

    /// [`Config::effective_public_read_concurrency`] as `shipstar config` prints it.
    fn describe_public_read_concurrency(&self) -> String {
        match self.effective_public_read_concurrency() {
            usize::MAX => "0".to_string(),
            limit => limit.to_string(),
        }
    }

    /// Every key name, in declaration order (for tests and docs).
    pub fn key_names() -> Vec<&'static str> {
        KEYS.iter().map(|spec| spec.name).collect()
    }

    /// Rules that involve two keys; each error names the key to change and its source.
    fn check_combinations(&self) -> Result<(), StartupError> {
        let min_memory = ARGON2_MIN_KIB_PER_LANE * u64::from(self.argon2_parallelism);
        if u64::from(self.argon2_memory_kib) < min_memory {
            return Err(self.invalid(
                "argon2_memory_kib",
                &format!(
                    "must be at least 8 KiB per lane of argon2_parallelism ({} lanes), \
                     so at least {min_memory}, got {}",
                    self.argon2_parallelism, self.argon2_memory_kib
                ),
            ));
        }
        self.check_fallbacks()?;
        match (&self.admin_email, &self.admin_password) {
            (Some(_), None) => Err(self.invalid(
                "admin_email",
                "admin_password must be set too (SHIPSTAR_ADMIN_PASSWORD or \
                 SHIPSTAR_ADMIN_PASSWORD_FILE)",
            )),
            (None, Some(_)) => Err(self.invalid(
                "admin_password",
                "admin_email must be set too (SHIPSTAR_ADMIN_EMAIL)",
            )),
            _ => Ok(()),
        }
    }

    /// `jwt_secret_fallbacks` only next to `jwt_secret`, none equal to it or to another (a
    /// repeated secret is a mistake in the list, and would make its rotation moment moot).
    fn check_fallbacks(&self) -> Result<(), StartupError> {
        let fallbacks = &self.jwt_secret_fallbacks;
        let Some(secret) = &self.jwt_secret else {
            if fallbacks.is_empty() {
                return Ok(());
            }
            return Err(self.invalid(
                "jwt_secret_fallbacks",
                "needs jwt_secret set too (fallbacks verify old tokens next to the secret that \
                 signs); set jwt_secret or remove the fallbacks",
            ));
        };
        for (index, fallback) in fallbacks.iter().enumerate() {
            if fallback == secret {
                return Err(self.invalid(
                    "jwt_secret_fallbacks",
                    &format!("entry {} equals jwt_secret; remove it", index + 1),
                ));
            }
            if fallbacks[..index].contains(fallback) {
                return Err(self.invalid(
                    "jwt_secret_fallbacks",
                    &format!("entry {} repeats an earlier entry; remove it", index + 1),
                ));
            }
        }
        Ok(())
    }

    fn invalid(&self, key: &str, problem: &str) -> StartupError {
        match self.origins.get(key) {
            Some(origin) => invalid(key, origin, problem),
            None => StartupError(format!("invalid {key}: {problem}")),
        }
    }
}

/// `--config`, else `$SHIPSTAR_CONFIG`, else `./shipstar.toml` if present, else no file.
fn find_config_file(
    config_path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ConfigFile>, StartupError> {
    if let Some(path) = config_path {
        return read_config_file(path, "given by --config").map(Some);
    }
    if let Some(path) = env(CONFIG_PATH_VAR).filter(|path| !path.is_empty()) {
        return read_config_file(Path::new(&path), "named by SHIPSTAR_CONFIG").map(Some);
    }
    let local = Path::new(LOCAL_CONFIG_FILE);
    if local.is_file() {
        return read_config_file(local, "in the working directory").map(Some);
    }
    Ok(None)
}

fn read_config_file(path: &Path, how: &'static str) -> Result<ConfigFile, StartupError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        StartupError(format!(
            "cannot read config file {} ({how}): {err}",
            path.display()
        ))
    })?;
    parse_config_file(path, how, &text)
}

fn parse_config_file(
    path: &Path,
    how: &'static str,
    text: &str,
) -> Result<ConfigFile, StartupError> {
    let table = text.parse::<toml::Table>().map_err(|err| {
        let line = err
            .span()
            .and_then(|span| text.get(..span.start))
            .map_or(1, |before| before.matches('\n').count() + 1);
        StartupError(format!(
            "config file {} is not valid TOML at line {line}: {}",
            path.display(),
            err.message().trim().replace('\n', "; ")
        ))
    })?;
    Ok(ConfigFile {
        path: path.to_owned(),
        how,
        table,
    })
}

/// Applies the layers over the defaults, validates every value and fills the struct.
fn resolve(
    file: Option<ConfigFile>,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &Overrides,
) -> Result<Config, StartupError> {
    let mut slots: Vec<Slot> = KEYS
        .iter()
        .map(|spec| Slot {
            value: spec.default.value(),
            origin: Origin::builtin(spec),
        })
        .collect();
    let file_read = file
        .as_ref()
        .map(|file| format!("{} ({})", file.path.display(), file.how));
    if let Some(file) = file {
        apply_file(&mut slots, file)?;
    }
    apply_env(&mut slots, env)?;
    apply_flags(&mut slots, overrides)?;

    let mut table = toml::Table::new();
    let mut origins = BTreeMap::new();
    for (spec, slot) in KEYS.iter().zip(slots) {
        if let Some(value) = slot.value {
            check_value(spec, &value)
                .map_err(|problem| invalid(spec.name, &slot.origin, &problem))?;
            table.insert(spec.name.to_owned(), value);
        }
        origins.insert(spec.name, slot.origin);
    }
    // Every value passed its kind and range, so this fails only if the struct and `KEYS`
    // disagree, which the tests rule out.
    let mut config: Config = toml::Value::Table(table).try_into().map_err(|err| {
        StartupError(format!(
            "internal error: the configuration keys and the Config struct disagree: {}",
            err.message()
        ))
    })?;
    config.origins = Origins(origins);
    config.file_read = file_read;
    config.check_combinations()?;
    Ok(config)
}

fn apply_file(slots: &mut [Slot], file: ConfigFile) -> Result<(), StartupError> {
    for (key, value) in file.table {
        let Some(index) = KEYS.iter().position(|spec| spec.name == key) else {
            let hint = match closest_key(&key) {
                Some(known) => format!(" (did you mean \"{known}\"?)"),
                None => String::new(),
            };
            return Err(StartupError(format!(
                "unknown key \"{key}\" in {}{hint}; shipstar.example.toml lists every key",
                file.path.display()
            )));
        };
        slots[index] = Slot {
            value: Some(value),
            origin: Origin::file(&file.path),
        };
    }
    Ok(())
}

fn apply_env(slots: &mut [Slot], env: &dyn Fn(&str) -> Option<String>) -> Result<(), StartupError> {
    let set = |var: &str| env(var).filter(|value| !value.is_empty());
    for (spec, slot) in KEYS.iter().zip(slots.iter_mut()) {
        let var = spec.env_var();
        let file_var = format!("{var}_FILE");
        let from_file = if spec.kind.has_file_variant() {
            set(&file_var)
        } else {
            None
        };
        let (raw, origin) = match (set(&var), from_file) {
            (Some(_), Some(_)) => {
                return Err(StartupError(format!(
                    "both {var} and {file_var} are set; set only one"
                )))
            }
            (Some(raw), None) => (raw, Origin::env(&var)),
            (None, Some(path)) => {
                let text = read_secret_file(&file_var, &path)?;
                let value = match spec.kind {
                    Kind::SecretList => secret_lines(&text),
                    _ => toml::Value::String(text),
                };
                *slot = Slot {
                    value: Some(value),
                    origin: Origin::env(&file_var),
                };
                continue;
            }
            (None, None) => continue,
        };
        let value = parse_text(&spec.kind, &raw)
            .map_err(|problem| invalid(spec.name, &origin, &problem))?;
        *slot = Slot {
            value: Some(value),
            origin,
        };
    }
    Ok(())
}

/// A secret list's file: one secret per line (`\n` or `\r\n`), blank lines skipped; any other
/// whitespace is part of the secret, as in a single secret's file.
fn secret_lines(text: &str) -> toml::Value {
    toml::Value::Array(
        text.split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .filter(|line| !line.is_empty())
            .map(|line| toml::Value::String(line.to_owned()))
            .collect(),
    )
}

/// Reads the file a `SHIPSTAR_<KEY>_FILE` variable names, less one trailing newline (the one
/// `echo` and editors add); any other whitespace is part of the secret.
fn read_secret_file(var: &str, path: &str) -> Result<String, StartupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| StartupError(format!("cannot read {path} (named by {var}): {err}")))?;
    let text = match text.strip_suffix('\n') {
        Some(rest) => rest.strip_suffix('\r').unwrap_or(rest),
        None => &text,
    };
    Ok(text.to_owned())
}

fn apply_flags(slots: &mut [Slot], overrides: &Overrides) -> Result<(), StartupError> {
    for (key, raw) in &overrides.0 {
        let Some(index) = KEYS.iter().position(|spec| spec.name == *key) else {
            return Err(StartupError(format!(
                "flag --{} does not name a configuration key",
                key.replace('_', "-")
            )));
        };
        let origin = Origin::flag(key);
        let value = parse_text(&KEYS[index].kind, raw)
            .map_err(|problem| invalid(key, &origin, &problem))?;
        slots[index] = Slot {
            value: Some(value),
            origin,
        };
    }
    Ok(())
}

/// Parses an environment or flag value like a TOML scalar of `kind`: integers in decimal,
/// booleans as true/false/1/0, lists comma-separated. Never echoes a secret.
fn parse_text(kind: &Kind, raw: &str) -> Result<toml::Value, String> {
    match kind {
        Kind::Str | Kind::Secret | Kind::Database => Ok(toml::Value::String(raw.to_owned())),
        Kind::Int(_) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("expected an integer, got {raw:?}")),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(toml::Value::Boolean(true)),
            "false" | "0" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("expected true, false, 1 or 0, got {raw:?}")),
        },
        Kind::List | Kind::SecretList => Ok(toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| toml::Value::String(item.to_owned()))
                .collect(),
        )),
    }
}

/// Checks a value against its key's kind, range and check; the error is the problem only.
fn check_value(spec: &KeySpec, value: &toml::Value) -> Result<(), String> {
    match (&spec.kind, value) {
        (Kind::Str | Kind::Secret | Kind::Database, toml::Value::String(text)) => {
            check_text(spec.check, text)
        }
        (Kind::Int(range), toml::Value::Integer(number)) => {
            let (min, max) = (range.start(), range.end());
            if range.contains(number) {
                Ok(())
            } else if *max == i64::MAX {
                Err(format!("must be at least {min}, got {number}"))
            } else {
                Err(format!("must be between {min} and {max}, got {number}"))
            }
        }
        (Kind::Bool, toml::Value::Boolean(_)) => Ok(()),
        (Kind::SecretList, toml::Value::Array(items)) => {
            items
                .iter()
                .enumerate()
                .try_for_each(|(index, item)| match item {
                    // The entry's position, never its value.
                    toml::Value::String(text) => check_text(spec.check, text)
                        .map_err(|problem| format!("entry {}: {problem}", index + 1)),
                    other => Err(format!(
                        "expected a list of strings, found a list holding {}",
                        other.type_str()
                    )),
                })
        }
        (Kind::List, toml::Value::Array(items)) => items.iter().try_for_each(|item| match item {
            toml::Value::String(text) => check_text(spec.check, text),
            other => Err(format!(
                "expected a list of strings, found a list holding {}",
                other.type_str()
            )),
        }),
        (kind, other) => Err(format!(
            "expected {}, found {}",
            kind.expected(),
            other.type_str()
        )),
    }
}

fn check_text(check: Check, text: &str) -> Result<(), String> {
    match check {
        Check::Any => Ok(()),
        // Never echoes the value: a database URL may hold a password.
        Check::OneLine => {
            require(!text.trim().is_empty(), || "must not be empty".to_owned())?;
            require(!text.contains(['\n', '\r']), || {
                "must be one line (a file named by a _FILE variable holds the value on one \
                 line)"
                    .to_owned()
            })
        }
        Check::SocketAddr => require(text.parse::<SocketAddr>().is_ok(), || {
            format!("expected an IP address and port such as 127.0.0.1:8080, got {text:?}")
        }),
        Check::HttpUrl => require(is_http_url(text), || {
            format!("expected an http:// or https:// URL, got {text:?}")
        }),
        Check::OneOf(allowed) => require(allowed.contains(&text), || {
            format!("expected one of {}, got {text:?}", allowed.join(", "))
        }),
        Check::Email => require(Email::parse(text).is_ok(), || {
            format!("expected an email address, got {text:?}")
        }),
        // The two checks used on secrets say what is wrong, never the value.
        Check::MinBytes(min) => require(text.len() >= min, || {
            format!("must be at least {min} bytes long (generate one with `openssl rand -hex 32`)")
        }),
        Check::Chars(min, max) => require((min..=max).contains(&text.chars().count()), || {
            format!("must be {min} to {max} characters long")
        }),
        Check::IpOrCidr => require(ProxyRange::parse(text).is_some(), || {
            format!("expected an IP address or CIDR range such as 10.0.0.0/8, got {text:?}")
        }),
    }
}

/// `Ok` if `ok`, else the problem.
fn require(ok: bool, problem: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(problem())
    }
}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            !rest.is_empty() && !rest.starts_with('/') && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// The key closest to a misspelt one, if it is a plausible typo (edit distance at most 2).
fn closest_key(unknown: &str) -> Option<&'static str> {
    KEYS.iter()
        .map(|spec| (strsim::levenshtein(unknown, spec.name), spec.name))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const EXAMPLE: &str = include_str!("../shipstar.example.toml");

    /// Keys whose value in the example file differs from the built-in default, and why:
    /// `base_url` is derived from `listen`, `max_concurrent_public_reads` and
    /// `database_pool_size` from `workers`, and
    /// `workers`/`hash_threads` from the CPU count, so
    /// the file can only show a sample; the secrets and the admin pair have no default (unset),
    /// so the file shows placeholders.
    const EXAMPLE_EXCEPTIONS: &[&str] = &[
        "base_url",
        "workers",
        "database_pool_size",
        "max_concurrent_public_reads",
        "hash_threads",
        "jwt_secret",
        "admin_email",
        "admin_password",
    ];

    /// A file in the temp directory, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(contents: &str) -> TempFile {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "shipstar-config-test-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }

        fn text(&self) -> String {
            self.0.to_str().unwrap().to_owned()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn no_flags() -> Overrides {
        Overrides::default()
    }

    /// Loads with this file text (if any), environment and flags.
    fn load_with(
        file: Option<&str>,
        env: &[(&str, &str)],
        flags: &[(&'static str, &str)],
    ) -> Result<Config, StartupError> {
        let temp = file.map(TempFile::new);
        let overrides = Overrides(
            flags
                .iter()
                .map(|(key, value)| (*key, (*value).to_owned()))
                .collect(),
        );
        let env = env_of(env);
        match &temp {
            Some(temp) => Config::load(Some(temp.path()), &env, &overrides),
            // No --config and no SHIPSTAR_CONFIG: skip the ./shipstar.toml lookup, which
            // depends on the directory the tests run in.
            None => resolve(None, &env, &overrides),
        }
    }

    fn error_of(result: Result<Config, StartupError>) -> String {
        match result {
            Ok(config) => panic!("expected an error, got {config:?}"),
            Err(StartupError(message)) => message,
        }
    }

    /// Uncomments the lines that look like `# key = value`.
    fn uncomment_assignments(text: &str) -> String {
        text.lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest) if looks_like_assignment(rest) => rest,
                _ => line,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn looks_like_assignment(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(key, _)| {
            !key.is_empty()
                && key
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
        })
    }

    #[test]
    fn example_file_lists_every_key_with_its_default() {
        let text = uncomment_assignments(EXAMPLE);
        let file = parse_config_file(Path::new("shipstar.example.toml"), "test", &text).unwrap();
        let listed: Vec<&str> = file.table.keys().map(String::as_str).collect();
        let listed: BTreeSet<&str> = listed.into_iter().collect();
        let declared: BTreeSet<&str> = Config::key_names().into_iter().collect();
        assert_eq!(listed, declared, "keys in shipstar.example.toml vs KEYS");

        // In declaration order too, so the file reads like `shipstar config`.
        let order: Vec<&str> = text
            .lines()
            .filter_map(|line| line.split_once(" = ").map(|(key, _)| key))
            .filter(|key| KEYS.iter().any(|spec| spec.name == *key))
            .collect();
        assert_eq!(
            order,
            Config::key_names(),
            "order of keys in the example file"
        );

        // Every key's comment block opens with its doc.
        let lines: Vec<&str> = EXAMPLE.lines().collect();
        for spec in KEYS {
            let at = lines
                .iter()
                .position(|line| line.starts_with(&format!("# {} = ", spec.name)))
                .unwrap();
            let mut first = at;
            while first > 0 && lines[first - 1].starts_with("# ") {
                first -= 1;
            }
            let expected = format!("# {}", spec.doc);
            assert_eq!(lines[first], expected, "comment of {}", spec.name);
            // A computed or absent default is explained in the comment.
            if let Some(how) = spec.default.explanation() {
                let block = lines[first..at].join(" ");
                assert!(
                    block.contains(how),
                    "comment of {} should say {how:?}",
                    spec.name
                );
            }
        }

        // Uncommented, the file is a valid config whose values are the defaults.
        let loaded = resolve(Some(file), &|_| None, &no_flags()).unwrap();
        let defaults = Config::defaults();
        let loaded_values = toml::Table::try_from(&loaded).unwrap();
        let default_values = toml::Table::try_from(&defaults).unwrap();
        for name in Config::key_names() {
            assert_eq!(loaded.source(name), Source::File, "{name}");
            if !EXAMPLE_EXCEPTIONS.contains(&name) {
                assert_eq!(
                    loaded_values.get(name),
                    default_values.get(name),
                    "example value of {name} is not its default"
                );
            }
        }
    }

    #[test]
    fn config_struct_and_key_table_name_the_same_keys() {
        let mut config = Config::defaults();
        // Set every optional field, so none is skipped when serialized.
        config.base_url = Some("http://example.com".to_owned());
        config.max_concurrent_public_reads = Some(2);
        config.database_pool_size = Some(2);
        config.jwt_secret = Some(Secret::new("s".repeat(32)));
        config.admin_email = Email::parse("admin@example.com").ok();
        config.admin_password = Some(Secret::new("password".to_owned()));
        let fields: BTreeSet<String> = toml::Table::try_from(&config)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let keys: BTreeSet<String> = Config::key_names().into_iter().map(str::to_owned).collect();
        assert_eq!(fields, keys);
        assert_eq!(keys.len(), KEYS.len(), "a key is declared twice");
    }

    #[test]
    fn defaults_are_valid_and_match_the_contract() {
        let config = Config::defaults();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.database, "shipstar.db");
        assert_eq!(config.base_url, None);
        assert_eq!(config.effective_base_url(), "http://127.0.0.1:8080");
        assert_eq!(config.workers, usize::try_from(default_workers()).unwrap());
        assert!(config.workers >= 4);
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert_eq!(config.max_content_bytes, 262_144);
        assert_eq!(config.max_concurrent_public_reads, None);
        assert_eq!(
            config.effective_public_read_concurrency(),
            config.workers - config.workers / 4
        );
        assert_eq!(config.client_timeout_seconds, 30);
        assert_eq!(config.max_connections, 1024);
        assert_eq!(config.max_connections_per_ip, 64);
        assert_eq!(config.trusted_proxies, Vec::<String>::new());
        assert_eq!(config.jwt_secret, None);
        assert_eq!(config.jwt_lifetime_seconds, 3600);
        assert_eq!(config.jwt_leeway_seconds, 0);
        assert_eq!(config.refresh_grace_seconds, 2_592_000);
        assert_eq!(config.session_max_age_seconds, 7_776_000);
        assert!(!config.allow_registration);
        assert!(!config.require_verified);
        assert_eq!(config.admin_email, None);
        assert_eq!(config.admin_password, None);
        assert_eq!(config.argon2_memory_kib, 19_456);
        assert_eq!(config.argon2_iterations, 2);
        assert_eq!(config.argon2_parallelism, 1);
        assert!(config.hash_threads >= 1);
        assert_eq!(config.rate_limit_public_per_minute, 100);
        assert_eq!(config.rate_limit_auth_per_minute, 100);
        assert_eq!(config.rate_limit_login_per_minute, 10);
        assert_eq!(config.rate_limit_login_email_per_minute, 30);
        assert_eq!(config.rate_limit_refresh_per_minute, 10);
        assert_eq!(config.rate_limit_max_entries, 100_000);
        assert_eq!(config.audit_retention_days, 365);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.log_level, Level::Info);
        for name in Config::key_names() {
            assert_eq!(config.source(name), Source::Default, "{name}");
        }
    }

    #[test]
    fn database_pool_size_is_the_workers_unless_set() {
        let derived = load_with(None, &[("SHIPSTAR_WORKERS", "12")], &[]).unwrap();
        assert_eq!(derived.database_pool_size, None);
        assert_eq!(derived.effective_database_pool_size(), 12);
        assert!(derived
            .describe()
            .contains("database_pool_size = \"12\"  # default (workers)\n"));
        let set = load_with(
            Some("database_pool_size = 3\n"),
            &[("SHIPSTAR_WORKERS", "12")],
            &[],
        )
        .unwrap();
        assert_eq!(set.effective_database_pool_size(), 3);
        assert!(set
            .describe()
            .contains("database_pool_size = 3  # config file"));
        let from_env = load_with(None, &[("SHIPSTAR_DATABASE_POOL_SIZE", "5")], &[]).unwrap();
        assert_eq!(from_env.effective_database_pool_size(), 5);
        let message = error_of(load_with(
            None,
            &[("SHIPSTAR_DATABASE_POOL_SIZE", "0")],
            &[],
        ));
        assert!(
            message.contains(
                "invalid database_pool_size from environment variable \
                 SHIPSTAR_DATABASE_POOL_SIZE: must be between 1 and"
            ),
            "{message}"
        );
    }

    const DATABASE_URL: &str = "postgres://shipstar:pg-pass-w0rd@db.internal:5432/ship";

    #[test]
    fn a_database_url_password_is_masked_in_the_listing_the_debug_form_and_errors() {
        for (file, env) in [
            (Some(format!("database = \"{DATABASE_URL}\"\n")), vec![]),
            (None, vec![("SHIPSTAR_DATABASE", DATABASE_URL)]),
        ] {
            let config = load_with(file.as_deref(), &env, &[]).unwrap();
            assert_eq!(config.database.expose(), DATABASE_URL);
            assert!(config.database.is_postgres());
            let listing = config.describe();
            assert!(!listing.contains("pg-pass-w0rd"), "{listing}");
            assert!(
                listing
                    .contains("database = \"postgres://shipstar:***@db.internal:5432/ship\"  # "),
                "{listing}"
            );
            let shown = format!("{config:?} {} {:?}", config.database, config.database);
            assert!(!shown.contains("pg-pass-w0rd"), "{shown}");
        }
        // A value refused for its shape is not echoed either.
        let message = error_of(load_with(
            None,
            &[("SHIPSTAR_DATABASE", &format!("{DATABASE_URL}\nsecond line"))],
            &[],
        ));
        assert!(message.contains("invalid database"), "{message}");
        assert!(message.contains("must be one line"), "{message}");
        assert!(!message.contains("pg-pass-w0rd"), "{message}");
        // A path is shown as it is.
        let config = load_with(None, &[("SHIPSTAR_DATABASE", "/srv/a:b@c.db")], &[]).unwrap();
        assert!(config.describe().contains("database = \"/srv/a:b@c.db\""));
    }

    #[test]
    fn database_is_read_from_its_file_variable_less_one_newline() {
        let temp = TempFile::new(&format!("{DATABASE_URL}\n"));
        let config = load_with(None, &[("SHIPSTAR_DATABASE_FILE", &temp.text())], &[]).unwrap();
        assert_eq!(config.database.expose(), DATABASE_URL);
        assert_eq!(config.source("database"), Source::Env);
        let listing = config.describe();
        assert!(
            listing.contains(
                "database = \"postgres://shipstar:***@db.internal:5432/ship\"  # environment \
                 variable SHIPSTAR_DATABASE_FILE\n"
            ),
            "{listing}"
        );
        assert!(Config::env_vars()
            .iter()
            .any(|(var, _)| var == "SHIPSTAR_DATABASE_FILE"));

        // A flag still wins over the file.
        let flagged = load_with(
            None,
            &[("SHIPSTAR_DATABASE_FILE", &temp.text())],
            &[("database", "flag.db")],
        )
        .unwrap();
        assert_eq!(flagged.database, "flag.db");

        // The variable and its file variant together, or a file of two lines, are errors that
        // never show the value.
        let both = error_of(load_with(
            None,
            &[
                ("SHIPSTAR_DATABASE", "x.db"),
                ("SHIPSTAR_DATABASE_FILE", &temp.text()),
            ],
            &[],
        ));
        assert!(both.contains("set only one"), "{both}");
        let two_lines = TempFile::new(&format!("{DATABASE_URL}\nextra\n"));
        let message = error_of(load_with(
            None,
            &[("SHIPSTAR_DATABASE_FILE", &two_lines.text())],
            &[],
        ));
        assert!(message.contains("must be one line"), "{message}");
        assert!(message.contains("SHIPSTAR_DATABASE_FILE"), "{message}");
        assert!(!message.contains("pg-pass-w0rd"), "{message}");
        let missing = error_of(load_with(
            None,
            &[(
                "SHIPSTAR_DATABASE_FILE",
                "/nonexistent/shipstar-database-url",
            )],
            &[],
        ));
        assert!(
            missing.contains("/nonexistent/shipstar-database-url"),
            "{missing}"
        );
    }

    #[test]
    fn public_read_concurrency_is_three_quarters_of_the_workers_unless_set() {
        let derived = |workers: &str| {
            let config = load_with(None, &[("SHIPSTAR_WORKERS", workers)], &[]).unwrap();
            config.effective_public_read_concurrency()
        };
        assert_eq!(derived("1"), 1);
        assert_eq!(derived("2"), 2);
        assert_eq!(derived("8"), 6);
        assert_eq!(derived("9"), 7);
        let set = load_with(
            None,
            &[
                ("SHIPSTAR_WORKERS", "8"),
                ("SHIPSTAR_MAX_CONCURRENT_PUBLIC_READS", "3"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(set.effective_public_read_concurrency(), 3);
        assert!(set
            .describe()
            .contains("max_concurrent_public_reads = 3  # environment variable"));
        let off = load_with(Some("max_concurrent_public_reads = 0\n"), &[], &[]).unwrap();
        assert_eq!(off.effective_public_read_concurrency(), usize::MAX);
        assert!(off
            .describe()
            .contains("max_concurrent_public_reads = 0  # config file"));
        let message = error_of(load_with(Some("max_content_bytes = 1023\n"), &[], &[]));
        assert!(message.contains("invalid max_content_bytes"), "{message}");
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let file = "listen = \"127.0.0.1:1\"\n\
                    database = \"file.db\"\n\
                    max_body_bytes = 4096\n";
        let env = [
            ("SHIPSTAR_LISTEN", "127.0.0.1:2"),
            ("SHIPSTAR_DATABASE", "env.db"),
            ("SHIPSTAR_ALLOW_REGISTRATION", "1"),
        ];
        let config = load_with(Some(file), &env, &[("listen", "0.0.0.0:9000")]).unwrap();

        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.source("listen"), Source::Flag);
        assert_eq!(config.database, "env.db");
        assert_eq!(config.source("database"), Source::Env);
        assert!(config.allow_registration);
        assert_eq!(config.source("allow_registration"), Source::Env);
        assert_eq!(config.max_body_bytes, 4096);
        assert_eq!(config.source("max_body_bytes"), Source::File);
        assert_eq!(config.log_level, Level::Info);
        assert_eq!(config.source("log_level"), Source::Default);
        assert_eq!(config.source("not_a_key"), Source::Default);

        let listing = config.describe();
        assert!(
            listing.contains("listen = \"0.0.0.0:9000\"  # flag --listen\n"),
            "{listing}"
        );
        assert!(
            listing.contains("database = \"env.db\"  # environment variable SHIPSTAR_DATABASE\n"),
            "{listing}"
        );
        assert!(
            listing.contains("max_body_bytes = 4096  # config file "),
            "{listing}"
        );
        assert!(
            listing.contains("log_level = \"info\"  # default\n"),
            "{listing}"
        );
        assert!(
            listing.contains("base_url = \"http://0.0.0.0:9000\"  # default (http://<listen>)\n"),
            "{listing}"
        );
    }

    #[test]
    fn config_file_is_found_through_shipstar_config() {
        let file = TempFile::new("log_format = \"json\"\n");
        let env = env_of(&[("SHIPSTAR_CONFIG", &file.text())]);
        let config = Config::load(None, &env, &no_flags()).unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.source("log_format"), Source::File);
    }

    #[test]
    fn missing_config_file_is_an_error_naming_it() {
        let path = std::env::temp_dir().join("shipstar-config-test-does-not-exist.toml");
        let message = error_of(Config::load(Some(&path), &|_| None, &no_flags()));
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("--config"), "{message}");

        let env = env_of(&[("SHIPSTAR_CONFIG", path.to_str().unwrap())]);
        let message = error_of(Config::load(None, &env, &no_flags()));
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("SHIPSTAR_CONFIG"), "{message}");
    }

    #[test]
    fn unknown_key_in_file_is_an_error_naming_it() {
        let temp = TempFile::new("listn = \"127.0.0.1:1\"\n");
        let message = error_of(Config::load(Some(temp.path()), &|_| None, &no_flags()));
        let expected = format!("unknown key \"listn\" in {}", temp.path().display());
        assert!(message.contains(&expected), "{message}");
        assert!(message.contains("did you mean \"listen\""), "{message}");
    }

    #[test]
    fn a_table_in_the_file_is_an_unknown_key() {
        let message = error_of(load_with(Some("[server]\nlisten = \"x\"\n"), &[], &[]));
        assert!(message.contains("unknown key \"server\""), "{message}");
    }

    #[test]
    fn invalid_toml_is_one_line_with_the_line_number() {
        let message = error_of(load_with(Some("listen = \"a\"\nworkers = = 3\n"), &[], &[]));
        assert!(message.contains("not valid TOML at line 2"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn wrong_type_in_file_is_an_error_naming_key_and_type() {
        let message = error_of(load_with(Some("workers = \"eight\"\n"), &[], &[]));
        assert!(
            message.contains("invalid workers from config file"),
            "{message}"
        );
        assert!(
            message.contains("expected an integer, found string"),
            "{message}"
        );

        let message = error_of(load_with(Some("allow_registration = \"yes\"\n"), &[], &[]));
        assert!(message.contains("allow_registration"), "{message}");
        assert!(message.contains("expected a boolean"), "{message}");

        let message = error_of(load_with(Some("trusted_proxies = [1]\n"), &[], &[]));
        assert!(message.contains("trusted_proxies"), "{message}");
        assert!(message.contains("list of strings"), "{message}");
    }

    #[test]
    fn bad_env_integer_or_boolean_is_an_error_naming_the_variable() {
        let message = error_of(load_with(None, &[("SHIPSTAR_WORKERS", "many")], &[]));
        assert!(
            message.contains("environment variable SHIPSTAR_WORKERS"),
            "{message}"
        );
        assert!(message.contains("expected an integer"), "{message}");

        let message = error_of(load_with(
            None,
            &[("SHIPSTAR_REQUIRE_VERIFIED", "yes")],
            &[],
        ));
        assert!(
            message.contains("environment variable SHIPSTAR_REQUIRE_VERIFIED"),
            "{message}"
        );
    }

    #[test]
    fn env_values_parse_like_toml_scalars() {
        let env = [
            ("SHIPSTAR_WORKERS", "3"),
            ("SHIPSTAR_REQUIRE_VERIFIED", "true"),
            ("SHIPSTAR_ALLOW_REGISTRATION", "0"),
            (
                "SHIPSTAR_TRUSTED_PROXIES",
                "10.0.0.0/8, 192.0.2.7,2001:db8::/32",
            ),
            ("SHIPSTAR_LOG_FORMAT", "json"),
            ("SHIPSTAR_BASE_URL", "https://status.example.com/"),
            // Empty means unset.
            ("SHIPSTAR_DATABASE", ""),
        ];
        let config = load_with(None, &env, &[]).unwrap();
        assert_eq!(config.workers, 3);
        assert!(config.require_verified);
        assert!(!config.allow_registration);
        assert_eq!(
            config.trusted_proxies,
            ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
        );
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.effective_base_url(), "https://status.example.com");
        assert_eq!(config.database, "shipstar.db");
        assert_eq!(config.source("database"), Source::Default);
    }

    #[test]
    fn bad_trusted_proxy_is_rejected() {
        for bad in [
            "10.0.0.0/33",
            "proxy.local",
            "10.0.0.1/",
            "::1/129",
            "10.0.0.0/+8",
            "10.0.0.0/ 8",
            " 10.0.0.1",
            "10.0.0.0/8/8",
        ] {
            let file = format!("trusted_proxies = [\"192.0.2.1\", \"{bad}\"]\n");
            let message = error_of(load_with(Some(&file), &[], &[]));
            assert!(message.contains("invalid trusted_proxies"), "{message}");
            assert!(message.contains(bad), "{message}");
        }
    }

    #[test]
    fn bad_listen_is_rejected() {
        let message = error_of(load_with(None, &[], &[("listen", "localhost")]));
        assert!(
            message.contains("invalid listen from flag --listen"),
            "{message}"
        );
        let message = error_of(load_with(Some("listen = \"127.0.0.1\"\n"), &[], &[]));
        assert!(
            message.contains("invalid listen from config file"),
            "{message}"
        );
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let cases = [
            ("workers = 0", "workers"),
            ("max_body_bytes = 1023", "max_body_bytes"),
            ("jwt_lifetime_seconds = 0", "jwt_lifetime_seconds"),
            ("argon2_iterations = 0", "argon2_iterations"),
            ("argon2_parallelism = 0", "argon2_parallelism"),
            ("argon2_memory_kib = 4294967296", "argon2_memory_kib"),
            (
                "argon2_parallelism = 4\nargon2_memory_kib = 31",
                "argon2_memory_kib",
            ),
            ("log_format = \"xml\"", "log_format"),
            ("log_level = \"trace\"", "log_level"),
            ("base_url = \"example.com\"", "base_url"),
            ("database = \"\"", "database"),
        ];
        for (file, key) in cases {
            let message = error_of(load_with(Some(file), &[], &[]));
            assert!(
                message.starts_with(&format!("invalid {key} from config file")),
                "{file}: {message}"
            );
        }
        let config = load_with(
            Some("argon2_parallelism = 4\nargon2_memory_kib = 32"),
            &[],
            &[],
        );
        assert!(config.is_ok());
    }

    #[test]
    fn short_jwt_secret_is_rejected_without_echoing_it() {
        let short = "too-short-secret";
        let message = error_of(load_with(None, &[("SHIPSTAR_JWT_SECRET", short)], &[]));
        assert!(message.contains("invalid jwt_secret"), "{message}");
        assert!(message.contains("at least 32 bytes"), "{message}");
        assert!(!message.contains(short), "{message}");

        let exactly = "k".repeat(32);
        let config = load_with(None, &[("SHIPSTAR_JWT_SECRET", &exactly)], &[]).unwrap();
        assert_eq!(
            config.jwt_secret.map(|s| s.expose().to_owned()),
            Some(exactly)
        );
    }

    const SECRET_A: &str = "fallback-secret-a-0123456789abcdef";
    const SECRET_B: &str = "fallback-secret-b-0123456789abcdef";
    const SIGNING: &str = "signing-secret-s-0123456789abcdef";

    fn exposed(secrets: &[Secret]) -> Vec<&str> {
        secrets.iter().map(Secret::expose).collect()
    }

    #[test]
    fn jwt_secret_fallbacks_come_from_file_env_list_and_env_file_one_per_line() {
        let file = format!(
            "jwt_secret = \"{SIGNING}\"\njwt_secret_fallbacks = [\"{SECRET_A}\", \"{SECRET_B}\"]\n"
        );
        let config = load_with(Some(&file), &[], &[]).unwrap();
        assert_eq!(exposed(&config.jwt_secret_fallbacks), [SECRET_A, SECRET_B]);

        let listed = format!("{SECRET_A},{SECRET_B}");
        let env = [
            ("SHIPSTAR_JWT_SECRET", SIGNING),
            ("SHIPSTAR_JWT_SECRET_FALLBACKS", listed.as_str()),
        ];
        let config = load_with(None, &env, &[]).unwrap();
        assert_eq!(exposed(&config.jwt_secret_fallbacks), [SECRET_A, SECRET_B]);
        assert_eq!(config.source("jwt_secret_fallbacks"), Source::Env);

        // One per line, CRLF or LF, blank lines skipped; a comma is part of a line's secret.
        let with_comma = format!("{SECRET_B},tail");
        let temp = TempFile::new(&format!("{SECRET_A}\r\n\n{with_comma}\n"));
        let path = temp.text();
        let env = [
            ("SHIPSTAR_JWT_SECRET", SIGNING),
            ("SHIPSTAR_JWT_SECRET_FALLBACKS_FILE", path.as_str()),
        ];
        let config = load_with(None, &env, &[]).unwrap();
        assert_eq!(
            exposed(&config.jwt_secret_fallbacks),
            [SECRET_A, with_comma.as_str()]
        );
        let described = config.describe();
        assert!(
            described.contains(
                "jwt_secret_fallbacks = [\"***\", \"***\"]  # environment variable \
                 SHIPSTAR_JWT_SECRET_FALLBACKS_FILE\n"
            ),
            "{described}"
        );
        assert!(!described.contains(SECRET_A), "{described}");
    }

    #[test]
    fn a_short_fallback_is_rejected_by_position_without_echoing_it() {
        let short = "short-fallback";
        let listed = format!("{SECRET_A},{short}");
        let env = [
            ("SHIPSTAR_JWT_SECRET", SIGNING),
            ("SHIPSTAR_JWT_SECRET_FALLBACKS", listed.as_str()),
        ];
        let message = error_of(load_with(None, &env, &[]));
        assert!(
            message.contains("invalid jwt_secret_fallbacks"),
            "{message}"
        );
        assert!(message.contains("entry 2"), "{message}");
        assert!(message.contains("at least 32 bytes"), "{message}");
        assert!(
            !message.contains(short) && !message.contains(SECRET_A),
            "{message}"
        );
    }

    #[test]
    fn fallbacks_need_jwt_secret_and_may_not_repeat_it_or_each_other() {
        let cases = [
            (None, SECRET_A.to_owned(), "needs jwt_secret"),
            (
                Some(SIGNING),
                format!("{SECRET_A},{SIGNING}"),
                "entry 2 equals jwt_secret",
            ),
            (
                Some(SIGNING),
                format!("{SECRET_A},{SECRET_B},{SECRET_A}"),
                "entry 3 repeats",
            ),
        ];
        for (signing, listed, expected) in cases {
            let mut env = vec![("SHIPSTAR_JWT_SECRET_FALLBACKS", listed.as_str())];
            if let Some(signing) = signing {
                env.push(("SHIPSTAR_JWT_SECRET", signing));
            }
            let message = error_of(load_with(None, &env, &[]));
            assert!(message.contains(expected), "{listed}: {message}");
            assert!(!message.contains(SECRET_A), "{message}");
        }
    }

    #[test]
    fn secret_is_read_from_the_file_env_var_less_one_newline() {
        let secret = "0123456789abcdef0123456789abcdef";
        let temp = TempFile::new(&format!("{secret}\n\n"));
        let config = load_with(None, &[("SHIPSTAR_JWT_SECRET_FILE", &temp.text())], &[]).unwrap();
        // Only one newline goes: the second is part of the secret.
        let expected = format!("{secret}\n");
        assert_eq!(
            config.jwt_secret.as_ref().map(Secret::expose),
            Some(expected.as_str())
        );
        assert_eq!(config.source("jwt_secret"), Source::Env);
        assert!(config
            .describe()
            .contains("jwt_secret = \"***\"  # environment variable SHIPSTAR_JWT_SECRET_FILE\n"));

        let temp = TempFile::new("admin password\r\n");
        let env = [
            ("SHIPSTAR_ADMIN_EMAIL", "admin@example.com"),
            ("SHIPSTAR_ADMIN_PASSWORD_FILE", &temp.text()),
        ];
        let config = load_with(None, &env, &[]).unwrap();
        assert_eq!(
            config.admin_password.as_ref().map(Secret::expose),
            Some("admin password")
        );
    }

    #[test]
    fn unreadable_secret_file_is_an_error_naming_it() {
        let path = "/nonexistent/shipstar-secret";
        let message = error_of(load_with(None, &[("SHIPSTAR_JWT_SECRET_FILE", path)], &[]));
        assert!(message.contains(path), "{message}");
        assert!(message.contains("SHIPSTAR_JWT_SECRET_FILE"), "{message}");
    }

    #[test]
    fn secret_and_its_file_variant_together_are_an_error() {
        let temp = TempFile::new(&"x".repeat(40));
        let env = [
            ("SHIPSTAR_JWT_SECRET", "y".repeat(40)),
            ("SHIPSTAR_JWT_SECRET_FILE", temp.text()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let message = error_of(load_with(None, &env, &[]));
        assert!(message.contains("set only one"), "{message}");
    }

    #[test]
    fn describe_masks_secrets() {
        let jwt = "a-very-long-jwt-secret-that-must-not-leak";
        let password = "hunter2-but-longer";
        let file = format!(
            "jwt_secret = \"{jwt}\"\nadmin_email = \"root@example.com\"\n\
             admin_password = \"{password}\"\n"
        );
        let config = load_with(Some(&file), &[], &[]).unwrap();
        let listing = config.describe();
        assert!(!listing.contains(jwt), "{listing}");
        assert!(!listing.contains(password), "{listing}");
        assert!(
            listing.contains("jwt_secret = \"***\"  # config file "),
            "{listing}"
        );
        assert!(listing.contains("admin_password = \"***\""), "{listing}");
        assert!(
            listing.contains("admin_email = \"root@example.com\""),
            "{listing}"
        );

        let debug = format!("{config:?}");
        assert!(!debug.contains(jwt) && !debug.contains(password), "{debug}");

        let listing = Config::defaults().describe();
        assert!(listing.contains(
            "jwt_secret = (unset)  # default (generated on first start and kept in the database)\n"
        ));
        assert_eq!(listing.lines().count(), KEYS.len());
        let names: Vec<&str> = listing
            .lines()
            .filter_map(|line| line.split_once(" = ").map(|(key, _)| key))
            .collect();
        assert_eq!(names, Config::key_names());
    }

    #[test]
    fn admin_email_and_password_go_together() {
        let message = error_of(load_with(
            None,
            &[("SHIPSTAR_ADMIN_EMAIL", "a@example.com")],
            &[],
        ));
        assert!(message.contains("invalid admin_email"), "{message}");
        assert!(message.contains("SHIPSTAR_ADMIN_PASSWORD"), "{message}");

        let message = error_of(load_with(
            None,
            &[("SHIPSTAR_ADMIN_PASSWORD", "password1")],
            &[],
        ));
        assert!(message.contains("invalid admin_password"), "{message}");

        let message = error_of(load_with(
            None,
            &[
                ("SHIPSTAR_ADMIN_EMAIL", "a@example.com"),
                ("SHIPSTAR_ADMIN_PASSWORD", "short"),
            ],
            &[],
        ));
        assert!(message.contains("8 to 1024 characters"), "{message}");
        assert!(!message.contains("short\""), "{message}");
    }

    #[test]
    fn admin_email_follows_the_one_email_rule_and_is_kept_normalised() {
        // The same rule as every other way in: an address the API would refuse is refused.
        for bad in ["root@localhost", "root", "@example.com", "a b@example.com"] {
            let message = error_of(load_with(
                None,
                &[
                    ("SHIPSTAR_ADMIN_EMAIL", bad),
                    ("SHIPSTAR_ADMIN_PASSWORD", "password1"),
                ],
                &[],
            ));
            assert!(
                message.contains("invalid admin_email"),
                "{bad:?}: {message}"
            );
        }
        let config = load_with(
            None,
            &[
                ("SHIPSTAR_ADMIN_EMAIL", "Root@Example.com"),
                ("SHIPSTAR_ADMIN_PASSWORD", "password1"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            config.admin_email.as_ref().map(Email::as_str),
            Some("root@example.com")
        );
    }

    #[test]
    fn unknown_flag_key_is_an_error() {
        let message = error_of(load_with(None, &[], &[("lisen", "127.0.0.1:1")]));
        assert!(message.contains("--lisen"), "{message}");
    }

    #[test]
    fn secret_prints_as_stars() {
        let secret = Secret::new("correct horse battery staple".to_owned());
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.expose(), "correct horse battery staple");
    }

    #[test]
    fn effective_base_url_drops_the_trailing_slash() {
        let mut config = Config::defaults();
        config.listen = "[::1]:8080".to_owned();
        assert_eq!(config.effective_base_url(), "http://[::1]:8080");
        config.base_url = Some("https://example.com/shipstar/".to_owned());
        assert_eq!(config.effective_base_url(), "https://example.com/shipstar");
    }

    #[test]
    fn env_var_names_follow_the_key_names() {
        let names: Vec<String> = KEYS.iter().map(KeySpec::env_var).collect();
        assert!(names.contains(&"SHIPSTAR_RATE_LIMIT_MAX_ENTRIES".to_owned()));
        assert!(names.iter().all(|name| name != CONFIG_PATH_VAR));
    }
}
