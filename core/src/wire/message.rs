//! A whole DHCP message: the parsed request ([`Message`]) and the reply emitter
//! ([`ReplyWriter`]).
//!
//! [`Message`] = checked header view + every option gathered by
//! [`ParsedOptions`] (RFC 3396 concatenation, option overload), with typed accessors for the
//! options the server reads. Malformed typed options (wrong length) read as absent.
//!
//! [`ReplyWriter`] writes a reply header derived from the request (dhcpv4-server-behaviour.md
//! §3) and then the options the caller staged, Kea-style: 53 first, then ascending codes, 82
//! last, END (kea-options.md §4.3), within a size limit (RFC 2131 §2, option 57), dropping
//! the lowest-priority optional options first.

use core::cmp::Reverse;
use core::net::Ipv4Addr;

use super::bootp::{self, Packet};
use super::options::{self, encoded_len, OptionWriter, ParsedOptions};
use super::relay_agent::RelayAgentInfo;

/// Option codes the message layer reads or writes by name (RFC 2132 and later).
pub mod code {
    /// Subnet mask (RFC 2132 §3.3).
    pub const SUBNET_MASK: u8 = 1;
    /// Routers (RFC 2132 §3.5).
    pub const ROUTERS: u8 = 3;
    /// Host name (RFC 2132 §3.14).
    pub const HOST_NAME: u8 = 12;
    /// Requested IP address (RFC 2132 §9.1).
    pub const REQUESTED_ADDRESS: u8 = 50;
    /// IP address lease time (RFC 2132 §9.2).
    pub const LEASE_TIME: u8 = 51;
    /// Option overload (RFC 2132 §9.3).
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type (RFC 2132 §9.6).
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier (RFC 2132 §9.7).
    pub const SERVER_IDENTIFIER: u8 = 54;
    /// Parameter request list (RFC 2132 §9.8).
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Message (RFC 2132 §9.9).
    pub const MESSAGE: u8 = 56;
    /// Maximum DHCP message size (RFC 2132 §9.10).
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// Renewal (T1) time (RFC 2132 §9.11).
    pub const RENEWAL_TIME: u8 = 58;
    /// Rebinding (T2) time (RFC 2132 §9.12).
    pub const REBINDING_TIME: u8 = 59;
    /// Vendor class identifier (RFC 2132 §9.13).
    pub const VENDOR_CLASS_IDENTIFIER: u8 = 60;
    /// Client identifier (RFC 2132 §9.14, RFC 4361).
    pub const CLIENT_IDENTIFIER: u8 = 61;
    /// User class (RFC 3004).
    pub const USER_CLASS: u8 = 77;
    /// Client FQDN (RFC 4702).
    pub const CLIENT_FQDN: u8 = 81;
    /// Relay agent information (RFC 3046).
    pub const RELAY_AGENT_INFORMATION: u8 = 82;
    /// Client system architecture (RFC 4578 §2.1).
    pub const CLIENT_SYSTEM: u8 = 93;
    /// Subnet selection (RFC 3011).
    pub const SUBNET_SELECTION: u8 = 118;
}

/// DHCP message type, option 53 (RFC 2132 §9.6). Unknown values survive a round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1
    Discover,
    /// 2
    Offer,
    /// 3
    Request,
    /// 4
    Decline,
    /// 5
    Ack,
    /// 6
    Nak,
    /// 7
    Release,
    /// 8
    Inform,
    /// Anything else (9+ are lease query, force renew, … which wren does not serve).
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(value: u8) -> Self {
        match value {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            8 => MessageType::Inform,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(value: MessageType) -> u8 {
        match value {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
            MessageType::Unknown(other) => other,
        }
    }
}

/// Why a message could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The fixed header or cookie is wrong.
    Header(bootp::Error),
    /// The options could not be gathered.
    Options(options::ParseError),
}

impl From<bootp::Error> for Error {
    fn from(e: bootp::Error) -> Self {
        Error::Header(e)
    }
}

impl From<options::ParseError> for Error {
    fn from(e: options::ParseError) -> Self {
        Error::Options(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Header(e) => e.fmt(f),
            Error::Options(e) => e.fmt(f),
        }
    }
}

/// Option 81, Client FQDN (RFC 4702 §2): flags, two deprecated rcodes, then the name
/// (DNS wire format when flag E is set, else ASCII).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientFqdn<'a> {
    /// Flags: bit 0 S, bit 1 O, bit 2 E, bit 3 N (RFC 4702 §2.1).
    pub flags: u8,
    /// RCODE1 (deprecated; 0 or 255).
    pub rcode1: u8,
    /// RCODE2 (deprecated; 0 or 255).
    pub rcode2: u8,
    /// The domain name bytes as sent.
    pub name: &'a [u8],
}

impl ClientFqdn<'_> {
    /// Flag S: the client asks the server to update the A record.
    pub const FLAG_S: u8 = 0x01;
    /// Flag O: the server overrode the client's S (server → client only).
    pub const FLAG_O: u8 = 0x02;
    /// Flag E: the name is in DNS wire format.
    pub const FLAG_E: u8 = 0x04;
    /// Flag N: no server updates.
    pub const FLAG_N: u8 = 0x08;
}

/// A parsed DHCP request: the checked header plus all its options.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    header: Packet<&'a [u8]>,
    options: ParsedOptions<'a>,
}

/// Drop trailing NULs from a string option; `None` when nothing is left (kea-options.md §4.3:
/// "Incoming string options have trailing NULs removed; an incoming string option that is
/// empty/only NULs is skipped").
fn trim_string(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().rposition(|&b| b != 0)? + 1;
    bytes.get(..end)
}

fn ipv4(bytes: &[u8]) -> Option<Ipv4Addr> {
    let octets: [u8; 4] = bytes.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

impl<'a> Message<'a> {
    /// Parse a UDP payload. `scratch` receives the concatenated option payloads; give at
    /// least `bytes.len()` bytes (always enough).
    pub fn parse(bytes: &'a [u8], scratch: &'a mut [u8]) -> Result<Message<'a>, Error> {
        let header = Packet::new_checked(bytes)?;
        let options =
            ParsedOptions::parse(header.options(), header.file(), header.sname(), scratch)?;
        Ok(Message { header, options })
    }

    /// The fixed header (op, xid, chaddr, giaddr, …).
    pub fn header(&self) -> &Packet<&'a [u8]> {
        &self.header
    }

    /// All options, by code.
    pub fn options(&self) -> &ParsedOptions<'a> {
        &self.options
    }

    /// The concatenated payload of option `code`.
    pub fn option(&self, code: u8) -> Option<&'a [u8]> {
        self.options.get(code)
    }

    /// Option 53. `None` when absent or empty: a BOOTP message (RFC 951), which Kea 2.2 drops.
    pub fn message_type(&self) -> Option<MessageType> {
        self.option(code::MESSAGE_TYPE)?
            .first()
            .map(|&b| MessageType::from(b))
    }

    /// Option 50, requested IP address (exactly 4 bytes).
    pub fn requested_address(&self) -> Option<Ipv4Addr> {
        ipv4(self.option(code::REQUESTED_ADDRESS)?)
    }

    /// Option 54, server identifier (exactly 4 bytes).
    pub fn server_identifier(&self) -> Option<Ipv4Addr> {
        ipv4(self.option(code::SERVER_IDENTIFIER)?)
    }

    /// Whether option 54 is present at all (even malformed): a DISCOVER carrying it is
    /// dropped by Kea.
    pub fn has_server_identifier(&self) -> bool {
        self.options.contains(code::SERVER_IDENTIFIER)
    }

    /// Option 51, requested lease time in seconds (exactly 4 bytes).
    pub fn lease_time(&self) -> Option<u32> {
        let bytes: [u8; 4] = self.option(code::LEASE_TIME)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// Option 61, client identifier, raw (type byte included, as Kea keys leases and the HA
    /// hash on it). May be empty or 1 byte: the engine decides (Kea drops < 2 bytes).
    pub fn client_identifier(&self) -> Option<&'a [u8]> {
        self.option(code::CLIENT_IDENTIFIER)
    }

    /// Option 55, the codes the client asks for, in its order.
    pub fn parameter_request_list(&self) -> Option<&'a [u8]> {
        self.option(code::PARAMETER_REQUEST_LIST)
    }

    /// Option 57, maximum DHCP message size (exactly 2 bytes).
    pub fn max_message_size(&self) -> Option<u16> {
        let bytes: [u8; 2] = self.option(code::MAX_MESSAGE_SIZE)?.try_into().ok()?;
        Some(u16::from_be_bytes(bytes))
    }

    /// Option 12, host name, trailing NULs removed; `None` if empty.
    pub fn hostname(&self) -> Option<&'a [u8]> {
        trim_string(self.option(code::HOST_NAME)?)
    }

    /// Option 60, vendor class identifier, trailing NULs removed; `None` if empty.
    pub fn vendor_class_identifier(&self) -> Option<&'a [u8]> {
        trim_string(self.option(code::VENDOR_CLASS_IDENTIFIER)?)
    }

    /// Option 77, user class, raw (Kea 2.2 types it `binary`).
    pub fn user_class(&self) -> Option<&'a [u8]> {
        self.option(code::USER_CLASS)
    }

    /// Option 93, client system architectures, raw (a uint16 array, RFC 4578 §2.1).
    pub fn client_system(&self) -> Option<&'a [u8]> {
        self.option(code::CLIENT_SYSTEM)
    }

    /// Option 93 as architecture numbers (a trailing odd byte is ignored).
    pub fn client_architectures(&self) -> impl Iterator<Item = u16> + 'a {
        self.client_system()
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|c| {
                u16::from_be_bytes([
                    c.first().copied().unwrap_or(0),
                    c.get(1).copied().unwrap_or(0),
                ])
            })
    }

    /// Option 82, relay agent information, as a sub-option view.
    pub fn relay_agent_information(&self) -> Option<RelayAgentInfo<'a>> {
        self.option(code::RELAY_AGENT_INFORMATION)
            .map(RelayAgentInfo::new)
    }

    /// Option 118, subnet selection (exactly 4 bytes, RFC 3011 §3).
    pub fn subnet_selection(&self) -> Option<Ipv4Addr> {
        ipv4(self.option(code::SUBNET_SELECTION)?)
    }

    /// Option 81, client FQDN (at least the 3 fixed bytes, RFC 4702 §2).
    pub fn client_fqdn(&self) -> Option<ClientFqdn<'a>> {
        let bytes = self.option(code::CLIENT_FQDN)?;
        match bytes {
            [flags, rcode1, rcode2, name @ ..] => Some(ClientFqdn {
                flags: *flags,
                rcode1: *rcode1,
                rcode2: *rcode2,
                name,
            }),
            _ => None,
        }
    }
}

/// IPv4 (20) + UDP (8) header bytes counted in the RFC 2131 §2 576-byte datagram.
pub const IP_UDP_HEADER_LEN: usize = 28;
/// The IP datagram size every DHCP client must accept (RFC 2131 §2, RFC 2132 §9.10).
pub const MIN_MAX_DATAGRAM: usize = 576;

/// The largest DHCP message (UDP payload) a client accepts: max(576, option 57) minus the IP
/// and UDP headers (RFC 2131 §2; RFC 2132 §9.10: "The minimum legal value is 576").
/// 548 unless option 57 says more. Kea ignores 57; wren keeps to it (behaviour §5 "Better").
pub fn reply_size_limit(max_message_size: Option<u16>) -> usize {
    let datagram = max_message_size
        .map(usize::from)
        .unwrap_or(0)
        .max(MIN_MAX_DATAGRAM);
    datagram - IP_UDP_HEADER_LEN
}

/// Codes a reply never loses to the size limit: message type, server identifier, lease
/// time, subnet mask, routers (behaviour §5).
pub const MANDATORY_CODES: [u8; 5] = [
    code::MESSAGE_TYPE,
    code::SERVER_IDENTIFIER,
    code::LEASE_TIME,
    code::SUBNET_MASK,
    code::ROUTERS,
];

fn is_mandatory(code: u8) -> bool {
    MANDATORY_CODES.contains(&code)
}

/// An option the caller wants in a reply, with a priority used when not everything fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StagedOption<'p> {
    /// Option code. Entries with code 0 or 255 are ignored (free slots).
    pub code: u8,
    /// Payload; may exceed 255 bytes (split per RFC 3396).
    pub payload: &'p [u8],
    /// Higher is kept first when space runs out; equal priorities keep staging order.
    /// [`MANDATORY_CODES`] rank above every priority.
    pub priority: u8,
    seq: u16,
    emitted: bool,
}

impl<'p> StagedOption<'p> {
    /// Stage option `code` with `payload` at `priority`.
    pub const fn new(code: u8, payload: &'p [u8], priority: u8) -> Self {
        StagedOption {
            code,
            payload,
            priority,
            seq: 0,
            emitted: false,
        }
    }

    /// After [`ReplyWriter::finish`]: whether this entry went into the reply.
    pub fn emitted(&self) -> bool {
        self.emitted
    }
}

/// Why a reply could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyError {
    /// The buffer (or size limit) cannot hold the 240-byte header, option 53 and END.
    BufferTooSmall {
        /// Bytes available.
        len: usize,
    },
    /// A [`MANDATORY_CODES`] option does not fit in the size limit.
    MandatoryDoesNotFit {
        /// The option code.
        code: u8,
    },
}

impl core::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReplyError::BufferTooSmall { len } => {
                write!(f, "reply buffer of {len} bytes is too small")
            }
            ReplyError::MandatoryDoesNotFit { code } => {
                write!(f, "mandatory option {code} does not fit the reply")
            }
        }
    }
}

/// What [`ReplyWriter::finish`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplySummary {
    /// Length of the reply (UDP payload) at the start of the buffer.
    pub len: usize,
    /// How many staged options were left out (size limit or duplicate code).
    pub dropped: usize,
}

/// Smallest reply: header, cookie, option 53 (3 bytes), END.
const MIN_REPLY_LEN: usize = bootp::MIN_LEN + 3 + 1;

/// Writes a reply into a caller buffer.
///
/// ```text
/// let mut reply = ReplyWriter::new(&request, MessageType::Offer, &mut buf)?;
/// reply.header().set_yiaddr(addr);               // ciaddr/yiaddr/siaddr/sname/file
/// let mut staged = [StagedOption::new(54, &sid, 0), StagedOption::new(51, &lease, 0), …];
/// let summary = reply.finish(&mut staged)?;      // 53 first, ascending, 82 last, END
/// send(&buf[..summary.len]);
/// ```
#[derive(Debug)]
pub struct ReplyWriter<'o> {
    buf: &'o mut [u8],
    message_type: MessageType,
    limit: usize,
}

impl<'o> ReplyWriter<'o> {
    /// Start a reply to `request`: op 2; htype, hlen, hops, xid, flags, giaddr and chaddr
    /// copied (behaviour §3); secs, ciaddr, yiaddr, siaddr, sname and file zero; the magic
    /// cookie. The size limit starts at [`reply_size_limit`] of the request's option 57.
    pub fn new(
        request: &Message<'_>,
        message_type: MessageType,
        buf: &'o mut [u8],
    ) -> Result<Self, ReplyError> {
        if buf.len() < MIN_REPLY_LEN {
            return Err(ReplyError::BufferTooSmall { len: buf.len() });
        }
        let q = request.header();
        let mut p = Packet::new_unchecked(&mut *buf);
        p.clear_header();
        p.set_op(bootp::OP_BOOTREPLY);
        p.set_htype(q.htype());
        p.set_hlen(q.hlen());
        p.set_hops(q.hops());
        p.set_xid(q.xid());
        p.set_flags(q.flags());
        p.set_giaddr(q.giaddr());
        // chaddr() is at most 16 bytes after new_checked, so this cannot fail.
        let _ = p.set_chaddr(q.chaddr());
        p.set_magic_cookie();
        Ok(ReplyWriter {
            buf,
            message_type,
            limit: reply_size_limit(request.max_message_size()),
        })
    }

    /// The reply header, to set ciaddr/yiaddr/siaddr/sname/file or adjust flags, giaddr and
    /// hops (e.g. INFORM answered directly: giaddr and hops cleared).
    pub fn header(&mut self) -> Packet<&mut [u8]> {
        Packet::new_unchecked(&mut *self.buf)
    }

    /// The message type written as option 53.
    pub fn message_type(&self) -> MessageType {
        self.message_type
    }

    /// Current size limit of the whole reply (UDP payload), before capping at the buffer.
    pub fn size_limit(&self) -> usize {
        self.limit
    }

    /// Override the size limit (e.g. Kea-compatible "no limit": `usize::MAX`). The buffer
    /// length always caps it.
    pub fn set_size_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Write option 53, then the staged options that fit, and END; return the reply length.
    ///
    /// Selection: mandatory codes ([`MANDATORY_CODES`]) first, then by descending
    /// `priority`, ties in staging order; each entry is kept if it still fits (a smaller,
    /// lower-priority option may fit where a larger one did not). A code staged twice keeps
    /// its first-selected entry. A staged 53 is ignored (the writer writes it).
    /// Emission: 53, then ascending codes, 82 last, END (kea-options.md §4.3). No padding.
    ///
    /// `staged` is reordered; [`StagedOption::emitted`] tells which entries went out.
    pub fn finish(self, staged: &mut [StagedOption<'_>]) -> Result<ReplySummary, ReplyError> {
        let end = self.limit.min(self.buf.len());
        if end < MIN_REPLY_LEN {
            return Err(ReplyError::BufferTooSmall { len: end });
        }
        let area = self
            .buf
            .get_mut(bootp::MIN_LEN..end)
            .ok_or(ReplyError::BufferTooSmall { len: end })?;

        for (i, entry) in staged.iter_mut().enumerate() {
            entry.seq = u16::try_from(i).unwrap_or(u16::MAX);
            entry.emitted = false;
        }
        staged
            .sort_unstable_by_key(|e| (Reverse(is_mandatory(e.code)), Reverse(e.priority), e.seq));

        let mut writer = OptionWriter::new(area);
        // Room for 53 is guaranteed by MIN_REPLY_LEN.
        let _ = writer.write(code::MESSAGE_TYPE, &[u8::from(self.message_type)]);
        let mut budget = writer.remaining();
        let mut taken = [0u64; 4];
        let mut dropped = 0usize;
        for entry in staged.iter_mut() {
            let c = entry.code;
            if c == options::PAD || c == options::END || c == code::MESSAGE_TYPE {
                continue;
            }
            let word = taken.get_mut(usize::from(c) / 64);
            let bit = 1u64 << (c % 64);
            let Some(word) = word else { continue };
            if *word & bit != 0 {
                dropped += 1;
                continue;
            }
            let need = encoded_len(entry.payload.len());
            if need <= budget {
                budget -= need;
                *word |= bit;
                entry.emitted = true;
            } else if is_mandatory(c) {
                return Err(ReplyError::MandatoryDoesNotFit { code: c });
            } else {
                dropped += 1;
            }
        }

        // Kea's packing order: ascending code, 82 last (53 is already out).
        staged.sort_unstable_by_key(|e| {
            (!e.emitted, e.code == code::RELAY_AGENT_INFORMATION, e.code)
        });
        for entry in staged.iter().take_while(|e| e.emitted) {
            // Fits by construction of `budget`.
            if writer.write(entry.code, entry.payload).is_err() {
                return Err(ReplyError::BufferTooSmall { len: end });
            }
        }
        let options_len = writer
            .finish()
            .map_err(|_| ReplyError::BufferTooSmall { len: end })?;
        Ok(ReplySummary {
            len: bootp::MIN_LEN + options_len,
            dropped,
        })
    }
}
