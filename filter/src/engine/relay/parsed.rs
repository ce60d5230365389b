//! Field rules against a body the walk has already parsed: most requests name none of the
//! members a tier's rules edit, and that is read from the walk's outline instead of a second
//! validating parse of the whole body (issue 16, fourteenth round: ~17 wasm instructions per
//! byte, 0.89 M of a 49 KiB short-message request).
//!
//! Exact by construction: [`leaves_alone`] answers only when [`super::fields::apply`] would
//! return `Ok(None)` on the same bytes, and says "ask `apply`" otherwise. The walk's strict
//! grammar accepts only documents `apply`'s parser accepts (the same RFC 8259 grammar, plus a
//! nesting bound and no raw control bytes in strings), so `apply` sees a valid document there,
//! and every rule ends at its first name when the root object has no member of that name:
//! a `remove` finds nothing to remove, a nested path misses its parent, and a `set` adds a
//! member only when it is `set` on the root without `only_if_present`, which is left to `apply`.
//!
//! A body the walk rewrote (masks) is other bytes, but its replacements lie inside strings
//! (escaped, so the document stays valid; a masked number becomes a string): when none
//! touches a root member's name ([`root_names_kept`]), the rewritten body's root object has
//! the same member names, and the body's outline answers for it too (json 64 KiB: 0.72 M
//! instructions of a second parse).

use super::fields::{FieldOp, FieldRule};
use crate::engine::body::json::{unescape, Outline, PathStep};
use crate::engine::span::Span;

/// Whether `apply(rules, request_path, doc)` leaves `doc` as it is, read from `outline`, the
/// walk's strict parse of exactly `doc`. `false`: not known here (ask `apply`).
pub fn leaves_alone(
    rules: &[FieldRule],
    request_path: &str,
    doc: &[u8],
    outline: &Outline,
) -> bool {
    // A root that is not an object has no member to edit (`apply`: `Ok(None)`).
    if doc.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return true;
    }
    let mut scratch = Vec::new();
    rules
        .iter()
        .filter(|rule| rule.applies_to(request_path))
        .all(|rule| match rule.path.split_first() {
            None => true,
            Some((first, rest)) => {
                let adds = matches!(rule.op, FieldOp::Set(_)) && !rule.only_if_present;
                !(adds && rest.is_empty() || root_has(outline, doc, first, &mut scratch))
            }
        })
}

/// Whether none of `replaced` (spans of the document `outline` was parsed from) touches the
/// name of one of its root members, so that the document with them replaced names the same
/// root members. A span that only meets a name's edge counts as touching it.
pub fn root_names_kept(outline: &Outline, replaced: impl Iterator<Item = Span>) -> bool {
    let names: Vec<Span> = (outline.nodes.iter())
        .filter_map(|node| match node.step {
            PathStep::Key(raw) if node.parent == 0 => Some(raw),
            _ => None,
        })
        .collect();
    replaced
        .into_iter()
        .all(|span| (names.iter()).all(|name| span.end < name.start || name.end < span.start))
}

/// Whether the root object of `doc` has a member whose unescaped name is `name`: the outline's
/// member nodes whose parent is the root (node 0).
fn root_has(outline: &Outline, doc: &[u8], name: &str, scratch: &mut Vec<u8>) -> bool {
    outline.nodes.iter().any(|node| match node.step {
        PathStep::Key(raw) if node.parent == 0 => {
            let raw = doc.get(raw.range()).unwrap_or_default();
            if raw.contains(&b'\\') {
                unescape(raw, scratch);
                scratch.as_slice() == name.as_bytes()
            } else {
                raw == name.as_bytes()
            }
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fields::apply;
    use super::*;
    use crate::engine::test_rng::TestRng;
    use crate::engine::verdict::rewrite::Splices;

    const NAMES: [&str; 8] = [
        "store",
        "user",
        "metadata",
        "model",
        "st\\u006fre",
        "\\u0075ser",
        "user_id",
        "messages",
    ];

    /// A random JSON value; objects take their names from [`NAMES`].
    fn value(rng: &mut TestRng, depth: usize, out: &mut String) {
        match rng.below(if depth > 2 { 4 } else { 7 }) {
            0 => out.push_str("true"),
            1 => out.push_str("-12.5e3"),
            2 => out.push_str("\"user\""),
            3 => out.push_str("null"),
            4 => {
                out.push('[');
                for i in 0..rng.below(3) {
                    if i > 0 {
                        out.push(',');
                    }
                    value(rng, depth + 1, out);
                }
                out.push(']');
            }
            _ => object(rng, depth + 1, out),
        }
    }

    fn object(rng: &mut TestRng, depth: usize, out: &mut String) {
        out.push('{');
        for i in 0..rng.below(5) {
            if i > 0 {
                out.push_str(rng.pick(&[",", " , ", ",\n  "]));
            }
            out.push('"');
            out.push_str(rng.pick(&NAMES));
            out.push_str(rng.pick(&["\":", "\" : "]));
            value(rng, depth, out);
        }
        out.push('}');
    }

    fn rule(rng: &mut TestRng) -> FieldRule {
        let len = rng.below(3);
        let path: Vec<String> = (0..len)
            .map(|_| {
                rng.pick(&["store", "user", "metadata", "user_id", "absent"])
                    .to_string()
            })
            .collect();
        FieldRule {
            op: match rng.below(2) {
                0 => FieldOp::Remove,
                _ => FieldOp::Set(b"false".to_vec().into()),
            },
            shown: path.join("/"),
            path,
            when_path: match rng.below(3) {
                0 => vec!["/v1/responses".to_string()],
                _ => Vec::new(),
            },
            only_if_present: rng.below(2) == 0,
        }
    }

    #[test]
    fn what_it_leaves_alone_apply_leaves_alone() {
        let mut rng = TestRng::new(0x5eed_f1e1);
        let (mut answered, mut asked) = (0, 0);
        let mut outline = Outline::default();
        for _ in 0..20_000 {
            let mut doc = String::new();
            match rng.below(8) {
                0 => value(&mut rng, 0, &mut doc),
                _ => object(&mut rng, 0, &mut doc),
            }
            if rng.below(4) == 0 {
                doc = format!(" \n{doc} ");
            }
            outline
                .parse(doc.as_bytes())
                .expect("the generator writes valid JSON");
            let rules: Vec<FieldRule> = (0..1 + rng.below(3)).map(|_| rule(&mut rng)).collect();
            let path = rng.pick(&["/v1/chat/completions", "/v1/responses"]);
            if leaves_alone(&rules, path, doc.as_bytes(), &outline) {
                answered += 1;
                assert_eq!(
                    apply(&rules, path, doc.as_bytes()),
                    Ok(None),
                    "{doc} {rules:?}"
                );
            } else {
                asked += 1;
            }
        }
        assert!(answered > 5_000 && asked > 5_000, "{answered} {asked}");
    }

    /// A body rewritten inside its strings (masks, some of them spelling member names) is
    /// answered from the body's outline only when no root member's name was touched, and then
    /// `apply` on the rewritten bytes leaves them alone too.
    #[test]
    fn rewrites_that_keep_root_names_are_answered_for() {
        let masks: [&[u8]; 6] = [b"[MASKED]", b"store", b"user", b"a\"b\\c\n", b"", b"\x01"];
        let mut rng = TestRng::new(0x7e57_ab1e);
        let (mut answered, mut touched) = (0, 0);
        let mut outline = Outline::default();
        let mut again = Outline::default();
        for _ in 0..20_000 {
            let mut doc = String::new();
            object(&mut rng, 0, &mut doc);
            outline
                .parse(doc.as_bytes())
                .expect("the generator writes valid JSON");
            let mut splices = Splices::default();
            for leaf in &outline.strings {
                if rng.below(6) != 0 {
                    continue;
                }
                let mask = rng.pick(&masks);
                match leaf.is_number {
                    true => splices.push_json_string_for(leaf.raw, mask),
                    false => splices.push_json_string(leaf.raw, mask),
                }
            }
            let kept = root_names_kept(&outline, splices.spans());
            let Some(rewritten) = splices.apply(doc.as_bytes()) else {
                continue;
            };
            again
                .parse(&rewritten)
                .expect("a rewrite inside strings stays valid JSON");
            touched += usize::from(!kept);
            let rules: Vec<FieldRule> = (0..1 + rng.below(3)).map(|_| rule(&mut rng)).collect();
            let path = rng.pick(&["/v1/chat/completions", "/v1/responses"]);
            if kept && leaves_alone(&rules, path, doc.as_bytes(), &outline) {
                answered += 1;
                let shown = String::from_utf8_lossy(&rewritten);
                assert_eq!(
                    apply(&rules, path, &rewritten),
                    Ok(None),
                    "{shown} {rules:?}"
                );
            }
        }
        assert!(answered > 2_000 && touched > 2_000, "{answered} {touched}");
    }

    #[test]
    fn a_chat_request_without_store_is_answered() {
        let doc = br#"{"model":"m","messages":[{"role":"user","content":"hi","store":true}]}"#;
        let mut outline = Outline::default();
        outline.parse(doc).unwrap();
        let only_if_present = FieldRule {
            op: FieldOp::Set(b"false".to_vec().into()),
            path: vec!["store".into()],
            shown: "store".into(),
            when_path: Vec::new(),
            only_if_present: true,
        };
        assert!(leaves_alone(
            std::slice::from_ref(&only_if_present),
            "/",
            doc,
            &outline
        ));
        let adds = FieldRule {
            only_if_present: false,
            ..only_if_present
        };
        assert!(!leaves_alone(&[adds], "/", doc, &outline));
    }
}
