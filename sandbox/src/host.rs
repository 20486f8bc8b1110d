//! Host commands (go, apt-get, dpkg-deb, qemu, zig) run to an answer: [`crate::process`]'s
//! deadline, group kill and capped capture, and errors that name the command and the tail of
//! its stderr.

use crate::abort::Abort;
use crate::capture::Caps;
use crate::process::{CaptureOptions, ChildEnd, run_captured_opts};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// Output beyond this many bytes per stream is dropped (a runaway child must not eat memory).
const OUTPUT_CAP: usize = 8 << 20;

/// What a finished command left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
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
pub fn run_checked(cmd: &mut Command, timeout: Duration) -> Result<Output, CommandError> {
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
/// stdin is closed; the child leads its own process group so a timeout stops its children too
/// (SIGTERM, then SIGKILL after [`crate::process::DEFAULT_GRACE`]).
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Output, CommandError> {
    let name = describe(cmd);
    // The command is consumed by the spawn; the caller keeps its program and arguments (to
    // describe it in messages).
    let mut described = Command::new(cmd.get_program());
    described.args(cmd.get_args());
    let owned = std::mem::replace(cmd, described);
    let opts = CaptureOptions {
        caps: Caps {
            head: OUTPUT_CAP,
            tail: 0,
        },
        ..CaptureOptions::default()
    };
    // Host commands run outside any cell: nothing aborts them but their deadline.
    let f = run_captured_opts(owned, timeout, &Abort::default(), &opts).map_err(|source| {
        CommandError::Spawn {
            cmd: name.clone(),
            source,
        }
    })?;
    let status = match f.end {
        ChildEnd::Exited(code) => ExitStatus::from_raw((code & 0xff) << 8),
        ChildEnd::Signaled(sig) => ExitStatus::from_raw(sig & 0x7f),
        ChildEnd::TimedOut { .. } | ChildEnd::Aborted => {
            return Err(CommandError::Timeout { cmd: name, timeout });
        }
    };
    Ok(Output {
        status,
        stdout: f.stdout.head,
        stderr: f.stderr.head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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
