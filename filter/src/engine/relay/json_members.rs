//! Where an object's members are in a JSON document, by byte range, for field edits.
//!
//! The engine's `body::json::Outline` records strings only; a field edit needs the range of a
//! member's whole value (a number, an object) and of the separators around it, so that
//! removing or replacing it splices bytes and leaves the rest of the body as it was (masks
//! included). The parser is strict (RFC 8259 grammar): a document it rejects is one whose
//! fields cannot be enforced. Only the objects it reports are read recursively (a field path is
//! at most a few members deep); every other value is skipped without recursion, with a stack of
//! open brackets, so nesting of any depth is read and no input can overflow the call stack. It
//! does not check UTF-8 or raw control bytes inside strings (a destination rejects those; they
//! cannot hide a member), so a string is one `memchr` away from its end.

use crate::engine::span::Span;

/// The document is not valid JSON (or nests too deep to check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NotJson;

/// One member of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Member {
    /// The key's opening quote.
    pub key_start: usize,
    /// The key's bytes between the quotes, escapes as written.
    pub key: Span,
    /// The value, from its first byte to just after its last.
    pub value: Span,
}

/// An object: where it opens and its members in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Object {
    /// The `{`.
    pub open: usize,
    pub members: Vec<Member>,
}

/// Validates the whole document; its root object's members, or `None` if the root is not an object.
pub(super) fn root_object(doc: &[u8]) -> Result<Option<Object>, NotJson> {
    let mut p = Parser { doc, pos: 0 };
    p.skip_ws();
    let start = p.pos;
    let object = if p.peek() == Some(b'{') {
        Some(p.object()?)
    } else {
        p.skip_value()?;
        None
    };
    p.skip_ws();
    if p.pos != doc.len() || start == doc.len() {
        return Err(NotJson);
    }
    Ok(object)
}

/// The members of the object whose value is `value` in `doc` (already validated), or `None`
/// if that value is not an object.
pub(super) fn object_at(doc: &[u8], value: Span) -> Result<Option<Object>, NotJson> {
    if doc.get(value.start) != Some(&b'{') {
        return Ok(None);
    }
    let mut p = Parser {
        doc,
        pos: value.start,
    };
    p.object().map(Some)
}

struct Parser<'d> {
    doc: &'d [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.doc.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), NotJson> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    /// An object at `pos`, with its members.
    fn object(&mut self) -> Result<Object, NotJson> {
        let mut object = Object {
            open: self.pos,
            members: Vec::new(),
        };
        self.expect(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(object);
        }
        loop {
            self.skip_ws();
            let key_start = self.pos;
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let value_start = self.pos;
            self.skip_value()?;
            object.members.push(Member {
                key_start,
                key,
                value: Span {
                    start: value_start,
                    end: self.pos,
                },
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(object);
                }
                _ => return Err(NotJson),
            }
        }
    }

    /// One value at `pos`, validated and skipped; containers with a stack of open brackets.
    fn skip_value(&mut self) -> Result<(), NotJson> {
        let mut open: Vec<u8> = Vec::new();
        loop {
            // A value is expected here.
            self.skip_ws();
            match self.peek().ok_or(NotJson)? {
                container @ (b'{' | b'[') => {
                    self.pos += 1;
                    self.skip_ws();
                    let close = if container == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                    } else {
                        open.push(container);
                        if container == b'{' {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(NotJson),
            }
            // After a value: close containers until one continues with a comma.
            loop {
                let Some(&container) = open.last() else {
                    return Ok(());
                };
                self.skip_ws();
                match (self.peek(), container) {
                    (Some(b','), _) => {
                        self.pos += 1;
                        if container == b'{' {
                            self.skip_ws();
                            self.member_key()?;
                        }
                        break;
                    }
                    (Some(b'}'), b'{') | (Some(b']'), b'[') => {
                        self.pos += 1;
                        open.pop();
                    }
                    _ => return Err(NotJson),
                }
            }
        }
    }

    /// `"key" :` inside an object being skipped.
    fn member_key(&mut self) -> Result<(), NotJson> {
        self.string()?;
        self.skip_ws();
        self.expect(b':')
    }

    /// A string at `pos`; the span of its contents (between the quotes).
    fn string(&mut self) -> Result<Span, NotJson> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            let rest = self.doc.get(self.pos..).ok_or(NotJson)?;
            let stop = memchr::memchr2(b'"', b'\\', rest).ok_or(NotJson)?;
            self.pos += stop;
            if self.peek() == Some(b'"') {
                let span = Span {
                    start,
                    end: self.pos,
                };
                self.pos += 1;
                return Ok(span);
            }
            // A backslash: one valid escape.
            self.pos += 1;
            match self.peek().ok_or(NotJson)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                b'u' => {
                    let hex = self.doc.get(self.pos + 1..self.pos + 5).ok_or(NotJson)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return Err(NotJson);
                    }
                    self.pos += 5;
                }
                _ => return Err(NotJson),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), NotJson> {
        if self.doc.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(NotJson)
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), NotJson> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(NotJson),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(NotJson);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(NotJson);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(doc: &str) -> Vec<(String, String)> {
        let object = root_object(doc.as_bytes()).unwrap().unwrap();
        object
            .members
            .iter()
            .map(|m| {
                (
                    doc[m.key.start..m.key.end].to_string(),
                    doc[m.value.start..m.value.end].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn members_and_their_values_by_range() {
        assert_eq!(
            keys(r#" { "a" : 1.5e-3 , "b":{"c":[1,{"d":null}]},"e\"":"x\\y" ,"f":true} "#),
            [
                ("a".into(), "1.5e-3".into()),
                ("b".into(), r#"{"c":[1,{"d":null}]}"#.into()),
                (r#"e\""#.into(), r#""x\\y""#.into()),
                ("f".into(), "true".into()),
            ]
        );
        assert_eq!(keys("{}"), []);
        assert_eq!(root_object(b"[1,2]"), Ok(None));
        assert_eq!(root_object(b" \"s\" "), Ok(None));
    }

    #[test]
    fn anything_not_strict_json_is_rejected() {
        for bad in [
            "",
            " ",
            "{",
            "{\"a\":1",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":1} {}",
            "{\"a\":NaN}",
            "{\"a\":[1,]}",
            "{\"a\":'x'}",
        ] {
            assert_eq!(root_object(bad.as_bytes()), Err(NotJson), "{bad:?}");
        }
        let unclosed = "[".repeat(100_000);
        assert_eq!(root_object(unclosed.as_bytes()), Err(NotJson));
    }

    #[test]
    fn nesting_of_any_depth_is_read_without_recursion() {
        let depth = 200_000;
        let deep = format!(
            r#"{{"user":"u","x":{}{{"a":[]}}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let root = root_object(deep.as_bytes()).unwrap().unwrap();
        assert_eq!(root.members.len(), 2);
        assert_eq!(root.members[1].value.end, deep.len() - 1);
        let mismatched = format!(r#"{{"x":{}}}}}"#, "[".repeat(3));
        assert_eq!(root_object(mismatched.as_bytes()), Err(NotJson));
    }

    #[test]
    fn nested_objects_are_read_in_place() {
        let doc = br#"{"metadata":{"user_id":"u-1","x":2},"n":3}"#;
        let root = root_object(doc).unwrap().unwrap();
        let inner = object_at(doc, root.members[0].value).unwrap().unwrap();
        assert_eq!(inner.members.len(), 2);
        assert_eq!(object_at(doc, root.members[1].value), Ok(None));
    }
}
