//! Kea 2.2's memfile lease file for DHCPv4 (`kea-leases4.csv`) ↔ [`LeaseRecord`], exactly as
//! kea-memfile.md §1: header, 11 columns, hex and escaping rules, and the older/newer
//! header shapes Kea's versioned CSV accepts (§3.5).
//!
//! No I/O and no allocation: [`parse_row`] borrows the line and a caller scratch buffer
//! (for decoded hex and unescaped text); [`write_row`] fills a caller buffer.
//!
//! ```text
//! address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
//! 198.18.10.130,02:00:00:00:00:11,01:02:00:00:00:00:11,4000,1795861696,1,0,0,,0,
//! ```

use core::net::Ipv4Addr;

use super::record::{LeaseRecord, LeaseState};
use crate::time::Timestamp;

#[cfg(test)]
mod reference;

/// The header Kea 2.2 writes (schema 2.1, 11 columns).
pub const HEADER: &str = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context";

/// Column names by position: Kea 2.2's 11, then the `pool_id` column Kea ≥ 2.4 appends.
pub const COLUMNS: [&str; 12] = [
    "address",
    "hwaddr",
    "client_id",
    "valid_lifetime",
    "expire",
    "subnet_id",
    "fqdn_fwd",
    "fqdn_rev",
    "hostname",
    "state",
    "user_context",
    "pool_id",
];

/// Columns of the schema this codec writes (Kea 2.2).
pub const CURRENT_COLUMNS: usize = 11;
/// Fewest columns Kea accepts in a header: everything up to `hostname` (schema 1.0).
pub const MIN_COLUMNS: usize = 9;

const COL_STATE: usize = 9;
const COL_USER_CONTEXT: usize = 10;

/// Longest hardware address in a row (Kea's `HWAddr::MAX_HWADDR_LEN`).
pub const HWADDR_MAX: usize = 20;
/// Client-id length bounds (Kea's `ClientId::MIN_CLIENT_ID_LEN` / `MAX_CLIENT_ID_LEN`).
pub const CLIENT_ID_MIN: usize = 2;
/// See [`CLIENT_ID_MIN`].
pub const CLIENT_ID_MAX: usize = 128;

/// Scratch bytes [`parse_row`] may need for `line`: decoded hwaddr and client-id plus
/// unescaped hostname and user context (unescaping never grows text).
pub const fn scratch_len(line_len: usize) -> usize {
    HWADDR_MAX + CLIENT_ID_MAX + line_len
}

/// The column layout of a lease file, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderShape {
    columns: usize,
}

/// How a file's schema relates to the one this codec writes (Kea logs "needs upgrade" /
/// "needs downgrade" and runs LFC once so the files are rewritten, kea-memfile.md §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaConversion {
    /// Exactly Kea 2.2's 11 columns.
    Current,
    /// Fewer columns (older Kea): `state` / `user_context` get defaults.
    Upgrade,
    /// More columns (Kea ≥ 2.4's `pool_id`, or later): the extra columns are ignored.
    Downgrade,
}

impl HeaderShape {
    /// Kea 2.2's own header.
    pub const CURRENT: HeaderShape = HeaderShape {
        columns: CURRENT_COLUMNS,
    };

    /// Number of columns every row must have.
    pub const fn columns(&self) -> usize {
        self.columns
    }

    /// Whether the file needs a schema conversion.
    pub const fn conversion(&self) -> SchemaConversion {
        if self.columns == CURRENT_COLUMNS {
            SchemaConversion::Current
        } else if self.columns < CURRENT_COLUMNS {
            SchemaConversion::Upgrade
        } else {
            SchemaConversion::Downgrade
        }
    }
}

/// Why a header was rejected (the whole file is then rejected, as Kea).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than [`MIN_COLUMNS`] columns (too old, corrupt, or not a Kea lease file).
    TooFewColumns {
        /// Columns found.
        found: usize,
    },
    /// A known column position carries another name.
    ColumnName {
        /// 1-based column number.
        column: usize,
        /// The name Kea expects there.
        expected: &'static str,
    },
}

/// Why a row was rejected (Kea discards it and counts a row error, kea-memfile.md §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowError {
    /// The row's column count differs from the header's (also a truncated last line).
    ColumnCount {
        /// Columns in the row.
        found: usize,
        /// Columns in the header.
        expected: usize,
    },
    /// `address` is not a dotted-quad IPv4 address.
    Address,
    /// `hwaddr` is not `:`-separated groups of 1–2 hex digits.
    HwAddrSyntax,
    /// `hwaddr` is longer than 20 bytes.
    HwAddrTooLong,
    /// `client_id` is not colon-, space-separated or contiguous hex.
    ClientIdSyntax,
    /// `client_id` is shorter than 2 or longer than 128 bytes.
    ClientIdLength {
        /// Decoded length (saturated at 129).
        len: usize,
    },
    /// Both `hwaddr` and `client_id` are empty but the lease is not declined.
    NoIdentifier,
    /// `valid_lifetime` is not a uint32.
    ValidLifetime,
    /// `expire` is not a uint64.
    Expire,
    /// `expire` is smaller than `valid_lifetime` (the cltt would precede 1970).
    ExpireBeforeLifetime,
    /// `subnet_id` is not a uint32.
    SubnetId,
    /// `fqdn_fwd` is not `1` or `0`.
    FqdnFwd,
    /// `fqdn_rev` is not `1` or `0`.
    FqdnRev,
    /// `hostname` is not UTF-8 after unescaping.
    HostnameNotUtf8,
    /// `state` is not 0, 1 or 2.
    State,
    /// `user_context` is not UTF-8 after unescaping.
    UserContextNotUtf8,
    /// `user_context` is neither empty nor a JSON map.
    UserContextNotMap,
    /// The scratch buffer is shorter than [`scratch_len`] asks.
    ScratchTooSmall,
}

/// Why [`write_row`] could not write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The output buffer is too short; `needed` bytes would do.
    BufferTooSmall {
        /// Bytes the row needs, newline included.
        needed: usize,
    },
}

fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Checks a header line (with or without its `\n`). Columns are matched by position and
/// name as Kea's `VersionedCSVFile::validateHeader`: every known column present must carry
/// its name, at least the first 9 (up to `hostname`) must be present, and columns past the
/// 11 Kea 2.2 knows are accepted without a name check (a 2.4+ file's `pool_id`).
pub fn parse_header(line: &[u8]) -> Result<HeaderShape, HeaderError> {
    let line = strip_newline(line);
    let mut count = 0usize;
    for (i, name) in line.split(|&b| b == b',').enumerate() {
        count = i + 1;
        if i < CURRENT_COLUMNS {
            let expected = COLUMNS.get(i).copied().unwrap_or("");
            if name != expected.as_bytes() {
                return Err(HeaderError::ColumnName {
                    column: i + 1,
                    expected,
                });
            }
        }
    }
    if count < MIN_COLUMNS {
        return Err(HeaderError::TooFewColumns { found: count });
    }
    Ok(HeaderShape { columns: count })
}

/// Parses one data row of a file with Kea 2.2's own header. See [`parse_row_with`].
pub fn parse_row<'a>(line: &'a [u8], scratch: &'a mut [u8]) -> Result<LeaseRecord<'a>, RowError> {
    parse_row_with(HeaderShape::CURRENT, line, scratch)
}

/// Parses one data row (with or without its `\n`) of a file whose header is `shape`.
/// Borrowed fields point into `line` or `scratch` (which needs [`scratch_len`] bytes).
/// Columns missing from an older header get Kea's defaults (`state` 0, no user context);
/// columns past the 11th are ignored.
///
/// The line is split once ([`split_columns`]: the column count and the first 11 columns'
/// bounds in one word-at-a-time pass), then each column is decoded by hand; the checks and
/// the order in which they report an error are those of Kea's loader (kea-memfile.md §1).
pub fn parse_row_with<'a>(
    shape: HeaderShape,
    line: &'a [u8],
    scratch: &'a mut [u8],
) -> Result<LeaseRecord<'a>, RowError> {
    let line = strip_newline(line);
    let mut columns: [&'a [u8]; CURRENT_COLUMNS] = [&[]; CURRENT_COLUMNS];
    let found = split_columns(line, &mut columns);
    if found != shape.columns {
        return Err(RowError::ColumnCount {
            found,
            expected: shape.columns,
        });
    }
    if scratch.len() < scratch_len(line.len()) {
        return Err(RowError::ScratchTooSmall);
    }
    let [address_text, hw_text, cid_text, lifetime_text, expire_text, subnet_text, fwd_text, rev_text, hostname_text, state_text, context_text] =
        columns;
    let address = parse_address(address_text)?;
    let valid_lifetime = parse_u32(lifetime_text).ok_or(RowError::ValidLifetime)?;
    let expire = parse_u64(expire_text).ok_or(RowError::Expire)?;
    let subnet_id = parse_u32(subnet_text).ok_or(RowError::SubnetId)?;
    let fqdn_fwd = parse_flag(fwd_text).ok_or(RowError::FqdnFwd)?;
    let fqdn_rev = parse_flag(rev_text).ok_or(RowError::FqdnRev)?;
    let state_text = (shape.columns > COL_STATE).then_some(state_text);
    let context_text = (shape.columns > COL_USER_CONTEXT).then_some(context_text);

    let (hw_buf, rest) = scratch.split_at_mut(HWADDR_MAX);
    let (cid_buf, rest) = rest.split_at_mut(CLIENT_ID_MAX);
    let (host_buf, context_buf) = rest.split_at_mut(hostname_text.len());

    let hw_len = parse_hwaddr(hw_text, hw_buf)?;
    let hwaddr: &'a [u8] = hw_buf.get(..hw_len).unwrap_or(&[]);
    let client_id: &'a [u8] = if cid_text.is_empty() {
        &[]
    } else {
        let len = parse_client_id(cid_text, cid_buf)?;
        cid_buf.get(..len).unwrap_or(&[])
    };
    let hostname = unescape(hostname_text, host_buf).ok_or(RowError::HostnameNotUtf8)?;
    let state = match state_text {
        None => LeaseState::Default,
        Some(t) => parse_u32(t)
            .and_then(LeaseState::from_code)
            .ok_or(RowError::State)?,
    };
    let user_context = match context_text {
        None => "",
        Some(t) => {
            let text = unescape(t, context_buf).ok_or(RowError::UserContextNotUtf8)?;
            if !text.is_empty() && !is_json_map(text.as_bytes()) {
                return Err(RowError::UserContextNotMap);
            }
            text
        }
    };
    if hwaddr.is_empty() && client_id.is_empty() && state != LeaseState::Declined {
        return Err(RowError::NoIdentifier);
    }
    // Kea stores `expire` and derives cltt = expire − valid_lifetime.
    let cltt = expire
        .checked_sub(u64::from(valid_lifetime))
        .ok_or(RowError::ExpireBeforeLifetime)?;
    Ok(LeaseRecord {
        address,
        hwaddr,
        client_id,
        valid_lifetime,
        cltt: Timestamp(cltt),
        subnet_id,
        fqdn_fwd,
        fqdn_rev,
        hostname,
        state,
        user_context,
    })
}

/// A word with `byte` in each of its 8 bytes.
const fn repeated(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// The bytes of `word` equal to `byte`, as the top bit of each such byte (exact: no false
/// positives, unlike the shorter "has a zero byte" test).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = repeated(0x7f);
    let x = word ^ repeated(byte);
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Splits `line` at its commas: `columns` gets the first `columns.len()` columns (the rest
/// stay as they were), the return value is the number of columns (commas + 1). One pass,
/// 8 bytes per step (a row is 50–100 bytes with 10 commas), instead of a byte-by-byte
/// split and a second pass to count.
pub fn split_columns<'a>(line: &'a [u8], columns: &mut [&'a [u8]]) -> usize {
    let mut commas = 0usize;
    let mut start = 0usize;
    let mut cut = |at: usize, commas: &mut usize, start: &mut usize| {
        if let Some(column) = columns.get_mut(*commas) {
            *column = line.get(*start..at).unwrap_or(&[]);
        }
        *commas += 1;
        *start = at + 1;
    };
    let words = line.chunks_exact(8);
    let tail = words.remainder();
    for (w, word) in words.enumerate() {
        let Ok(bytes) = <[u8; 8]>::try_from(word) else {
            continue;
        };
        let mut found = bytes_equal(u64::from_le_bytes(bytes), b',');
        while found != 0 {
            let at = w * 8 + (found.trailing_zeros() / 8) as usize;
            cut(at, &mut commas, &mut start);
            found &= found - 1;
        }
    }
    let tail_start = line.len() - tail.len();
    for (i, &b) in tail.iter().enumerate() {
        if b == b',' {
            cut(tail_start + i, &mut commas, &mut start);
        }
    }
    if let Some(column) = columns.get_mut(commas) {
        *column = line.get(start..).unwrap_or(&[]);
    }
    commas + 1
}

/// Where the first `\n` of `text` is: a lease file's row boundary, found 8 bytes per step.
pub fn find_newline(text: &[u8]) -> Option<usize> {
    let words = text.chunks_exact(8);
    let tail = words.remainder();
    for (w, word) in words.enumerate() {
        let Ok(bytes) = <[u8; 8]>::try_from(word) else {
            continue;
        };
        let found = bytes_equal(u64::from_le_bytes(bytes), b'\n');
        if found != 0 {
            return Some(w * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let tail_start = text.len() - tail.len();
    tail.iter()
        .position(|&b| b == b'\n')
        .map(|i| tail_start + i)
}

/// `address`: a dotted quad exactly as Rust's `Ipv4Addr::from_str` reads it (and so as this
/// codec always has): four decimal octets of 1–3 digits, each ≤ 255, without a leading zero
/// (`01` is refused: RFC 6943 §3.1.1's octal ambiguity), nothing else — no spaces, signs or
/// fifth part.
fn parse_address(text: &[u8]) -> Result<Ipv4Addr, RowError> {
    let mut octets = [0u8; 4];
    let mut part = 0usize;
    let mut value = 0u32;
    let mut digits = 0u32;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                // A fourth digit, or a digit after a leading 0.
                if digits == 3 || (digits == 1 && value == 0) {
                    return Err(RowError::Address);
                }
                value = value * 10 + u32::from(b - b'0');
                digits += 1;
            }
            b'.' => {
                let octet = u8::try_from(value).map_err(|_| RowError::Address)?;
                match octets.get_mut(part) {
                    Some(slot) if digits > 0 && part < 3 => *slot = octet,
                    _ => return Err(RowError::Address),
                }
                part += 1;
                value = 0;
                digits = 0;
            }
            _ => return Err(RowError::Address),
        }
    }
    let octet = u8::try_from(value).map_err(|_| RowError::Address)?;
    match octets.get_mut(part) {
        Some(slot) if digits > 0 && part == 3 => *slot = octet,
        _ => return Err(RowError::Address),
    }
    Ok(Ipv4Addr::from(octets))
}

/// Digits that always fit a `u64` (10^19 − 1 < 2^64).
const U64_SAFE_DIGITS: usize = 19;

/// A decimal `u64`: digits only (leading zeros allowed), at least one, no overflow.
fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    if text.len() <= U64_SAFE_DIGITS {
        // Cannot overflow: no checked arithmetic (a 128-bit multiply per digit) needed.
        let mut v: u64 = 0;
        for &b in text {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            v = v * 10 + u64::from(digit);
        }
        return Some(v);
    }
    let mut v: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

fn parse_u32(text: &[u8]) -> Option<u32> {
    parse_u64(text).and_then(|v| u32::try_from(v).ok())
}

/// Kea reads the fqdn columns as `1`/`0` only (`true` is a row error, kea-memfile.md §1).
fn parse_flag(text: &[u8]) -> Option<bool> {
    match text {
        b"1" => Some(true),
        b"0" => Some(false),
        _ => None,
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Why [`decode_groups`] refused a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupsError {
    /// A group is empty, longer than 2 digits, or not hex.
    Syntax,
    /// Every group is good but there are more than the output holds.
    TooMany,
}

/// Decodes `sep`-separated groups of 1 or 2 hex digits (Kea's `decodeSeparatedHexString`)
/// into `out`, in one pass; returns the byte count. A bad group anywhere is
/// [`GroupsError::Syntax`], even past the room of `out` (the length is reported only for
/// an otherwise valid text).
fn decode_groups(text: &[u8], sep: u8, out: &mut [u8]) -> Result<usize, GroupsError> {
    let mut n = 0usize;
    let mut value = 0u8;
    let mut digits = 0u8;
    let mut too_many = false;
    let mut end_group = |n: &mut usize, value: u8, digits: u8| {
        if digits == 0 {
            return Err(GroupsError::Syntax);
        }
        match out.get_mut(*n) {
            Some(slot) => *slot = value,
            None => too_many = true,
        }
        *n += 1;
        Ok(())
    };
    for &b in text {
        if b == sep {
            end_group(&mut n, value, digits)?;
            value = 0;
            digits = 0;
        } else {
            let d = hex_value(b).ok_or(GroupsError::Syntax)?;
            if digits == 2 {
                return Err(GroupsError::Syntax);
            }
            value = value << 4 | d;
            digits += 1;
        }
    }
    end_group(&mut n, value, digits)?;
    if too_many {
        return Err(GroupsError::TooMany);
    }
    Ok(n)
}

/// `hwaddr`: Kea's `HWAddr::fromText`: `:`-separated groups of 1–2 hex digits (so
/// contiguous hex longer than one byte is rejected); empty means no hardware address.
/// `out` holds [`HWADDR_MAX`] bytes.
fn parse_hwaddr(text: &[u8], out: &mut [u8]) -> Result<usize, RowError> {
    if text.is_empty() {
        return Ok(0);
    }
    let out = out.get_mut(..HWADDR_MAX).unwrap_or(&mut []);
    decode_groups(text, b':', out).map_err(|e| match e {
        GroupsError::Syntax => RowError::HwAddrSyntax,
        GroupsError::TooMany => RowError::HwAddrTooLong,
    })
}

/// `client_id`: Kea's `ClientId::fromText` → `decodeFormattedHexString`: colon-separated
/// if there is a colon, else space-separated if there is a space, else contiguous hex
/// (an odd digit count gets a leading `0`, a `0x` prefix is allowed). 2–128 bytes.
/// `out` holds [`CLIENT_ID_MAX`] bytes.
fn parse_client_id(text: &[u8], out: &mut [u8]) -> Result<usize, RowError> {
    let separator = if text.contains(&b':') {
        Some(b':')
    } else if text.contains(&b' ') {
        Some(b' ')
    } else {
        None
    };
    let len = match separator {
        Some(sep) => {
            let out = out.get_mut(..CLIENT_ID_MAX).unwrap_or(&mut []);
            decode_groups(text, sep, out).map_err(|e| match e {
                GroupsError::Syntax => RowError::ClientIdSyntax,
                GroupsError::TooMany => RowError::ClientIdLength {
                    len: CLIENT_ID_MAX + 1,
                },
            })?
        }
        None => {
            let odd = text.len() % 2 == 1;
            let digits = match text {
                [b'0', b'x', rest @ ..] if text.len() > 2 => rest,
                _ => text,
            };
            if !digits.iter().all(|b| b.is_ascii_hexdigit()) {
                return Err(RowError::ClientIdSyntax);
            }
            // `0x` is two characters, so the padded digit count is always even.
            let total = digits.len() + usize::from(odd);
            let len = total / 2;
            if len > CLIENT_ID_MAX {
                return Err(RowError::ClientIdLength {
                    len: CLIENT_ID_MAX + 1,
                });
            }
            // Digit stream with the optional leading zero, two digits per byte.
            let digit = |i: usize| -> u8 {
                if odd {
                    if i == 0 {
                        0
                    } else {
                        digits.get(i - 1).copied().and_then(hex_value).unwrap_or(0)
                    }
                } else {
                    digits.get(i).copied().and_then(hex_value).unwrap_or(0)
                }
            };
            for (i, slot) in out.iter_mut().take(len).enumerate() {
                *slot = digit(2 * i) << 4 | digit(2 * i + 1);
            }
            len
        }
    };
    if !(CLIENT_ID_MIN..=CLIENT_ID_MAX).contains(&len) {
        return Err(RowError::ClientIdLength { len });
    }
    Ok(len)
}

/// Kea's `CSVRow::unescape`: every `&#x` followed by two hex digits (either case) becomes
/// that byte; anything else, including a `&#x` without two hex digits, is kept. Borrows
/// `text` when there is nothing to unescape. `None` if the result is not UTF-8.
fn unescape<'a>(text: &'a [u8], out: &'a mut [u8]) -> Option<&'a str> {
    if text.is_empty() {
        return Some("");
    }
    if !text.contains(&b'&') || !text.windows(3).any(|w| w == b"&#x") {
        return core::str::from_utf8(text).ok();
    }
    let mut n = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = text.get(i..).unwrap_or(&[]);
        let byte = match rest {
            [b'&', b'#', b'x', h, l, ..] if hex_value(*h).is_some() && hex_value(*l).is_some() => {
                i += 5;
                hex_value(*h)? << 4 | hex_value(*l)?
            }
            [b, ..] => {
                i += 1;
                *b
            }
            [] => break,
        };
        *out.get_mut(n)? = byte;
        n += 1;
    }
    core::str::from_utf8(out.get(..n)?).ok()
}

/// Whether `text` is one JSON object (RFC 8259), surrounding whitespace allowed: Kea
/// requires `user_context` to parse as a JSON map.
fn is_json_map(text: &[u8]) -> bool {
    let mut p = JsonCheck { s: text, i: 0 };
    p.ws();
    if p.peek() != Some(b'{') || !p.value(0) {
        return false;
    }
    p.ws();
    p.i == text.len()
}

/// Nesting limit of the JSON check (recursion depth, so a hostile file cannot overflow the
/// stack).
const JSON_DEPTH_MAX: usize = 64;

struct JsonCheck<'s> {
    s: &'s [u8],
    i: usize,
}

impl JsonCheck<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.s.get(self.i..).is_some_and(|r| r.starts_with(word)) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> bool {
        if !self.eat(b'"') {
            return false;
        }
        loop {
            match self.peek() {
                None => return false,
                Some(b'"') => {
                    self.i += 1;
                    return true;
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                                    return false;
                                }
                                self.i += 1;
                            }
                        }
                        _ => return false,
                    }
                }
                Some(b) if b < 0x20 => return false,
                Some(_) => self.i += 1,
            }
        }
    }

    fn digits(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.i > start
    }

    fn number(&mut self) -> bool {
        self.eat(b'-');
        if !self.eat(b'0') && !self.digits() {
            return false;
        }
        if self.eat(b'.') && !self.digits() {
            return false;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.digits() {
                return false;
            }
        }
        true
    }

    fn value(&mut self, depth: usize) -> bool {
        if depth > JSON_DEPTH_MAX {
            return false;
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.eat(b'}') {
                    return true;
                }
                loop {
                    self.ws();
                    if !self.string() {
                        return false;
                    }
                    self.ws();
                    if !self.eat(b':') || !self.value(depth + 1) {
                        return false;
                    }
                    self.ws();
                    if self.eat(b'}') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.eat(b']') {
                    return true;
                }
                loop {
                    if !self.value(depth + 1) {
                        return false;
                    }
                    self.ws();
                    if self.eat(b']') {
                        return true;
                    }
                    if !self.eat(b',') {
                        return false;
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(_) => self.number(),
            None => false,
        }
    }
}

/// A cursor over the output that keeps counting past the end, so one pass both writes and
/// measures.
struct Out<'o> {
    buf: &'o mut [u8],
    pos: usize,
}

impl Out<'_> {
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.pos) {
            *slot = b;
        }
        self.pos += 1;
    }

    fn bytes(&mut self, bs: &[u8]) {
        for &b in bs {
            self.byte(b);
        }
    }

    fn decimal(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut n = 0;
        loop {
            if let Some(d) = digits.get_mut(n) {
                *d = b'0' + (v % 10) as u8;
            }
            n += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            self.byte(digits.get(i).copied().unwrap_or(b'0'));
        }
    }

    /// Lowercase hex bytes separated by `:` (Kea's `HWAddr::toText(false)` and
    /// `ClientId::toText()`).
    fn hex_colon(&mut self, bytes: &[u8]) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, &b) in bytes.iter().enumerate() {
            if i > 0 {
                self.byte(b':');
            }
            self.byte(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            self.byte(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
        }
    }

    /// Kea escapes only `,` and `&` in text columns, as `&#x` + two lowercase hex digits.
    fn escaped(&mut self, text: &str) {
        for &b in text.as_bytes() {
            match b {
                b',' => self.bytes(b"&#x2c"),
                b'&' => self.bytes(b"&#x26"),
                _ => self.byte(b),
            }
        }
    }

    fn flag(&mut self, v: bool) {
        self.byte(if v { b'1' } else { b'0' });
    }
}

/// Writes `record` as one `\n`-terminated row of Kea 2.2's 11-column schema into `out`;
/// returns the byte count. `expire` is written as cltt + valid_lifetime.
pub fn write_row(record: &LeaseRecord<'_>, out: &mut [u8]) -> Result<usize, WriteError> {
    let mut w = Out { buf: out, pos: 0 };
    let mut octets = [0u8; 4];
    octets.copy_from_slice(&record.address.octets());
    for (i, o) in octets.iter().enumerate() {
        if i > 0 {
            w.byte(b'.');
        }
        w.decimal(u64::from(*o));
    }
    w.byte(b',');
    w.hex_colon(record.hwaddr);
    w.byte(b',');
    w.hex_colon(record.client_id);
    w.byte(b',');
    w.decimal(u64::from(record.valid_lifetime));
    w.byte(b',');
    w.decimal(record.expire().0);
    w.byte(b',');
    w.decimal(u64::from(record.subnet_id));
    w.byte(b',');
    w.flag(record.fqdn_fwd);
    w.byte(b',');
    w.flag(record.fqdn_rev);
    w.byte(b',');
    w.escaped(record.hostname);
    w.byte(b',');
    w.decimal(u64::from(record.state.code()));
    w.byte(b',');
    w.escaped(record.user_context);
    w.byte(b'\n');
    if w.pos > w.buf.len() {
        return Err(WriteError::BufferTooSmall { needed: w.pos });
    }
    Ok(w.pos)
}

/// Bytes [`write_row`] needs for `record`.
pub fn row_len(record: &LeaseRecord<'_>) -> usize {
    match write_row(record, &mut []) {
        Ok(n) | Err(WriteError::BufferTooSmall { needed: n }) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    /// kea-memfile.md §1 examples, checked against kea-dhcp4 2.2.0.
    const EXAMPLES: [&str; 5] = [
        "198.18.10.130,02:00:00:00:00:11,01:02:00:00:00:00:11,4000,1795861696,1,0,0,,0,\n",
        "198.18.0.150,1a:1b:1c:1d:1e:1f,01:1a:1b:1c:1d:1e:1f,1000,1795858110,1,0,0,host-a.example.,0,{ \"k\": \"v&#x2c with comma\" }\n",
        "198.18.1.10,3a:3b:3c:3d:3e:3f,,3600,1900000000,2,1,1,x&#x2cy,1,\n",
        "198.18.10.50,,,86400,1795943814,1,0,0,,1,\n",
        "198.18.10.150,02:00:00:00:00:02,,0,1795857378,1,0,0,,0,\n",
    ];

    fn parse(line: &str) -> Result<LeaseRecord<'static>, RowError> {
        let scratch = vec![0u8; scratch_len(line.len())].leak();
        parse_row(std::string::String::from(line).leak().as_bytes(), scratch)
    }

    fn write(r: &LeaseRecord<'_>) -> std::string::String {
        let mut out = [0u8; 512];
        let n = write_row(r, &mut out).unwrap();
        assert_eq!(n, row_len(r));
        std::string::String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn kea_examples_round_trip_byte_exactly() {
        for line in EXAMPLES {
            let r = parse(line).unwrap();
            assert_eq!(write(&r), line);
        }
    }

    #[test]
    fn first_example_fields() {
        let r = parse(EXAMPLES[0]).unwrap();
        assert_eq!(r.address, Ipv4Addr::new(198, 18, 10, 130));
        assert_eq!(r.hwaddr, &[2, 0, 0, 0, 0, 0x11]);
        assert_eq!(r.client_id, &[1, 2, 0, 0, 0, 0, 0x11]);
        assert_eq!(r.valid_lifetime, 4000);
        assert_eq!(r.cltt, Timestamp(1_795_861_696 - 4000));
        assert_eq!(r.subnet_id, 1);
        assert_eq!(r.state, LeaseState::Default);
        let r = parse(EXAMPLES[1]).unwrap();
        assert_eq!(r.user_context, "{ \"k\": \"v, with comma\" }");
        assert_eq!(r.hostname, "host-a.example.");
        let r = parse(EXAMPLES[2]).unwrap();
        assert_eq!(r.hostname, "x,y");
        assert!(r.fqdn_fwd && r.fqdn_rev);
        assert_eq!(r.state, LeaseState::Declined);
        assert!(parse(EXAMPLES[4]).unwrap().is_removal());
    }

    fn row(hw: &str, cid: &str, rest: &str) -> std::string::String {
        std::format!("198.18.0.5,{hw},{cid},{rest}")
    }

    const REST: &str = "3600,2000003600,1,0,0,h,0,";

    #[test]
    fn every_row_error() {
        let cases: &[(std::string::String, RowError)] = &[
            (
                "198.18.0.5,02:00:00:00:00:01,,3600,2000003600,1,0,0,h,0".into(),
                RowError::ColumnCount {
                    found: 10,
                    expected: 11,
                },
            ),
            (
                "198.18.0.5,02:00:00:00:00:01,,3600,2000003600,1,0,0,h,0,,".into(),
                RowError::ColumnCount {
                    found: 12,
                    expected: 11,
                },
            ),
            (
                "".into(),
                RowError::ColumnCount {
                    found: 1,
                    expected: 11,
                },
            ),
            (
                "2001:db8::1,02:00:00:00:00:01,,3600,2000003600,1,0,0,h,0,".into(),
                RowError::Address,
            ),
            (
                "198.18.0.05,02:00:00:00:00:01,,3600,2000003600,1,0,0,h,0,".into(),
                RowError::Address,
            ),
            (row("020000000001", "", REST), RowError::HwAddrSyntax),
            (row("02::00", "", REST), RowError::HwAddrSyntax),
            (row("02:0g", "", REST), RowError::HwAddrSyntax),
            (row("02:001", "", REST), RowError::HwAddrSyntax),
            (
                row(&["aa"; 21].join(":"), "", REST),
                RowError::HwAddrTooLong,
            ),
            (row("02:00", "01:zz", REST), RowError::ClientIdSyntax),
            (row("02:00", "01::02", REST), RowError::ClientIdSyntax),
            (
                row("02:00", "01", REST),
                RowError::ClientIdLength { len: 1 },
            ),
            (
                row("02:00", &"ab".repeat(129), REST),
                RowError::ClientIdLength { len: 129 },
            ),
            (
                row("02:00", &["ab"; 129].join(":"), REST),
                RowError::ClientIdLength { len: 129 },
            ),
            (row("", "", REST), RowError::NoIdentifier),
            (
                row("02:00", "", "-1,2000003600,1,0,0,h,0,"),
                RowError::ValidLifetime,
            ),
            (
                row("02:00", "", "4294967296,2000003600,1,0,0,h,0,"),
                RowError::ValidLifetime,
            ),
            (
                row("02:00", "", ",2000003600,1,0,0,h,0,"),
                RowError::ValidLifetime,
            ),
            (row("02:00", "", "3600,2e9,1,0,0,h,0,"), RowError::Expire),
            (
                row("02:00", "", "3600,18446744073709551616,1,0,0,h,0,"),
                RowError::Expire,
            ),
            (
                row("02:00", "", "3600,3599,1,0,0,h,0,"),
                RowError::ExpireBeforeLifetime,
            ),
            (
                row("02:00", "", "3600,2000003600,x,0,0,h,0,"),
                RowError::SubnetId,
            ),
            (
                row("02:00", "", "3600,2000003600,1,true,0,h,0,"),
                RowError::FqdnFwd,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,2,h,0,"),
                RowError::FqdnRev,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,0,&#xff,0,"),
                RowError::HostnameNotUtf8,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,0,h,3,"),
                RowError::State,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,0,h,,"),
                RowError::State,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,0,h,0,&#xc3"),
                RowError::UserContextNotUtf8,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,0,h,0,[1]"),
                RowError::UserContextNotMap,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,0,h,0,{ \"k\" }"),
                RowError::UserContextNotMap,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,0,h,0,{} {}"),
                RowError::UserContextNotMap,
            ),
            (
                row("02:00", "", "3600,2000003600,1,0,0,h,0,\"s\""),
                RowError::UserContextNotMap,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse(line).err(), Some(*want), "{line}");
        }
        let line = EXAMPLES[0].as_bytes();
        let mut small = [0u8; 40];
        assert_eq!(
            parse_row(line, &mut small).err(),
            Some(RowError::ScratchTooSmall)
        );
    }

    #[test]
    fn accepted_identifier_forms() {
        // hwaddr: single-digit groups, upper case, one group, 20 bytes.
        let r = parse(&row("2:0:A:b:C:d", "", REST)).unwrap();
        assert_eq!(r.hwaddr, &[2, 0, 0xa, 0xb, 0xc, 0xd]);
        assert_eq!(parse(&row("ab", "", REST)).unwrap().hwaddr, &[0xab]);
        assert_eq!(
            parse(&row(&["aa"; 20].join(":"), "", REST))
                .unwrap()
                .hwaddr
                .len(),
            20
        );
        // client_id: colon, space, contiguous (odd gets a leading 0), 0x prefix, 128 bytes.
        assert_eq!(
            parse(&row("", "1:2:3", REST)).unwrap().client_id,
            &[1, 2, 3]
        );
        assert_eq!(
            parse(&row("", "01 02 ff", REST)).unwrap().client_id,
            &[1, 2, 0xff]
        );
        assert_eq!(
            parse(&row("", "0102FF", REST)).unwrap().client_id,
            &[1, 2, 0xff]
        );
        assert_eq!(
            parse(&row("", "10203", REST)).unwrap().client_id,
            &[1, 2, 3]
        );
        assert_eq!(parse(&row("", "0x0102", REST)).unwrap().client_id, &[1, 2]);
        assert_eq!(
            parse(&row("", &"ab".repeat(128), REST))
                .unwrap()
                .client_id
                .len(),
            128
        );
        // Declined leases may have neither.
        let r = parse(&row("", "", "3600,2000003600,1,0,0,,1,")).unwrap();
        assert_eq!(r.state, LeaseState::Declined);
        // JSON maps of every shape.
        for ctx in [
            "{}",
            " { \"a\": [1, -2.5e3, true, false, null, {\"b\": \"\\u00e9\\n\"}] } ",
            "{\"x\":{\"y\":{\"z\":[]}}}",
        ] {
            let line = row(
                "02:00",
                "",
                &std::format!("3600,2000003600,1,0,0,h,0,{}", ctx.replace(',', "&#x2c")),
            );
            assert_eq!(parse(&line).unwrap().user_context, ctx);
        }
    }

    #[test]
    fn escaping_and_unescaping() {
        // Only `,` and `&` are escaped on write.
        let mut r = parse(EXAMPLES[0]).unwrap();
        r.hostname = "a,b&c;d&#x41";
        r.user_context = "{ \"k\": \"1,2 & 3\" }";
        let line = write(&r);
        assert!(line.contains(",a&#x2cb&#x26c;d&#x26#x41,"), "{line}");
        assert!(
            line.ends_with(",{ \"k\": \"1&#x2c2 &#x26 3\" }\n"),
            "{line}"
        );
        let back = parse(&line).unwrap();
        assert_eq!(back.hostname, "a,b&c;d&#x41");
        assert_eq!(back.user_context, r.user_context);
        // Either case decodes; `&#x` without two hex digits stays literal.
        let line = row(
            "02:00",
            "",
            "3600,2000003600,1,0,0,A&#X2C&#x2Cb&#x4&#xg1&#x,0,",
        );
        assert_eq!(parse(&line).unwrap().hostname, "A&#X2C,b&#x4&#xg1&#x");
        let line = row("02:00", "", "3600,2000003600,1,0,0,&#x41&#x2c,0,");
        assert_eq!(parse(&line).unwrap().hostname, "A,");
    }

    #[test]
    fn header_shapes() {
        assert_eq!(parse_header(HEADER.as_bytes()), Ok(HeaderShape::CURRENT));
        assert_eq!(
            parse_header(std::format!("{HEADER}\n").as_bytes()),
            Ok(HeaderShape::CURRENT)
        );
        assert_eq!(HeaderShape::CURRENT.conversion(), SchemaConversion::Current);
        let nine =
            "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname";
        let shape = parse_header(nine.as_bytes()).unwrap();
        assert_eq!(
            (shape.columns(), shape.conversion()),
            (9, SchemaConversion::Upgrade)
        );
        let ten = std::format!("{nine},state");
        assert_eq!(parse_header(ten.as_bytes()).unwrap().columns(), 10);
        let twelve = std::format!("{HEADER},pool_id");
        let shape = parse_header(twelve.as_bytes()).unwrap();
        assert_eq!(
            (shape.columns(), shape.conversion()),
            (12, SchemaConversion::Downgrade)
        );
        let eight = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev";
        assert_eq!(
            parse_header(eight.as_bytes()),
            Err(HeaderError::TooFewColumns { found: 8 })
        );
        assert_eq!(
            parse_header(b"address,hwaddr,duid"),
            Err(HeaderError::ColumnName {
                column: 3,
                expected: "client_id"
            })
        );
        assert_eq!(
            parse_header(std::format!("{HEADER}\r\n").as_bytes()),
            Err(HeaderError::ColumnName {
                column: 11,
                expected: "user_context"
            })
        );
        // Rows follow the header's column count.
        let mut scratch = [0u8; 512];
        let r = parse_row_with(
            shape,
            b"198.18.0.5,02:00,,3600,2000003600,1,0,0,h,2,,9\n",
            &mut scratch,
        )
        .unwrap();
        assert_eq!(r.state, LeaseState::ExpiredReclaimed);
        let nine = parse_header(nine.as_bytes()).unwrap();
        let r = parse_row_with(
            nine,
            b"198.18.0.5,02:00,,3600,2000003600,1,0,0,h",
            &mut scratch,
        )
        .unwrap();
        assert_eq!((r.state, r.user_context), (LeaseState::Default, ""));
    }

    /// Decimal columns: at the 19/20-digit edge of the unchecked fast path, leading zeros,
    /// overflow, signs and spaces.
    #[test]
    fn decimal_edge_cases() {
        let u64s: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("007", Some(7)),
            ("9999999999999999999", Some(9_999_999_999_999_999_999)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("99999999999999999999", None),
            ("0000000000000000000000000042", Some(42)),
            ("", None),
            ("-1", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("1e3", None),
            ("12345678901234567x", None),
            ("/", None),
            (":", None),
        ];
        for &(text, want) in u64s {
            assert_eq!(parse_u64(text.as_bytes()), want, "{text:?}");
        }
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"00000000000000000004294967295"), Some(u32::MAX));
    }

    /// The dotted-quad parser accepts and refuses exactly what `Ipv4Addr::from_str` did.
    #[test]
    fn address_edge_cases() {
        let ok = |t: &str| parse_address(t.as_bytes()).ok();
        assert_eq!(ok("0.0.0.0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(ok("255.255.255.255"), Some(Ipv4Addr::BROADCAST));
        assert_eq!(ok("198.18.0.5"), Some(Ipv4Addr::new(198, 18, 0, 5)));
        assert_eq!(ok("1.20.100.0"), Some(Ipv4Addr::new(1, 20, 100, 0)));
        for bad in [
            "",
            "1",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4.",
            ".1.2.3.4",
            "1..3.4",
            "1.2.3.",
            "256.0.0.0",
            "1.2.3.256",
            "1.2.3.999",
            "1.2.3.1000",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.00",
            "1.2.3.000",
            "0001.2.3.4",
            " 1.2.3.4",
            "1.2.3.4 ",
            "1.2. 3.4",
            "+1.2.3.4",
            "1.2.3.-4",
            "1.2.3.4\r",
            "0x1.2.3.4",
            "1.2.3.4/24",
            "::1",
            "1.2.3.٤",
        ] {
            assert_eq!(
                parse_address(bad.as_bytes()),
                Err(RowError::Address),
                "{bad:?}"
            );
            assert_eq!(
                reference::parse_address(bad.as_bytes()),
                Err(RowError::Address)
            );
        }
        // Every string of up to 6 characters over digits, dots and one other byte.
        let alphabet = b"0125689.x";
        let mut text = std::vec::Vec::new();
        for len in 0..=6u32 {
            for mut n in 0..alphabet.len().pow(len) {
                text.clear();
                for _ in 0..len {
                    text.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                assert_eq!(
                    parse_address(&text),
                    reference::parse_address(&text),
                    "{:?}",
                    core::str::from_utf8(&text)
                );
            }
        }
        for a in [0u32, 1, 0x0a00_0001, 0xc612_0100, 0xffff_fffe, u32::MAX] {
            let addr = Ipv4Addr::from_bits(a);
            let text = std::format!("{addr}");
            assert_eq!(parse_address(text.as_bytes()), Ok(addr));
        }
    }

    /// Hardware addresses and separated client-ids decode as before: every string of up
    /// to 7 characters over hex digits, separators and a non-hex letter, and the length
    /// limits around 20 and 128 groups.
    #[test]
    fn hex_groups_match_the_old_decoder() {
        let alphabet = b"0aF:g ";
        let mut text = std::vec::Vec::new();
        let (mut new_out, mut old_out) = ([0u8; 256], [0u8; 256]);
        for len in 1..=7u32 {
            for mut n in 0..alphabet.len().pow(len) {
                text.clear();
                for _ in 0..len {
                    text.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                let hw_new = parse_hwaddr(&text, &mut new_out[..HWADDR_MAX]);
                let hw_old = reference::parse_hwaddr(&text, &mut old_out[..HWADDR_MAX]);
                assert_eq!(hw_new, hw_old, "{:?}", core::str::from_utf8(&text));
                if let Ok(len) = hw_new {
                    assert_eq!(new_out[..len], old_out[..len]);
                }
                let cid_new = parse_client_id(&text, &mut new_out[..CLIENT_ID_MAX]);
                let cid_old = reference::parse_client_id(&text, &mut old_out[..CLIENT_ID_MAX]);
                assert_eq!(cid_new, cid_old, "{:?}", core::str::from_utf8(&text));
                if let Ok(len) = cid_new {
                    assert_eq!(new_out[..len], old_out[..len]);
                }
            }
        }
        for groups in [19, 20, 21, 40, 127, 128, 129, 200] {
            for bad_at in [None, Some(0), Some(groups / 2), Some(groups - 1)] {
                let mut parts = std::vec![std::string::String::from("a"); groups];
                if let Some(i) = bad_at {
                    parts[i] = "zz".into();
                }
                for sep in [":", " "] {
                    let text = parts.join(sep);
                    let t = text.as_bytes();
                    assert_eq!(
                        parse_hwaddr(t, &mut new_out[..HWADDR_MAX]),
                        reference::parse_hwaddr(t, &mut old_out[..HWADDR_MAX]),
                        "{groups} {bad_at:?} {sep:?}"
                    );
                    assert_eq!(
                        parse_client_id(t, &mut new_out[..CLIENT_ID_MAX]),
                        reference::parse_client_id(t, &mut old_out[..CLIENT_ID_MAX]),
                        "{groups} {bad_at:?} {sep:?}"
                    );
                }
            }
        }
    }

    /// The comma split: column counts and bounds, commas at word edges and in the tail.
    #[test]
    fn split_columns_counts_and_cuts() {
        let mut cols: [&[u8]; 3] = [b"?"; 3];
        assert_eq!(split_columns(b"", &mut cols), 1);
        assert_eq!(cols, [b"" as &[u8], b"?", b"?"]);
        let mut cols: [&[u8]; 3] = [b"?"; 3];
        assert_eq!(split_columns(b"abcdefg,ijklmnop,,rest,more", &mut cols), 5);
        assert_eq!(cols, [b"abcdefg" as &[u8], b"ijklmnop", b""]);
        for len in 0..40 {
            for comma_every in 1..10 {
                let line: std::vec::Vec<u8> = (0..len)
                    .map(|i| {
                        if i % comma_every == 0 {
                            b','
                        } else {
                            b'a' + (i % 26) as u8
                        }
                    })
                    .collect();
                let want: std::vec::Vec<&[u8]> = line.split(|&b| b == b',').collect();
                let mut cols: [&[u8]; 11] = [b"?"; 11];
                assert_eq!(split_columns(&line, &mut cols), want.len());
                for (i, c) in cols.iter().enumerate() {
                    assert_eq!(*c, want.get(i).copied().unwrap_or(b"?"), "{len} {i}");
                }
            }
        }
        assert_eq!(find_newline(b""), None);
        assert_eq!(find_newline(b"abc"), None);
        for len in 1..40 {
            for at in 0..len {
                let mut text = std::vec![b'x'; len];
                text[at] = b'\n';
                if at + 3 < len {
                    text[at + 3] = b'\n';
                }
                assert_eq!(find_newline(&text), Some(at));
            }
        }
    }

    /// Differential test: rows mutated at random (separators, digits, hex, escapes,
    /// non-UTF-8 bytes, cuts) parse to the same record or the same error under the old
    /// parser ([`reference`]) and the one-pass one, under every header shape.
    #[test]
    fn mutated_rows_parse_as_the_old_parser_did() {
        let seeds: &[&str] = &[
            EXAMPLES[0],
            EXAMPLES[1],
            EXAMPLES[2],
            EXAMPLES[3],
            EXAMPLES[4],
            "192.168.1.107,b8:27:eb:be:a7:8f,,172800,1580691195,1,1,1,retropi,0,",
            "198.18.1.0,02:be:00:00:00:00,,3600,1827432085,1,0,0,,0,",
            "198.18.0.9,,01 02 03 04,3600,2000003600,7,0,1,a&#x26b,2,{\"a\":[1&#x2c2]}",
            "198.18.0.10,1:2:3,0x0a0b0c,3600,2000003600,1,0,0,h,0,,4",
            "198.18.0.11,02:00:00:00:00:01,ff00000001000100012b3c4d5e6f,60,60,1,0,0,n",
        ];
        let shapes = [9, 10, 11, 12].map(|columns| HeaderShape { columns });
        let pieces: &[&[u8]] = &[
            b",",
            b".",
            b":",
            b" ",
            b"0",
            b"1",
            b"9",
            b"25",
            b"256",
            b"a",
            b"F",
            b"g",
            b"&",
            b"&#x",
            b"&#x2c",
            b"&#xc3",
            b"#",
            b"x",
            b"\n",
            b"\r",
            b"{",
            b"}",
            b"\"",
            b"-",
            b"\xc3",
            b"\xff",
            b"\xe2\x82\xac",
            b"0x",
            b"00",
            b"4294967296",
        ];
        let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % bound as u64) as usize
        };
        let mut line = std::vec::Vec::new();
        let (mut scratch_new, mut scratch_old) = (std::vec![0u8; 4096], std::vec![0u8; 4096]);
        let mut differing_outcomes = std::collections::BTreeSet::new();
        for _ in 0..60_000 {
            line.clear();
            line.extend_from_slice(seeds[next(seeds.len())].as_bytes());
            for _ in 0..1 + next(3) {
                let at = next(line.len() + 1);
                match next(5) {
                    0 | 1 => {
                        let piece = pieces[next(pieces.len())];
                        line.splice(at..at, piece.iter().copied());
                    }
                    2 if at < line.len() => {
                        line.remove(at);
                    }
                    3 if at < line.len() => line[at] = pieces[next(pieces.len())][0],
                    _ => line.truncate(at.max(line.len().saturating_sub(3))),
                }
            }
            for shape in shapes {
                let new = parse_row_with(shape, &line, &mut scratch_new);
                let old = reference::parse_row_with(shape, &line, &mut scratch_old);
                assert_eq!(
                    new,
                    old,
                    "{:?} with {} columns",
                    std::string::String::from_utf8_lossy(&line),
                    shape.columns
                );
                differing_outcomes.insert(std::format!("{:?}", new.map(|_| ())));
            }
        }
        // The mutations reach most outcomes, valid rows included.
        assert!(differing_outcomes.len() >= 15, "{differing_outcomes:?}");
        assert!(differing_outcomes.contains("Ok(())"));
    }

    #[test]
    fn write_reports_needed_length() {
        let r = parse(EXAMPLES[1]).unwrap();
        let n = row_len(&r);
        assert_eq!(n, EXAMPLES[1].len());
        let mut out = vec![0u8; n - 1];
        assert_eq!(
            write_row(&r, &mut out),
            Err(WriteError::BufferTooSmall { needed: n })
        );
        let mut out = vec![0u8; n];
        assert_eq!(write_row(&r, &mut out), Ok(n));
        // Extremes: u32/u64 maxima, 0.0.0.0.
        let mut r = r;
        r.address = Ipv4Addr::UNSPECIFIED;
        r.valid_lifetime = u32::MAX;
        r.cltt = Timestamp(u64::MAX - u64::from(u32::MAX));
        r.subnet_id = u32::MAX;
        let line = write(&r);
        assert!(line.starts_with("0.0.0.0,"));
        assert!(
            line.contains(",4294967295,18446744073709551615,4294967295,"),
            "{line}"
        );
        assert_eq!(parse(&line).unwrap(), r);
    }
}
