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
use wren_core::stats::{
    Gauge, History, SampleRing, Stats, StoredSample, SubnetStats, DEFAULT_SAMPLE_COUNT,
};
use wren_core::time::Timestamp;

use crate::packet_path::{Engine, Journal};
use auth::BasicAuth;
use http::{HttpError, Limits, Method, Parsed};
pub use settings::{ControlSettings, Listener};

/// First token of the control API (far above the link tokens).
pub const TOKEN_BASE: usize = 1 << 24;
/// Listeners at most.
const MAX_LISTENERS: usize = 8;
/// Concurrent connections at most; beyond, the oldest idle connection (or, when none is
/// idle, the oldest one) is closed to make room, so a flood of idle or slow connections
/// cannot lock a well-behaved client (an HA partner, an operator) out of the API.
pub const MAX_CONNECTIONS: usize = 64;
/// Initial input buffer per slot: a request line, headers and a command of common size.
/// A larger body grows the buffer up to [`Limits`] and it shrinks back once answered, so
/// the resident memory of 64 slots stays ~1 MiB whatever clients sent before.
const INPUT_CAPACITY: usize = 16 * 1024;
/// The input buffers of all connections together may grow beyond [`INPUT_CAPACITY`] each
/// by at most this many times [`Limits::max_body`]: one largest request (and the next one
/// arriving meanwhile) always fits, while many large ones at once cannot exhaust memory.
/// A connection whose growth would pass the budget is read no further until the others'
/// buffers shrink (back-pressure through the socket; its request deadline still runs).
pub const GROWTH_BUDGET_FACTOR: usize = 2;
/// At most one "connections full" warning per this interval (a flood must not flood the log).
const BUSY_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// A request must arrive whole within this time (slow clients are cut off).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle keep-alive connection is closed after this time.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Initial answer buffer per slot (grows for large answers such as `lease4-get-all`).
const ANSWER_CAPACITY: usize = 64 * 1024;

/// [HA] Commands answered outside the core's control module (`crate::ha::peer_commands`).
pub trait CommandHook {
    /// Appends the answer object for `body` to `out` when the command is the hook's;
    /// returns whether it was.
    fn command(&mut self, body: &[u8], out: &mut Vec<u8>) -> bool;
    /// Adds to the answer the core rendered at `out[start..]` (`status-get`'s HA part).
    fn amend(&mut self, body: &[u8], out: &mut Vec<u8>, start: usize);
    /// Whether the command `command` just took is answered later (`ha-sync`: Kea answers
    /// when the sync is over; `ha-maintenance-start`: when the partner answered, kea-ha.md
    /// §5), under which ticket: `out` was left untouched, the connection waits for
    /// [`CommandHook::poll_deferred`] while the loop serves everything else.
    fn take_deferred(&mut self) -> Option<u64> {
        None
    }
    /// Appends the next deferred answer object that is ready to `out`; returns its ticket.
    fn poll_deferred(&mut self, _out: &mut Vec<u8>) -> Option<u64> {
        None
    }
}

/// A connection whose command is answered later ([`CommandHook::take_deferred`]).
#[derive(Debug)]
struct Waiting {
    /// The hook's ticket for the answer.
    ticket: u64,
    /// HTTP: the answer list written so far (`[ ` and earlier services' answers) and
    /// whether to keep the connection; `None` on the unix socket (one object, then close).
    http: Option<(Vec<u8>, bool)>,
}

/// How long a deferred answer may take at most. The HA runtime bounds each exchange of the
/// sync by `sync-timeout` and always answers; this only guards against a lost answer.
const DEFERRED_LIMIT: Duration = Duration::from_secs(3600);

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
    /// When it was accepted (the oldest makes room when all slots are taken).
    accepted: Instant,
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
    /// [HA] The command's answer comes later (`ha-sync`).
    waiting: Option<Waiting>,
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
    /// Connections closed to make room since the last "full" warning, and when it was.
    evicted: u64,
    busy_logged: Option<Instant>,
    /// [packet trace] `wren-trace`'s switch, shared with the engine.
    trace: crate::trace::SharedSwitch,
    /// [HA] Sees every command first.
    hook: Option<Box<dyn CommandHook>>,
    /// [HA] The last command's answer is deferred under this ticket
    /// ([`CommandHook::take_deferred`]).
    deferred: Option<u64>,
}

/// The control listeners and their connections.
pub struct ControlServer {
    /// What the listeners were opened from.
    settings: ControlSettings,
    /// [HA] Listeners at the end of `settings` opened for the HA peer URL (not in the text).
    ha_listeners: usize,
    listeners: Vec<ListenSocket>,
    slots: Vec<Slot>,
    limits: Limits,
    state: State,
}

/// Samples kept per statistic: Kea 2.2's default (`statistic-default-sample-count`), or
/// the config's count when larger, up to [`MAX_SAMPLE_DEPTH`]. The memory this costs is
/// `Stats::history_slots(subnets)` × depth × 12 bytes: 5.8 MB for 2,000 subnets at 20,
/// 150 KB for 50 (`wren_core::stats::history` gives the arithmetic).
fn sample_depth(config: &Config<'_>) -> usize {
    let asked = config
        .globals
        .statistic_sample_count
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    asked.clamp(DEFAULT_SAMPLE_COUNT as usize, MAX_SAMPLE_DEPTH)
}

/// The most samples a statistic keeps whatever the config or a command asks (a larger
/// count keeps this many): 100 × 12 bytes per statistic, 29 MB for 2,000 subnets.
const MAX_SAMPLE_DEPTH: usize = 100;

fn leak_stats(subnets: usize, depth: usize) -> (Stats<'static>, usize) {
    let len = Stats::storage_len(subnets.max(16));
    let storage: &'static mut [SubnetStats] =
        Box::leak(vec![SubnetStats::default(); len].into_boxed_slice());
    // History for the configured subnets (not the reconfiguration spare half).
    let slots = Stats::history_slots(len / 2);
    let rings: &'static mut [SampleRing] =
        Box::leak(vec![SampleRing::default(); slots].into_boxed_slice());
    let samples: &'static mut [StoredSample] =
        Box::leak(vec![StoredSample::default(); slots * depth].into_boxed_slice());
    let history = History::new(rings, samples);
    (Stats::with_history(storage, history, wall_clock()), len)
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
        let (stats, capacity) = leak_stats(config.subnets.len(), sample_depth(config));
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
            // directory after the sandbox point: open it (and, when the config file is a
            // symbolic link, its target's) for that now.
            let dir = crate::sandbox::dirs::parent_of(path);
            let replace = crate::sandbox::dirs::Access::Replace;
            if let Err(e) = crate::sandbox::dirs::prepare(dir, replace)
                .and_then(|()| crate::sandbox::dirs::prepare_file(path, replace))
            {
                log::warn!(
                    "WREN_CONTROL_CONFIG_DIR {}: {e}; config-write will fail",
                    dir.display()
                );
            }
        }
        let limits = settings
            .max_request_bytes
            .map_or(Limits::DEFAULT, Limits::with_max_body);
        let slots = if listeners.is_empty() {
            Vec::new()
        } else {
            (0..MAX_CONNECTIONS)
                .map(|_| Slot {
                    conn: None,
                    input: vec![0; INPUT_CAPACITY],
                    input_len: 0,
                    output: Vec::with_capacity(ANSWER_CAPACITY),
                    output_pos: 0,
                    resume: false,
                    waiting: None,
                })
                .collect()
        };
        Ok(ControlServer {
            settings: settings.clone(),
            ha_listeners: 0,
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
                evicted: 0,
                busy_logged: None,
                trace: crate::trace::SharedSwitch::default(),
                hook: None,
                deferred: None,
            },
        })
    }

    /// [HA] The last `n` listeners serve the HA peer URL (not configured as control sockets).
    pub fn set_ha_listeners(&mut self, n: usize) {
        self.ha_listeners = n;
    }

    /// [HA] Installs the handler of the HA commands.
    pub fn set_hook(&mut self, hook: Box<dyn CommandHook>) {
        self.state.hook = Some(hook);
    }

    /// [HA] Lifts a `dhcp-disable` (the HA partner finished its sync).
    pub fn lift_dhcp_disable(&mut self) {
        if self.state.dhcp_disabled {
            log::info!("DHCP4_DHCP_ENABLE the HA partner finished its sync: DHCP service enabled");
        }
        self.state.dhcp_disabled = false;
        self.state.enable_at = None;
    }

    /// Follows a new configuration (after start, a reload or a replace).
    pub fn configure(&mut self, text: &str) {
        match ControlSettings::from_text(text) {
            Ok(new) => {
                let own = self.settings.listeners.len()
                    - self.ha_listeners.min(self.settings.listeners.len());
                if new.listeners.as_slice() != self.settings.listeners.get(..own).unwrap_or(&[]) {
                    log::warn!(
                        "WREN_CONTROL_SOCKETS_UNCHANGED control socket changes take effect at the next start; the listeners stay as they are"
                    );
                }
                self.state.auto_persist = new.auto_persist;
                self.limits = new
                    .max_request_bytes
                    .map_or(Limits::DEFAULT, Limits::with_max_body);
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
                time_out(slot);
                close(registry, slot);
            }
        }
        if self.state.dhcp_disabled && self.state.enable_at.is_some_and(|t| t <= now) {
            log::info!("DHCP4_DHCP_ENABLE max-period over: DHCP service enabled again");
            self.state.dhcp_disabled = false;
            self.state.enable_at = None;
        }
        engine.set_serving(!self.state.dhcp_disabled);
        self.deliver_deferred(registry, engine, journal);
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

    /// [HA] Hands a deferred answer that became ready to the connection waiting for it
    /// (none waiting: the client left or timed out; the answer is dropped).
    fn deliver_deferred<E: Engine, J: Journal>(
        &mut self,
        registry: &Registry,
        engine: &mut E,
        journal: &mut J,
    ) {
        let Some(hook) = self.state.hook.as_mut() else {
            return;
        };
        let mut answer = Vec::new();
        while let Some(ticket) = hook.poll_deferred(&mut answer) {
            let index = self
                .slots
                .iter()
                .position(|s| s.waiting.as_ref().is_some_and(|w| w.ticket == ticket));
            if let Some(slot) = index.and_then(|i| self.slots.get_mut(i)) {
                if let Some(waiting) = slot.waiting.take() {
                    finish_deferred(slot, waiting, &answer);
                }
            }
            answer.clear();
        }
        for index in 0..self.slots.len() {
            let ready = self
                .slots
                .get(index)
                .is_some_and(|s| s.conn.is_some() && s.waiting.is_none() && !s.output.is_empty());
            if ready {
                self.serve(registry, index, engine, journal);
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
            let free = match self.slots.iter().position(|s| s.conn.is_none()) {
                Some(free) => free,
                None => {
                    let Some(victim) = eviction_victim(&self.slots) else {
                        drop(socket);
                        continue;
                    };
                    self.state.note_eviction();
                    let Some(slot) = self.slots.get_mut(victim) else {
                        continue;
                    };
                    close(registry, slot);
                    victim
                }
            };
            let Some(slot) = self.slots.get_mut(free) else {
                continue;
            };
            let now = Instant::now();
            let mut conn = Connection {
                socket,
                listener: index,
                http,
                deadline: now + self.state.request_timeout,
                accepted: now,
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
            slot.waiting = None;
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
        // What the other connections' buffers have grown by (they do not change while
        // this one is served).
        let grown_elsewhere: usize = self
            .slots
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, s)| s.input.len().saturating_sub(INPUT_CAPACITY))
            .sum();
        let budget = limits.max_body.saturating_mul(GROWTH_BUDGET_FACTOR);
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        loop {
            // [HA] A deferred answer is pending: nothing to write, nothing read meanwhile.
            if slot.waiting.is_some() {
                return;
            }
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
            if slot.input_len >= slot.input.len() {
                // Grow towards the largest request the limits allow (a large body).
                let max = limits.max_head + limits.max_body + 4;
                if slot.input.len() >= max {
                    close(registry, slot);
                    return;
                }
                let grown = slot
                    .input
                    .len()
                    .saturating_mul(2)
                    .clamp(INPUT_CAPACITY, max);
                if grown_elsewhere.saturating_add(grown.saturating_sub(INPUT_CAPACITY)) > budget {
                    // Back-pressure: read no more of it (the client's writes wait in the
                    // socket) until the large requests being received are answered and
                    // their buffers shrink; `tick` tries again. Its deadline still runs.
                    slot.resume = true;
                    return;
                }
                slot.input.resize(grown, 0);
            }
            let Some(conn) = slot.conn.as_mut() else {
                return;
            };
            let free = slot.input.get_mut(slot.input_len..).unwrap_or(&mut []);
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
    slot.resume = false;
    slot.waiting = None;
    shrink(slot);
}

/// Gives back what a large request or answer grew the slot's buffers to.
fn shrink(slot: &mut Slot) {
    if slot.input.len() > INPUT_CAPACITY && slot.input_len <= INPUT_CAPACITY {
        slot.input.truncate(INPUT_CAPACITY);
        slot.input.shrink_to_fit();
    }
    if slot.output.is_empty() && slot.output.capacity() > ANSWER_CAPACITY {
        slot.output.shrink_to(ANSWER_CAPACITY);
    }
}

/// The slot to close when all are taken: the oldest idle connection (nothing buffered in
/// either direction), else the oldest of all.
fn eviction_victim(slots: &[Slot]) -> Option<usize> {
    let oldest = |idle_only: bool| {
        slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.conn.as_ref().map(|c| (i, s, c.accepted)))
            .filter(|(_, s, _)| !idle_only || (s.input_len == 0 && s.output.is_empty()))
            .min_by_key(|(_, _, accepted)| *accepted)
            .map(|(i, _, _)| i)
    };
    oldest(true).or_else(|| oldest(false))
}

/// A connection past its deadline: an HTTP client in the middle of a request gets a 408
/// (RFC 9110 §15.5.9), written once without waiting; an idle one is just closed.
fn time_out(slot: &mut Slot) {
    if let Some(waiting) = slot.waiting.take() {
        let answer = br#"{ "result": 1, "text": "the command's answer did not come in time" }"#;
        finish_deferred(slot, waiting, answer);
        if let Some(conn) = slot.conn.as_mut() {
            conn.closing = true;
        }
        let _ = flush(slot);
        return;
    }
    let Some(conn) = slot.conn.as_mut() else {
        return;
    };
    if conn.http && slot.input_len > 0 && slot.output.is_empty() {
        http::write_response(
            &mut slot.output,
            (408, "Request Timeout"),
            "application/json",
            "",
            false,
            br#"{ "result": 408, "text": "Request Timeout" }"#,
        );
        conn.closing = true;
        let _ = flush(slot);
    }
}

impl State {
    /// Counts a connection closed to make room; warns at most once per [`BUSY_LOG_INTERVAL`].
    fn note_eviction(&mut self) {
        self.evicted += 1;
        let now = Instant::now();
        if self
            .busy_logged
            .is_none_or(|t| now.duration_since(t) >= BUSY_LOG_INTERVAL)
        {
            log::warn!(
                "WREN_CONTROL_BUSY {MAX_CONNECTIONS} control connections open: closed {} of the oldest to make room",
                self.evicted
            );
            self.evicted = 0;
            self.busy_logged = Some(now);
        }
    }
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
    if slot.output.capacity() > ANSWER_CAPACITY {
        slot.output.shrink_to(ANSWER_CAPACITY);
    }
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
            let mut deferred: Option<Waiting> = None;
            let mut out = std::mem::take(&mut slot.output);
            out.clear();
            if let Some(a) = auth.filter(|a| !a.allows(request.authorization, &mut state.scratch)) {
                log::warn!(
                    "HTTP_CLIENT_REQUEST_NOT_AUTHORIZED {} credentials on the control listener: 401",
                    if request.authorization.is_some() { "wrong" } else { "missing" }
                );
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
                        let uptime = Gauge {
                            name: "wren_uptime_seconds",
                            help: "Seconds since wrend started.",
                            value: state.started.elapsed().as_secs_f64(),
                        };
                        let gauges = match journal.sync_timing() {
                            Some(t) => vec![
                                Gauge {
                                    name: "wren_lease_file_sync_seconds",
                                    help: "Write + fdatasync time of the last lease-file batch (replies wait for it).",
                                    value: t.last.as_secs_f64(),
                                },
                                Gauge {
                                    name: "wren_lease_file_sync_max_seconds",
                                    help: "Longest write + fdatasync of a lease-file batch since start.",
                                    value: t.max.as_secs_f64(),
                                },
                                Gauge {
                                    name: "wren_lease_file_sync_mean_seconds",
                                    help: "Mean write + fdatasync time of the lease-file batches since start.",
                                    value: t.mean().as_secs_f64(),
                                },
                                Gauge {
                                    name: "wren_lease_file_syncs",
                                    help: "Lease-file batches written and synced since start.",
                                    value: t.count as f64,
                                },
                                uptime,
                            ],
                            None => vec![uptime],
                        };
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
                        // The body is parsed once here and served from the parsed request
                        // (a large body costs one pass while DHCP waits, not three).
                        let parsed = control::parse_request_bytes(request.body);
                        if let Some(why) = unreadable(&parsed) {
                            // Kea's agent answers a body that is not JSON with 400 (checked
                            // on kea-ctrl-agent 2.2); wren says where the JSON broke.
                            let body = format!(
                                "{{ \"result\": 400, \"text\": \"Bad Request: {}\" }}",
                                http::json_escape(&why)
                            );
                            http::write_response(
                                &mut out,
                                (400, "Bad Request"),
                                "application/json",
                                "",
                                keep,
                                body.as_bytes(),
                            )
                        } else {
                            let mut json = Vec::with_capacity(256);
                            json.extend_from_slice(b"[ ");
                            http_services(request.body, &parsed, state, engine, journal, &mut json);
                            if let Some(ticket) = state.deferred.take() {
                                // [HA] Answered later (`finish_deferred`).
                                deferred = Some(Waiting {
                                    ticket,
                                    http: Some((json, keep)),
                                });
                            } else {
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
                }
            }
            slot.output = out;
            // Pipelined bytes move to the front.
            slot.input.copy_within(len..slot.input_len, 0);
            slot.input_len -= len;
            conn.closing = !keep;
            conn.deadline = Instant::now()
                + if deferred.is_some() {
                    DEFERRED_LIMIT
                } else if slot.input_len > 0 {
                    state.request_timeout
                } else {
                    state.idle_timeout
                };
            slot.waiting = deferred;
            shrink(slot);
            true
        }
    }
}

/// Why an HTTP body is not a JSON text at all (not UTF-8, empty, a syntax error), or `None`
/// when it is JSON (a JSON text that is not a valid command is answered with result 1, as
/// Kea's agent does).
fn unreadable(parsed: &Result<control::Request<'_>, control::RequestError<'_>>) -> Option<String> {
    match parsed {
        Err(control::RequestError::Syntax(e)) => Some(format!("invalid JSON: {e}")),
        Err(control::RequestError::NotUtf8) => Some("the body is not UTF-8".into()),
        _ => None,
    }
}

/// Kea's Control Agent forwards a command to each listed `service` in order, one answer
/// each (kea-control-api.md §1). wren is the dhcp4 server itself: `dhcp4` runs the
/// command, any other service gets the agent's "not configured" answer. No `service`
/// runs it for dhcp4 too (the agent would answer for itself; the command set is ours).
fn http_services<E: Engine, J: Journal>(
    body: &[u8],
    parsed: &Result<control::Request<'_>, control::RequestError<'_>>,
    state: &mut State,
    engine: &mut E,
    journal: &mut J,
    out: &mut Vec<u8>,
) {
    let names: Vec<String> = match parsed {
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
        run_command(body, parsed, state, engine, journal, out);
        return;
    }
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        if name == "dhcp4" {
            run_command(body, parsed, state, engine, journal, out);
            if state.deferred.is_some() {
                // [HA] The answer comes later; services listed after dhcp4 are not
                // answered (only `dhcp4` is ever served here).
                return;
            }
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
    let parsed = control::parse_request_bytes(body);
    run_command(body, &parsed, state, engine, journal, &mut out);
    slot.output = out;
    if let Some(ticket) = state.deferred.take() {
        slot.waiting = Some(Waiting { ticket, http: None });
        if let Some(conn) = slot.conn.as_mut() {
            conn.deadline = Instant::now() + DEFERRED_LIMIT;
        }
    }
}

/// [HA] Writes a deferred `answer` object as the waiting connection expects it: inside the
/// HTTP answer list, or alone on the unix socket.
fn finish_deferred(slot: &mut Slot, waiting: Waiting, answer: &[u8]) {
    let mut out = std::mem::take(&mut slot.output);
    out.clear();
    match waiting.http {
        Some((mut json, keep)) => {
            json.extend_from_slice(answer);
            json.extend_from_slice(b" ]");
            http::write_response(&mut out, (200, "OK"), "application/json", "", keep, &json);
            if let Some(conn) = slot.conn.as_mut() {
                conn.deadline = Instant::now() + IDLE_TIMEOUT;
            }
        }
        None => out.extend_from_slice(answer),
    }
    slot.output = out;
}

/// Runs one command and appends its JSON answer object to `out`.
fn run_command<E: Engine, J: Journal>(
    body: &[u8],
    parsed: &Result<control::Request<'_>, control::RequestError<'_>>,
    state: &mut State,
    engine: &mut E,
    journal: &mut J,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    if let Some(hook) = state.hook.as_mut() {
        if hook.command(body, out) {
            state.deferred = hook.take_deferred();
            return;
        }
    }
    let now = wall_clock();
    let text = std::mem::take(&mut state.text);
    let mut answered = false;
    engine.with_control(&mut |config, leases, stats| {
        let Some(stats) = stats else {
            return;
        };
        answered = true;
        let request = match parsed {
            Ok(r) => r,
            Err(e) => {
                render_all(
                    &Reply::from_request_error(e),
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
            control::execute(request, &mut env, journal)
        };
        // Lease rows durable before the answer.
        if let Err(e) = journal.sync_batch() {
            log::error!("DHCPSRV_MEMFILE_WRITE_FAIL control command lease write: {e}");
            render_all(&Reply::error(&e), config, &text, leases, stats, state, out);
            return;
        }
        let reply = match decision {
            Decision::Reply(r) => r,
            Decision::Action(Action::LeasesReclaim { remove }) => {
                reclaim_now(config, leases, stats, journal, now, remove);
                match journal.sync_batch() {
                    Ok(()) => Reply::status(0, control::texts::RECLAIM_DONE),
                    Err(e) => {
                        log::error!("DHCPSRV_MEMFILE_WRITE_FAIL leases-reclaim lease write: {e}");
                        Reply::error(&e)
                    }
                }
            }
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
    if let Some(hook) = state.hook.as_mut() {
        hook.amend(body, out, start);
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

/// `leases-reclaim`: one reclamation cycle now over every expired lease (Kea's
/// `reclaimExpiredLeases4(0, 0, remove)`: no lease or time limit). `remove` removes each
/// reclaimed lease (a `valid_lifetime` 0 row); otherwise it stays in state 2
/// (expired-reclaimed) for the flush timer, whatever `hold-reclaimed-time` says. Each
/// change goes to the lease file and into the statistics (`reclaimed-leases`, …), as the
/// timer's cycle does.
fn reclaim_now<J: Journal>(
    config: &Config<'_>,
    leases: &mut LeaseTable<'_>,
    stats: &mut Stats<'_>,
    journal: &mut J,
    now: Timestamp,
    remove: bool,
) -> usize {
    let hold = if remove {
        0
    } else {
        config.globals.expired_leases.hold_reclaimed_time.max(1)
    };
    let reclaimed = leases.reclaim_expired(now, usize::MAX, hold, |record| {
        stats.record_reclaimed(record, now);
        journal.lease_changed(record);
    });
    log::info!("ALLOC_ENGINE_V4_LEASES_RECLAMATION_COMPLETE leases-reclaim: {reclaimed} expired lease(s) reclaimed");
    reclaimed
}

/// Where a candidate config text came from, for the error text.
#[derive(Clone, Copy)]
enum Origin {
    /// A whole `Dhcp4` map in a command (`config-test`, `config-set`): positions are in
    /// the command, shown as Kea does (`<wire>:line:column`).
    Wire,
    /// The running text with a command's subnet or reservation edited in: positions are
    /// in no file the operator has, so only the key path and the reason are shown.
    Edit,
}

/// Parses a candidate config text as the server would at a reload.
fn validate(path: &Path, text: &str, origin: Origin) -> Result<(), String> {
    let describe = |e: crate::config_load::LoadError| match (e, origin) {
        (crate::config_load::LoadError::Invalid { error, .. }, origin) => {
            let mut text = match origin {
                Origin::Wire => format!("<wire>:{}:{}: ", error.line, error.column),
                Origin::Edit => String::new(),
            };
            if !error.path.is_empty() {
                text.push_str(&format!("{}: ", error.path));
            }
            text.push_str(&error.kind.to_string());
            text
        }
        (other, _) => other.to_string(),
    };
    let mut storage = crate::config_load::allocate(path, text).map_err(describe)?;
    let mut warnings = Vec::new();
    crate::config_load::parse(path, text, &mut storage, &mut warnings)
        .map(|_| ())
        .map_err(describe)
}

fn subnet_prefix(path: &Path, text: &str, id: u32) -> Option<wren_core::config::Ipv4Prefix> {
    let mut storage = crate::config_load::allocate(path, text).ok()?;
    let mut warnings = Vec::new();
    let config = crate::config_load::parse(path, text, &mut storage, &mut warnings).ok()?;
    config.subnet_by_id(id).map(|s| s.prefix)
}

/// Writes `text` to `target` atomically (issue 5: "temp file, fsync, rename"): a temp file
/// in the same directory, written and `fsync`ed, renamed over `target`, then the directory
/// `fsync`ed, so a crash leaves either the old file or the new one, never a torn one. The
/// previous file is kept as `<target>.<unix seconds>.bak` (`-2`, `-3`, … when several
/// writes fall in one second; an fsynced copy with the same permission bits). The new
/// file keeps the old one's permission bits (a config holding passwords stays private); a
/// new file is created `0600`. Returns the size written.
pub fn write_atomically(target: &Path, text: &str) -> io::Result<u64> {
    // [freebsd branch] openat/renameat/fsync through the directory table (works in
    // capability mode; crate::sandbox::dirs::replace does the steps above).
    let stamp = wall_clock().0.to_string();
    crate::sandbox::dirs::replace(target, text.as_bytes(), Some(&stamp))?;
    Ok(text.len() as u64)
}

/// Whether the file system cannot be asked about `base` because of the sandbox (a
/// directory that exists answers `stat` outside capability mode): a subdirectory that
/// does not exist is refused, not written lexically.
fn real_unknown_is_sandbox(base: &Path) -> bool {
    std::fs::metadata(base).is_err() && std::fs::metadata("/").is_err()
}

/// Where `config-write` may write: into the `-c` file's directory or a directory below it
/// (a relative name is taken from the config directory). Kea 2.2 wrote anywhere the process
/// could; later Kea releases (2.6.3, 3.0.1) restrict the path, since a control client could
/// otherwise overwrite any file the server (often root) can write. wren also allows
/// existing subdirectories, so the founding user's script, which keeps timestamped copies
/// in `/etc/kea/backups/` next to `/etc/kea/kea-dhcp4.json`, works unchanged.
///
/// Where the file system can be asked (Linux, or before the sandbox), the real parent
/// (canonicalised) must lie inside the config directory, compared by device and inode
/// while walking up: `..` and a symlinked subdirectory cannot lead out, and the config
/// directory reached through a bind mount counts. Where it cannot (`stat` and `realpath`
/// by path are refused in Capsicum's capability mode), the path is checked lexically (`.`
/// and `..` folded against the working directory): the file is then opened relative to the
/// config directory's descriptor, and capability mode keeps such lookups beneath it.
fn config_write_target(config_path: &Path, name: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let absolute = crate::sandbox::dirs::absolute_path;
    let shown = absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let refuse = || {
        format!(
            "not allowed to write config into {name}: the file must be in the directory of the configuration file ({}) or below it",
            shown.display()
        )
    };
    let candidate = dir.join(name);
    if name.is_empty() || name.ends_with('/') || candidate.file_name().is_none() {
        return Err(refuse());
    }
    let (Ok(file), Ok(base)) = (absolute(&candidate), absolute(dir)) else {
        return Err(refuse());
    };
    let Some(parent) = file.parent() else {
        return Err(refuse());
    };
    let identity = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let real_inside = match (identity(&base), parent.canonicalize()) {
        (Some(base_id), Ok(real)) => Some(real.ancestors().any(|a| identity(a) == Some(base_id))),
        _ => None,
    };
    let allowed = match real_inside {
        // The file system answered: it decides (a symlink leading out is refused, the
        // config directory reached through a bind mount is accepted).
        Some(inside) => inside,
        // It cannot be asked (capability mode): lexically below the configuration
        // directory. The file is reached with openat() relative to that directory's
        // descriptor (daemon/src/sandbox/dirs.rs), which Capsicum keeps beneath it.
        None => parent.starts_with(&base) && real_unknown_is_sandbox(&base),
    };
    if !allowed {
        return Err(refuse());
    }
    // The file itself must not be a symlink pointing elsewhere.
    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(refuse());
    }
    Ok(file)
}

fn pretty(text: &str) -> Result<String, String> {
    let mut buf = vec![0u8; text.len() * 4 + 1024];
    let n = edit::pretty(text, &mut buf).map_err(|e| e.to_string())?;
    buf.truncate(n);
    String::from_utf8(buf).map_err(|e| e.to_string())
}

/// Applies an edited text: validate, persist if asked, swap at the end of this wakeup.
fn apply_edit(state: &mut State, new_text: String) -> Result<(), String> {
    validate(&state.path, &new_text, Origin::Edit)?;
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
        Action::ConfigTest { config: node } => validate(&state.path, node.text(), Origin::Wire)
            .map(|_| Reply::status(0, texts::CONFIG_TEST_OK)),
        Action::ConfigSet { config: node } => {
            let new_text = node.text().to_owned();
            validate(&state.path, &new_text, Origin::Wire).map(|_| {
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
        // Carried out in `run_command`, where the lease table is at hand.
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
