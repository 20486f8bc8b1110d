//! `crossmatrix.toml`: the matrix config. Parsed from the file with spans, validated whole
//! before any work (every error names `file:line:col`), then expanded into a [`Plan`].
//!
//! # Schema
//!
//! Every key is optional. Top level:
//!
//! | key | value |
//! |---|---|
//! | `toolchains` | list of Go versions (`go1.22`, `go1.24.4`, `1.23`), `latest`/`stable`, or GOROOT paths. Omitted: every toolchain found. Kept unresolved as [`ToolchainSpec`]s: the caller resolves them. |
//! | `targets` | list of `"GOOS/GOARCH"` strings or tables `{ target = "linux/arm", goarm = [6, 7], build = {…}, run = {…} }`; or a table keyed by target: `[targets."linux/arm64"]` with the same keys (then `[targets."linux/arm64".build]` works). Knobs: `goarm` (5 6 7), `goamd64` (v1–v4), `go386` (sse2 softfloat), `gomips`/`gomips64` (hardfloat softfloat), `goarm64` (v8.0–v9.5), `goppc64` (power8 power9 power10), `goriscv64` (rva20u64 rva22u64 rva23u64); one target per value, with `variant = "goarm=7"`. Omitted: the caller's default targets. |
//! | `emulators` | `host`, directories of qemu-<arch> binaries (relative to the config file), or `NAME=DIR`: the qemu installations foreign cells run under; two or more are an axis. Kept as [`crate::EmulatorSpec`]s: the caller finds them. Omitted: the host's. |
//! | `cgo` | `[0, 1]` (or a single 0 / 1). Default `[0]`. |
//! | `libc` | `["gnu", "musl"]`: what cgo=1 cells link against (default both). cgo=0 cells have no libc; a `libc` with only `cgo = [0]` gives skipped cells. |
//! | `rootfs` | `scratch`, `glibc`, `musl`, or a directory (relative to the config file). Omitted: the rootfs that matches each build. |
//! | `exclude` | list of axis tables; removes every combination it matches. |
//! | `include` | list of axis tables, optionally with `build`/`run`; applied after `exclude`, in order, like GitHub Actions: when it matches an original (product, not excluded) combination it extends every cell it matches with its settings, adding none; when it matches no original combination it adds the combinations it describes (axes it leaves out take all their values; excluded ones come back), and cells an earlier include added that it describes again take its settings too. Later settings override earlier ones. |
//! | `[build]` | `tags` (list), `trimpath` (bool), `ldflags` (string), `env` (table), `timeout` (seconds). |
//! | `[run]` | `timeout` (seconds), `reps` (integer), `retries` (integer), `env` (table). |
//! | `[[programs]]` | see below. Omitted: the embedded probe. |
//!
//! Axis tables (in `include`, `exclude` and `expect_fail.match`) have the keys `toolchain`
//! (version prefix, name, or GOROOT), `target` (`GOOS/GOARCH`, matching every variant),
//! `variant` (`goarm=7`), `cgo`, `libc`, `rootfs`, `program` (a program name); each takes a
//! value or a list of alternatives. All given keys must match.
//!
//! Settings are layered global → target → program → each matching `include`: scalars
//! override, `tags` add up, `env` tables merge key by key.
//!
//! A program: `path` (a Go package directory, a single `.go` file, or with `suite = true` a
//! directory where each `*.go` file matching the `include` globs (default `["*.go"]`) and no
//! `exclude` glob is one program; `_test.go` files never are), `name` (default: the
//! directory name or file stem; a suite's files are named `NAME-STEM`, or `STEM` without a
//! name), `args`, `env` (run environment), `stdin` or `stdin_file`, `expect = { exit_code,
//! stdout, stdout_file, stdout_regex, stderr_regex }`, `expect_fail = [{ match = {…axes…},
//! cause = "missing-interpreter", reason = "…" }]` (the first matching entry marks a cell as
//! expected to fail with that cause), or for one rule the shorthand `expect = "fail"` with
//! `cause`, `reason` and `match` beside it (no `match`: every cell; other cells keep the
//! default expectation), `build` and `run`. For a single-file program `NAME.go`
//! a sibling `NAME.out` is its expected stdout unless `expect` sets one. Relative paths are
//! resolved against the config file's directory.
//!
//! A complete example (it is parsed by a test):
//!
//! ```toml
#![doc = include_str!("../../crossmatrix.example.toml")]
//! ```

mod error;
pub mod gotest;
mod parse;
mod plan;
#[cfg(test)]
mod tests;

pub use error::{ConfigError, ConfigErrorDetail, Location, closest};
pub use parse::{is_package_pattern, pattern_source, programs_from_paths};

use crate::{Cell, CellSettings, ExpectedFailure, Libc, Program, RootfsSpec, Target};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The conventional config file name, looked up in the working directory.
pub const CONFIG_FILE_NAME: &str = "crossmatrix.toml";

/// A parsed, validated `crossmatrix.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file it came from (for messages).
    pub file: PathBuf,
    /// The directory relative paths were resolved against.
    pub base_dir: PathBuf,
    /// Empty: every toolchain found.
    pub toolchains: Vec<ToolchainSpec>,
    /// `emulators = [...]`: the qemu installations that run foreign cells (an axis when
    /// more than one). Empty: the host's.
    pub emulators: Vec<crate::EmulatorSpec>,
    /// `None`: the caller's default targets. One entry per variant.
    pub targets: Option<Vec<ConfiguredTarget>>,
    /// Default `[false]`.
    pub cgo: Vec<bool>,
    /// `None`: both, for cgo=1 cells.
    pub libc: Option<Vec<Libc>>,
    /// `None`: the matching rootfs.
    pub rootfs: Option<Vec<RootfsSpec>>,
    pub exclude: Vec<AxisMatch>,
    pub include: Vec<IncludeRule>,
    pub build: BuildSettings,
    pub run: RunSettings,
    /// Empty: the embedded probe.
    pub programs: Vec<ConfiguredProgram>,
    /// `[[tests]]`: packages whose Go tests `crossmatrix test` runs (empty: `./...`).
    pub tests: Vec<ConfiguredProgram>,
}

/// A toolchain as written in the config, resolved by the caller against what it discovers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolchainSpec {
    /// As written, e.g. `go1.22` or `/opt/go`.
    pub raw: String,
    pub kind: ToolchainSpecKind,
    /// Where it was written, for [`Config::toolchain_error`].
    pub location: Option<Location>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolchainSpecKind {
    /// A version or version prefix, normalised to start with `go` (`go1.22`, `go1.24.4`).
    Version(String),
    /// `latest` / `stable`: the newest toolchain found.
    Latest,
    /// A GOROOT (absolute, resolved against the config's directory).
    Goroot(PathBuf),
}

/// One target (one variant) with its own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredTarget {
    pub target: Target,
    pub build: BuildSettings,
    pub run: RunSettings,
}

/// `[build]` settings; `None`/empty means "not set here".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSettings {
    pub tags: Vec<String>,
    pub trimpath: Option<bool>,
    pub ldflags: Option<String>,
    /// Other `go build` flags; they add up, in order.
    pub flags: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub timeout: Option<Duration>,
}

/// `[run]` settings; `None`/empty means "not set here".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSettings {
    pub timeout: Option<Duration>,
    pub reps: Option<u32>,
    /// Failed tests of a test cell run again alone up to this many times (`--retries`).
    pub retries: Option<u32>,
    pub env: BTreeMap<String, String>,
    /// Memory limit in bytes (0: unlimited).
    pub memory: Option<u64>,
    /// Task limit (0: unlimited).
    pub pids: Option<u64>,
    /// Writable tmpfs mounts of the run (`docker run --tmpfs`, a Kubernetes `emptyDir`).
    pub tmpfs: Vec<String>,
}

impl BuildSettings {
    /// Layers these settings over `s`.
    pub fn apply_to(&self, s: &mut CellSettings) {
        for t in &self.tags {
            if !s.tags.contains(t) {
                s.tags.push(t.clone());
            }
        }
        if let Some(t) = self.trimpath {
            s.trimpath = t;
        }
        if let Some(l) = &self.ldflags {
            s.ldflags = Some(l.clone());
        }
        s.build_flags.extend(self.flags.iter().cloned());
        s.build_env
            .extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        if self.timeout.is_some() {
            s.build_timeout = self.timeout;
        }
    }
}

impl RunSettings {
    /// Layers these settings over `s`.
    pub fn apply_to(&self, s: &mut CellSettings) {
        if self.timeout.is_some() {
            s.run_timeout = self.timeout;
        }
        if self.reps.is_some() {
            s.reps = self.reps;
        }
        if self.retries.is_some() {
            s.retries = self.retries;
        }
        if self.memory.is_some() {
            s.run_memory = self.memory;
        }
        if self.pids.is_some() {
            s.run_pids = self.pids;
        }
        for t in &self.tmpfs {
            if !s.run_tmpfs.contains(t) {
                s.run_tmpfs.push(t.clone());
            }
        }
        s.run_env
            .extend(self.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

/// A program with its settings and known failures.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfiguredProgram {
    pub program: Arc<Program>,
    pub build: BuildSettings,
    /// Includes the program's `env`.
    pub run: RunSettings,
    pub stdin: Option<String>,
    pub expect_fail: Vec<ExpectFailRule>,
}

impl ConfiguredProgram {
    /// A program with no settings of its own.
    pub fn plain(program: Program) -> ConfiguredProgram {
        ConfiguredProgram {
            program: Arc::new(program),
            build: BuildSettings::default(),
            run: RunSettings::default(),
            stdin: None,
            expect_fail: vec![],
        }
    }
}

/// `expect_fail = [{ match = {…}, cause = "…" }]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectFailRule {
    pub matcher: AxisMatch,
    pub failure: ExpectedFailure,
}

/// An `include` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludeRule {
    pub matcher: AxisMatch,
    pub build: BuildSettings,
    pub run: RunSettings,
    pub location: Option<Location>,
}

/// A set of axis values (an `include`/`exclude` entry, an `expect_fail` match): every
/// non-empty field must match, a field's values are alternatives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AxisMatch {
    /// Version prefixes (`go1.22` matches `go1.22.12`), names, or GOROOT paths.
    pub toolchain: Vec<String>,
    /// Targets; one without a variant matches every variant.
    pub target: Vec<Target>,
    /// Variants such as `goarm=7`.
    pub variant: Vec<String>,
    pub cgo: Vec<bool>,
    pub libc: Vec<Libc>,
    pub rootfs: Vec<RootfsSpec>,
    pub program: Vec<String>,
}

impl AxisMatch {
    pub fn is_empty(&self) -> bool {
        self.toolchain.is_empty()
            && self.target.is_empty()
            && self.variant.is_empty()
            && self.cgo.is_empty()
            && self.libc.is_empty()
            && self.rootfs.is_empty()
            && self.program.is_empty()
    }

    pub fn matches(&self, cell: &Cell) -> bool {
        (self.toolchain.is_empty()
            || self
                .toolchain
                .iter()
                .any(|t| toolchain_matches(t, &cell.toolchain)))
            && (self.target.is_empty()
                || self.target.iter().any(|t| target_matches(t, &cell.target)))
            && (self.variant.is_empty()
                || self
                    .variant
                    .iter()
                    .any(|v| cell.target.variant.as_deref() == Some(v.as_str())))
            && (self.cgo.is_empty() || self.cgo.contains(&cell.cgo))
            && (self.libc.is_empty() || cell.libc.is_some_and(|l| self.libc.contains(&l)))
            && (self.rootfs.is_empty() || self.rootfs.contains(&cell.rootfs))
            && (self.program.is_empty() || self.program.contains(&cell.program.name))
    }
}

pub(crate) fn toolchain_matches(want: &str, tc: &crate::Toolchain) -> bool {
    if want.contains('/') {
        return Path::new(want) == tc.goroot;
    }
    let want = if want.starts_with("go") {
        want.to_string()
    } else {
        format!("go{want}")
    };
    crate::expand::version_prefix(&tc.version, &want)
        || crate::expand::version_prefix(&tc.name, &want)
}

/// A pattern without a variant matches every variant of its port.
pub(crate) fn target_matches(pattern: &Target, target: &Target) -> bool {
    pattern.goos == target.goos
        && pattern.goarch == target.goarch
        && (pattern.variant.is_none() || pattern.variant == target.variant)
}

impl Config {
    /// The probe-only config used when there is no `crossmatrix.toml`.
    pub fn empty(file: &Path) -> Config {
        Config {
            file: file.to_path_buf(),
            base_dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            cgo: vec![false],
            ..Config::default()
        }
    }

    /// An error about a toolchain spec (e.g. not installed here), pointing at where it was
    /// written, with a "did you mean" among `found` (the versions discovered).
    pub fn toolchain_error(
        &self,
        spec: &ToolchainSpec,
        message: impl Into<String>,
        found: &[&str],
    ) -> ConfigError {
        ConfigError::new(&self.file, message)
            .at(spec.location.clone())
            .key("toolchains")
            .expected(if found.is_empty() {
                "an installed Go toolchain (none found)".to_string()
            } else {
                format!("one of the installed toolchains: {}", found.join(", "))
            })
            .did_you_mean(&spec.raw, found.iter().copied())
    }

    /// An error about an `emulators` entry (one that cannot be used on this host), at the
    /// place it was written.
    pub fn emulator_error(
        &self,
        spec: &crate::EmulatorSpec,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::new(&self.file, message)
            .at(spec.location.clone())
            .key("emulators")
            .expected("`host`, or a directory holding qemu-<arch> binaries (NAME=DIR to name it)")
    }

    /// The expected failure `program` has on `cell`, if any.
    pub(crate) fn expected_failure(
        program: &ConfiguredProgram,
        cell: &Cell,
    ) -> Option<ExpectedFailure> {
        program
            .expect_fail
            .iter()
            .find(|r| r.matcher.matches(cell))
            .map(|r| r.failure.clone())
    }
}

/// Reads and validates a config file.
pub fn load_config(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(path, format!("cannot read the config: {e}"))
            .expected("a readable crossmatrix.toml (or pass --config FILE)")
    })?;
    parse_config(&text, path)
}

/// Parses and validates config `text`; `path` names the file in messages and its directory
/// anchors relative paths.
pub fn parse_config(text: &str, path: &Path) -> Result<Config, ConfigError> {
    parse::Parser::new(text, path).parse()
}
