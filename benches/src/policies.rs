//! Policies for the benchmarks: the default policy (with a raised body limit),
//! and synthetic policies of N detectors derived from the default's.

use airlock_filter::policy::schema::PolicyDoc;
use airlock_filter::policy::{self, bundle, Environment, Origins, PolicyErrors};
use airlock_filter::Policy;
use regex_syntax::hir::{Capture, Class, ClassBytes, ClassBytesRange, Hir, HirKind, Repetition};
use serde_json::Value;

/// Body limit used by every benchmark policy: above the 1 MiB bodies plus their envelope.
pub const BENCH_MAX_BODY: u64 = 4 << 20;

/// A fixed HMAC key so compiling never needs the environment.
const KEY: &str = "airlock-bench-key-0123456789abcdef";

/// The environment the benchmark policies compile in.
pub fn env() -> Environment<'static> {
    Environment {
        var: &|name| (name == "AIRLOCK_HASH_KEY").then(|| KEY.to_string()),
        // As the filter compiles them.
        defer_regexes: true,
    }
}

/// The embedded default policy document as JSON.
pub fn default_value() -> Value {
    serde_json::from_str(airlock_filter::DEFAULT_POLICY_JSON).unwrap_or(Value::Null)
}

/// `doc` with `limits.max_body_bytes` set to `bytes`.
pub fn with_max_body(mut doc: Value, bytes: u64) -> Value {
    if let Some(limits) = doc.get_mut("limits").and_then(Value::as_object_mut) {
        limits.insert("max_body_bytes".into(), Value::from(bytes));
    } else if let Some(root) = doc.as_object_mut() {
        root.insert(
            "limits".into(),
            serde_json::json!({"max_body_bytes": bytes}),
        );
    }
    doc
}

/// Parses and compiles a policy document, as the filter does for a plugin configuration.
pub fn compile(doc: Value) -> Result<Policy, PolicyErrors> {
    let origins = Origins::single("bench policy");
    let parsed = policy::parse_document(doc, &origins)?;
    policy::compile(parsed, origins, &env())
}

/// The default policy with [`BENCH_MAX_BODY`].
pub fn default_policy() -> Policy {
    compile(with_max_body(default_value(), BENCH_MAX_BODY))
        .unwrap_or_else(|e| panic!("default policy: {e}"))
}

/// The plugin configuration `airlock build` writes for a policy document (with each regex's
/// syntax facts, so that loading it parses no regex).
pub fn plugin_config(doc: &Value) -> Vec<u8> {
    let origins = Origins::single("bench policy");
    let parsed = policy::parse_document(doc.clone(), &origins)
        .unwrap_or_else(|e| panic!("bench policy: {e}"));
    airlock_filter::config::build(&parsed, false)
        .unwrap_or_else(|e| panic!("bench policy: {e}"))
        .into_bytes()
}

/// Loads a plugin configuration as the filter does (natively).
pub fn load(config: &[u8]) -> Result<Policy, PolicyErrors> {
    airlock_filter::config::load(config, &env()).map(|loaded| loaded.policy)
}

/// A policy file or directory as `airlock check` reads it (YAML or JSON), compiled with every
/// regex compiled now and `key` as its HMAC key, and its document (for its test cases). Panics
/// with the policy's own errors: the tools that call it have nothing to run without it.
pub fn load_dir(path: &std::path::Path, key: &str) -> (Policy, PolicyDoc) {
    let parse = |file: &std::path::Path, text: &str| -> Result<Value, String> {
        if file.extension().and_then(|e| e.to_str()) == Some("json") {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            serde_saphyr::from_str(text).map_err(|e| e.to_string())
        }
    };
    let bundle = bundle::load(path, &parse).unwrap_or_else(|e| panic!("{e}"));
    let origins = Origins {
        main: path.display().to_string(),
        detectors: Vec::new(),
        tests: Vec::new(),
    };
    let mut document = bundle.document;
    let base = bundle.main.parent().unwrap_or(std::path::Path::new("."));
    policy::protected::carry_index_files(&mut document, base, &origins)
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = policy::parse_document(document, &origins).unwrap_or_else(|e| panic!("{e}"));
    let var = |_: &str| Some(key.to_string());
    let env = Environment {
        var: &var,
        defer_regexes: false,
    };
    let compiled = policy::compile(doc.clone(), origins, &env).unwrap_or_else(|e| panic!("{e}"));
    (compiled, doc)
}

/// A policy of exactly `n` detectors built from the default policy's.
///
/// Up to the default's own count, an evenly spread subset (so credentials, personal data and markings
/// keep their proportions). Beyond it, the default's detectors are cloned round-robin: clone `k` gets the
/// id `<id>-x<k>` and every literal (keywords, regex literals and single-letter case-folded classes,
/// dictionary phrases) rotated by `k` letters and digits, so each clone is a distinct detector of the same
/// shape. Keyword-less detectors stay keyword-less, so the always-on set grows with `n`. Rules that name a
/// detector missing from the subset are dropped.
pub fn synthetic(n: usize) -> Value {
    let mut doc = with_max_body(default_value(), BENCH_MAX_BODY);
    let originals: Vec<Value> = doc["detectors"].as_array().cloned().unwrap_or_default();
    let total = originals.len().max(1);
    let mut detectors = Vec::with_capacity(n);
    if n <= total {
        for i in 0..n {
            detectors.push(originals[i * total / n].clone());
        }
    } else {
        detectors.extend(originals.iter().cloned());
        for i in 0..n - total {
            let k = 1 + i / total;
            detectors.push(clone_detector(&originals[i % total], k));
        }
    }
    let ids: std::collections::HashSet<String> = detectors
        .iter()
        .filter_map(|d| d["id"].as_str().map(str::to_string))
        .collect();
    if let Some(rules) = doc.get_mut("rules").and_then(Value::as_array_mut) {
        rules.retain(|r| r["detector"].as_str().is_none_or(|id| ids.contains(id)));
    }
    // Key theft names detectors by id: keep only the sampled ones, and vendors left with any.
    if let Some(vendors) = doc
        .pointer_mut("/key_theft/vendors")
        .and_then(Value::as_array_mut)
    {
        for vendor in vendors.iter_mut() {
            if let Some(list) = vendor.get_mut("detectors").and_then(Value::as_array_mut) {
                list.retain(|id| id.as_str().is_some_and(|id| ids.contains(id)));
            }
        }
        vendors.retain(|v| v["detectors"].as_array().is_some_and(|l| !l.is_empty()));
    }
    doc["detectors"] = Value::Array(detectors);
    doc["metadata"]["name"] = Value::from(format!("synthetic-{n}"));
    doc
}

/// Rotates ASCII letters by `k` (keeping case) and digits by `k`.
pub fn rotate_byte(b: u8, k: usize) -> u8 {
    let k = k % 26;
    match b {
        b'a'..=b'z' => b'a' + ((b - b'a') as usize + k) as u8 % 26,
        b'A'..=b'Z' => b'A' + ((b - b'A') as usize + k) as u8 % 26,
        b'0'..=b'9' => b'0' + ((b - b'0') as usize + k) as u8 % 10,
        _ => b,
    }
}

fn rotate_str(s: &str, k: usize) -> String {
    // Only ASCII bytes change, so the result stays valid UTF-8.
    let bytes: Vec<u8> = s
        .bytes()
        .map(|b| if b.is_ascii() { rotate_byte(b, k) } else { b })
        .collect();
    let mut out = String::from_utf8(bytes).unwrap_or_else(|_| s.to_string());
    if !s.is_ascii() {
        // A non-ASCII phrase (CJK marking): vary it with a suffix instead.
        out = format!("{s}{}", char::from(b'A' + (k % 26) as u8));
    }
    out
}

fn clone_detector(original: &Value, k: usize) -> Value {
    let mut d = original.clone();
    d["id"] = Value::from(format!("{}-x{k}", original["id"].as_str().unwrap_or("d")));
    if let Some(regex) = original["regex"].as_str() {
        d["regex"] = Value::from(rotate_regex(regex, k));
    }
    if let Some(keywords) = d.get_mut("keywords").and_then(Value::as_array_mut) {
        for keyword in keywords.iter_mut() {
            if let Some(s) = keyword.as_str() {
                *keyword = Value::from(rotate_str(s, k));
            }
        }
    }
    if let Some(phrases) = d
        .pointer_mut("/dictionary/phrases")
        .and_then(Value::as_array_mut)
    {
        for phrase in phrases.iter_mut() {
            if let Some(s) = phrase.as_str() {
                *phrase = Value::from(rotate_str(s, k));
            }
        }
    }
    // A per-detector action override applies to the clone too; nothing else refers to literals.
    d
}

/// The regex with its literals rotated, printed back from its HIR (parsed in the engine's ASCII mode).
pub fn rotate_regex(pattern: &str, k: usize) -> String {
    let parsed = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern);
    match parsed {
        Ok(hir) => rotate_hir(&hir, k).to_string(),
        Err(_) => pattern.to_string(),
    }
}

fn rotate_hir(hir: &Hir, k: usize) -> Hir {
    match hir.kind() {
        HirKind::Literal(lit) => Hir::literal(
            lit.0
                .iter()
                .map(|&b| rotate_byte(b, k))
                .collect::<Vec<u8>>(),
        ),
        HirKind::Class(Class::Bytes(class)) => match case_pair(class) {
            Some(letter) => {
                let r = rotate_byte(letter, k);
                let rotated = ClassBytes::new([
                    ClassBytesRange::new(r, r),
                    ClassBytesRange::new(r ^ 0x20, r ^ 0x20),
                ]);
                Hir::class(Class::Bytes(rotated))
            }
            None => hir.clone(),
        },
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(rotate_hir(&rep.sub, k)),
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(rotate_hir(&cap.sub, k)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(|h| rotate_hir(h, k)).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(|h| rotate_hir(h, k)).collect())
        }
        _ => hir.clone(),
    }
}

/// `[Xx]`: a case-insensitive letter, as `(?i)` compiles it in ASCII mode.
fn case_pair(class: &ClassBytes) -> Option<u8> {
    let ranges = class.ranges();
    match ranges {
        [a, b] if a.start() == a.end() && b.start() == b.end() => {
            let (upper, lower) = (a.start(), b.start());
            (upper.is_ascii_uppercase() && lower == upper.to_ascii_lowercase()).then_some(upper)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_policies_compile() {
        for n in [100, 300, 1000] {
            let policy = compile(synthetic(n)).unwrap_or_else(|e| panic!("synthetic {n}: {e}"));
            assert_eq!(policy.detectors.len(), n);
        }
    }

    #[test]
    fn rotation_keeps_shape() {
        assert_eq!(
            rotate_regex(r"\bAKIA[A-Z2-7]{16}\b", 1),
            rotate_regex(r"\bBLJB[A-Z2-7]{16}\b", 0)
        );
        assert_eq!(rotate_str("ghp_", 2), "ijr_");
    }
}
