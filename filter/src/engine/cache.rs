//! Inspect each piece of text once: a per-VM cache of field inspections.
//!
//! Chat clients and coding agents re-send the whole conversation on every turn, so most of a
//! request is text the engine has already judged. The walk asks this cache before it scans a
//! field (a message's content, a content part, a tool result, tool-call arguments, the system
//! prompt): a field seen before costs one hash pass over its bytes.
//!
//! - **What is cached**: a field's findings with their spans, detectors, vias and
//!   fingerprints, and the safety limits its layers reached. Not actions, paths or the
//!   rewritten text: those depend on the tier and the field's place and are decided afresh,
//!   so masking still rewrites a cached finding's span.
//! - **The key**: a keyed 122-bit polynomial hash (`field_hash`: why nobody can craft a
//!   collision without the per-VM random key, and why it is several times faster than the
//!   SipHash it replaced), of the caller's partition, the field's context (the JSON key scanned with a value) and its bytes. The
//!   findings of a field are a function of the policy, its bytes and its context alone (not
//!   of its depth or path), so that is all the key holds.
//! - **Joined matching**: each window of consecutive fields (`walk/join.rs`) is keyed on its
//!   fields' keys, since its text is a function of theirs; a window holding a new field is
//!   scanned, so a secret cut across a cached and a new field is still found.
//! - **Policy**: the cache belongs to one policy (digest and fingerprint key); a request
//!   under another empties it.
//! - **Partitions**: a request names its caller ([`crate::engine::Request::caller`], e.g. its
//!   credential); the key starts with a keyed hash of it, so one caller's history never
//!   speeds up another's request. A request with no caller is not cached at all.
//! - **Bounded**: least recently used entries go first once the entries' bytes pass the
//!   budget ([`DEFAULT_CACHE_BYTES`]). No text is stored, only findings.
//! - **Fail closed**: entries from a request whose inspection failed (a regex that did not
//!   compile) are dropped, not stored.
//! - **Resuming** (`resume`): per caller, the previous request's conversation item ends and
//!   what inspecting the bytes before each produced; a request sharing those bytes (checked by
//!   one keyed hash pass) skips their parse and walk. Its snapshots count against the budget.

use crate::engine::limits::LimitHits;
use crate::engine::walk::Found;
use crate::policy::Policy;
use field_hash::{FieldHasher, FieldKeys, PrefixHasher};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

mod field_hash;
mod key_memo;
pub(crate) mod resume;

/// Default budget of one VM's cache, in bytes of entries.
pub const DEFAULT_CACHE_BYTES: usize = 8 << 20;

/// Fields shorter than this are scanned, not cached. Every field is cached: even a short one
/// costs more to scan (every layer's setup) than to look up, and short ones repeat most.
pub(crate) const MIN_CACHED_BYTES: usize = 1;

/// Most JSON keys whose arming is remembered (keys are few: past this, the memo starts over).
const MAX_KEY_MEMO: usize = 1024;

/// What one entry costs besides its findings: the node, the map slot and the allocation.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Node>() + 48;

/// How the cache served one request (deterministic: tests assert on it, stats add it up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheUse {
    /// Fields whose inspection came from the cache.
    pub hits: u32,
    /// Fields inspected and then remembered.
    pub misses: u32,
    /// Entries dropped to stay within the budget.
    pub evictions: u32,
    /// Joined-matching windows (the edges of consecutive fields) served from the cache.
    pub window_hits: u32,
    /// Joined-matching windows scanned and then remembered.
    pub window_misses: u32,
    /// Rewritten JSON strings whose masks were spliced into the bytes as written, where
    /// their hits lie in those bytes known from the cache (`walk/splice.rs`).
    pub spliced: u32,
    /// Conversation items whose parse and walk were skipped: the request shared the bytes
    /// before their end with this caller's previous request (`cache/resume.rs`).
    pub resumed_items: u32,
    /// JSON strings (keys and values) in those items.
    pub resumed_fields: u32,
    /// Joined-matching windows within those items, their hits from the snapshot.
    pub resumed_windows: u32,
    /// Resumed strings whose tokens were minted again from their replacements' bytes alone
    /// (`walk/resume.rs`, `mint_from_spans`), not the whole string unescaped.
    pub replayed_by_span: u32,
}

/// The cache's state over its lifetime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Times the cache was emptied because a request came under another policy.
    pub invalidations: u64,
    pub entries: usize,
    /// Bytes the entries take (counted against the budget).
    pub bytes: usize,
    pub budget: usize,
    /// Conversation snapshots kept (`cache/resume.rs`), their bytes (within `bytes`), and
    /// those dropped for the counts or the budget.
    pub snapshots: usize,
    pub snapshot_bytes: usize,
    pub snapshot_evictions: u64,
}

/// One field's inspection, as the walk needs it back.
#[derive(Debug)]
struct Cached {
    found: Box<[Found]>,
    limits: LimitHits,
    /// For a JSON string (keyed on its bytes as written): where each of its hits' edges lies in
    /// those bytes, as (text offset, raw offset) pairs, once a rewrite showed that its escapes
    /// are the ones a rewrite writes back, so a mask can be spliced into the bytes as written
    /// (`walk::splice`). Offsets only, no text.
    raw_map: Option<Box<[(usize, usize)]>>,
}

/// The cache of one VM (kept in [`crate::Scratch`]).
#[derive(Debug)]
pub(crate) struct InspectionCache {
    keys: FieldKeys,
    /// The policy the entries belong to.
    stamp: Option<u128>,
    /// This request's partition: `None` when the request is not cached.
    partition: Option<u128>,
    /// The hash of a field key's first parts (the partition, no context), once per request.
    field_seed: Option<FieldHasher>,
    /// The same for a JSON string keyed on its bytes as written.
    raw_seed: Option<FieldHasher>,
    /// The hash of a window key's first parts, per scope (request, message): a function of
    /// the VM's keys alone, so hashed once, not per window.
    window_seeds: [FieldHasher; 2],
    lru: Lru,
    budget: usize,
    /// Inspections of this request, stored once it completes.
    pending: Vec<(u128, Cached)>,
    used: CacheUse,
    stats: CacheStats,
    /// Whether a JSON key (by its text's key) arms a detector, so is context for its value.
    key_arms: HashMap<u128, bool, BuildHasherDefault<KeyHasher>>,
    /// The same by the key's bytes, for this request's keys that have no cache key.
    key_memo: key_memo::KeyMemo,
    /// Conversation snapshots, by caller.
    snapshots: resume::Store,
    /// This request's snapshot being made, then made (stored once the request completes).
    recording: Option<resume::Recording>,
    sealed: Option<resume::Snapshot>,
    /// Whether requests resume after their caller's previous conversation (on by default).
    resumes: bool,
}

impl InspectionCache {
    pub(crate) fn new(budget: usize) -> InspectionCache {
        let keys = FieldKeys::new(random_key());
        let window_seed = |per_message: bool| {
            let mut h = keys.hasher();
            h.part(b"airlock window").part(&[u8::from(per_message)]);
            h
        };
        InspectionCache {
            keys,
            window_seeds: [window_seed(false), window_seed(true)],
            stamp: None,
            partition: None,
            field_seed: None,
            raw_seed: None,
            lru: Lru::default(),
            budget,
            pending: Vec::new(),
            used: CacheUse::default(),
            stats: CacheStats::default(),
            key_arms: HashMap::default(),
            key_memo: key_memo::KeyMemo::default(),
            snapshots: resume::Store::default(),
            recording: None,
            sealed: None,
            resumes: true,
        }
    }

    /// Whether the JSON key `text` (with this text key) arms a detector: remembered, else
    /// `arms()`.
    pub(crate) fn key_arms(
        &mut self,
        text_key: Option<u128>,
        text: &[u8],
        arms: impl FnOnce() -> bool,
    ) -> bool {
        let Some(key) = text_key else {
            return self.key_memo.arms(text, arms);
        };
        if let Some(&known) = self.key_arms.get(&key) {
            return known;
        }
        let known = arms();
        if self.key_arms.len() >= MAX_KEY_MEMO {
            self.key_arms.clear();
        }
        self.key_arms.insert(key, known);
        known
    }

    fn hasher(&self) -> FieldHasher {
        self.keys.hasher()
    }

    /// Turns resuming after a caller's previous conversation on or off (off: its snapshots go).
    pub(crate) fn set_resumes(&mut self, on: bool) {
        self.resumes = on;
        if !on {
            self.stats.snapshot_evictions += self.snapshots.len() as u64;
            self.snapshots.clear();
        }
    }

    /// Changes the budget, evicting down to it (0 turns the cache off).
    pub(crate) fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        if budget == 0 {
            self.key_arms.clear();
        }
        self.stats.snapshot_evictions += u64::from(self.snapshots.evict_to(budget));
        let evicted = self
            .lru
            .evict_to(budget.saturating_sub(self.snapshots.bytes));
        self.stats.evictions += u64::from(evicted);
    }

    /// Starts a request under `policy` from `caller` (`None`: not cached).
    pub(crate) fn begin(&mut self, policy: &Policy, caller: Option<&[u8]>) {
        self.pending.clear();
        self.key_memo.clear();
        self.recording = None;
        self.sealed = None;
        self.used = CacheUse::default();
        self.partition = None;
        self.field_seed = None;
        self.raw_seed = None;
        if self.budget == 0 {
            return;
        }
        let stamp = self
            .hasher()
            .part(b"airlock policy")
            .part(policy.info.digest.as_bytes())
            .part(&policy.key.0)
            .finish();
        if self.stamp != Some(stamp) {
            if self.lru.len() > 0 {
                self.stats.invalidations += 1;
            }
            self.lru = Lru::default();
            self.snapshots.clear();
            self.key_arms.clear();
            self.stamp = Some(stamp);
        }
        self.partition = caller.map(|caller| {
            self.hasher()
                .part(b"airlock caller")
                .value(stamp)
                .part(caller)
                .finish()
        });
        let seed = |tag: u8| {
            self.partition.map(|partition| {
                let mut h = self.hasher();
                h.value(partition).part(&[tag]);
                h
            })
        };
        (self.field_seed, self.raw_seed) = (seed(0), seed(2));
    }

    /// Starts this request's conversation snapshot for its body `doc` on `tier` (if the
    /// request is cached): resumed from this caller's snapshot that shares the longest prefix
    /// of item ends with `doc`, if any ([`InspectionCache::recording`] tells).
    pub(crate) fn resume_begin(&mut self, doc: &[u8], tier: crate::policy::TierIndex) {
        if !self.resumes {
            return;
        }
        let Some(seed) = self.prefix_seed() else {
            return;
        };
        let Some(partition) = self.partition else {
            return;
        };
        self.recording = Some(self.snapshots.begin(partition, tier, doc, seed));
    }

    fn prefix_seed(&self) -> Option<PrefixHasher> {
        let mut h = self.hasher();
        h.value(self.partition?).part(&[3]);
        Some(PrefixHasher::new(h))
    }

    /// The resumed snapshot could not be used (the rest of the body is no longer JSON): the
    /// request is walked whole and recorded afresh.
    pub(crate) fn resume_restart(&mut self, doc: &[u8], tier: crate::policy::TierIndex) {
        let (Some(seed), Some(partition)) = (self.prefix_seed(), self.partition) else {
            return;
        };
        let mut fresh = resume::Store::default();
        self.recording = Some(fresh.begin(partition, tier, doc, seed));
    }

    /// No snapshot for this request after all (its body was not one strict JSON document).
    pub(crate) fn resume_abandon(&mut self) {
        self.recording = None;
    }

    /// Takes this request's recording out (while a replay walks a nested document again),
    /// to be put back with [`InspectionCache::put_recording`].
    pub(crate) fn take_recording(&mut self) -> Option<resume::Recording> {
        self.recording.take()
    }

    pub(crate) fn put_recording(&mut self, recording: Option<resume::Recording>) {
        self.recording = recording;
    }

    pub(crate) fn recording(&self) -> Option<&resume::Recording> {
        self.recording.as_ref()
    }

    pub(crate) fn recording_mut(&mut self) -> Option<&mut resume::Recording> {
        self.recording.as_mut()
    }

    /// Ends this request's snapshot (stored when the request completes) and counts what it
    /// resumed past.
    pub(crate) fn resume_seal(&mut self, doc: &[u8]) {
        if let Some(recording) = self.recording.take() {
            (self.used.resumed_items, self.used.resumed_fields) = recording.resumed;
            self.sealed = recording.seal(doc);
        }
    }

    /// The hits of the joined-matching windows this request read, for its snapshot, and how
    /// many windows it did not read (their hits given by the snapshot it resumed from).
    pub(crate) fn resume_window_hits(
        &mut self,
        hits: &[crate::engine::walk::join::WindowHit],
        given: u32,
    ) {
        self.used.resumed_windows = given;
        if let Some(sealed) = self.sealed.as_mut() {
            sealed.add_window_hits(hits);
        }
    }

    /// The key of a field, or `None` if this request or this field is not cached.
    pub(crate) fn key(&self, text: &[u8], context: Option<&[u8]>) -> Option<u128> {
        if text.len() < MIN_CACHED_BYTES {
            return None;
        }
        self.any_key(text, context)
    }

    /// A field's key, when its text's key ([`InspectionCache::key`] without context, of any
    /// length) is known already.
    pub(crate) fn field_key(
        &self,
        text: &[u8],
        context: Option<&[u8]>,
        text_key: Option<u128>,
    ) -> Option<u128> {
        match context {
            None if text.len() >= MIN_CACHED_BYTES => text_key,
            None => None,
            Some(_) => self.key(text, context),
        }
    }

    /// The key of a text of any length (joined matching keys its windows on their fields').
    pub(crate) fn text_key(&self, text: &[u8]) -> Option<u128> {
        self.any_key(text, None)
    }

    /// The key of a JSON string from its bytes as written (between the quotes, escapes and
    /// all): its text is a function of them, so this keys its inspection as well as the text
    /// would, and it also keys where its hits lie in those bytes.
    pub(crate) fn raw_key(&self, raw: &[u8]) -> Option<u128> {
        let mut h = self.raw_seed?;
        Some(h.part(raw).finish())
    }

    /// Counts a rewrite spliced into a string as written with a map from the cache.
    pub(crate) fn count_spliced(&mut self) {
        self.used.spliced += 1;
    }

    pub(crate) fn count_replayed_by_span(&mut self) {
        self.used.replayed_by_span += 1;
    }

    /// Where the hits of the field `key` lie in its bytes as written, if known.
    pub(crate) fn raw_map(&self, key: u128) -> Option<&[(usize, usize)]> {
        let cached = match self.pending.last() {
            Some((last, cached)) if *last == key => Some(cached),
            _ => self.lru.peek(key),
        };
        cached.and_then(|c| c.raw_map.as_deref())
    }

    /// Remembers where the hits of the field `key`, inspected by this request, lie in its
    /// bytes as written.
    pub(crate) fn keep_raw_map(&mut self, key: u128, map: &[(usize, usize)]) {
        match self.pending.last_mut() {
            Some((last, cached)) if *last == key => cached.raw_map = Some(map.into()),
            // A field served from the cache whose entry had none (no rewrite until now).
            _ => {
                let budget = self.budget.saturating_sub(self.snapshots.bytes);
                self.used.evictions += self.lru.set_raw_map(key, map, budget);
            }
        }
    }

    /// The key of a joined-matching window from its fields' keys (a window's text, and so its
    /// hits, is a function of its fields' texts), or `None` if a field has none.
    pub(crate) fn window_key(
        &self,
        per_message: bool,
        fields: &mut dyn Iterator<Item = Option<u128>>,
    ) -> Option<u128> {
        // An uncached request's fields have no keys: known before a hasher is set up (the
        // set-up cost most of a window's work between short fields).
        let first = fields.next();
        if let Some(None) = first {
            return None;
        }
        let [request, message] = self.window_seeds;
        let mut h = if per_message { message } else { request };
        for key in first.into_iter().chain(fields) {
            h.value(key?);
        }
        Some(h.finish())
    }

    fn any_key(&self, text: &[u8], context: Option<&[u8]>) -> Option<u128> {
        let mut h = match context {
            None => self.field_seed?,
            Some(context) => {
                let mut h = self.hasher();
                h.value(self.partition?).part(&[1]).part(context);
                h
            }
        };
        Some(h.part(text).finish())
    }

    /// The cached inspection of `key`: its hits appended to `found`, its limits added to `limits`.
    pub(crate) fn lookup(
        &mut self,
        key: u128,
        found: &mut Vec<Found>,
        limits: &mut LimitHits,
    ) -> bool {
        let Some(cached) = self.lru.get(key) else {
            return false;
        };
        found.extend_from_slice(&cached.found);
        limits.add(&cached.limits);
        self.used.hits += 1;
        true
    }

    /// A window's cached hits, appended to `found`.
    pub(crate) fn lookup_window(&mut self, key: u128, found: &mut Vec<Found>) -> bool {
        let Some(cached) = self.lru.get(key) else {
            return false;
        };
        found.extend_from_slice(&cached.found);
        self.used.window_hits += 1;
        true
    }

    /// Remembers a window's hits, stored if the request completes.
    pub(crate) fn remember_window(&mut self, key: u128, found: &[Found]) {
        self.used.window_misses += 1;
        self.keep(key, found, LimitHits::default());
    }

    /// Remembers a field's inspection, stored if the request completes.
    pub(crate) fn remember(&mut self, key: u128, found: &[Found], limits: LimitHits) {
        self.used.misses += 1;
        self.keep(key, found, limits);
    }

    fn keep(&mut self, key: u128, found: &[Found], limits: LimitHits) {
        self.pending.push((
            key,
            Cached {
                found: found.into(),
                limits,
                raw_map: None,
            },
        ));
    }

    /// Ends a request: stores its inspections if `complete`, else drops them. Returns its use.
    pub(crate) fn finish(&mut self, complete: bool) -> CacheUse {
        let pending = std::mem::take(&mut self.pending);
        self.recording = None;
        if let Some(snapshot) = self.sealed.take().filter(|_| complete) {
            let evicted = self.snapshots.insert(snapshot, self.budget / 2);
            self.stats.snapshot_evictions += u64::from(evicted);
            let budget = self.budget.saturating_sub(self.snapshots.bytes);
            self.used.evictions += self.lru.evict_to(budget);
        }
        if complete {
            for (key, cached) in pending {
                let map = cached.raw_map.as_deref().map_or(0, std::mem::size_of_val);
                let cost = ENTRY_OVERHEAD + std::mem::size_of_val(&*cached.found) + map;
                let budget = self.budget.saturating_sub(self.snapshots.bytes);
                if cost <= budget {
                    self.used.evictions += self.lru.insert(key, cached, cost, budget);
                }
            }
        }
        self.partition = None;
        self.field_seed = None;
        self.raw_seed = None;
        self.stats.hits += u64::from(self.used.hits) + u64::from(self.used.window_hits);
        self.stats.misses += u64::from(self.used.misses) + u64::from(self.used.window_misses);
        self.stats.evictions += u64::from(self.used.evictions);
        self.used
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.lru.len(),
            bytes: self.lru.bytes + self.snapshots.bytes,
            budget: self.budget,
            snapshots: self.snapshots.len(),
            snapshot_bytes: self.snapshots.bytes,
            ..self.stats
        }
    }
}

/// A per-VM random key (the host's randomness: WASI `random_get` in the filter), so that
/// nobody can craft colliding fields.
fn random_key() -> (u64, u64) {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    let state = RandomState::new();
    let word = |i: u64| {
        let mut h = state.build_hasher();
        h.write_u64(i);
        h.finish()
    };
    (word(0), word(1))
}

/// Keys are keyed hashes already: the map uses them as they are.
#[derive(Debug, Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, value: u128) {
        // Each half is below 2^61: shift one so the map's top-bit tags vary too.
        self.0 = (value as u64) ^ (((value >> 64) as u64) << 3);
    }
}

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Node {
    key: u128,
    /// Toward the most recently used end.
    prev: u32,
    /// Toward the least recently used end.
    next: u32,
    cost: usize,
    value: Cached,
}

/// A least-recently-used map bounded by the entries' bytes: nodes in a slab, linked by index.
#[derive(Debug)]
struct Lru {
    map: HashMap<u128, u32, BuildHasherDefault<KeyHasher>>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
    bytes: usize,
}

impl Default for Lru {
    fn default() -> Lru {
        Lru {
            map: HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            bytes: 0,
        }
    }
}

impl Lru {
    fn len(&self) -> usize {
        self.map.len()
    }

    fn node(&mut self, index: u32) -> Option<&mut Node> {
        self.nodes.get_mut(index as usize)
    }

    fn unlink(&mut self, index: u32) {
        let Some((prev, next)) = self.node(index).map(|n| (n.prev, n.next)) else {
            return;
        };
        match self.node(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.node(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
    }

    fn push_front(&mut self, index: u32) {
        let head = self.head;
        if let Some(n) = self.node(index) {
            n.prev = NIL;
            n.next = head;
        }
        match self.node(head) {
            Some(h) => h.prev = index,
            None => self.tail = index,
        }
        self.head = index;
    }

    /// An entry, without making it the most recently used.
    fn peek(&self, key: u128) -> Option<&Cached> {
        let index = *self.map.get(&key)?;
        self.nodes.get(index as usize).map(|n| &n.value)
    }

    fn get(&mut self, key: u128) -> Option<&Cached> {
        let index = *self.map.get(&key)?;
        if self.head != index {
            self.unlink(index);
            self.push_front(index);
        }
        self.nodes.get(index as usize).map(|n| &n.value)
    }

    /// Gives an entry its raw map (counted in its cost), then evicts down to `budget`.
    fn set_raw_map(&mut self, key: u128, map: &[(usize, usize)], budget: usize) -> u32 {
        let Some(&index) = self.map.get(&key) else {
            return 0;
        };
        let Some(node) = self.node(index) else {
            return 0;
        };
        let old = node.cost;
        let previous = node
            .value
            .raw_map
            .as_deref()
            .map_or(0, std::mem::size_of_val);
        node.cost = node.cost - previous + std::mem::size_of_val(map);
        node.value.raw_map = Some(map.into());
        let new = node.cost;
        self.bytes = self.bytes - old + new;
        self.evict_to(budget)
    }

    /// Inserts (or replaces) an entry, then evicts down to `budget`; returns the evictions.
    fn insert(&mut self, key: u128, value: Cached, cost: usize, budget: usize) -> u32 {
        if let Some(&index) = self.map.get(&key) {
            let old = self.node(index).map(|n| {
                let old = n.cost;
                n.cost = cost;
                n.value = value;
                old
            });
            self.bytes = self.bytes - old.unwrap_or(0) + cost;
            if self.head != index {
                self.unlink(index);
                self.push_front(index);
            }
        } else {
            let node = Node {
                key,
                prev: NIL,
                next: NIL,
                cost,
                value,
            };
            let index = match self.free.pop() {
                Some(index) => {
                    if let Some(slot) = self.node(index) {
                        *slot = node;
                    }
                    index
                }
                None => {
                    let Ok(index) = u32::try_from(self.nodes.len()) else {
                        return 0;
                    };
                    if index == NIL {
                        return 0;
                    }
                    self.nodes.push(node);
                    index
                }
            };
            self.map.insert(key, index);
            self.push_front(index);
            self.bytes += cost;
        }
        self.evict_to(budget)
    }

    /// Drops least recently used entries until the bytes fit `budget`.
    fn evict_to(&mut self, budget: usize) -> u32 {
        let mut evicted = 0;
        while self.bytes > budget && self.tail != NIL {
            let tail = self.tail;
            self.unlink(tail);
            let Some(node) = self.node(tail) else { break };
            let (key, cost) = (node.key, node.cost);
            // The slot keeps its (small) value until reused; its findings are freed now.
            node.value.found = Box::default();
            node.value.raw_map = None;
            self.map.remove(&key);
            self.free.push(tail);
            self.bytes = self.bytes.saturating_sub(cost);
            evicted += 1;
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value() -> Cached {
        Cached {
            found: Box::default(),
            limits: LimitHits::default(),
            raw_map: None,
        }
    }

    #[test]
    fn a_window_key_hashes_its_scope_then_its_fields_keys() {
        let cache = InspectionCache::new(DEFAULT_CACHE_BYTES);
        let keys = [3u128 << 70 | 5, 7, u128::MAX >> 6];
        for per_message in [false, true] {
            for width in 2..=3 {
                let fields = keys.get(..width).unwrap_or_default();
                let mut h = cache.hasher();
                h.part(b"airlock window").part(&[u8::from(per_message)]);
                fields.iter().for_each(|&k| _ = h.value(k));
                let key = cache.window_key(per_message, &mut fields.iter().map(|&k| Some(k)));
                assert_eq!(key, Some(h.finish()));
            }
            let missing = [Some(1), None, Some(2)];
            assert_eq!(
                cache.window_key(per_message, &mut missing.into_iter()),
                None
            );
        }
    }

    #[test]
    fn the_least_recently_used_entry_goes_first_and_the_bytes_stay_within_budget() {
        let mut lru = Lru::default();
        let budget = 3 * 100;
        for key in 0..3u128 {
            assert_eq!(lru.insert(key, value(), 100, budget), 0);
        }
        assert!(lru.get(0).is_some()); // 1 is now the least recently used
        assert_eq!(lru.insert(3, value(), 100, budget), 1);
        assert!(lru.get(1).is_none());
        for key in [0, 2, 3] {
            assert!(lru.get(key).is_some(), "{key}");
        }
        assert_eq!((lru.len(), lru.bytes), (3, 300));
        // A freed slot is reused, and replacing an entry does not count it twice.
        assert_eq!(lru.insert(4, value(), 100, budget), 1);
        assert_eq!(lru.nodes.len(), 4);
        assert_eq!(lru.insert(4, value(), 150, budget), 1);
        assert_eq!((lru.len(), lru.bytes), (2, 250));
        assert_eq!(lru.evict_to(0), 2);
        assert_eq!((lru.len(), lru.bytes, lru.head, lru.tail), (0, 0, NIL, NIL));
    }

    #[test]
    fn a_long_random_sequence_keeps_the_list_and_the_map_in_step() {
        let mut rng = crate::engine::test_rng::TestRng::new(7);
        let mut lru = Lru::default();
        let budget = 40 * 64;
        for _ in 0..5000 {
            let key = rng.below(120) as u128;
            if rng.below(3) == 0 {
                let _ = lru.get(key);
            } else {
                let cost = 32 + rng.below(64);
                lru.insert(key, value(), cost, budget);
            }
            assert!(lru.bytes <= budget);
            // Walk the list both ways: every mapped entry, once, in opposite orders.
            let mut forward = Vec::new();
            let mut at = lru.head;
            while let Some(n) = lru.nodes.get(at as usize) {
                forward.push(n.key);
                at = n.next;
            }
            let mut backward = Vec::new();
            let mut at = lru.tail;
            while let Some(n) = lru.nodes.get(at as usize) {
                backward.push(n.key);
                at = n.prev;
            }
            backward.reverse();
            assert_eq!(forward, backward);
            assert_eq!(forward.len(), lru.len());
            let cost: usize = lru.map.values().map(|&i| lru.nodes[i as usize].cost).sum();
            assert_eq!(cost, lru.bytes);
        }
    }
}
