//! One child process from spawn to verdict: its own process group, a wall-clock deadline that
//! kills the whole group, and stdout/stderr captured with a cap (head and tail kept).

use crate::abort::{Abort, kill_group};
use crate::capture::{Caps, Captured};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a child that ran past its deadline has between SIGTERM and SIGKILL to print what
/// it was doing and exit (see [`CaptureOptions::grace`]).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// The two ends of a pipe bubblewrap writes its `--info-fd` JSON (`{"child-pid": N}`) into.
#[derive(Debug)]
pub(crate) struct InfoPipe {
    pub(crate) read: OwnedFd,
    pub(crate) write: OwnedFd,
}

/// A command to spawn and, for a sandbox whose program bubblewrap's own init reaps, the
/// `--info-fd` pipe that tells that init's pid (see [`reap_sandbox_init`]). A plain
/// [`Command`] converts into one without a pipe.
#[derive(Debug)]
pub struct Spawn {
    cmd: Command,
    info: Option<InfoPipe>,
}

impl Spawn {
    pub(crate) fn with_info(cmd: Command, info: Option<InfoPipe>) -> Spawn {
        Spawn { cmd, info }
    }

    /// The command (to inspect its arguments).
    pub fn command(&self) -> &Command {
        &self.cmd
    }

    /// Spawns the command; returns the child and the info pipe's read end (our copy of the
    /// write end is closed: the child has its own).
    fn spawn(self) -> (io::Result<Child>, Option<OwnedFd>) {
        let Spawn { mut cmd, info } = self;
        let child = cmd.spawn();
        (child, info.map(|p| p.read))
    }

    fn cmd_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }
}

impl From<Command> for Spawn {
    fn from(cmd: Command) -> Spawn {
        Spawn { cmd, info: None }
    }
}

/// Makes this process the reaper of its orphaned descendants (`PR_SET_CHILD_SUBREAPER`).
///
/// bubblewrap's own init (pid 1 of a sandbox's pid namespace, when the program is not run as
/// pid 1) reaps the program, but bwrap exits as soon as it has the program's exit status,
/// without waiting for that init: the init — and with it the CPU time of the program it
/// reaped — would go to the host's init. As a subreaper, crossmatrix inherits it, reaps it
/// ([`reap_sandbox_init`]), and the program's CPU lands in this process's
/// `RUSAGE_CHILDREN` like everything else it ran.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// After a sandbox's bwrap has exited: reads the sandbox init's pid from the info pipe and
/// reaps that init (now our child when we are a subreaper and bwrap had not reaped it) on a
/// detached thread. Nothing happens when the pid is unknown or not our child.
fn reap_sandbox_init(info: OwnedFd) {
    let mut text = String::new();
    let mut f = std::fs::File::from(info);
    // bwrap wrote the JSON right after creating the sandbox and has exited since: what is in
    // the pipe is all there is (non-blocking, in case the init still holds the write end).
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        libc::fcntl(
            fd,
            libc::F_SETFL,
            libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
        );
    }
    let _ = f.read_to_string(&mut text);
    let Some(pid) = parse_child_pid(&text) else {
        return;
    };
    // SAFETY: getpid has no preconditions.
    if pid <= 1 || pid == unsafe { libc::getpid() } {
        return;
    }
    let _ = thread::Builder::new()
        .name("reap-init".into())
        .spawn(move || {
            let mut status = 0;
            // SAFETY: waitpid on one pid; ECHILD (bwrap reaped it, or we are no subreaper)
            // returns at once.
            unsafe {
                while libc::waitpid(pid, &mut status, 0) == -1
                    && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
                {
                }
            }
        });
}

/// `N` from bwrap's info JSON (`{ "child-pid": N, … }`).
fn parse_child_pid(text: &str) -> Option<i32> {
    let rest = &text[text.find("\"child-pid\"")? + "\"child-pid\"".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// How a child ended: the one answer every step reads (nextest's `ExecutionResult` says the
/// same of a test process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    /// It exited with this code.
    Exited(i32),
    /// A signal from somewhere other than crossmatrix's deadline or abort ended it.
    Signaled(i32),
    /// It ran past its deadline and was stopped: SIGTERM, then after the grace period SIGKILL.
    /// How it ended then: its exit code (a program that handled SIGTERM, or bubblewrap
    /// reporting its program's end) or the signal that ended it.
    TimedOut {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The run was aborted (an interrupt) while it ran: its outcome says nothing.
    Aborted,
}

impl ChildEnd {
    fn from_status(status: std::process::ExitStatus) -> ChildEnd {
        match (status.code(), status.signal()) {
            (Some(code), _) => ChildEnd::Exited(code),
            (None, Some(sig)) => ChildEnd::Signaled(sig),
            // Neither: not possible for a waited child on Unix; say what little is known.
            (None, None) => ChildEnd::Signaled(0),
        }
    }
}

/// A child that ran: how it ended, how long it took, what it printed.
#[derive(Debug, Clone)]
pub struct Finished {
    pub end: ChildEnd,
    pub elapsed: Duration,
    pub stdout: Captured,
    pub stderr: Captured,
}

impl Finished {
    /// A finished child with this end and output: for classifiers' tests and fakes.
    pub fn new(end: ChildEnd, stdout: &str, stderr: &str) -> Finished {
        let captured = |s: &str| Captured {
            head: s.as_bytes().to_vec(),
            ..Captured::default()
        };
        Finished {
            end,
            elapsed: Duration::ZERO,
            stdout: captured(stdout),
            stderr: captured(stderr),
        }
    }

    /// The exit code, when it exited (also after its deadline, stopped).
    pub fn code(&self) -> Option<i32> {
        match self.end {
            ChildEnd::Exited(code) => Some(code),
            ChildEnd::TimedOut { code, .. } => code,
            _ => None,
        }
    }

    /// The signal that ended it, when one did (also a timed-out child's).
    pub fn signal(&self) -> Option<i32> {
        match self.end {
            ChildEnd::Signaled(sig) => Some(sig),
            ChildEnd::TimedOut { signal, .. } => signal,
            _ => None,
        }
    }

    pub fn timed_out(&self) -> bool {
        matches!(self.end, ChildEnd::TimedOut { .. })
    }
}

/// Runs `cmd` to completion or until `timeout`, in a new process group that is stopped whole
/// when the deadline passes (with [`DEFAULT_GRACE`]) or `abort` fires. stdin is closed.
pub fn run_captured(
    cmd: impl Into<Spawn>,
    timeout: Duration,
    abort: &Abort,
) -> io::Result<Finished> {
    run_captured_opts(cmd, timeout, abort, &CaptureOptions::default())
}

/// How [`run_captured_opts`] feeds, captures and stops a child.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Written to stdin (then closed); stdin is `/dev/null` without it.
    pub input: Option<Vec<u8>>,
    pub caps: Caps,
    /// stderr goes into stdout's pipe, so both interleave as written (`Finished::stdout`
    /// holds both, `stderr` stays empty).
    pub merge_stderr: bool,
    /// At the deadline the program itself gets SIGTERM (inside a sandbox too: bubblewrap
    /// forwards no signals), and this long to exit before the whole group gets SIGKILL: a Go
    /// program with a handler can say where it was. `None` kills at once.
    pub grace: Option<Duration>,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            input: None,
            caps: Caps::default(),
            merge_stderr: false,
            grace: Some(DEFAULT_GRACE),
        }
    }
}

/// [`run_captured`] with its input, caps, grace and stream handling given.
pub fn run_captured_opts(
    cmd: impl Into<Spawn>,
    timeout: Duration,
    abort: &Abort,
    opts: &CaptureOptions,
) -> io::Result<Finished> {
    let mut cmd = cmd.into();
    let merged = if opts.merge_stderr {
        Some(pipe_pair()?)
    } else {
        None
    };
    let c = cmd.cmd_mut();
    c.stdin(if opts.input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .process_group(0);
    let mut merged_reader = None;
    match merged {
        Some((r, w)) => {
            c.stdout(Stdio::from(w.try_clone()?)).stderr(Stdio::from(w));
            merged_reader = Some(std::fs::File::from(r));
        }
        None => {
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    let start = Instant::now();
    // `spawn` consumes the command, and with it our copies of a merged pipe's write end (the
    // reader sees the end of the stream when the child's copies close).
    let (spawned, info) = cmd.spawn();
    let mut child = spawned?;
    if let (Some(data), Some(mut stdin)) = (opts.input.clone(), child.stdin.take()) {
        // A child that never reads must not block us: write from a thread.
        thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&data);
        });
    }
    let caps = opts.caps;
    let out = match merged_reader {
        Some(r) => Some(spawn_reader(r, caps)),
        None => child.stdout.take().map(|r| spawn_reader(r, caps)),
    };
    let err = child.stderr.take().map(|r| spawn_reader(r, caps));
    let (end, ended) = wait_deadline(child, start + timeout, opts.grace, abort)?;
    if let Some(info) = info {
        reap_sandbox_init(info);
    }
    let elapsed = ended - start;
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(Finished {
        end,
        elapsed,
        stdout,
        stderr,
    })
}

/// Runs `cmd` with output discarded and returns its wall time and how it ended: the timing
/// loop. Killed at once at the deadline (a timed run that overran is discarded anyway).
pub fn run_timed(
    cmd: impl Into<Spawn>,
    timeout: Duration,
    abort: &Abort,
) -> io::Result<(Duration, ChildEnd)> {
    let mut cmd = cmd.into();
    cmd.cmd_mut()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let start = Instant::now();
    let (spawned, info) = cmd.spawn();
    let child = spawned?;
    let (end, ended) = wait_deadline(child, start + timeout, None, abort)?;
    if let Some(info) = info {
        reap_sandbox_init(info);
    }
    Ok((ended - start, end))
}

/// A pipe whose ends close on exec (the child gets its own copies through `Stdio`).
pub(crate) fn pipe_pair() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    })
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R, caps: Caps) -> thread::JoinHandle<Captured> {
    thread::spawn(move || {
        let mut cap = Captured::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => cap.push(&buf[..n], caps),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        cap.trim(caps);
        cap
    })
}

/// Waits for `child` on a helper thread (so the exit is seen the moment it happens, which the
/// startup timings depend on) and stops its process group if `deadline` passes first: SIGTERM
/// to the program, `grace` to exit, then SIGKILL. Returns how it ended and the instant the
/// exit was observed.
fn wait_deadline(
    child: Child,
    deadline: Instant,
    grace: Option<Duration>,
    abort: &Abort,
) -> io::Result<(ChildEnd, Instant)> {
    let pid = child.id();
    abort.register(pid);
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let mut child = child;
        let r = child.wait();
        let at = Instant::now();
        let _ = tx.send(());
        r.map(|s| (s, at))
    });
    let timed_out = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => false,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            let exited = grace.is_some_and(|g| {
                terminate_program(pid);
                matches!(
                    rx.recv_timeout(g),
                    Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected)
                )
            });
            if !exited {
                kill_group(pid);
            }
            true
        }
    };
    let joined = waiter
        .join()
        .map_err(|_| io::Error::other("the process waiter thread panicked"));
    let aborted = abort.unregister(pid);
    let (status, at) = joined??;
    let end = match ChildEnd::from_status(status) {
        _ if aborted => ChildEnd::Aborted,
        ChildEnd::Signaled(sig) if timed_out => ChildEnd::TimedOut {
            code: None,
            signal: Some(sig),
        },
        ChildEnd::Exited(code) if timed_out => ChildEnd::TimedOut {
            code: Some(code),
            signal: None,
        },
        end => end,
    };
    Ok((end, at))
}

/// Sends SIGTERM to the program a child runs: to every descendant of the group leader `pid`
/// (inside a bubblewrap sandbox the program is bwrap's grandchild, in a session of its own, and
/// bwrap forwards no signal; a sandbox's init ignores it) and to the leader's group when the
/// leader is the program itself. bwrap itself is spared: its death would SIGKILL the sandbox.
fn terminate_program(pid: u32) {
    let tree = descendants(pid);
    let leader_is_bwrap = comm(pid).is_some_and(|c| c == "bwrap");
    for p in tree {
        if comm(p).is_some_and(|c| c == "bwrap") {
            continue;
        }
        // SAFETY: kill(2) on a pid we just found among our child's descendants.
        unsafe {
            libc::kill(p as i32, libc::SIGTERM);
        }
    }
    if !leader_is_bwrap {
        // SAFETY: kill(2) on the group our child leads.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGTERM);
        }
    }
}

/// The pids below `root` in the process tree, from `/proc/*/stat`.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ppid) = std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| parse_ppid(&s))
            {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// The parent pid from a `/proc/PID/stat` line (`PID (COMM) STATE PPID …`; COMM may hold
/// spaces and parentheses, so the fields after the last `)` count).
fn parse_ppid(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Name of a signal number (`SIGSEGV`), for records.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        _ => return format!("SIG{sig}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_exit_code() {
        let mut c = Command::new("sh");
        c.args(["-c", "echo out; echo err >&2; exit 3"]);
        let f = run_captured(c, Duration::from_secs(10), &Abort::default()).unwrap();
        assert_eq!(f.end, ChildEnd::Exited(3));
        assert_eq!(f.code(), Some(3));
        assert_eq!(f.stdout.text(), "out\n");
        assert_eq!(f.stderr.text(), "err\n");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let mut c = Command::new("sh");
        // A grandchild that would outlive its parent if only the parent were killed.
        c.args(["-c", "sleep 30 & sleep 30"]);
        let f = run_captured(c, Duration::from_millis(300), &Abort::default()).unwrap();
        assert_eq!(
            f.end,
            ChildEnd::TimedOut {
                code: None,
                signal: Some(libc::SIGTERM)
            }
        );
        // The reader threads returned, so no process holds the pipes any more.
        assert!(f.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn caps_large_output_keeping_head_and_tail() {
        let mut c = Command::new("sh");
        c.args(["-c", "head -c 1000000 /dev/zero | tr '\\0' a; echo END"]);
        let f = run_captured(c, Duration::from_secs(20), &Abort::default()).unwrap();
        assert_eq!(f.stdout.head.len(), crate::capture::HEAD);
        assert!(f.stdout.tail.len() <= crate::capture::TAIL);
        assert!(f.stdout.dropped > 0);
        assert!(f.stdout.text().ends_with("END\n"));
        assert!(f.stdout.text().contains("bytes dropped"));
        let last = f.stdout.last_lines(1);
        assert!(last.starts_with("[… ") && last.ends_with("END"));
    }

    #[test]
    fn a_program_that_traps_sigterm_prints_before_it_is_stopped() {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            "trap 'echo stopped at step 2; exit 9' TERM; echo step 1; sleep 30 & wait",
        ]);
        let f = run_captured(c, Duration::from_millis(300), &Abort::default()).unwrap();
        assert!(f.timed_out(), "{:?}", f.end);
        assert_eq!(f.stdout.text(), "step 1\nstopped at step 2\n");
    }

    #[test]
    fn a_program_that_ignores_sigterm_is_killed_after_the_grace() {
        let mut c = Command::new("sh");
        c.args(["-c", "trap '' TERM; sleep 30"]);
        let opts = CaptureOptions {
            grace: Some(Duration::from_millis(200)),
            ..CaptureOptions::default()
        };
        let f = run_captured_opts(c, Duration::from_millis(200), &Abort::default(), &opts).unwrap();
        assert_eq!(
            f.end,
            ChildEnd::TimedOut {
                code: None,
                signal: Some(libc::SIGKILL)
            }
        );
        assert!(f.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn an_abort_stops_the_child_and_marks_only_its_scope() {
        let run = Abort::new();
        let (cell, other) = (run.scope(), run.scope());
        let stopper = {
            let run = run.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(200));
                run.abort();
            })
        };
        let mut c = Command::new("sh");
        c.args(["-c", "sleep 30 & sleep 30"]);
        let f = run_captured(c, Duration::from_secs(60), &cell).unwrap();
        stopper.join().unwrap();
        assert_eq!(f.end, ChildEnd::Aborted);
        assert!(f.elapsed < Duration::from_secs(10));
        assert!(cell.was_hit() && !other.was_hit());
        // Started after the abort: killed at once.
        let mut sleep = Command::new("sleep");
        sleep.arg("30");
        let f = run_captured(sleep, Duration::from_secs(60), &other).unwrap();
        assert_eq!(f.end, ChildEnd::Aborted);
    }

    #[test]
    fn parent_pids_from_proc_stat() {
        assert_eq!(parse_ppid("123 (a) b)) S 45 123 123 0"), Some(45));
        assert_eq!(parse_ppid("1 (init) S 0 1 1"), Some(0));
        assert_eq!(parse_ppid("garbage"), None);
    }

    #[test]
    fn bwrap_info_names_the_init_pid() {
        assert_eq!(
            parse_child_pid(
                "{\n    \"child-pid\": 12345,\n    \"cgroup-namespace\": 4026531835\n}\n"
            ),
            Some(12345)
        );
        assert_eq!(parse_child_pid("{\"child-pid\":7}"), Some(7));
        assert_eq!(parse_child_pid(""), None);
        assert_eq!(parse_child_pid("{\"child-pid\": \"x\"}"), None);
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(signal_name(64), "SIG64");
    }
}
