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
    pub fn recv(&self, buffer: &mut [u8]) -> io::Result<Received> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut from: libc::sockaddr_ll = unsafe { mem::zeroed() };
        let mut from_len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `buffer` is writable for its length; `from`/`from_len` describe a valid
        // sockaddr_ll. MSG_TRUNC makes the kernel return the real frame length.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                libc::MSG_TRUNC,
                (&mut from as *mut libc::sockaddr_ll).cast(),
                &mut from_len,
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        if n > buffer.len()
            || from.sll_pkttype == PACKET_OTHERHOST
            || from.sll_pkttype == PACKET_OUTGOING
        {
            return Ok(Received::Skipped);
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
