//! Which rows belong to one tenant, decided from the catalog alone and enforced inside
//! Postgres, so that no other tenant's row ever leaves the server.
//!
//! It fails closed: a table is exported only as far as it is provably the tenant's. Every
//! table gets one filter (recorded in the manifest as [`Filter`], typed facts only):
//! - the tenants table keeps only the tenant's own row;
//! - a table with the tenant column keeps rows where it holds the tenant's key;
//! - a table without it that reaches a tenant-owned table through foreign keys keeps rows
//!   whose referenced row is the tenant's, along the shortest such path (ties broken by table
//!   and constraint name, so the choice is stable); a NULL anywhere on the path means the row
//!   belongs to no one, and it is not exported;
//! - a table with no such path that exported rows reference (a lookup: countries, tags) keeps
//!   only the rows they reference, following foreign keys upward to closure (a lookup that a
//!   lookup references keeps the rows the kept rows reference);
//! - a table matched by `--whole-table` (reference data) is exported whole;
//! - every other table is left out (its file is empty), and the plan names it: it has no
//!   path to the tenant, so it may hold anyone's rows (sessions, notes keyed by e-mail).
//!
//! The SQL of each filter is built from those facts by [`crate::pg::filter`], the builder
//! that `validate --source` uses too.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::model::catalog::{ForeignKey, QualifiedName, Table};
use crate::model::manifest::{Filter, Hop};
use crate::model::select::Pattern;
use crate::pg::filter::{Bind, Builder, Mismatch};

/// Who the tenant is, as the user named them.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantOptions {
    /// The column that marks a tenant's rows (`user_id`, `tenant_id`, ...).
    pub column: String,
    /// Which tenant: `--tenant VALUE` or `--tenant-key COLUMN=VALUE`.
    pub tenant: TenantRef,
    /// The tenants table, `name` or `schema.name`, when it cannot be found from foreign keys.
    pub table: Option<String>,
    /// `--whole-table` patterns (as `--table`): tables without a path to the tenant that are
    /// exported whole, such as a country list.
    pub whole_tables: Vec<String>,
}

/// How the user named the tenant.
#[derive(Debug, Clone, PartialEq)]
pub enum TenantRef {
    /// The tenant column's value itself.
    Value(String),
    /// A unique column of the tenants table and its value (`email=alice@example.com`).
    Key {
        /// The tenants table's column, which must be unique there.
        column: String,
        /// Its value as the user typed it; Postgres converts it to the column's type.
        value: String,
    },
}

/// Why the tenant's rows cannot be decided; every case is a usage error the message says how
/// to fix.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Error {
    #[error(
        "no table has the tenant column {0:?}; check the name (--tenant-column) or the \
         --schema/--table selection"
    )]
    /// No selected table has the tenant column (the column name as given).
    NoTenantColumn(String),
    /// No foreign key from a tenant column points to a tenants table, and none was named.
    #[error(
        "cannot tell which table holds the tenants: no foreign key on a {column:?} column \
         references one; name it with --tenant-table"
    )]
    NoTenantsTable {
        /// The tenant column.
        column: String,
    },
    /// Tenant columns reference more than one table, so the tenants table must be named.
    #[error(
        "the {column:?} columns reference different tables ({}); name the tenants table with \
         --tenant-table", candidates.join(", ")
    )]
    AmbiguousTenantsTable {
        /// The tenant column.
        column: String,
        /// The referenced tables (`schema.name`), sorted.
        candidates: Vec<String>,
    },
    /// `--tenant-table` names no selected table (the name as given).
    #[error("--tenant-table {0:?} is not among the exported tables")]
    TenantsTableNotFound(String),
    /// The `--tenant-table` given is not referenced by a tenant column's foreign key and has
    /// no primary key, so it is unknown which of its columns the tenant column holds.
    #[error(
        "the tenants table {table} has no primary key or single-column unique key to identify a \
         tenant by; name the key with --tenant-key COLUMN=VALUE"
    )]
    NoTenantKey {
        /// The tenants table, `schema.name`.
        table: String,
    },
    /// The `--tenant-key` column could match several tenants.
    #[error(
        "--tenant-key column {column:?} is not a unique column of the tenants table {table}; \
         use one of: {}", unique.join(", ")
    )]
    KeyNotUnique {
        /// The tenants table, `schema.name`.
        table: String,
        /// The column given.
        column: String,
        /// The columns that would do: single-column keys and unique indexes without predicate.
        unique: Vec<String>,
    },
    #[error("no tenant in {table} has {column} = {value:?}; check the value")]
    /// No row of the tenants table has the given key: exporting would yield an empty export.
    TenantNotFound {
        /// The tenants table, `schema.name`.
        table: String,
        /// The key column searched.
        column: String,
        /// The value as given.
        value: String,
    },
    #[error(
        "--whole-table {0:?} matches no exported table without a path to the tenant (tables \
         with one are filtered by tenant, whatever --whole-table says)"
    )]
    /// A `--whole-table` pattern (as given) matches no table it could apply to.
    WholeTableNotFound(String),
    /// Lookup tables reference each other in a cycle, so "the rows exported rows reference"
    /// has no starting point.
    #[error(
        "{} reference each other (or themselves) and have no path to the tenant, so pg2lite \
         cannot tell which of their rows are the tenant's; export them whole with \
         --whole-table, or leave them out with --exclude", tables.join(", ")
    )]
    LookupCycle {
        /// The tables left undecided (`schema.name`, sorted): the cycle, and lookups that only
        /// its rows reference.
        tables: Vec<String>,
    },
    /// A planned filter could not be built against the catalog.
    #[error(transparent)]
    Filter(#[from] Mismatch),
}

/// How each table will be filtered, before the tenant's key value is known.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantPlan {
    /// The tenant column, as given.
    pub column: String,
    /// The table whose rows are the tenants (found from foreign keys, or `--tenant-table`).
    pub tenants_table: QualifiedName,
    /// The tenants table's column that the tenant column holds (its key).
    pub key_column: String,
    /// Every selected table's filter.
    pub tables: BTreeMap<QualifiedName, Filter>,
    /// The selected tables, which the filters are built against.
    selection: Vec<Table>,
}

fn display(q: &QualifiedName) -> String {
    format!("{}.{}", q.schema, q.name)
}

/// Plans the filters for `tables` (the export's selection).
///
/// # Errors
/// [`Error`] when the tenant column or the tenants table cannot be found, or is ambiguous; a
/// `--whole-table` pattern that matches nothing it could apply to; lookups in a cycle.
pub fn plan(tables: &[Table], opts: &TenantOptions) -> Result<TenantPlan, Error> {
    if !tables.iter().any(|t| t.column(&opts.column).is_some()) {
        return Err(Error::NoTenantColumn(opts.column.clone()));
    }
    let (tenants_table, key_column) = find_tenants_table(tables, opts)?;
    let paths = shortest_paths(tables, &opts.column, &tenants_table);
    let mut rules = BTreeMap::new();
    for t in tables {
        let q = t.qualified_name();
        let rule = if q == tenants_table {
            Filter::TenantRow { columns: vec![key_column.clone()] }
        } else if t.column(&opts.column).is_some() {
            Filter::TenantColumn { column: opts.column.clone() }
        } else if let Some(path) = paths.get(&q) {
            Filter::Path { path: path.clone() }
        } else {
            Filter::LeftOut
        };
        rules.insert(q, rule);
    }
    apply_whole_tables(&mut rules, tables, &opts.whole_tables)?;
    add_lookups(&mut rules, tables);
    check_lookup_cycles(&rules)?;
    Ok(TenantPlan {
        column: opts.column.clone(),
        tenants_table,
        key_column,
        tables: rules,
        selection: tables.to_vec(),
    })
}

/// Marks the tables without a path that a `--whole-table` pattern matches.
fn apply_whole_tables(
    rules: &mut BTreeMap<QualifiedName, Filter>,
    tables: &[Table],
    patterns: &[String],
) -> Result<(), Error> {
    for text in patterns {
        let pattern = Pattern::parse(text);
        let mut matched = false;
        for t in tables.iter().filter(|t| pattern.matches(t)) {
            let rule = rules.get_mut(&t.qualified_name());
            if let Some(rule @ Filter::LeftOut) = rule {
                *rule = Filter::WholeTable;
                matched = true;
            } else if rule.is_some_and(|r| *r == Filter::WholeTable) {
                matched = true;
            }
        }
        if !matched {
            return Err(Error::WholeTableNotFound(text.clone()));
        }
    }
    Ok(())
}

/// Whether a table's rows are exported by a rule that does not depend on other lookups'.
fn exported(rule: &Filter) -> bool {
    !matches!(rule, Filter::LeftOut)
}

/// Turns left-out tables that exported rows reference into lookups, until nothing changes:
/// each gets a hop per foreign key that points at it from an exported table.
fn add_lookups(rules: &mut BTreeMap<QualifiedName, Filter>, tables: &[Table]) {
    let mut order: Vec<&Table> = tables.iter().collect();
    order.sort_by_key(|t| t.qualified_name());
    let mut queue: VecDeque<QualifiedName> =
        rules.iter().filter(|(_, r)| exported(r)).map(|(q, _)| q.clone()).collect();
    while let Some(source) = queue.pop_front() {
        let Some(t) = order.iter().find(|t| t.qualified_name() == source) else { continue };
        let mut fks: Vec<&ForeignKey> = t.foreign_keys.iter().collect();
        fks.sort_by(|a, b| a.name.cmp(&b.name));
        for fk in fks {
            let hop = step(&source, fk);
            match rules.get_mut(&fk.references) {
                Some(rule @ Filter::LeftOut) => {
                    *rule = Filter::Lookup { referenced_by: vec![hop] };
                    queue.push_back(fk.references.clone());
                }
                Some(Filter::Lookup { referenced_by }) if !referenced_by.contains(&hop) => {
                    referenced_by.push(hop);
                }
                _ => {}
            }
        }
    }
}

/// Refuses lookups that reference each other in a cycle (a self-reference included): which
/// of their rows the tenant's rows need cannot be said by a fixed condition.
fn check_lookup_cycles(rules: &BTreeMap<QualifiedName, Filter>) -> Result<(), Error> {
    let sources = |q: &QualifiedName| -> Vec<QualifiedName> {
        match rules.get(q) {
            Some(Filter::Lookup { referenced_by }) => referenced_by
                .iter()
                .filter(|h| matches!(rules.get(&h.from), Some(Filter::Lookup { .. })))
                .map(|h| h.from.clone())
                .collect(),
            _ => Vec::new(),
        }
    };
    // Repeatedly drop lookups none of whose sources is a remaining lookup; what stays is on
    // or behind a cycle.
    let mut left: BTreeSet<QualifiedName> = rules
        .iter()
        .filter(|(_, r)| matches!(r, Filter::Lookup { .. }))
        .map(|(q, _)| q.clone())
        .collect();
    loop {
        let done: Vec<QualifiedName> =
            left.iter().filter(|q| sources(q).iter().all(|s| !left.contains(s))).cloned().collect();
        if done.is_empty() {
            break;
        }
        for q in &done {
            left.remove(q);
        }
    }
    if left.is_empty() {
        return Ok(());
    }
    Err(Error::LookupCycle { tables: left.iter().map(display).collect() })
}

/// The tenants table: named, or the one that the tenant columns' foreign keys reference.
fn find_tenants_table(
    tables: &[Table],
    opts: &TenantOptions,
) -> Result<(QualifiedName, String), Error> {
    if let Some(name) = &opts.table {
        let t =
            find_table(tables, name).ok_or_else(|| Error::TenantsTableNotFound(name.clone()))?;
        let key =
            referenced_key(tables, &opts.column, &t.qualified_name()).or_else(|| primary_key(t));
        let key = key.ok_or_else(|| Error::NoTenantKey { table: t.display_name() })?;
        return Ok((t.qualified_name(), key));
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
) -> HashMap<QualifiedName, Vec<Hop>> {
    let mut order: Vec<&Table> = tables.iter().collect();
    order.sort_by_key(|t| t.qualified_name());
    let mut paths: HashMap<QualifiedName, Vec<Hop>> = HashMap::new();
    let mut queue: VecDeque<QualifiedName> = VecDeque::new();
    for t in &order {
        if t.column(column).is_some() || &t.qualified_name() == tenants {
            paths.insert(t.qualified_name(), Vec::new());
            queue.push_back(t.qualified_name());
        }
    }
    while let Some(owned) = queue.pop_front() {
        for t in &order {
            let q = t.qualified_name();
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

fn step(from: &QualifiedName, fk: &ForeignKey) -> Hop {
    Hop {
        from: from.clone(),
        columns: fk.columns.clone(),
        to: fk.references.clone(),
        to_columns: fk.referenced_columns.clone(),
    }
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
    /// The filter of a table, [`Filter::LeftOut`] when the table is unknown to the plan.
    pub fn rule(&self, t: &Table) -> &Filter {
        static LEFT_OUT: Filter = Filter::LeftOut;
        self.tables.get(&t.qualified_name()).unwrap_or(&LEFT_OUT)
    }

    /// The `WHERE` condition (on alias `t0`) for a table, given the tenant's key value, or
    /// `None` for a table exported whole. The value goes in as a quoted literal because
    /// `COPY` takes no parameters; Postgres reads it with the column's type.
    ///
    /// # Errors
    /// [`Mismatch`] when the plan does not fit its own catalog (a bug, not an input).
    pub fn condition(&self, t: &Table, value: &str) -> Result<Option<String>, Mismatch> {
        let filters = self.tables.iter().map(|(q, f)| (q.clone(), f));
        Builder::new(&self.selection, filters, Bind::Literal(value)).condition(&t.qualified_name())
    }

    /// Who owns each row of a table, for reading every tenant's rows at once
    /// ([`crate::pg::filter::Owned`]).
    ///
    /// # Errors
    /// [`Mismatch`] when the plan does not fit its own catalog (a bug, not an input), or a
    /// table has a column named [`crate::pg::filter::OWNER`].
    pub fn owned(&self, t: &Table) -> Result<crate::pg::filter::Owned, Mismatch> {
        let filters = self.tables.iter().map(|(q, f)| (q.clone(), f));
        Builder::new(&self.selection, filters, Bind::Params).owned(
            &t.qualified_name(),
            &self.tenants_table,
            &self.key_column,
        )
    }

    /// The filter recorded in the manifest for a table.
    pub fn manifest_filter(&self, t: &Table) -> Filter {
        self.rule(t).clone()
    }

    /// The tables left out, by name.
    pub fn left_out(&self) -> Vec<String> {
        self.named(|f| *f == Filter::LeftOut)
    }

    /// The tables `--whole-table` brought in whole, by name.
    pub fn whole_tables(&self) -> Vec<String> {
        self.named(|f| *f == Filter::WholeTable)
    }

    fn named(&self, which: impl Fn(&Filter) -> bool) -> Vec<String> {
        self.tables.iter().filter(|(_, f)| which(f)).map(|(q, _)| display(q)).collect()
    }

    /// A line per table for plans and dry runs: how its rows are chosen.
    pub fn describe(&self, t: &Table) -> String {
        match self.rule(t) {
            Filter::TenantRow { .. } => {
                format!("only the tenant's own row ({} = tenant)", self.key_column)
            }
            Filter::TenantColumn { .. } => format!("rows where {} = tenant", self.column),
            Filter::Path { path } => format!(
                "through {}; rows with a NULL on the way belong to no one and are left out",
                hops(path)
            ),
            Filter::Lookup { referenced_by } => format!(
                "lookup: only the rows that exported rows reference, through {}",
                hops(referenced_by)
            ),
            Filter::WholeTable => "whole (--whole-table)".to_owned(),
            Filter::LeftOut | Filter::Whole => "left out: no path to the tenant and no exported \
                row references it, so it may hold other tenants' data (shared reference data: \
                --whole-table)"
                .to_owned(),
        }
    }
}

fn hops(path: &[Hop]) -> String {
    let steps: Vec<String> = path
        .iter()
        .map(|h| {
            format!(
                "{}({}) -> {}({})",
                display(&h.from),
                h.columns.join(", "),
                display(&h.to),
                h.to_columns.join(", ")
            )
        })
        .collect();
    steps.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::{Column, KeyConstraint, PgType, TypeKind};

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
                    on_update: crate::model::catalog::FkAction::NoAction,
                    on_delete: crate::model::catalog::FkAction::NoAction,
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
            whole_tables: vec![],
        }
    }

    fn hop_names(path: &[Hop]) -> Vec<&str> {
        path.iter().map(|s| s.to.name.as_str()).collect()
    }

    #[test]
    fn each_table_gets_the_rule_its_relation_to_the_tenant_implies() {
        let tables = sample();
        let plan = plan(&tables, &opts()).unwrap();
        assert_eq!(plan.tenants_table, q("users"));
        assert_eq!(plan.key_column, "id");
        assert_eq!(plan.tables[&q("users")], Filter::TenantRow { columns: vec!["id".into()] });
        assert_eq!(plan.tables[&q("clients")], Filter::TenantColumn { column: "user_id".into() });
        let Filter::Path { path } = &plan.tables[&q("places")] else { panic!("places") };
        assert_eq!(hop_names(path), ["birth_data", "clients"]);
        assert_eq!(plan.tables[&q("location_cache")], Filter::LeftOut);
        let Filter::Lookup { referenced_by } = &plan.tables[&q("countries")] else {
            panic!("countries is a lookup: {:?}", plan.tables[&q("countries")])
        };
        assert_eq!(referenced_by.len(), 1);
        assert_eq!(referenced_by[0].from, q("clients"));
        assert_eq!(plan.left_out(), ["public.location_cache"]);
    }

    #[test]
    fn lookups_follow_foreign_keys_upward_to_closure_and_whole_tables_are_opted_in() {
        let mut tables = sample();
        tables[4] = table("countries", &["id", "region_id"], &[("region_id", "regions", "id")]);
        tables.push(table("regions", &["id"], &[]));
        tables.push(table("planets", &["id"], &[]));
        let plan = plan(&tables, &opts()).unwrap();
        let Filter::Lookup { referenced_by } = &plan.tables[&q("regions")] else { panic!() };
        assert_eq!(referenced_by[0].from, q("countries"));
        let cond = plan.condition(&tables[6], "7").unwrap().unwrap();
        assert!(
            cond.contains("\"public\".\"countries\" AS t1")
                && cond.contains("t2.\"user_id\" = '7'"),
            "{cond}"
        );
        let whole =
            TenantOptions { whole_tables: vec!["planets".into(), "countries".into()], ..opts() };
        let plan = super::plan(&tables, &whole).unwrap();
        assert_eq!(plan.tables[&q("planets")], Filter::WholeTable);
        assert_eq!(plan.tables[&q("countries")], Filter::WholeTable);
        assert_eq!(plan.whole_tables(), ["public.countries", "public.planets"]);
        let none = TenantOptions { whole_tables: vec!["clients".into()], ..opts() };
        assert_eq!(
            super::plan(&tables, &none).unwrap_err(),
            Error::WholeTableNotFound("clients".into())
        );
    }

    #[test]
    fn a_lookup_that_references_itself_is_refused_naming_it() {
        let mut tables = sample();
        tables[4] = table("countries", &["id", "parent_id"], &[("parent_id", "countries", "id")]);
        let err = plan(&tables, &opts()).unwrap_err();
        assert_eq!(err, Error::LookupCycle { tables: vec!["public.countries".into()] });
        let whole = TenantOptions { whole_tables: vec!["countries".into()], ..opts() };
        assert!(super::plan(&tables, &whole).is_ok());
    }

    #[test]
    fn a_path_becomes_nested_exists_with_the_value_as_a_literal() {
        let tables = sample();
        let plan = plan(&tables, &opts()).unwrap();
        let places = &tables[3];
        assert_eq!(
            plan.condition(places, "7").unwrap().unwrap(),
            "EXISTS (SELECT 1 FROM ONLY \"public\".\"birth_data\" AS t1 WHERE t1.\"id\" = t0.\"birth_id\" \
             AND EXISTS (SELECT 1 FROM ONLY \"public\".\"clients\" AS t2 WHERE t2.\"id\" = t1.\"client_id\" \
             AND t2.\"user_id\" = '7'))"
        );
        assert_eq!(plan.condition(&tables[0], "o'neil").unwrap().unwrap(), "t0.\"id\" = 'o''neil'");
        assert_eq!(plan.condition(&tables[5], "7").unwrap().unwrap(), "false");
    }

    #[test]
    fn composite_foreign_keys_join_on_every_column() {
        let tables = vec![
            table("users", &["id"], &[]),
            table("docs", &["id", "user_id", "ver"], &[("user_id", "users", "id")]),
            table("pages", &["id", "doc_id", "doc_ver"], &[("doc_id,doc_ver", "docs", "id,ver")]),
        ];
        let plan = plan(&tables, &opts()).unwrap();
        let cond = plan.condition(&tables[2], "1").unwrap().unwrap();
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
