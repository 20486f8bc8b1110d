//! One run of a plan into an output directory: resume against what the directory already
//! holds, schedule the rest ([`crate::dispatch`]), store each record the moment its cell ends,
//! stop cleanly on an interrupt, account the CPU, and write `run.json`.

use crate::accounting::{cpu_bound, cpu_seconds, round2};
use crate::cell_executor::CellExecutor;
use crate::dispatch::{Dispatched, run_cells};
use crate::observer::{Event, Observer};
use crossmatrix_matrix::{Cell, Plan};
use crossmatrix_results::store::{CellWriter, StoreError, read_cells, write_run_meta};
use crossmatrix_results::{
    CellRecord, HostInfo, RunMeta, SCHEMA_VERSION, ToolVersion, ToolchainInfo, Totals, now_rfc3339,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Where each finished record goes, the moment its cell ends. [`CellWriter`] (append to
/// `cells.jsonl`, flushed and synced) is the real one.
pub trait RecordSink: Send {
    fn append(&mut self, rec: &CellRecord) -> Result<(), StoreError>;
}

impl RecordSink for CellWriter {
    fn append(&mut self, rec: &CellRecord) -> Result<(), StoreError> {
        CellWriter::append(self, rec)
    }
}

/// What a run is: its cells and what `run.json` says about them.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The cells this run is for (after `--filter` and `--shard`).
    pub plan: Plan,
    /// Hash of the whole matrix before `--shard` ([`crate::plan::matrix_hash`]).
    pub matrix_hash: String,
    /// `--shard K/N` as given.
    pub shard: Option<String>,
    /// With `--shard`: every cell id of the whole matrix (see [`RunMeta::matrix_planned`]).
    pub matrix_planned: Vec<String>,
    /// The command that planned the run and where it ran (see [`RunMeta::command`]).
    pub command: Vec<String>,
    pub cwd: String,
    /// The project's commit (see [`RunMeta::commit`]): [`crate::host::project_commit`].
    pub commit: Option<String>,
    pub toolchains: Vec<ToolchainInfo>,
}

/// How a run runs, as `run.json` records it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cells in parallel.
    pub jobs: usize,
    /// Timed repetitions per passing cell.
    pub reps: u32,
    /// The `--timing` mode's name, when anything is timed.
    pub timing: Option<String>,
    pub host: HostInfo,
    pub tools: Vec<ToolVersion>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("creating the output directory {}: {source}", path.display())]
    Create { path: PathBuf, source: StoreError },
    #[error(
        "--resume {}: no cells.jsonl there (is it a crossmatrix output directory?)",
        path.display()
    )]
    NotAnOutputDir { path: PathBuf },
    #[error("reopening {}: {source}", path.display())]
    Reopen { path: PathBuf, source: StoreError },
    #[error("reading {}: {source}", path.display())]
    Read { path: PathBuf, source: StoreError },
    /// A record could not be stored: the run stopped there (nothing after it was started).
    #[error("writing {}: {source}", path.display())]
    Write { path: PathBuf, source: StoreError },
    #[error("writing {}: {source}", path.display())]
    Meta { path: PathBuf, source: StoreError },
}

/// A run in progress: an output directory, new or reopened, and what it already holds.
pub struct Session {
    out: PathBuf,
    sink: Box<dyn RecordSink>,
    /// Records an earlier run left in `out` (with `--resume`).
    previous: Vec<CellRecord>,
    resumed: bool,
    warnings: Vec<String>,
}

/// What a finished (or interrupted) run produced.
#[derive(Debug)]
pub struct Outcome {
    /// One record per cell that has one, in plan order: this run's and those kept from the
    /// run it resumed.
    pub records: Vec<CellRecord>,
    /// What `run.json` now says.
    pub meta: RunMeta,
    /// Cells an interrupt killed: not recorded, `--resume` runs them.
    pub killed: Vec<String>,
    /// Cells this run executed (the rest were recorded before).
    pub ran: usize,
}

impl Outcome {
    /// Records whose run and startup figures were reused from an earlier run.
    pub fn reused(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r.reused_from.is_some())
            .count()
    }
}

impl Session {
    /// A new run into `out` (created; an existing `cells.jsonl` is replaced).
    pub fn create(out: &Path) -> Result<Session, SessionError> {
        let writer = CellWriter::create(out).map_err(|source| SessionError::Create {
            path: out.to_path_buf(),
            source,
        })?;
        Ok(Session::with_sink(out, Box::new(writer), Vec::new(), false))
    }

    /// Continues the run recorded in `out`: its records stay, and [`Session::run`] runs only
    /// the cells that have none with the same inputs. A partial last line left by a kill is cut
    /// (see [`Session::warnings`]).
    pub fn resume(out: &Path) -> Result<Session, SessionError> {
        if !out.join("cells.jsonl").is_file() {
            return Err(SessionError::NotAnOutputDir {
                path: out.to_path_buf(),
            });
        }
        let writer = CellWriter::open_append(out).map_err(|source| SessionError::Reopen {
            path: out.to_path_buf(),
            source,
        })?;
        let mut warnings = writer.warnings().to_vec();
        let read = read_cells(out).map_err(|source| SessionError::Read {
            path: out.to_path_buf(),
            source,
        })?;
        warnings.extend(read.warnings);
        let mut s = Session::with_sink(out, Box::new(writer), read.records, true);
        s.warnings = warnings;
        Ok(s)
    }

    /// A session storing its records in `sink`, with `previous` the records of the run it
    /// resumes (for tests of the pipeline, and callers with a store of their own).
    pub fn with_sink(
        out: &Path,
        sink: Box<dyn RecordSink>,
        previous: Vec<CellRecord>,
        resumed: bool,
    ) -> Session {
        Session {
            out: out.to_path_buf(),
            sink,
            previous,
            resumed,
            warnings: Vec::new(),
        }
    }

    /// What opening the directory found worth saying (a cut partial line, unreadable records).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn out_dir(&self) -> &Path {
        &self.out
    }

    /// Runs every cell of `spec` that has no record with the same inputs yet on `executor`,
    /// storing each record as it ends, and writes `run.json`. When `stop` becomes true
    /// (SIGINT), no new cell starts, the running ones are killed and not recorded, and the
    /// outcome says so (`meta.interrupted`). A record that cannot be stored stops the run the
    /// same way and is an error.
    pub fn run<E: CellExecutor>(
        mut self,
        spec: &RunSpec,
        executor: &E,
        opts: &RunOptions,
        stop: &AtomicBool,
        observer: &mut dyn Observer,
    ) -> Result<Outcome, SessionError> {
        let started = now_rfc3339();
        let t0 = Instant::now();
        let cpu0 = cpu_seconds();
        let done_before: HashMap<&str, &str> = self
            .previous
            .iter()
            .map(|r| (r.id.as_str(), r.inputs_hash.as_str()))
            .collect();
        let to_run = Plan {
            cells: spec
                .plan
                .cells
                .iter()
                .filter(|c| done_before.get(c.id.as_str()) != Some(&inputs_hash(c).as_str()))
                .cloned()
                .collect(),
        };
        // Keep the latest previous record of each cell that will not run again.
        let rerun: HashSet<&str> = to_run.cells.iter().map(|c| c.id.as_str()).collect();
        let mut kept: BTreeMap<String, CellRecord> = BTreeMap::new();
        for r in std::mem::take(&mut self.previous) {
            if !rerun.contains(r.id.as_str()) {
                kept.insert(r.id.clone(), r);
            }
        }
        observer.event(Event::Planned {
            out: &self.out,
            to_run: to_run.len(),
            already_recorded: kept.len(),
            resumed: self.resumed,
            toolchains: spec.toolchains.len(),
            jobs: opts.jobs,
            reps: opts.reps,
        });
        let mut records: Vec<CellRecord> = kept.into_values().collect();
        // What the run is for, before any cell runs: a run that dies (a crash, a lost machine)
        // still says what it planned, so every reader can tell which cells have no record.
        let mut at_start = run_meta(spec, opts, started.clone(), &records);
        at_start.interrupted = true;
        write_run_meta(&self.out, &at_start).map_err(|source| SessionError::Meta {
            path: self.out.join("run.json"),
            source,
        })?;
        let (killed, write_error) =
            self.dispatch(&to_run, executor, opts.jobs, stop, observer, &mut records);
        if let Some(source) = write_error {
            return Err(SessionError::Write {
                path: self.out.join("cells.jsonl"),
                source,
            });
        }
        // Records in plan order for the report.
        let pos: HashMap<&str, usize> = spec
            .plan
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        records.sort_by_key(|r| pos.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
        let wall_s = t0.elapsed().as_secs_f64();
        let cpu_s = cpu_seconds() - cpu0;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut meta = run_meta(spec, opts, started, &records);
        meta.finished_at = now_rfc3339();
        meta.wall_ms = t0.elapsed().as_millis() as u64;
        meta.wall_s = round2(wall_s);
        meta.cpu_s = round2(cpu_s);
        meta.cpu_bound_s = round2(cpu_bound(cpu_s, cores, &records, &to_run));
        meta.cores = cores;
        meta.interrupted = records.len() < spec.plan.len();
        write_run_meta(&self.out, &meta).map_err(|source| SessionError::Meta {
            path: self.out.join("run.json"),
            source,
        })?;
        Ok(Outcome {
            records,
            meta,
            killed,
            ran: to_run.len(),
        })
    }

    /// Schedules `plan`, storing each record as it ends; returns the killed cells and the first
    /// error storing a record (which stopped the run).
    fn dispatch<E: CellExecutor>(
        &mut self,
        plan: &Plan,
        executor: &E,
        jobs: usize,
        stop: &AtomicBool,
        observer: &mut dyn Observer,
        records: &mut Vec<CellRecord>,
    ) -> (Vec<String>, Option<StoreError>) {
        let total = plan.len();
        let mut done = 0usize;
        let mut killed = Vec::new();
        let mut write_error = None;
        let mut interrupted = false;
        let sink = &mut self.sink;
        run_cells(executor, &plan.cells, jobs, stop, |ev| {
            if stop.load(Ordering::SeqCst) && !interrupted {
                interrupted = true;
                if write_error.is_none() {
                    observer.event(Event::Interrupted);
                }
            }
            match ev {
                Dispatched::Started(c) => observer.event(Event::Started(c)),
                Dispatched::Queued(c) => observer.event(Event::Queued(c)),
                Dispatched::Timing(c) => observer.event(Event::Timing(c)),
                Dispatched::Killed(c) => {
                    killed.push(c.id.to_string());
                    observer.event(Event::Killed(c));
                }
                Dispatched::Finished(c, mut rec) => {
                    done += 1;
                    rec.finished_at = now_rfc3339();
                    rec.inputs_hash = inputs_hash(c);
                    if let Err(e) = sink.append(&rec) {
                        write_error.get_or_insert(e);
                        stop.store(true, Ordering::SeqCst);
                    }
                    observer.event(Event::Finished {
                        cell: c,
                        record: &rec,
                        done,
                        total,
                    });
                    records.push(*rec);
                }
            }
        });
        (killed, write_error)
    }
}

/// What decides whether a recorded cell is done for `--resume`: its id, toolchain, program and
/// settings.
pub fn inputs_hash(c: &Cell) -> String {
    let mut h = Sha256::new();
    h.update(c.id.as_str().as_bytes());
    h.update(c.toolchain.version.as_bytes());
    h.update(c.toolchain.goroot.to_string_lossy().as_bytes());
    h.update(format!("{:?}", c.program).as_bytes());
    h.update(format!("{:?}", c.settings).as_bytes());
    format!("{:x}", h.finalize())[..16].to_string()
}

/// `run.json` of `spec` run with `opts` from `started`, holding `records`: the plan and the
/// totals; the caller fills in the times.
fn run_meta(spec: &RunSpec, opts: &RunOptions, started: String, records: &[CellRecord]) -> RunMeta {
    RunMeta {
        schema: SCHEMA_VERSION,
        crossmatrix_version: env!("CARGO_PKG_VERSION").into(),
        finished_at: started.clone(),
        started_at: started,
        wall_ms: 0,
        host: opts.host.clone(),
        tools: opts.tools.clone(),
        toolchains: spec.toolchains.clone(),
        matrix_hash: spec.matrix_hash.clone(),
        planned: spec.plan.cells.iter().map(|c| c.id.to_string()).collect(),
        shard: spec.shard.clone(),
        matrix_planned: spec.matrix_planned.clone(),
        command: spec.command.clone(),
        cwd: spec.cwd.clone(),
        commit: spec.commit.clone(),
        jobs: opts.jobs,
        reps: opts.reps,
        timing: opts.timing.clone(),
        wall_s: 0.0,
        cpu_s: 0.0,
        cpu_bound_s: 0.0,
        cores: 0,
        totals: Totals::from_records(records),
        interrupted: false,
        shards: Vec::new(),
    }
}
