//! Finding rows of a records index in a text.
//!
//! The text is folded like the cells were, then cut into candidate values of each kind
//! ([`cell`](super::cell)): e-mail addresses around each `@`; runs of digit groups and every
//! contiguous sub-run of up to [`MAX_GROUPS`] groups; runs of one to [`MAX_WORDS`] consecutive
//! words. Each candidate is hashed as it is read; one whose prefix the index's prefilter does
//! not hold stops there (and so do the longer runs from the same start), the others are keyed
//! and looked up. A row is a finding when
//! at least `min_fields` of its columns are found, or one of its unique columns is. Each finding
//! gives the row number, the columns found and the original spans of the matched values, never
//! a value.

use super::cell::{
    is_domain_char, is_local_char, is_number_separator, Keying, Kind, ValueHasher, MAX_GROUPS,
    MAX_WORDS, PREFIX,
};
use super::lanes::{self, Word};
use super::{script, Prefilter, RecordIndex};
use crate::engine::scan::fuel_probe::tag;
use crate::engine::Span;
use crate::protected::fold::{Folded, Folder};

/// A row of the index found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMatch {
    /// The row's number (0-based, in input order after skipped rows).
    pub row: u32,
    /// The columns found, ascending.
    pub columns: Vec<u8>,
    /// Original byte spans of the matched values, ascending.
    pub spans: Vec<Span>,
}

/// Buffers reused across calls to [`RecordIndex::find`].
#[derive(Debug, Default)]
pub struct FindScratch {
    folder: Folder,
    buffers: Buffers,
}

/// The search's own buffers, apart from the folder whose fold they read.
#[derive(Debug, Default)]
struct Buffers {
    /// (keyed hash, folded span) of every candidate.
    candidates: Candidates,
    /// (row, column, folded span) of every hit.
    hits: Vec<(u32, u8, Span)>,
    /// Digit groups of the current run.
    groups: Vec<(usize, usize, bool)>,
    /// Words of the current run.
    words: Vec<Word>,
}

impl RecordIndex {
    /// The rows with at least `min_fields` columns (or one unique column) present in `text`.
    pub fn find(
        &self,
        text: &[u8],
        min_fields: usize,
        scratch: &mut FindScratch,
    ) -> Vec<RecordMatch> {
        let FindScratch { folder, buffers } = scratch;
        let folded = folder.fold(text);
        self.search(&folded, min_fields, buffers)
    }

    /// [`RecordIndex::find`] of a text already folded by the caller (one fold serves both index
    /// kinds, see `engine::scan::protected`); `scratch`'s own folder is not used.
    pub fn find_folded(
        &self,
        folded: &Folded<'_>,
        min_fields: usize,
        scratch: &mut FindScratch,
    ) -> Vec<RecordMatch> {
        self.search(folded, min_fields, &mut scratch.buffers)
    }

    fn search(
        &self,
        folded: &Folded<'_>,
        min_fields: usize,
        buffers: &mut Buffers,
    ) -> Vec<RecordMatch> {
        let Buffers {
            candidates,
            hits,
            groups,
            words,
        } = buffers;
        candidates.clear();
        hits.clear();
        let mut base = 0;
        let gather = Gather {
            keying: &self.keying,
            prefilter: self.prefilter(),
        };
        // Request texts are almost always valid UTF-8: `from_utf8` reads ASCII a word at a
        // time, where the chunk iterator went byte by byte (a fifth of the search on prose).
        match std::str::from_utf8(folded.text()) {
            Ok(text) => gather.all(text, 0, candidates, groups, words),
            Err(_) => {
                for chunk in folded.text().utf8_chunks() {
                    gather.all(chunk.valid(), base, candidates, groups, words);
                    base += chunk.valid().len() + chunk.invalid().len();
                }
            }
        }
        for &(hash, span) in candidates.iter() {
            self.lookup(hash, |row, column| hits.push((row, column, span)));
        }
        tag("R:looked-up");
        hits.sort_unstable();
        let mut found = Vec::new();
        for row_hits in hits.chunk_by(|a, b| a.0 == b.0) {
            let Some(&(row, _, _)) = row_hits.first() else {
                continue;
            };
            let mut columns: Vec<u8> = row_hits.iter().map(|h| h.1).collect();
            columns.dedup();
            let unique = columns
                .iter()
                .any(|&c| self.columns.get(usize::from(c)).is_some_and(|c| c.unique));
            if columns.len() < min_fields.max(1) && !unique {
                continue;
            }
            let mut spans: Vec<Span> = row_hits
                .iter()
                .map(|h| folded.original_span(h.2.start, h.2.end))
                .collect();
            spans.sort_unstable();
            spans.dedup();
            found.push(RecordMatch {
                row,
                columns,
                spans,
            });
        }
        found
    }
}

/// Candidates: (keyed hash of the normalized value, folded span).
type Candidates = Vec<(u64, Span)>;

/// Cuts a text into candidate values, hashed as they are read: no string is built per candidate.
struct Gather<'a> {
    keying: &'a Keying,
    prefilter: Prefilter<'a>,
}

impl Gather<'_> {
    /// Appends the candidates of `text` (a valid UTF-8 run at folded offset `base`).
    fn all(
        &self,
        text: &str,
        base: usize,
        out: &mut Candidates,
        groups: &mut Vec<(usize, usize, bool)>,
        words: &mut Vec<Word>,
    ) {
        tag("R:start");
        self.emails(text, base, out);
        tag("R:emails");
        self.numbers(text, base, out, groups);
        tag("R:numbers");
        self.words(text, base, out, words);
        tag("R:words");
    }

    /// Keeps a candidate when the prefilter holds its prefix. False when it does not and the
    /// prefix is complete, so no longer run from the same start can be held either.
    /// `prefix_held` says the run's complete prefix was already found held (a complete prefix
    /// no longer changes as the run grows, so it is probed once per run, not once per offer).
    #[inline]
    fn offer(
        &self,
        kind: Kind,
        hasher: &ValueHasher,
        span: Span,
        out: &mut Candidates,
        prefix_held: &mut bool,
    ) -> bool {
        let complete = hasher.len() >= PREFIX;
        if (complete && *prefix_held) || self.prefilter.may_hold(self.keying.prefix(kind, hasher)) {
            *prefix_held = complete;
            out.push((self.keying.value(kind, hasher), span));
            true
        } else {
            !complete
        }
    }

    fn emails(&self, text: &str, base: usize, out: &mut Candidates) {
        for at in memchr::memchr_iter(b'@', text.as_bytes()) {
            let before = text.get(..at).unwrap_or_default();
            let after = text.get(at + 1..).unwrap_or_default();
            let local_len: usize = before
                .chars()
                .rev()
                .take_while(|&c| is_local_char(c))
                .map(char::len_utf8)
                .sum();
            let domain_len: usize = after
                .chars()
                .take_while(|&c| is_domain_char(c))
                .map(char::len_utf8)
                .sum();
            let domain = after
                .get(..domain_len)
                .unwrap_or_default()
                .trim_end_matches('.');
            let local = before
                .get(at - local_len..)
                .unwrap_or_default()
                .trim_start_matches('.');
            if local.is_empty() || !domain.contains('.') {
                continue;
            }
            let mut hasher = ValueHasher::default();
            for b in local.bytes().chain([b'@']).chain(domain.bytes()) {
                hasher.write_u8(b.to_ascii_lowercase());
            }
            let start = at - local.len();
            let span = Span::new(base + start, base + at + 1 + domain.len());
            self.offer(Kind::Email, &hasher, span, out, &mut false);
        }
    }

    fn numbers(
        &self,
        text: &str,
        base: usize,
        out: &mut Candidates,
        groups: &mut Vec<(usize, usize, bool)>,
    ) {
        let bytes = text.as_bytes();
        // Digit groups (start, end), and whether each joins the previous one by one separator run.
        groups.clear();
        let mut i = 0;
        while let Some(start) = lanes::next_digit(bytes, i) {
            i = start;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let joined = groups.last().is_some_and(|&(_, prev_end, _)| {
                // Separators are ASCII, so at most three of them are at most three bytes: a
                // long gap is refused without reading it (a text's every group would otherwise
                // read the whole gap before it).
                let between = bytes.get(prev_end..start).unwrap_or(b"x");
                between.len() <= 3 && between.iter().all(|&b| is_number_separator(char::from(b)))
            });
            groups.push((start, i, joined));
        }
        // Every sub-run of at most MAX_GROUPS groups inside a run of joined groups, by start.
        for from in 0..groups.len() {
            let mut hasher = ValueHasher::default();
            let mut prefix_held = false;
            let Some(&(s, _, _)) = groups.get(from) else {
                continue;
            };
            for (n, &(gs, ge, joined)) in groups.iter().enumerate().skip(from).take(MAX_GROUPS) {
                if n > from && !joined {
                    break;
                }
                hasher.write(bytes.get(gs..ge).unwrap_or_default());
                let span = Span::new(base + s, base + ge);
                if !self.offer(Kind::Digits, &hasher, span, out, &mut prefix_held) {
                    break;
                }
            }
        }
    }

    fn words(&self, text: &str, base: usize, out: &mut Candidates, words: &mut Vec<Word>) {
        lanes::words(text, words);
        tag("R:word-list");
        let bytes = text.as_bytes();
        for (w, first_word) in words.iter().enumerate() {
            let mut hasher = ValueHasher::default();
            let mut prefix_held = false;
            for word in words.iter().skip(w).take(MAX_WORDS) {
                // The prefix is tested as soon as it is complete, so a long first word (a CJK
                // clause, an identifier, base64) whose prefix no value has is not read to its
                // end: the same candidates, fewer bytes hashed.
                let first = hasher.len() < PREFIX;
                let held = |hasher: &ValueHasher| {
                    !first
                        || hasher.len() < PREFIX
                        || self
                            .prefilter
                            .may_hold(self.keying.prefix(Kind::Words, hasher))
                };
                let mut cut = false;
                if word.ascii {
                    for &b in bytes.get(word.start..word.end).unwrap_or_default() {
                        // An ASCII letter or digit: setting bit 5 lowercases a letter and
                        // leaves a digit as it is.
                        hasher.write_u8(b | 0x20);
                        if hasher.len() == PREFIX && !held(&hasher) {
                            cut = true;
                            break;
                        }
                    }
                } else {
                    let mut buf = [0u8; 4];
                    let mut rest = text.get(word.start..word.end).unwrap_or_default();
                    while !rest.is_empty() {
                        let before = hasher.len();
                        // A caseless letter is its own lowercase: its bytes as they are.
                        let len = match script::caseless_letter(rest.as_bytes()) {
                            Some(len) => {
                                hasher.write(rest.as_bytes().get(..len).unwrap_or_default());
                                len
                            }
                            None => {
                                let Some(c) = rest.chars().next() else { break };
                                for lower in c.to_lowercase() {
                                    hasher.write(lower.encode_utf8(&mut buf).as_bytes());
                                }
                                c.len_utf8()
                            }
                        };
                        rest = rest.get(len..).unwrap_or_default();
                        if before < PREFIX && hasher.len() >= PREFIX && !held(&hasher) {
                            cut = true;
                            break;
                        }
                    }
                }
                // Not cut with a complete prefix: the crossing's probe found it held.
                prefix_held |= !cut && hasher.len() >= PREFIX;
                let span = Span::new(base + first_word.start, base + word.end);
                if cut || !self.offer(Kind::Words, &hasher, span, out, &mut prefix_held) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Builder;
    use super::*;
    use crate::protected::keyed::Key;

    fn index() -> RecordIndex {
        let mut b = Builder::new(
            Key([9; 16]),
            &["name", "email", "phone", "account"],
            &["account"],
        );
        b.add_row(&[
            "Anna Novak",
            "anna.novak@example.com",
            "+1 555 010 2345",
            "AC-0042-7731",
        ]);
        b.add_row(&[
            "Bruno Silva",
            "b.silva@example.org",
            "555-010-9999",
            "AC-0099-1234",
        ]);
        let (file, stats) = b.finish();
        assert_eq!(stats.rows, 2);
        RecordIndex::from_bytes(&file).unwrap()
    }

    #[test]
    fn two_fields_of_one_row_match() {
        let idx = index();
        let text = "Call ANNA  NOVAK at 1-555-010-2345 today";
        let found = idx.find(text.as_bytes(), 2, &mut FindScratch::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].row, 0);
        assert_eq!(found[0].columns, vec![0, 2]);
        let spans: Vec<&str> = found[0].spans.iter().map(|s| &text[s.range()]).collect();
        assert!(spans.contains(&"ANNA  NOVAK"), "{spans:?}");
    }

    #[test]
    fn invalid_utf8_is_skipped_and_the_spans_stay_the_texts() {
        let idx = index();
        let valid = "Call ANNA  NOVAK at 1-555-010-2345 today";
        let found = idx.find(valid.as_bytes(), 2, &mut FindScratch::default());
        // The same text with invalid bytes before, between and after the values.
        let mut text = b"\xff\xfe Call ".to_vec();
        text.extend_from_slice(b"ANNA  NOVAK at \xc3 1-555-010-2345 \x80today");
        let broken = idx.find(&text, 2, &mut FindScratch::default());
        assert_eq!(broken.len(), 1);
        assert_eq!(broken[0].row, found[0].row);
        assert_eq!(broken[0].columns, found[0].columns);
        let spans: Vec<&[u8]> = broken[0].spans.iter().map(|s| &text[s.range()]).collect();
        assert!(spans.contains(&&b"ANNA  NOVAK"[..]), "{spans:?}");
        assert!(spans.contains(&&b"1-555-010-2345"[..]), "{spans:?}");
    }

    #[test]
    fn fields_of_different_rows_do_not() {
        let idx = index();
        let text = "Anna Novak wrote to b.silva@example.org";
        assert!(idx
            .find(text.as_bytes(), 2, &mut FindScratch::default())
            .is_empty());
        assert!(idx
            .find(b"Anna Novak alone", 2, &mut FindScratch::default())
            .is_empty());
    }

    #[test]
    fn a_unique_column_is_enough() {
        let idx = index();
        let found = idx.find(
            b"account ac 0099 1234 is late",
            2,
            &mut FindScratch::default(),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].row, 1);
    }

    #[test]
    fn emails_match_case_insensitively() {
        let idx = index();
        let found = idx.find(
            b"<Anna.Novak@Example.com>, Anna Novak",
            2,
            &mut FindScratch::default(),
        );
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn long_and_non_ascii_words_match_inside_long_runs() {
        let mut b = Builder::new(Key([4; 16]), &["name", "city", "phone"], &[]);
        b.add_row(&["Bartholomew Okafor", "Zürich", "+41 44 555 0199"]);
        b.add_row(&["Ólafur Jónsson", "Reykjavík", "+354 555 0142"]);
        b.add_row(&["王小明", "北京", "+86 10 5555 0188"]);
        let (file, _) = b.finish();
        let idx = RecordIndex::from_bytes(&file).unwrap();
        let mut scratch = FindScratch::default();
        let rows = |text: &str, scratch: &mut FindScratch| -> Vec<u32> {
            idx.find(text.as_bytes(), 2, scratch)
                .iter()
                .map(|m| m.row)
                .collect()
        };
        // Long words and clauses before and after the values (read until their prefix fails).
        let filler = "Supercalifragilisticexpialidocious 这是一个没有空格的很长的句子用来测试 ";
        let cases = [
            ("BARTHOLOMEW  OKAFOR from zürich", 0),
            ("ólafur jónsson, Reykjavík", 1),
            ("王小明 北京", 2),
            ("Bartholomew Okafor, +41 44 555 0199", 0),
        ];
        for (text, row) in cases {
            let text = format!("{filler}{text} {filler}");
            assert_eq!(rows(&text, &mut scratch), vec![row], "{text}");
        }
        // One value of a row is not enough; two values of different rows neither.
        assert!(rows(&format!("{filler}Zürich {filler}"), &mut scratch).is_empty());
        assert!(rows("Bartholomew Okafor in Reykjavík", &mut scratch).is_empty());
    }

    #[test]
    fn an_index_opened_inside_a_larger_buffer_finds_the_same() {
        let mut b = Builder::new(Key([9; 16]), &["name", "phone"], &[]);
        b.add_row(&["Anna Novak", "+1 555 010 2345"]);
        let (file, _) = b.finish();
        let mut buffer = b"leading bytes".to_vec();
        let at = buffer.len()..buffer.len() + file.len();
        buffer.extend_from_slice(&file);
        buffer.extend_from_slice(b"trailing");
        let idx = RecordIndex::open_in(buffer.clone(), at.clone()).unwrap();
        let found = idx.find(b"anna novak 15550102345", 2, &mut FindScratch::default());
        assert_eq!(found.len(), 1);
        // A range past the buffer, or one that is not the whole file, is refused.
        assert!(RecordIndex::open_in(buffer.clone(), at.start..buffer.len() + 1).is_err());
        assert!(RecordIndex::open_in(buffer, at.start..at.end - 1).is_err());
    }

    #[test]
    fn an_index_of_an_older_format_is_refused_with_rebuild() {
        let mut b = Builder::new(Key([9; 16]), &["name"], &[]);
        b.add_row(&["Anna Novak"]);
        let (mut file, _) = b.finish();
        file[8..12].copy_from_slice(&2u32.to_le_bytes());
        let err = RecordIndex::from_bytes(&file).unwrap_err().to_string();
        assert!(
            err.contains("version 2") && err.contains("rebuild"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_and_empty_rows_are_counted() {
        let mut b = Builder::new(Key([1; 16]), &["a", "b"], &[]);
        b.add_row(&["x y", "1"]);
        b.add_row(&["X  Y", "1"]);
        b.add_row(&["", " "]);
        let (_, stats) = b.finish();
        assert_eq!(
            (stats.rows, stats.duplicate_rows, stats.empty_rows),
            (1, 1, 1)
        );
    }
}
