//! The CPU-level trap: a binary built for a higher level than the CPU it ran on (GOAMD64=v3 on
//! a v2 machine or qemu model, GOARM's floating point on a CPU without it), told from Go's
//! own refusal to start or from the signal an unsupported instruction raises under qemu with
//! an older CPU model.

use crate::diagnose::failure::{Failure, RunContext};
use crossmatrix_matrix::Cause;
use crossmatrix_sandbox::process::Finished;
use regex::Regex;
use std::sync::LazyLock;

/// Go's runtime refusing a CPU below the binary's GOAMD64 level (runtime/asm_amd64.s).
static AMD64_LEVEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"This program can only be run on AMD64 processors with (v\d) microarchitecture support",
    )
    .expect("static regex")
});
/// …and below its GOARM floating point (runtime/os_linux_arm.go).
static ARM_FLOAT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"this CPU has no (VFPv3 )?floating point hardware").expect("static regex")
});

/// The lowest value of each sub-architecture knob (the one every CPU of the arch has), and how
/// to spell the fix.
fn knob_baseline(knob: &str) -> Option<(&'static str, &'static str)> {
    Some(match knob {
        "goamd64" => ("v1", "GOAMD64=v1 (any x86-64) or v2 (2009+)"),
        "goarm" => ("5", "GOARM=6 for ARMv6 (Raspberry Pi 1/Zero) or GOARM=5"),
        "goarm64" => ("v8.0", "GOARM64=v8.0"),
        "goriscv64" => ("rva20u64", "GORISCV64=rva20u64"),
        "goppc64" => ("power8", "GOPPC64=power8"),
        _ => return None,
    })
}

pub(crate) fn cpu_level(
    generic: &Failure,
    f: &Finished,
    stderr: &str,
    ctx: &RunContext,
) -> Option<Failure> {
    let cpu = match (ctx.traps.cpu_model(), ctx.executor.starts_with("qemu")) {
        (Some(model), true) => format!("qemu -cpu {model}"),
        (_, true) => "qemu's default CPU".to_string(),
        (_, false) => "this host's CPU".to_string(),
    };
    let variant = ctx.traps.variant.as_deref().and_then(|v| v.split_once('='));
    let setting = variant.map(|(k, v)| format!("{}={v}", k.to_ascii_uppercase()));
    let lower = variant
        .and_then(|(k, _)| knob_baseline(k))
        .map(|(_, fix)| fix);
    if let Some(m) = AMD64_LEVEL.captures(stderr) {
        let level = m.get(1).map_or("v?", |l| l.as_str());
        return Some(Failure::new(
            Cause::CpuLevel,
            format!(
                "built with GOAMD64={level}, which {cpu} lacks (Go's runtime refused to start: \"can only be run on AMD64 processors with {level} microarchitecture support\"): build with a lower level for older machines, {}",
                lower.unwrap_or("GOAMD64=v1 (any x86-64) or v2 (2009+)")
            ),
        ));
    }
    if ARM_FLOAT.is_match(stderr) {
        return Some(Failure::new(
            Cause::CpuLevel,
            format!(
                "built with {}, whose floating point {cpu} lacks (Go's runtime refused to start): build with {}",
                setting.as_deref().unwrap_or("the default GOARM=7"),
                lower.unwrap_or("GOARM=6 or GOARM=5")
            ),
        ));
    }
    let sigill = f.signal() == Some(libc::SIGILL)
        || f.code() == Some(128 + libc::SIGILL)
        || stderr.contains(&format!("uncaught target signal {} ", libc::SIGILL));
    let above_baseline = variant
        .and_then(|(k, v)| knob_baseline(k).map(|(base, _)| v != base))
        .unwrap_or(false);
    // qemu 7.2's riscv64 dies of the guest's SIGILL without saying `uncaught target signal`,
    // which reads as qemu's own crash: on a CPU model asked for, with a binary above the
    // baseline, it is the guest's.
    let guests = match generic.cause {
        Cause::Signal => true,
        Cause::EmulatorCrash => above_baseline && ctx.traps.cpu_model().is_some(),
        _ => false,
    };
    if !guests || !sigill {
        return None;
    }
    match (above_baseline, &setting, lower) {
        (true, Some(setting), Some(lower)) => Some(Failure::new(
            Cause::CpuLevel,
            format!(
                "died of SIGILL: built with {setting}, whose instructions {cpu} lacks: build with {lower} for older machines, or run on a CPU with that level"
            ),
        )),
        // No level above the baseline, but a CPU model was asked for: the default level is
        // then the one the CPU lacks.
        _ if ctx.traps.cpu_model().is_some() && ctx.executor.starts_with("qemu") => {
            Some(Failure::new(
                Cause::CpuLevel,
                format!(
                    "died of SIGILL on {cpu}: the binary uses instructions of Go's default level for {} that this CPU model lacks; build with a lower level (GOARM, GOAMD64…) or pick a newer model",
                    ctx.goarch
                ),
            ))
        }
        _ => None,
    }
}
