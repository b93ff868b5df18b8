//! The single integration test binary (one link, one shared test server). Each file below is
//! one area; add yours to the list.

mod support;

mod connect;
mod export;
mod format_doc;
mod harness;
mod hostile;
mod import;
mod import_values;
mod live;
mod migrate;
mod objects;
mod rollback;
mod schema;
mod tenancy;
mod validate;
mod verify;
