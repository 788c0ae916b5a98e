//! A packet's way through the daemon, without sockets: received bytes → [`Query`] → the
//! engine → a queued reply; then, per batch, lease file sync → replies out.
//!
//! Separated from the sockets so the whole per-packet path (frame parsing, the engine,
//! lease journal formatting, reply framing) is driven by tests, including the allocation
//! counter in `tests/no_alloc.rs`. Every buffer is allocated in [`PacketPath::new`].
//!
//! The durability rule (the core promise; OpenBSD dhcpd's `commit_leases` habit,
//! STYLE.md §5.5): replies wait in the [`ReplyRing`] until [`PacketPath::commit`] has seen
//! the batch's lease changes reach the disk (`Journal::sync_batch`). If the sync fails, the
//! batch's replies are dropped: a client that gets no ACK retries, a client that got an ACK
//! for a lease we then forget after a crash would collide with the next owner.
//!
//! Each ring slot keeps [`frame::OVERHEAD`] bytes of room in front of the reply, so a reply
//! that leaves as an Ethernet frame gets its headers written in place at commit and the
//! batch's frames go to [`Transmit::send_frames`] together (one `sendmmsg` on Linux)
//! without being copied.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

use wren_core::lease::LeaseRecord;
use wren_core::server::{Destination, Interface, LeaseSink, Query, Transport};
use wren_core::time::Timestamp;
use wren_core::wire::frame::{self, FrameSpec};

/// The largest DHCP reply: an Ethernet MTU of 1500 minus the IPv4 and UDP headers.
pub const MAX_REPLY: usize = 1500 - 20 - 8;
/// Replies one batch can hold before it is committed early.
pub const DEFAULT_RING_CAPACITY: usize = 128;
/// Frames handed to one [`Transmit::send_frames`] call at most (a stack array).
pub const SEND_BATCH: usize = 64;
/// A ring slot: room for the frame headers, then the reply.
const SLOT: usize = frame::OVERHEAD + MAX_REPLY;
/// The Ethernet broadcast address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// What the daemon needs from the DHCP engine (implemented for
/// `wren_core::server::Engine` in [`crate::engine_glue`], by fakes in tests).
pub trait Engine {
    /// Decides one query: writes the reply into `reply` and returns its length and where it
    /// goes, or `None` for silence. Lease changes go to `sink` as they are made.
    fn handle<S: LeaseSink>(
        &mut self,
        query: &Query<'_>,
        now: Timestamp,
        reply: &mut [u8],
        sink: &mut S,
    ) -> Option<(usize, Destination)>;

    /// Reclaims expired leases (Kea's `expired-leases-processing`), reporting each change to
    /// `sink`. Returns how many leases were reclaimed.
    fn reclaim_expired<S: LeaseSink>(&mut self, now: Timestamp, sink: &mut S) -> usize;

    /// Calls `f` once with every lease the engine's table holds (for lease file
    /// compaction, which rewrites the file from the table).
    fn with_leases(&self, f: &mut dyn FnMut(&mut dyn Iterator<Item = LeaseRecord<'_>>));

    /// [control API] Calls `f` with the running config, the lease table and the statistics, for control
    /// commands (`crate::control`). The default has neither, so `f` is not called.
    fn with_control(
        &mut self,
        f: &mut dyn FnMut(
            &wren_core::config::Config<'_>,
            &mut wren_core::lease::LeaseTable<'_>,
            Option<&mut wren_core::stats::Stats<'_>>,
        ),
    ) {
        let _ = f;
    }

    /// [control API] `dhcp-disable` / `dhcp-enable`: while not serving, queries are
    /// dropped unanswered (Kea: "the server stops responding to DHCP queries").
    fn set_serving(&mut self, serving: bool) {
        let _ = serving;
    }

    /// [packet trace] Follows the `wren-trace` switch the control server keeps
    /// ([`crate::trace`]). The default traces nothing on command.
    fn attach_trace(&mut self, switch: crate::trace::SharedSwitch) {
        let _ = switch;
    }

    /// [HA] What happens to the reply of the query just handled once the lease file is
    /// synced: sent (the default), parked until the HA partner acknowledged the lease
    /// updates, or dropped (kea-ha.md §6).
    fn hold(&mut self) -> Hold {
        Hold::Send
    }

    /// [HA] The class the next query is put in before classification (`HA_<peer>`,
    /// kea-ha.md §3); empty for none.
    fn set_hook_class(&mut self, class: &'static [u8]) {
        let _ = class;
    }
}

/// [HA] The fate of a reply after its batch's lease file sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Send it.
    Send,
    /// Keep it until [`PacketPath::release_parked`] is called with this id.
    Park(u32),
    /// Drop it (the partner cannot be told; the client retries).
    Drop,
}

/// [control API] How long the lease file's write + `fdatasync` of a batch took (the issue's
/// "lease file sync latency" metric): every reply waits for it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SyncTiming {
    /// Batches written and synced.
    pub count: u64,
    /// Their total time.
    pub total: std::time::Duration,
    /// The last one.
    pub last: std::time::Duration,
    /// The longest one.
    pub max: std::time::Duration,
}

impl SyncTiming {
    /// Adds one sync.
    pub fn record(&mut self, took: std::time::Duration) {
        self.count = self.count.saturating_add(1);
        self.total = self.total.saturating_add(took);
        self.last = took;
        self.max = self.max.max(took);
    }

    /// The mean, zero before the first sync.
    pub fn mean(&self) -> std::time::Duration {
        u32::try_from(self.count)
            .ok()
            .filter(|n| *n > 0)
            .map_or(std::time::Duration::ZERO, |n| self.total / n)
    }
}

/// What the daemon needs from the lease file: append records to a buffer as the engine
/// reports them, write and `fdatasync` them once per batch (group commit).
pub trait Journal: LeaseSink {
    /// Writes the appended records and syncs them. Nothing appended: nothing to do.
    fn sync_batch(&mut self) -> io::Result<()>;

    /// Whether the next [`Self::sync_batch`] has records to write and sync (the event loop
    /// paces its commits by the syncs that really reach the disk). The default: never.
    fn batch_pending(&self) -> bool {
        false
    }

    /// [control API] The sync times so far (`/metrics`); `None` when nothing is measured
    /// (no file, fakes in tests).
    fn sync_timing(&self) -> Option<SyncTiming> {
        None
    }

    /// Rewrites the lease file from `leases`, every lease the table holds
    /// (`lfc-interval`). The default keeps no file, so has nothing to do.
    fn compact(&mut self, leases: &mut dyn Iterator<Item = LeaseRecord<'_>>) -> io::Result<()> {
        let _ = leases;
        Ok(())
    }
}

/// One reply leaving through the UDP socket ([`Transmit::send_datagrams`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outgoing<'a> {
    /// The DHCP message.
    pub payload: &'a [u8],
    /// Destination address and port.
    pub to: SocketAddrV4,
    /// Source address (unspecified: the kernel's choice).
    pub source: Ipv4Addr,
    /// Outgoing interface (0: routing decides).
    pub ifindex: u32,
}

impl Outgoing<'_> {
    /// A placeholder to fill stack arrays with.
    pub const NONE: Outgoing<'static> = Outgoing {
        payload: &[],
        to: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
        source: Ipv4Addr::UNSPECIFIED,
        ifindex: 0,
    };
}

/// Where a reply leaves: implemented by the event loop's sockets, by recorders in tests.
pub trait Transmit {
    /// Sends a whole Ethernet frame on link `link` (raw path).
    fn send_frame(&mut self, link: usize, frame: &[u8]) -> io::Result<()>;
    /// Sends whole Ethernet frames on link `link`, in order, in as few system calls as the
    /// platform allows (Linux: one `sendmmsg`). Returns how many left from the front and,
    /// when that is not all of them, why the next one could not be sent (the caller counts
    /// it as failed and calls again with the rest). The default sends them one by one.
    fn send_frames(&mut self, link: usize, frames: &[&[u8]]) -> (usize, Option<io::Error>) {
        for (sent, frame) in frames.iter().enumerate() {
            if let Err(e) = self.send_frame(link, frame) {
                return (sent, Some(e));
            }
        }
        (frames.len(), None)
    }
    /// Sends a UDP payload through the kernel from `source` (unspecified: kernel's choice)
    /// out of interface `ifindex` (0: routing decides).
    fn send_datagram(
        &mut self,
        payload: &[u8],
        to: SocketAddrV4,
        source: Ipv4Addr,
        ifindex: u32,
    ) -> io::Result<()>;
    /// Sends UDP replies in order, in as few system calls as the platform allows (Linux,
    /// FreeBSD: `sendmmsg`). Returns how many left from the front and, when that is not all
    /// of them, why the next one could not be sent (as [`Self::send_frames`]). The default
    /// sends them one by one.
    fn send_datagrams(&mut self, datagrams: &[Outgoing<'_>]) -> (usize, Option<io::Error>) {
        for (sent, d) in datagrams.iter().enumerate() {
            if let Err(e) = self.send_datagram(d.payload, d.to, d.source, d.ifindex) {
                return (sent, Some(e));
            }
        }
        (datagrams.len(), None)
    }
}

/// A served interface as the packet path sees it.
#[derive(Clone, Copy, Debug)]
pub struct LinkView<'a> {
    /// The event loop's link slot (passed back to [`Transmit::send_frame`]).
    pub slot: usize,
    /// Kernel interface index.
    pub ifindex: u32,
    /// Name.
    pub name: &'a str,
    /// Ethernet address.
    pub mac: [u8; 6],
    /// IPv4 addresses the engine may use.
    pub addresses: &'a [Ipv4Addr],
    /// Whether a raw (packet socket / BPF) device is open on it.
    pub has_raw: bool,
}

impl<'a> LinkView<'a> {
    fn interface(&self) -> Interface<'a> {
        Interface {
            name: self.name,
            addresses: self.addresses,
            mac: self.mac,
        }
    }
}

/// A UDP payload as the UDP socket delivered it.
#[derive(Clone, Copy, Debug)]
pub struct UdpPayload<'a> {
    /// The DHCP message.
    pub payload: &'a [u8],
    /// Sender.
    pub source: SocketAddrV4,
    /// The IP header's destination (255.255.255.255 for a broadcast).
    pub destination: Ipv4Addr,
}

/// Why a received packet was not handed to the engine (counted, logged at debug level).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// The frame did not parse as Ethernet/IPv4/UDP.
    BadFrame(frame::FrameError),
    /// A frame for another host (a promiscuous tap elsewhere on the interface).
    NotForUs,
    /// Not to the server port (the kernel filter should have dropped it).
    WrongPort(u16),
    /// A UDP datagram the raw path already delivered (raw mode on that interface).
    RawPathOwnsIt,
    /// The engine chose silence.
    NoReply,
    /// The reply ring is full: the caller must commit, then retry.
    RingFull,
}

/// One queued reply.
#[derive(Clone, Copy, Debug)]
struct QueuedReply {
    len: usize,
    destination: Destination,
    link_slot: usize,
    ifindex: u32,
    link_mac: [u8; 6],
    raw_link: bool,
    /// [HA] Park id: the reply waits for the partner after the sync.
    park: Option<u32>,
    /// How it leaves, decided at commit.
    route: Route,
}

/// How a queued reply leaves, decided at commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// Not decided yet (or parked, or refused).
    Undecided,
    /// Its frame headers are in place in front of it: with the link's frames.
    Frame,
    /// Through the UDP socket, with the other datagrams.
    Datagram,
}

/// Fixed-capacity queue of replies waiting for their batch's sync.
#[derive(Debug)]
pub struct ReplyRing {
    payloads: Vec<u8>,
    entries: Vec<QueuedReply>,
    capacity: usize,
}

impl ReplyRing {
    /// Allocates room for `capacity` replies of [`MAX_REPLY`] bytes, each with room for its
    /// frame headers in front.
    pub fn new(capacity: usize) -> ReplyRing {
        ReplyRing {
            payloads: vec![0; capacity.saturating_mul(SLOT)],
            entries: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Queued replies.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether another reply fits.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// Where the engine writes reply `index` (after the room for the headers).
    fn reply_mut(&mut self, index: usize) -> Option<&mut [u8]> {
        let start = index.checked_mul(SLOT)?.checked_add(frame::OVERHEAD)?;
        self.payloads.get_mut(start..start.checked_add(MAX_REPLY)?)
    }

    /// Reply `index`, `len` bytes.
    fn reply(&self, index: usize, len: usize) -> Option<&[u8]> {
        let start = index.checked_mul(SLOT)?.checked_add(frame::OVERHEAD)?;
        self.payloads.get(start..start.checked_add(len)?)
    }

    /// Reply `index` of `len` bytes with the room for its headers in front.
    fn frame_mut(&mut self, index: usize, len: usize) -> Option<&mut [u8]> {
        let start = index.checked_mul(SLOT)?;
        self.payloads
            .get_mut(start..start.checked_add(frame::OVERHEAD)?.checked_add(len)?)
    }

    /// The frame [`Self::frame_mut`] made.
    fn frame(&self, index: usize, len: usize) -> Option<&[u8]> {
        let start = index.checked_mul(SLOT)?;
        self.payloads
            .get(start..start.checked_add(frame::OVERHEAD)?.checked_add(len)?)
    }
}

/// Counters of one commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Lease records were written and synced ([`Journal::batch_pending`] before the sync).
    pub synced: bool,
    /// Replies sent.
    pub sent: usize,
    /// Replies whose send failed.
    pub send_errors: usize,
    /// Replies dropped because the lease file sync failed.
    pub dropped_unsynced: usize,
}

/// [HA] Replies synced to the lease file that wait for the partner's acknowledgement:
/// fixed slots of [`MAX_REPLY`] bytes, allocated once.
#[derive(Debug)]
struct ParkedReplies {
    payloads: Vec<u8>,
    entries: Vec<Option<(u32, QueuedReply)>>,
}

impl ParkedReplies {
    fn new(capacity: usize) -> ParkedReplies {
        ParkedReplies {
            payloads: vec![0; capacity.saturating_mul(MAX_REPLY)],
            entries: vec![None; capacity],
        }
    }

    fn slot_mut(&mut self, index: usize) -> Option<&mut [u8]> {
        let start = index.checked_mul(MAX_REPLY)?;
        self.payloads.get_mut(start..start.checked_add(MAX_REPLY)?)
    }
}

/// Ports and buffers of the packet path.
#[derive(Debug)]
pub struct PacketPath {
    ring: ReplyRing,
    frame: Vec<u8>,
    server_port: u16,
    parked: ParkedReplies,
}

/// [HA] Replies parked at most (Kea's `parked-packet-limit` default).
pub const PARKED_CAPACITY: usize = 256;

impl PacketPath {
    /// Allocates the reply ring and the frame scratch buffer. Replies leave from
    /// `server_port` (`-p`) to the port the engine decided (`-P` is the core's rule:
    /// `wren_core::server::Engine::with_ports`).
    pub fn new(ring_capacity: usize, server_port: u16) -> PacketPath {
        PacketPath {
            ring: ReplyRing::new(ring_capacity),
            frame: vec![0; MAX_REPLY + frame::OVERHEAD],
            server_port,
            parked: ParkedReplies::new(PARKED_CAPACITY),
        }
    }

    /// [HA] Replies parked now.
    pub fn parked(&self) -> usize {
        self.parked.entries.iter().flatten().count()
    }

    /// [HA] The partner answered the lease updates of the reply parked as `id`: send it
    /// (`acked`) or drop it. Returns whether a reply was parked under that id.
    pub fn release_parked<T: Transmit>(&mut self, id: u32, acked: bool, tx: &mut T) -> bool {
        let Some(index) = self
            .parked
            .entries
            .iter()
            .position(|e| e.is_some_and(|(p, _)| p == id))
        else {
            return false;
        };
        let Some((_, reply)) = self.parked.entries.get_mut(index).and_then(Option::take) else {
            return false;
        };
        if !acked {
            log::info!(
                "HA_LEASE_UPDATE_FAILED reply to {} dropped: the partner did not acknowledge the lease update",
                reply.destination.ip
            );
            return true;
        }
        let start = index.saturating_mul(MAX_REPLY);
        let Some(payload) = self
            .parked
            .payloads
            .get(start..start.saturating_add(reply.len))
        else {
            return true;
        };
        if let Err(e) = send_one(&mut self.frame, self.server_port, &reply, payload, tx) {
            log::warn!(
                "DHCP4_PACKET_SEND_FAIL failed to send reply to {}:{}: {e}",
                reply.destination.ip,
                reply.destination.port
            );
        }
        true
    }

    /// The queue of the current batch.
    pub fn ring(&self) -> &ReplyRing {
        &self.ring
    }

    /// The server port (`-p`).
    pub fn server_port(&self) -> u16 {
        self.server_port
    }

    /// A whole Ethernet frame received on `link`.
    pub fn on_frame<E: Engine, J: Journal>(
        &mut self,
        engine: &mut E,
        journal: &mut J,
        link: &LinkView<'_>,
        bytes: &[u8],
        now: Timestamp,
    ) -> Result<(), Skip> {
        let datagram = frame::parse_udp_frame(bytes).map_err(Skip::BadFrame)?;
        if datagram.dst_mac != link.mac && datagram.dst_mac != BROADCAST_MAC {
            return Err(Skip::NotForUs);
        }
        if datagram.dst_port != self.server_port {
            return Err(Skip::WrongPort(datagram.dst_port));
        }
        let query = Query {
            payload: datagram.payload,
            interface: link.interface(),
            source_ip: datagram.src_ip,
            source_port: datagram.src_port,
            destination_ip: datagram.dst_ip,
            source_mac: datagram.src_mac,
            transport: Transport::Raw,
        };
        self.decide(engine, journal, link, &query, now)
    }

    /// A UDP payload received on the UDP socket, arriving on `link`.
    pub fn on_datagram<E: Engine, J: Journal>(
        &mut self,
        engine: &mut E,
        journal: &mut J,
        link: &LinkView<'_>,
        datagram: &UdpPayload<'_>,
        now: Timestamp,
    ) -> Result<(), Skip> {
        // freebsd.md §1.7: "Receive each packet on exactly one path." A packet socket / BPF
        // on the interface sees every IPv4 UDP datagram to the server port, unicast included.
        if link.has_raw {
            return Err(Skip::RawPathOwnsIt);
        }
        let query = Query {
            payload: datagram.payload,
            interface: link.interface(),
            source_ip: *datagram.source.ip(),
            source_port: datagram.source.port(),
            destination_ip: datagram.destination,
            source_mac: [0; 6],
            transport: Transport::Udp,
        };
        self.decide(engine, journal, link, &query, now)
    }

    fn decide<E: Engine, J: Journal>(
        &mut self,
        engine: &mut E,
        journal: &mut J,
        link: &LinkView<'_>,
        query: &Query<'_>,
        now: Timestamp,
    ) -> Result<(), Skip> {
        if self.ring.is_full() {
            return Err(Skip::RingFull);
        }
        let index = self.ring.entries.len();
        let Some(slot) = self.ring.reply_mut(index) else {
            return Err(Skip::RingFull);
        };
        let Some((len, destination)) = engine.handle(query, now, slot, journal) else {
            return Err(Skip::NoReply);
        };
        let park = match engine.hold() {
            Hold::Send => None,
            Hold::Park(id) => Some(id),
            Hold::Drop => return Err(Skip::NoReply),
        };
        self.ring.entries.push(QueuedReply {
            len: len.min(MAX_REPLY),
            destination,
            link_slot: link.slot,
            ifindex: link.ifindex,
            link_mac: link.mac,
            raw_link: link.has_raw,
            park,
            route: Route::Undecided,
        });
        Ok(())
    }

    /// Runs the engine's lease reclamation; its changes join the current batch.
    pub fn reclaim<E: Engine, J: Journal>(
        &mut self,
        engine: &mut E,
        journal: &mut J,
        now: Timestamp,
    ) -> usize {
        engine.reclaim_expired(now, journal)
    }

    /// Ends the batch: syncs the lease file, then (only if that succeeded) sends every
    /// queued reply. The ring is empty afterwards either way.
    pub fn commit<J: Journal, T: Transmit>(&mut self, journal: &mut J, tx: &mut T) -> CommitReport {
        let mut report = CommitReport {
            synced: journal.batch_pending(),
            ..CommitReport::default()
        };
        if let Err(e) = journal.sync_batch() {
            report.dropped_unsynced = self.ring.entries.len();
            log::error!(
                "DHCPSRV_MEMFILE_SYNC_FAILED lease file sync failed, dropping {} replies: {e}",
                report.dropped_unsynced
            );
            self.ring.entries.clear();
            return report;
        }
        // Parked replies move out, datagrams leave, frames get their headers in place...
        for index in 0..self.ring.entries.len() {
            let Some(reply) = self.ring.entries.get(index).copied() else {
                break;
            };
            if let Some(id) = reply.park {
                let Some(payload) = self.ring.reply(index, reply.len) else {
                    continue;
                };
                // [HA] Synced: now wait for the partner's acknowledgement.
                let free = self.parked.entries.iter().position(Option::is_none);
                match free.and_then(|i| self.parked.slot_mut(i).map(|s| (i, s))) {
                    Some((i, slot)) => {
                        if let Some(dst) = slot.get_mut(..payload.len()) {
                            dst.copy_from_slice(payload);
                        }
                        if let Some(e) = self.parked.entries.get_mut(i) {
                            *e = Some((id, reply));
                        }
                    }
                    None => {
                        report.dropped_unsynced += 1;
                        log::warn!("HA_LEASE_UPDATE_FAILED {PARKED_CAPACITY} replies parked: reply dropped");
                    }
                }
                continue;
            }
            let route = if leaves_as_frame(&reply) {
                let spec = frame_spec(self.server_port, &reply);
                let built = self
                    .ring
                    .frame_mut(index, reply.len)
                    .ok_or(frame::FrameError::Truncated)
                    .and_then(|f| frame::write_udp_headers(&spec, f));
                match built {
                    Ok(_) => Route::Frame,
                    Err(e) => {
                        let e = io::Error::new(io::ErrorKind::InvalidInput, e.to_string());
                        count_send(&mut report, &reply, Err(e));
                        continue;
                    }
                }
            } else {
                Route::Datagram
            };
            if let Some(e) = self.ring.entries.get_mut(index) {
                e.route = route;
            }
        }
        // ...then the frames, a link's run of them per call, and the datagrams.
        let entries = &self.ring.entries;
        let mut owners = [0usize; SEND_BATCH];
        let mut frames: [&[u8]; SEND_BATCH] = [&[]; SEND_BATCH];
        let mut pending = 0;
        let mut link = 0;
        for (index, reply) in entries.iter().enumerate() {
            if reply.route != Route::Frame {
                continue;
            }
            if pending == SEND_BATCH || (pending > 0 && reply.link_slot != link) {
                let run = frames.get(..pending).unwrap_or(&[]);
                send_run(pending, &owners, entries, &mut report, |from| {
                    tx.send_frames(link, run.get(from..).unwrap_or(&[]))
                });
                pending = 0;
            }
            let (Some(slot), Some(owner), Some(bytes)) = (
                frames.get_mut(pending),
                owners.get_mut(pending),
                self.ring.frame(index, reply.len),
            ) else {
                continue;
            };
            *slot = bytes;
            *owner = index;
            link = reply.link_slot;
            pending += 1;
        }
        if pending > 0 {
            let run = frames.get(..pending).unwrap_or(&[]);
            send_run(pending, &owners, entries, &mut report, |from| {
                tx.send_frames(link, run.get(from..).unwrap_or(&[]))
            });
        }
        let mut datagrams = [Outgoing::NONE; SEND_BATCH];
        let mut pending = 0;
        for (index, reply) in entries.iter().enumerate() {
            if reply.route != Route::Datagram {
                continue;
            }
            if pending == SEND_BATCH {
                let run = datagrams.get(..pending).unwrap_or(&[]);
                send_run(pending, &owners, entries, &mut report, |from| {
                    tx.send_datagrams(run.get(from..).unwrap_or(&[]))
                });
                pending = 0;
            }
            let (Some(slot), Some(owner), Some(payload)) = (
                datagrams.get_mut(pending),
                owners.get_mut(pending),
                self.ring.reply(index, reply.len),
            ) else {
                continue;
            };
            *slot = outgoing(reply, payload);
            *owner = index;
            pending += 1;
        }
        if pending > 0 {
            let run = datagrams.get(..pending).unwrap_or(&[]);
            send_run(pending, &owners, entries, &mut report, |from| {
                tx.send_datagrams(run.get(from..).unwrap_or(&[]))
            });
        }
        self.ring.entries.clear();
        report
    }
}

/// Whether a reply leaves as an Ethernet frame on its link rather than through the UDP
/// socket.
///
/// On a raw link every reply whose Ethernet next hop is known does, not only broadcasts and
/// unicasts to a `yiaddr` the client has not configured yet: a relayed query's reply
/// (`giaddr`:67) and a renewing client's (`ciaddr`:68) go to the Ethernet source of the
/// query — the relay, the client, or the router that forwarded the unicast renewal — which
/// is the next hop back when routing is symmetric (freebsd.md §1.7). The alternative,
/// `sendmsg` with a destination address on the UDP socket, is refused in Capsicum
/// capability mode (ECAPMODE, freebsd.md §2), so this is what lets `-C` serve relays and
/// renewals; Linux takes the same path so the e2e tests exercise it. ISC dhcpd uses BPF
/// frames for the same cases except relays. The engine fills `mac` from the query's
/// Ethernet source on the raw transport; an all-zero MAC (no source known) falls back to
/// the socket.
fn leaves_as_frame(reply: &QueuedReply) -> bool {
    let d = reply.destination;
    reply.raw_link && (d.raw_frame || d.mac != [0; 6])
}

/// The addresses and ports of reply's frame: from the link, to the engine's destination
/// (its port: 68, 67 or the RFC 8357 relay port, or `-P`'s for every reply).
fn frame_spec(server_port: u16, reply: &QueuedReply) -> FrameSpec {
    let d = reply.destination;
    FrameSpec {
        src_mac: reply.link_mac,
        dst_mac: d.mac,
        src_ip: d.source_ip,
        dst_ip: d.ip,
        src_port: server_port,
        dst_port: d.port,
    }
}

/// Reply `reply` with its `payload` as the UDP socket sends it.
fn outgoing<'a>(reply: &QueuedReply, payload: &'a [u8]) -> Outgoing<'a> {
    let d = reply.destination;
    Outgoing {
        payload,
        to: SocketAddrV4::new(d.ip, d.port),
        source: d.source_ip,
        ifindex: reply.ifindex,
    }
}

fn count_send(report: &mut CommitReport, reply: &QueuedReply, result: io::Result<()>) {
    match result {
        Ok(()) => report.sent += 1,
        Err(e) => {
            report.send_errors += 1;
            log::warn!(
                "DHCP4_PACKET_SEND_FAIL failed to send reply to {}:{}: {e}",
                reply.destination.ip,
                reply.destination.port
            );
        }
    }
}

/// Sends a run of `count` replies (`owners[i]` is the ring entry of the run's reply `i`)
/// through `send`, which sends the run from a given index on and says how many left; a reply
/// the platform refuses is counted and logged, and the rest are sent after it.
fn send_run(
    count: usize,
    owners: &[usize],
    entries: &[QueuedReply],
    report: &mut CommitReport,
    mut send: impl FnMut(usize) -> (usize, Option<io::Error>),
) {
    let mut from = 0;
    while from < count {
        let (sent, error) = send(from);
        let sent = sent.min(count - from);
        report.sent += sent;
        from += sent;
        match error {
            Some(e) => {
                if let Some(reply) = owners.get(from).and_then(|&i| entries.get(i)) {
                    count_send(report, reply, Err(e));
                }
                from += 1;
            }
            // Nothing sent and no reason given: do not spin.
            None if sent == 0 => {
                report.send_errors += count - from;
                break;
            }
            None => {}
        }
    }
}

/// One reply, copied into a frame in `frame_buffer` when it leaves as one ([HA] parked
/// replies, sent one at a time as the partner answers).
fn send_one<T: Transmit>(
    frame_buffer: &mut [u8],
    server_port: u16,
    reply: &QueuedReply,
    payload: &[u8],
    tx: &mut T,
) -> io::Result<()> {
    if leaves_as_frame(reply) {
        let spec = frame_spec(server_port, reply);
        let len = frame::build_udp_frame(&spec, payload, frame_buffer)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let bytes = frame_buffer
            .get(..len)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        tx.send_frame(reply.link_slot, bytes)
    } else {
        let d = outgoing(reply, payload);
        tx.send_datagram(d.payload, d.to, d.source, d.ifindex)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Answers every query with its own payload reversed, to 255.255.255.255 as a frame;
    /// reports one lease per query.
    pub(crate) struct EchoEngine {
        pub(crate) silent: bool,
    }

    impl Engine for EchoEngine {
        fn handle<S: LeaseSink>(
            &mut self,
            query: &Query<'_>,
            now: Timestamp,
            reply: &mut [u8],
            sink: &mut S,
        ) -> Option<(usize, Destination)> {
            if self.silent {
                return None;
            }
            sink.lease_changed(&LeaseRecord {
                address: Ipv4Addr::new(198, 18, 0, 10),
                hwaddr: &query.source_mac,
                client_id: &[],
                valid_lifetime: 3600,
                cltt: now,
                subnet_id: 1,
                fqdn_fwd: false,
                fqdn_rev: false,
                hostname: "",
                state: Default::default(),
                user_context: "",
            });
            let n = query.payload.len().min(reply.len());
            for (out, byte) in reply.iter_mut().zip(query.payload.iter().rev()) {
                *out = *byte;
            }
            Some((
                n,
                Destination {
                    ip: Ipv4Addr::BROADCAST,
                    port: 68,
                    mac: BROADCAST_MAC,
                    source_ip: query.interface.addresses.first().copied()?,
                    raw_frame: query.transport == Transport::Raw,
                },
            ))
        }

        fn reclaim_expired<S: LeaseSink>(&mut self, _now: Timestamp, _sink: &mut S) -> usize {
            0
        }

        fn with_leases(&self, f: &mut dyn FnMut(&mut dyn Iterator<Item = LeaseRecord<'_>>)) {
            f(&mut std::iter::empty());
        }
    }

    #[derive(Default)]
    pub(crate) struct MemoryJournal {
        pub(crate) pending: usize,
        pub(crate) synced: usize,
        pub(crate) fail: bool,
        pub(crate) log: Vec<&'static str>,
    }

    impl LeaseSink for MemoryJournal {
        fn lease_changed(&mut self, _record: &LeaseRecord<'_>) {
            self.pending += 1;
        }
    }

    impl Journal for MemoryJournal {
        fn batch_pending(&self) -> bool {
            self.pending > 0
        }
        fn sync_batch(&mut self) -> io::Result<()> {
            self.log.push("sync");
            if self.fail {
                return Err(io::Error::other("disk full"));
            }
            self.synced += self.pending;
            self.pending = 0;
            Ok(())
        }
    }

    #[derive(Default)]
    pub(crate) struct Recorder {
        pub(crate) frames: Vec<(usize, Vec<u8>)>,
        pub(crate) datagrams: Vec<(Vec<u8>, SocketAddrV4, Ipv4Addr, u32)>,
        /// Link and frame count of each `send_frames` call.
        pub(crate) batches: Vec<(usize, usize)>,
        /// Datagram count of each `send_datagrams` call.
        pub(crate) datagram_batches: Vec<usize>,
        /// Frames (counted over all sends) refused with `ENOBUFS`.
        pub(crate) refuse: Vec<usize>,
        attempts: usize,
    }

    impl Transmit for Recorder {
        fn send_frame(&mut self, link: usize, frame: &[u8]) -> io::Result<()> {
            let attempt = self.attempts;
            self.attempts += 1;
            if self.refuse.contains(&attempt) {
                return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
            }
            self.frames.push((link, frame.to_vec()));
            Ok(())
        }
        fn send_frames(&mut self, link: usize, frames: &[&[u8]]) -> (usize, Option<io::Error>) {
            self.batches.push((link, frames.len()));
            for (sent, frame) in frames.iter().enumerate() {
                if let Err(e) = self.send_frame(link, frame) {
                    return (sent, Some(e));
                }
            }
            (frames.len(), None)
        }
        fn send_datagram(
            &mut self,
            payload: &[u8],
            to: SocketAddrV4,
            source: Ipv4Addr,
            ifindex: u32,
        ) -> io::Result<()> {
            let attempt = self.attempts;
            self.attempts += 1;
            if self.refuse.contains(&attempt) {
                return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
            }
            self.datagrams.push((payload.to_vec(), to, source, ifindex));
            Ok(())
        }
        fn send_datagrams(&mut self, datagrams: &[Outgoing<'_>]) -> (usize, Option<io::Error>) {
            self.datagram_batches.push(datagrams.len());
            for (sent, d) in datagrams.iter().enumerate() {
                if let Err(e) = self.send_datagram(d.payload, d.to, d.source, d.ifindex) {
                    return (sent, Some(e));
                }
            }
            (datagrams.len(), None)
        }
    }

    const ADDRS: [Ipv4Addr; 1] = [Ipv4Addr::new(198, 18, 0, 1)];

    pub(crate) fn link(has_raw: bool) -> LinkView<'static> {
        LinkView {
            slot: 3,
            ifindex: 7,
            name: "veth0",
            mac: [2, 0, 0, 0, 0, 1],
            addresses: &ADDRS,
            has_raw,
        }
    }

    pub(crate) fn client_frame(payload: &[u8], dst_port: u16) -> Vec<u8> {
        let spec = FrameSpec {
            src_mac: [2, 0, 0, 0, 0, 0x42],
            dst_mac: BROADCAST_MAC,
            src_ip: Ipv4Addr::UNSPECIFIED,
            dst_ip: Ipv4Addr::BROADCAST,
            src_port: 68,
            dst_port,
        };
        let mut out = vec![0; payload.len() + frame::OVERHEAD];
        let n = frame::build_udp_frame(&spec, payload, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn reply_waits_for_the_sync_then_leaves_as_a_frame() {
        let mut path = PacketPath::new(4, 67);
        let mut engine = EchoEngine { silent: false };
        let mut journal = MemoryJournal::default();
        let mut tx = Recorder::default();
        let frame_in = client_frame(&[1, 2, 3, 4], 67);
        path.on_frame(
            &mut engine,
            &mut journal,
            &link(true),
            &frame_in,
            Timestamp(1000),
        )
        .unwrap();
        assert_eq!(path.ring().len(), 1);
        assert_eq!(journal.pending, 1);
        assert!(tx.frames.is_empty(), "nothing leaves before commit");
        let report = path.commit(&mut journal, &mut tx);
        assert_eq!(report.sent, 1);
        assert!(report.synced);
        assert_eq!(journal.synced, 1);
        // Nothing appended since: the next commit syncs nothing.
        assert!(!path.commit(&mut journal, &mut tx).synced);
        assert!(path.ring().is_empty());
        let (slot, bytes) = &tx.frames[0];
        assert_eq!(*slot, 3);
        let parsed = frame::parse_udp_frame(bytes).unwrap();
        assert_eq!(parsed.payload, &[4, 3, 2, 1]);
        assert_eq!(parsed.src_mac, [2, 0, 0, 0, 0, 1]);
        assert_eq!(parsed.dst_mac, BROADCAST_MAC);
        assert_eq!(parsed.src_ip, ADDRS[0]);
        assert_eq!((parsed.src_port, parsed.dst_port), (67, 68));
    }

    /// Queues one reply per payload on the link of `view`.
    fn queue(path: &mut PacketPath, view: &LinkView<'_>, payloads: &[&[u8]]) {
        let mut engine = EchoEngine { silent: false };
        let mut journal = MemoryJournal::default();
        for payload in payloads {
            path.on_frame(
                &mut engine,
                &mut journal,
                view,
                &client_frame(payload, 67),
                Timestamp(1),
            )
            .unwrap();
        }
    }

    #[test]
    fn a_batch_of_frames_leaves_in_one_call_per_link_run_in_order() {
        let mut path = PacketPath::new(8, 67);
        let a = link(true);
        let b = LinkView {
            slot: 5,
            ..link(true)
        };
        queue(&mut path, &a, &[&[1], &[2, 2], &[3, 3, 3]]);
        queue(&mut path, &b, &[&[4]]);
        queue(&mut path, &a, &[&[5]]);
        let mut tx = Recorder::default();
        let report = path.commit(&mut MemoryJournal::default(), &mut tx);
        assert_eq!(report.sent, 5);
        assert_eq!(tx.batches, vec![(3, 3), (5, 1), (3, 1)]);
        let payloads: Vec<(usize, Vec<u8>)> = tx
            .frames
            .iter()
            .map(|(l, f)| (*l, frame::parse_udp_frame(f).unwrap().payload.to_vec()))
            .collect();
        assert_eq!(
            payloads,
            vec![
                (3, vec![1]),
                (3, vec![2, 2]),
                (3, vec![3, 3, 3]),
                (5, vec![4]),
                (3, vec![5])
            ]
        );
        // The ring's frames were built in place: a second batch reuses the slots cleanly.
        queue(&mut path, &a, &[&[9, 8]]);
        let mut tx = Recorder::default();
        path.commit(&mut MemoryJournal::default(), &mut tx);
        assert_eq!(
            frame::parse_udp_frame(&tx.frames[0].1).unwrap().payload,
            &[8, 9]
        );
    }

    #[test]
    fn more_frames_than_one_call_takes_are_split() {
        let n = SEND_BATCH + 3;
        let mut path = PacketPath::new(n, 67);
        let payloads: Vec<[u8; 2]> = (0..n).map(|i| [i as u8, 0xee]).collect();
        let refs: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
        queue(&mut path, &link(true), &refs);
        let mut tx = Recorder::default();
        let report = path.commit(&mut MemoryJournal::default(), &mut tx);
        assert_eq!(report.sent, n);
        assert_eq!(tx.batches, vec![(3, SEND_BATCH), (3, 3)]);
        let last = frame::parse_udp_frame(&tx.frames[n - 1].1).unwrap();
        assert_eq!(last.payload, &[0xee, (n - 1) as u8]);
    }

    #[test]
    fn a_refused_frame_is_counted_and_the_rest_still_leave() {
        let mut path = PacketPath::new(8, 67);
        queue(&mut path, &link(true), &[&[1], &[2], &[3], &[4]]);
        let mut tx = Recorder {
            refuse: vec![1, 3],
            ..Default::default()
        };
        let report = path.commit(&mut MemoryJournal::default(), &mut tx);
        assert_eq!((report.sent, report.send_errors), (2, 2));
        // Called again after each refusal with what was left.
        assert_eq!(tx.batches, vec![(3, 4), (3, 2)]);
        let sent: Vec<Vec<u8>> = tx
            .frames
            .iter()
            .map(|(_, f)| frame::parse_udp_frame(f).unwrap().payload.to_vec())
            .collect();
        assert_eq!(sent, vec![vec![1], vec![3]]);
        assert!(path.ring().is_empty());
    }

    /// Queues one reply per payload that leaves through the UDP socket (a link without a
    /// raw device).
    fn queue_udp(path: &mut PacketPath, payloads: &[&[u8]]) {
        let mut engine = EchoEngine { silent: false };
        let mut journal = MemoryJournal::default();
        let from = SocketAddrV4::new(Ipv4Addr::new(198, 18, 5, 1), 67);
        for payload in payloads {
            path.on_datagram(
                &mut engine,
                &mut journal,
                &link(false),
                &udp(payload, from),
                Timestamp(1),
            )
            .unwrap();
        }
    }

    #[test]
    fn a_batch_of_datagrams_leaves_in_one_call_and_a_refused_one_is_counted() {
        let mut path = PacketPath::new(8, 67);
        queue_udp(&mut path, &[&[1], &[2, 2], &[3]]);
        let mut tx = Recorder::default();
        let report = path.commit(&mut MemoryJournal::default(), &mut tx);
        assert_eq!(report.sent, 3);
        assert_eq!(tx.datagram_batches, vec![3]);
        assert!(tx.batches.is_empty() && tx.frames.is_empty());
        let sent: Vec<(Vec<u8>, SocketAddrV4, Ipv4Addr, u32)> = tx.datagrams.clone();
        assert_eq!(sent[1].0, vec![2, 2]);
        assert_eq!(sent[1].1, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
        assert_eq!((sent[1].2, sent[1].3), (ADDRS[0], 7));

        queue_udp(&mut path, &[&[4], &[5], &[6]]);
        let mut tx = Recorder {
            refuse: vec![0],
            ..Default::default()
        };
        let report = path.commit(&mut MemoryJournal::default(), &mut tx);
        assert_eq!((report.sent, report.send_errors), (2, 1));
        assert_eq!(tx.datagram_batches, vec![3, 2]);
        let payloads: Vec<Vec<u8>> = tx.datagrams.iter().map(|d| d.0.clone()).collect();
        assert_eq!(payloads, vec![vec![5], vec![6]]);
    }

    #[test]
    fn failed_sync_drops_the_batch() {
        let mut path = PacketPath::new(4, 67);
        let mut engine = EchoEngine { silent: false };
        let mut journal = MemoryJournal {
            fail: true,
            ..Default::default()
        };
        let mut tx = Recorder::default();
        let frame_in = client_frame(&[9; 10], 67);
        path.on_frame(
            &mut engine,
            &mut journal,
            &link(true),
            &frame_in,
            Timestamp(1),
        )
        .unwrap();
        let report = path.commit(&mut journal, &mut tx);
        assert_eq!(report.dropped_unsynced, 1);
        assert_eq!(report.sent, 0);
        assert!(tx.frames.is_empty() && tx.datagrams.is_empty());
        assert!(path.ring().is_empty());
    }

    #[test]
    fn test_ports_are_honoured() {
        let mut path = PacketPath::new(4, 1067);
        let mut engine = EchoEngine { silent: false };
        let mut journal = MemoryJournal::default();
        let mut tx = Recorder::default();
        assert_eq!(
            path.on_frame(
                &mut engine,
                &mut journal,
                &link(true),
                &client_frame(&[1], 67),
                Timestamp(1)
            ),
            Err(Skip::WrongPort(67))
        );
        path.on_frame(
            &mut engine,
            &mut journal,
            &link(true),
            &client_frame(&[1], 1067),
            Timestamp(1),
        )
        .unwrap();
        path.commit(&mut journal, &mut tx);
        let parsed = frame::parse_udp_frame(&tx.frames[0].1).unwrap();
        // From `-p`; to the engine's port as decided (the core applies `-P`).
        assert_eq!((parsed.src_port, parsed.dst_port), (1067, 68));
    }

    fn udp(payload: &[u8], source: SocketAddrV4) -> UdpPayload<'_> {
        UdpPayload {
            payload,
            source,
            destination: ADDRS[0],
        }
    }

    #[test]
    fn udp_path_defers_to_raw_and_replies_by_datagram() {
        let mut path = PacketPath::new(4, 67);
        let mut engine = EchoEngine { silent: false };
        let mut journal = MemoryJournal::default();
        let mut tx = Recorder::default();
        let from = SocketAddrV4::new(Ipv4Addr::new(198, 18, 5, 1), 67);
        assert_eq!(
            path.on_datagram(
                &mut engine,
                &mut journal,
                &link(true),
                &udp(&[1, 2], from),
                Timestamp(1)
            ),
            Err(Skip::RawPathOwnsIt)
        );
        path.on_datagram(
            &mut engine,
            &mut journal,
            &link(false),
            &udp(&[1, 2], from),
            Timestamp(1),
        )
        .unwrap();
        path.commit(&mut journal, &mut tx);
        assert!(tx.frames.is_empty());
        let (payload, to, source, ifindex) = &tx.datagrams[0];
        assert_eq!(payload, &vec![2, 1]);
        assert_eq!(*to, SocketAddrV4::new(Ipv4Addr::BROADCAST, 68));
        assert_eq!((*source, *ifindex), (ADDRS[0], 7));
    }

    /// A relayed reply (giaddr:67) and a renewal reply (ciaddr:68) on a raw link leave as
    /// frames to the query's Ethernet source — no `sendmsg` with an address, which
    /// capability mode refuses; without a known MAC, or on a UDP-only link, the socket.
    #[test]
    fn unicast_replies_on_a_raw_link_leave_as_frames_to_the_previous_hop() {
        const RELAY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xee];
        let relay = Destination {
            ip: Ipv4Addr::new(198, 18, 7, 1),
            port: 67,
            mac: RELAY_MAC,
            source_ip: ADDRS[0],
            raw_frame: false,
        };
        let renewal = Destination {
            ip: Ipv4Addr::new(198, 18, 0, 50),
            port: 68,
            ..relay
        };
        let queued = |destination, raw_link| QueuedReply {
            len: 3,
            destination,
            link_slot: 3,
            ifindex: 7,
            link_mac: [2, 0, 0, 0, 0, 1],
            raw_link,
            park: None,
            route: Route::Undecided,
        };
        let mut buffer = vec![0; MAX_REPLY + frame::OVERHEAD];
        let mut tx = Recorder::default();
        for d in [relay, renewal] {
            send_one(&mut buffer, 67, &queued(d, true), &[7, 8, 9], &mut tx).unwrap();
        }
        assert!(tx.datagrams.is_empty());
        let parsed: Vec<_> = tx
            .frames
            .iter()
            .map(|(slot, f)| {
                assert_eq!(*slot, 3);
                frame::parse_udp_frame(f).unwrap()
            })
            .collect();
        assert_eq!(parsed[0].dst_mac, RELAY_MAC);
        assert_eq!(parsed[0].src_mac, [2, 0, 0, 0, 0, 1]);
        assert_eq!((parsed[0].dst_ip, parsed[0].dst_port), (relay.ip, 67));
        assert_eq!((parsed[0].src_ip, parsed[0].src_port), (ADDRS[0], 67));
        assert_eq!((parsed[1].dst_ip, parsed[1].dst_port), (renewal.ip, 68));
        assert_eq!(parsed[1].payload, &[7, 8, 9]);

        // No Ethernet source known, or no raw device: the UDP socket carries it.
        let mut tx = Recorder::default();
        let unknown = Destination {
            mac: [0; 6],
            ..relay
        };
        send_one(&mut buffer, 67, &queued(unknown, true), &[1], &mut tx).unwrap();
        send_one(&mut buffer, 67, &queued(relay, false), &[1], &mut tx).unwrap();
        assert!(tx.frames.is_empty());
        assert_eq!(tx.datagrams.len(), 2);
        assert_eq!(tx.datagrams[0].1, SocketAddrV4::new(relay.ip, 67));
    }

    #[test]
    fn skips() {
        let mut path = PacketPath::new(1, 67);
        let mut engine = EchoEngine { silent: true };
        let mut journal = MemoryJournal::default();
        let l = link(true);
        let f = client_frame(&[1], 67);
        assert_eq!(
            path.on_frame(&mut engine, &mut journal, &l, &f, Timestamp(1)),
            Err(Skip::NoReply)
        );
        assert!(matches!(
            path.on_frame(&mut engine, &mut journal, &l, &f[..20], Timestamp(1)),
            Err(Skip::BadFrame(_))
        ));
        let mut other = f.clone();
        other[..6].copy_from_slice(&[2, 9, 9, 9, 9, 9]);
        assert_eq!(
            path.on_frame(&mut engine, &mut journal, &l, &other, Timestamp(1)),
            Err(Skip::NotForUs)
        );
        engine.silent = false;
        path.on_frame(&mut engine, &mut journal, &l, &f, Timestamp(1))
            .unwrap();
        assert_eq!(
            path.on_frame(&mut engine, &mut journal, &l, &f, Timestamp(1)),
            Err(Skip::RingFull)
        );
    }
}
