//! A policy's test cases as requests with expectations.
//!
//! Two sources: the policy's `tests` (whole requests with an expected
//! decision), and each detector's `examples` (texts it must and must not
//! find, sent as a user message of an OpenAI chat request). Who runs a case
//! (the native engine, or the compiled `.wasm` in a host harness) is the
//! caller's business; this module builds the cases and judges what came back.
//! Judgements never quote the request body: it holds test secrets.

use super::schema::{DecisionDoc, PolicyDoc};
use super::Action;

/// One request to run and what must come of it.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub host: String,
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub expect: Expectation,
}

#[derive(Debug, Clone)]
pub enum Expectation {
    /// A whole-request test from the policy's `tests`.
    Request {
        decision: Action,
        detectors: Option<Vec<String>>,
        body_contains: Vec<String>,
        body_excludes: Vec<String>,
    },
    /// The detector must find something.
    Finds(String),
    /// The detector must find nothing.
    Ignores(String),
}

/// What running a case produced.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub decision: Option<Action>,
    /// Ids of detectors with findings.
    pub detectors: Vec<String>,
    /// The body that left (rewritten or original); `None` when blocked.
    pub egress_body: Option<Vec<u8>>,
}

/// Host, path and shape used for detector examples.
pub const EXAMPLE_HOST: &str = "api.openai.com";
pub const EXAMPLE_PATH: &str = "/v1/chat/completions";

/// The chat request an example text is sent in.
pub fn example_body(text: &str) -> Vec<u8> {
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": text}]
    })
    .to_string()
    .into_bytes()
}

/// Every case of `doc`: its tests first, then each detector's examples.
pub fn cases(doc: &PolicyDoc) -> Vec<Case> {
    let mut out = Vec::new();
    for test in &doc.tests {
        let (body, default_type) = match &test.body {
            serde_json::Value::String(s) => (s.clone().into_bytes(), None),
            other => (
                other.to_string().into_bytes(),
                Some("application/json".to_string()),
            ),
        };
        out.push(Case {
            name: format!("test {:?}", test.name),
            host: test.host.clone(),
            path: test.path.clone(),
            content_type: test.content_type.clone().or(default_type),
            body,
            expect: Expectation::Request {
                decision: decision(test.expect.decision),
                detectors: test.expect.detectors.clone(),
                body_contains: test.expect.body_contains.clone(),
                body_excludes: test.expect.body_excludes.clone(),
            },
        });
    }
    for detector in &doc.detectors {
        let Some(examples) = &detector.examples else {
            continue;
        };
        let groups = [
            (&examples.matches, "match", true),
            (&examples.ignore, "ignore", false),
        ];
        for (texts, label, finds) in groups {
            for (i, text) in texts.iter().enumerate() {
                out.push(Case {
                    name: format!("detector {} {label} example {}", detector.id, i + 1),
                    host: EXAMPLE_HOST.to_string(),
                    path: EXAMPLE_PATH.to_string(),
                    content_type: Some("application/json".to_string()),
                    body: example_body(text),
                    expect: if finds {
                        Expectation::Finds(detector.id.clone())
                    } else {
                        Expectation::Ignores(detector.id.clone())
                    },
                });
            }
        }
    }
    out
}

fn decision(d: DecisionDoc) -> Action {
    match d {
        DecisionDoc::Allow => Action::Allow,
        DecisionDoc::Monitor => Action::Monitor,
        DecisionDoc::Tokenize => Action::Tokenize,
        DecisionDoc::Hash => Action::Hash,
        DecisionDoc::Mask => Action::Mask,
        DecisionDoc::Block => Action::Block,
    }
}

impl Case {
    /// `Ok` if `observed` meets the expectation, else a reason that quotes no body content.
    pub fn judge(&self, observed: &Observed) -> Result<(), String> {
        let found = |id: &str| observed.detectors.iter().any(|d| d == id);
        match &self.expect {
            Expectation::Finds(id) if !found(id) => Err(format!(
                "detector {id} found nothing; found: {}",
                list(&observed.detectors)
            )),
            Expectation::Ignores(id) if found(id) => {
                Err(format!("detector {id} found something it must ignore"))
            }
            Expectation::Finds(_) | Expectation::Ignores(_) => Ok(()),
            Expectation::Request {
                decision,
                detectors,
                body_contains,
                body_excludes,
            } => {
                let mut problems = Vec::new();
                if observed.decision != Some(*decision) {
                    problems.push(format!(
                        "decision {} (expected {})",
                        observed.decision.map_or("none", Action::as_str),
                        decision.as_str()
                    ));
                }
                if let Some(expected) = detectors {
                    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
                    let mut got: Vec<&str> =
                        observed.detectors.iter().map(String::as_str).collect();
                    want.sort_unstable();
                    want.dedup();
                    got.sort_unstable();
                    got.dedup();
                    if want != got {
                        problems.push(format!("detectors {got:?} (expected {want:?})"));
                    }
                }
                let body = observed.egress_body.as_deref().unwrap_or_default();
                for (i, needle) in body_contains.iter().enumerate() {
                    if !contains(body, needle.as_bytes()) {
                        problems.push(format!("egress body lacks body_contains[{i}]"));
                    }
                }
                for (i, needle) in body_excludes.iter().enumerate() {
                    if contains(body, needle.as_bytes()) {
                        problems.push(format!("egress body still has body_excludes[{i}]"));
                    }
                }
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("; "))
                }
            }
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_string()
    } else {
        items.join(", ")
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

impl Case {
    /// Runs the case through the native engine.
    pub fn run_native(
        &self,
        policy: &super::Policy,
        scratch: &mut crate::engine::Scratch,
    ) -> Observed {
        let request = crate::engine::Request {
            host: &self.host,
            path: &self.path,
            content_type: self.content_type.as_deref(),
            content_encoding: None,
            body: &self.body,
            caller: None,
        };
        let verdict = policy.inspect(&request, scratch);
        let egress_body = match verdict.decision {
            Action::Block => None,
            _ => Some(verdict.body.clone().unwrap_or_else(|| self.body.clone())),
        };
        Observed {
            decision: Some(verdict.decision),
            detectors: verdict
                .detector_ids(policy)
                .into_iter()
                .map(str::to_string)
                .collect(),
            egress_body,
        }
    }
}
