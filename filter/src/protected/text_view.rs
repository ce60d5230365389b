//! The prose view: folded characters, ASCII case folded, whitespace removed.
//!
//! Each non-whitespace byte of the folded text is one unit, lowercased when ASCII. Removing
//! whitespace outright (rather than collapsing runs to one space) is what makes re-indentation,
//! CRLF line ends, reflowed paragraphs and re-wrapped lines invisible: `foo(\n    bar)` and
//! `foo(bar)` give the same units. Joining two words is the only confusion this adds, and a
//! k-gram of dozens of characters makes it irrelevant. Unicode folding (fullwidth forms,
//! homoglyphs, invisible characters) comes from the engine through [`Folder`]. Punctuation,
//! digits and non-ASCII letters are kept as they are: a copy that changes them is a different text.

use super::fold::{Folded, Folder};
use super::units::Units;

/// Fills `out` with the prose units of `text`.
pub fn units(folder: &mut Folder, text: &[u8], out: &mut Units) {
    units_of(&folder.fold(text), out);
}

/// Fills `out` with the prose units of an already folded text (the matcher folds once for
/// all its views).
pub fn units_of(folded: &Folded<'_>, out: &mut Units) {
    out.clear();
    for (i, &byte) in folded.text().iter().enumerate() {
        if is_space(byte) {
            continue;
        }
        out.push(
            u64::from(byte.to_ascii_lowercase()),
            folded.original_span(i, i + 1),
        );
    }
}

/// ASCII whitespace, including vertical tab (JSON and YAML leave it in text).
pub const fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<u64> {
        let mut out = Units::default();
        units(&mut Folder::new(), text.as_bytes(), &mut out);
        out.values
    }

    #[test]
    fn layout_and_case_do_not_matter() {
        let a = values("fn main() {\n    let x = 1;\n}\n");
        let b = values("FN MAIN() {\r\n\tlet  x =\r\n 1;}");
        assert_eq!(a, b);
    }

    #[test]
    fn spans_point_into_the_original() {
        let text = "a  Ｂ c";
        let mut out = Units::default();
        units(&mut Folder::new(), text.as_bytes(), &mut out);
        assert_eq!(
            out.values,
            vec![u64::from(b'a'), u64::from(b'b'), u64::from(b'c')]
        );
        let span = out.original_span(1, 1).unwrap();
        let (s, e) = (span.start, span.end);
        assert_eq!(&text[s..e], "Ｂ");
    }
}
