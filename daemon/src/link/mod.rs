//! Link-layer and UDP I/O: the daemon's only contact with the network. Bytes in, bytes
//! out; what they mean is the core's business.
//!
//! * [`packet_socket`] (Linux) and [`bpf`] (FreeBSD): whole Ethernet frames per interface,
//!   for direct clients that have no address yet;
//! * [`relay_udp`]: the UDP socket on the server port, for relays and unicast renewals;
//! * [`interfaces`]: which host interfaces the config asks for;
//! * [`route_events`]: the routing socket that says when to look again (hot-plug);
//! * [`RawLink`]: the platform's raw device behind one type for the event loop;
//! * [`filter`] and [`bpf_records`]: the platform-neutral parts (BPF programs, the BPF
//!   read-buffer walk), unit-tested on every host.

pub mod bpf_records;
pub mod filter;
pub mod interfaces;
pub mod relay_udp;
pub mod route_events;

#[cfg(target_os = "freebsd")]
pub mod bpf;
#[cfg(target_os = "linux")]
pub mod packet_socket;

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use interfaces::ServedInterface;

/// Frames a raw device reads at most per `read(2)`: the BPF buffer (freebsd.md §1.1 step 3);
/// on Linux the slots of one `recvmmsg` ([`FRAME_SLOT`] bytes each), and the UDP socket's
/// likewise.
pub const RECEIVE_BUFFER_SIZE: usize = 64 * 1024;

/// Bytes of the receive buffer one packet of a batched receive (`recvmmsg`) gets: a whole
/// Ethernet frame of a 1500-byte MTU (1514) and more. Kea reads at most 1500 bytes
/// (`IfaceMgr::RCVBUFSIZE`); a larger packet is skipped, as one larger than the whole
/// buffer was before.
pub const FRAME_SLOT: usize = 2048;
/// Packets one `recvmmsg` takes at most (stack arrays of this many headers).
pub const RECV_BATCH: usize = 32;

/// What one batched receive did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Packets the kernel handed over (skipped ones included).
    pub received: usize,
    /// Fewer than the batch could take: the queue is empty (the edge-triggered event is
    /// drained; a packet arriving later raises a new one).
    pub drained: bool,
}

/// Kernel receive buffer asked for on each packet socket and on the UDP socket
/// (`SO_RCVBUFFORCE`, which root may set above `net.core.rmem_max`, else `SO_RCVBUF`, which
/// the kernel caps there). 4 MiB holds roughly 2,000–4,000 queued DHCP datagrams (each costs
/// its ~1–2 KiB kernel buffer, not its length): half a second of a 4,000/s burst, or a
/// whole batch's group-commit `fdatasync` on a slow SD card, without drops. The memory is
/// the kernel's and is used only while datagrams wait; it is not in the daemon's RSS.
pub const SOCKET_RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// Sets [`SOCKET_RECEIVE_BUFFER`] on `fd`: `SO_RCVBUFFORCE` first (Linux, needs
/// CAP_NET_ADMIN), then `SO_RCVBUF`. A failure is logged, not fatal: the default buffer
/// still works, it only drops earlier under bursts.
#[cfg(target_os = "linux")]
pub fn set_receive_buffer(fd: std::os::fd::RawFd, what: &str) {
    let size = libc::c_int::try_from(SOCKET_RECEIVE_BUFFER).unwrap_or(libc::c_int::MAX);
    let set = |name: libc::c_int| {
        // SAFETY: `size` lives across the call and its size is passed.
        let ret = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                name,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if ret < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    if set(libc::SO_RCVBUFFORCE).is_err() {
        if let Err(e) = set(libc::SO_RCVBUF) {
            log::warn!("WREN_SOCKET_BUFFER {what}: SO_RCVBUF {size}: {e}");
        }
    }
}

/// The raw link-layer device of one interface: a packet socket on Linux, BPF on FreeBSD.
#[derive(Debug)]
pub struct RawLink {
    #[cfg(target_os = "linux")]
    device: packet_socket::PacketSocket,
    #[cfg(target_os = "freebsd")]
    device: bpf::BpfDevice,
}

/// What one read produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Frames were handed to the callback (maybe none); read again.
    More,
    /// Nothing left (EAGAIN, or a Linux batch the queue could not fill): the
    /// edge-triggered event is fully drained.
    Drained,
}

impl RawLink {
    /// Opens the device for `interface`.
    pub fn open(
        interface: &ServedInterface,
        server_port: u16,
        client_port: u16,
    ) -> io::Result<RawLink> {
        #[cfg(target_os = "linux")]
        {
            let _ = client_port; // Linux has no write filter.
            Ok(RawLink {
                device: packet_socket::PacketSocket::open(interface.ifindex, server_port)?,
            })
        }
        #[cfg(target_os = "freebsd")]
        {
            Ok(RawLink {
                device: bpf::BpfDevice::open(
                    &interface.name,
                    interface.ifindex,
                    server_port,
                    client_port,
                    bpf::DEFAULT_BUFFER_SIZE.min(RECEIVE_BUFFER_SIZE),
                )?,
            })
        }
    }

    /// Reads once into `buffer` (Linux: one `recvmmsg` of every queued frame the buffer has
    /// slots for; FreeBSD: one BPF buffer) and calls `each` for every whole frame received.
    pub fn read(&self, buffer: &mut [u8], mut each: impl FnMut(&[u8])) -> io::Result<ReadOutcome> {
        #[cfg(target_os = "linux")]
        {
            match self.device.recv_batch(buffer, &mut each) {
                Ok(batch) if batch.drained => Ok(ReadOutcome::Drained),
                Ok(_) => Ok(ReadOutcome::More),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(ReadOutcome::More),
                Err(e) => Err(e),
            }
        }
        #[cfg(target_os = "freebsd")]
        {
            match self.device.read_batch(buffer) {
                Ok(n) => {
                    for record in bpf_records::Records::new(buffer.get(..n).unwrap_or(&[])) {
                        if let bpf_records::Record::Frame(frame) = record {
                            each(frame);
                        }
                    }
                    Ok(ReadOutcome::More)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(ReadOutcome::More),
                Err(e) => Err(e),
            }
        }
    }

    /// Sends one whole Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.device.send(frame)
    }

    /// Sends whole Ethernet frames in order: Linux in one `sendmmsg` per
    /// [`packet_socket::SEND_BATCH`]; FreeBSD one `write` each (BPF takes one frame per
    /// write). Returns how many were sent from the front and, if not all, why the next one
    /// was not.
    pub fn send_batch(&self, frames: &[&[u8]]) -> (usize, Option<io::Error>) {
        #[cfg(target_os = "linux")]
        {
            self.device.send_batch(frames)
        }
        #[cfg(target_os = "freebsd")]
        {
            for (sent, frame) in frames.iter().enumerate() {
                if let Err(e) = self.device.send(frame) {
                    return (sent, Some(e));
                }
            }
            (frames.len(), None)
        }
    }
}

impl AsRawFd for RawLink {
    fn as_raw_fd(&self) -> RawFd {
        self.device.as_raw_fd()
    }
}
