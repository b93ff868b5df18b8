//! The tenancy check of a tenant-scoped export (DESIGN "Tenancy"): no value of the tenant
//! column other than the chosen tenant's appears anywhere in the export, and no foreign key
//! to the tenants table points at another tenant.
//!
//! It reads the NDJSON lines themselves (not the converted rows, which under
//! `--strip-tenancy` no longer hold the tenant column), during the same pass that digests
//! them. Per table it watches: the tenants table's key column; the tenant column; and every
//! column that references the tenants table's key (which may be NULL: such a row is owned
//! through another path, or by no one).

use rayon::prelude::*;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::catalog::{Column, QualifiedName};
use crate::manifest::{Filter, Manifest, TableEntry};
use crate::transform::Batch;

/// Who the export belongs to, from its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Scope {
    /// The tenant column (`user_id`).
    pub column: String,
    /// The tenant's key, as Postgres prints it.
    pub value: String,
    pub tenants: Option<QualifiedName>,
    /// The tenants table's column the tenant column holds.
    pub key_column: Option<String>,
}

/// One column of a table's lines that must hold the tenant's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Watched {
    /// The key's position in each line (the column's position in the table).
    pub position: usize,
    pub column: String,
    /// The JSON text the tenant's key has in this column (`42`, `"a0ee…"`).
    pub expected: String,
    /// Whether NULL is allowed (a foreign key) or is another tenant's value too (the tenant
    /// column, which the export's filter never lets be NULL).
    pub null_ok: bool,
}

/// A value of another tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Leak {
    pub line: u64,
    pub column: String,
    /// The raw JSON value, cut at 60 characters.
    pub value: String,
}

impl Scope {
    /// The scope of a tenant-scoped export; `None` for an export of whole tables.
    pub(super) fn from_manifest(m: &Manifest) -> Option<Scope> {
        let tenant = m.options.tenant.as_ref()?;
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        let column = tenant.get("column").and_then(text).or_else(|| tenant_column(m))?;
        let value = tenant.get("value").and_then(text)?;
        let tenants = tenant.get("tenants_table").and_then(|t| {
            Some(QualifiedName { schema: text(t.get("schema")?)?, name: text(t.get("name")?)? })
        });
        let tenants = tenants.or_else(|| tenants_table(m).map(|(q, _)| q));
        let key_column = tenant
            .get("key_column")
            .and_then(text)
            .or_else(|| tenants_table(m).and_then(|(_, k)| k));
        Some(Scope { column, value, tenants, key_column })
    }

    fn is_tenants(&self, entry: &TableEntry) -> bool {
        let t = &entry.table;
        matches!(entry.filter, Filter::TenantRow { .. })
            || self.tenants.as_ref().is_some_and(|q| q.schema == t.schema && q.name == t.name)
    }

    /// The columns of `entry`'s lines to check.
    pub(super) fn watch(&self, entry: &TableEntry) -> Vec<Watched> {
        let t = &entry.table;
        let mut out: Vec<Watched> = Vec::new();
        let own =
            if self.is_tenants(entry) { self.key_column.as_deref() } else { Some(&*self.column) };
        if let Some(name) = own {
            self.push(&mut out, entry, name, false);
        }
        let (Some(tenants), Some(key)) = (&self.tenants, &self.key_column) else { return out };
        for fk in t.foreign_keys.iter().filter(|fk| &fk.references == tenants) {
            for (col, parent) in fk.columns.iter().zip(&fk.referenced_columns) {
                if parent == key {
                    self.push(&mut out, entry, col, true);
                }
            }
        }
        out
    }

    fn push(&self, out: &mut Vec<Watched>, entry: &TableEntry, name: &str, null_ok: bool) {
        let columns = &entry.table.columns;
        let Some(position) = columns.iter().position(|c| c.name == name) else { return };
        if out.iter().any(|w| w.position == position) {
            return;
        }
        let expected = expected_json(&columns[position], &self.value);
        out.push(Watched { position, column: name.to_owned(), expected, null_ok });
    }
}

/// The tenant column, from the tables filtered by it (manifests without `options.tenant.column`).
fn tenant_column(m: &Manifest) -> Option<String> {
    m.tables.iter().find_map(|t| match &t.filter {
        Filter::TenantColumn { column } => Some(column.clone()),
        _ => None,
    })
}

fn tenants_table(m: &Manifest) -> Option<(QualifiedName, Option<String>)> {
    m.tables.iter().find_map(|t| match &t.filter {
        Filter::TenantRow { columns } => Some((
            QualifiedName { schema: t.table.schema.clone(), name: t.table.name.clone() },
            columns.first().cloned(),
        )),
        _ => None,
    })
}

/// How the export writes `value` in `column`: a bare number for integer types, a JSON string
/// otherwise (uuid, text, and numeric, which is exported as a string).
fn expected_json(column: &Column, value: &str) -> String {
    let integer = matches!(column.ty.base(), Some("int2" | "int4" | "int8" | "oid"));
    if integer && value.parse::<i64>().is_ok() {
        return value.to_owned();
    }
    serde_json::Value::String(value.to_owned()).to_string()
}

/// The watched values of a batch's lines that are not the tenant's, in line order.
pub(super) fn scan_batch(batch: &Batch, watch: &[Watched]) -> Vec<Leak> {
    if watch.is_empty() {
        return Vec::new();
    }
    (0..batch.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let no = batch.first_line() + i as u64;
            scan_line(no, batch.line(i).unwrap_or_default(), watch)
        })
        .collect()
}

/// A line that is not a JSON object is left to the conversion, which reports it.
fn scan_line(no: u64, line: &str, watch: &[Watched]) -> Vec<Leak> {
    let Ok(values) = values_of(line) else { return Vec::new() };
    watch
        .iter()
        .filter_map(|w| {
            let raw = values.get(w.position)?.get();
            let ok = if raw == "null" { w.null_ok } else { same_json(raw, &w.expected) };
            (!ok).then(|| Leak { line: no, column: w.column.clone(), value: cut(raw) })
        })
        .collect()
}

/// Equal as JSON: the same text, or the same value written otherwise (`"\u0061"` is `"a"`).
fn same_json(raw: &str, expected: &str) -> bool {
    raw == expected
        || serde_json::from_str::<serde_json::Value>(raw).ok()
            == serde_json::from_str::<serde_json::Value>(expected).ok()
}

fn cut(raw: &str) -> String {
    match raw.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &raw[..i]),
        None => raw.to_owned(),
    }
}

/// The raw values of a JSON object, in order (keys are checked by the conversion).
fn values_of(line: &str) -> Result<Vec<&RawValue>, serde_json::Error> {
    struct Values;
    impl<'de> Visitor<'de> for Values {
        type Value = Vec<&'de RawValue>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while map.next_key::<IgnoredAny>()?.is_some() {
                out.push(map.next_value::<&'de RawValue>()?);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let values = (&mut de).deserialize_map(Values)?;
    de.end()?;
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(position: usize, column: &str, expected: &str, null_ok: bool) -> Watched {
        Watched { position, column: column.into(), expected: expected.into(), null_ok }
    }

    #[test]
    fn another_tenants_value_is_found_with_its_line_and_column() {
        let mut batch = Batch::new(7);
        batch.push_line(r#"{"id":1,"user_id":"aa","owner":null}"#);
        batch.push_line(r#"{"id":2,"user_id":"bb","owner":"aa"}"#);
        batch.push_line(r#"{"id":3,"user_id":null,"owner":"cc"}"#);
        let watch = [watched(1, "user_id", "\"aa\"", false), watched(2, "owner", "\"aa\"", true)];
        let leaks = scan_batch(&batch, &watch);
        let got: Vec<(u64, &str, &str)> =
            leaks.iter().map(|l| (l.line, l.column.as_str(), l.value.as_str())).collect();
        assert_eq!(got, [(8, "user_id", "\"bb\""), (9, "user_id", "null"), (9, "owner", "\"cc\"")]);
    }

    #[test]
    fn the_same_value_written_otherwise_is_the_tenants() {
        assert!(same_json(r#""\u0061""#, r#""a""#));
        assert!(same_json("42", "42"));
        assert!(!same_json("43", "42"));
        assert!(!same_json(r#""42""#, "42"));
    }

    #[test]
    fn integer_keys_are_bare_numbers_and_the_rest_strings() {
        let col = |base: &str| Column {
            name: "c".into(),
            ty: crate::catalog::PgType {
                name: base.into(),
                domain: None,
                kind: crate::catalog::TypeKind::Base {
                    base: base.into(),
                    precision: None,
                    scale: None,
                },
            },
            nullable: false,
            default: None,
            identity: None,
            generated: None,
        };
        assert_eq!(expected_json(&col("int8"), "42"), "42");
        assert_eq!(expected_json(&col("uuid"), "a0ee"), "\"a0ee\"");
        assert_eq!(expected_json(&col("text"), "o\"k"), r#""o\"k""#);
    }
}
