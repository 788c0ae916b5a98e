//! Walking a FreeBSD BPF read buffer (freebsd.md §1.3). Pure, so it is tested on any host.
//!
//! One `read(2)` returns the kernel's whole hold buffer: several records, each a
//! `struct bpf_hdr` followed by the captured frame, every record starting on a
//! `BPF_WORDALIGN` boundary. The header length is taken from `bh_hdrlen` (26 for Ethernet on
//! LP64, *not* `sizeof(struct bpf_hdr)` = 32: the kernel pads so that the IP header lands
//! 8-aligned, and frame bytes overwrite the header's tail).

/// Offsets in `struct bpf_hdr` on LP64 targets (amd64, arm64): a 16-byte timestamp, then
/// `bh_caplen` (u32), `bh_datalen` (u32), `bh_hdrlen` (u16), in host byte order.
mod field {
    pub const CAPLEN: usize = 16;
    pub const DATALEN: usize = 20;
    pub const HDRLEN: usize = 24;
    /// The bytes a record must have before its header can be read.
    pub const MINIMUM_HEADER: usize = 26;
}

/// `BPF_ALIGNMENT`: `sizeof(long)` (8 on amd64 and arm64).
pub const BPF_ALIGNMENT: usize = core::mem::size_of::<core::ffi::c_long>();

/// `BPF_WORDALIGN(x)`: round up to [`BPF_ALIGNMENT`].
pub const fn word_align(x: usize) -> usize {
    (x + (BPF_ALIGNMENT - 1)) & !(BPF_ALIGNMENT - 1)
}

/// One record of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A whole captured frame.
    Frame(&'a [u8]),
    /// A frame the kernel cut short (`bh_caplen` ≠ `bh_datalen`): dropped, counted.
    Truncated,
}

/// Iterator over the records of one read. Stops at the first record whose header or data
/// does not fit in the bytes read, or whose `bh_hdrlen` is smaller than the header itself
/// (a corrupt buffer: nothing after it can be trusted).
#[derive(Clone, Debug)]
pub struct Records<'a> {
    buffer: &'a [u8],
    offset: usize,
}

impl<'a> Records<'a> {
    /// Walks `buffer`, which must hold exactly the bytes `read(2)` returned.
    pub fn new(buffer: &'a [u8]) -> Records<'a> {
        Records { buffer, offset: 0 }
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([*b.first()?, *b.get(1)?]))
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        let header = self
            .buffer
            .get(self.offset..self.offset.checked_add(field::MINIMUM_HEADER)?)?;
        let caplen = read_u32(header, field::CAPLEN)? as usize;
        let datalen = read_u32(header, field::DATALEN)? as usize;
        let hdrlen = usize::from(read_u16(header, field::HDRLEN)?);
        if hdrlen < field::MINIMUM_HEADER {
            self.offset = self.buffer.len();
            return None;
        }
        let start = self.offset.checked_add(hdrlen)?;
        let end = start.checked_add(caplen)?;
        let Some(frame) = self.buffer.get(start..end) else {
            self.offset = self.buffer.len();
            return None;
        };
        self.offset = word_align(end);
        Some(if caplen == datalen {
            Record::Frame(frame)
        } else {
            Record::Truncated
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends one record as the FreeBSD kernel lays it out (header 26, padded to 8).
    fn push_record(buf: &mut Vec<u8>, frame: &[u8], datalen: usize) {
        while !buf.len().is_multiple_of(8) {
            buf.push(0xee);
        }
        let mut header = [0u8; 26];
        header[..16].copy_from_slice(&[0x11; 16]); // timestamp, ignored
        header[16..20].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        header[20..24].copy_from_slice(&(datalen as u32).to_ne_bytes());
        header[24..26].copy_from_slice(&26u16.to_ne_bytes());
        buf.extend_from_slice(&header);
        buf.extend_from_slice(frame);
    }

    #[test]
    fn alignment() {
        assert_eq!(word_align(0), 0);
        assert_eq!(word_align(1), BPF_ALIGNMENT);
        assert_eq!(word_align(26 + 342), 368);
    }

    #[test]
    fn walks_several_records() {
        let a: Vec<u8> = (0..342u16).map(|i| i as u8).collect();
        let b: Vec<u8> = vec![0xab; 60];
        let c: Vec<u8> = vec![0xcd; 590];
        let mut buf = Vec::new();
        push_record(&mut buf, &a, a.len());
        push_record(&mut buf, &b, b.len());
        push_record(&mut buf, &c, c.len());
        let records: Vec<Record<'_>> = Records::new(&buf).collect();
        assert_eq!(
            records,
            vec![Record::Frame(&a), Record::Frame(&b), Record::Frame(&c)]
        );
        // The second record starts 8-aligned after the first.
        assert_eq!(buf[368 + 16..368 + 20], 60u32.to_ne_bytes());
    }

    #[test]
    fn truncated_capture_is_skipped_not_fatal() {
        let mut buf = Vec::new();
        push_record(&mut buf, &[1; 100], 1500);
        push_record(&mut buf, &[2; 64], 64);
        let records: Vec<Record<'_>> = Records::new(&buf).collect();
        assert_eq!(records, vec![Record::Truncated, Record::Frame(&[2; 64])]);
    }

    #[test]
    fn stops_at_a_record_that_overruns_the_read() {
        let mut buf = Vec::new();
        push_record(&mut buf, &[3; 80], 80);
        push_record(&mut buf, &[4; 80], 80);
        let cut = buf.len() - 1;
        let records: Vec<Record<'_>> = Records::new(&buf[..cut]).collect();
        assert_eq!(records, vec![Record::Frame(&[3; 80])]);
    }

    #[test]
    fn short_tail_and_empty_buffer() {
        assert_eq!(Records::new(&[]).count(), 0);
        assert_eq!(Records::new(&[0u8; 25]).count(), 0);
        // A zero header (hdrlen 0) is corrupt: stop instead of looping.
        assert_eq!(Records::new(&[0u8; 64]).count(), 0);
    }

    #[test]
    fn huge_caplen_does_not_overflow() {
        let mut buf = vec![0u8; 32];
        buf[16..20].copy_from_slice(&u32::MAX.to_ne_bytes());
        buf[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
        buf[24..26].copy_from_slice(&26u16.to_ne_bytes());
        assert_eq!(Records::new(&buf).count(), 0);
    }
}
