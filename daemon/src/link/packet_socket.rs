//! Linux link-layer I/O: one `AF_PACKET`/`SOCK_RAW` socket per served interface, the
//! counterpart of FreeBSD's BPF descriptor. It sees direct clients that have no address
//! yet (broadcast DISCOVER/REQUEST) and lets the daemon send whole Ethernet frames to a
//! client the kernel could not ARP for (RFC 2131 §4.1: unicast to yiaddr/chaddr).
//!
//! Setup order (avoids a window in which unfiltered frames of every interface queue up):
//! socket with protocol 0 (receives nothing) → attach the classic BPF read filter
//! (`SO_ATTACH_FILTER`, [`super::filter::read_program`]) → `PACKET_IGNORE_OUTGOING` (our own
//! replies to relays, UDP to port 67, must not come back) → bind to the interface with
//! protocol `ETH_P_IP`.

use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::filter::{self, Instruction};

/// `sll_pkttype` values (`<linux/if_packet.h>`).
const PACKET_OTHERHOST: u8 = 3;
const PACKET_OUTGOING: u8 = 4;

/// Ancillary data buffer, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct AuxBuffer([u8; 64]);

/// Sets the UDP checksum of an Ethernet/IPv4/UDP frame to 0 ("not computed", RFC 768).
/// Frames too short or not IPv4/UDP are left alone (the parser rejects them anyway).
pub fn clear_udp_checksum(frame: &mut [u8]) {
    const ETHERNET: usize = 14;
    let is_ipv4_udp =
        frame.get(12..14) == Some(&[0x08, 0x00]) && frame.get(ETHERNET + 9) == Some(&17);
    if !is_ipv4_udp {
        return;
    }
    let Some(ihl) = frame.get(ETHERNET).map(|b| usize::from(b & 0x0f) * 4) else {
        return;
    };
    let at = ETHERNET + ihl + 6;
    if let Some(checksum) = frame.get_mut(at..at + 2) {
        checksum.copy_from_slice(&[0, 0]);
    }
}

/// A packet socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

/// What one receive produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// A whole frame of this many bytes, addressed to this host (unicast to our MAC,
    /// broadcast or multicast).
    Frame(usize),
    /// Something to skip: a frame for another host (a promiscuous tap elsewhere), one of
    /// our own, or one larger than the buffer.
    Skipped,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` lives across the call and its size is passed.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

fn attach_filter(fd: RawFd, program: &[Instruction]) -> io::Result<()> {
    let mut insns: Vec<libc::sock_filter> = program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let fprog = libc::sock_fprog {
        len: u16::try_from(insns.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        filter: insns.as_mut_ptr(),
    };
    // SAFETY: `fprog` points at `insns`, which outlives the call; the kernel copies it.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    })
    .map(drop)
}

impl PacketSocket {
    /// Opens the socket for interface `ifindex`, waking only for IPv4 UDP to `server_port`.
    pub fn open(ifindex: u32, server_port: u16) -> io::Result<PacketSocket> {
        // SAFETY: plain syscall; the result is checked before use.
        let raw = check(unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        attach_filter(raw, &filter::read_program(server_port))?;
        super::set_receive_buffer(raw, "packet socket");
        // Checksum-offload status of each frame (see `recv`).
        set_int_option(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
        // Linux ≥ 4.20. Older kernels: our frames carry PACKET_OUTGOING and are skipped in
        // `recv` instead.
        if let Err(e) = set_int_option(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1) {
            log::debug!("PACKET_IGNORE_OUTGOING unavailable ({e}); filtering by packet type");
        }
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut address: libc::sockaddr_ll = unsafe { mem::zeroed() };
        address.sll_family = libc::AF_PACKET as libc::c_ushort;
        address.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        address.sll_ifindex = libc::c_int::try_from(ifindex)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `address` is a valid sockaddr_ll of the size passed.
        check(unsafe {
            libc::bind(
                raw,
                (&address as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(PacketSocket { fd, ifindex })
    }

    /// The interface index the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Receives one frame into `buffer`. `WouldBlock` when drained.
    ///
    /// A frame sent by a local process (another namespace over a veth, a VM's tap) may
    /// arrive with its UDP checksum not yet computed (checksum offload: the kernel marks it
    /// `TP_STATUS_CSUMNOTREADY` in the `PACKET_AUXDATA` control message, and the field holds
    /// only the pseudo-header sum). Such a frame's UDP checksum is set to 0, RFC 768's "no
    /// checksum", so the frame parser does not reject a valid unicast renewal.
    pub fn recv(&self, buffer: &mut [u8]) -> io::Result<Received> {
        // SAFETY: sockaddr_ll and msghdr are plain data; all-zero is a valid value.
        let mut from: libc::sockaddr_ll = unsafe { mem::zeroed() };
        let mut control = AuxBuffer([0; 64]);
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len() as _;
        // SAFETY: every pointer in `msg` refers to a live local of the stated size. MSG_TRUNC
        // makes the kernel return the real frame length.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        if n > buffer.len()
            || from.sll_pkttype == PACKET_OTHERHOST
            || from.sll_pkttype == PACKET_OUTGOING
        {
            return Ok(Received::Skipped);
        }
        let mut status = 0u32;
        // SAFETY: the CMSG macros walk the control buffer the kernel filled, bounded by
        // msg_controllen; a SOL_PACKET/PACKET_AUXDATA payload is a tpacket_auxdata.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let header = &*cmsg;
                if header.cmsg_level == libc::SOL_PACKET && header.cmsg_type == libc::PACKET_AUXDATA
                {
                    let aux: libc::tpacket_auxdata =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                    status = aux.tp_status;
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
        if status & libc::TP_STATUS_CSUMNOTREADY != 0 {
            if let Some(frame) = buffer.get_mut(..n) {
                clear_udp_checksum(frame);
            }
        }
        Ok(Received::Frame(n))
    }

    /// Sends one whole Ethernet frame (header included) out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is readable for its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        match usize::try_from(n) {
            Ok(sent) if sent == frame.len() => Ok(()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short frame write",
            )),
            Err(_) => Err(io::Error::last_os_error()),
        }
    }
}

impl AsRawFd for PacketSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PacketSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clears_only_the_udp_checksum() {
        let mut frame = crate::link::filter::tests::discover_frame(67, 0, 5);
        frame[40] = 0xab;
        frame[41] = 0xcd;
        let before = frame.clone();
        clear_udp_checksum(&mut frame);
        assert_eq!(&frame[40..42], &[0, 0]);
        assert_eq!(frame[..40], before[..40]);
        assert_eq!(frame[42..], before[42..]);
        // With IP options the field moves.
        let mut long = crate::link::filter::tests::discover_frame(67, 0, 6);
        long[44] = 0xff;
        clear_udp_checksum(&mut long);
        assert_eq!(long[44], 0);
        // Not UDP: untouched.
        let mut tcp = before.clone();
        tcp[23] = 6;
        let tcp_before = tcp.clone();
        clear_udp_checksum(&mut tcp);
        assert_eq!(tcp, tcp_before);
        clear_udp_checksum(&mut [0u8; 10]);
    }

    /// Needs CAP_NET_RAW; skipped (with a note) when not privileged.
    #[test]
    fn opens_on_loopback_and_reads_nothing() {
        let lo = nix::net::if_::if_nametoindex("lo").unwrap();
        match PacketSocket::open(lo, 67) {
            Ok(socket) => {
                assert_eq!(socket.ifindex(), lo);
                let mut buffer = [0u8; 2048];
                let e = socket.recv(&mut buffer).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: no CAP_NET_RAW ({e})");
            }
            Err(e) => panic!("open failed: {e}"),
        }
    }
}
