//! The text forms of dates, times and intervals that the export writes (DESIGN.md, "Fine
//! points of the encoding"): RFC 3339 with exactly six fraction digits, ISO 8601 expanded
//! years outside 0001–9999, timetz offsets `+HH:MM` (`:SS` only when non-zero), and intervals
//! as Postgres' `iso_8601` style prints them. Each check accepts exactly those forms.

/// A forward-only reader over ASCII text.
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s: s.as_bytes(), at: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.at += 1)
    }

    /// Exactly `n` digits, as a number.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let run = self.s.get(self.at..self.at + n)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(run.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    }

    /// One or more digits, as text.
    fn run(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        (self.at > start).then(|| &self.s[start..self.at])
    }

    fn done(&self) -> Option<()> {
        (self.at == self.s.len()).then_some(())
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff`, with `Z` when `zoned`; or `infinity` / `-infinity`.
pub fn is_timestamp(s: &str, zoned: bool) -> bool {
    is_infinity(s) || timestamp(&mut Cursor::new(s), zoned).is_some()
}

fn timestamp(c: &mut Cursor, zoned: bool) -> Option<()> {
    date(c)?;
    c.eat(b'T')?;
    time(c, false)?;
    if zoned {
        c.eat(b'Z')?;
    }
    c.done()
}

/// `YYYY-MM-DD` (expanded years allowed), or `infinity` / `-infinity`.
pub fn is_date(s: &str) -> bool {
    let mut c = Cursor::new(s);
    is_infinity(s) || date(&mut c).and_then(|()| c.done()).is_some()
}

/// `HH:MM:SS.ffffff` (`24:00:00.000000` included, as Postgres allows).
pub fn is_time(s: &str) -> bool {
    let mut c = Cursor::new(s);
    time(&mut c, true).and_then(|()| c.done()).is_some()
}

/// `HH:MM:SS.ffffff+HH:MM`, or with `:SS` on the offset when its seconds are non-zero.
pub fn is_timetz(s: &str) -> bool {
    let mut c = Cursor::new(s);
    time(&mut c, true).and_then(|()| offset(&mut c)).and_then(|()| c.done()).is_some()
}

fn is_infinity(s: &str) -> bool {
    s == "infinity" || s == "-infinity"
}

fn date(c: &mut Cursor) -> Option<()> {
    let year = year(c)?;
    c.eat(b'-')?;
    let month = c.digits(2)?;
    c.eat(b'-')?;
    let day = c.digits(2)?;
    ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then_some(())
}

/// A year: four digits for 0000–9999, else a sign and at least four digits (ISO 8601
/// expanded, astronomical numbering: `-0043` is 44 BC, `+10000`), with no needless sign.
fn year(c: &mut Cursor) -> Option<i64> {
    let sign = c.peek().filter(|s| matches!(s, b'+' | b'-'));
    if sign.is_some() {
        c.at += 1;
    }
    let run = c.run()?;
    let text = std::str::from_utf8(run).ok()?;
    let value: i64 = text.parse().ok()?;
    let canonical_width = run.len() == 4 || run[0] != b'0';
    match sign {
        None => (run.len() == 4).then_some(value),
        Some(b'+') => (value > 9999 && canonical_width).then_some(value),
        _ => (value >= 1 && canonical_width).then_some(-value),
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `HH:MM:SS.ffffff`; `24:00:00.000000` only when `allow_24` (time and timetz).
fn time(c: &mut Cursor, allow_24: bool) -> Option<()> {
    let h = c.digits(2)?;
    c.eat(b':')?;
    let m = c.digits(2)?;
    c.eat(b':')?;
    let s = c.digits(2)?;
    c.eat(b'.')?;
    let frac = c.digits(6)?;
    let midnight_24 = allow_24 && h == 24 && m == 0 && s == 0 && frac == 0;
    (midnight_24 || (h <= 23 && m <= 59 && s <= 59)).then_some(())
}

/// `+HH:MM` or `+HH:MM:SS` (seconds non-zero), within Postgres' ±15:59:59.
fn offset(c: &mut Cursor) -> Option<()> {
    if c.eat(b'+').is_none() {
        c.eat(b'-')?;
    }
    let h = c.digits(2)?;
    c.eat(b':')?;
    let m = c.digits(2)?;
    let s = if c.eat(b':').is_some() { Some(c.digits(2)?) } else { None };
    (h <= 15 && m <= 59 && s.is_none_or(|s| (1..=59).contains(&s))).then_some(())
}

/// Postgres' `iso_8601` interval output: `P1Y2M3DT4H5M6.5S`, each part signed on its own
/// (`P-1Y-2M3DT-4H-5M-6S`), zero parts left out, zero itself as `PT0S`; or `infinity` /
/// `-infinity` (Postgres 17).
pub fn is_interval(s: &str) -> bool {
    is_infinity(s) || interval(&mut Cursor::new(s)).is_some()
}

fn interval(c: &mut Cursor) -> Option<()> {
    c.eat(b'P')?;
    let dated = parts(c, b"YMD")?;
    if c.eat(b'T').is_some() {
        (parts(c, b"HMS")? > 0).then_some(())?;
    } else {
        (dated > 0).then_some(())?;
    }
    c.done()
}

/// Signed numbers each followed by one of `units`, in that order, each at most once; only
/// seconds may have a fraction (one to six digits). Returns how many parts were read.
fn parts(c: &mut Cursor, units: &[u8]) -> Option<usize> {
    let mut next = 0;
    let mut count = 0;
    while c.peek().is_some_and(|b| b == b'-' || b.is_ascii_digit()) {
        c.eat(b'-');
        c.run()?;
        let fraction = c.eat(b'.').is_some();
        if fraction && c.run().is_none_or(|f| f.len() > 6) {
            return None;
        }
        let unit = c.peek()?;
        let found = units[next..].iter().position(|&u| u == unit)? + next;
        (!fraction || unit == b'S').then_some(())?;
        c.at += 1;
        next = found + 1;
        count += 1;
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_need_six_fraction_digits_and_the_zone_marker_only_when_zoned() {
        for ok in ["2024-01-02T03:04:05.000000Z", "-0043-03-15T12:00:00.000000Z", "infinity"] {
            assert!(is_timestamp(ok, true), "{ok}");
        }
        assert!(is_timestamp("+10000-01-01T00:00:00.000000", false));
        assert!(is_timestamp("0000-02-29T00:00:00.000000", false), "1 BC is a leap year");
        for bad in [
            "2024-01-02 03:04",
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.123Z",
            "2024-01-02T03:04:05.000000",
            "2024-01-02T03:04:05.000000+00:00",
            "2024-13-02T03:04:05.000000Z",
            "2023-02-29T03:04:05.000000Z",
            "2024-01-02T24:00:00.000000Z",
            "+2024-01-02T03:04:05.000000Z",
            "10000-01-02T03:04:05.000000Z",
            "-0000-01-02T03:04:05.000000Z",
            "Infinity",
        ] {
            assert!(!is_timestamp(bad, true), "{bad}");
        }
        assert!(!is_timestamp("2024-01-02T03:04:05.000000Z", false));
    }

    #[test]
    fn dates_allow_expanded_years_and_infinity() {
        for ok in ["2024-02-29", "-4712-01-01", "+5874897-12-31", "-infinity"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in ["2024-2-29", "2023-02-29", "24-01-01", "2024-01-01T00:00:00.000000", ""] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn times_and_timetz_offsets_follow_the_export_forms() {
        assert!(is_time("00:00:00.000000") && is_time("24:00:00.000000"));
        assert!(!is_time("24:00:00.000001") && !is_time("12:00:00") && !is_time("12:60:00.000000"));
        for ok in ["03:04:05.000000+00:00", "03:04:05.123456-05:30", "03:04:05.000000+15:59:59"] {
            assert!(is_timetz(ok), "{ok}");
        }
        for bad in [
            "03:04:05.000000+00",
            "03:04:05.000000+05:30:00",
            "03:04:05.000000",
            "03:04:05.000000+16:00",
        ] {
            assert!(!is_timetz(bad), "{bad}");
        }
    }

    #[test]
    fn intervals_are_postgres_iso_8601_output() {
        for ok in ["PT0S", "P1Y2M3DT4H5M6.5S", "P-1Y-2M3DT-4H-5M-6S", "P3D", "PT-0.000001S", "P1M"]
        {
            assert!(is_interval(ok), "{ok}");
        }
        for bad in ["P", "PT", "1 day", "P1DT", "P1.5D", "PT1S2M", "P1W", "PT1.1234567S", "-P1D"] {
            assert!(!is_interval(bad), "{bad}");
        }
    }
}
