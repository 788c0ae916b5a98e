//! The one table of DHCPv4 option definitions: code, Kea name, value layout and the
//! encapsulated option space of every option Kea 2.2 knows in the `dhcp4` space
//! (kea-options.md §1) and in the DOCSIS3 `vendor-4491` space (§2).
//!
//! Everything that needs to know what an option *is* reads this table: the config parser
//! (option-data by name or code, option-def validation), the data encoder
//! ([`crate::option_data`]) and the reply builder (server-set and basic options).
//!
//! Custom `option-def` entries (kea-config.md §2.9) are validated here too, with the same
//! rules Kea 2.2 applies in `OptionDefinition::validate` and `CfgOptionDef::add`.

use core::fmt;

use crate::config::model::OptionSpace;

/// The value type of an option or of one record field, as named by Kea's type keywords
/// (kea-config.md §2.9 `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptionType {
    /// `empty`: no payload (sub-options of the encapsulated space may follow).
    Empty,
    /// `binary`: opaque bytes.
    Binary,
    /// `boolean`: one byte, 0 or 1.
    Boolean,
    /// `int8`: one byte, two's complement.
    Int8,
    /// `int16`: two bytes, big-endian two's complement.
    Int16,
    /// `int32`: four bytes, big-endian two's complement.
    Int32,
    /// `uint8`: one byte.
    Uint8,
    /// `uint16`: two bytes, big-endian.
    Uint16,
    /// `uint32`: four bytes, big-endian.
    Uint32,
    /// `ipv4-address`: four bytes, network order.
    Ipv4Address,
    /// `ipv6-address`: sixteen bytes, network order.
    Ipv6Address,
    /// `ipv6-prefix`: one length byte, then the prefix bytes.
    Ipv6Prefix,
    /// `psid`: one PSID-length byte, then the PSID as a left-aligned uint16 (RFC 7597).
    Psid,
    /// `string`: text without terminator.
    String,
    /// `fqdn`: a domain name in uncompressed DNS wire format (RFC 1035 §3.1).
    Fqdn,
    /// `tuple`: in DHCPv4, one length byte then that many bytes of text.
    Tuple,
    /// `record`: a fixed sequence of fields of the other types.
    Record,
}

impl OptionType {
    /// Every type with its Kea keyword, in Kea's `OptionDataType` order.
    const KEYWORDS: [(OptionType, &'static str); 17] = [
        (OptionType::Empty, "empty"),
        (OptionType::Binary, "binary"),
        (OptionType::Boolean, "boolean"),
        (OptionType::Int8, "int8"),
        (OptionType::Int16, "int16"),
        (OptionType::Int32, "int32"),
        (OptionType::Uint8, "uint8"),
        (OptionType::Uint16, "uint16"),
        (OptionType::Uint32, "uint32"),
        (OptionType::Ipv4Address, "ipv4-address"),
        (OptionType::Ipv6Address, "ipv6-address"),
        (OptionType::Ipv6Prefix, "ipv6-prefix"),
        (OptionType::Psid, "psid"),
        (OptionType::String, "string"),
        (OptionType::Fqdn, "fqdn"),
        (OptionType::Tuple, "tuple"),
        (OptionType::Record, "record"),
    ];

    /// Parses a Kea type keyword (exact, lower case, as Kea's `OptionDataTypeUtil::getDataType`
    /// matches it). Kea's internal `any-address` and `internal` types are not accepted.
    pub fn from_keyword(keyword: &str) -> Option<OptionType> {
        Self::KEYWORDS
            .iter()
            .find(|(_, name)| *name == keyword)
            .map(|(value_type, _)| *value_type)
    }

    /// The Kea keyword of this type.
    pub fn keyword(self) -> &'static str {
        Self::KEYWORDS
            .iter()
            .find(|(value_type, _)| *value_type == self)
            .map_or("unknown", |(_, name)| name)
    }

    /// The wire size of a value of this type when it is fixed, `None` for variable-length
    /// types (binary, string, fqdn, tuple, ipv6-prefix, record) and for `empty`.
    pub const fn fixed_len(self) -> Option<usize> {
        match self {
            OptionType::Boolean | OptionType::Int8 | OptionType::Uint8 => Some(1),
            OptionType::Int16 | OptionType::Uint16 => Some(2),
            OptionType::Int32 | OptionType::Uint32 | OptionType::Ipv4Address => Some(4),
            OptionType::Ipv6Address => Some(16),
            OptionType::Psid => Some(3),
            _ => None,
        }
    }
}

impl fmt::Display for OptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Most record fields an [`OptionKind`] holds. The widest standard record (81 `fqdn`,
/// 146, 212) has 4 fields; Kea 2.2's own `all-options.json` example defines a custom
/// record of 10 (one of each fixed type). Kea sets no limit, but every field takes at
/// least one byte of a 255-byte option, and each slot costs a byte of every
/// [`OptionKind`] (19 bytes at 16 fields, held inline by the config model), so 16 is the
/// bound: a custom `record-types` list longer than this is rejected with
/// [`OptionDefError::TooManyRecordFields`] (a wren limit, reported as unsupported).
pub const MAX_RECORD_FIELDS: usize = 16;

/// The value layout of an option: its type, whether it repeats, and for records the field
/// types. `Copy`, so a config model can hold it inline.
///
/// Invariant: `field_count` is 0 unless `value_type` is [`OptionType::Record`], and unused
/// entries of `fields` are [`OptionType::Empty`] (so derived equality compares layouts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OptionKind {
    value_type: OptionType,
    array: bool,
    fields: [OptionType; MAX_RECORD_FIELDS],
    field_count: u8,
}

impl OptionKind {
    /// A non-record layout: one value of `value_type`, or an array of them.
    pub const fn scalar(value_type: OptionType, array: bool) -> OptionKind {
        OptionKind {
            value_type,
            array,
            fields: [OptionType::Empty; MAX_RECORD_FIELDS],
            field_count: 0,
        }
    }

    /// A record layout for the const table; the field count is checked at compile time.
    // Indexing is bounded by `N <= MAX_RECORD_FIELDS`, asserted at compile time; `get` is
    // not usable in a const fn.
    #[allow(clippy::indexing_slicing)]
    const fn record<const N: usize>(fields: [OptionType; N], array: bool) -> OptionKind {
        const { assert!(N <= MAX_RECORD_FIELDS) };
        let mut all = [OptionType::Empty; MAX_RECORD_FIELDS];
        let mut i = 0;
        while i < N {
            all[i] = fields[i];
            i += 1;
        }
        OptionKind {
            value_type: OptionType::Record,
            array,
            fields: all,
            field_count: N as u8,
        }
    }

    /// A record layout from a runtime list of field types (a custom `option-def`),
    /// with Kea's record rules checked (see [`OptionKind::from_def`]).
    pub fn try_record(fields: &[OptionType], array: bool) -> Result<OptionKind, OptionDefError> {
        let mut all = [OptionType::Empty; MAX_RECORD_FIELDS];
        if fields.len() > MAX_RECORD_FIELDS {
            return Err(OptionDefError::TooManyRecordFields {
                count: fields.len(),
            });
        }
        for (slot, field) in all.iter_mut().zip(fields) {
            *slot = *field;
        }
        let kind = OptionKind {
            value_type: OptionType::Record,
            array,
            fields: all,
            field_count: fields.len() as u8,
        };
        kind.validate()?;
        Ok(kind)
    }

    /// Builds and validates the layout of an `option-def` entry from its `type`,
    /// `record-types` and `array` values (kea-config.md §2.9).
    ///
    /// Kea 2.2 splits `record-types` on commas, trims each token and skips empty ones
    /// (`OptionDefParser`); a non-empty list for a non-record type is an error ("Unable to add
    /// new field to option definition ... because it is not of the 'record' type").
    pub fn from_def(
        type_keyword: &str,
        record_types: &str,
        array: bool,
    ) -> Result<OptionKind, OptionDefError> {
        let value_type =
            OptionType::from_keyword(type_keyword).ok_or(OptionDefError::UnknownType)?;
        let mut fields = [OptionType::Empty; MAX_RECORD_FIELDS];
        let mut count = 0usize;
        for token in record_types.split(',') {
            let token =
                token.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x08' | '\x0c'));
            if token.is_empty() {
                continue;
            }
            if value_type != OptionType::Record {
                return Err(OptionDefError::RecordTypesOnNonRecord);
            }
            let field =
                OptionType::from_keyword(token).ok_or(OptionDefError::UnknownRecordFieldType)?;
            let slot = fields
                .get_mut(count)
                .ok_or(OptionDefError::TooManyRecordFields {
                    count: record_types
                        .split(',')
                        .filter(|t| !t.trim().is_empty())
                        .count(),
                })?;
            *slot = field;
            count += 1;
        }
        if value_type == OptionType::Record {
            OptionKind::try_record(fields.get(..count).unwrap_or(&[]), array)
        } else {
            let kind = OptionKind::scalar(value_type, array);
            kind.validate()?;
            Ok(kind)
        }
    }

    /// Kea 2.2's `OptionDefinition::validate` rules on the layout.
    fn validate(&self) -> Result<(), OptionDefError> {
        if self.value_type == OptionType::Record {
            let fields = self.record_fields();
            // "invalid number of data fields: N specified for the option of a type
            // 'record'. Expected at least 2 fields."
            if fields.len() < 2 {
                return Err(OptionDefError::TooFewRecordFields {
                    count: fields.len(),
                });
            }
            let last = fields.len() - 1;
            for (i, field) in fields.iter().enumerate() {
                match field {
                    // "attempted to add invalid data type to the record"
                    OptionType::Record => return Err(OptionDefError::RecordInRecord),
                    // "empty data type can't be stored as a field in an option record"
                    OptionType::Empty => return Err(OptionDefError::EmptyRecordField),
                    // "string data field can't be laid before data fields of other types."
                    OptionType::String | OptionType::Binary if i < last => {
                        return Err(OptionDefError::VariableFieldNotLast { field: *field })
                    }
                    _ => {}
                }
            }
            if self.array {
                if let Some(field @ (OptionType::String | OptionType::Binary)) = fields.last() {
                    return Err(OptionDefError::ArrayOfVariableLength { value_type: *field });
                }
            }
        } else if self.array {
            // "array of strings is not a valid option definition" (same for binary, empty)
            if matches!(
                self.value_type,
                OptionType::String | OptionType::Binary | OptionType::Empty
            ) {
                return Err(OptionDefError::ArrayOfVariableLength {
                    value_type: self.value_type,
                });
            }
        }
        Ok(())
    }

    /// The option's type ([`OptionType::Record`] for records).
    pub const fn value_type(&self) -> OptionType {
        self.value_type
    }

    /// Whether the value repeats (for records: the last field repeats).
    pub const fn is_array(&self) -> bool {
        self.array
    }

    /// The record field types; empty unless the type is [`OptionType::Record`].
    pub fn record_fields(&self) -> &[OptionType] {
        self.fields
            .get(..usize::from(self.field_count))
            .unwrap_or(&[])
    }
}

/// One standard option definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionDef {
    /// Option code.
    pub code: u8,
    /// Kea's name for the option (the `name` of `option-data`).
    pub name: &'static str,
    /// Value layout.
    pub kind: OptionKind,
    /// Name of the option space carried as sub-options; empty if none.
    pub encapsulate: &'static str,
}

const fn def(code: u8, name: &'static str, kind: OptionKind) -> OptionDef {
    OptionDef {
        code,
        name,
        kind,
        encapsulate: "",
    }
}

const fn one(value_type: OptionType) -> OptionKind {
    OptionKind::scalar(value_type, false)
}

const fn many(value_type: OptionType) -> OptionKind {
    OptionKind::scalar(value_type, true)
}

use OptionType::{
    Binary, Boolean, Empty, Fqdn, Int32, Ipv4Address as Ipv4, Ipv6Address as Ipv6, Psid,
    String as Text, Uint16, Uint32, Uint8,
};

/// Name of the space option 43 carries (kea-options.md §2).
pub const VENDOR_ENCAPSULATED_SPACE: &str = "vendor-encapsulated-options-space";
/// Name of the space option 82 carries.
pub const AGENT_OPTIONS_SPACE: &str = "dhcp-agent-options-space";

/// Option 43: defined only as Kea's *last-resort* definition, so a user `option-def` for 43
/// in `dhcp4` is allowed (kea-options.md §2).
pub const VENDOR_ENCAPSULATED_OPTIONS: u8 = 43;
/// Option 125: V-I vendor-specific information (RFC 3925).
pub const VIVSO_SUBOPTIONS: u8 = 125;

/// Kea 2.2's standard `dhcp4` option definitions, ascending by code (kea-options.md §1;
/// where the ARM and Kea's `std_option_defs.h` differ, the source wins: 15 is `string`,
/// 85 is `nds-servers`).
pub const DHCP4_DEFS: &[OptionDef] = &[
    def(1, "subnet-mask", one(Ipv4)),
    def(2, "time-offset", one(Int32)),
    def(3, "routers", many(Ipv4)),
    def(4, "time-servers", many(Ipv4)),
    def(5, "name-servers", many(Ipv4)),
    def(6, "domain-name-servers", many(Ipv4)),
    def(7, "log-servers", many(Ipv4)),
    def(8, "cookie-servers", many(Ipv4)),
    def(9, "lpr-servers", many(Ipv4)),
    def(10, "impress-servers", many(Ipv4)),
    def(11, "resource-location-servers", many(Ipv4)),
    def(12, "host-name", one(Text)),
    def(13, "boot-size", one(Uint16)),
    def(14, "merit-dump", one(Text)),
    def(15, "domain-name", one(Text)),
    def(16, "swap-server", one(Ipv4)),
    def(17, "root-path", one(Text)),
    def(18, "extensions-path", one(Text)),
    def(19, "ip-forwarding", one(Boolean)),
    def(20, "non-local-source-routing", one(Boolean)),
    def(21, "policy-filter", many(Ipv4)),
    def(22, "max-dgram-reassembly", one(Uint16)),
    def(23, "default-ip-ttl", one(Uint8)),
    def(24, "path-mtu-aging-timeout", one(Uint32)),
    def(25, "path-mtu-plateau-table", many(Uint16)),
    def(26, "interface-mtu", one(Uint16)),
    def(27, "all-subnets-local", one(Boolean)),
    def(28, "broadcast-address", one(Ipv4)),
    def(29, "perform-mask-discovery", one(Boolean)),
    def(30, "mask-supplier", one(Boolean)),
    def(31, "router-discovery", one(Boolean)),
    def(32, "router-solicitation-address", one(Ipv4)),
    def(33, "static-routes", many(Ipv4)),
    def(34, "trailer-encapsulation", one(Boolean)),
    def(35, "arp-cache-timeout", one(Uint32)),
    def(36, "ieee802-3-encapsulation", one(Boolean)),
    def(37, "default-tcp-ttl", one(Uint8)),
    def(38, "tcp-keepalive-interval", one(Uint32)),
    def(39, "tcp-keepalive-garbage", one(Boolean)),
    def(40, "nis-domain", one(Text)),
    def(41, "nis-servers", many(Ipv4)),
    def(42, "ntp-servers", many(Ipv4)),
    OptionDef {
        encapsulate: VENDOR_ENCAPSULATED_SPACE,
        ..def(43, "vendor-encapsulated-options", one(Empty))
    },
    def(44, "netbios-name-servers", many(Ipv4)),
    def(45, "netbios-dd-server", many(Ipv4)),
    def(46, "netbios-node-type", one(Uint8)),
    def(47, "netbios-scope", one(Text)),
    def(48, "font-servers", many(Ipv4)),
    def(49, "x-display-manager", many(Ipv4)),
    def(50, "dhcp-requested-address", one(Ipv4)),
    def(51, "dhcp-lease-time", one(Uint32)),
    def(52, "dhcp-option-overload", one(Uint8)),
    def(53, "dhcp-message-type", one(Uint8)),
    def(54, "dhcp-server-identifier", one(Ipv4)),
    def(55, "dhcp-parameter-request-list", many(Uint8)),
    def(56, "dhcp-message", one(Text)),
    def(57, "dhcp-max-message-size", one(Uint16)),
    def(58, "dhcp-renewal-time", one(Uint32)),
    def(59, "dhcp-rebinding-time", one(Uint32)),
    def(60, "vendor-class-identifier", one(Text)),
    def(61, "dhcp-client-identifier", one(Binary)),
    def(62, "nwip-domain-name", one(Text)),
    def(63, "nwip-suboptions", one(Binary)),
    def(64, "nisplus-domain-name", one(Text)),
    def(65, "nisplus-servers", many(Ipv4)),
    def(66, "tftp-server-name", one(Text)),
    def(67, "boot-file-name", one(Text)),
    def(68, "mobile-ip-home-agent", many(Ipv4)),
    def(69, "smtp-server", many(Ipv4)),
    def(70, "pop-server", many(Ipv4)),
    def(71, "nntp-server", many(Ipv4)),
    def(72, "www-server", many(Ipv4)),
    def(73, "finger-server", many(Ipv4)),
    def(74, "irc-server", many(Ipv4)),
    def(75, "streettalk-server", many(Ipv4)),
    def(76, "streettalk-directory-assistance-server", many(Ipv4)),
    def(77, "user-class", one(Binary)),
    def(
        78,
        "slp-directory-agent",
        OptionKind::record([Boolean, Ipv4], true),
    ),
    def(
        79,
        "slp-service-scope",
        OptionKind::record([Boolean, Text], false),
    ),
    def(
        81,
        "fqdn",
        OptionKind::record([Uint8, Uint8, Uint8, Fqdn], false),
    ),
    OptionDef {
        encapsulate: AGENT_OPTIONS_SPACE,
        ..def(82, "dhcp-agent-options", one(Empty))
    },
    def(85, "nds-servers", many(Ipv4)),
    def(86, "nds-tree-name", one(Text)),
    def(87, "nds-context", one(Text)),
    def(88, "bcms-controller-names", many(Fqdn)),
    def(89, "bcms-controller-address", many(Ipv4)),
    def(90, "authenticate", one(Binary)),
    def(91, "client-last-transaction-time", one(Uint32)),
    def(92, "associated-ip", many(Ipv4)),
    def(93, "client-system", many(Uint16)),
    def(
        94,
        "client-ndi",
        OptionKind::record([Uint8, Uint8, Uint8], false),
    ),
    def(97, "uuid-guid", OptionKind::record([Uint8, Binary], false)),
    def(98, "uap-servers", one(Text)),
    def(99, "geoconf-civic", one(Binary)),
    def(100, "pcode", one(Text)),
    def(101, "tcode", one(Text)),
    def(108, "v6-only-preferred", one(Uint32)),
    def(112, "netinfo-server-address", many(Ipv4)),
    def(113, "netinfo-server-tag", one(Text)),
    def(114, "v4-captive-portal", one(Text)),
    def(116, "auto-config", one(Uint8)),
    def(117, "name-service-search", many(Uint16)),
    def(118, "subnet-selection", one(Ipv4)),
    def(119, "domain-search", many(Fqdn)),
    def(
        124,
        "vivco-suboptions",
        OptionKind::record([Uint32, Binary], false),
    ),
    def(125, "vivso-suboptions", one(Uint32)),
    def(136, "pana-agent", many(Ipv4)),
    def(137, "v4-lost", one(Fqdn)),
    def(138, "capwap-ac-v4", many(Ipv4)),
    def(141, "sip-ua-cs-domains", many(Fqdn)),
    def(
        146,
        "rdnss-selection",
        OptionKind::record([Uint8, Ipv4, Ipv4, Fqdn], true),
    ),
    def(
        159,
        "v4-portparams",
        OptionKind::record([Uint8, Psid], false),
    ),
    def(
        212,
        "option-6rd",
        OptionKind::record([Uint8, Uint8, Ipv6, Ipv4], true),
    ),
    def(213, "v4-access-domain", one(Fqdn)),
];

/// The DOCSIS3 CableLabs enterprise number, whose `vendor-4491` space Kea 2.2 defines.
pub const DOCSIS3_ENTERPRISE: u32 = 4491;

/// Kea 2.2's `vendor-4491` definitions (`docsis3_option_defs.h`, v4 part).
pub const VENDOR_4491_DEFS: &[OptionDef] = &[
    def(1, "oro", many(Uint8)),
    def(2, "tftp-servers", many(Ipv4)),
];

/// Options the server sets itself (kea-options.md §4.1): 1 subnet-mask, 12 host-name,
/// 51 lease time, 53 message type, 54 server identifier, 58/59 T1/T2, 61 client identifier,
/// 81 client FQDN, 82 relay agent information.
pub const SERVER_SET_CODES: [u8; 10] = [1, 12, 51, 53, 54, 58, 59, 61, 81, 82];

/// Options added to a reply even when the client did not request them, if configured
/// (kea-options.md §4.2 step 4): routers, domain-name-servers, domain-name, server id.
pub const BASIC_CODES: [u8; 4] = [3, 6, 15, 54];

/// Whether the server fills option `code` itself (see [`SERVER_SET_CODES`]).
pub fn is_server_set(code: u8) -> bool {
    SERVER_SET_CODES.contains(&code)
}

/// Whether option `code` is sent unrequested when configured (see [`BASIC_CODES`]).
pub fn is_basic(code: u8) -> bool {
    BASIC_CODES.contains(&code)
}

/// The standard definitions of a space: `dhcp4` and `vendor-4491` have some, every other
/// space has none (its options need a user `option-def`).
pub fn standard_defs(space: &OptionSpace) -> &'static [OptionDef] {
    match space {
        OptionSpace::Dhcp4 => DHCP4_DEFS,
        OptionSpace::Vendor(DOCSIS3_ENTERPRISE) => VENDOR_4491_DEFS,
        _ => &[],
    }
}

/// Kea's name for the space holding the DOCSIS3 v4 definitions outside option 125
/// (`DOCSIS3_V4_OPTION_SPACE`): the same [`VENDOR_4491_DEFS`] as `vendor-4491`. Nothing
/// encapsulates it in DHCPv4, so its option-data is validated and stored but not sent
/// (Kea 2.2's `all-options.json` configures `oro` and `tftp-servers` there).
pub const DOCSIS3_V4_SPACE: &str = "docsis3-v4";

/// The standard definitions of a space known by name only (an
/// [`OptionSpace::Custom`] space): [`DOCSIS3_V4_SPACE`] has Kea's DOCSIS3 ones, any other
/// none.
pub fn standard_defs_named(space_name: &str) -> &'static [OptionDef] {
    if space_name == DOCSIS3_V4_SPACE {
        VENDOR_4491_DEFS
    } else {
        &[]
    }
}

/// The definition with this code in a table (tables are sorted by code).
pub fn code_in(defs: &'static [OptionDef], code: u8) -> Option<&'static OptionDef> {
    find_code(defs, code)
}

/// The definition with this exact name in a table.
pub fn name_in(defs: &'static [OptionDef], name: &str) -> Option<&'static OptionDef> {
    find_name(defs, name)
}

/// The standard `dhcp4` definition with this code (the table is sorted by code).
pub fn by_code(code: u8) -> Option<&'static OptionDef> {
    find_code(DHCP4_DEFS, code)
}

/// The standard `dhcp4` definition with this exact Kea name (case-sensitive, as Kea).
pub fn by_name(name: &str) -> Option<&'static OptionDef> {
    find_name(DHCP4_DEFS, name)
}

/// The standard definition with this code in `space`.
pub fn by_code_in(space: &OptionSpace, code: u8) -> Option<&'static OptionDef> {
    find_code(standard_defs(space), code)
}

/// The standard definition with this name in `space`.
pub fn by_name_in(space: &OptionSpace, name: &str) -> Option<&'static OptionDef> {
    find_name(standard_defs(space), name)
}

fn find_code(defs: &'static [OptionDef], code: u8) -> Option<&'static OptionDef> {
    defs.binary_search_by_key(&code, |d| d.code)
        .ok()
        .and_then(|i| defs.get(i))
}

fn find_name(defs: &'static [OptionDef], name: &str) -> Option<&'static OptionDef> {
    defs.iter().find(|d| d.name == name)
}

/// Kea's rule for option names and option space names (`OptionDefinition::validate`,
/// `OptionSpace::validateName`): non-empty; only ASCII letters, digits, `-` and `_`; not
/// starting or ending with `-` or `_`.
pub fn is_valid_name(name: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let edge_ok = |b: Option<&u8>| matches!(b, Some(b) if *b != b'-' && *b != b'_');
    name.bytes().all(allowed) && edge_ok(name.as_bytes().first()) && edge_ok(name.as_bytes().last())
}

/// Checks the identity of a custom `option-def` (kea-config.md §2.9): name and
/// encapsulated space syntax, code range, and that it does not redefine a standard option.
///
/// Kea 2.2 (`OptionDefParser`, `CfgOptionDef::add`; checked with `kea-dhcp4 -t`): in
/// `dhcp4`, code 0 is "reserved for PAD" and 255 "reserved for END"; a definition whose
/// code or name is a standard `dhcp4` definition is rejected ("unable to override
/// definition of option '3' in standard option space 'dhcp4'"). Option 43 has only a
/// last-resort definition, so it may be defined. Every other space accepts any code and
/// name, even `vendor-4491` codes 1 and 2 (for option-data Kea still uses the standard
/// definition there). The `space` name itself must pass [`is_valid_name`] (the caller
/// checks it when reading `space`); codes above 255 are the caller's range check.
pub fn check_custom_def(
    space: &OptionSpace,
    name: &str,
    code: u8,
    encapsulate: &str,
) -> Result<(), OptionDefError> {
    if !is_valid_name(name) {
        return Err(OptionDefError::InvalidName);
    }
    if !encapsulate.is_empty() && !is_valid_name(encapsulate) {
        return Err(OptionDefError::InvalidEncapsulatedSpace);
    }
    if *space != OptionSpace::Dhcp4 {
        return Ok(());
    }
    if code == 0 || code == 255 {
        return Err(OptionDefError::ReservedCode { code });
    }
    let redefines = |d: &&OptionDef| d.code != VENDOR_ENCAPSULATED_OPTIONS;
    if let Some(standard) = by_code(code).filter(redefines) {
        return Err(OptionDefError::RedefinesStandard {
            code: standard.code,
        });
    }
    if let Some(standard) = by_name(name).filter(redefines) {
        return Err(OptionDefError::RedefinesStandard {
            code: standard.code,
        });
    }
    Ok(())
}

/// Why a custom `option-def` is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionDefError {
    /// `type` is not one of Kea's type keywords.
    UnknownType,
    /// A `record-types` entry is not one of Kea's type keywords.
    UnknownRecordFieldType,
    /// `record-types` given for a type other than `record`.
    RecordTypesOnNonRecord,
    /// A record needs at least 2 fields.
    TooFewRecordFields {
        /// Fields given.
        count: usize,
    },
    /// More record fields than [`MAX_RECORD_FIELDS`].
    TooManyRecordFields {
        /// Fields given.
        count: usize,
    },
    /// A record field of type `record`.
    RecordInRecord,
    /// A record field of type `empty`.
    EmptyRecordField,
    /// A `string` or `binary` field that is not the last one of a record.
    VariableFieldNotLast {
        /// The offending field type.
        field: OptionType,
    },
    /// An array of `string`, `binary` or `empty` values (or a record array whose last field
    /// is one of those).
    ArrayOfVariableLength {
        /// The repeated type.
        value_type: OptionType,
    },
    /// The name breaks the option name rules (see [`is_valid_name`]).
    InvalidName,
    /// The `encapsulate` space name breaks the space name rules.
    InvalidEncapsulatedSpace,
    /// Code 0 (PAD) or 255 (END) in `dhcp4`.
    ReservedCode {
        /// The code.
        code: u8,
    },
    /// The code or name belongs to a standard definition of the same space.
    RedefinesStandard {
        /// Code of the standard definition it collides with.
        code: u8,
    },
}

impl fmt::Display for OptionDefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionDefError::UnknownType => f.write_str("unknown option type"),
            OptionDefError::UnknownRecordFieldType => {
                f.write_str("invalid record type values specified for the option definition")
            }
            OptionDefError::RecordTypesOnNonRecord => {
                f.write_str("record-types given for an option definition that is not of the 'record' type")
            }
            OptionDefError::TooFewRecordFields { count } => write!(
                f,
                "invalid number of data fields: {count} specified for the option of a type 'record'; expected at least 2 fields"
            ),
            OptionDefError::TooManyRecordFields { count } => write!(
                f,
                "{count} record fields specified; at most {MAX_RECORD_FIELDS} are supported"
            ),
            OptionDefError::RecordInRecord => f.write_str("a record field can't be of type 'record'"),
            OptionDefError::EmptyRecordField => {
                f.write_str("empty data type can't be stored as a field in an option record")
            }
            OptionDefError::VariableFieldNotLast { field } => {
                write!(f, "{field} data field can't be laid before data fields of other types")
            }
            OptionDefError::ArrayOfVariableLength { value_type } => {
                write!(f, "array of {value_type} values is not a valid option definition")
            }
            OptionDefError::InvalidName => f.write_str(
                "invalid option name: only letters, digits, '-' and '_', not starting or ending with '-' or '_'",
            ),
            OptionDefError::InvalidEncapsulatedSpace => f.write_str("invalid encapsulated option space name"),
            OptionDefError::ReservedCode { code: 0 } => f.write_str("invalid option code '0': reserved for PAD"),
            OptionDefError::ReservedCode { code } => write!(f, "invalid option code '{code}': reserved for END"),
            OptionDefError::RedefinesStandard { code } => {
                write!(f, "unable to override definition of standard option '{code}'")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_unique_names_and_ascending_codes() {
        for table in [DHCP4_DEFS, VENDOR_4491_DEFS] {
            for pair in table.windows(2) {
                assert!(
                    pair[0].code < pair[1].code,
                    "{} then {}",
                    pair[0].code,
                    pair[1].code
                );
            }
            for (i, a) in table.iter().enumerate() {
                assert!(is_valid_name(a.name), "{}", a.name);
                for b in &table[i + 1..] {
                    assert_ne!(a.name, b.name);
                }
                // Every standard layout obeys the rules custom definitions are held to.
                assert_eq!(a.kind.validate(), Ok(()), "{}", a.name);
            }
        }
        assert_eq!(DHCP4_DEFS.len(), 114);
        assert!(DHCP4_DEFS.iter().all(|d| d.code != 0 && d.code != 255));
    }

    #[test]
    fn lookups_by_code_and_name() {
        let dns = by_name("domain-name-servers").unwrap();
        assert_eq!(dns.code, 6);
        assert_eq!(dns.kind, OptionKind::scalar(OptionType::Ipv4Address, true));
        assert_eq!(by_code(93).unwrap().name, "client-system");
        assert_eq!(
            by_code(93).unwrap().kind,
            OptionKind::scalar(OptionType::Uint16, true)
        );
        assert_eq!(by_name("v4-captive-portal").unwrap().code, 114);
        assert_eq!(
            by_name("domain-name").unwrap().kind.value_type(),
            OptionType::String
        );
        assert_eq!(
            by_name("domain-search").unwrap().kind,
            OptionKind::scalar(OptionType::Fqdn, true)
        );
        assert_eq!(by_name("nds-servers").unwrap().code, 85);
        assert!(by_name("nds-server").is_none());
        assert!(by_name("Routers").is_none());
        assert!(by_name("default-url").is_none());
        assert!(by_code(121).is_none());
        assert!(by_code(80).is_none());
        assert!(by_code(0).is_none());
        assert!(by_code(255).is_none());
        assert_eq!(by_code(213).unwrap().name, "v4-access-domain");
        assert_eq!(by_code(1).unwrap().name, "subnet-mask");
        assert_eq!(by_code(43).unwrap().encapsulate, VENDOR_ENCAPSULATED_SPACE);
        assert_eq!(by_code(82).unwrap().encapsulate, AGENT_OPTIONS_SPACE);
        let fqdn = by_code(81).unwrap().kind;
        assert_eq!(fqdn.record_fields(), &[Uint8, Uint8, Uint8, Fqdn]);
        assert!(!fqdn.is_array());
        let rd6 = by_name("option-6rd").unwrap().kind;
        assert_eq!(rd6.record_fields(), &[Uint8, Uint8, Ipv6, Ipv4]);
        assert!(rd6.is_array());
        assert_eq!(by_code(61).unwrap().kind.record_fields(), &[]);
    }

    #[test]
    fn lookups_in_spaces() {
        let docsis = OptionSpace::Vendor(4491);
        assert_eq!(by_code_in(&docsis, 2).unwrap().name, "tftp-servers");
        assert_eq!(
            by_name_in(&docsis, "oro").unwrap().kind,
            OptionKind::scalar(Uint8, true)
        );
        assert!(by_code_in(&OptionSpace::Vendor(9), 2).is_none());
        assert!(by_code_in(&OptionSpace::VendorEncapsulated, 1).is_none());
        assert!(by_code_in(&OptionSpace::AgentOptions, 1).is_none());
        assert_eq!(by_code_in(&OptionSpace::Dhcp4, 3).unwrap().name, "routers");
    }

    #[test]
    fn server_set_and_basic_marks() {
        for code in [1, 12, 51, 53, 54, 58, 59, 61, 81, 82] {
            assert!(is_server_set(code), "{code}");
            assert!(by_code(code).is_some());
        }
        assert!(!is_server_set(3));
        assert!(!is_server_set(6));
        for code in [3, 6, 15, 54] {
            assert!(is_basic(code));
        }
        assert!(!is_basic(119));
        assert!(!is_basic(1));
    }

    #[test]
    fn type_keywords_round_trip() {
        for (value_type, keyword) in OptionType::KEYWORDS {
            assert_eq!(OptionType::from_keyword(keyword), Some(value_type));
            assert_eq!(value_type.keyword(), keyword);
        }
        assert_eq!(OptionType::from_keyword("ipv4"), None);
        assert_eq!(OptionType::from_keyword("UINT8"), None);
        assert_eq!(OptionType::from_keyword("any-address"), None);
        assert_eq!(OptionType::from_keyword("internal"), None);
        assert_eq!(OptionType::from_keyword(""), None);
    }

    #[test]
    fn custom_def_layouts() {
        let k = OptionKind::from_def("record", "uint8, ipv4-address,string", false).unwrap();
        assert_eq!(k.record_fields(), &[Uint8, Ipv4, Text]);
        assert_eq!(k.value_type(), OptionType::Record);
        // Empty tokens are skipped, as Kea's tokenizer does.
        let k = OptionKind::from_def("record", ",uint16,, uint32,", true).unwrap();
        assert_eq!(k.record_fields(), &[Uint16, Uint32]);
        assert!(k.is_array());
        assert_eq!(
            OptionKind::from_def("uint32", "", true),
            Ok(OptionKind::scalar(Uint32, true))
        );
        assert_eq!(
            OptionKind::from_def("tuple", " ", true),
            Ok(OptionKind::scalar(OptionType::Tuple, true))
        );
        // Equality ignores nothing: same layout, same value.
        assert_eq!(
            OptionKind::from_def("record", "boolean,ipv4-address", true).unwrap(),
            by_code(78).unwrap().kind
        );
    }

    #[test]
    fn custom_def_layout_errors() {
        use OptionDefError as E;
        assert_eq!(OptionKind::from_def("ipv4", "", false), Err(E::UnknownType));
        assert_eq!(
            OptionKind::from_def("Uint8", "", false),
            Err(E::UnknownType)
        );
        assert_eq!(
            OptionKind::from_def("record", "uint8, ipv5", false),
            Err(E::UnknownRecordFieldType)
        );
        assert_eq!(
            OptionKind::from_def("uint8", "uint8", false),
            Err(E::RecordTypesOnNonRecord)
        );
        assert_eq!(
            OptionKind::from_def("record", "", false),
            Err(E::TooFewRecordFields { count: 0 })
        );
        assert_eq!(
            OptionKind::from_def("record", "uint8", false),
            Err(E::TooFewRecordFields { count: 1 })
        );
        let fields = |n: usize| std::vec!["uint8"; n].join(",");
        assert_eq!(
            OptionKind::from_def("record", &fields(MAX_RECORD_FIELDS + 1), false),
            Err(E::TooManyRecordFields { count: 17 })
        );
        let widest = OptionKind::from_def("record", &fields(MAX_RECORD_FIELDS), false).unwrap();
        assert_eq!(widest.record_fields(), [Uint8; 16]);
        // Kea 2.2's all-options.json: one record of 10 fields.
        let ten = OptionKind::from_def(
            "record",
            "int8, int16, int32, uint8, uint16, uint32, ipv4-address, psid, tuple, fqdn",
            false,
        )
        .unwrap();
        assert_eq!(ten.record_fields().len(), 10);
        assert_eq!(
            OptionKind::from_def("record", "uint8, record", false),
            Err(E::RecordInRecord)
        );
        assert_eq!(
            OptionKind::try_record(&[Uint8, OptionType::Record], false),
            Err(E::RecordInRecord)
        );
        assert_eq!(
            OptionKind::from_def("record", "empty, uint8", false),
            Err(E::EmptyRecordField)
        );
        assert_eq!(
            OptionKind::from_def("record", "string, uint8", false),
            Err(E::VariableFieldNotLast { field: Text })
        );
        assert_eq!(
            OptionKind::from_def("record", "binary, uint8", false),
            Err(E::VariableFieldNotLast { field: Binary })
        );
        assert!(OptionKind::from_def("record", "uint8, binary", false).is_ok());
        assert_eq!(
            OptionKind::from_def("record", "uint8, string", true),
            Err(E::ArrayOfVariableLength { value_type: Text })
        );
        assert_eq!(
            OptionKind::from_def("string", "", true),
            Err(E::ArrayOfVariableLength { value_type: Text })
        );
        assert_eq!(
            OptionKind::from_def("binary", "", true),
            Err(E::ArrayOfVariableLength { value_type: Binary })
        );
        assert_eq!(
            OptionKind::from_def("empty", "", true),
            Err(E::ArrayOfVariableLength { value_type: Empty })
        );
        assert_eq!(
            OptionKind::try_record(&[Uint8; 17], false),
            Err(E::TooManyRecordFields { count: 17 })
        );
    }

    #[test]
    fn an_option_kind_stays_small() {
        // Held inline by every custom definition and standard table entry: one byte per
        // record slot plus type, array flag and count.
        assert_eq!(core::mem::size_of::<OptionType>(), 1);
        assert_eq!(core::mem::size_of::<OptionKind>(), MAX_RECORD_FIELDS + 3);
    }

    #[test]
    fn names() {
        for good in ["a", "foo", "foo-bar_baz9", "9x", "vendor-4491", "A-b"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "_a", "a_", "a b", "a.b", "é", "a/b", "-"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn custom_def_identity() {
        use OptionDefError as E;
        let v4 = OptionSpace::Dhcp4;
        assert_eq!(check_custom_def(&v4, "my-opt", 222, ""), Ok(()));
        assert_eq!(
            check_custom_def(&v4, "classless-static-route", 121, ""),
            Ok(())
        );
        assert_eq!(
            check_custom_def(&v4, "routers2", 3, ""),
            Err(E::RedefinesStandard { code: 3 })
        );
        assert_eq!(
            check_custom_def(&v4, "routers", 222, ""),
            Err(E::RedefinesStandard { code: 3 })
        );
        assert_eq!(check_custom_def(&v4, "pxe", 43, "my-space"), Ok(()));
        assert_eq!(
            check_custom_def(&v4, "x", 0, ""),
            Err(E::ReservedCode { code: 0 })
        );
        assert_eq!(
            check_custom_def(&v4, "x", 255, ""),
            Err(E::ReservedCode { code: 255 })
        );
        assert_eq!(check_custom_def(&v4, "-x", 222, ""), Err(E::InvalidName));
        assert_eq!(
            check_custom_def(&v4, "x", 222, "bad space"),
            Err(E::InvalidEncapsulatedSpace)
        );
        // Sub-option spaces: 0 and 255 are ordinary codes, dhcp4 names are free.
        let vendor = OptionSpace::VendorEncapsulated;
        assert_eq!(check_custom_def(&vendor, "routers", 3, ""), Ok(()));
        assert_eq!(check_custom_def(&vendor, "x", 0, ""), Ok(()));
        // Kea 2.2 accepts these (kea-dhcp4 -t).
        let docsis = OptionSpace::Vendor(4491);
        assert_eq!(check_custom_def(&docsis, "x", 2, ""), Ok(()));
        assert_eq!(check_custom_def(&docsis, "oro", 5, ""), Ok(()));
        assert_eq!(check_custom_def(&docsis, "x", 0, ""), Ok(()));
    }

    #[test]
    fn errors_display() {
        use std::string::ToString;
        assert_eq!(
            OptionDefError::ArrayOfVariableLength { value_type: Text }.to_string(),
            "array of string values is not a valid option definition"
        );
        assert_eq!(
            OptionDefError::RedefinesStandard { code: 3 }.to_string(),
            "unable to override definition of standard option '3'"
        );
    }
}

#[cfg(test)]
mod kea_vectors;
