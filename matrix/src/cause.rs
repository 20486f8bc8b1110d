//! The failure vocabulary shared by the planner (skips), the runner (classification) and the
//! results (records): a short stable code per cause, and a default hint.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a cell did not pass. Serialised as a stable kebab-case code; never rename a variant's
/// code, consumers (dashboards, `compare`) key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// `go build` failed (compile or link error).
    BuildError,
    /// cgo=1 but no C compiler for the target is available.
    NoCCompiler,
    /// The C compiler produces code for another target than GOARCH (CC/CXX mismatch).
    CcTargetMismatch,
    /// The toolchain cannot build for this target, or the combination is meaningless.
    UnsupportedTarget,
    /// The kernel could not execute the binary (no emulator for this arch).
    ExecFormat,
    /// No executor on this host can run the target: built and inspected only.
    NoExecutor,
    /// The ELF interpreter (dynamic loader) named by the binary is absent from the rootfs.
    MissingInterpreter,
    /// The binary needs a newer glibc than the rootfs has (`GLIBC_2.xx not found`).
    GlibcVersion,
    /// A shared library in DT_NEEDED is absent from the rootfs.
    MissingLibrary,
    /// The step ran past its wall-clock limit and was killed.
    Timeout,
    /// The program died from a signal (SIGSEGV, SIGILL, SIGABRT…).
    Signal,
    /// The program ran out of memory.
    Oom,
    /// The program's output did not match the expectation.
    WrongOutput,
    /// The program exited with another code than expected.
    WrongExitCode,
    /// The Go version embedded in the binary differs from the toolchain's (GOROOT mismatch).
    GoVersionMismatch,
    /// The emulator itself failed (qemu crashed or reported an internal error).
    EmulatorCrash,
    /// Failed under qemu but passed under a second executor (`--recheck`): likely a qemu bug.
    EmulatorSuspect,
    /// A known defect of the qemu version that ran (crossmatrix's table of them): the hint
    /// names the version that fixed it.
    EmulatorBug,
    /// Something qemu-user cannot do at any version (ThreadSanitizer's memory layout under
    /// `-race`): the hint says where it runs instead.
    EmulatorLimit,
    /// The rootfs for this cell could not be assembled.
    RootfsUnavailable,
    /// The sandbox could not be set up (bubblewrap missing, user namespaces disabled…).
    SandboxError,
    /// The program's build constraints (`//go:build`, `_GOOS`/`_GOARCH` file names, cgo-only
    /// files) exclude this cell's target: not built (a skip).
    ExcludedByConstraints,
    /// The module's `go` line is newer than the cell's toolchain (a skip).
    ToolchainTooOld,
    /// A module the build needs is not in the module cache (and there is no vendor dir).
    MissingModule,
    /// A module in the cache does not match its `go.sum` checksum.
    ChecksumMismatch,
    /// `go.sum` lacks an entry for a module the build needs.
    MissingGoSum,
    /// The program runs the `go` command, which its root does not have.
    NeedsGoToolchain,
    /// A package has no test files to run (a skip).
    NoTestFiles,
    /// At least one Go test failed.
    TestFailure,
    /// A Go test panicked (the test binary died).
    TestPanic,
    /// The root has no time zone database (`unknown time zone`).
    MissingTzdata,
    /// The root has no CA certificates (`certificate signed by unknown authority`).
    MissingCaRoots,
    /// The root has no `/etc/passwd` / `/etc/group`, or no entry for the user.
    MissingUserDb,
    /// The program executes a program the root does not have.
    MissingExecutable,
    /// Name resolution lacks its configuration (`/etc/hosts`, `/etc/resolv.conf`,
    /// `/etc/nsswitch.conf`).
    DnsConfig,
    /// The root has no temporary directory (`/tmp`, or `$TMPDIR`): `FROM scratch`.
    MissingTmpdir,
    /// The binary needs a CPU feature level (GOAMD64, GOARM, GORISCV64) the CPU lacks.
    CpuLevel,
    /// crossmatrix's own machinery failed (a helper tool it builds, a cache directory): not
    /// the code under test, the toolchain's build, the sandbox or the emulator.
    HarnessError,
}

impl Cause {
    pub const ALL: &'static [Cause] = &[
        Cause::BuildError,
        Cause::NoCCompiler,
        Cause::CcTargetMismatch,
        Cause::UnsupportedTarget,
        Cause::ExecFormat,
        Cause::NoExecutor,
        Cause::MissingInterpreter,
        Cause::GlibcVersion,
        Cause::MissingLibrary,
        Cause::Timeout,
        Cause::Signal,
        Cause::Oom,
        Cause::WrongOutput,
        Cause::WrongExitCode,
        Cause::GoVersionMismatch,
        Cause::EmulatorCrash,
        Cause::EmulatorSuspect,
        Cause::EmulatorBug,
        Cause::EmulatorLimit,
        Cause::RootfsUnavailable,
        Cause::SandboxError,
        Cause::ExcludedByConstraints,
        Cause::ToolchainTooOld,
        Cause::MissingModule,
        Cause::ChecksumMismatch,
        Cause::MissingGoSum,
        Cause::NeedsGoToolchain,
        Cause::NoTestFiles,
        Cause::TestFailure,
        Cause::TestPanic,
        Cause::MissingTzdata,
        Cause::MissingCaRoots,
        Cause::MissingUserDb,
        Cause::MissingExecutable,
        Cause::DnsConfig,
        Cause::MissingTmpdir,
        Cause::CpuLevel,
        Cause::HarnessError,
    ];

    /// Whether a run that failed with this cause fails the same way every time, under any
    /// executor: what the root, the sandbox, the binary's format or the CPU level decide, or
    /// nothing to run it with. Neither `--retries` nor `--recheck` runs it again.
    pub fn fails_every_run(self) -> bool {
        self.depends_on_root()
            || matches!(
                self,
                Cause::RootfsUnavailable
                    | Cause::SandboxError
                    | Cause::ExecFormat
                    | Cause::CpuLevel
                    | Cause::NoExecutor
            )
    }

    /// The stable code, e.g. `missing-interpreter`.
    /// An environment trap: something Go's runtime needs that the root (or CPU) lacks. None of
    /// them is the emulator's doing, so `--recheck` leaves them be.
    pub fn is_environment_trap(self) -> bool {
        matches!(
            self,
            Cause::MissingTzdata
                | Cause::MissingCaRoots
                | Cause::MissingUserDb
                | Cause::MissingExecutable
                | Cause::NeedsGoToolchain
                | Cause::DnsConfig
                | Cause::MissingTmpdir
                | Cause::CpuLevel
        )
    }

    /// A failure that comes from what the root holds (or lacks), so another root may not
    /// have it: the root's traps and the loader's complaints.
    pub fn depends_on_root(self) -> bool {
        (self.is_environment_trap() && self != Cause::CpuLevel)
            || matches!(
                self,
                Cause::MissingInterpreter | Cause::MissingLibrary | Cause::GlibcVersion
            )
    }

    pub fn code(self) -> &'static str {
        match self {
            Cause::BuildError => "build-error",
            Cause::NoCCompiler => "no-c-compiler",
            Cause::CcTargetMismatch => "cc-target-mismatch",
            Cause::UnsupportedTarget => "unsupported-target",
            Cause::ExecFormat => "exec-format",
            Cause::NoExecutor => "no-executor",
            Cause::MissingInterpreter => "missing-interpreter",
            Cause::GlibcVersion => "glibc-version",
            Cause::MissingLibrary => "missing-library",
            Cause::Timeout => "timeout",
            Cause::Signal => "signal",
            Cause::Oom => "oom",
            Cause::WrongOutput => "wrong-output",
            Cause::WrongExitCode => "wrong-exit-code",
            Cause::GoVersionMismatch => "go-version-mismatch",
            Cause::EmulatorCrash => "emulator-crash",
            Cause::EmulatorSuspect => "emulator-suspect",
            Cause::EmulatorBug => "emulator-bug",
            Cause::EmulatorLimit => "emulator-limit",
            Cause::RootfsUnavailable => "rootfs-unavailable",
            Cause::SandboxError => "sandbox-error",
            Cause::ExcludedByConstraints => "excluded-by-constraints",
            Cause::ToolchainTooOld => "toolchain-too-old",
            Cause::MissingModule => "missing-module",
            Cause::ChecksumMismatch => "checksum-mismatch",
            Cause::MissingGoSum => "missing-go-sum",
            Cause::NeedsGoToolchain => "needs-go-toolchain",
            Cause::NoTestFiles => "no-test-files",
            Cause::TestFailure => "test-failure",
            Cause::TestPanic => "test-panic",
            Cause::MissingTzdata => "missing-tzdata",
            Cause::MissingCaRoots => "missing-ca-roots",
            Cause::MissingUserDb => "missing-user-db",
            Cause::MissingExecutable => "missing-executable",
            Cause::DnsConfig => "dns-config",
            Cause::MissingTmpdir => "missing-tmpdir",
            Cause::CpuLevel => "cpu-level",
            Cause::HarnessError => "harness-error",
        }
    }

    pub fn from_code(code: &str) -> Option<Cause> {
        Cause::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// A generic one-line hint; the runner replaces it with a specific one when it knows more
    /// (which loader was wanted, which library is missing…).
    pub fn default_hint(self) -> &'static str {
        match self {
            Cause::BuildError => "fix the compile error shown in build.log_tail",
            Cause::NoCCompiler => {
                "install zig (pip install ziglang) or the Debian cross compiler for this target, or build with cgo=0"
            }
            Cause::CcTargetMismatch => {
                "set CC and CXX to a compiler for the target triple (e.g. CC=aarch64-linux-gnu-gcc for linux/arm64)"
            }
            Cause::UnsupportedTarget => {
                "this toolchain cannot build this target; use a newer Go or drop the cell"
            }
            Cause::ExecFormat => {
                "install qemu-user-static (and register binfmt_misc with the F flag) to run this architecture"
            }
            Cause::NoExecutor => "install qemu-user-static to run this architecture here",
            Cause::MissingInterpreter => {
                "the binary's dynamic loader is not in the rootfs: build static (cgo=0 or musl) or run on a matching rootfs"
            }
            Cause::GlibcVersion => {
                "the binary needs a newer glibc than the rootfs: target an older glibc (zig -target ARCH-linux-gnu.2.xx) or use a newer rootfs"
            }
            Cause::MissingLibrary => {
                "add the missing shared library to the rootfs or link it statically"
            }
            Cause::Timeout => {
                "the program did not finish in time: raise the timeout or look for a hang"
            }
            Cause::Signal => {
                "the program crashed; run it under the same executor to get a core or a stack trace"
            }
            Cause::Oom => "the program ran out of memory: raise the memory limit or reduce its use",
            Cause::WrongOutput => "the output differs from the expectation: see run.stdout_tail",
            Cause::WrongExitCode => {
                "the program exited with an unexpected code: see run.stderr_tail"
            }
            Cause::GoVersionMismatch => {
                "runtime.Version() differs from the toolchain: GOROOT points at another Go than the `go` that built it"
            }
            Cause::EmulatorCrash => {
                "qemu-user failed, not the program: try another qemu version or a native runner"
            }
            Cause::EmulatorSuspect => {
                "fails under qemu but passes under another executor: report it to qemu (or run on real hardware), not as a regression"
            }
            Cause::EmulatorBug => {
                "a known defect of this qemu version: run the cell under the fixed version the hint names (--emulator DIR)"
            }
            Cause::EmulatorLimit => {
                "qemu-user cannot run this at all: run the cell natively or on real hardware"
            }
            Cause::RootfsUnavailable => {
                "the rootfs could not be assembled: check network access to the Debian mirror"
            }
            Cause::SandboxError => "bubblewrap could not start: run `crossmatrix doctor`",
            Cause::ExcludedByConstraints => {
                "the program's build constraints exclude this target: nothing to build here"
            }
            Cause::ToolchainTooOld => {
                "go.mod's go line is newer than this toolchain: drop the toolchain from the matrix or lower the go line"
            }
            Cause::MissingModule => {
                "a module is not in crossmatrix's module cache: run `crossmatrix fetch` (or vendor the dependencies with `go mod vendor`)"
            }
            Cause::ChecksumMismatch => {
                "a cached module does not match go.sum: remove it from the module cache and run `crossmatrix fetch` again; if it persists, go.sum or the module source changed"
            }
            Cause::MissingGoSum => {
                "go.sum lacks a needed entry: run `go mod tidy` and commit go.sum"
            }
            Cause::NeedsGoToolchain => {
                "the program runs the go command at run time: give its cells a root with Go in it, or expect the failure"
            }
            Cause::NoTestFiles => "the package has no _test.go files: nothing to run",
            Cause::TestFailure => "a Go test failed: see the failing tests' output in the record",
            Cause::TestPanic => "a Go test panicked: see the stack in the record",
            Cause::MissingTzdata => {
                "the root has no /usr/share/zoneinfo: import _ \"time/tzdata\" (or build with -tags timetzdata), or add tzdata to the image"
            }
            Cause::MissingCaRoots => {
                "the root has no CA certificates: copy ca-certificates.crt into the image (/etc/ssl/certs/), or embed roots (golang.org/x/crypto/x509roots/fallback)"
            }
            Cause::MissingUserDb => {
                "the root has no /etc/passwd entry for the user: set $USER and $HOME, ship a passwd line, or build with -tags osusergo"
            }
            Cause::MissingExecutable => {
                "the program executes a program the root lacks: add it to the image, or do not shell out"
            }
            Cause::DnsConfig => {
                "name resolution has no configuration in the root: add /etc/hosts, /etc/resolv.conf (and /etc/nsswitch.conf for the cgo resolver)"
            }
            Cause::MissingTmpdir => {
                "the root has no /tmp: create it in the image (mode 1777), mount a tmpfs or emptyDir there, or set TMPDIR to a writable directory"
            }
            Cause::CpuLevel => {
                "the binary needs a newer CPU level than this CPU has: build for a lower GOAMD64/GOARM/GORISCV64"
            }
            Cause::HarnessError => {
                "crossmatrix's own machinery failed, not your code: see the hint, check the cache directory's space and permissions, and report it if it persists"
            }
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_round_trip() {
        for c in Cause::ALL {
            assert_eq!(Cause::from_code(c.code()), Some(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.code()));
            assert!(!c.default_hint().is_empty());
        }
        assert_eq!(Cause::from_code("nope"), None);
    }
}
