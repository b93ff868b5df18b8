//! Where a numeric or money column goes under `--numeric auto` (issue 14, DESIGN "Transform"):
//! a `numeric(p,s)` whose declaration settles it keeps the rule of its declaration (INTEGER when
//! s ≤ 0 and p − s ≤ 18, REAL when p ≤ 15); every other one (unconstrained, p > 15, money,
//! domains over them) is decided from its values, by the facts the export recorded
//! ([`NumericFacts`]): INTEGER when every value is a whole number that fits 64 bits, REAL when
//! every value survives a double exactly, TEXT only when some value cannot (with a note naming
//! the count and `--numeric real`). A column whose facts are not known yet (`schema --source`,
//! a dry run, a fed import's draft) is planned as TEXT and says that the data decides; an
//! export that predates the facts is read once first ([`with_scanned_facts`]).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::value::RawValue;

use super::{Error, NumericPolicy};
use crate::mapping::NumericTarget;
use crate::model::catalog::{PgType, QualifiedName, TypeKind};
use crate::model::manifest::{Manifest, NumericFacts};

/// How one numeric column's target was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// By `--numeric text|real`, or by a declaration that settles it.
    Fixed(NumericTarget),
    /// From the facts of the column's values.
    FromData(NumericTarget, NumericFacts),
    /// The values decide, and they are not known yet: TEXT for now.
    Pending,
}

impl Decision {
    /// The storage this decision gives.
    pub fn target(self) -> NumericTarget {
        match self {
            Self::Fixed(t) | Self::FromData(t, _) => t,
            Self::Pending => NumericTarget::Text,
        }
    }

    /// The mapping's name for `_pg2lite_columns.mapping`, when it is decided from data.
    pub fn mapping(self) -> Option<&'static str> {
        match self {
            Self::FromData(NumericTarget::Integer, _) => {
                Some("numeric→INTEGER (all values integral)")
            }
            Self::FromData(NumericTarget::Real, _) => {
                Some("numeric→REAL (every value round-trips a double)")
            }
            Self::FromData(NumericTarget::Text, _) => {
                Some("numeric→TEXT (exact decimal text: some value fits neither INTEGER nor REAL)")
            }
            Self::Pending => Some("numeric→TEXT (decided from the data at import)"),
            Self::Fixed(_) => None,
        }
    }

    /// What a note should say of the decision (what, why), when anything.
    pub fn note(self) -> Option<(String, String)> {
        match self {
            Self::FromData(NumericTarget::Text, f) => Some((
                "kept as TEXT".into(),
                format!(
                    "{} value(s) fit neither INTEGER nor a double exactly (up to {} digits), so \
                     it holds the exact decimal text and compares as text; --numeric real \
                     makes it REAL, rounding them",
                    f.not_double, f.max_digits
                ),
            )),
            Self::FromData(t, f) if f.scanned => Some((
                format!(
                    "{} from a first pass over its data",
                    crate::mapping::Conversion::Numeric(t).sqlite_type()
                ),
                "the export predates the numeric facts pg2lite records, so its values were \
                 read once before loading to decide"
                    .into(),
            )),
            Self::Pending => Some((
                "type decided from the data".into(),
                "unconstrained numeric, precision above 15, or money: INTEGER when every value \
                 is whole and fits 64 bits, REAL when every value round-trips a double, else \
                 TEXT; planned as TEXT until the data is known"
                    .into(),
            )),
            _ => None,
        }
    }
}

/// The target settled by a numeric's declaration (`numeric(p,s)`), if it is.
pub fn by_declaration(precision: Option<u32>, scale: Option<i32>) -> Option<NumericTarget> {
    match (precision, scale) {
        (Some(p), Some(s)) if s <= 0 && i64::from(p) - i64::from(s) <= 18 => {
            Some(NumericTarget::Integer)
        }
        (Some(p), _) if p <= 15 => Some(NumericTarget::Real),
        _ => None,
    }
}

/// Whether a column of type `ty` is numeric or money whose values decide its storage.
pub fn decided_by_data(ty: &PgType) -> bool {
    match &ty.kind {
        TypeKind::Base { base, precision, scale } => match base.as_str() {
            "numeric" => by_declaration(*precision, *scale).is_none(),
            "money" => true,
            _ => false,
        },
        _ => false,
    }
}

/// The target from the facts: INTEGER, else REAL, else TEXT.
pub fn from_facts(f: &NumericFacts) -> NumericTarget {
    if f.not_integer == 0 {
        NumericTarget::Integer
    } else if f.not_double == 0 {
        NumericTarget::Real
    } else {
        NumericTarget::Text
    }
}

/// The decision for a numeric or money column of type `ty` (precision and scale from the
/// type, none for money), under `policy`, with its facts when known.
pub fn decide(ty: &PgType, policy: NumericPolicy, facts: Option<&NumericFacts>) -> Decision {
    let (precision, scale) = match &ty.kind {
        TypeKind::Base { base, precision, scale } if base == "numeric" => (*precision, *scale),
        _ => (None, None),
    };
    match policy {
        NumericPolicy::Text => Decision::Fixed(NumericTarget::Text),
        NumericPolicy::Real => Decision::Fixed(NumericTarget::Real),
        NumericPolicy::Auto => match (by_declaration(precision, scale), facts) {
            (Some(t), _) => Decision::Fixed(t),
            (None, Some(f)) => Decision::FromData(from_facts(f), *f),
            (None, None) => Decision::Pending,
        },
    }
}

/// The facts the manifest records, keyed by (table, column).
pub fn recorded(m: &Manifest) -> BTreeMap<(QualifiedName, String), NumericFacts> {
    let mut out = BTreeMap::new();
    for t in &m.tables {
        let q = QualifiedName { schema: t.table.schema.clone(), name: t.table.name.clone() };
        for (c, f) in &t.numeric_facts {
            out.insert((q.clone(), c.clone()), *f);
        }
    }
    out
}

/// `m` with the facts of every column decided by data that it does not record, learnt by
/// reading that column's values once (an export made before pg2lite recorded them); each
/// such fact is marked [`NumericFacts::scanned`]. `m` as it is when it records them all.
/// The export must have been verified first: this reads its files.
///
/// # Errors
/// [`Error::Scan`] when a data file cannot be read.
pub fn with_scanned_facts(dir: &Path, m: &Manifest) -> Result<Manifest, Error> {
    let mut out = m.clone();
    for entry in &mut out.tables {
        let missing: Vec<String> = entry
            .table
            .columns
            .iter()
            .filter(|c| decided_by_data(&c.ty) && !entry.numeric_facts.contains_key(&c.name))
            .map(|c| c.name.clone())
            .collect();
        if missing.is_empty() {
            continue;
        }
        let scanned = scan(dir, &entry.file, &missing)?;
        entry.numeric_facts.extend(scanned);
    }
    Ok(out)
}

/// The facts of `columns` in one data file.
fn scan(
    dir: &Path,
    file: &str,
    columns: &[String],
) -> Result<BTreeMap<String, NumericFacts>, Error> {
    let fail = |why: String| Error::Scan { file: file.to_owned(), why };
    let f = crate::fsio::open(dir, file).map_err(|e| fail(e.to_string()))?;
    let mut facts: BTreeMap<String, NumericFacts> = columns
        .iter()
        .map(|c| (c.clone(), NumericFacts { scanned: true, ..NumericFacts::default() }))
        .collect();
    for line in BufReader::with_capacity(1 << 20, f).lines() {
        let line = line.map_err(|e| fail(e.to_string()))?;
        // A line that is not a JSON object is the import's to refuse, with its line number.
        let Ok(row) = serde_json::from_str::<BTreeMap<String, &RawValue>>(&line) else {
            continue;
        };
        for (column, f) in facts.iter_mut() {
            let Some(raw) = row.get(column).map(|r| r.get()) else { continue };
            if raw == "null" {
                continue;
            }
            f.observe(raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or("?"));
        }
    }
    Ok(facts)
}
