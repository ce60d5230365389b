//! The source-code view: tokens, with identifiers blinded and comments removed.
//!
//! A copy of source code is often edited on the way out: re-indented, reformatted, comments
//! stripped, variables and functions renamed. The prose view sees all those as different text.
//! This view tokenizes the folded text language-agnostically (C, Java, JavaScript, Go, Rust,
//! Python, shell and their kin share enough lexical rules) and keeps:
//!
//! * keywords and the names of common built-in types, lowercased (renaming never touches them);
//! * every other identifier as one placeholder, its name hash kept beside it
//!   ([`Units::names`]): winnowing hashes which placeholders of one k-gram are the same name
//!   (`a = a + b` is not `a = b + c`), not the names, so a consistent rename is no escape and
//!   blinded idioms stay distinguishable; an inconsistent rename changes only the k-grams
//!   holding two occurrences of a name it renamed differently;
//! * numbers, lowercased;
//! * string literals (on one line, or Python's triple-quoted ones), one unit per word of their
//!   content, lowercased, whatever the quote
//!   character (`'x'` and `"x"` are equal, as formatters switch them). Strings are *kept*, not
//!   dropped: with identifiers blinded they carry most of what distinguishes one program from
//!   another (messages, SQL, URLs), and a rename does not touch them. The price: a copy whose
//!   string literals were all rewritten escapes this view;
//! * each punctuation byte.
//!
//! Removed: whitespace, `//` and `/* */` comments, `#` line comments (except `#[`, `#!`
//! attributes). So a copy without its comments matches its original. The comments' words go to
//! a second stream (one unit per word, comment punctuation trimmed, lowercased), fingerprinted
//! on their own, so a pasted doc comment or comment block is found as well. Preprocessor lines (`#include`)
//! read as comments; they are boilerplate anyway. Unterminated strings and block comments are
//! read as punctuation, so a fragment cut inside one still tokenizes like its source, except at
//! its first line. A Markdown fence (three backticks) is punctuation, so code pasted in a fence
//! tokenizes as it does alone.

use super::fold::{Folded, Folder};
use super::text_view::is_space;
use super::units::Units;

/// The longest string literal or block comment read as one token, in bytes.
pub(super) const MAX_LONG_TOKEN: usize = 8192;

/// Keywords and built-in names kept as themselves; sorted for binary search. Only words that
/// are reserved or built in somewhere and that programs do not pick as their own names: `err`,
/// `ok` and `result` were here until index format 4, and a rename of a variable `result`
/// changed every k-gram around it.
const KEPT: &[&str] = &[
    "abstract",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "bool",
    "boolean",
    "break",
    "byte",
    "case",
    "catch",
    "char",
    "class",
    "const",
    "continue",
    "crate",
    "def",
    "default",
    "defer",
    "del",
    "delete",
    "dict",
    "do",
    "double",
    "dyn",
    "elif",
    "else",
    "enum",
    "except",
    "export",
    "extends",
    "extern",
    "false",
    "final",
    "finally",
    "float",
    "fn",
    "for",
    "from",
    "func",
    "function",
    "global",
    "go",
    "goto",
    "i16",
    "i32",
    "i64",
    "i8",
    "if",
    "impl",
    "implements",
    "import",
    "in",
    "instanceof",
    "int",
    "interface",
    "is",
    "isize",
    "lambda",
    "len",
    "let",
    "list",
    "long",
    "loop",
    "map",
    "match",
    "mod",
    "move",
    "mut",
    "new",
    "nil",
    "none",
    "nonlocal",
    "not",
    "null",
    "option",
    "or",
    "package",
    "pass",
    "print",
    "private",
    "protected",
    "pub",
    "public",
    "raise",
    "range",
    "ref",
    "return",
    "select",
    "self",
    "short",
    "some",
    "static",
    "str",
    "string",
    "struct",
    "super",
    "switch",
    "this",
    "throw",
    "throws",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "u16",
    "u32",
    "u64",
    "u8",
    "undefined",
    "unsafe",
    "use",
    "usize",
    "var",
    "vec",
    "void",
    "where",
    "while",
    "with",
    "yield",
];

/// Unit value tags (the first byte hashed), so a keyword and an equal string differ.
const TAG_WORD: u8 = 1;
const TAG_IDENT: u8 = 2;
const TAG_NUMBER: u8 = 3;
const TAG_STRING: u8 = 4;
const TAG_PUNCT: u8 = 5;
const TAG_COMMENT: u8 = 6;

/// Fills `out` with the code units of `text`, and `comments` with the words of its comments.
pub fn units(folder: &mut Folder, text: &[u8], out: &mut Units, comments: &mut Units) {
    units_of(&folder.fold(text), out, comments);
}

/// [`units`] of an already folded text (the matcher folds once for all its views).
pub fn units_of(folded: &Folded<'_>, out: &mut Units, comments: &mut Units) {
    lex(
        folded,
        std::iter::once(0..folded.text().len()),
        out,
        comments,
    );
}

/// [`units_of`] of only the regions of `folded` that look like code
/// ([`code_regions`](super::code_regions)): what a search lexes of a request's text.
pub fn units_of_code_regions(folded: &Folded<'_>, out: &mut Units, comments: &mut Units) {
    lex(
        folded,
        super::code_regions::regions(folded.text()),
        out,
        comments,
    );
}

/// Lexes each of `regions` (in order) as if the text ended with it.
fn lex(
    folded: &Folded<'_>,
    regions: impl Iterator<Item = std::ops::Range<usize>>,
    out: &mut Units,
    comments: &mut Units,
) {
    out.clear();
    comments.clear();
    let text = folded.text();
    let mut lexer = Lexer {
        bytes: text,
        pos: 0,
        comments: Vec::new(),
    };
    for region in regions {
        lexer.bytes = text.get(..region.end).unwrap_or_default();
        lexer.pos = lexer.pos.max(region.start);
        while let Some((tag, start, end)) = lexer.next_token() {
            let token = text.get(start..end).unwrap_or_default();
            let (value, name) = match tag {
                TAG_IDENT => identifier_value(token),
                TAG_STRING => {
                    string_words(token, start, folded, out);
                    continue;
                }
                TAG_NUMBER => (fnv(TAG_NUMBER, token.iter().map(u8::to_ascii_lowercase)), 0),
                _ => (fnv(TAG_PUNCT, token.iter().copied()), 0),
            };
            out.push_named(value, name, folded.original_span(start, end));
        }
    }
    for &(start, end) in &lexer.comments {
        comment_words(text, start, end, folded, comments);
    }
}

/// The words of a comment: whitespace-separated, comment punctuation (`/ * ! # -`) trimmed,
/// ASCII lowercased; only words with at least two letters count.
fn comment_words(bytes: &[u8], start: usize, end: usize, folded: &Folded<'_>, out: &mut Units) {
    let decoration = |b: u8| matches!(b, b'/' | b'*' | b'!' | b'#' | b'-');
    let mut i = start;
    while i < end {
        while i < end && bytes.get(i).is_some_and(|&b| is_space(b) || decoration(b)) {
            i += 1;
        }
        let from = i;
        while i < end && bytes.get(i).is_some_and(|&b| !is_space(b)) {
            i += 1;
        }
        let mut to = i;
        while to > from && bytes.get(to - 1).is_some_and(|&b| decoration(b)) {
            to -= 1;
        }
        let word = bytes.get(from..to).unwrap_or_default();
        // Words need two letters: table comments like `'\x05'` or `0x15` carry nothing.
        let letters = word
            .iter()
            .filter(|b| b.is_ascii_alphabetic() || **b >= 0x80)
            .count();
        if letters >= 2 {
            out.push(
                fnv(TAG_COMMENT, word.iter().map(u8::to_ascii_lowercase)),
                folded.original_span(from, to),
            );
        }
    }
}

/// A string literal's units: one per whitespace-separated word of its content (quotes removed,
/// ASCII lowercased), or one for an empty string. Words rather than one unit for the whole
/// literal, so a docstring or a long message is as long in units as the code around it.
fn string_words(token: &[u8], start: usize, folded: &Folded<'_>, out: &mut Units) {
    let mut any = false;
    // The word being read: its start and its hash so far (one pass: each byte is classified
    // and hashed as it is read).
    let mut word: Option<(usize, u64)> = None;
    for (i, &b) in token.iter().enumerate() {
        if class(b) & STRING_GAP != 0 {
            if let Some((w, value)) = word.take() {
                out.push_named(value, 0, folded.original_span(start + w, start + i));
                any = true;
            }
        } else {
            let (w, value) = word.unwrap_or((i, fnv_byte(FNV_OFFSET, TAG_STRING)));
            word = Some((w, fnv_byte(value, b.to_ascii_lowercase())));
        }
    }
    if let Some((w, value)) = word {
        out.push_named(
            value,
            0,
            folded.original_span(start + w, start + token.len()),
        );
        any = true;
    }
    if !any {
        out.push_named(
            fnv(TAG_STRING, [].into_iter()),
            0,
            folded.original_span(start, start + token.len()),
        );
    }
}

/// The unit values of the kept words in an open-addressed table (0 marks an empty slot; no
/// word hashes to 0), so the check of an identifier is a slot or two, not a search: most
/// identifiers of code are short enough to be looked up, and a binary search over the 128
/// values took seven probes each (a search over the strings, with a comparison call per probe,
/// was once a third of the whole matcher's time).
const KEPT_SLOTS: [u64; KEPT_TABLE] = kept_slots();

/// Slots of [`KEPT_SLOTS`]: a power of two, at most a quarter full.
const KEPT_TABLE: usize = 512;
const _: () = assert!(KEPT.len() * 4 <= KEPT_TABLE && KEPT_TABLE.is_power_of_two());

/// The first slot of `value` in [`KEPT_SLOTS`].
const fn kept_slot(value: u64) -> usize {
    ((value ^ (value >> 29)) as usize) & (KEPT_TABLE - 1)
}

// Evaluated only at compile time (for `KEPT_SLOTS`): an index out of range fails the build,
// never a request, and const fns cannot use the iterator forms the lint asks for.
#[allow(clippy::indexing_slicing)]
const fn kept_slots() -> [u64; KEPT_TABLE] {
    let mut out = [0u64; KEPT_TABLE];
    let mut i = 0;
    while i < KEPT.len() {
        let word = KEPT[i].as_bytes();
        let mut h = FNV_OFFSET;
        h = (h ^ TAG_WORD as u64).wrapping_mul(FNV_PRIME);
        let mut j = 0;
        while j < word.len() {
            h = (h ^ word[j] as u64).wrapping_mul(FNV_PRIME);
            j += 1;
        }
        assert!(h != 0, "a kept word hashes to the empty slot's mark");
        let mut slot = kept_slot(h);
        while out[slot] != 0 {
            slot = (slot + 1) & (KEPT_TABLE - 1);
        }
        out[slot] = h;
        i += 1;
    }
    out
}

/// Whether `word` (an identifier's [`TAG_WORD`] value) is a kept word's.
fn is_kept(word: u64) -> bool {
    let mut slot = kept_slot(word);
    // The table is at most a quarter full, so an empty slot ends every probe sequence.
    for _ in 0..KEPT_TABLE {
        match KEPT_SLOTS.get(slot).copied().unwrap_or(0) {
            0 => return false,
            v if v == word => return true,
            _ => slot = (slot + 1) & (KEPT_TABLE - 1),
        }
    }
    false
}

/// The unit value of an identifier token and its name hash: its lowercased word and no name
/// when it is a kept word; the one placeholder and the hash of its name otherwise (winnowing
/// links the placeholders of one name within a k-gram, see [`winnow`](super::winnow)).
fn identifier_value(token: &[u8]) -> (u64, u64) {
    // Both hashes in one pass over the token.
    let (mut word, mut name) = (
        fnv_byte(FNV_OFFSET, TAG_WORD),
        fnv_byte(FNV_OFFSET, TAG_IDENT),
    );
    for &b in token {
        word = fnv_byte(word, b.to_ascii_lowercase());
        name = fnv_byte(name, b);
    }
    // The longest kept word has 10 bytes.
    if token.len() <= 10 && is_kept(word) {
        return (word, 0);
    }
    // `| 1`: a name hash is never 0, which means "not an identifier".
    (IDENT_PLACEHOLDER, name | 1)
}

/// The unit value of every renameable identifier.
const IDENT_PLACEHOLDER: u64 = (FNV_OFFSET ^ TAG_IDENT as u64).wrapping_mul(FNV_PRIME);

/// FNV-1a over a tag and bytes: the unit value (unkeyed; the k-gram hash is keyed later).
fn fnv(tag: u8, bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(fnv_byte(FNV_OFFSET, tag), fnv_byte)
}

/// One FNV-1a step.
#[inline(always)]
fn fnv_byte(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Folded byte spans of the comments skipped so far.
    comments: Vec<(usize, usize)>,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, prefix: &[u8]) -> bool {
        self.bytes
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(prefix))
    }

    /// The next token's tag and folded byte span, skipping whitespace and comments.
    fn next_token(&mut self) -> Option<(u8, usize, usize)> {
        loop {
            let b = *self.bytes.get(self.pos)?;
            // The byte after `b` (0 past the end), looked at only for `/` and `#`.
            let next = || self.at(self.pos + 1);
            if class(b) & SPACE != 0 {
                self.pos = self.run(self.pos + 1, SPACE);
            } else if (b == b'/' && next() == b'/') || (b == b'#' && !matches!(next(), b'[' | b'!'))
            {
                let end = self.line_end(self.pos);
                self.comments.push((self.pos, end));
                self.pos = end;
            } else if b == b'/' && next() == b'*' {
                match self.find(b"*/", self.pos + 2, MAX_LONG_TOKEN) {
                    Some(end) => {
                        self.comments.push((self.pos, end + 2));
                        self.pos = end + 2;
                    }
                    None => return Some(self.single()),
                }
            } else {
                return Some(self.token(b));
            }
        }
    }

    fn token(&mut self, b: u8) -> (u8, usize, usize) {
        let start = self.pos;
        let classes = class(b);
        if classes & WORD_START != 0 {
            self.pos = self.run(start + 1, WORD);
            return (TAG_IDENT, start, self.pos);
        }
        if b.is_ascii_digit() {
            self.pos = self.run(start + 1, NUMBER);
            return (TAG_NUMBER, start, self.pos);
        }
        if matches!(b, b'"' | b'\'' | b'`') && !self.starts_with(b"```") {
            if let Some(end) = self.string_end(b) {
                self.pos = end;
                return (TAG_STRING, start, end);
            }
        }
        self.single()
    }

    fn single(&mut self) -> (u8, usize, usize) {
        let start = self.pos;
        let end = start.saturating_add(4).min(self.bytes.len());
        // Most punctuation is ASCII: one byte, without decoding.
        let len = match self.bytes.get(start) {
            Some(b) if b.is_ascii() => 1,
            _ => self
                .bytes
                .get(start..end)
                .and_then(|rest| rest.utf8_chunks().next())
                .and_then(|c| c.valid().chars().next())
                .map_or(1, char::len_utf8),
        };
        self.pos = start + len;
        (TAG_PUNCT, start, self.pos)
    }

    /// The end of the string literal opening at `self.pos` with `quote`, if it closes in bounds.
    fn string_end(&self, quote: u8) -> Option<usize> {
        let triple = [quote; 3];
        if quote != b'`' && self.starts_with(&triple) {
            return self
                .find(&triple, self.pos + 3, MAX_LONG_TOKEN)
                .map(|e| e + 3);
        }
        let mut i = self.pos + 1;
        let limit = self.pos.saturating_add(MAX_LONG_TOKEN);
        while i < self.bytes.len() && i < limit {
            match self.at(i) {
                b'\\' => i += 2,
                b'\n' => return None,
                c if c == quote => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    }

    /// The end of the run from `from` of bytes in any of `classes`.
    fn run(&self, from: usize, classes: u8) -> usize {
        let rest = self.bytes.get(from..).unwrap_or_default();
        from + rest
            .iter()
            .position(|&b| class(b) & classes == 0)
            .unwrap_or(rest.len())
    }

    fn line_end(&self, from: usize) -> usize {
        self.bytes
            .get(from..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
            .map_or(self.bytes.len(), |i| from + i)
    }

    fn find(&self, needle: &[u8], from: usize, limit: usize) -> Option<usize> {
        let end = from.saturating_add(limit).min(self.bytes.len());
        let hay = self.bytes.get(from..end)?;
        memchr::memmem::find(hay, needle).map(|i| from + i)
    }
}

/// Byte classes of the lexer, one table load per byte rather than a chain of range tests (the
/// lexer reads every byte of every code region of a request).
const SPACE: u8 = 1;
/// Starts an identifier: ASCII letters, `_`, `$`, and non-ASCII bytes (letters of other scripts).
const WORD_START: u8 = 2;
/// Continues an identifier: a word start or an ASCII digit.
const WORD: u8 = 4;
/// Continues a number: a word byte or `.`.
const NUMBER: u8 = 8;
/// Ends a word inside a string literal: whitespace or a quote character.
const STRING_GAP: u8 = SPACE | QUOTE;
const QUOTE: u8 = 16;

// Built at compile time, where the indexes are in bounds by construction; const blocks cannot
// use the iterator forms the lint asks for.
#[allow(clippy::indexing_slicing)]
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let start = c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80;
        let word = start || c.is_ascii_digit();
        t[b] = (if is_space(c) { SPACE } else { 0 })
            | (if start { WORD_START } else { 0 })
            | (if word { WORD | NUMBER } else { 0 })
            | (if c == b'.' { NUMBER } else { 0 })
            | (if matches!(c, b'"' | b'\'' | b'`') {
                QUOTE
            } else {
                0
            });
        b += 1;
    }
    t
};

/// The lexer classes of `b` ([`SPACE`], [`WORD_START`], [`WORD`], [`NUMBER`], [`QUOTE`]).
#[inline(always)]
fn class(b: u8) -> u8 {
    CLASSES.get(usize::from(b)).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<u64> {
        let mut out = Units::default();
        units(
            &mut Folder::new(),
            text.as_bytes(),
            &mut out,
            &mut Units::default(),
        );
        out.values
    }

    #[test]
    fn comment_words_are_their_own_stream() {
        let text = "/// Sums the items.\nfn f() {} // Sums  THE\n/* items. 0x15 a */";
        let (mut code, mut comments) = (Units::default(), Units::default());
        units(
            &mut Folder::new(),
            text.as_bytes(),
            &mut code,
            &mut comments,
        );
        assert_eq!(comments.len(), 6);
        assert_eq!(comments.values[..3], comments.values[3..]);
        let span = comments.original_span(0, 0).unwrap();
        let (s, e) = (span.start, span.end);
        assert_eq!(&text[s..e], "Sums");
    }

    #[test]
    fn kept_words_are_sorted() {
        assert!(KEPT.windows(2).all(|w| w[0] < w[1]));
        assert!(KEPT.iter().all(|w| w.len() <= 10));
        assert_eq!(
            identifier_value(b"Return"),
            (fnv(TAG_WORD, b"return".iter().copied()), 0)
        );
        assert_eq!(identifier_value(b"returns").0, identifier_value(b"x").0);
        assert_eq!(IDENT_PLACEHOLDER, fnv(TAG_IDENT, [].into_iter()));
        assert_ne!(identifier_value(b"returns").1, identifier_value(b"x").1);
    }

    #[test]
    fn every_kept_word_and_no_other_is_in_the_table() {
        let kept = |w: &str| identifier_value(w.as_bytes()).1 == 0;
        assert!(KEPT.iter().all(|w| kept(w)));
        assert_eq!(KEPT_SLOTS.iter().filter(|&&v| v != 0).count(), KEPT.len());
        for w in KEPT {
            // Near misses: one letter more, one fewer, one changed.
            assert!(!kept(&format!("{w}x")) && !kept(&format!("x{w}")), "{w}");
            assert!(
                w.len() < 3 || !kept(&w[1..]) || KEPT.contains(&&w[1..]),
                "{w}"
            );
            let changed: String = w.chars().rev().collect();
            assert!(!kept(&changed) || KEPT.contains(&changed.as_str()), "{w}");
        }
    }

    #[test]
    fn renames_comments_and_layout_do_not_matter() {
        let a = values("fn total(items: &[u32]) -> u32 {\n    // sum them\n    items.iter().sum() /* all */\n}\n");
        let b = values("fn Sum(xs: &[u32]) -> u32 { xs.iter().sum() }");
        assert_eq!(a, b);
    }

    #[test]
    fn strings_numbers_and_keywords_count() {
        assert_ne!(values("x = \"alpha\""), values("x = \"beta\""));
        assert_eq!(values("x = \"Al  pha\""), values("y = 'al pha'"));
        assert_ne!(values("return 1"), values("return 2"));
        assert_ne!(values("if x"), values("while x"));
        assert_eq!(values("# comment\nx = 1"), values("x = 1"));
        assert_eq!(values("#[derive(Debug)]").len(), 7);
    }

    #[test]
    fn unterminated_strings_and_comments_are_punctuation() {
        assert_eq!(values("a \" b").len(), 3);
        assert_eq!(values("a /* b").len(), 4);
        assert_eq!(values("\"\"\"doc\"\"\" x").len(), 2);
    }
}
