//! The scratch database where the two sides of a table that differ meet: a throwaway SQLite
//! file (in a temporary directory beside the target, so it lives on the disk that holds the
//! database rather than in a memory-backed /tmp) with one row per row of each side (of the
//! buckets whose digests differ: the other rows are the same on both sides):
//!
//! - `e (key BLOB, digest BLOB, line INTEGER)`: the export, `line` its line in the file;
//! - `s (key BLOB, digest BLOB, rid INTEGER)`: SQLite, `rid` its rowid where known.
//!
//! `key` is the canonical encoding of the primary key's values, or the row digest itself for
//! a table without one (whose rows are then compared as a multiset). Comparisons are set
//! operations inside SQLite (`EXCEPT` both ways, a join on the key), which spill to disk:
//! memory stays bounded whatever the table's size (the page cache, which also bounds the
//! sorter, is 8 MiB).

use std::path::Path;

use rusqlite::{Connection, Statement, params};
use tempfile::TempDir;

use super::{Error, Result, sqlite_err};

/// How many keys or rows each comparison shows.
pub(super) const SHOWN: usize = 5;

pub(super) struct Scratch {
    conn: Connection,
    /// Removed (with the database in it) when the scratch is dropped.
    _dir: TempDir,
}

/// Which side a row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Export,
    Sqlite,
}

impl Side {
    fn table(self) -> &'static str {
        match self {
            Side::Export => "e",
            Side::Sqlite => "s",
        }
    }
}

/// Rows of one side that the other lacks: the first few, and how many in all.
#[derive(Debug, Clone, Default)]
pub(super) struct OneSided {
    pub count: u64,
    /// Key (or digest) and where the row is: the export's line or SQLite's rowid.
    pub first: Vec<(Vec<u8>, Option<i64>)>,
}

/// Rows under the same key whose digests differ.
#[derive(Debug, Clone, Default)]
pub(super) struct Different {
    pub count: u64,
    /// Key, export line.
    pub first: Vec<(Vec<u8>, i64)>,
}

const SETTINGS: &str = "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
    PRAGMA temp_store = FILE; PRAGMA cache_size = -8192; PRAGMA locking_mode = EXCLUSIVE;";

impl Scratch {
    /// Creates the scratch database in a new temporary directory inside `near`.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be made, [`Error::Sqlite`] for the database.
    pub(super) fn create(near: &Path) -> Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix(".pg2lite-validate-")
            .tempdir_in(near)
            .map_err(|source| Error::Io { path: near.display().to_string(), cause: source })?;
        let conn = Connection::open(dir.path().join("scratch.db"))
            .map_err(sqlite_err("cannot create the scratch database"))?;
        conn.execute_batch(SETTINGS)
            .map_err(sqlite_err("cannot configure the scratch database"))?;
        Ok(Scratch { conn, _dir: dir })
    }

    /// Empties both sides and opens a transaction for loading one table.
    pub(super) fn begin(&self) -> Result<()> {
        self.conn
            .execute_batch(
                "DROP TABLE IF EXISTS e; DROP TABLE IF EXISTS s; \
                 CREATE TABLE e (key BLOB NOT NULL, digest BLOB NOT NULL, line INTEGER); \
                 CREATE TABLE s (key BLOB NOT NULL, digest BLOB NOT NULL, rid INTEGER); BEGIN;",
            )
            .map_err(sqlite_err("cannot prepare the scratch database"))
    }

    /// The statement that stores a row of `side`: `(key, digest, line or rowid)`.
    pub(super) fn insert(&self, side: Side) -> Result<Statement<'_>> {
        let sql = format!("INSERT INTO {} VALUES (?1, ?2, ?3)", side.table());
        self.conn.prepare(&sql).map_err(sqlite_err("cannot write to the scratch database"))
    }

    /// Commits the loaded rows and indexes both sides by key.
    pub(super) fn finish_load(&self) -> Result<()> {
        self.conn
            .execute_batch(
                "COMMIT; CREATE INDEX e_key ON e (key, digest); \
                 CREATE INDEX s_key ON s (key, digest);",
            )
            .map_err(sqlite_err("cannot index the scratch database"))
    }

    /// Rows whose key is on `side` and not on the other: `EXCEPT`, smallest keys first.
    pub(super) fn only_on(&self, side: Side) -> Result<OneSided> {
        let (this, other) = match side {
            Side::Export => ("e", "s"),
            Side::Sqlite => ("s", "e"),
        };
        let set = format!("SELECT key FROM {this} EXCEPT SELECT key FROM {other}");
        let count = self.count(&format!("SELECT count(*) FROM ({set})"))?;
        let at = if side == Side::Export { "line" } else { "rid" };
        let sql = format!(
            "SELECT k.key, (SELECT min({at}) FROM {this} WHERE key = k.key) \
             FROM ({set} ORDER BY 1 LIMIT {SHOWN}) AS k ORDER BY 1"
        );
        Ok(OneSided { count, first: self.keys(&sql)? })
    }

    /// Rows of a table without a key that one side holds more often than the other:
    /// multisets compared by digest, so a duplicated row is one extra.
    pub(super) fn surplus_on(&self, side: Side) -> Result<OneSided> {
        let (this, other, at) = match side {
            Side::Export => ("e", "s", "line"),
            Side::Sqlite => ("s", "e", "rid"),
        };
        let grouped = format!(
            "WITH a AS (SELECT key, count(*) AS n, min({at}) AS at FROM {this} GROUP BY key), \
             b AS (SELECT key, count(*) AS n FROM {other} GROUP BY key) \
             SELECT a.key, a.n - coalesce(b.n, 0) AS surplus, a.at FROM a \
             LEFT JOIN b ON b.key = a.key WHERE a.n > coalesce(b.n, 0)"
        );
        let count = self.count(&format!("SELECT coalesce(sum(surplus), 0) FROM ({grouped})"))?;
        let sql = format!("SELECT key, at FROM ({grouped}) ORDER BY at LIMIT {SHOWN}");
        Ok(OneSided { count, first: self.keys(&sql)? })
    }

    /// Keys on both sides whose rows differ.
    pub(super) fn different(&self) -> Result<Different> {
        let join = "FROM e JOIN s ON s.key = e.key WHERE s.digest <> e.digest";
        let count = self.count(&format!("SELECT count(*) {join}"))?;
        let sql = format!("SELECT e.key, e.line {join} ORDER BY e.key LIMIT {SHOWN}");
        let mut stmt = self.conn.prepare(&sql).map_err(sqlite_err("cannot compare rows"))?;
        let first = stmt
            .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(sqlite_err("cannot compare rows"))?;
        Ok(Different { count, first })
    }

    fn count(&self, sql: &str) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row(sql, [], |r| r.get(0))
            .map_err(sqlite_err("cannot compare the two sides"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn keys(&self, sql: &str) -> Result<Vec<(Vec<u8>, Option<i64>)>> {
        let mut stmt =
            self.conn.prepare(sql).map_err(sqlite_err("cannot compare the two sides"))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(sqlite_err("cannot compare the two sides"))
    }
}

/// Stores one row of a side.
pub(super) fn store(
    insert: &mut Statement<'_>,
    key: &[u8],
    digest: &[u8],
    at: Option<i64>,
) -> Result<()> {
    insert
        .execute(params![key, digest, at])
        .map(drop)
        .map_err(sqlite_err("cannot write to the scratch database"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(export: &[(&[u8], &[u8])], sqlite: &[(&[u8], &[u8])]) -> Result<Scratch> {
        let dir = std::env::temp_dir();
        let s = Scratch::create(&dir)?;
        s.begin()?;
        {
            let mut e = s.insert(Side::Export)?;
            for (i, (k, d)) in export.iter().enumerate() {
                store(&mut e, k, d, Some(i as i64 + 1))?;
            }
            let mut q = s.insert(Side::Sqlite)?;
            for (i, (k, d)) in sqlite.iter().enumerate() {
                store(&mut q, k, d, Some(i as i64 + 100))?;
            }
        }
        s.finish_load()?;
        Ok(s)
    }

    #[test]
    fn keys_missing_extra_and_different_are_found_both_ways() -> Result<()> {
        let s = loaded(
            &[(b"1", b"a"), (b"2", b"b"), (b"3", b"c")],
            &[(b"1", b"a"), (b"3", b"X"), (b"4", b"d")],
        )?;
        let missing = s.only_on(Side::Export)?;
        assert_eq!((missing.count, missing.first), (1, vec![(b"2".to_vec(), Some(2))]));
        let extra = s.only_on(Side::Sqlite)?;
        assert_eq!((extra.count, extra.first), (1, vec![(b"4".to_vec(), Some(102))]));
        let diff = s.different()?;
        assert_eq!((diff.count, diff.first), (1, vec![(b"3".to_vec(), 3)]));
        Ok(())
    }

    #[test]
    fn multisets_count_duplicates() -> Result<()> {
        let s = loaded(
            &[(b"r1", b"r1"), (b"r2", b"r2"), (b"r3", b"r3")],
            &[(b"r1", b"r1"), (b"r1", b"r1"), (b"r2", b"r2"), (b"r9", b"r9")],
        )?;
        let missing = s.surplus_on(Side::Export)?;
        assert_eq!((missing.count, missing.first), (1, vec![(b"r3".to_vec(), Some(3))]));
        let extra = s.surplus_on(Side::Sqlite)?;
        assert_eq!(extra.count, 2);
        assert_eq!(extra.first.len(), 2);
        Ok(())
    }

    #[test]
    fn at_most_the_first_few_are_kept_but_all_are_counted() -> Result<()> {
        let keys: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i]).collect();
        let rows: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (&k[..], &k[..])).collect();
        let s = loaded(&rows, &[])?;
        let missing = s.only_on(Side::Export)?;
        assert_eq!(missing.count, 20);
        let firsts: Vec<Vec<u8>> = missing.first.into_iter().map(|(k, _)| k).collect();
        assert_eq!(firsts, keys[..SHOWN].to_vec());
        Ok(())
    }
}
