//! Badly behaved and hostile programs: each must be contained by the sandbox and recorded with
//! the right cause. One crossmatrix run builds the linux ones for linux/amd64 (native) and
//! linux/arm64 (qemu), another the wasip1 ones for the embedded wasmtime; afterwards no process
//! of either run may be left, and crossmatrix's own memory must have stayed bounded while a
//! program printed 1 GiB.

mod common;

use common::{BIN, record, records, require_host, shared_cache};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Linux programs. `contained` ones exit 0 printing `contained` only when they found nothing of
/// the host; the tokens `ADDR`, `RESULTS`, `HOSTHOME` and `HOSTMARK` are replaced by the test.
const LINUX: &[(&str, &str)] = &[
    // Connects to a listener the test opened on the host's 127.0.0.1.
    (
        "netdial",
        r#"package main
import ("fmt"; "net"; "os"; "time")
func main() {
	c, err := net.DialTimeout("tcp", "ADDR", 2*time.Second)
	if err == nil { c.Close(); fmt.Println("reached the host listener"); os.Exit(1) }
	fmt.Println("contained:", err)
}
"#,
    ),
    // Lists its network interfaces: only a loopback.
    (
        "ifaces",
        r#"package main
import ("fmt"; "net"; "os")
func main() {
	ifs, err := net.Interfaces()
	if err != nil { fmt.Println("contained: no interfaces:", err); return }
	bad := 0
	for _, i := range ifs {
		fmt.Println("interface", i.Name, i.Flags)
		if i.Flags&net.FlagLoopback == 0 { bad++ }
	}
	if bad > 0 { os.Exit(1) }
	fmt.Println("contained")
}
"#,
    ),
    // Looks for host secrets, the results dir, a file in the host's /tmp, and host variables.
    (
        "secrets",
        r#"package main
import ("fmt"; "os"; "strings")
func main() {
	bad := 0
	paths := []string{"/root", "/root/.ssh", "HOSTHOME/.ssh", "/etc/shadow", "/etc/passwd", "/home", "/work", "/run", "/var/run", "RESULTS", "HOSTMARK", "/proc/1/root/etc/shadow"}
	if h := os.Getenv("HOME"); h != "" { paths = append(paths, h+"/.ssh") }
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil { fmt.Println("visible:", p); bad++ }
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "PWD=") { fmt.Println("leaked variable:", kv); bad++ }
	}
	if bad > 0 { os.Exit(1) }
	fmt.Println("contained")
}
"#,
    ),
    // Writes outside its scratch dir; /tmp is private (the test checks the host's).
    (
        "writeout",
        r#"package main
import ("fmt"; "os")
func main() {
	bad := 0
	for _, p := range []string{"/escape", "/etc/escape", "/usr/escape", "/.crossmatrix/escape", "/dev/escape", os.Args[0]} {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644); err == nil { f.Close(); fmt.Println("wrote", p); bad++ }
	}
	if err := os.WriteFile("/tmp/HOSTMARK_NAME", []byte("x"), 0o644); err != nil { fmt.Println("private /tmp not writable:", err) }
	if err := os.WriteFile("scratch-ok", []byte("x"), 0o644); err != nil { fmt.Println("scratch not writable:", err); bad++ }
	if bad > 0 { os.Exit(1) }
	fmt.Println("contained")
}
"#,
    ),
    // Fills its scratch dir: the capped tmpfs says ENOSPC long before the host disk fills.
    (
        "diskfill",
        r#"package main
import ("fmt"; "os")
func main() {
	f, err := os.Create("big")
	if err != nil { panic(err) }
	buf := make([]byte, 1<<20)
	for i := 0; i < 2048; i++ {
		if _, err := f.Write(buf); err != nil { fmt.Fprintln(os.Stderr, "write failed:", err); os.Exit(7) }
	}
}
"#,
    ),
    // A fork bomb: every copy starts two more, forever.
    (
        "forkbomb",
        r#"package main
import ("os/exec"; "time")
func main() {
	for {
		exec.Command("/proc/self/exe").Start()
		exec.Command("/proc/self/exe").Start()
		time.Sleep(20 * time.Millisecond)
	}
}
"#,
    ),
    // Sleeps far past the run timeout.
    (
        "sleeper",
        "package main\nimport \"time\"\nfunc main() { time.Sleep(time.Hour) }\n",
    ),
    // Ignores SIGTERM (and SIGINT, SIGHUP) and sleeps: only SIGKILL ends it.
    (
        "ignoreterm",
        r#"package main
import ("os/signal"; "syscall"; "time")
func main() { signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP); time.Sleep(time.Hour) }
"#,
    ),
    // Dies from SIGTERM (Go re-raises it with the default action).
    (
        "sigterm",
        r#"package main
import ("os/signal"; "syscall"; "time")
func main() { signal.Reset(syscall.SIGTERM); syscall.Kill(syscall.Getpid(), syscall.SIGTERM); time.Sleep(time.Minute) }
"#,
    ),
    // Double-forks a daemon in its own session that outlives main, which exits 0.
    (
        "daemon",
        r#"package main
import ("os"; "os/exec"; "os/signal"; "syscall"; "time")
func spawn(role string) {
	c := exec.Command("/proc/self/exe")
	c.Env = append(os.Environ(), "CM_ROLE="+role)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil { panic(err) }
}
func main() {
	switch os.Getenv("CM_ROLE") {
	case "":
		spawn("child")
		time.Sleep(300 * time.Millisecond)
	case "child":
		spawn("daemon")
	default:
		signal.Ignore(syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
		for { time.Sleep(time.Second) }
	}
}
"#,
    ),
    // Prints 1 GiB to stdout.
    (
        "bigout",
        r#"package main
import ("bytes"; "os")
func main() {
	line := append(bytes.Repeat([]byte("x"), 1<<20-1), '\n')
	for i := 0; i < 1024; i++ { if _, err := os.Stdout.Write(line); err != nil { os.Exit(3) } }
	os.Stdout.Write([]byte("END\n"))
}
"#,
    ),
    // Allocates (and touches) memory until something stops it.
    (
        "oom",
        r#"package main
var keep [][]byte
func main() {
	for {
		b := make([]byte, 16<<20)
		for i := range b { b[i] = 1 }
		keep = append(keep, b)
	}
}
"#,
    ),
    // Leaves its process group (and session) and starts a child in yet another group.
    (
        "setpgid",
        r#"package main
import ("os"; "os/exec"; "os/signal"; "syscall"; "time")
func main() {
	signal.Ignore(syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT)
	syscall.Setpgid(0, 0)
	syscall.Setsid()
	if len(os.Args) == 1 {
		c := exec.Command("/proc/self/exe", "child")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		c.Start()
	}
	for { time.Sleep(time.Second) }
}
"#,
    ),
];

/// Pushes input into the controlling terminal with TIOCSTI: through its own fds and every tty
/// it can open. Run under a pty by `tiocsti_cannot_reach_the_terminal`.
/// Lists its open descriptors; anything beyond 0–2, the one it lists with and the Go
/// netpoller's is a leak.
const FDSNOOP: &str = r#"package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		fmt.Println("cannot list descriptors:", err)
		os.Exit(2)
	}
	names, _ := d.Readdirnames(-1)
	leaked := 0
	for _, n := range names {
		fd, _ := strconv.Atoi(n)
		if fd <= 2 || uintptr(fd) == d.Fd() {
			continue
		}
		t, _ := os.Readlink("/proc/self/fd/" + n)
		if t == "anon_inode:[eventpoll]" || t == "anon_inode:[eventfd]" {
			continue // the Go runtime's own netpoller
		}
		fmt.Println("leaked descriptor", fd, "->", t)
		leaked++
	}
	if leaked > 0 {
		os.Exit(1)
	}
	fmt.Println("contained: only stdio")
}
"#;

const TIOCSTI: &str = r#"package main
import ("fmt"; "os"; "syscall"; "unsafe")
func sti(fd uintptr) error {
	for _, c := range []byte("echo PWNED\n") {
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSTI, uintptr(unsafe.Pointer(&c)))
		if e != 0 { return e }
	}
	return nil
}
func main() {
	bad := 0
	for fd := uintptr(0); fd < 3; fd++ {
		if err := sti(fd); err == nil { fmt.Println("TIOCSTI on fd", fd, "worked"); bad++ }
	}
	for _, p := range []string{"/dev/tty", "/dev/console", "/dev/pts/0", "/dev/pts/1", "/dev/pts/2"} {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil { fmt.Println("cannot open", p, err); continue }
		if err := sti(f.Fd()); err == nil { fmt.Println("TIOCSTI on", p, "worked"); bad++ }
		f.Close()
	}
	if bad > 0 { os.Exit(1) }
	fmt.Println("contained")
}
"#;

/// wasip1 programs for the embedded wasmtime.
const WASM: &[(&str, &str)] = &[
    (
        "wspin",
        "package main\nvar n int\nfunc main() { for { n++ } }\n",
    ),
    (
        "wgrow",
        r#"package main
var keep [][]byte
func main() {
	for {
		b := make([]byte, 16<<20)
		for i := range b { b[i] = 1 }
		keep = append(keep, b)
	}
}
"#,
    ),
    // The preopened scratch dir is all it sees of any file system; no sockets.
    (
        "wsnoop",
        r#"package main
import ("fmt"; "net"; "os")
func main() {
	bad := 0
	for _, p := range []string{"/etc/passwd", "/etc/shadow", "/root", "/usr/bin", "/.crossmatrix/crossmatrix", "/proc/self"} {
		if _, err := os.Stat(p); err == nil { fmt.Println("visible:", p); bad++ }
	}
	if c, err := net.Dial("tcp", "ADDR"); err == nil { c.Close(); fmt.Println("reached the host listener"); bad++ }
	if bad > 0 { os.Exit(1) }
	fmt.Println("contained")
}
"#,
    ),
];

/// A name suffix unique to this test binary and test: the tests run side by side, and each
/// looks for leftovers of its own programs only.
fn tag_for(test: char) -> String {
    format!("{test}{}", std::process::id())
}

/// What the test saw of crossmatrix while it ran.
#[derive(Debug, Default)]
struct Watch {
    /// Peak resident memory of crossmatrix (VmHWM), KiB.
    vm_hwm_kib: u64,
    /// Peak number of host processes.
    max_procs: usize,
    /// The crossmatrix processes of this run (the child itself, or the one `script` started).
    pids: BTreeSet<i32>,
    /// Step cgroups of those processes seen while it ran.
    step_cgroups: BTreeSet<String>,
}

/// Runs crossmatrix with `args` (optionally under `script` for a pty) and watches its peak
/// memory and the host's process count while it runs.
fn run_watched(args: &[String], under_pty: bool) -> (std::process::Output, Watch) {
    let mut cmd = if under_pty {
        let line = std::iter::once(BIN.to_string())
            .chain(args.iter().cloned())
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = Command::new("script");
        c.args(["-qec", &line, "/dev/null"]);
        c
    } else {
        let mut c = common::command();
        c.args(args);
        c
    };
    cmd.env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("start crossmatrix");
    let root_pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let d2 = Arc::clone(&done);
    let watcher = std::thread::spawn(move || {
        let mut w = Watch::default();
        while !d2.load(Ordering::SeqCst) {
            let pids = proc_pids();
            w.max_procs = w.max_procs.max(pids.len());
            let ours = pids.into_iter().filter(|&p| {
                p == root_pid as i32
                    || (is_crossmatrix(p) && parent_pid(p) == Some(root_pid as i32))
            });
            for pid in ours {
                if is_crossmatrix(pid) {
                    w.pids.insert(pid);
                    w.step_cgroups
                        .extend(common::own_step_cgroups(&format!("crossmatrix-{pid}-")));
                }
                if let Some(k) = vm_hwm_kib(pid) {
                    w.vm_hwm_kib = w.vm_hwm_kib.max(k);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        w
    });
    let out = child.wait_with_output().expect("wait for crossmatrix");
    done.store(true, Ordering::SeqCst);
    let watch = watcher.join().expect("watcher");
    eprintln!(
        "$ crossmatrix {}\n--- stdout\n{}--- stderr\n{}--- watch: {watch:?}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, watch)
}

fn proc_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn is_crossmatrix(pid: i32) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| Path::new(BIN).file_name() == p.file_name() && p.starts_with(target_dir()))
        .unwrap_or(false)
}

fn target_dir() -> &'static Path {
    Path::new(BIN)
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/"))
}

fn parent_pid(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid …; comm may hold spaces and parentheses.
    s.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn vm_hwm_kib(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Command lines of live (non-zombie) processes that mention `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    proc_pids()
        .into_iter()
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            (line.contains(needle) && pid as u32 != std::process::id())
                .then(|| format!("{pid}: {line}"))
        })
        .collect()
}

/// Waits (a few seconds at most, for the kernel to finish killing) until no process mentions
/// `needle`, and returns those that are still there.
fn leftovers(needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// cgroups crossmatrix made for its steps that still exist (it removes each after its step).
fn leftover_cgroups() -> Vec<String> {
    common::own_step_cgroups("crossmatrix-")
}

fn write_programs(
    dir: &Path,
    tag: &str,
    programs: &[(&str, &str)],
    subst: &[(&str, String)],
) -> Vec<String> {
    programs
        .iter()
        .map(|(name, src)| {
            let mut src = src.to_string();
            for (k, v) in subst {
                src = src.replace(k, v);
            }
            let p = dir.join(format!("{name}_{tag}.go"));
            std::fs::write(&p, src).expect("write program");
            p.display().to_string()
        })
        .collect()
}

fn common_args(out: &Path, timeout: &str) -> Vec<String> {
    let cache = shared_cache();
    [
        "--toolchain",
        "go1.27",
        "--timeout",
        timeout,
        // The hangs must be killed near the limit under qemu too, not a measured slowdown later.
        "--timeout-scale",
        "1",
        "--memory",
        "512MiB",
        "--pids",
        "256",
        "--reps",
        "1",
        "--no-progress",
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ]
    .map(String::from)
    .to_vec()
}

/// `run PROGRAM` on linux/amd64 (native) and linux/arm64 (qemu) with the common limits.
fn one_program_on_both_arches(program: &Path, out: &Path) -> Vec<String> {
    let mut args = vec!["run".to_string(), program.display().to_string()];
    args.extend(
        ["--target", "linux/amd64", "--target", "linux/arm64"]
            .map(String::from)
            .to_vec(),
    );
    args.extend(common_args(out, "20"));
    args
}

fn text(r: &Value, path: &[&str]) -> String {
    let mut v = r;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or("").to_string()
}

#[test]
fn hostile_programs_are_contained_and_classified() {
    require_host!(false);
    let tag = tag_for('h');
    let tmp = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let addr = listener.local_addr().expect("addr").to_string();
    // A file in the host's /tmp that must stay invisible, and one a program must not create.
    let hostmark = std::env::temp_dir().join(format!("cm-hostmark-{}", tag));
    std::fs::write(&hostmark, "host secret").expect("write host marker");
    let escape_name = format!("cm-escape-{}", tag);
    let _ = std::fs::remove_file(std::env::temp_dir().join(&escape_name));
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let subst = [
        ("ADDR", addr.clone()),
        ("RESULTS", tmp.path().display().to_string()),
        ("HOSTHOME", home),
        ("HOSTMARK_NAME", escape_name.clone()),
        ("HOSTMARK", hostmark.display().to_string()),
    ];
    let out = tmp.path().join("out");
    let mut args = vec!["run".to_string()];
    args.extend(write_programs(tmp.path(), &tag, LINUX, &subst));
    args.extend(
        ["--target", "linux/amd64", "--target", "linux/arm64"]
            .map(String::from)
            .to_vec(),
    );
    args.extend(common_args(&out, "8"));
    let baseline_procs = proc_pids().len();
    let started = Instant::now();
    let (o, watch) = run_watched(&args, false);
    assert_eq!(o.status.code(), Some(1), "hostile programs fail the run");
    let recs = records(&out);
    for arch in ["amd64", "arm64"] {
        let id = |p: &str| format!("go1.27/linux-{arch}/cgo0/rootfs-scratch/{p}_{}", tag);
        for contained in ["netdial", "ifaces", "secrets", "writeout"] {
            let r = record(&recs, &id(contained));
            assert_eq!(r["status"], "pass", "{contained} on {arch}: {r:#}");
            assert!(
                text(r, &["run", "stdout_tail"]).contains("contained"),
                "{r:#}"
            );
        }
        for hang in ["sleeper", "ignoreterm", "setpgid"] {
            let r = record(&recs, &id(hang));
            assert_eq!(r["cause"], "timeout", "{hang} on {arch}: {r:#}");
            assert!(
                r["run"]["duration_ms"].as_u64().unwrap_or(u64::MAX) < 40_000,
                "{hang} on {arch}: killed near the 8 s limit: {r:#}"
            );
            assert!(!text(r, &["hint"]).is_empty());
        }
        let r = record(&recs, &id("sigterm"));
        assert_eq!(r["cause"], "signal", "{r:#}");
        assert!(text(r, &["hint"]).contains("SIGTERM"), "{r:#}");
        let r = record(&recs, &id("diskfill"));
        assert_eq!(r["cause"], "wrong-exit-code", "{r:#}");
        assert!(
            text(r, &["run", "stderr_tail"]).contains("no space left on device"),
            "{r:#}"
        );
        let r = record(&recs, &id("forkbomb"));
        assert_eq!(r["status"], "fail", "{r:#}");
        let cause = text(r, &["cause"]);
        assert!(
            ["timeout", "oom", "signal", "wrong-exit-code"].contains(&cause.as_str()),
            "fork bomb: {r:#}"
        );
        let r = record(&recs, &id("daemon"));
        assert_eq!(r["status"], "pass", "the daemon's parent exits 0: {r:#}");
        let r = record(&recs, &id("oom"));
        assert_eq!(r["cause"], "oom", "{r:#}");
        assert!(text(r, &["hint"]).contains("memory"), "{r:#}");
        // 1 GiB of output: kept head and tail, and the record says how much was dropped
        // (or, if it ran out of time under emulation, a timeout).
        let r = record(&recs, &id("bigout"));
        if r["status"] == "pass" {
            let tail = text(r, &["run", "stdout_tail"]);
            let dropped: u64 = tail
                .split("[… ")
                .nth(1)
                .and_then(|t| t.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(
                dropped > 1_000_000_000,
                "the record says how much was dropped: {}…",
                &tail[..tail.len().min(300)]
            );
            assert!(tail.ends_with("END"), "the tail is kept");
            assert!(tail.len() < 200_000, "the record stays small");
        } else {
            assert_eq!(r["cause"], "timeout", "{r:#}");
        }
    }
    assert!(
        !std::env::temp_dir().join(&escape_name).exists(),
        "a program wrote into the host's /tmp"
    );
    // crossmatrix itself stayed small while 2 GiB went through it (head/tail capture).
    assert!(watch.vm_hwm_kib > 0, "crossmatrix was watched");
    assert!(
        watch.vm_hwm_kib < 400 * 1024,
        "crossmatrix peaked at {} MiB",
        watch.vm_hwm_kib / 1024
    );
    // The fork bombs were held to their pids limit (2 cells × 256 tasks at most).
    assert!(
        watch.max_procs < baseline_procs + 1500,
        "host processes rose from {baseline_procs} to {}",
        watch.max_procs
    );
    eprintln!(
        "linux suite: {:?}, crossmatrix VmHWM {} MiB, host processes {baseline_procs} → max {}",
        started.elapsed(),
        watch.vm_hwm_kib / 1024,
        watch.max_procs
    );

    // wasip1 in the embedded wasmtime.
    let wout = tmp.path().join("wout");
    let mut args = vec!["run".to_string()];
    args.extend(write_programs(tmp.path(), &tag, WASM, &subst));
    args.extend(["--target", "wasip1/wasm"].map(String::from).to_vec());
    args.extend(common_args(&wout, "5"));
    let (o, wwatch) = run_watched(&args, false);
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&wout);
    let id = |p: &str| format!("go1.27/wasip1-wasm/cgo0/rootfs-scratch/{p}_{}", tag);
    let r = record(&recs, &id("wspin"));
    assert_eq!(r["cause"], "timeout", "wasm infinite loop: {r:#}");
    assert!(r["run"]["duration_ms"].as_u64().unwrap_or(u64::MAX) < 30_000);
    let r = record(&recs, &id("wgrow"));
    assert_eq!(r["cause"], "oom", "wasm memory bomb: {r:#}");
    assert!(text(r, &["hint"]).contains("memory"), "{r:#}");
    let r = record(&recs, &id("wsnoop"));
    assert_eq!(r["status"], "pass", "{r:#}");

    drop(listener);
    let _ = std::fs::remove_file(&hostmark);
    // Nothing of either run survives it: no process, no cgroup.
    let left = leftovers(&format!("_{}", tag));
    assert!(
        left.is_empty(),
        "processes left behind:\n{}",
        left.join("\n")
    );
    // Only those of the crossmatrix processes this test ran (they have exited; the other tests
    // run their own side by side): still there after a moment.
    let ours: BTreeSet<i32> = watch.pids.union(&wwatch.pids).copied().collect();
    // Where this host gives crossmatrix cgroups, its steps were seen in them (so finding
    // none left below is not for want of looking in the right place).
    let doctor = common::command()
        .args(["doctor", "--format", "json"])
        .output()
        .expect("crossmatrix doctor");
    let uses_cgroups = String::from_utf8_lossy(&doctor.stdout).contains("memory via cgroup");
    if uses_cgroups {
        assert!(
            !watch.step_cgroups.is_empty(),
            "doctor says memory via cgroup, but no step cgroup was seen"
        );
    }
    eprintln!(
        "step cgroups seen: {} (cgroups in use: {uses_cgroups})",
        watch.step_cgroups.len()
    );
    assert!(
        !ours.is_empty(),
        "the runs' crossmatrix processes were seen"
    );
    let owned = |c: &String| {
        c.rsplit('/')
            .next()
            .and_then(|n| n.split('-').nth(1))
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| ours.contains(&p))
    };
    std::thread::sleep(Duration::from_millis(500));
    let cgroups: Vec<String> = leftover_cgroups().into_iter().filter(owned).collect();
    assert!(cgroups.is_empty(), "cgroups left behind: {cgroups:?}");
}

#[test]
fn tiocsti_cannot_reach_the_terminal() {
    require_host!(false);
    let tag = tag_for('t');
    if which::which("script").is_err() {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but `script` (util-linux) is missing");
        }
        eprintln!("SKIPPED: `script` (util-linux) is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join(format!("tiocsti_{}.go", tag));
    std::fs::write(&p, TIOCSTI).expect("write program");
    let out = tmp.path().join("out");
    let args = one_program_on_both_arches(&p, &out);
    // crossmatrix runs with a pty as its controlling terminal; the sandboxed program must not
    // be able to push input into it.
    let (o, _) = run_watched(&args, true);
    assert_eq!(o.status.code(), Some(0), "contained on both arches");
    let recs = records(&out);
    let names: BTreeSet<&str> = recs.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(names.len(), 2);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        let stdout = text(r, &["run", "stdout_tail"]);
        assert!(stdout.contains("contained"), "{stdout}");
        assert!(stdout.contains("cannot open /dev/tty"), "{stdout}");
    }
    assert!(leftovers(&format!("tiocsti_{}", tag)).is_empty());
}

/// Descriptors crossmatrix inherits without close-on-exec (a CI runner's pipes) stay out of
/// the sandbox: the program sees only stdin, stdout and stderr.
#[test]
fn inherited_descriptors_do_not_reach_the_program() {
    require_host!(false);
    let tag = tag_for('f');
    let tmp = tempfile::tempdir().expect("tempdir");
    let p = tmp.path().join(format!("fdsnoop_{tag}.go"));
    std::fs::write(&p, FDSNOOP).expect("write program");
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "host secret").expect("write secret");
    let out = tmp.path().join("out");
    let args = one_program_on_both_arches(&p, &out);
    let file = std::fs::File::open(&secret).expect("open secret");
    let raw = std::os::fd::AsRawFd::as_raw_fd(&file);
    let mut cmd = common::command();
    cmd.args(&args).env("NO_COLOR", "1").stdin(Stdio::null());
    // SAFETY: dup2 is async-signal-safe; the target descriptor is cleared of close-on-exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::dup2(raw, 57) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().expect("run crossmatrix");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for r in records(&out) {
        assert_eq!(r["status"], "pass", "{r:#}");
        let stdout = text(&r, &["run", "stdout_tail"]);
        assert!(stdout.contains("contained"), "{stdout}");
    }
}

/// The rlimit fallback, for real: as a non-root user nothing can create cgroups here, so
/// `RLIMIT_NPROC` must hold the fork bomb and `RLIMIT_DATA` the allocation bomb, while an
/// ordinary program still runs, natively and under qemu (whose translation buffer counts).
#[test]
fn limits_hold_without_cgroups_as_a_non_root_user() {
    require_host!(false);
    let tag = tag_for('u');
    const USER: &str = "crossmatrix-test";
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: needs root to switch to {USER} (the other tests run rootless already)");
        return;
    }
    let exists = Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(exists, "user {USER} does not exist: ci/setup creates it");
    let tmp = tempfile::Builder::new()
        .prefix("crossmatrix-limits")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let bin = tmp.path().join("crossmatrix");
    std::fs::copy(BIN, &bin).expect("copy binary");
    let programs: Vec<(&str, &str)> = LINUX
        .iter()
        .copied()
        .filter(|(n, _)| ["forkbomb", "oom", "netdial"].contains(n))
        .collect();
    let files = write_programs(
        tmp.path(),
        &tag,
        &programs,
        &[("ADDR", "127.0.0.1:9".into())],
    );
    let ok = Command::new("chmod")
        .args(["-R", "777", tmp.path().to_str().expect("utf-8")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok);
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).expect("home");
    let ok = Command::new("chown")
        .args([&format!("{USER}:{USER}"), home.to_str().expect("utf-8")])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok);
    let out = home.join("out");
    let mut c = Command::new("setpriv");
    c.args(["--reuid", USER, "--regid", USER, "--init-groups", "--"])
        .arg("env")
        .arg("-i")
        .arg(format!("HOME={}", home.display()))
        .arg("PATH=/usr/local/bin:/usr/bin:/bin")
        .arg("NO_COLOR=1")
        .arg(&bin)
        .arg("run")
        .args(&files)
        .args([
            "--toolchain",
            "go1.27",
            "--target",
            "linux/amd64",
            "--target",
            "linux/arm64",
            "--timeout",
            "8",
            "--timeout-scale",
            "1",
            "--memory",
            "512MiB",
            "--pids",
            "128",
            "--reps",
            "1",
            "--jobs",
            "1",
            "--no-progress",
            "--out",
        ])
        .arg(&out);
    let o = c.output().expect("run setpriv");
    eprintln!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&out);
    for arch in ["amd64", "arm64"] {
        let id = |p: &str| format!("go1.27/linux-{arch}/cgo0/rootfs-scratch/{p}_{}", tag);
        let r = record(&recs, &id("netdial"));
        assert_eq!(r["status"], "pass", "runs under the rlimits: {r:#}");
        let r = record(&recs, &id("oom"));
        assert_eq!(r["cause"], "oom", "{r:#}");
        assert!(text(r, &["hint"]).contains("--memory"), "{r:#}");
        let r = record(&recs, &id("forkbomb"));
        assert_eq!(r["status"], "fail", "{r:#}");
    }
    let left = leftovers(&format!("_{}", tag));
    assert!(
        left.is_empty(),
        "processes left behind:\n{}",
        left.join("\n")
    );
}
