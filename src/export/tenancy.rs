//! Which rows belong to one tenant, decided from the catalog alone and enforced inside
//! Postgres, so that no other tenant's row ever leaves the server.
//!
//! Every table gets one of four filters (recorded in the manifest as [`Filter`]):
//! - the tenants table keeps only the tenant's own row;
//! - a table with the tenant column keeps rows where it holds the tenant's key;
//! - a table without it that reaches a tenant-owned table through foreign keys keeps rows
//!   whose referenced row is the tenant's, along the shortest such path (ties broken by table
//!   and constraint name, so the choice is stable); a NULL anywhere on the path means the row
//!   belongs to no one, and it is not exported;
//! - a table with no path at all (a lookup table) is exported whole; when tenant-owned tables
//!   reference it, the plan says so, because it may hold per-tenant rows after all.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::catalog::{ForeignKey, QualifiedName, Table, TableKind};
use crate::manifest::{Filter, Hop};
use crate::pg::{quote_ident, quote_literal, quote_qualified};

/// Who the tenant is, as the user named them.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantOptions {
    /// The column that marks a tenant's rows (`user_id`, `tenant_id`, ...).
    pub column: String,
    pub tenant: TenantRef,
    /// The tenants table, `name` or `schema.name`, when it cannot be found from foreign keys.
    pub table: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TenantRef {
    /// The tenant column's value itself.
    Value(String),
    /// A unique column of the tenants table and its value (`email=alice@example.com`).
    Key { column: String, value: String },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error(
        "no table has the tenant column {0:?}; check the name (--tenant-column) or the \
         --schema/--table selection"
    )]
    NoTenantColumn(String),
    #[error(
        "cannot tell which table holds the tenants: no foreign key on a {column:?} column \
         references one; name it with --tenant-table"
    )]
    NoTenantsTable { column: String },
    #[error(
        "the {column:?} columns reference different tables ({}); name the tenants table with \
         --tenant-table", candidates.join(", ")
    )]
    AmbiguousTenantsTable { column: String, candidates: Vec<String> },
    #[error("--tenant-table {0:?} is not among the exported tables")]
    TenantsTableNotFound(String),
    #[error(
        "the tenants table {table} has no primary key or single-column unique key to identify a \
         tenant by; name the key with --tenant-key COLUMN=VALUE"
    )]
    NoTenantKey { table: String },
    #[error(
        "--tenant-key column {column:?} is not a unique column of the tenants table {table}; \
         use one of: {}", unique.join(", ")
    )]
    KeyNotUnique { table: String, column: String, unique: Vec<String> },
    #[error("no tenant in {table} has {column} = {value:?}; check the value")]
    TenantNotFound { table: String, column: String, value: String },
}

/// How each table will be filtered, before the tenant's key value is known.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantPlan {
    pub column: String,
    pub tenants_table: QualifiedName,
    /// The tenants table's column that the tenant column holds (its key).
    pub key_column: String,
    pub tables: BTreeMap<QualifiedName, TableRule>,
    /// Partitioned tables, which a path must read without `ONLY`.
    partitioned: BTreeSet<QualifiedName>,
}

/// The rule for one table.
#[derive(Debug, Clone, PartialEq)]
pub enum TableRule {
    TenantRow,
    TenantColumn,
    /// Through foreign keys, first hop first.
    Path(Vec<Step>),
    /// Exported whole; `referenced_by` lists tenant-owned tables that point at it.
    Whole {
        referenced_by: Vec<String>,
    },
}

/// One foreign-key hop: `from(columns)` references `to(to_columns)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub from: QualifiedName,
    pub columns: Vec<String>,
    pub to: QualifiedName,
    pub to_columns: Vec<String>,
}

impl Step {
    fn to_hop(&self) -> Hop {
        Hop {
            from: display(&self.from),
            columns: self.columns.clone(),
            to: display(&self.to),
            to_columns: self.to_columns.clone(),
        }
    }
}

fn qualified(t: &Table) -> QualifiedName {
    QualifiedName { schema: t.schema.clone(), name: t.name.clone() }
}

fn display(q: &QualifiedName) -> String {
    format!("{}.{}", q.schema, q.name)
}

/// Plans the filters for `tables` (the export's selection).
///
/// # Errors
/// [`Error`] when the tenant column or the tenants table cannot be found, or is ambiguous.
pub fn plan(tables: &[Table], opts: &TenantOptions) -> Result<TenantPlan, Error> {
    if !tables.iter().any(|t| t.column(&opts.column).is_some()) {
        return Err(Error::NoTenantColumn(opts.column.clone()));
    }
    let (tenants_table, key_column) = find_tenants_table(tables, opts)?;
    let paths = shortest_paths(tables, &opts.column, &tenants_table);
    let mut rules = BTreeMap::new();
    for t in tables {
        let q = qualified(t);
        let rule = if q == tenants_table {
            TableRule::TenantRow
        } else if t.column(&opts.column).is_some() {
            TableRule::TenantColumn
        } else if let Some(path) = paths.get(&q) {
            TableRule::Path(path.clone())
        } else {
            TableRule::Whole { referenced_by: referenced_by(tables, &q, &paths, &opts.column) }
        };
        rules.insert(q, rule);
    }
    let partitioned =
        tables.iter().filter(|t| t.kind == TableKind::Partitioned).map(qualified).collect();
    Ok(TenantPlan {
        column: opts.column.clone(),
        tenants_table,
        key_column,
        tables: rules,
        partitioned,
    })
}

/// The tenants table: named, or the one that the tenant columns' foreign keys reference.
fn find_tenants_table(
    tables: &[Table],
    opts: &TenantOptions,
) -> Result<(QualifiedName, String), Error> {
    if let Some(name) = &opts.table {
        let t =
            find_table(tables, name).ok_or_else(|| Error::TenantsTableNotFound(name.clone()))?;
        let key = referenced_key(tables, &opts.column, &qualified(t)).or_else(|| primary_key(t));
        let key = key.ok_or_else(|| Error::NoTenantKey { table: t.display_name() })?;
        return Ok((qualified(t), key));
    }
    let mut candidates: BTreeMap<QualifiedName, String> = BTreeMap::new();
    for t in tables {
        for fk in &t.foreign_keys {
            if fk.columns == [opts.column.clone()] {
                candidates.insert(fk.references.clone(), fk.referenced_columns[0].clone());
            }
        }
    }
    match candidates.len() {
        0 => Err(Error::NoTenantsTable { column: opts.column.clone() }),
        1 => Ok(candidates.into_iter().next().expect("one candidate")),
        _ => Err(Error::AmbiguousTenantsTable {
            column: opts.column.clone(),
            candidates: candidates.keys().map(display).collect(),
        }),
    }
}

fn find_table<'a>(tables: &'a [Table], name: &str) -> Option<&'a Table> {
    match name.split_once('.') {
        Some((schema, table)) => tables.iter().find(|t| t.schema == schema && t.name == table),
        None => tables.iter().find(|t| t.name == name),
    }
}

fn referenced_key(tables: &[Table], column: &str, target: &QualifiedName) -> Option<String> {
    tables
        .iter()
        .flat_map(|t| &t.foreign_keys)
        .find(|fk| fk.columns == [column.to_owned()] && &fk.references == target)
        .map(|fk| fk.referenced_columns[0].clone())
}

fn primary_key(t: &Table) -> Option<String> {
    match t.primary_key.as_ref().map(|k| k.columns.as_slice()) {
        Some([one]) => Some(one.clone()),
        _ => None,
    }
}

/// For every table that reaches a tenant-owned table (one with the tenant column, or the
/// tenants table) through foreign keys, the shortest chain of hops: a breadth-first search
/// from the owned tables backwards along foreign keys.
fn shortest_paths(
    tables: &[Table],
    column: &str,
    tenants: &QualifiedName,
) -> HashMap<QualifiedName, Vec<Step>> {
    let mut order: Vec<&Table> = tables.iter().collect();
    order.sort_by_key(|t| qualified(t));
    let mut paths: HashMap<QualifiedName, Vec<Step>> = HashMap::new();
    let mut queue: VecDeque<QualifiedName> = VecDeque::new();
    for t in &order {
        if t.column(column).is_some() || &qualified(t) == tenants {
            paths.insert(qualified(t), Vec::new());
            queue.push_back(qualified(t));
        }
    }
    while let Some(owned) = queue.pop_front() {
        for t in &order {
            let q = qualified(t);
            if paths.contains_key(&q) {
                continue;
            }
            let mut fks: Vec<&ForeignKey> =
                t.foreign_keys.iter().filter(|fk| fk.references == owned).collect();
            fks.sort_by(|a, b| a.name.cmp(&b.name));
            if let Some(fk) = fks.first() {
                let mut path = vec![step(&q, fk)];
                path.extend(paths[&owned].iter().cloned());
                paths.insert(q.clone(), path);
                queue.push_back(q);
            }
        }
    }
    paths.retain(|_, p| !p.is_empty());
    paths
}

fn step(from: &QualifiedName, fk: &ForeignKey) -> Step {
    Step {
        from: from.clone(),
        columns: fk.columns.clone(),
        to: fk.references.clone(),
        to_columns: fk.referenced_columns.clone(),
    }
}

/// Tenant-owned tables whose foreign keys point at `target`.
fn referenced_by(
    tables: &[Table],
    target: &QualifiedName,
    paths: &HashMap<QualifiedName, Vec<Step>>,
    column: &str,
) -> Vec<String> {
    tables
        .iter()
        .filter(|t| t.column(column).is_some() || paths.contains_key(&qualified(t)))
        .filter(|t| t.foreign_keys.iter().any(|fk| &fk.references == target))
        .map(Table::display_name)
        .collect()
}

/// Checks that `column` identifies at most one row of the tenants table: the primary key or
/// a single-column unique constraint or unique index without predicate.
///
/// # Errors
/// [`Error::KeyNotUnique`] listing the columns that would do.
pub fn check_unique_key(tenants: &Table, column: &str) -> Result<(), Error> {
    let unique = unique_columns(tenants);
    if unique.iter().any(|c| c == column) {
        return Ok(());
    }
    Err(Error::KeyNotUnique { table: tenants.display_name(), column: column.into(), unique })
}

fn unique_columns(t: &Table) -> Vec<String> {
    let keys = t.primary_key.iter().chain(&t.unique).map(|k| k.columns.as_slice());
    let indexes = t.indexes.iter().filter(|i| i.unique && i.predicate.is_none()).filter_map(|i| {
        match i.columns.as_slice() {
            [one] => one.column.as_ref().map(std::slice::from_ref),
            _ => None,
        }
    });
    let mut out: Vec<String> = keys
        .chain(indexes)
        .filter_map(|cols| match cols {
            [one] => Some(one.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl TenantPlan {
    /// The rule for a table, `Whole` when the table is unknown to the plan.
    pub fn rule(&self, t: &Table) -> &TableRule {
        static WHOLE: TableRule = TableRule::Whole { referenced_by: Vec::new() };
        self.tables.get(&qualified(t)).unwrap_or(&WHOLE)
    }

    /// The `WHERE` condition (on alias `t0`) for a table, given the tenant's key value, or
    /// `None` for a table exported whole. The value goes in as a quoted literal because
    /// `COPY` takes no parameters; Postgres coerces it to the column's type.
    pub fn condition(&self, t: &Table, value: &str) -> Option<String> {
        let literal = quote_literal(value);
        match self.rule(t) {
            TableRule::TenantRow => {
                Some(format!("t0.{} = {literal}", quote_ident(&self.key_column)))
            }
            TableRule::TenantColumn => {
                Some(format!("t0.{} = {literal}", quote_ident(&self.column)))
            }
            TableRule::Path(steps) => Some(self.path_condition(steps, 0, &literal)),
            TableRule::Whole { .. } => None,
        }
    }

    /// `EXISTS (SELECT 1 FROM next AS t1 WHERE t1.k = t0.fk AND <next's own condition>)`,
    /// nested hop by hop; the last table on the path is tenant-owned.
    fn path_condition(&self, steps: &[Step], depth: usize, literal: &str) -> String {
        let Some((first, rest)) = steps.split_first() else {
            return "true".to_owned();
        };
        let (here, next) = (format!("t{depth}"), format!("t{}", depth + 1));
        let joins: Vec<String> = first
            .columns
            .iter()
            .zip(&first.to_columns)
            .map(|(c, r)| format!("{next}.{} = {here}.{}", quote_ident(r), quote_ident(c)))
            .collect();
        let own = match rest {
            [] if first.to == self.tenants_table => {
                format!("{next}.{} = {literal}", quote_ident(&self.key_column))
            }
            [] => format!("{next}.{} = {literal}", quote_ident(&self.column)),
            _ => self.path_condition(rest, depth + 1, literal),
        };
        let only = if self.partitioned.contains(&first.to) { "" } else { "ONLY " };
        format!(
            "EXISTS (SELECT 1 FROM {only}{} AS {next} WHERE {} AND {own})",
            quote_qualified(&first.to.schema, &first.to.name),
            joins.join(" AND ")
        )
    }

    /// The filter recorded in the manifest for a table.
    pub fn manifest_filter(&self, t: &Table, condition: Option<&str>) -> Filter {
        match (self.rule(t), condition) {
            (TableRule::TenantRow, _) => {
                Filter::TenantRow { columns: vec![self.key_column.clone()] }
            }
            (TableRule::TenantColumn, _) => Filter::TenantColumn { column: self.column.clone() },
            (TableRule::Path(steps), Some(c)) => Filter::Path {
                path: steps.iter().map(Step::to_hop).collect(),
                condition: c.to_owned(),
            },
            _ => Filter::Whole,
        }
    }

    /// A line per table for plans and dry runs: how its rows are chosen.
    pub fn describe(&self, t: &Table) -> String {
        match self.rule(t) {
            TableRule::TenantRow => {
                format!("only the tenant's own row ({} = tenant)", self.key_column)
            }
            TableRule::TenantColumn => format!("rows where {} = tenant", self.column),
            TableRule::Path(path) => {
                let steps: Vec<String> = path
                    .iter()
                    .map(|h| {
                        let (from, to) = (display(&h.from), display(&h.to));
                        format!(
                            "{from}({}) -> {to}({})",
                            h.columns.join(", "),
                            h.to_columns.join(", ")
                        )
                    })
                    .collect();
                format!(
                    "through {}; rows with a NULL on the way belong to no one and are left out",
                    steps.join(", ")
                )
            }
            TableRule::Whole { referenced_by } if referenced_by.is_empty() => {
                "whole (no path to the tenant: a shared lookup table)".to_owned()
            }
            TableRule::Whole { referenced_by } => format!(
                "whole (no path to the tenant) but referenced by tenant-owned {}: if it holds \
                 per-tenant rows, leave it out with --exclude",
                referenced_by.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, KeyConstraint, PgType, TypeKind};

    fn col(name: &str) -> Column {
        Column {
            name: name.into(),
            ty: PgType {
                name: "integer".into(),
                domain: None,
                kind: TypeKind::Base { base: "int4".into(), precision: None, scale: None },
            },
            nullable: true,
            default: None,
            identity: None,
            generated: None,
        }
    }

    fn q(name: &str) -> QualifiedName {
        QualifiedName { schema: "public".into(), name: name.into() }
    }

    /// `table("clients", &["id", "user_id"], &[("user_id", "users", "id")])`
    fn table(name: &str, cols: &[&str], fks: &[(&str, &str, &str)]) -> Table {
        Table {
            primary_key: Some(KeyConstraint {
                name: format!("{name}_pkey"),
                columns: vec![cols[0].into()],
            }),
            unique: vec![],
            foreign_keys: fks
                .iter()
                .map(|(c, t, r)| ForeignKey {
                    name: format!("{name}_{c}_fkey"),
                    columns: c.split(',').map(str::to_owned).collect(),
                    references: q(t),
                    referenced_columns: r.split(',').map(str::to_owned).collect(),
                    on_update: crate::catalog::FkAction::NoAction,
                    on_delete: crate::catalog::FkAction::NoAction,
                    deferrable: false,
                    initially_deferred: false,
                    definition: String::new(),
                })
                .collect(),
            ..Table::new("public", name, cols.iter().map(|c| col(c)).collect())
        }
    }

    fn sample() -> Vec<Table> {
        vec![
            table("users", &["id", "email"], &[]),
            table(
                "clients",
                &["id", "user_id", "country_id"],
                &[("user_id", "users", "id"), ("country_id", "countries", "id")],
            ),
            table("birth_data", &["id", "client_id"], &[("client_id", "clients", "id")]),
            table("places", &["id", "birth_id"], &[("birth_id", "birth_data", "id")]),
            table("countries", &["id", "name"], &[]),
            table("location_cache", &["id", "place"], &[]),
        ]
    }

    fn opts() -> TenantOptions {
        TenantOptions {
            column: "user_id".into(),
            tenant: TenantRef::Value("7".into()),
            table: None,
        }
    }

    #[test]
    fn each_table_gets_the_rule_its_relation_to_the_tenant_implies() {
        let tables = sample();
        let plan = plan(&tables, &opts()).unwrap();
        assert_eq!(plan.tenants_table, q("users"));
        assert_eq!(plan.key_column, "id");
        assert_eq!(plan.tables[&q("users")], TableRule::TenantRow);
        assert_eq!(plan.tables[&q("clients")], TableRule::TenantColumn);
        let TableRule::Path(two_hops) = &plan.tables[&q("places")] else { panic!("places") };
        assert_eq!(
            two_hops.iter().map(|s| s.to.name.as_str()).collect::<Vec<_>>(),
            ["birth_data", "clients"]
        );
        assert_eq!(plan.tables[&q("location_cache")], TableRule::Whole { referenced_by: vec![] });
        assert_eq!(
            plan.tables[&q("countries")],
            TableRule::Whole { referenced_by: vec!["public.clients".into()] }
        );
    }

    #[test]
    fn a_path_becomes_nested_exists_with_the_value_as_a_literal() {
        let tables = sample();
        let plan = plan(&tables, &opts()).unwrap();
        let places = &tables[3];
        assert_eq!(
            plan.condition(places, "7").unwrap(),
            "EXISTS (SELECT 1 FROM ONLY \"public\".\"birth_data\" AS t1 WHERE t1.\"id\" = t0.\"birth_id\" \
             AND EXISTS (SELECT 1 FROM ONLY \"public\".\"clients\" AS t2 WHERE t2.\"id\" = t1.\"client_id\" \
             AND t2.\"user_id\" = '7'))"
        );
        assert_eq!(plan.condition(&tables[0], "o'neil").unwrap(), "t0.\"id\" = 'o''neil'");
        assert_eq!(plan.condition(&tables[5], "7"), None);
    }

    #[test]
    fn composite_foreign_keys_join_on_every_column() {
        let tables = vec![
            table("users", &["id"], &[]),
            table("docs", &["id", "user_id", "ver"], &[("user_id", "users", "id")]),
            table("pages", &["id", "doc_id", "doc_ver"], &[("doc_id,doc_ver", "docs", "id,ver")]),
        ];
        let plan = plan(&tables, &opts()).unwrap();
        let cond = plan.condition(&tables[2], "1").unwrap();
        assert!(
            cond.contains("t1.\"id\" = t0.\"doc_id\" AND t1.\"ver\" = t0.\"doc_ver\""),
            "{cond}"
        );
    }

    #[test]
    fn the_tenants_table_must_be_findable_or_named() {
        let tables = vec![table("users", &["id"], &[]), table("notes", &["id", "user_id"], &[])];
        assert_eq!(
            plan(&tables, &opts()).unwrap_err(),
            Error::NoTenantsTable { column: "user_id".into() }
        );
        let named = TenantOptions { table: Some("users".into()), ..opts() };
        assert_eq!(plan(&tables, &named).unwrap().key_column, "id");
        let missing = TenantOptions { column: "owner".into(), ..opts() };
        assert!(matches!(plan(&tables, &missing), Err(Error::NoTenantColumn(_))));
    }

    #[test]
    fn two_tenants_tables_are_ambiguous() {
        let tables = vec![
            table("users", &["id"], &[]),
            table("accounts", &["id"], &[]),
            table("a", &["id", "user_id"], &[("user_id", "users", "id")]),
            table("b", &["id", "user_id"], &[("user_id", "accounts", "id")]),
        ];
        let err = plan(&tables, &opts()).unwrap_err();
        assert!(matches!(err, Error::AmbiguousTenantsTable { .. }), "{err}");
    }
}
