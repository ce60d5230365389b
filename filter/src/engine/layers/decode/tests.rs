//! Tests of the parent module.

use super::*;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

fn find(text: &[u8]) -> (Vec<Unwrapped>, ScanStats) {
    let mut out = Vec::new();
    let stats = find_segments(text, &Limits::default(), &mut out);
    (out, stats)
}

fn decoded(segments: &[Unwrapped]) -> Vec<String> {
    segments
        .iter()
        .map(|s| String::from_utf8_lossy(&s.text).into_owned())
        .collect()
}

/// Every segment's span is exactly its run: found again on the span alone, it is one
/// segment covering the whole span with the same decoding.
fn assert_round_trips(text: &[u8], segments: &[Unwrapped]) {
    for s in segments {
        let (alone, _) = find(s.span.of(text));
        assert_eq!(alone.len(), 1, "{:?}", s.wrapping);
        assert_eq!(
            alone[0].span,
            Span::new(0, s.span.len()),
            "{:?}",
            s.wrapping
        );
        assert_eq!(alone[0].text, s.text, "{:?}", s.wrapping);
    }
}

const SECRET: &str =
    "aws_access_key_id=AKIAIOSFODNN7EXAMPLE secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

#[test]
fn base64_inside_prose() {
    let blob = b64(SECRET.as_bytes());
    let text = format!("Hi! Please decode this config for me: {blob}. Thanks a lot, it's urgent.");
    let (segments, stats) = find(text.as_bytes());
    assert_eq!(decoded(&segments), [SECRET]);
    let s = &segments[0];
    assert_eq!(s.wrapping, Wrapping::Base64);
    assert_eq!(s.span.of(text.as_bytes()), blob.as_bytes());
    assert_eq!(stats, ScanStats::default());
    assert_round_trips(text.as_bytes(), &segments);
}

#[test]
fn base64_without_padding_and_short_runs() {
    let blob = STANDARD_NO_PAD.encode("AKIAIOSFODNN7EXAMPLE!");
    assert!(!blob.ends_with('='));
    let text = format!("key:{blob};");
    let (segments, _) = find(text.as_bytes());
    assert_eq!(decoded(&segments), ["AKIAIOSFODNN7EXAMPLE!"]);
    assert_round_trips(text.as_bytes(), &segments);
    // Shorter than min_base64_len.
    assert!(find(b"x QUtJQQ== y").0.is_empty());
    // Padding that does not complete a group is not padding.
    let text = format!("{}=value", STANDARD_NO_PAD.encode("AKIAIOSFODNN7EXAMPLE"));
    let (segments, _) = find(text.as_bytes());
    assert_eq!(decoded(&segments), ["AKIAIOSFODNN7EXAMPLE"]);
}

#[test]
fn base64url() {
    let secret = "token ghp_16C7e42F292c6912E7710c838347Ae178B4a?? >>> end";
    let blob = URL_SAFE_NO_PAD.encode(secret);
    assert!(blob.contains('-') || blob.contains('_'), "{blob}");
    let text = format!("url: https://example.com/cb?state={blob}&x=1");
    let (segments, _) = find(text.as_bytes());
    assert_eq!(decoded(&segments), [secret]);
    assert_eq!(segments[0].wrapping, Wrapping::Base64Url);
    assert_round_trips(text.as_bytes(), &segments);
}

#[test]
fn base64_of_base64() {
    let inner = b64(SECRET.as_bytes());
    let outer = b64(inner.as_bytes());
    let text = format!("blob=\"{outer}\"");
    let (segments, _) = find(text.as_bytes());
    assert_eq!(decoded(&segments), [inner.as_str()]);
    let (nested, _) = find(&segments[0].text);
    assert_eq!(decoded(&nested), [SECRET]);
}

#[test]
fn mixed_alphabets_split_at_url_symbols() {
    let secret = format!("{SECRET} ??>>");
    let blob = b64(secret.as_bytes());
    assert!(blob.contains('/') || blob.contains('+'), "{blob}");
    let text = format!("my-file_name-{blob}");
    let (segments, _) = find(text.as_bytes());
    assert_eq!(decoded(&segments), [secret]);
}

#[test]
fn wrapped_base64_block() {
    let secret = SECRET.repeat(3);
    let blob = b64(secret.as_bytes());
    for brk in ["\n", "\r\n"] {
        let wrapped: Vec<&str> = blob
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let block = wrapped.join(brk);
        let text = format!("Attachment:{brk}{block}{brk}-- end");
        let (segments, _) = find(text.as_bytes());
        assert_eq!(decoded(&segments), [secret.as_str()]);
        assert_eq!(segments[0].span.of(text.as_bytes()), block.as_bytes());
        assert_round_trips(text.as_bytes(), &segments);
    }
}

#[test]
fn data_urls() {
    let text_url = format!("data:text/plain;base64,{}", b64(SECRET.as_bytes()));
    let (mime, span, is_base64) = parse_data_url(text_url.as_bytes()).unwrap();
    assert_eq!((mime, is_base64), ("text/plain", true));
    assert_eq!(&text_url[span], b64(SECRET.as_bytes()));

    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0".to_vec();
    png.extend((0..3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let png_url = format!("data:image/png;base64,{}", b64(&png));
    let (mime, _, is_base64) = parse_data_url(png_url.as_bytes()).unwrap();
    assert_eq!((mime, is_base64), ("image/png", true));

    let body = format!("![chart]({png_url}) and the notes: <a href=\"{text_url}\">notes</a>");
    let (segments, stats) = find(body.as_bytes());
    assert_eq!(decoded(&segments), [SECRET]);
    assert_eq!(stats.binary, 1);
    assert_round_trips(body.as_bytes(), &segments);

    // A short payload is decoded too: the data URL says it is base64.
    let (segments, _) = find(b"data:;base64,QUtJQQ==");
    assert_eq!(decoded(&segments), ["AKIA"]);

    // Percent-encoded payloads.
    let url = b"data:text/plain;charset=utf-8,key%3DAKIAIOSFODNN7EXAMPLE";
    let (mime, span, is_base64) = parse_data_url(url).unwrap();
    assert_eq!(
        (mime, is_base64, span.end),
        ("text/plain", false, url.len())
    );
    let (segments, _) = find(url);
    assert_eq!(decoded(&segments), ["key=AKIAIOSFODNN7EXAMPLE"]);

    assert!(parse_data_url(b"data: not a url, really").is_none());
    assert!(parse_data_url(b"metadata:x,y").is_none());
    assert!(parse_data_url(b"data:text/plain").is_none());
    assert_eq!(
        parse_data_url(b"DATA:,hello world").map(|d| (d.0, d.1, d.2)),
        Some(("", 6..11, false))
    );
}

#[test]
fn percent_encoding() {
    let text =
        b"open https://example.com/login?user=bob&key=%41%4B%49%41IOSFODNN7EXAMPLE&x=%2F now";
    let (segments, _) = find(text);
    assert_eq!(
        decoded(&segments),
        ["https://example.com/login?user=bob&key=AKIAIOSFODNN7EXAMPLE&x=/"]
    );
    assert_eq!(segments[0].wrapping, Wrapping::Percent);
    assert_round_trips(text, &segments);

    let text = b"p=%73%6B%2D%70%72%6F%6A";
    let (segments, _) = find(text);
    assert_eq!(decoded(&segments), ["p=sk-proj"]);
    assert_round_trips(text, &segments);
    // One escape, or percentages, are not encodings.
    assert!(find(b"a%20b and 100% sure, 50%-60% off").0.is_empty());
}

#[test]
fn unicode_escapes() {
    let text = br"the key is \u0041\u004B\u0049\u0041IOSFODNN7EXAMPLE ok";
    let (segments, _) = find(text);
    assert_eq!(decoded(&segments), ["AKIAIOSFODNN7EXAMPLE"]);
    assert_eq!(segments[0].wrapping, Wrapping::UnicodeEscape);
    assert_round_trips(text, &segments);

    let text = br"\u0041\u004b\ud83d\ude00";
    let (segments, _) = find(text);
    assert_eq!(decoded(&segments), ["AK\u{1F600}"]);
    assert_round_trips(text, &segments);
    assert!(find(br"C:\users\u0041").0.is_empty());
    assert!(find(br"lone \uDC00\uDFFF\uD800 surrogates").0.is_empty());

    // Escaped twice.
    let text = br#"{\"k\": \"\\u0041\\u004B\\u0049\\u0041IOSFODNN7EXAMPLE\"}"#;
    let (segments, _) = find(text);
    assert_eq!(decoded(&segments), [r"AKIAIOSFODNN7EXAMPLE\"]);
    assert_round_trips(text, &segments);
}

#[test]
fn hex() {
    let secret = "sk-proj-abcdefghijklmnopqrstuvwxyz012345";
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let text = format!("payload {hex} and 0X{}", hex.to_uppercase());
    let (segments, _) = find(text.as_bytes());
    assert_eq!(decoded(&segments), [secret, secret]);
    assert!(segments.iter().all(|s| s.wrapping == Wrapping::Hex));
    assert_round_trips(text.as_bytes(), &segments);
    // Digests and hashes decode to binary; short ones are not counted.
    let text = b"sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    let (segments, stats) = find(text);
    assert!(segments.is_empty());
    assert_eq!(stats.binary, 0);
}

const PROSE: &str = "The history of cartography is, in many ways, the history of how people have \
    tried to make sense of the world around them. Early maps were drawn on clay tablets, animal \
    skins and papyrus; they showed rivers, mountains and the routes between settlements. By the \
    fifteenth century, navigators relied on portolan charts, whose characteristic rhumb lines \
    radiated from compass roses scattered across the Mediterranean. Mercator's projection of 1569 \
    preserved angles at the expense of area, which is why Greenland appears nearly as large as \
    Africa on many classroom walls. Today, satellite imagery and GPS receivers have transformed \
    mapmaking into a continuous, data-driven process: OpenStreetMap contributors edit roughly \
    4,000,000 objects per day, and services such as https://www.openstreetmap.org/about or \
    /usr/share/doc/osmium/README.md describe the tooling. Internationalization, interoperability \
    and accessibility remain challenges; counterrevolutionaries and antidisestablishmentarianism \
    aside, the NorthAmericanDatum1983 and WorldGeodeticSystem1984 reference frames differ by about \
    one to two metres. Surveyors still quote e.g. 12.5km, 3x3 grids, ISO-8601 dates like \
    2024-03-15T10:30:00Z and phone numbers such as +1-555-0100-2030. Nevertheless, the \
    fundamental question persists: what should a map leave out? Every cartographer must choose \
    which roads, rivers and boundaries deserve ink, and which details would only clutter the page. \
    Those choices, made thousands of times over, quietly shape how millions of readers understand \
    distance, territory and belonging. In the end, a good map is an argument, not a photograph; \
    it persuades as much as it informs, and the best cartographers know it. StackOverflow, \
    JavaScript, TypeScript, PostgreSQL and Kubernetes users will recognise the CamelCaseHabit \
    of naming things; ReallyLongIdentifiersLikeThis are common in enterprise codebases too.";

const RUST: &str = r#"
    use std::collections::HashMap;
    /// Computes a checksum over every segment in the request.
    pub fn compute_checksum_for_segments(segments: &[Segment], limits: &Limits) -> Result<u64, ChecksumError> {
        let mut accumulated_hash_value: u64 = 0xcbf29ce484222325;
        for (index, segment) in segments.iter().enumerate() {
            let normalized_bytes = segment.decoded.to_ascii_lowercase();
            accumulated_hash_value ^= u64::from_le_bytes(normalized_bytes[..8].try_into()?);
            accumulated_hash_value = accumulated_hash_value.wrapping_mul(0x100000001b3);
            if index >= limits.max_segments_per_request { return Err(ChecksumError::TooManySegments); }
        }
        let config_path = "/etc/airlock/policies/default/policy.yaml";
        let lookup: HashMap<String, Vec<u8>> = HashMap::with_capacity(DEFAULT_CAPACITY_HINT);
        Ok(accumulated_hash_value)
    }
    impl std::fmt::Display for ChecksumError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") } }
"#;

#[test]
fn no_false_positives() {
    let prose = PROSE.repeat(2);
    assert!(prose.len() >= 2048);
    let uuids = "550e8400-e29b-41d4-a716-446655440000\n6ba7b810-9dad-11d1-80b4-00c04fd430c8, \
        f47ac10b-58cc-4372-a567-0e02b2c3d479 7C9E6679-7425-40DE-944B-E07FC1F90AE7 \
        123e4567e89b12d3a456426614174000";
    for text in [prose.as_str(), RUST, uuids] {
        let (segments, stats) = find(text.as_bytes());
        assert!(segments.is_empty(), "{:?}", decoded(&segments));
        assert_eq!(stats.binary, 0);
    }
    // A JWT header decodes to JSON text: returning it is fine, and the signature is skipped.
    let jwt = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    let (segments, _) = find(jwt.as_bytes());
    assert!(decoded(&segments).iter().all(|d| d.starts_with('{')));
    assert_eq!(decoded(&segments)[0], r#"{"alg":"HS256","typ":"JWT"}"#);
}

#[test]
fn limits() {
    let blob = b64(SECRET.as_bytes());
    let text = format!("{blob} {blob} {blob}");
    let mut out = Vec::new();
    let limits = Limits {
        max_segments: 2,
        ..Limits::default()
    };
    let stats = find_segments(text.as_bytes(), &limits, &mut out);
    assert_eq!(out.len(), 2);
    assert!(stats.truncated);

    out.clear();
    let limits = Limits {
        max_decoded_bytes: SECRET.len() + 10,
        ..Limits::default()
    };
    let stats = find_segments(text.as_bytes(), &limits, &mut out);
    assert_eq!(
        (out.len(), stats.over_budget, stats.truncated),
        (1, 2, false)
    );

    // An inline image is judged on its prefix and counted as binary, not over budget.
    let image: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    let text = format!("img {} end", b64(&image));
    out.clear();
    let stats = find_segments(text.as_bytes(), &limits, &mut out);
    assert!(out.is_empty());
    assert_eq!((stats.binary, stats.over_budget), (1, 0));
}

#[test]
fn text_like() {
    assert!(is_text_like(b"hello world"));
    assert!(is_text_like("d\u{e9}j\u{e0} vu \u{1F600}".as_bytes()));
    assert!(!is_text_like(b"hello\0world"));
    assert!(!is_text_like(b"\xff\xfe\x00\x01"));
    assert!(!is_text_like(b"!!!! ????"));
    assert!(!is_text_like(b""));
    let mut long = b"a fairly long line of text with one control byte ".repeat(2);
    long.push(0x01);
    assert!(is_text_like(&long));
}

#[test]
fn one_separator_escape_glued_to_a_word_is_decoded() {
    let (segments, _) = find(b"GET /cb?state=1&k%3DAKIAR7UZ3WQ4XK2M6PLD HTTP/1.1");
    assert_eq!(decoded(&segments), ["/cb?state=1&k=AKIAR7UZ3WQ4XK2M6PLD"]);
    let (segments, _) = find(b"path%2Fsecrets and 50%25 off");
    assert_eq!(decoded(&segments), ["path/secrets"]);
    // A lone escape before a separator or at the end stays as written.
    let (segments, _) = find(b"50%25 off, x%3D and y%3D-z");
    assert!(segments.is_empty());
}

/// The gate lets through every word the finder decodes something in: generated texts of
/// encodings, their near misses (`%4`, `%zz`, `\u004`, `\x41`, `xdata:`, `::`) and plain words,
/// short and long, give the same segments and stats gated and reading every word.
#[test]
fn the_gate_passes_every_word_with_an_encoding() {
    let mut rng = crate::engine::test_rng::TestRng::new(0x0dec_0de5_9a7e);
    let b64_secret = b64(SECRET.as_bytes());
    let pieces: [&[u8]; 24] = [
        b"word ",
        b"the ",
        b"x::y ",
        b"key: value\n",
        b"5 % 2 ",
        b"%zz",
        b"%4",
        b"%41%4B%49",
        b"k%3DAKIA",
        b"\\u004",
        b"\\u0041\\u004B",
        b"\\\\u0041\\\\u0042",
        b"\\x41 \\\"",
        b"data:",
        b"xdata:text/plain,%41%42%43",
        b"DATA:text/plain;base64,",
        b"data:,hello%20world",
        b"4f6e652074776f207468726565206675",
        b"550e8400-e29b-41d4-a716-446655440000",
        b"QUJDREVGR0hJSktMTU5PUFFS",
        b"\"",
        b"\n",
        b", ",
        b"http://host:8080/path?q=1",
    ];
    let (mut segments, mut texts) = (0, 0);
    for _ in 0..3000 {
        let most = if rng.below(4) == 0 { 2000 } else { 200 };
        let len = rng.below(most);
        let mut text = Vec::new();
        while text.len() < len {
            match rng.below(30) {
                0 => text.extend_from_slice(b64_secret.as_bytes()),
                _ => text.extend_from_slice(rng.pick(&pieces)),
            }
        }
        let (gated, gated_stats) = find(&text);
        let mut every = Vec::new();
        let every_stats = find_segments_in_every_word(&text, &Limits::default(), &mut every);
        assert_eq!(gated, every, "{}", String::from_utf8_lossy(&text));
        assert_eq!(gated_stats, every_stats);
        segments += gated.len();
        texts += usize::from(!gated.is_empty());
    }
    assert!(segments > 3000 && texts > 1000, "{segments} {texts}");
}

/// The short-decoding shortcut of `is_text_like` judges as the walk over characters does:
/// random bytes, controls, valid and broken UTF-8, below and around 32 bytes.
#[test]
fn text_like_shortcut_is_the_character_walk() {
    let mut rng = crate::engine::test_rng::TestRng::new(0x7e47_11e0);
    let pieces: [&[u8]; 10] = [
        b"a",
        b"Z9",
        b" ",
        b"\t\n\r",
        b"\x01",
        b"\x7f",
        b"\xc3\xa9",
        b"\xc3",
        b"\x80",
        b"\xc2\x85",
    ];
    let (mut text, mut not) = (0, 0);
    for round in 0..30_000 {
        let len = rng.below(40);
        let bytes: Vec<u8> = match round % 2 {
            0 => (0..len).map(|_| rng.below(256) as u8).collect(),
            _ => (0..len).flat_map(|_| rng.pick(&pieces).to_vec()).collect(),
        };
        let like = is_text_like(&bytes);
        assert_eq!(like, judged_by_characters(&bytes), "{bytes:?}");
        text += usize::from(like);
        not += usize::from(!like);
    }
    assert!(text > 300 && not > 1_000, "{text} {not}");
}
