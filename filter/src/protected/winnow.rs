//! Winnowing (Schleimer, Wilkerson, Aiken, SIGMOD 2003: the MOSS scheme), with keyed k-gram hashes.
//!
//! Every k consecutive units (a k-gram) get a hash; in every window of `w` consecutive k-gram
//! hashes, the minimum is selected (the rightmost on ties). *Robust* winnowing keeps the
//! previous selection while it is still in the window and still minimal, so runs of equal
//! hashes (repeated lines) do not select a fingerprint per position.
//!
//! The guarantee: two texts sharing a run of at least `w + k - 1` units share a fingerprint, and
//! a shared run of `L` units shares about `2L / (w + 1)` of them; nothing shorter than `k` units
//! is ever matched. So `k` sets the noise floor (shorter coincidences are invisible) and `w` trades
//! index size (density `2 / (w + 1)`) against the shortest copy that is always found.
//!
//! The k-gram hash is a polynomial rolling hash over the unit values (one multiply-add per unit),
//! then keyed ([`Mixer`](super::keyed::Mixer)) so the selected values depend on the index's key.
//! Selection uses a monotone queue: linear time whatever `w` is.
//!
//! **Only small hashes are fingerprints.** A selection is the minimum of `w` hashes, so it is
//! almost always small: below `2^(64 − t)` for the largest `t` with `(1 − 2^−t)^w ≤ 1/400`
//! ([`threshold_bits`]: t = 1 for w ≥ 9, 2 for w ≥ 21, 3 for w ≥ 45). The rare selection above
//! that bound is not stored (at most 0.25 % of them), and in exchange a request's k-gram above
//! it is never looked up: the matcher skips half (comments), three quarters (code) or seven
//! eighths (prose) of its lookups for free. A stored fingerprint is the hash shifted left by
//! `t`, so its bits stay uniform for the index's buckets.

use super::keyed::{Key, Mixer};
use std::collections::VecDeque;

/// The rolling hash base: an odd 64-bit constant with well-mixed bits.
const BASE: u64 = 0x9E37_79B9_7F4A_7C15;

/// k-gram length and window size of one view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Units per k-gram (≥ 1).
    pub k: usize,
    /// k-grams per window (≥ 1).
    pub w: usize,
    /// The fewest distinct unit values a k-gram needs to be fingerprinted (0 or 1: all are).
    pub min_distinct: usize,
}

/// The top bits every fingerprint of a stream with window `w` has clear (see the module doc).
pub fn threshold_bits(w: usize) -> u32 {
    match w {
        45.. => 3,
        21.. => 2,
        9.. => 1,
        _ => 0,
    }
}

/// The stored fingerprint of a k-gram hash, if it is small enough to be one.
#[inline]
fn fingerprint(hash: u64, bits: u32) -> Option<u64> {
    (hash != LOW_ENTROPY && hash.checked_shr(64 - bits).unwrap_or(0) == 0)
        .then(|| hash.checked_shl(bits).unwrap_or(hash))
}

/// Reusable buffers for [`fingerprints`].
#[derive(Debug, Default)]
pub struct Scratch {
    hashes: Vec<u64>,
    /// [`all_kgrams`]' candidates: (k-gram, fingerprint) of each k-gram whose hash is small
    /// enough to be a fingerprint, and the same of the list hashes.
    candidates: Vec<(u32, u64)>,
    candidate_lists: Vec<(u32, u64)>,
    /// Per k-gram of a view with identifiers: the unkeyed hash of its raw form, keyed into a
    /// [`check`](Selected::check) only for the k-grams that are fingerprints (empty otherwise).
    raws: Vec<u64>,
    /// Per k-gram of a view with identifiers: its *list* hash (see [`kgram_hashes`]), or
    /// [`LOW_ENTROPY`] when it has none.
    lists: Vec<u64>,
    links: Links,
    queue: VecDeque<usize>,
    /// Per k-gram, when [`Scratch::keep_shapes`] is on: its *shape*, the unkeyed hash of its
    /// blinded form ([`LOW_ENTROPY`] for none), which a table of public shapes is keyed by.
    shapes: Vec<u64>,
    /// Per k-gram of a view with identifiers, when shapes are kept: its raw hash over the
    /// k-gram alone (`raws` widened for checks), see [`Scratch::written`].
    written: Vec<u64>,
    keep_shapes: bool,
}

impl Scratch {
    /// Whether [`fingerprints`] also keeps each k-gram's shape (index builds that mark public
    /// shapes; requests never need them).
    pub fn keep_shapes(&mut self, on: bool) {
        self.keep_shapes = on;
        if !on {
            self.shapes.clear();
            self.written.clear();
        }
    }

    /// [`kgram_hashes`] of `values` into this scratch's buffers (shapes too when `shapes`): the
    /// one pass [`fingerprints`], [`forms`] and [`all_kgrams`] each start with.
    fn hash_kgrams(
        &mut self,
        key: &Key,
        domain: u8,
        values: &[u64],
        names: &[u64],
        params: Params,
        shapes: bool,
    ) {
        kgram_hashes(
            key,
            domain,
            values,
            names,
            params.k.max(1),
            params.min_distinct,
            &mut self.hashes,
            &mut self.raws,
            &mut self.lists,
            &mut self.links,
            shapes.then_some(&mut self.shapes),
        );
        if shapes {
            self.written.clone_from(&self.raws);
        } else {
            self.written.clear();
        }
        widen_checks(&mut self.raws, params.k.max(1));
    }

    /// The shape of k-gram `first` of the text [`fingerprints`] last read, when shapes are kept
    /// and the k-gram has one: key of [`crate::protected::public_shapes`].
    pub fn shape(&self, first: usize) -> Option<u64> {
        shape_at(&self.shapes, first)
    }

    /// K-gram `first` as written, unkeyed, when shapes are kept: in a view with identifiers its
    /// raw hash (names as written, over the k-gram alone: a check's span reaches into whatever
    /// follows, a derive list into the type it derives for), elsewhere its shape, which there
    /// is the text itself. What a table of public text is keyed by.
    pub fn written(&self, first: usize) -> Option<u64> {
        written_at(&self.written, &self.shapes, first)
    }
}

/// [`Scratch::written`] from its two tables (none unless shapes are kept).
fn written_at(written: &[u64], shapes: &[u64], first: usize) -> Option<u64> {
    if shapes.is_empty() {
        None
    } else if written.is_empty() {
        shape_at(shapes, first)
    } else {
        written.get(first).copied()
    }
}

/// Entry `first` of a shapes table, unless missing or too low in entropy.
fn shape_at(shapes: &[u64], first: usize) -> Option<u64> {
    shapes.get(first).copied().filter(|&h| h != LOW_ENTROPY)
}

/// One selected fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    /// The stored fingerprint (keyed hash, see the module doc).
    pub hash: u64,
    /// The index of the k-gram's first unit.
    pub first: u32,
    /// Eight bits that confirm a hit of one k-gram. In a view with identifiers, they hash the
    /// k-gram *with its identifiers' names* (a copy that kept its names matches them, an idiom
    /// shared by another program almost never does: 1 in 256); elsewhere, the fingerprint's
    /// next eight bits.
    pub check: u8,
    /// The k-gram's shape ([`Scratch::shape`]) when shapes are kept; never for a list.
    pub shape: Option<u64>,
    /// The k-gram as written, unkeyed, when shapes are kept ([`Scratch::written`]).
    pub written: Option<u64>,
}

/// Appends to `out` the selected fingerprints of `values`: (keyed hash, index of the k-gram's
/// first unit). A text shorter than one window still gives its minimum; one shorter than `k`
/// units gives nothing.
pub fn fingerprints(
    key: &Key,
    domain: u8,
    values: &[u64],
    names: &[u64],
    params: Params,
    scratch: &mut Scratch,
    out: &mut Vec<Selected>,
) {
    let keep_shapes = scratch.keep_shapes;
    scratch.hash_kgrams(key, domain, values, names, params, keep_shapes);
    let raw_mixer = key.mixer(domain | RAW_DOMAIN);
    let bits = threshold_bits(params.w);
    let Scratch {
        hashes,
        raws,
        lists,
        queue,
        shapes,
        written,
        ..
    } = scratch;
    select(hashes, params.w, queue, &mut |min, min_hash| {
        if let Some(fp) = fingerprint(min_hash, bits) {
            out.push(Selected {
                hash: fp,
                first: u32::try_from(min).unwrap_or(u32::MAX),
                check: check_of(raws, raw_mixer, min, fp),
                shape: shape_at(shapes, min),
                written: written_at(written, shapes, min),
            });
        }
    });
    // Lists (declarations, arguments, fields) are fingerprinted by their raw form, in windows
    // of `LIST_WINDOWS` times the stream's (they are many: at the stream's own density they
    // took the index from 5.2 % to 6.9 % of the text).
    let list_bits = threshold_bits(params.w * LIST_WINDOWS);
    select(
        lists,
        params.w * LIST_WINDOWS,
        queue,
        &mut |min, min_hash| {
            if let Some(fp) = fingerprint(min_hash, list_bits) {
                out.push(Selected {
                    hash: fp,
                    first: u32::try_from(min).unwrap_or(u32::MAX),
                    check: (fp >> 24) as u8,
                    shape: None,
                    written: written_at(written, shapes, min),
                });
            }
        },
    );
}

/// Robust winnowing of `hashes` (see the module doc): calls `emit(k-gram, hash)` per selection.
fn select(hashes: &[u64], w: usize, queue: &mut VecDeque<usize>, emit: &mut dyn FnMut(usize, u64)) {
    if hashes.is_empty() {
        return;
    }
    let w = w.max(1).min(hashes.len());
    queue.clear();
    let mut last: Option<usize> = None;
    for (j, &h) in hashes.iter().enumerate() {
        while queue
            .back()
            .is_some_and(|&b| hashes.get(b).is_some_and(|&v| v >= h))
        {
            queue.pop_back();
        }
        queue.push_back(j);
        if j + 1 < w {
            continue;
        }
        let first = j + 1 - w;
        while queue.front().is_some_and(|&f| f < first) {
            queue.pop_front();
        }
        let Some(&min) = queue.front() else { continue };
        let min_hash = hashes.get(min).copied().unwrap_or(u64::MAX);
        let keep_last =
            last.is_some_and(|l| l >= first && hashes.get(l).is_some_and(|&v| v == min_hash));
        if !keep_last && last != Some(min) && min_hash != LOW_ENTROPY {
            emit(min, min_hash);
            last = Some(min);
        }
    }
}

/// The [`check`](Selected::check) of k-gram `first`, whose fingerprint is `fingerprint`: its
/// raw form keyed, or (a view without identifiers) the fingerprint's next 8 bits.
#[inline]
fn check_of(raws: &[u64], raw_mixer: Mixer, first: usize, fingerprint: u64) -> u8 {
    raws.get(first).map_or((fingerprint >> 24) as u8, |&raw| {
        (raw_mixer.mix(raw) >> 56) as u8
    })
}

/// The list fingerprints of the k-grams [`all_kgrams`] last hashed in `scratch`: (k-gram,
/// fingerprint) for each k-gram that has a list hash small enough to be one.
pub fn all_list_kgrams(scratch: &Scratch) -> impl Iterator<Item = (usize, u64)> + '_ {
    scratch
        .candidate_lists
        .iter()
        .map(|&(at, fp)| (at as usize, fp))
}

/// The hash given to a k-gram with too few distinct units: never selected.
const LOW_ENTROPY: u64 = u64::MAX;

/// The shape ([`Scratch::shape`]) and the form as written ([`Scratch::written`]) of every
/// k-gram of `values`, in order, `None` for a shape too low in entropy: what a table of public
/// shapes and text counts. Both are unkeyed; only the selection-free half of [`fingerprints`]
/// runs.
pub fn forms<'s>(
    values: &[u64],
    names: &[u64],
    params: Params,
    scratch: &'s mut Scratch,
) -> impl Iterator<Item = (Option<u64>, Option<u64>)> + 's {
    scratch.hash_kgrams(&Key([0; 16]), 0, values, names, params, true);
    let scratch: &'s Scratch = scratch;
    (0..scratch.shapes.len()).map(|i| (scratch.shape(i), scratch.written(i)))
}

/// The fingerprint of *every* k-gram of `values`, in order, with `None` for the k-grams that
/// cannot be one (too low in entropy, or a hash above the stream's bound). The matcher looks each of them up: a document's selected
/// fingerprints inside a copy are found whatever the text around the copy makes the text's own
/// winnowing select, so a short copy yields all of the (about `2 / (w + 1)` per unit) selections
/// its document made there, not only those both sides agree on.
pub fn all_kgrams<'s>(
    key: &Key,
    domain: u8,
    values: &[u64],
    names: &[u64],
    params: Params,
    scratch: &'s mut Scratch,
) -> impl Iterator<Item = (usize, Kgram)> + 's {
    let k = params.k.max(1);
    scratch.candidates.clear();
    scratch.candidate_lists.clear();
    scratch.raws.clear();
    let mut sink = Candidates {
        next: 0,
        bits: threshold_bits(params.w),
        list_bits: threshold_bits(params.w * LIST_WINDOWS),
        kgrams: &mut scratch.candidates,
        lists: &mut scratch.candidate_lists,
        raws: &mut scratch.raws,
    };
    roll_kgrams(
        key,
        domain,
        values,
        names,
        k,
        params.min_distinct,
        &mut scratch.links,
        &mut sink,
    );
    let raw_mixer = key.mixer(domain | RAW_DOMAIN);
    let scratch: &'s Scratch = scratch;
    scratch.candidates.iter().map(move |&(at, fp)| {
        let at = at as usize;
        let kgram = Kgram {
            fingerprint: fp,
            // The raw hashes are not widened in place here: only the candidates' are needed.
            raw: widened(&scratch.raws, at, k),
            raw_mixer,
        };
        (at, kgram)
    })
}

/// A k-gram whose hash is a fingerprint, from [`all_kgrams`]. Its check is keyed only when
/// asked for: the matcher asks for the few k-grams the index holds (a keyed mix per candidate
/// was a share of the search's own cost).
#[derive(Debug, Clone, Copy)]
pub struct Kgram {
    /// The stored fingerprint (keyed hash, see the module doc).
    pub fingerprint: u64,
    /// The unkeyed hash of its raw form (a view with identifiers), for its check.
    raw: Option<u64>,
    raw_mixer: Mixer,
}

impl Kgram {
    /// Its [`check`](Selected::check), as [`fingerprints`] gives it.
    #[inline]
    pub fn check(&self) -> u8 {
        self.raw.map_or((self.fingerprint >> 24) as u8, |raw| {
            (self.raw_mixer.mix(raw) >> 56) as u8
        })
    }
}

/// The keyed hash of every k-gram of `values` (none when there are fewer than `k` units), or
/// [`LOW_ENTROPY`] for a k-gram with fewer than `min_distinct` distinct unit values (counted in
/// 1024 buckets of the value, so a rare bucket collision undercounts; both sides count alike).
///
/// **Linked identifiers.** When `names` is given (one per unit, 0 for units that are not
/// identifiers: the code view), an identifier whose name occurred `d < k` units earlier *in
/// the same k-gram* counts as the value [`linked`]`(value, d)` instead of its placeholder: the
/// k-gram hashes Baker's parameterized form (each name replaced by the distance back to its
/// previous occurrence), which a consistent rename leaves unchanged while `x = x + y` and
/// `x = y + z` differ. A name's occurrence is linked only inside the k-gram, so the value
/// depends on the k-gram alone, as the index needs. Rolling: when a k-gram's first unit leaves,
/// its name's next occurrence inside the k-gram (if any) loses its link, one fix-up per step.
///
/// **Checks.** With `names`, `raws` gets per k-gram a second rolling hash of the k-gram with each
/// identifier as its name (the *raw* form), unkeyed: [`check_of`] keys it only for the few
/// k-grams that are fingerprints, once [`widen_checks`] has widened it (the caller does, after
/// keeping the k-gram's own raw hash when it wants it). Without `names`, it stays empty.
///
/// **Lists.** A k-gram too low in entropy once blinded (a call's or a declaration's list of
/// names, `use a::{b, c, d}`, a struct's fields, `_(_, _, _)`) is never a fingerprint, yet its
/// names make it as distinctive as any code. With `names`, `lists` gets per k-gram the keyed
/// hash of its raw form when the blinded k-gram is low in entropy and the raw one is not, and
/// [`LOW_ENTROPY`] otherwise: a second family of fingerprints, in its own keyed domain, for what
/// the blinded family cannot see. A renamed list is not found (it has nothing but names).
#[allow(clippy::too_many_arguments)] // the two outputs are the scratch's, lent apart
fn kgram_hashes(
    key: &Key,
    domain: u8,
    values: &[u64],
    names: &[u64],
    k: usize,
    min_distinct: usize,
    out: &mut Vec<u64>,
    raws: &mut Vec<u64>,
    lists: &mut Vec<u64>,
    links: &mut Links,
    shapes: Option<&mut Vec<u64>>,
) {
    out.clear();
    raws.clear();
    lists.clear();
    let mut sink = Every {
        hashes: out,
        raws,
        lists,
        shapes,
    };
    if let Some(shapes) = sink.shapes.as_deref_mut() {
        shapes.clear();
    }
    roll_kgrams(
        key,
        domain,
        values,
        names,
        k,
        min_distinct,
        links,
        &mut sink,
    );
}

/// Where [`roll_kgrams`] puts each k-gram's hashes, in order: a generic parameter rather than
/// a callback, so that each use compiles to its own loop (a call per k-gram was a share of
/// a request's search).
trait KgramSink {
    /// The next k-gram: its keyed hash (or [`LOW_ENTROPY`]), its unkeyed blinded hash (its
    /// shape, or [`LOW_ENTROPY`]), and in a view with identifiers its unkeyed raw hash and
    /// its list hash (or [`LOW_ENTROPY`]).
    fn kgram(&mut self, hash: u64, shape: u64, raw_and_list: Option<(u64, u64)>);
}

/// Every k-gram's hashes kept, in order: what winnowing an indexed document needs.
struct Every<'a> {
    hashes: &'a mut Vec<u64>,
    raws: &'a mut Vec<u64>,
    lists: &'a mut Vec<u64>,
    shapes: Option<&'a mut Vec<u64>>,
}

impl KgramSink for Every<'_> {
    #[inline(always)]
    fn kgram(&mut self, hash: u64, shape: u64, raw_and_list: Option<(u64, u64)>) {
        if let Some(shapes) = self.shapes.as_deref_mut() {
            shapes.push(shape);
        }
        self.hashes.push(hash);
        if let Some((raw, list)) = raw_and_list {
            self.raws.push(raw);
            self.lists.push(list);
        }
    }
}

/// The k-grams a request's text can match kept, with every raw hash (a check reaches into the
/// k-grams after its own): a request looks up only hashes small enough to be fingerprints
/// (a quarter of the code k-grams), so the others are not stored and read again.
struct Candidates<'a> {
    next: u32,
    bits: u32,
    list_bits: u32,
    kgrams: &'a mut Vec<(u32, u64)>,
    lists: &'a mut Vec<(u32, u64)>,
    raws: &'a mut Vec<u64>,
}

impl KgramSink for Candidates<'_> {
    #[inline(always)]
    fn kgram(&mut self, hash: u64, _shape: u64, raw_and_list: Option<(u64, u64)>) {
        let at = self.next;
        self.next = self.next.saturating_add(1);
        if let Some(fp) = fingerprint(hash, self.bits) {
            self.kgrams.push((at, fp));
        }
        if let Some((raw, list)) = raw_and_list {
            self.raws.push(raw);
            if let Some(fp) = fingerprint(list, self.list_bits) {
                self.lists.push((at, fp));
            }
        }
    }
}

/// [`kgram_hashes`]'s rolling pass, each k-gram handed to `sink`.
#[allow(clippy::too_many_arguments)]
fn roll_kgrams(
    key: &Key,
    domain: u8,
    values: &[u64],
    names: &[u64],
    k: usize,
    min_distinct: usize,
    links: &mut Links,
    sink: &mut impl KgramSink,
) {
    let Links { next, latest, pass } = links;
    next.clear();
    if values.len() < k {
        return;
    }
    let names = if names.len() == values.len() {
        names
    } else {
        &[]
    };
    next.resize(names.len(), NO_NEXT);
    // Each name's latest occurrence, direct-mapped (a slot another name took is looked up by
    // the scan back instead): the link back of most identifiers without a scan.
    if !names.is_empty() {
        latest.resize(LATEST_SLOTS, (0, 0, 0));
        *pass = pass.wrapping_add(1);
        if *pass == 0 {
            // Stamps wrapped: entries of old passes could look current.
            latest.fill((0, 0, 0));
            *pass = 1;
        }
    }
    let pass = *pass;
    let slot = |name: u64| ((name ^ (name >> 29)) as usize) & (LATEST_SLOTS - 1);
    let raw_unit = |i: usize| -> u64 {
        match names.get(i).copied().unwrap_or(0) {
            0 => values.get(i).copied().unwrap_or(0),
            name => name,
        }
    };
    let mut raw = 0u64;
    let list_mixer = key.mixer(domain | LIST_DOMAIN);
    let mut raw_counts = [0u16; 1024];
    let mut raw_distinct = 0usize;
    let name = |i: usize| names.get(i).copied().unwrap_or(0);
    let mut counts = [0u16; 1024];
    let mut distinct = 0usize;
    let bucket = |v: u64| ((v ^ (v >> 10) ^ (v >> 20) ^ (v >> 40)) & 1023) as usize;
    let add = |counts: &mut [u16; 1024], v: u64| {
        if let Some(c) = counts.get_mut(bucket(v)) {
            *c = c.saturating_add(1);
            usize::from(*c == 1)
        } else {
            0
        }
    };
    let remove = |counts: &mut [u16; 1024], v: u64| {
        if let Some(c) = counts.get_mut(bucket(v)) {
            *c = c.saturating_sub(1);
            usize::from(*c == 0)
        } else {
            0
        }
    };
    let mixer = key.mixer(domain);
    // powers[j] = BASE^j for j < k; powers[k - 1] is the weight of a k-gram's first unit.
    let mut powers = [1u64; MAX_LINK + 1];
    let mut power = 1u64;
    for slot in powers.iter_mut() {
        *slot = power;
        power = power.wrapping_mul(BASE);
    }
    let mut top = 1u64; // BASE^(k-1)
    for _ in 1..k {
        top = top.wrapping_mul(BASE);
    }
    // Links reach back at most k - 1 units (and at most MAX_LINK, beyond which none is kept).
    let reach = (k - 1).min(MAX_LINK);
    let mut h = 0u64;
    for (i, &v) in values.iter().enumerate() {
        if i >= k {
            let first = i - k;
            let old = values.get(first).copied().unwrap_or(0);
            // The first unit's name: its next occurrence in the old k-gram loses its link.
            let first_name = name(first);
            // Its next occurrence within reach is the one that linked back to it.
            if first_name != 0 {
                let next = next
                    .get(first)
                    .and_then(|&n| (n != NO_NEXT).then_some(n as usize));
                if let Some(n) = next {
                    let placeholder = values.get(n).copied().unwrap_or(0);
                    let was = linked(placeholder, n - first);
                    let weight = powers
                        .get(i - 1 - n)
                        .copied()
                        .unwrap_or_else(|| base_power(i - 1 - n));
                    h = h.wrapping_add(placeholder.wrapping_sub(was).wrapping_mul(weight));
                    distinct -= remove(&mut counts, was);
                    distinct += add(&mut counts, placeholder);
                }
            }
            h = h.wrapping_sub(old.wrapping_mul(top));
            if !names.is_empty() {
                let leaving = raw_unit(first);
                raw = raw.wrapping_sub(leaving.wrapping_mul(top));
                raw_distinct -= remove(&mut raw_counts, leaving);
            }
            distinct -= remove(&mut counts, old);
        }
        let mut unit = v;
        let this_name = name(i);
        if this_name != 0 {
            let from = i.saturating_sub(reach);
            let seen = latest.get_mut(slot(this_name));
            let previous = match seen.as_deref() {
                Some(&(seen_name, at, stamp)) if seen_name == this_name && stamp == pass => {
                    let at = at as usize;
                    (at >= from).then_some(at)
                }
                _ => (from..i).rev().find(|&j| name(j) == this_name),
            };
            if let Some(entry) = seen {
                // A unit beyond u32 (never in a body) empties its slot: the scan back links it.
                *entry = u32::try_from(i).map_or((0, 0, 0), |at| (this_name, at, pass));
            }
            if let Some(p) = previous {
                unit = linked(v, i - p);
                if let Some(n) = next.get_mut(p) {
                    *n = u32::try_from(i).unwrap_or(NO_NEXT);
                }
            }
        }
        distinct += add(&mut counts, unit);
        h = h.wrapping_mul(BASE).wrapping_add(unit);
        if !names.is_empty() {
            let entering = raw_unit(i);
            raw = raw.wrapping_mul(BASE).wrapping_add(entering);
            raw_distinct += add(&mut raw_counts, entering);
        }
        if i + 1 >= k {
            let blinded_low = distinct < min_distinct;
            let (hash, shape) = if blinded_low {
                (LOW_ENTROPY, LOW_ENTROPY)
            } else {
                (mixer.mix(h).min(LOW_ENTROPY - 1), h)
            };
            let raw_and_list = (!names.is_empty()).then(|| {
                let list = if blinded_low && raw_distinct >= min_distinct {
                    list_mixer.mix(raw).min(LOW_ENTROPY - 1)
                } else {
                    LOW_ENTROPY
                };
                (raw, list)
            });
            sink.kgram(hash, shape, raw_and_list);
        }
    }
}

/// Stands in for the k-gram after a text's last ones in [`widen_checks`].
const NO_NEXT_KGRAM: u64 = 0x5851_F42D_4C95_7F2D;

/// Makes each k-gram's raw hash cover the `k / 2` units after it too: a check then confirms a
/// k-gram and a half of names in a row, as written. Code shared word for word across projects
/// (a `Deserialize` impl's signature, `-> io::Result<usize> {`) is mostly one k-gram long, and
/// with single-k-gram checks it verified in unrelated code of the indexed language. Half a
/// k-gram rather than a whole one (index format 8): the last k-grams of a paste cannot verify,
/// as the units the check covers are not in it, and with `k` units a 200-character paste (about
/// 50 tokens) kept few verifiable k-grams (measured, 10 MB crate index: 200 characters as is
/// 0.790 → 0.840, with CRLF 0.772 → 0.810; fields of crates not indexed flagged 3.03 → 3.20 %;
/// `k / 4` took as is to 0.870 and the flagged fields to 4.30 %).
fn widen_checks(raws: &mut [u64], k: usize) {
    for i in 0..raws.len() {
        if let Some(widened) = widened(raws, i, k) {
            if let Some(raw) = raws.get_mut(i) {
                *raw = widened;
            }
        }
    }
}

/// K-gram `i`'s raw hash widened over the `k / 2` units after it (see [`widen_checks`]), from
/// the raw hashes before widening; none past the last k-gram.
#[inline]
fn widened(raws: &[u64], i: usize, k: usize) -> Option<u64> {
    let raw = raws.get(i)?;
    let next = raws.get(i + k / 2).copied().unwrap_or(NO_NEXT_KGRAM);
    Some(raw.rotate_left(29) ^ next.wrapping_mul(BASE))
}

/// The link tables of [`kgram_hashes`], kept in a [`Scratch`] across texts.
#[derive(Debug, Default)]
struct Links {
    /// Per unit of a view with identifiers: the next occurrence of its name within a k-gram's
    /// reach ([`NO_NEXT`] when none), filled as each occurrence links back.
    next: Vec<u32>,
    /// Each name's latest occurrence, direct-mapped: (name, unit, pass). An entry of an earlier
    /// pass counts as empty, so the table is never cleared between texts.
    latest: Vec<(u64, u32, u32)>,
    pass: u32,
}

/// No next occurrence of a unit's name within reach (see [`Scratch`]'s `next`).
const NO_NEXT: u32 = u32::MAX;
/// Slots of the latest-occurrence table of [`kgram_hashes`] (a power of two).
const LATEST_SLOTS: usize = 256;

/// Added to a stream's domain for the key of its raw-form checks.
const RAW_DOMAIN: u8 = 0x80;
/// Added to a stream's domain for the key of its list fingerprints.
const LIST_DOMAIN: u8 = 0x40;
/// List fingerprints are winnowed in windows this many times the stream's.
const LIST_WINDOWS: usize = 3;

/// The longest link between two occurrences of a name, in units (k-grams longer than this
/// link only their closer occurrences).
const MAX_LINK: usize = 63;

/// `BASE^exponent`, for the rare link weight beyond the table (k-grams over 64 units).
fn base_power(exponent: usize) -> u64 {
    (0..exponent).fold(1u64, |p, _| p.wrapping_mul(BASE))
}

/// The unit value of an identifier whose name occurred `distance` units earlier in the k-gram.
fn linked(placeholder: u64, distance: usize) -> u64 {
    placeholder ^ (distance as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[u64], k: usize, w: usize) -> Vec<(u64, u32)> {
        run_selected(values, k, w)
            .into_iter()
            .map(|s| (s.hash, s.first))
            .collect()
    }

    fn run_selected(values: &[u64], k: usize, w: usize) -> Vec<Selected> {
        let mut out = Vec::new();
        fingerprints(
            &Key([7; 16]),
            0,
            values,
            &[],
            Params {
                k,
                w,
                min_distinct: 0,
            },
            &mut Scratch::default(),
            &mut out,
        );
        out
    }

    fn pseudo(n: usize, seed: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % 40
            })
            .collect()
    }

    #[test]
    fn every_window_holds_a_selection() {
        let values = pseudo(2000, 1);
        let (k, w) = (5, 16);
        let fps = run(&values, k, w);
        let positions: Vec<usize> = fps.iter().map(|&(_, p)| p as usize).collect();
        assert!(positions.windows(2).all(|p| p[0] < p[1]));
        for start in 0..=(values.len() - k + 1 - w) {
            assert!(
                positions.iter().any(|&p| p >= start && p < start + w),
                "window {start}"
            );
        }
        let density = fps.len() as f64 / (values.len() - k + 1) as f64;
        assert!((density - 2.0 / (w as f64 + 1.0)).abs() < 0.04, "{density}");
    }

    #[test]
    fn a_shared_run_shares_fingerprints() {
        let (k, w) = (5, 16);
        let shared = pseudo(200, 9);
        let mut a = pseudo(300, 2);
        a.extend(&shared);
        let mut b = shared.clone();
        b.extend(pseudo(100, 3));
        let fa: std::collections::HashSet<u64> = run(&a, k, w).into_iter().map(|f| f.0).collect();
        let common = run(&b, k, w)
            .into_iter()
            .filter(|f| fa.contains(&f.0))
            .count();
        assert!(common >= 200 * 2 / (w + 1) / 2, "{common}");
    }

    #[test]
    fn low_entropy_kgrams_are_never_selected() {
        let mut out = Vec::new();
        let table: Vec<u64> = (0..400).map(|i| [1, 2, 1, 3][i % 4]).collect();
        let params = Params {
            k: 8,
            w: 4,
            min_distinct: 4,
        };
        fingerprints(
            &Key([7; 16]),
            0,
            &table,
            &[],
            params,
            &mut Scratch::default(),
            &mut out,
        );
        assert!(out.is_empty());
        fingerprints(
            &Key([7; 16]),
            0,
            &pseudo(400, 5),
            &[],
            params,
            &mut Scratch::default(),
            &mut out,
        );
        assert!(out.len() > 100);
    }

    #[test]
    fn short_texts_and_repeats() {
        assert!(run(&[1, 2, 3], 5, 4).is_empty());
        assert_eq!(run(&[1, 2, 3, 4, 5, 6], 5, 4).len(), 1);
        let repeated = run(&vec![3; 500], 5, 16).len();
        assert!(
            repeated <= 500 / 16 + 1,
            "robust winnowing keeps an equal minimum: {repeated}"
        );
    }

    /// The k-gram hash straight from the definition: each name's occurrence linked to its
    /// previous occurrence inside the k-gram.
    fn direct(values: &[u64], names: &[u64], k: usize) -> Vec<u64> {
        let mixer = Key([7; 16]).mixer(2);
        (0..=values.len() - k)
            .map(|s| {
                let mut h = 0u64;
                for i in s..s + k {
                    let mut unit = values[i];
                    if names[i] != 0 {
                        if let Some(p) = (s..i).rev().take(MAX_LINK).find(|&j| names[j] == names[i])
                        {
                            unit = linked(values[i], i - p);
                        }
                    }
                    h = h.wrapping_mul(BASE).wrapping_add(unit);
                }
                mixer.mix(h).min(LOW_ENTROPY - 1)
            })
            .collect()
    }

    /// Code-like units of many names: identifiers (placeholder 99) where the first sequence's
    /// pseudo-random value is below `below` (out of 40), each named by it and the second's (up to
    /// 1 600 names), punctuation values 1..5 elsewhere.
    fn many_names(n: usize, seeds: (u64, u64), below: u64) -> (Vec<u64>, Vec<u64>) {
        pseudo(n, seeds.0)
            .into_iter()
            .zip(pseudo(n, seeds.1))
            .map(|(a, b)| {
                if a < below {
                    (99, a * 40 + b + 1)
                } else {
                    (a % 5 + 1, 0)
                }
            })
            .unzip()
    }

    /// Code-like units: punctuation values 1..5, identifiers (placeholder 99) of a few names.
    fn code_like(n: usize, seed: u64, rename: u64) -> (Vec<u64>, Vec<u64>) {
        pseudo(n, seed)
            .into_iter()
            .map(|x| {
                if x < 20 {
                    (99, x % 6 + 1 + rename)
                } else {
                    (x % 5 + 1, 0)
                }
            })
            .unzip()
    }

    #[test]
    fn a_requests_candidates_are_every_kgram_that_can_be_a_fingerprint() {
        let key = Key([7; 16]);
        // Code-like units with few names and many (lists low in entropy once blinded), prose-like
        // units without names, and texts shorter than one k-gram.
        let texts = [
            code_like(3000, 11, 0),
            code_like(3000, 5, 7),
            many_names(3000, (41, 43), 28),
            (pseudo(3000, 3), Vec::new()),
            code_like(9, 2, 0),
        ];
        let mut scratch = Scratch::default();
        let mut list_candidates = 0;
        for (values, names) in &texts {
            for params in [
                Params {
                    k: 14,
                    w: 23,
                    min_distinct: 7,
                },
                Params {
                    k: 8,
                    w: 16,
                    min_distinct: 5,
                },
                Params {
                    k: 12,
                    w: 8,
                    min_distinct: 0,
                },
                Params {
                    k: 1,
                    w: 50,
                    min_distinct: 1,
                },
            ] {
                let (mut hashes, mut raws, mut lists) = (Vec::new(), Vec::new(), Vec::new());
                kgram_hashes(
                    &key,
                    2,
                    values,
                    names,
                    params.k,
                    params.min_distinct,
                    &mut hashes,
                    &mut raws,
                    &mut lists,
                    &mut Links::default(),
                    None,
                );
                widen_checks(&mut raws, params.k);
                let bits = threshold_bits(params.w);
                let list_bits = threshold_bits(params.w * LIST_WINDOWS);
                let mixer = key.mixer(2 | RAW_DOMAIN);
                let expected: Vec<(usize, u64, u8)> = hashes
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &h)| {
                        let fp = fingerprint(h, bits)?;
                        Some((i, fp, check_of(&raws, mixer, i, fp)))
                    })
                    .collect();
                let got: Vec<(usize, u64, u8)> =
                    all_kgrams(&key, 2, values, names, params, &mut scratch)
                        .map(|(i, kgram)| (i, kgram.fingerprint, kgram.check()))
                        .collect();
                assert_eq!(got, expected, "{params:?}");
                let expected_lists: Vec<(usize, u64)> = lists
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &h)| fingerprint(h, list_bits).map(|fp| (i, fp)))
                    .collect();
                let got_lists: Vec<(usize, u64)> = all_list_kgrams(&scratch).collect();
                assert_eq!(got_lists, expected_lists, "{params:?}");
                assert!(
                    values.len() < 1000 || params.k < 8 || !got.is_empty(),
                    "{params:?}"
                );
                list_candidates += got_lists.len();
            }
        }
        // The texts exercise the list family too.
        assert!(list_candidates > 0);
    }

    /// The rolled k-gram hashes of a unit sequence, under the tests' key.
    fn roll(values: &[u64], names: &[u64], k: usize, links: &mut Links) -> Vec<u64> {
        let mut rolled = Vec::new();
        kgram_hashes(
            &Key([7; 16]),
            2,
            values,
            names,
            k,
            0,
            &mut rolled,
            &mut Vec::new(),
            &mut Vec::new(),
            links,
            None,
        );
        rolled
    }

    #[test]
    fn linked_identifiers_roll_like_the_definition_and_survive_a_consistent_rename() {
        for k in [1, 2, 5, 12, 70] {
            let (values, names) = code_like(400, 11, 0);
            let rolled = roll(&values, &names, k, &mut Links::default());
            assert_eq!(rolled, direct(&values, &names, k), "k = {k}");
            let (_, renamed) = code_like(400, 11, 1000);
            let again = roll(&values, &renamed, k, &mut Links::default());
            assert_eq!(rolled, again, "k = {k}");
        }
        // Many names: the latest-occurrence table's slots are shared, and a name whose slot
        // another took is linked by the scan back, as the definition links it.
        let (values, names) = many_names(3000, (17, 29), 20);
        // One scratch for all: the table's entries of an earlier text never link this one.
        let mut links = Links::default();
        for k in [5, 12, 40, 70] {
            let rolled = roll(&values, &names, k, &mut links);
            assert_eq!(rolled, direct(&values, &names, k), "k = {k}");
        }
        // Which names repeat matters: `a a b` is not `a b c`.
        let mut same = Vec::new();
        let mut other = Vec::new();
        kgram_hashes(
            &Key([7; 16]),
            2,
            &[99, 1, 99],
            &[5, 0, 5],
            3,
            0,
            &mut same,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut Links::default(),
            None,
        );
        kgram_hashes(
            &Key([7; 16]),
            2,
            &[99, 1, 99],
            &[5, 0, 6],
            3,
            0,
            &mut other,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut Links::default(),
            None,
        );
        assert_ne!(same, other);
        // The check hashes the names: the same names check alike, a rename checks otherwise.
        let (values, names) = code_like(400, 11, 0);
        let (_, renamed) = code_like(400, 11, 1000);
        let mixer = Key([7; 16]).mixer(2 | RAW_DOMAIN);
        let checks_of = |names: &[u64]| {
            let (mut hashes, mut raws) = (Vec::new(), Vec::new());
            kgram_hashes(
                &Key([7; 16]),
                2,
                &values,
                names,
                12,
                0,
                &mut hashes,
                &mut raws,
                &mut Vec::new(),
                &mut Links::default(),
                None,
            );
            widen_checks(&mut raws, 12);
            assert_eq!(raws.len(), hashes.len());
            (0..raws.len())
                .map(|i| check_of(&raws, mixer, i, 0))
                .collect::<Vec<u8>>()
        };
        let checks = checks_of(&names);
        let raw: Vec<u64> = values
            .iter()
            .zip(&names)
            .map(|(&v, &n)| if n == 0 { v } else { n })
            .collect();
        // Directly: each k-gram's raw hash, widened by the k-gram k / 2 units on (or, for the
        // last k / 2 k-grams, by the stand-in for none).
        let direct: Vec<u64> = raw
            .windows(12)
            .map(|w| {
                w.iter()
                    .fold(0u64, |h, &u| h.wrapping_mul(BASE).wrapping_add(u))
            })
            .collect();
        let direct_checks: Vec<u8> = (0..direct.len())
            .map(|i| {
                let next = direct.get(i + 6).copied().unwrap_or(NO_NEXT_KGRAM);
                let wide = direct[i].rotate_left(29) ^ next.wrapping_mul(BASE);
                (mixer.mix(wide) >> 56) as u8
            })
            .collect();
        assert_eq!(checks, direct_checks);
        // A name changed in the k / 2 units after a k-gram changes its check (the check covers
        // them), and leaves the checks of k-grams that end more than k / 2 units before it.
        let mut one_renamed = names.clone();
        // An identifier in the middle, so every k-gram covering it has a k-gram after it.
        let at = (100..).find(|&i| names[i] != 0).unwrap();
        one_renamed[at] ^= 0xABCD;
        let changed = checks_of(&one_renamed);
        for i in 0..checks.len() {
            let covers = i <= at && at < i + 18;
            if !covers {
                assert_eq!(checks[i], changed[i], "k-gram {i} does not cover unit {at}");
            }
        }
        let covering = (at - 17..=at).count();
        let differ = (at - 17..=at).filter(|&i| checks[i] != changed[i]).count();
        assert!(differ * 10 >= covering * 9, "{differ} of {covering}");
        let renamed_checks = checks_of(&renamed);
        let same = checks
            .iter()
            .zip(&renamed_checks)
            .filter(|(a, b)| a == b)
            .count();
        assert!(same * 20 < checks.len(), "{same} of {}", checks.len());
        // Without names, every placeholder is alike.
        let mut blind = Vec::new();
        kgram_hashes(
            &Key([7; 16]),
            2,
            &[99, 1, 99],
            &[],
            3,
            0,
            &mut blind,
            &mut Vec::new(),
            &mut Vec::new(),
            &mut Links::default(),
            None,
        );
        assert_eq!(blind, other);
    }
}
