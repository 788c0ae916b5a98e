//! DHCP options: a TLV reader, a whole-message gatherer (RFC 3396 concatenation and option
//! overload), and a writer cursor.
//!
//! * [`OptionIter`] walks one options area lazily and stops — never panics — at END, at the
//!   end of the bytes, or at a TLV whose length runs past the end.
//! * [`ParsedOptions`] gathers every option of a message: RFC 3396 §5 says all instances of
//!   one code are concatenated, in the order "options field, then `file`, then `sname`"
//!   (RFC 3396 §7, RFC 2131 §4.1), where `file`/`sname` are only read when option 52
//!   (overload, RFC 2132 §9.3) says so. The concatenated payloads go into a scratch buffer
//!   the caller provides; lookup by code is O(1) through a 256-entry span table.
//! * [`OptionWriter`] appends options to a `&mut [u8]`, splits values longer than 255 bytes
//!   into consecutive instances (RFC 3396 §6), always keeps one byte for END and answers
//!   `Err` when full.

/// Option code 0: PAD, a single byte with no length (RFC 2132 §3.1).
pub const PAD: u8 = 0;
/// Option code 255: END, a single byte with no length (RFC 2132 §3.2).
pub const END: u8 = 255;
/// Option code 52: option overload (RFC 2132 §9.3).
pub const OVERLOAD: u8 = 52;
/// The longest payload one TLV instance can carry.
pub const MAX_INSTANCE_LEN: usize = 255;

/// One option instance as it appears in the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// Option code (never PAD or END).
    pub code: u8,
    /// Payload, `len` bytes.
    pub data: &'a [u8],
}

/// Why an [`OptionIter`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Still iterating.
    NotYet,
    /// An END option was found.
    End,
    /// The bytes ran out cleanly without an END (tolerated: many stacks omit it in
    /// `sname`/`file`, and Kea does not require it).
    Exhausted,
    /// An option code without its length byte was the last byte. Kea 2.2 treats this as a
    /// parse error ("truncated option"); the caller decides.
    MissingLength {
        /// The code of the option.
        code: u8,
    },
    /// An option's length runs past the end of the bytes. Kea 2.2 keeps the options before
    /// it and ignores the rest; so does [`ParsedOptions`].
    Truncated {
        /// The code of the option.
        code: u8,
        /// The length it claims.
        len: u8,
    },
}

/// A lazy iterator over the TLVs of one options area. PAD is skipped; iteration ends at
/// END, at the end of the bytes, or at a truncated TLV ([`OptionIter::stop`] says which).
#[derive(Clone, Debug)]
pub struct OptionIter<'a> {
    data: &'a [u8],
    pos: usize,
    stop: Stop,
}

impl<'a> OptionIter<'a> {
    /// Iterate over `data`, which starts at an option code.
    pub fn new(data: &'a [u8]) -> Self {
        OptionIter {
            data,
            pos: 0,
            stop: Stop::NotYet,
        }
    }

    /// Why iteration ended ([`Stop::NotYet`] while it has not).
    pub fn stop(&self) -> Stop {
        self.stop
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = DhcpOption<'a>;

    fn next(&mut self) -> Option<DhcpOption<'a>> {
        if self.stop != Stop::NotYet {
            return None;
        }
        loop {
            let Some(&code) = self.data.get(self.pos) else {
                self.stop = Stop::Exhausted;
                return None;
            };
            match code {
                PAD => {
                    self.pos += 1;
                    continue;
                }
                END => {
                    self.stop = Stop::End;
                    return None;
                }
                _ => {}
            }
            let Some(&len) = self.data.get(self.pos + 1) else {
                self.stop = Stop::MissingLength { code };
                return None;
            };
            let start = self.pos + 2;
            let end = start + usize::from(len);
            let Some(data) = self.data.get(start..end) else {
                self.stop = Stop::Truncated { code, len };
                return None;
            };
            self.pos = end;
            return Some(DhcpOption { code, data });
        }
    }
}

/// What is wrong when gathering a message's options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The scratch buffer is smaller than the concatenated payloads. A scratch as long as
    /// the whole message always suffices.
    ScratchTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// The options area ends with a code and no length byte (Kea 2.2: "truncated option",
    /// packet dropped).
    MissingLength {
        /// The option code.
        code: u8,
    },
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::ScratchTooSmall { needed, given } => {
                write!(
                    f,
                    "option scratch too small: need {needed} bytes, have {given}"
                )
            }
            ParseError::MissingLength { code } => {
                write!(f, "option {code} truncated before its length byte")
            }
        }
    }
}

/// Which header fields option 52 says carry options (RFC 2132 §9.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Overload {
    /// `file` holds options (value 1 or 3).
    pub file: bool,
    /// `sname` holds options (value 2 or 3).
    pub sname: bool,
}

impl Overload {
    /// Decode option 52's first byte; values other than 1, 2, 3 mean no overload.
    pub fn from_value(value: u8) -> Self {
        Overload {
            file: value == 1 || value == 3,
            sname: value == 2 || value == 3,
        }
    }
}

/// Where an option's concatenated payload lies in the scratch buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Span {
    start: u16,
    len: u16,
}

/// All options of one message, concatenated per code (RFC 3396), with O(1) lookup.
///
/// `spans` holds one (offset, length) pair per code into the caller's scratch buffer, and
/// `present` is a 256-bit set (a code may be present with an empty payload).
#[derive(Clone, Copy, Debug)]
pub struct ParsedOptions<'a> {
    data: &'a [u8],
    spans: [Span; 256],
    present: [u64; 4],
    overload: Overload,
    stop: Stop,
}

/// The areas of a message to read, in RFC 3396 §7 order.
fn areas<'a>(options: &'a [u8], file: &'a [u8], sname: &'a [u8], ov: Overload) -> [&'a [u8]; 3] {
    [
        options,
        if ov.file { file } else { &[] },
        if ov.sname { sname } else { &[] },
    ]
}

impl<'a> ParsedOptions<'a> {
    /// No options at all.
    pub fn empty() -> ParsedOptions<'static> {
        ParsedOptions {
            data: &[],
            spans: [Span::default(); 256],
            present: [0; 4],
            overload: Overload::default(),
            stop: Stop::Exhausted,
        }
    }

    /// Gather the options of a message: the `options` area, then — when its option 52 says
    /// so — `file`, then `sname`. Option 52 found inside `file`/`sname` is ignored (an
    /// overload cannot point at itself again). The concatenated payloads are copied into
    /// `scratch`; a scratch as long as the message always suffices.
    ///
    /// A TLV whose length runs past its area ends that area (Kea keeps what came before);
    /// a code without a length byte at the very end of the options area is
    /// [`ParseError::MissingLength`], as in Kea 2.2.
    pub fn parse(
        options: &[u8],
        file: &[u8],
        sname: &[u8],
        scratch: &'a mut [u8],
    ) -> Result<ParsedOptions<'a>, ParseError> {
        // Pass 0: overload, read from the options area only (RFC 2132 §9.3).
        let overload = OptionIter::new(options)
            .filter(|o| o.code == OVERLOAD)
            .find_map(|o| o.data.first().copied())
            .map(Overload::from_value)
            .unwrap_or_default();
        let areas = areas(options, file, sname, overload);

        // Pass 1: total payload length per code.
        let mut totals = [0usize; 256];
        let mut needed = 0usize;
        let mut stop = Stop::Exhausted;
        for (i, area) in areas.iter().enumerate() {
            let mut it = OptionIter::new(area);
            for opt in it.by_ref() {
                if i > 0 && opt.code == OVERLOAD {
                    continue;
                }
                if let Some(t) = totals.get_mut(usize::from(opt.code)) {
                    *t += opt.data.len();
                }
                needed += opt.data.len();
            }
            if i == 0 {
                stop = it.stop();
            }
        }
        if let Stop::MissingLength { code } = stop {
            return Err(ParseError::MissingLength { code });
        }
        if needed > scratch.len() || needed > usize::from(u16::MAX) {
            return Err(ParseError::ScratchTooSmall {
                needed,
                given: scratch.len(),
            });
        }

        // Pass 2: lay the codes out one after another, then copy each instance in order.
        let mut spans = [Span::default(); 256];
        let mut present = [0u64; 4];
        let mut next = 0u16;
        for (span, total) in spans.iter_mut().zip(totals.iter()) {
            span.start = next;
            // `needed` ≤ u16::MAX bounds every total and the running sum.
            next = next.saturating_add(u16::try_from(*total).unwrap_or(u16::MAX));
        }
        for (i, area) in areas.iter().enumerate() {
            for opt in OptionIter::new(area) {
                if i > 0 && opt.code == OVERLOAD {
                    continue;
                }
                let code = usize::from(opt.code);
                if let Some(word) = present.get_mut(code / 64) {
                    *word |= 1 << (code % 64);
                }
                let Some(span) = spans.get_mut(code) else {
                    continue;
                };
                let at = usize::from(span.start) + usize::from(span.len);
                if let Some(dst) = scratch.get_mut(at..at + opt.data.len()) {
                    dst.copy_from_slice(opt.data);
                }
                span.len = span
                    .len
                    .saturating_add(u16::try_from(opt.data.len()).unwrap_or(u16::MAX));
            }
        }
        Ok(ParsedOptions {
            data: scratch,
            spans,
            present,
            overload,
            stop,
        })
    }

    /// The concatenated payload of option `code`, or `None` when the message lacks it.
    /// A present option with an empty payload gives `Some(&[])`.
    pub fn get(&self, code: u8) -> Option<&'a [u8]> {
        if !self.contains(code) {
            return None;
        }
        let span = self.spans.get(usize::from(code))?;
        let start = usize::from(span.start);
        self.data.get(start..start + usize::from(span.len))
    }

    /// Whether option `code` appeared (possibly empty).
    pub fn contains(&self, code: u8) -> bool {
        let code = usize::from(code);
        self.present
            .get(code / 64)
            .is_some_and(|w| w & (1 << (code % 64)) != 0)
    }

    /// Codes present, ascending.
    pub fn codes(&self) -> impl Iterator<Item = u8> + '_ {
        (1u8..=254).filter(move |&c| self.contains(c))
    }

    /// What option 52 said (both false when absent).
    pub fn overload(&self) -> Overload {
        self.overload
    }

    /// How the main options area ended (END, exhausted, or a truncated TLV whose bytes were
    /// ignored).
    pub fn stop(&self) -> Stop {
        self.stop
    }
}

/// Why an option could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// Not enough room left (one byte is always kept for END).
    NoRoom,
    /// PAD (0) and END (255) carry no length and cannot be written as TLVs.
    ReservedCode(u8),
}

impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WriteError::NoRoom => f.write_str("no room for option"),
            WriteError::ReservedCode(c) => write!(f, "option code {c} is PAD/END"),
        }
    }
}

/// Bytes needed to write a `value_len`-byte value: one (code, len) pair per 255-byte
/// instance (RFC 3396 §6), at least one instance.
pub fn encoded_len(value_len: usize) -> usize {
    let instances = value_len.div_ceil(MAX_INSTANCE_LEN).max(1);
    value_len + 2 * instances
}

/// A cursor that writes options into `&mut [u8]`, always keeping one byte for END.
#[derive(Debug)]
pub struct OptionWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> OptionWriter<'a> {
    /// Write into `buf` from its start.
    pub fn new(buf: &'a mut [u8]) -> Self {
        OptionWriter { buf, pos: 0 }
    }

    /// Bytes written so far (END not included until [`OptionWriter::finish`]).
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// Bytes still available for options (the END byte already set aside).
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos).saturating_sub(1)
    }

    /// Append option `code` with `value`, split into 255-byte instances of the same code
    /// when longer (RFC 3396 §6). All or nothing: on `Err` the buffer is unchanged.
    pub fn write(&mut self, code: u8, value: &[u8]) -> Result<(), WriteError> {
        if code == PAD || code == END {
            return Err(WriteError::ReservedCode(code));
        }
        if encoded_len(value.len()) > self.remaining() {
            return Err(WriteError::NoRoom);
        }
        let mut chunks = value.chunks(MAX_INSTANCE_LEN);
        let first = chunks.next().unwrap_or(&[]);
        for chunk in core::iter::once(first).chain(chunks) {
            let len = u8::try_from(chunk.len()).map_err(|_| WriteError::NoRoom)?;
            let end = self.pos + 2 + chunk.len();
            let dst = self.buf.get_mut(self.pos..end).ok_or(WriteError::NoRoom)?;
            let (head, body) = dst.split_at_mut(2);
            head.copy_from_slice(&[code, len]);
            body.copy_from_slice(chunk);
            self.pos = end;
        }
        Ok(())
    }

    /// Write END and return the total length written (END included). Fails only on an
    /// empty buffer.
    pub fn finish(self) -> Result<usize, WriteError> {
        let slot = self.buf.get_mut(self.pos).ok_or(WriteError::NoRoom)?;
        *slot = END;
        Ok(self.pos + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn iter_basic_with_pad_and_end() {
        let bytes = [0, 0, 53, 1, 3, 0, 12, 3, b'a', b'b', b'c', 255, 53, 1, 1];
        let mut it = OptionIter::new(&bytes);
        let v: Vec<_> = it.by_ref().collect();
        assert_eq!(
            v,
            [
                DhcpOption {
                    code: 53,
                    data: &[3]
                },
                DhcpOption {
                    code: 12,
                    data: b"abc"
                }
            ]
        );
        assert_eq!(it.stop(), Stop::End);
        assert_eq!(it.next(), None);
    }

    #[test]
    fn iter_stops_on_short_tlv() {
        let bytes = [53, 1, 1, 12, 5, b'a', b'b'];
        let mut it = OptionIter::new(&bytes);
        assert_eq!(it.next().map(|o| o.code), Some(53));
        assert_eq!(it.next(), None);
        assert_eq!(it.stop(), Stop::Truncated { code: 12, len: 5 });

        let bytes = [53, 1, 1, 12];
        let mut it = OptionIter::new(&bytes);
        assert_eq!(it.by_ref().count(), 1);
        assert_eq!(it.stop(), Stop::MissingLength { code: 12 });

        let mut it = OptionIter::new(&[53, 1, 1]);
        assert_eq!(it.by_ref().count(), 1);
        assert_eq!(it.stop(), Stop::Exhausted);

        let mut it = OptionIter::new(&[]);
        assert_eq!(it.next(), None);
        assert_eq!(it.stop(), Stop::Exhausted);

        // Zero-length option is fine.
        let v: Vec<_> = OptionIter::new(&[80, 0, 255]).collect();
        assert_eq!(
            v,
            [DhcpOption {
                code: 80,
                data: &[]
            }]
        );
    }

    fn parse<'s>(
        opts: &[u8],
        file: &[u8],
        sname: &[u8],
        scratch: &'s mut [u8],
    ) -> ParsedOptions<'s> {
        ParsedOptions::parse(opts, file, sname, scratch).unwrap()
    }

    #[test]
    fn concatenation_rfc3396() {
        // Option 12 split into three instances around other options.
        let opts = [
            12, 2, b'h', b'o', 53, 1, 1, 12, 1, b's', 61, 0, 12, 1, b't', 255,
        ];
        let mut scratch = [0u8; 64];
        let p = parse(&opts, &[], &[], &mut scratch);
        assert_eq!(p.get(12), Some(&b"host"[..]));
        assert_eq!(p.get(53), Some(&[1u8][..]));
        assert_eq!(p.get(61), Some(&[][..]));
        assert!(p.contains(61));
        assert_eq!(p.get(50), None);
        assert!(!p.contains(50));
        assert_eq!(p.codes().collect::<Vec<_>>(), [12, 53, 61]);
        assert_eq!(p.stop(), Stop::End);
        assert_eq!(p.overload(), Overload::default());
    }

    /// A 300-byte value split across two instances reassembles exactly.
    #[test]
    fn long_value_round_trip() {
        let value: Vec<u8> = (0..300u16).map(|i| (i % 251) as u8).collect();
        let mut buf = [0u8; 320];
        let mut w = OptionWriter::new(&mut buf);
        w.write(77, &value).unwrap();
        assert_eq!(w.len(), 304);
        let n = w.finish().unwrap();
        assert_eq!(n, 305);
        assert_eq!(&buf[..2], &[77, 255]);
        assert_eq!(&buf[257..259], &[77, 45]);
        assert_eq!(buf[304], END);
        let mut scratch = [0u8; 320];
        let p = parse(&buf[..n], &[], &[], &mut scratch);
        assert_eq!(p.get(77), Some(&value[..]));
    }

    #[test]
    fn overload_file_then_sname_order() {
        let opts = [53, 1, 3, 52, 1, 3, 12, 1, b'a', 255];
        let mut file = [0u8; 128];
        file[..8].copy_from_slice(&[12, 1, b'b', 60, 2, b'v', b'c', 255]);
        let mut sname = [0u8; 64];
        sname[..5].copy_from_slice(&[12, 1, b'c', 0, 0]);
        let mut scratch = [0u8; 400];
        let p = parse(&opts, &file, &sname, &mut scratch);
        assert_eq!(
            p.overload(),
            Overload {
                file: true,
                sname: true
            }
        );
        assert_eq!(p.get(12), Some(&b"abc"[..]));
        assert_eq!(p.get(60), Some(&b"vc"[..]));
        assert_eq!(p.get(52), Some(&[3u8][..]));
    }

    #[test]
    fn overload_values() {
        let mut file = [0u8; 128];
        file[..3].copy_from_slice(&[12, 1, b'f']);
        let mut sname = [0u8; 64];
        sname[..3].copy_from_slice(&[15, 1, b's']);
        let mut scratch = [0u8; 64];
        for (value, f, s) in [
            (1u8, true, false),
            (2, false, true),
            (3, true, true),
            (4, false, false),
            (0, false, false),
        ] {
            let opts = [52, 1, value, 255];
            let p = parse(&opts, &file, &sname, &mut scratch);
            assert_eq!(p.get(12).is_some(), f, "value {value}");
            assert_eq!(p.get(15).is_some(), s, "value {value}");
        }
        // No 52: file/sname are never read.
        let p = parse(&[53, 1, 1], &file, &sname, &mut scratch);
        assert!(!p.contains(12) && !p.contains(15));
    }

    /// 52 inside `file` must not change which areas are read.
    #[test]
    fn overload_loop_ignored() {
        let opts = [52, 1, 1, 255];
        let mut file = [0u8; 128];
        file[..6].copy_from_slice(&[52, 1, 2, 12, 1, b'f']);
        let mut sname = [0u8; 64];
        sname[..3].copy_from_slice(&[15, 1, b's']);
        let mut scratch = [0u8; 64];
        let p = parse(&opts, &file, &sname, &mut scratch);
        assert_eq!(p.get(52), Some(&[1u8][..]));
        assert_eq!(p.get(12), Some(&b"f"[..]));
        assert!(!p.contains(15));
    }

    #[test]
    fn truncated_tlv_keeps_earlier_options() {
        let opts = [53, 1, 1, 61, 7, 1, 2, 3];
        let mut scratch = [0u8; 16];
        let p = parse(&opts, &[], &[], &mut scratch);
        assert_eq!(p.get(53), Some(&[1u8][..]));
        assert!(!p.contains(61));
        assert_eq!(p.stop(), Stop::Truncated { code: 61, len: 7 });

        assert_eq!(
            ParsedOptions::parse(&[53, 1, 1, 61], &[], &[], &mut scratch).unwrap_err(),
            ParseError::MissingLength { code: 61 }
        );
    }

    #[test]
    fn scratch_too_small() {
        let opts = [12, 4, b'a', b'b', b'c', b'd', 255];
        let mut scratch = [0u8; 3];
        assert_eq!(
            ParsedOptions::parse(&opts, &[], &[], &mut scratch).unwrap_err(),
            ParseError::ScratchTooSmall {
                needed: 4,
                given: 3
            }
        );
        let mut scratch = [0u8; 4];
        assert!(ParsedOptions::parse(&opts, &[], &[], &mut scratch).is_ok());
    }

    #[test]
    fn empty_parsed_options() {
        let p = ParsedOptions::empty();
        assert_eq!(p.get(53), None);
        assert_eq!(p.codes().count(), 0);
    }

    #[test]
    fn writer_basics_and_end() {
        let mut buf = [0xeeu8; 10];
        let mut w = OptionWriter::new(&mut buf);
        assert_eq!(w.remaining(), 9);
        w.write(53, &[2]).unwrap();
        w.write(80, &[]).unwrap();
        assert_eq!(w.remaining(), 4);
        // 3 + 2 = 5 > 4: refused, nothing written.
        assert_eq!(w.write(1, &[255, 255, 255]), Err(WriteError::NoRoom));
        w.write(46, &[1, 2]).unwrap();
        assert_eq!(w.remaining(), 0);
        assert_eq!(w.write(80, &[]), Err(WriteError::NoRoom));
        assert_eq!(w.write(0, &[]), Err(WriteError::ReservedCode(0)));
        assert_eq!(w.write(255, &[]), Err(WriteError::ReservedCode(255)));
        assert_eq!(w.finish(), Ok(10));
        assert_eq!(buf, [53, 1, 2, 80, 0, 46, 2, 1, 2, 255]);

        let mut empty: [u8; 0] = [];
        let mut w = OptionWriter::new(&mut empty);
        assert_eq!(w.write(1, &[]), Err(WriteError::NoRoom));
        assert_eq!(w.finish(), Err(WriteError::NoRoom));
        let mut one = [0u8; 1];
        assert_eq!(OptionWriter::new(&mut one).finish(), Ok(1));
        assert_eq!(one, [255]);
    }

    #[test]
    fn writer_split_exact_boundaries() {
        assert_eq!(encoded_len(0), 2);
        assert_eq!(encoded_len(255), 257);
        assert_eq!(encoded_len(256), 260);
        assert_eq!(encoded_len(510), 514);
        assert_eq!(encoded_len(511), 517);
        let value = [7u8; 510];
        let mut buf = [0u8; 515];
        let mut w = OptionWriter::new(&mut buf);
        w.write(43, &value).unwrap();
        assert_eq!(w.remaining(), 0);
        w.finish().unwrap();
        assert_eq!(&buf[..2], &[43, 255]);
        assert_eq!(&buf[257..259], &[43, 255]);
        assert_eq!(buf[514], 255);
        // One byte short: all or nothing.
        let mut buf = [0u8; 514];
        let mut w = OptionWriter::new(&mut buf);
        assert_eq!(w.write(43, &value), Err(WriteError::NoRoom));
        assert!(w.is_empty());
    }
}
