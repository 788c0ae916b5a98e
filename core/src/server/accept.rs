//! Reading a query with the project's codec ([`crate::wire::message::Message`]) under Kea
//! 2.2's acceptance rules (dhcpv4-server-behaviour.md §1, row "Parse"), which are looser or
//! different from the codec's defaults in four places:
//!
//! * **Header.** Kea needs the 236-byte BOOTP header and a BOOTREQUEST; it refuses `hlen`
//!   above 20 (its `HWAddr` limit), where the codec refuses anything above the 16-byte
//!   `chaddr` field. An `hlen` of 17..=20 is accepted and the hardware address is the whole
//!   16-byte field (`Packet::chaddr` caps at 16); replies copy `hlen` as received.
//! * **Cookie.** Without the magic cookie 63 82 53 63 (RFC 2131 §3) the packet is BOOTP
//!   (RFC 951) or broken, which Kea 2.2 drops without its BOOTP hook: [`read`] answers
//!   `Ok(None)`.
//! * **Overload.** Kea 2.2 does **not** parse options inside `sname`/`file` (option 52,
//!   RFC 2132 §9.3) although the codec can; by default the engine gives the codec empty
//!   `sname`/`file` areas, so option 52 is read but never followed
//!   ([`Overload::Ignore`]). [`Overload::Follow`] reads them as the RFC says (a wren
//!   extension, off unless the daemon asks for it).
//! * **Truncation.** Kea keeps the options before a truncated one ("be liberal in what you
//!   accept", `Pkt4::unpack`), including a last option code without its length byte, which
//!   the codec reports as an error: the engine then parses the area without that byte.
//!
//! Option payloads are concatenated per code (RFC 3396) into a scratch area of
//! [`QUERY_OPTIONS_SCRATCH`] bytes on the caller's stack; option bytes beyond it are read as
//! a truncation (no Ethernet-sized query comes near it).

use core::net::Ipv4Addr;

use crate::wire::bootp::{self, Packet, HEADER_LEN, MAGIC_COOKIE, OP_BOOTREQUEST};
use crate::wire::message::Message;
use crate::wire::options::{OptionIter, ParsedOptions, Stop};

/// Kea's limit on `hlen` (`HWAddr::MAX_HWADDR_LEN`).
pub const MAX_HLEN: u8 = 20;
/// Bytes of option payload one query may carry (the scratch the codec concatenates into).
/// A 1,500-byte Ethernet frame carries at most 1,232 bytes of options.
pub const QUERY_OPTIONS_SCRATCH: usize = 4096;

/// Whether options inside `sname`/`file` are read when option 52 says so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overload {
    /// Kea 2.2: never (option 52 is kept as an ordinary option).
    #[default]
    Ignore,
    /// RFC 2132 §9.3 / RFC 3396 §7: options area, then `file`, then `sname`.
    Follow,
}

/// Why a query could not be read (Kea: `pkt4-parse-failed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than the 236-byte BOOTP header.
    TooShort,
    /// `hlen` larger than 20 (Kea's limit).
    HardwareAddressTooLong,
    /// `op` is not BOOTREQUEST (1).
    NotARequest,
}

/// Reads `bytes` (a UDP payload) with Kea 2.2's rules (module doc); `scratch` receives the
/// concatenated option payloads. `Ok(None)`: no magic cookie, i.e. BOOTP (RFC 951) or
/// garbage after a valid header.
pub fn read<'a>(bytes: &'a [u8], scratch: &'a mut [u8]) -> Result<Option<Message<'a>>, ParseError> {
    read_with(bytes, scratch, Overload::Ignore)
}

/// [`read`], choosing whether option 52 is followed into `sname`/`file`.
pub fn read_with<'a>(
    bytes: &'a [u8],
    scratch: &'a mut [u8],
    overload: Overload,
) -> Result<Option<Message<'a>>, ParseError> {
    if bytes.len() < HEADER_LEN {
        return Err(ParseError::TooShort);
    }
    // Checked by hand rather than by `Packet::new_checked` (see the module doc); the
    // view's accessors read zeros rather than panic on any length.
    let header = Packet::new_unchecked(bytes);
    if header.op() != OP_BOOTREQUEST {
        return Err(ParseError::NotARequest);
    }
    if header.hlen() > MAX_HLEN {
        return Err(ParseError::HardwareAddressTooLong);
    }
    if bytes.len() < bootp::MIN_LEN || header.magic_cookie() != MAGIC_COOKIE {
        return Ok(None);
    }
    let area = header.options();
    let cap = QUERY_OPTIONS_SCRATCH - bootp::SNAME_LEN - bootp::FILE_LEN;
    let area = area.get(..cap).unwrap_or(area);
    // Only the very last byte can be a code without its length: leave it out, as Kea does.
    let mut walk = OptionIter::new(area);
    walk.by_ref().for_each(drop);
    let area = match walk.stop() {
        Stop::MissingLength { .. } => area.get(..area.len().saturating_sub(1)).unwrap_or(&[]),
        _ => area,
    };
    let (file, sname) = match overload {
        Overload::Ignore => (&[][..], &[][..]),
        Overload::Follow => (header.file(), header.sname()),
    };
    // The area is capped at the scratch size (minus room for the 192 bytes of `sname` and
    // `file`), which therefore always suffices.
    let options =
        ParsedOptions::parse(area, file, sname, scratch).unwrap_or(ParsedOptions::empty());
    Ok(Some(Message::from_parts(header, options)))
}

/// Option 53 when it is exactly one byte (Kea's `uint8` option; anything else is read as
/// "no message type", i.e. BOOTP).
pub fn message_type_code(q: &Message<'_>) -> Option<u8> {
    match q.option(53) {
        Some([t]) => Some(*t),
        _ => None,
    }
}

/// A sub-option of option 82 (RFC 3046 §2.0), first instance.
pub fn relay_sub_option<'a>(q: &Message<'a>, code: u8) -> Option<&'a [u8]> {
    q.relay_agent_information()?.get(code)
}

/// `chaddr` as an Ethernet address (`htype` 1, `hlen` 6).
pub fn chaddr_mac(q: &Message<'_>) -> Option<[u8; 6]> {
    let h = q.header();
    if h.htype() == bootp::HTYPE_ETHERNET {
        <[u8; 6]>::try_from(h.chaddr()).ok()
    } else {
        None
    }
}

/// Option `code` as an IPv4 address (exactly 4 bytes).
pub fn option_addr(q: &Message<'_>, code: u8) -> Option<Ipv4Addr> {
    q.option(code)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(Ipv4Addr::from)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec::Vec;

    /// A BOOTREQUEST with chaddr 02:00:00:00:00:01, xid 0x11223344 and `options` after the
    /// cookie (END appended).
    pub(crate) fn request(options: &[u8]) -> Vec<u8> {
        let mut p = std::vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[4..8].copy_from_slice(&[0x11, 0x22, 0x33, 0x44]);
        p[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        p[236..240].copy_from_slice(&MAGIC_COOKIE);
        p.extend_from_slice(options);
        p.push(255);
        p
    }

    fn dhcp<'a>(bytes: &'a [u8], scratch: &'a mut [u8]) -> Message<'a> {
        match read(bytes, scratch) {
            Ok(Some(m)) => m,
            Ok(None) => panic!("read as BOOTP"),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn reads_header_and_options() {
        let mut p = request(&[53, 1, 1, 0, 0, 50, 4, 198, 18, 1, 7, 55, 3, 1, 3, 6]);
        p[10] = 0x80;
        p[12..16].copy_from_slice(&[198, 18, 1, 9]);
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = dhcp(&p, &mut s);
        assert_eq!(message_type_code(&q), Some(1));
        assert_eq!(option_addr(&q, 50), Some(Ipv4Addr::new(198, 18, 1, 7)));
        assert_eq!(q.option(55), Some(&[1, 3, 6][..]));
        assert!(q.header().broadcast());
        assert_eq!(q.header().ciaddr(), Ipv4Addr::new(198, 18, 1, 9));
        assert_eq!(q.header().chaddr(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(chaddr_mac(&q), Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(q.option(54), None);
    }

    #[test]
    fn repeated_options_are_concatenated() {
        let p = request(&[61, 2, 1, 2, 53, 1, 3, 61, 3, 3, 4, 5, 12, 1, b'a', 61, 1, 6]);
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = dhcp(&p, &mut s);
        assert_eq!(q.option(61), Some(&[1, 2, 3, 4, 5, 6][..]));
        assert_eq!(q.option(12), Some(&b"a"[..]));
        assert_eq!(message_type_code(&q), Some(3));
    }

    #[test]
    fn truncated_option_ends_the_list() {
        let mut p = request(&[53, 1, 1]);
        p.pop();
        p.extend_from_slice(&[12, 10, b'x']);
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = dhcp(&p, &mut s);
        assert_eq!(message_type_code(&q), Some(1));
        assert_eq!(q.option(12), None);
    }

    #[test]
    fn code_without_length_at_the_end_is_ignored_like_kea() {
        let mut p = request(&[53, 1, 3, 50, 4, 198, 18, 0, 9]);
        p.pop();
        p.push(12);
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = dhcp(&p, &mut s);
        assert_eq!(message_type_code(&q), Some(3));
        assert_eq!(option_addr(&q, 50), Some(Ipv4Addr::new(198, 18, 0, 9)));
        assert!(!q.options().contains(12));
    }

    #[test]
    fn overloaded_sname_and_file_are_not_parsed() {
        // Option 52 = 3 (both fields) with a hostname in `file` and a lease time in
        // `sname`: Kea 2.2 reads neither.
        let mut p = request(&[53, 1, 1, 52, 1, 3]);
        p[108..113].copy_from_slice(&[12, 3, b'b', b'o', b'x']);
        p[113] = 255;
        p[44..50].copy_from_slice(&[51, 4, 0, 0, 0, 60]);
        p[50] = 255;
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = dhcp(&p, &mut s);
        assert_eq!(q.option(52), Some(&[3][..]));
        assert_eq!(q.option(12), None);
        assert_eq!(q.lease_time(), None);
        // Followed on request: file, then sname.
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = read_with(&p, &mut s, Overload::Follow).unwrap().unwrap();
        assert_eq!(q.hostname(), Some(&b"box"[..]));
        assert_eq!(q.lease_time(), Some(60));
    }

    #[test]
    fn hlen_up_to_20_is_accepted_with_a_16_byte_chaddr() {
        let mut p = request(&[53, 1, 1]);
        p[2] = 20;
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = dhcp(&p, &mut s);
        assert_eq!(q.header().hlen(), 20);
        assert_eq!(q.header().chaddr().len(), 16);
        assert_eq!(chaddr_mac(&q), None);
    }

    #[test]
    fn rejects_short_long_hlen_and_replies() {
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        assert_eq!(read(&[1; 235], &mut s).err(), Some(ParseError::TooShort));
        let mut p = request(&[]);
        p[2] = 21;
        assert_eq!(
            read(&p, &mut s).err(),
            Some(ParseError::HardwareAddressTooLong)
        );
        p[2] = 6;
        p[0] = 2;
        assert_eq!(read(&p, &mut s).err(), Some(ParseError::NotARequest));
    }

    #[test]
    fn missing_or_short_cookie_is_bootp() {
        let mut p = request(&[53, 1, 1]);
        p[236] = 0;
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        assert!(matches!(read(&p, &mut s), Ok(None)));
        let p = request(&[]);
        assert!(matches!(read(&p[..238], &mut s), Ok(None)));
    }

    #[test]
    fn a_two_byte_message_type_is_no_message_type() {
        let p = request(&[53, 2, 1, 1]);
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        assert_eq!(message_type_code(&dhcp(&p, &mut s)), None);
    }

    #[test]
    fn options_beyond_the_scratch_are_a_truncation() {
        // 20 hostname instances of 255 bytes (5,140 bytes) then 53: the options read are
        // the ones within QUERY_OPTIONS_SCRATCH bytes of the area.
        let mut opts = Vec::new();
        opts.extend_from_slice(&[53, 1, 1]);
        for _ in 0..20 {
            opts.push(12);
            opts.push(255);
            opts.extend_from_slice(&[b'a'; 255]);
        }
        opts.extend_from_slice(&[50, 4, 198, 18, 0, 1]);
        let p = request(&opts);
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = dhcp(&p, &mut s);
        assert_eq!(message_type_code(&q), Some(1));
        assert_eq!(q.option(12).map(<[u8]>::len), Some(15 * 255));
        assert_eq!(option_addr(&q, 50), None);
    }

    #[test]
    fn relay_sub_options() {
        let p = request(&[82, 12, 1, 3, b'p', b'1', b'7', 5, 4, 198, 18, 3, 0, 19, 0]);
        let mut s = [0u8; QUERY_OPTIONS_SCRATCH];
        let q = dhcp(&p, &mut s);
        assert_eq!(relay_sub_option(&q, 1), Some(&b"p17"[..]));
        assert_eq!(relay_sub_option(&q, 5), Some(&[198, 18, 3, 0][..]));
        // 19 with a claimed length but no room: malformed tail, not found.
        assert_eq!(relay_sub_option(&q, 19), None);
    }
}
