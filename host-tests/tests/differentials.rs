//! Parser differentials through the compiled filter: bodies that Airlock's parsers could read
//! differently from the upstream's (Python `json`, Go `encoding/json`, `serde_json`,
//! `JSON.parse`, multipart parsers, content decoders). Each case hides a secret in the
//! difference; each must be blocked or masked (or fail closed), and its clean twin, the same
//! construction without the secret, must pass byte-identical. docs/threat-model.md has the
//! table of what each parser does with each case.
//!
//! Build the filter first: `cargo build --release --target wasm32-wasip1 -p airlock-filter`.
//! Failure messages name cases, never secrets.

use airlock_host_tests::evasions::{decode_content, encode_content, CARD, CREDENTIAL};
use airlock_host_tests::{filter_wasm, send_request, Host, Outcome};

fn default_host() -> Host {
    let mut host = Host::load(filter_wasm().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("loading the filter: {e:?}"));
    host.set_env("AIRLOCK_HASH_KEY", "differential-tests-hash-key");
    assert!(
        host.configure(b"").expect("on_configure"),
        "default policy rejected"
    );
    host
}

/// One body and what the default policy must decide for it.
struct Case {
    name: String,
    content_type: String,
    content_encoding: Option<String>,
    body: Vec<u8>,
    /// `block`, `mask` or `allow`.
    expect: &'static str,
    /// The secret, for leak checks (never printed).
    secret: Option<&'static str>,
}

fn send(host: &mut Host, case: &Case) -> Outcome {
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), "POST".into()),
        (":scheme".into(), "https".into()),
        (":authority".into(), "api.openai.com".into()),
        (":path".into(), "/v1/chat/completions".into()),
        ("content-type".into(), case.content_type.clone()),
        ("content-length".into(), case.body.len().to_string()),
    ];
    if let Some(ce) = &case.content_encoding {
        headers.push(("content-encoding".into(), ce.clone()));
    }
    send_request(host, &headers, &[&case.body], None)
        .unwrap_or_else(|e| panic!("{}: the filter trapped: {e}", case.name))
}

/// Every `\uXXXX` escape of `bytes` undone (pairs joined), as any JSON parser would, over the
/// whole body: what a parser could read in a string, whatever the grammar around it.
fn unescaped(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    let mut pending_high: Option<u32> = None;
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'u') {
            chars.next();
            let hex: String = chars.by_ref().take(4).collect();
            if let Ok(unit) = u32::from_str_radix(&hex, 16) {
                match (pending_high.take(), unit) {
                    (None, 0xD800..=0xDBFF) => pending_high = Some(unit),
                    (Some(high), 0xDC00..=0xDFFF) => {
                        let scalar = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00);
                        out.extend(char::from_u32(scalar));
                    }
                    (_, unit) => out.extend(char::from_u32(unit)),
                }
                continue;
            }
        }
        out.push(c);
    }
    out.into_bytes()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn check(case: &Case, out: &Outcome) -> Result<(), String> {
    let got = out.decision().unwrap_or("<none or several>");
    if got != case.expect {
        return Err(format!("decision {got:?}, expected {:?}", case.expect));
    }
    match case.expect {
        "block" => {
            if out.reached_upstream || !out.egress_body.is_empty() {
                return Err("a blocked request reached the upstream".into());
            }
        }
        "mask" | "tokenize" => {
            let coding = out.egress_header("content-encoding");
            let egress = as_utf8(
                &case.content_type,
                decode_content(coding, &out.egress_body)?,
            )?;
            let secret = case.secret.unwrap_or_default().as_bytes();
            if contains(&egress, secret) || contains(&unescaped(&egress), secret) {
                return Err("the upstream received the secret".into());
            }
            let original = decode_content(case.content_encoding.as_deref(), &case.body)?;
            let original = as_utf8(&case.content_type, original)?;
            let was_json = serde_json::from_slice::<serde_json::Value>(&original).is_ok();
            if was_json && serde_json::from_slice::<serde_json::Value>(&egress).is_err() {
                return Err("the masked body is no longer valid JSON".into());
            }
        }
        _ => {
            if !out.reached_upstream || out.egress_body != case.body {
                return Err("the clean twin did not pass byte-identical".into());
            }
        }
    }
    Ok(())
}

/// A chat body with `content` (a JSON string literal, quotes included, as written) in a user
/// message, and `extra` raw JSON members after `messages`.
fn chat(content: &str, extra: &str) -> String {
    format!(
        r#"{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":{content}}}]{extra}}}"#
    )
}

/// `AKIA…` with its first letter as a `\u` escape: plain text never shows the key.
fn escaped_key() -> String {
    format!("\\u0041{}", &CREDENTIAL[1..])
}

/// `t` as a string inside `depth` arrays under `messages`.
fn nested(depth: usize, t: &str) -> Vec<u8> {
    let (open, close) = ("[".repeat(depth), "]".repeat(depth));
    format!(r#"{{"messages":{open}{}{close}}}"#, quoted(t)).into_bytes()
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// Cases built from `make(payload)`: the payload is the escaped key (expect `block`) and a
/// clean sentence (expect `allow`).
fn pair(cases: &mut Vec<Case>, name: &str, make: &dyn Fn(&str) -> Vec<u8>) {
    let secret = format!("key {}", escaped_key());
    for (payload, expect, text) in [
        ("credential", "block", secret.as_str()),
        ("clean", "allow", "please summarise the meeting notes"),
    ] {
        cases.push(Case {
            name: format!("{name}/{payload}"),
            content_type: "application/json".into(),
            content_encoding: None,
            body: make(text),
            expect,
            secret: (expect != "allow").then_some(CREDENTIAL),
        });
    }
}

fn json_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let clean_msg = r#"[{"role":"user","content":"hello"}]"#;
    pair(&mut cases, "duplicate-key-last-wins", &|t| {
        let m = format!(r#"[{{"role":"user","content":{}}}]"#, quoted(t));
        format!(r#"{{"model":"m","messages":{clean_msg},"messages":{m}}}"#).into_bytes()
    });
    pair(&mut cases, "duplicate-key-first-wins", &|t| {
        let m = format!(r#"[{{"role":"user","content":{}}}]"#, quoted(t));
        format!(r#"{{"model":"m","messages":{m},"messages":{clean_msg}}}"#).into_bytes()
    });
    pair(&mut cases, "duplicate-content-in-one-message", &|t| {
        format!(
            r#"{{"messages":[{{"role":"user","content":"hi","content":{}}}]}}"#,
            quoted(t)
        )
        .into_bytes()
    });
    pair(&mut cases, "go-case-insensitive-keys", &|t| {
        format!(
            r#"{{"Model":"m","MESSAGES":[{{"Role":"user","Content":{}}}]}}"#,
            quoted(t)
        )
        .into_bytes()
    });
    pair(&mut cases, "utf8-bom", &|t| {
        [b"\xEF\xBB\xBF".as_slice(), chat(&quoted(t), "").as_bytes()].concat()
    });
    pair(&mut cases, "nan-and-infinity", &|t| {
        chat(
            &quoted(t),
            r#","temperature":NaN,"top_p":Infinity,"seed":-Infinity"#,
        )
        .into_bytes()
    });
    pair(&mut cases, "block-and-line-comments", &|t| {
        format!(
            "/* header */ {{\"messages\": // the turns\n [{{\"role\":\"user\",\"content\":{}}}]}}",
            quoted(t)
        )
        .into_bytes()
    });
    pair(&mut cases, "trailing-commas", &|t| {
        format!(
            r#"{{"messages":[{{"role":"user","content":{},}},],}}"#,
            quoted(t)
        )
        .into_bytes()
    });
    pair(&mut cases, "non-json-whitespace", &|t| {
        chat(&quoted(t), "")
            .replace(":[", ":\u{A0}[")
            .replace(",\"messages\"", "\u{2028},\u{000C}\"messages\"")
            .into_bytes()
    });
    pair(&mut cases, "trailing-document", &|t| {
        format!("{} {}", chat("\"hello\"", ""), chat(&quoted(t), "")).into_bytes()
    });
    pair(&mut cases, "trailing-garbage", &|t| {
        format!("{}garbage,{}", chat("\"hello\"", ""), quoted(t)).into_bytes()
    });
    pair(&mut cases, "huge-number", &|t| {
        chat(&quoted(t), &format!(r#","seed":{}"#, "9".repeat(400))).into_bytes()
    });
    // The root object and 127 arrays: the string is 128 levels deep, at the limit; then past it.
    pair(&mut cases, "nesting-at-limit", &|t| nested(127, t));
    pair(&mut cases, "nesting-past-limit", &|t| nested(300, t));
    pair(&mut cases, "single-quoted-strings", &|t| {
        format!("{{'messages':[{{'role':'user','content':'{t}'}}]}}").into_bytes()
    });
    pair(&mut cases, "json-lines-with-nan", &|t| {
        format!(
            "{}\n{}\n",
            chat("\"hello\"", ""),
            chat(&quoted(t), r#","x":NaN"#)
        )
        .into_bytes()
    });
    // Surrogates and invalid UTF-8 inside the key itself: Python keeps a lone surrogate,
    // Go and JavaScript decoders show U+FFFD, serde_json rejects; a reader sees the key.
    let cut = 8;
    let (head, tail) = CREDENTIAL.split_at(cut);
    let invalid_utf8 = [
        br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"key "#,
        head.as_bytes(),
        b"\xFF",
        tail.as_bytes(),
        br#""}]}"#,
    ]
    .concat();
    for (name, body) in [
        (
            "lone-high-surrogate",
            chat(&format!("\"key {head}\\ud800{tail}\""), "").into_bytes(),
        ),
        (
            "lone-low-surrogate",
            chat(&format!("\"key {head}\\udc00{tail}\""), "").into_bytes(),
        ),
        ("invalid-utf8-byte", invalid_utf8),
    ] {
        cases.push(Case {
            name: format!("{name}/credential"),
            content_type: "application/json".into(),
            content_encoding: None,
            body,
            expect: "block",
            secret: Some(CREDENTIAL),
        });
    }
    // A key in mathematical monospace letters, written as surrogate pairs.
    let monospace: String = CREDENTIAL
        .chars()
        .map(|c| match c {
            'A'..='Z' => char::from_u32(0x1D670 + (c as u32 - 'A' as u32)).unwrap_or(c),
            '0'..='9' => char::from_u32(0x1D7F6 + (c as u32 - '0' as u32)).unwrap_or(c),
            _ => c,
        })
        .collect();
    let pairs: String = monospace
        .encode_utf16()
        .map(|u| format!("\\u{u:04x}"))
        .collect();
    cases.push(Case {
        name: "surrogate-pairs/credential".into(),
        content_type: "application/json".into(),
        content_encoding: None,
        body: chat(&format!("\"key {pairs}\""), "").into_bytes(),
        expect: "block",
        secret: Some(CREDENTIAL),
    });
    // A card as a JSON number is tokenized, and the body stays JSON (the number becomes a string).
    for (name, number, expect) in [
        ("card-as-number", CARD, "tokenize"),
        ("luhn-invalid-number", "4916338506124577", "allow"),
    ] {
        cases.push(Case {
            name: format!("{name}/card"),
            content_type: "application/json".into(),
            content_encoding: None,
            body: chat(
                "\"charge my card\"",
                &format!(r#","metadata":{{"card":{number}}}"#),
            )
            .into_bytes(),
            expect,
            secret: (expect != "allow").then_some(CARD),
        });
    }
    cases
}

fn multipart(boundary_param: &str, body: String) -> (String, Vec<u8>) {
    (
        format!("multipart/form-data; {boundary_param}"),
        body.into_bytes(),
    )
}

/// The two payloads every multipart and coding variant carries: a credential that must be
/// blocked, and its clean twin that must pass.
fn payloads() -> [(&'static str, &'static str, String); 2] {
    [
        ("credential", "block", format!("key {CREDENTIAL}")),
        (
            "clean",
            "allow",
            "please summarise the meeting notes".to_string(),
        ),
    ]
}

fn multipart_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (payload, expect, text) in payloads() {
        let part = |b: &str, name: &str, headers: &str, content: &str| {
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n{headers}\r\n{content}\r\n")
        };
        let b64 = base64_encode(text.as_bytes());
        let qp: String = text.bytes().map(|b| format!("={b:02X}")).collect();
        let variants: Vec<(&str, (String, Vec<u8>))> = vec![
            ("two-boundary-parameters", multipart(
                "boundary=aaa; boundary=bbb",
                format!("--aaa\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--aaa--\r\n{}--bbb--\r\n",
                    part("bbb", "file", "", &text)),
            )),
            ("quoted-boundary", multipart(
                "boundary=\"b q\"",
                format!("{}--b q--\r\n", part("b q", "file", "", &text)),
            )),
            ("preamble-and-epilogue", multipart(
                "boundary=xyz",
                format!("{text}\r\n{}--xyz--\r\n{text}\r\n", part("xyz", "purpose", "", "batch")),
            )),
            ("duplicate-content-disposition", multipart(
                "boundary=xyz",
                format!("--xyz\r\nContent-Disposition: form-data; name=\"purpose\"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n{text}\r\n--xyz--\r\n"),
            )),
            ("transfer-encoding-base64", multipart(
                "boundary=xyz",
                format!("{}--xyz--\r\n", part("xyz", "file", "Content-Transfer-Encoding: base64\r\n", &b64)),
            )),
            ("transfer-encoding-quoted-printable", multipart(
                "boundary=xyz",
                format!("{}--xyz--\r\n", part("xyz", "file", "Content-Transfer-Encoding: quoted-printable\r\n", &qp)),
            )),
            ("unterminated", multipart(
                "boundary=xyz",
                part("xyz", "file", "", &text),
            )),
        ];
        for (name, (content_type, body)) in variants {
            cases.push(Case {
                name: format!("multipart-{name}/{payload}"),
                content_type,
                content_encoding: None,
                body,
                expect,
                secret: (expect != "allow").then_some(CREDENTIAL),
            });
        }
    }
    cases
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn coding_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (payload, expect, text) in payloads() {
        let plain = chat(&quoted(&text), "").into_bytes();
        let stacks: [(&str, &[&str], &str); 5] = [
            ("gzip-gzip", &["gzip", "gzip"], "gzip, gzip"),
            ("identity", &[], "identity"),
            ("identity-then-gzip", &["gzip"], "identity, gzip"),
            ("upper-case-name", &["gzip"], "GZIP"),
            (
                "deflate-br-gzip",
                &["deflate", "br", "gzip"],
                "deflate, br, gzip",
            ),
        ];
        for (name, codings, header) in stacks {
            cases.push(Case {
                name: format!("coding-{name}/{payload}"),
                content_type: "application/json".into(),
                content_encoding: Some(header.into()),
                body: encode_content(codings, &plain),
                expect,
                secret: (expect != "allow").then_some(CREDENTIAL),
            });
        }
        // Codings that cannot be undone fail closed (the default policy blocks), clean or not.
        for (name, body, header) in [
            ("unknown", plain.clone(), "x-airlock-unknown"),
            ("compress", plain.clone(), "compress"),
            ("declared-but-plain", plain.clone(), "gzip"),
            (
                "five-stacked",
                encode_content(&["gzip"; 5], &plain),
                "gzip, gzip, gzip, gzip, gzip",
            ),
        ] {
            cases.push(Case {
                name: format!("coding-{name}/{payload}"),
                content_type: "application/json".into(),
                content_encoding: Some(header.into()),
                body,
                expect: "block",
                secret: Some(CREDENTIAL),
            });
        }
    }
    cases
}

/// `text` in UTF-16 or UTF-32, little- or big-endian, optionally with a byte-order mark.
fn utf_wide(text: &str, wide: bool, big_endian: bool, bom: bool) -> Vec<u8> {
    let units: Vec<u32> = if wide {
        text.chars().map(u32::from).collect()
    } else {
        text.encode_utf16().map(u32::from).collect()
    };
    let mut out = Vec::new();
    for unit in bom.then_some(0xFEFF).into_iter().chain(units) {
        let bytes = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        // A 32-bit unit's bytes, or a 16-bit unit's two low-order ones.
        let used = if wide {
            &bytes[..]
        } else if big_endian {
            &bytes[2..]
        } else {
            &bytes[..2]
        };
        out.extend_from_slice(used);
    }
    out
}

/// A body as its upstream reads it, for the charset cases below: UTF-16 and UTF-32 by their
/// declared charset or byte-order mark (this test's own reading, not the filter's).
fn as_utf8(content_type: &str, bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let declared = content_type.to_ascii_lowercase();
    let (wide, big_endian, skip) = if bytes.starts_with(b"\xFF\xFE") && !declared.contains("utf-32")
    {
        (false, false, 2)
    } else if bytes.starts_with(b"\xFE\xFF") {
        (false, true, 2)
    } else if declared.ends_with("charset=utf-16le") {
        (false, false, 0)
    } else if declared.ends_with("charset=utf-32le") {
        (true, false, 0)
    } else {
        return Ok(bytes);
    };
    let body = &bytes[skip..];
    let text = if wide {
        let chars: Option<String> = body
            .chunks(4)
            .map(|q| char::from_u32(u32::from_le_bytes(q.try_into().ok()?)))
            .collect();
        chars.ok_or("the egress body is not UTF-32")?
    } else {
        let units: Vec<u16> = body
            .chunks(2)
            .map(|p| {
                if big_endian {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    u16::from_le_bytes([p[0], p[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| "the egress body is not UTF-16")?
    };
    Ok(text.into_bytes())
}

/// Bodies in the character encodings lenient upstreams decode (Python's `json.loads` sniffs
/// UTF-16 and UTF-32 from the first bytes; Node's body parsers decode a declared charset,
/// UTF-7 included): read as the upstream reads them, masked in the same encoding.
fn charset_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let card = chat(&quoted(&format!("charge my card {CARD}")), "");
    let mut texts: Vec<(&str, &str, String)> = payloads().to_vec();
    texts.push(("card", "tokenize", card.clone()));
    for (payload, expect, text) in texts {
        let body = if payload == "card" {
            text
        } else {
            chat(&quoted(&text), "")
        };
        let secret = match payload {
            "card" => Some(CARD),
            "credential" => Some(CREDENTIAL),
            _ => None,
        };
        let variants: [(&str, &str, Vec<u8>); 6] = [
            (
                "utf-16le-sniffed",
                "application/json",
                utf_wide(&body, false, false, false),
            ),
            (
                "utf-16be-sniffed",
                "application/json",
                utf_wide(&body, false, true, false),
            ),
            (
                "utf-16be-bom-undeclared",
                "text/plain",
                utf_wide(&body, false, true, true),
            ),
            (
                "utf-16le-declared",
                "application/json; charset=utf-16le",
                utf_wide(&body, false, false, false),
            ),
            (
                "utf-32le-declared",
                "application/json; charset=utf-32le",
                utf_wide(&body, true, false, false),
            ),
            (
                "utf-16le-bom-declared-utf-8",
                "application/json; charset=utf-8",
                utf_wide(&body, false, false, true),
            ),
        ];
        for (name, content_type, body) in variants {
            cases.push(Case {
                name: format!("charset-{name}/{payload}"),
                content_type: content_type.into(),
                content_encoding: None,
                body,
                expect,
                secret,
            });
        }
    }
    // UTF-7 hides ASCII letters in base64 runs of UTF-16 units: `AKIA` is `+AEEASwBJAEE-`.
    for (payload, expect, text) in payloads() {
        let hidden = text.replacen("AKIA", "+AEEASwBJAEE-", 1);
        cases.push(Case {
            name: format!("charset-utf-7-declared/{payload}"),
            content_type: "application/json; charset=utf-7".into(),
            content_encoding: None,
            body: chat(&quoted(&hidden), "").into_bytes(),
            expect,
            secret: (expect != "allow").then_some(CREDENTIAL),
        });
    }
    // A charset that cannot be read fails closed (the default policy blocks), clean or not.
    for (payload, _, text) in payloads() {
        cases.push(Case {
            name: format!("charset-ebcdic-declared/{payload}"),
            content_type: "application/json; charset=IBM037".into(),
            content_encoding: None,
            body: chat(&quoted(&text), "").into_bytes(),
            expect: "block",
            secret: Some(CREDENTIAL),
        });
    }
    cases
}

fn run(cases: Vec<Case>) {
    let mut host = default_host();
    let mut failures = Vec::new();
    for case in &cases {
        let out = send(&mut host, case);
        if let Err(why) = check(case, &out) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn json_differentials() {
    run(json_cases());
}

#[test]
fn multipart_differentials() {
    run(multipart_cases());
}

#[test]
fn content_coding_differentials() {
    run(coding_cases());
}

#[test]
fn charset_differentials() {
    run(charset_cases());
}
