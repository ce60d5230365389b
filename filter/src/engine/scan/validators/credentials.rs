//! Validators for credential values: placeholders, JWT headers, GitHub-style CRC32 suffixes and
//! base64 `user:password` pairs. Each is a pure, total function of the candidate bytes.

/// True when `value` is a real-looking credential value rather than a placeholder, a template,
/// a type name, a code reference or prose.
pub fn not_placeholder(value: &[u8]) -> bool {
    let v = trim_quotes(value);
    if v.len() < 3 {
        return false;
    }
    // Templates and references: ${VAR} $(cmd) $VAR {{ x }} <password> %s %(name)s [FILTERED] @Value
    if matches!(v.first(), Some(b'$' | b'<' | b'{' | b'[' | b'@' | b'`'))
        || contains(v, b"${")
        || contains(v, b"{{")
        || contains(v, b"$(")
        || contains(v, b"%s")
        || contains(v, b"%(")
        || (contains(v, b"<") && contains(v, b">"))
    {
        return false;
    }
    // Masks: xxx, ***, ..., ----, ####, ????, all one byte class of filler.
    if v.iter().all(|b| {
        matches!(
            b,
            b'x' | b'X' | b'*' | b'.' | b'-' | b'_' | b'#' | b'?' | b'0'
        )
    }) {
        return false;
    }
    if has_run(v, b'*', 3) || has_run(v, b'x', 4) || has_run(v, b'X', 4) || contains(v, b"...") {
        return false;
    }
    // Code: calls, indexing, attribute paths without digits (config.db.password, os.environ).
    if v.ends_with(b")") && contains(v, b"(") {
        return false;
    }
    if contains(v, b"[\"") || contains(v, b"['") || contains(v, b"::") || contains(v, b"->") {
        return false;
    }
    let identifier = |s: &[u8]| {
        s.first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && s.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    let no_digit = !v.iter().any(u8::is_ascii_digit);
    if no_digit && contains(v, b".") && v.split(|b| *b == b'.').all(identifier) {
        return false;
    }
    // An environment variable's name (DB_PASSWORD, YOUR_API_KEY) rather than its value.
    if no_digit && contains(v, b"_") && v.iter().all(|b| b.is_ascii_uppercase() || *b == b'_') {
        return false;
    }
    let lower: Vec<u8> = v.to_ascii_lowercase();
    // The whole value is a type, a keyword or a word about the value.
    const WHOLE: &[&[u8]] = &[
        b"null",
        b"none",
        b"nil",
        b"undefined",
        b"true",
        b"false",
        b"yes",
        b"no",
        b"string",
        b"str",
        b"text",
        b"int",
        b"bool",
        b"boolean",
        b"number",
        b"bytes",
        b"char",
        b"varchar",
        b"secretstr",
        b"secret",
        b"password",
        b"passwd",
        b"token",
        b"apikey",
        b"api_key",
        b"required",
        b"optional",
        b"empty",
        b"test",
        b"default",
        b"hidden",
        b"masked",
        b"n/a",
        b"todo",
        b"tbd",
        b"fixme",
        b"foo",
        b"bar",
        b"foobar",
        b"any",
        b"object",
        b"value",
        b"unknown",
        b"admin",
        b"root",
        b"guest",
        b"user",
        b"username",
        b"pass",
        b"env",
        b"environ",
        b"config",
        b"settings",
        b"params",
        b"options",
        b"prompt",
        b"input",
        b"stdin",
        b"file",
        b"sha256",
        b"md5",
        b"bcrypt",
        b"plain",
        b"plaintext",
        b"basic",
        b"bearer",
        b"oauth",
        b"jwt",
        b"auto",
        b"off",
        b"on",
        b"disabled",
        b"enabled",
    ];
    if WHOLE.contains(&lower.as_slice()) {
        return false;
    }
    // Words that mark an example or a redaction anywhere in the value.
    const MARKERS: &[&[u8]] = &[
        b"changeme",
        b"change_me",
        b"change-me",
        b"changeit",
        b"placeholder",
        b"example",
        b"your_",
        b"your-",
        b"yourpass",
        b"yoursecret",
        b"yourtoken",
        b"yourkey",
        b"<your",
        b"redacted",
        b"dummy",
        b"sample",
        b"replace",
        b"insert",
        b"enter_",
        b"enter-",
        b"filtered",
        b"removed",
        b"omitted",
        b"censored",
        b"notreal",
        b"not_real",
        b"not-real",
        b"fake",
        b"_here",
        b"-here",
        b"goes_here",
        b"secretkey",
        b"mysecret",
        b"mypassword",
        b"supersecret",
        b"password123",
        b"hunter2",
        b"p@ssw0rd",
        b"passw0rd",
        b"letmein",
        b"qwerty",
        b"123456",
        b"abcdef",
        b"abc123",
        b"os.environ",
        b"getenv",
        b"process.env",
        b"env.",
        b"environ",
        b"secrets.",
        b"vault:",
        b"keyvault",
        b"lookup",
        b"settings.",
        b"config.",
        b"cfg.",
        b"!vault",
        b"self.",
        b"this.",
        b"args.",
        b"params.",
        b"request.",
        b"props.",
    ];
    if MARKERS.iter().any(|m| contains(&lower, m)) {
        return false;
    }
    true
}

/// True when `value` holds a digit, or both upper- and lower-case letters: a chosen or generated
/// value, not a lower-case word or name (`db-credentials`, `required`).
pub fn mixed(value: &[u8]) -> bool {
    value.iter().any(u8::is_ascii_digit)
        || (value.iter().any(u8::is_ascii_uppercase) && value.iter().any(u8::is_ascii_lowercase))
}

/// True when `token` is `header.payload.signature` and the header base64url-decodes to a JSON
/// object that names an `alg`.
pub fn jwt(token: &[u8]) -> bool {
    let Some(header) = token.split(|b| *b == b'.').next() else {
        return false;
    };
    if header.len() < 16 || header.len() > 2048 {
        return false;
    }
    let mut out = Vec::with_capacity(header.len());
    if !base64_decode(header, &mut out) {
        return false;
    }
    let text = trim_ascii(&out);
    text.first() == Some(&b'{') && text.last() == Some(&b'}') && contains(text, b"\"alg\"")
}

/// True when the part after the token's last `_` ends in the base62 CRC32 checksum GitHub (and
/// npm) put in their tokens: the last 6 characters encode the CRC32 of the characters before
/// them (with or without the prefix; either common base62 alphabet).
pub fn crc32_suffix(token: &[u8]) -> bool {
    let Some(cut) = token.len().checked_sub(6) else {
        return false;
    };
    let (body, check) = token.split_at(cut);
    let random = match body.iter().rposition(|b| *b == b'_') {
        Some(i) => body.get(i + 1..).unwrap_or_default(),
        None => body,
    };
    if random.is_empty() {
        return false;
    }
    const UPPER_FIRST: &[u8; 62] =
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const LOWER_FIRST: &[u8; 62] =
        b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    [crc32(random), crc32(body)].into_iter().any(|sum| {
        [UPPER_FIRST, LOWER_FIRST]
            .into_iter()
            .any(|alphabet| base62_6(sum, alphabet) == check)
    })
}

/// True when `value` is base64 of printable `user:password` with both sides non-empty and the
/// password not an obvious placeholder.
pub fn basic_auth(value: &[u8]) -> bool {
    let mut out = Vec::with_capacity(value.len());
    if !base64_decode(value, &mut out) {
        return false;
    }
    if !out.iter().all(|b| (0x20..0x7f).contains(b)) {
        return false;
    }
    let Some(colon) = out.iter().position(|b| *b == b':') else {
        return false;
    };
    let (user, rest) = out.split_at(colon);
    let password = rest.get(1..).unwrap_or_default();
    !user.is_empty() && password.len() >= 4 && not_placeholder(password)
}

fn base62_6(mut n: u32, alphabet: &[u8; 62]) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = alphabet.get((n % 62) as usize).copied().unwrap_or(b'0');
        n /= 62;
    }
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Decodes standard or URL-safe base64, padded or not; false on any other byte.
fn base64_decode(text: &[u8], out: &mut Vec<u8>) -> bool {
    let mut acc = 0u32;
    let mut bits = 0u32;
    let mut padding = false;
    for &b in text {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            _ => return false,
        };
        if padding {
            return false;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    !out.is_empty()
}

fn trim_quotes(v: &[u8]) -> &[u8] {
    let v = trim_ascii(v);
    match (v.first(), v.last()) {
        (Some(a @ (b'"' | b'\'')), Some(b)) if a == b && v.len() >= 2 => {
            v.get(1..v.len() - 1).unwrap_or_default()
        }
        _ => v,
    }
}

fn trim_ascii(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    v.get(start..end).unwrap_or_default()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn has_run(v: &[u8], byte: u8, n: usize) -> bool {
    v.windows(n).any(|w| w.iter().all(|b| *b == byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rejected_and_real_values_kept() {
        for real in [
            "summer2024",
            "Falcon88!",
            "q8T!vR2zLw#4",
            "kitten42",
            "orchid-sunset-42",
        ] {
            assert!(not_placeholder(real.as_bytes()), "{real}");
        }
        for fake in [
            "${DB_PASSWORD}",
            "<password>",
            "changeme",
            "xxx",
            "***",
            "your-api-key-here",
            "null",
            "None",
            "\"\"",
            "string",
            "os.environ[\"X\"]",
            "$(cat /run/secrets/db)",
            "{{ .Values.password }}",
            "get_password()",
            "config.db.password",
            "DB_PASSWORD",
            "[FILTERED]",
            "********",
            "sk-...",
            "%s",
        ] {
            assert!(!not_placeholder(fake.as_bytes()), "{fake}");
        }
    }

    #[test]
    fn mixed_needs_a_digit_or_both_cases() {
        assert!(mixed(b"summer2024") && mixed(b"Winter") && !mixed(b"db-credentials"));
    }

    #[test]
    fn jwt_needs_a_json_header_with_alg() {
        // {"alg":"HS256","typ":"JWT"}
        assert!(jwt(
            b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
        ));
        // {"name":"bob"}
        assert!(!jwt(
            b"eyJuYW1lIjoiYm9iIn0.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl"
        ));
        assert!(!jwt(b"eyJhbGciOiJIUzI1NiIs!!.x.y"));
    }

    #[test]
    fn crc32_suffix_checks_the_last_six() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let random = b"K8ZKuSvwmw3ez5gFFWPOK44MUhOE7D";
        let mut token = b"ghp_".to_vec();
        token.extend_from_slice(random);
        token.extend_from_slice(&base62_6(
            crc32(random),
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        ));
        assert!(crc32_suffix(&token));
        if let Some(last) = token.last_mut() {
            *last = if *last == b'a' { b'b' } else { b'a' };
        }
        assert!(!crc32_suffix(&token));
        assert!(!crc32_suffix(b"abc"));
    }

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        // ci-bot:Qm7Lz2Vt9Xw4
        assert!(basic_auth(b"Y2ktYm90OlFtN0x6MlZ0OVh3NA=="));
        // user:password
        assert!(!basic_auth(b"dXNlcjpwYXNzd29yZA=="));
        // no colon: "hello world!"
        assert!(!basic_auth(b"aGVsbG8gd29ybGQh"));
    }
}
