//! What diagnosis works on, at the bottom of it: a failure (a cause and a hint) and what is
//! known around a run (the executor, the binary's loader, the root and settings).

use crossmatrix_matrix::{Cause, Cell, Libc, RootfsSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `PATH` of every run (the run sandbox sets it), unless the cell's env sets one.
pub const RUN_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Above this, a test cell's package directory is not copied for its tests to write into: it
/// stays read-only (a test writing there fails, and the verdict's hint says why).
pub const SOURCE_COPY_BYTES: u64 = 64 << 20;

/// A classified failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub cause: Cause,
    pub hint: String,
}

impl Failure {
    pub fn new(cause: Cause, hint: impl Into<String>) -> Failure {
        Failure {
            cause,
            hint: hint.into(),
        }
    }
    pub fn generic(cause: Cause) -> Failure {
        Failure::new(cause, cause.default_hint())
    }
}

/// What the runner knows around a run, for classification.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub executor: String,
    /// The binary's ELF interpreter, if dynamic.
    pub interpreter: Option<String>,
    /// Whether the interpreter exists in the rootfs (None when unknown or static).
    pub interpreter_present: Option<bool>,
    pub rootfs: String,
    pub toolchain_version: String,
    pub goos: String,
    pub goarch: String,
    pub cgo: bool,
    /// Check the probe's report (`go_version=` etc.).
    pub probe: bool,
    /// Processes the kernel's OOM killer killed in the step's memory cgroup (0 without one).
    pub oom_kills: u64,
    /// The root and settings environment traps are confirmed against (see [`crate::diagnose::traps`]).
    pub traps: TrapContext,
}

/// What the trap recogniser needs to know about a run besides [`RunContext`]: the root it saw
/// and the settings that decide which of Go's implementations ran.
#[derive(Debug, Clone, Default)]
pub struct TrapContext {
    /// The directory the sandbox's root was made of; `None` for an empty root (`scratch`),
    /// which holds nothing but the binary, `/proc`, `/dev` and the scratch dir.
    pub root: Option<PathBuf>,
    /// The host's program directories (`/usr`, `/bin`, `/lib`…) are bound over the root (the
    /// `host` root): paths there are the host's.
    pub host_programs: bool,
    /// Writable tmpfs mounts over the root (`[run] tmpfs`; `/tmp` for Go tests).
    pub tmpfs: Vec<String>,
    pub libc: Option<Libc>,
    /// `-tags` of the build (`netgo`, `osusergo`, `timetzdata` change what Go reads).
    pub tags: Vec<String>,
    /// The run's environment: `PATH` and the cell's `run_env`.
    pub env: BTreeMap<String, String>,
    /// The uid the program runs as (the sandbox maps crossmatrix's own uid).
    pub uid: u32,
    /// The target's sub-architecture setting, e.g. `goamd64=v3`.
    pub variant: Option<String>,
}

impl TrapContext {
    /// The context of `cell` run on the root made of `root` (`None`: an empty root).
    pub fn for_cell(cell: &Cell, root: Option<&Path>) -> TrapContext {
        let mut env = BTreeMap::new();
        env.insert("PATH".to_string(), RUN_PATH.to_string());
        env.extend(cell.settings.run_env.clone());
        let mut tmpfs = cell.settings.run_tmpfs.clone();
        if cell.program.is_test() {
            tmpfs.push("/tmp".to_string());
        }
        TrapContext {
            root: root.map(Path::to_path_buf),
            host_programs: cell.rootfs == RootfsSpec::Host,
            tmpfs,
            libc: cell.libc,
            tags: cell.settings.tags.clone(),
            env,
            // SAFETY: getuid has no preconditions and cannot fail.
            uid: unsafe { libc::getuid() },
            variant: cell.target.variant.clone(),
        }
    }

    /// The CPU model the run asked qemu for (`QEMU_CPU`), if any.
    pub fn cpu_model(&self) -> Option<&str> {
        self.env
            .get("QEMU_CPU")
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    pub(crate) fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}
