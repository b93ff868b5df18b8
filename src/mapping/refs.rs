//! The names an export's catalog uses, checked against the tables they belong to before
//! anything is planned. Postgres cannot produce a key, index or constraint on a column its
//! table lacks, nor a foreign key whose two column lists differ in length, so either means
//! the manifest was written by hand; planning from it would emit something else than it says
//! (SQLite reads a double-quoted unknown name as a string constant, and pairing the lists
//! would silently drop columns). Such a manifest is refused, naming what is wrong.

use super::Error;
use super::expr;
use super::names::{pg_ident, pg_qualified};
use crate::model::catalog::{Table, TypeKind};

/// Checks every table's keys, foreign keys, indexes and checks against its columns (and the
/// referenced table's, when it is in the export), and that no name holds a NUL character.
///
/// # Errors
/// [`Error::Inconsistent`] for the first problem found.
pub(super) fn check(tables: &[Table]) -> Result<(), Error> {
    for t in tables {
        let owner = qualified(t);
        let fail = |object: String, problem: String| Error::Inconsistent {
            table: owner.clone(),
            object,
            problem,
        };
        check_names(t).map_err(|(object, problem)| fail(object, problem))?;
        check_keys(t).map_err(|(object, problem)| fail(object, problem))?;
        check_foreign_keys(t, tables).map_err(|(object, problem)| fail(object, problem))?;
        check_indexes(t).map_err(|(object, problem)| fail(object, problem))?;
        check_checks(t).map_err(|(object, problem)| fail(object, problem))?;
    }
    Ok(())
}

/// An object and what is wrong with it.
type Problem = (String, String);

fn qualified(t: &Table) -> String {
    pg_qualified(&t.qualified_name())
}

/// `column "x"` of `t` must exist.
fn has(t: &Table, object: &str, column: &str) -> Result<(), Problem> {
    if t.column(column).is_some() {
        return Ok(());
    }
    Err((
        object.to_owned(),
        format!("it names column {}, which {} does not have", pg_ident(column), qualified(t)),
    ))
}

fn check_names(t: &Table) -> Result<(), Problem> {
    let nul = |object: String| Err((object, "its name holds a NUL character".into()));
    if t.schema.contains('\0') || t.name.contains('\0') {
        return nul("the table".into());
    }
    for c in &t.columns {
        let object = format!("column {}", pg_ident(&c.name));
        if c.name.contains('\0') {
            return nul(object);
        }
        if let TypeKind::Enum { labels } = &c.ty.kind
            && labels.iter().any(|l| l.contains('\0'))
        {
            return Err((object, "an enum label of its type holds a NUL character".into()));
        }
    }
    let constraints = t.primary_key.iter().chain(&t.unique).map(|k| &k.name);
    let constraints = constraints.chain(t.foreign_keys.iter().map(|f| &f.name));
    let constraints = constraints.chain(t.checks.iter().map(|c| &c.name));
    if let Some(n) = constraints.chain(t.indexes.iter().map(|i| &i.name)).find(|n| n.contains('\0'))
    {
        return nul(format!("constraint or index {}", pg_ident(n)));
    }
    Ok(())
}

fn check_keys(t: &Table) -> Result<(), Problem> {
    let keys = t.primary_key.iter().map(|k| ("primary key", k));
    for (kind, k) in keys.chain(t.unique.iter().map(|k| ("unique constraint", k))) {
        let object = format!("{kind} {}", pg_ident(&k.name));
        if k.columns.is_empty() {
            return Err((object, "it names no column".into()));
        }
        for c in &k.columns {
            has(t, &object, c)?;
        }
    }
    Ok(())
}

fn check_foreign_keys(t: &Table, tables: &[Table]) -> Result<(), Problem> {
    for fk in &t.foreign_keys {
        let object = format!("foreign key {}", pg_ident(&fk.name));
        if fk.columns.is_empty() || fk.columns.len() != fk.referenced_columns.len() {
            return Err((
                object,
                format!(
                    "it pairs {} column(s) with {} referenced column(s)",
                    fk.columns.len(),
                    fk.referenced_columns.len()
                ),
            ));
        }
        for c in &fk.columns {
            has(t, &object, c)?;
        }
        let r = &fk.references;
        if let Some(parent) = tables.iter().find(|p| p.schema == r.schema && p.name == r.name) {
            for c in &fk.referenced_columns {
                has(parent, &object, c)?;
            }
        }
    }
    Ok(())
}

fn check_indexes(t: &Table) -> Result<(), Problem> {
    for idx in &t.indexes {
        let object = format!("index {}", pg_ident(&idx.name));
        if idx.columns.is_empty() {
            return Err((object, "it has no key".into()));
        }
        for key in &idx.columns {
            match &key.column {
                Some(c) => has(t, &object, c)?,
                None => expression_columns(t, &object, &key.definition)?,
            }
        }
        for c in &idx.include {
            has(t, &object, c)?;
        }
        if let Some(p) = &idx.predicate {
            expression_columns(t, &object, p)?;
        }
    }
    Ok(())
}

fn check_checks(t: &Table) -> Result<(), Problem> {
    for c in &t.checks {
        let object = format!("check {}", pg_ident(&c.name));
        let body = c.definition.strip_prefix("CHECK ").unwrap_or(&c.definition);
        let body = body.strip_suffix(" NOT VALID").unwrap_or(body);
        expression_columns(t, &object, body.strip_suffix(" NO INHERIT").unwrap_or(body))?;
    }
    Ok(())
}

/// Every column an expression names must be the table's. An expression pg2lite cannot parse
/// is not emitted at all (it becomes a note), so only parsed ones are checked.
fn expression_columns(t: &Table, object: &str, text: &str) -> Result<(), Problem> {
    let Ok(e) = expr::parse(text) else {
        return Ok(());
    };
    for c in e.columns() {
        has(t, object, c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::testkit::{check as ck, col, enum_ty, expression_key, fk, index, ty};
    use crate::model::catalog::KeyConstraint;

    fn table() -> Table {
        Table::new("public", "t", vec![col("id", ty("int4")), col("v", ty("text"))])
    }

    fn problem(t: Table, others: &[Table]) -> String {
        let mut all = vec![t];
        all.extend_from_slice(others);
        check(&all).expect_err("refused").to_string()
    }

    #[test]
    fn a_consistent_catalog_passes() {
        let mut t = table();
        t.primary_key = Some(KeyConstraint { name: "t_pkey".into(), columns: vec!["id".into()] });
        t.checks.push(ck("c", "CHECK ((v <> ''::text))"));
        assert!(check(&[t]).is_ok());
    }

    #[test]
    fn keys_indexes_and_checks_on_missing_columns_are_refused_by_name() {
        let mut t = table();
        t.primary_key = Some(KeyConstraint { name: "t_pkey".into(), columns: vec!["nope".into()] });
        let e = problem(t, &[]);
        assert!(e.contains("public.t, primary key t_pkey: it names column nope"), "{e}");

        let mut t = table();
        t.indexes.push(index("t_idx", &["ghost"]));
        let e = problem(t, &[]);
        assert!(e.contains("index t_idx: it names column ghost"), "{e}");

        let mut t = table();
        t.indexes.push(index("t_empty", &[]));
        assert!(problem(t, &[]).contains("index t_empty: it has no key"));

        let mut t = table();
        let mut i = index("t_expr", &[]);
        i.columns.push(expression_key("lower(ghost)"));
        t.indexes.push(i);
        assert!(problem(t, &[]).contains("index t_expr: it names column ghost"));

        let mut t = table();
        let mut i = index("t_part", &["v"]);
        i.predicate = Some("(ghost IS NULL)".into());
        t.indexes.push(i);
        assert!(problem(t, &[]).contains("index t_part: it names column ghost"));

        let mut t = table();
        t.checks.push(ck("c", "CHECK ((ghost > 0))"));
        assert!(problem(t, &[]).contains("check c: it names column ghost"));
    }

    #[test]
    fn foreign_keys_with_uneven_or_missing_columns_are_refused() {
        let parent = Table::new("public", "p", vec![col("id", ty("int4"))]);
        let mut t = table();
        let mut f = fk("t_fk", &["id", "v"], ("public", "p"), &["id"]);
        t.foreign_keys.push(f.clone());
        let e = problem(t, std::slice::from_ref(&parent));
        assert!(e.contains("foreign key t_fk: it pairs 2 column(s) with 1 referenced"), "{e}");

        let mut t = table();
        f.columns = vec!["id".into()];
        f.referenced_columns = vec!["ghost".into()];
        t.foreign_keys.push(f);
        let e = problem(t, &[parent]);
        assert!(e.contains("it names column ghost, which public.p does not have"), "{e}");
    }

    #[test]
    fn nul_characters_in_names_or_labels_are_refused() {
        let mut t = table();
        t.columns.push(col("e", enum_ty("public.mood", &["ok", "bad\0"])));
        assert!(problem(t, &[]).contains("NUL"));
        let mut t = table();
        t.columns.push(col("a\0b", ty("text")));
        assert!(problem(t, &[]).contains("NUL"));
    }
}
