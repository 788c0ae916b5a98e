#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! The founding user's control-API workflow (/work/shared/seed, "Using Kea's API"), run
//! against wrend unchanged but for the address (`infra-1:8080` → `127.0.0.1:8080`, the
//! listener inside the server's namespace):
//! - their curl commands, piped to `jq` as they do: `config-get`, `lease4-get-all` (after
//!   relayed perfdhcp clients got leases);
//! - their `subnet4-add` verbatim, with its typo'd pool `192.168.100.20 - 192.168.100.250.254`:
//!   a clear error naming the pool, nothing changes (the text is parsed, never served);
//! - the same command corrected, in test addresses (198.18.100.0/24): it serves at once (a
//!   perfdhcp relay at 198.18.100.2 gets leases from the new pool) and, with
//!   `wren-auto-persist`, survives a restart;
//! - their `config-write` and their Python `write_config`/`write_configs` script (with
//!   `requests`): it writes `/etc/kea/backups/kea-dhcp4-<date>.json` and
//!   `/etc/kea/kea-dhcp4.json`. `/etc/kea` is this test's directory, bind-mounted by
//!   `ip netns exec` from `/etc/netns/<ns>/kea` (a symlink created and removed here), so
//!   the script's absolute paths work without touching the machine's /etc/kea.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use wren_tests::clients::parse_perfdhcp;
use wren_tests::netns::{NetPair, Netns, PairOptions};
use wren_tests::server::{render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_program, require_root, TestDir};

/// The seed's Python, verbatim (the blog post shows no imports; they are added before it,
/// and the call `write_configs(["127.0.0.1"])` after it).
const SEED_SCRIPT: &str = r#"def write_config(server, path):
    payload={ 
                "command": "config-write",
                "arguments": {
                    "filename": path
                },
                "service": [ "dhcp4" ]
            }
    response = requests.post(str("http://") + server + str(":8080"), json=payload)
    response.raise_for_status()
    return response.json()[0]
    
def write_configs(servers):
    for server in servers:
        try:
            result = write_config(server, "/etc/kea/backups/kea-dhcp4-" + str(datetime.datetime.now()).replace(" ", "_") + ".json" )
            if result['result'] == 0:
                print(f"\nConfig written successfully")
            elif result['result'] == 3:
                print(f"\nConfig write was empty")
            elif result['result'] == 1 :
                print(f"\nConfig was unsucessful")
            else:
                print(f"\nUnknown result for config-write: {result}")
            
            result = write_config(server, "/etc/kea/kea-dhcp4.json")
            if result['result'] == 0:
                print(f"\nConfig written successfully")
            elif result['result'] == 3:
                print(f"\nConfig write was empty")
            elif result['result'] == 1 :
                print(f"\nConfig was unsucessful")
            else:
                print(f"\nUnknown result for config-write: {result}")
        except Exception as e:
            print(f"\nFailed to write config on {server}: "+str(e))
"#;

/// The seed's `subnet4-add`, verbatim (its pool has a typo; parsed only, never served).
const SEED_SUBNET4_ADD: &str = r#"{
 "command": "subnet4-add",
 "service": [
  "dhcp4"
 ],
 "arguments": {
  "subnet4": [
   {
    "id": 2,
    "subnet": "192.168.100.0/24",
    "pools": [
     {
       "pool": "192.168.100.20 - 192.168.100.250.254"
     }
    ],
    "option-data": [
     {
      "name": "routers",
      "data": "192.168.100.1",
      "always-send": false
     },
     {
      "name": "domain-name",
      "data": "enterprise.michaelc.dev",
      "always-send": false
     },
     {
      "name": "domain-search",
      "data": "enterprise.michaelc.dev",
      "always-send": false
     },
     {
      "name": "domain-name-servers",
      "data": "192.168.100.10, 192.168.100.11, 192.168.100.12",
      "always-send": false
     }
    ]
   }
  ]
 }
}"#;

/// The seed's `config-write`, verbatim.
const SEED_CONFIG_WRITE: &str = r#"{ 
    "command": "config-write",
    "arguments": {
        "filename": "/etc/kea/kea-dhcp4.conf"
    },
    "service": [ "dhcp4" ]
}"#;

/// `/etc/netns/<ns>/kea` → the test directory, removed on drop.
struct EtcKea {
    root: PathBuf,
}

impl EtcKea {
    fn new(ns: &Netns, dir: &Path) -> EtcKea {
        assert!(
            Path::new("/etc/kea").is_dir(),
            "/etc/kea is missing (installed with kea-common): `ip netns exec` needs it to bind-mount the test's /etc/kea"
        );
        let root = PathBuf::from(format!("/etc/netns/{}", ns.name()));
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(dir, root.join("kea")).unwrap();
        EtcKea { root }
    }
}

impl Drop for EtcKea {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.root.join("kea"));
        let _ = std::fs::remove_dir(&self.root);
        // /etc/netns itself, if this left it empty (ip-netns creates it on demand too).
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// Runs `script` with `sh -c` in `ns`; returns stdout (asserting success).
fn sh(ns: &Netns, script: &str) -> String {
    let out = ns
        .command("/bin/sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The seed's curl line for `json`, with the address changed, piped to jq as they do.
fn seed_curl(ns: &Netns, json: &str) -> String {
    let escaped = json.replace('\'', r"'\''");
    sh(
        ns,
        &format!(
            "curl -s --max-time 10 -X POST -H \"Content-Type: application/json\" -d '{escaped}' 127.0.0.1:8080 | jq"
        ),
    )
}

/// jq's pretty output with the whitespace removed, for `contains`.
fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// perfdhcp as a relay agent with giaddr `relay` (an address of the client namespace):
/// the addresses it got ACKed.
fn relayed_leases(
    net: &NetPair,
    dir: &TestDir,
    relay: &str,
    clients: u32,
    mac: &str,
) -> BTreeSet<Ipv4Addr> {
    let out = net
        .client
        .command("/usr/sbin/perfdhcp")
        .args(["-4", "-l", relay, "-r", "10", "-R"])
        .arg(clients.to_string())
        // perfdhcp stops once it has started -n exchanges, possibly before the last one
        // completes: a few more exchanges (same MACs, same addresses) make it complete all.
        .arg("-n")
        .arg((clients * 3).to_string())
        .args(["-p", "8", "-W", "1000000", "-x", "le", "-b"])
        .arg(format!("mac={mac}"))
        .arg(net.server_ip.to_string())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = parse_perfdhcp(&String::from_utf8_lossy(&out.stdout));
    report.acked.into_iter().collect()
}

fn wait_http(ns: &Netns) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seed_curl(ns, r#"{ "command": "version-get" }"#).contains("\"result\"") {
        assert!(Instant::now() < deadline, "the control API did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn seed_api_workflow_unchanged_but_for_the_address() {
    require_root();
    require_program("/usr/bin/curl", "curl");
    require_program("/usr/bin/jq", "jq");
    require_program("/usr/bin/python3", "python3-requests");
    require_program("/usr/sbin/perfdhcp", "kea-admin");
    let dir = TestDir::new("control-seed");
    let net = NetPair::new(&PairOptions {
        client_cidr: Some("198.18.0.2/24".into()),
        ..Default::default()
    });
    // A second relay address for the subnet the seed's command adds (in test addresses).
    net.client
        .ip(&["addr", "add", "198.18.100.2/24", "dev", &net.client_if]);
    net.server
        .ip(&["route", "add", "198.18.100.0/24", "via", "198.18.0.2"]);
    let _etc = EtcKea::new(&net.server, dir.path());
    std::fs::create_dir_all(dir.join("backups")).unwrap();

    let text = BASIC_CONFIG.replace(
        r#""control-socket": { "socket-type": "unix", "socket-name": "@DIR@/ctrl.sock" },"#,
        r#""control-sockets": [ { "socket-type": "http", "socket-address": "127.0.0.1", "socket-port": 8080,
                               "wren-auto-persist": true } ],"#,
    );
    assert!(text.contains("control-sockets"), "template changed");
    let mut server = Server::start(
        ServerKind::Wrend,
        &net.server,
        dir.path(),
        &render(&text, &net.server_if, dir.path()),
    );
    wait_http(&net.server);

    // Clients in subnet 1 (relayed from 198.18.0.2).
    let first = relayed_leases(&net, &dir, "198.18.0.2", 3, "02:00:5e:10:00:01");
    assert_eq!(first.len(), 3, "three leases in subnet 1: {first:?}");

    // Fetch Config.
    let a = squeeze(&seed_curl(
        &net.server,
        r#"{ "command": "config-get", "service": [ "dhcp4" ] }"#,
    ));
    assert!(
        a.starts_with("[{") && a.contains("\"result\":0") && a.contains("\"Dhcp4\":{"),
        "config-get: {a}"
    );
    assert!(a.contains("\"198.18.0.0/24\""), "config-get: {a}");

    // Leases.
    let a = squeeze(&seed_curl(
        &net.server,
        r#"{ "command": "lease4-get-all",  "service": [ "dhcp4" ] }"#,
    ));
    for ip in &first {
        assert!(
            a.contains(&format!("\"ip-address\":\"{ip}\"")),
            "lease4-get-all lacks {ip}: {a}"
        );
    }
    assert!(
        a.contains("\"text\":\"3IPv4lease(s)found.\"") && a.contains("\"result\":0"),
        "{a}"
    );

    // The seed's subnet4-add: a clear error naming the bad pool; nothing added.
    let a = seed_curl(&net.server, SEED_SUBNET4_ADD);
    eprintln!("seed subnet4-add: {a}");
    let s = squeeze(&a);
    assert!(
        s.contains("\"result\":1")
            && a.contains("pools[0].pool: invalid pool")
            && a.contains("\\\"192.168.100.250.254\\\" is not an IPv4 address")
            && !a.contains("server.conf"),
        "the seed's bad pool: {a}"
    );
    let a = squeeze(&seed_curl(
        &net.server,
        r#"{ "command": "subnet4-list", "service": [ "dhcp4" ] }"#,
    ));
    assert!(!a.contains("\"id\":2"), "the bad subnet was added: {a}");

    // Corrected (and in test addresses): added, and it serves at once.
    let good = SEED_SUBNET4_ADD
        .replace("192.168.100.250.254", "192.168.100.250")
        .replace("192.168.100.", "198.18.100.");
    assert!(!good.contains("192.168"));
    let a = squeeze(&seed_curl(&net.server, &good));
    assert!(
        a.contains("\"result\":0") && a.contains("IPv4subnetadded"),
        "corrected subnet4-add: {a}"
    );
    let second = relayed_leases(&net, &dir, "198.18.100.2", 3, "02:00:5e:10:01:01");
    assert_eq!(
        second.len(),
        3,
        "three leases in the new subnet: {second:?}"
    );
    for ip in &second {
        let o = ip.octets();
        assert!(
            o[..3] == [198, 18, 100] && (20..=250).contains(&o[3]),
            "{ip} is not from the added pool"
        );
    }

    // The seed's config-write (to /etc/kea/kea-dhcp4.conf).
    let a = squeeze(&seed_curl(&net.server, SEED_CONFIG_WRITE));
    assert!(
        a.contains("\"result\":0") && a.contains("\"filename\":\"/etc/kea/kea-dhcp4.conf\""),
        "seed config-write: {a}"
    );
    let written = std::fs::read_to_string(dir.join("kea-dhcp4.conf")).unwrap();
    assert!(written.contains("198.18.100.0/24"), "{written}");

    // The seed's Python script, twice (the second run replaces kea-dhcp4.json and keeps
    // the first as a backup).
    let program = format!(
        "import requests\nimport datetime\n\n{SEED_SCRIPT}\nwrite_configs([\"127.0.0.1\"])\n"
    );
    for run in 1..=2 {
        let out = net
            .server
            .command("/usr/bin/python3")
            .args(["-c", &program])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("seed script run {run}: {stdout:?}");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.matches("Config written successfully").count(),
            2,
            "run {run}: {stdout}"
        );
    }
    let backups: Vec<PathBuf> = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 2, "{backups:?}");
    for b in &backups {
        let name = b.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("kea-dhcp4-") && name.ends_with(".json"),
            "{name}"
        );
        let text = std::fs::read_to_string(b).unwrap();
        assert!(text.contains("\"Dhcp4\"") && text.contains("198.18.100.0/24"));
    }
    assert!(std::fs::read_to_string(dir.join("kea-dhcp4.json"))
        .unwrap()
        .contains("198.18.100.0/24"));
    let kept: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("kea-dhcp4.json.") && n.ends_with(".bak"))
        .collect();
    assert_eq!(kept.len(), 1, "the first kea-dhcp4.json kept: {kept:?}");

    // wren-auto-persist wrote the -c file: the subnet survives a restart and serves.
    server.restart(&net.server);
    wait_http(&net.server);
    let a = squeeze(&seed_curl(
        &net.server,
        r#"{ "command": "subnet4-get", "service": [ "dhcp4" ], "arguments": { "id": 2 } }"#,
    ));
    assert!(
        a.contains("\"result\":0") && a.contains("198.18.100.0/24"),
        "after restart: {a}"
    );
    let third = relayed_leases(&net, &dir, "198.18.100.2", 2, "02:00:5e:10:02:01");
    assert_eq!(
        third.len(),
        2,
        "leases from the added subnet after restart: {third:?}"
    );
    server.assert_no_panic();
}
