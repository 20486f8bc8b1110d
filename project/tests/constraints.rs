//! Our build-constraint verdicts against the go command's own: for every file of a fixture
//! package (every syntax: `//go:build`, `// +build`, file name suffixes, cgo files) and of
//! standard-library packages full of constraints, on several targets and both installed
//! toolchains, a file we call built is in `go list`'s GoFiles/CgoFiles and a file we exclude
//! is in its IgnoredGoFiles.

use crossmatrix_project::BuildContext;
use crossmatrix_project::constraint::exclusion;
use std::path::{Path, PathBuf};
use std::process::Command;

fn toolchains() -> Vec<PathBuf> {
    let found: Vec<PathBuf> = ["/usr/lib/go-1.26", "/usr/lib/go-1.27"]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.join("bin/go").exists())
        .collect();
    if found.len() < 2 {
        let why = "Go 1.26 and 1.27 are not both installed: run ci/setup";
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but {why}");
        }
        eprintln!("SKIPPED: {why}");
    }
    found
}

fn version(goroot: &Path) -> String {
    let v = std::fs::read_to_string(goroot.join("VERSION")).unwrap();
    v.lines().next().unwrap().to_string()
}

fn ctx(goroot: &Path, goos: &str, goarch: &str, cgo: bool) -> BuildContext {
    BuildContext {
        goroot: goroot.to_path_buf(),
        go_version: version(goroot),
        goos: goos.into(),
        goarch: goarch.into(),
        variant: None,
        cgo,
        tags: vec![],
    }
}

/// (built, ignored) file names of the package in `dir`, as `go list` says for `ctx`.
fn go_list(ctx: &BuildContext, dir: &Path, gopath_mode: bool) -> (Vec<String>, Vec<String>) {
    let mut c = Command::new(ctx.go());
    c.current_dir(dir)
        .env("GOROOT", &ctx.goroot)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .envs(ctx.env())
        .args([
            "list",
            "-find",
            "-e",
            "-f",
            "{{join .GoFiles \" \"}} {{join .CgoFiles \" \"}}|{{join .IgnoredGoFiles \" \"}}",
            ".",
        ]);
    if gopath_mode {
        c.env("GO111MODULE", "off");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (built, ignored) = text.trim().split_once('|').unwrap();
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    (words(built), words(ignored))
}

/// Asserts that our verdict on every `.go` file of `dir` (tests excluded) is go's.
fn agree(ctx: &BuildContext, dir: &Path, gopath_mode: bool) -> usize {
    let tags = ctx.tags().unwrap();
    let (built, ignored) = go_list(ctx, dir, gopath_mode);
    let mut checked = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".go") || name.ends_with("_test.go") {
            continue;
        }
        let content = std::fs::read_to_string(e.path()).unwrap();
        let ours = exclusion(&name, &content, &tags).unwrap();
        let theirs_built = built.contains(&name);
        assert!(
            theirs_built || ignored.contains(&name),
            "{name}: go lists it nowhere"
        );
        assert_eq!(
            ours.is_none(),
            theirs_built,
            "{}/{} cgo={} {}: {name}: ours {:?}, go {}",
            ctx.goos,
            ctx.goarch,
            ctx.cgo,
            ctx.go_version,
            ours,
            if theirs_built {
                "builds it"
            } else {
                "ignores it"
            }
        );
        checked += 1;
    }
    checked
}

const TARGETS: &[(&str, &str, bool)] = &[
    ("linux", "amd64", false),
    ("linux", "amd64", true),
    ("linux", "arm64", true),
    ("linux", "riscv64", false),
    ("linux", "s390x", false),
    ("windows", "amd64", false),
    ("darwin", "arm64", true),
    ("wasip1", "wasm", false),
    ("aix", "ppc64", false),
];

#[test]
fn fixture_files_of_every_syntax_agree_with_go_list() {
    let d = tempfile::tempdir().unwrap();
    let files: &[(&str, &str)] = &[
        ("plain.go", "package p\n"),
        (
            "tagged.go",
            "//go:build linux && (arm64 || riscv64)\n\npackage p\n",
        ),
        ("negated.go", "//go:build !windows && !wasm\n\npackage p\n"),
        ("unix.go", "//go:build unix\n\npackage p\n"),
        ("release.go", "//go:build go1.23\n\npackage p\n"),
        ("old.go", "// +build linux,amd64 darwin\n\npackage p\n"),
        ("old_no_blank.go", "// +build windows\npackage p\n"),
        (
            "both.go",
            "//go:build windows\n// +build windows\n\npackage p\n",
        ),
        (
            "comment_first.go",
            "// Copyright 2025.\n\n//go:build s390x\n\npackage p\n",
        ),
        (
            "block_first.go",
            "/* a block\n   comment */\n\n//go:build aix\n\npackage p\n",
        ),
        ("after_package.go", "package p\n\n//go:build windows\n"),
        (
            "cgo.go",
            "package p\n\n// #include <stdlib.h>\nimport \"C\"\n",
        ),
        (
            "cgo_grouped.go",
            "package p\n\nimport (\n\t\"unsafe\"\n\t\"C\"\n)\n\nvar _ = unsafe.Pointer(nil)\n",
        ),
        ("nocgo.go", "//go:build !cgo\n\npackage p\n"),
        ("x_linux.go", "package p\n"),
        ("x_windows_amd64.go", "package p\n"),
        ("x_arm64.go", "package p\n"),
        ("x_wasip1.go", "package p\n"),
        ("linux.go", "package p\n"),
        ("x_notanos.go", "package p\n"),
        ("ignore.go", "//go:build ignore\n\npackage p\n"),
        ("gc.go", "//go:build gc && !gccgo\n\npackage p\n"),
        (
            "goexp.go",
            "//go:build goexperiment.aliastypeparams\n\npackage p\n",
        ),
        (
            "armlevel.go",
            "//go:build arm64.v8.0 || amd64.v1\n\npackage p\n",
        ),
    ];
    for (name, body) in files {
        std::fs::write(d.path().join(name), body).unwrap();
    }
    let mut checked = 0;
    for goroot in toolchains() {
        for (goos, goarch, cgo) in TARGETS {
            checked += agree(&ctx(&goroot, goos, goarch, *cgo), d.path(), true);
        }
    }
    eprintln!("{checked} verdicts agree");
}

#[test]
fn standard_library_packages_agree_with_go_list() {
    let mut checked = 0;
    for goroot in toolchains() {
        for pkg in [
            "os",
            "syscall",
            "runtime/cgo",
            "net",
            "crypto/x509",
            "internal/cpu",
            "time",
            "os/user",
        ] {
            let dir = goroot.join("src").join(pkg);
            for (goos, goarch, cgo) in TARGETS {
                checked += agree(&ctx(&goroot, goos, goarch, *cgo), &dir, false);
            }
        }
    }
    eprintln!("{checked} verdicts agree");
    assert!(checked > 1000 || toolchains().len() < 2, "{checked}");
}
