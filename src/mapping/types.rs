//! The SQLite side of a column's mapping: the storage class it is declared with, the
//! [`Conversion`] that turns its export values into SQLite values, and the [`Loss`]es that
//! conversion may cause. The planner chooses them; transform applies them; validate and the
//! meta tables name them. They live here, below all three, so none imports another.

use std::fmt;

pub use crate::format::TimeForm;

/// The four storage classes a column is declared with. Nothing else is ever declared: a type
/// such as `UUID`, `DATE` or `NUMERIC` would get NUMERIC affinity, which turns digit-only text
/// into numbers behind the user's back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqliteType {
    /// INTEGER: integers, booleans as 0/1, numerics known to be whole.
    Integer,
    /// REAL: floats, and numerics mapped to REAL (`--numeric real`, or values a double holds).
    Real,
    /// TEXT: everything else that is not bytea.
    Text,
    /// BLOB: bytea.
    Blob,
}

impl SqliteType {
    /// The keyword as written in `CREATE TABLE` (`INTEGER`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Integer => "INTEGER",
            Self::Real => "REAL",
            Self::Text => "TEXT",
            Self::Blob => "BLOB",
        }
    }
}

impl fmt::Display for SqliteType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a numeric column's values go, chosen by `--numeric` (see [`crate::mapping::NumericPolicy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumericTarget {
    /// Whole numbers that fit 64 bits (`numeric(p,s)` with s ≤ 0 and p − s ≤ 18): exact.
    Integer,
    /// A double: exact when it prints back as the same number, else counted as rounded.
    Real,
    /// The exported decimal text, verbatim (`'12.50'`, `'NaN'`): always exact.
    Text,
}

/// How one column's export values become SQLite values. The schema planner picks one per
/// column from its Postgres type; each expects the JSON shape DESIGN.md gives that type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conversion {
    /// int2, int4, int8, oid: a JSON integer → INTEGER.
    Integer,
    /// bool: `true` / `false` → INTEGER 1 / 0.
    Boolean,
    /// float4, float8: a JSON number or `"NaN"`, `"Infinity"`, `"-Infinity"` → REAL.
    Float,
    /// numeric and money: a string holding the decimal text, or `"NaN"`/`"Infinity"`.
    Numeric(NumericTarget),
    /// A JSON string → TEXT, unescaped (text, enum, uuid, timestamps, and every type exported
    /// as its Postgres text).
    Text,
    /// json, jsonb: the embedded JSON value → TEXT holding that JSON, compact.
    Json,
    /// Arrays and composites: a JSON array or object → TEXT holding that JSON, compact; or a
    /// string (an array whose lower bounds are not all 1, in Postgres' text form) → TEXT.
    Structured,
    /// bytea: a base64 string → BLOB.
    Bytea,
    /// Dates and times under `--datetime sqlite` (the default): a JSON string → TEXT in the
    /// form SQLite's date functions write, where the value has one ([`TimeForm`]).
    Datetime(TimeForm),
}

impl Conversion {
    /// The storage class the column is declared with.
    pub fn sqlite_type(self) -> SqliteType {
        match self {
            Self::Integer | Self::Boolean | Self::Numeric(NumericTarget::Integer) => {
                SqliteType::Integer
            }
            Self::Float | Self::Numeric(NumericTarget::Real) => SqliteType::Real,
            Self::Bytea => SqliteType::Blob,
            Self::Numeric(NumericTarget::Text)
            | Self::Text
            | Self::Json
            | Self::Structured
            | Self::Datetime(_) => SqliteType::Text,
        }
    }

    /// A short name for the mapping, as recorded in `_pg2lite_columns.mapping` and reports.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Integer => "integer",
            Self::Boolean => "boolean as 0/1",
            Self::Float => "float",
            Self::Numeric(NumericTarget::Integer) => "numeric as integer (exact)",
            Self::Numeric(NumericTarget::Real) => "numeric as real",
            Self::Numeric(NumericTarget::Text) => "numeric as decimal text (exact)",
            Self::Text => "text",
            Self::Json => "json text",
            Self::Structured => "json text (array or composite)",
            Self::Bytea => "base64 to blob",
            Self::Datetime(form) => form.describe(),
        }
    }

    /// What this mapping may lose, before any value is seen (for plans and dry runs).
    pub fn possible_loss(self) -> Option<&'static str> {
        match self {
            Self::Float => Some("NaN becomes NULL, -0 becomes 0"),
            Self::Numeric(NumericTarget::Real) => {
                Some("NaN becomes NULL; values beyond 15 significant digits are rounded")
            }
            Self::Numeric(NumericTarget::Integer) => Some("NaN becomes NULL"),
            _ => None,
        }
    }
}

/// A value made lossy by its conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loss {
    /// A float or numeric NaN stored as NULL (SQLite has no NaN).
    NanToNull,
    /// A float `-0` stored as `0` (SQLite keeps no sign on zero).
    NegativeZero,
    /// A numeric stored as REAL whose shortest round-trip text is a different number:
    /// `"1234567890123456789"` becomes `1.2345678901234568e18`.
    Rounded,
    /// Not lost, but kept as exported because SQLite cannot order it as time (`infinity`, a
    /// year outside 0000–9999, timetz, interval): counted so that the report says so.
    NotTime,
}

/// How many values of one column each kind of [`Loss`] affected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColumnLoss {
    /// NaN values stored as NULL ([`Loss::NanToNull`]).
    pub nan_to_null: u64,
    /// `-0` values stored as `0` ([`Loss::NegativeZero`]).
    pub negative_zero: u64,
    /// Numerics rounded to the nearest REAL ([`Loss::Rounded`]).
    pub rounded: u64,
    /// Values kept as exported text that do not compare as time ([`Loss::NotTime`]); not a
    /// loss, so not in [`ColumnLoss::total`].
    pub not_time: u64,
}

impl ColumnLoss {
    /// Counts one value of this kind.
    pub fn add(&mut self, loss: Loss) {
        match loss {
            Loss::NanToNull => self.nan_to_null += 1,
            Loss::NegativeZero => self.negative_zero += 1,
            Loss::Rounded => self.rounded += 1,
            Loss::NotTime => self.not_time += 1,
        }
    }

    /// Adds another count of the same column (from another batch).
    pub fn merge(&mut self, other: &ColumnLoss) {
        self.nan_to_null += other.nan_to_null;
        self.negative_zero += other.negative_zero;
        self.rounded += other.rounded;
        self.not_time += other.not_time;
    }

    /// Values actually lost: all but `not_time`.
    pub fn total(&self) -> u64 {
        self.nan_to_null + self.negative_zero + self.rounded
    }

    /// `"2 NaN stored as NULL, 1 -0 stored as 0"`, or `None` when nothing was lost.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.nan_to_null, "NaN stored as NULL"),
            (self.negative_zero, "-0 stored as 0"),
            (self.rounded, "rounded to the nearest REAL"),
            (self.not_time, "do not compare as time (kept as exported)"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// Losses of one table, per SQLite column (indexed like [`TablePlan::columns`](crate::mapping::TablePlan::columns)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lossy {
    columns: Vec<ColumnLoss>,
}

impl Lossy {
    /// No losses yet, for a table of `columns` columns.
    pub fn new(columns: usize) -> Self {
        Lossy { columns: vec![ColumnLoss::default(); columns] }
    }

    /// The losses of column `index` (none for an index out of range).
    pub fn column(&self, index: usize) -> ColumnLoss {
        self.columns.get(index).copied().unwrap_or_default()
    }

    /// Counts one value of column `index`, growing the table if needed.
    pub fn add(&mut self, index: usize, loss: Loss) {
        if index >= self.columns.len() {
            self.columns.resize(index + 1, ColumnLoss::default());
        }
        self.columns[index].add(loss);
    }

    /// Adds another batch's counts, column by column.
    pub fn merge(&mut self, other: &Lossy) {
        if other.columns.len() > self.columns.len() {
            self.columns.resize(other.columns.len(), ColumnLoss::default());
        }
        for (mine, theirs) in self.columns.iter_mut().zip(&other.columns) {
            mine.merge(theirs);
        }
    }

    /// Values made lossy in all columns together.
    pub fn total(&self) -> u64 {
        self.columns.iter().map(ColumnLoss::total).sum()
    }
}
