//! Bytes: bytea, and a table of all 256 byte values.

use super::Lost::No;
use super::Want::Blob;
use super::{Case, ImportOutcome, Render, Val, expected};
use crate::support::pg::TestDb;

/// The edge cases of bytea.
pub(super) const CASES: &[Case] = &[
    ("bytea", "''", "BLOB", Blob(&[]), No),
    ("bytea", "'\\x00ff10'", "BLOB", Blob(&[0x00, 0xff, 0x10]), No),
];

/// The table of all 256 byte values is one BLOB of exactly those bytes, as Postgres has them.
pub(super) fn check_all_bytes(db: &TestDb, out: &ImportOutcome) -> Vec<String> {
    let pg = db.query_strings("SELECT encode(v, 'hex') FROM all_bytes");
    let from_pg = expected(Render::Hex, pg[0][0].as_deref());
    let all: Vec<u8> = (0..=255).collect();
    let got = out.rows("all_bytes", &["v"], "");
    let mut failures = Vec::new();
    for want in [Val::Blob(all), from_pg] {
        if got != [[want.clone()]] {
            let got: Vec<String> = got.iter().map(|r| r[0].to_string()).collect();
            failures.push(format!("all_bytes\n  expected: {want}\n  got:      {got:?}"));
        }
    }
    failures
}
