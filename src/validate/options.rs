//! The plan options validation converts the export with: read from the target's
//! `_pg2lite_export` when it records them ([`ImportedWith`]), so that validate needs no flag
//! repeated from import; a flag given all the same must agree with the file, and one that
//! contradicts it stops validation naming both. A file that does not record them (built
//! with `--no-meta`, or by an older pg2lite) is planned from the flags, as before.

use std::path::Path;

use super::{Error, Result};
use crate::mapping::{DatetimePolicy, NumericPolicy, Rename, SchemaFlags, Tenancy};
use crate::sqlite::meta::{ImportedWith, RecordedTenancy, numeric_word, rename_text};

/// The plan options given to validate (`--numeric`, `--strict`, ...): each one left `None`
/// is read from the target, or is import's default when the target does not record it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanFlags {
    /// `--numeric`.
    pub numeric: Option<NumericPolicy>,
    /// `--strict`.
    pub strict: Option<bool>,
    /// `--rename`, all of them; `None` when none was given (the target's record decides).
    pub renames: Option<Vec<Rename>>,
    /// `--strip-tenancy` or `--keep-tenancy`.
    pub tenancy: Option<Tenancy>,
    /// `--tenant-table-as`.
    pub tenant_table_as: Option<String>,
    /// `--datetime`.
    pub datetime: Option<DatetimePolicy>,
}

/// The options the plan is made with, and where they came from.
#[derive(Debug, Clone)]
pub(super) struct Resolved {
    pub schema: SchemaFlags,
    /// What the target records, when it does.
    pub recorded: Option<ImportedWith>,
}

/// The options to plan `target` with: what it records, or the flags when it records nothing.
///
/// # Errors
/// [`Error::Contradicts`] when a flag disagrees with what the target records.
pub(super) fn resolve(
    flags: &PlanFlags,
    recorded: Option<ImportedWith>,
    target: &Path,
) -> Result<Resolved> {
    let Some(rec) = recorded else {
        let schema = SchemaFlags {
            numeric: flags.numeric.unwrap_or_default(),
            strict: flags.strict.unwrap_or(false),
            renames: flags.renames.clone().unwrap_or_default(),
            datetime: flags.datetime.unwrap_or_default(),
            tenancy: flags.tenancy.unwrap_or_default(),
            tenant_table_as: flags.tenant_table_as.clone(),
        };
        return Ok(Resolved { schema, recorded: None });
    };
    let problems = contradictions(flags, &rec);
    if !problems.is_empty() {
        return Err(Error::Contradicts {
            target: target.display().to_string(),
            problems,
            recorded: flags_text(&rec),
        });
    }
    let schema = SchemaFlags {
        numeric: rec.numeric,
        strict: rec.strict,
        renames: rec.renames.clone(),
        datetime: rec.datetime,
        tenancy: rec.tenancy_option(),
        tenant_table_as: rec.tenant_table_as().map(str::to_owned),
    };
    Ok(Resolved { schema, recorded: Some(rec) })
}

/// Each flag that disagrees with the record, and how.
fn contradictions(flags: &PlanFlags, rec: &ImportedWith) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = flags.numeric.filter(|n| *n != rec.numeric) {
        out.push(format!(
            "--numeric {}: it was imported with --numeric {}",
            numeric_word(n),
            numeric_word(rec.numeric)
        ));
    }
    match flags.strict {
        Some(true) if !rec.strict => {
            out.push("--strict: it was imported without --strict".to_owned())
        }
        Some(false) if rec.strict => {
            out.push("without --strict: it was imported with --strict".to_owned())
        }
        _ => {}
    }
    if let Some(given) = &flags.renames
        && sorted_texts(given) != sorted_texts(&rec.renames)
    {
        out.push(format!(
            "{}: it was imported with {}",
            renames_text(given),
            renames_text(&rec.renames)
        ));
    }
    out.extend(tenancy_contradiction(flags, rec));
    if let Some(d) = flags.datetime.filter(|d| *d != rec.datetime) {
        out.push(format!(
            "--datetime {}: it was imported with --datetime {}",
            d.word(),
            rec.datetime.word()
        ));
    }
    out
}

fn tenancy_contradiction(flags: &PlanFlags, rec: &ImportedWith) -> Option<String> {
    let stripped = matches!(rec.tenancy, RecordedTenancy::Stripped { .. });
    let kept = match rec.tenancy {
        RecordedTenancy::NotScoped => "from an export of whole tables, with no tenancy to strip",
        _ => "its tenancy kept (--keep-tenancy)",
    };
    match (flags.tenancy, rec.tenant_table_as()) {
        (Some(Tenancy::Strip), _) if !stripped => {
            Some(format!("--strip-tenancy: it was imported {kept}"))
        }
        (Some(Tenancy::Keep), Some(_)) => Some(
            "--keep-tenancy: it was imported with its tenancy stripped (--strip-tenancy)"
                .to_owned(),
        ),
        (_, Some(table_as)) => match &flags.tenant_table_as {
            Some(given) if given != table_as => Some(format!(
                "--tenant-table-as {given}: it was imported with --tenant-table-as {table_as}"
            )),
            _ => None,
        },
        _ => None,
    }
}

fn sorted_texts(renames: &[Rename]) -> Vec<String> {
    let mut texts: Vec<String> = renames.iter().map(rename_text).collect();
    texts.sort();
    texts
}

fn renames_text(renames: &[Rename]) -> String {
    if renames.is_empty() {
        return "no --rename".to_owned();
    }
    renames.iter().map(|r| format!("--rename {}", rename_text(r))).collect::<Vec<_>>().join(" ")
}

/// The import's options as flags: `--numeric text --strict --rename public.t=u
/// --strip-tenancy --tenant-table-as me --datetime sqlite`.
pub(super) fn flags_text(rec: &ImportedWith) -> String {
    let mut out = vec![format!("--numeric {}", numeric_word(rec.numeric))];
    if rec.strict {
        out.push("--strict".to_owned());
    }
    out.extend(rec.renames.iter().map(|r| format!("--rename {}", rename_text(r))));
    match &rec.tenancy {
        RecordedTenancy::NotScoped => {}
        RecordedTenancy::Kept => out.push("--keep-tenancy".to_owned()),
        RecordedTenancy::Stripped { table_as } => {
            out.push(format!("--strip-tenancy --tenant-table-as {table_as}"))
        }
    }
    out.push(format!("--datetime {}", rec.datetime.word()));
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded() -> ImportedWith {
        ImportedWith {
            numeric: NumericPolicy::Text,
            strict: true,
            renames: vec!["public.t=u".parse().unwrap()],
            tenancy: RecordedTenancy::Stripped { table_as: "me".into() },
            datetime: DatetimePolicy::Iso,
        }
    }

    #[test]
    fn no_flags_take_everything_from_the_record() {
        let r = resolve(&PlanFlags::default(), Some(recorded()), Path::new("a.db")).unwrap();
        assert_eq!(r.schema.numeric, NumericPolicy::Text);
        assert!(r.schema.strict);
        assert_eq!(r.schema.renames, recorded().renames);
        assert_eq!(
            (r.schema.tenancy, r.schema.tenant_table_as.as_deref()),
            (Tenancy::Strip, Some("me"))
        );
    }

    #[test]
    fn flags_that_agree_pass_and_each_one_that_disagrees_is_named() {
        let same = PlanFlags {
            numeric: Some(NumericPolicy::Text),
            strict: Some(true),
            renames: Some(recorded().renames),
            tenancy: Some(Tenancy::Strip),
            tenant_table_as: Some("me".into()),
            datetime: Some(DatetimePolicy::Iso),
        };
        assert!(resolve(&same, Some(recorded()), Path::new("a.db")).is_ok());
        let other = PlanFlags {
            numeric: Some(NumericPolicy::Real),
            strict: Some(false),
            renames: Some(Vec::new()),
            tenancy: None,
            tenant_table_as: Some("app_config".into()),
            datetime: Some(DatetimePolicy::Sqlite),
        };
        let err = resolve(&other, Some(recorded()), Path::new("a.db")).unwrap_err().to_string();
        for needle in [
            "--numeric real: it was imported with --numeric text",
            "without --strict: it was imported with --strict",
            "no --rename: it was imported with --rename public.t=u",
            "--tenant-table-as app_config: it was imported with --tenant-table-as me",
            "--datetime sqlite: it was imported with --datetime iso",
        ] {
            assert!(err.contains(needle), "{needle}\n{err}");
        }
        let keep = PlanFlags { tenancy: Some(Tenancy::Keep), ..PlanFlags::default() };
        let err = resolve(&keep, Some(recorded()), Path::new("a.db")).unwrap_err().to_string();
        assert!(err.contains("--keep-tenancy: it was imported with its tenancy stripped"), "{err}");
    }

    #[test]
    fn without_a_record_the_flags_are_the_options() {
        let flags = PlanFlags { numeric: Some(NumericPolicy::Real), ..PlanFlags::default() };
        let r = resolve(&flags, None, Path::new("a.db")).unwrap();
        assert_eq!(r.schema.numeric, NumericPolicy::Real);
        assert!(r.recorded.is_none());
    }
}
