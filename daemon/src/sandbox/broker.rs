//! The syslog broker: a tiny process outside capability mode that connects datagram sockets
//! for the sandboxed server (freebsd.md §2, "Recommended shape").
//!
//! Why: after a syslogd restart the server must `connect(2)` a new socket to `/var/run/log`,
//! and `connect` is `ECAPMODE` in capability mode. The broker is forked after the privilege
//! drop (same unprivileged user) and before `cap_enter`; it keeps only its end of a unix
//! stream socketpair. A request is a path; the answer is an errno (0 on success) and, on
//! success, the connected socket passed with `SCM_RIGHTS`. It can only connect *datagram*
//! unix sockets, as the unprivileged user, which is exactly what logging needs.
//!
//! The broker is forked twice (the intermediate child exits at once and is reaped before
//! the sandbox) so it belongs to init: the server never needs `wait4`, which capability mode
//! refuses. It exits when the server's end closes. Between `fork` and its loop it performs
//! only system calls on stack buffers — no allocation — so forking from a process with other
//! threads (the unit tests) cannot deadlock it.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::sync::Mutex;

use nix::unistd::ForkResult;

/// `sizeof(sun_path)`: 104 on FreeBSD, 108 on Linux.
fn sun_path_capacity() -> usize {
    // SAFETY: sockaddr_un is plain data.
    let address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_path.len()
}

/// The server's handle on the broker; `connect` is safe to call from any thread.
#[derive(Debug)]
pub struct SyslogBroker {
    socket: Mutex<UnixStream>,
}

impl SyslogBroker {
    /// Forks the broker. Call after the privilege drop, before `cap_enter`.
    pub fn spawn() -> io::Result<SyslogBroker> {
        let (ours, theirs) = UnixStream::pair()?;
        // SAFETY: the child only runs `serve`, which makes system calls on stack data and
        // ends in `_exit`; the intermediate child only forks and `_exit`s.
        match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
            ForkResult::Child => {
                // SAFETY: as above.
                match unsafe { nix::unistd::fork() } {
                    Ok(ForkResult::Child) => serve(theirs.as_raw_fd()),
                    // SAFETY: _exit never returns and runs no destructors.
                    _ => unsafe { libc::_exit(0) },
                }
            }
            ForkResult::Parent { child } => {
                drop(theirs);
                nix::sys::wait::waitpid(child, None).map_err(io::Error::from)?;
                Ok(SyslogBroker {
                    socket: Mutex::new(ours),
                })
            }
        }
    }

    /// Asks the broker for a datagram socket connected to `path`.
    pub fn connect(&self, path: &Path) -> io::Result<UnixDatagram> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if bytes.is_empty() || bytes.len() >= sun_path_capacity() || bytes.contains(&0) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let mut socket = self
            .socket
            .lock()
            .map_err(|_| io::Error::other("broker lock poisoned"))?;
        let len = u16::try_from(bytes.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut request = Vec::with_capacity(2 + bytes.len());
        request.extend_from_slice(&len.to_ne_bytes());
        request.extend_from_slice(bytes);
        socket.write_all(&request)?;
        receive_answer(socket.as_raw_fd())
    }
}

/// Reads the 4-byte errno and, with 0, the passed descriptor.
fn receive_answer(fd: RawFd) -> io::Result<UnixDatagram> {
    let mut errno = [0u8; 4];
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: errno.as_mut_ptr().cast(),
        iov_len: errno.len(),
    };
    // SAFETY: msghdr is plain data; zero is valid.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: every pointer in `message` refers to live buffers of the stated sizes.
    let n = unsafe { libc::recvmsg(fd, &mut message, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != errno.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "syslog broker gone",
        ));
    }
    let code = i32::from_ne_bytes(errno);
    if code != 0 {
        return Err(io::Error::from_raw_os_error(code));
    }
    // SAFETY: the kernel filled `control` with `msg_controllen` bytes of cmsgs.
    let header = unsafe { libc::CMSG_FIRSTHDR(&message) };
    if header.is_null() {
        return Err(io::Error::other("syslog broker sent no descriptor"));
    }
    // SAFETY: `header` points into `control`.
    let (level, kind) = unsafe { ((*header).cmsg_level, (*header).cmsg_type) };
    if level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS {
        return Err(io::Error::other("syslog broker sent an unexpected message"));
    }
    // SAFETY: SCM_RIGHTS data is at least one int; read unaligned to be safe.
    let passed: RawFd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(header).cast()) };
    // SAFETY: the kernel installed `passed` in this process for us alone.
    Ok(unsafe { UnixDatagram::from_raw_fd(passed) })
}

/// Reads exactly `buffer.len()` bytes; false on EOF or error.
fn read_exact_raw(fd: RawFd, buffer: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buffer.len() {
        let Some(rest) = buffer.get_mut(done..) else {
            return false;
        };
        // SAFETY: `rest` is writable for its length.
        let n = unsafe { libc::read(fd, rest.as_mut_ptr().cast(), rest.len()) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

/// Connects a new datagram socket to the path in `path` (not NUL-terminated); returns the
/// socket or the errno.
fn connect_datagram(path: &[u8]) -> Result<RawFd, i32> {
    // SAFETY: sockaddr_un is plain data; zero is valid.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if path.is_empty() || path.len() >= address.sun_path.len() {
        return Err(libc::EINVAL);
    }
    for (slot, byte) in address.sun_path.iter_mut().zip(path) {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // SAFETY: `address` is a valid sockaddr_un of the size passed.
    let ret = unsafe {
        libc::connect(
            fd,
            (&address as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if ret != 0 {
        let errno = io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO);
        // SAFETY: our own descriptor.
        unsafe { libc::close(fd) };
        return Err(errno);
    }
    Ok(fd)
}

/// Sends the errno and, when `fd` is given, the descriptor.
fn answer(channel: RawFd, result: Result<RawFd, i32>) -> bool {
    let code: i32 = match result {
        Ok(_) => 0,
        Err(e) => e,
    };
    let bytes = code.to_ne_bytes();
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; zero is valid.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    if let Ok(fd) = result {
        // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic.
        let (space, len) = unsafe {
            (
                libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as _),
                libc::CMSG_LEN(std::mem::size_of::<RawFd>() as _),
            )
        };
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = space as _;
        // SAFETY: `control` (64 bytes) holds CMSG_SPACE(4); the header pointer is inside it.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(&message);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = len as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: every pointer in `message` refers to live buffers of the stated sizes.
    let sent = unsafe { libc::sendmsg(channel, &message, 0) };
    if let Ok(fd) = result {
        // SAFETY: our copy; the receiver has its own.
        unsafe { libc::close(fd) };
    }
    sent == bytes.len() as isize
}

/// The broker's life: close everything but the channel and stdio, answer until EOF.
fn serve(channel: RawFd) -> ! {
    // SAFETY: sysconf has no memory effects.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(64, 65_536) as RawFd;
    for fd in 3..max {
        if fd != channel {
            // SAFETY: closing descriptors of this (forked) process only.
            unsafe { libc::close(fd) };
        }
    }
    // Nor the terminal or pipes of whoever started the server (a `service wrend start |
    // cat` must see EOF when the server detaches).
    // SAFETY: a static NUL-terminated path; dup2 onto our own standard descriptors.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for target in 0..=2 {
                libc::dup2(null, target);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
    let mut path = [0u8; 128];
    loop {
        let mut len = [0u8; 2];
        if !read_exact_raw(channel, &mut len) {
            break;
        }
        let len = usize::from(u16::from_ne_bytes(len));
        let Some(request) = path.get_mut(..len) else {
            break; // a length we cannot hold: the protocol is broken, stop
        };
        if !read_exact_raw(channel, request) {
            break;
        }
        if !answer(channel, connect_datagram(request)) {
            break;
        }
    }
    // SAFETY: _exit never returns and runs no destructors (nothing of the parent's state).
    unsafe { libc::_exit(0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::time::Duration;

    #[test]
    fn connects_datagram_sockets_and_reports_errors() {
        let dir = std::env::temp_dir().join(format!("wrend-broker-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log_path = dir.join("log");
        let syslogd = UnixDatagram::bind(&log_path).unwrap();
        syslogd
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();

        let broker = SyslogBroker::spawn().unwrap();
        let socket = broker.connect(&log_path).unwrap();
        socket.send(b"<30>wrend: through the broker").unwrap();
        let mut buf = [0u8; 64];
        let n = syslogd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<30>wrend: through the broker");

        // A second request on the same channel works too (syslogd restarted).
        let again = broker.connect(&log_path).unwrap();
        again.send(b"again").unwrap();
        let n = syslogd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"again");

        // Errors come back as the errno of the broker's connect.
        let missing = broker.connect(&dir.join("absent")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        // A stream socket is not a syslog socket: EPROTOTYPE (or ECONNREFUSED).
        let stream_path = dir.join("stream");
        let _listener = std::os::unix::net::UnixListener::bind(&stream_path).unwrap();
        assert!(broker.connect(&stream_path).is_err());
        // Paths that cannot be a sun_path are refused before asking.
        let long = dir.join("x".repeat(200));
        assert_eq!(
            broker.connect(&long).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        drop(broker);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn broker_exits_when_the_server_end_closes() {
        // The broker keeps only its channel: once we close ours, it reads EOF and exits,
        // which closes its end; our duplicate then reads EOF instead of blocking.
        let broker = SyslogBroker::spawn().unwrap();
        let ours = broker.socket.into_inner().unwrap();
        let watcher = ours.try_clone().unwrap();
        watcher
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        ours.shutdown(std::net::Shutdown::Write).unwrap();
        drop(ours);
        let mut byte = [0u8; 1];
        // Ok(0) is EOF; a timeout (the broker still running) is an error.
        assert_eq!((&watcher).read(&mut byte).unwrap(), 0);
    }
}
