#![allow(clippy::indexing_slicing, clippy::unwrap_used)] // test code: a panic here is a test failure
//! `hooks-libraries` (issue 5 point 4): the five hook libraries wren has built in
//! (`libdhcp_lease_cmds.so`, `libdhcp_stat_cmds.so`, `libdhcp_subnet_cmds.so`,
//! `libdhcp_host_cmds.so`, `libdhcp_ha.so`) are recognised by file name in any directory
//! (`wrend -t` accepts them, HA with its `parameters`; the lease, subnet, host and statistic
//! commands answer on a started server with the four command hooks); any other
//! library is a clear error naming the file, line, column, key and library, both for `-t`
//! and at start. Kea 2.2 runs the same `-t` as the reference where it can: it accepts the
//! Debian hook paths, and (the documented divergence) also accepts a library wren does not
//! implement, such as `libdhcp_flex_option.so`, because it loads the shared object.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;
use wren_tests::netns::Netns;
use wren_tests::server::{check_config, render, Server, ServerKind, BASIC_CONFIG};
use wren_tests::{require_root, wait_for, TestDir};

const DEBIAN_HOOKS: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks";
const BUILT_IN: [&str; 4] = [
    "libdhcp_lease_cmds.so",
    "libdhcp_stat_cmds.so",
    "libdhcp_subnet_cmds.so",
    "libdhcp_host_cmds.so",
];

/// BASIC_CONFIG with `hooks` (JSON list items) as its hooks-libraries.
fn with_hooks(hooks: &[String], iface: &str, dir: &Path) -> String {
    let text = BASIC_CONFIG.replace(
        "\"authoritative\": true,",
        &format!(
            "\"authoritative\": true,\n    \"hooks-libraries\": [\n      {}\n    ],",
            hooks.join(",\n      ")
        ),
    );
    render(&text, iface, dir)
}

fn library(path: &str) -> String {
    format!("{{ \"library\": \"{path}\" }}")
}

fn command(socket: &Path, json: &str) -> String {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(json.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

#[test]
fn builtin_hooks_by_file_name_and_unknown_hooks_rejected() {
    require_root();
    let dir = TestDir::new("control-hooks");
    let ns = Netns::create("hk");
    let iface = "lo";

    // The Debian paths Kea loads, and a directory that does not exist (wren loads nothing).
    for base in [DEBIAN_HOOKS, "/nonexistent/kea/hooks", "relative/dir"] {
        let mut hooks: Vec<String> = BUILT_IN
            .iter()
            .map(|l| library(&format!("{base}/{l}")))
            .collect();
        hooks.push(format!(
            r#"{{ "library": "{base}/libdhcp_ha.so", "parameters": {{ "high-availability": [ {{
          "this-server-name": "infra-1", "mode": "load-balancing",
          "peers": [ {{ "name": "infra-1", "role": "primary", "url": "http://198.18.0.2:8080/" }},
                     {{ "name": "infra-2", "role": "secondary", "url": "http://198.18.0.3:8080/" }} ] }} ] }} }}"#
        ));
        let conf = dir.join("builtin.conf");
        std::fs::write(&conf, with_hooks(&hooks, iface, dir.path())).unwrap();
        let ours = check_config(ServerKind::Wrend, &ns, &conf, dir.path());
        assert!(
            ours.success(),
            "wrend -t with built-in hooks under {base}: {}",
            ours.combined()
        );
    }
    // Kea 2.2 accepts the Debian paths of the two free libraries it ships among these.
    let kea_hooks: Vec<String> = ["libdhcp_lease_cmds.so", "libdhcp_stat_cmds.so"]
        .iter()
        .map(|l| library(&format!("{DEBIAN_HOOKS}/{l}")))
        .collect();
    let conf = dir.join("kea.conf");
    std::fs::write(&conf, with_hooks(&kea_hooks, iface, dir.path())).unwrap();
    let kea = check_config(ServerKind::Kea, &ns, &conf, dir.path());
    assert!(kea.success(), "kea-dhcp4 -t: {}", kea.combined());

    // An unknown library: -t names file, line, column, key and library; Kea (which loads
    // the .so) accepts it — wren cannot run what it does not implement.
    let unknown = format!("{DEBIAN_HOOKS}/libdhcp_flex_option.so");
    let hooks = vec![
        library(&format!("{DEBIAN_HOOKS}/libdhcp_lease_cmds.so")),
        library(&unknown),
    ];
    let conf = dir.join("unknown.conf");
    let text = with_hooks(&hooks, iface, dir.path());
    std::fs::write(&conf, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("libdhcp_flex_option.so"))
        .unwrap()
        + 1;
    let ours = check_config(ServerKind::Wrend, &ns, &conf, dir.path());
    let out = ours.combined();
    assert_eq!(ours.code(), Some(1), "{out}");
    assert!(
        out.contains(&format!("{}:{line}:", conf.display()))
            && out.contains("Dhcp4.hooks-libraries[1].library")
            && out.contains("hooks library \"libdhcp_flex_option.so\" is not built into wren"),
        "wrend -t with an unknown hook: {out}"
    );
    let kea = check_config(ServerKind::Kea, &ns, &conf, dir.path());
    assert!(
        kea.success(),
        "Kea 2.2 loads libdhcp_flex_option.so: {}",
        kea.combined()
    );

    // At start: refused with the same message.
    let out =
        wren_tests::server::run_wrend_to_exit(&ns, dir.path(), &conf, Duration::from_secs(15));
    let status = out
        .status
        .unwrap_or_else(|| panic!("wrend started with an unknown hook library"));
    let text = out.combined();
    assert!(!status.success());
    assert!(text.contains("libdhcp_flex_option.so"), "{text}");
}

#[test]
fn a_server_with_all_builtin_hooks_answers_their_commands() {
    require_root();
    let dir = TestDir::new("control-hooks-run");
    let net = wren_tests::netns::NetPair::basic();
    let hooks: Vec<String> = BUILT_IN
        .iter()
        .map(|l| library(&format!("/usr/local/lib/kea/hooks/{l}")))
        .collect();
    let server = Server::start(
        ServerKind::Wrend,
        &net.server,
        dir.path(),
        &with_hooks(&hooks, &net.server_if, dir.path()),
    );
    let sock = dir.join("ctrl.sock");
    assert!(
        wait_for(Duration::from_secs(5), || sock.exists().then_some(())).is_some(),
        "no control socket"
    );
    let a = command(&sock, r#"{ "command": "list-commands" }"#);
    for cmd in [
        "\"lease4-get-all\"",
        "\"subnet4-list\"",
        "\"reservation-get-all\"",
        "\"statistic-get-all\"",
    ] {
        assert!(a.contains(cmd), "list-commands lacks {cmd}: {a}");
    }
    let a = command(&sock, r#"{ "command": "subnet4-list" }"#);
    assert!(
        a.contains("\"result\": 0") && a.contains("198.18.0.0/24"),
        "{a}"
    );
    server.assert_no_panic();
}
