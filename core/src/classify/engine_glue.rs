//! The classification module as the engine's [`ClassTests`]: the configured classes,
//! compiled once per config load ([`super::compile_config_classes`]), evaluated against each
//! query with Kea's expression semantics (kea-expressions.md §4) while the engine keeps the
//! assignment order of §5 ([`crate::server::classes`]).

use super::classes::CompiledClass;
use super::eval::{evaluate, ClassQuery, EvalContext, RECOMMENDED_SCRATCH};
use super::program::ExprView;
use crate::assign::subnet_select::Membership;
use crate::server::accept::QUERY_OPTIONS_SCRATCH;
use crate::server::{ClassTests, Query};
use crate::wire::message::Message;

/// Compiled class tests for [`crate::server::Engine::with_class_tests`]: `classes[i]` is
/// `config.classes[i]` compiled into `view`.
#[derive(Clone, Copy, Debug)]
pub struct CompiledClassTests<'v, 'c> {
    /// The compiled programs.
    pub view: ExprView<'v>,
    /// One entry per configured class, in configuration order.
    pub classes: &'v [CompiledClass<'c>],
}

/// `member(…)` as the engine's membership sees it: a class index is asked by name, and
/// KNOWN/UNKNOWN are undecided (`None`) before the host lookup.
struct EngineMembership<'m, 'v, 'c> {
    classes: &'v [CompiledClass<'c>],
    member: &'m dyn Membership,
}

impl ClassQuery for EngineMembership<'_, '_, '_> {
    fn has_class(&self, index: u32) -> bool {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.classes.get(i))
            .is_some_and(|c| self.member.is_member(c.name))
    }

    fn known(&self) -> Option<bool> {
        if self.member.is_member(b"KNOWN") {
            Some(true)
        } else if self.member.is_member(b"UNKNOWN") {
            Some(false)
        } else {
            None
        }
    }

    /// `member('HA_…')`: the hook classes the engine put the packet in.
    fn has_named(&self, name: &[u8]) -> bool {
        self.member.is_member(name)
    }
}

impl ClassTests for CompiledClassTests<'_, '_> {
    /// Evaluates the class's `test`. A packet that does not parse, a class without a test
    /// and an evaluation error all mean "no match" (Kea logs `EVAL_RESULT` and the class
    /// is not assigned).
    fn test(&self, index: usize, query: &Query<'_>, member: &dyn Membership) -> bool {
        let Some(expr) = self.classes.get(index).and_then(|c| c.test) else {
            return false;
        };
        let mut options = [0u8; QUERY_OPTIONS_SCRATCH];
        let Ok(message) = Message::parse(query.payload, &mut options) else {
            return false;
        };
        let ctx = EvalContext {
            message: &message,
            interface: query.interface.name.as_bytes(),
            source: query.source_ip,
            destination: query.destination_ip,
            length: u32::try_from(query.payload.len()).unwrap_or(u32::MAX),
        };
        let classes = EngineMembership {
            classes: self.classes,
            member,
        };
        let mut scratch = [0u8; RECOMMENDED_SCRATCH];
        evaluate(self.view, &expr, &ctx, &classes, &mut scratch).unwrap_or(false)
    }

    fn depends_on_known(&self, index: usize) -> bool {
        self.classes
            .get(index)
            .is_some_and(|c| c.depends_on_known())
    }
}

#[cfg(test)]
mod tests {
    use core::net::Ipv4Addr;

    use super::*;
    use crate::classify::classes::compile_class;
    use crate::classify::parser::NoClasses;
    use crate::classify::program::{ExprStore, Op};
    use crate::server::{Interface, Transport};

    /// Membership stand-in: the named classes, KNOWN/UNKNOWN from `known`.
    struct Names<'n> {
        names: &'n [&'n [u8]],
        known: Option<bool>,
    }

    impl Membership for Names<'_> {
        fn is_member(&self, name: &[u8]) -> bool {
            match name {
                b"KNOWN" => self.known == Some(true),
                b"UNKNOWN" => self.known == Some(false),
                _ => self.names.contains(&name),
            }
        }
    }

    /// A DISCOVER with option 93 = 0x0007 and option 77 "iPXE".
    fn discover() -> [u8; 300] {
        let mut p = [0u8; 300];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[236..240].copy_from_slice(&[99, 130, 83, 99]);
        let opts = [53, 1, 1, 93, 2, 0, 7, 77, 4, b'i', b'P', b'X', b'E', 255];
        p[240..240 + opts.len()].copy_from_slice(&opts);
        p
    }

    fn query(payload: &[u8]) -> Query<'_> {
        Query {
            payload,
            interface: Interface {
                name: "ue0",
                addresses: &[],
                mac: [0; 6],
            },
            source_ip: Ipv4Addr::UNSPECIFIED,
            source_port: 68,
            destination_ip: Ipv4Addr::BROADCAST,
            source_mac: [0; 6],
            transport: Transport::Udp,
        }
    }

    #[test]
    fn tests_read_the_packet_and_the_engine_membership() {
        let mut ops = [Op::And; 128];
        let mut literals = [0u8; 512];
        let mut store = ExprStore::new(&mut ops, &mut literals);
        let sources: [(&[u8], &str); 5] = [
            (b"efi", "option[93].hex == 0x0007"),
            (b"never", "option[93].hex == 7"),
            (b"ipxe", "substring(option[77].hex,0,4) == 'iPXE'"),
            (b"efi-ipxe", "member('efi') and member('ipxe')"),
            (b"new", "member('UNKNOWN') and pkt.iface == 'ue0'"),
        ];
        let mut compiled = [CompiledClass {
            name: &[],
            test: None,
            only_if_required: false,
        }; 6];
        for (i, (name, test)) in sources.iter().enumerate() {
            let (earlier, rest) = compiled.split_at_mut(i);
            rest[0] = compile_class(&mut store, earlier, name, test, false, &NoClasses).unwrap();
        }
        compiled[5] = compile_class(&mut store, &[], b"bare", "", false, &NoClasses).unwrap();
        let tests = CompiledClassTests {
            view: store.into_view(),
            classes: &compiled,
        };
        let payload = discover();
        let q = query(&payload);
        let none = Names {
            names: &[],
            known: None,
        };
        assert!(tests.test(0, &q, &none));
        assert!(!tests.test(1, &q, &none), "a 2-byte option is never \"7\"");
        assert!(tests.test(2, &q, &none));
        // `member` asks the engine's membership by class name.
        assert!(!tests.test(3, &q, &none));
        let both = Names {
            names: &[b"efi", b"ipxe"],
            known: None,
        };
        assert!(tests.test(3, &q, &both));
        // KNOWN/UNKNOWN: undecided before the host lookup.
        assert!(!tests.test(4, &q, &none));
        let unknown = Names {
            names: &[],
            known: Some(false),
        };
        assert!(tests.test(4, &q, &unknown));
        assert!(tests.depends_on_known(4));
        assert!(!tests.depends_on_known(3));
        // No test, an index out of range, an unparsable packet: no match.
        assert!(!tests.test(5, &q, &none));
        assert!(!tests.test(6, &q, &none));
        assert!(!tests.test(0, &query(&payload[..100]), &none));
        assert!(!tests.depends_on_known(6));
    }
}
