//! The export's side of redaction ([`crate::redact`]): what the `COPY (SELECT ...)` selects
//! for a redacted column, and how a hashed value is written.
//!
//! `null` and `mask` are constants in the select list (`NULL`, or `CASE WHEN col IS NULL THEN
//! NULL ELSE <fixed value> END`), so the stored value never leaves Postgres. `hash` selects the
//! value's text output (lower-cased for citext, whose equality ignores case), which the
//! encoder turns into a pseudonym before the line is written: equal values in Postgres give
//! equal text whatever the integer width, so the two ends of a foreign key hash alike.

use super::codec::{self, Codec};
use crate::model::catalog::{Column, Table, TypeKind};
use crate::pg::{quote_ident, quote_literal};
use crate::redact::{Action, Hasher, Plan, Render};

/// The select-list expression and codec of `col` of `table` when it is redacted.
pub(super) fn select(plan: &Plan, table: &Table, col: &Column) -> Option<(String, Codec)> {
    let name = quote_ident(&col.name);
    match plan.action(table, &col.name)? {
        Action::Exclude | Action::Null => Some(("NULL::pg_catalog.text".to_owned(), Codec::Text)),
        Action::Hash(_) if col.ty.base_name() == Some("citext") => {
            Some((format!("pg_catalog.lower(({name})::pg_catalog.text)"), Codec::Text))
        }
        Action::Hash(_) => Some((format!("({name})::pg_catalog.text"), Codec::Text)),
        Action::Mask => {
            let codec = codec::plan(std::slice::from_ref(col)).columns.swap_remove(0).1;
            let fixed = mask_value(col, &codec);
            Some((format!("CASE WHEN {name} IS NULL THEN NULL ELSE {fixed} END"), codec))
        }
    }
}

/// The fixed value `mask` writes, as an expression of the type `codec` decodes: `***` for
/// text, zero for numbers, the epoch for times, the nil UUID, an enum's first label.
fn mask_value(col: &Column, codec: &Codec) -> String {
    if let TypeKind::Enum { labels } = &col.ty.kind {
        let first = labels.first().map_or("***", String::as_str);
        return format!("{}::pg_catalog.text", quote_literal(first));
    }
    let (value, ty) = match codec {
        Codec::Int2 => ("0", "int2"),
        Codec::Int4 => ("0", "int4"),
        Codec::Int8 => ("0", "int8"),
        Codec::Oid => ("0", "oid"),
        Codec::Float4 => ("0", "float4"),
        Codec::Float8 => ("0", "float8"),
        Codec::Numeric => ("0", "numeric"),
        Codec::Bool => ("false", "bool"),
        Codec::Uuid => ("'00000000-0000-0000-0000-000000000000'", "uuid"),
        Codec::Json => ("'\"***\"'", "json"),
        Codec::Jsonb => ("'\"***\"'", "jsonb"),
        Codec::Timestamptz => ("'1970-01-01 00:00:00+00'", "timestamptz"),
        Codec::Timestamp => ("'1970-01-01 00:00:00'", "timestamp"),
        Codec::Date => ("'1970-01-01'", "date"),
        Codec::Time => ("'00:00:00'", "time"),
        Codec::Timetz => ("'00:00:00+00'", "timetz"),
        Codec::Bytea => ("''", "bytea"),
        _ => ("'***'", "text"),
    };
    format!("{value}::pg_catalog.{ty}")
}

/// How each of a (pruned) table's columns is hashed, `None` for columns that are not.
pub(super) fn hashes(plan: &Plan, table: &Table) -> Vec<Option<Render>> {
    let render = |c: &Column| match plan.action(table, &c.name) {
        Some(Action::Hash(r)) => Some(r),
        _ => None,
    };
    table.columns.iter().map(render).collect()
}

/// Writes the pseudonym of a hashed column's text (`None`: NULL stays NULL).
pub(super) fn write_hash(hasher: &Hasher, render: Render, raw: Option<&[u8]>, out: &mut Vec<u8>) {
    match raw {
        Some(raw) => hasher.write_json(render, raw, out),
        None => out.extend_from_slice(b"null"),
    }
}
