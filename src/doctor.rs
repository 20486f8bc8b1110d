//! `crossmatrix doctor`: renders the host capability report of
//! `crossmatrix_toolchains::doctor` (one row per capability, with the command that fixes each
//! missing piece). Exit 0 when the default matrix can run here, 1 otherwise.

use crate::cli::DoctorArgs;
use anyhow::{Result, bail};
use crossmatrix_toolchains::doctor::{Area, Capability, CheckOptions, Report, Status, check};
use crossmatrix_toolchains::install::default_cache_dir;
use std::process::ExitCode;

pub fn doctor(a: DoctorArgs) -> Result<ExitCode> {
    if a.format != "table" && a.format != "json" {
        bail!("--format {}: expected table or json", a.format);
    }
    let mut report = check(&CheckOptions {
        cache_dir: default_cache_dir(),
    });
    report.capabilities.push(Capability::new(
        Area::Wasm,
        "run wasip1/wasm",
        Status::Ok,
        format!(
            "embedded wasmtime {}",
            crossmatrix_sandbox::wasm::wasmtime_version()
        ),
    ));
    report.capabilities.push(limits_capability());
    report.capabilities.extend(emulator_rows(&a.emulators)?);
    let ok = report.default_matrix_runs();
    if a.format == "json" {
        let mut v = serde_json::to_value(&report)?;
        v["ok"] = serde_json::Value::Bool(ok);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_table(&report, ok);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_table(report: &Report, ok: bool) {
    let os = if report.os.pretty_name.is_empty() {
        "unknown OS"
    } else {
        &report.os.pretty_name
    };
    println!("host: {os}, linux/{}", report.host_goarch);
    let w = report
        .capabilities
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for c in &report.capabilities {
        let status = match c.status {
            Status::Ok => "ok      ",
            Status::Degraded => "degraded",
            Status::Missing if c.required => "MISSING!",
            Status::Missing => "missing ",
        };
        println!("{status}  {:<w$}  {}", c.name, c.detail);
        if let Some(fix) = c.fix.as_deref().filter(|_| c.status != Status::Ok) {
            println!("{:8}  {:<w$}  fix: {fix}", "", "");
        }
    }
    if ok {
        println!("the default matrix can run here (rows not ok only narrow or slow it)");
    } else {
        let missing: Vec<&str> = report
            .capabilities
            .iter()
            .filter(|c| c.required && c.status == Status::Missing)
            .map(|c| c.name.as_str())
            .collect();
        println!(
            "the default matrix cannot run here: {} (see fix: above)",
            missing.join(", ")
        );
    }
}

/// How memory and pids limits are enforced here (cgroup, or rlimits and what they cannot do).
fn limits_capability() -> Capability {
    let rc = crossmatrix_sandbox::limits::ResourceControl::host();
    let status = if rc.uses_cgroups() {
        Status::Ok
    } else {
        Status::Degraded
    };
    Capability::new(Area::Sandbox, "limits (memory, pids)", status, rc.describe()).fix(
        "give crossmatrix a cgroup with memory and pids delegated: run it as root, or under `systemd-run --user --scope -p Delegate=yes crossmatrix run …` (cgroup v2)",
    )
}

/// One row per emulator: the host's, and each `--emulator` given: its version(s), its arches,
/// and how it runs (binfmt_misc starts only the host's; a directory's runs directly).
fn emulator_rows(specs: &[String]) -> Result<Vec<Capability>> {
    use crossmatrix_matrix::EmulatorSpec;
    use crossmatrix_toolchains::emulator::resolve_emulators;
    let host = crossmatrix_toolchains::Host::detect();
    let cwd = std::env::current_dir()?;
    let mut all = vec![EmulatorSpec::parse("host", &cwd).map_err(anyhow::Error::msg)?];
    for raw in specs {
        all.push(EmulatorSpec::parse(raw, &cwd).map_err(|e| anyhow::anyhow!("--emulator {e}"))?);
    }
    let found = resolve_emulators(&all, &host).map_err(|e| anyhow::anyhow!("--emulator: {e}"))?;
    Ok(found
        .iter()
        .map(|e| {
            let arches: Vec<String> = e
                .binaries
                .iter()
                .map(|(arch, b)| {
                    let v = if b.version.is_empty() { "?" } else { b.version.as_str() };
                    format!("{arch} {v}")
                })
                .collect();
            let how = if e.is_host() {
                "through binfmt_misc where registered (with the F flag), else invoked directly"
            } else {
                "invoked directly (binfmt_misc registers the host's qemu only; foreign children it execs run under the host's)"
            };
            let (status, detail) = if arches.is_empty() {
                (Status::Missing, "no qemu-user binary".to_string())
            } else {
                (
                    Status::Ok,
                    format!("{}: {}; {how}", e.describe(), arches.join(", ")),
                )
            };
            let row = Capability::new(Area::Qemu, format!("emulator {}", e.name), status, detail);
            if status == Status::Missing {
                row.fix("apt-get install qemu-user-static, or name a directory of qemu-user binaries with --emulator")
            } else {
                row
            }
        })
        .collect())
}
