#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! Packet storm: 100,000 mutated DHCP packets (truncated, oversized options, bad lengths,
//! option-overload loops, wrong cookie, random bytes, broken IP/UDP headers) sent at a running
//! server from inside the client namespace, at up to ~5,000 frames/s, while wren-loadgen runs
//! real DORA conversations through the same veth. The storm slows down while the server's
//! packet sockets hold more than [`BACKLOG_LIMIT`] bytes: on a slow or shared machine the
//! kernel would otherwise drop frames at the full socket buffer (real ones among them),
//! which would measure the machine, not the server. Then: the server never crashed or panicked,
//! every real conversation was served, RSS stayed flat (< 1 MiB growth), and after a restart
//! the lease file loads: the same clients get the same addresses back. The real clients
//! retransmit up to twice, as real clients do (the kernel may drop a frame under the storm).
//!
//! Needs `target/*/wren-loadgen` (`cargo build -p wren-loadgen`) or `WREN_LOADGEN`.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use wren_tests::inject::{from_hex, Lcg};
use wren_tests::netns::{NetPair, Netns, PairOptions};
use wren_tests::process::Background;
use wren_tests::server::{render, Server, ServerKind};
use wren_tests::{require_root, TestDir};

const FIXTURES: [&str; 9] = [
    include_str!("../../core/tests/fixtures/dhclient-discover.hex"),
    include_str!("../../core/tests/fixtures/dhclient-request.hex"),
    include_str!("../../core/tests/fixtures/dhclient-renew-request.hex"),
    include_str!("../../core/tests/fixtures/dhclient-release.hex"),
    include_str!("../../core/tests/fixtures/udhcpc-discover.hex"),
    include_str!("../../core/tests/fixtures/udhcpc-request.hex"),
    include_str!("../../core/tests/fixtures/dhcpcd-inform.hex"),
    include_str!("../../core/tests/fixtures/dhcpcd-request.hex"),
    include_str!("../../core/tests/fixtures/perfdhcp-discover.hex"),
];

/// Subnet 198.18.0.0/16 with ~65,000 pool addresses: mutated REQUESTs that happen to be valid
/// may take a few addresses, never enough to starve the real clients.
const STORM_CONFIG: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "@IFACE@" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "@DIR@/leases4.csv", "lfc-interval": 0 },
    "authoritative": true,
    "valid-lifetime": 3600,
    "subnet4": [
      {
        "id": 1,
        "subnet": "198.18.0.0/16",
        "pools": [ { "pool": "198.18.1.0 - 198.18.255.250" } ],
        "option-data": [ { "name": "routers", "data": "198.18.0.1" } ]
      }
    ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "WARN" } ]
  }
}
"#;

const STORM_PACKETS: usize = 100_000;
const MAX_PAYLOAD: usize = 1500 - 28;
const STORM_RATE: u64 = 5_000;
const REAL_CLIENTS: u32 = 300;
/// Bytes queued on the server's packet sockets above which the storm waits (a tenth of the
/// default 208 KiB socket buffer: a few dozen frames, milliseconds of work).
const BACKLOG_LIMIT: u64 = 24 * 1024;
/// Rounds of 20 more real clients at most while a slowed storm outlasts the planned ones.
const EXTRA_ROUNDS: u8 = 60;
/// The storm gives up waiting for the server to drain its sockets after this long (a server
/// that stops reading is caught by the real clients going unanswered).
const BACKLOG_WAIT: Duration = Duration::from_secs(5);

/// The load generator: `WREN_LOADGEN`, else the newest `target/{debug,release}/wren-loadgen`,
/// else built now with `cargo build -p wren-loadgen` (scripts/test.sh builds only wrend).
fn loadgen_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("WREN_LOADGEN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let newest = || {
        ["debug", "release"]
            .iter()
            .map(|p| target.join(p).join("wren-loadgen"))
            .filter_map(|p| {
                let t = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
                Some((t, p))
            })
            .max()
            .map(|(_, p)| p)
    };
    if let Some(p) = newest() {
        return p;
    }
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = wren_tests::process::run(
            std::process::Command::new(cargo)
                .args(["build", "-p", "wren-loadgen"])
                .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")),
            Duration::from_secs(600),
        );
        assert!(
            out.success(),
            "cargo build -p wren-loadgen failed:\n{}",
            out.combined()
        );
    });
    newest().unwrap_or_else(|| {
        panic!(
            "no wren-loadgen under {}: run `cargo build -p wren-loadgen`",
            target.display()
        )
    })
}

/// Starts wren-loadgen in `ns` with `args`; its output goes to `out`.
fn spawn_loadgen(ns: &Netns, args: &[String], out: &Path) -> Background {
    let f = std::fs::File::create(out).unwrap();
    let e = f.try_clone().unwrap();
    let child = ns
        .command(&loadgen_binary().display().to_string())
        .args(args)
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(e)
        .spawn()
        .unwrap_or_else(|e| panic!("start wren-loadgen: {e}"));
    Background::new(child, "wren-loadgen")
}

/// `loadgen: ... acks N ... drops N ...` → (acks, drops); panics with the output otherwise.
fn loadgen_counts(text: &str) -> (u64, u64) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let after = |key: &str| {
        words
            .iter()
            .position(|w| *w == key)
            .and_then(|i| words.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no `{key}` in loadgen output:\n{text}"))
    };
    (after("acks"), after("drops"))
}

/// `MAC ADDRESS` lines of `--leases`.
fn loadgen_leases(path: &Path) -> BTreeMap<String, String> {
    wren_tests::read_text(path)
        .lines()
        .filter_map(|l| {
            let (m, a) = l.split_once(' ')?;
            Some((m.to_string(), a.to_string()))
        })
        .collect()
}

fn vm_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One mutated DHCP payload (deterministic from `rng`).
fn mutate(rng: &mut Lcg, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut r =
        |n: usize| (usize::from(rng.next_u8()) << 8 | usize::from(rng.next_u8())) % n.max(1);
    let mut p = seeds[r(seeds.len())].clone();
    let end = p
        .iter()
        .skip(240)
        .position(|&b| b == 255)
        .map_or(p.len(), |e| e + 240);
    match r(10) {
        // truncated anywhere (header, cookie, options)
        0 => p.truncate(r(p.len())),
        // an oversized option: length runs past the end of the packet
        1 => {
            p.truncate(end);
            p.extend_from_slice(&[43, 255, 1, 2, 3]);
        }
        // many maximum-size options: a packet near the 1,472-byte UDP limit of a 1,500-byte
        // MTU (RFC 3396 concatenation of 61, 12)
        2 => {
            p.truncate(end);
            for i in 0..5 {
                p.push(if i % 2 == 0 { 61 } else { 12 });
                p.push(255);
                p.resize(p.len() + 255, 0x41);
            }
            p.push(255);
        }
        // a random option length byte
        3 => {
            if end > 242 {
                let i = 241 + r(end - 242);
                p[i] = (r(256)) as u8;
            }
        }
        // option overload loop: 52 = 3 with file and sname holding 52 again and no END
        4 => {
            p.truncate(end);
            p.extend_from_slice(&[52, 1, 3, 255]);
            if p.len() > 236 {
                for b in &mut p[44..236] {
                    *b = 0;
                }
                p[44..47].copy_from_slice(&[52, 1, 3]);
                p[108..111].copy_from_slice(&[52, 1, 3]);
                p[111..113].copy_from_slice(&[53, 1]);
            }
        }
        // wrong magic cookie
        5 => {
            if p.len() >= 240 {
                p[236 + r(4)] ^= 0x5a;
            }
        }
        // random bytes of random length
        6 => {
            let n = r(1500);
            p = (0..n).map(|_| rng.next_u8()).collect();
        }
        // bit flips
        7 => {
            for _ in 0..1 + r(16) {
                let i = r(p.len());
                if let Some(b) = p.get_mut(i) {
                    *b ^= 1 << r(8);
                }
            }
        }
        // header fields out of range: hlen > 16, hops 255, odd htype, unknown message type
        8 => {
            p[1] = r(256) as u8;
            p[2] = 17 + (r(200)) as u8;
            p[3] = 255;
            if end > 243 && p[240] == 53 {
                p[242] = 9 + (r(240)) as u8;
            }
        }
        // options with zero length everywhere, no END
        _ => {
            p.truncate(240.min(p.len()));
            for _ in 0..r(600) {
                p.push(1 + (r(254)) as u8);
                p.push(0);
            }
        }
    }
    // One Ethernet frame: 1,500-byte MTU minus IP and UDP headers.
    p.truncate(MAX_PAYLOAD);
    p
}

fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet/IPv4/UDP around `payload` from 0.0.0.0:68 to 255.255.255.255:67; with
/// `break_headers`, one of: bad IHL, total length too long or too short, UDP length wrong,
/// bad IP checksum, a fragment, not UDP.
fn frame(rng: &mut Lcg, payload: &[u8], break_headers: bool) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[
        0x02,
        0x5e,
        rng.next_u8(),
        rng.next_u8(),
        rng.next_u8(),
        rng.next_u8(),
    ]);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (28 + payload.len()) as u16;
    let mut ip = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ];
    ip.extend_from_slice(&[0, 0, 0, 0, 255, 255, 255, 255]);
    let c = ip_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let ulen = (8 + payload.len()) as u16;
    let mut udp = vec![0, 68, 0, 67, (ulen >> 8) as u8, ulen as u8, 0, 0];
    if break_headers {
        match rng.next_u8() % 7 {
            0 => ip[0] = 0x40 | (rng.next_u8() % 16),
            1 => ip[2..4].copy_from_slice(&(total + 1 + u16::from(rng.next_u8())).to_be_bytes()),
            2 => ip[2..4].copy_from_slice(&u16::from(rng.next_u8() % 28).to_be_bytes()),
            3 => udp[4..6].copy_from_slice(&(ulen ^ u16::from(rng.next_u8() | 1)).to_be_bytes()),
            4 => ip[10] ^= 0xff,
            5 => ip[6] = 0x20,
            _ => ip[9] = 6,
        }
        // re-checksum unless the checksum itself is the broken part
        if ip[10..12] == c.to_be_bytes() {
            ip[10..12].copy_from_slice(&[0, 0]);
            let c2 = ip_checksum(&ip);
            ip[10..12].copy_from_slice(&c2.to_be_bytes());
        }
    }
    f.extend_from_slice(&ip);
    f.extend_from_slice(&udp);
    f.extend_from_slice(payload);
    f
}

/// Bytes queued on the packet sockets of `pid`'s network namespace (`Rmem` of
/// /proc/PID/net/packet): what the server has received and not yet read.
fn packet_backlog(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/net/packet"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(6)?.parse::<u64>().ok())
        .sum()
}

/// Sends `count` mutated frames out of `iface` in `ns` at about `rate` per second, waiting
/// whenever server `pid`'s sockets hold more than [`BACKLOG_LIMIT`] bytes; returns how many
/// the kernel took and how often the storm waited.
fn storm(ns: &Netns, iface: &str, count: usize, rate: u64, pid: u32) -> (usize, usize) {
    let iface = iface.to_string();
    let seeds: Vec<Vec<u8>> = FIXTURES.iter().map(|h| from_hex(h)).collect();
    ns.run_inside(move || {
        let name = std::ffi::CString::new(iface.clone()).unwrap();
        // SAFETY: socket/if_nametoindex/sendto with valid arguments; the fd is owned below.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(
            raw >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: reads a NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(index != 0, "no interface {iface}");
        // SAFETY: plain old data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        sll.sll_ifindex = index as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        let mut rng = Lcg(0x5707_2026);
        let mut start = Instant::now();
        let mut sent = 0;
        let mut waits = 0;
        for i in 0..count {
            if i % 16 == 0 && packet_backlog(pid) > BACKLOG_LIMIT {
                waits += 1;
                let waited = Instant::now();
                while packet_backlog(pid) > BACKLOG_LIMIT && waited.elapsed() < BACKLOG_WAIT {
                    std::thread::sleep(Duration::from_millis(1));
                }
                // the pace restarts from here
                start += waited.elapsed();
            }
            let payload = mutate(&mut rng, &seeds);
            let f = frame(&mut rng, &payload, i % 10 == 9);
            // SAFETY: sendto reads f.len() bytes of a live Vec and a valid sockaddr_ll.
            let rc = unsafe {
                libc::sendto(
                    fd.as_raw_fd(),
                    f.as_ptr().cast(),
                    f.len(),
                    0,
                    std::ptr::addr_of!(sll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if rc >= 0 {
                sent += 1;
            }
            // pace: frame i is due at i / rate seconds
            let due = Duration::from_micros(i as u64 * 1_000_000 / rate);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        (sent, waits)
    })
}

fn storm_against(kind: ServerKind) {
    require_root();
    let dir = TestDir::new(&format!("storm-{}", kind.name()));
    let net = NetPair::new(&PairOptions {
        server_cidr: "198.18.0.1/16".into(),
        ..Default::default()
    });
    let mut server = Server::start(
        kind,
        &net.server,
        dir.path(),
        &render(STORM_CONFIG, &net.server_if, dir.path()),
    );
    let pid = server.pid().unwrap();

    // Warm-up: a few real conversations, so first-use allocations are behind us.
    let warm = dir.join("warm.out");
    let mut w = spawn_loadgen(
        &net.client,
        &args(&net.client_if, 50, 100, 2, 2000, 11, None),
        &warm,
    );
    w.wait(Duration::from_secs(15));
    let (acks, _) = loadgen_counts(&wren_tests::read_text(&warm));
    assert_eq!(acks, 50, "warm-up:\n{}", wren_tests::read_text(&warm));
    std::thread::sleep(Duration::from_millis(300));
    let rss_before = vm_rss_kb(pid);

    // The storm, with real conversations interleaved for its whole length.
    let storm_secs = STORM_PACKETS as u64 / STORM_RATE;
    let real_out = dir.join("real.out");
    let real_leases = dir.join("real.leases");
    let rate = f64::from(REAL_CLIENTS) / storm_secs as f64;
    let mut real = spawn_loadgen(
        &net.client,
        &args(
            &net.client_if,
            REAL_CLIENTS,
            rate.ceil() as u32,
            storm_secs as u32 + 2,
            3000,
            12,
            Some(&real_leases),
        ),
        &real_out,
    );
    let started = Instant::now();
    let (sent, waits, extra_rounds) = std::thread::scope(|s| {
        let storming =
            s.spawn(|| storm(&net.client, &net.client_if, STORM_PACKETS, STORM_RATE, pid));
        real.wait(Duration::from_secs(storm_secs + 30))
            .expect("wren-loadgen did not finish");
        // When the storm outlasts the planned real conversations (it slowed down for a busy
        // server), more rounds of fresh real clients run until it ends.
        let mut rounds = 0;
        while !storming.is_finished() && rounds < EXTRA_ROUNDS {
            let out = dir.join(&format!("extra-{rounds}.out"));
            let mut round = spawn_loadgen(
                &net.client,
                &args(&net.client_if, 20, 10, 2, 3000, 100 + rounds, None),
                &out,
            );
            round.wait(Duration::from_secs(30));
            let text = wren_tests::read_text(&out);
            assert_eq!(
                loadgen_counts(&text),
                (20, 0),
                "real conversations of round {rounds} not all served during the storm:\n{text}"
            );
            rounds += 1;
        }
        let (sent, waits) = storming.join().unwrap();
        (sent, waits, rounds)
    });
    let storm_took = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.is_running(),
        "{} died during the storm:\n{}",
        kind.name(),
        server.log()
    );
    server.assert_no_panic();
    let rss_after = vm_rss_kb(pid);
    let real_text = wren_tests::read_text(&real_out);
    eprintln!(
        "storm: {sent} of {STORM_PACKETS} frames sent in {:.1} s ({waits} waits for the server to drain its sockets); real clients: {} (then {extra_rounds} rounds of 20 more, all served); {} VmRSS before {rss_before} kB, after {rss_after} kB",
        storm_took.as_secs_f64(),
        real_text.trim(),
        kind.name()
    );
    assert!(
        sent >= STORM_PACKETS * 99 / 100,
        "only {sent} storm frames sent"
    );
    let (acks, drops) = loadgen_counts(&real_text);
    assert_eq!(
        (acks, drops),
        (u64::from(REAL_CLIENTS), 0),
        "real conversations not all served during the storm:\n{real_text}"
    );
    assert!(
        rss_after < rss_before + 1024,
        "RSS grew by {} kB during the storm ({rss_before} -> {rss_after} kB)",
        rss_after.saturating_sub(rss_before)
    );

    // The lease file still loads: after a restart the same clients get the same addresses.
    let before = loadgen_leases(&real_leases);
    assert_eq!(before.len(), REAL_CLIENTS as usize);
    server.restart(&net.server);
    let again_out = dir.join("again.out");
    let again_leases = dir.join("again.leases");
    let mut again = spawn_loadgen(
        &net.client,
        &args(
            &net.client_if,
            REAL_CLIENTS,
            200,
            5,
            3000,
            12,
            Some(&again_leases),
        ),
        &again_out,
    );
    again.wait(Duration::from_secs(30));
    let again_text = wren_tests::read_text(&again_out);
    let (acks, _) = loadgen_counts(&again_text);
    assert_eq!(
        acks,
        u64::from(REAL_CLIENTS),
        "after restart:\n{again_text}"
    );
    let after = loadgen_leases(&again_leases);
    let moved: Vec<_> = before
        .iter()
        .filter(|(m, a)| after.get(*m) != Some(*a))
        .take(10)
        .collect();
    assert!(
        moved.is_empty(),
        "after restart some clients got other addresses (lease file not loaded?): {moved:?}"
    );
    assert!(server.is_running());
    server.assert_no_panic();
}

fn args(
    iface: &str,
    clients: u32,
    rate: u32,
    duration: u32,
    timeout_ms: u32,
    seed: u8,
    leases: Option<&Path>,
) -> Vec<String> {
    let mut v: Vec<String> = [
        "--iface",
        iface,
        "--clients",
        &clients.to_string(),
        "--rate",
        &rate.to_string(),
        "--duration",
        &duration.to_string(),
        "--timeout-ms",
        &timeout_ms.to_string(),
        "--seed",
        &seed.to_string(),
        // Real clients retransmit (RFC 2131 §4.1); a frame the kernel drops under the storm
        // (veth backlog, socket buffers) is not a server failure. A server that stops
        // answering still fails: three silences in a row are a drop.
        "--retries",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(p) = leases {
        v.push("--leases".into());
        v.push(p.display().to_string());
    }
    v
}

#[test]
fn storm_of_mutated_packets_leaves_the_server_serving() {
    storm_against(ServerKind::from_env());
}

#[test]
fn mutations_cover_every_kind_and_stay_bounded() {
    let seeds: Vec<Vec<u8>> = FIXTURES.iter().map(|h| from_hex(h)).collect();
    let mut rng = Lcg(1);
    let mut lens = Vec::new();
    let mut bad_cookie = 0;
    for _ in 0..5000 {
        let p = mutate(&mut rng, &seeds);
        assert!(p.len() <= MAX_PAYLOAD, "payload of {} bytes", p.len());
        if p.len() >= 240 && p[236..240] != [99, 130, 83, 99] {
            bad_cookie += 1;
        }
        lens.push(p.len());
    }
    assert!(lens.iter().any(|&l| l < 240), "no truncated packets");
    assert!(lens.contains(&MAX_PAYLOAD), "no maximum-size packets");
    assert!(bad_cookie > 100, "too few wrong cookies: {bad_cookie}");
    let f = frame(&mut rng, &[1, 2, 3], false);
    assert_eq!(
        ip_checksum(&f[14..34]),
        0,
        "a good frame's IP checksum verifies"
    );
    assert_eq!(f.len(), 14 + 28 + 3);
}
