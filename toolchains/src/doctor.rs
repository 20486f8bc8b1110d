//! The host capability model behind `crossmatrix doctor`: one row per capability (sandbox, user
//! namespaces, binfmt_misc per arch, qemu per arch, Go toolchains, C compilers, rootfs), each
//! missing piece with the command that fixes it, and whether the default matrix can run.
//! The parsers (os-release, sysctl flags) and row builders are pure; [`check`] looks at the host.

use crate::binfmt::{BINFMT_DIR, BinfmtStatus, read_binfmt};
use crate::cc::pick_c_compiler;
use crate::executor::{Qemu, elf_header_for, find_qemu, qemu_arch};
use crate::go::{GoSource, GoToolchain, discover_go_in};
use crate::paths::host_goarch;
use crate::rootfs::{RootfsFlavor, RootfsStore};
use crossmatrix_matrix::{DEFAULT_CGO_ARCHES, LINUX_ARCHES, Libc};
use crossmatrix_sandbox::host as command;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BWRAP_TIMEOUT: Duration = Duration::from_secs(15);

/// The Ubuntu 24.04 AppArmor switch: 1 = unprivileged user namespaces are denied unless an
/// AppArmor profile allows them.
pub const APPARMOR_USERNS_SYSCTL: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";
/// Debian's (pre-6.x kernel) switch: 0 = unprivileged user namespaces are off.
pub const USERNS_CLONE_SYSCTL: &str = "/proc/sys/kernel/unprivileged_userns_clone";
pub const MAX_USERNS_SYSCTL: &str = "/proc/sys/user/max_user_namespaces";

/// How well a capability is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    /// Works, in a lesser way (e.g. qemu invoked directly because binfmt lacks the F flag;
    /// a rootfs that will be downloaded on first use).
    Degraded,
    Missing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Degraded => "degraded",
            Status::Missing => "missing",
        }
    }
}

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    Sandbox,
    Binfmt,
    Qemu,
    Go,
    CCompiler,
    Rootfs,
    Wasm,
}

/// One row of the doctor's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capability {
    pub area: Area,
    /// e.g. `bubblewrap`, `binfmt linux/arm64`, `cc linux/arm64 musl`.
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// The command (or step) that fixes it; `None` when nothing needs fixing.
    pub fix: Option<String>,
    /// The default matrix cannot run without it.
    pub required: bool,
}

impl Capability {
    pub fn new(
        area: Area,
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
    ) -> Self {
        Capability {
            area,
            name: name.into(),
            status,
            detail: detail.into(),
            fix: None,
            required: false,
        }
    }
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// Everything the doctor found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub os: OsRelease,
    pub host_goarch: String,
    pub capabilities: Vec<Capability>,
}

impl Report {
    /// No required capability is missing: `crossmatrix run` with no arguments can work.
    pub fn default_matrix_runs(&self) -> bool {
        self.capabilities
            .iter()
            .all(|c| !(c.required && c.status == Status::Missing))
    }
}

/// The fields of `/etc/os-release` the doctor uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    pub id: String,
    pub id_like: Vec<String>,
    pub version_id: String,
    pub pretty_name: String,
}

impl OsRelease {
    pub fn is_like(&self, id: &str) -> bool {
        self.id == id || self.id_like.iter().any(|l| l == id)
    }

    /// Ubuntu 23.10 and later restrict unprivileged user namespaces with AppArmor.
    pub fn ubuntu_with_userns_restriction(&self) -> bool {
        if self.id != "ubuntu" {
            return false;
        }
        let mut parts = self
            .version_id
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        (major, minor) >= (23, 10)
    }
}

/// Parses os-release(5): `KEY=value` lines, values optionally quoted with `"` or `'`.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v)
            .replace("\\\"", "\"");
        match k.trim() {
            "ID" => os.id = v,
            "ID_LIKE" => os.id_like = v.split_whitespace().map(str::to_string).collect(),
            "VERSION_ID" => os.version_id = v,
            "PRETTY_NAME" => os.pretty_name = v,
            _ => {}
        }
    }
    os
}

/// A sysctl file holding an integer: `Some(value)`, `None` when empty or not a number.
pub fn parse_sysctl_int(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// The kernel switches that decide whether an unprivileged user may create user namespaces;
/// `None` where the kernel has no such file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UsernsSysctls {
    /// `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu ≥ 23.10).
    pub apparmor_restrict: Option<bool>,
    /// `kernel.unprivileged_userns_clone` (Debian kernels before 6.x).
    pub unprivileged_clone: Option<bool>,
    /// `user.max_user_namespaces`.
    pub max_user_namespaces: Option<i64>,
}

impl UsernsSysctls {
    pub fn read() -> Self {
        let int = |p: &str| {
            std::fs::read_to_string(p)
                .ok()
                .and_then(|t| parse_sysctl_int(&t))
        };
        UsernsSysctls {
            apparmor_restrict: int(APPARMOR_USERNS_SYSCTL).map(|v| v != 0),
            unprivileged_clone: int(USERNS_CLONE_SYSCTL).map(|v| v != 0),
            max_user_namespaces: int(MAX_USERNS_SYSCTL),
        }
    }

    /// What stands in the way of unprivileged user namespaces, if these switches say.
    pub fn blocker(&self) -> Option<&'static str> {
        if self.apparmor_restrict == Some(true) {
            Some(
                "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)",
            )
        } else if self.unprivileged_clone == Some(false) {
            Some("unprivileged user namespaces are off (kernel.unprivileged_userns_clone=0)")
        } else if self.max_user_namespaces == Some(0) {
            Some("user namespaces are off (user.max_user_namespaces=0)")
        } else {
            None
        }
    }
}

/// The command that lets bwrap create user namespaces here.
pub fn userns_fix(os: &OsRelease, s: &UsernsSysctls) -> String {
    if s.apparmor_restrict == Some(true)
        || (s.apparmor_restrict.is_none() && os.ubuntu_with_userns_restriction())
    {
        return "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (persist: echo kernel.apparmor_restrict_unprivileged_userns=0 | sudo tee /etc/sysctl.d/60-crossmatrix-userns.conf), or an AppArmor profile that allows userns for /usr/bin/bwrap".into();
    }
    if s.unprivileged_clone == Some(false) {
        return "sudo sysctl -w kernel.unprivileged_userns_clone=1 (persist in /etc/sysctl.d/)"
            .into();
    }
    if s.max_user_namespaces == Some(0) {
        return "sudo sysctl -w user.max_user_namespaces=15000 (persist in /etc/sysctl.d/)".into();
    }
    "allow unprivileged user namespaces: in a container, run it with a seccomp profile that permits unshare(CLONE_NEWUSER) (e.g. docker run --security-opt seccomp=unconfined), or --privileged".into()
}

/// The user-namespace row from what bwrap did (`None`: no bwrap to try with).
pub fn userns_capability(
    bwrap_run: Option<&Result<(), String>>,
    sysctls: &UsernsSysctls,
    os: &OsRelease,
    root: bool,
) -> Capability {
    let name = "user namespaces";
    let blocker = sysctls.blocker();
    match bwrap_run {
        Some(Ok(())) => {
            let detail = match blocker {
                Some(b) if root => format!(
                    "bwrap works as root; {b}, so other users cannot run crossmatrix rootless"
                ),
                Some(b) => format!("bwrap works ({b}, but an AppArmor profile allows bwrap)"),
                None => "bwrap can create user, mount, pid and net namespaces".into(),
            };
            Capability::new(Area::Sandbox, name, Status::Ok, detail).required()
        }
        Some(Err(e)) => {
            let detail = match blocker {
                Some(b) => format!("bwrap failed: {e} ({b})"),
                None => format!("bwrap failed: {e}"),
            };
            Capability::new(Area::Sandbox, name, Status::Missing, detail)
                .fix(userns_fix(os, sysctls))
                .required()
        }
        None => match blocker {
            Some(b) => Capability::new(Area::Sandbox, name, Status::Missing, b)
                .fix(userns_fix(os, sysctls))
                .required(),
            None => Capability::new(
                Area::Sandbox,
                name,
                Status::Degraded,
                "not tried (no bwrap); the kernel switches allow them",
            ),
        },
    }
}

/// Kubernetes sets `KUBERNETES_SERVICE_HOST` in every container of every pod.
pub fn in_kubernetes_pod(service_host: Option<&std::ffi::OsStr>) -> bool {
    service_host.is_some_and(|h| !h.is_empty())
}

/// The fix for a bwrap that failed in a Kubernetes pod: the pod security setting its error
/// points at first, then all that bubblewrap needs there.
pub fn kubernetes_sandbox_fix(bwrap_error: &str) -> String {
    let e = bwrap_error.to_ascii_lowercase();
    let first = if e.contains("mount proc") {
        "the pod's /proc is masked: set the container's securityContext.procMount: Unmasked (allowed with the pod's hostUsers: false)"
    } else if e.contains("namespace") || e.contains("uid map") || e.contains("unshare") {
        "the pod may not create user namespaces: set the pod's hostUsers: false and securityContext.seccompProfile.type: Unconfined (runtimes' default seccomp profiles deny unshare)"
    } else if e.contains("mount") || e.contains("permission denied") {
        "a security module denies mounts: set securityContext.appArmorProfile.type: Unconfined (on SELinux nodes, seLinuxOptions.type: spc_t)"
    } else {
        "bubblewrap cannot start its sandbox in this pod"
    };
    format!(
        "in a Kubernetes pod: {first}. bubblewrap needs hostUsers: false, procMount: Unmasked, and seccomp and AppArmor profiles Unconfined (or Localhost ones allowing unshare and mount), as in crossmatrix's ci/k8s/indexed-job.yaml; where the cluster forbids them, run crossmatrix on a VM instead"
    )
}

/// The user-namespace row, with the pod security fix when bwrap failed inside a Kubernetes pod.
pub fn with_kubernetes_fix(
    row: Capability,
    bwrap_run: Option<&Result<(), String>>,
    in_pod: bool,
) -> Capability {
    match bwrap_run {
        Some(Err(e)) if in_pod && row.status == Status::Missing => {
            let fix = kubernetes_sandbox_fix(e);
            row.fix(fix)
        }
        _ => row,
    }
}

/// The binfmt_misc row of a non-native GOARCH: which entry handles its ELF files and whether
/// it has the F flag (needed inside the sandbox).
pub fn binfmt_capability(goarch: &str, binfmt: &BinfmtStatus, have_qemu: bool) -> Capability {
    let name = format!("binfmt linux/{goarch}");
    let qarch = qemu_arch(goarch).unwrap_or(goarch);
    let register = format!(
        "apt-get install qemu-user-static binfmt-support (registers qemu-{qarch} with the F flag), as root"
    );
    let fallback = if have_qemu {
        "qemu is invoked directly instead"
    } else {
        "and no qemu to invoke directly either"
    };
    let degraded_or_missing = if have_qemu {
        Status::Degraded
    } else {
        Status::Missing
    };
    if !binfmt.available {
        return Capability::new(
            Area::Binfmt,
            name,
            degraded_or_missing,
            format!("binfmt_misc is not mounted or is disabled; {fallback}"),
        )
        .fix(format!(
            "as root: mount -t binfmt_misc binfmt_misc {BINFMT_DIR}, then {register}"
        ));
    }
    let header = elf_header_for(goarch).unwrap_or_default();
    match binfmt.handler_for(&header) {
        Some(e) if e.fix_binary() => Capability::new(
            Area::Binfmt,
            name,
            Status::Ok,
            format!("{} → {} (flags {})", e.name, e.interpreter.display(), e.flags),
        ),
        Some(e) => Capability::new(
            Area::Binfmt,
            name,
            degraded_or_missing,
            format!(
                "{} → {} (flags {}: no F flag, so it does not work inside the sandbox; {fallback})",
                e.name,
                e.interpreter.display(),
                if e.flags.is_empty() { "none" } else { &e.flags }
            ),
        )
        .fix(format!(
            "re-register {} with the F flag: as root, apt-get install --reinstall qemu-user-static, or echo -1 > {BINFMT_DIR}/{} and register again with flags F",
            e.name, e.name
        )),
        None => Capability::new(
            Area::Binfmt,
            name,
            degraded_or_missing,
            format!("no registration handles linux/{goarch} ELF files; {fallback}"),
        )
        .fix(register),
    }
}

/// The qemu-user row of a non-native GOARCH.
pub fn qemu_capability(goarch: &str, qemu: Option<&Qemu>) -> Capability {
    let name = format!("qemu linux/{goarch}");
    match (qemu, qemu_arch(goarch)) {
        (Some(q), _) => Capability::new(
            Area::Qemu,
            name,
            Status::Ok,
            format!(
                "{} {}",
                q.path.display(),
                if q.version.is_empty() { "(version unknown)" } else { &q.version }
            ),
        ),
        (None, Some(qarch)) => Capability::new(
            Area::Qemu,
            name,
            Status::Missing,
            format!("neither qemu-{qarch}-static nor qemu-{qarch} on PATH: linux/{goarch} cells are left out of the default matrix"),
        )
        .fix("apt-get install qemu-user-static"),
        (None, None) => Capability::new(
            Area::Qemu,
            name,
            Status::Missing,
            format!("qemu-user cannot emulate linux/{goarch}"),
        ),
    }
}

/// The Go rows: one per toolchain, or one missing row.
/// The counting qemu (`--metric instructions|both`): optional, so never required.
pub fn counter_capability(
    found: Result<Option<crate::counter::Counter>, crate::counter::CounterError>,
) -> Capability {
    let name = "counter (--metric instructions)";
    match found {
        Ok(Some(c)) => Capability::new(
            Area::Qemu,
            name,
            Status::Ok,
            format!(
                "qemu {} with the counting plugin in {} ({})",
                c.qemu_version,
                c.dir.display(),
                c.arches.join(", ")
            ),
        ),
        Ok(None) => Capability::new(
            Area::Qemu,
            name,
            Status::Missing,
            "no counting qemu: --metric instructions|both counts nothing (timed runs still work)",
        )
        .fix("ci/host-setup --counter"),
        Err(e) => Capability::new(Area::Qemu, name, Status::Missing, e.0)
            .fix("ci/host-setup --counter (or unset $CROSSMATRIX_COUNTER)"),
    }
}

pub fn go_capabilities(found: &[GoToolchain]) -> Vec<Capability> {
    if found.is_empty() {
        return vec![
            Capability::new(
                Area::Go,
                "Go toolchain",
                Status::Missing,
                "none on PATH, in /usr/lib/go-1.*, $GOROOT or the toolchain cache",
            )
            .fix("crossmatrix toolchain install latest (or apt-get install golang-go)")
            .required(),
        ];
    }
    found
        .iter()
        .map(|t| {
            let source = match t.source {
                GoSource::Path => "PATH",
                GoSource::Debian => "Debian package",
                GoSource::GorootEnv => "$GOROOT",
                GoSource::Explicit => "given",
                GoSource::Cache => "installed by crossmatrix",
            };
            let mut c = Capability::new(
                Area::Go,
                format!("go {}", t.version),
                Status::Ok,
                format!("{} ({source}, {} ports)", t.goroot.display(), t.ports.len()),
            );
            if t.ports.is_empty() {
                c.status = Status::Degraded;
                c.detail.push_str(": `go tool dist list` failed");
            }
            c.required()
        })
        .collect()
}

/// The rootfs row for (GOARCH, flavor): cached or not; never downloads.
pub fn rootfs_capability(
    goarch: &str,
    flavor: RootfsFlavor,
    cached: Option<&Path>,
    have_apt: bool,
) -> Capability {
    let name = format!("rootfs linux/{goarch} {flavor}");
    match cached {
        Some(p) => Capability::new(Area::Rootfs, name, Status::Ok, format!("cached at {}", p.display())),
        None if have_apt => Capability::new(
            Area::Rootfs,
            name,
            Status::Degraded,
            format!(
                "not cached yet: assembled on first use from Debian's {} package (apt-get download; needs the Debian mirror)",
                flavor.package()
            ),
        ),
        None => Capability::new(
            Area::Rootfs,
            name,
            Status::Missing,
            "not cached, and apt-get/dpkg-deb are missing to assemble it: cgo cells on it fail with rootfs-unavailable",
        )
        .fix("apt-get install apt dpkg (a Debian or Ubuntu host), or pass --rootfs DIR"),
    }
}

/// Where [`check`] looks.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// crossmatrix's cache (`toolchains/` and `rootfs/` inside).
    pub cache_dir: PathBuf,
}

fn try_bwrap(bwrap: &Path) -> Result<(), String> {
    let mut cmd = Command::new(bwrap);
    cmd.args([
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/",
        "/",
        // As the sandbox does: a container's masked /proc refuses a new proc mount.
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "true",
    ]);
    command::run_checked(&mut cmd, BWRAP_TIMEOUT)
        .map(|_| ())
        .map_err(|e| match e {
            command::CommandError::Failed { stderr_tail, .. } => stderr_tail,
            other => other.to_string(),
        })
}

fn first_line_of(program: &Path, arg: &str) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.arg(arg);
    let out = command::run(&mut cmd, BWRAP_TIMEOUT).ok()?;
    out.stdout_str()
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// Looks at the host: runs `bwrap` once, `qemu-* --version` per arch, `go` per toolchain, and
/// reads binfmt_misc, sysctls and the cache. Downloads nothing. The wasm row is the caller's
/// (the embedded wasmtime lives in the runner).
pub fn check(opts: &CheckOptions) -> Report {
    let os = parse_os_release(&std::fs::read_to_string("/etc/os-release").unwrap_or_default());
    let host = host_goarch();
    let mut caps = Vec::new();

    let bwrap = which::which("bwrap").ok();
    let bwrap_run = bwrap.as_deref().map(try_bwrap);
    caps.push(match &bwrap {
        Some(p) => Capability::new(
            Area::Sandbox,
            "bubblewrap",
            Status::Ok,
            format!(
                "{} ({})",
                first_line_of(p, "--version").unwrap_or_else(|| "version unknown".into()),
                p.display()
            ),
        )
        .required(),
        None => Capability::new(
            Area::Sandbox,
            "bubblewrap",
            Status::Missing,
            "bwrap not on PATH",
        )
        .fix("apt-get install bubblewrap")
        .required(),
    });
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    caps.push(with_kubernetes_fix(
        userns_capability(bwrap_run.as_ref(), &UsernsSysctls::read(), &os, root),
        bwrap_run.as_ref(),
        in_kubernetes_pod(std::env::var_os("KUBERNETES_SERVICE_HOST").as_deref()),
    ));

    let binfmt = read_binfmt(Path::new(BINFMT_DIR));
    let qemus: BTreeMap<&str, Option<Qemu>> = LINUX_ARCHES
        .iter()
        .filter(|a| !runs_natively(host, a))
        .map(|a| (*a, find_qemu(a)))
        .collect();
    for arch in LINUX_ARCHES {
        if runs_natively(host, arch) {
            caps.push(Capability::new(
                Area::Qemu,
                format!("run linux/{arch}"),
                Status::Ok,
                format!("native on this {host} host"),
            ));
            continue;
        }
        let q = qemus.get(arch).and_then(Option::as_ref);
        caps.push(binfmt_capability(arch, &binfmt, q.is_some()));
        caps.push(qemu_capability(arch, q));
    }
    caps.push(counter_capability(crate::counter::Counter::find(None)));

    caps.extend(go_capabilities(&discover_go_in(
        &opts.cache_dir.join("toolchains"),
    )));

    for arch in DEFAULT_CGO_ARCHES {
        for libc in [Libc::Gnu, Libc::Musl] {
            let name = format!("cc linux/{arch} {libc}");
            caps.push(match pick_c_compiler(arch, libc) {
                Ok(cc) => Capability::new(
                    Area::CCompiler,
                    name,
                    Status::Ok,
                    if cc.cc.contains(&cc.why) {
                        cc.cc.clone()
                    } else {
                        format!("{} ({})", cc.cc, cc.why)
                    },
                ),
                Err(e) => Capability::new(
                    Area::CCompiler,
                    name,
                    Status::Missing,
                    "no C compiler: cgo=1 cells for it are skipped",
                )
                .fix(e.hint),
            });
        }
    }

    let store = RootfsStore::new(&opts.cache_dir.join("rootfs"));
    let have_apt = which::which("apt-get").is_ok() && which::which("dpkg-deb").is_ok();
    for arch in DEFAULT_CGO_ARCHES {
        for flavor in [RootfsFlavor::Glibc, RootfsFlavor::Musl] {
            let cached = store.cached(arch, flavor);
            caps.push(rootfs_capability(arch, flavor, cached.as_deref(), have_apt));
        }
    }

    Report {
        os,
        host_goarch: host.to_string(),
        capabilities: caps,
    }
}

fn runs_natively(host: &str, goarch: &str) -> bool {
    goarch == host || (host == "amd64" && goarch == "386")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binfmt::parse_entry;

    #[test]
    fn sysctl_ints() {
        assert_eq!(parse_sysctl_int("1\n"), Some(1));
        assert_eq!(parse_sysctl_int(" 0 "), Some(0));
        assert_eq!(parse_sysctl_int(""), None);
        assert_eq!(parse_sysctl_int("x"), None);
    }

    #[test]
    fn userns_rows() {
        let ubuntu = parse_os_release("ID=ubuntu\nVERSION_ID=\"24.04\"\n");
        let restricted = UsernsSysctls {
            apparmor_restrict: Some(true),
            ..Default::default()
        };
        let failed: Result<(), String> = Err("bwrap: setting up uid map: Permission denied".into());
        let c = userns_capability(Some(&failed), &restricted, &ubuntu, false);
        assert_eq!(c.status, Status::Missing);
        assert!(c.required);
        assert!(c.detail.contains("AppArmor"), "{}", c.detail);
        assert!(
            c.fix
                .as_deref()
                .unwrap()
                .contains("apparmor_restrict_unprivileged_userns=0")
        );

        let ok: Result<(), String> = Ok(());
        let c = userns_capability(Some(&ok), &restricted, &ubuntu, true);
        assert_eq!(c.status, Status::Ok);
        assert!(c.detail.contains("other users"), "{}", c.detail);

        // No sysctl file but Ubuntu 24.04: still the AppArmor advice.
        let c = userns_capability(Some(&failed), &UsernsSysctls::default(), &ubuntu, false);
        assert!(c.fix.unwrap().contains("apparmor"));
        let debian = parse_os_release("ID=debian\nVERSION_ID=\"12\"\n");
        let off = UsernsSysctls {
            unprivileged_clone: Some(false),
            ..Default::default()
        };
        let c = userns_capability(None, &off, &debian, false);
        assert_eq!(c.status, Status::Missing);
        assert!(c.fix.unwrap().contains("unprivileged_userns_clone=1"));
        let c = userns_capability(None, &UsernsSysctls::default(), &debian, false);
        assert_eq!(c.status, Status::Degraded);
    }

    #[test]
    fn kubernetes_pod_rows_name_the_pod_security_setting() {
        use std::ffi::OsStr;
        assert!(in_kubernetes_pod(Some(OsStr::new("10.96.0.1"))));
        assert!(!in_kubernetes_pod(Some(OsStr::new(""))));
        assert!(!in_kubernetes_pod(None));

        let fix = kubernetes_sandbox_fix(
            "bwrap: Can't mount proc on /newroot/proc: Operation not permitted",
        );
        assert!(fix.contains("procMount: Unmasked"), "{fix}");
        assert!(fix.contains("hostUsers: false"), "{fix}");
        let fix = kubernetes_sandbox_fix(
            "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged user namespaces.",
        );
        assert!(
            fix.starts_with("in a Kubernetes pod: the pod may not create user namespaces"),
            "{fix}"
        );
        assert!(fix.contains("seccompProfile.type: Unconfined"), "{fix}");
        let fix = kubernetes_sandbox_fix("bwrap: Failed to mount tmpfs: Permission denied");
        assert!(fix.contains("appArmorProfile.type: Unconfined"), "{fix}");
        let fix = kubernetes_sandbox_fix("something else");
        assert!(fix.contains("cannot start its sandbox"), "{fix}");
        assert!(fix.contains("run crossmatrix on a VM"), "{fix}");

        let debian = parse_os_release("ID=debian\nVERSION_ID=\"12\"\n");
        let failed: Result<(), String> =
            Err("bwrap: Can't mount proc on /newroot/proc: Operation not permitted".into());
        let row = userns_capability(Some(&failed), &UsernsSysctls::default(), &debian, false);
        let generic = row.fix.clone();
        let in_pod = with_kubernetes_fix(row.clone(), Some(&failed), true);
        assert_eq!(in_pod.status, Status::Missing);
        assert!(in_pod.fix.as_deref().unwrap().contains("procMount"));
        // Outside a pod, or when bwrap worked, the row is left as it was.
        assert_eq!(
            with_kubernetes_fix(row.clone(), Some(&failed), false).fix,
            generic
        );
        let ok: Result<(), String> = Ok(());
        let works = userns_capability(Some(&ok), &UsernsSysctls::default(), &debian, false);
        assert_eq!(with_kubernetes_fix(works.clone(), Some(&ok), true), works);
    }

    #[test]
    fn binfmt_rows_check_the_f_flag() {
        let pf = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";
        let p = "enabled\ninterpreter /usr/bin/qemu-riscv64\nflags: P\noffset 0\nmagic 7f454c460201010000000000000000000200f300\nmask ffffffffffffff00fffffffffffffffffeffffff\n";
        let st = BinfmtStatus {
            available: true,
            entries: vec![
                parse_entry("qemu-aarch64", pf).unwrap(),
                parse_entry("qemu-riscv64", p).unwrap(),
            ],
        };
        let c = binfmt_capability("arm64", &st, true);
        assert_eq!(c.status, Status::Ok);
        assert!(c.detail.contains("flags PF"), "{}", c.detail);
        let c = binfmt_capability("riscv64", &st, true);
        assert_eq!(c.status, Status::Degraded);
        assert!(c.detail.contains("no F flag"), "{}", c.detail);
        assert!(c.fix.is_some());
        let c = binfmt_capability("riscv64", &st, false);
        assert_eq!(c.status, Status::Missing);
        let c = binfmt_capability("s390x", &st, true);
        assert_eq!(c.status, Status::Degraded);
        assert!(c.fix.unwrap().contains("qemu-user-static"));
        let off = BinfmtStatus::default();
        let c = binfmt_capability("arm64", &off, true);
        assert!(c.fix.unwrap().contains("mount -t binfmt_misc"));
        assert!(!c.required);
    }

    #[test]
    fn qemu_go_rootfs_rows() {
        let q = Qemu {
            path: PathBuf::from("/usr/bin/qemu-aarch64-static"),
            version: "7.2.22".into(),
        };
        let c = qemu_capability("arm64", Some(&q));
        assert_eq!(
            (c.status, c.detail.as_str()),
            (Status::Ok, "/usr/bin/qemu-aarch64-static 7.2.22")
        );
        let c = qemu_capability("s390x", None);
        assert_eq!(c.status, Status::Missing);
        assert!(c.detail.contains("qemu-s390x-static"));

        let none = go_capabilities(&[]);
        assert_eq!(none.len(), 1);
        assert!(none[0].required && none[0].status == Status::Missing);
        let report = Report {
            os: OsRelease::default(),
            host_goarch: "amd64".into(),
            capabilities: none,
        };
        assert!(!report.default_matrix_runs());
        let tc = GoToolchain {
            version: "go1.24.4".into(),
            goroot: PathBuf::from("/usr/lib/go-1.24"),
            go: PathBuf::from("/usr/lib/go-1.24/bin/go"),
            source: GoSource::Cache,
            ports: vec!["linux/amd64".into()],
        };
        let rows = go_capabilities(&[tc]);
        assert_eq!(rows[0].status, Status::Ok);
        assert!(rows[0].detail.contains("installed by crossmatrix"));
        let report = Report {
            os: OsRelease::default(),
            host_goarch: "amd64".into(),
            capabilities: rows,
        };
        assert!(report.default_matrix_runs());

        let c = rootfs_capability("arm64", RootfsFlavor::Musl, None, true);
        assert_eq!(c.status, Status::Degraded);
        let c = rootfs_capability("arm64", RootfsFlavor::Musl, None, false);
        assert_eq!(c.status, Status::Missing);
        let c = rootfs_capability("arm64", RootfsFlavor::Glibc, Some(Path::new("/c/x")), false);
        assert_eq!(c.status, Status::Ok);
    }

    #[test]
    fn the_counter_is_optional_and_says_how_to_install_it() {
        let c = counter_capability(Ok(None));
        assert_eq!(c.status, Status::Missing);
        assert!(!c.required);
        assert_eq!(c.fix.as_deref(), Some("ci/host-setup --counter"));
        let c = counter_capability(Err(crate::counter::CounterError(
            "no counting qemu in /x".into(),
        )));
        assert!(c.detail.contains("/x"), "{c:?}");
    }

    #[test]
    fn rootfs_cached_reads_latest_without_apt() {
        let d = tempfile::tempdir().unwrap();
        let store = RootfsStore::new(d.path());
        assert_eq!(store.cached("arm64", RootfsFlavor::Musl), None);
        std::fs::write(d.path().join("arm64-musl.latest"), "arm64-musl-abc\n").unwrap();
        assert_eq!(
            store.cached("arm64", RootfsFlavor::Musl),
            None,
            "no loader yet"
        );
        std::fs::create_dir_all(d.path().join("arm64-musl-abc/lib")).unwrap();
        std::fs::write(d.path().join("arm64-musl-abc/lib/ld-musl-aarch64.so.1"), "").unwrap();
        assert_eq!(
            store.cached("arm64", RootfsFlavor::Musl),
            Some(d.path().join("arm64-musl-abc"))
        );
    }
}
