//! From what the user asked (a config file, or axis flags and programs) to the cells of a run:
//! the toolchains resolved against this host, the programs, the matrix expanded, then
//! `--filter` and `--shard`. Everything a user can get wrong here is a [`PlanError`] (exit 2,
//! before any work).

use crossmatrix_matrix::{
    Axes, CONFIG_FILE_NAME, CgoMode, Emulator, EmulatorSpec, Filter, LINUX_ARCHES, Libc, Plan,
    Program, ProgramSource, RootfsSpec, Shard, Target, TestSpec, Toolchain, default_matrix,
};
use crossmatrix_toolchains::emulator::resolve_emulators;
use crossmatrix_toolchains::executor::{ExecutorChoice, ExecutorPreference, Host};
use crossmatrix_toolchains::go::{GoToolchain, discover_go, select_toolchains, short_names};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What to plan: the command line's matrix arguments.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// Package dirs or `.go` files instead of the probe (or the config's programs).
    pub programs: Vec<PathBuf>,
    /// `--toolchain`: versions (`go1.22`, `latest`) or GOROOT paths.
    pub toolchains: Vec<String>,
    /// `--emulator`: `host`, directories of qemu-user binaries, `NAME=DIR` (replace the
    /// config's `emulators`).
    pub emulators: Vec<String>,
    pub targets: Vec<String>,
    pub cgo: Vec<u8>,
    pub libc: Vec<String>,
    pub rootfs: Vec<String>,
    pub filter: Vec<String>,
    /// `--config`; without it `./crossmatrix.toml` when it exists.
    pub config: Option<PathBuf>,
    /// `--shard K/N` or `auto`.
    pub shard: Option<String>,
    /// How foreign binaries will run (decides which arches the default matrix has).
    pub executor: ExecutorPreference,
    /// crossmatrix's cache (what planning learns about Go projects is remembered there).
    pub cache_dir: PathBuf,
    /// The module cache the builds will read (`--modcache`, else crossmatrix's own): planning
    /// reads the module graph from it too.
    pub modcache: Option<PathBuf>,
    /// Set for `crossmatrix test`: `programs` (or the config's `[[tests]]`, or `./...`) are
    /// packages whose Go tests run, with these flags added to each.
    pub tests: Option<TestSpec>,
}

impl PlanRequest {
    /// Whether any axis flag replaces the default axes.
    fn custom_axes(&self) -> bool {
        !(self.targets.is_empty()
            && self.cgo.is_empty()
            && self.libc.is_empty()
            && self.rootfs.is_empty())
    }
}

/// A plan and what it was made from.
pub struct Planned {
    pub plan: Plan,
    /// Hash of the whole matrix before `--shard`, so shards of one matrix can be merged.
    pub matrix_hash: String,
    /// With `--shard`: every cell id of the whole matrix, in plan order (else empty).
    pub matrix_ids: Vec<String>,
    pub toolchains: Vec<Arc<Toolchain>>,
    /// The emulators of the run (an axis when more than one); empty: the host's.
    pub emulators: Vec<Arc<Emulator>>,
    pub host: Host,
    /// The version of every Go toolchain found on the host (the matrix's or not): with the
    /// kept download index, what decides which of the matrix's are out of support.
    pub host_go_versions: Vec<String>,
}

/// A request that cannot be planned; the message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Toolchains(#[from] crossmatrix_toolchains::SelectError),
    #[error("{0}")]
    Config(Box<crossmatrix_matrix::ConfigError>),
    #[error(transparent)]
    Project(#[from] crossmatrix_project::ResolveError),
    #[error("{0}")]
    Usage(String),
}

/// The `--emulator` flags, else the config's `emulators`, found on this host.
fn emulators_of(
    req: &PlanRequest,
    cfg: Option<&crossmatrix_matrix::Config>,
    host: &Host,
) -> Result<Vec<Arc<Emulator>>, PlanError> {
    if req.emulators.is_empty() {
        let Some(cfg) = cfg else {
            return Ok(Vec::new());
        };
        return resolve_emulators(&cfg.emulators, host).map_err(|e| match &e.spec {
            Some(spec) => cfg.emulator_error(spec, e.message).into(),
            None => usage(e.message),
        });
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let specs = req
        .emulators
        .iter()
        .map(|raw| EmulatorSpec::parse(raw, &cwd).map_err(|e| usage(format!("--emulator {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    resolve_emulators(&specs, host).map_err(|e| usage(format!("--emulator: {}", e.message)))
}

impl From<crossmatrix_matrix::ConfigError> for PlanError {
    fn from(e: crossmatrix_matrix::ConfigError) -> Self {
        PlanError::Config(Box::new(e))
    }
}

fn usage(msg: impl Into<String>) -> PlanError {
    PlanError::Usage(msg.into())
}

/// The cells `req` asks for on this host.
pub fn make_plan(req: &PlanRequest) -> Result<Planned, PlanError> {
    let host = Host::detect();
    let config_path = match &req.config {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from(CONFIG_FILE_NAME)).filter(|p| p.is_file()),
    };
    if let Some(path) = config_path {
        return plan_from_config(req, &path, host);
    }
    let found = discover_go();
    let toolchains = matrix_toolchains(&select_toolchains(&req.toolchains, &found)?);
    let programs = match &req.tests {
        Some(spec) => test_programs(&req.programs, spec)?,
        None => programs_from(&req.programs)?,
    };
    let blocks = if req.custom_axes() {
        vec![axes_from_flags(req, &host, &toolchains, programs)?]
    } else {
        default_matrix(
            &toolchains,
            &runnable_arches(&host, req.executor),
            &programs,
        )
    };
    let emulators = emulators_of(req, None, &host)?;
    narrow(Plan::expand(&blocks), req, toolchains, emulators, host).map(|p| p.with_host_go(&found))
}

/// The planner's toolchains, named for cell ids over the whole set (two of one minor get
/// their full versions).
fn matrix_toolchains(chosen: &[GoToolchain]) -> Vec<Arc<Toolchain>> {
    chosen
        .iter()
        .zip(short_names(chosen))
        .map(|(t, n)| Arc::new(t.to_matrix(n)))
        .collect()
}

/// The probe, or the programs given on the command line (dirs or `.go` files; a sibling
/// `NAME.out` is the expected stdout), parsed by the matrix crate like the config's.
fn programs_from(paths: &[PathBuf]) -> Result<Vec<Arc<Program>>, PlanError> {
    if paths.is_empty() {
        return Ok(vec![Arc::new(Program::probe())]);
    }
    let exists = |p: &&PathBuf| match p.to_str() {
        Some(t) if crossmatrix_matrix::is_package_pattern(t) => true,
        _ => p.exists(),
    };
    if let Some(missing) = paths.iter().find(|p| !exists(p)) {
        return Err(usage(format!(
            "program {}: no such file or directory",
            missing.display()
        )));
    }
    let programs = crossmatrix_matrix::programs_from_paths(paths)?;
    Ok(programs.into_iter().map(|p| p.program).collect())
}

/// The test programs `crossmatrix test PACKAGE...` names: directories and patterns (paths
/// starting with `.` or `/`) and import paths (`strings`, `example.com/m/pkg`: go resolves
/// them); `./...` when none is given.
fn test_programs(packages: &[PathBuf], spec: &TestSpec) -> Result<Vec<Arc<Program>>, PlanError> {
    let cwd = std::env::current_dir().map_err(|e| usage(format!("the current directory: {e}")))?;
    let defaults = [PathBuf::from("./...")];
    let packages = if packages.is_empty() {
        &defaults[..]
    } else {
        packages
    };
    let mut out = Vec::new();
    for p in packages {
        let text = p.to_string_lossy().into_owned();
        let source = if text.starts_with('.') || text.starts_with('/') {
            if crossmatrix_matrix::is_package_pattern(&text) {
                crossmatrix_matrix::pattern_source(&cwd, &text)
            } else {
                let dir = cwd.join(p);
                if !dir.is_dir() {
                    return Err(usage(format!(
                        "package {text}: no such directory {}",
                        dir.display()
                    )));
                }
                ProgramSource::Dir(std::fs::canonicalize(&dir).unwrap_or(dir))
            }
        } else {
            ProgramSource::Pattern {
                dir: cwd.clone(),
                pattern: text.clone(),
            }
        };
        out.push(Arc::new(Program {
            name: text,
            source,
            args: vec![],
            expect: Default::default(),
            test: Some(spec.clone()),
        }));
    }
    name_dirs(&mut out);
    Ok(out)
}

/// Names test packages given as directories after the directory (`./internal/calc` is
/// `calc`), or the shortest run of its last path elements that no other one shares
/// (`a-calc`, `b-calc`). Patterns and import paths are named by the planner from their import
/// paths.
fn name_dirs(programs: &mut [Arc<Program>]) {
    let dirs: Vec<Option<Vec<String>>> = programs
        .iter()
        .map(|p| match &p.source {
            ProgramSource::Dir(d) => Some(
                d.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .filter(|c| c != "/")
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    let suffix = |parts: &[String], n: usize| parts[parts.len().saturating_sub(n)..].join("-");
    for (i, parts) in dirs.iter().enumerate() {
        let Some(parts) = parts else { continue };
        let mut n = 1;
        while n < parts.len()
            && dirs.iter().enumerate().any(|(j, other)| {
                j != i
                    && other
                        .as_ref()
                        .is_some_and(|o| suffix(o, n) == suffix(parts, n))
            })
        {
            n += 1;
        }
        let mut p = (*programs[i]).clone();
        p.name = suffix(parts, n);
        programs[i] = Arc::new(p);
    }
}

/// `base`'s test flags with `extra`'s added (the command line's to the config's).
fn merged_spec(base: &TestSpec, extra: &TestSpec) -> TestSpec {
    let mut t = base.clone();
    t.flags.extend(extra.flags.iter().cloned());
    if extra.bench.is_some() {
        t.bench = extra.bench.clone();
    }
    if extra.benchtime.is_some() {
        t.benchtime = extra.benchtime.clone();
    }
    if extra.count.is_some() {
        t.count = extra.count;
    }
    t.benchmem |= extra.benchmem;
    t
}

/// Every linux arch some executor here can run.
pub fn runnable_arches(host: &Host, pref: ExecutorPreference) -> Vec<String> {
    LINUX_ARCHES
        .iter()
        .filter(|a| {
            !matches!(
                host.pick_executor("linux", a, None, pref),
                ExecutorChoice::None { .. }
            )
        })
        .map(|a| a.to_string())
        .collect()
}

/// The runnable linux arches and `wasip1/wasm`: the targets when none are given.
fn default_targets(host: &Host, pref: ExecutorPreference) -> Vec<Target> {
    let mut t: Vec<Target> = runnable_arches(host, pref)
        .iter()
        .map(|a| Target::linux(a))
        .collect();
    t.push(Target::new("wasip1", "wasm"));
    t
}

/// The product of the axis flags; axes not given take their defaults (every runnable arch +
/// wasip1, `cgo=0` unless a libc is given, the rootfs matching each build).
fn axes_from_flags(
    req: &PlanRequest,
    host: &Host,
    toolchains: &[Arc<Toolchain>],
    programs: Vec<Arc<Program>>,
) -> Result<Axes, PlanError> {
    let targets = if req.targets.is_empty() {
        default_targets(host, req.executor)
    } else {
        req.targets
            .iter()
            .map(|t| {
                t.parse::<Target>()
                    .map_err(|e| usage(format!("--target {t}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let libcs = req
        .libc
        .iter()
        .map(|l| l.parse::<Libc>().map_err(|e| usage(format!("--libc: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let cgos: Vec<u8> = match (req.cgo.is_empty(), libcs.is_empty()) {
        (false, _) => req.cgo.clone(),
        (true, true) => vec![0],
        (true, false) => vec![1],
    };
    let mut modes = Vec::new();
    for c in cgos {
        match c {
            0 => modes.push(CgoMode::Off),
            1 if libcs.is_empty() => {
                modes.extend([CgoMode::On(Libc::Gnu), CgoMode::On(Libc::Musl)])
            }
            1 => modes.extend(libcs.iter().map(|l| CgoMode::On(*l))),
            other => return Err(usage(format!("--cgo {other}: expected 0 or 1"))),
        }
    }
    let rootfs = if req.rootfs.is_empty() {
        None
    } else {
        Some(
            req.rootfs
                .iter()
                .map(|r| parse_rootfs(r))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    Ok(Axes {
        toolchains: toolchains.to_vec(),
        targets,
        modes,
        rootfs,
        programs,
    })
}

/// `--rootfs scratch|host|glibc|musl|DIR`.
pub fn parse_rootfs(r: &str) -> Result<RootfsSpec, PlanError> {
    match r {
        "scratch" => Ok(RootfsSpec::Scratch),
        "host" => Ok(RootfsSpec::Host),
        "glibc" | "gnu" => Ok(RootfsSpec::Glibc),
        "musl" => Ok(RootfsSpec::Musl),
        path if Path::new(path).is_dir() || RootfsSpec::is_image_path(Path::new(path)) => {
            std::fs::canonicalize(path)
                .map(RootfsSpec::from_path)
                .map_err(|e| usage(format!("--rootfs {path}: {e}")))
        }
        path => Err(usage(format!(
            "--rootfs {path}: expected scratch, host, glibc, musl, an existing directory, or a container image (an OCI layout directory, or a docker save / podman save / oci-archive tarball)"
        ))),
    }
}

/// A plan from `crossmatrix.toml`; `--toolchain` and PATH arguments still override its
/// toolchains and programs, `--filter` and `--shard` narrow it.
fn plan_from_config(req: &PlanRequest, path: &Path, host: Host) -> Result<Planned, PlanError> {
    if req.custom_axes() {
        return Err(usage(format!(
            "--target/--cgo/--libc/--rootfs cannot be combined with the config {}: edit its axes, or narrow it with --filter",
            path.display()
        )));
    }
    let mut cfg = crossmatrix_matrix::load_config(path)?;
    let found = discover_go();
    let chosen = if !req.toolchains.is_empty() || cfg.toolchains.is_empty() {
        select_toolchains(&req.toolchains, &found)?
    } else {
        let mut gos: Vec<GoToolchain> = Vec::new();
        for spec in &cfg.toolchains {
            match select_toolchains(std::slice::from_ref(&spec.raw), &found) {
                Ok(t) => gos.extend(t),
                Err(e) => {
                    let versions: Vec<&str> = found.iter().map(|t| t.version.as_str()).collect();
                    return Err(cfg.toolchain_error(spec, e.to_string(), &versions).into());
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        gos.retain(|g| seen.insert(g.goroot.clone()));
        gos
    };
    let toolchains = matrix_toolchains(&chosen);
    if let Some(extra) = &req.tests {
        // `crossmatrix test`: the config's [[tests]] (or ./... beside it), or the packages
        // given, are the programs.
        cfg.programs = if !req.programs.is_empty() {
            test_programs(&req.programs, extra)?
                .into_iter()
                .map(|p| crossmatrix_matrix::ConfiguredProgram::plain((*p).clone()))
                .collect()
        } else if cfg.tests.is_empty() {
            let base = cfg.base_dir.clone();
            vec![crossmatrix_matrix::ConfiguredProgram::plain(Program {
                name: "./...".into(),
                source: crossmatrix_matrix::pattern_source(&base, "./..."),
                args: vec![],
                expect: Default::default(),
                test: Some(extra.clone()),
            })]
        } else {
            std::mem::take(&mut cfg.tests)
                .into_iter()
                .map(|mut t| {
                    let mut p = (*t.program).clone();
                    p.test = Some(merged_spec(
                        p.test.as_ref().unwrap_or(&TestSpec::default()),
                        extra,
                    ));
                    t.program = Arc::new(p);
                    t
                })
                .collect()
        };
    } else if !req.programs.is_empty() {
        cfg.programs = crossmatrix_matrix::programs_from_paths(&req.programs)?;
    }
    let emulators = emulators_of(req, Some(&cfg), &host)?;
    let plan = cfg.to_plan(&toolchains, &default_targets(&host, req.executor))?;
    narrow(plan, req, toolchains, emulators, host).map(|p| p.with_host_go(&found))
}

/// Resolves the Go project programs (modules, patterns, constraints: see
/// [`crossmatrix_project::resolve_plan`]), applies `--filter`, hashes the matrix (before
/// sharding, so shards of one matrix merge) and applies `--shard`.
fn narrow(
    plan: Plan,
    req: &PlanRequest,
    toolchains: Vec<Arc<Toolchain>>,
    emulators: Vec<Arc<Emulator>>,
    host: Host,
) -> Result<Planned, PlanError> {
    let mut plan = crossmatrix_project::resolve_plan(
        plan,
        &crossmatrix_project::ResolveOptions {
            memo_dir: req.cache_dir.join("golist"),
            gowork: std::env::var("GOWORK").ok(),
            modcache: req.modcache.clone(),
        },
    )?
    .with_emulators(&emulators, &host.host_goarch);
    if !req.filter.is_empty() {
        let filter = Filter::parse(&req.filter).map_err(|e| usage(e.to_string()))?;
        plan = plan.filter(&filter);
    }
    let full_hash = matrix_hash(&plan);
    let mut matrix_ids = Vec::new();
    if let Some(s) = &req.shard {
        matrix_ids = plan.cells.iter().map(|c| c.id.to_string()).collect();
        plan = plan.shard(resolve_shard(s, &|k| std::env::var(k).ok())?);
    }
    Ok(Planned {
        plan,
        matrix_hash: full_hash,
        matrix_ids,
        toolchains,
        emulators,
        host,
        host_go_versions: Vec::new(),
    })
}

impl Planned {
    fn with_host_go(mut self, found: &[GoToolchain]) -> Planned {
        self.host_go_versions = found.iter().map(|t| t.version.clone()).collect();
        self
    }
}

/// Hash of the cells' ids and toolchain versions: shards of one matrix share it.
pub fn matrix_hash(plan: &Plan) -> String {
    let mut h = Sha256::new();
    for c in &plan.cells {
        h.update(c.id.as_str().as_bytes());
        h.update(c.toolchain.version.as_bytes());
        if let Some(e) = &c.emulator {
            // (Its name is in the id only when there are two; its versions always count.)
            for b in e.binaries.values() {
                h.update(b.version.as_bytes());
            }
        }
        h.update([0]);
    }
    format!("{:x}", h.finalize())[..16].to_string()
}

/// `--shard K/N`, or `--shard auto`: the shard the CI engine assigned to this job, from
/// Buildkite's `BUILDKITE_PARALLEL_JOB`/`BUILDKITE_PARALLEL_JOB_COUNT` or a Kubernetes Indexed
/// Job's `JOB_COMPLETION_INDEX` with `CROSSMATRIX_SHARD_COUNT` (both indexes are 0-based).
pub fn resolve_shard(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, PlanError> {
    if s != "auto" {
        return s.parse::<Shard>().map_err(|e| usage(e.to_string()));
    }
    let pair =
        |index_var: &str, count_var: &str| -> Option<Result<Shard, PlanError>> {
            let index = env(index_var)?;
            let count = env(count_var);
            Some((|| {
                let count = count.ok_or_else(|| {
                    usage(format!(
                        "--shard auto: {index_var} is set but {count_var} is not"
                    ))
                })?;
                let i: usize = index.trim().parse().map_err(|_| {
                    usage(format!("--shard auto: {index_var}={index} is not a number"))
                })?;
                let n: usize = count.trim().parse().map_err(|_| {
                    usage(format!("--shard auto: {count_var}={count} is not a number"))
                })?;
                format!("{}/{}", i + 1, n)
                    .parse::<Shard>()
                    .map_err(|e| usage(e.to_string()))
            })())
        };
    pair("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT")
        .or_else(|| pair("JOB_COMPLETION_INDEX", "CROSSMATRIX_SHARD_COUNT"))
        .unwrap_or_else(|| {
            Err(usage(
                "--shard auto: no shard in the environment (set BUILDKITE_PARALLEL_JOB and BUILDKITE_PARALLEL_JOB_COUNT, or JOB_COMPLETION_INDEX and CROSSMATRIX_SHARD_COUNT), or pass --shard K/N",
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn shard_auto_reads_ci_engines() {
        let bk = env_of(&[
            ("BUILDKITE_PARALLEL_JOB", "2"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "4"),
        ]);
        assert_eq!(
            resolve_shard("auto", &bk).unwrap(),
            Shard { index: 3, count: 4 }
        );
        let k8s = env_of(&[
            ("JOB_COMPLETION_INDEX", "0"),
            ("CROSSMATRIX_SHARD_COUNT", "3"),
        ]);
        assert_eq!(
            resolve_shard("auto", &k8s).unwrap(),
            Shard { index: 1, count: 3 }
        );
        let half = env_of(&[("JOB_COMPLETION_INDEX", "0")]);
        assert!(
            resolve_shard("auto", &half)
                .unwrap_err()
                .to_string()
                .contains("CROSSMATRIX_SHARD_COUNT")
        );
        assert!(
            resolve_shard("auto", &env_of(&[]))
                .unwrap_err()
                .to_string()
                .contains("no shard in the environment")
        );
        assert_eq!(
            resolve_shard("2/5", &env_of(&[])).unwrap(),
            Shard { index: 2, count: 5 }
        );
        let bad = env_of(&[
            ("BUILDKITE_PARALLEL_JOB", "x"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "4"),
        ]);
        assert!(resolve_shard("auto", &bad).is_err());
    }
}
