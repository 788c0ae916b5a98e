//! Glue to the config model: compile a loaded [`Config`]'s `client-classes` in order, with
//! option names resolved through the global `option-def`s (kea-expressions.md §2: standard
//! `dhcp4` definitions, then global `option-def`, then last resort).

use core::fmt;

use super::classes::{compile_class, CompiledClass};
use super::parser::{ClassRef, Resolver};
use super::program::ExprStore;
use super::ParseError;
use crate::config::model::OptionSpace;
use crate::config::Config;
use crate::option_def::OptionType;

/// Custom option definitions of a config: its global `option-def`s in space `dhcp4`.
pub struct ConfigOptionDefs<'r, 'c> {
    config: &'r Config<'c>,
}

impl<'r, 'c> ConfigOptionDefs<'r, 'c> {
    /// A resolver over `config`'s global option definitions.
    pub fn new(config: &'r Config<'c>) -> Self {
        ConfigOptionDefs { config }
    }

    fn dhcp4_defs(&self) -> impl Iterator<Item = &crate::config::model::CustomOptionDef> + '_ {
        self.config
            .option_defs
            .get(self.config.globals.option_defs.as_range())
            .unwrap_or(&[])
            .iter()
            .filter(|d| d.space == OptionSpace::Dhcp4)
    }
}

impl Resolver for ConfigOptionDefs<'_, '_> {
    fn custom_option(&self, name: &str) -> Option<(u8, bool)> {
        self.dhcp4_defs()
            .find(|d| self.config.bytes(d.name) == name.as_bytes())
            .map(|d| (d.code, d.kind.value_type() == OptionType::String))
    }

    fn custom_option_is_string(&self, code: u8) -> Option<bool> {
        self.dhcp4_defs()
            .find(|d| d.code == code)
            .map(|d| d.kind.value_type() == OptionType::String)
    }

    fn class(&self, _name: &[u8]) -> Option<ClassRef> {
        None
    }
}

/// A class whose `test` does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassCompileError<'c> {
    /// Index of the class in `client-classes`.
    pub class: usize,
    /// Its name.
    pub name: &'c str,
    /// What is wrong with the test.
    pub error: ParseError,
}

impl fmt::Display for ClassCompileError<'_> {
    /// `client class "PXE": test: column 17: expected ']'`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client class \"{}\": test: {}", self.name, self.error)
    }
}

/// Op and literal storage that always suffices for `config`'s class tests:
/// `(ops, literal bytes)`.
pub fn storage_needed(config: &Config<'_>) -> (usize, usize) {
    config.classes.iter().fold((0, 0), |(ops, literals), c| {
        let len = config.bytes(c.test).len();
        (
            ops + ExprStore::ops_needed(len),
            literals + ExprStore::literals_needed(len),
        )
    })
}

/// Compile every class of `config` in configuration order into `store`, writing
/// `out[i]` for `config.classes[i]`. `out` needs `config.classes.len()` slots; returns
/// how many were written (all of them on success).
pub fn compile_config_classes<'c>(
    config: &Config<'c>,
    store: &mut ExprStore<'_>,
    out: &mut [CompiledClass<'c>],
) -> Result<usize, ClassCompileError<'c>> {
    let defs = ConfigOptionDefs::new(config);
    let mut count = 0;
    for (i, class) in config.classes.iter().enumerate() {
        let name = config.bytes(class.name);
        let error = |error| ClassCompileError {
            class: i,
            name: config.str(class.name),
            error,
        };
        let (earlier, rest) = out.split_at_mut(count);
        let Some(slot) = rest.first_mut() else {
            return Err(error(ParseError {
                kind: super::ParseErrorKind::ClassStorageFull,
                column: 1,
                token: (0, 0),
            }));
        };
        *slot = compile_class(
            store,
            earlier,
            name,
            config.str(class.test),
            class.only_if_required,
            &defs,
        )
        .map_err(error)?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use core::net::Ipv4Addr;
    use std::string::ToString;
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::assign::subnet_select::Membership;
    use crate::classify::engine_glue::CompiledClassTests;
    use crate::classify::program::Op;
    use crate::config::model::*;
    use crate::config::{measure, parse};
    use crate::server::classes::{run_class_pass, PacketClasses, Pass};
    use crate::server::{class_words, Interface, Query, Transport};
    use crate::wire::message::Message;
    use crate::wire::options::OptionWriter;

    const SEED: &str = include_str!("../../tests/fixtures/seed-198.conf");

    /// Load `text`, compile its classes, and hand both to `f`.
    fn with_classes(
        text: &str,
        f: impl FnOnce(&Config<'_>, Result<CompiledClassTests<'_, '_>, std::string::String>),
    ) {
        let c = measure(text).unwrap();
        let mut subnets = vec![Subnet::EMPTY; c.subnets];
        let mut shared_networks = vec![SharedNetwork::EMPTY; c.shared_networks];
        let mut pools = vec![Pool::EMPTY; c.pools];
        let mut reservations = vec![Reservation::EMPTY; c.reservations];
        let mut options = vec![OptionValue::EMPTY; c.options];
        let mut option_defs = vec![CustomOptionDef::EMPTY; c.option_defs];
        let mut classes = vec![ClientClass::EMPTY; c.classes];
        let mut loggers = vec![Logger::EMPTY; c.loggers];
        let mut hooks = vec![HookLibrary::EMPTY; c.hooks];
        let mut addresses = vec![Ipv4Addr::UNSPECIFIED; c.addresses];
        let mut names = vec![TextRef::EMPTY; c.names];
        let mut text_arena = vec![0; c.text];
        let mut id_slots = vec![0; c.reservation_id_slots];
        let mut addr_slots = vec![0; c.reservation_addr_slots];
        let storage = ConfigStorage {
            subnets: &mut subnets,
            shared_networks: &mut shared_networks,
            pools: &mut pools,
            reservations: &mut reservations,
            options: &mut options,
            option_defs: &mut option_defs,
            classes: &mut classes,
            loggers: &mut loggers,
            hooks: &mut hooks,
            addresses: &mut addresses,
            names: &mut names,
            text: &mut text_arena,
            reservation_id_slots: &mut id_slots,
            reservation_addr_slots: &mut addr_slots,
        };
        let config = parse(text, storage, &mut |_| {}).unwrap();
        let (ops_needed, literals_needed) = storage_needed(&config);
        let mut ops = vec![Op::Concat; ops_needed];
        let mut literals = vec![0u8; literals_needed];
        let mut store = ExprStore::new(&mut ops, &mut literals);
        let mut compiled = vec![
            CompiledClass {
                name: b"",
                test: None,
                only_if_required: false
            };
            config.classes.len()
        ];
        match compile_config_classes(&config, &mut store, &mut compiled) {
            Ok(n) => {
                assert_eq!(n, config.classes.len());
                let table = CompiledClassTests {
                    view: store.view(),
                    classes: &compiled,
                };
                f(&config, Ok(table));
            }
            Err(e) => f(&config, Err(e.to_string())),
        }
    }

    /// The configured classes (indices) a DISCOVER with `options` ends up in, through the
    /// engine's class machinery: pass 1, then the required classes of the first subnet.
    fn classes_of(
        config: &Config<'_>,
        table: &CompiledClassTests<'_, '_>,
        options: &[(u8, &[u8])],
    ) -> Vec<usize> {
        let mut packet = vec![0u8; 240];
        packet[0] = 1;
        packet[1] = 1;
        packet[2] = 6;
        packet[236..240].copy_from_slice(&[99, 130, 83, 99]);
        let mut area = [0u8; 300];
        let mut w = OptionWriter::new(&mut area);
        w.write(53, &[1]).unwrap();
        for (code, value) in options {
            w.write(*code, value).unwrap();
        }
        let n = w.finish().unwrap();
        packet.extend_from_slice(&area[..n]);
        let mut scratch = vec![0u8; packet.len()];
        let message = Message::parse(&packet, &mut scratch).unwrap();
        let query = Query {
            payload: &packet,
            interface: Interface {
                name: "ue0",
                addresses: &[],
                mac: [0; 6],
            },
            source_ip: Ipv4Addr::UNSPECIFIED,
            source_port: 68,
            destination_ip: Ipv4Addr::BROADCAST,
            source_mac: [0; 6],
            transport: Transport::Raw,
        };
        let vendor = message.vendor_class_identifier().unwrap_or(&[]);
        let mut bits = vec![0u64; class_words(config.classes.len())];
        let classes = PacketClasses::new(config, vendor);
        run_class_pass(config, table, &query, &classes, &mut bits, Pass::One);
        let classes = classes.with_tested(&bits, Some(table));
        assert!(!classes.is_member(b"PXE Host"));
        // "PXE Host" required (the seed's subnet requires nothing: a config copy whose
        // name list has it).
        let mut names = config.names.to_vec();
        let required = IndexRange {
            start: names.len() as u32,
            len: 1,
        };
        names.extend(
            config
                .classes
                .iter()
                .filter(|c| config.bytes(c.name) == b"PXE Host")
                .map(|c| c.name),
        );
        let with_names = Config {
            names: &names,
            ..*config
        };
        let classes = PacketClasses::new(&with_names, vendor)
            .with_tested(&bits, Some(table))
            .with_required(
                [IndexRange::EMPTY, required, IndexRange::EMPTY],
                table,
                &query,
            );
        assert!(classes.is_member(b"ALL"));
        assert!(!classes.is_member(b"KNOWN"));
        assert!(!classes.is_member(b"UNKNOWN"));
        classes.configured().collect()
    }

    #[test]
    fn seed_config_classes_compile_and_assign() {
        with_classes(SEED, |config, table| {
            let table = table.unwrap();
            assert_eq!(config.classes.len(), 4);
            assert_eq!(table.classes[3].name, b"PXE Host");
            assert!(table.classes[3].only_if_required);
            assert_eq!(classes_of(config, &table, &[(93, &[0, 0])]), [0, 3]);
            assert_eq!(classes_of(config, &table, &[(93, &[0, 7])]), [1, 3]);
            assert_eq!(classes_of(config, &table, &[(77, b"iPXE")]), [2, 3]);
            assert_eq!(
                classes_of(config, &table, &[(93, &[0, 6])]),
                [] as [usize; 0]
            );
        });
    }

    #[test]
    fn custom_option_def_names_and_errors_name_the_class() {
        let text = r#"{ "Dhcp4": {
            "option-def": [ { "name": "pi-tag", "code": 224, "type": "string" } ],
            "client-classes": [
                { "name": "pi", "test": "option[pi-tag].text == 'pi'" },
                { "name": "VENDOR_CLASS_udhcp 1.35.0" },
                { "name": "bad", "test": "option[pi-tag.text == 'pi'" }
            ] } }"#;
        with_classes(text, |_, table| {
            assert_eq!(
                table.err().unwrap(),
                "client class \"bad\": test: column 14: expected ']'"
            );
        });
        let text = text.replace("option[pi-tag.text == 'pi'", "option[pi-tag].text == 'no'");
        with_classes(&text, |config, table| {
            let table = table.unwrap();
            assert_eq!(classes_of(config, &table, &[(224, b"pi")]), [0]);
            assert_eq!(
                classes_of(config, &table, &[(224, b"pi"), (60, b"udhcp 1.35.0")]),
                [1, 0]
            );
        });
    }
}
