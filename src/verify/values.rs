//! Verify's view of the format's value rules (`crate::format`): a value they refuse becomes
//! a [`ProblemKind`], so the auditor sees the very rules import converts by.

use serde_json::value::RawValue;

use super::problem::ProblemKind;
use crate::format::{ColumnRule, Reason};

/// What is wrong with one cell, if anything.
pub fn check_cell(raw: &RawValue, rule: &ColumnRule) -> Option<ProblemKind> {
    let m = rule.check(raw.get()).err()?;
    Some(match m.reason {
        Reason::Null => ProblemKind::Null,
        reason => {
            ProblemKind::Value { path: m.path, value: m.value, type_name: m.type_name, reason }
        }
    })
}
