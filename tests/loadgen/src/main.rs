//! wren-loadgen: bounded DHCPv4 DORA load from thousands of made-up MACs over an AF_PACKET raw
//! socket, as directly attached clients do it (broadcast DISCOVER from 0.0.0.0, wait OFFER,
//! broadcast REQUEST with 50/54, wait ACK). No retransmissions: a step that gets no answer
//! within `--timeout-ms` is a drop, as perfdhcp counts them.
//!
//! ```text
//! wren-loadgen --iface IF [--clients N] [--rate R] [--duration S] [--timeout-ms MS]
//!              [--seed N] [--retries N] [--json FILE|-] [--leases FILE] [--probe]
//! ```
//!
//! `--retries N` (default 0) retransmits a step that got no answer, up to N times, as real
//! clients do; with 0 every silence is a drop.
//!
//! Bounded: at most `--clients` conversations, started at `--rate` per second, none started
//! after `--duration` seconds, and the program ends `--timeout-ms` after the last start.
//! Prints one line; `--json` adds a JSON object, `--leases` writes `MAC ADDRESS` per ACK.
//!
//! `--probe`: instead, send one DISCOVER (new MAC, new xid) every 1 ms for at most
//! `--duration` seconds and stop at the first OFFER, printing its wall-clock time
//! (`probe: first answer unix_us N after K discovers offers ADDRESS`): start it, then the server, to measure
//! a server's start-up time to its first answer. Exit 1 when nothing answered.
//! Network safety: it sends only on the interface given (the tests' veth in a namespace).

mod dhcp;
mod rawsock;

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use wren_core::wire::message::MessageType;

const USAGE: &str = "usage: wren-loadgen --iface IF [--clients N] [--rate R] [--duration S] \
[--timeout-ms MS] [--seed N] [--retries N] [--json FILE|-] [--leases FILE] [--probe]";

/// Command-line settings.
#[derive(Clone, Debug, PartialEq)]
struct Args {
    iface: String,
    clients: u32,
    rate: f64,
    duration: f64,
    timeout_ms: u64,
    seed: u8,
    retries: u8,
    json: Option<String>,
    leases: Option<String>,
    probe: bool,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        iface: String::new(),
        clients: 1000,
        rate: 100.0,
        duration: 10.0,
        timeout_ms: 1000,
        seed: (std::process::id() % 251) as u8,
        retries: 0,
        json: None,
        leases: None,
        probe: false,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--iface" => a.iface = value()?,
            "--clients" => a.clients = num(flag, &value()?)?,
            "--rate" => a.rate = num(flag, &value()?)?,
            "--duration" => a.duration = num(flag, &value()?)?,
            "--timeout-ms" => a.timeout_ms = num(flag, &value()?)?,
            "--seed" => a.seed = num(flag, &value()?)?,
            "--retries" => a.retries = num(flag, &value()?)?,
            "--json" => a.json = Some(value()?),
            "--leases" => a.leases = Some(value()?),
            "--probe" => a.probe = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if a.iface.is_empty() {
        return Err(format!("--iface is required\n{USAGE}"));
    }
    if a.clients == 0 || a.clients > 1 << 20 {
        return Err("--clients must be 1..=1048576".into());
    }
    if !(a.rate > 0.0 && a.rate <= 1e6) {
        return Err("--rate must be in (0, 1000000]".into());
    }
    if !(a.duration > 0.0 && a.duration <= 3600.0) {
        return Err("--duration must be in (0, 3600] seconds".into());
    }
    if a.timeout_ms == 0 || a.timeout_ms > 60_000 {
        return Err("--timeout-ms must be 1..=60000".into());
    }
    Ok(a)
}

fn num<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: not a number: {text}"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    NotStarted,
    WaitOffer,
    WaitAck,
    Acked,
    Naked,
    TimedOut,
}

#[derive(Clone, Copy, Debug)]
struct Conversation {
    phase: Phase,
    started: Instant,
    step_sent: Instant,
    address: Ipv4Addr,
    server: Ipv4Addr,
    retries_left: u8,
}

/// The MAC of client `index`: locally administered (02:), `1f` = wren loadgen, then the seed
/// and 24 bits of index.
fn mac_of(seed: u8, index: u32) -> [u8; 6] {
    let b = index.to_be_bytes();
    [0x02, 0x1f, seed, b[1], b[2], b[3]]
}

/// Totals and latencies of one run.
#[derive(Clone, Debug, Default, PartialEq)]
struct Report {
    offered_rate: f64,
    clients: u32,
    started: u32,
    offers: u32,
    acks: u32,
    naks: u32,
    drops: u32,
    send_failures: u32,
    retransmits: u32,
    elapsed_s: f64,
    achieved_rate: f64,
    latency_avg_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
}

impl Report {
    fn drop_percent(&self) -> f64 {
        if self.started == 0 {
            0.0
        } else {
            100.0 * f64::from(self.drops) / f64::from(self.started)
        }
    }

    fn line(&self) -> String {
        format!(
            "loadgen: offered {:.0}/s clients {} started {} offers {} acks {} naks {} drops {} ({:.2}%) \
             retransmits {} rate {:.1}/s latency avg {:.3} ms p99 {:.3} ms max {:.3} ms elapsed {:.2} s",
            self.offered_rate,
            self.clients,
            self.started,
            self.offers,
            self.acks,
            self.naks,
            self.drops,
            self.drop_percent(),
            self.retransmits,
            self.achieved_rate,
            self.latency_avg_ms,
            self.latency_p99_ms,
            self.latency_max_ms,
            self.elapsed_s
        )
    }

    fn json(&self) -> String {
        format!(
            "{{\"offered_rate\":{:.1},\"clients\":{},\"started\":{},\"offers\":{},\"acks\":{},\
             \"naks\":{},\"drops\":{},\"drop_percent\":{:.3},\"send_failures\":{},\"retransmits\":{},\
             \"achieved_rate\":{:.2},\"latency_avg_ms\":{:.4},\"latency_p99_ms\":{:.4},\
             \"latency_max_ms\":{:.4},\"elapsed_s\":{:.3}}}",
            self.offered_rate,
            self.clients,
            self.started,
            self.offers,
            self.acks,
            self.naks,
            self.drops,
            self.drop_percent(),
            self.send_failures,
            self.retransmits,
            self.achieved_rate,
            self.latency_avg_ms,
            self.latency_p99_ms,
            self.latency_max_ms,
            self.elapsed_s
        )
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
        .unwrap_or(0.0)
}

fn summarize(
    args: &Args,
    convs: &[Conversation],
    latencies: &mut [f64],
    elapsed: Duration,
) -> Report {
    latencies.sort_by(f64::total_cmp);
    let count = |p: Phase| convs.iter().filter(|c| c.phase == p).count() as u32;
    let started = convs
        .iter()
        .filter(|c| c.phase != Phase::NotStarted)
        .count() as u32;
    let acks = count(Phase::Acked);
    let elapsed_s = elapsed.as_secs_f64();
    Report {
        offered_rate: args.rate,
        clients: args.clients,
        started,
        offers: 0,
        acks,
        naks: count(Phase::Naked),
        drops: started - acks,
        send_failures: 0,
        retransmits: 0,
        elapsed_s,
        achieved_rate: if elapsed_s > 0.0 {
            f64::from(acks) / elapsed_s
        } else {
            0.0
        },
        latency_avg_ms: if latencies.is_empty() {
            0.0
        } else {
            latencies.iter().sum::<f64>() / latencies.len() as f64
        },
        latency_p99_ms: percentile(latencies, 99.0),
        latency_max_ms: latencies.last().copied().unwrap_or(0.0),
    }
}

fn run(args: &Args) -> Result<Report, String> {
    let sock = rawsock::RawSocket::open(&args.iface).map_err(|e| e.to_string())?;
    let xid_base = u32::from(args.seed) << 24 | (std::process::id() & 0xff) << 16;
    let t0 = Instant::now();
    let mut convs = vec![
        Conversation {
            phase: Phase::NotStarted,
            started: t0,
            step_sent: t0,
            address: Ipv4Addr::UNSPECIFIED,
            server: Ipv4Addr::UNSPECIFIED,
            retries_left: args.retries,
        };
        args.clients as usize
    ];
    let timeout = Duration::from_millis(args.timeout_ms);
    let start_window = Duration::from_secs_f64(args.duration);
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let mut next_index: u32 = 0;
    let mut outstanding: u32 = 0;
    let mut offers = 0u32;
    let mut send_failures = 0u32;
    let mut retransmits = 0u32;
    let mut latencies: Vec<f64> = Vec::with_capacity(args.clients as usize);
    let mut leases: Vec<([u8; 6], Ipv4Addr)> = Vec::new();
    let mut last_ack = t0;
    let mut frame_buf = [0u8; 1600];
    let mut rx_buf = [0u8; 2048];
    let mut last_sweep = t0;
    // The hard stop: no conversation starts after the window, none waits past its timeout
    // (and its retries).
    let hard_deadline = t0
        + start_window
        + timeout * (2 + 2 * u32::from(args.retries))
        + Duration::from_millis(200);

    loop {
        let now = Instant::now();
        if now >= hard_deadline {
            break;
        }
        // 1. Start the conversations that are due (catching up after a slow iteration).
        let window_open = now.duration_since(t0) < start_window;
        while window_open && next_index < args.clients {
            let due = t0 + interval.mul_f64(f64::from(next_index));
            if due > now {
                break;
            }
            let i = next_index;
            next_index += 1;
            let mac = mac_of(args.seed, i);
            let payload = dhcp::discover(xid_base.wrapping_add(i), mac);
            let sent = dhcp::frame(mac, &payload, &mut frame_buf)
                .and_then(|n| frame_buf.get(..n))
                .map(|f| sock.send(f))
                .unwrap_or(Ok(false))
                .map_err(|e| format!("send: {e}"))?;
            if let Some(c) = convs.get_mut(i as usize) {
                c.started = now;
                c.step_sent = now;
                if sent {
                    c.phase = Phase::WaitOffer;
                    outstanding += 1;
                } else {
                    send_failures += 1;
                    c.phase = Phase::TimedOut;
                }
            }
        }
        let all_started = next_index >= args.clients || !window_open;
        if all_started && outstanding == 0 {
            break;
        }
        // 2. Read everything queued.
        let next_due = if window_open && next_index < args.clients {
            (t0 + interval.mul_f64(f64::from(next_index))).saturating_duration_since(now)
        } else {
            Duration::from_millis(20)
        };
        sock.wait_readable(next_due.min(Duration::from_millis(20)))
            .map_err(|e| format!("poll: {e}"))?;
        while let Some(frame) = sock.recv(&mut rx_buf).map_err(|e| format!("recv: {e}"))? {
            let Some(reply) = dhcp::parse_reply(frame) else {
                continue;
            };
            let index = reply.xid.wrapping_sub(xid_base);
            if index >= args.clients || mac_of(args.seed, index) != reply.chaddr {
                continue;
            }
            let Some(c) = convs.get_mut(index as usize) else {
                continue;
            };
            let at = Instant::now();
            match (c.phase, reply.kind) {
                (Phase::WaitOffer, MessageType::Offer) => {
                    offers += 1;
                    let Some(server) = reply.server_id else {
                        continue;
                    };
                    c.address = reply.yiaddr;
                    c.server = server;
                    let payload = dhcp::request(reply.xid, reply.chaddr, reply.yiaddr, server);
                    let sent = dhcp::frame(reply.chaddr, &payload, &mut frame_buf)
                        .and_then(|n| frame_buf.get(..n))
                        .map(|f| sock.send(f))
                        .unwrap_or(Ok(false))
                        .map_err(|e| format!("send: {e}"))?;
                    c.step_sent = at;
                    if sent {
                        c.phase = Phase::WaitAck;
                    } else {
                        send_failures += 1;
                        c.phase = Phase::TimedOut;
                        outstanding -= 1;
                    }
                }
                (Phase::WaitAck, MessageType::Ack) => {
                    c.phase = Phase::Acked;
                    outstanding -= 1;
                    latencies.push(at.duration_since(c.started).as_secs_f64() * 1000.0);
                    leases.push((reply.chaddr, reply.yiaddr));
                    last_ack = at;
                }
                (Phase::WaitAck, MessageType::Nak) => {
                    c.phase = Phase::Naked;
                    outstanding -= 1;
                }
                _ => {}
            }
        }
        // 3. Time out silent steps (every 10 ms is precise enough).
        let now = Instant::now();
        if now.duration_since(last_sweep) >= Duration::from_millis(10) {
            last_sweep = now;
            for (i, c) in convs.iter_mut().take(next_index as usize).enumerate() {
                if !matches!(c.phase, Phase::WaitOffer | Phase::WaitAck)
                    || now.duration_since(c.step_sent) <= timeout
                {
                    continue;
                }
                if c.retries_left == 0 || now + timeout >= hard_deadline {
                    c.phase = Phase::TimedOut;
                    outstanding -= 1;
                    continue;
                }
                c.retries_left -= 1;
                retransmits += 1;
                let index = i as u32;
                let mac = mac_of(args.seed, index);
                let xid = xid_base.wrapping_add(index);
                let payload = if c.phase == Phase::WaitOffer {
                    dhcp::discover(xid, mac)
                } else {
                    dhcp::request(xid, mac, c.address, c.server)
                };
                let sent = dhcp::frame(mac, &payload, &mut frame_buf)
                    .and_then(|n| frame_buf.get(..n))
                    .map(|f| sock.send(f))
                    .unwrap_or(Ok(false))
                    .map_err(|e| format!("send: {e}"))?;
                if !sent {
                    send_failures += 1;
                }
                c.step_sent = now;
            }
        }
    }
    for c in convs.iter_mut() {
        if matches!(c.phase, Phase::WaitOffer | Phase::WaitAck) {
            c.phase = Phase::TimedOut;
        }
    }
    let mut report = summarize(args, &convs, &mut latencies, last_ack.duration_since(t0));
    report.offers = offers;
    report.send_failures = send_failures;
    report.retransmits = retransmits;
    if let Some(path) = &args.leases {
        let mut text = String::new();
        for (mac, addr) in &leases {
            text.push_str(&format!(
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} {addr}\n",
                mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
            ));
        }
        std::fs::write(path, text).map_err(|e| format!("write {path}: {e}"))?;
    }
    Ok(report)
}

/// Time between two probe DISCOVERs: the resolution of a start-up measurement.
const PROBE_INTERVAL: Duration = Duration::from_millis(1);

/// `--probe`: a DISCOVER every [`PROBE_INTERVAL`] until the first OFFER (see the module doc).
fn probe(args: &Args) -> Result<Option<(u128, u32, Ipv4Addr)>, String> {
    let sock = rawsock::RawSocket::open(&args.iface).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(args.duration);
    let xid_base = u32::from(args.seed) << 24 | 0x00ee_0000;
    let mut frame_buf = [0u8; 1600];
    let mut rx_buf = [0u8; 2048];
    let mut sent: u32 = 0;
    while Instant::now() < deadline && sent < 1 << 16 {
        let mac = mac_of(args.seed, 0x00ee_0000 | sent);
        let payload = dhcp::discover(xid_base.wrapping_add(sent), mac);
        if let Some(f) = dhcp::frame(mac, &payload, &mut frame_buf).and_then(|n| frame_buf.get(..n))
        {
            sock.send(f).map_err(|e| format!("send: {e}"))?;
        }
        sent += 1;
        let step_end = Instant::now() + PROBE_INTERVAL;
        while let Some(left) = step_end.checked_duration_since(Instant::now()) {
            sock.wait_readable(left).map_err(|e| format!("poll: {e}"))?;
            while let Some(frame) = sock.recv(&mut rx_buf).map_err(|e| format!("recv: {e}"))? {
                if let Some(r) = dhcp::parse_reply(frame) {
                    if r.kind == MessageType::Offer && r.xid.wrapping_sub(xid_base) < sent {
                        let unix_us = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_micros())
                            .unwrap_or(0);
                        return Ok(Some((unix_us, sent, r.yiaddr)));
                    }
                }
            }
        }
    }
    Ok(None)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("wren-loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    if args.probe {
        return match probe(&args) {
            Ok(Some((unix_us, sent, address))) => {
                println!(
                    "probe: first answer unix_us {unix_us} after {sent} discovers offers {address}"
                );
                ExitCode::SUCCESS
            }
            Ok(None) => {
                println!("probe: no answer within {} s", args.duration);
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("wren-loadgen: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(&args) {
        Ok(report) => {
            println!("{}", report.line());
            if let Some(path) = &args.json {
                let text = report.json();
                if path == "-" {
                    println!("{text}");
                } else if let Err(e) =
                    std::fs::File::create(path).and_then(|mut f| writeln!(f, "{text}"))
                {
                    eprintln!("wren-loadgen: write {path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wren-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_parse_and_bounds_are_enforced() {
        let a = parse_args(&argv(
            "--iface veth0 --clients 5000 --rate 2000 --duration 3 --timeout-ms 500 --seed 7",
        ))
        .unwrap();
        assert_eq!(a.iface, "veth0");
        assert_eq!(a.clients, 5000);
        assert_eq!(a.rate, 2000.0);
        assert_eq!(a.duration, 3.0);
        assert_eq!(a.timeout_ms, 500);
        assert_eq!(a.seed, 7);
        assert!(!a.probe);
        assert_eq!(a.retries, 0);
        assert_eq!(
            parse_args(&argv("--iface x --retries 3")).unwrap().retries,
            3
        );
        assert!(parse_args(&argv("--iface x --probe")).unwrap().probe);
        assert!(parse_args(&argv("--clients 5")).is_err(), "iface required");
        assert!(parse_args(&argv("--iface x --rate 0")).is_err());
        assert!(parse_args(&argv("--iface x --duration 4000")).is_err());
        assert!(parse_args(&argv("--iface x --timeout-ms 0")).is_err());
        assert!(parse_args(&argv("--iface x --bogus 1")).is_err());
        assert!(parse_args(&argv("--iface")).is_err());
    }

    #[test]
    fn macs_are_distinct_and_locally_administered() {
        assert_eq!(mac_of(3, 0x01_0203), [2, 0x1f, 3, 1, 2, 3]);
        assert_ne!(mac_of(3, 1), mac_of(4, 1));
        assert_eq!(mac_of(0, 0)[0] & 0x03, 0x02);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[5.0], 99.0), 5.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }

    #[test]
    fn report_counts_drops_over_started_conversations() {
        let t = Instant::now();
        let mk = |phase| Conversation {
            phase,
            started: t,
            step_sent: t,
            address: Ipv4Addr::UNSPECIFIED,
            server: Ipv4Addr::UNSPECIFIED,
            retries_left: 0,
        };
        let convs = [
            mk(Phase::Acked),
            mk(Phase::Acked),
            mk(Phase::Naked),
            mk(Phase::TimedOut),
            mk(Phase::NotStarted),
        ];
        let args = parse_args(&argv("--iface x --clients 5 --rate 10")).unwrap();
        let mut lat = vec![3.0, 1.0];
        let r = summarize(&args, &convs, &mut lat, Duration::from_secs(2));
        assert_eq!((r.started, r.acks, r.naks, r.drops), (4, 2, 1, 2));
        assert_eq!(r.drop_percent(), 50.0);
        assert_eq!(r.achieved_rate, 1.0);
        assert_eq!(r.latency_avg_ms, 2.0);
        assert_eq!(r.latency_max_ms, 3.0);
        assert!(r.line().contains("drops 2 (50.00%)"));
        assert!(r.json().contains("\"acks\":2"));
    }
}
