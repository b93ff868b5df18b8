//! SQLite names for Postgres objects: quoting, `--rename`, and the collisions SQLite's
//! case-insensitive (ASCII-only) name comparison would cause. Every collision is found here,
//! before anything is written, and each message says which `--rename` resolves it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use crate::model::catalog::{QualifiedName, Table};

use super::Error;

pub use crate::sql::{quote_ident, sqlite_literal as quote_literal};

/// The table through which an imported file names the export it was built from.
pub const EXPORT_TABLE: &str = "_pg2lite_export";
/// The table through which an imported file describes each column's mapping.
pub const COLUMNS_TABLE: &str = "_pg2lite_columns";

/// Names no planned table or index may take: the meta tables'.
const RESERVED: &[&str] = &[EXPORT_TABLE, COLUMNS_TABLE];

/// A name as SQLite compares it: ASCII letters folded, everything else as is.
pub(super) fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A Postgres name as one would type it in psql: bare when it is a plain lower-case
/// identifier, double-quoted otherwise (`"Users"`).
pub(super) fn pg_ident(name: &str) -> Cow<'_, str> {
    let plain = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain { Cow::Borrowed(name) } else { Cow::Owned(quote_ident(name)) }
}

/// `public."Users"`.
pub(super) fn pg_qualified(q: &QualifiedName) -> String {
    format!("{}.{}", pg_ident(&q.schema), pg_ident(&q.name))
}

/// One `--rename FROM=TO`: `table=name` (schema public), `schema.table=name`,
/// `schema.table.column=name`. A relation rename applies to a table, or to an index (Postgres
/// keeps tables and indexes in one namespace per schema, so `schema.name` is never
/// ambiguous). A part holding `.`, `"` or `=` is written in double quotes (`"my.schema".t`);
/// case is kept as written (`public.Users` is the table `"Users"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// What is renamed, as it is named in Postgres.
    pub from: RenameFrom,
    /// The name it gets in SQLite, exactly as written (case kept, quotes removed).
    pub to: String,
}

/// The object a [`Rename`] applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RenameFrom {
    /// A table or an index.
    Relation(QualifiedName),
    /// A column of a table.
    Column {
        /// The table, by its Postgres name.
        table: QualifiedName,
        /// The column's Postgres name.
        column: String,
    },
}

impl FromStr for Rename {
    type Err = Error;

    fn from_str(given: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::BadRename { given: given.to_owned(), why: why.to_owned() };
        let (from, to) = split_outside_quotes(given, '=').ok_or_else(|| bad("no '='"))?;
        if to.is_empty() {
            return Err(bad("the new name after '=' is empty"));
        }
        let parts = parse_parts(from).map_err(|why| bad(&why))?;
        let qn = |s: &str, n: &str| QualifiedName { schema: s.to_owned(), name: n.to_owned() };
        let from = match parts.as_slice() {
            [t] => RenameFrom::Relation(qn("public", t)),
            [s, t] => RenameFrom::Relation(qn(s, t)),
            [s, t, c] => RenameFrom::Column { table: qn(s, t), column: c.clone() },
            _ => {
                return Err(bad(
                    "expected table=name, schema.table=name or schema.table.column=name",
                ));
            }
        };
        Ok(Rename { from, to: to.to_owned() })
    }
}

impl Rename {
    /// The `--rename` argument, shell-quoted, that renames `parts` (schema, table[, column])
    /// to `to`.
    pub(super) fn argument(parts: &[&str], to: &str) -> String {
        let from: Vec<Cow<'_, str>> = parts.iter().map(|p| rename_part(p)).collect();
        let arg = format!("{}={to}", from.join("."));
        format!("--rename '{}'", arg.replace('\'', "'\\''"))
    }
}

fn rename_part(p: &str) -> Cow<'_, str> {
    if p.contains(['.', '"', '=']) || p.is_empty() {
        Cow::Owned(format!("\"{}\"", p.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(p)
    }
}

fn split_outside_quotes(s: &str, sep: char) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => return Some((&s[..i], &s[i + c.len_utf8()..])),
            _ => {}
        }
    }
    None
}

/// Splits `a."b.c".d` into its parts, unquoting quoted ones.
fn parse_parts(s: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    Some('"') => break,
                    Some(c) => part.push(c),
                    None => return Err("unterminated double quote".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek().filter(|&&c| c != '.') {
                part.push(c);
                chars.next();
            }
        }
        if part.is_empty() {
            return Err("an empty name".into());
        }
        parts.push(part);
        match chars.next() {
            None => return Ok(parts),
            Some('.') => {}
            Some(c) => return Err(format!("unexpected {c:?} after a quoted name")),
        }
    }
}

/// The renames of one plan, resolved against the catalog.
#[derive(Debug, Default)]
pub(super) struct Renames {
    tables: HashMap<QualifiedName, String>,
    indexes: HashMap<QualifiedName, String>,
    columns: HashMap<(QualifiedName, String), String>,
}

impl Renames {
    /// Checks that every rename names something in `tables`, and names it once.
    ///
    /// # Errors
    /// [`Error::UnknownRename`] or [`Error::BadRename`] (renamed twice).
    pub(super) fn resolve(renames: &[Rename], tables: &[Table]) -> Result<Self, Error> {
        let mut out = Renames::default();
        for r in renames {
            let target = target(&r.from, tables)
                .ok_or_else(|| Error::UnknownRename { given: describe_from(&r.from) })?;
            let to = r.to.clone();
            let fresh = match target {
                Target::Table(q) => out.tables.insert(q, to).is_none(),
                Target::Index(q) => out.indexes.insert(q, to).is_none(),
                Target::Column(q, c) => out.columns.insert((q, c), to).is_none(),
            };
            if !fresh {
                return Err(Error::BadRename {
                    given: format!("{}={}", describe_from(&r.from), r.to),
                    why: "the same object is renamed twice".into(),
                });
            }
        }
        Ok(out)
    }

    pub(super) fn table(&self, t: &Table) -> Option<&str> {
        let q = t.qualified_name();
        self.tables.get(&q).map(String::as_str)
    }

    pub(super) fn index(&self, schema: &str, name: &str) -> Option<&str> {
        let q = QualifiedName { schema: schema.to_owned(), name: name.to_owned() };
        self.indexes.get(&q).map(String::as_str)
    }

    pub(super) fn column(&self, t: &Table, column: &str) -> Option<&str> {
        let q = t.qualified_name();
        self.columns.get(&(q, column.to_owned())).map(String::as_str)
    }
}

enum Target {
    Table(QualifiedName),
    Index(QualifiedName),
    Column(QualifiedName, String),
}

/// What a rename names in `tables`, or `None` when it matches nothing.
fn target(from: &RenameFrom, tables: &[Table]) -> Option<Target> {
    let find = |q: &QualifiedName| tables.iter().find(|t| t.schema == q.schema && t.name == q.name);
    match from {
        RenameFrom::Relation(q) if find(q).is_some() => Some(Target::Table(q.clone())),
        RenameFrom::Relation(q) => tables
            .iter()
            .any(|t| t.schema == q.schema && t.indexes.iter().any(|i| i.name == q.name))
            .then(|| Target::Index(q.clone())),
        RenameFrom::Column { table, column } => {
            find(table)?.column(column)?;
            Some(Target::Column(table.clone(), column.clone()))
        }
    }
}

fn describe_from(f: &RenameFrom) -> String {
    match f {
        RenameFrom::Relation(q) => pg_qualified(q),
        RenameFrom::Column { table, column } => {
            format!("{}.{}", pg_qualified(table), pg_ident(column))
        }
    }
}

/// The SQLite name of a table: its rename, else its name in schema `public`, else
/// `<schema>_<table>`.
pub(super) fn table_name(t: &Table, renames: &Renames) -> String {
    renames.table(t).map_or_else(|| default_name(&t.schema, &t.name), str::to_owned)
}

/// The SQLite name of an index, by the same rule as tables: SQLite scopes index names to the
/// whole database (with the tables), Postgres to a schema.
pub(super) fn index_name(schema: &str, name: &str, renames: &Renames) -> String {
    renames.index(schema, name).map_or_else(|| default_name(schema, name), str::to_owned)
}

fn default_name(schema: &str, name: &str) -> String {
    if schema == "public" { name.to_owned() } else { format!("{schema}_{name}") }
}

/// Something that takes a name in SQLite, for collision checks.
#[derive(Debug, Clone)]
pub(super) struct Named {
    /// `table`, `index` or `column`.
    pub kind: &'static str,
    /// The Postgres object, as a person reads it: `public."Users"`, `public.t."Value"`.
    pub source: String,
    pub sqlite: String,
    /// How to give it another name.
    pub fix: Fix,
}

#[derive(Debug, Clone)]
pub(super) enum Fix {
    /// `--rename` of these parts (schema, table[, column]).
    Rename(Vec<String>),
    /// The tenants table under `--strip-tenancy` is named by `--tenant-table-as`.
    TenantTableAs,
}

impl Fix {
    fn argument(&self, to: &str) -> String {
        match self {
            Fix::Rename(parts) => {
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                Rename::argument(&parts, to)
            }
            Fix::TenantTableAs => format!("--tenant-table-as '{}'", to.replace('\'', "'\\''")),
        }
    }
}

/// Every naming problem in one namespace (the database's tables and indexes, or one table's
/// columns): collisions, and for database objects the names SQLite or pg2lite reserve.
pub(super) fn problems(namespace: &[Named], database_level: bool) -> Vec<String> {
    let mut taken: HashSet<String> = namespace.iter().map(|n| fold(&n.sqlite)).collect();
    let mut seen: HashMap<String, &Named> = HashMap::new();
    let mut out = Vec::new();
    for n in namespace {
        let folded = fold(&n.sqlite);
        if let Some(p) = database_level.then(|| reserved(n, &folded, &mut taken)).flatten() {
            out.push(p);
            continue;
        }
        match seen.get(&folded) {
            Some(first) => out.push(collision(first, n, &mut taken)),
            None => {
                seen.insert(folded, n);
            }
        }
    }
    out
}

fn reserved(n: &Named, folded: &str, taken: &mut HashSet<String>) -> Option<String> {
    let (why, suggestion) = if folded.starts_with("sqlite_") {
        (
            "SQLite reserves names beginning with \"sqlite_\"",
            free_name(&format!("pg_{}", fold(&n.sqlite)), taken),
        )
    } else if RESERVED.iter().any(|m| fold(m) == folded) {
        ("pg2lite keeps that name for its own metadata", free_name(folded, taken))
    } else {
        return None;
    };
    Some(format!(
        "{} {} would be named {} in SQLite, but {why}; rename it: {}",
        n.kind,
        n.source,
        quote_ident(&n.sqlite),
        n.fix.argument(&suggestion)
    ))
}

fn collision(first: &Named, second: &Named, taken: &mut HashSet<String>) -> String {
    let kinds = if first.kind == second.kind {
        format!("{}s {} and {}", plural_stem(first.kind), first.source, second.source)
    } else {
        format!("{} {} and {} {}", first.kind, first.source, second.kind, second.source)
    };
    let victim = pick_victim(first, second);
    let fix = victim.fix.argument(&free_name(&fold(&victim.sqlite), taken));
    format!(
        "{kinds} would both be named {} in SQLite (names are case-insensitive there); \
         rename one: {fix}",
        quote_ident(&second.sqlite)
    )
}

fn plural_stem(kind: &str) -> &str {
    match kind {
        "index" => "indexe",
        k => k,
    }
}

/// Which of two colliding objects the suggested `--rename` should move: never the tenants
/// table (its name is chosen by `--tenant-table-as`); else the one whose name had to be
/// quoted in Postgres (mixed case), else the second.
fn pick_victim<'n>(first: &'n Named, second: &'n Named) -> &'n Named {
    let unusual = |n: &Named| n.source.ends_with('"');
    match (&first.fix, &second.fix) {
        (_, Fix::TenantTableAs) => first,
        (Fix::TenantTableAs, _) => second,
        _ if unusual(first) && !unusual(second) => first,
        _ => second,
    }
}

/// `base` if free, else `base_2`, `base_3`, ...: the first name no object has, remembered
/// as taken so two suggestions never coincide.
fn free_name(base: &str, taken: &mut HashSet<String>) -> String {
    let mut candidate = base.to_owned();
    let mut n = 2;
    while taken.contains(&fold(&candidate)) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    taken.insert(fold(&candidate));
    candidate
}
