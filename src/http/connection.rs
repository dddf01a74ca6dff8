//! One client connection, on a thread of its own: reads each request off the socket within the
//! limits and the deadline, and writes each answer back.
//!
//! Every read waits at most until a deadline. A connection waiting for its next request
//! (keep-alive) gets `client_timeout` of silence; once a request's first byte has arrived, the
//! whole request (head and body) must arrive within `client_timeout` of it. A client that
//! trickles one byte at a time therefore cannot hold a connection longer than one timeout per
//! request, which per-read timeouts alone would allow indefinitely. The socket timeout is only
//! lowered when a request does not arrive in one piece, so a request that does costs no extra
//! system call.

use super::wire::{self, Framing, Head, HeadError, MAX_HEADER_BYTES};
use super::{Request, Response};
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

/// Bytes asked of the socket per read while reading a head.
const READ_CHUNK: usize = 8 * 1024;
/// Least free room in the buffer for a read; below it, the buffer is compacted or grown.
const MIN_READ_ROOM: usize = 2 * 1024;
/// Longest line accepted in a chunked body (a chunk size with its extensions, or a trailer).
const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;
/// A lowered socket timeout may run this much past the deadline before it is lowered again;
/// the slack spares a system call per read for requests that arrive in a few pieces.
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

/// What reading the next request produced.
pub(super) enum Incoming {
    /// A complete request, with how to answer it.
    Request(Box<Request>, Exchange),
    /// A request refused before any handler: answer this and close the connection. The
    /// method and path are there when the head could be parsed, for the log line.
    Refused(Response, Exchange, Option<(String, String)>),
    /// The client closed the connection, went silent between requests, or broke off
    /// mid-request: close without answering.
    Closed,
}

/// What the answer to one request needs to know about it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Exchange {
    /// Minor HTTP version of the request (0 or 1); the answer speaks the same.
    pub minor_version: u8,
    /// The answer carries no body (a `HEAD` request).
    pub head_only: bool,
    /// Whether the connection may serve another request after this one.
    pub keep_alive: bool,
    /// When the request's first byte arrived.
    pub started: Instant,
    /// The request was refused before it was read whole, so unread input may follow.
    pub refused: bool,
}

/// How a read ended.
enum Fill {
    Data,
    Closed,
    TimedOut,
}

/// Why a body could not be read.
enum BodyError {
    /// The deadline passed: 408.
    TimedOut,
    /// The body is larger than the limit: 413.
    TooLarge,
    /// The chunked framing is broken: 400.
    Malformed,
    /// The client went away.
    Closed,
}

/// A client connection and what has been read from it but not yet used.
pub(super) struct Connection {
    stream: TcpStream,
    peer: Option<IpAddr>,
    /// Received bytes are `buf[..end]`, and `buf[pos..end]` is not consumed yet. The buffer
    /// stays allocated and zeroed at its full length, so a read costs no clearing.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// The read timeout currently set on the socket.
    socket_timeout: Duration,
    client_timeout: Duration,
    max_body_bytes: u64,
}

impl Connection {
    /// Wraps an accepted stream and sets its read and write timeouts to `client_timeout`.
    pub(super) fn new(
        stream: TcpStream,
        peer: Option<IpAddr>,
        client_timeout: Duration,
        max_body_bytes: u64,
    ) -> std::io::Result<Connection> {
        let client_timeout = client_timeout.max(Duration::from_millis(1));
        stream.set_read_timeout(Some(client_timeout))?;
        stream.set_write_timeout(Some(client_timeout))?;
        Ok(Connection {
            stream,
            peer,
            buf: vec![0; READ_CHUNK],
            pos: 0,
            end: 0,
            socket_timeout: client_timeout,
            client_timeout,
            max_body_bytes,
        })
    }

    /// Waits for the next request and reads it whole. `on_first_byte` runs once the request
    /// has begun to arrive (before that, the connection is idle).
    pub(super) fn next_request(&mut self, on_first_byte: &mut dyn FnMut()) -> Incoming {
        if self.unread().is_empty() {
            let idle_deadline = Instant::now() + self.client_timeout;
            match self.fill(idle_deadline) {
                Fill::Data => {}
                Fill::Closed | Fill::TimedOut => return Incoming::Closed,
            }
        }
        on_first_byte();
        let started = Instant::now();
        let deadline = started + self.client_timeout;
        let default_exchange = Exchange {
            minor_version: 1,
            head_only: false,
            keep_alive: false,
            started,
            refused: true,
        };
        let mut searched = 0;
        let head_len = loop {
            if let Some(end) = wire::head_end(self.unread(), searched) {
                break end;
            }
            searched = self.unread().len();
            if searched > MAX_HEADER_BYTES {
                let err = HeadError::TooLarge;
                return refuse(err.status(), err.detail(), default_exchange, None);
            }
            match self.fill(deadline) {
                Fill::Data => {}
                Fill::Closed => return Incoming::Closed,
                Fill::TimedOut => return refuse(408, "Request timed out", default_exchange, None),
            }
        };
        let parsed = wire::parse_head(&self.unread()[..head_len]);
        self.pos += head_len;
        let head = match parsed {
            Ok(head) => head,
            Err(err) => return refuse(err.status(), err.detail(), default_exchange, None),
        };
        let exchange = Exchange {
            minor_version: head.minor_version,
            // Methods are case-sensitive: `head` is no `HEAD` (and is refused by the router).
            head_only: head.method == "HEAD",
            keep_alive: head.wants_keep_alive(),
            started,
            refused: false,
        };
        // From here on a refusal leaves unread body bytes behind: the connection closes. The
        // method and path for its log line are copied only when it happens.
        let refused = |status, detail| {
            let path = head.target.split('?').next().unwrap_or_default();
            refuse(
                status,
                detail,
                Exchange {
                    keep_alive: false,
                    refused: true,
                    ..exchange
                },
                Some((head.method.clone(), path.to_string())),
            )
        };
        if let Err(err) = wire::check_host(&head) {
            return refused(err.status(), err.detail());
        }
        let framing = match wire::framing(&head) {
            Ok(framing) => framing,
            Err(err) => return refused(err.status(), err.detail()),
        };
        if let Framing::Length(length) = framing {
            if length > self.max_body_bytes {
                return refused(413, "Request body too large");
            }
        }
        if framing != Framing::Empty {
            if let Err(status) = self.answer_expectation(&head) {
                return refused(status, "Expectation failed");
            }
        }
        let body = match self.read_body(framing, deadline) {
            Ok(body) => body,
            Err(BodyError::TimedOut) => return refused(408, "Request timed out"),
            Err(BodyError::TooLarge) => return refused(413, "Request body too large"),
            Err(BodyError::Malformed) => return refused(400, "Malformed chunked body"),
            Err(BodyError::Closed) => return Incoming::Closed,
        };
        let request = head.into_request(body, self.peer);
        Incoming::Request(Box::new(request), exchange)
    }

    /// Sends `100 Continue` when the client waits for it before sending its body; an
    /// expectation other than `100-continue` (in any `Expect` line or list item; the field is
    /// case-insensitive, RFC 9110 section 10.1.1) is answered 417.
    fn answer_expectation(&mut self, head: &Head) -> Result<(), u16> {
        let mut expectations = head
            .values("expect")
            .flat_map(|value| value.split(','))
            .map(|item| item.trim_matches([' ', '\t']))
            .filter(|item| !item.is_empty())
            .peekable();
        if expectations.peek().is_none() {
            return Ok(());
        }
        if !expectations.all(|item| item.eq_ignore_ascii_case("100-continue")) {
            return Err(417);
        }
        // An HTTP/1.0 client does not know 100; one that already sent its body needs none.
        if head.minor_version >= 1 && self.unread().is_empty() {
            let _ = self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        Ok(())
    }

    /// Writes the serialised answer. An error means the client is gone or stopped reading.
    pub(super) fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Closes after a refusal without making the client lose the answer: the unread rest of
    /// its request is read and dropped for a moment first, because closing a socket with
    /// unread data sends a reset, which can destroy the answer before the client reads it.
    pub(super) fn linger_and_close(mut self) {
        const LINGER: Duration = Duration::from_millis(500);
        const LINGER_BYTES: usize = 1024 * 1024;
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let _ = self.stream.set_read_timeout(Some(LINGER));
        let deadline = Instant::now() + LINGER;
        let mut scratch = [0u8; 8192];
        let mut drained = 0;
        while drained < LINGER_BYTES && Instant::now() < deadline {
            match self.stream.read(&mut scratch) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// Reads more bytes into the buffer, waiting no later than `deadline`.
    fn fill(&mut self, deadline: Instant) -> Fill {
        if self.pos == self.end {
            (self.pos, self.end) = (0, 0);
        }
        if self.buf.len() - self.end < MIN_READ_ROOM {
            // Move the unread bytes to the front, and grow only when that leaves too little
            // room (a head or chunk line longer than the buffer; callers bound those).
            self.buf.copy_within(self.pos..self.end, 0);
            (self.pos, self.end) = (0, self.end - self.pos);
            if self.buf.len() - self.end < MIN_READ_ROOM {
                self.buf.resize(self.buf.len() + READ_CHUNK, 0);
            }
        }
        match self.read_before(deadline, self.end) {
            Ok(0) => Fill::Closed,
            Ok(read) => {
                self.end += read;
                Fill::Data
            }
            Err(fill) => fill,
        }
    }

    /// One read into `self.buf[at..]`, bounded by `deadline`.
    fn read_before(&mut self, deadline: Instant, at: usize) -> Result<usize, Fill> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Fill::TimedOut);
            }
            self.bound_socket_timeout(remaining)?;
            match self.stream.read(&mut self.buf[at..]) {
                Ok(n) => return Ok(n),
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue
                }
                Err(_) => return Err(Fill::Closed),
            }
        }
    }

    /// Sets the socket's read timeout to `remaining` (at most `client_timeout`) unless it is
    /// within [`DEADLINE_SLACK`] of that already, so that in the common case (a request that
    /// arrives in one piece, an idle wait after it) no system call is made.
    fn bound_socket_timeout(&mut self, remaining: Duration) -> Result<(), Fill> {
        let wanted = remaining
            .min(self.client_timeout)
            .max(Duration::from_millis(1));
        let off_by = self.socket_timeout.abs_diff(wanted);
        if off_by > DEADLINE_SLACK {
            self.stream
                .set_read_timeout(Some(wanted))
                .map_err(|_| Fill::Closed)?;
            self.socket_timeout = wanted;
        }
        Ok(())
    }

    fn read_body(&mut self, framing: Framing, deadline: Instant) -> Result<Vec<u8>, BodyError> {
        match framing {
            Framing::Empty => Ok(Vec::new()),
            Framing::Length(length) => {
                // Bounded by `max_body_bytes` (checked before) and so fits in memory.
                let length = usize::try_from(length).map_err(|_| BodyError::TooLarge)?;
                let mut body = Vec::with_capacity(length);
                self.read_exact_into(&mut body, length, deadline)?;
                Ok(body)
            }
            Framing::Chunked => self.read_chunked(deadline),
        }
    }

    /// Appends exactly `count` bytes to `body`: first what is buffered, then straight from the
    /// socket.
    fn read_exact_into(
        &mut self,
        body: &mut Vec<u8>,
        count: usize,
        deadline: Instant,
    ) -> Result<(), BodyError> {
        let buffered = self.unread().len().min(count);
        body.extend_from_slice(&self.buf[self.pos..self.pos + buffered]);
        self.pos += buffered;
        let target = body.len() + (count - buffered);
        while body.len() < target {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(BodyError::TimedOut);
            }
            self.bound_socket_timeout(remaining)
                .map_err(|_| BodyError::Closed)?;
            let old_len = body.len();
            body.resize(target.min(old_len + 64 * 1024), 0);
            let result = self.stream.read(&mut body[old_len..]);
            match result {
                Ok(0) => return Err(BodyError::Closed),
                Ok(n) => body.truncate(old_len + n),
                Err(err) => {
                    body.truncate(old_len);
                    match err.kind() {
                        ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut => {}
                        _ => return Err(BodyError::Closed),
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads a chunked body and its trailer section (which is checked and dropped), refusing it
    /// as soon as it passes `max_body_bytes`. Every line must end in CRLF: RFC 9112 section
    /// 7.1 has no bare-LF allowance for the chunked coding, and a bare LF read one way here and
    /// another way by a proxy in front is how chunked bodies are smuggled. Chunk extensions
    /// (ignored) and trailer fields (dropped) may take [`MAX_HEADER_BYTES`] each in all, as
    /// section 7.1.1 asks a server to limit them.
    fn read_chunked(&mut self, deadline: Instant) -> Result<Vec<u8>, BodyError> {
        let mut body = Vec::new();
        let mut extension_bytes = 0;
        loop {
            let line = self.read_crlf_line(deadline, MAX_CHUNK_LINE_BYTES)?;
            let size = wire::chunk_size(&line).ok_or(BodyError::Malformed)?;
            extension_bytes += line.iter().skip_while(|b| b.is_ascii_hexdigit()).count();
            if extension_bytes > MAX_HEADER_BYTES {
                return Err(BodyError::Malformed);
            }
            if size == 0 {
                break;
            }
            if (body.len() as u64).saturating_add(size) > self.max_body_bytes {
                return Err(BodyError::TooLarge);
            }
            // Bounded by `max_body_bytes` just above.
            let size = usize::try_from(size).map_err(|_| BodyError::TooLarge)?;
            self.read_exact_into(&mut body, size, deadline)?;
            // The chunk data ends with CRLF and nothing else.
            if !self.read_crlf_line(deadline, 0)?.is_empty() {
                return Err(BodyError::Malformed);
            }
        }
        let mut trailer_bytes = 0;
        loop {
            let line = self.read_crlf_line(deadline, MAX_CHUNK_LINE_BYTES)?;
            if line.is_empty() {
                return Ok(body);
            }
            trailer_bytes += line.len();
            if trailer_bytes > MAX_HEADER_BYTES || !wire::is_field_line(&line) {
                return Err(BodyError::Malformed);
            }
        }
    }

    /// Reads one line ended by CRLF (which is not returned) of at most `max` bytes; a bare LF
    /// is malformed.
    fn read_crlf_line(&mut self, deadline: Instant, max: usize) -> Result<Vec<u8>, BodyError> {
        let mut searched = 0;
        loop {
            let unread = self.unread();
            if let Some(at) = unread[searched..].iter().position(|&b| b == b'\n') {
                let end = searched + at;
                let [line @ .., b'\r'] = &unread[..end] else {
                    return Err(BodyError::Malformed);
                };
                if line.len() > max {
                    return Err(BodyError::Malformed);
                }
                let line = line.to_vec();
                self.pos += end + 1;
                return Ok(line);
            }
            searched = unread.len();
            if searched > max + 1 {
                return Err(BodyError::Malformed);
            }
            match self.fill(deadline) {
                Fill::Data => {}
                Fill::Closed => return Err(BodyError::Closed),
                Fill::TimedOut => return Err(BodyError::TimedOut),
            }
        }
    }
}

fn refuse(
    status: u16,
    detail: &str,
    exchange: Exchange,
    target: Option<(String, String)>,
) -> Incoming {
    Incoming::Refused(Response::detail(status, detail), exchange, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A connection on loopback: the server side wrapped, and the client's stream.
    fn pair(client_timeout: Duration) -> (Connection, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, peer) = listener.accept().unwrap();
        let connection = Connection::new(accepted, Some(peer.ip()), client_timeout, 1024).unwrap();
        (connection, client)
    }

    /// Sends `pieces` with `gap` between them on a thread of its own, which then keeps the
    /// connection open for a while; the thread gives the stream back when joined.
    fn send_in_pieces(
        mut client: TcpStream,
        pieces: Vec<&'static [u8]>,
        gap: Duration,
    ) -> std::thread::JoinHandle<TcpStream> {
        std::thread::spawn(move || {
            for piece in pieces {
                if client.write_all(piece).is_err() {
                    break;
                }
                std::thread::sleep(gap);
            }
            client
        })
    }

    #[test]
    fn a_request_in_pieces_is_read_whole_and_the_idle_timeout_comes_back() {
        let timeout = Duration::from_secs(2);
        let (mut connection, client) = pair(timeout);
        let sender = send_in_pieces(
            client,
            vec![
                b"POST /a?b=1 HTTP/1.1\r\nHo",
                b"st: x\r\nContent-Length: 5\r\n",
                b"\r\nhel",
                b"lo",
            ],
            Duration::from_millis(120),
        );
        let mut began = 0;
        let Incoming::Request(request, exchange) = connection.next_request(&mut || began += 1)
        else {
            panic!("no request");
        };
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/a")
        );
        assert_eq!(
            (request.query.as_str(), request.body.as_slice()),
            ("b=1", &b"hello"[..])
        );
        assert!(exchange.keep_alive && !exchange.refused);
        // The pieces lowered the socket timeout towards the request's deadline.
        assert!(connection.socket_timeout < timeout - DEADLINE_SLACK);
        // The next request comes only once the connection is idle.
        let mut client = sender.join().unwrap();
        client
            .write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let Incoming::Request(next, _) = connection.next_request(&mut || began += 1) else {
            panic!("no second request");
        };
        assert_eq!(next.path, "/next");
        assert_eq!(began, 2);
        // Waiting for it restored the full idle timeout.
        assert!(connection.socket_timeout.abs_diff(timeout) <= DEADLINE_SLACK);
    }

    #[test]
    fn a_trickled_head_is_refused_408_at_the_request_deadline() {
        let (mut connection, client) = pair(Duration::from_millis(300));
        let trickle: Vec<&'static [u8]> = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".chunks(1).collect();
        let _sender = send_in_pieces(client, trickle, Duration::from_millis(40));
        match connection.next_request(&mut || {}) {
            Incoming::Refused(response, exchange, None) => {
                assert_eq!(response.status, 408);
                assert!(!exchange.keep_alive && exchange.refused);
            }
            _ => panic!("the trickled request was not refused"),
        }
    }

    /// What the connection makes of `bytes` sent at once (the client stays open meanwhile).
    fn incoming(bytes: &[u8]) -> Incoming {
        let (mut connection, mut client) = pair(Duration::from_secs(2));
        client.write_all(bytes).unwrap();
        let incoming = connection.next_request(&mut || {});
        drop(client);
        incoming
    }

    /// The status and detail of a refusal, asserting that it closes the connection.
    fn refusal(bytes: &[u8]) -> (u16, String) {
        match incoming(bytes) {
            Incoming::Refused(response, exchange, _) => {
                assert!(!exchange.keep_alive && exchange.refused);
                let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
                (
                    response.status,
                    body["detail"].as_str().unwrap().to_string(),
                )
            }
            Incoming::Request(request, _) => panic!("served {request:?}"),
            Incoming::Closed => panic!("closed without an answer"),
        }
    }

    fn chunked(chunks: &str) -> Vec<u8> {
        format!("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}")
            .into_bytes()
    }

    #[test]
    fn every_line_of_a_chunked_body_ends_in_crlf() {
        let malformed = (400, String::from("Malformed chunked body"));
        for bad in [
            "3\nabc\r\n0\r\n\r\n",
            "3\r\nabc\n0\r\n\r\n",
            "3\r\nabc\r\n0\n\r\n",
            "3\r\nabc\r\n0\r\n\n",
            "3\r\nabc\r\n0\r\nX: y\n\r\n",
            "3\r\nabc\r\r\n0\r\n\r\n",
            "3 \r\nabc\r\n0\r\n\r\n",
            "3\r\nabcd\r\n0\r\n\r\n",
            "3\r\nabc\r\n0\r\nnot a field\r\n\r\n",
            "3\r\nabc\r\n0\r\nX: y\r\n folded\r\n\r\n",
        ] {
            assert_eq!(refusal(&chunked(bad)), malformed, "{bad:?}");
        }
        let Incoming::Request(request, exchange) = incoming(&chunked(
            "3 ; a = \"b\"\r\nabc\r\n1\r\nd\r\n0\r\nX: y\r\n\r\n",
        )) else {
            panic!("a valid chunked body was refused");
        };
        assert_eq!(request.body, b"abcd");
        assert!(exchange.keep_alive);
    }

    #[test]
    fn chunk_extensions_are_bounded_in_all() {
        let extension = format!(";x={}", "a".repeat(4000));
        let lines = format!("1{extension}\r\nz\r\n").repeat(MAX_HEADER_BYTES / 4000);
        let Incoming::Request(request, _) = incoming(&chunked(&format!("{lines}0\r\n\r\n"))) else {
            panic!("extensions within the bound were refused");
        };
        assert_eq!(request.body.len(), MAX_HEADER_BYTES / 4000);
        let (status, _) = refusal(&chunked(&format!("{lines}1{extension}\r\nz\r\n0\r\n\r\n")));
        assert_eq!(status, 400);
    }

    #[test]
    fn a_chunk_size_beyond_u64_is_413() {
        let (status, _) = refusal(&chunked("fffffffffffffffffffff\r\n"));
        assert_eq!(status, 413);
    }

    #[test]
    fn bad_host_and_http_1_0_chunked_are_refused_and_closed() {
        assert_eq!(
            refusal(b"GET / HTTP/1.1\r\n\r\n"),
            (400, String::from("Missing Host header"))
        );
        assert_eq!(
            refusal(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            (400, String::from("Repeated Host header"))
        );
        assert_eq!(
            refusal(b"GET / HTTP/1.1\r\nHost: a\xc2\xa0\r\n\r\n"),
            (400, String::from("Malformed Host header"))
        );
        assert_eq!(
            refusal(
                b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n\
                  0\r\n\r\n"
            ),
            (
                400,
                String::from("Transfer-Encoding in an HTTP/1.0 request")
            )
        );
        assert_eq!(
            refusal(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \xc2\xa03\r\n\r\nabc"),
            (400, String::from("Malformed Content-Length"))
        );
    }

    #[test]
    fn methods_keep_their_case_and_only_head_in_capitals_is_bodiless() {
        let Incoming::Request(request, exchange) = incoming(b"head / HTTP/1.1\r\nHost: x\r\n\r\n")
        else {
            panic!("not served");
        };
        assert_eq!(request.method, "head");
        assert!(!exchange.head_only);
        let Incoming::Request(_, exchange) = incoming(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n") else {
            panic!("not served");
        };
        assert!(exchange.head_only);
    }

    #[test]
    fn any_expectation_but_100_continue_is_417() {
        for expect in [
            "Expect: 100-continue, x\r\n",
            "Expect: 100-continue\r\nExpect: x\r\n",
        ] {
            let request =
                format!("POST / HTTP/1.1\r\nHost: x\r\n{expect}Content-Length: 1\r\n\r\na");
            assert_eq!(refusal(request.as_bytes()).0, 417, "{expect:?}");
        }
        let request =
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\na";
        assert!(matches!(incoming(request), Incoming::Request(..)));
    }
}
