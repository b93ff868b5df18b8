//! How stages report progress without knowing how it is shown. The library calls these
//! methods; the command line draws bars on a terminal, plain lines elsewhere, or nothing.

/// A sink for progress reports. Implementations must be cheap: stages call [`Task::add`]
/// every few thousand rows, not every row.
pub trait Progress: Sync {
    /// A unit of work begins (a table being exported, imported or checked). `total_rows` is
    /// an estimate when known.
    fn start(&self, stage: &str, name: &str, total_rows: Option<u64>) -> Box<dyn Task + '_>;

    /// A line of information, shown unless the user asked for quiet.
    fn message(&self, _text: &str) {}
}

/// Progress of one unit of work.
pub trait Task: Send {
    /// Rows and bytes done since the last call.
    fn add(&self, rows: u64, bytes: u64);
    /// The work is done; totals for the final line.
    fn finish(&self, rows: u64, bytes: u64);
}

/// Reports nothing: for tests and `--quiet`.
pub struct Silent;

struct SilentTask;

impl Progress for Silent {
    fn start(&self, _: &str, _: &str, _: Option<u64>) -> Box<dyn Task + '_> {
        Box::new(SilentTask)
    }
}

impl Task for SilentTask {
    fn add(&self, _: u64, _: u64) {}
    fn finish(&self, _: u64, _: u64) {}
}
