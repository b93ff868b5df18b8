//! Dates and times as SQLite writes them (issue 14, DESIGN "Transform"): the export's RFC 3339
//! text (`2012-09-18T08:00:00.000000Z`) becomes `2012-09-18 08:00:00`, the form of SQLite's
//! `datetime()`, with `.ffffff` only when the fraction is not zero and a timestamptz in UTC, so
//! that text comparison with SQLite's own literals orders as Postgres does and SQLite's date
//! functions read every value. A value SQLite cannot order so (`infinity`, a year outside
//! 0000–9999, and every timetz and interval) keeps the export's text and is counted as
//! "do not compare as time" (transform's `Loss::NotTime`).

use std::borrow::Cow;

/// Which time type a column holds, under `--datetime sqlite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeForm {
    /// timestamp: `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    Timestamp,
    /// timestamptz: the same, in UTC (the export writes UTC already).
    TimestampTz,
    /// date: `YYYY-MM-DD`, as exported.
    Date,
    /// time: `HH:MM:SS[.ffffff]`.
    Time,
    /// timetz and interval: SQLite has no such type; kept as exported, every value counted.
    Opaque,
}

impl TimeForm {
    /// The mapping's name in `_pg2lite_columns.mapping`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Timestamp => "timestamp→TEXT 'YYYY-MM-DD HH:MM:SS[.ffffff]'",
            Self::TimestampTz => "timestamptz→TEXT UTC 'YYYY-MM-DD HH:MM:SS[.ffffff]'",
            Self::Date => "date→TEXT 'YYYY-MM-DD'",
            Self::Time => "time→TEXT 'HH:MM:SS[.ffffff]'",
            Self::Opaque => "text as exported (does not compare as time)",
        }
    }

    /// One exported value (the content of its JSON string) in SQLite's form, or `None` when
    /// SQLite cannot order it as time (it is then kept as exported).
    pub fn sqlite_text(self, text: Cow<'_, str>) -> Option<Cow<'_, str>> {
        match self {
            Self::Timestamp => sqlite_timestamp(&text, false).map(Cow::Owned),
            Self::TimestampTz => sqlite_timestamp(&text, true).map(Cow::Owned),
            Self::Time => time_len(&text).map(|keep| prefix(text, keep)),
            Self::Date if is_plain_date(text.as_bytes()) => Some(text),
            Self::Date | Self::Opaque => None,
        }
    }
}

/// The first `keep` bytes of `text`, still borrowed when it was.
fn prefix(text: Cow<'_, str>, keep: usize) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(t) => Cow::Borrowed(&t[..keep]),
        Cow::Owned(mut t) => {
            t.truncate(keep);
            Cow::Owned(t)
        }
    }
}

/// An export text of a timestamp or timestamptz in SQLite's form; `None` when SQLite cannot
/// order it (infinity, an expanded year) or it is not in the export's form.
pub fn sqlite_timestamp(text: &str, zoned: bool) -> Option<String> {
    let b = text.as_bytes();
    let body = if zoned { b.strip_suffix(b"Z")? } else { b };
    if body.len() != 26 || !is_plain_date(&body[..10]) || body[10] != b'T' {
        return None;
    }
    let clock = &text[11..body.len()];
    Some(format!("{} {}", &text[..10], &clock[..time_len(clock)?]))
}

/// How much of an exported time `HH:MM:SS.ffffff` SQLite's form keeps: all of it, or
/// `HH:MM:SS` when the fraction is zero; `None` for another shape.
fn time_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let shape = b.len() == 15
        && b[2] == b':'
        && b[5] == b':'
        && b[8] == b'.'
        && [0, 1, 3, 4, 6, 7, 9, 10, 11, 12, 13, 14].iter().all(|&i| b[i].is_ascii_digit());
    shape.then(|| if &text[9..] == "000000" { 8 } else { 15 })
}

/// `YYYY-MM-DD` with a four-digit year (0000–9999), nothing else.
fn is_plain_date(b: &[u8]) -> bool {
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| b[i].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value as SQLite gets it, and whether it compares as time there.
    fn text(form: TimeForm, s: &str) -> (String, bool) {
        match form.sqlite_text(Cow::Borrowed(s)) {
            Some(t) => (t.into_owned(), true),
            None => (s.to_owned(), false),
        }
    }

    #[test]
    fn timestamps_take_sqlite_form_with_a_fraction_only_when_it_is_not_zero() {
        let ts = |s: &str| text(TimeForm::Timestamp, s);
        assert_eq!(ts("2012-09-18T08:00:00.000000"), ("2012-09-18 08:00:00".into(), true));
        assert_eq!(ts("2012-09-18T08:00:00.250000"), ("2012-09-18 08:00:00.250000".into(), true));
        let tz = |s: &str| text(TimeForm::TimestampTz, s);
        assert_eq!(tz("0001-01-01T00:00:00.000001Z"), ("0001-01-01 00:00:00.000001".into(), true));
        for odd in
            ["infinity", "-infinity", "+10000-01-01T00:00:00.000000", "-0043-03-15T12:00:00.000000"]
        {
            assert_eq!(ts(odd), (odd.into(), false), "{odd}");
        }
        assert!(!tz("-0043-03-15T12:00:00.000000Z").1);
        assert!(!tz("2012-09-18T08:00:00.000000").1, "no Z");
    }

    #[test]
    fn times_dates_and_the_rest() {
        let t = |s: &str| text(TimeForm::Time, s);
        assert_eq!(t("08:00:00.000000"), ("08:00:00".into(), true));
        assert_eq!(t("24:00:00.000000"), ("24:00:00".into(), true));
        assert_eq!(t("23:59:59.999999"), ("23:59:59.999999".into(), true));
        let d = |s: &str| text(TimeForm::Date, s);
        assert_eq!(d("2012-09-18"), ("2012-09-18".into(), true));
        assert!(!d("infinity").1);
        assert!(!d("+10000-01-01").1);
        let o = text(TimeForm::Opaque, "P1DT2H");
        assert_eq!(o, ("P1DT2H".into(), false));
    }
}
