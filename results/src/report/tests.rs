//! Golden-file tests for every report format, on one fixed fixture that covers every status.
//! `UPDATE_GOLDEN=1 cargo test -p crossmatrix-results` rewrites the files under
//! `results/tests/golden/`; review the diff before committing it.

use super::*;
use crate::Cause;
use crate::schema::*;
use std::path::PathBuf;

fn toolchain(name: &str, version: &str) -> ToolchainInfo {
    ToolchainInfo {
        name: name.into(),
        version: version.into(),
        goroot: format!("/opt/go/{version}"),
        out_of_support: None,
    }
}

fn target(goos: &str, goarch: &str) -> TargetInfo {
    TargetInfo {
        goos: goos.into(),
        goarch: goarch.into(),
        variant: None,
    }
}

fn build_ok(ms: u64) -> BuildRecord {
    BuildRecord {
        status: StepStatus::Ok,
        duration_ms: ms,
        cause: None,
        hint: None,
        log_tail: String::new(),
        cc: None,
        cached: false,
    }
}

fn binary(size: u64, linkage: Linkage, machine: &str) -> BinaryRecord {
    BinaryRecord {
        path: "bin/probe".into(),
        size_bytes: size,
        sha256: "0".repeat(64),
        linkage,
        interpreter: None,
        needed: vec![],
        go_version: Some("go1.24.4".into()),
        format: Some("elf".into()),
        machine: Some(machine.into()),
    }
}

fn run_ok(executor: &str, version: Option<&str>, ms: u64) -> RunRecord {
    RunRecord {
        status: StepStatus::Ok,
        executor: executor.into(),
        executor_version: version.map(String::from),
        exit_code: Some(0),
        signal: None,
        duration_ms: ms,
        cause: None,
        hint: None,
        stdout_tail: "ok\n".into(),
        stderr_tail: String::new(),
        recheck: None,
        cpu: None,
        failed_attempts: Vec::new(),
        timeout_scale: None,
        steady_under: Vec::new(),
    }
}

fn startup(median: f64, mad: f64) -> StartupRecord {
    StartupRecord {
        reps: 5,
        median_ms: median,
        min_ms: median - mad,
        mad_ms: mad,
        samples_ms: vec![
            median - mad,
            median,
            median,
            median + mad,
            median + 2.0 * mad,
        ],
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    tc: ToolchainInfo,
    tgt: TargetInfo,
    cgo: u8,
    libc: Option<&str>,
    rootfs: &str,
    build: BuildRecord,
    status: CellStatus,
) -> CellRecord {
    let mode = match (cgo, libc) {
        (0, _) => "cgo0".to_string(),
        (_, None) => "cgo1".to_string(),
        (_, Some(l)) => format!("cgo1-{l}"),
    };
    CellRecord {
        schema: SCHEMA_VERSION,
        id: format!(
            "{}/{}-{}/{mode}/rootfs-{rootfs}/probe",
            tc.name, tgt.goos, tgt.goarch
        ),
        toolchain: tc,
        target: tgt,
        cgo,
        libc: libc.map(String::from),
        rootfs: rootfs.into(),
        emulator: None,
        program: "probe".into(),
        build,
        binary: None,
        run: None,
        startup: None,
        instructions: None,
        uncounted: None,
        status,
        cause: None,
        hint: None,
        inputs_hash: "h".into(),
        finished_at: "2025-01-02T03:05:00Z".into(),
        reused_from: None,
        package: None,
        tests: None,
        image: None,
    }
}

/// Six cells: pass native, pass under qemu-binfmt, a missing ELF interpreter, a build
/// error, a planner skip and a built-not-run.
pub(crate) fn fixture_records() -> Vec<CellRecord> {
    let go124 = || toolchain("go1.24", "go1.24.4");
    let go122 = || toolchain("go1.22", "go1.22.12");

    let mut native = record(
        go124(),
        target("linux", "amd64"),
        0,
        None,
        "scratch",
        build_ok(2100),
        CellStatus::Pass,
    );
    native.binary = Some(binary(1_572_864, Linkage::Static, "x86_64"));
    native.run = Some(run_ok("native", None, 14));
    native.startup = Some(startup(1.234, 0.05));

    let mut qemu = record(
        go124(),
        target("linux", "arm64"),
        1,
        Some("musl"),
        "musl",
        build_ok(5400),
        CellStatus::Pass,
    );
    qemu.build.cc = Some("zig cc -target aarch64-linux-musl".into());
    qemu.binary = Some(binary(2_400_000, Linkage::Static, "aarch64"));
    qemu.run = Some(run_ok("qemu-binfmt", Some("7.2.22"), 180));
    qemu.startup = Some(startup(12.5, 0.8));

    let mut no_interp = record(
        go124(),
        target("linux", "arm64"),
        1,
        Some("gnu"),
        "musl",
        build_ok(5100),
        CellStatus::Fail,
    );
    let mut bin = binary(2_500_000, Linkage::Dynamic, "aarch64");
    bin.interpreter = Some("/lib/ld-linux-aarch64.so.1".into());
    bin.needed = vec!["libc.so.6".into()];
    no_interp.binary = Some(bin);
    no_interp.run = Some(RunRecord {
        status: StepStatus::Fail,
        exit_code: Some(255),
        cause: Some(Cause::MissingInterpreter),
        hint: Some(Cause::MissingInterpreter.default_hint().into()),
        stdout_tail: String::new(),
        stderr_tail:
            "qemu-aarch64: Could not open '/lib/ld-linux-aarch64.so.1': No such file or directory\n"
                .into(),
        ..run_ok("qemu-binfmt", Some("7.2.22"), 40)
    });
    no_interp.cause = Some(Cause::MissingInterpreter);
    no_interp.hint = Some(Cause::MissingInterpreter.default_hint().into());

    let mut build_err = record(
        go122(),
        target("linux", "riscv64"),
        0,
        None,
        "scratch",
        BuildRecord {
            status: StepStatus::Fail,
            duration_ms: 900,
            cause: Some(Cause::BuildError),
            hint: Some("fix the compile error shown in build.log_tail".into()),
            log_tail: "# example.com/probe\n./main.go:9:14: undefined: iter.Seq\nnote: module requires go >= 1.23 (running go 1.22.12; GOTOOLCHAIN=local) & more\n".into(),
            cc: None,
            cached: false,
        },
        CellStatus::Fail,
    );
    build_err.cause = Some(Cause::BuildError);
    build_err.hint =
        Some("fix the compile error shown in build.log_tail | iter needs go1.23".into());

    let mut skipped = record(
        go122(),
        target("wasip1", "wasm"),
        1,
        None,
        "scratch",
        BuildRecord {
            status: StepStatus::Skipped,
            ..build_ok(0)
        },
        CellStatus::Skipped,
    );
    skipped.cause = Some(Cause::UnsupportedTarget);
    skipped.hint = Some("cgo is not available on wasip1/wasm".into());

    let mut built = record(
        go124(),
        target("linux", "s390x"),
        0,
        None,
        "scratch",
        build_ok(2600),
        CellStatus::Built,
    );
    built.binary = Some(binary(1_700_000, Linkage::Static, "s390x"));
    built.cause = Some(Cause::NoExecutor);
    built.hint = Some(Cause::NoExecutor.default_hint().into());

    vec![native, qemu, no_interp, build_err, skipped, built]
}

pub(crate) fn fixture_meta() -> RunMeta {
    RunMeta {
        schema: SCHEMA_VERSION,
        crossmatrix_version: "0.1.0".into(),
        started_at: "2025-01-02T03:04:05Z".into(),
        finished_at: "2025-01-02T03:06:10Z".into(),
        wall_ms: 125_000,
        host: HostInfo {
            hostname: "ci-1".into(),
            os: "Debian GNU/Linux 12".into(),
            kernel: "6.1.0".into(),
            arch: "x86_64".into(),
            cores: 2,
            user: "runner".into(),
            binfmt: true,
        },
        tools: vec![],
        toolchains: vec![],
        matrix_hash: "abc123".into(),
        planned: vec![],
        shard: None,
        matrix_planned: Vec::new(),
        command: Vec::new(),
        cwd: String::new(),
        commit: None,
        jobs: 2,
        reps: 5,
        timing: Some("quiet".into()),
        wall_s: 0.0,
        cpu_s: 0.0,
        cpu_bound_s: 0.0,
        cores: 0,
        totals: Totals::default(),
        interrupted: false,
        shards: vec![],
    }
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file, or rewrites it under `UPDATE_GOLDEN=1`.
pub(crate) fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read golden file {}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the output (UPDATE_GOLDEN=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

fn rendered(format: ReportFormat, color: bool) -> String {
    let meta = fixture_meta();
    render(
        format,
        &fixture_records(),
        Some(&meta),
        &RenderOptions { color },
    )
    .unwrap()
}

#[test]
fn table_golden() {
    check_golden("table.txt", &rendered(ReportFormat::Table, false));
}

#[test]
fn table_color_golden() {
    let out = rendered(ReportFormat::Table, true);
    assert!(out.contains("\x1b[32mpass\x1b[0m"));
    assert!(out.contains("\x1b[31mFAIL\x1b[0m"));
    check_golden("table-color.txt", &out);
    // Colour changes nothing but the escapes.
    let plain: String = strip_ansi(&out);
    assert_eq!(plain, rendered(ReportFormat::Table, false));
}

pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn table_without_meta_or_records() {
    let records = fixture_records();
    let out = render(
        ReportFormat::Table,
        &records,
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    assert!(
        out.ends_with("6 cells: 2 passed, 2 failed, 1 skipped, 1 built (not run)\n"),
        "{out}"
    );
    let only_pass = render(
        ReportFormat::Table,
        &records[..1],
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    assert!(!only_pass.contains("CAUSE"), "{only_pass}");
    let mut reused = records[..2].to_vec();
    reused[1].reused_from = Some("2025-01-01T00:00:00Z".into());
    let out = render(
        ReportFormat::Table,
        &reused,
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    assert!(
        out.ends_with("; 1 reused from an earlier run (inputs unchanged)\n"),
        "{out}"
    );
    let empty = render(ReportFormat::Table, &[], None, &RenderOptions::default()).unwrap();
    assert_eq!(
        empty,
        "0 cells: 0 passed, 0 failed, 0 skipped, 0 built (not run)\n"
    );
}

#[test]
fn markdown_golden() {
    check_golden("report.md", &rendered(ReportFormat::Markdown, false));
}

#[test]
fn json_golden_round_trips() {
    let out = rendered(ReportFormat::Json, false);
    check_golden("cells.json", &out);
    let back: Vec<CellRecord> = serde_json::from_str(&out).unwrap();
    assert_eq!(back, fixture_records());
}

#[test]
fn junit_golden_is_well_formed() {
    let out = rendered(ReportFormat::Junit, false);
    check_golden("junit.xml", &out);
    let report = quick_junit::Report::deserialize_from_str(&out).unwrap();
    assert_eq!((report.tests, report.failures, report.skipped), (6, 2, 1));
    let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["go1.24", "go1.22"]);
    let case = &report.test_suites[0].test_cases[2];
    assert_eq!(case.name.as_str(), "probe on musl");
    assert_eq!(
        case.classname.as_ref().map(|c| c.as_str()),
        Some("linux/arm64/cgo1-gnu")
    );
    match &case.status {
        quick_junit::TestCaseStatus::NonSuccess { ty, .. } => {
            assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("missing-interpreter"))
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn every_format_renders_no_records() {
    for &format in ReportFormat::ALL {
        render(format, &[], None, &RenderOptions::default()).unwrap();
    }
}

#[test]
fn format_names_parse() {
    for (name, format) in [
        ("table", ReportFormat::Table),
        ("md", ReportFormat::Markdown),
        ("markdown", ReportFormat::Markdown),
        ("json", ReportFormat::Json),
        ("JUnit", ReportFormat::Junit),
        ("benchstat", ReportFormat::Benchstat),
        ("HTML", ReportFormat::Html),
        ("bmf", ReportFormat::Bmf),
        ("github-action-benchmark", ReportFormat::GithubBenchmark),
        ("OpenMetrics", ReportFormat::OpenMetrics),
    ] {
        assert_eq!(name.parse::<ReportFormat>().unwrap(), format);
    }
    for &format in ReportFormat::ALL {
        assert_eq!(format.name().parse::<ReportFormat>().unwrap(), format);
    }
    let err = "xml".parse::<ReportFormat>().unwrap_err();
    assert!(err.to_string().contains("table, md, json, junit"), "{err}");
    assert!(
        err.to_string()
            .contains("bmf, github-action-benchmark, openmetrics"),
        "{err}"
    );
}

#[test]
fn benchstat_golden() {
    check_golden("benchstat.txt", &rendered(ReportFormat::Benchstat, false));
}

/// Two test cells (one passing with a benchmark, one failing) and a program cell.
fn go_test_records() -> Vec<CellRecord> {
    use crate::fixtures::test_cell;
    let mut ok = test_cell(
        "go1.24/linux-amd64/cgo0/rootfs-scratch/parse",
        &[
            ("TestParse", TestStatus::Pass, ""),
            ("TestParse/empty", TestStatus::Pass, ""),
            (
                "TestNet",
                TestStatus::Skip,
                "    net_test.go:9: needs network\n",
            ),
        ],
    );
    if let Some(t) = ok.tests.as_mut() {
        t.benchmarks = vec![BenchmarkResult {
            name: "BenchmarkParse".into(),
            procs: 2,
            iterations: 1000,
            ns_per_op: 1234.0,
            bytes_per_op: Some(64.0),
            allocs_per_op: Some(2.0),
            metrics: Default::default(),
            instructions: None,
        }];
    }
    let bad = test_cell(
        "go1.24/linux-arm64/cgo0/rootfs-scratch/parse",
        &[
            ("TestParse", TestStatus::Fail, ""),
            (
                "TestParse/empty",
                TestStatus::Fail,
                "=== RUN   TestParse/empty\n    parse_test.go:20: got 1, want 0\n--- FAIL: TestParse/empty (0.00s)\n",
            ),
            (
                "TestNet",
                TestStatus::Skip,
                "    net_test.go:9: needs network\n",
            ),
        ],
    );
    vec![
        ok,
        bad,
        crate::fixtures::cell(
            "go1.24/linux-amd64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        ),
    ]
}

#[test]
fn packages_without_test_files_are_one_line_in_the_table() {
    let mut recs = go_test_records();
    for (arch, program) in [("amd64", "tool"), ("arm64", "tool"), ("amd64", "internal")] {
        let mut r = crate::fixtures::cell(
            &format!("go1.24/linux-{arch}/cgo0/rootfs-scratch/{program}"),
            CellStatus::Skipped,
        );
        r.program = program.into();
        r.cause = Some(Cause::NoTestFiles);
        r.hint = Some(format!(
            "/m/{program} has no _test.go files: nothing to test"
        ));
        recs.push(r);
    }
    let table = render(ReportFormat::Table, &recs, None, &RenderOptions::default()).unwrap();
    assert!(
        table.contains(
            "skip    no test files in 2 packages (3 cells, cause no-test-files): internal, tool\n\n"
        ),
        "{table}"
    );
    assert!(!table.contains("has no _test.go files"), "{table}");
    assert!(
        table.contains("3 skipped"),
        "the totals count them: {table}"
    );
}

#[test]
fn go_tests_render_in_every_format() {
    let recs = go_test_records();
    let r = |f| render(f, &recs, None, &RenderOptions::default()).unwrap();
    let table = r(ReportFormat::Table);
    assert!(table.contains("TESTS"), "{table}");
    assert!(
        table.contains("2 passed, 1 skipped, 1 benchmarks"),
        "{table}"
    );
    assert!(table.contains("2 of 3 failed, 1 skipped"), "{table}");
    assert!(
        table.contains("✗ TestParse/empty: parse_test.go:20: got 1, want 0"),
        "{table}"
    );
    assert!(
        table.contains("6 Go tests: 2 passed, 2 failed, 2 skipped"),
        "{table}"
    );
    let md = r(ReportFormat::Markdown);
    assert!(md.contains("### Failing tests"), "{md}");
    assert!(md.contains("| `go1.24/linux-arm64/cgo0/rootfs-scratch/parse` | `example.com/m/parse` | `TestParse/empty` | parse_test.go:20: got 1, want 0 |"), "{md}");
    let html = r(ReportFormat::Html);
    assert!(
        html.contains("<h2>Go tests</h2>") && html.contains("needs network"),
        "{html}"
    );
    let bench = r(ReportFormat::Benchstat);
    assert!(bench.contains("toolchain: go1.24\ntarget: linux-amd64\nmode: cgo0\nrootfs: scratch\npkg: example.com/m/parse\nBenchmarkParse-2 1000 1234 ns/op 64 B/op 2 allocs/op"), "{bench}");
    let json: serde_json::Value = serde_json::from_str(&r(ReportFormat::Json)).unwrap();
    assert_eq!(json[1]["tests"]["totals"]["failed"], 2);
}

#[test]
fn junit_has_a_testcase_per_go_test() {
    let recs = go_test_records();
    let xml = render(ReportFormat::Junit, &recs, None, &RenderOptions::default()).unwrap();
    // Well-formed XML, every element closed.
    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not XML: {e}\n{xml}"),
        }
    }
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        suites,
        [
            "go1.24",
            "go1.24/linux-amd64/cgo0/rootfs-scratch/parse",
            "go1.24/linux-arm64/cgo0/rootfs-scratch/parse"
        ]
    );
    let arm = &report.test_suites[2];
    assert_eq!(arm.test_cases.len(), 3);
    assert_eq!((arm.failures, arm.skipped), (2, 1));
    let case = &arm.test_cases[1];
    assert_eq!(case.name.as_str(), "TestParse/empty");
    assert_eq!(
        case.classname.as_ref().map(|c| c.as_str()),
        Some("example.com/m/parse")
    );
    match &case.status {
        quick_junit::TestCaseStatus::NonSuccess { message, ty, .. } => {
            assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("test-failure"));
            assert_eq!(
                message.as_ref().map(|m| m.as_str()),
                Some("parse_test.go:20: got 1, want 0")
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// What the dashboard formats' goldens render: the fixture (every status), the Go test cells
/// (a benchmark at GOMAXPROCS 2), a benchmark run with `-count 2` that also reports `MB/s` and
/// a custom unit, and an emulated cell of a sub-arch variant under a named emulator. The
/// goldens are what `ci/tests/dashboard-formats.sh` hands to each consumer's parser.
fn dashboard_records() -> Vec<CellRecord> {
    use crate::fixtures::RecordExt;
    let mut recs = fixture_records();
    recs.extend(go_test_records());
    let mut counted = crate::fixtures::test_cell(
        "go1.24/linux-riscv64/cgo0/rootfs-scratch/hash",
        &[("TestSum", TestStatus::Pass, "")],
    );
    if let Some(t) = counted.tests.as_mut() {
        t.package = "example.com/m/hash".into();
        t.benchmarks = [980.5, 1010.25]
            .iter()
            .map(|ns| BenchmarkResult {
                name: "BenchmarkSum/1KiB".into(),
                procs: 1,
                iterations: 500_000,
                ns_per_op: *ns,
                bytes_per_op: Some(0.0),
                allocs_per_op: Some(0.0),
                metrics: [
                    ("MB/s".to_string(), 1024.0 / ns * 1e3),
                    ("ns/byte".to_string(), ns / 1024.0),
                ]
                .into_iter()
                .collect(),
                instructions: None,
            })
            .collect();
    }
    let mut emulated = crate::fixtures::cell(
        "go1.24/linux-arm-GOARM7/cgo0/rootfs-scratch/probe",
        CellStatus::Pass,
    )
    .size(1_480_000)
    .startup(&[52.5, 50.0, 51.25]);
    emulated.id = "go1.24/linux-arm-GOARM7/cgo0/rootfs-scratch/emu-qemu-10.0.2/probe".into();
    emulated.target.goarch = "arm".into();
    emulated.target.variant = Some("GOARM=7".into());
    emulated.emulator = Some(EmulatorInfo {
        name: "qemu-10.0.2".into(),
        dir: Some("/opt/crossmatrix/qemu-backports/usr/bin".into()),
        version: Some("10.0.2".into()),
    });
    recs.push(counted);
    recs.push(emulated);
    recs
}

fn dashboard(format: ReportFormat) -> String {
    let meta = fixture_meta();
    render(
        format,
        &dashboard_records(),
        Some(&meta),
        &RenderOptions::default(),
    )
    .unwrap()
}

#[test]
fn bmf_golden() {
    check_golden("bmf.json", &dashboard(ReportFormat::Bmf));
}

#[test]
fn github_action_benchmark_golden() {
    check_golden(
        "github-action-benchmark.json",
        &dashboard(ReportFormat::GithubBenchmark),
    );
}

#[test]
fn openmetrics_golden() {
    check_golden("openmetrics.txt", &dashboard(ReportFormat::OpenMetrics));
}

#[test]
fn counted_instructions_are_a_column_and_a_missing_count_says_why() {
    use crate::fixtures::{RecordExt, cell};
    use crate::schema::{CounterInfo, InstructionsRecord};
    let counter = CounterInfo {
        qemu_version: "10.0.13".into(),
        cpu: Some("cortex-a57".into()),
        arch: "aarch64".into(),
    };
    let mut exact =
        cell("go1.27/linux-arm64/cgo0/rootfs-scratch/a", CellStatus::Pass).size(1 << 20);
    exact.instructions = Some(InstructionsRecord {
        count: 287_334,
        samples: vec![287_334, 287_334, 287_334],
        excluded: vec![25_792, 25_792, 25_752],
        counter: counter.clone(),
    });
    let mut varied = cell(
        "go1.27/linux-riscv64/cgo0/rootfs-scratch/a",
        CellStatus::Pass,
    );
    varied.instructions = Some(InstructionsRecord {
        count: 341_535,
        samples: vec![341_516, 341_535, 341_545],
        excluded: vec![],
        counter,
    });
    let mut none = cell(
        "go1.27/linux-ppc64le/cgo0/rootfs-scratch/a",
        CellStatus::Pass,
    );
    none.uncounted = Some("the counting qemu in /c has no emulator for ppc64le".into());
    let out = crate::render(
        ReportFormat::Table,
        &[exact, varied, none],
        None,
        &crate::RenderOptions::default(),
    )
    .unwrap();
    assert!(
        out.lines().next().unwrap().contains("INSTRUCTIONS"),
        "{out}"
    );
    assert!(out.contains(" 287334\n"), "{out}");
    assert!(out.contains("341535 ±0.008%"), "{out}");
    assert!(
        out.contains("↳ not counted: the counting qemu in /c has no emulator for ppc64le"),
        "{out}"
    );
}
