//! One cell of the matrix and its parts.

use crate::{Cause, Emulator, Libc, Target};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A Go toolchain as the planner sees it: discovered by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Toolchain {
    /// The name used in cell ids, e.g. `go1.24` (or the full version when two share a minor).
    pub name: String,
    /// The exact version, e.g. `go1.24.4`.
    pub version: String,
    pub goroot: PathBuf,
    /// `goos/goarch` pairs this toolchain can build (`go tool dist list`); empty when unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
}

impl Toolchain {
    /// Whether this toolchain can build `target` (unknown port lists allow everything).
    pub fn supports(&self, target: &Target) -> bool {
        self.ports.is_empty()
            || self
                .ports
                .iter()
                .any(|p| *p == format!("{}/{}", target.goos, target.goarch))
    }
}

/// Where a program's source comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "path")]
pub enum ProgramSource {
    /// crossmatrix's own embedded probe program.
    Probe,
    /// A Go package directory (outside a module, it builds in GOPATH mode).
    Dir(PathBuf),
    /// A single `.go` file.
    File(PathBuf),
    /// A package pattern such as `./cmd/...`, relative to `dir`: the planner expands it into
    /// one program per `main` package it matches.
    Pattern { dir: PathBuf, pattern: String },
    /// A package directory or a single file inside a Go module or workspace, as the planner
    /// resolved it.
    Package(Box<GoPackage>),
    /// A standard-library package by import path (its directory is the cell toolchain's
    /// `GOROOT/src/PATH`): for `crossmatrix test strings`.
    Std(String),
}

/// A Go package (or single file) inside a module or workspace: where `go build` runs, what it
/// builds, and what it reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GoPackage {
    /// The directory `go build` runs in (the package's).
    pub dir: PathBuf,
    /// What `go build` is given there: `.`, or `./NAME.go` for a single file.
    pub target: String,
    /// `github.com/BurntSushi/toml/cmd/tomlv` (`command-line-arguments` for a file).
    pub import_path: String,
    pub module: ModuleRef,
    /// The `go.work` the build uses, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<PathBuf>,
    /// The directories the build reads besides the module cache (module or workspace root,
    /// local replacements), bound read-only at their own paths.
    pub roots: Vec<PathBuf>,
    /// The module's `vendor/` directory supplies its dependencies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vendored: bool,
}

/// The module a package belongs to, as its `go.mod` says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModuleRef {
    /// The module path.
    pub path: String,
    pub gomod: PathBuf,
    /// The `go` line that applies (the workspace's when there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go: Option<String>,
    /// The `toolchain` line, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
}

/// Which output an exact expectation (`stdout`) is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputStream {
    /// Standard output alone.
    #[default]
    Stdout,
    /// Standard output and standard error as written, interleaved (Go's `test/` convention:
    /// `NAME.out` holds both).
    Combined,
}

impl OutputStream {
    pub fn is_stdout(&self) -> bool {
        *self == OutputStream::Stdout
    }
}

/// What a successful run of a program looks like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Expectation {
    pub exit_code: i32,
    /// Exact expected output (stdout, or stdout and stderr combined: see `output`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    /// What `stdout` is compared with.
    #[serde(default, skip_serializing_if = "OutputStream::is_stdout")]
    pub output: OutputStream,
    /// A regex stdout must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_regex: Option<String>,
    /// A regex stderr must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_regex: Option<String>,
}

/// A Go program to build and run in every cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Program {
    pub name: String,
    pub source: ProgramSource,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub expect: Expectation,
    /// Set for a package's Go tests (`crossmatrix test`): the cell builds the test binary
    /// (`go test -c`) and runs its tests instead of a `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestSpec>,
}

/// How a package's Go tests run in each cell (`crossmatrix test`, `[[tests]]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TestSpec {
    /// Test flags as `go test` takes them (`-short`, `-run=TestParse`, `-count=1`); given to
    /// the test binary as `-test.` flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// `-bench REGEXP`: run the package's benchmarks too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<String>,
    /// `-benchtime` (`1s`, `100x`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchtime: Option<String>,
    /// `-count` for benchmarks (samples for benchstat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// `-benchmem`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub benchmem: bool,
}

impl TestSpec {
    /// The test binary's flags: every `go test` flag as its `-test.` form, then the benchmark
    /// flags.
    pub fn binary_flags(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut it = self.flags.iter().peekable();
        while let Some(f) = it.next() {
            let Some(body) = f.strip_prefix('-') else {
                out.push(f.clone());
                continue;
            };
            let body = body.trim_start_matches('-');
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let name = name.strip_prefix("test.").unwrap_or(name);
            // Flags that take a value may have it as the next argument (`-run TestX`).
            let value = value.or_else(|| {
                TEST_FLAGS_WITH_VALUE
                    .contains(&name)
                    .then(|| it.next().cloned())
                    .flatten()
            });
            out.push(match value {
                Some(v) => format!("-test.{name}={v}"),
                None => format!("-test.{name}"),
            });
        }
        if let Some(b) = &self.bench {
            out.push(format!("-test.bench={b}"));
            if let Some(t) = &self.benchtime {
                out.push(format!("-test.benchtime={t}"));
            }
            if let Some(c) = self.count {
                out.push(format!("-test.count={c}"));
            }
            if self.benchmem {
                out.push("-test.benchmem".into());
            }
        }
        out
    }
}

/// `go test` flags that take a value (`-run TestX` as well as `-run=TestX`).
const TEST_FLAGS_WITH_VALUE: &[&str] = &[
    "run",
    "skip",
    "bench",
    "benchtime",
    "count",
    "cpu",
    "parallel",
    "timeout",
    "list",
    "shuffle",
    "fuzz",
    "fuzztime",
    "fuzzminimizetime",
    "blockprofile",
    "cpuprofile",
    "memprofile",
    "mutexprofile",
    "trace",
    "coverprofile",
    "outputdir",
];

impl Program {
    pub fn probe() -> Self {
        Program {
            name: "probe".into(),
            source: ProgramSource::Probe,
            args: vec![],
            expect: Expectation::default(),
            test: None,
        }
    }
    pub fn is_probe(&self) -> bool {
        self.source == ProgramSource::Probe
    }
    /// Whether the cell runs this package's Go tests.
    pub fn is_test(&self) -> bool {
        self.test.is_some()
    }
}

/// The root filesystem a binary runs on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RootfsSpec {
    /// Empty: only the binary (like `FROM scratch`).
    Scratch,
    /// Debian-like: the target's glibc loader and libc.
    Glibc,
    /// Alpine-like: the target's musl loader and libc.
    Musl,
    /// The host's programs read-only (`/usr`, `/bin`, `/lib`…: a shell, coreutils, tzdata) and
    /// an `/etc` of crossmatrix's own (`hosts`, `services`, passwd/group, CA roots): what a test
    /// run by `go test -exec` sees. The default root of cgo=0 linux test cells.
    Host,
    /// A user directory, e.g. an unpacked image.
    Dir(PathBuf),
    /// A container image: an OCI layout directory, or a `docker save` / `podman save` /
    /// `oci-archive` tarball, unpacked rootless (for each cell's platform) into the cache.
    Image(PathBuf),
}

impl RootfsSpec {
    /// Whether `path` holds a container image (an OCI layout, or a tarball) rather than an
    /// unpacked root.
    pub fn is_image_path(path: &std::path::Path) -> bool {
        if path.is_dir() {
            return path.join("oci-layout").is_file() || path.join("index.json").is_file();
        }
        let name = path.to_string_lossy();
        path.is_file()
            && [".tar", ".tar.gz", ".tgz", ".oci", ".docker"]
                .iter()
                .any(|ext| name.ends_with(ext))
    }

    /// A user's `--rootfs PATH` / `rootfs = ["PATH"]`: an image or an unpacked root.
    pub fn from_path(path: PathBuf) -> RootfsSpec {
        if RootfsSpec::is_image_path(&path) {
            RootfsSpec::Image(path)
        } else {
            RootfsSpec::Dir(path)
        }
    }
}

impl RootfsSpec {
    /// The rootfs that matches a build: static builds run on scratch, cgo builds on their libc.
    pub fn matching(cgo: bool, libc: Option<Libc>) -> RootfsSpec {
        match (cgo, libc) {
            (true, Some(Libc::Gnu)) => RootfsSpec::Glibc,
            (true, Some(Libc::Musl)) => RootfsSpec::Musl,
            _ => RootfsSpec::Scratch,
        }
    }

    /// The rootfs a cell gets when the matrix names none: [`RootfsSpec::matching`] its build,
    /// except that a static linux test binary runs on [`RootfsSpec::Host`] — the programs and
    /// files a test gets under `go test -exec` (a shell, `localhost`, `/etc/services`…).
    pub fn default_for(
        target: &Target,
        cgo: bool,
        libc: Option<Libc>,
        program: &Program,
    ) -> RootfsSpec {
        match RootfsSpec::matching(cgo, libc) {
            RootfsSpec::Scratch
                if program.is_test() && target.is_linux() && !target.is_build_only() =>
            {
                RootfsSpec::Host
            }
            other => other,
        }
    }
    pub fn label(&self) -> String {
        match self {
            RootfsSpec::Scratch => "scratch".into(),
            RootfsSpec::Glibc => "glibc".into(),
            RootfsSpec::Musl => "musl".into(),
            RootfsSpec::Host => "host".into(),
            RootfsSpec::Dir(p) | RootfsSpec::Image(p) => p.display().to_string(),
        }
    }
    fn id_part(&self) -> String {
        match self {
            RootfsSpec::Image(p) => {
                let name = p
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "image".into());
                let stem = [".tar.gz", ".tgz", ".tar", ".oci", ".docker"]
                    .iter()
                    .find_map(|e| name.strip_suffix(e))
                    .unwrap_or(&name)
                    .to_string();
                format!("image-{}", sanitize(&stem))
            }
            RootfsSpec::Dir(p) => {
                let base = p
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "root".into());
                format!("dir-{}", sanitize(&base))
            }
            other => other.label(),
        }
    }
}

impl fmt::Display for RootfsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

/// A stable, readable cell id: `go1.24/linux-arm64/cgo1-musl/rootfs-musl/probe`.
/// The same on every machine for the same matrix; globbed by `--filter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CellId(pub String);

impl CellId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// A file-system-safe form for directory names.
    pub fn to_path_component(&self) -> String {
        self.0.replace('/', "__")
    }
}

impl fmt::Display for CellId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn push_sanitized(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| {
        if c.is_ascii_alphanumeric() || "._-".contains(c) {
            c
        } else {
            '_'
        }
    }));
}

pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Why a planned cell will not be built.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Skip {
    pub cause: Cause,
    pub reason: String,
}

/// A failure the config says to expect on a cell (known breakage): when the cell fails with
/// this cause, the run is not red.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ExpectedFailure {
    pub cause: Cause,
    /// Why it is expected (e.g. an issue link), shown in reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// How to build and run one cell, resolved from the config's global, per-target, per-program
/// and `include` settings. `None` means "the runner's default" (its `--timeout`, `--reps`…).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CellSettings {
    /// `-tags`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `-trimpath`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trimpath: bool,
    /// `-ldflags` (e.g. `-s -w`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ldflags: Option<String>,
    /// Other `go build` flags (`-gcflags=-N -l`, `-race`…), in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub build_flags: Vec<String>,
    /// Extra environment of the build (GOFLAGS, CGO_CFLAGS…).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub build_env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_timeout: Option<Duration>,
    /// Timed startup repetitions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reps: Option<u32>,
    /// `[run] retries`: a test cell's failed tests run again alone up to this many times;
    /// `--retries` wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Extra environment of the run (GODEBUG…), the program's `env` included.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub run_env: BTreeMap<String, String>,
    /// What the program reads on stdin (empty when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Set when the config expects this cell to fail with a given cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_fail: Option<ExpectedFailure>,
    /// Memory limit of the run step in bytes (`[run] memory`); 0 means unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_memory: Option<u64>,
    /// Task (process + thread) limit of the run step (`[run] pids`); 0 means unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_pids: Option<u64>,
    /// Writable tmpfs mounts of the run step (`[run] tmpfs`), absolute paths: what a container
    /// gets from `--tmpfs` or an `emptyDir`. Without one, `/tmp` exists only where the root
    /// has it (a `FROM scratch` image has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub run_tmpfs: Vec<String>,
}

/// Parses a size such as `512MiB`, `2GiB`, `1.5G`, `65536` (bytes; K/M/G/T and KiB/MiB/GiB/TiB
/// are all powers of 1024). `0`, `none` and `unlimited` give 0.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("unlimited") {
        return Ok(0);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 512MiB, 2GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("`{s}`: unknown unit `{other}` (use KiB, MiB, GiB)")),
    };
    let bytes = n * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod test_flag_tests {
    use super::TestSpec;

    #[test]
    fn go_test_flags_become_test_binary_flags() {
        let t = TestSpec {
            flags: [
                "-short",
                "-run",
                "TestX|TestY",
                "-count=1",
                "-test.v",
                "--parallel=2",
            ]
            .map(String::from)
            .to_vec(),
            bench: Some(".".into()),
            benchtime: Some("100x".into()),
            count: Some(3),
            benchmem: true,
        };
        assert_eq!(
            t.binary_flags(),
            [
                "-test.short",
                "-test.run=TestX|TestY",
                "-test.count=1",
                "-test.v",
                "-test.parallel=2",
                "-test.bench=.",
                "-test.benchtime=100x",
                "-test.count=3",
                "-test.benchmem"
            ]
        );
    }
}

#[cfg(test)]
mod size_tests {
    use super::parse_byte_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_byte_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_byte_size("2G"), Ok(2 << 30));
        assert_eq!(parse_byte_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_byte_size("4096"), Ok(4096));
        assert_eq!(parse_byte_size("none"), Ok(0));
        assert!(parse_byte_size("12 parsecs").is_err());
        assert!(parse_byte_size("MiB").is_err());
    }
}

impl CellSettings {
    pub fn is_default(&self) -> bool {
        *self == CellSettings::default()
    }
}

fn settings_are_default(s: &Arc<CellSettings>) -> bool {
    s.is_default()
}

/// One cell: a program built by a toolchain for a target and mode, run on a rootfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub id: CellId,
    pub toolchain: Arc<Toolchain>,
    pub target: Target,
    pub cgo: bool,
    pub libc: Option<Libc>,
    pub rootfs: RootfsSpec,
    pub program: Arc<Program>,
    /// Set when the planner already knows the cell cannot be built.
    pub skip: Option<Skip>,
    /// How to build and run it (shared between cells with the same settings).
    #[serde(default, skip_serializing_if = "settings_are_default")]
    pub settings: Arc<CellSettings>,
    /// The qemu-user installation that runs it (`emulators = […]`, `--emulator`); `None`:
    /// the host's, as found at run time. Only cells that run emulated have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<Arc<Emulator>>,
}

impl Cell {
    pub fn new(
        toolchain: Arc<Toolchain>,
        target: Target,
        cgo: bool,
        libc: Option<Libc>,
        rootfs: RootfsSpec,
        program: Arc<Program>,
    ) -> Cell {
        let id = Cell::make_id(&toolchain, &target, cgo, libc, &rootfs, &program);
        Cell {
            id,
            toolchain,
            target,
            cgo,
            libc,
            rootfs,
            program,
            skip: None,
            settings: Arc::default(),
            emulator: None,
        }
    }

    /// This cell run by `emulator`. Its id names the emulator (`…/rootfs-host/emu-qemu-10.0.2/
    /// prog`) when `in_id`: a matrix of more than one emulator.
    pub fn under_emulator(mut self, emulator: Arc<Emulator>, in_id: bool) -> Cell {
        if in_id {
            let id = self.id.as_str();
            let cut = id.rfind('/').unwrap_or(id.len());
            let mut with = String::with_capacity(id.len() + emulator.name.len() + 5);
            with.push_str(&id[..cut]);
            with.push_str("/emu-");
            push_sanitized(&mut with, &emulator.name);
            with.push_str(&id[cut..]);
            self.id = CellId(with);
        }
        self.emulator = Some(emulator);
        self
    }

    pub fn make_id(
        toolchain: &Toolchain,
        target: &Target,
        cgo: bool,
        libc: Option<Libc>,
        rootfs: &RootfsSpec,
        program: &Program,
    ) -> CellId {
        use std::fmt::Write;
        // One allocation: planning 100k cells makes 100k ids.
        let mut id = String::with_capacity(64);
        push_sanitized(&mut id, &toolchain.name);
        id.push('/');
        let _ = write!(id, "{}-{}", target.goos, target.goarch);
        if let Some(v) = &target.variant {
            id.push('-');
            id.extend(v.chars().filter(|c| *c != '='));
        }
        id.push_str(if cgo { "/cgo1" } else { "/cgo0" });
        // A libc with cgo0 is meaningless (and skipped), but must not collide with plain cgo0.
        if let Some(l) = libc {
            let _ = write!(id, "-{l}");
        }
        id.push_str("/rootfs-");
        match rootfs {
            RootfsSpec::Dir(_) | RootfsSpec::Image(_) => id.push_str(&rootfs.id_part()),
            RootfsSpec::Scratch => id.push_str("scratch"),
            RootfsSpec::Glibc => id.push_str("glibc"),
            RootfsSpec::Musl => id.push_str("musl"),
            RootfsSpec::Host => id.push_str("host"),
        }
        id.push('/');
        push_sanitized(&mut id, &program.name);
        CellId(id)
    }

    /// `cgo0`, `cgo1-gnu`, `cgo1-musl`: the build mode column of reports.
    pub fn mode(&self) -> String {
        match (self.cgo, self.libc) {
            (false, None) => "cgo0".into(),
            (false, Some(l)) => format!("cgo0-{l}"),
            (true, None) => "cgo1".into(),
            (true, Some(l)) => format!("cgo1-{l}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc() -> Arc<Toolchain> {
        Arc::new(Toolchain {
            name: "go1.24".into(),
            version: "go1.24.4".into(),
            goroot: "/usr/lib/go-1.24".into(),
            ports: vec![],
        })
    }

    #[test]
    fn ids_are_readable_and_stable() {
        let c = Cell::new(
            tc(),
            Target::linux("arm64"),
            true,
            Some(Libc::Musl),
            RootfsSpec::Musl,
            Arc::new(Program::probe()),
        );
        assert_eq!(
            c.id.as_str(),
            "go1.24/linux-arm64/cgo1-musl/rootfs-musl/probe"
        );
        assert_eq!(
            c.id.to_path_component(),
            "go1.24__linux-arm64__cgo1-musl__rootfs-musl__probe"
        );
        let d = Cell::new(
            tc(),
            Target::linux("amd64"),
            false,
            None,
            RootfsSpec::Dir("/srv/my image".into()),
            Arc::new(Program::probe()),
        );
        assert_eq!(
            d.id.as_str(),
            "go1.24/linux-amd64/cgo0/rootfs-dir-my_image/probe"
        );
    }

    #[test]
    fn matching_rootfs() {
        assert_eq!(RootfsSpec::matching(false, None), RootfsSpec::Scratch);
        assert_eq!(
            RootfsSpec::matching(true, Some(Libc::Gnu)),
            RootfsSpec::Glibc
        );
        assert_eq!(
            RootfsSpec::matching(true, Some(Libc::Musl)),
            RootfsSpec::Musl
        );
    }

    /// Static linux test cells run on `host` (what `go test -exec` gives a test); programs,
    /// cgo test cells and non-linux targets keep the root their build matches.
    #[test]
    fn test_cells_default_to_the_host_root() {
        let program = Program::probe();
        let mut test = Program::probe();
        test.test = Some(TestSpec::default());
        let linux = Target::linux("arm64");
        let default = |t: &Target, cgo, libc, p: &Program| RootfsSpec::default_for(t, cgo, libc, p);
        assert_eq!(default(&linux, false, None, &test), RootfsSpec::Host);
        assert_eq!(default(&linux, false, None, &program), RootfsSpec::Scratch);
        assert_eq!(
            default(&linux, true, Some(Libc::Musl), &test),
            RootfsSpec::Musl
        );
        let wasi = Target::new("wasip1", "wasm");
        assert_eq!(default(&wasi, false, None, &test), RootfsSpec::Scratch);
        let darwin = Target::new("darwin", "arm64");
        assert_eq!(default(&darwin, false, None, &test), RootfsSpec::Scratch);
        let id = Cell::new(tc(), linux, false, None, RootfsSpec::Host, Arc::new(test)).id;
        assert_eq!(id.as_str(), "go1.24/linux-arm64/cgo0/rootfs-host/probe");
    }

    #[test]
    fn port_lists_gate_support() {
        let mut t = (*tc()).clone();
        assert!(t.supports(&Target::new("wasip1", "wasm")));
        t.ports = vec!["linux/amd64".into()];
        assert!(t.supports(&Target::linux("amd64")));
        assert!(!t.supports(&Target::new("wasip1", "wasm")));
    }
}
