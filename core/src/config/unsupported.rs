//! The one list of Kea 2.2 keys wren accepts but does not implement (yet).
//!
//! A Kea configuration that uses them must still load — wren is a drop-in replacement — but
//! the operator must learn that the setting has no effect: the loader emits a
//! [`super::ConfigWarning`] naming the key and its path, never ignoring it silently. Keys
//! that are not in Kea 2.2 at all are errors, as in Kea.

/// Where a key appears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The `Dhcp4` map.
    Global,
    /// A `shared-networks` entry.
    SharedNetwork,
    /// A `subnet4` entry.
    Subnet,
    /// `interfaces-config`.
    Interfaces,
    /// `lease-database` (SQL-only keys next to `"type": "memfile"`).
    LeaseDatabase,
    /// `control-socket`.
    ControlSocket,
    /// `loggers[]`.
    Logger,
    /// `loggers[].output_options[]`.
    LoggerOutput,
}

/// DDNS keys that Kea 2.2 allows at global, shared-network and subnet level (kea-config.md
/// §2.11). wren does not send DNS updates.
const DDNS: &[&str] = &[
    "ddns-send-updates",
    "ddns-override-no-update",
    "ddns-override-client-update",
    "ddns-replace-client-name",
    "ddns-generated-prefix",
    "ddns-qualifying-suffix",
    "ddns-update-on-renew",
    "ddns-use-conflict-resolution",
];

/// Lease caching (kea-config.md §2.1): wren always writes the renewed lease.
const CACHE: &[&str] = &["cache-threshold", "cache-max-age"];

/// (scope, key, what wren does instead).
const TABLE: &[(Scope, &str, &str)] = &[
    (Scope::Global, "dhcp-ddns", "no DNS updates are sent"),
    (
        Scope::Global,
        "multi-threading",
        "wren is single-threaded by design",
    ),
    (
        Scope::Global,
        "dhcp-queue-control",
        "packets are processed as they arrive",
    ),
    (
        Scope::Global,
        "config-control",
        "no configuration backend; the file is the configuration",
    ),
    (
        Scope::Global,
        "hosts-database",
        "host reservations come from the file only",
    ),
    (
        Scope::Global,
        "hosts-databases",
        "host reservations come from the file only",
    ),
    (
        Scope::Global,
        "dhcp4o6-port",
        "DHCPv4-over-DHCPv6 is not implemented",
    ),
    (
        Scope::Global,
        "parked-packet-limit",
        "no packets are parked",
    ),
    (
        Scope::Global,
        "compatibility",
        "options are parsed strictly",
    ),
    (
        Scope::Global,
        "early-global-reservations-lookup",
        "global reservations are looked up after subnet selection",
    ),
    (
        Scope::Global,
        "reservations-lookup-first",
        "leases are looked up before reservations",
    ),
    (
        Scope::Subnet,
        "4o6-interface",
        "DHCPv4-over-DHCPv6 is not implemented",
    ),
    (
        Scope::Subnet,
        "4o6-interface-id",
        "DHCPv4-over-DHCPv6 is not implemented",
    ),
    (
        Scope::Subnet,
        "4o6-subnet",
        "DHCPv4-over-DHCPv6 is not implemented",
    ),
    (Scope::LeaseDatabase, "readonly", "SQL-only setting"),
    (Scope::LeaseDatabase, "host", "SQL-only setting"),
    (Scope::LeaseDatabase, "port", "SQL-only setting"),
    (Scope::LeaseDatabase, "user", "SQL-only setting"),
    (Scope::LeaseDatabase, "password", "SQL-only setting"),
    (Scope::LeaseDatabase, "connect-timeout", "SQL-only setting"),
    (
        Scope::LeaseDatabase,
        "max-reconnect-tries",
        "SQL-only setting",
    ),
    (
        Scope::LeaseDatabase,
        "reconnect-wait-time",
        "SQL-only setting",
    ),
    (Scope::LeaseDatabase, "on-fail", "SQL-only setting"),
    (Scope::LeaseDatabase, "trust-anchor", "SQL-only setting"),
    (Scope::LeaseDatabase, "cert-file", "SQL-only setting"),
    (Scope::LeaseDatabase, "key-file", "SQL-only setting"),
    (Scope::LeaseDatabase, "cipher-list", "SQL-only setting"),
    (Scope::Logger, "debuglevel-default", "ignored"),
    (
        Scope::LoggerOutput,
        "flush",
        "the daemon flushes every line",
    ),
    (
        Scope::LoggerOutput,
        "maxsize",
        "log files are not rotated by wren",
    ),
    (
        Scope::LoggerOutput,
        "maxver",
        "log files are not rotated by wren",
    ),
    (
        Scope::LoggerOutput,
        "pattern",
        "wren's own line format is used",
    ),
];

/// If `key` is a Kea 2.2 key of `scope` that wren ignores, the key (as `'static`) and what
/// wren does instead.
pub fn lookup(scope: Scope, key: &str) -> Option<(&'static str, &'static str)> {
    let inheritable = matches!(scope, Scope::Global | Scope::SharedNetwork | Scope::Subnet);
    if inheritable {
        if let Some(k) = DDNS.iter().find(|k| **k == key) {
            return Some((k, "no DNS updates are sent and hostnames are not rewritten"));
        }
        if let Some(k) = CACHE.iter().find(|k| **k == key) {
            return Some((k, "every renewal rewrites the lease"));
        }
    }
    TABLE
        .iter()
        .find(|(s, k, _)| *s == scope && *k == key)
        .map(|(_, k, note)| (*k, *note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddns_keys_are_unsupported_at_every_inheriting_level_only() {
        assert!(lookup(Scope::Global, "ddns-send-updates").is_some());
        assert!(lookup(Scope::Subnet, "ddns-send-updates").is_some());
        assert!(lookup(Scope::Interfaces, "ddns-send-updates").is_none());
        assert!(lookup(Scope::Global, "4o6-subnet").is_none());
        assert!(
            lookup(Scope::Global, "allocator").is_none(),
            "Kea 2.4 key: an error, not a warning"
        );
    }
}
