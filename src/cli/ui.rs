//! What the user sees while work runs: indicatif bars on a terminal, one plain line per
//! finished unit of work otherwise, nothing with `--quiet`. Everything goes to stderr, so
//! stdout stays clean for `--json`.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{
    HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle,
};
use pg2lite::progress::{Progress, Task};
use pg2lite::report::{count, grouped};

use super::GlobalArgs;

pub struct Ui {
    quiet: bool,
    json: bool,
    verbose: bool,
    bars: Option<MultiProgress>,
    /// Without a terminal: the stages under way, in the order they began, each printed as
    /// one line when the command next speaks (or ends).
    stages: Mutex<Vec<Stage>>,
}

/// One stage's totals (export, import, validate, ...), for its one plain line.
#[derive(Default)]
struct Stage {
    name: String,
    /// Rows per unit of work. validate reads each table twice, once `NAME in SQLite`: one
    /// table, whose rows are counted once.
    units: std::collections::BTreeMap<String, u64>,
    bytes: u64,
    started: Option<Instant>,
}

impl Stage {
    fn add(&mut self, name: &str, rows: u64, bytes: u64) {
        let unit = name.strip_suffix(" in SQLite").unwrap_or(name);
        let counted = self.units.entry(unit.to_owned()).or_default();
        *counted = (*counted).max(rows);
        self.bytes += bytes;
    }

    /// `export: 15 tables, 49,636 rows, 3.1 MiB in 1.2 s`.
    fn line(&self) -> String {
        let n = self.units.len() as u64;
        let units = match self.name.as_str() {
            "export" | "import" | "validate" => format!("{}, ", count(n, "table")),
            _ if n > 1 => format!("{}, ", count(n, "file")),
            _ => String::new(),
        };
        let took = self.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        format!(
            "{}: {units}{}, {} in {took:.1} s",
            self.name,
            count(self.units.values().sum(), "row"),
            HumanBytes(self.bytes),
        )
    }
}

impl Ui {
    pub fn new(global: &GlobalArgs) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bars = (tty && !global.quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Ui {
            quiet: global.quiet,
            json: global.json,
            verbose: global.verbose,
            bars,
            stages: Mutex::new(Vec::new()),
        }
    }

    /// A line on stderr, unless `--quiet`; drawn above the bars when there are some. The
    /// stages done so far are summed up first, so that their lines come before it.
    pub fn info(&self, text: &str) {
        self.end_stages();
        self.note(text);
    }

    fn note(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    /// The command's result: human text on stdout, or the JSON value with `--json`.
    pub fn result(&self, human: &str, json: &serde_json::Value) -> std::io::Result<()> {
        self.end_stages();
        let mut out = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut out, json)?;
            writeln!(out)
        } else {
            write!(out, "{human}")
        }
    }

    /// Prints one line for each stage under way, and forgets them.
    fn end_stages(&self) {
        let done = std::mem::take(&mut *self.stages.lock().unwrap_or_else(|e| e.into_inner()));
        for stage in done {
            eprintln!("{}", stage.line());
        }
    }

    /// A unit of work begins in `stage`, which is opened if it is new. Stages may overlap
    /// (migrate imports while it exports; validate checks the export between its two
    /// readings), so a stage's line waits until the command next speaks, or ends.
    fn begin(&self, stage: &str) {
        let mut stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        if !stages.iter().any(|s| s.name == stage) {
            let started = Instant::now();
            stages.push(Stage { name: stage.into(), started: Some(started), ..Stage::default() });
        }
    }

    /// A unit of work of `stage` ended: its totals go into the stage's line.
    fn count_in(&self, stage: &str, name: &str, rows: u64, bytes: u64) {
        let mut stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = stages.iter_mut().find(|s| s.name == stage) {
            s.add(name, rows, bytes);
        }
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.end_stages();
    }
}

impl Progress for Ui {
    fn start(&self, stage: &str, name: &str, total_rows: Option<u64>) -> Box<dyn Task + '_> {
        if self.quiet {
            return Box::new(Quiet);
        }
        match &self.bars {
            Some(bars) => Box::new(Bar::new(bars, stage, name, total_rows)),
            None => {
                self.begin(stage);
                Box::new(Line {
                    ui: self,
                    stage: stage.into(),
                    name: name.into(),
                    started: Instant::now(),
                })
            }
        }
    }

    /// A stage's own remark (a leftover file removed): printed at once, inside the stage.
    fn message(&self, text: &str) {
        self.note(text);
    }
}

struct Quiet;

impl Task for Quiet {
    fn add(&self, _: u64, _: u64) {}
    fn finish(&self, _: u64, _: u64) {}
}

/// Without a terminal: a unit of work counted into its stage's line, and with `--verbose`
/// a line of its own when it ends, for logs and pipes.
struct Line<'u> {
    ui: &'u Ui,
    stage: String,
    name: String,
    started: Instant,
}

impl Task for Line<'_> {
    fn add(&self, _: u64, _: u64) {}

    fn finish(&self, rows: u64, bytes: u64) {
        self.ui.count_in(&self.stage, &self.name, rows, bytes);
        if self.ui.verbose {
            eprintln!(
                "{}",
                table_line(&self.stage, &self.name, rows, bytes, self.started.elapsed())
            );
        }
    }
}

/// `export public.actor: 200 rows, 7.5 KiB, 0.0 s`.
fn table_line(stage: &str, name: &str, rows: u64, bytes: u64, took: Duration) -> String {
    format!(
        "{stage} {name}: {}, {}, {:.1} s",
        count(rows, "row"),
        HumanBytes(bytes),
        took.as_secs_f64()
    )
}

/// The bar's layout: with a known total, a bar and the time left; else a spinner. The label
/// is padded, never cut (`{msg:<32}`, not `{msg:28!}`, which cut the export's path off).
fn template(determinate: bool) -> &'static str {
    if determinate {
        "{prefix:>8} {msg:<32} {bar:25} {pos_rows:>10}/{len_rows} rows {bytes:>10} {rate:>11} eta {eta}"
    } else {
        "{prefix:>8} {msg:<32} {spinner} {pos_rows:>10} rows {bytes:>10} {rate:>11}"
    }
}

/// The style for `template`, with our own keys: rows and the rate grouped as the summary
/// groups them, and the bytes written so far.
fn style(determinate: bool, bytes: Arc<AtomicU64>) -> ProgressStyle {
    ProgressStyle::with_template(template(determinate))
        .expect("the template is valid")
        .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&rate_text(state.per_sec()));
        })
        .with_key("pos_rows", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&grouped(state.pos()));
        })
        .with_key("len_rows", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&grouped(state.len().unwrap_or(0)));
        })
        .with_key("bytes", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", HumanBytes(bytes.load(Ordering::Relaxed)));
        })
        .progress_chars("=> ")
}

struct Bar {
    bar: ProgressBar,
    bytes: Arc<AtomicU64>,
}

impl Bar {
    fn new(bars: &MultiProgress, stage: &str, name: &str, total: Option<u64>) -> Self {
        let determinate = total.is_some_and(|t| t > 0);
        let bar = bars.add(ProgressBar::new(total.unwrap_or(0)));
        let bytes = Arc::new(AtomicU64::new(0));
        bar.set_style(style(determinate, bytes.clone()));
        bar.set_prefix(stage.to_owned());
        bar.set_message(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar { bar, bytes }
    }
}

impl Task for Bar {
    fn add(&self, rows: u64, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        // An estimate (reltuples) may fall short: the bar grows rather than overflow.
        if self.bar.length().is_some_and(|len| len > 0 && self.bar.position() + rows > len) {
            self.bar.set_length(self.bar.position() + rows);
        }
        self.bar.inc(rows);
    }

    fn finish(&self, rows: u64, bytes: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.bar.set_length(rows);
        self.bar.set_position(rows);
        self.bar.finish();
    }
}

/// The rate as a person reads it: `149,788/s`. indicatif's `{per_sec:>12}` reads the width as
/// decimal places and printed `149,788.260857271234/s`.
fn rate_text(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec < 0.0 {
        return "-/s".into();
    }
    // Rounded to a whole number of rows per second; thousands separated as in the summary.
    format!("{}/s", pg2lite::report::grouped(per_sec.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal that keeps what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<String>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            200
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The longest run of digits after a decimal point in `text`.
    fn longest_decimals(text: &str) -> usize {
        let (mut longest, mut run, mut after_point, mut prev_digit) = (0, 0, false, false);
        for c in text.chars() {
            match c {
                '.' if prev_digit => (after_point, run) = (true, 0),
                '0'..='9' if after_point => run += 1,
                _ => after_point = false,
            }
            longest = longest.max(run);
            if !c.is_ascii_digit() && c != '.' {
                run = 0;
            }
            prev_digit = c.is_ascii_digit();
        }
        longest
    }

    /// Issue 15: `{per_sec:>12}` drew `149,788.260857271234/s`.
    #[test]
    fn every_progress_template_renders_without_a_run_of_more_than_3_decimals() {
        for determinate in [true, false] {
            let screen = Screen::default();
            let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
            let bar = ProgressBar::with_draw_target(Some(1_234_567), target);
            let bytes = Arc::new(AtomicU64::new(98_765_432));
            bar.set_style(style(determinate, bytes));
            bar.set_prefix("export");
            bar.set_message("migration_data/pagila-20260101T120000Z (a long label)");
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(20));
                bar.inc(149_788);
                bar.force_draw();
            }
            bar.finish();
            let drawn = screen.0.lock().unwrap().clone();
            assert!(drawn.contains("rows"), "nothing drawn: {drawn:?}");
            assert!(drawn.contains("(a long label)"), "the label was cut: {drawn}");
            assert!(drawn.contains("748,940"), "the rows are not grouped: {drawn}");
            assert!(longest_decimals(&drawn) <= 3, "too many decimals:\n{drawn}");
        }
        assert_eq!(longest_decimals("149,788.260857271234/s"), 12);
        assert_eq!(longest_decimals("94.19 MiB 1.2 s"), 2);
    }

    #[test]
    fn a_stage_line_has_its_totals_in_the_right_number() {
        let stage = |name: &str, units: u64, rows: u64| {
            let mut stage = Stage { name: name.into(), ..Stage::default() };
            for i in 0..units {
                let each = rows / units + u64::from(i < rows % units);
                stage.add(&format!("t{i}"), each, 2048 / units);
            }
            stage
        };
        assert!(stage("export", 1, 1).line().starts_with("export: 1 table, 1 row, 2.00 KiB in "));
        let many = stage("import", 15, 49_636).line();
        assert!(many.starts_with("import: 15 tables, 49,636 rows, "), "{many}");
        assert!(stage("verify", 1, 3).line().starts_with("verify: 3 rows, "));
        assert!(stage("checksum", 4, 3).line().starts_with("checksum: 4 files, 3 rows, "));
        // validate's two readings of a table count as one table and its rows once.
        let mut both = Stage { name: "validate".into(), ..Stage::default() };
        both.add("public.actor", 200, 100);
        both.add("public.actor in SQLite", 200, 50);
        assert!(both.line().starts_with("validate: 1 table, 200 rows, 150 B"), "{}", both.line());
        let line = table_line("export", "public.actor", 1, 10, Duration::from_millis(40));
        assert_eq!(line, "export public.actor: 1 row, 10 B, 0.0 s");
    }

    #[test]
    fn the_rate_is_a_whole_number_with_thousands_separated() {
        assert_eq!(rate_text(149_788.260_857_271), "149,788/s");
        assert_eq!(rate_text(0.4), "0/s");
        assert_eq!(rate_text(999.5), "1,000/s");
        assert_eq!(rate_text(1_234_567.0), "1,234,567/s");
        assert_eq!(rate_text(f64::NAN), "-/s");
    }
}
