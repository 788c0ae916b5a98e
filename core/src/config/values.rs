//! Parsing of the string values Kea gives structure to: addresses, prefixes, pools and
//! host identifiers.

use core::net::Ipv4Addr;

use super::error::{snippet, ConfigErrorKind, PoolProblem};
use super::model::Ipv4Prefix;

/// A strict dotted quad (`198.18.0.1`; no spaces, no shorthand).
pub fn ipv4(text: &str) -> Option<Ipv4Addr> {
    text.parse::<Ipv4Addr>().ok()
}

/// An address value, or the error naming it.
pub fn ipv4_value(text: &str) -> Result<Ipv4Addr, ConfigErrorKind> {
    ipv4(text).ok_or_else(|| ConfigErrorKind::BadAddress(snippet(text)))
}

/// `a.b.c.d/len`.
pub fn prefix(text: &str) -> Result<Ipv4Prefix, ConfigErrorKind> {
    let bad = || ConfigErrorKind::BadPrefix(snippet(text));
    let (addr, len) = text.split_once('/').ok_or_else(bad)?;
    let address = ipv4(addr.trim()).ok_or_else(bad)?;
    let len = len.trim();
    if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let len: u8 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    Ok(Ipv4Prefix { address, len })
}

/// A pool: `first - last` (spaces optional) or `address/len` (network and broadcast
/// included, as Kea). Returns the inclusive range.
pub fn pool(text: &str) -> Result<(Ipv4Addr, Ipv4Addr), ConfigErrorKind> {
    let bad = |problem| ConfigErrorKind::BadPool {
        pool: snippet(text),
        problem,
    };
    let addr = |part: &str| {
        let part = part.trim();
        ipv4(part).ok_or_else(|| bad(PoolProblem::NotAnAddress(snippet(part))))
    };
    if let Some((a, b)) = text.split_once('-') {
        let first = addr(a)?;
        let last = addr(b)?;
        if first > last {
            return Err(bad(PoolProblem::Reversed));
        }
        Ok((first, last))
    } else if let Some((a, len)) = text.split_once('/') {
        let address = addr(a)?;
        let len = len.trim();
        let len: u8 =
            if !len.is_empty() && len.len() <= 2 && len.bytes().all(|b| b.is_ascii_digit()) {
                len.parse().map_err(|_| bad(PoolProblem::BadPrefixLength))?
            } else {
                return Err(bad(PoolProblem::BadPrefixLength));
            };
        if len > 32 {
            return Err(bad(PoolProblem::BadPrefixLength));
        }
        let p = Ipv4Prefix { address, len };
        let first = p.network();
        let last = Ipv4Addr::from_bits(first.to_bits() | !p.mask());
        Ok((first, last))
    } else {
        Err(bad(PoolProblem::NotARangeOrPrefix))
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes Kea's binary text forms (kea-config.md §2.6, kea-options.md §3.2):
/// `'quoted text'`; `01:02:0a` or `01 02 0a` (groups of 1–2 digits, one separator kind, no
/// empty group); `0x01020a` or `01020a` (odd length gets a leading 0). Calls `out` per
/// byte; returns `None` if the text is none of these.
pub fn binary(text: &str, mut out: impl FnMut(u8)) -> Option<()> {
    let bytes = text.as_bytes();
    if bytes.len() >= 2 && bytes.first() == Some(&b'\'') && bytes.last() == Some(&b'\'') {
        for &b in bytes.get(1..bytes.len() - 1)? {
            out(b);
        }
        return Some(());
    }
    let has_colon = text.contains(':');
    let has_space = text.contains(' ');
    if has_colon && has_space {
        return None;
    }
    if has_colon || has_space {
        let sep = if has_colon { ':' } else { ' ' };
        for group in text.split(sep) {
            let g = group.as_bytes();
            let v = match g {
                [a] => hex_digit(*a)?,
                [a, b] => hex_digit(*a)? << 4 | hex_digit(*b)?,
                _ => return None,
            };
            out(v);
        }
        return Some(());
    }
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text)
        .as_bytes();
    if digits.is_empty() {
        return if text.is_empty() { Some(()) } else { None };
    }
    let mut i = 0;
    if digits.len() % 2 == 1 {
        out(hex_digit(*digits.first()?)?);
        i = 1;
    }
    while i < digits.len() {
        let hi = hex_digit(*digits.get(i)?)?;
        let lo = hex_digit(*digits.get(i + 1)?)?;
        out(hi << 4 | lo);
        i += 2;
    }
    Some(())
}

/// Parses an identifier value into `buf`, returning its length.
pub fn identifier(text: &str, buf: &mut [u8]) -> Result<usize, ConfigErrorKind> {
    let mut len = 0usize;
    let mut overflow = false;
    binary(text, |b| match buf.get_mut(len) {
        Some(slot) => {
            *slot = b;
            len += 1;
        }
        None => overflow = true,
    })
    .filter(|_| !overflow && len > 0)
    .ok_or_else(|| ConfigErrorKind::BadIdentifier(snippet(text)))?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn bin(text: &str) -> Option<std::vec::Vec<u8>> {
        let mut v = std::vec::Vec::new();
        binary(text, |b| v.push(b)).map(|_| v)
    }

    #[test]
    fn binary_forms() {
        assert_eq!(bin("01:02:0a"), Some(vec![1, 2, 10]));
        assert_eq!(bin("1:2:a"), Some(vec![1, 2, 10]));
        assert_eq!(bin("01 02 0a"), Some(vec![1, 2, 10]));
        assert_eq!(bin("01020a"), Some(vec![1, 2, 10]));
        assert_eq!(bin("0x01020A"), Some(vec![1, 2, 10]));
        assert_eq!(bin("1020a"), Some(vec![1, 2, 10]));
        assert_eq!(bin("'charter950'"), Some(b"charter950".to_vec()));
        assert_eq!(bin("01::02"), None);
        assert_eq!(bin("01:02 03"), None);
        assert_eq!(bin("0g"), None);
        assert_eq!(bin("012:03"), None);
    }

    #[test]
    fn pools_as_ranges_and_prefixes() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            pool("198.18.0.20-198.18.0.250"),
            Ok((a("198.18.0.20"), a("198.18.0.250")))
        );
        assert_eq!(
            pool("198.18.0.20 - 198.18.0.250"),
            Ok((a("198.18.0.20"), a("198.18.0.250")))
        );
        assert_eq!(
            pool("198.18.0.64/26"),
            Ok((a("198.18.0.64"), a("198.18.0.127")))
        );
        assert_eq!(
            pool("198.18.0.70/26"),
            Ok((a("198.18.0.64"), a("198.18.0.127")))
        );
        let e = pool("192.168.100.20 - 192.168.100.250.254").unwrap_err();
        assert_eq!(
            std::format!("{e}"),
            "invalid pool \"192.168.100.20 - 192.168.100.250.254\": \"192.168.100.250.254\" is not an IPv4 address"
        );
        assert!(matches!(
            pool("198.18.0.9 - 198.18.0.1"),
            Err(ConfigErrorKind::BadPool {
                problem: PoolProblem::Reversed,
                ..
            })
        ));
        assert!(pool("198.18.0.0/33").is_err());
        assert!(pool("198.18.0.0").is_err());
    }

    #[test]
    fn prefixes() {
        let p = prefix("198.18.0.1/24").unwrap();
        assert_eq!(p.len, 24);
        assert_eq!(p.network(), Ipv4Addr::new(198, 18, 0, 0));
        assert!(prefix("198.18.0.0").is_err());
        assert!(prefix("198.18.0.0/").is_err());
        assert!(prefix("198.18.0.0/40").is_err());
    }
}
