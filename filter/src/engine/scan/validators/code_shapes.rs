//! What an assignment's value looks like when it is code or prose rather than a secret.
//!
//! A key named like a credential is everywhere in source code, and what follows it is
//! usually not a value at all: a type (`password: Option<String>`, `const ERROR_WRONG_PASSWORD:
//! WIN32_ERROR`), a reference (`token = self.request.token`), a call (`make_token(`), a
//! constant's name, or a sentence (`password = "Password used to generate key"`). A real
//! secret is none of these shapes: it is random, or a word with digits or symbols in it. The
//! checks here are by shape only, so a password that happens to be one capitalised word
//! (`Summer`) or three words of prose is given up for precision.

/// True when `value` is not shaped like code (an identifier chain, a type or constant name, a
/// call) or a sentence.
pub fn not_code(value: &[u8]) -> bool {
    let v = trim(value);
    !(v.is_empty()
        || call(v)
        || identifier_chain(v)
        || screaming_snake(v)
        || snake_words(v)
        || camel_words(v)
        || camel_snake(v)
        || path(v)
        || sentence(v))
}

fn trim(v: &[u8]) -> &[u8] {
    let quote = |b: &u8| matches!(b, b'"' | b'\'' | b'`' | b' ' | b'\t' | b',' | b';');
    let start = v.iter().position(|b| !quote(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !quote(b)).map_or(start, |e| e + 1);
    v.get(start..end).unwrap_or_default()
}

/// `make_token(user`, `auth[2]`, `Prompt.ask(`: a name or chain of names, then `(` or `[`.
fn call(v: &[u8]) -> bool {
    v.iter()
        .position(|b| matches!(b, b'(' | b'['))
        .and_then(|at| v.get(..at))
        .is_some_and(|name| {
            !name.is_empty()
                && name
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':'))
                && name
                    .first()
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        })
}

fn is_identifier(part: &[u8]) -> bool {
    part.first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        && part.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// `self.request.token`, `base64.b32encode`, `crate::Token`: two or more identifiers joined
/// by `.` or `::`.
fn identifier_chain(v: &[u8]) -> bool {
    let text = String::from_utf8_lossy(v);
    let parts: Vec<&str> = text.split(['.', ':']).filter(|p| !p.is_empty()).collect();
    parts.len() >= 2
        && (v.contains(&b'.') || v.windows(2).any(|w| w == b"::"))
        && parts.iter().all(|p| is_identifier(p.as_bytes()))
}

/// `WIN32_ERROR`, `DOT11_DIALOG_TOKEN`, `Uri_PROPERTY`: constant and type names of upper-case
/// words joined by underscores.
fn screaming_snake(v: &[u8]) -> bool {
    is_identifier(v)
        && v.contains(&b'_')
        && v.split(|&b| b == b'_').filter(|w| !w.is_empty()).all(|w| {
            w.iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
                || word(w)
        })
        && v.iter().filter(|b| b.is_ascii_uppercase()).count() >= 3
}

/// `_bindgen_ty_3`, `utf8_to_utf16_dup`: snake-case names with a leading underscore or three
/// or more parts.
fn snake_words(v: &[u8]) -> bool {
    let parts = v.split(|&b| b == b'_').filter(|w| !w.is_empty()).count();
    is_identifier(v)
        && !v.iter().any(u8::is_ascii_uppercase)
        && (v.first() == Some(&b'_') || parts >= 3)
}

/// `ObjectIdentifier`, `challengePassword`, `NSURLCredentialStorage`, `HTTPPasswordMgr`,
/// `X509RequestInheritOptions`, `Option`: words in camel or Pascal case (an upper-case run,
/// with any digits after it, is an acronym), no other digits, at
/// most two short pieces that do not read as words (`Sp`, `Fn`), and at most half of them,
/// where a random run of letters has many.
fn camel_words(v: &[u8]) -> bool {
    if !v.iter().all(u8::is_ascii_alphanumeric)
        || v.first().is_some_and(u8::is_ascii_digit)
        || v.len() < 4
    {
        return false;
    }
    let (mut pieces, mut unreadable, mut words, mut digit_groups) = (0, 0, 0, 0);
    let mut i = 0;
    while i < v.len() {
        let upper_run = v.get(i..).map_or(0, |r| {
            r.iter().take_while(|b| b.is_ascii_uppercase()).count()
        });
        i += upper_run;
        // Digits belong to the acronym before them (`X509Request`, `Win32Error`), nowhere else.
        let digits = v
            .get(i..)
            .map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count());
        if digits > 0 && upper_run == 0 {
            return false;
        }
        digit_groups += usize::from(digits > 0);
        i += digits;
        let lower_run = v.get(i..).map_or(0, |r| {
            r.iter().take_while(|b| b.is_ascii_lowercase()).count()
        });
        i += lower_run;
        if upper_run > 1 && lower_run > 0 {
            // `NSURLCredential`: an acronym, then a word starting at its last letter.
            pieces += 1;
        }
        if lower_run > 0 {
            words += 1;
            let start = i - lower_run - usize::from(upper_run > 0);
            if !word(v.get(start..i).unwrap_or_default()) {
                unreadable += 1;
            }
        }
        pieces += 1;
    }
    // A name has words in it and at most one acronym with digits; `V24I37N4PC88` is a key.
    let readable = words > 0 && digit_groups <= 1 && unreadable <= 2 && unreadable * 2 <= pieces;
    readable && (pieces >= 2 || (v.first().is_some_and(u8::is_ascii_uppercase) && word(v)))
}

/// `PyInit_spwd`, `Py_Initialize`: a camel-case name, then snake-case parts.
fn camel_snake(v: &[u8]) -> bool {
    let mut parts = v.splitn(2, |&b| b == b'_');
    let head = parts.next().unwrap_or_default();
    parts.next().is_some_and(is_identifier_tail) && camel_words(head)
}

fn is_identifier_tail(rest: &[u8]) -> bool {
    !rest.is_empty() && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// `/Users/name`, `~/.config/app`, `./run.sh`: a file path of two or more readable parts.
fn path(v: &[u8]) -> bool {
    let rest = v
        .strip_prefix(b"~/")
        .or_else(|| v.strip_prefix(b"./"))
        .or_else(|| v.strip_prefix(b"/"));
    rest.is_some_and(|rest| {
        let parts: Vec<&[u8]> = rest
            .split(|&b| b == b'/')
            .filter(|p| !p.is_empty())
            .collect();
        parts.len() >= 2
            && parts.iter().all(|p| {
                p.iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                    && p.iter().any(|b| {
                        matches!(
                            b.to_ascii_lowercase(),
                            b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
                        )
                    })
            })
    })
}

/// A word as people write them: letters with a vowel and no run of five consonants.
fn word(w: &[u8]) -> bool {
    let vowel = |b: &u8| {
        matches!(
            b.to_ascii_lowercase(),
            b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
        )
    };
    let mut run = 0;
    let mut longest = 0;
    for b in w {
        run = if vowel(b) { 0 } else { run + 1 };
        longest = longest.max(run);
    }
    w.iter().all(u8::is_ascii_alphabetic) && w.iter().any(vowel) && longest <= 4
}

/// `Password used to generate key`: three or more words of letters, one of them a word
/// that only prose has.
fn sentence(v: &[u8]) -> bool {
    const FUNCTION_WORDS: &[&[u8]] = &[
        b"a", b"an", b"the", b"to", b"of", b"for", b"is", b"used", b"and", b"with", b"your",
        b"this", b"from", b"in", b"by", b"be", b"will",
    ];
    let words: Vec<&[u8]> = v.split(|&b| b == b' ').filter(|w| !w.is_empty()).collect();
    words.len() >= 3
        && words.iter().all(|w| w.iter().all(u8::is_ascii_alphabetic))
        && words
            .iter()
            .any(|w| FUNCTION_WORDS.iter().any(|f| w.eq_ignore_ascii_case(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_prose_are_not_values() {
        for code in [
            "WIN32_ERROR",
            "MSV1_0_PROTOCOL_MESSAGE_TYPE",
            "DOT11_DIALOG_TOKEN",
            "Uri_PROPERTY",
            "_bindgen_ty_3",
            "utf8_to_utf16_dup",
            "self.request.token",
            "base64.b32encode",
            "ed25519.Ed25519PrivateKey.from_private_bytes",
            "crate::Token",
            "Option",
            "ObjectIdentifier",
            "challengePassword",
            "NSURLCredentialStorage",
            "HTTPPasswordMgr",
            "EapCredentialType",
            "AuthenticationString",
            "SpAcceptCredentialsFn",
            "X509RequestInheritOptions",
            "PyInit_spwd",
            "/Users/someone",
            "make_token(",
            "auth[2]",
            "'Password used to generate key'",
            "the token for this session",
        ] {
            assert!(!not_code(code.as_bytes()), "{code}");
        }
    }

    #[test]
    fn secrets_and_passwords_are_values() {
        for value in [
            "r7Ghk2PqW9xZaL",
            "Tn4wQ8zLrV2pXk7m",
            "summer2024",
            "summer_2024",
            "Lantern2029!",
            "hunter2",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "xoxb-2048-10422-q8Lz3Pp0aVvXk",
            "XqvLpTzmRkWbNc",
            "correct-horse-battery-staple",
            "Tr0ub4dor&3",
            "V24I37N4PC88M0YASO84",
            "/9j4Kq+Zr8wLm2Pv",
            "django-insecure-99B_8gnx^q^lJFBS-ihFG%_uK1Jxz(cSmYL4bDHO",
        ] {
            assert!(not_code(value.as_bytes()), "{value}");
        }
    }
}
