//! FreeBSD link-layer I/O: one `/dev/bpf` descriptor per served interface, set up exactly
//! as freebsd.md §1.1 orders it (buffer size before the interface, immediate mode, our own
//! Ethernet source, incoming direction only, read and write filters, O_NONBLOCK before the
//! lock, `BIOCLOCK` last). Reads return several records; [`super::bpf_records`] walks them.
//! Register with mio for READABLE only (§1.6: bpf's kqueue hook has no EVFILT_WRITE).

use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::filter::{self, Instruction};

// Every ioctl number and BPF constant comes from `crate::freebsd_sys`, the one place where
// they are defined and checked at compile time against the FreeBSD 14 header values and
// libc's own structs (freebsd.md §1.2). They are `u64` there (the ioctl encoding); on both
// 64-bit FreeBSD targets `c_ulong` is `u64`, which freebsd_sys also asserts.
use crate::freebsd_sys as sys;

/// An ioctl request number as `libc::ioctl` takes it.
const fn ioctl_number(number: u64) -> libc::c_ulong {
    number as libc::c_ulong
}

/// The buffer size wrend asks for: 64 KiB holds a DISCOVER storm's worth of records
/// (freebsd.md §1.1 step 3; the kernel keeps two of these per descriptor).
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;

/// An open, locked BPF descriptor bound to one interface.
#[derive(Debug)]
pub struct BpfDevice {
    fd: OwnedFd,
    buffer_size: usize,
    ifindex: u32,
}

fn ioctl_uint(fd: RawFd, request: libc::c_ulong, value: &mut libc::c_uint) -> io::Result<()> {
    // SAFETY: every request passed here takes a pointer to one u_int.
    let ret = unsafe { libc::ioctl(fd, request, value as *mut libc::c_uint) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_program(fd: RawFd, request: libc::c_ulong, program: &[Instruction]) -> io::Result<()> {
    let mut insns: Vec<libc::bpf_insn> = program
        .iter()
        .map(|i| libc::bpf_insn {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let mut prog = libc::bpf_program {
        bf_len: libc::c_uint::try_from(insns.len())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        bf_insns: insns.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `insns`, both live across the call; the kernel copies them.
    let ret = unsafe { libc::ioctl(fd, request, &mut prog as *mut libc::bpf_program) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn os_error(what: &'static str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

fn step<T>(what: &'static str, result: io::Result<T>) -> io::Result<T> {
    result.map_err(|e| io::Error::new(e.kind(), format!("{what}: {e}")))
}

impl BpfDevice {
    /// Opens `/dev/bpf` for interface `name` (index `ifindex`), reading IPv4 UDP to
    /// `server_port` and allowed to write UDP from `server_port` to any port (clients,
    /// relays at 67 or their RFC 8357 port: [`filter::write_program`]). The client port is
    /// not needed by the filters any more; the parameter stays for the callers.
    pub fn open(
        name: &str,
        ifindex: u32,
        server_port: u16,
        _client_port: u16,
        buffer_size: usize,
    ) -> io::Result<BpfDevice> {
        let path =
            CString::new("/dev/bpf").map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // 1: O_NONBLOCK now; after BIOCLOCK fcntl(F_SETFL) would fail.
        // SAFETY: `path` is NUL-terminated; the result is checked.
        let raw = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(os_error("open /dev/bpf"));
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // 2: version 1.1 or later.
        // SAFETY: plain data; zero is valid.
        let mut version: libc::bpf_version = unsafe { mem::zeroed() };
        // SAFETY: BIOCVERSION writes one struct bpf_version.
        if unsafe {
            libc::ioctl(
                raw,
                ioctl_number(sys::BIOCVERSION),
                &mut version as *mut libc::bpf_version,
            )
        } < 0
        {
            return Err(os_error("BIOCVERSION"));
        }
        if version.bv_major != 1 || version.bv_minor < 1 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "BPF version {}.{}, need 1.1",
                    version.bv_major, version.bv_minor
                ),
            ));
        }

        // 3: buffer size before the interface; the kernel clamps and writes it back.
        let mut size = libc::c_uint::try_from(buffer_size).unwrap_or(libc::c_uint::MAX);
        step(
            "BIOCSBLEN",
            ioctl_uint(raw, ioctl_number(sys::BIOCSBLEN), &mut size),
        )?;

        // 4: attach.
        // SAFETY: plain data; zero is valid (the union must be zeroed).
        let mut request: libc::ifreq = unsafe { mem::zeroed() };
        if name.len() >= request.ifr_name.len() || name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "interface name too long",
            ));
        }
        for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes()) {
            *slot = byte as libc::c_char;
        }
        // SAFETY: BIOCSETIF reads one struct ifreq.
        if unsafe {
            libc::ioctl(
                raw,
                ioctl_number(sys::BIOCSETIF),
                &mut request as *mut libc::ifreq,
            )
        } < 0
        {
            return Err(os_error("BIOCSETIF"));
        }

        // 5: Ethernet only.
        let mut dlt: libc::c_uint = 0;
        step(
            "BIOCGDLT",
            ioctl_uint(raw, ioctl_number(sys::BIOCGDLT), &mut dlt),
        )?;
        if dlt != sys::DLT_EN10MB {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{name}: link type {dlt} is not Ethernet"),
            ));
        }

        // 6–9.
        step(
            "BIOCIMMEDIATE",
            ioctl_uint(raw, ioctl_number(sys::BIOCIMMEDIATE), &mut 1),
        )?;
        step(
            "BIOCSHDRCMPLT",
            ioctl_uint(raw, ioctl_number(sys::BIOCSHDRCMPLT), &mut 1),
        )?;
        step(
            "BIOCSDIRECTION",
            ioctl_uint(raw, ioctl_number(sys::BIOCSDIRECTION), &mut {
                sys::BPF_D_IN
            }),
        )?;
        if let Err(e) = ioctl_uint(raw, ioctl_number(sys::BIOCSTSTAMP), &mut {
            sys::BPF_T_NONE
        }) {
            log::debug!("{name}: BIOCSTSTAMP not supported ({e}); timestamps stay on");
        }

        // 10: filters.
        step(
            "BIOCSETF",
            set_program(
                raw,
                ioctl_number(sys::BIOCSETF),
                &filter::read_program(server_port),
            ),
        )?;
        step(
            "BIOCSETWF",
            set_program(
                raw,
                ioctl_number(sys::BIOCSETWF),
                &filter::write_program(server_port),
            ),
        )?;

        // 11: lock.
        // SAFETY: BIOCLOCK takes no argument.
        if unsafe { libc::ioctl(raw, ioctl_number(sys::BIOCLOCK)) } < 0 {
            return Err(os_error("BIOCLOCK"));
        }
        Ok(BpfDevice {
            fd,
            buffer_size: size as usize,
            ifindex,
        })
    }

    /// The buffer size the kernel granted: every read must use exactly this length.
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// The interface index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Reads the hold buffer into `buffer` (its length must be [`Self::buffer_size`];
    /// a longer one is cut to it). `WouldBlock` when nothing is queued; `ENXIO` when the
    /// interface went away.
    pub fn read_batch(&self, buffer: &mut [u8]) -> io::Result<usize> {
        let Some(buffer) = buffer.get_mut(..self.buffer_size) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "BPF read buffer too small",
            ));
        };
        // SAFETY: `buffer` is writable for its length.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
            )
        };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }

    /// Writes one whole Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: `frame` is readable for its length.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        match usize::try_from(n) {
            Ok(written) if written == frame.len() => Ok(()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short frame write",
            )),
            Err(_) => Err(io::Error::last_os_error()),
        }
    }
}

impl AsRawFd for BpfDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for BpfDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
