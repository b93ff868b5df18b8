//! What the integration tests share: a real PostgreSQL ([`pg`]) and a way to run the built
//! binary ([`cli`]). Each test file uses only part of it, hence `dead_code` is allowed here.
#![allow(dead_code)]

pub mod cli;
pub mod pg;
