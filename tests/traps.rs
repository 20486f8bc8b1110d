//! The environment traps end to end, with the real `crossmatrix probe` on the oldest and the
//! newest toolchain crossmatrix supports (Go's messages are checked on go1.22 and go1.27): every trap probe misses on
//! `scratch` with its cause and a hint, passes on the `glibc` and `musl` roots where the root
//! has what it needs, and the hint names the roots where it passes; the CPU-level probe fails
//! with `cpu-level` on a qemu CPU model without the level and passes on one with it. One small
//! matrix per test, so that builds are shared.

mod common;

use common::{record, records, require_host, shared_cache};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const TOOLCHAINS: [&str; 2] = ["go1.22", "go1.27"];

/// `crossmatrix ARGS` in `dir`; `run` and `probe` get the shared cache and no progress bar.
fn crossmatrix_in(dir: &Path, args: &[&str]) -> Output {
    let mut c = common::command();
    c.current_dir(dir)
        .args(args)
        .env_remove("CROSSMATRIX_CONFIG");
    if matches!(args.first(), Some(&"run") | Some(&"probe")) {
        c.arg("--no-progress")
            .arg("--cache-dir")
            .arg(shared_cache());
    }
    let out = c.output().expect("run crossmatrix");
    eprintln!(
        "$ crossmatrix {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// The uid runs get: root's is in the roots' /etc/passwd, other users' are not.
fn runs_as_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// Asserts a miss: its cause, a one-line hint naming each of `hint_has`, and Go's own message
/// in the program's stderr.
fn assert_miss(r: &Value, cause: &str, hint_has: &[&str], stderr_has: &str) {
    let id = s(r, "id");
    assert_eq!(r["status"], "fail", "{id}: {r:#}");
    assert_eq!(r["cause"], cause, "{id}: {r:#}");
    let hint = s(r, "hint");
    assert!(
        !hint.is_empty() && !hint.contains('\n'),
        "{id}: one-line hint {hint:?}"
    );
    for h in hint_has {
        assert!(hint.contains(h), "{id}: the hint should name `{h}`: {hint}");
    }
    let stderr = s(&r["run"], "stderr_tail");
    assert!(
        stderr.contains(stderr_has),
        "{id}: Go's message `{stderr_has}` not in stderr: {stderr}"
    );
}

fn assert_ok(r: &Value) {
    assert_eq!(r["status"], "pass", "{}: {r:#}", s(r, "id"));
    assert!(r["cause"].is_null(), "{r:#}");
}

/// The portability JSON's result for `probe` in `toolchain`'s `rootfs` environment.
fn result<'a>(table: &'a Value, toolchain: &str, rootfs: &str, probe: &str) -> &'a Value {
    table["results"]
        .as_array()
        .and_then(|rs| {
            rs.iter().find(|r| {
                r["toolchain"] == toolchain && r["rootfs"] == rootfs && r["probe"] == probe
            })
        })
        .unwrap_or_else(|| panic!("no {toolchain} {rootfs} {probe} in {table:#}"))
}

/// A root with nothing but a shell: a static Go stand-in for `sh -c 'echo …'` at /bin/sh.
fn root_with_a_shell(dir: &Path, goarch: &str) -> std::path::PathBuf {
    let root = dir.join("shell-root");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    let src = dir.join("sh.go");
    std::fs::write(
        &src,
        "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"strings\"\n)\n\n// sh -c 'echo WORDS': enough of a shell for the exec-sh probe.\nfunc main() {\n\tif len(os.Args) == 3 && os.Args[1] == \"-c\" && strings.HasPrefix(os.Args[2], \"echo \") {\n\t\tfmt.Println(strings.TrimPrefix(os.Args[2], \"echo \"))\n\t\treturn\n\t}\n\tos.Exit(2)\n}\n",
    )
    .expect("write sh.go");
    common::go_build(&src, &root.join("bin/sh"), goarch);
    root
}

/// cgo=0 on arm64 (under qemu): scratch, glibc, musl, and a directory root that has only a
/// shell. Covers every trap probe but the libc resolver's, the table and the report, and the
/// GOARM64 CPU-level pair.
#[test]
fn trap_suite_on_the_default_roots() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let shell_root = std::fs::canonicalize(root_with_a_shell(d, "arm64")).expect("canonical path");
    let shell = shell_root.to_str().expect("utf-8 path");
    let mut args = vec!["probe"];
    for t in TOOLCHAINS {
        args.extend(["--toolchain", t]);
    }
    args.extend([
        "--target",
        "linux/arm64",
        "--cgo",
        "0",
        "--rootfs",
        "scratch",
        "--rootfs",
        "glibc",
        "--rootfs",
        "musl",
        "--rootfs",
        shell,
        "--format",
        "json",
        "--out",
        "out",
    ]);
    let o = crossmatrix_in(d, &args);
    assert_eq!(o.status.code(), Some(0), "misses are findings, not errors");
    let table: Value = serde_json::from_slice(&o.stdout).expect("the portability table as JSON");
    let recs = records(&d.join("out"));
    let root = runs_as_root();
    // A host named `localhost` resolves in every root with /etc/hosts.
    let hostname_is_localhost = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .is_ok_and(|h| h.trim().eq_ignore_ascii_case("localhost"));
    let cell = |tc: &str, rootfs: &str, probe: &str| {
        let part = if rootfs == shell {
            "dir-shell-root".to_string()
        } else {
            rootfs.to_string()
        };
        record(
            &recs,
            &format!("{tc}/linux-arm64/cgo0/rootfs-{part}/trap-{probe}"),
        )
        .clone()
    };
    for tc in TOOLCHAINS {
        // scratch: every file-backed trap, with Go's own message on both toolchains.
        let scratch = |p: &str| cell(tc, "scratch", p);
        assert_miss(
            &scratch("tzdata"),
            "missing-tzdata",
            &[
                "scratch lacks /usr/share/zoneinfo",
                "time/tzdata",
                "timetzdata",
            ],
            "unknown time zone Asia/Shanghai",
        );
        assert_miss(
            &scratch("ca-roots"),
            "missing-ca-roots",
            &["scratch has no CA certificates", "ca-certificates.crt"],
            "x509: certificate signed by unknown authority",
        );
        assert_miss(
            &scratch("user"),
            "missing-user-db",
            &["scratch has no /etc/passwd", "$USER and $HOME"],
            "user: Current requires cgo or $USER, $HOME set in environment",
        );
        assert_miss(
            &scratch("exec-sh"),
            "missing-executable",
            &["scratch has no `sh` on $PATH"],
            "exec: \"sh\": executable file not found in $PATH",
        );
        assert_miss(
            &scratch("localhost"),
            "dns-config",
            &[
                "scratch lacks /etc/hosts and /etc/resolv.conf",
                "Go's own resolver",
            ],
            "lookup localhost on",
        );
        assert_miss(
            &scratch("hostname"),
            "dns-config",
            &["scratch lacks /etc/hosts", "(os.Hostname)"],
            "lookup ",
        );
        // A `FROM scratch` root has no /tmp either.
        assert_miss(
            &scratch("tmpdir"),
            "missing-tmpdir",
            &["scratch has no /tmp (os.TempDir() is /tmp)", "1777"],
            "/tmp",
        );
        assert_ok(&scratch("proc"));
        // The Debian-like and Alpine-like roots have the files (and root's passwd entry).
        for rootfs in ["glibc", "musl"] {
            for p in ["tzdata", "ca-roots", "localhost", "tmpdir", "proc"] {
                assert_ok(&cell(tc, rootfs, p));
            }
            if root {
                assert_ok(&cell(tc, rootfs, "user"));
            } else {
                assert_miss(
                    &cell(tc, rootfs, "user"),
                    "missing-user-db",
                    &["has no entry for uid"],
                    "user: Current requires cgo",
                );
            }
            // …but no shell: the same trap there, and no note (nothing passes but the dir).
            assert_miss(
                &cell(tc, rootfs, "exec-sh"),
                "missing-executable",
                &[&format!("{rootfs} has no `sh`")],
                "executable file not found in $PATH",
            );
            // No root lists the sandbox's hostname (the host's), nor has a nameserver.
            if !hostname_is_localhost {
                assert_miss(
                    &cell(tc, rootfs, "hostname"),
                    "dns-config",
                    &["in /etc/hosts and /etc/resolv.conf"],
                    "lookup ",
                );
            }
        }
        // The directory root has the shell and nothing else (no /tmp).
        assert_ok(&cell(tc, shell, "exec-sh"));
        assert_miss(
            &cell(tc, shell, "tmpdir"),
            "missing-tmpdir",
            &["has no /tmp"],
            "no such file or directory",
        );
        assert_miss(
            &cell(tc, shell, "tzdata"),
            "missing-tzdata",
            &["lacks /usr/share/zoneinfo"],
            "unknown time zone",
        );

        // The table's hints say where the same probe passes.
        let note =
            |rootfs: &str, probe: &str| s(result(&table, tc, rootfs, probe), "hint").to_string();
        for p in ["tzdata", "ca-roots", "localhost", "tmpdir"] {
            assert!(
                note("scratch", p).starts_with("passes on rootfs glibc, musl: scratch"),
                "{tc} {p}: {}",
                note("scratch", p)
            );
        }
        if root {
            assert!(note("scratch", "user").starts_with("passes on rootfs glibc, musl: "));
        }
        assert!(
            note("scratch", "exec-sh").starts_with(&format!("passes on rootfs {shell}: ")),
            "{}",
            note("scratch", "exec-sh")
        );
        if !hostname_is_localhost {
            assert!(note("glibc", "hostname").starts_with("glibc lacks"));
        }
        assert_eq!(
            result(&table, tc, "scratch", "localhost-cgo")["status"],
            "n/a"
        );
    }

    // GOARM64=v8.1 is new in go1.23: skipped on go1.22; on go1.27 the ARMv8.0 Cortex-A57 dies
    // of SIGILL, the ARMv8.2 Cortex-A76 runs it.
    let cpu = |tc: &str, model: &str| {
        record(
            &recs,
            &format!("{tc}/linux-arm64-goarm64v8.1/cgo0/rootfs-scratch/trap-cpu-{model}"),
        )
        .clone()
    };
    assert_eq!(cpu("go1.22", "cortex-a57")["status"], "skipped");
    let lacking = cpu("go1.27", "cortex-a57");
    assert_eq!(lacking["cause"], "cpu-level", "{lacking:#}");
    assert!(
        s(&lacking, "hint").contains("SIGILL") && s(&lacking, "hint").contains("GOARM64=v8.1"),
        "{lacking:#}"
    );
    assert_eq!(lacking["run"]["cpu"], "cortex-a57");
    let having = cpu("go1.27", "cortex-a76");
    assert_ok(&having);
    assert_eq!(having["run"]["cpu"], "cortex-a76");

    // `report` shows the same run as the table.
    let o = crossmatrix_in(d, &["report", "out"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Environment traps: 10 probes × 8 environments"),
        "{text}"
    );
    assert!(
        text.contains("✗ tzdata") && text.contains("CPU level"),
        "{text}"
    );
    for f in ["md", "html", "junit"] {
        let o = crossmatrix_in(d, &["report", "out", "--format", f]);
        assert!(o.status.success() && !o.stdout.is_empty(), "--format {f}");
    }
}

/// cgo=1 with musl on amd64 (native): os/user and the resolver through musl, whose messages
/// differ between the toolchains, and the GOAMD64=v3 pair under qemu CPU models.
#[test]
fn trap_suite_with_cgo_and_cpu_levels() {
    require_host!(true);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    let mut args = vec!["probe"];
    for t in TOOLCHAINS {
        args.extend(["--toolchain", t]);
    }
    args.extend([
        "--target",
        "linux/amd64",
        "--cgo",
        "1",
        "--libc",
        "musl",
        "--rootfs",
        "scratch",
        "--rootfs",
        "musl",
        "--filter",
        "program=trap-user",
        "--filter",
        "program=trap-localhost",
        "--filter",
        "program=trap-localhost-cgo",
        "--filter",
        "program=trap-tzdata",
        "--filter",
        "program=trap-cpu-Nehalem",
        "--filter",
        "program=trap-cpu-Haswell",
        "--format",
        "json",
        "--out",
        "out",
    ]);
    let o = crossmatrix_in(d, &args);
    assert_eq!(o.status.code(), Some(0));
    let recs = records(&d.join("out"));
    let cell = |tc: &str, rootfs: &str, probe: &str| {
        record(
            &recs,
            &format!("{tc}/linux-amd64/cgo1-musl/rootfs-{rootfs}/trap-{probe}"),
        )
        .clone()
    };
    for tc in TOOLCHAINS {
        // musl's getpwuid_r cannot open /etc/passwd: go1.22 passes musl's errno through,
        // go1.27 reports an unknown user.
        let stderr = if !runs_as_root() {
            "user: "
        } else if tc == "go1.22" {
            "user: lookup userid 0: no such file or directory"
        } else {
            "user: unknown userid 0"
        };
        assert_miss(
            &cell(tc, "scratch", "user"),
            "missing-user-db",
            &[
                "scratch has no /etc/passwd",
                "musl's getpwuid_r",
                "osusergo",
            ],
            stderr,
        );
        assert_miss(
            &cell(tc, "scratch", "localhost-cgo"),
            "dns-config",
            &[
                "scratch lacks /etc/hosts",
                "musl's getaddrinfo, the cgo resolver (GODEBUG=netdns=cgo)",
            ],
            "lookup localhost: Try again",
        );
        assert_miss(
            &cell(tc, "scratch", "localhost"),
            "dns-config",
            &["Go's own resolver (GODEBUG=netdns=go)"],
            "lookup localhost on",
        );
        assert_miss(
            &cell(tc, "scratch", "tzdata"),
            "missing-tzdata",
            &["scratch lacks /usr/share/zoneinfo"],
            "unknown time zone Asia/Shanghai",
        );
        for p in ["localhost", "localhost-cgo", "tzdata"] {
            assert_ok(&cell(tc, "musl", p));
        }
        if runs_as_root() {
            assert_ok(&cell(tc, "musl", "user"));
        }

        // GOAMD64=v3: Go's runtime refuses Nehalem (x86-64-v2); Haswell runs it. qemu runs
        // the host's own arch because a CPU model was asked for.
        let cpu = |model: &str| {
            record(
                &recs,
                &format!("{tc}/linux-amd64-goamd64v3/cgo0/rootfs-scratch/trap-cpu-{model}"),
            )
            .clone()
        };
        let nehalem = cpu("Nehalem");
        assert_miss(
            &nehalem,
            "cpu-level",
            &["GOAMD64=v3", "qemu -cpu Nehalem"],
            "This program can only be run on AMD64 processors with v3 microarchitecture support",
        );
        assert_eq!(nehalem["run"]["executor"], "qemu-direct");
        assert_eq!(nehalem["run"]["cpu"], "Nehalem");
        let haswell = cpu("Haswell");
        assert_ok(&haswell);
        assert_eq!(haswell["run"]["cpu"], "Haswell");
    }
}

/// Outside the suite: a program of the user's gets the same causes and notes in `run`'s own
/// report, and Go's message alone is not enough when the root has what it names.
#[test]
fn traps_in_a_users_program() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    common::unique_program(
        &d.join("tz.go"),
        "(\"fmt\"; \"os\"; \"time\")",
        "_ = nonce; if _, err := time.LoadLocation(\"Asia/Shanghai\"); err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }",
    );
    // The same words, printed by the program itself on a root that has the zone database.
    common::unique_program(
        &d.join("says.go"),
        "(\"fmt\"; \"os\")",
        "_ = nonce; fmt.Fprintln(os.Stderr, \"unknown time zone Asia/Shanghai\"); os.Exit(1)",
    );
    // A misspelt zone on a root with the database: not the root's doing either.
    common::unique_program(
        &d.join("typo.go"),
        "(\"fmt\"; \"os\"; \"time\")",
        "_ = nonce; if _, err := time.LoadLocation(\"Asia/Shanghia\"); err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }",
    );
    let o = crossmatrix_in(
        d,
        &[
            "run",
            "tz.go",
            "says.go",
            "typo.go",
            "--toolchain",
            "go1.27",
            "--target",
            "linux/amd64",
            "--rootfs",
            "scratch",
            "--rootfs",
            "glibc",
            "--reps",
            "0",
            "--format",
            "json",
            "--out",
            "out",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    let rec = |rootfs: &str, p: &str| {
        let id = format!("go1.27/linux-amd64/cgo0/rootfs-{rootfs}/{p}");
        report
            .as_array()
            .and_then(|a| a.iter().find(|r| r["id"] == id.as_str()))
            .unwrap_or_else(|| panic!("no {id}"))
            .clone()
    };
    assert_ok(&rec("glibc", "tz"));
    let tz = rec("scratch", "tz");
    assert_miss(
        &tz,
        "missing-tzdata",
        &["passes on rootfs glibc: scratch lacks /usr/share/zoneinfo"],
        "unknown time zone Asia/Shanghai",
    );
    // cells.jsonl keeps the runner's hint; the note is the report's.
    let stored = records(&d.join("out"));
    let stored_tz = record(&stored, "go1.27/linux-amd64/cgo0/rootfs-scratch/tz");
    assert!(
        s(stored_tz, "hint").starts_with("scratch lacks"),
        "{stored_tz:#}"
    );
    assert_eq!(rec("glibc", "says")["cause"], "wrong-exit-code");
    assert_eq!(rec("scratch", "says")["cause"], "missing-tzdata");
    assert_eq!(rec("glibc", "typo")["cause"], "wrong-exit-code");

    // A temporary file on scratch: no /tmp there, as in a `FROM scratch` image — until the
    // config mounts a tmpfs there, as `docker run --tmpfs /tmp` or an emptyDir would.
    common::unique_program(
        &d.join("tmpfile.go"),
        "(\"fmt\"; \"os\")",
        "_ = nonce; f, err := os.CreateTemp(\"\", \"upload-\"); if err != nil { fmt.Fprintln(os.Stderr, err); os.Exit(1) }; f.Close()",
    );
    let config = |tmpfs: &str| {
        format!(
            "toolchains = [\"go1.27\"]\ntargets = [\"linux/amd64\"]\ncgo = [0]\nrootfs = [\"scratch\", \"glibc\"]\n\n[run]\nreps = 0\n{tmpfs}\n[[programs]]\npath = \"tmpfile.go\"\n"
        )
    };
    std::fs::write(d.join("plain.toml"), config("")).expect("write");
    std::fs::write(d.join("mounted.toml"), config("tmpfs = [\"/tmp\"]")).expect("write");
    let o = crossmatrix_in(
        d,
        &[
            "run",
            "--config",
            "plain.toml",
            "--out",
            "out-tmp",
            "--format",
            "json",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = records(&d.join("out-tmp"));
    let missing = record(&recs, "go1.27/linux-amd64/cgo0/rootfs-scratch/tmpfile");
    assert_miss(
        missing,
        "missing-tmpdir",
        &["scratch has no /tmp", "[run] tmpfs"],
        "open /tmp/upload-",
    );
    assert_ok(record(
        &recs,
        "go1.27/linux-amd64/cgo0/rootfs-glibc/tmpfile",
    ));
    let o = crossmatrix_in(
        d,
        &["run", "--config", "mounted.toml", "--out", "out-tmpfs"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for r in records(&d.join("out-tmpfs")) {
        assert_ok(&r);
    }
}
