//! Caller-provided storage as the parser fills it, and [`Capacity`], the sizes
//! [`crate::config::measure`] computes.
//!
//! The parser runs twice over the same text: [`crate::config::measure`] in *counting* mode,
//! where every push only counts, then [`crate::config::parse`] into the slices the caller
//! sized from those counts. One code path for both keeps the two in step.

use super::error::{ConfigErrorKind, StorageKind};
use super::model::TextRef;

/// How many items of each kind a configuration text needs; size [`super::ConfigStorage`]
/// with it (e.g. `vec![Subnet::EMPTY; capacity.subnets]` per field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    /// `subnets`.
    pub subnets: usize,
    /// `shared_networks`.
    pub shared_networks: usize,
    /// `pools`.
    pub pools: usize,
    /// `reservations`.
    pub reservations: usize,
    /// `options`.
    pub options: usize,
    /// `option_defs`.
    pub option_defs: usize,
    /// `classes`.
    pub classes: usize,
    /// `loggers`.
    pub loggers: usize,
    /// `hooks`.
    pub hooks: usize,
    /// `addresses`.
    pub addresses: usize,
    /// `names`.
    pub names: usize,
    /// `text` (bytes).
    pub text: usize,
    /// `reservation_id_slots`: a power of two ≥ 2 × reservations (and ≥ 2).
    pub reservation_id_slots: usize,
    /// `reservation_addr_slots`: a power of two ≥ 2 × reservations (and ≥ 2).
    pub reservation_addr_slots: usize,
}

impl Capacity {
    /// Index slot count for `items` entries: a power of two at least twice `items` (the
    /// index keeps probe sequences short at half load), at least 2.
    pub fn index_slots(items: usize) -> usize {
        items
            .saturating_mul(2)
            .max(2)
            .checked_next_power_of_two()
            .unwrap_or(usize::MAX / 2 + 1)
    }
}

/// A storage slice being filled (or, when counting, only counted).
pub(crate) struct Slots<'s, T> {
    buf: &'s mut [T],
    len: usize,
    counting: bool,
    kind: StorageKind,
}

impl<'s, T: Copy> Slots<'s, T> {
    pub(crate) fn new(buf: &'s mut [T], counting: bool, kind: StorageKind) -> Self {
        Slots {
            buf,
            len: 0,
            counting,
            kind,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn len_u32(&self) -> u32 {
        u32::try_from(self.len).unwrap_or(u32::MAX)
    }

    /// Appends `item`, returning its index.
    pub(crate) fn push(&mut self, item: T) -> Result<u32, ConfigErrorKind> {
        let index = self.len_u32();
        if index == u32::MAX {
            return Err(ConfigErrorKind::StorageFull(self.kind));
        }
        if !self.counting {
            let slot = self
                .buf
                .get_mut(self.len)
                .ok_or(ConfigErrorKind::StorageFull(self.kind))?;
            *slot = item;
        }
        self.len += 1;
        Ok(index)
    }

    /// The item at `index` (always `None` when counting).
    pub(crate) fn get(&self, index: usize) -> Option<&T> {
        if index < self.len {
            self.buf.get(index)
        } else {
            None
        }
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        if index < self.len {
            self.buf.get_mut(index)
        } else {
            None
        }
    }

    /// The filled items (empty when counting).
    pub(crate) fn filled(&self) -> &[T] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    pub(crate) fn filled_mut(&mut self) -> &mut [T] {
        self.buf.get_mut(..self.len).unwrap_or(&mut [])
    }

    pub(crate) fn freeze(self) -> &'s [T] {
        let buf: &'s [T] = self.buf;
        buf.get(..self.len).unwrap_or(&[])
    }
}

/// The text arena being filled (or counted).
pub(crate) struct TextArena<'s> {
    buf: &'s mut [u8],
    len: usize,
    counting: bool,
}

impl<'s> TextArena<'s> {
    pub(crate) fn new(buf: &'s mut [u8], counting: bool) -> Self {
        TextArena {
            buf,
            len: 0,
            counting,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<(), ConfigErrorKind> {
        let end = self
            .len
            .checked_add(bytes.len())
            .filter(|&e| u32::try_from(e).is_ok())
            .ok_or(ConfigErrorKind::StorageFull(StorageKind::Text))?;
        if !self.counting {
            self.buf
                .get_mut(self.len..end)
                .ok_or(ConfigErrorKind::StorageFull(StorageKind::Text))?
                .copy_from_slice(bytes);
        }
        self.len = end;
        Ok(())
    }

    /// The run from `start` to the current end.
    pub(crate) fn since(&self, start: usize) -> TextRef {
        TextRef {
            offset: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(self.len.saturating_sub(start)).unwrap_or(0),
        }
    }

    /// Stores `bytes` and returns their run.
    pub(crate) fn store(&mut self, bytes: &[u8]) -> Result<TextRef, ConfigErrorKind> {
        let start = self.len;
        self.push(bytes)?;
        Ok(self.since(start))
    }

    /// Bytes of a run (empty when counting).
    pub(crate) fn get(&self, r: TextRef) -> &[u8] {
        let start = r.offset as usize;
        self.buf
            .get(start..start.saturating_add(r.len as usize))
            .unwrap_or(&[])
    }

    /// The unused tail, for encoders that write in place (`None` when counting).
    pub(crate) fn tail(&mut self) -> Option<&mut [u8]> {
        if self.counting {
            None
        } else {
            self.buf.get_mut(self.len..)
        }
    }

    /// Marks `n` bytes of the tail (written through [`Self::tail`]) as used; when
    /// counting, only counts them.
    pub(crate) fn commit(&mut self, n: usize) -> Result<TextRef, ConfigErrorKind> {
        let start = self.len;
        let end = start
            .checked_add(n)
            .filter(|&e| self.counting || e <= self.buf.len())
            .filter(|&e| u32::try_from(e).is_ok())
            .ok_or(ConfigErrorKind::StorageFull(StorageKind::Text))?;
        self.len = end;
        Ok(self.since(start))
    }

    /// The written bytes and the unused tail, to append bytes computed from earlier ones
    /// (`None` when counting).
    pub(crate) fn split_for_append(&mut self) -> Option<(&[u8], &mut [u8])> {
        if self.counting {
            return None;
        }
        let len = self.len.min(self.buf.len());
        let (written, tail) = self.buf.split_at_mut(len);
        Some((written, tail))
    }

    pub(crate) fn freeze(self) -> &'s [u8] {
        let buf: &'s [u8] = self.buf;
        buf.get(..self.len).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_slots_are_powers_of_two_at_half_load() {
        assert_eq!(Capacity::index_slots(0), 2);
        assert_eq!(Capacity::index_slots(1), 2);
        assert_eq!(Capacity::index_slots(3), 8);
        assert_eq!(Capacity::index_slots(50_000), 131_072);
    }

    #[test]
    fn counting_slots_count_without_storage() {
        let mut s: Slots<'_, u8> = Slots::new(&mut [], true, StorageKind::Pools);
        assert_eq!(s.push(1), Ok(0));
        assert_eq!(s.push(2), Ok(1));
        assert_eq!(s.len(), 2);
        assert_eq!(s.get(0), None);
    }

    #[test]
    fn full_slots_say_which_storage() {
        let mut buf = [0u8; 1];
        let mut s = Slots::new(&mut buf, false, StorageKind::Pools);
        assert_eq!(s.push(7), Ok(0));
        assert_eq!(
            s.push(8),
            Err(ConfigErrorKind::StorageFull(StorageKind::Pools))
        );
        assert_eq!(s.freeze(), &[7]);
    }
}
