//! Tests of `compare`: every status transition, the startup test's verdicts, toolchain
//! splitting, gates, and golden outputs of a toolchain upgrade.

use super::*;
use crate::fixtures::{RecordExt, cell, samples};
use crate::report::tests::{check_golden, strip_ansi};
use CellStatus::{Built, Fail, Pass, Skipped};

/// One run with go1.22 and go1.24 cells, covering every kind of change.
fn upgrade_run() -> Vec<CellRecord> {
    let c = |tc: &str, rest: &str, status| cell(&format!("{tc}/{rest}"), status);
    vec![
        // Same, size +4.2%, startup not significantly different.
        c("go1.22", "linux-amd64/cgo0/rootfs-scratch/probe", Pass)
            .size(1_572_864)
            .startup(&samples(1.23, 4.0)),
        // Same, startup significantly slower.
        c("go1.22", "linux-arm64/cgo0/rootfs-scratch/probe", Pass)
            .size(1_638_400)
            .startup(&samples(12.5, 2.0)),
        // Regressed: the new glibc symbol version is not in the rootfs.
        c("go1.22", "linux-arm64/cgo1-gnu/rootfs-glibc/probe", Pass)
            .size(2_400_000)
            .startup(&samples(14.0, 2.0)),
        // Fixed.
        c("go1.22", "linux-riscv64/cgo0/rootfs-scratch/probe", Fail).cause(Cause::BuildError),
        // Still failing.
        c("go1.22", "linux-arm64/cgo1-gnu/rootfs-musl/probe", Fail)
            .size(2_500_000)
            .cause(Cause::MissingInterpreter),
        // Cause changed.
        c("go1.22", "linux-mips/cgo0/rootfs-scratch/probe", Fail)
            .size(1_800_000)
            .cause(Cause::Signal),
        // Status changed: no executor for it any more.
        c("go1.22", "linux-s390x/cgo0/rootfs-scratch/probe", Pass)
            .size(1_700_000)
            .startup(&samples(30.0, 2.0)),
        // Same (skipped on both).
        c("go1.22", "wasip1-wasm/cgo1/rootfs-scratch/probe", Skipped)
            .cause(Cause::UnsupportedTarget),
        // Removed.
        c("go1.22", "linux-ppc64/cgo0/rootfs-scratch/probe", Pass).size(1_600_000),
        // Same, too few samples to judge startup; size smaller.
        c("go1.22", "linux-386/cgo0/rootfs-scratch/probe", Pass)
            .size(1_500_000)
            .startup(&[2.0, 2.1, 2.2]),
        c("go1.24", "linux-amd64/cgo0/rootfs-scratch/probe", Pass)
            .size(1_638_400)
            .startup(&samples(1.25, 4.0)),
        c("go1.24", "linux-arm64/cgo0/rootfs-scratch/probe", Pass)
            .size(1_703_936)
            .startup(&samples(14.0, 2.0)),
        c("go1.24", "linux-arm64/cgo1-gnu/rootfs-glibc/probe", Fail)
            .size(2_450_000)
            .cause(Cause::GlibcVersion),
        c("go1.24", "linux-riscv64/cgo0/rootfs-scratch/probe", Pass)
            .size(1_650_000)
            .startup(&samples(20.0, 2.0)),
        c("go1.24", "linux-arm64/cgo1-gnu/rootfs-musl/probe", Fail)
            .size(2_560_000)
            .cause(Cause::MissingInterpreter),
        c("go1.24", "linux-mips/cgo0/rootfs-scratch/probe", Fail)
            .size(1_850_000)
            .cause(Cause::Timeout),
        c("go1.24", "linux-s390x/cgo0/rootfs-scratch/probe", Built)
            .size(1_750_000)
            .cause(Cause::NoExecutor),
        c("go1.24", "wasip1-wasm/cgo1/rootfs-scratch/probe", Skipped)
            .cause(Cause::UnsupportedTarget),
        c("go1.24", "linux-386/cgo0/rootfs-scratch/probe", Pass)
            .size(1_450_000)
            .startup(&[2.5, 2.6, 2.7]),
        // Added, and failing.
        c("go1.24", "linux-loong64/cgo0/rootfs-scratch/probe", Fail)
            .size(1_700_000)
            .cause(Cause::EmulatorCrash),
    ]
}

fn upgrade() -> Comparison {
    let opts = CompareOptions {
        base_label: "go1.22".into(),
        new_label: "go1.24".into(),
        ..CompareOptions::default()
    };
    compare_toolchains(&upgrade_run(), "go1.22", "go1.24", &opts)
}

fn change_of<'a>(cmp: &'a Comparison, key: &str) -> &'a CellComparison {
    cmp.cells
        .iter()
        .find(|c| c.key == key)
        .unwrap_or_else(|| panic!("no cell {key}"))
}

#[test]
fn every_transition_is_classified() {
    let cmp = upgrade();
    for (key, change) in [
        ("linux-amd64/cgo0/rootfs-scratch/probe", Change::Same),
        ("linux-arm64/cgo1-gnu/rootfs-glibc/probe", Change::Regressed),
        ("linux-riscv64/cgo0/rootfs-scratch/probe", Change::Fixed),
        (
            "linux-arm64/cgo1-gnu/rootfs-musl/probe",
            Change::StillFailing,
        ),
        ("linux-mips/cgo0/rootfs-scratch/probe", Change::CauseChanged),
        (
            "linux-s390x/cgo0/rootfs-scratch/probe",
            Change::StatusChanged,
        ),
        ("wasip1-wasm/cgo1/rootfs-scratch/probe", Change::Same),
        ("linux-ppc64/cgo0/rootfs-scratch/probe", Change::Removed),
        ("linux-loong64/cgo0/rootfs-scratch/probe", Change::Added),
    ] {
        assert_eq!(change_of(&cmp, key).change, change, "{key}");
    }
    let s = &cmp.summary;
    assert_eq!(
        (
            s.cells,
            s.regressed,
            s.fixed,
            s.still_failing,
            s.cause_changed,
            s.status_changed,
            s.added,
            s.removed,
            s.same
        ),
        (11, 1, 1, 1, 1, 1, 1, 1, 4)
    );
    // Base order first, cells only in new last; the sides keep their own ids.
    assert_eq!(cmp.cells[0].key, "linux-amd64/cgo0/rootfs-scratch/probe");
    assert_eq!(cmp.cells[10].key, "linux-loong64/cgo0/rootfs-scratch/probe");
    let regressed = change_of(&cmp, "linux-arm64/cgo1-gnu/rootfs-glibc/probe");
    assert_eq!(
        regressed.base.as_ref().unwrap().id,
        "go1.22/linux-arm64/cgo1-gnu/rootfs-glibc/probe"
    );
    assert_eq!(
        regressed.new.as_ref().unwrap().id,
        "go1.24/linux-arm64/cgo1-gnu/rootfs-glibc/probe"
    );
}

#[test]
fn pass_to_skipped_and_fail_to_built_are_status_changes() {
    let base = [
        cell("go1.24/linux-arm64/cgo0/rootfs-scratch/probe", Pass),
        cell("go1.24/linux-mips/cgo0/rootfs-scratch/probe", Fail).cause(Cause::Signal),
        cell("go1.24/linux-s390x/cgo0/rootfs-scratch/probe", Skipped),
    ];
    let new = [
        cell("go1.24/linux-arm64/cgo0/rootfs-scratch/probe", Skipped),
        cell("go1.24/linux-mips/cgo0/rootfs-scratch/probe", Built),
        // A cell that was skipped and now fails is a new failure.
        cell("go1.24/linux-s390x/cgo0/rootfs-scratch/probe", Fail).cause(Cause::Timeout),
    ];
    let cmp = compare(&base, &new, &CompareOptions::default());
    let changes: Vec<Change> = cmp.cells.iter().map(|c| c.change).collect();
    assert_eq!(
        changes,
        [
            Change::StatusChanged,
            Change::StatusChanged,
            Change::Regressed
        ]
    );
}

#[test]
fn the_last_record_of_an_id_counts() {
    let id = "go1.24/linux-arm64/cgo0/rootfs-scratch/probe";
    let base = [cell(id, Pass)];
    // A resumed run appended a re-run of the cell after its first record.
    let new = [cell(id, Fail).cause(Cause::Timeout), cell(id, Pass)];
    let cmp = compare(&base, &new, &CompareOptions::default());
    assert_eq!(cmp.cells.len(), 1);
    assert_eq!(cmp.cells[0].change, Change::Same);
    assert_eq!(cmp.cells[0].key, id);
}

#[test]
fn startup_verdicts_follow_the_u_test() {
    let cmp = upgrade();
    let slower = change_of(&cmp, "linux-arm64/cgo0/rootfs-scratch/probe")
        .startup
        .as_ref()
        .unwrap();
    assert!(slower.significant, "{slower:?}");
    assert!((slower.delta_pct - 12.0).abs() < 1e-9, "{slower:?}");
    // 10 + 10 samples, completely separated: the exact two-sided p is 2/C(20,10).
    assert!((slower.p_value.unwrap() - 2.0 / 184_756.0).abs() < 1e-15);
    assert_eq!(slower.verdict(), "+12.00% (p=0.000 n=10+10)");

    let noise = change_of(&cmp, "linux-amd64/cgo0/rootfs-scratch/probe")
        .startup
        .as_ref()
        .unwrap();
    assert!(!noise.significant, "{noise:?}");
    assert!(noise.verdict().starts_with("~ (p="), "{}", noise.verdict());

    let few = change_of(&cmp, "linux-386/cgo0/rootfs-scratch/probe")
        .startup
        .as_ref()
        .unwrap();
    assert_eq!(few.p_value, None);
    assert_eq!(few.verdict(), "~ (n=3+3, too few samples)");

    // The geomean counts only the significant cell.
    assert_eq!(cmp.summary.startup_compared, 3);
    assert_eq!(cmp.summary.startup_significant, 1);
    assert!((cmp.summary.startup_geomean_pct.unwrap() - 12.0).abs() < 1e-9);
}

#[test]
fn size_deltas_and_geomean() {
    let cmp = upgrade();
    let amd64 = change_of(&cmp, "linux-amd64/cgo0/rootfs-scratch/probe")
        .size
        .as_ref()
        .unwrap();
    assert_eq!(amd64.delta_bytes, 65_536);
    assert!((amd64.delta_pct - 4.166_666_666_666_667).abs() < 1e-9);
    // Every cell with a binary on both sides counts, failing or not.
    assert_eq!(cmp.summary.size_cells, 7);
    let g = cmp.summary.size_geomean_pct.unwrap();
    assert!(g > 0.0 && g < 5.0, "{g}");
}

#[test]
fn split_by_toolchain_rewrites_ids_to_a_common_key() {
    let run = upgrade_run();
    let (a, b) = split_by_toolchain(&run, "go1.22", "go1.24");
    assert_eq!(a.len(), 10);
    assert_eq!(b.len(), 10);
    assert!(a.iter().chain(&b).all(|r| !r.id.starts_with("go1.")));
    assert_eq!(a[0].id, "linux-amd64/cgo0/rootfs-scratch/probe");
    // By version works too.
    let (a2, _) = split_by_toolchain(&run, "go1.22.12", "go1.24");
    assert_eq!(a2.len(), 10);
    // compare() on the split gives the same changes as compare_toolchains.
    let via_split = compare(&a, &b, &CompareOptions::default());
    let direct = upgrade();
    let changes = |c: &Comparison| {
        c.cells
            .iter()
            .map(|c| (c.key.clone(), c.change))
            .collect::<Vec<_>>()
    };
    assert_eq!(changes(&via_split), changes(&direct));
    let (none, _) = split_by_toolchain(&run, "go1.99", "go1.24");
    assert!(none.is_empty());
    assert_eq!(toolchain_names(&run), ["go1.22", "go1.24"]);
}

#[test]
fn gates_parse() {
    assert_eq!("new-failure".parse::<Gate>().unwrap(), Gate::NewFailure);
    assert_eq!(" New-Failures ".parse::<Gate>().unwrap(), Gate::NewFailure);
    assert_eq!("flaky".parse::<Gate>().unwrap(), Gate::Flaky);
    assert_eq!("size>+5%".parse::<Gate>().unwrap(), Gate::SizeIncrease(5.0));
    assert_eq!(
        "size > 2.5 %".parse::<Gate>().unwrap(),
        Gate::SizeIncrease(2.5)
    );
    assert_eq!(
        "startup>+10%".parse::<Gate>().unwrap(),
        Gate::StartupIncrease(10.0)
    );
    for gate in [
        Gate::NewFailure,
        Gate::Flaky,
        Gate::SizeIncrease(5.0),
        Gate::StartupIncrease(12.5),
    ] {
        assert_eq!(gate.to_string().parse::<Gate>().unwrap(), gate);
    }
    for (input, reason) in [
        ("size>5", "must be a percentage, as in `size>+5%`"),
        ("size", "needs a limit, as in `size>+5%`"),
        (
            "binary>5%",
            "unknown measure `binary` (size, startup or instructions)",
        ),
        ("new-failure!", "unknown gate `new-failure!`"),
        ("startup>+ten%", "`+ten` is not a number"),
        ("startup>-3%", "is negative"),
        ("size>+nan%", "is not a number"),
    ] {
        let err = input.parse::<Gate>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(reason), "{input}: {msg}");
        assert!(msg.starts_with(&format!("invalid gate `{input}`")), "{msg}");
        assert!(
            msg.contains(
                "`new-failure`, `flaky`, `size>+P%`, `startup>+P%` and `instructions>+P%`"
            ),
            "{msg}"
        );
    }
}

#[test]
fn gates_list_offending_cells() {
    let cmp = upgrade();
    let v = check_gates(
        &cmp,
        &[
            Gate::NewFailure,
            Gate::SizeIncrease(4.0),
            Gate::StartupIncrease(10.0),
            Gate::StartupIncrease(15.0),
        ],
    );
    let lines: Vec<String> = v.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "new-failure: linux-arm64/cgo1-gnu/rootfs-glibc/probe: pass → fail (glibc-version)",
            "new-failure: linux-loong64/cgo0/rootfs-scratch/probe: (absent) → fail (emulator-crash)",
            "size>+4%: linux-amd64/cgo0/rootfs-scratch/probe: 1.5 MiB → 1.6 MiB (+64.0 KiB, +4.17%)",
            "startup>+10%: linux-arm64/cgo0/rootfs-scratch/probe: 12.5 ms → 14.0 ms (+12.00% (p=0.000 n=10+10))",
        ]
    );
    // The amd64 startup moved but not significantly; the 386 one has too few samples.
    assert!(check_gates(&cmp, &[Gate::StartupIncrease(0.0)]).len() == 1);
    assert!(check_gates(&cmp, &[]).is_empty());
}

#[test]
fn comparison_goldens() {
    let cmp = upgrade();
    let table = render_comparison(&cmp, CompareFormat::Table, false);
    check_golden("compare.txt", &table);
    let colored = render_comparison(&cmp, CompareFormat::Table, true);
    assert!(
        colored.contains("\x1b[31mREGRESSED (1)\x1b[0m"),
        "{colored}"
    );
    assert_eq!(strip_ansi(&colored), table);
    check_golden(
        "compare.md",
        &render_comparison(&cmp, CompareFormat::Markdown, false),
    );
    let json = render_comparison(&cmp, CompareFormat::Json, false);
    check_golden("compare.json", &json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["summary"]["regressed"], 1);
    assert_eq!(v["cells"][2]["change"], "regressed");
    assert_eq!(v["cells"][2]["new"]["cause"], "glibc-version");
}

#[test]
fn regressions_come_first_with_their_hint() {
    let table = render_comparison(&upgrade(), CompareFormat::Table, false);
    let reg = table.find("REGRESSED").unwrap();
    let fixed = table.find("FIXED").unwrap();
    let size = table.find("SIZE").unwrap();
    let startup = table.find("STARTUP").unwrap();
    assert!(reg < fixed && fixed < size && size < startup, "{table}");
    assert!(
        table.contains(&format!(
            "↳ glibc-version: {}",
            Cause::GlibcVersion.default_hint()
        )),
        "{table}"
    );
    assert!(table.starts_with("go1.22 → go1.24: 11 cells compared: 1 regressed, 1 fixed"));
}

#[test]
fn empty_comparison_renders() {
    let cmp = compare(&[], &[], &CompareOptions::default());
    for format in [
        CompareFormat::Table,
        CompareFormat::Markdown,
        CompareFormat::Json,
    ] {
        let out = render_comparison(&cmp, format, false);
        assert!(!out.is_empty());
    }
    assert_eq!(
        "md".parse::<CompareFormat>().unwrap(),
        CompareFormat::Markdown
    );
    let err = "junit".parse::<CompareFormat>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown compare format `junit`: expected table, md or json"
    );
}

#[test]
fn go_tests_compare_one_by_one_and_a_broken_test_trips_the_gate() {
    use crate::fixtures::test_cell;
    use crate::schema::TestStatus::{Fail as F, Pass as P, Skip as S};
    let run = vec![
        test_cell(
            "go1.22/linux-arm64/cgo0/rootfs-scratch/parse",
            &[
                ("TestA", P, ""),
                ("TestB", F, "b_test.go:3: old bug\n"),
                ("TestC", P, ""),
                ("TestD", F, "d\n"),
            ],
        ),
        test_cell(
            "go1.24/linux-arm64/cgo0/rootfs-scratch/parse",
            &[
                ("TestA", F, "    a_test.go:9: got 2, want 1\n"),
                ("TestB", P, ""),
                ("TestC", S, "    c_test.go:1: flaky on arm64\n"),
                ("TestD", F, "d\n"),
                ("TestE", F, "new\n"),
            ],
        ),
    ];
    let cmp = compare_toolchains(&run, "go1.22", "go1.24", &CompareOptions::default());
    let of = |c: TestChange| -> Vec<&str> { cmp.tests_with(c).map(|t| t.test.as_str()).collect() };
    assert_eq!(of(TestChange::Broke), ["TestA", "TestE"]);
    assert_eq!(of(TestChange::Fixed), ["TestB"]);
    assert_eq!(of(TestChange::NewlySkipped), ["TestC"]);
    assert_eq!(of(TestChange::StillFailing), ["TestD"]);
    assert_eq!(cmp.summary.tests_compared, 4);
    let v = check_gates(&cmp, &[Gate::NewFailure]);
    let keys: Vec<&str> = v.iter().map(|g| g.key.as_str()).collect();
    assert!(
        keys.contains(&"linux-arm64/cgo0/rootfs-scratch/parse TestA"),
        "{keys:?}"
    );
    let table = render_comparison(&cmp, CompareFormat::Table, false);
    assert!(table.contains("TESTS BROKE (2)"), "{table}");
    assert!(
        table.contains("linux-arm64/cgo0/rootfs-scratch/parse  TestA  pass → fail"),
        "{table}"
    );
    assert!(table.contains("↳ a_test.go:9: got 2, want 1"), "{table}");
    assert!(
        table.contains(
            "tests: 2 broke, 1 fixed, 1 newly skipped, 1 failing on both sides (4 compared)"
        ),
        "{table}"
    );
    let md = render_comparison(&cmp, CompareFormat::Markdown, false);
    assert!(md.contains("### Tests broke (2)"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&render_comparison(&cmp, CompareFormat::Json, false)).unwrap();
    assert_eq!(json["tests"][0]["change"], "broke");
}

/// A record with a counted run and one counted benchmark.
fn counted(id: &str, count: u64, per_op: f64, qemu: &str) -> CellRecord {
    use crate::schema::{BenchInstructions, CounterInfo, InstructionsRecord};
    let counter = CounterInfo {
        qemu_version: qemu.into(),
        cpu: Some("cortex-a57".into()),
        arch: "aarch64".into(),
    };
    let mut r = cell(id, Pass);
    r.instructions = Some(InstructionsRecord {
        count,
        samples: vec![count; 3],
        excluded: vec![],
        counter: counter.clone(),
    });
    let mut t = crate::fixtures::test_cell(id, &[]);
    let b = crate::schema::BenchmarkResult {
        name: "BenchmarkWork".into(),
        procs: 1,
        iterations: 1000,
        ns_per_op: 1000.0,
        bytes_per_op: None,
        allocs_per_op: None,
        metrics: Default::default(),
        instructions: Some(BenchInstructions {
            per_op,
            samples_per_op: vec![per_op; 3],
            n: [2, 7130],
            counter,
        }),
    };
    t.tests.as_mut().unwrap().benchmarks = vec![b];
    r.tests = t.tests;
    r
}

#[test]
fn counts_compare_exactly_and_only_under_the_same_counter() {
    let id = "go1.27/linux-arm64/cgo0/rootfs-scratch/probe";
    let opts = CompareOptions::default();
    // One instruction per op more is a change; the program's count did not move.
    let cmp = compare(
        &[counted(id, 287_334, 7016.03, "10.0.13")],
        &[counted(id, 287_334, 7017.03, "10.0.13")],
        &opts,
    );
    assert_eq!(cmp.summary.instructions_compared, 2);
    assert_eq!(cmp.summary.instructions_changed, 1);
    let text = render_comparison(&cmp, CompareFormat::Table, false);
    assert!(
        text.contains("instructions: 1 of 2 counts changed"),
        "{text}"
    );
    assert!(text.contains("INSTRUCTIONS (counted)"), "{text}");
    assert!(text.contains("BenchmarkWork (per op)"), "{text}");
    assert!(text.contains("1 more counts unchanged"), "{text}");
    let v = check_gates(&cmp, &["instructions>+0%".parse().unwrap()]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].detail.contains("BenchmarkWork: 7016.03 → 7017.03"),
        "{}",
        v[0].detail
    );
    assert!(check_gates(&cmp, &["instructions>+1%".parse().unwrap()]).is_empty());
    // Counted by another qemu: not compared, and said.
    let cmp = compare(
        &[counted(id, 287_334, 7016.03, "10.0.13")],
        &[counted(id, 290_001, 7100.0, "11.1.3")],
        &opts,
    );
    assert_eq!(cmp.summary.instructions_compared, 0);
    assert_eq!(cmp.summary.instructions_incomparable, 2);
    let text = render_comparison(&cmp, CompareFormat::Table, false);
    assert!(
        text.contains("not compared: qemu-10.0.13 cpu=cortex-a57 vs qemu-11.1.3 cpu=cortex-a57"),
        "{text}"
    );
    assert!(check_gates(&cmp, &["instructions>+0%".parse().unwrap()]).is_empty());
}
