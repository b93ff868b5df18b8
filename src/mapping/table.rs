//! One table's plan: column types and conversions, defaults, keys, foreign keys, checks and
//! indexes, with tenancy stripped. Works in two passes, because a foreign key needs to know
//! its parent: [`prepare`] names every table and column and finds the keys SQLite will hold;
//! [`Planner::draft`] then builds each table.

use std::collections::{BTreeSet, HashMap};

use super::defaults::{self, Outcome};
use super::expr::{self, Class, Scope, ScopeColumn};
use super::names::{self, Fix, Named, Renames, pg_ident, pg_qualified, quote_ident, quote_literal};
use super::{
    ColumnPlan, DatetimePolicy, DroppedColumn, LoadInfo, Note, NumericPolicy, Options, TablePlan,
    numeric,
};
use crate::mapping::{Conversion, NumericTarget, TimeForm};
use crate::model::catalog::{Column, ForeignKey, Index, PgType, QualifiedName, Table, TypeKind};

/// The time type a column of type `ty` holds, if any (`--datetime sqlite` rewrites these).
fn time_form(ty: &PgType) -> Option<TimeForm> {
    match ty.base()? {
        "timestamp" => Some(TimeForm::Timestamp),
        "timestamptz" => Some(TimeForm::TimestampTz),
        "date" => Some(TimeForm::Date),
        "time" => Some(TimeForm::Time),
        "timetz" | "interval" => Some(TimeForm::Opaque),
        _ => None,
    }
}

/// How a column of type `ty` is stored, under `--numeric policy` (DESIGN's mapping table).
pub(super) fn conversion(ty: &PgType, policy: NumericPolicy) -> Conversion {
    match &ty.kind {
        TypeKind::Array { .. } | TypeKind::Composite { .. } => Conversion::Structured,
        TypeKind::Enum { .. } => Conversion::Text,
        TypeKind::Base { base, precision, scale } => match base.as_str() {
            "int2" | "int4" | "int8" | "oid" => Conversion::Integer,
            "bool" => Conversion::Boolean,
            "float4" | "float8" => Conversion::Float,
            "numeric" => Conversion::Numeric(numeric_target(policy, *precision, *scale)),
            // Exported as its numeric value; its precision is not in the type.
            "money" => Conversion::Numeric(numeric_target(policy, None, None)),
            "json" | "jsonb" => Conversion::Json,
            "bytea" => Conversion::Bytea,
            _ => Conversion::Text,
        },
    }
}

/// `--numeric auto`: INTEGER when scale ≤ 0 and precision − scale ≤ 18 (every such value
/// fits 64 bits); REAL when precision ≤ 15 (every such value survives a double exactly);
/// else TEXT, unconstrained numeric included.
fn numeric_target(
    policy: NumericPolicy,
    precision: Option<u32>,
    scale: Option<i32>,
) -> NumericTarget {
    match (policy, precision, scale) {
        (NumericPolicy::Text, ..) => NumericTarget::Text,
        (NumericPolicy::Real, ..) => NumericTarget::Real,
        (NumericPolicy::Auto, Some(p), Some(s)) if s <= 0 && i64::from(p) - i64::from(s) <= 18 => {
            NumericTarget::Integer
        }
        (NumericPolicy::Auto, Some(p), _) if p <= 15 => NumericTarget::Real,
        (NumericPolicy::Auto, ..) => NumericTarget::Text,
    }
}

/// What every table needs to know of every other: names, stripped column, unique keys.
#[derive(Debug)]
pub(super) struct Prepared {
    pub name: String,
    /// The SQLite name of each source column, `None` for the stripped tenant column.
    pub columns: Vec<Option<String>>,
    /// Whether this is the tenants table of `--strip-tenancy`.
    pub tenants: bool,
    /// Column sets unique in SQLite (source names): the primary key, unique constraints and
    /// plain unique indexes, with the tenant column taken out.
    pub keys: Vec<KeySet>,
    /// The column that becomes the `INTEGER PRIMARY KEY`.
    pub rowid: Option<usize>,
}

#[derive(Debug)]
pub(super) struct KeySet {
    pub columns: BTreeSet<String>,
}

impl Prepared {
    fn stripped(&self, t: &Table, column: &str) -> bool {
        t.columns.iter().position(|c| c.name == column).is_some_and(|i| self.columns[i].is_none())
    }

    fn sqlite_column(&self, t: &Table, column: &str) -> Option<&str> {
        let i = t.columns.iter().position(|c| c.name == column)?;
        self.columns[i].as_deref()
    }
}

pub(super) fn prepare(tables: &[Table], opts: &Options<'_>, renames: &Renames) -> Vec<Prepared> {
    tables.iter().map(|t| prepare_one(t, opts, renames)).collect()
}

fn is_tenants(t: &Table, opts: &Options<'_>) -> bool {
    let q = opts.strip.as_ref().and_then(|s| s.tenants.as_ref());
    q.is_some_and(|q| q.schema == t.schema && q.name == t.name)
}

fn prepare_one(t: &Table, opts: &Options<'_>, renames: &Renames) -> Prepared {
    let tenants = is_tenants(t, opts);
    let strip_col = opts.strip.as_ref().filter(|_| !tenants).map(|s| s.tenant_column.as_str());
    let columns: Vec<Option<String>> = t
        .columns
        .iter()
        .map(|c| {
            (Some(c.name.as_str()) != strip_col)
                .then(|| renames.column(t, &c.name).unwrap_or(&c.name).to_owned())
        })
        .collect();
    let name = match &opts.strip {
        Some(s) if tenants => s.table_as.clone(),
        _ => names::table_name(t, renames),
    };
    let keep = |cols: &[String]| -> BTreeSet<String> {
        cols.iter().filter(|c| Some(c.as_str()) != strip_col).cloned().collect()
    };
    let mut keys = Vec::new();
    for k in t.primary_key.iter().chain(&t.unique) {
        keys.push(KeySet { columns: keep(&k.columns) });
    }
    for i in t.indexes.iter().filter(|i| plain_unique(i)) {
        let cols: Vec<String> = i.columns.iter().filter_map(|c| c.column.clone()).collect();
        keys.push(KeySet { columns: keep(&cols) });
    }
    keys.retain(|k| !k.columns.is_empty());
    let rowid = rowid_column(t, &keep, opts.flags.numeric);
    Prepared { name, columns, tenants, keys, rowid }
}

/// A unique b-tree index on plain columns, without predicate, not behind a constraint: one
/// that can be a foreign key's target.
fn plain_unique(i: &Index) -> bool {
    i.unique
        && !i.primary
        && i.constraint.is_none()
        && i.method == "btree"
        && i.predicate.is_none()
        && i.columns.iter().all(|c| c.column.is_some())
}

/// A primary key of one integer column becomes SQLite's `INTEGER PRIMARY KEY` (the rowid):
/// serial and identity keys so new rows continue after the largest id, and plain integer keys
/// too, since the rowid holds exactly the int8 range and the key is then stored once.
fn rowid_column(
    t: &Table,
    keep: &dyn Fn(&[String]) -> BTreeSet<String>,
    n: NumericPolicy,
) -> Option<usize> {
    let pk = keep(&t.primary_key.as_ref()?.columns);
    let [only] = pk.iter().collect::<Vec<_>>()[..] else {
        return None;
    };
    let i = t.columns.iter().position(|c| &c.name == only)?;
    (conversion(&t.columns[i].ty, n) == Conversion::Integer).then_some(i)
}

/// A table as planned, before load order is known.
pub(super) struct Draft {
    pub plan: TablePlan,
    /// Indexes of the tables it references (itself included).
    pub deps: Vec<usize>,
    /// The table's objects that take names in SQLite's database-wide namespace.
    pub index_names: Vec<Named>,
}

pub(super) struct Planner<'a> {
    tables: &'a [Table],
    prep: &'a [Prepared],
    opts: &'a Options<'a>,
    renames: &'a Renames,
    by_name: HashMap<(&'a str, &'a str), usize>,
}

/// A foreign key that survives, in SQLite names.
struct Fk<'a> {
    parent: usize,
    columns: Vec<String>,
    parent_columns: Vec<String>,
    source: &'a ForeignKey,
}

/// The columns of a table being drafted.
#[derive(Default)]
struct Columns {
    plans: Vec<ColumnPlan>,
    lines: Vec<String>,
    dropped: Vec<DroppedColumn>,
    scope: Vec<ScopeColumn>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(
        tables: &'a [Table],
        prep: &'a [Prepared],
        opts: &'a Options<'a>,
        renames: &'a Renames,
    ) -> Self {
        let by_name = tables
            .iter()
            .enumerate()
            .map(|(i, t)| ((t.schema.as_str(), t.name.as_str()), i))
            .collect();
        Planner { tables, prep, opts, renames, by_name }
    }

    fn note(&self, i: usize, object: Option<String>, what: String, why: String) -> Note {
        let t = &self.tables[i];
        let table = pg_qualified(&t.qualified_name());
        let why = shown(&why).into_owned();
        Note { table, object, what, why }
    }

    /// Plans table `i`.
    ///
    /// # Errors
    /// `Err(why)` when the table cannot exist in SQLite (it has no columns left).
    pub(super) fn draft(&self, i: usize, notes: &mut Vec<Note>) -> Result<Draft, String> {
        let t = &self.tables[i];
        let cols = self.columns(i, notes);
        if cols.plans.is_empty() {
            return Err("it has no columns (SQLite tables need at least one)".into());
        }
        let scope = Scope { columns: &cols.scope };
        let mut lines = cols.lines;
        let (key_lines, unique) = self.keys(i, notes);
        lines.extend(key_lines);
        lines.extend(self.checks(i, &scope, notes));
        let (fk_lines, deps) = self.foreign_keys(i, notes);
        lines.extend(fk_lines);
        let (indexes, more_names) = self.indexes(i, &scope, notes);
        let (mut create_indexes, mut index_names): (Vec<String>, Vec<Named>) =
            unique.into_iter().unzip();
        create_indexes.extend(indexes);
        index_names.extend(more_names);
        let name = self.prep[i].name.clone();
        let plan = TablePlan {
            source: t.qualified_name(),
            create_table: render_table(&name, &lines, self.opts.flags.strict),
            name,
            columns: cols.plans,
            dropped: cols.dropped,
            create_indexes,
            load: LoadInfo::default(),
            rules: crate::format::Rules::new(t),
        };
        Ok(Draft { plan, deps, index_names })
    }

    fn columns(&self, i: usize, notes: &mut Vec<Note>) -> Columns {
        let mut out = Columns::default();
        let must_equal = self.opts.strip.as_ref().and_then(|s| s.tenant_value.clone());
        for (position, col) in self.tables[i].columns.iter().enumerate() {
            let Some(name) = self.prep[i].columns[position].clone() else {
                let must_equal = must_equal.clone();
                out.dropped.push(DroppedColumn { name: col.name.clone(), position, must_equal });
                let why = "--strip-tenancy: it is the tenant column, the same in every row";
                let object = Some(format!("column {}", pg_ident(&col.name)));
                notes.push(self.note(i, object, "not created".into(), why.into()));
                continue;
            };
            let (conv, mapping) = self.conversion(i, col, notes);
            let relaxed = self.relax_for_nan(i, col, conv, notes);
            let col = relaxed.as_ref().unwrap_or(col);
            let rowid = self.prep[i].rowid == Some(position);
            let default = self.default(i, col, conv, rowid, notes);
            self.column_notes(i, col, rowid, notes);
            let json_check = conv == Conversion::Json && !self.too_deep(i, col, notes);
            out.lines.push(column_line(&name, col, conv, rowid, default.as_deref(), json_check));
            out.scope.push(ScopeColumn {
                source: col.name.clone(),
                sqlite: name.clone(),
                class: class(col, conv),
            });
            out.plans.push(ColumnPlan {
                source: col.name.clone(),
                name,
                position,
                pg_type: col.ty.name.clone(),
                declared: conv.sqlite_type(),
                conversion: conv,
                mapping,
                not_null: !col.nullable,
                default,
            });
        }
        out
    }

    /// How `col` of table `i` is stored, and the mapping's name: numeric and money columns as
    /// [`numeric::decide`] says (noting a decision the data made), time types in SQLite's
    /// form under `--datetime sqlite`, the rest by [`conversion`].
    fn conversion(&self, i: usize, col: &Column, notes: &mut Vec<Note>) -> (Conversion, String) {
        let conv = conversion(&col.ty, self.opts.flags.numeric);
        if let Conversion::Numeric(_) = conv {
            let t = &self.tables[i];
            let q = QualifiedName { schema: t.schema.clone(), name: t.name.clone() };
            let facts = self.opts.facts.numeric_facts.get(&(q, col.name.clone()));
            let decision = numeric::decide(&col.ty, self.opts.flags.numeric, facts);
            if let Some((what, why)) = decision.note() {
                let object = Some(format!("column {}", pg_ident(&col.name)));
                notes.push(self.note(i, object, what, why));
            }
            let conv = Conversion::Numeric(decision.target());
            return (conv, decision.mapping().unwrap_or(conv.describe()).to_owned());
        }
        let conv = match (conv, self.opts.flags.datetime) {
            (Conversion::Text, DatetimePolicy::Sqlite) => {
                time_form(&col.ty).map_or(conv, Conversion::Datetime)
            }
            _ => conv,
        };
        (conv, conv.describe().to_owned())
    }

    /// A NOT NULL column whose data holds NaN, mapped so that NaN becomes NULL, loses NOT
    /// NULL (with a note): otherwise the import could not load it.
    fn relax_for_nan(
        &self,
        i: usize,
        col: &Column,
        conv: Conversion,
        notes: &mut Vec<Note>,
    ) -> Option<Column> {
        let nan_to_null = matches!(
            conv,
            Conversion::Float | Conversion::Numeric(NumericTarget::Integer | NumericTarget::Real)
        );
        let t = &self.tables[i];
        let q = t.qualified_name();
        let count = *self.opts.facts.nan_columns.get(&(q, col.name.clone()))?;
        if col.nullable || !nan_to_null || count == 0 {
            return None;
        }
        let why = format!(
            "it holds {count} NaN value(s), which SQLite cannot store: they become NULL (counted \
             as lossy){}",
            if matches!(conv, Conversion::Float) {
                ""
            } else {
                "; --numeric text keeps them as 'NaN'"
            }
        );
        notes.push(self.note(
            i,
            Some(format!("column {}", pg_ident(&col.name))),
            "NOT NULL dropped".into(),
            why,
        ));
        Some(Column { nullable: true, ..col.clone() })
    }

    /// Whether `col` holds JSON nested deeper than SQLite's JSON functions accept, so that
    /// a `json_valid` CHECK would refuse its values (noted).
    fn too_deep(&self, i: usize, col: &Column, notes: &mut Vec<Note>) -> bool {
        let t = &self.tables[i];
        let q = t.qualified_name();
        let Some(d) = self.opts.facts.deep_json.get(&(q, col.name.clone())) else {
            return false;
        };
        let why = format!(
            "{} value(s) nest deeper than {} levels (the deepest {}), which SQLite's JSON \
             functions refuse; the values are kept as exported, and validate compares them \
             with the export",
            d.beyond_sqlite,
            crate::model::manifest::SQLITE_JSON_DEPTH,
            d.deepest
        );
        let object = Some(format!("column {}", pg_ident(&col.name)));
        notes.push(self.note(i, object, "CHECK (json_valid(...)) not created".into(), why));
        true
    }

    fn default(
        &self,
        i: usize,
        col: &Column,
        conv: Conversion,
        rowid: bool,
        notes: &mut Vec<Note>,
    ) -> Option<String> {
        match defaults::translate(col, conv, rowid) {
            Outcome::None => None,
            Outcome::Sql(sql) => Some(sql),
            Outcome::Dropped(why) => {
                let what =
                    format!("default {} dropped", shown(col.default.as_deref().unwrap_or("")));
                notes.push(self.note(
                    i,
                    Some(format!("column {}", pg_ident(&col.name))),
                    what,
                    why,
                ));
                None
            }
        }
    }

    fn column_notes(&self, i: usize, col: &Column, rowid: bool, notes: &mut Vec<Note>) {
        let object = || Some(format!("column {}", pg_ident(&col.name)));
        if let Some(g) = &col.generated {
            let why = "SQLite cannot run the Postgres expression; the column holds the exported \
                       values and new rows must supply it";
            notes.push(self.note(
                i,
                object(),
                format!("generated as {g}: kept as a plain column"),
                why.into(),
            ));
        }
        if col.identity.is_some() && !rowid {
            let why = "SQLite numbers rows only through an INTEGER PRIMARY KEY, and this column \
                       is not the table's single integer key; new rows must supply it";
            notes.push(self.note(i, object(), "identity dropped".into(), why.into()));
        }
    }

    /// The PRIMARY KEY line (unless it is the rowid), and each UNIQUE constraint as a
    /// `CREATE UNIQUE INDEX` to run after the rows are loaded: an index sorted once is far
    /// cheaper than one grown row by row in random key order, and it enforces the same thing
    /// (foreign keys are checked after loading too, so parents need no index earlier). Each
    /// key set once.
    fn keys(&self, i: usize, notes: &mut Vec<Note>) -> (Vec<String>, Vec<(String, Named)>) {
        let (t, p) = (&self.tables[i], &self.prep[i]);
        let mut seen: Vec<BTreeSet<String>> = Vec::new();
        if let Some(r) = p.rowid {
            seen.push(BTreeSet::from([t.columns[r].name.clone()]));
        }
        let keys = t.primary_key.iter().map(|k| ("PRIMARY KEY", k));
        let keys = keys.chain(t.unique.iter().map(|k| ("UNIQUE", k)));
        let (mut lines, mut unique) = (Vec::new(), Vec::new());
        for (kind, key) in keys {
            let kept: Vec<&str> =
                key.columns.iter().filter_map(|c| p.sqlite_column(t, c)).collect();
            let set: BTreeSet<String> =
                key.columns.iter().filter(|c| !p.stripped(t, c)).cloned().collect();
            if kept.is_empty() {
                let why = "it is on the tenant column alone, which --strip-tenancy removes (the table holds one tenant's rows)";
                notes.push(self.note(
                    i,
                    Some(format!("constraint {}", pg_ident(&key.name))),
                    format!("{kind} dropped"),
                    why.into(),
                ));
            } else if !seen.contains(&set) {
                seen.push(set);
                if kind == "PRIMARY KEY" {
                    lines.push(format!("{kind} ({})", quoted_list(&kept)));
                } else {
                    unique.push(self.unique_index(i, &key.name, &kept));
                }
            }
        }
        (lines, unique)
    }

    fn unique_index(&self, i: usize, constraint: &str, columns: &[&str]) -> (String, Named) {
        let (t, p) = (&self.tables[i], &self.prep[i]);
        let name = names::index_name(&t.schema, constraint, self.renames);
        let statement = format!(
            "CREATE UNIQUE INDEX {} ON {} ({});",
            quote_ident(&name),
            quote_ident(&p.name),
            quoted_list(columns)
        );
        let named = Named {
            kind: "index",
            source: format!("{}.{}", pg_ident(&t.schema), pg_ident(constraint)),
            sqlite: name,
            fix: Fix::Rename(vec![t.schema.clone(), constraint.to_owned()]),
        };
        (statement, named)
    }

    fn checks(&self, i: usize, scope: &Scope<'_>, notes: &mut Vec<Note>) -> Vec<String> {
        let mut lines = Vec::new();
        for c in &self.tables[i].checks {
            match check_sql(&c.definition, scope) {
                Ok(sql) => lines.push(format!("CONSTRAINT {} CHECK ({sql})", quote_ident(&c.name))),
                Err(why) => {
                    let object = Some(format!("check {}", pg_ident(&c.name)));
                    notes.push(self.note(
                        i,
                        object,
                        format!("{} dropped", shown(&c.definition)),
                        why,
                    ));
                }
            }
        }
        lines
    }

    fn foreign_keys(&self, i: usize, notes: &mut Vec<Note>) -> (Vec<String>, Vec<usize>) {
        let (mut lines, mut deps) = (Vec::new(), Vec::new());
        for fk in &self.tables[i].foreign_keys {
            match self.foreign_key(i, fk) {
                Ok(f) => {
                    lines.push(fk_line(&f, &self.prep[f.parent].name));
                    deps.push(f.parent);
                }
                Err(why) => {
                    let object = Some(format!("foreign key {}", pg_ident(&fk.name)));
                    notes.push(self.note(
                        i,
                        object,
                        format!("{} dropped", shown(&fk.definition)),
                        why,
                    ));
                }
            }
        }
        deps.sort_unstable();
        deps.dedup();
        (lines, deps)
    }

    /// A foreign key in SQLite terms, or why it cannot be kept.
    fn foreign_key(&self, i: usize, fk: &'a ForeignKey) -> Result<Fk<'a>, String> {
        let r = &fk.references;
        let Some(&parent) = self.by_name.get(&(r.schema.as_str(), r.name.as_str())) else {
            return Err(format!("it references {}, which is not in the export", pg_qualified(r)));
        };
        if self.prep[parent].tenants && !self.prep[i].tenants {
            return Err(
                "it references the tenants table, and --strip-tenancy drops such keys".into()
            );
        }
        let pairs = self.kept_pairs(i, parent, fk)?;
        let set: BTreeSet<String> = pairs.iter().map(|(_, pc)| (*pc).to_owned()).collect();
        if !self.prep[parent].keys.iter().any(|k| k.columns == set) {
            return Err(
                "SQLite requires the referenced columns to be the parent's primary key or \
                        unique, and in SQLite they are not"
                    .into(),
            );
        }
        let (t, pt) = (&self.tables[i], &self.tables[parent]);
        Ok(Fk {
            parent,
            columns: pairs
                .iter()
                .filter_map(|(c, _)| self.prep[i].sqlite_column(t, c))
                .map(str::to_owned)
                .collect(),
            parent_columns: pairs
                .iter()
                .filter_map(|(_, pc)| self.prep[parent].sqlite_column(pt, pc))
                .map(str::to_owned)
                .collect(),
            source: fk,
        })
    }

    /// The (column, referenced column) pairs left once the tenant column is stripped: a pair
    /// of tenant columns goes (one tenant: always equal); a tenant column paired with another
    /// makes the key meaningless.
    fn kept_pairs(
        &self,
        i: usize,
        parent: usize,
        fk: &'a ForeignKey,
    ) -> Result<Vec<(&'a str, &'a str)>, String> {
        let (t, pt) = (&self.tables[i], &self.tables[parent]);
        let mut pairs = Vec::new();
        for (c, pc) in fk.columns.iter().zip(&fk.referenced_columns) {
            match (self.prep[i].stripped(t, c), self.prep[parent].stripped(pt, pc)) {
                (true, true) => {}
                (false, false) => pairs.push((c.as_str(), pc.as_str())),
                _ => return Err("it pairs the tenant column, which --strip-tenancy removes, with another column".into()),
            }
        }
        if pairs.is_empty() {
            return Err("it links only the tenant column, which --strip-tenancy removes".into());
        }
        Ok(pairs)
    }

    fn indexes(
        &self,
        i: usize,
        scope: &Scope<'_>,
        notes: &mut Vec<Note>,
    ) -> (Vec<String>, Vec<Named>) {
        let t = &self.tables[i];
        let (mut sql, mut names) = (Vec::new(), Vec::new());
        for idx in &t.indexes {
            if idx.primary || backs_key_constraint(t, idx) {
                continue;
            }
            let object = || Some(format!("index {}", pg_ident(&idx.name)));
            match self.index(i, idx, scope) {
                Ok((statement, named)) => {
                    sql.push(statement);
                    names.push(named);
                    if !idx.include.is_empty() {
                        let why = "SQLite indexes have no INCLUDE columns";
                        let what = format!("created without INCLUDE ({})", idx.include.join(", "));
                        notes.push(self.note(i, object(), what, why.into()));
                    }
                }
                Err(why) => notes.push(self.note(
                    i,
                    object(),
                    format!("not created: {}", shown(&idx.definition)),
                    why,
                )),
            }
        }
        (sql, names)
    }

    fn index(&self, i: usize, idx: &Index, scope: &Scope<'_>) -> Result<(String, Named), String> {
        let (t, p) = (&self.tables[i], &self.prep[i]);
        if let Some(c) = &idx.constraint {
            return Err(format!(
                "it implements {}, an exclusion constraint, which SQLite does not have",
                pg_ident(c)
            ));
        }
        if idx.method != "btree" {
            return Err(format!(
                "a {} index; SQLite has only b-tree indexes, which cannot serve the same queries",
                idx.method
            ));
        }
        let keys = index_keys(idx, t, p, scope)?;
        let predicate = match &idx.predicate {
            Some(pred) => {
                let sql = expr::parse(pred).and_then(|e| scope.predicate(&e));
                let sql = sql.map_err(|why| format!("its predicate {}: {why}", shown(pred)))?;
                format!(" WHERE {}", unwrap_outer(&sql))
            }
            None => String::new(),
        };
        let name = names::index_name(&t.schema, &idx.name, self.renames);
        let statement = format!(
            "CREATE {}INDEX {} ON {} ({}){predicate};",
            if idx.unique { "UNIQUE " } else { "" },
            quote_ident(&name),
            quote_ident(&p.name),
            keys.join(", ")
        );
        let named = Named {
            kind: "index",
            source: format!("{}.{}", pg_ident(&t.schema), pg_ident(&idx.name)),
            sqlite: name,
            fix: Fix::Rename(vec![t.schema.clone(), idx.name.clone()]),
        };
        Ok((statement, named))
    }
}

fn backs_key_constraint(t: &Table, idx: &Index) -> bool {
    let Some(c) = &idx.constraint else {
        return false;
    };
    t.primary_key.iter().chain(&t.unique).any(|k| &k.name == c)
}

/// An index's key columns and expressions in SQLite, with the tenant column left out.
fn index_keys(
    idx: &Index,
    t: &Table,
    p: &Prepared,
    scope: &Scope<'_>,
) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    for c in &idx.columns {
        let key = match &c.column {
            Some(col) if p.stripped(t, col) => continue,
            Some(col) => quote_ident(
                p.sqlite_column(t, col).ok_or_else(|| format!("its column {col} is not known"))?,
            ),
            None => expr::parse(&c.definition)
                .and_then(|e| scope.index_key(&e))
                .map_err(|why| format!("its key {}: {why}", shown(&c.definition)))?,
        };
        keys.push(if c.descending { format!("{key} DESC") } else { key });
    }
    if keys.is_empty() {
        return Err("it is on the tenant column alone, which --strip-tenancy removes".into());
    }
    Ok(keys)
}

/// How a column compares in SQLite (see [`Class`]).
fn class(col: &Column, conv: Conversion) -> Class {
    let is_enum = matches!(col.ty.kind, TypeKind::Enum { .. });
    let exact_real = matches!(
        (&col.ty.kind, col.ty.base()),
        (TypeKind::Base { precision: Some(p), .. }, Some("numeric")) if *p <= 15
    );
    ScopeColumn::class_of(col.ty.base(), is_enum, conv, exact_real)
}

/// `"name" TYPE [PRIMARY KEY] [NOT NULL] [DEFAULT x] [COLLATE NOCASE] [CHECK (...)]`.
fn column_line(
    name: &str,
    col: &Column,
    conv: Conversion,
    rowid: bool,
    default: Option<&str>,
    json_check: bool,
) -> String {
    let q = quote_ident(name);
    let mut line = format!("{q} {}", conv.sqlite_type());
    if rowid {
        line.push_str(" PRIMARY KEY");
    }
    if !col.nullable {
        line.push_str(" NOT NULL");
    }
    if let Some(d) = default {
        line.push_str(&format!(" DEFAULT {d}"));
    }
    // citext compares case-insensitively; NOCASE does so for ASCII, the closest SQLite has.
    if col.ty.base_name() == Some("citext") {
        line.push_str(" COLLATE NOCASE");
    }
    match &col.ty.kind {
        TypeKind::Enum { labels } => {
            let labels: Vec<String> = labels.iter().map(|l| quote_literal(l)).collect();
            line.push_str(&format!(" CHECK ({q} IN ({}))", labels.join(", ")));
        }
        // Before SQLite 3.45 json_valid(NULL) is 0, not NULL: without the IS NULL, a NULL
        // would break the CHECK for anyone opening the file with an older sqlite3.
        _ if json_check && col.nullable => {
            line.push_str(&format!(" CHECK ({q} IS NULL OR json_valid({q}))"));
        }
        _ if json_check => line.push_str(&format!(" CHECK (json_valid({q}))")),
        _ => {}
    }
    line
}

fn fk_line(f: &Fk<'_>, parent: &str) -> String {
    let cols: Vec<&str> = f.columns.iter().map(String::as_str).collect();
    let pcols: Vec<&str> = f.parent_columns.iter().map(String::as_str).collect();
    let mut line = format!(
        "FOREIGN KEY ({}) REFERENCES {} ({})",
        quoted_list(&cols),
        quote_ident(parent),
        quoted_list(&pcols)
    );
    for (word, action) in [("DELETE", f.source.on_delete), ("UPDATE", f.source.on_update)] {
        if action != crate::model::catalog::FkAction::NoAction {
            line.push_str(&format!(" ON {word} {}", action.sql()));
        }
    }
    if f.source.deferrable && f.source.initially_deferred {
        line.push_str(" DEFERRABLE INITIALLY DEFERRED");
    }
    line
}

fn quoted_list(names: &[&str]) -> String {
    names.iter().map(|n| quote_ident(n)).collect::<Vec<_>>().join(", ")
}

/// A CHECK's condition in SQLite, or why it is not kept.
fn check_sql(definition: &str, scope: &Scope<'_>) -> Result<String, String> {
    let body = definition.strip_prefix("CHECK ").ok_or("not a CHECK constraint")?;
    if body.ends_with(" NOT VALID") {
        return Err("NOT VALID in Postgres: existing rows were never checked against it".into());
    }
    let body = body.strip_suffix(" NO INHERIT").unwrap_or(body);
    Ok(unwrap_outer(&scope.predicate(&expr::parse(body)?)?).to_owned())
}

/// Drops one pair of parentheses that wraps all of `sql` (the translator wraps AND, OR and NOT
/// in them; `CHECK (...)` and `WHERE` do not need them twice).
fn unwrap_outer(sql: &str) -> &str {
    let Some(inner) = sql.strip_prefix('(').and_then(|s| s.strip_suffix(')')) else {
        return sql;
    };
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => return sql,
            (None, ')') => depth -= 1,
            _ => {}
        }
    }
    inner
}

/// At most 200 characters of a definition from the catalog, for a note: a forged one may be
/// megabytes long.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]).into(),
        None => text.into(),
    }
}

/// `CREATE TABLE "name" (\n    line,\n    line\n)[ STRICT];`
fn render_table(name: &str, lines: &[String], strict: bool) -> String {
    format!(
        "CREATE TABLE {} (\n    {}\n){};",
        quote_ident(name),
        lines.join(",\n    "),
        if strict { " STRICT" } else { "" }
    )
}
