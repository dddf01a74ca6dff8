//! Log lines on stderr: one per request, plus start-up and error events.
//!
//! Lines are formatted on the calling thread and handed to one writer thread over a channel
//! (`Sender` is shared by reference: sending takes no lock around anything but the queue), so
//! a worker never waits on the stderr syscall. The writer takes every line queued, writes them
//! with one syscall, then pauses for [`GATHER`] before looking again: while it pauses, workers
//! queue lines without waking it, so under load the log costs one wake-up and one write per
//! pause instead of per request. An idle writer blocks on the channel, so the first line after
//! a quiet spell is written at once; a line waits at most [`GATHER`] (plus the write) while
//! busy. Nothing secret is ever passed in: callers log a user by id and a key by its
//! `key_prefix` (see `auth.md`).

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::Write;
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::OnceLock;
use std::time::Duration;
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

/// Severity, lowest first. Spelt in lower case in the config (`log_level`), which parses it
/// once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// The client's address: the socket peer, or behind a trusted proxy the client it names.
    pub client_ip: IpAddr,
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
    sender: Sender<Message>,
}

/// Most bytes gathered into one write.
const MAX_BATCH_BYTES: usize = 64 * 1024;
/// How long the writer lets lines gather after a write while lines keep coming.
pub const GATHER: Duration = Duration::from_millis(10);

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets the format and minimum level and starts the writer thread. Only the first call has
/// an effect; before it, lines go to stderr directly in text format at level info.
pub fn init(format: Format, min_level: Level) {
    let (sender, receiver) = mpsc::channel::<Message>();
    let logger = Logger {
        format,
        min_level,
        sender,
    };
    if LOGGER.set(logger).is_ok() {
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_lines(&receiver, &mut std::io::stderr(), GATHER));
        if let Err(err) = spawned {
            eprintln!("could not start the log writer thread: {err}");
        }
    }
}

/// The writer thread: blocks for a message, then writes everything queued, in order, in
/// writes of up to [`MAX_BATCH_BYTES`] (a flush is answered once the lines before it are
/// written). Only once the queue is empty does it pause for `gather`, so that a busy server's
/// lines arrive in batches; it never pauses with lines waiting, so the queue cannot outgrow
/// what stderr can take.
fn write_lines(receiver: &Receiver<Message>, out: &mut impl Write, gather: Duration) {
    let mut batch = Vec::with_capacity(4096);
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Line(line) => batch.extend_from_slice(line.as_bytes()),
                Message::Flush(done) => {
                    let _ = out.write_all(&batch);
                    batch.clear();
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            if batch.len() >= MAX_BATCH_BYTES {
                let _ = out.write_all(&batch);
                batch.clear();
            }
            next = receiver.try_recv().ok();
        }
        if !batch.is_empty() {
            let _ = out.write_all(&batch);
            batch.clear();
            std::thread::sleep(gather);
        }
    }
}

/// Waits until every line logged so far has been written.
pub fn flush() {
    if let Some(logger) = LOGGER.get() {
        let (done, wait) = mpsc::channel();
        let sent = logger.sender.send(Message::Flush(done)).is_ok();
        if sent {
            let _ = wait.recv_timeout(Duration::from_secs(2));
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
            if let Err(mpsc::SendError(Message::Line(line))) =
                logger.sender.send(Message::Line(line))
            {
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
    let line = match format {
        Format::Text => request_text(entry, &now_rfc3339()),
        Format::Json => {
            let millis = entry.duration_micros as f64 / 1000.0;
            format!(
                "{}\n",
                json!({
                    "time": now_rfc3339(), "level": "info", "message": "request",
                    "request_id": entry.request_id, "client_ip": entry.client_ip.to_string(),
                    "method": entry.method, "path": entry.path, "status": entry.status,
                    "duration_ms": (millis * 1000.0).round() / 1000.0, "principal": entry.principal,
                })
            )
        }
    };
    emit(line);
}

/// The text line of a request at `time`:
/// `<time> info request id=<id> ip=<ip> <method> <path> status=<n> duration_ms=<ms> principal=<p>`,
/// the milliseconds with three decimals. Written piece by piece rather than with `format!`:
/// every request logs one, and the formatting machinery (a float, an address) cost more than
/// the rest of the line.
fn request_text(entry: &RequestLog<'_>, time: &str) -> String {
    let mut line = String::with_capacity(
        112 + time.len() + entry.request_id.len() + entry.path.len() + entry.principal.len(),
    );
    let mut number = itoa::Buffer::new();
    for part in [time, " info request id=", entry.request_id, " ip="] {
        line.push_str(part);
    }
    push_ip(&mut line, entry.client_ip);
    for part in [" ", entry.method, " ", entry.path, " status="] {
        line.push_str(part);
    }
    line.push_str(number.format(entry.status));
    // Whole microseconds divided by 1000 to three decimals, as `{:.3}` of the float would
    // print them, without the float.
    line.push_str(" duration_ms=");
    line.push_str(number.format(entry.duration_micros / 1000));
    line.push('.');
    let fraction = (entry.duration_micros % 1000) as u16;
    for digit in [fraction / 100, fraction / 10 % 10, fraction % 10] {
        line.push(char::from(b'0' + digit as u8));
    }
    for part in [" principal=", entry.principal, "\n"] {
        line.push_str(part);
    }
    line
}

/// Appends `ip` as its `Display` writes it; an IPv4 address (the common case) without the
/// formatting machinery.
fn push_ip(line: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut number = itoa::Buffer::new();
            for (at, octet) in v4.octets().into_iter().enumerate() {
                if at > 0 {
                    line.push('.');
                }
                line.push_str(number.format(octet));
            }
        }
        IpAddr::V6(v6) => {
            use std::fmt::Write as _;
            // Writing into a String cannot fail.
            let _ = write!(line, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_keeps_lines_in_order_and_answers_flushes_after_writing() {
        let (sender, receiver) = mpsc::channel();
        let (done, flushed) = mpsc::channel();
        // More than one batch's worth, so some writes happen before the flush.
        for n in 0..20_000 {
            sender.send(Message::Line(format!("line {n}\n"))).unwrap();
        }
        sender.send(Message::Flush(done)).unwrap();
        sender.send(Message::Line("last\n".into())).unwrap();
        drop(sender);
        let mut out = Vec::new();
        write_lines(&receiver, &mut out, Duration::ZERO);
        assert!(flushed.try_recv().is_ok());
        let expected: String = (0..20_000)
            .map(|n| format!("line {n}\n"))
            .chain(["last\n".to_string()])
            .collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn levels_parse_as_they_are_logged_and_order() {
        for level in [Level::Debug, Level::Info, Level::Warn, Level::Error] {
            let spelt = format!("\"{}\"", level.as_str());
            assert_eq!(serde_json::to_string(&level).unwrap(), spelt);
            assert_eq!(serde_json::from_str::<Level>(&spelt).unwrap(), level);
        }
        assert!(serde_json::from_str::<Level>("\"verbose\"").is_err());
        assert!(Level::Debug < Level::Info && Level::Warn < Level::Error);
    }

    #[test]
    fn the_request_line_prints_as_the_formatted_line_did() {
        let time = "2026-01-02T03:04:05.5Z";
        for (ip, micros) in [
            ("127.0.0.1", 0u128),
            ("10.200.3.255", 1005),
            ("255.255.255.255", 999_999),
            ("::1", 123_456_789),
            ("2001:db8::ff00:42:8329", 7),
            ("::ffff:1.2.3.4", 1_000),
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let entry = RequestLog {
                request_id: "abc",
                client_ip: ip,
                method: "GET",
                path: "/api/v1/health",
                status: 200,
                duration_micros: micros,
                principal: "-",
            };
            let expected = format!(
                "{} info request id={} ip={} {} {} status={} duration_ms={:.3} principal={}\n",
                time,
                entry.request_id,
                ip,
                entry.method,
                entry.path,
                entry.status,
                micros as f64 / 1000.0,
                entry.principal
            );
            assert_eq!(request_text(&entry, time), expected);
        }
    }
}
