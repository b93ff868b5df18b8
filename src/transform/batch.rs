//! Batches of NDJSON lines and their conversion in parallel: [`BatchReader`] cuts a table's
//! file into [`Batch`]es, [`convert_batch`] parses each line once (keys checked against the
//! table's columns, values kept as raw JSON text) and converts the values with rayon, and
//! [`ConvertedBatch`] hands the rows to the single writer, text borrowed from the batch.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};
use std::ops::Range;

use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{ConvertError, Lossy, SqlValue, convert_column, shown};
use crate::format::ColumnRule;
use crate::mapping::{ColumnPlan, TablePlan};

/// Consecutive lines of one table's file, with the number of the first, so errors can name
/// the line. The lines share one buffer; a [`ConvertedBatch`] keeps it and borrows from it.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    first_line: u64,
    data: String,
    ends: Vec<usize>,
    bytes: u64,
}

impl Batch {
    /// An empty batch whose first line will be number `first_line` (1-based).
    pub fn new(first_line: u64) -> Self {
        Batch { first_line, ..Batch::default() }
    }

    /// Appends a line (without its newline).
    pub fn push_line(&mut self, line: &str) {
        self.data.push_str(line);
        self.ends.push(self.data.len());
        self.bytes += line.len() as u64 + 1;
    }

    /// How many lines the batch holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The 1-based line number, in the table's file, of the batch's first line.
    pub fn first_line(&self) -> u64 {
        self.first_line
    }

    /// Bytes of the file these lines took, newlines included: for progress.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    fn range(&self, i: usize) -> Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        start..self.ends[i]
    }

    /// The `i`th line of the batch (0-based, without its newline), or `None` past the end.
    pub fn line(&self, i: usize) -> Option<&str> {
        (i < self.len()).then(|| &self.data[self.range(i)])
    }
}

/// Reads a table's NDJSON file as [`Batch`]es of at most `rows` lines or about `bytes` bytes.
/// Every line must be UTF-8 (JSON is) and end with a newline (the last one too: a file that
/// does not is cut short): a line that is not, or does not, fails with
/// [`io::ErrorKind::InvalidData`] naming its number.
pub struct BatchReader<R> {
    reader: R,
    next_line: u64,
    max_rows: usize,
    max_bytes: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> BatchReader<R> {
    /// Batches of up to 4096 rows or 8 MiB, big enough to keep every core busy and small
    /// enough to keep memory bounded.
    pub fn new(reader: R) -> Self {
        Self::with_limits(reader, 4096, 8 << 20)
    }

    /// Batches of at most `max_rows` lines (at least 1), ended once their text reaches
    /// `max_bytes` bytes (so a single line longer than that still makes a batch).
    pub fn with_limits(reader: R, max_rows: usize, max_bytes: usize) -> Self {
        BatchReader { reader, next_line: 1, max_rows: max_rows.max(1), max_bytes, buf: Vec::new() }
    }

    /// The next batch, or `None` at the end of the file.
    ///
    /// # Errors
    /// Any read error, a line that is not UTF-8, or a last line without its newline.
    pub fn next_batch(&mut self) -> io::Result<Option<Batch>> {
        let mut batch = Batch::new(self.next_line);
        while batch.len() < self.max_rows && batch.data.len() < self.max_bytes {
            self.buf.clear();
            if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
                break;
            }
            let Some(line) = self.buf.strip_suffix(b"\n") else {
                let msg = format!(
                    "line {} does not end with a newline (the file is cut short: every line of \
                     an export ends with one)",
                    self.next_line
                );
                return Err(io::Error::new(io::ErrorKind::InvalidData, msg));
            };
            let text = std::str::from_utf8(line).map_err(|e| {
                let msg = format!("line {} is not valid UTF-8: {e}", self.next_line);
                io::Error::new(io::ErrorKind::InvalidData, msg)
            })?;
            batch.push_line(text);
            self.next_line += 1;
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

impl<R: BufRead> Iterator for BatchReader<R> {
    type Item = io::Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

/// Errors converting a table's lines. Each names the table (`schema.name`) and the 1-based
/// line; value errors name the column too.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A line is not a JSON object.
    #[error("{table}, line {line}: not a JSON object: {reason}")]
    Malformed {
        /// The table, `schema.name`.
        table: String,
        /// 1-based line number in the table's file.
        line: u64,
        /// The parser's message, naming the character of the line where parsing stopped.
        reason: String,
    },
    /// A line's keys are not the table's columns, in order.
    #[error("{table}, line {line}: {}", key_problem(*.position, .expected, .found))]
    Key {
        /// The table, `schema.name`.
        table: String,
        /// 1-based line number in the table's file.
        line: u64,
        /// 1-based position of the key in the line.
        position: usize,
        /// The column expected there, `None` past the table's last column.
        expected: Option<String>,
        /// The key found there, `None` when the line has fewer keys.
        found: Option<String>,
    },
    /// A value does not fit its column's conversion.
    #[error("{table}, line {line}, column {column:?}{}: {cause}", path_in(cause))]
    Value {
        /// The table, `schema.name`.
        table: String,
        /// 1-based line number in the table's file.
        line: u64,
        /// The column (its name in the export) whose value failed.
        column: String,
        /// Why the value cannot be converted.
        cause: ConvertError,
    },
    /// A tenant export's row holds another tenant's value in the dropped tenant column: the
    /// export is not what its manifest says, and importing it would merge tenants.
    #[error(
        "{table}, line {line}: tenant column {column:?} holds {found}, not the tenant being imported ({expected}); the export holds another tenant's row"
    )]
    ForeignTenant {
        /// The table, `schema.name`.
        table: String,
        /// 1-based line number in the table's file.
        line: u64,
        /// The tenant column, which is dropped on import.
        column: String,
        /// The value found, as JSON text (shortened).
        found: String,
        /// The tenant's value, as JSON text in the export.
        expected: String,
    },
}

/// `, element [2]` (the way into an array or composite), or nothing.
fn path_in(source: &ConvertError) -> String {
    match source {
        ConvertError::Misfit(m) if !m.path.is_empty() => format!(", {}", m.path),
        _ => String::new(),
    }
}

fn key_problem(position: usize, expected: &Option<String>, found: &Option<String>) -> String {
    match (expected, found) {
        (Some(e), None) => format!("no key for column {e:?} (key {position})"),
        (None, Some(f)) => format!("key {position} is {f:?}, beyond the table's columns"),
        (e, f) => format!(
            "key {position} is {:?}, but column {position} of the table is {:?} \
             (keys must be the columns in table order)",
            f.as_deref().unwrap_or_default(),
            e.as_deref().unwrap_or_default()
        ),
    }
}

/// A converted value as stored in a [`ConvertedBatch`]: text without escapes stays a range of
/// the batch's buffer.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Shared(Range<usize>),
    Text(Box<str>),
    Blob(Box<[u8]>),
}

/// The rows of one [`Batch`], converted, with the losses they counted. Owns its batch, so it
/// can be sent to the thread that inserts.
#[derive(Debug)]
pub struct ConvertedBatch {
    batch: Batch,
    width: usize,
    cells: Vec<Cell>,
    lossy: Lossy,
}

impl ConvertedBatch {
    /// How many rows the batch holds.
    pub fn len(&self) -> usize {
        self.batch.len()
    }

    /// Whether the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// The 1-based line number, in the table's file, of the first row.
    pub fn first_line(&self) -> u64 {
        self.batch.first_line
    }

    /// Bytes of the file the batch came from: for progress.
    pub fn bytes(&self) -> u64 {
        self.batch.bytes
    }

    /// Losses in this batch, per SQLite column; merge them into the table's [`Lossy`].
    pub fn lossy(&self) -> &Lossy {
        &self.lossy
    }

    /// The rows, in file order; each yields one value per SQLite column, in column order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = Row<'_>> {
        let width = self.width.max(1);
        (0..self.len()).map(move |i| Row {
            line: self.batch.first_line + i as u64,
            cells: self.cells.get(i * width..i * width + self.width).unwrap_or(&[]),
            data: &self.batch.data,
        })
    }
}

/// One converted row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    line: u64,
    cells: &'a [Cell],
    data: &'a str,
}

impl<'a> Row<'a> {
    /// The row's line number in its file.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// How many values the row has: the table's SQLite column count.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the row has no value.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The value of SQLite column `index`.
    pub fn get(&self, index: usize) -> Option<SqlValue<'a>> {
        self.cells.get(index).map(|c| cell_value(c, self.data))
    }

    /// The values in column order, ready for `rusqlite::params_from_iter`.
    pub fn values(&self) -> impl ExactSizeIterator<Item = SqlValue<'a>> + 'a {
        let data = self.data;
        self.cells.iter().map(move |c| cell_value(c, data))
    }
}

fn cell_value<'a>(cell: &'a Cell, data: &'a str) -> SqlValue<'a> {
    match cell {
        Cell::Null => SqlValue::Null,
        Cell::Integer(i) => SqlValue::Integer(*i),
        Cell::Real(f) => SqlValue::Real(*f),
        Cell::Shared(r) => SqlValue::Text(Cow::Borrowed(data.get(r.clone()).unwrap_or(""))),
        Cell::Text(t) => SqlValue::Text(Cow::Borrowed(t)),
        Cell::Blob(b) => SqlValue::Blob(Cow::Borrowed(b)),
    }
}

/// Rows converted per rayon task: enough to amortize scheduling, few enough to balance.
const ROWS_PER_TASK: usize = 256;

/// Converts a batch of `table`'s lines in parallel (rayon), in file order.
///
/// # Errors
/// The [`Error`] of the first bad line, in file order.
pub fn convert_batch(batch: Batch, table: &TablePlan) -> Result<ConvertedBatch, Error> {
    let layout = Layout::new(table);
    let tasks: Vec<Result<(Vec<Cell>, Lossy), Error>> = (0..batch.len().div_ceil(ROWS_PER_TASK))
        .into_par_iter()
        .map(|t| {
            let rows = t * ROWS_PER_TASK..((t + 1) * ROWS_PER_TASK).min(batch.len());
            layout.convert_rows(&batch, rows)
        })
        .collect();
    let width = table.columns.len();
    let mut cells = Vec::with_capacity(batch.len() * width);
    let mut lossy = Lossy::new(width);
    for task in tasks {
        let (c, l) = task?;
        cells.extend(c);
        lossy.merge(&l);
    }
    Ok(ConvertedBatch { batch, width, cells, lossy })
}

/// What to do with each key of a line, by position, and the rule its values must keep
/// (`None` only if the plan has no rule for the position, which a plan made by
/// `schema::plan` always has).
enum Slot<'p> {
    Keep { index: usize, column: &'p ColumnPlan, name: &'p str, rule: Option<&'p ColumnRule> },
    Drop { must_equal: Option<&'p str>, name: &'p str, rule: Option<&'p ColumnRule> },
}

struct Layout<'p> {
    table: String,
    slots: Vec<Slot<'p>>,
    width: usize,
}

impl<'p> Layout<'p> {
    fn new(plan: &'p TablePlan) -> Self {
        let mut slots: Vec<(usize, Slot<'p>)> = Vec::new();
        for (index, c) in plan.columns.iter().enumerate() {
            let rule = plan.rules.column(c.position);
            let slot = Slot::Keep { index, column: c, name: &c.source, rule };
            slots.push((c.position, slot));
        }
        for d in &plan.dropped {
            let rule = plan.rules.column(d.position);
            let slot = Slot::Drop { must_equal: d.must_equal.as_deref(), name: &d.name, rule };
            slots.push((d.position, slot));
        }
        slots.sort_by_key(|(p, _)| *p);
        let table = format!("{}.{}", plan.source.schema, plan.source.name);
        Layout {
            table,
            slots: slots.into_iter().map(|(_, s)| s).collect(),
            width: plan.columns.len(),
        }
    }

    fn convert_rows(&self, batch: &Batch, rows: Range<usize>) -> Result<(Vec<Cell>, Lossy), Error> {
        let cells = Vec::with_capacity(rows.len() * self.width);
        let mut out = Out { cells, lossy: Lossy::new(self.width) };
        let mut fields = Vec::with_capacity(self.slots.len());
        for i in rows {
            let range = batch.range(i);
            let no = batch.first_line + i as u64;
            let line = Line { no, offset: range.start, text: &batch.data[range] };
            fields.clear();
            parse_line(line.text, &mut fields).map_err(|e| Error::Malformed {
                table: self.table.clone(),
                line: no,
                reason: json_error(&e),
            })?;
            self.check_keys(&fields, no)?;
            for (slot, (_, raw)) in self.slots.iter().zip(&fields) {
                self.convert_one(slot, raw, &line, &mut out)?;
            }
        }
        Ok((out.cells, out.lossy))
    }

    fn convert_one(
        &self,
        slot: &Slot<'_>,
        raw: &RawValue,
        line: &Line<'_>,
        out: &mut Out,
    ) -> Result<(), Error> {
        self.check_rule(slot, raw, line)?;
        match *slot {
            Slot::Keep { index, column, name, rule } => {
                // Where the value also breaks its rule (a bytea's base64), say it as verify does.
                let c = convert_column(raw, column).map_err(|source| {
                    let misfit = rule.and_then(|r| r.check(raw.get()).err());
                    self.value_error(
                        name,
                        line,
                        misfit.map_or(source, |m| ConvertError::Misfit(Box::new(m))),
                    )
                })?;
                if c.loss == Some(super::Loss::NanToNull) && column.not_null {
                    return Err(self.value_error(name, line, ConvertError::UnrecordedNan));
                }
                if let Some(loss) = c.loss {
                    out.lossy.add(index, loss);
                }
                out.cells.push(cell(c.value, line));
                Ok(())
            }
            Slot::Drop { must_equal: Some(expected), name, .. } if raw.get() != expected => {
                Err(Error::ForeignTenant {
                    table: self.table.clone(),
                    line: line.no,
                    column: name.to_owned(),
                    found: shown(raw.get()),
                    expected: expected.to_owned(),
                })
            }
            Slot::Drop { .. } => Ok(()),
        }
    }

    /// Checks a value against its column's rule, as `verify --deep` does, stripped columns
    /// included. A bytea value's rule (its base64 decodes) is left to its conversion, which
    /// decodes it with the same decoder anyway.
    fn check_rule(&self, slot: &Slot<'_>, raw: &RawValue, line: &Line<'_>) -> Result<(), Error> {
        let (rule, name, decoded_later) = match *slot {
            Slot::Keep { rule, name, column, .. } => {
                (rule, name, column.conversion == super::Conversion::Bytea)
            }
            Slot::Drop { rule, name, .. } => (rule, name, false),
        };
        let Some(rule) = rule else { return Ok(()) };
        let text = raw.get();
        if decoded_later && rule.is_bytea() && text != "null" {
            return Ok(());
        }
        rule.check(text)
            .map_err(|m| self.value_error(name, line, ConvertError::Misfit(Box::new(m))))
    }

    fn value_error(&self, column: &str, line: &Line<'_>, source: ConvertError) -> Error {
        Error::Value {
            table: self.table.clone(),
            line: line.no,
            column: column.to_owned(),
            cause: source,
        }
    }

    fn check_keys(&self, fields: &[(Key<'_>, &RawValue)], line: u64) -> Result<(), Error> {
        for position in 0..fields.len().max(self.slots.len()) {
            let expected = self.slots.get(position).map(Slot::name);
            let found = fields.get(position).map(|(k, _)| k.as_str());
            if expected != found {
                return Err(Error::Key {
                    table: self.table.clone(),
                    line,
                    position: position + 1,
                    expected: expected.map(str::to_owned),
                    found: found.map(str::to_owned),
                });
            }
        }
        Ok(())
    }
}

/// One line being converted: its number, where it starts in the batch buffer, its text.
struct Line<'b> {
    no: u64,
    offset: usize,
    text: &'b str,
}

/// What a task produces.
struct Out {
    cells: Vec<Cell>,
    lossy: Lossy,
}

impl Slot<'_> {
    fn name(&self) -> &str {
        match self {
            Slot::Keep { name, .. } | Slot::Drop { name, .. } => name,
        }
    }
}

/// Stores a value, keeping text that points into the line as a range of the batch buffer.
fn cell(value: SqlValue<'_>, line: &Line<'_>) -> Cell {
    match value {
        SqlValue::Null => Cell::Null,
        SqlValue::Integer(i) => Cell::Integer(i),
        SqlValue::Real(f) => Cell::Real(f),
        SqlValue::Text(Cow::Borrowed(t)) => match shared_range(t, line) {
            Some(r) => Cell::Shared(r),
            None => Cell::Text(t.into()),
        },
        SqlValue::Text(Cow::Owned(t)) => Cell::Text(t.into_boxed_str()),
        SqlValue::Blob(b) => Cell::Blob(b.into_owned().into_boxed_slice()),
    }
}

/// Where `t` lies in the batch buffer, if it is a slice of the line (it always is when
/// borrowed; checked rather than assumed).
fn shared_range(t: &str, line: &Line<'_>) -> Option<Range<usize>> {
    let start = (t.as_ptr() as usize).checked_sub(line.text.as_ptr() as usize)?;
    let end = start + t.len();
    (end <= line.text.len()).then(|| line.offset + start..line.offset + end)
}

/// An object key, borrowed from the line unless it had escapes.
enum Key<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads one object's keys and raw values, in order, into a reused vector.
struct Fields<'v, 'de>(&'v mut Vec<(Key<'de>, &'de RawValue)>);

impl<'de> DeserializeSeed<'de> for Fields<'_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with one key per column")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            self.0.push((key, value));
        }
        Ok(())
    }
}

/// serde_json's message, with the position given as the character of the line (its
/// "line 1" is always ours).
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    format!("{message} at character {}", e.column())
}

fn parse_line<'de>(
    line: &'de str,
    out: &mut Vec<(Key<'de>, &'de RawValue)>,
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(line);
    Fields(out).deserialize(&mut de)?;
    de.end()
}
