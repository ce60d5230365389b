//! Tests of the parent module.

use super::*;
use std::io;

const MIB: usize = 1024 * 1024;

fn codings(header: &str) -> Codings {
    parse(header).unwrap()
}

/// Text that compresses (repeated JSON) followed by bytes that do not (an LCG), > 128 KiB.
fn sample() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..2000 {
        body.extend_from_slice(
            format!("{{\"role\":\"user\",\"content\":\"key AKIAIOSFODNN7EXAMPLE #{i}\"}}\n")
                .as_bytes(),
        );
    }
    let mut x: u32 = 0x1234_5678;
    for _ in 0..70_000 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        body.push((x >> 24) as u8);
    }
    body
}

/// 10 MiB of zeros, from the `brotli` crate at quality 11, lgwin 24: 14 bytes.
const BROTLI_BOMB: [u8; 14] = [
    0x9f, 0xff, 0xff, 0x9f, 0xf8, 0x27, 0x00, 0xe2, 0xb1, 0x40, 0x20, 0xf7, 0xfe, 0x13,
];

fn gzip_bomb(zeros: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    io::copy(&mut io::repeat(0).take(zeros as u64), &mut encoder).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn parse_cases() {
    use Coding::{Brotli, Deflate, Gzip, Zstd};
    let cases: [(&str, &[Coding]); 7] = [
        ("gzip", &[Gzip]),
        ("x-gzip", &[Gzip]),
        ("GZip, BR", &[Gzip, Brotli]),
        ("deflate,zstd", &[Deflate, Zstd]),
        ("\tgzip ,  br\t", &[Gzip, Brotli]),
        ("gzip, identity, Identity ,br", &[Gzip, Brotli]),
        ("gzip,,br,", &[Gzip, Brotli]),
    ];
    for (header, expected) in cases {
        assert_eq!(codings(header).as_slice(), expected, "{header:?}");
    }
    assert!(codings(" identity ").is_empty());
    assert!(codings("").is_empty());
    assert!(codings(" , ").is_empty());
    assert_eq!(codings("gzip, BR").to_string(), "gzip, br");
    assert_eq!(codings("x-gzip").to_string(), "gzip");
}

#[test]
fn parse_unknown_is_sanitized() {
    assert_eq!(
        parse("gzip, compress"),
        Err(EncodingError::Unknown("compress".into()))
    );
    assert_eq!(
        parse("gzip;q=1"),
        Err(EncodingError::Unknown("gzipq1".into()))
    );
    assert_eq!(
        parse("X-Evil\"<script>é"),
        Err(EncodingError::Unknown("x-evilscript".into()))
    );
    let long = "a".repeat(100);
    assert_eq!(parse(&long), Err(EncodingError::Unknown("a".repeat(32))));
    let err = parse("aes128gcm").unwrap_err();
    assert!(err.to_string().contains("\"aes128gcm\""), "{err}");
}

#[test]
fn parse_too_many_codings() {
    assert_eq!(codings("gzip, gzip, gzip, gzip").as_slice().len(), 4);
    assert_eq!(
        parse("gzip, gzip, gzip, gzip, gzip"),
        Err(EncodingError::TooManyCodings)
    );
    assert!(
        codings("identity, identity, identity, identity, identity, gzip")
            .as_slice()
            .len()
            == 1
    );
    let built: Codings = std::iter::repeat_n(Coding::Gzip, 5).collect();
    assert_eq!(
        decode(&built, b"x", MIB),
        Err(EncodingError::TooManyCodings)
    );
}

#[test]
fn round_trip_each_coding() {
    let body = sample();
    for header in ["gzip", "deflate", "br", "zstd"] {
        let c = codings(header);
        let encoded = encode(&c, &body).unwrap();
        assert_ne!(encoded, body, "{header}");
        assert_eq!(decode(&c, &encoded, body.len()).unwrap(), body, "{header}");
        // Small bodies too.
        let small = b"{\"prompt\":\"hi\"}";
        assert_eq!(
            decode(&c, &encode(&c, small).unwrap(), 100).unwrap(),
            small,
            "{header}"
        );
    }
}

#[test]
fn round_trip_chains() {
    let body = sample();
    for header in [
        "gzip, br",
        "br, gzip",
        "deflate, zstd",
        "zstd, br, gzip, deflate",
    ] {
        let c = codings(header);
        let encoded = encode(&c, &body).unwrap();
        // Inner stages can be larger than the body (stored brotli is), hence the headroom.
        assert_eq!(
            decode(&c, &encoded, body.len() + 1024).unwrap(),
            body,
            "{header}"
        );
    }
    // The order matters: "gzip, br" is br(gzip(body)).
    let c = codings("gzip, br");
    let encoded = encode(&c, &body).unwrap();
    let gz = decode(&codings("br"), &encoded, 2 * body.len()).unwrap();
    assert_eq!(decode(&codings("gzip"), &gz, body.len()).unwrap(), body);
}

#[test]
fn no_codings_is_identity() {
    let none = Codings::default();
    assert_eq!(encode(&none, b"abc").unwrap(), b"abc");
    assert_eq!(decode(&none, b"abc", 3).unwrap(), b"abc");
    assert_eq!(decode(&none, b"abc", 2), Err(EncodingError::TooLarge));
}

#[test]
fn empty_body_decodes_to_empty() {
    for header in ["gzip", "deflate", "br", "zstd", "gzip, br"] {
        assert_eq!(decode(&codings(header), b"", 0).unwrap(), b"", "{header}");
    }
}

#[test]
fn limit_is_inclusive() {
    let body = vec![b'a'; 1000];
    for header in ["gzip", "deflate", "br", "zstd"] {
        let c = codings(header);
        let encoded = encode(&c, &body).unwrap();
        assert_eq!(decode(&c, &encoded, 1000).unwrap(), body, "{header}");
        assert_eq!(
            decode(&c, &encoded, 999),
            Err(EncodingError::TooLarge),
            "{header}"
        );
    }
}

#[test]
fn gzip_bomb_is_too_large() {
    let bomb = gzip_bomb(10 * MIB);
    assert!(bomb.len() < 64 * 1024, "bomb is {} bytes", bomb.len());
    let err = decode(&codings("gzip"), &bomb, MIB).unwrap_err();
    assert_eq!(err, EncodingError::TooLarge);
    assert!(!err.to_string().is_empty());
}

#[test]
fn brotli_zstd_and_zlib_bombs_are_too_large() {
    const ZEROS: u64 = 4 * MIB as u64;
    assert_eq!(
        decode(&codings("br"), &BROTLI_BOMB, MIB),
        Err(EncodingError::TooLarge)
    );
    assert_eq!(
        decode(&codings("br"), &BROTLI_BOMB, 10 * MIB)
            .unwrap()
            .len(),
        10 * MIB
    );

    let zst = ruzstd::encoding::compress_to_vec(
        io::repeat(0).take(ZEROS),
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    assert_eq!(
        decode(&codings("zstd"), &zst, MIB),
        Err(EncodingError::TooLarge)
    );

    let mut zl = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    io::copy(&mut io::repeat(0).take(ZEROS), &mut zl).unwrap();
    assert_eq!(
        decode(&codings("deflate"), &zl.finish().unwrap(), MIB),
        Err(EncodingError::TooLarge)
    );
}

#[test]
fn bomb_in_an_inner_stage_is_too_large() {
    // br(gzip(10 MiB of zeros)): the br stage is small, the gzip stage explodes.
    let bomb = gzip_bomb(10 * MIB);
    let wrapped = encode(&codings("br"), &bomb).unwrap();
    assert_eq!(
        decode(&codings("gzip, br"), &wrapped, MIB),
        Err(EncodingError::TooLarge)
    );
}

#[test]
fn bounded_reader_never_buffers_past_the_limit() {
    // An endless stream: only a bounded reader returns at all.
    let mut out = Vec::new();
    let result = read_into(&mut io::repeat(7), &mut out, MIB, Coding::Gzip);
    assert_eq!(result, Err(EncodingError::TooLarge));
    assert!(out.len() <= MIB);
    assert!(out.capacity() <= MIB, "capacity {}", out.capacity());
}

#[test]
fn corrupt_input_is_corrupt() {
    let garbage = b"this is not compressed at all, not even a little bit";
    for (header, coding) in [
        ("gzip", Coding::Gzip),
        ("deflate", Coding::Deflate),
        ("br", Coding::Brotli),
        ("zstd", Coding::Zstd),
    ] {
        let err = decode(&codings(header), garbage, MIB).unwrap_err();
        assert_eq!(err, EncodingError::Corrupt(coding), "{header}");
        assert!(err.to_string().contains(coding.token()), "{err}");
    }
}

#[test]
fn truncated_input_is_corrupt() {
    let body = sample();
    for (header, coding) in [
        ("gzip", Coding::Gzip),
        ("deflate", Coding::Deflate),
        ("br", Coding::Brotli),
        ("zstd", Coding::Zstd),
    ] {
        let encoded = encode(&codings(header), &body).unwrap();
        for cut in [1, 4, encoded.len() / 2] {
            let truncated = &encoded[..encoded.len() - cut];
            assert_eq!(
                decode(&codings(header), truncated, MIB),
                Err(EncodingError::Corrupt(coding)),
                "{header} cut {cut}"
            );
        }
    }
}

#[test]
fn checksum_mismatch_is_corrupt() {
    let body = sample();
    for (header, coding) in [
        ("gzip", Coding::Gzip),
        ("deflate", Coding::Deflate),
        ("zstd", Coding::Zstd),
    ] {
        let mut encoded = encode(&codings(header), &body).unwrap();
        // gzip: CRC32 then size; zlib: Adler-32; zstd: xxhash64 low 32 bits. All at the end.
        let at = if coding == Coding::Gzip {
            encoded.len() - 8
        } else {
            encoded.len() - 1
        };
        encoded[at] ^= 0x01;
        assert_eq!(
            decode(&codings(header), &encoded, MIB),
            Err(EncodingError::Corrupt(coding)),
            "{header}"
        );
    }
}

#[test]
fn trailing_bytes_are_corrupt() {
    let body = b"{\"prompt\":\"secret\"}".repeat(50);
    for (header, coding) in [
        ("gzip", Coding::Gzip),
        ("deflate", Coding::Deflate),
        ("br", Coding::Brotli),
        ("zstd", Coding::Zstd),
    ] {
        let mut encoded = encode(&codings(header), &body).unwrap();
        encoded.extend_from_slice(b"hidden tail AKIAIOSFODNN7EXAMPLE");
        assert_eq!(
            decode(&codings(header), &encoded, MIB),
            Err(EncodingError::Corrupt(coding)),
            "{header}"
        );
    }
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(&body).unwrap();
    let mut raw = raw.finish().unwrap();
    raw.extend_from_slice(b"tail");
    assert_eq!(
        decode(&codings("deflate"), &raw, MIB),
        Err(EncodingError::Corrupt(Coding::Deflate))
    );
    // Past the brotli decoder's input buffer, too.
    let mut br = encode(&codings("br"), &sample()).unwrap();
    assert!(br.len() > 3 * 4096);
    br.extend_from_slice(b"tail");
    assert_eq!(
        decode(&codings("br"), &br, MIB),
        Err(EncodingError::Corrupt(Coding::Brotli))
    );
}

#[test]
fn raw_deflate_is_accepted() {
    let body = sample();
    for level in [0, 1, 6, 9] {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
        encoder.write_all(&body).unwrap();
        let raw = encoder.finish().unwrap();
        assert_eq!(
            decode(&codings("deflate"), &raw, body.len()).unwrap(),
            body,
            "level {level}"
        );
    }
    // Re-encoding writes the HTTP form (zlib).
    let encoded = encode(&codings("deflate"), b"x").unwrap();
    assert!(looks_like_zlib(&encoded));
}

#[test]
fn concatenated_gzip_members_are_all_decoded() {
    let gz = |part: &[u8]| encode(&codings("gzip"), part).unwrap();
    let mut body = gz(b"harmless ");
    body.extend(gz(b"AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(
        decode(&codings("gzip"), &body, MIB).unwrap(),
        b"harmless AKIAIOSFODNN7EXAMPLE"
    );
}

#[test]
fn zstd_frames_from_the_reference_encoder() {
    // `zstd -19 --check` output: a compressed block and a content checksum.
    const REFERENCE: [u8; 54] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x68, 0x4d, 0x01, 0x00, 0x04, 0x02, 0x74, 0x6f, 0x6b, 0x65,
        0x6e, 0x3d, 0x73, 0x6b, 0x2d, 0x6c, 0x69, 0x76, 0x65, 0x2d, 0x30, 0x31, 0x32, 0x33, 0x34,
        0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x3b, 0x20, 0x01, 0x00,
        0xe8, 0x66, 0xfc, 0xea, 0x09, 0x29, 0x54, 0x8a, 0x39,
    ];
    let expected = b"token=sk-live-0123456789abcdef; ".repeat(40);
    assert_eq!(decode(&codings("zstd"), &REFERENCE, MIB).unwrap(), expected);
    let mut bad = REFERENCE;
    bad[53] ^= 0x80;
    assert_eq!(
        decode(&codings("zstd"), &bad, MIB),
        Err(EncodingError::Corrupt(Coding::Zstd))
    );
}

#[test]
fn brotli_from_the_reference_encoder() {
    // The `brotli` crate at quality 5, lgwin 22: compressed meta-blocks.
    const REFERENCE: [u8; 43] = [
        0x1b, 0xff, 0x04, 0x00, 0x64, 0xb7, 0x61, 0xaa, 0x0b, 0x65, 0xf0, 0xbc, 0x88, 0x2d, 0xbc,
        0x09, 0xa2, 0x4d, 0xb0, 0x06, 0xf1, 0xb0, 0x2c, 0x4e, 0xe5, 0x68, 0x52, 0xdf, 0xc1, 0xbb,
        0xbf, 0x21, 0xb1, 0xa8, 0xf3, 0x21, 0xa6, 0xdc, 0xfa, 0x98, 0xb6, 0x0a, 0x18,
    ];
    let expected = b"token=sk-live-0123456789abcdef; ".repeat(40);
    assert_eq!(decode(&codings("br"), &REFERENCE, MIB).unwrap(), expected);
}

#[test]
fn stored_brotli_round_trips_at_block_boundaries() {
    let body = sample();
    for len in [
        0,
        1,
        2,
        255,
        32 * 1024 - 1,
        32 * 1024,
        32 * 1024 + 1,
        64 * 1024,
        100_000,
        body.len(),
    ] {
        let part = &body[..len];
        let encoded = brotli_stored(part);
        assert_eq!(
            encoded.len(),
            len + 3 * len.div_ceil(32 * 1024) + 1,
            "len {len}"
        );
        assert_eq!(
            decode_one(Coding::Brotli, &encoded, MIB).unwrap(),
            part,
            "len {len}"
        );
    }
    // The empty stream: WBITS=16, ISLAST, ISLASTEMPTY.
    assert_eq!(brotli_stored(b""), [0x06]);
}

#[test]
fn zstd_multiple_and_skippable_frames() {
    let z = |part: &[u8]| encode(&codings("zstd"), part).unwrap();
    let mut body = z(b"harmless ");
    // Skippable frame: magic 0x184D2A50..5F, 4-byte length, content.
    body.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, b'a', b'b', b'c']);
    body.extend(z(b"AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(
        decode(&codings("zstd"), &body, MIB).unwrap(),
        b"harmless AKIAIOSFODNN7EXAMPLE"
    );
    // The limit counts all frames together.
    assert_eq!(
        decode(&codings("zstd"), &body, 20),
        Err(EncodingError::TooLarge)
    );
    // A skippable frame claiming more than is there.
    let short = [0x50, 0x2a, 0x4d, 0x18, 9, 0, 0, 0, b'a'];
    assert_eq!(
        decode(&codings("zstd"), &short, MIB),
        Err(EncodingError::Corrupt(Coding::Zstd))
    );
}

#[test]
fn zstd_window_over_8_mib_is_refused() {
    // Frame header: no single segment, window descriptor exponent 30 (1 GiB), then a last raw block of 1 byte.
    let frame = [
        0x28,
        0xb5,
        0x2f,
        0xfd,
        0x00,
        (30 - 10) << 3,
        0x09,
        0x00,
        0x00,
        b'x',
    ];
    assert_eq!(
        decode(&codings("zstd"), &frame, MIB),
        Err(EncodingError::Corrupt(Coding::Zstd))
    );
    // The same frame with an 8 MiB window (exponent 23) decodes.
    let ok = [
        0x28,
        0xb5,
        0x2f,
        0xfd,
        0x00,
        (23 - 10) << 3,
        0x09,
        0x00,
        0x00,
        b'x',
    ];
    assert_eq!(decode(&codings("zstd"), &ok, MIB).unwrap(), b"x");
}

#[test]
fn display() {
    let cases = [
        EncodingError::Unknown("compress".into()),
        EncodingError::TooManyCodings,
        EncodingError::TooLarge,
        EncodingError::Corrupt(Coding::Brotli),
        EncodingError::CannotReencode(Coding::Zstd),
    ];
    for err in cases {
        let text = err.to_string();
        assert!(text.starts_with("the "), "{text}");
    }
    assert_eq!(Coding::Brotli.to_string(), "br");
}
