//! The build step: the C compiler of a cgo cell, then `go build` (`go test -c` for a test
//! cell) in the build sandbox — offline, the toolchain and sources read-only — or the binary
//! of an earlier build with the same inputs ([`crate::cache::build`], keyed by
//! [`crate::cell::build_key`]). A failure is named by [`crate::diagnose`].

use crate::cell::build_source::{BuildSource, build_source};
use crate::cell::shared::Shared;
use crate::cell::shared::exe_name;
use crate::cell::shared::{IN_GOCACHE, IN_OUT, IN_ZIGCACHE};
use crate::diagnose::{Failure, classify_build, classify_module_failure};
use crossmatrix_matrix::{Cause, Cell, Libc, ProgramSource};
use crossmatrix_results::{BuildRecord, StepStatus};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::bwrap::{Limits, Sandbox};
use crossmatrix_sandbox::limits::StepLimits;
use crossmatrix_sandbox::process::CaptureOptions;
use crossmatrix_toolchains::cc::{CCompiler, CcKind};
use crossmatrix_toolchains::rootfs::{RootfsFlavor, musl_sysroot_lib};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Tasks (processes + threads) a build may run at once: `go build` and the C compiler it
/// drives stay far below; a runaway tool does not take the host's pids.
const BUILD_PIDS: u64 = 4096;

/// zig targeting musl links against Debian's prebuilt musl-dev for the arch when it can be
/// fetched, instead of compiling musl (the costliest step of a cold matrix); otherwise zig
/// builds its own, as before.
pub(crate) fn with_prebuilt_musl(sh: &Shared, cc: CCompiler, goarch: &str) -> CCompiler {
    let Some(lib) = musl_sysroot_lib(goarch) else {
        return cc;
    };
    if cc.kind != CcKind::Zig || !cc.cc.contains("-linux-musl") {
        return cc;
    }
    let prebuilt = sh
        .rootfs
        .get(goarch, RootfsFlavor::MuslDev)
        .map_err(|e| e.to_string())
        .and_then(|sysroot| {
            cc.clone()
                .with_musl_sysroot(&sysroot, lib, &sh.cfg.cache_dir.join("zig"))
        });
    match prebuilt {
        Ok(cc) => cc,
        // Say why in the record (build.cc): the fallback costs a musl compile.
        Err(why) => CCompiler {
            why: format!(
                "{}; Debian's musl-dev not used ({why}), so zig compiles musl",
                cc.why
            ),
            ..cc
        },
    }
}

/// Runs `go build` in a sandbox (or takes the binary of an earlier build with the same
/// inputs). Returns the binary, or the failure; `rec` gets the step's figures and log.
pub(crate) fn build(
    sh: &Shared,
    cell: &Cell,
    cc: Option<&CCompiler>,
    rec: &mut BuildRecord,
    build_jobs: Option<usize>,
    abort: &Abort,
) -> Result<PathBuf, Failure> {
    rec.status = StepStatus::Fail;
    let src = build_source(sh, cell)?;
    let bin_dir = sh.bin_dir(cell);
    let gocache = sh.gocache(cell);
    for d in [&bin_dir, &gocache] {
        std::fs::create_dir_all(d).map_err(|e| {
            Failure::new(
                Cause::HarnessError,
                format!("cannot create {}: {e}", d.display()),
            )
        })?;
    }
    let exe_name = exe_name(cell);
    let binary = bin_dir.join(&exe_name);
    let (sb, mut argv) = build_command(sh, cell, cc, &src, &bin_dir, &gocache);
    let build_timeout = cell.settings.build_timeout.unwrap_or(sh.cfg.build_timeout);
    let start = Instant::now();
    // A build with exactly these inputs ran before: reuse its binary, skip `go build`.
    let key = crate::cell::build_key::build_key(sh, cell, &src, &bin_dir, &sb, &argv, cc, abort);
    if let Some(key) = &key {
        if sh.build_cache.fetch(key, &exe_name, &binary) {
            rec.status = StepStatus::Ok;
            rec.cached = true;
            rec.duration_ms = start.elapsed().as_millis() as u64;
            return Ok(binary);
        }
    }
    if let Some(p) = build_jobs {
        argv.insert(2, format!("-p={}", p.max(1)).into());
    }
    let result = sh.children.run(
        sb.command(&argv),
        build_timeout,
        abort,
        &CaptureOptions::default(),
    );
    rec.duration_ms = start.elapsed().as_millis() as u64;
    let f = result.map_err(|e| {
        Failure::new(
            Cause::SandboxError,
            format!("cannot start bwrap ({}): {e}", sh.cfg.bwrap.display()),
        )
    })?;
    let log = format!("{}{}", f.stdout.text(), f.stderr.text());
    rec.log_tail = tail_lines(&log, 30);
    if f.timed_out() {
        return Err(Failure::new(
            Cause::Timeout,
            format!("go build ran past {build_timeout:?}: raise --build-timeout"),
        ));
    }
    if f.code() != Some(0) {
        return Err(build_failure(cell, &log));
    }
    rec.status = StepStatus::Ok;
    if let Some(key) = &key {
        sh.build_cache.store(key, &exe_name, &binary);
    }
    Ok(binary)
}

/// The build's `-ldflags`: the cell's, and for a cgo cell against musl `-linkmode=external`
/// first. Go links internally when no package outside the standard library uses cgo (a program
/// importing only `net` or `os/user`), and its internal linker cannot link `runtime/cgo`
/// against a static musl (`relocation target pthread_create not defined`); musl's links are
/// static, so the C linker must do them. A cell's own `-linkmode` comes later and wins.
fn ldflags(cell: &Cell) -> Option<String> {
    let external = cell.cgo && cell.libc == Some(Libc::Musl);
    match (external, &cell.settings.ldflags) {
        (true, Some(ld)) => Some(format!("-linkmode=external {ld}")),
        (true, None) => Some("-linkmode=external".to_string()),
        (false, ld) => ld.clone(),
    }
}

/// Why a `go build` that ran failed: the sandbox, the module graph, or the code.
fn build_failure(cell: &Cell, log: &str) -> Failure {
    if log.contains("bwrap:") && !log.contains("go:") {
        Failure::new(
            Cause::SandboxError,
            format!("bubblewrap failed: {}", tail_lines(log, 1)),
        )
    } else if let Some(f) = module_failure(cell, log) {
        f
    } else {
        with_cgo_note(cell, classify_build(log, &cell.target.goarch))
    }
}

/// The build sandbox and the go command line of a cell: offline, the toolchain and the
/// sources read-only, OUT and GOCACHE writable, the C compiler's files for cgo.
fn build_command(
    sh: &Shared,
    cell: &Cell,
    cc: Option<&CCompiler>,
    src: &BuildSource,
    bin_dir: &Path,
    gocache: &Path,
) -> (Sandbox, Vec<OsString>) {
    let goroot = &cell.toolchain.goroot;
    let mut sb = Sandbox::new(&sh.cfg.bwrap)
        .limits(Limits {
            file_size: 8 << 30,
            ..Limits::default()
        })
        .resources(StepLimits {
            memory: None,
            pids: Some(BUILD_PIDS),
        })
        // go waits for its compilers and linkers: as pid 1 its CPU counts in run.json.
        .as_pid_1()
        .host_system()
        .ro(goroot, goroot);
    for (host, inside) in &src.binds {
        sb = sb.ro(host, inside);
    }
    sb = sb
        .rw(bin_dir, IN_OUT)
        .rw(gocache, IN_GOCACHE)
        .chdir(&src.chdir);
    let target = (cell.target.goos.as_str(), cell.target.goarch.as_str());
    sb = crate::build_env::offline_go(sb, goroot, IN_GOCACHE, target, cell.cgo)
        .env("TMPDIR", "/tmp");
    // The compiler's own runtime: GC less often within a memory cap, one thread (see
    // `build_env`).
    for (k, v) in &sh.build_env {
        sb = sb.env(*k, v);
    }
    for (k, v) in &src.env {
        sb = sb.env(*k, v);
    }
    if let Some((k, v)) = cell.target.variant_env() {
        sb = sb.env(k, v);
    }
    if let Some(cc) = cc {
        sb = sb.env("CC", &cc.cc).env("CXX", &cc.cxx);
        for (k, v) in &cc.env {
            sb = sb.env(k, v);
        }
        for p in &cc.bind_paths {
            sb = sb.ro(p, p);
        }
        if cc.needs_zig_cache {
            sb = sb
                .rw(sh.cfg.cache_dir.join("zig"), IN_ZIGCACHE)
                .env("ZIG_GLOBAL_CACHE_DIR", IN_ZIGCACHE);
        }
    }
    let settings = &cell.settings;
    for (k, v) in &settings.build_env {
        sb = sb.env(k, v);
    }
    let out_path = format!("{IN_OUT}/{}", exe_name(cell));
    // A test cell builds the package's test binary.
    let mut argv: Vec<OsString> = vec![goroot.join("bin/go").into()];
    if cell.program.is_test() {
        argv.extend(["test".into(), "-c".into()]);
    } else {
        argv.push("build".into());
    }
    argv.extend(["-o".into(), out_path.into()]);
    if !settings.tags.is_empty() {
        argv.push(format!("-tags={}", settings.tags.join(",")).into());
    }
    if settings.trimpath {
        argv.push("-trimpath".into());
    }
    if let Some(ld) = ldflags(cell) {
        argv.push(format!("-ldflags={ld}").into());
    }
    argv.extend(settings.build_flags.iter().map(OsString::from));
    argv.push(src.target.clone().into());
    (sb, argv)
}

/// A failed build of a module's package that failed for its dependencies (see
/// [`crate::diagnose::build`]).
fn module_failure(cell: &Cell, log: &str) -> Option<Failure> {
    let ProgramSource::Package(gp) = &cell.program.source else {
        return None;
    };
    let go = cell.toolchain.goroot.join("bin/go");
    let requires = crossmatrix_project::module::read_module(&gp.module.gomod, &go)
        .map(|m| m.requires)
        .unwrap_or_default();
    classify_module_failure(log, gp, &requires)
}

/// A build error on a cgo=0 cell of a package whose own files use cgo is most likely that: the
/// files with `import "C"` are left out and what they define is missing. The hint says so.
fn with_cgo_note(cell: &Cell, mut fail: Failure) -> Failure {
    if cell.cgo || fail.cause != Cause::BuildError {
        return fail;
    }
    let dir = match &cell.program.source {
        ProgramSource::Package(gp) => gp.dir.clone(),
        ProgramSource::Dir(d) => d.clone(),
        _ => return fail,
    };
    let mut cgo_files: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let go = name.ends_with(".go") && !name.ends_with("_test.go");
            let text = if go {
                std::fs::read_to_string(e.path()).ok()?
            } else {
                return None;
            };
            // The planner's own reading of a file's imports (import blocks, comments).
            let header = crossmatrix_project::constraint::Header::parse(&text);
            crossmatrix_project::constraint::imports_c(header.rest).then_some(name)
        })
        .collect();
    if !cgo_files.is_empty() {
        cgo_files.sort();
        fail.hint.push_str(&format!(
            " (left out with cgo=0 because they use cgo: {}; this package needs cgo=1, or exclude its cgo=0 cells)",
            cgo_files.join(", ")
        ));
    }
    fail
}
pub(crate) fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
