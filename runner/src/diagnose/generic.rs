//! What any failed run looks like: the exit status or signal, the loader's and qemu's own
//! messages, limits hit, output against what the cell expects. The seeds' field knowledge
//! lives here; [`crate::diagnose::traps`] refines the answer for Go's runtime needs.

use crate::diagnose::build::truncate;
use crate::diagnose::failure::{Failure, RunContext};
use crossmatrix_matrix::{Cause, Expectation};
use crossmatrix_sandbox::process::{Finished, signal_name};
use regex::Regex;
use std::sync::LazyLock;

static GLIBC_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"version `(GLIBC_[0-9.]+)' not found").expect("static regex"));
static MISSING_LIB: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"error while loading shared libraries: ([^:]+): cannot open shared object file")
        .expect("static regex")
});
static QEMU_SIGNAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"qemu: uncaught target signal (\d+) \(([^)]+)\)").expect("static regex")
});

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

/// Classifies a finished run by what any program's failure looks like (exit status, signal,
/// the loader's and qemu's messages, output against the expectation); `None` means it passed.
pub fn classify_generic(f: &Finished, ctx: &RunContext, expect: &Expectation) -> Option<Failure> {
    let combined = expect.output == crossmatrix_matrix::OutputStream::Combined;
    let stdout = f.stdout.text();
    // With stderr merged into stdout, what a loader, qemu or Go's runtime says is there.
    let stderr = if combined {
        stdout.clone()
    } else {
        f.stderr.text()
    };
    limits_hit(f, ctx, &stderr)
        .or_else(|| loader_failure(ctx, &stderr))
        .or_else(|| executor_failure(f, ctx, &stderr))
        .or_else(|| exit_failure(f, ctx, expect, &stderr))
        .or_else(|| output_failure(ctx, expect, &stdout, &stderr))
}

/// The run's deadline or memory limit, whatever the program printed as it died.
fn limits_hit(f: &Finished, ctx: &RunContext, stderr: &str) -> Option<Failure> {
    if f.timed_out() {
        // Go's runtime said it ran out of memory, then the process hung as it died (seen:
        // qemu-user failing its own allocations while the guest crashes) until the timeout.
        if let Some(line) = out_of_memory_line(stderr) {
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
    if ctx.oom_kills > 0 && (f.signal().is_some() || f.code() != Some(0)) {
        return Some(Failure::new(
            Cause::Oom,
            format!(
                "the kernel's OOM killer killed {} process(es) at the run's memory limit: raise it (--memory, `[run] memory`) or reduce the program's use",
                ctx.oom_kills
            ),
        ));
    }
    None
}

/// The loader: a missing interpreter, glibc too old, a missing shared library, a foreign
/// binary with no emulator.
fn loader_failure(ctx: &RunContext, stderr: &str) -> Option<Failure> {
    // Loader problems first: they show as exec failures or loader messages, whatever the code.
    if ctx.interpreter_present == Some(false) || looks_like_missing_interpreter(stderr) {
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
    if let Some(m) = GLIBC_VERSION.captures(stderr) {
        return Some(Failure::new(
            Cause::GlibcVersion,
            format!(
                "the binary needs {} but the `{}` rootfs has an older glibc: target an older glibc (zig -target ARCH-linux-gnu.2.31) or use a newer rootfs",
                &m[1], ctx.rootfs
            ),
        ));
    }
    if let Some(m) = MISSING_LIB.captures(stderr) {
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
    if looks_like_missing_interpreter(stderr) {
        return Some(Failure::new(
            Cause::MissingInterpreter,
            format!(
                "the binary's loader {} is not in the `{}` rootfs (the Alpine/scratch trap): build static or use a matching rootfs",
                ctx.interpreter.as_deref().unwrap_or("(unknown)"),
                ctx.rootfs
            ),
        ));
    }
    None
}

/// The executor itself: qemu's own faults and signals, the embedded wasmtime's traps and
/// limits, bubblewrap.
fn executor_failure(f: &Finished, ctx: &RunContext, stderr: &str) -> Option<Failure> {
    if let Some(m) = QEMU_SIGNAL.captures(stderr) {
        let sig: i32 = m[1].parse().unwrap_or(0);
        return Some(signal_failure(sig, &m[2], &ctx.executor));
    }
    if stderr.contains("crossmatrix: wasm trap") {
        return Some(Failure::new(
            Cause::Signal,
            format!("the wasm module trapped: {}", last_line(stderr)),
        ));
    }
    if stderr.contains("crossmatrix: wasm out of memory") {
        return Some(Failure::new(
            Cause::Oom,
            format!(
                "the wasm module hit the memory limit: {}",
                last_line(stderr)
            ),
        ));
    }
    if stderr.contains("crossmatrix: wasm timeout") {
        return Some(timeout_failure(f.elapsed));
    }
    if ctx.executor.starts_with("qemu") {
        if let Some(f) = qemu_failure(stderr, f, &ctx.executor) {
            return Some(f);
        }
    }
    if stderr.contains("bwrap:") && f.code() == Some(1) {
        return Some(Failure::new(
            Cause::SandboxError,
            format!("bubblewrap failed: {}", last_line(stderr)),
        ));
    }
    None
}

/// A signal, Go's out-of-memory message, or an exit code other than the expected one.
fn exit_failure(
    f: &Finished,
    ctx: &RunContext,
    expect: &Expectation,
    stderr: &str,
) -> Option<Failure> {
    if let Some(sig) = f.signal() {
        return Some(signal_failure(sig, &signal_name(sig), &ctx.executor));
    }
    if let Some(line) = out_of_memory_line(stderr) {
        return Some(Failure::new(
            Cause::Oom,
            format!(
                "ran out of memory ({line}): raise the run's memory limit (--memory, `[run] memory`) or reduce its use"
            ),
        ));
    }
    let code = f.code().unwrap_or(-1);
    if code != expect.exit_code {
        // bwrap reports a child killed by a signal as 128+N.
        if code > 128 && code <= 128 + 64 && expect.exit_code <= 128 {
            let sig = code - 128;
            return Some(signal_failure(sig, &signal_name(sig), &ctx.executor));
        }
        let tail = last_line(stderr);
        let mut hint = if tail.is_empty() {
            format!("exited {code}, expected {}", expect.exit_code)
        } else {
            format!("exited {code}, expected {}: {tail}", expect.exit_code)
        };
        if hit_task_limit(stderr) {
            hint.push_str(" (the run hit its task limit: raise --pids / `[run] pids`)");
        }
        return Some(Failure::new(Cause::WrongExitCode, hint));
    }
    None
}

/// What the program printed against what the cell expects (and the probe's own report).
fn output_failure(
    ctx: &RunContext,
    expect: &Expectation,
    stdout: &str,
    stderr: &str,
) -> Option<Failure> {
    let combined = expect.output == crossmatrix_matrix::OutputStream::Combined;
    if ctx.probe {
        if let Some(f) = check_probe(stdout, ctx) {
            return Some(f);
        }
    }
    if let Some(want) = &expect.stdout {
        if stdout != want.as_str() {
            let what = if combined {
                "stdout and stderr (combined)"
            } else {
                "stdout"
            };
            return Some(Failure::new(
                Cause::WrongOutput,
                format!(
                    "{what} differs from the expected output: {}; see run.stdout_tail",
                    first_difference(stdout, want)
                ),
            ));
        }
    }
    if let Some(re) = &expect.stderr_regex {
        match Regex::new(re) {
            Ok(r) if !r.is_match(stderr) => {
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
            Ok(r) if !r.is_match(stdout) => {
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

/// qemu-user refusing a CPU model it does not know (`unable to find CPU model 'max'`).
static UNKNOWN_CPU: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"unable to find CPU model '([^']*)'").expect("static regex")
});

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
    let failed = f.code() != Some(0) || f.signal().is_some();
    // A CPU model this qemu does not have (`QEMU_CPU` in the cell's run env): nothing ran.
    if let Some(model) = failed
        .then(|| UNKNOWN_CPU.captures(stderr))
        .flatten()
        .and_then(|m| m.get(1))
    {
        return Some(Failure::new(
            Cause::EmulatorCrash,
            format!(
                "{executor} has no CPU model '{}' for this arch: the program never started; set QEMU_CPU in the cell's [run] env to a model `qemu-<arch> -cpu help` lists (or leave it unset: crossmatrix picks the one that matches the build)",
                model.as_str()
            ),
        ));
    }
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
    let sig = f.signal().or_else(|| {
        f.code()
            .filter(|c| (129..=192).contains(c))
            .map(|c| c - 128)
    });
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
#[path = "generic_tests.rs"]
mod tests;
