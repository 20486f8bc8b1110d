//! The runner: what the scheduler calls for each cell. It owns what cells share (settings,
//! stores, caches, the abort handle) and hands one cell at a time to [`crate::cell`]'s steps.

use crate::cache::build::BuildCache;
use crate::cache::result::{ResultCache, machine_identity};
use crate::cell::shared::{RealChildren, RunnerConfig, Shared};
use crate::cell::time::{TimingJob, TimingMode, ensure_timer, run_job};
use crossmatrix_matrix::Cell;
use crossmatrix_results::{CellRecord, CellStatus};
use crossmatrix_sandbox::Abort;
use crossmatrix_toolchains::executor::Host;
use crossmatrix_toolchains::rootfs::RootfsStore;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The embedded probe program, written to the cache on first use.
const PROBE_FILES: &[(&str, &str)] = &[
    ("go.mod", include_str!("../probe/go.mod")),
    ("main.go", include_str!("../probe/main.go")),
    ("cgo.go", include_str!("../probe/cgo.go")),
    ("nocgo.go", include_str!("../probe/nocgo.go")),
];

/// Runs cells. Shared by the worker threads of a run.
pub struct Runner {
    shared: Shared,
    /// crossmatrix-timer, built on first use by the first cell's toolchain.
    timer: OnceLock<Result<PathBuf, String>>,
    /// Stops every child of this runner's cells (an interrupt); each cell runs under a scope.
    abort: Abort,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A cell after its first stage (build, inspect, verification run or tests).
#[derive(Debug)]
pub struct Staged {
    pub record: CellRecord,
    /// For a cell that passed and is to be timed: the timed runs still to do.
    pub timing: Option<TimingJob>,
}

impl Runner {
    pub fn new(cfg: RunnerConfig, host: Host) -> Result<Runner, RunnerError> {
        let probe_dir = write_probe(&cfg.cache_dir)?;
        for d in [
            cfg.out_dir.join("bin"),
            cfg.modcache.clone(),
            cfg.cache_dir.join("go"),
            cfg.cache_dir.join("zig"),
            cfg.cache_dir.join("wasm"),
        ] {
            std::fs::create_dir_all(&d).map_err(|source| RunnerError::Io {
                path: d.clone(),
                source,
            })?;
        }
        let cache = cfg.cache_dir.clone();
        let shared = Shared {
            children: Box::new(RealChildren),
            rootfs: RootfsStore::new(&cache.join("rootfs")),
            host_root: OnceLock::new(),
            slowdowns: Default::default(),
            probe_dir,
            build_cache: BuildCache::new(cache.join("bin")),
            results: ResultCache::new(cache.join("cells"), cfg.reuse),
            machine: machine_identity(),
            build_env: crate::build_env::host_build_env(),
            images: crossmatrix_toolchains::ImageStore::new(&cache),
            test2json: crate::test2json::Test2Json::new(&cache, &cfg.bwrap, &host.host_goarch),
            cfg,
            host,
        };
        Ok(Runner {
            shared,
            timer: OnceLock::new(),
            abort: Abort::new(),
        })
    }

    pub fn host(&self) -> &Host {
        &self.shared.host
    }

    pub fn timing_mode(&self) -> TimingMode {
        self.shared.cfg.timing
    }

    /// The handle that stops this runner's children; give each cell a [`Abort::scope`] of it.
    pub fn abort_handle(&self) -> &Abort {
        &self.abort
    }

    /// Builds, inspects and verifies one cell (its tests, for a test cell) with its children
    /// under `abort`; `go build -p build_jobs` when given. The dispatcher sets that to the
    /// cores each concurrent build may use: `go build`'s default of one per core
    /// over-subscribes the machine when several builds run, and the contention costs CPU
    /// (measured: 6 cold cells, 96.8 s of CPU with the default vs 84.2 s with `-p 1` on 2
    /// cores and 2 jobs). It is not part of the build cache key. Never panics on cell
    /// failures: every outcome is a record.
    pub fn stage(&self, cell: &Cell, build_jobs: Option<usize>, abort: &Abort) -> Staged {
        let out = crate::cell::execute(&self.shared, cell, build_jobs, abort);
        let timing = out.timing.filter(|j| {
            j.reps > 0 && out.record.status == CellStatus::Pass && out.record.cause.is_none()
        });
        if let (None, Some(key)) = (&timing, &out.result_key) {
            // Nothing left to time (`--reps 0`): the record is final.
            self.keep_result(key, &out.record);
        }
        Staged {
            record: out.record,
            timing,
        }
    }

    /// Keeps a fresh passing record for later runs with the same inputs.
    fn keep_result(&self, key: &str, rec: &CellRecord) {
        if rec.status == CellStatus::Pass && rec.cause.is_none() && rec.reused_from.is_none() {
            self.shared.results.store(key, rec);
        }
    }

    /// Runs `job` (its children under `abort`) and puts its startup figures into `rec`.
    pub fn time(&self, mut rec: CellRecord, job: &TimingJob, abort: &Abort) -> CellRecord {
        let timer = self.timer.get_or_init(|| {
            ensure_timer(
                &self.shared.cfg.cache_dir,
                Path::new(&rec.toolchain.goroot),
                &rec.toolchain.version,
                &self.shared.host.host_goarch,
                abort,
            )
        });
        let timed = run_job(job, timer.as_deref().ok(), abort);
        rec.startup = timed.record(job.warmups);
        if let Some(why) = timed.stopped {
            // The cell passed its verification run; a later repetition did not.
            rec.hint = Some(format!("startup timing stopped early: {why}"));
        } else if let Some(key) = &job.result_key {
            self.keep_result(key, &rec);
        }
        rec
    }
}

/// Writes the embedded probe program into the cache (once per content).
fn write_probe(cache_dir: &Path) -> Result<PathBuf, RunnerError> {
    let mut h = Sha256::new();
    for (name, body) in PROBE_FILES {
        h.update(name.as_bytes());
        h.update(body.as_bytes());
    }
    let hash = format!("{:x}", h.finalize());
    let dir = cache_dir.join("probe").join(&hash[..16]);
    if dir.join("main.go").exists() {
        return Ok(dir);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunnerError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    for (name, body) in PROBE_FILES {
        let p = dir.join(name);
        std::fs::write(&p, body).map_err(io(&p))?;
    }
    Ok(dir)
}
