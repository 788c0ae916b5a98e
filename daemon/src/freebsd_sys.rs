//! The FreeBSD kernel ABI wrend relies on that the libc crate (0.2.191) lacks or types
//! awkwardly, in one place, with compile-time checks (freebsd.md §1.2, §1.3, §2, §7).
//!
//! Why compile-time: nobody on the team has a FreeBSD host, so a wrong ioctl number or a
//! struct layout that differs between amd64 and arm64 must fail `cargo check
//! --target x86_64-unknown-freebsd` / `aarch64-unknown-freebsd` (scripts/freebsd-checks.sh),
//! not a Raspberry Pi at 3 a.m. Every number below is computed from the `<sys/ioccom.h>`
//! encoding and compared with the literal value from the FreeBSD 14 headers; on FreeBSD
//! targets the sizes and offsets are also compared with libc's own structs and constants.
//!
//! The numeric part compiles on every host (the encoding is arithmetic), so the same
//! assertions also run in the Linux build; the libc comparisons exist only for FreeBSD.
//!
//! `link/bpf.rs` and `sandbox.rs` take every BPF ioctl number and constant from here; no
//! other file defines one.

// ---------------------------------------------------------------------------------------
// ioctl encoding (<sys/ioccom.h>)
// ---------------------------------------------------------------------------------------

/// `IOC_VOID`: no parameters.
pub const IOC_VOID: u32 = 0x2000_0000;
/// `IOC_OUT`: copy the parameter out of the kernel.
pub const IOC_OUT: u32 = 0x4000_0000;
/// `IOC_IN`: copy the parameter into the kernel.
pub const IOC_IN: u32 = 0x8000_0000;
/// `IOC_INOUT`.
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;
/// `IOCPARM_MASK`: the parameter length field is 13 bits.
pub const IOCPARM_MASK: u32 = 0x1fff;

/// `_IOC(inout, group, num, len)`. Returns `u64` (FreeBSD's `u_long` on LP64); callers
/// cast to `libc::c_ulong`, which the FreeBSD `ioctl` binding takes.
pub const fn ioc(inout: u32, group: u8, num: u8, len: usize) -> u64 {
    (inout | (((len as u32) & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32) as u64
}

/// Sizes of the ioctl arguments on LP64 FreeBSD (amd64 and arm64), checked against libc's
/// structs below on FreeBSD targets.
pub mod size {
    /// `u_int`.
    pub const U_INT: usize = 4;
    /// `struct bpf_program`: `u_int bf_len` + padding + pointer.
    pub const BPF_PROGRAM: usize = 16;
    /// `struct bpf_insn`: u16 code, u8 jt, u8 jf, u32 k.
    pub const BPF_INSN: usize = 8;
    /// `struct ifreq`: 16-byte name + 16-byte union.
    pub const IFREQ: usize = 32;
    /// `struct bpf_version`: two u16.
    pub const BPF_VERSION: usize = 4;
    /// `struct bpf_stat`: two u_int.
    pub const BPF_STAT: usize = 8;
    /// `struct bpf_hdr`: 16-byte timeval, caplen, datalen, hdrlen, padding.
    pub const BPF_HDR: usize = 32;
}

const B: u8 = b'B';

/// `BIOCGBLEN`.
pub const BIOCGBLEN: u64 = ioc(IOC_OUT, B, 102, size::U_INT);
/// `BIOCSBLEN` (in/out: the kernel writes back the clamped size).
pub const BIOCSBLEN: u64 = ioc(IOC_INOUT, B, 102, size::U_INT);
/// `BIOCSETF`: the read filter.
pub const BIOCSETF: u64 = ioc(IOC_IN, B, 103, size::BPF_PROGRAM);
/// `BIOCFLUSH` (libc types it `c_uint`).
pub const BIOCFLUSH: u64 = ioc(IOC_VOID, B, 104, 0);
/// `BIOCPROMISC` (never used: freebsd.md §1.1).
pub const BIOCPROMISC: u64 = ioc(IOC_VOID, B, 105, 0);
/// `BIOCGDLT`.
pub const BIOCGDLT: u64 = ioc(IOC_OUT, B, 106, size::U_INT);
/// `BIOCSETIF`.
pub const BIOCSETIF: u64 = ioc(IOC_IN, B, 108, size::IFREQ);
/// `BIOCGSTATS`: the only ioctl the sandbox leaves on a BPF descriptor.
pub const BIOCGSTATS: u64 = ioc(IOC_OUT, B, 111, size::BPF_STAT);
/// `BIOCIMMEDIATE`.
pub const BIOCIMMEDIATE: u64 = ioc(IOC_IN, B, 112, size::U_INT);
/// `BIOCVERSION`.
pub const BIOCVERSION: u64 = ioc(IOC_OUT, B, 113, size::BPF_VERSION);
/// `BIOCSHDRCMPLT`.
pub const BIOCSHDRCMPLT: u64 = ioc(IOC_IN, B, 117, size::U_INT);
/// `BIOCSDIRECTION` (missing from libc; `BIOCSSEESENT` is the obsolete alias, same number).
pub const BIOCSDIRECTION: u64 = ioc(IOC_IN, B, 119, size::U_INT);
/// `BIOCLOCK` (missing from libc).
pub const BIOCLOCK: u64 = ioc(IOC_VOID, B, 122, 0);
/// `BIOCSETWF`: the write filter (missing from libc).
pub const BIOCSETWF: u64 = ioc(IOC_IN, B, 123, size::BPF_PROGRAM);
/// `BIOCFEEDBACK` (missing from libc).
pub const BIOCFEEDBACK: u64 = ioc(IOC_IN, B, 124, size::U_INT);
/// `BIOCSETFNR`.
pub const BIOCSETFNR: u64 = ioc(IOC_IN, B, 130, size::BPF_PROGRAM);
/// `BIOCSTSTAMP` (missing from libc).
pub const BIOCSTSTAMP: u64 = ioc(IOC_IN, B, 132, size::U_INT);

// The literal values of freebsd.md §1.2 (FreeBSD 14 <net/bpf.h>, identical on amd64/arm64).
const _: () = {
    assert!(BIOCGBLEN == 0x4004_4266);
    assert!(BIOCSBLEN == 0xc004_4266);
    assert!(BIOCSETF == 0x8010_4267);
    assert!(BIOCFLUSH == 0x2000_4268);
    assert!(BIOCPROMISC == 0x2000_4269);
    assert!(BIOCGDLT == 0x4004_426a);
    assert!(BIOCSETIF == 0x8020_426c);
    assert!(BIOCGSTATS == 0x4008_426f);
    assert!(BIOCIMMEDIATE == 0x8004_4270);
    assert!(BIOCVERSION == 0x4004_4271);
    assert!(BIOCSHDRCMPLT == 0x8004_4275);
    assert!(BIOCSDIRECTION == 0x8004_4277);
    assert!(BIOCLOCK == 0x2000_427a);
    assert!(BIOCSETWF == 0x8010_427b);
    assert!(BIOCFEEDBACK == 0x8004_427c);
    assert!(BIOCSETFNR == 0x8010_4282);
    assert!(BIOCSTSTAMP == 0x8004_4284);
};

// ---------------------------------------------------------------------------------------
// BPF constants (<net/bpf.h>, <net/dlt.h>)
// ---------------------------------------------------------------------------------------

/// `DLT_NULL`: loopback (`lo0`), refused.
pub const DLT_NULL: u32 = 0;
/// `DLT_EN10MB`: Ethernet, the only link type wrend serves.
pub const DLT_EN10MB: u32 = 1;
/// `BPF_D_IN`: see only incoming packets (so our own relay replies never wake us).
pub const BPF_D_IN: u32 = 0;
/// `BPF_D_INOUT`: the default.
pub const BPF_D_INOUT: u32 = 1;
/// `BPF_D_OUT`.
pub const BPF_D_OUT: u32 = 2;
/// `BPF_T_NONE`: no timestamps.
pub const BPF_T_NONE: u32 = 3;
/// `BPF_ALIGNMENT`: `sizeof(long)`.
pub const BPF_ALIGNMENT: usize = 8;
/// Ethernet header length.
pub const ETHER_HDR_LEN: usize = 14;
/// `SIZEOF_BPF_HDR`: the bytes of `struct bpf_hdr` before its tail padding.
pub const SIZEOF_BPF_HDR: usize = 26;
/// The `bh_hdrlen` the kernel stores for Ethernet:
/// `BPF_WORDALIGN(hdrlen + SIZEOF_BPF_HDR) - hdrlen` (bpf.c `bpf_attachd`).
pub const ETHERNET_BH_HDRLEN: usize = word_align(ETHER_HDR_LEN + SIZEOF_BPF_HDR) - ETHER_HDR_LEN;

/// `BPF_WORDALIGN(x)`.
pub const fn word_align(x: usize) -> usize {
    (x + (BPF_ALIGNMENT - 1)) & !(BPF_ALIGNMENT - 1)
}

/// Offsets in `struct bpf_hdr` (LP64).
pub mod bpf_hdr {
    /// `bh_caplen`.
    pub const CAPLEN: usize = 16;
    /// `bh_datalen`.
    pub const DATALEN: usize = 20;
    /// `bh_hdrlen`.
    pub const HDRLEN: usize = 24;
}

const _: () = {
    // freebsd.md §1.3: Ethernet records carry a 26-byte header, so the IP header is 8-aligned.
    assert!(ETHERNET_BH_HDRLEN == 26);
    assert!(word_align(ETHERNET_BH_HDRLEN + ETHER_HDR_LEN) == ETHERNET_BH_HDRLEN + ETHER_HDR_LEN);
    // The walker in link/bpf_records.rs uses the same alignment.
    assert!(crate::link::bpf_records::word_align(1) == BPF_ALIGNMENT);
    assert!(crate::link::bpf_records::word_align(ETHER_HDR_LEN + SIZEOF_BPF_HDR) == 40);
};

// ---------------------------------------------------------------------------------------
// Capsicum (<sys/capsicum.h>, <errno.h>)
// ---------------------------------------------------------------------------------------

/// `ENOTCAPABLE`: the descriptor lacks a right.
pub const ENOTCAPABLE: i32 = 93;
/// `ECAPMODE`: not permitted in capability mode.
pub const ECAPMODE: i32 = 94;

// ---------------------------------------------------------------------------------------
// FreeBSD-only checks against libc
// ---------------------------------------------------------------------------------------

// The casts are the point: libc types some of these c_uint, some c_ulong, some usize.
#[cfg(target_os = "freebsd")]
#[allow(clippy::unnecessary_cast)]
const _: () = {
    use core::mem::{offset_of, size_of};

    // Struct sizes the ioctl numbers encode.
    assert!(size_of::<libc::c_uint>() == size::U_INT);
    assert!(size_of::<libc::bpf_program>() == size::BPF_PROGRAM);
    assert!(size_of::<libc::bpf_insn>() == size::BPF_INSN);
    assert!(size_of::<libc::ifreq>() == size::IFREQ);
    assert!(size_of::<libc::bpf_version>() == size::BPF_VERSION);
    assert!(size_of::<libc::bpf_stat>() == size::BPF_STAT);
    assert!(size_of::<libc::bpf_hdr>() == size::BPF_HDR);
    assert!(size_of::<libc::c_long>() == BPF_ALIGNMENT);
    assert!(libc::BPF_ALIGNMENT as usize == BPF_ALIGNMENT);

    // The record walk reads these offsets by hand.
    assert!(offset_of!(libc::bpf_hdr, bh_caplen) == bpf_hdr::CAPLEN);
    assert!(offset_of!(libc::bpf_hdr, bh_datalen) == bpf_hdr::DATALEN);
    assert!(offset_of!(libc::bpf_hdr, bh_hdrlen) == bpf_hdr::HDRLEN);

    // libc's own ioctl values agree with the encoding (some are typed c_uint there).
    assert!(libc::BIOCGBLEN as u64 == BIOCGBLEN);
    assert!(libc::BIOCSBLEN as u64 == BIOCSBLEN);
    assert!(libc::BIOCSETF as u64 == BIOCSETF);
    assert!(libc::BIOCFLUSH as u64 == BIOCFLUSH);
    assert!(libc::BIOCPROMISC as u64 == BIOCPROMISC);
    assert!(libc::BIOCGDLT as u64 == BIOCGDLT);
    assert!(libc::BIOCSETIF as u64 == BIOCSETIF);
    assert!(libc::BIOCGSTATS as u64 == BIOCGSTATS);
    assert!(libc::BIOCIMMEDIATE as u64 == BIOCIMMEDIATE);
    assert!(libc::BIOCVERSION as u64 == BIOCVERSION);
    assert!(libc::BIOCSHDRCMPLT as u64 == BIOCSHDRCMPLT);
    assert!(libc::BIOCSSEESENT as u64 == BIOCSDIRECTION);
    assert!(libc::BIOCSETFNR as u64 == BIOCSETFNR);
    assert!(size_of::<libc::c_ulong>() == size_of::<u64>());

    // Capsicum.
    assert!(libc::CAP_RIGHTS_VERSION == 0);
    assert!(libc::ECAPMODE == ECAPMODE);
    assert!(libc::ENOTCAPABLE == ENOTCAPABLE);
    assert!(size_of::<libc::cap_rights_t>() == 16);

    // PF_ROUTE messages, parsed by hand in crate::link::route_events.
    use crate::link::route_events::layout;
    assert!(libc::RTM_VERSION == layout::RTM_VERSION as libc::c_int);
    assert!(libc::RTM_NEWADDR == layout::RTM_NEWADDR as libc::c_int);
    assert!(libc::RTM_DELADDR == layout::RTM_DELADDR as libc::c_int);
    assert!(libc::RTM_IFINFO == layout::RTM_IFINFO as libc::c_int);
    assert!(libc::RTM_IFANNOUNCE == layout::RTM_IFANNOUNCE as libc::c_int);
    assert!(libc::RTA_NETMASK == layout::RTA_NETMASK);
    assert!(libc::RTA_IFA == layout::RTA_IFA);
    assert!(libc::RTA_BRD == layout::RTA_BRD);
    assert!(libc::IFAN_ARRIVAL == layout::IFAN_ARRIVAL as libc::c_int);
    assert!(libc::IFAN_DEPARTURE == layout::IFAN_DEPARTURE as libc::c_int);
    assert!(libc::AF_INET == layout::AF_INET as libc::c_int);
    assert!(libc::IFF_UP == layout::IFF_UP);
    assert!(libc::IFF_RUNNING == layout::IFF_RUNNING);
    assert!(libc::LINK_STATE_UP == layout::LINK_STATE_UP as libc::c_int);
    assert!(libc::LINK_STATE_DOWN == layout::LINK_STATE_DOWN as libc::c_int);
    assert!(offset_of!(libc::if_msghdr, ifm_msglen) == layout::MSGLEN);
    assert!(offset_of!(libc::if_msghdr, ifm_version) == layout::VERSION);
    assert!(offset_of!(libc::if_msghdr, ifm_type) == layout::TYPE);
    assert!(offset_of!(libc::if_msghdr, ifm_addrs) == layout::ADDRS);
    assert!(offset_of!(libc::if_msghdr, ifm_flags) == layout::FLAGS);
    assert!(offset_of!(libc::if_msghdr, ifm_index) == layout::INDEX);
    assert!(offset_of!(libc::if_msghdr, ifm_data) == layout::IF_DATA);
    assert!(offset_of!(libc::if_data, ifi_link_state) == layout::IFI_LINK_STATE);
    assert!(size_of::<libc::if_msghdr>() >= layout::IF_MSGHDR_MIN);
    assert!(offset_of!(libc::ifa_msghdr, ifam_addrs) == layout::ADDRS);
    assert!(offset_of!(libc::ifa_msghdr, ifam_index) == layout::INDEX);
    assert!(size_of::<libc::ifa_msghdr>() == layout::IFA_MSGHDR_LEN);
    assert!(offset_of!(libc::if_announcemsghdr, ifan_index) == layout::IFAN_INDEX);
    assert!(offset_of!(libc::if_announcemsghdr, ifan_name) == layout::IFAN_NAME);
    assert!(offset_of!(libc::if_announcemsghdr, ifan_what) == layout::IFAN_WHAT);
    assert!(size_of::<libc::if_announcemsghdr>() == layout::IF_ANNOUNCEMSGHDR_LEN);
    assert!(libc::IFNAMSIZ == layout::IFNAMSIZ);
    assert!(size_of::<libc::sockaddr_in>() == 16);
    assert!(offset_of!(libc::sockaddr_in, sin_addr) == layout::SIN_ADDR);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_the_header_macros() {
        // _IOWR('B', 102, u_int) and _IO('B', 122) by hand.
        assert_eq!(ioc(IOC_INOUT, b'B', 102, 4), 0xc004_4266);
        assert_eq!(ioc(IOC_VOID, b'B', 122, 0), 0x2000_427a);
        // The length field is masked to 13 bits, as IOCPARM_MASK does.
        assert_eq!(ioc(IOC_IN, b'B', 1, 0x2000), 0x8000_4201);
    }

    #[test]
    fn word_alignment() {
        assert_eq!(word_align(0), 0);
        assert_eq!(word_align(40), 40);
        assert_eq!(word_align(41), 48);
    }
}
