//! A Linux AF_PACKET raw socket bound to one interface: whole Ethernet frames out and in, as
//! a DHCP client without an address must use (it cannot send from an IP address it does not
//! have, and the server answers to its MAC or to broadcast).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// EtherType IPv4, the only frames the socket asks the kernel for.
const ETH_P_IP: u16 = 0x0800;

/// One AF_PACKET socket bound to an interface, in promiscuous mode (replies unicast to the
/// clients' made-up MACs must reach us), non-blocking.
pub struct RawSocket {
    fd: OwnedFd,
    ifindex: i32,
}

fn check(rc: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    } else {
        Ok(rc)
    }
}

impl RawSocket {
    /// Opens the socket on `iface` (needs CAP_NET_RAW).
    pub fn open(iface: &str) -> io::Result<RawSocket> {
        let name = CString::new(iface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has NUL"))?;
        // SAFETY: if_nametoindex reads a valid NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if index == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no interface {iface}"),
            ));
        }
        let ifindex = i32::try_from(index)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index too big"))?;
        // SAFETY: plain socket(2) call.
        let raw = check(
            unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    i32::from(ETH_P_IP.to_be()),
                )
            },
            "socket(AF_PACKET)",
        )?;
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sock = RawSocket { fd, ifindex };
        sock.bind()?;
        sock.set_promiscuous()?;
        // Large buffers: thousands of replies may arrive between two polls.
        sock.set_int(libc::SOL_SOCKET, libc::SO_RCVBUF, 8 << 20)?;
        sock.set_int(libc::SOL_SOCKET, libc::SO_SNDBUF, 4 << 20)?;
        Ok(sock)
    }

    fn address(&self) -> libc::sockaddr_ll {
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_IP.to_be();
        sll.sll_ifindex = self.ifindex;
        sll
    }

    fn bind(&self) -> io::Result<()> {
        let sll = self.address();
        // SAFETY: bind(2) with a valid sockaddr_ll and its exact size.
        check(
            unsafe {
                libc::bind(
                    self.fd.as_raw_fd(),
                    std::ptr::addr_of!(sll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            },
            "bind(AF_PACKET)",
        )?;
        Ok(())
    }

    fn set_promiscuous(&self) -> io::Result<()> {
        // SAFETY: packet_mreq is plain old data.
        let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mreq.mr_ifindex = self.ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        // SAFETY: setsockopt(2) with a valid packet_mreq and its exact size.
        check(
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_ADD_MEMBERSHIP,
                    std::ptr::addr_of!(mreq).cast(),
                    std::mem::size_of::<libc::packet_mreq>() as libc::socklen_t,
                )
            },
            "PACKET_ADD_MEMBERSHIP",
        )?;
        Ok(())
    }

    fn set_int(&self, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
        // SAFETY: setsockopt(2) with an int value.
        check(
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    level,
                    name,
                    std::ptr::addr_of!(value).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            },
            "setsockopt",
        )?;
        Ok(())
    }

    /// Sends one whole frame. `Ok(false)` when the send buffer is full (counted as not sent).
    pub fn send(&self, frame: &[u8]) -> io::Result<bool> {
        // SAFETY: send(2) reads `frame.len()` bytes from a valid slice.
        let rc = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(false);
            }
            return Err(e);
        }
        Ok(true)
    }

    /// Receives one incoming frame (outgoing copies of our own frames are skipped).
    /// `Ok(None)` when nothing is queued.
    pub fn recv<'b>(&self, buf: &'b mut [u8]) -> io::Result<Option<&'b [u8]>> {
        loop {
            // SAFETY: sockaddr_ll is plain old data.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: recvfrom(2) writes at most `buf.len()` bytes and a sockaddr_ll.
            let rc = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    std::ptr::addr_of_mut!(from).cast(),
                    &mut from_len,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    return Ok(None);
                }
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if from.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let n = usize::try_from(rc).unwrap_or(0).min(buf.len());
            return Ok(buf.get(..n));
        }
    }

    /// Waits until a frame is readable or `timeout` passes.
    pub fn wait_readable(&self, timeout: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: poll(2) on one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(e);
        }
        Ok(rc > 0)
    }
}
