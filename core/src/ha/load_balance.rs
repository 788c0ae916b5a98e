//! Which HA scope a query belongs to (kea-ha.md §3): Kea 2.2's `QueryFilter`.
//!
//! Load balancing uses the RFC 3074 Pearson hash, but (spec trap 6) **not** the RFC's
//! bucket split: Kea takes the whole option-61 payload (type byte included) as the key, or
//! `chaddr` when there is no client identifier, hashes from the key length over the bytes
//! last to first, and takes the result modulo the number of active servers (2).

use super::config::HaMode;

/// RFC 3074 §6 mixing table (a permutation of 0..=255).
const PEARSON: [u8; 256] = [
    251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152,
    58, 17, 237, 174, 70, 160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166, 203, 196, 134, 243,
    124, 95, 222, 179, 197, 65, 180, 48, 36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97,
    16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22, 138, 29, 108, 244, 67, 207, 9, 178, 204,
    74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35, 128, 13, 182, 94, 25,
    226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115, 241,
    73, 88, 105, 39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82,
    163, 44, 139, 228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, 195, 42, 106, 198, 118,
    112, 184, 172, 87, 2, 173, 117, 176, 229, 247, 253, 137, 185, 99, 164, 102, 147, 45, 66, 231,
    52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248, 63, 240, 189, 93, 92, 51, 53, 183, 19, 171,
    72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125, 188, 213, 96, 235, 136,
    208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153,
    149, 80, 170, 68, 6, 169, 234, 151,
];

/// RFC 3074 hash as Kea computes it: `h = len mod 256`, then `h = T[h ^ key[i]]` for `i`
/// from the last byte to the first.
pub fn rfc3074_hash(key: &[u8]) -> u8 {
    // `len mod 256` is the truncation of the length to a byte.
    let mut h = (key.len() & 0xff) as u8;
    for &b in key.iter().rev() {
        // `h ^ b` is a byte, so the lookup always hits.
        h = PEARSON.get(usize::from(h ^ b)).copied().unwrap_or(0);
    }
    h
}

/// What scope selection needs from a query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryFacts<'q> {
    /// DHCP message type (option 53), if present.
    pub message_type: Option<u8>,
    /// Option 61 payload (type byte included); empty if absent.
    pub client_id: &'q [u8],
    /// `chaddr` truncated to `hlen`.
    pub chaddr: &'q [u8],
    /// The `secs` field as received (byte order fixed by failure detection).
    pub secs: u16,
}

/// Scope index: 0 = primary's scope, 1 = secondary's (kea-ha.md §3 peer order).
pub type ScopeIndex = usize;

/// The set of scopes a server currently answers (`ha-scopes`, heartbeat `scopes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    /// Serves the primary's scope.
    pub primary: bool,
    /// Serves the secondary's (load-balancing) scope.
    pub secondary: bool,
}

impl Scopes {
    /// No scope.
    pub const NONE: Scopes = Scopes {
        primary: false,
        secondary: false,
    };

    /// Whether scope `index` is served.
    pub fn serves(&self, index: ScopeIndex) -> bool {
        match index {
            0 => self.primary,
            1 => self.secondary,
            _ => false,
        }
    }
}

/// Why a query has no scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeError {
    /// Load-balancing needs option 61 or `chaddr`; Kea drops a query with neither.
    NoKey,
}

/// The key load balancing hashes: the non-empty option-61 payload, else `chaddr`
/// (Kea ignores `match-client-id` here).
pub fn balancing_key<'q>(q: &QueryFacts<'q>) -> Option<&'q [u8]> {
    if !q.client_id.is_empty() {
        Some(q.client_id)
    } else if !q.chaddr.is_empty() {
        Some(q.chaddr)
    } else {
        None
    }
}

/// The scope of a query. Only DISCOVER, REQUEST, DECLINE, RELEASE and INFORM are load
/// balanced; everything else, and every query in hot-standby / passive-backup, is in the
/// primary's scope.
pub fn scope_of(q: &QueryFacts<'_>, mode: HaMode) -> Result<ScopeIndex, ScopeError> {
    let balanced = matches!(q.message_type, Some(1 | 3 | 4 | 7 | 8));
    if mode != HaMode::LoadBalancing || !balanced {
        return Ok(0);
    }
    let key = balancing_key(q).ok_or(ScopeError::NoKey)?;
    Ok(usize::from(rfc3074_hash(key) % 2))
}

/// Whether this server answers `q` while serving `scopes`. A query without a key is not
/// answered (Kea drops it).
pub fn in_scope(q: &QueryFacts<'_>, mode: HaMode, scopes: Scopes) -> bool {
    scope_of(q, mode).is_ok_and(|i| scopes.serves(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate().take(s.len() / 2) {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn table_is_a_permutation() {
        let mut seen = [false; 256];
        for &v in PEARSON.iter() {
            assert!(!seen[usize::from(v)]);
            seen[usize::from(v)] = true;
        }
        assert_eq!(PEARSON[0], 251);
        assert_eq!(PEARSON[255], 151);
        assert_eq!(PEARSON[102], 182);
    }

    /// kea-ha.md §3 test vectors (the ✔ ones confirmed on Kea 2.2).
    #[test]
    fn kea_vectors() {
        let vectors: &[(&str, bool, u8, usize)] = &[
            ("020000000001", false, 133, 1),
            ("020000000002", false, 45, 1),
            ("020000000003", false, 182, 0),
            ("020000000004", false, 150, 0),
            ("aabbccddeeff", false, 57, 1),
            ("01aabbccddeeff", true, 102, 0),
            ("000000000000", false, 254, 0),
            ("010203040506", false, 179, 1),
            ("ffffffffffff", false, 79, 1),
            ("01000c29aabbcc", true, 225, 1),
        ];
        for &(k, is_cid, h, scope) in vectors {
            let buf = hex(k);
            let key = &buf[..k.len() / 2];
            assert_eq!(rfc3074_hash(key), h, "{k}");
            let q = QueryFacts {
                message_type: Some(1),
                client_id: if is_cid { key } else { &[] },
                chaddr: if is_cid {
                    &[0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]
                } else {
                    key
                },
                secs: 0,
            };
            assert_eq!(scope_of(&q, HaMode::LoadBalancing), Ok(scope), "{k}");
        }
    }

    #[test]
    fn client_id_wins_over_chaddr_and_empty_key_has_no_scope() {
        let chaddr = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        let cid = [0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        let mut q = QueryFacts {
            message_type: Some(3),
            client_id: &[],
            chaddr: &chaddr,
            secs: 0,
        };
        assert_eq!(scope_of(&q, HaMode::LoadBalancing), Ok(1));
        q.client_id = &cid;
        assert_eq!(scope_of(&q, HaMode::LoadBalancing), Ok(0));
        q.client_id = &[];
        q.chaddr = &[];
        assert_eq!(scope_of(&q, HaMode::LoadBalancing), Err(ScopeError::NoKey));
        assert!(!in_scope(
            &q,
            HaMode::LoadBalancing,
            Scopes {
                primary: true,
                secondary: true
            }
        ));
        // Hot-standby: everything is the primary's.
        assert_eq!(scope_of(&q, HaMode::HotStandby), Ok(0));
    }

    #[test]
    fn unbalanced_types_go_to_primary() {
        let chaddr = [2, 0, 0, 0, 0, 1]; // secondary's client
        for t in [None, Some(2), Some(5), Some(6), Some(10)] {
            let q = QueryFacts {
                message_type: t,
                client_id: &[],
                chaddr: &chaddr,
                secs: 0,
            };
            assert_eq!(scope_of(&q, HaMode::LoadBalancing), Ok(0));
        }
        let q = QueryFacts {
            message_type: Some(8),
            client_id: &[],
            chaddr: &chaddr,
            secs: 0,
        };
        assert!(in_scope(
            &q,
            HaMode::LoadBalancing,
            Scopes {
                primary: false,
                secondary: true
            }
        ));
        assert!(!in_scope(
            &q,
            HaMode::LoadBalancing,
            Scopes {
                primary: true,
                secondary: false
            }
        ));
        assert_eq!(rfc3074_hash(&[]), 0);
    }
}
