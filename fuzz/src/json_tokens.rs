//! A JSON document as serde_json reads it: every token in document order.
//!
//! `serde_json::Value` keeps one member per key and sorts them, which hides
//! exactly the differences a fuzzer must see (duplicate keys, key order). This
//! visitor records keys, strings and scalars as serde_json meets them instead.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// One token of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An object key or a string value, unescaped.
    Str(String),
    /// A number, `true`, `false` or `null`, rendered.
    Scalar(String),
    Open(char),
    Close(char),
}

/// The tokens of `doc`, or serde_json's error.
pub fn tokens(doc: &[u8]) -> Result<Vec<Token>, serde_json::Error> {
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(doc);
    Collect(&mut out).deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

struct Collect<'a>(&'a mut Vec<Token>);

impl<'de> DeserializeSeed<'de> for Collect<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Collect<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(Token::Str(v.to_owned()));
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(Token::Scalar(v.to_string()));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(Token::Scalar(v.to_string()));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(Token::Scalar(v.to_string()));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(Token::Scalar(format!("{v:e}")));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Token::Scalar("null".into()));
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push(Token::Open('['));
        while seq.next_element_seed(Collect(&mut *self.0))?.is_some() {}
        self.0.push(Token::Close(']'));
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.push(Token::Open('{'));
        while map.next_key_seed(Collect(&mut *self.0))?.is_some() {
            map.next_value_seed(Collect(&mut *self.0))?;
        }
        self.0.push(Token::Close('}'));
        Ok(())
    }
}

/// Where each scalar token (number, `true`, `false`, `null`) of `doc` starts, in document
/// order: the offsets serde_json's visitor does not give. `doc` must be a document
/// [`tokens`] accepted (strict JSON), so a plain lexer reads it the same way.
pub fn scalar_starts(doc: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(&byte) = doc.get(at) {
        match byte {
            b'"' => {
                at += 1;
                while let Some(&inner) = doc.get(at) {
                    at += if inner == b'\\' { 2 } else { 1 };
                    if inner == b'"' {
                        break;
                    }
                }
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                starts.push(at);
                while doc.get(at).is_some_and(|b| {
                    !matches!(b, b',' | b']' | b'}' | b':') && !b.is_ascii_whitespace()
                }) {
                    at += 1;
                }
            }
            _ => at += 1,
        }
    }
    starts
}

/// Whether serde_json refused `doc` for a reason the engine reads on purpose differently
/// (it scans bytes, not Unicode scalars, and does not convert numbers): a lone surrogate
/// escape, invalid UTF-8, a number beyond f64, nesting past serde_json's own limit.
pub fn known_refusal(error: &serde_json::Error) -> bool {
    let message = error.to_string();
    [
        "lone leading surrogate",
        "unexpected end of hex escape",
        "invalid unicode code point",
        "number out of range",
        "recursion limit exceeded",
    ]
    .iter()
    .any(|known| message.contains(known))
}
