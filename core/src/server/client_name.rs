//! The client's name in the reply and in the lease: option 12 (host-name) or option 81
//! (client FQDN, RFC 4702), as Kea 2.2's `processClientName` decides it with DDNS updates
//! disabled (wren does no DNS updates). dhcpv4-server-behaviour.md §5: "reserved hostname
//! wins; otherwise the client's name sanitised (`hostname-char-set`) and lower-cased; FQDN
//! reply flags reflect DDNS settings (N=1 when updates disabled)".
//!
//! * A client that sends 81 gets 81 back (and no 12): Kea "should prefer Client FQDN option
//!   and ignore the Hostname option".
//! * Otherwise, a reserved hostname is sent as 12 (lower-cased), whether or not the client
//!   asked; a client-sent 12 is sanitised, lower-cased and echoed.

use crate::server::hostname_chars::CharSet;
use crate::server::reply::trim_nuls;
use crate::wire::message::Message;

/// How client-supplied names are scrubbed (`hostname-char-set`, `hostname-char-replacement`).
#[derive(Clone, Copy, Debug)]
pub struct Sanitizer<'a> {
    /// The character set.
    pub set: CharSet<'a>,
    /// The replacement text.
    pub replacement: &'a [u8],
}

impl Sanitizer<'static> {
    /// Kea's defaults: `[^A-Za-z0-9.-]` → `""`.
    pub fn kea_default() -> Self {
        Sanitizer {
            set: CharSet::kea_default(),
            replacement: b"",
        }
    }
}

/// RFC 4702 §2.1 flag bits.
const FLAG_S: u8 = 0x01;
const FLAG_O: u8 = 0x02;
const FLAG_E: u8 = 0x04;
const FLAG_N: u8 = 0x08;

/// Scratch space for the name decisions of one reply.
pub struct NameBuffers {
    option: [u8; 3 + 256],
    text: [u8; 256],
}

impl Default for NameBuffers {
    fn default() -> Self {
        NameBuffers {
            option: [0; 3 + 256],
            text: [0; 256],
        }
    }
}

/// The decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientName<'b> {
    /// The option to put in an address-bearing reply: (12 or 81, payload).
    pub option: Option<(u8, &'b [u8])>,
    /// The lease's hostname (Kea stores the FQDN with its trailing dot).
    pub lease_hostname: &'b str,
}

/// Decides the name for a client whose reservation hostname is `reserved` (empty: none).
pub fn decide<'b>(
    q: &Message<'_>,
    reserved: &[u8],
    sanitizer: &Sanitizer<'_>,
    buf: &'b mut NameBuffers,
) -> ClientName<'b> {
    if let Some(fqdn) = q.option(81) {
        return fqdn_reply(fqdn, reserved, sanitizer, buf).unwrap_or_default();
    }
    let n = if !reserved.is_empty() {
        // Kea: reserved hostname, "Convert it to lower case".
        let n = reserved.len().min(buf.text.len());
        if let (Some(d), Some(s)) = (buf.text.get_mut(..n), reserved.get(..n)) {
            d.copy_from_slice(s);
            d.make_ascii_lowercase();
        }
        n
    } else if let Some(sent) = q.hostname() {
        // Kea trims surrounding white space, scrubs, then lower-cases (the codec already
        // removed trailing NULs: kea-options.md §4.3).
        let sent = sent.trim_ascii();
        sanitizer
            .set
            .scrub(sent, sanitizer.replacement, &mut buf.text)
    } else {
        0
    };
    let text = buf.text.get(..n).unwrap_or(&[]);
    ClientName {
        option: (!text.is_empty()).then_some((12, text)),
        lease_hostname: core::str::from_utf8(text).unwrap_or(""),
    }
}

/// Appends `s` at `*at` in `out`.
fn put(out: &mut [u8], at: &mut usize, s: &[u8]) -> Option<()> {
    out.get_mut(*at..*at + s.len())?.copy_from_slice(s);
    *at += s.len();
    Some(())
}

/// The client's name from option 81 as text (labels joined by dots, a trailing dot when the
/// name is fully qualified), each label sanitised ("we'll scrub it label by label");
/// returns (length, fully qualified). RFC 4702 §2.3: with E set the name is in DNS wire
/// form (a final zero-length label means fully qualified); without it, ASCII (a final dot
/// means fully qualified).
fn client_text(
    flags: u8,
    name: &[u8],
    sanitizer: &Sanitizer<'_>,
    out: &mut [u8],
) -> Option<(usize, bool)> {
    let mut at = 0;
    let mut full = false;
    let mut first = true;
    let mut emit = |label: &[u8], at: &mut usize, out: &mut [u8]| -> Option<()> {
        let mut clean = [0u8; 63];
        if label.len() > 63 {
            return None;
        }
        let n = sanitizer
            .set
            .scrub(label, sanitizer.replacement, &mut clean);
        if n == 0 {
            return None; // an empty label is not a name Kea could build
        }
        if !first {
            put(out, at, b".")?;
        }
        first = false;
        put(out, at, clean.get(..n)?)
    };
    if flags & FLAG_E != 0 {
        let mut rest = name;
        while let Some((&len, tail)) = rest.split_first() {
            if len == 0 {
                full = true;
                break;
            }
            let label = tail.get(..usize::from(len))?;
            emit(label, &mut at, out)?;
            rest = tail.get(usize::from(len)..)?;
        }
    } else {
        let text = trim_nuls(name);
        let (body, dotted) = match text.strip_suffix(b".") {
            Some(b) => (b, true),
            None => (text, false),
        };
        full = dotted;
        if !body.is_empty() {
            for label in body.split(|&b| b == b'.') {
                emit(label, &mut at, out)?;
            }
        }
    }
    Some((at, full))
}

/// Kea's `processClientFqdnOption` with updates disabled: flags N=1, S=0, O = the client's
/// S, E carried over; RCODE1/2 copied from the client's option; the name is the reserved
/// hostname qualified with a trailing dot, else the client's name sanitised and made fully
/// qualified ("If the supplied name is partial, qualify it"), else empty.
fn fqdn_reply<'b>(
    fqdn: &[u8],
    reserved: &[u8],
    sanitizer: &Sanitizer<'_>,
    buf: &'b mut NameBuffers,
) -> Option<ClientName<'b>> {
    let (&flags, rest) = fqdn.split_first()?;
    let (&rcode1, rest) = rest.split_first()?;
    let (&rcode2, name) = rest.split_first()?;
    // RFC 4702 §2.1: N and S both set is invalid; Kea throws and sends no name.
    if flags & FLAG_N != 0 && flags & FLAG_S != 0 {
        return None;
    }
    let mut text_len = 0;
    if !reserved.is_empty() {
        put(&mut buf.text, &mut text_len, reserved)?;
        if let Some(t) = buf.text.get_mut(..text_len) {
            t.make_ascii_lowercase();
        }
    } else {
        let (n, _) = client_text(flags, name, sanitizer, &mut buf.text)?;
        text_len = n;
    }
    if text_len > 0 && buf.text.get(text_len - 1) != Some(&b'.') {
        put(&mut buf.text, &mut text_len, b".")?;
    }
    let text = buf.text.get(..text_len)?;
    let mut resp_flags = FLAG_N | (flags & FLAG_E);
    if flags & FLAG_S != 0 {
        resp_flags |= FLAG_O;
    }
    let mut at = 0;
    put(&mut buf.option, &mut at, &[resp_flags, rcode1, rcode2])?;
    if !text.is_empty() {
        if flags & FLAG_E != 0 {
            for label in text.split(|&b| b == b'.').filter(|l| !l.is_empty()) {
                let len = u8::try_from(label.len()).ok().filter(|&l| l <= 63)?;
                put(&mut buf.option, &mut at, &[len])?;
                put(&mut buf.option, &mut at, label)?;
            }
            put(&mut buf.option, &mut at, &[0])?;
        } else {
            put(&mut buf.option, &mut at, text)?;
        }
    }
    Some(ClientName {
        option: Some((81, buf.option.get(..at)?)),
        lease_hostname: core::str::from_utf8(text).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::accept::{self, tests::request};

    fn name_of(
        options: &[u8],
        reserved: &[u8],
    ) -> (Option<(u8, std::vec::Vec<u8>)>, std::string::String) {
        let p = request(options);
        let mut scratch = [0u8; 600];
        let Ok(Some(q)) = accept::read(&p, &mut scratch) else {
            panic!()
        };
        let mut buf = NameBuffers::default();
        let n = decide(&q, reserved, &Sanitizer::kea_default(), &mut buf);
        (
            n.option.map(|(c, v)| (c, v.to_vec())),
            n.lease_hostname.into(),
        )
    }

    #[test]
    fn hostname_option_is_sanitised_and_lowercased() {
        let (o, h) = name_of(
            &[53, 1, 1, 12, 8, b'M', b'y', b'_', b'H', b'o', b's', b't', 0],
            b"",
        );
        assert_eq!(o, Some((12, b"myhost".to_vec())));
        assert_eq!(h, "myhost");
        assert_eq!(name_of(&[53, 1, 1], b""), (None, "".into()));
    }

    #[test]
    fn reserved_hostname_wins_and_is_sent_unasked() {
        let (o, h) = name_of(&[53, 1, 1, 12, 3, b'a', b'b', b'c'], b"Printer");
        assert_eq!(o, Some((12, b"printer".to_vec())));
        assert_eq!(h, "printer");
        assert_eq!(
            name_of(&[53, 1, 1], b"Printer").0,
            Some((12, b"printer".to_vec()))
        );
    }

    #[test]
    fn fqdn_wire_form_partial_name_is_qualified() {
        // E=1, S=1 (client asks the server to update), rcodes 0, partial name "Laptop".
        let (o, h) = name_of(
            &[
                53, 1, 1, 81, 10, 0x05, 0, 0, 6, b'L', b'a', b'p', b't', b'o', b'p', 12, 1, b'x',
            ],
            b"",
        );
        // N=1, E=1, O=1 (server overrode S), S=0; name lower-cased and fully qualified; no
        // option 12.
        assert_eq!(
            o,
            Some((
                81,
                std::vec![0x0e, 0, 0, 6, b'l', b'a', b'p', b't', b'o', b'p', 0]
            ))
        );
        assert_eq!(h, "laptop.");
    }

    #[test]
    fn fqdn_ascii_full_name_and_rcodes_are_kept() {
        // E=0, S=0, rcodes 255/255, "host.example." (fully qualified, ASCII).
        let mut opts = std::vec![53, 1, 1, 81, 16, 0, 255, 255];
        opts.extend_from_slice(b"host.example.");
        let (o, h) = name_of(&opts, b"");
        let mut want = std::vec![0x08, 255, 255];
        want.extend_from_slice(b"host.example.");
        assert_eq!(o, Some((81, want)));
        assert_eq!(h, "host.example.");
    }

    #[test]
    fn fqdn_with_reservation_and_empty_and_invalid() {
        let (o, h) = name_of(&[53, 1, 1, 81, 3, 0x04, 0, 0], b"Box");
        assert_eq!(o, Some((81, std::vec![0x0c, 0, 0, 3, b'b', b'o', b'x', 0])));
        assert_eq!(h, "box.");
        // Empty name: flags and rcodes only.
        assert_eq!(
            name_of(&[53, 1, 1, 81, 3, 0, 0, 0], b""),
            (Some((81, std::vec![0x08, 0, 0])), "".into())
        );
        // N and S together: no name at all.
        assert_eq!(
            name_of(&[53, 1, 1, 81, 4, 0x09, 0, 0, b'a'], b""),
            (None, "".into())
        );
        // Truncated wire label: no name.
        assert_eq!(
            name_of(&[53, 1, 1, 81, 5, 0x04, 0, 0, 9, b'a'], b""),
            (None, "".into())
        );
    }
}
