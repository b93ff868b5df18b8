//! Reads what the export needs to know from `pg_catalog`: tables, columns and their exact
//! types (domains seen through, arrays, enums, composites), keys, foreign keys, indexes and
//! checks. The result is plain data that the manifest records, so that every later stage
//! (schema, import, verify) works from the manifest alone, without Postgres.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::Client;

use crate::pg::{self, Source};

use crate::model::catalog::*;

/// The catalog of one database: its identity and its tables, in (schema, name) order.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// `current_database()`.
    pub database: String,
    /// The `server_version` setting, as the server reports it (`17.2 (Debian 17.2-1)`).
    pub server_version: String,
    /// Every user table, with its columns, keys, indexes, checks and chosen row order.
    pub tables: Vec<Table>,
    /// Everything that is not a table: views, triggers, functions, ... (see [`pg::objects`]).
    pub objects: crate::model::objects::Objects,
}

/// Reads every user table of the database (partitions through their roots only; tables that
/// belong to extensions, and temporary tables, left out).
///
/// # Errors
/// [`pg::Error::Query`] when a catalog query fails.
pub async fn read(client: &Client, source: &Source) -> pg::Result<Catalog> {
    read_with(client, source, false).await
}

/// [`read`], with the populated materialized views among the tables when `matviews` is set
/// (`--matviews-as-tables`: their rows are then exported as any table's).
///
/// # Errors
/// As [`read`].
pub async fn read_with(client: &Client, source: &Source, matviews: bool) -> pg::Result<Catalog> {
    let q = |e: tokio_postgres::Error| source.query_error(&e);
    let row = client
        .query_one("SELECT current_database()::text, current_setting('server_version')", &[])
        .await
        .map_err(q)?;
    let (database, server_version) = (row.get(0), row.get(1));
    let mut tables = read_tables(client, matviews).await.map_err(q)?;
    let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
    let mut types = TypeResolver::default();
    let mut columns = read_columns(client, &oids, &mut types).await.map_err(q)?;
    let mut constraints = read_constraints(client, &oids).await.map_err(q)?;
    let mut indexes = read_indexes(client, &oids).await.map_err(q)?;
    for t in &tables {
        if t.kind == TableKind::Partitioned {
            let fks = partition_foreign_keys(client, t).await.map_err(q)?;
            constraints.entry(t.oid).or_default().foreign_keys.extend(fks);
        }
    }
    for t in &mut tables {
        t.columns = columns.remove(&t.oid).unwrap_or_default();
        if let Some(cons) = constraints.remove(&t.oid) {
            t.primary_key = cons.primary_key;
            t.unique = cons.unique;
            t.foreign_keys = cons.foreign_keys;
            t.checks = cons.checks;
        }
        t.indexes = indexes.remove(&t.oid).unwrap_or_default();
        t.order_by = choose_order(t);
    }
    let mut objects = pg::objects::read(client).await.map_err(q)?;
    if matviews {
        let names = tables.iter().filter(|t| t.kind == TableKind::Matview);
        objects.matviews_as_tables = names.map(Table::display_name).collect();
    }
    Ok(Catalog { database, server_version, tables, objects })
}

const TABLES_SQL: &str = "
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT sum(p.reltuples) FILTER (WHERE p.reltuples >= 0)::float8
                 FROM pg_catalog.pg_partition_tree(c.oid) pt
                 JOIN pg_catalog.pg_class p ON p.oid = pt.relid WHERE pt.isleaf)
            WHEN c.reltuples >= 0 THEN c.reltuples::float8 END,
       pg_catalog.has_table_privilege(c.oid, 'SELECT'),
       ARRAY(SELECT pn.nspname::text || '.' || pc.relname::text
               FROM pg_catalog.pg_inherits i
               JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
               JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
              WHERE i.inhrelid = c.oid ORDER BY i.inhseqno)
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE (c.relkind IN ('r', 'p') OR (c.relkind = 'm' AND c.relispopulated AND $1))
   AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
   AND c.relpersistence <> 't'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                      AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname";

async fn read_tables(client: &Client, matviews: bool) -> Result<Vec<Table>, tokio_postgres::Error> {
    let rows = client.query(TABLES_SQL, &[&matviews]).await?;
    let mut tables = Vec::with_capacity(rows.len());
    for r in rows {
        let kind: String = r.try_get(3)?;
        let estimate: Option<f64> = r.try_get(4)?;
        let parents: Vec<String> = r.try_get(6)?;
        tables.push(Table {
            oid: r.try_get(0)?,
            schema: r.try_get(1)?,
            name: r.try_get(2)?,
            kind: match kind.as_str() {
                "p" => TableKind::Partitioned,
                "m" => TableKind::Matview,
                _ => TableKind::Table,
            },
            inherits: parents.iter().filter_map(|p| split_qualified(p)).collect(),
            columns: Vec::new(),
            primary_key: None,
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
            checks: Vec::new(),
            order_by: Vec::new(),
            estimated_rows: estimate.map(|e| e.max(0.0) as u64),
            readable: r.try_get(5)?,
        });
    }
    Ok(tables)
}

/// Splits `schema.name` where the schema contains no dot (the names come from the catalog,
/// joined by us, so the first dot is ours only when the schema has none; good enough for
/// inheritance parents, which are informational).
fn split_qualified(s: &str) -> Option<QualifiedName> {
    let (schema, name) = s.split_once('.')?;
    Some(QualifiedName { schema: schema.into(), name: name.into() })
}

const COLUMNS_SQL: &str = "
SELECT a.attrelid, a.attname::text, a.atttypid, a.atttypmod,
       pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
       CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,
       a.attidentity::text,
       CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END
  FROM pg_catalog.pg_attribute a
  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum";

async fn read_columns(
    client: &Client,
    oids: &[u32],
    types: &mut TypeResolver,
) -> Result<HashMap<u32, Vec<Column>>, tokio_postgres::Error> {
    let rows = client.query(COLUMNS_SQL, &[&oids]).await?;
    let mut out: HashMap<u32, Vec<Column>> = HashMap::new();
    for r in rows {
        let identity: String = r.try_get(7)?;
        let ty = types.resolve(client, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?).await?;
        out.entry(r.try_get(0)?).or_default().push(Column {
            name: r.try_get(1)?,
            ty,
            nullable: !r.try_get::<_, bool>(5)?,
            default: r.try_get(6)?,
            identity: match identity.as_str() {
                "a" => Some(Identity::Always),
                "d" => Some(Identity::ByDefault),
                _ => None,
            },
            generated: r.try_get(8)?,
        });
    }
    Ok(out)
}

/// Resolves type oids into [`PgType`]s, remembering what it has seen.
#[derive(Default)]
struct TypeResolver {
    rows: HashMap<u32, TypeRow>,
    enums: HashMap<u32, Vec<String>>,
}

#[derive(Clone)]
struct TypeRow {
    name: String,
    typtype: u8,
    is_array: bool,
    element: u32,
    base_type: u32,
    base_typmod: i32,
    relid: u32,
}

const TYPE_SQL: &str = "
SELECT CASE WHEN n.nspname = 'pg_catalog' THEN t.typname::text
            ELSE n.nspname::text || '.' || t.typname::text END,
       t.typtype::text, t.typcategory = 'A' AND t.typlen = -1 AND t.typelem <> 0,
       t.typelem, t.typbasetype, t.typtypmod, t.typrelid
  FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE t.oid = $1";

const FIELDS_SQL: &str = "
SELECT a.attname::text, a.atttypid, a.atttypmod, pg_catalog.format_type(a.atttypid, a.atttypmod)
  FROM pg_catalog.pg_attribute a
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

impl TypeResolver {
    async fn row(&mut self, client: &Client, oid: u32) -> Result<TypeRow, tokio_postgres::Error> {
        if let Some(r) = self.rows.get(&oid) {
            return Ok(r.clone());
        }
        let r = client.query_one(TYPE_SQL, &[&oid]).await?;
        let typtype: String = r.try_get(1)?;
        let row = TypeRow {
            name: r.try_get(0)?,
            typtype: typtype.as_bytes().first().copied().unwrap_or(b'b'),
            is_array: r.try_get(2)?,
            element: r.try_get(3)?,
            base_type: r.try_get(4)?,
            base_typmod: r.try_get(5)?,
            relid: r.try_get(6)?,
        };
        self.rows.insert(oid, row.clone());
        Ok(row)
    }

    /// Builds the [`PgType`] of `oid` with modifier `typmod`, displayed as `display`.
    /// Boxed because composites and arrays recurse.
    fn resolve<'a>(
        &'a mut self,
        client: &'a Client,
        oid: u32,
        typmod: i32,
        display: String,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<PgType, tokio_postgres::Error>> + Send + 'a>,
    > {
        Box::pin(async move {
            let mut oid = oid;
            let mut row = self.row(client, oid).await?;
            let mut typmod = typmod;
            let mut domain = None;
            while row.typtype == b'd' {
                domain.get_or_insert_with(|| row.name.clone());
                typmod = row.base_typmod;
                oid = row.base_type;
                row = self.row(client, oid).await?;
            }
            let kind = if row.is_array {
                let element = self.resolve(client, row.element, typmod, String::new()).await?;
                let element = PgType { name: element_display(&display, &element), ..element };
                TypeKind::Array { element: Box::new(element) }
            } else {
                match row.typtype {
                    b'e' => TypeKind::Enum { labels: self.labels(client, oid).await? },
                    b'c' => TypeKind::Composite { fields: self.fields(client, row.relid).await? },
                    _ => base_kind(&row.name, typmod),
                }
            };
            Ok(PgType { name: display, domain, kind })
        })
    }

    async fn labels(
        &mut self,
        client: &Client,
        oid: u32,
    ) -> Result<Vec<String>, tokio_postgres::Error> {
        if let Some(l) = self.enums.get(&oid) {
            return Ok(l.clone());
        }
        let rows = client
            .query(
                "SELECT enumlabel::text FROM pg_catalog.pg_enum WHERE enumtypid = $1 \
                 ORDER BY enumsortorder",
                &[&oid],
            )
            .await?;
        let labels: Vec<String> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        self.enums.insert(oid, labels.clone());
        Ok(labels)
    }

    async fn fields(
        &mut self,
        client: &Client,
        relid: u32,
    ) -> Result<Vec<Field>, tokio_postgres::Error> {
        let rows = client.query(FIELDS_SQL, &[&relid]).await?;
        let mut fields = Vec::with_capacity(rows.len());
        for r in rows {
            let ty = self.resolve(client, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?).await?;
            fields.push(Field { name: r.try_get(0)?, ty });
        }
        Ok(fields)
    }
}

/// The display name of an array's element: `numeric(5,2)` for `numeric(5,2)[]`.
fn element_display(array_display: &str, element: &PgType) -> String {
    if let Some(stripped) = array_display.strip_suffix("[]") {
        return stripped.to_owned();
    }
    element.base().unwrap_or(&element.name).to_owned()
}

fn base_kind(name: &str, typmod: i32) -> TypeKind {
    let (precision, scale) = if name == "numeric" && typmod >= 4 {
        let m = typmod - 4;
        let scale = ((m & 0x7ff) ^ 1024) - 1024;
        (Some(((m >> 16) & 0xffff) as u32), Some(scale))
    } else {
        (None, None)
    };
    TypeKind::Base { base: name.to_owned(), precision, scale }
}

#[derive(Default)]
struct Constraints {
    primary_key: Option<KeyConstraint>,
    unique: Vec<KeyConstraint>,
    foreign_keys: Vec<ForeignKey>,
    checks: Vec<Check>,
}

/// A foreign key to a partitioned table comes with a clone for each of its partitions
/// (`conparentid` set), which is the same key: only the one to the root is read.
const CONSTRAINTS_SQL: &str = "
SELECT con.conrelid, con.conname::text, con.contype::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
              ORDER BY k.i),
       fn.nspname::text, fc.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
              ORDER BY k.i),
       con.confupdtype, con.confdeltype, con.condeferrable, con.condeferred,
       pg_catalog.pg_get_constraintdef(con.oid)
  FROM pg_catalog.pg_constraint con
  LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
  LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
 WHERE con.conrelid = ANY($1) AND con.contype IN ('p', 'u', 'f', 'c')
   AND (con.contype <> 'f' OR con.conparentid = 0)
 ORDER BY con.conrelid, con.contype, con.conname";

async fn read_constraints(
    client: &Client,
    oids: &[u32],
) -> Result<HashMap<u32, Constraints>, tokio_postgres::Error> {
    let rows = client.query(CONSTRAINTS_SQL, &[&oids]).await?;
    let mut out: HashMap<u32, Constraints> = HashMap::new();
    for r in rows {
        let entry = out.entry(r.try_get(0)?).or_default();
        let name: String = r.try_get(1)?;
        let columns: Vec<String> = r.try_get(3)?;
        let kind: String = r.try_get(2)?;
        let definition: String = r.try_get(11)?;
        match kind.as_str() {
            "p" => entry.primary_key = Some(KeyConstraint { name, columns }),
            "u" => entry.unique.push(KeyConstraint { name, columns }),
            "c" => entry.checks.push(Check { name, definition }),
            _ => entry.foreign_keys.push(foreign_key(&r, name)?),
        }
    }
    Ok(out)
}

/// A foreign key from a row of [`CONSTRAINTS_SQL`] or [`PARTITION_FKS_SQL`], which share
/// columns 3 to 11: key columns, referenced schema, table and columns, update and delete
/// actions, deferrability, definition.
fn foreign_key(r: &tokio_postgres::Row, name: String) -> Result<ForeignKey, tokio_postgres::Error> {
    Ok(ForeignKey {
        name,
        columns: r.try_get(3)?,
        references: QualifiedName { schema: r.try_get(4)?, name: r.try_get(5)? },
        referenced_columns: r.try_get(6)?,
        on_update: FkAction::from_code(r.try_get(7)?),
        on_delete: FkAction::from_code(r.try_get(8)?),
        deferrable: r.try_get(9)?,
        initially_deferred: r.try_get(10)?,
        definition: r.try_get(11)?,
    })
}

/// Foreign keys declared on the leaf partitions of `root` but not on `root` itself, with the
/// partitions that declare each (by signature: columns, referenced table and columns).
const PARTITION_FKS_SQL: &str = "
SELECT pc.relname::text, pn.nspname::text, con.conname::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
              ORDER BY k.i),
       fn.nspname::text, fc.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
               JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
              ORDER BY k.i),
       con.confupdtype, con.confdeltype, con.condeferrable, con.condeferred,
       pg_catalog.pg_get_constraintdef(con.oid)
  FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass) pt
  JOIN pg_catalog.pg_class pc ON pc.oid = pt.relid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
  JOIN pg_catalog.pg_constraint con ON con.conrelid = pt.relid AND con.contype = 'f'
  JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid
  JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
 WHERE pt.isleaf AND con.conparentid = 0
 ORDER BY pc.relname, con.conname";

const LEAVES_SQL: &str = "
SELECT pn.nspname::text, pc.relname::text
  FROM pg_catalog.pg_partition_tree($1::pg_catalog.oid::pg_catalog.regclass) pt
  JOIN pg_catalog.pg_class pc ON pc.oid = pt.relid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
 WHERE pt.isleaf ORDER BY pc.relname";

type FkSignature = (Vec<String>, QualifiedName, Vec<String>);

/// Foreign keys some leaf partitions of `root` declare but the root does not (Pagila's
/// `payment` is one). Each is adopted by the root when every leaf either declares it or
/// holds only rows that satisfy it (checked in the caller's snapshot), so the SQLite table
/// gets the relationship and nothing the data breaks.
async fn partition_foreign_keys(
    client: &Client,
    root: &Table,
) -> Result<Vec<ForeignKey>, tokio_postgres::Error> {
    let leaves: Vec<(String, String)> = client
        .query(LEAVES_SQL, &[&root.oid])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    // By (columns, referenced table, referenced columns): the key and the partitions declaring it.
    let mut by_signature: BTreeMap<FkSignature, (ForeignKey, Vec<String>)> = BTreeMap::new();
    for r in client.query(PARTITION_FKS_SQL, &[&root.oid]).await? {
        let partition: String = r.try_get(0)?;
        let fk = foreign_key(&r, String::new())?;
        let key = (fk.columns.clone(), fk.references.clone(), fk.referenced_columns.clone());
        by_signature.entry(key).or_insert_with(|| (fk, Vec::new())).1.push(partition);
    }
    let mut adopted = Vec::new();
    for (_, (mut fk, declared_on)) in by_signature {
        let undeclared: Vec<&(String, String)> =
            leaves.iter().filter(|(_, name)| !declared_on.contains(name)).collect();
        if satisfied_by(client, &fk, &undeclared).await? {
            fk.name = format!("{}_{}_fkey", root.name, fk.columns.join("_"));
            adopted.push(fk);
        }
    }
    Ok(adopted)
}

/// Whether every row of `leaves` satisfies `fk` (rows with a NULL in the key are exempt, as
/// in SQL's MATCH SIMPLE).
async fn satisfied_by(
    client: &Client,
    fk: &ForeignKey,
    leaves: &[&(String, String)],
) -> Result<bool, tokio_postgres::Error> {
    for (schema, name) in leaves {
        let not_null: Vec<String> =
            fk.columns.iter().map(|c| format!("l.{} IS NOT NULL", pg::quote_ident(c))).collect();
        let joins: Vec<String> = fk
            .columns
            .iter()
            .zip(&fk.referenced_columns)
            .map(|(c, r)| format!("r.{} = l.{}", pg::quote_ident(r), pg::quote_ident(c)))
            .collect();
        let sql = format!(
            "SELECT NOT EXISTS (SELECT 1 FROM ONLY {} AS l WHERE {} AND NOT EXISTS \
             (SELECT 1 FROM {} AS r WHERE {}))",
            pg::quote_qualified(schema, name),
            not_null.join(" AND "),
            pg::quote_qualified(&fk.references.schema, &fk.references.name),
            joins.join(" AND ")
        );
        if !client.query_one(&sql, &[]).await?.try_get::<_, bool>(0)? {
            return Ok(false);
        }
    }
    Ok(true)
}

const INDEXES_SQL: &str = "
SELECT i.indrelid, ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid), am.amname::text,
       i.indisunique, i.indisprimary, con.conname::text,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid), i.indnkeyatts::int4,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
               LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
              ORDER BY k.o),
       ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, o::int4, true)
               FROM generate_series(1, i.indnatts) o ORDER BY o),
       i.indoption::int2[]
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_catalog.pg_am am ON am.oid = ic.relam
  LEFT JOIN pg_catalog.pg_constraint con
         ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p','u','x')
 WHERE i.indrelid = ANY($1)
 ORDER BY i.indrelid, ic.relname";

async fn read_indexes(
    client: &Client,
    oids: &[u32],
) -> Result<HashMap<u32, Vec<Index>>, tokio_postgres::Error> {
    let rows = client.query(INDEXES_SQL, &[&oids]).await?;
    let mut out: HashMap<u32, Vec<Index>> = HashMap::new();
    for r in rows {
        let key_count = r.try_get::<_, i32>(8)? as usize;
        let names: Vec<Option<String>> = r.try_get(9)?;
        let defs: Vec<String> = r.try_get(10)?;
        let options: Vec<i16> = r.try_get(11)?;
        let mut columns = Vec::with_capacity(key_count);
        let mut include = Vec::new();
        for (i, (name, definition)) in names.into_iter().zip(defs).enumerate() {
            if i < key_count {
                let opt = options.get(i).copied().unwrap_or(0);
                columns.push(IndexColumn {
                    column: name,
                    definition,
                    descending: opt & 1 != 0,
                    nulls_first: opt & 2 != 0,
                });
            } else {
                include.push(name.unwrap_or(definition));
            }
        }
        out.entry(r.try_get(0)?).or_default().push(Index {
            name: r.try_get(1)?,
            definition: r.try_get(2)?,
            method: r.try_get(3)?,
            unique: r.try_get(4)?,
            primary: r.try_get(5)?,
            constraint: r.try_get(6)?,
            columns,
            include,
            predicate: r.try_get(7)?,
        });
    }
    Ok(out)
}
