//! `pg2lite rollback`: puts a target's backup back and says where the replaced file went, or
//! (`--list`) lists the target's backups.

use std::process::ExitCode;

use pg2lite::report::{Align, TextTable, grouped};
use pg2lite::rollback::{self, Backup, Checksum, Listed, RollbackOptions, RollbackSummary};
use serde_json::json;

use super::{RollbackArgs, Ui};

pub fn run(args: &RollbackArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    if args.list {
        return list(args, ui);
    }
    let opts = RollbackOptions {
        target: args.target.clone(),
        backup_dir: args.backup_dir.clone(),
        to: args.to.clone(),
    };
    let summary = rollback::run(&opts, ui)?;
    ui.result(&human(&summary), &to_json(&summary))?;
    Ok(ExitCode::SUCCESS)
}

fn list(args: &RollbackArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let listed = rollback::list(&args.target, &args.backup_dir)?;
    let json = json!({
        "target": args.target,
        "backup_dir": args.backup_dir,
        "backups": listed.iter().map(listed_json).collect::<Vec<_>>(),
    });
    ui.result(&list_human(args, &listed), &json)?;
    Ok(ExitCode::SUCCESS)
}

fn list_human(args: &RollbackArgs, listed: &[Listed]) -> String {
    let (target, dir) = (args.target.display(), args.backup_dir.display());
    if listed.is_empty() {
        return format!("no backups of {target} in {dir}\n");
    }
    let n = listed.len();
    let noun = if n == 1 { "backup" } else { "backups" };
    let mut text = format!("{n} {noun} of {target} in {dir}, newest first:\n");
    let mut table = TextTable::new(&["time (UTC)", "bytes", "checksum", "backup", "note"]);
    table.align(1, Align::Right);
    for l in listed {
        table.row(vec![
            time_text(l),
            l.bytes.map(grouped).unwrap_or_else(|| "-".into()),
            l.checksum.label().into(),
            file_name(l),
            notes(l).join(", "),
        ]);
    }
    text.push_str(&table.render());
    for l in listed {
        if let Checksum::Refused(why) = &l.checksum {
            text.push_str(&format!("{}: {why}\n", file_name(l)));
        }
    }
    text
}

fn time_text(l: &Listed) -> String {
    l.time.map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()).unwrap_or_else(|| "-".into())
}

fn file_name(l: &Listed) -> String {
    l.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn notes(l: &Listed) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if l.current {
        notes.push("the current target came from it");
    }
    if l.made_by_rollback {
        notes.push("made by a rollback");
    }
    notes
}

fn listed_json(l: &Listed) -> serde_json::Value {
    let problem = match &l.checksum {
        Checksum::Refused(why) => Some(why.as_str()),
        _ => None,
    };
    json!({
        "path": l.path,
        "time": l.time.map(|t| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        "bytes": l.bytes,
        "checksum": l.checksum.label(),
        "problem": problem,
        "current": l.current,
        "made_by_rollback": l.made_by_rollback,
    })
}

fn human(s: &RollbackSummary) -> String {
    let (target, r) = (s.target.display(), &s.restored);
    let mut text = format!(
        "restored {target} from {} ({} bytes, sha256 {})\n",
        r.path.display(),
        grouped(r.bytes),
        r.sha256
    );
    match &s.previous {
        Some(p) => text.push_str(&format!(
            "the replaced {target} was backed up to {}\nundo with: pg2lite rollback --target \
             {target} --to {}\n",
            p.path.display(),
            p.path.display()
        )),
        None => {
            text.push_str(&format!("{target} did not exist before, so nothing was backed up\n"))
        }
    }
    text
}

fn to_json(s: &RollbackSummary) -> serde_json::Value {
    json!({
        "target": s.target,
        "restored": backup_json(&s.restored),
        "previous": s.previous.as_ref().map(backup_json),
    })
}

fn backup_json(b: &Backup) -> serde_json::Value {
    json!({ "path": b.path, "sha256": b.sha256, "bytes": b.bytes })
}
