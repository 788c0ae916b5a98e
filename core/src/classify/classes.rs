//! Kea 2.2's class assignment for one packet (kea-expressions.md §5), independent of the
//! config model: the caller hands over the classes compiled in configuration order
//! ([`CompiledClass`]) and storage for the packet's membership ([`ClassSet`]).
//!
//! Per packet:
//! 1. [`ClassTable::classify_initial`]: `ALL` (implicit: `member('ALL')` is always true),
//!    the configured class named `VENDOR_CLASS_<option 60>` if any, then pass 1 — every
//!    class with a `test`, not `only-if-required`, not depending on KNOWN/UNKNOWN, in
//!    config order, each seeing the earlier matches. Then [`ClassTable::is_dropped`].
//! 2. subnet selection (caller), host lookup (caller), then
//!    [`ClassTable::classify_after_host_lookup`]: the reservation's classes (re-running
//!    pass 1, as Kea does when a host has `client-classes`), KNOWN/UNKNOWN, pass 2 (the
//!    classes depending on KNOWN/UNKNOWN). Then [`ClassTable::is_dropped`] again.
//! 3. [`ClassTable::classify_required`]: the required classes (network, subnet, pool —
//!    the caller lists them in that order), each added if its `test` is true; a required
//!    class without a test is not added in Kea 2.2.
//!
//! [`ClassSet::iter`] then gives the configured classes in assignment order, the order
//! class option-data and boot fields are consulted in (§6).

use super::eval::{evaluate, ClassQuery, EvalContext, EvalError};
use super::parser::{compile, ClassRef, Resolver};
use super::program::{Expr, ExprStore, ExprView};
use super::ParseError;
use crate::wire::message::Message;

/// One configured class, compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompiledClass<'c> {
    /// `name`.
    pub name: &'c [u8],
    /// The compiled `test`; `None` when the class has none.
    pub test: Option<Expr>,
    /// `only-if-required`: evaluated only as a required class.
    pub only_if_required: bool,
}

impl CompiledClass<'_> {
    /// Whether the class's test reads KNOWN/UNKNOWN (directly or through `member`), so
    /// Kea evaluates it after the host lookup.
    pub fn depends_on_known(&self) -> bool {
        self.test.is_some_and(|t| t.depends_on_known)
    }
}

/// A [`Resolver`] over the classes compiled so far; option names beyond the standard
/// table are asked of `options`.
pub struct EarlierClasses<'r, 'c, O: Resolver + ?Sized> {
    /// Classes defined before the one being compiled, in config order.
    pub classes: &'r [CompiledClass<'c>],
    /// Custom option definitions (its `class` method is not used).
    pub options: &'r O,
}

impl<O: Resolver + ?Sized> Resolver for EarlierClasses<'_, '_, O> {
    fn custom_option(&self, name: &str) -> Option<(u8, bool)> {
        self.options.custom_option(name)
    }

    fn custom_option_is_string(&self, code: u8) -> Option<bool> {
        self.options.custom_option_is_string(code)
    }

    fn class(&self, name: &[u8]) -> Option<ClassRef> {
        let index = self.classes.iter().position(|c| c.name == name)?;
        let class = self.classes.get(index)?;
        Some(ClassRef {
            index: u32::try_from(index).ok()?,
            depends_on_known: class.depends_on_known(),
        })
    }
}

/// Compile one class (the next in config order) given the ones before it. An empty
/// `test` means "no test". Errors name the column; the caller adds
/// `client class "<name>": test: `.
pub fn compile_class<'c, O: Resolver + ?Sized>(
    store: &mut ExprStore<'_>,
    earlier: &[CompiledClass<'c>],
    name: &'c [u8],
    test: &str,
    only_if_required: bool,
    options: &O,
) -> Result<CompiledClass<'c>, ParseError> {
    let test = if test.trim().is_empty() {
        None
    } else {
        let resolver = EarlierClasses {
            classes: earlier,
            options,
        };
        Some(compile(test, store, &resolver)?)
    };
    Ok(CompiledClass {
        name,
        test,
        only_if_required,
    })
}

/// The classes of one packet: configured class indices in assignment order plus a bitset,
/// in caller storage, and the KNOWN/UNKNOWN state.
pub struct ClassSet<'m> {
    order: &'m mut [u32],
    len: usize,
    bits: &'m mut [u64],
    known: Option<bool>,
    builtin_len: usize,
    overflow: bool,
}

impl<'m> ClassSet<'m> {
    /// Bitset words needed for `class_count` configured classes.
    pub const fn words_needed(class_count: usize) -> usize {
        class_count.div_ceil(64)
    }

    /// An empty set over storage for `order.len()` classes; give `order` one slot per
    /// configured class and `bits` [`ClassSet::words_needed`] words.
    pub fn new(order: &'m mut [u32], bits: &'m mut [u64]) -> Self {
        bits.fill(0);
        ClassSet {
            order,
            len: 0,
            bits,
            known: None,
            builtin_len: 0,
            overflow: false,
        }
    }

    /// Forget every class (reuse for the next packet).
    pub fn clear(&mut self) {
        self.bits.fill(0);
        self.len = 0;
        self.known = None;
        self.builtin_len = 0;
        self.overflow = false;
    }

    /// Whether configured class `index` is in the set.
    pub fn contains(&self, index: u32) -> bool {
        let i = index as usize;
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// Add configured class `index` at the end (a class is listed once, at its first
    /// insertion). Returns false if it was already there or storage is too small (then
    /// [`ClassSet::overflowed`] is set).
    pub fn insert(&mut self, index: u32) -> bool {
        if self.contains(index) {
            return false;
        }
        let i = index as usize;
        let (Some(word), Some(slot)) = (self.bits.get_mut(i / 64), self.order.get_mut(self.len))
        else {
            self.overflow = true;
            return false;
        };
        *word |= 1u64 << (i % 64);
        *slot = index;
        self.len += 1;
        true
    }

    /// Configured classes in assignment order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.order.get(..self.len).unwrap_or(&[]).iter().copied()
    }

    /// Number of configured classes in the set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no configured class is in the set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// KNOWN (`Some(true)`), UNKNOWN (`Some(false)`), or not looked up yet.
    pub fn known_state(&self) -> Option<bool> {
        self.known
    }

    /// Whether an insert failed for lack of storage.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    fn truncate(&mut self, len: usize) {
        while self.len > len {
            self.len -= 1;
            if let Some(&i) = self.order.get(self.len) {
                let i = i as usize;
                if let Some(w) = self.bits.get_mut(i / 64) {
                    *w &= !(1u64 << (i % 64));
                }
            }
        }
    }
}

impl ClassQuery for ClassSet<'_> {
    fn has_class(&self, index: u32) -> bool {
        self.contains(index)
    }

    fn known(&self) -> Option<bool> {
        self.known
    }
}

/// The compiled classes of a configuration, ready to classify packets.
#[derive(Clone, Copy)]
pub struct ClassTable<'v, 'c> {
    /// The store the tests were compiled into.
    pub view: ExprView<'v>,
    /// Classes in configuration order.
    pub classes: &'v [CompiledClass<'c>],
}

/// Called with (class index, result) for each test evaluated: `Ok(true/false)` is Kea's
/// `EVAL_RESULT` at INFO/DEBUG, `Err` the one at ERROR.
pub type Report<'r> = &'r mut dyn FnMut(u32, Result<bool, EvalError>);

impl ClassTable<'_, '_> {
    /// Index of the configured class named `name`.
    pub fn find(&self, name: &[u8]) -> Option<u32> {
        let i = self.classes.iter().position(|c| c.name == name)?;
        u32::try_from(i).ok()
    }

    /// Kea §5 steps 1–3: start `set` afresh for the packet in `ctx`.
    pub fn classify_initial(
        &self,
        set: &mut ClassSet<'_>,
        ctx: &EvalContext<'_>,
        scratch: &mut [u8],
        report: Report<'_>,
    ) {
        set.clear();
        if let Some(vendor) = ctx.message.vendor_class_identifier() {
            let found = self.classes.iter().position(|c| {
                c.name
                    .strip_prefix(b"VENDOR_CLASS_")
                    .is_some_and(|suffix| suffix == vendor)
            });
            if let Some(i) = found.and_then(|i| u32::try_from(i).ok()) {
                set.insert(i);
            }
        }
        set.builtin_len = set.len;
        self.pass(set, ctx, scratch, report, false);
    }

    /// Kea §5 steps 8–9 after the host lookup: `host_classes` are the reservation's
    /// classes (give them only when Kea applies them now: a global host, or a subnet not
    /// in a shared network); when there are any, test-assigned classes are dropped and
    /// pass 1 re-runs after them. Then KNOWN/UNKNOWN and pass 2.
    pub fn classify_after_host_lookup(
        &self,
        set: &mut ClassSet<'_>,
        known: bool,
        host_classes: &mut dyn Iterator<Item = u32>,
        ctx: &EvalContext<'_>,
        scratch: &mut [u8],
        report: Report<'_>,
    ) {
        let mut host_classes = host_classes.peekable();
        if host_classes.peek().is_some() {
            set.truncate(set.builtin_len);
            for class in host_classes {
                set.insert(class);
            }
            self.pass(set, ctx, scratch, report, false);
        }
        set.known = Some(known);
        self.pass(set, ctx, scratch, report, true);
    }

    /// Kea §5 step 13: evaluate the required classes (already ordered network → subnet →
    /// pool, duplicates allowed) and add those whose test is true.
    pub fn classify_required(
        &self,
        set: &mut ClassSet<'_>,
        required: &mut dyn Iterator<Item = u32>,
        ctx: &EvalContext<'_>,
        scratch: &mut [u8],
        report: Report<'_>,
    ) {
        for index in required {
            if set.contains(index) {
                continue;
            }
            let Some(test) = self.classes.get(index as usize).and_then(|c| c.test) else {
                // Kea 2.2: a required class without a test is not added.
                continue;
            };
            let result = evaluate(self.view, &test, ctx, set, scratch);
            report(index, result);
            if result == Ok(true) {
                set.insert(index);
            }
        }
    }

    /// Whether the packet is in the class called `name` now — for the `client-class` of
    /// subnets, shared networks and pools (§5 steps 7 and 11): `ALL`, `KNOWN`/`UNKNOWN`
    /// once the host lookup ran, `VENDOR_CLASS_<option 60>`, or a configured class in
    /// `set`.
    pub fn is_member_named(&self, set: &ClassSet<'_>, message: &Message<'_>, name: &[u8]) -> bool {
        match name {
            b"ALL" => return true,
            b"KNOWN" => return set.known == Some(true),
            b"UNKNOWN" => return set.known == Some(false),
            _ => {}
        }
        if let Some(suffix) = name.strip_prefix(b"VENDOR_CLASS_") {
            if message.vendor_class_identifier() == Some(suffix) {
                return true;
            }
        }
        self.find(name).is_some_and(|i| set.contains(i))
    }

    /// Whether the packet is in a configured class named `DROP` (Kea drops it silently;
    /// `DROP` is not built in).
    pub fn is_dropped(&self, set: &ClassSet<'_>) -> bool {
        self.find(b"DROP").is_some_and(|i| set.contains(i))
    }

    fn pass(
        &self,
        set: &mut ClassSet<'_>,
        ctx: &EvalContext<'_>,
        scratch: &mut [u8],
        report: Report<'_>,
        after_host_lookup: bool,
    ) {
        for (i, class) in self.classes.iter().enumerate() {
            let Some(test) = class.test else { continue };
            if class.only_if_required || test.depends_on_known != after_host_lookup {
                continue;
            }
            let Ok(index) = u32::try_from(i) else { break };
            if set.contains(index) {
                continue;
            }
            let result = evaluate(self.view, &test, ctx, set, scratch);
            report(index, result);
            if result == Ok(true) {
                set.insert(index);
            }
        }
    }
}
