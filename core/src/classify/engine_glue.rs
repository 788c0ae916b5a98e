//! The classification module as the engine's [`ClassTests`]: the configured classes,
//! compiled once per config load ([`super::compile_config_classes`]), evaluated against each
//! query with Kea's expression semantics (kea-expressions.md §4) while the engine keeps the
//! assignment order of §5 (ALL, `VENDOR_CLASS_…`, pass 1, host lookup, KNOWN/UNKNOWN,
//! pass 2, required classes).

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
