//! A file named through a directory descriptor opened at start: the pidfile(3) pattern
//! (`struct pidfh` keeps `pf_dirfd` and removes with `unlinkat`) applied to every file the
//! server touches again after the sandbox point.
//!
//! In Capsicum capability mode `open`/`unlink` by path are `ECAPMODE`, but `openat` and
//! `unlinkat` relative to a directory descriptor held from before `cap_enter` work, with
//! the directory's rights (freebsd.md §2: config directory CAP_LOOKUP, CAP_READ, CAP_SEEK,
//! CAP_FSTAT; PID file directory CAP_UNLINKAT). The same calls run on Linux, so the e2e
//! tests and `scripts/freebsd/capsicum-audit.sh` exercise this path there.
//!
//! Only the last component is resolved through the descriptor: a name with a `/` or `..`
//! would be refused in capability mode, and the parent is fixed at open time, so a later
//! rename of the directory does not move what is read or removed.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;

/// A directory descriptor and one name in it.
#[derive(Debug)]
pub struct DirEntry {
    dir: OwnedFd,
    name: CString,
    path: PathBuf,
}

impl DirEntry {
    /// Opens the parent directory of `path` (the current directory for a bare name).
    pub fn open(path: &Path) -> io::Result<DirEntry> {
        let name = path
            .file_name()
            .filter(|n| !n.is_empty() && *n != OsStr::new(".."))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} does not name a file", path.display()),
                )
            })?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = nix::fcntl::open(
            parent,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("{}: {e}", parent.display()),
            )
        })?;
        let name = CString::new(name.as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a file name"))?;
        Ok(DirEntry {
            dir,
            name,
            path: path.to_path_buf(),
        })
    }

    /// The path it was opened as (for log lines only; never opened again).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `openat(dir, name, O_RDONLY)` and reads the whole file as UTF-8.
    pub fn read_to_string(&self) -> io::Result<String> {
        let fd = nix::fcntl::openat(
            self.dir.as_fd(),
            self.name.as_c_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut text = String::new();
        File::from(fd).read_to_string(&mut text)?;
        Ok(text)
    }

    /// `unlinkat(dir, name, 0)`.
    pub fn unlink(&self) -> io::Result<()> {
        nix::unistd::unlinkat(
            self.dir.as_fd(),
            self.name.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )?;
        Ok(())
    }

    /// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: device and inode, to check the name
    /// still points at a file we hold open.
    pub fn identity(&self) -> io::Result<(u64, u64)> {
        let st = nix::sys::stat::fstatat(
            self.dir.as_fd(),
            self.name.as_c_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        #[allow(clippy::useless_conversion)] // dev_t/ino_t widths differ by platform
        Ok((u64::from(st.st_dev), u64::from(st.st_ino)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wrend-direntry-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_and_unlinks_through_the_directory_fixed_at_open() {
        let dir = scratch("fixed");
        let file = dir.join("wrend.conf");
        std::fs::write(&file, "first").unwrap();
        let entry = DirEntry::open(&file).unwrap();
        assert_eq!(entry.read_to_string().unwrap(), "first");
        std::fs::write(&file, "second").unwrap();
        assert_eq!(
            entry.read_to_string().unwrap(),
            "second",
            "re-read sees edits"
        );

        // The directory moves: the descriptor still names it.
        let moved = dir.with_extension("moved");
        let _ = std::fs::remove_dir_all(&moved);
        std::fs::rename(&dir, &moved).unwrap();
        assert_eq!(entry.read_to_string().unwrap(), "second");
        assert!(entry.identity().is_ok());
        entry.unlink().unwrap();
        assert!(!moved.join("wrend.conf").exists());
        assert_eq!(entry.unlink().unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(
            entry.read_to_string().unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        std::fs::remove_dir_all(&moved).unwrap();
    }

    #[test]
    fn bad_names_and_missing_directories_are_errors() {
        assert!(DirEntry::open(Path::new("/")).is_err());
        assert!(DirEntry::open(Path::new("/tmp/..")).is_err());
        assert_eq!(
            DirEntry::open(Path::new("/nonexistent-wren-dir/x"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        // A bare name lives in the current directory.
        let bare = DirEntry::open(Path::new("wrend-no-such-file")).unwrap();
        assert_eq!(
            bare.read_to_string().unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
