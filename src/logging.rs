//! Log lines on stderr: one per request, plus start-up and error events.
//!
//! Lines are formatted on the calling thread and handed to one writer thread over a channel,
//! so a worker never waits on the stderr syscall behind a lock. Nothing secret is ever passed
//! in: callers log a user by id and a key by its `key_prefix` (see `auth.md`).

use serde_json::json;
use std::io::Write;
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `key=value` words on one line.
    Text,
    /// One JSON object per line.
    Json,
}

/// Severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Detail for debugging.
    Debug,
    /// Normal operation (request lines, start-up).
    Info,
    /// Something degraded.
    Warn,
    /// Something failed.
    Error,
}

impl Level {
    /// Parses `debug`, `info`, `warn`, `error`.
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "debug" => Some(Level::Debug),
            "info" => Some(Level::Info),
            "warn" => Some(Level::Warn),
            "error" => Some(Level::Error),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// The facts of one served request.
#[derive(Debug, Clone)]
pub struct RequestLog<'a> {
    /// The request id sent back in `X-Request-Id`.
    pub request_id: &'a str,
    /// The socket peer, or `-`.
    pub client_ip: String,
    /// HTTP method.
    pub method: &'a str,
    /// Path without the query string.
    pub path: &'a str,
    /// Status code sent.
    pub status: u16,
    /// Time spent from receipt to the response being written, in microseconds.
    pub duration_micros: u128,
    /// `user:<id>`, `key:<key_prefix>` or `-`.
    pub principal: &'a str,
}

enum Message {
    Line(String),
    Flush(Sender<()>),
}

struct Logger {
    format: Format,
    min_level: Level,
    sender: Mutex<Sender<Message>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the format and minimum level and starts the writer thread. Only the first call has
/// an effect; before it, lines go to stderr directly in text format at level info.
pub fn init(format: Format, min_level: Level) {
    let (sender, receiver) = mpsc::channel::<Message>();
    let logger = Logger {
        format,
        min_level,
        sender: Mutex::new(sender),
    };
    if LOGGER.set(logger).is_ok() {
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                let stderr = std::io::stderr();
                for message in receiver {
                    match message {
                        Message::Line(line) => {
                            let _ = stderr.lock().write_all(line.as_bytes());
                        }
                        Message::Flush(done) => {
                            let _ = stderr.lock().flush();
                            let _ = done.send(());
                        }
                    }
                }
            });
        if let Err(err) = spawned {
            eprintln!("could not start the log writer thread: {err}");
        }
    }
}

/// Waits until every line logged so far has been written.
pub fn flush() {
    if let Some(logger) = LOGGER.get() {
        let (done, wait) = mpsc::channel();
        let sent = logger
            .sender
            .lock()
            .map(|sender| sender.send(Message::Flush(done)).is_ok())
            .unwrap_or(false);
        if sent {
            let _ = wait.recv_timeout(std::time::Duration::from_secs(2));
        }
    }
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("-"))
}

fn emit(line: String) {
    match LOGGER.get() {
        Some(logger) => {
            let sent = logger
                .sender
                .lock()
                .map(|sender| sender.send(Message::Line(line.clone())).is_ok())
                .unwrap_or(false);
            if !sent {
                eprint!("{line}");
            }
        }
        None => eprint!("{line}"),
    }
}

fn settings() -> (Format, Level) {
    LOGGER
        .get()
        .map(|l| (l.format, l.min_level))
        .unwrap_or((Format::Text, Level::Info))
}

/// Logs an event line at `level` (e.g. start-up facts, errors). `message` must hold no secret.
pub fn event(level: Level, message: &str) {
    let (format, min_level) = settings();
    if level < min_level {
        return;
    }
    let line = match format {
        Format::Text => format!("{} {} {}\n", now_rfc3339(), level.as_str(), message),
        Format::Json => format!(
            "{}\n",
            json!({"time": now_rfc3339(), "level": level.as_str(), "message": message})
        ),
    };
    emit(line);
}

/// Logs one served request at level info.
pub fn request(entry: &RequestLog<'_>) {
    let (format, min_level) = settings();
    if Level::Info < min_level {
        return;
    }
    let millis = entry.duration_micros as f64 / 1000.0;
    let line = match format {
        Format::Text => format!(
            "{} info request id={} ip={} {} {} status={} duration_ms={:.3} principal={}\n",
            now_rfc3339(),
            entry.request_id,
            entry.client_ip,
            entry.method,
            entry.path,
            entry.status,
            millis,
            entry.principal
        ),
        Format::Json => format!(
            "{}\n",
            json!({
                "time": now_rfc3339(), "level": "info", "message": "request",
                "request_id": entry.request_id, "client_ip": entry.client_ip,
                "method": entry.method, "path": entry.path, "status": entry.status,
                "duration_ms": (millis * 1000.0).round() / 1000.0, "principal": entry.principal,
            })
        ),
    };
    emit(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse("warn"), Some(Level::Warn));
        assert_eq!(Level::parse("verbose"), None);
        assert!(Level::Debug < Level::Info && Level::Warn < Level::Error);
    }
}
