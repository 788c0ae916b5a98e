//! The configured classes compiled for classification: one [`CompiledClass`] per
//! `client-classes` entry in configuration order, each `test` compiled against the classes
//! defined before it ([`EarlierClasses`]: Kea rejects forward references).
//!
//! Class *membership* of a packet — ALL, `VENDOR_CLASS_…`, the two passes, host classes,
//! KNOWN/UNKNOWN, required classes, in Kea's insertion order — is decided in one place,
//! [`crate::server::classes`], which evaluates these tests through
//! [`super::CompiledClassTests`].

use super::parser::{compile, ClassRef, Resolver};
use super::program::{Expr, ExprStore};
use super::ParseError;

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
