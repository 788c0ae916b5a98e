//! `hostname-char-set` / `hostname-char-replacement` (kea-config.md §2: default
//! `"[^A-Za-z0-9.-]"` and `""`): Kea replaces every character matching the regular
//! expression in client-supplied names; an empty set disables sanitising (Kea then keeps
//! `,` and `&` \[checked\], tests/tests/parity.rs `lease_file_rows_match_kea`).
//!
//! wren implements the form every documented example uses: one bracket expression,
//! `[...]` or negated `[^...]`, of single characters and `a-z` ranges (with `\` escapes).
//! Any other expression is reported by [`CharSet::parse`] so the config loader can warn.

use crate::config::Config;

/// A parsed `hostname-char-set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CharSet<'a> {
    /// The characters inside the brackets (without `^`).
    body: &'a [u8],
    /// `[^...]`: the set matches characters *not* listed.
    negated: bool,
    /// Empty set: nothing matches (sanitising disabled).
    disabled: bool,
}

/// Kea's default `hostname-char-set`.
pub const DEFAULT_CHAR_SET: &str = "[^A-Za-z0-9.-]";

/// Why a `hostname-char-set` is not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharSetError {
    /// Not a single bracket expression.
    NotABracketExpression,
}

impl<'a> CharSet<'a> {
    /// Parses `text` (`""` disables sanitising).
    pub fn parse(text: &'a str) -> Result<Self, CharSetError> {
        let b = text.as_bytes();
        if b.is_empty() {
            return Ok(CharSet {
                body: b,
                negated: false,
                disabled: true,
            });
        }
        let inner = b
            .strip_prefix(b"[")
            .and_then(|r| r.strip_suffix(b"]"))
            .ok_or(CharSetError::NotABracketExpression)?;
        let (negated, body) = match inner.strip_prefix(b"^") {
            Some(rest) => (true, rest),
            None => (false, inner),
        };
        Ok(CharSet {
            body,
            negated,
            disabled: false,
        })
    }

    /// Kea's default.
    pub fn kea_default() -> CharSet<'static> {
        CharSet {
            body: b"A-Za-z0-9.-",
            negated: true,
            disabled: false,
        }
    }

    fn listed(&self, c: u8) -> bool {
        let mut i = 0;
        let body = self.body;
        while let Some(&first) = body.get(i) {
            let (lo, next) = if first == b'\\' {
                (body.get(i + 1).copied().unwrap_or(b'\\'), i + 2)
            } else {
                (first, i + 1)
            };
            // A range `lo-hi` (a `-` first or last is literal).
            if body.get(next) == Some(&b'-') && next + 1 < body.len() {
                let hi_at = next + 1;
                let (hi, after) = match body.get(hi_at) {
                    Some(b'\\') => (body.get(hi_at + 1).copied().unwrap_or(b'\\'), hi_at + 2),
                    Some(&h) => (h, hi_at + 1),
                    None => (lo, hi_at),
                };
                if lo <= c && c <= hi {
                    return true;
                }
                i = after;
            } else {
                if c == lo {
                    return true;
                }
                i = next;
            }
        }
        false
    }

    /// Whether `c` is to be replaced.
    pub fn matches(&self, c: u8) -> bool {
        !self.disabled && (self.listed(c) != self.negated)
    }

    /// Writes `name` into `out` with every matching character replaced by `replacement`,
    /// lower-cased (Kea lower-cases client host names after scrubbing). Returns the length.
    pub fn scrub(&self, name: &[u8], replacement: &[u8], out: &mut [u8]) -> usize {
        let mut n = 0;
        let mut push = |b: u8, n: &mut usize| {
            if let Some(o) = out.get_mut(*n) {
                *o = b.to_ascii_lowercase();
                *n += 1;
            }
        };
        for &c in name {
            if self.matches(c) {
                for &r in replacement {
                    push(r, &mut n);
                }
            } else {
                push(c, &mut n);
            }
        }
        n
    }
}

/// The `hostname-char-set` values of `config` (the global one, then each subnet's resolved
/// one that differs from it) that [`CharSet::parse`] cannot read. The engine scrubs those
/// clients' names with the fallback set (Kea's default unless
/// [`crate::server::Engine::with_hostname_chars`] says otherwise); the daemon should warn
/// about each at load.
pub fn unreadable_sets<'c>(config: &'c Config<'c>) -> impl Iterator<Item = &'c str> + 'c {
    let global = config.globals.params.hostname_char_set;
    global
        .into_iter()
        .chain(
            config
                .subnets
                .iter()
                .filter_map(|s| s.params.hostname_char_set)
                .filter(move |t| Some(*t) != global),
        )
        .map(|t| config.str(t))
        .filter(|text| CharSet::parse(text).is_err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_sets_are_listed_once_per_level() {
        let mut f = crate::assign::fixture::Fixture::three_subnets();
        let bad = f.text(b"^[a-z]+$");
        let good = f.text(b"[_]");
        f.globals.params.hostname_char_set = Some(bad);
        for s in f.subnets.iter_mut() {
            s.params.hostname_char_set = Some(bad);
        }
        f.subnets[1].params.hostname_char_set = Some(good);
        let other = f.text(b"x");
        f.subnets[2].params.hostname_char_set = Some(other);
        let config = f.config();
        let found: std::vec::Vec<&str> = unreadable_sets(&config).collect();
        assert_eq!(found, ["^[a-z]+$", "x"]);
    }

    fn scrub(set: &str, repl: &str, name: &str) -> std::string::String {
        let mut out = [0u8; 64];
        let n = CharSet::parse(set)
            .unwrap()
            .scrub(name.as_bytes(), repl.as_bytes(), &mut out);
        std::string::String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn default_strips_and_lowercases() {
        assert_eq!(scrub(DEFAULT_CHAR_SET, "", "My_Host,&x.Lan"), "myhostx.lan");
        assert_eq!(
            CharSet::parse(DEFAULT_CHAR_SET).unwrap(),
            CharSet::kea_default()
        );
    }

    #[test]
    fn empty_set_keeps_everything_but_case() {
        assert_eq!(scrub("", "", "Wren,Parity&Co"), "wren,parity&co");
    }

    #[test]
    fn replacement_and_plain_sets() {
        assert_eq!(scrub("[^A-Za-z0-9-]", "x", "a.b_c"), "axbxc");
        assert_eq!(scrub("[_]", "-", "a_b"), "a-b");
        assert_eq!(scrub("[\\-]", "", "a-b"), "ab");
    }

    #[test]
    fn other_regexes_are_reported() {
        assert_eq!(
            CharSet::parse("a+"),
            Err(CharSetError::NotABracketExpression)
        );
    }
}
