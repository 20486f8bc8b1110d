//! Badly behaved programs: each must be contained by the sandbox and recorded with the right
//! cause. One crossmatrix run builds them all for linux/amd64 (native) and linux/arm64 (qemu).

mod common;

use common::{crossmatrix, record, records, require_host, shared_cache};
use std::net::TcpListener;

const PROGRAMS: &[(&str, &str)] = &[
    // Sleeps far past the run timeout: killed, recorded as timeout.
    (
        "sleeper",
        "package main\nimport \"time\"\nfunc main() { time.Sleep(time.Hour) }\n",
    ),
    // Dies from SIGTERM (Go re-raises it with the default action).
    (
        "sigterm",
        "package main\nimport (\"os/signal\"; \"syscall\"; \"time\")\nfunc main() { signal.Reset(syscall.SIGTERM); syscall.Kill(syscall.Getpid(), syscall.SIGTERM); time.Sleep(time.Minute) }\n",
    ),
    // Fills its scratch dir: the capped tmpfs says ENOSPC long before the host disk fills.
    (
        "diskfill",
        "package main\nimport (\"fmt\"; \"os\")\nfunc main() { f, err := os.Create(\"big\"); if err != nil { panic(err) }; buf := make([]byte, 1<<20); for i := 0; i < 2048; i++ { if _, err := f.Write(buf); err != nil { fmt.Fprintln(os.Stderr, \"write failed:\", err); os.Exit(7) } }; os.Exit(0) }\n",
    ),
    // Looks for host secrets and the network: passes only if it finds neither.
    (
        "snoop",
        "package main\nimport (\"fmt\"; \"net\"; \"os\"; \"time\")\nfunc main() { bad := 0; for _, p := range []string{\"/root\", \"/etc/shadow\", \"/home\", \"/work\", os.Getenv(\"CM_RESULTS\")} { if p == \"\" { continue }; if _, err := os.Stat(p); err == nil { fmt.Println(\"visible:\", p); bad++ } }; if c, err := net.DialTimeout(\"tcp\", os.Getenv(\"CM_ADDR\"), 2*time.Second); err == nil { c.Close(); fmt.Println(\"network reachable\"); bad++ }; ifs, _ := net.Interfaces(); for _, i := range ifs { if i.Flags&net.FlagLoopback == 0 { fmt.Println(\"interface:\", i.Name); bad++ } }; if bad > 0 { os.Exit(1) }; fmt.Println(\"contained\") }\n",
    ),
];

#[test]
fn hostile_programs_are_contained_and_classified() {
    require_host!(false);
    let tmp = tempfile::tempdir().expect("tempdir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let addr = listener.local_addr().expect("addr").to_string();
    let mut args: Vec<String> = vec!["run".into()];
    for (name, src) in PROGRAMS {
        // The snoop program gets its targets through its source: env is not passed in.
        let src = src
            .replace("os.Getenv(\"CM_ADDR\")", &format!("{addr:?}"))
            .replace(
                "os.Getenv(\"CM_RESULTS\")",
                &format!("{:?}", tmp.path().display().to_string()),
            );
        let p = tmp.path().join(format!("{name}.go"));
        std::fs::write(&p, src).expect("write program");
        args.push(p.display().to_string());
    }
    let out = tmp.path().join("out");
    let cache = shared_cache();
    args.extend(
        [
            "--toolchain",
            "go1.24",
            "--target",
            "linux/amd64",
            "--target",
            "linux/arm64",
            "--timeout",
            "3",
            "--reps",
            "1",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ]
        .map(String::from),
    );
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let o = crossmatrix(&argv);
    assert_eq!(o.status.code(), Some(1), "hostile programs fail the run");
    let recs = records(&out);
    for arch in ["amd64", "arm64"] {
        let id = |p: &str| format!("go1.24/linux-{arch}/cgo0/rootfs-scratch/{p}");
        let r = record(&recs, &id("sleeper"));
        assert_eq!(r["cause"], "timeout", "{r:#}");
        assert!(
            r["run"]["duration_ms"].as_u64().unwrap_or(0) < 20_000,
            "killed near the 3 s limit"
        );
        let r = record(&recs, &id("sigterm"));
        assert_eq!(r["cause"], "signal", "{r:#}");
        assert!(
            r["hint"].as_str().unwrap_or("").contains("SIGTERM"),
            "{r:#}"
        );
        let r = record(&recs, &id("diskfill"));
        assert_eq!(r["cause"], "wrong-exit-code", "{r:#}");
        assert!(
            r["run"]["stderr_tail"]
                .as_str()
                .unwrap_or("")
                .contains("no space left on device"),
            "{r:#}"
        );
        let r = record(&recs, &id("snoop"));
        assert_eq!(
            r["status"], "pass",
            "nothing of the host is visible and the network is unreachable: {r:#}"
        );
    }
    assert!(started.elapsed().as_secs() < 600);
    drop(listener);
    // No process of the runs survives them.
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !ps.lines().any(|l| l.contains("/.crossmatrix/sleeper")),
        "a sleeper survived:\n{ps}"
    );
}
