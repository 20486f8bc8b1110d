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
    /// The rootfs for this cell could not be assembled.
    RootfsUnavailable,
    /// The sandbox could not be set up (bubblewrap missing, user namespaces disabled…).
    SandboxError,
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
        Cause::RootfsUnavailable,
        Cause::SandboxError,
    ];

    /// The stable code, e.g. `missing-interpreter`.
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
            Cause::RootfsUnavailable => "rootfs-unavailable",
            Cause::SandboxError => "sandbox-error",
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
            Cause::RootfsUnavailable => {
                "the rootfs could not be assembled: check network access to the Debian mirror"
            }
            Cause::SandboxError => "bubblewrap could not start: run `crossmatrix doctor`",
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
