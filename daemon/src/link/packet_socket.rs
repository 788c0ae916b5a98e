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
#[derive(Clone, Copy)]
struct AuxBuffer([u8; 64]);

pub use super::{Batch, FRAME_SLOT, RECV_BATCH};

/// Frames one `sendmmsg` takes at most.
pub const SEND_BATCH: usize = 64;

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
        // Checksum-offload status of each frame (see `recv_batch`).
        set_int_option(raw, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
        // Linux ≥ 4.20. Older kernels: our frames carry PACKET_OUTGOING and are skipped in
        // `recv_batch` instead.
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

    /// Receives every queued frame, up to [`RECV_BATCH`] and as many as `buffer` has
    /// [`FRAME_SLOT`]s for, with one `recvmmsg`, and calls `each` with each whole frame
    /// addressed to this host (unicast to our MAC, broadcast or multicast), in arrival
    /// order. Skipped: frames for another host (a promiscuous tap elsewhere), our own, and
    /// frames larger than a slot. Returns how many frames the kernel handed over (skipped
    /// ones included): fewer than the batch could hold means the queue was empty (the
    /// edge-triggered event is drained; a frame arriving later raises a new one).
    /// `WouldBlock` when nothing was queued.
    ///
    /// A frame sent by a local process (another namespace over a veth, a VM's tap) may
    /// arrive with its UDP checksum not yet computed (checksum offload: the kernel marks it
    /// `TP_STATUS_CSUMNOTREADY` in the `PACKET_AUXDATA` control message, and the field holds
    /// only the pseudo-header sum). Such a frame's UDP checksum is set to 0, RFC 768's "no
    /// checksum", so the frame parser does not reject a valid unicast renewal.
    pub fn recv_batch(&self, buffer: &mut [u8], mut each: impl FnMut(&[u8])) -> io::Result<Batch> {
        let slots = (buffer.len() / FRAME_SLOT).min(RECV_BATCH);
        if slots == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "receive buffer smaller than one frame slot",
            ));
        }
        // SAFETY: these are plain C structs; all-zero is a valid value of each.
        let mut from: [libc::sockaddr_ll; RECV_BATCH] = unsafe { mem::zeroed() };
        let mut control = [AuxBuffer([0; 64]); RECV_BATCH];
        // SAFETY: as above.
        let mut iov: [libc::iovec; RECV_BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut headers: [libc::mmsghdr; RECV_BATCH] = unsafe { mem::zeroed() };
        let base = buffer.as_mut_ptr();
        for (i, ((header, iov), (from, control))) in headers
            .iter_mut()
            .zip(iov.iter_mut())
            .zip(from.iter_mut().zip(control.iter_mut()))
            .take(slots)
            .enumerate()
        {
            // SAFETY: i < slots, so slot i lies inside `buffer`.
            iov.iov_base = unsafe { base.add(i * FRAME_SLOT) }.cast();
            iov.iov_len = FRAME_SLOT;
            let msg = &mut header.msg_hdr;
            msg.msg_name = (from as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = control.0.len() as _;
        }
        // SAFETY: the first `slots` headers point at live locals and at disjoint slots of
        // `buffer`, each of the stated size. MSG_TRUNC makes each msg_len the real length.
        let n = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                headers.as_mut_ptr(),
                slots as libc::c_uint,
                (libc::MSG_TRUNC | libc::MSG_DONTWAIT) as _,
                std::ptr::null_mut(),
            )
        };
        let received = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        for (i, header) in headers.iter().enumerate().take(received.min(slots)) {
            let len = header.msg_len as usize;
            let pkttype = from.get(i).map_or(PACKET_OUTGOING, |f| f.sll_pkttype);
            if len > FRAME_SLOT || pkttype == PACKET_OTHERHOST || pkttype == PACKET_OUTGOING {
                continue;
            }
            // SAFETY: the kernel filled this header's control buffer up to msg_controllen.
            let status = unsafe { aux_status(&header.msg_hdr) };
            let start = i * FRAME_SLOT;
            let Some(frame) = buffer.get_mut(start..start + len) else {
                continue;
            };
            if status & libc::TP_STATUS_CSUMNOTREADY != 0 {
                clear_udp_checksum(frame);
            }
            each(frame);
        }
        Ok(Batch {
            received,
            drained: received < slots,
        })
    }

    /// Sends whole Ethernet frames out of the interface with as few `sendmmsg` calls as
    /// [`SEND_BATCH`] allows. Returns how many were sent from the front and, if not all,
    /// the error of the next one.
    pub fn send_batch(&self, frames: &[&[u8]]) -> (usize, Option<io::Error>) {
        let mut sent = 0;
        while let Some(rest) = frames.get(sent..).filter(|r| !r.is_empty()) {
            let count = rest.len().min(SEND_BATCH);
            // SAFETY: plain C structs; all-zero is valid.
            let mut iov: [libc::iovec; SEND_BATCH] = unsafe { mem::zeroed() };
            // SAFETY: as above.
            let mut headers: [libc::mmsghdr; SEND_BATCH] = unsafe { mem::zeroed() };
            for ((header, iov), frame) in headers.iter_mut().zip(iov.iter_mut()).zip(rest) {
                iov.iov_base = frame.as_ptr() as *mut libc::c_void;
                iov.iov_len = frame.len();
                header.msg_hdr.msg_iov = iov;
                header.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: the first `count` headers point at live iovecs over the callers'
            // frames, which the kernel only reads.
            let n = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    headers.as_mut_ptr(),
                    count as libc::c_uint,
                    0,
                )
            };
            let Ok(n) = usize::try_from(n) else {
                return (sent, Some(io::Error::last_os_error()));
            };
            if n == 0 {
                return (sent, Some(io::Error::from(io::ErrorKind::WriteZero)));
            }
            // A packet socket sends a frame whole or not at all (`packet_snd`).
            sent += n.min(count);
        }
        (sent, None)
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

/// The `tp_status` of a received frame's `PACKET_AUXDATA`, 0 when absent.
///
/// # Safety
/// `msg` is a header `recvmsg`/`recvmmsg` filled, its control buffer still alive.
unsafe fn aux_status(msg: &libc::msghdr) -> u32 {
    let mut status = 0u32;
    // SAFETY: the CMSG macros walk the control buffer the kernel filled, bounded by
    // msg_controllen; a SOL_PACKET/PACKET_AUXDATA payload is a tpacket_auxdata.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            if header.cmsg_level == libc::SOL_PACKET && header.cmsg_type == libc::PACKET_AUXDATA {
                let aux: libc::tpacket_auxdata =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                status = aux.tp_status;
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    status
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
                let mut buffer = vec![0u8; FRAME_SLOT * 2];
                let e = socket.recv_batch(&mut buffer, |_| panic!()).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
                let e = socket
                    .recv_batch(&mut [0u8; 100], |_| panic!())
                    .unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: no CAP_NET_RAW ({e})");
            }
            Err(e) => panic!("open failed: {e}"),
        }
    }

    /// One `recvmmsg` takes every queued frame up to the batch and says whether the queue
    /// is empty; one `sendmmsg` sends a batch whose frames the kernel delivers. Loopback
    /// only, on a port of its own. Needs CAP_NET_RAW; skipped (with a note) when not
    /// privileged.
    #[test]
    fn batches_frames_in_and_out_on_loopback() {
        use std::net::{Ipv4Addr, UdpSocket};
        use wren_core::wire::frame::{build_udp_frame, parse_udp_frame, FrameSpec};

        let lo = nix::net::if_::if_nametoindex("lo").unwrap();
        // A UDP port of our own: the packet socket filters for it.
        let target = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = target.local_addr().unwrap().port();
        let socket = match PacketSocket::open(lo, port) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: no CAP_NET_RAW ({e})");
                return;
            }
            Err(e) => panic!("open failed: {e}"),
        };
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        // More than three slots' worth: the first read is full, the second drains.
        let mut buffer = vec![0u8; FRAME_SLOT * 3];
        for i in 0..5u8 {
            client.send_to(&[i; 20], ("127.0.0.1", port)).unwrap();
        }
        target.set_nonblocking(true).unwrap();
        let mut seen = Vec::new();
        let first = socket
            .recv_batch(&mut buffer, |f| {
                seen.push(parse_udp_frame(f).unwrap().payload.to_vec())
            })
            .unwrap();
        assert_eq!(
            first,
            Batch {
                received: 3,
                drained: false
            }
        );
        let second = socket
            .recv_batch(&mut buffer, |f| {
                seen.push(parse_udp_frame(f).unwrap().payload.to_vec())
            })
            .unwrap();
        assert_eq!(
            second,
            Batch {
                received: 2,
                drained: true
            }
        );
        let expected: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 20]).collect();
        assert_eq!(seen, expected, "every frame, in order");
        // Drain the UDP socket's own copies.
        let mut scratch = [0u8; 64];
        while target.recv(&mut scratch).is_ok() {}

        // Out: three frames in one call. Loopback hands each back to the packet taps as
        // an incoming frame (the IP layer then drops it: a loopback source address that
        // arrives without a route is martian), so the socket reads its own batch back.
        let frames: Vec<Vec<u8>> = (0..3u8)
            .map(|i| {
                let spec = FrameSpec {
                    src_mac: [0; 6],
                    dst_mac: [0; 6],
                    src_ip: Ipv4Addr::LOCALHOST,
                    dst_ip: Ipv4Addr::LOCALHOST,
                    src_port: 9,
                    dst_port: port,
                };
                let mut out = vec![0u8; 100];
                let n = build_udp_frame(&spec, &[0x40 + i; 7], &mut out).unwrap();
                out.truncate(n);
                out
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
        let (sent, error) = socket.send_batch(&refs);
        assert_eq!(sent, 3);
        assert!(error.is_none());
        let mut back = Vec::new();
        let mut big = vec![0u8; FRAME_SLOT * 8];
        for _ in 0..1000 {
            match socket.recv_batch(&mut big, |f| back.push(f.to_vec())) {
                Ok(_) if back.len() >= 3 => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(back, frames, "the batch, whole and in order");
    }
}
