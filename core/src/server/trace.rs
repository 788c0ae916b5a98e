//! Packet trace: what one query looked like on the wire and what the engine decided for it,
//! as one bounded line of text (issue 5, point 6: "one log line per packet that shows what
//! tcpdump -vvv would … and the decision").
//!
//! Two halves, both without allocation:
//! * [`DecisionRecord`]: a small fixed-size `Copy` record the engine fills as it decides
//!   (subnet chosen and by which rule, host reservation, classes, REQUEST state, address
//!   chosen and why). [`crate::server::Engine::decision`] hands it out after `handle`; the
//!   rest of the story (reply kind, NAK or drop reason) is the [`Outcome`].
//! * [`TraceLine`]: a [`core::fmt::Display`] over the query, the record, the outcome and the
//!   reply bytes; [`write_bounded`] writes it into a caller buffer and ends a line that does
//!   not fit with [`TRUNCATED_MARKER`].
//!
//! # Line format
//! ```text
//! recv DHCPREQUEST xid=0x1a2b3c4d chaddr=02:00:00:00:00:01 hops=1 secs=3 flags=0x0000
//!   ciaddr=0.0.0.0 giaddr=198.18.1.1 options: message-type=REQUEST
//!   requested-address=198.18.1.100 server-identifier=198.18.0.1
//!   parameter-request-list=[subnet-mask,routers] agent-options=[circuit-id=65:74:68:30]
//!   via=eth0 src=198.18.1.1:67
//! | decision: subnet=1 198.18.1.0/24 by=relay-giaddr(198.18.1.1) classes=[ALL,UNKNOWN]
//!   reservation=none state=selecting address=198.18.1.100(requested) result=ACK
//! | send DHCPACK xid=0x1a2b3c4d … yiaddr=198.18.1.100 … options: … to=198.18.1.1:67
//! ```
//! (one line; wrapped here). Options are named as Kea names them in `option-data`, without
//! the `dhcp-` prefix (`requested-address`, `parameter-request-list`, `client-identifier`);
//! values are decoded by the option's definition type where that is simple (addresses,
//! integers, booleans, text, option 82 sub-options, the request list), hex otherwise.
//! Text from the wire is escaped (`\xNN`), so a client cannot forge log lines.

use core::fmt::{self, Write};
use core::net::Ipv4Addr;

use crate::assign::address::{AddressSource, Allocation, NakReason, SilenceReason};
use crate::assign::subnet_select::SelectedBy;
use crate::config::Config;
use crate::option_def::{self, OptionType};
use crate::server::engine::{DropReason, Event, Outcome};
use crate::server::request::RequestState;
use crate::server::{message_name, MessageType, Query};
use crate::wire::bootp::{Packet, FLAG_BROADCAST, HTYPE_ETHERNET};
use crate::wire::options::OptionIter;
use crate::wire::relay_agent::RelayAgentInfo;

/// Configured classes a [`DecisionRecord`] names (more are counted, not named).
pub const TRACE_CLASSES: usize = 8;

/// What ends a line cut by [`write_bounded`].
pub const TRUNCATED_MARKER: &str = " …[truncated]";

/// Bytes of an opaque option value shown in hex before the rest is summarised.
const HEX_SHOWN: usize = 32;

/// The configured classes the packet was in (indices into `config.classes`), in
/// configuration order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassList {
    indices: [u16; TRACE_CLASSES],
    len: u8,
    /// Classes beyond [`TRACE_CLASSES`] (or with an index beyond `u16`).
    more: u16,
}

impl ClassList {
    /// Collects `classes` (indices into `config.classes`).
    pub fn collect(classes: impl Iterator<Item = usize>) -> Self {
        let mut list = ClassList::default();
        for c in classes {
            list.push(c);
        }
        list
    }

    /// Adds one class index.
    pub fn push(&mut self, class: usize) {
        match (
            self.indices.get_mut(usize::from(self.len)),
            u16::try_from(class),
        ) {
            (Some(slot), Ok(i)) => {
                *slot = i;
                self.len = self.len.saturating_add(1);
            }
            _ => self.more = self.more.saturating_add(1),
        }
    }

    /// The recorded indices.
    pub fn indices(&self) -> &[u16] {
        self.indices.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// How many classes did not fit.
    pub fn more(&self) -> u16 {
        self.more
    }
}

/// The address the engine chose and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChosenAddress {
    /// The address (yiaddr of the OFFER/ACK).
    pub address: Ipv4Addr,
    /// Why this one.
    pub source: AddressSource,
    /// Index into `config.subnets` of the subnet it belongs to (another member of the
    /// shared network than the selected subnet when the selected one had nothing).
    pub subnet: u32,
    /// The client's previous lease, which an ACK moves away from.
    pub previous: Option<Ipv4Addr>,
}

/// What the engine decided for one query, filled as it decides (fixed size, `Copy`, no
/// borrow: indices refer to the [`Config`] the engine ran with). Fields stay `None` for the
/// steps the query never reached (a packet dropped while being read has only defaults).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecisionRecord {
    /// The rule subnet selection applied (`None`: selection did not run).
    pub selection: Option<SelectedBy>,
    /// Index into `config.subnets` of the selected subnet.
    pub subnet: Option<u32>,
    /// Whether the host lookup ran (`Some`) and found a reservation (`Some(true)`).
    pub known: Option<bool>,
    /// Index into `config.reservations` of the client's reservation in the selected subnet.
    pub reservation: Option<u32>,
    /// Configured classes the packet is in (recorded only when the engine was asked to,
    /// [`crate::server::Engine::with_trace`]).
    pub classes: Option<ClassList>,
    /// The client state a REQUEST comes from (RFC 2131 §4.3.2).
    pub request_state: Option<RequestState>,
    /// The address chosen for an OFFER or an ACK.
    pub chosen: Option<ChosenAddress>,
}

impl DecisionRecord {
    /// A record with nothing decided yet.
    pub const EMPTY: DecisionRecord = DecisionRecord {
        selection: None,
        subnet: None,
        known: None,
        reservation: None,
        classes: None,
        request_state: None,
        chosen: None,
    };

    /// Records the allocation an OFFER or ACK carries.
    pub fn choose(&mut self, allocation: &Allocation) {
        self.chosen = Some(ChosenAddress {
            address: allocation.address,
            source: allocation.source,
            subnet: index_u32(allocation.subnet),
            previous: allocation.previous,
        });
    }
}

/// An index as stored in a [`DecisionRecord`] (saturating: configs never get near).
pub(crate) fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

// ===================================================================================
// Bounded writing
// ===================================================================================

/// A [`fmt::Write`] into a caller buffer that keeps what fits and remembers that something
/// did not.
#[derive(Debug)]
pub struct BoundedWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    truncated: bool,
}

impl<'b> BoundedWriter<'b> {
    /// Writes into `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        BoundedWriter {
            buf,
            len: 0,
            truncated: false,
        }
    }

    /// Bytes written so far (always whole UTF-8 characters).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether some text did not fit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Ends the text: when something did not fit, the tail is replaced by
    /// [`TRUNCATED_MARKER`] (cut on a character boundary). Returns the length.
    pub fn finish(self) -> usize {
        if !self.truncated {
            return self.len;
        }
        let marker = TRUNCATED_MARKER.as_bytes();
        let Some(mut keep) = self.buf.len().checked_sub(marker.len()) else {
            // A buffer shorter than the marker: as much of the marker as fits.
            let n = self.buf.len();
            if let (Some(dst), Some(src)) = (self.buf.get_mut(..n), marker.get(..n)) {
                dst.copy_from_slice(src);
            }
            return n;
        };
        keep = keep.min(self.len);
        // Back up to a character boundary (continuation bytes are 0b10xx_xxxx).
        while keep > 0 && self.buf.get(keep).is_some_and(|b| b & 0xc0 == 0x80) {
            keep -= 1;
        }
        let end = keep + marker.len();
        if let Some(dst) = self.buf.get_mut(keep..end) {
            dst.copy_from_slice(marker);
        }
        end
    }
}

impl Write for BoundedWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Ok(());
        }
        let room = self.buf.len().saturating_sub(self.len);
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        if take < s.len() {
            self.truncated = true;
        }
        if let (Some(dst), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dst.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

/// Writes `text` into `buf`, cut with [`TRUNCATED_MARKER`] when it does not fit; returns
/// the length written (valid UTF-8).
pub fn write_bounded(buf: &mut [u8], text: &dyn fmt::Display) -> usize {
    let mut w = BoundedWriter::new(buf);
    let _ = write!(w, "{text}");
    w.finish()
}

// ===================================================================================
// Packets as text
// ===================================================================================

/// Bytes as lowercase hex joined by `:` (Kea's hardware address form).
#[derive(Clone, Copy, Debug)]
pub struct HexBytes<'a>(pub &'a [u8]);

impl fmt::Display for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_char(':')?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Hex of at most [`HEX_SHOWN`] bytes, then `…(N bytes)`.
struct ShortHex<'a>(&'a [u8]);

impl fmt::Display for ShortHex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.get(..HEX_SHOWN) {
            Some(head) if self.0.len() > HEX_SHOWN => {
                write!(f, "{}…({} bytes)", HexBytes(head), self.0.len())
            }
            _ => write!(f, "{}", HexBytes(self.0)),
        }
    }
}

/// Text from the wire in double quotes: printable ASCII as is, everything else (control
/// characters, `"`, `\`, non-ASCII bytes) as `\xNN`.
struct Quoted<'a>(&'a [u8]);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for &b in self.0 {
            if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
                f.write_char(char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_char('"')
    }
}

/// The name a trace gives option `code`: Kea's name without the `dhcp-` prefix, or
/// `option-N` for a code Kea does not define.
fn option_name(code: u8) -> OptionName {
    OptionName(code)
}

struct OptionName(u8);

impl fmt::Display for OptionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match option_def::by_code(self.0) {
            Some(def) => f.write_str(def.name.strip_prefix("dhcp-").unwrap_or(def.name)),
            None => write!(f, "option-{}", self.0),
        }
    }
}

/// Short message type names for option 53 (`DISCOVER`, …).
fn short_type(code: u8) -> ShortType {
    ShortType(code)
}

struct ShortType(u8);

impl fmt::Display for ShortType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match MessageType::from(self.0) {
            MessageType::Unknown(n) => write!(f, "{n}"),
            t => f.write_str(message_name(t).strip_prefix("DHCP").unwrap_or("?")),
        }
    }
}

/// Names of option 82 sub-options (RFC 3046 §2.0, RFC 3527, RFC 5107, RFC 8357).
fn agent_sub_option_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "circuit-id",
        2 => "remote-id",
        5 => "link-selection",
        6 => "subscriber-id",
        11 => "server-id-override",
        12 => "relay-id",
        19 => "relay-port",
        _ => return None,
    })
}

/// One option value, decoded by its definition where simple.
struct OptionValueText<'a> {
    code: u8,
    data: &'a [u8],
}

impl fmt::Display for OptionValueText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.data;
        match self.code {
            53 => {
                if let [t] = data {
                    return write!(f, "{}", short_type(*t));
                }
            }
            55 => {
                f.write_char('[')?;
                for (i, &c) in data.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{}", option_name(c))?;
                }
                return f.write_char(']');
            }
            82 => return agent_options(f, data),
            81 if data.len() >= 3 => {
                // RFC 4702 §2: flags, two deprecated RCODEs, then the name.
                let (flags, name) = (data.first().copied().unwrap_or(0), data.get(3..));
                write!(f, "flags=0x{flags:02x},name=")?;
                return domain(f, name.unwrap_or(&[]), flags & 0x04 != 0);
            }
            _ => {}
        }
        let Some(def) = option_def::by_code(self.code) else {
            return write!(f, "{}", ShortHex(data));
        };
        let kind = def.kind;
        let each = |size: usize| {
            !data.is_empty()
                && data.len().is_multiple_of(size)
                && (kind.is_array() || data.len() == size)
        };
        match kind.value_type() {
            OptionType::Ipv4Address if each(4) => {
                for (i, chunk) in data.chunks_exact(4).enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    let mut a = [0u8; 4];
                    a.copy_from_slice(chunk);
                    write!(f, "{}", Ipv4Addr::from(a))?;
                }
                Ok(())
            }
            OptionType::Uint8 if each(1) => unsigned(f, data, 1),
            OptionType::Uint16 if each(2) => unsigned(f, data, 2),
            OptionType::Uint32 if each(4) => unsigned(f, data, 4),
            OptionType::Int32 if each(4) => {
                let v = i32::from_be_bytes([
                    data.first().copied().unwrap_or(0),
                    data.get(1).copied().unwrap_or(0),
                    data.get(2).copied().unwrap_or(0),
                    data.get(3).copied().unwrap_or(0),
                ]);
                write!(f, "{v}")
            }
            OptionType::Boolean if each(1) => f.write_str(if data.first() == Some(&0) {
                "false"
            } else {
                "true"
            }),
            OptionType::String => write!(f, "{}", Quoted(data)),
            OptionType::Fqdn => domain(f, data, true),
            OptionType::Empty if data.is_empty() => f.write_str("(empty)"),
            _ => write!(f, "{}", ShortHex(data)),
        }
    }
}

/// Big-endian unsigned integers of `size` bytes, comma separated.
fn unsigned(f: &mut fmt::Formatter<'_>, data: &[u8], size: usize) -> fmt::Result {
    for (i, chunk) in data.chunks_exact(size).enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        let value = chunk.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        write!(f, "{value}")?;
    }
    Ok(())
}

/// A domain name: DNS wire format (length-prefixed labels, RFC 1035 §3.1) when `wire`, else
/// ASCII text. A malformed wire name ends in `…`.
fn domain(f: &mut fmt::Formatter<'_>, data: &[u8], wire: bool) -> fmt::Result {
    if !wire {
        return write!(f, "{}", Quoted(data));
    }
    f.write_char('"')?;
    let mut rest = data;
    let mut first = true;
    while let Some((&len, tail)) = rest.split_first() {
        if len == 0 {
            break;
        }
        let Some(label) = tail.get(..usize::from(len)) else {
            f.write_str("…")?;
            break;
        };
        if !first {
            f.write_char('.')?;
        }
        first = false;
        let quoted = Quoted(label);
        // Strip Quoted's own quotes by writing the label bytes the same way.
        let mut inner = Inner(f);
        write!(inner, "{quoted}")?;
        rest = tail.get(usize::from(len)..).unwrap_or(&[]);
    }
    f.write_char('"')
}

/// Writes through to a formatter, dropping `"` characters (used to nest [`Quoted`]).
struct Inner<'f, 'g>(&'f mut fmt::Formatter<'g>);

impl Write for Inner<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for part in s.split('"') {
            self.0.write_str(part)?;
        }
        Ok(())
    }
}

/// Option 82 as `[circuit-id=…,remote-id=…,link-selection=a.b.c.d,…]`.
fn agent_options(f: &mut fmt::Formatter<'_>, data: &[u8]) -> fmt::Result {
    let info = RelayAgentInfo::new(data);
    f.write_char('[')?;
    let mut subs = info.sub_options();
    let mut first = true;
    for sub in subs.by_ref() {
        if !first {
            f.write_char(',')?;
        }
        first = false;
        match agent_sub_option_name(sub.code) {
            Some(name) => f.write_str(name)?,
            None => write!(f, "sub-{}", sub.code)?,
        }
        f.write_char('=')?;
        match (sub.code, <[u8; 4]>::try_from(sub.data)) {
            (5 | 11, Ok(a)) => write!(f, "{}", Ipv4Addr::from(a))?,
            _ => write!(f, "{}", ShortHex(sub.data))?,
        }
    }
    if subs.truncated() {
        f.write_str(if first { "truncated" } else { ",truncated" })?;
    }
    f.write_char(']')
}

/// A DHCP message (query or reply) as tcpdump -vvv shows it, on one line: type, xid,
/// header fields, then every option of the options area by name.
#[derive(Clone, Copy, Debug)]
pub struct PacketText<'a>(pub &'a [u8]);

impl fmt::Display for PacketText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let packet = match Packet::new_checked(self.0) {
            Ok(p) => p,
            Err(e) => {
                write!(f, "malformed BOOTP message ({} bytes: {e:?})", self.0.len())?;
                if let Some(xid) = self.0.get(4..8) {
                    write!(f, " xid=0x{}", HexRun(xid))?;
                }
                return Ok(());
            }
        };
        let reply = packet.op() == crate::wire::bootp::OP_BOOTREPLY;
        let options = packet.options();
        let kind = OptionIter::new(options)
            .find(|o| o.code == 53)
            .and_then(|o| o.data.first().copied());
        match kind {
            Some(t) => match MessageType::from(t) {
                MessageType::Unknown(n) => write!(f, "DHCP type {n}")?,
                t => f.write_str(message_name(t))?,
            },
            None => f.write_str(if reply { "BOOTREPLY" } else { "BOOTREQUEST" })?,
        }
        write!(
            f,
            " xid=0x{:08x} chaddr={}",
            packet.xid(),
            HexBytes(packet.chaddr())
        )?;
        if packet.htype() != HTYPE_ETHERNET {
            write!(f, " htype={}", packet.htype())?;
        }
        let flags = packet.flags();
        write!(
            f,
            " hops={} secs={} flags=0x{flags:04x}",
            packet.hops(),
            packet.secs()
        )?;
        if flags & FLAG_BROADCAST != 0 {
            f.write_str("(broadcast)")?;
        }
        write!(f, " ciaddr={}", packet.ciaddr())?;
        if reply || !packet.yiaddr().is_unspecified() {
            write!(f, " yiaddr={}", packet.yiaddr())?;
        }
        if !packet.siaddr().is_unspecified() {
            write!(f, " siaddr={}", packet.siaddr())?;
        }
        write!(f, " giaddr={}", packet.giaddr())?;
        for (name, field) in [("sname", packet.sname()), ("file", packet.file())] {
            let text = field.split(|&b| b == 0).next().unwrap_or(&[]);
            if !text.is_empty() {
                write!(f, " {name}={}", Quoted(text))?;
            }
        }
        f.write_str(" options:")?;
        let mut iter = OptionIter::new(options);
        for o in iter.by_ref() {
            write!(
                f,
                " {}={}",
                option_name(o.code),
                OptionValueText {
                    code: o.code,
                    data: o.data
                }
            )?;
        }
        match iter.stop() {
            crate::wire::options::Stop::Truncated { code, len } => {
                write!(f, " [option {code} claims {len} bytes past the end]")
            }
            crate::wire::options::Stop::MissingLength { code } => {
                write!(f, " [option {code} has no length byte]")
            }
            _ => Ok(()),
        }
    }
}

/// Bytes as contiguous hex.
struct HexRun<'a>(&'a [u8]);

impl fmt::Display for HexRun<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

// ===================================================================================
// The decision as text
// ===================================================================================

impl fmt::Display for SelectedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectedBy::LinkSelection(a) => write!(f, "link-selection(82.5 {a})"),
            SelectedBy::SubnetSelection(a) => write!(f, "subnet-selection(118 {a})"),
            SelectedBy::RelayAddress(a) => write!(f, "relay-ip-addresses(giaddr {a})"),
            SelectedBy::Giaddr(a) => write!(f, "relay-giaddr({a})"),
            SelectedBy::Ciaddr(a) => write!(f, "ciaddr({a})"),
            SelectedBy::SourceAddress(a) => write!(f, "source-address({a})"),
            SelectedBy::InterfaceName => f.write_str("interface-name"),
            SelectedBy::InterfaceAddress(a) => write!(f, "interface-address({a})"),
            SelectedBy::NoInterfaceAddress => f.write_str("interface-without-address"),
        }
    }
}

/// Why an address was chosen, in a trace's words.
pub fn source_text(source: AddressSource) -> &'static str {
    match source {
        AddressSource::CurrentLease => "previous-lease",
        AddressSource::Reservation => "reserved",
        AddressSource::Requested => "requested",
        AddressSource::FreePool => "allocated",
    }
}

/// Why a REQUEST was refused.
pub fn nak_text(reason: NakReason) -> &'static str {
    match reason {
        NakReason::ReservedForAnother => "requested address is reserved for another client",
        NakReason::LeasedToAnother => "requested address is leased to another client",
        NakReason::ClientHasOtherReservation => "client has a reservation for another address",
        NakReason::PoolNotAllowed => {
            "requested address is in a pool the client's classes may not use"
        }
        NakReason::LeaseMismatch => "INIT-REBOOT for another address than the client's lease",
        NakReason::NoLease => "INIT-REBOOT from a client without a lease (authoritative)",
        NakReason::NoSubnet => "no subnet for the request (wrong network)",
    }
}

/// Why a query got no reply.
pub fn drop_text(reason: DropReason) -> &'static str {
    match reason {
        DropReason::ParseFailed(crate::server::accept::ParseError::TooShort) => {
            "shorter than a BOOTP header"
        }
        DropReason::ParseFailed(crate::server::accept::ParseError::HardwareAddressTooLong) => {
            "hlen larger than 20"
        }
        DropReason::ParseFailed(crate::server::accept::ParseError::NotARequest) => {
            "op is not BOOTREQUEST"
        }
        DropReason::BootpNotSupported => "BOOTP (no magic cookie or no message type)",
        DropReason::UnknownMessageType(_) => "message type a server does not answer",
        DropReason::NotForUs => "server-identifier names another server",
        DropReason::DiscoverWithServerId => "DISCOVER carrying a server-identifier",
        DropReason::NoClientIdentity => "no chaddr and no client-identifier",
        DropReason::BadClientId => "client-identifier shorter than 2 bytes",
        DropReason::DirectBroadcastNoSubnet => "direct broadcast on an interface no subnet serves",
        DropReason::NoSubnet => "no subnet for the client",
        DropReason::AllocationFailed => "no address available (pools exhausted)",
        DropReason::Silence(SilenceReason::AddressNotInPool) => {
            "requested address is in no pool of the client's network (not authoritative for it)"
        }
        DropReason::Silence(SilenceReason::UnknownClient) => {
            "INIT-REBOOT from a client without a lease (authoritative: false)"
        }
        DropReason::DeclineWithoutAddress => "DECLINE without requested-address",
        DropReason::DropClass => "packet is in class DROP",
        DropReason::LeaseStoreFailed(crate::assign::StoreError::Full) => "lease table full",
        DropReason::LeaseStoreFailed(crate::assign::StoreError::FieldTooLong) => {
            "lease field too long to store"
        }
        DropReason::ReplyBufferTooSmall => "reply does not fit the buffer",
    }
}

fn state_text(state: RequestState) -> &'static str {
    match state {
        RequestState::Selecting => "selecting",
        RequestState::InitReboot => "init-reboot",
        RequestState::Renewing => "renewing",
        RequestState::Rebinding => "rebinding",
        RequestState::NoAddress => "no-address",
    }
}

/// The decision part of a trace line: subnet and why, classes, reservation, REQUEST state,
/// address and why, result.
#[derive(Clone, Copy)]
pub struct DecisionText<'a> {
    /// What the engine recorded.
    pub record: &'a DecisionRecord,
    /// What it answered.
    pub outcome: &'a Outcome,
    /// The configuration it ran with (names, ids and prefixes of the record's indices).
    pub config: &'a Config<'a>,
    /// The query's option 60 (trailing NULs stripped), for the built-in class
    /// `VENDOR_CLASS_<option 60>`; empty if absent.
    pub vendor_class: &'a [u8],
}

/// Option 60 of `payload` as the engine classifies it: trailing NULs stripped, empty if
/// absent (kea-expressions.md §5: the packet joins `VENDOR_CLASS_<option 60>`).
pub fn vendor_class_of(payload: &[u8]) -> &[u8] {
    let Ok(packet) = Packet::new_checked(payload) else {
        return &[];
    };
    let mut value = OptionIter::new(packet.options())
        .find(|o| o.code == 60)
        .map_or(&[][..], |o| o.data);
    while let [rest @ .., 0] = value {
        value = rest;
    }
    value
}

impl fmt::Display for DecisionText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = self.config;
        let r = self.record;
        let mut sep = "";
        let mut field = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            let s = sep;
            sep = " ";
            f.write_str(s)
        };
        if let Some(by) = r.selection {
            field(f)?;
            match r.subnet.and_then(|s| config.subnets.get(s as usize)) {
                Some(s) => write!(
                    f,
                    "subnet={} {}/{} by={by}",
                    s.id, s.prefix.address, s.prefix.len
                )?,
                None => write!(f, "subnet=none by={by}")?,
            }
        }
        if let Some(classes) = r.classes {
            field(f)?;
            f.write_str("classes=[ALL")?;
            match r.known {
                Some(true) => f.write_str(",KNOWN")?,
                Some(false) => f.write_str(",UNKNOWN")?,
                None => {}
            }
            let vendor = (!self.vendor_class.is_empty()).then_some(self.vendor_class);
            if let Some(v) = vendor {
                write!(f, ",VENDOR_CLASS_{}", Escaped(v))?;
            }
            for &i in classes.indices() {
                if let Some(c) = config.classes.get(usize::from(i)) {
                    let name = config.bytes(c.name);
                    let builtin = matches!(name, b"ALL" | b"KNOWN" | b"UNKNOWN")
                        || vendor.is_some_and(|v| name.strip_prefix(b"VENDOR_CLASS_") == Some(v));
                    if !builtin {
                        write!(f, ",{}", Escaped(name))?;
                    }
                }
            }
            if classes.more() > 0 {
                write!(f, ",+{} more", classes.more())?;
            }
            f.write_char(']')?;
        }
        if r.known.is_some() {
            field(f)?;
            match r
                .reservation
                .and_then(|i| config.reservations.get(i as usize))
            {
                Some(h) => {
                    write!(f, "reservation={}", h.identifier_type.keyword())?;
                    if let Some(a) = h.address {
                        write!(f, "({a})")?;
                    }
                    if !h.hostname.is_empty() {
                        write!(f, " hostname={}", Escaped(config.bytes(h.hostname)))?;
                    }
                }
                None => f.write_str("reservation=none")?,
            }
        }
        if let Some(state) = r.request_state {
            field(f)?;
            write!(f, "state={}", state_text(state))?;
        }
        if let Some(c) = r.chosen {
            field(f)?;
            write!(f, "address={}({})", c.address, source_text(c.source))?;
            if r.subnet != Some(c.subnet) {
                if let Some(s) = config.subnets.get(c.subnet as usize) {
                    let network = s
                        .shared_network
                        .and_then(|n| config.shared_networks.get(n as usize))
                        .map_or(&[][..], |n| config.bytes(n.name));
                    write!(
                        f,
                        " from-subnet={} {}/{} (shared-network {} fallback)",
                        s.id,
                        s.prefix.address,
                        s.prefix.len,
                        Escaped(network)
                    )?;
                }
            }
            if let Some(p) = c.previous {
                write!(f, " moved-from={p}")?;
            }
        }
        field(f)?;
        match self.outcome {
            Outcome::Reply { summary, kind, .. } => match summary.event {
                Event::Nak(reason) => write!(f, "result=NAK ({})", nak_text(reason)),
                Event::Informed => f.write_str("result=ACK (inform)"),
                _ => write!(
                    f,
                    "result={} lifetime={}",
                    short_type(u8::from(*kind)),
                    summary.lifetime
                ),
            },
            Outcome::Done(summary) => {
                let what = match summary.event {
                    Event::Released => "released",
                    Event::ReleaseIgnored => "release ignored (no such lease of this client)",
                    Event::Declined => "declined (address in probation)",
                    Event::DeclineIgnored => "decline ignored (no such lease of this client)",
                    _ => "done",
                };
                write!(f, "result={what}")?;
                if let Some(a) = summary.address {
                    write!(f, " address={a}")?;
                }
                Ok(())
            }
            Outcome::Drop(reason) => write!(f, "result=drop ({})", drop_text(*reason)),
        }
    }
}

/// A class or host name from the config: printable ASCII as is, the rest as `\xNN`.
struct Escaped<'a>(&'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut inner = Inner(f);
        write!(inner, "{}", Quoted(self.0))
    }
}

/// Where a query came from: `via=eth0 src=198.18.0.1:67 dst=255.255.255.255`.
#[derive(Clone, Copy)]
pub struct ArrivalText<'a>(pub &'a Query<'a>);

impl fmt::Display for ArrivalText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.0;
        write!(
            f,
            "via={} src={}:{} dst={}",
            Escaped(q.interface.name.as_bytes()),
            q.source_ip,
            q.source_port,
            q.destination_ip
        )
    }
}

/// One whole trace line (without a log prefix): `recv <query> <arrival> | decision: …`
/// and, for a reply, `| send <reply> to=ip:port`.
#[derive(Clone, Copy)]
pub struct TraceLine<'a> {
    /// The query as received.
    pub query: &'a Query<'a>,
    /// What the engine recorded while deciding.
    pub record: &'a DecisionRecord,
    /// The engine's answer.
    pub outcome: &'a Outcome,
    /// The reply buffer the engine wrote into (only `..len` of a reply is read).
    pub reply: &'a [u8],
    /// The configuration the engine ran with.
    pub config: &'a Config<'a>,
}

impl fmt::Display for TraceLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recv {} {} | decision: {}",
            PacketText(self.query.payload),
            ArrivalText(self.query),
            DecisionText {
                record: self.record,
                outcome: self.outcome,
                config: self.config,
                vendor_class: vendor_class_of(self.query.payload),
            }
        )?;
        if let Outcome::Reply {
            len, destination, ..
        } = self.outcome
        {
            let reply = self.reply.get(..*len).unwrap_or(&[]);
            write!(
                f,
                " | send {} to={}:{}{}",
                PacketText(reply),
                destination.ip,
                destination.port,
                if destination.raw_frame { " (raw)" } else { "" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::fixture::*;
    use crate::assign::store::{ArrayLeaseStore, StoredLease};
    use crate::config::IdentifierType;
    use crate::lease::LeaseRecord;
    use crate::server::{Engine, Interface, LeaseSink, Transport};
    use crate::time::Timestamp;
    use std::string::String;
    use std::vec::Vec;

    const CLIENT: [u8; 6] = [0x02, 0x57, 0x52, 0, 0, 7];
    const SERVER: [Ipv4Addr; 1] = [Ipv4Addr::new(198, 18, 1, 1)];
    const RELAY: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 254);

    struct NoSink;
    impl LeaseSink for NoSink {
        fn lease_changed(&mut self, _: &LeaseRecord<'_>) {}
    }

    /// A BOOTREQUEST from `CLIENT`: xid 0x1a2b3c4d, secs 3, then `options` and END.
    fn packet(ciaddr: Ipv4Addr, giaddr: Ipv4Addr, flags: u16, options: &[u8]) -> Vec<u8> {
        let mut p = std::vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[3] = u8::from(!giaddr.is_unspecified());
        p[4..8].copy_from_slice(&0x1a2b_3c4d_u32.to_be_bytes());
        p[8..10].copy_from_slice(&3u16.to_be_bytes());
        p[10..12].copy_from_slice(&flags.to_be_bytes());
        p[12..16].copy_from_slice(&ciaddr.octets());
        p[24..28].copy_from_slice(&giaddr.octets());
        p[28..34].copy_from_slice(&CLIENT);
        p[236..240].copy_from_slice(&[99, 130, 83, 99]);
        p.extend_from_slice(options);
        p.push(255);
        p
    }

    fn query<'a>(payload: &'a [u8], interface: &'a str) -> Query<'a> {
        Query {
            payload,
            interface: Interface {
                name: interface,
                addresses: &SERVER,
                mac: [2, 0, 0, 0, 0, 1],
            },
            source_ip: Ipv4Addr::UNSPECIFIED,
            source_port: 68,
            destination_ip: Ipv4Addr::BROADCAST,
            source_mac: CLIENT,
            transport: Transport::Raw,
        }
    }

    fn relayed(payload: &[u8]) -> Query<'_> {
        Query {
            source_ip: RELAY,
            source_port: 67,
            destination_ip: SERVER[0],
            ..query(payload, "eth0")
        }
    }

    /// Runs `q` through an engine over `fixture` with the trace on; returns the record, the
    /// outcome and the whole trace line.
    fn trace(fixture: &mut Fixture, q: &Query<'_>) -> (DecisionRecord, Outcome, String) {
        let config = fixture.config();
        let mut slots = std::vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        let mut cursors = std::vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()];
        let mut engine = Engine::new(&config, &mut store, &mut cursors).with_trace(true);
        let mut reply = [0u8; 1500];
        let outcome = engine.handle(q, Timestamp(1_800_000_000), &mut reply, &mut NoSink);
        let record = *engine.decision();
        let mut buf = [0u8; 2048];
        let line = TraceLine {
            query: q,
            record: &record,
            outcome: &outcome,
            reply: &reply,
            config: &config,
        };
        let n = write_bounded(&mut buf, &line);
        let text = core::str::from_utf8(&buf[..n]).unwrap().into();
        (record, outcome, text)
    }

    fn has(line: &str, parts: &[&str]) {
        for p in parts {
            assert!(line.contains(p), "missing {p:?} in\n{line}");
        }
    }

    /// A relayed DISCOVER: header fields, options by name (82 decoded), the relay rule,
    /// the allocation and the OFFER sent back to the relay.
    #[test]
    fn relayed_discover_names_the_relay_rule_and_the_offer() {
        let mut f = Fixture::three_subnets();
        let opts = [
            53, 1, 1, // DISCOVER
            55, 4, 1, 3, 6, 224, // PRL with an unknown code
            61, 7, 1, 2, 0x57, 0x52, 0, 0, 7, // client-id
            12, 3, b'p', b'i', 0x07, // hostname with a control character
            82, 8, 1, 2, 0x65, 0x74, 2, 2, 0xab, 0xcd, // circuit-id, remote-id
        ];
        let p = packet(Ipv4Addr::UNSPECIFIED, RELAY, 0, &opts);
        let (record, outcome, line) = trace(&mut f, &relayed(&p));
        assert_eq!(record.selection, Some(SelectedBy::Giaddr(RELAY)));
        assert_eq!(record.subnet, Some(0));
        assert_eq!(
            record.chosen.map(|c| (c.address, c.source)),
            Some((Ipv4Addr::new(198, 18, 1, 100), AddressSource::FreePool))
        );
        assert!(matches!(outcome, Outcome::Reply { .. }));
        has(
            &line,
            &[
                "recv DHCPDISCOVER xid=0x1a2b3c4d chaddr=02:57:52:00:00:07 hops=1 secs=3 \
                 flags=0x0000 ciaddr=0.0.0.0 giaddr=198.18.1.254 options: message-type=DISCOVER \
                 parameter-request-list=[subnet-mask,routers,domain-name-servers,option-224] \
                 client-identifier=01:02:57:52:00:00:07 host-name=\"pi\\x07\" \
                 agent-options=[circuit-id=65:74,remote-id=ab:cd]",
                "via=eth0 src=198.18.1.254:67 dst=198.18.1.1",
                "| decision: subnet=1 198.18.1.0/24 by=relay-giaddr(198.18.1.254) \
                 classes=[ALL,UNKNOWN] reservation=none address=198.18.1.100(allocated) \
                 result=OFFER lifetime=",
                "| send DHCPOFFER xid=0x1a2b3c4d chaddr=02:57:52:00:00:07",
                "yiaddr=198.18.1.100",
                "giaddr=198.18.1.254",
                "options: message-type=OFFER subnet-mask=255.255.255.0",
                "server-identifier=198.18.1.1",
                "lease-time=",
                "agent-options=[circuit-id=65:74,remote-id=ab:cd] to=198.18.1.254:67",
            ],
        );
        assert!(!line.contains('\n'), "one line");
    }

    /// A reserved host: the reservation, KNOWN, a class from the reservation's vendor
    /// class, and the reserved address as the reason.
    #[test]
    fn reserved_host_shows_reservation_classes_and_reason() {
        let mut f = Fixture::three_subnets();
        f.reservation(
            Some(0),
            IdentifierType::HwAddress,
            &CLIENT,
            Some("198.18.1.150"),
            "kitchen-pi",
        );
        f.class("VENDOR_CLASS_wren");
        let opts = [53, 1, 1, 60, 4, b'w', b'r', b'e', b'n'];
        let p = packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0x8000, &opts);
        let (record, _, line) = trace(&mut f, &query(&p, "eth0"));
        assert_eq!(record.known, Some(true));
        assert_eq!(record.reservation, Some(0));
        assert_eq!(
            record.classes.map(|c| c.indices().to_vec()),
            Some(std::vec![0])
        );
        has(
            &line,
            &[
                "flags=0x8000(broadcast)",
                "vendor-class-identifier=\"wren\"",
                "subnet=1 198.18.1.0/24 by=interface-address(198.18.1.1)",
                "classes=[ALL,KNOWN,VENDOR_CLASS_wren]",
                "reservation=hw-address(198.18.1.150) hostname=kitchen-pi",
                "address=198.18.1.150(reserved)",
                "result=OFFER",
                "to=255.255.255.255:68 (raw)",
            ],
        );
    }

    /// The built-in `VENDOR_CLASS_<option 60>` is listed without being configured (trailing
    /// NULs stripped, as the engine classifies).
    #[test]
    fn built_in_vendor_class_is_listed() {
        let mut f = Fixture::three_subnets();
        let opts = [
            53, 1, 1, 60, 10, b'P', b'X', b'E', b'C', b'l', b'i', b'e', b'n', b't', 0,
        ];
        let p = packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, &opts);
        let (_, _, line) = trace(&mut f, &query(&p, "eth0"));
        has(
            &line,
            &[
                "vendor-class-identifier=\"PXEClient\\x00\"",
                "classes=[ALL,UNKNOWN,VENDOR_CLASS_PXEClient]",
            ],
        );
        assert_eq!(vendor_class_of(&p), b"PXEClient");
        assert_eq!(vendor_class_of(&p[..100]), b"");
    }

    /// A REQUEST relayed from a network no subnet serves is NAKed: the trace says which
    /// address selection looked for and why the NAK.
    #[test]
    fn nak_for_a_wrong_network_names_the_lookup_and_the_reason() {
        let mut f = Fixture::three_subnets();
        let elsewhere = Ipv4Addr::new(198, 19, 7, 1);
        let opts = [53, 1, 3, 50, 4, 198, 19, 7, 20];
        let p = packet(Ipv4Addr::UNSPECIFIED, elsewhere, 0, &opts);
        let q = Query {
            source_ip: elsewhere,
            ..relayed(&p)
        };
        let (record, outcome, line) = trace(&mut f, &q);
        assert_eq!(record.subnet, None);
        assert!(matches!(
            outcome,
            Outcome::Reply {
                kind: MessageType::Nak,
                ..
            }
        ));
        has(
            &line,
            &[
                "recv DHCPREQUEST",
                "requested-address=198.19.7.20",
                "decision: subnet=none by=relay-giaddr(198.19.7.1)",
                "result=NAK (no subnet for the request (wrong network))",
                "| send DHCPNAK",
                "to=198.19.7.1:67",
            ],
        );
    }

    /// INIT-REBOOT for an address the client has no lease for, authoritative: the REQUEST
    /// state and the NAK reason.
    #[test]
    fn init_reboot_nak_names_the_state() {
        let mut f = Fixture::three_subnets();
        f.subnets[0].params.authoritative = true;
        let opts = [53, 1, 3, 50, 4, 198, 18, 1, 120];
        let p = packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, &opts);
        let (record, _, line) = trace(&mut f, &query(&p, "eth0"));
        assert_eq!(record.request_state, Some(RequestState::InitReboot));
        has(
            &line,
            &[
                "state=init-reboot",
                "result=NAK (INIT-REBOOT from a client without a lease (authoritative))",
            ],
        );
    }

    /// Drops say why, at whatever step they happen.
    #[test]
    fn drop_reasons() {
        let mut f = Fixture::three_subnets();
        // DISCOVER with a server identifier: dropped before selection.
        let p = packet(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            0,
            &[53, 1, 1, 54, 4, 198, 18, 1, 1],
        );
        let (record, _, line) = trace(&mut f, &query(&p, "eth0"));
        assert_eq!(record, DecisionRecord::EMPTY);
        has(
            &line,
            &[
                "server-identifier=198.18.1.1",
                "| decision: result=drop (DISCOVER carrying a server-identifier)",
            ],
        );
        assert!(!line.contains("| send"));
        // A relayed DISCOVER from an unknown network: no subnet.
        let p = packet(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::new(198, 19, 0, 1),
            0,
            &[53, 1, 1],
        );
        let (_, _, line) = trace(&mut f, &relayed(&p));
        has(
            &line,
            &[
                "subnet=none by=relay-giaddr(198.19.0.1)",
                "result=drop (no subnet for the client)",
            ],
        );
        // A DISCOVER on an interface whose address no subnet holds.
        let p = packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, &[53, 1, 1]);
        let mut q = query(&p, "eth9");
        q.interface.addresses = &[];
        let (_, _, line) = trace(&mut f, &q);
        has(
            &line,
            &[
                "subnet=none by=interface-without-address",
                "result=drop (direct broadcast on an interface no subnet serves)",
            ],
        );
        // Not a DHCP message at all.
        let short = [1u8, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef, 0, 0];
        let (_, _, line) = trace(&mut f, &query(&short, "eth0"));
        has(
            &line,
            &[
                "recv malformed BOOTP message (10 bytes",
                "xid=0xdeadbeef",
                "result=drop (shorter than a BOOTP header)",
            ],
        );
        // BOOTP (no option 53).
        let p = packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, &[]);
        let (_, _, line) = trace(&mut f, &query(&p, "eth0"));
        has(
            &line,
            &[
                "recv BOOTREQUEST",
                "result=drop (BOOTP (no magic cookie or no message type))",
            ],
        );
    }

    /// Selected into a shared-network member without a pool, the address comes from
    /// another member: the trace says so.
    #[test]
    fn shared_network_fallback_is_named() {
        let mut f = Fixture::three_subnets();
        f.network("campus", 0..2);
        let p = packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, &[53, 1, 1]);
        let (record, _, line) = trace(&mut f, &query(&p, "ue1"));
        assert_eq!(record.subnet, Some(1));
        assert_eq!(record.chosen.map(|c| c.subnet), Some(0));
        has(
            &line,
            &[
                "subnet=2 198.18.2.0/24 by=interface-name",
                "address=198.18.1.100(allocated) from-subnet=1 198.18.1.0/24 \
                 (shared-network campus fallback)",
            ],
        );
    }

    /// Option values: integers, booleans, arrays, FQDN (81), wire-format names, opaque
    /// data cut after 32 bytes, a truncated option.
    #[test]
    fn option_values_are_decoded_by_definition() {
        let mut opts = std::vec![
            53, 1, 8, // INFORM
            57, 2, 0x05, 0xdc, // max size 1500
            19, 1, 1, // ip-forwarding
            3, 8, 198, 18, 1, 1, 198, 18, 1, 2, // routers (array)
            1, 3, 255, 255, 0, // subnet-mask with a bad length: hex
            81, 8, 0x05, 0, 0, 2, b'p', b'c', 2, b'l', // fqdn, wire format (E bit), cut
            119, 6, 4, b'w', b'r', b'e', b'n', 0, // domain-search (fqdn)
            250, 40,
        ];
        opts.extend(0..40u8);
        opts.extend([43, 200, 1]); // runs past the end
        let p = packet(
            Ipv4Addr::new(198, 18, 1, 9),
            Ipv4Addr::UNSPECIFIED,
            0,
            &opts,
        );
        let text = std::format!("{}", PacketText(&p[..p.len() - 1]));
        has(
            &text,
            &[
                "recv DHCPINFORM".trim_start_matches("recv "),
                "ciaddr=198.18.1.9",
                "max-message-size=1500",
                "ip-forwarding=true",
                "routers=198.18.1.1,198.18.1.2",
                "subnet-mask=ff:ff:00",
                "fqdn=flags=0x05,name=\"pc…\"",
                "domain-search=\"wren\"",
                "option-250=00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14:15:16:17:\
                 18:19:1a:1b:1c:1d:1e:1f…(40 bytes)",
                "[option 43 claims 200 bytes past the end]",
            ],
        );
        assert!(
            !text.contains("yiaddr"),
            "queries show yiaddr only when set"
        );
    }

    /// A line longer than the buffer ends in the marker, within the buffer, on a character
    /// boundary.
    #[test]
    fn long_lines_are_cut_with_a_marker() {
        let mut buf = [0u8; 64];
        let long = "x".repeat(200);
        let n = write_bounded(&mut buf, &long);
        let text = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(n <= 64);
        assert!(text.ends_with(TRUNCATED_MARKER), "{text}");
        assert!(text.starts_with("xxxx"));
        // Multi-byte characters are never split.
        let wide = "é".repeat(100);
        let n = write_bounded(&mut buf, &wide);
        let text = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.ends_with(TRUNCATED_MARKER));
        // A line that fits is untouched.
        let n = write_bounded(&mut buf, &"short");
        assert_eq!(&buf[..n], b"short");
        // A buffer smaller than the marker still gets what fits of it.
        let mut tiny = [0u8; 4];
        let n = write_bounded(&mut tiny, &long);
        assert_eq!(n, 4);
        // Options far beyond the buffer: a real packet line is cut the same way.
        let opts: Vec<u8> = (0..60).flat_map(|_| [3u8, 4, 198, 18, 1, 1]).collect();
        let p = packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, &opts);
        let mut line = [0u8; 300];
        let n = write_bounded(&mut line, &PacketText(&p));
        assert!(core::str::from_utf8(&line[..n])
            .unwrap()
            .ends_with(TRUNCATED_MARKER));
    }

    /// A required class (`only-if-required`, listed in the subnet's
    /// `require-client-classes`, as the founding user's "PXE Host") joins the list once the
    /// reply carries an address.
    #[test]
    fn required_classes_are_listed() {
        struct AllTrue;
        impl crate::server::ClassTests for AllTrue {
            fn test(
                &self,
                _: usize,
                _: &Query<'_>,
                _: &dyn crate::assign::subnet_select::Membership,
            ) -> bool {
                true
            }
            fn depends_on_known(&self, _: usize) -> bool {
                false
            }
        }
        let mut f = Fixture::three_subnets();
        let pxe = f.class("Legacy PXE");
        f.classes[pxe].test = f.text(b"option[93].hex == 0x0000");
        let host = f.class("PXE Host");
        f.classes[host].test = f.text(b"member('Legacy PXE')");
        f.classes[host].only_if_required = true;
        let name = f.text(b"PXE Host");
        f.names.push(name);
        f.subnets[0].require_client_classes = crate::config::IndexRange {
            start: (f.names.len() - 1) as u32,
            len: 1,
        };
        let config = f.config();
        let mut slots = std::vec![StoredLease::EMPTY; 8];
        let mut store = ArrayLeaseStore::new(&mut slots);
        let mut cursors = std::vec![Ipv4Addr::UNSPECIFIED; config.subnets.len()];
        let mut bits = [0u64; 1];
        let tests = AllTrue;
        let mut engine = Engine::new(&config, &mut store, &mut cursors)
            .with_class_tests(&tests, &mut bits)
            .with_trace(true);
        let p = packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED, 0, &[53, 1, 1]);
        let q = query(&p, "eth0");
        let mut reply = [0u8; 1500];
        let outcome = engine.handle(&q, Timestamp(1_800_000_000), &mut reply, &mut NoSink);
        let record = *engine.decision();
        assert_eq!(
            record.classes.map(|c| c.indices().to_vec()),
            Some(std::vec![0, 1])
        );
        let text = std::format!(
            "{}",
            DecisionText {
                record: &record,
                outcome: &outcome,
                config: &config,
                vendor_class: &[],
            }
        );
        has(&text, &["classes=[ALL,UNKNOWN,Legacy PXE,PXE Host]"]);
        // Without the trace, no class list is kept.
        let mut engine =
            Engine::new(&config, &mut store, &mut cursors).with_class_tests(&tests, &mut bits);
        engine.handle(&q, Timestamp(1_800_000_000), &mut reply, &mut NoSink);
        assert_eq!(engine.decision().classes, None);
    }

    #[test]
    fn class_list_counts_what_does_not_fit() {
        let list = ClassList::collect(0..(TRACE_CLASSES + 3));
        assert_eq!(list.indices().len(), TRACE_CLASSES);
        assert_eq!(list.more(), 3);
        let mut list = ClassList::default();
        list.push(usize::from(u16::MAX) + 1);
        assert_eq!((list.indices().len(), list.more()), (0, 1));
    }
}
