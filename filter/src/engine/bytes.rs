//! Byte-scanning helpers shared by the passes that touch every byte of a field.
//!
//! Both work on whole machine words where the standard library's convenient
//! forms go byte by byte: `Utf8Chunks` validates one byte at a time, while
//! `str::from_utf8` checks ASCII a word at a time; a JSON string's plain run
//! ends at a `"`, `\` or control byte, found here eight bytes per step (wasm32
//! has native 64-bit integers, so this holds inside the filter too).

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

/// Positions tested per block by [`any_window`]: the test of a block runs without an early
/// exit, so that the compiler can test many positions per instruction.
const WINDOW_BLOCK: usize = 64;
/// Positions [`next_window`] tests one by one before it tests blocks.
const WINDOW_PROBE: usize = 16;

/// Whether `test(text[i], text[i + step], text[i + 2·step], text[i + 3·step])` holds for some
/// `i` of `text`, reading `pad` past its end. A layer's gate: one pass that costs a fraction
/// of a cycle per byte when `test` is branch-free (combine conditions with `&` and `|`, not
/// `&&` and `||`), where a byte-by-byte walk with early exits costs several.
#[inline]
pub fn any_window(
    text: &[u8],
    step: usize,
    pad: u8,
    test: impl Fn(u8, u8, u8, u8) -> bool,
) -> bool {
    next_window(text, 0, step, pad, test).is_some()
}

/// The first `i` from `from` where [`any_window`]'s `test` holds: blocks of positions are
/// tested branch-free, and only a block with a hit is walked position by position.
#[inline]
pub fn next_window(
    text: &[u8],
    from: usize,
    step: usize,
    pad: u8,
    test: impl Fn(u8, u8, u8, u8) -> bool,
) -> Option<usize> {
    let at = |i: usize| text.get(i).copied().unwrap_or(pad);
    let hit = |i: usize| test(at(i), at(i + step), at(i + 2 * step), at(i + 3 * step));
    // A few windows one by one first: where hits are dense (a caller stepping from hit to
    // hit), a whole block per step would cost more than it saves.
    let probed = (from + WINDOW_PROBE).min(text.len());
    if let Some(i) = (from..probed).find(|&i| hit(i)) {
        return Some(i);
    }
    // Windows that end inside `text`, tested a block at a time.
    let whole = text.len().saturating_sub(3 * step);
    let mut block = probed;
    while block < whole {
        let n = WINDOW_BLOCK.min(whole - block);
        let lanes = (
            text.get(block..block + n),
            text.get(block + step..block + step + n),
            text.get(block + 2 * step..block + 2 * step + n),
            text.get(block + 3 * step..block + 3 * step + n),
        );
        let (Some(a), Some(b), Some(c), Some(d)) = lanes else {
            break;
        };
        let any = a
            .iter()
            .zip(b)
            .zip(c)
            .zip(d)
            .fold(false, |any, (((&w, &x), &y), &z)| any | test(w, x, y, z));
        if any {
            return (block..block + n).find(|&i| hit(i));
        }
        block += n;
    }
    (block..text.len()).find(|&i| hit(i))
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
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let mut lanes = [0u8; 8];
        lanes.copy_from_slice(word);
        let w = u64::from_le_bytes(lanes);
        let special = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if special != 0 {
            if let Some(p) = word.iter().position(|&b| is_json_special(b)) {
                return Some(offset + p);
            }
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| is_json_special(b))
        .map(|p| offset + p)
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
    fn next_window_finds_every_window_a_walk_finds() {
        let mut rng = crate::engine::test_rng::TestRng::new(0x5851_f42d_4c95_7f2d);
        let test =
            |a: u8, b: u8, c: u8, d: u8| (a == b'x') & (c == b'y') | (d == b'z') & (b == b'x');
        for _ in 0..2000 {
            let len = rng.below(300);
            let text: Vec<u8> = (0..len).map(|_| rng.pick(b"xyz..........")).collect();
            for step in 1..=5 {
                let at = |i: usize| text.get(i).copied().unwrap_or(b'.');
                let walk = |from: usize| {
                    (from..text.len())
                        .find(|&i| test(at(i), at(i + step), at(i + 2 * step), at(i + 3 * step)))
                };
                for from in [0, 1, 17, 100] {
                    assert_eq!(next_window(&text, from, step, b'.', test), walk(from));
                }
            }
        }
    }
}
