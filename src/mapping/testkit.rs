//! Catalog tables built by hand for unit tests of schema and transform: the same shapes
//! `catalog::read` produces (and the manifest stores), without a Postgres.

use crate::model::catalog::{
    Check, Column, FkAction, ForeignKey, Identity, Index, IndexColumn, KeyConstraint, PgType,
    QualifiedName, Table, TypeKind,
};

/// A base type named by `pg_type.typname`, displayed as Postgres would for common ones.
pub(crate) fn ty(base: &str) -> PgType {
    let display = match base {
        "int2" => "smallint",
        "int4" => "integer",
        "int8" => "bigint",
        "bool" => "boolean",
        "float4" => "real",
        "float8" => "double precision",
        "varchar" => "character varying",
        "timestamptz" => "timestamp with time zone",
        "timestamp" => "timestamp without time zone",
        "timetz" => "time with time zone",
        "time" => "time without time zone",
        other => other,
    };
    PgType {
        name: display.to_owned(),
        domain: None,
        kind: TypeKind::Base { base: base.to_owned(), precision: None, scale: None },
    }
}

pub(crate) fn numeric(precision: u32, scale: i32) -> PgType {
    PgType {
        name: format!("numeric({precision},{scale})"),
        domain: None,
        kind: TypeKind::Base {
            base: "numeric".into(),
            precision: Some(precision),
            scale: Some(scale),
        },
    }
}

pub(crate) fn enum_ty(name: &str, labels: &[&str]) -> PgType {
    PgType {
        name: name.to_owned(),
        domain: None,
        kind: TypeKind::Enum { labels: labels.iter().map(|l| l.to_string()).collect() },
    }
}

pub(crate) fn array(element: PgType) -> PgType {
    PgType {
        name: format!("{}[]", element.name),
        domain: None,
        kind: TypeKind::Array { element: Box::new(element) },
    }
}

pub(crate) fn composite(name: &str) -> PgType {
    PgType { name: name.to_owned(), domain: None, kind: TypeKind::Composite { fields: vec![] } }
}

pub(crate) fn col(name: &str, ty: PgType) -> Column {
    Column {
        name: name.to_owned(),
        ty,
        nullable: true,
        default: None,
        identity: None,
        generated: None,
    }
}

pub(crate) fn not_null(mut c: Column) -> Column {
    c.nullable = false;
    c
}

pub(crate) fn with_default(mut c: Column, default: &str) -> Column {
    c.default = Some(default.to_owned());
    c
}

pub(crate) fn identity(mut c: Column) -> Column {
    c.identity = Some(Identity::ByDefault);
    c.nullable = false;
    c
}

pub(crate) fn table(schema: &str, name: &str, columns: Vec<Column>) -> Table {
    Table::new(schema, name, columns)
}

pub(crate) fn key(name: &str, columns: &[&str]) -> KeyConstraint {
    KeyConstraint {
        name: name.to_owned(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
    }
}

pub(crate) fn with_pk(mut t: Table, columns: &[&str]) -> Table {
    let name = format!("{}_pkey", t.name);
    t.primary_key = Some(key(&name, columns));
    t.indexes.push(Index {
        constraint: Some(name.clone()),
        primary: true,
        unique: true,
        ..index(&name, columns)
    });
    t
}

pub(crate) fn fk(
    name: &str,
    columns: &[&str],
    to: (&str, &str),
    to_columns: &[&str],
) -> ForeignKey {
    ForeignKey {
        name: name.to_owned(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        references: QualifiedName { schema: to.0.to_owned(), name: to.1.to_owned() },
        referenced_columns: to_columns.iter().map(|c| c.to_string()).collect(),
        on_update: FkAction::NoAction,
        on_delete: FkAction::NoAction,
        deferrable: false,
        initially_deferred: false,
        definition: format!(
            "FOREIGN KEY ({}) REFERENCES {}.{}({})",
            columns.join(", "),
            to.0,
            to.1,
            to_columns.join(", ")
        ),
    }
}

/// A plain b-tree index on columns.
pub(crate) fn index(name: &str, columns: &[&str]) -> Index {
    Index {
        name: name.to_owned(),
        definition: format!("CREATE INDEX {name} ON t USING btree ({})", columns.join(", ")),
        method: "btree".into(),
        unique: false,
        primary: false,
        constraint: None,
        columns: columns
            .iter()
            .map(|c| IndexColumn {
                column: Some(c.to_string()),
                definition: c.to_string(),
                descending: false,
                nulls_first: false,
            })
            .collect(),
        include: vec![],
        predicate: None,
    }
}

/// An index key that is an expression.
pub(crate) fn expression_key(definition: &str) -> IndexColumn {
    IndexColumn {
        column: None,
        definition: definition.to_owned(),
        descending: false,
        nulls_first: false,
    }
}

pub(crate) fn check(name: &str, definition: &str) -> Check {
    Check { name: name.to_owned(), definition: definition.to_owned() }
}

/// What a test plans with: flags or facts, the other left at its default.
pub(crate) trait PlanWith {
    /// [`super::plan`] of `tables` with these and the default of the other.
    fn plan_of(&self, tables: &[Table]) -> Result<super::Plan, super::Error>;
}

impl PlanWith for super::SchemaFlags {
    fn plan_of(&self, tables: &[Table]) -> Result<super::Plan, super::Error> {
        super::plan(tables, self, &super::ExportFacts::default())
    }
}

impl PlanWith for super::ExportFacts {
    fn plan_of(&self, tables: &[Table]) -> Result<super::Plan, super::Error> {
        super::plan(tables, &super::SchemaFlags::default(), self)
    }
}
