//! The row parser as it was before the one-pass rewrite (split by `split`, the address by
//! `Ipv4Addr::from_str`, hex groups by `split` + per-token decoding), kept as the oracle of
//! the differential tests in `csv.rs`: every line must parse to the same record or fail
//! with the same error under both. Test-only.

use core::net::Ipv4Addr;

use super::{
    is_json_map, parse_flag, parse_u32, parse_u64, scratch_len, strip_newline, HeaderShape,
    RowError, CLIENT_ID_MAX, CLIENT_ID_MIN, COL_STATE, COL_USER_CONTEXT, HWADDR_MAX,
};
use crate::lease::record::{LeaseRecord, LeaseState};
use crate::time::Timestamp;

/// The old `parse_row_with`.
pub(super) fn parse_row_with<'a>(
    shape: HeaderShape,
    line: &'a [u8],
    scratch: &'a mut [u8],
) -> Result<LeaseRecord<'a>, RowError> {
    let line = strip_newline(line);
    // Counting commas this way compiles to a vectorised loop (a `split(..).count()` walks
    // the line a byte per step): a tenth of a 100,000-row load's parse time.
    let found = line.iter().filter(|&&b| b == b',').count() + 1;
    if found != shape.columns {
        return Err(RowError::ColumnCount {
            found,
            expected: shape.columns,
        });
    }
    if scratch.len() < scratch_len(line.len()) {
        return Err(RowError::ScratchTooSmall);
    }
    let mut cols = line.split(|&b| b == b',');
    let mut next = || cols.next().unwrap_or(&[]);
    let address = parse_address(next())?;
    let hw_text = next();
    let cid_text = next();
    let valid_lifetime = parse_u32(next()).ok_or(RowError::ValidLifetime)?;
    let expire = parse_u64(next()).ok_or(RowError::Expire)?;
    let subnet_id = parse_u32(next()).ok_or(RowError::SubnetId)?;
    let fqdn_fwd = parse_flag(next()).ok_or(RowError::FqdnFwd)?;
    let fqdn_rev = parse_flag(next()).ok_or(RowError::FqdnRev)?;
    let hostname_text = next();
    let state_text = (shape.columns > COL_STATE).then(&mut next);
    let context_text = (shape.columns > COL_USER_CONTEXT).then(&mut next);

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

pub(super) fn parse_address(text: &[u8]) -> Result<Ipv4Addr, RowError> {
    core::str::from_utf8(text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RowError::Address)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One group of 1 or 2 hex digits (Kea's `decodeSeparatedHexString` token rule).
fn hex_group(token: &[u8]) -> Option<u8> {
    match token {
        [d] => hex_value(*d),
        [h, l] => Some(hex_value(*h)? << 4 | hex_value(*l)?),
        _ => None,
    }
}

/// Decodes `sep`-separated groups of 1–2 hex digits into `out`; `None` on a bad group or
/// when `out` is too short. Returns the byte count.
fn decode_separated(text: &[u8], sep: u8, out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    for token in text.split(|&b| b == sep) {
        let byte = hex_group(token)?;
        *out.get_mut(n)? = byte;
        n += 1;
    }
    Some(n)
}

/// `hwaddr`: Kea's `HWAddr::fromText`: `:`-separated groups of 1–2 hex digits (so
/// contiguous hex longer than one byte is rejected); empty means no hardware address.
pub(super) fn parse_hwaddr(text: &[u8], out: &mut [u8]) -> Result<usize, RowError> {
    if text.is_empty() {
        return Ok(0);
    }
    let groups = text.split(|&b| b == b':').count();
    if groups > HWADDR_MAX {
        // Report length only if the syntax is otherwise valid.
        if text.split(|&b| b == b':').all(|t| hex_group(t).is_some()) {
            return Err(RowError::HwAddrTooLong);
        }
        return Err(RowError::HwAddrSyntax);
    }
    decode_separated(text, b':', out).ok_or(RowError::HwAddrSyntax)
}

/// `client_id`: Kea's `ClientId::fromText` → `decodeFormattedHexString`: colon-separated
/// if there is a colon, else space-separated if there is a space, else contiguous hex
/// (an odd digit count gets a leading `0`, a `0x` prefix is allowed). 2–128 bytes.
pub(super) fn parse_client_id(text: &[u8], out: &mut [u8]) -> Result<usize, RowError> {
    let separator = if text.contains(&b':') {
        Some(b':')
    } else if text.contains(&b' ') {
        Some(b' ')
    } else {
        None
    };
    let len = match separator {
        Some(sep) => {
            let groups = text.split(|&b| b == sep).count();
            if groups > CLIENT_ID_MAX {
                if text.split(|&b| b == sep).all(|t| hex_group(t).is_some()) {
                    return Err(RowError::ClientIdLength {
                        len: CLIENT_ID_MAX + 1,
                    });
                }
                return Err(RowError::ClientIdSyntax);
            }
            decode_separated(text, sep, out).ok_or(RowError::ClientIdSyntax)?
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
    if !text.windows(3).any(|w| w == b"&#x") {
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
