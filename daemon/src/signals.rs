//! Signals as events of the main loop (kea-config.md §4): SIGHUP reloads the
//! configuration, SIGTERM and SIGINT end the server gracefully.
//!
//! A self-pipe, portable to FreeBSD: the handler's only work is one `write(2)` of the
//! signal number into a non-blocking pipe (async-signal-safe); the read end is registered
//! with mio and drained by the loop, which does the real work between batches.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::fcntl::OFlag;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Write end of the pipe, for the handler (-1 until installed).
static PIPE_WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(number: libc::c_int) {
    let fd = PIPE_WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = number as u8;
        // SAFETY: write(2) is async-signal-safe; `byte` lives across the call. A full pipe
        // (EAGAIN) loses nothing: a byte of the same kind is already pending.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// What arrived since the last drain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// SIGHUP: reload the configuration.
    pub reload: bool,
    /// SIGTERM or SIGINT: finish the batch, sync, exit 0.
    pub terminate: bool,
}

/// The installed handlers and the pipe's read end.
#[derive(Debug)]
pub struct Signals {
    read: OwnedFd,
    _write: OwnedFd,
}

impl Signals {
    /// Creates the pipe and installs the handlers for SIGHUP, SIGTERM and SIGINT; ignores
    /// SIGPIPE (a write to a closed control connection is an error value, not death).
    pub fn install() -> io::Result<Signals> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        PIPE_WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for s in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT] {
            // SAFETY: the handler only calls write(2) on a descriptor kept open by `self`.
            unsafe { signal::sigaction(s, &action) }?;
        }
        let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
        // SAFETY: ignoring a signal installs no code.
        unsafe { signal::sigaction(Signal::SIGPIPE, &ignore) }?;
        Ok(Signals {
            read,
            _write: write,
        })
    }

    /// Reads everything pending in the pipe.
    pub fn drain(&self) -> Pending {
        let mut pending = Pending::default();
        let mut bytes = [0u8; 64];
        loop {
            match nix::unistd::read(&self.read, &mut bytes) {
                Ok(0) => break,
                Ok(n) => {
                    for b in bytes.get(..n).unwrap_or(&[]) {
                        match i32::from(*b) {
                            libc::SIGHUP => pending.reload = true,
                            libc::SIGTERM | libc::SIGINT => pending.terminate = true,
                            _ => {}
                        }
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        pending
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        PIPE_WRITE_FD.store(-1, Ordering::Relaxed);
    }
}

impl AsRawFd for Signals {
    fn as_raw_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }
}

impl AsFd for Signals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Installs handlers process-wide; the only test here that raises signals.
    #[test]
    fn signals_become_pending_events() {
        let signals = Signals::install().unwrap();
        assert_eq!(signals.drain(), Pending::default());
        signal::raise(Signal::SIGHUP).unwrap();
        assert_eq!(
            signals.drain(),
            Pending {
                reload: true,
                terminate: false
            }
        );
        signal::raise(Signal::SIGTERM).unwrap();
        signal::raise(Signal::SIGHUP).unwrap();
        assert_eq!(
            signals.drain(),
            Pending {
                reload: true,
                terminate: true
            }
        );
        assert_eq!(signals.drain(), Pending::default());
        // Restore defaults so the test binary stays killable.
        drop(signals);
        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        for s in [Signal::SIGHUP, Signal::SIGTERM, Signal::SIGINT] {
            // SAFETY: restoring the default disposition.
            unsafe { signal::sigaction(s, &default) }.unwrap();
        }
    }
}
