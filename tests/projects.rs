//! Real Go projects end to end, on fixture modules the tests write: commands inside a module
//! importing its own packages, `./...` patterns, build constraints, a `go.work` workspace,
//! third-party dependencies served by a local `file://` module proxy (fetched once with
//! `crossmatrix fetch`, then built offline for amd64, arm64 and riscv64 with cgo 0 and 1), a
//! `vendor/` directory, a module that was never fetched, a tampered `go.sum`, Go's `test/`
//! conventions, and every bad input a user can give. Nothing here uses the network.

mod common;

use common::{
    crossmatrix, crossmatrix_in, go, publish, record, records, require_host, s, shared_cache,
    stderr, write,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

fn by_program<'a>(recs: &'a [Value], arch: &str, program: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["target"]["goarch"] == arch && r["program"] == program)
        .unwrap_or_else(|| panic!("no {arch} record of {program}"))
}

/// A module with two commands importing its own package, a command only for arm64, one only
/// for amd64 (by file name), a library, and two commands that share a name.
fn module_fixture(root: &Path) {
    let nonce = format!("{:?}", std::time::SystemTime::now());
    write(&root.join("go.mod"), "module example.com/m\n\ngo 1.21\n");
    write(&root.join("README.md"), "# m\n");
    write(
        &root.join("lib/lib.go"),
        &format!(
            "package lib\n\nconst nonce = {nonce:?}\n\nfunc Greet() string {{ return \"hello\" }}\n"
        ),
    );
    write(
        &root.join("cmd/a/main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\t\"example.com/m/lib\"\n)\n\nfunc main() { fmt.Println(\"a:\", lib.Greet()) }\n",
    );
    write(
        &root.join("cmd/b/main.go"),
        "//go:build arm64\n\npackage main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"b\") }\n",
    );
    write(
        &root.join("cmd/c/main_amd64.go"),
        &format!(
            "package main\n\nimport \"fmt\"\n\nvar nonce = {nonce:?}\n\nfunc main() {{ fmt.Println(\"c\", len(nonce) > 0) }}\n"
        ),
    );
    write(&root.join("internal/x/x.go"), "package x\n\nfunc X() {}\n");
    for which in ["one", "two"] {
        write(
            &root.join(format!("extra/{which}/tool/main.go")),
            "package main\n\nfunc main() {}\n",
        );
    }
}

#[test]
fn module_commands_patterns_constraints_and_the_build_cache() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    module_fixture(&m);
    let cache = shared_cache();

    // The plan: ./... names every main package of any target, with short unique names.
    let plan_of = |targets: &[&str]| -> Value {
        let mut a = args(&["plan", "./...", "--toolchain", "go1.27", "--format", "json"]);
        for t in targets {
            a.extend(["--target".to_string(), t.to_string()]);
        }
        let o = crossmatrix_in(&m, &a, &[], false);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let plan = plan_of(&["linux/amd64"]);
    assert!(
        plan.as_array().unwrap().iter().all(|c| c["program"] != "b"),
        "b builds for arm64 only, and the matrix has no arm64: {plan:#}"
    );
    let plan = plan_of(&["linux/amd64", "linux/arm64"]);
    let mut names: Vec<&str> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["program"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names, ["a", "b", "c", "one-tool", "two-tool"]);

    // ./cmd/... on amd64 and arm64: constraints decide which cells build.
    let out = d.path().join("out1");
    let run = args(&[
        "run",
        "./cmd/...",
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
        "--cgo",
        "0",
        "--reps",
        "0",
        "--cache-dir",
        &s(&cache),
        "--out",
        &s(&out),
    ]);
    let o = crossmatrix_in(&m, &run, &[], false);
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&out);
    assert_eq!(recs.len(), 6);
    for arch in ["amd64", "arm64"] {
        let a = by_program(&recs, arch, "a");
        assert_eq!(a["status"], "pass", "{a:#}");
        assert_eq!(a["run"]["stdout_tail"], "a: hello");
        assert_eq!(a["package"]["import_path"], "example.com/m/cmd/a");
        assert_eq!(a["package"]["module"], "example.com/m");
        assert_eq!(a["package"]["module_version"], "(devel)");
        assert_eq!(a["package"]["go"], "1.21");
    }
    let b_amd64 = by_program(&recs, "amd64", "b");
    assert_eq!(b_amd64["status"], "skipped");
    assert_eq!(b_amd64["cause"], "excluded-by-constraints");
    assert!(
        b_amd64["hint"]
            .as_str()
            .unwrap()
            .contains("main.go: //go:build arm64"),
        "{b_amd64:#}"
    );
    assert_eq!(by_program(&recs, "arm64", "b")["status"], "pass");
    let c_arm64 = by_program(&recs, "arm64", "c");
    assert_eq!(c_arm64["cause"], "excluded-by-constraints");
    assert!(
        c_arm64["hint"]
            .as_str()
            .unwrap()
            .contains("main_amd64.go: file name suffix _amd64"),
        "{c_arm64:#}"
    );
    assert_eq!(by_program(&recs, "amd64", "c")["status"], "pass");

    // The build cache covers what each build reads, and only that.
    let cached = |out: &Path| -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = records(out)
            .iter()
            .filter(|r| r["status"] == "pass")
            .map(|r| {
                (
                    format!(
                        "{}/{}",
                        r["target"]["goarch"].as_str().unwrap(),
                        r["program"].as_str().unwrap()
                    ),
                    r["build"]["cached"] == true,
                )
            })
            .collect();
        v.sort();
        v
    };
    let rerun = |n: &str| {
        let out = d.path().join(n);
        let mut a = run.clone();
        let last = a.len() - 1;
        a[last] = s(&out);
        let o = crossmatrix_in(&m, &a, &[], false);
        assert!(o.status.success(), "{}", stderr(&o));
        cached(&out)
    };
    let all_cached = vec![
        ("amd64/a".to_string(), true),
        ("amd64/c".to_string(), true),
        ("arm64/a".to_string(), true),
        ("arm64/b".to_string(), true),
    ];
    assert_eq!(rerun("out2"), all_cached, "nothing changed");
    write(&m.join("README.md"), "# m, edited\n");
    write(
        &m.join("extra/one/tool/main.go"),
        "package main\n\nfunc main() { println() }\n",
    );
    assert_eq!(
        rerun("out3"),
        all_cached,
        "a README and an unrelated command changed"
    );
    let lib = std::fs::read_to_string(m.join("lib/lib.go")).unwrap();
    write(
        &m.join("lib/lib.go"),
        &lib.replace("\"hello\"", "\"hello again\""),
    );
    assert_eq!(
        rerun("out4"),
        vec![
            ("amd64/a".to_string(), false),
            ("amd64/c".to_string(), true),
            ("arm64/a".to_string(), false),
            ("arm64/b".to_string(), true),
        ],
        "the package a imports changed"
    );
    assert_eq!(
        by_program(&records(&d.path().join("out4")), "amd64", "a")["run"]["stdout_tail"],
        "a: hello again"
    );
    // A new file joins a package: it rebuilds.
    write(
        &m.join("cmd/c/extra_amd64.go"),
        "package main\n\nfunc init() {}\n",
    );
    let after = rerun("out5");
    assert!(after.contains(&("amd64/c".to_string(), false)), "{after:?}");
}

#[test]
fn a_workspace_of_two_modules_builds_from_its_root() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let w = d.path().join("ws");
    write(
        &w.join("go.work"),
        "go 1.22\n\nuse (\n\t./app\n\t./greet\n)\n",
    );
    write(
        &w.join("app/go.mod"),
        "module example.com/app\n\ngo 1.22\n\nrequire example.com/greet v0.0.0\n",
    );
    write(
        &w.join("app/main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\t\"example.com/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hi()) }\n",
    );
    write(
        &w.join("greet/go.mod"),
        "module example.com/greet\n\ngo 1.22\n",
    );
    write(
        &w.join("greet/greet.go"),
        &format!(
            "package greet\n\nfunc Hi() string {{ return \"hi from the workspace\" }}\n\nvar nonce = {:?}\n",
            format!("{:?}", std::time::SystemTime::now())
        ),
    );
    let out = d.path().join("out");
    let o = crossmatrix(&[
        "run",
        &s(&w.join("app")),
        "--toolchain",
        "go1.27",
        "--target",
        "linux/amd64",
        "--target",
        "linux/riscv64",
        "--cgo",
        "0",
        "--reps",
        "0",
        "--cache-dir",
        &s(&shared_cache()),
        "--out",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for r in records(&out) {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(r["run"]["stdout_tail"], "hi from the workspace");
        assert_eq!(r["package"]["workspace"], s(&w.join("go.work")));
        assert_eq!(r["package"]["import_path"], "example.com/app");
    }
}

#[test]
fn third_party_dependencies_are_fetched_once_and_built_offline() {
    require_host!(true);
    let d = tempfile::tempdir().unwrap();
    let proxy = d.path().join("proxy");
    let nonce = format!("{:?}", std::time::SystemTime::now());
    publish(
        &proxy,
        "example.com/greet",
        "v1.2.0",
        &[(
            "greet.go",
            &format!(
                "package greet\n\nfunc Hello() string {{ return \"hello from greet v1.2.0\" }}\n\nvar Nonce = {nonce:?}\n"
            ),
        )],
    );
    let app = d.path().join("app");
    write(
        &app.join("go.mod"),
        "module example.com/app\n\ngo 1.21\n\nrequire example.com/greet v1.2.0\n",
    );
    write(
        &app.join("cmd/hello/main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\t\"example.com/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n",
    );
    let proxy_url = format!("file://{}", proxy.display());
    let setup_cache = d.path().join("setup-modcache");
    let goenv = [
        ("GOPROXY", proxy_url.clone()),
        ("GOSUMDB", "off".to_string()),
        ("GOMODCACHE", s(&setup_cache)),
    ];
    go(&app, &["mod", "tidy"], &goenv);
    assert!(
        std::fs::read_to_string(app.join("go.sum"))
            .unwrap()
            .contains("example.com/greet v1.2.0 h1:")
    );
    let cache = shared_cache();
    let modcache = d.path().join("modcache");
    let run = |program_dir: &Path, out: &str, modcache: &Path, extra: &[&str]| {
        let mut a = args(&[
            "run",
            "./cmd/...",
            "--toolchain",
            "go1.27",
            "--reps",
            "0",
            "--cache-dir",
            &s(&cache),
            &format!("--modcache={}", s(modcache)),
            "--out",
            &s(&d.path().join(out)),
        ]);
        a.extend(extra.iter().map(|x| x.to_string()));
        crossmatrix_in(program_dir, &a, &[], false)
    };

    // Not fetched yet: the build says which module is missing and what to do.
    let o = run(
        &app,
        "missing",
        &modcache,
        &["--target", "linux/amd64", "--cgo", "0"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r = &records(&d.path().join("missing"))[0];
    assert_eq!(r["cause"], "missing-module", "{r:#}");
    let hint = r["hint"].as_str().unwrap();
    assert!(hint.contains("example.com/greet v1.2.0"), "{hint}");
    assert!(hint.contains("crossmatrix fetch"), "{hint}");

    // fetch: once per module and toolchain, with the user's GOPROXY; again, it is up to date.
    let fetch = args(&[
        "fetch",
        "./cmd/...",
        "--toolchain",
        "go1.27",
        "--toolchain",
        "go1.26",
        "--target",
        "linux/amd64",
        "--cache-dir",
        &s(&cache),
        &format!("--modcache={}", s(&modcache)),
    ]);
    let env = [("GOPROXY", proxy_url.as_str()), ("GOSUMDB", "off")];
    let o = crossmatrix_in(&app, &fetch, &env, false);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert_eq!(e.matches("fetched ").count(), 2, "{e}");
    assert!(e.contains("go1.26") && e.contains("go1.27"), "{e}");
    assert!(modcache.join("example.com/greet@v1.2.0/greet.go").is_file());
    let o = crossmatrix_in(&app, &fetch, &env, false);
    assert!(o.status.success());
    assert_eq!(
        stderr(&o).matches("up to date").count(),
        2,
        "{}",
        stderr(&o)
    );

    // Builds run offline (no GOPROXY anywhere) for three arches, cgo 0 and 1.
    let o = run(
        &app,
        "offline",
        &modcache,
        &[
            "--target",
            "linux/amd64",
            "--target",
            "linux/arm64",
            "--target",
            "linux/riscv64",
            "--cgo",
            "0",
            "--cgo",
            "1",
            "--libc",
            "musl",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let recs = records(&d.path().join("offline"));
    assert_eq!(recs.len(), 6);
    for r in &recs {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(r["run"]["stdout_tail"], "hello from greet v1.2.0");
    }

    // A go.sum that does not match the cached module: refused, never built.
    let tampered = d.path().join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    for f in ["go.mod", "cmd/hello/main.go"] {
        write(
            &tampered.join(f),
            &std::fs::read_to_string(app.join(f)).unwrap(),
        );
    }
    let sum = std::fs::read_to_string(app.join("go.sum")).unwrap();
    let line = sum.lines().find(|l| !l.contains("/go.mod")).unwrap();
    let h = line.rsplit(' ').next().unwrap();
    // Another hash: its first base64 character after `h1:` changed.
    let first = h.as_bytes()[3] as char;
    let bad = format!("h1:{}{}", if first == 'A' { 'B' } else { 'A' }, &h[4..]);
    assert_ne!(bad, h);
    write(&tampered.join("go.sum"), &sum.replace(h, &bad));
    let o = run(
        &tampered,
        "tampered",
        &modcache,
        &["--target", "linux/amd64", "--cgo", "0"],
    );
    assert_eq!(o.status.code(), Some(1));
    let r = &records(&d.path().join("tampered"))[0];
    assert_eq!(r["cause"], "checksum-mismatch", "{r:#}");
    assert!(r["binary"].is_null());
    assert!(
        r["hint"]
            .as_str()
            .unwrap()
            .contains("example.com/greet@v1.2.0"),
        "{r:#}"
    );

    // With vendor/, no module cache is needed at all.
    let vendored = d.path().join("vendored");
    for f in ["go.mod", "go.sum", "cmd/hello/main.go"] {
        write(
            &vendored.join(f),
            &std::fs::read_to_string(app.join(f)).unwrap(),
        );
    }
    go(
        &vendored,
        &["mod", "vendor"],
        &[("GOPROXY", "off".into()), ("GOMODCACHE", s(&setup_cache))],
    );
    let empty = d.path().join("empty-modcache");
    let o = run(
        &vendored,
        "vendored",
        &empty,
        &["--target", "linux/arm64", "--cgo", "0"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = &records(&d.path().join("vendored"))[0];
    assert_eq!(r["status"], "pass", "{r:#}");
    assert_eq!(r["package"]["vendored"], true);
    assert!(
        std::fs::read_dir(&empty)
            .map(|mut e| e.next().is_none())
            .unwrap_or(true)
    );
}

#[test]
fn go_test_conventions_and_single_file_constraints() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("test");
    let nonce = format!("{:?}", std::time::SystemTime::now());
    // Output on stdout and stderr, interleaved, compared with NAME.out.
    write(
        &t.join("mixed.go"),
        &format!(
            "// run\n\npackage main\n\nimport (\"fmt\"; \"os\")\n\nvar nonce = {nonce:?}\n\nfunc main() {{\n\tfmt.Println(\"one\")\n\tfmt.Fprintln(os.Stderr, \"two\")\n\tfmt.Println(\"three\")\n}}\n"
        ),
    );
    write(&t.join("mixed.out"), "one\ntwo\nthree\n");
    // No .out: the output must be empty.
    write(
        &t.join("quiet.go"),
        "// run\n\npackage main\n\nfunc main() {}\n",
    );
    // Arguments from the directive.
    write(
        &t.join("args.go"),
        "// run first second\n\npackage main\n\nimport (\"fmt\"; \"os\")\n\nfunc main() { fmt.Println(os.Args[1:]) }\n",
    );
    write(&t.join("args.out"), "[first second]\n");
    // Wrong output.
    write(
        &t.join("wrong.go"),
        "// run\n\npackage main\n\nfunc main() { println(\"surprise\") }\n",
    );
    // Not programs: another recipe, and a build constraint excluding amd64.
    write(
        &t.join("errors.go"),
        "// errorcheck\n\npackage main\n\nvar x int = \"s\" // ERROR \"cannot use\"\n",
    );
    write(
        &t.join("arm64only.go"),
        "//go:build arm64\n\n// run\n\npackage main\n\nfunc main() {}\n",
    );
    // A GOEXPERIMENT build (its binary says `go1.27.4-X:mapsplitgroup`: since Go 1.26 a release joins the experiments with `-`), Go 1.27 only (the experiment is new in 1.27).
    write(
        &t.join("experiment.go"),
        "//go:build go1.27\n\n// run -goexperiment mapsplitgroup\n\npackage main\n\nfunc main() {}\n",
    );
    // More source files after the directive's flags.
    write(
        &t.join("two.go"),
        "// run twohelper.go first\n\npackage main\n\nimport (\"fmt\"; \"os\")\n\nfunc main() { fmt.Println(helper(), os.Args[1]) }\n",
    );
    write(
        &t.join("twohelper.go"),
        "// skip\n\npackage main\n\nfunc helper() string { return \"from the helper\" }\n",
    );
    write(&t.join("two.out"), "from the helper first\n");
    // A temporary directory: Go's harness machines have /tmp, so these runs do, on scratch too.
    write(
        &t.join("tempdir.go"),
        "// run\n\npackage main\n\nimport \"os\"\n\nfunc main() { d, err := os.MkdirTemp(\"\", \"t\"); if err != nil { panic(err) }; os.RemoveAll(d) }\n",
    );
    // Exec of the go command at run time.
    write(
        &t.join("needsgo.go"),
        "// run\n\npackage main\n\nimport \"os/exec\"\n\nfunc main() { if err := exec.Command(\"go\", \"version\").Run(); err != nil { panic(err) } }\n",
    );
    write(
        &d.path().join("crossmatrix.toml"),
        "toolchains = [\"go1.27\", \"go1.26\"]\ntargets = [\"linux/amd64\"]\ncgo = [0]\n\n[run]\nreps = 0\n\n[[programs]]\npath = \"test\"\nsuite = true\nconventions = \"go-test\"\n",
    );
    let out = d.path().join("out");
    let o = crossmatrix(&[
        "run",
        "--config",
        &s(&d.path().join("crossmatrix.toml")),
        "--cache-dir",
        &s(&shared_cache()),
        "--out",
        &s(&out),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let recs = records(&out);
    let programs: std::collections::BTreeSet<&str> = recs
        .iter()
        .map(|r| r["program"].as_str().unwrap())
        .collect();
    assert_eq!(
        programs.into_iter().collect::<Vec<_>>(),
        [
            "args",
            "arm64only",
            "experiment",
            "mixed",
            "needsgo",
            "quiet",
            "tempdir",
            "two",
            "wrong"
        ],
        "only `// run` files are programs"
    );
    for tc in ["go1.26", "go1.27"] {
        let id = |p: &str| format!("{tc}/linux-amd64/cgo0/rootfs-scratch/{p}");
        for p in ["mixed", "quiet", "args", "two", "tempdir"] {
            assert_eq!(
                record(&recs, &id(p))["status"],
                "pass",
                "{p}: {:#}",
                record(&recs, &id(p))
            );
        }
        let wrong = record(&recs, &id("wrong"));
        assert_eq!(wrong["cause"], "wrong-output");
        assert!(
            wrong["hint"].as_str().unwrap().contains("combined"),
            "{wrong:#}"
        );
        let arm = record(&recs, &id("arm64only"));
        assert_eq!(
            (arm["status"].as_str(), arm["cause"].as_str()),
            (Some("skipped"), Some("excluded-by-constraints"))
        );
        assert!(arm["hint"].as_str().unwrap().contains("//go:build arm64"));
        let needs = record(&recs, &id("needsgo"));
        assert_eq!(needs["cause"], "needs-go-toolchain", "{needs:#}");
    }
    let exp = record(&recs, "go1.27/linux-amd64/cgo0/rootfs-scratch/experiment");
    assert_eq!(exp["status"], "pass", "{exp:#}");
    let v = exp["binary"]["go_version"].as_str().unwrap();
    assert!(
        v.starts_with("go1.27.") && v.ends_with("-X:mapsplitgroup"),
        "{v}"
    );
    let exp22 = record(&recs, "go1.26/linux-amd64/cgo0/rootfs-scratch/experiment");
    assert_eq!(exp22["cause"], "excluded-by-constraints");
}

#[test]
fn programs_reading_stdin_or_exiting_nonzero_are_timed() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    common::unique_program(
        &d.path().join("echo3.go"),
        "(\"io\"; \"os\")",
        "b, _ := io.ReadAll(os.Stdin); if string(b) != \"ping\\n\" || nonce == \"\" { os.Exit(1) }; os.Exit(3)",
    );
    write(
        &d.path().join("crossmatrix.toml"),
        "toolchains = [\"go1.27\"]\ntargets = [\"linux/amd64\", \"linux/arm64\"]\ncgo = [0]\n\n[run]\nreps = 3\n\n[[programs]]\npath = \"echo3.go\"\nstdin = \"ping\\n\"\nexpect = { exit_code = 3 }\n",
    );
    let out = d.path().join("out");
    let o = crossmatrix(&[
        "run",
        "--config",
        &s(&d.path().join("crossmatrix.toml")),
        "--cache-dir",
        &s(&shared_cache()),
        "--out",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("3 reps"),
        "the header says the config's reps: {}",
        stderr(&o)
    );
    for r in records(&out) {
        assert_eq!(r["status"], "pass", "{r:#}");
        assert_eq!(
            r["startup"]["reps"], 3,
            "timed with its stdin and exit code: {r:#}"
        );
        assert!(r["hint"].is_null(), "{r:#}");
    }
}

#[test]
fn bad_project_input_is_a_usage_error_naming_the_path_and_the_fix() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    write(&m.join("go.mod"), "module example.com/m\n\ngo 1.21\n");
    write(&m.join("lib/lib.go"), "package lib\n");
    write(&m.join("docs/README.md"), "docs\n");
    let bad = d.path().join("bad");
    write(
        &bad.join("go.mod"),
        "module example.com/bad\n\ngo 1.21\nbogus directive\n",
    );
    write(&bad.join("main.go"), "package main\n\nfunc main() {}\n");
    let ws = d.path().join("ws");
    write(&ws.join("go.work"), "go 1.22\n\nuse ./in\n");
    write(&ws.join("in/go.mod"), "module example.com/in\n\ngo 1.22\n");
    write(
        &ws.join("out/go.mod"),
        "module example.com/out\n\ngo 1.22\n",
    );
    write(&ws.join("out/main.go"), "package main\n\nfunc main() {}\n");
    let cases: Vec<(PathBuf, &str, Vec<&str>)> = vec![
        (m.join("docs"), "", vec!["not a Go package", "docs"]),
        (m.join("lib"), "", vec!["is package lib, not a command"]),
        (m.clone(), "./lib/...", vec!["matches no main package"]),
        (m.clone(), "./nothing/...", vec!["no such directory"]),
        (bad.clone(), "", vec!["go.mod", "unknown directive: bogus"]),
        (ws.join("out"), "", vec!["does not use", "go work use"]),
    ];
    for (dir, pattern, want) in cases {
        let program = if pattern.is_empty() {
            s(&dir)
        } else {
            pattern.to_string()
        };
        let o = crossmatrix_in(
            if pattern.is_empty() { d.path() } else { &dir },
            &args(&[
                "plan",
                &program,
                "--toolchain",
                "go1.27",
                "--target",
                "linux/amd64",
            ]),
            &[],
            false,
        );
        assert_eq!(o.status.code(), Some(2), "{program}: {}", stderr(&o));
        let e = stderr(&o);
        for w in want {
            assert!(e.contains(w), "{program}: expected `{w}` in: {e}");
        }
    }
}
