//! Command tests: real config texts parsed by the config module, a real lease table, the
//! answers compared with Kea's shapes (golden strings in Kea's layout).

use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use super::*;
use crate::config::{
    measure, parse, ClientClass, ConfigStorage, CustomOptionDef, HookLibrary, Logger, OptionValue,
    Pool, Reservation, SharedNetwork, Subnet, TextRef,
};
use crate::lease::OccupancyStorage;
use crate::lease::{LeaseRecord, LeaseSlot, LeaseStorage, LeaseTable};
use crate::stats::{History, SampleRing, Stats, StoredSample, SubnetStats};

const CONFIG: &str = r#"{
  "Dhcp4": {
    // a comment the config parser accepts
    "valid-lifetime": 4000,
    "reservations": [ { "hw-address": "0a:0b:0c:0d:0e:0f", "ip-address": "198.18.9.9", "hostname": "global-host" } ],
    "subnet4": [
      {
        "id": 1,
        "subnet": "198.18.0.0/24",
        "pools": [ { "pool": "198.18.0.20 - 198.18.0.250" } ],
        "reservations": [
          { "hw-address": "80:2a:a8:93:be:b8", "ip-address": "198.18.0.29", "hostname": "ubnt-ap1",
            "option-data": [ { "name": "domain-name", "data": "ap.example" } ] },
          { "client-id": "08:00:69:07:dc:e8", "ip-address": "198.18.0.205", "server-hostname": "indigo2",
            "boot-file-name": "/data/irix/fx.ARCS" }
        ]
      },
      {
        "id": 2,
        "subnet": "198.18.2.0/24",
        "valid-lifetime": 600,
        "pools": [ { "pool": "198.18.2.10 - 198.18.2.19" } ],
      }
    ]
  }
}"#;

/// Owned config storage sized from a [`crate::config::Capacity`].
struct Buffers {
    subnets: Vec<Subnet>,
    shared_networks: Vec<SharedNetwork>,
    pools: Vec<Pool>,
    reservations: Vec<Reservation>,
    options: Vec<OptionValue>,
    option_defs: Vec<CustomOptionDef>,
    classes: Vec<ClientClass>,
    loggers: Vec<Logger>,
    hooks: Vec<HookLibrary>,
    addresses: Vec<Ipv4Addr>,
    names: Vec<TextRef>,
    text: Vec<u8>,
    id_slots: Vec<u32>,
    addr_slots: Vec<u32>,
}

impl Buffers {
    fn new(c: &crate::config::Capacity) -> Self {
        Buffers {
            subnets: vec![Subnet::EMPTY; c.subnets],
            shared_networks: vec![SharedNetwork::EMPTY; c.shared_networks],
            pools: vec![Pool::EMPTY; c.pools],
            reservations: vec![Reservation::EMPTY; c.reservations],
            options: vec![OptionValue::EMPTY; c.options],
            option_defs: vec![CustomOptionDef::EMPTY; c.option_defs],
            classes: vec![ClientClass::EMPTY; c.classes],
            loggers: vec![Logger::EMPTY; c.loggers],
            hooks: vec![HookLibrary::EMPTY; c.hooks],
            addresses: vec![Ipv4Addr::UNSPECIFIED; c.addresses],
            names: vec![TextRef::EMPTY; c.names],
            text: vec![0; c.text],
            id_slots: vec![0; c.reservation_id_slots],
            addr_slots: vec![0; c.reservation_addr_slots],
        }
    }

    fn storage(&mut self) -> ConfigStorage<'_> {
        ConfigStorage {
            subnets: &mut self.subnets,
            shared_networks: &mut self.shared_networks,
            pools: &mut self.pools,
            reservations: &mut self.reservations,
            options: &mut self.options,
            option_defs: &mut self.option_defs,
            classes: &mut self.classes,
            loggers: &mut self.loggers,
            hooks: &mut self.hooks,
            addresses: &mut self.addresses,
            names: &mut self.names,
            text: &mut self.text,
            reservation_id_slots: &mut self.id_slots,
            reservation_addr_slots: &mut self.addr_slots,
        }
    }
}

/// Parses `text` with the real parser: Ok(number of subnets) or the error text.
fn reparse(text: &str) -> Result<usize, String> {
    let cap = measure(text).map_err(|e| e.to_string())?;
    let mut b = Buffers::new(&cap);
    let c = parse(text, b.storage(), &mut |_| {}).map_err(|e| e.to_string())?;
    Ok(c.subnets.len())
}

struct VecSink(Vec<String>);

impl LeaseSink for VecSink {
    fn lease_changed(&mut self, r: &LeaseRecord<'_>) {
        self.0.push(format!(
            "{},{},{},{},{}",
            r.address,
            r.valid_lifetime,
            r.subnet_id,
            r.state.code(),
            r.hostname
        ));
    }
}

struct World<'a, 'l, 's> {
    config: &'a Config<'a>,
    text: &'a str,
    leases: LeaseTable<'l>,
    stats: Stats<'s>,
    now: Timestamp,
    sink: VecSink,
    info: ServerInfo<'static>,
}

const NOW: Timestamp = Timestamp(1_795_857_378);

fn with_world<R>(text: &str, capacity: usize, f: impl FnOnce(&mut World<'_, '_, '_>) -> R) -> R {
    let cap = measure(text).unwrap();
    let mut bufs = Buffers::new(&cap);
    let config = parse(text, bufs.storage(), &mut |_| {}).unwrap();
    let sizes = LeaseStorage::sizes_for(capacity);
    let mut slots = vec![LeaseSlot::default(); sizes.leases];
    let mut a = vec![0u32; sizes.index_slots];
    let mut b = vec![0u32; sizes.index_slots];
    let mut c = vec![0u32; sizes.index_slots];
    let mut expiry = vec![0u32; sizes.expiry];
    let mut ltext = vec![0u8; sizes.text_bytes];
    let leases = LeaseTable::new(LeaseStorage {
        leases: &mut slots,
        by_address: &mut a,
        by_client_id: &mut b,
        by_hwaddr: &mut c,
        expiry: &mut expiry,
        text: &mut ltext,
        occupancy: OccupancyStorage::empty(),
    })
    .unwrap();
    let mut stats_storage = vec![SubnetStats::default(); 2 * config.subnets.len() + 1];
    let slots = Stats::history_slots(config.subnets.len());
    let mut rings = vec![SampleRing::default(); slots];
    let mut samples = vec![StoredSample::default(); slots * 20];
    let mut stats = Stats::with_history(
        &mut stats_storage,
        History::new(&mut rings, &mut samples),
        Timestamp(1_700_000_000),
    );
    stats
        .configure(&config, &leases, Timestamp(1_700_000_000))
        .unwrap();
    let mut w = World {
        config: &config,
        text,
        leases,
        stats,
        now: NOW,
        sink: VecSink(Vec::new()),
        info: ServerInfo {
            version: "2.2.0",
            extended: "2.2.0\nwren 0.1.0",
            build_report: "wren build",
            pid: 4242,
            uptime: 60,
            reload: 30,
            utc_offset: 0,
        },
    };
    f(&mut w)
}

impl World<'_, '_, '_> {
    fn decide<'r>(&mut self, request: &'r str) -> Decision<'r> {
        let req = match parse_request(request) {
            Ok(r) => r,
            Err(e) => return Decision::Reply(Reply::from_request_error(&e)),
        };
        let mut env = Env {
            config: self.config,
            config_text: self.text,
            leases: &mut self.leases,
            stats: &mut self.stats,
            now: self.now,
        };
        execute(&req, &mut env, &mut self.sink)
    }

    fn call(&mut self, request: &str) -> String {
        match self.decide(request) {
            Decision::Reply(r) => self.render(&r, 1 << 20),
            Decision::Action(a) => format!("ACTION {a:?}"),
        }
    }

    /// Renders in chunks of `chunk` bytes and reassembles.
    fn render(&self, reply: &Reply<'_>, chunk: usize) -> String {
        let mut order = vec![0u32; self.leases.capacity()];
        let order: &[u32] = if reply.needs_lease_order() {
            self.leases.ids_by_address(&mut order)
        } else {
            &[]
        };
        let view = View {
            config: self.config,
            config_text: self.text,
            leases: &self.leases,
            stats: &self.stats,
            info: self.info,
            lease_order: order,
        };
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        let mut cursor = Cursor::default();
        loop {
            let c = render(reply, &view, cursor, &mut buf);
            out.extend_from_slice(&buf[..c.len]);
            if c.done {
                break;
            }
            assert!(c.len > 0, "no progress");
            cursor = c.next;
        }
        String::from_utf8(out).unwrap()
    }
}

fn add(w: &mut World<'_, '_, '_>, ip: &str, hw: &str, extra: &str) -> String {
    w.call(&format!(
        r#"{{"command": "lease4-add", "arguments": {{"ip-address": "{ip}", "hw-address": "{hw}"{extra}}}}}"#
    ))
}

#[test]
fn server_commands() {
    with_world(CONFIG, 16, |w| {
        let s = w.call(r#"{"command": "list-commands"}"#);
        assert!(
            s.starts_with(r#"{ "arguments": [ "build-report", "config-get", "#),
            "{s}"
        );
        assert!(
            s.ends_with(r#""subnet4-update", "version-get", "wren-trace" ], "result": 0 }"#),
            "{s}"
        );
        assert_eq!(
            w.call(r#"{"command": "version-get"}"#),
            r#"{ "arguments": { "extended": "2.2.0\nwren 0.1.0" }, "result": 0, "text": "2.2.0" }"#
        );
        assert_eq!(
            w.call(r#"{"command": "build-report"}"#),
            r#"{ "result": 0, "text": "wren build" }"#
        );
        assert_eq!(
            w.call(r#"{"command": "status-get"}"#),
            r#"{ "arguments": { "multi-threading-enabled": false, "pid": 4242, "reload": 30, "sockets": { "status": "ready" }, "uptime": 60 }, "result": 0 }"#
        );
        assert_eq!(
            w.call(r#"{"command": "xyz", "service": ["dhcp4"]}"#),
            r#"{ "result": 2, "text": "'xyz' command not supported." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "list-commands", "foo": 1}"#),
            r#"{ "result": 1, "text": "Error during command processing: Received command contains unsupported parameter 'foo'" }"#
        );
    });
}

#[test]
fn lease4_add_get_and_errors() {
    with_world(CONFIG, 16, |w| {
        assert_eq!(
            add(
                w,
                "198.18.0.150",
                "1a:1b:1c:1d:1e:1f",
                r#", "client-id": "01:1a:1b:1c:1d:1e:1f", "hostname": "host-a.example.", "user-context": {"k": "v, with comma"}"#
            ),
            r#"{ "result": 0, "text": "Lease for address 198.18.0.150, subnet-id 1 added." }"#
        );
        assert_eq!(w.sink.0, ["198.18.0.150,4000,1,0,host-a.example."]);
        assert_eq!(
            w.call(r#"{"command": "lease4-get", "arguments": {"ip-address": "198.18.0.150"}}"#),
            format!(
                r#"{{ "arguments": {{ "client-id": "01:1a:1b:1c:1d:1e:1f", "cltt": {}, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "host-a.example.", "hw-address": "1a:1b:1c:1d:1e:1f", "ip-address": "198.18.0.150", "state": 0, "subnet-id": 1, "user-context": {{ "k": "v, with comma" }}, "valid-lft": 4000 }}, "result": 0, "text": "IPv4 lease found." }}"#,
                NOW.0
            )
        );
        let by_id = w.call(r#"{"command": "lease4-get", "arguments": {"identifier-type": "hw-address", "identifier": "1a:1b:1c:1d:1e:1f", "subnet-id": 1}}"#);
        assert!(
            by_id.ends_with(r#""text": "IPv4 lease found." }"#),
            "{by_id}"
        );
        let by_cid = w.call(r#"{"command": "lease4-get", "arguments": {"identifier-type": "client-id", "identifier": "01:1a:1b:1c:1d:1e:1f", "subnet-id": 1}}"#);
        assert!(by_cid.contains(r#""ip-address": "198.18.0.150""#));
        let stat = |w: &World<'_, '_, '_>| {
            w.stats
                .get(StatName::Subnet {
                    id: 1,
                    stat: crate::stats::SubnetStat::AssignedAddresses,
                })
                .unwrap()
                .value
        };
        assert_eq!(stat(w), 1);
        let cases: &[(&str, &str)] = &[
            (
                r#"{"command": "lease4-add", "arguments": {"ip-address": "198.18.0.150", "hw-address": "1a:1b:1c:1d:1e:1f"}}"#,
                r#"{ "result": 1, "text": "IPv4 lease already exists." }"#,
            ),
            // The position is the arguments map's column (1-based) in the request.
            (
                r#"{"command": "lease4-add", "arguments": {"ip-address": "198.18.0.151"}}"#,
                r#"{ "result": 1, "text": "missing parameter 'hw-address' (<wire>:0:40)" }"#,
            ),
            (
                r#"{"command": "lease4-add", "arguments": {"ip-address": "198.18.5.1", "hw-address": "1a:1b:1c:1d:1e:1f"}}"#,
                r#"{ "result": 1, "text": "subnet-id not specified and failed to find a subnet for address 198.18.5.1" }"#,
            ),
            (
                r#"{"command": "lease4-add", "arguments": {"ip-address": "198.18.0.152", "hw-address": "zz"}}"#,
                r#"{ "result": 1, "text": "'z' is not a valid hexadecimal digit in decoded string 'zz'" }"#,
            ),
            (
                r#"{"command": "lease4-add", "arguments": {"ip-address": "198.18.0.152", "hw-address": "1a:1b:1c:1d:1e:1f", "fqdn-fwd": true}}"#,
                r#"{ "result": 1, "text": "No hostname specified and either forward or reverse fqdn was set to true." }"#,
            ),
            (
                r#"{"command": "lease4-add", "arguments": {"ip-address": "198.18.0.152", "hw-address": "1a:1b:1c:1d:1e:1f", "subnet-id": 2}}"#,
                r#"{ "result": 1, "text": "The address 198.18.0.152 does not belong to subnet 198.18.2.0/24, subnet-id=2" }"#,
            ),
            (
                r#"{"command": "lease4-get", "arguments": {"ip-address": "198.18.0.151"}}"#,
                r#"{ "result": 3, "text": "Lease not found." }"#,
            ),
            (
                r#"{"command": "lease4-get", "arguments": {"identifier-type": "hw-address", "identifier": "1a:1b:1c:1d:1e:1f"}}"#,
                r#"{ "result": 1, "text": "Mandatory 'subnet-id' parameter missing." }"#,
            ),
            (
                r#"{"command": "lease4-get", "arguments": {"identifier-type": "duid", "identifier": "01:02", "subnet-id": 1}}"#,
                r#"{ "result": 1, "text": "Query by duid is not allowed in v4." }"#,
            ),
            (
                r#"{"command": "lease4-get"}"#,
                r#"{ "result": 1, "text": "Parameters missing or are not a map." }"#,
            ),
        ];
        for (req, want) in cases {
            assert_eq!(w.call(req), *want, "{req}");
        }
        // Refused commands wrote nothing and counted nothing.
        assert_eq!(w.sink.0.len(), 1);
        assert_eq!(stat(w), 1);
        // expire and valid-lft give cltt = expire - valid.
        add(
            w,
            "198.18.2.11",
            "02:00:00:00:00:11",
            r#", "valid-lft": 100, "expire": 1000000100, "state": 1"#,
        );
        let l = w.leases.get(Ipv4Addr::new(198, 18, 2, 11)).unwrap();
        assert_eq!(
            (l.cltt, l.valid_lifetime, l.subnet_id),
            (Timestamp(1_000_000_000), 100, 2)
        );
        assert_eq!(
            w.stats
                .get(StatName::Subnet {
                    id: 2,
                    stat: crate::stats::SubnetStat::DeclinedAddresses
                })
                .unwrap()
                .value,
            1
        );
    });
}

/// The seed's `lease4-get-all` answer, in Kea's layout.
#[test]
fn lease4_get_all_matches_the_seed_shape() {
    with_world(CONFIG, 16, |w| {
        assert_eq!(
            w.call(r#"{ "command": "lease4-get-all",  "service": [ "dhcp4" ] }"#),
            r#"{ "arguments": { "leases": [  ] }, "result": 3, "text": "0 IPv4 lease(s) found." }"#
        );
        w.now = Timestamp(1_580_517_612);
        add(
            w,
            "198.18.0.43",
            "00:09:b0:1e:e8:c7",
            r#", "valid-lft": 172800, "fqdn-fwd": true, "fqdn-rev": true, "hostname": "pioneer-vsx-lx303-ef39e1""#,
        );
        w.now = Timestamp(1_580_517_575);
        add(
            w,
            "198.18.0.111",
            "2c:fd:ab:0e:f9:cc",
            r#", "valid-lft": 172800"#,
        );
        add(w, "198.18.2.12", "2c:fd:ab:0e:f9:cd", "");
        let all = w.call(r#"{ "command": "lease4-get-all",  "service": [ "dhcp4" ] }"#);
        assert_eq!(
            all,
            r#"{ "arguments": { "leases": [ { "cltt": 1580517612, "fqdn-fwd": true, "fqdn-rev": true, "hostname": "pioneer-vsx-lx303-ef39e1", "hw-address": "00:09:b0:1e:e8:c7", "ip-address": "198.18.0.43", "state": 0, "subnet-id": 1, "valid-lft": 172800 }, { "cltt": 1580517575, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "2c:fd:ab:0e:f9:cc", "ip-address": "198.18.0.111", "state": 0, "subnet-id": 1, "valid-lft": 172800 }, { "cltt": 1580517575, "fqdn-fwd": false, "fqdn-rev": false, "hostname": "", "hw-address": "2c:fd:ab:0e:f9:cd", "ip-address": "198.18.2.12", "state": 0, "subnet-id": 2, "valid-lft": 600 } ] }, "result": 0, "text": "3 IPv4 lease(s) found." }"#
        );
        let sub2 = w.call(r#"{ "command": "lease4-get-all", "arguments": { "subnets": [ 2 ] } }"#);
        assert!(
            sub2.contains("198.18.2.12") && !sub2.contains("198.18.0.43"),
            "{sub2}"
        );
        assert!(sub2.ends_with(r#""text": "1 IPv4 lease(s) found." }"#));
        assert_eq!(
            w.call(r#"{ "command": "lease4-get-all", "arguments": { "subnets": 2 } }"#),
            r#"{ "result": 1, "text": "'subnets' parameter must be a list" }"#
        );
        // by hw-address / client-id / hostname (case-insensitive)
        let by = w.call(r#"{ "command": "lease4-get-by-hostname", "arguments": { "hostname": "PIONEER-vsx-lx303-ef39e1" } }"#);
        assert!(
            by.ends_with(r#""text": "1 IPv4 lease(s) found." }"#),
            "{by}"
        );
        let by = w.call(r#"{ "command": "lease4-get-by-hw-address", "arguments": { "hw-address": "2c:fd:ab:0e:f9:cc" } }"#);
        assert!(
            by.contains("198.18.0.111") && by.contains("\"result\": 0"),
            "{by}"
        );
        assert_eq!(
            w.call(r#"{ "command": "lease4-get-by-client-id", "arguments": { "client-id": "01:02:03" } }"#),
            r#"{ "arguments": { "leases": [  ] }, "result": 3, "text": "0 IPv4 lease(s) found." }"#
        );
        assert_eq!(
            w.call(r#"{ "command": "lease4-get-by-hw-address", "arguments": { } }"#),
            r#"{ "result": 1, "text": "'hw-address' parameter not specified" }"#
        );
        // Every chunk size reassembles the same answer.
        let reply = match w.decide(r#"{ "command": "lease4-get-all" }"#) {
            Decision::Reply(r) => r,
            Decision::Action(_) => unreachable!(),
        };
        for chunk in [1, 5, 64, 333] {
            assert_eq!(w.render(&reply, chunk), all, "chunk {chunk}");
        }
    });
}

#[test]
fn lease4_get_page_walks_in_address_order() {
    with_world(CONFIG, 64, |w| {
        // Insert out of order: the pages come back sorted by address.
        for i in (0..25u8).rev() {
            add(
                w,
                &format!("198.18.0.{}", 20 + i * 3),
                &format!("02:00:00:00:01:{i:02x}"),
                "",
            );
        }
        let mut from = String::from("start");
        let mut seen = Vec::new();
        for expected in [10, 10, 5, 0] {
            let s = w.call(&format!(
                r#"{{"command": "lease4-get-page", "arguments": {{"from": "{from}", "limit": 10}}}}"#
            ));
            assert!(s.contains(&format!(r#""count": {expected}, "#)), "{s}");
            let result = if expected > 0 { 0 } else { 3 };
            assert!(
                s.ends_with(&format!(
                    r#""result": {result}, "text": "{expected} IPv4 lease(s) found." }}"#
                )),
                "{s}"
            );
            let addrs: Vec<String> = s
                .split(r#""ip-address": ""#)
                .skip(1)
                .map(|p| p.split('"').next().unwrap().to_string())
                .collect();
            assert_eq!(addrs.len(), expected);
            if let Some(last) = addrs.last() {
                from = last.clone();
            }
            seen.extend(addrs);
        }
        let want: Vec<String> = (0..25u8)
            .map(|i| format!("198.18.0.{}", 20 + i * 3))
            .collect();
        assert_eq!(seen, want);
        // `from` need not be a leased address: strictly greater.
        let s = w.call(
            r#"{"command": "lease4-get-page", "arguments": {"from": "198.18.0.21", "limit": 1}}"#,
        );
        assert!(s.contains(r#""ip-address": "198.18.0.23""#), "{s}");
        for (req, want) in [
            (
                r#"{"command": "lease4-get-page", "arguments": {"from": "start", "limit": 0}}"#,
                "page size of retrieved leases must not be 0",
            ),
            (
                r#"{"command": "lease4-get-page", "arguments": {"from": "beginning", "limit": 5}}"#,
                "'from' parameter value is neither 'start' keyword nor a valid IPv4 address",
            ),
            (
                r#"{"command": "lease4-get-page", "arguments": {"limit": 5}}"#,
                "'from' parameter not specified",
            ),
        ] {
            assert_eq!(
                w.call(req),
                format!(r#"{{ "result": 1, "text": "{want}" }}"#)
            );
        }
    });
}

#[test]
fn lease4_update_del_wipe() {
    with_world(CONFIG, 16, |w| {
        add(w, "198.18.0.30", "02:00:00:00:00:30", "");
        add(w, "198.18.0.31", "02:00:00:00:00:31", "");
        add(w, "198.18.2.10", "02:00:00:00:00:32", "");
        w.sink.0.clear();
        assert_eq!(
            w.call(r#"{"command": "lease4-update", "arguments": {"ip-address": "198.18.0.30", "hw-address": "02:00:00:00:00:30", "hostname": "renamed"}}"#),
            r#"{ "result": 0, "text": "IPv4 lease updated." }"#
        );
        assert_eq!(
            w.leases
                .get(Ipv4Addr::new(198, 18, 0, 30))
                .unwrap()
                .hostname,
            "renamed"
        );
        assert_eq!(
            w.call(r#"{"command": "lease4-update", "arguments": {"ip-address": "198.18.0.40", "hw-address": "02:00:00:00:00:40"}}"#),
            r#"{ "result": 1, "text": "failed to update the lease with address 198.18.0.40 either because the lease has been deleted or it has changed in the database, in both cases a retry might succeed" }"#
        );
        assert_eq!(
            w.call(r#"{"command": "lease4-update", "arguments": {"ip-address": "198.18.0.40", "hw-address": "02:00:00:00:00:40", "force-create": true}}"#),
            r#"{ "result": 0, "text": "IPv4 lease added." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "lease4-del", "arguments": {"ip-address": "198.18.0.40"}}"#),
            r#"{ "result": 0, "text": "IPv4 lease deleted." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "lease4-del", "arguments": {"ip-address": "198.18.0.40"}}"#),
            r#"{ "result": 3, "text": "IPv4 lease not found." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "lease4-del", "arguments": {"identifier-type": "hw-address", "identifier": "02:00:00:00:00:31", "subnet-id": 1}}"#),
            r#"{ "result": 0, "text": "IPv4 lease deleted." }"#
        );
        // The journal saw: update, force-create, two removals (lifetime 0).
        assert_eq!(
            w.sink.0,
            [
                "198.18.0.30,4000,1,0,renamed",
                "198.18.0.40,4000,1,0,",
                "198.18.0.40,0,1,0,",
                "198.18.0.31,0,1,0,",
            ]
        );
        let assigned = |w: &World<'_, '_, '_>, id| {
            w.stats
                .get(StatName::Subnet {
                    id,
                    stat: crate::stats::SubnetStat::AssignedAddresses,
                })
                .unwrap()
                .value
        };
        assert_eq!((assigned(w, 1), assigned(w, 2)), (1, 1));
        assert_eq!(
            w.call(r#"{"command": "lease4-wipe", "arguments": {"subnet-id": 2}}"#),
            r#"{ "result": 0, "text": "Deleted 1 IPv4 lease(s) from subnet(s) 2" }"#
        );
        assert_eq!(
            w.call(r#"{"command": "lease4-wipe", "arguments": {"subnet-id": 2}}"#),
            r#"{ "result": 3, "text": "Deleted 0 IPv4 lease(s) from subnet(s) 2" }"#
        );
        assert_eq!(
            w.call(r#"{"command": "lease4-wipe"}"#),
            r#"{ "result": 0, "text": "Deleted 1 IPv4 lease(s) from subnet(s) 1 2" }"#
        );
        assert!(w.leases.is_empty());
        assert_eq!((assigned(w, 1), assigned(w, 2)), (0, 0));
        // A reconfiguration recounts assigned addresses from the table and keeps the
        // cumulative counters of subnets that stay.
        add(w, "198.18.0.60", "02:00:00:00:00:60", "");
        let cumulative = StatName::Subnet {
            id: 1,
            stat: crate::stats::SubnetStat::CumulativeAssignedAddresses,
        };
        let before = w.stats.get(cumulative).unwrap().value;
        // Lease commands do not count as assignments (Kea: cumulative-assigned-addresses
        // counts the allocation engine's only).
        assert_eq!(before, 0);
        w.stats.configure(w.config, &w.leases, NOW).unwrap();
        assert_eq!(w.stats.get(cumulative).unwrap().value, before);
        assert_eq!(assigned(w, 1), 1);
    });
}

#[test]
fn statistics_commands() {
    with_world(CONFIG, 16, |w| {
        assert_eq!(
            w.call(r#"{"command": "statistic-get", "arguments": {"name": "subnet[1].total-addresses"}}"#),
            r#"{ "arguments": { "subnet[1].total-addresses": [ [ 231, "2023-11-14 22:13:20.000000" ] ] }, "result": 0 }"#
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-get", "arguments": {"name": "bogus"}}"#),
            r#"{ "arguments": {  }, "result": 0 }"#
        );
        add(w, "198.18.0.30", "02:00:00:00:00:30", "");
        assert_eq!(
            w.call(r#"{"command": "statistic-get", "arguments": {"name": "subnet[1].assigned-addresses"}}"#),
            r#"{ "arguments": { "subnet[1].assigned-addresses": [ [ 1, "2026-11-28 09:16:18.000000" ], [ 0, "2023-11-14 22:13:20.000000" ] ] }, "result": 0 }"#
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-reset", "arguments": {"name": "subnet[1].assigned-addresses"}}"#),
            r#"{ "result": 0, "text": "Statistic 'subnet[1].assigned-addresses' reset." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-remove", "arguments": {"name": "pkt4-received"}}"#),
            r#"{ "result": 0, "text": "Statistic 'pkt4-received' removed." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-remove", "arguments": {"name": "pkt4-received"}}"#),
            r#"{ "result": 1, "text": "No 'pkt4-received' statistic found" }"#
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-get"}"#),
            r#"{ "result": 1, "text": "Missing mandatory 'name' parameter." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-reset-all"}"#),
            r#"{ "result": 0, "text": "All statistics reset to neutral values." }"#
        );
        let all = w.call(r#"{"command": "statistic-get-all"}"#);
        assert!(
            all.starts_with(r#"{ "arguments": { "cumulative-assigned-addresses": [ [ 0, "#),
            "{all}"
        );
        assert!(!all.contains("\"pkt4-received\""));
        assert!(all.contains(r#""subnet[2].v4-reservation-conflicts": [ [ 0, "#));
        assert!(all.ends_with(r#" ] ] }, "result": 0 }"#));
        add(w, "198.18.2.10", "02:00:00:00:00:31", "");
        assert_eq!(
            w.call(r#"{"command": "stat-lease4-get"}"#),
            r#"{ "arguments": { "result-set": { "columns": [ "subnet-id", "total-addresses", "cumulative-assigned-addresses", "assigned-addresses", "declined-addresses" ], "rows": [ [ 1, 0, 0, 0, 0 ], [ 2, 0, 0, 1, 0 ] ], "timestamp": "2026-11-28 09:16:18.000000" } }, "result": 0, "text": "stat-lease4-get[all subnets]: 2 rows found" }"#
        );
        let one = w.call(r#"{"command": "stat-lease4-get", "arguments": {"subnet-id": 2}}"#);
        assert!(one.contains(r#""rows": [ [ 2, 0, 0, 1, 0 ] ]"#), "{one}");
        assert!(
            one.ends_with(r#""text": "stat-lease4-get[subnet-id=2]: 1 rows found" }"#),
            "{one}"
        );
        let range = w.call(r#"{"command": "stat-lease4-get", "arguments": {"subnet-range": {"first-subnet-id": 2, "last-subnet-id": 9}}}"#);
        assert!(
            range.ends_with(r#""text": "stat-lease4-get[subnets 2 through 9]: 1 rows found" }"#),
            "{range}"
        );
        assert_eq!(
            w.call(r#"{"command": "stat-lease4-get", "arguments": {"subnet-id": 9}}"#),
            r#"{ "arguments": {  }, "result": 3, "text": "stat-lease4-get[subnet-id=9]: no matching data, subnet-id: 9 does not exist" }"#
        );
        assert_eq!(
            w.call(r#"{"command": "server-tag-get"}"#),
            r#"{ "arguments": { "server-tag": "" }, "result": 0 }"#
        );
        let reply = Reply::Statistics;
        let all = w.call(r#"{"command": "statistic-get-all"}"#);
        for chunk in [1, 7, 100] {
            assert_eq!(w.render(&reply, chunk), all, "chunk {chunk}");
        }
    });
}

/// Leases 198.18.0.(30 + i) for each `i`, one a second from NOW + i (each a sample of
/// subnet 1's `assigned-addresses`).
fn add_one_a_second(w: &mut World<'_, '_, '_>, range: core::ops::Range<u8>) {
    for i in range {
        w.now = Timestamp(NOW.0 + u64::from(i));
        add(
            w,
            &format!("198.18.0.{}", 30 + i),
            &format!("02:00:00:00:00:{i:02x}"),
            "",
        );
    }
}

/// Kea 2.2's sample history and its limits (answers checked on kea-dhcp4 2.2; the
/// side-by-side run is tests/tests/control_parity.rs).
#[test]
fn statistic_samples_and_limits() {
    with_world(CONFIG, 16, |w| {
        let get = |w: &mut World<'_, '_, '_>, name: &str| {
            w.call(&format!(
                r#"{{"command": "statistic-get", "arguments": {{"name": "{name}"}}}}"#
            ))
        };
        add_one_a_second(w, 0..3);
        assert_eq!(
            get(w, "subnet[1].assigned-addresses"),
            r#"{ "arguments": { "subnet[1].assigned-addresses": [ [ 3, "2026-11-28 09:16:20.000000" ], [ 2, "2026-11-28 09:16:19.000000" ], [ 1, "2026-11-28 09:16:18.000000" ], [ 0, "2023-11-14 22:13:20.000000" ] ] }, "result": 0 }"#
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-sample-count-set", "arguments": {"name": "subnet[1].assigned-addresses", "max-samples": 2}}"#),
            r#"{ "result": 0, "text": "Statistic 'subnet[1].assigned-addresses' count limit is set." }"#
        );
        assert_eq!(
            get(w, "subnet[1].assigned-addresses"),
            r#"{ "arguments": { "subnet[1].assigned-addresses": [ [ 3, "2026-11-28 09:16:20.000000" ], [ 2, "2026-11-28 09:16:19.000000" ] ] }, "result": 0 }"#
        );
        // The age limit replaces the count limit: the span to the oldest kept is ≤ 1 s.
        add_one_a_second(w, 3..6);
        assert_eq!(
            w.call(r#"{"command": "statistic-sample-age-set", "arguments": {"name": "subnet[1].assigned-addresses", "duration": 1}}"#),
            r#"{ "result": 0, "text": "Statistic 'subnet[1].assigned-addresses' duration limit is set." }"#
        );
        assert_eq!(
            get(w, "subnet[1].assigned-addresses"),
            r#"{ "arguments": { "subnet[1].assigned-addresses": [ [ 6, "2026-11-28 09:16:23.000000" ], [ 5, "2026-11-28 09:16:22.000000" ] ] }, "result": 0 }"#
        );
        // Reset forgets the samples; remove and recreation starts from the default (20).
        assert!(w.call(r#"{"command": "statistic-reset", "arguments": {"name": "subnet[1].assigned-addresses"}}"#).contains("reset."));
        assert_eq!(
            get(w, "subnet[1].assigned-addresses"),
            r#"{ "arguments": { "subnet[1].assigned-addresses": [ [ 0, "2026-11-28 09:16:23.000000" ] ] }, "result": 0 }"#
        );
        // Argument errors, in Kea's order and words.
        for (request, answer) in [
            (
                r#"{"command": "statistic-sample-count-set"}"#,
                r#"{ "result": 1, "text": "Missing mandatory 'name' parameter." }"#,
            ),
            (
                r#"{"command": "statistic-sample-count-set", "arguments": {"name": 5, "max-samples": 3}}"#,
                r#"{ "result": 1, "text": "'name' parameter expected to be a string." }"#,
            ),
            (
                r#"{"command": "statistic-sample-count-set", "arguments": {"name": "nope"}}"#,
                r#"{ "result": 1, "text": "Missing mandatory 'max-samples' parameter." }"#,
            ),
            (
                r#"{"command": "statistic-sample-count-set", "arguments": {"name": "nope", "max-samples": "x"}}"#,
                r#"{ "result": 1, "text": "'max-samples' parameter expected to be an integer." }"#,
            ),
            (
                r#"{"command": "statistic-sample-count-set", "arguments": {"name": "nope", "max-samples": 3}}"#,
                r#"{ "result": 1, "text": "No 'nope' statistic found" }"#,
            ),
            (
                r#"{"command": "statistic-sample-age-set", "arguments": {"name": "pkt4-received"}}"#,
                r#"{ "result": 1, "text": "Missing mandatory 'duration' parameter." }"#,
            ),
            (
                r#"{"command": "statistic-sample-age-set", "arguments": {"name": "pkt4-received", "duration": "x"}}"#,
                r#"{ "result": 1, "text": "Error during command processing: intValue() called on non-integer Element in (<wire>:0:91)" }"#,
            ),
            (
                r#"{"command": "statistic-sample-age-set", "arguments": {"name": "pkt4-received", "duration": -5}}"#,
                r#"{ "result": 1, "text": "'duration' parameter must be between 0 and 4294967295 seconds" }"#,
            ),
            (
                r#"{"command": "statistic-sample-age-set-all", "arguments": {}}"#,
                r#"{ "result": 1, "text": "Missing mandatory 'duration' parameter." }"#,
            ),
            (
                r#"{"command": "statistic-sample-count-set-all", "arguments": {"max-samples": 0}}"#,
                r#"{ "result": 1, "text": "'max-samples' parameter must not be zero" }"#,
            ),
            (
                r#"{"command": "statistic-sample-count-set-all"}"#,
                r#"{ "result": 1, "text": "Missing mandatory 'max-samples' parameter." }"#,
            ),
        ] {
            assert_eq!(w.call(request), answer, "{request}");
        }
        // -all changes every statistic and the default for ones created later.
        assert_eq!(
            w.call(
                r#"{"command": "statistic-sample-count-set-all", "arguments": {"max-samples": 1}}"#
            ),
            r#"{ "result": 0, "text": "All statistics count limit are set." }"#
        );
        add(w, "198.18.0.40", "02:00:00:00:00:40", "");
        assert_eq!(
            get(w, "subnet[1].assigned-addresses"),
            r#"{ "arguments": { "subnet[1].assigned-addresses": [ [ 1, "2026-11-28 09:16:23.000000" ] ] }, "result": 0 }"#
        );
        assert_eq!(
            w.call(
                r#"{"command": "statistic-sample-age-set-all", "arguments": {"duration": 100}}"#
            ),
            r#"{ "result": 0, "text": "All statistics duration limit are set." }"#
        );
        assert!(w.call(r#"{"command": "statistic-remove", "arguments": {"name": "subnet[2].assigned-addresses"}}"#).contains("removed."));
        add(w, "198.18.2.40", "02:00:00:00:00:41", "");
        add(w, "198.18.2.41", "02:00:00:00:00:42", "");
        assert_eq!(
            get(w, "subnet[2].assigned-addresses"),
            r#"{ "arguments": { "subnet[2].assigned-addresses": [ [ 2, "2026-11-28 09:16:23.000000" ], [ 1, "2026-11-28 09:16:23.000000" ] ] }, "result": 0 }"#
        );
        assert_eq!(
            w.stats
                .limit(crate::stats::StatName::parse("subnet[2].assigned-addresses").unwrap()),
            Some(crate::stats::SampleLimit::Age(100))
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-remove-all"}"#),
            r#"{ "result": 0, "text": "Warning: statistic-remove-all command is deprecated. All statistics removed." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "statistic-get-all"}"#),
            r#"{ "arguments": {  }, "result": 0 }"#
        );
    });
}

/// `statistic-default-sample-count` / `-age` in the config bound every statistic (Kea 2.2
/// applies them at configuration; with a count of 3 a subnet's `assigned-addresses` keeps
/// 3 samples).
#[test]
fn config_sample_defaults_bound_every_statistic() {
    use crate::stats::{SampleLimit, StatName};
    // The limit of `name` once CONFIG with `keys` added is configured (after `setup`).
    let limit_with = |keys: &str, name: &str, setup: &dyn Fn(&mut World<'_, '_, '_>)| {
        let text = CONFIG.replace(
            r#""valid-lifetime": 4000,"#,
            &format!(r#""valid-lifetime": 4000, {keys}"#),
        );
        with_world(&text, 16, |w| {
            setup(w);
            w.stats.limit(StatName::parse(name).unwrap())
        })
    };
    let count_2 = limit_with(
        r#""statistic-default-sample-count": 2,"#,
        "pkt4-received",
        &|w| {
            add_one_a_second(w, 0..4);
            let all = w.call(r#"{"command": "statistic-get", "arguments": {"name": "subnet[1].assigned-addresses"}}"#);
            assert!(
                all.contains(r#"[ [ 4, "#)
                    && all.contains(r#" ], [ 3, "#)
                    && !all.contains("[ 2, "),
                "{all}"
            );
        },
    );
    assert_eq!(count_2, Some(SampleLimit::Count(2)));
    let age = limit_with(
        r#""statistic-default-sample-count": 0, "statistic-default-sample-age": 60,"#,
        "subnet[2].total-addresses",
        &|_| {},
    );
    assert_eq!(age, Some(SampleLimit::Age(60)));
    // The age alone leaves Kea's count of 20 in force.
    let age_alone = limit_with(
        r#""statistic-default-sample-age": 60,"#,
        "pkt4-received",
        &|_| {},
    );
    assert_eq!(age_alone, Some(SampleLimit::Count(20)));
}

#[test]
fn subnet_read_commands() {
    with_world(CONFIG, 16, |w| {
        assert_eq!(
            w.call(r#"{"command": "subnet4-list"}"#),
            r#"{ "arguments": { "subnets": [ { "id": 1, "subnet": "198.18.0.0/24" }, { "id": 2, "subnet": "198.18.2.0/24" } ] }, "result": 0, "text": "2 IPv4 subnets found" }"#
        );
        assert_eq!(
            w.call(r#"{"command": "subnet4-get", "arguments": {"id": 2}}"#),
            r#"{ "arguments": { "subnets": [ { "id": 2, "subnet": "198.18.2.0/24", "valid-lifetime": 600, "pools": [ { "pool": "198.18.2.10 - 198.18.2.19" } ] } ] }, "result": 0, "text": "Info about IPv4 subnet 198.18.2.0/24 (id 2) returned" }"#
        );
        let by_prefix =
            w.call(r#"{"command": "subnet4-get", "arguments": {"subnet": "198.18.2.0/24"}}"#);
        assert!(by_prefix
            .ends_with(r#""text": "Info about IPv4 subnet 198.18.2.0/24 (id 2) returned" }"#));
        assert_eq!(
            w.call(r#"{"command": "subnet4-get", "arguments": {"id": 7}}"#),
            r#"{ "result": 3, "text": "No IPv4 subnet with id 7 found" }"#
        );
        let cfg = w.call(r#"{"command": "config-get"}"#);
        assert!(
            cfg.starts_with(r#"{ "arguments": { "Dhcp4": { "valid-lifetime": 4000, "#),
            "{cfg}"
        );
        assert!(cfg.ends_with(r#" } }, "result": 0 }"#));
        assert!(!cfg.contains("comment"));
    });
}

#[test]
fn reservation_read_commands() {
    with_world(CONFIG, 16, |w| {
        assert_eq!(
            w.call(r#"{"command": "reservation-get", "arguments": {"subnet-id": 1, "ip-address": "198.18.0.29"}}"#),
            r#"{ "arguments": { "boot-file-name": "", "client-classes": [  ], "hostname": "ubnt-ap1", "hw-address": "80:2a:a8:93:be:b8", "ip-address": "198.18.0.29", "next-server": "0.0.0.0", "option-data": [ { "name": "domain-name", "data": "ap.example" } ], "server-hostname": "" }, "result": 0, "text": "Host found." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "reservation-get", "arguments": {"subnet-id": 1, "identifier-type": "client-id", "identifier": "08:00:69:07:dc:e8"}}"#),
            r#"{ "arguments": { "boot-file-name": "/data/irix/fx.ARCS", "client-classes": [  ], "client-id": "08:00:69:07:dc:e8", "hostname": "", "ip-address": "198.18.0.205", "next-server": "0.0.0.0", "option-data": [  ], "server-hostname": "indigo2" }, "result": 0, "text": "Host found." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "reservation-get", "arguments": {"subnet-id": 2, "ip-address": "198.18.0.29"}}"#),
            r#"{ "result": 0, "text": "Host not found." }"#
        );
        assert_eq!(
            w.call(r#"{"command": "reservation-get", "arguments": {"ip-address": "198.18.0.29"}}"#),
            r#"{ "result": 1, "text": "Mandatory 'subnet-id' parameter missing." }"#
        );
        let all = w.call(r#"{"command": "reservation-get-all", "arguments": {"subnet-id": 1}}"#);
        assert!(
            all.ends_with(r#"] }, "result": 0, "text": "2 IPv4 host(s) found." }"#),
            "{all}"
        );
        let reply = Reply::Hosts {
            subnet_id: None,
            from: 0,
            count: 3,
            page_next: Some(3),
        };
        let whole = w.render(&reply, 1 << 16);
        assert_eq!(whole.matches("\"ip-address\"").count(), 3);
        for chunk in [1, 3, 50] {
            assert_eq!(w.render(&reply, chunk), whole, "chunk {chunk}");
        }
        let global = w.call(r#"{"command": "reservation-get-all", "arguments": {"subnet-id": 0}}"#);
        assert!(global.contains(r#""hostname": "global-host""#), "{global}");
        // Pages over every source host: 2 per page, `next.from` continues.
        let p1 = w.call(r#"{"command": "reservation-get-page", "arguments": {"limit": 2}}"#);
        assert!(
            p1.contains(r#""count": 2, "#) && p1.contains(r#""next": { "from": "#),
            "{p1}"
        );
        assert!(p1.contains(r#""subnet-id": "#), "{p1}");
        let next: u64 = p1
            .split(r#""next": { "from": "#)
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let p2 = w.call(&format!(
            r#"{{"command": "reservation-get-page", "arguments": {{"limit": 2, "from": {next}}}}}"#
        ));
        assert!(p2.contains(r#""count": 1, "#), "{p2}");
        let next: u64 = p2
            .split(r#""next": { "from": "#)
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let p3 = w.call(&format!(
            r#"{{"command": "reservation-get-page", "arguments": {{"limit": 2, "from": {next}}}}}"#
        ));
        assert!(
            p3.ends_with(r#""result": 3, "text": "0 IPv4 host(s) found." }"#),
            "{p3}"
        );
    });
}

/// The seed's `subnet4-add` (with its broken pool) and the corrected one, through the
/// action, the text splice and the real parser.
#[test]
fn subnet_changes_splice_and_reparse() {
    const SEED_ADD: &str = r#"{
 "command": "subnet4-add",
 "service": [ "dhcp4" ],
 "arguments": {
  "subnet4": [
   {
    "id": 3,
    "subnet": "198.18.100.0/24",
    "pools": [ { "pool": "192.168.100.20 - 192.168.100.250.254" } ],
    "option-data": [ { "name": "routers", "data": "198.18.100.1", "always-send": false } ]
   }
  ]
 }
}"#;
    with_world(CONFIG, 16, |w| {
        let Decision::Action(Action::SubnetAdd { id, subnet }) = w.decide(SEED_ADD) else {
            panic!("expected an action")
        };
        assert_eq!(id, 3);
        let mut out = vec![0u8; CONFIG.len() + subnet.text().len() + 32];
        let n = edit::add_subnet(CONFIG, subnet.text(), &mut out).unwrap();
        let new_text = std::str::from_utf8(&out[..n]).unwrap();
        let err = reparse(new_text).unwrap_err();
        assert!(err.contains("192.168.100.250.254"), "{err}");
        assert!(err.contains("is not an IPv4 address"), "{err}");

        let fixed = SEED_ADD.replace(
            "192.168.100.20 - 192.168.100.250.254",
            "198.18.100.20 - 198.18.100.250",
        );
        let Decision::Action(Action::SubnetAdd { subnet, .. }) = w.decide(&fixed) else {
            panic!()
        };
        let n = edit::add_subnet(CONFIG, subnet.text(), &mut out).unwrap();
        let added = String::from_utf8(out[..n].to_vec()).unwrap();
        assert_eq!(reparse(&added), Ok(3));

        // Update replaces the subnet with that id; delete removes it.
        let upd = r#"{"command": "subnet4-update", "arguments": {"subnet4": [ {"id": 2, "subnet": "198.18.3.0/24"} ]}}"#;
        let Decision::Action(Action::SubnetUpdate { id: 2, subnet }) = w.decide(upd) else {
            panic!()
        };
        let n = edit::replace_subnet(&added, 2, subnet.text(), &mut out).unwrap();
        let updated = String::from_utf8(out[..n].to_vec()).unwrap();
        assert_eq!(reparse(&updated), Ok(3));
        assert!(updated.contains(r#"{"id": 2, "subnet": "198.18.3.0/24"}"#));
        assert!(!updated.contains("198.18.2.0/24"));
        let Decision::Action(Action::SubnetDel { id: 2, prefix }) =
            w.decide(r#"{"command": "subnet4-del", "arguments": {"id": 2}}"#)
        else {
            panic!()
        };
        assert_eq!(prefix.len, 24);
        for (id, left) in [(1, 2), (2, 2), (3, 2)] {
            let n = edit::remove_subnet(&added, id, &mut out).unwrap();
            let removed = std::str::from_utf8(&out[..n]).unwrap();
            assert_eq!(reparse(removed), Ok(left), "removing {id}: {removed}");
            assert_eq!(edit::find_subnet(removed, id).unwrap(), None);
        }
        assert_eq!(
            edit::remove_subnet(CONFIG, 9, &mut out),
            Err(edit::EditError::SubnetNotFound(9))
        );
        // The answer the daemon sends after applying.
        let done = Reply::SubnetChanged {
            change: SubnetChange::Deleted,
            id: 2,
            prefix,
        };
        assert_eq!(
            w.render(&done, 4096),
            r#"{ "arguments": { "subnets": [ { "id": 2, "subnet": "198.18.2.0/24" } ] }, "result": 0, "text": "IPv4 subnet 198.18.2.0/24 (id 2) deleted" }"#
        );
        // Refusals decided in core.
        assert_eq!(
            w.call(r#"{"command": "subnet4-add", "arguments": {"subnet4": [ {"id": 1, "subnet": "198.18.7.0/24"} ]}}"#),
            r#"{ "result": 1, "text": "ID of the new IPv4 subnet '1' is already in use" }"#
        );
        let r = w.call(r#"{"command": "subnet4-add", "arguments": {"subnet4": [ {"id": 5, "subnet": "198.18.7.0/24", "reservations": []} ]}}"#);
        assert!(r.starts_with(r#"{ "result": 1, "#), "{r}");
        let r = w.call(r#"{"command": "subnet4-add", "arguments": {"subnet4": [ {"id": 5, "subnet": "198.18.7.0/24"}, {"id": 6, "subnet": "198.18.8.0/24"} ]}}"#);
        assert!(r.starts_with(r#"{ "result": 1, "#), "{r}");
        // A config without subnet4 gets the list.
        let bare = r#"{ "Dhcp4": { "valid-lifetime": 100 } }"#;
        let n =
            edit::add_subnet(bare, r#"{ "id": 1, "subnet": "198.18.0.0/24" }"#, &mut out).unwrap();
        assert_eq!(reparse(std::str::from_utf8(&out[..n]).unwrap()), Ok(1));
    });
}

#[test]
fn reservation_changes_splice_and_reparse() {
    with_world(CONFIG, 16, |w| {
        let req = r#"{"command": "reservation-add", "arguments": {"reservation": {"subnet-id": 2, "hw-address": "1a:1b:1c:1d:1e:1f", "ip-address": "198.18.2.100", "hostname": "new"}}}"#;
        let Decision::Action(Action::ReservationAdd {
            subnet_id: 2,
            reservation,
        }) = w.decide(req)
        else {
            panic!()
        };
        let mut out = vec![0u8; CONFIG.len() + 256];
        let n = edit::add_reservation(CONFIG, 2, reservation, &mut out).unwrap();
        let text = std::str::from_utf8(&out[..n]).unwrap();
        assert!(text.contains(r#""reservations": [ { "hw-address": "1a:1b:1c:1d:1e:1f", "ip-address": "198.18.2.100", "hostname": "new" } ]"#), "{text}");
        assert_eq!(reparse(text), Ok(2));
        assert_eq!(
            w.call(r#"{"command": "reservation-add", "arguments": {"reservation": {"hw-address": "1a:1b:1c:1d:1e:1f"}}}"#),
            r#"{ "result": 1, "text": "Mandatory 'subnet-id' parameter missing." }"#
        );
        let Decision::Action(Action::ReservationDel { subnet_id: 1, position }) = w.decide(
            r#"{"command": "reservation-del", "arguments": {"subnet-id": 1, "identifier-type": "client-id", "identifier": "08:00:69:07:dc:e8"}}"#,
        ) else {
            panic!()
        };
        assert_eq!(position, 1);
        let n = edit::remove_reservation(CONFIG, 1, position, &mut out).unwrap();
        let text = std::str::from_utf8(&out[..n]).unwrap();
        assert!(!text.contains("indigo2") && text.contains("ubnt-ap1"));
        assert_eq!(reparse(text), Ok(2));
        assert_eq!(
            w.call(r#"{"command": "reservation-del", "arguments": {"subnet-id": 1, "ip-address": "198.18.0.77"}}"#),
            r#"{ "result": 1, "text": "Host not deleted (not found)." }"#
        );
    });
}

#[test]
fn config_actions_and_pretty_file() {
    with_world(CONFIG, 16, |w| {
        assert_eq!(
            w.call(r#"{ "command": "config-write", "arguments": { "filename": "/etc/kea/kea-dhcp4.conf" }, "service": [ "dhcp4" ] }"#),
            r#"ACTION ConfigWrite { filename: Some(JsonStr("/etc/kea/kea-dhcp4.conf")) }"#
        );
        assert_eq!(
            w.call(r#"{"command": "config-write"}"#),
            "ACTION ConfigWrite { filename: None }"
        );
        assert_eq!(
            w.call(r#"{"command": "config-set", "arguments": {}}"#),
            r#"{ "result": 1, "text": "Missing mandatory 'Dhcp4' parameter." }"#
        );
        assert!(w
            .call(r#"{"command": "config-test", "arguments": {"Dhcp4": {}}}"#)
            .starts_with("ACTION ConfigTest"));
        assert_eq!(
            w.call(r#"{"command": "shutdown", "arguments": {"exit-value": 3}}"#),
            "ACTION Shutdown { exit_value: 3 }"
        );
        assert_eq!(
            w.call(r#"{"command": "config-reload"}"#),
            "ACTION ConfigReload"
        );
        assert_eq!(
            w.render(&Reply::status(RESULT_BAD_REQUEST, "Bad Request"), 64),
            r#"{ "result": 400, "text": "Bad Request" }"#
        );
        let written = Reply::ConfigWritten {
            filename: text(format_args!("/etc/kea/kea-dhcp4.conf")),
            size: 1234,
        };
        assert_eq!(
            w.render(&written, 4096),
            r#"{ "arguments": { "filename": "/etc/kea/kea-dhcp4.conf", "size": 1234 }, "result": 0, "text": "Configuration written to /etc/kea/kea-dhcp4.conf successful" }"#
        );
        // config-write's file: pretty, no comments, no trailing commas, parses the same.
        let mut out = vec![0u8; 4 * CONFIG.len()];
        let n = edit::pretty(CONFIG, &mut out).unwrap();
        let pretty = std::str::from_utf8(&out[..n]).unwrap();
        assert!(
            pretty.starts_with("{\n  \"Dhcp4\": {\n    \"valid-lifetime\": 4000,\n"),
            "{pretty}"
        );
        assert!(!pretty.contains("comment") && !pretty.contains(",\n      }"));
        assert_eq!(reparse(pretty), Ok(2));
        assert!(pretty.contains("\"pools\": [\n          {\n            \"pool\": \"198.18.2.10 - 198.18.2.19\"\n          }\n        ]"), "{pretty}");
        let mut small = [0u8; 10];
        assert_eq!(
            edit::pretty(CONFIG, &mut small),
            Err(edit::EditError::BufferFull)
        );
        // A bare Dhcp4 map is written wrapped.
        let n = edit::pretty(r#"{ "valid-lifetime": 5, "subnet4": [] }"#, &mut out).unwrap();
        assert_eq!(
            std::str::from_utf8(&out[..n]).unwrap(),
            "{\n  \"Dhcp4\": {\n    \"valid-lifetime\": 5,\n    \"subnet4\": [ ]\n  }\n}\n"
        );
    });
}

#[test]
fn seed_config_answers() {
    let seed = include_str!("../../tests/fixtures/seed-kea-dhcp4.conf");
    with_world(seed, 16, |w| {
        let list = w.call(r#"{"command": "subnet4-list"}"#);
        assert_eq!(
            list,
            r#"{ "arguments": { "subnets": [ { "id": 1, "subnet": "192.168.1.0/24" } ] }, "result": 0, "text": "1 IPv4 subnets found" }"#
        );
        let host = w.call(r#"{"command": "reservation-get", "arguments": {"subnet-id": 1, "ip-address": "192.168.1.206"}}"#);
        assert_eq!(
            host,
            r#"{ "arguments": { "boot-file-name": "/data/irix/i/30/disc1/stand/fx.64", "client-classes": [  ], "client-id": "08:00:69:12:5d:cd", "hostname": "", "ip-address": "192.168.1.206", "next-server": "0.0.0.0", "option-data": [  ], "server-hostname": "octane" }, "result": 0, "text": "Host found." }"#
        );
        let all = w.call(r#"{"command": "reservation-get-all", "arguments": {"subnet-id": 1}}"#);
        assert!(
            all.ends_with(r#""text": "13 IPv4 host(s) found." }"#),
            "{all}"
        );
        let mut out = vec![0u8; 4 * seed.len()];
        let n = edit::pretty(seed, &mut out).unwrap();
        assert_eq!(reparse(std::str::from_utf8(&out[..n]).unwrap()), Ok(1));
    });
}

/// 100,000 leases in a /15: `lease4-get-all` streams in 64 KiB chunks, each chunk costs
/// about its own size (resumption at the cut lease), and the pieces equal the whole.
#[test]
fn lease4_get_all_over_100000_leases_in_chunks() {
    const BIG: &str = r#"{ "Dhcp4": { "valid-lifetime": 4000, "subnet4": [ { "id": 1, "subnet": "198.18.0.0/15", "pools": [ { "pool": "198.18.0.1 - 198.19.255.254" } ] } ] } }"#;
    with_world(BIG, 100_000, |w| {
        for i in 0..100_000u32 {
            let addr = Ipv4Addr::from_bits(Ipv4Addr::new(198, 18, 0, 1).to_bits() + i);
            let hw = i.to_be_bytes();
            let hwaddr = [2, 0, hw[0], hw[1], hw[2], hw[3]];
            w.leases
                .upsert(&LeaseRecord {
                    address: addr,
                    hwaddr: &hwaddr,
                    client_id: &[],
                    valid_lifetime: 4000,
                    cltt: NOW,
                    subnet_id: 1,
                    fqdn_fwd: false,
                    fqdn_rev: false,
                    hostname: "",
                    state: crate::lease::LeaseState::Default,
                    user_context: "",
                })
                .unwrap();
        }
        let reply = match w.decide(r#"{"command": "lease4-get-all"}"#) {
            Decision::Reply(r) => r,
            Decision::Action(_) => unreachable!(),
        };
        let whole = w.render(&reply, 64 << 20);
        assert!(whole.ends_with(r#""result": 0, "text": "100000 IPv4 lease(s) found." }"#));
        assert_eq!(whole.matches("\"ip-address\"").count(), 100_000);
        let chunked = w.render(&reply, 64 << 10);
        assert_eq!(chunked.len(), whole.len());
        assert!(chunked == whole);
        // A small fixed buffer fails cleanly rather than panicking.
        let mut small = [0u8; 16];
        let view = View {
            config: w.config,
            config_text: w.text,
            leases: &w.leases,
            stats: &w.stats,
            info: w.info,
            lease_order: &[],
        };
        let c = render(&reply, &view, Cursor::default(), &mut small);
        assert_eq!((c.len, c.done), (16, false));
    });
}

/// Mutated requests (bytes flipped, cut, duplicated) never panic: every one is answered
/// with a complete JSON object, through chunked rendering into small buffers.
#[test]
fn mutated_requests_are_answered_not_panicked() {
    let seeds = [
        r#"{"command": "lease4-add", "arguments": {"ip-address": "198.18.0.150", "hw-address": "1a:1b:1c:1d:1e:1f", "client-id": "01:02", "hostname": "h", "user-context": {"a": [1, {"b": null}]}}}"#,
        r#"{"command": "lease4-get-page", "arguments": {"from": "start", "limit": 3}}"#,
        r#"{"command": "lease4-get-all", "arguments": {"subnets": [1, 2]}}"#,
        r#"{"command": "lease4-del", "arguments": {"identifier-type": "hw-address", "identifier": "1a:1b:1c:1d:1e:1f", "subnet-id": 1}}"#,
        r#"{"command": "statistic-get", "arguments": {"name": "subnet[1].total-addresses"}}"#,
        r#"{"command": "reservation-get", "arguments": {"subnet-id": 1, "identifier-type": "client-id", "identifier": "08:00:69:07:dc:e8"}}"#,
        r#"{"command": "subnet4-add", "arguments": {"subnet4": [ {"id": 7, "subnet": "198.18.7.0/24"} ]}}"#,
        r#"{"command": "stat-lease4-get", "arguments": {"subnet-range": {"first-subnet-id": 1, "last-subnet-id": 2}}}"#,
    ];
    with_world(CONFIG, 32, |w| {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..3000 {
            let seed = seeds[round % seeds.len()].as_bytes();
            let mut bytes = seed.to_vec();
            for _ in 0..1 + rand() % 4 {
                if bytes.is_empty() {
                    break;
                }
                let i = (rand() as usize) % bytes.len();
                match rand() % 4 {
                    0 => bytes[i] = (rand() & 0x7f) as u8,
                    1 => bytes.truncate(i),
                    2 => {
                        let set = b"{}[],:\"\\0-";
                        bytes.insert(i.min(bytes.len()), set[(rand() as usize) % set.len()]);
                    }
                    _ => {
                        let j = (rand() as usize) % bytes.len().max(1);
                        if i < j {
                            let copy = bytes[i..j].to_vec();
                            bytes.splice(i..i, copy);
                        }
                    }
                }
            }
            let reply = match parse_request_bytes(&bytes) {
                Err(e) => Reply::from_request_error(&e),
                Ok(req) => {
                    let mut env = Env {
                        config: w.config,
                        config_text: w.text,
                        leases: &mut w.leases,
                        stats: &mut w.stats,
                        now: w.now,
                    };
                    match execute(&req, &mut env, &mut w.sink) {
                        Decision::Reply(r) => r,
                        Decision::Action(_) => continue,
                    }
                }
            };
            let text = w.render(&reply, 1 + (rand() as usize) % 40);
            assert!(text.starts_with("{ ") && text.ends_with(" }"), "{text}");
            assert!(
                crate::control::json_in::parse_document(&text).is_ok(),
                "{text}"
            );
        }
    });
}

#[test]
fn config_get_redacts_secrets_and_keeps_the_rest() {
    let text = r#"{ "Dhcp4": {
      "control-sockets": [ { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8080,
        "authentication": { "type": "basic", "realm": "r", "clients": [
          { "user": "admin", "password": "1234" },
          { "user": "ops", "password-file": "/etc/wren/ops.pw" } ] } } ],
      "subnet4": [ { "id": 1, "subnet": "198.18.0.0/24" } ]
    } }"#;
    with_world(text, 4, |w| {
        let cfg = w.call(r#"{"command": "config-get"}"#);
        assert!(
            cfg.contains(r#"{ "user": "admin", "password": "*****" }"#),
            "{cfg}"
        );
        assert!(!cfg.contains("1234"), "{cfg}");
        assert!(
            cfg.contains(r#""password-file": "/etc/wren/ops.pw""#),
            "{cfg}"
        );
        assert!(cfg.contains(r#""realm": "r""#), "{cfg}");
    });
}
