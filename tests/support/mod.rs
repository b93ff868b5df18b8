//! What the integration tests share: a real PostgreSQL ([`pg`]), a way to run the built
//! binary ([`cli`]), and importing and reading SQLite files ([`sqlite`]). Each test file uses only part of it, hence `dead_code` is
//! allowed here.
#![allow(dead_code)]

pub mod cli;
pub mod pg;
pub mod sqlite;
pub mod tenants;
