//! The qemu CPU model a cell runs on by default: the one that matches what its binary was
//! built for (the baseline of GOAMD64 / GOARM / GOARM64 / GORISCV64 / GOPPC64, or the level
//! the cell's variant asks for), not qemu's `max`. A newer qemu's `max` emulates every
//! extension it knows, and Go test binaries run up to 2.6× slower under it (riscv64, qemu
//! 10.0); a baseline model is also what the binary promises to run on, so a SIGILL there is
//! the code's. `QEMU_CPU` in a cell's run env (`[run] env`) overrides it, `max` included.

/// The model for a `goarch` binary built at `level` (the knob's value, e.g. `v8.1`,
/// `rva22u64`, `power9`; `None`: the toolchain's default), known to qemu 7.2 and 10.0.
/// `None`: qemu's own default (an arch without a model worth choosing, or a level above
/// every model here).
pub fn baseline_cpu_model(goarch: &str, level: Option<&str>) -> Option<&'static str> {
    // GOARM64 takes options after a comma (`v8.2,lse`): the level is what comes first.
    let level = level.map(|l| l.split(',').next().unwrap_or(l));
    Some(match (goarch, level) {
        ("amd64", None | Some("v1")) => "qemu64",
        ("amd64", Some("v2")) => "Nehalem",
        ("amd64", Some("v3")) => "Haswell-noTSX",
        ("arm64", None | Some("v8.0")) => "cortex-a57",
        ("arm64", Some("v8.1" | "v8.2")) => "cortex-a76",
        ("arm", Some("5")) => "arm926",
        ("arm", Some("6")) => "arm1176",
        ("arm", None | Some("7")) => "cortex-a7",
        ("riscv64", None | Some("rva20u64" | "rva22u64")) => "rv64",
        ("ppc64" | "ppc64le", None | Some("power8")) => "power8",
        ("ppc64" | "ppc64le", Some("power9")) => "power9",
        ("ppc64" | "ppc64le", Some("power10")) => "power10",
        ("s390x", _) => "qemu",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_follow_the_build_level() {
        assert_eq!(baseline_cpu_model("arm64", None), Some("cortex-a57"));
        assert_eq!(
            baseline_cpu_model("arm64", Some("v8.2,lse")),
            Some("cortex-a76")
        );
        assert_eq!(baseline_cpu_model("arm64", Some("v9.0")), None);
        assert_eq!(
            baseline_cpu_model("riscv64", Some("rva22u64")),
            Some("rv64")
        );
        assert_eq!(baseline_cpu_model("riscv64", Some("rva23u64")), None);
        assert_eq!(
            baseline_cpu_model("amd64", Some("v3")),
            Some("Haswell-noTSX")
        );
        assert_eq!(baseline_cpu_model("amd64", Some("v4")), None);
        assert_eq!(baseline_cpu_model("ppc64le", None), Some("power8"));
        assert_eq!(baseline_cpu_model("arm", Some("6")), Some("arm1176"));
        assert_eq!(baseline_cpu_model("s390x", None), Some("qemu"));
        assert_eq!(baseline_cpu_model("mips64le", None), None);
        assert_eq!(baseline_cpu_model("loong64", None), None);
    }
}
