//! "Something about the interfaces changed": a routing socket that wakes the loop when an
//! interface appears, goes away, goes up or down, or gains or loses an address. The
//! messages are not parsed; any of them schedules a re-scan ([`super::interfaces::scan`]),
//! so a USB Ethernet unplugged and replugged (the Pi's ue0, freebsd.md §8) is served again
//! without a timer waking an idle server.
//!
//! Linux: `AF_NETLINK`/`NETLINK_ROUTE` subscribed to `RTMGRP_LINK | RTMGRP_IPV4_IFADDR`.
//! FreeBSD: `PF_ROUTE` (RTM_IFANNOUNCE, RTM_IFINFO, RTM_NEWADDR, RTM_DELADDR among the
//! rest, freebsd.md §7); on detach BPF may never report an error, so this is the signal.

use std::io;
#[cfg(target_os = "linux")]
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The routing socket.
#[derive(Debug)]
pub struct RouteEvents {
    fd: OwnedFd,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl RouteEvents {
    /// Opens and subscribes the socket (non-blocking).
    pub fn open() -> io::Result<RouteEvents> {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: plain syscall; the result is checked.
            let raw = check(unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    libc::NETLINK_ROUTE,
                )
            })?;
            // SAFETY: `raw` is a fresh descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: sockaddr_nl is plain data; all-zero is valid.
            let mut address: libc::sockaddr_nl = unsafe { mem::zeroed() };
            address.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            address.nl_groups = (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR) as u32;
            // SAFETY: `address` is a valid sockaddr_nl of the size passed.
            check(unsafe {
                libc::bind(
                    raw,
                    (&address as *const libc::sockaddr_nl).cast(),
                    mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            })?;
            Ok(RouteEvents { fd })
        }
        #[cfg(target_os = "freebsd")]
        {
            // SAFETY: plain syscall; the result is checked.
            let raw = check(unsafe {
                libc::socket(
                    libc::PF_ROUTE,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    libc::AF_UNSPEC,
                )
            })?;
            // SAFETY: `raw` is a fresh descriptor nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            Ok(RouteEvents { fd })
        }
    }

    /// Reads every queued message; returns whether there was any (or the kernel dropped
    /// some: ENOBUFS means "you missed changes", which is a change too).
    pub fn drain(&self) -> bool {
        let mut buffer = [0u8; 8192];
        let mut changed = false;
        loop {
            // SAFETY: `buffer` is writable for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    0,
                )
            };
            if n > 0 {
                changed = true;
                continue;
            }
            if n == 0 {
                return changed;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return changed,
                io::ErrorKind::Interrupted => continue,
                _ if e.raw_os_error() == Some(libc::ENOBUFS) => changed = true,
                _ => return changed,
            }
        }
    }
}

impl AsRawFd for RouteEvents {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Brings `lo` up with SIOCSIFFLAGS (in the calling thread's network namespace).
    fn loopback_up() -> io::Result<()> {
        // SAFETY: plain syscall; the result is checked.
        let raw = check(unsafe {
            libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)
        })?;
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut request: libc::ifreq = unsafe { mem::zeroed() };
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo") {
            *slot = *byte as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write one struct ifreq.
        unsafe {
            check(libc::ioctl(
                fd.as_raw_fd(),
                libc::SIOCGIFFLAGS,
                &mut request,
            ))?;
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            check(libc::ioctl(
                fd.as_raw_fd(),
                libc::SIOCSIFFLAGS,
                &mut request,
            ))?;
        }
        Ok(())
    }

    /// In a private network namespace (a thread of its own, so the test process's
    /// namespace is untouched): nothing queued at first, then bringing `lo` up is seen.
    #[test]
    fn reports_a_link_change() {
        let outcome = std::thread::spawn(|| -> io::Result<(bool, bool)> {
            // SAFETY: affects only this thread's network namespace.
            check(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
            let events = RouteEvents::open()?;
            let before = events.drain();
            loopback_up()?;
            Ok((before, events.drain()))
        })
        .join()
        .unwrap();
        match outcome {
            Ok((before, after)) => {
                assert!(!before, "a fresh namespace has no pending changes");
                assert!(after, "lo going up is reported");
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                eprintln!("skipped: cannot create a network namespace ({e})");
            }
            Err(e) => panic!("{e}"),
        }
    }
}
