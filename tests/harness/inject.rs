//! Hand-made packets sent from inside a namespace: UDP datagrams through a normal socket, and
//! whole Ethernet frames through an AF_PACKET socket (for broken IP/UDP headers that the kernel
//! would never build). Used by the malformed-input tests.

use crate::netns::Netns;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

/// Deterministic pseudo-random bytes (64-bit LCG), so failures reproduce.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_u8(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 56) as u8
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u8()).collect()
    }
}

/// Sends each payload from `bind` to `dst` over UDP inside `ns` (SO_BROADCAST set). Returns how
/// many were accepted by the kernel.
pub fn send_udp(
    ns: &Netns,
    bind: SocketAddrV4,
    dst: SocketAddrV4,
    payloads: Vec<Vec<u8>>,
) -> usize {
    crate::netns::check_test_address(*bind.ip());
    ns.run_inside(move || {
        let sock = bind_retrying(bind);
        sock.set_broadcast(true)
            .unwrap_or_else(|e| panic!("SO_BROADCAST: {e}"));
        let mut sent = 0;
        for p in &payloads {
            if sock.send_to(p, dst).is_ok() {
                sent += 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        sent
    })
}

/// Binds `addr`, retrying for up to 2 s while it is in use: a socket this process closed a moment
/// ago can still be open in a child that a parallel test forked (the child holds a copy of every
/// descriptor until its exec closes the close-on-exec ones), so a second send from the same
/// address right after the first may briefly find the port taken.
fn bind_retrying(addr: SocketAddrV4) -> UdpSocket {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match UdpSocket::bind(addr) {
            Ok(sock) => return sock,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => panic!("bind {addr}: {e}"),
        }
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let hi = u32::from(pair.first().copied().unwrap_or(0));
        let lo = u32::from(pair.get(1).copied().unwrap_or(0));
        sum += (hi << 8) | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A well-formed Ethernet/IPv4/UDP frame (UDP checksum 0 = none), broadcast destination MAC.
pub fn udp_frame(
    src_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let c = checksum(&ip);
    ip.splice(10..12, c.to_be_bytes());
    f.extend_from_slice(&ip);
    let ulen = (8 + payload.len()) as u16;
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&ulen.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Sends raw Ethernet frames out of `iface` inside `ns`. Returns how many the kernel accepted
/// (frames shorter than an Ethernet header are refused by the kernel, which is fine).
pub fn send_raw_frames(ns: &Netns, iface: &str, frames: Vec<Vec<u8>>) -> usize {
    let iface = iface.to_string();
    ns.run_inside(move || {
        let name = std::ffi::CString::new(iface.clone()).unwrap_or_default();
        // SAFETY: plain socket/if_nametoindex/sendto/close calls with valid pointers and lengths;
        // the sockaddr_ll is fully initialised before use.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
            assert!(
                fd >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            let index = libc::if_nametoindex(name.as_ptr());
            assert!(index != 0, "no interface {iface}");
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
            sll.sll_ifindex = index as i32;
            sll.sll_halen = 6;
            for b in sll.sll_addr.iter_mut().take(6) {
                *b = 0xff;
            }
            let mut sent = 0;
            for f in &frames {
                let rc = libc::sendto(
                    fd,
                    f.as_ptr().cast(),
                    f.len(),
                    0,
                    (&sll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                );
                if rc >= 0 {
                    sent += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            libc::close(fd);
            sent
        }
    })
}

/// Decodes a fixture hex file's text.
pub fn from_hex(text: &str) -> Vec<u8> {
    let t = text.trim();
    (0..t.len() / 2)
        .filter_map(|i| {
            t.get(2 * i..2 * i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_header_checksum_verifies_to_zero() {
        let f = udp_frame(
            [2, 0, 0, 0, 0, 1],
            Ipv4Addr::new(198, 18, 0, 2),
            Ipv4Addr::BROADCAST,
            68,
            67,
            b"x",
        );
        assert_eq!(checksum(&f[14..34]), 0);
        assert_eq!(f.len(), 14 + 20 + 8 + 1);
        assert_eq!(&f[36..38], &[0, 67]);
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex("00ff10\n"), vec![0, 255, 16]);
    }
}

/// Fields of a hand-built client/relay message (see [`build_dhcp`]).
#[derive(Clone, Debug)]
pub struct DhcpFields {
    pub xid: u32,
    pub flags: u16,
    pub hops: u8,
    pub ciaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 6],
    /// Options in order (53 first, as clients do); `end` and padding to 300 bytes are added.
    pub options: Vec<(u8, Vec<u8>)>,
}

impl DhcpFields {
    pub fn new(xid: u32, chaddr: [u8; 6], message_type: u8) -> DhcpFields {
        DhcpFields {
            xid,
            flags: 0,
            hops: 0,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            options: vec![(53, vec![message_type])],
        }
    }
}

/// A BOOTREQUEST: op 1, htype 1, hlen 6, the magic cookie, the options, `end`, zero padding
/// to the 300-byte BOOTP minimum (as dhclient sends).
pub fn build_dhcp(f: &DhcpFields) -> Vec<u8> {
    let mut p = vec![1, 1, 6, f.hops];
    p.extend_from_slice(&f.xid.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&f.flags.to_be_bytes());
    p.extend_from_slice(&f.ciaddr.octets());
    p.extend_from_slice(&[0; 8]); // yiaddr, siaddr
    p.extend_from_slice(&f.giaddr.octets());
    p.extend_from_slice(&f.chaddr);
    p.resize(236, 0); // chaddr padding, sname, file
    p.extend_from_slice(&[99, 130, 83, 99]);
    for (code, value) in &f.options {
        p.push(*code);
        p.push(value.len().min(255) as u8);
        p.extend(value.iter().take(255));
    }
    p.push(255);
    if p.len() < 300 {
        p.resize(300, 0);
    }
    p
}
