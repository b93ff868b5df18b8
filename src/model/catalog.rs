//! The catalog an export records: tables, columns and their exact Postgres types (domains
//! seen through, arrays, enums, composites), keys, foreign keys, indexes and checks. Plain
//! data: the Postgres reader (`crate::pg::catalog`) fills it, the manifest stores it, and every
//! later stage (schema, import, verify, validate) works from it without Postgres.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A table to export, with everything needed to rebuild it elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// The schema (`pg_namespace.nspname`) the table lives in, unquoted.
    pub schema: String,
    /// The table's name (`pg_class.relname`), unquoted.
    pub name: String,
    /// `table`, or `partitioned` for a partitioned root (exported with all its partitions).
    pub kind: TableKind,
    /// Inheritance parents (not partitioning): the child is exported on its own, as pg_dump does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherits: Vec<QualifiedName>,
    /// The columns in `attnum` order, without dropped ones.
    pub columns: Vec<Column>,
    /// The primary key, or `None` when the table has none.
    #[serde(default)]
    pub primary_key: Option<KeyConstraint>,
    /// The unique constraints other than the primary key (unique indexes that are not constraints
    /// are in `indexes`).
    #[serde(default)]
    pub unique: Vec<KeyConstraint>,
    /// Foreign keys from this table to others (or to itself).
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    /// Every index, including those that implement the primary key and unique constraints.
    #[serde(default)]
    pub indexes: Vec<Index>,
    /// `CHECK` constraints (`NOT NULL` is in [`Column::nullable`], not here).
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Columns the rows are sorted by (a key), or empty for physical order.
    #[serde(default)]
    pub order_by: Vec<String>,
    /// `pg_class.oid` of the live table; 0 for tables read back from a manifest, where it is not
    /// stored.
    #[serde(skip)]
    pub oid: u32,
    /// `pg_class.reltuples` (summed over partitions); `None` when never analyzed.
    #[serde(skip)]
    pub estimated_rows: Option<u64>,
    /// Whether the connected role may read the table.
    #[serde(skip)]
    pub readable: bool,
}

impl Table {
    /// An ordinary table with these columns and nothing else yet: no keys, constraints or
    /// indexes (for building tables in code and tests; the catalog reads real ones).
    pub fn new(schema: impl Into<String>, name: impl Into<String>, columns: Vec<Column>) -> Table {
        Table {
            schema: schema.into(),
            name: name.into(),
            kind: TableKind::Table,
            inherits: Vec::new(),
            columns,
            primary_key: None,
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
            checks: Vec::new(),
            order_by: Vec::new(),
            oid: 0,
            estimated_rows: None,
            readable: true,
        }
    }

    /// The table's schema-qualified name.
    pub fn qualified_name(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.name)
    }

    /// `schema.name`, unquoted, for messages.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The quoted name, for SQL.
    pub fn quoted(&self) -> String {
        crate::sql::quote_qualified(&self.schema, &self.name)
    }

    /// The column with this exact (case-sensitive) name, or `None` when the table has none.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// What kind of relation a [`Table`] is (`pg_class.relkind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// An ordinary table (`relkind = 'r'`).
    Table,
    /// A partitioned table (`relkind = 'p'`): it holds no rows itself; its partitions' rows are
    /// exported under it.
    Partitioned,
    /// A populated materialized view (`relkind = 'm'`), exported as a table
    /// (`--matviews-as-tables`).
    Matview,
}

/// A schema-qualified name, compared and ordered by schema first; prints as `schema.name`
/// (unquoted).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QualifiedName {
    /// The schema, unquoted.
    pub schema: String,
    /// The object's name within `schema`, unquoted.
    pub name: String,
}

/// A column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// The column's name, unquoted and case-sensitive.
    pub name: String,
    /// The type, domains seen through to their base ([`PgType::domain`] keeps the declared name).
    #[serde(rename = "type")]
    pub ty: PgType,
    /// `false` when the column is declared `NOT NULL` (`pg_attribute.attnotnull`); a domain's own
    /// `NOT NULL` does not count here.
    pub nullable: bool,
    /// The default expression as Postgres prints it (`pg_get_expr`).
    #[serde(default)]
    pub default: Option<String>,
    /// `GENERATED ... AS IDENTITY`, or `None` for an ordinary column.
    #[serde(default)]
    pub identity: Option<Identity>,
    /// The expression of a stored generated column.
    #[serde(default)]
    pub generated: Option<String>,
}

/// How an identity column generates its values (`pg_attribute.attidentity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// `GENERATED ALWAYS AS IDENTITY`: inserting a value needs `OVERRIDING SYSTEM VALUE`.
    Always,
    /// `GENERATED BY DEFAULT AS IDENTITY`: a given value wins over the sequence.
    ByDefault,
}

/// A column's type: the name a person reads, and the structure the codecs need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PgType {
    /// `format_type()`: `numeric(12,2)`, `text[]`, `public.mpaa_rating`.
    pub name: String,
    /// The domain this type was declared as, when it is one (seen through to its base).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// What the type is made of: a base type, an enum, a composite or an array.
    #[serde(flatten)]
    pub kind: TypeKind,
}

/// The structure of a [`PgType`], which decides how its values are encoded and converted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TypeKind {
    /// A base type, named by `pg_type.typname` (`int4`, `numeric`, `timestamptz`, `inet`),
    /// schema-qualified when it is not in `pg_catalog` (`public.citext`).
    Base {
        /// `pg_type.typname` (schema-qualified outside `pg_catalog`).
        base: String,
        /// For `numeric(p,s)`, the declared precision `p`; `None` for unconstrained `numeric` and
        /// every other type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        precision: Option<u32>,
        /// For `numeric(p,s)`, the declared scale `s` (may be negative); `None` when `precision`
        /// is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<i32>,
    },
    /// An enum type, with its labels.
    Enum {
        /// The labels in `enumsortorder`, the order Postgres compares them in.
        labels: Vec<String>,
    },
    /// A composite (row) type.
    Composite {
        /// The attributes in declaration order.
        fields: Vec<Field>,
    },
    /// An array of some element type, of any number of dimensions.
    Array {
        /// The element type (never itself an array: Postgres arrays are not nested types).
        element: Box<PgType>,
    },
}

impl PgType {
    /// The base type name, for base types only.
    pub fn base(&self) -> Option<&str> {
        match &self.kind {
            TypeKind::Base { base, .. } => Some(base),
            _ => None,
        }
    }

    /// The unqualified base name: `citext` for `public.citext`.
    pub fn base_name(&self) -> Option<&str> {
        self.base().map(|b| b.rsplit_once('.').map_or(b, |(_, n)| n))
    }
}

/// An attribute of a composite type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The attribute's name, unquoted.
    pub name: String,
    /// The attribute's type.
    #[serde(rename = "type")]
    pub ty: PgType,
}

/// A primary key or unique constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyConstraint {
    /// The constraint's name (`pg_constraint.conname`).
    pub name: String,
    /// The key's columns, in key order.
    pub columns: Vec<String>,
}

/// A foreign key constraint, as `pg_constraint` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// The constraint's name (`pg_constraint.conname`).
    pub name: String,
    /// The referencing columns of this table, in key order.
    pub columns: Vec<String>,
    /// The referenced table (a partitioned root, not its partitions).
    pub references: QualifiedName,
    /// The referenced columns, paired by position with `columns`.
    pub referenced_columns: Vec<String>,
    /// `ON UPDATE` action.
    pub on_update: FkAction,
    /// `ON DELETE` action.
    pub on_delete: FkAction,
    /// Whether the constraint is `DEFERRABLE`.
    pub deferrable: bool,
    /// Whether the constraint is `INITIALLY DEFERRED` (only meaningful when `deferrable`).
    pub initially_deferred: bool,
    /// `pg_get_constraintdef`, for people.
    pub definition: String,
}

/// A foreign key's `ON UPDATE` / `ON DELETE` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    /// `NO ACTION`, the default: checked at the end of the statement (or transaction, when
    /// deferred).
    NoAction,
    /// `RESTRICT`: checked at once, even when the constraint is deferred.
    Restrict,
    /// `CASCADE`: the change is applied to the referencing rows.
    Cascade,
    /// `SET NULL`: the referencing columns become NULL.
    SetNull,
    /// `SET DEFAULT`: the referencing columns take their defaults.
    SetDefault,
}

impl FkAction {
    /// The action `pg_constraint.confupdtype` / `confdeltype` code stands for.
    pub fn from_code(c: i8) -> Self {
        match c as u8 {
            b'r' => Self::Restrict,
            b'c' => Self::Cascade,
            b'n' => Self::SetNull,
            b'd' => Self::SetDefault,
            _ => Self::NoAction,
        }
    }

    /// The action's SQL spelling, as written after `ON UPDATE` / `ON DELETE` (same in SQLite).
    pub fn sql(self) -> &'static str {
        match self {
            Self::NoAction => "NO ACTION",
            Self::Restrict => "RESTRICT",
            Self::Cascade => "CASCADE",
            Self::SetNull => "SET NULL",
            Self::SetDefault => "SET DEFAULT",
        }
    }
}

/// An index, as `pg_index` and `pg_get_indexdef` record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    /// The index's name (`pg_class.relname` of the index).
    pub name: String,
    /// `pg_get_indexdef`, exactly as Postgres would recreate it.
    pub definition: String,
    /// The access method (`btree`, `hash`, `gin`, `gist`, ...); only `btree` has a SQLite
    /// equivalent.
    pub method: String,
    /// Whether the index is `UNIQUE`.
    pub unique: bool,
    /// Whether the index implements the primary key.
    pub primary: bool,
    /// The constraint this index implements, if any.
    #[serde(default)]
    pub constraint: Option<String>,
    /// The key columns (or expressions) in order; `INCLUDE` columns are in `include`.
    pub columns: Vec<IndexColumn>,
    /// `INCLUDE` (non-key) columns; empty when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// The `WHERE` predicate of a partial index as `pg_get_expr` prints it, or `None`.
    #[serde(default)]
    pub predicate: Option<String>,
}

/// One key of an [`Index`]: a column or an expression, with its sort options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexColumn {
    /// The column, or `None` for an expression.
    #[serde(default)]
    pub column: Option<String>,
    /// The key as Postgres prints it: a quoted column name or an expression.
    pub definition: String,
    /// Whether the key sorts `DESC`.
    #[serde(default)]
    pub descending: bool,
    /// Whether NULLs sort first: `NULLS FIRST`, which is also what `DESC` alone means.
    #[serde(default)]
    pub nulls_first: bool,
}

/// A `CHECK` constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The constraint's name (`pg_constraint.conname`).
    pub name: String,
    /// `CHECK (...)` as `pg_get_constraintdef` prints it.
    pub definition: String,
}

impl QualifiedName {
    /// The name `schema.name`, both parts as they are in the catalog (unquoted).
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName { schema: schema.into(), name: name.into() }
    }
}

/// `schema.name`, unquoted, for messages.
impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// The row order DESIGN.md asks for: the primary key; else a unique constraint on not-null
/// columns, the one whose first column comes first; else none (physical order).
pub fn choose_order(t: &Table) -> Vec<String> {
    if let Some(pk) = &t.primary_key {
        return pk.columns.clone();
    }
    let position = |c: &str| t.columns.iter().position(|col| col.name == c);
    let all_not_null =
        |k: &KeyConstraint| k.columns.iter().all(|c| t.column(c).is_some_and(|col| !col.nullable));
    t.unique
        .iter()
        .filter(|k| all_not_null(k))
        .min_by_key(|k| (k.columns.first().and_then(|c| position(c)), k.columns.len()))
        .map(|k| k.columns.clone())
        .unwrap_or_default()
}

/// Tables grouped by schema, for listings.
pub fn by_schema(tables: &[Table]) -> BTreeMap<&str, Vec<&Table>> {
    let mut map: BTreeMap<&str, Vec<&Table>> = BTreeMap::new();
    for t in tables {
        map.entry(t.schema.as_str()).or_default().push(t);
    }
    map
}
