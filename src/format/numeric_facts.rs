//! What the SQLite mapping of a numeric or money column needs to know of its values
//! (DESIGN "Manifest", "Transform"): whether each one is a whole number that fits 64 bits, and
//! whether each one survives a double exactly (decimal → nearest `f64` → shortest text → the
//! same decimal). Export records these per column while it writes the values; an import of an
//! export made before that reads the column once to learn them. The rules here are the very
//! ones `transform` applies when it stores a value, so a decision made from the facts never
//! meets a value it cannot store.

use super::decimal::{self, Decimal};
use crate::model::manifest::NumericFacts;

impl NumericFacts {
    /// Counts one value: the text of its JSON string (`12.50`, `NaN`, `-Infinity`). Text that
    /// is no number counts against both INTEGER and REAL (the import refuses it anyway).
    pub fn observe(&mut self, text: &str) {
        match text {
            "NaN" => return,
            "Infinity" | "-Infinity" => {
                self.values += 1;
                self.not_integer += 1;
                return;
            }
            _ => {}
        }
        self.values += 1;
        let Some(d) = Decimal::parse(text) else {
            self.not_integer += 1;
            self.not_double += 1;
            return;
        };
        self.max_digits = self.max_digits.max(d.significant_digits() as u64);
        if !matches!(d.to_i64(), Ok(Some(_))) {
            self.not_integer += 1;
        }
        if !d.is_zero() && !decimal::round_trips(&d, text.parse().unwrap_or(f64::NAN)) {
            self.not_double += 1;
        }
    }

    /// Adds the counts of `other` (the same column, other rows).
    pub fn merge(&mut self, other: &NumericFacts) {
        self.values += other.values;
        self.not_integer += other.not_integer;
        self.not_double += other.not_double;
        self.max_digits = self.max_digits.max(other.max_digits);
        self.scanned |= other.scanned;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(values: &[&str]) -> NumericFacts {
        let mut f = NumericFacts::default();
        values.iter().for_each(|v| f.observe(v));
        f
    }

    #[test]
    fn whole_numbers_decimals_and_long_values_are_told_apart() {
        let f = facts(&["1", "12.00", "-9223372036854775808", "NaN"]);
        assert_eq!((f.values, f.not_integer, f.not_double, f.max_digits), (3, 0, 1, 19));
        let f = facts(&["12.50", "0.1", "0", "Infinity"]);
        assert_eq!((f.values, f.not_integer, f.not_double, f.max_digits), (4, 3, 0, 3));
        let f = facts(&["123456789012345678901234567890", "9223372036854775808"]);
        assert_eq!((f.not_integer, f.not_double, f.max_digits), (2, 2, 29));
        let f = facts(&["0.30000000000000004", "0.1000000000000000055511151231257827"]);
        assert_eq!((f.not_integer, f.not_double), (2, 1));
    }
}
