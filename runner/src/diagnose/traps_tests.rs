//! Tests of the environment traps, through the diagnosis's entry point.

use super::*;
use crate::diagnose::{TrapContext, diagnose_run as classify_run};
use crossmatrix_matrix::Expectation;
use crossmatrix_sandbox::process::ChildEnd;
use std::collections::BTreeMap;
use std::time::Duration;

fn finished(code: Option<i32>, stderr: &str) -> Finished {
    let end = match code {
        Some(c) => ChildEnd::Exited(c),
        None => ChildEnd::Signaled(0),
    };
    let mut f = Finished::new(end, "", stderr);
    f.elapsed = Duration::from_millis(5);
    f
}

fn ctx(rootfs: &str, root: Option<&Path>, cgo: bool) -> RunContext {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), RUN_PATH.to_string());
    RunContext {
        executor: "qemu-binfmt".into(),
        rootfs: rootfs.into(),
        toolchain_version: "go1.24.4".into(),
        goos: "linux".into(),
        goarch: "arm64".into(),
        cgo,
        traps: TrapContext {
            root: root.map(Path::to_path_buf),
            libc: cgo.then_some(Libc::Musl),
            env,
            uid: 0,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn classify(stderr: &str, c: &RunContext) -> Failure {
    classify_run(&finished(Some(1), stderr), c, &Expectation::default()).expect("a failure")
}

/// A root with the files a Debian-like image has.
fn full_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    for dir in [
        "usr/share/zoneinfo/Asia",
        "usr/share/ca-certificates/mozilla",
        "etc/ssl/certs",
        "usr/bin",
        "tmp",
    ] {
        std::fs::create_dir_all(p.join(dir)).unwrap();
    }
    std::fs::write(p.join("usr/share/zoneinfo/Asia/Shanghai"), "TZif").unwrap();
    std::fs::write(
        p.join("usr/share/ca-certificates/mozilla/A.crt"),
        "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    // Debian's bundle is a plain file; its per-cert links are absolute symlinks, which
    // must resolve inside the root, not on the host.
    std::os::unix::fs::symlink(
        "/usr/share/ca-certificates/mozilla/A.crt",
        p.join("etc/ssl/certs/A.pem"),
    )
    .unwrap();
    std::fs::write(p.join("usr/bin/sh"), "#!").unwrap();
    std::os::unix::fs::symlink("usr/bin", p.join("bin")).unwrap();
    std::fs::write(
        p.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(p.join("etc/group"), "root:x:0:\n").unwrap();
    std::fs::write(p.join("etc/hosts"), "127.0.0.1\tlocalhost\n::1 localhost\n").unwrap();
    std::fs::write(p.join("etc/nsswitch.conf"), "hosts: files dns\n").unwrap();
    d
}

#[test]
fn resolves_absolute_symlinks_inside_the_root() {
    let d = full_root();
    let root = Root {
        dir: Some(d.path()),
        host_programs: false,
    };
    assert!(root.is_file("/etc/ssl/certs/A.pem"));
    assert!(root.dir_has_certificate("/etc/ssl/certs"));
    assert!(root.is_file("/bin/sh"), "bin -> usr/bin");
    assert!(!root.is_file("/etc/ssl/certs/ca-certificates.crt"));
    // `..` cannot climb out of the root.
    assert!(root.resolve("/../../../../etc/passwd").is_some());
    assert!(root.resolve("/../../../../etc/shadow").is_none());
    let empty = Root {
        dir: None,
        host_programs: false,
    };
    assert!(!empty.is_file("/etc/passwd"));
}

/// The `host` root: its own `/etc`, the host's program directories.
#[test]
fn the_host_root_looks_up_programs_on_the_host_and_etc_in_its_own_dir() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("etc")).unwrap();
    std::fs::write(d.path().join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
    let root = Root {
        dir: Some(d.path()),
        host_programs: true,
    };
    assert!(root.is_file("/etc/hosts"));
    assert!(!root.is_file("/etc/shadow"), "the host's /etc is not shown");
    assert!(root.is_file("/bin/sh"), "the host's shell");
    assert!(root.is_dir("/usr/lib"));
}

#[test]
fn each_trap_on_an_empty_root() {
    let c = ctx("scratch", None, false);
    let cases: &[(&str, Cause, &[&str])] = &[
        (
            "unknown time zone Asia/Shanghai\n",
            Cause::MissingTzdata,
            &[
                "scratch lacks /usr/share/zoneinfo",
                "time/tzdata",
                "timetzdata",
            ],
        ),
        (
            "x509: certificate signed by unknown authority\n",
            Cause::MissingCaRoots,
            &[
                "scratch has no CA certificates",
                "ca-certificates.crt",
                "x509roots/fallback",
            ],
        ),
        (
            "tls: failed to verify certificate: x509: failed to load system roots and no roots provided\n",
            Cause::MissingCaRoots,
            &["SSL_CERT_FILE"],
        ),
        (
            "user: Current requires cgo or $USER, $HOME set in environment\n",
            Cause::MissingUserDb,
            &["scratch has no /etc/passwd", "$USER and $HOME", "app:x:0:0"],
        ),
        (
            "exec: \"sh\": executable file not found in $PATH\n",
            Cause::MissingExecutable,
            &[
                "scratch has no `sh` on $PATH (/usr/local/bin:/usr/bin:/bin)",
                "busybox",
            ],
        ),
        (
            "fork/exec /bin/sh: no such file or directory\n",
            Cause::MissingExecutable,
            &["scratch has no /bin/sh"],
        ),
        (
            "exec: \"go\": executable file not found in $PATH\n",
            Cause::NeedsGoToolchain,
            &["no `go`", "Go toolchain"],
        ),
        (
            "lookup localhost on [::1]:53: read udp [::1]:40154->[::1]:53: read: connection refused\n",
            Cause::DnsConfig,
            &[
                "scratch lacks /etc/hosts and /etc/resolv.conf",
                "Go's own resolver (cgo=0)",
                "(lookup localhost on [::1]:53: connection refused)",
            ],
        ),
        (
            "mkdir /tmp/crossmatrix-trap-1234: no such file or directory\n",
            Cause::MissingTmpdir,
            &[
                "scratch has no /tmp (os.TempDir() is /tmp)",
                "1777",
                "[run] tmpfs",
            ],
        ),
        (
            "open /tmp/upload-99: no such file or directory\n",
            Cause::MissingTmpdir,
            &["scratch has no /tmp"],
        ),
        (
            "stat /tmp: no such file or directory\n",
            Cause::MissingTmpdir,
            &["scratch has no /tmp"],
        ),
    ];
    for (stderr, cause, has) in cases {
        let f = classify(stderr, &c);
        assert_eq!(f.cause, *cause, "{stderr}: {}", f.hint);
        for h in *has {
            assert!(f.hint.contains(h), "{stderr}: `{h}` not in {}", f.hint);
        }
    }
}

#[test]
fn the_temporary_directory_is_tmpdir_or_tmp_unless_mounted() {
    let mut c = ctx("scratch", None, false);
    // Another directory's missing file is not the trap.
    let f = classify("open /etc/app/config.yaml: no such file or directory\n", &c);
    assert_eq!(f.cause, Cause::WrongExitCode, "{}", f.hint);
    c.traps.env.insert("TMPDIR".into(), "/data/tmp/".into());
    let f = classify("mkdir /data/tmp/x1: no such file or directory\n", &c);
    assert_eq!(f.cause, Cause::MissingTmpdir, "{}", f.hint);
    assert!(
        f.hint.contains("no /data/tmp (os.TempDir() is $TMPDIR)"),
        "{}",
        f.hint
    );
    // With TMPDIR set, /tmp is not where Go looked.
    let f = classify("mkdir /tmp/x1: no such file or directory\n", &c);
    assert_eq!(f.cause, Cause::WrongExitCode, "{}", f.hint);
    let mut c = ctx("scratch", None, false);
    c.traps.tmpfs = vec!["/tmp".into()];
    let f = classify("mkdir /tmp/x1: no such file or directory\n", &c);
    assert_eq!(f.cause, Cause::WrongExitCode, "a mounted /tmp: {}", f.hint);
}

#[test]
fn the_message_without_the_missing_thing_keeps_its_cause() {
    let d = full_root();
    let c = ctx("glibc", Some(d.path()), false);
    for stderr in [
        "unknown time zone Asia/Shanghai\n",
        "unknown time zone Mars/Olympus_Mons\n",
        "x509: certificate signed by unknown authority\n",
        "user: Current requires cgo or $USER, $HOME set in environment\n",
        "user: unknown userid 0\n",
        "exec: \"sh\": executable file not found in $PATH\n",
        "fork/exec /bin/sh: no such file or directory\n",
        "lookup localhost on [::1]:53: read: connection refused\n",
        "mkdir /tmp/crossmatrix-trap-1234: no such file or directory\n",
    ] {
        let f = classify(stderr, &c);
        assert_eq!(f.cause, Cause::WrongExitCode, "{stderr}: {}", f.hint);
    }
    // A bundle named by SSL_CERT_FILE that is not there is the trap even so.
    let mut c2 = c.clone();
    c2.traps
        .env
        .insert("SSL_CERT_FILE".into(), "/etc/missing.pem".into());
    c2.traps
        .env
        .insert("SSL_CERT_DIR".into(), "/nowhere".into());
    let f = classify("x509: certificate signed by unknown authority\n", &c2);
    assert_eq!(f.cause, Cause::MissingCaRoots, "{}", f.hint);
    assert!(f.hint.contains("/etc/missing.pem"), "{}", f.hint);
}

#[test]
fn user_lookups_per_toolchain_and_cgo_mode() {
    let d = full_root();
    // Another uid than the passwd has: the user is absent.
    let mut c = ctx("glibc", Some(d.path()), false);
    c.traps.uid = 1001;
    let f = classify(
        "user: Current requires cgo or $USER, $HOME set in environment\n",
        &c,
    );
    assert_eq!(f.cause, Cause::MissingUserDb);
    assert!(
        f.hint
            .contains("glibc's /etc/passwd has no entry for uid 1001"),
        "{}",
        f.hint
    );
    // cgo=1 with musl on an empty root: go1.24 says `unknown userid`, go1.22 passes
    // musl's errno through.
    let c = ctx("scratch", None, true);
    for stderr in [
        "user: unknown userid 0\n",
        "user: lookup userid 0: no such file or directory\n",
    ] {
        let f = classify(stderr, &c);
        assert_eq!(f.cause, Cause::MissingUserDb, "{stderr}");
        assert!(
            f.hint.contains("musl's getpwuid_r") && f.hint.contains("osusergo"),
            "{}",
            f.hint
        );
    }
    // Groups look in /etc/group.
    let c = ctx("glibc", Some(d.path()), true);
    let f = classify("group: unknown groupid 42\n", &c);
    assert_eq!(f.cause, Cause::MissingUserDb);
    assert!(
        f.hint.contains("/etc/group has no entry for gid 42"),
        "{}",
        f.hint
    );
    assert_eq!(
        classify("group: unknown group root\n", &c).cause,
        Cause::WrongExitCode
    );
}

#[test]
fn dns_names_the_resolver_and_what_the_root_lacks() {
    let d = full_root();
    // The hostname is not in /etc/hosts and there is no resolv.conf.
    let mut c = ctx("musl", Some(d.path()), true);
    let f = classify(
        "go package net: hostLookupOrder(db.internal) = cgo\nlookup db.internal: Try again\n",
        &c,
    );
    assert_eq!(f.cause, Cause::DnsConfig, "{}", f.hint);
    assert!(
        f.hint
            .contains("musl lacks db.internal in /etc/hosts and /etc/resolv.conf")
            && f.hint.contains("musl's getaddrinfo"),
        "{}",
        f.hint
    );
    // Forced to Go's resolver on a cgo binary.
    c.traps.env.insert("GODEBUG".into(), "netdns=go+2".into());
    let f = classify(
        "lookup db.internal on [::1]:53: read: connection refused\n",
        &c,
    );
    assert!(
        f.hint.contains("Go's own resolver (GODEBUG=netdns=go)"),
        "{}",
        f.hint
    );
    // With a resolv.conf the query reached for a nameserver: the sandbox has no network,
    // not a root problem.
    std::fs::write(d.path().join("etc/resolv.conf"), "nameserver 10.0.0.2\n").unwrap();
    let f = classify(
        "lookup db.internal on 10.0.0.2:53: connect: network is unreachable\n",
        &c,
    );
    assert_eq!(f.cause, Cause::WrongExitCode, "{}", f.hint);
    // glibc's resolver with a hosts line that skips files.
    std::fs::write(d.path().join("etc/nsswitch.conf"), "hosts: dns\n").unwrap();
    let mut g = ctx("glibc", Some(d.path()), true);
    g.traps.libc = Some(Libc::Gnu);
    let f = classify(
        "lookup localhost: Temporary failure in name resolution\n",
        &g,
    );
    assert_eq!(f.cause, Cause::DnsConfig, "{}", f.hint);
    assert!(
        f.hint.contains("`files` on the hosts line") && f.hint.contains("glibc's getaddrinfo"),
        "{}",
        f.hint
    );
}

#[test]
fn cpu_levels() {
    let mut c = ctx("scratch", None, false);
    c.executor = "qemu-direct".into();
    c.goarch = "amd64".into();
    c.traps.variant = Some("goamd64=v3".into());
    c.traps.env.insert("QEMU_CPU".into(), "Nehalem".into());
    let f = classify(
        "This program can only be run on AMD64 processors with v3 microarchitecture support.\n",
        &c,
    );
    assert_eq!(f.cause, Cause::CpuLevel);
    assert!(
        f.hint.contains("GOAMD64=v3") && f.hint.contains("qemu -cpu Nehalem"),
        "{}",
        f.hint
    );
    // GOARM=7 on an ARMv6 model: SIGILL, reported by qemu.
    let mut a = ctx("scratch", None, false);
    a.goarch = "arm".into();
    a.traps.variant = Some("goarm=7".into());
    a.traps.env.insert("QEMU_CPU".into(), "arm1176".into());
    let f = classify_run(
        &finished(
            Some(132),
            "qemu: uncaught target signal 4 (Illegal instruction) - core dumped\n",
        ),
        &a,
        &Expectation::default(),
    )
    .expect("a failure");
    assert_eq!(f.cause, Cause::CpuLevel, "{}", f.hint);
    assert!(
        f.hint.contains("SIGILL") && f.hint.contains("GOARM=7") && f.hint.contains("arm1176"),
        "{}",
        f.hint
    );
    // riscv64's qemu dies with the signal without blaming the guest.
    let mut r = ctx("scratch", None, false);
    r.goarch = "riscv64".into();
    r.traps.variant = Some("goriscv64=rva22u64".into());
    r.traps.env.insert("QEMU_CPU".into(), "sifive-u54".into());
    let f = classify_run(&finished(Some(132), ""), &r, &Expectation::default()).expect("a failure");
    assert_eq!(f.cause, Cause::CpuLevel, "{}", f.hint);
    assert!(f.hint.contains("GORISCV64=rva22u64"), "{}", f.hint);
    // …but without a CPU model asked for, that is still qemu's crash.
    r.traps.env.remove("QEMU_CPU");
    let f = classify_run(&finished(Some(132), ""), &r, &Expectation::default()).expect("a failure");
    assert_eq!(f.cause, Cause::EmulatorCrash, "{}", f.hint);
    // SIGILL of a baseline binary on the default CPU stays a signal.
    let mut b = a.clone();
    b.traps.variant = None;
    b.traps.env.remove("QEMU_CPU");
    let f = classify_run(
        &finished(
            Some(132),
            "qemu: uncaught target signal 4 (Illegal instruction) - core dumped\n",
        ),
        &b,
        &Expectation::default(),
    )
    .expect("a failure");
    assert_eq!(f.cause, Cause::Signal);
}

#[test]
fn hosts_parsing() {
    assert!(hosts_lists("127.0.0.1 localhost # x\n", "LOCALHOST"));
    assert!(hosts_lists("10.0.0.1 a b.example c\n", "b.example."));
    assert!(!hosts_lists("# 10.0.0.1 a\n", "a"));
    assert_eq!(
        join_and(&["a".into(), "b".into(), "c".into()]),
        "a, b and c"
    );
}
