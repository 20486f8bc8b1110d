//! The emulators a run may use, found like toolchains: the host's qemu-user (PATH, and the
//! binfmt_misc registrations that start it) and any directory of `qemu-<arch>` binaries the
//! user names (`emulators = [...]`, `--emulator`), each described by its `--version`.
//!
//! binfmt_misc registers one interpreter per arch for the whole host, so only the host's
//! emulator runs through it; a directory's runs directly (`qemu-<arch> BINARY`). What that
//! means: a program that execs a foreign child (a test running a helper it built, `os/exec` of
//! a target binary) has that child started by the kernel, through binfmt_misc — the host's
//! qemu, not the directory's — or, without a registration, not at all.

use crate::executor::{ExecutorChoice, ExecutorPreference, Host, Qemu, qemu_arch, qemu_version};
use crossmatrix_matrix::{Emulator, EmulatorBinary, EmulatorSpec, LINUX_ARCHES};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// An emulator that cannot be used; the message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EmulatorError {
    /// The spec at fault (for the config's location), when one is.
    pub spec: Option<Box<EmulatorSpec>>,
    pub message: String,
}

/// The host's qemu-user binaries as an emulator.
pub fn host_emulator(host: &Host, label: Option<&str>) -> Emulator {
    let binaries: BTreeMap<String, EmulatorBinary> = host
        .qemus
        .iter()
        .map(|(arch, q)| {
            (
                arch.clone(),
                EmulatorBinary {
                    path: q.path.clone(),
                    version: q.version.clone(),
                },
            )
        })
        .collect();
    let name = match label {
        Some(l) => l.to_string(),
        None => name_of(&binaries).unwrap_or_else(|| "host".into()),
    };
    Emulator {
        name,
        dir: None,
        binaries,
    }
}

/// The `qemu-<arch>` (or `qemu-<arch>-static`) binaries in `dir`, with their versions.
pub fn scan_dir(dir: &Path) -> BTreeMap<String, EmulatorBinary> {
    let mut out = BTreeMap::new();
    for goarch in LINUX_ARCHES {
        let Some(q) = qemu_arch(goarch) else { continue };
        let found = [format!("qemu-{q}"), format!("qemu-{q}-static")]
            .into_iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file());
        if let Some(path) = found {
            let version = qemu_version(&path).unwrap_or_default();
            out.insert(goarch.to_string(), EmulatorBinary { path, version });
        }
    }
    out
}

/// `qemu-<version>` from the versions of `binaries` (the most common one).
fn name_of(binaries: &BTreeMap<String, EmulatorBinary>) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for b in binaries.values().filter(|b| !b.version.is_empty()) {
        *counts.entry(b.version.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(v, _)| format!("qemu-{v}"))
}

/// Finds each emulator `specs` name on this host. Errors: a directory without any
/// `qemu-<arch>` binary, two emulators with one name.
pub fn resolve_emulators(
    specs: &[EmulatorSpec],
    host: &Host,
) -> Result<Vec<Arc<Emulator>>, EmulatorError> {
    let mut out: Vec<Arc<Emulator>> = Vec::new();
    for spec in specs {
        let emulator = match &spec.dir {
            None => host_emulator(host, spec.label.as_deref()),
            Some(dir) => {
                let binaries = scan_dir(dir);
                if binaries.is_empty() {
                    return Err(EmulatorError {
                        spec: Some(Box::new(spec.clone())),
                        message: format!(
                            "emulator `{}`: {} holds no qemu-user binary (looked for qemu-aarch64, qemu-riscv64-static, …: unpack a qemu-user package there, e.g. dpkg -x qemu-user_*.deb DIR and name DIR/usr/bin)",
                            spec.raw,
                            dir.display()
                        ),
                    });
                }
                let name = spec
                    .label
                    .clone()
                    .or_else(|| name_of(&binaries))
                    .unwrap_or_else(|| {
                        dir.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "qemu".into())
                    });
                Emulator {
                    name,
                    dir: Some(dir.clone()),
                    binaries,
                }
            }
        };
        if let Some(same) = out.iter().find(|e| e.name == emulator.name) {
            return Err(EmulatorError {
                spec: Some(Box::new(spec.clone())),
                message: format!(
                    "emulator `{}`: {} and {} are both named {}: name one with NAME=DIR (e.g. old=host)",
                    spec.raw,
                    same.describe(),
                    emulator.describe(),
                    emulator.name
                ),
            });
        }
        out.push(Arc::new(emulator));
    }
    Ok(out)
}

impl Host {
    /// How a GOOS/GOARCH binary runs here under `emulator` (`None` or the host's: see
    /// [`Host::pick_executor`]). A directory's qemu runs directly: binfmt_misc holds only the
    /// host's.
    pub fn pick_executor_under(
        &self,
        emulator: Option<&Emulator>,
        goos: &str,
        goarch: &str,
        elf_header: Option<&[u8]>,
        pref: ExecutorPreference,
    ) -> ExecutorChoice {
        let Some(emu) = emulator.filter(|e| !e.is_host()) else {
            return self.pick_executor(goos, goarch, elf_header, pref);
        };
        let native = self.runs_natively(goarch);
        if goos != "linux" || (native && pref != ExecutorPreference::QemuDirect) {
            return self.pick_executor(goos, goarch, elf_header, pref);
        }
        let qarch = qemu_arch(goarch).unwrap_or(goarch);
        match pref {
            ExecutorPreference::QemuBinfmt => ExecutorChoice::None {
                hint: format!(
                    "--executor qemu-binfmt: emulator {} runs directly (binfmt_misc registers one qemu per arch, the host's); use auto or qemu-direct",
                    emu.describe()
                ),
            },
            ExecutorPreference::Native => self.pick_executor(goos, goarch, elf_header, pref),
            _ => match emu.binaries.get(goarch) {
                Some(b) => ExecutorChoice::QemuDirect(Qemu {
                    path: b.path.clone(),
                    version: b.version.clone(),
                }),
                None => ExecutorChoice::None {
                    hint: format!(
                        "emulator {} has no qemu-{qarch} for linux/{goarch}",
                        emu.describe()
                    ),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binfmt::BinfmtStatus;
    use std::path::PathBuf;

    fn fake_qemu(dir: &Path, name: &str, version: &str) {
        let p = dir.join(name);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho \"{name} version {version} (test)\"\n"),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn host() -> Host {
        let mut qemus = BTreeMap::new();
        qemus.insert(
            "arm64".to_string(),
            Qemu {
                path: "/usr/bin/qemu-aarch64-static".into(),
                version: "7.2.22".into(),
            },
        );
        Host {
            binfmt: BinfmtStatus {
                available: false,
                entries: vec![],
            },
            qemus,
            host_goarch: "amd64".into(),
        }
    }

    fn spec(raw: &str, base: &Path) -> EmulatorSpec {
        EmulatorSpec::parse(raw, base).unwrap()
    }

    #[test]
    fn host_and_directory_emulators_are_found_and_named() {
        let d = tempfile::tempdir().unwrap();
        fake_qemu(d.path(), "qemu-aarch64", "10.0.2");
        fake_qemu(d.path(), "qemu-riscv64-static", "10.0.2");
        std::fs::write(d.path().join("README"), "not qemu").unwrap();
        let h = host();
        let found = resolve_emulators(&[spec("host", d.path()), spec(".", d.path())], &h).unwrap();
        assert_eq!(found[0].name, "qemu-7.2.22");
        assert!(found[0].is_host());
        assert_eq!(found[1].name, "qemu-10.0.2");
        assert_eq!(
            found[1].binaries.keys().collect::<Vec<_>>(),
            ["arm64", "riscv64"]
        );
        assert_eq!(found[1].version_for("riscv64"), Some("10.0.2"));
        // Labels name them.
        let named = resolve_emulators(&[spec("new=.", d.path())], &h).unwrap();
        assert_eq!(named[0].name, "new");
    }

    #[test]
    fn unusable_emulators_say_why() {
        let d = tempfile::tempdir().unwrap();
        let h = host();
        let e = resolve_emulators(&[spec(".", d.path())], &h).unwrap_err();
        assert!(e.message.contains("holds no qemu-user binary"), "{e}");
        assert!(e.spec.is_some());
        fake_qemu(d.path(), "qemu-aarch64", "7.2.22");
        let e = resolve_emulators(&[spec("host", d.path()), spec(".", d.path())], &h).unwrap_err();
        assert!(e.message.contains("are both named qemu-7.2.22"), "{e}");
        assert!(e.message.contains("NAME=DIR"), "{e}");
    }

    #[test]
    fn a_directory_emulator_runs_directly() {
        let d = tempfile::tempdir().unwrap();
        fake_qemu(d.path(), "qemu-aarch64", "10.0.2");
        let h = host();
        let emu = resolve_emulators(&[spec(".", d.path())], &h).unwrap();
        let e = Some(&*emu[0]);
        let auto = ExecutorPreference::Auto;
        match h.pick_executor_under(e, "linux", "arm64", None, auto) {
            ExecutorChoice::QemuDirect(q) => {
                assert_eq!(q.path, d.path().join("qemu-aarch64"));
                assert_eq!(q.version, "10.0.2");
            }
            other => panic!("{other:?}"),
        }
        // Native and wasm cells are not the emulator's.
        assert_eq!(
            h.pick_executor_under(e, "linux", "amd64", None, auto),
            ExecutorChoice::Native
        );
        assert_eq!(
            h.pick_executor_under(e, "wasip1", "wasm", None, auto),
            ExecutorChoice::Wasmtime
        );
        let hint = |c| match c {
            ExecutorChoice::None { hint } => hint,
            other => panic!("{other:?}"),
        };
        assert!(
            hint(h.pick_executor_under(e, "linux", "s390x", None, auto))
                .contains("has no qemu-s390x")
        );
        assert!(
            hint(h.pick_executor_under(e, "linux", "arm64", None, ExecutorPreference::QemuBinfmt))
                .contains("binfmt_misc registers one qemu per arch")
        );
        // The host's emulator is the host's choice.
        let host_emu = host_emulator(&h, None);
        assert_eq!(
            h.pick_executor_under(Some(&host_emu), "linux", "arm64", None, auto),
            ExecutorChoice::QemuDirect(Qemu {
                path: PathBuf::from("/usr/bin/qemu-aarch64-static"),
                version: "7.2.22".into()
            })
        );
    }
}
