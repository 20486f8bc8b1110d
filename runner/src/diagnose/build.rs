//! Why a build failed: the compiler's or linker's log made into a cause and a hint
//! ([`classify_build`]), and failures that come from the module graph rather than the code
//! ([`classify_module_failure`]: a missing module, a checksum mismatch, a go line newer than
//! the toolchain).

use crate::diagnose::failure::Failure;
use crossmatrix_matrix::{Cause, GoPackage};
use regex::Regex;
use std::path::Path;
use std::sync::LazyLock;

static EXEC_NOT_FOUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"exec: "([^"]+)": executable file not found"#).expect("static regex")
});
/// Classifies a failed `go build` from its output.
pub fn classify_build(log: &str, goarch: &str) -> Failure {
    if let Some(m) = EXEC_NOT_FOUND.captures(log) {
        let cc = &m[1];
        return Failure::new(
            Cause::NoCCompiler,
            format!(
                "the C compiler `{cc}` is not installed: install it, or set CC/CXX to one for {goarch} (zig cc -target …)"
            ),
        );
    }
    if log.contains("unsupported GOOS/GOARCH pair") {
        return Failure::generic(Cause::UnsupportedTarget);
    }
    if log.contains("incompatible with") && log.contains("architecture")
        || log.contains("file in wrong format")
        || log.contains("Relocations in generic ELF")
        || assembles_for_another_arch(log, goarch)
    {
        return Failure::new(
            Cause::CcTargetMismatch,
            format!(
                "the C toolchain produced objects for another architecture than {goarch}: CC and CXX must target the same triple as GOARCH"
            ),
        );
    }
    let first = first_error_line(log);
    Failure::new(
        Cause::BuildError,
        match first {
            Some(l) => format!("fix: {l}"),
            None => Cause::BuildError.default_hint().to_string(),
        },
    )
}

/// runtime/cgo's `gcc_<goarch>.S` fed to a C compiler for another architecture: its
/// assembler rejects every instruction (clang: `invalid instruction mnemonic`; GNU as: `no such
/// instruction`), or the compiler rejects the flags cgo passes for GOARCH (`-marm`, `-m32`).
fn assembles_for_another_arch(log: &str, goarch: &str) -> bool {
    const ASM: &[&str] = &[
        "invalid instruction mnemonic",
        "unknown use of instruction mnemonic",
        "no such instruction",
        "unknown mnemonic",
        "unrecognized instruction mnemonic",
    ];
    const FLAGS: &[&str] = &[
        "unrecognized command-line option '-marm'",
        "unrecognized command-line option '-m32'",
        "unrecognized command-line option '-m64'",
        "unknown target CPU",
    ];
    let own_asm = format!("gcc_{goarch}.S");
    (log.contains(&own_asm) && ASM.iter().any(|p| log.contains(p)))
        || FLAGS.iter().any(|p| log.contains(p))
}

/// The first line that looks like a compiler error (`file.go:3:5: …`), else the first
/// non-empty line that is neither a `#` package header nor one of `go test`'s `FAIL` summary
/// lines (`FAIL\tpkg [setup failed]`), which say only that the build failed.
fn first_error_line(log: &str) -> Option<String> {
    let lines = log.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut fallback = None;
    for l in lines {
        if l.starts_with('#') || l == "FAIL" || l.starts_with("FAIL\t") {
            continue;
        }
        if l.contains(".go:") {
            return Some(truncate(l, 200));
        }
        fallback.get_or_insert_with(|| truncate(l, 200));
    }
    fallback
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "…"
    }
}

static VERIFYING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"verifying ([^\s:@]+)@([^\s:]+)(?:/go\.mod)?: checksum mismatch").expect("regex")
});
static MISSING_SUM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"missing go\.sum entry for module providing package (\S+)").expect("regex")
});
static MISSING_SUM_MOD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"missing go\.sum entry for go\.mod file").expect("regex"));
static LOOKUP_AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(\S+\.go):(\d+):(\d+): (?:module lookup disabled by GOPROXY=off|no required module provides package|cannot find module providing package)")
        .expect("regex")
});
static PROVIDING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:cannot find module providing package|no required module provides package|package) (\S+?):? ").expect("regex")
});
static MODULE_AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)^go: ([^\s@]+)@(v\S+?): (?:module lookup disabled|reading|missing|not found|git)",
    )
    .expect("regex")
});
static DOWNLOADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?m)^go: downloading (\S+) (v\S+)$").expect("regex"));
static REQUIRES_GO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"requires go >= (\S+) \(running go (\S+?)[;)]").expect("regex"));

/// The module-related cause of a failed build of `pkg`, if its log shows one. `requires`
/// lists the module's requirements (path, version) to name the module a missing package
/// belongs to.
pub fn classify_module_failure(
    log: &str,
    pkg: &GoPackage,
    requires: &[(String, String)],
) -> Option<Failure> {
    if let Some(m) = VERIFYING.captures(log) {
        return Some(Failure::new(
            Cause::ChecksumMismatch,
            format!(
                "{}@{} in the module cache does not match go.sum ({}): remove it from the module cache and run `crossmatrix fetch` again; if it persists, the module's source or go.sum changed — never build it as it is",
                &m[1],
                &m[2],
                pkg.module.gomod.with_file_name("go.sum").display()
            ),
        ));
    }
    if let Some(m) = MISSING_SUM.captures(log) {
        return Some(Failure::new(
            Cause::MissingGoSum,
            format!(
                "go.sum of {} has no entry for the module providing {}: run `go mod tidy` in {} and commit go.sum",
                pkg.module.path,
                &m[1],
                pkg.module
                    .gomod
                    .parent()
                    .unwrap_or(Path::new("."))
                    .display()
            ),
        ));
    }
    if MISSING_SUM_MOD.is_match(log) {
        return Some(Failure::new(
            Cause::MissingGoSum,
            format!(
                "go.sum of {} lacks a go.mod checksum: run `go mod tidy` and commit go.sum",
                pkg.module.path
            ),
        ));
    }
    if let Some(m) = REQUIRES_GO.captures(log) {
        return Some(Failure::new(
            Cause::ToolchainTooOld,
            format!(
                "{} requires go >= {} and this toolchain is go{}: drop it from the matrix or lower the go line",
                pkg.module.gomod.display(),
                &m[1],
                &m[2]
            ),
        ));
    }
    let missing = missing_module(log, pkg, requires)?;
    let verb = if missing.contains(", ") { "are" } else { "is" };
    Some(Failure::new(
        Cause::MissingModule,
        format!(
            "{missing} {verb} not in the module cache: run `crossmatrix fetch` (it downloads what the matrix needs, once), or vendor the dependencies (`go mod vendor`)"
        ),
    ))
}

/// `example.com/dep v1.2.3` for the module a failed build could not find, as precisely as the
/// log allows.
fn missing_module(log: &str, pkg: &GoPackage, requires: &[(String, String)]) -> Option<String> {
    // Go tried to download what the (read-only, offline) module cache lacks.
    let downloading: Vec<String> = DOWNLOADING
        .captures_iter(log)
        .map(|m| format!("{} {}", &m[1], &m[2]))
        .collect();
    if !downloading.is_empty() {
        return Some(downloading.join(", "));
    }
    if let Some(m) = MODULE_AT.captures(log) {
        return Some(format!("{} {}", &m[1], &m[2]));
    }
    let import = LOOKUP_AT
        .captures(log)
        .and_then(|m| {
            let line: usize = m[2].parse().ok()?;
            let col: usize = m[3].parse().ok()?;
            // Go names the file relative to where it ran (the package dir), or absolute.
            std::iter::once(&pkg.dir)
                .chain(&pkg.roots)
                .map(|d| d.join(&m[1]))
                .find(|f| f.is_file())
                .and_then(|f| import_at(&f, line, col))
        })
        .or_else(|| {
            log.contains("module lookup disabled")
                .then(|| PROVIDING.captures(log).map(|m| m[1].to_string()))
                .flatten()
        })?;
    let owner = requires
        .iter()
        .filter(|(path, _)| import == *path || import.starts_with(&format!("{path}/")))
        .max_by_key(|(path, _)| path.len());
    Some(match owner {
        Some((path, version)) => format!("{path} {version} (providing {import})"),
        None => format!("the module providing {import}"),
    })
}

/// The import path quoted at `line:col` of `file` (go points at the import's string).
fn import_at(file: &Path, line: usize, col: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let rest = l.get(col.checked_sub(1)?..)?;
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossmatrix_matrix::ModuleRef;

    fn pkg(dir: &Path) -> GoPackage {
        GoPackage {
            dir: dir.to_path_buf(),
            target: ".".into(),
            import_path: "example.com/app/cmd/hello".into(),
            module: ModuleRef {
                path: "example.com/app".into(),
                gomod: dir.join("go.mod"),
                go: Some("1.21".into()),
                toolchain: None,
            },
            workspace: None,
            roots: vec![dir.to_path_buf()],
            vendored: false,
        }
    }

    fn requires() -> Vec<(String, String)> {
        vec![
            ("example.com/dep".into(), "v1.0.0".into()),
            ("example.com/dep/v2".into(), "v2.1.0".into()),
        ]
    }

    #[test]
    fn missing_modules_are_named_with_their_version() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("main.go"),
            "package main\nimport (\"fmt\"; \"example.com/dep/v2/sub\")\nfunc main(){}\n",
        )
        .unwrap();
        // What go 1.22 and 1.24 print with GOPROXY=off and an empty module cache.
        let log = "main.go:2:16: module lookup disabled by GOPROXY=off\n";
        let f = classify_module_failure(log, &pkg(d.path()), &requires()).unwrap();
        assert_eq!(f.cause, Cause::MissingModule);
        assert!(
            f.hint
                .starts_with("example.com/dep/v2 v2.1.0 (providing example.com/dep/v2/sub)"),
            "{}",
            f.hint
        );
        assert!(f.hint.contains("crossmatrix fetch"));
        // With an empty, read-only module cache go says what it would download.
        let log = "go: downloading example.com/greet v1.2.0\nmain.go:5:2: mkdir /cache/gomod/cache: read-only file system\n";
        let f = classify_module_failure(log, &pkg(d.path()), &requires()).unwrap();
        assert_eq!(f.cause, Cause::MissingModule);
        assert!(
            f.hint.starts_with("example.com/greet v1.2.0 is not"),
            "{}",
            f.hint
        );
        let log = "go: example.com/other@v0.3.0: module lookup disabled by GOPROXY=off\n";
        let f = classify_module_failure(log, &pkg(d.path()), &requires()).unwrap();
        assert!(f.hint.starts_with("example.com/other v0.3.0"), "{}", f.hint);
    }

    #[test]
    fn checksum_and_go_sum_and_go_line() {
        let d = tempfile::tempdir().unwrap();
        let p = pkg(d.path());
        let log = "verifying example.com/dep@v1.0.0: checksum mismatch\n\tdownloaded: h1:AAA\n\tgo.sum:     h1:BBB\n\nSECURITY ERROR\n";
        let f = classify_module_failure(log, &p, &[]).unwrap();
        assert_eq!(f.cause, Cause::ChecksumMismatch);
        assert!(f.hint.starts_with("example.com/dep@v1.0.0"), "{}", f.hint);
        let log = "cmd/hello/main.go:2:16: missing go.sum entry for module providing package example.com/dep (imported by example.com/app/cmd/hello); to add:\n";
        let f = classify_module_failure(log, &p, &[]).unwrap();
        assert_eq!(f.cause, Cause::MissingGoSum);
        assert!(f.hint.contains("go mod tidy"));
        let log = "go: go.mod requires go >= 1.23 (running go 1.22.12; GOTOOLCHAIN=local)\n";
        let f = classify_module_failure(log, &p, &[]).unwrap();
        assert_eq!(f.cause, Cause::ToolchainTooOld);
        assert!(
            f.hint.contains("go >= 1.23") && f.hint.contains("go1.22.12"),
            "{}",
            f.hint
        );
        assert!(classify_module_failure("main.go:3:2: undefined: x\n", &p, &[]).is_none());
    }
}
