//! Runs the host commands this crate needs (go, apt-get, dpkg-deb, qemu, zig) with a deadline,
//! captured output and the whole process group killed on timeout.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Output beyond this many bytes per stream is dropped (a runaway child must not eat memory).
const OUTPUT_CAP: usize = 8 << 20;

/// What a finished command left behind.
#[derive(Debug)]
pub struct Captured {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Captured {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// A host command that did not run to a successful end.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("`{cmd}` could not be started: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("`{cmd}` did not finish within {}s and was killed", timeout.as_secs())]
    Timeout { cmd: String, timeout: Duration },
    #[error("waiting for `{cmd}` failed: {source}")]
    Wait { cmd: String, source: std::io::Error },
    #[error("`{cmd}` failed ({status}): {stderr_tail}")]
    Failed {
        cmd: String,
        status: String,
        stderr_tail: String,
    },
}

/// The command line as a user would type it, for error messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The last few lines of `bytes`, trimmed to at most ~2 KiB, for error messages.
pub fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = all.len().saturating_sub(lines);
    let mut out = all[start..].join("\n");
    if out.len() > 2048 {
        let cut = out.len() - 2048;
        let cut = (cut..out.len())
            .find(|i| out.is_char_boundary(*i))
            .unwrap_or(0);
        out = format!("…{}", &out[cut..]);
    }
    if out.is_empty() {
        "(no output on stderr)".to_string()
    } else {
        out
    }
}

/// Runs `cmd` to completion or until `timeout`, whichever comes first. A non-zero exit is an
/// error naming the command and the tail of its stderr.
pub fn run_checked(cmd: &mut Command, timeout: Duration) -> Result<Captured, CommandError> {
    let out = run(cmd, timeout)?;
    if out.status.success() {
        Ok(out)
    } else {
        let mut stderr_tail = tail(&out.stderr, 12);
        if out.stderr.iter().all(u8::is_ascii_whitespace) {
            stderr_tail = tail(&out.stdout, 12);
        }
        Err(CommandError::Failed {
            cmd: describe(cmd),
            status: out.status.to_string(),
            stderr_tail,
        })
    }
}

/// Runs `cmd` to completion or until `timeout`; the exit status is returned, not judged.
/// stdin is closed; the child leads its own process group so a timeout kills its children too.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Captured, CommandError> {
    let name = describe(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| CommandError::Spawn {
            cmd: name.clone(),
            source,
        })?;
    let out_reader = reader(child.stdout.take());
    let err_reader = reader(child.stderr.take());
    let waited = wait_until(&mut child, Instant::now() + timeout);
    let status = match waited {
        Ok(Some(status)) => status,
        Ok(None) => {
            kill_group(&mut child);
            join(out_reader);
            join(err_reader);
            return Err(CommandError::Timeout { cmd: name, timeout });
        }
        Err(source) => {
            kill_group(&mut child);
            return Err(CommandError::Wait { cmd: name, source });
        }
    };
    Ok(Captured {
        status,
        stdout: join(out_reader),
        stderr: join(err_reader),
    })
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> Option<JoinHandle<Vec<u8>>> {
    let mut pipe = pipe?;
    Some(std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_CAP.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        kept
    }))
}

fn join(h: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    h.and_then(|h| h.join().ok()).unwrap_or_default()
}

fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut nap = Duration::from_millis(2);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(50));
    }
}

fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group the child leads; it
        // touches no memory of ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let out = run_checked(
            Command::new("sh").args(["-c", "echo out; echo err >&2"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout_str(), "out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn failure_names_command_and_stderr() {
        let err = run_checked(
            Command::new("sh").args(["-c", "echo boom >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("sh -c"), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
    }

    #[test]
    fn timeout_kills_the_group() {
        let start = Instant::now();
        let err = run(
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(matches!(err, CommandError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = run(
            &mut Command::new("/nonexistent/crossmatrix-no-such-tool"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(matches!(err, CommandError::Spawn { .. }));
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail(b"a\nb\n\nc\n", 2), "b\nc");
        assert_eq!(tail(b"", 2), "(no output on stderr)");
    }
}
