//! Config tests: the documented example, expansion, and one test per bad input.

use super::*;
use crate::{Cause, Filter, ProgramSource, Toolchain};
use std::collections::HashSet;
use std::fs;
use tempfile::TempDir;

const EXAMPLE: &str = include_str!("../../crossmatrix.example.toml");

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// A directory with everything the example refers to.
fn project() -> TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(p, "cmd/server/main.go", "package main\nfunc main() {}\n");
    write(
        p,
        "testdata/hello.go",
        "package main\nfunc main() { println(\"hi\") }\n",
    );
    write(p, "testdata/hello.out", "from the sibling\n");
    write(p, "testdata/hello.golden", "hi\n");
    write(
        p,
        "testdata/suite/alpha.go",
        "package main\nfunc main() {}\n",
    );
    write(p, "testdata/suite/alpha.out", "alpha\n");
    write(
        p,
        "testdata/suite/beta.go",
        "package main\nfunc main() {}\n",
    );
    write(p, "testdata/suite/broken_gamma.go", "package main\n");
    write(p, "testdata/suite/beta_test.go", "package main\n");
    write(p, "testdata/suite/README.md", "not go\n");
    write(p, "empty/.keep", "");
    write(p, "images/alpine/etc/os-release", "alpine\n");
    d
}

fn parse_in(dir: &Path, text: &str) -> Result<Config, ConfigError> {
    parse_config(text, &dir.join("crossmatrix.toml"))
}

fn tc(version: &str) -> Arc<Toolchain> {
    Arc::new(Toolchain {
        name: version[..6].to_string(),
        version: version.into(),
        goroot: format!("/usr/lib/{version}").into(),
        ports: vec![],
    })
}

#[test]
fn the_documented_example_parses() {
    let d = project();
    let cfg = parse_in(d.path(), EXAMPLE).unwrap();
    assert_eq!(cfg.toolchains.len(), 3);
    assert_eq!(
        cfg.toolchains[0].kind,
        ToolchainSpecKind::Version("go1.22".into())
    );
    assert_eq!(cfg.toolchains[2].kind, ToolchainSpecKind::Latest);
    let targets: Vec<String> = cfg
        .targets
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| t.target.slug())
        .collect();
    assert_eq!(
        targets,
        [
            "linux-amd64",
            "linux-arm64",
            "linux-arm-goarm6",
            "linux-arm-goarm7",
            "linux-amd64-goamd64v3",
            "linux-mips-gomipshardfloat",
            "linux-mips-gomipssoftfloat",
            "linux-riscv64",
            "wasip1-wasm",
            "darwin-arm64",
            "windows-amd64"
        ]
    );
    assert_eq!(cfg.cgo, [false, true]);
    assert_eq!(cfg.libc, Some(vec![Libc::Gnu, Libc::Musl]));
    assert_eq!(cfg.rootfs, None);
    assert_eq!(cfg.exclude.len(), 2);
    assert_eq!(cfg.include.len(), 2);
    assert_eq!(cfg.build.ldflags.as_deref(), Some("-s -w"));
    assert_eq!(cfg.build.timeout, Some(Duration::from_secs(900)));
    assert_eq!(cfg.run.reps, Some(10));
    let names: Vec<&str> = cfg
        .programs
        .iter()
        .map(|p| p.program.name.as_str())
        .collect();
    assert_eq!(names, ["server", "broken_gamma", "hello", "alpha", "beta"]);
    let server = &cfg.programs[0];
    assert!(matches!(&server.program.source, ProgramSource::Dir(p) if p.ends_with("cmd/server")));
    assert_eq!(server.program.args, ["--selftest"]);
    assert_eq!(server.stdin.as_deref(), Some("ping\n"));
    assert_eq!(server.run.env["SERVER_MODE"], "test");
    assert_eq!(
        server.program.expect.stderr_regex.as_deref(),
        Some("listening")
    );
    assert_eq!(server.expect_fail[0].failure.cause, Cause::Signal);
    // The shorthand is one rule.
    let gamma = &cfg.programs[1].expect_fail;
    assert_eq!(gamma.len(), 1);
    assert_eq!(gamma[0].failure.cause, Cause::BuildError);
    assert_eq!(gamma[0].matcher.toolchain, ["go1.22"]);
    // An explicit stdout_file wins over the sibling NAME.out…
    assert_eq!(
        cfg.programs[2].program.expect.stdout.as_deref(),
        Some("hi\n")
    );
    // …and suite files get their own NAME.out.
    assert_eq!(
        cfg.programs[3].program.expect.stdout.as_deref(),
        Some("alpha\n")
    );
    assert_eq!(cfg.programs[4].program.expect.stdout, None);
}

#[test]
fn the_example_expands_with_include_exclude_and_settings() {
    let d = project();
    let cfg = parse_in(d.path(), EXAMPLE).unwrap();
    let tcs = [tc("go1.22.12"), tc("go1.24.4")];
    let plan = cfg.to_plan(&tcs, &[]).unwrap();
    let ids: HashSet<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), plan.len(), "ids are unique");
    let cell = |id: &str| {
        plan.cells
            .iter()
            .find(|c| c.id.as_str() == id)
            .unwrap_or_else(|| panic!("no cell {id}"))
    };
    // Variants slug into the target part of the id.
    cell("go1.24/linux-arm-goarm6/cgo0/rootfs-scratch/server");
    // exclude: go1.22 × goarm=6 is gone, cgo=1 on mips/darwin/windows too.
    assert!(!ids.contains("go1.22/linux-arm-goarm6/cgo0/rootfs-scratch/server"));
    assert!(!ids.iter().any(|id| id.contains("darwin-arm64/cgo1")));
    assert!(
        !ids.iter()
            .any(|id| id.contains("linux-mips-gomipssoftfloat/cgo1"))
    );
    // include that matches: extends.
    let arm_musl = cell("go1.24/linux-arm64/cgo1-musl/rootfs-musl/server");
    assert_eq!(arm_musl.settings.ldflags.as_deref(), Some("-s -w"));
    // include that matches nothing: adds s390x cgo0 for every toolchain and program.
    assert_eq!(
        plan.cells
            .iter()
            .filter(|c| c.target.goarch == "s390x")
            .count(),
        2 * 5
    );
    // Settings: global, then target, then program.
    let mips = cell("go1.24/linux-mips-gomipshardfloat/cgo0/rootfs-scratch/server");
    assert_eq!(mips.settings.run_timeout, Some(Duration::from_secs(60)));
    let mips_hello = cell("go1.24/linux-mips-gomipshardfloat/cgo0/rootfs-scratch/hello");
    assert_eq!(
        mips_hello.settings.run_timeout,
        Some(Duration::from_secs(120))
    );
    assert!(mips_hello.settings.trimpath);
    assert!(
        !cell("go1.24/linux-amd64/cgo0/rootfs-scratch/alpha")
            .settings
            .trimpath
    );
    let v3 = cell("go1.24/linux-amd64-goamd64v3/cgo0/rootfs-scratch/hello");
    assert_eq!(v3.settings.tags, ["netgo", "avx"]);
    assert_eq!(v3.settings.build_env["GOFLAGS"], "-mod=mod");
    assert_eq!(v3.settings.run_env["GODEBUG"], "madvdontneed=1");
    assert_eq!(v3.settings.stdin, None);
    let srv = cell("go1.24/linux-amd64/cgo0/rootfs-scratch/server");
    assert_eq!(srv.settings.stdin.as_deref(), Some("ping\n"));
    assert_eq!(srv.settings.expect_fail, None);
    // expect_fail marks matching cells, the shorthand too.
    assert_eq!(
        cell("go1.22/linux-amd64/cgo0/rootfs-scratch/broken_gamma")
            .settings
            .expect_fail
            .as_ref()
            .map(|f| f.cause),
        Some(Cause::BuildError)
    );
    assert_eq!(
        cell("go1.24/linux-amd64/cgo0/rootfs-scratch/broken_gamma")
            .settings
            .expect_fail,
        None
    );
    let s390 = cell("go1.24/linux-s390x/cgo0/rootfs-scratch/server");
    assert_eq!(
        s390.settings.expect_fail.as_ref().unwrap().cause,
        Cause::Signal
    );
    assert_eq!(
        cell("go1.24/linux-s390x/cgo0/rootfs-scratch/hello")
            .settings
            .expect_fail,
        None
    );
    // Impossible combinations are skipped, not dropped.
    let wasm_cgo = cell("go1.24/wasip1-wasm/cgo1-gnu/rootfs-glibc/server");
    assert_eq!(
        wasm_cgo.skip.as_ref().unwrap().cause,
        Cause::UnsupportedTarget
    );
    // Build-only targets are ordinary cells.
    assert!(
        cell("go1.22/windows-amd64/cgo0/rootfs-scratch/beta")
            .skip
            .is_none()
    );
    // Filters see variants.
    let arm = plan
        .clone()
        .filter(&Filter::parse(&["target=linux/arm", "program=server"]).unwrap());
    assert_eq!(
        arm.len(),
        3 * 3,
        "goarm6 (go1.24) + goarm7 (both) × cgo0/gnu/musl"
    );
}

#[test]
fn defaults_give_the_probe_on_the_callers_targets() {
    let d = project();
    let cfg = parse_in(d.path(), "").unwrap();
    let plan = cfg
        .to_plan(
            &[tc("go1.24.4")],
            &[Target::linux("amd64"), Target::new("wasip1", "wasm")],
        )
        .unwrap();
    let ids: Vec<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "go1.24/linux-amd64/cgo0/rootfs-scratch/probe",
            "go1.24/wasip1-wasm/cgo0/rootfs-scratch/probe"
        ]
    );
    assert!(plan.cells.iter().all(|c| c.settings.is_default()));
}

#[test]
fn impossible_combinations_become_skipped_cells() {
    let d = project();
    let cfg = parse_in(
        d.path(),
        r#"
targets = ["linux/arm64", "darwin/arm64", { target = "linux/arm64", goarm64 = ["v8.2"] }]
cgo = [0]
libc = ["musl"]
rootfs = ["scratch", "glibc", "./images/alpine"]
include = [{ target = "darwin/arm64", cgo = 1, libc = "gnu", rootfs = "scratch" }]
"#,
    )
    .unwrap();
    let mut old = (*tc("go1.22.12")).clone();
    old.ports = vec!["linux/arm64".into()];
    let plan = cfg.to_plan(&[Arc::new(old), tc("go1.24.4")], &[]).unwrap();
    let reason = |id: &str| {
        let c = plan
            .cells
            .iter()
            .find(|c| c.id.as_str() == id)
            .unwrap_or_else(|| panic!("no {id}"));
        c.skip
            .as_ref()
            .map(|s| s.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("go1.24/linux-arm64/cgo0-musl/rootfs-scratch/probe")
            .contains("only applies to cgo=1")
    );
    assert!(
        reason("go1.22/darwin-arm64/cgo0-musl/rootfs-scratch/probe").contains("go tool dist list")
    );
    assert!(
        reason("go1.24/darwin-arm64/cgo1-gnu/rootfs-scratch/probe").contains("linux C library")
    );
    assert!(
        reason("go1.22/linux-arm64-goarm64v8.2/cgo0-musl/rootfs-scratch/probe").contains("GOARM64")
    );
    let all = plan.len();
    assert_eq!(all, 2 * 3 * 3 + 2, "every combination is a cell");
    assert!(
        plan.cells.iter().all(|c| c.skip.is_some()),
        "all of them are meaningless here"
    );
    // A build-only target on a real rootfs is skipped too.
    let cfg = parse_in(
        d.path(),
        "targets = [\"darwin/arm64\"]\nrootfs = [\"glibc\"]\n",
    )
    .unwrap();
    let plan = cfg.to_plan(&[tc("go1.24.4")], &[]).unwrap();
    assert!(
        plan.cells[0]
            .skip
            .as_ref()
            .unwrap()
            .reason
            .contains("built and inspected only")
    );
}

#[test]
fn include_with_an_unknown_toolchain_fails_at_plan_time_with_its_location() {
    let d = project();
    let text = "targets = [\"linux/amd64\"]\ninclude = [{ toolchain = \"go1.23\", target = \"linux/arm64\" }]\n";
    let cfg = parse_in(d.path(), text).unwrap();
    let e = cfg
        .to_plan(&[tc("go1.22.12"), tc("go1.24.4")], &[])
        .unwrap_err();
    let s = e.to_string();
    assert!(s.contains("crossmatrix.toml:2:12"), "{s}");
    assert!(
        s.contains("go1.23") && s.contains("go1.22.12, go1.24.4"),
        "{s}"
    );
    // With the toolchain present it adds the cell.
    let plan = cfg.to_plan(&[tc("go1.23.1")], &[]).unwrap();
    assert!(
        plan.cells
            .iter()
            .any(|c| c.id.as_str() == "go1.23/linux-arm64/cgo0/rootfs-scratch/probe")
    );
}

#[test]
fn toolchain_errors_point_at_the_spec() {
    let d = project();
    let cfg = parse_in(d.path(), "toolchains = [\"go1.22\", \"go1.25\"]\n").unwrap();
    let e = cfg.toolchain_error(
        &cfg.toolchains[1],
        "no Go 1.25 here",
        &["go1.22.12", "go1.24.4"],
    );
    let s = e.to_string();
    assert!(s.contains("crossmatrix.toml:1:25"), "{s}");
    assert!(s.contains("go1.22.12, go1.24.4"), "{s}");
}

#[test]
fn goroot_and_path_values_resolve_against_the_config_dir() {
    let d = project();
    write(d.path(), "go/bin/go", "");
    let cfg = parse_in(
        d.path(),
        "toolchains = [\"./go\"]\nrootfs = [\"./images/alpine\"]\n[[programs]]\npath = \"testdata/hello.go\"\n",
    )
    .unwrap();
    let root = fs::canonicalize(d.path()).unwrap();
    assert_eq!(
        cfg.toolchains[0].kind,
        ToolchainSpecKind::Goroot(root.join("go"))
    );
    assert_eq!(
        cfg.rootfs,
        Some(vec![RootfsSpec::Dir(root.join("images/alpine"))])
    );
    // The sibling hello.out is the expected stdout.
    assert_eq!(
        cfg.programs[0].program.expect.stdout.as_deref(),
        Some("from the sibling\n")
    );
    let goroot_tc = Arc::new(Toolchain {
        name: "go".into(),
        version: "go1.24.4".into(),
        goroot: root.join("go"),
        ports: vec![],
    });
    let m = AxisMatch {
        toolchain: vec![root.join("go").display().to_string()],
        ..Default::default()
    };
    let plan = cfg
        .to_plan(&[goroot_tc], &[Target::linux("amd64")])
        .unwrap();
    assert!(m.matches(&plan.cells[0]));
}

#[test]
fn targets_as_a_table() {
    let d = project();
    let cfg = parse_in(
        d.path(),
        "[targets.\"linux/arm64\".build]\nldflags = \"-s\"\n[targets.\"linux/arm\"]\ngoarm = 7\n",
    )
    .unwrap();
    let t = cfg.targets.unwrap();
    assert_eq!(t[0].target, Target::linux("arm64"));
    assert_eq!(t[0].build.ldflags.as_deref(), Some("-s"));
    assert_eq!(t[1].target.variant.as_deref(), Some("goarm=7"));
}

#[test]
fn command_line_programs() {
    let d = project();
    let progs = programs_from_paths(&[
        d.path().join("testdata/hello.go"),
        d.path().join("cmd/server"),
    ])
    .unwrap();
    assert_eq!(progs[0].program.name, "hello");
    assert_eq!(
        progs[0].program.expect.stdout.as_deref(),
        Some("from the sibling\n")
    );
    assert_eq!(progs[1].program.name, "server");
    let e = programs_from_paths(&[d.path().join("nope.go")]).unwrap_err();
    assert!(e.to_string().contains("nope.go"));
    let e = programs_from_paths(&[d.path().join("testdata/hello.out")]).unwrap_err();
    assert!(e.to_string().contains("neither a directory nor a .go file"));
}

#[test]
fn load_config_reads_files_and_reports_missing_ones() {
    let d = project();
    write(d.path(), "crossmatrix.toml", "cgo = [1]\n");
    assert_eq!(
        load_config(&d.path().join("crossmatrix.toml")).unwrap().cgo,
        [true]
    );
    let e = load_config(&d.path().join("missing.toml")).unwrap_err();
    assert!(
        e.to_string()
            .contains("missing.toml: cannot read the config")
    );
}

// --- bad inputs: every error names file:line:col and says something useful ---------------

/// `line:col` of the first occurrence of `needle` in `text`.
fn pos(text: &str, needle: &str) -> String {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in {text}"));
    let loc = Location::of(text, at..at + 1);
    format!("{}:{}", loc.line, loc.column)
}

/// Asserts that `text` is rejected with one problem, at `needle`, about `key` (empty: none,
/// for TOML syntax errors), saying what was expected, and mentioning every `parts` (the
/// "did you mean" among them where there is one).
#[track_caller]
fn bad(text: &str, needle: &str, key: &str, parts: &[&str]) {
    let d = project();
    let e = parse_in(d.path(), text).expect_err("must be rejected");
    let s = e.to_string();
    assert_eq!(e.problems().count(), 1, "one problem expected:\n{s}");
    let want = format!("crossmatrix.toml:{}:", pos(text, needle));
    assert!(s.contains(&want), "expected `{want}` in:\n{s}");
    assert_eq!(e.key.as_deref().unwrap_or(""), key, "key in:\n{s}");
    if !key.is_empty() {
        assert!(s.contains(&format!(": `{key}`: ")), "key shown in:\n{s}");
    }
    assert!(e.expected.is_some(), "no `expected` in:\n{s}");
    assert!(s.contains(" = expected: "), "no `expected` shown in:\n{s}");
    assert!(s.contains(" | "), "no source line in:\n{s}");
    assert!(s.contains('^'), "no caret in:\n{s}");
    for p in parts {
        assert!(s.contains(p), "expected `{p}` in:\n{s}");
    }
    if let Some(hint) = &e.suggestion {
        assert!(
            parts
                .iter()
                .any(|p| p.contains(&format!("did you mean `{hint}`"))),
            "the test should assert the suggestion `{hint}`:\n{s}"
        );
    }
}

#[test]
fn bad_toml_syntax() {
    bad(
        "cgo = [0,\ntargets = 3\n",
        "= 3",
        "",
        &["invalid TOML", "expected: valid TOML"],
    );
}

#[test]
fn bad_unknown_top_level_key() {
    bad(
        "cgo = [0]\ntolchains = [\"go1.22\"]\n",
        "tolchains",
        "tolchains",
        &[
            "unknown key `tolchains`",
            "did you mean `toolchains`?",
            "expected: one of: toolchains",
        ],
    );
}

#[test]
fn bad_unknown_target() {
    bad(
        "targets = [\"linux/amd64\", \"linux/arm46\"]\n",
        "\"linux/arm46",
        "targets[1]",
        &[
            "`targets[1]`",
            "unknown target `linux/arm46`",
            "did you mean `linux/arm64`?",
            "go tool dist list",
        ],
    );
}

#[test]
fn bad_unknown_target_in_table_form() {
    bad(
        "[targets.\"linux/riscv46\"]\n",
        "\"linux/riscv46",
        "targets.\"linux/riscv46\"",
        &["unknown target", "did you mean `linux/riscv64`?"],
    );
}

#[test]
fn bad_target_type() {
    bad(
        "targets = [42]\n",
        "42",
        "targets[0]",
        &[
            "wrong type: found integer",
            "expected: a \"GOOS/GOARCH\" string or a table",
        ],
    );
}

#[test]
fn bad_target_table_without_target() {
    bad(
        "targets = [{ goarm = [7] }]\n",
        "{ goarm",
        "targets[0]",
        &["target table without `target`", "target = \"GOOS/GOARCH\""],
    );
}

#[test]
fn bad_knob_for_another_arch() {
    bad(
        "targets = [{ target = \"linux/amd64\", goarm = [7] }]\n",
        "goarm",
        "targets[0].goarm",
        &[
            "`goarm` does not apply to linux/amd64",
            "`goamd64` for linux/amd64",
        ],
    );
}

#[test]
fn bad_knob_value() {
    bad(
        "targets = [{ target = \"linux/arm\", goarm = [6, 8] }]\n",
        "8]",
        "targets[0].goarm[1]",
        &["`8` is not a GOARM value", "one of: 5, 6, 7"],
    );
    bad(
        "targets = [{ target = \"linux/mips\", gomips = [\"softflaot\"] }]\n",
        "\"softflaot",
        "targets[0].gomips[0]",
        &["did you mean `softfloat`?"],
    );
}

#[test]
fn bad_unknown_key_in_target_table() {
    bad(
        "targets = [{ target = \"linux/arm\", gorm = [7] }]\n",
        "gorm",
        "targets[0].gorm",
        &[
            "unknown key `gorm` in target linux/arm",
            "did you mean `goarm`?",
        ],
    );
}

#[test]
fn bad_duplicate_target() {
    bad(
        "targets = [\"linux/arm64\", \"linux/arm64\"]\n",
        "\"linux/arm64\"]",
        "targets[1]",
        &["listed twice"],
    );
}

#[test]
fn bad_cgo_value() {
    bad(
        "cgo = [0, 2]\n",
        "2]",
        "cgo[1]",
        &["`cgo = 2` is not a cgo mode", "0 (CGO_ENABLED=0) or 1"],
    );
}

#[test]
fn bad_libc_value() {
    bad(
        "cgo = [1]\nlibc = [\"gnuu\"]\n",
        "\"gnuu",
        "libc[0]",
        &["unknown libc `gnuu`", "did you mean `gnu`?"],
    );
}

#[test]
fn bad_rootfs_name() {
    bad(
        "rootfs = [\"scratch\", \"muls\"]\n",
        "\"muls",
        "rootfs[1]",
        &[
            "unknown rootfs `muls`",
            "did you mean `musl`?",
            "scratch, host, glibc, musl",
        ],
    );
}

#[test]
fn bad_rootfs_directory() {
    bad(
        "rootfs = [\"./images/debian\"]\n",
        "\"./images",
        "rootfs[0]",
        &["rootfs directory `./images/debian` does not exist"],
    );
}

#[test]
fn bad_empty_axes() {
    bad(
        "targets = []\n",
        "[]",
        "targets",
        &["`targets` is empty", "at least one target"],
    );
    bad("cgo = []\n", "[]", "cgo", &["`cgo` is empty"]);
    bad(
        "toolchains = []\n",
        "[]",
        "toolchains",
        &["`toolchains` is empty"],
    );
}

#[test]
fn bad_toolchain_values() {
    bad(
        "toolchains = [\"go1.22\", \"lastest\"]\n",
        "\"lastest",
        "toolchains[1]",
        &["`lastest` is not a Go version", "did you mean `latest`?"],
    );
    bad(
        "toolchains = [\"go1.22\", \"1.22\"]\n",
        "\"1.22",
        "toolchains[1]",
        &["listed twice"],
    );
    bad(
        "toolchains = [\"/nonexistent/go\"]\n",
        "\"/nonexistent",
        "toolchains[0]",
        &["GOROOT `/nonexistent/go` does not exist"],
    );
    bad(
        "toolchains = [\"./empty\"]\n",
        "\"./empty",
        "toolchains[0]",
        &["is not a GOROOT: no bin/go"],
    );
}

#[test]
fn emulators_parse_and_bad_ones_are_located() {
    let d = project();
    fs::create_dir_all(d.path().join("qemu10/bin")).unwrap();
    let cfg = parse_in(d.path(), "emulators = [\"host\", \"new=qemu10/bin\"]\n").unwrap();
    assert_eq!(cfg.emulators.len(), 2);
    assert_eq!(cfg.emulators[0].dir, None);
    assert_eq!(cfg.emulators[1].label.as_deref(), Some("new"));
    assert_eq!(
        cfg.emulators[1].dir.as_deref(),
        Some(
            fs::canonicalize(d.path().join("qemu10/bin"))
                .unwrap()
                .as_path()
        )
    );
    assert!(cfg.emulators[1].location.is_some());
    bad(
        "emulators = [\"host\", \"./missing\"]\n",
        "\"./missing",
        "emulators[1]",
        &["missing is not a directory"],
    );
    bad(
        "emulators = [\"host\", \"host\"]\n",
        "\"host\"]",
        "emulators[1]",
        &["listed twice"],
    );
    bad(
        "emulators = \"host\"\n",
        "\"host",
        "emulators",
        &["a list of"],
    );
}

#[test]
fn bad_exclude_key_that_is_not_an_axis() {
    bad(
        "exclude = [{ targte = \"linux/386\" }]\n",
        "targte",
        "exclude[0].targte",
        &[
            "unknown key `targte`",
            "did you mean `target`?",
            "toolchain, target, variant, cgo, libc, rootfs, program",
        ],
    );
}

#[test]
fn bad_empty_exclude_and_include() {
    bad(
        "exclude = [{}]\n",
        "{}",
        "exclude[0]",
        &["an empty exclude would remove every cell"],
    );
    bad(
        "include = [{}]\n",
        "{}",
        "include[0]",
        &["this include is empty"],
    );
}

#[test]
fn bad_include_values() {
    bad(
        "[[programs]]\npath = \"cmd/server\"\n[[include]]\nprogram = \"sever\"\n",
        "\"sever",
        "include[0].program",
        &["no program is named `sever`", "did you mean `server`?"],
    );
    bad(
        "include = [{ variant = \"goarm=9\" }]\n",
        "\"goarm=9",
        "include[0].variant",
        &["unknown variant `goarm=9`", "goarm=7"],
    );
    bad(
        "include = [{ cgo = 1, build = { trimpth = true } }]\n",
        "trimpth",
        "include[0].build.trimpth",
        &["unknown key `trimpth`", "did you mean `trimpath`?"],
    );
}

#[test]
fn bad_build_and_run_settings() {
    bad(
        "[build]\ntimeout = -1\n",
        "-1",
        "build.timeout",
        &["must be a positive duration", "seconds"],
    );
    bad(
        "[build]\ntags = [\"netgo osusergo\"]\n",
        "\"netgo",
        "build.tags[0]",
        &["is not a build tag"],
    );
    bad(
        "[run]\nenv = { 1X = \"y\" }\n",
        "1X",
        "run.env.1X",
        &["`1X` is not an environment variable name"],
    );
    bad(
        "[run]\nreps = \"ten\"\n",
        "\"ten",
        "run.reps",
        &["wrong type: found string", "a number of repetitions"],
    );
    bad(
        "[run]\nretries = 1000\n",
        "1000",
        "run.retries",
        &[
            "`retries = 1000` is out of range",
            "a number of retries from 0 to 100",
        ],
    );
    bad(
        "[run]\nenv = { GODEBUG = 1 }\n",
        "1 }",
        "run.env.GODEBUG",
        &["quote numbers"],
    );
    bad(
        "[run]\ntmpfs = [\"/tmp\", \"var/run\"]\n",
        "\"var/run",
        "run.tmpfs[1]",
        &[
            "`var/run` cannot be a tmpfs of the run",
            "absolute directory paths",
        ],
    );
    bad(
        "[run]\ntmpfs = \"/proc/x\"\n",
        "\"/proc/x",
        "run.tmpfs",
        &["`/proc/x` cannot be a tmpfs"],
    );
}

#[test]
fn run_tmpfs_reaches_the_cells() {
    let d = project();
    let cfg = parse_in(
        d.path(),
        "[run]\ntmpfs = [\"/tmp/\", \"/var/run\"]\n[[programs]]\npath = \"cmd/server/main.go\"\n",
    )
    .unwrap();
    let mut settings = crate::CellSettings::default();
    cfg.run.apply_to(&mut settings);
    assert_eq!(settings.run_tmpfs, vec!["/tmp", "/var/run"]);
}

#[test]
fn bad_program_paths() {
    bad(
        "[[programs]]\nname = \"x\"\n",
        "[[programs]]",
        "programs[0]",
        &["program without `path`"],
    );
    bad(
        "[[programs]]\npath = \"cmd/client\"\n",
        "\"cmd/client",
        "programs[0].path",
        &[
            "no such file or directory",
            "a Go package directory, a single .go file",
        ],
    );
    bad(
        "[[programs]]\npath = \"empty\"\n",
        "\"empty",
        "programs[0].path",
        &["no .go files in"],
    );
    bad(
        "[[programs]]\npath = \"testdata/hello.out\"\n",
        "\"testdata",
        "programs[0].path",
        &["neither a directory nor a .go file"],
    );
}

#[test]
fn bad_suites() {
    bad(
        "[[programs]]\npath = \"cmd/server\"\ninclude = [\"*.go\"]\n",
        "[\"*.go",
        "programs[0].include",
        &["`include` only applies to suites", "suite = true"],
    );
    bad(
        "[[programs]]\npath = \"testdata/suite\"\nsuite = true\ninclude = [\"zeta_*.go\"]\n",
        "\"testdata",
        "programs[0].path",
        &["has no .go file matching zeta_*.go"],
    );
    bad(
        "[[programs]]\npath = \"testdata/suite\"\nsuite = true\nexclude = [\"[a\"]\n",
        "\"[a",
        "programs[0].exclude[0]",
        &["invalid glob"],
    );
}

#[test]
fn bad_duplicate_program_names() {
    bad(
        "[[programs]]\npath = \"cmd/server\"\n[[programs]]\npath = \"testdata/hello.go\"\nname = \"server\"\n",
        "\"server",
        "programs[1]",
        &["program name `server` is used twice (first on line 2)"],
    );
}

#[test]
fn bad_expectations() {
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = { stdout_regex = \"(unclosed\" }\n",
        "\"(unclosed",
        "programs[0].expect.stdout_regex",
        &["invalid regex: unclosed group", "Rust regex syntax"],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = { exit_code = 300 }\n",
        "300",
        "programs[0].expect.exit_code",
        &["exit code 300 is out of range"],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = { stdout = \"a\", stdout_file = \"b\" }\n",
        "\"b\"",
        "programs[0].expect.stdout_file",
        &["both `stdout` and `stdout_file`"],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = { stdout_file = \"missing.out\" }\n",
        "\"missing",
        "programs[0].expect.stdout_file",
        &["cannot read", "missing.out"],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = { exitcode = 1 }\n",
        "exitcode",
        "programs[0].expect.exitcode",
        &["did you mean `exit_code`?"],
    );
}

#[test]
fn bad_expect_fail() {
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect_fail = [{ match = { target = \"linux/s390x\" }, cause = \"missing-interpeter\" }]\n",
        "\"missing-interpeter",
        "programs[0].expect_fail[0].cause",
        &[
            "unknown cause `missing-interpeter`",
            "did you mean `missing-interpreter`?",
        ],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect_fail = [{ match = { arch = \"s390x\" }, cause = \"signal\" }]\n",
        "arch",
        "programs[0].expect_fail[0].match.arch",
        &["unknown key `arch`", "toolchain, target"],
    );
}

#[test]
fn bad_section_types() {
    bad(
        "build = 3\n",
        "3",
        "build",
        &["wrong type: found integer", "a table with tags"],
    );
    bad(
        "programs = \"cmd/server\"\n",
        "\"cmd",
        "programs",
        &["a list of program tables"],
    );
    bad(
        "exclude = { cgo = 1 }\n",
        "{ cgo",
        "exclude",
        &["a list of tables"],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let d = project();
    let text = r#"tolchains = ["go1.22"]
targets = ["linux/arm46", { target = "linux/arm", goarm = [6, 9] }]
cgo = [0, 2]
libc = ["gnuu"]
exclude = [{ targte = "linux/386" }]
include = [{ cgo = 1, build = { trimpth = true } }]

[build]
ldflags = 3
timeout = -1

[run]
reps = "ten"

[[programs]]
path = "cmd/client"
expect = { exitcode = 1 }

[[programs]]
path = "testdata/hello.go"
expect = "fial"
"#;
    let e = parse_in(d.path(), text).expect_err("must be rejected");
    let problems: Vec<(usize, usize, Option<&str>, Option<&str>)> = e
        .problems()
        .map(|p| {
            let l = p.location.as_ref().expect("every problem has a location");
            (l.line, l.column, p.key.as_deref(), p.suggestion.as_deref())
        })
        .collect();
    assert_eq!(
        problems,
        [
            (1, 1, Some("tolchains"), Some("toolchains")),
            (2, 12, Some("targets[0]"), Some("linux/arm64")),
            (2, 63, Some("targets[1].goarm[1]"), None),
            (3, 11, Some("cgo[1]"), None),
            (4, 9, Some("libc[0]"), Some("gnu")),
            (5, 14, Some("exclude[0].targte"), Some("target")),
            (6, 33, Some("include[0].build.trimpth"), Some("trimpath")),
            (9, 11, Some("build.ldflags"), None),
            (10, 11, Some("build.timeout"), None),
            (13, 8, Some("run.reps"), None),
            (16, 8, Some("programs[0].path"), None),
            (
                17,
                12,
                Some("programs[0].expect.exitcode"),
                Some("exit_code")
            ),
            (21, 10, Some("programs[1].expect"), Some("fail")),
        ]
    );
    // The report shows each problem in full, in file order, then the count.
    let s = e.to_string();
    assert!(
        s.contains("\n\n13 problems in ") && s.ends_with("crossmatrix.toml"),
        "{s}"
    );
    assert_eq!(s.matches(" = expected: ").count(), 13, "{s}");
    let mut last = 0;
    for (line, col, _, _) in &problems {
        let at = s
            .find(&format!("crossmatrix.toml:{line}:{col}: "))
            .unwrap_or_else(|| panic!("{line}:{col} not in:\n{s}"));
        assert!(at >= last, "out of order:\n{s}");
        last = at;
    }
}

#[test]
fn expect_fail_shorthand_marks_the_cells_it_matches() {
    let d = project();
    let cfg = parse_in(
        d.path(),
        r#"
targets = ["linux/amd64", "linux/riscv64"]
[[programs]]
path = "testdata/hello.go"
expect = "fail"
cause = "signal"
reason = "go.dev/issue/1"
match = { target = "linux/riscv64" }

[[programs]]
path = "cmd/server"
expect = "fail"
cause = "build-error"
"#,
    )
    .unwrap();
    let plan = cfg.to_plan(&[tc("go1.24.4")], &[]).unwrap();
    let fail = |id: &str| {
        plan.cells
            .iter()
            .find(|c| c.id.as_str() == id)
            .unwrap_or_else(|| panic!("no {id}"))
            .settings
            .expect_fail
            .clone()
    };
    let rv = fail("go1.24/linux-riscv64/cgo0/rootfs-scratch/hello").unwrap();
    assert_eq!(rv.cause, Cause::Signal);
    assert_eq!(rv.reason.as_deref(), Some("go.dev/issue/1"));
    // Outside its `match` the program keeps its ordinary expectation (here the sibling .out).
    assert_eq!(fail("go1.24/linux-amd64/cgo0/rootfs-scratch/hello"), None);
    assert_eq!(
        cfg.programs[0].program.expect.stdout.as_deref(),
        Some("from the sibling\n")
    );
    // Without `match`: every cell.
    for arch in ["amd64", "riscv64"] {
        let id = format!("go1.24/linux-{arch}/cgo0/rootfs-scratch/server");
        assert_eq!(fail(&id).unwrap().cause, Cause::BuildError);
    }
}

#[test]
fn bad_expect_fail_shorthand() {
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = \"fail\"\n",
        "\"fail",
        "programs[0]",
        &[
            "`expect = \"fail\"` without `cause`",
            "cause = one of: build-error",
        ],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\ncause = \"signal\"\n",
        "cause",
        "programs[0].cause",
        &[
            "`cause` without `expect = \"fail\"`",
            "expect_fail = [{ … }]",
        ],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = \"fail\"\ncause = \"signal\"\nexpect_fail = [{ cause = \"timeout\" }]\n",
        "[{ cause",
        "programs[0].expect_fail",
        &["both `expect = \"fail\"` and `expect_fail` are set"],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = \"fail\"\ncause = \"sigal\"\n",
        "\"sigal",
        "programs[0].cause",
        &["unknown cause `sigal`", "did you mean `signal`?"],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = \"fail\"\ncause = \"signal\"\nmatch = { target = \"linux/riscv46\" }\n",
        "\"linux/riscv46",
        "programs[0].match.target",
        &["unknown target", "did you mean `linux/riscv64`?"],
    );
    bad(
        "[[programs]]\npath = \"cmd/server\"\nexpect = \"fial\"\n",
        "\"fial",
        "programs[0].expect",
        &["unknown expectation `fial`", "did you mean `fail`?"],
    );
}

#[test]
fn include_and_exclude_follow_github_actions() {
    let d = project();
    let cfg = parse_in(
        d.path(),
        r#"
targets = ["linux/amd64", "linux/arm64"]
cgo = [0, 1]
libc = ["musl"]
exclude = [{ target = "linux/arm64", cgo = 1 }]
include = [
  # matches no original combination (exclude ran first): adds it back, with its settings
  { target = "linux/arm64", cgo = 1, libc = "musl", build = { ldflags = "-s -w" } },
  # matches original combinations: only extends them
  { target = "linux/amd64", build = { tags = ["extended"] } },
  # matches nothing: adds s390x cgo0 for every program and toolchain
  { target = "linux/s390x", cgo = 0 },
  # s390x is no original combination: adds s390x × every mode; the cell the include
  # above added takes this include's settings too
  { target = "linux/s390x", run = { timeout = 99 } },
  # extends every cgo0 cell, the added ones included; a later include overrides
  { cgo = 0, build = { ldflags = "-w" } },
]
"#,
    )
    .unwrap();
    let plan = cfg.to_plan(&[tc("go1.24.4")], &[]).unwrap();
    let ids: Vec<&str> = plan.cells.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "go1.24/linux-amd64/cgo0/rootfs-scratch/probe",
            "go1.24/linux-amd64/cgo1-musl/rootfs-musl/probe",
            "go1.24/linux-arm64/cgo0/rootfs-scratch/probe",
            "go1.24/linux-arm64/cgo1-musl/rootfs-musl/probe",
            "go1.24/linux-s390x/cgo0/rootfs-scratch/probe",
            "go1.24/linux-s390x/cgo1-musl/rootfs-musl/probe",
        ]
    );
    let s = |i: usize| &plan.cells[i].settings;
    assert_eq!(s(0).tags, ["extended"]);
    assert_eq!(
        s(0).ldflags.as_deref(),
        Some("-w"),
        "the later include wins"
    );
    assert_eq!(s(1).tags, ["extended"]);
    assert_eq!(s(1).ldflags, None);
    assert_eq!(s(2).ldflags.as_deref(), Some("-w"));
    assert!(s(2).tags.is_empty());
    assert_eq!(
        s(3).ldflags.as_deref(),
        Some("-s -w"),
        "re-added with settings"
    );
    assert_eq!(s(4).run_timeout, Some(Duration::from_secs(99)));
    assert_eq!(s(4).ldflags.as_deref(), Some("-w"));
    assert_eq!(s(5).run_timeout, Some(Duration::from_secs(99)));
    assert_eq!(s(5).ldflags, None);
}

#[test]
fn each_impossible_combination_is_skipped_with_its_reason() {
    let d = project();
    let cfg = parse_in(
        d.path(),
        r#"
targets = ["linux/amd64", "wasip1/wasm", "darwin/arm64", "linux/loong64", { target = "linux/riscv64", goriscv64 = ["rva22u64"] }]
cgo = [0, 1]
libc = ["gnu", "musl"]
rootfs = ["scratch", "glibc", "musl", "./images/alpine"]
"#,
    )
    .unwrap();
    // An old toolchain: no loong64 port, no GORISCV64 knob (go1.23).
    let mut old = (*tc("go1.22.12")).clone();
    old.ports = [
        "linux/amd64",
        "wasip1/wasm",
        "darwin/arm64",
        "linux/riscv64",
    ]
    .map(String::from)
    .to_vec();
    let plan = cfg.to_plan(&[Arc::new(old), tc("go1.24.4")], &[]).unwrap();
    let skip = |id: &str| {
        plan.cells
            .iter()
            .find(|c| c.id.as_str() == id)
            .unwrap_or_else(|| panic!("no cell {id}"))
            .skip
            .clone()
    };
    let reason = |id: &str| {
        let s = skip(id).unwrap_or_else(|| panic!("{id} is not skipped"));
        assert_eq!(s.cause, Cause::UnsupportedTarget, "{id}");
        s.reason
    };
    let cases = [
        // cgo=1 on wasip1
        (
            "go1.24/wasip1-wasm/cgo1-musl/rootfs-scratch/probe",
            "cgo is not available on wasip1/wasm",
        ),
        // a GOARCH the toolchain does not know
        (
            "go1.22/linux-loong64/cgo0/rootfs-scratch/probe",
            "go1.22.12 cannot build linux/loong64",
        ),
        // a sub-architecture knob newer than the toolchain
        (
            "go1.22/linux-riscv64-goriscv64rva22u64/cgo0/rootfs-scratch/probe",
            "does not know GORISCV64",
        ),
        // a C library for a non-linux target
        (
            "go1.24/darwin-arm64/cgo1-gnu/rootfs-scratch/probe",
            "linux C library",
        ),
        // a rootfs a wasm module cannot use
        (
            "go1.24/wasip1-wasm/cgo0/rootfs-glibc/probe",
            "run in wasmtime, not on a `glibc` rootfs",
        ),
        (
            "go1.24/wasip1-wasm/cgo0/rootfs-dir-alpine/probe",
            "run in wasmtime",
        ),
        // a rootfs for a binary that is built only
        (
            "go1.24/darwin-arm64/cgo0/rootfs-musl/probe",
            "built and inspected only",
        ),
    ];
    for (id, why) in cases {
        let r = reason(id);
        assert!(r.contains(why), "{id}: {r}");
    }
    // A linux cgo=1 build on any rootfs runs: glibc on musl or scratch is the Alpine/scratch
    // trap, which fails with `missing-interpreter` and a hint rather than being hidden.
    assert_eq!(skip("go1.24/linux-amd64/cgo1-gnu/rootfs-musl/probe"), None);
    assert_eq!(
        skip("go1.24/linux-amd64/cgo1-gnu/rootfs-scratch/probe"),
        None
    );
    assert_eq!(
        skip("go1.24/linux-amd64/cgo1-musl/rootfs-glibc/probe"),
        None
    );
    // Nothing is dropped: every combination is a cell.
    assert_eq!(plan.len(), 2 * 5 * 3 * 4);
}

#[test]
fn a_libc_with_only_cgo0_is_skipped() {
    let d = project();
    let cfg = parse_in(
        d.path(),
        "targets = [\"linux/amd64\"]\ncgo = [0]\nlibc = [\"musl\"]\n",
    )
    .unwrap();
    let plan = cfg.to_plan(&[tc("go1.24.4")], &[]).unwrap();
    assert_eq!(plan.len(), 1);
    let s = plan.cells[0].skip.as_ref().expect("skipped");
    assert!(
        s.reason.contains("only applies to cgo=1 builds"),
        "{}",
        s.reason
    );
}

#[test]
fn run_retries_reach_the_cells() {
    let d = project();
    let cfg = parse_in(d.path(), "[run]\nretries = 2\n").unwrap();
    assert_eq!(cfg.run.retries, Some(2));
    let mut settings = crate::CellSettings::default();
    cfg.run.apply_to(&mut settings);
    assert_eq!(settings.retries, Some(2));
}
