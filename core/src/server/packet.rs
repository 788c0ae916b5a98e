//! The engine's reading of a query and writing of a reply's fixed header (RFC 2131 §2,
//! Figure 1). Option payloads are indexed once per query, with RFC 3396 concatenation of
//! repeated codes into a fixed scratch area, so every later lookup is O(1) and nothing is
//! allocated.
//!
//! Kea rules applied here (dhcpv4-server-behaviour.md §1): at least the 236-byte BOOTP
//! header; `hlen` > 20 is a parse error; options are read after the cookie 63 82 53 63 up to
//! END; options inside `sname`/`file` (overload, option 52) are **not** parsed; a truncated
//! last option ends the list (Kea keeps what it parsed before it).

use core::net::Ipv4Addr;

/// Byte ranges of the fixed header.
pub mod field {
    use core::ops::Range;
    /// `op`.
    pub const OP: usize = 0;
    /// `htype`.
    pub const HTYPE: usize = 1;
    /// `hlen`.
    pub const HLEN: usize = 2;
    /// `hops`.
    pub const HOPS: usize = 3;
    /// `xid`.
    pub const XID: Range<usize> = 4..8;
    /// `secs`.
    pub const SECS: Range<usize> = 8..10;
    /// `flags`.
    pub const FLAGS: Range<usize> = 10..12;
    /// `ciaddr`.
    pub const CIADDR: Range<usize> = 12..16;
    /// `yiaddr`.
    pub const YIADDR: Range<usize> = 16..20;
    /// `siaddr`.
    pub const SIADDR: Range<usize> = 20..24;
    /// `giaddr`.
    pub const GIADDR: Range<usize> = 24..28;
    /// `chaddr` (16 bytes).
    pub const CHADDR: Range<usize> = 28..44;
    /// `sname` (64 bytes).
    pub const SNAME: Range<usize> = 44..108;
    /// `file` (128 bytes).
    pub const FILE: Range<usize> = 108..236;
    /// The magic cookie.
    pub const COOKIE: Range<usize> = 236..240;
    /// First option byte.
    pub const OPTIONS: usize = 240;
}

/// RFC 2131 §3: "the first four octets of the 'options' field … 99, 130, 83, 99".
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// The broadcast bit of `flags` (RFC 2131 §2, Figure 2).
pub const BROADCAST_FLAG: u16 = 0x8000;
/// Bytes of option payload a query may need concatenated (RFC 3396): repeated codes beyond
/// this are truncated (no standard client splits more than a few hundred bytes).
pub const CONCAT_SCRATCH: usize = 1024;

/// Why a query could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than the 236-byte BOOTP header.
    TooShort,
    /// `hlen` larger than 20 (Kea's limit).
    HardwareAddressTooLong,
    /// `op` is not BOOTREQUEST (1).
    NotARequest,
}

#[derive(Clone, Copy, Debug, Default)]
struct Span {
    present: bool,
    in_scratch: bool,
    start: u16,
    len: u16,
}

/// A parsed query: the fixed header and an index of its options.
pub struct ParsedQuery<'p> {
    bytes: &'p [u8],
    spans: [Span; 256],
    scratch: [u8; CONCAT_SCRATCH],
    scratch_used: usize,
    /// The magic cookie was present (without it the packet is BOOTP or broken).
    pub has_cookie: bool,
}

fn addr_at(bytes: &[u8], r: core::ops::Range<usize>) -> Ipv4Addr {
    match bytes.get(r).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
        Some(a) => Ipv4Addr::from(a),
        None => Ipv4Addr::UNSPECIFIED,
    }
}

impl<'p> ParsedQuery<'p> {
    /// Reads `bytes` (a UDP payload).
    pub fn parse(bytes: &'p [u8]) -> Result<Self, ParseError> {
        if bytes.len() < field::COOKIE.start {
            return Err(ParseError::TooShort);
        }
        if bytes.get(field::OP) != Some(&1) {
            return Err(ParseError::NotARequest);
        }
        if bytes.get(field::HLEN).is_some_and(|&h| h > 20) {
            return Err(ParseError::HardwareAddressTooLong);
        }
        let mut q = ParsedQuery {
            bytes,
            spans: [Span::default(); 256],
            scratch: [0; CONCAT_SCRATCH],
            scratch_used: 0,
            has_cookie: bytes.get(field::COOKIE) == Some(&MAGIC_COOKIE[..]),
        };
        if q.has_cookie {
            q.index_options();
        }
        Ok(q)
    }

    fn index_options(&mut self) {
        let bytes = self.bytes;
        let mut i = field::OPTIONS;
        while let Some(&code) = bytes.get(i) {
            match code {
                0 => {
                    i += 1;
                    continue;
                }
                255 => break,
                _ => {}
            }
            let Some(&len) = bytes.get(i + 1) else { break };
            let start = i + 2;
            let end = start + usize::from(len);
            if end > bytes.len() {
                break; // truncated: Kea keeps the options before it
            }
            self.add(code, start, end);
            i = end;
        }
    }

    /// Records one instance of `code` at `bytes[start..end]`; a repeated code is
    /// concatenated (RFC 3396 §6: "the decoding agent must concatenate").
    fn add(&mut self, code: u8, start: usize, end: usize) {
        let Some(span) = self.spans.get(usize::from(code)).copied() else {
            return;
        };
        let (Ok(s16), Ok(len16)) = (u16::try_from(start), u16::try_from(end - start)) else {
            return;
        };
        if !span.present {
            if let Some(slot) = self.spans.get_mut(usize::from(code)) {
                *slot = Span {
                    present: true,
                    in_scratch: false,
                    start: s16,
                    len: len16,
                };
            }
            return;
        }
        // Move the first part into scratch if needed, then append.
        let (existing_start, existing_len) = if span.in_scratch {
            (usize::from(span.start), usize::from(span.len))
        } else {
            let from = usize::from(span.start)..usize::from(span.start) + usize::from(span.len);
            let dst = self.scratch_used;
            let (Some(src), Some(out)) = (
                self.bytes.get(from),
                self.scratch.get_mut(dst..dst + usize::from(span.len)),
            ) else {
                return;
            };
            out.copy_from_slice(src);
            self.scratch_used += usize::from(span.len);
            (dst, usize::from(span.len))
        };
        // Appending only works when this code's run is the last one in scratch.
        if existing_start + existing_len != self.scratch_used {
            return;
        }
        let add_len = end - start;
        let dst = self.scratch_used;
        let (Some(src), Some(out)) = (
            self.bytes.get(start..end),
            self.scratch.get_mut(dst..dst + add_len),
        ) else {
            return;
        };
        out.copy_from_slice(src);
        self.scratch_used += add_len;
        if let (Some(slot), Ok(st), Ok(l)) = (
            self.spans.get_mut(usize::from(code)),
            u16::try_from(existing_start),
            u16::try_from(existing_len + add_len),
        ) {
            *slot = Span {
                present: true,
                in_scratch: true,
                start: st,
                len: l,
            };
        }
    }

    /// The payload of option `code`, concatenated over repeats.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        let s = self.spans.get(usize::from(code))?;
        if !s.present {
            return None;
        }
        let r = usize::from(s.start)..usize::from(s.start) + usize::from(s.len);
        if s.in_scratch {
            self.scratch.get(r)
        } else {
            self.bytes.get(r)
        }
    }

    /// Option `code` as an IPv4 address (exactly 4 bytes).
    pub fn option_addr(&self, code: u8) -> Option<Ipv4Addr> {
        self.option(code)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(Ipv4Addr::from)
    }

    /// Option `code` as a 32-bit number (exactly 4 bytes).
    pub fn option_u32(&self, code: u8) -> Option<u32> {
        self.option(code)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
    }

    /// Option `code` as a 16-bit number (exactly 2 bytes).
    pub fn option_u16(&self, code: u8) -> Option<u16> {
        self.option(code)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
    }

    /// The DHCP message type (option 53), if present and one byte.
    pub fn message_type(&self) -> Option<u8> {
        match self.option(53) {
            Some([t]) => Some(*t),
            _ => None,
        }
    }

    /// The raw packet.
    pub fn bytes(&self) -> &'p [u8] {
        self.bytes
    }

    /// `htype`.
    pub fn htype(&self) -> u8 {
        self.bytes.get(field::HTYPE).copied().unwrap_or(0)
    }

    /// `hlen`.
    pub fn hlen(&self) -> u8 {
        self.bytes.get(field::HLEN).copied().unwrap_or(0)
    }

    /// `hops`.
    pub fn hops(&self) -> u8 {
        self.bytes.get(field::HOPS).copied().unwrap_or(0)
    }

    /// `xid` bytes.
    pub fn xid(&self) -> [u8; 4] {
        self.bytes
            .get(field::XID)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .unwrap_or([0; 4])
    }

    /// `flags`.
    pub fn flags(&self) -> u16 {
        self.bytes
            .get(field::FLAGS)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map_or(0, u16::from_be_bytes)
    }

    /// Whether the broadcast bit is set.
    pub fn broadcast_flag(&self) -> bool {
        self.flags() & BROADCAST_FLAG != 0
    }

    /// `ciaddr`.
    pub fn ciaddr(&self) -> Ipv4Addr {
        addr_at(self.bytes, field::CIADDR)
    }

    /// `giaddr`.
    pub fn giaddr(&self) -> Ipv4Addr {
        addr_at(self.bytes, field::GIADDR)
    }

    /// The client hardware address: the first `hlen` bytes of `chaddr` (at most 16, the
    /// field's size).
    pub fn chaddr(&self) -> &'p [u8] {
        let n = usize::from(self.hlen()).min(16);
        self.bytes
            .get(field::CHADDR.start..field::CHADDR.start + n)
            .unwrap_or(&[])
    }

    /// chaddr as an Ethernet address (`htype` 1, `hlen` 6).
    pub fn chaddr_mac(&self) -> Option<[u8; 6]> {
        if self.htype() == 1 {
            <[u8; 6]>::try_from(self.chaddr()).ok()
        } else {
            None
        }
    }

    /// A sub-option of option 82 (RFC 3046 §2.0: code, length, value), first instance.
    pub fn relay_sub_option(&self, code: u8) -> Option<&[u8]> {
        let mut rest = self.option(82)?;
        while let [c, len, tail @ ..] = rest {
            let n = usize::from(*len);
            let value = tail.get(..n)?;
            if *c == code {
                return Some(value);
            }
            rest = tail.get(n..)?;
        }
        None
    }
}

/// Writes the fixed header of a reply (RFC 2131 §4.3.1 Table 3 / dhcpv4-server-behaviour.md
/// §3) into `out[..240]` (cookie included). `out` must hold at least 240 bytes.
#[allow(clippy::too_many_arguments)]
pub fn write_header(
    out: &mut [u8],
    query: &ParsedQuery<'_>,
    hops: u8,
    flags: u16,
    ciaddr: Ipv4Addr,
    yiaddr: Ipv4Addr,
    siaddr: Ipv4Addr,
    giaddr: Ipv4Addr,
    sname: &[u8],
    file: &[u8],
) -> Option<()> {
    let head = out.get_mut(..field::OPTIONS)?;
    head.fill(0);
    let q = query.bytes();
    *head.get_mut(field::OP)? = 2;
    *head.get_mut(field::HTYPE)? = query.htype();
    *head.get_mut(field::HLEN)? = query.hlen();
    *head.get_mut(field::HOPS)? = hops;
    head.get_mut(field::XID)?
        .copy_from_slice(q.get(field::XID)?);
    // secs: 0 (Table 3: "secs 0").
    head.get_mut(field::FLAGS)?
        .copy_from_slice(&flags.to_be_bytes());
    head.get_mut(field::CIADDR)?
        .copy_from_slice(&ciaddr.octets());
    head.get_mut(field::YIADDR)?
        .copy_from_slice(&yiaddr.octets());
    head.get_mut(field::SIADDR)?
        .copy_from_slice(&siaddr.octets());
    head.get_mut(field::GIADDR)?
        .copy_from_slice(&giaddr.octets());
    head.get_mut(field::CHADDR)?
        .copy_from_slice(q.get(field::CHADDR)?);
    let sn = sname.get(..sname.len().min(63))?;
    head.get_mut(field::SNAME.start..field::SNAME.start + sn.len())?
        .copy_from_slice(sn);
    let fl = file.get(..file.len().min(127))?;
    head.get_mut(field::FILE.start..field::FILE.start + fl.len())?
        .copy_from_slice(fl);
    head.get_mut(field::COOKIE)?.copy_from_slice(&MAGIC_COOKIE);
    Some(())
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

    #[test]
    fn reads_header_and_options() {
        let mut p = request(&[53, 1, 1, 0, 0, 50, 4, 198, 18, 1, 7, 55, 3, 1, 3, 6]);
        p[10] = 0x80;
        p[12..16].copy_from_slice(&[198, 18, 1, 9]);
        let q = ParsedQuery::parse(&p).unwrap();
        assert_eq!(q.message_type(), Some(1));
        assert_eq!(q.option_addr(50), Some(Ipv4Addr::new(198, 18, 1, 7)));
        assert_eq!(q.option(55), Some(&[1, 3, 6][..]));
        assert!(q.broadcast_flag());
        assert_eq!(q.ciaddr(), Ipv4Addr::new(198, 18, 1, 9));
        assert_eq!(q.chaddr(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(q.chaddr_mac(), Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(q.option(54), None);
    }

    #[test]
    fn repeated_options_are_concatenated() {
        let p = request(&[61, 2, 1, 2, 53, 1, 3, 61, 3, 3, 4, 5, 12, 1, b'a', 61, 1, 6]);
        let q = ParsedQuery::parse(&p).unwrap();
        assert_eq!(q.option(61), Some(&[1, 2, 3, 4, 5, 6][..]));
        assert_eq!(q.option(12), Some(&b"a"[..]));
        assert_eq!(q.message_type(), Some(3));
    }

    #[test]
    fn truncated_option_ends_the_list() {
        let mut p = request(&[53, 1, 1]);
        p.pop();
        p.extend_from_slice(&[12, 10, b'x']);
        let q = ParsedQuery::parse(&p).unwrap();
        assert_eq!(q.message_type(), Some(1));
        assert_eq!(q.option(12), None);
    }

    #[test]
    fn rejects_short_long_hlen_and_replies() {
        assert_eq!(
            ParsedQuery::parse(&[1; 235]).err(),
            Some(ParseError::TooShort)
        );
        let mut p = request(&[]);
        p[2] = 21;
        assert_eq!(
            ParsedQuery::parse(&p).err(),
            Some(ParseError::HardwareAddressTooLong)
        );
        p[2] = 6;
        p[0] = 2;
        assert_eq!(ParsedQuery::parse(&p).err(), Some(ParseError::NotARequest));
    }

    #[test]
    fn missing_cookie_is_reported_not_parsed() {
        let mut p = request(&[53, 1, 1]);
        p[236] = 0;
        let q = ParsedQuery::parse(&p).unwrap();
        assert!(!q.has_cookie);
        assert_eq!(q.message_type(), None);
    }

    #[test]
    fn relay_sub_options() {
        let p = request(&[82, 12, 1, 3, b'p', b'1', b'7', 5, 4, 198, 18, 3, 0, 19, 0]);
        let q = ParsedQuery::parse(&p).unwrap();
        assert_eq!(q.relay_sub_option(1), Some(&b"p17"[..]));
        assert_eq!(q.relay_sub_option(5), Some(&[198, 18, 3, 0][..]));
        // 19 with a claimed length but no room: malformed tail, not found.
        assert_eq!(q.relay_sub_option(19), None);
    }
}
