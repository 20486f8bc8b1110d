//! The bubblewrap sandbox every build and run goes through: rootless, every namespace
//! unshared (no network), an empty tmpfs root with only what the step needs bound in, a clean
//! environment, and the whole tree dying with its parent.

use crate::limits::{ResourceControl, StepGroup, StepLimits};
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// What to see inside a sandbox, and how.
#[derive(Debug, Clone)]
enum Mount {
    Ro(PathBuf, PathBuf),
    Rw(PathBuf, PathBuf),
    Symlink(PathBuf, PathBuf),
    /// A tmpfs, capped at the given size in bytes when set.
    Tmpfs(PathBuf, Option<u64>),
    Dir(PathBuf),
}

/// The host's program and library directories [`Sandbox::host_programs`] shows (those that
/// exist), at their own paths.
pub const HOST_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// A sandbox description; `command()` turns it into a `bwrap` invocation.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    mounts: Vec<Mount>,
    env: Vec<(String, String)>,
    chdir: Option<PathBuf>,
    share_net: bool,
    limits: Option<Limits>,
    /// Size cap of the private `/tmp` (a tmpfs: memory, so it is always capped); `None`: no
    /// `/tmp` at all, as in a `FROM scratch` container.
    tmp_bytes: Option<u64>,
    as_pid_1: bool,
    group: Option<Arc<StepGroup>>,
}

/// Size cap of `/tmp` unless [`Sandbox::tmp_size`] says otherwise: builds keep their work
/// dirs there.
pub const DEFAULT_TMP_BYTES: u64 = 4 << 30;
/// Size cap of `/dev/shm`.
const SHM_BYTES: u64 = 64 << 20;

/// rlimits for a sandboxed step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file the step may write (RLIMIT_FSIZE), in bytes.
    pub file_size: u64,
    /// Core dumps (RLIMIT_CORE); 0 disables them.
    pub core: u64,
    /// Open files (RLIMIT_NOFILE).
    pub open_files: u64,
    /// Private writable memory (RLIMIT_DATA), when no cgroup limits memory.
    pub data: Option<u64>,
    /// Tasks of the uid (RLIMIT_NPROC), when no cgroup limits pids.
    pub nproc: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            file_size: 1 << 30,
            core: 0,
            open_files: 4096,
            data: None,
            nproc: None,
        }
    }
}

impl Limits {
    fn apply(&self) -> std::io::Result<()> {
        let optional = [
            (libc::RLIMIT_DATA, self.data),
            (libc::RLIMIT_NPROC, self.nproc),
        ];
        let set = [
            (libc::RLIMIT_FSIZE, self.file_size),
            (libc::RLIMIT_CORE, self.core),
            (libc::RLIMIT_NOFILE, self.open_files),
        ]
        .into_iter()
        .chain(optional.into_iter().filter_map(|(r, v)| Some((r, v?))));
        for (resource, value) in set {
            let lim = libc::rlimit {
                rlim_cur: value as libc::rlim_t,
                rlim_max: value as libc::rlim_t,
            };
            // SAFETY: setrlimit with a valid pointer to a local struct; async-signal-safe.
            if unsafe { libc::setrlimit(resource, &lim) } != 0 {
                // Lowering below the current hard limit always works; raising may not: keep
                // the host's lower limit then.
                let mut cur = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: as above.
                unsafe { libc::getrlimit(resource, &mut cur) };
                if cur.rlim_max > lim.rlim_max {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
}

impl Sandbox {
    pub fn new(bwrap: impl Into<PathBuf>) -> Sandbox {
        Sandbox {
            bwrap: bwrap.into(),
            mounts: Vec::new(),
            env: Vec::new(),
            chdir: None,
            share_net: false,
            as_pid_1: false,
            tmp_bytes: Some(DEFAULT_TMP_BYTES),
            limits: None,
            group: None,
        }
    }

    /// Binds `src` read-only at `dest`.
    pub fn ro(mut self, src: impl Into<PathBuf>, dest: impl Into<PathBuf>) -> Self {
        self.mounts.push(Mount::Ro(src.into(), dest.into()));
        self
    }

    /// Binds `src` read-write at `dest`.
    pub fn rw(mut self, src: impl Into<PathBuf>, dest: impl Into<PathBuf>) -> Self {
        self.mounts.push(Mount::Rw(src.into(), dest.into()));
        self
    }

    pub fn symlink(mut self, target: impl Into<PathBuf>, at: impl Into<PathBuf>) -> Self {
        self.mounts.push(Mount::Symlink(target.into(), at.into()));
        self
    }

    pub fn tmpfs(mut self, at: impl Into<PathBuf>) -> Self {
        self.mounts.push(Mount::Tmpfs(at.into(), None));
        self
    }

    /// Caps the sandbox's private `/tmp` at `bytes`.
    pub fn tmp_size(mut self, bytes: u64) -> Self {
        self.tmp_bytes = Some(bytes);
        self
    }

    /// No `/tmp`: the root the program runs in has none (a `FROM scratch` image).
    pub fn without_tmp(mut self) -> Self {
        self.tmp_bytes = None;
        self
    }

    /// A tmpfs capped at `bytes`: a program that fills it gets ENOSPC, not the host's disk.
    pub fn tmpfs_sized(mut self, at: impl Into<PathBuf>, bytes: u64) -> Self {
        self.mounts.push(Mount::Tmpfs(at.into(), Some(bytes)));
        self
    }

    /// Resource limits set on bwrap before it starts, inherited by everything in the sandbox.
    pub fn limits(mut self, mut limits: Limits) -> Self {
        if let Some(old) = self.limits {
            // Keep what `resources` chose.
            limits.data = limits.data.or(old.data);
            limits.nproc = limits.nproc.or(old.nproc);
        }
        self.limits = Some(limits);
        self
    }

    /// Runs the command as the pid namespace's init instead of under bubblewrap's own. Its CPU
    /// time then reaches our `RUSAGE_CHILDREN` (bubblewrap's init is never waited for, so what
    /// runs under it is missing from the run's accounting). Only for commands that wait for
    /// their children and do not rely on signal defaults — `go build`, the startup timer — never
    /// for the user's program itself (pid 1 ignores default-action signals).
    pub fn as_pid_1(mut self) -> Self {
        self.as_pid_1 = true;
        self
    }

    /// Memory and task limits for the whole tree: a cgroup where the host allows one, else
    /// rlimits (see [`ResourceControl::describe`]). Call after [`Sandbox::limits`].
    pub fn resources(self, limits: StepLimits) -> Self {
        self.resources_with(ResourceControl::host(), limits)
    }

    /// [`Sandbox::resources`] with an explicit mechanism (tests).
    pub fn resources_with(mut self, rc: &ResourceControl, limits: StepLimits) -> Self {
        let e = rc.step(limits);
        let mut l = self.limits.unwrap_or_default();
        l.data = e.data;
        l.nproc = e.nproc;
        self.limits = Some(l);
        self.group = e.group;
        self
    }

    /// Processes the kernel's OOM killer killed in this sandbox's cgroup so far (0 without one).
    pub fn oom_kills(&self) -> u64 {
        self.group.as_ref().map_or(0, |g| g.oom_kills())
    }

    pub fn dir(mut self, at: impl Into<PathBuf>) -> Self {
        self.mounts.push(Mount::Dir(at.into()));
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Keeps the host's network (for `crossmatrix fetch` only: builds and runs never have it).
    pub fn network(mut self) -> Self {
        self.share_net = true;
        self
    }

    pub fn chdir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.chdir = Some(dir.into());
        self
    }

    /// Binds the host's system directories (`/usr`, `/bin`, `/lib*`, `/sbin`) read-only,
    /// keeping usr-merge symlinks as symlinks, so host programs (go, zig, crossmatrix) run.
    pub fn host_system(mut self) -> Self {
        self = self.host_programs();
        // The dynamic linker cache, so host programs find their libraries fast.
        if Path::new("/etc/ld.so.cache").exists() {
            self = self.ro("/etc/ld.so.cache", "/etc/ld.so.cache");
        }
        self
    }

    /// The host's program and library directories (`/usr`, `/bin`, `/lib`…) read-only at
    /// their own paths, symlinks recreated; no `/etc`.
    pub fn host_programs(mut self) -> Self {
        for top in HOST_DIRS {
            self = self.mirror(Path::new(top), Path::new(top));
        }
        self
    }

    /// Makes the top level of `root` the top level of the sandbox: every entry is bound
    /// read-only (symlinks recreated), so further mounts can still be added beside them.
    pub fn root_from(mut self, root: &Path) -> std::io::Result<Self> {
        let mut entries: Vec<_> = std::fs::read_dir(root)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            if name == "proc" || name == "dev" || name == "tmp" {
                continue;
            }
            self = self.mirror(&e.path(), &Path::new("/").join(&name));
        }
        Ok(self)
    }

    fn mirror(self, src: &Path, dest: &Path) -> Self {
        match std::fs::symlink_metadata(src) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(src) {
                Ok(target) => self.symlink(target, dest),
                Err(_) => self,
            },
            Ok(_) => self.ro(src, dest),
            Err(_) => self,
        }
    }

    /// The `bwrap` command that runs `argv` in this sandbox, with its `--info-fd` pipe.
    pub fn command(&self, argv: &[OsString]) -> crate::process::Spawn {
        // Without --as-pid-1 the program runs under bwrap's own init, which bwrap does not
        // wait for: ask bwrap for the init's pid so that it can be reaped (and its CPU
        // counted; see `process::become_subreaper`).
        let info_fd = if self.as_pid_1 { None } else { info_pipe() };
        let info_write = info_fd.as_ref().map(|p| p.write.as_raw_fd());
        let mut c = Command::new(&self.bwrap);
        c.args(self.args());
        if let Some(fd) = info_write {
            c.arg("--info-fd").arg(fd.to_string());
        }
        c.arg("--");
        c.args(argv);
        c.env_clear();
        let limits = self.limits;
        let group = self.group.clone();
        {
            // SAFETY: the closure only calls setrlimit/getrlimit, close_range, fcntl and
            // open/write/close, which are async-signal-safe; it allocates nothing.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut c, move || {
                    // Only stdio (and bwrap's info pipe) cross into the sandbox: descriptors
                    // crossmatrix itself inherited without close-on-exec (a CI runner's pipes,
                    // a shell's) must not reach the program.
                    cloexec_from_3();
                    if let Some(fd) = info_write {
                        // Keep the info pipe's write end open across exec (in this child only).
                        if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    if let Some(g) = &group {
                        g.join_from_child()?;
                    }
                    match limits {
                        Some(l) => l.apply(),
                        None => Ok(()),
                    }
                });
            }
        }
        crate::process::Spawn::with_info(c, info_fd)
    }

    /// bwrap's arguments (without the command): public for tests and `--dry-run` style output.
    /// (The `--info-fd` that [`Sandbox::command`] adds is not among them: it differs per spawn.)
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |s: &str| a.push(s.into());
        push("--unshare-all");
        if self.share_net {
            push("--share-net");
        }
        push("--die-with-parent");
        if self.as_pid_1 {
            push("--as-pid-1");
        }
        push("--new-session");
        push("--cap-drop");
        push("ALL");
        push("--tmpfs");
        push("/");
        push("--proc");
        push("/proc");
        push("--dev");
        push("/dev");
        // Every writable tmpfs is memory: each is capped, and the rest is read-only.
        a.push("--size".into());
        a.push(SHM_BYTES.to_string().into());
        a.push("--tmpfs".into());
        a.push("/dev/shm".into());
        a.push("--remount-ro".into());
        a.push("/dev".into());
        if let Some(bytes) = self.tmp_bytes {
            a.push("--size".into());
            a.push(bytes.to_string().into());
            a.push("--tmpfs".into());
            a.push("/tmp".into());
        }
        a.push("--clearenv".into());
        for m in &self.mounts {
            match m {
                Mount::Ro(s, d) => {
                    a.push("--ro-bind".into());
                    a.push(s.into());
                    a.push(d.into());
                }
                Mount::Rw(s, d) => {
                    a.push("--bind".into());
                    a.push(s.into());
                    a.push(d.into());
                }
                Mount::Symlink(t, at) => {
                    a.push("--symlink".into());
                    a.push(t.into());
                    a.push(at.into());
                }
                Mount::Tmpfs(at, size) => {
                    if let Some(bytes) = size {
                        a.push("--size".into());
                        a.push(bytes.to_string().into());
                    }
                    a.push("--tmpfs".into());
                    a.push(at.into());
                }
                Mount::Dir(at) => {
                    a.push("--dir".into());
                    a.push(at.into());
                }
            }
        }
        // The root tmpfs only holds mount points: nothing may be written beside them.
        a.push("--remount-ro".into());
        a.push("/".into());
        for (k, v) in &self.env {
            a.push("--setenv".into());
            a.push(k.into());
            a.push(v.into());
        }
        if let Some(d) = &self.chdir {
            a.push("--chdir".into());
            a.push(d.into());
        }
        a
    }
}

/// Marks every descriptor from 3 up close-on-exec (between fork and exec: async-signal-safe
/// calls only). `close_range` where the kernel has it (5.11+), else one `fcntl` per possible
/// descriptor up to the soft `RLIMIT_NOFILE` (at most 65536).
fn cloexec_from_3() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: raw syscalls on descriptor numbers; failures are handled by the fallback.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) == 0 {
            return;
        }
        let mut rl: libc::rlimit = std::mem::zeroed();
        let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 {
            rl.rlim_cur.min(65536) as i32
        } else {
            1024
        };
        for fd in 3..max {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// A close-on-exec pipe for bwrap's `--info-fd`; `None` if the host is out of descriptors
/// (then the init is not reaped, which only loses its CPU from the accounting).
fn info_pipe() -> Option<crate::process::InfoPipe> {
    let (read, write) = crate::process::pipe_pair().ok()?;
    Some(crate::process::InfoPipe { read, write })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_isolating_arguments() {
        let sb = Sandbox::new("bwrap")
            .ro("/src", "/work")
            .rw("/c", "/cache")
            .env("A", "1")
            .chdir("/work");
        let args: Vec<String> = sb
            .args()
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(
            joined.starts_with(
                "--unshare-all --die-with-parent --new-session --cap-drop ALL --tmpfs /"
            )
        );
        assert!(joined.contains("--ro-bind /src /work"));
        assert!(joined.contains("--bind /c /cache"));
        assert!(joined.contains("--clearenv"));
        assert!(joined.contains("--setenv A 1"));
        assert!(joined.ends_with("--chdir /work"));
        assert!(joined.contains("--remount-ro / "), "{joined}");
        assert!(joined.contains("--remount-ro /dev"), "{joined}");
        assert!(!joined.contains("--share-net"));
    }

    #[test]
    fn root_from_mirrors_top_level_entries() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("usr/lib", d.path().join("lib")).unwrap();
        std::fs::create_dir(d.path().join("proc")).unwrap();
        let sb = Sandbox::new("bwrap").root_from(d.path()).unwrap();
        let joined: Vec<String> = sb
            .args()
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        let joined = joined.join(" ");
        assert!(joined.contains(&format!("--ro-bind {}/etc /etc", d.path().display())));
        assert!(joined.contains("--symlink usr/lib /lib"));
        assert!(
            !joined.contains("/proc /proc --")
                || !joined.contains(&format!("{}/proc", d.path().display()))
        );
    }
}
