//! The control server over real loopback sockets, driven by its own mio `Poll` and the core
//! engine over a small config: keep-alive with pipelined requests, the connection limit,
//! slow clients cut off, the unix socket's one-command-then-close.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll};
use wren_core::lease::LeaseRecord;
use wren_core::server::LeaseSink;

use super::*;
use crate::config_load;
use crate::engine_glue::{CoreEngine, OwnedLeaseStorage};

const TEXT: &str = r#"{ "Dhcp4": { "subnet4": [ { "id": 1, "subnet": "198.18.0.0/24",
    "pools": [ { "pool": "198.18.0.10 - 198.18.0.20" } ] } ] } }"#;

#[derive(Default)]
struct Journal0 {
    syncs: usize,
}
impl LeaseSink for Journal0 {
    fn lease_changed(&mut self, _record: &LeaseRecord<'_>) {}
}
impl Journal for Journal0 {
    fn sync_batch(&mut self) -> io::Result<()> {
        self.syncs += 1;
        Ok(())
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `listeners` on this thread until `stop`; the closure runs the client side.
fn serve(
    listeners: Vec<Listener>,
    request_timeout: Duration,
    client: impl FnOnce() + Send + 'static,
) {
    serve_with(listeners, request_timeout, None, client);
}

/// [`serve`] with `wren-max-request-bytes`; returns the most the connections' input
/// buffers together grew beyond their initial size at any moment.
fn serve_with(
    listeners: Vec<Listener>,
    request_timeout: Duration,
    max_request_bytes: Option<usize>,
    client: impl FnOnce() + Send + 'static,
) -> usize {
    serve_hooked(listeners, request_timeout, max_request_bytes, None, client)
}

/// [`serve_with`] with a command hook installed.
fn serve_hooked(
    listeners: Vec<Listener>,
    request_timeout: Duration,
    max_request_bytes: Option<usize>,
    hook: Option<Box<dyn CommandHook>>,
    client: impl FnOnce() + Send + 'static,
) -> usize {
    let path = PathBuf::from("control-test.json");
    let storage = Box::leak(Box::new(config_load::allocate(&path, TEXT).unwrap()));
    let config = config_load::parse(&path, TEXT, storage, &mut Vec::new()).unwrap();
    let owned = Box::leak(Box::new(OwnedLeaseStorage::for_config(&config)));
    let table = Box::leak(Box::new(owned.table(&config).unwrap()));
    let mut stats_slot = None;
    let stats = fit_stats(&mut stats_slot, &config, table);
    let settings = ControlSettings {
        listeners,
        auto_persist: false,
        max_request_bytes,
    };
    let mut server = ControlServer::open(&settings, &path, TEXT).unwrap();
    server.state.request_timeout = request_timeout;
    if let Some(h) = hook {
        server.set_hook(h);
    }
    let mut engine = CoreEngine::new(config, table).with_stats(stats);
    let mut journal = Journal0::default();
    let mut poll = Poll::new().unwrap();
    server.register(poll.registry()).unwrap();
    let mut events = Events::with_capacity(64);
    let stop = Arc::new(AtomicBool::new(false));
    let done = stop.clone();
    let handle = std::thread::spawn(move || {
        client();
        done.store(true, Ordering::SeqCst);
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut max_grown = 0usize;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
        for event in events.iter() {
            if ControlServer::owns(event.token()) {
                server.ready(poll.registry(), event.token(), &mut engine, &mut journal);
            }
        }
        server.tick(poll.registry(), Instant::now(), &mut engine, &mut journal);
        let grown: usize = server
            .slots
            .iter()
            .map(|s| s.input.len().saturating_sub(INPUT_CAPACITY))
            .sum();
        max_grown = max_grown.max(grown);
    }
    handle.join().unwrap();
    max_grown
}

fn http(port: u16) -> Vec<Listener> {
    vec![Listener::Http {
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        auth: None,
    }]
}

/// Reads one HTTP response (head + Content-Length body) from `s`, keeping leftovers.
fn read_response(s: &mut TcpStream, pending: &mut Vec<u8>) -> (u16, String) {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            if pending.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&pending[end + 4..end + 4 + len]).into_owned();
                pending.drain(..end + 4 + len);
                let code = head[9..12].parse().unwrap();
                return (code, body);
            }
        }
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before a whole response: {:?}",
            String::from_utf8_lossy(pending)
        );
        pending.extend_from_slice(&buf[..n]);
    }
}

/// A hook whose `slow` command is answered once `release` is set (as `ha-sync` is once the
/// sync is over).
struct SlowHook {
    release: Arc<AtomicBool>,
    pending: bool,
    deferred: bool,
}

impl CommandHook for SlowHook {
    fn command(&mut self, body: &[u8], _out: &mut Vec<u8>) -> bool {
        if !String::from_utf8_lossy(body).contains("\"slow\"") {
            return false;
        }
        self.pending = true;
        self.deferred = true;
        true
    }
    fn amend(&mut self, _body: &[u8], _out: &mut Vec<u8>, _start: usize) {}
    fn take_deferred(&mut self) -> Option<u64> {
        std::mem::take(&mut self.deferred).then_some(42)
    }
    fn poll_deferred(&mut self, out: &mut Vec<u8>) -> Option<u64> {
        if !self.pending || !self.release.load(Ordering::SeqCst) {
            return None;
        }
        self.pending = false;
        out.extend_from_slice(br#"{ "result": 0, "text": "slow done" }"#);
        Some(42)
    }
}

#[test]
fn deferred_answers_wait_without_blocking_other_connections() {
    let port = free_port();
    let release = Arc::new(AtomicBool::new(false));
    let hook = SlowHook {
        release: release.clone(),
        pending: false,
        deferred: false,
    };
    serve_hooked(
        http(port),
        REQUEST_TIMEOUT,
        None,
        Some(Box::new(hook)),
        move || {
            let request = |body: &str| {
                format!(
                "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            };
            let slow = r#"{ "command": "slow", "service": [ "dhcp4" ] }"#;
            let version = r#"{ "command": "version-get", "service": [ "dhcp4" ] }"#;
            let mut waiting = TcpStream::connect(("127.0.0.1", port)).unwrap();
            // The slow command, and a request pipelined behind it (answered after it, in order).
            waiting
                .write_all(format!("{}{}", request(slow), request(version)).as_bytes())
                .unwrap();
            waiting
                .set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut byte = [0u8; 1];
            assert!(
                waiting.read(&mut byte).is_err(),
                "the deferred command must not be answered yet"
            );
            // Another connection is served meanwhile.
            let mut other = TcpStream::connect(("127.0.0.1", port)).unwrap();
            other
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            other.write_all(request(version).as_bytes()).unwrap();
            let (code, body) = read_response(&mut other, &mut Vec::new());
            assert_eq!(code, 200);
            assert!(body.contains(crate::cli::version()), "{body}");
            release.store(true, Ordering::SeqCst);
            waiting
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut pending = Vec::new();
            let (c1, b1) = read_response(&mut waiting, &mut pending);
            assert_eq!(
                (c1, b1.as_str()),
                (200, r#"[ { "result": 0, "text": "slow done" } ]"#)
            );
            let (c2, b2) = read_response(&mut waiting, &mut pending);
            assert_eq!(c2, 200);
            assert!(b2.contains(crate::cli::version()), "{b2}");
        },
    );
}

#[test]
fn keep_alive_answers_pipelined_requests_in_order() {
    let port = free_port();
    serve(http(port), REQUEST_TIMEOUT, move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let one = r#"{ "command": "subnet4-list" }"#;
        let two = r#"{ "command": "version-get", "service": [ "dhcp4" ] }"#;
        let mut req = Vec::new();
        for body in [one, two] {
            req.extend_from_slice(
                format!("POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
                    .as_bytes(),
            );
        }
        // Split across writes, in the middle of the second head.
        let cut = req.len() - 40;
        s.write_all(&req[..cut]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(&req[cut..]).unwrap();
        let mut pending = Vec::new();
        let (c1, b1) = read_response(&mut s, &mut pending);
        assert_eq!(c1, 200);
        assert!(
            b1.starts_with("[ {") && b1.contains("198.18.0.0/24"),
            "{b1}"
        );
        let (c2, b2) = read_response(&mut s, &mut pending);
        assert_eq!(c2, 200);
        assert!(b2.contains(crate::cli::version()), "{b2}");
        // Still open: a third request on the same connection.
        s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        let (c3, b3) = read_response(&mut s, &mut pending);
        assert_eq!(c3, 200);
        assert!(b3.contains("wren_uptime_seconds"), "{b3}");
    });
}

fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0))
        || matches!(s.read(&mut buf), Err(e) if e.kind() == io::ErrorKind::ConnectionReset)
}

#[test]
fn connections_beyond_the_limit_are_closed_and_slow_clients_cut_off() {
    let port = free_port();
    serve(http(port), Duration::from_millis(500), move || {
        let mut open: Vec<TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        // A slow client (half a request line) is cut off at the request deadline with a 408;
        // it is not the one closed to make room while idle connections exist.
        open[0].write_all(b"POST / HT").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        // One more: the oldest idle connection (open[1]) is closed to make room and the
        // newcomer is served.
        let mut extra = TcpStream::connect(("127.0.0.1", port)).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        extra.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut extra, &mut Vec::new()).0, 200);
        assert!(
            closed_within(&mut open[1], Duration::from_millis(300)),
            "the oldest idle connection was kept"
        );
        let slow = &mut open[0];
        slow.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut pending = Vec::new();
        assert_eq!(read_response(slow, &mut pending).0, 408);
        assert!(
            closed_within(slow, Duration::from_secs(3)),
            "slow client kept"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // Freed slots accept again.
        drop(open);
        std::thread::sleep(Duration::from_millis(100));
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(
            b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        )
        .unwrap();
        let (code, body) = read_response(&mut s, &mut Vec::new());
        assert_eq!(code, 200);
        assert!(body.contains("\"result\": 1"), "{body}");
    });
}

/// Large bodies arriving at once: beyond the growth budget (2 × the body limit) a
/// connection is read no further until others are answered, and every one is answered.
#[test]
fn large_bodies_beyond_the_growth_budget_wait_and_are_all_answered() {
    let port = free_port();
    let max_body = 64 * 1024;
    let grown = serve_with(http(port), REQUEST_TIMEOUT, Some(max_body), move || {
        let body = format!(r#"{{ "command": "version-get" }}{}"#, " ".repeat(60 * 1024));
        let head = format!(
            "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        // Four connections send all but the last byte: their buffers would grow by
        // 4 × ~57 KiB, past the 128 KiB budget.
        let mut streams: Vec<TcpStream> = (0..4)
            .map(|_| {
                let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                s.write_all(head.as_bytes()).unwrap();
                s.write_all(&body.as_bytes()[..body.len() - 1]).unwrap();
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        for s in &mut streams {
            s.write_all(&body.as_bytes()[body.len() - 1..]).unwrap();
        }
        for s in &mut streams {
            let (code, answer) = read_response(s, &mut Vec::new());
            assert_eq!(code, 200, "{answer}");
            assert!(answer.contains(r#""result": 0"#), "{answer}");
        }
    });
    let budget = max_body * GROWTH_BUDGET_FACTOR;
    assert!(
        grown <= budget,
        "buffers grew {grown} bytes, budget {budget}"
    );
    // Two connections' worth of growth was reached: the budget, not the clients, held
    // the others back.
    assert!(grown > budget / 2, "buffers grew only {grown} bytes");
}

#[test]
fn unix_socket_answers_one_object_then_closes() {
    let path = std::env::temp_dir().join(format!("wren-ctl-{}.sock", std::process::id()));
    let p2 = path.clone();
    serve(
        vec![Listener::Unix(path.clone())],
        REQUEST_TIMEOUT,
        move || {
            let mut s = std::os::unix::net::UnixStream::connect(&p2).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(br#"{ "command": "status-"#).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            s.write_all(br#"get" }"#).unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).unwrap();
            assert!(
                answer.starts_with('{')
                    && answer.contains(&format!("\"pid\": {}", std::process::id())),
                "{answer}"
            );
        },
    );
    // The server removed its socket file when it was dropped.
    assert!(!Path::new(&path).exists());
}

#[test]
fn config_write_stays_in_the_config_directory() {
    let dir = std::env::temp_dir().join(format!("wren-cw-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let conf = dir.join("kea-dhcp4.conf");
    assert_eq!(
        config_write_target(&conf, "new.json").unwrap(),
        dir.join("new.json")
    );
    let absolute = dir.join("other.json");
    assert_eq!(
        config_write_target(&conf, absolute.to_str().unwrap()).unwrap(),
        absolute
    );
    // An existing directory below it (the seed's /etc/kea/backups/), by any spelling.
    assert_eq!(
        config_write_target(&conf, "sub/x.json").unwrap(),
        dir.join("sub/x.json")
    );
    assert_eq!(
        config_write_target(&conf, dir.join("sub/../sub/y.json").to_str().unwrap()).unwrap(),
        dir.join("sub/y.json")
    );
    // A symlinked directory leading out, and a symlinked file, are refused.
    let outside = std::env::temp_dir().join(format!("wren-cw-out-{}", std::process::id()));
    std::fs::create_dir_all(&outside).unwrap();
    let _ = std::fs::remove_file(dir.join("out"));
    std::os::unix::fs::symlink(&outside, dir.join("out")).unwrap();
    std::os::unix::fs::symlink(outside.join("f.json"), dir.join("link.json")).unwrap();
    for bad in [
        "/etc/passwd",
        "../escape.json",
        "sub/../../x.json",
        "missing-dir/x.json",
        "out/x.json",
        "link.json",
        "sub/",
        "",
    ] {
        let e = config_write_target(&conf, bad).unwrap_err();
        assert!(e.contains("not allowed to write config"), "{bad}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn config_write_is_atomic_and_keeps_the_previous_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("wren-cwa-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("kea-dhcp4.conf");
    // A new file is private.
    assert_eq!(write_atomically(&target, "one").unwrap(), 3);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&target), 0o600);
    // An existing file keeps its mode; each write keeps the one before as a backup, even
    // several within one second.
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let first = inode(&target);
    write_atomically(&target, "two").unwrap();
    // (Compared right away: a freed inode number may come back at the next write.)
    assert_ne!(
        inode(&target),
        first,
        "replaced by rename, not rewritten in place"
    );
    write_atomically(&target, "three").unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "three");
    assert_eq!(mode(&target), 0o640);
    let mut backups: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bak"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    backups.sort_by(|a, b| a.1.cmp(&b.1)); // "one" < "two"
    assert_eq!(backups.len(), 2, "{backups:?}");
    assert_eq!(
        (backups[0].1.as_str(), backups[1].1.as_str()),
        ("one", "two")
    );
    for (name, _) in &backups {
        assert!(
            name.starts_with("kea-dhcp4.conf.") && name.ends_with(".bak"),
            "{name}"
        );
    }
    // No temp file is left behind.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("wren-tmp")), "{names:?}");
    // A directory that cannot be written: an error, the old file untouched.
    let missing = dir.join("no-such-dir").join("x.conf");
    assert!(write_atomically(&missing, "x").is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sync_timing_keeps_last_max_and_mean() {
    use crate::packet_path::SyncTiming;
    let mut t = SyncTiming::default();
    assert_eq!(t.mean(), Duration::ZERO);
    for ms in [4, 10, 1] {
        t.record(Duration::from_millis(ms));
    }
    assert_eq!(t.count, 3);
    assert_eq!(t.last, Duration::from_millis(1));
    assert_eq!(t.max, Duration::from_millis(10));
    assert_eq!(t.mean(), Duration::from_millis(5));
}

/// POSTs `body` on a fresh connection and returns the answer body.
fn post(port: u16, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        format!(
            "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let (code, answer) = read_response(&mut s, &mut Vec::new());
    assert_eq!(code, 200, "{answer}");
    answer
}

#[test]
fn leases_reclaim_runs_a_reclamation_cycle() {
    let port = free_port();
    serve(http(port), REQUEST_TIMEOUT, move || {
        let now = wall_clock().0;
        // Two leases that expired 100 s ago, one that is current.
        for (ip, mac, expire) in [
            ("198.18.0.10", "02:00:00:00:00:10", now - 100),
            ("198.18.0.11", "02:00:00:00:00:11", now - 100),
            ("198.18.0.12", "02:00:00:00:00:12", now + 600),
        ] {
            let a = post(
                port,
                &format!(
                    r#"{{ "command": "lease4-add", "arguments": {{ "ip-address": "{ip}", "hw-address": "{mac}", "valid-lft": 60, "expire": {expire} }} }}"#
                ),
            );
            assert!(a.contains("\"result\": 0"), "{a}");
        }
        let a = post(port, r#"{ "command": "leases-reclaim" }"#);
        assert!(a.contains("Missing mandatory 'remove' parameter."), "{a}");
        let a = post(
            port,
            r#"{ "command": "leases-reclaim", "arguments": { "remove": false } }"#,
        );
        assert!(
            a.contains(r#""result": 0, "text": "Reclamation of expired leases is complete.""#),
            "{a}"
        );
        // Kept in state 2 (expired-reclaimed); the current lease untouched.
        for ip in ["198.18.0.10", "198.18.0.11"] {
            let a = post(
                port,
                &format!(
                    r#"{{ "command": "lease4-get", "arguments": {{ "ip-address": "{ip}" }} }}"#
                ),
            );
            assert!(a.contains("\"state\": 2"), "{ip}: {a}");
        }
        let a = post(
            port,
            r#"{ "command": "lease4-get", "arguments": { "ip-address": "198.18.0.12" } }"#,
        );
        assert!(a.contains("\"state\": 0"), "{a}");
        let a = post(
            port,
            r#"{ "command": "statistic-get", "arguments": { "name": "reclaimed-leases" } }"#,
        );
        assert!(a.contains(r#""reclaimed-leases": [ [ 2, "#), "{a}");
        let a = post(
            port,
            r#"{ "command": "statistic-get", "arguments": { "name": "subnet[1].assigned-addresses" } }"#,
        );
        assert!(a.contains(r#"[ [ 1, "#), "{a}");
        // remove: true takes an expired lease out of the table.
        let a = post(
            port,
            &format!(
                r#"{{ "command": "lease4-add", "arguments": {{ "ip-address": "198.18.0.13", "hw-address": "02:00:00:00:00:13", "valid-lft": 60, "expire": {} }} }}"#,
                now - 100
            ),
        );
        assert!(a.contains("\"result\": 0"), "{a}");
        let a = post(
            port,
            r#"{ "command": "leases-reclaim", "arguments": { "remove": true } }"#,
        );
        assert!(a.contains("\"result\": 0"), "{a}");
        let a = post(
            port,
            r#"{ "command": "lease4-get", "arguments": { "ip-address": "198.18.0.13" } }"#,
        );
        assert!(a.contains("\"result\": 3"), "{a}");
    });
}
