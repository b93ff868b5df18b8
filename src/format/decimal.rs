//! Exact decimal text, read without rounding: the numeric strings of an export (`"12.50"`,
//! `"-0.001"`) and the shortest text of an `f64` (`"1.25e-7"`). Two texts denote the same
//! number when their [`Decimal`]s are equal; nothing here allocates.

/// A decimal number as sign, significant digits and the power of ten of its last digit, so that
/// `"12.50"`, `"12.5"` and `"1.25e1"` are equal and `"0"`, `"-0.00"` are all zero.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
    /// The written exponent (`e-7`), 0 when none.
    exp: i64,
    /// Leading zeros of `int ++ frac` to skip, and trailing zeros to drop.
    lead: usize,
    trail: usize,
}

impl<'a> Decimal<'a> {
    /// Reads `-?digits[.digits][e[+-]digits]` (a leading `.` or a trailing `.` is refused, as in
    /// JSON). `None` when the text is anything else, `NaN` and `Infinity` included.
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mantissa, exp) = split_exponent(rest)?;
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !all_digits(int) || !all_digits(frac) || mantissa.ends_with('.') {
            return None;
        }
        let mut d = Decimal { negative, int, frac, exp, lead: 0, trail: 0 };
        let len = int.len() + frac.len();
        d.lead = d.digits_raw().take_while(|&b| b == b'0').count();
        d.trail =
            if d.lead == len { 0 } else { d.digits_raw().rev().take_while(|&b| b == b'0').count() };
        Some(d)
    }

    fn digits_raw(&self) -> impl DoubleEndedIterator<Item = u8> + 'a {
        self.int.bytes().chain(self.frac.bytes())
    }

    /// The significant digits, without leading or trailing zeros (empty for zero).
    fn significant(&self) -> impl Iterator<Item = u8> + 'a {
        let len = self.int.len() + self.frac.len();
        let keep = len - self.lead - self.trail;
        self.digits_raw().skip(self.lead).take(keep)
    }

    /// How many significant digits the value has (`12.50` has 3, zero has none).
    pub(crate) fn significant_digits(&self) -> usize {
        self.significant_len()
    }

    fn significant_len(&self) -> usize {
        self.int.len() + self.frac.len() - self.lead - self.trail
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.significant_len() == 0
    }

    /// The power of ten of the last significant digit (`12.5` → -1, `1200` → 2).
    fn last_exponent(&self) -> i64 {
        self.exp - self.frac.len() as i64 + self.trail as i64
    }

    /// The value as an `i64`: `Ok(None)` when it has a fractional part, `Err(())` when it is a
    /// whole number outside the `i64` range.
    pub(crate) fn to_i64(self) -> Result<Option<i64>, ()> {
        if self.is_zero() {
            return Ok(Some(0));
        }
        let exp = self.last_exponent();
        if exp < 0 {
            return Ok(None);
        }
        if self.significant_len() as i64 + exp > 19 {
            return Err(());
        }
        let mut v: i128 = 0;
        for b in self.significant() {
            v = v * 10 + i128::from(b - b'0');
        }
        v *= 10i128.pow(exp as u32);
        let v = if self.negative { -v } else { v };
        i64::try_from(v).map(Some).map_err(|_| ())
    }
}

/// Numeric equality: same sign (zero has none), same significant digits, same scale.
impl PartialEq for Decimal<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.is_zero() || other.is_zero() {
            return self.is_zero() && other.is_zero();
        }
        self.negative == other.negative
            && self.last_exponent() == other.last_exponent()
            && self.significant_len() == other.significant_len()
            && self.significant().eq(other.significant())
    }
}

fn split_exponent(text: &str) -> Option<(&str, i64)> {
    match text.find(['e', 'E']) {
        None => Some((text, 0)),
        Some(i) => {
            let e = &text[i + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Exponents beyond this are not numbers anyone exports; refusing them keeps the
            // arithmetic above free of overflow.
            let exp: i64 = e.parse().ok().filter(|x: &i64| x.abs() < 1_000_000_000)?;
            Some((&text[..i], exp))
        }
    }
}

/// Whether `value`, stored as REAL, gives back the number `text` denotes: the shortest decimal
/// that reads back as the same `f64` (what Rust, Python and JavaScript print) must be
/// numerically equal to `text`. Trailing zeros (`12.50`) and exponent spelling do not count;
/// a digit changed by rounding does. Infinite and NaN values never round-trip a number.
pub(crate) fn round_trips(text: &Decimal<'_>, value: f64) -> bool {
    if !value.is_finite() {
        return false;
    }
    let mut buf = ryu::Buffer::new();
    let shortest = buf.format_finite(value);
    Decimal::parse(shortest).is_some_and(|d| d == *text)
}

/// Whether `s` is plain decimal text (`12.50`, `-1`, `1e5`): what the schema planner takes
/// for a numeric constant.
pub fn is_decimal(s: &str) -> bool {
    Decimal::parse(s).is_some()
}

/// `s` as an `i64` when it is a whole number in range (`"12.00"` is 12).
pub fn parse_whole(s: &str) -> Option<i64> {
    Decimal::parse(s)?.to_i64().ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal<'_> {
        Decimal::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn equal_numbers_compare_equal_whatever_their_spelling() {
        assert_eq!(d("12.50"), d("12.5"));
        assert_eq!(d("1.25e1"), d("12.5"));
        assert_eq!(d("1200"), d("1.2E3"));
        assert_eq!(d("0"), d("-0.000"));
        assert_eq!(d("0.001"), d("1e-3"));
        assert_ne!(d("-1"), d("1"));
        assert_ne!(d("12.5"), d("12.51"));
        assert_ne!(d("125"), d("12.5"));
    }

    #[test]
    fn anything_but_plain_decimal_text_is_refused() {
        for s in ["", "-", "NaN", "Infinity", ".5", "5.", "1e", "1e+", "+1", "1_0", "0x10", " 1"] {
            assert!(Decimal::parse(s).is_none(), "{s:?} should not parse");
        }
    }

    #[test]
    fn whole_numbers_convert_to_i64_exactly_and_fractions_do_not() {
        assert_eq!(d("9223372036854775807").to_i64(), Ok(Some(i64::MAX)));
        assert_eq!(d("-9223372036854775808").to_i64(), Ok(Some(i64::MIN)));
        assert_eq!(d("9223372036854775808").to_i64(), Err(()));
        assert_eq!(d("-9223372036854775809").to_i64(), Err(()));
        assert_eq!(d("12.000").to_i64(), Ok(Some(12)));
        assert_eq!(d("1.2e3").to_i64(), Ok(Some(1200)));
        assert_eq!(d("12.5").to_i64(), Ok(None));
        assert_eq!(d("1e40").to_i64(), Err(()));
        assert_eq!(d("-0.0").to_i64(), Ok(Some(0)));
    }

    #[test]
    fn round_trip_means_the_shortest_f64_text_is_the_same_number() {
        assert!(round_trips(&d("12.50"), 12.5));
        assert!(round_trips(&d("0.1"), 0.1));
        assert!(round_trips(&d("0.30000000000000004"), 0.1 + 0.2));
        assert!(!round_trips(&d("1234567890123456789"), 1234567890123456789.0));
        assert!(!round_trips(&d("0.1000000000000000055511151231257827"), 0.1));
        assert!(!round_trips(&d("1"), f64::INFINITY));
    }
}
