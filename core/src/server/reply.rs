//! Which options go into a reply and how they are packed (dhcpv4-server-behaviour.md §5,
//! kea-options.md §4).
//!
//! The reply's options are collected in a table indexed by code ([`OptionSet`]): the first
//! value set for a code stays (so callers add sources most specific first, Kea's
//! "first source that defines it"). Packing follows Kea: 53 first, then ascending codes, 82
//! last, then END; payloads over 255 bytes are split into consecutive instances of the same
//! code (RFC 3396 §4). wren keeps the reply within max(576, option 57) (RFC 2131 §2) by
//! leaving out the least important optional options.

use core::net::Ipv4Addr;

use crate::wire::bootp::{self, Packet};
use crate::wire::message::Message;

/// How much an option matters when the reply has to shrink; lower is more important.
pub type Rank = u16;

/// Never dropped: 53, 54, 51, 1, 3, the timers, the echoes 61/82/118.
pub const RANK_REQUIRED: Rank = 0;
/// Requested in the PRL: `RANK_PRL + position`.
pub const RANK_PRL: Rank = 10;
/// `always-send` options the client did not ask for.
pub const RANK_ALWAYS_SEND: Rank = 400;
/// The basic set {3, 6, 15} when not requested.
pub const RANK_BASIC: Rank = 500;

#[derive(Clone, Copy, Debug)]
struct Entry<'a> {
    payload: &'a [u8],
    rank: Rank,
}

/// The options of one reply.
pub struct OptionSet<'a> {
    entries: [Option<Entry<'a>>; 256],
}

impl Default for OptionSet<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes `payload` takes on the wire as option(s): RFC 3396 splits into 255-byte pieces.
pub fn encoded_len(payload: &[u8]) -> usize {
    if payload.is_empty() {
        2
    } else {
        payload.len() + 2 * payload.len().div_ceil(255)
    }
}

impl<'a> OptionSet<'a> {
    /// An empty set.
    pub const fn new() -> Self {
        OptionSet {
            entries: [None; 256],
        }
    }

    /// Sets `code` unless already set (the first, most specific source wins).
    pub fn offer(&mut self, code: u8, payload: &'a [u8], rank: Rank) {
        if let Some(slot) = self.entries.get_mut(usize::from(code)) {
            if slot.is_none() {
                *slot = Some(Entry { payload, rank });
            }
        }
    }

    /// Sets `code`, replacing any value.
    pub fn set(&mut self, code: u8, payload: &'a [u8], rank: Rank) {
        if let Some(slot) = self.entries.get_mut(usize::from(code)) {
            *slot = Some(Entry { payload, rank });
        }
    }

    /// Removes `code`.
    pub fn remove(&mut self, code: u8) {
        if let Some(slot) = self.entries.get_mut(usize::from(code)) {
            *slot = None;
        }
    }

    /// Whether `code` is set.
    pub fn contains(&self, code: u8) -> bool {
        self.entries
            .get(usize::from(code))
            .is_some_and(Option::is_some)
    }

    /// The payload of `code`.
    pub fn get(&self, code: u8) -> Option<&'a [u8]> {
        self.entries
            .get(usize::from(code))
            .copied()
            .flatten()
            .map(|e| e.payload)
    }

    /// Bytes all options take, END included.
    pub fn encoded_size(&self) -> usize {
        self.entries
            .iter()
            .flatten()
            .map(|e| encoded_len(e.payload))
            .sum::<usize>()
            + 1
    }

    /// Drops the least important optional options until the options fit in `budget`
    /// bytes (END included). Returns false if even the required ones do not fit.
    pub fn shrink_to(&mut self, budget: usize) -> bool {
        let mut size = self.encoded_size();
        while size > budget {
            // The highest rank (least important), the highest code on ties.
            let worst = self
                .entries
                .iter()
                .enumerate()
                .filter_map(|(c, e)| e.map(|e| (e.rank, c, encoded_len(e.payload))))
                .filter(|&(rank, _, _)| rank != RANK_REQUIRED)
                .max_by_key(|&(rank, c, _)| (rank, c));
            let Some((_, code, len)) = worst else {
                return false;
            };
            if let Some(slot) = self.entries.get_mut(code) {
                *slot = None;
            }
            size -= len;
        }
        true
    }

    /// Writes the options in Kea's order (53, ascending, 82, END) into `out`; returns the
    /// bytes written, or `None` if `out` is too small.
    pub fn emit(&self, out: &mut [u8]) -> Option<usize> {
        let mut at = 0usize;
        let order = core::iter::once(53u8)
            .chain((1u8..=254).filter(|&c| c != 53 && c != 82))
            .chain(core::iter::once(82u8));
        for code in order {
            let Some(e) = self.entries.get(usize::from(code)).copied().flatten() else {
                continue;
            };
            at = emit_one(out, at, code, e.payload)?;
        }
        *out.get_mut(at)? = 255;
        Some(at + 1)
    }
}

fn emit_one(out: &mut [u8], mut at: usize, code: u8, payload: &[u8]) -> Option<usize> {
    if payload.is_empty() {
        out.get_mut(at..at + 2)?.copy_from_slice(&[code, 0]);
        return Some(at + 2);
    }
    for chunk in payload.chunks(255) {
        let len = u8::try_from(chunk.len()).ok()?;
        out.get_mut(at..at + 2)?.copy_from_slice(&[code, len]);
        out.get_mut(at + 2..at + 2 + chunk.len())?
            .copy_from_slice(chunk);
        at += 2 + chunk.len();
    }
    Some(at)
}

/// The largest DHCP message (UDP payload) the client accepts: RFC 2131 §2 "a DHCP client
/// must be prepared to receive a message of up to 576 octets" (an IP datagram: 576 − 20 IP
/// − 8 UDP = 548 bytes of DHCP), or more when its option 57 says so (RFC 2132 §9.10, also
/// counted as the IP datagram).
pub fn max_message_size(option_57: Option<u16>) -> usize {
    crate::wire::message::reply_size_limit(option_57)
}

/// Writes the fixed header of a reply (RFC 2131 §4.3.1 Table 3 / dhcpv4-server-behaviour.md
/// §3) into `out[..240]`, cookie included: op 2; `htype`, `hlen` (as received, up to Kea's
/// 20), xid and the whole 16-byte `chaddr` field copied from `query`; secs 0 ("secs 0");
/// `sname`/`file` cut to 63/127 bytes so a NUL terminator remains. `None` when `out` is
/// shorter than 240 bytes.
#[allow(clippy::too_many_arguments)]
pub fn write_header(
    out: &mut [u8],
    query: &Message<'_>,
    hops: u8,
    flags: u16,
    ciaddr: Ipv4Addr,
    yiaddr: Ipv4Addr,
    siaddr: Ipv4Addr,
    giaddr: Ipv4Addr,
    sname: &[u8],
    file: &[u8],
) -> Option<()> {
    let q = query.header();
    let mut p = Packet::new_unchecked(out.get_mut(..bootp::MIN_LEN)?);
    p.clear_header();
    p.set_op(bootp::OP_BOOTREPLY);
    p.set_htype(q.htype());
    p.set_hlen(q.hlen());
    p.set_hops(hops);
    p.set_xid(q.xid());
    p.set_flags(flags);
    p.set_ciaddr(ciaddr);
    p.set_yiaddr(yiaddr);
    p.set_siaddr(siaddr);
    p.set_giaddr(giaddr);
    p.set_chaddr(&q.chaddr_field()).ok()?;
    p.set_sname(sname.get(..sname.len().min(bootp::SNAME_LEN - 1))?)
        .ok()?;
    p.set_file(file.get(..file.len().min(bootp::FILE_LEN - 1))?)
        .ok()?;
    p.set_magic_cookie();
    Some(())
}

/// Strips trailing NULs (kea-options.md §4.3: "Incoming string options have trailing NULs
/// removed"), for names inside other options (81) that the codec does not trim.
pub fn trim_nuls(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    s.get(..end).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_copies_the_query_and_keeps_name_terminators() {
        let mut p = crate::server::accept::tests::request(&[53, 1, 1]);
        p[2] = 20; // Kea accepts hlen up to 20: copied as is
        p[40..44].copy_from_slice(&[9, 9, 9, 9]); // chaddr padding is copied too
        let mut scratch = [0u8; 64];
        let q = crate::server::accept::read(&p, &mut scratch)
            .unwrap()
            .unwrap();
        let mut out = [0xaa_u8; 240];
        let long = [b'x'; 200];
        let a = |n| Ipv4Addr::new(198, 18, 0, n);
        write_header(
            &mut out,
            &q,
            1,
            0x8000,
            a(1),
            a(2),
            a(3),
            a(4),
            &long,
            &long,
        )
        .unwrap();
        assert_eq!(out[..4], [2, 1, 20, 1]);
        assert_eq!(out[4..8], [0x11, 0x22, 0x33, 0x44]);
        assert_eq!(out[8..12], [0, 0, 0x80, 0]);
        assert_eq!(
            out[12..28],
            [198, 18, 0, 1, 198, 18, 0, 2, 198, 18, 0, 3, 198, 18, 0, 4]
        );
        assert_eq!(
            out[28..44],
            [2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9]
        );
        assert!(out[44..107].iter().all(|&b| b == b'x') && out[107] == 0);
        assert!(out[108..235].iter().all(|&b| b == b'x') && out[235] == 0);
        assert_eq!(out[236..240], [99, 130, 83, 99]);
        assert_eq!(
            write_header(&mut [0; 239], &q, 0, 0, a(1), a(2), a(3), a(4), b"", b""),
            None
        );
    }

    #[test]
    fn packs_53_first_ascending_82_last() {
        let mut s = OptionSet::new();
        s.offer(82, &[1, 1, 9], RANK_REQUIRED);
        s.offer(6, &[198, 18, 0, 53], RANK_BASIC);
        s.offer(53, &[2], RANK_REQUIRED);
        s.offer(1, &[255, 255, 255, 0], RANK_REQUIRED);
        s.offer(54, &[198, 18, 0, 1], RANK_REQUIRED);
        s.offer(121, &[], RANK_PRL);
        let mut out = [0u8; 64];
        let n = s.emit(&mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[
                53, 1, 2, 1, 4, 255, 255, 255, 0, 6, 4, 198, 18, 0, 53, 54, 4, 198, 18, 0, 1, 121,
                0, 82, 3, 1, 1, 9, 255
            ][..]
        );
        assert_eq!(s.encoded_size(), n);
    }

    #[test]
    fn first_source_wins() {
        let mut s = OptionSet::new();
        s.offer(3, &[1, 1, 1, 1], RANK_BASIC);
        s.offer(3, &[2, 2, 2, 2], RANK_BASIC);
        assert_eq!(s.get(3), Some(&[1, 1, 1, 1][..]));
        s.set(3, &[3, 3, 3, 3], RANK_BASIC);
        assert_eq!(s.get(3), Some(&[3, 3, 3, 3][..]));
    }

    #[test]
    fn long_options_are_split() {
        let long = [7u8; 300];
        let mut s = OptionSet::new();
        s.offer(119, &long, RANK_PRL);
        let mut out = [0u8; 400];
        let n = s.emit(&mut out).unwrap();
        assert_eq!(n, 300 + 4 + 1);
        assert_eq!(&out[..2], &[119, 255]);
        assert_eq!(&out[257..259], &[119, 45]);
        assert_eq!(out[n - 1], 255);
        assert!(s.emit(&mut [0u8; 100]).is_none());
    }

    #[test]
    fn shrinking_drops_least_important_first() {
        let big = [0u8; 200];
        let mut s = OptionSet::new();
        s.offer(53, &[2], RANK_REQUIRED);
        s.offer(43, &big, RANK_ALWAYS_SEND);
        s.offer(66, &big, RANK_PRL + 2);
        s.offer(67, &big, RANK_PRL + 1);
        assert!(s.shrink_to(3 + 202 + 1));
        assert!(s.contains(67) && !s.contains(66) && !s.contains(43));
        assert!(!s.shrink_to(2));
        assert!(s.contains(53));
    }

    #[test]
    fn message_size_floor_is_576() {
        assert_eq!(max_message_size(None), 548);
        assert_eq!(max_message_size(Some(300)), 548);
        assert_eq!(max_message_size(Some(1500)), 1472);
    }

    #[test]
    fn nuls_are_trimmed() {
        assert_eq!(trim_nuls(b"ab\0\0"), b"ab");
        assert_eq!(trim_nuls(b"\0"), b"");
    }
}
