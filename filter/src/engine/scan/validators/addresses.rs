//! Validators for network addresses and phone numbers: which IPv4 addresses are internal,
//! public or documentation examples, which colon runs are IPv6 addresses, which digit runs
//! can be phone numbers. Like the rest of [`super`]: pure, allocation-free and total.

/// The four octets of a dotted quad (`0`-`255`, no leading zeros, exactly four parts).
pub fn ipv4_octets(text: &[u8]) -> Option<[u8; 4]> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for slot in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        if part.len() > 1 && part.first() == Some(&b'0') {
            return None;
        }
        let value = part
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
        *slot = u8::try_from(value).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(octets)
}

/// Private, shared (CGNAT), loopback and link-local ranges: internal infrastructure.
fn ipv4_is_internal([a, b, _, _]: [u8; 4]) -> bool {
    a == 10
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 168)
        || a == 127
        || (a == 169 && b == 254)
        || (a == 100 && (64..=127).contains(&b))
}

/// RFC 5737 documentation ranges: examples, not anybody's address.
fn ipv4_is_documentation([a, b, c, _]: [u8; 4]) -> bool {
    matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113))
}

/// Not an address anybody is reached at: "this network" (0/8), multicast and reserved
/// (224/3), the benchmarking range (198.18/15) and the IETF protocol range (192.0.0/24).
fn ipv4_is_special([a, b, c, _]: [u8; 4]) -> bool {
    a == 0 || a >= 224 || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0 && c == 0)
}

/// Shaped like a version, a section number or an OID rather than an address: the first
/// two parts single digits (`1.8.1.2`, `4.5.103.35`, `3.2.2.10`, `1.3.101.112`,
/// `2.5.29.17`). Public addresses of that shape are a sliver of the space (0.14 % of it).
fn ipv4_is_version_shaped([a, b, _, _]: [u8; 4]) -> bool {
    a < 10 && b < 10
}

/// A public IPv4 address: a dotted quad outside the internal, documentation and special
/// ranges, and not shaped like a version or an OID.
pub fn ipv4_public(text: &[u8]) -> bool {
    ipv4_octets(text).is_some_and(|o| {
        !ipv4_is_internal(o)
            && !ipv4_is_documentation(o)
            && !ipv4_is_special(o)
            && !ipv4_is_version_shaped(o)
    })
}

/// An internal IPv4 address: private (10/8, 172.16/12, 192.168/16), shared (100.64/10),
/// loopback (127/8) or link-local (169.254/16); not the base address that names one of
/// these ranges (`10.0.0.0`, `192.168.0.0`), which reveals nothing.
pub fn ipv4_internal(text: &[u8]) -> bool {
    ipv4_octets(text).is_some_and(|o| {
        ipv4_is_internal(o)
            && !matches!(
                o,
                [10, 0, 0, 0]
                    | [172, 16, 0, 0]
                    | [192, 168, 0, 0]
                    | [127, 0, 0, 0]
                    | [169, 254, 0, 0]
                    | [100, 64, 0, 0]
            )
    })
}

/// An IPv6 address as people write one, not a code path (`de::`, `Add::add`, `f16::E`) or
/// a fingerprint (`6A:E5:D0:41:43:63:EF:65`): at least two groups (an IPv4 tail counts as
/// two), at least four hex digits (not a slice like `[0::2]`), a digit somewhere, letters
/// of one case, and not eight groups of two digits each.
/// A zone (`%eth0`) and what follows it are not looked at.
pub fn ipv6_address(text: &[u8]) -> bool {
    let addr = text.split(|&b| b == b'%').next().unwrap_or_default();
    let v4_tail = addr.contains(&b'.');
    let groups = addr.split(|&b| b == b':').filter(|g| !g.is_empty());
    let (mut count, mut two_wide, mut hex_digits) = (0usize, 0usize, 0usize);
    for g in groups {
        count += 1;
        two_wide += usize::from(g.len() == 2);
        hex_digits += g.len();
    }
    if v4_tail {
        count += 1;
        hex_digits += 4;
    }
    // `0::2`, `1::20`: a slice (`attrs[0::2]`) or a toy, not an address.
    if hex_digits < 4 {
        return false;
    }
    let lower = addr.iter().any(u8::is_ascii_lowercase);
    let upper = addr.iter().any(u8::is_ascii_uppercase);
    let digit = addr.iter().any(u8::is_ascii_digit);
    count >= 2 && digit && !(lower && upper) && !(count == 8 && two_wide == 8)
}

/// Not a documentation address: not in RFC 5737's IPv4 ranges, and not in RFC 3849's
/// IPv6 prefix 2001:db8::/32 (any case, with or without leading zeros).
pub fn not_documentation_ip(text: &[u8]) -> bool {
    if let Some(o) = ipv4_octets(text) {
        return !ipv4_is_documentation(o);
    }
    let mut groups = text.split(|&b| b == b':');
    let first = groups.next().map(trim_zeros);
    let second = groups.next().map(trim_zeros);
    !(first.is_some_and(|g| g.eq_ignore_ascii_case(b"2001"))
        && second.is_some_and(|g| g.eq_ignore_ascii_case(b"db8")))
}

fn trim_zeros(group: &[u8]) -> &[u8] {
    let zeros = group.iter().take_while(|&&b| b == b'0').count();
    group.get(zeros..).unwrap_or_default()
}

/// A phone number's digits: 8 to 15 of them (E.164's limit), separated only by spaces,
/// dashes, dots, slashes, parentheses or a leading `+`, and not one digit repeated.
pub fn phone_number(text: &[u8]) -> bool {
    let mut count = 0usize;
    let mut first = None;
    let mut all_same = true;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                count += 1;
                match first {
                    None => first = Some(b),
                    Some(f) => all_same &= f == b,
                }
            }
            b' ' | b'-' | b'.' | b'/' | b'(' | b')' | b'+' => {}
            _ => return false,
        }
    }
    (8..=15).contains(&count)
        && !all_same
        && e164_length_fits(text)
        && !signed_decimal(text)
        && !date_shaped(text)
        && !zip_plus_four(text)
        && !text.starts_with(b"000")
}

/// For `+CC ...`: the national number's length fits the country's numbering plan, for the
/// countries whose plans have one length (or two): NANP, UK, France, China, India, Japan,
/// Australia, Brazil, Russia, Spain. Other countries pass.
fn e164_length_fits(text: &[u8]) -> bool {
    if text.first() != Some(&b'+') {
        return true;
    }
    // Up to the first "(0)": a trunk prefix written in brackets is not part of the number.
    let mut digits = [0u8; 16];
    let mut n = 0;
    let mut rest = text;
    while let Some((&b, tail)) = rest.split_first() {
        if tail.starts_with(b"0)") && b == b'(' {
            rest = tail.get(2..).unwrap_or_default();
            continue;
        }
        if b.is_ascii_digit() {
            match digits.get_mut(n) {
                Some(slot) => *slot = b - b'0',
                None => return false,
            }
            n += 1;
        }
        rest = tail;
    }
    let d = digits.get(..n).unwrap_or_default();
    let national = |cc_len: usize| n.saturating_sub(cc_len);
    match (d.first(), d.get(1)) {
        (Some(1), _) => national(1) == 10,
        (Some(7), _) => national(1) == 10,
        (Some(4), Some(4)) => (9..=10).contains(&national(2)),
        (Some(3), Some(3)) | (Some(3), Some(4)) => national(2) == 9,
        (Some(8), Some(6)) => (10..=11).contains(&national(2)),
        (Some(9), Some(1)) => national(2) == 10,
        (Some(8), Some(1)) => (9..=10).contains(&national(2)),
        (Some(6), Some(1)) => national(2) == 9,
        (Some(5), Some(5)) => (10..=11).contains(&national(2)),
        _ => true,
    }
}

/// A signed decimal number (`+35236450.6`): a `+`, digits, one dot, digits.
fn signed_decimal(text: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix(b"+") else {
        return false;
    };
    let dots = rest.iter().filter(|&&b| b == b'.').count();
    dots == 1 && rest.iter().all(|&b| b == b'.' || b.is_ascii_digit()) && !rest.ends_with(b".")
}

/// A US ZIP+4 code: `02110-1301`.
fn zip_plus_four(text: &[u8]) -> bool {
    text.len() == 10
        && text.get(5) == Some(&b'-')
        && text
            .iter()
            .enumerate()
            .all(|(i, b)| i == 5 || b.is_ascii_digit())
}

/// Three digit groups with one separator, shaped like a date: `01.02.2024`, `2024-02-01`,
/// `1/2/2024`.
fn date_shaped(text: &[u8]) -> bool {
    let Some(&sep) = text.iter().find(|b| !b.is_ascii_digit()) else {
        return false;
    };
    if !matches!(sep, b'.' | b'/' | b'-') {
        return false;
    }
    let mut lens = [0usize; 3];
    let mut parts = text.split(|&b| b == sep);
    for slot in &mut lens {
        match parts.next() {
            Some(p) if !p.is_empty() && p.iter().all(u8::is_ascii_digit) => *slot = p.len(),
            _ => return false,
        }
    }
    parts.next().is_none()
        && matches!(
            lens,
            [1 | 2, 1 | 2, 4] | [4, 1 | 2, 1 | 2] | [1 | 2, 1 | 2, 2]
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_splits_internal_public_documentation_and_versions() {
        for internal in [
            "10.24.8.17",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.100",
            "127.0.0.53",
            "169.254.169.254",
            "100.64.3.7",
        ] {
            assert!(ipv4_internal(internal.as_bytes()), "{internal}");
            assert!(!ipv4_public(internal.as_bytes()), "{internal}");
        }
        for public in ["52.14.203.9", "81.2.69.160", "172.32.0.1", "100.128.4.4"] {
            assert!(ipv4_public(public.as_bytes()), "{public}");
            assert!(!ipv4_internal(public.as_bytes()), "{public}");
        }
        for neither in [
            "192.0.2.44",
            "198.51.100.7",
            "203.0.113.45",
            "1.8.1.2",
            "2.5.4.3",
            "1.3.101.112",
            "4.5.103.35",
            "3.2.2.10",
            "224.0.0.251",
            "0.1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "256.1.1.1",
            "1.2.3",
        ] {
            assert!(!ipv4_public(neither.as_bytes()), "{neither}");
            assert!(!ipv4_internal(neither.as_bytes()), "{neither}");
        }
    }

    #[test]
    fn documentation_ranges_of_both_families_are_recognised() {
        for doc in [
            "203.0.113.9",
            "2001:db8::1",
            "2001:0DB8:85a3::7",
            "2001:db8:0:1::",
        ] {
            assert!(!not_documentation_ip(doc.as_bytes()), "{doc}");
        }
        for real in [
            "52.14.203.9",
            "2001:db9::1",
            "2a01:4f8:c17::1",
            "fe80::1%eth0",
            "::ffff:1.2.3.4",
        ] {
            assert!(not_documentation_ip(real.as_bytes()), "{real}");
        }
    }

    #[test]
    fn ipv6_addresses_are_told_from_code_paths_and_fingerprints() {
        for addr in [
            "fe80::1%eth0",
            "2a01:4f8:c17::1",
            "::ffff:198.51.100.23",
            "FD12:3456::25",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ] {
            assert!(ipv6_address(addr.as_bytes()), "{addr}");
        }
        for not in [
            "0::2",
            "1::20",
            "de::",
            "dfa::",
            "Add::add",
            "DFA::DEAD",
            "f16::E",
            "::2",
            "6A:E5:D0:41:43:63:EF:65",
            "a::b",
        ] {
            assert!(!ipv6_address(not.as_bytes()), "{not}");
        }
    }

    #[test]
    fn phone_numbers_count_digits_and_reject_repeats() {
        for good in [
            "+44 20 7946 0958",
            "(02) 9876 5432",
            "030/12345678",
            "01.42.68.53.00",
        ] {
            assert!(phone_number(good.as_bytes()), "{good}");
        }
        for good in [
            "+1-816-555-1212",
            "+44 (0)20 7946 0958",
            "+86 139 1234 5678",
            "+49 30 901820",
        ] {
            assert!(phone_number(good.as_bytes()), "{good}");
        }
        for bad in [
            "+35236450.6",
            "+44 1234567",
            "+1 415 555 01",
            "02110-1301",
            "00000094",
            "01.02.2024",
            "2024-02-01",
            "1/2/2024",
            "1234567",
            "0000 000 000",
            "+1 415 555 0132 9999 12",
            "020 7946 x958",
        ] {
            assert!(!phone_number(bad.as_bytes()), "{bad}");
        }
    }
}
