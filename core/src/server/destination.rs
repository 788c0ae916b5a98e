//! Where a reply goes: RFC 2131 §4.1 and RFC 8357 in Kea 2.2's exact order
//! (dhcpv4-server-behaviour.md §7).

use core::net::Ipv4Addr;

use crate::server::{Destination, Transport};

/// UDP port of DHCP servers and relays.
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients.
pub const CLIENT_PORT: u16 = 68;
/// The Ethernet broadcast address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// The kind of reply being addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    /// DHCPOFFER.
    Offer,
    /// DHCPACK to a REQUEST.
    Ack,
    /// DHCPACK to an INFORM.
    InformAck,
    /// DHCPNAK.
    Nak,
}

/// What the decision looks at.
#[derive(Clone, Copy, Debug)]
pub struct DestinationInput {
    /// Reply kind.
    pub kind: ReplyKind,
    /// Query's ciaddr.
    pub ciaddr: Ipv4Addr,
    /// Query's giaddr.
    pub giaddr: Ipv4Addr,
    /// Reply's yiaddr.
    pub yiaddr: Ipv4Addr,
    /// Query's broadcast flag (RFC 2131 §2, bit 15 of `flags`).
    pub broadcast_flag: bool,
    /// Option 82 carried sub-option 19 relay-port (RFC 8357).
    pub relay_port_requested: bool,
    /// Query's IP source.
    pub source_ip: Ipv4Addr,
    /// Query's UDP source port.
    pub source_port: u16,
    /// Query's Ethernet source (zeros when unknown).
    pub source_mac: [u8; 6],
    /// Client's chaddr as an Ethernet address, when `htype` 1 / `hlen` 6.
    pub chaddr_mac: Option<[u8; 6]>,
    /// Raw or UDP.
    pub transport: Transport,
    /// Our address on the receiving interface (the reply's source).
    pub server_ip: Ipv4Addr,
    /// kea-dhcp4's `-P`: when not [`CLIENT_PORT`], every reply goes to this port, relayed
    /// or not (Kea `adjustIfaceData`: "If client port was set from the command line enforce
    /// all responses to it").
    pub client_port: u16,
}

/// Changes the addressing decision makes to the reply header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderAdjust {
    /// Clear giaddr and hops, and leave option 82 out (an INFORM answered directly rather
    /// than through the relay in giaddr).
    pub reply_directly: bool,
    /// Set the broadcast bit (an INFORM relayed without ciaddr).
    pub set_broadcast_flag: bool,
}

/// Decides the reply's destination (first matching row of §7) and the header changes that
/// go with it.
pub fn decide(i: &DestinationInput) -> (Destination, HeaderAdjust) {
    let relayed = !i.giaddr.is_unspecified();
    // RFC 8357 §4: "the DHCP server MUST use the UDP source port … as the destination" when
    // the relay sent the Relay Source Port sub-option.
    // Kea 2.2 answers relays at the constant DHCP4_SERVER_PORT even when `-p` moved the
    // port it listens on; only `-P` (a client port other than 68) changes destinations.
    let relay_port = if i.client_port != CLIENT_PORT {
        i.client_port
    } else if i.relay_port_requested && i.source_port != 0 {
        i.source_port
    } else {
        SERVER_PORT
    };
    let client_port = i.client_port;
    let mut adjust = HeaderAdjust::default();
    let (ip, port) = if i.kind == ReplyKind::InformAck {
        if !i.ciaddr.is_unspecified() {
            // RFC 2131 §4.3.5: "The server then unicasts the DHCPACK to the address in
            // 'ciaddr'"; Kea does so even for relayed INFORMs.
            (i.ciaddr, client_port)
        } else if relayed {
            // Kea sets the broadcast bit so the relay broadcasts the answer to a client
            // that has no address in ciaddr.
            adjust.set_broadcast_flag = true;
            (i.giaddr, relay_port)
        } else {
            (i.source_ip, client_port)
        }
    } else if relayed {
        // RFC 2131 §4.1: "If the 'giaddr' field in a DHCP message from a client is non-zero,
        // the server sends any return messages to the 'DHCP server' port on the BOOTP relay
        // agent whose address appears in 'giaddr'."
        (i.giaddr, relay_port)
    } else if !i.ciaddr.is_unspecified() {
        // "If the 'giaddr' field is zero and the 'ciaddr' field is nonzero, then the server
        // unicasts DHCPOFFER and DHCPACK messages to the address in 'ciaddr'." Kea does the
        // same for a NAK to a renewing client \[checked\].
        (i.ciaddr, client_port)
    } else if i.kind == ReplyKind::Nak {
        // "In all cases, when 'giaddr' is zero, the server broadcasts any DHCPNAK messages
        // to 0xffffffff."
        (Ipv4Addr::BROADCAST, client_port)
    } else if !i.yiaddr.is_unspecified() {
        // "If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast bit is set, then the
        // server broadcasts DHCPOFFER and DHCPACK messages to 0xffffffff. If the broadcast
        // bit is not set … the server unicasts DHCPOFFER and DHCPACK messages to the
        // client's hardware address and 'yiaddr' address." A UDP socket cannot do that
        // (the kernel would ARP for an address the client does not have yet): broadcast.
        if i.broadcast_flag || i.transport == Transport::Udp {
            (Ipv4Addr::BROADCAST, client_port)
        } else {
            (i.yiaddr, client_port)
        }
    } else {
        (i.source_ip, client_port)
    };
    if i.kind == ReplyKind::InformAck {
        // Kea `processInform`: whenever the answer does not go to giaddr, "hops 0, giaddr 0,
        // option 82 removed" (DHCP4_INFORM_DIRECT_REPLY).
        adjust.reply_directly = ip != i.giaddr;
    }
    let broadcast = ip == Ipv4Addr::BROADCAST;
    // wren improvement over Kea (which always uses the query's source MAC): an IP broadcast
    // goes to the Ethernet broadcast address (RFC 2131 §4.1 "broadcasts … to 0xffffffff";
    // RFC 1122 §3.3.6 link-layer broadcast for IP broadcast). Clients accept either.
    let mac = if broadcast {
        BROADCAST_MAC
    } else if i.source_mac != [0; 6] {
        i.source_mac
    } else {
        i.chaddr_mac.unwrap_or([0; 6])
    };
    // A frame is needed when a raw link is in use and the client has no address the
    // kernel could reach: broadcasts and unicasts to a yiaddr not yet configured.
    let raw_frame = i.transport == Transport::Raw
        && (broadcast || (ip == i.yiaddr && i.ciaddr.is_unspecified() && !relayed));
    (
        Destination {
            ip,
            port,
            mac,
            source_ip: i.server_ip,
            raw_frame,
        },
        adjust,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const RELAY_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xee];

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn base(kind: ReplyKind) -> DestinationInput {
        DestinationInput {
            kind,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: ip("198.18.1.100"),
            broadcast_flag: false,
            relay_port_requested: false,
            source_ip: Ipv4Addr::UNSPECIFIED,
            source_port: 68,
            source_mac: CLIENT_MAC,
            chaddr_mac: Some(CLIENT_MAC),
            transport: Transport::Raw,
            server_ip: ip("198.18.1.1"),
            client_port: CLIENT_PORT,
        }
    }

    fn to(d: Destination) -> (Ipv4Addr, u16, [u8; 6]) {
        (d.ip, d.port, d.mac)
    }

    #[test]
    fn inform_with_ciaddr_goes_to_ciaddr_even_when_relayed() {
        let mut i = base(ReplyKind::InformAck);
        i.yiaddr = Ipv4Addr::UNSPECIFIED;
        i.ciaddr = ip("198.18.3.20");
        i.giaddr = ip("198.18.3.1");
        i.source_mac = RELAY_MAC;
        let (d, adj) = decide(&i);
        assert_eq!(to(d), (ip("198.18.3.20"), 68, RELAY_MAC));
        assert!(adj.reply_directly);
        assert!(!d.raw_frame);
    }

    #[test]
    fn inform_relayed_without_ciaddr_goes_to_the_relay_with_broadcast_bit() {
        let mut i = base(ReplyKind::InformAck);
        i.yiaddr = Ipv4Addr::UNSPECIFIED;
        i.giaddr = ip("198.18.3.1");
        let (d, adj) = decide(&i);
        assert_eq!((d.ip, d.port), (ip("198.18.3.1"), 67));
        assert!(adj.set_broadcast_flag && !adj.reply_directly);
    }

    #[test]
    fn inform_direct_without_ciaddr_goes_to_the_source() {
        let mut i = base(ReplyKind::InformAck);
        i.yiaddr = Ipv4Addr::UNSPECIFIED;
        i.source_ip = ip("198.18.1.55");
        let (d, adj) = decide(&i);
        assert_eq!(to(d), (ip("198.18.1.55"), 68, CLIENT_MAC));
        // Not through a relay: hops/giaddr zeroed, 82 left out (Kea processInform).
        assert!(adj.reply_directly);
    }

    #[test]
    fn relayed_replies_go_to_giaddr_port_67_or_the_relay_port() {
        for kind in [ReplyKind::Offer, ReplyKind::Ack, ReplyKind::Nak] {
            let mut i = base(kind);
            i.giaddr = ip("198.18.3.1");
            i.ciaddr = ip("198.18.3.20");
            i.source_mac = RELAY_MAC;
            i.source_port = 2067;
            assert_eq!(to(decide(&i).0), (ip("198.18.3.1"), 67, RELAY_MAC));
            i.relay_port_requested = true;
            assert_eq!(to(decide(&i).0), (ip("198.18.3.1"), 2067, RELAY_MAC));
        }
    }

    #[test]
    fn ciaddr_beats_nak_broadcast() {
        let mut i = base(ReplyKind::Nak);
        i.yiaddr = Ipv4Addr::UNSPECIFIED;
        i.ciaddr = ip("198.18.1.20");
        assert_eq!(to(decide(&i).0), (ip("198.18.1.20"), 68, CLIENT_MAC));
    }

    #[test]
    fn direct_nak_is_broadcast_with_ethernet_broadcast() {
        let mut i = base(ReplyKind::Nak);
        i.yiaddr = Ipv4Addr::UNSPECIFIED;
        let (d, _) = decide(&i);
        assert_eq!(to(d), (Ipv4Addr::BROADCAST, 68, BROADCAST_MAC));
        assert!(d.raw_frame);
    }

    #[test]
    fn broadcast_flag_or_udp_socket_broadcasts_the_offer() {
        let mut i = base(ReplyKind::Offer);
        i.broadcast_flag = true;
        assert_eq!(to(decide(&i).0), (Ipv4Addr::BROADCAST, 68, BROADCAST_MAC));
        i.broadcast_flag = false;
        i.transport = Transport::Udp;
        let (d, _) = decide(&i);
        assert_eq!(to(d), (Ipv4Addr::BROADCAST, 68, BROADCAST_MAC));
        assert!(!d.raw_frame);
    }

    #[test]
    fn unicast_offer_goes_to_yiaddr_and_chaddr_as_a_frame() {
        let i = base(ReplyKind::Offer);
        let (d, adj) = decide(&i);
        assert_eq!(to(d), (ip("198.18.1.100"), 68, CLIENT_MAC));
        assert!(d.raw_frame);
        assert_eq!(d.source_ip, ip("198.18.1.1"));
        assert_eq!(adj, HeaderAdjust::default());
    }

    #[test]
    fn moved_client_port_takes_every_reply_even_relayed() {
        // kea-dhcp4 -P 1068: the relayed OFFER goes to giaddr:1068 (not 67, not the
        // relay-port), the direct one to 255.255.255.255:1068.
        let mut i = base(ReplyKind::Offer);
        i.client_port = 1068;
        i.broadcast_flag = true;
        assert_eq!(to(decide(&i).0), (Ipv4Addr::BROADCAST, 1068, BROADCAST_MAC));
        i.giaddr = ip("198.18.3.1");
        i.relay_port_requested = true;
        i.source_port = 2067;
        assert_eq!(decide(&i).0.port, 1068);
        let mut inform = base(ReplyKind::InformAck);
        inform.client_port = 1068;
        inform.yiaddr = Ipv4Addr::UNSPECIFIED;
        inform.giaddr = ip("198.18.3.1");
        assert_eq!(decide(&inform).0.port, 1068);
    }

    #[test]
    fn unknown_source_mac_falls_back_to_chaddr() {
        let mut i = base(ReplyKind::Ack);
        i.source_mac = [0; 6];
        assert_eq!(decide(&i).0.mac, CLIENT_MAC);
    }
}
