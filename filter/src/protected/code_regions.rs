//! Where a request's text looks like code: the regions the code view lexes.
//!
//! Every text a request carries is searched in the code view when the index holds code, but
//! most of it is prose, whose lexing (identifiers blinded, every word a token) gives k-grams no
//! code document holds, at the cost of the lexing, hashing and lookups. A line is a **code
//! line** when it carries enough code marks for its letters: code punctuation (`{ } [ ] < > =
//! ; _ | & \ ` # $ @ ^ ~ * /`), a call (`name(`), a member access (`a.b`), or a line ending
//! that opens a block or ends a statement (`{ ( [ ; :`), at least one mark per 10 letters; a
//! line starting with a comment or attribute mark (`//`, `/*`, `*`, `#`) is one too. A region
//! is a run of lines from 3 lines before a code line to 3 lines after the last code line of
//! the run, so the plain lines of code (`where`, `else:`, `return x`) and comment lines
//! between code lines are lexed with them. The index side lexes whole files as before; only
//! the search skips prose.
//!
//! Trade-off: a region starts in the middle of what the lexer would have seen as one token
//! when a block comment or triple-quoted string opened in a skipped line runs into it; its
//! first lines then tokenize as code, which is how a copy that starts there tokenizes anyway.
//! A run of more than 6 code-less lines inside code (a long comment block with few marks) is
//! cut into two regions, each lexed as on its own.

/// Lines of context lexed before and after a code line.
const CONTEXT: usize = 3;

/// Byte classes: 1 a code mark, 2 a letter or digit (non-ASCII bytes count as letters).
// Built at compile time, where the indexes are in bounds by construction; const blocks cannot
// use the iterator forms the lint asks for.
#[allow(clippy::indexing_slicing)]
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let marks = b"{}[]<>=;_|&\\`#$@^~*/";
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

/// Whether `line` (without its newline) is a code line (see the module doc).
fn is_code_line(line: &[u8]) -> bool {
    let body = line.trim_ascii();
    if body.starts_with(b"//")
        || body.starts_with(b"/*")
        || body.starts_with(b"*")
        || body.starts_with(b"#")
    {
        return true;
    }
    let (mut marks, mut letters) = (0usize, 0usize);
    let mut previous = b' ';
    let class = |b: u8| CLASS.get(usize::from(b)).copied().unwrap_or(0);
    for (i, &b) in body.iter().enumerate() {
        match class(b) {
            1 => marks += 1,
            2 => letters += 1,
            _ => {
                let after_word = class(previous) == 2 || previous == b'_';
                let next = body.get(i + 1).copied().unwrap_or(b' ');
                if after_word && (b == b'(' || (b == b'.' && next.is_ascii_alphabetic())) {
                    marks += 1;
                }
            }
        }
        previous = b;
    }
    if matches!(body.last(), Some(b'{' | b'(' | b'[' | b';' | b':')) {
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
        recent: [0; CONTEXT + 1],
        lines: 0,
        emitted: 0,
    }
}

/// The iterator of [`regions`].
pub struct Regions<'a> {
    text: &'a [u8],
    /// The start of the next line to read.
    at: usize,
    /// The starts of the last `CONTEXT + 1` lines read, by line number modulo `CONTEXT + 1`.
    recent: [usize; CONTEXT + 1],
    /// Lines read.
    lines: usize,
    /// The end of the last region yielded.
    emitted: usize,
}

impl Regions<'_> {
    /// Reads one line: its start and end (after its newline), and whether it is code.
    fn line(&mut self) -> Option<(usize, usize, bool)> {
        let start = self.at;
        if start >= self.text.len() {
            return None;
        }
        let rest = self.text.get(start..).unwrap_or_default();
        let len = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
        let line = rest.get(..len).unwrap_or_default();
        self.at = start + len;
        if let Some(slot) = self.recent.get_mut(self.lines % (CONTEXT + 1)) {
            *slot = start;
        }
        self.lines += 1;
        Some((start, start + len, is_code_line(line)))
    }
}

impl Iterator for Regions<'_> {
    type Item = std::ops::Range<usize>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = loop {
            let (start, end, code) = self.line()?;
            if code {
                // The line CONTEXT lines back, when there are so many (its slot is the next
                // one to be overwritten), else the text's start; never inside the last region.
                let back = if self.lines > CONTEXT {
                    self.recent
                        .get(self.lines % (CONTEXT + 1))
                        .copied()
                        .unwrap_or(start)
                } else {
                    0
                };
                break (back.max(self.emitted), end);
            }
        };
        let (from, mut to) = first;
        let mut plain = 0;
        while plain < CONTEXT {
            let Some((_, end, code)) = self.line() else {
                break;
            };
            to = end;
            plain = if code { 0 } else { plain + 1 };
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
        assert_eq!(kept[0], line(8 - CONTEXT)..line(8 + 3 + CONTEXT));
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
