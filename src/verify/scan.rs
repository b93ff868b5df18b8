//! Stages 4 and 5 for one data file, in a single streaming pass: the SHA-256 of the bytes
//! (stage 4) and, with `--deep`, every line parsed and checked against the table's columns
//! (stage 5). Memory is one reusable line buffer, whatever the file's size.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::problem::{Problem, ProblemKind};
use super::values;
use crate::format::Rules;
use crate::model::catalog::Column;
use crate::model::manifest::TableEntry;
use crate::progress::Task;

/// What one pass over a file found.
#[derive(Debug, Default)]
pub struct Scan {
    /// The hex SHA-256 of the whole file, when asked for.
    pub sha256: Option<String>,
    /// Problems inside the file (stage 5), the per-file cap applied.
    pub problems: Vec<Problem>,
}

/// How to scan a file.
pub struct Plan<'a> {
    pub file: &'a str,
    pub entry: &'a TableEntry,
    pub hash: bool,
    pub deep: bool,
    /// Line problems listed before the rest are only counted.
    pub max_problems: usize,
}

/// Reads `file` (opened by [`crate::fsio::open`]) once, hashing and/or checking lines as
/// `plan` says.
///
/// # Errors
/// An I/O error reading the file.
pub fn scan(file: File, plan: &Plan, task: &dyn Task) -> io::Result<Scan> {
    let mut reader = BufReader::with_capacity(1 << 20, Hashing::new(file, plan.hash));
    let mut sink = Sink::new(plan);
    let mut lines = 0;
    if plan.deep {
        lines = read_lines(&mut reader, plan, &mut sink, task)?;
    } else {
        io::copy(&mut reader, &mut io::sink())?;
    }
    let hashing = reader.into_inner();
    task.finish(if plan.deep { lines } else { plan.entry.rows }, hashing.bytes);
    let mut problems = sink.finish();
    if plan.deep && lines != plan.entry.rows {
        let kind = ProblemKind::RowCount { counted: lines, recorded: plan.entry.rows };
        problems.push(Problem::new(plan.file, kind));
    }
    Ok(Scan { sha256: hashing.finish(), problems })
}

/// Checks each line; returns how many there were. A last line without a newline counts,
/// and is reported.
fn read_lines(
    reader: &mut impl BufRead,
    plan: &Plan,
    sink: &mut Sink,
    task: &dyn Task,
) -> io::Result<u64> {
    const REPORT_EVERY: u64 = 8192;
    let columns = &plan.entry.table.columns;
    let rules = Rules::new(&plan.entry.table);
    let mut buf = Vec::with_capacity(64 * 1024);
    let (mut lines, mut bytes) = (0u64, 0u64);
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        lines += 1;
        bytes += n as u64;
        if buf.pop_if(|b| *b == b'\n').is_none() {
            sink.file_problem(ProblemKind::NoFinalNewline);
        }
        check_line(&buf, lines, columns, &rules, sink);
        if lines % REPORT_EVERY == 0 {
            task.add(REPORT_EVERY, std::mem::take(&mut bytes));
        }
    }
    Ok(lines)
}

/// One row: its keys and raw values, in file order (duplicates kept, so they show).
struct Row<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Row<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for RowVisitor<'a> {
            type Value = Row<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Row<'a>, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push(entry);
                }
                Ok(Row(fields))
            }
        }
        d.deserialize_map(RowVisitor(std::marker::PhantomData))
    }
}

fn check_line(bytes: &[u8], line: u64, columns: &[Column], rules: &Rules, sink: &mut Sink) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        let error = "not valid UTF-8".to_owned();
        return sink.push(line, None, ProblemKind::MalformedLine { error });
    };
    let row: Row = match serde_json::from_str(text) {
        Ok(row) => row,
        Err(e) => {
            return sink.push(line, None, ProblemKind::MalformedLine { error: json_error(&e) });
        }
    };
    if let Some((column, kind)) = key_mismatch(&row, columns) {
        return sink.push(line, column, kind);
    }
    for (((_, raw), column), rule) in row.0.iter().zip(columns).zip(rules.iter()) {
        if let Some(kind) = values::check_cell(raw, rule) {
            sink.push(line, Some(&column.name), kind);
        }
    }
}

/// serde_json's message, with the position given as a column of the line (its "line 1" is
/// always ours).
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = text.rsplit_once(" at line ").map_or(text.as_str(), |(m, _)| m);
    format!("{message} at character {}", e.column())
}

/// The first place where the keys and the columns differ, with the column concerned.
fn key_mismatch<'c>(row: &Row, columns: &'c [Column]) -> Option<(Option<&'c str>, ProblemKind)> {
    let n = row.0.len().max(columns.len());
    (0..n).find_map(|i| {
        let key = row.0.get(i).map(|(k, _)| k.as_str());
        let column = columns.get(i).map(|c| c.name.as_str());
        (key != column).then(|| {
            let kind = ProblemKind::Columns {
                expected: column.map(str::to_owned),
                found: key.map(str::to_owned),
            };
            (column, kind)
        })
    })
}

/// Collects a file's problems, listing the first `max` line problems and counting the rest.
struct Sink<'a> {
    file: &'a str,
    max: usize,
    listed: Vec<Problem>,
    file_level: Vec<Problem>,
    unlisted: u64,
}

impl<'a> Sink<'a> {
    fn new(plan: &Plan<'a>) -> Self {
        let (listed, file_level) = (Vec::new(), Vec::new());
        Sink { file: plan.file, max: plan.max_problems, listed, file_level, unlisted: 0 }
    }

    fn push(&mut self, line: u64, column: Option<&str>, kind: ProblemKind) {
        if self.listed.len() >= self.max {
            self.unlisted += 1;
            return;
        }
        let problem = Problem::new(self.file, kind).at_line(line);
        self.listed.push(match column {
            Some(c) => problem.in_column(c),
            None => problem,
        });
    }

    fn file_problem(&mut self, kind: ProblemKind) {
        self.file_level.push(Problem::new(self.file, kind));
    }

    fn finish(mut self) -> Vec<Problem> {
        if self.unlisted > 0 {
            self.listed.push(Problem::new(self.file, ProblemKind::More { count: self.unlisted }));
        }
        self.listed.extend(self.file_level);
        self.listed
    }
}

/// A reader that hashes (when asked) and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Option<Sha256>,
    bytes: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R, hash: bool) -> Self {
        Hashing { inner, hasher: hash.then(Sha256::new), bytes: 0 }
    }

    fn finish(self) -> Option<String> {
        self.hasher.map(|h| hex::encode(h.finalize()))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}
