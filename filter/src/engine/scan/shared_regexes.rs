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

use crate::engine::scan::scanner::{CompiledRegex, RegexLimits};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A regex compiled on first use, shared by every detector with the same pattern and limits.
pub type SharedRegex = Arc<OnceLock<Option<CompiledRegex>>>;

type Key = (Box<str>, [usize; 3]);
type Registry = HashMap<Key, Weak<OnceLock<Option<CompiledRegex>>>>;

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn key(pattern: &str, limits: RegexLimits) -> Key {
    (
        pattern.into(),
        [limits.nfa_bytes, limits.cache_bytes, limits.set_cache_bytes],
    )
}

/// The shared cell of `pattern` under `limits`: the one a loaded policy already holds, or a
/// new, empty one.
pub fn shared(pattern: &str, limits: RegexLimits) -> SharedRegex {
    // A poisoned lock only means a panic elsewhere while it was held (none is reachable in the
    // filter); the map itself is still consistent, so go on with it.
    let mut guard = REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    let key = key(pattern, limits);
    if let Some(cell) = map.get(&key).and_then(Weak::upgrade) {
        return cell;
    }
    let cell: SharedRegex = Arc::new(OnceLock::new());
    map.insert(key, Arc::downgrade(&cell));
    cell
}

/// Drops the entries no loaded policy uses any more (called once per policy built).
pub fn sweep() {
    let mut guard = REGISTRY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(map) = guard.as_mut() {
        map.retain(|_, cell| cell.strong_count() > 0);
    }
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
            super::REGISTRY
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
