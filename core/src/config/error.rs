//! What can go wrong while loading a `Dhcp4` configuration, and the warnings a load may
//! produce. Every error carries the line and column of the offending token and the JSON path
//! of the value (`Dhcp4.subnet4[0].pools[0].pool`), so the daemon can print one line that
//! says what is wrong and where (it prefixes the file name).

use core::fmt;

/// Longest JSON path kept in an error; deeper paths end in `…`.
pub const PATH_CAPACITY: usize = 160;
/// Longest quoted snippet of configuration text kept in an error; longer ones end in `…`.
pub const SNIPPET_CAPACITY: usize = 96;

/// A JSON path such as `Dhcp4.subnet4[0].pools[0].pool`.
pub type ConfigPath = heapless::String<PATH_CAPACITY>;
/// A piece of configuration text quoted in an error message.
pub type Snippet = heapless::String<SNIPPET_CAPACITY>;

/// Copies `text` into a [`Snippet`], cutting it (at a character boundary) with `…` when it
/// does not fit.
pub fn snippet(text: &str) -> Snippet {
    let mut s = Snippet::new();
    for ch in text.chars() {
        if s.len() + ch.len_utf8() > SNIPPET_CAPACITY - 3 {
            let _ = s.push('…');
            break;
        }
        let _ = s.push(ch);
    }
    s
}

/// A position in the configuration text (1-based line and column; the column counts bytes,
/// as Kea's lexer does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

/// Which caller-provided storage slice ran out of room (the caller did not size the storage
/// with [`crate::config::measure`] for this text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageKind {
    /// `ConfigStorage::subnets`.
    Subnets,
    /// `ConfigStorage::shared_networks`.
    SharedNetworks,
    /// `ConfigStorage::pools`.
    Pools,
    /// `ConfigStorage::reservations`.
    Reservations,
    /// `ConfigStorage::options`.
    Options,
    /// `ConfigStorage::option_defs`.
    OptionDefs,
    /// `ConfigStorage::classes`.
    Classes,
    /// `ConfigStorage::loggers`.
    Loggers,
    /// `ConfigStorage::hooks`.
    Hooks,
    /// `ConfigStorage::addresses`.
    Addresses,
    /// `ConfigStorage::names`.
    Names,
    /// `ConfigStorage::text`.
    Text,
    /// `ConfigStorage::reservation_id_slots`.
    ReservationIdSlots,
    /// `ConfigStorage::reservation_addr_slots`.
    ReservationAddrSlots,
}

impl StorageKind {
    /// The `ConfigStorage` field name.
    pub const fn field(self) -> &'static str {
        match self {
            StorageKind::Subnets => "subnets",
            StorageKind::SharedNetworks => "shared_networks",
            StorageKind::Pools => "pools",
            StorageKind::Reservations => "reservations",
            StorageKind::Options => "options",
            StorageKind::OptionDefs => "option_defs",
            StorageKind::Classes => "classes",
            StorageKind::Loggers => "loggers",
            StorageKind::Hooks => "hooks",
            StorageKind::Addresses => "addresses",
            StorageKind::Names => "names",
            StorageKind::Text => "text",
            StorageKind::ReservationIdSlots => "reservation_id_slots",
            StorageKind::ReservationAddrSlots => "reservation_addr_slots",
        }
    }
}

/// Why a `pool` value was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolProblem {
    /// One end of the range (or the prefix address) is not an IPv4 address.
    NotAnAddress(Snippet),
    /// Neither `a - b` nor `a/len`.
    NotARangeOrPrefix,
    /// The prefix length is not 0..=32.
    BadPrefixLength,
    /// The first address is above the last.
    Reversed,
    /// The pool is not inside the subnet's prefix (Kea: "subnet does not include the pool").
    OutsideSubnet {
        /// The subnet prefix as written.
        subnet: Snippet,
    },
    /// The pool overlaps an earlier pool of the same subnet.
    Overlaps {
        /// The earlier pool's first address.
        first: core::net::Ipv4Addr,
        /// The earlier pool's last address.
        last: core::net::Ipv4Addr,
    },
}

/// What is wrong (the message part of a [`ConfigError`]).
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigErrorKind {
    // ---- file syntax ----
    /// A `/*` comment without `*/` (Kea: "Comment not closed").
    UnterminatedComment,
    /// A string without its closing quote (or with a raw line break).
    UnterminatedString,
    /// A backslash escape JSON does not define (or a `\u` escape that is no character).
    BadEscape,
    /// A control character inside a string.
    ControlCharacterInString,
    /// A malformed number.
    BadNumber(Snippet),
    /// A character that cannot start a token.
    UnexpectedCharacter(char),
    /// A token other than the grammar allows here.
    Expected {
        /// What the grammar wanted.
        expected: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// Two map entries with no `,` between them: the second key is named, since the
    /// position alone points at a line an operator has to count to.
    MissingComma {
        /// The key that follows the missing comma.
        before: Snippet,
    },
    /// The text continues after the top-level map.
    TrailingText,
    /// Maps and lists nested deeper than wren follows.
    TooDeep,
    /// `<?include "…"?>` left in the text: the caller must splice includes in (see
    /// [`crate::config::next_include`]) before parsing.
    UnresolvedInclude(Snippet),
    /// A malformed `<?include "path"?>` directive.
    BadInclude,

    // ---- structure ----
    /// A top-level key other than `Dhcp4` (Kea 2.2 rejects `Dhcp6`, `Logging`, `DhcpDdns`,
    /// `Control-agent` here: kea-config.md §1).
    UnexpectedTopLevel(Snippet),
    /// No `Dhcp4` map.
    MissingDhcp4,
    /// A key the map does not have (Kea: `got unexpected keyword "<k>" in <map> map`).
    UnknownKey {
        /// The key.
        key: Snippet,
        /// The map's name, as Kea spells it.
        map: &'static str,
    },
    /// A key given twice in one map with different values (Kea 2.2 errors on any repeat;
    /// the ARM's "last wins" is wrong). A repeat with the same value is only a warning,
    /// [`ConfigWarningKind::DuplicateKeyIgnored`].
    DuplicateKey {
        /// The key.
        key: Snippet,
        /// Where it was first given.
        previous: Position,
    },
    /// A value of the wrong JSON type (Kea's types are strict: `"7"` is no integer).
    WrongType {
        /// The type the key takes.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A required key is missing.
    MissingKey {
        /// The key.
        key: &'static str,
    },
    /// An integer outside the key's range.
    OutOfRange {
        /// Lowest allowed value.
        min: i64,
        /// Highest allowed value.
        max: i64,
    },
    /// A string that is not one of the key's keywords.
    BadKeyword {
        /// The value.
        value: Snippet,
        /// The accepted values.
        allowed: &'static str,
    },
    /// A string longer than the field allows.
    TooLong {
        /// Maximum length in bytes.
        max: usize,
    },
    /// Not an IPv4 address.
    BadAddress(Snippet),
    /// Not an IPv4 prefix `a.b.c.d/len`.
    BadPrefix(Snippet),
    /// A `pool` value Kea would reject.
    BadPool {
        /// The pool text.
        pool: Snippet,
        /// Why.
        problem: PoolProblem,
    },

    // ---- semantics ----
    /// `lease-database` or another database of a type wren does not implement.
    UnsupportedDatabase(Snippet),
    /// A `hooks-libraries` entry naming a library wren has not built in (the file name;
    /// see [`super::hooks::BuiltinHook`]).
    UnknownHookLibrary(Snippet),
    /// `min-valid-lifetime` above `valid-lifetime` (same level).
    MinAboveValid {
        /// The minimum.
        min: u32,
        /// The default.
        valid: u32,
    },
    /// `max-valid-lifetime` below `valid-lifetime` (same level).
    MaxBelowValid {
        /// The maximum.
        max: u32,
        /// The default.
        valid: u32,
    },
    /// `min-valid-lifetime` above `max-valid-lifetime`.
    MinAboveMax {
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
    },
    /// `min-valid-lifetime` and `max-valid-lifetime` without `valid-lifetime` in one map.
    BoundsWithoutValidLifetime,
    /// `renew-timer` above `rebind-timer`.
    RenewAfterRebind {
        /// T1.
        renew: u32,
        /// T2.
        rebind: u32,
    },
    /// A `t1-percent`/`t2-percent` outside (0, 1).
    PercentOutOfRange,
    /// `t1-percent` not below `t2-percent`.
    T1NotBelowT2,
    /// `reservation-mode` and a `reservations-*` flag in the same map (kea-config.md §2.5).
    ReservationModeConflict {
        /// The `reservations-*` key.
        flag: &'static str,
    },
    /// A reservation with no identifier.
    NoIdentifier,
    /// A reservation with two identifiers (Kea: "mutually exclusive").
    SeveralIdentifiers {
        /// The first one.
        first: &'static str,
        /// The second one.
        second: &'static str,
    },
    /// An identifier value that is neither hex nor `'quoted text'`.
    BadIdentifier(Snippet),
    /// A subnet reservation for an address outside the subnet.
    ReservationOutsideSubnet {
        /// The address.
        address: core::net::Ipv4Addr,
    },
    /// Two reservations of one subnet with the same identifier.
    DuplicateIdentifier {
        /// Identifier kind.
        kind: &'static str,
        /// Index (in the same `reservations` list) of the first one.
        first: u32,
    },
    /// Two reservations of one subnet for the same address while `ip-reservations-unique`.
    DuplicateReservedAddress {
        /// The address.
        address: core::net::Ipv4Addr,
    },
    /// Subnet id outside 1..=4294967294.
    BadSubnetId,
    /// Two subnets with one id.
    DuplicateSubnetId(u32),
    /// Two subnets with the same prefix text.
    DuplicateSubnet(Snippet),
    /// Two shared networks with one name.
    DuplicateSharedNetwork(Snippet),
    /// A shared-network member whose `interface` or `authoritative` differs from the
    /// network's (kea-config.md §2.4).
    SharedNetworkConflict {
        /// The key.
        key: &'static str,
    },
    /// A client class Kea would reject.
    BadClass {
        /// Why.
        reason: &'static str,
    },
    /// Two client classes with one name.
    DuplicateClass(Snippet),
    /// An `option-data` entry with neither `name` nor `code`.
    OptionWithoutNameOrCode,
    /// `name` and `code` of an `option-data` entry name different options.
    OptionNameCodeMismatch {
        /// The name.
        name: Snippet,
        /// The code.
        code: u8,
    },
    /// An option name that has no definition in its space.
    UnknownOption(Snippet),
    /// An option space wren does not know and no `option-def` defines.
    UnknownOptionSpace(Snippet),
    /// The option's `data` could not be converted to wire bytes.
    BadOptionData {
        /// Why (from [`crate::option_data`]).
        reason: Snippet,
    },
    /// An `option-def` Kea would reject.
    BadOptionDef {
        /// Why (from [`crate::option_def`]).
        reason: Snippet,
    },
    /// An `option-def` Kea accepts but wren cannot represent (more record fields than
    /// [`crate::option_def::MAX_RECORD_FIELDS`]).
    UnsupportedOptionDef {
        /// Why.
        reason: Snippet,
    },
    /// Caller-provided storage is too small for this text.
    StorageFull(StorageKind),
}

impl fmt::Display for PoolProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolProblem::NotAnAddress(a) => write!(f, "\"{a}\" is not an IPv4 address"),
            PoolProblem::NotARangeOrPrefix => {
                f.write_str("expected \"first - last\" or \"address/length\"")
            }
            PoolProblem::BadPrefixLength => f.write_str("prefix length must be 0..32"),
            PoolProblem::Reversed => f.write_str("first address is above the last"),
            PoolProblem::OutsideSubnet { subnet } => {
                write!(f, "pool is not inside subnet {subnet}")
            }
            PoolProblem::Overlaps { first, last } => {
                write!(f, "overlaps pool {first} - {last} of the same subnet")
            }
        }
    }
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ConfigErrorKind as K;
        match self {
            K::UnterminatedComment => f.write_str("comment not closed (/* without */)"),
            K::UnterminatedString => f.write_str("string not closed"),
            K::BadEscape => f.write_str("invalid escape sequence in string"),
            K::ControlCharacterInString => f.write_str("control character in string"),
            K::BadNumber(s) => write!(f, "invalid number {s}"),
            K::UnexpectedCharacter(c) => write!(f, "unexpected character {c:?}"),
            K::Expected { expected, found } => write!(f, "expected {expected}, found {found}"),
            K::MissingComma { before } => {
                write!(f, "expected ',' or '}}' before \"{before}\" (missing comma?)")
            }
            K::TrailingText => f.write_str("text after the end of the configuration"),
            K::TooDeep => f.write_str("maps and lists nested too deeply"),
            K::UnresolvedInclude(p) => write!(f, "<?include \"{p}\"?> was not resolved"),
            K::BadInclude => f.write_str("malformed <?include \"path\"?> directive"),
            K::UnexpectedTopLevel(k) => write!(
                f,
                "unexpected top-level key \"{k}\": Kea 2.2 configuration files hold only \"Dhcp4\""
            ),
            K::MissingDhcp4 => f.write_str("no \"Dhcp4\" map"),
            K::UnknownKey { key, map } => {
                write!(f, "got unexpected keyword \"{key}\" in {map} map")
            }
            K::DuplicateKey { key, previous } => write!(
                f,
                "duplicate \"{key}\" entries (previous at line {} col {})",
                previous.line, previous.column
            ),
            K::WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
            K::MissingKey { key } => write!(f, "missing required \"{key}\""),
            K::OutOfRange { min, max } => write!(f, "value must be in {min}..{max}"),
            K::BadKeyword { value, allowed } => {
                write!(f, "invalid value \"{value}\" (allowed: {allowed})")
            }
            K::TooLong { max } => write!(f, "longer than {max} bytes"),
            K::BadAddress(a) => write!(f, "\"{a}\" is not an IPv4 address"),
            K::BadPrefix(a) => write!(f, "\"{a}\" is not an IPv4 prefix (a.b.c.d/len)"),
            K::BadPool { pool, problem } => write!(f, "invalid pool \"{pool}\": {problem}"),
            K::UnsupportedDatabase(t) => write!(
                f,
                "database type \"{t}\" is not supported: wren supports only \"memfile\""
            ),
            K::UnknownHookLibrary(name) => write!(
                f,
                "hooks library \"{name}\" is not built into wren; wren loads no libraries and implements only libdhcp_lease_cmds.so, libdhcp_stat_cmds.so, libdhcp_subnet_cmds.so, libdhcp_host_cmds.so and libdhcp_ha.so (recognised by file name): remove the entry or use Kea"
            ),
            K::MinAboveValid { min, valid } => write!(
                f,
                "min-valid-lifetime ({min}) is more than valid-lifetime ({valid})"
            ),
            K::MaxBelowValid { max, valid } => write!(
                f,
                "max-valid-lifetime ({max}) is less than valid-lifetime ({valid})"
            ),
            K::MinAboveMax { min, max } => write!(
                f,
                "min-valid-lifetime ({min}) is more than max-valid-lifetime ({max})"
            ),
            K::BoundsWithoutValidLifetime => f.write_str(
                "have min-valid-lifetime and max-valid-lifetime but no valid-lifetime (default)",
            ),
            K::RenewAfterRebind { renew, rebind } => write!(
                f,
                "renew-timer ({renew}) is greater than rebind-timer ({rebind})"
            ),
            K::PercentOutOfRange => f.write_str("percentage must be greater than 0 and less than 1"),
            K::T1NotBelowT2 => f.write_str("t1-percent must be less than t2-percent"),
            K::ReservationModeConflict { flag } => write!(
                f,
                "deprecated \"reservation-mode\" cannot be used together with \"{flag}\" in the same map"
            ),
            K::NoIdentifier => f.write_str(
                "reservation has no identifier (one of hw-address, duid, circuit-id, client-id, flex-id)",
            ),
            K::SeveralIdentifiers { first, second } => write!(
                f,
                "identifiers \"{first}\" and \"{second}\" are mutually exclusive"
            ),
            K::BadIdentifier(v) => write!(
                f,
                "invalid identifier \"{v}\" (hex bytes or 'quoted text')"
            ),
            K::ReservationOutsideSubnet { address } => {
                write!(f, "reserved address {address} is not in the subnet")
            }
            K::DuplicateIdentifier { kind, first } => write!(
                f,
                "duplicate {kind} reservation in the subnet (same as reservations[{first}])"
            ),
            K::DuplicateReservedAddress { address } => write!(
                f,
                "address {address} is reserved twice in the subnet (ip-reservations-unique is true)"
            ),
            K::BadSubnetId => f.write_str("subnet id must be in 1..4294967294"),
            K::DuplicateSubnetId(id) => write!(f, "duplicate subnet id {id}"),
            K::DuplicateSubnet(p) => write!(f, "subnet with the prefix {p} already exists"),
            K::DuplicateSharedNetwork(n) => write!(f, "duplicate shared network name \"{n}\""),
            K::SharedNetworkConflict { key } => write!(
                f,
                "\"{key}\" of a shared-network member differs from the shared network's"
            ),
            K::BadClass { reason } => write!(f, "invalid client class: {reason}"),
            K::DuplicateClass(n) => write!(f, "duplicate client class \"{n}\""),
            K::OptionWithoutNameOrCode => f.write_str("option-data needs \"name\" or \"code\""),
            K::OptionNameCodeMismatch { name, code } => write!(
                f,
                "specified option name \"{name}\" does not match the option code {code}"
            ),
            K::UnknownOption(n) => write!(f, "no definition for option \"{n}\""),
            K::UnknownOptionSpace(s) => write!(f, "unknown option space \"{s}\""),
            K::BadOptionData { reason } => write!(f, "invalid option data: {reason}"),
            K::BadOptionDef { reason } => write!(f, "invalid option-def: {reason}"),
            K::UnsupportedOptionDef { reason } => {
                write!(f, "option-def not supported by wren: {reason}")
            }
            K::StorageFull(kind) => write!(
                f,
                "configuration storage \"{}\" too small (size it with config::measure)",
                kind.field()
            ),
        }
    }
}

/// A configuration error: where, which value, what.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// Line, from 1 (0 when the error is not tied to one place).
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
    /// JSON path of the value (`Dhcp4.subnet4[0].pools[0].pool`).
    pub path: ConfigPath,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

impl ConfigErrorKind {
    /// Whether the configuration is valid for Kea 2.2 but uses something wren does not
    /// implement (as opposed to a configuration Kea would reject too).
    pub fn is_unsupported_feature(&self) -> bool {
        matches!(
            self,
            ConfigErrorKind::UnsupportedDatabase(_)
                | ConfigErrorKind::UnknownHookLibrary(_)
                | ConfigErrorKind::UnsupportedOptionDef { .. }
                | ConfigErrorKind::UnresolvedInclude(_)
        )
    }
}

impl ConfigError {
    /// An error at `pos` for `path`.
    pub fn new(pos: Position, path: &str, kind: ConfigErrorKind) -> Self {
        ConfigError {
            line: pos.line,
            column: pos.column,
            path: path_copy(path),
            kind,
        }
    }

    /// The position as a [`Position`].
    pub fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }
}

pub(crate) fn path_copy(path: &str) -> ConfigPath {
    let mut p = ConfigPath::new();
    for ch in path.chars() {
        if p.push(ch).is_err() {
            break;
        }
    }
    p
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} col {}: ", self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.kind)
    }
}

/// What a [`ConfigWarning`] is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigWarningKind {
    /// A comma before `}` or `]` (Kea: "Extraneous comma. A piece of configuration may have
    /// been omitted.").
    ExtraneousComma,
    /// A Kea 2.2 key wren accepts but does not implement; the value is ignored.
    Unsupported {
        /// The key.
        key: &'static str,
        /// What wren does instead.
        note: &'static str,
    },
    /// `reservation-mode` is deprecated (removed in Kea 2.6); it was mapped to the
    /// `reservations-*` flags.
    DeprecatedReservationMode,
    /// `flex-id` needs Kea's premium flex_id hook; such reservations never match.
    FlexIdNeverMatches,
    /// CSV values Kea silently ignores: every value after the first of a non-array option
    /// (kea-options.md §3.1: `"a.test, b.test"` is sent as `a.test`).
    IgnoredOptionValues {
        /// How many.
        count: u32,
    },
    /// `lease-database.persist` is false: leases are kept in memory only.
    LeasesNotPersisted,
    /// A class `test` uses `known` / `unknown`: wren reads them as `member('KNOWN')` /
    /// `not member('KNOWN')` (the Kea ARM's meaning), but Kea 2.2's lexer rejects them
    /// (`Invalid character: k`), so Kea 2.2 would refuse this config.
    KnownKeywordRejectedByKea,
    /// A key repeated in one map with the same value (same tokens, white space and comments
    /// aside). Kea 2.2 rejects any repeated key; wren accepts this case (the founding user's
    /// config has four) and ignores the later entry. A repeat with a different value is
    /// [`ConfigErrorKind::DuplicateKey`].
    DuplicateKeyIgnored {
        /// The key.
        key: Snippet,
        /// Where it was first given.
        previous: Position,
    },
}

impl fmt::Display for ConfigWarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarningKind::ExtraneousComma => f.write_str(
                "Extraneous comma. A piece of configuration may have been omitted.",
            ),
            ConfigWarningKind::Unsupported { key, note } => {
                write!(f, "\"{key}\" is not supported by wren and is ignored: {note}")
            }
            ConfigWarningKind::DeprecatedReservationMode => f.write_str(
                "\"reservation-mode\" is deprecated (removed in Kea 2.6); use reservations-global/-in-subnet/-out-of-pool",
            ),
            ConfigWarningKind::FlexIdNeverMatches => f.write_str(
                "flex-id needs Kea's flex_id hook, which wren does not implement: flex-id reservations never match",
            ),
            ConfigWarningKind::IgnoredOptionValues { count } => write!(
                f,
                "{count} value(s) after the first are ignored: the option is not an array (as Kea)"
            ),
            ConfigWarningKind::KnownKeywordRejectedByKea => f.write_str(
                "the test uses `known`/`unknown`, read as member('KNOWN')/not member('KNOWN'); \
                 Kea 2.2 rejects these keywords (Invalid character), so Kea 2.2 would refuse this config",
            ),
            ConfigWarningKind::LeasesNotPersisted => {
                f.write_str("lease-database persist is false: leases are kept in memory only")
            }
            ConfigWarningKind::DuplicateKeyIgnored { key, previous } => write!(
                f,
                "duplicate \"{key}\" entries with the same value (previous at line {} col {}); the later one is ignored",
                previous.line, previous.column
            ),
        }
    }
}

/// A warning: the configuration loads, but something deserves the operator's attention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
    /// JSON path.
    pub path: ConfigPath,
    /// What.
    pub kind: ConfigWarningKind,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} col {}: ", self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.kind)
    }
}
