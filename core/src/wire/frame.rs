//! Ethernet II / IPv4 / UDP framing for raw sockets (Linux packet sockets, BSD BPF), through
//! `smoltcp::wire`.
//!
//! A server that answers clients without addresses must build whole frames itself
//! (dhcpv4-server-behaviour.md §7: the kernel would ARP for an address the client does not
//! have yet). [`parse_udp_frame`] unwraps a received frame; [`build_udp_frame`] wraps a reply
//! ([`write_udp_headers`]: the same around a payload already placed after room for them).

use core::net::Ipv4Addr;

use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet, UdpPacket,
    ETHERNET_HEADER_LEN, IPV4_HEADER_LEN, UDP_HEADER_LEN,
};

/// Ethernet + minimal IPv4 + UDP header bytes in front of the payload of a built frame.
pub const OVERHEAD: usize = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN;
/// TTL of built frames.
pub const TTL: u8 = 64;

/// What is wrong with a frame, or why one could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than the headers it claims (Ethernet, IPv4 total length or UDP length).
    Truncated,
    /// The EtherType is not IPv4 (0x0800); VLAN-tagged frames land here too.
    NotIpv4(u16),
    /// The IP version nibble is not 4.
    BadIpVersion(u8),
    /// The IPv4 header checksum does not verify.
    BadIpChecksum,
    /// A fragment (MF set or offset ≠ 0): DHCP messages are never fragmented in practice
    /// and wren does not reassemble.
    Fragment,
    /// The IP protocol is not UDP (17).
    NotUdp(u8),
    /// A non-zero UDP checksum does not verify (zero means "not computed", RFC 768).
    BadUdpChecksum,
    /// The output buffer is shorter than the frame to build.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The payload does not fit in one IPv4 datagram (65,535 bytes).
    PayloadTooLong(usize),
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::Truncated => f.write_str("truncated frame"),
            FrameError::NotIpv4(t) => write!(f, "ethertype {t:#06x} is not IPv4"),
            FrameError::BadIpVersion(v) => write!(f, "IP version {v} is not 4"),
            FrameError::BadIpChecksum => f.write_str("bad IPv4 header checksum"),
            FrameError::Fragment => f.write_str("IPv4 fragment"),
            FrameError::NotUdp(p) => write!(f, "IP protocol {p} is not UDP"),
            FrameError::BadUdpChecksum => f.write_str("bad UDP checksum"),
            FrameError::BufferTooSmall { needed, given } => {
                write!(f, "frame needs {needed} bytes, buffer has {given}")
            }
            FrameError::PayloadTooLong(n) => write!(f, "UDP payload of {n} bytes is too long"),
        }
    }
}

/// A UDP datagram unwrapped from an Ethernet frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Ethernet source.
    pub src_mac: [u8; 6],
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// IP source.
    pub src_ip: Ipv4Addr,
    /// IP destination.
    pub dst_ip: Ipv4Addr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// UDP payload (the DHCP message), `len - 8` bytes of the UDP length field.
    pub payload: &'a [u8],
}

/// Addresses and ports of a frame to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    /// Ethernet source (the sending interface).
    pub src_mac: [u8; 6],
    /// Ethernet destination.
    pub dst_mac: [u8; 6],
    /// IP source.
    pub src_ip: Ipv4Addr,
    /// IP destination.
    pub dst_ip: Ipv4Addr,
    /// UDP source port (67).
    pub src_port: u16,
    /// UDP destination port (68 to clients, 67 or the relay's port to relays).
    pub dst_port: u16,
}

/// Unwrap an Ethernet II frame carrying IPv4/UDP. Rejects non-IPv4, non-UDP, fragments,
/// a bad IP header checksum, a bad non-zero UDP checksum, and anything truncated. IP options
/// are skipped; Ethernet padding after the IP datagram is ignored.
pub fn parse_udp_frame(bytes: &[u8]) -> Result<UdpDatagram<'_>, FrameError> {
    let eth = EthernetFrame::new_checked(bytes).map_err(|_| FrameError::Truncated)?;
    let ethertype = eth.ethertype();
    if ethertype != EthernetProtocol::Ipv4 {
        return Err(FrameError::NotIpv4(u16::from(ethertype)));
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|_| FrameError::Truncated)?;
    if ip.version() != 4 {
        return Err(FrameError::BadIpVersion(ip.version()));
    }
    if !ip.verify_checksum() {
        return Err(FrameError::BadIpChecksum);
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(FrameError::Fragment);
    }
    let protocol = ip.next_header();
    if protocol != IpProtocol::Udp {
        return Err(FrameError::NotUdp(u8::from(protocol)));
    }
    let src_ip = ip.src_addr();
    let dst_ip = ip.dst_addr();
    let udp = UdpPacket::new_checked(ip.payload()).map_err(|_| FrameError::Truncated)?;
    // verify_checksum accepts 0 ("no checksum", RFC 768) itself.
    if !udp.verify_checksum(&IpAddress::Ipv4(src_ip), &IpAddress::Ipv4(dst_ip)) {
        return Err(FrameError::BadUdpChecksum);
    }
    let mut src_mac = [0u8; 6];
    src_mac.copy_from_slice(eth.src_addr().as_bytes());
    let mut dst_mac = [0u8; 6];
    dst_mac.copy_from_slice(eth.dst_addr().as_bytes());
    Ok(UdpDatagram {
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        src_port: udp.src_port(),
        dst_port: udp.dst_port(),
        payload: udp.payload(),
    })
}

/// Build Ethernet II + IPv4 (version 4, IHL 5, TTL 64, identification 0, no fragmentation
/// flags, header checksum) + UDP (with checksum) around `payload` at the start of `out`.
/// Returns the frame length.
pub fn build_udp_frame(
    spec: &FrameSpec,
    payload: &[u8],
    out: &mut [u8],
) -> Result<usize, FrameError> {
    let frame_len = frame_len(payload.len())?;
    let given = out.len();
    let frame = out.get_mut(..frame_len).ok_or(FrameError::BufferTooSmall {
        needed: frame_len,
        given,
    })?;
    frame
        .get_mut(OVERHEAD..)
        .ok_or(FrameError::Truncated)?
        .copy_from_slice(payload);
    write_udp_headers(spec, frame)
}

/// The headers of [`build_udp_frame`] written in front of a payload already in place:
/// `frame` is [`OVERHEAD`] bytes of room followed by exactly the payload. Returns the frame
/// length (`frame.len()`). Lets a caller that reserves the room when the payload is written
/// (the daemon's reply ring) hand whole frames to a batched send without copying them.
pub fn write_udp_headers(spec: &FrameSpec, frame: &mut [u8]) -> Result<usize, FrameError> {
    let payload_len = frame
        .len()
        .checked_sub(OVERHEAD)
        .ok_or(FrameError::BufferTooSmall {
            needed: OVERHEAD,
            given: frame.len(),
        })?;
    let frame_len = frame_len(payload_len)?;
    let udp_len16 = u16::try_from(UDP_HEADER_LEN + payload_len)
        .map_err(|_| FrameError::PayloadTooLong(payload_len))?;
    let ip_len16 = u16::try_from(IPV4_HEADER_LEN + UDP_HEADER_LEN + payload_len)
        .map_err(|_| FrameError::PayloadTooLong(payload_len))?;

    // Every smoltcp view below covers exactly the bytes its header fields describe, whose
    // lengths were just checked: no setter can index out of range.
    let mut eth = EthernetFrame::new_unchecked(&mut *frame);
    eth.set_dst_addr(EthernetAddress(spec.dst_mac));
    eth.set_src_addr(EthernetAddress(spec.src_mac));
    eth.set_ethertype(EthernetProtocol::Ipv4);

    let ip_bytes = frame
        .get_mut(ETHERNET_HEADER_LEN..)
        .ok_or(FrameError::Truncated)?;
    let mut ip = Ipv4Packet::new_unchecked(&mut *ip_bytes);
    ip.set_version(4);
    ip.set_header_len(IPV4_HEADER_LEN as u8);
    ip.set_dscp(0);
    ip.set_ecn(0);
    ip.set_total_len(ip_len16);
    ip.set_ident(0);
    ip.clear_flags();
    ip.set_frag_offset(0);
    ip.set_hop_limit(TTL);
    ip.set_next_header(IpProtocol::Udp);
    ip.set_src_addr(spec.src_ip);
    ip.set_dst_addr(spec.dst_ip);
    ip.fill_checksum();

    let udp_bytes = ip_bytes
        .get_mut(IPV4_HEADER_LEN..)
        .ok_or(FrameError::Truncated)?;
    let mut udp = UdpPacket::new_unchecked(&mut *udp_bytes);
    udp.set_src_port(spec.src_port);
    udp.set_dst_port(spec.dst_port);
    udp.set_len(udp_len16);
    udp.fill_checksum(&IpAddress::Ipv4(spec.src_ip), &IpAddress::Ipv4(spec.dst_ip));
    Ok(frame_len)
}

/// The length of a frame carrying `payload_len` bytes, if the payload fits one IPv4 datagram.
fn frame_len(payload_len: usize) -> Result<usize, FrameError> {
    let ip_len = IPV4_HEADER_LEN + UDP_HEADER_LEN + payload_len;
    if u16::try_from(ip_len).is_err() {
        return Err(FrameError::PayloadTooLong(payload_len));
    }
    Ok(ETHERNET_HEADER_LEN + ip_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::test_vectors::{hex, DISCOVER, DISCOVER_FRAME, OFFER, OFFER_FRAME};

    const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

    fn offer_spec() -> FrameSpec {
        FrameSpec {
            src_mac: SERVER_MAC,
            dst_mac: CLIENT_MAC,
            src_ip: Ipv4Addr::new(198, 18, 10, 1),
            dst_ip: Ipv4Addr::new(198, 18, 10, 100),
            src_port: 67,
            dst_port: 68,
        }
    }

    /// Recompute the RFC 1071 sum over `bytes` by hand (independent of smoltcp).
    fn ones_complement_sum(bytes: &[u8]) -> u16 {
        let mut sum = 0u32;
        for pair in bytes.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = u32::from(*pair.get(1).unwrap_or(&0));
            sum += hi | lo;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn parse_dhclient_discover_frame() {
        let frame = hex(DISCOVER_FRAME);
        let d = parse_udp_frame(&frame).unwrap();
        assert_eq!(d.src_mac, CLIENT_MAC);
        assert_eq!(d.dst_mac, [0xff; 6]);
        assert_eq!(d.src_ip, Ipv4Addr::UNSPECIFIED);
        assert_eq!(d.dst_ip, Ipv4Addr::BROADCAST);
        assert_eq!(d.src_port, 68);
        assert_eq!(d.dst_port, 67);
        assert_eq!(d.payload, &hex(DISCOVER)[..]);
    }

    #[test]
    fn build_kea_offer_frame_golden() {
        let payload = hex(OFFER);
        let mut out = [0u8; 1514];
        let n = build_udp_frame(&offer_spec(), &payload, &mut out).unwrap();
        assert_eq!(n, OVERHEAD + payload.len());
        assert_eq!(&out[..n], &hex(OFFER_FRAME)[..]);
        // Hand check: the IP header sums to 0xffff; so does pseudo-header + UDP.
        assert_eq!(ones_complement_sum(&out[14..34]), 0xffff);
        let udp = &out[34..n];
        let mut pseudo = std::vec::Vec::new();
        pseudo.extend_from_slice(&out[26..34]);
        pseudo.extend_from_slice(&[0, 17]);
        pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(udp);
        assert_eq!(ones_complement_sum(&pseudo), 0xffff);
        // And it parses back.
        let d = parse_udp_frame(&out[..n]).unwrap();
        assert_eq!(d.payload, &payload[..]);
        assert_eq!(d.src_port, 67);
        assert_eq!(d.dst_ip, Ipv4Addr::new(198, 18, 10, 100));
    }

    #[test]
    fn ethernet_padding_is_ignored() {
        let mut frame = hex(OFFER_FRAME);
        frame.extend_from_slice(&[0xaa; 20]);
        let d = parse_udp_frame(&frame).unwrap();
        assert_eq!(d.payload, &hex(OFFER)[..]);
    }

    #[test]
    fn build_errors() {
        let payload = hex(OFFER);
        let mut out = [0u8; 100];
        assert_eq!(
            build_udp_frame(&offer_spec(), &payload, &mut out),
            Err(FrameError::BufferTooSmall {
                needed: 330,
                given: 100
            })
        );
        let huge = std::vec![0u8; 65_508];
        let mut out = std::vec![0u8; 70_000];
        assert_eq!(
            build_udp_frame(&offer_spec(), &huge, &mut out),
            Err(FrameError::PayloadTooLong(65_508))
        );
        // The largest legal payload builds.
        assert!(build_udp_frame(&offer_spec(), &huge[..65_507], &mut out).is_ok());
    }

    #[test]
    fn headers_in_place_match_the_copying_build() {
        let payload = hex(OFFER);
        // Room for the headers filled with garbage, then the payload.
        let mut in_place = std::vec![0xa5u8; OVERHEAD];
        in_place.extend_from_slice(&payload);
        let n = write_udp_headers(&offer_spec(), &mut in_place).unwrap();
        assert_eq!(n, in_place.len());
        assert_eq!(in_place, hex(OFFER_FRAME));
        // An empty payload is a valid (header-only) frame.
        let mut empty = [0xffu8; OVERHEAD];
        assert_eq!(write_udp_headers(&offer_spec(), &mut empty), Ok(OVERHEAD));
        assert_eq!(parse_udp_frame(&empty).unwrap().payload, &[] as &[u8]);
        // No room for the headers.
        assert_eq!(
            write_udp_headers(&offer_spec(), &mut [0u8; OVERHEAD - 1]),
            Err(FrameError::BufferTooSmall {
                needed: OVERHEAD,
                given: OVERHEAD - 1
            })
        );
        let mut huge = std::vec![0u8; OVERHEAD + 65_508];
        assert_eq!(
            write_udp_headers(&offer_spec(), &mut huge),
            Err(FrameError::PayloadTooLong(65_508))
        );
    }

    #[test]
    fn rejects() {
        let good = hex(OFFER_FRAME);

        let mut f = good.clone();
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(parse_udp_frame(&f), Err(FrameError::NotIpv4(0x86dd)));

        let mut f = good.clone();
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        assert_eq!(parse_udp_frame(&f), Err(FrameError::NotIpv4(0x8100)));

        let mut f = good.clone();
        f[24] ^= 1; // IP checksum
        assert_eq!(parse_udp_frame(&f), Err(FrameError::BadIpChecksum));

        let mut f = good.clone();
        f[14] = 0x65; // version 6, IHL 5
        assert_eq!(parse_udp_frame(&f), Err(FrameError::BadIpVersion(6)));

        let mut f = good.clone();
        let last = f.len() - 1;
        f[last] ^= 0x40; // payload byte: UDP checksum no longer matches
        assert_eq!(parse_udp_frame(&f), Err(FrameError::BadUdpChecksum));

        // Zero UDP checksum = not computed: accepted even with a changed payload.
        let mut f = good.clone();
        f[40..42].copy_from_slice(&[0, 0]);
        let last = f.len() - 1;
        f[last] ^= 0x40;
        assert!(parse_udp_frame(&f).is_ok());

        assert_eq!(parse_udp_frame(&good[..13]), Err(FrameError::Truncated));
        assert_eq!(parse_udp_frame(&good[..30]), Err(FrameError::Truncated));
        assert_eq!(
            parse_udp_frame(&good[..good.len() - 1]),
            Err(FrameError::Truncated)
        );
        assert_eq!(parse_udp_frame(&[]), Err(FrameError::Truncated));
    }

    /// Re-fill the IP header checksum after editing the header.
    fn refill_ip_checksum(f: &mut [u8]) {
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
        ip.fill_checksum();
    }

    #[test]
    fn rejects_fragments_and_non_udp() {
        let good = hex(OFFER_FRAME);
        let mut f = good.clone();
        f[20] = 0x20; // MF
        refill_ip_checksum(&mut f);
        assert_eq!(parse_udp_frame(&f), Err(FrameError::Fragment));

        let mut f = good.clone();
        f[21] = 0x01; // offset 8
        refill_ip_checksum(&mut f);
        assert_eq!(parse_udp_frame(&f), Err(FrameError::Fragment));

        // DF alone is fine.
        let mut f = good.clone();
        f[20] = 0x40;
        refill_ip_checksum(&mut f);
        assert!(parse_udp_frame(&f).is_ok());

        let mut f = good.clone();
        f[23] = 6; // TCP
        refill_ip_checksum(&mut f);
        assert_eq!(parse_udp_frame(&f), Err(FrameError::NotUdp(6)));

        // UDP length longer than the IP payload.
        let mut f = good.clone();
        f[38..40].copy_from_slice(&[0x02, 0x00]);
        assert_eq!(parse_udp_frame(&f), Err(FrameError::Truncated));
    }

    /// A header with 4 bytes of IP options (IHL 6) is skipped correctly.
    #[test]
    fn ip_options_skipped() {
        let good = hex(OFFER_FRAME);
        let mut f = std::vec::Vec::new();
        f.extend_from_slice(&good[..34]);
        f.extend_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
        f.extend_from_slice(&good[34..]);
        f[14] = 0x46;
        let total = u16::from_be_bytes([f[16], f[17]]) + 4;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        refill_ip_checksum(&mut f);
        let d = parse_udp_frame(&f).unwrap();
        assert_eq!(d.payload, &hex(OFFER)[..]);
    }
}
