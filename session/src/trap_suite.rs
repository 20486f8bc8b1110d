//! The trap suite behind `crossmatrix probe`: one small embedded Go program per environment
//! trap (time zones, CA roots, user lookup, shelling out, a temporary directory, `/proc`,
//! `localhost` and hostname resolution with each resolver), planned over toolchains × targets ×
//! cgo/libc × rootfs, plus the CPU-level probe: a binary built one level above the arch's
//! baseline, run under a qemu CPU model without that level and one with it. Every probe prints
//! `crossmatrix-trap NAME ok …` and exits 0 when its environment has what it needs; a miss is an
//! ordinary failure that the runner's trap recogniser (crossmatrix-runner's `traps`) names.

use crate::plan::{PlanError, Planned, matrix_hash, parse_rootfs, runnable_arches};
use crossmatrix_matrix::{
    Axes, Cause, CellSettings, CgoMode, Expectation, Filter, Libc, Plan, Program, ProgramSource,
    RootfsSpec, Skip, Target, Toolchain,
};
use crossmatrix_toolchains::executor::{ExecutorPreference, Host};
use crossmatrix_toolchains::go::{discover_go, select_toolchains, short_names};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every program name of the suite starts with this (`trap-tzdata`); reports key on it.
pub use crossmatrix_results::TRAP_PROGRAM_PREFIX as TRAP_PREFIX;

/// One environment trap and the probe that checks for it.
#[derive(Debug, Clone, Copy)]
pub struct Trap {
    /// The program's name without [`TRAP_PREFIX`], as the table's column shows it.
    pub name: &'static str,
    /// What the probe does, for `--help` and the README.
    pub what: &'static str,
    /// Its source directory among [`SOURCES`], and the marker it prints.
    dir: &'static str,
    args: &'static [&'static str],
    /// The run's environment (which resolver net uses; `+2` makes it say which one ran).
    env: &'static [(&'static str, &'static str)],
    /// Meaningful on cgo=1 binaries only (libc's resolver).
    cgo_only: bool,
}

/// The environment traps, in table order.
pub const TRAPS: &[Trap] = &[
    Trap {
        name: "tzdata",
        what: "time.LoadLocation(\"Asia/Shanghai\"): the zone database",
        dir: "tzdata",
        args: &[],
        env: &[],
        cgo_only: false,
    },
    Trap {
        name: "ca-roots",
        what: "x509.SystemCertPool, then verify a real chain (www.google.com, GTS Root R1)",
        dir: "ca-roots",
        args: &[],
        env: &[],
        cgo_only: false,
    },
    Trap {
        name: "user",
        what: "user.Current(): /etc/passwd (or $USER and $HOME without cgo)",
        dir: "user",
        args: &[],
        env: &[],
        cgo_only: false,
    },
    Trap {
        name: "exec-sh",
        what: "exec.Command(\"sh\", \"-c\", …): a shell on $PATH",
        dir: "exec-sh",
        args: &[],
        env: &[],
        cgo_only: false,
    },
    Trap {
        name: "tmpdir",
        what: "os.MkdirTemp(\"\", …): a writable $TMPDIR or /tmp",
        dir: "tmpdir",
        args: &[],
        env: &[],
        cgo_only: false,
    },
    Trap {
        name: "proc",
        what: "os.Executable() and /proc/self/status: /proc",
        dir: "proc",
        args: &[],
        env: &[],
        cgo_only: false,
    },
    Trap {
        name: "localhost",
        what: "net.LookupHost(\"localhost\") with Go's resolver (GODEBUG=netdns=go)",
        dir: "resolve",
        args: &["localhost"],
        env: &[("GODEBUG", "netdns=go+2")],
        cgo_only: false,
    },
    Trap {
        name: "localhost-cgo",
        what: "net.LookupHost(\"localhost\") with libc's resolver (GODEBUG=netdns=cgo; cgo=1)",
        dir: "resolve",
        args: &["localhost"],
        env: &[("GODEBUG", "netdns=cgo+2")],
        cgo_only: true,
    },
    Trap {
        name: "hostname",
        what: "net.LookupHost(os.Hostname()) with Go's resolver",
        dir: "resolve",
        args: &["hostname"],
        env: &[("GODEBUG", "netdns=go+2")],
        cgo_only: false,
    },
    Trap {
        name: "hostname-cgo",
        what: "net.LookupHost(os.Hostname()) with libc's resolver (cgo=1)",
        dir: "resolve",
        args: &["hostname"],
        env: &[("GODEBUG", "netdns=cgo+2")],
        cgo_only: true,
    },
];

/// The CPU-level probe for one arch: a binary built at `level` of `knob`, run under qemu's
/// `lacking` CPU model (which must fail with `cpu-level`) and its `having` one (which must pass).
#[derive(Debug, Clone, Copy)]
pub struct CpuProbe {
    pub goarch: &'static str,
    /// The sub-architecture knob as in target variants (`goamd64`).
    pub knob: &'static str,
    pub level: &'static str,
    pub lacking: &'static str,
    pub having: &'static str,
}

/// Checked with qemu 7.2: Go's runtime refuses to start on the lacking model (amd64) or the
/// first newer instruction raises SIGILL (arm, arm64, riscv64); the having model runs it.
pub const CPU_PROBES: &[CpuProbe] = &[
    // x86-64-v3 (AVX2, BMI2, FMA…): Haswell (2013) has it, Nehalem (2008) is v2.
    CpuProbe {
        goarch: "amd64",
        knob: "goamd64",
        level: "v3",
        lacking: "Nehalem",
        having: "Haswell",
    },
    // ARMv8.1 atomics (LSE): Cortex-A57 is ARMv8.0, Cortex-A76 ARMv8.2.
    CpuProbe {
        goarch: "arm64",
        knob: "goarm64",
        level: "v8.1",
        lacking: "cortex-a57",
        having: "cortex-a76",
    },
    // ARMv7: the ARM1176 (Raspberry Pi 1/Zero) is ARMv6.
    CpuProbe {
        goarch: "arm",
        knob: "goarm",
        level: "7",
        lacking: "arm1176",
        having: "cortex-a7",
    },
    // RVA22 (Zba/Zbb/Zbs): the SiFive U54 has none of them.
    CpuProbe {
        goarch: "riscv64",
        knob: "goriscv64",
        level: "rva22u64",
        lacking: "sifive-u54",
        having: "rv64",
    },
];

/// The embedded probe sources: (directory, file, content).
const SOURCES: &[(&str, &str, &str)] = &[
    ("tzdata", "go.mod", include_str!("../traps/tzdata/go.mod")),
    ("tzdata", "main.go", include_str!("../traps/tzdata/main.go")),
    ("tzdata", "cgo.go", include_str!("../traps/tzdata/cgo.go")),
    (
        "ca-roots",
        "go.mod",
        include_str!("../traps/ca-roots/go.mod"),
    ),
    (
        "ca-roots",
        "main.go",
        include_str!("../traps/ca-roots/main.go"),
    ),
    (
        "ca-roots",
        "cgo.go",
        include_str!("../traps/ca-roots/cgo.go"),
    ),
    ("user", "go.mod", include_str!("../traps/user/go.mod")),
    ("user", "main.go", include_str!("../traps/user/main.go")),
    ("user", "cgo.go", include_str!("../traps/user/cgo.go")),
    ("exec-sh", "go.mod", include_str!("../traps/exec-sh/go.mod")),
    (
        "exec-sh",
        "main.go",
        include_str!("../traps/exec-sh/main.go"),
    ),
    ("exec-sh", "cgo.go", include_str!("../traps/exec-sh/cgo.go")),
    ("tmpdir", "go.mod", include_str!("../traps/tmpdir/go.mod")),
    ("tmpdir", "main.go", include_str!("../traps/tmpdir/main.go")),
    ("tmpdir", "cgo.go", include_str!("../traps/tmpdir/cgo.go")),
    ("proc", "go.mod", include_str!("../traps/proc/go.mod")),
    ("proc", "main.go", include_str!("../traps/proc/main.go")),
    ("proc", "cgo.go", include_str!("../traps/proc/cgo.go")),
    ("resolve", "go.mod", include_str!("../traps/resolve/go.mod")),
    (
        "resolve",
        "main.go",
        include_str!("../traps/resolve/main.go"),
    ),
    ("resolve", "cgo.go", include_str!("../traps/resolve/cgo.go")),
    (
        "cpu-level",
        "go.mod",
        include_str!("../traps/cpu-level/go.mod"),
    ),
    (
        "cpu-level",
        "main.go",
        include_str!("../traps/cpu-level/main.go"),
    ),
];

/// Writes the probe sources under `cache_dir/traps/<hash>/` (once per content) and returns
/// that directory: one Go module per probe.
pub fn write_sources(cache_dir: &Path) -> Result<PathBuf, PlanError> {
    let mut h = Sha256::new();
    for (dir, file, body) in SOURCES {
        h.update(format!("{dir}/{file}\0{body}\0"));
    }
    let hash = format!("{:x}", h.finalize());
    let base = cache_dir.join("traps").join(&hash[..16]);
    let io = |path: &Path, e: std::io::Error| {
        PlanError::Usage(format!(
            "cannot write the trap probes' sources to {}: {e} (is the cache dir writable? --cache-dir picks another)",
            path.display()
        ))
    };
    for (dir, file, body) in SOURCES {
        let d = base.join(dir);
        let p = d.join(file);
        if std::fs::read_to_string(&p).is_ok_and(|old| old == *body) {
            continue;
        }
        std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
        std::fs::write(&p, body).map_err(|e| io(&p, e))?;
    }
    Ok(base)
}

/// What `crossmatrix probe` was asked for; empty axes take the suite's defaults.
#[derive(Debug, Clone, Default)]
pub struct ProbeRequest {
    pub toolchains: Vec<String>,
    pub targets: Vec<String>,
    pub cgo: Vec<u8>,
    pub libc: Vec<String>,
    pub rootfs: Vec<String>,
    pub filter: Vec<String>,
    /// Leave out the CPU-level probe.
    pub no_cpu: bool,
    /// How foreign binaries will run (decides which arches are runnable).
    pub executor: ExecutorPreference,
}

/// The arches the suite covers by default (those of them this host can run).
pub const DEFAULT_ARCHES: &[&str] = &["amd64", "arm64"];

/// The suite's cells on this host: the sources written under `cache_dir`, the toolchains
/// resolved, the axes defaulted (runnable ones of amd64 and arm64; cgo 0 and 1, libc gnu and
/// musl; rootfs scratch, glibc and musl), `--filter` applied.
pub fn plan_probes(req: &ProbeRequest, cache_dir: &Path) -> Result<Planned, PlanError> {
    let host = Host::detect();
    let found = discover_go();
    let chosen = select_toolchains(&req.toolchains, &found)?;
    let toolchains: Vec<Arc<Toolchain>> = chosen
        .iter()
        .zip(short_names(&chosen))
        .map(|(t, n)| Arc::new(t.to_matrix(n)))
        .collect();
    let targets = if req.targets.is_empty() {
        let runnable = runnable_arches(&host, req.executor);
        DEFAULT_ARCHES
            .iter()
            .filter(|a| runnable.iter().any(|r| r == *a))
            .map(|a| Target::linux(a))
            .collect()
    } else {
        req.targets
            .iter()
            .map(|t| {
                t.parse::<Target>()
                    .map_err(|e| PlanError::Usage(format!("--target {t}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let modes = modes(&req.cgo, &req.libc)?;
    let rootfs = if req.rootfs.is_empty() {
        vec![RootfsSpec::Scratch, RootfsSpec::Glibc, RootfsSpec::Musl]
    } else {
        req.rootfs
            .iter()
            .map(|r| parse_rootfs(r))
            .collect::<Result<Vec<_>, _>>()?
    };
    let sources = write_sources(cache_dir)?;
    let mut plan = trap_plan(
        &toolchains,
        &targets,
        &modes,
        &rootfs,
        !req.no_cpu,
        &sources,
    );
    if !req.filter.is_empty() {
        let filter = Filter::parse(&req.filter).map_err(|e| PlanError::Usage(e.to_string()))?;
        plan = plan.filter(&filter);
    }
    Ok(Planned {
        matrix_hash: matrix_hash(&plan),
        matrix_ids: Vec::new(),
        plan,
        toolchains,
        emulators: Vec::new(),
        host,
        host_go_versions: found.iter().map(|t| t.version.clone()).collect(),
    })
}

/// `--cgo` and `--libc` as build modes: both cgo values by default, cgo=1 with both libcs.
fn modes(cgo: &[u8], libc: &[String]) -> Result<Vec<CgoMode>, PlanError> {
    let libcs = libc
        .iter()
        .map(|l| {
            l.parse::<Libc>()
                .map_err(|e| PlanError::Usage(format!("--libc: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let libcs = if libcs.is_empty() {
        vec![Libc::Gnu, Libc::Musl]
    } else {
        libcs
    };
    let cgos = if cgo.is_empty() {
        vec![0, 1]
    } else {
        cgo.to_vec()
    };
    let mut modes = Vec::new();
    for c in cgos {
        match c {
            0 => modes.push(CgoMode::Off),
            1 => modes.extend(libcs.iter().map(|l| CgoMode::On(*l))),
            other => {
                return Err(PlanError::Usage(format!("--cgo {other}: expected 0 or 1")));
            }
        }
    }
    Ok(modes)
}

fn trap_program(name: String, dir: &Path, marker: &str, args: &[&str]) -> Arc<Program> {
    Arc::new(Program {
        name: format!("{TRAP_PREFIX}{name}"),
        source: ProgramSource::Dir(dir.to_path_buf()),
        args: args.iter().map(|a| a.to_string()).collect(),
        expect: Expectation {
            exit_code: 0,
            stdout_regex: Some(format!("^crossmatrix-trap {marker} ok")),
            ..Expectation::default()
        },
        test: None,
    })
}

fn settings_with_env(env: &[(&str, &str)]) -> Arc<CellSettings> {
    Arc::new(CellSettings {
        run_env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..CellSettings::default()
    })
}

/// The suite's cells: every trap in every toolchain × target × mode × rootfs (the libc
/// resolver's traps skipped on cgo=0), then with `cpu` the CPU-level pairs for each target arch
/// that has one (static, on `scratch`: the root plays no part). Pure: `sources` is where
/// [`write_sources`] put the programs.
pub fn trap_plan(
    toolchains: &[Arc<Toolchain>],
    targets: &[Target],
    modes: &[CgoMode],
    rootfs: &[RootfsSpec],
    cpu: bool,
    sources: &Path,
) -> Plan {
    let programs: Vec<Arc<Program>> = TRAPS
        .iter()
        .map(|t| trap_program(t.name.to_string(), &sources.join(t.dir), t.dir, t.args))
        .collect();
    let mut plan = Plan::expand(&[Axes {
        toolchains: toolchains.to_vec(),
        targets: targets.to_vec(),
        modes: modes.to_vec(),
        rootfs: Some(rootfs.to_vec()),
        programs,
    }]);
    for cell in &mut plan.cells {
        let Some(trap) = TRAPS
            .iter()
            .find(|t| cell.program.name.strip_prefix(TRAP_PREFIX) == Some(t.name))
        else {
            continue;
        };
        cell.settings = settings_with_env(trap.env);
        if trap.cgo_only && !cell.cgo && cell.skip.is_none() {
            cell.skip = Some(Skip {
                cause: Cause::UnsupportedTarget,
                reason: "libc's resolver needs a cgo=1 binary: a cgo=0 one has only Go's (GODEBUG=netdns=cgo is ignored)".into(),
            });
        }
    }
    if !cpu {
        return plan;
    }
    let mut seen = std::collections::BTreeSet::new();
    for target in targets {
        let Some(p) = CPU_PROBES.iter().find(|p| p.goarch == target.goarch) else {
            continue;
        };
        if !target.is_linux() || !seen.insert(p.goarch) {
            continue;
        }
        for model in [p.lacking, p.having] {
            let program = trap_program(
                format!("cpu-{model}"),
                &sources.join("cpu-level"),
                "cpu-level",
                &[],
            );
            let mut block = Plan::expand(&[Axes {
                toolchains: toolchains.to_vec(),
                targets: vec![Target::linux(p.goarch).with_variant(p.knob, p.level)],
                modes: vec![CgoMode::Off],
                rootfs: Some(vec![RootfsSpec::Scratch]),
                programs: vec![program],
            }]);
            for cell in &mut block.cells {
                cell.settings = settings_with_env(&[("QEMU_CPU", model)]);
            }
            plan.cells.extend(block.cells);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(name: &str, version: &str) -> Arc<Toolchain> {
        Arc::new(Toolchain {
            name: name.into(),
            version: version.into(),
            goroot: format!("/usr/lib/{name}").into(),
            ports: vec![],
        })
    }

    #[test]
    fn the_suite_covers_every_trap_and_cpu_pair() {
        let tcs = [tc("go1.22", "go1.22.12"), tc("go1.24", "go1.24.4")];
        let modes = modes(&[], &[]).unwrap();
        assert_eq!(
            modes,
            [
                CgoMode::Off,
                CgoMode::On(Libc::Gnu),
                CgoMode::On(Libc::Musl)
            ]
        );
        let plan = trap_plan(
            &tcs,
            &[Target::linux("amd64"), Target::linux("arm64")],
            &modes,
            &[RootfsSpec::Scratch, RootfsSpec::Glibc, RootfsSpec::Musl],
            true,
            Path::new("/cache/traps/x"),
        );
        // 2 toolchains × 2 arches × 3 modes × 3 roots × 10 traps, + 2 × 2 arches × 2 models.
        assert_eq!(plan.len(), 2 * 2 * 3 * 3 * TRAPS.len() + 2 * 2 * 2);
        let cell = |id: &str| {
            plan.cells
                .iter()
                .find(|c| c.id.as_str() == id)
                .unwrap_or_else(|| panic!("no cell {id}"))
        };
        let tz = cell("go1.24/linux-arm64/cgo0/rootfs-scratch/trap-tzdata");
        assert_eq!(
            tz.program.source,
            ProgramSource::Dir("/cache/traps/x/tzdata".into())
        );
        assert_eq!(
            tz.program.expect.stdout_regex.as_deref(),
            Some("^crossmatrix-trap tzdata ok")
        );
        let lo = cell("go1.22/linux-amd64/cgo1-gnu/rootfs-musl/trap-localhost-cgo");
        assert_eq!(lo.settings.run_env["GODEBUG"], "netdns=cgo+2");
        assert_eq!(lo.program.args, ["localhost"]);
        assert!(lo.skip.is_none());
        let skipped = cell("go1.22/linux-amd64/cgo0/rootfs-glibc/trap-hostname-cgo");
        assert!(skipped.skip.as_ref().unwrap().reason.contains("cgo=1"));
        let nehalem = cell("go1.22/linux-amd64-goamd64v3/cgo0/rootfs-scratch/trap-cpu-Nehalem");
        assert_eq!(nehalem.settings.run_env["QEMU_CPU"], "Nehalem");
        assert!(nehalem.skip.is_none());
        // GOARM64 is newer than go1.22: the planner skips its cells with a reason.
        let a57 = cell("go1.22/linux-arm64-goarm64v8.1/cgo0/rootfs-scratch/trap-cpu-cortex-a57");
        assert!(a57.skip.as_ref().unwrap().reason.contains("GOARM64"));
        assert!(
            cell("go1.24/linux-arm64-goarm64v8.1/cgo0/rootfs-scratch/trap-cpu-cortex-a76")
                .skip
                .is_none()
        );
    }

    #[test]
    fn sources_are_written_once_per_content() {
        let d = tempfile::tempdir().unwrap();
        let base = write_sources(d.path()).unwrap();
        for t in TRAPS {
            assert!(base.join(t.dir).join("main.go").is_file(), "{}", t.dir);
            assert!(base.join(t.dir).join("go.mod").is_file(), "{}", t.dir);
        }
        assert!(base.join("cpu-level/main.go").is_file());
        assert_eq!(write_sources(d.path()).unwrap(), base);
    }

    #[test]
    fn bad_axis_values_are_usage_errors() {
        assert!(modes(&[2], &[]).is_err());
        assert!(modes(&[1], &["bionic".into()]).is_err());
        assert_eq!(
            modes(&[1], &["musl".into()]).unwrap(),
            [CgoMode::On(Libc::Musl)]
        );
    }
}
