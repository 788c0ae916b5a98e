//! Every file the server touches by name after start — the configuration and its
//! `<?include?>` files (SIGHUP, `config-reload`), `config-write` and auto-persist (temp
//! file, fsync, rename, timestamped backup), Kea file loggers (reopened on reload), the
//! control socket's file (removed at exit) — goes through one table of directory
//! descriptors opened before the sandbox point (freebsd.md §2).
//!
//! Why: in Capsicum capability mode `open`, `rename` and `unlink` by path are `ECAPMODE`,
//! while `openat`, `renameat`, `unlinkat` and `fstatat` relative to a directory descriptor
//! held from before `cap_enter` work, within that descriptor's rights. Linux runs exactly
//! the same code (the `*at` calls through the same table), so the unit tests below, the
//! e2e tests and `scripts/freebsd/capsicum-audit.sh` (strace: no `AT_FDCWD` after the
//! drop) check the FreeBSD logic there.
//!
//! How a name is resolved: made absolute against the working directory recorded when the
//! table was created (Kea resolves includes against it; `getcwd` itself is refused in
//! capability mode), `.` and `..` folded lexically, then split at the longest directory of
//! the table that contains it; the rest (which may cross subdirectories, never `..`) is
//! passed to the `*at` call. Before [`DirTable::seal`] a missing directory is opened on
//! first use and kept, so the start itself registers what the running server needs: the
//! configuration's directory and every include's (read), each log file's directory
//! (append), the control socket's directory (unlink), and — when a control channel exists
//! — the configuration directory for writing. After the seal (the sandbox point, whenever
//! `-u`/`-g`/`-C` is given, on every platform) a name outside the table is refused with
//! [`io::ErrorKind::PermissionDenied`] and a message saying a restart is needed; the old
//! state keeps serving.
//!
//! Each directory's descriptor is limited to the rights of what it was used for
//! ([`Access`], [`DirTable::limits`]): a configuration directory that is only read cannot
//! be written through, a socket directory can only have names removed.

use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::Right;

/// What a directory is used for; each adds its rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read files (configuration, includes).
    Read,
    /// Create and append (log files).
    Append,
    /// Replace files atomically, with a backup (config-write, auto-persist).
    Replace,
    /// Remove names (the control socket at exit).
    Unlink,
}

impl Access {
    const ALL: [Access; 4] = [
        Access::Read,
        Access::Append,
        Access::Replace,
        Access::Unlink,
    ];

    fn bit(self) -> u8 {
        match self {
            Access::Read => 1,
            Access::Append => 2,
            Access::Replace => 4,
            Access::Unlink => 8,
        }
    }

    /// The Capsicum rights this use needs on the directory (files opened through it inherit
    /// them, freebsd.md §2).
    pub fn rights(self) -> &'static [Right] {
        use Right::*;
        match self {
            Access::Read => &[Lookup, Read, Seek, Fstat, Fstatat],
            Access::Append => &[Lookup, Create, Write, Seek, Fstat, Fsync],
            // Temp file (create, write, fsync), backup (read the old file, create the copy),
            // rename over the target, fsync of the directory, removal of a failed temp.
            Access::Replace => &[
                Lookup,
                Create,
                Read,
                Write,
                Seek,
                Ftruncate,
                Fsync,
                Fstat,
                Fstatat,
                RenameatSource,
                RenameatTarget,
                Unlinkat,
            ],
            Access::Unlink => &[Lookup, Unlinkat],
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "reading",
            Access::Append => "appending",
            Access::Replace => "writing",
            Access::Unlink => "removing",
        })
    }
}

#[derive(Debug)]
struct Dir {
    path: PathBuf,
    fd: OwnedFd,
    access: u8,
}

/// The directory descriptors, and whether new ones may still be opened.
#[derive(Debug)]
pub struct DirTable {
    cwd: PathBuf,
    dirs: Vec<Dir>,
    /// Files that are symbolic links, and where they pointed before the seal.
    aliases: Vec<(PathBuf, PathBuf)>,
    sealed: bool,
}

/// `.` dropped, `..` folded, relative joined to `cwd`.
pub fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::from("/");
    for part in joined.components() {
        match part {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

fn c_name(relative: &Path) -> io::Result<CString> {
    CString::new(relative.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a file name"))
}

/// The system error as is: callers name the file (they know how it is shown to the user).
fn with_path(_path: &Path, e: impl Into<io::Error>) -> io::Error {
    e.into()
}

impl DirTable {
    /// A table resolving relative names against `cwd`.
    pub fn new(cwd: PathBuf) -> DirTable {
        DirTable {
            cwd,
            dirs: Vec::new(),
            aliases: Vec::new(),
            sealed: false,
        }
    }

    /// `path` made absolute; a file that is a symbolic link is replaced by its target.
    ///
    /// Why: in capability mode `openat` refuses to follow a link whose target is absolute
    /// or climbs out of the directory (`ENOTCAPABLE`), so `/usr/local/etc/wren/wrend.conf ->
    /// /usr/local/etc/kea/kea-dhcp4.conf` would read at start and fail at the first reload.
    /// Before the seal the link is resolved (`realpath`) and remembered; the target's
    /// directory is the one opened and used. A link made after the seal is followed by the
    /// kernel as far as the sandbox allows. `config-write` through a link writes its target,
    /// as Kea's does (it opens the name for writing).
    fn resolve(&mut self, path: &Path) -> PathBuf {
        let full = absolute(&self.cwd, path);
        if let Some((_, target)) = self.aliases.iter().find(|(link, _)| *link == full) {
            return target.clone();
        }
        if self.sealed {
            return full;
        }
        let is_link = std::fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            return full;
        }
        match std::fs::canonicalize(&full) {
            Ok(target) => {
                self.aliases.push((full, target.clone()));
                target
            }
            Err(_) => full, // a dangling link: the open reports it
        }
    }

    /// Opens, now, the directory that holds `file` (its link target's, for a symbolic
    /// link) for `access`.
    pub fn prepare_file(&mut self, file: &Path, access: Access) -> io::Result<()> {
        let full = self.resolve(file);
        let dir = full
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        self.prepare(&dir, access)
    }

    /// From now on no directory is opened by path: names outside the table are refused.
    pub fn seal(&mut self) {
        self.sealed = true;
    }

    /// Whether [`Self::seal`] ran.
    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// Opens `dir` now (before the seal) for `access`, or adds `access` to it.
    pub fn prepare(&mut self, dir: &Path, access: Access) -> io::Result<()> {
        let dir = absolute(&self.cwd, dir);
        if let Some(known) = self.dirs.iter_mut().find(|d| d.path == dir) {
            if known.access & access.bit() != 0 {
                return Ok(());
            }
            if self.sealed {
                return Err(self.refusal(&dir, access));
            }
            known.access |= access.bit();
            return Ok(());
        }
        if self.sealed {
            return Err(self.refusal(&dir, access));
        }
        let fd = nix::fcntl::open(
            &dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| with_path(&dir, e))?;
        self.dirs.push(Dir {
            path: dir,
            fd,
            access: access.bit(),
        });
        Ok(())
    }

    fn refusal(&self, _path: &Path, access: Access) -> io::Error {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "not in a directory opened for {access} before the sandbox point \
                 (restart wrend to use it)"
            ),
        )
    }

    /// The directory holding `path` (opened now if still allowed) and the name in it.
    fn locate(&mut self, path: &Path, access: Access) -> io::Result<(usize, CString)> {
        let full = self.resolve(path);
        let parent = match full.parent() {
            Some(p) if full.file_name().is_some() => p.to_path_buf(),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{} does not name a file", path.display()),
                ))
            }
        };
        let best = self
            .dirs
            .iter()
            .enumerate()
            .filter(|(_, d)| d.access & access.bit() != 0 && parent.starts_with(&d.path))
            .max_by_key(|(_, d)| d.path.components().count())
            .map(|(i, _)| i);
        let index = match best {
            Some(i) => i,
            None if self.sealed => return Err(self.refusal(&full, access)),
            None => {
                self.prepare(&parent, access)?;
                self.dirs
                    .iter()
                    .position(|d| d.path == parent)
                    .ok_or_else(|| self.refusal(&full, access))?
            }
        };
        let dir = self
            .dirs
            .get(index)
            .ok_or_else(|| self.refusal(&full, access))?;
        let relative = full
            .strip_prefix(&dir.path)
            .map_err(|_| self.refusal(&full, access))?;
        Ok((index, c_name(relative)?))
    }

    /// The descriptor of directory `index` (from [`Self::locate`]).
    fn fd(&self, index: usize) -> io::Result<BorrowedFd<'_>> {
        self.dirs
            .get(index)
            .map(|d| d.fd.as_fd())
            .ok_or_else(|| io::Error::other("directory table changed"))
    }

    fn open_file(&mut self, path: &Path, access: Access, flags: OFlag) -> io::Result<File> {
        self.open_file_mode(path, access, flags, 0o666)
    }

    /// [`Self::open_file`] creating with `mode` (before the umask): the mode is given at
    /// creation, so no `fchmod` right is needed.
    fn open_file_mode(
        &mut self,
        path: &Path,
        access: Access,
        flags: OFlag,
        mode: u32,
    ) -> io::Result<File> {
        let (index, name) = self.locate(path, access)?;
        let fd = nix::fcntl::openat(
            self.fd(index)?,
            name.as_c_str(),
            flags | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode as _),
        )
        .map_err(|e| with_path(path, e))?;
        Ok(File::from(fd))
    }

    /// Reads a whole file.
    pub fn read(&mut self, path: &Path) -> io::Result<Vec<u8>> {
        let mut file = self.open_file(path, Access::Read, OFlag::O_RDONLY)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| with_path(path, e))?;
        Ok(bytes)
    }

    /// Opens (creating it) a file for appending.
    pub fn open_append(&mut self, path: &Path) -> io::Result<File> {
        self.open_file(
            path,
            Access::Append,
            OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT,
        )
    }

    /// Removes a name.
    pub fn unlink(&mut self, path: &Path) -> io::Result<()> {
        let (index, name) = self.locate(path, Access::Unlink)?;
        nix::unistd::unlinkat(
            self.fd(index)?,
            name.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .map_err(|e| with_path(path, e))
    }

    /// Replaces `target` with `bytes` so that a crash leaves the old or the new file, never
    /// a mix: `.<name>.wren-tmp` is written and fsynced, the old file (if any) is copied to
    /// `<name>.<backup_suffix>.bak` when a suffix is given (`<suffix>-2`, `-3`, … when that
    /// name is taken: two writes in one second keep both old versions), the temp file is
    /// renamed over the target, and the directory is fsynced. [control API] The new file
    /// gets the old one's permission bits (a config holding passwords stays private), a
    /// new file `0600`.
    pub fn replace(
        &mut self,
        target: &Path,
        bytes: &[u8],
        backup_suffix: Option<&str>,
    ) -> io::Result<()> {
        let full = self.resolve(target);
        let name = full
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_os_string();
        let sibling = |n: String| full.with_file_name(n);
        let display = name.to_string_lossy().into_owned();
        let tmp = sibling(format!(".{display}.wren-tmp"));
        let mode = match self.open_file(&full, Access::Replace, OFlag::O_RDONLY) {
            Ok(old) => old
                .metadata()
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
                .unwrap_or(0o600),
            Err(_) => 0o600,
        };
        // A stale temp file would keep its own mode through O_CREAT.
        let _ = self.unlink_for_replace(&tmp);
        {
            let mut file = self.open_file_mode(
                &tmp,
                Access::Replace,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                mode,
            )?;
            file.write_all(bytes).map_err(|e| with_path(&tmp, e))?;
            file.sync_all().map_err(|e| with_path(&tmp, e))?;
        }
        if let Some(suffix) = backup_suffix {
            for n in 1..=100 {
                let backup = if n == 1 {
                    sibling(format!("{display}.{suffix}.bak"))
                } else {
                    sibling(format!("{display}.{suffix}-{n}.bak"))
                };
                match self.copy_within(&full, &backup) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => {}
                    Err(e) => {
                        let _ = self.unlink_for_replace(&tmp);
                        return Err(e);
                    }
                }
            }
        }
        let (from, tmp_name) = self.locate(&tmp, Access::Replace)?;
        let (to, target_name) = self.locate(&full, Access::Replace)?;
        let renamed = nix::fcntl::renameat(
            self.fd(from)?,
            tmp_name.as_c_str(),
            self.fd(to)?,
            target_name.as_c_str(),
        );
        if let Err(e) = renamed {
            let _ = self.unlink_for_replace(&tmp);
            return Err(with_path(target, e));
        }
        // The rename itself must survive a crash: fsync the directory.
        nix::unistd::fsync(self.fd(to)?).map_err(|e| with_path(target, e))
    }

    fn unlink_for_replace(&mut self, path: &Path) -> io::Result<()> {
        let (index, name) = self.locate(path, Access::Replace)?;
        nix::unistd::unlinkat(
            self.fd(index)?,
            name.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )?;
        Ok(())
    }

    /// Copies `from` to `to` in directories opened for [`Access::Replace`], keeping the
    /// permission bits, fsynced.
    fn copy_within(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let mut source = self.open_file(from, Access::Replace, OFlag::O_RDONLY)?;
        let mode = source
            .metadata()
            .map_err(|e| with_path(from, e))?
            .permissions();
        let mut bytes = Vec::new();
        source
            .read_to_end(&mut bytes)
            .map_err(|e| with_path(from, e))?;
        // O_EXCL: an existing backup is never overwritten (the caller picks another name).
        let mut copy = self.open_file(
            to,
            Access::Replace,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        )?;
        copy.write_all(&bytes).map_err(|e| with_path(to, e))?;
        copy.set_permissions(mode).map_err(|e| with_path(to, e))?;
        copy.sync_all().map_err(|e| with_path(to, e))
    }

    /// Each directory descriptor with the rights of everything it was opened for.
    pub fn limits(&self) -> Vec<(RawFd, Vec<Right>)> {
        self.dirs
            .iter()
            .map(|d| {
                let mut rights: Vec<Right> = Vec::new();
                for access in Access::ALL {
                    if d.access & access.bit() != 0 {
                        for right in access.rights() {
                            if !rights.contains(right) {
                                rights.push(*right);
                            }
                        }
                    }
                }
                (d.fd.as_raw_fd(), rights)
            })
            .collect()
    }

    /// The directories and what each was opened for (for the log and tests).
    pub fn describe(&self) -> Vec<(PathBuf, Vec<Access>)> {
        self.dirs
            .iter()
            .map(|d| {
                let uses = Access::ALL
                    .into_iter()
                    .filter(|a| d.access & a.bit() != 0)
                    .collect();
                (d.path.clone(), uses)
            })
            .collect()
    }
}

// ===================================================================================
// The process's table
// ===================================================================================

static TABLE: Mutex<Option<DirTable>> = Mutex::new(None);

fn with_table<R>(f: impl FnOnce(&mut DirTable) -> io::Result<R>) -> io::Result<R> {
    let mut guard = TABLE
        .lock()
        .map_err(|_| io::Error::other("directory table lock poisoned"))?;
    if guard.is_none() {
        let cwd = std::env::current_dir()?;
        *guard = Some(DirTable::new(cwd));
    }
    match guard.as_mut() {
        Some(table) => f(table),
        None => Err(io::Error::other("directory table missing")),
    }
}

/// [`DirTable::read`] on the process's table.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    with_table(|t| t.read(path))
}

/// Reads a whole file as UTF-8 through the process's table.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not UTF-8", path.display()),
        )
    })
}

/// [`DirTable::open_append`] on the process's table.
pub fn open_append(path: &Path) -> io::Result<File> {
    with_table(|t| t.open_append(path))
}

/// [`DirTable::unlink`] on the process's table.
pub fn unlink(path: &Path) -> io::Result<()> {
    with_table(|t| t.unlink(path))
}

/// [`DirTable::replace`] on the process's table.
pub fn replace(target: &Path, bytes: &[u8], backup_suffix: Option<&str>) -> io::Result<()> {
    with_table(|t| t.replace(target, bytes, backup_suffix))
}

/// [`DirTable::prepare`] on the process's table: `dir` is opened now for `access`.
pub fn prepare(dir: &Path, access: Access) -> io::Result<()> {
    with_table(|t| t.prepare(dir, access))
}

/// `path` made absolute against the process's recorded working directory, `.` and `..`
/// folded lexically (no file-system access: works in capability mode).
pub fn absolute_path(path: &Path) -> io::Result<PathBuf> {
    with_table(|t| Ok(absolute(&t.cwd, path)))
}

/// [`DirTable::prepare_file`] on the process's table: the directory holding `file` (or its
/// link target) is opened now for `access`.
pub fn prepare_file(file: &Path, access: Access) -> io::Result<()> {
    with_table(|t| t.prepare_file(file, access))
}

/// The parent directory of `file` (`.` for a bare name).
pub fn parent_of(file: &Path) -> &Path {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Seals the process's table (the sandbox point) and returns each directory descriptor's
/// rights for `cap_rights_limit`.
pub fn seal() -> io::Result<Vec<(RawFd, Vec<Right>)>> {
    with_table(|t| {
        t.seal();
        Ok(t.limits())
    })
}

/// What the process's table holds (for the log).
pub fn describe() -> Vec<(PathBuf, Vec<Access>)> {
    with_table(|t| Ok(t.describe())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wrend-dirs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        dir
    }

    #[test]
    fn names_are_made_absolute_lexically() {
        let cwd = Path::new("/etc/kea");
        assert_eq!(
            absolute(cwd, Path::new("a.json")),
            Path::new("/etc/kea/a.json")
        );
        assert_eq!(
            absolute(cwd, Path::new("./sub/../b.json")),
            Path::new("/etc/kea/b.json")
        );
        assert_eq!(absolute(cwd, Path::new("/x/./y")), Path::new("/x/y"));
        assert_eq!(absolute(cwd, Path::new("../../../..")), Path::new("/"));
    }

    #[test]
    fn before_the_seal_directories_open_on_first_use_and_stay() {
        let dir = scratch("first-use");
        std::fs::write(dir.join("main.json"), "main").unwrap();
        std::fs::write(dir.join("sub/inc.json"), "inc").unwrap();
        let mut table = DirTable::new(dir.clone());
        assert_eq!(table.read(Path::new("main.json")).unwrap(), b"main");
        // sub/inc.json is reached through the same directory (a path below it).
        assert_eq!(table.read(&dir.join("sub/inc.json")).unwrap(), b"inc");
        assert_eq!(table.describe(), vec![(dir.clone(), vec![Access::Read])]);

        table.seal();
        // Still readable after the seal, through the descriptor, even once renamed away.
        std::fs::write(dir.join("main.json"), "edited").unwrap();
        assert_eq!(table.read(&dir.join("main.json")).unwrap(), b"edited");
        // A directory not opened before: refused, naming the file.
        let other = scratch("first-use-other");
        std::fs::write(other.join("x.json"), "x").unwrap();
        let e = table.read(&other.join("x.json")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().contains("restart"), "{e}");
        // Nor may a known directory gain a use after the seal.
        let e = table.open_append(&dir.join("log.txt")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(!dir.join("log.txt").exists());
        // `..` cannot climb out of a known directory into an unknown one.
        let escape = dir
            .join("../")
            .join(other.file_name().unwrap())
            .join("x.json");
        assert_eq!(
            table.read(&escape).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&other).unwrap();
    }

    #[test]
    fn a_linked_file_is_reached_through_its_target_directory() {
        let conf = scratch("link-conf");
        let kea = scratch("link-kea");
        std::fs::write(kea.join("kea-dhcp4.conf"), "kea").unwrap();
        let link = conf.join("wrend.conf");
        std::os::unix::fs::symlink(kea.join("kea-dhcp4.conf"), &link).unwrap();
        let mut table = DirTable::new(PathBuf::from("/"));
        assert_eq!(table.read(&link).unwrap(), b"kea");
        table.prepare_file(&link, Access::Replace).unwrap();
        // The target's directory was opened (for reading and writing), not the link's.
        assert_eq!(
            table.describe(),
            vec![(kea.clone(), vec![Access::Read, Access::Replace])]
        );
        table.seal();
        std::fs::write(kea.join("kea-dhcp4.conf"), "edited").unwrap();
        assert_eq!(table.read(&link).unwrap(), b"edited");
        // config-write through the link replaces the target; the link stays a link.
        table.replace(&link, b"written", None).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            std::fs::read(kea.join("kea-dhcp4.conf")).unwrap(),
            b"written"
        );
        // A dangling link before the seal: the error is the open's.
        let mut fresh = DirTable::new(PathBuf::from("/"));
        let dangling = conf.join("dangling.conf");
        std::os::unix::fs::symlink(conf.join("nowhere"), &dangling).unwrap();
        assert_eq!(
            fresh.read(&dangling).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        std::fs::remove_dir_all(&conf).unwrap();
        std::fs::remove_dir_all(&kea).unwrap();
    }

    #[test]
    fn replace_writes_atomically_with_a_backup() {
        let dir = scratch("replace");
        let target = dir.join("kea-dhcp4.conf");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap();
        let mut table = DirTable::new(PathBuf::from("/"));
        table.prepare(&dir, Access::Replace).unwrap();
        table.seal();
        table.replace(&target, b"new", Some("1700000000")).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let backup = dir.join("kea-dhcp4.conf.1700000000.bak");
        assert_eq!(std::fs::read(&backup).unwrap(), b"old");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&backup).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o640);
        assert!(!dir.join(".kea-dhcp4.conf.wren-tmp").exists());
        // A first write (no old file) has nothing to back up; no suffix, no backup.
        let fresh = dir.join("fresh.json");
        table.replace(&fresh, b"1", Some("1")).unwrap();
        table.replace(&fresh, b"2", None).unwrap();
        assert_eq!(std::fs::read(&fresh).unwrap(), b"2");
        assert!(!dir.join("fresh.json.1.bak").exists());
        // A directory that was only read cannot be written.
        let read_only = scratch("replace-ro");
        let mut table = DirTable::new(PathBuf::from("/"));
        table.prepare(&read_only, Access::Read).unwrap();
        table.seal();
        assert_eq!(
            table
                .replace(&read_only.join("x"), b"x", None)
                .unwrap_err()
                .kind(),
            io::ErrorKind::PermissionDenied
        );
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&read_only).unwrap();
    }

    #[test]
    fn append_and_unlink_through_the_table() {
        let dir = scratch("append");
        let log = dir.join("wrend.log");
        let socket = dir.join("sub/ctrl.sock");
        std::fs::write(&socket, "").unwrap();
        let mut table = DirTable::new(PathBuf::from("/"));
        table.prepare(&dir, Access::Append).unwrap();
        table.prepare(&dir.join("sub"), Access::Unlink).unwrap();
        table.seal();
        table.open_append(&log).unwrap().write_all(b"a\n").unwrap();
        table.open_append(&log).unwrap().write_all(b"b\n").unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"a\nb\n");
        table.unlink(&socket).unwrap();
        assert!(!socket.exists());
        assert_eq!(
            table.unlink(&socket).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // The log directory was opened for appending only: no removal there.
        assert_eq!(
            table.unlink(&log).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rights_follow_the_uses() {
        let dir = scratch("rights");
        let mut table = DirTable::new(PathBuf::from("/"));
        table.prepare(&dir, Access::Read).unwrap();
        table.prepare(&dir.join("sub"), Access::Unlink).unwrap();
        let limits = table.limits();
        assert_eq!(limits.len(), 2);
        let read = &limits[0].1;
        assert!(read.contains(&Right::Lookup) && read.contains(&Right::Read));
        assert!(!read.contains(&Right::Write) && !read.contains(&Right::Create));
        assert_eq!(limits[1].1, vec![Right::Lookup, Right::Unlinkat]);
        table.prepare(&dir, Access::Replace).unwrap();
        let both = &table.limits()[0].1;
        assert!(both.contains(&Right::RenameatTarget) && both.contains(&Right::Read));
        let unique: std::collections::HashSet<_> = both.iter().collect();
        assert_eq!(unique.len(), both.len(), "no right listed twice");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
