//! The catalog an export records: tables, columns and their exact Postgres types (domains
//! seen through, arrays, enums, composites), keys, foreign keys, indexes and checks. Plain
//! data: the Postgres reader (`crate::model::catalog`) fills it, the manifest stores it, and every
//! later stage (schema, import, verify, validate) works from it without Postgres.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A table to export, with everything needed to rebuild it elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// `table`, or `partitioned` for a partitioned root (exported with all its partitions).
    pub kind: TableKind,
    /// Inheritance parents (not partitioning): the child is exported on its own, as pg_dump does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherits: Vec<QualifiedName>,
    pub columns: Vec<Column>,
    #[serde(default)]
    pub primary_key: Option<KeyConstraint>,
    #[serde(default)]
    pub unique: Vec<KeyConstraint>,
    #[serde(default)]
    pub foreign_keys: Vec<ForeignKey>,
    #[serde(default)]
    pub indexes: Vec<Index>,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Columns the rows are sorted by (a key), or empty for physical order.
    #[serde(default)]
    pub order_by: Vec<String>,
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

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    Table,
    Partitioned,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PgType,
    pub nullable: bool,
    /// The default expression as Postgres prints it (`pg_get_expr`).
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub identity: Option<Identity>,
    /// The expression of a stored generated column.
    #[serde(default)]
    pub generated: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    Always,
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
    #[serde(flatten)]
    pub kind: TypeKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TypeKind {
    /// A base type, named by `pg_type.typname` (`int4`, `numeric`, `timestamptz`, `inet`),
    /// schema-qualified when it is not in `pg_catalog` (`public.citext`).
    Base {
        base: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        precision: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<i32>,
    },
    Enum {
        labels: Vec<String>,
    },
    Composite {
        fields: Vec<Field>,
    },
    Array {
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: PgType,
}

/// A primary key or unique constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyConstraint {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub references: QualifiedName,
    pub referenced_columns: Vec<String>,
    pub on_update: FkAction,
    pub on_delete: FkAction,
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// `pg_get_constraintdef`, for people.
    pub definition: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    /// `pg_get_indexdef`, exactly as Postgres would recreate it.
    pub definition: String,
    pub method: String,
    pub unique: bool,
    pub primary: bool,
    /// The constraint this index implements, if any.
    #[serde(default)]
    pub constraint: Option<String>,
    pub columns: Vec<IndexColumn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(default)]
    pub predicate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexColumn {
    /// The column, or `None` for an expression.
    #[serde(default)]
    pub column: Option<String>,
    /// The key as Postgres prints it: a quoted column name or an expression.
    pub definition: String,
    #[serde(default)]
    pub descending: bool,
    #[serde(default)]
    pub nulls_first: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    /// `CHECK (...)` as `pg_get_constraintdef` prints it.
    pub definition: String,
}

impl QualifiedName {
    /// The name of `schema.name`.
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
