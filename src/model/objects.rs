//! The database objects that are not tables, as the manifest records them (`objects`):
//! views and materialized views (with their `pg_get_viewdef` text), triggers, functions and
//! procedures, row-level security policies, sequences no column owns, and extensions. The
//! Postgres reader is `crate::pg::objects`; the view translator `crate::mapping::views`,
//! which only ever parses a definition, never executes it.

use serde::{Deserialize, Serialize};

use super::catalog::QualifiedName;

/// Every object of the database that is not a table (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Objects {
    /// The database's default collation (`datcollate`): text orders as SQLite orders it
    /// (bytes) only under `C` or `POSIX`.
    #[serde(default)]
    pub collation: String,
    /// Materialized views whose rows were exported as tables (`--matviews-as-tables`),
    /// as `schema.name`.
    #[serde(default)]
    pub matviews_as_tables: Vec<String>,
    /// Plain views, in (schema, name) order.
    #[serde(default)]
    pub views: Vec<ViewDef>,
    /// Materialized views, in (schema, name) order.
    #[serde(default)]
    pub matviews: Vec<ViewDef>,
    /// User triggers (internal foreign-key triggers left out).
    #[serde(default)]
    pub triggers: Vec<TableObject>,
    /// Functions, procedures and aggregates outside extensions.
    #[serde(default)]
    pub routines: Vec<Routine>,
    /// Row-level security policies.
    #[serde(default)]
    pub policies: Vec<TableObject>,
    /// Sequences that no column owns (serial and identity sequences are left out: the
    /// column's `INTEGER PRIMARY KEY` carries them).
    #[serde(default)]
    pub sequences: Vec<QualifiedName>,
    /// Installed extensions (`plpgsql`, which every database has, left out).
    #[serde(default)]
    pub extensions: Vec<Extension>,
}

/// A view or materialized view as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    /// The view's schema.
    pub schema: String,
    /// The view's name.
    pub name: String,
    /// The view's columns, in order, with their Postgres types (`format_type`).
    pub columns: Vec<ViewColumn>,
    /// `pg_get_viewdef(oid, true)`: a SELECT, text to parse, never to execute.
    pub definition: String,
}

/// One output column of a view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewColumn {
    /// The column's name.
    pub name: String,
    /// Its Postgres type (`format_type`).
    #[serde(rename = "type")]
    pub ty: String,
}

/// An object that belongs to a table: a trigger or a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableObject {
    /// The table's schema.
    pub schema: String,
    /// The table the object belongs to.
    pub table: String,
    /// The trigger's or policy's name.
    pub name: String,
}

/// A function, procedure or aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routine {
    /// The routine's schema.
    pub schema: String,
    /// The routine's name.
    pub name: String,
    /// `function`, `procedure`, `aggregate` or `window`.
    pub kind: String,
    /// The identity arguments (`pg_get_function_identity_arguments`), which tell overloads
    /// apart.
    pub arguments: String,
}

/// An installed extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The extension's name (`pgcrypto`).
    pub name: String,
    /// Its installed version (`extversion`).
    pub version: String,
}

impl Objects {
    /// What an export of `tables` from `schemas` (all when empty) records: objects of other
    /// schemas, and triggers and policies of tables left out, are not the export's.
    pub fn selected(&self, schemas: &[String], tables: &[QualifiedName]) -> Objects {
        let in_schema = |s: &str| schemas.is_empty() || schemas.iter().any(|x| x == s);
        let on_table =
            |o: &TableObject| tables.iter().any(|t| t.schema == o.schema && t.name == o.table);
        let mut out = self.clone();
        out.views.retain(|v| in_schema(&v.schema));
        out.matviews.retain(|v| in_schema(&v.schema));
        out.triggers.retain(on_table);
        out.policies.retain(on_table);
        out.routines.retain(|r| in_schema(&r.schema));
        out.sequences.retain(|s| in_schema(&s.schema));
        out
    }
}

impl ViewDef {
    /// `schema.name`, as a person reads it.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}
