//! Checks that run on a candidate match after the regex found it.
//!
//! A regex can say "16 digits"; only a checksum can say "a card number". These
//! validators turn cheap pattern hits into findings a security team can trust:
//! each one is a pure function of the matched bytes, allocation-free, and
//! total (any input gives an answer, never a panic).

mod addresses;
mod code_shapes;
mod credentials;
mod issuers;

/// A compiled validator; see the policy schema for what each one means.
#[derive(Debug, Clone, PartialEq)]
pub enum Validator {
    Luhn,
    PaymentCard,
    Iban,
    CnResidentId,
    UsSsn,
    MinEntropy(f64),
    Length { min: usize, max: usize },
    NotTrivial,
    PaymentCardOther,
    Ipv4Public,
    Ipv4Internal,
    NotDocumentationIp,
    PhoneNumber,
    Ipv6Address,
    NotPlaceholder,
    NotCode,
    Jwt,
    Crc32Suffix,
    BasicAuth,
    Mixed,
}

impl Validator {
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        match self {
            Validator::Luhn => luhn_digits(candidate),
            Validator::PaymentCard => payment_card(candidate),
            Validator::Iban => iban(candidate),
            Validator::CnResidentId => cn_resident_id(candidate),
            Validator::UsSsn => us_ssn(candidate),
            Validator::MinEntropy(floor) => shannon_entropy(candidate) >= *floor,
            Validator::Length { min, max } => (*min..=*max).contains(&candidate.len()),
            Validator::NotTrivial => !trivial(candidate),
            Validator::PaymentCardOther => payment_card_other(candidate),
            Validator::Ipv4Public => addresses::ipv4_public(candidate),
            Validator::Ipv4Internal => addresses::ipv4_internal(candidate),
            Validator::NotDocumentationIp => addresses::not_documentation_ip(candidate),
            Validator::PhoneNumber => addresses::phone_number(candidate),
            Validator::Ipv6Address => addresses::ipv6_address(candidate),
            Validator::NotPlaceholder => credentials::not_placeholder(candidate),
            Validator::NotCode => code_shapes::not_code(candidate),
            Validator::Jwt => credentials::jwt(candidate),
            Validator::Crc32Suffix => credentials::crc32_suffix(candidate),
            Validator::BasicAuth => credentials::basic_auth(candidate),
            Validator::Mixed => credentials::mixed(candidate),
        }
    }
}

impl Validator {
    /// How many digits a value this validator accepts holds, when accepting it needs its ASCII
    /// digits, in order, to pass the Luhn check: then the digits of any text holding the
    /// value's digits and no others must pass [`luhn_count_within`] too.
    pub(crate) fn luhn_digit_counts(&self) -> Option<std::ops::RangeInclusive<usize>> {
        match self {
            // `digits` gives up past 32, `luhn` below 2.
            Validator::Luhn => Some(2..=32),
            Validator::PaymentCard | Validator::PaymentCardOther => Some(12..=19),
            _ => None,
        }
    }
}

/// Whether the ASCII digits of `text` (every other byte skipped) number within `counts` and
/// pass the Luhn check.
pub(crate) fn luhn_count_within(text: &[u8], counts: &std::ops::RangeInclusive<usize>) -> bool {
    let mut buf = [0u8; 32];
    let mut n = 0;
    for &b in text.iter().filter(|b| b.is_ascii_digit()) {
        let Some(slot) = buf.get_mut(n) else {
            return false;
        };
        *slot = b - b'0';
        n += 1;
    }
    counts.contains(&n) && luhn(buf.get(..n).unwrap_or_default())
}

/// Digits of `text`, skipping spaces and dashes; `None` if anything else occurs or there are more than 32.
fn digits(text: &[u8], buf: &mut [u8; 32]) -> Option<usize> {
    let mut n = 0;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                *buf.get_mut(n)? = b - b'0';
                n += 1;
            }
            b' ' | b'-' => {}
            _ => return None,
        }
    }
    Some(n)
}

fn luhn(digits: &[u8]) -> bool {
    if digits.len() < 2 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

pub(crate) fn luhn_digits(text: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    match digits(text, &mut buf) {
        Some(n) => luhn(buf.get(..n).unwrap_or_default()),
        None => false,
    }
}

/// The number formed by the first `len` digits.
fn prefix(digits: &[u8], len: usize) -> u32 {
    digits
        .iter()
        .take(len)
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
}

/// Luhn plus a known issuer's prefix and length.
fn payment_card(text: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    let Some(n) = digits(text, &mut buf) else {
        return false;
    };
    let d = buf.get(..n).unwrap_or_default();
    if !(12..=19).contains(&n) || !luhn(d) {
        return false;
    }
    let p1 = prefix(d, 1);
    let p2 = prefix(d, 2);
    let p3 = prefix(d, 3);
    let p4 = prefix(d, 4);
    let p6 = prefix(d, 6);
    let visa = p1 == 4 && matches!(n, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16;
    let amex = matches!(p2, 34 | 37) && n == 15;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
            && (16..=19).contains(&n);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&n);
    let unionpay = p2 == 62 && (16..=19).contains(&n);
    let diners = ((300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39) || p4 == 3095)
        && (14..=19).contains(&n);
    let maestro = matches!(
        p4,
        5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
    ) && (12..=19).contains(&n);
    visa || mastercard
        || amex
        || discover
        || jcb
        || unionpay
        || diners
        || maestro
        || issuers::other_issuer(d)
}

/// A payment card (as [`payment_card`]) of a network other than Visa, Mastercard, Amex,
/// Discover, JCB, UnionPay and Diners (UATP, Mir, RuPay, Maestro, Troy, Verve, ...).
fn payment_card_other(text: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    let Some(n) = digits(text, &mut buf) else {
        return false;
    };
    payment_card(text) && !issuers::major_issuer(buf.get(..n).unwrap_or_default())
}

/// ISO 13616 length of each country's IBAN.
fn iban_length(country: [u8; 2]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NL", 18),
        (b"NO", 15),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"SA", 24),
        (b"SC", 31),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
    ];
    TABLE
        .iter()
        .find(|(c, _)| **c == country)
        .map(|&(_, len)| len)
}

/// IBAN: country length and mod-97 == 1, ignoring spaces; letters in either case.
fn iban(text: &[u8]) -> bool {
    let mut compact = [0u8; 34];
    let mut n = 0;
    for &b in text {
        if b == b' ' {
            continue;
        }
        if !b.is_ascii_alphanumeric() {
            return false;
        }
        let Some(slot) = compact.get_mut(n) else {
            return false;
        };
        *slot = b.to_ascii_uppercase();
        n += 1;
    }
    let iban = compact.get(..n).unwrap_or_default();
    let (Some(&c0), Some(&c1)) = (iban.first(), iban.get(1)) else {
        return false;
    };
    if iban_length([c0, c1]) != Some(n)
        || !iban
            .get(2..4)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    {
        return false;
    }
    // Move the first four characters to the end; letters count as 10..35.
    let rotated = iban
        .get(4..)
        .unwrap_or_default()
        .iter()
        .chain(iban.get(..4).unwrap_or_default());
    let mut remainder = 0u32;
    for &b in rotated {
        remainder = match b {
            b'0'..=b'9' => (remainder * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (remainder * 100 + u32::from(b - b'A') + 10) % 97,
            _ => return false,
        };
    }
    remainder == 1
}

/// GB 11643-1999: 17 digits, a check character, a valid province and birth date.
pub(crate) fn cn_resident_id(text: &[u8]) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if text.len() != 18 {
        return false;
    }
    let (body, check) = text.split_at(17);
    if !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = body
        .iter()
        .zip(WEIGHTS)
        .map(|(&b, w)| u32::from(b - b'0') * w)
        .sum();
    let expected = CHECK.get((sum % 11) as usize).copied();
    if check.first().map(u8::to_ascii_uppercase) != expected {
        return false;
    }
    let province = prefix_ascii(body, 0, 2);
    let valid_province = matches!(province,
        11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81..=83);
    let year = prefix_ascii(body, 6, 4);
    let month = prefix_ascii(body, 10, 2);
    let day = prefix_ascii(body, 12, 2);
    valid_province && (1900..=2100).contains(&year) && valid_date(year, month, day)
}

fn prefix_ascii(text: &[u8], start: usize, len: usize) -> u32 {
    text.iter()
        .skip(start)
        .take(len)
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b.wrapping_sub(b'0')))
}

fn valid_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000.
fn us_ssn(text: &[u8]) -> bool {
    let mut buf = [0u8; 32];
    let Some(n) = digits(text, &mut buf) else {
        return false;
    };
    if n != 9 {
        return false;
    }
    let d = buf.get(..n).unwrap_or_default();
    let area = prefix(d, 3);
    let group = prefix(d.get(3..).unwrap_or_default(), 2);
    let serial = prefix(d.get(5..).unwrap_or_default(), 4);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(text: &[u8]) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in text {
        if let Some(c) = counts.get_mut(usize::from(b)) {
            *c += 1;
        }
    }
    let len = text.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// One repeated byte, or a run stepping by +1 or -1 throughout (`123456`, `abcdef`, `987654`).
fn trivial(text: &[u8]) -> bool {
    let Some((&first, rest)) = text.split_first() else {
        return true;
    };
    if rest.iter().all(|&b| b == first) {
        return true;
    }
    // Digits wrap around (`7890123`), as keyboard runs do.
    let steps = |delta: i16| {
        text.windows(2).all(|w| match w {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                (i16::from(*b) - i16::from(*a)).rem_euclid(10) == delta.rem_euclid(10)
            }
            [a, b] => i16::from(*b) - i16::from(*a) == delta,
            _ => false,
        })
    };
    text.len() >= 4 && (steps(1) || steps(-1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_valid_and_rejects_changed_digits() {
        assert!(Validator::Luhn.accepts(b"79927398713"));
        assert!(!Validator::Luhn.accepts(b"79927398710"));
        assert!(Validator::Luhn.accepts(b"4539 1488 0343 6467"));
        assert!(!Validator::Luhn.accepts(b"4539x1488"));
        assert!(!Validator::Luhn.accepts(b"0"));
    }

    #[test]
    fn payment_card_needs_issuer_length_and_luhn() {
        for good in [
            "4539148803436467",
            "5555-5555-5555-4444",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "6212345678901232",
            "2223003122003222",
            "30569309025904",
        ] {
            assert!(payment_card(good.as_bytes()), "{good}");
        }
        // Luhn-valid but no issuer starts with 1; a Visa with one digit changed.
        assert!(!payment_card(b"1234567812345670"));
        assert!(!payment_card(b"4539148803436468"));
        // Amex prefix with a Visa length.
        assert!(!payment_card(b"3782822463100051"));
    }

    #[test]
    fn iban_checks_country_length_and_mod97() {
        assert!(iban(b"GB82 WEST 1234 5698 7654 32"));
        assert!(iban(b"DE89370400440532013000"));
        assert!(iban(b"fr1420041010050500013m02606"));
        assert!(!iban(b"GB82 WEST 1234 5698 7654 33"));
        assert!(!iban(b"DE8937040044053201300"));
        assert!(!iban(b"ZZ89370400440532013000"));
    }

    #[test]
    fn cn_resident_id_checks_digit_province_and_date() {
        assert!(cn_resident_id(b"11010519491231002X"));
        assert!(cn_resident_id(b"11010519491231002x"));
        assert!(cn_resident_id(b"440524198001010013"));
        assert!(!cn_resident_id(b"110105194912310021"));
        // Right check digit arithmetic does not rescue an impossible date (Feb 30).
        assert!(!cn_resident_id(b"110105194902300020"));
        assert!(!cn_resident_id(b"99010519491231002X"));
        assert!(!cn_resident_id(b"1101051949123100"));
    }

    #[test]
    fn ssn_rules() {
        assert!(us_ssn(b"123-45-6789"));
        assert!(!us_ssn(b"000-45-6789"));
        assert!(!us_ssn(b"666-45-6789"));
        assert!(!us_ssn(b"912-45-6789"));
        assert!(!us_ssn(b"123-00-6789"));
        assert!(!us_ssn(b"123-45-0000"));
    }

    #[test]
    fn entropy_and_triviality() {
        assert_eq!(shannon_entropy(b"aaaa"), 0.0);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
        assert!(Validator::MinEntropy(3.5).accepts(b"q8Z3vLx0Pw9KmT2r"));
        assert!(!Validator::MinEntropy(3.5).accepts(b"changemechangeme"));
        assert!(trivial(b"1111111"));
        assert!(trivial(b"123456789"));
        assert!(trivial(b"fedcba"));
        assert!(trivial(b"1234567890"));
        assert!(trivial(b"8901234"));
        assert!(!trivial(b"8f3a9c"));
        assert!(Validator::Length { min: 3, max: 5 }.accepts(b"abcd"));
        assert!(!Validator::Length { min: 3, max: 5 }.accepts(b"abcdef"));
    }
}
