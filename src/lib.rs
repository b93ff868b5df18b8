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
//! Each stage is a module with a `run` function that takes an options struct and a
//! [`progress::Progress`] sink; the command line in `main.rs` only builds those options.

pub mod catalog;
pub mod export;
pub mod format;
pub mod fsio;
pub mod import;
pub mod manifest;
pub mod partial;
pub mod pg;
pub mod progress;
pub mod redact;
pub mod report;
pub mod rollback;
pub mod schema;
pub mod transform;
pub mod validate;
pub mod verify;
