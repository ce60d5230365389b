//! Byte-scanning helpers shared by the passes that touch every byte of a field.
//!
//! They work on whole machine words where the standard library's convenient
//! forms go byte by byte: `Utf8Chunks` validates one byte at a time, while
//! `str::from_utf8` checks ASCII a word at a time; a JSON string's plain run
//! ends at a `"`, `\` or control byte, found here eight bytes per step (wasm32
//! has native 64-bit integers, so this holds inside the filter too); a layer's gate tests
//! eight positions' byte classes per step ([`next_class_window`]).

/// The text's valid UTF-8 runs, each with the invalid bytes after it, like
/// [`slice::utf8_chunks`], but one run without a byte-by-byte walk when all of `text` is valid.
pub fn utf8_runs(text: &[u8]) -> impl Iterator<Item = (&str, &[u8])> {
    let whole = std::str::from_utf8(text).ok();
    let chunked = whole
        .is_none()
        .then(|| text.utf8_chunks().map(|c| (c.valid(), c.invalid())));
    whole
        .map(|s| (s, &[][..]))
        .into_iter()
        .chain(chunked.into_iter().flatten())
}

/// The first position `i` from `from` where `test` hits, tested eight positions at a time.
/// `test(before, here, next, after)` gets, for eight consecutive positions `i`, the classes
/// (`table`) of bytes `i - 1`, `i`, `i + 1` and `i + 2` packed one byte per lane in text order
/// (`pad`'s classes outside `text`), and returns the lanes that hit (any bit set in a lane).
/// A layer's gate whose hits are sparse but whose bytes are common (spaces, word ends): one
/// table read per byte and a few word operations per eight positions, where a test per
/// position costs tens of instructions per byte in wasm.
#[inline]
pub fn next_class_window(
    text: &[u8],
    from: usize,
    table: &[u8; 256],
    pad: u8,
    test: impl Fn(u64, u64, u64, u64) -> u64,
) -> Option<usize> {
    let class = |byte: Option<&u8>| {
        let byte = usize::from(byte.copied().unwrap_or(pad));
        u64::from(table.get(byte).copied().unwrap_or(0))
    };
    let lanes = |start: usize| match text.get(start..start + 8) {
        Some(bytes) => bytes.iter().rev().fold(0, |l, b| l << 8 | class(Some(b))),
        None => (start..start + 8)
            .rev()
            .fold(0, |l, i| l << 8 | class(text.get(i))),
    };
    let mut before = class(from.checked_sub(1).and_then(|i| text.get(i))) << 56;
    let mut here = lanes(from);
    let mut at = from;
    while at < text.len() {
        let ahead = lanes(at + 8);
        let hits = test(
            here << 8 | before >> 56,
            here,
            here >> 8 | ahead << 56,
            here >> 16 | ahead << 48,
        );
        if hits != 0 {
            let lane = (hits.trailing_zeros() / 8) as usize;
            // Lanes past the end hold `pad`'s classes, on which a gate may hit too.
            return (at + lane < text.len()).then_some(at + lane);
        }
        (before, here) = (here, ahead);
        at += 8;
    }
    None
}

/// The start of the first run of at least `n` (≥ 1) bytes that are `member`s in `text`,
/// lying after `from` (counted from `from`) and starting before `before`. It reads about
/// one byte in `n` where runs are short: every run of `n` covers a multiple of `n` past `from`.
pub fn first_run_of(
    text: &[u8],
    from: usize,
    before: usize,
    n: usize,
    member: impl Fn(u8) -> bool,
) -> Option<usize> {
    let n = n.max(1);
    let is_member = |i: usize| text.get(i).is_some_and(|&b| member(b));
    let mut i = from;
    while i < before {
        let probe = i + n - 1;
        if probe >= text.len() {
            return None;
        }
        if !is_member(probe) {
            i = probe + 1;
            continue;
        }
        // Every run of `n` that starts in `i..=probe` covers `probe`.
        let mut start = probe;
        while start > i && is_member(start - 1) {
            start -= 1;
        }
        let mut end = probe + 1;
        while end - start < n && is_member(end) {
            end += 1;
        }
        if end - start >= n {
            return Some(start);
        }
        i = end + 1;
    }
    None
}

fn is_json_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// Position of the first `"`, `\` or control byte: what a JSON string cannot hold as it is.
pub fn find_json_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // A byte of `x` is zero (resp. below n) only if its lane of `(x - ONES * n) & !x & HIGHS` is set;
    // a set lane can also follow a true hit, never stand alone, so the word test is exact.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
    let special = |w: u64| {
        below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20)
            != 0
    };
    crate::engine::byte_set::next_where(bytes, 0, special, is_json_special)
}

/// The value of one hex digit, either case.
pub fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex of `bytes` (fingerprints, digests).
pub fn lower_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_special_bytes_are_found_in_every_lane() {
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                    let mut text = vec![b'a'; len];
                    // Bytes around the hit that must not count: high bytes, space, and 0x20's neighbours.
                    for (i, b) in text.iter_mut().enumerate() {
                        *b = [b'a', 0xe6, b' ', b'!', 0x7f, b'#', b']'][i % 7];
                    }
                    text[at] = special;
                    assert_eq!(find_json_special(&text), Some(at), "len {len} at {at}");
                }
            }
            let plain: Vec<u8> = (0..len).map(|i| [b'x', 0xff, b' ', b'~'][i % 4]).collect();
            assert_eq!(find_json_special(&plain), None);
        }
    }

    #[test]
    fn utf8_runs_match_the_standard_chunks() {
        for text in [
            &b"plain"[..],
            "机密 text".as_bytes(),
            b"a\xffb\xe6\x9cc",
            b"",
        ] {
            let nonempty = |(s, b): &(&str, &[u8])| !s.is_empty() || !b.is_empty();
            let ours: Vec<_> = utf8_runs(text).filter(nonempty).collect();
            let std: Vec<_> = text
                .utf8_chunks()
                .map(|c| (c.valid(), c.invalid()))
                .filter(nonempty)
                .collect();
            assert_eq!(ours, std);
        }
    }

    #[test]
    fn next_class_window_finds_every_window_a_walk_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x5851_f42d_4c95_7f2d);
        // Classes: x → 1, y → 2, z → 4, anything else (the pad `.`) → 0.
        let mut table = [0u8; 256];
        (
            table[usize::from(b'x')],
            table[usize::from(b'y')],
            table[usize::from(b'z')],
        ) = (1, 2, 4);
        let class = |b: u8| table[usize::from(b)];
        let test = |a: u8, b: u8, c: u8, d: u8| (a == 1) & (c == 2) | (d == 4) & (b == 1);
        let lanes = |a: u64, b: u64, c: u64, d: u64| {
            let ones = u64::from_le_bytes([1; 8]);
            (a & ones) & (c >> 1 & ones) | (d >> 2 & ones) & (b & ones)
        };
        for _ in 0..2000 {
            let len = rng.below(90);
            let text: Vec<u8> = (0..len).map(|_| rng.pick(b"xyz.......")).collect();
            let at = |i: Option<usize>| class(i.and_then(|i| text.get(i).copied()).unwrap_or(b'.'));
            let walk = |from: usize| {
                (from..text.len()).find(|&i| {
                    test(
                        at(i.checked_sub(1)),
                        at(Some(i)),
                        at(Some(i + 1)),
                        at(Some(i + 2)),
                    )
                })
            };
            for from in 0..=len + 1 {
                assert_eq!(
                    next_class_window(&text, from, &table, b'.', lanes),
                    walk(from)
                );
            }
        }
    }
}
