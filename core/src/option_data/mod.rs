//! Kea `option-data` text to wire bytes (kea-options.md §3), written into a caller buffer
//! without allocating.
//!
//! Two input forms, as Kea 2.2's `OptionDataParser::createOption` reads them:
//! * `csv-format: true` (the default, only for options with a definition): `data` is a
//!   comma-separated list of typed values ([`encode_csv`]);
//! * `csv-format: false`, or an option without definition: `data` is hex or `'quoted text'`
//!   ([`encode_raw`]); with a definition the bytes are then checked against it, as Kea
//!   builds the option from them ([`check_wire`]).
//!
//! [`encode`] picks the form. Sub-option carriers (43, 125) are assembled by
//! [`encode_suboptions`] and [`encode_vivso`]; raw bytes given to an `empty` option are
//! cut to what Kea keeps by [`empty_option_payload_len`].
//!
//! `data` is the JSON string value after JSON unescaping: the JSON text `"a\\,b"` arrives
//! here as `a\,b`, which CSV reads as the single value `a,b`.
//!
//! The rules here were checked against kea-dhcp4 2.2.0 (`-t` for errors, and option
//! bytes captured from its DHCPOFFERs in a private namespace on 198.18.0.0/24); the tests
//! carry those vectors. Where Kea 2.2 accepts nonsense, wren refuses it instead:
//! * an IPv6 address for an `ipv4-address` value (Kea writes its 16 bytes, so routers
//!   `"::1"` becomes four addresses) is [`OptionDataError::BadIpv4`];
//! * an IPv4 address for an `ipv6-address` value is [`OptionDataError::BadIpv6`] (Kea
//!   fails later or misaligns the record);
//! * an `ipv6-prefix` length over 128 in CSV is [`OptionDataError::BadIpv6Prefix`].
//!
//! Kea also sends arrays of `ipv6-address` in DHCPv4 with a 2-byte length field (a Kea
//! bug); wren encodes the value and leaves framing to the reply writer.

use core::fmt;

use crate::option_def::{OptionKind, OptionType};

/// Why `data` cannot be turned into an option payload. Tokens are the offending value as
/// written in `data` (trimmed, escapes not yet removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionDataError<'a> {
    /// A non-`empty` option with no value at all (Kea: "no option value specified").
    NoValue,
    /// A record got fewer values than it has fields.
    TooFewRecordFields {
        /// Fields of the record.
        fields: usize,
        /// Values given.
        values: usize,
    },
    /// Text that is neither a decimal nor a hexadecimal integer.
    NotAnInteger {
        /// The value.
        token: &'a str,
    },
    /// An integer outside the range of its type.
    IntegerOutOfRange {
        /// The value.
        token: &'a str,
        /// The integer type.
        value_type: OptionType,
    },
    /// Not `true`, `false`, `1` or `0`.
    BadBoolean {
        /// The value.
        token: &'a str,
    },
    /// Not a dotted-quad IPv4 address.
    BadIpv4 {
        /// The value.
        token: &'a str,
    },
    /// Not an RFC 4291 IPv6 address.
    BadIpv6 {
        /// The value.
        token: &'a str,
    },
    /// Not `address/length`, or a length above 128.
    BadIpv6Prefix {
        /// The value.
        token: &'a str,
    },
    /// Not `psid/length`, a length above 16, or a PSID wider than its length.
    BadPsid {
        /// The value.
        token: &'a str,
    },
    /// A string value that is empty, or only NUL characters.
    EmptyString,
    /// A domain name with an empty label, a bad `\DDD` escape, or no labels.
    BadFqdn {
        /// The value.
        token: &'a str,
    },
    /// A domain name label longer than 63 bytes (RFC 1035 §2.3.4).
    FqdnLabelTooLong {
        /// The value.
        token: &'a str,
    },
    /// A domain name longer than 255 bytes in wire form (RFC 1035 §2.3.4).
    FqdnTooLong {
        /// The value.
        token: &'a str,
    },
    /// A character that is not a hexadecimal digit where hex is expected.
    NotHex {
        /// The value.
        token: &'a str,
    },
    /// A `binary` value with an odd number of hex digits.
    OddHexLength {
        /// The value.
        token: &'a str,
    },
    /// Separated hex (`01:02`) with an empty group (`01::02`, trailing separator).
    EmptyHexGroup {
        /// The data.
        token: &'a str,
    },
    /// Separated hex with a group of more than two digits (also: `:` and space mixed).
    HexGroupTooLong {
        /// The data.
        token: &'a str,
    },
    /// A tuple longer than 255 bytes (its length field is one byte in DHCPv4).
    TupleTooLong {
        /// The value.
        token: &'a str,
    },
    /// A value given for an option of type `empty`.
    ValueForEmptyType {
        /// The value.
        token: &'a str,
    },
    /// `csv-format: true` for an option that has no definition.
    CsvWithoutDefinition,
    /// Wire bytes too short for a value of this type.
    Truncated {
        /// The type being read.
        value_type: OptionType,
    },
    /// Wire bytes of an array whose length is not a multiple of the element size, or an
    /// array with no element (allowed only for address lists).
    BadArrayLength {
        /// The element type.
        value_type: OptionType,
    },
    /// Wire bytes that are not a valid value of the type (bad label, prefix length…).
    BadWireValue {
        /// The type being read.
        value_type: OptionType,
    },
    /// A sub-option payload longer than 255 bytes, or option 125's vendor data over 255.
    SubOptionTooLong {
        /// Sub-option code.
        code: u8,
    },
    /// The caller's output buffer is full.
    OutputTooSmall,
}

impl<'a> OptionDataError<'a> {
    /// A fixed description of the problem, without the offending value: for error types
    /// that cannot borrow `data` (use [`OptionDataError::token`] for the value).
    pub fn reason(&self) -> &'static str {
        match self {
            OptionDataError::NoValue => "no option value specified",
            OptionDataError::TooFewRecordFields { .. } => {
                "fewer values than the option's record has fields"
            }
            OptionDataError::NotAnInteger { .. } => "value is not an integer",
            OptionDataError::IntegerOutOfRange { .. } => "integer out of range for its type",
            OptionDataError::BadBoolean { .. } => "value is not true, false, 1 or 0",
            OptionDataError::BadIpv4 { .. } => "value is not an IPv4 address",
            OptionDataError::BadIpv6 { .. } => "value is not an IPv6 address",
            OptionDataError::BadIpv6Prefix { .. } => "value is not an IPv6 prefix (address/length)",
            OptionDataError::BadPsid { .. } => "value is not a PSID (psid/length)",
            OptionDataError::EmptyString => "string value is empty",
            OptionDataError::BadFqdn { .. } => "value is not a domain name",
            OptionDataError::FqdnLabelTooLong { .. } => "domain name label longer than 63 bytes",
            OptionDataError::FqdnTooLong { .. } => "domain name longer than 255 bytes",
            OptionDataError::NotHex { .. } => "not a valid string of hexadecimal digits",
            OptionDataError::OddHexLength { .. } => "odd number of hexadecimal digits",
            OptionDataError::EmptyHexGroup { .. } => "two consecutive separators in hex data",
            OptionDataError::HexGroupTooLong { .. } => "hex group longer than two digits",
            OptionDataError::TupleTooLong { .. } => "tuple longer than 255 bytes",
            OptionDataError::ValueForEmptyType { .. } => "option of type empty takes no value",
            OptionDataError::CsvWithoutDefinition => {
                "option has no definition: csv-format must be false"
            }
            OptionDataError::Truncated { .. } => "option data too short for its definition",
            OptionDataError::BadArrayLength { .. } => "option data length does not fit the array",
            OptionDataError::BadWireValue { .. } => "option data does not match its definition",
            OptionDataError::SubOptionTooLong { .. } => "sub-options do not fit in 255 bytes",
            OptionDataError::OutputTooSmall => "option payload buffer is full",
        }
    }

    /// The offending value as written in `data`, when the error is about one value.
    pub fn token(&self) -> Option<&'a str> {
        match *self {
            OptionDataError::NotAnInteger { token }
            | OptionDataError::IntegerOutOfRange { token, .. }
            | OptionDataError::BadBoolean { token }
            | OptionDataError::BadIpv4 { token }
            | OptionDataError::BadIpv6 { token }
            | OptionDataError::BadIpv6Prefix { token }
            | OptionDataError::BadPsid { token }
            | OptionDataError::BadFqdn { token }
            | OptionDataError::FqdnLabelTooLong { token }
            | OptionDataError::FqdnTooLong { token }
            | OptionDataError::NotHex { token }
            | OptionDataError::OddHexLength { token }
            | OptionDataError::EmptyHexGroup { token }
            | OptionDataError::HexGroupTooLong { token }
            | OptionDataError::TupleTooLong { token }
            | OptionDataError::ValueForEmptyType { token } => Some(token),
            _ => None,
        }
    }
}

impl fmt::Display for OptionDataError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionDataError::NoValue => f.write_str("no option value specified"),
            OptionDataError::TooFewRecordFields { fields, values } => write!(
                f,
                "number of data fields for the option ({fields}) is greater than number of values provided ({values})"
            ),
            OptionDataError::NotAnInteger { token } => {
                write!(f, "unable to convert the value '{token}' to integer data type")
            }
            OptionDataError::IntegerOutOfRange { token, value_type } => {
                let (min, max) = integer_range(*value_type);
                write!(
                    f,
                    "unable to convert '{token}' to {value_type}: the value is expected to be in the range of {min}..{max}"
                )
            }
            OptionDataError::BadBoolean { token } => {
                write!(f, "unable to convert the value '{token}' to boolean data type")
            }
            OptionDataError::BadIpv4 { token } => write!(f, "'{token}' is not a valid IPv4 address"),
            OptionDataError::BadIpv6 { token } => write!(f, "'{token}' is not a valid IPv6 address"),
            OptionDataError::BadIpv6Prefix { token } => {
                write!(f, "provided address/prefix '{token}' is not valid")
            }
            OptionDataError::BadPsid { token } => write!(f, "provided PSID value '{token}' is not valid"),
            OptionDataError::EmptyString => f.write_str("string value must not be empty"),
            OptionDataError::BadFqdn { token } => write!(f, "'{token}' is not a valid domain name"),
            OptionDataError::FqdnLabelTooLong { token } => {
                write!(f, "domain name '{token}' has a label longer than 63 bytes")
            }
            OptionDataError::FqdnTooLong { token } => {
                write!(f, "domain name '{token}' is longer than 255 bytes")
            }
            OptionDataError::NotHex { token } => {
                write!(f, "'{token}' is not a valid string of hexadecimal digits")
            }
            OptionDataError::OddHexLength { token } => {
                write!(f, "'{token}' has an odd number of hexadecimal digits")
            }
            OptionDataError::EmptyHexGroup { token } => {
                write!(f, "two consecutive separators specified in a decoded string '{token}'")
            }
            OptionDataError::HexGroupTooLong { token } => {
                write!(f, "invalid format of the decoded string '{token}'")
            }
            OptionDataError::TupleTooLong { token } => {
                write!(f, "invalid tuple value '{token}' (longer than 255 bytes)")
            }
            OptionDataError::ValueForEmptyType { token } => {
                write!(f, "option of type 'empty' takes no value, got '{token}'")
            }
            OptionDataError::CsvWithoutDefinition => f.write_str(
                "the option has no definition: its data can only be given with csv-format false (hex or 'text')",
            ),
            OptionDataError::Truncated { value_type } => {
                write!(f, "option data too short for a {value_type} value")
            }
            OptionDataError::BadArrayLength { value_type } => {
                write!(f, "option data length is not a whole number of {value_type} values")
            }
            OptionDataError::BadWireValue { value_type } => {
                write!(f, "option data is not a valid {value_type} value")
            }
            OptionDataError::SubOptionTooLong { code } => {
                write!(f, "sub-option {code} does not fit in 255 bytes")
            }
            OptionDataError::OutputTooSmall => f.write_str("option payload buffer is full"),
        }
    }
}

/// The result of a successful encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Bytes written to the start of the output buffer.
    pub len: usize,
    /// CSV values that Kea silently ignores: every value after the first of a non-array
    /// option, and values beyond the fields of a non-array record (kea-options.md §3.1:
    /// a string option `"a.test, b.test"` is sent as `a.test`). The config parser should
    /// warn when this is not zero.
    pub ignored_values: usize,
}

/// Converts an `option-data` `data` text to the option payload (without code and length)
/// in `out`, returning the number of bytes written.
///
/// `kind` is the option's definition (`None`: no definition, the payload is opaque);
/// `csv_format` is the entry's `csv-format`, default `true`. Kea 2.2 accepts an option
/// without definition only with an explicit `csv-format: false` (checked with `kea-dhcp4
/// -t`: `{"code": 200, "data": "0102"}` is "definition for the option 'dhcp4.' having code
/// '200' does not exist"), so `None` with `true` is [`OptionDataError::CsvWithoutDefinition`].
pub fn encode<'a>(
    kind: Option<&OptionKind>,
    csv_format: bool,
    data: &'a str,
    out: &mut [u8],
) -> Result<usize, OptionDataError<'a>> {
    encode_detailed(kind, csv_format, data, out).map(|encoded| encoded.len)
}

/// [`encode`], also reporting ignored CSV values (see [`Encoded::ignored_values`]).
pub fn encode_detailed<'a>(
    kind: Option<&OptionKind>,
    csv_format: bool,
    data: &'a str,
    out: &mut [u8],
) -> Result<Encoded, OptionDataError<'a>> {
    match (kind, csv_format) {
        (Some(kind), true) => encode_csv(kind, data, out),
        (None, true) => Err(OptionDataError::CsvWithoutDefinition),
        (kind, false) => {
            let len = encode_raw(data, out)?;
            let len = match kind {
                Some(kind) => check_wire(kind, out.get(..len).unwrap_or(&[]))?,
                None => len,
            };
            Ok(Encoded {
                len,
                ignored_values: 0,
            })
        }
    }
}

/// `csv-format: true`: splits `data` into values and writes each per the definition
/// (kea-options.md §3.1, Kea's `OptionDefinition::optionFactory` from strings).
pub fn encode_csv<'a>(
    kind: &OptionKind,
    data: &'a str,
    out: &mut [u8],
) -> Result<Encoded, OptionDataError<'a>> {
    let mut writer = Writer::new(out);
    let mut tokens = CsvTokens::new(data);
    let mut ignored_values = 0;
    if kind.value_type() == OptionType::Record {
        let fields = kind.record_fields();
        for (values, field) in fields.iter().enumerate() {
            let token = tokens.next().ok_or(OptionDataError::TooFewRecordFields {
                fields: fields.len(),
                values,
            })?;
            write_value(*field, token, &mut writer)?;
        }
        // The last field repeats for array records; for plain records the rest is ignored.
        match fields.last() {
            Some(last) if kind.is_array() => {
                for token in tokens {
                    write_value(*last, token, &mut writer)?;
                }
            }
            _ => ignored_values = tokens.count(),
        }
    } else if kind.is_array() {
        for token in tokens {
            write_value(kind.value_type(), token, &mut writer)?;
        }
    } else {
        match tokens.next() {
            None if kind.value_type() == OptionType::Empty => {}
            None => return Err(OptionDataError::NoValue),
            Some(token) => {
                write_value(kind.value_type(), token, &mut writer)?;
                ignored_values = tokens.count();
            }
        }
    }
    let len = check_wire(kind, writer.written())?;
    Ok(Encoded {
        len,
        ignored_values,
    })
}

/// Kea's `util::str::trim` whitespace set.
fn is_kea_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x08' | '\x0c')
}

/// The comma-separated values of a CSV `data` text, as Kea's `util::str::tokens(data, ",",
/// true)`: a backslash escapes the next character (`\,` is a comma inside a value, `\\` a
/// backslash; before any other character the backslash is kept); empty values are dropped.
/// Each value is then trimmed (Kea trims in `optionFactory`), so `" , "` yields an empty
/// value rather than none.
struct CsvTokens<'a> {
    rest: &'a str,
}

impl<'a> CsvTokens<'a> {
    fn new(data: &'a str) -> Self {
        CsvTokens { rest: data }
    }
}

impl<'a> Iterator for CsvTokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let mut escaped = false;
            let mut end = self.rest.len();
            for (i, b) in self.rest.bytes().enumerate() {
                match b {
                    b',' if !escaped => {
                        end = i;
                        break;
                    }
                    b'\\' => escaped = !escaped,
                    _ => escaped = false,
                }
            }
            let raw = self.rest.get(..end).unwrap_or("");
            self.rest = self.rest.get(end + 1..).unwrap_or("");
            if !raw.is_empty() {
                return Some(Token {
                    raw: raw.trim_matches(is_kea_space),
                });
            }
        }
    }
}

/// One CSV value: trimmed raw text whose escapes are removed while reading it.
#[derive(Clone, Copy)]
struct Token<'a> {
    raw: &'a str,
}

impl<'a> Token<'a> {
    /// The value's bytes with escapes removed.
    fn bytes(self) -> Unescape<'a> {
        Unescape {
            raw: self.raw.as_bytes().iter(),
            escaped: false,
            pending: None,
        }
    }

    /// The unescaped value in `scratch`, for short values (numbers and addresses); `None`
    /// if it does not fit, which no valid value of those types does.
    fn text(self, scratch: &mut [u8; 64]) -> Option<&str> {
        let mut len = 0;
        for b in self.bytes() {
            *scratch.get_mut(len)? = b;
            len += 1;
        }
        core::str::from_utf8(scratch.get(..len)?).ok()
    }
}

/// Iterator removing Kea's CSV escapes (see [`CsvTokens`]).
struct Unescape<'a> {
    raw: core::slice::Iter<'a, u8>,
    escaped: bool,
    pending: Option<u8>,
}

impl Iterator for Unescape<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if let Some(b) = self.pending.take() {
            return Some(b);
        }
        loop {
            let Some(&b) = self.raw.next() else {
                // A trailing lone backslash is kept.
                return core::mem::take(&mut self.escaped).then_some(b'\\');
            };
            match (b, self.escaped) {
                (b'\\', false) => self.escaped = true,
                (b'\\' | b',', true) => {
                    self.escaped = false;
                    return Some(b);
                }
                (_, true) => {
                    self.escaped = false;
                    self.pending = Some(b);
                    return Some(b'\\');
                }
                (_, false) => return Some(b),
            }
        }
    }
}

/// Bytes written so far into the caller's buffer.
struct Writer<'o> {
    out: &'o mut [u8],
    len: usize,
}

impl<'o> Writer<'o> {
    fn new(out: &'o mut [u8]) -> Self {
        Writer { out, len: 0 }
    }

    fn push<'a>(&mut self, byte: u8) -> Result<(), OptionDataError<'a>> {
        let slot = self
            .out
            .get_mut(self.len)
            .ok_or(OptionDataError::OutputTooSmall)?;
        *slot = byte;
        self.len += 1;
        Ok(())
    }

    fn extend<'a>(&mut self, bytes: &[u8]) -> Result<(), OptionDataError<'a>> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(OptionDataError::OutputTooSmall)?;
        let dest = self
            .out
            .get_mut(self.len..end)
            .ok_or(OptionDataError::OutputTooSmall)?;
        dest.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// Overwrites an already written byte (a length placeholder).
    fn set(&mut self, at: usize, byte: u8) {
        if let Some(slot) = self.out.get_mut(..self.len).and_then(|w| w.get_mut(at)) {
            *slot = byte;
        }
    }

    fn written(&self) -> &[u8] {
        self.out.get(..self.len).unwrap_or(&[])
    }
}

/// Writes one CSV value of `value_type` (Kea's `OptionDefinition::writeToBuffer`).
fn write_value<'a>(
    value_type: OptionType,
    token: Token<'a>,
    out: &mut Writer<'_>,
) -> Result<(), OptionDataError<'a>> {
    let raw = token.raw;
    let mut scratch = [0u8; 64];
    match value_type {
        OptionType::Empty => Err(OptionDataError::ValueForEmptyType { token: raw }),
        OptionType::Binary => write_contiguous_hex(token, out),
        OptionType::Boolean => {
            let text = token
                .text(&mut scratch)
                .ok_or(OptionDataError::BadBoolean { token: raw })?;
            out.push(u8::from(
                parse_boolean(text).ok_or(OptionDataError::BadBoolean { token: raw })?,
            ))
        }
        OptionType::Int8
        | OptionType::Int16
        | OptionType::Int32
        | OptionType::Uint8
        | OptionType::Uint16
        | OptionType::Uint32 => {
            let text = token
                .text(&mut scratch)
                .ok_or(OptionDataError::NotAnInteger { token: raw })?;
            let value = parse_integer(text, value_type, raw)?;
            let bytes = value.to_be_bytes();
            let size = value_type.fixed_len().unwrap_or(0);
            out.extend(bytes.get(bytes.len().saturating_sub(size)..).unwrap_or(&[]))
        }
        OptionType::Ipv4Address => {
            let text = token
                .text(&mut scratch)
                .ok_or(OptionDataError::BadIpv4 { token: raw })?;
            out.extend(&parse_ipv4(text).ok_or(OptionDataError::BadIpv4 { token: raw })?)
        }
        OptionType::Ipv6Address => {
            let text = token
                .text(&mut scratch)
                .ok_or(OptionDataError::BadIpv6 { token: raw })?;
            out.extend(&parse_ipv6(text).ok_or(OptionDataError::BadIpv6 { token: raw })?)
        }
        OptionType::Ipv6Prefix => write_ipv6_prefix(token, out),
        OptionType::Psid => write_psid(token, out),
        OptionType::String => {
            // An empty value is caught by `check_wire` (Kea's `OptionString` refuses it).
            for b in token.bytes() {
                out.push(b)?;
            }
            Ok(())
        }
        OptionType::Fqdn => write_fqdn(token, out),
        OptionType::Tuple => {
            let start = out.len;
            out.push(0)?;
            let mut len = 0usize;
            for b in token.bytes() {
                out.push(b)?;
                len += 1;
            }
            let len =
                u8::try_from(len).map_err(|_| OptionDataError::TupleTooLong { token: raw })?;
            out.set(start, len);
            Ok(())
        }
        // A record is never a field (OptionKind rejects it); treat it as unwritable.
        OptionType::Record => Err(OptionDataError::ValueForEmptyType { token: raw }),
    }
}

/// The lowest and highest value of an integer type.
fn integer_range(value_type: OptionType) -> (i64, i64) {
    match value_type {
        OptionType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        OptionType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        OptionType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        OptionType::Uint8 => (0, u8::MAX.into()),
        OptionType::Uint16 => (0, u16::MAX.into()),
        _ => (0, u32::MAX.into()),
    }
}

/// Kea's `lexicalCastWithRangeCheck`: decimal (`boost::lexical_cast<int64_t>`: optional
/// sign, digits); if that fails, hexadecimal (`std::hex` stream: optional sign, optional
/// `0x`), so `"ff"` is 255 and `"0x40"` is 64; then the range of the target type.
fn parse_integer<'a>(
    text: &str,
    value_type: OptionType,
    token: &'a str,
) -> Result<i64, OptionDataError<'a>> {
    let value = parse_signed(text, 10)
        .or_else(|| parse_signed(text, 16))
        .ok_or(OptionDataError::NotAnInteger { token })?;
    let (min, max) = integer_range(value_type);
    if value < min || value > max {
        return Err(OptionDataError::IntegerOutOfRange { token, value_type });
    }
    Ok(value)
}

/// An optionally signed integer in `radix` (16 also takes a `0x`/`0X` prefix) within i64.
fn parse_signed(text: &str, radix: u32) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, text.get(1..)?),
        b'+' => (false, text.get(1..)?),
        _ => (false, text),
    };
    let digits = if radix == 16 {
        digits
            .strip_prefix("0x")
            .or_else(|| digits.strip_prefix("0X"))
            .unwrap_or(digits)
    } else {
        digits
    };
    if digits.is_empty() {
        return None;
    }
    let mut magnitude: i128 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(radix)?;
        magnitude = magnitude
            .checked_mul(radix.into())?
            .checked_add(digit.into())?;
        if magnitude > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// Kea's `convertToBool`: `true`/`false` in any case, or an integer that is 0 or 1.
fn parse_boolean(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        return Some(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Some(false);
    }
    match parse_signed(text, 10)? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// A dotted quad as `inet_pton(AF_INET)` reads it: exactly four decimal parts, each at
/// most 255, no leading zeros, nothing else.
pub fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    let mut address = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut address {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || (part.len() > 1 && part.starts_with('0')) {
            return None;
        }
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then_some(address)
}

/// An IPv6 address in RFC 4291 §2.2 text form, as `inet_pton(AF_INET6)` reads it: eight
/// 1–4 digit hex groups, at most one `::` standing for one or more zero groups, and an
/// optional dotted quad as the last 32 bits. A zone suffix (`fe80::1%eth0`, RFC 4007 §11)
/// is accepted and dropped, as Kea's asio parser does (checked: kea-dhcp4 2.2 accepts it).
pub fn parse_ipv6(text: &str) -> Option<[u8; 16]> {
    let text = text
        .split_once('%')
        .map_or(text, |(address, _zone)| address);
    // Groups before and after the `::`, if any.
    let (head, tail) = match text.find("::") {
        Some(at) => {
            let tail = text.get(at + 2..)?;
            if tail.contains("::") {
                return None;
            }
            (text.get(..at)?, Some(tail))
        }
        None => (text, None),
    };
    let mut head_words = [0u16; 8];
    let mut tail_words = [0u16; 8];
    let head_count = parse_ipv6_groups(head, &mut head_words, tail.is_none())?;
    let tail_count = match tail {
        Some(tail) => parse_ipv6_groups(tail, &mut tail_words, true)?,
        None => 0,
    };
    let total = head_count.checked_add(tail_count)?;
    match tail {
        None if total != 8 => return None,
        Some(_) if total > 7 => return None,
        _ => {}
    }
    let mut words = [0u16; 8];
    for (slot, word) in words.iter_mut().zip(head_words.iter().take(head_count)) {
        *slot = *word;
    }
    let tail_start = 8usize.checked_sub(tail_count)?;
    for (slot, word) in words
        .iter_mut()
        .skip(tail_start)
        .zip(tail_words.iter().take(tail_count))
    {
        *slot = *word;
    }
    let mut address = [0u8; 16];
    for (pair, word) in address.chunks_exact_mut(2).zip(words) {
        pair.copy_from_slice(&word.to_be_bytes());
    }
    Some(address)
}

/// Parses `:`-separated groups into `words`, returning how many words were filled. An
/// empty `part` is zero groups. `ipv4_allowed`: the part ends the address, so its last
/// group may be a dotted quad (two words).
fn parse_ipv6_groups(part: &str, words: &mut [u16; 8], ipv4_allowed: bool) -> Option<usize> {
    if part.is_empty() {
        return Some(0);
    }
    let mut count = 0usize;
    let mut groups = part.split(':').peekable();
    while let Some(group) = groups.next() {
        let is_last = groups.peek().is_none();
        if is_last && ipv4_allowed && group.contains('.') {
            let [a, b, c, d] = parse_ipv4(group)?;
            *words.get_mut(count)? = u16::from_be_bytes([a, b]);
            *words.get_mut(count + 1)? = u16::from_be_bytes([c, d]);
            count += 2;
            continue;
        }
        if group.is_empty() || group.len() > 4 || !group.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *words.get_mut(count)? = u16::from_str_radix(group, 16).ok()?;
        count += 1;
    }
    Some(count)
}

/// Kea's `ipv6-prefix` writer: spaces and tabs removed, `address/length` with the length
/// read as an integer 0..=128; wire is the length byte then the ceil(length/8) leading
/// address bytes, bits past the prefix cleared.
fn write_ipv6_prefix<'a>(
    token: Token<'a>,
    out: &mut Writer<'_>,
) -> Result<(), OptionDataError<'a>> {
    let bad = OptionDataError::BadIpv6Prefix { token: token.raw };
    let mut scratch = [0u8; 64];
    let mut len = 0;
    for b in token.bytes().filter(|b| !matches!(b, b' ' | b'\t')) {
        *scratch.get_mut(len).ok_or(bad)? = b;
        len += 1;
    }
    let text = core::str::from_utf8(scratch.get(..len).ok_or(bad)?).map_err(|_| bad)?;
    let (address, prefix_len) = text.split_once('/').ok_or(bad)?;
    let address = parse_ipv6(address).ok_or(bad)?;
    let prefix_len = parse_integer(prefix_len, OptionType::Uint8, token.raw).map_err(|_| bad)?;
    let prefix_len = u8::try_from(prefix_len)
        .ok()
        .filter(|l| *l <= 128)
        .ok_or(bad)?;
    out.push(prefix_len)?;
    let bytes = usize::from(prefix_len).div_ceil(8);
    let mut prefix = address.get(..bytes).ok_or(bad)?.iter().copied().peekable();
    while let Some(mut b) = prefix.next() {
        if prefix.peek().is_none() && prefix_len % 8 != 0 {
            b &= 0xffu8 << (8 - prefix_len % 8);
        }
        out.push(b)?;
    }
    Ok(())
}

/// Kea's `psid` writer (RFC 7597 §5.1 PSID): `psid/length`, length 0..=16, the PSID must
/// fit in `length` bits; wire is the length byte then the PSID left-aligned in 16 bits.
fn write_psid<'a>(token: Token<'a>, out: &mut Writer<'_>) -> Result<(), OptionDataError<'a>> {
    let bad = OptionDataError::BadPsid { token: token.raw };
    let mut scratch = [0u8; 64];
    let mut len = 0;
    for b in token.bytes().filter(|b| !matches!(b, b' ' | b'\t')) {
        *scratch.get_mut(len).ok_or(bad)? = b;
        len += 1;
    }
    let text = core::str::from_utf8(scratch.get(..len).ok_or(bad)?).map_err(|_| bad)?;
    let (psid, psid_len) = text.split_once('/').ok_or(bad)?;
    let psid = parse_integer(psid, OptionType::Uint16, token.raw).map_err(|_| bad)?;
    let psid_len = parse_integer(psid_len, OptionType::Uint8, token.raw).map_err(|_| bad)?;
    let psid = u16::try_from(psid).map_err(|_| bad)?;
    let psid_len = u8::try_from(psid_len)
        .ok()
        .filter(|l| *l <= 16)
        .ok_or(bad)?;
    if psid_len > 0 && u32::from(psid) > 0xffff_u32 >> (16 - psid_len) {
        return Err(bad);
    }
    let aligned = (u32::from(psid) << (16 - u32::from(psid_len))) as u16;
    out.push(psid_len)?;
    out.extend(&aligned.to_be_bytes())
}

/// A domain name in uncompressed DNS wire form (RFC 1035 §3.1), as Kea's `writeFqdn`
/// through `isc::dns::Name`: labels split on `.`, `\DDD` (decimal) and `\c` escapes,
/// trailing dot optional, `.` alone is the root; labels at most 63 bytes, the name at
/// most 255 bytes including the final zero; case preserved.
fn write_fqdn<'a>(token: Token<'a>, out: &mut Writer<'_>) -> Result<(), OptionDataError<'a>> {
    let raw = token.raw;
    let bad = OptionDataError::BadFqdn { token: raw };
    let name_start = out.len;
    let mut bytes = token.bytes().peekable();
    if bytes.peek().is_none() {
        return Err(bad);
    }
    if raw == "." {
        return out.push(0);
    }
    loop {
        // One label: a length placeholder, then its bytes up to an unescaped dot or the end.
        let label_start = out.len;
        out.push(0)?;
        let mut label_len = 0usize;
        let mut ended_by_dot = false;
        while let Some(b) = bytes.next() {
            let byte = match b {
                b'.' => {
                    ended_by_dot = true;
                    break;
                }
                b'\\' => match bytes.next() {
                    None => return Err(bad),
                    Some(d) if d.is_ascii_digit() => {
                        let mut value = u32::from(d - b'0');
                        for _ in 0..2 {
                            let next = bytes.next().filter(u8::is_ascii_digit).ok_or(bad)?;
                            value = value * 10 + u32::from(next - b'0');
                        }
                        u8::try_from(value).map_err(|_| bad)?
                    }
                    Some(other) => other,
                },
                other => other,
            };
            out.push(byte)?;
            label_len += 1;
        }
        if label_len == 0 {
            // `a..b`, a leading dot, or a dot after the last label's dot.
            return Err(bad);
        }
        if label_len > 63 {
            return Err(OptionDataError::FqdnLabelTooLong { token: raw });
        }
        out.set(label_start, label_len as u8);
        if !ended_by_dot || bytes.peek().is_none() {
            break;
        }
    }
    out.push(0)?;
    if out.len - name_start > 255 {
        return Err(OptionDataError::FqdnTooLong { token: raw });
    }
    Ok(())
}

/// A `binary` CSV value: hex digits, even count (Kea's `decodeHex`; separators such as `:`
/// or a `0x` prefix are not accepted here, kea-options.md §3.1; white space is skipped).
fn write_contiguous_hex<'a>(
    token: Token<'a>,
    out: &mut Writer<'_>,
) -> Result<(), OptionDataError<'a>> {
    let raw = token.raw;
    let mut high: Option<u8> = None;
    // Kea's base16 decoder skips white space between digits ("0 a0b" is 0a0b).
    let digits = token
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'));
    for b in digits {
        let nibble = hex_value(b).ok_or(OptionDataError::NotHex { token: raw })?;
        match high.take() {
            None => high = Some(nibble),
            Some(h) => out.push(h << 4 | nibble)?,
        }
    }
    match high {
        Some(_) => Err(OptionDataError::OddHexLength { token: raw }),
        None => Ok(()),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `csv-format: false`: the payload bytes of `data` (kea-options.md §3.2, Kea's
/// `quotedStringToBinary` then `decodeFormattedHexString`):
/// * `'text'` (after trimming whitespace): the trimmed text between the quotes, if not
///   empty;
/// * otherwise, if `data` has a `:`, hex groups of 1–2 digits separated by `:`; else if it
///   has a space, the same separated by spaces; a mix or an empty group is an error;
/// * otherwise contiguous hex, optional `0x`, an odd count gets a leading `0`;
///   `""` is a zero-length payload.
pub fn encode_raw<'a>(data: &'a str, out: &mut [u8]) -> Result<usize, OptionDataError<'a>> {
    let mut writer = Writer::new(out);
    let trimmed = data.trim_matches(is_kea_space);
    if trimmed.len() > 1 && trimmed.starts_with('\'') && trimmed.ends_with('\'') {
        let inner = trimmed
            .get(1..trimmed.len() - 1)
            .unwrap_or("")
            .trim_matches(is_kea_space);
        if !inner.is_empty() {
            writer.extend(inner.as_bytes())?;
            return Ok(writer.len);
        }
    }
    if data.contains(':') {
        write_separated_hex(data, ':', &mut writer)?;
    } else if data.contains(' ') {
        write_separated_hex(data, ' ', &mut writer)?;
    } else {
        let digits = match data.strip_prefix("0x") {
            Some(rest) if data.len() > 2 => rest,
            _ => data,
        };
        let bad = OptionDataError::NotHex { token: data };
        let mut high = (digits.len() % 2 == 1).then_some(0u8);
        for b in digits.bytes() {
            let nibble = hex_value(b).ok_or(bad)?;
            match high.take() {
                None => high = Some(nibble),
                Some(h) => writer.push(h << 4 | nibble)?,
            }
        }
    }
    Ok(writer.len)
}

/// Kea's `decodeSeparatedHexString`: groups of one or two hex digits between separators.
fn write_separated_hex<'a>(
    data: &'a str,
    separator: char,
    out: &mut Writer<'_>,
) -> Result<(), OptionDataError<'a>> {
    for group in data.split(separator) {
        if group.is_empty() {
            return Err(OptionDataError::EmptyHexGroup { token: data });
        }
        if group.len() > 2 {
            return Err(OptionDataError::HexGroupTooLong { token: data });
        }
        let mut value = 0u8;
        for b in group.bytes() {
            value = value << 4 | hex_value(b).ok_or(OptionDataError::NotHex { token: data })?;
        }
        out.push(value)?;
    }
    Ok(())
}

/// Checks payload bytes against a definition the way Kea builds the option object from
/// them, returning the length Kea keeps. Run on every encoded payload (kea-options.md
/// §3.2: "the bytes are then parsed with the definition to validate").
///
/// * `string`: trailing NULs are stripped; nothing left is [`OptionDataError::EmptyString`]
///   (Kea's `OptionString`).
/// * fixed-size single values: at least the size; only the value is kept.
/// * arrays of fixed-size values: a whole number of elements; integer and boolean arrays
///   also need one element (Kea's `OptionIntArray`), address lists may be empty
///   (`OptionAddrLst4`).
/// * `fqdn`, `tuple`, `ipv6-prefix`: one well-formed value (extra bytes are dropped, as
///   Kea's `OptionCustom` does); arrays need at least one byte, and stop (dropping the
///   rest) at an `fqdn` element read as longer than what is left, as Kea does, while a
///   cut `tuple` or `ipv6-prefix` is an error. Domain names are sized as Kea reads them
///   (`kea_fqdn_len`): a trailing root name in a list is left out.
/// * records: every field present (a trailing `string`/`binary` field may be empty).
/// * `empty` and `binary`: any bytes (for `empty`, they are sub-options of the encapsulated
///   space, which the caller checks).
pub fn check_wire<'a>(kind: &OptionKind, bytes: &[u8]) -> Result<usize, OptionDataError<'a>> {
    let value_type = kind.value_type();
    match value_type {
        OptionType::Empty | OptionType::Binary => Ok(bytes.len()),
        OptionType::String => {
            let kept = bytes
                .iter()
                .rposition(|b| *b != 0)
                .map_or(0, |last| last + 1);
            if kept == 0 {
                return Err(OptionDataError::EmptyString);
            }
            Ok(kept)
        }
        OptionType::Record => {
            let fields = kind.record_fields();
            let mut at = 0usize;
            for field in fields {
                let rest = bytes.get(at..).unwrap_or(&[]);
                at += wire_value_len(*field, rest, Position::RecordField)?;
            }
            if kind.is_array() {
                if let Some(last) = fields.last() {
                    while at < bytes.len() {
                        let rest = bytes.get(at..).unwrap_or(&[]);
                        at += wire_value_len(*last, rest, Position::RecordField)?;
                    }
                }
            }
            Ok(at)
        }
        _ if kind.is_array() => {
            if let Some(size) = value_type.fixed_len() {
                let integer = !matches!(
                    value_type,
                    OptionType::Ipv4Address | OptionType::Ipv6Address
                );
                if bytes.len().checked_rem(size) != Some(0) || (integer && bytes.is_empty()) {
                    return Err(OptionDataError::BadArrayLength { value_type });
                }
                return Ok(bytes.len());
            }
            // Kea: "FQDN list option has invalid length of 0", "parsed data tuples option
            // data truncated to size 0".
            if bytes.is_empty() {
                return Err(OptionDataError::BadArrayLength { value_type });
            }
            let mut at = 0usize;
            while at < bytes.len() {
                let rest = bytes.get(at..).unwrap_or(&[]);
                // Kea's `OptionCustom` stops at a domain name it reads as longer than what
                // is left and drops the rest (a trailing root name disappears); a cut
                // prefix or tuple is an error ("unable to read a prefix ... from a
                // truncated buffer").
                let size = match value_type {
                    OptionType::Fqdn => kea_fqdn_len(rest)?,
                    _ => wire_value_len(value_type, rest, Position::ArrayElement)?,
                };
                if rest.len() < size {
                    break;
                }
                at += size;
            }
            Ok(at)
        }
        _ => wire_value_len(value_type, bytes, Position::Single),
    }
}

/// Where a value sits in the option: Kea reads values through different classes, which
/// differ on the edges (observed with kea-dhcp4 2.2 `-t`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The option's only value.
    Single,
    /// One element of a plain array.
    ArrayElement,
    /// A record field (string and binary fields are last and take the rest, even nothing).
    RecordField,
}

/// The length of the one value of `value_type` at the start of `bytes`, as Kea's
/// `OptionCustom` splits a payload into values.
///
/// Kea 2.2 accepts out-of-range content in raw bytes (a PSID length byte over 16, a prefix
/// length over 128, a boolean byte of 2): only sizes are checked here too. Domain names
/// take the length Kea reads for them ([`kea_fqdn_len`]).
fn wire_value_len<'a>(
    value_type: OptionType,
    bytes: &[u8],
    position: Position,
) -> Result<usize, OptionDataError<'a>> {
    let truncated = OptionDataError::Truncated { value_type };
    if let Some(size) = value_type.fixed_len() {
        return bytes.get(..size).map(<[u8]>::len).ok_or(truncated);
    }
    match value_type {
        OptionType::String | OptionType::Binary if position == Position::RecordField => {
            Ok(bytes.len())
        }
        OptionType::Tuple => {
            let len = usize::from(*bytes.first().ok_or(truncated)?);
            bytes.get(..=len).map(<[u8]>::len).ok_or(truncated)
        }
        OptionType::Ipv6Prefix => {
            let prefix_len = *bytes.first().ok_or(truncated)?;
            let len = 1 + usize::from(prefix_len).div_ceil(8);
            bytes.get(..len).map(<[u8]>::len).ok_or(truncated)
        }
        OptionType::Fqdn => {
            let size = kea_fqdn_len(bytes)?;
            bytes.get(..size).map(<[u8]>::len).ok_or(truncated)
        }
        _ => Err(truncated),
    }
}

/// How many bytes Kea 2.2 takes for the domain name at the start of `bytes`.
///
/// Kea's `OptionCustom` does not use the wire length: it reads the name, prints it with
/// `Name::toText` and takes "1 byte more than the text" (`option_custom.cc`). That equals
/// the wire length for ordinary names, but the root name takes 2 bytes, and every byte the
/// text form escapes adds 1 (`\.` style: `"().;\\@$`) or 3 (`\DDD`: space, control and
/// non-ASCII bytes; `labelsequence.cc` `toText`). So a single root name or a name with a
/// space is "option buffer truncated", and a trailing root in a list is left out.
///
/// Errors if `bytes` does not start with a whole uncompressed name (Kea: "incomplete
/// wire-format name", "unknown label character").
fn kea_fqdn_len<'a>(bytes: &[u8]) -> Result<usize, OptionDataError<'a>> {
    let value_type = OptionType::Fqdn;
    let mut at = 0usize;
    let mut text_len = 0usize;
    loop {
        let label = usize::from(
            *bytes
                .get(at)
                .ok_or(OptionDataError::Truncated { value_type })?,
        );
        if label > 63 {
            return Err(OptionDataError::BadWireValue { value_type });
        }
        let content = bytes
            .get(at + 1..at + 1 + label)
            .ok_or(OptionDataError::Truncated { value_type })?;
        at += 1 + label;
        if at > 255 {
            return Err(OptionDataError::BadWireValue { value_type });
        }
        if label == 0 {
            // Text ends with the final dot; the root alone is ".".
            let text_len = text_len.max(1);
            return Ok(text_len + 1);
        }
        for b in content {
            text_len += match b {
                b'"' | b'(' | b')' | b'.' | b';' | b'\\' | b'@' | b'$' => 2,
                0x21..=0x7e => 1,
                _ => 4,
            };
        }
        text_len += 1; // the dot after the label
    }
}

/// How much of a raw (`csv-format: false`) payload Kea 2.2 keeps for an option of type
/// `empty`: without an encapsulated space, nothing (Kea's `factoryEmpty` drops the data);
/// with one, the leading whole code/length/value sub-options (Kea parses them with
/// `unpackOptions4`, which stops at a cut one, and sends them again). Observed on the wire:
/// `empty` 222 with `0102aabb` is sent empty; with `encapsulate` it is sent as `0102aabb`;
/// 43 with `0105aabb` carries no sub-option (and Kea then leaves 43 out).
pub fn empty_option_payload_len(encapsulates: bool, payload: &[u8]) -> usize {
    if !encapsulates {
        return 0;
    }
    let mut at = 0usize;
    while let (Some(_code), Some(len)) = (payload.get(at), payload.get(at + 1)) {
        let end = at + 2 + usize::from(*len);
        if end > payload.len() {
            break;
        }
        at = end;
    }
    at
}

/// The whole code/length/value sub-options at the start of `payload`, in wire order,
/// stopping at a cut one (the part [`empty_option_payload_len`] keeps). PAD (0) and END
/// (255) are ordinary codes here: Kea's `unpackOptions4` treats them specially only in the
/// `dhcp4` space itself.
pub fn suboption_tlvs(payload: &[u8]) -> impl Iterator<Item = (u8, &[u8])> + Clone {
    let mut at = 0usize;
    core::iter::from_fn(move || {
        let code = *payload.get(at)?;
        let len = usize::from(*payload.get(at + 1)?);
        let value = payload.get(at + 2..at + 2 + len)?;
        at += 2 + len;
        Some((code, value))
    })
}

/// `suboptions` sorted by code, keeping the given order among equal codes (a stable sort
/// without a buffer: one pass per distinct code, and sub-option lists are short).
///
/// Kea 2.2 keeps an option's sub-options in a container ordered by code (a multimap, so
/// equal codes stay in insertion order) and packs them in that order whatever the config
/// order: sub-options 2 then 1 configured, 43 is sent as `01 01 01 02 03 "two"`. For an
/// `empty` carrier given raw sub-options (`csv-format: false`), those are inserted first
/// (when the option is created) and the configured ones after (when the level's options are
/// encapsulated), so chain them in that order.
pub fn in_code_order<'p, I>(suboptions: I) -> impl Iterator<Item = (u8, &'p [u8])> + Clone
where
    I: Iterator<Item = (u8, &'p [u8])> + Clone,
{
    let codes = suboptions.clone().map(|(code, _)| code);
    let first = codes.clone().min();
    let all_codes = codes.clone();
    let ascending = core::iter::successors(first, move |&last| {
        all_codes.clone().filter(|&c| c > last).min()
    });
    ascending.flat_map(move |code| suboptions.clone().filter(move |(c, _)| *c == code))
}

/// Writes sub-options as code/length/payload TLVs (the payload of 43 carrying
/// `vendor-encapsulated-options-space`, or of 125 after its enterprise header). A payload
/// over 255 bytes cannot be one sub-option.
///
/// Kea 2.2 emits sub-options in ascending code order whatever their order in the config
/// (observed: sub-options 2 then 1 configured, 43 sent as `01 01 01 02 03 "two"`); the
/// caller passes them in that order ([`in_code_order`]).
pub fn encode_suboptions<'a, 'p>(
    suboptions: impl IntoIterator<Item = (u8, &'p [u8])>,
    out: &mut [u8],
) -> Result<usize, OptionDataError<'a>> {
    let mut writer = Writer::new(out);
    for (code, payload) in suboptions {
        let len =
            u8::try_from(payload.len()).map_err(|_| OptionDataError::SubOptionTooLong { code })?;
        writer.push(code)?;
        writer.push(len)?;
        writer.extend(payload)?;
    }
    Ok(writer.len)
}

/// Writes an option-125 payload for one enterprise (RFC 3925 §4, kea-options.md §3.3):
/// `enterprise(4) data-len(1) sub-options…`. Kea 2.2 puts one enterprise per option 125.
pub fn encode_vivso<'a, 'p>(
    enterprise: u32,
    suboptions: impl IntoIterator<Item = (u8, &'p [u8])>,
    out: &mut [u8],
) -> Result<usize, OptionDataError<'a>> {
    let mut writer = Writer::new(out);
    writer.extend(&enterprise.to_be_bytes())?;
    writer.push(0)?;
    let header = writer.len;
    let body = encode_suboptions(suboptions, writer.out.get_mut(header..).unwrap_or(&mut []))?;
    // RFC 3925: data-len is one byte; more than 255 bytes of sub-options do not fit.
    let data_len =
        u8::try_from(body).map_err(|_| OptionDataError::SubOptionTooLong { code: 125 })?;
    writer.len = header + body;
    writer.set(header - 1, data_len);
    Ok(writer.len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::option_def::{by_code, by_name, OptionType as T};
    use std::string::ToString;
    use std::vec::Vec;

    /// Hex text of bytes, for readable comparisons with the spec's vectors.
    fn hex(bytes: &[u8]) -> std::string::String {
        bytes.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    fn csv<'a>(
        kind: OptionKind,
        data: &'a str,
    ) -> Result<std::string::String, OptionDataError<'a>> {
        let mut out = [0u8; 600];
        let len = encode(Some(&kind), true, data, &mut out)?;
        Ok(hex(&out[..len]))
    }

    fn named<'a>(name: &str, data: &'a str) -> Result<std::string::String, OptionDataError<'a>> {
        csv(by_name(name).unwrap().kind, data)
    }

    fn one(t: OptionType) -> OptionKind {
        OptionKind::scalar(t, false)
    }

    fn many(t: OptionType) -> OptionKind {
        OptionKind::scalar(t, true)
    }

    fn raw(data: &str) -> Result<std::string::String, OptionDataError<'_>> {
        let mut out = [0u8; 300];
        let len = encode(None, false, data, &mut out)?;
        Ok(hex(&out[..len]))
    }

    #[test]
    fn spec_vectors() {
        assert_eq!(
            named("routers", "198.18.10.2, 198.18.10.3").unwrap(),
            "c6120a02c6120a03"
        );
        assert_eq!(csv(one(T::Uint16), "1400").unwrap(), "0578");
        assert_eq!(csv(one(T::Int32), "-3600").unwrap(), "fffff1f0");
        assert_eq!(named("time-offset", "-3600").unwrap(), "fffff1f0");
        assert_eq!(csv(one(T::Uint8), "ff").unwrap(), "ff");
        assert_eq!(csv(one(T::Uint8), "0x40").unwrap(), "40");
        assert_eq!(
            named("domain-search", "example.test, foo.example.test.").unwrap(),
            "076578616d706c6504746573740003666f6f076578616d706c65047465737400"
        );
        assert_eq!(
            csv(one(T::Fqdn), "example.test").unwrap(),
            "076578616d706c650474657374 00".replace(' ', "")
        );
        let record = OptionKind::try_record(&[T::Uint8, T::Ipv4Address, T::String], false).unwrap();
        assert_eq!(
            csv(record, "7, 198.18.10.9, hello").unwrap(),
            "07c6120a0968656c6c6f"
        );
    }

    #[test]
    fn seed_options() {
        // The founding user's config (seed): routers, DNS, NTP, domain name and search.
        assert_eq!(named("routers", "192.168.1.1").unwrap(), "c0a80101");
        assert_eq!(
            named("domain-name-servers", "192.168.1.53, 1.1.1.1").unwrap(),
            "c0a8013501010101"
        );
        assert_eq!(
            named("ntp-servers", "192.168.1.1,192.168.1.2").unwrap(),
            "c0a80101c0a80102"
        );
        // Option 15 is plain text, not DNS wire form (kea-options.md §1).
        assert_eq!(
            named("domain-name", "home.michaelc.dev").unwrap(),
            hex(b"home.michaelc.dev")
        );
        assert_eq!(
            named("domain-search", "home.michaelc.dev").unwrap(),
            std::format!(
                "04{}08{}03{}00",
                hex(b"home"),
                hex(b"michaelc"),
                hex(b"dev")
            )
        );
        // PXE architecture types, RFC 4578.
        assert_eq!(named("client-system", "0, 7, 9").unwrap(), "000000070009");
        assert_eq!(named("client-system", "0x0007").unwrap(), "0007");
    }

    #[test]
    fn csv_escapes_and_tokens() {
        // JSON "a\\,b" is the text `a\,b`: one value `a,b`.
        assert_eq!(csv(one(T::String), "a\\,b").unwrap(), hex(b"a,b"));
        assert_eq!(csv(one(T::String), "a\\\\b").unwrap(), hex(b"a\\b"));
        assert_eq!(csv(one(T::String), "a\\b").unwrap(), hex(b"a\\b"));
        assert_eq!(csv(one(T::String), "ab\\").unwrap(), hex(b"ab\\"));
        assert_eq!(csv(one(T::String), "\\,x").unwrap(), hex(b",x"));
        // Empty tokens are dropped, values trimmed of spaces and tabs.
        assert_eq!(
            named("routers", ",198.18.0.1,,\t198.18.0.2 ,").unwrap(),
            "c6120001c6120002"
        );
        assert_eq!(csv(one(T::String), "  padded\t").unwrap(), hex(b"padded"));
        // Inner spaces of a value stay.
        assert_eq!(csv(one(T::String), " a b ").unwrap(), hex(b"a b"));
        // A whitespace-only value is a value, and an invalid address.
        assert_eq!(
            named("routers", "198.18.0.1, "),
            Err(OptionDataError::BadIpv4 { token: "" })
        );
    }

    #[test]
    fn non_array_takes_first_value_only() {
        let mut out = [0u8; 64];
        let kind = by_name("domain-name").unwrap().kind;
        let encoded = encode_detailed(Some(&kind), true, "a.test, b.test", &mut out).unwrap();
        assert_eq!(&out[..encoded.len], b"a.test");
        assert_eq!(encoded.ignored_values, 1);
        let kind = one(T::Uint8);
        let encoded = encode_detailed(Some(&kind), true, "1,2,3", &mut out).unwrap();
        assert_eq!((encoded.len, encoded.ignored_values, out[0]), (1, 2, 1));
        // Arrays use everything.
        let kind = many(T::Uint8);
        let encoded = encode_detailed(Some(&kind), true, "1,2,3", &mut out).unwrap();
        assert_eq!((encoded.len, encoded.ignored_values), (3, 0));
    }

    #[test]
    fn records() {
        // 81 fqdn: flags, rcode1, rcode2, name.
        assert_eq!(
            named("fqdn", "5, 0, 0, host.example.test").unwrap(),
            "05000004686f7374076578616d706c650474657374 00".replace(' ', "")
        );
        // Too few values.
        assert_eq!(
            named("client-ndi", "1, 2"),
            Err(OptionDataError::TooFewRecordFields {
                fields: 3,
                values: 2
            })
        );
        // Extra values of a plain record are ignored (and counted).
        let mut out = [0u8; 16];
        let kind = by_name("client-ndi").unwrap().kind;
        let encoded = encode_detailed(Some(&kind), true, "1, 2, 3, 4", &mut out).unwrap();
        assert_eq!(
            (hex(&out[..encoded.len]).as_str(), encoded.ignored_values),
            ("010203", 1)
        );
        // Array records repeat the last field.
        assert_eq!(
            named("slp-directory-agent", "true, 198.18.0.1, 198.18.0.2").unwrap(),
            "01c6120001c6120002"
        );
        // A trailing binary field takes hex.
        assert_eq!(named("uuid-guid", "0, 00112233").unwrap(), "0000112233");
        // An empty trailing binary or string field is accepted by Kea 2.2 (`-t`).
        assert_eq!(named("uuid-guid", "0, ").unwrap(), "00");
        // A root name in a record field is "option buffer truncated" (Kea 2.2 `-t`).
        assert_eq!(
            named("rdnss-selection", "0, 198.18.0.1, 198.18.0.2, ."),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            named("rdnss-selection", "1, 198.18.0.1, 198.18.0.2, a.test, b").unwrap(),
            "01c6120001c6120002 016104746573740 0 016200".replace(' ', "")
        );
        // 6rd: record array ending with ipv4.
        assert_eq!(
            named("option-6rd", "0, 32, 2001:db8::, 198.18.0.1, 198.18.0.2").unwrap(),
            "0020 20010db8000000000000000000000000 c6120001 c6120002".replace(' ', "")
        );
        assert_eq!(named("v4-portparams", "2, 5/4").unwrap(), "02045000");
        assert_eq!(
            named("vivco-suboptions", "4491, 0102").unwrap(),
            "0000118b0102"
        );
        assert_eq!(
            named("slp-service-scope", "1, scope").unwrap(),
            std::format!("01{}", hex(b"scope"))
        );
        assert_eq!(named("slp-service-scope", "1, ").unwrap(), "01");
        let with_tuple = OptionKind::try_record(&[T::Uint8, T::Tuple], false).unwrap();
        assert_eq!(csv(with_tuple, "1, ab").unwrap(), "01026162");
    }

    #[test]
    fn integers() {
        assert_eq!(csv(one(T::Uint8), "255").unwrap(), "ff");
        assert_eq!(csv(one(T::Uint8), "0").unwrap(), "00");
        assert_eq!(csv(one(T::Uint8), "+7").unwrap(), "07");
        assert_eq!(csv(one(T::Uint8), "010").unwrap(), "0a"); // decimal first
        assert_eq!(csv(one(T::Uint8), "0X1f").unwrap(), "1f");
        assert_eq!(csv(one(T::Uint16), "1e3").unwrap(), "01e3"); // not decimal, so hex
        assert_eq!(csv(one(T::Uint32), "4294967295").unwrap(), "ffffffff");
        assert_eq!(csv(one(T::Int8), "-128").unwrap(), "80");
        assert_eq!(csv(one(T::Int8), "127").unwrap(), "7f");
        assert_eq!(csv(one(T::Int16), "-1").unwrap(), "ffff");
        assert_eq!(csv(one(T::Int32), "-0x10").unwrap(), "fffffff0");
        assert_eq!(csv(one(T::Int32), "-2147483648").unwrap(), "80000000");
        use OptionDataError as E;
        assert_eq!(
            csv(one(T::Uint8), "256"),
            Err(E::IntegerOutOfRange {
                token: "256",
                value_type: T::Uint8
            })
        );
        assert_eq!(
            csv(one(T::Uint8), "-1"),
            Err(E::IntegerOutOfRange {
                token: "-1",
                value_type: T::Uint8
            })
        );
        assert_eq!(csv(one(T::Uint8), "100").unwrap(), "64");
        assert_eq!(
            csv(one(T::Int8), "128"),
            Err(E::IntegerOutOfRange {
                token: "128",
                value_type: T::Int8
            })
        );
        assert_eq!(
            csv(one(T::Uint32), "4294967296"),
            Err(E::IntegerOutOfRange {
                token: "4294967296",
                value_type: T::Uint32
            })
        );
        assert_eq!(
            csv(one(T::Uint16), "0x"),
            Err(E::NotAnInteger { token: "0x" })
        );
        assert_eq!(
            csv(one(T::Uint16), "12g"),
            Err(E::NotAnInteger { token: "12g" })
        );
        assert_eq!(
            csv(one(T::Uint16), "1 2"),
            Err(E::NotAnInteger { token: "1 2" })
        );
        assert_eq!(
            csv(one(T::Uint16), "-"),
            Err(E::NotAnInteger { token: "-" })
        );
        assert_eq!(
            csv(one(T::Uint32), "99999999999999999999999"),
            Err(E::NotAnInteger {
                token: "99999999999999999999999"
            })
        );
        let long = "1111111111111111111111111111111111111111111111111111111111111111111111";
        assert_eq!(
            csv(one(T::Uint32), long),
            Err(E::NotAnInteger { token: long })
        );
        assert_eq!(
            named("path-mtu-plateau-table", "68, 296, 1500").unwrap(),
            "0044012805dc"
        );
        assert_eq!(
            named("path-mtu-plateau-table", "68, 70000"),
            Err(E::IntegerOutOfRange {
                token: "70000",
                value_type: T::Uint16
            })
        );
    }

    #[test]
    fn booleans() {
        for (text, wire) in [
            ("true", "01"),
            ("TRUE", "01"),
            ("False", "00"),
            ("1", "01"),
            ("0", "00"),
            ("+1", "01"),
        ] {
            assert_eq!(named("ip-forwarding", text).unwrap(), wire, "{text}");
        }
        for text in ["yes", "2", "-1", "t", "0x1"] {
            assert_eq!(
                named("ip-forwarding", text),
                Err(OptionDataError::BadBoolean { token: text }),
                "{text}"
            );
        }
    }

    #[test]
    fn ipv4_addresses() {
        assert_eq!(named("subnet-mask", "255.255.255.0").unwrap(), "ffffff00");
        assert_eq!(named("swap-server", "0.0.0.0").unwrap(), "00000000");
        for bad in [
            "198.18.0",
            "198.18.0.1.2",
            "198.18.0.256",
            "198.018.0.1",
            "198.18.0.1.",
            "a.b.c.d",
            "::1",
            "198.18.0.-1",
            "1.2.3.4/24",
        ] {
            assert_eq!(
                named("routers", bad),
                Err(OptionDataError::BadIpv4 { token: bad }),
                "{bad}"
            );
        }
    }

    #[test]
    fn ipv6_addresses() {
        let kind = one(T::Ipv6Address);
        assert_eq!(csv(kind, "::").unwrap(), "00000000000000000000000000000000");
        assert_eq!(
            csv(kind, "::1").unwrap(),
            "00000000000000000000000000000001"
        );
        assert_eq!(
            csv(kind, "2001:db8::").unwrap(),
            "20010db8000000000000000000000000"
        );
        assert_eq!(
            csv(kind, "2001:DB8:0:0:1:2:3:4").unwrap(),
            "20010db8000000000001000200030004"
        );
        assert_eq!(
            csv(kind, "fe80::1:2").unwrap(),
            "fe800000000000000000000000010002"
        );
        assert_eq!(
            csv(kind, "::ffff:198.18.0.1").unwrap(),
            "00000000000000000000ffffc6120001"
        );
        assert_eq!(
            csv(kind, "1:2:3:4:5:6:198.18.0.1").unwrap(),
            "000100020003000400050006c6120001"
        );
        for bad in [
            "",
            ":",
            ":::",
            "1:2",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::8",
            "12345::",
            "g::",
            ":1::",
            "1::2:",
            "1:2:3:4:5:6:7:198.18.0.1",
            "::198.18.0",
            "1.2.3.4",
        ] {
            assert!(parse_ipv6(bad).is_none(), "{bad}");
        }
        assert_eq!(
            csv(kind, "1::2::3"),
            Err(OptionDataError::BadIpv6 { token: "1::2::3" })
        );
        assert!(parse_ipv6("1:2:3:4:5:6::7").is_some());
        // A zone is dropped, as Kea does.
        assert_eq!(parse_ipv6("fe80::1%eth0"), parse_ipv6("fe80::1"));
        assert_eq!(parse_ipv6("fe80::1%"), parse_ipv6("fe80::1"));
        assert!(parse_ipv6("fe80::g%eth0").is_none());
        assert_eq!(
            csv(one(T::Ipv6Prefix), "fe80::1%eth0/64").unwrap(),
            "40fe80000000000000"
        );
        assert!(parse_ipv6("::2:3:4:5:6:7:8").is_some());
    }

    #[test]
    fn ipv6_prefixes_and_psid() {
        let prefix = one(T::Ipv6Prefix);
        assert_eq!(csv(prefix, "2001:db8::/32").unwrap(), "2020010db8");
        assert_eq!(csv(prefix, "2001:db8:ffff::/36").unwrap(), "2420010db8f0");
        assert_eq!(csv(prefix, "2001:db8:: / 48").unwrap(), "3020010db80000");
        assert_eq!(csv(prefix, "::/0").unwrap(), "00");
        assert_eq!(
            csv(prefix, "::1/128").unwrap(),
            "8000000000000000000000000000000001"
        );
        for bad in [
            "2001:db8::",
            "2001:db8::/129",
            "198.18.0.0/16",
            "2001:db8::/x",
        ] {
            assert_eq!(
                csv(prefix, bad),
                Err(OptionDataError::BadIpv6Prefix { token: bad }),
                "{bad}"
            );
        }
        let psid = one(T::Psid);
        assert_eq!(csv(psid, "5/4").unwrap(), "045000");
        assert_eq!(csv(psid, "0/0").unwrap(), "000000");
        assert_eq!(csv(psid, "65535/16").unwrap(), "10ffff");
        assert_eq!(csv(psid, "1 / 1").unwrap(), "018000");
        for bad in ["5", "16/4", "1/17", "x/4", "65536/16"] {
            assert_eq!(
                csv(psid, bad),
                Err(OptionDataError::BadPsid { token: bad }),
                "{bad}"
            );
        }
    }

    #[test]
    fn strings() {
        assert_eq!(named("host-name", "\0"), Err(OptionDataError::EmptyString));
        assert_eq!(named("host-name", "ab\0\0").unwrap(), "6162");
        assert_eq!(named("host-name", "a\0b").unwrap(), "610062");
        assert_eq!(named("root-path", "  "), Err(OptionDataError::EmptyString));
        assert_eq!(
            named("v4-captive-portal", "https://portal.example.test/").unwrap(),
            hex(b"https://portal.example.test/")
        );
        assert_eq!(
            named("boot-file-name", "").unwrap_err().to_string(),
            "no option value specified"
        );
        assert_eq!(named("routers", ""), Ok(std::string::String::new()));
    }

    #[test]
    fn fqdns() {
        let kind = one(T::Fqdn);
        // The root name alone: an error for a single value, fine in a list (Kea 2.2 `-t`).
        assert_eq!(
            csv(kind, "."),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        // Root names in a list: dropped at the end, an error before another name
        // (kea-dhcp4 2.2.0 on the wire: 119 "a.test, ." is 0161047465737400; 141 "." is
        // an empty option; "a.test, ., b.test" fails its config check).
        assert_eq!(named("domain-search", ".").unwrap(), "");
        assert_eq!(
            named("domain-search", "a.test, .").unwrap(),
            "0161047465737400"
        );
        assert_eq!(named("sip-ua-cs-domains", ".").unwrap(), "");
        // Names whose text form needs escapes (a space, an escaped dot) are read back by Kea
        // as longer than they are: "option buffer truncated" alone, left out at a list's end.
        assert_eq!(
            named("v4-lost", "a b.test"),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            named("v4-lost", "a\\.b.test"),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            named("domain-search", "x.test, a b.test").unwrap(),
            "0178047465737400"
        );
        assert_eq!(kea_fqdn_len(&[1, b' ', 0]), Ok(6));
        assert_eq!(kea_fqdn_len(&[1, b'@', 0]), Ok(4));
        assert_eq!(kea_fqdn_len(&[1, b'a', 0]), Ok(3));
        assert_eq!(kea_fqdn_len(&[0]), Ok(2));
        // kea-dhcp4 2.2 -t: "unknown label character: 121" (the `@` name eats a byte of
        // the next), "incomplete wire-format name", "unable to read a prefix having
        // length of 255 from a truncated buffer".
        assert_eq!(
            named("sip-ua-cs-domains", "a@b.test, y.test"),
            Err(OptionDataError::BadWireValue {
                value_type: T::Fqdn
            })
        );
        let mut out = [0u8; 16];
        let bcms = by_name("bcms-controller-names").unwrap().kind;
        assert_eq!(
            encode(Some(&bcms), false, "0161000162", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        let lost = by_name("v4-lost").unwrap().kind;
        assert_eq!(
            encode(Some(&lost), false, "0120000000", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            encode(Some(&many(T::Ipv6Prefix)), false, "08200820ff", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Ipv6Prefix
            })
        );
        assert_eq!(
            kea_fqdn_len(&[0xc0, 0x0c]),
            Err(OptionDataError::BadWireValue {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            named("domain-search", "a.test, ., b.test"),
            Err(OptionDataError::BadWireValue {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            named("domain-search", ". , a.test"),
            Err(OptionDataError::BadWireValue {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            named("domain-search", ""),
            Err(OptionDataError::BadArrayLength {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            csv(kind, "A.Test").unwrap(),
            "01410454657374 00".replace(' ', "")
        );
        // The escaped dot is written into the label (then Kea's read-back rejects it, below).
        let mut buf = [0u8; 16];
        let mut writer = Writer::new(&mut buf);
        write_fqdn(Token { raw: "a\\.b.test" }, &mut writer).unwrap();
        assert_eq!(
            hex(writer.written()),
            "03612e620474657374 00".replace(' ', "")
        );
        assert_eq!(
            csv(kind, "a\\065.test").unwrap(),
            "0261410474657374 00".replace(' ', "")
        );
        let label63 = "a".repeat(63);
        assert_eq!(csv(kind, &label63).unwrap().len(), 2 * 65);
        let label64 = "a".repeat(64);
        assert_eq!(
            csv(kind, &label64),
            Err(OptionDataError::FqdnLabelTooLong { token: &label64 })
        );
        // 4 labels of 63 = 256 wire bytes with the root: too long; 3 + 61 fits in 255.
        let name256 = [label63.as_str(); 4].join(".");
        assert_eq!(
            csv(kind, &name256),
            Err(OptionDataError::FqdnTooLong { token: &name256 })
        );
        let name255 = std::format!("{label63}.{label63}.{label63}.{}", "a".repeat(61));
        assert_eq!(csv(kind, &name255).unwrap().len(), 2 * 255);
        for bad in ["a..b", ".a", "a.b..", "..", "a\\25", "a\\256.b", "a\\"] {
            assert_eq!(
                csv(kind, bad),
                Err(OptionDataError::BadFqdn { token: bad }),
                "{bad}"
            );
        }
        assert_eq!(
            named("v4-lost", "lost.example.test").unwrap(),
            "046c6f7374076578616d706c650474657374 00".replace(' ', "")
        );
        assert_eq!(
            named("sip-ua-cs-domains", "a.test,b.test").unwrap(),
            "0161047465737400016204746573740 0".replace(' ', "")
        );
    }

    #[test]
    fn binary_and_tuple() {
        assert_eq!(
            named("dhcp-client-identifier", "01aabbCCddeeff").unwrap(),
            "01aabbccddeeff"
        );
        assert_eq!(
            named("user-class", "0a:0b"),
            Err(OptionDataError::NotHex { token: "0a:0b" })
        );
        assert_eq!(
            named("user-class", "0x0a0b"),
            Err(OptionDataError::NotHex { token: "0x0a0b" })
        );
        assert_eq!(
            named("user-class", "abc"),
            Err(OptionDataError::OddHexLength { token: "abc" })
        );
        assert_eq!(named("user-class", " ").unwrap(), "");
        // White space between digits is skipped; the digit count must still be even.
        assert_eq!(named("user-class", "0 a0b").unwrap(), "0a0b");
        assert_eq!(named("user-class", "0a\t0b").unwrap(), "0a0b");
        assert_eq!(
            named("user-class", "0a 0"),
            Err(OptionDataError::OddHexLength { token: "0a 0" })
        );
        let tuple = one(T::Tuple);
        assert_eq!(
            csv(tuple, "hello").unwrap(),
            std::format!("05{}", hex(b"hello"))
        );
        let long = "x".repeat(256);
        assert_eq!(
            csv(tuple, &long),
            Err(OptionDataError::TupleTooLong { token: &long })
        );
        assert_eq!(csv(many(T::Tuple), "a, bc").unwrap(), "0161026263");
    }

    #[test]
    fn empty_type() {
        let kind = by_name("vendor-encapsulated-options").unwrap().kind;
        assert_eq!(csv(kind, "").unwrap(), "");
        assert_eq!(
            csv(kind, "01"),
            Err(OptionDataError::ValueForEmptyType { token: "01" })
        );
        // Raw bytes of an encapsulating empty option are its sub-options: kept.
        let mut out = [0u8; 8];
        assert_eq!(encode(Some(&kind), false, "0102aabb", &mut out), Ok(4));
    }

    #[test]
    fn raw_data() {
        assert_eq!(raw("'hello world'").unwrap(), hex(b"hello world"));
        assert_eq!(raw("  ' padded '  ").unwrap(), hex(b"padded"));
        assert_eq!(raw("01:02:0a:0b").unwrap(), "01020a0b");
        assert_eq!(raw("1:2:a:B").unwrap(), "01020a0b");
        assert_eq!(raw("01 02 0a 0b").unwrap(), "01020a0b");
        assert_eq!(raw("0x01020a0b").unwrap(), "01020a0b");
        assert_eq!(raw("01020A0B").unwrap(), "01020a0b");
        assert_eq!(raw("0x123").unwrap(), "0123");
        assert_eq!(raw("abc").unwrap(), "0abc");
        assert_eq!(raw("").unwrap(), "");
        use OptionDataError as E;
        assert_eq!(
            raw("01:02 03"),
            Err(E::HexGroupTooLong { token: "01:02 03" })
        );
        assert_eq!(
            raw("01 02:03"),
            Err(E::HexGroupTooLong { token: "01 02:03" })
        );
        assert_eq!(raw("01::02"), Err(E::EmptyHexGroup { token: "01::02" }));
        assert_eq!(raw("01:02:"), Err(E::EmptyHexGroup { token: "01:02:" }));
        assert_eq!(raw(" 01"), Err(E::EmptyHexGroup { token: " 01" }));
        assert_eq!(raw("012:03"), Err(E::HexGroupTooLong { token: "012:03" }));
        assert_eq!(raw("0g:03"), Err(E::NotHex { token: "0g:03" }));
        assert_eq!(raw("0x"), Err(E::NotHex { token: "0x" }));
        assert_eq!(raw("0X12"), Err(E::NotHex { token: "0X12" }));
        assert_eq!(raw("''"), Err(E::NotHex { token: "''" }));
        assert_eq!(raw("'"), Err(E::NotHex { token: "'" }));
        assert_eq!(raw("hello"), Err(E::NotHex { token: "hello" }));
    }

    #[test]
    fn raw_data_checked_against_definition() {
        let mut out = [0u8; 32];
        let routers = by_name("routers").unwrap().kind;
        assert_eq!(
            encode(Some(&routers), false, "c6120001c6120002", &mut out),
            Ok(8)
        );
        assert_eq!(encode(Some(&routers), false, "", &mut out), Ok(0));
        assert_eq!(
            encode(Some(&routers), false, "c61200", &mut out),
            Err(OptionDataError::BadArrayLength {
                value_type: T::Ipv4Address
            })
        );
        let client_system = by_code(93).unwrap().kind;
        assert_eq!(
            encode(Some(&client_system), false, "", &mut out),
            Err(OptionDataError::BadArrayLength {
                value_type: T::Uint16
            })
        );
        let domain = by_name("domain-name").unwrap().kind;
        assert_eq!(
            encode(Some(&domain), false, "'example.test'", &mut out),
            Ok(12)
        );
        assert_eq!(encode(Some(&domain), false, "61620000", &mut out), Ok(2));
        assert_eq!(
            encode(Some(&domain), false, "00", &mut out),
            Err(OptionDataError::EmptyString)
        );
        let lease = by_code(51).unwrap().kind;
        assert_eq!(
            encode(Some(&lease), false, "0e10", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Uint32
            })
        );
        assert_eq!(encode(Some(&lease), false, "00000e10", &mut out), Ok(4));
        let search = by_code(119).unwrap().kind;
        assert_eq!(
            encode(Some(&search), false, "0161047465737400", &mut out),
            Ok(8)
        );
        assert_eq!(
            encode(Some(&search), false, "01610474657374", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            encode(Some(&search), false, "40", &mut out),
            Err(OptionDataError::BadWireValue {
                value_type: T::Fqdn
            })
        );
        let prefix = one(T::Ipv6Prefix);
        // Raw bytes are only size-checked, as Kea 2.2 does: prefix length 129 with its
        // 17 bytes, PSID length 17, boolean 2 all pass `kea-dhcp4 -t`.
        assert_eq!(
            encode(
                Some(&prefix),
                false,
                "810000000000000000000000000000000000",
                &mut out
            ),
            Ok(18)
        );
        assert_eq!(
            encode(Some(&prefix), false, "81", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Ipv6Prefix
            })
        );
        let boolean = one(T::Boolean);
        assert_eq!(encode(Some(&boolean), false, "02", &mut out), Ok(1));
        assert_eq!(
            encode(Some(&prefix), false, "10", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Ipv6Prefix
            })
        );
        let psid = one(T::Psid);
        assert_eq!(encode(Some(&psid), false, "110000", &mut out), Ok(3));
        assert_eq!(
            encode(Some(&psid), false, "1100", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Psid
            })
        );
        // A single fqdn keeps its name and drops what follows; a list must be whole.
        let lost = by_name("v4-lost").unwrap().kind;
        assert_eq!(encode(Some(&lost), false, "01610001", &mut out), Ok(3));
        assert_eq!(
            encode(Some(&lost), false, "00", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        assert_eq!(
            encode(Some(&search), false, "01610001", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Fqdn
            })
        );
        assert_eq!(encode(Some(&search), false, "00", &mut out), Ok(0));
        assert_eq!(
            encode(Some(&many(T::Tuple)), false, "", &mut out),
            Err(OptionDataError::BadArrayLength {
                value_type: T::Tuple
            })
        );
        assert_eq!(
            encode(Some(&one(T::Tuple)), false, "016162", &mut out),
            Ok(2)
        );
        assert_eq!(
            encode(Some(&many(T::Boolean)), false, "", &mut out),
            Err(OptionDataError::BadArrayLength {
                value_type: T::Boolean
            })
        );
        assert_eq!(
            encode(Some(&many(T::Ipv6Address)), false, "", &mut out),
            Ok(0)
        );
        let tuple = many(T::Tuple);
        assert_eq!(
            encode(Some(&tuple), false, "0261", &mut out),
            Err(OptionDataError::Truncated {
                value_type: T::Tuple
            })
        );
        // No definition and csv-format true is Kea's "CSV ... option that has a definition".
        assert_eq!(
            encode(None, true, "01", &mut out),
            Err(OptionDataError::CsvWithoutDefinition)
        );
        assert_eq!(encode(None, false, "'abc'", &mut out), Ok(3));
    }

    #[test]
    fn output_too_small() {
        let kind = by_name("routers").unwrap().kind;
        let mut out = [0u8; 7];
        assert_eq!(
            encode(Some(&kind), true, "198.18.0.1, 198.18.0.2", &mut out),
            Err(OptionDataError::OutputTooSmall)
        );
        let mut out = [0u8; 8];
        assert_eq!(
            encode(Some(&kind), true, "198.18.0.1, 198.18.0.2", &mut out),
            Ok(8)
        );
        let mut out = [0u8; 2];
        assert_eq!(
            encode(None, false, "'abc'", &mut out),
            Err(OptionDataError::OutputTooSmall)
        );
        assert_eq!(
            encode(None, false, "010203", &mut out),
            Err(OptionDataError::OutputTooSmall)
        );
        assert_eq!(
            encode(None, false, "01:02:03", &mut out),
            Err(OptionDataError::OutputTooSmall)
        );
        let fqdn = one(T::Fqdn);
        assert_eq!(
            encode(Some(&fqdn), true, "ab.c", &mut out),
            Err(OptionDataError::OutputTooSmall)
        );
        let tuple = one(T::Tuple);
        assert_eq!(
            encode(Some(&tuple), true, "ab", &mut out),
            Err(OptionDataError::OutputTooSmall)
        );
        assert_eq!(encode(Some(&tuple), true, "a", &mut out), Ok(2));
        let mut empty: [u8; 0] = [];
        assert_eq!(
            encode(Some(&one(T::Uint8)), true, "1", &mut empty),
            Err(OptionDataError::OutputTooSmall)
        );
    }

    #[test]
    fn empty_option_payloads() {
        assert_eq!(empty_option_payload_len(false, &[1, 2, 0xaa, 0xbb]), 0);
        assert_eq!(empty_option_payload_len(true, &[1, 2, 0xaa, 0xbb]), 4);
        assert_eq!(empty_option_payload_len(true, &[1, 5, 0xaa, 0xbb]), 0);
        assert_eq!(empty_option_payload_len(true, &[1, 0, 2, 1, 9, 3]), 5);
        assert_eq!(empty_option_payload_len(true, &[]), 0);
        assert_eq!(empty_option_payload_len(true, &[7]), 0);
        let tlvs: Vec<_> = suboption_tlvs(&[1, 0, 2, 1, 9, 3, 5]).collect();
        assert_eq!(tlvs, [(1, &[][..]), (2, &[9][..])], "stops at the cut one");
        assert_eq!(suboption_tlvs(&[]).count(), 0);
        assert_eq!(suboption_tlvs(&[0, 1, 7, 255, 0]).count(), 2);
    }

    #[test]
    fn suboptions_sort_by_code_keeping_the_order_of_equal_codes() {
        let given: [(u8, &[u8]); 6] = [
            (2, b"two"),
            (255, b"end"),
            (1, b"a"),
            (2, b"again"),
            (0, b"pad"),
            (1, b"b"),
        ];
        let sorted: Vec<_> = in_code_order(given.iter().copied()).collect();
        let expected: [(u8, &[u8]); 6] = [
            (0, b"pad"),
            (1, b"a"),
            (1, b"b"),
            (2, b"two"),
            (2, b"again"),
            (255, b"end"),
        ];
        assert_eq!(sorted, expected);
        assert_eq!(in_code_order(given.iter().copied().take(0)).count(), 0);
        // Observed from Kea 2.2: sub-options 2 then 1 configured, 43 = 01 01 01 02 03 "two".
        let mut out = [0u8; 16];
        let subs: [(u8, &[u8]); 2] = [(2, b"two"), (1, &[1])];
        let n = encode_suboptions(in_code_order(subs.iter().copied()), &mut out).unwrap();
        assert_eq!(hex(&out[..n]), "010101020374776f");
    }

    #[test]
    fn suboption_carriers() {
        let mut out = [0u8; 64];
        let subs: [(u8, &[u8]); 2] = [(1, &[0xaa]), (2, b"tftp")];
        let len = encode_suboptions(subs, &mut out).unwrap();
        assert_eq!(
            hex(&out[..len]),
            std::format!("01 01 aa 02 04 {}", hex(b"tftp")).replace(' ', "")
        );
        // kea-options.md §3.3 [checked]: 4491 sub-option 2 tftp-servers 198.18.10.5.
        let tftp: [(u8, &[u8]); 1] = [(2, &[198, 18, 10, 5])];
        let len = encode_vivso(4491, tftp, &mut out).unwrap();
        assert_eq!(hex(&out[..len]), "0000118b060204c6120a05");
        let long = [0u8; 256];
        let too_long: [(u8, &[u8]); 1] = [(9, &long)];
        assert_eq!(
            encode_suboptions(too_long, &mut [0u8; 300]),
            Err(OptionDataError::SubOptionTooLong { code: 9 })
        );
        let chunk = [0u8; 200];
        let over: [(u8, &[u8]); 2] = [(1, &chunk), (2, &chunk)];
        assert_eq!(
            encode_vivso(9, over, &mut [0u8; 600]),
            Err(OptionDataError::SubOptionTooLong { code: 125 })
        );
        assert_eq!(
            encode_vivso(9, tftp, &mut [0u8; 6]),
            Err(OptionDataError::OutputTooSmall)
        );
        assert_eq!(encode_vivso(9, [], &mut [0u8; 5]), Ok(5));
        // Captured from kea-dhcp4 2.2.0: vendor-9 sub-options 3 (uint16 3) and 5 ("five").
        let nine: [(u8, &[u8]); 2] = [(3, &[0, 3]), (5, b"five")];
        let len = encode_vivso(9, nine, &mut out).unwrap();
        assert_eq!(hex(&out[..len]), "000000090a03020003050466697665");
        let pxe: [(u8, &[u8]); 2] = [(1, &[1]), (2, b"two")];
        let len = encode_suboptions(pxe, &mut out).unwrap();
        assert_eq!(hex(&out[..len]), "010101020374776f");
        assert_eq!(
            encode_vivso(9, [], &mut [0u8; 4]),
            Err(OptionDataError::OutputTooSmall)
        );
    }

    #[test]
    fn every_standard_option_encodes_a_sample() {
        // Smoke test over the whole table: a sample value per type encodes and passes the
        // definition's own wire check.
        let sample = |t: OptionType| match t {
            T::Empty => "",
            T::Binary => "0102",
            T::Boolean => "true",
            T::Int8 | T::Int16 | T::Int32 | T::Uint8 | T::Uint16 | T::Uint32 => "1",
            T::Ipv4Address => "198.18.0.1",
            T::Ipv6Address => "2001:db8::1",
            T::Ipv6Prefix => "2001:db8::/32",
            T::Psid => "1/4",
            T::String => "text",
            T::Fqdn => "a.test",
            T::Tuple => "tuple",
            T::Record => "",
        };
        for def in crate::option_def::DHCP4_DEFS {
            let data: Vec<&str> = if def.kind.value_type() == T::Record {
                def.kind
                    .record_fields()
                    .iter()
                    .map(|f| sample(*f))
                    .collect()
            } else {
                std::vec![sample(def.kind.value_type())]
            };
            let data = data.join(",");
            let mut out = [0u8; 128];
            let len = encode(Some(&def.kind), true, &data, &mut out)
                .unwrap_or_else(|e| panic!("{}: {e}", def.name));
            assert_eq!(check_wire(&def.kind, &out[..len]), Ok(len), "{}", def.name);
        }
    }

    /// Payloads sent by kea-dhcp4 2.2.0 (Debian 2.2.0-6) in a DHCPOFFER, captured in a
    /// private namespace pair on 198.18.0.0/24 with `always-send` set on each entry.
    #[test]
    fn kea_2_2_wire_vectors() {
        let def =
            |t: &str, records: &str, array: bool| OptionKind::from_def(t, records, array).unwrap();
        let std_kind = |name: &str| by_name(name).unwrap().kind;
        let cases: [(OptionKind, bool, &str, &str); 49] = [
            (
                std_kind("routers"),
                true,
                "198.18.0.1, 198.18.0.2",
                "c6120001c6120002",
            ),
            (std_kind("time-offset"), true, "-0x10", "fffffff0"),
            (std_kind("boot-size"), true, "1e3", "01e3"),
            (std_kind("merit-dump"), true, "a\\,b", "612c62"),
            (std_kind("root-path"), true, "ab\0\0", "6162"),
            (std_kind("ip-forwarding"), true, "TRUE", "01"),
            (std_kind("user-class"), true, "0 a0b", "0a0b"),
            (
                std_kind("domain-search"),
                true,
                "a.test, .",
                "0161047465737400",
            ),
            (
                std_kind("domain-search"),
                true,
                "a.test, b.test",
                "01610474657374000162047465737400",
            ),
            (std_kind("sip-ua-cs-domains"), true, ".", ""),
            (std_kind("slp-service-scope"), true, "1, ", "01"),
            (std_kind("uuid-guid"), true, "0, ", "00"),
            (
                std_kind("v4-lost"),
                true,
                "Lost.Example.test.",
                "044c6f7374074578616d706c65047465737400",
            ),
            (
                std_kind("rdnss-selection"),
                true,
                "1, 198.18.0.1, 198.18.0.2, a.test, b",
                "01c6120001c61200020161047465737400016200",
            ),
            (std_kind("v4-portparams"), true, "2, 5/4", "02045000"),
            (
                std_kind("option-6rd"),
                true,
                "0, 32, 2001:db8::1, 198.18.0.1",
                "002020010db8000000000000000000000001c6120001",
            ),
            (std_kind("client-system"), true, "0, 7, 0x9", "000000070009"),
            (
                std_kind("domain-name"),
                true,
                "home.michaelc.dev, other",
                "686f6d652e6d69636861656c632e646576",
            ),
            (std_kind("name-servers"), true, "", ""),
            (def("tuple", "", false), true, "hello", "0568656c6c6f"),
            (
                def("ipv6-prefix", "", false),
                true,
                "2001:db8:ffff::/36",
                "2420010db8f0",
            ),
            (def("tuple", "", true), true, "a, bc", "0161026263"),
            (def("int8", "", false), true, "-0x80", "80"),
            (
                def("record", "uint8, ipv4-address, string", false),
                true,
                "7, 198.18.10.9, hello",
                "07c6120a0968656c6c6f",
            ),
            (
                def("ipv6-prefix", "", false),
                true,
                "2001:db8::1/128",
                "8020010db8000000000000000000000001",
            ),
            (def("boolean", "", true), true, "1, false, +1", "010001"),
            (
                std_kind("path-mtu-aging-timeout"),
                false,
                "00000e100102",
                "00000e10",
            ),
            (std_kind("nwip-domain-name"), false, "61620000", "6162"),
            (
                std_kind("bcms-controller-names"),
                false,
                "0161000000",
                "0161000000",
            ),
            (def("tuple", "", false), false, "016162", "0161"),
            (std_kind("v4-lost"), false, "01610001", "016100"),
            (std_kind("default-ip-ttl"), false, "0102", "01"),
            (
                std_kind("vendor-encapsulated-options"),
                false,
                "0102aabb",
                "0102aabb",
            ),
            (std_kind("user-class"), false, "01:2:a", "01020a"),
            (std_kind("user-class"), false, "0x123", "0123"),
            (
                std_kind("user-class"),
                false,
                " ' padded ' ",
                "706164646564",
            ),
            (std_kind("user-class"), false, "", ""),
            (
                std_kind("domain-search"),
                true,
                "x.test, a b.test",
                "0178047465737400",
            ),
            (def("ipv6-prefix", "", false), false, "0820ff", "0820"),
            (def("ipv6-prefix", "", true), false, "08200820", "08200820"),
            (
                def("record", "uint8, tuple", false),
                true,
                "1, ab",
                "01026162",
            ),
            (
                def("record", "tuple, uint8", false),
                true,
                "ab, 1",
                "02616201",
            ),
            (
                def("record", "uint8, ipv6-prefix", false),
                true,
                "1, 2001:db8::/32",
                "012020010db8",
            ),
            (
                def("record", "uint8, psid", true),
                true,
                "1, 1/4, 2/4",
                "01041000042000",
            ),
            (
                def("record", "uint8, tuple", true),
                true,
                "1, a, b",
                "0101610162",
            ),
            (def("psid", "", true), true, "1/4, 2/4", "041000042000"),
            (
                def("ipv6-prefix", "", true),
                true,
                "2001:db8::/32, ::/0",
                "2020010db800",
            ),
            (
                def("uint32", "", true),
                true,
                "1, 0xffffffff",
                "00000001ffffffff",
            ),
            (def("int16", "", false), true, "-2", "fffe"),
        ];
        for (kind, csv_format, data, wire) in cases {
            let mut out = [0u8; 64];
            let len = encode(Some(&kind), csv_format, data, &mut out)
                .unwrap_or_else(|e| panic!("{data}: {e}"));
            assert_eq!(hex(&out[..len]), wire, "{data}");
        }
        // Options without definition (codes 200-203 in the capture).
        assert_eq!(raw("01:2:a").unwrap(), "01020a");
        assert_eq!(raw("0x123").unwrap(), "0123");
        assert_eq!(raw(" ' padded ' ").unwrap(), "706164646564");
        assert_eq!(raw("").unwrap(), "");
    }

    /// Deterministic noise over every standard layout and some custom ones, both input
    /// forms and small output buffers: nothing may panic, and a success never claims more
    /// bytes than the buffer holds.
    #[test]
    fn noise_never_panics() {
        const ALPHABET: &[u8] = b"0123456789abcdefxX:., \t\\-+/'@\\%g\0\xc3\xa9";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut kinds: Vec<OptionKind> = crate::option_def::DHCP4_DEFS
            .iter()
            .map(|d| d.kind)
            .collect();
        for t in [
            "tuple",
            "ipv6-prefix",
            "psid",
            "ipv6-address",
            "int8",
            "int16",
        ] {
            kinds.push(OptionKind::from_def(t, "", false).unwrap());
            kinds.push(OptionKind::from_def(t, "", true).unwrap());
        }
        kinds.push(OptionKind::from_def("record", "fqdn, tuple, ipv6-prefix, psid", true).unwrap());
        let mut text = std::string::String::new();
        for round in 0..4000 {
            text.clear();
            let len = (next() % 40) as usize;
            let mut bytes = Vec::new();
            for _ in 0..len {
                bytes.push(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
            }
            text.push_str(&std::string::String::from_utf8_lossy(&bytes));
            let kind = kinds[round % kinds.len()];
            for out_len in [0usize, 3, 17, 300] {
                let mut out = std::vec![0u8; out_len];
                for csv_format in [true, false] {
                    if let Ok(n) = encode(Some(&kind), csv_format, &text, &mut out) {
                        assert!(n <= out_len, "{text:?}");
                    }
                }
                if let Ok(n) = encode(None, false, &text, &mut out) {
                    assert!(n <= out_len);
                }
                let _ = check_wire(&kind, &bytes);
            }
        }
    }

    #[test]
    fn errors_display() {
        assert_eq!(
            OptionDataError::NoValue.to_string(),
            "no option value specified"
        );
        assert_eq!(
            OptionDataError::IntegerOutOfRange {
                token: "256",
                value_type: T::Uint8
            }
            .to_string(),
            "unable to convert '256' to uint8: the value is expected to be in the range of 0..255"
        );
        assert_eq!(
            OptionDataError::BadIpv4 { token: "x" }.to_string(),
            "'x' is not a valid IPv4 address"
        );
        assert_eq!(
            OptionDataError::OutputTooSmall.to_string(),
            "option payload buffer is full"
        );
        let e = OptionDataError::BadIpv4 { token: "x" };
        assert_eq!(
            (e.reason(), e.token()),
            ("value is not an IPv4 address", Some("x"))
        );
        assert_eq!(OptionDataError::NoValue.token(), None);
        assert_eq!(
            OptionDataError::NoValue.reason(),
            "no option value specified"
        );
    }
}

#[cfg(test)]
mod kea_vectors;
