//! Normalizing a value by what it holds, the same way for a table's cell and a request's text.
//!
//! Three kinds, each hashed in its own domain:
//!
//! * **e-mail** (`local@domain.tld`): lowercased. `Anna.Novak@Example.COM` matches its cell.
//! * **digits** (phone, account, card and ID numbers: only digits and `+ - . ( ) /` and spaces):
//!   the digits alone, so `+1 (555) 010-2345` and `1-555-010-2345` are equal. A text offers each
//!   run of digit groups and every sub-run, so a number inside a longer one is found too. Digits
//!   are matched as written: a country prefix present on one side only does not match.
//! * **words** (names, addresses, mixed codes like `AC-0042-77`): Unicode-folded (the engine's
//!   folding), lowercased, every non-alphanumeric removed, so `NOVAK,  Anna` and `novak anna`
//!   are equal, as are `AC-0042-77` and `ac004277`. A text offers every run of one to
//!   [`MAX_WORDS`] consecutive words. Word order counts: `Anna Novak` does not match `Novak, Anna`.
//!
//! Not survived: abbreviations (`A. Novak`), transliteration, typos, reordered words, a number
//! written in words. Exact data match is exact by design: it finds the table's own values.

use crate::protected::fold::Folder;
use crate::protected::keyed::{Key, Mixer};

/// The normalized bytes of a value the prefilter knows it by (all of a shorter value).
pub const PREFIX: usize = 4;

/// The most consecutive words a text offers as one candidate value.
pub const MAX_WORDS: usize = 4;
/// The most consecutive digit groups a text offers as one candidate number.
pub const MAX_GROUPS: usize = 6;

/// What a normalized value holds; the hashing domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An e-mail address, lowercased.
    Email = 1,
    /// A number: its digits only.
    Digits = 2,
    /// Words: lowercased alphanumerics, separators removed.
    Words = 3,
}

/// FNV-1a over a value's normalized bytes, fed in pieces (so a text's runs of words are hashed
/// as they are read, no string per candidate), remembering its state after [`PREFIX`] bytes.
#[derive(Debug, Clone, Copy)]
pub struct ValueHasher {
    state: u64,
    len: usize,
    prefix: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl Default for ValueHasher {
    fn default() -> Self {
        ValueHasher {
            state: FNV_OFFSET,
            len: 0,
            prefix: FNV_OFFSET,
        }
    }
}

impl ValueHasher {
    /// Feeds one normalized byte.
    #[inline]
    pub fn write_u8(&mut self, byte: u8) {
        self.state = (self.state ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        self.len += 1;
        if self.len == PREFIX {
            self.prefix = self.state;
        }
    }

    /// Feeds normalized bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u8(b);
        }
    }

    /// Bytes fed so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The unkeyed hash of the whole value.
    pub fn value(&self) -> u64 {
        self.state
    }

    /// The unkeyed hash of the value's prefix.
    pub fn prefix(&self) -> u64 {
        if self.len >= PREFIX {
            self.prefix
        } else {
            self.state
        }
    }
}

/// The keying of values and prefixes of one index, per kind.
#[derive(Debug, Clone, Copy)]
pub struct Keying {
    values: [Mixer; 4],
    prefixes: [Mixer; 4],
}

impl Keying {
    /// The keying under `key`.
    pub fn new(key: &Key) -> Keying {
        let m = |d: u8| key.mixer(d);
        Keying {
            values: [m(0), m(1), m(2), m(3)],
            prefixes: [m(16), m(17), m(18), m(19)],
        }
    }

    /// The stored hash of a value of `kind`.
    #[inline]
    pub fn value(&self, kind: Kind, hasher: &ValueHasher) -> u64 {
        self.values
            .get(kind as usize)
            .map_or(0, |m| m.mix(hasher.value()))
    }

    /// The prefilter hash of a value's prefix.
    #[inline]
    pub fn prefix(&self, kind: Kind, hasher: &ValueHasher) -> u64 {
        self.prefixes
            .get(kind as usize)
            .map_or(0, |m| m.mix(hasher.prefix()))
    }
}

/// The normalized form of a table cell, or `None` for an empty one.
pub fn normalize_cell(folder: &mut Folder, cell: &str) -> Option<(Kind, String)> {
    let folded = folder.fold(cell.trim().as_bytes());
    let text = String::from_utf8_lossy(folded.text()).into_owned();
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some((local, domain)) = text.split_once('@') {
        if is_email(local, domain) {
            return Some((Kind::Email, text.to_ascii_lowercase()));
        }
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if !digits.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || is_number_separator(c))
    {
        return Some((Kind::Digits, digits));
    }
    let words = words_form(text);
    (!words.is_empty()).then_some((Kind::Words, words))
}

/// Lowercased alphanumerics of `text`, everything else removed.
pub fn words_form(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Characters that may separate digit groups of one number.
pub fn is_number_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '+')
}

fn is_email(local: &str, domain: &str) -> bool {
    !local.is_empty()
        && local.chars().all(is_local_char)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.chars().all(is_domain_char)
}

/// Characters of an e-mail's local part.
pub fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

/// Characters of an e-mail's domain.
pub fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(cell: &str) -> Option<(Kind, String)> {
        normalize_cell(&mut Folder::new(), cell)
    }

    #[test]
    fn each_kind_normalizes() {
        assert_eq!(
            norm(" Anna.Novak@Example.COM "),
            Some((Kind::Email, "anna.novak@example.com".into()))
        );
        assert_eq!(
            norm("+1 (555) 010-2345"),
            Some((Kind::Digits, "15550102345".into()))
        );
        assert_eq!(
            norm("NOVAK,  Anna"),
            Some((Kind::Words, "novakanna".into()))
        );
        assert_eq!(norm("AC-0042-77"), Some((Kind::Words, "ac004277".into())));
        assert_eq!(norm("Ｎｏｖａｋ"), Some((Kind::Words, "novak".into())));
        assert_eq!(norm("  "), None);
        assert_eq!(norm("--"), None);
        assert_eq!(norm("a@b"), Some((Kind::Words, "ab".into())));
    }

    #[test]
    fn values_hash_in_pieces_and_keep_their_prefix() {
        let mut whole = ValueHasher::default();
        whole.write(b"annanovak");
        let mut pieces = ValueHasher::default();
        pieces.write(b"an");
        pieces.write(b"nanovak");
        assert_eq!(whole.value(), pieces.value());
        let mut prefix = ValueHasher::default();
        prefix.write(b"anna");
        assert_eq!(whole.prefix(), prefix.value());
        assert_eq!(prefix.prefix(), prefix.value());
    }
}
