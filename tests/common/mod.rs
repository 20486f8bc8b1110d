//! Helpers for the end-to-end tests: run the real `crossmatrix` binary and read its records.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_crossmatrix");

/// A cache shared by every test run (GOCACHE, zig, rootfs, compiled wasm), so only the first
/// test pays for cold builds.
pub fn shared_cache() -> PathBuf {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join("crossmatrix-cache");
    std::fs::create_dir_all(&p).expect("create the shared test cache");
    p
}

/// Why the host cannot run the end-to-end tests, if it cannot. Tests print it and return:
/// CI installs everything (ci/setup), so nothing skips there.
pub fn missing_host_feature(needs_cgo: bool) -> Option<String> {
    if which::which("bwrap").is_err() {
        return Some("bubblewrap (bwrap) is not installed: run ci/setup".into());
    }
    // Go's supported releases, and the oldest crossmatrix supports (the version-handling tests).
    let missing: Vec<_> = ["/usr/lib/go-1.22", "/usr/lib/go-1.26", "/usr/lib/go-1.27"]
        .iter()
        .filter(|p| !Path::new(p).join("bin/go").exists())
        .collect();
    if !missing.is_empty() {
        return Some(format!("Go is not installed at {missing:?}: run ci/setup"));
    }
    for q in ["qemu-aarch64-static", "qemu-riscv64-static"] {
        if which::which(q).is_err() {
            return Some(format!("{q} is not installed: run ci/setup"));
        }
    }
    if needs_cgo && which::which("zig").is_err() {
        return Some("zig is not on PATH: run ci/setup".into());
    }
    let ok = Command::new("bwrap")
        .args(["--unshare-all", "--ro-bind", "/", "/", "true"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        return Some("bwrap cannot create user namespaces here: see `crossmatrix doctor`".into());
    }
    None
}

macro_rules! require_host {
    ($cgo:expr) => {
        if let Some(why) = common::missing_host_feature($cgo) {
            // CI installs everything (ci/setup): a missing piece there is a failure, not a skip.
            if std::env::var_os("CI").is_some() {
                panic!("CI is set but the host lacks what this test needs: {why}");
            }
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}
pub(crate) use require_host;

/// The crossmatrix binary, set up for tests: no colours, no step summary, and every cell runs
/// for real (`CROSSMATRIX_RERUN=1`): the tests share one cache, and a test that checks what a
/// run does must not get another test's (or an earlier `cargo test`'s) reused result. Tests of
/// reuse itself remove the variable.
pub fn command() -> Command {
    let mut c = Command::new(BIN);
    c.env("NO_COLOR", "1")
        .env("CROSSMATRIX_RERUN", "1")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

pub fn crossmatrix<S: AsRef<str>>(args: &[S]) -> Output {
    run_logged(&mut command(), args)
}

/// [`crossmatrix`] with result reuse on, as users run it.
pub fn crossmatrix_reusing<S: AsRef<str>>(args: &[S]) -> Output {
    run_logged(command().env_remove("CROSSMATRIX_RERUN"), args)
}

/// `run PROGRAM... --toolchain go1.27 --target linux/ARCH... --cache-dir CACHE --out OUT`, the
/// start of most end-to-end runs; tests push their own flags after it.
pub fn go127_run(programs: &[&Path], arches: &[&str], cache: &Path, out: &Path) -> Vec<String> {
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    let mut a = vec!["run".to_string()];
    a.extend(programs.iter().map(|p| path(p)));
    a.extend(["--toolchain".into(), "go1.27".into()]);
    for arch in arches {
        a.extend(["--target".into(), format!("linux/{arch}")]);
    }
    a.extend(["--cache-dir".into(), path(cache), "--out".into(), path(out)]);
    a
}

fn run_logged<S: AsRef<str>>(cmd: &mut Command, args: &[S]) -> Output {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let out = cmd.args(&args).output().expect("run crossmatrix");
    eprintln!(
        "$ crossmatrix {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn records(out_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(out_dir.join("cells.jsonl")).expect("cells.jsonl exists");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

pub fn record<'a>(recs: &'a [Value], id: &str) -> &'a Value {
    recs.iter().find(|r| r["id"] == id).unwrap_or_else(|| {
        panic!(
            "no record {id} in {:?}",
            recs.iter().map(|r| r["id"].clone()).collect::<Vec<_>>()
        )
    })
}

/// Asserts what every passing cell of the small matrix must show.
pub fn assert_pass(r: &Value, executor: &str, linkage: &str) {
    let id = r["id"].as_str().unwrap_or("?");
    assert_eq!(r["status"], "pass", "{id}: {r:#}");
    assert_eq!(r["schema"], 1, "{id}");
    assert_eq!(r["run"]["executor"], executor, "{id}");
    assert_eq!(r["run"]["exit_code"], 0, "{id}");
    assert!(
        r["binary"]["size_bytes"].as_u64().unwrap_or(0) > 100_000,
        "{id}: size"
    );
    assert_eq!(
        r["binary"]["sha256"].as_str().map(str::len),
        Some(64),
        "{id}: sha256"
    );
    assert_eq!(r["binary"]["linkage"], linkage, "{id}: linkage");
    assert_eq!(
        r["binary"]["go_version"], r["toolchain"]["version"],
        "{id}: embedded Go version"
    );
    let out = r["run"]["stdout_tail"].as_str().unwrap_or("");
    assert!(
        out.contains(&format!(
            "go_version={}",
            r["toolchain"]["version"].as_str().unwrap_or("?")
        )),
        "{id}: probe output {out}"
    );
    let st = &r["startup"];
    assert!(st["reps"].as_u64().unwrap_or(0) >= 1, "{id}: startup reps");
    assert!(
        st["median_ms"].as_f64().unwrap_or(0.0) > 0.0,
        "{id}: startup median"
    );
    assert!(
        st["min_ms"].as_f64().unwrap_or(0.0) <= st["median_ms"].as_f64().unwrap_or(0.0),
        "{id}: min <= median"
    );
    assert!(st["mad_ms"].as_f64().is_some(), "{id}: mad");
    // Every repetition ran inside one sandbox, after the default warm-ups.
    assert_eq!(st["method"], "in-sandbox", "{id}: timing method");
    assert_eq!(st["warmups"], 2, "{id}: warm-ups");
    assert_eq!(
        st["samples_ms"].as_array().map(Vec::len),
        st["reps"].as_u64().map(|n| n as usize),
        "{id}: one sample per rep"
    );
}

/// Step cgroups (`crossmatrix-<pid>-<n>`) whose name starts with `prefix`, looked for only
/// below this test process's own cgroups: crossmatrix makes them there, and the cgroup tree
/// may show other containers' cgroups too (their pids mean nothing here).
pub fn own_step_cgroups(prefix: &str) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() || ft.is_symlink() {
                continue;
            }
            if e.file_name().to_string_lossy().starts_with(prefix) {
                out.push(e.path().display().to_string());
            } else if depth < 4 {
                walk(&e.path(), prefix, depth + 1, out);
            }
        }
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut roots: Vec<PathBuf> = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        let mut mounts: Vec<String> = controllers
            .split(',')
            .map(|c| c.trim_start_matches("name=").to_string())
            .collect();
        mounts.push(controllers.replace("name=", ""));
        if controllers.is_empty() {
            // cgroup v2: the unified mount, alone or beside v1 hierarchies.
            mounts = vec![String::new(), "unified".into()];
        }
        for m in mounts {
            let dir = Path::new("/sys/fs/cgroup").join(m).join(rel);
            if dir.is_dir() && !roots.contains(&dir) {
                roots.push(dir);
            }
        }
    }
    let mut out = Vec::new();
    for r in &roots {
        walk(r, prefix, 0, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// Writes a single-file Go program at `path` whose `main` is `body`, importing `imports`, with a
/// `nonce` string unique to this test run that `body` must use: its binary differs from every
/// earlier `cargo test`'s, so no build or result cached by them can stand in for it.
pub fn unique_program(path: &Path, imports: &str, body: &str) {
    let nonce = format!("{:?}", std::time::SystemTime::now());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create the program's dir");
    }
    std::fs::write(
        path,
        format!(
            "package main\nimport {imports}\nvar nonce = {nonce:?}\nfunc main() {{ {body} }}\n"
        ),
    )
    .expect("write the program");
}

/// Writes `text` at `path`, making its directories.
pub fn write(path: &Path, text: &str) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).expect("create the file's dir");
    }
    std::fs::write(path, text).expect("write the file");
}

/// A path as a `&str`-friendly `String` for command lines.
pub fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// crossmatrix run in `dir` (patterns and packages are relative to where it runs), with
/// `env` added, no GOPROXY/GOFLAGS of the caller's, and result reuse on when `reuse`.
pub fn crossmatrix_in<S: AsRef<str>>(
    dir: &Path,
    args: &[S],
    env: &[(&str, &str)],
    reuse: bool,
) -> Output {
    let mut c = command();
    c.current_dir(dir)
        .env_remove("GOPROXY")
        .env_remove("GOFLAGS");
    if reuse {
        c.env_remove("CROSSMATRIX_RERUN");
    }
    for (k, v) in env {
        c.env(k, v);
    }
    eprintln!("(in {})", dir.display());
    run_logged(&mut c, args)
}

/// Builds the single-file Go program `src` as a static binary for `goarch` with go1.27 (GOPATH
/// mode, the tests' shared Go cache) at `out`: test doubles and tools for the roots tests make.
#[allow(dead_code)]
pub fn go_build(src: &Path, out: &Path, goarch: &str) {
    let dir = src.parent().expect("a file in a directory");
    let built = Command::new("/usr/lib/go-1.27/bin/go")
        .args(["build", "-o"])
        .arg(out)
        .arg(src)
        .current_dir(dir)
        .env("CGO_ENABLED", "0")
        .env("GOARCH", goarch)
        .env("GOCACHE", shared_cache().join("test-gocache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-buildvcs=false")
        .env("GO111MODULE", "off")
        .output()
        .expect("go build");
    assert!(
        built.status.success(),
        "go build {}: {}",
        src.display(),
        String::from_utf8_lossy(&built.stderr)
    );
}

/// Writes `module@version` into a module proxy directory as the protocol wants it: `@v/list`,
/// `VERSION.info`, `VERSION.mod` and `VERSION.zip` (files under `MODULE@VERSION/`).
pub fn publish(proxy: &Path, module: &str, version: &str, files: &[(&str, &str)]) {
    let gomod = format!("module {module}\n\ngo 1.21\n");
    let dir = proxy.join(module).join("@v");
    std::fs::create_dir_all(&dir).unwrap();
    let mut list = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("list"))
        .unwrap();
    std::io::Write::write_all(&mut list, format!("{version}\n").as_bytes()).unwrap();
    write(
        &dir.join(format!("{version}.info")),
        &format!("{{\"Version\":\"{version}\",\"Time\":\"2025-01-01T00:00:00Z\"}}"),
    );
    write(&dir.join(format!("{version}.mod")), &gomod);
    let zipf = std::fs::File::create(dir.join(format!("{version}.zip"))).unwrap();
    let mut z = zip::ZipWriter::new(zipf);
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut add = |name: &str, body: &str| {
        z.start_file(format!("{module}@{version}/{name}"), opts)
            .unwrap();
        std::io::Write::write_all(&mut z, body.as_bytes()).unwrap();
    };
    add("go.mod", &gomod);
    for (name, body) in files {
        add(name, body);
    }
    z.finish().unwrap();
}

/// Runs the host's Go 1.27 with `env` in `dir` (for fixture set-up: go.sum, vendor/).
pub fn go(dir: &Path, a: &[&str], env: &[(&str, String)]) {
    let mut c = std::process::Command::new("/usr/lib/go-1.27/bin/go");
    c.current_dir(dir)
        .args(a)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "go {a:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `path` when it exists, else `None` after printing why the test skips — a failure under CI,
/// which installs everything (ci/setup).
pub fn installed(path: &Path, why: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_path_buf());
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but the host lacks what this test needs: {why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}
