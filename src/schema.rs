//! `pg2lite schema`: plans the SQLite schema of an export (from its sealed manifest) or of a
//! live database (from its catalog), and writes the DDL [`crate::mapping::ddl`] produces to a file.
//!
//! Reads: `<export>/manifest.json` (its seal checked) or the Postgres catalog. Writes: the
//! output file only, through `<out>.partial` and a rename, so a half-written schema never
//! has the final name. Planning from an export and from the database it was made from gives
//! the same DDL but for the header lines that name the origin.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::mapping::Tenancy;
use crate::model::manifest::{self, Manifest};
use crate::pg::catalog;
use crate::pg::{self, Source};

use crate::mapping::{ExportFacts, Header, Plan, SchemaFlags, ddl, plan};

/// Where the tables come from.
#[derive(Debug, Clone)]
pub enum SchemaFrom {
    /// An export directory (`--from`).
    Export(PathBuf),
    /// A live database (`--source`).
    Database(Box<Source>),
}

/// What `pg2lite schema` is asked to do.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// An export directory or a live database.
    pub from: SchemaFrom,
    /// The file to write; `None` for `schema/<database>.sql`.
    pub out: Option<PathBuf>,
    /// What the user asked of the schema, tenancy included (decided as import decides it);
    /// the header and the tenancy found come from the origin.
    pub schema: SchemaFlags,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The plan the DDL was generated from (tables, columns, conversions), for the summary.
    pub plan: Plan,
}

/// Why `pg2lite schema` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The export's manifest is missing, unreadable, malformed or its seal does not match.
    #[error(transparent)]
    Manifest(#[from] manifest::Error),
    /// Connecting to the database or reading its catalog failed.
    #[error(transparent)]
    Source(#[from] pg::Error),
    /// The tables cannot be mapped to SQLite (a name clash, a bad `--rename` or `--numeric`, a
    /// tenancy that cannot be stripped).
    #[error(transparent)]
    Plan(#[from] crate::mapping::Error),
    /// `--strip-tenancy` was given for an export that is not tenant-scoped.
    #[error(
        "--strip-tenancy: {dir} is not a tenant-scoped export (it was made without \
         --tenant-column), so there is no tenant column to strip"
    )]
    NotTenantScoped {
        /// The export directory.
        dir: PathBuf,
    },
    /// `--strip-tenancy` was given with `--source`, which has no tenant to strip.
    #[error(
        "--strip-tenancy needs --from a tenant-scoped export: a database read with --source \
         has no tenant filter"
    )]
    StripNeedsExport,
    /// Creating the output's directory or writing the file failed (or the async runtime
    /// could not start: then `path` is `.`).
    #[error("{path}: cannot {action}: {cause}")]
    Io {
        /// What was being done, as a verb phrase ("create the directory", "write").
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        cause: io::Error,
    },
    /// The output path lies inside the export directory, where an extra file would make the
    /// export fail verify.
    #[error(
        "{path} is inside the export directory {dir}, which must hold only what export wrote \
         (a file there fails verify and every later import); give --out a path outside it"
    )]
    InsideExport {
        /// The output path given.
        path: PathBuf,
        /// The export directory.
        dir: PathBuf,
    },
}

/// Plans the schema and writes its DDL.
///
/// # Errors
/// A changed or unreadable manifest, a connection or catalog error, a planning error (name
/// collisions, bad renames), an impossible `--strip-tenancy`, or an I/O error naming the file.
/// The output file is left untouched on any error.
pub fn write_schema(opts: &WriteOptions) -> Result<Written, CommandError> {
    let (database, plan) = plan_schema(opts)?;
    let path = opts.out.clone().unwrap_or_else(|| default_out(&database));
    if let SchemaFrom::Export(dir) = &opts.from
        && crate::fsio::is_inside(dir, &path).unwrap_or(false)
    {
        return Err(CommandError::InsideExport { path, dir: dir.clone() });
    }
    let text = ddl(&plan);
    write_atomically(&path, text.as_bytes())?;
    Ok(Written { path, bytes: text.len() as u64, plan })
}

/// The database's name and the plan, from the export or the database `opts` names (for
/// `schema --out -`, which prints the DDL instead of writing a file).
///
/// # Errors
/// See [`write_schema`].
pub fn plan_schema(opts: &WriteOptions) -> Result<(String, Plan), CommandError> {
    match &opts.from {
        SchemaFrom::Export(dir) => plan_export(dir, opts),
        SchemaFrom::Database(source) => plan_database(source, opts),
    }
}

/// The plan of the tables an export holds, as import makes it.
///
/// # Errors
/// See [`write_schema`].
pub fn plan_export(dir: &Path, opts: &WriteOptions) -> Result<(String, Plan), CommandError> {
    let m = Manifest::load(dir)?;
    let m = crate::mapping::numeric::with_scanned_facts(dir, &m).map_err(CommandError::Plan)?;
    let plan = crate::mapping::plan_export(&m, &opts.schema).map_err(|e| match e {
        crate::mapping::Error::NotTenantScoped => CommandError::NotTenantScoped { dir: dir.into() },
        other => CommandError::Plan(other),
    })?;
    Ok((m.source.database.clone(), plan))
}

fn plan_database(source: &Source, opts: &WriteOptions) -> Result<(String, Plan), CommandError> {
    if opts.schema.tenancy == Tenancy::Strip {
        return Err(CommandError::StripNeedsExport);
    }
    let catalog = read_catalog(source)?;
    let facts = ExportFacts {
        header: Header { source: Some(source.to_string()), export_id: None },
        objects: catalog.objects.clone(),
        ..ExportFacts::default()
    };
    Ok((catalog.database, plan(&catalog.tables, &opts.schema, &facts)?))
}

fn read_catalog(source: &Source) -> Result<catalog::Catalog, CommandError> {
    let rt = crate::pg::runtime().map_err(|cause| CommandError::Io {
        action: "start the async runtime",
        path: PathBuf::from("."),
        cause,
    })?;
    rt.block_on(async {
        let client = source.connect().await?;
        Ok(catalog::read(&client, source).await?)
    })
}

/// `schema/<database>.sql`, the database name made safe as a file name.
pub fn default_out(database: &str) -> PathBuf {
    let mut name: String = database
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    Path::new("schema").join(format!("{name}.sql"))
}

/// Writes `path` through `<path>.partial` and a durable rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CommandError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err("create the directory", dir))?;
    }
    crate::partial::write_durably(path, bytes).map_err(io_err("write", path))
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CommandError + use<> {
    let path = path.to_owned();
    move |cause| CommandError::Io { action, path, cause }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_output_is_named_after_the_database_and_safe_as_a_file_name() {
        assert_eq!(default_out("pagila"), Path::new("schema/pagila.sql"));
        assert_eq!(default_out("a/b c"), Path::new("schema/a_b_c.sql"));
        assert_eq!(default_out(".."), Path::new("schema/_...sql"));
        assert_eq!(default_out(""), Path::new("schema/_.sql"));
    }
}
