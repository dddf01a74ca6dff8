//! One client connection's input: an incremental reader that turns the bytes received so far
//! into requests, within the limits, without ever waiting on the socket itself.
//!
//! The event loop (`event_loop`) reads whatever the socket has into the reader's buffer and
//! then asks [`Reader::parse`] for the next request. The reader answers with a complete
//! request, a refusal, a request for `100 Continue`, or "not yet" ([`Incoming::Partial`]); in
//! the last case it keeps its place (where the head search stopped, how much of the body and
//! which part of a chunk it has read), so a request that arrives in many pieces is scanned
//! once, not once per piece. Because the reader never touches a socket, every rule here is
//! unit-tested by feeding it bytes, with no threads and no sleeps.
//!
//! Deadlines are the event loop's: it asks [`Reader::started`] when the request in progress
//! began (its first byte), closes a connection that stays idle for `client_timeout`, and
//! calls [`Reader::timed_out`] when a begun request has not arrived whole within
//! `client_timeout` of its first byte. A client that trickles one byte at a time therefore
//! cannot hold a connection longer than one timeout per request.

use super::wire::{self, Framing, Head, HeadError, MAX_HEADER_BYTES};
use super::{Request, Response};
use std::io::Read;
use std::net::IpAddr;
use std::time::Instant;

/// Bytes of a fresh input buffer, and the size it grows by.
pub(super) const READ_CHUNK: usize = 8 * 1024;
/// Least free room in the buffer for a read; below it, the buffer is compacted or grown.
const MIN_READ_ROOM: usize = 2 * 1024;
/// Longest line accepted in a chunked body (a chunk size with its extensions, or a trailer).
const MAX_CHUNK_LINE_BYTES: usize = 4 * 1024;

/// What the bytes received so far make.
pub(super) enum Incoming {
    /// A complete request, with how to answer it.
    Request(Box<Request>, Exchange),
    /// A request refused before any handler: answer this and close the connection. The
    /// method and path are there when the head could be parsed, for the log line.
    Refused(Response, Exchange, Option<(String, String)>),
    /// The client waits for `100 Continue` before it sends the body: send it, then parse on.
    Continue,
    /// Not enough bytes yet: read more, then parse again.
    Partial,
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

impl Exchange {
    /// The exchange of a request refused before its head could be parsed.
    fn unparsed(started: Instant) -> Exchange {
        Exchange {
            minor_version: 1,
            head_only: false,
            keep_alive: false,
            started,
            refused: true,
        }
    }
}

/// Why a body could not be read.
enum BodyError {
    /// The body is larger than the limit: 413.
    TooLarge,
    /// The chunked framing is broken: 400.
    Malformed,
}

/// Where the reader is in the request in progress.
enum State {
    /// Between requests: nothing of the next one has been looked at.
    Idle,
    /// Reading a head; `searched` bytes of it were looked at without finding its end.
    Head { started: Instant, searched: usize },
    /// The head is parsed; reading its body.
    Body(Box<Body>),
}

/// A request whose head is parsed and whose body is being read.
struct Body {
    head: Head,
    exchange: Exchange,
    bytes: Vec<u8>,
    progress: Progress,
}

/// How much of a body is still to come.
enum Progress {
    /// This many bytes of a `Content-Length` body.
    Length(usize),
    /// A chunked body.
    Chunked(Chunked),
}

/// Where a chunked body is.
#[derive(Clone, Copy)]
enum ChunkPart {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, with this many bytes to come.
    Data(usize),
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// Reading the trailer section after the last chunk.
    Trailer,
}

struct Chunked {
    part: ChunkPart,
    /// Bytes of chunk extensions so far.
    extension_bytes: usize,
    /// Bytes of trailer fields so far.
    trailer_bytes: usize,
}

/// A connection's received bytes and its place in the request in progress.
pub(super) struct Reader {
    peer: Option<IpAddr>,
    max_body_bytes: u64,
    /// Received bytes are `buf[..end]`, and `buf[pos..end]` is not consumed yet. The buffer
    /// is zeroed once when allocated, so a read costs no clearing; an idle connection hands it
    /// back ([`Reader::recycle`]) and holds none.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    state: State,
}

impl Reader {
    /// A reader for a new connection from `peer`.
    pub(super) fn new(peer: Option<IpAddr>, max_body_bytes: u64) -> Reader {
        Reader {
            peer,
            max_body_bytes,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            state: State::Idle,
        }
    }

    /// When the request in progress began (its first byte was parsed), or `None` between
    /// requests.
    pub(super) fn started(&self) -> Option<Instant> {
        match &self.state {
            State::Idle => None,
            State::Head { started, .. } => Some(*started),
            State::Body(body) => Some(body.exchange.started),
        }
    }

    /// Whether a request has begun: bytes are buffered or partly parsed.
    #[cfg(test)]
    fn in_request(&self) -> bool {
        !matches!(self.state, State::Idle) || self.pos < self.end
    }

    /// The answer to a request that did not arrive whole in time: a 408 (which closes the
    /// connection), or `None` between requests, where the connection just closes.
    pub(super) fn timed_out(&mut self) -> Option<Incoming> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => None,
            State::Head { started, .. } => Some(refuse(
                408,
                "Request timed out",
                Exchange::unparsed(started),
                None,
            )),
            State::Body(body) => Some(refused_after_head(
                &body.head,
                body.exchange,
                408,
                "Request timed out",
            )),
        }
    }

    /// Reads once from `source` into the buffer (taking one from `spare` when the reader holds
    /// none). `Ok(0)` means the peer closed its side.
    pub(super) fn read_from(
        &mut self,
        source: &mut impl Read,
        spare: &mut Vec<Vec<u8>>,
    ) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            self.buf = spare.pop().unwrap_or_else(|| vec![0; READ_CHUNK]);
        }
        if self.pos == self.end {
            (self.pos, self.end) = (0, 0);
        }
        if self.buf.len() - self.end < MIN_READ_ROOM {
            // Move the unread bytes to the front, and grow only when that leaves too little
            // room (a head or chunk line longer than the buffer; `parse` bounds those).
            self.buf.copy_within(self.pos..self.end, 0);
            (self.pos, self.end) = (0, self.end - self.pos);
            if self.buf.len() - self.end < MIN_READ_ROOM {
                self.buf.resize(self.buf.len() + READ_CHUNK, 0);
            }
        }
        let read = source.read(&mut self.buf[self.end..])?;
        self.end += read;
        Ok(read)
    }

    /// Hands the buffer to `spare` when nothing is buffered, so an idle connection holds no
    /// buffer. A buffer grown past its first size is dropped rather than kept.
    pub(super) fn recycle(&mut self, spare: &mut Vec<Vec<u8>>, keep: usize) {
        if self.pos == self.end && matches!(self.state, State::Idle) && !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            (self.pos, self.end) = (0, 0);
            if buf.len() == READ_CHUNK && spare.len() < keep {
                spare.push(buf);
            }
        }
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// The next request from the bytes received so far. `now` is when those bytes were read:
    /// the start of a request that begins in them.
    pub(super) fn parse(&mut self, now: Instant) -> Incoming {
        if let State::Idle = self.state {
            if self.pos == self.end {
                return Incoming::Partial;
            }
            self.state = State::Head {
                started: now,
                searched: 0,
            };
        }
        if let State::Head { started, searched } = self.state {
            let Some(head_len) = wire::head_end(self.unread(), searched) else {
                let searched = self.unread().len();
                if searched > MAX_HEADER_BYTES {
                    self.state = State::Idle;
                    let err = HeadError::TooLarge;
                    return refuse(
                        err.status(),
                        err.detail(),
                        Exchange::unparsed(started),
                        None,
                    );
                }
                self.state = State::Head { started, searched };
                return Incoming::Partial;
            };
            let parsed = wire::parse_head(&self.unread()[..head_len]);
            self.pos += head_len;
            self.state = State::Idle;
            let head = match parsed {
                Ok(head) => head,
                Err(err) => {
                    return refuse(
                        err.status(),
                        err.detail(),
                        Exchange::unparsed(started),
                        None,
                    )
                }
            };
            return self.begin_body(head, started);
        }
        self.continue_body()
    }

    /// Checks a parsed head and starts reading its body.
    fn begin_body(&mut self, head: Head, started: Instant) -> Incoming {
        let exchange = Exchange {
            minor_version: head.minor_version,
            // Methods are case-sensitive: `head` is no `HEAD` (and is refused by the router).
            head_only: head.method == "HEAD",
            keep_alive: head.wants_keep_alive(),
            started,
            refused: false,
        };
        // From here on a refusal leaves unread body bytes behind: the connection closes.
        if let Err(err) = wire::check_host(&head) {
            return refused_after_head(&head, exchange, err.status(), err.detail());
        }
        let framing = match wire::framing(&head) {
            Ok(framing) => framing,
            Err(err) => return refused_after_head(&head, exchange, err.status(), err.detail()),
        };
        let progress = match framing {
            Framing::Empty => {
                let request = head.into_request(Vec::new(), self.peer);
                return Incoming::Request(Box::new(request), exchange);
            }
            Framing::Length(length) if length > self.max_body_bytes => {
                return refused_after_head(&head, exchange, 413, "Request body too large");
            }
            // Bounded by `max_body_bytes` just above, and so fits in memory.
            Framing::Length(length) => match usize::try_from(length) {
                Ok(length) => Progress::Length(length),
                Err(_) => {
                    return refused_after_head(&head, exchange, 413, "Request body too large")
                }
            },
            Framing::Chunked => Progress::Chunked(Chunked {
                part: ChunkPart::Size,
                extension_bytes: 0,
                trailer_bytes: 0,
            }),
        };
        let send_continue = match expects_continue(&head) {
            Err(status) => {
                return refused_after_head(&head, exchange, status, "Expectation failed")
            }
            // An HTTP/1.0 client does not know 100; one that already sent its body needs none.
            Ok(expects) => expects && head.minor_version >= 1 && self.pos == self.end,
        };
        let capacity = match progress {
            Progress::Length(length) => length,
            Progress::Chunked(_) => 0,
        };
        self.state = State::Body(Box::new(Body {
            head,
            exchange,
            bytes: Vec::with_capacity(capacity),
            progress,
        }));
        if send_continue {
            Incoming::Continue
        } else {
            self.continue_body()
        }
    }

    /// Takes what is buffered of the body in progress; the request once it is whole.
    fn continue_body(&mut self) -> Incoming {
        let State::Body(mut body) = std::mem::replace(&mut self.state, State::Idle) else {
            return Incoming::Partial;
        };
        match self.take_body(&mut body) {
            Ok(true) => {
                let Body {
                    head,
                    exchange,
                    bytes,
                    ..
                } = *body;
                Incoming::Request(Box::new(head.into_request(bytes, self.peer)), exchange)
            }
            Ok(false) => {
                self.state = State::Body(body);
                Incoming::Partial
            }
            Err(BodyError::TooLarge) => {
                refused_after_head(&body.head, body.exchange, 413, "Request body too large")
            }
            Err(BodyError::Malformed) => {
                refused_after_head(&body.head, body.exchange, 400, "Malformed chunked body")
            }
        }
    }

    /// Moves buffered body bytes into `body`; `Ok(true)` once the body is whole.
    fn take_body(&mut self, body: &mut Body) -> Result<bool, BodyError> {
        match &mut body.progress {
            Progress::Length(remaining) => {
                let taken = self.take_bytes(&mut body.bytes, *remaining);
                *remaining -= taken;
                Ok(*remaining == 0)
            }
            Progress::Chunked(chunked) => {
                let max_body_bytes = self.max_body_bytes;
                self.take_chunked(chunked, &mut body.bytes, max_body_bytes)
            }
        }
    }

    /// Appends up to `count` buffered bytes to `into`; how many it took.
    fn take_bytes(&mut self, into: &mut Vec<u8>, count: usize) -> usize {
        let taken = self.unread().len().min(count);
        into.extend_from_slice(&self.buf[self.pos..self.pos + taken]);
        self.pos += taken;
        taken
    }

    /// Reads a chunked body and its trailer section (which is checked and dropped), refusing it
    /// as soon as it passes `max_body_bytes`. Every line must end in CRLF: RFC 9112 section
    /// 7.1 has no bare-LF allowance for the chunked coding, and a bare LF read one way here and
    /// another way by a proxy in front is how chunked bodies are smuggled. Chunk extensions
    /// (ignored) and trailer fields (dropped) may take [`MAX_HEADER_BYTES`] each in all, as
    /// section 7.1.1 asks a server to limit them.
    fn take_chunked(
        &mut self,
        chunked: &mut Chunked,
        body: &mut Vec<u8>,
        max_body_bytes: u64,
    ) -> Result<bool, BodyError> {
        loop {
            match chunked.part {
                ChunkPart::Size => {
                    let Some(line) = self.take_crlf_line(MAX_CHUNK_LINE_BYTES)? else {
                        return Ok(false);
                    };
                    let size = wire::chunk_size(&line).ok_or(BodyError::Malformed)?;
                    chunked.extension_bytes +=
                        line.iter().skip_while(|b| b.is_ascii_hexdigit()).count();
                    if chunked.extension_bytes > MAX_HEADER_BYTES {
                        return Err(BodyError::Malformed);
                    }
                    if size == 0 {
                        chunked.part = ChunkPart::Trailer;
                        continue;
                    }
                    if (body.len() as u64).saturating_add(size) > max_body_bytes {
                        return Err(BodyError::TooLarge);
                    }
                    // Bounded by `max_body_bytes` just above.
                    let size = usize::try_from(size).map_err(|_| BodyError::TooLarge)?;
                    body.reserve(size);
                    chunked.part = ChunkPart::Data(size);
                }
                ChunkPart::Data(remaining) => {
                    let left = remaining - self.take_bytes(body, remaining);
                    if left > 0 {
                        chunked.part = ChunkPart::Data(left);
                        return Ok(false);
                    }
                    chunked.part = ChunkPart::DataEnd;
                }
                ChunkPart::DataEnd => {
                    // The chunk data ends with CRLF and nothing else.
                    match self.take_crlf_line(0)? {
                        None => return Ok(false),
                        Some(line) if line.is_empty() => chunked.part = ChunkPart::Size,
                        Some(_) => return Err(BodyError::Malformed),
                    }
                }
                ChunkPart::Trailer => {
                    let Some(line) = self.take_crlf_line(MAX_CHUNK_LINE_BYTES)? else {
                        return Ok(false);
                    };
                    if line.is_empty() {
                        return Ok(true);
                    }
                    chunked.trailer_bytes += line.len();
                    if chunked.trailer_bytes > MAX_HEADER_BYTES || !wire::is_field_line(&line) {
                        return Err(BodyError::Malformed);
                    }
                }
            }
        }
    }

    /// Takes one buffered line ended by CRLF (which is not returned) of at most `max` bytes,
    /// or `None` while it is incomplete; a bare LF, or a line longer than `max`, is malformed.
    fn take_crlf_line(&mut self, max: usize) -> Result<Option<Vec<u8>>, BodyError> {
        let unread = self.unread();
        let Some(end) = unread.iter().position(|&b| b == b'\n') else {
            return if unread.len() > max + 1 {
                Err(BodyError::Malformed)
            } else {
                Ok(None)
            };
        };
        let [line @ .., b'\r'] = &unread[..end] else {
            return Err(BodyError::Malformed);
        };
        if line.len() > max {
            return Err(BodyError::Malformed);
        }
        let line = line.to_vec();
        self.pos += end + 1;
        Ok(Some(line))
    }
}

/// Whether the client waits for `100 Continue`; an expectation other than `100-continue` (in
/// any `Expect` line or list item; the field is case-insensitive, RFC 9110 section 10.1.1)
/// is an error: 417.
fn expects_continue(head: &Head) -> Result<bool, u16> {
    let mut expectations = head
        .values("expect")
        .flat_map(|value| value.split(','))
        .map(|item| item.trim_matches([' ', '\t']))
        .filter(|item| !item.is_empty())
        .peekable();
    if expectations.peek().is_none() {
        return Ok(false);
    }
    if !expectations.all(|item| item.eq_ignore_ascii_case("100-continue")) {
        return Err(417);
    }
    Ok(true)
}

/// A refusal once the head is parsed: the connection closes (unread body bytes may follow),
/// and the log line names the method and path.
fn refused_after_head(head: &Head, exchange: Exchange, status: u16, detail: &str) -> Incoming {
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
    use std::time::Duration;

    /// A reader with a 1 KiB body limit.
    fn reader() -> Reader {
        Reader::new(None, 1024)
    }

    /// Feeds `bytes` to `reader` as one read and parses.
    fn feed(reader: &mut Reader, bytes: &[u8], now: Instant) -> Incoming {
        let mut source = bytes;
        let mut spare = Vec::new();
        while !source.is_empty() {
            reader.read_from(&mut source, &mut spare).unwrap();
        }
        reader.parse(now)
    }

    /// What the reader makes of `bytes` received at once.
    fn incoming(bytes: &[u8]) -> Incoming {
        feed(&mut reader(), bytes, Instant::now())
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
            Incoming::Continue | Incoming::Partial => panic!("no answer"),
        }
    }

    #[test]
    fn a_request_in_pieces_is_read_whole_and_starts_at_its_first_byte() {
        let mut reader = reader();
        let first = Instant::now();
        let pieces: [&[u8]; 4] = [
            b"POST /a?b=1 HTTP/1.1\r\nHo",
            b"st: x\r\nContent-Length: 5\r\n",
            b"\r\nhel",
            b"lo",
        ];
        let mut now = first;
        for piece in &pieces[..3] {
            assert!(matches!(feed(&mut reader, piece, now), Incoming::Partial));
            assert_eq!(reader.started(), Some(first));
            now += Duration::from_millis(120);
        }
        let Incoming::Request(request, exchange) = feed(&mut reader, pieces[3], now) else {
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
        assert_eq!(exchange.started, first);
        // Between requests the reader is idle and gives its buffer back.
        assert_eq!(reader.started(), None);
        assert!(!reader.in_request());
        let mut spare = Vec::new();
        reader.recycle(&mut spare, 4);
        assert_eq!(spare.len(), 1);
        let Incoming::Request(next, _) =
            feed(&mut reader, b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n", now)
        else {
            panic!("no second request");
        };
        assert_eq!(next.path, "/next");
    }

    #[test]
    fn pipelined_requests_come_out_one_at_a_time() {
        let mut reader = reader();
        let now = Instant::now();
        let both = b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3";
        let Incoming::Request(one, _) = feed(&mut reader, both, now) else {
            panic!("no first request");
        };
        let Incoming::Request(two, _) = reader.parse(now) else {
            panic!("no second request");
        };
        assert_eq!((one.path.as_str(), two.path.as_str()), ("/1", "/2"));
        assert!(matches!(reader.parse(now), Incoming::Partial));
        assert!(reader.in_request());
    }

    #[test]
    fn a_request_that_does_not_arrive_in_time_is_408_and_an_idle_one_just_closes() {
        let mut idle = reader();
        assert!(idle.timed_out().is_none());
        let mut head = reader();
        let _ = feed(&mut head, b"GET / HTTP/1.1\r\nHo", Instant::now());
        let Some(Incoming::Refused(response, exchange, None)) = head.timed_out() else {
            panic!("a begun head was not refused");
        };
        assert_eq!(response.status, 408);
        assert!(!exchange.keep_alive && exchange.refused);
        let mut body = reader();
        let _ = feed(
            &mut body,
            b"POST /p?q HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
            Instant::now(),
        );
        let Some(Incoming::Refused(response, exchange, Some(target))) = body.timed_out() else {
            panic!("a begun body was not refused");
        };
        assert_eq!(response.status, 408);
        assert_eq!(target, (String::from("POST"), String::from("/p")));
        assert!(!exchange.keep_alive && exchange.refused);
    }

    #[test]
    fn an_oversized_head_is_431_as_soon_as_it_passes_the_limit() {
        let mut reader = reader();
        let now = Instant::now();
        assert!(matches!(
            feed(&mut reader, b"GET / HTTP/1.1\r\nX: ", now),
            Incoming::Partial
        ));
        let filler = vec![b'a'; MAX_HEADER_BYTES];
        let Incoming::Refused(response, _, None) = feed(&mut reader, &filler, now) else {
            panic!("not refused");
        };
        assert_eq!(response.status, 431);
    }

    #[test]
    fn expect_100_continue_asks_for_continue_only_when_the_body_is_not_there_yet() {
        let mut reader = reader();
        let now = Instant::now();
        let head =
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(feed(&mut reader, head, now), Incoming::Continue));
        assert!(matches!(reader.parse(now), Incoming::Partial));
        let Incoming::Request(request, _) = feed(&mut reader, b"ok", now) else {
            panic!("no request");
        };
        assert_eq!(request.body, b"ok");
        let mut sent = head.to_vec();
        sent.extend_from_slice(b"ok");
        assert!(matches!(incoming(&sent), Incoming::Request(..)));
        let old = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(incoming(old), Incoming::Partial));
    }

    #[test]
    fn a_chunked_body_in_pieces_is_read_whole() {
        let mut reader = reader();
        let now = Instant::now();
        let all = chunked("3 ; a = \"b\"\r\nabc\r\n1\r\nd\r\n0\r\nX: y\r\n\r\n");
        let mut last = Incoming::Partial;
        for byte in &all {
            assert!(matches!(last, Incoming::Partial));
            last = feed(&mut reader, &[*byte], now);
        }
        let Incoming::Request(request, exchange) = last else {
            panic!("a valid chunked body was refused");
        };
        assert_eq!(request.body, b"abcd");
        assert!(exchange.keep_alive);
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
        assert_eq!(
            refusal(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n"),
            (413, String::from("Request body too large"))
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
