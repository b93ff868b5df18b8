#![warn(missing_docs)]
//! pg2lite moves a PostgreSQL database into a single SQLite file, and proves that nothing
//! was lost.
//!
//! ```text
//! Postgres ──export──▶ migration_data/<id>/ (NDJSON + manifest + SHA256SUMS)
//!                              │
//!                  transform (parallel: types, tenancy)
//!                              │
//!                   import (one transaction) ──▶ app.db   (old app.db ─▶ backups/)
//!                              │
//!                  validate (counts, keys, content, JSON, FKs) ──▶ report
//! ```
//!
//! Each stage ([`export`], [`schema`], [`import`], [`validate`], [`rollback`]) is a module
//! with a `run` function that takes an options struct and a [`progress::Progress`] sink; the
//! command line only builds those options, and [`migrate`] alone combines stages. The stages
//! never use one another: what they share is in layers below them, each using only the
//! layers below it — [`verify`] and [`transform`] (the export check and the value conversion
//! every stage applies alike), [`pg`] and [`sqlite`] (the two databases), [`mapping`] (the
//! planner: catalog → SQLite schema), [`format`](mod@format) (the NDJSON value encoding), [`model`] (the
//! export's data), and at the bottom [`sql`], [`fsio`], [`partial`], [`progress`], [`report`].
//! `tests/layers.rs` holds the rule.

pub mod export;
pub mod format;
pub mod fsio;
pub mod import;
pub mod mapping;
pub mod migrate;
pub mod model;
pub mod partial;
pub mod pg;
pub mod progress;
pub mod redact;
pub mod report;
pub mod rollback;
pub mod schema;
pub mod sign;
pub mod sql;
pub mod sqlite;
pub mod transform;
pub mod validate;
pub mod verify;
