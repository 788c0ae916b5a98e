//! HTTP Basic authentication as Kea's `authentication` block configures it
//! (kea-control-api.md §1.1): `type: basic`, `realm`, `directory`, `clients` with
//! `user`/`password` or `user-file`/`password-file` (files relative to `directory`,
//! content trimmed of the final newline). A request without a matching
//! `Authorization: Basic base64(user:password)` is answered 401 with
//! `WWW-Authenticate: Basic realm="…"`.

/// One accepted `user:password` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential(Vec<u8>);

/// The configured authentication of one listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicAuth {
    /// `realm` (Kea's default: `kea-control-agent`).
    pub realm: String,
    /// Accepted credentials.
    pub clients: Vec<Credential>,
}

impl Credential {
    /// `user` and `password`.
    pub fn new(user: &str, password: &str) -> Credential {
        let mut v = Vec::with_capacity(user.len() + 1 + password.len());
        v.extend_from_slice(user.as_bytes());
        v.push(b':');
        v.extend_from_slice(password.as_bytes());
        Credential(v)
    }
}

fn base64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes standard base64 (RFC 4648 §4, padding optional) into `out`; `None` when invalid.
pub fn base64_decode(text: &str, out: &mut Vec<u8>) -> Option<()> {
    out.clear();
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 {
        return None;
    }
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in trimmed.as_bytes() {
        acc = (acc << 6) | base64_value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A lone 6-bit group cannot end a valid encoding.
    (bits < 6).then_some(())
}

/// Compares without a data-dependent early exit (the length still shows).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

impl BasicAuth {
    /// Whether an `Authorization` header value names an accepted client. Every
    /// configured credential is compared (no early exit on a match).
    pub fn allows(&self, authorization: Option<&str>, scratch: &mut Vec<u8>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") || base64_decode(token.trim(), scratch).is_none() {
            return false;
        }
        self.clients
            .iter()
            .fold(false, |ok, c| constant_time_eq(&c.0, scratch) | ok)
    }

    /// The `WWW-Authenticate` header line (with CRLF).
    pub fn challenge(&self) -> String {
        format!("WWW-Authenticate: Basic realm=\"{}\"\r\n", self.realm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BasicAuth {
        BasicAuth {
            realm: "wren".into(),
            clients: vec![
                Credential::new("admin", "1234"),
                Credential::new("ops", "p:w"),
            ],
        }
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let mut out = Vec::new();
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            base64_decode(enc, &mut out).unwrap();
            assert_eq!(out, plain.as_bytes(), "{enc}");
        }
        assert!(base64_decode("Zm9v!", &mut out).is_none());
        assert!(base64_decode("Z", &mut out).is_none());
        assert!(base64_decode("Zg===", &mut out).is_none());
    }

    #[test]
    fn right_credentials_pass_wrong_or_missing_fail() {
        let a = auth();
        let mut s = Vec::new();
        // base64("admin:1234") = YWRtaW46MTIzNA==
        assert!(a.allows(Some("Basic YWRtaW46MTIzNA=="), &mut s));
        assert!(a.allows(Some("basic YWRtaW46MTIzNA=="), &mut s));
        // base64("ops:p:w"): the password may hold a colon.
        assert!(a.allows(Some("Basic b3BzOnA6dw=="), &mut s));
        // base64("admin:12345")
        assert!(!a.allows(Some("Basic YWRtaW46MTIzNDU="), &mut s));
        assert!(!a.allows(Some("Bearer YWRtaW46MTIzNA=="), &mut s));
        assert!(!a.allows(Some("Basic"), &mut s));
        assert!(!a.allows(Some("Basic %%%"), &mut s));
        assert!(!a.allows(None, &mut s));
        assert_eq!(a.challenge(), "WWW-Authenticate: Basic realm=\"wren\"\r\n");
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
