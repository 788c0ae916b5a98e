//! The PID file, where Kea keeps it (kea-config.md §4):
//! `<runstatedir>/kea/<config basename without extension>.kea-dhcp4.pid`, the directory
//! overridable with `KEA_PIDFILE_DIR`. keactrl and service scripts written for Kea find
//! wrend there. A file holding the PID of a live process means another server runs with
//! this configuration: refuse to start, as Kea does.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Kea's `<runstatedir>`: `/run` on Linux (Debian's build), `/var/run` on the BSDs.
pub const RUN_STATE_DIR: &str = if cfg!(target_os = "linux") {
    "/run"
} else {
    "/var/run"
};

/// The environment variable that moves the PID file directory.
pub const PIDFILE_DIR_VARIABLE: &str = "KEA_PIDFILE_DIR";

/// The PID file path for `config_file`, given the value of `KEA_PIDFILE_DIR` if set.
pub fn path_for(config_file: &Path, dir_override: Option<&OsStr>) -> PathBuf {
    let dir = match dir_override {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(RUN_STATE_DIR).join("kea"),
    };
    let stem = config_file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!("{stem}.kea-dhcp4.pid"))
}

/// Why the PID file could not be taken.
#[derive(Debug)]
pub enum PidFileError {
    /// The file names a process that is alive.
    AlreadyRunning {
        /// The file.
        path: PathBuf,
        /// The PID found in it.
        pid: i32,
    },
    /// Reading, creating or writing the file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
}

impl fmt::Display for PidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidFileError::AlreadyRunning { path, pid } => write!(
                f,
                "DHCP4_ALREADY_RUNNING wrend already running? PID file {} names live process {pid}",
                path.display()
            ),
            PidFileError::Io { path, error } => {
                write!(f, "cannot write PID file {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for PidFileError {}

/// A PID file this process wrote; removed when dropped — with `unlinkat` through the
/// directory descriptor opened with it (pidfile(3)'s `pf_dirfd`), so removal works after
/// the sandbox point (Capsicum refuses `unlink` by path).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    entry: crate::sandbox::dir_entry::DirEntry,
}

impl PidFile {
    /// Writes our PID to `path`, unless the file names another live process. A stale file
    /// (dead PID, garbage) is overwritten.
    pub fn acquire(path: &Path) -> Result<PidFile, PidFileError> {
        let io_error = |error| PidFileError::Io {
            path: path.to_path_buf(),
            error,
        };
        match fs::read_to_string(path) {
            Ok(text) => {
                if let Some(pid) = live_pid(&text) {
                    return Err(PidFileError::AlreadyRunning {
                        path: path.to_path_buf(),
                        pid,
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(e)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io_error)?;
        }
        let mut file = fs::File::create(path).map_err(io_error)?;
        writeln!(file, "{}", std::process::id()).map_err(io_error)?;
        let entry = crate::sandbox::dir_entry::DirEntry::open(path).map_err(io_error)?;
        Ok(PidFile {
            path: path.to_path_buf(),
            entry,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Err(e) = self.entry.unlink() {
            log::warn!("cannot remove PID file {}: {e}", self.path.display());
        }
    }
}

/// The PID in `text` if it names a live process other than ourselves (`kill(pid, 0)`
/// succeeds, or fails with EPERM: alive but not ours).
fn live_pid(text: &str) -> Option<i32> {
    let pid: i32 = text.trim().parse().ok()?;
    if pid <= 0 || u32::try_from(pid).ok()? == std::process::id() {
        return None;
    }
    match kill(Pid::from_raw(pid), None) {
        Ok(()) | Err(Errno::EPERM) => Some(pid),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wrend-pidfile-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn kea_path_rules() {
        assert_eq!(
            path_for(Path::new("/etc/kea/kea-dhcp4.conf"), None),
            Path::new(RUN_STATE_DIR).join("kea/kea-dhcp4.kea-dhcp4.pid")
        );
        assert_eq!(
            path_for(Path::new("small.json"), Some(OsStr::new("/tmp/x"))),
            PathBuf::from("/tmp/x/small.kea-dhcp4.pid")
        );
        // Only the last extension goes, as Kea's basename-without-extension.
        assert_eq!(
            path_for(Path::new("a.b.conf"), Some(OsStr::new("/d"))),
            PathBuf::from("/d/a.b.kea-dhcp4.pid")
        );
        // An empty override is ignored.
        assert!(path_for(Path::new("a.conf"), Some(OsStr::new(""))).starts_with(RUN_STATE_DIR));
    }

    #[test]
    fn writes_and_removes() {
        let dir = scratch("write");
        let path = dir.join("sub/a.kea-dhcp4.pid");
        {
            let pid = PidFile::acquire(&path).unwrap();
            assert_eq!(pid.path(), path);
            let text = fs::read_to_string(&path).unwrap();
            assert_eq!(text.trim(), std::process::id().to_string());
            // Our own PID in the file is not "another server".
            let again = PidFile::acquire(&path).unwrap();
            std::mem::forget(again);
        }
        assert!(!path.exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_a_live_pid() {
        let dir = scratch("live");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.kea-dhcp4.pid");
        // PID 1 is always alive (EPERM if we are not root).
        fs::write(&path, "1\n").unwrap();
        match PidFile::acquire(&path) {
            Err(PidFileError::AlreadyRunning { pid: 1, .. }) => {}
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), "1\n");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn overwrites_stale_and_garbage() {
        let dir = scratch("stale");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.kea-dhcp4.pid");
        // A PID beyond pid_max is never alive.
        for stale in ["2147483000\n", "not a pid", "", "-5"] {
            fs::write(&path, stale).unwrap();
            let pid = PidFile::acquire(&path).unwrap();
            assert_eq!(
                fs::read_to_string(&path).unwrap().trim(),
                std::process::id().to_string()
            );
            drop(pid);
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
