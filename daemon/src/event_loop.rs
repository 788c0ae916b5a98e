//! The one thread's loop (STYLE.md §3, OpenBSD dhcpd's `dispatch`): mio `Poll` over the
//! signal pipe, the UDP socket and one raw device per interface; named tokens; every ready
//! source drained until `WouldBlock` (mio is edge-triggered); all buffers allocated before
//! the first poll; the poll timeout is the nearest timer.
//!
//! One wakeup is one batch: every drained packet goes through the engine, the engine's
//! lease changes are appended to the lease file, the batch's replies wait in the reply
//! ring, then one `sync_batch` (write + fdatasync = group commit) and only then the replies
//! leave ([`crate::packet_path`]). A ring that fills mid-batch is committed early.
//!
//! Group commit pacing ([`COMMIT_SPACING`]): after a wakeup whose sync wrote lease rows,
//! packets are read again no sooner than a millisecond after that sync, so under load each
//! batch gathers about a millisecond of queries for one wakeup and one `fdatasync`, instead
//! of one or two packets each; a query that arrives later than that is not delayed at all.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use wren_core::config::SocketType;
use wren_core::time::Timestamp;

use crate::control::{ControlExit, ControlServer};
use crate::link::interfaces::{self, InterfaceSpec, ServedInterface};
use crate::link::relay_udp::RelayUdp;
use crate::link::route_events::RouteEvents;
use crate::link::{RawLink, ReadOutcome, RECEIVE_BUFFER_SIZE};
use crate::packet_path::{
    Engine, Journal, LinkView, PacketPath, Skip, Transmit, UdpPayload, DEFAULT_RING_CAPACITY,
};
use crate::signals::{Pending, Signals};

/// The signal self-pipe.
const SIGNALS: Token = Token(0);
/// The UDP socket on the server port.
const UDP: Token = Token(1);
/// The routing socket (interface arrivals, departures, address changes).
const ROUTE: Token = Token(2);
/// Raw device of link slot `n` is `Token(FIRST_LINK + n)`.
const FIRST_LINK: usize = 16;

/// Events handled per poll.
const EVENT_CAPACITY: usize = 64;
/// Packets read from one source per wakeup before the others get their turn (and signals
/// are looked at): a DISCOVER storm on one interface cannot starve the rest or a SIGTERM. A
/// source that still has data is polled again at once (timeout 0) until it drains. (Also
/// the bound on reads: a read that yields nothing counts as one packet.)
const READ_BUDGET: usize = 256;
/// Delay between a routing message and the re-scan, so a burst of messages (an interface
/// coming up announces itself, its link state and each address) costs one scan.
const ROUTE_SETTLE: Duration = Duration::from_millis(100);
/// The least time from a sync that wrote lease rows to the next read of the packet sources
/// (group commit pacing). Each batch costs a wakeup, its reads and sends, and an
/// `fdatasync` (on a VM's virtio disk about 0.1 ms of CPU: data, inode and cache flush,
/// each waited for): when the next queries arrive within this time they wait in the socket
/// buffers (4 MiB) and are served together, which under a few thousand exchanges per second
/// divides those costs by the queries gathered; PostgreSQL's `commit_delay` and MySQL's
/// `binlog_group_commit_sync_delay` make the same trade. What it costs: a reply to a query
/// that arrives within 1 ms after such a sync leaves up to 1 ms later. A quiet server
/// (queries further apart, a sync with no lease rows) waits for nothing.
pub const COMMIT_SPACING: Duration = Duration::from_millis(1);
/// Re-detect period when `service-sockets-retry-wait-time` is 0.
const DEFAULT_REDETECT: Duration = Duration::from_secs(5);

/// What the loop needs from the configuration and the command line (owned: it outlives a
/// reload's config storage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `-p`.
    pub server_port: u16,
    /// `-P`.
    pub client_port: u16,
    /// `dhcp-socket-type`.
    pub socket_type: SocketType,
    /// `interfaces-config.interfaces`, as written.
    pub interfaces: Vec<String>,
    /// `re-detect`: retry missing interfaces on a timer.
    pub re_detect: bool,
    /// Re-detect period (`service-sockets-retry-wait-time`, or 5 s).
    pub retry_wait: Duration,
    /// `service-sockets-require-all`: refuse to start unless every interface opened.
    pub require_all: bool,
    /// `expired-leases-processing.reclaim-timer-wait-time`; `None` disables.
    pub reclaim_every: Option<Duration>,
    /// `lease-database.lfc-interval`; `None` disables.
    pub compact_every: Option<Duration>,
}

impl Settings {
    /// Reads the loop's settings from a loaded configuration.
    pub fn from_config(
        config: &wren_core::config::Config<'_>,
        server_port: u16,
        client_port: u16,
    ) -> Settings {
        let globals = &config.globals;
        let names = config
            .names
            .get(globals.interfaces.interfaces.as_range())
            .unwrap_or(&[]);
        let seconds = |s: u32| (s > 0).then(|| Duration::from_secs(u64::from(s)));
        Settings {
            server_port,
            client_port,
            socket_type: globals.interfaces.socket_type,
            interfaces: names.iter().map(|n| config.str(*n).to_owned()).collect(),
            re_detect: globals.interfaces.re_detect,
            require_all: globals.interfaces.require_all,
            retry_wait: match globals.interfaces.retry_wait_ms {
                0 => DEFAULT_REDETECT,
                ms => Duration::from_millis(u64::from(ms)),
            },
            reclaim_every: seconds(globals.expired_leases.reclaim_timer_wait_time),
            compact_every: seconds(globals.lease_database.lfc_interval),
        }
    }
}

/// Why [`EventLoop::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM/SIGINT: the last batch is synced and sent; exit 0.
    Terminate,
    /// SIGHUP: the caller loads the configuration again and calls
    /// [`EventLoop::reconfigure`] and [`EventLoop::run`].
    Reload,
}

/// A served interface and its raw device.
#[derive(Debug)]
struct Link {
    served: ServedInterface,
    raw: Option<RawLink>,
}

impl Link {
    fn view(&self, slot: usize) -> LinkView<'_> {
        LinkView {
            slot,
            ifindex: self.served.ifindex,
            name: &self.served.name,
            mac: self.served.mac,
            addresses: &self.served.addresses,
            has_raw: self.raw.is_some(),
        }
    }
}

/// The sockets, seen as the reply path's [`Transmit`].
struct Sockets<'a> {
    links: &'a [Option<Link>],
    udp: Option<&'a RelayUdp>,
}

impl Transmit for Sockets<'_> {
    fn send_frame(&mut self, link: usize, frame: &[u8]) -> io::Result<()> {
        match self
            .links
            .get(link)
            .and_then(|l| l.as_ref())
            .and_then(|l| l.raw.as_ref())
        {
            Some(raw) => raw.send(frame),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "link closed")),
        }
    }

    fn send_frames(&mut self, link: usize, frames: &[&[u8]]) -> (usize, Option<io::Error>) {
        match self
            .links
            .get(link)
            .and_then(|l| l.as_ref())
            .and_then(|l| l.raw.as_ref())
        {
            Some(raw) => raw.send_batch(frames),
            None => (
                0,
                Some(io::Error::new(io::ErrorKind::NotConnected, "link closed")),
            ),
        }
    }

    fn send_datagram(
        &mut self,
        payload: &[u8],
        to: SocketAddrV4,
        source: Ipv4Addr,
        ifindex: u32,
    ) -> io::Result<()> {
        match self.udp {
            Some(udp) => udp.send(payload, to, source, ifindex),
            None => Err(io::Error::new(io::ErrorKind::NotConnected, "no UDP socket")),
        }
    }

    fn send_datagrams(
        &mut self,
        datagrams: &[crate::packet_path::Outgoing<'_>],
    ) -> (usize, Option<io::Error>) {
        match self.udp {
            Some(udp) => udp.send_batch(datagrams),
            None => (
                0,
                Some(io::Error::new(io::ErrorKind::NotConnected, "no UDP socket")),
            ),
        }
    }
}

/// Counters since start (logged at exit, later exported as Kea statistics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets handed to the engine.
    pub received: u64,
    /// Packets skipped before the engine (bad frame, not for us, other path).
    pub skipped: u64,
    /// Replies sent.
    pub sent: u64,
    /// Replies dropped (send errors, failed syncs).
    pub dropped: u64,
}

/// The loop and everything it owns.
pub struct EventLoop {
    poll: Poll,
    events: Events,
    /// Tokens to serve this wakeup: the ready events plus last wakeup's backlog.
    ready: Vec<Token>,
    /// Sources that hit [`READ_BUDGET`] and still have data.
    backlog: Vec<Token>,
    signals: Signals,
    udp: Option<RelayUdp>,
    route: Option<RouteEvents>,
    links: Vec<Option<Link>>,
    missing: Vec<String>,
    settings: Settings,
    buffer: Vec<u8>,
    path: PacketPath,
    next_reclaim: Option<Instant>,
    next_compact: Option<Instant>,
    next_redetect: Option<Instant>,
    counters: Counters,
    /// [control API] The control listeners and connections, if configured.
    control: Option<ControlServer>,
    /// [control API] A config text a control command asked to serve (taken by the caller
    /// on [`Exit::Reload`]).
    control_text: Option<String>,
    /// Set by [`EventLoop::seal`]: the interface facts known at the sandbox point, used
    /// instead of a fresh scan from then on.
    sealed_host: Option<Vec<interfaces::HostInterface>>,
    /// [HA] The HA relationship, if configured.
    ha: Option<crate::ha::Shared>,
    /// [HA] Parked replies whose partner answers came in this wakeup.
    released: Vec<(u32, bool)>,
    /// When the last commit that synced lease rows ended ([`COMMIT_SPACING`]).
    last_sync: Option<Instant>,
}

fn wall_clock() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

impl EventLoop {
    /// Opens the UDP socket and the interfaces' raw devices, and registers everything.
    /// Missing interfaces are logged and retried by re-detect, never fatal; failing to bind
    /// the UDP socket is fatal (another DHCP server runs).
    pub fn new(settings: Settings, signals: Signals) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        poll.registry().register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        let udp = RelayUdp::open(settings.server_port).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot bind UDP port {}: {e}", settings.server_port),
            )
        })?;
        poll.registry()
            .register(&mut SourceFd(&udp.as_raw_fd()), UDP, Interest::READABLE)?;
        let route = match RouteEvents::open() {
            Ok(route) => {
                poll.registry().register(
                    &mut SourceFd(&route.as_raw_fd()),
                    ROUTE,
                    Interest::READABLE,
                )?;
                Some(route)
            }
            Err(e) => {
                log::warn!(
                    "no routing socket ({e}): interface changes are seen by the retry timer only"
                );
                None
            }
        };
        let path = PacketPath::new(DEFAULT_RING_CAPACITY, settings.server_port);
        let mut event_loop = EventLoop {
            poll,
            events: Events::with_capacity(EVENT_CAPACITY),
            ready: Vec::with_capacity(2 * EVENT_CAPACITY),
            backlog: Vec::with_capacity(EVENT_CAPACITY),
            signals,
            udp: Some(udp),
            route,
            links: Vec::new(),
            missing: Vec::new(),
            settings,
            buffer: vec![0; RECEIVE_BUFFER_SIZE],
            path,
            next_reclaim: None,
            next_compact: None,
            next_redetect: None,
            counters: Counters::default(),
            control: None,
            control_text: None,
            sealed_host: None,
            ha: None,
            released: Vec::with_capacity(crate::ha::PARKED_LIMIT),
            last_sync: None,
        };
        event_loop.open_links()?;
        event_loop.check_require_all()?;
        event_loop.schedule_all(Instant::now());
        Ok(event_loop)
    }

    /// Applies new settings after a reload: reopens the interfaces and restarts the timers.
    /// The ports never change (they come from the command line).
    pub fn reconfigure(&mut self, settings: Settings) -> io::Result<()> {
        let mut socket_type_changed = settings.socket_type != self.settings.socket_type;
        let old_socket_type = self.settings.socket_type;
        self.settings = Settings {
            server_port: self.settings.server_port,
            client_port: self.settings.client_port,
            ..settings
        };
        if socket_type_changed && self.sealed_host.is_some() {
            // New devices cannot be opened after the sandbox point, and the UDP path's
            // addressed sends are refused in capability mode: keep what runs.
            log::warn!(
                "WREN_SANDBOX_RESTART_NEEDED dhcp-socket-type changed to {:?}: restart wrend \
                 to apply it; still serving with {old_socket_type:?}",
                self.settings.socket_type
            );
            self.settings.socket_type = old_socket_type;
            socket_type_changed = false;
        }
        // Devices of interfaces the new configuration still serves stay open: reopening
        // them would lose queued packets, and after a privilege drop it is impossible.
        let host = self.host()?;
        let specs = self.specs();
        let wanted = interfaces::select(&specs, &host).served;
        for slot in 0..self.links.len() {
            let keep = self
                .links
                .get(slot)
                .and_then(|l| l.as_ref())
                .is_some_and(|l| {
                    !socket_type_changed && wanted.iter().any(|w| w.ifindex == l.served.ifindex)
                });
            if !keep {
                self.close_link(slot);
            }
        }
        self.missing.clear();
        self.open_links()?;
        self.check_require_all()?;
        self.schedule_all(Instant::now());
        Ok(())
    }

    /// Whether every served interface has a raw device, so that no reply needs `sendmsg`
    /// with a destination address (refused in capability mode, freebsd.md §2).
    pub fn every_link_raw(&self) -> bool {
        self.settings.socket_type == SocketType::Raw
            && self.links.iter().flatten().all(|l| l.raw.is_some())
    }

    /// Called once, just before the privilege drop / capability mode (freebsd.md §3): from
    /// here on the loop works with what it has. The interface list is frozen at what the
    /// host shows now (`getifaddrs` is `ECAPMODE`; Linux does it over a netlink socket,
    /// which is created, bound and addressed each time), and no raw device is opened again
    /// (`/dev/bpf` needs a path and root, packet sockets CAP_NET_RAW). A reload keeps the
    /// devices of the interfaces it still serves; one that needs a new interface logs that
    /// it needs a restart.
    pub fn seal(&mut self) -> io::Result<()> {
        self.sealed_host = Some(interfaces::scan()?);
        Ok(())
    }

    /// The host's interfaces: a fresh scan, or the list frozen by [`EventLoop::seal`].
    fn host(&self) -> io::Result<Vec<interfaces::HostInterface>> {
        match &self.sealed_host {
            Some(frozen) => Ok(frozen.clone()),
            None => interfaces::scan(),
        }
    }

    /// Kea's `service-sockets-require-all`: a missing interface is fatal instead of retried.
    fn check_require_all(&self) -> io::Result<()> {
        if self.settings.require_all && !self.missing.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "service-sockets-require-all: cannot open sockets on {}",
                    self.missing.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// [control API] Registers the control listeners in the loop.
    pub fn attach_control(&mut self, mut control: ControlServer) -> io::Result<()> {
        control.register(self.poll.registry())?;
        self.control = Some(control);
        Ok(())
    }

    /// [HA] Drives the HA relationship from this loop (its partner connection, timers and
    /// parked replies).
    pub fn attach_ha(&mut self, ha: crate::ha::Shared) {
        self.ha = Some(ha);
    }

    /// [control API] The control server, to follow a new configuration.
    pub fn control_mut(&mut self) -> Option<&mut ControlServer> {
        self.control.as_mut()
    }

    /// [control API] The config text a control command asked to serve instead of the
    /// file, after [`Exit::Reload`].
    pub fn take_control_text(&mut self) -> Option<String> {
        self.control_text.take()
    }

    /// Counters since start.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Names of the served interfaces.
    pub fn served(&self) -> impl Iterator<Item = &ServedInterface> {
        self.links.iter().flatten().map(|l| &l.served)
    }

    fn schedule_all(&mut self, now: Instant) {
        self.next_reclaim = self.settings.reclaim_every.map(|d| now + d);
        self.next_compact = self.settings.compact_every.map(|d| now + d);
        self.next_redetect = (self.settings.re_detect && !self.missing.is_empty())
            .then(|| now + self.settings.retry_wait);
    }

    /// Re-scans the host: closes links whose interface is gone or down (a BPF descriptor
    /// on a detached interface may never report an error), then opens what is missing.
    fn redetect(&mut self) -> io::Result<()> {
        let host = self.host()?;
        for slot in 0..self.links.len() {
            let gone = match self.links.get(slot).and_then(|l| l.as_ref()) {
                Some(link) => !host.iter().any(|h| {
                    h.ifindex == link.served.ifindex && h.name == link.served.name && h.up
                }),
                None => false,
            };
            if gone {
                if let Some(link) = self.links.get(slot).and_then(|l| l.as_ref()) {
                    log::warn!(
                        "DHCP4_INTERFACE_GONE interface {} went away or down; closing its socket",
                        link.served.name
                    );
                }
                self.close_link(slot);
            }
        }
        self.open_links()
    }

    /// The configured `interfaces` entries (malformed ones logged and skipped).
    fn specs(&self) -> Vec<InterfaceSpec<'_>> {
        self.settings
            .interfaces
            .iter()
            .filter_map(|s| match InterfaceSpec::parse(s) {
                Ok(spec) => Some(spec),
                Err(e) => {
                    log::error!("DHCPSRV_CFGMGR_ADD_IFACE {e}");
                    None
                }
            })
            .collect()
    }

    /// Matches the configured interfaces against the host and opens what is missing.
    fn open_links(&mut self) -> io::Result<()> {
        let specs = self.specs();
        let host = self.host()?;
        let selection = interfaces::select(&specs, &host);
        let mut still_missing = selection.missing;
        for served in selection.served {
            if let Some(existing) = self
                .links
                .iter_mut()
                .flatten()
                .find(|l| l.served.ifindex == served.ifindex)
            {
                // Addresses may have changed since the device was opened.
                existing.served.addresses = served.addresses;
                continue;
            }
            let wants_raw = self.settings.socket_type == SocketType::Raw && !served.loopback;
            if wants_raw && self.sealed_host.is_some() {
                if !self.missing.contains(&served.name) {
                    log::warn!(
                        "WREN_SANDBOX_RESTART_NEEDED interface {} needs a new raw socket, \
                         which cannot be opened after the privilege drop / in capability \
                         mode: restart wrend to serve it",
                        served.name
                    );
                }
                still_missing.push(served.name.clone());
                continue;
            }
            let raw = if wants_raw {
                match RawLink::open(
                    &served,
                    self.settings.server_port,
                    self.settings.client_port,
                ) {
                    Ok(raw) => Some(raw),
                    Err(e) => {
                        log::warn!(
                            "DHCPSRV_OPEN_SOCKET_FAIL failed to open socket on interface {}: {e}",
                            served.name
                        );
                        still_missing.push(served.name.clone());
                        continue;
                    }
                }
            } else {
                None
            };
            let slot = match self.links.iter().position(Option::is_none) {
                Some(free) => free,
                None => {
                    self.links.push(None);
                    self.links.len() - 1
                }
            };
            if let Some(raw) = &raw {
                self.poll.registry().register(
                    &mut SourceFd(&raw.as_raw_fd()),
                    Token(FIRST_LINK + slot),
                    Interest::READABLE,
                )?;
            }
            log::info!(
                "DHCP4_OPEN_SOCKET listening on {} (index {}, {:?}, {})",
                served.name,
                served.ifindex,
                served.addresses,
                if raw.is_some() { "raw" } else { "udp" }
            );
            if let Some(entry) = self.links.get_mut(slot) {
                *entry = Some(Link { served, raw });
            }
        }
        still_missing.sort();
        still_missing.dedup();
        for name in &still_missing {
            if !self.missing.contains(name) {
                log::warn!(
                    "DHCPSRV_NO_SOCKETS_OPEN interface {name} is not present or not up{}",
                    if self.settings.re_detect {
                        "; will retry"
                    } else {
                        ""
                    }
                );
            }
        }
        self.missing = still_missing;
        self.update_udp_filter();
        Ok(())
    }

    /// With every served interface on the raw path, each datagram the UDP socket receives
    /// is a duplicate it would read only to drop (freebsd.md §1.7: ISC reads and discards
    /// its fallback socket). On Linux a drop-all socket filter keeps them in the kernel;
    /// the socket stays bound so the kernel sends no ICMP port-unreachable.
    fn update_udp_filter(&self) {
        let any_udp_link = self.links.iter().flatten().any(|l| l.raw.is_none());
        if let Some(udp) = &self.udp {
            if let Err(e) = udp.set_drop_all(!any_udp_link) {
                log::debug!("UDP socket filter not changed: {e}");
            }
        }
    }

    fn close_link(&mut self, slot: usize) {
        let Some(entry) = self.links.get_mut(slot) else {
            return;
        };
        if let Some(link) = entry.take() {
            if let Some(raw) = &link.raw {
                let _ = self
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&raw.as_raw_fd()));
            }
            if !self.missing.contains(&link.served.name) {
                self.missing.push(link.served.name);
            }
        }
    }

    fn nearest_deadline(&self) -> Option<Instant> {
        [
            self.next_reclaim,
            self.next_compact,
            self.next_redetect,
            self.control.as_ref().and_then(ControlServer::next_deadline),
            self.ha.as_ref().and_then(|ha| ha.borrow().next_deadline()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Serves until a signal asks to stop or reload.
    pub fn run<E, J>(&mut self, engine: &mut E, journal: &mut J) -> io::Result<Exit>
    where
        E: Engine,
        J: Journal,
    {
        loop {
            let timeout = if self.backlog.is_empty() {
                self.nearest_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            match self.poll.poll(&mut self.events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = wall_clock();
            let mut pending = Pending::default();
            let mut dead_links: [Option<usize>; 4] = [None; 4];
            self.ready.clear();
            for event in self.events.iter() {
                if self.ready.len() < self.ready.capacity() {
                    self.ready.push(event.token());
                }
            }
            for token in self.backlog.drain(..) {
                if !self.ready.contains(&token) && self.ready.len() < self.ready.capacity() {
                    self.ready.push(token);
                }
            }
            self.pace_commits();
            for index in 0..self.ready.len() {
                let Some(token) = self.ready.get(index).copied() else {
                    break;
                };
                let drain = match token {
                    SIGNALS => {
                        let p = self.signals.drain();
                        pending.reload |= p.reload;
                        pending.terminate |= p.terminate;
                        Drain::Done
                    }
                    // [HA] The partner's and the backups' connections: driven below, after
                    // the commit.
                    crate::ha::CLIENT_TOKEN | crate::ha::BACKUP_TOKEN => Drain::Done,
                    ROUTE => {
                        let changed = self.route.as_ref().is_some_and(RouteEvents::drain);
                        if changed && self.settings.re_detect {
                            let soon = Instant::now() + ROUTE_SETTLE;
                            self.next_redetect =
                                Some(self.next_redetect.map_or(soon, |d| d.min(soon)));
                        }
                        Drain::Done
                    }
                    UDP => drain_udp(
                        &mut self.path,
                        engine,
                        journal,
                        &self.links,
                        self.udp.as_ref(),
                        &mut self.buffer,
                        now,
                        &mut self.counters,
                    ),
                    t if ControlServer::owns(t) => {
                        if let Some(control) = self.control.as_mut() {
                            control.ready(self.poll.registry(), t, engine, journal);
                        }
                        Drain::Done
                    }
                    Token(t) if t >= FIRST_LINK => {
                        let slot = t - FIRST_LINK;
                        match drain_link(
                            &mut self.path,
                            engine,
                            journal,
                            &self.links,
                            self.udp.as_ref(),
                            slot,
                            &mut self.buffer,
                            now,
                            &mut self.counters,
                        ) {
                            Ok(drain) => drain,
                            Err(e) => {
                                log::warn!(
                                    "DHCP4_PACKET_RECEIVE_FAIL link slot {slot}: {e}; closing it"
                                );
                                if let Some(free) = dead_links.iter_mut().find(|d| d.is_none()) {
                                    *free = Some(slot);
                                }
                                Drain::Done
                            }
                        }
                    }
                    other => {
                        log::debug!("event for unknown token {other:?}");
                        Drain::Done
                    }
                };
                if drain == Drain::Budget && self.backlog.len() < self.backlog.capacity() {
                    self.backlog.push(token);
                }
            }

            let instant = Instant::now();
            if self.next_reclaim.is_some_and(|d| d <= instant) {
                let reclaimed = self.path.reclaim(engine, journal, now);
                if reclaimed > 0 {
                    log::debug!(
                        "ALLOC_ENGINE_V4_LEASES_RECLAMATION_COMPLETE reclaimed {reclaimed} leases"
                    );
                }
                self.next_reclaim = self.settings.reclaim_every.map(|d| instant + d);
            }

            self.commit(journal);
            self.drive_ha(engine, journal);

            if self.next_compact.is_some_and(|d| d <= instant) {
                let mut result = Ok(());
                engine.with_leases(&mut |leases| result = journal.compact(leases));
                if let Err(e) = result {
                    log::error!("DHCPSRV_MEMFILE_LFC_FAIL lease file cleanup failed: {e}");
                }
                self.next_compact = self.settings.compact_every.map(|d| instant + d);
            }

            let mut reopen = false;
            for slot in dead_links.into_iter().flatten() {
                self.close_link(slot);
                reopen = true;
            }
            if self.next_redetect.is_some_and(|d| d <= instant) || reopen {
                if let Err(e) = self.redetect() {
                    log::warn!("interface re-detection failed: {e}");
                }
                self.next_redetect = (self.settings.re_detect && !self.missing.is_empty())
                    .then(|| instant + self.settings.retry_wait);
            }

            if let Some(control) = self.control.as_mut() {
                control.tick(self.poll.registry(), instant, engine, journal);
                match control.take_exit() {
                    Some(ControlExit::Shutdown) => pending.terminate = true,
                    Some(ControlExit::Reload) => pending.reload = true,
                    Some(ControlExit::Replace(text)) => {
                        self.control_text = Some(text);
                        pending.reload = true;
                    }
                    None => {}
                }
            }

            if pending.terminate {
                return Ok(Exit::Terminate);
            }
            if pending.reload {
                return Ok(Exit::Reload);
            }
        }
    }

    /// [HA] After the batch's commit (so every parked reply is in the parked store): the
    /// state machine's actions, the partner connection, the parked replies whose updates
    /// were answered, and a `dhcp-disable` the partner's finished sync lifts.
    fn drive_ha<E: Engine, J: Journal>(&mut self, engine: &mut E, journal: &mut J) {
        let Some(ha) = self.ha.clone() else {
            return;
        };
        let lift = {
            let mut rt = ha.borrow_mut();
            rt.tick(self.poll.registry(), engine, journal);
            rt.take_completed(&mut self.released);
            rt.take_lift_partner_disable()
        };
        let mut tx = Sockets {
            links: &self.links,
            udp: self.udp.as_ref(),
        };
        for &(id, acked) in &self.released {
            if self.path.release_parked(id, acked, &mut tx) {
                if acked {
                    self.counters.sent += 1;
                } else {
                    self.counters.dropped += 1;
                }
            }
        }
        if lift {
            if let Some(control) = self.control.as_mut() {
                control.lift_dhcp_disable();
            }
        }
    }

    /// [`COMMIT_SPACING`]: when only packet sources woke us within the spacing after a sync
    /// that wrote lease rows, let more queries gather before reading them. Anything else
    /// ready (a signal, the control API, HA, routing) is served at once.
    fn pace_commits(&self) {
        let Some(synced) = self.last_sync else {
            return;
        };
        let only_packets =
            !self.ready.is_empty() && self.ready.iter().all(|&t| is_packet_source(t));
        if !only_packets {
            return;
        }
        let since = Instant::now().saturating_duration_since(synced);
        if let Some(wait) = COMMIT_SPACING.checked_sub(since).filter(|w| !w.is_zero()) {
            std::thread::sleep(wait);
        }
    }

    fn commit<J: Journal>(&mut self, journal: &mut J) {
        let mut tx = Sockets {
            links: &self.links,
            udp: self.udp.as_ref(),
        };
        let report = self.path.commit(journal, &mut tx);
        if report.synced {
            self.last_sync = Some(Instant::now());
        }
        self.counters.sent += report.sent as u64;
        self.counters.dropped += (report.send_errors + report.dropped_unsynced) as u64;
    }
}

/// The UDP socket and the raw devices: the sources [`COMMIT_SPACING`] may keep waiting.
fn is_packet_source(token: Token) -> bool {
    token == UDP || (token.0 >= FIRST_LINK && !ControlServer::owns(token))
}

/// Whether a source was read until `WouldBlock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drain {
    /// Drained: mio will report new data.
    Done,
    /// Stopped at [`READ_BUDGET`]: data may remain, serve it next wakeup.
    Budget,
}

/// Hands one result of the packet path to the counters; commits early when the ring is
/// full and retries the packet once.
fn account(result: Result<(), Skip>, counters: &mut Counters) {
    match result {
        Ok(()) | Err(Skip::NoReply) => counters.received += 1,
        Err(Skip::RingFull) => counters.dropped += 1,
        // The normal fate of every datagram the raw path also delivered: not worth a line.
        Err(Skip::RawPathOwnsIt) => counters.skipped += 1,
        Err(skip) => {
            counters.skipped += 1;
            log::debug!("DHCP4_PACKET_DROP skipped: {skip:?}");
        }
    }
}

fn commit_early<J: Journal>(
    path: &mut PacketPath,
    journal: &mut J,
    links: &[Option<Link>],
    udp: Option<&RelayUdp>,
    counters: &mut Counters,
) {
    let mut tx = Sockets { links, udp };
    let report = path.commit(journal, &mut tx);
    counters.sent += report.sent as u64;
    counters.dropped += (report.send_errors + report.dropped_unsynced) as u64;
}

#[allow(clippy::too_many_arguments)]
fn drain_link<E: Engine, J: Journal>(
    path: &mut PacketPath,
    engine: &mut E,
    journal: &mut J,
    links: &[Option<Link>],
    udp: Option<&RelayUdp>,
    slot: usize,
    buffer: &mut [u8],
    now: Timestamp,
    counters: &mut Counters,
) -> io::Result<Drain> {
    let Some(link) = links.get(slot).and_then(|l| l.as_ref()) else {
        return Ok(Drain::Done);
    };
    let Some(raw) = &link.raw else {
        return Ok(Drain::Done);
    };
    let view = link.view(slot);
    let mut packets = 0;
    while packets < READ_BUDGET {
        let mut frames = 0;
        let outcome = raw.read(buffer, |frame| {
            frames += 1;
            let mut result = path.on_frame(engine, journal, &view, frame, now);
            if result == Err(Skip::RingFull) {
                commit_early(path, journal, links, udp, counters);
                result = path.on_frame(engine, journal, &view, frame, now);
            }
            account(result, counters);
        })?;
        if outcome == ReadOutcome::Drained {
            return Ok(Drain::Done);
        }
        packets += frames.max(1);
    }
    Ok(Drain::Budget)
}

#[allow(clippy::too_many_arguments)]
fn drain_udp<E: Engine, J: Journal>(
    path: &mut PacketPath,
    engine: &mut E,
    journal: &mut J,
    links: &[Option<Link>],
    udp: Option<&RelayUdp>,
    buffer: &mut [u8],
    now: Timestamp,
    counters: &mut Counters,
) -> Drain {
    let Some(socket) = udp else {
        return Drain::Done;
    };
    let mut packets = 0;
    while packets < READ_BUDGET {
        let mut handed = 0;
        let batch = socket.recv_batch(buffer, |datagram, payload| {
            handed += 1;
            // Kea listens only on configured interfaces: a datagram from elsewhere is dropped.
            let Some((slot, link)) = links.iter().enumerate().find_map(|(slot, l)| {
                l.as_ref()
                    .filter(|l| l.served.ifindex == datagram.ifindex)
                    .map(|l| (slot, l))
            }) else {
                counters.skipped += 1;
                return;
            };
            let view = link.view(slot);
            let received = UdpPayload {
                payload,
                source: datagram.source,
                destination: datagram.destination,
            };
            let mut result = path.on_datagram(engine, journal, &view, &received, now);
            if result == Err(Skip::RingFull) {
                commit_early(path, journal, links, udp, counters);
                result = path.on_datagram(engine, journal, &view, &received, now);
            }
            account(result, counters);
        });
        let batch = match batch {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drain::Done,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                packets += 1;
                continue;
            }
            Err(e) => {
                log::warn!("DHCP4_PACKET_RECEIVE_FAIL UDP socket: {e}");
                return Drain::Done;
            }
        };
        // Larger than a receive slot: dropped unread.
        counters.skipped += batch.received.saturating_sub(handed) as u64;
        if batch.drained {
            return Drain::Done;
        }
        packets += batch.received.max(1);
    }
    Drain::Budget
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_load;
    use std::path::Path;

    fn settings_for(text: &str) -> Settings {
        let path = Path::new("settings-test.json");
        let mut storage = config_load::allocate(path, text).unwrap();
        let mut warnings = Vec::new();
        let config = config_load::parse(path, text, &mut storage, &mut warnings).unwrap();
        Settings::from_config(&config, 1067, 1068)
    }

    #[test]
    fn only_packet_sources_are_paced() {
        assert!(is_packet_source(UDP));
        assert!(is_packet_source(Token(FIRST_LINK)));
        assert!(is_packet_source(Token(FIRST_LINK + 40)));
        for other in [
            SIGNALS,
            ROUTE,
            crate::ha::CLIENT_TOKEN,
            Token(FIRST_LINK - 1),
        ] {
            assert!(!is_packet_source(other), "{other:?}");
        }
        assert!(!is_packet_source(Token(crate::control::TOKEN_BASE)));
    }

    #[test]
    fn settings_from_kea_defaults() {
        let s = settings_for(
            r#"{ "Dhcp4": { "interfaces-config": { "interfaces": [ "eth0", "eth1/198.18.0.1" ] } } }"#,
        );
        assert_eq!((s.server_port, s.client_port), (1067, 1068));
        assert_eq!(s.socket_type, SocketType::Raw);
        assert_eq!(
            s.interfaces,
            vec!["eth0".to_owned(), "eth1/198.18.0.1".to_owned()]
        );
        assert!(s.re_detect);
        assert!(!s.require_all);
        assert_eq!(s.retry_wait, Duration::from_millis(5000));
        assert_eq!(s.reclaim_every, Some(Duration::from_secs(10)));
        assert_eq!(s.compact_every, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn settings_from_explicit_values() {
        let s = settings_for(
            r#"{ "Dhcp4": {
                "interfaces-config": { "interfaces": [ "*" ], "dhcp-socket-type": "udp",
                                       "re-detect": false, "service-sockets-require-all": true,
                                       "service-sockets-retry-wait-time": 250 },
                "lease-database": { "type": "memfile", "lfc-interval": 0 },
                "expired-leases-processing": { "reclaim-timer-wait-time": 0 } } }"#,
        );
        assert_eq!(s.socket_type, SocketType::Udp);
        assert_eq!(s.interfaces, vec!["*".to_owned()]);
        assert!(!s.re_detect);
        assert!(s.require_all);
        assert_eq!(s.retry_wait, Duration::from_millis(250));
        assert_eq!(s.reclaim_every, None, "0 disables reclamation");
        assert_eq!(s.compact_every, None, "0 disables lease file cleanup");
    }
}
