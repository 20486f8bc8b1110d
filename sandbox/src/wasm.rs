//! The embedded wasmtime executor for `GOOS=wasip1`: precompiles modules once and runs them with
//! the settings of Go's own `lib/wasm/go_wasip1_wasm_exec` (`wasmtime run --dir=/
//! -W max-wasm-stack=1048576`), plus a wall-clock timeout and a memory limit.
//!
//! It runs inside the sandbox as the crossmatrix binary's hidden subcommand, so nothing here
//! writes to stdout: the guest owns it.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use wasmtime::{Config, Engine, Linker, Module, ResourceLimiter, Store, Trap};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// The wasmtime crate this executor embeds (checked against Cargo.lock by a test).
const WASMTIME_VERSION: &str = "48.0.8";

/// Go's `go_wasip1_wasm_exec` passes `-W max-wasm-stack=1048576` to wasmtime.
pub const MAX_WASM_STACK: usize = 1 << 20;

/// Memory limit used when a `WasmRun` asks for none (`max_memory_bytes == 0`).
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 1 << 30;

/// Elements one table may hold. Go's own function table is a few tens of thousands; a table
/// grown past this is a runaway, not a program.
pub const MAX_TABLE_ELEMENTS: usize = 10_000_000;

/// The most linear memory a wasm32 module can address (65536 pages of 64 KiB).
pub const MAX_MEMORY_BYTES: u64 = 4 << 30;

/// The native stack of the thread that runs the guest: wasm frames (bounded by
/// `MAX_WASM_STACK`) plus host calls into WASI.
const GUEST_THREAD_STACK: usize = MAX_WASM_STACK + (8 << 20);

/// How often a running guest checks whether the run was interrupted.
const ABORT_POLL: Duration = Duration::from_millis(50);

/// After the deadline, how long to wait for the guest to notice the epoch interrupt. A guest
/// blocked in a host call (a long `poll_oneoff` sleep) only notices once it returns to wasm;
/// past this grace we report the timeout anyway and leave its thread behind.
const INTERRUPT_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    #[error("cannot configure the wasmtime engine: {0}")]
    Engine(String),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot compile wasm module {path}: {message}")]
    Compile { path: PathBuf, message: String },
    /// Also what an incompatible or stale `.cwasm` gives: delete it and precompile again.
    #[error("cannot load precompiled module {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("cannot set up WASI: {0}")]
    Wasi(String),
    /// Missing imports (e.g. a `GOOS=js` module), no `_start`, an oversized initial memory.
    #[error("cannot instantiate the module: {0}")]
    Instantiate(String),
    #[error("wasm trap: {0}")]
    Trap(String),
    /// `WasmRun::timeout` passed (measured from the call of `_start`).
    #[error("timed out")]
    Timeout,
    #[error("the guest asked for {requested} bytes of linear memory; the limit is {limit}")]
    MemoryLimit { requested: usize, limit: usize },
    /// Tables (function references) count as memory too: 8+ bytes per element.
    #[error("the guest asked for {requested} table elements; the limit is {limit}")]
    TableLimit { requested: usize, limit: usize },
}

/// One run of a precompiled wasip1 module.
#[derive(Debug, Clone)]
pub struct WasmRun {
    /// `argv`, including `argv[0]` (the program name).
    pub args: Vec<String>,
    /// The guest's whole environment; nothing is inherited. Go's runner passes `PWD` and `PATH`.
    pub env: Vec<(String, String)>,
    /// Host directory the guest sees as `/` (read-write), like `--dir=/` in Go's runner.
    pub preopen: Option<PathBuf>,
    /// Wall-clock limit for `_start`.
    pub timeout: Duration,
    /// Linear memory limit; 0 means `DEFAULT_MAX_MEMORY_BYTES`.
    pub max_memory_bytes: usize,
    /// Stops the guest when the run it belongs to is aborted (an interrupt).
    pub abort: crate::Abort,
}

impl WasmRun {
    pub fn new(args: Vec<String>) -> WasmRun {
        WasmRun {
            args,
            env: Vec::new(),
            preopen: None,
            timeout: Duration::from_secs(60),
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            abort: crate::Abort::default(),
        }
    }
}

/// The wasmtime version embedded here, for `RunRecord::executor_version`.
pub fn wasmtime_version() -> &'static str {
    WASMTIME_VERSION
}

/// The engine used both to precompile and to run: a `.cwasm` only loads into an engine with a
/// compatible configuration, so this is the one place that configures it.
pub fn engine() -> Result<Engine, WasmError> {
    let mut config = Config::new();
    config
        .strategy(wasmtime::Strategy::Cranelift)
        .max_wasm_stack(MAX_WASM_STACK)
        .epoch_interruption(true);
    Engine::new(&config).map_err(|e| WasmError::Engine(format!("{e:#}")))
}

/// Compiles `wasm` ahead of time and writes the result to `out` atomically (temp file in the
/// same directory, then rename), creating `out`'s directory if needed.
pub fn precompile(wasm: &Path, out: &Path) -> Result<(), WasmError> {
    let bytes = fs::read(wasm).map_err(|source| WasmError::Io {
        action: "read",
        path: wasm.to_path_buf(),
        source,
    })?;
    let compiled = engine()?
        .precompile_module(&bytes)
        .map_err(|e| WasmError::Compile {
            path: wasm.to_path_buf(),
            message: format!("{e:#}"),
        })?;
    write_atomically(out, &compiled)
}

fn write_atomically(out: &Path, contents: &[u8]) -> Result<(), WasmError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| WasmError::Io {
            action,
            path,
            source,
        }
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(io("create directory", dir))?;
    // A temp file of its own in the same directory, renamed into place: concurrent writers
    // (threads or processes) never see or leave a half-written module.
    let mut tmp = tempfile::Builder::new()
        .prefix(".cwasm-")
        .tempfile_in(dir)
        .map_err(io("create a temp file in", dir))?;
    tmp.write_all(contents).map_err(io("write", tmp.path()))?;
    tmp.as_file().sync_all().map_err(io("write", out))?;
    tmp.persist(out)
        .map_err(|e| e.error)
        .map_err(io("rename into place", out))?;
    Ok(())
}

/// Where the precompiled form of the module with this sha256 lives in `cache_dir`. The name
/// carries the wasmtime version and wasmtime's own compatibility hash of the engine (its
/// version, target, and every setting that changes compiled code: `precompile_compatibility_hash`),
/// so an upgrade or a configuration change never loads a stale file.
pub fn precompiled_path(cache_dir: &Path, wasm_sha256: &str) -> PathBuf {
    cache_dir.join(format!(
        "{wasm_sha256}.wasmtime-{WASMTIME_VERSION}-{}.cwasm",
        engine_compatibility()
    ))
}

/// [`engine`]'s compatibility hash as 16 hex digits (`unknown` when the engine cannot be made:
/// then nothing runs anyway).
fn engine_compatibility() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        match engine() {
            Ok(engine) => {
                let mut h = std::hash::DefaultHasher::new();
                engine.precompile_compatibility_hash().hash(&mut h);
                format!("{:016x}", h.finish())
            }
            Err(_) => "unknown".to_string(),
        }
    })
}

/// Runs a module written by `precompile` and returns the guest's exit code: `proc_exit(n)` gives
/// `n`, returning from `_start` gives 0. Stdin, stdout and stderr are the process's own.
pub fn exec_precompiled(cwasm: &Path, run: &WasmRun) -> Result<i32, WasmError> {
    let engine = engine()?;
    // SAFETY: `cwasm` is a file this crate wrote with `precompile` into crossmatrix's own cache;
    // wasmtime still checks its header, version and engine compatibility.
    let module =
        unsafe { Module::deserialize_file(&engine, cwasm) }.map_err(|e| WasmError::Load {
            path: cwasm.to_path_buf(),
            message: format!("{e:#}"),
        })?;
    let limit = if run.max_memory_bytes == 0 {
        DEFAULT_MAX_MEMORY_BYTES
    } else {
        run.max_memory_bytes
    };
    let wasi = wasi_context(run)?;

    let (tx, rx) = mpsc::channel::<Event>();
    let guest_engine = engine.clone();
    let guest = thread::Builder::new()
        .name("wasm-guest".to_owned())
        .stack_size(GUEST_THREAD_STACK)
        .spawn(move || {
            let outcome = run_guest(&guest_engine, &module, wasi, limit, &tx);
            let _ = tx.send(Event::Finished(outcome));
        })
        .map_err(|e| WasmError::Engine(format!("cannot start the guest thread: {e}")))?;

    // The clock starts when `_start` is called, not while instantiating.
    match rx.recv() {
        Ok(Event::Started) => {}
        Ok(Event::Finished(outcome)) => return finish(guest, outcome),
        Err(_) => return Err(guest_panicked()),
    }
    // Wait for the guest in slices so that an interrupted run (SIGINT) stops it too.
    let deadline = std::time::Instant::now() + run.timeout;
    let waited = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left.min(ABORT_POLL)) {
            Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {
                if run.abort.is_aborted() {
                    run.abort.mark_hit();
                    break Err(mpsc::RecvTimeoutError::Timeout);
                }
            }
            other => break other,
        }
    };
    match waited {
        Ok(Event::Finished(outcome)) => finish(guest, outcome),
        Ok(Event::Started) => unreachable!("the guest starts once"),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(guest_panicked()),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            engine.increment_epoch();
            match rx.recv_timeout(INTERRUPT_GRACE) {
                // It finished on its own right at the deadline: report what it did.
                Ok(Event::Finished(outcome)) if !matches!(outcome, Outcome::Interrupted) => {
                    finish(guest, outcome)
                }
                _ => Err(WasmError::Timeout),
            }
        }
    }
}

fn guest_panicked() -> WasmError {
    WasmError::Engine("the guest thread panicked".to_owned())
}

fn finish(guest: thread::JoinHandle<()>, outcome: Outcome) -> Result<i32, WasmError> {
    let _ = guest.join();
    match outcome {
        Outcome::Exited(code) => Ok(code),
        Outcome::Interrupted => Err(WasmError::Engine(
            "the guest was interrupted before its deadline".to_owned(),
        )),
        Outcome::Failed(e) => Err(e),
    }
}

fn wasi_context(run: &WasmRun) -> Result<WasiP1Ctx, WasmError> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .inherit_stdio()
        .args(&run.args)
        .envs(&run.env)
        // Sync embedding: do blocking WASI calls on the guest thread rather than bouncing
        // through tokio's blocking pool. Must precede `preopened_dir`, which captures it.
        .allow_blocking_current_thread(true);
    if let Some(dir) = &run.preopen {
        builder
            .preopened_dir(dir, "/", FsPerms::ReadWrite)
            .map_err(|e| WasmError::Wasi(format!("cannot preopen {}: {e:#}", dir.display())))?;
    }
    Ok(builder.build_p1())
}

enum Event {
    Started,
    Finished(Outcome),
}

enum Outcome {
    Exited(i32),
    /// Stopped by the epoch interrupt (the timeout).
    Interrupted,
    Failed(WasmError),
}

struct GuestState {
    wasi: WasiP1Ctx,
    limits: MemoryLimit,
}

/// Traps (rather than failing `memory.grow`) past the limit, so hitting it is a clear verdict
/// instead of whatever the guest's allocator makes of a failed grow.
struct MemoryLimit {
    limit: usize,
    exceeded: Option<usize>,
    table_exceeded: Option<usize>,
}

#[derive(Debug)]
struct MemoryLimitExceeded;

impl fmt::Display for MemoryLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("linear memory limit exceeded")
    }
}

impl std::error::Error for MemoryLimitExceeded {}

impl ResourceLimiter for MemoryLimit {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = Some(desired);
            return Err(MemoryLimitExceeded.into());
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.table_exceeded = Some(desired);
            return Err(MemoryLimitExceeded.into());
        }
        Ok(maximum.is_none_or(|max| desired <= max))
    }

    // One instance, its memories and tables: what a Go wasip1 module has. The defaults
    // (10 000 each) are far more than a module needs.
    fn instances(&self) -> usize {
        4
    }

    fn tables(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        4
    }
}

fn run_guest(
    engine: &Engine,
    module: &Module,
    wasi: WasiP1Ctx,
    limit: usize,
    started: &mpsc::Sender<Event>,
) -> Outcome {
    let mut linker: Linker<GuestState> = Linker::new(engine);
    if let Err(e) = p1::add_to_linker_sync(&mut linker, |s: &mut GuestState| &mut s.wasi) {
        return Outcome::Failed(WasmError::Wasi(format!("{e:#}")));
    }
    let mut store = Store::new(
        engine,
        GuestState {
            wasi,
            limits: MemoryLimit {
                limit,
                exceeded: None,
                table_exceeded: None,
            },
        },
    );
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(1);
    store.epoch_deadline_trap();

    let start = linker
        .instantiate(&mut store, module)
        .and_then(|instance| instance.get_typed_func::<(), ()>(&mut store, "_start"));
    let start = match start {
        Ok(f) => f,
        Err(e) => {
            return match (
                store.data().limits.exceeded,
                store.data().limits.table_exceeded,
            ) {
                (Some(requested), _) => {
                    Outcome::Failed(WasmError::MemoryLimit { requested, limit })
                }
                (_, Some(requested)) => Outcome::Failed(WasmError::TableLimit {
                    requested,
                    limit: MAX_TABLE_ELEMENTS,
                }),
                _ => Outcome::Failed(WasmError::Instantiate(format!("{e:#}"))),
            };
        }
    };
    let _ = started.send(Event::Started);
    let result = start.call(&mut store, ());
    match result {
        Ok(()) => Outcome::Exited(0),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                Outcome::Exited(exit.0)
            } else if let Some(requested) = store.data().limits.exceeded {
                Outcome::Failed(WasmError::MemoryLimit { requested, limit })
            } else if let Some(requested) = store.data().limits.table_exceeded {
                Outcome::Failed(WasmError::TableLimit {
                    requested,
                    limit: MAX_TABLE_ELEMENTS,
                })
            } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                Outcome::Interrupted
            } else {
                Outcome::Failed(WasmError::Trap(format!("{e:?}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_cargo_lock() {
        let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        let Ok(lock) = fs::read_to_string(&lock) else {
            eprintln!("skip: no Cargo.lock at {}", lock.display());
            return;
        };
        let expected = format!("name = \"wasmtime\"\nversion = \"{WASMTIME_VERSION}\"");
        assert!(
            lock.contains(&expected),
            "Cargo.lock's wasmtime differs from WASMTIME_VERSION {WASMTIME_VERSION}; update it"
        );
    }

    #[test]
    fn precompiled_path_names_version_and_sha() {
        let p = precompiled_path(Path::new("/cache"), "abc123");
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("abc123."), "{name}");
        assert!(name.contains(WASMTIME_VERSION), "{name}");
        assert!(name.ends_with(".cwasm"), "{name}");
        assert_eq!(p.parent(), Some(Path::new("/cache")));
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = std::env::temp_dir().join(format!("cm-wasm-unit-{}", std::process::id()));
        let out = dir.join("sub/x.cwasm");
        write_atomically(&out, b"one").unwrap();
        write_atomically(&out, b"two").unwrap();
        assert_eq!(fs::read(&out).unwrap(), b"two");
        let entries: Vec<_> = fs::read_dir(out.parent().unwrap()).unwrap().collect();
        assert_eq!(entries.len(), 1);
        let _ = fs::remove_dir_all(&dir);
    }
}
