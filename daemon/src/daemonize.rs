//! Running in the background (`-D`), with pidfile(3) semantics (freebsd.md §4).
//!
//! Foreground stays the default: kea-dhcp4 never forks, and supervisors (systemd, runit,
//! daemon(8), the e2e harness) expect that. `-D` exists for rc.d, where a self-daemonising
//! `command` lets rc.subr's status/stop/`wrend_oomprotect` find the real process and lets
//! `service wrend start` report a failed start:
//!
//! 1. [`LockedPidFile::open`]: open (create) the PID file and take an exclusive `flock`
//!    without waiting. A held lock means a server runs: its PID is read back for the error.
//!    An unlocked file is stale whatever PID it names — no `kill(pid, 0)` guessing, so a
//!    recycled PID never blocks a start (the confusion Kea's read-and-probe file has).
//! 2. A pipe, then `fork`. The **parent** reads the pipe and exits 0 on "ready", or prints
//!    the child's start-up error and exits 1; EOF without a word means the child died.
//! 3. The **child** calls `setsid`, writes its PID into the locked file (the lock is on the
//!    open file description, shared across `fork`, so it stays held after the parent
//!    exits), and starts the server. When the server is up (sockets open, lease file loaded,
//!    sandbox entered) [`notify_ready`] releases the parent and points stdio at `/dev/null`
//!    (opened at fork time: `open` by path is impossible after `cap_enter`). A start-up
//!    failure goes to the parent with [`notify_failure`].
//! 4. At exit [`finish`] unlinks the file with `unlinkat` through the directory descriptor
//!    kept since step 1 (pidfile(3)'s way; works in capability mode). After a privilege
//!    drop that may fail (the directory is root's); the file is then stale, which step 1
//!    handles.
//!
//! The working directory is kept (as `daemon(3)` with `nochdir`): Kea configurations may
//! name the lease file relative to it, and SIGHUP re-reads the config by the path given.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::unistd::ForkResult;

use crate::cli::Options;
use crate::pidfile;

/// Where the PID file goes: `-f FILE`, else Kea's rule (`KEA_PIDFILE_DIR` or
/// `<runstatedir>/kea`, named after the config file).
pub fn pid_file_path(options: &Options) -> PathBuf {
    options.pid_file.clone().unwrap_or_else(|| {
        pidfile::path_for(
            &options.config_file,
            std::env::var_os(pidfile::PIDFILE_DIR_VARIABLE).as_deref(),
        )
    })
}

/// Why the server could not go to the background.
#[derive(Debug)]
pub enum DaemonizeError {
    /// Another process holds the PID file's lock.
    AlreadyRunning {
        /// The file.
        path: PathBuf,
        /// The PID it holds, if readable.
        pid: Option<i32>,
    },
    /// Opening, locking or writing the PID file failed.
    PidFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// pipe, fork or setsid failed.
    System {
        /// Which call.
        call: &'static str,
        /// Its error.
        error: io::Error,
    },
}

impl fmt::Display for DaemonizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonizeError::AlreadyRunning {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "DHCP4_ALREADY_RUNNING wrend already running as PID {pid} (PID file {} is locked)",
                path.display()
            ),
            DaemonizeError::AlreadyRunning { path, pid: None } => write!(
                f,
                "DHCP4_ALREADY_RUNNING wrend already running (PID file {} is locked)",
                path.display()
            ),
            DaemonizeError::PidFile { path, error } => {
                write!(f, "PID file {}: {error}", path.display())
            }
            DaemonizeError::System { call, error } => write!(f, "{call} failed: {error}"),
        }
    }
}

impl std::error::Error for DaemonizeError {}

/// An open, `flock`ed PID file (pidfile(3)'s `struct pidfh`).
#[derive(Debug)]
pub struct LockedPidFile {
    lock: Flock<File>,
    path: PathBuf,
    /// The directory descriptor (pidfile(3)'s `pf_dirfd`): removal by `unlinkat` works in
    /// Capsicum capability mode, where `unlink` by path is `ECAPMODE`.
    entry: crate::sandbox::dir_entry::DirEntry,
}

impl LockedPidFile {
    /// Creates or opens `path` (mode 0644: status scripts read it) and locks it, without
    /// waiting. The file is not truncated here: a running owner's PID stays readable.
    pub fn open(path: &Path) -> Result<LockedPidFile, DaemonizeError> {
        let io_error = |error| DaemonizeError::PidFile {
            path: path.to_path_buf(),
            error,
        };
        // A stopping server may unlink the file between our open and our lock; then the
        // lock is on a dead inode. Check the name still points at it, and retry once.
        for _ in 0..2 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(path)
                .map_err(io_error)?;
            let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((mut file, Errno::EWOULDBLOCK)) => {
                    let mut text = String::new();
                    let pid = file
                        .read_to_string(&mut text)
                        .ok()
                        .and_then(|_| text.trim().parse().ok());
                    return Err(DaemonizeError::AlreadyRunning {
                        path: path.to_path_buf(),
                        pid,
                    });
                }
                Err((_, e)) => return Err(io_error(e.into())),
            };
            let same = match (lock.metadata(), std::fs::metadata(path)) {
                (Ok(ours), Ok(named)) => ours.dev() == named.dev() && ours.ino() == named.ino(),
                _ => false,
            };
            if same {
                let entry = crate::sandbox::dir_entry::DirEntry::open(path).map_err(io_error)?;
                // The contents stay until write_pid(): nobody trusts them without the lock.
                return Ok(LockedPidFile {
                    lock,
                    path: path.to_path_buf(),
                    entry,
                });
            }
        }
        Err(io_error(io::Error::other(
            "the file was replaced while being locked",
        )))
    }

    /// Writes this process's PID (truncating whatever was there).
    pub fn write_pid(&mut self) -> io::Result<()> {
        self.lock.set_len(0)?;
        let text = format!("{}\n", std::process::id());
        std::os::unix::fs::FileExt::write_all_at(&*self.lock, text.as_bytes(), 0)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Unlinks the file, then releases the lock (in that order, as `pidfile_remove`, so a
    /// new server never locks a file that is about to disappear).
    pub fn remove(self) {
        if let Err(e) = self.entry.unlink() {
            log::debug!(
                "PID file {} not removed ({e}); the next start finds it unlocked",
                self.path.display()
            );
        }
        drop(self.lock);
    }
}

/// The child's side of a daemonised start.
struct Background {
    /// Write end of the status pipe; `None` once the parent was told.
    status: Option<File>,
    /// `/dev/null`, opened before the sandbox, for stdio after "ready".
    null: Option<OwnedFd>,
    /// The locked PID file.
    pid_file: Option<LockedPidFile>,
}

static BACKGROUND: Mutex<Option<Background>> = Mutex::new(None);

/// Status bytes on the pipe.
const READY: u8 = b'R';
const FAILED: u8 = b'E';

/// `-D`: locks the PID file, forks, and returns only in the child (now a session leader
/// with its PID in the file). The parent waits for [`notify_ready`] or [`notify_failure`]
/// and exits with the outcome; it never returns from this call.
pub fn daemonize(pid_path: &Path) -> Result<(), DaemonizeError> {
    let system = |call| {
        move |e: Errno| DaemonizeError::System {
            call,
            error: e.into(),
        }
    };
    let mut pid_file = LockedPidFile::open(pid_path)?;
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|error| DaemonizeError::System {
            call: "open /dev/null",
            error,
        })?;
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(system("pipe"))?;

    // SAFETY: called from main before any thread is started; the child continues with
    // the whole program, the parent only reads the pipe and exits.
    match unsafe { nix::unistd::fork() }.map_err(system("fork"))? {
        ForkResult::Parent { child } => {
            drop(write_end);
            // The lock belongs to the open file description the child shares: dropping
            // the Flock here would unlock it (LOCK_UN) for the child too.
            std::mem::forget(pid_file);
            let code = wait_for_child(File::from(read_end), child);
            std::process::exit(code);
        }
        ForkResult::Child => {
            drop(read_end);
            nix::unistd::setsid().map_err(system("setsid"))?;
            pid_file
                .write_pid()
                .map_err(|error| DaemonizeError::PidFile {
                    path: pid_path.to_path_buf(),
                    error,
                })?;
            if let Ok(mut state) = BACKGROUND.lock() {
                *state = Some(Background {
                    status: Some(File::from(write_end)),
                    null: Some(null.into()),
                    pid_file: Some(pid_file),
                });
            }
            Ok(())
        }
    }
}

/// The parent's wait: the exit status for `service wrend start`.
fn wait_for_child(mut pipe: File, child: nix::unistd::Pid) -> i32 {
    let mut message = Vec::new();
    let _ = pipe.read_to_end(&mut message);
    match message.split_first() {
        Some((&READY, _)) => 0,
        Some((&FAILED, text)) => {
            eprintln!("wrend: {}", String::from_utf8_lossy(text));
            1
        }
        _ => {
            let status = nix::sys::wait::waitpid(child, None);
            eprintln!("wrend: the server exited during start-up ({status:?})");
            1
        }
    }
}

/// True in a daemonised child that holds the PID file (the service then skips Kea's
/// read-and-probe PID file).
pub fn pid_file_held() -> bool {
    BACKGROUND
        .lock()
        .map(|s| s.as_ref().is_some_and(|b| b.pid_file.is_some()))
        .unwrap_or(false)
}

/// The server is up: release the waiting parent (exit 0) and detach stdio. Does nothing in
/// the foreground or when already told.
pub fn notify_ready() {
    let Ok(mut state) = BACKGROUND.lock() else {
        return;
    };
    let Some(background) = state.as_mut() else {
        return;
    };
    if let Some(mut status) = background.status.take() {
        let _ = status.write_all(&[READY]);
    }
    if let Some(null) = background.null.take() {
        for target in 0..=2 {
            // SAFETY: dup2 onto the standard descriptors, which we own.
            unsafe { libc::dup2(null.as_raw_fd(), target) };
        }
    }
}

/// Start-up failed: hand the message to the waiting parent (it prints it and exits 1).
pub fn notify_failure(message: &str) {
    let Ok(mut state) = BACKGROUND.lock() else {
        return;
    };
    if let Some(mut status) = state.as_mut().and_then(|b| b.status.take()) {
        let mut bytes = vec![FAILED];
        bytes.extend_from_slice(message.as_bytes());
        let _ = status.write_all(&bytes);
    }
}

/// At exit: remove the PID file (if this process holds it).
pub fn finish() {
    let taken = BACKGROUND
        .lock()
        .ok()
        .and_then(|mut s| s.as_mut().and_then(|b| b.pid_file.take()));
    if let Some(pid_file) = taken {
        pid_file.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wrend-daemonize-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn lock_write_and_remove() {
        let dir = scratch("lock");
        let path = dir.join("wrend.pid");
        let mut held = LockedPidFile::open(&path).unwrap();
        held.write_pid().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        // A second open (another open file description) sees the lock and the PID.
        match LockedPidFile::open(&path) {
            Err(DaemonizeError::AlreadyRunning { pid, .. }) => {
                assert_eq!(pid, Some(std::process::id() as i32))
            }
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        assert_eq!(held.path(), path);
        held.remove();
        assert!(!path.exists());
        // Free again.
        LockedPidFile::open(&path).unwrap().remove();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stale_file_naming_a_live_process_is_taken_over() {
        // PID 1 is alive, but nobody holds the lock: the file is stale.
        let dir = scratch("stale");
        let path = dir.join("wrend.pid");
        std::fs::write(&path, "1\n").unwrap();
        let mut held = LockedPidFile::open(&path).unwrap();
        // Nothing is truncated before the PID is written.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n");
        held.write_pid().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            std::process::id().to_string()
        );
        held.remove();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn longer_stale_contents_are_truncated() {
        let dir = scratch("truncate");
        let path = dir.join("wrend.pid");
        std::fs::write(&path, "123456789012345\ngarbage\n").unwrap();
        let mut held = LockedPidFile::open(&path).unwrap();
        held.write_pid().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        held.remove();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        let path = Path::new("/nonexistent-wren-dir/wrend.pid");
        assert!(matches!(
            LockedPidFile::open(path),
            Err(DaemonizeError::PidFile { .. })
        ));
    }

    #[test]
    fn symlinked_pid_file_is_refused() {
        let dir = scratch("symlink");
        let target = dir.join("target");
        std::fs::write(&target, "").unwrap();
        let link = dir.join("wrend.pid");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            LockedPidFile::open(&link),
            Err(DaemonizeError::PidFile { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn foreground_notifications_are_no_ops() {
        // Nothing was daemonised in the test process.
        assert!(!pid_file_held());
        notify_ready();
        notify_failure("ignored");
        finish();
    }
}
