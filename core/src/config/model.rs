//! The engine's view of a Kea `Dhcp4` configuration, after parsing, validation and
//! inheritance. Everything lives in caller-provided slices ([`ConfigStorage`]) and refers to
//! other parts by index ranges, so a datacenter config (2,000 subnets, 50,000 reservations)
//! fits wherever the caller gives the room, and an embedded user can use statics.
//!
//! Inheritable parameters are resolved at load time into each subnet's [`SubnetParams`]
//! (subnet, else shared network, else global, else Kea's default: kea-config.md §3), so the
//! packet path reads one struct. The raw per-level values are kept in the `declared`
//! fields for `config-get`.

use core::net::Ipv4Addr;

use crate::index::HashIndexView;

/// A string or byte run in the config's text arena ([`Config::text`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TextRef {
    /// Byte offset in the arena.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl TextRef {
    /// The empty run.
    pub const EMPTY: TextRef = TextRef { offset: 0, len: 0 };

    /// Whether the run is empty (Kea's "not set" for `""` strings).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A run of consecutive items in one of the [`Config`] slices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexRange {
    /// First index.
    pub start: u32,
    /// Number of items.
    pub len: u32,
}

impl IndexRange {
    /// The empty range.
    pub const EMPTY: IndexRange = IndexRange { start: 0, len: 0 };

    /// The indices as a `usize` range, for slicing with `get`.
    pub fn as_range(&self) -> core::ops::Range<usize> {
        let start = self.start as usize;
        start..start.saturating_add(self.len as usize)
    }
}

/// An IPv4 prefix such as `198.18.0.0/24`. Kea accepts non-canonical forms (`198.18.0.1/24`);
/// `address` keeps what was written, [`Ipv4Prefix::network`] masks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Prefix {
    /// The address as written.
    pub address: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub len: u8,
}

impl Ipv4Prefix {
    /// The netmask as a `u32`.
    pub const fn mask(&self) -> u32 {
        if self.len == 0 {
            0
        } else if self.len >= 32 {
            u32::MAX
        } else {
            u32::MAX << (32 - self.len)
        }
    }

    /// The netmask as an address (option 1's value).
    pub const fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.mask())
    }

    /// The network address.
    pub const fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from_bits(self.address.to_bits() & self.mask())
    }

    /// Whether `addr` lies inside the prefix.
    pub const fn contains(&self, addr: Ipv4Addr) -> bool {
        (addr.to_bits() & self.mask()) == (self.address.to_bits() & self.mask())
    }
}

/// Lease lifetime bounds (`valid-lifetime`, `min-valid-lifetime`, `max-valid-lifetime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    /// Default lifetime, seconds.
    pub valid: u32,
    /// Lowest lifetime a client may ask for (option 51).
    pub min: u32,
    /// Highest lifetime a client may ask for.
    pub max: u32,
}

impl Lifetimes {
    /// Kea's built-in default: 7200 s for all three.
    pub const KEA_DEFAULT: Lifetimes = Lifetimes {
        valid: 7200,
        min: 7200,
        max: 7200,
    };

    /// The lifetime to grant for a client's requested lifetime (option 51): clamped to
    /// [min, max], or the default when the client asked for none (kea-config.md §2.1).
    pub fn grant(&self, requested: Option<u32>) -> u32 {
        match requested {
            None => self.valid,
            Some(r) => r.clamp(self.min, self.max.max(self.min)),
        }
    }
}

/// Effective per-subnet parameters after inheritance (subnet → shared network → global →
/// default).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SubnetParams {
    /// Lease lifetimes.
    pub lifetimes: Lifetimes,
    /// Explicit T1 (`renew-timer`), if configured at any level.
    pub renew_timer: Option<u32>,
    /// Explicit T2 (`rebind-timer`), if configured at any level.
    pub rebind_timer: Option<u32>,
    /// `calculate-tee-times` (Kea 2.2 default false).
    pub calculate_tee_times: bool,
    /// `t1-percent` (default 0.5).
    pub t1_percent: f32,
    /// `t2-percent` (default 0.875).
    pub t2_percent: f32,
    /// `authoritative` (default false).
    pub authoritative: bool,
    /// `match-client-id` (default true).
    pub match_client_id: bool,
    /// `next-server` (siaddr); `None` when unset or `0.0.0.0`.
    pub next_server: Option<Ipv4Addr>,
    /// `server-hostname` (sname); empty when unset.
    pub server_hostname: TextRef,
    /// `boot-file-name` (file); empty when unset.
    pub boot_file_name: TextRef,
    /// `reservations-global` (default false).
    pub reservations_global: bool,
    /// `reservations-in-subnet` (default true).
    pub reservations_in_subnet: bool,
    /// `reservations-out-of-pool` (default false).
    pub reservations_out_of_pool: bool,
    /// `store-extended-info` (default false).
    pub store_extended_info: bool,
    /// `hostname-char-set`: the characters of client-supplied names to replace (a regular
    /// expression; Kea default `[^A-Za-z0-9.-]`, `""` disables scrubbing). `None` when no
    /// level declares it (the default applies).
    pub hostname_char_set: Option<TextRef>,
    /// `hostname-char-replacement` (Kea default `""`: matched characters are removed).
    /// `None` when no level declares it.
    pub hostname_char_replacement: Option<TextRef>,
}

/// The inheritable parameters as one level (global, shared network or subnet) declares
/// them: `None` where the level is silent. Kept for `config-get` and for resolving
/// [`SubnetParams`] (kea-config.md §3). `min`/`max` already default to the same level's
/// `valid-lifetime` (Kea's triplet parser does this per level).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DeclaredParams {
    /// `valid-lifetime`.
    pub valid_lifetime: Option<u32>,
    /// `min-valid-lifetime` (or this level's `valid-lifetime`).
    pub min_valid_lifetime: Option<u32>,
    /// `max-valid-lifetime` (or this level's `valid-lifetime`).
    pub max_valid_lifetime: Option<u32>,
    /// `renew-timer`.
    pub renew_timer: Option<u32>,
    /// `rebind-timer`.
    pub rebind_timer: Option<u32>,
    /// `calculate-tee-times`.
    pub calculate_tee_times: Option<bool>,
    /// `t1-percent`.
    pub t1_percent: Option<f32>,
    /// `t2-percent`.
    pub t2_percent: Option<f32>,
    /// `authoritative`.
    pub authoritative: Option<bool>,
    /// `match-client-id`.
    pub match_client_id: Option<bool>,
    /// `next-server` (`0.0.0.0` kept: it overrides an inherited value with "none").
    pub next_server: Option<Ipv4Addr>,
    /// `server-hostname`.
    pub server_hostname: Option<TextRef>,
    /// `boot-file-name`.
    pub boot_file_name: Option<TextRef>,
    /// `reservations-global` (or from `reservation-mode`).
    pub reservations_global: Option<bool>,
    /// `reservations-in-subnet` (or from `reservation-mode`).
    pub reservations_in_subnet: Option<bool>,
    /// `reservations-out-of-pool` (or from `reservation-mode`).
    pub reservations_out_of_pool: Option<bool>,
    /// `store-extended-info`.
    pub store_extended_info: Option<bool>,
    /// `hostname-char-set`.
    pub hostname_char_set: Option<TextRef>,
    /// `hostname-char-replacement`.
    pub hostname_char_replacement: Option<TextRef>,
}

impl DeclaredParams {
    /// Nothing declared.
    pub const NONE: DeclaredParams = DeclaredParams {
        valid_lifetime: None,
        min_valid_lifetime: None,
        max_valid_lifetime: None,
        renew_timer: None,
        rebind_timer: None,
        calculate_tee_times: None,
        t1_percent: None,
        t2_percent: None,
        authoritative: None,
        match_client_id: None,
        next_server: None,
        server_hostname: None,
        boot_file_name: None,
        reservations_global: None,
        reservations_in_subnet: None,
        reservations_out_of_pool: None,
        store_extended_info: None,
        hostname_char_set: None,
        hostname_char_replacement: None,
    };
}

impl SubnetParams {
    /// Kea 2.2's built-in defaults (kea-config.md §2).
    pub const KEA_DEFAULT: SubnetParams = SubnetParams {
        lifetimes: Lifetimes::KEA_DEFAULT,
        renew_timer: None,
        rebind_timer: None,
        calculate_tee_times: false,
        t1_percent: 0.5,
        t2_percent: 0.875,
        authoritative: false,
        match_client_id: true,
        next_server: None,
        server_hostname: TextRef::EMPTY,
        boot_file_name: TextRef::EMPTY,
        reservations_global: false,
        reservations_in_subnet: true,
        reservations_out_of_pool: false,
        store_extended_info: false,
        hostname_char_set: None,
        hostname_char_replacement: None,
    };

    /// Resolves the parameters of a level from its declared values, most specific first
    /// (`levels` = subnet, shared network, global), falling back to Kea's defaults
    /// (kea-config.md §3).
    pub fn resolve(levels: &[&DeclaredParams]) -> SubnetParams {
        fn first<T: Copy>(
            levels: &[&DeclaredParams],
            f: impl Fn(&DeclaredParams) -> Option<T>,
        ) -> Option<T> {
            levels.iter().find_map(|l| f(l))
        }
        let d = SubnetParams::KEA_DEFAULT;
        let valid = first(levels, |l| l.valid_lifetime).unwrap_or(d.lifetimes.valid);
        SubnetParams {
            lifetimes: Lifetimes {
                valid,
                min: first(levels, |l| l.min_valid_lifetime).unwrap_or(valid),
                max: first(levels, |l| l.max_valid_lifetime).unwrap_or(valid),
            },
            renew_timer: first(levels, |l| l.renew_timer),
            rebind_timer: first(levels, |l| l.rebind_timer),
            calculate_tee_times: first(levels, |l| l.calculate_tee_times)
                .unwrap_or(d.calculate_tee_times),
            t1_percent: first(levels, |l| l.t1_percent).unwrap_or(d.t1_percent),
            t2_percent: first(levels, |l| l.t2_percent).unwrap_or(d.t2_percent),
            authoritative: first(levels, |l| l.authoritative).unwrap_or(d.authoritative),
            match_client_id: first(levels, |l| l.match_client_id).unwrap_or(d.match_client_id),
            next_server: first(levels, |l| l.next_server).filter(|a| !a.is_unspecified()),
            server_hostname: first(levels, |l| l.server_hostname).unwrap_or(TextRef::EMPTY),
            boot_file_name: first(levels, |l| l.boot_file_name).unwrap_or(TextRef::EMPTY),
            reservations_global: first(levels, |l| l.reservations_global)
                .unwrap_or(d.reservations_global),
            reservations_in_subnet: first(levels, |l| l.reservations_in_subnet)
                .unwrap_or(d.reservations_in_subnet),
            reservations_out_of_pool: first(levels, |l| l.reservations_out_of_pool)
                .unwrap_or(d.reservations_out_of_pool),
            store_extended_info: first(levels, |l| l.store_extended_info)
                .unwrap_or(d.store_extended_info),
            hostname_char_set: first(levels, |l| l.hostname_char_set),
            hostname_char_replacement: first(levels, |l| l.hostname_char_replacement),
        }
    }
}

/// One `subnet4` entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Subnet {
    /// Kea subnet id (explicit, or 1, 2, 3… in file order when 0/absent, as Kea).
    pub id: u32,
    /// The `subnet` prefix.
    pub prefix: Ipv4Prefix,
    /// Index into [`Config::shared_networks`] when the subnet is a shared-network member.
    pub shared_network: Option<u32>,
    /// Pools, in [`Config::pools`].
    pub pools: IndexRange,
    /// Reservations of this subnet, in [`Config::reservations`].
    pub reservations: IndexRange,
    /// The subnet's own `option-data`, in [`Config::options`].
    pub options: IndexRange,
    /// `interface` (own or inherited from the shared network); empty when unset.
    pub interface: TextRef,
    /// `relay.ip-addresses` (own or inherited), in [`Config::addresses`].
    pub relay_addresses: IndexRange,
    /// `client-class` (own or inherited); empty when anyone may use the subnet.
    pub client_class: TextRef,
    /// `require-client-classes`, class names in [`Config::names`].
    pub require_client_classes: IndexRange,
    /// Effective parameters.
    pub params: SubnetParams,
    /// What the subnet itself declared (for `config-get`).
    pub declared: DeclaredParams,
    /// `user-context` (with `comment` merged), compact JSON in the text arena; empty if none.
    pub user_context: TextRef,
}

/// One `shared-networks` entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SharedNetwork {
    /// `name`.
    pub name: TextRef,
    /// Member subnets, in [`Config::subnets`] (members are stored consecutively).
    pub subnets: IndexRange,
    /// The network's own `option-data`.
    pub options: IndexRange,
    /// `require-client-classes`, class names in [`Config::names`].
    pub require_client_classes: IndexRange,
    /// `interface`; empty when unset (members inherit it).
    pub interface: TextRef,
    /// `relay.ip-addresses`, in [`Config::addresses`] (members inherit them).
    pub relay_addresses: IndexRange,
    /// `client-class`; empty when unset (members inherit it).
    pub client_class: TextRef,
    /// What the network declared of the inheritable parameters.
    pub declared: DeclaredParams,
    /// `user-context`, compact JSON; empty if none.
    pub user_context: TextRef,
}

/// One pool of a subnet: an inclusive address range (`a - b` or `a/len`, which includes
/// the network and broadcast addresses, as Kea).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// First address.
    pub first: Ipv4Addr,
    /// Last address (inclusive).
    pub last: Ipv4Addr,
    /// The pool's `option-data`.
    pub options: IndexRange,
    /// `client-class`; empty when anyone may use the pool.
    pub client_class: TextRef,
    /// `require-client-classes`, class names in [`Config::names`].
    pub require_client_classes: IndexRange,
    /// `user-context`, compact JSON; empty if none.
    pub user_context: TextRef,
}

impl Pool {
    /// Whether `addr` is in the pool.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.first <= addr && addr <= self.last
    }

    /// Number of addresses in the pool.
    pub fn size(&self) -> u64 {
        u64::from(self.last.to_bits().saturating_sub(self.first.to_bits())) + 1
    }
}

/// The kinds of host identifier (`host-reservation-identifiers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdentifierType {
    /// `hw-address`: chaddr.
    HwAddress,
    /// `duid`: option 61 of type 255 after the 4-byte IAID (RFC 4361).
    Duid,
    /// `circuit-id`: option 82 sub-option 1.
    CircuitId,
    /// `client-id`: the whole option-61 payload, type byte included.
    ClientId,
    /// `flex-id`: needs Kea's flex_id hook; parsed, warned about, never matched.
    FlexId,
}

impl IdentifierType {
    /// The Kea keyword.
    pub const fn keyword(self) -> &'static str {
        match self {
            IdentifierType::HwAddress => "hw-address",
            IdentifierType::Duid => "duid",
            IdentifierType::CircuitId => "circuit-id",
            IdentifierType::ClientId => "client-id",
            IdentifierType::FlexId => "flex-id",
        }
    }
}

/// One host reservation (global when `subnet_id` is 0, as Kea's database backends store it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reservation {
    /// Owning subnet id; 0 for `Dhcp4.reservations` (global).
    pub subnet_id: u32,
    /// Identifier kind.
    pub identifier_type: IdentifierType,
    /// Identifier bytes, in the text arena.
    pub identifier: TextRef,
    /// Reserved address, if any.
    pub address: Option<Ipv4Addr>,
    /// `hostname`; empty when unset.
    pub hostname: TextRef,
    /// `next-server`.
    pub next_server: Option<Ipv4Addr>,
    /// `server-hostname`.
    pub server_hostname: TextRef,
    /// `boot-file-name`.
    pub boot_file_name: TextRef,
    /// The reservation's `option-data`.
    pub options: IndexRange,
    /// `client-classes`, names in [`Config::names`].
    pub client_classes: IndexRange,
    /// `user-context`, compact JSON; empty if none.
    pub user_context: TextRef,
}

/// Option spaces the engine knows (kea-options.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptionSpace {
    /// `dhcp4`: the standard options.
    Dhcp4,
    /// `vendor-encapsulated-options-space`: sub-options of option 43.
    VendorEncapsulated,
    /// `dhcp-agent-options-space`: sub-options of option 82.
    AgentOptions,
    /// `vendor-<enterprise>`: sub-options of option 125 for that enterprise number.
    Vendor(u32),
    /// A user-defined space, by name in the text arena.
    Custom(TextRef),
}

/// One configured `option-data` entry, already converted to wire bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionValue {
    /// Option code.
    pub code: u8,
    /// Option space.
    pub space: OptionSpace,
    /// `always-send`.
    pub always_send: bool,
    /// Wire payload (without code and length), in the text arena.
    pub payload: TextRef,
}

/// An `option-def` entry (custom option definition), see kea-config.md §2.9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CustomOptionDef {
    /// `name`.
    pub name: TextRef,
    /// `code`.
    pub code: u8,
    /// `space`.
    pub space: OptionSpace,
    /// The value type and layout.
    pub kind: crate::option_def::OptionKind,
    /// `encapsulate`: space name; empty if none.
    pub encapsulate: TextRef,
}

/// One `client-classes` entry. Expressions are compiled by the classification module
/// (issue 4); until then `test` is kept as text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientClass {
    /// `name`.
    pub name: TextRef,
    /// `test` expression source; empty if none.
    pub test: TextRef,
    /// `only-if-required`.
    pub only_if_required: bool,
    /// The class's `option-data`.
    pub options: IndexRange,
    /// The class's `option-def`, in [`Config::option_defs`].
    pub option_defs: IndexRange,
    /// `next-server`.
    pub next_server: Option<Ipv4Addr>,
    /// `server-hostname`.
    pub server_hostname: TextRef,
    /// `boot-file-name`.
    pub boot_file_name: TextRef,
    /// The class's lifetime triplet, if it defines `valid-lifetime`.
    pub lifetimes: Option<Lifetimes>,
    /// `user-context`, compact JSON; empty if none.
    pub user_context: TextRef,
}

/// `sanity-checks.lease-checks`: what to do when a loaded lease's subnet id does not match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LeaseChecks {
    /// `none`.
    None,
    /// `warn` (Kea's default): log and keep.
    #[default]
    Warn,
    /// `fix`: re-assign the subnet that contains the address, else keep.
    Fix,
    /// `fix-del`: re-assign, else drop.
    FixDel,
    /// `del`: drop on any mismatch.
    Del,
}

/// `lease-database` (memfile only; SQL types are rejected with a clear error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseDatabase {
    /// `persist` (default true).
    pub persist: bool,
    /// `name`: the lease file path; empty means the platform default.
    pub name: TextRef,
    /// `lfc-interval`, seconds (default 3600; 0 disables).
    pub lfc_interval: u32,
    /// `max-row-errors` (default 0 = unlimited).
    pub max_row_errors: u32,
}

/// `dhcp-socket-type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SocketType {
    /// `raw` (default): packet socket / BPF, serves direct and relayed clients.
    #[default]
    Raw,
    /// `udp`: relayed and unicast clients only.
    Udp,
}

/// `interfaces-config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfacesConfig {
    /// `interfaces`: names (`eth0`, `eth0/198.18.0.1`, `*`) in [`Config::names`].
    pub interfaces: IndexRange,
    /// `dhcp-socket-type`.
    pub socket_type: SocketType,
    /// `outbound-interface` is `use-routing`.
    pub use_routing: bool,
    /// `re-detect` (default true).
    pub re_detect: bool,
    /// `service-sockets-require-all`.
    pub require_all: bool,
    /// `service-sockets-retry-wait-time`, ms.
    pub retry_wait_ms: u32,
    /// `service-sockets-max-retries`.
    pub max_retries: u32,
}

/// `control-socket` (unix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlSocket {
    /// `socket-name`.
    pub socket_name: TextRef,
}

/// `expired-leases-processing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiredLeasesProcessing {
    /// `reclaim-timer-wait-time`, s (10).
    pub reclaim_timer_wait_time: u32,
    /// `flush-reclaimed-timer-wait-time`, s (25).
    pub flush_reclaimed_timer_wait_time: u32,
    /// `hold-reclaimed-time`, s (3600).
    pub hold_reclaimed_time: u32,
    /// `max-reclaim-leases` (100).
    pub max_reclaim_leases: u32,
    /// `max-reclaim-time`, ms (250).
    pub max_reclaim_time: u32,
    /// `unwarned-reclaim-cycles` (5).
    pub unwarned_reclaim_cycles: u32,
}

/// Log severities of Kea's `loggers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// `DEBUG` (with `debuglevel`).
    Debug,
    /// `INFO`.
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
    /// `FATAL`.
    Fatal,
    /// `NONE`.
    None,
}

/// One `loggers` entry (the daemon opens the outputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logger {
    /// `name` (`kea-dhcp4` or `kea-dhcp4.<sub>`).
    pub name: TextRef,
    /// `severity`.
    pub severity: Severity,
    /// `debuglevel` 0..=99.
    pub debuglevel: u8,
    /// `output_options[].output` values (`stdout`, `stderr`, `syslog`, `syslog:<name>`, a file),
    /// in [`Config::names`].
    pub outputs: IndexRange,
}

/// One `hooks-libraries` entry. wren implements Kea's free hooks natively; the daemon
/// recognises libraries by file name (`libdhcp_ha.so`, `libdhcp_lease_cmds.so`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookLibrary {
    /// `library` path.
    pub library: TextRef,
    /// `parameters`, compact JSON; empty if none.
    pub parameters: TextRef,
}

/// Global (`Dhcp4`-level) settings that are not inherited by subnets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Globals {
    /// Global values of the inheritable parameters (used for the INFORM of clients with no
    /// subnet and as the base of every subnet's [`SubnetParams`]).
    pub params: SubnetParams,
    /// What the `Dhcp4` map declared of them.
    pub declared: DeclaredParams,
    /// `echo-client-id` (default true).
    pub echo_client_id: bool,
    /// `decline-probation-period`, s (default 86400).
    pub decline_probation_period: u32,
    /// `statistic-default-sample-count`: samples each statistic keeps (Kea's default 20
    /// when absent; 0 switches to `statistic-default-sample-age`). Applied by
    /// `Stats::configure` to every statistic, as Kea does at configuration.
    pub statistic_sample_count: Option<u32>,
    /// `statistic-default-sample-age`, s: the age bound, in force when the count is 0.
    pub statistic_sample_age: Option<u32>,
    /// `host-reservation-identifiers` in lookup order (default hw-address, duid, circuit-id,
    /// client-id); `identifier_count` entries are valid.
    pub host_reservation_identifiers: [IdentifierType; 5],
    /// Number of valid entries in `host_reservation_identifiers`.
    pub identifier_count: u8,
    /// `ip-reservations-unique` (default true).
    pub ip_reservations_unique: bool,
    /// `sanity-checks.lease-checks`.
    pub lease_checks: LeaseChecks,
    /// `lease-database`.
    pub lease_database: LeaseDatabase,
    /// `interfaces-config`.
    pub interfaces: InterfacesConfig,
    /// `control-socket`, if configured.
    pub control_socket: Option<ControlSocket>,
    /// `expired-leases-processing`.
    pub expired_leases: ExpiredLeasesProcessing,
    /// `server-tag`.
    pub server_tag: TextRef,
    /// Global `option-data`, in [`Config::options`].
    pub options: IndexRange,
    /// Global `option-def`, in [`Config::option_defs`].
    pub option_defs: IndexRange,
    /// Global reservations (`Dhcp4.reservations`), in [`Config::reservations`].
    pub reservations: IndexRange,
    /// `client-classes`, in [`Config::classes`].
    pub classes: IndexRange,
    /// `loggers`, in [`Config::loggers`].
    pub loggers: IndexRange,
    /// `hooks-libraries`, in [`Config::hooks`].
    pub hooks: IndexRange,
    /// Global `user-context`, compact JSON; empty if none.
    pub user_context: TextRef,
}

/// The loaded configuration: globals plus read-only views of the storage it was parsed into.
#[derive(Clone, Copy, Debug)]
pub struct Config<'a> {
    /// Global settings.
    pub globals: Globals,
    /// All subnets, shared-network members included, in configuration order for selection
    /// (Kea's order: top-level `subnet4` first, then each shared network's members).
    pub subnets: &'a [Subnet],
    /// Shared networks.
    pub shared_networks: &'a [SharedNetwork],
    /// Pools of all subnets.
    pub pools: &'a [Pool],
    /// Reservations (subnet and global).
    pub reservations: &'a [Reservation],
    /// Option values of all levels.
    pub options: &'a [OptionValue],
    /// Custom option definitions.
    pub option_defs: &'a [CustomOptionDef],
    /// Client classes in configuration order.
    pub classes: &'a [ClientClass],
    /// Loggers.
    pub loggers: &'a [Logger],
    /// Hook libraries.
    pub hooks: &'a [HookLibrary],
    /// IPv4 address lists (relay addresses).
    pub addresses: &'a [Ipv4Addr],
    /// Name lists (class names, interface names, logger outputs).
    pub names: &'a [TextRef],
    /// Text arena: strings, identifiers, option payloads, compact JSON.
    pub text: &'a [u8],
    /// Reservation lookup by (subnet id, identifier type, identifier); see
    /// [`crate::index`]. Built at load time.
    pub reservations_by_identifier: HashIndexView<'a>,
    /// Reservation lookup by (subnet id, address).
    pub reservations_by_address: HashIndexView<'a>,
}

impl<'a> Config<'a> {
    /// The bytes of a text-arena run (empty if the run is out of bounds, which a config
    /// built by [`crate::config::parse`] never produces).
    pub fn bytes(&self, r: TextRef) -> &'a [u8] {
        let start = r.offset as usize;
        self.text
            .get(start..start.saturating_add(r.len as usize))
            .unwrap_or(&[])
    }

    /// A text-arena run as a string (empty if not UTF-8; the parser only stores UTF-8 text
    /// for string fields).
    pub fn str(&self, r: TextRef) -> &'a str {
        core::str::from_utf8(self.bytes(r)).unwrap_or("")
    }
}

/// Caller-provided storage for a [`Config`]. Size it with [`crate::config::measure`].
pub struct ConfigStorage<'a> {
    /// Subnets.
    pub subnets: &'a mut [Subnet],
    /// Shared networks.
    pub shared_networks: &'a mut [SharedNetwork],
    /// Pools.
    pub pools: &'a mut [Pool],
    /// Reservations.
    pub reservations: &'a mut [Reservation],
    /// Option values.
    pub options: &'a mut [OptionValue],
    /// Custom option definitions.
    pub option_defs: &'a mut [CustomOptionDef],
    /// Client classes.
    pub classes: &'a mut [ClientClass],
    /// Loggers.
    pub loggers: &'a mut [Logger],
    /// Hook libraries.
    pub hooks: &'a mut [HookLibrary],
    /// Address lists.
    pub addresses: &'a mut [Ipv4Addr],
    /// Name lists.
    pub names: &'a mut [TextRef],
    /// Text arena.
    pub text: &'a mut [u8],
    /// Slots of the reservation-by-identifier index (power of two, ≥ 2 × reservations).
    pub reservation_id_slots: &'a mut [u32],
    /// Slots of the reservation-by-address index (power of two, ≥ 2 × reservations).
    pub reservation_addr_slots: &'a mut [u32],
}

// ---- Empty values, to fill storage before parsing (`vec![Subnet::EMPTY; n]`) ----

impl Ipv4Prefix {
    /// `0.0.0.0/0`.
    pub const EMPTY: Ipv4Prefix = Ipv4Prefix {
        address: Ipv4Addr::UNSPECIFIED,
        len: 0,
    };
}

impl Subnet {
    /// A placeholder subnet (id 0, `0.0.0.0/0`, Kea defaults).
    pub const EMPTY: Subnet = Subnet {
        id: 0,
        prefix: Ipv4Prefix::EMPTY,
        shared_network: None,
        pools: IndexRange::EMPTY,
        reservations: IndexRange::EMPTY,
        options: IndexRange::EMPTY,
        interface: TextRef::EMPTY,
        relay_addresses: IndexRange::EMPTY,
        client_class: TextRef::EMPTY,
        require_client_classes: IndexRange::EMPTY,
        params: SubnetParams::KEA_DEFAULT,
        declared: DeclaredParams::NONE,
        user_context: TextRef::EMPTY,
    };
}

impl SharedNetwork {
    /// A placeholder network.
    pub const EMPTY: SharedNetwork = SharedNetwork {
        name: TextRef::EMPTY,
        subnets: IndexRange::EMPTY,
        options: IndexRange::EMPTY,
        require_client_classes: IndexRange::EMPTY,
        interface: TextRef::EMPTY,
        relay_addresses: IndexRange::EMPTY,
        client_class: TextRef::EMPTY,
        declared: DeclaredParams::NONE,
        user_context: TextRef::EMPTY,
    };
}

impl Pool {
    /// A placeholder pool (`0.0.0.0 - 0.0.0.0`).
    pub const EMPTY: Pool = Pool {
        first: Ipv4Addr::UNSPECIFIED,
        last: Ipv4Addr::UNSPECIFIED,
        options: IndexRange::EMPTY,
        client_class: TextRef::EMPTY,
        require_client_classes: IndexRange::EMPTY,
        user_context: TextRef::EMPTY,
    };
}

impl Reservation {
    /// A placeholder reservation.
    pub const EMPTY: Reservation = Reservation {
        subnet_id: 0,
        identifier_type: IdentifierType::HwAddress,
        identifier: TextRef::EMPTY,
        address: None,
        hostname: TextRef::EMPTY,
        next_server: None,
        server_hostname: TextRef::EMPTY,
        boot_file_name: TextRef::EMPTY,
        options: IndexRange::EMPTY,
        client_classes: IndexRange::EMPTY,
        user_context: TextRef::EMPTY,
    };
}

impl OptionValue {
    /// A placeholder option (code 0).
    pub const EMPTY: OptionValue = OptionValue {
        code: 0,
        space: OptionSpace::Dhcp4,
        always_send: false,
        payload: TextRef::EMPTY,
    };
}

impl CustomOptionDef {
    /// A placeholder definition.
    pub const EMPTY: CustomOptionDef = CustomOptionDef {
        name: TextRef::EMPTY,
        code: 0,
        space: OptionSpace::Dhcp4,
        kind: crate::option_def::OptionKind::scalar(crate::option_def::OptionType::Binary, false),
        encapsulate: TextRef::EMPTY,
    };
}

impl ClientClass {
    /// A placeholder class.
    pub const EMPTY: ClientClass = ClientClass {
        name: TextRef::EMPTY,
        test: TextRef::EMPTY,
        only_if_required: false,
        options: IndexRange::EMPTY,
        option_defs: IndexRange::EMPTY,
        next_server: None,
        server_hostname: TextRef::EMPTY,
        boot_file_name: TextRef::EMPTY,
        lifetimes: None,
        user_context: TextRef::EMPTY,
    };
}

impl Logger {
    /// A placeholder logger.
    pub const EMPTY: Logger = Logger {
        name: TextRef::EMPTY,
        severity: Severity::Info,
        debuglevel: 0,
        outputs: IndexRange::EMPTY,
    };
}

impl HookLibrary {
    /// A placeholder hook library.
    pub const EMPTY: HookLibrary = HookLibrary {
        library: TextRef::EMPTY,
        parameters: TextRef::EMPTY,
    };
}

/// `Default` is the `EMPTY` placeholder, for `vec![T::default(); n]`.
macro_rules! default_is_empty {
    ($($t:ty),*) => {
        $(impl Default for $t {
            fn default() -> Self {
                <$t>::EMPTY
            }
        })*
    };
}

default_is_empty!(
    Ipv4Prefix,
    Subnet,
    SharedNetwork,
    Pool,
    Reservation,
    OptionValue,
    CustomOptionDef,
    ClientClass,
    Logger,
    HookLibrary
);
