//! Data-handling fields, enforced per tier: JSON members set or removed by path.
//!
//! A tier's `fields` rules say what a destination is told or not told: `store: false` for the
//! approved vendor, no `metadata` or `user` identifiers for an unknown relay. Rules apply to
//! JSON bodies whose root is an object, on the body as it leaves (after masking and hashing),
//! by splicing bytes: every other byte of the body, masks included, stays as it was.
//!
//! - `set` replaces the value of every member with that name (duplicates included: parsers
//!   disagree on which one wins) and, unless `only_if_present`, adds the member when absent.
//!   Its parent object must exist; a missing parent is left alone (nothing to inform).
//! - `remove` removes every member with that name.
//! - Names are compared after unescaping, so `"st\u006fre"` is `store`.
//! - A body that looks like JSON but is not valid JSON has no member a destination reads, so
//!   `set` rules skip it; if a member a `remove` rule names may be in its bytes, or a rule's
//!   path is ambiguous (a parent object's name appears twice), the rules cannot be enforced and
//!   the caller applies the policy's fail mode. Bodies that are not JSON (multipart, text) are
//!   left alone.
//!
//! Cost: nothing for a tier without rules; otherwise one validating pass over the body per
//! applicable rule plus one per edit, and allocation only when a member is edited.

use super::json_members::{object_at, root_object, Member, NotJson, Object};
use crate::engine::body::json::{escape_into, looks_like_json, unescape};

/// What a rule does to its member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldOp {
    /// Set the member to this JSON value (compact JSON text).
    Set(Box<[u8]>),
    Remove,
}

/// One compiled field rule of a tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    pub op: FieldOp,
    /// Member names from the root, unescaped (`["metadata", "user_id"]`).
    pub path: Vec<String>,
    /// The path as the policy wrote it, for audit lines.
    pub shown: String,
    /// Request path prefixes the rule is limited to (empty: every request of the tier).
    pub when_path: Vec<String>,
    /// For `set`: only replace a member that is there, never add one.
    pub only_if_present: bool,
}

impl FieldRule {
    pub(super) fn applies_to(&self, request_path: &str) -> bool {
        self.when_path.is_empty()
            || self
                .when_path
                .iter()
                .any(|prefix| request_path.starts_with(prefix.as_str()))
    }

    /// `set` or `remove`, for audit lines.
    pub fn verb(&self) -> &'static str {
        match self.op {
            FieldOp::Set(_) => "set",
            FieldOp::Remove => "remove",
        }
    }
}

/// The most rules one tier may have (the set of rules that changed a body is a bitmask).
pub const MAX_FIELD_RULES: usize = 32;

/// Which of a tier's rules changed the body: bit `i` is rule `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldsApplied(u32);

impl FieldsApplied {
    pub fn any(self) -> bool {
        self.0 != 0
    }

    fn insert(&mut self, rule: usize) {
        if let Some(bit) = u32::try_from(rule).ok().and_then(|r| 1u32.checked_shl(r)) {
            self.0 |= bit;
        }
    }

    /// The indices of the rules that applied, in order.
    pub fn rules(self) -> impl Iterator<Item = usize> {
        (0..MAX_FIELD_RULES).filter(move |i| self.0 & (1u32 << i) != 0)
    }
}

/// Why a tier's field rules could not be enforced on a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldsError {
    /// The body looks like JSON but does not parse.
    NotJson,
    /// A parent object on a rule's path appears twice, so which one a vendor reads is unknown.
    AmbiguousParent(String),
}

impl FieldsError {
    /// A sentence for replies and logs (names only).
    pub fn message(&self) -> String {
        match self {
            FieldsError::NotJson => {
                "the request body looks like JSON but is not valid JSON, so the destination's field rules cannot be enforced".to_string()
            }
            FieldsError::AmbiguousParent(path) => format!(
                "the request body holds the object on the path of field rule {path:?} more than once, so the rule cannot be enforced"
            ),
        }
    }
}

impl From<NotJson> for FieldsError {
    fn from(_: NotJson) -> Self {
        FieldsError::NotJson
    }
}

/// Applies the rules that match `request_path` to `body`. `Ok(None)`: nothing changed.
pub fn apply(
    rules: &[FieldRule],
    request_path: &str,
    body: &[u8],
) -> Result<Option<(Vec<u8>, FieldsApplied)>, FieldsError> {
    if !rules.iter().any(|r| r.applies_to(request_path)) || !looks_like_json(body) {
        return Ok(None);
    }
    let mut root = match root_object(body) {
        Ok(Some(root)) => root,
        Ok(None) => return Ok(None),
        Err(NotJson) => return unreadable(rules, request_path, body),
    };
    let mut edited: Option<Vec<u8>> = None;
    let mut applied = FieldsApplied::default();
    let mut names = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        if !rule.applies_to(request_path) {
            continue;
        }
        // Each edit changes offsets: find the member again in the new text.
        loop {
            let doc = edited.as_deref().unwrap_or(body);
            let Some(splice) = next_edit(rule, doc, &root, &mut names)? else {
                break;
            };
            let changed = splice.apply(doc);
            root = root_object(&changed)?.ok_or(FieldsError::NotJson)?;
            edited = Some(changed);
            applied.insert(i);
            if matches!(rule.op, FieldOp::Set(_)) {
                // A set edits every duplicate in one splice; a remove takes one member per round.
                break;
            }
        }
    }
    Ok(edited.map(|body| (body, applied)))
}

/// A body that looks like JSON but does not parse. No parser reads a `store` out of it (the
/// destination rejects it), so `set` rules have nothing to do; but a member a `remove` rule
/// names may be there as bytes a lenient reader sees. Then, or when an escape could spell the
/// name, the rules cannot be enforced.
fn unreadable(
    rules: &[FieldRule],
    request_path: &str,
    body: &[u8],
) -> Result<Option<(Vec<u8>, FieldsApplied)>, FieldsError> {
    let escapes = memchr::memmem::find(body, b"\\u").is_some();
    // The name in a key's place: quoted, then a colon.
    let named = |name: &String| {
        let quoted = [b"\"", name.as_bytes(), b"\""].concat();
        memchr::memmem::find_iter(body, &quoted).any(|at| {
            body.get(at + quoted.len()..)
                .and_then(|rest| rest.iter().find(|b| !b.is_ascii_whitespace()))
                == Some(&b':')
        })
    };
    let at_risk = rules.iter().any(|r| {
        r.op == FieldOp::Remove
            && r.applies_to(request_path)
            && r.path.last().is_some_and(|name| escapes || named(name))
    });
    if at_risk {
        Err(FieldsError::NotJson)
    } else {
        Ok(None)
    }
}

/// Byte ranges to replace, in ascending order, and what goes there.
struct Splice {
    edits: Vec<(usize, usize, Vec<u8>)>,
}

impl Splice {
    fn apply(&self, doc: &[u8]) -> Vec<u8> {
        let added: usize = self.edits.iter().map(|(_, _, b)| b.len()).sum();
        let mut out = Vec::with_capacity(doc.len() + added);
        let mut at = 0;
        for (start, end, bytes) in &self.edits {
            out.extend_from_slice(doc.get(at..*start).unwrap_or_default());
            out.extend_from_slice(bytes);
            at = *end;
        }
        out.extend_from_slice(doc.get(at..).unwrap_or_default());
        out
    }
}

/// The next change `rule` makes to `doc`, if any.
fn next_edit(
    rule: &FieldRule,
    doc: &[u8],
    root: &Object,
    scratch: &mut Vec<u8>,
) -> Result<Option<Splice>, FieldsError> {
    let Some((last, parents)) = rule.path.split_last() else {
        return Ok(None);
    };
    let mut inner: Option<Object> = None;
    for name in parents {
        let object = inner.as_ref().unwrap_or(root);
        let (member, twice) = {
            let mut found = named(object, doc, name, scratch);
            (found.next(), found.next().is_some())
        };
        let Some(member) = member else {
            return Ok(None);
        };
        if twice {
            return Err(FieldsError::AmbiguousParent(rule.shown.clone()));
        }
        let Some(next) = object_at(doc, member.value)? else {
            return Ok(None);
        };
        inner = Some(next);
    }
    let object = inner.as_ref().unwrap_or(root);
    let targets: Vec<Member> = named(object, doc, last, scratch).collect();
    Ok(match &rule.op {
        FieldOp::Remove => targets
            .first()
            .and_then(|m| removal(object, m))
            .map(|(start, end)| Splice {
                edits: vec![(start, end, Vec::new())],
            }),
        FieldOp::Set(value) if targets.is_empty() => {
            (!rule.only_if_present).then(|| insertion(object, doc, last, value))
        }
        FieldOp::Set(value) => {
            let edits: Vec<_> = targets
                .iter()
                .filter(|m| doc.get(m.value.start..m.value.end) != Some(&value[..]))
                .map(|m| (m.value.start, m.value.end, value.to_vec()))
                .collect();
            (!edits.is_empty()).then_some(Splice { edits })
        }
    })
}

/// The members of `object` whose unescaped name is `name`.
fn named<'o>(
    object: &'o Object,
    doc: &'o [u8],
    name: &'o str,
    scratch: &'o mut Vec<u8>,
) -> impl Iterator<Item = Member> + 'o {
    object.members.iter().copied().filter(move |m| {
        let raw = doc.get(m.key.start..m.key.end).unwrap_or_default();
        if raw.contains(&b'\\') {
            unescape(raw, scratch);
            scratch.as_slice() == name.as_bytes()
        } else {
            raw == name.as_bytes()
        }
    })
}

/// The bytes to cut to remove `member` and one separator next to it.
fn removal(object: &Object, member: &Member) -> Option<(usize, usize)> {
    let i = object
        .members
        .iter()
        .position(|m| m.key_start == member.key_start)?;
    Some(match (object.members.get(i + 1), i.checked_sub(1)) {
        // Up to the next member: its comma goes with it.
        (Some(next), _) => (member.key_start, next.key_start),
        // The last of several: take the comma before it.
        (None, Some(before)) => (object.members.get(before)?.value.end, member.value.end),
        (None, None) => (member.key_start, member.value.end),
    })
}

/// `"name":value` added after the object's last member (or just inside its brace).
fn insertion(object: &Object, doc: &[u8], name: &str, value: &[u8]) -> Splice {
    let mut bytes = Vec::with_capacity(name.len() + value.len() + 4);
    let at = match object.members.last() {
        Some(last) => {
            bytes.push(b',');
            last.value.end
        }
        None => object.open + 1,
    };
    bytes.push(b'"');
    escape_into(name.as_bytes(), &mut bytes);
    bytes.extend_from_slice(b"\":");
    bytes.extend_from_slice(value);
    debug_assert!(at <= doc.len());
    Splice {
        edits: vec![(at, at, bytes)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn set(path: &[&str], value: Value) -> FieldRule {
        FieldRule {
            op: FieldOp::Set(value.to_string().into_bytes().into()),
            path: path.iter().map(|s| s.to_string()).collect(),
            shown: path.join("/"),
            when_path: Vec::new(),
            only_if_present: false,
        }
    }

    fn remove(path: &[&str]) -> FieldRule {
        FieldRule {
            op: FieldOp::Remove,
            ..set(path, Value::Null)
        }
    }

    fn run(rules: &[FieldRule], body: &str) -> Option<(String, Vec<usize>)> {
        apply(rules, "/v1/chat/completions", body.as_bytes())
            .unwrap()
            .map(|(b, applied)| {
                let text = String::from_utf8(b).unwrap();
                serde_json::from_str::<Value>(&text).expect("the edited body is valid JSON");
                (text, applied.rules().collect())
            })
    }

    #[test]
    fn set_replaces_adds_and_leaves_the_rest_byte_identical() {
        let rules = [set(&["store"], json!(false))];
        assert_eq!(
            run(&rules, r#"{"model":"m", "store" : true ,"n":1}"#),
            Some((r#"{"model":"m", "store" : false ,"n":1}"#.into(), vec![0]))
        );
        assert_eq!(
            run(&rules, r#"{"model":"m","messages":[]}"#),
            Some((
                r#"{"model":"m","messages":[],"store":false}"#.into(),
                vec![0]
            ))
        );
        assert_eq!(
            run(&rules, "{ }"),
            Some((r#"{"store":false }"#.into(), vec![0]))
        );
        assert_eq!(
            run(&rules, r#"{"store":false}"#),
            None,
            "already so: untouched"
        );
    }

    #[test]
    fn only_if_present_never_adds() {
        let mut rule = set(&["store"], json!(false));
        rule.only_if_present = true;
        assert_eq!(run(&[rule.clone()], r#"{"model":"m"}"#), None);
        assert_eq!(
            run(&[rule], r#"{"store":true}"#).map(|r| r.0),
            Some(r#"{"store":false}"#.into())
        );
    }

    #[test]
    fn duplicates_and_escaped_names_are_all_caught() {
        let rules = [set(&["store"], json!(false))];
        assert_eq!(
            run(&rules, r#"{"store":true,"st\u006fre":1,"x":0}"#).map(|r| r.0),
            Some(r#"{"store":false,"st\u006fre":false,"x":0}"#.into())
        );
        let rules = [remove(&["user"])];
        for (body, want) in [
            (r#"{"user":"u1","a":1,"user":"u2"}"#, r#"{"a":1}"#),
            (r#"{"a":1,"user":"u1","b":2}"#, r#"{"a":1,"b":2}"#),
            (r#"{"a":1,"user":"u1"}"#, r#"{"a":1}"#),
            (
                r#"{"a":1, "user" : "u1" , "\u0075ser":{"x":[1]}}"#,
                r#"{"a":1}"#,
            ),
            (r#"{"user":"u1"}"#, r#"{}"#),
        ] {
            assert_eq!(
                run(&rules, body).map(|r| r.0).as_deref(),
                Some(want),
                "{body}"
            );
        }
    }

    #[test]
    fn nested_paths_need_their_parent_once() {
        let rules = [remove(&["metadata", "user_id"])];
        assert_eq!(
            run(&rules, r#"{"metadata":{"user_id":"u","k":1}}"#).map(|r| r.0),
            Some(r#"{"metadata":{"k":1}}"#.into())
        );
        assert_eq!(run(&rules, r#"{"metadata":"flat"}"#), None);
        assert_eq!(run(&rules, r#"{"other":{"user_id":"u"}}"#), None);
        assert_eq!(
            apply(
                &rules,
                "/",
                br#"{"metadata":{},"metadata":{"user_id":"u"}}"#
            ),
            Err(FieldsError::AmbiguousParent("metadata/user_id".into()))
        );
        let set_nested = [set(&["metadata", "tier"], json!("x"))];
        assert_eq!(
            run(&set_nested, r#"{"a":1}"#),
            None,
            "no parent: nothing added"
        );
    }

    #[test]
    fn several_rules_compose_and_report_which_applied() {
        let rules = [
            remove(&["metadata"]),
            remove(&["user"]),
            set(&["store"], json!(false)),
            remove(&["absent"]),
        ];
        assert_eq!(
            run(
                &rules,
                r#"{"user":"u","metadata":{"a":[1,2]},"m":"[REDACTED:email]"}"#
            ),
            Some((
                r#"{"m":"[REDACTED:email]","store":false}"#.into(),
                vec![0, 1, 2]
            ))
        );
    }

    #[test]
    fn when_path_limits_a_rule_and_other_bodies_are_left_alone() {
        let mut rule = set(&["store"], json!(false));
        rule.when_path = vec!["/v1/responses".into()];
        assert_eq!(
            apply(&[rule.clone()], "/v1/chat/completions", b"{}"),
            Ok(None)
        );
        assert!(apply(&[rule.clone()], "/v1/responses", b"{}")
            .unwrap()
            .is_some());
        let rules = [set(&["store"], json!(false))];
        for body in [&b""[..], b"--boundary\r\n", b"plain text", b"[1,2]"] {
            assert_eq!(apply(&rules, "/v1/x", body), Ok(None));
        }
        assert_eq!(
            apply(&rules, "/v1/x", br#"{"a":1,}"#),
            Ok(None),
            "no store to set"
        );
    }

    #[test]
    fn an_unreadable_body_fails_only_when_a_removed_member_may_be_in_it() {
        let rules = [remove(&["user"]), set(&["store"], json!(false))];
        let truncated = br#"{"model":"m","messages":[{"role":"user","content":"hi"#;
        assert_eq!(
            apply(&rules, "/", truncated),
            Ok(None),
            "\"user\" as a value is no member"
        );
        let with_user = br#"{"model":"m","user":"u-1","messages":["#;
        assert_eq!(apply(&rules, "/", with_user), Err(FieldsError::NotJson));
        let escaped = br#"{"model":"m","\u0075ser":"u-1","#;
        assert_eq!(apply(&rules, "/", escaped), Err(FieldsError::NotJson));
        let set_only = [set(&["store"], json!(false))];
        assert_eq!(apply(&set_only, "/", with_user), Ok(None));
    }
}
