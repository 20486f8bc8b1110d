//! Tests of run and build classification.

use crate::diagnose::*;
use crossmatrix_matrix::{Cause, Expectation};
use crossmatrix_sandbox::process::{ChildEnd, Finished};
use std::time::Duration;

fn finished(code: Option<i32>, stdout: &str, stderr: &str) -> Finished {
    let end = match code {
        Some(c) => ChildEnd::Exited(c),
        None => ChildEnd::Signaled(0),
    };
    let mut f = Finished::new(end, stdout, stderr);
    f.elapsed = Duration::from_millis(5);
    f
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

const GOOD: &str = "crossmatrix-probe 1\ngo_version=go1.24.4\ngoos=linux\ngoarch=arm64\ncgo=0\n";

#[test]
fn out_of_memory_then_a_hang_is_oom_not_timeout() {
    let mut f = finished(
        None,
        "",
        "fatal error: runtime: out of memory\n\nruntime stack:\n***MEMORY-ERROR***: aarch64-binfmt-P[2]: GSlice: failed to allocate 496 bytes\n",
    );
    f.end = ChildEnd::TimedOut {
        code: None,
        signal: Some(libc::SIGKILL),
    };
    f.elapsed = Duration::from_secs(8);
    let got = diagnose_run(&f, &ctx(), &Expectation::default()).expect("a failure");
    assert_eq!(got.cause, Cause::Oom, "{}", got.hint);
    assert!(
        got.hint.contains("fatal error: runtime: out of memory") && got.hint.contains("--memory")
    );
    // qemu's own allocation failed first, then it hung: still the memory limit.
    let mut f = finished(
        None,
        "",
        "\n***MEMORY-ERROR***: aarch64-binfmt-P[2]: GSlice: failed to allocate 496 bytes (alignment: 512): Cannot allocate memory\n",
    );
    f.end = ChildEnd::TimedOut {
        code: None,
        signal: Some(libc::SIGKILL),
    };
    let got = diagnose_run(&f, &ctx(), &Expectation::default()).expect("a failure");
    assert_eq!(got.cause, Cause::Oom, "{}", got.hint);
    assert!(got.hint.contains("GSlice"), "{}", got.hint);
    // The same from g_malloc, seen with go1.27 under an RLIMIT_AS (no cgroups).
    let mut f = finished(
        None,
        "",
        "aarch64-binfmt-P: GLib: ../../../glib/gmem.c:169: failed to allocate 24576 bytes",
    );
    f.end = ChildEnd::TimedOut {
        code: None,
        signal: Some(libc::SIGKILL),
    };
    let got = diagnose_run(&f, &ctx(), &Expectation::default()).expect("a failure");
    assert_eq!(got.cause, Cause::Oom, "{}", got.hint);
    assert!(got.hint.contains("gmem.c"), "{}", got.hint);
    // A plain hang stays a timeout.
    let mut f = finished(None, "", "");
    f.end = ChildEnd::TimedOut {
        code: None,
        signal: Some(libc::SIGKILL),
    };
    let got = diagnose_run(&f, &ctx(), &Expectation::default()).expect("a failure");
    assert_eq!(got.cause, Cause::Timeout);
}

#[test]
fn the_cgroup_oom_counter_decides_oom() {
    // Killed with nothing on stderr: only the cgroup's counter tells it was the OOM killer.
    let mut f = finished(None, "", "");
    f.end = ChildEnd::Signaled(libc::SIGKILL);
    let mut c = ctx();
    c.oom_kills = 1;
    let got = diagnose_run(&f, &c, &Expectation::default()).expect("a failure");
    assert_eq!(got.cause, Cause::Oom);
    assert!(
        got.hint.contains("OOM killer") && got.hint.contains("--memory"),
        "{}",
        got.hint
    );
    // A clean exit is a pass even if some child of the program was OOM-killed earlier.
    let ok = finished(Some(0), GOOD, "");
    assert!(diagnose_run(&ok, &c, &Expectation::default()).is_none());
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
        diagnose_run(
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
    let f = diagnose_run(
        &finished(Some(0), &out, ""),
        &ctx(),
        &Expectation::default(),
    )
    .unwrap();
    assert_eq!(f.cause, Cause::GoVersionMismatch);
    let out = GOOD.replace("arm64", "amd64");
    assert_eq!(
        diagnose_run(
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
    let f = diagnose_run(
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
    let f = diagnose_run(
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
    let f = diagnose_run(&finished(Some(127), "", "/x: error while loading shared libraries: libfoo.so.1: cannot open shared object file: No such file or directory"), &ctx(), &Expectation::default()).unwrap();
    assert_eq!(f.cause, Cause::MissingLibrary);
    assert!(f.hint.contains("libfoo.so.1"));
}

#[test]
fn exit_codes_and_signals() {
    let mut c = ctx();
    c.probe = false;
    let f = diagnose_run(
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
    assert_eq!(diagnose_run(&finished(Some(3), "", ""), &c, &want3), None);
    let f = diagnose_run(
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
    let f = diagnose_run(
        &finished(Some(132), "", ""),
        &native,
        &Expectation::default(),
    )
    .unwrap();
    assert_eq!(f.cause, Cause::Signal);
    let mut t = finished(None, "", "");
    t.end = ChildEnd::TimedOut {
        code: None,
        signal: Some(libc::SIGKILL),
    };
    assert_eq!(
        diagnose_run(&t, &c, &Expectation::default()).unwrap().cause,
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
        diagnose_run(&finished(Some(0), "hi\n", ""), &c, &want),
        None
    );
    assert_eq!(
        diagnose_run(&finished(Some(0), "ho\n", ""), &c, &want)
            .unwrap()
            .cause,
        Cause::WrongOutput
    );
    let re = Expectation {
        stdout_regex: Some("^h.$".into()),
        ..Default::default()
    };
    assert_eq!(diagnose_run(&finished(Some(0), "hi", ""), &c, &re), None);
}

#[test]
fn qemu_failing_itself() {
    let mut c = ctx();
    c.probe = false;
    let none = Expectation::default();
    // A glib assertion inside qemu (seen here when a fork bomb hit its pids limit).
    let f = diagnose_run(
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
    // A CPU model this qemu lacks (qemu 7.2's riscv64 has no `max`, seen here).
    let f = diagnose_run(
        &finished(
            Some(1),
            "",
            "riscv64-binfmt-P: unable to find CPU model 'max'\n",
        ),
        &c,
        &none,
    )
    .unwrap();
    assert_eq!(f.cause, Cause::EmulatorCrash);
    assert!(
        f.hint.contains("no CPU model 'max'") && f.hint.contains("-cpu help"),
        "{}",
        f.hint
    );
    // qemu's translation buffer does not fit under RLIMIT_DATA: memory, not a crash.
    let f = diagnose_run(
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
    t.end = ChildEnd::Signaled(libc::SIGSEGV);
    let f = diagnose_run(&t, &c, &none).unwrap();
    assert_eq!(f.cause, Cause::EmulatorCrash);
    // The guest's own SIGSEGV, as qemu reports it, stays `signal`.
    let f = diagnose_run(
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
    let f = diagnose_run(
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
    let f = diagnose_run(
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
    let f = diagnose_run(&finished(Some(137), "", ""), &c, &none).unwrap();
    assert_eq!(f.cause, Cause::Oom);
    assert!(f.hint.contains("memory limit"), "{}", f.hint);
    let f = diagnose_run(
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
