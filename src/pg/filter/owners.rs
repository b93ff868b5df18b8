//! Every tenant's rows of a table in one query: the same facts as [`Builder::condition`], but
//! instead of keeping one tenant's rows, each row is tagged with the key of the tenant that
//! owns it ([`OWNER`]), so that a table is read once for all tenants (`--each-tenant`).
//!
//! The single-tenant condition nests `EXISTS` hop by hop; here each hop is an inner join.
//! The two agree because a hop follows a foreign key, which points at a unique key: a row
//! joins at most one row per hop, and a NULL anywhere on the path joins none. A lookup's row
//! belongs to every tenant whose exported rows reference it, so it comes once per such
//! tenant (a `UNION` of (owner, key) pairs, joined back to the lookup).

use super::{Builder, Mismatch};
use crate::model::catalog::{QualifiedName, Table};
use crate::model::manifest::{Filter, Hop};
use crate::sql::quote_ident;

/// The column that carries a row's tenant key in an [`Owned::Rows`] query. No exported
/// table may have a column of this name ([`Builder::owned`] refuses one).
pub const OWNER: &str = "_pg2lite_owner";

/// Who owns a table's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    /// Every tenant gets every row (`--whole-table`, or an export without tenant).
    Everyone,
    /// No tenant gets any row (the table is left out).
    NoOne,
    /// `SELECT <owner key> AS "_pg2lite_owner", t0.* FROM ...`: each row once per tenant that
    /// owns it, with the owner never NULL.
    Rows(String),
}

impl Builder<'_> {
    /// Who owns the rows of `table`, for the tenants table `tenants` keyed by `key`; see
    /// the module's doc.
    ///
    /// # Errors
    /// [`Mismatch`] as [`Builder::condition`], and for a table with a column named [`OWNER`].
    pub fn owned(
        &self,
        table: &QualifiedName,
        tenants: &QualifiedName,
        key: &str,
    ) -> Result<Owned, Mismatch> {
        let at = Owners { b: self, tenants, key };
        at.owned(table, 0, &mut Vec::new())
    }
}

struct Owners<'a, 'b> {
    b: &'a Builder<'b>,
    tenants: &'a QualifiedName,
    key: &'a str,
}

impl Owners<'_, '_> {
    fn owned(
        &self,
        table: &QualifiedName,
        depth: usize,
        seen: &mut Vec<QualifiedName>,
    ) -> Result<Owned, Mismatch> {
        if depth > super::MAX_DEPTH {
            return Err(Builder::mismatch(
                table,
                format!("it nests deeper than {}", super::MAX_DEPTH),
            ));
        }
        let t = self.b.table(table, table)?;
        if t.column(OWNER).is_some() {
            return Err(Builder::mismatch(
                table,
                format!("a column named {OWNER:?} is reserved for --each-tenant"),
            ));
        }
        let filter = self.b.filter_of(table, table)?;
        let sql = match filter {
            Filter::Whole | Filter::WholeTable => return Ok(Owned::Everyone),
            Filter::LeftOut => return Ok(Owned::NoOne),
            Filter::TenantColumn { column } => Self::own_column(table, t, column)?,
            Filter::TenantRow { columns } => match columns.as_slice() {
                [k] => Self::own_column(table, t, k)?,
                _ => {
                    return Err(Builder::mismatch(
                        table,
                        "a tenant_row filter names one key column",
                    ));
                }
            },
            Filter::Path { path } => self.path(table, t, path)?,
            Filter::Lookup { referenced_by } => {
                match self.lookup(table, t, referenced_by, depth, seen)? {
                    Some(sql) => sql,
                    None => return Ok(Owned::NoOne),
                }
            }
        };
        if sql.len() > super::MAX_LEN {
            return Err(Builder::mismatch(table, "its query would be too long"));
        }
        Ok(Owned::Rows(sql))
    }

    /// The rows of a table that holds the owner's key in `column` itself.
    fn own_column(table: &QualifiedName, t: &Table, column: &str) -> Result<String, Mismatch> {
        let c = quote_ident(&Builder::column(t, column, table)?.name);
        Ok(format!(
            "SELECT t0.{c} AS {}, t0.* FROM {} AS t0 WHERE t0.{c} IS NOT NULL",
            quote_ident(OWNER),
            Builder::from_clause(t)
        ))
    }

    /// `FROM t AS t0 JOIN t1 ON .. JOIN tN ON ..`, the owner the last table's tenant column.
    fn path(&self, table: &QualifiedName, t: &Table, path: &[Hop]) -> Result<String, Mismatch> {
        if path.is_empty() || path.len() > super::MAX_DEPTH {
            return Err(Builder::mismatch(table, "a path has 1 to 64 hops"));
        }
        let mut at = table;
        let mut sql = format!("FROM {} AS t0", Builder::from_clause(t));
        for (i, hop) in path.iter().enumerate() {
            if &hop.from != at {
                return Err(Builder::mismatch(table, "its path's hops do not follow each other"));
            }
            let (_, to) = self.b.hop(hop, table)?;
            let (outer, inner) = (format!("t{i}"), format!("t{}", i + 1));
            let on = Builder::join(hop, &outer, &inner);
            sql.push_str(&format!(" JOIN {} AS {inner} ON {on}", Builder::from_clause(to)));
            at = &hop.to;
        }
        let end_table = self.b.table(at, table)?;
        let end = match self.b.filter_of(at, table)? {
            Filter::TenantColumn { column } => column,
            Filter::TenantRow { columns } if columns.len() == 1 => &columns[0],
            _ => {
                return Err(Builder::mismatch(
                    table,
                    "its path does not end at a tenant-owned table",
                ));
            }
        };
        let owner = format!(
            "t{}.{}",
            path.len(),
            quote_ident(&Builder::column(end_table, end, table)?.name)
        );
        Ok(format!(
            "SELECT {owner} AS {}, t0.* {sql} WHERE {owner} IS NOT NULL",
            quote_ident(OWNER)
        ))
    }

    /// The rows of a lookup that each tenant's exported rows reference; `None` when no
    /// referencing table is exported.
    fn lookup(
        &self,
        table: &QualifiedName,
        t: &Table,
        referenced_by: &[Hop],
        depth: usize,
        seen: &mut Vec<QualifiedName>,
    ) -> Result<Option<String>, Mismatch> {
        if seen.contains(table) {
            return Err(Builder::mismatch(table, "lookups that reference each other in a cycle"));
        }
        seen.push(table.clone());
        let mut branches = Vec::new();
        for hop in referenced_by {
            if &hop.to != table {
                return Err(Builder::mismatch(table, "a lookup hop that does not point at it"));
            }
            self.b.hop(hop, table)?;
            if let Some(b) = self.branch(hop, depth, seen)? {
                branches.push((hop, b));
            }
        }
        seen.pop();
        let Some((first, _)) = branches.first() else { return Ok(None) };
        let owner = quote_ident(OWNER);
        let from = Builder::from_clause(t);
        let same_key = branches.iter().all(|(h, _)| h.to_columns == first.to_columns);
        if same_key {
            // (owner, key) pairs, deduplicated, joined back to the lookup's rows.
            let parts: Vec<&str> = branches.iter().map(|(_, b)| b.as_str()).collect();
            return Ok(Some(format!(
                "SELECT o.{owner} AS {owner}, t0.* FROM {from} AS t0 JOIN ({}) AS o ON {}",
                parts.join(" UNION "),
                keys_equal(&first.to_columns, "o")
            )));
        }
        // Hops that reference different keys of the lookup: the owners of each row, found
        // row by row.
        let parts: Vec<String> = branches
            .iter()
            .map(|(h, b)| {
                let on = keys_equal(&h.to_columns, "s");
                format!("SELECT s.{owner} FROM ({b}) AS s WHERE {on}")
            })
            .collect();
        Ok(Some(format!(
            "SELECT o.{owner} AS {owner}, t0.* FROM {from} AS t0 JOIN LATERAL ({}) AS o ON true",
            parts.join(" UNION ")
        )))
    }

    /// `SELECT owner, fk columns AS k0, k1, ..` of the referencing table's exported rows;
    /// `None` when it exports none.
    fn branch(
        &self,
        hop: &Hop,
        depth: usize,
        seen: &mut Vec<QualifiedName>,
    ) -> Result<Option<String>, Mismatch> {
        let owner = quote_ident(OWNER);
        let keys: Vec<String> = hop
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("s.{} AS k{i}", quote_ident(c)))
            .collect();
        let not_null: Vec<String> =
            hop.columns.iter().map(|c| format!("s.{} IS NOT NULL", quote_ident(c))).collect();
        let source = match self.owned(&hop.from, depth + 1, seen)? {
            Owned::NoOne => return Ok(None),
            Owned::Rows(sql) => format!("({sql})"),
            Owned::Everyone => {
                // Every tenant's export holds the referencing table whole, so every tenant
                // gets the rows it references.
                let tenants = self.b.table(self.tenants, &hop.from)?;
                let key = quote_ident(&Builder::column(tenants, self.key, &hop.from)?.name);
                let from = Builder::from_clause(self.b.table(&hop.from, &hop.from)?);
                format!(
                    "(SELECT tw.{key} AS {owner}, t0.* FROM {from} AS t0 CROSS JOIN {} AS tw)",
                    Builder::from_clause(tenants)
                )
            }
        };
        Ok(Some(format!(
            "SELECT s.{owner} AS {owner}, {} FROM {source} AS s WHERE {}",
            keys.join(", "),
            not_null.join(" AND ")
        )))
    }
}

/// `t0.c0 = alias.k0 AND t0.c1 = alias.k1 ...`: the lookup's key columns against a
/// branch's `k0, k1, ..` (see [`Owners::branch`]).
fn keys_equal(columns: &[String], alias: &str) -> String {
    let pairs: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("t0.{} = {alias}.k{i}", quote_ident(c)))
        .collect();
    pairs.join(" AND ")
}
