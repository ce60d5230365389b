//! Where a request's text looks like code: the regions the code view lexes.
//!
//! Every text a request carries is searched in the code view when the index holds code, but
//! most of it is prose, whose lexing (identifiers blinded, every word a token) gives k-grams no
//! code document holds, at the cost of the lexing, hashing and lookups. A line is a **code
//! line** when it carries enough code marks for its letters: code punctuation (`{ } [ ] < > =
//! ; _ | & \ ` # $ @ ^ ~ * /`), a call (`name(`), a member access (`a.b`), or a line ending
//! that opens a block or ends a statement (`{ ( [ ; :`), at least one mark per 10 letters; a
//! line starting with a comment or attribute mark (`//`, `/*`, `*`, `#`) is one too. A region
//! is a run of lines from 5 lines before a code line to 5 lines after the last code line of
//! the run, so the plain lines of code (`where`, `else:`, `return x`) and comment lines
//! between code lines are lexed with them. The index side lexes whole files as before; only
//! the search skips prose.
//!
//! Two kinds of line carry marks without being code, and are common in what agents send:
//! - A **log line** starts with a timestamp (`2026-12-07T…`, `[22:05:28]`). It is never lexed:
//!   a region ends before it and starts after it, so the stack-trace lines among logs are
//!   lexed without the log lines around them. Logs were lexed whole: two thirds of the
//!   search's cost on logs.
//! - A **data line** is a member of pretty-printed JSON (`"sku": "A-1",`, `"items": [`) or
//!   brackets alone (`{`, `},`). It is lexed only as a code line's context; JSON alone opens no
//!   region (data files are indexed as prose, and found through the prose stream). Elements
//!   without a key (`12258131603170554683,`, `"ld.d $t5, $a0, 40",`) stay code: source files
//!   hold long tables of them.
//!
//! What this gives up: a source file's own log samples, and the middle of a dictionary literal
//! with quoted keys more than 10 lines long, pasted without the code around them, are not found
//! through the code view. Over 1 059 crate source files, 8 of 315 147 lines that are not
//! comments fall outside every region (590 when elements without a key counted as data).
//!
//! Block comments and triple-quoted strings are followed across every line (skipped ones too),
//! so a region starting inside one starts where it opened, and a region does not end inside
//! one: the lexer sees each as it would in the whole text. A run of more than 10 code-less lines inside code (a long comment block with few marks) is
//! cut into two regions, each lexed as on its own.

/// Lines of context lexed before and after a code line.
const CONTEXT: usize = 5;

/// Byte classes: 1 a code mark, 2 a letter or digit (non-ASCII bytes count as letters).
// Built at compile time, where the indexes are in bounds by construction; const blocks cannot
// use the iterator forms the lint asks for.
#[allow(clippy::indexing_slicing)]
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let marks = b"{}[]<>=;_|&\\`#$@^~*/():,\"";
    let mut i = 0;
    while i < marks.len() {
        t[marks[i] as usize] = 1;
        i += 1;
    }
    let mut b = 0;
    while b < 256 {
        if (b as u8).is_ascii_alphanumeric() || b >= 0x80 {
            t[b] = 2;
        }
        b += 1;
    }
    t
};

/// What each byte adds to a line's two counts, packed: 1 for a code mark, `1 << 32` for a letter
/// or digit. One load and one add per byte, rather than a branch on the class: the counts of
/// every line of every text are taken, prose included.
#[allow(clippy::indexing_slicing)] // compile time, as for `CLASS`
const COUNTS: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match CLASS[b] {
            1 => 1,
            2 => 1 << 32,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// Whether `body` (a trimmed line) starts with a timestamp, as a log line does: an ISO date
/// (`2026-12-07`) or a time of day (`22:05:28`), alone or in brackets. Source code never starts
/// a line with either; logs are full of code marks (`[svc]`, `key=value`, `/paths`) and would
/// otherwise all be lexed.
fn starts_with_timestamp(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"[").unwrap_or(body);
    let shape = |pattern: &[u8]| {
        body.len() >= pattern.len()
            && body.iter().zip(pattern).all(|(&b, &p)| match p {
                b'9' => b.is_ascii_digit(),
                _ => b == p,
            })
    };
    shape(b"9999-99-99") || shape(b"99:99:99")
}

/// What a line is to the regions (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// Opens a region, with its context.
    Code,
    /// Lexed only as a code line's context.
    Plain,
    /// Never lexed: a region ends before it and starts after it.
    Log,
}

/// What `line` (without its newline) is, outside a long token.
fn line_kind(line: &[u8]) -> Line {
    let body = line.trim_ascii();
    if starts_with_timestamp(body) {
        Line::Log
    } else if is_code_line(body) {
        Line::Code
    } else {
        Line::Plain
    }
}

/// Whether `body` (a trimmed line) is a line of pretty-printed JSON: a member (`"sku": "A-1",`,
/// `"id": 12,`, `"items": [`) or brackets alone (`{`, `],`). Pretty-printed JSON (tool results,
/// exports, API answers) is all such lines, and every one of them carries enough marks to be
/// code; as code they would all be lexed, hashed and looked up. Data files are indexed as prose,
/// so these lines are lexed only as the context of a code line. Elements without a key stay
/// code (`12258131603170554683,`, `"ld.d $t5, $a0, 40",`, `0x1f, 0x2e,`): source files hold
/// long tables of them, one per line as formatters write them.
fn is_data_line(body: &[u8]) -> bool {
    // Either kind starts with a key's quote or a bracket: a code line is refused at its first
    // byte, not read word by word.
    if !matches!(body.first(), Some(b'"' | b'\'' | b'{' | b'}' | b'[' | b']')) {
        return false;
    }
    // Literals read, and whether the first was a string followed by `:` (a key).
    let (mut i, mut literals, mut keyed) = (0, 0, false);
    while let Some(&b) = body.get(i) {
        let end = match b {
            b' ' | b'\t' | b',' | b'{' | b'}' | b'[' | b']' => i + 1,
            b':' => {
                keyed |= literals == 1 && matches!(body.first(), Some(b'"' | b'\''));
                i + 1
            }
            _ => {
                let end = match b {
                    b'"' | b'\'' => literal_string_end(body, i),
                    b'-' | b'0'..=b'9' => literal_number_end(body, i),
                    _ => literal_word_end(body, i),
                };
                let Some(end) = end else {
                    return false;
                };
                literals += 1;
                end
            }
        };
        i = end;
    }
    literals == 0 || (keyed && literals <= 2)
}

/// The end of the string literal quoted at `body[at]`, if it closes on the line.
fn literal_string_end(body: &[u8], at: usize) -> Option<usize> {
    let quote = *body.get(at)?;
    let mut i = at + 1;
    while let Some(&b) = body.get(i) {
        match b {
            b'\\' => i += 2,
            _ if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The end of the number at `body[at]` (a sign, a digit, then digits, letters, `.` and `_`,
/// and an exponent's sign), if one starts there.
fn literal_number_end(body: &[u8], at: usize) -> Option<usize> {
    let first = at + usize::from(body.get(at) == Some(&b'-'));
    if !body.get(first).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut i = first + 1;
    while let Some(&b) = body.get(i) {
        let exponent_sign =
            matches!(b, b'+' | b'-') && matches!(body.get(i - 1), Some(b'e' | b'E'));
        if !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exponent_sign) {
            break;
        }
        i += 1;
    }
    Some(i)
}

/// The end of the literal word at `body[at]` (`true`, `false`, `null`, and Python's and Ruby's
/// spellings), if one starts there.
fn literal_word_end(body: &[u8], at: usize) -> Option<usize> {
    let rest = body.get(at..)?;
    let len = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or(rest.len());
    let word = rest.get(..len)?;
    matches!(
        word,
        b"true" | b"false" | b"null" | b"True" | b"False" | b"None" | b"nil"
    )
    .then_some(at + len)
}

/// Whether `body` (a trimmed line, not a log line) is a code line (see the module doc).
fn is_code_line(body: &[u8]) -> bool {
    if is_data_line(body) {
        return false;
    }
    // A line that starts like a comment or ends a statement, opens a block or continues a
    // list is code without counting (most lines of code end so).
    if body.starts_with(b"//")
        || body.starts_with(b"/*")
        || body.starts_with(b"*")
        || body.starts_with(b"#")
        || matches!(body.last(), Some(b'{' | b'(' | b'[' | b';' | b','))
    {
        return true;
    }
    // A line of 2^32 bytes or more would carry marks into letters; no text is that long.
    let counts = body.iter().fold(0u64, |sum, &b| {
        sum.wrapping_add(COUNTS.get(usize::from(b)).copied().unwrap_or(0))
    });
    let (mut marks, letters) = ((counts & 0xffff_ffff) as usize, (counts >> 32) as usize);
    // A member access, `a.b`, is a mark too.
    let class = |b: u8| CLASS.get(usize::from(b)).copied().unwrap_or(0);
    for i in memchr::memchr_iter(b'.', body) {
        if i > 0
            && body.get(i - 1).is_some_and(|&p| class(p) == 2)
            && body.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
        {
            marks += 1;
        }
    }
    if body.last() == Some(&b':') {
        marks += 2;
    }
    marks > 0 && marks * 10 >= letters
}

/// The code regions of `text`, in order, as byte ranges that start at a line start and end
/// after a newline (or at the text's end). Allocates nothing.
pub fn regions(text: &[u8]) -> Regions<'_> {
    Regions {
        text,
        at: 0,
        recent: [(0, None); CONTEXT + 1],
        lines: 0,
        emitted: 0,
        after_log: 0,
        open: None,
    }
}

/// The iterator of [`regions`].
pub struct Regions<'a> {
    text: &'a [u8],
    /// The start of the next line to read.
    at: usize,
    /// The starts of the last `CONTEXT + 1` lines read, by line number modulo `CONTEXT + 1`,
    /// each with [`Regions::open`] as it was at that line's start.
    recent: [(usize, Option<(usize, u8)>); CONTEXT + 1],
    /// Lines read.
    lines: usize,
    /// The end of the last region yielded.
    emitted: usize,
    /// The end of the last log line read outside a long token: no region reaches back past it.
    after_log: usize,
    /// The long token (block comment or triple-quoted string) open after the lines read: the
    /// start of the line it opened in, and its closing mark (`*`, `"` or `'`).
    open: Option<(usize, u8)>,
}

impl Regions<'_> {
    /// Reads one line: its start and end (after its newline), and what it is. A line inside a
    /// long token is never a log line: the lexer reads it as part of the token.
    fn line(&mut self) -> Option<(usize, usize, Line)> {
        let start = self.at;
        if start >= self.text.len() {
            return None;
        }
        let rest = self.text.get(start..).unwrap_or_default();
        let len = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let line = rest.get(..len).unwrap_or_default();
        self.at = start + len;
        if let Some(slot) = self.recent.get_mut(self.lines % (CONTEXT + 1)) {
            *slot = (start, self.open);
        }
        self.lines += 1;
        let inside = self.open.is_some();
        self.track(line, start);
        let kind = match line_kind(line) {
            Line::Log if inside => Line::Plain,
            Line::Log => {
                self.after_log = start + len;
                Line::Log
            }
            kind => kind,
        };
        Some((start, start + len, kind))
    }

    /// Follows block comments and triple-quoted strings across `line` (starting at `start`), as
    /// the lexer reads them, so that no region starts or ends inside one. A token open longer
    /// than the lexer reads as one is forgotten (the lexer reads its opener as punctuation).
    fn track(&mut self, line: &[u8], start: usize) {
        if self
            .open
            .is_some_and(|(at, _)| start - at > super::code_view::MAX_LONG_TOKEN)
        {
            self.open = None;
        }
        let mut i = 0;
        while let Some(found) = line
            .get(i..)
            .and_then(|rest| memchr::memchr3(b'*', b'"', b'\'', rest))
        {
            let at = i + found;
            let b = line.get(at).copied().unwrap_or(0);
            let triple = line.get(at..at + 3) == Some(&[b, b, b][..]);
            i = at + 1;
            match self.open {
                None if b == b'*' && at > 0 && line.get(at - 1) == Some(&b'/') => {
                    self.open = Some((start, b'*'));
                }
                None if b != b'*' && triple => {
                    self.open = Some((start, b));
                    i = at + 3;
                }
                Some((_, b'*')) if b == b'*' && line.get(at + 1) == Some(&b'/') => {
                    self.open = None;
                    i = at + 2;
                }
                Some((_, quote)) if quote == b && triple => {
                    self.open = None;
                    i = at + 3;
                }
                _ => {}
            }
        }
    }
}

impl Iterator for Regions<'_> {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = loop {
            let (start, end, kind) = self.line()?;
            if kind == Line::Code {
                // The line CONTEXT lines back, when there are so many (its slot is the next
                // one to be overwritten), else the text's start; never inside the last region.
                // Or the line a long token open there started in.
                let (back, open) = if self.lines > CONTEXT {
                    self.recent
                        .get(self.lines % (CONTEXT + 1))
                        .copied()
                        .unwrap_or((start, None))
                } else {
                    (0, None)
                };
                let back = open.map_or(back, |(at, _)| at.min(back));
                break (back.max(self.emitted).max(self.after_log), end);
            }
        };
        let (from, mut to) = first;
        let mut plain = 0;
        while plain < CONTEXT || self.open.is_some() {
            let Some((_, end, kind)) = self.line() else {
                break;
            };
            if kind == Line::Log {
                break;
            }
            to = end;
            plain = if kind == Line::Code { 0 } else { plain + 1 };
        }
        self.emitted = to;
        Some(from..to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexed(text: &str) -> String {
        regions(text.as_bytes()).map(|r| &text[r]).collect()
    }

    #[test]
    fn code_lines_and_their_context_are_kept_prose_is_not() {
        let prose = "Thanks for the help yesterday; the meeting went well.\n\
                     We should talk again (maybe next week) about the plan.\n";
        assert_eq!(lexed(prose), "");
        let code = "fn total(items: &[u32]) -> u32 {\n    items.iter().sum()\n}\n";
        assert_eq!(lexed(code), code);
        let mut prompt = String::new();
        for i in 0..8 {
            prompt.push_str(&format!(
                "Prose line number {i} of the question asked here.\n"
            ));
        }
        let before = prompt.len();
        prompt.push_str(code);
        let after = prompt.len();
        for i in 0..8 {
            prompt.push_str(&format!(
                "And prose line {i} after it, asking for a review.\n"
            ));
        }
        let kept: Vec<_> = regions(prompt.as_bytes()).collect();
        assert_eq!(kept.len(), 1);
        let line = |n: usize| prompt.lines().take(n).map(|l| l.len() + 1).sum::<usize>();
        // The closing brace is a data line: the context runs from the last line before it.
        assert_eq!(kept[0], line(8 - CONTEXT)..line(8 + 2 + CONTEXT));
        assert!(kept[0].start < before && kept[0].end > after);
    }

    #[test]
    fn plain_lines_inside_code_and_comments_are_kept() {
        let code = "/// Returns the total of every item the order holds in its list today\n\
                    pub fn total<T>(items: &[T]) -> u64\n\
                    where\n    T: Copy,\n\
                    {\n    let mut sum = 0;\n    sum\n}\n";
        assert_eq!(lexed(code), code);
        let python = "def f(x):\n    if x:\n        return x\n    else:\n        pass\n";
        assert_eq!(lexed(python), python);
    }

    #[test]
    fn a_region_never_starts_or_ends_inside_a_long_token() {
        let mut text = String::from("def f(xs):\n    \"\"\"Sums the items.\n");
        for i in 0..12 {
            text.push_str(&format!(
                "    Explains part {i} of what the function does here\n"
            ));
        }
        let code_at = text.len();
        text.push_str("    >>> xs = [1, 2, 3, 4, 5]\n    \"\"\"\n    return sum(xs)\n");
        let kept: Vec<_> = regions(text.as_bytes()).collect();
        // One region: the docstring stays one token for the lexer, whole.
        assert_eq!(kept, vec![0..text.len()], "{kept:?} {code_at}");
        let block = format!(
            "/* {}\n*/ int x = 1;\n",
            "a note without marks\n".repeat(12)
        );
        assert_eq!(lexed(&block), block);
    }

    #[test]
    fn timestamped_log_lines_are_not_code_the_code_among_them_is() {
        let log = |stamp: &str| {
            format!("{stamp} INFO [billing-2] req=7f3a path=/api/v2/users status=200\n")
        };
        for stamp in [
            "2026-12-07T22:05:28.118Z",
            "[2026-12-07 22:05:28]",
            "22:05:28.118",
            "[22:05:28]",
        ] {
            let logs = log(stamp).repeat(20);
            assert_eq!(lexed(&logs), "", "{stamp}");
        }
        // Near misses stay code: a date inside a line, digits that are not a date.
        for code in [
            "let day = \"2026-12-07\";\n",
            "x[2026] = y[12] - 07;\n",
            "12:30 => handle(x);\n",
        ] {
            assert_eq!(lexed(code), code);
        }
        // The code among logs is lexed without the log lines around it.
        let trace = "    at billing::charge (charge.rs:41)\n    at billing::run (run.rs:7)\n";
        let mut text = log("2026-12-07T22:05:28Z").repeat(12);
        text.push_str(trace);
        text.push_str(&log("2026-12-07T22:05:29Z").repeat(12));
        assert_eq!(lexed(&text), trace);
        // A log line inside a long token is part of the token, as the lexer reads it.
        let doc = format!(
            "def f():\n    \"\"\"Logs like:\n{}    \"\"\"\n    return 1\n",
            log("2026-12-07T22:05:28Z").repeat(3)
        );
        assert_eq!(lexed(&doc), doc);
    }

    #[test]
    fn data_lines_are_lexed_only_beside_code() {
        let json = "{\n  \"id\": 401223,\n  \"object\": \"order\",\n  \"items\": [\n    {\n      \
                    \"sku\": \"BOLT-00412\",\n      \"unit_price\": -1.5e+3,\n      \"gift\": null,\n      \
                    \"tags\": [\"a\"],\n      \"done\": True\n    }\n  ],\n  \"note\": \"x: y; z\"\n}\n";
        assert!(
            json.lines()
                .all(|l| is_data_line(l.as_bytes().trim_ascii())),
            "{json}"
        );
        assert_eq!(lexed(&json.repeat(3)), "");
        // Near misses are code: a name, a call, an operator or an unclosed string among them.
        for code in [
            "  \"total\": price * qty,\n",
            "  \"id\": next_id(),\n",
            "  key: \"value\",\n",
            "  \"open\": \"not closed,\n",
            "  \"a\" + b;\n",
            "  -x,\n",
            "  12258131603170554683,\n",
            "  \"ld.d    $t5, $a0, 40\",\n",
            "  0x1f, 0x2e, 0x3d, 0x4c,\n",
            "  \"alpha\", \"beta\",\n",
            "  \"a\": 1, \"b\": 2,\n",
        ] {
            assert!(!is_data_line(code.as_bytes().trim_ascii()), "{code}");
            assert_eq!(lexed(code), code);
        }
        // A dictionary in code is lexed as the context of the code around it; a table of
        // elements without keys is code.
        let mut table = String::from("PRICES = {\n");
        for i in 0..16 {
            table.push_str(&format!("    \"sku-{i}\": {i}.5,\n"));
        }
        table.push_str("}\ntotal = sum(PRICES.values())\n");
        let kept: String = lexed(&table);
        assert!(kept.starts_with("PRICES = {") && kept.ends_with("values())\n"));
        let numbers: String = (0..16).map(|i| format!("    {i}0442,\n")).collect();
        let numbers = format!("const POWERS: [u64; 16] = [\n{numbers}];\n");
        assert_eq!(lexed(&numbers), numbers);
        assert_eq!(kept.lines().count(), 2 * (CONTEXT + 1));
    }

    #[test]
    fn regions_do_not_overlap_and_cover_code_far_apart() {
        let mut text = String::from("x = 1;\n");
        for _ in 0..10 {
            text.push_str("just some words in a sentence here\n");
        }
        text.push_str("y = 2;\n");
        let kept: Vec<_> = regions(text.as_bytes()).collect();
        assert_eq!(kept.len(), 2);
        assert!(kept[0].end <= kept[1].start);
        assert!(text[kept[0].clone()].starts_with("x = 1;"));
        assert!(text[kept[1].clone()].ends_with("y = 2;\n"));
    }
}
