//! The run sandbox of a cell: its root (scratch, an assembled rootfs, a directory, an image),
//! the binary and its executor (native, qemu through binfmt_misc or directly, the embedded
//! wasmtime), limits, scratch space, environment, and for a test cell the package's sources.

use crate::cell::shared::Shared;
use crate::cell::shared::{IN_GOMODCACHE, IN_GOROOT, IN_TOOLS};
use crate::diagnose::{Failure, RUN_PATH, SOURCE_COPY_BYTES};
use crate::inspect::BinaryInfo;
use crossmatrix_matrix::{Cause, Cell, ProgramSource, RootfsSpec};
use crossmatrix_sandbox::bwrap::{Limits, Sandbox};
use crossmatrix_sandbox::process::Spawn;
use crossmatrix_sandbox::scratch_copy::ScratchCopy;
use crossmatrix_sandbox::wasm;
use crossmatrix_toolchains::cpu_model::baseline_cpu_model;
use crossmatrix_toolchains::executor::ExecutorChoice;
use crossmatrix_toolchains::rootfs::RootfsFlavor;
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Size cap of a run's writable scratch dir (its cwd): filling it gives ENOSPC, not a full host.
const SCRATCH_BYTES: u64 = 256 << 20;

/// The CPU model a cell asks for: `QEMU_CPU` in its run env, which qemu-user reads whether
/// the kernel starts it through binfmt_misc or crossmatrix invokes it directly.
pub(crate) fn cpu_model(cell: &Cell) -> Option<&str> {
    cell.settings
        .run_env
        .get("QEMU_CPU")
        .map(String::as_str)
        .filter(|m| !m.is_empty())
}

/// The CPU model a run under `choice` has: the cell's `QEMU_CPU`, else under qemu the model
/// that matches the build's level ([`baseline_cpu_model`]); `None` natively, in wasmtime, or
/// where qemu's own default stays.
pub(crate) fn effective_cpu_model(cell: &Cell, choice: &ExecutorChoice) -> Option<String> {
    if !matches!(
        choice,
        ExecutorChoice::QemuBinfmt { .. } | ExecutorChoice::QemuDirect(_)
    ) {
        return None;
    }
    if let Some(explicit) = cpu_model(cell) {
        return Some(explicit.to_string());
    }
    baseline_cpu_model(&cell.target.goarch, build_level(cell).as_deref()).map(str::to_string)
}

/// The value of the cell's sub-architecture knob (`GOARM64=v8.1`): its variant, else its
/// build env; `None`: the toolchain's default.
pub(crate) fn build_level(cell: &Cell) -> Option<String> {
    let knob = match cell.target.goarch.as_str() {
        "amd64" => "GOAMD64",
        "arm" => "GOARM",
        "arm64" => "GOARM64",
        "riscv64" => "GORISCV64",
        "ppc64" | "ppc64le" => "GOPPC64",
        _ => return None,
    };
    if let Some((k, v)) = cell
        .target
        .variant
        .as_deref()
        .and_then(|v| v.split_once('='))
    {
        if k.eq_ignore_ascii_case(knob) {
            return Some(v.to_string());
        }
    }
    cell.settings.build_env.get(knob).cloned()
}

/// The run sandbox of a cell and the command line in it, for `choice`'s executor.
pub(crate) fn prepare_run(
    sh: &Shared,
    cell: &Cell,
    binary: &Path,
    info: &BinaryInfo,
    choice: &ExecutorChoice,
) -> Result<Prepared, Failure> {
    let limits = sh.run_limits(cell);
    let sb = Sandbox::new(&sh.cfg.bwrap)
        .limits(Limits::default())
        .resources(limits)
        .tmp_size(SCRATCH_BYTES);
    let mut prepared = Prepared {
        sandbox: sb,
        argv: Vec::new(),
        interpreter_present: None,
        root: None,
        source_dir: None,
        timeout_scale: sh.timeout_scale(cell, choice),
    };
    if let ExecutorChoice::Wasmtime = choice {
        in_wasmtime(sh, cell, binary, info, &mut prepared)?;
    } else {
        on_root(sh, cell, binary, info, choice, &mut prepared)?;
    }
    prepared.source_dir = test_source(cell)
        .filter(|_| !matches!(cell.program.source, ProgramSource::Std(_)))
        .map(|src| src.dir);
    match &cell.program.test {
        Some(spec) => prepared.argv.extend(
            crate::gotest::test_args(spec, prepared.scaled(sh.test_timeout(cell)))
                .into_iter()
                .map(OsString::from),
        ),
        None => prepared
            .argv
            .extend(cell.program.args.iter().map(OsString::from)),
    }
    Ok(prepared)
}

/// A wasip1 module: precompiled once, run by crossmatrix's own embedded wasmtime in the
/// sandbox, with Go's `go_wasip1_wasm_exec` settings.
fn in_wasmtime(
    sh: &Shared,
    cell: &Cell,
    binary: &Path,
    info: &BinaryInfo,
    p: &mut Prepared,
) -> Result<(), Failure> {
    let limits = sh.run_limits(cell);
    let mut sb = p.sandbox.clone();
    let argv = &mut p.argv;
    let sha = rec_sha(binary, info);
    let cwasm = wasm::precompiled_path(&sh.cfg.cache_dir.join("wasm"), &sha);
    if cwasm.exists() {
        crate::cache::prune::touch(&cwasm);
    } else {
        wasm::precompile(binary, &cwasm).map_err(|e| {
            Failure::new(
                Cause::EmulatorCrash,
                format!("wasmtime could not compile the module: {e}"),
            )
        })?;
    }
    sb = sb
        .host_system()
        .ro(&sh.cfg.self_exe, format!("{IN_TOOLS}/crossmatrix"))
        .ro(&cwasm, format!("{IN_TOOLS}/module.cwasm"))
        .tmpfs_sized("/scratch", SCRATCH_BYTES)
        .chdir("/scratch");
    argv.push(format!("{IN_TOOLS}/crossmatrix").into());
    argv.push("__wasm-exec".into());
    argv.push("--timeout-ms".into());
    argv.push(
        cell.settings
            .run_timeout
            .unwrap_or(sh.cfg.run_timeout)
            .as_millis()
            .to_string()
            .into(),
    );
    if let Some(m) = limits.memory {
        // wasmtime's own limit (a clear `oom`), below the sandbox's.
        argv.push("--max-memory".into());
        argv.push(m.min(wasm::MAX_MEMORY_BYTES).to_string().into());
    }
    if let Some(src) = test_source(cell) {
        // Like Go's go_wasip1_wasm_exec: the guest sees the root as `/` and starts in
        // the package's directory.
        for (host, inside) in &src.binds {
            sb = sb.ro(host, inside);
        }
        argv.push("--preopen".into());
        argv.push("/".into());
        argv.push("--env".into());
        argv.push(format!("PWD={}", src.dir.display()).into());
        argv.push("--env".into());
        argv.push("TMPDIR=/tmp".into());
    }
    argv.push(format!("{IN_TOOLS}/module.cwasm").into());
    argv.push("--".into());
    argv.push(cell.program.name.clone().into());
    p.sandbox = sb;
    Ok(())
}

/// A Linux binary on its root (scratch, a rootfs, a directory, an image), natively or under
/// qemu, with the binary (and qemu) bound beside the root.
fn on_root(
    sh: &Shared,
    cell: &Cell,
    binary: &Path,
    info: &BinaryInfo,
    choice: &ExecutorChoice,
    p: &mut Prepared,
) -> Result<(), Failure> {
    let prog_in = format!(
        "{IN_TOOLS}/{}",
        binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut sb = p.sandbox.clone();
    let argv = &mut p.argv;
    let mut interpreter_present = None;
    let mut root = None;
    // The rootfs is the sandbox's root; the binary (and qemu) live beside it.
    match &cell.rootfs {
        RootfsSpec::Scratch => {}
        spec => {
            let dir = match spec {
                RootfsSpec::Host => {
                    sb = sb.host_programs();
                    sh.host_root()?
                }
                RootfsSpec::Dir(d) => d.clone(),
                RootfsSpec::Image(_) => sh.image_of(cell)?.root,
                RootfsSpec::Glibc | RootfsSpec::Musl => {
                    let flavor = if *spec == RootfsSpec::Glibc {
                        RootfsFlavor::Glibc
                    } else {
                        RootfsFlavor::Musl
                    };
                    sh.rootfs.get(&cell.target.goarch, flavor).map_err(|e| {
                        Failure::new(
                            Cause::RootfsUnavailable,
                            format!(
                                "the {} rootfs for {} could not be assembled: {e}",
                                spec.label(),
                                cell.target.goarch
                            ),
                        )
                    })?
                }
                RootfsSpec::Scratch => unreachable!("handled above"),
            };
            root = Some(dir.clone());
            sb = sb.root_from(&dir).map_err(|e| {
                Failure::new(
                    Cause::RootfsUnavailable,
                    format!("cannot read rootfs {}: {e}", dir.display()),
                )
            })?;
            if let Some(interp) = &info.interpreter {
                // (The host root's loaders are the host's.)
                let base = if *spec == RootfsSpec::Host {
                    Path::new("/")
                } else {
                    dir.as_path()
                };
                interpreter_present = Some(base.join(interp.trim_start_matches('/')).exists());
            }
        }
    }
    if cell.rootfs == RootfsSpec::Scratch && info.interpreter.is_some() {
        // An empty root holds no loader.
        interpreter_present = Some(false);
    }
    // A program's /tmp is its root's, as in a container: none in `scratch` or in an
    // image without one, unless the config mounts a tmpfs there. Go tests always get
    // one (their TMPDIR: t.TempDir()), as `go test` would anywhere.
    let root_has_tmp = root.as_ref().is_some_and(|r| r.join("tmp").is_dir());
    if !cell.program.is_test() && !root_has_tmp {
        sb = sb.without_tmp();
    }
    for at in &cell.settings.run_tmpfs {
        if at == "/tmp" {
            sb = sb.tmp_size(SCRATCH_BYTES);
        } else {
            sb = sb.tmpfs_sized(at, SCRATCH_BYTES);
        }
    }
    sb = sb
        .ro(binary, &prog_in)
        .tmpfs_sized("/scratch", SCRATCH_BYTES)
        .chdir("/scratch")
        .env("PATH", run_path(cell));
    for (k, v) in &cell.settings.run_env {
        sb = sb.env(k, v);
    }
    // Under qemu, the CPU model that matches the build: qemu-user reads QEMU_CPU however it
    // is started, and removes it (and itself) from the program's environment, which stays
    // exactly what the cell gives it. (A foreign child the program starts through
    // binfmt_misc therefore runs on that qemu's default model.)
    if cpu_model(cell).is_none() {
        if let Some(model) = effective_cpu_model(cell, choice) {
            sb = sb
                .env("QEMU_CPU", model)
                .env("QEMU_UNSET_ENV", "QEMU_CPU,QEMU_UNSET_ENV");
        }
    }
    if let Some(src) = test_source(cell) {
        // Tests run in their package's directory (a read-only view of the source:
        // they read testdata/ relative to it) with a writable TMPDIR.
        for (host, inside) in &src.binds {
            sb = sb.ro(host, inside);
        }
        sb = sb.chdir(&src.dir).env("TMPDIR", "/tmp").env("HOME", "/tmp");
        for (k, v) in &src.env {
            sb = sb.env(*k, v);
        }
        if !matches!(cell.program.source, ProgramSource::Std(_)) {
            // (A standard package's test source is its GOROOT already.)
            for (host, inside) in goroot_binds(&cell.toolchain.goroot) {
                sb = sb.ro(host, inside);
            }
        }
        if let ProgramSource::Package(gp) = &cell.program.source {
            if !gp.vendored {
                sb = sb.ro(&sh.cfg.modcache, IN_GOMODCACHE);
            }
        }
        for (k, v) in go_test_env(cell) {
            // The cell's own run env wins, as the user's shell would in `go test`.
            if !cell.settings.run_env.contains_key(&k) {
                sb = sb.env(k, v);
            }
        }
    }
    if let ExecutorChoice::QemuDirect(q) = choice {
        // A named emulator directory is bound whole (its qemu may be a stand-in that needs
        // what lies beside it); the host's qemu alone.
        let dir = sh
            .cfg
            .emulators
            .iter()
            .filter_map(|e| e.dir.as_deref())
            .find(|d| q.path.parent() == Some(*d));
        match (dir, q.path.file_name()) {
            (Some(d), Some(name)) => {
                sb = sb.ro(d, format!("{IN_TOOLS}/emulator"));
                argv.push(
                    Path::new(IN_TOOLS)
                        .join("emulator")
                        .join(name)
                        .into_os_string(),
                );
            }
            _ => {
                sb = sb.ro(&q.path, format!("{IN_TOOLS}/qemu"));
                argv.push(format!("{IN_TOOLS}/qemu").into());
            }
        }
    }
    argv.push(prog_in.into());
    p.sandbox = sb;
    p.interpreter_present = interpreter_present;
    p.root = root;
    Ok(())
}
/// Where a test cell's tests run: the directories bound read-only (at their own paths; a
/// standard package's GOROOT at a path of its own, since a rootfs may hold `/usr`), the
/// package's directory inside, and the environment that goes with it.
pub(crate) struct TestSource {
    pub(crate) binds: Vec<(PathBuf, PathBuf)>,
    pub(crate) dir: PathBuf,
    pub(crate) env: Vec<(&'static str, String)>,
}

/// The toolchain's GOROOT at [`IN_GOROOT`], each entry at its real path: Debian's GOROOT is
/// made of relative symlinks (`src -> ../../share/go-1.NN/src`, and inside the real `pkg/`,
/// `include -> ../../../share/go-1.NN/pkg/include`) that would dangle elsewhere. A real
/// directory holding such links is bound entry by entry (two levels deep at most).
fn goroot_binds(goroot: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut binds = Vec::new();
    bind_resolving_links(goroot, Path::new(IN_GOROOT), 2, &mut binds);
    binds
}

fn bind_resolving_links(dir: &Path, inside: &Path, depth: u32, out: &mut Vec<(PathBuf, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_symlink());
    for e in rd.flatten() {
        let (path, at) = (e.path(), inside.join(e.file_name()));
        let holds_links = || {
            std::fs::read_dir(&path)
                .map(|rd| rd.flatten().any(|c| is_link(&c.path())))
                .unwrap_or(false)
        };
        if depth > 0 && !is_link(&path) && path.is_dir() && holds_links() {
            bind_resolving_links(&path, &at, depth - 1, out);
        } else if let Ok(real) = std::fs::canonicalize(&path) {
            out.push((real, at));
        }
    }
}

/// What `go test` gives a test besides its directory, as a maintainer's `GOARCH=… go test
/// -exec …` loop has it: the toolchain (read-only) with `GOROOT/bin` first on `PATH` (Go ≥ 1.19
/// puts it there; `testenv` and tests that run `go vet`, `go run` or `go build -gcflags=-m`
/// rely on it), a writable GOCACHE and GOPATH under the test's temporary dir, the target in
/// `GOOS`/`GOARCH`/`CGO_ENABLED` (and its level), the module cache read-only, and no network
/// for the go command (`GOPROXY=off`, `GOTOOLCHAIN=local`).
fn go_test_env(cell: &Cell) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("GOROOT".into(), IN_GOROOT.into()),
        ("GOCACHE".into(), "/tmp/.crossmatrix-go/cache".into()),
        ("GOPATH".into(), "/tmp/.crossmatrix-go/path".into()),
        ("GOOS".into(), cell.target.goos.clone()),
        ("GOARCH".into(), cell.target.goarch.clone()),
        (
            "CGO_ENABLED".into(),
            if cell.cgo { "1" } else { "0" }.into(),
        ),
        ("GOTOOLCHAIN".into(), "local".into()),
        ("GOPROXY".into(), "off".into()),
    ];
    if let Some((k, v)) = cell.target.variant_env() {
        env.push((k.to_string(), v.to_string()));
    }
    if let ProgramSource::Package(gp) = &cell.program.source {
        if !gp.vendored {
            env.push(("GOMODCACHE".into(), IN_GOMODCACHE.into()));
        }
    }
    env
}

/// The `PATH` of a run: the cell's `run_env` one, else [`RUN_PATH`] — for a test cell with its
/// toolchain's `bin` first, as `go test` gives it.
pub(crate) fn run_path(cell: &Cell) -> String {
    match cell.settings.run_env.get("PATH") {
        Some(p) => p.clone(),
        None if cell.program.is_test() => format!("{IN_GOROOT}/bin:{RUN_PATH}"),
        None => RUN_PATH.to_string(),
    }
}

pub(crate) fn test_source(cell: &Cell) -> Option<TestSource> {
    cell.program.test.as_ref()?;
    match &cell.program.source {
        ProgramSource::Package(gp) => Some(TestSource {
            binds: gp.roots.iter().map(|r| (r.clone(), r.clone())).collect(),
            dir: gp.dir.clone(),
            env: vec![],
        }),
        ProgramSource::Std(import) => {
            // Each top-level entry of GOROOT at its real path: Debian's GOROOT is made of
            // relative symlinks (src -> ../../share/go-1.NN/src) that would dangle elsewhere.
            let inside = PathBuf::from(IN_GOROOT);
            Some(TestSource {
                binds: goroot_binds(&cell.toolchain.goroot),
                dir: inside.join("src").join(import),
                env: vec![("GOROOT", IN_GOROOT.to_string())],
            })
        }
        ProgramSource::Dir(d) => Some(TestSource {
            binds: vec![(d.clone(), d.clone())],
            dir: d.clone(),
            env: vec![],
        }),
        ProgramSource::File(_) | ProgramSource::Probe | ProgramSource::Pattern { .. } => None,
    }
}

#[derive(Clone)]
pub(crate) struct Prepared {
    pub(crate) sandbox: Sandbox,
    pub(crate) argv: Vec<OsString>,
    pub(crate) interpreter_present: Option<bool>,
    /// The rootfs the sandbox's root is made of, if any.
    pub(crate) root: Option<PathBuf>,
    /// A test cell's package directory, made writable for each run by
    /// [`Prepared::command_writable`] (not part of the sandbox: a result key never names the
    /// throwaway copy).
    pub(crate) source_dir: Option<PathBuf>,
    /// The factor of this run's timeouts (its executor's slowdown; 1 natively).
    pub(crate) timeout_scale: f64,
}

impl Prepared {
    /// The same run as attempt `n` of `--retries` (2, 3, …): `CROSSMATRIX_ATTEMPT=n` in its
    /// environment, so a program (or a stand-in executor) can tell a retry from the first run.
    pub(crate) fn attempt(&self, n: u32) -> Prepared {
        let mut p = self.clone();
        p.sandbox = p.sandbox.env("CROSSMATRIX_ATTEMPT", n.to_string());
        p
    }

    /// `limit` scaled by the executor's slowdown.
    pub(crate) fn scaled(&self, limit: std::time::Duration) -> std::time::Duration {
        limit.mul_f64(self.timeout_scale)
    }

    pub(crate) fn command(&self) -> Spawn {
        self.sandbox.command(&self.argv)
    }

    /// The command with a test cell's package directory writable through a throwaway copy
    /// (as `go test`, which runs a test in its own directory, lets it write there), and the
    /// copy, whose changes the record lists once the run is over. A directory too large to
    /// copy stays read-only.
    pub(crate) fn command_writable(&self) -> (Spawn, Option<ScratchCopy>) {
        let Some(dir) = &self.source_dir else {
            return (self.command(), None);
        };
        match ScratchCopy::of(dir, SOURCE_COPY_BYTES) {
            Ok(copy) => {
                let sb = self.sandbox.clone().rw(copy.path(), dir);
                (sb.command(&self.argv), Some(copy))
            }
            Err(_) => (self.command(), None),
        }
    }
}

fn rec_sha(binary: &Path, info: &BinaryInfo) -> String {
    if !info.sha256.is_empty() {
        return info.sha256.clone();
    }
    let mut h = Sha256::new();
    h.update(binary.to_string_lossy().as_bytes());
    format!("{:x}", h.finalize())
}
