//! Classic BPF programs for the link layer: what wakes the daemon, and (FreeBSD) what it
//! may send. Pure data, so they are tested on any host; Linux attaches the read program
//! with `SO_ATTACH_FILTER` (`struct sock_filter` has the same encoding), FreeBSD with
//! `BIOCSETF` / `BIOCSETWF` (freebsd.md §1.4).

/// One classic BPF instruction (`struct bpf_insn` / `struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Opcode.
    pub code: u16,
    /// Jump offset when the test is true.
    pub jt: u8,
    /// Jump offset when the test is false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

/// Opcodes used here (from `<net/bpf.h>`: class | size | mode | op | source).
pub mod op {
    /// `BPF_LD | BPF_H | BPF_ABS`: A = halfword at k.
    pub const LD_H_ABS: u16 = 0x28;
    /// `BPF_LD | BPF_B | BPF_ABS`: A = byte at k.
    pub const LD_B_ABS: u16 = 0x30;
    /// `BPF_LD | BPF_H | BPF_IND`: A = halfword at X + k.
    pub const LD_H_IND: u16 = 0x48;
    /// `BPF_LDX | BPF_B | BPF_MSH`: X = 4 × (byte at k & 0x0f).
    pub const LDX_B_MSH: u16 = 0xb1;
    /// `BPF_JMP | BPF_JEQ | BPF_K`.
    pub const JEQ_K: u16 = 0x15;
    /// `BPF_JMP | BPF_JSET | BPF_K`.
    pub const JSET_K: u16 = 0x45;
    /// `BPF_RET | BPF_K`.
    pub const RET_K: u16 = 0x06;
}

const fn stmt(code: u16, k: u32) -> Instruction {
    Instruction {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Instruction {
    Instruction { code, jt, jf, k }
}

/// Offsets in an Ethernet frame carrying IPv4 (14-byte Ethernet header, no VLAN tag).
mod offset {
    pub const ETHERTYPE: u32 = 12;
    pub const IP_VERSION_IHL: u32 = 14;
    pub const IP_FLAGS_FRAGMENT: u32 = 20;
    pub const IP_PROTOCOL: u32 = 23;
    /// UDP source port, relative to X = IP header length, from the frame start.
    pub const UDP_SOURCE_PORT: u32 = 14;
    /// UDP destination port, relative to X.
    pub const UDP_DESTINATION_PORT: u32 = 16;
}

const ETHERTYPE_IPV4: u32 = 0x0800;
const IP_PROTOCOL_UDP: u32 = 17;
/// MF flag and fragment offset. The references mask only the offset (0x1fff), letting a
/// first fragment through; 0x3fff drops every fragment while DF-only packets still pass
/// (freebsd.md §1.4): a DHCP message never needs fragmenting, and a reassembly attempt on
/// a fragment would be a waste of the read.
const FRAGMENT_MASK: u32 = 0x3fff;
/// `ret #-1`: accept the whole frame.
const ACCEPT: u32 = u32::MAX;
/// `ret #0`: drop.
const DROP: u32 = 0;

/// Number of instructions of [`read_program`].
pub const READ_PROGRAM_LEN: usize = 11;

/// "IPv4, UDP, not a fragment, to `server_port`": the filter of ISC dhcpd, OpenBSD dhcpd
/// and FreeBSD dhclient (freebsd.md §1.4), with the port patched in as ISC does for `-p`.
/// Everything else stays in the kernel and never wakes the process.
pub const fn read_program(server_port: u16) -> [Instruction; READ_PROGRAM_LEN] {
    [
        stmt(op::LD_H_ABS, offset::ETHERTYPE),
        jump(op::JEQ_K, ETHERTYPE_IPV4, 0, 8),
        stmt(op::LD_B_ABS, offset::IP_PROTOCOL),
        jump(op::JEQ_K, IP_PROTOCOL_UDP, 0, 6),
        stmt(op::LD_H_ABS, offset::IP_FLAGS_FRAGMENT),
        jump(op::JSET_K, FRAGMENT_MASK, 4, 0),
        stmt(op::LDX_B_MSH, offset::IP_VERSION_IHL),
        stmt(op::LD_H_IND, offset::UDP_DESTINATION_PORT),
        jump(op::JEQ_K, server_port as u32, 0, 1),
        stmt(op::RET_K, ACCEPT),
        stmt(op::RET_K, DROP),
    ]
}

/// Number of instructions of [`write_program`].
pub const WRITE_PROGRAM_LEN: usize = 11;

/// What the daemon may send (FreeBSD `BIOCSETWF`, locked with `BIOCLOCK`): IPv4 UDP, not
/// fragmented, from `server_port`. Should the process ever be subverted, its BPF
/// descriptor cannot inject anything else.
///
/// Any destination port: every reply leaves through BPF in raw mode (capability mode
/// forbids `sendmsg` to an address, see `packet_path::leaves_as_frame`), and replies go to
/// the client port (68 or `-P`), to 67 at a relay whatever `-p` says (Kea answers relays at
/// the constant server port), or to the relay's own source port (RFC 8357 §4: "the DHCP
/// server MUST use the UDP source port … as the destination").
pub const fn write_program(server_port: u16) -> [Instruction; WRITE_PROGRAM_LEN] {
    [
        stmt(op::LD_H_ABS, offset::ETHERTYPE),
        jump(op::JEQ_K, ETHERTYPE_IPV4, 0, 8),
        stmt(op::LD_B_ABS, offset::IP_PROTOCOL),
        jump(op::JEQ_K, IP_PROTOCOL_UDP, 0, 6),
        stmt(op::LD_H_ABS, offset::IP_FLAGS_FRAGMENT),
        jump(op::JSET_K, FRAGMENT_MASK, 4, 0),
        stmt(op::LDX_B_MSH, offset::IP_VERSION_IHL),
        stmt(op::LD_H_IND, offset::UDP_SOURCE_PORT),
        jump(op::JEQ_K, server_port as u32, 0, 1),
        stmt(op::RET_K, ACCEPT),
        stmt(op::RET_K, DROP),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tiny classic-BPF interpreter for the opcodes above, as the kernel runs them:
    /// out-of-bounds loads reject the packet. Returns the accepted length (0 = drop).
    pub(crate) fn run(program: &[Instruction], packet: &[u8]) -> u32 {
        let mut a: u32 = 0;
        let mut x: u32 = 0;
        let mut pc = 0usize;
        let load = |at: u32, size: usize| -> Option<u32> {
            let start = at as usize;
            let bytes = packet.get(start..start.checked_add(size)?)?;
            Some(bytes.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b)))
        };
        loop {
            let Some(insn) = program.get(pc) else {
                panic!("fell off the program at {pc}");
            };
            pc += 1;
            match insn.code {
                op::LD_H_ABS => match load(insn.k, 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                op::LD_B_ABS => match load(insn.k, 1) {
                    Some(v) => a = v,
                    None => return 0,
                },
                op::LD_H_IND => match load(x.wrapping_add(insn.k), 2) {
                    Some(v) => a = v,
                    None => return 0,
                },
                op::LDX_B_MSH => match load(insn.k, 1) {
                    Some(v) => x = 4 * (v & 0x0f),
                    None => return 0,
                },
                op::JEQ_K => {
                    pc += usize::from(if a == insn.k { insn.jt } else { insn.jf });
                }
                op::JSET_K => {
                    pc += usize::from(if a & insn.k != 0 { insn.jt } else { insn.jf });
                }
                op::RET_K => return insn.k,
                other => panic!("opcode {other:#x} not in the interpreter"),
            }
        }
    }

    /// A real DHCPDISCOVER frame as udhcpc sends it (trimmed DHCP payload): broadcast,
    /// 0.0.0.0:68 → 255.255.255.255:67.
    pub(crate) fn discover_frame(dst_port: u16, flags_fragment: u16, ihl: u8) -> Vec<u8> {
        let mut f = vec![
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst MAC
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // src MAC
            0x08, 0x00, // IPv4
        ];
        let options_len = (usize::from(ihl) - 5) * 4;
        let udp_len: u16 = 8 + 4;
        let total = (usize::from(ihl) * 4) as u16 + udp_len;
        f.extend_from_slice(&[0x40 | ihl, 0x10]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0x00, 0x00]);
        f.extend_from_slice(&flags_fragment.to_be_bytes());
        f.extend_from_slice(&[0x40, 17, 0x00, 0x00]);
        f.extend_from_slice(&[0, 0, 0, 0, 255, 255, 255, 255]);
        f.extend(std::iter::repeat_n(1u8, options_len)); // IP options (NOPs)
        f.extend_from_slice(&68u16.to_be_bytes());
        f.extend_from_slice(&dst_port.to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[0, 0, 1, 1, 6, 0]); // checksum, op/htype/hlen/hops
        f
    }

    #[test]
    fn read_program_matches_the_reference_table() {
        // freebsd.md §1.4, with the 0x3fff mask.
        let expected: [(u16, u8, u8, u32); 11] = [
            (0x28, 0, 0, 12),
            (0x15, 0, 8, 0x0800),
            (0x30, 0, 0, 23),
            (0x15, 0, 6, 17),
            (0x28, 0, 0, 20),
            (0x45, 4, 0, 0x3fff),
            (0xb1, 0, 0, 14),
            (0x48, 0, 0, 16),
            (0x15, 0, 1, 67),
            (0x06, 0, 0, 0xffff_ffff),
            (0x06, 0, 0, 0),
        ];
        let program = read_program(67);
        for (insn, (code, jt, jf, k)) in program.iter().zip(expected) {
            assert_eq!(*insn, Instruction { code, jt, jf, k });
        }
    }

    #[test]
    fn read_program_accepts_discover_to_server_port() {
        assert_eq!(run(&read_program(67), &discover_frame(67, 0, 5)), ACCEPT);
        // DF set, offset 0: still accepted.
        assert_eq!(
            run(&read_program(67), &discover_frame(67, 0x4000, 5)),
            ACCEPT
        );
        // IP options move the UDP header: X handles it.
        assert_eq!(run(&read_program(67), &discover_frame(67, 0, 6)), ACCEPT);
    }

    #[test]
    fn read_program_patches_the_port() {
        assert_eq!(
            run(&read_program(1067), &discover_frame(1067, 0, 5)),
            ACCEPT
        );
        assert_eq!(run(&read_program(1067), &discover_frame(67, 0, 5)), DROP);
        assert_eq!(run(&read_program(67), &discover_frame(68, 0, 5)), DROP);
    }

    #[test]
    fn read_program_drops_fragments_and_others() {
        // First fragment (MF set, offset 0).
        assert_eq!(run(&read_program(67), &discover_frame(67, 0x2000, 5)), DROP);
        // Later fragment.
        assert_eq!(run(&read_program(67), &discover_frame(67, 0x00b9, 5)), DROP);
        // TCP.
        let mut tcp = discover_frame(67, 0, 5);
        tcp[23] = 6;
        assert_eq!(run(&read_program(67), &tcp), DROP);
        // ARP.
        let mut arp = discover_frame(67, 0, 5);
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert_eq!(run(&read_program(67), &arp), DROP);
        // Runt frame: the load fails, the kernel drops.
        assert_eq!(run(&read_program(67), &[0u8; 20]), DROP);
    }

    fn reply_frame(src_port: u16, dst_port: u16) -> Vec<u8> {
        let mut f = discover_frame(dst_port, 0, 5);
        f[34..36].copy_from_slice(&src_port.to_be_bytes());
        f
    }

    #[test]
    fn write_program_allows_only_replies() {
        let w = write_program(67);
        assert_eq!(run(&w, &reply_frame(67, 68)), ACCEPT);
        assert_eq!(run(&w, &reply_frame(67, 67)), ACCEPT, "to a relay");
        assert_eq!(
            run(&w, &reply_frame(67, 3000)),
            ACCEPT,
            "RFC 8357 relay port"
        );
        assert_eq!(run(&w, &reply_frame(68, 67)), DROP);
        assert_eq!(run(&w, &reply_frame(53, 53)), DROP);
        let test_ports = write_program(1067);
        assert_eq!(run(&test_ports, &reply_frame(1067, 1068)), ACCEPT);
        assert_eq!(
            run(&test_ports, &reply_frame(1067, 67)),
            ACCEPT,
            "-p: relays at 67"
        );
        assert_eq!(run(&test_ports, &reply_frame(67, 68)), DROP);
        // Not IPv4/UDP, or a fragment: dropped.
        let mut arp = reply_frame(67, 68);
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(run(&w, &arp), DROP);
        let mut tcp = reply_frame(67, 68);
        tcp[23] = 6;
        assert_eq!(run(&w, &tcp), DROP);
        let mut fragment = reply_frame(67, 68);
        fragment[20] = 0x20; // more fragments
        assert_eq!(run(&w, &fragment), DROP);
    }
}
