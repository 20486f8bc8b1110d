//! Record builders for the tests of compare, merge, benchstat and html: a record from its
//! cell id, then the parts a test cares about.

use crate::Cause;
use crate::schema::*;

/// A record of `id` (`go1.24/linux-arm64/cgo1-musl/rootfs-musl/probe`) with `status`, no
/// binary and no timings. Fails get `cause`'s default hint.
pub(crate) fn cell(id: &str, status: CellStatus) -> CellRecord {
    let parts: Vec<&str> = id.split('/').collect();
    assert_eq!(parts.len(), 5, "fixture ids have 5 parts: {id}");
    let (goos, goarch) = parts[1].split_once('-').unwrap_or((parts[1], ""));
    let (cgo, libc) = match parts[2].split_once('-') {
        Some((_, libc)) => (1, Some(libc.to_string())),
        None => (u8::from(parts[2] == "cgo1"), None),
    };
    let version = match parts[0] {
        "go1.22" => "go1.22.12".to_string(),
        "go1.24" => "go1.24.4".to_string(),
        other => other.to_string(),
    };
    CellRecord {
        schema: SCHEMA_VERSION,
        id: id.into(),
        toolchain: ToolchainInfo {
            name: parts[0].into(),
            goroot: format!("/usr/lib/go-{}", parts[0].trim_start_matches("go")),
            version,
            out_of_support: None,
        },
        target: TargetInfo {
            goos: goos.into(),
            goarch: goarch.into(),
            variant: None,
        },
        cgo,
        libc,
        rootfs: parts[3].trim_start_matches("rootfs-").into(),
        emulator: None,
        program: parts[4].into(),
        build: BuildRecord {
            status: if status == CellStatus::Skipped {
                StepStatus::Skipped
            } else {
                StepStatus::Ok
            },
            duration_ms: 1000,
            cause: None,
            hint: None,
            log_tail: String::new(),
            cc: None,
            cached: false,
        },
        binary: None,
        run: None,
        startup: None,
        instructions: None,
        uncounted: None,
        status,
        cause: None,
        hint: None,
        inputs_hash: format!("inputs-of-{id}"),
        finished_at: "2025-01-02T03:05:00Z".into(),
        reused_from: None,
        package: None,
        tests: None,
        image: None,
    }
}

/// A test cell's record: `id`, with Go tests `(name, status, output)` and benchmarks.
pub(crate) fn test_cell(id: &str, cases: &[(&str, TestStatus, &str)]) -> CellRecord {
    let failed = cases.iter().any(|c| c.1 == TestStatus::Fail);
    let mut r = cell(
        id,
        if failed {
            CellStatus::Fail
        } else {
            CellStatus::Pass
        },
    );
    if failed {
        r.cause = Some(Cause::TestFailure);
        r.hint = Some("a test failed".into());
    }
    let mut totals = TestTotals::default();
    for (_, st, _) in cases {
        totals.run += 1;
        match st {
            TestStatus::Pass => totals.passed += 1,
            TestStatus::Fail => totals.failed += 1,
            TestStatus::Skip => totals.skipped += 1,
        }
    }
    r.tests = Some(TestsRecord {
        package: "example.com/m/parse".into(),
        totals,
        cases: cases
            .iter()
            .map(|(n, st, out)| TestCase {
                name: n.to_string(),
                status: *st,
                elapsed_ms: 12,
                output: out.to_string(),
                error: String::new(),
                cause: None,
                passes_on_rootfs: Vec::new(),
                steady_under: Vec::new(),
                failed_attempts: 0,
            })
            .collect(),
        ..TestsRecord::default()
    });
    r
}

pub(crate) trait RecordExt: Sized {
    fn size(self, bytes: u64) -> Self;
    fn startup(self, samples_ms: &[f64]) -> Self;
    fn cause(self, cause: Cause) -> Self;
}

impl RecordExt for CellRecord {
    fn size(mut self, bytes: u64) -> Self {
        self.binary = Some(BinaryRecord {
            path: format!("bin/{}/probe", self.id.replace('/', "__")),
            size_bytes: bytes,
            sha256: "0".repeat(64),
            linkage: Linkage::Static,
            interpreter: None,
            needed: vec![],
            go_version: Some(self.toolchain.version.clone()),
            format: Some("elf".into()),
            machine: None,
        });
        self
    }

    fn startup(mut self, samples_ms: &[f64]) -> Self {
        let s = crate::stats::spread(samples_ms).unwrap_or(crate::stats::Spread {
            median: 0.0,
            min: f64::INFINITY,
            mad: 0.0,
        });
        self.startup = Some(StartupRecord {
            reps: samples_ms.len() as u32,
            median_ms: s.median,
            min_ms: s.min,
            mad_ms: s.mad,
            samples_ms: samples_ms.to_vec(),
            ..Default::default()
        });
        self
    }

    fn cause(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self.hint = Some(cause.default_hint().into());
        self
    }
}

/// Ten startup samples around `median_ms`, spread by ±`spread` percent in a fixed pattern
/// (no two equal, so the U test is exact).
pub(crate) fn samples(median_ms: f64, spread: f64) -> Vec<f64> {
    const PATTERN: [f64; 10] = [-1.0, 0.6, -0.2, 0.9, -0.7, 0.1, 0.4, -0.5, 0.75, -0.85];
    PATTERN
        .iter()
        .map(|k| median_ms * (1.0 + k * spread / 100.0))
        .collect()
}
