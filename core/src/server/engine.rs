//! The engine: one call per received packet ([`Engine::handle`]).
//!
//! Acceptance (dhcpv4-server-behaviour.md §1), subnet selection (§2), dispatch to the
//! per-message handlers ([`super::discover`], [`super::request`], [`super::decline`],
//! [`super::release`], [`super::inform`]) and the assembly of replies (§3, §5, §7) live
//! here. The engine allocates nothing: the query is indexed on the stack, the reply is
//! written into the caller's buffer, leases live in the caller's [`LeaseStore`].

use core::net::Ipv4Addr;

use crate::assign::address::{Allocation, NakReason, SilenceReason};
use crate::assign::reservation::{self, HostIdentifiers};
use crate::assign::subnet_select::{self, Membership, SelectionInput};
use crate::assign::{ClientIdentity, LeaseStore, StoreError};
use crate::config::{Config, IndexRange, OptionSpace, OptionValue};
use crate::lease::{LeaseRecord, LeaseState};
use crate::server::accept::{self, ParseError};
use crate::server::classes::{class_words, run_class_pass, ClassTests, PacketClasses, Pass};
use crate::server::client_name::{self, ClientName, NameBuffers, Sanitizer};
use crate::server::destination::{self, DestinationInput, ReplyKind};
use crate::server::hostname_chars::CharSet;
use crate::server::lifetime::tee_times;
use crate::server::reply::{
    self, OptionSet, RANK_ALWAYS_SEND, RANK_BASIC, RANK_PRL, RANK_REQUIRED,
};
use crate::server::trace::{index_u32, ClassList, DecisionRecord};
use crate::server::vendor;
use crate::server::{Destination, LeaseSink, MessageType, Query};
use crate::time::Timestamp;
use crate::wire::bootp::{self, FLAG_BROADCAST};
use crate::wire::message::Message;

/// Why a query got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Not a readable BOOTP request (`pkt4-parse-failed`).
    ParseFailed(ParseError),
    /// No magic cookie or no option 53: BOOTP (RFC 951), which Kea 2.2 drops without its
    /// BOOTP hook.
    BootpNotSupported,
    /// Message types other than DISCOVER, REQUEST, DECLINE, RELEASE, INFORM.
    UnknownMessageType(u8),
    /// Option 54 names a server that is not us (§1 "Server identifier").
    NotForUs,
    /// A DISCOVER carrying option 54 \[checked\].
    DiscoverWithServerId,
    /// Empty chaddr and no (or an empty) client-id.
    NoClientIdentity,
    /// A client-id shorter than 2 bytes ("makes the packet unprocessable").
    BadClientId,
    /// A direct broadcast from an interface no subnet matches, or a direct INFORM with
    /// ciaddr 0 and source 0.0.0.0.
    DirectBroadcastNoSubnet,
    /// No subnet for a DISCOVER.
    NoSubnet,
    /// No address available (`v4-allocation-fail`).
    AllocationFailed,
    /// A REQUEST answered with silence (§10).
    Silence(SilenceReason),
    /// DECLINE without option 50 (an RFC violation Kea drops).
    DeclineWithoutAddress,
    /// The packet is in class `DROP` (kea-expressions.md §5 steps 5 and 10).
    DropClass,
    /// The lease could not be stored.
    LeaseStoreFailed(StoreError),
    /// The reply does not fit the caller's buffer.
    ReplyBufferTooSmall,
}

/// What happened, for Kea-style log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// DISCOVER answered (`DHCP4_LEASE_ADVERT`).
    Offered,
    /// New lease (`DHCP4_LEASE_ALLOC`).
    Allocated,
    /// Existing lease extended (`DHCP4_LEASE_ALLOC` as well in Kea).
    Renewed,
    /// REQUEST refused (`DHCP4_PACKET_NAK_0001`…).
    Nak(NakReason),
    /// Lease released (`DHCP4_RELEASE`).
    Released,
    /// RELEASE for an unknown lease or another client's (`DHCP4_RELEASE_FAIL_*`).
    ReleaseIgnored,
    /// Address declined (`DHCP4_DECLINE_LEASE`).
    Declined,
    /// DECLINE for an unknown lease or another client's (`DHCP4_DECLINE_LEASE_NOT_FOUND` /
    /// `…_MISMATCH`).
    DeclineIgnored,
    /// INFORM answered.
    Informed,
}

/// The decision in a few fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The query's type.
    pub query: MessageType,
    /// What happened.
    pub event: Event,
    /// The address concerned (offered, leased, released, declined), if any.
    pub address: Option<Ipv4Addr>,
    /// The Kea subnet id concerned, if any.
    pub subnet_id: Option<u32>,
    /// Lease lifetime granted (0 when none).
    pub lifetime: u32,
    /// The query's xid.
    pub xid: u32,
    /// chaddr (first `hwaddr_len` bytes).
    pub hwaddr: [u8; 16],
    /// Length of `hwaddr`.
    pub hwaddr_len: u8,
    /// The lease `address` held before this exchange changed it (REQUEST ACK, DECLINE,
    /// RELEASE): the client's own for a renewal, release or decline, or another client's
    /// expired lease an allocation reused (Kea reclaims that one first:
    /// `assigned-addresses` −1 in its subnet, `reclaimed-leases` +1). `None` when the
    /// address held no lease or nothing was stored.
    pub replaced: Option<PriorLease>,
    /// The client's previous lease, deleted because a REQUEST moved the client to `address`
    /// (Kea: `assigned-addresses` −1 in that lease's subnet).
    pub moved_from: Option<PriorLease>,
}

/// A lease as it was before an exchange changed or removed it (for statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriorLease {
    /// Its address.
    pub address: Ipv4Addr,
    /// Its subnet id.
    pub subnet_id: u32,
    /// Its state (default, declined, expired-reclaimed).
    pub state: LeaseState,
    /// Whether it had expired (cltt + valid lifetime ≤ now) when the exchange began.
    pub expired: bool,
}

impl PriorLease {
    /// `record` as seen at `now`.
    pub fn of(record: &LeaseRecord<'_>, now: Timestamp) -> Self {
        PriorLease {
            address: record.address,
            subnet_id: record.subnet_id,
            state: record.state,
            expired: record
                .cltt
                .0
                .saturating_add(u64::from(record.valid_lifetime))
                <= now.0,
        }
    }
}

/// The engine's answer to one query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send `reply[..len]` to `destination` (after the lease changes are durable).
    Reply {
        /// Bytes of the reply (UDP payload).
        len: usize,
        /// Where it goes.
        destination: Destination,
        /// OFFER, ACK or NAK.
        kind: MessageType,
        /// The decision.
        summary: Summary,
    },
    /// Handled; no reply by design (RELEASE, DECLINE).
    Done(Summary),
    /// No reply, and why.
    Drop(DropReason),
}

/// The per-packet facts the handlers share.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'q, 'c> {
    pub q: &'q Message<'q>,
    pub query: &'q Query<'q>,
    pub now: Timestamp,
    pub kind: MessageType,
    /// The whole option-61 payload, empty if absent.
    pub client_id: &'q [u8],
    pub host_ids: HostIdentifiers<'q>,
    pub classes: PacketClasses<'c>,
    pub selected: Option<usize>,
    /// The client's host reservation in the selected subnet (DISCOVER, REQUEST, INFORM).
    pub reservation: Option<usize>,
    pub received_broadcast: bool,
}

impl Ctx<'_, '_> {
    pub(crate) fn summary(
        &self,
        event: Event,
        address: Option<Ipv4Addr>,
        subnet_id: Option<u32>,
        lifetime: u32,
    ) -> Summary {
        let mut hwaddr = [0u8; 16];
        let ch = self.q.header().chaddr();
        if let Some(dst) = hwaddr.get_mut(..ch.len()) {
            dst.copy_from_slice(ch);
        }
        Summary {
            query: self.kind,
            event,
            address,
            subnet_id,
            lifetime,
            xid: self.q.header().xid(),
            hwaddr,
            hwaddr_len: u8::try_from(ch.len()).unwrap_or(0),
            replaced: None,
            moved_from: None,
        }
    }
}

/// The DHCPv4 server engine. Cheap to construct (it only holds borrows), so the daemon may
/// build one per batch of packets and use the lease table in between.
pub struct Engine<'a, S: LeaseStore + ?Sized = dyn LeaseStore + 'a> {
    pub(crate) config: Config<'a>,
    pub(crate) leases: &'a mut S,
    /// Iterative allocator state: the last address handed out per subnet (index into
    /// `config.subnets`), `0.0.0.0` for none. Keep it across engines (the daemon owns it).
    pub(crate) cursors: &'a mut [Ipv4Addr],
    /// Class test evaluation, when configured ([`Engine::with_class_tests`]).
    pub(crate) class_tests: Option<&'a dyn ClassTests>,
    /// Per-packet class test results, [`class_words`] words.
    pub(crate) class_bits: &'a mut [u64],
    /// Every address the server's sockets are bound to (Kea's `hasOpenSocket` check of
    /// option 54), beyond the receiving interface's own.
    pub(crate) server_addresses: &'a [Ipv4Addr],
    /// How client-supplied names are scrubbed.
    pub(crate) sanitizer: Sanitizer<'a>,
    /// kea-dhcp4 `-p`: the port the server listens on ([`destination::SERVER_PORT`] by
    /// default).
    pub(crate) server_port: u16,
    /// kea-dhcp4 `-P`: the port replies go to ([`destination::CLIENT_PORT`] by default).
    pub(crate) client_port: u16,
    /// Whether option 52 is followed into `sname`/`file` (Kea 2.2: no).
    pub(crate) overload: accept::Overload,
    /// What was decided for the last query (packet trace), rewritten by every `handle`.
    pub(crate) record: DecisionRecord,
    /// Whether the record lists the packet's classes ([`Engine::with_trace`]).
    pub(crate) trace_classes: bool,
    /// The classes once the reply's required classes joined (set while the reply is built,
    /// which only borrows the engine; moved into `record` after `handle`).
    pub(crate) trace_required: core::cell::Cell<Option<ClassList>>,
    /// [HA] The class a hook put the packet in (`HA_<peer name>`, kea-ha.md §3); empty
    /// for none.
    pub(crate) hook_class: &'a [u8],
}

/// What a reply is built from.
pub(crate) struct ReplyPlan<'r> {
    pub kind: ReplyKind,
    pub yiaddr: Ipv4Addr,
    /// ciaddr to put in the reply header.
    pub ciaddr: Ipv4Addr,
    /// The allocation behind an OFFER/ACK.
    pub allocation: Option<&'r Allocation>,
    /// The subnet whose options and fields apply (lease subnet, or the selected one).
    pub subnet: Option<usize>,
    /// The client's reservation, for options, fields and hostname.
    pub reservation: Option<usize>,
    /// Granted lifetime (OFFER/ACK).
    pub lifetime: Option<u32>,
    /// The client-name option (12 or 81) for an address-bearing reply.
    pub name_option: Option<(u8, &'r [u8])>,
    /// Only 53 and 54 (an INFORM without a subnet).
    pub bare: bool,
}

const BASIC_OPTIONS: [u8; 3] = [3, 6, 15];

/// Codes the server writes itself; configured values for them are not used.
fn server_owned(code: u8) -> bool {
    matches!(
        code,
        0 | 50 | 51 | 52 | 53 | 54 | 55 | 57 | 58 | 59 | 61 | 82 | 118 | 255
    )
}

impl<'a, S: LeaseStore + ?Sized> Engine<'a, S> {
    /// An engine over `config`, the lease table `leases`, and `cursors` (one entry per
    /// subnet, `config.subnets.len()`, initially `0.0.0.0`; shorter slices work, the
    /// allocator then always starts at the first pool address).
    pub fn new(config: &Config<'a>, leases: &'a mut S, cursors: &'a mut [Ipv4Addr]) -> Self {
        Engine {
            config: *config,
            leases,
            cursors,
            class_tests: None,
            class_bits: &mut [],
            server_addresses: &[],
            sanitizer: Sanitizer::kea_default(),
            server_port: destination::SERVER_PORT,
            client_port: destination::CLIENT_PORT,
            overload: accept::Overload::Ignore,
            record: DecisionRecord::EMPTY,
            trace_classes: false,
            trace_required: core::cell::Cell::new(None),
            hook_class: &[],
        }
    }

    /// Packet trace: also record the packet's classes in [`Engine::decision`] (the rest of
    /// the record is always filled; listing classes costs a pass over the configured ones).
    pub fn with_trace(mut self, on: bool) -> Self {
        self.trace_classes = on;
        self
    }

    /// What was decided for the last query given to [`Engine::handle`]: subnet and the rule
    /// that chose it, host reservation, classes (with [`Engine::with_trace`]), REQUEST
    /// state, address and why. The [`Outcome`] says the rest (reply, NAK or drop reason).
    /// [`crate::server::trace::TraceLine`] formats both.
    pub fn decision(&self) -> &DecisionRecord {
        &self.record
    }

    /// A wren extension: read options carried in `sname`/`file` when option 52 says so
    /// (RFC 2132 §9.3). Off by default, as Kea 2.2 never reads them ([`accept`]).
    pub fn with_overload_parsing(mut self, follow: bool) -> Self {
        self.overload = if follow {
            accept::Overload::Follow
        } else {
            accept::Overload::Ignore
        };
        self
    }

    /// kea-dhcp4's `-p PORT` / `-P PORT` (defaults 67 / 68). As in Kea 2.2
    /// (`Dhcpv4Srv::adjustIfaceData`), a client port other than 68 receives *every* reply,
    /// relayed ones included ("If client port was set from the command line enforce all
    /// responses to it"); without it clients get 68 and relays 67 or their RFC 8357
    /// relay-port. The server port only moves where the daemon listens: Kea still answers
    /// relays at the constant 67 (`DHCP4_SERVER_PORT`), so it changes no destination.
    pub fn with_ports(mut self, server_port: u16, client_port: u16) -> Self {
        self.server_port = server_port;
        self.client_port = client_port;
        self
    }

    /// The `(server, client)` ports given to [`Engine::with_ports`].
    pub fn ports(&self) -> (u16, u16) {
        (self.server_port, self.client_port)
    }

    /// `hostname-char-set` / `hostname-char-replacement` (global values; Kea's defaults
    /// `[^A-Za-z0-9.-]` / `""` otherwise). An empty set keeps client names as sent (only
    /// lower-cased).
    pub fn with_hostname_chars(mut self, set: CharSet<'a>, replacement: &'a [u8]) -> Self {
        self.sanitizer = Sanitizer { set, replacement };
        self
    }

    /// Every address the server listens on (all served interfaces). A REQUEST, RELEASE,
    /// DECLINE or INFORM naming one of them in option 54 is ours even when it arrived on
    /// another interface (Kea: "an address a server socket is bound to").
    pub fn with_server_addresses(mut self, addresses: &'a [Ipv4Addr]) -> Self {
        self.server_addresses = addresses;
        self
    }

    /// [HA] Puts every packet this engine handles in the class `name` (Kea's HA hook
    /// assigns `HA_<scope owner>` before classification, kea-ha.md §3), as pool and subnet
    /// `client-class` and `member('HA_…')` see it. Empty: none.
    pub fn with_hook_class(mut self, name: &'a [u8]) -> Self {
        self.hook_class = name;
        self
    }

    /// Adds the evaluation of class `test` expressions; `bits` needs
    /// [`class_words`]`(config.classes.len())` words (scratch, rewritten per packet).
    /// Without it, the packet is only in the classes the engine decides itself
    /// ([`crate::server::classes`]).
    pub fn with_class_tests(mut self, tests: &'a dyn ClassTests, bits: &'a mut [u64]) -> Self {
        self.class_tests = Some(tests);
        self.class_bits = bits;
        self
    }

    /// The lease table.
    pub fn leases(&self) -> &S {
        self.leases
    }

    /// The lease table, mutable (control commands, reclamation).
    pub fn leases_mut(&mut self) -> &mut S {
        self.leases
    }

    /// The iterative allocator's cursors (the last address handed out per subnet).
    pub fn cursors(&self) -> &[Ipv4Addr] {
        self.cursors
    }

    /// Handles one query received at `now`: decides, stores and reports lease changes to
    /// `sink` in order, and writes any reply into `reply` (a buffer of at least 548 bytes,
    /// more for clients announcing a larger option 57).
    pub fn handle(
        &mut self,
        query: &Query<'_>,
        now: Timestamp,
        reply: &mut [u8],
        sink: &mut dyn LeaseSink,
    ) -> Outcome {
        // The class bits are lent to this packet's context and given back afterwards.
        let bits = core::mem::take(&mut self.class_bits);
        self.record = DecisionRecord::EMPTY;
        let outcome = self.handle_with(query, now, reply, sink, bits);
        self.class_bits = bits;
        if let Some(classes) = self.trace_required.take() {
            self.record.classes = Some(classes);
        }
        outcome
    }

    fn handle_with(
        &mut self,
        query: &Query<'_>,
        now: Timestamp,
        reply: &mut [u8],
        sink: &mut dyn LeaseSink,
        bits: &mut [u64],
    ) -> Outcome {
        let mut scratch = [0u8; accept::QUERY_OPTIONS_SCRATCH];
        // §1: "No cookie / no option 53: BOOTP (RFC 951) or broken client — dropped unless
        // the BOOTP hook is loaded".
        let q = match accept::read_with(query.payload, &mut scratch, self.overload) {
            Ok(Some(q)) => q,
            Ok(None) => return Outcome::Drop(DropReason::BootpNotSupported),
            Err(e) => return Outcome::Drop(DropReason::ParseFailed(e)),
        };
        let Some(code) = accept::message_type_code(&q) else {
            return Outcome::Drop(DropReason::BootpNotSupported);
        };
        let kind = MessageType::from(code);
        // §1: "accept DISCOVER(1), REQUEST(3), DECLINE(4), RELEASE(7), INFORM(8); others
        // … dropped".
        if !matches!(
            kind,
            MessageType::Discover
                | MessageType::Request
                | MessageType::Decline
                | MessageType::Release
                | MessageType::Inform
        ) {
            return Outcome::Drop(DropReason::UnknownMessageType(code));
        }
        // §1 Identity: "drop if chaddr is empty (hlen 0) and there is no client-id or it is
        // empty; a client-id shorter than 2 bytes makes the packet unprocessable".
        let client_id = q.option(61).unwrap_or(&[]);
        if q.option(61).is_some() && client_id.len() < 2 {
            return Outcome::Drop(if q.header().chaddr().is_empty() && client_id.is_empty() {
                DropReason::NoClientIdentity
            } else {
                DropReason::BadClientId
            });
        }
        if q.header().chaddr().is_empty() && client_id.is_empty() {
            return Outcome::Drop(DropReason::NoClientIdentity);
        }
        // §1 Server identifier: "if option 54 is present it must be one of ours … Applies
        // to every message type"; "DISCOVER with option 54 → drop".
        if let Some(sid) = q.option(54) {
            if kind == MessageType::Discover {
                return Outcome::Drop(DropReason::DiscoverWithServerId);
            }
            if !self.is_our_server_id(&q, query, sid) {
                return Outcome::Drop(DropReason::NotForUs);
            }
        }
        let vendor_class = q.vendor_class_identifier().unwrap_or(&[]);
        let config = self.config;
        let config_ref: &Config<'_> = &config;
        let mut classes =
            PacketClasses::new(config_ref, vendor_class).with_hook_class(self.hook_class);
        let tests = self.class_tests;
        let words = class_words(config.classes.len());
        let bits = match bits.get_mut(..words) {
            Some(b) => {
                b.fill(0);
                b
            }
            None => &mut [],
        };
        if let Some(tests) = tests.filter(|_| !bits.is_empty()) {
            // §5 step 3: pass 1, before subnet selection.
            run_class_pass(config_ref, tests, query, &classes, bits, Pass::One);
        }
        let received_broadcast = query.destination_ip == Ipv4Addr::BROADCAST;
        let giaddr = q.header().giaddr();
        let relayed = !giaddr.is_unspecified();
        // RFC 3527 link-selection must be exactly 4 bytes; RFC 3011 likewise.
        let link_selection = accept::relay_sub_option(&q, 5)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(Ipv4Addr::from);
        let input = SelectionInput {
            link_selection,
            subnet_selection: q.subnet_selection(),
            giaddr,
            ciaddr: q.header().ciaddr(),
            source_ip: query.source_ip,
            received_broadcast,
            interface_name: query.interface.name,
            interface_address: query.interface.addresses.first().copied(),
        };
        // Subnet `client-class` restrictions see the pass-1 matches (Kea selects the
        // subnet after `classifyPacket`).
        let (selected, selected_by) =
            subnet_select::select_subnet_by(config_ref, &input, &classes.with_tested(bits, tests));
        self.record.selection = Some(selected_by);
        self.record.subnet = selected.map(index_u32);
        // §1 Direct broadcast sanity: "a non-relayed packet sent to 255.255.255.255 is
        // accepted only if a subnet can be selected for the receiving interface; a direct
        // INFORM with ciaddr 0 and IP source 0.0.0.0 is dropped".
        // Kea `acceptDirectRequest` runs the whole selection (118 and link-selection
        // included): a direct broadcast whose selection finds nothing is dropped, whatever
        // its type.
        if !relayed && received_broadcast && selected.is_none() {
            return Outcome::Drop(DropReason::DirectBroadcastNoSubnet);
        }
        if !relayed
            && kind == MessageType::Inform
            && q.header().ciaddr().is_unspecified()
            && query.source_ip.is_unspecified()
        {
            return Outcome::Drop(DropReason::DirectBroadcastNoSubnet);
        }
        let host_ids = HostIdentifiers {
            hwaddr: q.header().chaddr(),
            client_id,
            circuit_id: accept::relay_sub_option(&q, 1).unwrap_or(&[]),
        };
        // §5 step 8: host lookup in the selected subnet (the messages that use it), then
        // pass 2 for classes that depend on KNOWN/UNKNOWN, then "DROP check again".
        let reservation = match kind {
            MessageType::Discover | MessageType::Request | MessageType::Inform => selected
                .and_then(|s| config.subnets.get(s))
                .and_then(|s| reservation::find_for_client(config_ref, s, &host_ids)),
            _ => None,
        };
        if matches!(
            kind,
            MessageType::Discover | MessageType::Request | MessageType::Inform
        ) {
            let (known, early) = self.host_classes(selected, reservation, &host_ids);
            classes = classes.with_host(known, early);
            self.record.known = Some(known);
            self.record.reservation = reservation.map(index_u32);
            if let Some(tests) = tests.filter(|_| !bits.is_empty()) {
                if classes.has_early_host_classes() {
                    run_class_pass(config_ref, tests, query, &classes, bits, Pass::One);
                }
                run_class_pass(config_ref, tests, query, &classes, bits, Pass::Two);
            }
        }
        let classes = classes.with_tested(bits, tests);
        if self.trace_classes {
            self.record.classes = Some(ClassList::collect(classes.configured()));
        }
        if classes.is_member(b"DROP") {
            return Outcome::Drop(DropReason::DropClass);
        }
        let ctx = Ctx {
            q: &q,
            query,
            now,
            kind,
            client_id,
            host_ids,
            classes,
            selected,
            reservation,
            received_broadcast,
        };
        match kind {
            MessageType::Discover => self.discover(&ctx, reply),
            MessageType::Request => self.request(&ctx, reply, sink),
            MessageType::Decline => self.decline(&ctx, sink),
            MessageType::Release => self.release(&ctx, sink),
            _ => self.inform(&ctx, reply),
        }
    }

    /// §1: "an address a server socket is bound to, a `dhcp-server-identifier` configured on
    /// any subnet/shared network/class the packet is in/global, or equal to RAI sub-option
    /// 11 (server-id-override, RFC 5107)". wren knows the receiving interface's addresses
    /// and accepts a configured identifier from any level.
    fn is_our_server_id(&self, q: &Message<'_>, query: &Query<'_>, sid: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 4]>::try_from(sid) else {
            return false;
        };
        let sid = Ipv4Addr::from(bytes);
        if query.interface.addresses.contains(&sid) || self.server_addresses.contains(&sid) {
            return true;
        }
        if accept::relay_sub_option(q, 11) == Some(&bytes[..]) {
            return true;
        }
        self.config.options.iter().any(|o| {
            o.code == 54
                && o.space == OptionSpace::Dhcp4
                && self.config.bytes(o.payload) == &bytes[..]
        })
    }

    /// The identity for lease matching in subnet `subnet` (its `match-client-id`).
    pub(crate) fn identity<'q>(
        &self,
        ctx: &Ctx<'q, '_>,
        subnet: Option<usize>,
    ) -> ClientIdentity<'q> {
        let match_client_id = subnet
            .and_then(|s| self.config.subnets.get(s))
            .map_or(self.config.globals.params.match_client_id, |s| {
                s.params.match_client_id
            });
        ClientIdentity::for_matching(ctx.client_id, ctx.q.header().chaddr(), match_client_id)
    }

    /// KNOWN/UNKNOWN and the host whose `client-classes` join before pass 1
    /// (kea-expressions.md §5 step 8). Kea 2.2's `findReservation` looks in every subnet of
    /// the selected subnet's shared network, so a host reserved in another member subnet
    /// makes the packet KNOWN; its classes join only after the allocation (step 12,
    /// [`PacketClasses::with_late_host`]). A global host's classes, or those of a host in a
    /// subnet outside any shared network, join before pass 1 ("re-run pass 1").
    fn host_classes(
        &self,
        selected: Option<usize>,
        reservation: Option<usize>,
        host_ids: &HostIdentifiers<'_>,
    ) -> (bool, Option<usize>) {
        let config = &self.config;
        let network = selected
            .and_then(|s| config.subnets.get(s))
            .and_then(|s| s.shared_network)
            .and_then(|n| config.shared_networks.get(n as usize));
        let Some(network) = network else {
            return (reservation.is_some(), reservation);
        };
        let global =
            reservation.filter(|&r| config.reservations.get(r).is_some_and(|h| h.subnet_id == 0));
        let known = reservation.is_some()
            || config
                .subnets
                .get(network.subnets.as_range())
                .unwrap_or(&[])
                .iter()
                .any(|s| reservation::find_for_client(config, s, host_ids).is_some());
        (known, global)
    }

    /// The lifetime to grant in `subnet`: "class triplet (first class defining one) else
    /// subnet/shared-network/global `valid-lifetime`; client's 51 clamped to [min, max]".
    pub(crate) fn lifetime(
        &self,
        ctx: &Ctx<'_, '_>,
        classes: &PacketClasses<'_>,
        subnet: usize,
    ) -> u32 {
        let from_class = classes
            .configured()
            .find_map(|c| self.config.classes.get(c).and_then(|c| c.lifetimes));
        let lifetimes =
            from_class.or_else(|| self.config.subnets.get(subnet).map(|s| s.params.lifetimes));
        lifetimes.map_or(0, |l| l.grant(ctx.q.lease_time()))
    }

    /// The client's name for the reply (12 or 81) and the lease (see
    /// [`crate::server::client_name`]).
    pub(crate) fn client_name<'b>(
        &self,
        ctx: &Ctx<'_, '_>,
        reservation: Option<usize>,
        buf: &'b mut NameBuffers,
    ) -> ClientName<'b> {
        let reserved = reservation
            .and_then(|r| self.config.reservations.get(r))
            .map_or(&[][..], |r| self.config.bytes(r.hostname));
        let sanitizer = self.sanitizer_for(ctx.selected);
        client_name::decide(ctx.q, reserved, &sanitizer, buf)
    }

    /// How names are scrubbed for a client of `subnet` (the selected one, as Kea's
    /// `processClientName` runs before the allocation): the subnet's resolved
    /// `hostname-char-set` / `hostname-char-replacement` (subnet → shared network →
    /// global, kea-config.md §3), each falling back to [`Engine::with_hostname_chars`]'s
    /// value (Kea's defaults unless set) when no level declares it. A set wren cannot
    /// read ([`CharSet::parse`]) keeps the fallback set; the config loader warns about it.
    pub(crate) fn sanitizer_for(&self, subnet: Option<usize>) -> Sanitizer<'a> {
        let config = &self.config;
        let params = subnet
            .and_then(|s| config.subnets.get(s))
            .map_or(config.globals.params, |s| s.params);
        let set = params
            .hostname_char_set
            .and_then(|t| CharSet::parse(config.str(t)).ok())
            .unwrap_or(self.sanitizer.set);
        let replacement = params
            .hostname_char_replacement
            .map_or(self.sanitizer.replacement, |t| config.bytes(t));
        Sanitizer { set, replacement }
    }

    /// Our identifier as written into option 54 (kea-options.md §4.1): "a configured
    /// `dhcp-server-identifier` found in the normal option list (pool → subnet → shared
    /// network → class → global …), else the IPv4 address the query was received on (the
    /// socket's bound address if the query was broadcast). NAKs always use the receiving
    /// address."
    pub(crate) fn server_id(&self, ctx: &Ctx<'_, '_>, plan: &ReplyPlan<'_>) -> Ipv4Addr {
        if plan.kind != ReplyKind::Nak {
            let configured = self
                .option_sources(ctx, plan)
                .find_map(|range| self.find_option(range, 54))
                .and_then(|o| <[u8; 4]>::try_from(self.config.bytes(o.payload)).ok());
            if let Some(a) = configured {
                return Ipv4Addr::from(a);
            }
        }
        receiving_address(ctx.query)
    }

    fn find_option(&self, range: IndexRange, code: u8) -> Option<&'a OptionValue> {
        self.config
            .options
            .get(range.as_range())?
            .iter()
            .find(|o| o.code == code && o.space == OptionSpace::Dhcp4)
    }

    /// The option-data lists in precedence order (kea-expressions.md §6.1): reservation →
    /// pool containing yiaddr → subnet → shared network → classes (packet order) → global.
    fn option_sources<'s>(
        &'s self,
        ctx: &'s Ctx<'_, '_>,
        plan: &'s ReplyPlan<'_>,
    ) -> impl Iterator<Item = IndexRange> + 's {
        let config = &self.config;
        let subnet = plan.subnet.and_then(|s| config.subnets.get(s));
        let reservation = plan
            .reservation
            .and_then(|r| config.reservations.get(r))
            .map(|r| r.options);
        let pool = subnet
            .filter(|_| !plan.yiaddr.is_unspecified())
            .and_then(|s| crate::assign::address::pool_of(config, s, plan.yiaddr))
            .and_then(|p| config.pools.get(p))
            .map(|p| p.options);
        let network = subnet
            .and_then(|s| s.shared_network)
            .and_then(|n| config.shared_networks.get(n as usize))
            .map(|n| n.options);
        reservation
            .into_iter()
            .chain(pool)
            .chain(subnet.map(|s| s.options))
            .chain(network)
            .chain(
                ctx.classes
                    .configured()
                    .filter_map(move |c| config.classes.get(c).map(|c| c.options)),
            )
            .chain(core::iter::once(config.globals.options))
    }

    /// Builds the reply described by `plan` into `out`; returns its length and destination.
    pub(crate) fn build_reply(
        &self,
        ctx: &Ctx<'_, '_>,
        plan: &ReplyPlan<'_>,
        out: &mut [u8],
    ) -> Result<(usize, Destination), DropReason> {
        // §5 step 13: required classes join only replies that carry an address and INFORM
        // ACKs (Kea `requiredClassify` after the allocation), before options are chosen.
        let with_required;
        let ctx = match (
            self.class_tests,
            plan.subnet.and_then(|s| self.config.subnets.get(s)),
        ) {
            (tests, Some(subnet))
                if !plan.bare
                    && (plan.kind == ReplyKind::InformAck || !plan.yiaddr.is_unspecified()) =>
            {
                let config = &self.config;
                // §5 step 12: a subnet-level host of a shared network adds its classes now.
                let late_host = plan.reservation.filter(|&r| {
                    subnet.shared_network.is_some()
                        && config.reservations.get(r).is_some_and(|h| h.subnet_id != 0)
                });
                let classes = ctx.classes.with_late_host(late_host);
                let network = subnet
                    .shared_network
                    .and_then(|n| config.shared_networks.get(n as usize))
                    .map_or(IndexRange::EMPTY, |n| n.require_client_classes);
                let pool = crate::assign::address::pool_of(config, subnet, plan.yiaddr)
                    .filter(|_| !plan.yiaddr.is_unspecified())
                    .and_then(|p| config.pools.get(p))
                    .map_or(IndexRange::EMPTY, |p| p.require_client_classes);
                with_required = Ctx {
                    classes: match tests {
                        Some(tests) => classes.with_required(
                            [network, subnet.require_client_classes, pool],
                            tests,
                            ctx.query,
                        ),
                        None => classes,
                    },
                    ..*ctx
                };
                if self.trace_classes {
                    let all = with_required.classes.configured();
                    self.trace_required.set(Some(ClassList::collect(all)));
                }
                &with_required
            }
            _ => ctx,
        };
        let q = ctx.q;
        let query = ctx.query;
        let server_id = self.server_id(ctx, plan);
        let (dest, adjust) = destination::decide(&DestinationInput {
            kind: plan.kind,
            ciaddr: q.header().ciaddr(),
            giaddr: q.header().giaddr(),
            yiaddr: plan.yiaddr,
            broadcast_flag: q.header().broadcast(),
            relay_port_requested: accept::relay_sub_option(q, 19).is_some(),
            source_ip: query.source_ip,
            source_port: query.source_port,
            source_mac: query.source_mac,
            chaddr_mac: accept::chaddr_mac(q),
            transport: query.transport,
            server_ip: receiving_address(query),
            client_port: self.client_port,
        });
        let msg_type = [match plan.kind {
            ReplyKind::Offer => u8::from(MessageType::Offer),
            ReplyKind::Nak => u8::from(MessageType::Nak),
            _ => u8::from(MessageType::Ack),
        }];
        let sid = server_id.octets();
        let lifetime = plan.lifetime.unwrap_or(0).to_be_bytes();
        let lease_subnet = plan
            .allocation
            .and_then(|a| self.config.subnets.get(a.subnet));
        let mask = lease_subnet.map_or([0; 4], |s| s.prefix.netmask().octets());
        let (t1, t2) = match (lease_subnet, plan.lifetime) {
            (Some(s), Some(l)) => tee_times(&s.params, l),
            _ => (None, None),
        };
        let t1 = t1.map(u32::to_be_bytes);
        let t2 = t2.map(u32::to_be_bytes);

        // Declared before `set`, which borrows it.
        let mut vivso = [0u8; vendor::VIVSO_MAX];
        let mut set = OptionSet::new();
        set.set(53, &msg_type, RANK_REQUIRED);
        set.set(54, &sid, RANK_REQUIRED);
        // RFC 6842 / Kea `echo-client-id`: "61 any reply (incl. NAK) if the query had it".
        if self.config.globals.echo_client_id && !ctx.client_id.is_empty() {
            set.set(61, ctx.client_id, RANK_REQUIRED);
        }
        // RFC 3046 §2.2: "the DHCP server … MUST copy the Relay Agent Information option into
        // the DHCP reply"; Kea: non-empty only, not for an INFORM answered directly.
        if let Some(rai) = q.option(82).filter(|r| !r.is_empty()) {
            if !adjust.reply_directly {
                set.set(82, rai, RANK_REQUIRED);
            }
        }
        // RFC 3011 §3: "Servers configured to support this option MUST return an identical
        // copy of the option to any client that sends it" \[checked\]. Kea copies 61, 82 and
        // 118 into every response when the exchange starts (`copyDefaultOptions`), so a NAK
        // or a subnet-less INFORM ACK carries them too.
        if let Some(sel) = q.option(118) {
            set.set(118, sel, RANK_REQUIRED);
        }
        // Kea: "Adding any other options makes sense only when we got the lease" (or for an
        // INFORM with a subnet).
        if !plan.bare && plan.kind != ReplyKind::Nak {
            if !plan.yiaddr.is_unspecified() {
                // RFC 2131 Table 3: OFFER/ACK "MUST" carry 51; Kea adds the mask (1).
                set.set(51, &lifetime, RANK_REQUIRED);
                set.set(1, &mask, RANK_REQUIRED);
                if let Some(t) = t1.as_ref() {
                    set.set(58, t, RANK_REQUIRED);
                }
                if let Some(t) = t2.as_ref() {
                    set.set(59, t, RANK_REQUIRED);
                }
            }
            let prl = q.option(55).unwrap_or(&[]);
            // Option 12 or 81 (Kea 2.2 `processClientName`; see client_name.rs).
            if let Some((code, payload)) = plan.name_option {
                set.set(code, payload, RANK_REQUIRED);
            }
            self.add_configured_options(ctx, plan, prl, &mut set);
            // kea-options.md §4.2 step 5: vendor sub-options (125), for replies with a
            // subnet (Kea `appendRequestedVendorOptions`).
            if plan.subnet.is_some() {
                let built = vendor::build(
                    &self.config,
                    || self.option_sources(ctx, plan),
                    q.option(125),
                    set.get(125),
                    &mut vivso,
                );
                if let Some(n) = built {
                    let rank = prl
                        .iter()
                        .position(|&c| c == 125)
                        .and_then(|i| u16::try_from(i).ok())
                        .map_or(RANK_ALWAYS_SEND, |i| {
                            RANK_PRL.saturating_add(i).min(RANK_ALWAYS_SEND - 1)
                        });
                    set.set(125, vivso.get(..n).unwrap_or(&[]), rank);
                }
            }
        }

        // Header (§3).
        let relay_direct = adjust.reply_directly;
        let hops = if relay_direct { 0 } else { q.header().hops() };
        let giaddr = if relay_direct {
            Ipv4Addr::UNSPECIFIED
        } else {
            q.header().giaddr()
        };
        let mut flags = q.header().flags();
        if adjust.set_broadcast_flag {
            flags |= FLAG_BROADCAST;
        }
        let (siaddr, sname, file) = if plan.kind == ReplyKind::Nak || plan.bare {
            (Ipv4Addr::UNSPECIFIED, &[][..], &[][..])
        } else {
            self.boot_fields(ctx, plan)
        };
        let ciaddr = if plan.kind == ReplyKind::Nak || plan.kind == ReplyKind::Offer {
            Ipv4Addr::UNSPECIFIED
        } else {
            plan.ciaddr
        };
        reply::write_header(
            out,
            q,
            hops,
            flags,
            ciaddr,
            plan.yiaddr,
            siaddr,
            giaddr,
            sname,
            file,
        )
        .ok_or(DropReason::ReplyBufferTooSmall)?;
        let limit = reply::max_message_size(q.max_message_size()).min(out.len());
        let budget = limit.saturating_sub(bootp::MIN_LEN);
        if !set.shrink_to(budget) {
            return Err(DropReason::ReplyBufferTooSmall);
        }
        let opts = out
            .get_mut(bootp::MIN_LEN..)
            .ok_or(DropReason::ReplyBufferTooSmall)?;
        let n = set.emit(opts).ok_or(DropReason::ReplyBufferTooSmall)?;
        Ok((bootp::MIN_LEN + n, dest))
    }

    /// kea-options.md §4.2: requested codes (PRL order) plus `always-send` codes, each from
    /// the first source that defines it, then the basic set {3, 6, 15} if configured.
    fn add_configured_options<'o>(
        &self,
        ctx: &Ctx<'_, '_>,
        plan: &ReplyPlan<'_>,
        prl: &[u8],
        set: &mut OptionSet<'o>,
    ) where
        'a: 'o,
    {
        let first_value = |code: u8| -> Option<&'a [u8]> {
            self.option_sources(ctx, plan)
                .find_map(|r| self.find_option(r, code))
                .map(|o| self.config.bytes(o.payload))
        };
        for (i, &code) in prl.iter().enumerate() {
            if server_owned(code) || set.contains(code) {
                continue;
            }
            if let Some(v) = first_value(code) {
                let rank = RANK_PRL.saturating_add(u16::try_from(i).unwrap_or(u16::MAX - RANK_PRL));
                set.offer(code, v, rank.min(RANK_ALWAYS_SEND - 1));
            }
        }
        for range in self.option_sources(ctx, plan) {
            let Some(list) = self.config.options.get(range.as_range()) else {
                continue;
            };
            for o in list
                .iter()
                .filter(|o| o.always_send && o.space == OptionSpace::Dhcp4)
            {
                if server_owned(o.code) || set.contains(o.code) {
                    continue;
                }
                if let Some(v) = first_value(o.code) {
                    set.offer(o.code, v, RANK_ALWAYS_SEND);
                }
            }
        }
        for code in BASIC_OPTIONS {
            if !set.contains(code) {
                if let Some(v) = first_value(code) {
                    set.offer(code, v, RANK_BASIC);
                }
            }
        }
    }

    /// siaddr / sname / file (kea-expressions.md §6.2): "Start with the subnet's value …
    /// the first class with a non-zero/non-empty value for that field overrides the subnet
    /// value. The host reservation's non-empty value overrides both."
    fn boot_fields(
        &self,
        ctx: &Ctx<'_, '_>,
        plan: &ReplyPlan<'_>,
    ) -> (Ipv4Addr, &'a [u8], &'a [u8]) {
        let config = &self.config;
        let params = plan
            .subnet
            .and_then(|s| config.subnets.get(s))
            .map_or(config.globals.params, |s| s.params);
        let mut siaddr = params.next_server;
        let mut sname = config.bytes(params.server_hostname);
        let mut file = config.bytes(params.boot_file_name);
        let mut class_siaddr = None;
        let mut class_sname: Option<&'a [u8]> = None;
        let mut class_file: Option<&'a [u8]> = None;
        for c in ctx
            .classes
            .configured()
            .filter_map(|c| config.classes.get(c))
        {
            if class_siaddr.is_none() {
                class_siaddr = c.next_server.filter(|a| !a.is_unspecified());
            }
            if class_sname.is_none() && !c.server_hostname.is_empty() {
                class_sname = Some(config.bytes(c.server_hostname));
            }
            if class_file.is_none() && !c.boot_file_name.is_empty() {
                class_file = Some(config.bytes(c.boot_file_name));
            }
        }
        siaddr = class_siaddr.or(siaddr);
        sname = class_sname.unwrap_or(sname);
        file = class_file.unwrap_or(file);
        if let Some(r) = plan.reservation.and_then(|r| config.reservations.get(r)) {
            if let Some(a) = r.next_server.filter(|a| !a.is_unspecified()) {
                siaddr = Some(a);
            }
            if !r.server_hostname.is_empty() {
                sname = config.bytes(r.server_hostname);
            }
            if !r.boot_file_name.is_empty() {
                file = config.bytes(r.boot_file_name);
            }
        }
        (siaddr.unwrap_or(Ipv4Addr::UNSPECIFIED), sname, file)
    }

    /// Stores `record` and reports it; the store comes first so a full table never reports
    /// a lease it does not hold.
    pub(crate) fn commit(
        &mut self,
        record: &LeaseRecord<'_>,
        sink: &mut dyn LeaseSink,
    ) -> Result<(), DropReason> {
        if record.is_removal() {
            self.leases.remove(record.address);
        } else {
            self.leases
                .put(record)
                .map_err(DropReason::LeaseStoreFailed)?;
        }
        sink.lease_changed(record);
        Ok(())
    }

    /// Removes the lease of `address`, reporting it as Kea's removal row ("the lease with
    /// `valid_lifetime = 0` (so `expire` = last cltt)").
    /// Returns the removed lease as it was (at `now`).
    pub(crate) fn remove_lease(
        &mut self,
        address: Ipv4Addr,
        now: Timestamp,
        sink: &mut dyn LeaseSink,
    ) -> Option<PriorLease> {
        let prior = match self.leases.by_address(address) {
            Some(old) => {
                sink.lease_changed(&LeaseRecord {
                    valid_lifetime: 0,
                    ..old
                });
                PriorLease::of(&old, now)
            }
            None => return None,
        };
        self.leases.remove(address);
        Some(prior)
    }

    /// The lease `address` holds now, as a [`PriorLease`].
    pub(crate) fn prior_lease(&self, address: Ipv4Addr, now: Timestamp) -> Option<PriorLease> {
        self.leases
            .by_address(address)
            .map(|l| PriorLease::of(&l, now))
    }

    /// Answers with a NAK (§3: only 53, 54, 61, 82; §7 destination).
    pub(crate) fn nak(
        &self,
        ctx: &Ctx<'_, '_>,
        reason: NakReason,
        subnet: Option<usize>,
        reply: &mut [u8],
    ) -> Outcome {
        let plan = ReplyPlan {
            kind: ReplyKind::Nak,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            allocation: None,
            subnet,
            reservation: None,
            lifetime: None,
            name_option: None,
            bare: false,
        };
        let subnet_id = subnet
            .and_then(|s| self.config.subnets.get(s))
            .map(|s| s.id);
        match self.build_reply(ctx, &plan, reply) {
            Ok((len, destination)) => Outcome::Reply {
                len,
                destination,
                kind: MessageType::Nak,
                summary: ctx.summary(Event::Nak(reason), None, subnet_id, 0),
            },
            Err(e) => Outcome::Drop(e),
        }
    }
}

/// The address the query was received on (Kea `appendServerID`: the query's local
/// address, or "the socket's bound address if the query was broadcast"): its IP destination
/// unless that is 255.255.255.255 (or unknown), else the interface's first address.
pub(crate) fn receiving_address(query: &Query<'_>) -> Ipv4Addr {
    if query.destination_ip != Ipv4Addr::BROADCAST && !query.destination_ip.is_unspecified() {
        return query.destination_ip;
    }
    query
        .interface
        .addresses
        .first()
        .copied()
        .unwrap_or(Ipv4Addr::UNSPECIFIED)
}
