//! The single integration test binary (one link, one shared test server). Each file below is
//! one area; add yours to the list.

mod support;

mod connect;
mod each_tenant;
mod export;
mod format_doc;
mod harness;
mod hostile;
mod import;
mod import_values;
mod layers;
mod live;
mod migrate;
mod objects;
mod output;
mod queries;
mod redact;
mod rollback;
mod schema;
mod sign;
mod tenancy;
mod tls;
mod validate;
mod verify;
