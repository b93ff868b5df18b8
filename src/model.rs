//! The export's data model, below every stage: the catalog of the exported tables, the
//! manifest that records it with every file's checksum and how each table was filtered, and
//! the selection of tables by pattern. Plain data and pure functions: no I/O but the
//! manifest's own file, no Postgres, no SQLite.

pub mod catalog;
pub mod manifest;
pub mod objects;
pub mod select;
