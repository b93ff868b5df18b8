//! The NDJSON value encoding's rules, in one place below the stages that read exports: what
//! a value of each column type looks like (DESIGN.md's encoding table and its fine points),
//! and when a column may hold `null`.
//!
//! `verify --deep` reports every value that breaks them; import (and validate, which converts
//! as import does) refuses it while converting, in `transform`. Both ask the same [`Rules`],
//! built from the same catalog, so import accepts exactly what verify accepts.

mod datetime;
pub(crate) mod decimal;
pub mod encode;
pub mod json;
pub mod numeric_facts;
mod time_form;
mod values;

pub use time_form::TimeForm;
pub use values::{ColumnRule, Misfit, Reason, Rules, decode_bytea};
