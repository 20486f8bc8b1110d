//! The emulator axis: which qemu-user installation runs a foreign cell. The host's (found on
//! PATH and through binfmt_misc) or a directory of `qemu-<arch>` binaries the user names. The
//! caller finds them (`crossmatrix_toolchains::emulator`); here they are plain values.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One qemu-user installation, as the planner and the records see it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Emulator {
    /// The name used in cell ids (`emu-NAME`) and in `compare --emulators`: `qemu-7.2.22`,
    /// or the label the user gave (`new=/opt/qemu`).
    pub name: String,
    /// Where its binaries are: `None` for the host's (PATH and binfmt_misc), else the
    /// directory the user named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Its qemu-user binaries by GOARCH.
    pub binaries: BTreeMap<String, EmulatorBinary>,
}

/// One `qemu-<arch>` binary of an [`Emulator`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmulatorBinary {
    pub path: PathBuf,
    /// e.g. `10.0.2`; empty when `--version` could not be read.
    pub version: String,
}

impl Emulator {
    /// Whether this is the host's own qemu (the one binfmt_misc may start).
    pub fn is_host(&self) -> bool {
        self.dir.is_none()
    }

    /// The version of its binary for `goarch`, else of any of its binaries.
    pub fn version_for(&self, goarch: &str) -> Option<&str> {
        self.binaries
            .get(goarch)
            .or_else(|| self.binaries.values().next())
            .map(|b| b.version.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `qemu-10.0.2 (/opt/qemu-10/usr/bin)`, `qemu-7.2.22 (host)`: how messages name it.
    pub fn describe(&self) -> String {
        match &self.dir {
            Some(d) => format!("{} ({})", self.name, d.display()),
            None => format!("{} (host)", self.name),
        }
    }
}

/// Whether a cell of `goos/goarch` runs under an emulator on a `host_goarch` host: a linux
/// binary of another arch (386 runs natively on amd64). wasip1 runs in wasmtime, other ports
/// do not run at all: the emulator axis leaves them alone.
pub fn runs_emulated(goos: &str, goarch: &str, host_goarch: &str) -> bool {
    goos == "linux" && goarch != host_goarch && !(host_goarch == "amd64" && goarch == "386")
}

/// An emulator as written in the config (`emulators = [...]`) or on the command line
/// (`--emulator`): `host`, a directory of `qemu-<arch>` binaries, or `NAME=DIR` to name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorSpec {
    /// As written.
    pub raw: String,
    /// The name given with `NAME=DIR`.
    pub label: Option<String>,
    /// `None`: the host's qemu; else the directory (absolute, resolved against the config's
    /// directory or the working directory).
    pub dir: Option<PathBuf>,
    /// Where it was written in the config, for errors.
    pub location: Option<crate::Location>,
}

impl EmulatorSpec {
    /// Parses `host`, `DIR` or `NAME=DIR`, a relative `DIR` against `base`. Says what is wrong
    /// (a directory that does not exist, an empty or odd name).
    pub fn parse(raw: &str, base: &std::path::Path) -> Result<EmulatorSpec, String> {
        let (label, rest) = match raw.split_once('=') {
            Some((name, dir)) => (Some(name.trim()), dir.trim()),
            None => (None, raw.trim()),
        };
        if let Some(name) = label {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(format!(
                    "`{raw}`: the name before `=` must be letters, digits, `.`, `_` or `-` (e.g. qemu10=/opt/qemu-10/usr/bin)"
                ));
            }
        }
        if rest == "host" {
            return Ok(EmulatorSpec {
                raw: raw.into(),
                label: label.map(str::to_string),
                dir: None,
                location: None,
            });
        }
        if rest.is_empty() {
            return Err(format!(
                "`{raw}`: expected `host`, a directory of qemu-<arch> binaries, or NAME=DIR"
            ));
        }
        let dir = base.join(rest);
        if !dir.is_dir() {
            return Err(format!(
                "`{raw}`: {} is not a directory (expected `host`, or a directory of qemu-<arch> binaries such as an unpacked qemu-user package's usr/bin)",
                dir.display()
            ));
        }
        Ok(EmulatorSpec {
            raw: raw.into(),
            label: label.map(str::to_string),
            dir: Some(std::fs::canonicalize(&dir).unwrap_or(dir)),
            location: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emu(name: &str, dir: Option<&str>) -> Emulator {
        let mut binaries = BTreeMap::new();
        binaries.insert(
            "arm64".to_string(),
            EmulatorBinary {
                path: "/x/qemu-aarch64".into(),
                version: "10.0.2".into(),
            },
        );
        Emulator {
            name: name.into(),
            dir: dir.map(PathBuf::from),
            binaries,
        }
    }

    #[test]
    fn describes_and_versions() {
        let e = emu("qemu-10.0.2", Some("/opt/q"));
        assert!(!e.is_host());
        assert_eq!(e.describe(), "qemu-10.0.2 (/opt/q)");
        assert_eq!(e.version_for("arm64"), Some("10.0.2"));
        // An arch it lacks: any binary's version names the installation.
        assert_eq!(e.version_for("riscv64"), Some("10.0.2"));
        assert_eq!(emu("qemu-7.2.22", None).describe(), "qemu-7.2.22 (host)");
    }

    #[test]
    fn specs_parse() {
        let tmp = std::env::temp_dir();
        let host = EmulatorSpec::parse("host", &tmp).unwrap();
        assert_eq!((host.label, host.dir), (None, None));
        let named = EmulatorSpec::parse("old=host", &tmp).unwrap();
        assert_eq!(named.label.as_deref(), Some("old"));
        let dir = EmulatorSpec::parse("new=.", &tmp).unwrap();
        assert_eq!(dir.dir, Some(std::fs::canonicalize(&tmp).unwrap()));
        let e = EmulatorSpec::parse("/no/such/dir", &tmp).unwrap_err();
        assert!(e.contains("is not a directory"), "{e}");
        let e = EmulatorSpec::parse("a b=host", &tmp).unwrap_err();
        assert!(e.contains("the name before `=`"), "{e}");
        assert!(EmulatorSpec::parse("", &tmp).is_err());
    }

    #[test]
    fn which_cells_are_emulated() {
        assert!(runs_emulated("linux", "arm64", "amd64"));
        assert!(!runs_emulated("linux", "amd64", "amd64"));
        assert!(!runs_emulated("linux", "386", "amd64"));
        assert!(!runs_emulated("wasip1", "wasm", "amd64"));
        assert!(!runs_emulated("windows", "arm64", "amd64"));
        assert!(runs_emulated("linux", "amd64", "arm64"));
    }
}
