//! Option 125, V-I Vendor-Specific Information (RFC 3925 §4), as Kea 2.2 adds it to a reply
//! (`appendRequestedVendorOptions`, kea-options.md §3.3).
//!
//! Wire form of one enterprise: `enterprise-number(4) data-len(1) sub-options…`; Kea 2.2
//! answers with one enterprise. The sub-options of enterprise N are configured as
//! `option-data` in space `vendor-N` ([`OptionSpace::Vendor`]); a 125 configured at the same
//! level already carries them (the config combines carriers per scope).
//!
//! Kea's steps, for a reply that has a subnet:
//! 1. The enterprise: the one of the 125 already in the reply (configured 125 requested in
//!    the PRL or `always-send`), else the first one of the client's 125. None (or 0): stop.
//! 2. The requested sub-options: the client's vendor ORO — understood only for CableLabs
//!    (4491, sub-option 1 "oro", one code per byte) — plus every `always-send` option of
//!    space `vendor-N` at any level of the option sources.
//! 3. For each requested code (ascending) the reply's 125 lacks: the first source (the
//!    reservation → pool → subnet → network → classes → global order of
//!    kea-expressions.md §6.1) defining it in `vendor-N` adds it.
//! 4. If something was added, the reply carries the 125 with its sub-options in ascending
//!    code order (Kea keeps them in a code-ordered map): the configured 125 grows, or a new
//!    one is made. **\[checked\]** `0000118b 06 02 04 c6120a05`: enterprise 4491, sub-option 2
//!    (tftp-servers) 198.18.10.5.

use crate::config::{Config, IndexRange, OptionSpace, OptionValue};
use crate::wire::options::OptionIter;

/// CableLabs' enterprise number (DOCSIS), the only one whose ORO Kea 2.2 reads.
pub const CABLE_LABS: u32 = 4491;
/// Sub-option 1 of `vendor-4491`: the client's option request list (uint8 array).
pub const DOCSIS_ORO: u8 = 1;
/// The longest option-125 payload wren builds: enterprise, data-len and 255 bytes of data.
pub const VIVSO_MAX: usize = 4 + 1 + 255;

/// The first enterprise block of a 125 payload: (enterprise, its sub-option bytes). `None`
/// without the 5-byte header; a data-len running past the payload is cut to what is there.
pub fn first_enterprise(payload: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = payload.split_first_chunk::<4>()?;
    let (&len, rest) = rest.split_first()?;
    let data = rest.get(..usize::from(len)).unwrap_or(rest);
    Some((u32::from_be_bytes(*head), data))
}

struct CodeSet([u64; 4]);

impl CodeSet {
    fn insert(&mut self, code: u8) {
        if let Some(w) = self.0.get_mut(usize::from(code / 64)) {
            *w |= 1 << (code % 64);
        }
    }

    fn contains(&self, code: u8) -> bool {
        self.0
            .get(usize::from(code / 64))
            .is_some_and(|w| w & (1 << (code % 64)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// The options of space `vendor-<enterprise>` in one source.
fn vendor_options<'c>(
    config: &'c Config<'_>,
    range: IndexRange,
    enterprise: u32,
) -> impl Iterator<Item = &'c OptionValue> + 'c {
    config
        .options
        .get(range.as_range())
        .unwrap_or(&[])
        .iter()
        .filter(move |o| o.space == OptionSpace::Vendor(enterprise))
}

/// Builds the reply's option 125 into `out` (at least [`VIVSO_MAX`] bytes) and returns its
/// length, or `None` when the reply's 125 stays as it is (absent, or `in_reply` unchanged).
/// A bare 4-byte `in_reply` is always rewritten with its data-len.
/// `sources` yields the option-data lists most specific first; `query` is the client's 125
/// payload and `in_reply` the 125 payload already chosen for the reply, if any.
pub fn build<I: Iterator<Item = IndexRange>>(
    config: &Config<'_>,
    sources: impl Fn() -> I,
    query: Option<&[u8]>,
    in_reply: Option<&[u8]>,
    out: &mut [u8],
) -> Option<usize> {
    let asked = query.and_then(first_enterprise);
    // A configured 125 without sub-options at its level is the bare enterprise number
    // (4 bytes); Kea packs it as an `OptionVendor`, data-len included.
    let bare = in_reply
        .and_then(|p| <[u8; 4]>::try_from(p).ok())
        .map(|e| (u32::from_be_bytes(e), &[][..]));
    let present = bare.or_else(|| in_reply.and_then(first_enterprise));
    let enterprise = present.or(asked).map(|(e, _)| e).filter(|&e| e != 0)?;

    let mut requested = CodeSet([0; 4]);
    if let Some((CABLE_LABS, data)) = asked.filter(|_| enterprise == CABLE_LABS) {
        if let Some(oro) = OptionIter::new(data).find(|o| o.code == DOCSIS_ORO) {
            oro.data.iter().for_each(|&c| requested.insert(c));
        }
    }
    for range in sources() {
        vendor_options(config, range, enterprise)
            .filter(|o| o.always_send)
            .for_each(|o| requested.insert(o.code));
    }
    if requested.is_empty() && bare.is_none() {
        return None;
    }

    let existing = present.map_or(&[][..], |(_, data)| data);
    let has = |code: u8| OptionIter::new(existing).any(|o| o.code == code);
    let value_of = |code: u8| {
        sources().find_map(|range| {
            vendor_options(config, range, enterprise)
                .find(|o| o.code == code)
                .map(|o| config.bytes(o.payload))
        })
    };
    let data = out.get_mut(5..VIVSO_MAX)?;
    let mut at = 0usize;
    let mut added = false;
    for code in 0..=255u8 {
        for o in OptionIter::new(existing).filter(|o| o.code == code) {
            at = put(data, at, code, o.data)?;
        }
        if requested.contains(code) && !has(code) {
            if let Some(v) = value_of(code) {
                // A sub-option that would overflow the 255-byte data is left out.
                if let Some(next) = put(data, at, code, v) {
                    at = next;
                    added = true;
                }
            }
        }
    }
    if !added && bare.is_none() {
        return None;
    }
    let head = out.get_mut(..5)?;
    head.get_mut(..4)?
        .copy_from_slice(&enterprise.to_be_bytes());
    *head.get_mut(4)? = u8::try_from(at).ok()?;
    Some(5 + at)
}

/// Writes sub-option `code` with `value` at `data[at..]`; the new end, or `None` if it does
/// not fit (or the value is over 255 bytes).
fn put(data: &mut [u8], at: usize, code: u8, value: &[u8]) -> Option<usize> {
    let len = u8::try_from(value.len()).ok()?;
    let end = at.checked_add(2)?.checked_add(value.len())?;
    let dst = data.get_mut(at..end)?;
    let (hdr, body) = dst.split_at_mut(2);
    hdr.copy_from_slice(&[code, len]);
    body.copy_from_slice(value);
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::fixture::{Fixture, Level};

    fn vendor_option(
        f: &mut Fixture,
        level: Level,
        enterprise: u32,
        code: u8,
        v: &[u8],
        always: bool,
    ) {
        f.option(level, code, v, always);
        let last = f.options.len() - 1;
        f.options[last].space = OptionSpace::Vendor(enterprise);
    }

    fn run(
        f: &mut Fixture,
        query: Option<&[u8]>,
        in_reply: Option<&[u8]>,
    ) -> Option<std::vec::Vec<u8>> {
        let config = f.config();
        let sources = [config.subnets[0].options, config.globals.options];
        let mut out = [0u8; VIVSO_MAX];
        build(
            &config,
            || sources.iter().copied(),
            query,
            in_reply,
            &mut out,
        )
        .map(|n| out[..n].to_vec())
    }

    #[test]
    fn first_enterprise_reads_the_header() {
        assert_eq!(
            first_enterprise(&[0, 0, 0x11, 0x8b, 3, 1, 1, 2, 0xff]),
            Some((4491, &[1, 1, 2][..]))
        );
        assert_eq!(
            first_enterprise(&[0, 0, 0x11, 0x8b, 9, 1]),
            Some((4491, &[1][..]))
        );
        assert_eq!(first_enterprise(&[0, 0, 0x11, 0x8b]), None);
    }

    #[test]
    fn always_send_suboption_answers_the_clients_enterprise() {
        // kea-options.md §3.3 [checked]: 0000118b 06 02 04 c6120a05.
        let mut f = Fixture::three_subnets();
        vendor_option(&mut f, Level::Global, 4491, 2, &[198, 18, 10, 5], true);
        let q = [0, 0, 0x11, 0x8b, 0];
        assert_eq!(
            run(&mut f, Some(&q), None),
            Some(std::vec![0, 0, 0x11, 0x8b, 6, 2, 4, 198, 18, 10, 5])
        );
        // Another enterprise in the query: nothing configured for it.
        assert_eq!(run(&mut f, Some(&[0, 0, 0, 9, 0]), None), None);
        // No 125 anywhere: nothing.
        assert_eq!(run(&mut f, None, None), None);
    }

    #[test]
    fn docsis_oro_requests_suboptions_and_the_subnet_wins() {
        let mut f = Fixture::three_subnets();
        vendor_option(&mut f, Level::Subnet(0), 4491, 2, &[198, 18, 1, 5], false);
        vendor_option(&mut f, Level::Global, 4491, 2, &[198, 18, 10, 5], false);
        vendor_option(&mut f, Level::Global, 4491, 32, b"cfg", false);
        // ORO asks for 32 and 2 (in that order); sub-options go out ascending.
        let q = [0, 0, 0x11, 0x8b, 4, 1, 2, 32, 2];
        assert_eq!(
            run(&mut f, Some(&q), None),
            Some(std::vec![
                0, 0, 0x11, 0x8b, 11, 2, 4, 198, 18, 1, 5, 32, 3, b'c', b'f', b'g'
            ])
        );
        // Without the ORO and without always-send nothing is requested.
        assert_eq!(run(&mut f, Some(&[0, 0, 0x11, 0x8b, 0]), None), None);
    }

    #[test]
    fn oro_of_other_enterprises_is_not_understood() {
        let mut f = Fixture::three_subnets();
        vendor_option(&mut f, Level::Global, 9, 2, &[1], false);
        assert_eq!(run(&mut f, Some(&[0, 0, 0, 9, 3, 1, 1, 2]), None), None);
    }

    #[test]
    fn configured_125_in_the_reply_sets_the_enterprise_and_grows() {
        let mut f = Fixture::three_subnets();
        vendor_option(&mut f, Level::Global, 9, 1, b"a", true);
        vendor_option(&mut f, Level::Global, 9, 3, b"c", true);
        // The reply already has enterprise 9 with sub-option 3; 1 is added before it.
        let reply = [0, 0, 0, 9, 3, 3, 1, b'z'];
        assert_eq!(
            run(&mut f, Some(&[0, 0, 0x11, 0x8b, 0]), Some(&reply)),
            Some(std::vec![0, 0, 0, 9, 6, 1, 1, b'a', 3, 1, b'z'])
        );
        // Everything requested is already there: the reply's 125 stays as it is.
        let full = [0, 0, 0, 9, 6, 1, 1, b'a', 3, 1, b'z'];
        assert_eq!(run(&mut f, None, Some(&full)), None);
    }

    #[test]
    fn bare_configured_125_gets_its_data_len() {
        let mut f = Fixture::three_subnets();
        assert_eq!(
            run(&mut f, None, Some(&[0, 0, 0x11, 0x8b])),
            Some(std::vec![0, 0, 0x11, 0x8b, 0])
        );
        vendor_option(&mut f, Level::Global, 4491, 2, &[198, 18, 10, 5], true);
        assert_eq!(
            run(&mut f, None, Some(&[0, 0, 0x11, 0x8b])),
            Some(std::vec![0, 0, 0x11, 0x8b, 6, 2, 4, 198, 18, 10, 5])
        );
    }

    #[test]
    fn suboptions_beyond_255_bytes_are_left_out() {
        let mut f = Fixture::three_subnets();
        vendor_option(&mut f, Level::Global, 9, 1, &[7; 200], true);
        vendor_option(&mut f, Level::Global, 9, 2, &[8; 60], true);
        let got = run(&mut f, Some(&[0, 0, 0, 9, 0]), None).unwrap();
        assert_eq!(got.len(), 5 + 202);
        assert_eq!(got[4], 202);
    }
}
