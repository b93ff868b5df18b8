//! The keys and content checks of one table.
//!
//! When both sides have as many rows and the same table digest (the sum of every row's
//! digest, see `digest`), they hold the same multiset of rows, hence the same keys: both
//! checks pass from the digests alone ([`by_digest`]). Otherwise the two sides are loaded
//! into the scratch database ([`keys_and_content`]) to find which keys (or, without a
//! primary key, which whole rows) one side has and the other lacks, and which rows differ
//! under the same key. The few rows shown are fetched again (the export's lines re-read and
//! converted, SQLite's rows selected by key or rowid) so that a failure names the key and
//! the columns that differ.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::Value;

use super::Result;
use super::digest::{decode, show, show_named};
use super::scratch::{OneSided, Scratch, Side};
use super::sides::{self, ExportSide, SqliteSide, TableSpec};
use crate::report::{ContentCheck, KeysCheck, Status};

/// Where the rows shown come from.
pub(super) struct Sources<'a> {
    pub dir: &'a Path,
    pub target: &'a Connection,
    pub scratch: &'a Scratch,
}

/// Columns shown of a whole row (a table without a key), and of one differing row.
const SHOWN_COLUMNS: usize = 8;
const SHOWN_DIFFERENCES: usize = 3;

/// Both checks, passed, when the two sides hold the same rows: as many, with the same table
/// digest. `None` when they do not: [`keys_and_content`] then names the differences.
pub(super) fn by_digest(
    spec: &TableSpec<'_>,
    export: &ExportSide,
    sqlite: &SqliteSide,
) -> Option<(KeysCheck, ContentCheck)> {
    let digest = export.digests.total();
    if export.lines != sqlite.rows || digest != sqlite.digests.total() {
        return None;
    }
    let keys = KeysCheck {
        status: Status::Pass,
        compared_by: compared_by(spec),
        missing: 0,
        extra: 0,
        first_missing: Vec::new(),
        first_extra: Vec::new(),
        details: vec![format!(
            "compared by the digest of every row: both sides hold the same {}, so the \
             same {}",
            crate::report::count(sqlite.rows, "row"),
            if spec.key.is_empty() { "rows" } else { "keys" }
        )],
    };
    let content = ContentCheck {
        status: Status::Pass,
        digest_export: Some(digest.hex()),
        digest_sqlite: Some(digest.hex()),
        different: 0,
        first_different: Vec::new(),
        details: Vec::new(),
    };
    Some((keys, content))
}

/// What the keys check compares: `primary key (a, b)`, or whole rows.
fn compared_by(spec: &TableSpec<'_>) -> String {
    if spec.key.is_empty() {
        "whole rows, as a multiset (no primary key)".to_owned()
    } else {
        format!("primary key ({})", spec.key_names().join(", "))
    }
}

/// Both checks of a table whose sides were read and loaded into the scratch database.
///
/// # Errors
/// Only the scratch database's.
pub(super) fn keys_and_content(
    src: &Sources<'_>,
    spec: &TableSpec<'_>,
    export: &ExportSide,
    sqlite: &SqliteSide,
) -> Result<(KeysCheck, ContentCheck)> {
    let keys = if spec.key.is_empty() { multiset(src, spec)? } else { key_sets(src, spec)? };
    let (digest_export, digest_sqlite) = (export.digests.total(), sqlite.digests.total());
    let mut content = ContentCheck {
        status: Status::of(digest_export == digest_sqlite),
        digest_export: Some(digest_export.hex()),
        digest_sqlite: Some(digest_sqlite.hex()),
        different: 0,
        first_different: Vec::new(),
        details: Vec::new(),
    };
    if !spec.key.is_empty() {
        let different = src.scratch.different()?;
        content.different = different.count;
        let lines: Vec<u64> =
            different.first.iter().map(|(_, l)| u64::try_from(*l).unwrap_or(0)).collect();
        let rows = sides::export_rows(src.dir, spec, &lines);
        content.first_different = different
            .first
            .iter()
            .zip(&lines)
            .map(|((key, _), line)| describe_difference(src, spec, key, *line, rows.get(line)))
            .collect();
    }
    if content.status == Status::Fail {
        content.details = content_details(&content, &keys, spec);
    }
    Ok((keys, content))
}

fn content_details(content: &ContentCheck, keys: &KeysCheck, spec: &TableSpec<'_>) -> Vec<String> {
    let cut = |d: &Option<String>| d.as_deref().unwrap_or("").chars().take(16).collect::<String>();
    let mut details = vec![format!(
        "the rows' digests differ (export {}…, SQLite {}…)",
        cut(&content.digest_export),
        cut(&content.digest_sqlite)
    )];
    if content.different > 0 {
        let n = content.different;
        details.push(format!(
            "{} under the same key:",
            crate::report::count_as(n, "row differs", "rows differ")
        ));
        details.extend(content.first_different.iter().cloned());
        let shown = content.first_different.len() as u64;
        if n > shown {
            details.push(format!("... and {} more", n - shown));
        }
    } else if keys.missing + keys.extra > 0 {
        details.push("the difference is in the missing and extra rows (see keys)".to_owned());
    } else if spec.key.is_empty() {
        details.push("no primary key: rows are compared whole, under keys".to_owned());
    }
    details
}

/// Primary-key sets: `EXCEPT` both ways.
fn key_sets(src: &Sources<'_>, spec: &TableSpec<'_>) -> Result<KeysCheck> {
    let names = spec.key_names();
    let shown = |side: &OneSided| -> Vec<String> {
        let decoded = side.first.iter().map(|(k, _)| decode(k).unwrap_or_default());
        decoded.map(|values| show_named(&names, &values)).collect()
    };
    let missing = src.scratch.only_on(Side::Export)?;
    let extra = src.scratch.only_on(Side::Sqlite)?;
    let (missing, extra) = (&missing, &extra);
    Ok(keys_check(compared_by(spec), (missing, shown(missing)), (extra, shown(extra)), "key"))
}

/// Multisets of whole rows, for a table without a primary key.
fn multiset(src: &Sources<'_>, spec: &TableSpec<'_>) -> Result<KeysCheck> {
    let missing = src.scratch.surplus_on(Side::Export)?;
    let extra = src.scratch.surplus_on(Side::Sqlite)?;
    let lines: Vec<u64> =
        missing.first.iter().filter_map(|(_, at)| at.and_then(|l| u64::try_from(l).ok())).collect();
    let rows = sides::export_rows(src.dir, spec, &lines);
    let names = spec.column_names();
    let first_missing = lines
        .iter()
        .map(|l| match rows.get(l) {
            Some(values) => format!("line {l}: {}", show_row(&names, values)),
            None => format!("line {l}"),
        })
        .collect();
    let first_extra = extra
        .first
        .iter()
        .map(|(_, rid)| {
            let row = rid.and_then(|r| sides::sqlite_row_by_rowid(src.target, spec, r));
            match (rid, row) {
                (Some(r), Some(values)) => format!("rowid {r}: {}", show_row(&names, &values)),
                (Some(r), None) => format!("rowid {r}"),
                (None, _) => "a row without rowid".to_owned(),
            }
        })
        .collect();
    Ok(keys_check(compared_by(spec), (&missing, first_missing), (&extra, first_extra), "row"))
}

fn keys_check(
    compared_by: String,
    (missing, first_missing): (&OneSided, Vec<String>),
    (extra, first_extra): (&OneSided, Vec<String>),
    noun: &str,
) -> KeysCheck {
    let details = [
        one_sided(missing.count, &first_missing, noun, "in the export missing from SQLite"),
        one_sided(extra.count, &first_extra, noun, "in SQLite not in the export"),
    ];
    let details = details.into_iter().flatten().collect();
    KeysCheck {
        status: Status::of(missing.count == 0 && extra.count == 0),
        compared_by,
        missing: missing.count,
        extra: extra.count,
        first_missing,
        first_extra,
        details,
    }
}

/// `2 keys in SQLite not in the export: (id=7), (id=9)`, with `, ...` when there are more
/// than shown; `None` when there are none.
fn one_sided(count: u64, shown: &[String], noun: &str, what: &str) -> Option<String> {
    if count == 0 {
        return None;
    }
    let noun = if count == 1 { noun.to_owned() } else { format!("{noun}s") };
    let more = if count > shown.len() as u64 { ", ..." } else { "" };
    Some(format!("{count} {noun} {what}: {}{more}", shown.join(", ")))
}

/// `(col=v, ...)` cut to the first few columns.
fn show_row(names: &[String], values: &[Value]) -> String {
    if values.len() <= SHOWN_COLUMNS {
        return show_named(names, values);
    }
    let shown = show_named(&names[..SHOWN_COLUMNS], &values[..SHOWN_COLUMNS]);
    format!("{}, ...)", shown.trim_end_matches(')'))
}

/// `(film_id=1) (line 7): rental_rate: export 0.99, SQLite 5.99`, from the export's row at
/// that line and SQLite's row under that key.
fn describe_difference(
    src: &Sources<'_>,
    spec: &TableSpec<'_>,
    key: &[u8],
    line: u64,
    export: Option<&Vec<Value>>,
) -> String {
    let key_values = decode(key).unwrap_or_default();
    let at = show_named(&spec.key_names(), &key_values);
    let sqlite = sides::sqlite_row_by_key(src.target, spec, &key_values);
    let (Some(export), Some(sqlite)) = (export, sqlite) else {
        return format!("{at} (line {line})");
    };
    let differing: Vec<String> = spec
        .column_names()
        .iter()
        .zip(export.iter().zip(&sqlite))
        .filter(|(_, (e, s))| !same(e, s))
        .map(|(name, (e, s))| format!("{name}: export {}, SQLite {}", show(e), show(s)))
        .collect();
    let mut text = format!("{at} (line {line}): ");
    text.push_str(
        &differing.iter().take(SHOWN_DIFFERENCES).cloned().collect::<Vec<_>>().join("; "),
    );
    if differing.len() > SHOWN_DIFFERENCES {
        text.push_str(&format!("; and {} more columns", differing.len() - SHOWN_DIFFERENCES));
    }
    text
}

/// Equal as stored: same type and bits (so `-0.0` and `0.0` differ, as their digests do).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}
