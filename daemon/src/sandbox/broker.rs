//! The broker: a tiny process outside capability mode that does, for the sandboxed server,
//! the few network calls capability mode refuses (freebsd.md §2, "Recommended shape").
//!
//! In capability mode `connect(2)` and `sendto`/`sendmsg` *with a destination address* are
//! `ECAPMODE`. Three things need them after start:
//!
//! * **syslog reconnect** — after a syslogd restart a new datagram socket must be connected
//!   to `/var/run/log` ([`Broker::connect_unix_datagram`]);
//! * **HA partner connections** — a TCP connection to the partner's control API, made again
//!   whenever it drops ([`Broker::connect_tcp`], only to the peers permitted before the
//!   sandbox point, see [`super::permit_tcp_peer`]);
//! * **`dhcp-socket-type: udp` replies** — relays (giaddr), renewing clients (ciaddr) and
//!   broadcasts leave by `sendmsg` to an address on the socket bound to port 67; the server
//!   hands that socket to the broker once ([`Broker::adopt_udp`]) and each reply is a
//!   message the broker sends on it ([`Broker::send_udp`]).
//!
//! Shape: forked after the privilege drop (same unprivileged user) and before `cap_enter`,
//! it keeps only its end of a `SOCK_SEQPACKET` socketpair (one request = one message, one
//! answer each). A request is a fixed 32-byte header plus a payload (a path or a datagram)
//! and, for `adopt_udp`, a descriptor; the answer is an errno (0 = success) and, for the
//! connects, the new socket passed back with `SCM_RIGHTS`. TCP sockets come back
//! non-blocking with the connection in progress, exactly like `mio::net::TcpStream::connect`,
//! so the event loop never waits for the partner. Requests are serialized by a mutex, so
//! any thread may call.
//!
//! The broker is forked twice (the intermediate child exits at once and is reaped before
//! the sandbox) so it belongs to init: the server never needs `wait4`, which capability mode
//! refuses. It exits when the server's end closes. Between `fork` and its loop it performs
//! only system calls on stack buffers and reads data prepared before the fork — no
//! allocation — so forking from a process with other threads (the unit tests) cannot
//! deadlock it. Sends on the packet path allocate nothing either (header on the stack, the
//! datagram passed by `iovec`).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use nix::unistd::ForkResult;

use crate::link::relay_udp::RelayUdp;

const OP_CONNECT_UNIX_DATAGRAM: u8 = 1;
const OP_CONNECT_TCP: u8 = 2;
const OP_ADOPT_UDP: u8 = 3;
const OP_SEND_UDP: u8 = 4;

/// Request header: op, family, port, key, address (16), source, ifindex.
const HEADER_LEN: usize = 32;
/// The largest payload: a UDP datagram.
const MAX_PAYLOAD: usize = 65_536;
/// UDP sockets the broker may hold for the server.
const MAX_ADOPTED: usize = 8;

/// A request's fixed part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Header {
    op: u8,
    /// 4 or 6 for TCP.
    family: u8,
    port: u16,
    /// For UDP: the server's descriptor number of the adopted socket.
    key: i32,
    address: [u8; 16],
    source: [u8; 4],
    ifindex: u32,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = self.op;
        out[1] = self.family;
        out[2..4].copy_from_slice(&self.port.to_ne_bytes());
        out[4..8].copy_from_slice(&self.key.to_ne_bytes());
        out[8..24].copy_from_slice(&self.address);
        out[24..28].copy_from_slice(&self.source);
        out[28..32].copy_from_slice(&self.ifindex.to_ne_bytes());
        out
    }

    fn decode(bytes: &[u8; HEADER_LEN]) -> Header {
        let mut address = [0u8; 16];
        address.copy_from_slice(&bytes[8..24]);
        Header {
            op: bytes[0],
            family: bytes[1],
            port: u16::from_ne_bytes([bytes[2], bytes[3]]),
            key: i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            address,
            source: [bytes[24], bytes[25], bytes[26], bytes[27]],
            ifindex: u32::from_ne_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]),
        }
    }

    fn socket_address(&self) -> Option<SocketAddr> {
        match self.family {
            4 => {
                let [a, b, c, d, ..] = self.address;
                Some(SocketAddr::from((Ipv4Addr::new(a, b, c, d), self.port)))
            }
            6 => Some(SocketAddr::from((
                std::net::Ipv6Addr::from(self.address),
                self.port,
            ))),
            _ => None,
        }
    }

    fn with_address(mut self, peer: SocketAddr) -> Header {
        match peer {
            SocketAddr::V4(v4) => {
                self.family = 4;
                self.address[..4].copy_from_slice(&v4.ip().octets());
            }
            SocketAddr::V6(v6) => {
                self.family = 6;
                self.address = v6.ip().octets();
            }
        }
        self.port = peer.port();
        self
    }
}

/// `sizeof(sun_path)`: 104 on FreeBSD, 108 on Linux.
fn sun_path_capacity() -> usize {
    // SAFETY: sockaddr_un is plain data.
    let address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_path.len()
}

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Control buffer for one descriptor, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct FdControl([u8; 64]);

/// Sends `parts` as one message, with `fd` attached when given.
fn send_message(channel: RawFd, parts: &[&[u8]], fd: Option<RawFd>) -> io::Result<()> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; 2];
    let mut count = 0;
    for (slot, part) in iov.iter_mut().zip(parts) {
        slot.iov_base = part.as_ptr() as *mut libc::c_void;
        slot.iov_len = part.len();
        count += 1;
    }
    let mut control = FdControl([0; 64]);
    // SAFETY: msghdr is plain data; zero is valid.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = iov.as_mut_ptr();
    message.msg_iovlen = count as _;
    if let Some(fd) = fd {
        // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic.
        let (space, len) = unsafe {
            (
                libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as _),
                libc::CMSG_LEN(std::mem::size_of::<RawFd>() as _),
            )
        };
        message.msg_control = control.0.as_mut_ptr().cast();
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
    let total: usize = parts.iter().map(|p| p.len()).sum();
    loop {
        // SAFETY: every pointer in `message` refers to live buffers of the stated sizes.
        let sent = unsafe { libc::sendmsg(channel, &message, 0) };
        if sent < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return match usize::try_from(sent) {
            Ok(n) if n == total => Ok(()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short broker message",
            )),
            Err(_) => Err(io::Error::last_os_error()),
        };
    }
}

/// Receives one message into `parts`; returns its length and the descriptor it carried.
/// Length 0 is the peer's end of file.
fn receive_message(
    channel: RawFd,
    parts: &mut [&mut [u8]],
) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; 2];
    let mut count = 0;
    for (slot, part) in iov.iter_mut().zip(parts.iter_mut()) {
        slot.iov_base = part.as_mut_ptr().cast();
        slot.iov_len = part.len();
        count += 1;
    }
    let mut control = FdControl([0; 64]);
    // SAFETY: msghdr is plain data; zero is valid.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = iov.as_mut_ptr();
    message.msg_iovlen = count as _;
    message.msg_control = control.0.as_mut_ptr().cast();
    message.msg_controllen = control.0.len() as _;
    let n = loop {
        // SAFETY: every pointer in `message` refers to live buffers of the stated sizes.
        let n = unsafe { libc::recvmsg(channel, &mut message, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        break usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    };
    let mut passed = None;
    // SAFETY: the kernel filled `control` with `msg_controllen` bytes of cmsgs; every
    // header pointer stays inside it.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&message);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let fd: RawFd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast());
                // The kernel installed `fd` in this process for us alone. A second one
                // (never sent by our peer) would be closed when the first is replaced.
                passed = Some(OwnedFd::from_raw_fd(fd));
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
    }
    Ok((n, passed))
}

/// The server's handle on the broker; every method is safe to call from any thread.
#[derive(Debug)]
pub struct Broker {
    channel: Mutex<OwnedFd>,
}

impl Broker {
    /// Forks the broker, allowed to connect TCP to `tcp_peers` only. Call after the
    /// privilege drop, before `cap_enter`.
    pub fn spawn(tcp_peers: &[SocketAddr]) -> io::Result<Broker> {
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::SeqPacket,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        // Prepared before the fork: the child only reads it.
        let peers: Vec<SocketAddr> = tcp_peers.to_vec();
        // SAFETY: the child only runs `serve`, which makes system calls on stack data and
        // ends in `_exit`; the intermediate child only forks and `_exit`s.
        match unsafe { nix::unistd::fork() }.map_err(io::Error::from)? {
            ForkResult::Child => {
                // SAFETY: as above.
                match unsafe { nix::unistd::fork() } {
                    Ok(ForkResult::Child) => serve(theirs.as_raw_fd(), &peers),
                    // SAFETY: _exit never returns and runs no destructors.
                    _ => unsafe { libc::_exit(0) },
                }
            }
            ForkResult::Parent { child } => {
                drop(theirs);
                nix::sys::wait::waitpid(child, None).map_err(io::Error::from)?;
                Ok(Broker {
                    channel: Mutex::new(ours),
                })
            }
        }
    }

    /// One request, one answer: the errno as an error, or the descriptor passed back.
    fn request(
        &self,
        header: Header,
        payload: &[u8],
        fd: Option<RawFd>,
    ) -> io::Result<Option<OwnedFd>> {
        let channel = self
            .channel
            .lock()
            .map_err(|_| io::Error::other("broker lock poisoned"))?;
        let encoded = header.encode();
        send_message(channel.as_raw_fd(), &[&encoded, payload], fd)?;
        let mut errno = [0u8; 4];
        let (n, passed) = receive_message(channel.as_raw_fd(), &mut [&mut errno])?;
        if n != errno.len() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "broker gone"));
        }
        match i32::from_ne_bytes(errno) {
            0 => Ok(passed),
            code => Err(io::Error::from_raw_os_error(code)),
        }
    }

    fn expect_fd(passed: Option<OwnedFd>) -> io::Result<OwnedFd> {
        passed.ok_or_else(|| io::Error::other("broker sent no descriptor"))
    }

    /// A datagram socket connected to the unix socket `path` (syslog).
    pub fn connect_unix_datagram(&self, path: &Path) -> io::Result<UnixDatagram> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if bytes.is_empty() || bytes.len() >= sun_path_capacity() || bytes.contains(&0) {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let header = Header {
            op: OP_CONNECT_UNIX_DATAGRAM,
            ..Header::default()
        };
        let fd = Self::expect_fd(self.request(header, bytes, None)?)?;
        Ok(UnixDatagram::from(fd))
    }

    /// A non-blocking TCP socket whose connection to `peer` is in progress (as
    /// `mio::net::TcpStream::connect` returns it: register for WRITABLE, then check
    /// `take_error`). `PermissionDenied` for a peer not permitted at spawn.
    pub fn connect_tcp(&self, peer: SocketAddr) -> io::Result<std::net::TcpStream> {
        let header = Header {
            op: OP_CONNECT_TCP,
            ..Header::default()
        }
        .with_address(peer);
        let fd = Self::expect_fd(self.request(header, &[], None)?)?;
        Ok(std::net::TcpStream::from(fd))
    }

    /// Hands the broker a duplicate of UDP socket `socket` (bound to the server port), for
    /// [`Self::send_udp`] with `key` = its descriptor number here.
    pub fn adopt_udp(&self, socket: BorrowedFd<'_>) -> io::Result<()> {
        let header = Header {
            op: OP_ADOPT_UDP,
            key: socket.as_raw_fd(),
            ..Header::default()
        };
        self.request(header, &[], Some(socket.as_raw_fd()))?;
        Ok(())
    }

    /// Sends `payload` to `to` from `source` out of `ifindex` on the adopted socket `key`
    /// (what [`RelayUdp::send`] does directly outside the sandbox). No allocation.
    pub fn send_udp(
        &self,
        key: RawFd,
        payload: &[u8],
        to: SocketAddrV4,
        source: Ipv4Addr,
        ifindex: u32,
    ) -> io::Result<()> {
        if payload.len() > MAX_PAYLOAD {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let header = Header {
            op: OP_SEND_UDP,
            key,
            source: source.octets(),
            ifindex,
            ..Header::default()
        }
        .with_address(SocketAddr::V4(to));
        self.request(header, payload, None)?;
        Ok(())
    }
}

static INSTALLED: OnceLock<Broker> = OnceLock::new();

/// Makes `broker` the process's broker; false (and `broker` dropped, so it exits) if one
/// is installed already.
pub fn install(broker: Broker) -> bool {
    INSTALLED.set(broker).is_ok()
}

/// The process's broker, when the sandbox started one.
pub fn installed() -> Option<&'static Broker> {
    INSTALLED.get()
}

// ===================================================================================
// The broker process
// ===================================================================================

/// Connects a new datagram socket to the path in `path` (not NUL-terminated).
fn connect_datagram(path: &[u8]) -> Result<OwnedFd, i32> {
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
        return Err(last_errno());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `address` is a valid sockaddr_un of the size passed.
    let ret = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&address as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if ret != 0 {
        return Err(last_errno());
    }
    Ok(fd)
}

/// Starts a non-blocking TCP connect to `peer`.
fn connect_stream(peer: SocketAddr) -> Result<OwnedFd, i32> {
    let address = nix::sys::socket::SockaddrStorage::from(peer);
    let family = match peer {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2).
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    use nix::sys::socket::SockaddrLike;
    // SAFETY: `address` is a valid sockaddr of the length it reports.
    let ret = unsafe { libc::connect(fd.as_raw_fd(), address.as_ptr(), address.len()) };
    if ret != 0 {
        let errno = last_errno();
        if errno != libc::EINPROGRESS {
            return Err(errno);
        }
    }
    Ok(fd)
}

fn answer(channel: RawFd, result: Result<Option<OwnedFd>, i32>) -> bool {
    let code: i32 = match &result {
        Ok(_) => 0,
        Err(e) => *e,
    };
    let fd = match &result {
        Ok(Some(fd)) => Some(fd.as_raw_fd()),
        _ => None,
    };
    send_message(channel, &[&code.to_ne_bytes()], fd).is_ok()
    // `result` (our copy of the descriptor) closes here; the receiver has its own.
}

/// The broker's life: close everything but the channel, stdio on /dev/null, answer until
/// EOF.
fn serve(channel: RawFd, peers: &[SocketAddr]) -> ! {
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
    let mut adopted: [Option<(i32, RelayUdp)>; MAX_ADOPTED] = Default::default();
    let mut header_bytes = [0u8; HEADER_LEN];
    let mut payload = [0u8; MAX_PAYLOAD];
    loop {
        let received = receive_message(channel, &mut [&mut header_bytes, &mut payload]);
        let (n, passed) = match received {
            Ok((n, passed)) if n >= HEADER_LEN => (n, passed),
            _ => break, // EOF, error or a message shorter than a header: stop
        };
        let header = Header::decode(&header_bytes);
        let body = payload.get(..n - HEADER_LEN).unwrap_or(&[]);
        let result = match header.op {
            OP_CONNECT_UNIX_DATAGRAM => connect_datagram(body).map(Some),
            OP_CONNECT_TCP => match header.socket_address() {
                Some(peer) if peers.contains(&peer) => connect_stream(peer).map(Some),
                Some(_) => Err(libc::EACCES),
                None => Err(libc::EINVAL),
            },
            OP_ADOPT_UDP => match passed {
                Some(fd) => {
                    let socket = RelayUdp::from_fd(fd);
                    let index = adopted
                        .iter()
                        .position(|s| matches!(s, Some((k, _)) if *k == header.key))
                        .or_else(|| adopted.iter().position(Option::is_none));
                    match index.and_then(|i| adopted.get_mut(i)) {
                        Some(slot) => {
                            *slot = Some((header.key, socket));
                            Ok(None)
                        }
                        None => Err(libc::ENFILE),
                    }
                }
                None => Err(libc::EBADF),
            },
            OP_SEND_UDP => {
                let socket = adopted
                    .iter()
                    .flatten()
                    .find(|(k, _)| *k == header.key)
                    .map(|(_, s)| s);
                match (socket, header.socket_address()) {
                    (Some(socket), Some(SocketAddr::V4(to))) => socket
                        .send_direct(body, to, Ipv4Addr::from(header.source), header.ifindex)
                        .map(|()| None)
                        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO)),
                    (None, _) => Err(libc::EBADF),
                    (_, _) => Err(libc::EINVAL),
                }
            }
            _ => Err(libc::EINVAL),
        };
        if !answer(channel, result) {
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
    use std::net::{TcpListener, UdpSocket};
    use std::time::Duration;

    #[test]
    fn header_round_trips() {
        let header = Header {
            op: OP_SEND_UDP,
            key: 17,
            source: [198, 18, 0, 1],
            ifindex: 3,
            ..Header::default()
        }
        .with_address("198.18.0.2:67".parse().unwrap());
        assert_eq!(Header::decode(&header.encode()), header);
        assert_eq!(
            header.socket_address(),
            Some("198.18.0.2:67".parse().unwrap())
        );
        let v6 = Header::default().with_address("[::1]:8000".parse().unwrap());
        assert_eq!(v6.socket_address(), Some("[::1]:8000".parse().unwrap()));
        assert_eq!(Header::default().socket_address(), None);
    }

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

        let broker = Broker::spawn(&[]).unwrap();
        let socket = broker.connect_unix_datagram(&log_path).unwrap();
        socket.send(b"<30>wrend: through the broker").unwrap();
        let mut buf = [0u8; 64];
        let n = syslogd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<30>wrend: through the broker");

        // syslogd restarts: its socket is removed and bound again; a new request reaches it.
        drop(syslogd);
        std::fs::remove_file(&log_path).unwrap();
        // (Whether a send on the old socket now fails is not checked: a broker forked by a
        // test running in parallel may still hold a copy of the old syslogd descriptor.)
        drop(socket);
        let syslogd = UnixDatagram::bind(&log_path).unwrap();
        syslogd
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let again = broker.connect_unix_datagram(&log_path).unwrap();
        again.send(b"again").unwrap();
        let n = syslogd.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"again");

        // Errors come back as the errno of the broker's connect.
        let missing = broker
            .connect_unix_datagram(&dir.join("absent"))
            .unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        // A stream socket is not a syslog socket: EPROTOTYPE (or ECONNREFUSED).
        let stream_path = dir.join("stream");
        let _listener = std::os::unix::net::UnixListener::bind(&stream_path).unwrap();
        assert!(broker.connect_unix_datagram(&stream_path).is_err());
        // Paths that cannot be a sun_path are refused before asking.
        let long = dir.join("x".repeat(200));
        assert_eq!(
            broker.connect_unix_datagram(&long).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        drop(broker);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn connects_tcp_only_to_permitted_peers() {
        let partner = TcpListener::bind("127.0.0.1:0").unwrap();
        let permitted = partner.local_addr().unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let broker = Broker::spawn(&[permitted]).unwrap();

        let stream = broker.connect_tcp(permitted).unwrap();
        // Handed back non-blocking, like mio's connect.
        let mut byte = [0u8; 1];
        assert_eq!(
            (&stream).read(&mut byte).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        let (mut accepted, from) = partner.accept().unwrap();
        assert_eq!(from, stream.local_addr().unwrap());
        std::io::Write::write_all(&mut accepted, b"x").unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!((&stream).read(&mut byte).unwrap(), 1);
        assert_eq!(&byte, b"x");

        let refused = broker.connect_tcp(other.local_addr().unwrap()).unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn sends_udp_on_an_adopted_socket() {
        let server = RelayUdp::open(0).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let to = match client.local_addr().unwrap() {
            SocketAddr::V4(v4) => v4,
            SocketAddr::V6(_) => unreachable!(),
        };
        let broker = Broker::spawn(&[]).unwrap();
        let key = server.as_raw_fd();
        // Not adopted yet: EBADF.
        let e = broker
            .send_udp(key, b"early", to, Ipv4Addr::LOCALHOST, 0)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
        broker.adopt_udp(std::os::fd::AsFd::as_fd(&server)).unwrap();
        broker
            .send_udp(key, b"reply via broker", to, Ipv4Addr::LOCALHOST, 0)
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"reply via broker");
        // It left from the server's own socket (same port).
        let server_port = nix::sys::socket::getsockname::<nix::sys::socket::SockaddrIn>(key)
            .unwrap()
            .port();
        assert_eq!(from.port(), server_port);
        // Kernel errors come back: a datagram larger than UDP allows.
        let huge = vec![0u8; MAX_PAYLOAD];
        assert!(broker
            .send_udp(key, &huge, to, Ipv4Addr::LOCALHOST, 0)
            .is_err());
    }

    #[test]
    fn broker_exits_when_the_server_end_closes() {
        // The broker keeps only its channel: once we close ours, it reads EOF and exits,
        // which closes its end; our duplicate then reads EOF instead of blocking.
        let broker = Broker::spawn(&[]).unwrap();
        let ours = broker.channel.into_inner().unwrap();
        let watcher = std::os::unix::net::UnixStream::from(ours.try_clone().unwrap());
        watcher
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        nix::sys::socket::shutdown(ours.as_raw_fd(), nix::sys::socket::Shutdown::Write).unwrap();
        drop(ours);
        let mut byte = [0u8; 1];
        // Ok(0) is EOF; a timeout (the broker still running) is an error.
        assert_eq!((&watcher).read(&mut byte).unwrap(), 0);
    }
}
