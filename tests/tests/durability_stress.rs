#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Durability under stress:
//!
//! (a) strace wrend during a perfdhcp load: every ACK it sends (sendto/sendmsg/write of a
//!     DHCPACK) comes after the lease-file write holding its lease AND after an fdatasync
//!     (or fsync) of that file following the write: the group commit really precedes the
//!     replies (`strace -f -tt -xx -e trace=fdatasync,fsync,sendto,sendmsg,sendmmsg,write`;
//!     a batch's frames leave in one `sendmmsg`, each of its messages checked).
//! (b) SIGKILL the server at random moments under load, 10 times, restarting it each time:
//!     from a client-side tcpdump capture, no lease ACKed before a kill is missing from the
//!     lease files the restart loads (same client, an expiry at least as late as the ACK
//!     promised: a lost renewal counts), and no address is ever ACKed to two clients.
//! (c) the same with lease-file compaction running every second (`lfc-interval: 1`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wren_tests::capture::{mac_string, Capture, Dhcp, DHCPACK, DHCPREQUEST};
use wren_tests::clients::{Perfdhcp, PerfdhcpOptions};
use wren_tests::inject::Lcg;
use wren_tests::leases::{self, LeaseRow};
use wren_tests::netns::NetPair;
use wren_tests::process::Background;
use wren_tests::server::{render, Server, ServerKind, RELAY_CONFIG};
use wren_tests::{require_program, require_root, wait_for, TestDir};

const STRACE: &str = "/usr/bin/strace";

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

// ------------------------------------------------------------------ strace parsing

/// One traced system call, in trace order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Call {
    /// fdatasync/fsync(fd) = 0.
    Sync { fd: i32 },
    /// write(fd, …) of lease-file rows: the addresses of the rows written.
    LeaseWrite { fd: i32, addresses: Vec<Ipv4Addr> },
    /// A DHCPACK sent (sendto, sendmsg, a message of sendmmsg, or write of a UDP payload or
    /// an Ethernet frame).
    AckSent { yiaddr: Ipv4Addr },
}

/// Decodes the first strace `-xx` string in `text` ("\x41\x42..." → bytes).
fn first_string(text: &str) -> Option<Vec<u8>> {
    let start = text.find('"')? + 1;
    let rest = &text[start..];
    let end = rest.find('"')?;
    let mut out = Vec::new();
    let s = &rest.as_bytes()[..end];
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && s.get(i + 1) == Some(&b'x') && i + 3 < s.len() {
            let hex = std::str::from_utf8(&s[i + 2..i + 4]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 4;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The yiaddr of a DHCPACK carried as a UDP payload (offset 0) or in an Ethernet/IPv4/UDP
/// frame (offset 42).
fn ack_in(bytes: &[u8]) -> Option<Ipv4Addr> {
    [0usize, 42].iter().find_map(|&off| {
        let d = Dhcp::parse(bytes.get(off..)?)?;
        (d.op() == 2 && d.message_type() == Some(DHCPACK)).then(|| d.yiaddr())
    })
}

/// The addresses of lease rows in a write's bytes (the header line is skipped).
fn lease_rows_in(bytes: &[u8]) -> Vec<Ipv4Addr> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| leases::parse_row(l).map(|r| r.address))
        .collect()
}

fn fd_of(args: &str) -> Option<i32> {
    args.split([',', ')']).next()?.trim().parse().ok()
}

/// Parses `strace -f -tt -xx` output (with `<unfinished ...>` / `<... resumed>` pairs joined).
fn parse_strace(text: &str) -> Vec<Call> {
    let mut pending: BTreeMap<String, String> = BTreeMap::new();
    let mut calls = Vec::new();
    for line in text.lines() {
        // "PID  HH:MM:SS.uuuuuu call(...) = ret" (strace pads the PID column)
        let mut words = line.split_whitespace();
        let (Some(pid), Some(time)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(rest) = line.find(time).map(|i| line[i + time.len()..].trim_start()) else {
            continue;
        };
        let full = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(pid.to_string(), head.to_string());
            continue;
        } else if rest.starts_with("<... ") {
            let Some(head) = pending.remove(pid) else {
                continue;
            };
            let tail = rest.split_once("resumed>").map(|(_, t)| t).unwrap_or("");
            format!("{head}{tail}")
        } else {
            rest.to_string()
        };
        let Some((name, args)) = full.split_once('(') else {
            continue;
        };
        // "call(args)      = 0": strace pads before " = "; failures return -1 ERRNO.
        let ok = full
            .rsplit_once(" = ")
            .map(|(_, r)| r.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .unwrap_or(false);
        if !ok {
            continue;
        }
        match name {
            "sendmmsg" => {
                // "[{msg_hdr={…, msg_iov=[{iov_base="…", …}], …}, msg_len=N}, …], 3, 0) = 2":
                // the first `ret` messages left, each with its own iov_base.
                let sent: usize = full
                    .rsplit_once(" = ")
                    .and_then(|(_, r)| r.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0);
                let mut rest = args;
                let mut taken = 0;
                while let (true, Some(i)) = (taken < sent, rest.find("iov_base=")) {
                    rest = &rest[i..];
                    if let Some(yiaddr) = first_string(rest).and_then(|b| ack_in(&b)) {
                        calls.push(Call::AckSent { yiaddr });
                    }
                    rest = &rest["iov_base=".len()..];
                    taken += 1;
                }
            }
            "fdatasync" | "fsync" => {
                if let Some(fd) = fd_of(args) {
                    calls.push(Call::Sync { fd });
                }
            }
            "write" | "sendto" | "sendmsg" => {
                // sendmsg: the payload is the iov_base string (msg_name has strings too)
                let payload = args.find("iov_base=").map_or(args, |i| &args[i..]);
                let Some(bytes) = first_string(payload) else {
                    continue;
                };
                if let Some(yiaddr) = ack_in(&bytes) {
                    calls.push(Call::AckSent { yiaddr });
                } else if name == "write" {
                    let addresses = lease_rows_in(&bytes);
                    if let (false, Some(fd)) = (addresses.is_empty(), fd_of(args)) {
                        calls.push(Call::LeaseWrite { fd, addresses });
                    }
                }
            }
            _ => {}
        }
    }
    calls
}

/// Every ACK after (1) a lease-file write of its address and (2) a sync of that file after
/// that write. Returns the number of ACKs checked, or the violations.
fn check_sync_before_ack(calls: &[Call]) -> Result<usize, Vec<String>> {
    // address -> (fd, index of its latest lease write)
    let mut written: BTreeMap<Ipv4Addr, (i32, usize)> = BTreeMap::new();
    // fd -> index of its latest sync
    let mut synced: BTreeMap<i32, usize> = BTreeMap::new();
    let mut acks = 0;
    let mut bad = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        match c {
            Call::Sync { fd } => {
                synced.insert(*fd, i);
            }
            Call::LeaseWrite { fd, addresses } => {
                for a in addresses {
                    written.insert(*a, (*fd, i));
                }
            }
            Call::AckSent { yiaddr } => {
                acks += 1;
                match written.get(yiaddr) {
                    None => bad.push(format!(
                        "call {i}: ACK for {yiaddr} before any lease write of it"
                    )),
                    Some((fd, w)) => {
                        if synced.get(fd).is_none_or(|s| s < w) {
                            bad.push(format!(
                                "call {i}: ACK for {yiaddr} after its write (call {w}, fd {fd}) but before a sync of fd {fd}"
                            ));
                        }
                    }
                }
            }
        }
    }
    if bad.is_empty() {
        Ok(acks)
    } else {
        Err(bad)
    }
}

/// A DHCP payload of `kind` from/to `mac` with `xid` (yiaddr 198.18.1.7, lease 600 s).
fn dhcp_packet(time_us: u64, kind: u8, mac: u8, xid: u32) -> wren_tests::capture::UdpPacket {
    let mut payload = vec![0u8; 240];
    payload[0] = if kind == DHCPACK { 2 } else { 1 };
    payload[4..8].copy_from_slice(&xid.to_be_bytes());
    payload[16..20].copy_from_slice(&[198, 18, 1, 7]);
    payload[28..34].copy_from_slice(&[2, 0, 0, 0, 0, mac]);
    payload[236..240].copy_from_slice(&[99, 130, 83, 99]);
    payload.extend_from_slice(&[53, 1, kind, 51, 4, 0, 0, 2, 88, 255]);
    wren_tests::capture::UdpPacket {
        time_us,
        src_mac: [0; 6],
        dst_mac: [0; 6],
        src_ip: Ipv4Addr::UNSPECIFIED,
        dst_ip: Ipv4Addr::UNSPECIFIED,
        src_port: 67,
        dst_port: 67,
        payload,
    }
}

#[test]
fn acks_pair_with_their_request_and_bound_the_expiry() {
    let packets = [
        dhcp_packet(1_000_000_500_000, DHCPREQUEST, 1, 7),
        dhcp_packet(1_000_000_900_000, DHCPREQUEST, 2, 8),
        // Answered 4.2 s late (an overloaded machine): the bound follows the REQUEST.
        dhcp_packet(1_000_004_700_000, DHCPACK, 1, 7),
        // Its REQUEST is not in the capture under this xid: the client's latest one.
        dhcp_packet(1_000_005_000_000, DHCPACK, 2, 9),
        // No REQUEST at all from this client.
        dhcp_packet(1_000_006_000_000, DHCPACK, 3, 10),
    ];
    let acks = acks_seen(&packets);
    assert_eq!(acks.len(), 3);
    assert_eq!(acks[0].request_us, Some(1_000_000_500_000));
    assert_eq!(acks[1].request_us, Some(1_000_000_900_000));
    assert_eq!(acks[2].request_us, None);
    assert_eq!(
        (acks[0].mac.as_str(), acks[0].lease_time),
        ("02:00:00:00:00:01", 600)
    );
    // The longest measured REQUEST→ACK time is 4.2 s.
    assert_eq!(earliest_expiry(&acks[0], 4_200_000), 1_000_000 + 600);
    assert_eq!(earliest_expiry(&acks[1], 4_200_000), 1_000_000 + 600);
    // 6.0 s − 4.2 s − 1 s = 0.8 s past 1_000_000.
    assert_eq!(earliest_expiry(&acks[2], 4_200_000), 1_000_000 + 600);
    assert_eq!(earliest_expiry(&acks[2], 0), 1_000_005 + 600);
}

#[test]
fn strace_parser_reads_sync_writes_and_acks() {
    // A DHCPACK UDP payload for 198.18.1.7, as strace -xx prints it.
    let mut ack = vec![0u8; 240];
    ack[0] = 2;
    ack[16..20].copy_from_slice(&[198, 18, 1, 7]);
    ack[236..240].copy_from_slice(&[99, 130, 83, 99]);
    ack.extend_from_slice(&[53, 1, 5, 255]);
    let hex: String = ack.iter().map(|b| format!("\\x{b:02x}")).collect();
    let row = "198.18.1.7,00:0c:01:02:03:04,,3600,1800003600,7,0,0,,0,\n";
    let row_hex: String = row.bytes().map(|b| format!("\\x{b:02x}")).collect();
    let trace = format!(
        "100   10:00:00.000001 write(7, \"{row_hex}\", {}) = {}\n\
         100 10:00:00.000002 fdatasync(7 <unfinished ...>\n\
         101 10:00:00.000003 write(1, \"\\x68\\x69\", 2) = 2\n\
         100 10:00:00.000004 <... fdatasync resumed>)      = 0\n\
         100 10:00:00.000004 fdatasync(9)      = -1 EIO (Input/output error)\n\
         100 10:00:00.000005 sendmsg(5, {{msg_name={{sa_family=AF_INET, sin_addr=inet_addr(\"\\x31\\x39\")}}, msg_iov=[{{iov_base=\"{hex}\", iov_len=244}}]}}, 0) = 244\n",
        row.len(),
        row.len()
    );
    let calls = parse_strace(&trace);
    assert_eq!(
        calls,
        vec![
            Call::LeaseWrite {
                fd: 7,
                addresses: vec![Ipv4Addr::new(198, 18, 1, 7)]
            },
            Call::Sync { fd: 7 },
            Call::AckSent {
                yiaddr: Ipv4Addr::new(198, 18, 1, 7)
            },
        ]
    );
    assert_eq!(check_sync_before_ack(&calls), Ok(1));
    // The same ACK without the sync, or before the write, is caught.
    let no_sync = [calls[0].clone(), calls[2].clone()];
    assert!(check_sync_before_ack(&no_sync).is_err());
    let ack_first = [calls[2].clone(), calls[0].clone(), calls[1].clone()];
    assert!(check_sync_before_ack(&ack_first).is_err());
    let stale_sync = [calls[1].clone(), calls[0].clone(), calls[2].clone()];
    assert!(check_sync_before_ack(&stale_sync).is_err());

    // A batch of frames in one sendmmsg: each message that left is an ACK sent; one the
    // kernel did not take (return value 2 of 3) is not.
    let frame = |last: u8| {
        let mut f = vec![0u8; 42];
        let mut a = ack.clone();
        a[19] = last;
        f.extend_from_slice(&a);
        f.iter().map(|b| format!("\\x{b:02x}")).collect::<String>()
    };
    let message = |hex: String| {
        format!("{{msg_hdr={{msg_name=NULL, msg_namelen=0, msg_iov=[{{iov_base=\"{hex}\", iov_len=286}}], msg_iovlen=1, msg_controllen=0, msg_flags=0}}, msg_len=286}}")
    };
    let trace = format!(
        "100 10:00:00.000006 sendmmsg(4, [{}, {}, {}], 3, 0) = 2\n",
        message(frame(8)),
        message(frame(9)),
        message(frame(10))
    );
    assert_eq!(
        parse_strace(&trace),
        vec![
            Call::AckSent {
                yiaddr: Ipv4Addr::new(198, 18, 1, 8)
            },
            Call::AckSent {
                yiaddr: Ipv4Addr::new(198, 18, 1, 9)
            },
        ]
    );
}

#[test]
fn fdatasync_precedes_every_ack_under_load() {
    require_root();
    require_program(STRACE, "strace");
    let dir = TestDir::new("durstress-strace");
    let net = NetPair::relay();
    // The invariant is wren's promise (Kea 2.2's memfile never fsyncs): always wrend here.
    let server = Server::start(
        ServerKind::Wrend,
        &net.server,
        dir.path(),
        &render(RELAY_CONFIG, &net.server_if, dir.path()),
    );
    let pid = server.pid().unwrap();
    let trace = dir.join("strace.out");
    let trace_log = dir.join("strace.log");
    let log = std::fs::File::create(&trace_log).unwrap();
    let child = std::process::Command::new(STRACE)
        .args(["-f", "-tt", "-xx", "-s", "16384", "-e"])
        .arg("trace=fdatasync,fsync,sendto,sendmsg,sendmmsg,write")
        .arg("-o")
        .arg(&trace)
        .arg("-p")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut strace = Background::new(child, "strace");
    let attached = wait_for(Duration::from_secs(10), || {
        wren_tests::read_text(&trace_log)
            .contains("attached")
            .then_some(())
    });
    assert!(
        attached.is_some(),
        "strace did not attach: {}",
        wren_tests::read_text(&trace_log)
    );
    // `..Default::default()` keeps this compiling while the harness adds options.
    #[allow(clippy::needless_update)]
    let opts = PerfdhcpOptions {
        rate: 200,
        clients: 500,
        max_exchanges: 600,
        period_secs: 4,
        ..Default::default()
    };
    let report = Perfdhcp::spawn(
        &net.client,
        &net.client_if,
        net.server_ip,
        &opts,
        dir.path(),
    )
    .finish(Duration::from_secs(40));
    strace.stop(Duration::from_secs(5));
    let calls = parse_strace(&wren_tests::read_text(&trace));
    let syncs = calls
        .iter()
        .filter(|c| matches!(c, Call::Sync { .. }))
        .count();
    match check_sync_before_ack(&calls) {
        Ok(acks) => {
            eprintln!(
                "strace: {acks} ACKs, {syncs} syncs, perfdhcp ACKs received {}",
                report.ack_received
            );
            assert!(acks >= 200, "only {acks} ACKs traced:\n{}", report.output);
            assert!(
                acks as u64 >= report.ack_received * 9 / 10,
                "traced {acks} ACKs but perfdhcp received {}",
                report.ack_received
            );
            assert!(syncs >= 1);
        }
        Err(bad) => panic!(
            "{} ACKs sent before their lease was durable, e.g.:\n{}",
            bad.len(),
            bad.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
        ),
    }
    drop(server);
}

// ------------------------------------------------------------------ kill cycles

/// The lease rows a restart loads, in Kea's order (kea-memfile.md §2): `<name>.completed`
/// then `<name>` if the former exists, else `<name>.2`, `<name>.1`, `<name>`.
fn loadable_rows(name: &Path) -> Vec<LeaseRow> {
    let with = |suffix: &str| PathBuf::from(format!("{}{suffix}", name.display()));
    let files: Vec<PathBuf> = if with(".completed").exists() {
        vec![with(".completed"), name.to_path_buf()]
    } else {
        vec![with(".2"), with(".1"), name.to_path_buf()]
    };
    files
        .iter()
        .filter(|f| f.exists())
        .flat_map(|f| leases::read_rows(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// An ACK seen on the wire.
struct Ack {
    /// Capture time, µs since the epoch.
    time_us: u64,
    /// Capture time of the DHCPREQUEST it answers (same client and xid; else the client's
    /// latest REQUEST before it), if the capture holds it.
    request_us: Option<u64>,
    address: Ipv4Addr,
    mac: String,
    /// Option 51, seconds.
    lease_time: u64,
}

/// ACKs seen on the wire, in capture order, each with the time of its REQUEST.
fn acks_seen(packets: &[wren_tests::capture::UdpPacket]) -> Vec<Ack> {
    let mut by_xid: BTreeMap<(String, u32), u64> = BTreeMap::new();
    let mut by_mac: BTreeMap<String, u64> = BTreeMap::new();
    let mut acks = Vec::new();
    for p in packets {
        let Some(d) = Dhcp::parse(&p.payload) else {
            continue;
        };
        let mac = mac_string(&d.chaddr());
        match d.message_type() {
            Some(DHCPREQUEST) => {
                by_xid.insert((mac.clone(), d.xid()), p.time_us);
                by_mac.insert(mac, p.time_us);
            }
            Some(DHCPACK) => {
                let lease_time = d
                    .option(51)
                    .and_then(|v| <[u8; 4]>::try_from(v).ok())
                    .map_or(0, |b| u64::from(u32::from_be_bytes(b)));
                let request_us = by_xid
                    .get(&(mac.clone(), d.xid()))
                    .or_else(|| by_mac.get(&mac))
                    .copied();
                acks.push(Ack {
                    time_us: p.time_us,
                    request_us,
                    address: d.yiaddr(),
                    mac,
                    lease_time,
                });
            }
            _ => {}
        }
    }
    acks
}

/// The earliest expiry the server can have written for an ACK, seconds since the epoch.
///
/// The server reads its clock (whole seconds, the same machine's clock tcpdump stamps
/// with) after the REQUEST reached it, so the lease's expiry is at least the REQUEST's
/// capture second plus the lifetime the ACK gives: a bound measured per ACK, however long
/// an overloaded machine took to answer. An ACK whose REQUEST the capture lacks gets the
/// longest REQUEST→ACK time measured in this run (plus the second the clocks round
/// away), not a fixed guess.
fn earliest_expiry(a: &Ack, longest_answer_us: u64) -> u64 {
    let clock_read_us = a
        .request_us
        .unwrap_or_else(|| a.time_us.saturating_sub(longest_answer_us + 1_000_000));
    clock_read_us / 1_000_000 + a.lease_time
}

/// No ACK seen before `until_us` is missing from the loadable lease files: each address's
/// latest ACK is there with the same client and an expiry at least as late as that ACK
/// promised ([`earliest_expiry`]), so a renewal lost to the kill is caught too, not
/// only a new lease; and no address was ever ACKed to two clients. Returns how many ACKed
/// addresses were checked.
fn check_acked_leases(acks: &[Ack], until_us: u64, lease_file: &Path, cycle: usize) -> usize {
    let mut owners: BTreeMap<Ipv4Addr, BTreeSet<&str>> = BTreeMap::new();
    for a in acks {
        owners.entry(a.address).or_default().insert(&a.mac);
    }
    let doubled: Vec<_> = owners
        .iter()
        .filter(|(_, m)| m.len() > 1)
        .take(10)
        .collect();
    assert!(
        doubled.is_empty(),
        "cycle {cycle}: addresses ACKed to two clients: {doubled:?}"
    );
    let table = leases::current(&loadable_rows(lease_file));
    // The latest ACK of each address before the kill.
    let before: BTreeMap<Ipv4Addr, &Ack> = acks
        .iter()
        .filter(|a| a.time_us < until_us)
        .map(|a| (a.address, a))
        .collect();
    let longest_answer_us = acks
        .iter()
        .filter_map(|a| Some(a.time_us.saturating_sub(a.request_us?)))
        .max()
        .unwrap_or(0);
    let lost: Vec<_> = before
        .values()
        .filter(|a| {
            let promised = earliest_expiry(a, longest_answer_us);
            table
                .get(&a.address)
                .map(|r| r.hwaddr != a.mac || r.valid_lifetime == 0 || r.expire < promised)
                .unwrap_or(true)
        })
        .map(|a| {
            let row = table.get(&a.address).map(|r| (r.hwaddr.as_str(), r.expire));
            format!(
                "{} ACKed to {} at {} s for {} s, file: {row:?}",
                a.address,
                a.mac,
                a.time_us / 1_000_000,
                a.lease_time
            )
        })
        .take(10)
        .collect();
    assert!(
        lost.is_empty(),
        "cycle {cycle}: ACKed leases missing from the lease files after SIGKILL: {lost:?} (of {})",
        before.len()
    );
    before.len()
}

fn kill_cycles(kind: ServerKind, lfc_interval: u32, cycles: usize, seed: u64) {
    require_root();
    let dir = TestDir::new(&format!("durstress-{}-lfc{lfc_interval}", kind.name()));
    let net = NetPair::relay();
    let config = render(RELAY_CONFIG, &net.server_if, dir.path()).replace(
        "\"lfc-interval\": 0",
        &format!("\"lfc-interval\": {lfc_interval}"),
    );
    assert!(config.contains(&format!("\"lfc-interval\": {lfc_interval}")));
    let mut server = Server::start(kind, &net.server, dir.path(), &config);
    let capture = Capture::start(&net.client, &net.client_if, dir.path(), "stress");
    let mut rng = Lcg(seed);
    // 500 distinct clients (of ~760 pool addresses) come back cycle after cycle: each must
    // keep its address across every kill.
    // `..Default::default()` keeps this compiling while the harness adds options.
    #[allow(clippy::needless_update)]
    let opts = PerfdhcpOptions {
        rate: 150,
        clients: 500,
        max_exchanges: 450,
        period_secs: 3,
        ..Default::default()
    };
    let mut checked = 0;
    for cycle in 1..=cycles {
        let load = Perfdhcp::spawn(
            &net.client,
            &net.client_if,
            net.server_ip,
            &opts,
            dir.path(),
        );
        let delay = 300 + (u64::from(rng.next_u8()) << 8 | u64::from(rng.next_u8())) % 2200;
        std::thread::sleep(Duration::from_millis(delay));
        server.kill_hard();
        let killed_at = now_us();
        std::thread::sleep(Duration::from_millis(200));
        let acks = acks_seen(&capture.packets_so_far());
        checked = check_acked_leases(&acks, killed_at, &server.lease_file(), cycle);
        server.restart(&net.server);
        let report = load.finish(Duration::from_secs(30));
        eprintln!(
            "cycle {cycle}: killed after {delay} ms, {checked} ACKed addresses checked, perfdhcp ACKs {}",
            report.ack_received
        );
    }
    // Finally: a clean stop, and everything ever ACKed is in the files.
    server.stop();
    let packets = capture.stop();
    let acks = acks_seen(&packets);
    let total = check_acked_leases(&acks, u64::MAX, &server.lease_file(), cycles + 1);
    assert!(
        total >= 300,
        "only {total} addresses ACKed over {cycles} cycles (last check {checked})"
    );
    server.assert_no_panic();
}

#[test]
fn sigkill_ten_times_under_load_loses_no_acked_lease() {
    kill_cycles(ServerKind::from_env(), 0, 10, 0x0d0a_2026);
}

#[test]
fn sigkill_ten_times_with_lease_file_compaction_every_second() {
    kill_cycles(ServerKind::from_env(), 1, 10, 0x1fc0_2026);
}
