//! `pg2lite schema`: writes the SQLite DDL import would use, for review and editing. Each
//! note (something not carried over, and why) goes to stderr as one line, and is in the file
//! as a comment.

use std::process::ExitCode;

use anyhow::Context;
use pg2lite::schema::{self, SchemaFrom, WriteOptions};
use serde_json::json;

use super::export::resolve_source;
use super::import::{schema_options, tenancy};
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
    let opts = WriteOptions {
        from,
        out: args.out.clone(),
        schema: schema_options(&args.plan),
        tenancy: tenancy(&args.plan),
        tenant_table_as: args.plan.tenant_table_as.clone(),
    };
    let written = schema::write_schema(&opts).context("no schema written")?;
    for note in &written.plan.notes {
        eprintln!("note: {note}");
    }
    ui.result(&human(&written), &to_json(&written))?;
    Ok(ExitCode::SUCCESS)
}

fn human(w: &schema::Written) -> String {
    let indexes: usize = w.plan.tables.iter().map(|t| t.create_indexes.len()).sum();
    format!(
        "wrote {}: {} tables, {indexes} indexes, {} notes\n",
        w.path.display(),
        w.plan.tables.len(),
        w.plan.notes.len()
    )
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
