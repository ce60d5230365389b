//! Card issuers that use Luhn beyond the seven big networks, told apart from those by
//! their number prefixes and lengths (for `payment_card` and `payment_card_other`).

/// Issuers that use Luhn beyond the seven big networks: UATP (1, 15 digits), Mir
/// (2200-2204), RuPay (60, 81, 82, 508, 353, 356), Troy (9792), Verve (506099-506198,
/// 650002-650027), Dankort (5019), InstaPayment (637-639), InterPayment (636), Elo
/// (a selection of its BIN ranges), Laser (6304, 6706, 6771, 6709) and BC Card (94-95 is
/// not Luhn and so not here). `d` are the number's digits.
pub fn other_issuer(d: &[u8]) -> bool {
    let n = d.len();
    let p1 = prefix(d, 1);
    let p2 = prefix(d, 2);
    let p3 = prefix(d, 3);
    let p4 = prefix(d, 4);
    let p6 = prefix(d, 6);
    let uatp = p1 == 1 && n == 15;
    let mir = (2200..=2204).contains(&p4) && (16..=19).contains(&n);
    let rupay = (matches!(p2, 60 | 81 | 82) || matches!(p3, 508 | 353 | 356)) && n == 16;
    let troy = p4 == 9792 && n == 16;
    let verve = ((506_099..=506_198).contains(&p6) || (650_002..=650_027).contains(&p6))
        && matches!(n, 16 | 18 | 19);
    let dankort = p4 == 5019 && n == 16;
    let instapayment = (637..=639).contains(&p3) && n == 16;
    let interpayment = p3 == 636 && (16..=19).contains(&n);
    let elo = matches!(
        p6,
        401_178
            | 401_179
            | 431_274
            | 438_935
            | 451_416
            | 457_393
            | 457_631
            | 457_632
            | 504_175
            | 627_780
            | 636_297
            | 636_368
    ) && n == 16;
    let laser = matches!(p4, 6304 | 6706 | 6771 | 6709) && (16..=19).contains(&n);
    uatp || mir || rupay || troy || verve || dankort || instapayment || interpayment || elo || laser
}

/// The seven networks the default policy names in detectors of their own.
pub fn major_issuer(d: &[u8]) -> bool {
    let p1 = prefix(d, 1);
    let p2 = prefix(d, 2);
    let p3 = prefix(d, 3);
    let p4 = prefix(d, 4);
    p1 == 4
        || (51..=55).contains(&p2)
        || (2221..=2720).contains(&p4)
        || matches!(p2, 34 | 37 | 36 | 38 | 39 | 62 | 65)
        || p4 == 6011
        || (644..=649).contains(&p3)
        || (3528..=3589).contains(&p4)
        || (300..=305).contains(&p3)
        || p4 == 3095
}

/// The number formed by the first `len` digits.
fn prefix(digits: &[u8], len: usize) -> u32 {
    digits
        .iter()
        .take(len)
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_issuers_are_told_from_the_major_ones() {
        let digits = |s: &str| -> Vec<u8> { s.bytes().map(|b| b - b'0').collect() };
        for other in [
            "100000000000000",
            "2200123412341234",
            "6071234512345678",
            "9792123412341234",
        ] {
            assert!(other_issuer(&digits(other)), "{other}");
            assert!(!major_issuer(&digits(other)), "{other}");
        }
        for major in [
            "4111111111111111",
            "5500000000000004",
            "378282246310005",
            "6011000990139424",
        ] {
            assert!(major_issuer(&digits(major)), "{major}");
        }
        // UATP is 15 digits only.
        assert!(!other_issuer(&digits("1000000000000000")));
    }
}
