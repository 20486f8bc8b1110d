//! The two ways `run` shows a session's progress: a progress bar on a terminal, plain lines
//! (one per finished cell) in CI logs. Both are observers of the same event stream and print
//! the same lines; the bar adds what is running now.

use crossmatrix_results::{CellRecord, CellStatus};
use crossmatrix_session::{Event, Observer};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// The reporter for this stderr: the bar on a terminal unless `--no-progress`, else lines.
pub fn for_stderr(no_progress: bool) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() && !no_progress {
        Box::new(BarProgress::default())
    } else {
        Box::new(LineProgress)
    }
}

/// An observer that may hold a terminal line until the run ends.
pub trait Progress: Observer {
    /// Clears what is left on the terminal.
    fn finish(&mut self) {}
}

/// One plain line per finished (or killed) cell on stderr: what CI logs want.
pub struct LineProgress;

impl Observer for LineProgress {
    fn event(&mut self, event: Event<'_>) {
        if let Some(line) = line(&event) {
            eprintln!("{line}");
        }
    }
}

impl Progress for LineProgress {}

/// An indicatif bar with the running cells, the finished ones printed above it.
#[derive(Default)]
pub struct BarProgress {
    bar: Option<ProgressBar>,
    /// Ids of the cells building or being timed (`timing <id>`).
    running: Vec<String>,
    /// Verified cells waiting for their timed runs.
    queued: usize,
}

impl BarProgress {
    fn show(&self) {
        if let Some(b) = &self.bar {
            let mut m = self.running.join("  ");
            if self.queued > 0 {
                m.push_str(&format!(
                    "  [{} verified, waiting to be timed]",
                    self.queued
                ));
            }
            b.set_message(m);
        }
    }

    fn forget(&mut self, id: &str) {
        let timing = format!("timing {id}");
        self.running.retain(|r| r != id && *r != timing);
    }
}

impl Observer for BarProgress {
    fn event(&mut self, event: Event<'_>) {
        let text = line(&event);
        match &event {
            Event::Planned { to_run, .. } => {
                if let Some(t) = &text {
                    eprintln!("{t}");
                }
                let b = ProgressBar::new(*to_run as u64);
                b.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.enable_steady_tick(Duration::from_millis(120));
                self.bar = Some(b);
                return;
            }
            Event::Started(c) => self.running.push(c.id.to_string()),
            Event::Queued(c) => {
                self.forget(c.id.as_str());
                self.queued += 1;
            }
            Event::Timing(c) => {
                self.queued = self.queued.saturating_sub(1);
                self.running.push(format!("timing {}", c.id));
            }
            Event::Killed(c) => self.forget(c.id.as_str()),
            Event::Finished { cell, .. } => {
                self.forget(cell.id.as_str());
                if let Some(b) = &self.bar {
                    b.inc(1);
                }
            }
            Event::Interrupted => {}
        }
        if let (Some(t), Some(b)) = (text, &self.bar) {
            b.println(t);
        }
        self.show();
    }
}

impl Progress for BarProgress {
    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// The line an event prints, if any (the same for both).
fn line(event: &Event<'_>) -> Option<String> {
    match event {
        Event::Planned {
            out,
            to_run,
            already_recorded,
            resumed,
            toolchains,
            jobs,
            reps,
        } => {
            let mut s = String::new();
            if *resumed {
                s.push_str(&format!(
                    "crossmatrix: resuming {}: {already_recorded} cells already recorded, {to_run} to run\n",
                    out.display()
                ));
            }
            s.push_str(&format!(
                "crossmatrix: {to_run} cells, {toolchains} toolchain(s), {jobs} jobs, {reps} reps → {}",
                out.display()
            ));
            Some(s)
        }
        Event::Killed(c) => Some(format!("killed  {} (interrupted; not recorded)", c.id)),
        Event::Finished {
            record,
            done,
            total,
            ..
        } => Some(finished_line(*done, *total, record)),
        Event::Interrupted => {
            Some("interrupted: starting no more cells and killing the running ones".into())
        }
        Event::Started(_) | Event::Queued(_) | Event::Timing(_) => None,
    }
}

/// `[ 3/40] pass    go1.24/linux-arm64/cgo0/rootfs-scratch/probe  qemu-binfmt  48.1 ms`.
fn finished_line(done: usize, total: usize, r: &CellRecord) -> String {
    let w = total.to_string().len();
    let status = match r.status {
        CellStatus::Pass => "pass   ",
        CellStatus::Fail => "FAIL   ",
        CellStatus::Skipped => "skipped",
        CellStatus::Built => "built  ",
    };
    let mut s = format!("[{done:>w$}/{total}] {status} {}", r.id);
    if let Some(run) = &r.run {
        s.push_str(&format!("  {}", run.executor));
    }
    if let Some(at) = &r.reused_from {
        s.push_str(&format!("  reused from {at}"));
    }
    if let Some(st) = &r.startup {
        s.push_str(&format!("  {:.1} ms", st.median_ms));
        if st.outliers > 0 {
            s.push_str(&format!(
                " ({} outlier{})",
                st.outliers,
                if st.outliers == 1 { "" } else { "s" }
            ));
        }
    }
    if let Some(c) = r.cause {
        s.push_str(&format!("  {c}: {}", r.hint.as_deref().unwrap_or("")));
    }
    s
}
