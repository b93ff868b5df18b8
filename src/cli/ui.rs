//! What the user sees while work runs: indicatif bars on a terminal, one plain line per
//! finished unit of work otherwise, nothing with `--quiet`. Everything goes to stderr, so
//! stdout stays clean for `--json`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{
    HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle,
};
use pg2lite::progress::{Progress, Task};

use super::GlobalArgs;

pub struct Ui {
    quiet: bool,
    json: bool,
    bars: Option<MultiProgress>,
}

impl Ui {
    pub fn new(global: &GlobalArgs) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bars = (tty && !global.quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Ui { quiet: global.quiet, json: global.json, bars }
    }

    /// A line on stderr, unless `--quiet`; drawn above the bars when there are some.
    pub fn info(&self, text: &str) {
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
        let mut out = std::io::stdout().lock();
        if self.json {
            serde_json::to_writer_pretty(&mut out, json)?;
            writeln!(out)
        } else {
            write!(out, "{human}")
        }
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
                Box::new(Line { stage: stage.into(), name: name.into(), started: Instant::now() })
            }
        }
    }

    fn message(&self, text: &str) {
        self.info(text);
    }
}

struct Quiet;

impl Task for Quiet {
    fn add(&self, _: u64, _: u64) {}
    fn finish(&self, _: u64, _: u64) {}
}

/// A plain line when the unit of work ends, for logs and pipes.
struct Line {
    stage: String,
    name: String,
    started: Instant,
}

impl Task for Line {
    fn add(&self, _: u64, _: u64) {}

    fn finish(&self, rows: u64, bytes: u64) {
        eprintln!(
            "{} {}: {rows} rows, {}, {:.1} s",
            self.stage,
            self.name,
            HumanBytes(bytes),
            self.started.elapsed().as_secs_f64()
        );
    }
}

struct Bar {
    bar: ProgressBar,
    bytes: std::sync::atomic::AtomicU64,
}

impl Bar {
    fn new(bars: &MultiProgress, stage: &str, name: &str, total: Option<u64>) -> Self {
        let bar = bars.add(ProgressBar::new(total.unwrap_or(0)));
        let template = if total.is_some_and(|t| t > 0) {
            "{prefix:>8} {msg:30!} {bar:25} {human_pos:>10}/{human_len} rows {rate:>12} eta {eta}"
        } else {
            "{prefix:>8} {msg:30!} {spinner} {human_pos:>10} rows {rate:>12}"
        };
        let style = ProgressStyle::with_template(template)
            .expect("the template is valid")
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate_text(state.per_sec()));
            })
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(stage.to_owned());
        bar.set_message(name.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar { bar, bytes: Default::default() }
    }
}

impl Task for Bar {
    fn add(&self, rows: u64, bytes: u64) {
        self.bytes.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        if self.bar.length().is_some_and(|len| len > 0 && self.bar.position() + rows > len) {
            self.bar.set_length(self.bar.position() + rows);
        }
        self.bar.inc(rows);
    }

    fn finish(&self, rows: u64, bytes: u64) {
        self.bar.set_length(rows);
        self.bar.set_position(rows);
        self.bar.finish_with_message(format!("{} ({})", self.bar.message(), HumanBytes(bytes)));
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
    use super::rate_text;

    #[test]
    fn the_rate_is_a_whole_number_with_thousands_separated() {
        assert_eq!(rate_text(149_788.260_857_271), "149,788/s");
        assert_eq!(rate_text(0.4), "0/s");
        assert_eq!(rate_text(999.5), "1,000/s");
        assert_eq!(rate_text(1_234_567.0), "1,234,567/s");
        assert_eq!(rate_text(f64::NAN), "-/s");
    }
}
