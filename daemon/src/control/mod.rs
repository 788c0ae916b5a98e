//! The control API's daemon side: unix and HTTP listeners inside the event loop's mio
//! `Poll` (no thread, no runtime), per-connection slots allocated at start, and the
//! carrying out of the core's [`Action`]s.
//!
//! - unix socket (kea-dhcp4's own): one JSON command per connection, one JSON object back,
//!   close;
//! - HTTP (Kea's Control Agent, built in): `POST <any path>` with a JSON command, answered
//!   with a JSON list of one result per service (`dhcp4`); `GET /metrics` answers the
//!   Prometheus text; keep-alive and pipelining; limits from [`http::Limits`]; Basic
//!   authentication ([`auth`]).
//!
//! The event loop calls [`ControlServer::register`] once, [`ControlServer::owns`] /
//! [`ControlServer::ready`] for its tokens, [`ControlServer::expire`] on its timer and
//! [`ControlServer::take_exit`] after each wakeup.

// Core's edit errors carry their text inline (no alloc); commands are not a hot path.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod http;
pub mod settings;
#[cfg(test)]
mod tests;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use wren_core::config::Config;
use wren_core::control::{
    self, edit, Action, Cursor, Decision, Env, Reply, ServerInfo, SubnetChange, View,
};
use wren_core::lease::LeaseTable;
use wren_core::stats::{Gauge, Stats, SubnetStats};
use wren_core::time::Timestamp;

use crate::packet_path::{Engine, Journal};
use auth::BasicAuth;
use http::{HttpError, Limits, Method, Parsed};
pub use settings::{ControlSettings, Listener};

/// First token of the control API (far above the link tokens).
pub const TOKEN_BASE: usize = 1 << 24;
/// Listeners at most.
const MAX_LISTENERS: usize = 8;
/// Concurrent connections at most; beyond, a connection is accepted and closed at once.
pub const MAX_CONNECTIONS: usize = 64;
/// A request must arrive whole within this time (slow clients are cut off).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle keep-alive connection is closed after this time.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Initial answer buffer per slot (grows for large answers such as `lease4-get-all`).
const ANSWER_CAPACITY: usize = 64 * 1024;

/// What the event loop must do after a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlExit {
    /// `shutdown`.
    Shutdown,
    /// `config-reload`: the SIGHUP path (re-read the file).
    Reload,
    /// `config-set` and the subnet/reservation commands: serve this config text.
    Replace(String),
}

enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.read(buf),
            Socket::Unix(s) => s.read(buf),
        }
    }
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => s.write(buf),
            Socket::Unix(s) => s.write(buf),
        }
    }
    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Socket::Tcp(s) => s,
            Socket::Unix(s) => s,
        }
    }
}

enum ListenSocket {
    Tcp(TcpListener, Option<BasicAuth>),
    Unix(UnixListener, PathBuf),
}

struct Connection {
    socket: Socket,
    /// Index of the listener it came from.
    listener: usize,
    http: bool,
    deadline: Instant,
    /// Close once the answer is out.
    closing: bool,
}

/// One connection slot: buffers allocated at start, reused.
struct Slot {
    conn: Option<Connection>,
    input: Vec<u8>,
    input_len: usize,
    output: Vec<u8>,
    output_pos: usize,
    /// Requests wait in `input` for a config swap; serve them on the next tick.
    resume: bool,
}

/// The state a command runs against, besides the engine.
struct State {
    text: String,
    path: PathBuf,
    auto_persist: bool,
    started: Instant,
    configured: Instant,
    render_buf: Vec<u8>,
    order: Vec<u32>,
    scratch: Vec<u8>,
    exit: Option<ControlExit>,
    dhcp_disabled: bool,
    /// `dhcp-disable` `max-period`: when the service comes back by itself.
    enable_at: Option<Instant>,
    /// [`REQUEST_TIMEOUT`] (shorter in tests).
    request_timeout: Duration,
    /// [`IDLE_TIMEOUT`] (shorter in tests).
    idle_timeout: Duration,
    /// [packet trace] `wren-trace`'s switch, shared with the engine.
    trace: crate::trace::SharedSwitch,
}

/// The control listeners and their connections.
pub struct ControlServer {
    /// What the listeners were opened from.
    settings: ControlSettings,
    listeners: Vec<ListenSocket>,
    slots: Vec<Slot>,
    limits: Limits,
    state: State,
}

fn leak_stats(subnets: usize) -> (Stats<'static>, usize) {
    let len = Stats::storage_len(subnets.max(16));
    let storage: &'static mut [SubnetStats] =
        Box::leak(vec![SubnetStats::default(); len].into_boxed_slice());
    (Stats::new(storage, wall_clock()), len)
}

/// The statistics for a (new) configuration, kept in `slot` across reloads (storage leaked
/// once, and again only when the subnets outgrow it), recounted from the lease table.
pub fn fit_stats<'a>(
    slot: &'a mut Option<(&'static mut Stats<'static>, usize)>,
    config: &Config<'_>,
    leases: &LeaseTable<'_>,
) -> &'a mut Stats<'static> {
    let needed = Stats::storage_len(config.subnets.len());
    if slot.as_ref().is_none_or(|(_, capacity)| *capacity < needed) {
        let (stats, capacity) = leak_stats(config.subnets.len());
        *slot = Some((Box::leak(Box::new(stats)), capacity));
    }
    let Some((stats, _)) = slot else {
        unreachable!("filled above")
    };
    if let Err(e) = stats.configure(config, leases, wall_clock()) {
        log::warn!("statistics not configured: {e:?}");
    }
    stats
}

fn wall_clock() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

impl ControlServer {
    /// Opens every listener of `settings` (a stale unix socket file is replaced). `path` is
    /// the `-c` file (config-write, config-reload, auto-persist); `text` the running text.
    pub fn open(settings: &ControlSettings, path: &Path, text: &str) -> io::Result<ControlServer> {
        let mut listeners = Vec::new();
        for l in settings.listeners.iter().take(MAX_LISTENERS) {
            match l {
                Listener::Unix(p) => {
                    // [freebsd branch] Through the directory table, which keeps the
                    // socket's directory for the removal at exit (crate::sandbox::dirs).
                    let _ = crate::sandbox::dirs::unlink(p);
                    let socket = UnixListener::bind(p).map_err(|e| {
                        io::Error::new(e.kind(), format!("control socket {}: {e}", p.display()))
                    })?;
                    log::info!("COMMAND_ACCEPTOR_START control socket {}", p.display());
                    listeners.push(ListenSocket::Unix(socket, p.clone()));
                }
                Listener::Http { address, auth } => {
                    let socket = TcpListener::bind(*address).map_err(|e| {
                        io::Error::new(e.kind(), format!("control socket http://{address}: {e}"))
                    })?;
                    log::info!(
                        "CTRL_AGENT_HTTP_SERVICE_STARTED control API on http://{address}{}",
                        if auth.is_some() {
                            " (basic authentication)"
                        } else {
                            ""
                        }
                    );
                    listeners.push(ListenSocket::Tcp(socket, auth.clone()));
                }
            }
        }
        if !listeners.is_empty() {
            // [freebsd branch] config-write / auto-persist replace files in the config
            // directory after the sandbox point: open it for that now.
            let dir = crate::sandbox::dirs::parent_of(path);
            if let Err(e) =
                crate::sandbox::dirs::prepare(dir, crate::sandbox::dirs::Access::Replace)
            {
                log::warn!(
                    "WREN_CONTROL_CONFIG_DIR {}: {e}; config-write will fail",
                    dir.display()
                );
            }
        }
        let limits = Limits::DEFAULT;
        let slots = if listeners.is_empty() {
            Vec::new()
        } else {
            (0..MAX_CONNECTIONS)
                .map(|_| Slot {
                    conn: None,
                    input: vec![0; limits.max_head + limits.max_body + 4],
                    input_len: 0,
                    output: Vec::with_capacity(ANSWER_CAPACITY),
                    output_pos: 0,
                    resume: false,
                })
                .collect()
        };
        Ok(ControlServer {
            settings: settings.clone(),
            listeners,
            slots,
            limits,
            state: State {
                text: text.to_owned(),
                path: path.to_owned(),
                auto_persist: settings.auto_persist,
                started: Instant::now(),
                configured: Instant::now(),
                render_buf: vec![0; 16 * 1024],
                order: Vec::new(),
                scratch: Vec::with_capacity(256),
                exit: None,
                dhcp_disabled: false,
                enable_at: None,
                request_timeout: REQUEST_TIMEOUT,
                idle_timeout: IDLE_TIMEOUT,
                trace: crate::trace::SharedSwitch::default(),
            },
        })
    }

    /// Follows a new configuration (after start, a reload or a replace).
    pub fn configure(&mut self, text: &str) {
        match ControlSettings::from_text(text) {
            Ok(new) => {
                if new.listeners != self.settings.listeners {
                    log::warn!(
                        "WREN_CONTROL_SOCKETS_UNCHANGED control socket changes take effect at the next start; the listeners stay as they are"
                    );
                }
                self.state.auto_persist = new.auto_persist;
            }
            Err(e) => log::warn!("WREN_CONTROL_SOCKETS_UNCHANGED {e}"),
        }
        text.clone_into(&mut self.state.text);
        self.state.configured = Instant::now();
    }

    /// Registers the listeners.
    pub fn register(&mut self, registry: &Registry) -> io::Result<()> {
        for (i, l) in self.listeners.iter_mut().enumerate() {
            let token = Token(TOKEN_BASE + i);
            match l {
                ListenSocket::Tcp(s, _) => registry.register(s, token, Interest::READABLE)?,
                ListenSocket::Unix(s, _) => registry.register(s, token, Interest::READABLE)?,
            }
        }
        Ok(())
    }

    /// Whether a token is the control API's.
    pub fn owns(token: Token) -> bool {
        token.0 >= TOKEN_BASE
    }

    /// The nearest connection deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.conn.as_ref().map(|c| c.deadline))
            .chain(self.state.enable_at)
            .min()
    }

    /// What the loop must do after this wakeup's commands.
    pub fn take_exit(&mut self) -> Option<ControlExit> {
        self.state.exit.take()
    }

    /// Hands a new engine (after a reload) the `dhcp-disable` state before its first packet,
    /// and the `wren-trace` switch.
    pub fn prepare<E: Engine>(&self, engine: &mut E) {
        engine.set_serving(!self.state.dhcp_disabled);
        engine.attach_trace(self.state.trace.clone()); // [packet trace]
    }

    /// Whether `dhcp-disable` is in force.
    pub fn dhcp_disabled(&self) -> bool {
        self.state.dhcp_disabled
    }

    /// Once per wakeup, after the packets: closes connections past their deadline (slow
    /// clients), ends a `dhcp-disable` whose `max-period` is over, tells the engine whether
    /// to serve, and resumes requests that waited for a config swap.
    pub fn tick<E: Engine, J: Journal>(
        &mut self,
        registry: &Registry,
        now: Instant,
        engine: &mut E,
        journal: &mut J,
    ) {
        for slot in &mut self.slots {
            if slot.conn.as_ref().is_some_and(|c| c.deadline <= now) {
                close(registry, slot);
            }
        }
        if self.state.dhcp_disabled && self.state.enable_at.is_some_and(|t| t <= now) {
            log::info!("DHCP4_DHCP_ENABLE max-period over: DHCP service enabled again");
            self.state.dhcp_disabled = false;
            self.state.enable_at = None;
        }
        engine.set_serving(!self.state.dhcp_disabled);
        if self.state.exit.is_none() {
            for index in 0..self.slots.len() {
                if self.slots.get(index).is_some_and(|s| s.resume) {
                    if let Some(slot) = self.slots.get_mut(index) {
                        slot.resume = false;
                    }
                    self.serve(registry, index, engine, journal);
                }
            }
        }
    }

    /// Serves a ready control token.
    pub fn ready<E: Engine, J: Journal>(
        &mut self,
        registry: &Registry,
        token: Token,
        engine: &mut E,
        journal: &mut J,
    ) {
        let Some(index) = token.0.checked_sub(TOKEN_BASE) else {
            return;
        };
        if index < MAX_LISTENERS {
            self.accept(registry, index);
        } else {
            let slot = index - MAX_LISTENERS;
            self.serve(registry, slot, engine, journal);
        }
    }

    fn accept(&mut self, registry: &Registry, index: usize) {
        loop {
            let (socket, http) = match self.listeners.get_mut(index) {
                Some(ListenSocket::Tcp(l, _)) => match l.accept() {
                    Ok((s, _)) => (Socket::Tcp(s), true),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) => {
                        log::warn!("control accept: {e}");
                        return;
                    }
                },
                Some(ListenSocket::Unix(l, _)) => match l.accept() {
                    Ok((s, _)) => (Socket::Unix(s), false),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) => {
                        log::warn!("control accept: {e}");
                        return;
                    }
                },
                None => return,
            };
            let Some(free) = self.slots.iter().position(|s| s.conn.is_none()) else {
                log::warn!("WREN_CONTROL_BUSY {MAX_CONNECTIONS} control connections open; closing a new one");
                drop(socket);
                continue;
            };
            let Some(slot) = self.slots.get_mut(free) else {
                continue;
            };
            let mut conn = Connection {
                socket,
                listener: index,
                http,
                deadline: Instant::now() + self.state.request_timeout,
                closing: false,
            };
            if registry
                .register(
                    conn.socket.source(),
                    Token(TOKEN_BASE + MAX_LISTENERS + free),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                continue;
            }
            slot.conn = Some(conn);
            slot.input_len = 0;
            slot.output.clear();
            slot.output_pos = 0;
            slot.resume = false;
        }
    }

    fn serve<E: Engine, J: Journal>(
        &mut self,
        registry: &Registry,
        index: usize,
        engine: &mut E,
        journal: &mut J,
    ) {
        let limits = self.limits;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        loop {
            // Flush what is pending first.
            if !flush(slot) {
                return; // would block: wait for writable
            }
            let Some(conn) = slot.conn.as_mut() else {
                return;
            };
            if conn.closing {
                close(registry, slot);
                return;
            }
            // A command changed the config: later requests wait for the swap (the loop
            // applies it after this wakeup; `tick` resumes this slot).
            if self.state.exit.is_some() {
                slot.resume = true;
                return;
            }
            // Answer a whole request if one is buffered.
            if self::answer_buffered(
                slot,
                &limits,
                &self.listeners,
                &mut self.state,
                engine,
                journal,
            ) {
                continue;
            }
            // Read more.
            let Some(conn) = slot.conn.as_mut() else {
                return;
            };
            let free = slot.input.get_mut(slot.input_len..).unwrap_or(&mut []);
            if free.is_empty() {
                close(registry, slot);
                return;
            }
            match conn.socket.read(free) {
                Ok(0) => {
                    // Unix clients may half-close after the command: answer what came.
                    if !conn.http && slot.input_len > 0 {
                        conn.closing = true;
                        let body = slot.input.get(..slot.input_len).unwrap_or(&[]).to_vec();
                        slot.input_len = 0;
                        run_unix(slot, &body, &mut self.state, engine, journal);
                        continue;
                    }
                    close(registry, slot);
                    return;
                }
                Ok(n) => slot.input_len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    close(registry, slot);
                    return;
                }
            }
        }
    }
}

fn close(registry: &Registry, slot: &mut Slot) {
    if let Some(mut conn) = slot.conn.take() {
        let _ = registry.deregister(conn.socket.source());
    }
    slot.input_len = 0;
    slot.output.clear();
    slot.output_pos = 0;
}

/// Writes pending output; false when the socket would block.
fn flush(slot: &mut Slot) -> bool {
    let Some(conn) = slot.conn.as_mut() else {
        return true;
    };
    while slot.output_pos < slot.output.len() {
        let pending = slot.output.get(slot.output_pos..).unwrap_or(&[]);
        match conn.socket.write(pending) {
            Ok(0) => {
                conn.closing = true;
                slot.output_pos = slot.output.len();
            }
            Ok(n) => slot.output_pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                conn.closing = true;
                slot.output_pos = slot.output.len();
            }
        }
    }
    slot.output.clear();
    slot.output_pos = 0;
    true
}

/// Answers the request at the start of the input if it is whole; returns whether it did.
fn answer_buffered<E: Engine, J: Journal>(
    slot: &mut Slot,
    limits: &Limits,
    listeners: &[ListenSocket],
    state: &mut State,
    engine: &mut E,
    journal: &mut J,
) -> bool {
    let Some(conn) = slot.conn.as_mut() else {
        return false;
    };
    let input = slot.input.get(..slot.input_len).unwrap_or(&[]);
    if !conn.http {
        if !http::json_complete(input) {
            return false;
        }
        let body = input.to_vec();
        conn.closing = true;
        slot.input_len = 0;
        run_unix(slot, &body, state, engine, journal);
        return true;
    }
    let auth = match listeners.get(conn.listener) {
        Some(ListenSocket::Tcp(_, a)) => a.as_ref(),
        _ => None,
    };
    match http::parse(input, limits) {
        Parsed::Incomplete => false,
        Parsed::Error(e) => {
            let (code, reason) = e.status();
            let detail = match e {
                HttpError::BadRequest(why) => why,
                _ => reason,
            };
            let body = format!("{{ \"result\": {code}, \"text\": \"{detail}\" }}");
            http::write_response(
                &mut slot.output,
                (code, reason),
                "application/json",
                "",
                false,
                body.as_bytes(),
            );
            conn.closing = true;
            slot.input_len = 0;
            true
        }
        Parsed::Complete { request, len } => {
            let keep = request.keep_alive;
            let mut out = std::mem::take(&mut slot.output);
            out.clear();
            if let Some(a) = auth.filter(|a| !a.allows(request.authorization, &mut state.scratch)) {
                http::write_response(
                    &mut out,
                    (401, "Unauthorized"),
                    "application/json",
                    &a.challenge(),
                    keep,
                    br#"{ "result": 401, "text": "Unauthorized" }"#,
                );
            } else {
                match (request.method, request.path) {
                    (Method::Get, "/metrics") => {
                        let gauges = [Gauge {
                            name: "wren_uptime_seconds",
                            help: "Seconds since wrend started.",
                            value: state.started.elapsed().as_secs_f64(),
                        }];
                        let mut text = Vec::new();
                        let mut len = 0;
                        engine.with_control(&mut |_, _, stats| {
                            if let Some(stats) = stats {
                                text.resize(64 * 1024 + 256 * stats.subnets().len(), 0);
                                len = stats.prometheus(&gauges, &mut text).unwrap_or(0);
                            }
                        });
                        http::write_response(
                            &mut out,
                            (200, "OK"),
                            "text/plain; version=0.0.4",
                            "",
                            keep,
                            text.get(..len).unwrap_or(&[]),
                        );
                    }
                    (Method::Get, _) => http::write_response(
                        &mut out,
                        (404, "Not Found"),
                        "application/json",
                        "",
                        keep,
                        br#"{ "result": 404, "text": "Not Found" }"#,
                    ),
                    (Method::Other, _) => http::write_response(
                        &mut out,
                        (405, "Method Not Allowed"),
                        "application/json",
                        "Allow: GET, POST\r\n",
                        keep,
                        br#"{ "result": 405, "text": "Method Not Allowed" }"#,
                    ),
                    (Method::Post, _)
                        if !request.content_type.is_some_and(|t| {
                            t.to_ascii_lowercase().starts_with("application/json")
                        }) =>
                    {
                        http::write_response(
                            &mut out,
                            (415, "Unsupported Media Type"),
                            "application/json",
                            "",
                            keep,
                            br#"{ "result": 415, "text": "Unsupported Media Type" }"#,
                        )
                    }
                    (Method::Post, _) => {
                        let mut json = Vec::with_capacity(256);
                        json.extend_from_slice(b"[ ");
                        http_services(request.body, state, engine, journal, &mut json);
                        json.extend_from_slice(b" ]");
                        http::write_response(
                            &mut out,
                            (200, "OK"),
                            "application/json",
                            "",
                            keep,
                            &json,
                        );
                    }
                }
            }
            slot.output = out;
            // Pipelined bytes move to the front.
            slot.input.copy_within(len..slot.input_len, 0);
            slot.input_len -= len;
            conn.closing = !keep;
            conn.deadline = Instant::now()
                + if slot.input_len > 0 {
                    state.request_timeout
                } else {
                    state.idle_timeout
                };
            true
        }
    }
}

/// Kea's Control Agent forwards a command to each listed `service` in order, one answer
/// each (kea-control-api.md §1). wren is the dhcp4 server itself: `dhcp4` runs the
/// command, any other service gets the agent's "not configured" answer. No `service`
/// runs it for dhcp4 too (the agent would answer for itself; the command set is ours).
fn http_services<E: Engine, J: Journal>(
    body: &[u8],
    state: &mut State,
    engine: &mut E,
    journal: &mut J,
    out: &mut Vec<u8>,
) {
    let names: Vec<String> = match control::parse_request_bytes(body) {
        Ok(request) => request
            .services()
            .map(|s| {
                let mut buf = vec![0u8; s.0.len() + 4];
                s.unescape(&mut buf).unwrap_or(s.0).to_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    if names.is_empty() {
        run_command(body, state, engine, journal, out);
        return;
    }
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        if name == "dhcp4" {
            run_command(body, state, engine, journal, out);
        } else {
            let mut text = Vec::new();
            // The name goes into a JSON string: quotes, backslashes and controls dropped.
            for c in name
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
            {
                let mut b = [0u8; 4];
                text.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
            out.extend_from_slice(b"{ \"result\": 1, \"text\": \"forwarding socket is not configured for the server type ");
            out.extend_from_slice(&text);
            out.extend_from_slice(b"\" }");
        }
    }
}

fn run_unix<E: Engine, J: Journal>(
    slot: &mut Slot,
    body: &[u8],
    state: &mut State,
    engine: &mut E,
    journal: &mut J,
) {
    let mut out = std::mem::take(&mut slot.output);
    out.clear();
    run_command(body, state, engine, journal, &mut out);
    slot.output = out;
}

/// Runs one command and appends its JSON answer object to `out`.
fn run_command<E: Engine, J: Journal>(
    body: &[u8],
    state: &mut State,
    engine: &mut E,
    journal: &mut J,
    out: &mut Vec<u8>,
) {
    let now = wall_clock();
    let text = std::mem::take(&mut state.text);
    let mut answered = false;
    engine.with_control(&mut |config, leases, stats| {
        let Some(stats) = stats else {
            return;
        };
        answered = true;
        let request = match control::parse_request_bytes(body) {
            Ok(r) => r,
            Err(e) => {
                render_all(
                    &Reply::from_request_error(&e),
                    config,
                    &text,
                    leases,
                    stats,
                    state,
                    out,
                );
                return;
            }
        };
        let decision = {
            let mut env = Env {
                config,
                config_text: &text,
                leases,
                stats,
                now,
            };
            control::execute(&request, &mut env, journal)
        };
        // Lease rows durable before the answer.
        if let Err(e) = journal.sync_batch() {
            log::error!("DHCPSRV_MEMFILE_WRITE_FAIL control command lease write: {e}");
            render_all(&Reply::error(&e), config, &text, leases, stats, state, out);
            return;
        }
        let reply = match decision {
            Decision::Reply(r) => r,
            Decision::Action(a) => carry_out(a, config, &text, state),
        };
        render_all(&reply, config, &text, leases, stats, state, out);
    });
    if !answered {
        out.extend_from_slice(
            br#"{ "result": 1, "text": "the server has no state to answer from" }"#,
        );
    }
    if state.text.is_empty() {
        state.text = text;
    }
}

fn render_all(
    reply: &Reply<'_>,
    config: &Config<'_>,
    text: &str,
    leases: &mut LeaseTable<'_>,
    stats: &Stats<'_>,
    state: &mut State,
    out: &mut Vec<u8>,
) {
    let order: &[u32] = if reply.needs_lease_order() {
        state.order.resize(leases.capacity(), 0);
        leases.ids_by_address(&mut state.order)
    } else {
        &[]
    };
    let version = crate::cli::version();
    let extended = crate::cli::extended_version();
    let report = crate::cli::build_report();
    let view = View {
        config,
        config_text: text,
        leases,
        stats,
        info: ServerInfo {
            version,
            extended: &extended,
            build_report: &report,
            pid: std::process::id(),
            uptime: state.started.elapsed().as_secs(),
            reload: state.configured.elapsed().as_secs(),
            utc_offset: 0,
        },
        lease_order: order,
    };
    let mut cursor = Cursor::default();
    loop {
        let chunk = control::render(reply, &view, cursor, &mut state.render_buf);
        out.extend_from_slice(state.render_buf.get(..chunk.len).unwrap_or(&[]));
        if chunk.done || chunk.len == 0 {
            break;
        }
        cursor = chunk.next;
    }
}

/// Parses a candidate config text as the server would at a reload.
fn validate(path: &Path, text: &str) -> Result<(), String> {
    let mut storage = crate::config_load::allocate(path, text).map_err(|e| e.to_string())?;
    let mut warnings = Vec::new();
    crate::config_load::parse(path, text, &mut storage, &mut warnings)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn subnet_prefix(path: &Path, text: &str, id: u32) -> Option<wren_core::config::Ipv4Prefix> {
    let mut storage = crate::config_load::allocate(path, text).ok()?;
    let mut warnings = Vec::new();
    let config = crate::config_load::parse(path, text, &mut storage, &mut warnings).ok()?;
    config.subnet_by_id(id).map(|s| s.prefix)
}

/// Writes `text` to `target` atomically: temp file, fsync, rename; the previous file is
/// kept as `<target>.<unix seconds>.bak`. Returns the size written.
pub fn write_atomically(target: &Path, text: &str) -> io::Result<u64> {
    // [freebsd branch] openat/renameat/fsync through the directory table (works in
    // capability mode; crate::sandbox::dirs::replace does the steps above).
    let stamp = wall_clock().0.to_string();
    crate::sandbox::dirs::replace(target, text.as_bytes(), Some(&stamp))?;
    Ok(text.len() as u64)
}

/// Where `config-write` may write: only into the `-c` file's directory (a relative name is
/// taken from there). Kea 2.2 wrote anywhere the process could; later Kea releases (2.6.3)
/// restrict the path the same way, since a control client could otherwise overwrite any
/// file the server (often root) can write.
fn config_write_target(config_path: &Path, name: &str) -> Result<PathBuf, String> {
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let candidate = dir.join(name);
    let refuse = || {
        format!(
            "not allowed to write config into {name}: the file must be in the directory of the configuration file ({})",
            dir.display()
        )
    };
    let parent = candidate.parent().ok_or_else(refuse)?;
    // Lexically ("." and ".." folded): `realpath` is refused in capability mode.
    let absolute = crate::sandbox::dirs::absolute_path;
    let same = match (absolute(parent), absolute(dir)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same || candidate.file_name().is_none() || name.ends_with('/') {
        return Err(refuse());
    }
    Ok(candidate)
}

fn pretty(text: &str) -> Result<String, String> {
    let mut buf = vec![0u8; text.len() * 4 + 1024];
    let n = edit::pretty(text, &mut buf).map_err(|e| e.to_string())?;
    buf.truncate(n);
    String::from_utf8(buf).map_err(|e| e.to_string())
}

/// Applies an edited text: validate, persist if asked, swap at the end of this wakeup.
fn apply_edit(state: &mut State, new_text: String) -> Result<(), String> {
    validate(&state.path, &new_text)?;
    if state.auto_persist {
        let p = pretty(&new_text)?;
        write_atomically(&state.path, &p).map_err(|e| format!("auto-persist: {e}"))?;
    }
    state.exit = Some(ControlExit::Replace(new_text.clone()));
    state.text = new_text;
    Ok(())
}

fn edit_with(
    text: &str,
    extra: usize,
    f: impl FnOnce(&str, &mut [u8]) -> Result<usize, edit::EditError>,
) -> Result<String, String> {
    let mut buf = vec![0u8; text.len() + extra + 1024];
    let n = f(text, &mut buf).map_err(|e| e.to_string())?;
    buf.truncate(n);
    String::from_utf8(buf).map_err(|e| e.to_string())
}

fn carry_out(
    action: Action<'_>,
    config: &Config<'_>,
    text: &str,
    state: &mut State,
) -> Reply<'static> {
    use control::texts;
    let result: Result<Reply<'static>, String> = match action {
        Action::ConfigTest { config: node } => {
            validate(&state.path, node.text()).map(|_| Reply::status(0, texts::CONFIG_TEST_OK))
        }
        Action::ConfigSet { config: node } => {
            let new_text = node.text().to_owned();
            validate(&state.path, &new_text).map(|_| {
                state.exit = Some(ControlExit::Replace(new_text.clone()));
                state.text = new_text;
                Reply::status(0, texts::CONFIG_SET_OK)
            })
        }
        Action::ConfigReload => crate::config_load::check(&state.path)
            .map_err(|e| e.to_string())
            .map(|_| {
                state.exit = Some(ControlExit::Reload);
                Reply::status(0, texts::CONFIG_SET_OK)
            }),
        Action::ConfigWrite { filename } => {
            let target = match filename {
                Some(f) => {
                    let mut buf = vec![0u8; f.0.len() + 4];
                    config_write_target(&state.path, f.unescape(&mut buf).unwrap_or(f.0))
                }
                None => Ok(state.path.clone()),
            };
            target
                .and_then(|target| pretty(text).map(|p| (target, p)))
                .and_then(|(target, p)| {
                    write_atomically(&target, &p)
                        .map(|size| Reply::ConfigWritten {
                            filename: control::text(format_args!("{}", target.display())),
                            size,
                        })
                        .map_err(|e| {
                            format!(
                            "Error during write-config:Unable to open file {} for writing ({e})",
                            target.display()
                        )
                        })
                })
        }
        Action::Shutdown { .. } => {
            state.exit = Some(ControlExit::Shutdown);
            Ok(Reply::status(0, texts::SHUTTING_DOWN))
        }
        Action::DhcpDisable { max_period, .. } => {
            state.dhcp_disabled = true;
            state.enable_at =
                max_period.map(|s| Instant::now() + Duration::from_secs(u64::from(s)));
            log::info!("DHCP4_DHCP_DISABLE DHCP service disabled by a control command");
            Ok(Reply::dhcp_disabled(max_period))
        }
        Action::DhcpEnable { .. } => {
            state.dhcp_disabled = false;
            state.enable_at = None;
            log::info!("DHCP4_DHCP_ENABLE DHCP service enabled by a control command");
            Ok(Reply::status(0, texts::DHCP_ENABLED))
        }
        Action::LeasesReclaim { .. } => Ok(Reply::status(0, texts::RECLAIM_DONE)),
        Action::Trace(request) => {
            // [packet trace] The switch the engine follows (attached in `prepare`).
            let mut switch = state.trace.get();
            let text = switch.apply(request);
            state.trace.set(switch);
            if request != control::trace_cmd::TraceRequest::Status {
                log::info!("WREN_PACKET_TRACE_SET {}", text.as_str());
            }
            Ok(Reply::Status { result: 0, text })
        }
        Action::SubnetAdd { id, subnet } | Action::SubnetUpdate { id, subnet } => {
            let update = matches!(action, Action::SubnetUpdate { .. });
            let edited = if update {
                edit_with(text, subnet.text().len(), |t, out| {
                    edit::replace_subnet(t, id, subnet.text(), out)
                })
            } else {
                edit_with(text, subnet.text().len(), |t, out| {
                    edit::add_subnet(t, subnet.text(), out)
                })
            };
            edited.and_then(|new_text| {
                let prefix = subnet_prefix(&state.path, &new_text, id);
                apply_edit(state, new_text)?;
                let prefix = prefix.ok_or("subnet not found after the edit")?;
                Ok(Reply::SubnetChanged {
                    change: if update {
                        SubnetChange::Updated
                    } else {
                        SubnetChange::Added
                    },
                    id,
                    prefix,
                })
            })
        }
        Action::SubnetDel { id, prefix } => {
            edit_with(text, 0, |t, out| edit::remove_subnet(t, id, out))
                .and_then(|new_text| apply_edit(state, new_text))
                .map(|_| Reply::SubnetChanged {
                    change: SubnetChange::Deleted,
                    id,
                    prefix,
                })
        }
        other => reservation(other, config, text, state),
    };
    result.unwrap_or_else(|e| Reply::error(&e))
}

fn reservation(
    action: Action<'_>,
    _config: &Config<'_>,
    text: &str,
    state: &mut State,
) -> Result<Reply<'static>, String> {
    use control::texts;
    match action {
        Action::ReservationAdd {
            subnet_id,
            reservation,
        } => edit_with(text, reservation.text().len(), |t, out| {
            edit::add_reservation(t, subnet_id, reservation, out)
        })
        .and_then(|new_text| apply_edit(state, new_text))
        .map(|_| Reply::status(0, texts::HOST_ADDED)),
        Action::ReservationDel {
            subnet_id,
            position,
        } => edit_with(text, 0, |t, out| {
            edit::remove_reservation(t, subnet_id, position, out)
        })
        .and_then(|new_text| apply_edit(state, new_text))
        .map(|_| Reply::status(0, texts::HOST_DELETED)),
        _ => Err("command not handled".into()),
    }
}

/// Opens the listeners `text` configures and attaches them to the loop (nothing when the
/// config has no control socket). A refused configuration (an open HTTP listener on a
/// routable address) is an error that stops the start.
pub fn start(
    event_loop: &mut crate::event_loop::EventLoop,
    path: &Path,
    text: &str,
) -> io::Result<()> {
    let settings = ControlSettings::from_text(text).map_err(io::Error::other)?;
    if settings.listeners.is_empty() {
        return Ok(());
    }
    let server = ControlServer::open(&settings, path, text)?;
    event_loop.attach_control(server)
}

impl Drop for ControlServer {
    /// Removes the unix socket files (kea-dhcp4 does at exit).
    fn drop(&mut self) {
        for l in &self.listeners {
            if let ListenSocket::Unix(_, path) = l {
                let _ = crate::sandbox::dirs::unlink(path);
            }
        }
    }
}
