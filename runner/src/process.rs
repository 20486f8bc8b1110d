//! One child process from spawn to verdict: its own process group, a wall-clock deadline that
//! kills the whole group, and stdout/stderr captured with a cap (head and tail kept).

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// Every process group this process runs right now, so that an interrupt (SIGINT) can kill
/// them all at once: the children live in their own groups, so the terminal's Ctrl-C does not
/// reach them.
static GROUPS: Mutex<Groups> = Mutex::new(Groups {
    aborted: false,
    running: None,
});

struct Groups {
    /// Set by [`abort_all`]: every running group was killed and new ones are killed at spawn.
    aborted: bool,
    running: Option<HashSet<u32>>,
}

thread_local! {
    /// A step run on this thread ended after [`abort_all`]: its outcome says nothing about the
    /// program.
    static ABORTED_HERE: Cell<bool> = const { Cell::new(false) };
}

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

fn groups() -> std::sync::MutexGuard<'static, Groups> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills every running child's process group (with everything in it: sandboxes, emulators,
/// the programs) and every one started from now on. For an interrupted run; there is no way
/// back.
pub fn abort_all() {
    let mut g = groups();
    g.aborted = true;
    for pid in g.running.take().unwrap_or_default() {
        kill_group(pid);
    }
}

/// Whether [`abort_all`] was called.
pub fn aborted() -> bool {
    groups().aborted
}

/// Whether a step run on this thread was cut short by [`abort_all`] since the last call; resets
/// the flag. The dispatcher asks this after each cell to tell a killed cell from a failed one.
pub fn take_aborted_here() -> bool {
    ABORTED_HERE.with(|f| f.replace(false))
}

/// Marks the current thread's step as cut short by [`abort_all`] (for steps that run in
/// process, such as wasm).
pub fn mark_aborted_here() {
    ABORTED_HERE.with(|f| f.set(true));
}

/// Tracks `pid`'s group while it runs; kills it at once when the run was already aborted.
fn register(pid: u32) {
    let mut g = groups();
    if g.aborted {
        kill_group(pid);
    } else {
        g.running.get_or_insert_with(HashSet::new).insert(pid);
    }
}

/// Stops tracking `pid`'s group; flags the thread when the step ended after an abort.
fn unregister(pid: u32) {
    let mut g = groups();
    if let Some(r) = g.running.as_mut() {
        r.remove(&pid);
    }
    if g.aborted {
        mark_aborted_here();
    }
}

/// Bytes of a program's output kept per stream in records: the first `HEAD` and the last
/// `TAIL`.
const HEAD: usize = 16 * 1024;
const TAIL: usize = 48 * 1024;

/// How much of a stream is kept: the first `head` bytes and the last `tail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub head: usize,
    pub tail: usize,
}

impl Caps {
    /// What records keep of a program's output (crossmatrix's memory stays flat whatever a
    /// program prints).
    pub const RECORD: Caps = Caps {
        head: HEAD,
        tail: TAIL,
    };
    /// What crossmatrix reads from tools it runs for their answer (`go list -json`, a test
    /// binary's event stream): all of it up to a generous bound.
    pub const TOOL: Caps = Caps {
        head: 256 << 20,
        tail: 16 << 20,
    };
}

impl Default for Caps {
    fn default() -> Self {
        Caps::RECORD
    }
}

/// A stream captured with a cap.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub head: Vec<u8>,
    pub tail: Vec<u8>,
    /// Bytes seen but kept in neither head nor tail.
    pub dropped: u64,
}

impl Captured {
    /// The captured text, with a marker where bytes were dropped.
    pub fn text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            s.push_str(&format!("\n[… {} bytes dropped …]\n", self.dropped));
        }
        s.push_str(&String::from_utf8_lossy(&self.tail));
        s
    }

    /// The last `lines` lines, for records — and of those at most the last `TAIL` bytes, however
    /// long the lines (a test binary's stream is captured with [`Caps::TOOL`]: hundreds of MiB
    /// can be one line).
    pub fn last_lines(&self, lines: usize) -> String {
        let text = self.text();
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        let mut kept = all[start..].join("\n");
        let mut dropped = self.dropped;
        if kept.len() > TAIL {
            let mut cut = kept.len() - TAIL;
            while !kept.is_char_boundary(cut) {
                cut += 1;
            }
            kept.drain(..cut);
            dropped += cut as u64;
        }
        if dropped > 0 && (dropped != self.dropped || !kept.contains("bytes dropped …]")) {
            // Say that output was cut even when the marker scrolled out of the kept lines.
            return format!("[… {dropped} bytes dropped …]\n{kept}");
        }
        kept
    }

    fn push(&mut self, mut chunk: &[u8], caps: Caps) {
        let Caps { head, tail } = caps;
        if self.head.len() < head {
            let n = (head - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
            chunk = &chunk[n..];
        }
        if chunk.is_empty() {
            return;
        }
        self.tail.extend_from_slice(chunk);
        // Trimmed only when twice the cap: one move per `tail` bytes read, not one per chunk
        // (a test printing gigabytes is read at pipe speed). `trim` makes it exact at the end.
        if self.tail.len() > tail.saturating_mul(2).max(64 * 1024) {
            self.trim(caps);
        }
    }

    /// Keeps the last `caps.tail` bytes of the tail, counting the rest as dropped.
    fn trim(&mut self, caps: Caps) {
        if self.tail.len() > caps.tail {
            let excess = self.tail.len() - caps.tail;
            self.tail.drain(..excess);
            self.dropped += excess as u64;
        }
    }
}

/// How a child ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit code when it exited normally.
    pub code: Option<i32>,
    /// Signal number when it was killed by one (from outside the sandbox).
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub stdout: Captured,
    pub stderr: Captured,
}

/// Runs `cmd` to completion or until `timeout`, in a new process group that is killed whole
/// when the deadline passes. stdin is closed.
pub fn run_captured(cmd: impl Into<Spawn>, timeout: Duration) -> io::Result<Finished> {
    run_captured_with_input(cmd, timeout, None)
}

/// [`run_captured`] with `input` written to the child's stdin (then closed).
pub fn run_captured_with_input(
    cmd: impl Into<Spawn>,
    timeout: Duration,
    input: Option<Vec<u8>>,
) -> io::Result<Finished> {
    run_captured_opts(
        cmd,
        timeout,
        &CaptureOptions {
            input,
            ..CaptureOptions::default()
        },
    )
}

/// How [`run_captured_opts`] feeds and captures a child.
#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// Written to stdin (then closed); stdin is `/dev/null` without it.
    pub input: Option<Vec<u8>>,
    pub caps: Caps,
    /// stderr goes into stdout's pipe, so both interleave as written (`Finished::stdout`
    /// holds both, `stderr` stays empty).
    pub merge_stderr: bool,
}

/// [`run_captured`] with its input, caps and stream handling given.
pub fn run_captured_opts(
    cmd: impl Into<Spawn>,
    timeout: Duration,
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
    let (status, timed_out, ended) = wait_deadline(child, start + timeout)?;
    if let Some(info) = info {
        reap_sandbox_init(info);
    }
    let elapsed = ended - start;
    let stdout = out.and_then(|h| h.join().ok()).unwrap_or_default();
    let stderr = err.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(Finished {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        elapsed,
        stdout,
        stderr,
    })
}

/// Runs `cmd` with output discarded and returns its wall time: the timing loop. Same deadline
/// and group kill as [`run_captured`].
pub fn run_timed(
    cmd: impl Into<Spawn>,
    timeout: Duration,
) -> io::Result<(Duration, Option<i32>, bool)> {
    let mut cmd = cmd.into();
    cmd.cmd_mut()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let start = Instant::now();
    let (spawned, info) = cmd.spawn();
    let child = spawned?;
    let (status, timed_out, ended) = wait_deadline(child, start + timeout)?;
    if let Some(info) = info {
        reap_sandbox_init(info);
    }
    Ok((ended - start, status.code(), timed_out))
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
/// startup timings depend on) and kills its process group if `deadline` passes first. Returns
/// the status, whether it timed out, and the instant the exit was observed.
fn wait_deadline(
    child: Child,
    deadline: Instant,
) -> io::Result<(std::process::ExitStatus, bool, Instant)> {
    let pid = child.id();
    register(pid);
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let mut child = child;
        let r = child.wait();
        let at = Instant::now();
        let _ = tx.send(());
        r.map(|s| (s, at))
    });
    let timed_out = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(()) => false,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            kill_group(pid);
            true
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => false,
    };
    let joined = waiter
        .join()
        .map_err(|_| io::Error::other("the process waiter thread panicked"));
    unregister(pid);
    let (status, at) = joined??;
    Ok((status, timed_out, at))
}

/// Kills the process group led by `pid` (the child was spawned with `process_group(0)`).
pub fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
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
        let f = run_captured(c, Duration::from_secs(10)).unwrap();
        assert_eq!(f.code, Some(3));
        assert!(!f.timed_out);
        assert_eq!(f.stdout.text(), "out\n");
        assert_eq!(f.stderr.text(), "err\n");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let mut c = Command::new("sh");
        // A grandchild that would outlive its parent if only the parent were killed.
        c.args(["-c", "sleep 30 & sleep 30"]);
        let f = run_captured(c, Duration::from_millis(300)).unwrap();
        assert!(f.timed_out);
        assert_eq!(f.signal, Some(libc::SIGKILL));
        // The reader threads returned, so no process holds the pipes any more.
        assert!(f.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn caps_large_output_keeping_head_and_tail() {
        let mut c = Command::new("sh");
        c.args(["-c", "head -c 1000000 /dev/zero | tr '\\0' a; echo END"]);
        let f = run_captured(c, Duration::from_secs(20)).unwrap();
        assert_eq!(f.stdout.head.len(), HEAD);
        assert!(f.stdout.tail.len() <= TAIL);
        assert!(f.stdout.dropped > 0);
        assert!(f.stdout.text().ends_with("END\n"));
        assert!(f.stdout.text().contains("bytes dropped"));
        let last = f.stdout.last_lines(1);
        assert!(last.starts_with("[… ") && last.ends_with("END"));
    }

    #[test]
    fn last_lines_are_bounded_however_long_the_lines() {
        let mut c = Captured::default();
        c.push(&vec![b'y'; 1 << 20], Caps::TOOL);
        c.push(b"\n--- PASS: TestLoud (2.43s)\nPASS\n", Caps::TOOL);
        let last = c.last_lines(20);
        assert!(last.len() < TAIL + 100, "{}", last.len());
        assert!(last.starts_with("[… "), "{}", &last[..40]);
        assert!(last.ends_with("--- PASS: TestLoud (2.43s)\nPASS"));
    }

    #[test]
    fn chunked_capture_keeps_exactly_the_head_and_the_last_bytes() {
        let caps = Caps {
            head: 10,
            tail: 100_000,
        };
        let mut c = Captured::default();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(7_777) {
            c.push(chunk, caps);
        }
        c.trim(caps);
        assert_eq!(c.head, data[..10]);
        assert_eq!(c.tail, data[data.len() - 100_000..]);
        assert_eq!(c.dropped, (data.len() - 10 - 100_000) as u64);
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
