//! The UDP socket on `0.0.0.0:<server port>`: relayed traffic and unicast renewals, and,
//! with `dhcp-socket-type: udp`, everything. Without it the kernel would also answer
//! relayed unicast with ICMP port-unreachable (freebsd.md §1.7).
//!
//! Each datagram comes with the interface it arrived on and the destination address of
//! its IP header (Linux `IP_PKTINFO`; FreeBSD `IP_RECVIF` + `IP_RECVDSTADDR`, freebsd.md
//! §7), so the event loop can tell broadcasts from unicasts and hand the engine the right
//! interface. Replies leave with an explicit source address (Linux `IP_PKTINFO`, which also
//! pins the outgoing interface for 255.255.255.255; FreeBSD `IP_SENDSRCADDR`).

use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};

/// One received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Payload length in the caller's buffer.
    pub len: usize,
    /// Sender address and port.
    pub source: SocketAddrV4,
    /// The IP header's destination (255.255.255.255 for a broadcast), unspecified when the
    /// kernel did not say.
    pub destination: Ipv4Addr,
    /// Receiving interface index, 0 when the kernel did not say.
    pub ifindex: u32,
}

/// The UDP endpoint.
#[derive(Debug)]
pub struct RelayUdp {
    fd: OwnedFd,
}

/// Ancillary data buffer, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct ControlBuffer([u8; 128]);

fn check(ret: isize) -> io::Result<usize> {
    usize::try_from(ret).map_err(|_| io::Error::last_os_error())
}

impl RelayUdp {
    /// Binds 0.0.0.0:`port` with SO_REUSEADDR, SO_BROADCAST and the receive-metadata options.
    pub fn open(port: u16) -> io::Result<RelayUdp> {
        let fd = socket::socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        socket::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
        socket::setsockopt(&fd, sockopt::Broadcast, &true)?;
        #[cfg(target_os = "linux")]
        super::set_receive_buffer(fd.as_raw_fd(), "UDP socket");
        #[cfg(target_os = "linux")]
        socket::setsockopt(&fd, sockopt::Ipv4PacketInfo, &true)?;
        #[cfg(target_os = "freebsd")]
        {
            socket::setsockopt(&fd, sockopt::Ipv4RecvIf, &true)?;
            socket::setsockopt(&fd, sockopt::Ipv4RecvDstAddr, &true)?;
        }
        socket::bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)),
        )?;
        Ok(RelayUdp { fd })
    }

    /// Linux: attaches (`true`) or detaches (`false`) a one-instruction socket filter that
    /// drops every datagram before it is queued. Other platforms: nothing to do, the event
    /// loop drops the duplicates after reading them.
    pub fn set_drop_all(&self, drop_all: bool) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            let fd = self.fd.as_raw_fd();
            if drop_all {
                let mut program = [libc::sock_filter {
                    code: super::filter::op::RET_K,
                    jt: 0,
                    jf: 0,
                    k: 0,
                }];
                let fprog = libc::sock_fprog {
                    len: 1,
                    filter: program.as_mut_ptr(),
                };
                // SAFETY: `fprog` points at `program`, both live across the call.
                let ret = unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_ATTACH_FILTER,
                        (&fprog as *const libc::sock_fprog).cast(),
                        mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
                    )
                };
                if ret < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else {
                let zero: libc::c_int = 0;
                // SAFETY: SO_DETACH_FILTER ignores its argument; `zero` is valid anyway.
                let ret = unsafe {
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_DETACH_FILTER,
                        (&zero as *const libc::c_int).cast(),
                        mem::size_of::<libc::c_int>() as libc::socklen_t,
                    )
                };
                // ENOENT: no filter was attached.
                if ret < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = drop_all;
        Ok(())
    }

    /// Receives one datagram into `buffer`. `WouldBlock` when drained. A datagram larger
    /// than the buffer is reported with `len` > `buffer.len()` (the caller drops it).
    pub fn recv(&self, buffer: &mut [u8]) -> io::Result<Datagram> {
        let mut control = ControlBuffer([0; 128]);
        // SAFETY: sockaddr_in and msghdr are plain data; all-zero is valid.
        let mut from: libc::sockaddr_in = unsafe { mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: buffer.as_mut_ptr().cast(),
            iov_len: buffer.len(),
        };
        // SAFETY: as above.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len() as _;
        // SAFETY: every pointer in `msg` refers to a live local of the stated size.
        let n = check(unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) })?;
        let mut datagram = Datagram {
            len: n,
            source: SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(from.sin_addr.s_addr)),
                u16::from_be(from.sin_port),
            ),
            destination: Ipv4Addr::UNSPECIFIED,
            ifindex: 0,
        };
        // SAFETY: `msg` was just filled by recvmsg; `control` is alive.
        unsafe { read_all_control(&msg, &mut datagram) };
        Ok(datagram)
    }

    /// Receives every queued datagram, up to [`super::RECV_BATCH`] and as many as `buffer`
    /// has [`super::FRAME_SLOT`]s for, with one `recvmmsg`, and calls `each` with each
    /// one's metadata and payload, in arrival order; a datagram larger than a slot is
    /// skipped. Fewer received than the batch could hold means the queue was empty.
    /// `WouldBlock` when nothing was queued.
    pub fn recv_batch(
        &self,
        buffer: &mut [u8],
        mut each: impl FnMut(&Datagram, &[u8]),
    ) -> io::Result<super::Batch> {
        use super::{FRAME_SLOT, RECV_BATCH};
        let slots = (buffer.len() / FRAME_SLOT).min(RECV_BATCH);
        if slots == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "receive buffer smaller than one datagram slot",
            ));
        }
        // SAFETY: these are plain C structs; all-zero is a valid value of each.
        let mut from: [libc::sockaddr_in; RECV_BATCH] = unsafe { mem::zeroed() };
        let mut control: [ControlBuffer; RECV_BATCH] =
            [const { ControlBuffer([0; 128]) }; RECV_BATCH];
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
            msg.msg_name = (from as *mut libc::sockaddr_in).cast();
            msg.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            msg.msg_iov = iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = control.0.len() as _;
        }
        // SAFETY: the first `slots` headers point at live locals and at disjoint slots of
        // `buffer`, each of the stated size. MSG_TRUNC: each msg_len is the real length.
        let n = unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                headers.as_mut_ptr(),
                slots as _,
                (libc::MSG_TRUNC | libc::MSG_DONTWAIT) as _,
                std::ptr::null_mut(),
            )
        };
        let received = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        for (i, header) in headers.iter().enumerate().take(received.min(slots)) {
            let len = header.msg_len as usize;
            let Some(sender) = from.get(i) else {
                continue;
            };
            let mut datagram = Datagram {
                len,
                source: SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(sender.sin_addr.s_addr)),
                    u16::from_be(sender.sin_port),
                ),
                destination: Ipv4Addr::UNSPECIFIED,
                ifindex: 0,
            };
            // SAFETY: the kernel filled this header's control buffer (still alive) up to
            // msg_controllen.
            unsafe { read_all_control(&header.msg_hdr, &mut datagram) };
            let start = i * FRAME_SLOT;
            if len > FRAME_SLOT {
                continue;
            }
            if let Some(payload) = buffer.get(start..start + len) {
                each(&datagram, payload);
            }
        }
        Ok(super::Batch {
            received,
            drained: received < slots,
        })
    }

    /// A socket opened elsewhere (the broker's copy of the server's, see
    /// [`crate::sandbox::broker`]).
    pub fn from_fd(fd: OwnedFd) -> RelayUdp {
        RelayUdp { fd }
    }

    /// [`Self::send_direct`], or, when the sandbox started a broker (capability mode, where
    /// `sendmsg` with a destination is `ECAPMODE`), the same send made by the broker on its
    /// copy of this socket ([`crate::sandbox::broker::Broker::send_udp`]).
    pub fn send(
        &self,
        payload: &[u8],
        to: SocketAddrV4,
        source: Ipv4Addr,
        ifindex: u32,
    ) -> io::Result<()> {
        match crate::sandbox::broker::installed() {
            Some(broker) => broker.send_udp(self.fd.as_raw_fd(), payload, to, source, ifindex),
            None => self.send_direct(payload, to, source, ifindex),
        }
    }

    /// Sends `payload` to `to`, from `source` (an address of the interface, or unspecified
    /// to let the kernel choose), out of `ifindex` where the platform allows (Linux; 0 lets
    /// routing decide).
    ///
    /// Only the `dhcp-socket-type: udp` path (and raw-mode replies with no known Ethernet
    /// next hop) use it: `sendmsg` with a destination address is `ECAPMODE` in Capsicum
    /// capability mode (freebsd.md §2), so raw mode sends frames instead
    /// (`packet_path::leaves_as_frame`) and udp mode goes through the broker ([`Self::send`]).
    pub fn send_direct(
        &self,
        payload: &[u8],
        to: SocketAddrV4,
        source: Ipv4Addr,
        ifindex: u32,
    ) -> io::Result<()> {
        let mut control = ControlBuffer([0; 128]);
        // SAFETY: plain data; all-zero is valid.
        let mut dest: libc::sockaddr_in = unsafe { mem::zeroed() };
        dest.sin_family = libc::AF_INET as libc::sa_family_t;
        dest.sin_port = to.port().to_be();
        dest.sin_addr.s_addr = u32::from(*to.ip()).to_be();
        #[cfg(target_os = "freebsd")]
        {
            dest.sin_len = mem::size_of::<libc::sockaddr_in>() as u8;
        }
        let mut iov = libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: payload.len(),
        };
        // SAFETY: plain data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_name = (&mut dest as *mut libc::sockaddr_in).cast();
        msg.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        let wants_control = !source.is_unspecified() || ifindex != 0;
        if wants_control {
            msg.msg_control = control.0.as_mut_ptr().cast();
            // SAFETY: computes a size, no memory access.
            msg.msg_controllen = unsafe { libc::CMSG_SPACE(source_control_len()) } as _;
            // SAFETY: the control buffer holds CMSG_SPACE(len) bytes (checked by the
            // const assertion below), so the first header and its payload fit.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                write_source_control(cmsg, source, ifindex);
            }
        }
        // SAFETY: every pointer in `msg` refers to a live local of the stated size.
        let n = check(unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, 0) })?;
        if n == payload.len() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short datagram write",
            ))
        }
    }
}

/// Datagrams one `sendmmsg` takes at most (stack arrays of this many headers).
pub const SEND_BATCH: usize = 64;

impl RelayUdp {
    /// Sends `datagrams` in order, each as [`Self::send_direct`] would (its own destination,
    /// source address and interface), with one `sendmmsg` per [`SEND_BATCH`]; through the
    /// broker one by one when the sandbox installed one ([`Self::send`]). Returns how many
    /// were sent from the front and, if not all, the error of the next one.
    pub fn send_batch(
        &self,
        datagrams: &[crate::packet_path::Outgoing<'_>],
    ) -> (usize, Option<io::Error>) {
        if crate::sandbox::broker::installed().is_some() {
            for (sent, d) in datagrams.iter().enumerate() {
                if let Err(e) = self.send(d.payload, d.to, d.source, d.ifindex) {
                    return (sent, Some(e));
                }
            }
            return (datagrams.len(), None);
        }
        let mut sent = 0;
        while let Some(rest) = datagrams.get(sent..).filter(|r| !r.is_empty()) {
            let count = rest.len().min(SEND_BATCH);
            // SAFETY: plain C structs; all-zero is valid.
            let mut names: [libc::sockaddr_in; SEND_BATCH] = unsafe { mem::zeroed() };
            let mut control: [ControlBuffer; SEND_BATCH] =
                [const { ControlBuffer([0; 128]) }; SEND_BATCH];
            // SAFETY: as above.
            let mut iov: [libc::iovec; SEND_BATCH] = unsafe { mem::zeroed() };
            // SAFETY: as above.
            let mut headers: [libc::mmsghdr; SEND_BATCH] = unsafe { mem::zeroed() };
            for ((header, iov), ((name, control), d)) in headers
                .iter_mut()
                .zip(iov.iter_mut())
                .zip(names.iter_mut().zip(control.iter_mut()).zip(rest))
            {
                name.sin_family = libc::AF_INET as libc::sa_family_t;
                name.sin_port = d.to.port().to_be();
                name.sin_addr.s_addr = u32::from(*d.to.ip()).to_be();
                #[cfg(target_os = "freebsd")]
                {
                    name.sin_len = mem::size_of::<libc::sockaddr_in>() as u8;
                }
                iov.iov_base = d.payload.as_ptr() as *mut libc::c_void;
                iov.iov_len = d.payload.len();
                let msg = &mut header.msg_hdr;
                msg.msg_name = (name as *mut libc::sockaddr_in).cast();
                msg.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                msg.msg_iov = iov;
                msg.msg_iovlen = 1;
                if !d.source.is_unspecified() || d.ifindex != 0 {
                    msg.msg_control = control.0.as_mut_ptr().cast();
                    // SAFETY: computes a size, no memory access.
                    msg.msg_controllen = unsafe { libc::CMSG_SPACE(source_control_len()) } as _;
                    // SAFETY: the control buffer holds CMSG_SPACE(len) bytes (the const
                    // assertion below), so the first header and its payload fit.
                    unsafe {
                        let cmsg = libc::CMSG_FIRSTHDR(msg);
                        write_source_control(cmsg, d.source, d.ifindex);
                    }
                }
            }
            // SAFETY: the first `count` headers point at live locals and at the callers'
            // payloads, which the kernel only reads.
            let n =
                unsafe { libc::sendmmsg(self.fd.as_raw_fd(), headers.as_mut_ptr(), count as _, 0) };
            let Ok(n) = usize::try_from(n) else {
                return (sent, Some(io::Error::last_os_error()));
            };
            if n == 0 {
                return (sent, Some(io::Error::from(io::ErrorKind::WriteZero)));
            }
            // A UDP socket sends a datagram whole or not at all.
            sent += n.min(count);
        }
        (sent, None)
    }
}

#[cfg(target_os = "linux")]
const fn source_control_len() -> u32 {
    mem::size_of::<libc::in_pktinfo>() as u32
}

#[cfg(target_os = "freebsd")]
const fn source_control_len() -> u32 {
    mem::size_of::<libc::in_addr>() as u32
}

const _: () = assert!(source_control_len() as usize + 32 <= 128);

/// The interface and header destination from a received message's control data.
///
/// # Safety
/// `msg` is a header `recvmsg`/`recvmmsg` filled, its control buffer still alive.
unsafe fn read_all_control(msg: &libc::msghdr, datagram: &mut Datagram) {
    // SAFETY: the CMSG macros walk the control buffer the kernel filled, bounded by
    // msg_controllen; each payload read is of the type the (level, type) pair names.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            let data = libc::CMSG_DATA(cmsg);
            if header.cmsg_level == libc::IPPROTO_IP {
                read_control(header.cmsg_type, data, datagram);
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
}

/// Linux: `IP_PKTINFO` carries both the interface and the header destination.
///
/// # Safety
/// `data` points at the payload of a control message of type `kind` at level IPPROTO_IP.
#[cfg(target_os = "linux")]
unsafe fn read_control(kind: libc::c_int, data: *const u8, datagram: &mut Datagram) {
    if kind == libc::IP_PKTINFO {
        // SAFETY: an IP_PKTINFO payload is a struct in_pktinfo; it may be unaligned.
        let info: libc::in_pktinfo = unsafe { std::ptr::read_unaligned(data.cast()) };
        datagram.ifindex = u32::try_from(info.ipi_ifindex).unwrap_or(0);
        datagram.destination = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
    }
}

/// FreeBSD: `IP_RECVDSTADDR` gives an `in_addr`, `IP_RECVIF` a `sockaddr_dl`.
///
/// # Safety
/// `data` points at the payload of a control message of type `kind` at level IPPROTO_IP.
#[cfg(target_os = "freebsd")]
unsafe fn read_control(kind: libc::c_int, data: *const u8, datagram: &mut Datagram) {
    if kind == libc::IP_RECVDSTADDR {
        // SAFETY: the payload is a struct in_addr; it may be unaligned.
        let addr: libc::in_addr = unsafe { std::ptr::read_unaligned(data.cast()) };
        datagram.destination = Ipv4Addr::from(u32::from_be(addr.s_addr));
    } else if kind == libc::IP_RECVIF {
        // SAFETY: the payload is a struct sockaddr_dl; it may be unaligned.
        let link: libc::sockaddr_dl = unsafe { std::ptr::read_unaligned(data.cast()) };
        datagram.ifindex = u32::from(link.sdl_index);
    }
}

/// # Safety
/// `cmsg` points at a control header with room for `source_control_len()` payload bytes.
#[cfg(target_os = "linux")]
unsafe fn write_source_control(cmsg: *mut libc::cmsghdr, source: Ipv4Addr, ifindex: u32) {
    // SAFETY: per the function contract.
    unsafe {
        (*cmsg).cmsg_level = libc::IPPROTO_IP;
        (*cmsg).cmsg_type = libc::IP_PKTINFO;
        (*cmsg).cmsg_len = libc::CMSG_LEN(source_control_len()) as _;
        let info = libc::in_pktinfo {
            ipi_ifindex: libc::c_int::try_from(ifindex).unwrap_or(0),
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(source).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), info);
    }
}

/// # Safety
/// `cmsg` points at a control header with room for `source_control_len()` payload bytes.
#[cfg(target_os = "freebsd")]
unsafe fn write_source_control(cmsg: *mut libc::cmsghdr, source: Ipv4Addr, _ifindex: u32) {
    // SAFETY: per the function contract.
    unsafe {
        (*cmsg).cmsg_level = libc::IPPROTO_IP;
        (*cmsg).cmsg_type = libc::IP_SENDSRCADDR;
        (*cmsg).cmsg_len = libc::CMSG_LEN(source_control_len()) as _;
        let addr = libc::in_addr {
            s_addr: u32::from(source).to_be(),
        };
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast(), addr);
    }
}

impl AsRawFd for RelayUdp {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for RelayUdp {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn receives_with_metadata_and_replies_from_a_chosen_source() {
        // An unprivileged port on loopback only.
        let server = RelayUdp::open(0).unwrap();
        let local: SocketAddrV4 = match socket::getsockname::<SockaddrIn>(server.as_raw_fd()) {
            Ok(a) => SocketAddrV4::new(Ipv4Addr::LOCALHOST, a.port()),
            Err(e) => panic!("{e}"),
        };
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"hello relay", local).unwrap();
        let mut buffer = [0u8; 1500];
        let datagram = loop {
            match server.recv(&mut buffer) {
                Ok(d) => break d,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(&buffer[..datagram.len], b"hello relay");
        assert_eq!(datagram.destination, Ipv4Addr::LOCALHOST);
        let lo = nix::net::if_::if_nametoindex(crate::link::interfaces::LOOPBACK).unwrap();
        assert_eq!(datagram.ifindex, lo);
        let client_addr = match client.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        assert_eq!(datagram.source, client_addr);

        server
            .send(b"reply", client_addr, Ipv4Addr::LOCALHOST, lo)
            .unwrap();
        let mut reply = [0u8; 64];
        let (n, from) = client.recv_from(&mut reply).unwrap();
        assert_eq!(&reply[..n], b"reply");
        assert_eq!(from, std::net::SocketAddr::V4(local));
    }

    #[test]
    fn drop_all_filter_keeps_datagrams_out_and_comes_off() {
        let server = RelayUdp::open(0).unwrap();
        let port = socket::getsockname::<SockaddrIn>(server.as_raw_fd())
            .unwrap()
            .port();
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut buffer = [0u8; 64];
        server.set_drop_all(true).unwrap();
        client.send_to(b"dropped", to).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            server.recv(&mut buffer).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        server.set_drop_all(false).unwrap();
        server.set_drop_all(false).unwrap(); // detaching twice is fine
        client.send_to(b"kept", to).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let d = server.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..d.len], b"kept");
    }

    /// One `recvmmsg` takes what is queued, with each datagram's metadata, and says when
    /// the queue is empty; an oversized datagram is skipped but counted.
    #[test]
    fn batch_receive_with_metadata() {
        let server = RelayUdp::open(0).unwrap();
        let port = socket::getsockname::<SockaddrIn>(server.as_raw_fd())
            .unwrap()
            .port();
        let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let from = match client.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        let lo = nix::net::if_::if_nametoindex(crate::link::interfaces::LOOPBACK).unwrap();
        let mut buffer = vec![0u8; crate::link::FRAME_SLOT * 2];
        assert_eq!(
            server
                .recv_batch(&mut buffer, |_, _| panic!())
                .unwrap_err()
                .kind(),
            io::ErrorKind::WouldBlock
        );
        client.send_to(b"one", to).unwrap();
        client
            .send_to(&[7u8; crate::link::FRAME_SLOT + 1], to)
            .unwrap();
        client.send_to(b"three", to).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut seen = Vec::new();
        let take = |buffer: &mut Vec<u8>, seen: &mut Vec<(Vec<u8>, Datagram)>| {
            server
                .recv_batch(buffer, |d, p| seen.push((p.to_vec(), *d)))
                .unwrap()
        };
        let first = take(&mut buffer, &mut seen);
        assert_eq!((first.received, first.drained), (2, false));
        let second = take(&mut buffer, &mut seen);
        assert_eq!((second.received, second.drained), (1, true));
        let payloads: Vec<&[u8]> = seen.iter().map(|(p, _)| &p[..]).collect();
        assert_eq!(payloads, vec![&b"one"[..], &b"three"[..]]);
        for (payload, d) in &seen {
            assert_eq!(d.len, payload.len());
            assert_eq!(d.source, from);
            assert_eq!(d.destination, Ipv4Addr::LOCALHOST);
            assert_eq!(d.ifindex, lo);
        }
    }

    /// One `sendmmsg` sends datagrams to different destinations, each from its source.
    #[test]
    fn batch_send_to_several_destinations() {
        let server = RelayUdp::open(0).unwrap();
        let port = socket::getsockname::<SockaddrIn>(server.as_raw_fd())
            .unwrap()
            .port();
        let lo = nix::net::if_::if_nametoindex(crate::link::interfaces::LOOPBACK).unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = |s: &UdpSocket| match s.local_addr().unwrap() {
            std::net::SocketAddr::V4(v4) => v4,
            other => panic!("{other}"),
        };
        let out = [
            crate::packet_path::Outgoing {
                payload: b"to a",
                to: to(&a),
                source: Ipv4Addr::LOCALHOST,
                ifindex: lo,
            },
            crate::packet_path::Outgoing {
                payload: b"to b",
                to: to(&b),
                source: Ipv4Addr::UNSPECIFIED,
                ifindex: 0,
            },
            crate::packet_path::Outgoing {
                payload: b"to a again",
                to: to(&a),
                source: Ipv4Addr::LOCALHOST,
                ifindex: 0,
            },
        ];
        let (sent, error) = server.send_batch(&out);
        assert_eq!(sent, 3);
        assert!(error.is_none());
        let from = std::net::SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
        let mut buf = [0u8; 64];
        for (socket, expected) in [(&a, &b"to a"[..]), (&b, b"to b"), (&a, b"to a again")] {
            socket
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let (n, source) = socket.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], expected);
            assert_eq!(source, from);
        }
        // Nothing to send is no call and no error.
        assert_eq!(server.send_batch(&[]).0, 0);
    }

    #[test]
    fn empty_queue_would_block() {
        let server = RelayUdp::open(0).unwrap();
        let mut buffer = [0u8; 64];
        assert_eq!(
            server.recv(&mut buffer).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
