//! Reading the Kea configuration file into storage the daemon owns: read the text, splice
//! `<?include "file"?>` directives in with core's [`wren_core::config::include::splice`]
//! (Kea resolves them textually, relative to the working directory, ten levels deep),
//! [`wren_core::config::measure`] it, allocate one `Vec`
//! per [`ConfigStorage`] slice from the [`Capacity`], and [`wren_core::config::parse`] into
//! them. Allocation happens here, at start and on SIGHUP, never per packet.
//!
//! Errors and warnings name the file, line, column and key path (`kea-config.md` §4: `-t`
//! prints `Syntax check failed with: …`); inside an included file, that file and its own
//! line and column ([`check`], through core's `SourceMap`).

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use wren_core::config::{
    self, Capacity, ClientClass, Config, ConfigError, ConfigStorage, ConfigWarning,
    CustomOptionDef, HookLibrary, Logger, OptionValue, Pool, Reservation, SharedNetwork, Subnet,
    TextRef,
};

use wren_core::config::include::MAX_INCLUDE_DEPTH;
use wren_core::config::{Segment, SourceMap, SpliceError};

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file (or an included one) could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: io::Error,
    },
    /// The text is not a valid Kea `Dhcp4` configuration.
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// Line, column, key path and reason (boxed: it carries its path inline).
        error: Box<ConfigError>,
    },
    /// A client class's `test` expression does not compile (Kea rejects the whole
    /// configuration; so does wren, rather than serving with the class silently off).
    ClassTest {
        /// The configuration file.
        path: PathBuf,
        /// `Dhcp4.client-classes[i].test: client class "X": test: column N: …`.
        message: String,
    },
    /// Includes nested deeper than Kea allows (a loop, most likely).
    IncludeTooDeep {
        /// The configuration file.
        path: PathBuf,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            LoadError::Invalid { path, error } => {
                write!(f, "{}:{}:{}: ", path.display(), error.line, error.column)?;
                if !error.path.is_empty() {
                    write!(f, "{}: ", error.path)?;
                }
                write!(f, "{}", error.kind)
            }
            LoadError::ClassTest { path, message } => write!(f, "{}: {message}", path.display()),
            LoadError::IncludeTooDeep { path } => write!(
                f,
                "{}: <?include?> nested more than {MAX_INCLUDE_DEPTH} levels",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads `path` and splices its includes in ([`wren_core::config::include::splice`]).
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    with_spliced(path, |text, _| text.to_owned())
}

/// A position in the spliced text, placed in the file it came from.
struct Located<'f> {
    path: &'f Path,
    line: u32,
    column: u32,
}

/// The files of one splice (index 0: the main file) and its source map.
struct Sources<'m> {
    files: &'m [PathBuf],
    map: SourceMap<'m>,
    text: &'m str,
}

impl Sources<'_> {
    /// Where spliced `line`:`column` is in its own file (the main file's position when the
    /// map cannot place it).
    fn locate(&self, line: u32, column: u32) -> Located<'_> {
        let main = self.files.first().map_or(Path::new(""), PathBuf::as_path);
        self.map
            .locate(self.text, line, column)
            .and_then(|at| {
                let path = self.files.get(usize::try_from(at.file).ok()?)?;
                Some(Located {
                    path,
                    line: at.line,
                    column: at.column,
                })
            })
            .unwrap_or(Located {
                path: main,
                line,
                column,
            })
    }
}

/// Splices `path` and its includes and hands `then` the text and where each part came
/// from. The buffers start at twice the main file and grow on
/// [`SpliceError::BufferTooSmall`] / [`SpliceError::TooManySegments`] (allocation at load
/// time only).
fn with_spliced<R>(
    path: &Path,
    then: impl FnOnce(&str, &Sources<'_>) -> R,
) -> Result<R, LoadError> {
    // [freebsd branch] Through the directory table: works after the sandbox point.
    let main = crate::sandbox::dirs::read_to_string(path).map_err(|error| LoadError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let mut out = vec![0u8; main.len().saturating_mul(2).max(4096)];
    let mut segments = vec![Segment::EMPTY; 16];
    loop {
        let mut files = vec![path.to_path_buf()];
        let read = |name: &str, _at, dst: &mut [u8]| -> Result<usize, (PathBuf, io::Error)> {
            let included = PathBuf::from(name);
            let bytes = crate::sandbox::dirs::read(&included).map_err(|e| (included.clone(), e))?;
            if let Some(d) = dst.get_mut(..bytes.len()) {
                d.copy_from_slice(&bytes);
            }
            files.push(included);
            Ok(bytes.len())
        };
        match config::splice(&main, &mut out, &mut segments, read) {
            Ok((text, map)) => {
                let sources = Sources {
                    files: &files,
                    map,
                    text,
                };
                return Ok(then(text, &sources));
            }
            Err(SpliceError::BufferTooSmall { needed }) => {
                let grown = needed.max(out.len().saturating_mul(2));
                out = vec![0u8; grown];
            }
            Err(SpliceError::TooManySegments) => {
                segments = vec![Segment::EMPTY; segments.len().saturating_mul(2)];
            }
            Err(SpliceError::TooDeep { at }) => {
                return Err(LoadError::IncludeTooDeep {
                    path: file_of(&files, at.file, path),
                })
            }
            Err(SpliceError::NotUtf8 { at }) => {
                return Err(LoadError::Read {
                    path: files
                        .get(files.len().saturating_sub(1))
                        .cloned()
                        .unwrap_or_default(),
                    error: io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "included from {}:{}:{}: not UTF-8 text",
                            file_of(&files, at.file, path).display(),
                            at.line,
                            at.column
                        ),
                    ),
                })
            }
            Err(SpliceError::Read {
                error: (included, error),
                ..
            }) => {
                return Err(LoadError::Read {
                    path: included,
                    error,
                })
            }
        }
    }
}

fn file_of(files: &[PathBuf], index: u32, main: &Path) -> PathBuf {
    usize::try_from(index)
        .ok()
        .and_then(|i| files.get(i))
        .cloned()
        .unwrap_or_else(|| main.to_path_buf())
}

/// One `Vec` per [`ConfigStorage`] slice.
#[derive(Debug, Default)]
pub struct OwnedConfigStorage {
    subnets: Vec<Subnet>,
    shared_networks: Vec<SharedNetwork>,
    pools: Vec<Pool>,
    reservations: Vec<Reservation>,
    options: Vec<OptionValue>,
    option_defs: Vec<CustomOptionDef>,
    classes: Vec<ClientClass>,
    loggers: Vec<Logger>,
    hooks: Vec<HookLibrary>,
    addresses: Vec<Ipv4Addr>,
    names: Vec<TextRef>,
    text: Vec<u8>,
    reservation_id_slots: Vec<u32>,
    reservation_addr_slots: Vec<u32>,
}

impl OwnedConfigStorage {
    /// Allocates exactly what `capacity` asks for.
    pub fn for_capacity(capacity: &Capacity) -> OwnedConfigStorage {
        OwnedConfigStorage {
            subnets: vec![Subnet::EMPTY; capacity.subnets],
            shared_networks: vec![SharedNetwork::EMPTY; capacity.shared_networks],
            pools: vec![Pool::EMPTY; capacity.pools],
            reservations: vec![Reservation::EMPTY; capacity.reservations],
            options: vec![OptionValue::EMPTY; capacity.options],
            option_defs: vec![CustomOptionDef::EMPTY; capacity.option_defs],
            classes: vec![ClientClass::EMPTY; capacity.classes],
            loggers: vec![Logger::EMPTY; capacity.loggers],
            hooks: vec![HookLibrary::EMPTY; capacity.hooks],
            addresses: vec![Ipv4Addr::UNSPECIFIED; capacity.addresses],
            names: vec![TextRef::EMPTY; capacity.names],
            text: vec![0; capacity.text],
            reservation_id_slots: vec![0; capacity.reservation_id_slots],
            reservation_addr_slots: vec![0; capacity.reservation_addr_slots],
        }
    }

    /// The slices, for [`wren_core::config::parse`].
    pub fn storage(&mut self) -> ConfigStorage<'_> {
        ConfigStorage {
            subnets: &mut self.subnets,
            shared_networks: &mut self.shared_networks,
            pools: &mut self.pools,
            reservations: &mut self.reservations,
            options: &mut self.options,
            option_defs: &mut self.option_defs,
            classes: &mut self.classes,
            loggers: &mut self.loggers,
            hooks: &mut self.hooks,
            addresses: &mut self.addresses,
            names: &mut self.names,
            text: &mut self.text,
            reservation_id_slots: &mut self.reservation_id_slots,
            reservation_addr_slots: &mut self.reservation_addr_slots,
        }
    }
}

/// Measures `text` and allocates its storage.
pub fn allocate(path: &Path, text: &str) -> Result<OwnedConfigStorage, LoadError> {
    let capacity = config::measure(text).map_err(|error| LoadError::Invalid {
        path: path.to_path_buf(),
        error: Box::new(error),
    })?;
    Ok(OwnedConfigStorage::for_capacity(&capacity))
}

/// Parses `text` into `storage` (from [`allocate`] on the same text), logging warnings
/// with the file name.
pub fn parse<'s>(
    path: &Path,
    text: &str,
    storage: &'s mut OwnedConfigStorage,
    warnings: &mut Vec<String>,
) -> Result<Config<'s>, LoadError> {
    let mut warn = |w: &ConfigWarning| warnings.push(warning_line(path, w.line, w.column, w));
    let config =
        config::parse(text, storage.storage(), &mut warn).map_err(|error| LoadError::Invalid {
            path: path.to_path_buf(),
            error: Box::new(error),
        })?;
    check_class_tests(path, &config)?;
    Ok(config)
}

/// Compiles every client class `test` into throw-away storage, so that a bad expression
/// fails the load (`-t`, start, reload) with the class named, as Kea does.
pub fn check_class_tests(path: &Path, config: &Config<'_>) -> Result<(), LoadError> {
    crate::engine_glue::CompiledClasses::try_compile(config)
        .map(|_| ())
        .map_err(|message| LoadError::ClassTest {
            path: path.to_path_buf(),
            message,
        })
}

/// Reads, measures and parses `path` into throw-away storage: the `-t` check and the
/// validation of a SIGHUP reload before the old configuration is let go. Returns the text
/// (to parse again for real) and the warnings.
pub fn check(path: &Path) -> Result<(String, Vec<String>), LoadError> {
    with_spliced(path, |text, sources| {
        let capacity = config::measure(text).map_err(|error| invalid(sources, error))?;
        let mut storage = OwnedConfigStorage::for_capacity(&capacity);
        let mut warnings = Vec::new();
        let mut warn = |w: &ConfigWarning| {
            let at = sources.locate(w.line, w.column);
            warnings.push(warning_line(at.path, at.line, at.column, w));
        };
        let config =
            config::parse(text, storage.storage(), &mut warn).map_err(|e| invalid(sources, e))?;
        check_class_tests(path, &config)?;
        Ok((text.to_owned(), warnings))
    })?
}

/// A parse error placed in the file (main or included) it is in.
fn invalid(sources: &Sources<'_>, mut error: ConfigError) -> LoadError {
    let at = sources.locate(error.line, error.column);
    let path = at.path.to_path_buf();
    (error.line, error.column) = (at.line, at.column);
    LoadError::Invalid {
        path,
        error: Box::new(error),
    }
}

/// `file:line:col: key: warning`.
fn warning_line(path: &Path, line: u32, column: u32, w: &ConfigWarning) -> String {
    let key = if w.path.is_empty() {
        String::new()
    } else {
        format!("{}: ", w.path)
    };
    format!("{}:{line}:{column}: {key}{}", path.display(), w.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn scratch(name: &str, content: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wrend-config-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        fs::write(&path, content).unwrap();
        path
    }

    const SMALL: &str = r#"{
  "Dhcp4": {
    "interfaces-config": { "interfaces": [ "veth-w0" ] },
    "lease-database": { "type": "memfile", "name": "/tmp/x.csv" },
    "valid-lifetime": 600,
    "subnet4": [ { "id": 1, "subnet": "198.18.0.0/24",
                   "pools": [ { "pool": "198.18.0.100 - 198.18.0.200" } ] } ]
  }
}"#;

    #[test]
    fn loads_a_small_config() {
        let path = scratch("small.json", SMALL);
        let (text, warnings) = check(&path).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut storage = allocate(&path, &text).unwrap();
        let mut w = Vec::new();
        let config = parse(&path, &text, &mut storage, &mut w).unwrap();
        assert_eq!(config.subnets.len(), 1);
        assert_eq!(config.pools.len(), 1);
        assert_eq!(config.globals.lease_database.lfc_interval, 3600);
    }

    #[test]
    fn errors_name_file_line_column_and_key() {
        let bad = SMALL.replace("\"valid-lifetime\": 600", "\"valid-lifetime\": \"x\"");
        let path = scratch("bad.json", &bad);
        let e = check(&path).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{}:5:", path.display())),
            "{text}"
        );
        assert!(text.contains("valid-lifetime"), "{text}");
    }

    #[test]
    fn warnings_name_file_line_column_and_key() {
        let with_comma = SMALL.replace(
            "\"pools\": [ { \"pool\": \"198.18.0.100 - 198.18.0.200\" } ] } ]",
            "\"pools\": [ { \"pool\": \"198.18.0.100 - 198.18.0.200\" }, ] } ]",
        );
        assert_ne!(with_comma, SMALL);
        let path = scratch("comma.json", &with_comma);
        let (_, warnings) = check(&path).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let prefix = format!("{}:7:", path.display());
        assert!(warnings[0].starts_with(&prefix), "{warnings:?}");
    }

    #[test]
    fn a_class_test_that_does_not_compile_fails_the_load() {
        let bad = SMALL.replace(
            "\"valid-lifetime\": 600,",
            "\"valid-lifetime\": 600,\n    \"client-classes\": [ { \"name\": \"PXE\", \"test\": \"option[93.hex == 'x'\" } ],",
        );
        assert_ne!(bad, SMALL);
        let path = scratch("badclass.json", &bad);
        let e = check(&path).unwrap_err();
        assert!(matches!(e, LoadError::ClassTest { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("Dhcp4.client-classes[0].test: client class \"PXE\": test: column 10"),
            "{text}"
        );
        let mut storage = allocate(&path, &bad).unwrap();
        let mut w = Vec::new();
        assert!(parse(&path, &bad, &mut storage, &mut w).is_err());
    }

    #[test]
    fn missing_file() {
        let e = check(Path::new("/nonexistent/wren.json")).unwrap_err();
        assert!(matches!(e, LoadError::Read { .. }));
        assert!(e.to_string().contains("/nonexistent/wren.json"));
    }

    #[test]
    fn includes_are_spliced() {
        let sub = scratch(
            "sub.json",
            r#"{ "id": 1, "subnet": "198.18.0.0/24", "pools": [ { "pool": "198.18.0.100 - 198.18.0.200" } ] }"#,
        );
        let main = scratch(
            "main.json",
            &format!(
                "{{ \"Dhcp4\": {{ \"subnet4\": [ <?include \"{}\"?> ] }} }}",
                sub.display()
            ),
        );
        let text = read_text(&main).unwrap();
        assert!(text.contains("198.18.0.0/24"));
        assert!(!text.contains("<?include"));
    }

    /// An error inside an included file names that file, its own line and column, and the
    /// key (as `-t` prints it); a warning there too.
    #[test]
    fn errors_in_an_included_file_name_that_file() {
        let sub = scratch(
            "bad-sub.json",
            "{ \"id\": 1,\n  \"subnet\": \"198.18.0.0/24\",\n  \"valid-lifetime\": \"x\" }",
        );
        let main = scratch(
            "includes-bad.json",
            &format!(
                "{{ \"Dhcp4\": {{\n \"valid-lifetime\": 600,\n \"subnet4\": [ <?include \"{}\"?> ] }} }}",
                sub.display()
            ),
        );
        let text = check(&main).unwrap_err().to_string();
        assert!(
            text.starts_with(&format!("{}:3:21: ", sub.display())),
            "{text}"
        );
        assert!(text.contains("Dhcp4.subnet4[0].valid-lifetime"), "{text}");

        let warn_sub = scratch(
            "comma-sub.json",
            "{ \"id\": 1,\n \"subnet\": \"198.18.0.0/24\", }",
        );
        let warn_main = scratch(
            "includes-comma.json",
            &format!(
                "{{ \"Dhcp4\": {{ \"subnet4\": [ <?include \"{}\"?> ] }} }}",
                warn_sub.display()
            ),
        );
        let (_, warnings) = check(&warn_main).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(&format!("{}:2:", warn_sub.display())),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_missing_included_file_is_named() {
        let main = scratch(
            "includes-missing.json",
            "{ \"Dhcp4\": { \"subnet4\": [ <?include \"/nonexistent/wren-sub.json\"?> ] } }",
        );
        let e = check(&main).unwrap_err();
        assert!(matches!(e, LoadError::Read { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/wren-sub.json"), "{e}");
    }

    #[test]
    fn an_include_loop_is_too_deep() {
        let dir = std::env::temp_dir().join(format!("wrend-config-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let looped = dir.join("loop.json");
        fs::write(
            &looped,
            format!("{{ \"Dhcp4\": <?include \"{}\"?> }}", looped.display()),
        )
        .unwrap();
        let e = check(&looped).unwrap_err();
        assert!(matches!(e, LoadError::IncludeTooDeep { .. }), "{e:?}");
    }
}
