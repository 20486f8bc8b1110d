//! How a binary for another GOOS/GOARCH runs here: natively, through a binfmt_misc qemu
//! registration, by invoking qemu-user directly, or in wasmtime — and why not, when it can't.

use crate::binfmt::{BINFMT_DIR, BinfmtEntry, BinfmtStatus, read_binfmt};
pub use crate::paths::host_goarch;
use crossmatrix_sandbox::host as command;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

const QEMU_VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// qemu-user's name for a GOARCH (`qemu-<name>`), `None` for ports qemu cannot run.
pub fn qemu_arch(goarch: &str) -> Option<&'static str> {
    Some(match goarch {
        "386" => "i386",
        "amd64" => "x86_64",
        "arm" => "arm",
        "arm64" => "aarch64",
        "loong64" => "loongarch64",
        "mips" => "mips",
        "mipsle" => "mipsel",
        "mips64" => "mips64",
        "mips64le" => "mips64el",
        "ppc64" => "ppc64",
        "ppc64le" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        _ => return None,
    })
}

/// The first 64 bytes of a typical linux ELF executable for GOARCH (class, byte order,
/// e_type, e_machine): what binfmt_misc magic is matched against when no binary exists yet.
pub fn elf_header_for(goarch: &str) -> Option<Vec<u8>> {
    // (64-bit, little-endian, e_machine)
    let (wide, little, machine): (bool, bool, u16) = match goarch {
        "386" => (false, true, 3),
        "amd64" => (true, true, 62),
        "arm" => (false, true, 40),
        "arm64" => (true, true, 183),
        "loong64" => (true, true, 258),
        "mips" => (false, false, 8),
        "mipsle" => (false, true, 8),
        "mips64" => (true, false, 8),
        "mips64le" => (true, true, 8),
        "ppc64" => (true, false, 21),
        "ppc64le" => (true, true, 21),
        "riscv64" => (true, true, 243),
        "s390x" => (true, false, 22),
        _ => return None,
    };
    let mut h = vec![0x7f, b'E', b'L', b'F'];
    h.push(if wide { 2 } else { 1 });
    h.push(if little { 1 } else { 2 });
    h.push(1); // EV_CURRENT
    h.resize(16, 0);
    let et_exec: u16 = 2;
    if little {
        h.extend(et_exec.to_le_bytes());
        h.extend(machine.to_le_bytes());
    } else {
        h.extend(et_exec.to_be_bytes());
        h.extend(machine.to_be_bytes());
    }
    h.resize(64, 0);
    Some(h)
}

/// A qemu-user binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Qemu {
    pub path: PathBuf,
    /// e.g. `7.2.22`; empty when `--version` could not be read.
    pub version: String,
}

/// `7.2.22` from `qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7)`.
pub fn parse_qemu_version(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    let mut words = first.split_whitespace();
    words.find(|w| *w == "version")?;
    words.next().map(str::to_string)
}

/// `qemu-<arch>-static`, else `qemu-<arch>`, on PATH.
pub fn find_qemu(goarch: &str) -> Option<Qemu> {
    let arch = qemu_arch(goarch)?;
    let path = which::which(format!("qemu-{arch}-static"))
        .or_else(|_| which::which(format!("qemu-{arch}")))
        .ok()?;
    let version = qemu_version(&path).unwrap_or_default();
    Some(Qemu { path, version })
}

pub(crate) fn qemu_version(path: &Path) -> Option<String> {
    crate::facts::remembered(path, &["--version"], &[], || {
        let mut cmd = Command::new(path);
        cmd.arg("--version");
        let out = command::run_checked(&mut cmd, QEMU_VERSION_TIMEOUT).ok()?;
        parse_qemu_version(&out.stdout_str())
    })
}

/// The kinds of executor, as recorded in results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutorKind {
    Native,
    QemuBinfmt,
    QemuDirect,
    Wasmtime,
}

impl ExecutorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Native => "native",
            ExecutorKind::QemuBinfmt => "qemu-binfmt",
            ExecutorKind::QemuDirect => "qemu-direct",
            ExecutorKind::Wasmtime => "wasmtime",
        }
    }
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one binary will run, or why it cannot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ExecutorChoice {
    /// Exec it directly.
    Native,
    /// Exec it directly; the kernel runs `interpreter` (registered with the F flag).
    QemuBinfmt {
        interpreter: PathBuf,
        qemu_version: Option<String>,
    },
    /// Run `qemu <binary>`.
    QemuDirect(Qemu),
    /// Run the .wasm in the embedded wasmtime.
    Wasmtime,
    /// Cannot run here; `hint` says why and what would fix it.
    None { hint: String },
}

impl ExecutorChoice {
    pub fn kind(&self) -> Option<ExecutorKind> {
        match self {
            ExecutorChoice::Native => Some(ExecutorKind::Native),
            ExecutorChoice::QemuBinfmt { .. } => Some(ExecutorKind::QemuBinfmt),
            ExecutorChoice::QemuDirect(_) => Some(ExecutorKind::QemuDirect),
            ExecutorChoice::Wasmtime => Some(ExecutorKind::Wasmtime),
            ExecutorChoice::None { .. } => None,
        }
    }

    /// The emulator's version, when one is involved and known.
    pub fn version(&self) -> Option<&str> {
        match self {
            ExecutorChoice::QemuBinfmt { qemu_version, .. } => qemu_version.as_deref(),
            ExecutorChoice::QemuDirect(q) if !q.version.is_empty() => Some(&q.version),
            _ => None,
        }
    }
}

/// Which executor the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutorPreference {
    #[default]
    Auto,
    Native,
    QemuBinfmt,
    QemuDirect,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown executor `{0}` (expected auto, native, qemu-binfmt or qemu-direct)")]
pub struct UnknownExecutor(pub String);

impl FromStr for ExecutorPreference {
    type Err = UnknownExecutor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ExecutorPreference::Auto),
            "native" => Ok(ExecutorPreference::Native),
            "qemu-binfmt" => Ok(ExecutorPreference::QemuBinfmt),
            "qemu-direct" => Ok(ExecutorPreference::QemuDirect),
            other => Err(UnknownExecutor(other.to_string())),
        }
    }
}

/// What this host can run: binfmt_misc registrations and qemu-user binaries per GOARCH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Host {
    pub binfmt: BinfmtStatus,
    /// qemu-user binaries found on PATH, by GOARCH.
    pub qemus: BTreeMap<String, Qemu>,
    pub host_goarch: String,
}

impl Host {
    /// Looks at binfmt_misc and PATH (runs `qemu-* --version` once per architecture).
    pub fn detect() -> Host {
        let qemus = crossmatrix_matrix::LINUX_ARCHES
            .iter()
            .filter_map(|a| find_qemu(a).map(|q| (a.to_string(), q)))
            .collect();
        Host {
            binfmt: read_binfmt(Path::new(BINFMT_DIR)),
            qemus,
            host_goarch: host_goarch().to_string(),
        }
    }

    /// Whether the CPU runs GOARCH binaries itself (386 runs on amd64 kernels with IA-32
    /// emulation, which every distribution kernel has).
    pub fn runs_natively(&self, goarch: &str) -> bool {
        goarch == self.host_goarch || (self.host_goarch == "amd64" && goarch == "386")
    }

    /// A run that asks for a CPU model (`QEMU_CPU`, which qemu-user reads whether binfmt_misc
    /// starts it or it is invoked directly) runs under qemu even where the host could run it
    /// natively (e.g. a `GOAMD64=v3` binary on an amd64 host under `QEMU_CPU=Nehalem`): qemu
    /// invoked directly, since binfmt_misc has no entry for the host's own arch.
    pub fn executor_for_cpu_model(
        &self,
        choice: ExecutorChoice,
        goos: &str,
        goarch: &str,
        cpu_model: Option<&str>,
        elf_header: &[u8],
    ) -> ExecutorChoice {
        let Some(model) = cpu_model else {
            return choice;
        };
        if !matches!(choice, ExecutorChoice::Native) {
            return choice;
        }
        match self.pick_executor(
            goos,
            goarch,
            Some(elf_header),
            ExecutorPreference::QemuDirect,
        ) {
            ExecutorChoice::None { hint } => ExecutorChoice::None {
                hint: format!(
                    "QEMU_CPU={model} needs qemu for linux/{goarch}, even on this host: {hint}"
                ),
            },
            qemu => qemu,
        }
    }

    /// How a GOOS/GOARCH binary runs here. `elf_header` (the file's first bytes) decides
    /// which binfmt_misc entry the kernel would pick; without it a typical header for GOARCH
    /// stands in.
    pub fn pick_executor(
        &self,
        goos: &str,
        goarch: &str,
        elf_header: Option<&[u8]>,
        pref: ExecutorPreference,
    ) -> ExecutorChoice {
        if goos == "wasip1" && goarch == "wasm" {
            return ExecutorChoice::Wasmtime;
        }
        if goos != "linux" {
            return none(format!(
                "build-only target: {goos}/{goarch} binaries cannot run on this linux host"
            ));
        }
        let native = self.runs_natively(goarch);
        let Some(qarch) = qemu_arch(goarch) else {
            return if native
                && pref != ExecutorPreference::QemuBinfmt
                && pref != ExecutorPreference::QemuDirect
            {
                ExecutorChoice::Native
            } else {
                none(format!("qemu-user cannot emulate linux/{goarch}"))
            };
        };
        let synthetic;
        let header = match elf_header {
            Some(h) => Some(h),
            None => {
                synthetic = elf_header_for(goarch);
                synthetic.as_deref()
            }
        };
        let handler = header.and_then(|h| self.binfmt.handler_for(h));
        let binfmt = handler
            .filter(|e| e.fix_binary())
            .map(|e| self.via_binfmt(goarch, e));
        let direct = self
            .qemus
            .get(goarch)
            .cloned()
            .map(ExecutorChoice::QemuDirect);
        let install = format!(
            "apt-get install qemu-user-static (provides qemu-{qarch}-static and registers it with binfmt_misc, F flag)"
        );
        match pref {
            ExecutorPreference::Auto => {
                if native {
                    return ExecutorChoice::Native;
                }
                if let Some(c) = binfmt.or(direct) {
                    return c;
                }
                none(format!("no qemu-user for linux/{goarch} on this {} host: {install}", self.host_goarch))
            }
            ExecutorPreference::Native => {
                if native {
                    ExecutorChoice::Native
                } else {
                    none(format!(
                        "--executor native: linux/{goarch} binaries do not run natively on this {} host (use auto, qemu-binfmt or qemu-direct)",
                        self.host_goarch
                    ))
                }
            }
            ExecutorPreference::QemuBinfmt => match (binfmt, handler) {
                (Some(c), _) => c,
                (None, Some(e)) => none(format!(
                    "--executor qemu-binfmt: the binfmt_misc entry `{}` for linux/{goarch} lacks the F flag, so {} cannot be found inside the sandbox (re-register it with flags F, e.g. reinstall qemu-user-static, or use qemu-direct)",
                    e.name,
                    e.interpreter.display()
                )),
                (None, None) if !self.binfmt.available => none(format!(
                    "--executor qemu-binfmt: binfmt_misc is not mounted or is disabled on this host (as root: mount -t binfmt_misc binfmt_misc {BINFMT_DIR}; or use qemu-direct)"
                )),
                (None, None) => none(format!(
                    "--executor qemu-binfmt: no binfmt_misc registration matches linux/{goarch} binaries: {install}"
                )),
            },
            ExecutorPreference::QemuDirect => direct.unwrap_or_else(|| {
                none(format!(
                    "--executor qemu-direct: neither qemu-{qarch}-static nor qemu-{qarch} is on PATH: {install}"
                ))
            }),
        }
    }

    fn via_binfmt(&self, goarch: &str, entry: &BinfmtEntry) -> ExecutorChoice {
        ExecutorChoice::QemuBinfmt {
            interpreter: entry.interpreter.clone(),
            qemu_version: self
                .qemus
                .get(goarch)
                .map(|q| q.version.clone())
                .filter(|v| !v.is_empty()),
        }
    }
}

fn none(hint: String) -> ExecutorChoice {
    ExecutorChoice::None { hint }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binfmt::parse_entry;
    use crossmatrix_matrix::LINUX_ARCHES;

    const AARCH64_PF: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";
    const RISCV64_P: &str = "enabled\ninterpreter /usr/bin/qemu-riscv64\nflags: P\noffset 0\nmagic 7f454c460201010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n";
    const MIPSEL_PF: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/mipsel-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c46010101000000000000000000020008000000000000000000000000000000000000\nmask ffffffffffffff00fefffffffffffffffeffffff0000000000000000000000000000000020\n";

    fn qemu(arch: &str) -> Qemu {
        Qemu {
            path: PathBuf::from(format!("/usr/bin/qemu-{arch}-static")),
            version: "7.2.22".into(),
        }
    }

    fn host() -> Host {
        let entries = vec![
            parse_entry("qemu-aarch64", AARCH64_PF).unwrap(),
            parse_entry("qemu-mipsel", MIPSEL_PF).unwrap(),
            parse_entry("qemu-riscv64", RISCV64_P).unwrap(),
        ];
        let mut qemus = BTreeMap::new();
        qemus.insert("arm64".to_string(), qemu("aarch64"));
        qemus.insert("riscv64".to_string(), qemu("riscv64"));
        Host {
            binfmt: BinfmtStatus {
                available: true,
                entries,
            },
            qemus,
            host_goarch: "amd64".into(),
        }
    }

    fn hint(c: ExecutorChoice) -> String {
        match c {
            ExecutorChoice::None { hint } => hint,
            other => panic!("expected None, got {other:?}"),
        }
    }

    #[test]
    fn qemu_names() {
        for a in LINUX_ARCHES {
            assert!(qemu_arch(a).is_some(), "{a}");
            assert!(elf_header_for(a).is_some(), "{a}");
        }
        assert_eq!(qemu_arch("arm64"), Some("aarch64"));
        assert_eq!(qemu_arch("mips64le"), Some("mips64el"));
        assert_eq!(qemu_arch("386"), Some("i386"));
        assert_eq!(qemu_arch("wasm"), None);
    }

    #[test]
    fn qemu_version_line() {
        assert_eq!(
            parse_qemu_version(
                "qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright…"
            )
            .as_deref(),
            Some("7.2.22")
        );
        assert_eq!(
            parse_qemu_version("qemu-riscv64 version 9.0.0\n").as_deref(),
            Some("9.0.0")
        );
        assert_eq!(parse_qemu_version("garbage"), None);
    }

    #[test]
    fn preference_parses() {
        assert_eq!(
            "auto".parse::<ExecutorPreference>(),
            Ok(ExecutorPreference::Auto)
        );
        assert_eq!(
            "qemu-binfmt".parse::<ExecutorPreference>(),
            Ok(ExecutorPreference::QemuBinfmt)
        );
        assert_eq!(
            "qemu-direct".parse::<ExecutorPreference>(),
            Ok(ExecutorPreference::QemuDirect)
        );
        assert_eq!(
            "native".parse::<ExecutorPreference>(),
            Ok(ExecutorPreference::Native)
        );
        assert!("qemu".parse::<ExecutorPreference>().is_err());
        assert_eq!(ExecutorKind::QemuBinfmt.as_str(), "qemu-binfmt");
        assert_eq!(ExecutorKind::Wasmtime.to_string(), "wasmtime");
    }

    #[test]
    fn wasm_native_and_build_only() {
        let h = host();
        let auto = ExecutorPreference::Auto;
        assert_eq!(
            h.pick_executor("wasip1", "wasm", None, auto),
            ExecutorChoice::Wasmtime
        );
        assert_eq!(
            h.pick_executor("linux", "amd64", None, auto),
            ExecutorChoice::Native
        );
        assert_eq!(
            h.pick_executor("linux", "386", None, auto),
            ExecutorChoice::Native
        );
        assert!(
            hint(h.pick_executor("windows", "amd64", None, auto)).contains("build-only target")
        );
        assert!(hint(h.pick_executor("js", "wasm", None, auto)).contains("build-only target"));
    }

    #[test]
    fn binfmt_with_f_flag_wins() {
        let h = host();
        let c = h.pick_executor("linux", "arm64", None, ExecutorPreference::Auto);
        assert_eq!(
            c,
            ExecutorChoice::QemuBinfmt {
                interpreter: PathBuf::from("/usr/libexec/qemu-binfmt/aarch64-binfmt-P"),
                qemu_version: Some("7.2.22".into())
            }
        );
        assert_eq!(c.kind(), Some(ExecutorKind::QemuBinfmt));
        assert_eq!(c.version(), Some("7.2.22"));
        // A real header (PIE: e_type 3) matches too; the qemu binary is unknown → no version.
        let mut pie = elf_header_for("mipsle").unwrap();
        pie[16] = 3;
        assert_eq!(
            h.pick_executor("linux", "mipsle", Some(&pie), ExecutorPreference::Auto),
            ExecutorChoice::QemuBinfmt {
                interpreter: PathBuf::from("/usr/libexec/qemu-binfmt/mipsel-binfmt-P"),
                qemu_version: None
            }
        );
    }

    #[test]
    fn binfmt_without_f_flag_falls_back_to_direct() {
        let h = host();
        let c = h.pick_executor("linux", "riscv64", None, ExecutorPreference::Auto);
        assert_eq!(c, ExecutorChoice::QemuDirect(qemu("riscv64")));
        assert_eq!(c.kind(), Some(ExecutorKind::QemuDirect));
        let why = hint(h.pick_executor("linux", "riscv64", None, ExecutorPreference::QemuBinfmt));
        assert!(why.contains("F flag"), "{why}");
    }

    #[test]
    fn header_decides_not_goarch() {
        // An amd64 header for an "arm64" cell: no binfmt handler matches; qemu-direct remains.
        let h = host();
        let amd64 = elf_header_for("amd64").unwrap();
        assert_eq!(
            h.pick_executor("linux", "arm64", Some(&amd64), ExecutorPreference::Auto),
            ExecutorChoice::QemuDirect(qemu("aarch64"))
        );
    }

    #[test]
    fn nothing_available_hints_install() {
        let h = host();
        let why = hint(h.pick_executor("linux", "s390x", None, ExecutorPreference::Auto));
        assert!(why.contains("apt-get install qemu-user-static"), "{why}");
        assert!(why.contains("qemu-s390x-static"), "{why}");
    }

    #[test]
    fn forced_preferences() {
        let h = host();
        let why = hint(h.pick_executor("linux", "arm64", None, ExecutorPreference::Native));
        assert!(why.contains("do not run natively"), "{why}");
        assert_eq!(
            h.pick_executor("linux", "arm64", None, ExecutorPreference::QemuDirect),
            ExecutorChoice::QemuDirect(qemu("aarch64"))
        );
        let why = hint(h.pick_executor("linux", "s390x", None, ExecutorPreference::QemuDirect));
        assert!(why.contains("qemu-s390x-static"), "{why}");
        let why = hint(h.pick_executor("linux", "s390x", None, ExecutorPreference::QemuBinfmt));
        assert!(why.contains("no binfmt_misc registration"), "{why}");
        let mut off = host();
        off.binfmt.available = false;
        let why = hint(off.pick_executor("linux", "arm64", None, ExecutorPreference::QemuBinfmt));
        assert!(why.contains("not mounted"), "{why}");
        // Unavailable binfmt: auto still finds qemu-direct.
        assert_eq!(
            off.pick_executor("linux", "arm64", None, ExecutorPreference::Auto),
            ExecutorChoice::QemuDirect(qemu("aarch64"))
        );
        // Forcing qemu on the native arch is honoured when qemu exists, refused otherwise.
        let why = hint(h.pick_executor("linux", "amd64", None, ExecutorPreference::QemuDirect));
        assert!(why.contains("qemu-x86_64"), "{why}");
    }

    #[test]
    fn host_arch_is_a_goarch() {
        let a = host_goarch();
        assert!(LINUX_ARCHES.contains(&a) || a == "wasm", "{a}");
    }
}
