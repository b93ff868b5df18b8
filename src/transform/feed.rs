//! Feeding an import while the export runs (`migrate`): the exporter hands over each table's
//! lines as it writes them, so the import needs no second read, verification or wait.
//!
//! The feed is an optimization, never a source of truth: the export directory is written
//! exactly as without it, and the receiver may go away at any time (the exporter then simply
//! stops feeding), in which case the caller imports from the files as usual.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;

use crate::model::catalog::QualifiedName;
use crate::model::manifest::Manifest;
use crate::transform::Batch;

/// What the exporter sends, in this order: `Begin` once, `Rows` any number of times (tables
/// interleaved, each table's lines in order), `End` once the export directory is complete.
#[derive(Debug)]
pub enum Fed {
    /// The manifest as it will be, less what only the data can tell (row counts, sizes,
    /// checksums, json nulls, NaN counts): enough to plan the schema.
    Begin(Box<Manifest>),
    /// Lines of one table's NDJSON file, as written to it.
    Rows {
        /// The table, by its Postgres name.
        table: QualifiedName,
        /// The lines, numbered as in the table's file (the first follows the last one sent).
        batch: Batch,
        /// The (column, line) pairs among these lines whose json value is the JSON `null`.
        json_nulls: Vec<(String, u64)>,
    },
    /// The final manifest, as written.
    End(Box<Manifest>),
}

/// The sending end, shared by the export workers.
pub struct Feeder {
    tx: SyncSender<Fed>,
    closed: AtomicBool,
}

impl Feeder {
    /// A feeder sending on `tx`; it notes when the receiver hangs up (see [`Feeder::is_open`]).
    pub fn new(tx: SyncSender<Fed>) -> Self {
        Feeder { tx, closed: AtomicBool::new(false) }
    }

    /// Whether the receiver still listens.
    pub fn is_open(&self) -> bool {
        !self.closed.load(Ordering::Relaxed)
    }

    /// Sends, or notes that the receiver has gone and stops sending.
    pub fn send(&self, message: Fed) {
        if self.is_open() && self.tx.send(message).is_err() {
            self.closed.store(true, Ordering::Relaxed);
        }
    }

    /// Sends the complete lines in `buf` (each ending in a newline), numbered from
    /// `*next_line`, which moves past them.
    pub fn lines(
        &self,
        table: &QualifiedName,
        buf: &[u8],
        next_line: &mut u64,
        json_nulls: Vec<(String, u64)>,
    ) {
        if !self.is_open() || buf.is_empty() {
            return;
        }
        let Ok(text) = std::str::from_utf8(buf) else {
            // Not reachable (the encoder writes UTF-8 only); the import from files will say.
            self.closed.store(true, Ordering::Relaxed);
            return;
        };
        let mut batch = Batch::new(*next_line);
        for line in text.split_terminator('\n') {
            batch.push_line(line);
        }
        *next_line += batch.len() as u64;
        self.send(Fed::Rows { table: table.clone(), batch, json_nulls });
    }
}
