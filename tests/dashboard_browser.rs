//! The HTML dashboard looked at in a real browser: `crossmatrix report --format html` of a
//! 60-cell run of three toolchains, and `--history` over 20 nights with a change point, both
//! from records written here (no Go needed), rendered by headless Chromium. The screenshots
//! must decode at the window's size, not be blank, and show the status colours and the
//! change marker; Chromium's DOM must hold the SVG the page emits.
//!
//! Needs `/usr/bin/chromium` (ci/setup installs it); without it the test says SKIPPED, and
//! fails under CI. `CROSSMATRIX_SCREENSHOT_DIR=DIR` keeps the screenshots for a look.

use crossmatrix_results::{
    CellRecord, CellStatus, CounterInfo, InstructionsRecord, RunMeta, StartupRecord,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_crossmatrix");
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 3000;

/// The page's colours the screenshots are searched for (results/src/report/html.rs).
const PASS: [u8; 3] = [0x2d, 0xa4, 0x4e];
const FAIL: [u8; 3] = [0xcf, 0x22, 0x2e];
const SIZE_BAR: [u8; 3] = [0x82, 0x50, 0xdf];
const INSTRUCTIONS_LINE: [u8; 3] = [0x0a, 0x30, 0x69];
const REGRESSION_MARKER: [u8; 3] = [0xe1, 0x6f, 0x24];
const CHART_BACKGROUND: [u8; 3] = [0xf6, 0xf8, 0xfa];

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A passing cell's record: `id` is `go1.26/linux-arm64/cgo0/rootfs-scratch/probe`.
fn record(id: &str) -> CellRecord {
    let p: Vec<&str> = id.split('/').collect();
    let (goos, arch) = p[1].split_once('-').expect("goos-goarch");
    let (goarch, variant) = match arch.split_once('-') {
        Some((a, v)) => (a, Some(v.replace("GOARM", "GOARM="))),
        None => (arch, None),
    };
    let libc = p[2].strip_prefix("cgo1-");
    let json = serde_json::json!({
        "schema": 1,
        "id": id,
        "toolchain": {"name": p[0], "version": format!("{}.3", p[0]), "goroot": format!("/usr/lib/go-{}", &p[0][2..])},
        "target": {"goos": goos, "goarch": goarch, "variant": variant},
        "cgo": u8::from(p[2] != "cgo0"),
        "libc": libc,
        "rootfs": p[3].trim_start_matches("rootfs-"),
        "program": p[4],
        "build": {"status": "ok", "duration_ms": 2100, "log_tail": ""},
        "binary": {"path": "bin/probe", "size_bytes": 0, "sha256": "0".repeat(64), "linkage": "static",
                   "needed": [], "format": "elf"},
        "run": {"status": "ok", "executor": if goarch == "amd64" { "native" } else { "qemu-binfmt" },
                "exit_code": 0, "duration_ms": 14, "stdout_tail": "ok\n", "stderr_tail": ""},
        "status": "pass",
        "inputs_hash": format!("inputs-of-{id}"),
        "finished_at": "2025-01-02T03:05:00Z"
    });
    serde_json::from_value(json).expect("a record")
}

fn timed(mut r: CellRecord, size: u64, ms: f64, instructions: u64) -> CellRecord {
    if let Some(b) = r.binary.as_mut() {
        b.size_bytes = size;
    }
    let samples: Vec<f64> = [-0.02, 0.0, 0.01, 0.03, -0.01]
        .iter()
        .map(|k| ms * (1.0 + k))
        .collect();
    r.startup = Some(StartupRecord {
        reps: 5,
        median_ms: ms,
        min_ms: ms * 0.98,
        mad_ms: ms * 0.01,
        samples_ms: samples,
        ..Default::default()
    });
    r.instructions = Some(InstructionsRecord {
        count: instructions,
        samples: vec![instructions; 3],
        excluded: Vec::new(),
        counter: CounterInfo {
            qemu_version: "10.0.13".into(),
            cpu: None,
            arch: r.target.goarch.clone(),
        },
    });
    r
}

/// Writes `records` and a `run.json` that planned exactly them to `dir`.
fn write_run(dir: &Path, started_at: &str, commit: &str, records: &[CellRecord]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let lines: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).expect("serialise"))
        .collect();
    std::fs::write(dir.join("cells.jsonl"), lines.join("\n") + "\n").expect("cells.jsonl");
    let mut totals =
        serde_json::json!({"cells": records.len(), "pass": 0, "fail": 0, "skipped": 0, "built": 0});
    for r in records {
        let k = r.status.as_str();
        totals[k] = (totals[k].as_u64().unwrap_or(0) + 1).into();
    }
    let meta = serde_json::json!({
        "schema": 1,
        "crossmatrix_version": "0.1.0",
        "started_at": started_at,
        "finished_at": started_at,
        "wall_ms": 60000,
        "host": {"hostname": "ci-1", "os": "Debian GNU/Linux 13", "kernel": "6.12", "arch": "x86_64",
                 "cores": 2, "user": "runner", "binfmt": true},
        "tools": [],
        "toolchains": [],
        "matrix_hash": "abc",
        "planned": records.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        "jobs": 2,
        "reps": 5,
        "totals": totals,
        // Read by the history once run.json records the commit a night tested.
        "commit": commit,
    });
    let _: RunMeta = serde_json::from_value(meta.clone()).expect("a valid run.json");
    std::fs::write(dir.join("run.json"), meta.to_string()).expect("run.json");
}

const TARGETS: [&str; 10] = [
    "linux-amd64",
    "linux-arm64",
    "linux-riscv64",
    "linux-arm-GOARM7",
    "linux-386",
    "linux-ppc64le",
    "linux-s390x",
    "linux-mips64le",
    "linux-loong64",
    "linux-mipsle",
];

/// 3 toolchains × 10 targets × 2 modes: mostly passing, a failure, a skipped and a built
/// cell; each newer toolchain's binaries 3% bigger. Recorded newest toolchain first and
/// modes interleaved, as shards merge them.
fn sixty_cells() -> Vec<CellRecord> {
    let mut out = Vec::new();
    for (t, tc) in ["go1.27", "go1.22", "go1.26"].iter().enumerate() {
        for (i, target) in TARGETS.iter().enumerate() {
            for (mode, rootfs) in [("cgo1-musl", "musl"), ("cgo0", "scratch")] {
                let id = format!("{tc}/{target}/{mode}/rootfs-{rootfs}/probe");
                let f = 1.0 + 0.03 * [2.0, 0.0, 1.0][t];
                let ms = if *target == "linux-amd64" {
                    1.2
                } else {
                    8.0 + 3.0 * i as f64
                };
                let mut r = timed(
                    record(&id),
                    ((1_500_000 + 40_000 * i) as f64 * f) as u64,
                    ms * f,
                    900_000 + 10_000 * i as u64,
                );
                match (*tc, *target, mode) {
                    ("go1.22", "linux-mips64le", "cgo1-musl") => {
                        r.status = CellStatus::Fail;
                        r.cause = Some(crossmatrix_results::Cause::MissingInterpreter);
                        r.hint = Some("the binary's dynamic loader is not in the rootfs".into());
                        r.startup = None;
                        r.instructions = None;
                    }
                    ("go1.27", "linux-loong64", "cgo1-musl") => {
                        r.status = CellStatus::Skipped;
                        r.binary = None;
                        r.run = None;
                        r.startup = None;
                        r.instructions = None;
                    }
                    ("go1.26", "linux-s390x", "cgo0") => {
                        r.status = CellStatus::Built;
                        r.run = None;
                        r.startup = None;
                        r.instructions = None;
                    }
                    _ => {}
                }
                out.push(r);
            }
        }
    }
    out
}

/// Kills the whole process group of a child that outlives its deadline.
fn run_with_timeout(mut cmd: Command, limit: Duration) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id() as i32;
    // Read both pipes on threads so a chatty child never blocks on a full pipe.
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > limit {
            // SAFETY: signalling the process group this test started.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = child.wait();
            panic!("{cmd:?} ran longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Chromium's helpers may still hold the pipes: end the group before reading them.
    // SAFETY: as above.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    std::process::Output {
        status,
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    }
}

fn report(args: &[&Path]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.arg("report").arg(args[0]).args(["--format", "html"]);
    if args.len() > 1 {
        cmd.arg("--history").args(&args[1..]);
    }
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "crossmatrix report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 html")
}

fn chromium_cmd(chromium: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--force-device-scale-factor=1",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// What Chromium made of `page`: its screenshot (RGB pixels) and its DOM.
struct Seen {
    pixels: Vec<[u8; 3]>,
    dom: String,
}

fn look_at(chromium: &Path, page: &Path, work: &Path) -> Seen {
    let png_path = page.with_extension("png");
    let mut shot = chromium_cmd(chromium, &work.join("profile-shot"));
    shot.arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(format!("file://{}", page.display()));
    let out = run_with_timeout(shot, Duration::from_secs(120));
    assert!(
        png_path.exists(),
        "chromium wrote no screenshot ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(keep) = std::env::var_os("CROSSMATRIX_SCREENSHOT_DIR") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("mkdir");
        std::fs::copy(&png_path, keep.join(png_path.file_name().expect("name"))).expect("copy");
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).expect("open png"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    assert_eq!(
        (info.width, info.height),
        (WIDTH, HEIGHT),
        "the screenshot is the window's size"
    );
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();

    let mut dump = chromium_cmd(chromium, &work.join("profile-dom"));
    dump.arg("--dump-dom")
        .arg(format!("file://{}", page.display()));
    let out = run_with_timeout(dump, Duration::from_secs(120));
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        dom.contains("</html>"),
        "chromium dumped no DOM ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Seen { pixels, dom }
}

/// Pixels within a few levels of `color`: a filled shape or a crisp line is exact.
fn count_color(pixels: &[[u8; 3]], color: [u8; 3]) -> usize {
    pixels
        .iter()
        .filter(|p| (0..3).all(|i| p[i].abs_diff(color[i]) <= 4))
        .count()
}

/// Pixels of a thin anti-aliased line of `color` over `background`: a blend of the two, at
/// least 40% line (every channel the same share of the way from one to the other). Text, in
/// another colour, blends along another path.
fn count_blended(pixels: &[[u8; 3]], color: [u8; 3], background: [u8; 3]) -> usize {
    pixels
        .iter()
        .filter(|p| {
            let share: Vec<f64> = (0..3)
                .map(|i| {
                    (f64::from(background[i]) - f64::from(p[i]))
                        / (f64::from(background[i]) - f64::from(color[i]))
                })
                .collect();
            let (lo, hi) = share
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
            lo >= 0.4 && hi <= 1.05 && hi - lo <= 0.08
        })
        .count()
}

fn distinct_colors(pixels: &[[u8; 3]]) -> usize {
    let mut set: std::collections::HashSet<[u8; 3]> = std::collections::HashSet::new();
    set.extend(pixels.iter().copied());
    set.len()
}

/// Element `name` as the page wrote it and as Chromium re-serialised it.
fn count_tag(html: &str, name: &str) -> usize {
    html.matches(&format!("<{name} ")).count() + html.matches(&format!("<{name}>")).count()
}

fn require_chromium() -> Option<PathBuf> {
    match chromium() {
        Some(c) => Some(c),
        None => {
            let why = "chromium is not installed (/usr/bin/chromium): run ci/setup";
            if std::env::var_os("CI").is_some() {
                panic!("CI is set but {why}");
            }
            eprintln!("SKIPPED: {why}");
            println!("SKIPPED: {why}");
            None
        }
    }
}

#[test]
fn sixty_cells_of_three_toolchains_in_chromium() {
    let Some(chromium) = require_chromium() else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let run = work.path().join("run");
    let records = sixty_cells();
    assert_eq!(records.len(), 60);
    write_run(&run, "2025-01-20T03:00:00Z", "", &records);
    let html = report(&[&run]);
    let page = work.path().join("report.html");
    std::fs::write(&page, &html).expect("write page");
    let seen = look_at(&chromium, &page, work.path());

    // Not blank: text, bars and tiles give many colours; status colours are on screen.
    let distinct = distinct_colors(&seen.pixels);
    assert!(distinct > 100, "{distinct} colours: a blank page?");
    let pass = count_color(&seen.pixels, PASS);
    // 56 passing tiles of about 80 × 20 px.
    assert!(pass > 56 * 1000, "pass green: {pass} px");
    let fail = count_color(&seen.pixels, FAIL);
    assert!(fail > 1000, "fail red: {fail} px");
    assert!(count_color(&seen.pixels, SIZE_BAR) > 500, "no size bar");

    // The browser parsed the heatmap as the page wrote it: one SVG, a rect per cell, each
    // with its hover title; the side-by-side tables have a row per target × mode.
    assert_eq!(count_tag(&html, "svg"), 1);
    assert_eq!(count_tag(&seen.dom, "svg"), 1, "svg in the DOM");
    assert_eq!(
        count_tag(&seen.dom, "rect"),
        60,
        "a rect per cell in the DOM"
    );
    assert_eq!(
        count_tag(&seen.dom, "title"),
        60 + 1,
        "hover titles (and the page's)"
    );
    let size = &seen.dom[seen.dom.find("<h2>Binary size</h2>").expect("size table")..];
    let size = &size[..size.find("</table>").expect("end of table")];
    assert_eq!(size.matches("<tr>").count(), 1 + 20, "a header and 20 rows");
    // Columns in version order, whatever order the records came in.
    let (a, b, c) = (
        size.find(">go1.22<").expect("go1.22"),
        size.find(">go1.26 ").expect("go1.26"),
        size.find(">go1.27 ").expect("go1.27"),
    );
    assert!(a < b && b < c, "toolchain columns out of order");
}

#[test]
fn twenty_nights_with_a_change_point_in_chromium() {
    let Some(chromium) = require_chromium() else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    // 20 nights of 3 targets' startup; from night 14 the arm64 program runs 20% more
    // instructions and is 30% slower.
    let mut dirs = Vec::new();
    for night in 0..20 {
        let dir = work.path().join(format!("night-{night:02}"));
        let wiggle = [0.0, 0.01, -0.01, 0.02][night % 4];
        let records: Vec<CellRecord> = ["linux-amd64", "linux-arm64", "linux-riscv64"]
            .iter()
            .enumerate()
            .map(|(i, target)| {
                let stepped = *target == "linux-arm64" && night >= 14;
                let ms = [1.2, 10.0, 25.0][i] * (1.0 + wiggle) * if stepped { 1.3 } else { 1.0 };
                let count = [800_000, 1_000_000, 1_100_000][i] * if stepped { 6 } else { 5 } / 5;
                timed(
                    record(&format!("go1.26/{target}/cgo0/rootfs-scratch/probe")),
                    1_600_000,
                    ms,
                    count,
                )
            })
            .collect();
        write_run(
            &dir,
            &format!("2025-01-{:02}T03:00:00Z", night + 1),
            &format!("{night:02}{}", "c0ffee".repeat(6)),
            &records,
        );
        dirs.push(dir);
    }
    let newest = dirs.pop().expect("20 nights");
    let args: Vec<&Path> = std::iter::once(newest.as_path())
        .chain(dirs.iter().map(PathBuf::as_path))
        .collect();
    let html = report(&args);
    let page = work.path().join("history.html");
    std::fs::write(&page, &html).expect("write page");
    let seen = look_at(&chromium, &page, work.path());

    let distinct = distinct_colors(&seen.pixels);
    assert!(distinct > 100, "{distinct} colours: a blank page?");
    assert!(
        count_color(&seen.pixels, PASS) > 3 * 20 * 100,
        "the status strips' green"
    );
    assert!(
        count_blended(&seen.pixels, INSTRUCTIONS_LINE, CHART_BACKGROUND) > 3 * 200,
        "the instruction lines"
    );
    let marker = count_color(&seen.pixels, REGRESSION_MARKER);
    assert!(marker > 50, "the change marker's orange: {marker} px");

    // Per target: an instructions chart and a time chart; per cell: a status strip and two
    // sparklines. Every one parsed by the browser as an <svg>.
    assert_eq!(count_tag(&html, "svg"), 3 * 2 + 3 * 3, "svg in the page");
    assert_eq!(
        count_tag(&seen.dom, "svg"),
        count_tag(&html, "svg"),
        "svg in the DOM"
    );
    // The change point: marked in the arm64 instructions chart, listed first.
    let markers = seen.dom.matches("<g class=\"cp\">").count();
    assert!(markers >= 1, "no change marker in the DOM");
    assert_eq!(markers, html.matches("<g class=\"cp\">").count());
    let list = &seen.dom[seen.dom.find("id=\"changes\"").expect("the change list")..];
    let first = &list[list.find("<tr class=").expect("a change")..];
    let first = &first[..first.find("</tr>").expect("end of row")];
    assert!(first.contains("linux-arm64"), "{first}");
    assert!(
        first.contains("+20.0%") || first.contains("+30.0%"),
        "{first}"
    );
    assert!(
        first.contains("14c0ffee"),
        "the commit of night 14: {first}"
    );
}
