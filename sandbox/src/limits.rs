//! Memory and task (pids) limits of sandboxed steps: a cgroup per step where this process may
//! create one (cgroup v2 with the controllers delegated, or cgroup v1 as root), else rlimits
//! (`RLIMIT_DATA`, `RLIMIT_NPROC`), with what that fallback cannot do said by [`ResourceControl::describe`].

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Headroom added to the memory limit when it is enforced with `RLIMIT_DATA`: qemu-user maps
/// its translation buffer (≈130 MiB on 7.2) as private writable memory, which counts. Measured:
/// a Go hello world under qemu-aarch64 7.2 needs `RLIMIT_DATA` ≥ 224 MiB, natively ≥ 64 MiB.
pub const RLIMIT_DATA_HEADROOM: u64 = 256 << 20;

/// The memory and task limits of one step; `None` leaves that resource unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepLimits {
    /// Bytes of memory for the whole process tree (with cgroups: RSS + page cache + tmpfs).
    pub memory: Option<u64>,
    /// Tasks (processes and threads) alive at once in the process tree.
    pub pids: Option<u64>,
}

/// How one resource is limited on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A child cgroup of this directory (the unified hierarchy), `memory.max` / `pids.max`.
    CgroupV2(PathBuf),
    /// A child cgroup of this directory of the controller's v1 hierarchy,
    /// `memory.limit_in_bytes` / `pids.max`.
    CgroupV1(PathBuf),
    /// rlimits only: `RLIMIT_DATA` for memory, `RLIMIT_NPROC` for tasks.
    Rlimit,
}

impl Via {
    fn cgroup_parent(&self) -> Option<&Path> {
        match self {
            Via::CgroupV2(p) | Via::CgroupV1(p) => Some(p),
            Via::Rlimit => None,
        }
    }

    /// Short name for `doctor` and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Via::CgroupV2(_) => "cgroup v2",
            Via::CgroupV1(_) => "cgroup v1",
            Via::Rlimit => "rlimit",
        }
    }
}

/// How this host enforces step limits; probed once per process ([`ResourceControl::host`]).
#[derive(Debug, Clone)]
pub struct ResourceControl {
    pub memory: Via,
    pub pids: Via,
    /// Why cgroups are not used, when they are not.
    pub cgroup_note: Option<String>,
    uid: u32,
}

impl ResourceControl {
    /// The host's resource control, probed on first use.
    pub fn host() -> &'static ResourceControl {
        static HOST: OnceLock<ResourceControl> = OnceLock::new();
        HOST.get_or_init(ResourceControl::detect)
    }

    /// Only rlimits: for tests, and for hosts where cgroups misbehave.
    pub fn rlimits_only() -> ResourceControl {
        ResourceControl {
            memory: Via::Rlimit,
            pids: Via::Rlimit,
            cgroup_note: None,
            // SAFETY: getuid cannot fail.
            uid: unsafe { libc::getuid() },
        }
    }

    /// Looks for a cgroup this process can create children in, and checks that it can move a
    /// process into one (a real `true` run), per controller.
    pub fn detect() -> ResourceControl {
        let mut rc = ResourceControl::rlimits_only();
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mounts = parse_mountinfo(&mountinfo);
        let mut notes = Vec::new();
        // cgroup v2 with both controllers enabled for our children.
        if let Some(dir) = v2_dir(&mounts, &own) {
            match usable_v2(&dir) {
                Ok(()) => {
                    rc.memory = Via::CgroupV2(dir.clone());
                    rc.pids = Via::CgroupV2(dir);
                    return rc;
                }
                Err(e) => notes.push(format!("cgroup v2 at {}: {e}", dir.display())),
            }
        }
        for controller in ["memory", "pids"] {
            let Some(dir) = v1_dir(&mounts, &own, controller) else {
                continue;
            };
            match usable(&Via::CgroupV1(dir.clone()), controller) {
                Ok(()) => {
                    let via = Via::CgroupV1(dir);
                    if controller == "memory" {
                        rc.memory = via;
                    } else {
                        rc.pids = via;
                    }
                }
                Err(e) => notes.push(format!("cgroup v1 {controller} at {}: {e}", dir.display())),
            }
        }
        for via in [&rc.memory, &rc.pids] {
            if let Some(parent) = via.cgroup_parent() {
                sweep_stale(parent);
            }
        }
        if rc.memory == Via::Rlimit || rc.pids == Via::Rlimit {
            if notes.is_empty() {
                notes.push("no cgroup hierarchy with the memory/pids controllers was found".into());
            }
            rc.cgroup_note = Some(notes.join("; "));
        }
        rc
    }

    /// One line for `doctor`: which mechanism enforces what, and what the fallback lacks.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("memory via {}", self.memory.label()),
            format!("pids via {}", self.pids.label()),
        ];
        if self.memory == Via::Rlimit {
            parts.push(format!(
                "RLIMIT_DATA = --memory + {} MiB (qemu's translation buffer counts), so a program gets `out of memory` rather than the OOM killer",
                RLIMIT_DATA_HEADROOM >> 20
            ));
        }
        if self.pids == Via::Rlimit {
            if self.uid == 0 {
                parts.push("RLIMIT_NPROC does not apply to root: as root without cgroups a fork bomb is stopped only by the timeout".into());
            } else {
                parts.push("RLIMIT_NPROC counts every task of this uid, so it is set to the uid's current tasks + --pids".into());
            }
        }
        if let Some(n) = &self.cgroup_note {
            parts.push(format!("cgroups unused: {n}"));
        }
        parts.join("; ")
    }

    /// Whether both resources have a real per-step cgroup.
    pub fn uses_cgroups(&self) -> bool {
        self.memory != Via::Rlimit && self.pids != Via::Rlimit
    }

    /// Sets up the limits of one step: a cgroup for what cgroups enforce, and the rlimits
    /// (`data`, `nproc`) to set for the rest. A cgroup that cannot be created falls back to
    /// rlimits for that step.
    pub fn step(&self, limits: StepLimits) -> Enforcement {
        let mut e = Enforcement::default();
        if limits == StepLimits::default() {
            return e;
        }
        let mut dirs: Vec<(PathBuf, bool)> = Vec::new();
        let mut oom_events = None;
        let mut rlimit_memory = limits.memory;
        let mut rlimit_pids = limits.pids;
        // One child per distinct parent (v2: one for both; v1: one per controller).
        let want = [
            (limits.memory, &self.memory, "memory"),
            (limits.pids, &self.pids, "pids"),
        ];
        for (value, via, controller) in want {
            let (Some(value), Some(parent)) = (value, via.cgroup_parent()) else {
                continue;
            };
            let v2 = matches!(via, Via::CgroupV2(_));
            let existing = dirs.iter().find(|(d, _)| d.parent() == Some(parent));
            let dir = match existing {
                Some((d, _)) => d.clone(),
                None => match create_child(parent) {
                    Ok(d) => {
                        dirs.push((d.clone(), v2));
                        d
                    }
                    Err(_) => continue,
                },
            };
            let ok = match (controller, v2) {
                ("memory", true) => write(&dir.join("memory.max"), value)
                    .and_then(|_| write_str(&dir.join("memory.swap.max"), "0").or(Ok(()))),
                ("memory", false) => write(&dir.join("memory.limit_in_bytes"), value),
                _ => write(&dir.join("pids.max"), value),
            }
            .is_ok();
            if !ok {
                continue;
            }
            if controller == "memory" {
                rlimit_memory = None;
                oom_events = Some(if v2 {
                    dir.join("memory.events")
                } else {
                    dir.join("memory.oom_control")
                });
            } else {
                rlimit_pids = None;
            }
        }
        e.data = rlimit_memory.map(|m| m.saturating_add(RLIMIT_DATA_HEADROOM));
        // RLIMIT_NPROC is checked against every task of the uid, in every user namespace up
        // to the host's: leave room for what the uid already runs. Root ignores it anyway.
        if self.uid != 0 {
            e.nproc = rlimit_pids.map(|p| p.saturating_add(tasks_of_uid(self.uid)));
        }
        if !dirs.is_empty() {
            e.group = Some(Arc::new(StepGroup {
                procs: dirs
                    .iter()
                    .filter_map(|(d, _)| cstring(&d.join("cgroup.procs")))
                    .collect(),
                dirs: dirs.into_iter().map(|(d, _)| d).collect(),
                oom_events,
            }));
        }
        e
    }
}

/// What a step needs set: the rlimits of the fallback, and the cgroup to join.
#[derive(Debug, Clone, Default)]
pub struct Enforcement {
    /// RLIMIT_DATA, bytes.
    pub data: Option<u64>,
    /// RLIMIT_NPROC.
    pub nproc: Option<u64>,
    pub group: Option<Arc<StepGroup>>,
}

/// The cgroup(s) of one step. Dropping it kills whatever is left in them and removes them.
#[derive(Debug)]
pub struct StepGroup {
    dirs: Vec<PathBuf>,
    /// `cgroup.procs` of each dir, ready for the child's `pre_exec`.
    procs: Vec<CString>,
    /// `memory.events` (v2) or `memory.oom_control` (v1): holds the `oom_kill` counter.
    oom_events: Option<PathBuf>,
}

impl StepGroup {
    /// Moves the calling process into the group. Runs between fork and exec: only
    /// async-signal-safe calls (open, write, close).
    pub fn join_from_child(&self) -> io::Result<()> {
        for p in &self.procs {
            // SAFETY: a NUL-terminated path built before fork; a stack buffer.
            unsafe {
                let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = io::Error::last_os_error();
                libc::close(fd);
                if n != 1 {
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    /// How many processes the kernel's OOM killer has killed in this group so far.
    pub fn oom_kills(&self) -> u64 {
        self.oom_events
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| parse_oom_kill(&t))
            .unwrap_or(0)
    }

    /// The processes in the group now (normally none once a step has ended: the pid namespace
    /// takes everything with it).
    pub fn pids(&self) -> Vec<i32> {
        let mut all = Vec::new();
        for d in &self.dirs {
            if let Ok(t) = std::fs::read_to_string(d.join("cgroup.procs")) {
                all.extend(t.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        all.sort_unstable();
        all.dedup();
        all
    }
}

impl Drop for StepGroup {
    fn drop(&mut self) {
        for attempt in 0..50 {
            let left = self.pids();
            for pid in &left {
                // SAFETY: kill(2) on pids read from the group's own cgroup.procs.
                unsafe { libc::kill(*pid, libc::SIGKILL) };
            }
            self.dirs
                .retain(|d| std::fs::remove_dir(d).is_err() && d.exists());
            if self.dirs.is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(if attempt < 10 { 5 } else { 40 }));
        }
    }
}

/// Removes the step cgroups of crossmatrix processes that no longer exist (killed with
/// SIGKILL, so their `StepGroup`s were never dropped). Only empty ones go: rmdir refuses others.
fn sweep_stale(parent: &Path) {
    let Ok(rd) = std::fs::read_dir(parent) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("crossmatrix-"))
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

fn cstring(p: &Path) -> Option<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).ok()
}

fn write(p: &Path, v: u64) -> io::Result<()> {
    write_str(p, &v.to_string())
}

fn write_str(p: &Path, v: &str) -> io::Result<()> {
    std::fs::write(p, v)
}

/// A fresh child cgroup of `parent`, named after this process.
fn create_child(parent: &Path) -> io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = parent.join(format!(
        "crossmatrix-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

/// Checks a v2 dir: controllers enabled for children (enabling them if allowed), then a real
/// process moved into a child.
fn usable_v2(dir: &Path) -> Result<(), String> {
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers"))
        .map_err(|e| format!("cannot read cgroup.controllers: {e}"))?;
    for c in ["memory", "pids"] {
        if !controllers.split_whitespace().any(|x| x == c) {
            return Err(format!("the {c} controller is not delegated here"));
        }
    }
    let subtree = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let enabled = |c: &str| subtree.split_whitespace().any(|x| x == c);
    if !(enabled("memory") && enabled("pids")) {
        write_str(&dir.join("cgroup.subtree_control"), "+memory +pids").map_err(|e| {
            format!("cannot enable memory and pids for child cgroups ({e}); run under `systemd-run --user --scope -p Delegate=yes` or as root")
        })?;
    }
    usable(&Via::CgroupV2(dir.to_path_buf()), "pids")
}

/// Creates a child with a limit and runs `/bin/true` in it.
fn usable(via: &Via, controller: &str) -> Result<(), String> {
    let Some(parent) = via.cgroup_parent() else {
        return Err("not a cgroup".into());
    };
    let dir = create_child(parent).map_err(|e| format!("cannot create a child cgroup: {e}"))?;
    let group = StepGroup {
        procs: cstring(&dir.join("cgroup.procs")).into_iter().collect(),
        dirs: vec![dir.clone()],
        oom_events: None,
    };
    let (file, value) = match (controller, via) {
        ("memory", Via::CgroupV1(_)) => ("memory.limit_in_bytes", 1 << 30),
        ("memory", _) => ("memory.max", 1 << 30),
        _ => ("pids.max", 1024),
    };
    write(&dir.join(file), value).map_err(|e| format!("cannot write {file}: {e}"))?;
    let g = Arc::new(group);
    let g2 = Arc::clone(&g);
    let mut cmd = std::process::Command::new("true");
    // SAFETY: join_from_child only does open/write/close.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || g2.join_from_child());
    }
    let f = crate::process::run_captured(
        cmd,
        std::time::Duration::from_secs(10),
        &crate::Abort::default(),
    )
    .map_err(|e| format!("cannot move a process into a child cgroup: {e}"))?;
    if f.code() != Some(0) {
        return Err(format!("a process in a child cgroup failed: {:?}", f.end));
    }
    Ok(())
}

struct Mount {
    root: String,
    point: PathBuf,
    fstype: String,
    super_opts: String,
}

fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let f: Vec<&str> = pre.split(' ').collect();
            let g: Vec<&str> = post.split(' ').collect();
            Some(Mount {
                root: f.get(3)?.to_string(),
                point: PathBuf::from(unescape(f.get(4)?)),
                fstype: g.first()?.to_string(),
                super_opts: g.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Joins a mount point with our cgroup path relative to the mount's root.
fn under_mount(m: &Mount, own: &str) -> Option<PathBuf> {
    let rel = if m.root == "/" {
        own.trim_start_matches('/')
    } else {
        own.strip_prefix(m.root.as_str())?.trim_start_matches('/')
    };
    let dir = m.point.join(rel);
    dir.is_dir().then_some(dir)
}

fn v2_dir(mounts: &[Mount], own_cgroup: &str) -> Option<PathBuf> {
    let own = own_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .trim();
    let m = mounts.iter().find(|m| m.fstype == "cgroup2")?;
    under_mount(m, own)
}

fn v1_dir(mounts: &[Mount], own_cgroup: &str, controller: &str) -> Option<PathBuf> {
    let own = own_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let _id = f.next()?;
        let ctrls = f.next()?;
        let path = f.next()?;
        ctrls
            .split(',')
            .any(|c| c == controller)
            .then(|| path.trim().to_string())
    })?;
    let m = mounts
        .iter()
        .find(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == controller))?;
    under_mount(m, &own)
}

/// The `oom_kill N` counter of `memory.events` (v2) or `memory.oom_control` (v1).
fn parse_oom_kill(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Tasks (threads included) that `uid` runs now, as RLIMIT_NPROC counts them.
fn tasks_of_uid(uid: u32) -> u64 {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let real_uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if real_uid != Some(uid) {
            continue;
        }
        n += status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or(1);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn parses_mountinfo_and_own_cgroups() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(m[1].fstype, "cgroup");
        assert!(m[1].super_opts.split(',').any(|o| o == "memory"));
        assert_eq!(m[3].fstype, "cgroup2");
        let own = "8:pids:/\n4:memory:/a/b\n0::/\n";
        // Paths are only returned when they exist: compare on a mount rooted at a temp dir.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a/b")).unwrap();
        let mounts = vec![Mount {
            root: "/".into(),
            point: tmp.path().to_path_buf(),
            fstype: "cgroup".into(),
            super_opts: "rw,memory".into(),
        }];
        assert_eq!(v1_dir(&mounts, own, "memory"), Some(tmp.path().join("a/b")));
        assert_eq!(v1_dir(&mounts, own, "pids"), None);
        // A mount of a sub-tree (inside a container): the mount root is stripped.
        let nested = vec![Mount {
            root: "/a".into(),
            point: tmp.path().to_path_buf(),
            fstype: "cgroup2".into(),
            super_opts: "rw".into(),
        }];
        std::fs::create_dir_all(tmp.path().join("b")).unwrap();
        assert_eq!(v2_dir(&nested, "0::/a/b\n"), Some(tmp.path().join("b")));
    }

    #[test]
    fn oom_kill_counters() {
        assert_eq!(
            parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"),
            2
        );
        assert_eq!(
            parse_oom_kill("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n"),
            1
        );
        assert_eq!(parse_oom_kill(""), 0);
    }

    #[test]
    fn rlimit_fallback_adds_headroom_and_the_uids_tasks() {
        let mut rc = ResourceControl::rlimits_only();
        rc.uid = 4242_4242;
        let e = rc.step(StepLimits {
            memory: Some(512 << 20),
            pids: Some(100),
        });
        assert_eq!(e.data, Some((512 << 20) + RLIMIT_DATA_HEADROOM));
        assert_eq!(e.nproc, Some(100), "an unused uid runs no tasks");
        assert!(e.group.is_none());
        rc.uid = 0;
        let e = rc.step(StepLimits {
            memory: None,
            pids: Some(100),
        });
        assert_eq!(e.nproc, None, "RLIMIT_NPROC means nothing to root");
        assert!(
            rc.describe()
                .contains("RLIMIT_NPROC does not apply to root")
        );
    }

    #[test]
    fn host_probe_describes_itself() {
        let rc = ResourceControl::detect();
        let d = rc.describe();
        assert!(d.contains("memory via") && d.contains("pids via"), "{d}");
        eprintln!("this host: {d}");
    }
}
