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

/// The commit of the project a run tests, for run.json: `$GITHUB_SHA` when set (a GitHub
/// Actions job, where the checkout may be shallow or detached), else `git rev-parse HEAD` in
/// `dir` when it is inside a git work tree; `None` otherwise — no git, not a repository, a
/// repository without commits — never an error.
pub fn project_commit(dir: &Path) -> Option<String> {
    commit_of(std::env::var("GITHUB_SHA").ok(), dir)
}

fn commit_of(github_sha: Option<String>, dir: &Path) -> Option<String> {
    if let Some(sha) = github_sha
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    {
        return Some(sha);
    }
    // No git on PATH is a spawn error, answered with None like the rest.
    let out = crossmatrix_sandbox::host::run(
        Command::new("git")
            .args(["rev-parse", "--verify", "--quiet", "HEAD"])
            .current_dir(dir),
        VERSION_TIMEOUT,
    )
    .ok()?;
    if !out.status.success() {
        return None;
    }
    let sha = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!sha.is_empty() && sha.bytes().all(|b| b.is_ascii_hexdigit())).then_some(sha)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> bool {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    #[test]
    fn the_commit_comes_from_github_then_git_then_nowhere() {
        let d = tempfile::tempdir().unwrap();
        // Not a repository (tempdirs are outside any work tree): no commit, no error.
        assert_eq!(commit_of(None, d.path()), None);
        assert_eq!(
            commit_of(Some("0123abc\n".into()), d.path()).as_deref(),
            Some("0123abc")
        );
        assert_eq!(commit_of(Some(String::new()), d.path()), None);
        if !git(d.path(), &["--version"]) {
            eprintln!("SKIPPED (git part): no git on PATH");
            return;
        }
        assert!(git(d.path(), &["init", "-q"]));
        // A repository without a commit has no HEAD yet.
        assert_eq!(commit_of(None, d.path()), None);
        std::fs::write(d.path().join("f"), "x").unwrap();
        assert!(git(d.path(), &["add", "f"]));
        assert!(git(
            d.path(),
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "x"
            ]
        ));
        let head = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(d.path())
            .output()
            .unwrap();
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert_eq!(head.len(), 40);
        assert_eq!(commit_of(None, d.path()), Some(head.clone()));
        // From a subdirectory of the work tree too; GITHUB_SHA wins over git.
        std::fs::create_dir(d.path().join("sub")).unwrap();
        assert_eq!(commit_of(None, &d.path().join("sub")), Some(head));
        assert_eq!(
            commit_of(Some("feed".into()), d.path()).as_deref(),
            Some("feed")
        );
    }
}
