//! What import and validate share about the SQLite file: the meta tables it describes itself
//! with (`_pg2lite_export`, `_pg2lite_columns`) and the foreign-key counting both run. A
//! layer below those stages, so neither reaches into the other.

pub mod backup;
pub mod foreign_keys;
pub mod meta;
