//! The two client messages of a DORA conversation (RFC 2131 §3.1), framed as a client without
//! an address sends them: from 0.0.0.0:68 to 255.255.255.255:67, Ethernet broadcast, source
//! MAC = chaddr. Replies are unwrapped with `wren_core::wire` (frame checksums verified).

use std::net::Ipv4Addr;

use wren_core::wire::frame::{build_udp_frame, parse_udp_frame, FrameSpec};
use wren_core::wire::message::{Message, MessageType};

/// BOOTP minimum message size that dhclient pads to (RFC 951 §3: 300-byte BOOTP packets).
const MIN_PAYLOAD: usize = 300;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Parameter request list like dhclient's short one: mask, routers, DNS, domain, lease time,
/// server id.
const PRL: [u8; 6] = [1, 3, 6, 15, 51, 54];

/// A DHCP reply that belongs to a load-generator client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// OFFER, ACK or NAK (others are ignored by the caller).
    pub kind: MessageType,
    /// xid echoed by the server.
    pub xid: u32,
    /// chaddr echoed by the server (first 6 bytes).
    pub chaddr: [u8; 6],
    /// yiaddr: the offered or acknowledged address.
    pub yiaddr: Ipv4Addr,
    /// Option 54, needed in the REQUEST (RFC 2131 §3.1 step 3).
    pub server_id: Option<Ipv4Addr>,
}

fn header(xid: u32, mac: [u8; 6]) -> Vec<u8> {
    // op BOOTREQUEST, htype Ethernet, hlen 6, hops 0, xid, then secs, flags, ciaddr, yiaddr,
    // siaddr, giaddr (20 zero bytes), chaddr (16), sname (64), file (128), cookie.
    let mut p = Vec::with_capacity(MIN_PAYLOAD);
    p.extend_from_slice(&[1, 1, 6, 0]);
    p.extend_from_slice(&xid.to_be_bytes());
    p.extend_from_slice(&[0; 20]);
    p.extend_from_slice(&mac);
    p.extend_from_slice(&[0; 10 + 64 + 128]);
    p.extend_from_slice(&COOKIE);
    p
}

fn finish(mut p: Vec<u8>) -> Vec<u8> {
    p.push(255);
    if p.len() < MIN_PAYLOAD {
        p.resize(MIN_PAYLOAD, 0);
    }
    p
}

/// DHCPDISCOVER: 53, 55, END.
pub fn discover(xid: u32, mac: [u8; 6]) -> Vec<u8> {
    let mut p = header(xid, mac);
    p.extend_from_slice(&[53, 1, 1, 55, PRL.len() as u8]);
    p.extend_from_slice(&PRL);
    finish(p)
}

/// DHCPREQUEST in SELECTING state: 53, 50 (the offered address), 54 (the offering server),
/// 55, END; ciaddr 0 (RFC 2131 §4.3.2).
pub fn request(xid: u32, mac: [u8; 6], address: Ipv4Addr, server: Ipv4Addr) -> Vec<u8> {
    let mut p = header(xid, mac);
    p.extend_from_slice(&[53, 1, 3, 50, 4]);
    p.extend_from_slice(&address.octets());
    p.extend_from_slice(&[54, 4]);
    p.extend_from_slice(&server.octets());
    p.extend_from_slice(&[55, PRL.len() as u8]);
    p.extend_from_slice(&PRL);
    finish(p)
}

/// Wraps a client payload in a broadcast frame from `mac`.
pub fn frame(mac: [u8; 6], payload: &[u8], out: &mut [u8]) -> Option<usize> {
    let spec = FrameSpec {
        src_mac: mac,
        dst_mac: [0xff; 6],
        src_ip: Ipv4Addr::UNSPECIFIED,
        dst_ip: Ipv4Addr::BROADCAST,
        src_port: 68,
        dst_port: 67,
    };
    build_udp_frame(&spec, payload, out).ok()
}

/// Unwraps a received frame into a [`Reply`] when it is a BOOTREPLY to port 68.
pub fn parse_reply(frame: &[u8]) -> Option<Reply> {
    let udp = parse_udp_frame(frame).ok()?;
    if udp.src_port != 67 || udp.dst_port != 68 {
        return None;
    }
    let bytes = udp.payload;
    if *bytes.first()? != 2 {
        return None;
    }
    let mut scratch = [0u8; 1600];
    let scratch = scratch.get_mut(..bytes.len().min(1600))?;
    let msg = Message::parse(bytes, scratch).ok()?;
    let xid = u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?);
    let yiaddr: [u8; 4] = bytes.get(16..20)?.try_into().ok()?;
    let chaddr: [u8; 6] = bytes.get(28..34)?.try_into().ok()?;
    Some(Reply {
        kind: msg.message_type()?,
        xid,
        chaddr,
        yiaddr: Ipv4Addr::from(yiaddr),
        server_id: msg.server_identifier(),
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn discover_is_a_parseable_padded_request() {
        let mac = [2, 0x1f, 0, 0, 0, 7];
        let p = discover(0x1234_5678, mac);
        assert_eq!(p.len(), 300);
        let mut scratch = [0u8; 400];
        let m = Message::parse(&p, &mut scratch).unwrap();
        assert_eq!(m.message_type(), Some(MessageType::Discover));
        assert_eq!(&p[4..8], &[0x12, 0x34, 0x56, 0x78]);
        assert_eq!(&p[28..34], &mac);
    }

    #[test]
    fn request_carries_50_and_54() {
        let p = request(
            9,
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(198, 18, 1, 5),
            Ipv4Addr::new(198, 18, 0, 1),
        );
        let mut scratch = [0u8; 400];
        let m = Message::parse(&p, &mut scratch).unwrap();
        assert_eq!(m.message_type(), Some(MessageType::Request));
        assert_eq!(m.requested_address(), Some(Ipv4Addr::new(198, 18, 1, 5)));
        assert_eq!(m.server_identifier(), Some(Ipv4Addr::new(198, 18, 0, 1)));
    }

    #[test]
    fn a_framed_offer_parses_back_and_a_request_does_not() {
        // An OFFER as a server would frame it: 67 -> 68, op 2.
        let mac = [2, 0x1f, 0, 0, 0, 3];
        let mut payload = header(77, mac);
        assert_eq!(payload.len(), 240);
        payload[0] = 2;
        payload[16..20].copy_from_slice(&[198, 18, 1, 9]);
        payload.extend_from_slice(&[53, 1, 2, 54, 4, 198, 18, 0, 1, 255]);
        let spec = FrameSpec {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: mac,
            src_ip: Ipv4Addr::new(198, 18, 0, 1),
            dst_ip: Ipv4Addr::new(198, 18, 1, 9),
            src_port: 67,
            dst_port: 68,
        };
        let mut buf = [0u8; 1600];
        let n = build_udp_frame(&spec, &payload, &mut buf).unwrap();
        let r = parse_reply(&buf[..n]).unwrap();
        assert_eq!(r.kind, MessageType::Offer);
        assert_eq!(r.xid, 77);
        assert_eq!(r.chaddr, mac);
        assert_eq!(r.yiaddr, Ipv4Addr::new(198, 18, 1, 9));
        assert_eq!(r.server_id, Some(Ipv4Addr::new(198, 18, 0, 1)));
        // Our own DISCOVER (67 is the destination) is not a reply.
        let d = discover(1, mac);
        let n = frame(mac, &d, &mut buf).unwrap();
        assert_eq!(parse_reply(&buf[..n]), None);
    }
}
