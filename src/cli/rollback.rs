//! `pg2lite rollback`: puts a target's backup back and says where the replaced file went.

use std::process::ExitCode;

use pg2lite::rollback::{self, Backup, RollbackOptions, RollbackSummary};
use serde_json::json;

use super::{RollbackArgs, Ui};

pub fn run(args: &RollbackArgs, ui: &Ui) -> anyhow::Result<ExitCode> {
    let opts = RollbackOptions {
        target: args.target.clone(),
        backup_dir: args.backup_dir.clone(),
        to: args.to.clone(),
    };
    let summary = rollback::run(&opts, ui)?;
    ui.result(&human(&summary), &to_json(&summary))?;
    Ok(ExitCode::SUCCESS)
}

fn human(s: &RollbackSummary) -> String {
    let (target, r) = (s.target.display(), &s.restored);
    let mut text = format!(
        "restored {target} from {} ({} bytes, sha256 {})\n",
        r.path.display(),
        r.bytes,
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
