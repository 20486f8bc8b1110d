//! Failure classification: turns what a build or a run left behind (exit status, output,
//! what we know of the binary and the rootfs) into a stable `Cause` and a one-line hint that
//! says what to change. The seeds' field knowledge lives here.

use crate::process::{Finished, signal_name};
use crossmatrix_matrix::{Cause, Expectation};
use regex::Regex;
use std::sync::LazyLock;

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

static EXEC_NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"exec: "([^"]+)": executable file not found"#).expect("static regex")
});
static GLIBC_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"version `(GLIBC_[0-9.]+)' not found").expect("static regex"));
static MISSING_LIB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"error while loading shared libraries: ([^:]+): cannot open shared object file")
        .expect("static regex")
});
static QEMU_SIGNAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"qemu: uncaught target signal (\d+) \(([^)]+)\)").expect("static regex")
});

/// Classifies a failed `go build` from its output.
pub fn classify_build(log: &str, goarch: &str) -> Failure {
    if let Some(m) = EXEC_NOT_FOUND.captures(log) {
        let cc = &m[1];
        return Failure::new(
            Cause::NoCCompiler,
            format!(
                "the C compiler `{cc}` is not installed: install it, or set CC/CXX to one for {goarch} (zig cc -target …)"
            ),
        );
    }
    if log.contains("unsupported GOOS/GOARCH pair") {
        return Failure::generic(Cause::UnsupportedTarget);
    }
    if log.contains("incompatible with") && log.contains("architecture")
        || log.contains("file in wrong format")
        || log.contains("Relocations in generic ELF")
        || assembles_for_another_arch(log, goarch)
    {
        return Failure::new(
            Cause::CcTargetMismatch,
            format!(
                "the C toolchain produced objects for another architecture than {goarch}: CC and CXX must target the same triple as GOARCH"
            ),
        );
    }
    let first = first_error_line(log);
    Failure::new(
        Cause::BuildError,
        match first {
            Some(l) => format!("fix: {l}"),
            None => Cause::BuildError.default_hint().to_string(),
        },
    )
}

/// runtime/cgo's `gcc_<goarch>.S` fed to a C compiler for another architecture: its
/// assembler rejects every instruction (clang: `invalid instruction mnemonic`; GNU as: `no such
/// instruction`), or the compiler rejects the flags cgo passes for GOARCH (`-marm`, `-m32`).
fn assembles_for_another_arch(log: &str, goarch: &str) -> bool {
    const ASM: &[&str] = &[
        "invalid instruction mnemonic",
        "unknown use of instruction mnemonic",
        "no such instruction",
        "unknown mnemonic",
        "unrecognized instruction mnemonic",
    ];
    const FLAGS: &[&str] = &[
        "unrecognized command-line option '-marm'",
        "unrecognized command-line option '-m32'",
        "unrecognized command-line option '-m64'",
        "unknown target CPU",
    ];
    let own_asm = format!("gcc_{goarch}.S");
    (log.contains(&own_asm) && ASM.iter().any(|p| log.contains(p)))
        || FLAGS.iter().any(|p| log.contains(p))
}

/// The first line that looks like a compiler error (`file.go:3:5: …`), else the first
/// non-empty line that is neither a `#` package header nor one of `go test`'s `FAIL` summary
/// lines (`FAIL\tpkg [setup failed]`), which say only that the build failed.
fn first_error_line(log: &str) -> Option<String> {
    let lines = log.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut fallback = None;
    for l in lines {
        if l.starts_with('#') || l == "FAIL" || l.starts_with("FAIL\t") {
            continue;
        }
        if l.contains(".go:") {
            return Some(truncate(l, 200));
        }
        fallback.get_or_insert_with(|| truncate(l, 200));
    }
    fallback
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "…"
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
    /// The root and settings environment traps are confirmed against (see [`crate::traps`]).
    pub traps: crate::traps::TrapContext,
}

/// Where `got` first differs from `want`, on one line: `line 3: got "x", want "y"`.
pub fn first_difference(got: &str, want: &str) -> String {
    let short = |s: &str| {
        let s: String = s.chars().take(80).collect();
        format!("{s:?}")
    };
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    for i in 0..g.len().max(w.len()) {
        match (g.get(i), w.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                return format!("line {}: got {}, want {}", i + 1, short(a), short(b));
            }
            (Some(a), None) => {
                return format!("line {}: got {} past the expected end", i + 1, short(a));
            }
            (None, Some(b)) => return format!("line {}: output ended, want {}", i + 1, short(b)),
            (None, None) => {}
        }
    }
    if got.ends_with('\n') != want.ends_with('\n') {
        return "only the final newline differs".into();
    }
    "they differ".into()
}

/// Classifies a finished run; `None` means it passed. A generic failure whose output names an
/// environment trap that the run's root confirms becomes that trap (see [`crate::traps`]).
pub fn classify_run(f: &Finished, ctx: &RunContext, expect: &Expectation) -> Option<Failure> {
    classify_generic(f, ctx, expect).map(|generic| crate::traps::refine(generic, f, ctx))
}

fn classify_generic(f: &Finished, ctx: &RunContext, expect: &Expectation) -> Option<Failure> {
    let combined = expect.output == crossmatrix_matrix::OutputStream::Combined;
    let stdout = f.stdout.text();
    // With stderr merged into stdout, what a loader, qemu or Go's runtime says is there.
    let stderr = if combined {
        stdout.clone()
    } else {
        f.stderr.text()
    };
    if f.timed_out {
        // Go's runtime said it ran out of memory, then the process hung as it died (seen:
        // qemu-user failing its own allocations while the guest crashes) until the timeout.
        if let Some(line) = out_of_memory_line(&stderr) {
            return Some(Failure::new(
                Cause::Oom,
                format!(
                    "ran out of memory ({line}), then hung as it died until the {:.1} s timeout killed it: raise the run's memory limit (--memory, `[run] memory`) or reduce its use",
                    f.elapsed.as_secs_f64()
                ),
            ));
        }
        return Some(timeout_failure(f.elapsed));
    }
    // The kernel says so: whatever the program printed as it died, its cgroup hit the limit.
    if ctx.oom_kills > 0 && (f.signal.is_some() || f.code != Some(0)) {
        return Some(Failure::new(
            Cause::Oom,
            format!(
                "the kernel's OOM killer killed {} process(es) at the run's memory limit: raise it (--memory, `[run] memory`) or reduce the program's use",
                ctx.oom_kills
            ),
        ));
    }
    // Loader problems first: they show as exec failures or loader messages, whatever the code.
    if ctx.interpreter_present == Some(false) || looks_like_missing_interpreter(&stderr) {
        if let Some(interp) = &ctx.interpreter {
            if ctx.interpreter_present == Some(false) {
                return Some(Failure::new(
                    Cause::MissingInterpreter,
                    format!(
                        "the binary wants the loader {interp}, which the `{}` rootfs lacks: build static (cgo=0, or libc=musl) or run on a rootfs with that libc",
                        ctx.rootfs
                    ),
                ));
            }
        }
    }
    if let Some(m) = GLIBC_VERSION.captures(&stderr) {
        return Some(Failure::new(
            Cause::GlibcVersion,
            format!(
                "the binary needs {} but the `{}` rootfs has an older glibc: target an older glibc (zig -target ARCH-linux-gnu.2.31) or use a newer rootfs",
                &m[1], ctx.rootfs
            ),
        ));
    }
    if let Some(m) = MISSING_LIB.captures(&stderr) {
        return Some(Failure::new(
            Cause::MissingLibrary,
            format!(
                "{} is not in the `{}` rootfs: add it there or link it statically",
                &m[1], ctx.rootfs
            ),
        ));
    }
    if stderr.contains("Exec format error") || stderr.contains("exec format error") {
        return Some(Failure::new(
            Cause::ExecFormat,
            format!(
                "the kernel cannot run {}/{} binaries here: install qemu-user-static, or use --executor qemu-direct",
                ctx.goos, ctx.goarch
            ),
        ));
    }
    if looks_like_missing_interpreter(&stderr) {
        return Some(Failure::new(
            Cause::MissingInterpreter,
            format!(
                "the binary's loader {} is not in the `{}` rootfs (the Alpine/scratch trap): build static or use a matching rootfs",
                ctx.interpreter.as_deref().unwrap_or("(unknown)"),
                ctx.rootfs
            ),
        ));
    }
    if let Some(m) = QEMU_SIGNAL.captures(&stderr) {
        let sig: i32 = m[1].parse().unwrap_or(0);
        return Some(signal_failure(sig, &m[2], &ctx.executor));
    }
    if stderr.contains("crossmatrix: wasm trap") {
        return Some(Failure::new(
            Cause::Signal,
            format!("the wasm module trapped: {}", last_line(&stderr)),
        ));
    }
    if stderr.contains("crossmatrix: wasm out of memory") {
        return Some(Failure::new(
            Cause::Oom,
            format!(
                "the wasm module hit the memory limit: {}",
                last_line(&stderr)
            ),
        ));
    }
    if stderr.contains("crossmatrix: wasm timeout") {
        return Some(timeout_failure(f.elapsed));
    }
    if ctx.executor.starts_with("qemu") {
        if let Some(f) = qemu_failure(&stderr, f, &ctx.executor) {
            return Some(f);
        }
    }
    if stderr.contains("bwrap:") && f.code == Some(1) {
        return Some(Failure::new(
            Cause::SandboxError,
            format!("bubblewrap failed: {}", last_line(&stderr)),
        ));
    }
    if let Some(sig) = f.signal {
        return Some(signal_failure(sig, &signal_name(sig), &ctx.executor));
    }
    if let Some(line) = out_of_memory_line(&stderr) {
        return Some(Failure::new(
            Cause::Oom,
            format!(
                "ran out of memory ({line}): raise the run's memory limit (--memory, `[run] memory`) or reduce its use"
            ),
        ));
    }
    let code = f.code.unwrap_or(-1);
    if code != expect.exit_code {
        // bwrap reports a child killed by a signal as 128+N.
        if code > 128 && code <= 128 + 64 && expect.exit_code <= 128 {
            let sig = code - 128;
            return Some(signal_failure(sig, &signal_name(sig), &ctx.executor));
        }
        let tail = last_line(&stderr);
        let mut hint = if tail.is_empty() {
            format!("exited {code}, expected {}", expect.exit_code)
        } else {
            format!("exited {code}, expected {}: {tail}", expect.exit_code)
        };
        if hit_task_limit(&stderr) {
            hint.push_str(" (the run hit its task limit: raise --pids / `[run] pids`)");
        }
        return Some(Failure::new(Cause::WrongExitCode, hint));
    }
    if ctx.probe {
        if let Some(f) = check_probe(&stdout, ctx) {
            return Some(f);
        }
    }
    if let Some(want) = &expect.stdout {
        if &stdout != want {
            let what = if combined {
                "stdout and stderr (combined)"
            } else {
                "stdout"
            };
            return Some(Failure::new(
                Cause::WrongOutput,
                format!(
                    "{what} differs from the expected output: {}; see run.stdout_tail",
                    first_difference(&stdout, want)
                ),
            ));
        }
    }
    if let Some(re) = &expect.stderr_regex {
        match Regex::new(re) {
            Ok(r) if !r.is_match(&stderr) => {
                return Some(Failure::new(
                    Cause::WrongOutput,
                    format!("stderr does not match /{re}/"),
                ));
            }
            Err(e) => {
                return Some(Failure::new(
                    Cause::WrongOutput,
                    format!("invalid stderr regex /{re}/: {e}"),
                ));
            }
            _ => {}
        }
    }
    if let Some(re) = &expect.stdout_regex {
        match Regex::new(re) {
            Ok(r) if !r.is_match(&stdout) => {
                return Some(Failure::new(
                    Cause::WrongOutput,
                    format!("stdout does not match /{re}/"),
                ));
            }
            Err(e) => {
                return Some(Failure::new(
                    Cause::WrongOutput,
                    format!("invalid stdout regex /{re}/: {e}"),
                ));
            }
            _ => {}
        }
    }
    None
}

/// Whether the program could not start a process or thread: the pids limit (or RLIMIT_NPROC).
fn hit_task_limit(stderr: &str) -> bool {
    stderr.contains("failed to create new OS thread")
        || stderr.contains("pthread_create failed: Resource temporarily unavailable")
        || (stderr.contains("fork/exec") && stderr.contains("resource temporarily unavailable"))
}

/// qemu-user failing itself rather than the program: its assertions and aborts, its own
/// allocations failing under the memory limit, or dying from a signal it did not report as
/// the guest's (`qemu: uncaught target signal` is how it reports those).
fn qemu_failure(stderr: &str, f: &Finished, executor: &str) -> Option<Failure> {
    const OWN_MEMORY: &[&str] = &[
        "mprotect of jit buffer",
        "qemu_mprotect__osdep: mprotect failed",
        "Unable to reserve 0x",
        "failed to allocate",
        "Cannot allocate memory",
    ];
    const INTERNAL: &[&str] = &[
        "Bail out! ERROR:",
        "** ERROR:",
        "qemu: fatal:",
        "qemu: unhandled CPU exception",
        "Assertion `",
        "assertion failed",
        "tcg fatal error",
    ];
    // The line that says what qemu hit: its own messages first, the guest's output last.
    let qemu_line = || {
        let lines: Vec<&str> = stderr.lines().map(str::trim).collect();
        INTERNAL
            .iter()
            .chain(OWN_MEMORY)
            .find_map(|p| lines.iter().find(|l| l.contains(p)))
            .or_else(|| lines.iter().rev().find(|l| l.starts_with("qemu")))
            .map(|l| truncate(l, 200))
            .unwrap_or_else(|| last_line(stderr))
    };
    let failed = f.code != Some(0) || f.signal.is_some();
    if failed
        && OWN_MEMORY.iter().any(|p| stderr.contains(p))
        && (stderr.contains("qemu") || stderr.contains("binfmt") || stderr.contains("GLib"))
    {
        return Some(Failure::new(
            Cause::Oom,
            format!(
                "{executor} could not allocate its own memory ({}): raise --memory (qemu needs ~256 MiB beyond the program)",
                qemu_line()
            ),
        ));
    }
    if failed && INTERNAL.iter().any(|p| stderr.contains(p)) {
        return Some(Failure::new(
            Cause::EmulatorCrash,
            format!(
                "{executor} itself failed ({}): not the program; rerun with --recheck, or try another qemu version or a native runner",
                qemu_line()
            ),
        ));
    }
    // A crash signal qemu did not attribute to the guest (it prints `uncaught target signal`
    // for those) is qemu's own; bwrap reports it as 128+N.
    let sig = f
        .signal
        .or_else(|| f.code.filter(|c| (129..=192).contains(c)).map(|c| c - 128));
    if let Some(sig) = sig {
        let crash = [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGABRT,
            libc::SIGILL,
            libc::SIGFPE,
        ];
        if crash.contains(&sig) && !stderr.contains("uncaught target signal") {
            return Some(Failure::new(
                Cause::EmulatorCrash,
                format!(
                    "{executor} itself died with {} without reporting a guest signal: likely a qemu bug; rerun with --recheck or another qemu version",
                    signal_name(sig)
                ),
            ));
        }
    }
    None
}

/// The line where the program (Go's runtime, or a C allocation) says it ran out of memory.
fn out_of_memory_line(stderr: &str) -> Option<String> {
    // Go's runtime, a C allocation, or qemu-user's own (GLib: `***MEMORY-ERROR***: …: GSlice:
    // failed to allocate … Cannot allocate memory`, or `aarch64-binfmt-P: GLib:
    // ../glib/gmem.c:169: failed to allocate 24576 bytes`, after which qemu hangs).
    let says_oom = |l: &str| {
        l.contains("out of memory")
            || l.to_ascii_lowercase().contains("cannot allocate memory")
            || l.contains("***MEMORY-ERROR***")
            || (l.contains("GLib") && l.contains("failed to allocate"))
    };
    if !stderr.lines().any(says_oom) {
        return None;
    }
    Some(
        stderr
            .lines()
            .map(str::trim)
            .find(|l| says_oom(l))
            .map(|l| truncate(l, 200))
            .unwrap_or_else(|| last_line(stderr)),
    )
}

fn looks_like_missing_interpreter(stderr: &str) -> bool {
    // bwrap: "execvp /x: No such file or directory" for an existing file means its loader is
    // missing; qemu: "Could not open '/lib/ld-…': No such file or directory".
    (stderr.contains("execvp") && stderr.contains("No such file or directory"))
        || (stderr.contains("Could not open '") && stderr.contains("ld-"))
}

fn timeout_failure(elapsed: std::time::Duration) -> Failure {
    Failure::new(
        Cause::Timeout,
        format!(
            "still running after {:.1} s, so its whole process tree was killed: raise --timeout (`[run] timeout`) or look for a hang",
            elapsed.as_secs_f64()
        ),
    )
}

fn signal_failure(sig: i32, name: &str, executor: &str) -> Failure {
    let under = if executor.starts_with("qemu") {
        format!(" under {executor}")
    } else {
        String::new()
    };
    let hint = match sig {
        libc::SIGILL => format!(
            "died with SIGILL{under}: an instruction the CPU (or emulator) lacks, e.g. GOAMD64/GOARM too high"
        ),
        libc::SIGSEGV => format!(
            "died with SIGSEGV{under}: a crash in the program or its C code; run it with GOTRACEBACK=crash"
        ),
        libc::SIGKILL => format!(
            "killed with SIGKILL{under}: the run's memory limit (--memory, `[run] memory`) or the kernel's OOM killer; raise the limit if the program needs more"
        ),
        libc::SIGABRT => format!(
            "died with SIGABRT{under}: an abort (C abort(), or a Go crash with GOTRACEBACK=crash); the trace is in run.stderr_tail"
        ),
        libc::SIGTERM | libc::SIGINT | libc::SIGHUP | libc::SIGQUIT => format!(
            "died with {name}{under}: the program (or a child it started) sent it; handle the signal or stop sending it"
        ),
        _ => format!("died with {name} ({sig}){under}: see run.stderr_tail"),
    };
    Failure::new(
        if sig == libc::SIGKILL {
            Cause::Oom
        } else {
            Cause::Signal
        },
        hint,
    )
}

fn last_line(s: &str) -> String {
    truncate(
        s.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(""),
        200,
    )
}

/// Checks the probe's `key=value` report against the cell.
fn check_probe(stdout: &str, ctx: &RunContext) -> Option<Failure> {
    let get = |key: &str| {
        stdout.lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .map(str::trim)
        })
    };
    if !stdout.starts_with("crossmatrix-probe ") {
        return Some(Failure::new(
            Cause::WrongOutput,
            "the probe did not print its header: the binary is not the probe",
        ));
    }
    match get("go_version") {
        Some(v)
            if crossmatrix_toolchains::version::without_experiments(v) == ctx.toolchain_version => {
        }
        Some(v) => {
            return Some(Failure::new(
                Cause::GoVersionMismatch,
                format!(
                    "runtime.Version() is {v} but the toolchain is {}: GOROOT points at another Go than the one that built it",
                    ctx.toolchain_version
                ),
            ));
        }
        None => {
            return Some(Failure::new(
                Cause::WrongOutput,
                "the probe did not report go_version",
            ));
        }
    }
    if get("goos") != Some(ctx.goos.as_str()) || get("goarch") != Some(ctx.goarch.as_str()) {
        return Some(Failure::new(
            Cause::WrongOutput,
            format!(
                "the probe reports {}/{}, expected {}/{}",
                get("goos").unwrap_or("?"),
                get("goarch").unwrap_or("?"),
                ctx.goos,
                ctx.goarch
            ),
        ));
    }
    let want_cgo = if ctx.cgo { "1" } else { "0" };
    if get("cgo") != Some(want_cgo) {
        return Some(Failure::new(
            Cause::WrongOutput,
            format!(
                "the probe reports cgo={}, expected {want_cgo}",
                get("cgo").unwrap_or("?")
            ),
        ));
    }
    if ctx.cgo && get("c_call") != Some("42") {
        return Some(Failure::new(
            Cause::WrongOutput,
            "the probe's call into C returned a wrong value",
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Captured;
    use std::time::Duration;

    fn finished(code: Option<i32>, stdout: &str, stderr: &str) -> Finished {
        let cap = |s: &str| Captured {
            head: s.as_bytes().to_vec(),
            tail: vec![],
            dropped: 0,
        };
        Finished {
            code,
            signal: None,
            timed_out: false,
            elapsed: Duration::from_millis(5),
            stdout: cap(stdout),
            stderr: cap(stderr),
        }
    }

    fn ctx() -> RunContext {
        RunContext {
            executor: "qemu-binfmt".into(),
            rootfs: "musl".into(),
            toolchain_version: "go1.24.4".into(),
            goos: "linux".into(),
            goarch: "arm64".into(),
            probe: true,
            ..Default::default()
        }
    }

    const GOOD: &str =
        "crossmatrix-probe 1\ngo_version=go1.24.4\ngoos=linux\ngoarch=arm64\ncgo=0\n";

    #[test]
    fn out_of_memory_then_a_hang_is_oom_not_timeout() {
        let mut f = finished(
            None,
            "",
            "fatal error: runtime: out of memory\n\nruntime stack:\n***MEMORY-ERROR***: aarch64-binfmt-P[2]: GSlice: failed to allocate 496 bytes\n",
        );
        f.timed_out = true;
        f.elapsed = Duration::from_secs(8);
        let got = classify_run(&f, &ctx(), &Expectation::default()).expect("a failure");
        assert_eq!(got.cause, Cause::Oom, "{}", got.hint);
        assert!(
            got.hint.contains("fatal error: runtime: out of memory")
                && got.hint.contains("--memory")
        );
        // qemu's own allocation failed first, then it hung: still the memory limit.
        let mut f = finished(
            None,
            "",
            "\n***MEMORY-ERROR***: aarch64-binfmt-P[2]: GSlice: failed to allocate 496 bytes (alignment: 512): Cannot allocate memory\n",
        );
        f.timed_out = true;
        let got = classify_run(&f, &ctx(), &Expectation::default()).expect("a failure");
        assert_eq!(got.cause, Cause::Oom, "{}", got.hint);
        assert!(got.hint.contains("GSlice"), "{}", got.hint);
        // The same from g_malloc, seen with go1.27 under an RLIMIT_AS (no cgroups).
        let mut f = finished(
            None,
            "",
            "aarch64-binfmt-P: GLib: ../../../glib/gmem.c:169: failed to allocate 24576 bytes",
        );
        f.timed_out = true;
        let got = classify_run(&f, &ctx(), &Expectation::default()).expect("a failure");
        assert_eq!(got.cause, Cause::Oom, "{}", got.hint);
        assert!(got.hint.contains("gmem.c"), "{}", got.hint);
        // A plain hang stays a timeout.
        let mut f = finished(None, "", "");
        f.timed_out = true;
        let got = classify_run(&f, &ctx(), &Expectation::default()).expect("a failure");
        assert_eq!(got.cause, Cause::Timeout);
    }

    #[test]
    fn the_cgroup_oom_counter_decides_oom() {
        // Killed with nothing on stderr: only the cgroup's counter tells it was the OOM killer.
        let mut f = finished(None, "", "");
        f.signal = Some(libc::SIGKILL);
        let mut c = ctx();
        c.oom_kills = 1;
        let got = classify_run(&f, &c, &Expectation::default()).expect("a failure");
        assert_eq!(got.cause, Cause::Oom);
        assert!(
            got.hint.contains("OOM killer") && got.hint.contains("--memory"),
            "{}",
            got.hint
        );
        // A clean exit is a pass even if some child of the program was OOM-killed earlier.
        let ok = finished(Some(0), GOOD, "");
        assert!(classify_run(&ok, &c, &Expectation::default()).is_none());
    }

    #[test]
    fn build_causes() {
        let log = "# runtime/cgo\ncgo: C compiler \"aarch64-linux-gnu-gcc\" not found: exec: \"aarch64-linux-gnu-gcc\": executable file not found in $PATH";
        let f = classify_build(log, "arm64");
        assert_eq!(f.cause, Cause::NoCCompiler);
        assert!(f.hint.contains("aarch64-linux-gnu-gcc"));
        let f = classify_build("# x\n./main.go:3:5: undefined: foo\n", "amd64");
        assert_eq!(f.cause, Cause::BuildError);
        assert!(f.hint.contains("./main.go:3:5: undefined: foo"));
        // `go test -c` puts its summary first; the reason is below it.
        let log = "FAIL\texample.com/bad/cgoonly [setup failed]\nFAIL\n# example.com/bad/cgoonly\nuse of cgo in test c_test.go not supported\n";
        let f = classify_build(log, "amd64");
        assert_eq!(f.hint, "fix: use of cgo in test c_test.go not supported");
        assert_eq!(
            classify_build("cmd/go: unsupported GOOS/GOARCH pair linux/foo", "foo").cause,
            Cause::UnsupportedTarget
        );
        // CC=zig cc -target x86_64-linux-gnu for GOARCH=arm64, as seen here.
        let log = "# runtime/cgo\ngcc_arm64.S:30:19: error: expected ']' in brackets expression\ngcc_arm64.S:56:2: error: invalid instruction mnemonic 'blr'\n";
        let f = classify_build(log, "arm64");
        assert_eq!(f.cause, Cause::CcTargetMismatch);
        assert!(f.hint.contains("CC and CXX"), "{}", f.hint);
        let f = classify_build(
            "gcc: error: unrecognized command-line option '-marm'; did you mean '-mabm'?",
            "arm",
        );
        assert_eq!(f.cause, Cause::CcTargetMismatch);
    }

    #[test]
    fn run_passes_with_a_good_probe_report() {
        assert_eq!(
            classify_run(
                &finished(Some(0), GOOD, ""),
                &ctx(),
                &Expectation::default()
            ),
            None
        );
    }

    #[test]
    fn go_version_mismatch_and_wrong_output() {
        let out = GOOD.replace("go1.24.4", "go1.22.12");
        let f = classify_run(
            &finished(Some(0), &out, ""),
            &ctx(),
            &Expectation::default(),
        )
        .unwrap();
        assert_eq!(f.cause, Cause::GoVersionMismatch);
        let out = GOOD.replace("arm64", "amd64");
        assert_eq!(
            classify_run(
                &finished(Some(0), &out, ""),
                &ctx(),
                &Expectation::default()
            )
            .unwrap()
            .cause,
            Cause::WrongOutput
        );
    }

    #[test]
    fn missing_interpreter_names_loader_and_rootfs() {
        let mut c = ctx();
        c.interpreter = Some("/lib/ld-linux-aarch64.so.1".into());
        c.interpreter_present = Some(false);
        let f = classify_run(
            &finished(
                Some(1),
                "",
                "bwrap: execvp /.crossmatrix/probe: No such file or directory",
            ),
            &c,
            &Expectation::default(),
        )
        .unwrap();
        assert_eq!(f.cause, Cause::MissingInterpreter);
        assert!(f.hint.contains("/lib/ld-linux-aarch64.so.1") && f.hint.contains("musl"));
    }

    #[test]
    fn loader_messages() {
        let f = classify_run(
            &finished(
                Some(1),
                "",
                "/x: /lib/libc.so.6: version `GLIBC_2.34' not found (required by /x)",
            ),
            &ctx(),
            &Expectation::default(),
        )
        .unwrap();
        assert_eq!(f.cause, Cause::GlibcVersion);
        assert!(f.hint.contains("GLIBC_2.34"));
        let f = classify_run(&finished(Some(127), "", "/x: error while loading shared libraries: libfoo.so.1: cannot open shared object file: No such file or directory"), &ctx(), &Expectation::default()).unwrap();
        assert_eq!(f.cause, Cause::MissingLibrary);
        assert!(f.hint.contains("libfoo.so.1"));
    }

    #[test]
    fn exit_codes_and_signals() {
        let mut c = ctx();
        c.probe = false;
        let f = classify_run(
            &finished(Some(3), "", "boom\n"),
            &c,
            &Expectation::default(),
        )
        .unwrap();
        assert_eq!(f.cause, Cause::WrongExitCode);
        assert!(f.hint.contains("exited 3, expected 0: boom"));
        let want3 = Expectation {
            exit_code: 3,
            ..Default::default()
        };
        assert_eq!(classify_run(&finished(Some(3), "", ""), &c, &want3), None);
        let f = classify_run(
            &finished(
                Some(139),
                "",
                "qemu: uncaught target signal 11 (Segmentation fault) - core dumped",
            ),
            &c,
            &Expectation::default(),
        )
        .unwrap();
        assert_eq!(f.cause, Cause::Signal);
        assert!(f.hint.contains("SIGSEGV") || f.hint.contains("Segmentation"));
        let mut native = c.clone();
        native.executor = "native".into();
        let f = classify_run(
            &finished(Some(132), "", ""),
            &native,
            &Expectation::default(),
        )
        .unwrap();
        assert_eq!(f.cause, Cause::Signal);
        let mut t = finished(None, "", "");
        t.timed_out = true;
        assert_eq!(
            classify_run(&t, &c, &Expectation::default()).unwrap().cause,
            Cause::Timeout
        );
    }

    #[test]
    fn expected_stdout() {
        let mut c = ctx();
        c.probe = false;
        let want = Expectation {
            stdout: Some("hi\n".into()),
            ..Default::default()
        };
        assert_eq!(
            classify_run(&finished(Some(0), "hi\n", ""), &c, &want),
            None
        );
        assert_eq!(
            classify_run(&finished(Some(0), "ho\n", ""), &c, &want)
                .unwrap()
                .cause,
            Cause::WrongOutput
        );
        let re = Expectation {
            stdout_regex: Some("^h.$".into()),
            ..Default::default()
        };
        assert_eq!(classify_run(&finished(Some(0), "hi", ""), &c, &re), None);
    }

    #[test]
    fn qemu_failing_itself() {
        let mut c = ctx();
        c.probe = false;
        let none = Expectation::default();
        // A glib assertion inside qemu (seen here when a fork bomb hit its pids limit).
        let f = classify_run(
            &finished(
                Some(134),
                "",
                "Bail out! ERROR:../../accel/tcg/cpu-exec.c:954:cpu_exec: assertion failed: (cpu == current_cpu)\n",
            ),
            &c,
            &none,
        )
        .unwrap();
        assert_eq!(f.cause, Cause::EmulatorCrash);
        assert!(
            f.hint.contains("cpu_exec") && f.hint.contains("--recheck"),
            "{}",
            f.hint
        );
        // qemu's translation buffer does not fit under RLIMIT_DATA: memory, not a crash.
        let f = classify_run(
            &finished(
                Some(1),
                "",
                "aarch64-binfmt-P: qemu_mprotect__osdep: mprotect failed: Cannot allocate memory\naarch64-binfmt-P: mprotect of jit buffer: Cannot allocate memory\n",
            ),
            &c,
            &none,
        )
        .unwrap();
        assert_eq!(f.cause, Cause::Oom);
        assert!(f.hint.contains("--memory"), "{}", f.hint);
        // qemu died from SIGSEGV without blaming the guest.
        let mut t = finished(None, "", "");
        t.signal = Some(libc::SIGSEGV);
        let f = classify_run(&t, &c, &none).unwrap();
        assert_eq!(f.cause, Cause::EmulatorCrash);
        // The guest's own SIGSEGV, as qemu reports it, stays `signal`.
        let f = classify_run(
            &finished(
                Some(139),
                "",
                "qemu: uncaught target signal 11 (Segmentation fault) - core dumped\n",
            ),
            &c,
            &none,
        )
        .unwrap();
        assert_eq!(f.cause, Cause::Signal);
    }

    #[test]
    fn exec_format_without_an_emulator() {
        // The kernel, with no binfmt_misc handler for the machine, through bwrap.
        let mut c = ctx();
        c.probe = false;
        c.executor = "native".into();
        let f = classify_run(
            &finished(
                Some(1),
                "",
                "bwrap: execvp /.crossmatrix/probe: Exec format error\n",
            ),
            &c,
            &Expectation::default(),
        )
        .unwrap();
        assert_eq!(f.cause, Cause::ExecFormat);
        assert!(f.hint.contains("qemu-user-static"), "{}", f.hint);
    }

    #[test]
    fn memory_and_task_limits() {
        let mut c = ctx();
        c.probe = false;
        c.executor = "native".into();
        let none = Expectation::default();
        let f = classify_run(
            &finished(
                Some(2),
                "",
                "fatal error: runtime: out of memory\n\ngoroutine 1 [running]:\n",
            ),
            &c,
            &none,
        )
        .unwrap();
        assert_eq!(f.cause, Cause::Oom);
        assert!(f.hint.contains("--memory"), "{}", f.hint);
        assert!(
            f.hint.contains("fatal error: runtime: out of memory"),
            "{}",
            f.hint
        );
        let f = classify_run(&finished(Some(137), "", ""), &c, &none).unwrap();
        assert_eq!(f.cause, Cause::Oom);
        assert!(f.hint.contains("memory limit"), "{}", f.hint);
        let f = classify_run(
            &finished(
                Some(2),
                "",
                "runtime: failed to create new OS thread (have 7 already; errno=11)\n",
            ),
            &c,
            &none,
        )
        .unwrap();
        assert_eq!(f.cause, Cause::WrongExitCode);
        assert!(f.hint.contains("--pids"), "{}", f.hint);
    }
}
