//! The checks of issue 6 ("How it is checked"), written once and run against any pair:
//! Kea + Kea (the reference, which proves the checks themselves), wrend + wrend, and wrend +
//! Kea in both roles.
//!
//! Time limits are derived from the configured HA timers and generous (several heartbeats
//! plus one HTTP timeout); nothing asserts how fast something happened, only that it did
//! within those limits.

// Test-side code: a malformed capture or lease file is a test failure.
#![allow(clippy::indexing_slicing, clippy::unwrap_used)]

use crate::capture::{Capture, Dhcp, UdpPacket};
use crate::clients::{Client, ClientKind, ClientLease, ClientOptions, PerfdhcpOptions};
use crate::ha::{
    http_messages, http_post, lb_bucket, right_credentials, HaPeer, HaSpec, HttpMessage, Lan,
    Member, PeerKind, PeerSpec, PerfLoad,
};
use crate::leases::{read_rows_or_empty, LeaseRow};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Credentials a peer sends to another (`None`: no basic-auth keys).
pub type Creds = Box<dyn Fn(&PeerSpec) -> Option<(String, String)>>;

/// Two peers on one LAN, the peer traffic captured on server1's link (`peers.pcap`).
pub struct HaPair {
    pub spec: HaSpec,
    // Drop order: capture and peers before the LAN's namespaces.
    pub capture: Option<Capture>,
    pub peers: Vec<HaPeer>,
    pub lan: Lan,
    pub dir: PathBuf,
    next_member: u8,
}

impl HaPair {
    /// Starts server1 then server2 with the given daemons, each sending its partner the right
    /// credentials.
    pub fn start(spec: HaSpec, kinds: [PeerKind; 2], dir: &Path) -> HaPair {
        HaPair::start_with(
            spec,
            kinds,
            dir,
            [Box::new(right_credentials), Box::new(right_credentials)],
        )
    }

    /// Like [`HaPair::start`] with the credentials each server sends (index = server).
    pub fn start_with(spec: HaSpec, kinds: [PeerKind; 2], dir: &Path, creds: [Creds; 2]) -> HaPair {
        let mut lan = Lan::new();
        let [c1, c2] = creds;
        let s1 = HaPeer::start(&mut lan, &spec, kinds[0], "server1", dir, &*c1);
        let capture = Capture::start_filtered(
            &s1.member.ns,
            &s1.member.iface,
            dir,
            "peers",
            &format!("tcp port {}", crate::ha::PEER_PORT),
        );
        let s2 = HaPeer::start(&mut lan, &spec, kinds[1], "server2", dir, &*c2);
        HaPair {
            spec,
            capture: Some(capture),
            peers: vec![s1, s2],
            lan,
            dir: dir.to_path_buf(),
            next_member: 0,
        }
    }

    /// Starts every peer of `spec` in its order (`kinds[i]` runs `spec.peers[i]`), each
    /// sending the others the right credentials; the peer traffic is captured on the first
    /// peer's link. For relationships with backups (kea-ha.md §2).
    pub fn start_group(spec: HaSpec, kinds: &[PeerKind], dir: &Path) -> HaPair {
        assert_eq!(kinds.len(), spec.peers.len(), "one daemon per peer");
        let mut lan = Lan::new();
        let names: Vec<String> = spec.peers.iter().map(|p| p.name.clone()).collect();
        let mut peers = Vec::new();
        let mut capture = None;
        for (name, kind) in names.iter().zip(kinds) {
            peers.push(HaPeer::start(
                &mut lan,
                &spec,
                *kind,
                name,
                dir,
                &right_credentials,
            ));
            if capture.is_none() {
                capture = Some(Capture::start_filtered(
                    &peers[0].member.ns,
                    &peers[0].member.iface,
                    dir,
                    "peers",
                    &format!("tcp port {}", crate::ha::PEER_PORT),
                ));
            }
        }
        HaPair {
            spec,
            capture,
            peers,
            lan,
            dir: dir.to_path_buf(),
            next_member: 0,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} pair: server1 = {}, server2 = {}",
            self.spec.mode,
            self.peers[0].kind.name(),
            self.peers[1].kind.name()
        )
    }

    /// Limit for the pair to form (both waiting → syncing → ready → normal): generous, from the
    /// timers: 10 heartbeats + 3 × max-response-delay + one sync timeout + 15 s.
    pub fn formed_limit(&self) -> Duration {
        let s = &self.spec;
        Duration::from_millis(
            10 * u64::from(s.heartbeat_delay_ms)
                + 3 * u64::from(s.max_response_delay_ms)
                + u64::from(s.sync_timeout_ms)
                + 15_000,
        )
    }

    /// Limit for a survivor to declare its partner down after a kill (kea-ha.md §7, with
    /// max-unacked-clients 0: communication interrupted = max-response-delay after the last good
    /// heartbeat): 2 × (heartbeat-delay + max-response-delay) + one HTTP timeout (10 s) + 5 s.
    pub fn partner_down_limit(&self) -> Duration {
        let s = &self.spec;
        Duration::from_millis(
            2 * (u64::from(s.heartbeat_delay_ms) + u64::from(s.max_response_delay_ms)) + 15_000,
        )
    }

    /// Waits until every listed peer reports `state`.
    pub fn wait_states(&self, want: [&str; 2]) {
        let limit = self.formed_limit();
        for (p, w) in self.peers.iter().zip(want) {
            p.wait_state(w, limit);
        }
    }

    /// The normal state of the mode: `load-balancing` or `hot-standby`.
    pub fn normal_state(&self) -> &'static str {
        if self.spec.mode == "hot-standby" {
            "hot-standby"
        } else {
            "load-balancing"
        }
    }

    /// Waits for both peers in the normal state, by `ha-heartbeat` and by `status-get` (its
    /// local state and its view of the partner, which lags by up to one heartbeat).
    pub fn wait_formed(&self) {
        let n = self.normal_state();
        self.wait_states([n, n]);
        for p in &self.peers {
            let mut last = String::new();
            let ok = crate::wait_for(self.formed_limit(), || {
                let (code, body) =
                    p.command(r#"{ "command": "status-get", "service": [ "dhcp4" ] }"#);
                last = format!("HTTP {code}: {body}");
                let mode = format!(r#""ha-mode": "{}""#, self.spec.mode);
                let local = crate::ha::json_string_after(
                    &body[body.find("\"local\"").unwrap_or(0)..],
                    "\"state\"",
                );
                let remote = crate::ha::json_string_after(&body, "\"last-state\"");
                (code == 200
                    && body.contains(&mode)
                    && local.as_deref() == Some(n)
                    && remote.as_deref() == Some(n))
                .then_some(())
            });
            assert!(
                ok.is_some(),
                "{}: {} status-get does not show both in {n}: {last}\nlogs:\n{}",
                self.describe(),
                p.name,
                self.logs()
            );
        }
    }

    /// A new namespace on the LAN for a load generator: 198.18.0.(240+n)/24.
    pub fn attach_load(&mut self) -> Member {
        self.next_member += 1;
        assert!(
            self.next_member < 15,
            "more load generators than addresses .241-.254"
        );
        let cidr = format!("198.18.0.{}/24", 240 + self.next_member);
        self.lan.attach("p", Some(&cidr), None)
    }

    /// A new namespace on the LAN for one real DHCP client with this MAC.
    pub fn attach_client(&mut self, mac: &str) -> Member {
        self.lan.attach("c", None, Some(mac))
    }

    pub fn lease_files(&self) -> Vec<PathBuf> {
        self.peers.iter().map(|p| p.lease_file()).collect()
    }

    /// Every HTTP message between the peers so far.
    pub fn peer_messages(&self) -> Vec<HttpMessage> {
        http_messages(&self.dir.join("peers.pcap"))
    }

    pub fn logs(&self) -> String {
        self.peers
            .iter()
            .map(|p| format!("===== {} ({}) =====\n{}", p.name, p.kind.name(), p.logs()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn server_ip(&self, index: usize) -> Ipv4Addr {
        self.peers[index].ip
    }
}

/// perfdhcp settings for a bounded load: `clients` simulated clients from `base_mac`, one
/// exchange each, 20 per second, at most `clients / 20 + 10` seconds.
pub fn bounded_load(clients: u32, base_mac: &str) -> PerfdhcpOptions {
    PerfdhcpOptions {
        rate: 20,
        clients,
        max_exchanges: clients,
        period_secs: clients / 20 + 10,
        base_mac: Some(base_mac.to_string()),
        ..Default::default()
    }
}

/// The load-balancing key of a request (kea-ha.md §3): option 61 when present and non-empty,
/// else chaddr.
pub fn lb_key(d: &Dhcp<'_>) -> Vec<u8> {
    match d.option(61) {
        Some(id) if !id.is_empty() => id.to_vec(),
        _ => d.chaddr().to_vec(),
    }
}

/// What the DHCP capture of a load generator shows.
#[derive(Debug, Default)]
pub struct Answered {
    /// Replies (OFFER/ACK/NAK) per sender address.
    pub by_server: BTreeMap<Ipv4Addr, usize>,
    /// Requests (by xid) that got no reply at all.
    pub unanswered: usize,
    /// Replies from a server other than `expected(key)`, described.
    pub wrong: Vec<String>,
    /// Distinct chaddrs that got an ACK.
    pub acked_clients: BTreeSet<[u8; 6]>,
    /// Distinct chaddrs that sent a request.
    pub clients: BTreeSet<[u8; 6]>,
}

/// Pairs every reply in `packets` with the request of the same xid and checks its sender is
/// `expected(key of the request)`.
pub fn answered(packets: &[UdpPacket], expected: &dyn Fn(&[u8]) -> Ipv4Addr) -> Answered {
    let mut requests: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut replied: BTreeSet<u32> = BTreeSet::new();
    let mut out = Answered::default();
    for p in packets {
        let Some(d) = Dhcp::parse(&p.payload) else {
            continue;
        };
        match d.op() {
            1 => {
                requests.entry(d.xid()).or_insert_with(|| lb_key(&d));
                out.clients.insert(d.chaddr());
            }
            2 => {
                replied.insert(d.xid());
                *out.by_server.entry(p.src_ip).or_default() += 1;
                if d.message_type() == Some(5) {
                    out.acked_clients.insert(d.chaddr());
                }
                if let Some(key) = requests.get(&d.xid()) {
                    let want = expected(key);
                    if p.src_ip != want {
                        out.wrong.push(format!(
                            "xid {:08x} key {} answered (type {:?}) by {} instead of {want}",
                            d.xid(),
                            hex(key),
                            d.message_type(),
                            p.src_ip
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    out.unanswered = requests.keys().filter(|x| !replied.contains(x)).count();
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The server a key belongs to in load-balancing (the test's own RFC 3074 oracle).
pub fn lb_owner(pair: &HaPair) -> impl Fn(&[u8]) -> Ipv4Addr {
    let ips = [pair.server_ip(0), pair.server_ip(1)];
    move |key: &[u8]| ips[lb_bucket(key)]
}

/// Runs a bounded perfdhcp load of `clients` new clients (from `base_mac`) while capturing its
/// link, and returns the perfdhcp report and what the capture shows against `expected`.
pub fn load_and_capture(
    pair: &mut HaPair,
    clients: u32,
    base_mac: &str,
    expected: &dyn Fn(&[u8]) -> Ipv4Addr,
) -> (crate::clients::PerfdhcpReport, Answered) {
    let member = pair.attach_load();
    let name = format!("load-{}", crate::unique_tag());
    let cap = Capture::start(&member.ns, &member.iface, &pair.dir, &name);
    let report = PerfLoad::spawn(&member, &bounded_load(clients, base_mac), &pair.dir).finish();
    // perfdhcp stops once its last exchange has started; an ACK still parked for the
    // partner's lease-update acknowledgement (a loaded machine) leaves a little later and
    // must still be seen on the wire.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let packets = cap.stop();
    (report, answered(&packets, expected))
}

/// A MAC `02:00:00:5e:HH:LL` (from `seed` upwards) whose key for `kind` falls in `bucket`:
/// dhclient here sends no option 61 (key = chaddr), udhcpc sends 01 + MAC.
pub fn mac_in_bucket(kind: ClientKind, bucket: usize, seed: u16) -> String {
    (seed..)
        .map(|n| [0x02, 0x00, 0x00, 0x5e, (n >> 8) as u8, n as u8])
        .find(|mac| {
            let key: Vec<u8> = match kind {
                ClientKind::Udhcpc => [&[1u8][..], &mac[..]].concat(),
                _ => mac.to_vec(),
            };
            lb_bucket(&key) == bucket
        })
        .map(|m| crate::capture::mac_string(&m))
        .unwrap()
}

/// Starts a real client with `mac` on the LAN and waits for its lease.
pub fn real_client(
    pair: &mut HaPair,
    kind: ClientKind,
    mac: &str,
) -> (Client, Member, ClientLease) {
    let member = pair.attach_client(mac);
    let client = Client::start(
        kind,
        &member.ns,
        &member.iface,
        &pair.dir,
        &ClientOptions::default(),
    );
    let lease = client.wait_bound(Duration::from_secs(40));
    (client, member, lease)
}

/// The leases a lease file holds now: last row per address, if still valid and in state 0.
pub fn active_leases(path: &Path) -> BTreeMap<Ipv4Addr, LeaseRow> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    crate::leases::current(&read_rows_or_empty(path))
        .into_iter()
        .filter(|(_, r)| r.valid_lifetime > 0 && r.state == 0 && r.expire > now)
        .collect()
}

/// Waits (up to `limit`) until both lease files hold the same active leases (address,
/// hardware address, expiry), then returns them; panics with the difference.
pub fn assert_same_leases(pair: &HaPair, limit: Duration) -> BTreeMap<Ipv4Addr, LeaseRow> {
    let files = pair.lease_files();
    let view = |p: &Path| -> BTreeMap<Ipv4Addr, (String, u64)> {
        active_leases(p)
            .into_iter()
            .map(|(a, r)| (a, (r.hwaddr, r.expire)))
            .collect()
    };
    let same = crate::wait_for(limit, || {
        let (a, b) = (view(&files[0]), view(&files[1]));
        (a == b).then_some(())
    });
    if same.is_none() {
        let (a, b) = (view(&files[0]), view(&files[1]));
        let only_a: Vec<_> = a.iter().filter(|(k, v)| b.get(k) != Some(v)).collect();
        let only_b: Vec<_> = b.iter().filter(|(k, v)| a.get(k) != Some(v)).collect();
        panic!(
            "{}: the lease files differ after {limit:?}\n only/different in server1 ({} leases): {only_a:?}\n only/different in server2 ({} leases): {only_b:?}\nlogs:\n{}",
            pair.describe(),
            a.len(),
            b.len(),
            pair.logs()
        );
    }
    active_leases(&files[0])
}

/// No address is ever held by two different clients at once, over all rows of all `files`
/// (issue 6). A row holds its address from `expire - valid_lifetime` to `expire`; a later
/// row for the same address in the same file with valid lifetime 0 (release, lease4-del) or a
/// non-default state (declined, reclaimed) ends the holding early.
pub fn assert_no_double_allocation(files: &[PathBuf]) {
    #[derive(Debug, Clone)]
    struct Holding {
        hw: String,
        start: u64,
        end: u64,
        #[allow(dead_code)] // shown in the conflict message
        file: usize,
    }
    let mut holdings: BTreeMap<Ipv4Addr, Vec<Holding>> = BTreeMap::new();
    for (fi, f) in files.iter().enumerate() {
        // Per address, the holdings of this file not (yet) ended by a release row.
        let mut open: BTreeMap<Ipv4Addr, Vec<Holding>> = BTreeMap::new();
        for r in read_rows_or_empty(f) {
            let list = open.entry(r.address).or_default();
            if r.valid_lifetime == 0 || r.state != 0 {
                list.clear();
                continue;
            }
            list.push(Holding {
                hw: r.hwaddr,
                start: r.expire.saturating_sub(r.valid_lifetime),
                end: r.expire,
                file: fi,
            });
        }
        for (a, hs) in open {
            holdings.entry(a).or_default().extend(hs);
        }
    }
    let mut conflicts = Vec::new();
    for (addr, hs) in &holdings {
        for (i, a) in hs.iter().enumerate() {
            for b in &hs[i + 1..] {
                if a.hw != b.hw && a.start < b.end && b.start < a.end {
                    conflicts.push(format!("{addr}: {a:?} and {b:?}"));
                }
            }
        }
    }
    assert!(
        conflicts.is_empty(),
        "addresses held by two clients at once (over {files:?}):\n{}",
        conflicts.join("\n")
    );
}

/// Every peer request seen carried `Authorization: Basic`, and no peer answer was a 401.
pub fn assert_peer_traffic_authenticated(pair: &HaPair) -> usize {
    let msgs = pair.peer_messages();
    let requests: Vec<&HttpMessage> = msgs.iter().filter(|m| m.is_request()).collect();
    for m in &requests {
        let auth = m.header("Authorization").unwrap_or("");
        assert!(
            auth.starts_with("Basic "),
            "{}: a peer request from {:?} without basic auth: {m:?}",
            pair.describe(),
            m.src
        );
    }
    for m in msgs.iter().filter(|m| !m.is_request()) {
        assert!(
            !m.start_line.contains(" 401"),
            "{}: a peer refused the credentials: {m:?}",
            pair.describe()
        );
    }
    requests.len()
}

/// Scenario (a): the pair forms, a bounded perfdhcp load and real clients (dhclient, udhcpc)
/// in both buckets are each answered by the peer the hash selects, both lease files end with
/// the same leases, status-get/ha-heartbeat show both in load-balancing.
pub fn scenario_load_balancing(pair: &mut HaPair) {
    pair.wait_formed();
    let owner = lb_owner(pair);
    let (report, seen) = load_and_capture(pair, 40, "02:00:00:11:00:00", &owner);
    assert!(
        seen.wrong.is_empty(),
        "{}: replies from the wrong peer:\n{}\nlogs:\n{}",
        pair.describe(),
        seen.wrong.join("\n"),
        pair.logs()
    );
    assert_eq!(
        seen.by_server.len(),
        2,
        "{}: both peers answer their share: {:?}",
        pair.describe(),
        seen.by_server
    );
    assert_eq!(
        seen.acked_clients.len(),
        40,
        "{}: every perfdhcp client is ACKed ({report:?})",
        pair.describe()
    );
    let mut clients = Vec::new();
    for (kind, bucket, seed) in [
        (ClientKind::Dhclient, 0, 0x100),
        (ClientKind::Dhclient, 1, 0x100),
        (ClientKind::Udhcpc, 0, 0x200),
        (ClientKind::Udhcpc, 1, 0x200),
    ] {
        let mac = mac_in_bucket(kind, bucket, seed);
        let (c, m, lease) = real_client(pair, kind, &mac);
        assert_eq!(
            lease.server_id,
            Some(pair.server_ip(bucket)),
            "{}: {} {mac} (bucket {bucket}) served by the wrong peer: {lease:?}",
            pair.describe(),
            kind.name()
        );
        clients.push((c, m, lease));
    }
    let leases = assert_same_leases(pair, Duration::from_secs(10));
    for (_, _, l) in &clients {
        assert!(
            leases.contains_key(&l.address),
            "{}: {} missing from the lease files",
            pair.describe(),
            l.address
        );
    }
    assert!(leases.len() >= 44, "{} leases: {leases:?}", leases.len());
    assert_no_double_allocation(&pair.lease_files());
    assert_peer_traffic_authenticated(pair);
    pair.wait_formed();
}

/// Scenario (b) for one victim: kill peer `victim` by PID under load; the survivor reaches
/// partner-down within the limit and serves every new client (both buckets); restart the
/// victim: it syncs and both return to normal; both lease files agree and no address was
/// held by two clients at once.
pub fn scenario_failover(pair: &mut HaPair, victim: usize, mac_base: &str) {
    let survivor = 1 - victim;
    pair.wait_formed();
    // Background load across the kill.
    let load_member = pair.attach_load();
    let load = PerfLoad::spawn(
        &load_member,
        &PerfdhcpOptions {
            rate: 10,
            clients: 30,
            max_exchanges: 40,
            period_secs: 8,
            base_mac: Some(format!("{mac_base}:a0:00")),
            ..Default::default()
        },
        &pair.dir,
    );
    std::thread::sleep(Duration::from_secs(2));
    pair.peers[victim].kill();
    let limit = pair.partner_down_limit();
    pair.peers[survivor].wait_state("partner-down", limit);
    let _ = load.finish();

    // Every new client is served by the survivor, whatever its bucket.
    let only = pair.server_ip(survivor);
    let (report, seen) = load_and_capture(pair, 30, &format!("{mac_base}:b0:00"), &|_| only);
    assert!(
        seen.wrong.is_empty() && seen.by_server.len() == 1,
        "{}: with server{} down, replies came from elsewhere: {:?}\n{}",
        pair.describe(),
        victim + 1,
        seen.by_server,
        seen.wrong.join("\n")
    );
    assert_eq!(
        seen.acked_clients.len(),
        30,
        "{}: the survivor serves every client ({report:?}); logs:\n{}",
        pair.describe(),
        pair.logs()
    );
    // A real client in the dead peer's bucket (load-balancing) gets a lease from the survivor.
    let mac = mac_in_bucket(ClientKind::Dhclient, victim, 0x300 + victim as u16 * 0x100);
    let (_c, _m, lease) = real_client(pair, ClientKind::Dhclient, &mac);
    assert_eq!(lease.server_id, Some(only), "{lease:?}");

    // The victim returns, syncs, and the pair forms again.
    pair.peers[victim].restart();
    pair.wait_formed();
    let leases = assert_same_leases(pair, Duration::from_secs(10));
    assert!(
        leases.contains_key(&lease.address),
        "{}: the lease made while server{} was down ({}) is not on both sides",
        pair.describe(),
        victim + 1,
        lease.address
    );
    assert_no_double_allocation(&pair.lease_files());
}

/// Scenario (c): hot-standby. The standby answers nothing while the primary is up (load in
/// both buckets and a real client all answered by the primary), then everything once the
/// primary is down.
pub fn scenario_hot_standby(pair: &mut HaPair) {
    pair.wait_formed();
    let primary = pair.server_ip(0);
    let standby = pair.server_ip(1);
    let (report, seen) = load_and_capture(pair, 30, "02:00:00:33:00:00", &|_| primary);
    assert!(
        seen.wrong.is_empty(),
        "{}: the standby answered while the primary is up: {:?}\n{}",
        pair.describe(),
        seen.by_server,
        seen.wrong.join("\n")
    );
    assert_eq!(seen.acked_clients.len(), 30, "{report:?}");
    let mac = mac_in_bucket(ClientKind::Dhclient, 1, 0x500);
    let (_c, _m, lease) = real_client(pair, ClientKind::Dhclient, &mac);
    assert_eq!(lease.server_id, Some(primary));
    assert_same_leases(pair, Duration::from_secs(10));

    pair.peers[0].kill();
    pair.peers[1].wait_state("partner-down", pair.partner_down_limit());
    let (report, seen) = load_and_capture(pair, 30, "02:00:00:34:00:00", &|_| standby);
    assert!(
        seen.wrong.is_empty() && seen.by_server.len() == 1,
        "{}: with the primary down: {:?}\n{}",
        pair.describe(),
        seen.by_server,
        seen.wrong.join("\n")
    );
    assert_eq!(
        seen.acked_clients.len(),
        30,
        "{}: the standby serves everyone ({report:?}); logs:\n{}",
        pair.describe(),
        pair.logs()
    );
    let mac = mac_in_bucket(ClientKind::Dhclient, 0, 0x600);
    let (_c2, _m2, lease2) = real_client(pair, ClientKind::Dhclient, &mac);
    assert_eq!(lease2.server_id, Some(standby));

    pair.peers[0].restart();
    pair.wait_formed();
    let leases = assert_same_leases(pair, Duration::from_secs(10));
    assert!(leases.contains_key(&lease2.address));
    assert_no_double_allocation(&pair.lease_files());
}

/// How server2 authenticates to server1 in [`scenario_bad_credentials`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadCreds {
    WrongPassword,
    Missing,
}

/// Scenario (e): server2 sends server1 a wrong (or no) password. server1's listener refuses
/// it (401, checked directly too) and logs the refusal; server2 logs its failed heartbeats;
/// the pair never forms (neither peer reaches the normal state during several
/// max-response-delays).
pub fn start_bad_credentials(
    mode: &str,
    kinds: [PeerKind; 2],
    bad: BadCreds,
    dir: &Path,
) -> HaPair {
    let spec = HaSpec::pair(mode);
    let c2: Creds = match bad {
        BadCreds::WrongPassword => {
            Box::new(|p: &PeerSpec| Some((p.user.clone(), format!("{}-wrong", p.password))))
        }
        BadCreds::Missing => Box::new(|_: &PeerSpec| None),
    };
    HaPair::start_with(spec, kinds, dir, [Box::new(right_credentials), c2])
}

pub fn scenario_bad_credentials(pair: &HaPair, bad: BadCreds) {
    let s1 = &pair.peers[0];
    let s2 = &pair.peers[1];
    // The listener refuses what server2 sends, seen directly.
    let hb = r#"{ "command": "ha-heartbeat", "service": [ "dhcp4" ] }"#;
    let creds = match bad {
        BadCreds::WrongPassword => Some(("peer1", "pw-1-secret-wrong")),
        BadCreds::Missing => None,
    };
    let (code, body) = http_post(&s1.member.ns, &s1.url(), creds, hb);
    assert_eq!(
        code,
        401,
        "{}: listener accepted {bad:?}: {body}",
        pair.describe()
    );
    // The pair never forms: sample both states over 4 × max-response-delay + 5 s.
    let window = Duration::from_millis(4 * u64::from(pair.spec.max_response_delay_ms) + 5_000);
    let normal = pair.normal_state();
    let deadline = std::time::Instant::now() + window;
    let mut seen = BTreeSet::new();
    while std::time::Instant::now() < deadline {
        for p in [s1, s2] {
            let st = p.ha_state().unwrap_or_else(|| "?".into());
            assert_ne!(
                st,
                normal,
                "{}: {} reached {normal} although server2 sends {bad:?} credentials; logs:\n{}",
                pair.describe(),
                p.name,
                pair.logs()
            );
            seen.insert(format!("{}={st}", p.name));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    // Refusals on the wire: server2's requests to server1 get 401.
    let msgs = pair.peer_messages();
    let refused = msgs
        .iter()
        .filter(|m| !m.is_request() && m.src.0 == s1.ip && m.start_line.contains(" 401"))
        .count();
    assert!(
        refused > 0,
        "{}: no 401 from server1 on the wire (states seen {seen:?})",
        pair.describe()
    );
    // Logged on both sides: server1 refused, server2's heartbeats failed.
    let l1 = s1.logs().to_ascii_lowercase();
    assert!(
        ["unauthorized", "401", "authentication", "credentials"]
            .iter()
            .any(|w| l1.contains(w)),
        "{}: server1 ({}) did not log the refused credentials:\n{}",
        pair.describe(),
        s1.kind.name(),
        s1.logs()
    );
    let l2 = s2.logs().to_ascii_lowercase();
    assert!(
        ["unauthorized", "401"].iter().any(|w| l2.contains(w)),
        "{}: server2 ({}) did not log why its heartbeats fail:\n{}",
        pair.describe(),
        s2.kind.name(),
        s2.logs()
    );
}

/// Scenario "wire": the peer traffic of a pair that serves a few clients, sees a release, and
/// resyncs a restarted server2 by pages, has Kea 2.2's shapes (kea-ha.md §1, §5): every peer
/// command of the protocol appears, requests carry Kea's headers in Kea's order (Host = the
/// peer's address, Authorization, Content-Length, Content-Type), answers are HTTP 200 with a
/// JSON list, the sync asks for more than one page. All messages go to `peers-http.txt`.
pub fn scenario_wire(pair: &mut HaPair) {
    pair.wait_formed();
    let load = pair.attach_load();
    let report = PerfLoad::spawn(&load, &bounded_load(10, "02:00:00:44:00:00"), &pair.dir).finish();
    assert_eq!(report.ack_received, 10, "{report:?}");
    let c = pair.attach_client("02:00:00:45:00:01");
    let opts = ClientOptions {
        hostname: Some("ha-wire".into()),
        client_id_hex: Some("01aabbccddeeff".into()),
        ..Default::default()
    };
    // udhcpc (-R) sends its RELEASE itself before it deconfigures the address; `dhclient -r`
    // races the old instance's deconfiguration and sometimes cannot send it.
    let mut client = Client::start(ClientKind::Udhcpc, &c.ns, &c.iface, &pair.dir, &opts);
    let lease = client.wait_bound(Duration::from_secs(40));
    client.release();
    let released = crate::wait_for(Duration::from_secs(10), || {
        pair.lease_files()
            .iter()
            .all(|f| !active_leases(f).contains_key(&lease.address))
            .then_some(())
    });
    assert!(
        released.is_some(),
        "{}: the release of {} did not reach both lease files; logs:\n{}",
        pair.describe(),
        lease.address,
        pair.logs()
    );
    pair.peers[1].kill();
    pair.peers[0].wait_state("partner-down", pair.partner_down_limit());
    pair.peers[1].restart();
    pair.wait_formed();
    std::thread::sleep(Duration::from_millis(1500));

    let msgs = pair.peer_messages();
    let dump: String = msgs
        .iter()
        .map(|m| {
            format!(
                "{} {:?} -> {:?} {}\n{:?}\n{}\n\n",
                m.time_us, m.src, m.dst, m.start_line, m.headers, m.body
            )
        })
        .collect();
    let _ = std::fs::write(pair.dir.join("peers-http.txt"), dump);
    let commands: BTreeSet<String> = msgs.iter().filter_map(|m| m.command()).collect();
    for c in [
        "ha-heartbeat",
        "lease4-update",
        "lease4-del",
        "dhcp-disable",
        "lease4-get-page",
        "ha-sync-complete-notify",
    ] {
        assert!(
            commands.contains(c),
            "{}: no {c} between the peers (saw {commands:?})",
            pair.describe()
        );
    }
    for m in msgs.iter().filter(|m| m.is_request()) {
        let names: Vec<String> = m
            .headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        assert_eq!(
            names,
            ["host", "authorization", "content-length", "content-type"],
            "{}: request from {:?} with other headers than Kea's: {m:?}",
            pair.describe(),
            m.src
        );
        assert_eq!(m.start_line, "POST / HTTP/1.1", "{m:?}");
        assert_eq!(
            m.header("Host"),
            Some(m.dst.0.to_string().as_str()),
            "{m:?}"
        );
        assert_eq!(m.header("Content-Type"), Some("application/json"), "{m:?}");
        assert!(
            m.body.starts_with("{ ") && m.body.contains(r#""service": [ "dhcp4" ]"#),
            "{}: {m:?}",
            pair.describe()
        );
    }
    for m in msgs.iter().filter(|m| !m.is_request()) {
        assert!(
            m.start_line.starts_with("HTTP/1.1 200"),
            "{}: {m:?}",
            pair.describe()
        );
        assert!(m.body.starts_with("[ {"), "{}: {m:?}", pair.describe());
    }
    let next_pages = msgs
        .iter()
        .filter(|m| m.command().as_deref() == Some("lease4-get-page"))
        .filter(|m| !m.body.contains(r#""from": "start""#))
        .count();
    assert!(
        next_pages > 0,
        "{}: the sync of 11+ leases by pages of 3 fetched only one page",
        pair.describe()
    );
    assert_same_leases(pair, Duration::from_secs(10));
}

/// Sends `command` (no arguments) to `peer` with the admin credentials and returns the first
/// answer's `result` and the body.
pub fn admin_command(peer: &HaPeer, command: &str) -> (Option<i64>, String) {
    let (code, body) = peer.command(&format!(
        r#"{{ "command": "{command}", "service": [ "dhcp4" ] }}"#
    ));
    assert_eq!(code, 200, "{}: {command}: HTTP {code}: {body}", peer.name);
    let result = body
        .find("\"result\"")
        .map(|i| &body[i + 8..])
        .and_then(|r| r.trim_start().strip_prefix(':'))
        .and_then(|r| {
            let digits: String = r
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            digits.parse().ok()
        });
    (result, body)
}

/// Scenario "maintenance" (kea-ha.md §5 administrator commands): `ha-maintenance-start` on
/// `operator` (index) puts its partner in `in-maintenance` (through `ha-maintenance-notify`)
/// and itself in `partner-in-maintenance`, where it serves every client of both scopes; the
/// partner answers nobody; `ha-maintenance-cancel` brings both back to the normal state.
pub fn scenario_maintenance(pair: &mut HaPair, operator: usize, mac_base: &str) {
    let other = 1 - operator;
    pair.wait_formed();
    let (result, body) = admin_command(&pair.peers[operator], "ha-maintenance-start");
    assert_eq!(
        result,
        Some(0),
        "{}: ha-maintenance-start: {body}",
        pair.describe()
    );
    let limit = pair.formed_limit();
    pair.peers[operator].wait_state("partner-in-maintenance", limit);
    pair.peers[other].wait_state("in-maintenance", limit);
    let only = pair.server_ip(operator);
    let (report, seen) = load_and_capture(pair, 20, &format!("{mac_base}:c0:00"), &|_| only);
    assert!(
        seen.wrong.is_empty() && seen.by_server.len() == 1,
        "{}: with server{} in maintenance, replies came from: {:?}\n{}",
        pair.describe(),
        other + 1,
        seen.by_server,
        seen.wrong.join("\n")
    );
    assert_eq!(
        seen.acked_clients.len(),
        20,
        "{}: partner-in-maintenance serves everyone ({report:?}); logs:\n{}",
        pair.describe(),
        pair.logs()
    );
    let (result, body) = admin_command(&pair.peers[operator], "ha-maintenance-cancel");
    assert_eq!(
        result,
        Some(0),
        "{}: ha-maintenance-cancel: {body}",
        pair.describe()
    );
    pair.wait_formed();
    assert_same_leases(pair, Duration::from_secs(10));
    assert_no_double_allocation(&pair.lease_files());
}
