//! The fixed BOOTP header (RFC 951, RFC 2131 §2 Figure 1) and the DHCP magic cookie.
//!
//! ```text
//!  0       op  htype  hlen  hops
//!  4       xid (4)
//!  8       secs (2)  flags (2)
//! 12       ciaddr (4)
//! 16       yiaddr (4)
//! 20       siaddr (4)
//! 24       giaddr (4)
//! 28       chaddr (16)
//! 44       sname (64)
//! 108      file (128)
//! 236      magic cookie 63 82 53 63 (RFC 2131 §3)
//! 240      options (variable)
//! ```
//!
//! [`Packet`] is a view over borrowed bytes: getters for any `T: AsRef<[u8]>`, setters when
//! the bytes are also `AsMut<[u8]>`. [`Packet::new_checked`] is the gate for untrusted
//! input; see the panic contract in [`crate::wire`]. Every accessor here is written with
//! checked slicing, so even an unchecked view reads zeros instead of panicking.

use core::net::Ipv4Addr;

/// Byte ranges of the header fields (RFC 2131 §2, Figure 1).
mod field {
    /// A fixed byte range.
    pub type Field = core::ops::Range<usize>;
    /// From an offset to the end of the buffer.
    pub type Rest = core::ops::RangeFrom<usize>;

    pub const OP: usize = 0;
    pub const HTYPE: usize = 1;
    pub const HLEN: usize = 2;
    pub const HOPS: usize = 3;
    pub const XID: Field = 4..8;
    pub const SECS: Field = 8..10;
    pub const FLAGS: Field = 10..12;
    pub const CIADDR: Field = 12..16;
    pub const YIADDR: Field = 16..20;
    pub const SIADDR: Field = 20..24;
    pub const GIADDR: Field = 24..28;
    pub const CHADDR: Field = 28..44;
    pub const SNAME: Field = 44..108;
    pub const FILE: Field = 108..236;
    pub const MAGIC_COOKIE: Field = 236..240;
    pub const OPTIONS: Rest = 240..;
}

/// Length of the fixed BOOTP header, without the magic cookie (RFC 951).
pub const HEADER_LEN: usize = 236;
/// Length of the header plus the magic cookie: the smallest DHCP message (RFC 2131 §3).
pub const MIN_LEN: usize = 240;
/// The DHCP magic cookie, decimal 99.130.83.99 (RFC 2131 §3, RFC 1497).
pub const MAGIC_COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
/// Size of the `chaddr` field. Kea rejects `hlen` > 20, but only 16 bytes exist in the
/// field, so wren rejects `hlen` > 16: a longer value could not be honoured anyway.
pub const CHADDR_LEN: usize = 16;
/// Size of the `sname` field.
pub const SNAME_LEN: usize = 64;
/// Size of the `file` field.
pub const FILE_LEN: usize = 128;
/// `op` of a client → server message (BOOTREQUEST).
pub const OP_BOOTREQUEST: u8 = 1;
/// `op` of a server → client message (BOOTREPLY).
pub const OP_BOOTREPLY: u8 = 2;
/// The BROADCAST bit of `flags` (RFC 2131 §2, Figure 2: the leftmost bit).
pub const FLAG_BROADCAST: u16 = 0x8000;
/// `htype` of Ethernet (RFC 1700 "Hardware Type").
pub const HTYPE_ETHERNET: u8 = 1;

/// What is wrong with a BOOTP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Fewer than [`MIN_LEN`] bytes: the 236-byte header plus the 4-byte cookie are required.
    Truncated {
        /// How many bytes there were.
        len: usize,
    },
    /// Bytes 236..240 are not 63 82 53 63: not a DHCP message (plain BOOTP or garbage).
    BadMagicCookie([u8; 4]),
    /// `op` is neither 1 (BOOTREQUEST) nor 2 (BOOTREPLY).
    BadOp(u8),
    /// `hlen` is larger than the 16-byte `chaddr` field.
    HlenTooLong(u8),
    /// A value given to a setter is longer than its fixed field (`chaddr`, `sname`, `file`).
    FieldTooLong {
        /// Size of the field.
        field_len: usize,
        /// Length of the value offered.
        value_len: usize,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Truncated { len } => {
                write!(f, "BOOTP message truncated: {len} bytes, need {MIN_LEN}")
            }
            Error::BadMagicCookie(c) => write!(
                f,
                "bad DHCP magic cookie {:02x}{:02x}{:02x}{:02x}",
                c[0], c[1], c[2], c[3]
            ),
            Error::BadOp(op) => write!(f, "bad BOOTP op {op}"),
            Error::HlenTooLong(h) => write!(f, "hlen {h} exceeds the 16-byte chaddr"),
            Error::FieldTooLong {
                field_len,
                value_len,
            } => write!(
                f,
                "value of {value_len} bytes does not fit a {field_len}-byte field"
            ),
        }
    }
}

/// A typed view over the fixed BOOTP header, the magic cookie and the options area that
/// follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn byte_at(data: &[u8], index: usize) -> u8 {
    data.get(index).copied().unwrap_or(0)
}

fn array_at<const N: usize>(data: &[u8], range: field::Field) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = data.get(range) {
        if src.len() == N {
            out.copy_from_slice(src);
        }
    }
    out
}

fn write_bytes(data: &mut [u8], range: field::Field, value: &[u8]) {
    if let Some(dst) = data.get_mut(range) {
        if dst.len() == value.len() {
            dst.copy_from_slice(value);
        }
    }
}

/// Copy `value` into the field and zero the rest of it; the value must fit.
fn write_padded(data: &mut [u8], range: field::Field, value: &[u8]) -> Result<(), Error> {
    let field_len = range.len();
    if value.len() > field_len {
        return Err(Error::FieldTooLong {
            field_len,
            value_len: value.len(),
        });
    }
    if let Some(dst) = data.get_mut(range) {
        dst.fill(0);
        if let Some(head) = dst.get_mut(..value.len()) {
            head.copy_from_slice(value);
        }
    }
    Ok(())
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap bytes without checking them. Use only on buffers you are building.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap untrusted bytes after [`Packet::check`] accepted them.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        let packet = Packet::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    /// Validate, in the order a reader would stumble: length (RFC 2131 §3: 236-byte header
    /// then the 4-byte cookie), cookie, `op`, `hlen`.
    pub fn check(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        if data.len() < MIN_LEN {
            return Err(Error::Truncated { len: data.len() });
        }
        let cookie = self.magic_cookie();
        if cookie != MAGIC_COOKIE {
            return Err(Error::BadMagicCookie(cookie));
        }
        let op = self.op();
        if op != OP_BOOTREQUEST && op != OP_BOOTREPLY {
            return Err(Error::BadOp(op));
        }
        let hlen = self.hlen();
        if usize::from(hlen) > CHADDR_LEN {
            return Err(Error::HlenTooLong(hlen));
        }
        Ok(())
    }

    /// The underlying bytes.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// `op`: 1 = BOOTREQUEST, 2 = BOOTREPLY.
    pub fn op(&self) -> u8 {
        byte_at(self.buffer.as_ref(), field::OP)
    }

    /// `htype`: hardware address type (1 = Ethernet).
    pub fn htype(&self) -> u8 {
        byte_at(self.buffer.as_ref(), field::HTYPE)
    }

    /// `hlen`: hardware address length.
    pub fn hlen(&self) -> u8 {
        byte_at(self.buffer.as_ref(), field::HLEN)
    }

    /// `hops`: incremented by relay agents.
    pub fn hops(&self) -> u8 {
        byte_at(self.buffer.as_ref(), field::HOPS)
    }

    /// `xid`: transaction id chosen by the client.
    pub fn xid(&self) -> u32 {
        u32::from_be_bytes(array_at(self.buffer.as_ref(), field::XID))
    }

    /// `secs`: seconds since the client began acquisition.
    pub fn secs(&self) -> u16 {
        u16::from_be_bytes(array_at(self.buffer.as_ref(), field::SECS))
    }

    /// `flags`, the whole 16-bit field.
    pub fn flags(&self) -> u16 {
        u16::from_be_bytes(array_at(self.buffer.as_ref(), field::FLAGS))
    }

    /// The BROADCAST bit of `flags` (RFC 2131 §4.1: the client cannot receive unicast
    /// before it has an address).
    pub fn broadcast(&self) -> bool {
        self.flags() & FLAG_BROADCAST != 0
    }

    /// `ciaddr`: the client's address, when it has one (BOUND/RENEW/REBIND).
    pub fn ciaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array_at::<4>(self.buffer.as_ref(), field::CIADDR))
    }

    /// `yiaddr`: "your" address, set by the server.
    pub fn yiaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array_at::<4>(self.buffer.as_ref(), field::YIADDR))
    }

    /// `siaddr`: next server (TFTP) address.
    pub fn siaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array_at::<4>(self.buffer.as_ref(), field::SIADDR))
    }

    /// `giaddr`: relay agent address; 0 when the client is directly attached.
    pub fn giaddr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array_at::<4>(self.buffer.as_ref(), field::GIADDR))
    }

    /// The 4 bytes after the header; [`MAGIC_COOKIE`] in a DHCP message.
    pub fn magic_cookie(&self) -> [u8; 4] {
        array_at(self.buffer.as_ref(), field::MAGIC_COOKIE)
    }

    /// The whole 16-byte `chaddr` field, padding included.
    pub fn chaddr_field(&self) -> [u8; CHADDR_LEN] {
        array_at(self.buffer.as_ref(), field::CHADDR)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// `chaddr`: the first `hlen` bytes of the client hardware address field (at most 16).
    pub fn chaddr(&self) -> &'a [u8] {
        let hlen = usize::from(self.hlen()).min(CHADDR_LEN);
        let start = field::CHADDR.start;
        self.buffer.as_ref().get(start..start + hlen).unwrap_or(&[])
    }

    /// `sname`: the 64-byte server host name field, as stored (NUL padding included).
    /// Holds options instead when option 52 says so.
    pub fn sname(&self) -> &'a [u8] {
        self.buffer.as_ref().get(field::SNAME).unwrap_or(&[])
    }

    /// `file`: the 128-byte boot file name field, as stored (NUL padding included).
    /// Holds options instead when option 52 says so.
    pub fn file(&self) -> &'a [u8] {
        self.buffer.as_ref().get(field::FILE).unwrap_or(&[])
    }

    /// The options area: everything after the magic cookie (up to the end of the buffer).
    pub fn options(&self) -> &'a [u8] {
        self.buffer.as_ref().get(field::OPTIONS).unwrap_or(&[])
    }

    /// The whole message bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buffer.as_ref()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set `op`.
    pub fn set_op(&mut self, value: u8) {
        write_bytes(self.buffer.as_mut(), field::OP..field::OP + 1, &[value]);
    }

    /// Set `htype`.
    pub fn set_htype(&mut self, value: u8) {
        write_bytes(
            self.buffer.as_mut(),
            field::HTYPE..field::HTYPE + 1,
            &[value],
        );
    }

    /// Set `hlen`. Keep it ≤ 16 or [`Packet::check`] will refuse the result.
    pub fn set_hlen(&mut self, value: u8) {
        write_bytes(self.buffer.as_mut(), field::HLEN..field::HLEN + 1, &[value]);
    }

    /// Set `hops`.
    pub fn set_hops(&mut self, value: u8) {
        write_bytes(self.buffer.as_mut(), field::HOPS..field::HOPS + 1, &[value]);
    }

    /// Set `xid`.
    pub fn set_xid(&mut self, value: u32) {
        write_bytes(self.buffer.as_mut(), field::XID, &value.to_be_bytes());
    }

    /// Set `secs`.
    pub fn set_secs(&mut self, value: u16) {
        write_bytes(self.buffer.as_mut(), field::SECS, &value.to_be_bytes());
    }

    /// Set the whole `flags` field.
    pub fn set_flags(&mut self, value: u16) {
        write_bytes(self.buffer.as_mut(), field::FLAGS, &value.to_be_bytes());
    }

    /// Set or clear the BROADCAST bit, leaving the other (reserved) bits alone.
    pub fn set_broadcast(&mut self, on: bool) {
        let flags = self.flags();
        self.set_flags(if on {
            flags | FLAG_BROADCAST
        } else {
            flags & !FLAG_BROADCAST
        });
    }

    /// Set `ciaddr`.
    pub fn set_ciaddr(&mut self, value: Ipv4Addr) {
        write_bytes(self.buffer.as_mut(), field::CIADDR, &value.octets());
    }

    /// Set `yiaddr`.
    pub fn set_yiaddr(&mut self, value: Ipv4Addr) {
        write_bytes(self.buffer.as_mut(), field::YIADDR, &value.octets());
    }

    /// Set `siaddr`.
    pub fn set_siaddr(&mut self, value: Ipv4Addr) {
        write_bytes(self.buffer.as_mut(), field::SIADDR, &value.octets());
    }

    /// Set `giaddr`.
    pub fn set_giaddr(&mut self, value: Ipv4Addr) {
        write_bytes(self.buffer.as_mut(), field::GIADDR, &value.octets());
    }

    /// Write the magic cookie.
    pub fn set_magic_cookie(&mut self) {
        write_bytes(self.buffer.as_mut(), field::MAGIC_COOKIE, &MAGIC_COOKIE);
    }

    /// Set `chaddr` (zero-padded to 16 bytes). Does not touch `hlen`.
    pub fn set_chaddr(&mut self, value: &[u8]) -> Result<(), Error> {
        write_padded(self.buffer.as_mut(), field::CHADDR, value)
    }

    /// Set `sname` (zero-padded to 64 bytes; RFC 2131 §2: "null terminated string", so a
    /// 64-byte value leaves no terminator — accepted, as Kea does).
    pub fn set_sname(&mut self, value: &[u8]) -> Result<(), Error> {
        write_padded(self.buffer.as_mut(), field::SNAME, value)
    }

    /// Set `file` (zero-padded to 128 bytes).
    pub fn set_file(&mut self, value: &[u8]) -> Result<(), Error> {
        write_padded(self.buffer.as_mut(), field::FILE, value)
    }

    /// Zero the first [`MIN_LEN`] bytes (header and cookie) of the buffer.
    pub fn clear_header(&mut self) {
        let data = self.buffer.as_mut();
        let end = data.len().min(MIN_LEN);
        if let Some(head) = data.get_mut(..end) {
            head.fill(0);
        }
    }

    /// The options area, writable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::OPTIONS)
            .unwrap_or(&mut [])
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A DHCPDISCOVER as ISC dhclient 4.4 sends it (built from RFC 2131 layout and dhclient's
    /// option order): chaddr 02:00:00:00:00:01, xid 0x3903f326, options 53, 55, then END.
    pub(crate) fn discover_bytes() -> [u8; 300] {
        let mut b = [0u8; 300];
        b[0] = 1; // op
        b[1] = 1; // htype
        b[2] = 6; // hlen
        b[4..8].copy_from_slice(&[0x39, 0x03, 0xf3, 0x26]);
        b[8..10].copy_from_slice(&[0x00, 0x03]); // secs 3
        b[28..34].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
        b[236..240].copy_from_slice(&MAGIC_COOKIE);
        let opts = [
            53, 1, 1, // DISCOVER
            55, 13, 1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42, // PRL
            255,
        ];
        b[240..240 + opts.len()].copy_from_slice(&opts);
        b
    }

    #[test]
    fn deconstruct_discover() {
        let bytes = discover_bytes();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.op(), OP_BOOTREQUEST);
        assert_eq!(p.htype(), HTYPE_ETHERNET);
        assert_eq!(p.hlen(), 6);
        assert_eq!(p.hops(), 0);
        assert_eq!(p.xid(), 0x3903_f326);
        assert_eq!(p.secs(), 3);
        assert_eq!(p.flags(), 0);
        assert!(!p.broadcast());
        assert_eq!(p.ciaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(p.giaddr(), Ipv4Addr::UNSPECIFIED);
        assert_eq!(p.chaddr(), &[0x02, 0, 0, 0, 0, 0x01]);
        assert_eq!(p.sname().len(), 64);
        assert_eq!(p.file().len(), 128);
        assert_eq!(p.options().len(), 60);
        assert_eq!(&p.options()[..3], &[53, 1, 1]);
    }

    #[test]
    fn construct_matches_bytes() {
        let golden = discover_bytes();
        let mut buf = [0xaau8; 300];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.clear_header();
        p.set_op(1);
        p.set_htype(1);
        p.set_hlen(6);
        p.set_xid(0x3903_f326);
        p.set_secs(3);
        p.set_chaddr(&[0x02, 0, 0, 0, 0, 0x01]).unwrap();
        p.set_magic_cookie();
        p.options_mut().fill(0);
        p.options_mut()[..golden.len() - 240].copy_from_slice(&golden[240..]);
        assert_eq!(&buf[..], &golden[..]);
    }

    #[test]
    fn setters_round_trip() {
        let mut buf = [0u8; 240];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_op(2);
        p.set_hops(3);
        p.set_flags(0x0001);
        p.set_broadcast(true);
        p.set_ciaddr(Ipv4Addr::new(198, 18, 0, 1));
        p.set_yiaddr(Ipv4Addr::new(198, 18, 0, 2));
        p.set_siaddr(Ipv4Addr::new(198, 18, 0, 3));
        p.set_giaddr(Ipv4Addr::new(198, 18, 0, 4));
        p.set_sname(b"tftp").unwrap();
        p.set_file(b"pxelinux.0").unwrap();
        p.set_magic_cookie();
        assert_eq!(buf[10..12], [0x80, 0x01]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.broadcast());
        assert_eq!(p.flags(), 0x8001);
        assert_eq!(p.hops(), 3);
        assert_eq!(p.ciaddr(), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(p.yiaddr(), Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(p.siaddr(), Ipv4Addr::new(198, 18, 0, 3));
        assert_eq!(p.giaddr(), Ipv4Addr::new(198, 18, 0, 4));
        assert_eq!(&p.sname()[..5], b"tftp\0");
        assert_eq!(&p.file()[..11], b"pxelinux.0\0");
        assert_eq!(p.options(), &[] as &[u8]);
        let mut buf2 = buf;
        let mut p2 = Packet::new_unchecked(&mut buf2[..]);
        p2.set_broadcast(false);
        assert_eq!(p2.flags(), 0x0001);
    }

    #[test]
    fn field_too_long() {
        let mut buf = [0u8; 240];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        assert_eq!(
            p.set_chaddr(&[1; 17]),
            Err(Error::FieldTooLong {
                field_len: 16,
                value_len: 17
            })
        );
        assert!(p.set_sname(&[b'a'; 64]).is_ok());
        assert!(p.set_sname(&[b'a'; 65]).is_err());
        assert!(p.set_file(&[b'a'; 129]).is_err());
    }

    #[test]
    fn check_errors() {
        let good = discover_bytes();
        assert_eq!(
            Packet::new_checked(&good[..239]).unwrap_err(),
            Error::Truncated { len: 239 }
        );
        assert_eq!(
            Packet::new_checked(&good[..0]).unwrap_err(),
            Error::Truncated { len: 0 }
        );
        // Exactly 240 bytes (no options at all) is a well-formed header.
        assert!(Packet::new_checked(&good[..240]).is_ok());

        let mut b = good;
        b[239] = 0x64;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            Error::BadMagicCookie([0x63, 0x82, 0x53, 0x64])
        );
        let mut b = good;
        b[0] = 3;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::BadOp(3));
        let mut b = good;
        b[0] = 0;
        assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::BadOp(0));
        let mut b = good;
        b[2] = 17;
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            Error::HlenTooLong(17)
        );
        b[2] = 16;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.chaddr().len(), 16);
        b[2] = 0;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.chaddr().is_empty());
    }

    #[test]
    fn unchecked_short_view_reads_zeros() {
        let bytes = [1u8, 1, 6];
        let p = Packet::new_unchecked(&bytes[..]);
        assert_eq!(p.op(), 1);
        assert_eq!(p.hops(), 0);
        assert_eq!(p.xid(), 0);
        assert_eq!(p.chaddr(), &[] as &[u8]);
        assert_eq!(p.options(), &[] as &[u8]);
        assert_eq!(p.giaddr(), Ipv4Addr::UNSPECIFIED);
    }
}
