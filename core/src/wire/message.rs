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

    /// A message from a header and options read by other rules than [`Message::parse`]'s
    /// (the server engine applies Kea 2.2's: `hlen` up to 20, no option overload, see
    /// `server::accept`). `header` should hold at least the 240-byte header and cookie;
    /// its accessors read zeros otherwise.
    pub fn from_parts(header: Packet<&'a [u8]>, options: ParsedOptions<'a>) -> Message<'a> {
        Message { header, options }
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

    /// Any option read as a Kea `string`: trailing NULs removed, `None` when absent, empty
    /// or only NULs (kea-options.md §4.3). For options whose definition is `string`.
    pub fn string_option(&self, code: u8) -> Option<&'a [u8]> {
        trim_string(self.option(code)?)
    }

    /// Option 12, host name, trailing NULs removed; `None` if empty.
    pub fn hostname(&self) -> Option<&'a [u8]> {
        self.string_option(code::HOST_NAME)
    }

    /// Option 60, vendor class identifier, trailing NULs removed; `None` if empty.
    pub fn vendor_class_identifier(&self) -> Option<&'a [u8]> {
        self.string_option(code::VENDOR_CLASS_IDENTIFIER)
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
/// time, subnet mask, routers (behaviour §5). The writer does not add them (except 53):
/// they are protected only when staged (an INFORM ACK has no 51 and no 1).
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
    min_len: usize,
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
            min_len: 0,
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

    /// Pad the reply with zeros (PAD) after END up to `len` bytes, within the buffer and the
    /// size limit. Off by default: Kea 2.2 does not pad DHCP replies; its BOOTP hook pads
    /// BOOTP replies to 300 bytes (RFC 1542 §3.4: 236-byte header + 64-byte vendor area).
    pub fn set_minimum_len(&mut self, len: usize) {
        self.min_len = len;
    }

    /// Write option 53, then the staged options that fit, and END; return the reply length.
    ///
    /// Selection: mandatory codes ([`MANDATORY_CODES`]) first, then by descending
    /// `priority`, ties in staging order; each entry is kept if it still fits (a smaller,
    /// lower-priority option may fit where a larger one did not). A code staged twice keeps
    /// its first-selected entry. A staged 53 is ignored (the writer writes it).
    /// Emission: 53, then ascending codes, 82 last, END (kea-options.md §4.3); no padding
    /// unless [`ReplyWriter::set_minimum_len`] asked for it.
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
        let written = bootp::MIN_LEN + options_len;
        let len = written.max(self.min_len.min(end));
        if let Some(padding) = self.buf.get_mut(written..len) {
            padding.fill(options::PAD);
        }
        Ok(ReplySummary { len, dropped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_vectors::{hex, DISCOVER, OFFER};
    use std::vec;
    use std::vec::Vec;

    /// A minimal request with the given options appended after the cookie.
    fn request_with(options: &[u8]) -> Vec<u8> {
        let mut b = hex(DISCOVER);
        b.truncate(bootp::MIN_LEN);
        b.extend_from_slice(options);
        b
    }

    #[test]
    fn parse_dhclient_discover() {
        let bytes = hex(DISCOVER);
        let mut scratch = [0u8; 300];
        let m = Message::parse(&bytes, &mut scratch).unwrap();
        assert_eq!(m.message_type(), Some(MessageType::Discover));
        assert_eq!(m.header().xid(), 0x3903_f326);
        assert_eq!(m.header().chaddr(), &[0x02, 0, 0, 0, 0, 0x01]);
        assert_eq!(m.requested_address(), Some(Ipv4Addr::new(198, 18, 10, 100)));
        assert_eq!(m.hostname(), Some(&b"client"[..]));
        assert_eq!(
            m.parameter_request_list(),
            Some(&[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42][..])
        );
        assert_eq!(m.server_identifier(), None);
        assert!(!m.has_server_identifier());
        assert_eq!(m.client_identifier(), None);
        assert_eq!(m.max_message_size(), None);
        assert_eq!(m.lease_time(), None);
        assert!(m.relay_agent_information().is_none());
        assert_eq!(m.options().stop(), options::Stop::End);
    }

    #[test]
    fn parse_errors() {
        let bytes = hex(DISCOVER);
        let mut scratch = [0u8; 300];
        assert_eq!(
            Message::parse(&bytes[..100], &mut scratch).unwrap_err(),
            Error::Header(bootp::Error::Truncated { len: 100 })
        );
        let mut small = [0u8; 4];
        assert!(matches!(
            Message::parse(&bytes, &mut small).unwrap_err(),
            Error::Options(options::ParseError::ScratchTooSmall { .. })
        ));
    }

    #[test]
    fn message_type_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(MessageType::from(v)), v);
        }
        assert_eq!(MessageType::from(8), MessageType::Inform);
        assert_eq!(MessageType::from(13), MessageType::Unknown(13));
        // BOOTP: no 53, or an empty 53.
        let b = request_with(&[255]);
        let mut s = [0u8; 300];
        assert_eq!(Message::parse(&b, &mut s).unwrap().message_type(), None);
        let b = request_with(&[53, 0, 255]);
        assert_eq!(Message::parse(&b, &mut s).unwrap().message_type(), None);
        let b = request_with(&[53, 1, 42, 255]);
        assert_eq!(
            Message::parse(&b, &mut s).unwrap().message_type(),
            Some(MessageType::Unknown(42))
        );
    }

    #[test]
    fn typed_accessors() {
        let opts = [
            53, 1, 3, // REQUEST
            54, 4, 198, 18, 10, 1, // server id
            51, 4, 0, 0, 0x0e, 0x10, // 3600 s
            61, 7, 1, 2, 0, 0, 0, 0, 1, // client id
            57, 2, 0x05, 0xdc, // 1500
            12, 7, b'h', b'o', b's', b't', 0, 0, 0, // NUL padded
            60, 9, b'P', b'X', b'E', b'C', b'l', b'i', b'e', b'n', b't', 77, 4, 3, b'a', b'b',
            b'c', // user class
            93, 4, 0, 7, 0, 9, // EFI x64, EFI BC
            82, 6, 1, 1, b'c', 2, 1, b'r', // relay agent
            118, 4, 198, 18, 20, 0, // subnet selection
            81, 8, 0x01, 0, 0, b'a', b'.', b't', b'e', b's', // fqdn
            255,
        ];
        let b = request_with(&opts);
        let mut s = [0u8; 400];
        let m = Message::parse(&b, &mut s).unwrap();
        assert_eq!(m.message_type(), Some(MessageType::Request));
        assert_eq!(m.server_identifier(), Some(Ipv4Addr::new(198, 18, 10, 1)));
        assert!(m.has_server_identifier());
        assert_eq!(m.lease_time(), Some(3600));
        assert_eq!(m.client_identifier(), Some(&[1, 2, 0, 0, 0, 0, 1][..]));
        assert_eq!(m.max_message_size(), Some(1500));
        assert_eq!(m.hostname(), Some(&b"host"[..]));
        assert_eq!(m.vendor_class_identifier(), Some(&b"PXEClient"[..]));
        assert_eq!(m.string_option(12), Some(&b"host"[..]));
        assert_eq!(m.string_option(77), Some(&[3, b'a', b'b', b'c'][..]));
        assert_eq!(m.string_option(13), None);
        assert_eq!(m.user_class(), Some(&[3, b'a', b'b', b'c'][..]));
        assert_eq!(m.client_system(), Some(&[0, 7, 0, 9][..]));
        assert_eq!(m.client_architectures().collect::<Vec<_>>(), [7, 9]);
        let rai = m.relay_agent_information().unwrap();
        assert_eq!(rai.circuit_id(), Some(&b"c"[..]));
        assert_eq!(rai.remote_id(), Some(&b"r"[..]));
        assert_eq!(m.subnet_selection(), Some(Ipv4Addr::new(198, 18, 20, 0)));
        assert_eq!(
            m.client_fqdn(),
            Some(ClientFqdn {
                flags: ClientFqdn::FLAG_S,
                rcode1: 0,
                rcode2: 0,
                name: b"a.tes"
            })
        );
    }

    #[test]
    fn malformed_typed_options_read_as_absent() {
        let opts = [
            50, 3, 1, 2, 3, // short address
            54, 5, 1, 2, 3, 4, 5, // long address
            51, 2, 0, 1, // short u32
            57, 1, 9, // short u16
            12, 3, 0, 0, 0, // only NULs
            60, 0, // empty string
            81, 2, 1, 0, // short fqdn
            118, 0, 255,
        ];
        let b = request_with(&opts);
        let mut s = [0u8; 300];
        let m = Message::parse(&b, &mut s).unwrap();
        assert_eq!(m.requested_address(), None);
        assert_eq!(m.server_identifier(), None);
        assert!(m.has_server_identifier());
        assert_eq!(m.lease_time(), None);
        assert_eq!(m.max_message_size(), None);
        assert_eq!(m.hostname(), None);
        assert_eq!(m.vendor_class_identifier(), None);
        assert_eq!(m.client_fqdn(), None);
        assert_eq!(m.subnet_selection(), None);
        assert_eq!(m.option(118), Some(&[][..]));
    }

    /// Overload 3 with options split across the options field, `file` and `sname`: the
    /// pieces join in RFC 3396 §7 order (options, file, sname).
    #[test]
    fn overloaded_and_split_request() {
        let mut b = request_with(&[53, 1, 1, 52, 1, 3, 12, 2, b'w', b'r', 255]);
        b[108..114].copy_from_slice(&[12, 2, b'e', b'n', 61, 0]); // file
        b[114] = 255;
        b[44..47].copy_from_slice(&[12, 1, b'!']); // sname
        b[104..108].copy_from_slice(&[50, 4, 198, 18]); // runs past the end of sname
        let mut s = [0u8; 300];
        let m = Message::parse(&b, &mut s).unwrap();
        assert_eq!(m.hostname(), Some(&b"wren!"[..]));
        assert_eq!(m.client_identifier(), Some(&[][..]));
        assert_eq!(m.requested_address(), None);
        assert_eq!(
            m.options().overload(),
            options::Overload {
                file: true,
                sname: true
            }
        );
        // Without 52 the same bytes in file/sname are names, not options.
        let mut b2 = b.clone();
        b2[243..246].copy_from_slice(&[0, 0, 0]); // PAD over the 52 option
        let mut s2 = [0u8; 300];
        let m2 = Message::parse(&b2, &mut s2).unwrap();
        assert_eq!(m2.hostname(), Some(&b"wr"[..]));
        assert_eq!(m2.client_identifier(), None);
    }

    /// A NUL in the middle of a string is data; only trailing NULs go.
    #[test]
    fn string_trim_only_trailing() {
        assert_eq!(trim_string(b"a\0b\0\0"), Some(&b"a\0b"[..]));
        assert_eq!(trim_string(b"\0\0"), None);
        assert_eq!(trim_string(b""), None);
        assert_eq!(trim_string(b"ab"), Some(&b"ab"[..]));
    }

    #[test]
    fn size_limit_rule() {
        assert_eq!(reply_size_limit(None), 548);
        assert_eq!(reply_size_limit(Some(300)), 548);
        assert_eq!(reply_size_limit(Some(576)), 548);
        assert_eq!(reply_size_limit(Some(1500)), 1472);
        assert_eq!(reply_size_limit(Some(u16::MAX)), 65_507);
    }

    /// The Kea OFFER, byte for byte, from options staged in a scrambled order.
    #[test]
    fn emit_kea_offer() {
        let req = hex(DISCOVER);
        let mut scratch = [0u8; 300];
        let m = Message::parse(&req, &mut scratch).unwrap();
        let mut buf = [0xa5u8; 1500];
        let mut w = ReplyWriter::new(&m, MessageType::Offer, &mut buf).unwrap();
        assert_eq!(w.size_limit(), 548);
        w.header().set_yiaddr(Ipv4Addr::new(198, 18, 10, 100));
        let sid = [198, 18, 10, 1];
        let lease = 4000u32.to_be_bytes();
        let mut staged = [
            StagedOption::new(15, b"example.test", 10),
            StagedOption::new(54, &sid, 0),
            StagedOption::new(6, &sid, 10),
            StagedOption::new(51, &lease, 0),
            StagedOption::new(3, &sid, 0),
            StagedOption::new(1, &[255, 255, 255, 0], 0),
            StagedOption::default(), // free slot, ignored
        ];
        let summary = w.finish(&mut staged).unwrap();
        assert_eq!(summary.dropped, 0);
        let golden = hex(OFFER);
        assert_eq!(summary.len, golden.len());
        assert_eq!(&buf[..summary.len], &golden[..]);
        assert_eq!(staged.iter().filter(|s| s.emitted()).count(), 6);
        // The reply parses back.
        let mut s2 = [0u8; 300];
        let r = Message::parse(&buf[..summary.len], &mut s2).unwrap();
        assert_eq!(r.header().op(), bootp::OP_BOOTREPLY);
        assert_eq!(r.message_type(), Some(MessageType::Offer));
        assert_eq!(r.lease_time(), Some(4000));
    }

    /// Header copy rules (behaviour §3): secs zeroed, flags/giaddr/hops/chaddr copied,
    /// ciaddr not copied.
    #[test]
    fn reply_header_copies() {
        let mut req = request_with(&[53, 1, 3, 255]);
        {
            let mut p = Packet::new_unchecked(&mut req[..]);
            p.set_hops(2);
            p.set_secs(99);
            p.set_flags(bootp::FLAG_BROADCAST);
            p.set_ciaddr(Ipv4Addr::new(198, 18, 10, 7));
            p.set_giaddr(Ipv4Addr::new(198, 18, 10, 254));
            p.set_hlen(6);
        }
        // Junk after hlen bytes of chaddr must not be copied.
        req[40] = 0xee;
        let mut s = [0u8; 300];
        let m = Message::parse(&req, &mut s).unwrap();
        let mut buf = [0xffu8; 600];
        let w = ReplyWriter::new(&m, MessageType::Nak, &mut buf).unwrap();
        assert_eq!(w.message_type(), MessageType::Nak);
        let n = w.finish(&mut []).unwrap().len;
        assert_eq!(n, 244);
        let r = Packet::new_checked(&buf[..n]).unwrap();
        assert_eq!(r.op(), 2);
        assert_eq!(r.hops(), 2);
        assert_eq!(r.secs(), 0);
        assert!(r.broadcast());
        assert_eq!(r.xid(), 0x3903_f326);
        assert_eq!(r.ciaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(r.yiaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(r.giaddr(), Ipv4Addr::new(198, 18, 10, 254));
        assert_eq!(
            r.chaddr_field(),
            [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert!(r.sname().iter().all(|&b| b == 0));
        assert!(r.file().iter().all(|&b| b == 0));
        assert_eq!(r.options(), &[53, 1, 6, 255]);
    }

    #[test]
    fn relay_agent_last_and_ascending() {
        let req = hex(DISCOVER);
        let mut s = [0u8; 300];
        let m = Message::parse(&req, &mut s).unwrap();
        let mut buf = [0u8; 600];
        let w = ReplyWriter::new(&m, MessageType::Ack, &mut buf).unwrap();
        let mut staged = [
            StagedOption::new(82, &[1, 1, b'x'], 0),
            StagedOption::new(118, &[198, 18, 20, 0], 0),
            StagedOption::new(61, &[1, 2, 3], 0),
            StagedOption::new(54, &[198, 18, 10, 1], 0),
            StagedOption::new(53, &[9], 0), // ignored: the writer writes 53
        ];
        let n = w.finish(&mut staged).unwrap().len;
        assert_eq!(
            &buf[240..n],
            &[
                53, 1, 5, 54, 4, 198, 18, 10, 1, 61, 3, 1, 2, 3, 118, 4, 198, 18, 20, 0, 82, 3, 1,
                1, b'x', 255
            ]
        );
    }

    /// Under the 548-byte limit the lowest priorities go first; mandatory options stay; a
    /// smaller low-priority option still fits after a big one was dropped.
    #[test]
    fn size_limit_drops_lowest_priority() {
        let req = hex(DISCOVER);
        let mut s = [0u8; 300];
        let m = Message::parse(&req, &mut s).unwrap();
        let mut buf = [0u8; 1500];
        let w = ReplyWriter::new(&m, MessageType::Offer, &mut buf).unwrap();
        let big_a = [b'a'; 200];
        let big_b = [b'b'; 200];
        let small = [b'c'; 10];
        let sid = [198, 18, 10, 1];
        let lease = 600u32.to_be_bytes();
        // Area = 548 - 240 = 308; minus 53 (3) and END (1) = 304.
        // Mandatory: 54 (6) + 51 (6) + 1 (6) + 3 (6) = 24 → 280 left.
        // 66 big_a priority 9 (202) → 78 left; 67 big_b priority 5 (202) dropped;
        // 15 small priority 1 (12) fits → 66 left.
        let mut staged = [
            StagedOption::new(15, &small, 1),
            StagedOption::new(67, &big_b, 5),
            StagedOption::new(66, &big_a, 9),
            StagedOption::new(3, &sid, 0),
            StagedOption::new(1, &sid, 0),
            StagedOption::new(51, &lease, 0),
            StagedOption::new(54, &sid, 0),
        ];
        let summary = w.finish(&mut staged).unwrap();
        assert_eq!(summary.dropped, 1);
        assert_eq!(summary.len, 548 - 66);
        assert!(summary.len <= 548);
        let emitted: Vec<u8> = staged
            .iter()
            .filter(|e| e.emitted())
            .map(|e| e.code)
            .collect();
        assert_eq!(emitted, [1, 3, 15, 51, 54, 66]);
        assert!(staged.iter().any(|e| e.code == 67 && !e.emitted()));
        let mut s2 = [0u8; 600];
        let r = Message::parse(&buf[..summary.len], &mut s2).unwrap();
        assert_eq!(r.option(66), Some(&big_a[..]));
        assert_eq!(r.option(67), None);
        assert_eq!(r.option(15), Some(&small[..]));
    }

    /// Option 57 raises the limit: everything fits, and a > 255-byte option is split.
    #[test]
    fn option_57_raises_limit_and_long_option_splits() {
        let req = request_with(&[53, 1, 1, 57, 2, 0x05, 0xdc, 255]);
        let mut s = [0u8; 300];
        let m = Message::parse(&req, &mut s).unwrap();
        let mut buf = [0u8; 1500];
        let w = ReplyWriter::new(&m, MessageType::Offer, &mut buf).unwrap();
        assert_eq!(w.size_limit(), 1472);
        let long: Vec<u8> = (0..400u16).map(|i| i as u8).collect();
        let mut staged = [
            StagedOption::new(119, &long, 0),
            StagedOption::new(54, &[1, 2, 3, 4], 0),
        ];
        let summary = w.finish(&mut staged).unwrap();
        assert_eq!(summary.dropped, 0);
        assert_eq!(summary.len, 240 + 3 + 6 + 404 + 1);
        assert_eq!(&buf[249..251], &[119, 255]);
        assert_eq!(&buf[506..508], &[119, 145]);
        let mut s2 = [0u8; 1500];
        let r = Message::parse(&buf[..summary.len], &mut s2).unwrap();
        assert_eq!(r.option(119), Some(&long[..]));
    }

    #[test]
    fn mandatory_that_does_not_fit_is_an_error() {
        let req = hex(DISCOVER);
        let mut s = [0u8; 300];
        let m = Message::parse(&req, &mut s).unwrap();
        let mut buf = [0u8; 600];
        let mut w = ReplyWriter::new(&m, MessageType::Offer, &mut buf).unwrap();
        w.set_size_limit(250);
        let routers = [7u8; 40];
        let mut staged = [StagedOption::new(3, &routers, 0)];
        assert_eq!(
            w.finish(&mut staged),
            Err(ReplyError::MandatoryDoesNotFit { code: 3 })
        );
        // The buffer caps the limit too.
        let mut small = [0u8; 243];
        assert_eq!(
            ReplyWriter::new(&m, MessageType::Offer, &mut small).unwrap_err(),
            ReplyError::BufferTooSmall { len: 243 }
        );
        let mut buf = [0u8; 260];
        let mut w = ReplyWriter::new(&m, MessageType::Offer, &mut buf).unwrap();
        w.set_size_limit(usize::MAX);
        let mut staged = [StagedOption::new(3, &routers, 0)];
        assert_eq!(
            w.finish(&mut staged),
            Err(ReplyError::MandatoryDoesNotFit { code: 3 })
        );
    }

    #[test]
    fn minimum_length_pads_with_zeros() {
        let req = hex(DISCOVER);
        let mut s = [0u8; 300];
        let m = Message::parse(&req, &mut s).unwrap();
        let mut buf = [0xeeu8; 600];
        let mut w = ReplyWriter::new(&m, MessageType::Ack, &mut buf).unwrap();
        w.set_minimum_len(300);
        let n = w
            .finish(&mut [StagedOption::new(54, &[1, 2, 3, 4], 0)])
            .unwrap()
            .len;
        assert_eq!(n, 300);
        assert_eq!(&buf[240..250], &[53, 1, 5, 54, 4, 1, 2, 3, 4, 255]);
        assert!(buf[250..300].iter().all(|&b| b == 0));
        assert_eq!(buf[300], 0xee);
        // Never beyond the buffer / size limit.
        let mut small = [0u8; 260];
        let mut w = ReplyWriter::new(&m, MessageType::Ack, &mut small).unwrap();
        w.set_minimum_len(300);
        assert_eq!(w.finish(&mut []).unwrap().len, 260);
    }

    #[test]
    fn duplicate_code_keeps_highest_priority() {
        let req = hex(DISCOVER);
        let mut s = [0u8; 300];
        let m = Message::parse(&req, &mut s).unwrap();
        let mut buf = vec![0u8; 600];
        let w = ReplyWriter::new(&m, MessageType::Offer, &mut buf).unwrap();
        let mut staged = [
            StagedOption::new(15, b"low", 1),
            StagedOption::new(15, b"high", 2),
        ];
        let summary = w.finish(&mut staged).unwrap();
        assert_eq!(summary.dropped, 1);
        assert_eq!(
            &buf[243..summary.len],
            &[15, 4, b'h', b'i', b'g', b'h', 255]
        );
    }
}
