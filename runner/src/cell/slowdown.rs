//! Deadlines that know the executor: how much slower a qemu runs Go code than this host does,
//! measured once per qemu binary, arch and CPU model (a small CPU-bound Go program built for
//! both, timed natively and under that qemu), kept in the cache dir and memoized per run. A
//! cell's run and test timeouts are multiplied by it, the way Go's builders scale test
//! timeouts on slow machines (`GO_TEST_TIMEOUT_SCALE`): a suite that fits its `-timeout`
//! natively is not killed under riscv64 emulation, and a real hang is still caught.
//! `--timeout-scale N` overrides the measurement (1 turns scaling off).

use crate::cell::time::{CALIBRATION_FILES, ensure_tool};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::process::run_captured;
use crossmatrix_toolchains::executor::ExecutorChoice;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Limit of one calibration run (emulated, it takes well under a second).
const CALIBRATION_TIMEOUT: Duration = Duration::from_secs(60);
/// The scale never goes below this (an emulated run is not faster) nor above this.
const SCALE_RANGE: (f64, f64) = (1.0, 100.0);

/// What a measurement needs: the toolchain that builds the calibration program and where its
/// results are kept.
pub(crate) struct Calibration<'a> {
    pub(crate) cache_dir: &'a Path,
    pub(crate) goroot: &'a Path,
    pub(crate) go_version: &'a str,
    pub(crate) host_goarch: &'a str,
}

/// The qemu binary a choice runs, if it is qemu. A binfmt_misc interpreter is followed to the
/// binary it links to: qemu named `*-binfmt-P` reads its arguments the kernel's way.
pub(crate) fn qemu_of(choice: &ExecutorChoice) -> Option<PathBuf> {
    match choice {
        ExecutorChoice::QemuDirect(q) => Some(q.path.clone()),
        ExecutorChoice::QemuBinfmt { interpreter, .. } => {
            Some(std::fs::canonicalize(interpreter).unwrap_or_else(|_| interpreter.clone()))
        }
        _ => None,
    }
}

/// The key of a measurement: the qemu binary (path, size, mtime), arch, CPU model, host arch.
pub(crate) fn key(qemu: &Path, goarch: &str, cpu: Option<&str>, host_goarch: &str) -> String {
    let meta = std::fs::metadata(qemu).ok();
    let mut h = Sha256::new();
    h.update(qemu.as_os_str().as_encoded_bytes());
    if let Some(m) = &meta {
        h.update(m.len().to_le_bytes());
        if let Ok(t) = m.modified() {
            if let Ok(d) = t.duration_since(std::time::UNIX_EPOCH) {
                h.update(d.as_secs().to_le_bytes());
            }
        }
    }
    for part in [goarch, cpu.unwrap_or("-"), host_goarch] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("{:x}", h.finalize())[..16].to_string()
}

/// The slowdown of `qemu` (running `goarch` code on CPU model `cpu`) against this host:
/// remembered in `<cache>/slowdown/KEY`, else measured and remembered.
pub(crate) fn slowdown(
    cal: &Calibration<'_>,
    qemu: &Path,
    goarch: &str,
    cpu: Option<&str>,
    abort: &Abort,
) -> Result<f64, String> {
    let k = key(qemu, goarch, cpu, cal.host_goarch);
    let file = cal.cache_dir.join("slowdown").join(&k);
    if let Some(v) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
    {
        return Ok(v);
    }
    let native = ensure_tool(
        cal.cache_dir,
        "calibrate",
        CALIBRATION_FILES,
        cal.goroot,
        cal.go_version,
        cal.host_goarch,
        abort,
    )?;
    let guest = ensure_tool(
        cal.cache_dir,
        "calibrate",
        CALIBRATION_FILES,
        cal.goroot,
        cal.go_version,
        goarch,
        abort,
    )?;
    let t_native = best_of(3, || Command::new(&native), abort)?;
    let t_guest = best_of(
        2,
        || {
            let mut c = Command::new(qemu);
            c.arg(&guest);
            if let Some(m) = cpu {
                c.env("QEMU_CPU", m);
            }
            c
        },
        abort,
    )?;
    let scale = (t_guest / t_native.max(1e-6)).clamp(SCALE_RANGE.0, SCALE_RANGE.1);
    let scale = (scale * 10.0).round() / 10.0;
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
        let tmp = dir.join(format!(".{k}.{}", std::process::id()));
        if std::fs::write(&tmp, format!("{scale}\n")).is_ok() {
            let _ = std::fs::rename(&tmp, &file);
        }
    }
    Ok(scale)
}

/// The shortest wall time of `n` runs of `cmd()`, in seconds; an error when one fails.
fn best_of(n: u32, cmd: impl Fn() -> Command, abort: &Abort) -> Result<f64, String> {
    let mut best = f64::INFINITY;
    for _ in 0..n {
        let start = Instant::now();
        let f = run_captured(cmd(), CALIBRATION_TIMEOUT, abort)
            .map_err(|e| format!("cannot run the calibration program: {e}"))?;
        let took = start.elapsed().as_secs_f64();
        if f.code() != Some(0) {
            return Err(format!(
                "the calibration program failed: {}",
                f.stderr.last_lines(3)
            ));
        }
        best = best.min(took);
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_arch_and_model() {
        let q = Path::new("/bin/sh");
        let a = key(q, "arm64", None, "amd64");
        assert_eq!(a, key(q, "arm64", None, "amd64"));
        assert_ne!(a, key(q, "arm64", Some("cortex-a57"), "amd64"));
        assert_ne!(a, key(q, "riscv64", None, "amd64"));
        assert_ne!(a, key(Path::new("/bin/ls"), "arm64", None, "amd64"));
    }
}
