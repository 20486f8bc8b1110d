//! What run.json says about the host and the tools that ran the cells.

use crossmatrix_results::{HostInfo, ToolVersion};
use crossmatrix_toolchains::executor::Host;
use std::path::Path;
use std::process::Command;

/// `TOOL --version` answers at once; a hung tool must not hang the run's start.
const VERSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn read_trim(p: &str) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn os_release() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    Some(crossmatrix_toolchains::doctor::parse_os_release(&text).pretty_name)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn user_name() -> String {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("uid {uid}"))
}

pub fn host_info(binfmt: bool) -> HostInfo {
    HostInfo {
        hostname: read_trim("/proc/sys/kernel/hostname"),
        os: os_release(),
        kernel: read_trim("/proc/sys/kernel/osrelease"),
        arch: std::env::consts::ARCH.into(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        user: user_name(),
        binfmt,
    }
}

/// First line of `cmd --version`, or None.
/// Remembered in the cache while `cmd` is the same file.
pub fn version_of(cmd: &Path, arg: &str) -> Option<String> {
    crossmatrix_toolchains::facts::remembered(cmd, &[arg], &[], || {
        let out =
            crossmatrix_sandbox::host::run(Command::new(cmd).arg(arg), VERSION_TIMEOUT).ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .next()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
    })
}

pub fn tool_versions(bwrap: &Path, host: &Host) -> Vec<ToolVersion> {
    let mut v = Vec::new();
    if let Some(ver) = version_of(bwrap, "--version") {
        v.push(ToolVersion {
            name: "bwrap".into(),
            version: ver,
            path: Some(bwrap.display().to_string()),
        });
    }
    for (arch, q) in &host.qemus {
        v.push(ToolVersion {
            name: format!("qemu ({arch})"),
            version: q.version.clone(),
            path: Some(q.path.display().to_string()),
        });
    }
    if let Some(zig) = crossmatrix_toolchains::cc::find_zig() {
        if let Some(ver) = version_of(&zig, "version") {
            v.push(ToolVersion {
                name: "zig".into(),
                version: ver,
                path: Some(zig.display().to_string()),
            });
        }
    }
    v.push(ToolVersion {
        name: "wasmtime".into(),
        version: crossmatrix_sandbox::wasm::wasmtime_version().into(),
        path: None,
    });
    v
}

/// What run.json says of each toolchain of the plan, with a note on those Go no longer
/// supports (older than the two newest minors of the host's toolchains, found when planning,
/// and of the download index `toolchain install` last fetched).
pub fn toolchain_infos(planned: &crate::Planned) -> Vec<crossmatrix_results::ToolchainInfo> {
    use crossmatrix_toolchains::support::{SupportWindow, kept_index};
    let index = kept_index(&crossmatrix_toolchains::default_toolchains_dir());
    let toolchains = &planned.toolchains;
    let window = SupportWindow::new(
        planned
            .host_go_versions
            .iter()
            .map(String::as_str)
            .chain(toolchains.iter().map(|t| t.version.as_str())),
        index.as_deref(),
    );
    toolchains
        .iter()
        .map(|t| crossmatrix_results::ToolchainInfo {
            name: t.name.clone(),
            version: t.version.clone(),
            goroot: t.goroot.display().to_string(),
            out_of_support: window.as_ref().and_then(|w| w.note(&t.version)),
        })
        .collect()
}
