//! Reading the Kea configuration file into storage the daemon owns: read the text, splice
//! `<?include "file"?>` directives in (Kea resolves them textually, relative to the working
//! directory, about ten levels deep), [`wren_core::config::measure`] it, allocate one `Vec`
//! per [`ConfigStorage`] slice from the [`Capacity`], and [`wren_core::config::parse`] into
//! them. Allocation happens here, at start and on SIGHUP, never per packet.
//!
//! Errors name the file, line, column and key path (`kea-config.md` §4: `-t` prints
//! `Syntax check failed with: …`).

use std::fmt;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use wren_core::config::{
    self, Capacity, ClientClass, Config, ConfigError, ConfigStorage, ConfigWarning,
    CustomOptionDef, HookLibrary, Logger, OptionValue, Pool, Reservation, SharedNetwork, Subnet,
    TextRef,
};

/// Kea's include nesting limit.
const MAX_INCLUDE_DEPTH: usize = 10;

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
            LoadError::IncludeTooDeep { path } => write!(
                f,
                "{}: <?include?> nested more than {MAX_INCLUDE_DEPTH} levels",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads `path` and splices its includes in.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    let mut text = fs::read_to_string(path).map_err(|error| LoadError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let mut spliced = 0usize;
    loop {
        let include = config::next_include(&text).map_err(|error| LoadError::Invalid {
            path: path.to_path_buf(),
            error: Box::new(error),
        })?;
        let Some(include) = include else {
            return Ok(text);
        };
        spliced += 1;
        if spliced > MAX_INCLUDE_DEPTH * 16 {
            return Err(LoadError::IncludeTooDeep {
                path: path.to_path_buf(),
            });
        }
        let included_path = PathBuf::from(include.path);
        let range = include.range.clone();
        let content = fs::read_to_string(&included_path).map_err(|error| LoadError::Read {
            path: included_path,
            error,
        })?;
        text.replace_range(range, &content);
    }
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
    let mut warn = |w: &ConfigWarning| {
        let key = if w.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", w.path)
        };
        warnings.push(format!(
            "{}:{}:{}: {key}{}",
            path.display(),
            w.line,
            w.column,
            w.kind
        ));
    };
    config::parse(text, storage.storage(), &mut warn).map_err(|error| LoadError::Invalid {
        path: path.to_path_buf(),
        error: Box::new(error),
    })
}

/// Reads, measures and parses `path` into throw-away storage: the `-t` check and the
/// validation of a SIGHUP reload before the old configuration is let go. Returns the text
/// (to parse again for real) and the warnings.
pub fn check(path: &Path) -> Result<(String, Vec<String>), LoadError> {
    let text = read_text(path)?;
    let mut storage = allocate(path, &text)?;
    let mut warnings = Vec::new();
    parse(path, &text, &mut storage, &mut warnings)?;
    Ok((text, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
