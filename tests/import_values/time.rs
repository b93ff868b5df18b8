//! Time: timestamptz, timestamp, date, time, timetz, interval.

use super::Case;
use super::Lost::{No, NotTime};
use super::Want::Text;

/// The edge cases of the date and time types.
pub(super) const CASES: &[Case] = &[
    ("timestamptz", "'2024-01-02 03:04:05+02'", "TEXT", Text("2024-01-02 01:04:05"), No),
    ("timestamptz", "'infinity'", "TEXT", Text("infinity"), NotTime),
    ("timestamptz", "'-infinity'", "TEXT", Text("-infinity"), NotTime),
    (
        "timestamptz",
        "'0044-03-15 12:00:00+00 BC'",
        "TEXT",
        Text("-0043-03-15T12:00:00.000000Z"),
        NotTime,
    ),
    (
        "timestamptz",
        "'10000-01-01 00:00:00+00'",
        "TEXT",
        Text("+10000-01-01T00:00:00.000000Z"),
        NotTime,
    ),
    ("timestamp", "'2024-01-02 03:04:05'", "TEXT", Text("2024-01-02 03:04:05"), No),
    ("timestamp", "'0001-01-01 00:00:00 BC'", "TEXT", Text("0000-01-01 00:00:00"), No),
    ("timestamp", "'infinity'", "TEXT", Text("infinity"), NotTime),
    ("date", "'2024-02-29'", "TEXT", Text("2024-02-29"), No),
    ("date", "'4713-11-24 BC'", "TEXT", Text("-4712-11-24"), NotTime),
    ("date", "'5874897-12-31'", "TEXT", Text("+5874897-12-31"), NotTime),
    ("date", "'infinity'", "TEXT", Text("infinity"), NotTime),
    ("date", "'-infinity'", "TEXT", Text("-infinity"), NotTime),
    ("time", "'24:00:00'", "TEXT", Text("24:00:00"), No),
    ("time", "'13:14:15.5'", "TEXT", Text("13:14:15.500000"), No),
    ("timetz", "'03:04:05+05:30'", "TEXT", Text("03:04:05.000000+05:30"), NotTime),
    ("timetz", "'00:00:00-01:02:03'", "TEXT", Text("00:00:00.000000-01:02:03"), NotTime),
    ("interval", "'-1 hour -2 minutes -3.4 seconds'", "TEXT", Text("PT-1H-2M-3.4S"), NotTime),
    ("interval", "'1 year 2 months 3 days'", "TEXT", Text("P1Y2M3D"), NotTime),
    ("interval", "'0'", "TEXT", Text("PT0S"), NotTime),
];
