//! Kubernetes resource quantities (`500m`, `1Gi`, `1e3`): parsing with the grammar of
//! `k8s.io/apimachinery/pkg/api/resource`, and the canonical form the apiserver stores.
//!
//! k8s-openapi's `Quantity` is only a string. The apiserver parses every quantity it receives
//! and stores its canonical form (`0.5` becomes `500m`, `1024Mi` becomes `1Gi`, `2000m` becomes
//! `2`), so the operator needs the same canonical form to build manifests that compare equal
//! to what it reads back; otherwise every reconcile would see drift and write again. No crate
//! fits: `kube_quantity` keeps the written form (`2.5Gi` stays `2.5Gi`, the apiserver stores
//! `2560Mi`) and `k8s_quantity_parser` only converts to bytes or millicores, so this module
//! follows apimachinery's `ParseQuantity` and `CanonicalizeBytes` (quantity.go, amount.go).
//!
//! Values are held exactly, in nano units (what apimachinery rounds to), within apimachinery's
//! range of `2^63 - 1`; anything beyond is refused rather than capped.

use std::fmt;

/// The written form a quantity keeps when canonicalized: the apiserver never changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `k`, `M`, `m`, no suffix, ...
    DecimalSi,
    /// `Ki`, `Mi`, `Gi`, ...
    BinarySi,
    /// `1e3`, `5E-3`.
    DecimalExponent,
}

/// A parsed quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The value times 10^9, rounded away from zero as apimachinery does.
    nanos: i128,
    format: Format,
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not `<number><suffix>` (or an unknown suffix).
    #[error(
        "is not a quantity: use a number with an optional suffix, such as 500m, 2, 128Mi or 1Gi"
    )]
    Syntax,
    /// Larger in magnitude than Kubernetes allows (2^63 - 1), or with too many digits.
    #[error("is out of range: Kubernetes quantities stay below 2^63 (about 9.2E)")]
    OutOfRange,
}

const NANO: i128 = 1_000_000_000;
/// apimachinery caps quantities at the largest int64.
const MAX_NANOS: i128 = i64::MAX as i128 * NANO;

impl Quantity {
    /// Parses `s` as the apiserver does: `<sign><digits>.<digits><suffix>`, where the suffix is
    /// binary (`Ki`..`Ei`), decimal (`n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`) or an
    /// exponent (`e3`, `E-3`).
    pub fn parse(s: &str) -> Result<Quantity, Error> {
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(Error::Syntax);
        }
        let (format, exp2, exp10) = parse_suffix(suffix)?;

        let mut mantissa: u128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(digit - b'0')))
                .ok_or(Error::OutOfRange)?;
        }
        let fraction_digits = i64::try_from(fraction.len()).map_err(|_| Error::OutOfRange)?;
        // value = mantissa * 2^exp2 * 10^(exp10 - fraction_digits); nanos = value * 10^9.
        mantissa = mantissa
            .checked_mul(1u128 << exp2)
            .ok_or(Error::OutOfRange)?;
        let shift = i64::from(exp10) - fraction_digits + 9;
        let nanos = if shift >= 0 {
            u32::try_from(shift)
                .ok()
                .and_then(|shift| 10u128.checked_pow(shift))
                .and_then(|factor| mantissa.checked_mul(factor))
                .ok_or(Error::OutOfRange)?
        } else {
            // Finer than a nano: rounded up to the next nano, so a tiny non-zero request
            // stays non-zero (apimachinery's rule).
            match u32::try_from(-shift)
                .ok()
                .and_then(|s| 10u128.checked_pow(s))
            {
                Some(divisor) => mantissa.div_ceil(divisor),
                None => u128::from(mantissa != 0),
            }
        };
        let nanos = i128::try_from(nanos)
            .ok()
            .filter(|n| *n <= MAX_NANOS)
            .ok_or(Error::OutOfRange)?;
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// Compares the values, whatever their written forms (`1Ki` equals `1024`).
    pub fn cmp_value(&self, other: &Quantity) -> std::cmp::Ordering {
        self.nanos.cmp(&other.nanos)
    }

    /// The whole units of the value, truncated towards zero (bytes for a size).
    pub fn whole_units(&self) -> i64 {
        // MAX_NANOS keeps the quotient inside i64.
        i64::try_from(self.nanos / NANO).unwrap_or(i64::MAX)
    }

    /// The form the apiserver stores (apimachinery's `Quantity.String()`): the shortest
    /// integer mantissa with a suffix of the quantity's own kind.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_owned();
        }
        let mut format = self.format;
        if format == Format::BinarySi && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0)
        {
            // Below 1Ki, or not a whole number: binary suffixes would need a fraction.
            format = Format::DecimalSi;
        }
        if format == Format::BinarySi {
            let (mantissa, power) = remove_factors(self.nanos / NANO, 1024);
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                .get(power as usize)
                .copied()
                .unwrap_or_default();
            return format!("{mantissa}{suffix}");
        }
        let (mut mantissa, mut exponent) = remove_factors(self.nanos, 10);
        exponent -= 9;
        // Exponents are multiples of three, so the suffix is one of the named ones.
        match exponent.rem_euclid(3) {
            1 => {
                mantissa *= 10;
                exponent -= 1;
            }
            2 => {
                mantissa *= 100;
                exponent -= 2;
            }
            _ => {}
        }
        let suffix = match format {
            Format::DecimalExponent if exponent == 0 => String::new(),
            Format::DecimalExponent => format!("e{exponent}"),
            _ => match exponent {
                -9 => "n",
                -6 => "u",
                -3 => "m",
                3 => "k",
                6 => "M",
                9 => "G",
                12 => "T",
                15 => "P",
                18 => "E",
                _ => "",
            }
            .to_owned(),
        };
        format!("{mantissa}{suffix}")
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// The suffix's format and multiplier, as `2^exp2 * 10^exp10`.
fn parse_suffix(suffix: &str) -> Result<(Format, u32, i32), Error> {
    let binary = |power: u32| Ok((Format::BinarySi, power * 10, 0));
    let decimal = |exp10: i32| Ok((Format::DecimalSi, 0, exp10));
    match suffix {
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        _ => {
            let exponent = suffix
                .strip_prefix(['e', 'E'])
                .filter(|e| !e.is_empty())
                .ok_or(Error::Syntax)?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::Syntax);
            }
            let exp10 = exponent.parse().map_err(|_| Error::OutOfRange)?;
            Ok((Format::DecimalExponent, 0, exp10))
        }
    }
}

/// `value` without its factors of `base`, and how many were removed.
fn remove_factors(mut value: i128, base: i128) -> (i128, i32) {
    let mut times = 0;
    while value != 0 && value % base == 0 {
        value /= base;
        times += 1;
    }
    (value, times)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(s: &str) -> String {
        Quantity::parse(s).unwrap().canonical()
    }

    /// The three examples: without these the desired Deployment never equals the live
    /// one and every reconcile writes.
    #[test]
    fn apiserver_examples_canonicalize() {
        assert_eq!(canonical("0.5"), "500m");
        assert_eq!(canonical("1024Mi"), "1Gi");
        assert_eq!(canonical("2000m"), "2");
    }

    #[test]
    fn canonical_forms_are_kept() {
        for s in [
            "50m", "128Mi", "512Mi", "1", "2k", "1Gi", "1536Mi", "1e3", "100n", "0",
        ] {
            assert_eq!(canonical(s), s);
        }
    }

    /// Decimal values use the largest suffix that keeps the mantissa whole.
    #[test]
    fn decimal_values_move_to_the_next_suffix() {
        assert_eq!(canonical("2000"), "2k");
        assert_eq!(canonical("1500"), "1500");
        assert_eq!(canonical("1.5k"), "1500");
        assert_eq!(canonical("1000M"), "1G");
        assert_eq!(canonical(".5"), "500m");
        assert_eq!(canonical("1."), "1");
        assert_eq!(canonical("+3"), "3");
        assert_eq!(canonical("0.0000001"), "100n");
        assert_eq!(canonical("0Gi"), "0");
    }

    /// Binary values stay binary when whole and at least 1Ki, else become decimal.
    #[test]
    fn binary_values_stay_binary_when_whole() {
        assert_eq!(canonical("1.5Gi"), "1536Mi");
        assert_eq!(canonical("2048Ki"), "2Mi");
        assert_eq!(canonical("0.5Ki"), "512");
        assert_eq!(canonical("1024"), "1024");
        assert_eq!(canonical("0.1Ki"), "102400m");
    }

    #[test]
    fn exponents_stay_exponents() {
        assert_eq!(canonical("1E3"), "1e3");
        assert_eq!(canonical("1.5e3"), "1500");
        assert_eq!(canonical("5e-3"), "5e-3");
        assert_eq!(canonical("12e+6"), "12e6");
    }

    /// apimachinery rounds anything finer than a nano up to the next nano.
    #[test]
    fn sub_nano_values_round_up() {
        assert_eq!(canonical("0.1n"), "1n");
        assert_eq!(canonical("1e-30"), "1e-9");
        assert_eq!(
            canonical("0.0000000000000000000000000000000000000000001"),
            "1n"
        );
    }

    #[test]
    fn values_and_signs() {
        let q = Quantity::parse("1.5Ki").unwrap();
        assert_eq!(q.whole_units(), 1536);
        assert!(!q.is_negative() && !q.is_zero());
        let q = Quantity::parse("-1Mi").unwrap();
        assert!(q.is_negative());
        assert_eq!(q.canonical(), "-1Mi");
        assert_eq!(Quantity::parse("0.9").unwrap().whole_units(), 0);
        let kib = Quantity::parse("1Ki").unwrap();
        assert_eq!(
            kib.cmp_value(&Quantity::parse("1024").unwrap()),
            std::cmp::Ordering::Equal
        );
        assert_eq!(
            kib.cmp_value(&Quantity::parse("1k").unwrap()),
            std::cmp::Ordering::Greater
        );
    }

    #[test]
    fn malformed_quantities_are_refused() {
        for s in [
            "", "lots", "1 Gi", " 1", "1Gb", "1.2.3", ".", "-", "1e", "1e1.5", "Mi", "1mi", "1KiB",
            "--1", "1e+", "0x10",
        ] {
            assert_eq!(Quantity::parse(s), Err(Error::Syntax), "{s:?}");
        }
    }

    #[test]
    fn out_of_range_quantities_are_refused() {
        for s in [
            "10E",
            "16Ei",
            "1e19",
            "1e400",
            "99999999999999999999999999999999999999999",
        ] {
            assert_eq!(Quantity::parse(s), Err(Error::OutOfRange), "{s:?}");
        }
        assert_eq!(Quantity::parse("9E").unwrap().canonical(), "9E");
        assert_eq!(Quantity::parse("7Ei").unwrap().canonical(), "7Ei");
    }
}
