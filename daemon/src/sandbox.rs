//! Giving up what the server no longer needs once its descriptors are open: root (every
//! platform) and, on FreeBSD, the global namespaces (Capsicum capability mode with
//! per-descriptor rights). freebsd.md §2, §3.
//!
//! # When
//!
//! [`enter`] runs once, after everything privileged is open — raw devices (`/dev/bpf`
//! or packet sockets), the UDP socket on port 67, the lease file and its directory, the PID
//! file, the syslog socket — and before the server reports itself started. The user and
//! group come from the command line (`-u user -g group`, see [`crate::cli`]), not from the
//! configuration, so Kea configuration files stay byte-for-byte compatible and the rc.d
//! script (`wrend_user`, `wrend_group`) controls them.
//!
//! # Privilege drop (all platforms)
//!
//! The names are resolved with `getpwnam_r`/`getgrnam_r` first (NSS files are unreachable
//! later), then `setgroups([gid])` → `setgid(gid)` → `setuid(uid)` in that order (after
//! `setuid` the process could no longer change its groups). Then it is *verified*: real,
//! effective and saved ids are the target ones, the group list is just `gid`, and
//! `setuid(0)` now fails. On FreeBSD ≤ 14 `setgroups` sets the effective gid from
//! `gidset[0]` as well, which is why the list is exactly `[gid]`. On Linux
//! `PR_SET_NO_NEW_PRIVS` is set too, so no later `execve` of a set-uid program can regain
//! anything.
//!
//! # Capability mode (FreeBSD, `-C`)
//!
//! Every open descriptor is classified ([`inventory`], [`DescriptorKind`]) and limited to the
//! rights of freebsd.md §2 ([`rights_for`]); BPF descriptors additionally keep only the
//! `BIOCGSTATS` ioctl. `tzset()` runs before `cap_enter()` because the first `localtime_r`
//! opens `/etc/localtime`. Then `cap_enter()`: from there on, no path lookup, no
//! `bind`/`connect`, no `sendto`/`sendmsg` with a destination address.
//!
//! What must still work in capability mode, and how:
//!
//! * **Replies to relays (giaddr) and to renewing clients (ciaddr).** `sendmsg` with a
//!   destination is `ECAPMODE`. On a raw link every reply whose Ethernet next hop is known
//!   leaves as a BPF / packet-socket frame addressed to the Ethernet source of the request
//!   (the relay, the client or the router that forwarded it: symmetric routing), built by
//!   `wren_core::wire::frame::build_udp_frame` ([`crate::packet_path`], `leaves_as_frame`).
//!   Linux takes the same path, so the e2e tests (relay, exchange, privdrop) exercise it.
//!   **`dhcp-socket-type: udp`** has no MAC to send to, and a socket cannot be connected
//!   per destination: the [`broker`] holds a copy of the port-67 socket (passed with
//!   SCM_RIGHTS at the sandbox point) and makes each `sendmsg` for the server
//!   ([`crate::link::relay_udp::RelayUdp::send`]).
//! * **Lease-file appends and compaction.** Already directory-relative
//!   ([`crate::lease_file`]: `openat`, `renameat`, `unlinkat`, `fsync` of the directory fd),
//!   so they work with the directory rights below; files opened through it inherit
//!   its rights. The directory must be writable by the unprivileged user (rc.d creates
//!   `/var/db/wrend` owned by `wrend:wrend`); `fchown` back to a root owner fails and is
//!   ignored by the lease file, as it should be.
//! * **Syslog.** The socket connected before the sandbox keeps working; a reconnect after a
//!   syslogd restart needs `connect` → `ECAPMODE`. [`crate::logging::set_syslog_connector`]
//!   is the hook: [`broker::Broker`] (a process forked before `cap_enter`, not in
//!   capability mode, same unprivileged user) connects and passes the socket back by
//!   SCM_RIGHTS. [`enter`] installs it with `-C`.
//! * **HA partner connections.** `connect` is `ECAPMODE`. [`connect_tcp`] starts a
//!   non-blocking connection (as `mio::net::TcpStream::connect` does) directly, or through
//!   the broker in capability mode; peers must be declared with [`permit_tcp_peer`] before
//!   the sandbox point (on every platform: after it, an undeclared peer is refused).
//! * **Files by name: SIGHUP / `config-reload` (the configuration and its includes),
//!   `config-write` and auto-persist (temp file, fsync, rename, timestamped backup), file
//!   loggers reopened on reload, the control socket's removal at exit.** All go through
//!   [`dirs`]: directory descriptors opened at start (before the seal), used with
//!   `openat`/`renameat`/`unlinkat`/`fstatat`, each limited to the rights of its uses; a
//!   name in a directory not opened before the sandbox point is refused with a "restart"
//!   message and the old state keeps serving. Before the
//!   sandbox point the event loop is sealed (`EventLoop::seal`): the interface facts
//!   (index, MAC, addresses) are frozen as scanned then (`getifaddrs` is `ECAPMODE`), the
//!   raw devices of interfaces still configured are kept, and an interface that would need
//!   a new device, or a changed `dhcp-socket-type`, logs `WREN_SANDBOX_RESTART_NEEDED`.
//! * **Exit.** The Kea-style PID file ([`crate::pidfile`]) and the `-D` locked one
//!   ([`crate::daemonize`]) are removed with `unlinkat` through their directory descriptor,
//!   as pidfile(3) does.
//! * **Interface hot-plug.** `getifaddrs` is `ECAPMODE`; the PF_ROUTE socket
//!   ([`crate::route_events`]) opened before the sandbox reports arrivals and departures;
//!   a new interface needs a restart.
//!
//! The directory table and the TCP peer list are sealed whenever a sandbox policy is given
//! (`-u`, `-g` or `-C`), so Linux runs the same logic; `WREN_BROKER=1` also starts the
//! broker without capability mode (tests and the audit).
//!
//! `scripts/freebsd/capsicum-audit.sh` (Linux, root; a `scripts/freebsd-checks.sh` step)
//! runs the server as `nobody` with the broker under strace through a lease, a unicast
//! renewal, a compaction, a SIGHUP reload (file logger reopened), `config-write` and
//! `config-reload` on the control socket and an exit, in raw and in udp mode, and fails on
//! any call of the server process after the sandbox point that capability mode would
//! refuse; it passes.
//!
//! What is never needed after start and so never allowed: `open` by path, `execve`, `wait4`,
//! `bind`, `connect`, `getpwnam`, `getifaddrs`.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

use nix::unistd::{Gid, Group, Uid, User};

pub mod broker;
pub mod dir_entry;
pub mod dirs;

/// What [`enter`] does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// `-u`: the user to become (name or numeric uid). `None`: keep the current user.
    pub user: Option<String>,
    /// `-g`: the group to become (name or numeric gid). `None`: the user's primary group.
    pub group: Option<String>,
    /// `-C`: enter Capsicum capability mode (FreeBSD; refused elsewhere).
    pub capability_mode: bool,
}

impl Policy {
    /// True when [`enter`] has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.group.is_none() && !self.capability_mode
    }
}

/// The resolved target identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// User name (or the number as given).
    pub user: String,
    /// Numeric uid.
    pub uid: u32,
    /// Group name (or the number as given).
    pub group: String,
    /// Numeric gid.
    pub gid: u32,
}

/// Why the sandbox could not be entered. Every variant is fatal at start: a server told to
/// run unprivileged must not run as root.
#[derive(Debug)]
pub enum SandboxError {
    /// No such user in the password database.
    UnknownUser(String),
    /// No such group.
    UnknownGroup(String),
    /// `-g` without `-u` names a group, but there is no user to drop to.
    GroupWithoutUser,
    /// The password/group database lookup itself failed.
    Lookup(io::Error),
    /// Not running as root, and the current ids are not the requested ones.
    NotRoot {
        /// The requested uid.
        wanted: u32,
        /// The current effective uid.
        current: u32,
    },
    /// `setgroups`, `setgid` or `setuid` failed.
    Drop {
        /// Which call.
        call: &'static str,
        /// Its error.
        error: io::Error,
    },
    /// After the drop an id is still not the target (or root could be regained).
    Verify(String),
    /// `-C` on a platform without Capsicum.
    NoCapsicum,
    /// `cap_rights_limit`/`cap_ioctls_limit` failed on a descriptor.
    Limit {
        /// The descriptor.
        fd: RawFd,
        /// What it was classified as.
        kind: DescriptorKind,
        /// Which call.
        call: &'static str,
        /// Its error.
        error: io::Error,
    },
    /// `cap_enter` failed.
    CapEnter(io::Error),
    /// Listing the open descriptors failed.
    Inventory(io::Error),
    /// The syslog broker could not be started.
    Broker(io::Error),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::UnknownUser(u) => write!(f, "unknown user '{u}'"),
            SandboxError::UnknownGroup(g) => write!(f, "unknown group '{g}'"),
            SandboxError::GroupWithoutUser => f.write_str("-g needs -u"),
            SandboxError::Lookup(e) => write!(f, "user/group lookup failed: {e}"),
            SandboxError::NotRoot { wanted, current } => write!(
                f,
                "cannot switch to uid {wanted}: running as uid {current}, not root"
            ),
            SandboxError::Drop { call, error } => write!(f, "{call} failed: {error}"),
            SandboxError::Verify(what) => write!(f, "privilege drop incomplete: {what}"),
            SandboxError::NoCapsicum => {
                f.write_str("capability mode (-C) needs FreeBSD's Capsicum")
            }
            SandboxError::Limit {
                fd,
                kind,
                call,
                error,
            } => write!(f, "{call} on descriptor {fd} ({kind:?}) failed: {error}"),
            SandboxError::CapEnter(e) => write!(f, "cap_enter failed: {e}"),
            SandboxError::Inventory(e) => write!(f, "cannot list open descriptors: {e}"),
            SandboxError::Broker(e) => write!(f, "cannot start the broker: {e}"),
        }
    }
}

impl std::error::Error for SandboxError {}

/// What [`enter`] did, for the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The identity now in effect, if it changed.
    pub identity: Option<Identity>,
    /// Descriptors limited, by kind.
    pub limited: Vec<(RawFd, DescriptorKind)>,
    /// Descriptors left alone (unknown kind).
    pub untouched: Vec<RawFd>,
    /// Capability mode entered.
    pub capability_mode: bool,
    /// A broker was started (connects and addressed sends go through it).
    pub broker: bool,
    /// The directories files are still reached through, and for what.
    pub directories: Vec<(std::path::PathBuf, Vec<dirs::Access>)>,
}

// ===================================================================================
// Identity
// ===================================================================================

fn lookup_user(name: &str) -> Result<User, SandboxError> {
    let found = match name.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(name),
    };
    found
        .map_err(|e| SandboxError::Lookup(e.into()))?
        .ok_or_else(|| SandboxError::UnknownUser(name.to_owned()))
}

fn lookup_group(name: &str) -> Result<Gid, SandboxError> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(Gid::from_raw(gid));
    }
    Group::from_name(name)
        .map_err(|e| SandboxError::Lookup(e.into()))?
        .map(|g| g.gid)
        .ok_or_else(|| SandboxError::UnknownGroup(name.to_owned()))
}

/// Resolves `-u`/`-g` to numeric ids (before anything is dropped: NSS needs files). A
/// numeric user must exist in the password database (for its primary group); a numeric
/// group is taken as is.
pub fn resolve(policy: &Policy) -> Result<Option<Identity>, SandboxError> {
    let Some(user_name) = policy.user.as_deref() else {
        return match policy.group {
            Some(_) => Err(SandboxError::GroupWithoutUser),
            None => Ok(None),
        };
    };
    let user = lookup_user(user_name)?;
    let (group, gid) = match policy.group.as_deref() {
        Some(g) => (g.to_owned(), lookup_group(g)?),
        None => {
            let name = Group::from_gid(user.gid)
                .ok()
                .flatten()
                .map(|g| g.name)
                .unwrap_or_else(|| user.gid.to_string());
            (name, user.gid)
        }
    };
    Ok(Some(Identity {
        user: user_name.to_owned(),
        uid: user.uid.as_raw(),
        group,
        gid: gid.as_raw(),
    }))
}

fn drop_error(call: &'static str) -> impl Fn(nix::Error) -> SandboxError {
    move |e| SandboxError::Drop {
        call,
        error: e.into(),
    }
}

/// Becomes `identity` for good: setgroups → setgid → setuid, then verifies. Running as that
/// user already (not root) is accepted; any other non-root start is an error.
pub fn drop_privileges(identity: &Identity) -> Result<(), SandboxError> {
    let uid = Uid::from_raw(identity.uid);
    let gid = Gid::from_raw(identity.gid);
    let current = nix::unistd::geteuid();
    if !current.is_root() {
        if current == uid && nix::unistd::getegid() == gid {
            return verify(identity);
        }
        return Err(SandboxError::NotRoot {
            wanted: identity.uid,
            current: current.as_raw(),
        });
    }
    nix::unistd::setgroups(&[gid]).map_err(drop_error("setgroups"))?;
    // setresgid/setresuid where available: the saved ids must change too.
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        nix::unistd::setresgid(gid, gid, gid).map_err(drop_error("setresgid"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(drop_error("setresuid"))?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    {
        nix::unistd::setgid(gid).map_err(drop_error("setgid"))?;
        nix::unistd::setuid(uid).map_err(drop_error("setuid"))?;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(SandboxError::Drop {
                call: "prctl(PR_SET_NO_NEW_PRIVS)",
                error: io::Error::last_os_error(),
            });
        }
    }
    verify(identity)
}

/// Checks every id, the group list, and that root cannot be regained.
fn verify(identity: &Identity) -> Result<(), SandboxError> {
    let uid = Uid::from_raw(identity.uid);
    let gid = Gid::from_raw(identity.gid);
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        let u = nix::unistd::getresuid().map_err(|e| SandboxError::Verify(e.to_string()))?;
        let g = nix::unistd::getresgid().map_err(|e| SandboxError::Verify(e.to_string()))?;
        if [u.real, u.effective, u.saved] != [uid; 3] {
            return Err(SandboxError::Verify(format!(
                "uids {}/{}/{} (real/effective/saved), wanted {uid}",
                u.real, u.effective, u.saved
            )));
        }
        if [g.real, g.effective, g.saved] != [gid; 3] {
            return Err(SandboxError::Verify(format!(
                "gids {}/{}/{} (real/effective/saved), wanted {gid}",
                g.real, g.effective, g.saved
            )));
        }
    }
    if nix::unistd::getuid() != uid || nix::unistd::geteuid() != uid {
        return Err(SandboxError::Verify("uid".into()));
    }
    let groups = nix::unistd::getgroups().map_err(|e| SandboxError::Verify(e.to_string()))?;
    if groups.iter().any(|g| *g != gid) {
        return Err(SandboxError::Verify(format!(
            "supplementary groups {groups:?} remain"
        )));
    }
    if !uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(SandboxError::Verify("setuid(0) succeeded".into()));
    }
    if !uid.is_root() && nix::unistd::seteuid(Uid::from_raw(0)).is_ok() {
        return Err(SandboxError::Verify("seteuid(0) succeeded".into()));
    }
    Ok(())
}

// ===================================================================================
// Descriptors and their rights
// ===================================================================================

/// What an open descriptor is, as far as its Capsicum rights are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorKind {
    /// A FreeBSD `/dev/bpf` descriptor (answers `BIOCGDLT`).
    Bpf,
    /// A Linux `AF_PACKET` socket (the raw link there).
    PacketSocket,
    /// A UDP socket (port 67, relays and unicast).
    UdpSocket,
    /// A listening TCP or unix stream socket (control channel).
    StreamListener,
    /// A connected stream socket.
    StreamSocket,
    /// A unix datagram socket (syslog).
    UnixDatagram,
    /// A `PF_ROUTE` (FreeBSD) or netlink (Linux) socket.
    RouteSocket,
    /// A directory (the lease directory).
    Directory,
    /// A regular file (lease journal, PID file, log file).
    RegularFile,
    /// A pipe (signal self-pipe, daemonize status pipe).
    Pipe,
    /// A kqueue (FreeBSD) or epoll (Linux) descriptor.
    EventQueue,
    /// A character device other than BPF (stdio on /dev/null or a terminal).
    CharDevice,
    /// Anything else: left as it is.
    Other,
}

/// One capability right (a platform-neutral name for a FreeBSD `CAP_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Right {
    /// `CAP_READ` (= `CAP_RECV`).
    Read,
    /// `CAP_WRITE` (= `CAP_SEND`).
    Write,
    /// `CAP_SEEK`.
    Seek,
    /// `CAP_EVENT`: kqueue/poll registration.
    Event,
    /// `CAP_IOCTL` (further limited by `cap_ioctls_limit`).
    Ioctl,
    /// `CAP_FSTAT`.
    Fstat,
    /// `CAP_FSYNC`.
    Fsync,
    /// `CAP_FTRUNCATE`.
    Ftruncate,
    /// `CAP_FLOCK`.
    Flock,
    /// `CAP_FCHOWN`.
    Fchown,
    /// `CAP_FCHMOD`.
    Fchmod,
    /// `CAP_LOOKUP`: `*at()` relative to a directory.
    Lookup,
    /// `CAP_CREATE`: `openat(O_CREAT)`.
    Create,
    /// `CAP_FSTATAT`.
    Fstatat,
    /// `CAP_RENAMEAT_SOURCE`.
    RenameatSource,
    /// `CAP_RENAMEAT_TARGET`.
    RenameatTarget,
    /// `CAP_UNLINKAT`.
    Unlinkat,
    /// `CAP_ACCEPT`.
    Accept,
    /// `CAP_CONNECT`: outside capability mode `sendto` with an address needs it.
    Connect,
    /// `CAP_SHUTDOWN`.
    Shutdown,
    /// `CAP_GETPEERNAME`.
    Getpeername,
    /// `CAP_GETSOCKNAME`.
    Getsockname,
    /// `CAP_GETSOCKOPT`.
    Getsockopt,
    /// `CAP_SETSOCKOPT`.
    Setsockopt,
    /// `CAP_KQUEUE` (`CAP_KQUEUE_EVENT | CAP_KQUEUE_CHANGE`).
    Kqueue,
}

/// The rights each kind keeps (freebsd.md §2). `None`: the descriptor is not limited.
pub fn rights_for(kind: DescriptorKind) -> Option<&'static [Right]> {
    use Right::*;
    Some(match kind {
        // Reads, frame writes, kqueue; BIOCGSTATS only (cap_ioctls_limit); no CAP_FCNTL.
        DescriptorKind::Bpf => &[Read, Write, Event, Ioctl],
        DescriptorKind::PacketSocket => &[Read, Write, Event, Getsockopt, Setsockopt],
        // recvmsg, sendmsg (needs CONNECT outside capability mode when it names a
        // destination), the drop-all filter toggled on reload.
        DescriptorKind::UdpSocket => &[
            Read,
            Write,
            Event,
            Connect,
            Getsockname,
            Getsockopt,
            Setsockopt,
        ],
        // Accepted sockets inherit the listener's rights: give what connections need.
        DescriptorKind::StreamListener => &[
            Accept,
            Event,
            Read,
            Write,
            Shutdown,
            Getpeername,
            Getsockname,
        ],
        DescriptorKind::StreamSocket => &[Read, Write, Event, Shutdown, Getpeername],
        DescriptorKind::UnixDatagram => &[Read, Write, Event, Connect, Shutdown],
        DescriptorKind::RouteSocket => &[Read, Event],
        // The lease directory: append, compaction (create, rename, unlink), fsync of files
        // and the directory; files opened through it inherit these rights.
        DescriptorKind::Directory => &[
            Lookup,
            Create,
            Read,
            Write,
            Seek,
            Ftruncate,
            Fsync,
            Fstat,
            Fstatat,
            RenameatSource,
            RenameatTarget,
            Unlinkat,
            Flock,
            Fchown,
            Fchmod,
        ],
        DescriptorKind::RegularFile => &[
            Read, Write, Seek, Fsync, Fstat, Ftruncate, Flock, Fchown, Fchmod,
        ],
        DescriptorKind::Pipe => &[Read, Write, Event, Fstat],
        DescriptorKind::EventQueue => &[Kqueue, Fstat],
        // stdio: write log lines, no ioctls (no TIOCSTI on a terminal).
        DescriptorKind::CharDevice => &[Read, Write, Event, Fstat],
        DescriptorKind::Other => return None,
    })
}

/// The open descriptors of this process and their kinds.
pub fn inventory() -> io::Result<Vec<(RawFd, DescriptorKind)>> {
    Ok(open_descriptors()?
        .into_iter()
        .map(|fd| (fd, classify(fd)))
        .collect())
}

#[cfg(target_os = "linux")]
fn open_descriptors() -> io::Result<Vec<RawFd>> {
    // Collect first: the directory handle itself is an open descriptor while listing.
    let names: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    Ok(names
        .into_iter()
        .filter(|fd| nix::fcntl::fcntl(unsafe_borrow(*fd), nix::fcntl::F_GETFD).is_ok())
        .collect())
}

#[cfg(not(target_os = "linux"))]
fn open_descriptors() -> io::Result<Vec<RawFd>> {
    // SAFETY: no arguments.
    let limit = unsafe { libc::getdtablesize() }.clamp(0, 65_536);
    Ok((0..limit)
        .filter(|fd| nix::fcntl::fcntl(unsafe_borrow(*fd), nix::fcntl::F_GETFD).is_ok())
        .collect())
}

/// Borrows a raw descriptor for one probing call. The descriptor may be closed: the probes
/// only report EBADF then.
fn unsafe_borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: used only for fcntl/fstat/getsockopt probes, which fail cleanly (EBADF) on a
    // closed descriptor; the borrow never outlives the probe.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Classifies `fd` by `fstat` type, and sockets by family and type.
pub fn classify(fd: RawFd) -> DescriptorKind {
    let Ok(stat) = nix::sys::stat::fstat(unsafe_borrow(fd)) else {
        return DescriptorKind::Other;
    };
    let format = stat.st_mode as libc::mode_t & libc::S_IFMT;
    match format {
        libc::S_IFDIR => DescriptorKind::Directory,
        libc::S_IFREG => DescriptorKind::RegularFile,
        libc::S_IFIFO => {
            if is_event_queue(fd) {
                DescriptorKind::EventQueue
            } else {
                DescriptorKind::Pipe
            }
        }
        libc::S_IFCHR => {
            if is_bpf(fd) {
                DescriptorKind::Bpf
            } else {
                DescriptorKind::CharDevice
            }
        }
        libc::S_IFSOCK => classify_socket(fd),
        _ if is_event_queue(fd) => DescriptorKind::EventQueue,
        _ => DescriptorKind::Other,
    }
}

fn socket_int_option(fd: RawFd, option: libc::c_int) -> Option<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writing; the kernel writes at most `len` bytes.
    let ret = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (ret == 0).then_some(value)
}

/// `SO_DOMAIN` where the kernel has it (Linux, FreeBSD ≥ 13): it also answers for routing
/// sockets, whose `getsockname` FreeBSD refuses. Else the family of the local address.
fn socket_family(fd: RawFd) -> Option<libc::c_int> {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    if let Some(domain) = socket_int_option(fd, libc::SO_DOMAIN) {
        return Some(domain);
    }
    bound_family(fd)
}

fn bound_family(fd: RawFd) -> Option<libc::c_int> {
    // SAFETY: sockaddr_storage is plain data; zero is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` is large enough for any address; `len` says so.
    let ret = unsafe {
        libc::getsockname(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    (ret == 0).then_some(libc::c_int::from(storage.ss_family))
}

fn classify_socket(fd: RawFd) -> DescriptorKind {
    let (Some(family), Some(kind)) = (socket_family(fd), socket_int_option(fd, libc::SO_TYPE))
    else {
        return DescriptorKind::Other;
    };
    let listening = socket_int_option(fd, libc::SO_ACCEPTCONN).unwrap_or(0) != 0;
    match (family, kind) {
        (libc::AF_INET | libc::AF_INET6, libc::SOCK_DGRAM) => DescriptorKind::UdpSocket,
        (libc::AF_UNIX, libc::SOCK_DGRAM) => DescriptorKind::UnixDatagram,
        // The broker channel: messages with descriptors, nothing else.
        (libc::AF_UNIX, libc::SOCK_SEQPACKET) => DescriptorKind::StreamSocket,
        (libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX, libc::SOCK_STREAM) if listening => {
            DescriptorKind::StreamListener
        }
        (libc::AF_INET | libc::AF_INET6 | libc::AF_UNIX, libc::SOCK_STREAM) => {
            DescriptorKind::StreamSocket
        }
        #[cfg(target_os = "linux")]
        (libc::AF_PACKET, _) => DescriptorKind::PacketSocket,
        #[cfg(target_os = "linux")]
        (libc::AF_NETLINK, _) => DescriptorKind::RouteSocket,
        #[cfg(target_os = "freebsd")]
        (libc::PF_ROUTE, _) => DescriptorKind::RouteSocket,
        _ => DescriptorKind::Other,
    }
}

/// BPF answers `BIOCGDLT`, even after `BIOCLOCK`.
#[cfg(target_os = "freebsd")]
fn is_bpf(fd: RawFd) -> bool {
    let mut dlt: libc::c_uint = 0;
    // SAFETY: BIOCGDLT writes one u_int; on another device the ioctl fails (ENOTTY).
    unsafe {
        libc::ioctl(
            fd,
            crate::freebsd_sys::BIOCGDLT as libc::c_ulong,
            &mut dlt as *mut libc::c_uint,
        ) == 0
    }
}

#[cfg(not(target_os = "freebsd"))]
fn is_bpf(_fd: RawFd) -> bool {
    false
}

/// A kqueue accepts an empty `kevent` call; anything else fails with EBADF.
#[cfg(target_os = "freebsd")]
fn is_event_queue(fd: RawFd) -> bool {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: no changes, no events, a valid timeout.
    unsafe { libc::kevent(fd, std::ptr::null(), 0, std::ptr::null_mut(), 0, &zero) >= 0 }
}

/// An epoll descriptor is an anonymous inode whose link reads `anon_inode:[eventpoll]`.
#[cfg(target_os = "linux")]
fn is_event_queue(fd: RawFd) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| p.as_os_str() == "anon_inode:[eventpoll]")
        .unwrap_or(false)
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
fn is_event_queue(_fd: RawFd) -> bool {
    false
}

// ===================================================================================
// Capsicum (FreeBSD)
// ===================================================================================

#[cfg(target_os = "freebsd")]
mod capsicum {
    use super::{DescriptorKind, Right, SandboxError};
    use std::io;
    use std::os::fd::RawFd;

    extern "C" {
        /// `tzset(3)`: not in the libc crate for FreeBSD.
        fn tzset();
    }

    fn cap_value(right: Right) -> u64 {
        match right {
            Right::Read => libc::CAP_READ,
            Right::Write => libc::CAP_WRITE,
            Right::Seek => libc::CAP_SEEK,
            Right::Event => libc::CAP_EVENT,
            Right::Ioctl => libc::CAP_IOCTL,
            Right::Fstat => libc::CAP_FSTAT,
            Right::Fsync => libc::CAP_FSYNC,
            Right::Ftruncate => libc::CAP_FTRUNCATE,
            Right::Flock => libc::CAP_FLOCK,
            Right::Fchown => libc::CAP_FCHOWN,
            Right::Fchmod => libc::CAP_FCHMOD,
            Right::Lookup => libc::CAP_LOOKUP,
            Right::Create => libc::CAP_CREATE,
            Right::Fstatat => libc::CAP_FSTATAT,
            Right::RenameatSource => libc::CAP_RENAMEAT_SOURCE,
            Right::RenameatTarget => libc::CAP_RENAMEAT_TARGET,
            Right::Unlinkat => libc::CAP_UNLINKAT,
            Right::Accept => libc::CAP_ACCEPT,
            Right::Connect => libc::CAP_CONNECT,
            Right::Shutdown => libc::CAP_SHUTDOWN,
            Right::Getpeername => libc::CAP_GETPEERNAME,
            Right::Getsockname => libc::CAP_GETSOCKNAME,
            Right::Getsockopt => libc::CAP_GETSOCKOPT,
            Right::Setsockopt => libc::CAP_SETSOCKOPT,
            Right::Kqueue => libc::CAP_KQUEUE,
        }
    }

    /// `cap_rights_init(&rights, …)`: the C macro is a variadic call ended by a 0; one right
    /// per `__cap_rights_set` call keeps every call's argument list fixed.
    fn rights_of(list: &[Right]) -> libc::cap_rights_t {
        // SAFETY: cap_rights_t is plain data; __cap_rights_init fills it in.
        let mut rights: libc::cap_rights_t = unsafe { std::mem::zeroed() };
        // SAFETY: version 0, then a 0-terminated (empty) list of rights.
        unsafe { libc::__cap_rights_init(libc::CAP_RIGHTS_VERSION, &mut rights, 0u64) };
        for right in list {
            // SAFETY: one right, then the terminating 0.
            unsafe { libc::__cap_rights_set(&mut rights, cap_value(*right), 0u64) };
        }
        rights
    }

    pub(super) fn limit(
        fd: RawFd,
        kind: DescriptorKind,
        list: &[Right],
    ) -> Result<(), SandboxError> {
        let fail = |call| SandboxError::Limit {
            fd,
            kind,
            call,
            error: io::Error::last_os_error(),
        };
        let rights = rights_of(list);
        // SAFETY: `rights` was built by __cap_rights_init.
        if unsafe { libc::cap_rights_limit(fd, &rights) } != 0 {
            return Err(fail("cap_rights_limit"));
        }
        if kind == DescriptorKind::Bpf {
            let allowed = [crate::freebsd_sys::BIOCGSTATS as libc::c_ulong];
            // SAFETY: the array outlives the call; its length is passed.
            if unsafe { libc::cap_ioctls_limit(fd, allowed.as_ptr(), allowed.len()) } != 0 {
                return Err(fail("cap_ioctls_limit"));
            }
        }
        Ok(())
    }

    pub(super) fn prepare() {
        // SAFETY: no arguments; reads /etc/localtime now, while paths still open.
        unsafe { tzset() };
    }

    pub(super) fn enter() -> Result<(), SandboxError> {
        // SAFETY: no arguments.
        if unsafe { libc::cap_enter() } != 0 {
            return Err(SandboxError::CapEnter(io::Error::last_os_error()));
        }
        Ok(())
    }
}

/// Drops privileges and (FreeBSD, `-C`) limits every descriptor and enters capability mode.
/// Call once, after every privileged descriptor is open.
pub fn enter(policy: &Policy) -> Result<Report, SandboxError> {
    let mut report = Report::default();
    if policy.capability_mode && !cfg!(target_os = "freebsd") {
        return Err(SandboxError::NoCapsicum);
    }
    if policy.is_empty() {
        return Ok(report);
    }
    if let Some(identity) = resolve(policy)? {
        drop_privileges(&identity)?;
        report.identity = Some(identity);
    }
    // From here on no file is opened by path, on every platform: the directory table
    // refuses names outside the directories opened so far (dirs.rs), so Linux runs the
    // FreeBSD logic. Likewise no TCP connection to a peer not permitted so far.
    let directory_rights = dirs::seal().map_err(SandboxError::Inventory)?;
    report.directories = dirs::describe();
    let peers = seal_tcp_peers();
    #[cfg(not(target_os = "freebsd"))]
    let _ = directory_rights; // applied by cap_rights_limit on FreeBSD only
    if policy.capability_mode || broker_requested() {
        // Connects and addressed sends go through a broker outside capability mode.
        let broker = broker::Broker::spawn(&peers).map_err(SandboxError::Broker)?;
        for (fd, kind) in inventory().map_err(SandboxError::Inventory)? {
            if kind == DescriptorKind::UdpSocket {
                broker
                    .adopt_udp(unsafe_borrow(fd))
                    .map_err(SandboxError::Broker)?;
            }
        }
        if broker::install(broker) {
            crate::logging::set_syslog_connector(|path| match broker::installed() {
                Some(broker) => broker.connect_unix_datagram(path),
                None => Err(io::Error::other("no broker")),
            });
            report.broker = true;
        }
    }
    if policy.capability_mode {
        #[cfg(target_os = "freebsd")]
        {
            capsicum::prepare();
            for (fd, kind) in inventory().map_err(SandboxError::Inventory)? {
                // A directory of the table keeps only the rights of its uses.
                if let Some((_, rights)) = directory_rights.iter().find(|(d, _)| *d == fd) {
                    capsicum::limit(fd, kind, rights)?;
                    report.limited.push((fd, kind));
                    continue;
                }
                match rights_for(kind) {
                    Some(list) => {
                        capsicum::limit(fd, kind, list)?;
                        report.limited.push((fd, kind));
                    }
                    None => report.untouched.push(fd),
                }
            }
            capsicum::enter()?;
            report.capability_mode = true;
        }
    }
    Ok(report)
}

/// `WREN_BROKER=1`: start the broker without capability mode (any platform), so Linux runs
/// the sends and connects exactly as FreeBSD's capability mode does (tests, the Capsicum
/// audit).
fn broker_requested() -> bool {
    std::env::var_os("WREN_BROKER").is_some_and(|v| v == "1")
}

// ===================================================================================
// Outbound TCP (HA partners)
// ===================================================================================

/// TCP peers the server may connect to after the sandbox point, and whether that point
/// has passed.
#[derive(Debug, Default)]
pub struct PeerList {
    peers: Vec<std::net::SocketAddr>,
    sealed: bool,
}

impl PeerList {
    /// Adds `peer`; refused once sealed (unless already listed).
    pub fn permit(&mut self, peer: std::net::SocketAddr) -> io::Result<()> {
        if self.peers.contains(&peer) {
            return Ok(());
        }
        if self.sealed {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("TCP peer {peer} was not known before the sandbox point (restart wrend)"),
            ));
        }
        self.peers.push(peer);
        Ok(())
    }

    /// The sandbox point: the list is final.
    pub fn seal(&mut self) -> Vec<std::net::SocketAddr> {
        self.sealed = true;
        self.peers.clone()
    }

    /// Whether a connection to `peer` may be made now.
    pub fn check(&self, peer: std::net::SocketAddr) -> io::Result<()> {
        if self.sealed && !self.peers.contains(&peer) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("TCP peer {peer} was not permitted before the sandbox point"),
            ));
        }
        Ok(())
    }
}

static TCP_PEERS: std::sync::Mutex<PeerList> = std::sync::Mutex::new(PeerList {
    peers: Vec::new(),
    sealed: false,
});

fn with_peers<R>(f: impl FnOnce(&mut PeerList) -> io::Result<R>) -> io::Result<R> {
    let mut guard = TCP_PEERS
        .lock()
        .map_err(|_| io::Error::other("peer list lock poisoned"))?;
    f(&mut guard)
}

/// Declares, before the sandbox point, a TCP peer the server will connect to later (an HA
/// partner's control API). After the sandbox point only permitted peers can be reached
/// ([`connect_tcp`]); permitting a new one then is refused (a restart is needed, as for
/// interfaces). Permitting twice is harmless.
pub fn permit_tcp_peer(peer: std::net::SocketAddr) -> io::Result<()> {
    with_peers(|p| p.permit(peer))
}

fn seal_tcp_peers() -> Vec<std::net::SocketAddr> {
    with_peers(|p| Ok(p.seal())).unwrap_or_default()
}

/// Starts a TCP connection to `peer` that works in Capsicum capability mode, returning as
/// `mio::net::TcpStream::connect` does: non-blocking, connection in progress (register for
/// WRITABLE, then `take_error()` / `peer_addr()` tell whether it connected).
///
/// Before the sandbox point, or without a broker: a direct non-blocking `connect` here.
/// With a broker (`-C`, or `WREN_BROKER=1`): the broker connects and passes the socket back
/// with SCM_RIGHTS. After the sandbox point, on every platform, a peer not declared with
/// [`permit_tcp_peer`] before it is refused with `PermissionDenied`.
pub fn connect_tcp(peer: std::net::SocketAddr) -> io::Result<mio::net::TcpStream> {
    with_peers(|p| p.check(peer))?;
    match broker::installed() {
        Some(broker) => Ok(mio::net::TcpStream::from_std(broker.connect_tcp(peer)?)),
        None => mio::net::TcpStream::connect(peer),
    }
}

/// Logs what [`enter`] did.
pub fn log_report(report: &Report) {
    if let Some(id) = &report.identity {
        log::info!(
            "WREN_PRIVILEGES_DROPPED running as user {} ({}) group {} ({})",
            id.user,
            id.uid,
            id.group,
            id.gid
        );
    }
    for (dir, uses) in &report.directories {
        let uses: Vec<String> = uses.iter().map(ToString::to_string).collect();
        log::info!(
            "WREN_SANDBOX_DIRECTORY {} kept open for {}",
            dir.display(),
            uses.join(", ")
        );
    }
    if report.broker {
        log::info!(
            "WREN_BROKER_STARTED syslog reconnects, TCP connects to permitted peers and \
             UDP replies to addresses go through the broker process"
        );
    }
    if report.capability_mode {
        log::info!(
            "WREN_CAPSICUM_ENTERED capability mode, {} descriptors limited, {} left alone",
            report.limited.len(),
            report.untouched.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn empty_policy_does_nothing() {
        assert!(Policy::default().is_empty());
        let report = enter(&Policy::default()).unwrap();
        assert_eq!(report, Report::default());
    }

    #[test]
    fn group_needs_a_user() {
        let policy = Policy {
            group: Some("nogroup".into()),
            ..Policy::default()
        };
        assert!(matches!(
            resolve(&policy),
            Err(SandboxError::GroupWithoutUser)
        ));
    }

    #[test]
    fn resolves_root_by_name_and_number() {
        let by_name = resolve(&Policy {
            user: Some("root".into()),
            ..Policy::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!((by_name.uid, by_name.gid), (0, 0));
        let by_number = resolve(&Policy {
            user: Some("0".into()),
            group: Some("0".into()),
            ..Policy::default()
        })
        .unwrap()
        .unwrap();
        assert_eq!((by_number.uid, by_number.gid), (0, 0));
    }

    #[test]
    fn unknown_names_are_errors() {
        let unknown_user = Policy {
            user: Some("wren-no-such-user-xyz".into()),
            ..Policy::default()
        };
        assert!(matches!(
            resolve(&unknown_user),
            Err(SandboxError::UnknownUser(_))
        ));
        let unknown_group = Policy {
            user: Some("root".into()),
            group: Some("wren-no-such-group-xyz".into()),
            ..Policy::default()
        };
        assert!(matches!(
            resolve(&unknown_group),
            Err(SandboxError::UnknownGroup(_))
        ));
    }

    #[cfg(not(target_os = "freebsd"))]
    #[test]
    fn capability_mode_is_refused_without_capsicum() {
        let policy = Policy {
            capability_mode: true,
            ..Policy::default()
        };
        assert!(matches!(enter(&policy), Err(SandboxError::NoCapsicum)));
    }

    #[test]
    fn a_non_root_process_cannot_switch_to_someone_else() {
        if nix::unistd::geteuid().is_root() {
            return; // exercised by the end-to-end privilege-drop test instead
        }
        let other = Identity {
            user: "root".into(),
            uid: 0,
            group: "root".into(),
            gid: 0,
        };
        assert!(matches!(
            drop_privileges(&other),
            Err(SandboxError::NotRoot { wanted: 0, .. })
        ));
    }

    #[test]
    fn classifies_this_process_descriptors() {
        let dir = std::env::temp_dir();
        let dir_fd = nix::fcntl::open(
            &dir,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        let file = std::fs::File::open("/proc/self/exe")
            .or_else(|_| std::fs::File::open("/bin/sh"))
            .unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (syslog_like, _peer) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let (pipe_read, _pipe_write) = nix::unistd::pipe().unwrap();
        let poll = mio::Poll::new().unwrap();
        let null = std::fs::File::open("/dev/null").unwrap();

        assert_eq!(classify(dir_fd.as_raw_fd()), DescriptorKind::Directory);
        assert_eq!(classify(file.as_raw_fd()), DescriptorKind::RegularFile);
        assert_eq!(classify(udp.as_raw_fd()), DescriptorKind::UdpSocket);
        assert_eq!(
            classify(listener.as_raw_fd()),
            DescriptorKind::StreamListener
        );
        assert_eq!(classify(stream.as_raw_fd()), DescriptorKind::StreamSocket);
        assert_eq!(
            classify(syslog_like.as_raw_fd()),
            DescriptorKind::UnixDatagram
        );
        assert_eq!(classify(pipe_read.as_raw_fd()), DescriptorKind::Pipe);
        assert_eq!(classify(poll.as_raw_fd()), DescriptorKind::EventQueue);
        assert_eq!(classify(null.as_raw_fd()), DescriptorKind::CharDevice);
        #[cfg(target_os = "linux")]
        {
            // SAFETY: plain socket(2); the result is checked and owned below.
            let raw = unsafe {
                libc::socket(
                    libc::AF_NETLINK,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    libc::NETLINK_ROUTE,
                )
            };
            assert!(raw >= 0);
            // SAFETY: a fresh descriptor nothing else owns.
            let netlink =
                unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
            assert_eq!(classify(netlink.as_raw_fd()), DescriptorKind::RouteSocket);
        }
        // A closed descriptor number is "other", never a panic.
        assert_eq!(classify(1_000_000), DescriptorKind::Other);

        let all = inventory().unwrap();
        assert!(all.contains(&(udp.as_raw_fd(), DescriptorKind::UdpSocket)));
        assert!(all.contains(&(dir_fd.as_raw_fd(), DescriptorKind::Directory)));
    }

    #[test]
    fn tcp_peers_are_fixed_at_the_sandbox_point() {
        let partner: std::net::SocketAddr = "198.18.0.2:8000".parse().unwrap();
        let other: std::net::SocketAddr = "198.18.0.3:8000".parse().unwrap();
        let mut list = PeerList::default();
        // Before the seal anything may be reached, and declared.
        list.check(other).unwrap();
        list.permit(partner).unwrap();
        list.permit(partner).unwrap();
        assert_eq!(list.seal(), vec![partner]);
        list.check(partner).unwrap();
        assert_eq!(
            list.check(other).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        assert_eq!(
            list.permit(other).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        list.permit(partner).unwrap(); // already known: fine
    }

    #[test]
    fn connect_tcp_before_the_sandbox_point_connects_directly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = listener.local_addr().unwrap();
        permit_tcp_peer(peer).unwrap();
        let stream = connect_tcp(peer).unwrap();
        let (_accepted, from) = listener.accept().unwrap();
        assert_eq!(Some(from), stream.local_addr().ok());
    }

    #[test]
    fn rights_follow_the_spec_table() {
        let has = |kind, right| rights_for(kind).unwrap().contains(&right);
        // BPF: read, write, kqueue; ioctl (limited to BIOCGSTATS); never fcntl, so
        // nobody can clear O_NONBLOCK.
        for right in [Right::Read, Right::Write, Right::Event, Right::Ioctl] {
            assert!(has(DescriptorKind::Bpf, right));
        }
        assert_eq!(rights_for(DescriptorKind::Bpf).unwrap().len(), 4);
        // Lease directory: everything compaction does.
        for right in [
            Right::Lookup,
            Right::Create,
            Right::Seek,
            Right::Ftruncate,
            Right::Fsync,
            Right::RenameatSource,
            Right::RenameatTarget,
            Right::Unlinkat,
        ] {
            assert!(has(DescriptorKind::Directory, right), "{right:?}");
        }
        // A routing socket is only read.
        assert_eq!(
            rights_for(DescriptorKind::RouteSocket).unwrap(),
            &[Right::Read, Right::Event]
        );
        // Nothing but the control listener may accept; no stdio ioctls (TIOCSTI).
        for kind in [
            DescriptorKind::Bpf,
            DescriptorKind::UdpSocket,
            DescriptorKind::Directory,
            DescriptorKind::CharDevice,
            DescriptorKind::Pipe,
        ] {
            assert!(!has(kind, Right::Accept), "{kind:?}");
        }
        assert!(!has(DescriptorKind::CharDevice, Right::Ioctl));
        assert!(has(DescriptorKind::StreamListener, Right::Accept));
        assert_eq!(rights_for(DescriptorKind::Other), None);
    }
}
