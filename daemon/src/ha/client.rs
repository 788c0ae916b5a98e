//! The HTTP/1.1 client an HA server uses to talk to its partner (kea-ha.md §1): a few
//! persistent, non-blocking connections inside the event loop's mio `Poll`, one request in
//! flight per connection (no pipelining: Kea's agent answers one request at a time; Kea's
//! multi-threaded HA client opens several connections the same way), a bounded FIFO of
//! requests whose buffers are allocated once and reused, connect and response timeouts,
//! reconnection on the next request after any failure.
//!
//! The client only moves bytes: the request bodies come from `wren_core::ha::commands`, and
//! each answer body (or the failure) goes back to the caller with the request's tag.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// Time allowed for the TCP connection to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Kea's per-request timeout (kea-ha.md §1: 10 s; sync pages use `sync-timeout`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer accepted (a sync page of 10,000 leases is a few MB).
pub const MAX_ANSWER: usize = 64 * 1024 * 1024;
/// Initial request buffer size (a lease update is well under 1 KiB).
const REQUEST_BUFFER: usize = 2048;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The queue was full: the request was not sent.
    QueueFull,
    /// Connecting failed or timed out.
    Connect(String),
    /// The connection broke while sending or reading.
    Transport(String),
    /// No whole answer within the timeout.
    Timeout,
    /// Not an HTTP answer, or not status 200.
    Http(u16),
    /// The answer did not parse as HTTP.
    Malformed,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::QueueFull => f.write_str("request queue full"),
            Failure::Connect(e) => write!(f, "cannot connect: {e}"),
            Failure::Transport(e) => write!(f, "connection failed: {e}"),
            Failure::Timeout => f.write_str("timed out waiting for the answer"),
            Failure::Http(code) => write!(f, "HTTP status {code}"),
            Failure::Malformed => f.write_str("malformed HTTP answer"),
        }
    }
}

/// One finished request: its tag and its answer body or failure.
#[derive(Debug)]
pub struct Completion<T> {
    /// The tag given to [`PeerClient::enqueue`].
    pub tag: T,
    /// The answer body (status 200) or why there is none.
    pub result: Result<(), Failure>,
}

struct Queued<T> {
    tag: T,
    /// The whole HTTP request (head and body).
    bytes: Vec<u8>,
    timeout: Duration,
}

enum Conn {
    Idle,
    Connecting {
        stream: TcpStream,
        deadline: Instant,
    },
    Open {
        stream: TcpStream,
    },
}

/// One connection and the request it carries.
struct Lane<T> {
    conn: Conn,
    /// The request being sent / awaited.
    current: Option<Queued<T>>,
    written: usize,
    deadline: Option<Instant>,
    /// Answer bytes read so far.
    input: Vec<u8>,
    /// The connection already carried a request (the peer may have closed it since).
    reused: bool,
    /// The current request was already resent once on a fresh connection.
    retried: bool,
}

impl<T> Lane<T> {
    fn new() -> Lane<T> {
        Lane {
            conn: Conn::Idle,
            current: None,
            written: 0,
            deadline: None,
            input: Vec::with_capacity(16 * 1024),
            reused: false,
            retried: false,
        }
    }

    fn close(&mut self, registry: &Registry) {
        match std::mem::replace(&mut self.conn, Conn::Idle) {
            Conn::Connecting { mut stream, .. } | Conn::Open { mut stream } => {
                let _ = registry.deregister(&mut stream);
            }
            Conn::Idle => {}
        }
        self.written = 0;
        self.deadline = None;
        self.input.clear();
        self.reused = false;
    }
}

/// The partner connections and the request queue.
pub struct PeerClient<T> {
    address: SocketAddr,
    token: Token,
    lanes: Vec<Lane<T>>,
    /// Requests not yet on a connection.
    queue: VecDeque<Queued<T>>,
    capacity: usize,
    /// Reused request buffers.
    free: Vec<Vec<u8>>,
}

/// What a parsed response head says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    head_len: usize,
    content_length: usize,
    close: bool,
}

fn parse_head(bytes: &[u8]) -> Result<Option<Head>, Failure> {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        if bytes.len() > 64 * 1024 {
            return Err(Failure::Malformed);
        }
        return Ok(None);
    };
    let head =
        std::str::from_utf8(bytes.get(..end).unwrap_or(&[])).map_err(|_| Failure::Malformed)?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or(Failure::Malformed)?;
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(Failure::Malformed);
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(Failure::Malformed)?;
    let mut content_length = None;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.parse::<usize>().map_err(|_| Failure::Malformed)?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Kea's agent and wren answer with Content-Length; chunked is not expected.
            return Err(Failure::Malformed);
        }
    }
    let content_length = content_length.ok_or(Failure::Malformed)?;
    if content_length > MAX_ANSWER {
        return Err(Failure::Malformed);
    }
    Ok(Some(Head {
        status,
        head_len: end + 4,
        content_length,
        close,
    }))
}

impl<T> PeerClient<T> {
    /// A client for `address` (the peer URL's IP literal and port) over at most
    /// `connections` parallel connections registered under `token`; at most `capacity`
    /// requests wait or are in flight.
    pub fn new(
        address: SocketAddr,
        token: Token,
        capacity: usize,
        connections: usize,
    ) -> PeerClient<T> {
        // [Capsicum] connect() is refused in capability mode: the partner is permitted now
        // (before the sandbox point) and reached through the broker later.
        if let Err(e) = crate::sandbox::permit_tcp_peer(address) {
            log::warn!("HA peer {address} not permitted for sandboxed connects: {e}");
        }
        PeerClient {
            address,
            token,
            lanes: (0..connections.max(1)).map(|_| Lane::new()).collect(),
            queue: VecDeque::with_capacity(capacity),
            capacity,
            free: (0..capacity.min(64))
                .map(|_| Vec::with_capacity(REQUEST_BUFFER))
                .collect(),
        }
    }

    /// Requests waiting or in flight.
    pub fn len(&self) -> usize {
        self.queue.len() + self.lanes.iter().filter(|l| l.current.is_some()).count()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Room left in the queue.
    pub fn room(&self) -> usize {
        self.capacity.saturating_sub(self.len())
    }

    /// Queues a request: `write` fills the (cleared, reused) buffer with the whole HTTP
    /// request. Refused with [`Failure::QueueFull`] when the queue is at capacity.
    pub fn enqueue(
        &mut self,
        tag: T,
        timeout: Duration,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), (T, Failure)> {
        if self.len() >= self.capacity {
            return Err((tag, Failure::QueueFull));
        }
        let mut bytes = self.free.pop().unwrap_or_default();
        bytes.clear();
        write(&mut bytes);
        self.queue.push_back(Queued {
            tag,
            bytes,
            timeout,
        });
        Ok(())
    }

    /// The nearest timeout.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lanes
            .iter()
            .filter_map(|l| match &l.conn {
                Conn::Connecting { deadline, .. } => Some(*deadline),
                _ => l.deadline,
            })
            .min()
    }

    fn recycle(&mut self, q: Queued<T>) -> T {
        if self.free.len() < self.capacity {
            self.free.push(q.bytes);
        }
        q.tag
    }

    /// Fails every waiting request (the partner could not be reached): they would fail
    /// the same way, each after its own timeout.
    fn fail_waiting(&mut self, failure: &Failure, done: &mut impl FnMut(Completion<T>, &[u8])) {
        while let Some(q) = self.queue.pop_front() {
            let tag = self.recycle(q);
            done(
                Completion {
                    tag,
                    result: Err(failure.clone()),
                },
                &[],
            );
        }
    }

    /// Fails the request of lane `i` (if any) and closes its connection.
    fn fail_lane(
        &mut self,
        registry: &Registry,
        i: usize,
        failure: Failure,
        done: &mut impl FnMut(Completion<T>, &[u8]),
    ) {
        let Some(lane) = self.lanes.get_mut(i) else {
            return;
        };
        lane.close(registry);
        if let Some(q) = lane.current.take() {
            let tag = self.recycle(q);
            done(
                Completion {
                    tag,
                    result: Err(failure),
                },
                &[],
            );
        }
    }

    /// Drops every request without reporting (shutdown, reconfiguration).
    pub fn clear(&mut self, registry: &Registry) {
        for lane in &mut self.lanes {
            lane.close(registry);
            lane.current = None;
        }
        while let Some(q) = self.queue.pop_front() {
            self.recycle(q);
        }
    }

    /// Moves bytes: hands waiting requests to free connections (connecting as needed),
    /// writes them, reads their answers, and reports every finished request to `done`
    /// (body slice valid during the call). Call on every readiness event of the token and
    /// once per loop wakeup (timeouts).
    pub fn drive(
        &mut self,
        registry: &Registry,
        now: Instant,
        done: &mut impl FnMut(Completion<T>, &[u8]),
    ) {
        // Bounded: each turn finishes or fails a request, or no lane moves.
        for _ in 0..self.capacity.saturating_add(2) {
            let mut moved = false;
            for i in 0..self.lanes.len() {
                moved |= self.drive_lane(registry, i, now, done);
            }
            if !moved {
                return;
            }
        }
    }

    /// One lane's step; true when it finished or failed a request.
    fn drive_lane(
        &mut self,
        registry: &Registry,
        i: usize,
        now: Instant,
        done: &mut impl FnMut(Completion<T>, &[u8]),
    ) -> bool {
        let Some(lane) = self.lanes.get_mut(i) else {
            return false;
        };
        if lane.current.is_none() {
            let Some(q) = self.queue.pop_front() else {
                return false;
            };
            lane.current = Some(q);
            lane.retried = false;
            lane.written = 0;
            lane.deadline = None;
            lane.input.clear();
        }
        if let Conn::Idle = lane.conn {
            match crate::sandbox::connect_tcp(self.address) {
                Ok(mut stream) => {
                    if let Err(e) = registry.register(
                        &mut stream,
                        self.token,
                        Interest::READABLE | Interest::WRITABLE,
                    ) {
                        let f = Failure::Connect(e.to_string());
                        self.fail_lane(registry, i, f.clone(), done);
                        self.fail_waiting(&f, done);
                        return true;
                    }
                    lane.conn = Conn::Connecting {
                        stream,
                        deadline: now + CONNECT_TIMEOUT,
                    };
                }
                Err(e) => {
                    let f = Failure::Connect(e.to_string());
                    self.fail_lane(registry, i, f.clone(), done);
                    self.fail_waiting(&f, done);
                    return true;
                }
            }
        }
        if let Conn::Connecting { stream, deadline } = &mut lane.conn {
            // mio: connected once there is no error and a peer address.
            let error = match stream.take_error() {
                Ok(Some(e)) | Err(e) => Some(e.to_string()),
                Ok(None) => None,
            };
            let outcome = match (error, stream.peer_addr()) {
                (Some(e), _) => Err(Failure::Connect(e)),
                (None, Ok(_)) => Ok(true),
                (None, Err(e))
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.kind() == io::ErrorKind::WouldBlock =>
                {
                    if now >= *deadline {
                        Err(Failure::Connect("connect timed out".into()))
                    } else {
                        Ok(false)
                    }
                }
                (None, Err(e)) => Err(Failure::Connect(e.to_string())),
            };
            match outcome {
                Err(f) => {
                    self.fail_lane(registry, i, f.clone(), done);
                    self.fail_waiting(&f, done);
                    return true;
                }
                Ok(false) => return false,
                Ok(true) => {
                    let Conn::Connecting { stream, .. } =
                        std::mem::replace(&mut lane.conn, Conn::Idle)
                    else {
                        return false;
                    };
                    let _ = stream.set_nodelay(true);
                    lane.conn = Conn::Open { stream };
                }
            }
        }
        match step(lane, now) {
            Step::Blocked => false,
            Step::Answered { close, body } => {
                let Some(q) = lane.current.take() else {
                    return false;
                };
                lane.written = 0;
                lane.deadline = None;
                lane.reused = true;
                if close {
                    lane.close(registry);
                }
                let tag = q.tag;
                if self.free.len() < self.capacity {
                    self.free.push(q.bytes);
                }
                let Some(lane) = self.lanes.get_mut(i) else {
                    return true;
                };
                done(
                    Completion {
                        tag,
                        result: Ok(()),
                    },
                    lane.input.get(body).unwrap_or(&[]),
                );
                lane.input.clear();
                true
            }
            Step::Failed(f) => {
                // A kept-alive connection the peer closed while idle fails the first
                // request written to it without a byte of answer: resend that request
                // once on a fresh connection (the peer never saw it whole).
                if lane.reused
                    && !lane.retried
                    && lane.input.is_empty()
                    && matches!(f, Failure::Transport(_))
                {
                    lane.close(registry);
                    lane.retried = true;
                    return true;
                }
                self.fail_lane(registry, i, f, done);
                true
            }
        }
    }
}

fn step<T>(lane: &mut Lane<T>, now: Instant) -> Step {
    let Conn::Open { stream } = &mut lane.conn else {
        return Step::Blocked;
    };
    let Some(front) = lane.current.as_ref() else {
        return Step::Blocked;
    };
    let deadline = *lane.deadline.get_or_insert(now + front.timeout);
    if now >= deadline {
        return Step::Failed(Failure::Timeout);
    }
    while lane.written < front.bytes.len() {
        match stream.write(front.bytes.get(lane.written..).unwrap_or(&[])) {
            Ok(0) => return Step::Failed(Failure::Transport("write returned 0".into())),
            Ok(n) => lane.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Blocked,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Step::Failed(Failure::Transport(e.to_string())),
        }
    }
    loop {
        match parse_head(&lane.input) {
            Err(f) => return Step::Failed(f),
            Ok(Some(head)) => {
                let end = head.head_len.saturating_add(head.content_length);
                if lane.input.len() >= end {
                    if head.status != 200 {
                        return Step::Failed(Failure::Http(head.status));
                    }
                    return Step::Answered {
                        close: head.close,
                        body: head.head_len..end,
                    };
                }
            }
            Ok(None) => {}
        }
        let old = lane.input.len();
        if old >= MAX_ANSWER + 64 * 1024 {
            return Step::Failed(Failure::Malformed);
        }
        lane.input.resize(old + 16 * 1024, 0);
        let read = stream.read(lane.input.get_mut(old..).unwrap_or(&mut []));
        match read {
            Ok(0) => {
                lane.input.truncate(old);
                return Step::Failed(Failure::Transport("connection closed by the peer".into()));
            }
            Ok(n) => lane.input.truncate(old + n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                lane.input.truncate(old);
                return Step::Blocked;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => lane.input.truncate(old),
            Err(e) => {
                lane.input.truncate(old);
                return Step::Failed(Failure::Transport(e.to_string()));
            }
        }
    }
}

enum Step {
    Blocked,
    Answered {
        close: bool,
        body: std::ops::Range<usize>,
    },
    Failed(Failure),
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};
    use std::net::TcpListener;

    #[test]
    fn head_parsing() {
        let ok =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n[ 1 ]";
        let h = parse_head(ok).unwrap().unwrap();
        assert_eq!((h.status, h.content_length, h.close), (200, 5, false));
        assert_eq!(&ok[h.head_len..], b"[ 1 ]");
        assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Len").unwrap(), None);
        let closing =
            b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let h = parse_head(closing).unwrap().unwrap();
        assert_eq!((h.status, h.close), (401, true));
        assert_eq!(parse_head(b"SSH-2.0\r\n\r\n"), Err(Failure::Malformed));
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(Failure::Malformed),
            "no Content-Length"
        );
        assert_eq!(
            parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(Failure::Malformed)
        );
    }

    fn run_until<T>(
        poll: &mut Poll,
        client: &mut PeerClient<T>,
        mut server: impl FnMut(),
        done: &mut Vec<(T, Result<(), Failure>, Vec<u8>)>,
        want: usize,
    ) {
        let mut events = Events::with_capacity(8);
        for _ in 0..200 {
            server();
            client.drive(poll.registry(), Instant::now(), &mut |c, body| {
                done.push((c.tag, c.result, body.to_vec()))
            });
            if done.len() >= want {
                return;
            }
            poll.poll(&mut events, Some(Duration::from_millis(20)))
                .unwrap();
        }
        panic!("no completion");
    }

    /// Two requests over one kept-alive connection; the second answer arrives split.
    #[test]
    fn requests_share_one_connection_and_answers_are_reported_in_order() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let mut poll = Poll::new().unwrap();
        let mut client: PeerClient<u32> = PeerClient::new(address, Token(7), 4, 1);
        client
            .enqueue(1, REQUEST_TIMEOUT, |b| {
                b.extend_from_slice(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
            })
            .unwrap();
        client
            .enqueue(2, REQUEST_TIMEOUT, |b| {
                b.extend_from_slice(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]")
            })
            .unwrap();
        let mut accepted: Option<std::net::TcpStream> = None;
        let mut seen = Vec::new();
        let mut answered = 0;
        let mut done = Vec::new();
        run_until(
            &mut poll,
            &mut client,
            || {
                if accepted.is_none() {
                    if let Ok((s, _)) = listener.accept() {
                        s.set_nonblocking(true).unwrap();
                        accepted = Some(s);
                    }
                }
                let Some(s) = accepted.as_mut() else { return };
                let mut buf = [0u8; 256];
                if let Ok(n) = s.read(&mut buf) {
                    seen.extend_from_slice(&buf[..n]);
                }
                let requests = seen.windows(4).filter(|w| *w == b"\r\n\r\n").count();
                while answered < requests {
                    answered += 1;
                    if answered == 1 {
                        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[1]")
                            .unwrap();
                    } else {
                        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Len").unwrap();
                        s.write_all(b"gth: 3\r\n\r\n[2]").unwrap();
                    }
                }
            },
            &mut done,
            2,
        );
        assert_eq!(done[0].0, 1);
        assert_eq!(done[0].2, b"[1]");
        assert_eq!(done[1].0, 2);
        assert_eq!(done[1].2, b"[2]");
        assert!(done.iter().all(|d| d.1.is_ok()));
        assert!(client.is_empty());
    }

    #[test]
    fn refused_connection_fails_every_queued_request_and_a_full_queue_refuses() {
        // Bind then drop: nothing listens on that port now.
        let address = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut poll = Poll::new().unwrap();
        let mut client: PeerClient<u32> = PeerClient::new(address, Token(7), 2, 1);
        client
            .enqueue(1, REQUEST_TIMEOUT, |b| b.push(b'x'))
            .unwrap();
        client
            .enqueue(2, REQUEST_TIMEOUT, |b| b.push(b'x'))
            .unwrap();
        let (tag, f) = client
            .enqueue(3, REQUEST_TIMEOUT, |b| b.push(b'x'))
            .unwrap_err();
        assert_eq!((tag, f), (3, Failure::QueueFull));
        let mut done = Vec::new();
        run_until(&mut poll, &mut client, || {}, &mut done, 2);
        assert!(
            matches!(done[0].1, Err(Failure::Connect(_))),
            "{:?}",
            done[0].1
        );
        assert!(matches!(done[1].1, Err(Failure::Connect(_))));
        assert_eq!(client.room(), 2);
    }

    /// The peer closes the kept-alive connection after the first answer: the second
    /// request goes out again on a new connection instead of failing.
    #[test]
    fn a_connection_closed_while_idle_is_replaced() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let mut poll = Poll::new().unwrap();
        let mut client: PeerClient<u32> = PeerClient::new(address, Token(7), 4, 1);
        let request = |b: &mut Vec<u8>| {
            b.extend_from_slice(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        };
        client.enqueue(1, REQUEST_TIMEOUT, request).unwrap();
        let mut done = Vec::new();
        let mut accepted = 0;
        let mut serve = |close: bool| {
            if let Ok((mut s, _)) = listener.accept() {
                accepted += 1;
                let mut buf = [0u8; 256];
                s.set_nonblocking(false).unwrap();
                let _ = s.read(&mut buf).unwrap();
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n[1]")
                    .unwrap();
                if close {
                    drop(s); // closed while the client thinks it is kept alive
                } else {
                    std::mem::forget(s);
                }
            }
        };
        run_until(&mut poll, &mut client, || serve(true), &mut done, 1);
        std::thread::sleep(Duration::from_millis(50));
        client.enqueue(2, REQUEST_TIMEOUT, request).unwrap();
        run_until(&mut poll, &mut client, || serve(false), &mut done, 2);
        assert!(
            done.iter().all(|d| d.1.is_ok()),
            "{:?}",
            done.iter().map(|d| &d.1).collect::<Vec<_>>()
        );
        assert_eq!(accepted, 2);
    }

    #[test]
    fn non_200_is_a_failure() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let mut poll = Poll::new().unwrap();
        let mut client: PeerClient<u32> = PeerClient::new(address, Token(7), 2, 1);
        client
            .enqueue(9, REQUEST_TIMEOUT, |b| {
                b.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n")
            })
            .unwrap();
        let mut accepted: Option<std::net::TcpStream> = None;
        let mut done = Vec::new();
        run_until(
            &mut poll,
            &mut client,
            || {
                if accepted.is_none() {
                    if let Ok((mut s, _)) = listener.accept() {
                        s.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n{}")
                            .unwrap();
                        accepted = Some(s);
                    }
                }
            },
            &mut done,
            1,
        );
        assert_eq!(done[0].1, Err(Failure::Http(401)));
    }
}
