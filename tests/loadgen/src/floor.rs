//! wren-floor: the cheapest DHCPv4 responder that still completes a relayed DORA, as the
//! benchmark's lower bound ("floor") of server CPU per exchange on a machine.
//!
//! ```text
//! wren-floor --listen 198.18.0.1 [--server-id 198.18.0.1] [--max-seconds N] [--batch N]
//!            [--hold-us N]
//! ```
//!
//! Why it exists: issue #8 asks for "server CPU per exchange ≤ 1/10 of Kea's". Part of every
//! server's CPU per exchange is the kernel's fixed cost per packet and per wakeup (the UDP
//! receive and send paths, the veth pair, the scheduler's wakeup, the VM's exits), which no
//! server can avoid. This program pays only that: one thread, a blocking `recvfrom` and one
//! `sendto` per query (two system calls per packet), no lease state, no disk, no log line per
//! packet, no allocation in the loop. What a real server spends above it is what its own
//! design costs; when Kea's CPU / 10 is below this floor, the 1/10 target cannot be met by any
//! server on that machine.
//!
//! `--batch N` (2–64; default 1: `recvfrom`/`sendto`) reads with `recvmmsg` (`MSG_WAITFORONE`:
//! block for the first query, then take whatever else is queued, up to N) and sends a
//! batch's replies with one `sendmmsg`, as wrend does. When queries arrive one at a time (low
//! rates) it pays the same wakeup per query; under load it shares each wakeup and each system
//! call among the queries that queued meanwhile, so it is the lower bound for a server that
//! batches, where the per-packet loop is not. `--hold-us N` (with `--batch`) waits N µs after
//! a batch that drained the queue (fewer than N queries) before the next read, so that under
//! load each wakeup finds more queries queued; a full batch is followed by another read at
//! once. wrend's group-commit pacing (1 ms after a sync, `event_loop::COMMIT_SPACING`) and its
//! drain have the same effect, so `--batch 32 --hold-us 1000` is the floor for wrend's I/O
//! pattern at the same added latency (up to 1 ms).
//!
//! What it answers (RFC 2131 §4.1, §4.3.1, §4.3.2, as a server answers a relay agent): a
//! relayed DHCPDISCOVER (giaddr set) with a DHCPOFFER and a relayed DHCPREQUEST with a DHCPACK,
//! each sent to giaddr port 67 (RFC 2131 §4.1: "If the 'giaddr' field in a DHCP message from a
//! client is non-zero, the server sends any return messages to the 'DHCP server' port on the
//! BOOTP relay agent whose address appears in 'giaddr'"). The address is derived from chaddr
//! alone (no state): the last three bytes of chaddr modulo the benchmark's pool
//! 198.18.1.0 – 198.19.255.250 (tests/bench/run.sh). A REQUEST's option 50 is acknowledged
//! when it lies in that pool. Everything else — not a BOOTREQUEST, no magic cookie, a
//! truncated option, no giaddr, a giaddr outside 198.18.0.0/15, other message types — is
//! dropped silently. It is not a DHCP server: it never NAKs, never checks the server id.
//!
//! Bounded: it exits by itself after `--max-seconds` (default 600, at most 3600) and on
//! SIGTERM (the default action). Network safety: it binds only an address in 198.18.0.0/15
//! and sends only to relay agents in 198.18.0.0/15.

#[cfg(test)]
#[allow(dead_code)]
mod dhcp;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str =
    "usage: wren-floor --listen ADDRESS [--server-id ADDRESS] [--max-seconds N] [--batch N] [--hold-us N] (addresses in 198.18.0.0/15)";

/// The benchmark's network, 198.18.0.0/15 (RFC 2544's benchmarking range): nothing outside it
/// is bound, answered or offered.
const BENCH_NET: u32 = u32::from_be_bytes([198, 18, 0, 0]);
const BENCH_MASK: u32 = 0xfffe_0000;
/// The benchmark's pool, `198.18.1.0 - 198.19.255.250` in tests/bench/run.sh's config.
const POOL_FIRST: u32 = u32::from_be_bytes([198, 18, 1, 0]);
const POOL_LAST: u32 = u32::from_be_bytes([198, 19, 255, 250]);
const SERVER_PORT: u16 = 67;
const LEASE_SECONDS: u32 = 3600;

/// BOOTP fixed header (RFC 2131 §2, Figure 1) up to and including the magic cookie.
const HEADER_LEN: usize = 240;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
const BOOTREQUEST: u8 = 1;
const BOOTREPLY: u8 = 2;
const OPTION_PAD: u8 = 0;
const OPTION_END: u8 = 255;
const OPTION_SUBNET_MASK: u8 = 1;
const OPTION_REQUESTED_ADDRESS: u8 = 50;
const OPTION_LEASE_TIME: u8 = 51;
const OPTION_MESSAGE_TYPE: u8 = 53;
const OPTION_SERVER_ID: u8 = 54;
const DHCPDISCOVER: u8 = 1;
const DHCPOFFER: u8 = 2;
const DHCPREQUEST: u8 = 3;
const DHCPACK: u8 = 5;
/// Header, then 53 (3 bytes), 54 (6), 51 (6), 1 (6) and END (1).
pub const REPLY_LEN: usize = HEADER_LEN + 3 + 6 + 6 + 6 + 1;
/// Kea and wrend read at most 1,500 bytes of a query too.
const QUERY_BUFFER: usize = 1500;
const MAX_SECONDS_LIMIT: u64 = 3600;
/// Most queries one `recvmmsg` takes (wrend takes up to 32).
const MAX_BATCH: usize = 64;
/// The longest `--hold-us` (100 ms): past that the replies would come too late for a client.
const MAX_HOLD_US: u64 = 100_000;

fn in_bench_net(a: Ipv4Addr) -> bool {
    u32::from(a) & BENCH_MASK == BENCH_NET
}

/// The address offered to `chaddr`: a function of its last three bytes only, so the same
/// client gets the same address in its OFFER and ACK without any state.
fn address_for(chaddr_tail: [u8; 3]) -> Ipv4Addr {
    let [a, b, c] = chaddr_tail;
    let index = u32::from_be_bytes([0, a, b, c]);
    Ipv4Addr::from(POOL_FIRST + index % (POOL_LAST - POOL_FIRST + 1))
}

/// What the option scan found in a query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct QueryOptions {
    message_type: Option<u8>,
    requested_address: Option<Ipv4Addr>,
}

/// Scans the options after the cookie for 53 and 50. `None` when an option runs past the end
/// of the packet (a truncated or malformed query is dropped, not half-read). The scan stops
/// at END; a packet that ends without END is accepted as Kea accepts it.
fn scan_options(options: &[u8]) -> Option<QueryOptions> {
    let mut found = QueryOptions::default();
    let mut rest = options;
    while let Some((&code, tail)) = rest.split_first() {
        match code {
            OPTION_PAD => rest = tail,
            OPTION_END => break,
            _ => {
                let (&len, tail) = tail.split_first()?;
                let value = tail.get(..usize::from(len))?;
                match (code, value) {
                    (OPTION_MESSAGE_TYPE, [t]) => found.message_type = Some(*t),
                    (OPTION_REQUESTED_ADDRESS, [a, b, c, d]) => {
                        found.requested_address = Some(Ipv4Addr::new(*a, *b, *c, *d));
                    }
                    _ => {}
                }
                rest = tail.get(usize::from(len)..)?;
            }
        }
    }
    Some(found)
}

/// Builds the reply to `query` in `out`: its length and where it goes (giaddr:67), or `None`
/// when the query is dropped (see the module documentation). Never panics on any input.
pub fn build_reply(
    query: &[u8],
    server_id: Ipv4Addr,
    out: &mut [u8; REPLY_LEN],
) -> Option<(usize, SocketAddrV4)> {
    let header = query.get(..HEADER_LEN)?;
    if header.first() != Some(&BOOTREQUEST) || header.get(236..240) != Some(&COOKIE[..]) {
        return None;
    }
    let giaddr_bytes: [u8; 4] = header.get(24..28)?.try_into().ok()?;
    let giaddr = Ipv4Addr::from(giaddr_bytes);
    if giaddr.is_unspecified() || !in_bench_net(giaddr) {
        return None;
    }
    let options = scan_options(query.get(HEADER_LEN..)?)?;
    let chaddr_tail: [u8; 3] = header.get(31..34)?.try_into().ok()?;
    let (reply_type, yiaddr) = match options.message_type? {
        DHCPDISCOVER => (DHCPOFFER, address_for(chaddr_tail)),
        DHCPREQUEST => {
            let pool = POOL_FIRST..=POOL_LAST;
            let address = match options.requested_address {
                Some(a) if pool.contains(&u32::from(a)) => a,
                _ => address_for(chaddr_tail),
            };
            (DHCPACK, address)
        }
        _ => return None,
    };
    // Header: op, then htype, hlen, hops, xid (4), secs 0 (RFC 2131 Table 3), flags copied,
    // ciaddr copied, yiaddr, siaddr 0, giaddr copied, chaddr copied, sname/file empty, cookie.
    out.fill(0);
    put(out, 0, &[BOOTREPLY])?;
    put(out, 1, header.get(1..8)?)?;
    put(out, 10, header.get(10..16)?)?;
    put(out, 16, &yiaddr.octets())?;
    put(out, 24, header.get(24..44)?)?;
    put(out, 236, &COOKIE)?;
    let [s0, s1, s2, s3] = server_id.octets();
    let [l0, l1, l2, l3] = LEASE_SECONDS.to_be_bytes();
    let [m0, m1, m2, m3] = BENCH_MASK.to_be_bytes();
    #[rustfmt::skip]
    let options = [
        OPTION_MESSAGE_TYPE, 1, reply_type,
        OPTION_SERVER_ID, 4, s0, s1, s2, s3,
        OPTION_LEASE_TIME, 4, l0, l1, l2, l3,
        OPTION_SUBNET_MASK, 4, m0, m1, m2, m3,
        OPTION_END,
    ];
    put(out, HEADER_LEN, &options)?;
    Some((REPLY_LEN, SocketAddrV4::new(giaddr, SERVER_PORT)))
}

/// Copies `bytes` into `out` at `at` (`None` if it does not fit: never, for the fixed layout).
fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> Option<()> {
    out.get_mut(at..at.checked_add(bytes.len())?)?
        .copy_from_slice(bytes);
    Some(())
}

/// Command-line settings.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Args {
    listen: Ipv4Addr,
    server_id: Ipv4Addr,
    max_seconds: u64,
    batch: usize,
    hold: Duration,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut listen = None;
    let mut server_id = None;
    let mut max_seconds = 600;
    let mut batch = 1;
    let mut hold_us = 0;
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let address = |text: &String| -> Result<Ipv4Addr, String> {
            let a: Ipv4Addr = text
                .parse()
                .map_err(|_| format!("{flag}: not an IPv4 address: {text}"))?;
            if in_bench_net(a) {
                Ok(a)
            } else {
                Err(format!("{flag}: {a} is outside 198.18.0.0/15"))
            }
        };
        match flag.as_str() {
            "--listen" => listen = Some(address(value()?)?),
            "--server-id" => server_id = Some(address(value()?)?),
            "--max-seconds" => {
                let text = value()?;
                max_seconds = text
                    .parse()
                    .map_err(|_| format!("--max-seconds: not a number: {text}"))?;
            }
            "--batch" => {
                let text = value()?;
                batch = text
                    .parse()
                    .map_err(|_| format!("--batch: not a number: {text}"))?;
            }
            "--hold-us" => {
                let text = value()?;
                hold_us = text
                    .parse()
                    .map_err(|_| format!("--hold-us: not a number: {text}"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if batch == 0 || batch > MAX_BATCH {
        return Err(format!("--batch must be 1..={MAX_BATCH}"));
    }
    if hold_us > MAX_HOLD_US {
        return Err(format!("--hold-us must be 0..={MAX_HOLD_US}"));
    }
    if hold_us > 0 && batch == 1 {
        return Err("--hold-us needs --batch 2 or more".into());
    }
    let listen = listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?;
    if max_seconds == 0 || max_seconds > MAX_SECONDS_LIMIT {
        return Err(format!("--max-seconds must be 1..={MAX_SECONDS_LIMIT}"));
    }
    Ok(Args {
        listen,
        server_id: server_id.unwrap_or(listen),
        max_seconds,
        batch,
        hold: Duration::from_micros(hold_us),
    })
}

/// Counts printed at the end (kept in registers and memory only: no per-packet output).
#[derive(Debug, Default)]
struct Counts {
    queries: u64,
    replies: u64,
    dropped: u64,
    send_errors: u64,
}

fn serve(args: &Args) -> std::io::Result<Counts> {
    let socket = UdpSocket::bind(SocketAddrV4::new(args.listen, SERVER_PORT))?;
    // The receive timeout is set once; it only lets the loop see its deadline when no query
    // comes (no extra system call per packet: Instant::now() is the vDSO).
    socket.set_read_timeout(Some(Duration::from_millis(500)))?;
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
    if args.batch > 1 {
        return serve_batched(&socket, args, deadline);
    }
    let mut query = [0u8; QUERY_BUFFER];
    let mut reply = [0u8; REPLY_LEN];
    let mut counts = Counts::default();
    while Instant::now() < deadline {
        let len = match socket.recv_from(&mut query) {
            Ok((len, _)) => len,
            Err(e) if is_idle(&e) => continue,
            Err(e) => return Err(e),
        };
        counts.queries += 1;
        let built = query
            .get(..len)
            .and_then(|q| build_reply(q, args.server_id, &mut reply));
        let Some((reply_len, to)) = built else {
            counts.dropped += 1;
            continue;
        };
        match socket.send_to(reply.get(..reply_len).unwrap_or(&[]), SocketAddr::V4(to)) {
            Ok(_) => counts.replies += 1,
            Err(_) => counts.send_errors += 1,
        }
    }
    Ok(counts)
}

/// A receive that only timed out or was interrupted: the loop goes on (and checks its deadline).
fn is_idle(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// `--batch N`: one `recvmmsg` (blocking for the first query only) and one `sendmmsg` per
/// wakeup, then `--hold-us` of sleep when set. Buffers are allocated once, before the loop.
fn serve_batched(socket: &UdpSocket, args: &Args, deadline: Instant) -> io::Result<Counts> {
    let fd = socket.as_raw_fd();
    let mut queries = vec![[0u8; QUERY_BUFFER]; args.batch];
    let mut lens = vec![0usize; args.batch];
    let mut replies = vec![[0u8; REPLY_LEN]; args.batch];
    let mut dests = vec![SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); args.batch];
    let mut counts = Counts::default();
    while Instant::now() < deadline {
        let got = match recv_batch(fd, &mut queries, &mut lens) {
            Ok(got) => got,
            Err(e) if is_idle(&e) => continue,
            Err(e) => return Err(e),
        };
        let mut ready = 0;
        for (query, &len) in queries.iter().zip(&lens).take(got) {
            counts.queries += 1;
            let (Some(out), Some(dest)) = (replies.get_mut(ready), dests.get_mut(ready)) else {
                break;
            };
            match query
                .get(..len)
                .and_then(|q| build_reply(q, args.server_id, out))
            {
                Some((_, to)) => {
                    *dest = to;
                    ready += 1;
                }
                None => counts.dropped += 1,
            }
        }
        let mut sent = 0;
        while sent < ready {
            let (Some(batch), Some(to)) = (replies.get(sent..ready), dests.get(sent..ready)) else {
                break;
            };
            match send_batch(fd, batch, to) {
                Ok(n) if n > 0 => {
                    counts.replies += n as u64;
                    sent += n;
                }
                // The first message of the rest was refused: count it and go on after it.
                _ => {
                    counts.send_errors += 1;
                    sent += 1;
                }
            }
        }
        // A full batch means more may be queued: read on at once (wrend drains its sockets
        // the same way); the hold starts once a read found the queue drained.
        if got < args.batch && !args.hold.is_zero() {
            std::thread::sleep(args.hold);
        }
    }
    Ok(counts)
}

/// One `recvmmsg(MSG_WAITFORONE)` into `queries`: how many arrived, their lengths in `lens`.
fn recv_batch(
    fd: RawFd,
    queries: &mut [[u8; QUERY_BUFFER]],
    lens: &mut [usize],
) -> io::Result<usize> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_BATCH];
    for (v, q) in iov.iter_mut().zip(queries.iter_mut()) {
        v.iov_base = q.as_mut_ptr().cast();
        v.iov_len = q.len();
    }
    // SAFETY: mmsghdr is plain data for which all-zero is valid (null pointers, zero sizes).
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for (h, v) in hdrs.iter_mut().zip(iov.iter_mut()) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
    }
    let count = queries.len().min(lens.len()).min(MAX_BATCH);
    // SAFETY: the first `count` headers each point to one iovec over a live, exclusively
    // borrowed buffer of its stated length; no source address is asked for.
    let rc = unsafe {
        libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            count as libc::c_uint,
            libc::MSG_WAITFORONE as _,
            std::ptr::null_mut(),
        )
    };
    let got = usize::try_from(rc).map_err(|_| io::Error::last_os_error())?;
    for (len, h) in lens.iter_mut().zip(&hdrs).take(got) {
        *len = h.msg_len as usize;
    }
    Ok(got)
}

/// One `sendmmsg` of `replies` (each `REPLY_LEN` bytes) to `dests`: how many the kernel took.
fn send_batch(fd: RawFd, replies: &[[u8; REPLY_LEN]], dests: &[SocketAddrV4]) -> io::Result<usize> {
    let mut names = [libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: 0 },
        sin_zero: [0; 8],
    }; MAX_BATCH];
    for (name, to) in names.iter_mut().zip(dests) {
        name.sin_port = to.port().to_be();
        name.sin_addr.s_addr = u32::from_ne_bytes(to.ip().octets());
    }
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_BATCH];
    for (v, r) in iov.iter_mut().zip(replies) {
        // sendmmsg only reads the buffer; iovec's pointer is `*mut` for both directions.
        v.iov_base = r.as_ptr().cast_mut().cast();
        v.iov_len = r.len();
    }
    // SAFETY: as in recv_batch, all-zero is a valid mmsghdr.
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for ((h, v), name) in hdrs.iter_mut().zip(iov.iter_mut()).zip(names.iter_mut()) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_name = (name as *mut libc::sockaddr_in).cast();
        h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    }
    let count = replies.len().min(dests.len()).min(MAX_BATCH);
    // SAFETY: the first `count` headers point to live iovecs over the replies (read only) and
    // to initialised sockaddr_in destinations of the stated size.
    let rc = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), count as libc::c_uint, 0) };
    usize::try_from(rc).map_err(|_| io::Error::last_os_error())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("wren-floor: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(&args) {
        Ok(c) => {
            println!(
                "wren-floor: {} s elapsed: {} queries, {} replies, {} dropped, {} send errors",
                args.max_seconds, c.queries, c.replies, c.dropped, c.send_errors
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wren-floor: {}:{SERVER_PORT}: {e}", args.listen);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;
    use wren_core::wire::message::{Message, MessageType};

    const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const RELAY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const MAC: [u8; 6] = [0x00, 0x0c, 0x01, 0x02, 0x03, 0x04];

    /// The loadgen's client message as a relay agent forwards it: hops 1, giaddr, and
    /// perfdhcp's broadcast flag.
    fn relayed(mut p: Vec<u8>) -> Vec<u8> {
        p[3] = 1;
        p[10] = 0x80;
        p[24..28].copy_from_slice(&RELAY.octets());
        p
    }

    fn answer(query: &[u8]) -> Option<(Vec<u8>, SocketAddrV4)> {
        let mut out = [0xaa; REPLY_LEN];
        build_reply(query, SERVER, &mut out).map(|(n, to)| (out[..n].to_vec(), to))
    }

    #[test]
    fn a_relayed_discover_gets_an_offer_to_the_relay() {
        let q = relayed(dhcp::discover(0x1234_5678, MAC));
        let (r, to) = answer(&q).unwrap();
        assert_eq!(to, SocketAddrV4::new(RELAY, 67));
        assert_eq!(r.len(), 262);
        assert_eq!(&r[..4], &[2, 1, 6, 1], "op 2, htype/hlen/hops copied");
        assert_eq!(&r[4..8], &[0x12, 0x34, 0x56, 0x78], "xid");
        assert_eq!(&r[8..10], &[0, 0], "secs");
        assert_eq!(&r[10..12], &[0x80, 0], "flags copied");
        assert_eq!(&r[12..16], &[0; 4], "ciaddr");
        // 0x020304 = 131,844 modulo the 130,811-address pool = 1,033 above 198.18.1.0.
        assert_eq!(&r[16..20], &[198, 18, 5, 9], "yiaddr from chaddr");
        assert_eq!(&r[20..24], &[0; 4], "siaddr");
        assert_eq!(&r[24..28], &RELAY.octets(), "giaddr");
        assert_eq!(&r[28..34], &MAC);
        assert!(
            r[34..236].iter().all(|&b| b == 0),
            "chaddr pad, sname, file"
        );
        assert_eq!(
            &r[240..],
            &[53, 1, 2, 54, 4, 198, 18, 0, 1, 51, 4, 0, 0, 0x0e, 0x10, 1, 4, 255, 254, 0, 0, 255]
        );
        // And the real parser (wrend's) reads it back as an OFFER.
        let mut scratch = [0u8; 400];
        let m = Message::parse(&r, &mut scratch).unwrap();
        assert_eq!(m.message_type(), Some(MessageType::Offer));
        assert_eq!(m.server_identifier(), Some(SERVER));
        assert_eq!(m.lease_time(), Some(3600));
        assert_eq!(m.option(1), Some(&[255, 254, 0, 0][..]));
    }

    #[test]
    fn a_request_is_acked_with_its_requested_address_when_in_the_pool() {
        let want = Ipv4Addr::new(198, 19, 7, 9);
        let q = relayed(dhcp::request(77, MAC, want, SERVER));
        let (r, to) = answer(&q).unwrap();
        assert_eq!(to, SocketAddrV4::new(RELAY, 67));
        let mut scratch = [0u8; 400];
        let m = Message::parse(&r, &mut scratch).unwrap();
        assert_eq!(m.message_type(), Some(MessageType::Ack));
        assert_eq!(&r[16..20], &want.octets());
        assert_eq!(&r[4..8], &77u32.to_be_bytes());
        // Outside the pool (the server's own address, or outside 198.18.0.0/15): the address
        // from chaddr, as the OFFER had it.
        for outside in [
            SERVER,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(198, 19, 255, 255),
        ] {
            let q = relayed(dhcp::request(78, MAC, outside, SERVER));
            let (r, _) = answer(&q).unwrap();
            assert_eq!(&r[16..20], &[198, 18, 5, 9], "{outside}");
        }
    }

    #[test]
    fn every_derived_address_is_in_the_pool() {
        for tail in [
            [0, 0, 0],
            [0xff, 0xff, 0xff],
            [0x01, 0xfe, 0xfa],
            [0x01, 0xfe, 0xfb],
        ] {
            let a = u32::from(address_for(tail));
            assert!((POOL_FIRST..=POOL_LAST).contains(&a), "{tail:?}");
        }
        assert_eq!(address_for([0, 0, 0]), Ipv4Addr::new(198, 18, 1, 0));
        assert_eq!(
            address_for([0x01, 0xfe, 0xfa]),
            Ipv4Addr::new(198, 19, 255, 250)
        );
        assert_eq!(
            address_for([0x01, 0xfe, 0xfb]),
            Ipv4Addr::new(198, 18, 1, 0)
        );
    }

    #[test]
    fn malformed_truncated_and_unrelayed_queries_are_dropped() {
        let good = relayed(dhcp::discover(1, MAC));
        assert!(answer(&good).is_some());
        // Every truncation inside the header or inside an option is dropped; one that cuts
        // between whole options (after 53, or before END) is still answered.
        let end = good.iter().rposition(|&b| b == 255).unwrap();
        for n in 0..good.len() {
            let got = answer(&good[..n]).is_some();
            // 243: just after option 53, a whole option: a packet without END is read as Kea
            // reads it.
            assert_eq!(got, n == 243 || n >= end, "truncated to {n}");
        }
        let mutate = |i: usize, v: u8| {
            let mut q = good.clone();
            q[i] = v;
            q
        };
        assert!(answer(&mutate(0, 2)).is_none(), "a BOOTREPLY");
        assert!(answer(&mutate(236, 0)).is_none(), "no magic cookie");
        assert!(
            answer(&mutate(242, 8)).is_none(),
            "DHCPINFORM is not answered"
        );
        assert!(
            answer(&mutate(241, 200)).is_none(),
            "option 53 longer than the packet"
        );
        let mut unrelayed = good.clone();
        unrelayed[24..28].fill(0);
        assert!(answer(&unrelayed).is_none(), "no giaddr");
        let mut foreign = good.clone();
        foreign[24..28].copy_from_slice(&[192, 0, 2, 1]);
        assert!(answer(&foreign).is_none(), "a relay outside 198.18.0.0/15");
        let mut no_type = good.clone();
        no_type[240] = 0; // 53 becomes PAD, then "1, 1" is option 1 of length 1
        assert!(answer(&no_type).is_none(), "no message type");
        assert!(answer(&[0xff; 1500]).is_none());
        assert!(answer(&[]).is_none());
    }

    /// The batched I/O on loopback (ephemeral ports, nothing leaves the host): three queued
    /// datagrams come back from one recvmmsg with their lengths, two replies leave in one
    /// sendmmsg to their own destinations.
    #[test]
    fn batched_receive_and_send_carry_every_datagram() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let to_server = server.local_addr().unwrap();
        for payload in [&b"one"[..], b"three", &[7u8; 300]] {
            client.send_to(payload, to_server).unwrap();
        }
        let mut queries = vec![[0u8; QUERY_BUFFER]; 8];
        let mut lens = [0usize; 8];
        let mut got = 0;
        // MSG_WAITFORONE returns what is queued once the first is there: loopback delivers
        // synchronously, so all three are queued, but a short read is handled anyway.
        while got < 3 {
            let n = recv_batch(server.as_raw_fd(), &mut queries[got..], &mut lens[got..]).unwrap();
            assert!(n > 0);
            got += n;
        }
        assert_eq!(&lens[..3], &[3, 5, 300]);
        assert_eq!(&queries[0][..3], b"one");
        assert_eq!(&queries[1][..5], b"three");
        assert!(queries[2][..300].iter().all(|&b| b == 7));

        let v4 = |s: &UdpSocket| match s.local_addr().unwrap() {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => unreachable!(),
        };
        let mut replies = [[0u8; REPLY_LEN]; 2];
        replies[0][0] = 1;
        replies[1][0] = 2;
        let sent = send_batch(server.as_raw_fd(), &replies, &[v4(&client), v4(&other)]).unwrap();
        assert_eq!(sent, 2);
        let mut buf = [0u8; 600];
        for (socket, first) in [(&client, 1), (&other, 2)] {
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let (n, from) = socket.recv_from(&mut buf).unwrap();
            assert_eq!((n, buf[0], from), (REPLY_LEN, first, to_server));
        }
    }

    #[test]
    fn flags_parse_and_stay_in_the_bench_network() {
        let argv = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let a = parse_args(&argv("--listen 198.18.0.1 --max-seconds 30")).unwrap();
        assert_eq!((a.listen, a.server_id, a.max_seconds), (SERVER, SERVER, 30));
        let a = parse_args(&argv("--listen 198.18.0.1 --server-id 198.19.0.9")).unwrap();
        assert_eq!(
            (a.server_id, a.max_seconds),
            (Ipv4Addr::new(198, 19, 0, 9), 600)
        );
        assert!(parse_args(&argv("--listen 127.0.0.1")).is_err());
        assert!(parse_args(&argv("--listen 198.18.0.1 --server-id 10.0.0.1")).is_err());
        assert!(parse_args(&argv("--listen 198.18.0.1 --max-seconds 0")).is_err());
        assert!(parse_args(&argv("--listen 198.18.0.1 --max-seconds 3601")).is_err());
        assert!(parse_args(&argv("--server-id 198.18.0.1")).is_err());
        assert!(parse_args(&argv("--listen")).is_err());
        assert!(parse_args(&argv("--listen 198.18.0.1 --bogus")).is_err());
        assert_eq!(parse_args(&argv("--listen 198.18.0.1")).unwrap().batch, 1);
        let a = parse_args(&argv("--listen 198.18.0.1 --batch 32")).unwrap();
        assert_eq!(a.batch, 32);
        assert!(parse_args(&argv("--listen 198.18.0.1 --batch 0")).is_err());
        assert!(parse_args(&argv("--listen 198.18.0.1 --batch 65")).is_err());
        assert_eq!(a.hold, Duration::ZERO);
        let a = parse_args(&argv("--listen 198.18.0.1 --batch 32 --hold-us 1000")).unwrap();
        assert_eq!(a.hold, Duration::from_millis(1));
        assert!(parse_args(&argv("--listen 198.18.0.1 --hold-us 1000")).is_err());
        assert!(parse_args(&argv("--listen 198.18.0.1 --batch 2 --hold-us 100001")).is_err());
    }
}
