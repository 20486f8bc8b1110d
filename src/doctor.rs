//! `crossmatrix doctor`: what this host can do, and the command that fixes each missing piece.

use crate::cli::DoctorArgs;
use crate::hostinfo::version_of;
use anyhow::{Result, bail};
use crossmatrix_matrix::{DEFAULT_CGO_ARCHES, LINUX_ARCHES, Libc};
use crossmatrix_toolchains::executor::{ExecutorChoice, ExecutorPreference, Host};
use std::process::{Command, ExitCode};

struct Check {
    what: String,
    ok: bool,
    detail: String,
    fix: String,
}

fn check(
    what: impl Into<String>,
    ok: bool,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        what: what.into(),
        ok,
        detail: detail.into(),
        fix: fix.into(),
    }
}

pub fn doctor(a: DoctorArgs) -> Result<ExitCode> {
    let mut checks = Vec::new();
    let host = Host::probe();
    let bwrap = which::which("bwrap").ok();
    let mut essential_ok = true;
    match &bwrap {
        Some(p) => {
            let ver = version_of(p, "--version").unwrap_or_default();
            let works = Command::new(p)
                .args([
                    "--unshare-all",
                    "--die-with-parent",
                    "--ro-bind",
                    "/",
                    "/",
                    "true",
                ])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            essential_ok &= works;
            checks.push(check(
                "bubblewrap + user namespaces",
                works,
                format!("{ver} at {}", p.display()),
                if works {
                    String::new()
                } else {
                    "enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; on Ubuntu 24.04: sysctl kernel.apparmor_restrict_unprivileged_userns=0)".into()
                },
            ));
        }
        None => {
            essential_ok = false;
            checks.push(check(
                "bubblewrap",
                false,
                "not found",
                "apt-get install bubblewrap",
            ));
        }
    }
    checks.push(check(
        "binfmt_misc",
        host.binfmt.available,
        format!("{} registrations", host.binfmt.entries.len()),
        "as root: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && update-binfmts --enable (else qemu is invoked directly)",
    ));
    for arch in LINUX_ARCHES {
        let choice = host.pick_executor("linux", arch, None, ExecutorPreference::Auto);
        let (ok, detail) = match &choice {
            ExecutorChoice::Native => (true, "native".to_string()),
            ExecutorChoice::QemuBinfmt {
                interpreter,
                qemu_version,
            } => (
                true,
                format!(
                    "qemu-binfmt {} ({})",
                    qemu_version.as_deref().unwrap_or("?"),
                    interpreter.display()
                ),
            ),
            ExecutorChoice::QemuDirect(q) => (
                true,
                format!("qemu-direct {} ({})", q.version, q.path.display()),
            ),
            ExecutorChoice::Wasmtime => (true, "wasmtime".into()),
            ExecutorChoice::None { hint } => (false, hint.clone()),
        };
        checks.push(check(
            format!("run linux/{arch}"),
            ok,
            detail,
            if ok {
                ""
            } else {
                "apt-get install qemu-user-static"
            },
        ));
    }
    checks.push(check(
        "run wasip1/wasm",
        true,
        format!(
            "embedded wasmtime {}",
            crossmatrix_runner::wasm::wasmtime_version()
        ),
        "",
    ));
    let gos = crossmatrix_toolchains::go::discover_go();
    essential_ok &= !gos.is_empty();
    checks.push(check(
        "Go toolchains",
        !gos.is_empty(),
        gos.iter().map(|g| format!("{} ({})", g.version, g.goroot.display())).collect::<Vec<_>>().join(", "),
        "apt-get install golang-1.22-go (bookworm-backports) golang-1.24-go (trixie), or run ci/setup",
    ));
    for arch in DEFAULT_CGO_ARCHES {
        for libc in [Libc::Gnu, Libc::Musl] {
            match crossmatrix_toolchains::cc::pick_c_compiler(arch, libc) {
                Ok(cc) => checks.push(check(
                    format!("cgo linux/{arch} {libc}"),
                    true,
                    format!("{} ({})", cc.cc, cc.why),
                    "",
                )),
                Err(e) => checks.push(check(
                    format!("cgo linux/{arch} {libc}"),
                    false,
                    "no C compiler",
                    e.hint,
                )),
            }
        }
    }
    match a.format.as_str() {
        "json" => {
            let v: Vec<_> = checks
                .iter()
                .map(|c| serde_json::json!({"check": c.what, "ok": c.ok, "detail": c.detail, "fix": c.fix}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"ok": essential_ok, "checks": v})
                )?
            );
        }
        "table" => {
            let w = checks.iter().map(|c| c.what.len()).max().unwrap_or(0);
            for c in &checks {
                println!(
                    "{}  {:<w$}  {}",
                    if c.ok { "ok  " } else { "MISS" },
                    c.what,
                    c.detail
                );
                if !c.ok && !c.fix.is_empty() {
                    println!("      {:<w$}  fix: {}", "", c.fix);
                }
            }
        }
        other => bail!("--format {other}: expected table or json"),
    }
    Ok(if essential_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
