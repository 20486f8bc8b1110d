//! GOOS/GOARCH targets and C library flavours.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Every linux GOARCH that Go ports to (and that qemu-user can emulate).
pub const LINUX_ARCHES: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64",
    "ppc64le", "riscv64", "s390x",
];

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
    fn libc_round_trips() {
        assert_eq!("gnu".parse::<Libc>().unwrap(), Libc::Gnu);
        assert_eq!("musl".parse::<Libc>().unwrap().to_string(), "musl");
        assert!("uclibc".parse::<Libc>().is_err());
    }
}
