//! From a policy document to a compiled [`Policy`], rejecting anything doubtful.
//!
//! Every problem is reported, not only the first, each with the field path
//! and a sentence saying what to change. Nothing is silently ignored: an
//! unknown class, a regex that is not ASCII-safe, a keyword that is empty, a
//! `hash` action without a key all stop the policy from loading.

use super::digest::digest_with_indexes;
use super::error::{Origins, PolicyError, PolicyErrors};
use super::schema::{
    ActionDoc, DetectorDoc, FailModeDoc, JoinDoc, KindDoc, Mode as ModeDoc, PolicyDoc,
    ValidatorDoc, SCHEMA_VERSION,
};
use super::{
    Action, ClassIndex, Detector, FailMode, HmacKey, HostPattern, KeyScope, Kind, Limits, Mode,
    Policy, PolicyInfo, Tier, TierIndex,
};
use crate::engine::scan::builder::{RegexParts, ScannerBuilder};
use crate::engine::scan::keywords::Keywords;
use crate::engine::scan::protected::Protected;
use crate::engine::scan::scanner::{
    self, Checks, ContextWords, DetectorIndex, DictionaryDetector, RegexLimits, Scanner,
};
use crate::engine::scan::validators::Validator;
use crate::engine::walk::keyword_gate::KeywordGate;
use crate::engine::walk::straddle::Straddle;
use regex_facts::{FactsById, RegexFacts};
use std::collections::HashMap;
use std::fmt;

/// What compiling may read from outside the document.
pub struct Environment<'a> {
    /// Looks up an environment variable (of the CLI process, or of the wasm VM).
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// Check each regex's syntax now but compile it on first use. The filter does: a VM then
    /// loads in milliseconds and compiles only the regexes its traffic arms. `airlock check`
    /// and `build` do not, so a regex that cannot compile is an error before it ships.
    pub defer_regexes: bool,
}

/// Bytes an HMAC key must have at least.
const MIN_KEY_BYTES: usize = 16;
/// Largest body size a policy may ask to inspect.
const MAX_BODY_LIMIT: u64 = 64 << 20;
const MAX_DETECTORS: usize = 4096;
const MAX_CONTEXT_WINDOW: usize = 4096;
/// Single bytes rare enough in prose and code to gate a regex on.
const RARE_BYTES: &str = "@#$%^&~|\\";

/// Parses a JSON document into the schema, naming the field of the first shape error.
pub fn parse_document(
    value: serde_json::Value,
    origins: &Origins,
) -> Result<PolicyDoc, PolicyErrors> {
    serde_path_to_error::deserialize::<_, PolicyDoc>(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        PolicyErrors(vec![origins.error(&path, e.inner().to_string())])
    })
}

/// [`parse_document`] from JSON text, straight into the schema (no intermediate
/// `serde_json::Value`, which costs as much as the parse itself); `Err` carries the JSON's own
/// syntax error, or the field of the first shape error.
///
/// A valid document is parsed once, without tracking where the parser is: the tracking copies
/// every key it passes, and loading runs on every VM. Only a document that fails is parsed again
/// with tracking, to name the field.
pub fn parse_document_text(text: &str, origins: &Origins) -> Result<PolicyDoc, PolicyErrors> {
    match serde_json::from_str::<PolicyDoc>(text) {
        Ok(doc) => Ok(doc),
        Err(untracked) => Err(explain_parse_error(text, origins, untracked)),
    }
}

/// The error of a document that failed to parse, naming the field where the tracking parse stops.
#[cold]
fn explain_parse_error(
    text: &str,
    origins: &Origins,
    untracked: serde_json::Error,
) -> PolicyErrors {
    let mut json = serde_json::Deserializer::from_str(text);
    let tracked = serde_path_to_error::deserialize::<_, PolicyDoc>(&mut json)
        .map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            PolicyErrors(vec![origins.error(&path, e.inner().to_string())])
        })
        .and_then(|_| {
            json.end()
                .map_err(|e| PolicyErrors(vec![origins.error("", e.to_string())]))
        });
    // Both parsers read the same grammar; should the tracked one accept, the plain error stands.
    tracked
        .err()
        .unwrap_or_else(|| PolicyErrors(vec![origins.error("", untracked.to_string())]))
}

/// Checks and compiles `doc`. `origins` locates errors in the files they came from.
pub fn compile(
    doc: PolicyDoc,
    origins: Origins,
    env: &Environment<'_>,
) -> Result<Policy, PolicyErrors> {
    compile_with_facts(doc, origins, env, &FactsById::new())
}

/// [`compile`], taking each regex's syntax facts from `carried` where they match (see
/// [`regex_facts`]) instead of parsing it, when `env` defers regexes (as the filter does).
pub fn compile_with_facts(
    doc: PolicyDoc,
    origins: Origins,
    env: &Environment<'_>,
    carried: &FactsById,
) -> Result<Policy, PolicyErrors> {
    compile_with_digest(doc, origins, env, carried, None)
}

/// [`compile_with_facts`] for a document whose [`digest`] is already known (the embedded
/// default policy's, computed at build time): the policy then carries `known_digest`.
pub fn compile_with_digest(
    doc: PolicyDoc,
    origins: Origins,
    env: &Environment<'_>,
    carried: &FactsById,
    known_digest: Option<&str>,
) -> Result<Policy, PolicyErrors> {
    let mut c = Compiler {
        origins: &origins,
        errors: Vec::new(),
        defer_regexes: env.defer_regexes,
        carried,
        known_digest,
        index_identities: Vec::new(),
    };
    let policy = c.policy(doc, env);
    let errors = std::mem::take(&mut c.errors);
    match policy {
        Some(parts) if errors.is_empty() => Ok(Policy { origins, ..parts }),
        _ => Err(PolicyErrors(errors)),
    }
}

struct Compiler<'o> {
    origins: &'o Origins,
    errors: Vec<PolicyError>,
    defer_regexes: bool,
    /// Facts a built configuration carries, by detector id (used only with `defer_regexes`).
    carried: &'o FactsById,
    /// The document's digest when it is known without hashing it.
    known_digest: Option<&'o str>,
    /// (detector position, identity) of each index the protected detectors opened: what the
    /// digest covers of them (see [`super::digest::digest_with_indexes`]).
    index_identities: Vec<(usize, String)>,
}

impl Compiler<'_> {
    fn error(&mut self, path: impl fmt::Display, message: impl Into<String>) {
        self.errors
            .push(self.origins.error(&path.to_string(), message));
    }

    /// The compiled policy, owning the document (moved in, not copied: it is most of a
    /// policy's bytes); its digest is computed only once everything else compiled.
    fn policy(&mut self, owned: PolicyDoc, env: &Environment<'_>) -> Option<Policy> {
        let doc = &owned;
        if doc.schema != SCHEMA_VERSION {
            self.error(
                "schema",
                format!(
                    "schema {} is not supported; this Airlock reads schema {SCHEMA_VERSION}",
                    doc.schema
                ),
            );
            return None;
        }
        self.check_name(&"metadata.name", &doc.metadata.name);
        if doc.metadata.version.trim().is_empty() {
            self.error(
                "metadata.version",
                "must not be empty; use a version operators can recognise, e.g. 2026.11.1",
            );
        }
        let classes = self.classes(&doc.classes);
        let (tiers, default_tier) = self.tiers(doc, &classes);
        let detectors = self.detectors(&doc.detectors, &classes);
        let limits = self.limits(doc);
        if doc.hashing.key_env.trim().is_empty() {
            self.error(
                "hashing.key_env",
                "must name an environment variable, e.g. AIRLOCK_HASH_KEY",
            );
        }
        let ids: HashMap<&str, DetectorIndex> = detectors
            .iter()
            .enumerate()
            .filter_map(|(i, d)| Some((d.id.as_str(), DetectorIndex::try_from(i).ok()?)))
            .collect();
        let actions = self.actions(doc, &classes, &tiers, &detectors, &ids);
        let relay = self.relay(doc, &tiers, &detectors, &ids);
        self.tests(doc, &ids);
        let scanner = self.scanner(doc, &|_| true);
        // The joined-text scanners hold only the detectors that opt in; their errors were reported
        // above. A scope none opts in to has no scanner (an empty one would still build a keyword
        // table, of the cipher names).
        let errors_before = self.errors.len();
        let has = |scope| doc.detectors.iter().any(|d| d.join == Some(scope));
        let join_scanner = |c: &mut Self, scope| {
            has(scope).then(|| c.scanner(doc, &|d: &DetectorDoc| d.join == Some(scope)))
        };
        let (message_straddle, request_straddle) = (
            self.join_edges(doc, JoinDoc::Message),
            self.join_edges(doc, JoinDoc::Request),
        );
        let message_join = join_scanner(self, JoinDoc::Message);
        let request_join = join_scanner(self, JoinDoc::Request);
        self.errors.truncate(errors_before);
        let (key, key_scope) = self.key(doc, env, &actions);
        let protected = self.protected(doc);
        let default_tier = default_tier?;
        let mut scanner = scanner?;
        scanner.protected = protected;
        // A scope whose scanner failed fails the policy.
        let opted_in = |join: Option<Option<Scanner>>| match join {
            Some(None) => None,
            join => Some(join.flatten()),
        };
        let mut message_join = opted_in(message_join)?;
        let mut request_join = opted_in(request_join)?;
        // Protected detectors that opt in search the joined text too (their indexes shared).
        for (join, scope) in [
            (&mut message_join, JoinDoc::Message),
            (&mut request_join, JoinDoc::Request),
        ] {
            if let (Some(join), Some(protected)) = (join.as_mut(), scanner.protected.as_deref()) {
                join.protected = protected.only(&|i| {
                    doc.detectors
                        .get(i as usize)
                        .is_some_and(|d| d.join == Some(scope))
                });
            }
        }
        if !self.errors.is_empty() {
            return None;
        }
        crate::engine::scan::fuel_probe::tag("pol:digest");
        Some(Policy {
            info: PolicyInfo {
                name: doc.metadata.name.clone(),
                version: doc.metadata.version.clone(),
                digest: self.known_digest.map_or_else(
                    || digest_with_indexes(doc, &self.index_identities),
                    str::to_string,
                ),
            },
            mode: match doc.mode {
                ModeDoc::Enforce => Mode::Enforce,
                ModeDoc::Monitor => Mode::Monitor,
            },
            classes: doc.classes.clone(),
            tiers,
            default_tier,
            detectors,
            actions,
            limits,
            scanner,
            message_join,
            request_join,
            message_straddle,
            request_straddle,
            key,
            key_scope,
            relay,
            folder: crate::engine::layers::fold::Folder::new(),
            origins: Origins::default(),
            document: owned,
        })
    }

    /// Names used in stats: lowercase letters, digits and dashes.
    fn check_name(&mut self, path: &dyn fmt::Display, name: &str) -> bool {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if !ok {
            self.error(
                path,
                format!("{name:?} is not a valid name: use 1-64 lowercase letters, digits and dashes (it appears in stats names)"),
            );
        }
        ok
    }

    fn classes(&mut self, classes: &[String]) -> HashMap<String, ClassIndex> {
        let mut map = HashMap::new();
        if classes.is_empty() {
            self.error("classes", "list at least one class, lowest first, e.g. [public, internal, confidential, secret]");
        }
        if classes.len() > usize::from(ClassIndex::MAX) {
            self.error("classes", "too many classes");
        }
        for (i, class) in classes.iter().enumerate() {
            let path = Indexed("classes", i);
            if self.check_name(&path, class) {
                let index = ClassIndex::try_from(i).unwrap_or(ClassIndex::MAX);
                if map.insert(class.clone(), index).is_some() {
                    self.error(path, format!("class {class:?} is listed twice"));
                }
            }
        }
        map
    }

    fn class(
        &mut self,
        path: &dyn fmt::Display,
        name: &str,
        classes: &HashMap<String, ClassIndex>,
    ) -> Option<ClassIndex> {
        let found = classes.get(name).copied();
        if found.is_none() {
            let mut known: Vec<&str> = classes.keys().map(String::as_str).collect();
            known.sort_unstable();
            self.error(
                path,
                format!("unknown class {name:?}; the policy's classes are {known:?}"),
            );
        }
        found
    }

    fn tiers(
        &mut self,
        doc: &PolicyDoc,
        classes: &HashMap<String, ClassIndex>,
    ) -> (Vec<Tier>, Option<TierIndex>) {
        let mut tiers = Vec::new();
        let mut seen = HashMap::new();
        if doc.destinations.tiers.len() > usize::from(TierIndex::MAX) {
            self.error("destinations.tiers", "too many tiers");
        }
        for (i, tier) in doc.destinations.tiers.iter().enumerate() {
            let path = Indexed("destinations.tiers", i);
            self.check_name(&format_args!("{path}.name"), &tier.name);
            if seen.insert(tier.name.clone(), i).is_some() {
                self.error(
                    format_args!("{path}.name"),
                    format!("tier {:?} is defined twice", tier.name),
                );
            }
            let max_class = self
                .class(&format_args!("{path}.max_class"), &tier.max_class, classes)
                .unwrap_or(0);
            let hosts = tier
                .hosts
                .iter()
                .enumerate()
                .filter_map(|(j, h)| self.host_pattern(&format_args!("{path}.hosts[{j}]"), h))
                .collect();
            for (j, prefix) in tier.paths.iter().enumerate() {
                if !prefix.starts_with('/') {
                    self.error(
                        format_args!("{path}.paths[{j}]"),
                        format!("path prefix {prefix:?} must start with '/'"),
                    );
                }
            }
            let restore = tier
                .restore
                .iter()
                .enumerate()
                .filter_map(|(j, c)| self.class(&format_args!("{path}.restore[{j}]"), c, classes))
                .collect();
            tiers.push(Tier {
                name: tier.name.clone(),
                max_class,
                hosts,
                paths: tier.paths.clone(),
                restore,
                block_model_mismatch: tier.on_model_mismatch
                    == Some(crate::policy::schema::ModelMismatchDoc::Block),
                inspect_responses: tier.inspect_responses.map(|doc| match doc {
                    crate::policy::schema::InspectResponsesDoc::Monitor => Action::Monitor,
                    crate::policy::schema::InspectResponsesDoc::Mask => Action::Mask,
                }),
            });
        }
        let default = seen
            .get(&doc.destinations.default_tier)
            .and_then(|&i| TierIndex::try_from(i).ok());
        if default.is_none() {
            self.error(
                "destinations.default_tier",
                format!(
                    "{:?} is not one of the tiers defined under destinations.tiers",
                    doc.destinations.default_tier
                ),
            );
        }
        (tiers, default)
    }

    fn host_pattern(&mut self, path: &dyn fmt::Display, host: &str) -> Option<HostPattern> {
        parse_host_pattern(host)
            .map_err(|message| self.error(path, message))
            .ok()
    }

    /// The relay sections (`key_theft`, tiers' `fields`), their errors reported.
    fn relay(
        &mut self,
        doc: &PolicyDoc,
        tiers: &[Tier],
        detectors: &[Detector],
        ids: &HashMap<&str, DetectorIndex>,
    ) -> crate::engine::relay::Relay {
        let is_credential = |d: DetectorIndex| {
            detectors
                .get(usize::from(d))
                .is_some_and(|d| d.kind == Kind::Credential)
        };
        let (relay, errors) =
            super::relay::compile(doc, tiers, ids, &is_credential, &parse_host_pattern);
        for (path, message) in errors {
            self.error(&path, message);
        }
        relay
    }

    fn limits(&mut self, doc: &PolicyDoc) -> Limits {
        let max = doc.limits.max_body_bytes;
        if max == 0 || max > MAX_BODY_LIMIT {
            self.error(
                "limits.max_body_bytes",
                format!("{max} is out of range: use 1 to {MAX_BODY_LIMIT} bytes (and raise Envoy's buffer limits to match)"),
            );
        }
        Limits {
            max_body_bytes: usize::try_from(max.min(MAX_BODY_LIMIT)).unwrap_or(usize::MAX),
            on_uninspectable: match doc.limits.on_uninspectable {
                FailModeDoc::Block => FailMode::Block,
                FailModeDoc::Allow => FailMode::Allow,
            },
        }
    }

    fn detectors(
        &mut self,
        docs: &[DetectorDoc],
        classes: &HashMap<String, ClassIndex>,
    ) -> Vec<Detector> {
        if docs.len() > MAX_DETECTORS {
            self.error(
                "detectors",
                format!(
                    "{} detectors; at most {MAX_DETECTORS} are supported",
                    docs.len()
                ),
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut detectors = Vec::with_capacity(docs.len());
        for (i, d) in docs.iter().enumerate() {
            let path = Indexed("detectors", i);
            self.check_name(&format_args!("{path}.id"), &d.id);
            if let Some(first) = seen.insert(d.id.as_str(), i) {
                let first_at = self.origins.error(&format!("detectors[{first}]"), "");
                self.error(
                    format_args!("{path}.id"),
                    format!(
                        "duplicate detector id {:?} (first defined at {}: {})",
                        d.id, first_at.source, first_at.path
                    ),
                );
            }
            let class = self
                .class(&format_args!("{path}.class"), &d.class, classes)
                .unwrap_or(0);
            let kind = kind(d.kind);
            let mask = self.mask_template(&path, d, kind);
            let token_prefix = self.token_prefix(&path, d);
            detectors.push(Detector {
                id: d.id.clone(),
                class,
                kind,
                mask,
                fallback: d.fallback,
                token_prefix,
            });
        }
        detectors
    }

    fn token_prefix(&mut self, path: &dyn fmt::Display, d: &DetectorDoc) -> String {
        match &d.token {
            None => crate::response::token::default_prefix(&d.id),
            Some(token) => {
                if !crate::response::token::valid_prefix(&token.prefix) {
                    self.error(
                        format_args!("{path}.token.prefix"),
                        format!(
                            "token prefix {:?} must be a capital letter, then capitals, digits or '_', at most {} bytes",
                            token.prefix,
                            crate::response::token::MAX_PREFIX_LEN
                        ),
                    );
                }
                token.prefix.clone()
            }
        }
    }

    fn mask_template(&mut self, path: &dyn fmt::Display, d: &DetectorDoc, kind: Kind) -> String {
        let filled = match d.mask.as_deref() {
            // The default template, written directly: most detectors use it, and each replace
            // below copies the string (an id with a brace takes the general path).
            None if !d.id.contains('{') => format!("[REDACTED:{}]", d.id),
            template => template
                .unwrap_or("[REDACTED:{id}]")
                .replace("{id}", &d.id)
                .replace("{class}", &d.class)
                .replace("{kind}", kind.as_str()),
        };
        if filled.contains('{') || filled.contains('}') {
            self.error(
                format_args!("{path}.mask"),
                "unknown placeholder in the mask template; use only {id}, {class} and {kind}",
            );
        }
        if filled.len() > 256 {
            self.error(
                format_args!("{path}.mask"),
                "mask template longer than 256 bytes",
            );
        }
        filled
    }

    fn actions(
        &mut self,
        doc: &PolicyDoc,
        classes: &HashMap<String, ClassIndex>,
        tiers: &[Tier],
        detectors: &[Detector],
        ids: &HashMap<&str, DetectorIndex>,
    ) -> Vec<Action> {
        struct Rule {
            detector: Option<DetectorIndex>,
            class: Option<ClassIndex>,
            kind: Option<Kind>,
            tier: Option<TierIndex>,
            action: Action,
        }
        let tier_index: HashMap<&str, TierIndex> = tiers
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((t.name.as_str(), TierIndex::try_from(i).ok()?)))
            .collect();
        let mut rules = Vec::with_capacity(doc.rules.len());
        for (i, rule) in doc.rules.iter().enumerate() {
            let path = Indexed("rules", i);
            let detector = rule.detector.as_deref().map(|id| {
                let found = ids.get(id).copied();
                if found.is_none() {
                    self.error(
                        format_args!("{path}.detector"),
                        format!("no detector has id {id:?}"),
                    );
                }
                found
            });
            let class = rule
                .class
                .as_deref()
                .map(|c| self.class(&format_args!("{path}.class"), c, classes));
            let tier = rule.tier.as_deref().map(|t| {
                let found = tier_index.get(t).copied();
                if found.is_none() {
                    self.error(
                        format_args!("{path}.tier"),
                        format!("no tier is named {t:?}"),
                    );
                }
                found
            });
            // A selector that names something unknown has been reported; keep the rule unmatchable.
            if matches!(detector, Some(None))
                || matches!(class, Some(None))
                || matches!(tier, Some(None))
            {
                continue;
            }
            rules.push(Rule {
                detector: detector.flatten(),
                class: class.flatten(),
                kind: rule.kind.map(kind),
                tier: tier.flatten(),
                action: action(rule.action),
            });
        }
        let mut table = Vec::with_capacity(detectors.len() * tiers.len());
        for (d, (detector, doc_detector)) in detectors.iter().zip(&doc.detectors).enumerate() {
            let d = DetectorIndex::try_from(d).unwrap_or(DetectorIndex::MAX);
            for (t, tier) in tiers.iter().enumerate() {
                let t = TierIndex::try_from(t).unwrap_or(TierIndex::MAX);
                let from_rules = rules.iter().find(|r| {
                    r.detector.is_none_or(|x| x == d)
                        && r.class.is_none_or(|x| x == detector.class)
                        && r.kind.is_none_or(|x| x == detector.kind)
                        && r.tier.is_none_or(|x| x == t)
                });
                let fallback = if detector.class <= tier.max_class {
                    Action::Monitor
                } else {
                    Action::Block
                };
                let chosen = doc_detector
                    .action
                    .map(action)
                    .or(from_rules.map(|r| r.action))
                    .unwrap_or(fallback);
                table.push(chosen);
            }
        }
        table
    }

    fn tests(&mut self, doc: &PolicyDoc, ids: &HashMap<&str, DetectorIndex>) {
        for (i, test) in doc.tests.iter().enumerate() {
            let path = Indexed("tests", i);
            if test.name.trim().is_empty() {
                self.error(format_args!("{path}.name"), "give the test a name");
            }
            for (j, id) in test.expect.detectors.iter().flatten().enumerate() {
                if !ids.contains_key(id.as_str()) {
                    self.error(
                        format_args!("{path}.expect.detectors[{j}]"),
                        format!("no detector has id {id:?}"),
                    );
                }
            }
        }
    }

    fn key(
        &mut self,
        doc: &PolicyDoc,
        env: &Environment<'_>,
        actions: &[Action],
    ) -> (HmacKey, KeyScope) {
        let var = doc.hashing.key_env.as_str();
        match (env.var)(var) {
            Some(value) if value.len() >= MIN_KEY_BYTES => {
                (HmacKey::new(value.into_bytes()), KeyScope::Configured)
            }
            configured => {
                if configured.is_some() {
                    self.error(
                        "hashing.key_env",
                        format!("the key in ${var} is shorter than {MIN_KEY_BYTES} bytes; use a long random secret"),
                    );
                } else if actions.contains(&Action::Hash) {
                    self.error(
                        "hashing.key_env",
                        format!(
                            "the policy uses the hash action but ${var} is not set; set it to a random secret of at \
                             least {MIN_KEY_BYTES} bytes (hash fingerprints are never unkeyed)"
                        ),
                    );
                }
                (HmacKey::new(random_key()), KeyScope::Ephemeral)
            }
        }
    }

    /// Compiles the detectors `include` selects into one scanner (indices stay the policy's).
    fn scanner<'d>(
        &mut self,
        doc: &'d PolicyDoc,
        include: &dyn Fn(&DetectorDoc) -> bool,
    ) -> Option<Scanner> {
        let limits = RegexLimits::default();
        let mut builder = ScannerBuilder::new(limits);
        let mut ok = true;
        for (i, d) in doc.detectors.iter().enumerate().filter(|(_, d)| include(d)) {
            let path = Indexed("detectors", i);
            let Ok(detector) = DetectorIndex::try_from(i) else {
                ok = false;
                continue;
            };
            if super::protected::is_protected(d) {
                // Loaded by `attach_protected`, which reports their errors.
                continue;
            }
            let checks = self.checks(&path, d);
            match (&d.regex, &d.dictionary) {
                (Some(pattern), None) => {
                    let Some((regex, facts)) = self.regex(
                        &format_args!("{path}.regex"),
                        &d.id,
                        pattern,
                        limits,
                        &d.keywords,
                    ) else {
                        ok = false;
                        continue;
                    };
                    ok &= self.keywords_are_rare(&path, &d.keywords);
                    builder.add_regex(RegexParts {
                        detector,
                        pattern,
                        keywords: &d.keywords,
                        regex,
                        facts,
                        checks: checks.unwrap_or_else(no_checks),
                    });
                }
                (None, Some(dictionary)) => {
                    if !d.keywords.is_empty() {
                        self.error(
                            format_args!("{path}.keywords"),
                            "keywords only gate regexes; a dictionary's phrases are its keywords",
                        );
                    }
                    if dictionary.phrases.is_empty() {
                        self.error(
                            format_args!("{path}.dictionary.phrases"),
                            "list at least one phrase",
                        );
                    }
                    let mut phrases = Vec::with_capacity(dictionary.phrases.len());
                    for (p, phrase) in dictionary.phrases.iter().enumerate() {
                        if phrase.trim().is_empty() {
                            self.error(
                                format_args!("{path}.dictionary.phrases[{p}]"),
                                "empty phrase",
                            );
                            ok = false;
                        } else {
                            phrases.push(phrase.as_str());
                        }
                    }
                    let dictionary_detector = DictionaryDetector {
                        detector,
                        whole_word: dictionary.whole_word,
                        case_sensitive: dictionary.case_sensitive,
                        checks: checks.unwrap_or_else(no_checks),
                    };
                    builder.add_dictionary(dictionary_detector, &phrases);
                }
                _ => {
                    self.error(
                        path,
                        "set exactly one of `regex`, `dictionary`, `documents` or `records`",
                    );
                    ok = false;
                }
            }
        }
        match builder.build(&doc.allowlist) {
            Ok(scanner) => ok.then_some(scanner),
            Err(e) => {
                self.error("detectors", e.to_string());
                None
            }
        }
    }

    /// Whether every keyword of a regex detector is specific enough to gate it (an error for each
    /// one that is not).
    /// The `documents` and `records` detectors, their indexes loaded (for the main scanner).
    fn protected(&mut self, doc: &PolicyDoc) -> Option<Box<Protected>> {
        let compiled = super::protected::compile(&doc.detectors);
        for (path, message) in compiled.errors {
            self.error(&path, message);
        }
        self.index_identities = compiled.identities;
        let protected = compiled.protected;
        (!protected.is_empty()).then(|| Box::new(protected))
    }

    fn keywords_are_rare(&mut self, path: &dyn fmt::Display, keywords: &[String]) -> bool {
        let mut ok = true;
        for (k, keyword) in keywords.iter().enumerate() {
            if keyword.trim().is_empty() {
                self.error(
                    format_args!("{path}.keywords[{k}]"),
                    "empty keyword: it would match everywhere",
                );
                ok = false;
            } else if (keyword.len() == 1 && !RARE_BYTES.contains(keyword.as_str()))
                || (keyword.len() == 2 && keyword.bytes().any(|b| b.is_ascii_alphanumeric()))
            {
                self.error(
                    format_args!("{path}.keywords[{k}]"),
                    format!(
                        "keyword {keyword:?} occurs in almost every text, so the regex would run on everything; \
                         use a longer literal, or drop `keywords` to put the regex in the always-on set"
                    ),
                );
                ok = false;
            }
        }
        ok
    }

    /// The finding shapes of the regex detectors joining in `scope` (carried with their
    /// facts, else read from the pattern) with their keywords, or `None` (every edge scanned)
    /// if a protected or dictionary detector joins there, whose findings have no shape.
    fn join_edges(&self, doc: &PolicyDoc, scope: JoinDoc) -> Option<Straddle> {
        let joining = doc.detectors.iter().filter(|d| d.join == Some(scope));
        let shapes = joining.map(|d| {
            if super::protected::is_protected(d) || d.dictionary.is_some() {
                return None;
            }
            let pattern = d.regex.as_deref()?;
            let carried = self.carried.get(&d.id);
            let facts = carried.and_then(|c| c.facts_for(pattern, &d.keywords));
            let shape = match facts.and_then(|f| f.shape) {
                Some(shape) => shape,
                None => regex_facts::finding_shape(&regex_facts::parse(pattern).ok()?),
            };
            // Without keywords, the classes its findings start with.
            let gate = KeywordGate::of(&d.keywords).or_else(|| KeywordGate::starting(&shape.start));
            Some((shape, gate))
        });
        Some(Straddle::new(shapes.collect::<Option<Vec<_>>>()?))
    }

    fn regex(
        &mut self,
        path: &dyn fmt::Display,
        id: &str,
        pattern: &str,
        limits: RegexLimits,
        keywords: &[String],
    ) -> Option<(Option<regex_automata::meta::Regex>, RegexFacts)> {
        if let Some((at, ch)) = pattern.char_indices().find(|(_, c)| !c.is_ascii()) {
            self.error(
                path,
                format!(
                    "non-ASCII character {ch:?} at byte {at}: regexes are byte-oriented and ASCII-only; put \
                     non-ASCII phrases in a `dictionary` detector"
                ),
            );
            return None;
        }
        if self.defer_regexes {
            // Checked when the configuration was built; the regex compiles on first use.
            let carried = self.carried.get(id);
            if let Some(facts) = carried.and_then(|c| c.facts_for(pattern, keywords)) {
                return Some((None, facts));
            }
        }
        let hir = match regex_facts::parse(pattern) {
            Ok(hir) => hir,
            Err(e) => {
                self.error(path, format!("invalid regex:\n{e}"));
                return None;
            }
        };
        if let Some(reason) = regex_facts::unusable(&hir) {
            self.error(path, reason);
            return None;
        }
        let facts = RegexFacts::read(&hir, keywords);
        if self.defer_regexes {
            return Some((None, facts));
        }
        match scanner::compile_regex(pattern, limits) {
            Ok(regex) => Some((Some(regex), facts)),
            Err(e) => {
                let reason = match e.size_limit() {
                    Some(limit) => format!(
                        "the regex compiles to more than {limit} bytes of automaton; shorten bounded repeats like {{1,1000}} or split it"
                    ),
                    None => e.to_string(),
                };
                self.error(path, reason);
                None
            }
        }
    }

    fn checks(&mut self, path: &dyn fmt::Display, d: &DetectorDoc) -> Option<Checks> {
        let mut validators = Vec::with_capacity(d.validators.len());
        for (i, v) in d.validators.iter().enumerate() {
            validators.push(match v {
                ValidatorDoc::Luhn => Validator::Luhn,
                ValidatorDoc::PaymentCard => Validator::PaymentCard,
                ValidatorDoc::Iban => Validator::Iban,
                ValidatorDoc::CnResidentId => Validator::CnResidentId,
                ValidatorDoc::UsSsn => Validator::UsSsn,
                ValidatorDoc::NotTrivial => Validator::NotTrivial,
                ValidatorDoc::PaymentCardOther => Validator::PaymentCardOther,
                ValidatorDoc::Ipv4Public => Validator::Ipv4Public,
                ValidatorDoc::Ipv4Internal => Validator::Ipv4Internal,
                ValidatorDoc::NotDocumentationIp => Validator::NotDocumentationIp,
                ValidatorDoc::PhoneNumber => Validator::PhoneNumber,
                ValidatorDoc::Ipv6Address => Validator::Ipv6Address,
                ValidatorDoc::NotPlaceholder => Validator::NotPlaceholder,
                ValidatorDoc::NotCode => Validator::NotCode,
                ValidatorDoc::Jwt => Validator::Jwt,
                ValidatorDoc::Crc32Suffix => Validator::Crc32Suffix,
                ValidatorDoc::BasicAuth => Validator::BasicAuth,
                ValidatorDoc::Mixed => Validator::Mixed,
                ValidatorDoc::MinEntropy(bits) => {
                    if !(0.0..=8.0).contains(bits) {
                        self.error(
                            format_args!("{path}.validators[{i}]"),
                            format!("min_entropy {bits} is out of range: bits per byte are 0 to 8"),
                        );
                    }
                    Validator::MinEntropy(*bits)
                }
                ValidatorDoc::Length(len) => {
                    let min = len.min.unwrap_or(0);
                    let max = len.max.unwrap_or(usize::MAX);
                    if min > max {
                        self.error(
                            format_args!("{path}.validators[{i}]"),
                            format!("length min {min} is greater than max {max}"),
                        );
                    }
                    Validator::Length { min, max }
                }
            });
        }
        let context = match &d.context {
            None => None,
            Some(ctx) => {
                if (ctx.hotwords.is_empty() && ctx.not_after.is_empty())
                    || ctx.hotwords.iter().any(|w| w.trim().is_empty())
                {
                    self.error(
                        format_args!("{path}.context.hotwords"),
                        "list at least one non-empty hotword (or not_after word)",
                    );
                    return None;
                }
                if ctx.window == 0 || ctx.window > MAX_CONTEXT_WINDOW {
                    self.error(
                        format_args!("{path}.context.window"),
                        format!(
                            "window {} is out of range: use 1 to {MAX_CONTEXT_WINDOW} bytes",
                            ctx.window
                        ),
                    );
                }
                if ctx.hotwords.is_empty() {
                    None
                } else {
                    match Keywords::new(&ctx.hotwords) {
                        Ok(words) => Some(ContextWords {
                            words,
                            window: ctx.window,
                        }),
                        Err(e) => {
                            self.error(format_args!("{path}.context.hotwords"), e.to_string());
                            return None;
                        }
                    }
                }
            }
        };
        let not_after = self.not_after_words(path, d)?;
        let mut allow: Vec<Box<[u8]>> = d.allow.iter().map(|v| v.as_bytes().into()).collect();
        allow.sort();
        Some(Checks {
            validators,
            context,
            not_after,
            allow,
        })
    }

    /// `context.not_after`: words that rule a match out when they occur just before it.
    /// `None` inside: the detector has none; `None`: an error was recorded.
    fn not_after_words(
        &mut self,
        path: &dyn fmt::Display,
        d: &DetectorDoc,
    ) -> Option<Option<ContextWords>> {
        let Some(ctx) = d.context.as_ref().filter(|c| !c.not_after.is_empty()) else {
            return Some(None);
        };
        let field = format_args!("{path}.context.not_after");
        if ctx.not_after.iter().any(|w| w.trim().is_empty()) {
            self.error(field, "list non-empty words");
            return None;
        }
        let window = ctx.not_after_window.unwrap_or(ctx.window);
        if window == 0 || window > MAX_CONTEXT_WINDOW {
            self.error(
                format_args!("{path}.context.not_after_window"),
                format!("window {window} is out of range: use 1 to {MAX_CONTEXT_WINDOW} bytes"),
            );
        }
        match Keywords::new(&ctx.not_after) {
            Ok(words) => Some(Some(ContextWords { words, window })),
            Err(e) => {
                self.error(field, e.to_string());
                None
            }
        }
    }
}

/// Where an item of a list is in the document, e.g. `detectors[3]`: formatted only when an error
/// names it, since a valid policy (every VM loads one) has no errors.
#[derive(Clone, Copy)]
struct Indexed(&'static str, usize);

impl fmt::Display for Indexed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// `api.example.com` or `*.example.com`, or what to write instead.
fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    let (suffix, name) = match host.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, host),
    };
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b':')
        })
        && !name.starts_with('.')
        && !name.ends_with('.');
    if !valid {
        return Err(format!(
            "{host:?} is not a host pattern: write a lowercase host name (api.example.com) or a wildcard \
             suffix (*.example.com), without scheme, port or path"
        ));
    }
    Ok(if suffix {
        HostPattern::Suffix(format!(".{name}"))
    } else {
        HostPattern::Exact(name.to_string())
    })
}

fn no_checks() -> Checks {
    Checks {
        validators: Vec::new(),
        context: None,
        not_after: None,
        allow: Vec::new(),
    }
}

fn kind(k: KindDoc) -> Kind {
    match k {
        KindDoc::Credential => Kind::Credential,
        KindDoc::Pii => Kind::Pii,
        KindDoc::TradeSecret => Kind::TradeSecret,
        KindDoc::Custom => Kind::Custom,
    }
}

fn action(a: ActionDoc) -> Action {
    match a {
        ActionDoc::Allow => Action::Allow,
        ActionDoc::Monitor => Action::Monitor,
        ActionDoc::Tokenize => Action::Tokenize,
        ActionDoc::Hash => Action::Hash,
        ActionDoc::Mask => Action::Mask,
        ActionDoc::Block => Action::Block,
    }
}

/// 32 random bytes from the standard library's seeded hasher (wasi `random_get` in the filter).
fn random_key() -> Vec<u8> {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    (0..4u8)
        .flat_map(|i| {
            let mut h = RandomState::new().build_hasher();
            h.write_u8(i);
            h.finish().to_le_bytes()
        })
        .collect()
}
