//! The event loops: a few threads, each serving many connections at once.
//!
//! Each loop owns its connections outright (no locks on the request path) and waits for any
//! of their sockets to become readable or writable with one `epoll` wait (through `mio`). When
//! one does, the loop reads what the socket has into the connection's [`Reader`], takes every
//! complete request out of it, runs the handler right there on the loop's thread and writes
//! the answer. So an idle connection owns no thread (only a few hundred bytes: its socket, its
//! state and its place in the timer heap), and a request never changes threads between its
//! first byte and its answer.
//!
//! A connection is always in one of four phases:
//!
//! - **reading**: waiting for (the rest of) a request. Its deadline is `client_timeout` after
//!   its last answer (idle) or after its request's first byte (a request that has begun must
//!   arrive whole within it: 408 otherwise).
//! - **handling**: its request runs on the blocking pool (see below); nothing is read meanwhile.
//! - **writing**: its answer (serialised into one buffer, so one `write` in the common case)
//!   did not fit into the socket at once. The rest goes out when the socket reports it is
//!   writable again, never by spinning; `client_timeout` without progress closes it.
//! - **lingering**: after a refusal, the unread rest of its request is read and dropped for up
//!   to 500 ms (1 MiB) before closing, because closing a socket with unread input sends a reset
//!   that can destroy the answer before the client reads it.
//!
//! Deadlines live in one heap per loop, one entry per connection: a deadline that moves later
//! (every request moves it) is not pushed again; a stale entry, when it comes up, is pushed
//! back with the connection's current deadline. So the heap never outgrows the connections
//! and a request costs no heap operation.
//!
//! **Handlers that may block.** A handler run inline stalls the other connections of its loop
//! while it runs. That is right for small bounded reads (a few to a few hundred microseconds
//! of CPU), but not for a login, whose Argon2 hash takes 50-100 ms of CPU, nor for writes,
//! which may wait for SQLite's single write lock, nor for a list or page whose work grows with
//! the data. The service's classifier says which is which ([`Dispatch`]); a `Pool` request
//! goes to a pool of `workers` threads, which runs the handler and serialises and logs the
//! answer (a copy of a body of megabytes, kept off the loop too), and the loop serves its
//! other connections meanwhile; the bytes come back through the loop's inbox. This costs
//! those requests two thread wake-ups, as every request cost before; the small reads, the
//! bulk of the traffic, cost none.
//!
//! **Fairness.** A connection serves at most [`MAX_REQUESTS_PER_TURN`] pipelined requests
//! before the loop turns to its other connections, and reads no further request while an
//! answer is unwritten, so a client that pipelines without reading cannot grow any buffer.

use super::admission::Slot;
use super::connection::{Exchange, Incoming, Reader};
use super::server::{answer, assign_request_id, respond, Dispatch, Shared};
use super::{Request, Response};
use crate::logging;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The token of the loop's waker; connection `i` has token `i + 1`.
const WAKER: Token = Token(0);
/// Pipelined requests a connection may have served before the loop turns to others.
const MAX_REQUESTS_PER_TURN: usize = 16;
/// Readiness events taken from the kernel per wait.
const EVENTS_PER_WAIT: usize = 1024;
/// Input buffers kept for reuse by a loop's connections.
const SPARE_BUFFERS: usize = 64;
/// Largest answer buffer kept for reuse after it was written.
const KEEP_OUT_BYTES: usize = 64 * 1024;
/// How long a refused connection's unread input is drained before closing.
const LINGER: Duration = Duration::from_millis(500);
/// Most bytes drained from a refused connection before closing.
const LINGER_BYTES: usize = 1024 * 1024;
/// The interim answer to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What reaches a loop from other threads.
enum Message {
    /// A new connection, admitted by the accept thread.
    Adopt(std::net::TcpStream, SocketAddr, Slot),
    /// The answer to a request the blocking pool ran.
    Answer(Box<Done>),
    /// Close every connection and end.
    Stop,
}

/// A request for the blocking pool and, once run, its answer, serialised and logged there, for
/// connection `index` of `generation`.
struct Done {
    index: usize,
    generation: u64,
    request: Request,
    /// The connection's peer, for the log line.
    peer: SocketAddr,
    /// The answer's bytes, ready to write (empty until the pool has run the request).
    out: Vec<u8>,
    exchange: Exchange,
}

/// How the accept thread and the blocking pool reach one loop.
#[derive(Clone)]
pub(super) struct LoopHandle {
    sender: Sender<Message>,
    waker: Arc<Waker>,
    /// Connections the loop holds or is about to adopt.
    load: Arc<AtomicUsize>,
}

impl LoopHandle {
    /// Connections the loop holds or is about to adopt.
    pub(super) fn load(&self) -> usize {
        self.load.load(Ordering::Relaxed)
    }

    /// Hands a new (non-blocking) connection to the loop; false when the loop is gone.
    pub(super) fn adopt(&self, stream: std::net::TcpStream, peer: SocketAddr, slot: Slot) -> bool {
        self.load.fetch_add(1, Ordering::Relaxed);
        if self.send(Message::Adopt(stream, peer, slot)) {
            return true;
        }
        self.load.fetch_sub(1, Ordering::Relaxed);
        false
    }

    /// Tells the loop to close its connections and end.
    pub(super) fn stop(&self) {
        self.send(Message::Stop);
    }

    fn send(&self, message: Message) -> bool {
        self.sender.send(message).is_ok() && self.waker.wake().is_ok()
    }
}

/// A request for the blocking pool, and the loop its answer goes back to.
struct Job {
    done: Box<Done>,
    reply: LoopHandle,
}

/// The pool of threads that run the requests that may block (see the module docs).
pub(super) struct Blocking {
    jobs: Sender<Job>,
}

impl Blocking {
    /// Starts `threads` threads running `shared`'s handler.
    pub(super) fn start(threads: usize, shared: &Arc<Shared>) -> Result<Arc<Blocking>, String> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            let shared = Arc::clone(shared);
            std::thread::Builder::new()
                .name(format!("http-blocking-{index}"))
                .spawn(move || run_jobs(&queue, &shared))
                .map_err(|err| format!("cannot start a worker thread: {err}"))?;
        }
        Ok(Arc::new(Blocking { jobs }))
    }

    /// Queues a job; gives it back when no thread is left to take it.
    fn submit(&self, job: Job) -> Result<(), Job> {
        self.jobs.send(job).map_err(|mpsc::SendError(job)| job)
    }
}

/// Takes jobs off the queue and answers them until the queue closes.
fn run_jobs(queue: &Mutex<Receiver<Job>>, shared: &Shared) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(Job { mut done, reply }) = job else {
            return;
        };
        let response = respond(&shared.handler, &done.request);
        // Serialised (a copy of the whole body) and logged here rather than on the loop: a
        // pooled answer may be megabytes, and the loop's other connections must not wait
        // for the copy.
        done.exchange.keep_alive &= !shared.shutdown.load(Ordering::Relaxed);
        answer(
            &mut done.out,
            response,
            &done.request.request_id,
            (&done.request.method, &done.request.path),
            done.exchange,
            done.peer,
        );
        // The loop may be gone (shutting down); the answer then has nowhere to go.
        reply.send(Message::Answer(done));
    }
}

/// Starts event loop `index`.
pub(super) fn start(
    index: usize,
    shared: &Arc<Shared>,
    blocking: &Arc<Blocking>,
) -> Result<LoopHandle, String> {
    let poll = Poll::new().map_err(|err| format!("cannot start an event loop: {err}"))?;
    let waker = Waker::new(poll.registry(), WAKER)
        .map_err(|err| format!("cannot start an event loop: {err}"))?;
    let (sender, inbox) = mpsc::channel();
    let handle = LoopHandle {
        sender,
        waker: Arc::new(waker),
        load: Arc::new(AtomicUsize::new(0)),
    };
    let event_loop = EventLoop {
        poll,
        inbox,
        connections: Vec::new(),
        free: Vec::new(),
        timers: BinaryHeap::new(),
        again: Vec::new(),
        next_generation: 0,
        context: Context {
            shared: Arc::clone(shared),
            blocking: Arc::clone(blocking),
            handle: handle.clone(),
            timeout: shared.options.client_timeout.max(Duration::from_millis(1)),
            spare: Vec::new(),
            scratch: Vec::new(),
        },
    };
    std::thread::Builder::new()
        .name(format!("http-loop-{index}"))
        .spawn(move || event_loop.run())
        .map_err(|err| format!("cannot start an event loop: {err}"))?;
    Ok(handle)
}

/// One event loop's state, owned by its thread.
struct EventLoop {
    poll: Poll,
    inbox: Receiver<Message>,
    /// Connection `i` (token `i + 1`); `None` is a free place, listed in `free`.
    connections: Vec<Option<Connection>>,
    free: Vec<usize>,
    /// (deadline, index, generation), earliest first; see the module docs.
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// Connections that used up their turn with input left: served again before the next wait.
    again: Vec<(usize, u64)>,
    next_generation: u64,
    context: Context,
}

/// What every connection of a loop uses.
struct Context {
    shared: Arc<Shared>,
    blocking: Arc<Blocking>,
    /// This loop, for the blocking pool's answers.
    handle: LoopHandle,
    timeout: Duration,
    /// Input buffers of connections gone idle, for the next reads.
    spare: Vec<Vec<u8>>,
    /// An answer buffer lent to the connection that writes next, so that answers allocate
    /// nothing and an idle connection holds no buffer.
    scratch: Vec<u8>,
}

/// What to do after writing the pending bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// An answer is written: read the next request (a new idle deadline).
    NextRequest,
    /// `100 Continue` is written: read the rest of this request.
    SameRequest,
    /// Close now.
    Close,
    /// Drain the unread input for a moment, then close (after a refusal).
    Linger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading,
    Handling,
    Writing(After),
    Lingering { drained: usize },
}

/// One client connection on a loop.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    /// The connection's place under the caps, given back when it is dropped.
    _slot: Slot,
    /// Tells this connection from an earlier one at the same index.
    generation: u64,
    reader: Reader,
    phase: Phase,
    /// The socket may have input not read yet (readiness is reported once per change).
    readable: bool,
    /// Bytes to write; `out[written..]` are not written yet.
    out: Vec<u8>,
    written: usize,
    deadline: Instant,
    /// Counted in `Shared::busy`: a request is in progress.
    busy: bool,
}

/// What a loop does with a connection after serving it.
enum Step {
    /// Wait for its socket (or the blocking pool).
    Wait,
    /// It used up its turn with input left: serve it again soon.
    Again,
    /// Close it.
    Close,
}

/// How writing the pending bytes went.
enum Flush {
    Done,
    Pending,
    Failed,
}

impl EventLoop {
    fn run(mut self) {
        let mut events = Events::with_capacity(EVENTS_PER_WAIT);
        loop {
            let timeout = if self.again.is_empty() {
                self.timers
                    .peek()
                    .map(|Reverse((at, _, _))| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(err) = self.poll.poll(&mut events, timeout) {
                if err.kind() != ErrorKind::Interrupted {
                    logging::event(
                        logging::Level::Error,
                        &format!("an event loop cannot wait for its connections: {err}"),
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            for event in events.iter() {
                if event.token() == WAKER {
                    if !self.read_inbox() {
                        return;
                    }
                    continue;
                }
                let index = event.token().0 - 1;
                let Some(connection) = self.connection(index) else {
                    continue;
                };
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    connection.readable = true;
                }
                self.drive(index);
            }
            for (index, generation) in std::mem::take(&mut self.again) {
                if self
                    .connection(index)
                    .is_some_and(|c| c.generation == generation)
                {
                    self.drive(index);
                }
            }
            self.expire(Instant::now());
        }
    }

    fn connection(&mut self, index: usize) -> Option<&mut Connection> {
        self.connections.get_mut(index).and_then(Option::as_mut)
    }

    /// Takes every message waiting; false when told to stop.
    fn read_inbox(&mut self) -> bool {
        while let Ok(message) = self.inbox.try_recv() {
            match message {
                Message::Adopt(stream, peer, slot) => self.adopt(stream, peer, slot),
                Message::Answer(done) => self.answered(*done),
                Message::Stop => return false,
            }
        }
        true
    }

    fn adopt(&mut self, stream: std::net::TcpStream, peer: SocketAddr, slot: Slot) {
        let mut stream = TcpStream::from_std(stream);
        let index = self.free.pop().unwrap_or_else(|| {
            self.connections.push(None);
            self.connections.len() - 1
        });
        let registered = self.poll.registry().register(
            &mut stream,
            Token(index + 1),
            Interest::READABLE | Interest::WRITABLE,
        );
        if registered.is_err() {
            // Dropping the stream and the slot closes it and frees its place.
            self.free.push(index);
            self.context.handle.load.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        self.next_generation += 1;
        let deadline = Instant::now() + self.context.timeout;
        self.connections[index] = Some(Connection {
            stream,
            peer,
            _slot: slot,
            generation: self.next_generation,
            reader: Reader::new(Some(peer.ip()), self.context.shared.options.max_body_bytes),
            phase: Phase::Reading,
            // The request may have arrived before the socket was registered.
            readable: true,
            out: Vec::new(),
            written: 0,
            deadline,
            busy: false,
        });
        self.timers
            .push(Reverse((deadline, index, self.next_generation)));
        self.drive(index);
    }

    /// Sends the answer the blocking pool made.
    fn answered(&mut self, done: Done) {
        let context = &mut self.context;
        let Some(connection) = self
            .connections
            .get_mut(done.index)
            .and_then(Option::as_mut)
        else {
            return;
        };
        if connection.generation != done.generation || connection.phase != Phase::Handling {
            return;
        }
        let index = done.index;
        // Nothing is pending before it: a connection whose request is on the pool has written
        // everything before and reads nothing meanwhile.
        let spare = std::mem::replace(&mut connection.out, done.out);
        if context.scratch.capacity() == 0 && spare.capacity() <= KEEP_OUT_BYTES {
            context.scratch = spare;
        }
        connection.start_writing(context, done.exchange);
        self.drive(index);
    }

    /// Serves connection `index` as far as it can go without waiting.
    fn drive(&mut self, index: usize) {
        let context = &mut self.context;
        let Some(connection) = self.connections.get_mut(index).and_then(Option::as_mut) else {
            return;
        };
        let before = connection.deadline;
        let step = connection.serve(context, index);
        if connection.deadline < before {
            // Deadlines that move later are found lazily (see the module docs); an earlier
            // one (lingering) needs its own entry.
            let entry = (connection.deadline, index, connection.generation);
            self.timers.push(Reverse(entry));
        }
        match step {
            Step::Wait => {}
            Step::Again => self.again.push((index, connection.generation)),
            Step::Close => self.close(index),
        }
    }

    fn close(&mut self, index: usize) {
        let Some(mut connection) = self.connections.get_mut(index).and_then(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut connection.stream);
        connection.set_busy(&self.context.shared, false);
        self.free.push(index);
        self.context.handle.load.fetch_sub(1, Ordering::Relaxed);
        // Dropping the connection closes the socket and gives its slot back.
    }

    /// Acts on every deadline passed by `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((at, index, generation))) = self.timers.peek() {
            if at > now {
                return;
            }
            self.timers.pop();
            let timeout = self.context.timeout;
            let Some(connection) = self.connections.get_mut(index).and_then(Option::as_mut) else {
                continue;
            };
            if connection.generation != generation {
                continue;
            }
            if connection.deadline > now {
                let deadline = connection.deadline;
                self.timers.push(Reverse((deadline, index, generation)));
                continue;
            }
            match connection.phase {
                Phase::Handling => {
                    // The handler's time is not the client's: look again later.
                    connection.deadline = now + timeout;
                    self.timers
                        .push(Reverse((now + timeout, index, generation)));
                }
                Phase::Reading => match connection.reader.timed_out() {
                    Some(Incoming::Refused(response, exchange, target)) => {
                        let context = &mut self.context;
                        connection.refuse(context, response, exchange, target);
                        let deadline = connection.deadline;
                        self.timers.push(Reverse((deadline, index, generation)));
                        self.drive(index);
                    }
                    _ => self.close(index),
                },
                Phase::Writing(_) | Phase::Lingering { .. } => self.close(index),
            }
        }
    }
}

impl Connection {
    /// Serves the connection until it must wait for its socket or the blocking pool, has used
    /// its turn, or must close.
    fn serve(&mut self, context: &mut Context, index: usize) -> Step {
        let mut served = 0;
        loop {
            match self.phase {
                Phase::Handling => return Step::Wait,
                Phase::Lingering { drained } => return self.drain(drained),
                Phase::Writing(after) => match self.flush(context) {
                    Flush::Pending => {
                        self.deadline = Instant::now() + context.timeout;
                        return Step::Wait;
                    }
                    Flush::Failed => return Step::Close,
                    Flush::Done => match after {
                        After::Close => return Step::Close,
                        After::Linger => {
                            let _ = self.stream.shutdown(std::net::Shutdown::Write);
                            self.phase = Phase::Lingering { drained: 0 };
                            self.deadline = Instant::now() + LINGER;
                            return Step::Again;
                        }
                        After::NextRequest => {
                            self.set_busy(&context.shared, false);
                            self.phase = Phase::Reading;
                            self.deadline = Instant::now() + context.timeout;
                        }
                        After::SameRequest => self.phase = Phase::Reading,
                    },
                },
                Phase::Reading => {
                    if served == MAX_REQUESTS_PER_TURN {
                        return Step::Again;
                    }
                    match self.reader.parse(Instant::now()) {
                        Incoming::Partial => {
                            if let Some(started) = self.reader.started() {
                                self.set_busy(&context.shared, true);
                                self.deadline = started + context.timeout;
                            }
                            if let Some(step) = self.read(context) {
                                return step;
                            }
                        }
                        Incoming::Continue => {
                            self.out.extend_from_slice(CONTINUE);
                            self.phase = Phase::Writing(After::SameRequest);
                        }
                        Incoming::Refused(response, exchange, target) => {
                            served += 1;
                            self.set_busy(&context.shared, true);
                            self.refuse(context, response, exchange, target);
                        }
                        Incoming::Request(mut request, exchange) => {
                            served += 1;
                            self.set_busy(&context.shared, true);
                            assign_request_id(&mut request);
                            if (context.shared.classify)(&request) == Dispatch::Inline {
                                let response = respond(&context.shared.handler, &request);
                                self.send(context, response, &request, exchange);
                                continue;
                            }
                            return self.hand_over(context, index, *request, exchange);
                        }
                    }
                }
            }
        }
    }

    /// Reads once; the step to take when no read is possible or the connection is done.
    fn read(&mut self, context: &mut Context) -> Option<Step> {
        if !self.readable {
            self.reader.recycle(&mut context.spare, SPARE_BUFFERS);
            return Some(Step::Wait);
        }
        match self.reader.read_from(&mut self.stream, &mut context.spare) {
            // The client closed (between requests, or breaking one off): close unanswered.
            Ok(0) => Some(Step::Close),
            Ok(_) => None,
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                self.readable = false;
                self.reader.recycle(&mut context.spare, SPARE_BUFFERS);
                Some(Step::Wait)
            }
            Err(err) if err.kind() == ErrorKind::Interrupted => None,
            Err(_) => Some(Step::Close),
        }
    }

    /// Gives a request that may block to the blocking pool.
    fn hand_over(
        &mut self,
        context: &mut Context,
        index: usize,
        request: Request,
        exchange: Exchange,
    ) -> Step {
        let job = Job {
            done: Box::new(Done {
                index,
                generation: self.generation,
                request,
                peer: self.peer,
                out: Vec::new(),
                exchange,
            }),
            reply: context.handle.clone(),
        };
        match context.blocking.submit(job) {
            Ok(()) => {
                self.phase = Phase::Handling;
                Step::Wait
            }
            Err(job) => {
                let response = Response::detail(503, "Service Unavailable");
                self.send(context, response, &job.done.request, exchange);
                Step::Again
            }
        }
    }

    /// Queues the answer to a request refused before any handler.
    fn refuse(
        &mut self,
        context: &mut Context,
        response: Response,
        exchange: Exchange,
        target: Option<(String, String)>,
    ) {
        let (method, path) = target.unwrap_or_default();
        let mut request = Request::new(&method, "");
        request.path = path;
        request.request_id = crate::ids::request_id();
        self.send(context, response, &request, exchange);
    }

    /// Serialises the answer to `request` after any bytes still pending, logs it, and moves to
    /// writing it.
    fn send(
        &mut self,
        context: &mut Context,
        response: Response,
        request: &Request,
        mut exchange: Exchange,
    ) {
        exchange.keep_alive &= !context.shared.shutdown.load(Ordering::Relaxed);
        if self.out.capacity() == 0 {
            self.out = std::mem::take(&mut context.scratch);
        }
        answer(
            &mut self.out,
            response,
            &request.request_id,
            (&request.method, &request.path),
            exchange,
            self.peer,
        );
        self.start_writing(context, exchange);
    }

    /// Moves to writing the answer now in `out`, then to what `exchange` says comes after.
    fn start_writing(&mut self, context: &Context, exchange: Exchange) {
        let after = match (exchange.keep_alive, exchange.refused) {
            (true, _) => After::NextRequest,
            // A refused request may have left input unread.
            (false, true) => After::Linger,
            (false, false) => After::Close,
        };
        self.phase = Phase::Writing(after);
        self.deadline = Instant::now() + context.timeout;
    }

    /// Writes the pending bytes as far as the socket takes them.
    fn flush(&mut self, context: &mut Context) -> Flush {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Flush::Failed,
                Ok(n) => self.written += n,
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Flush::Pending,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Flush::Failed,
            }
        }
        self.written = 0;
        self.out.clear();
        // The buffer goes back to the loop, so an idle connection holds none.
        if context.scratch.capacity() == 0 && self.out.capacity() <= KEEP_OUT_BYTES {
            context.scratch = std::mem::take(&mut self.out);
        } else {
            self.out = Vec::new();
        }
        Flush::Done
    }

    /// Reads and drops input after a refusal until the client closes, the limit is reached
    /// (close), or the socket has no more for now (wait; the deadline closes it later).
    fn drain(&mut self, mut drained: usize) -> Step {
        let mut scratch = [0u8; 8192];
        loop {
            match self.stream.read(&mut scratch) {
                Ok(0) => return Step::Close,
                Ok(n) => {
                    drained += n;
                    if drained >= LINGER_BYTES {
                        return Step::Close;
                    }
                    self.phase = Phase::Lingering { drained };
                }
                Err(err) if err.kind() == ErrorKind::WouldBlock => return Step::Wait,
                Err(err) if err.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Step::Close,
            }
        }
    }

    /// Marks whether a request is in progress, keeping `Shared::busy` in step.
    fn set_busy(&mut self, shared: &Shared, busy: bool) {
        if self.busy != busy {
            self.busy = busy;
            if busy {
                shared.busy.fetch_add(1, Ordering::SeqCst);
            } else {
                shared.busy.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::server::{HttpServer, ServerOptions};
    use super::super::{Dispatch, Handler, Request, Response, Service};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// The longest any wait here may take before it counts as a hang (never a timing claim).
    const PATIENCE: Duration = Duration::from_secs(10);

    /// Serves `handler` on one event loop with one blocking thread; returns the address, the
    /// shutdown flag and the thread that returns when serving ends.
    fn serve(service: Service) -> (SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
        let server = HttpServer::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr();
        let options = ServerOptions {
            workers: 1,
            max_body_bytes: 1024,
            client_timeout: Duration::from_secs(5),
            max_connections: 64,
            max_connections_per_ip: 0,
            trusted_proxies: Default::default(),
        };
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&shutdown);
        let thread = std::thread::spawn(move || {
            server.run(&options, service, flag, PATIENCE).unwrap();
        });
        (addr, shutdown, thread)
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
    }

    /// Reads one answer: its status line, headers (lower-case names) and body.
    fn read_answer(reader: &mut impl BufRead) -> (String, Vec<(String, String)>, Vec<u8>) {
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(": ").unwrap();
            headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .map_or(0, |(_, value)| value.parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (status.trim_end().to_string(), headers, body)
    }

    /// A handler whose `/slow` (any method) waits until told to go on (or [`PATIENCE`]
    /// passes), and which answers everything else at once.
    fn gated_handler() -> (Handler, mpsc::Sender<()>) {
        let (go, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let handler: Handler = Arc::new(move |request: &Request| {
            if request.path == "/slow" {
                let _ = gate.lock().unwrap().recv_timeout(PATIENCE);
                return Response::bytes(200, "text/plain", b"slow".to_vec());
            }
            Response::bytes(200, "text/plain", b"fast".to_vec())
        });
        (handler, go)
    }

    #[test]
    fn a_request_that_may_block_does_not_stall_the_other_connections_of_its_loop() {
        let (handler, go) = gated_handler();
        let (addr, _shutdown, _thread) = serve(Service::safe_methods_inline(handler));
        let mut slow = connect(addr);
        slow.write_all(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        // The only loop is the one holding the blocked request: it must still serve this.
        let mut fast = connect(addr);
        fast.write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (status, _, body) = read_answer(&mut BufReader::new(&mut fast));
        assert_eq!(
            (status.as_str(), body.as_slice()),
            ("HTTP/1.1 200 OK", &b"fast"[..])
        );
        go.send(()).unwrap();
        let (status, _, body) = read_answer(&mut BufReader::new(&mut slow));
        assert_eq!(
            (status.as_str(), body.as_slice()),
            ("HTTP/1.1 200 OK", &b"slow"[..])
        );
    }

    /// Sends `/slow` to the pool whatever its method, everything else inline.
    fn slow_path_on_pool(request: &Request) -> Dispatch {
        if request.path == "/slow" {
            Dispatch::Pool
        } else {
            Dispatch::Inline
        }
    }

    #[test]
    fn a_read_the_classifier_sends_to_the_pool_does_not_stall_the_other_connections_of_its_loop() {
        let (handler, go) = gated_handler();
        let (addr, _shutdown, _thread) = serve(Service {
            classify: slow_path_on_pool,
            handler,
        });
        let mut slow = connect(addr);
        slow.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        // Two requests on one loop: were `GET /slow` inline, this one would wait for it.
        let mut fast = connect(addr);
        fast.write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (status, _, body) = read_answer(&mut BufReader::new(&mut fast));
        assert_eq!(
            (status.as_str(), body.as_slice()),
            ("HTTP/1.1 200 OK", &b"fast"[..])
        );
        go.send(()).unwrap();
        let (status, _, body) = read_answer(&mut BufReader::new(&mut slow));
        assert_eq!(
            (status.as_str(), body.as_slice()),
            ("HTTP/1.1 200 OK", &b"slow"[..])
        );
    }

    #[test]
    fn an_answer_larger_than_the_socket_takes_is_finished_while_others_are_served() {
        const BIG: usize = 16 * 1024 * 1024;
        let handler: Handler = Arc::new(|request: &Request| {
            let size = if request.path == "/big" { BIG } else { 4 };
            Response::bytes(200, "text/plain", vec![b'x'; size])
        });
        let (addr, _shutdown, _thread) = serve(Service::safe_methods_inline(handler));
        let mut big = connect(addr);
        big.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        // The big answer fills the socket buffers and waits; nobody reads it yet.
        std::thread::sleep(Duration::from_millis(100));
        for _ in 0..3 {
            let mut other = connect(addr);
            other
                .write_all(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let (_, _, body) = read_answer(&mut BufReader::new(&mut other));
            assert_eq!(body, b"xxxx");
        }
        let mut reader = BufReader::new(&mut big);
        let (status, _, body) = read_answer(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(body.len(), BIG);
        assert!(body.iter().all(|&b| b == b'x'));
        // The connection is still good for another request.
        reader
            .get_mut()
            .write_all(b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_answer(&mut reader).2, b"xxxx");
    }

    #[test]
    fn shutdown_finishes_the_request_in_flight_and_closes_its_connection() {
        let (handler, go) = gated_handler();
        let (addr, shutdown, thread) = serve(Service::safe_methods_inline(handler));
        let mut slow = connect(addr);
        slow.write_all(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        // A request the server has begun counts as in flight; make sure it has begun.
        let mut probe = connect(addr);
        probe
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let _ = read_answer(&mut BufReader::new(&mut probe));
        shutdown.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !thread.is_finished(),
            "serving ended with a request in flight"
        );
        go.send(()).unwrap();
        let mut reader = BufReader::new(&mut slow);
        let (status, headers, body) = read_answer(&mut reader);
        assert_eq!(
            (status.as_str(), body.as_slice()),
            ("HTTP/1.1 200 OK", &b"slow"[..])
        );
        assert!(headers.contains(&("connection".into(), "close".into())));
        let mut rest = Vec::new();
        assert_eq!(reader.read_to_end(&mut rest).unwrap(), 0);
        thread.join().unwrap();
    }
}
