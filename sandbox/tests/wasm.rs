//! The embedded wasmtime executor: hand-made modules (always run) and a real Go wasip1 program
//! (skipped with a reason when Go is missing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossmatrix_sandbox::wasm::{
    WasmError, WasmRun, exec_precompiled, precompile, precompiled_path, wasmtime_version,
};
use sha2::{Digest, Sha256};

const GO: &str = "/usr/lib/go-1.27/bin/go";

/// `(module (func (export "_start") unreachable))`
const TRAP_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
    0x03, 0x02, 0x01, 0x00, // func 0: type 0
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, // export
    0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // code: unreachable
];

/// `(module (func (export "_start") (loop (br 0))))`
const SPIN_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, //
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, //
    0x03, 0x02, 0x01, 0x00, //
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, //
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b, // loop br 0
];

/// `(module (memory 1) (func (export "_start") (loop (drop (memory.grow (i32.const 1))) (br 0))))`
const GROW_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, //
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, //
    0x03, 0x02, 0x01, 0x00, //
    0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1 page
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, //
    0x0a, 0x0e, 0x01, 0x0c, 0x00, 0x03, 0x40, 0x41, 0x01, 0x40, 0x00, 0x1a, 0x0c, 0x00, 0x0b, 0x0b,
];

/// `(module (table 1 funcref) (func (export "_start")
///   (loop (drop (table.grow (ref.null func) (i32.const 1000))) (br 0))))`
const TABLE_GROW_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, //
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, //
    0x03, 0x02, 0x01, 0x00, //
    0x04, 0x04, 0x01, 0x70, 0x00, 0x01, // table: funcref, min 1
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, //
    0x0a, 0x12, 0x01, 0x10, 0x00, 0x03, 0x40, 0xd0, 0x70, 0x41, 0xe8, 0x07, 0xfc, 0x0f, 0x00, 0x1a,
    0x0c, 0x00, 0x0b, 0x0b,
];

/// `(module (func (export "_start")))`: returns normally.
const EMPTY_START_MODULE: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, //
    0x01, 0x04, 0x01, 0x60, 0x00, 0x00, //
    0x03, 0x02, 0x01, 0x00, //
    0x07, 0x0a, 0x01, 0x06, b'_', b's', b't', b'a', b'r', b't', 0x00, 0x00, //
    0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, //
];

fn run_with(timeout: Duration) -> WasmRun {
    let mut run = WasmRun::new(vec!["prog.wasm".to_owned()]);
    run.timeout = timeout;
    run
}

/// Writes `wasm` into `dir`, precompiles it into a cache there and returns the `.cwasm` path.
fn precompile_bytes(dir: &Path, wasm: &[u8]) -> PathBuf {
    let src = dir.join("prog.wasm");
    std::fs::write(&src, wasm).unwrap();
    let out = precompiled_path(&dir.join("cache"), "0123abcd");
    precompile(&src, &out).unwrap();
    out
}

#[test]
fn returning_from_start_is_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cwasm = precompile_bytes(dir.path(), EMPTY_START_MODULE);
    assert_eq!(
        exec_precompiled(&cwasm, &run_with(Duration::from_secs(10))).unwrap(),
        0
    );
}

#[test]
fn unreachable_is_a_trap() {
    let dir = tempfile::tempdir().unwrap();
    let cwasm = precompile_bytes(dir.path(), TRAP_MODULE);
    match exec_precompiled(&cwasm, &run_with(Duration::from_secs(10))) {
        Err(WasmError::Trap(message)) => assert!(message.contains("unreachable"), "{message}"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn spinning_guest_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let cwasm = precompile_bytes(dir.path(), SPIN_MODULE);
    let started = Instant::now();
    let result = exec_precompiled(&cwasm, &run_with(Duration::from_secs(1)));
    let took = started.elapsed();
    assert!(matches!(result, Err(WasmError::Timeout)), "{result:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn growing_past_the_limit_is_a_memory_error() {
    let dir = tempfile::tempdir().unwrap();
    let cwasm = precompile_bytes(dir.path(), GROW_MODULE);
    let mut run = run_with(Duration::from_secs(30));
    run.max_memory_bytes = 16 << 20;
    match exec_precompiled(&cwasm, &run) {
        Err(WasmError::MemoryLimit { requested, limit }) => {
            assert_eq!(limit, 16 << 20);
            assert!(requested > limit);
        }
        other => panic!("expected a memory limit error, got {other:?}"),
    }
}

#[test]
fn growing_a_table_without_end_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let cwasm = precompile_bytes(dir.path(), TABLE_GROW_MODULE);
    let started = Instant::now();
    match exec_precompiled(&cwasm, &run_with(Duration::from_secs(30))) {
        Err(WasmError::TableLimit { requested, limit }) => {
            assert!(requested > limit, "{requested} > {limit}");
        }
        other => panic!("expected a table limit error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn garbage_cwasm_is_a_load_error_and_bad_wasm_a_compile_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.cwasm");
    std::fs::write(&fake, b"not a cwasm").unwrap();
    let err = exec_precompiled(&fake, &run_with(Duration::from_secs(5))).unwrap_err();
    assert!(matches!(err, WasmError::Load { .. }), "{err:?}");

    let src = dir.path().join("bad.wasm");
    std::fs::write(&src, b"\0asm\x01\0\0\0\x99").unwrap();
    let err = precompile(&src, &dir.path().join("bad.cwasm")).unwrap_err();
    assert!(matches!(err, WasmError::Compile { .. }), "{err:?}");
    assert!(!dir.path().join("bad.cwasm").exists());
}

#[test]
fn cache_name_changes_with_wasmtime_version() {
    let p = precompiled_path(Path::new("/c"), "ff00");
    assert!(p.to_str().unwrap().contains(wasmtime_version()));
    assert!(wasmtime_version().starts_with(|c: char| c.is_ascii_digit()));
}

// ----- a real Go wasip1 program ----------------------------------------------------------

/// One guest with a mode per test, so the slow precompile happens once.
const GUEST: &str = r#"package main

import (
	"os"
	"strings"
	"time"
)

var keep [][]byte
var n int

func main() {
	switch os.Args[1] {
	case "write":
		text := strings.Join(os.Args[2:], ",") + "|" + os.Getenv("CM_GREETING") + "\n"
		if err := os.WriteFile("/out/hello.txt", []byte(text), 0o644); err != nil {
			println("write:", err.Error())
			os.Exit(1)
		}
	case "exit3":
		os.Exit(3)
	case "panic":
		panic("boom")
	case "spin":
		for {
			n++
		}
	case "sleep":
		time.Sleep(time.Hour)
	case "alloc":
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			keep = append(keep, b)
		}
	}
}
"#;

/// The precompiled guest, built with Go and cached across test runs by the module's sha256
/// (as crossmatrix caches it); `None` (after printing why) when Go is missing.
fn go_guest() -> Option<&'static Path> {
    static GUEST_CWASM: OnceLock<Option<PathBuf>> = OnceLock::new();
    GUEST_CWASM.get_or_init(build_go_guest).as_deref()
}

fn build_go_guest() -> Option<PathBuf> {
    let go = Path::new(GO);
    if !go.is_file() {
        eprintln!("skip: no Go toolchain at {GO}");
        return None;
    }
    let dir = std::env::temp_dir().join("cm-test-wasm");
    std::fs::create_dir_all(&dir).unwrap();
    let build = tempfile::tempdir_in(&dir).unwrap();
    let src = build.path().join("main.go");
    std::fs::write(&src, GUEST).unwrap();
    let wasm = build.path().join("guest.wasm");
    let out = Command::new(go)
        .arg("build")
        .arg("-trimpath")
        .arg("-o")
        .arg(&wasm)
        .arg(&src)
        .current_dir(build.path())
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .env("GOCACHE", std::env::temp_dir().join("cm-test-gocache"))
        .env("GOPATH", build.path().join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .output()
        .expect("run go build");
    assert!(
        out.status.success(),
        "go build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sha = format!("{:x}", Sha256::digest(std::fs::read(&wasm).unwrap()));
    let cwasm = precompiled_path(&dir.join("cache"), &sha);
    if !cwasm.is_file() {
        let started = Instant::now();
        precompile(&wasm, &cwasm).unwrap();
        eprintln!(
            "precompiled the Go guest ({} bytes) in {:?}",
            std::fs::metadata(&wasm).unwrap().len(),
            started.elapsed()
        );
    }
    Some(cwasm)
}

fn guest_run(mode: &str, timeout: Duration) -> WasmRun {
    let mut run = WasmRun::new(vec!["guest.wasm".into(), mode.into()]);
    run.timeout = timeout;
    run
}

#[test]
fn go_writes_through_preopen_with_args_and_env() {
    let Some(cwasm) = go_guest() else { return };
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("out")).unwrap();
    let mut run = guest_run("write", Duration::from_secs(30));
    run.args.extend(["a".into(), "b c".into()]);
    run.env = vec![("CM_GREETING".into(), "hello".into())];
    run.preopen = Some(root.path().to_path_buf());
    let started = Instant::now();
    let code = exec_precompiled(cwasm, &run).unwrap();
    eprintln!("exec: {:?}", started.elapsed());
    assert_eq!(code, 0);
    let written = std::fs::read_to_string(root.path().join("out/hello.txt")).unwrap();
    assert_eq!(written, "a,b c|hello\n");
}

#[test]
fn go_without_preopen_cannot_write() {
    let Some(cwasm) = go_guest() else { return };
    assert_eq!(
        exec_precompiled(cwasm, &guest_run("write", Duration::from_secs(30))).unwrap(),
        1
    );
}

#[test]
fn go_exit_code_and_panic() {
    let Some(cwasm) = go_guest() else { return };
    let timeout = Duration::from_secs(30);
    assert_eq!(
        exec_precompiled(cwasm, &guest_run("exit3", timeout)).unwrap(),
        3
    );
    // A Go panic exits with status 2 (its message goes to the inherited stderr).
    assert_eq!(
        exec_precompiled(cwasm, &guest_run("panic", timeout)).unwrap(),
        2
    );
}

#[test]
fn go_infinite_loop_times_out() {
    let Some(cwasm) = go_guest() else { return };
    let started = Instant::now();
    let result = exec_precompiled(cwasm, &guest_run("spin", Duration::from_secs(1)));
    let took = started.elapsed();
    assert!(matches!(result, Err(WasmError::Timeout)), "{result:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn go_sleeping_in_a_host_call_still_times_out() {
    // time.Sleep blocks in poll_oneoff, where the epoch interrupt cannot reach it.
    let Some(cwasm) = go_guest() else { return };
    let started = Instant::now();
    let result = exec_precompiled(cwasm, &guest_run("sleep", Duration::from_secs(1)));
    let took = started.elapsed();
    assert!(matches!(result, Err(WasmError::Timeout)), "{result:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn go_unbounded_allocation_hits_the_memory_limit() {
    let Some(cwasm) = go_guest() else { return };
    let mut run = guest_run("alloc", Duration::from_secs(60));
    run.max_memory_bytes = 128 << 20;
    match exec_precompiled(cwasm, &run) {
        Err(WasmError::MemoryLimit { requested, limit }) => {
            assert_eq!(limit, 128 << 20);
            assert!(requested > limit);
        }
        other => panic!("expected a memory limit error, got {other:?}"),
    }
}
