//! The counting qemu (`--metric instructions|both`): qemu-user built with TCG plugins and
//! crossmatrix's counting plugin, bundled in one directory by `ci/counter/build` (installed
//! by `ci/host-setup --counter`) and described by its `counter.json`.
//!
//! How a count is made exact (what is still non-deterministic in a Go program under qemu, and
//! how it is kept out) is [`GO_RUNTIME_RULES`] and [`counting_env`]: the runtime's monitor
//! thread is held at its first sleep, thread start-up and the scheduler's hand-offs between
//! threads are excluded, randomness is seeded, one P runs Go code and the collector only runs
//! when the program asks.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where `ci/host-setup --counter` installs it.
pub const DEFAULT_COUNTER_DIR: &str = "/opt/crossmatrix/counter";
/// The environment variable that names another directory.
pub const COUNTER_ENV: &str = "CROSSMATRIX_COUNTER";

/// A counting qemu installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub dir: PathBuf,
    /// `10.0.13`.
    pub qemu_version: String,
    /// qemu's arch names it has emulators for (`x86_64`, `aarch64`, …).
    pub arches: Vec<String>,
    /// Relative to `dir`: the dynamic loader that runs the emulators, their library dir, the
    /// plugin.
    pub loader: PathBuf,
    pub libs: PathBuf,
    pub plugin: PathBuf,
}

#[derive(Deserialize)]
struct Manifest {
    qemu_version: String,
    arches: Vec<String>,
    loader: PathBuf,
    libs: PathBuf,
    plugin: PathBuf,
}

/// No usable counter; the message says where crossmatrix looked and how to get one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CounterError(pub String);

impl Counter {
    /// The counter in `dir` (its `counter.json`), checked: the loader, the plugin and every
    /// emulator it lists exist.
    pub fn at(dir: &Path) -> Result<Counter, CounterError> {
        let manifest = dir.join("counter.json");
        let text = std::fs::read_to_string(&manifest).map_err(|e| {
            CounterError(format!(
                "no counting qemu in {}: cannot read {}: {e} (build one with `ci/host-setup --counter`, or `ci/counter/build --prefix {}`)",
                dir.display(),
                manifest.display(),
                dir.display()
            ))
        })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| {
            CounterError(format!(
                "{}: not a counter manifest: {e} (rebuild it with `ci/counter/build --prefix {}`)",
                manifest.display(),
                dir.display()
            ))
        })?;
        let c = Counter {
            dir: dir.to_path_buf(),
            qemu_version: m.qemu_version,
            arches: m.arches,
            loader: m.loader,
            libs: m.libs,
            plugin: m.plugin,
        };
        let mut needed = vec![c.loader.clone(), c.plugin.clone()];
        needed.extend(
            c.arches
                .iter()
                .map(|a| PathBuf::from(format!("bin/qemu-{a}"))),
        );
        for rel in needed {
            if !dir.join(&rel).is_file() {
                return Err(CounterError(format!(
                    "{}: lists {} but it is missing (rebuild it with `ci/counter/build --prefix {}`)",
                    manifest.display(),
                    rel.display(),
                    dir.display()
                )));
            }
        }
        Ok(c)
    }

    /// The counter a run uses: `explicit` (`--counter DIR`, the config's `counter`) or
    /// `$CROSSMATRIX_COUNTER`, which must hold one; else the default directory, if it does.
    /// `Ok(None)`: none was asked for and none is installed.
    pub fn find(explicit: Option<&Path>) -> Result<Option<Counter>, CounterError> {
        if let Some(dir) = explicit {
            return Counter::at(dir).map(Some);
        }
        if let Some(dir) = std::env::var_os(COUNTER_ENV).filter(|v| !v.is_empty()) {
            return Counter::at(Path::new(&dir)).map(Some);
        }
        let default = Path::new(DEFAULT_COUNTER_DIR);
        if default.join("counter.json").is_file() {
            return Counter::at(default).map(Some);
        }
        Ok(None)
    }

    /// The qemu arch that counts `goarch` (a native amd64 cell is counted under qemu-x86_64),
    /// if this counter has it.
    pub fn arch_for(&self, goarch: &str) -> Option<&str> {
        let q = crate::executor::qemu_arch(goarch)?;
        self.arches.iter().find(|a| *a == q).map(String::as_str)
    }

    /// Why a `goarch` cell cannot be counted here: the arches this counter has.
    pub fn missing_arch(&self, goarch: &str) -> String {
        format!(
            "the counting qemu in {} has no emulator for {goarch} (it has {}; rebuild it with `ci/counter/build --targets …`)",
            self.dir.display(),
            self.arches.join(", ")
        )
    }

    /// The command line that counts `program` (paths as seen inside the sandbox, where the
    /// counter's directory is `inside` and the log goes to `log`): the bundled loader runs
    /// qemu with the plugin and [`GO_RUNTIME_RULES`], randomness seeded.
    pub fn argv(&self, inside: &Path, qemu_arch: &str, log: &Path) -> Vec<String> {
        let mut plugin = inside.join(&self.plugin).display().to_string();
        for rule in GO_RUNTIME_RULES {
            plugin.push(',');
            plugin.push_str(rule);
        }
        // More arguments for the plugin, for looking into a count (`profile=on`).
        if let Some(extra) = std::env::var("CROSSMATRIX_COUNT_PLUGIN_ARGS")
            .ok()
            .filter(|e| !e.is_empty())
        {
            plugin.push(',');
            plugin.push_str(&extra);
        }
        vec![
            inside.join(&self.loader).display().to_string(),
            "--library-path".into(),
            inside.join(&self.libs).display().to_string(),
            inside
                .join(format!("bin/qemu-{qemu_arch}"))
                .display()
                .to_string(),
            // getrandom and AT_RANDOM from a fixed seed: map hash seeds, the runtime's own
            // random choices, the same each run.
            "-seed".into(),
            "1".into(),
            "-plugin".into(),
            plugin,
            "-d".into(),
            "plugin".into(),
            "-D".into(),
            log.display().to_string(),
        ]
    }
}

/// The plugin's rules for Go binaries (see `ci/counter/count.c`):
///
/// - sysmon's thread is excluded whole and held at its first sleep (`thread=`, `stall` on by
///   default): sysmon wakes every 20 µs–10 ms of wall time; left running it retakes Ps from
///   system calls, preempts, wakes the scavenger — work that grows with how slow the emulator is.
/// - A new M's creation (`runtime.newm` until the creator is back in a caller) and a new thread's
///   start-up (until it first runs `runtime.schedule`) are excluded: whether the runtime starts
///   a thread or reuses an idle one is a race between threads.
/// - The runtime's reading of the machine's mount table and cgroup limits at start-up (Go ≥ 1.25,
///   `internal/runtime/cgroup`, from entry until back in its caller) is excluded: its work grows
///   with the length of `/proc/self/mountinfo`, which differs from sandbox to sandbox (device
///   numbers of concurrent mounts) and from machine to machine — not with the program.
/// - Before a thread hands a P to an idle M (`runtime.startm`) it waits until every other thread
///   is parked (`quiesce=`): otherwise whether an idle M is there yet is a race, and the loser
///   makes a new M, which draws from the creating M's random stream — a map's iteration order
///   then differs, and the program does different work.
/// - The scheduler's hand-offs and the runtime's spin, sleep and lock loops are excluded: how
///   many times a thread spins or parks depends on the other threads' timing.
///
/// Everything else — the program's code, the libraries', the runtime's allocator, maps,
/// channels, stack growth, and the collector when the program (or the testing package) asks for
/// a collection — is counted.
pub const GO_RUNTIME_RULES: &[&str] = &[
    "thread=runtime.sysmon",
    "extent=runtime.newm",
    "end=runtime.schedule",
    "end=runtime.startm",
    "end=runtime.startTemplateThread",
    "end=runtime.main",
    "fresh=on",
    "extent=internal/runtime/cgroup.*",
    "end=runtime.defaultGOMAXPROCSInit",
    "end=runtime.adjustCgroupGOMAXPROCS",
    "quiesce=runtime.startm",
    "exclude=runtime.notesleep",
    "exclude=runtime.notewakeup",
    "exclude=runtime.futex*",
    "exclude=runtime.stopm",
    "exclude=runtime.startm",
    "exclude=runtime.mput",
    "exclude=runtime.mget",
    "exclude=runtime.acquirep*",
    "exclude=runtime.wirep",
    "exclude=runtime.releasep*",
    "exclude=runtime.mReserveID",
    "exclude=runtime.checkmcount",
    "exclude=runtime.startlockedm",
    "exclude=runtime.stoplockedm",
    "exclude=runtime.handoffp",
    "exclude=runtime.wakep",
    "exclude=runtime.(*listHeadManual).*",
    "exclude=runtime.procyield*",
    "exclude=runtime.osyield*",
    "exclude=runtime.usleep*",
    "exclude=runtime.schedule",
    "exclude=runtime.findRunnable",
    "exclude=runtime.stealWork",
    "exclude=runtime.runqsteal",
    "exclude=runtime.runqgrab",
    "exclude=runtime.checkdead",
    "exclude=runtime.pidleput",
    "exclude=runtime.pidleget",
    "exclude=runtime.(*mcache).prepareForSweep",
    "exclude=runtime.lock2",
    "exclude=runtime.unlock2*",
    "exclude=runtime.semasleep",
    "exclude=runtime.semawakeup",
    "exclude=runtime.(*mLockProfile).*",
];

/// The environment of a counted run, over the cell's own: one P runs Go code, the collector
/// runs only when asked (`runtime.GC`, which the testing package calls before each benchmark
/// run), no asynchronous preemption. An explicit `GODEBUG` of the cell keeps its settings.
pub fn counting_env(cell_godebug: Option<&str>) -> Vec<(String, String)> {
    let godebug = match cell_godebug.filter(|g| !g.is_empty()) {
        Some(g) => format!("{g},asyncpreemptoff=1"),
        None => "asyncpreemptoff=1".into(),
    };
    vec![
        ("GOMAXPROCS".into(), "1".into()),
        ("GOGC".into(), "off".into()),
        ("GODEBUG".into(), godebug),
    ]
}

/// What the plugin printed at exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// The instructions counted.
    pub counted: u64,
    /// The instructions the rules kept out.
    pub excluded: u64,
    /// Whether qemu had the binary's symbols (without them no rule applies: a stripped binary
    /// is counted whole, less exactly).
    pub symbols: bool,
    /// Times the held sysmon thread was let go because every other thread was parked (the
    /// program waited for it): the count is then less exact. 0 from older plugins.
    pub stall_releases: u64,
}

/// The plugin's line in qemu's log (`crossmatrix-count counted=N excluded=N … symbols=yes`).
pub fn parse_count(log: &str) -> Option<Count> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with("crossmatrix-count "))?;
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
    };
    Some(Count {
        counted: field("counted")?.parse().ok()?,
        excluded: field("excluded")?.parse().ok()?,
        symbols: field("symbols")? == "yes",
        stall_releases: field("stall-releases")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(dir: &Path, arches: &[&str]) {
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::create_dir_all(dir.join("plugins")).unwrap();
        std::fs::write(dir.join("lib/ld-linux-x86-64.so.2"), "").unwrap();
        std::fs::write(dir.join("plugins/libcrossmatrix-count.so"), "").unwrap();
        for a in arches {
            std::fs::write(dir.join(format!("bin/qemu-{a}")), "").unwrap();
        }
        let list: Vec<String> = arches.iter().map(|a| format!("\"{a}\"")).collect();
        std::fs::write(
            dir.join("counter.json"),
            format!(
                r#"{{"qemu_version":"10.0.13","debian_version":"1:10.0.13+ds-0+deb13u1","arches":[{}],"loader":"lib/ld-linux-x86-64.so.2","libs":"lib","plugin":"plugins/libcrossmatrix-count.so"}}"#,
                list.join(",")
            ),
        )
        .unwrap();
    }

    #[test]
    fn reads_a_counter_and_maps_go_arches() {
        let t = tempfile::tempdir().unwrap();
        fake(t.path(), &["x86_64", "aarch64", "riscv64"]);
        let c = Counter::at(t.path()).unwrap();
        assert_eq!(c.qemu_version, "10.0.13");
        assert_eq!(c.arch_for("amd64"), Some("x86_64"));
        assert_eq!(c.arch_for("arm64"), Some("aarch64"));
        assert_eq!(c.arch_for("s390x"), None);
        assert!(c.missing_arch("s390x").contains("x86_64, aarch64, riscv64"));
        let argv = c.argv(
            Path::new("/.crossmatrix/counter"),
            "aarch64",
            Path::new("/.crossmatrix/count/log"),
        );
        assert_eq!(argv[0], "/.crossmatrix/counter/lib/ld-linux-x86-64.so.2");
        assert_eq!(argv[3], "/.crossmatrix/counter/bin/qemu-aarch64");
        let plugin = &argv[argv.iter().position(|a| a == "-plugin").unwrap() + 1];
        assert!(plugin.starts_with(
            "/.crossmatrix/counter/plugins/libcrossmatrix-count.so,thread=runtime.sysmon,"
        ));
        assert_eq!(argv.last().unwrap(), "/.crossmatrix/count/log");
    }

    #[test]
    fn a_missing_or_broken_counter_says_how_to_build_one() {
        let t = tempfile::tempdir().unwrap();
        let e = Counter::at(t.path()).unwrap_err().0;
        assert!(
            e.contains("no counting qemu in") && e.contains("ci/host-setup --counter"),
            "{e}"
        );
        std::fs::write(t.path().join("counter.json"), "{").unwrap();
        let e = Counter::at(t.path()).unwrap_err().0;
        assert!(e.contains("not a counter manifest"), "{e}");
        fake(t.path(), &["s390x"]);
        std::fs::remove_file(t.path().join("bin/qemu-s390x")).unwrap();
        let e = Counter::at(t.path()).unwrap_err().0;
        assert!(e.contains("lists bin/qemu-s390x but it is missing"), "{e}");
        // Asked for by name: an error, not a silent fallback.
        assert!(Counter::find(Some(&t.path().join("nowhere"))).is_err());
    }

    #[test]
    fn parses_the_plugin_line() {
        let log = "noise\ncrossmatrix-count counted=287334 excluded=25792 total=313126 vcpus=4 threads-excluded=1 symbols=yes quiesce-timeouts=0 stall-releases=2\n";
        assert_eq!(
            parse_count(log),
            Some(Count {
                counted: 287_334,
                excluded: 25_792,
                symbols: true,
                stall_releases: 2,
            })
        );
        assert_eq!(parse_count("qemu: unknown option 'plugin'\n"), None);
        assert_eq!(
            parse_count("crossmatrix-count counted=x excluded=1 symbols=no"),
            None
        );
    }

    #[test]
    fn counting_env_keeps_the_cells_godebug() {
        let env = counting_env(Some("http2client=0"));
        assert!(env.contains(&("GODEBUG".into(), "http2client=0,asyncpreemptoff=1".into())));
        assert!(env.contains(&("GOMAXPROCS".into(), "1".into())));
        assert!(counting_env(None).contains(&("GODEBUG".into(), "asyncpreemptoff=1".into())));
    }
}
