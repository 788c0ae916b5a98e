//! The `high-availability` hook parameters as Kea 2.2's `HAConfigParser` reads them
//! (kea-ha.md §2): defaults, ranges, the mode/role rules, IP-literal peer URLs.

use core::fmt;
use core::net::IpAddr;

use crate::control::json_in::{parse_document, Node, Value};

/// `mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaMode {
    /// `load-balancing`: each active server answers its hash bucket.
    LoadBalancing,
    /// `hot-standby`: the primary answers everything, the standby waits.
    HotStandby,
    /// `passive-backup`: the primary answers and copies leases to backups.
    PassiveBackup,
}

impl HaMode {
    /// Kea's name.
    pub const fn name(self) -> &'static str {
        match self {
            HaMode::LoadBalancing => "load-balancing",
            HaMode::HotStandby => "hot-standby",
            HaMode::PassiveBackup => "passive-backup",
        }
    }
}

/// A peer's `role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `primary`
    Primary,
    /// `secondary` (load-balancing)
    Secondary,
    /// `standby` (hot-standby)
    Standby,
    /// `backup`
    Backup,
}

impl Role {
    /// Kea's name.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Secondary => "secondary",
            Role::Standby => "standby",
            Role::Backup => "backup",
        }
    }
}

/// A key Kea 2.2 acts on that wren accepts but does not implement: each one present is
/// reported at start (a warning naming it), never silently dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoredKey {
    /// `trust-anchor` (relationship or peer): TLS between the peers.
    TrustAnchor,
    /// `cert-file` (relationship or peer).
    CertFile,
    /// `key-file` (relationship or peer).
    KeyFile,
    /// `require-client-certs`: client certificates on the TLS listener.
    RequireClientCerts,
    /// `restrict-commands`: the dedicated listener limited to the HA commands.
    RestrictCommands,
    /// `multi-threading`: HA threads and the dedicated listener.
    MultiThreading,
    /// An `https://` peer `url`.
    HttpsUrl,
}

impl IgnoredKey {
    /// Every ignored key, in bit order.
    pub const ALL: [IgnoredKey; 7] = [
        IgnoredKey::TrustAnchor,
        IgnoredKey::CertFile,
        IgnoredKey::KeyFile,
        IgnoredKey::RequireClientCerts,
        IgnoredKey::RestrictCommands,
        IgnoredKey::MultiThreading,
        IgnoredKey::HttpsUrl,
    ];

    /// The key as written in the config.
    pub const fn name(self) -> &'static str {
        match self {
            IgnoredKey::TrustAnchor => "trust-anchor",
            IgnoredKey::CertFile => "cert-file",
            IgnoredKey::KeyFile => "key-file",
            IgnoredKey::RequireClientCerts => "require-client-certs",
            IgnoredKey::RestrictCommands => "restrict-commands",
            IgnoredKey::MultiThreading => "multi-threading",
            IgnoredKey::HttpsUrl => "url",
        }
    }

    /// What wren does instead (for the warning).
    pub const fn consequence(self) -> &'static str {
        match self {
            IgnoredKey::TrustAnchor | IgnoredKey::CertFile | IgnoredKey::KeyFile => {
                "TLS between HA peers is not supported: wren sends and accepts HA commands over plain HTTP"
            }
            IgnoredKey::RequireClientCerts => {
                "applies to a TLS listener, which wren does not have: no client certificate is checked"
            }
            IgnoredKey::RestrictCommands => {
                "not implemented: wren's HA listener accepts every control command its authentication allows, not only the HA commands"
            }
            IgnoredKey::MultiThreading => {
                "wren is single-threaded: no HA threads; its HA listener always serves this peer's url itself (as Kea's http-dedicated-listener)"
            }
            IgnoredKey::HttpsUrl => {
                "https is not supported: wren speaks plain HTTP to and on HA peer urls"
            }
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }

    fn of_key(key: &str) -> Option<IgnoredKey> {
        IgnoredKey::ALL
            .iter()
            .copied()
            .find(|k| k.name() == key && !matches!(k, IgnoredKey::HttpsUrl))
    }
}

/// A set of [`IgnoredKey`]s (one bit each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IgnoredKeys(u8);

impl IgnoredKeys {
    /// No key.
    pub const NONE: IgnoredKeys = IgnoredKeys(0);

    fn insert(&mut self, k: IgnoredKey) {
        self.0 |= k.bit();
    }

    /// Whether `k` is in the set.
    pub fn contains(self, k: IgnoredKey) -> bool {
        self.0 & k.bit() != 0
    }

    /// The keys in the set.
    pub fn iter(self) -> impl Iterator<Item = IgnoredKey> {
        IgnoredKey::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

/// `state-machine.states[].pause`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pause {
    /// Never pause (default).
    #[default]
    Never,
    /// Pause the first time the state is entered.
    Once,
    /// Pause every time.
    Always,
}

/// One `peers[]` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer<'t> {
    /// `name` (also the scope name).
    pub name: &'t str,
    /// `url` as written.
    pub url: &'t str,
    /// The URL's host, an IP literal (Kea rejects names).
    pub address: IpAddr,
    /// The URL's port (80 / 443 if absent).
    pub port: u16,
    /// `https://`.
    pub tls: bool,
    /// `role`.
    pub role: Role,
    /// `auto-failover` (default true).
    pub auto_failover: bool,
    /// `basic-auth-user`.
    pub basic_auth_user: Option<&'t str>,
    /// `basic-auth-password`.
    pub basic_auth_password: Option<&'t str>,
    /// `basic-auth-password-file`: the daemon reads it (the core has no files).
    pub basic_auth_password_file: Option<&'t str>,
    /// TLS keys of this peer wren does not act on (and [`IgnoredKey::HttpsUrl`]).
    pub ignored: IgnoredKeys,
}

/// The number of HA states (index of [`super::state::HaState`]).
pub const STATE_COUNT: usize = 12;

/// The relationship's configuration. Times are milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HaConfig<'t, 'p> {
    /// `this-server-name`.
    pub this_server_name: &'t str,
    /// `mode`.
    pub mode: HaMode,
    /// `heartbeat-delay` (0 disables heartbeats).
    pub heartbeat_delay_ms: u32,
    /// `max-response-delay`.
    pub max_response_delay_ms: u32,
    /// `max-ack-delay`.
    pub max_ack_delay_ms: u32,
    /// `max-unacked-clients`.
    pub max_unacked_clients: u32,
    /// `delayed-updates-limit`.
    pub delayed_updates_limit: u32,
    /// `send-lease-updates`.
    pub send_lease_updates: bool,
    /// `sync-leases`.
    pub sync_leases: bool,
    /// `sync-timeout`.
    pub sync_timeout_ms: u32,
    /// `sync-page-limit`.
    pub sync_page_limit: u32,
    /// `wait-backup-ack`.
    pub wait_backup_ack: bool,
    /// Pause setting per state (indexed by [`super::state::HaState::index`]).
    pub pauses: [Pause; STATE_COUNT],
    /// `peers`, in config order.
    pub peers: &'p [Peer<'t>],
    /// Index of this server in `peers`.
    pub this_index: usize,
    /// Relationship-level keys wren does not act on.
    pub ignored: IgnoredKeys,
}

impl<'t> HaConfig<'t, '_> {
    /// This server.
    pub fn this(&self) -> Option<&Peer<'t>> {
        self.peers.get(self.this_index)
    }

    /// Every key present that wren accepts but does not act on, with the peer it belongs
    /// to (`None`: the relationship). The daemon warns about each at start.
    pub fn ignored_keys(&self) -> impl Iterator<Item = (Option<&Peer<'t>>, IgnoredKey)> + '_ {
        self.ignored.iter().map(|k| (None, k)).chain(
            self.peers
                .iter()
                .flat_map(|p| p.ignored.iter().map(move |k| (Some(p), k))),
        )
    }

    /// This server's role.
    pub fn this_role(&self) -> Role {
        self.this().map_or(Role::Backup, |p| p.role)
    }

    /// The active partner (the other non-backup peer), if any.
    pub fn partner(&self) -> Option<&Peer<'t>> {
        if self.this_role() == Role::Backup {
            return None;
        }
        self.peers
            .iter()
            .enumerate()
            .find(|(i, p)| *i != self.this_index && p.role != Role::Backup)
            .map(|(_, p)| p)
    }

    /// The backup peers other than this server, in config order (kea-ha.md §6: each gets
    /// every lease update; none exists for a backup itself to send to).
    pub fn backups(&self) -> impl Iterator<Item = &Peer<'t>> {
        let this = self.this_index;
        self.peers
            .iter()
            .enumerate()
            .filter(move |(i, p)| *i != this && p.role == Role::Backup)
            .map(|(_, p)| p)
    }

    /// The peer whose scope is index `i` (0 = primary, 1 = secondary/standby).
    pub fn scope_owner(&self, i: usize) -> Option<&Peer<'t>> {
        self.peers.iter().find(|p| match i {
            0 => p.role == Role::Primary,
            1 => matches!(p.role, Role::Secondary | Role::Standby),
            _ => false,
        })
    }
}

/// Why the parameters were rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaConfigError<'t> {
    /// Not JSON (or not a map).
    Syntax,
    /// `high-availability` missing or not a list.
    MissingHighAvailability,
    /// Kea 2.2 supports exactly one relationship.
    RelationshipCount(usize),
    /// A required key is absent.
    Missing(&'static str),
    /// A key Kea does not know.
    UnknownKey(&'t str),
    /// A value of the wrong JSON type.
    WrongType(&'static str),
    /// A number out of its range.
    OutOfRange(&'static str),
    /// Strings with JSON escapes are not accepted in HA names/URLs.
    EscapedString(&'static str),
    /// `mode` is not one of the three.
    BadMode(&'t str),
    /// `role` is not one of the four.
    BadRole(&'t str),
    /// `pause` is not never/once/always.
    BadPause(&'t str),
    /// A `state-machine` state name Kea does not know.
    BadStateName(&'t str),
    /// `url` is not `http(s)://<IP literal>[:port]/…`.
    BadUrl(&'t str),
    /// Two peers with one name.
    DuplicatePeer(&'t str),
    /// `this-server-name` names no peer.
    ThisServerNotAPeer(&'t str),
    /// The mode/role combination Kea rejects.
    Roles(&'static str),
    /// Both password and password file.
    PasswordAndFile(&'t str),
    /// `delayed-updates-limit` > 0 outside load-balancing.
    DelayedUpdatesNotLoadBalancing,
    /// `wait-backup-ack` outside passive-backup.
    WaitBackupAckNotPassiveBackup,
    /// More peers than the caller's slice holds.
    TooManyPeers,
}

impl fmt::Display for HaConfigError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HaConfigError::*;
        match self {
            Syntax => f.write_str("HA parameters are not a valid JSON map"),
            MissingHighAvailability => f.write_str("'high-availability' parameter not specified for High Availability hooks library"),
            RelationshipCount(n) => write!(f, "expected list of maps with exactly one element in 'high-availability', found {n}"),
            Missing(k) => write!(f, "'{k}' parameter is required"),
            UnknownKey(k) => write!(f, "unsupported parameter '{k}'"),
            WrongType(k) => write!(f, "invalid type of '{k}'"),
            OutOfRange(k) => write!(f, "'{k}' must not be greater than 65535"),
            EscapedString(k) => write!(f, "escape sequences are not supported in '{k}'"),
            BadMode(m) => write!(f, "unsupported value '{m}' for mode parameter"),
            BadRole(r) => write!(f, "unsupported value '{r}' for role parameter"),
            BadPause(p) => write!(f, "unsupported value {p} of 'pause' parameter"),
            BadStateName(s) => write!(f, "unknown state {s}"),
            BadUrl(u) => write!(f, "invalid URL '{u}': the host must be an IP address"),
            DuplicatePeer(n) => write!(f, "peer with name '{n}' already specified"),
            ThisServerNotAPeer(n) => write!(f, "'{n}' is not a name of any of the peers (this-server-name)"),
            Roles(t) => f.write_str(t),
            PasswordAndFile(n) => write!(f, "only one of basic-auth-password and basic-auth-password-file parameter can be configured in peer '{n}'"),
            DelayedUpdatesNotLoadBalancing => f.write_str("'delayed-updates-limit' must be set to 0 in the hot standby and passive backup configuration"),
            WaitBackupAckNotPassiveBackup => f.write_str("'wait-backup-ack' must be set to false in the hot standby and load balancing configurations"),
            TooManyPeers => f.write_str("more HA peers than storage"),
        }
    }
}

type R<'t, T> = Result<T, HaConfigError<'t>>;

fn plain<'t>(v: Value<'t>, key: &'static str) -> R<'t, &'t str> {
    match v {
        Value::Str(s) => s.plain().ok_or(HaConfigError::EscapedString(key)),
        _ => Err(HaConfigError::WrongType(key)),
    }
}

fn boolean<'t>(v: Value<'t>, key: &'static str) -> R<'t, bool> {
    match v {
        Value::Bool(b) => Ok(b),
        _ => Err(HaConfigError::WrongType(key)),
    }
}

fn uint<'t>(v: Value<'t>, key: &'static str, max: u64) -> R<'t, u32> {
    match v {
        Value::Int(i) => {
            let u = u64::try_from(i).map_err(|_| HaConfigError::OutOfRange(key))?;
            if u > max {
                return Err(HaConfigError::OutOfRange(key));
            }
            u32::try_from(u).map_err(|_| HaConfigError::OutOfRange(key))
        }
        _ => Err(HaConfigError::WrongType(key)),
    }
}

/// Parses `http://<ipv4>[:port]/path` or `http://[<ipv6>]:port/`.
pub fn parse_url(url: &str) -> Option<(IpAddr, u16, bool)> {
    let (rest, tls) = if let Some(r) = url.strip_prefix("http://") {
        (r, false)
    } else {
        (url.strip_prefix("https://")?, true)
    };
    let authority = rest.split('/').next()?;
    let default_port = if tls { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (IpAddr::V6(h.parse().ok()?), port)
    } else {
        let (h, port) = match authority.split_once(':') {
            Some((h, p)) => (h, p.parse().ok()?),
            None => (authority, default_port),
        };
        (IpAddr::V4(h.parse().ok()?), port)
    };
    Some((host, port, tls))
}

fn parse_peer<'t>(node: Node<'t>) -> R<'t, Peer<'t>> {
    let mut name = None;
    let mut url = None;
    let mut role = None;
    let mut peer_auto_failover = true;
    let (mut user, mut password, mut file) = (None, None, None);
    let mut ignored = IgnoredKeys::NONE;
    for (k, v, _) in node.entries() {
        let key = k.plain().ok_or(HaConfigError::EscapedString("peers"))?;
        match key {
            "name" => name = Some(plain(v, "name")?),
            "url" => url = Some(plain(v, "url")?),
            "role" => {
                let r = plain(v, "role")?;
                role = Some(match r {
                    "primary" => Role::Primary,
                    "secondary" => Role::Secondary,
                    "standby" => Role::Standby,
                    "backup" => Role::Backup,
                    _ => return Err(HaConfigError::BadRole(r)),
                });
            }
            "auto-failover" => peer_auto_failover = boolean(v, "auto-failover")?,
            "basic-auth-user" => user = Some(plain(v, "basic-auth-user")?),
            "basic-auth-password" => password = Some(plain(v, "basic-auth-password")?),
            "basic-auth-password-file" => file = Some(plain(v, "basic-auth-password-file")?),
            "trust-anchor" | "cert-file" | "key-file" => {
                if let Some(k) = IgnoredKey::of_key(key) {
                    ignored.insert(k);
                }
            }
            "user-context" | "comment" => {}
            other => return Err(HaConfigError::UnknownKey(other)),
        }
    }
    let name = name.ok_or(HaConfigError::Missing("name"))?;
    let url = url.ok_or(HaConfigError::Missing("url"))?;
    let role = role.ok_or(HaConfigError::Missing("role"))?;
    if password.is_some() && file.is_some() {
        return Err(HaConfigError::PasswordAndFile(name));
    }
    let (address, port, tls) = parse_url(url).ok_or(HaConfigError::BadUrl(url))?;
    if tls {
        ignored.insert(IgnoredKey::HttpsUrl);
    }
    Ok(Peer {
        name,
        url,
        address,
        port,
        tls,
        role,
        auto_failover: peer_auto_failover,
        basic_auth_user: user,
        basic_auth_password: password,
        basic_auth_password_file: file,
        ignored,
    })
}

fn state_index(name: &str) -> Option<usize> {
    super::state::HaState::ALL
        .iter()
        .position(|s| s.name() == name)
}

/// Parses the `parameters` JSON of the `libdhcp_ha.so` hook library
/// (`{"high-availability": [ { … } ]}`), storing the peers in `peers`.
pub fn parse_ha_parameters<'t, 'p>(
    parameters: &'t str,
    peers: &'p mut [Peer<'t>],
) -> Result<HaConfig<'t, 'p>, HaConfigError<'t>> {
    let Ok(Value::Map(top)) = parse_document(parameters) else {
        return Err(HaConfigError::Syntax);
    };
    let Some(Value::List(list)) = top.get("high-availability") else {
        return Err(HaConfigError::MissingHighAvailability);
    };
    let count = list.items().count();
    let (Some((Value::Map(rel), _)), 1) = (list.items().next(), count) else {
        return Err(HaConfigError::RelationshipCount(count));
    };
    let mut this_server_name = None;
    let mut mode = None;
    let mut c_heartbeat = 10_000;
    let mut c_response = 60_000;
    let mut c_ack = 10_000;
    let mut c_unacked = 10;
    let mut c_delayed = None;
    let mut c_send = true;
    let mut c_sync = true;
    let mut c_sync_timeout = 60_000;
    let mut c_page = 10_000;
    let mut c_wait = false;
    let mut pauses = [Pause::Never; STATE_COUNT];
    let mut peer_count = 0usize;
    let mut peers_node = None;
    let mut ignored = IgnoredKeys::NONE;
    for (k, v, _) in rel.entries() {
        let key = k
            .plain()
            .ok_or(HaConfigError::EscapedString("high-availability"))?;
        match key {
            "this-server-name" => this_server_name = Some(plain(v, "this-server-name")?),
            "mode" => {
                let m = plain(v, "mode")?;
                mode = Some(match m {
                    "load-balancing" => HaMode::LoadBalancing,
                    "hot-standby" => HaMode::HotStandby,
                    "passive-backup" => HaMode::PassiveBackup,
                    _ => return Err(HaConfigError::BadMode(m)),
                });
            }
            "heartbeat-delay" => c_heartbeat = uint(v, "heartbeat-delay", 65_535)?,
            "max-response-delay" => c_response = uint(v, "max-response-delay", 65_535)?,
            "max-ack-delay" => c_ack = uint(v, "max-ack-delay", 65_535)?,
            "max-unacked-clients" => c_unacked = uint(v, "max-unacked-clients", 65_535)?,
            "delayed-updates-limit" => c_delayed = Some(uint(v, "delayed-updates-limit", 65_535)?),
            "send-lease-updates" => c_send = boolean(v, "send-lease-updates")?,
            "sync-leases" => c_sync = boolean(v, "sync-leases")?,
            "sync-timeout" => c_sync_timeout = uint(v, "sync-timeout", u64::from(u32::MAX))?,
            "sync-page-limit" => c_page = uint(v, "sync-page-limit", u64::from(u32::MAX))?,
            "wait-backup-ack" => c_wait = boolean(v, "wait-backup-ack")?,
            "state-machine" => {
                let Value::Map(sm) = v else {
                    return Err(HaConfigError::WrongType("state-machine"));
                };
                for (sk, sv, _) in sm.entries() {
                    if !sk.eq_str("states") {
                        return Err(HaConfigError::UnknownKey(sk.0));
                    }
                    let Value::List(states) = sv else {
                        return Err(HaConfigError::WrongType("states"));
                    };
                    for (s, _) in states.items() {
                        let Value::Map(s) = s else {
                            return Err(HaConfigError::WrongType("states"));
                        };
                        let name = plain(
                            s.get("state").ok_or(HaConfigError::Missing("state"))?,
                            "state",
                        )?;
                        let idx = state_index(name).ok_or(HaConfigError::BadStateName(name))?;
                        let p = match s.get("pause") {
                            None => Pause::Never,
                            Some(p) => match plain(p, "pause")? {
                                "never" => Pause::Never,
                                "once" => Pause::Once,
                                "always" => Pause::Always,
                                other => return Err(HaConfigError::BadPause(other)),
                            },
                        };
                        if let Some(slot) = pauses.get_mut(idx) {
                            *slot = p;
                        }
                    }
                }
            }
            "peers" => {
                let Value::List(l) = v else {
                    return Err(HaConfigError::WrongType("peers"));
                };
                for (p, _) in l.items() {
                    let Value::Map(p) = p else {
                        return Err(HaConfigError::WrongType("peers"));
                    };
                    let peer = parse_peer(p)?;
                    if peers.iter().take(peer_count).any(|q| q.name == peer.name) {
                        return Err(HaConfigError::DuplicatePeer(peer.name));
                    }
                    let slot = peers
                        .get_mut(peer_count)
                        .ok_or(HaConfigError::TooManyPeers)?;
                    *slot = peer;
                    peer_count += 1;
                }
                peers_node = Some(l);
            }
            "trust-anchor"
            | "cert-file"
            | "key-file"
            | "require-client-certs"
            | "restrict-commands"
            | "multi-threading" => {
                if let Some(k) = IgnoredKey::of_key(key) {
                    ignored.insert(k);
                }
            }
            "user-context" | "comment" => {}
            other => return Err(HaConfigError::UnknownKey(other)),
        }
    }
    let this_server_name = this_server_name.ok_or(HaConfigError::Missing("this-server-name"))?;
    let mode = mode.ok_or(HaConfigError::Missing("mode"))?;
    peers_node.ok_or(HaConfigError::Missing("peers"))?;
    let peers: &'p [Peer<'t>] = peers.get(..peer_count).unwrap_or(&[]);
    let this_index = peers
        .iter()
        .position(|p| p.name == this_server_name)
        .ok_or(HaConfigError::ThisServerNotAPeer(this_server_name))?;
    let count = |r: Role| peers.iter().filter(|p| p.role == r).count();
    let (primaries, secondaries, standbys) = (
        count(Role::Primary),
        count(Role::Secondary),
        count(Role::Standby),
    );
    // Kea's HAConfig::validate role checks.
    match mode {
        HaMode::LoadBalancing => {
            if primaries != 1 {
                return Err(HaConfigError::Roles(
                    "primary server required in the load balancing configuration",
                ));
            }
            if secondaries != 1 {
                return Err(HaConfigError::Roles(
                    "secondary server required in the load balancing configuration",
                ));
            }
            if standbys != 0 {
                return Err(HaConfigError::Roles(
                    "standby servers not allowed in the load balancing configuration",
                ));
            }
        }
        HaMode::HotStandby => {
            if primaries != 1 {
                return Err(HaConfigError::Roles(
                    "primary server required in the hot standby configuration",
                ));
            }
            if standbys != 1 {
                return Err(HaConfigError::Roles(
                    "standby server required in the hot standby configuration",
                ));
            }
            if secondaries != 0 {
                return Err(HaConfigError::Roles(
                    "secondary servers not allowed in the hot standby configuration",
                ));
            }
        }
        HaMode::PassiveBackup => {
            if primaries != 1 {
                return Err(HaConfigError::Roles(
                    "primary server required in the passive backup configuration",
                ));
            }
            if secondaries + standbys != 0 {
                return Err(HaConfigError::Roles(
                    "secondary and standby servers not allowed in the passive backup configuration",
                ));
            }
        }
    }
    let delayed_updates_limit = match (c_delayed, mode) {
        (None, HaMode::LoadBalancing) => 100,
        (None, _) => 0,
        (Some(n), HaMode::LoadBalancing) => n,
        (Some(0), _) => 0,
        (Some(_), _) => return Err(HaConfigError::DelayedUpdatesNotLoadBalancing),
    };
    if c_wait && mode != HaMode::PassiveBackup {
        return Err(HaConfigError::WaitBackupAckNotPassiveBackup);
    }
    Ok(HaConfig {
        this_server_name,
        mode,
        heartbeat_delay_ms: c_heartbeat,
        max_response_delay_ms: c_response,
        max_ack_delay_ms: c_ack,
        max_unacked_clients: c_unacked,
        delayed_updates_limit,
        send_lease_updates: c_send,
        sync_leases: c_sync,
        sync_timeout_ms: c_sync_timeout,
        sync_page_limit: c_page,
        wait_backup_ack: c_wait,
        pauses,
        peers,
        this_index,
        ignored,
    })
}

/// An empty peer slot for the caller's storage.
pub const EMPTY_PEER: Peer<'static> = Peer {
    name: "",
    url: "",
    address: IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED),
    port: 0,
    tls: false,
    role: Role::Backup,
    auto_failover: true,
    basic_auth_user: None,
    basic_auth_password: None,
    basic_auth_password_file: None,
    ignored: IgnoredKeys::NONE,
};

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    /// The seed's HA parameters (compact, as `HookLibrary::parameters` keeps them).
    pub const SEED: &str = r#"{"high-availability":[{"heartbeat-delay":10000,"max-ack-delay":5000,"max-response-delay":60000,"max-unacked-clients":5,"mode":"load-balancing","peers":[{"auto-failover":true,"name":"infra-1","role":"primary","url":"http://192.168.1.2:8080/"},{"auto-failover":true,"name":"infra-2","role":"secondary","url":"http://192.168.1.3:8080/"}],"send-lease-updates":true,"sync-leases":true,"sync-page-limit":10000,"sync-timeout":60000,"this-server-name":"infra-1"}]}"#;

    #[test]
    fn seed_parameters() {
        let mut peers = [EMPTY_PEER; 4];
        let c = parse_ha_parameters(SEED, &mut peers).unwrap();
        assert_eq!(c.mode, HaMode::LoadBalancing);
        assert_eq!(c.this_server_name, "infra-1");
        assert_eq!(c.heartbeat_delay_ms, 10_000);
        assert_eq!(c.max_ack_delay_ms, 5_000);
        assert_eq!(c.max_unacked_clients, 5);
        assert_eq!(c.delayed_updates_limit, 100);
        assert_eq!(c.sync_page_limit, 10_000);
        assert_eq!(c.peers.len(), 2);
        assert_eq!(c.this_role(), Role::Primary);
        let p = c.partner().unwrap();
        assert_eq!(p.name, "infra-2");
        assert_eq!(p.address, IpAddr::V4(Ipv4Addr::new(192, 168, 1, 3)));
        assert_eq!(p.port, 8080);
        assert_eq!(c.scope_owner(1).unwrap().name, "infra-2");
    }

    #[test]
    fn seed_fixture_hook_parameters() {
        let fixture = include_str!("../../tests/fixtures/seed-kea-dhcp4.conf");
        let start = fixture.find("\"parameters\"").unwrap();
        let rest = &fixture[start..];
        let open = rest.find('{').unwrap();
        // Find the matching brace.
        let mut depth = 0;
        let mut end = 0;
        for (i, b) in rest.bytes().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let params = &rest[open..end];
        let mut peers = [EMPTY_PEER; 2];
        let c = parse_ha_parameters(params, &mut peers).unwrap();
        assert_eq!(c.this_server_name, "infra-1");
        assert_eq!(c.max_response_delay_ms, 60_000);
    }

    fn err(text: &str) -> HaConfigError<'_> {
        let mut peers = [EMPTY_PEER; 4];
        let e = parse_ha_parameters(text, &mut peers).unwrap_err();
        e
    }

    #[test]
    fn rejections() {
        let base = SEED;
        assert_eq!(
            err(&base.replace("http://192.168.1.3:8080/", "http://infra-2:8080/")),
            HaConfigError::BadUrl("http://infra-2:8080/")
        );
        assert_eq!(
            err(&base.replace(
                "\"this-server-name\":\"infra-1\"",
                "\"this-server-name\":\"x\""
            )),
            HaConfigError::ThisServerNotAPeer("x")
        );
        assert_eq!(
            err(&base.replace("\"secondary\"", "\"standby\"")),
            HaConfigError::Roles("secondary server required in the load balancing configuration")
        );
        assert_eq!(
            err(&base.replace("\"load-balancing\"", "\"hot-standby\"")),
            HaConfigError::Roles("standby server required in the hot standby configuration")
        );
        assert_eq!(
            err(&base.replace("\"load-balancing\"", "\"fast\"")),
            HaConfigError::BadMode("fast")
        );
        assert_eq!(
            err(&base.replace("\"heartbeat-delay\":10000", "\"heartbeat-delay\":70000")),
            HaConfigError::OutOfRange("heartbeat-delay")
        );
        assert_eq!(
            err(&base.replace("\"sync-leases\":true", "\"sync-leasez\":true")),
            HaConfigError::UnknownKey("sync-leasez")
        );
        assert_eq!(
            err(&base.replace("\"infra-2\"", "\"infra-1\"")),
            HaConfigError::DuplicatePeer("infra-1")
        );
        assert_eq!(
            err(&base.replace("\"sync-leases\":true", "\"wait-backup-ack\":true")),
            HaConfigError::WaitBackupAckNotPassiveBackup
        );
        let two = base.replace("[{\"heartbeat", "[{},{\"heartbeat");
        assert_eq!(err(&two), HaConfigError::RelationshipCount(2));
        let mut one = [EMPTY_PEER; 1];
        assert_eq!(
            parse_ha_parameters(SEED, &mut one).unwrap_err(),
            HaConfigError::TooManyPeers
        );
    }

    #[test]
    fn hot_standby_pauses_and_auth() {
        let text = r#"{"high-availability":[{"this-server-name":"s","mode":"hot-standby","state-machine":{"states":[{"state":"ready","pause":"once"}]},"peers":[{"name":"p","url":"http://[2001:db8::1]:8000/","role":"primary","basic-auth-user":"u","basic-auth-password-file":"/etc/pw"},{"name":"s","url":"https://198.18.0.2/","role":"standby","auto-failover":false}]}]}"#;
        let mut peers = [EMPTY_PEER; 2];
        let c = parse_ha_parameters(text, &mut peers).unwrap();
        assert_eq!(c.delayed_updates_limit, 0);
        assert_eq!(
            c.pauses[super::super::state::HaState::Ready.index()],
            Pause::Once
        );
        let p = c.partner().unwrap();
        assert_eq!(p.port, 8000);
        assert_eq!(p.basic_auth_password_file, Some("/etc/pw"));
        assert_eq!(c.this().unwrap().port, 443);
        assert!(!c.this().unwrap().auto_failover);
        let both = text.replace(
            "\"basic-auth-user\"",
            "\"basic-auth-password\":\"x\",\"basic-auth-user\"",
        );
        assert_eq!(err(&both), HaConfigError::PasswordAndFile("p"));
    }

    #[test]
    fn keys_wren_does_not_implement_are_reported_not_dropped() {
        // Nothing to report in the seed.
        let mut peers = [EMPTY_PEER; 4];
        let c = parse_ha_parameters(SEED, &mut peers).unwrap();
        assert_eq!(c.ignored_keys().count(), 0);

        let text = r#"{"high-availability":[{"this-server-name":"a","mode":"load-balancing",
            "trust-anchor":"/etc/ca.pem","cert-file":"/etc/a.pem","key-file":"/etc/a.key",
            "require-client-certs":false,"restrict-commands":true,
            "multi-threading":{"enable-multi-threading":true,"http-dedicated-listener":true},
            "user-context":{"x":1},"comment":"not reported",
            "peers":[{"name":"a","url":"https://198.18.0.1:8000/","role":"primary","cert-file":"/etc/a2.pem"},
                     {"name":"b","url":"http://198.18.0.2:8000/","role":"secondary","trust-anchor":"/etc/ca2.pem","key-file":"/etc/b.key","comment":"x"}]}]}"#;
        let mut peers = [EMPTY_PEER; 4];
        let c = parse_ha_parameters(text, &mut peers).unwrap();
        let got: std::vec::Vec<(Option<&str>, &str)> = c
            .ignored_keys()
            .map(|(p, k)| (p.map(|p| p.name), k.name()))
            .collect();
        assert_eq!(
            got,
            [
                (None, "trust-anchor"),
                (None, "cert-file"),
                (None, "key-file"),
                (None, "require-client-certs"),
                (None, "restrict-commands"),
                (None, "multi-threading"),
                (Some("a"), "cert-file"),
                (Some("a"), "url"),
                (Some("b"), "trust-anchor"),
                (Some("b"), "key-file"),
            ]
        );
        for k in IgnoredKey::ALL {
            assert!(!k.consequence().is_empty());
        }
        assert!(c.peers[0].ignored.contains(IgnoredKey::HttpsUrl));
        assert!(!c.peers[1].ignored.contains(IgnoredKey::HttpsUrl));
    }
}
