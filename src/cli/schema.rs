//! `pg2lite schema`: writes the SQLite DDL import would use, for review and editing. Each
//! note (something not carried over, and why) goes to stderr as one line, and is in the file
//! as a comment. `--out -` prints the DDL on stdout instead of writing a file.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use pg2lite::mapping;
use pg2lite::schema::{self, SchemaFrom, WriteOptions};
use serde_json::json;

use super::export::resolve_source;
use super::import::schema_flags;
use super::{SchemaArgs, Ui};

pub fn run(args: &SchemaArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let from = match &args.from {
        Some(dir) => {
            if args.source.given() {
                anyhow::bail!("give either --from EXPORT_DIR or --source URL, not both");
            }
            SchemaFrom::Export(dir.clone())
        }
        None => SchemaFrom::Database(Box::new(resolve_source(&args.source)?)),
    };
    let opts = WriteOptions { from, out: args.out.clone(), schema: schema_flags(&args.plan) };
    if args.out.as_deref() == Some(std::path::Path::new("-")) {
        return print_schema(&opts, ui);
    }
    let written = schema::write_schema(&opts).context("no schema written")?;
    for note in &written.plan.notes {
        eprintln!("note: {note}");
    }
    ui.result(&human(&written), &to_json(&written))?;
    Ok(ExitCode::SUCCESS)
}

/// `--out -`: the DDL on stdout, as `pg_dump -f -` does, and no file; the notes and the
/// counts go to stderr, so stdout holds only SQL (`--json` prints no summary here).
fn print_schema(opts: &WriteOptions, ui: &Ui) -> anyhow::Result<ExitCode> {
    let (_, plan) = schema::plan_schema(opts).context("no schema written")?;
    let text = mapping::ddl(&plan);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).context("cannot write the schema")?;
    for note in &plan.notes {
        eprintln!("note: {note}");
    }
    let indexes: usize = plan.tables.iter().map(|t| t.create_indexes.len()).sum();
    ui.info(&format!(
        "wrote the schema to stdout: {}",
        objects(plan.tables.len(), indexes, plan.notes.len())
    ));
    Ok(ExitCode::SUCCESS)
}

fn human(w: &schema::Written) -> String {
    let indexes: usize = w.plan.tables.iter().map(|t| t.create_indexes.len()).sum();
    format!(
        "wrote {}: {}\n",
        w.path.display(),
        objects(w.plan.tables.len(), indexes, w.plan.notes.len())
    )
}

/// `15 tables, 1 index, 2 notes`.
fn objects(tables: usize, indexes: usize, notes: usize) -> String {
    use pg2lite::report::{count, count_as};
    let (tables, notes) = (count(tables as u64, "table"), count(notes as u64, "note"));
    format!("{tables}, {}, {notes}", count_as(indexes as u64, "index", "indexes"))
}

fn to_json(w: &schema::Written) -> serde_json::Value {
    json!({
        "path": w.path,
        "bytes": w.bytes,
        "tables": w.plan.tables.iter().map(|t| json!({
            "source": t.display_name(), "name": t.name, "indexes": t.create_indexes.len(),
        })).collect::<Vec<_>>(),
        "skipped": w.plan.skipped.iter().map(|s| json!({
            "source": format!("{}.{}", s.source.schema, s.source.name), "why": s.why,
        })).collect::<Vec<_>>(),
        "notes": w.plan.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
