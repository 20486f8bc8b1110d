//! GOOS/GOARCH targets and C library flavours.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Every linux GOARCH that Go ports to (and that qemu-user can emulate).
pub const LINUX_ARCHES: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64",
    "ppc64le", "riscv64", "s390x",
];

/// Every GOOS/GOARCH pair Go ports to (`go tool dist list`, Go 1.24) other than linux, which is
/// [`LINUX_ARCHES`]. Only linux and `wasip1/wasm` run here; the rest are build-only.
pub const OTHER_PORTS: &[&str] = &[
    "wasip1/wasm",
    "js/wasm",
    "aix/ppc64",
    "android/386",
    "android/amd64",
    "android/arm",
    "android/arm64",
    "darwin/amd64",
    "darwin/arm64",
    "dragonfly/amd64",
    "freebsd/386",
    "freebsd/amd64",
    "freebsd/arm",
    "freebsd/arm64",
    "freebsd/riscv64",
    "illumos/amd64",
    "ios/amd64",
    "ios/arm64",
    "netbsd/386",
    "netbsd/amd64",
    "netbsd/arm",
    "netbsd/arm64",
    "openbsd/386",
    "openbsd/amd64",
    "openbsd/arm",
    "openbsd/arm64",
    "openbsd/ppc64",
    "openbsd/riscv64",
    "plan9/386",
    "plan9/amd64",
    "plan9/arm",
    "solaris/amd64",
    "windows/386",
    "windows/amd64",
    "windows/arm",
    "windows/arm64",
];

/// Every `GOOS/GOARCH` crossmatrix accepts, linux first.
pub fn known_ports() -> Vec<String> {
    LINUX_ARCHES
        .iter()
        .map(|a| format!("linux/{a}"))
        .chain(OTHER_PORTS.iter().map(|p| p.to_string()))
        .collect()
}

/// Whether `goos/goarch` is a Go port crossmatrix knows.
pub fn is_known_port(goos: &str, goarch: &str) -> bool {
    if goos == "linux" {
        return LINUX_ARCHES.contains(&goarch);
    }
    OTHER_PORTS
        .iter()
        .any(|p| p.split_once('/') == Some((goos, goarch)))
}

/// A sub-architecture knob (`GOARM`, `GOAMD64`…): which GOARCHes it applies to, its values, and
/// the first Go 1.N minor that knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariantKnob {
    /// Lower-case name, as written in the config and in variants (`goarm`).
    pub name: &'static str,
    pub goarches: &'static [&'static str],
    pub values: &'static [&'static str],
    pub since_minor: u32,
}

/// The sub-architecture knobs Go has.
pub const VARIANT_KNOBS: &[VariantKnob] = &[
    VariantKnob {
        name: "goarm",
        goarches: &["arm"],
        values: &["5", "6", "7"],
        since_minor: 1,
    },
    VariantKnob {
        name: "goamd64",
        goarches: &["amd64"],
        values: &["v1", "v2", "v3", "v4"],
        since_minor: 18,
    },
    VariantKnob {
        name: "go386",
        goarches: &["386"],
        values: &["sse2", "softfloat"],
        since_minor: 16,
    },
    VariantKnob {
        name: "gomips",
        goarches: &["mips", "mipsle"],
        values: &["hardfloat", "softfloat"],
        since_minor: 7,
    },
    VariantKnob {
        name: "gomips64",
        goarches: &["mips64", "mips64le"],
        values: &["hardfloat", "softfloat"],
        since_minor: 11,
    },
    VariantKnob {
        name: "goarm64",
        goarches: &["arm64"],
        values: &[
            "v8.0", "v8.1", "v8.2", "v8.3", "v8.4", "v8.5", "v8.6", "v8.7", "v8.8", "v8.9", "v9.0",
            "v9.1", "v9.2", "v9.3", "v9.4", "v9.5",
        ],
        since_minor: 23,
    },
    VariantKnob {
        name: "goppc64",
        goarches: &["ppc64", "ppc64le"],
        values: &["power8", "power9", "power10"],
        since_minor: 11,
    },
    VariantKnob {
        name: "goriscv64",
        goarches: &["riscv64"],
        values: &["rva20u64", "rva22u64", "rva23u64"],
        since_minor: 23,
    },
];

impl VariantKnob {
    pub fn by_name(name: &str) -> Option<&'static VariantKnob> {
        VARIANT_KNOBS.iter().find(|k| k.name == name)
    }
    /// The knob that applies to `goarch`, if any.
    pub fn for_goarch(goarch: &str) -> Option<&'static VariantKnob> {
        VARIANT_KNOBS.iter().find(|k| k.goarches.contains(&goarch))
    }
}

/// Go's name (GOARCH) for a machine architecture as Rust (`std::env::consts::ARCH`) or
/// `uname -m` names it. Rust's names do not carry the byte order (`powerpc64`, `mips64`):
/// `little_endian` says it when known (the host's own); unknown means big-endian, Rust's
/// reading of the bare name. Unknown names come back as they are.
pub fn goarch_for_machine(machine: &str, little_endian: Option<bool>) -> &str {
    let little = little_endian.unwrap_or(false);
    match machine {
        "x86_64" | "amd64" => "amd64",
        "x86" | "i386" | "i486" | "i586" | "i686" => "386",
        "aarch64" | "arm64" => "arm64",
        "arm" | "armv6l" | "armv7l" | "armv8l" => "arm",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "loongarch64" => "loong64",
        "ppc64le" | "powerpc64le" => "ppc64le",
        "powerpc64" | "ppc64" if little => "ppc64le",
        "powerpc64" | "ppc64" => "ppc64",
        "mips64el" => "mips64le",
        "mips64" if little => "mips64le",
        "mips64" => "mips64",
        "mipsel" => "mipsle",
        "mips" if little => "mipsle",
        "mips" => "mips",
        other => other,
    }
}

/// `go1.23.4` → 23; `None` for anything else (devel builds, GOROOT names).
pub fn go_minor(version: &str) -> Option<u32> {
    let rest = version.strip_prefix("go1.")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// A Go build target: GOOS/GOARCH plus an optional sub-architecture knob such as `goarm=7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    pub goos: String,
    pub goarch: String,
    /// Sub-architecture setting as `knob=value` (e.g. `goarm=7`, `goamd64=v3`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("target `{0}` is not of the form GOOS/GOARCH (e.g. linux/arm64)")]
    Malformed(String),
}

impl Target {
    pub fn new(goos: &str, goarch: &str) -> Self {
        Target {
            goos: goos.into(),
            goarch: goarch.into(),
            variant: None,
        }
    }
    pub fn linux(goarch: &str) -> Self {
        Self::new("linux", goarch)
    }
    pub fn is_wasip1(&self) -> bool {
        self.goos == "wasip1" && self.goarch == "wasm"
    }
    pub fn is_linux(&self) -> bool {
        self.goos == "linux"
    }
    /// Targets crossmatrix can only build (and inspect) here: neither linux nor wasip1.
    pub fn is_build_only(&self) -> bool {
        !self.is_linux() && !self.is_wasip1()
    }
    /// `goos/goarch`, without the variant.
    pub fn port(&self) -> String {
        format!("{}/{}", self.goos, self.goarch)
    }
    /// This target with a variant such as `goarm=7`.
    pub fn with_variant(&self, knob: &str, value: &str) -> Target {
        Target {
            goos: self.goos.clone(),
            goarch: self.goarch.clone(),
            variant: Some(format!("{knob}={value}")),
        }
    }
    /// The environment variable and value a variant sets, e.g. `("GOARM", "7")`.
    pub fn variant_env(&self) -> Option<(String, String)> {
        let v = self.variant.as_deref()?;
        let (k, val) = v.split_once('=')?;
        Some((k.to_ascii_uppercase(), val.to_string()))
    }
    /// `linux-arm64` or `linux-arm-goarm7`: the form used inside cell ids and file names.
    pub fn slug(&self) -> String {
        match &self.variant {
            None => format!("{}-{}", self.goos, self.goarch),
            Some(v) => format!("{}-{}-{}", self.goos, self.goarch, v.replace('=', "")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.goos, self.goarch)?;
        if let Some(v) = &self.variant {
            write!(f, " ({v})")?;
        }
        Ok(())
    }
}

impl FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((os, arch)) if !os.is_empty() && !arch.is_empty() && !arch.contains('/') => {
                Ok(Target::new(os, arch))
            }
            _ => Err(TargetError::Malformed(s.to_string())),
        }
    }
}

/// The C library a cgo build links against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    /// glibc, dynamically linked (the Debian/Ubuntu default).
    Gnu,
    /// musl, statically linked by default (the Alpine flavour).
    Musl,
}

impl Libc {
    pub fn as_str(self) -> &'static str {
        match self {
            Libc::Gnu => "gnu",
            Libc::Musl => "musl",
        }
    }
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Libc {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gnu" | "glibc" => Ok(Libc::Gnu),
            "musl" => Ok(Libc::Musl),
            other => Err(format!("unknown libc `{other}` (expected `gnu` or `musl`)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_names_become_goarch() {
        assert_eq!(goarch_for_machine("x86_64", None), "amd64");
        assert_eq!(goarch_for_machine("aarch64", Some(true)), "arm64");
        assert_eq!(goarch_for_machine("powerpc64", Some(true)), "ppc64le");
        assert_eq!(goarch_for_machine("powerpc64", None), "ppc64");
        assert_eq!(goarch_for_machine("ppc64le", None), "ppc64le");
        assert_eq!(goarch_for_machine("armv7l", None), "arm");
        assert_eq!(goarch_for_machine("sparc64", None), "sparc64");
    }

    #[test]
    fn parses_and_prints_targets() {
        let t: Target = "linux/arm64".parse().unwrap();
        assert_eq!(t, Target::linux("arm64"));
        assert_eq!(t.slug(), "linux-arm64");
        assert!("linux".parse::<Target>().is_err());
        assert!("linux/".parse::<Target>().is_err());
        assert!("a/b/c".parse::<Target>().is_err());
        let mut arm = Target::linux("arm");
        arm.variant = Some("goarm=7".into());
        assert_eq!(arm.slug(), "linux-arm-goarm7");
        assert_eq!(arm.variant_env(), Some(("GOARM".into(), "7".into())));
        assert!(Target::new("wasip1", "wasm").is_wasip1());
    }

    #[test]
    fn ports_and_knobs() {
        assert!(is_known_port("linux", "loong64"));
        assert!(is_known_port("darwin", "arm64"));
        assert!(!is_known_port("linux", "arm46"));
        assert!(!is_known_port("darwin", "riscv64"));
        assert_eq!(known_ports().len(), LINUX_ARCHES.len() + OTHER_PORTS.len());
        assert_eq!(VariantKnob::for_goarch("mipsle").unwrap().name, "gomips");
        assert_eq!(
            VariantKnob::by_name("goamd64").unwrap().goarches,
            &["amd64"]
        );
        assert_eq!(go_minor("go1.23.4"), Some(23));
        assert_eq!(go_minor("go1.9"), Some(9));
        assert_eq!(go_minor("devel"), None);
        assert!(Target::new("darwin", "arm64").is_build_only());
        assert!(!Target::new("wasip1", "wasm").is_build_only());
        assert_eq!(
            Target::linux("arm").with_variant("goarm", "6").slug(),
            "linux-arm-goarm6"
        );
    }

    #[test]
    fn libc_round_trips() {
        assert_eq!("gnu".parse::<Libc>().unwrap(), Libc::Gnu);
        assert_eq!("musl".parse::<Libc>().unwrap().to_string(), "musl");
        assert!("uclibc".parse::<Libc>().is_err());
    }
}
