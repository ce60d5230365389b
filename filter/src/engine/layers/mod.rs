//! What a field's text hides, and the text the scanner should see instead.
//!
//! Each layer turns a field into more text to scan, with a way back to the
//! bytes as written: [`fold`] undoes look-alike and invisible characters,
//! [`decode`] finds and decodes encoded runs (base64, percent-encoding, `\u`
//! escapes, hex, `data:` URLs), [`respell`] undoes HTML references, `\xNN`
//! escapes and spaced-out letters, and [`word_gate`] finds the few words that
//! may hold an encoded run without visiting every byte.

pub(crate) mod decode;
pub(crate) mod fold;
pub(crate) mod respell;
pub(crate) mod word_gate;
