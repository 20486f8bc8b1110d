//! How much of the machine a run used, against the fastest it could have been: CPU seconds
//! of crossmatrix and everything it waited for, and the bound that `run.json`'s `cpu_bound_s`
//! and the summary's `= 1.04× the bound` compare the wall time with.

use crossmatrix_matrix::Plan;
use crossmatrix_results::CellRecord;

/// Makes this process the reaper of its orphaned descendants, so sandboxed programs' CPU
/// reaches [`cpu_seconds`] through their sandbox's init (see
/// [`crossmatrix_sandbox::process::become_subreaper`]); without it the figure is low.
pub fn count_sandboxed_cpu() -> std::io::Result<()> {
    crossmatrix_sandbox::process::become_subreaper()
}

/// User + system CPU seconds of this process and every child it has waited for (builds,
/// sandboxes and what ran in them: bubblewrap reaps its children, so their time adds up here).
pub fn cpu_seconds() -> f64 {
    let secs = |who| {
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes into the struct we own.
        if unsafe { libc::getrusage(who, &mut ru) } != 0 {
            return 0.0;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    secs(libc::RUSAGE_SELF) + secs(libc::RUSAGE_CHILDREN)
}

/// The lower bound on a run's wall time: its CPU spread over the cores, or the longest cell
/// (build + runs, as measured: an over-estimate when cells waited for cores), whichever is
/// larger. Only cells this run executed count.
pub fn cpu_bound(cpu_s: f64, cores: usize, records: &[CellRecord], ran: &Plan) -> f64 {
    let ran: std::collections::HashSet<&str> = ran.cells.iter().map(|c| c.id.as_str()).collect();
    let longest_ms = records
        .iter()
        .filter(|r| ran.contains(r.id.as_str()))
        .map(|r| {
            if r.reused_from.is_some() {
                // Its runs happened in an earlier run.
                return r.build.duration_ms as f64;
            }
            let run = r.run.as_ref().map_or(0, |x| x.duration_ms) as f64;
            let timed: f64 = r.startup.as_ref().map_or(0.0, |s| {
                s.samples_ms.iter().sum::<f64>() * f64::from(s.reps + s.warmups)
                    / f64::from(s.reps.max(1))
            });
            r.build.duration_ms as f64 + run + timed
        })
        .fold(0.0, f64::max);
    (cpu_s / cores.max(1) as f64).max(longest_ms / 1000.0)
}

/// Rounded to hundredths, as run.json shows seconds.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
