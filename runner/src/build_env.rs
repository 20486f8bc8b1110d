//! How the Go compiler's own runtime runs during builds. `go build` and the compile and link
//! processes it starts are Go programs, and two of their runtime settings cost CPU here:
//!
//! - **GC.** With `GOGC=400` they collect less often and the same cold builds take ≈10% less
//!   CPU (6 GOARCHes of the probe, Go 1.24, twice each: 91.0 and 93.2 s of CPU by default, 83.2
//!   and 83.5 s with `GOGC=400`; the binaries are byte-identical — GOGC is not a build input).
//!   The price is memory: a compile's peak RSS went from 265 to 440 MB. `GOMEMLIMIT` caps
//!   that: above it the collector works harder again, so a big package on a small machine
//!   builds as before instead of running out of memory.
//! - **Threads.** A compile uses several threads (its backend compiles functions in parallel,
//!   `-c`, and its GC runs beside it); threads of one process that fault fresh memory on
//!   several CPUs at once make the kernel flush the others' TLBs (IPIs) and contend for the
//!   page-table lock, which on virtual machines costs more than the parallelism gains. With
//!   `GOMAXPROCS=1` every compile is single-threaded and builds run in parallel as processes
//!   (`go build -p`, and several cells at once) instead. Measured on a 2-core VM, cold
//!   `go test -c strings` for s390x: 29.6 s of CPU (19.1 of it in the kernel) and 18.0 s wall
//!   at `-p 1` by default, 13.8 s of CPU and 13.5 s wall with `GOMAXPROCS=1`; at `-p 2`,
//!   19.1 s / 10.1 s against 14.1 s / 8.5 s. The binaries are the same.
//!
//! A cell's `[build] env` may set any of these variables; its value wins.

use crossmatrix_sandbox::limits::{ResourceControl, Via};

/// The `GOGC` of builds.
pub const BUILD_GOGC: &str = "400";
/// The smallest `GOMEMLIMIT` given to builds.
const MIN_LIMIT: u64 = 512 << 20;

/// The environment of builds on a machine with `memory` bytes (its RAM, or the cgroup limit
/// this process runs under when lower) and `cores` cores: `GOGC`, `GOMEMLIMIT` (each compile
/// or link — up to two per core run at once: a build per core, and their `go` commands — may
/// grow to a share of the memory before collecting as often as by default) and `GOMAXPROCS`.
pub fn build_env(memory: u64, cores: usize) -> [(&'static str, String); 3] {
    let share = (memory / (2 * cores.max(1) as u64)).max(MIN_LIMIT);
    [
        ("GOGC", BUILD_GOGC.to_string()),
        ("GOMEMLIMIT", format!("{}MiB", share >> 20)),
        ("GOMAXPROCS", "1".to_string()),
    ]
}

/// [`build_env`] for this host: `MemTotal`, or the memory limit of the cgroup crossmatrix's steps
/// are made under when that is lower.
pub fn host_build_env() -> [(&'static str, String); 3] {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_total(&t))
        .unwrap_or(4 << 30);
    let memory = cgroup_limit().map_or(total, |l| l.min(total));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    build_env(memory, cores)
}

fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb << 10)
}

fn cgroup_limit() -> Option<u64> {
    let (dir, file) = match &ResourceControl::host().memory {
        Via::CgroupV2(d) => (d, "memory.max"),
        Via::CgroupV1(d) => (d, "memory.limit_in_bytes"),
        Via::Rlimit => return None,
    };
    // "max" (v2) or a huge number (v1) when unlimited: no limit either way.
    std::fs::read_to_string(dir.join(file))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The environment every sandboxed `go` command of a build runs with: the toolchain at `goroot`
/// first on PATH (and zig's /usr/local/bin), a home and GOPATH in the sandbox's /tmp, its
/// GOCACHE at `gocache` inside, offline (`GOPROXY=off`), never another toolchain
/// (`GOTOOLCHAIN=local`), no telemetry, no VCS stamping, building for `goos`/`goarch`.
pub(crate) fn offline_go(
    sb: crossmatrix_sandbox::bwrap::Sandbox,
    goroot: &std::path::Path,
    gocache: &str,
    (goos, goarch): (&str, &str),
    cgo: bool,
) -> crossmatrix_sandbox::bwrap::Sandbox {
    sb.env(
        "PATH",
        format!("{}/bin:/usr/local/bin:/usr/bin:/bin", goroot.display()),
    )
    .env("HOME", "/tmp/home")
    .env("GOROOT", goroot.display().to_string())
    .env("GOCACHE", gocache)
    .env("GOPATH", "/tmp/gopath")
    .env("GOPROXY", "off")
    .env("GOTOOLCHAIN", "local")
    .env("GOTELEMETRY", "off")
    .env("GOFLAGS", "-buildvcs=false")
    .env("GOOS", goos)
    .env("GOARCH", goarch)
    .env("CGO_ENABLED", if cgo { "1" } else { "0" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_a_share_of_memory_per_concurrent_go_process() {
        let [(k1, gogc), (k2, limit), (k3, procs)] = build_env(24 << 30, 2);
        assert_eq!((k1, gogc.as_str()), ("GOGC", "400"));
        assert_eq!((k2, limit.as_str()), ("GOMEMLIMIT", "6144MiB"));
        assert_eq!((k3, procs.as_str()), ("GOMAXPROCS", "1"));
        let [_, (_, small), _] = build_env(1 << 30, 4);
        assert_eq!(small, "512MiB", "never below 512 MiB");
        let [_, (_, zero_cores), _] = build_env(8 << 30, 0);
        assert_eq!(zero_cores, "4096MiB");
    }

    #[test]
    fn mem_total_is_read_from_meminfo() {
        let text = "MemTotal:       24570376 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(text), Some(24570376 << 10));
        assert_eq!(mem_total("MemFree: 3 kB\n"), None);
    }
}
