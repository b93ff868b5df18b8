//! `pg2lite import`: builds import options, asks before replacing a target, prints the summary.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use pg2lite::import::{self, ImportOptions, ImportSummary};
use pg2lite::mapping::SchemaFlags;
use serde_json::json;

use super::{ImportArgs, PlanArgs, TargetArgs, Ui};

pub fn run(args: &ImportArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let mut opts = options(&args.from, &args.target, &args.plan);
    opts.schema_file = args.schema_file.clone();
    opts.require_signature = super::sign::allowed_signers(args.require_signature.as_deref())?;
    opts.replace = confirm_replace(&args.target)?;
    let summary = import::run(&opts, ui).context("import failed")?;
    for note in &summary.notes {
        ui.info(&format!("note: {note}"));
    }
    ui.result(&human(&summary), &to_json(&summary))?;
    Ok(ExitCode::SUCCESS)
}

/// Import options from the arguments (shared with `migrate`); `replace` is left false.
pub fn options(from: &Path, target: &TargetArgs, plan: &PlanArgs) -> ImportOptions {
    ImportOptions {
        from: from.to_owned(),
        target: target.target.clone(),
        schema: schema_flags(plan),
        schema_file: None,
        backup_dir: target.options.backup_dir.clone(),
        backup: !target.options.no_backup,
        meta: !target.options.no_meta,
        replace: false,
        wal: target.options.wal,
        require_signature: None,
    }
}

/// The schema flags of import, schema and migrate, defaults filled in.
pub fn schema_flags(plan: &PlanArgs) -> SchemaFlags {
    SchemaFlags {
        numeric: plan.numeric.unwrap_or_default(),
        strict: plan.strict,
        renames: plan.rename.clone(),
        datetime: plan.datetime.unwrap_or_default(),
        tenancy: plan.tenancy().unwrap_or_default(),
        tenant_table_as: plan.tenant_table_as.clone(),
    }
}

/// Whether an existing target may be replaced: `--yes`, or the user's answer on a terminal.
/// Without a terminal and without `--yes` the answer is no, and import says why.
pub fn confirm_replace(target: &TargetArgs) -> anyhow::Result<bool> {
    let options = &target.options;
    if options.yes || !target.target.exists() {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    let backup = if options.no_backup {
        "it will NOT be backed up (--no-backup)".to_owned()
    } else {
        format!("it is backed up to {} first", options.backup_dir.display())
    };
    eprint!("{} exists; replace it? ({backup}) [y/N] ", target.target.display());
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}

fn human(s: &ImportSummary) -> String {
    let rows: u64 = s.tables.iter().map(|t| t.rows).sum();
    let mut out = format!(
        "imported {}, {} into {} in {:.1} s (export {})\n",
        pg2lite::report::count(s.tables.len() as u64, "table"),
        pg2lite::report::count(rows, "row"),
        s.target.display(),
        s.seconds,
        s.export_id
    );
    for t in &s.tables {
        for (column, loss) in &t.lossy {
            let detail = loss.describe().unwrap_or_default();
            out.push_str(&format!("lossy: {}.{column}: {detail}\n", t.name));
        }
    }
    for skipped in &s.skipped {
        out.push_str(&format!(
            "skipped: {}.{}: {}\n",
            skipped.source.schema, skipped.source.name, skipped.why
        ));
    }
    if let Some(b) = &s.backup {
        out.push_str(&format!(
            "previous file backed up to {} (sha256 {})\n",
            b.path.display(),
            b.sha256
        ));
    }
    if let Some(status) = &s.signature {
        out.push_str(&super::sign::describe(status));
        out.push('\n');
    }
    out.push_str(&objects_line(&s.notes));
    out.push_str(&open_hint(&s.target));
    out
}

/// `not carried over: N database objects ...` when the notes list any, pointing at the list.
pub fn objects_line(notes: &[pg2lite::mapping::Note]) -> String {
    let count = notes.iter().filter(|n| n.what.ends_with("not carried over")).count();
    if count == 0 {
        return String::new();
    }
    format!(
        "not carried over: {count} database objects (views, triggers, functions, ...), each \
         listed as a note above and in `pg2lite schema`\n"
    )
}

/// The closing lines of an import or migrate: how to open the file, and the one SQLite habit
/// that surprises people coming from Postgres (foreign keys are off unless a connection asks).
pub fn open_hint(target: &Path) -> String {
    format!(
        "open it: sqlite3 {}\n\
         SQLite enforces the foreign keys only on connections that first run \
         PRAGMA foreign_keys = ON\n",
        shell_quoted(&target.display().to_string())
    )
}

/// `word` as a shell would need it typed: bare when it is plainly safe, else single-quoted.
fn shell_quoted(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn to_json(s: &ImportSummary) -> serde_json::Value {
    json!({
        "target": s.target,
        "export_id": s.export_id,
        "manifest_sha256": s.manifest_sha256,
        "seconds": s.seconds,
        "tables": s.tables.iter().map(|t| json!({
            "source": t.source,
            "table": t.name,
            "rows": t.rows,
            "seconds": t.seconds,
            "lossy": t.lossy.iter().map(|(c, l)| json!({
                "column": c, "values": l.total(), "detail": l.describe(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "skipped": s.skipped.iter().map(|k| json!({
            "table": format!("{}.{}", k.source.schema, k.source.name), "why": k.why,
        })).collect::<Vec<_>>(),
        "notes": s.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "signature": s.signature,
        "backup": s.backup.as_ref().map(|b| json!({
            "path": b.path, "sha256": b.sha256, "bytes": b.bytes,
        })),
    })
}
