//! `option-data` entries: definition lookup and conversion of `data` to wire bytes.
//!
//! TEMPORARY SHIM: the option table and encoder are being written on branch `options`
//! (`crate::option_def`, `crate::option_data`). Until they are merged this module carries a
//! minimal private table (the options the seed and common configs use) so the loader
//! compiles and loads real configs; it is replaced by calls into `option_data::encode`.

use super::model::OptionSpace;
use super::values;

/// The value layout of an option, as far as this shim knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Empty,
    Binary,
    Boolean,
    Uint8,
    Uint16,
    Uint32,
    Int32,
    Ipv4,
    Text,
    Fqdn,
}

/// A definition: code, name, type, array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Def {
    pub code: u8,
    pub name: &'static str,
    pub ty: Ty,
    pub array: bool,
}

const fn d(code: u8, name: &'static str, ty: Ty, array: bool) -> Def {
    Def {
        code,
        name,
        ty,
        array,
    }
}

const DHCP4: &[Def] = &[
    d(1, "subnet-mask", Ty::Ipv4, false),
    d(2, "time-offset", Ty::Int32, false),
    d(3, "routers", Ty::Ipv4, true),
    d(4, "time-servers", Ty::Ipv4, true),
    d(5, "name-servers", Ty::Ipv4, true),
    d(6, "domain-name-servers", Ty::Ipv4, true),
    d(7, "log-servers", Ty::Ipv4, true),
    d(9, "lpr-servers", Ty::Ipv4, true),
    d(12, "host-name", Ty::Text, false),
    d(13, "boot-size", Ty::Uint16, false),
    d(15, "domain-name", Ty::Text, false),
    d(16, "swap-server", Ty::Ipv4, false),
    d(17, "root-path", Ty::Text, false),
    d(19, "ip-forwarding", Ty::Boolean, false),
    d(23, "default-ip-ttl", Ty::Uint8, false),
    d(26, "interface-mtu", Ty::Uint16, false),
    d(28, "broadcast-address", Ty::Ipv4, false),
    d(33, "static-routes", Ty::Ipv4, true),
    d(40, "nis-domain", Ty::Text, false),
    d(41, "nis-servers", Ty::Ipv4, true),
    d(42, "ntp-servers", Ty::Ipv4, true),
    d(43, "vendor-encapsulated-options", Ty::Empty, false),
    d(44, "netbios-name-servers", Ty::Ipv4, true),
    d(45, "netbios-dd-server", Ty::Ipv4, true),
    d(46, "netbios-node-type", Ty::Uint8, false),
    d(47, "netbios-scope", Ty::Text, false),
    d(51, "dhcp-lease-time", Ty::Uint32, false),
    d(54, "dhcp-server-identifier", Ty::Ipv4, false),
    d(56, "dhcp-message", Ty::Text, false),
    d(58, "dhcp-renewal-time", Ty::Uint32, false),
    d(59, "dhcp-rebinding-time", Ty::Uint32, false),
    d(60, "vendor-class-identifier", Ty::Text, false),
    d(61, "dhcp-client-identifier", Ty::Binary, false),
    d(66, "tftp-server-name", Ty::Text, false),
    d(67, "boot-file-name", Ty::Text, false),
    d(69, "smtp-server", Ty::Ipv4, true),
    d(72, "www-server", Ty::Ipv4, true),
    d(77, "user-class", Ty::Binary, false),
    d(93, "client-system", Ty::Uint16, true),
    d(108, "v6-only-preferred", Ty::Uint32, false),
    d(114, "v4-captive-portal", Ty::Text, false),
    d(119, "domain-search", Ty::Fqdn, true),
    d(125, "vivso-suboptions", Ty::Uint32, false),
];

/// DOCSIS3 (CableLabs) sub-options of option 125, space `vendor-4491` (kea-options.md §2).
const VENDOR_4491: &[Def] = &[
    d(1, "oro", Ty::Uint8, true),
    d(2, "tftp-servers", Ty::Ipv4, true),
];

fn table(space: OptionSpace) -> &'static [Def] {
    match space {
        OptionSpace::Dhcp4 => DHCP4,
        OptionSpace::Vendor(4491) => VENDOR_4491,
        _ => &[],
    }
}

/// The standard definition named `name` in `space`.
pub(crate) fn by_name_in(space: OptionSpace, name: &str) -> Option<Def> {
    table(space).iter().copied().find(|d| d.name == name)
}

/// The standard definition of `code` in `space`.
pub(crate) fn by_code_in(space: OptionSpace, code: u8) -> Option<Def> {
    table(space).iter().copied().find(|d| d.code == code)
}

/// The standard definition of `code` in space `dhcp4`.
pub(crate) fn by_code(code: u8) -> Option<Def> {
    DHCP4.iter().copied().find(|d| d.code == code)
}

/// A byte sink over a fixed buffer.
struct Out<'o> {
    buf: &'o mut [u8],
    len: usize,
    overflow: bool,
}

impl Out<'_> {
    fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(s) => {
                *s = b;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }
    fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }
}

fn parse_uint(text: &str, max: u64) -> Result<u64, &'static str> {
    let v = text
        .parse::<u64>()
        .ok()
        .or_else(|| {
            let h = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .unwrap_or(text);
            u64::from_str_radix(h, 16).ok()
        })
        .ok_or("not an unsigned integer")?;
    if v > max {
        return Err("integer out of range");
    }
    Ok(v)
}

fn encode_token(ty: Ty, token: &str, out: &mut Out<'_>) -> Result<(), &'static str> {
    match ty {
        Ty::Empty => {}
        Ty::Ipv4 => out.extend(&values::ipv4(token).ok_or("not an IPv4 address")?.octets()),
        Ty::Text => {
            let t = token.trim_end_matches('\0');
            if t.is_empty() {
                return Err("empty string");
            }
            out.extend(t.as_bytes());
        }
        Ty::Fqdn => {
            let name = token.strip_suffix('.').unwrap_or(token);
            if !name.is_empty() {
                for label in name.split('.') {
                    let len = u8::try_from(label.len())
                        .ok()
                        .filter(|&l| l > 0 && l <= 63)
                        .ok_or("invalid domain name label")?;
                    out.push(len);
                    out.extend(label.as_bytes());
                }
            }
            out.push(0);
        }
        Ty::Uint8 => out.push(parse_uint(token, 0xff)? as u8),
        Ty::Uint16 => out.extend(&(parse_uint(token, 0xffff)? as u16).to_be_bytes()),
        Ty::Uint32 => out.extend(&(parse_uint(token, 0xffff_ffff)? as u32).to_be_bytes()),
        Ty::Int32 => out.extend(
            &token
                .parse::<i32>()
                .map_err(|_| "not a 32-bit integer")?
                .to_be_bytes(),
        ),
        Ty::Boolean => out.push(match token {
            t if t.eq_ignore_ascii_case("true") || t == "1" => 1,
            t if t.eq_ignore_ascii_case("false") || t == "0" => 0,
            _ => return Err("not a boolean"),
        }),
        Ty::Binary => {
            // Kea's hex decoder skips white space; colons are rejected in CSV mode.
            if token.contains(':') {
                return Err("binary data in CSV format must be contiguous hex");
            }
            let mut digits = heapless::String::<512>::new();
            for c in token.chars().filter(|c| !c.is_whitespace()) {
                digits.push(c).map_err(|_| "value too long")?;
            }
            values::binary(&digits, |b| out.push(b)).ok_or("invalid hex")?;
        }
    }
    Ok(())
}

/// Converts `data` to wire bytes into `buf` (kea-options.md §3); returns the length.
pub(crate) fn encode(
    def: Option<Def>,
    csv_format: bool,
    data: &str,
    buf: &mut [u8],
) -> Result<usize, &'static str> {
    let mut out = Out {
        buf,
        len: 0,
        overflow: false,
    };
    match def {
        Some(def) if csv_format => {
            let mut any = false;
            for token in data.split(',').map(|t| t.trim_matches([' ', '\t'])) {
                if token.is_empty() {
                    continue;
                }
                encode_token(def.ty, token, &mut out)?;
                any = true;
                if !def.array {
                    break;
                }
            }
            if !any && def.ty != Ty::Empty {
                return Err("no option value specified");
            }
        }
        _ => {
            if csv_format && !data.is_empty() {
                return Err("option has no definition: use csv-format false and hex data");
            }
            values::binary(data, |b| out.push(b)).ok_or("invalid hex or 'quoted text'")?;
        }
    }
    if out.overflow {
        return Err("value too long");
    }
    Ok(out.len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(name: &str, data: &str) -> std::vec::Vec<u8> {
        let mut buf = [0u8; 256];
        let n = encode(by_name_in(OptionSpace::Dhcp4, name), true, data, &mut buf).unwrap();
        buf[..n].to_vec()
    }

    #[test]
    fn seed_options_encode_as_kea() {
        assert_eq!(enc("routers", "192.168.1.1"), [192, 168, 1, 1]);
        assert_eq!(
            enc("ntp-servers", "192.168.1.2, 192.168.1.3"),
            [192, 168, 1, 2, 192, 168, 1, 3]
        );
        assert_eq!(
            enc("domain-name", "home.michaelc.dev"),
            b"home.michaelc.dev"
        );
        assert_eq!(
            enc("domain-search", "example.test, foo.example.test."),
            b"\x07example\x04test\x00\x03foo\x07example\x04test\x00"
        );
        assert_eq!(enc("domain-name", "a.test, b.test"), b"a.test");
        assert_eq!(enc("interface-mtu", "1400"), [0x05, 0x78]);
        assert_eq!(enc("time-offset", "-3600"), [0xff, 0xff, 0xf1, 0xf0]);
    }
}
