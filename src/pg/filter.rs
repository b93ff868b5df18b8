//! The one builder of tenant filters: a table's `WHERE` condition, made from the typed facts
//! of its [`Filter`] (tenant column, foreign-key hops, lookups) and checked, hop by hop,
//! against the live catalog. Export uses it to read one tenant's rows; `validate --source`
//! uses it to count them again from a manifest, which is untrusted input (DESIGN "Trust"):
//! every identifier in the SQL comes from the live catalog, quoted, and the tenant's key is a
//! quoted literal ([`Bind::Literal`], for `COPY`, which takes no parameters) or bound
//! parameters ([`Bind::Params`]). No text of a manifest is ever part of the SQL.

mod owners;

pub use owners::{OWNER, Owned};

use std::cell::Cell;
use std::collections::BTreeMap;

use bytes::BytesMut;
use postgres_types::{Format, IsNull, ToSql, Type, to_sql_checked};

use super::{quote_ident, quote_literal, quote_qualified};
use crate::model::catalog::{Column, QualifiedName, Table, TableKind};
use crate::model::manifest::{Filter, Hop};

/// How deep conditions may nest (hops of a path, lookups of lookups): far beyond any real
/// schema, and well inside Postgres' stack.
pub const MAX_DEPTH: usize = 64;
/// The longest condition built; a manifest whose lookups reference each other in a lattice
/// would otherwise ask for exponentially long SQL.
pub const MAX_LEN: usize = 1 << 20;

/// How the tenant's key enters the SQL.
#[derive(Debug, Clone, Copy)]
pub enum Bind<'a> {
    /// A quoted literal, which Postgres reads with the column's type.
    Literal(&'a str),
    /// `$1`, `$2`, ...: one parameter per comparison, each bound to the key as
    /// [`TextParam`], so each takes its own column's type. [`Builder::params`] says how many.
    Params,
}

/// A filter that does not fit the live catalog, or cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table {table}: its filter does not match the live catalog: {why}")]
pub struct Mismatch {
    /// The table whose filter failed, `schema.name`.
    pub table: String,
    /// What is wrong: a table or column the catalog lacks, or a filter whose shape is invalid
    /// (a broken path, a cycle, too deep or too long).
    pub why: String,
}

/// Builds conditions for the tables of one export.
pub struct Builder<'a> {
    live: BTreeMap<QualifiedName, &'a Table>,
    filters: BTreeMap<QualifiedName, &'a Filter>,
    bind: Bind<'a>,
    params: Cell<usize>,
}

impl<'a> Builder<'a> {
    /// A builder over the `live` catalog's tables and every exported table's filter.
    pub fn new(
        live: &'a [Table],
        filters: impl IntoIterator<Item = (QualifiedName, &'a Filter)>,
        bind: Bind<'a>,
    ) -> Self {
        let live = live.iter().map(|t| (t.qualified_name(), t)).collect();
        Builder { live, filters: filters.into_iter().collect(), bind, params: Cell::new(0) }
    }

    /// Parameters the last [`Builder::condition`] used with [`Bind::Params`]: bind the key
    /// that many times.
    pub fn params(&self) -> usize {
        self.params.get()
    }

    /// The condition on alias `t0` for `table`, `None` when every row is kept.
    ///
    /// # Errors
    /// [`Mismatch`] naming the table and what does not fit the live catalog.
    pub fn condition(&self, table: &QualifiedName) -> Result<Option<String>, Mismatch> {
        self.params.set(0);
        let filter = self.filter_of(table, table)?;
        self.table(table, table)?;
        match filter {
            Filter::Whole | Filter::WholeTable => Ok(None),
            f => self.render(table, f, 0, &mut Vec::new()).map(Some),
        }
    }

    fn mismatch(table: &QualifiedName, why: impl Into<String>) -> Mismatch {
        Mismatch { table: table.to_string(), why: why.into() }
    }

    fn filter_of(
        &self,
        of: &QualifiedName,
        asking: &QualifiedName,
    ) -> Result<&'a Filter, Mismatch> {
        self.filters
            .get(of)
            .copied()
            .ok_or_else(|| Self::mismatch(asking, format!("{} is not a table of the export", of)))
    }

    fn table(&self, of: &QualifiedName, asking: &QualifiedName) -> Result<&'a Table, Mismatch> {
        self.live
            .get(of)
            .copied()
            .ok_or_else(|| Self::mismatch(asking, format!("no table {} in the database", of)))
    }

    fn column(t: &'a Table, name: &str, asking: &QualifiedName) -> Result<&'a Column, Mismatch> {
        t.column(name).ok_or_else(|| {
            Self::mismatch(asking, format!("{} has no column {name:?}", t.display_name()))
        })
    }

    fn value(&self) -> String {
        match self.bind {
            Bind::Literal(v) => quote_literal(v),
            Bind::Params => {
                self.params.set(self.params.get() + 1);
                format!("${}", self.params.get())
            }
        }
    }

    fn from_clause(t: &Table) -> String {
        let only = if t.kind == TableKind::Partitioned { "" } else { "ONLY " };
        format!("{only}{}", quote_qualified(&t.schema, &t.name))
    }

    /// The condition of `filter` on alias `t{depth}` of `table`; `seen` holds the lookups
    /// being built, so a cycle of lookups is refused rather than followed forever.
    fn render(
        &self,
        table: &QualifiedName,
        filter: &Filter,
        depth: usize,
        seen: &mut Vec<QualifiedName>,
    ) -> Result<String, Mismatch> {
        if depth > MAX_DEPTH {
            return Err(Self::mismatch(table, format!("it nests deeper than {MAX_DEPTH}")));
        }
        let t = self.table(table, table)?;
        let here = format!("t{depth}");
        let equal = |column: &str| -> Result<String, Mismatch> {
            let c = Self::column(t, column, table)?;
            Ok(format!("{here}.{} = {}", quote_ident(&c.name), self.value()))
        };
        match filter {
            Filter::Whole | Filter::WholeTable => Ok("true".to_owned()),
            Filter::LeftOut => Ok("false".to_owned()),
            Filter::TenantColumn { column } => equal(column),
            Filter::TenantRow { columns } => match columns.as_slice() {
                [key] => equal(key),
                _ => Err(Self::mismatch(table, "a tenant_row filter names one key column")),
            },
            Filter::Path { path } => self.path(table, path, depth),
            Filter::Lookup { referenced_by } => self.lookup(table, referenced_by, depth, seen),
        }
    }

    /// The live tables of a hop, once its foreign key is found in the live catalog with
    /// exactly its columns.
    fn hop(&self, hop: &Hop, asking: &QualifiedName) -> Result<(&'a Table, &'a Table), Mismatch> {
        let from = self.table(&hop.from, asking)?;
        let to = self.table(&hop.to, asking)?;
        let found = from.foreign_keys.iter().any(|fk| {
            fk.references == hop.to
                && fk.columns == hop.columns
                && fk.referenced_columns == hop.to_columns
        });
        if !found || hop.columns.is_empty() {
            return Err(Self::mismatch(
                asking,
                format!(
                    "no foreign key {}({}) -> {}({})",
                    from.display_name(),
                    hop.columns.join(", "),
                    to.display_name(),
                    hop.to_columns.join(", ")
                ),
            ));
        }
        Ok((from, to))
    }

    /// `inner.k1 = outer.c1 AND ...` for a hop from `outer`'s table to `inner`'s.
    fn join(hop: &Hop, from: &str, to: &str) -> String {
        let pairs = hop.columns.iter().zip(&hop.to_columns);
        let eq: Vec<String> = pairs
            .map(|(c, r)| format!("{to}.{} = {from}.{}", quote_ident(r), quote_ident(c)))
            .collect();
        eq.join(" AND ")
    }

    /// `EXISTS (SELECT 1 FROM next AS t1 WHERE t1.k = t0.fk AND ...)`, nested hop by hop;
    /// the last table is tenant-owned and brings its own condition.
    fn path(&self, table: &QualifiedName, path: &[Hop], depth: usize) -> Result<String, Mismatch> {
        if path.is_empty() || depth + path.len() > MAX_DEPTH {
            return Err(Self::mismatch(table, "a path has 1 to 64 hops"));
        }
        let mut at = table;
        let mut tables = Vec::with_capacity(path.len());
        for hop in path {
            if &hop.from != at {
                return Err(Self::mismatch(table, "its path's hops do not follow each other"));
            }
            tables.push(self.hop(hop, table)?.1);
            at = &hop.to;
        }
        let end = self.filter_of(at, table)?;
        if !matches!(end, Filter::TenantColumn { .. } | Filter::TenantRow { .. }) {
            return Err(Self::mismatch(table, "its path does not end at a tenant-owned table"));
        }
        let mut sql = self.render(at, end, depth + path.len(), &mut Vec::new())?;
        for (i, (hop, to)) in path.iter().zip(&tables).enumerate().rev() {
            let (outer, inner) = (format!("t{}", depth + i), format!("t{}", depth + i + 1));
            sql = format!(
                "EXISTS (SELECT 1 FROM {} AS {inner} WHERE {} AND {sql})",
                Self::from_clause(to),
                Self::join(hop, &outer, &inner)
            );
        }
        Ok(sql)
    }

    /// `(EXISTS (SELECT 1 FROM src AS t1 WHERE t1.fk = t0.k AND <src's filter>) OR ...)`:
    /// the rows that an exported row of a referencing table points at.
    fn lookup(
        &self,
        table: &QualifiedName,
        referenced_by: &[Hop],
        depth: usize,
        seen: &mut Vec<QualifiedName>,
    ) -> Result<String, Mismatch> {
        if seen.contains(table) {
            return Err(Self::mismatch(table, "lookups that reference each other in a cycle"));
        }
        seen.push(table.clone());
        let mut parts = Vec::new();
        let mut len = 0;
        for hop in referenced_by {
            if &hop.to != table {
                return Err(Self::mismatch(table, "a lookup hop that does not point at it"));
            }
            let (from, _) = self.hop(hop, table)?;
            let source = self.filter_of(&hop.from, table)?;
            if *source == Filter::LeftOut {
                continue;
            }
            let (outer, inner) = (format!("t{depth}"), format!("t{}", depth + 1));
            let own = self.render(&hop.from, source, depth + 1, seen)?;
            let part = format!(
                "EXISTS (SELECT 1 FROM {} AS {inner} WHERE {} AND {own})",
                Self::from_clause(from),
                Self::join(hop, &inner, &outer)
            );
            len += part.len();
            if len > MAX_LEN {
                return Err(Self::mismatch(table, "its lookup condition would be too long"));
            }
            parts.push(part);
        }
        seen.pop();
        Ok(match parts.len() {
            0 => "false".to_owned(),
            _ => format!("({})", parts.join(" OR ")),
        })
    }
}

/// A string parameter sent in text format, so that Postgres reads it with the type it
/// infers for the parameter, exactly as it reads a quoted literal.
#[derive(Debug)]
pub struct TextParam<'a>(pub &'a str);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::{FkAction, ForeignKey, PgType, TypeKind};

    fn q(name: &str) -> QualifiedName {
        QualifiedName { schema: "public".into(), name: name.into() }
    }

    fn table(name: &str, cols: &[&str], fks: &[(&str, &str, &str)]) -> Table {
        let column = |c: &&str| Column {
            name: (*c).into(),
            ty: PgType {
                name: "integer".into(),
                domain: None,
                kind: TypeKind::Base { base: "int4".into(), precision: None, scale: None },
            },
            nullable: true,
            default: None,
            identity: None,
            generated: None,
        };
        Table {
            foreign_keys: fks
                .iter()
                .map(|(c, t, r)| ForeignKey {
                    name: format!("{name}_{c}_fkey"),
                    columns: vec![(*c).into()],
                    references: q(t),
                    referenced_columns: vec![(*r).into()],
                    on_update: FkAction::NoAction,
                    on_delete: FkAction::NoAction,
                    deferrable: false,
                    initially_deferred: false,
                    definition: String::new(),
                })
                .collect(),
            ..Table::new("public", name, cols.iter().map(column).collect())
        }
    }

    fn hop(from: &str, col: &str, to: &str, to_col: &str) -> Hop {
        Hop { from: q(from), columns: vec![col.into()], to: q(to), to_columns: vec![to_col.into()] }
    }

    fn live() -> Vec<Table> {
        vec![
            table("users", &["id"], &[]),
            table(
                "notes",
                &["id", "user_id", "tag_id"],
                &[("user_id", "users", "id"), ("tag_id", "tags", "id")],
            ),
            table("tags", &["id"], &[]),
        ]
    }

    fn filters() -> Vec<(QualifiedName, Filter)> {
        vec![
            (q("users"), Filter::TenantRow { columns: vec!["id".into()] }),
            (q("notes"), Filter::TenantColumn { column: "user_id".into() }),
            (
                q("tags"),
                Filter::Lookup { referenced_by: vec![hop("notes", "tag_id", "tags", "id")] },
            ),
        ]
    }

    #[test]
    fn a_lookup_is_the_rows_its_referencing_rows_point_at_with_one_parameter_per_comparison() {
        let (live, filters) = (live(), filters());
        let b = Builder::new(&live, filters.iter().map(|(q, f)| (q.clone(), f)), Bind::Params);
        assert_eq!(
            b.condition(&q("tags")).unwrap().unwrap(),
            "(EXISTS (SELECT 1 FROM ONLY \"public\".\"notes\" AS t1 WHERE t0.\"id\" = t1.\"tag_id\" \
             AND t1.\"user_id\" = $1))"
        );
        assert_eq!(b.params(), 1);
        assert_eq!(b.condition(&q("users")).unwrap().unwrap(), "t0.\"id\" = $1");
    }

    #[test]
    fn a_hop_the_live_catalog_lacks_is_refused_naming_the_table() {
        let live = live();
        let mut filters = filters();
        filters[2].1 = Filter::Lookup { referenced_by: vec![hop("notes", "id", "tags", "id")] };
        let b = Builder::new(&live, filters.iter().map(|(q, f)| (q.clone(), f)), Bind::Params);
        let err = b.condition(&q("tags")).unwrap_err();
        assert_eq!(err.table, "public.tags");
        assert!(err.why.contains("no foreign key public.notes(id) -> public.tags(id)"), "{err}");
        filters[1].1 = Filter::TenantColumn { column: "user_id\" OR pg_sleep(1) IS NULL".into() };
        let b = Builder::new(&live, filters.iter().map(|(q, f)| (q.clone(), f)), Bind::Params);
        assert!(b.condition(&q("notes")).unwrap_err().why.contains("has no column"));
    }

    #[test]
    fn lookups_in_a_cycle_and_paths_that_end_nowhere_are_refused() {
        let live = vec![
            table("users", &["id"], &[]),
            table("a", &["id", "b_id"], &[("b_id", "b", "id")]),
            table("b", &["id", "a_id"], &[("a_id", "a", "id")]),
        ];
        let filters = [
            (q("users"), Filter::TenantRow { columns: vec!["id".into()] }),
            (q("a"), Filter::Lookup { referenced_by: vec![hop("b", "a_id", "a", "id")] }),
            (q("b"), Filter::Path { path: vec![hop("b", "a_id", "a", "id")] }),
        ];
        let b = Builder::new(&live, filters.iter().map(|(q, f)| (q.clone(), f)), Bind::Params);
        assert!(b.condition(&q("b")).unwrap_err().why.contains("does not end at a tenant-owned"));
        let filters = [
            (q("a"), Filter::Lookup { referenced_by: vec![hop("b", "a_id", "a", "id")] }),
            (q("b"), Filter::Lookup { referenced_by: vec![hop("a", "b_id", "b", "id")] }),
        ];
        let b = Builder::new(&live, filters.iter().map(|(q, f)| (q.clone(), f)), Bind::Params);
        assert!(b.condition(&q("a")).unwrap_err().why.contains("cycle"));
    }

    #[test]
    fn owners_are_joined_hop_by_hop_and_a_lookup_gets_each_referencing_tenant_once() {
        let (live, filters) = (live(), filters());
        let b = Builder::new(&live, filters.iter().map(|(q, f)| (q.clone(), f)), Bind::Params);
        let owned = |t: &str| b.owned(&q(t), &q("users"), "id").unwrap();
        assert_eq!(
            owned("notes"),
            Owned::Rows(
                "SELECT t0.\"user_id\" AS \"_pg2lite_owner\", t0.* FROM ONLY \"public\".\"notes\" \
                 AS t0 WHERE t0.\"user_id\" IS NOT NULL"
                    .into()
            )
        );
        let Owned::Rows(tags) = owned("tags") else { panic!("tags are owned") };
        assert!(tags.contains(" UNION ") || tags.contains("JOIN (SELECT s."), "{tags}");
        assert!(tags.contains("AS o ON t0.\"id\" = o.k0"), "{tags}");
        let mut live = live;
        live[0].columns[0].name = OWNER.into();
        let filters = [(q("users"), Filter::TenantRow { columns: vec![OWNER.into()] })];
        let b = Builder::new(&live, filters.iter().map(|(q, f)| (q.clone(), f)), Bind::Params);
        assert!(b.owned(&q("users"), &q("users"), OWNER).unwrap_err().why.contains("reserved"));
    }
}
