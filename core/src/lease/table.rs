//! The lease table: every lease of the server in caller-provided storage, with O(1) lookup by
//! address, client-id and hardware address, an expiry order for reclamation, and the pool
//! occupancy bitmaps kept in step.
//!
//! # Storage (what the daemon allocates, see [`LeaseStorage::sizes_for`])
//! * `leases`: one fixed-size [`LeaseSlot`] per lease (80 bytes: `size_of` is asserted in
//!   the tests). Inline: address, subnet id, cltt (u64), lifetime, state, fqdn flags, hardware
//!   address (≤ 20 bytes, Kea's `HWAddr::MAX_HWADDR_LEN`), client-id up to 24 bytes (an
//!   option-61 `01` + MAC is 7 bytes; RFC 4361's `ff` + IAID + DUID is 15 with a DUID-LL,
//!   19 with systemd-networkd's DUID-EN or a DUID-LLT, 23 with a DUID-UUID). Longer
//!   client-ids (Kea allows up to 128), hostnames and user contexts live out of line in the
//!   text arena. (Inline room was 32 bytes, 88-byte slots: 24 keeps every common client-id
//!   inline and saves 8 bytes, 9 %, of each lease's largest part.)
//! * three [`HashIndex`] slot arrays (address, client-id, hardware address), each a power of
//!   two ≥ 2 × capacity, i.e. 24–48 bytes per lease;
//! * `expiry`: one `u32` per lease (two binary heaps ordered by `expire`, see below);
//! * `text`: the out-of-line arena, `sizes_for` suggests 32 bytes per lease.
//!
//! Per lease that is 80 + 4 + 24 = **108 bytes** when the capacity is a power of two (up to
//! 132 bytes otherwise), plus hostname/user-context text (6 bytes of header + the text).
//!
//! # Text arena
//! Records hand out `&str`/`&[u8]` borrowed from the table, so out-of-line text must be
//! contiguous; chained fixed-size chunks cannot be borrowed as one slice. The arena is
//! therefore a bump allocator of blocks `[owner: u32 LE][len: u16 LE][bytes]`; freeing marks
//! the block's owner as free and counts the garbage, and when the tail has no room the arena
//! is compacted in one pass (live blocks slide down and their owner slots are updated through
//! the owner field). Compaction is O(arena) but amortised O(1) per allocation: it only runs
//! when garbage at least covers the request.
//!
//! # Expiry order
//! `expiry` holds two binary min-heaps keyed by `expire` (= cltt + valid_lifetime), the
//! first growing from the front, the second from the back of the same slice (a lease is
//! in exactly one of them, so they never overlap):
//! * pending: leases in state default (0) or declined (1), reclaimed when expired
//!   ([`LeaseTable::reclaim_expired`], Kea's `reclaim-timer-wait-time` cycle);
//! * reclaimed: leases in state expired-reclaimed (2), removed once older than
//!   `hold-reclaimed-time` ([`LeaseTable::flush_reclaimed`]).
//!
//! Both cycles therefore touch only due leases (O(log n) each) instead of scanning the table
//! every 10 s, and reclaim in expiration order like Kea's expiration index.

use core::net::Ipv4Addr;

use super::occupancy::{OccupancyError, OccupancyStorage, PoolOccupancy};
use super::record::{LeaseRecord, LeaseState};
#[cfg(test)]
use crate::assign::{ClientIdentity, LeaseStore, StoreError};
use crate::config::{Config, Pool};
use crate::index::{Candidates, HashIndex};
use crate::time::Timestamp;

/// Longest hardware address stored (Kea's `HWAddr::MAX_HWADDR_LEN`).
pub const HWADDR_MAX: usize = 20;
/// Client-ids up to this length are stored inside the slot (see the module doc: every
/// common form fits).
pub const CLIENT_ID_INLINE: usize = 24;
/// Longest client-id stored (Kea's CSV and API accept at most 128 bytes).
pub const CLIENT_ID_MAX: usize = 255;
/// Longest hostname or user context stored.
pub const TEXT_MAX: usize = u16::MAX as usize;
/// Largest capacity (lease ids use 30 bits in the text arena's owner field).
pub const CAPACITY_MAX: usize = 1 << 30;

const NONE: u32 = u32::MAX;
const STATE_FREE: u8 = 0xff;
const FLAG_FQDN_FWD: u8 = 1;
const FLAG_FQDN_REV: u8 = 2;

/// Index of a lease slot; stable while the lease exists (an upsert of the same address keeps
/// it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseId(pub u32);

/// One lease slot (opaque; allocate `LeaseSlot::default()` × capacity, or zeroed memory).
///
/// Every field is an integer or an array of integers and must stay so: all-zero bytes are a
/// valid `LeaseSlot`, which lets the daemon hand the table `calloc`ed storage whose pages
/// become resident only when a lease first uses them (see [`LeaseTable::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseSlot {
    cltt: u64,
    address: u32,
    subnet_id: u32,
    valid_lifetime: u32,
    /// Position in its expiry heap while in use; next free slot while free.
    link: u32,
    /// Text-arena offset of the hostname block, or `NONE`.
    hostname: u32,
    /// Text-arena offset of the user-context block, or `NONE`.
    user_context: u32,
    hwaddr: [u8; HWADDR_MAX],
    /// The client-id when ≤ [`CLIENT_ID_INLINE`] bytes; otherwise bytes 0..4 hold its text-arena offset (LE).
    client_id: [u8; CLIENT_ID_INLINE],
    hwaddr_len: u8,
    client_id_len: u8,
    state: u8,
    flags: u8,
}

impl Default for LeaseSlot {
    fn default() -> Self {
        LeaseSlot {
            cltt: 0,
            address: 0,
            subnet_id: 0,
            valid_lifetime: 0,
            link: NONE,
            hostname: NONE,
            user_context: NONE,
            hwaddr: [0; HWADDR_MAX],
            client_id: [0; CLIENT_ID_INLINE],
            hwaddr_len: 0,
            client_id_len: 0,
            state: STATE_FREE,
            flags: 0,
        }
    }
}

impl LeaseSlot {
    fn in_use(&self) -> bool {
        self.state != STATE_FREE
    }

    fn expire(&self) -> u64 {
        self.cltt.saturating_add(u64::from(self.valid_lifetime))
    }

    fn lease_state(&self) -> LeaseState {
        LeaseState::from_code(u32::from(self.state)).unwrap_or_default()
    }

    /// Whether the lease sits in the reclaimed heap (else the pending one).
    fn is_reclaimed(&self) -> bool {
        self.state == LeaseState::ExpiredReclaimed.code() as u8
    }

    /// Whether the lease holds its address in the pool occupancy (states 0 and 1).
    fn holds_address(&self) -> bool {
        self.in_use() && !self.is_reclaimed()
    }

    fn hwaddr(&self) -> &[u8] {
        self.hwaddr
            .get(..usize::from(self.hwaddr_len))
            .unwrap_or(&[])
    }

    fn client_id_is_inline(&self) -> bool {
        usize::from(self.client_id_len) <= CLIENT_ID_INLINE
    }

    fn client_id_offset(&self) -> u32 {
        let [a, b, c, d, ..] = self.client_id;
        u32::from_le_bytes([a, b, c, d])
    }
}

/// Slot counts the daemon allocates for a given capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTableSizes {
    /// [`LeaseStorage::leases`] entries (= capacity).
    pub leases: usize,
    /// Entries of each of the three index slot arrays (power of two ≥ 2 × capacity).
    pub index_slots: usize,
    /// [`LeaseStorage::expiry`] entries (= capacity).
    pub expiry: usize,
    /// [`LeaseStorage::text`] bytes (a suggestion: 32 per lease, at least 4 KiB).
    pub text_bytes: usize,
}

/// Caller-provided storage for a [`LeaseTable`].
#[derive(Debug)]
pub struct LeaseStorage<'a> {
    /// Lease slots; their number is the capacity.
    pub leases: &'a mut [LeaseSlot],
    /// Slots of the index by address.
    pub by_address: &'a mut [u32],
    /// Slots of the index by client-id.
    pub by_client_id: &'a mut [u32],
    /// Slots of the index by hardware address.
    pub by_hwaddr: &'a mut [u32],
    /// Expiry heaps: at least as many entries as `leases`.
    pub expiry: &'a mut [u32],
    /// Arena for hostnames, user contexts and long client-ids.
    pub text: &'a mut [u8],
    /// Pool occupancy bitmaps ([`OccupancyStorage::empty`] when no allocation is done).
    pub occupancy: OccupancyStorage<'a>,
}

impl LeaseStorage<'_> {
    /// The slot counts for `capacity` leases.
    pub fn sizes_for(capacity: usize) -> LeaseTableSizes {
        let index_slots = capacity
            .saturating_mul(2)
            .max(2)
            .checked_next_power_of_two()
            .unwrap_or(usize::MAX);
        LeaseTableSizes {
            leases: capacity,
            index_slots,
            expiry: capacity,
            text_bytes: capacity.saturating_mul(32).max(4096),
        }
    }
}

/// Why the storage cannot hold a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// More than [`CAPACITY_MAX`] lease slots.
    TooManyLeases,
    /// An index slot array is not a power of two larger than the capacity.
    IndexSlots,
    /// `expiry` is shorter than `leases`.
    ExpiryTooSmall,
    /// The text arena is larger than 4 GiB (offsets are `u32`).
    TextTooLarge,
}

/// Why a lease could not be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Every lease slot is taken.
    Full,
    /// The text arena has no room for the hostname/user-context/client-id, even after
    /// compaction.
    TextFull,
    /// The hardware address is longer than [`HWADDR_MAX`].
    HwAddrTooLong,
    /// The client-id is longer than [`CLIENT_ID_MAX`].
    ClientIdTooLong,
    /// The hostname or user context is longer than [`TEXT_MAX`].
    TextTooLong,
    /// The pools do not fit the occupancy storage.
    Occupancy(OccupancyError),
}

/// What [`LeaseTable::apply`] did with a record (Kea's journal rules, kea-memfile.md §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A new lease was stored.
    Inserted(LeaseId),
    /// The address's lease was replaced (last line wins).
    Replaced(LeaseId),
    /// A removal (`valid_lifetime` 0) deleted the address's lease.
    Removed,
    /// A removal for an address with no lease: ignored.
    IgnoredRemoval,
}

// ---------------------------------------------------------------------------------------
// Text arena

const TEXT_HEADER: usize = 6;
const OWNER_FREE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextKind {
    Hostname = 0,
    UserContext = 1,
    ClientId = 2,
}

fn owner_code(id: u32, kind: TextKind) -> u32 {
    (id << 2) | kind as u32
}

fn block_size(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        TEXT_HEADER + len
    }
}

#[derive(Debug)]
struct TextArena<'a> {
    bytes: &'a mut [u8],
    used: usize,
    garbage: usize,
}

impl<'a> TextArena<'a> {
    fn available(&self) -> usize {
        self.bytes.len().saturating_sub(self.used) + self.garbage
    }

    fn header(&self, offset: u32) -> Option<(u32, usize)> {
        let o = offset as usize;
        let h = self.bytes.get(o..o.checked_add(TEXT_HEADER)?)?;
        let [a, b, c, d, e, f] = <[u8; 6]>::try_from(h).ok()?;
        Some((
            u32::from_le_bytes([a, b, c, d]),
            usize::from(u16::from_le_bytes([e, f])),
        ))
    }

    fn get(&self, offset: u32) -> &[u8] {
        if offset == NONE {
            return &[];
        }
        let Some((_, len)) = self.header(offset) else {
            return &[];
        };
        let start = offset as usize + TEXT_HEADER;
        self.bytes
            .get(start..start.saturating_add(len))
            .unwrap_or(&[])
    }

    fn size_of_block(&self, offset: u32) -> usize {
        if offset == NONE {
            return 0;
        }
        self.header(offset).map_or(0, |(_, len)| TEXT_HEADER + len)
    }

    fn free(&mut self, offset: u32) {
        if offset == NONE {
            return;
        }
        let size = self.size_of_block(offset);
        let o = offset as usize;
        if o + size == self.used {
            self.used = o;
        } else {
            if let Some(h) = self.bytes.get_mut(o..o + 4) {
                h.copy_from_slice(&OWNER_FREE.to_le_bytes());
            }
            self.garbage += size;
        }
    }

    /// Stores `data` for `owner`; the caller checked [`Self::available`]. Compacts first if
    /// the tail is too short, calling `moved(owner, new_offset)` for every live block moved.
    fn alloc(&mut self, owner: u32, data: &[u8], moved: impl FnMut(u32, u32)) -> Option<u32> {
        let size = block_size(data.len());
        if self.bytes.len().saturating_sub(self.used) < size {
            self.compact(moved);
        }
        let start = self.used;
        let end = start.checked_add(size)?;
        let offset = u32::try_from(start).ok()?;
        let len = u16::try_from(data.len()).ok()?;
        let block = self.bytes.get_mut(start..end)?;
        let (header, body) = block.split_at_mut(TEXT_HEADER);
        let (o, l) = header.split_at_mut(4);
        o.copy_from_slice(&owner.to_le_bytes());
        l.copy_from_slice(&len.to_le_bytes());
        body.copy_from_slice(data);
        self.used = end;
        Some(offset)
    }

    fn compact(&mut self, mut moved: impl FnMut(u32, u32)) {
        let mut read = 0usize;
        let mut write = 0usize;
        while read < self.used {
            let Some((owner, len)) = u32::try_from(read).ok().and_then(|r| self.header(r)) else {
                break;
            };
            let size = TEXT_HEADER + len;
            if read + size > self.used {
                break;
            }
            if owner != OWNER_FREE {
                if read != write {
                    self.bytes.copy_within(read..read + size, write);
                    moved(owner, write as u32);
                }
                write += size;
            }
            read += size;
        }
        self.used = write;
        self.garbage = 0;
    }
}

/// Sets the slot field named by `owner` to `offset` after a compaction moved its block.
fn relocate(slots: &mut [LeaseSlot], owner: u32, offset: u32) {
    let Some(slot) = slots.get_mut((owner >> 2) as usize) else {
        return;
    };
    match owner & 3 {
        0 => slot.hostname = offset,
        1 => slot.user_context = offset,
        _ => {
            if let Some(head) = slot.client_id.get_mut(..4) {
                head.copy_from_slice(&offset.to_le_bytes());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Slot views

fn slot_client_id<'s>(slot: &'s LeaseSlot, text: &'s TextArena<'_>) -> &'s [u8] {
    if slot.client_id_is_inline() {
        slot.client_id
            .get(..usize::from(slot.client_id_len))
            .unwrap_or(&[])
    } else {
        text.get(slot.client_id_offset())
    }
}

fn text_str<'s>(text: &'s TextArena<'_>, offset: u32) -> &'s str {
    core::str::from_utf8(text.get(offset)).unwrap_or("")
}

fn view<'s>(slot: &'s LeaseSlot, text: &'s TextArena<'_>) -> LeaseRecord<'s> {
    LeaseRecord {
        address: Ipv4Addr::from_bits(slot.address),
        hwaddr: slot.hwaddr(),
        client_id: slot_client_id(slot, text),
        valid_lifetime: slot.valid_lifetime,
        cltt: Timestamp(slot.cltt),
        subnet_id: slot.subnet_id,
        fqdn_fwd: slot.flags & FLAG_FQDN_FWD != 0,
        fqdn_rev: slot.flags & FLAG_FQDN_REV != 0,
        hostname: text_str(text, slot.hostname),
        state: slot.lease_state(),
        user_context: text_str(text, slot.user_context),
    }
}

/// `bytes` in an `N`-byte array, zero-padded (the rest of `bytes` dropped if longer: the
/// callers check lengths first).
///
/// Written as a fixed-count loop so it compiles to a few moves: a `copy_from_slice` of a
/// variable length is a `memcpy` call, and musl's (the static build) takes ~40 cycles for
/// the 6 bytes of a MAC, twice per stored lease.
fn zero_padded<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = bytes.get(i).copied().unwrap_or(0);
    }
    out
}

/// The 64-bit finaliser of MurmurHash3 (`fmix64`): every output bit depends on every input
/// bit.
fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Addresses per group of the address index (a power of two): see [`address_hash`].
const ADDRESS_GROUP: u32 = 16;

/// The address index's hash: the 16 addresses of an aligned block (`a.b.c.0`–`15`,
/// `16`–`31`, …) get consecutive home slots (64 bytes of `u32`s, one or two cache lines)
/// at a position hashed from the block, the low four bits of the address choosing the slot
/// inside it.
///
/// Why: a lease file is mostly in address order (Kea's LFC writes it sorted; the iterative
/// allocator hands addresses out in order, so the journal mostly climbs too), and with a
/// hash that scatters every address each row of a 100,000-lease start-up waited for a cache
/// miss into a megabyte of index; now sixteen rows share one line. Random lookups (the
/// packet path) cost what they did. Blocks whose home group is taken spill into the next
/// slots as linear probing does; the entries' address tags ([`AddressEntries`]) keep a
/// probe through another block's slots from loading those leases.
fn address_hash(addr: u32) -> u64 {
    let group_mask = u64::from(ADDRESS_GROUP - 1);
    (mix64(u64::from(addr / ADDRESS_GROUP)) & !group_mask) | (u64::from(addr) & group_mask)
}

/// How the address index packs an entry into its `u32`: the lease slot id in the low
/// `id_bits` bits, the top bits of a hash of the address (a tag) in the bits the table's
/// capacity leaves spare (14 for the 131,835-lease /15 of the benchmark, at least 2 at
/// [`CAPACITY_MAX`]).
///
/// Why: probing compares each candidate's address, and the address lives in the lease
/// slot, a cache miss per candidate; a candidate whose tag differs is skipped without
/// loading its slot (a tag of `b` bits lets through one candidate in 2^`b`).
///
/// An entry is never [`crate::index::EMPTY`]: ids are below the capacity, which is below
/// 2^`id_bits`, so an entry's id part is at most 2^`id_bits` − 2, never all ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AddressEntries {
    id_bits: u32,
}

impl AddressEntries {
    /// Entries for ids below `capacity` (≤ [`CAPACITY_MAX`]).
    fn for_capacity(capacity: usize) -> Self {
        // The bit length of `capacity`: every id (< capacity) then has a 0 bit in its part.
        let id_bits = usize::BITS - capacity.leading_zeros();
        AddressEntries {
            id_bits: id_bits.clamp(1, 31),
        }
    }

    fn id_mask(self) -> u32 {
        (1u32 << self.id_bits) - 1
    }

    /// The tag bits of `addr`, in place (the id part zero).
    fn tag(self, addr: u32) -> u32 {
        let tag = (mix64(u64::from(addr) ^ 0x9e37_79b9_7f4a_7c15) >> 32) as u32;
        tag & !self.id_mask()
    }

    fn entry(self, id: u32, addr: u32) -> u32 {
        self.tag(addr) | (id & self.id_mask())
    }

    fn id(self, entry: u32) -> u32 {
        entry & self.id_mask()
    }

    /// Whether `entry` may be `addr`'s (its tag matches; the slot's address decides).
    fn may_be(self, entry: u32, addr: u32) -> bool {
        entry & !self.id_mask() == self.tag(addr)
    }
}

/// The client-id and hardware-address indexes' hash: 8 bytes per step (zero-padded, the
/// length mixed in first so `02:00` and `02:00:00` differ), each step one `mix64`. A MAC
/// is one step where a byte-at-a-time FNV was seven dependent multiplies, the largest
/// part of rebuilding the hardware-address index after a load.
fn bytes_hash(bytes: &[u8]) -> u64 {
    let mut h = mix64(bytes.len() as u64 ^ 0x243f_6a88_85a3_08d3);
    for chunk in bytes.chunks(8) {
        h = mix64(h ^ u64::from_le_bytes(zero_padded(chunk)));
    }
    h
}

fn hash_of_address(slots: &[LeaseSlot], entries: AddressEntries, entry: u32) -> u64 {
    address_hash(
        slots
            .get(entries.id(entry) as usize)
            .map_or(0, |s| s.address),
    )
}

fn hash_of_client_id(slots: &[LeaseSlot], text: &TextArena<'_>, id: u32) -> u64 {
    slots
        .get(id as usize)
        .map_or(0, |s| bytes_hash(slot_client_id(s, text)))
}

fn hash_of_hwaddr(slots: &[LeaseSlot], id: u32) -> u64 {
    slots.get(id as usize).map_or(0, |s| bytes_hash(s.hwaddr()))
}

// ---------------------------------------------------------------------------------------
// Expiry heaps

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeapKind {
    Pending,
    Reclaimed,
}

struct Heap<'s> {
    ids: &'s mut [u32],
    slots: &'s mut [LeaseSlot],
    len: &'s mut usize,
    kind: HeapKind,
}

impl Heap<'_> {
    fn phys(&self, i: usize) -> usize {
        match self.kind {
            HeapKind::Pending => i,
            HeapKind::Reclaimed => self.ids.len().wrapping_sub(1).wrapping_sub(i),
        }
    }

    fn id_at(&self, i: usize) -> u32 {
        self.ids.get(self.phys(i)).copied().unwrap_or(NONE)
    }

    fn key_at(&self, i: usize) -> u64 {
        let id = self.id_at(i);
        self.slots
            .get(id as usize)
            .map_or(u64::MAX, LeaseSlot::expire)
    }

    fn put(&mut self, i: usize, id: u32) {
        let p = self.phys(i);
        if let Some(x) = self.ids.get_mut(p) {
            *x = id;
        }
        if let Some(s) = self.slots.get_mut(id as usize) {
            s.link = i as u32;
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        let id = self.id_at(i);
        let key = self.key_at(i);
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.key_at(parent) <= key {
                break;
            }
            let pid = self.id_at(parent);
            self.put(i, pid);
            i = parent;
        }
        self.put(i, id);
    }

    fn sift_down(&mut self, mut i: usize) {
        let len = *self.len;
        let id = self.id_at(i);
        let key = self.key_at(i);
        loop {
            let left = 2 * i + 1;
            if left >= len {
                break;
            }
            let right = left + 1;
            let child = if right < len && self.key_at(right) < self.key_at(left) {
                right
            } else {
                left
            };
            if self.key_at(child) >= key {
                break;
            }
            let cid = self.id_at(child);
            self.put(i, cid);
            i = child;
        }
        self.put(i, id);
    }

    fn push(&mut self, id: u32) {
        let i = *self.len;
        *self.len += 1;
        self.put(i, id);
        self.sift_up(i);
    }

    fn remove_at(&mut self, i: usize) {
        // Every in-use slot sits in exactly one heap; the guard only keeps a broken
        // invariant from turning into a panic.
        if i >= *self.len {
            return;
        }
        let last = *self.len - 1;
        *self.len = last;
        if i != last {
            let moved = self.id_at(last);
            self.put(i, moved);
            self.sift_down(i);
            let pos = self
                .slots
                .get(moved as usize)
                .map_or(0, |s| s.link as usize);
            self.sift_up(pos);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Identifier lookups

/// Which of the three lease indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IndexKind {
    Address,
    ClientId,
    HwAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IdentifierKind {
    ClientId,
    HwAddr,
}

/// Leases whose client-id or hardware address equals a key, see
/// [`LeaseTable::by_client_id`] and [`LeaseTable::by_hwaddr`].
#[derive(Debug)]
pub struct IdentifierMatches<'t, 'k> {
    table: &'t LeaseTable<'t>,
    key: &'k [u8],
    kind: IdentifierKind,
    candidates: Option<Candidates<'t>>,
}

impl<'t> Iterator for IdentifierMatches<'t, '_> {
    type Item = (LeaseId, LeaseRecord<'t>);

    fn next(&mut self) -> Option<Self::Item> {
        let table = self.table;
        loop {
            let id = self.candidates.as_mut()?.next()?;
            let Some(slot) = table.slots.get(id as usize).filter(|s| s.in_use()) else {
                continue;
            };
            let stored = match self.kind {
                IdentifierKind::ClientId => slot_client_id(slot, &table.text),
                IdentifierKind::HwAddr => slot.hwaddr(),
            };
            if stored == self.key {
                return Some((LeaseId(id), view(slot, &table.text)));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The table

/// All leases, in caller-provided storage.
#[derive(Debug)]
pub struct LeaseTable<'a> {
    slots: &'a mut [LeaseSlot],
    by_address: HashIndex<'a>,
    by_client_id: HashIndex<'a>,
    by_hwaddr: HashIndex<'a>,
    expiry: &'a mut [u32],
    pending_len: usize,
    reclaimed_len: usize,
    text: TextArena<'a>,
    occupancy: PoolOccupancy<'a>,
    /// Head of the chain of freed slots below `high_water`.
    free_head: u32,
    /// Slots `..high_water` have held a lease; the ones above were never read or written
    /// (see [`LeaseTable::new`]): a new lease takes a freed slot first, then this one.
    high_water: u32,
    len: usize,
    /// Between [`LeaseTable::begin_bulk_load`] and [`LeaseTable::finish_bulk_load`]: the
    /// client-id and hardware-address indexes are not kept up to date (rebuilt at the end).
    identifiers_deferred: bool,
    /// How `by_address` packs a lease id and its address tag.
    address_entries: AddressEntries,
    /// Leases with a client-id and leases with a hardware address: what
    /// [`LeaseTable::finish_bulk_load`] sizes those two indexes for, kept by
    /// `attach`/`detach` so it needs no pass over the slots to count them.
    with_client_id: usize,
    /// See `with_client_id`.
    with_hwaddr: usize,
}

/// Index inserts queued by a rebuild before their home slots are read together (see
/// [`LeaseTable::rebuild_indexes`]).
const REBUILD_BATCH: usize = 16;

/// Slots each index uses at first ([`HashIndex::with_active`]); it doubles whenever it would
/// become more than half full, up to its whole storage.
const INDEX_ACTIVE_MIN: usize = 1024;

impl<'a> LeaseTable<'a> {
    /// An empty table over `storage`.
    ///
    /// Memory grows with use, not with capacity: lease slots are handed out from the front
    /// (a freed slot first), the expiry heaps fill from the two ends of `expiry`, the text
    /// arena from its front, and each index works in a power-of-two prefix of its slots that
    /// doubles (rehashing from the lease slots) whenever it would be more than half full.
    /// Nothing beyond those fronts is read or written, neither here nor later, so `leases`,
    /// `expiry`, `text` and the index slots may be zeroed memory the OS maps on first touch
    /// (`calloc`): a table sized for a /15 pool then costs resident memory in proportion to
    /// the leases it holds. Any bit pattern of the untouched parts is fine.
    pub fn new(storage: LeaseStorage<'a>) -> Result<Self, StorageError> {
        let capacity = storage.leases.len();
        if capacity > CAPACITY_MAX {
            return Err(StorageError::TooManyLeases);
        }
        for slots in [
            &storage.by_address,
            &storage.by_client_id,
            &storage.by_hwaddr,
        ] {
            if !slots.len().is_power_of_two() || slots.len() <= capacity {
                return Err(StorageError::IndexSlots);
            }
        }
        if storage.expiry.len() < capacity {
            return Err(StorageError::ExpiryTooSmall);
        }
        if u32::try_from(storage.text.len()).is_err() {
            return Err(StorageError::TextTooLarge);
        }
        let index = |slots| {
            HashIndex::with_active(slots, INDEX_ACTIVE_MIN).map_err(|_| StorageError::IndexSlots)
        };
        let by_address = index(storage.by_address)?;
        let by_client_id = index(storage.by_client_id)?;
        let by_hwaddr = index(storage.by_hwaddr)?;
        let expiry = storage
            .expiry
            .get_mut(..capacity)
            .ok_or(StorageError::ExpiryTooSmall)?;
        let slots = storage.leases;
        Ok(LeaseTable {
            slots,
            by_address,
            by_client_id,
            by_hwaddr,
            expiry,
            pending_len: 0,
            reclaimed_len: 0,
            text: TextArena {
                bytes: storage.text,
                used: 0,
                garbage: 0,
            },
            occupancy: PoolOccupancy::new(storage.occupancy),
            free_head: NONE,
            high_water: 0,
            len: 0,
            identifiers_deferred: false,
            address_entries: AddressEntries::for_capacity(capacity),
            with_client_id: 0,
            with_hwaddr: 0,
        })
    }

    /// Removes every lease (before reloading the lease files on reconfiguration, or for
    /// `lease4-wipe` of everything). Pools stay installed; reservation marks stay. O(capacity).
    pub fn clear(&mut self) {
        let used = self.used_slots().len();
        let addresses = self
            .slots
            .iter()
            .take(used)
            .filter(|s| s.holds_address())
            .map(|s| s.address);
        for a in addresses {
            self.occupancy.set_held(Ipv4Addr::from_bits(a), false);
        }
        self.by_address.clear();
        self.by_client_id.clear();
        self.by_hwaddr.clear();
        self.pending_len = 0;
        self.reclaimed_len = 0;
        self.text.used = 0;
        self.text.garbage = 0;
        self.free_head = NONE;
        self.high_water = 0;
        self.len = 0;
        self.with_client_id = 0;
        self.with_hwaddr = 0;
    }

    /// The slots that have held a lease (free ones among them have state `STATE_FREE`).
    fn used_slots(&self) -> &[LeaseSlot] {
        self.slots.get(..self.high_water as usize).unwrap_or(&[])
    }

    /// Number of leases stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no lease.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of leases.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Free bytes of the text arena (including garbage reclaimable by compaction).
    pub fn text_available(&self) -> usize {
        self.text.available()
    }

    /// The pool occupancy (read side, and reservations through [`Self::occupancy_mut`]).
    pub fn occupancy(&self) -> &PoolOccupancy<'a> {
        &self.occupancy
    }

    /// The pool occupancy, to mark reserved addresses. Lease bits are the table's own.
    pub fn occupancy_mut(&mut self) -> &mut PoolOccupancy<'a> {
        &mut self.occupancy
    }

    /// Installs the config's pools (after a (re)configuration), clears reservation marks and
    /// marks every address held by a lease in state 0 or 1. O(leases).
    pub fn set_pools(&mut self, pools: &[Pool]) -> Result<(), TableError> {
        self.occupancy
            .set_config_pools(pools)
            .map_err(TableError::Occupancy)?;
        let used = self.high_water as usize;
        for slot in self.slots.iter().take(used) {
            if slot.holds_address() {
                self.occupancy
                    .set_held(Ipv4Addr::from_bits(slot.address), true);
            }
        }
        Ok(())
    }

    /// Installs the config's pools ([`Self::set_pools`]) and marks every reserved address
    /// (`reservations[].ip-address`, subnet and global) as excluded from dynamic allocation.
    pub fn set_config(&mut self, config: &Config<'_>) -> Result<(), TableError> {
        self.set_pools(config.pools)?;
        for r in config.reservations {
            if let Some(a) = r.address {
                self.occupancy.mark_reserved(a);
            }
        }
        Ok(())
    }

    /// Fills `ids` with the ids of the stored leases sorted by ascending address (Kea's LFC
    /// output order, and `lease4-get-all`'s) and returns the filled part; `ids` needs
    /// [`Self::len`] entries (fewer are filled, unsorted remainder dropped, if shorter).
    pub fn ids_by_address<'i>(&self, ids: &'i mut [u32]) -> &'i [u32] {
        let mut n = 0;
        for (i, slot) in self.used_slots().iter().enumerate() {
            if !slot.in_use() {
                continue;
            }
            let Some(dst) = ids.get_mut(n) else {
                break;
            };
            *dst = i as u32;
            n += 1;
        }
        let filled = ids.get_mut(..n).unwrap_or(&mut []);
        let slots = &*self.slots;
        filled.sort_unstable_by_key(|&id| slots.get(id as usize).map_or(u32::MAX, |s| s.address));
        filled
    }

    /// The next address of pool `pool_index` (config order) to offer, in Kea 2.2's
    /// iterative order after `after` (see [`PoolOccupancy::next_free`]), skipping reserved
    /// addresses. Normally a bitmap search for an address without a lease (or with a
    /// reclaimed one, state 2: reuse its record). When every address holds a lease, Kea's
    /// allocator would still reuse an *expired* lease that the reclamation timer has not
    /// reached yet (e.g. just after a restart), so the pool is then walked in the same
    /// order for the first lease expired at `now` (declined ones included: their lifetime
    /// is the probation period). That walk is O(pool) but only happens when the pool is
    /// otherwise exhausted.
    pub fn next_allocatable(
        &self,
        pool_index: usize,
        after: Option<Ipv4Addr>,
        now: Timestamp,
    ) -> Option<Ipv4Addr> {
        if let Some(a) = self.occupancy.next_free(pool_index, after) {
            return Some(a);
        }
        let (first, last) = self.occupancy.pool_range(pool_index)?;
        let (first, last) = (first.to_bits(), last.to_bits());
        let start = match after {
            Some(a) if first <= a.to_bits() && a.to_bits() < last => a.to_bits() + 1,
            _ => first,
        };
        (start..=last)
            .chain(first..start)
            .map(Ipv4Addr::from_bits)
            .find(|&a| {
                !self.occupancy.is_reserved(a) && self.get(a).is_some_and(|l| l.is_expired(now))
            })
    }

    /// The id of the lease for `addr`.
    pub fn id_of(&self, addr: Ipv4Addr) -> Option<LeaseId> {
        let a = addr.to_bits();
        let slots = &*self.slots;
        let entries = self.address_entries;
        self.by_address
            .find(address_hash(a), |entry| {
                entries.may_be(entry, a)
                    && slots
                        .get(entries.id(entry) as usize)
                        .is_some_and(|s| s.in_use() && s.address == a)
            })
            .map(|entry| LeaseId(entries.id(entry)))
    }

    /// The lease for `addr`.
    pub fn get(&self, addr: Ipv4Addr) -> Option<LeaseRecord<'_>> {
        self.id_of(addr).and_then(|id| self.record(id))
    }

    /// The lease in slot `id` (None for a free slot).
    pub fn record(&self, id: LeaseId) -> Option<LeaseRecord<'_>> {
        let slot = self.slots.get(id.0 as usize).filter(|s| s.in_use())?;
        Some(view(slot, &self.text))
    }

    /// Every lease with client-id `client_id` (one per subnet at most in practice). An empty
    /// client-id matches nothing (such leases are not indexed by it).
    pub fn by_client_id<'t, 'k>(&'t self, client_id: &'k [u8]) -> IdentifierMatches<'t, 'k> {
        IdentifierMatches {
            table: self,
            key: client_id,
            kind: IdentifierKind::ClientId,
            candidates: (!client_id.is_empty())
                .then(|| self.by_client_id.view().candidates(bytes_hash(client_id))),
        }
    }

    /// Every lease with hardware address `hwaddr`. An empty address matches nothing.
    pub fn by_hwaddr<'t, 'k>(&'t self, hwaddr: &'k [u8]) -> IdentifierMatches<'t, 'k> {
        IdentifierMatches {
            table: self,
            key: hwaddr,
            kind: IdentifierKind::HwAddr,
            candidates: (!hwaddr.is_empty())
                .then(|| self.by_hwaddr.view().candidates(bytes_hash(hwaddr))),
        }
    }

    /// The lease of client-id `client_id` in subnet `subnet_id`.
    pub fn find_by_client_id(
        &self,
        client_id: &[u8],
        subnet_id: u32,
    ) -> Option<(LeaseId, LeaseRecord<'_>)> {
        self.by_client_id(client_id)
            .find(|(_, r)| r.subnet_id == subnet_id)
    }

    /// The lease of hardware address `hwaddr` in subnet `subnet_id`.
    pub fn find_by_hwaddr(
        &self,
        hwaddr: &[u8],
        subnet_id: u32,
    ) -> Option<(LeaseId, LeaseRecord<'_>)> {
        self.by_hwaddr(hwaddr)
            .find(|(_, r)| r.subnet_id == subnet_id)
    }

    /// Every lease, in slot order (for lease4-get-all, statistics and compaction; sort by
    /// address yourself when the output must be ordered). O(slots ever used).
    pub fn iter(&self) -> impl Iterator<Item = (LeaseId, LeaseRecord<'_>)> + '_ {
        self.used_slots()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.in_use())
            .map(|(i, s)| (LeaseId(i as u32), view(s, &self.text)))
    }

    /// The subnet id and state of every lease, in slot order: what the statistics recount
    /// after a load needs, read straight from the slots (no record per lease, whose text
    /// lookups were a twentieth of a 100,000-lease start-up).
    pub fn subnet_states(&self) -> impl Iterator<Item = (u32, LeaseState)> + '_ {
        self.used_slots()
            .iter()
            .filter(|s| s.in_use())
            .map(|s| (s.subnet_id, s.lease_state()))
    }

    /// The earliest `expire` of a lease in state 0 or 1 (for the reclamation timer).
    pub fn next_expiration(&self) -> Option<Timestamp> {
        let id = self.heap_ref(HeapKind::Pending)?;
        self.slots.get(id as usize).map(|s| Timestamp(s.expire()))
    }

    fn heap_ref(&self, kind: HeapKind) -> Option<u32> {
        let (len, i) = match kind {
            HeapKind::Pending => (self.pending_len, 0),
            HeapKind::Reclaimed => (self.reclaimed_len, self.expiry.len().wrapping_sub(1)),
        };
        if len == 0 {
            return None;
        }
        self.expiry.get(i).copied()
    }

    fn heap(&mut self, kind: HeapKind) -> Heap<'_> {
        Heap {
            ids: &mut *self.expiry,
            slots: &mut *self.slots,
            len: match kind {
                HeapKind::Pending => &mut self.pending_len,
                HeapKind::Reclaimed => &mut self.reclaimed_len,
            },
            kind,
        }
    }

    fn heap_kind(slot: &LeaseSlot) -> HeapKind {
        if slot.is_reclaimed() {
            HeapKind::Reclaimed
        } else {
            HeapKind::Pending
        }
    }

    fn heap_unlink(&mut self, id: u32) {
        let Some(slot) = self.slots.get(id as usize) else {
            return;
        };
        let kind = Self::heap_kind(slot);
        let pos = slot.link as usize;
        self.heap(kind).remove_at(pos);
    }

    fn heap_link(&mut self, id: u32) {
        let Some(slot) = self.slots.get(id as usize) else {
            return;
        };
        let kind = Self::heap_kind(slot);
        self.heap(kind).push(id);
    }

    /// Removes `id` from the client-id and hardware-address indexes.
    fn unlink_identifiers(&mut self, id: u32) {
        if self.identifiers_deferred {
            return;
        }
        let Some(slot) = self.slots.get(id as usize) else {
            return;
        };
        let slots = &*self.slots;
        let text = &self.text;
        let cid = slot_client_id(slot, text);
        if !cid.is_empty() {
            self.by_client_id
                .remove(bytes_hash(cid), id, |v| hash_of_client_id(slots, text, v));
        }
        let hw = slot.hwaddr();
        if !hw.is_empty() {
            self.by_hwaddr
                .remove(bytes_hash(hw), id, |v| hash_of_hwaddr(slots, v));
        }
    }

    fn link_identifiers(&mut self, id: u32) {
        if self.identifiers_deferred {
            return;
        }
        let Some(slot) = self.slots.get(id as usize) else {
            return;
        };
        let mut has_cid = !slot_client_id(slot, &self.text).is_empty();
        let mut has_hw = !slot.hwaddr().is_empty();
        // A widening re-inserts every lease in use, `id` (already filled) among them: it
        // must not be inserted a second time (a duplicate entry would be returned twice by
        // the lookups and outlive the lease).
        if has_cid && self.by_client_id.wants_widening() {
            self.widen_index(IndexKind::ClientId);
            has_cid = false;
        }
        if has_hw && self.by_hwaddr.wants_widening() {
            self.widen_index(IndexKind::HwAddr);
            has_hw = false;
        }
        let Some(slot) = self.slots.get(id as usize) else {
            return;
        };
        // The index has more slots than the table has leases, so inserts cannot fail.
        if has_cid {
            let cid = slot_client_id(slot, &self.text);
            let _ = self.by_client_id.insert(bytes_hash(cid), id);
        }
        if has_hw {
            let _ = self.by_hwaddr.insert(bytes_hash(slot.hwaddr()), id);
        }
    }

    /// Widens the three indexes at once so that `leases` leases fit each without a later
    /// widening (at most half full; capped by the storage): the lease file loader calls it
    /// with its estimate of the rows to come, so a 100,000-lease start-up rehashes nothing.
    /// Costs resident index memory for `leases` up front; nothing else changes.
    pub fn reserve(&mut self, leases: usize) {
        for kind in [IndexKind::Address, IndexKind::ClientId, IndexKind::HwAddr] {
            let index = self.index(kind);
            let mut active = index.active_slots();
            while active < index.total_slots() && active / 2 < leases {
                active *= 2;
            }
            if active > index.active_slots() {
                self.widen_index_to(kind, active);
            }
        }
    }

    /// Starts a bulk load (the lease file at start-up or on reconfiguration): until
    /// [`Self::finish_bulk_load`], [`Self::apply`]/[`Self::upsert`]/[`Self::remove`] keep
    /// the address index, the expiry heaps and the occupancy as always but leave the
    /// client-id and hardware-address indexes alone; `finish_bulk_load` rebuilds those two
    /// from the lease slots in one pass.
    ///
    /// Why: inserting each row's identifiers as it is read costs a cache miss per index per
    /// row (random slots of a megabyte-sized array), each waited for in turn; the rebuild's
    /// inserts do not depend on each other, so the processor overlaps their misses. The
    /// lease-file loader only stores (the journal rules look leases up by address), so
    /// nothing reads those indexes in between; a lookup by identifier during a bulk load
    /// sees at most the leases stored before it began (stale entries are filtered out by
    /// the key comparison every lookup makes), never a wrong lease.
    ///
    /// `expected_rows` (an estimate, e.g. from the file size) widens the address index up
    /// front, as [`Self::reserve`] does, so the load rehashes nothing; the identifier indexes
    /// are sized at the end from the leases that have the key (a file without client-ids
    /// leaves that index at its minimum instead of a megabyte per 100,000 rows).
    pub fn begin_bulk_load(&mut self, expected_rows: usize) {
        let index = self.index(IndexKind::Address);
        let mut active = index.active_slots();
        while active < index.total_slots() && active / 2 < expected_rows {
            active *= 2;
        }
        if active > index.active_slots() {
            self.widen_index_to(IndexKind::Address, active);
        }
        self.identifiers_deferred = true;
    }

    /// Ends a bulk load ([`Self::begin_bulk_load`]): rebuilds the client-id and
    /// hardware-address indexes from the lease slots, widened first for the leases they
    /// will hold (at most half full). O(slots used). Call it whether the load succeeded or
    /// not; a call without a bulk load in progress does nothing.
    pub fn finish_bulk_load(&mut self) {
        if !self.identifiers_deferred {
            return;
        }
        self.identifiers_deferred = false;
        // One pass fills both indexes: each pass is a walk through every lease slot (8 MB
        // for 100,000 leases), which the memory bus, not the processor, paces; the counts
        // that size them are kept as leases come and go.
        let (with_client_id, with_hwaddr) = (self.with_client_id, self.with_hwaddr);
        let sized = |index: &HashIndex<'_>, keyed: usize| {
            let mut active = index.active_slots();
            while active < index.total_slots() && active / 2 < keyed {
                active *= 2;
            }
            active
        };
        let client_id_active = sized(&self.by_client_id, with_client_id);
        let hwaddr_active = sized(&self.by_hwaddr, with_hwaddr);
        self.rebuild_indexes(&[
            (IndexKind::ClientId, client_id_active),
            (IndexKind::HwAddr, hwaddr_active),
        ]);
    }

    fn index(&self, kind: IndexKind) -> &HashIndex<'a> {
        match kind {
            IndexKind::Address => &self.by_address,
            IndexKind::ClientId => &self.by_client_id,
            IndexKind::HwAddr => &self.by_hwaddr,
        }
    }

    /// Doubles the slots `kind`'s index uses and re-inserts every lease it holds (from the
    /// lease slots). O(slots used); it runs about log2(leases / 1024) times in a table's
    /// life, so inserts stay amortised O(1), and it never allocates.
    fn widen_index(&mut self, kind: IndexKind) {
        let doubled = self.index(kind).active_slots().saturating_mul(2);
        self.widen_index_to(kind, doubled);
    }

    /// [`Self::widen_index`] to `active` slots (a power of two; capped by the storage).
    fn widen_index_to(&mut self, kind: IndexKind, active: usize) {
        self.rebuild_index(kind, active);
    }

    /// Empties `kind`'s index, widens it to `active` slots (when larger; capped by the
    /// storage) and re-inserts every lease that has the key, in slot order.
    fn rebuild_index(&mut self, kind: IndexKind, active: usize) {
        self.rebuild_indexes(&[(kind, active)]);
    }

    /// [`Self::rebuild_index`] for several indexes in one pass over the lease slots.
    fn rebuild_indexes(&mut self, targets: &[(IndexKind, usize)]) {
        let LeaseTable {
            slots,
            by_address,
            by_client_id,
            by_hwaddr,
            text,
            high_water,
            address_entries: entries,
            ..
        } = self;
        for &(kind, active) in targets {
            let index = match kind {
                IndexKind::Address => &mut *by_address,
                IndexKind::ClientId => &mut *by_client_id,
                IndexKind::HwAddr => &mut *by_hwaddr,
            };
            if index.active_slots() >= active || index.active_slots() >= index.total_slots() {
                index.clear();
            }
            while index.active_slots() < active && index.active_slots() < index.total_slots() {
                index.widen();
            }
        }
        let slots = slots.get(..*high_water as usize).unwrap_or(&[]);
        // Inserts go in batches: first every home slot of the batch is read (independent
        // loads, so their cache misses overlap), then the inserts find those lines cached.
        // Inserted one by one, each waited for its own miss into a megabyte-sized index.
        let mut batch = [(IndexKind::Address, 0u64, 0u32); REBUILD_BATCH];
        let mut queued = 0usize;
        let mut flush = |batch: &[(IndexKind, u64, u32)]| {
            let mut warm = 0u32;
            for &(kind, key, _) in batch {
                let index = match kind {
                    IndexKind::Address => &*by_address,
                    IndexKind::ClientId => &*by_client_id,
                    IndexKind::HwAddr => &*by_hwaddr,
                };
                warm ^= index.view().candidates(key).next().unwrap_or(0);
            }
            core::hint::black_box(warm);
            for &(kind, key, entry) in batch {
                let index = match kind {
                    IndexKind::Address => &mut *by_address,
                    IndexKind::ClientId => &mut *by_client_id,
                    IndexKind::HwAddr => &mut *by_hwaddr,
                };
                let _ = index.insert(key, entry);
            }
        };
        for (id, slot) in slots.iter().enumerate() {
            if !slot.in_use() {
                continue;
            }
            let id = id as u32;
            for &(kind, _) in targets {
                let (key, entry) = match kind {
                    IndexKind::Address => {
                        (address_hash(slot.address), entries.entry(id, slot.address))
                    }
                    IndexKind::ClientId => match slot_client_id(slot, text) {
                        [] => continue,
                        cid => (bytes_hash(cid), id),
                    },
                    IndexKind::HwAddr => match slot.hwaddr() {
                        [] => continue,
                        hw => (bytes_hash(hw), id),
                    },
                };
                if let Some(place) = batch.get_mut(queued) {
                    *place = (kind, key, entry);
                    queued += 1;
                }
                if queued == REBUILD_BATCH {
                    flush(&batch);
                    queued = 0;
                }
            }
        }
        flush(batch.get(..queued).unwrap_or(&[]));
    }

    fn free_texts(&mut self, id: u32) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        self.text.free(slot.hostname);
        self.text.free(slot.user_context);
        slot.hostname = NONE;
        slot.user_context = NONE;
        if !slot.client_id_is_inline() {
            self.text.free(slot.client_id_offset());
        }
        slot.client_id_len = 0;
    }

    fn text_footprint(&self, id: u32) -> usize {
        let Some(slot) = self.slots.get(id as usize) else {
            return 0;
        };
        let mut n =
            self.text.size_of_block(slot.hostname) + self.text.size_of_block(slot.user_context);
        if !slot.client_id_is_inline() {
            n += self.text.size_of_block(slot.client_id_offset());
        }
        n
    }

    fn alloc_text(&mut self, id: u32, kind: TextKind, data: &[u8]) -> u32 {
        if data.is_empty() {
            return NONE;
        }
        let slots = &mut *self.slots;
        self.text
            .alloc(owner_code(id, kind), data, |owner, offset| {
                relocate(slots, owner, offset)
            })
            .unwrap_or(NONE)
    }

    /// Writes `r` into slot `id` (whose texts are already freed and which is in no index
    /// but the address index).
    fn fill(&mut self, id: u32, r: &LeaseRecord<'_>) {
        let hostname = self.alloc_text(id, TextKind::Hostname, r.hostname.as_bytes());
        if let Some(s) = self.slots.get_mut(id as usize) {
            s.hostname = hostname;
        }
        let user_context = self.alloc_text(id, TextKind::UserContext, r.user_context.as_bytes());
        if let Some(s) = self.slots.get_mut(id as usize) {
            s.user_context = user_context;
        }
        let long_cid = (r.client_id.len() > CLIENT_ID_INLINE)
            .then(|| self.alloc_text(id, TextKind::ClientId, r.client_id));
        let Some(s) = self.slots.get_mut(id as usize) else {
            return;
        };
        s.address = r.address.to_bits();
        s.subnet_id = r.subnet_id;
        s.cltt = r.cltt.0;
        s.valid_lifetime = r.valid_lifetime;
        s.state = r.state.code() as u8;
        s.flags = (u8::from(r.fqdn_fwd) * FLAG_FQDN_FWD) | (u8::from(r.fqdn_rev) * FLAG_FQDN_REV);
        s.hwaddr = zero_padded(r.hwaddr);
        s.hwaddr_len = r.hwaddr.len() as u8;
        s.client_id = match long_cid {
            Some(offset) => zero_padded(&offset.to_le_bytes()),
            None => zero_padded(r.client_id),
        };
        s.client_id_len = r.client_id.len() as u8;
    }

    /// Stores `record` as the lease of its address, replacing any lease there (the id stays
    /// the same). The record is stored as given, even with `valid_lifetime` 0 (use
    /// [`Self::apply`] for Kea's journal semantics). Nothing changes on error.
    pub fn upsert(&mut self, record: &LeaseRecord<'_>) -> Result<LeaseId, TableError> {
        self.store(record).map(|(id, _)| id)
    }

    /// [`Self::upsert`], also saying whether the address had a lease before (`true`): one
    /// address-index probe per record instead of two, which is most of a lease-file load's
    /// cost per row (a cache miss into the index, another into the slot it names).
    fn store(&mut self, record: &LeaseRecord<'_>) -> Result<(LeaseId, bool), TableError> {
        if record.hwaddr.len() > HWADDR_MAX {
            return Err(TableError::HwAddrTooLong);
        }
        if record.client_id.len() > CLIENT_ID_MAX {
            return Err(TableError::ClientIdTooLong);
        }
        if record.hostname.len() > TEXT_MAX || record.user_context.len() > TEXT_MAX {
            return Err(TableError::TextTooLong);
        }
        let long_cid = if record.client_id.len() > CLIENT_ID_INLINE {
            record.client_id.len()
        } else {
            0
        };
        let need = block_size(record.hostname.len())
            + block_size(record.user_context.len())
            + block_size(long_cid);
        let addr = record.address;
        let (id, existed) = match self.id_of(addr) {
            Some(LeaseId(id)) => {
                if need > self.text.available() + self.text_footprint(id) {
                    return Err(TableError::TextFull);
                }
                self.detach(id);
                (id, true)
            }
            None => {
                if self.free_head == NONE && self.high_water as usize >= self.slots.len() {
                    return Err(TableError::Full);
                }
                if need > self.text.available() {
                    return Err(TableError::TextFull);
                }
                if self.by_address.wants_widening() {
                    self.widen_index(IndexKind::Address);
                }
                let id = if self.free_head != NONE {
                    self.free_head
                } else {
                    self.high_water
                };
                let Some(slot) = self.slots.get_mut(id as usize) else {
                    return Err(TableError::Full);
                };
                if id == self.free_head {
                    self.free_head = slot.link;
                } else {
                    // A slot never used before: whatever the storage held, it starts free.
                    *slot = LeaseSlot::default();
                    self.high_water += 1;
                }
                slot.address = addr.to_bits();
                slot.state = LeaseState::Default.code() as u8;
                let entry = self.address_entries.entry(id, addr.to_bits());
                let _ = self.by_address.insert(address_hash(addr.to_bits()), entry);
                self.len += 1;
                (id, false)
            }
        };
        self.fill(id, record);
        self.attach(id);
        Ok((LeaseId(id), existed))
    }

    /// Counts slot `id`'s client-id and hardware address in (`attached`) or out of
    /// `with_client_id`/`with_hwaddr`.
    fn count_identifiers(&mut self, id: u32, attached: bool) {
        let Some(slot) = self.slots.get(id as usize) else {
            return;
        };
        let client_id = usize::from(!slot_client_id(slot, &self.text).is_empty());
        let hwaddr = usize::from(!slot.hwaddr().is_empty());
        if attached {
            self.with_client_id += client_id;
            self.with_hwaddr += hwaddr;
        } else {
            self.with_client_id = self.with_client_id.saturating_sub(client_id);
            self.with_hwaddr = self.with_hwaddr.saturating_sub(hwaddr);
        }
    }

    /// Takes slot `id` out of every structure but the address index, and frees its text.
    fn detach(&mut self, id: u32) {
        self.count_identifiers(id, false);
        self.unlink_identifiers(id);
        self.heap_unlink(id);
        if let Some(slot) = self.slots.get(id as usize) {
            if slot.holds_address() {
                let a = Ipv4Addr::from_bits(slot.address);
                self.occupancy.set_held(a, false);
            }
        }
        self.free_texts(id);
    }

    /// Puts a filled slot into the identifier indexes, its expiry heap and the occupancy.
    fn attach(&mut self, id: u32) {
        self.count_identifiers(id, true);
        self.link_identifiers(id);
        self.heap_link(id);
        if let Some(slot) = self.slots.get(id as usize) {
            if slot.holds_address() {
                let a = Ipv4Addr::from_bits(slot.address);
                self.occupancy.set_held(a, true);
            }
        }
    }

    /// Removes the lease of `addr`; false if there was none.
    pub fn remove(&mut self, addr: Ipv4Addr) -> bool {
        let Some(LeaseId(id)) = self.id_of(addr) else {
            return false;
        };
        self.detach(id);
        let slots = &*self.slots;
        let entries = self.address_entries;
        self.by_address.remove(
            address_hash(addr.to_bits()),
            entries.entry(id, addr.to_bits()),
            |v| hash_of_address(slots, entries, v),
        );
        if let Some(slot) = self.slots.get_mut(id as usize) {
            *slot = LeaseSlot::default();
            slot.link = self.free_head;
        }
        self.free_head = id;
        self.len -= 1;
        true
    }

    /// Applies a journal record the way Kea's loader does (kea-memfile.md §3.3): a record
    /// with `valid_lifetime` 0 removes the address's lease (ignored when there is none);
    /// any other record inserts or replaces it (last line wins).
    pub fn apply(&mut self, record: &LeaseRecord<'_>) -> Result<Applied, TableError> {
        if record.is_removal() {
            return Ok(if self.remove(record.address) {
                Applied::Removed
            } else {
                Applied::IgnoredRemoval
            });
        }
        let (id, existed) = self.store(record)?;
        Ok(if existed {
            Applied::Replaced(id)
        } else {
            Applied::Inserted(id)
        })
    }

    /// Reclaims up to `max` leases in state 0 or 1 that expired at `now` (now > cltt +
    /// valid), earliest first (dhcpv4-server-behaviour.md §12):
    /// * a declined lease is removed (Kea: "there's no point in keeping a declined lease
    ///   after its reclamation", it has no client identity left);
    /// * with `hold_reclaimed_time` 0 the lease is removed;
    /// * otherwise it is kept in state 2 (expired-reclaimed) with the hostname cleared and
    ///   the fqdn flags 0, for lease affinity, until [`Self::flush_reclaimed`] removes it.
    ///
    /// `sink` sees each change as the lease-file row Kea appends (kea-memfile.md §2): the
    /// state-2 lease, or the lease with `valid_lifetime` 0 for a removal. Returns the number
    /// of leases reclaimed. `max` is Kea's `max-reclaim-leases`, where 0 means "no limit":
    /// pass `usize::MAX` for that.
    pub fn reclaim_expired(
        &mut self,
        now: Timestamp,
        max: usize,
        hold_reclaimed_time: u32,
        mut sink: impl FnMut(&LeaseRecord<'_>),
    ) -> usize {
        let mut done = 0;
        while done < max {
            let Some(id) = self.heap_ref(HeapKind::Pending) else {
                break;
            };
            let Some(slot) = self.slots.get(id as usize) else {
                break;
            };
            if now.0 <= slot.expire() {
                break;
            }
            let declined = slot.state == LeaseState::Declined.code() as u8;
            let addr = Ipv4Addr::from_bits(slot.address);
            if declined || hold_reclaimed_time == 0 {
                if let Some(r) = self.record(LeaseId(id)) {
                    sink(&LeaseRecord {
                        valid_lifetime: 0,
                        ..r
                    });
                }
                self.remove(addr);
            } else {
                self.heap_unlink(id);
                self.occupancy.set_held(addr, false);
                if let Some(slot) = self.slots.get_mut(id as usize) {
                    self.text.free(slot.hostname);
                    slot.hostname = NONE;
                    slot.flags = 0;
                    slot.state = LeaseState::ExpiredReclaimed.code() as u8;
                }
                self.heap_link(id);
                if let Some(r) = self.record(LeaseId(id)) {
                    sink(&r);
                }
            }
            done += 1;
        }
        done
    }

    /// Removes up to `max` expired-reclaimed leases older than `hold_reclaimed_time`
    /// (Kea's flush timer: removed when expire < now − hold), reporting each as a
    /// `valid_lifetime` 0 record. Returns the number removed.
    pub fn flush_reclaimed(
        &mut self,
        now: Timestamp,
        max: usize,
        hold_reclaimed_time: u32,
        mut sink: impl FnMut(&LeaseRecord<'_>),
    ) -> usize {
        let mut done = 0;
        while done < max {
            let Some(id) = self.heap_ref(HeapKind::Reclaimed) else {
                break;
            };
            let Some(slot) = self.slots.get(id as usize) else {
                break;
            };
            if Timestamp(slot.expire()).plus(hold_reclaimed_time) >= now {
                break;
            }
            let addr = Ipv4Addr::from_bits(slot.address);
            if let Some(r) = self.record(LeaseId(id)) {
                sink(&LeaseRecord {
                    valid_lifetime: 0,
                    ..r
                });
            }
            self.remove(addr);
            done += 1;
        }
        done
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::lease::occupancy::{OccupancySizes, PoolBits, SortedPool};
    use std::vec;
    use std::vec::Vec;

    /// Owned storage for tests (what the daemon does with its allocations).
    pub(crate) struct Owned {
        pub(crate) leases: Vec<LeaseSlot>,
        pub(crate) by_address: Vec<u32>,
        pub(crate) by_client_id: Vec<u32>,
        pub(crate) by_hwaddr: Vec<u32>,
        pub(crate) expiry: Vec<u32>,
        text: Vec<u8>,
        pools: Vec<PoolBits>,
        sorted: Vec<SortedPool>,
        held: Vec<u64>,
        reserved: Vec<u64>,
    }

    impl Owned {
        pub(crate) fn new(
            capacity: usize,
            text_bytes: usize,
            pools: &[(Ipv4Addr, Ipv4Addr)],
        ) -> Owned {
            let sizes = LeaseStorage::sizes_for(capacity);
            let occ = OccupancySizes::for_ranges(pools.iter().copied());
            Owned {
                leases: vec![LeaseSlot::default(); sizes.leases],
                by_address: vec![0; sizes.index_slots],
                by_client_id: vec![0; sizes.index_slots],
                by_hwaddr: vec![0; sizes.index_slots],
                expiry: vec![0; sizes.expiry],
                text: vec![0; text_bytes],
                pools: vec![PoolBits::default(); occ.pools],
                sorted: vec![SortedPool::default(); occ.pools],
                held: vec![0; occ.words],
                reserved: vec![0; occ.words],
            }
        }

        pub(crate) fn table(&mut self) -> LeaseTable<'_> {
            LeaseTable::new(LeaseStorage {
                leases: &mut self.leases,
                by_address: &mut self.by_address,
                by_client_id: &mut self.by_client_id,
                by_hwaddr: &mut self.by_hwaddr,
                expiry: &mut self.expiry,
                text: &mut self.text,
                occupancy: OccupancyStorage {
                    pools: &mut self.pools,
                    sorted: &mut self.sorted,
                    held: &mut self.held,
                    reserved: &mut self.reserved,
                },
            })
            .unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::Owned;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn addr(i: u32) -> Ipv4Addr {
        Ipv4Addr::from_bits(0xc612_0000 + i) // 198.18.0.0 + i
    }

    fn lease<'a>(i: u32, hw: &'a [u8], cid: &'a [u8], host: &'a str) -> LeaseRecord<'a> {
        LeaseRecord {
            address: addr(i),
            hwaddr: hw,
            client_id: cid,
            valid_lifetime: 3600,
            cltt: Timestamp(1_000_000),
            subnet_id: 1,
            fqdn_fwd: false,
            fqdn_rev: false,
            hostname: host,
            state: LeaseState::Default,
            user_context: "",
        }
    }

    #[test]
    fn insert_lookup_replace_remove() {
        let mut owned = Owned::new(8, 4096, &[]);
        let mut t = owned.table();
        let hw = [2, 0, 0, 0, 0, 1];
        let cid = [1, 2, 0, 0, 0, 0, 1];
        let id = t.upsert(&lease(1, &hw, &cid, "a.example.")).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(addr(1)).unwrap().hostname, "a.example.");
        assert_eq!(t.find_by_client_id(&cid, 1).unwrap().0, id);
        assert_eq!(t.find_by_hwaddr(&hw, 1).unwrap().0, id);
        assert!(t.find_by_hwaddr(&hw, 2).is_none());
        // Replace keeps the id, updates the identifier indexes.
        let hw2 = [2, 0, 0, 0, 0, 2];
        assert_eq!(t.upsert(&lease(1, &hw2, &[], "b")).unwrap(), id);
        assert_eq!(t.len(), 1);
        assert!(t.find_by_client_id(&cid, 1).is_none());
        assert!(t.find_by_hwaddr(&hw, 1).is_none());
        assert_eq!(t.find_by_hwaddr(&hw2, 1).unwrap().1.hostname, "b");
        assert!(t.remove(addr(1)));
        assert!(!t.remove(addr(1)));
        assert!(t.get(addr(1)).is_none());
        assert!(t.find_by_hwaddr(&hw2, 1).is_none());
        assert!(t.is_empty());
    }

    /// `subnet_states` yields what `iter` does for those two fields, freed slots skipped;
    /// identifiers are stored zero-padded whatever the slot held before.
    #[test]
    fn subnet_states_follow_the_leases_and_identifiers_are_padded() {
        let mut owned = Owned::new(16, 4096, &[]);
        let mut t = owned.table();
        let long_cid = [7u8; 40];
        for i in 0..6u32 {
            let hw = [2, 0, 0, 0, 0, i as u8, 9, 9];
            let mut l = lease(i, &hw, &long_cid[..], "");
            l.subnet_id = 10 + i;
            l.state = [
                LeaseState::Default,
                LeaseState::Declined,
                LeaseState::ExpiredReclaimed,
            ][i as usize % 3];
            t.upsert(&l).unwrap();
        }
        assert!(t.remove(addr(2)));
        // A shorter identifier over a longer one: no stale bytes.
        t.upsert(&lease(3, &[1, 2], &[1, 2, 3], "")).unwrap();
        let states: Vec<(u32, LeaseState)> = t.subnet_states().collect();
        let expected: Vec<(u32, LeaseState)> =
            t.iter().map(|(_, r)| (r.subnet_id, r.state)).collect();
        assert_eq!(states, expected);
        assert_eq!(states.len(), 5);
        assert!(!states.iter().any(|&(s, _)| s == 12));
        let r = t.get(addr(3)).unwrap();
        assert_eq!((r.hwaddr, r.client_id), (&[1u8, 2][..], &[1u8, 2, 3][..]));
        let slot = t.slots[t.id_of(addr(3)).unwrap().0 as usize];
        assert!(slot.hwaddr[2..].iter().all(|&b| b == 0));
        assert!(slot.client_id[3..].iter().all(|&b| b == 0));
        assert_eq!(t.get(addr(4)).unwrap().client_id, &long_cid[..]);
    }

    /// The identifier counts that size the indexes after a bulk load follow every way a
    /// lease comes, changes and goes (insert, replace with other keys, remove, reclaim,
    /// flush, clear), inside and outside a bulk load.
    #[test]
    fn identifier_counts_follow_the_leases() {
        fn recount(t: &LeaseTable<'_>) -> (usize, usize) {
            let cids = t.iter().filter(|(_, r)| !r.client_id.is_empty()).count();
            let hws = t.iter().filter(|(_, r)| !r.hwaddr.is_empty()).count();
            (cids, hws)
        }
        let mut owned = Owned::new(256, 64 * 1024, &[]);
        let mut t = owned.table();
        let long_cid = [9u8; 60];
        let mut rng = 7u32;
        for step in 0..2000u32 {
            rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let a = (rng >> 8) % 200;
            let hw: &[u8] = if rng & 1 == 0 {
                &[2, 0, 0, 0, 0, 1]
            } else {
                &[]
            };
            let cid: &[u8] = match (rng >> 1) % 3 {
                0 => &[],
                1 => &[1, 2, 3],
                _ => &long_cid,
            };
            match step {
                1000 => t.begin_bulk_load(100),
                1500 => t.finish_bulk_load(),
                _ if step % 50 == 0 && step > 0 => {
                    assert!(t.reclaim_expired(Timestamp(2_000_000), 5, 3600, |_| {}) > 0);
                    t.flush_reclaimed(Timestamp(2_000_000 + 7200), 2, 3600, |_| {});
                }
                _ => {}
            }
            match (rng >> 4) % 7 {
                0 => {
                    t.remove(addr(a));
                }
                _ => {
                    let mut l = lease(a, hw, cid, "");
                    l.state = if hw.is_empty() && cid.is_empty() {
                        LeaseState::Declined
                    } else {
                        LeaseState::Default
                    };
                    t.upsert(&l).unwrap();
                }
            }
            assert_eq!(
                (t.with_client_id, t.with_hwaddr),
                recount(&t),
                "step {step}"
            );
        }
        t.finish_bulk_load();
        assert!(t.with_client_id > 0 && t.with_hwaddr > 0);
        t.clear();
        assert_eq!((t.with_client_id, t.with_hwaddr), (0, 0));
    }

    /// The identifier hash: zero padding and length matter, every byte of a 20-byte
    /// hardware address and of a 128-byte client-id counts, and sequential MACs spread
    /// over the home slots of a small index.
    #[test]
    fn identifier_hash_separates_lengths_and_bytes() {
        assert_ne!(bytes_hash(&[2, 0]), bytes_hash(&[2, 0, 0]));
        assert_ne!(bytes_hash(&[]), bytes_hash(&[0]));
        assert_ne!(bytes_hash(&[0; 8]), bytes_hash(&[0; 9]));
        for len in [6usize, 20, 128] {
            let base = vec![0x5au8; len];
            for i in 0..len {
                let mut other = base.clone();
                other[i] ^= 1;
                assert_ne!(bytes_hash(&base), bytes_hash(&other), "{len} {i}");
            }
        }
        let homes: std::collections::BTreeSet<u64> = (0..1024u32)
            .map(|i| bytes_hash(&[2, 0xbe, 0, 0, (i >> 8) as u8, i as u8]) & 1023)
            .collect();
        assert!(homes.len() > 600, "{}", homes.len());
    }

    /// The address index's entries: the id comes back, the tag takes only the spare bits,
    /// and no entry is ever the empty marker, at capacities at and around powers of two.
    #[test]
    fn address_entries_keep_ids_and_never_look_empty() {
        for capacity in [1, 2, 3, 255, 256, 257, 131_835, (1 << 20) - 1, CAPACITY_MAX] {
            let entries = AddressEntries::for_capacity(capacity);
            let last = (capacity - 1) as u32;
            for id in [0, 1.min(last), last / 2, last] {
                for a in [0, 1, 0xc612_0100, 0xc613_ffff, u32::MAX] {
                    let e = entries.entry(id, a);
                    assert_ne!(e, crate::index::EMPTY, "capacity {capacity} id {id}");
                    assert_eq!(entries.id(e), id, "capacity {capacity}");
                    assert!(entries.may_be(e, a));
                }
            }
        }
        // 14 tag bits at the benchmark's capacity: neighbours' tags differ.
        let entries = AddressEntries::for_capacity(131_835);
        assert_eq!(entries.id_bits, 18);
        let tags: std::collections::BTreeSet<u32> =
            (0..64).map(|a| entries.tag(0xc612_0100 + a)).collect();
        assert!(tags.len() > 60, "{}", tags.len());
    }

    /// Addresses in dense runs (one index group per 16), in strides that share a group
    /// position (every 16th, every 256th) and scattered, with removals in between (backward
    /// shifts across groups and spilled blocks): every lease stays findable by address and
    /// removed ones are gone, before and after the index widens.
    #[test]
    fn address_index_groups_survive_runs_strides_and_removals() {
        let mut owned = Owned::new(4096, 4096, &[]);
        let mut t = owned.table();
        let hw = [2, 0, 0, 0, 0, 1];
        let mut addresses: Vec<u32> = (0..600).collect(); // dense
        addresses.extend((0..400).map(|i| 1000 + 16 * i)); // same slot of each group
        addresses.extend((0..200).map(|i| 20_000 + 256 * i));
        addresses.extend((0..300u32).map(|i| i.wrapping_mul(2_654_435_761) % 1_000_000 + 100_000));
        addresses.sort_unstable();
        addresses.dedup();
        for &a in &addresses {
            t.upsert(&lease(a, &hw, &[], "")).unwrap();
        }
        assert_eq!(t.len(), addresses.len());
        for &a in &addresses {
            assert_eq!(t.get(addr(a)).map(|r| r.address), Some(addr(a)), "{a}");
        }
        // Remove every third (and a run out of the middle of the dense part).
        let removed: Vec<u32> = addresses
            .iter()
            .copied()
            .enumerate()
            .filter(|&(i, a)| i % 3 == 0 || (100..140).contains(&a))
            .map(|(_, a)| a)
            .collect();
        for &a in &removed {
            assert!(t.remove(addr(a)), "{a}");
        }
        for &a in &addresses {
            let gone = removed.binary_search(&a).is_ok();
            assert_eq!(t.get(addr(a)).is_none(), gone, "{a}");
        }
        assert!(t.get(addr(5_000_000)).is_none());
        // Re-adding the removed ones reuses freed slots; all findable again.
        for &a in &removed {
            t.upsert(&lease(a, &hw, &[], "x")).unwrap();
        }
        for &a in &addresses {
            assert_eq!(t.get(addr(a)).map(|r| r.address), Some(addr(a)), "{a}");
        }
    }

    /// A table over storage holding arbitrary bytes (as zeroed pages the OS maps lazily would:
    /// a zero slot even looks like a lease in state 0) works, touches index slots only in the
    /// prefix its leases need and lease slots only up to the number of leases, and widening
    /// the indexes past 1024 keeps every lease findable by address, client-id and MAC.
    #[test]
    fn storage_beyond_use_is_never_touched() {
        const CAPACITY: usize = 8192;
        const N: u32 = 3000;
        let mut owned = Owned::new(CAPACITY, 64 * 1024, &[]);
        let zero_slot = LeaseSlot {
            link: 0,
            hostname: 0,
            user_context: 0,
            state: 0,
            ..LeaseSlot::default()
        };
        owned.leases.fill(zero_slot);
        for index in [
            &mut owned.by_address,
            &mut owned.by_client_id,
            &mut owned.by_hwaddr,
        ] {
            index.fill(0x5a5a_5a5a);
        }
        owned.expiry.fill(0x5a5a_5a5a);
        let mut t = owned.table();
        assert!(t.is_empty());
        assert_eq!(t.iter().count(), 0, "never-used slots are not leases");
        let mac = |i: u32| {
            let b = i.to_be_bytes();
            [2, 0, b[0], b[1], b[2], b[3]]
        };
        let cid = |i: u32| {
            let b = i.to_be_bytes();
            [1, 2, 0, b[0], b[1], b[2], b[3]]
        };
        for i in 0..N {
            t.upsert(&lease(i, &mac(i), &cid(i), "")).unwrap();
        }
        assert!(t.remove(addr(7)));
        t.upsert(&lease(N, &mac(N), &cid(N), "")).unwrap();
        assert_eq!(t.len(), N as usize);
        assert_eq!(t.iter().count(), N as usize);
        for i in (0..=N).filter(|&i| i != 7) {
            let (id, _) = t.find_by_hwaddr(&mac(i), 1).unwrap();
            assert_eq!(t.find_by_client_id(&cid(i), 1).unwrap().0, id);
            assert_eq!(t.id_of(addr(i)), Some(id));
        }
        assert_eq!(
            t.by_address.active_slots(),
            8192,
            "3000 leases: ≤ half of 8192"
        );
        assert!(
            owned.leases[N as usize..].iter().all(|s| *s == zero_slot),
            "the freed slot was reused: slots beyond {N} untouched"
        );
        assert!(owned.expiry[N as usize..].iter().all(|&v| v == 0x5a5a_5a5a));
        assert!(owned.by_address[8192..].iter().all(|&v| v == 0x5a5a_5a5a));
    }

    /// `reserve` widens every index once, up to its storage, and keeps every lease findable.
    #[test]
    fn a_bulk_load_ends_with_the_same_identifier_lookups_as_row_by_row_stores() {
        // 3,000 rows (the identifier indexes start at 1,024 slots, so the rebuild must widen
        // them), with replacements that change a lease's identifiers and removals, stored
        // once row by row and once as a bulk load: every lookup must agree afterwards.
        let hw = |i: u32| [2, 0, 0, 0, (i >> 8) as u8, i as u8];
        let cid = |i: u32| [1, 2, 0, 0, 0, (i >> 8) as u8, i as u8];
        let long_cid = |i: u32| {
            let mut c = [7u8; 40];
            c[0] = (i >> 8) as u8;
            c[1] = i as u8;
            c
        };
        let rows = |t: &mut LeaseTable<'_>| {
            for i in 0..3000 {
                let (h, c, l) = (hw(i), cid(i), long_cid(i));
                let id: &[u8] = match i % 3 {
                    0 => &[],
                    1 => &c,
                    _ => &l,
                };
                t.apply(&lease(i, &h, id, "")).unwrap();
            }
            for i in (0..3000).step_by(7) {
                // A new client on the address: old identifiers must no longer find it.
                let (h, c) = (hw(i + 10_000), cid(i + 10_000));
                t.apply(&lease(i, &h, &c, "")).unwrap();
            }
            for i in (0..3000).step_by(11) {
                t.apply(&LeaseRecord {
                    valid_lifetime: 0,
                    ..lease(i, &[], &[], "")
                })
                .unwrap();
            }
        };
        let mut plain = Owned::new(8192, 256 * 1024, &[]);
        let mut plain = plain.table();
        rows(&mut plain);
        let mut bulk = Owned::new(8192, 256 * 1024, &[]);
        let mut bulk = bulk.table();
        bulk.begin_bulk_load(3000);
        assert_eq!(bulk.by_address.active_slots(), 8192);
        assert_eq!(bulk.by_client_id.active_slots(), 1024, "sized at the end");
        rows(&mut bulk);
        bulk.finish_bulk_load();
        bulk.finish_bulk_load(); // a second call does nothing
                                 // Every lease has a hardware address: one entry each (a widening triggered by a
                                 // store used to index that lease twice).
        assert_eq!(plain.by_hwaddr.len(), plain.len());
        assert_eq!(bulk.len(), plain.len());
        assert_eq!(bulk.by_hwaddr.len(), plain.by_hwaddr.len());
        assert_eq!(bulk.by_client_id.len(), plain.by_client_id.len());
        assert!(bulk.by_hwaddr.len() * 2 <= bulk.by_hwaddr.active_slots());
        assert!(bulk.by_client_id.len() * 2 <= bulk.by_client_id.active_slots());
        let found = |t: &LeaseTable<'_>, key: &[u8], by_cid: bool| -> Vec<Ipv4Addr> {
            let mut v: Vec<_> = if by_cid {
                t.by_client_id(key).map(|(_, r)| r.address).collect()
            } else {
                t.by_hwaddr(key).map(|(_, r)| r.address).collect()
            };
            v.sort();
            v
        };
        for i in 0..13_000 {
            for key in [&hw(i)[..], &cid(i)[..], &long_cid(i)[..]] {
                for by_cid in [false, true] {
                    assert_eq!(found(&bulk, key, by_cid), found(&plain, key, by_cid), "{i}");
                }
            }
        }
        assert_eq!(found(&bulk, &hw(10_007), false), vec![addr(7)]);
        assert!(found(&bulk, &hw(7), false).is_empty(), "replaced");
        assert!(found(&bulk, &hw(11), false).is_empty(), "removed");
        // After the load, stores keep the indexes up to date again.
        bulk.apply(&lease(5000, &hw(5000), &cid(5000), "")).unwrap();
        assert_eq!(found(&bulk, &cid(5000), true), vec![addr(5000)]);
    }

    #[test]
    fn reserve_widens_the_indexes_up_front() {
        let mut owned = Owned::new(8192, 64 * 1024, &[]);
        let mut t = owned.table();
        let hw = |i: u32| [2, 0, 0, 0, (i >> 8) as u8, i as u8];
        for i in 0..300 {
            t.upsert(&lease(i, &hw(i), &[], "")).unwrap();
        }
        assert_eq!(t.by_address.active_slots(), 1024);
        t.reserve(3000);
        assert_eq!(t.by_address.active_slots(), 8192);
        assert_eq!(t.by_client_id.active_slots(), 8192);
        t.reserve(100_000);
        assert_eq!(t.by_hwaddr.active_slots(), 16_384, "capped by the storage");
        for i in 0..300 {
            assert_eq!(t.find_by_hwaddr(&hw(i), 1).unwrap().1.address, addr(i));
            assert_eq!(t.id_of(addr(i)).map(|id| id.0), Some(i));
        }
    }

    #[test]
    fn client_ids_at_the_inline_boundary_round_trip() {
        // 24 bytes stay in the slot (no arena use), 25 and Kea's longest go out of line;
        // every one reads back and is found by its client-id.
        let mut owned = Owned::new(8, 4096, &[]);
        let mut t = owned.table();
        let lengths = [CLIENT_ID_INLINE, CLIENT_ID_INLINE + 1, CLIENT_ID_MAX];
        let cids: Vec<Vec<u8>> = lengths
            .iter()
            .map(|&n| (0..n).map(|b| b as u8 ^ n as u8).collect())
            .collect();
        for (i, cid) in cids.iter().enumerate() {
            let before = t.text_available();
            t.upsert(&lease(i as u32, &[2, 0, 0, 0, 0, i as u8], cid, ""))
                .unwrap();
            let used = before - t.text_available();
            assert_eq!(used == 0, cid.len() <= CLIENT_ID_INLINE, "{}", cid.len());
        }
        for (i, cid) in cids.iter().enumerate() {
            assert_eq!(t.get(addr(i as u32)).unwrap().client_id, &cid[..]);
            assert_eq!(
                t.find_by_client_id(cid, 1).unwrap().1.address,
                addr(i as u32)
            );
        }
    }

    #[test]
    fn slot_size_is_documented_figure() {
        assert_eq!(core::mem::size_of::<LeaseSlot>(), 80);
        let sizes = LeaseStorage::sizes_for(65_536);
        assert_eq!(sizes.index_slots, 131_072);
        // 80 (slot) + 4 (expiry) + 3 × 2 × 4 (index slots) = 108 bytes per lease.
        let per_lease =
            (sizes.leases * 80 + sizes.expiry * 4 + 3 * sizes.index_slots * 4) / sizes.leases;
        assert_eq!(per_lease, 108);
        assert!(per_lease <= 128);
        assert_eq!(LeaseStorage::sizes_for(100_000).index_slots, 262_144);
        assert_eq!(LeaseStorage::sizes_for(0).index_slots, 2);
    }

    #[test]
    fn storage_is_validated() {
        let mut owned = Owned::new(8, 64, &[]);
        let mut leases = [LeaseSlot::default(); 8];
        let mut small = [0u32; 8];
        let mut ok1 = [0u32; 16];
        let mut ok2 = [0u32; 16];
        let mut expiry = [0u32; 8];
        let mut text = [0u8; 16];
        let r = LeaseTable::new(LeaseStorage {
            leases: &mut leases,
            by_address: &mut small,
            by_client_id: &mut ok1,
            by_hwaddr: &mut ok2,
            expiry: &mut expiry,
            text: &mut text,
            occupancy: OccupancyStorage::empty(),
        });
        assert_eq!(r.err(), Some(StorageError::IndexSlots));
        let mut a = [0u32; 16];
        let mut b = [0u32; 16];
        let mut c = [0u32; 16];
        let mut short_expiry = [0u32; 7];
        let r = LeaseTable::new(LeaseStorage {
            leases: &mut leases,
            by_address: &mut a,
            by_client_id: &mut b,
            by_hwaddr: &mut c,
            expiry: &mut short_expiry,
            text: &mut text,
            occupancy: OccupancyStorage::empty(),
        });
        assert_eq!(r.err(), Some(StorageError::ExpiryTooSmall));
        assert_eq!(owned.table().capacity(), 8);
    }

    #[test]
    fn errors_leave_the_table_unchanged() {
        let mut owned = Owned::new(2, 40, &[]);
        let mut t = owned.table();
        let hw = [2, 0, 0, 0, 0, 1];
        assert_eq!(
            t.upsert(&lease(1, &[0; 21], &[], "")),
            Err(TableError::HwAddrTooLong)
        );
        assert_eq!(
            t.upsert(&lease(1, &hw, &[7; 256], "")),
            Err(TableError::ClientIdTooLong)
        );
        let huge = "h".repeat(TEXT_MAX + 1);
        assert_eq!(
            t.upsert(&lease(1, &hw, &[], &huge)),
            Err(TableError::TextTooLong)
        );
        // 40 bytes of text: a 30-byte hostname (36 with header) fits, a second does not.
        let h30 = "x".repeat(30);
        t.upsert(&lease(1, &hw, &[], &h30)).unwrap();
        assert_eq!(
            t.upsert(&lease(2, &hw, &[], &h30)),
            Err(TableError::TextFull)
        );
        assert_eq!(t.len(), 1);
        assert!(t.get(addr(2)).is_none());
        // Replacing the lease that holds the text may reuse its room.
        let h33 = "y".repeat(33);
        t.upsert(&lease(1, &hw, &[], &h33)).unwrap();
        assert_eq!(t.get(addr(1)).unwrap().hostname, h33);
        assert_eq!(
            t.upsert(&lease(1, &hw, &[], &"z".repeat(35))),
            Err(TableError::TextFull)
        );
        assert_eq!(t.get(addr(1)).unwrap().hostname, h33);
        t.upsert(&lease(2, &hw, &[], "")).unwrap();
        assert_eq!(t.upsert(&lease(3, &hw, &[], "")), Err(TableError::Full));
        assert_eq!(t.by_hwaddr(&hw).count(), 2);
    }

    #[test]
    fn long_client_ids_live_out_of_line_and_survive_compaction() {
        let mut owned = Owned::new(4, 200, &[]);
        let mut t = owned.table();
        let long: Vec<u8> = (0..100u8).collect();
        let short = [1u8, 2, 3];
        t.upsert(&lease(1, &[], &short, "aaaaaaaaaa")).unwrap();
        t.upsert(&lease(2, &[], &long, "bbbbbbbbbb")).unwrap();
        // Free lease 1's hostname (garbage at the front), then need room: compaction.
        t.upsert(&lease(1, &[], &short, "")).unwrap();
        t.upsert(&lease(3, &[], &short[..2], &"c".repeat(40)))
            .unwrap();
        let r = t.get(addr(2)).unwrap();
        assert_eq!(r.client_id, &long[..]);
        assert_eq!(r.hostname, "bbbbbbbbbb");
        assert_eq!(t.find_by_client_id(&long, 1).unwrap().1.address, addr(2));
        assert_eq!(t.get(addr(3)).unwrap().hostname, "c".repeat(40));
        assert!(t.remove(addr(2)));
        assert!(t.find_by_client_id(&long, 1).is_none());
        // Exactly 32 bytes stays inline.
        let cid32 = [9u8; 32];
        t.upsert(&lease(4, &[], &cid32, "")).unwrap();
        assert_eq!(t.get(addr(4)).unwrap().client_id, &cid32);
    }

    #[test]
    fn same_identifier_in_several_subnets() {
        let mut owned = Owned::new(8, 1024, &[]);
        let mut t = owned.table();
        let hw = [2, 0, 0, 0, 0, 9];
        let cid = [1, 2, 0, 0, 0, 0, 9];
        for (i, subnet) in [(1, 1), (2, 2), (3, 3)] {
            let mut r = lease(i, &hw, &cid, "");
            r.subnet_id = subnet;
            t.upsert(&r).unwrap();
        }
        assert_eq!(t.by_hwaddr(&hw).count(), 3);
        assert_eq!(t.by_client_id(&cid).count(), 3);
        assert_eq!(t.find_by_client_id(&cid, 2).unwrap().1.address, addr(2));
        assert_eq!(t.find_by_hwaddr(&hw, 3).unwrap().1.address, addr(3));
        assert_eq!(t.by_client_id(&[]).count(), 0);
        t.remove(addr(2));
        assert!(t.find_by_client_id(&cid, 2).is_none());
        assert_eq!(t.by_hwaddr(&hw).count(), 2);
    }

    fn expiring<'a>(i: u32, expire: u64, state: LeaseState, host: &'a str) -> LeaseRecord<'a> {
        LeaseRecord {
            cltt: Timestamp(expire - 100),
            valid_lifetime: 100,
            state,
            fqdn_fwd: true,
            fqdn_rev: true,
            ..lease(i, &[2, 0, 0, 0, 0, 7], &[], host)
        }
    }

    #[test]
    fn reclamation_in_expiry_order_then_flush() {
        let pool = [(addr(0), addr(15))];
        let mut owned = Owned::new(16, 1024, &pool);
        let mut t = owned.table();
        t.set_pools(&[Pool {
            first: addr(0),
            last: addr(15),
            options: Default::default(),
            client_class: Default::default(),
            require_client_classes: Default::default(),
            user_context: Default::default(),
        }])
        .unwrap();
        for (i, expire) in [(1, 5000u64), (2, 1000), (3, 3000), (4, 2000), (5, 9000)] {
            t.upsert(&expiring(i, expire, LeaseState::Default, "host"))
                .unwrap();
        }
        t.upsert(&expiring(6, 1500, LeaseState::Declined, ""))
            .unwrap();
        assert_eq!(t.next_expiration(), Some(Timestamp(1000)));
        assert!(t.occupancy().is_held(addr(2)));
        // Expired means now > expire: at now = 1000 nothing is due.
        assert_eq!(t.reclaim_expired(Timestamp(1000), 10, 3600, |_| {}), 0);
        let mut seen = Vec::new();
        let n = t.reclaim_expired(Timestamp(4000), 2, 3600, |r| {
            seen.push((
                r.address,
                r.state,
                r.valid_lifetime,
                r.hostname.len(),
                r.fqdn_fwd,
            ))
        });
        assert_eq!(n, 2);
        assert_eq!(
            seen,
            vec![
                (addr(2), LeaseState::ExpiredReclaimed, 100, 0, false),
                // The declined lease is removed: a lifetime-0 row.
                (addr(6), LeaseState::Declined, 0, 0, true),
            ]
        );
        assert!(t.get(addr(6)).is_none());
        let r = t.get(addr(2)).unwrap();
        assert_eq!(
            (r.state, r.hostname, r.fqdn_fwd, r.fqdn_rev),
            (LeaseState::ExpiredReclaimed, "", false, false)
        );
        assert!(!t.occupancy().is_held(addr(2)));
        assert_eq!(t.occupancy().next_free(0, Some(addr(1))), Some(addr(2)));
        // hold 0 removes.
        seen.clear();
        t.reclaim_expired(Timestamp(4000), 10, 0, |r| {
            seen.push((r.address, r.state, r.valid_lifetime, 0, false))
        });
        assert_eq!(
            seen,
            vec![
                (addr(4), LeaseState::Default, 0, 0, false),
                (addr(3), LeaseState::Default, 0, 0, false),
            ]
        );
        assert_eq!(t.next_expiration(), Some(Timestamp(5000)));
        // Flush: removed once expire + hold < now.
        assert_eq!(t.flush_reclaimed(Timestamp(4600), 10, 3600, |_| {}), 0);
        let mut flushed = Vec::new();
        assert_eq!(
            t.flush_reclaimed(Timestamp(4601), 10, 3600, |r| flushed
                .push((r.address, r.valid_lifetime))),
            1
        );
        assert_eq!(flushed, vec![(addr(2), 0)]);
        assert!(t.get(addr(2)).is_none());
        // A reclaimed lease renewed goes back to the pending heap.
        t.reclaim_expired(Timestamp(6000), 10, 3600, |_| {});
        assert_eq!(t.get(addr(1)).unwrap().state, LeaseState::ExpiredReclaimed);
        t.upsert(&expiring(1, 20_000, LeaseState::Default, "back"))
            .unwrap();
        assert!(t.occupancy().is_held(addr(1)));
        assert_eq!(t.next_expiration(), Some(Timestamp(9000)));
        assert_eq!(t.flush_reclaimed(Timestamp(1_000_000), 10, 0, |_| {}), 0);
        assert_eq!(t.reclaim_expired(Timestamp(1_000_000), 10, 0, |_| {}), 2);
        assert!(t.is_empty());
        assert_eq!(t.occupancy().used(0), 0);
    }

    #[test]
    fn hundred_thousand_lease_churn() {
        const N: u32 = 100_000;
        let mut owned = Owned::new(N as usize, 64 * 1024, &[]);
        let mut t = owned.table();
        let mac = |i: u32| {
            let b = i.to_be_bytes();
            [2, 0, b[0], b[1], b[2], b[3]]
        };
        for i in 0..N {
            let hw = mac(i);
            t.upsert(&lease(i, &hw, &[], "")).unwrap();
        }
        assert_eq!(t.len(), N as usize);
        assert_eq!(t.upsert(&lease(N, &mac(N), &[], "")), Err(TableError::Full));
        for i in (0..N).step_by(2) {
            assert!(t.remove(addr(i)));
        }
        assert_eq!(t.len(), (N / 2) as usize);
        for i in (0..N).step_by(2) {
            let hw = mac(i + N);
            t.upsert(&lease(i + N, &hw, &[], "")).unwrap();
        }
        assert_eq!(t.len(), N as usize);
        for i in 0..N {
            let (old, new) = (addr(i), addr(i + N));
            if i % 2 == 0 {
                assert!(t.get(old).is_none());
                assert_eq!(t.get(new).unwrap().hwaddr, &mac(i + N));
                assert_eq!(t.find_by_hwaddr(&mac(i + N), 1).unwrap().1.address, new);
                assert!(t.find_by_hwaddr(&mac(i), 1).is_none());
            } else {
                assert_eq!(t.get(old).unwrap().hwaddr, &mac(i));
            }
        }
        assert_eq!(t.iter().count(), N as usize);
    }

    /// xorshift64*: deterministic pseudo-random numbers for the model test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Model {
        hw: Vec<u8>,
        cid: Vec<u8>,
        host: std::string::String,
        ctx: std::string::String,
        subnet: u32,
        state: LeaseState,
        expire: u64,
    }

    #[test]
    fn random_operations_match_a_hash_map_model() {
        use std::collections::HashMap;
        const ADDRS: u64 = 400;
        let pool = [(addr(0), addr(ADDRS as u32 - 1))];
        let mut owned = Owned::new(120, 6000, &pool);
        let mut t = owned.table();
        t.set_pools(&[Pool {
            first: addr(0),
            last: addr(ADDRS as u32 - 1),
            options: Default::default(),
            client_class: Default::default(),
            require_client_classes: Default::default(),
            user_context: Default::default(),
        }])
        .unwrap();
        let mut model: HashMap<u32, Model> = HashMap::new();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let hws: Vec<Vec<u8>> = (0..30u8)
            .map(|i| vec![2, 0, 0, 0, 0, i])
            .chain([vec![]])
            .collect();
        let cids: Vec<Vec<u8>> = (0..30u8)
            .map(|i| {
                let len = if i % 3 == 0 { 40 + usize::from(i) } else { 7 };
                (0..len).map(|j| i ^ (j as u8)).collect()
            })
            .chain([vec![]])
            .collect();
        let (mut full, mut text_full) = (0, 0);
        for step in 0..20_000u32 {
            let a = rng.below(ADDRS) as u32;
            let now = 10_000 + u64::from(step);
            match rng.below(10) {
                0..=5 => {
                    let hw = &hws[rng.below(hws.len() as u64) as usize];
                    let mut cid = &cids[rng.below(cids.len() as u64) as usize];
                    if hw.is_empty() && cid.is_empty() {
                        cid = &cids[1];
                    }
                    let host: std::string::String =
                        "h".repeat(rng.below(3) as usize * rng.below(30) as usize);
                    let ctx = if rng.below(4) == 0 {
                        "{ \"k\": 1 }"
                    } else {
                        ""
                    };
                    let state = match rng.below(6) {
                        0 => LeaseState::Declined,
                        1 => LeaseState::ExpiredReclaimed,
                        _ => LeaseState::Default,
                    };
                    let m = Model {
                        hw: hw.clone(),
                        cid: cid.clone(),
                        host,
                        ctx: ctx.into(),
                        subnet: 1 + rng.below(3) as u32,
                        state,
                        expire: now + rng.below(500),
                    };
                    let r = LeaseRecord {
                        address: addr(a),
                        hwaddr: &m.hw,
                        client_id: &m.cid,
                        valid_lifetime: 100,
                        cltt: Timestamp(m.expire - 100),
                        subnet_id: m.subnet,
                        fqdn_fwd: false,
                        fqdn_rev: false,
                        hostname: &m.host,
                        state: m.state,
                        user_context: &m.ctx,
                    };
                    match t.upsert(&r) {
                        Ok(_) => {
                            model.insert(a, m);
                        }
                        Err(TableError::Full) => full += 1,
                        Err(TableError::TextFull) => text_full += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                }
                6..=8 => {
                    assert_eq!(t.remove(addr(a)), model.remove(&a).is_some());
                }
                _ => {
                    let hold = if rng.below(2) == 0 { 0 } else { 50 };
                    t.reclaim_expired(Timestamp(now), 5, hold, |r| {
                        let m = model
                            .get_mut(&(r.address.to_bits() - addr(0).to_bits()))
                            .unwrap();
                        assert!(now > m.expire);
                        if r.valid_lifetime == 0 {
                            assert!(hold == 0 || m.state == LeaseState::Declined);
                        } else {
                            assert_eq!(r.state, LeaseState::ExpiredReclaimed);
                        }
                    });
                    t.flush_reclaimed(Timestamp(now), 5, hold, |r| {
                        assert_eq!(r.valid_lifetime, 0);
                    });
                    // Re-sync the model from the table for the addresses that changed.
                    model.retain(|&k, m| match t.get(addr(k)) {
                        None => false,
                        Some(r) => {
                            if r.state == LeaseState::ExpiredReclaimed && m.state != r.state {
                                m.state = r.state;
                                m.host.clear();
                            }
                            true
                        }
                    });
                }
            }
            if step % 97 == 0 || step > 19_900 {
                check(&t, &model, &hws, &cids);
            }
        }
        assert!(
            full > 0 && text_full > 0,
            "full {full} text_full {text_full}"
        );
    }

    fn check(
        t: &LeaseTable<'_>,
        model: &std::collections::HashMap<u32, Model>,
        hws: &[Vec<u8>],
        cids: &[Vec<u8>],
    ) {
        use std::collections::BTreeSet;
        assert_eq!(t.len(), model.len());
        assert_eq!(t.iter().count(), model.len());
        for a in 0..400u32 {
            let got = t.get(addr(a));
            let want = model.get(&a);
            assert_eq!(got.is_some(), want.is_some(), "addr {a}");
            let held = want.is_some_and(|m| m.state != LeaseState::ExpiredReclaimed);
            assert_eq!(t.occupancy().is_held(addr(a)), held, "occupancy {a}");
            if let (Some(r), Some(m)) = (got, want) {
                assert_eq!(r.hwaddr, &m.hw[..]);
                assert_eq!(r.client_id, &m.cid[..]);
                assert_eq!(r.hostname, m.host);
                assert_eq!(r.user_context, m.ctx);
                assert_eq!(r.subnet_id, m.subnet);
                assert_eq!(r.state, m.state);
                assert_eq!(r.expire(), Timestamp(m.expire));
            }
        }
        for hw in hws {
            let got: BTreeSet<u32> = t.by_hwaddr(hw).map(|(_, r)| r.address.to_bits()).collect();
            let want: BTreeSet<u32> = model
                .iter()
                .filter(|(_, m)| !hw.is_empty() && &m.hw == hw)
                .map(|(k, _)| addr(*k).to_bits())
                .collect();
            assert_eq!(got, want);
        }
        for cid in cids {
            let got: BTreeSet<u32> = t
                .by_client_id(cid)
                .map(|(_, r)| r.address.to_bits())
                .collect();
            let want: BTreeSet<u32> = model
                .iter()
                .filter(|(_, m)| !cid.is_empty() && &m.cid == cid)
                .map(|(k, _)| addr(*k).to_bits())
                .collect();
            assert_eq!(got, want);
        }
        // The pending heap yields the earliest expiry among states 0/1.
        let earliest = model
            .values()
            .filter(|m| m.state != LeaseState::ExpiredReclaimed)
            .map(|m| m.expire)
            .min();
        assert_eq!(t.next_expiration().map(|e| e.0), earliest);
    }

    #[test]
    fn lease_store_contract() {
        let mut owned = Owned::new(8, 1024, &[]);
        let mut t = owned.table();
        let hw = [2, 0, 0, 0, 0, 5];
        let cid = [1, 2, 0, 0, 0, 0, 5];
        let store: &mut dyn LeaseStore = &mut t;
        store.put(&lease(1, &hw, &cid, "a")).unwrap();
        let mut other = lease(2, &hw, &[], "b");
        other.subnet_id = 2;
        store.put(&other).unwrap();
        let mut declined = lease(3, &[], &[], "");
        declined.state = LeaseState::Declined;
        store.put(&declined).unwrap();
        let me = ClientIdentity {
            client_id: &cid,
            hwaddr: &hw,
        };
        assert_eq!(store.by_client(1, &me).unwrap().address, addr(1));
        // Subnet 2's lease has no client-id: found by hardware address.
        assert_eq!(store.by_client(2, &me).unwrap().address, addr(2));
        // A different client-id does not own the subnet-1 lease even with the same chaddr.
        let stranger = ClientIdentity {
            client_id: &[1, 9, 9],
            hwaddr: &hw,
        };
        assert!(store.by_client(1, &stranger).is_none());
        assert_eq!(
            store.put(&lease(4, &[0; 21], &[], "")),
            Err(StoreError::FieldTooLong)
        );
        assert!(store.remove(addr(1)));
        assert!(store.by_address(addr(1)).is_none());
        assert_eq!(
            store.by_address(addr(3)).unwrap().state,
            LeaseState::Declined
        );
    }

    #[test]
    fn ids_by_address_sorts() {
        let mut owned = Owned::new(8, 1024, &[]);
        let mut t = owned.table();
        for i in [5, 1, 7, 3] {
            t.upsert(&lease(i, &[2, 0, 0, 0, 0, 1], &[], "")).unwrap();
        }
        t.remove(addr(7));
        let mut ids = [0u32; 8];
        let sorted: Vec<Ipv4Addr> = t
            .ids_by_address(&mut ids)
            .iter()
            .map(|&id| t.record(LeaseId(id)).unwrap().address)
            .collect();
        assert_eq!(sorted, vec![addr(1), addr(3), addr(5)]);
    }

    #[test]
    fn clear_empties_everything() {
        let pool = [(addr(0), addr(7))];
        let mut owned = Owned::new(4, 256, &pool);
        let mut t = owned.table();
        t.occupancy.set_pools(pool).unwrap();
        let hw = [2, 0, 0, 0, 0, 1];
        for i in 0..4 {
            t.upsert(&lease(i, &hw, &[], "name")).unwrap();
        }
        assert_eq!(t.occupancy().used(0), 4);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.occupancy().used(0), 0);
        assert_eq!(t.by_hwaddr(&hw).count(), 0);
        assert_eq!(t.next_expiration(), None);
        for i in 4..8 {
            t.upsert(&lease(i, &hw, &[], "name")).unwrap();
        }
        assert_eq!(t.by_hwaddr(&hw).count(), 4);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn next_allocatable_falls_back_to_expired_leases_in_iterative_order() {
        let pool = [(addr(0), addr(3))];
        let mut owned = Owned::new(8, 256, &pool);
        let mut t = owned.table();
        t.occupancy.set_pools(pool).unwrap();
        let now = Timestamp(1_000_000 + 3600 + 1); // `lease()` leases expired by then
        let hw = [2, 0, 0, 0, 0, 1];
        t.upsert(&lease(0, &hw, &[], "")).unwrap();
        assert_eq!(t.next_allocatable(0, Some(addr(0)), now), Some(addr(1)));
        for i in 1..4 {
            let mut r = lease(i, &hw, &[], "");
            r.cltt = Timestamp(now.0); // unexpired
            t.upsert(&r).unwrap();
        }
        // Full bitmap: only the expired lease at .0 is reusable, whatever the start.
        assert_eq!(t.next_allocatable(0, Some(addr(1)), now), Some(addr(0)));
        assert_eq!(t.next_allocatable(0, None, now), Some(addr(0)));
        t.occupancy_mut().mark_reserved(addr(0));
        assert!(t.occupancy().is_reserved(addr(0)));
        assert_eq!(t.next_allocatable(0, None, now), None);
        // Once reclaimed into state 2, the bitmap finds it directly.
        t.reclaim_expired(now, 10, 3600, |_| {});
        assert!(!t.occupancy().is_held(addr(0)));
    }
}
