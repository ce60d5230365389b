//! Compiled detector regexes shared by every policy loaded in one process (one VM).
//!
//! An ECDS update reconfigures a VM with a new policy while requests still in flight hold the
//! old one, and most updates change a detector or two, often none (a new `metadata.version`).
//! Without sharing, each version compiled its ~300 regexes again (on first use and on the
//! warm-up ticks) and held them beside the old version's: the VM's linear memory stepped up
//! whenever versions overlapped (envoy/soak.py), and every update paid the compilation again.
//!
//! A regex is a pure function of its pattern and its limits, so the compiled form is shared by
//! that key: a policy that keeps a detector keeps its compiled regex, compiled or not yet.
//!
//! - The registry holds weak references only: a regex no loaded policy uses is freed with the
//!   last policy that did, and dead entries are swept whenever a policy is built.
//! - Only the compiled automaton is shared. Lazy-DFA caches live in each policy's scratch, so
//!   one policy's traffic never changes another's memory or timing.
//! - Native callers (the CLI, the benches) share the same way; a compiled regex is immutable,
//!   so sharing changes no result.
//! - The always-on set (the keyword-less detectors' patterns in one lazy DFA) is shared the
//!   same way, by its patterns in order and its limits.

use crate::engine::scan::blind::BlindSet;
use crate::engine::scan::scanner::{CompiledRegex, RegexLimits};
use regex_automata::hybrid;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A compiled form built on first use (`None` inside: it failed to build), shared by every
/// policy that needs the same one.
pub type Shared<T> = Arc<OnceLock<Option<T>>>;
/// A detector's regex, shared by pattern and limits.
pub type SharedRegex = Shared<CompiledRegex>;
/// One always-on pattern's lazy DFA, shared by its pattern and limits.
pub type SharedSet = Shared<hybrid::dfa::DFA>;
/// The always-on set's digit-blind lazy DFA, shared by its patterns (in order) and limits.
pub type SharedBlindSet = Shared<BlindSet>;

type Key = (Box<str>, [usize; 3]);

/// Weak references to the shared forms of one kind, by key.
type Cells<T> = HashMap<Key, Weak<OnceLock<Option<T>>>>;

struct Registry<T> {
    map: Mutex<Option<Cells<T>>>,
}

impl<T> Registry<T> {
    const fn new() -> Registry<T> {
        Registry {
            map: Mutex::new(None),
        }
    }

    /// The cell a loaded policy already holds for `key`, or a new, empty one.
    fn shared(&self, key: Key) -> Shared<T> {
        // A poisoned lock only means a panic elsewhere while it was held (none is reachable in
        // the filter); the map itself is still consistent, so go on with it.
        let mut guard = self
            .map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        if let Some(cell) = map.get(&key).and_then(Weak::upgrade) {
            return cell;
        }
        let cell: Shared<T> = Arc::new(OnceLock::new());
        map.insert(key, Arc::downgrade(&cell));
        cell
    }

    fn sweep(&self) {
        let mut guard = self
            .map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(map) = guard.as_mut() {
            map.retain(|_, cell| cell.strong_count() > 0);
        }
    }
}

static REGEXES: Registry<CompiledRegex> = Registry::new();
static SETS: Registry<hybrid::dfa::DFA> = Registry::new();
static BLIND_SETS: Registry<BlindSet> = Registry::new();

fn limits_key(limits: RegexLimits) -> [usize; 3] {
    [limits.nfa_bytes, limits.cache_bytes, limits.set_cache_bytes]
}

/// The shared cell of `pattern` under `limits`: the one a loaded policy already holds, or a
/// new, empty one.
pub fn shared(pattern: &str, limits: RegexLimits) -> SharedRegex {
    REGEXES.shared((pattern.into(), limits_key(limits)))
}

/// The shared cell of always-on pattern `pattern` alone under `limits`.
pub fn shared_set(pattern: &str, limits: RegexLimits) -> SharedSet {
    SETS.shared((pattern.into(), limits_key(limits)))
}

/// The shared cell of the blind always-on set of `patterns` (in this order) under `limits`.
pub fn shared_blind_set(patterns: &[Box<str>], limits: RegexLimits) -> SharedBlindSet {
    // Length-prefixed, so no two lists of patterns make the same key.
    let key: String = patterns
        .iter()
        .map(|p| format!("{}:{p}", p.len()))
        .collect();
    BLIND_SETS.shared((key.into(), limits_key(limits)))
}

/// Drops the entries no loaded policy uses any more (called once per policy built).
pub fn sweep() {
    REGEXES.sweep();
    SETS.sweep();
    BLIND_SETS.sweep();
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
    use crate::policy::{self, Environment, Origins};

    fn env() -> Environment<'static> {
        Environment {
            var: &|_| Some("airlock-test-key-0123456789abcdef".to_string()),
            defer_regexes: true,
        }
    }

    /// The default policy's document with one detector's regex changed (or none).
    fn default_doc(change: Option<&str>) -> crate::policy::schema::PolicyDoc {
        let origins = Origins::single("test");
        let mut value: serde_json::Value =
            serde_json::from_str(crate::DEFAULT_POLICY_JSON).unwrap();
        if let Some(suffix) = change {
            let detectors = value["detectors"].as_array_mut().unwrap();
            let with_regex = detectors
                .iter_mut()
                .find(|d| d["regex"].is_string())
                .unwrap();
            let pattern = format!("{}{suffix}", with_regex["regex"].as_str().unwrap());
            with_regex["regex"] = serde_json::Value::String(pattern);
        }
        policy::parse_document(value, &origins).unwrap()
    }

    fn compile(change: Option<&str>) -> crate::Policy {
        policy::compile(default_doc(change), Origins::single("test"), &env()).unwrap()
    }

    #[test]
    fn a_new_version_of_a_policy_finds_its_regexes_compiled() {
        let first = compile(None);
        assert_eq!(first.compile_pending(usize::MAX), 0);
        // Another version with the same detectors: nothing left to compile.
        let same = compile(None);
        assert_eq!(same.compile_pending(0), 0);
        // One regex changed: that one alone waits (in each scanner that runs it: the joined
        // scanners run credential detectors again, sharing its one compiled form).
        let changed = compile(Some("(?:zq){0}"));
        assert!((1..=3).contains(&changed.compile_pending(0)));
        assert_eq!(changed.compile_pending(1), 0);
    }

    #[test]
    fn regexes_no_policy_holds_leave_the_registry() {
        let marker = "(?:qz){0}";
        let policy = compile(Some(marker));
        let holds = |p: &str| {
            super::REGEXES
                .map
                .lock()
                .unwrap()
                .as_ref()
                .unwrap()
                .iter()
                .any(|((pattern, _), cell)| pattern.ends_with(p) && cell.strong_count() > 0)
        };
        assert!(holds(marker));
        drop(policy);
        super::sweep();
        assert!(!holds(marker));
    }
}
