//! Tests of the HTML dashboard: well-formed (parsed as XML), the parts a reader relies on,
//! and, where chromium is installed, a real render that is not blank.

use super::history::{INSTRUCTIONS_COLOR, REGRESSION_COLOR, TIME_COLOR};
use super::*;
use crate::RenderOptions;
use crate::fixtures::{RecordExt, cell, samples};
use crate::report::tests::{fixture_meta, fixture_records};
use crate::schema::RunMeta;
use quick_xml::events::Event;

/// Parses `html` as XML, checking every element is closed by its own end tag. Returns the
/// element names in document order.
fn well_formed(html: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(html);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let n = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                names.push(n.clone());
                stack.push(n);
            }
            Ok(Event::Empty(e)) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Ok(Event::End(_)) => {
                stack.pop();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at byte {}: {e}\n{}",
                reader.error_position(),
                html
            ),
        }
    }
    assert!(stack.is_empty(), "unclosed elements: {stack:?}");
    names
}

fn dashboard() -> String {
    let meta = fixture_meta();
    crate::render(
        crate::ReportFormat::Html,
        &fixture_records(),
        Some(&meta),
        &RenderOptions::default(),
    )
    .unwrap()
}

#[test]
fn dashboard_is_well_formed_and_self_contained() {
    let html = dashboard();
    let names = well_formed(&html);
    assert_eq!(names[0], "html");
    assert!(names.iter().any(|n| n == "svg"));
    assert!(names.iter().any(|n| n == "rect"));
    // Nothing is fetched: no external references and no scripts.
    for forbidden in ["http://", "https://", "<script", "<link", "src="] {
        let hits: Vec<&str> = html
            .match_indices(forbidden)
            .map(|(i, _)| &html[i.saturating_sub(30)..(i + 40).min(html.len())])
            .filter(|ctx| !ctx.contains("www.w3.org"))
            .collect();
        assert!(hits.is_empty(), "{forbidden}: {hits:?}");
    }
}

#[test]
fn heatmap_has_a_rect_per_cell_with_cause_and_hint() {
    let html = dashboard();
    let records = fixture_records();
    let heatmap =
        &html[html.find("<h2>Status</h2>").unwrap()..html.find("<h2>Binary size").unwrap()];
    assert_eq!(heatmap.matches("<rect").count(), records.len(), "{heatmap}");
    // Rows are targets, columns toolchain × mode.
    for label in [
        "linux/amd64",
        "linux/arm64",
        "wasip1/wasm",
        "go1.22",
        "cgo1-musl",
    ] {
        assert!(heatmap.contains(label), "{label}");
    }
    assert!(heatmap.contains(
        "<title>go1.24/linux-arm64/cgo1-gnu/rootfs-musl/probe\nfail: missing-interpreter\nthe binary&#39;s dynamic loader"
    ), "{heatmap}");
    assert!(heatmap.contains("fill=\"#cf222e\""));
}

/// The text of every `<text>` element of `svg`, in document order.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .map(|t| {
            t.split_once('>')
                .unwrap()
                .1
                .split("</text>")
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Three toolchains whose string order (`go1.100 < go1.22 < go1.27`) is not their version
/// order, two modes and three targets, recorded in an interleaved order.
fn three_toolchains() -> Vec<CellRecord> {
    let mut out = Vec::new();
    for target in ["linux-riscv64", "linux-amd64", "linux-arm64"] {
        for (mode, rootfs) in [("cgo1-gnu", "debian"), ("cgo0", "scratch")] {
            // Each newer toolchain 10% bigger and slower than go1.22.
            for (tc, f) in [("go1.27", 1.1), ("go1.100", 1.2), ("go1.22", 1.0)] {
                let ms = if target == "linux-amd64" { 1.0 } else { 10.0 };
                out.push(
                    cell(
                        &format!("{tc}/{target}/{mode}/rootfs-{rootfs}/probe"),
                        CellStatus::Pass,
                    )
                    .size((2_097_152.0 * f) as u64)
                    .startup(&[ms * f]),
                );
            }
        }
    }
    out
}

#[test]
fn heatmap_columns_are_mode_then_toolchain_in_version_order() {
    let html = crate::render(
        crate::ReportFormat::Html,
        &three_toolchains(),
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    well_formed(&html);
    let heatmap =
        &html[html.find("<h2>Status</h2>").unwrap()..html.find("<h2>Binary size").unwrap()];
    assert_eq!(
        svg_texts(heatmap),
        [
            "cgo0",
            "go1.22",
            "go1.27",
            "go1.100",
            "cgo1-gnu",
            "go1.22",
            "go1.27",
            "go1.100",
            "linux/amd64",
            "linux/arm64",
            "linux/riscv64",
        ]
    );
    // The rects follow: row by row, the columns in that order.
    let tips: Vec<&str> = heatmap
        .split("<title>")
        .skip(1)
        .map(|t| t.split('\n').next().unwrap())
        .collect();
    assert_eq!(
        &tips[..6],
        [
            "go1.22/linux-amd64/cgo0/rootfs-scratch/probe",
            "go1.27/linux-amd64/cgo0/rootfs-scratch/probe",
            "go1.100/linux-amd64/cgo0/rootfs-scratch/probe",
            "go1.22/linux-amd64/cgo1-gnu/rootfs-debian/probe",
            "go1.27/linux-amd64/cgo1-gnu/rootfs-debian/probe",
            "go1.100/linux-amd64/cgo1-gnu/rootfs-debian/probe",
        ]
    );
    assert_eq!(tips.len(), 18);
}

/// The rows of the table under the `<h2>` starting with `title`, as cell texts (tags removed).
fn table_rows(html: &str, title: &str) -> Vec<Vec<String>> {
    let from = html.find(&format!("<h2>{title}")).unwrap();
    let table = &html[from..];
    let table = &table[..table.find("</table>").unwrap()];
    table
        .split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<t")
                .skip(1)
                .filter(|c| c.starts_with('d') || c.starts_with('h'))
                .map(|c| {
                    let inner = c.split_once('>').unwrap().1;
                    let mut text = String::new();
                    let mut in_tag = false;
                    for ch in inner.chars() {
                        match ch {
                            '<' => in_tag = true,
                            '>' => in_tag = false,
                            c if !in_tag => text.push(c),
                            _ => {}
                        }
                    }
                    text.trim().to_string()
                })
                .collect()
        })
        .collect()
}

#[test]
fn size_and_startup_put_toolchains_side_by_side_per_target() {
    let html = crate::render(
        crate::ReportFormat::Html,
        &three_toolchains(),
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    well_formed(&html);
    let size = table_rows(&html, "Binary size");
    // A header and one row per target × mode × rootfs × program: 3 × 2, not 18.
    assert_eq!(size.len(), 7, "{size:?}");
    assert_eq!(
        size[0],
        [
            "target",
            "mode",
            "rootfs",
            "program",
            "go1.22",
            "go1.27 (Δ vs oldest)",
            "go1.100 (Δ vs oldest)"
        ]
    );
    assert_eq!(
        size[1],
        [
            "linux/amd64",
            "cgo0",
            "scratch",
            "probe",
            "2.0 MiB",
            "2.2 MiB +10.0%",
            "2.4 MiB +20.0%"
        ]
    );
    let targets: Vec<(&str, &str)> = size[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        targets,
        [
            ("linux/amd64", "cgo0"),
            ("linux/amd64", "cgo1-gnu"),
            ("linux/arm64", "cgo0"),
            ("linux/arm64", "cgo1-gnu"),
            ("linux/riscv64", "cgo0"),
            ("linux/riscv64", "cgo1-gnu"),
        ]
    );
    // Startup: the ratio to native amd64 and milliseconds, the change in milliseconds.
    let startup = table_rows(&html, "Startup");
    assert_eq!(startup.len(), 7, "{startup:?}");
    assert_eq!(
        startup[3][4..],
        [
            "×10.0 (10.0 ms)",
            "×10.0 (11.0 ms) +10.0%",
            "×10.0 (12.0 ms) +20.0%"
        ]
    );
    // A toolchain missing from a row leaves a dash, and the next oldest is the base.
    let mut fewer = three_toolchains();
    fewer.retain(|r| !(r.toolchain.name == "go1.22" && r.target.goarch == "riscv64"));
    let html = crate::render(
        crate::ReportFormat::Html,
        &fewer,
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    let size = table_rows(&html, "Binary size");
    assert_eq!(size[5][4..], ["-", "2.2 MiB", "2.4 MiB +9.1%"]);
}

#[test]
fn startup_is_a_ratio_to_native_amd64() {
    let run = vec![
        cell(
            "go1.24/linux-amd64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        )
        .size(1_500_000)
        .startup(&samples(2.0, 1.0)),
        cell(
            "go1.24/linux-arm64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        )
        .size(1_600_000)
        .startup(&samples(20.0, 1.0)),
        cell(
            "go1.22/linux-amd64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        )
        .size(1_400_000)
        .startup(&samples(4.0, 1.0)),
        cell(
            "go1.22/linux-arm64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        )
        .size(1_500_000)
        .startup(&samples(20.0, 1.0)),
    ];
    let html = crate::render(
        crate::ReportFormat::Html,
        &run,
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    well_formed(&html);
    assert!(html.contains("× the native linux/amd64 cell"), "{html}");
    assert!(html.contains(">×10.0 (20.0 ms)<"), "{html}");
    assert!(html.contains(">×5.0 (20.0 ms)<"), "{html}");
    assert!(html.contains(">×1.0 (2.00 ms)<"), "{html}");
    // Without an amd64 cell, milliseconds.
    let html = crate::render(
        crate::ReportFormat::Html,
        &run[1..2],
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    assert!(html.contains("<h2>Startup (median)</h2>"), "{html}");
}

#[test]
fn history_draws_a_trend_per_cell() {
    let id = "go1.24/linux-arm64/cgo0/rootfs-scratch/probe";
    let other = "go1.24/linux-riscv64/cgo0/rootfs-scratch/probe";
    let runs: Vec<(RunMeta, Vec<CellRecord>)> = (0..4)
        .map(|i| {
            let mut meta = fixture_meta();
            meta.started_at = format!("2025-01-0{}T03:00:00Z", i + 1);
            let mut recs = vec![
                cell(id, CellStatus::Pass)
                    .size(1_500_000 + i * 10_000)
                    .startup(&samples(10.0 + i as f64, 1.0)),
            ];
            // The riscv64 cell is missing from run 2 and fails in run 3.
            match i {
                2 => {}
                3 => recs.push(cell(other, CellStatus::Fail).cause(crate::Cause::Timeout)),
                _ => recs.push(
                    cell(other, CellStatus::Pass)
                        .size(1_700_000)
                        .startup(&[30.0]),
                ),
            }
            (meta, recs)
        })
        .collect();
    let html = render_html_history(&runs);
    let names = well_formed(&html);
    assert!(
        names.iter().filter(|n| *n == "polyline").count() >= 2,
        "{html}"
    );
    assert!(html.contains("4 runs, 2025-01-01T03:00:00Z → 2025-01-04T03:00:00Z"));
    // The arm64 cell: 4 status squares, a 4-point startup line ending at 13.0 ms.
    let row = html
        .split("<tr>")
        .find(|l| l.contains(&format!("<code>{id}</code>")))
        .unwrap();
    assert_eq!(row.matches("<rect").count(), 4);
    assert!(row.contains(">13.0 ms<"), "{row}");
    let points = row
        .split("points=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(points.split(' ').count(), 4, "{points}");
    // The riscv64 cell: 3 squares, its startup line broken by the missing run.
    let row = html
        .split("<tr>")
        .find(|l| l.contains(&format!("<code>{other}</code>")))
        .unwrap();
    assert_eq!(row.matches("<rect").count(), 3);
    assert!(row.contains("fail: timeout"));
    // No runs at all still renders.
    well_formed(&render_html_history(&[]));
}

/// `r` with a counted instruction count (`--metric both`).
fn counted(mut r: CellRecord, count: u64) -> CellRecord {
    r.instructions = Some(crate::InstructionsRecord {
        count,
        samples: vec![count; 3],
        excluded: Vec::new(),
        counter: crate::CounterInfo {
            qemu_version: "10.0.13".into(),
            cpu: None,
            arch: r.target.goarch.clone(),
        },
    });
    r
}

const ARM64: &str = "go1.24/linux-arm64/cgo0/rootfs-scratch/probe";
const RISCV64: &str = "go1.24/linux-riscv64/cgo0/rootfs-scratch/probe";

/// `n` nights of two timed and counted cells and a benchmark cell. The arm64 cell's count
/// steps from 1.0M to 1.2M instructions at night 14; the benchmark doubles its ns/op on the
/// last night.
fn nightly(n: usize) -> Vec<(RunMeta, Vec<CellRecord>)> {
    (0..n)
        .map(|i| {
            let mut meta = fixture_meta();
            meta.started_at = format!("2025-01-{:02}T03:00:00Z", i + 1);
            let wiggle = (i % 3) as f64 * 0.1;
            let arm = cell(ARM64, CellStatus::Pass)
                .size(1_500_000)
                .startup(&[10.0 + wiggle]);
            let riscv = cell(RISCV64, CellStatus::Pass)
                .size(1_600_000)
                .startup(&[40.0 + wiggle]);
            let mut bench = crate::fixtures::test_cell(
                "go1.24/linux-arm64/cgo0/rootfs-scratch/parse",
                &[("TestParse", crate::TestStatus::Pass, "")],
            );
            let mut b = crate::report::dashboard::tests::bench(
                "BenchmarkParse/small",
                8,
                if i + 1 == n { 2000.0 } else { 1000.0 + wiggle },
            );
            b.instructions = Some(crate::BenchInstructions {
                per_op: 5000.0,
                samples_per_op: vec![5000.0],
                n: [100, 1100],
                counter: crate::CounterInfo {
                    qemu_version: "10.0.13".into(),
                    cpu: None,
                    arch: "aarch64".into(),
                },
            });
            bench.tests.as_mut().unwrap().benchmarks = vec![b];
            let recs = vec![
                counted(arm, if i < 14 { 1_000_000 } else { 1_200_000 }),
                counted(riscv, 2_000_000),
                bench,
            ];
            (meta, recs)
        })
        .collect()
}

/// The `<tr id="h-…">` row of the series section for `subject` on `target`.
fn chart_row<'a>(html: &'a str, heading: &str, target: &str) -> &'a str {
    let from = html.find(heading).unwrap_or_else(|| panic!("{heading}"));
    let rest = &html[from..];
    let row = rest
        .split("<tr id=\"h-")
        .skip(1)
        .find(|r| r.contains(&format!("<code>{target}</code>")))
        .unwrap_or_else(|| panic!("{target} under {heading}"));
    &row[..row.find("</tr>").unwrap()]
}

#[test]
fn history_puts_instructions_and_time_side_by_side_per_target() {
    let runs = nightly(20);
    let html = render_html_history(&runs);
    let names = well_formed(&html);
    // Benchmarks before startups; a row per target.
    let bench = html.find("<h3>BenchmarkParse/small-8 ").unwrap();
    let startup = html
        .find("<h3>startup <span class=\"dim\">toolchain=go1.24 mode=cgo0 rootfs=scratch program=probe</span></h3>")
        .unwrap();
    assert!(bench < startup);
    for (heading, target, instructions, time) in [
        ("<h3>startup ", "linux-arm64", "1.20M", "10.1 ms"),
        ("<h3>startup ", "linux-riscv64", "2.00M", "40.1 ms"),
        ("<h3>BenchmarkParse", "linux-arm64", "5.00k", "2.00 µs"),
    ] {
        let row = chart_row(&html, heading, target);
        // Two charts: instructions (left), then time, each one line over the 20 nights.
        let charts: Vec<&str> = row.split("<svg").skip(1).collect();
        assert_eq!(charts.len(), 2, "{row}");
        assert!(charts[0].contains(INSTRUCTIONS_COLOR), "{row}");
        assert!(charts[0].contains(&format!(">{instructions}<")), "{row}");
        assert!(charts[1].contains(TIME_COLOR), "{row}");
        assert!(charts[1].contains(&format!(">{time}<")), "{row}");
        for chart in charts {
            let points = chart
                .split("points=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            assert_eq!(points.split(' ').count(), 20, "{points}");
        }
        assert!(
            row.contains("qemu-10.0.13"),
            "the counter beside the target: {row}"
        );
    }
    // The detector finds the arm64 count's step (an exact series: any step is a change) and
    // nothing in the noise; it is marked in that chart and listed.
    assert_eq!(html.matches("<g class=\"cp\">").count(), 1, "{html}");
    let arm = chart_row(&html, "<h3>startup ", "linux-arm64");
    let marked = arm.split("<svg").nth(1).unwrap();
    assert!(marked.contains("<g class=\"cp\"><title>startup linux-arm64 go1.24: 1.00M instructions → 1.20M instructions (+20.0%)"), "{marked}");
    let list =
        &html[html.find("<h2 id=\"changes\">").unwrap()..html.find("<h2 id=\"series\">").unwrap()];
    assert_eq!(
        list.matches("<tr class=\"regression\"").count(),
        1,
        "{list}"
    );
    assert!(list.contains("<td>2025-01-15T03:00:00Z</td>"), "{list}");
    // The per-cell strips are still there, after the series.
    assert!(html.find("<h2 id=\"cells\">").unwrap() > startup);
    assert!(names.iter().filter(|n| *n == "svg").count() >= 3 * 2 + 2 * 3);
}

/// A change point as the change-point module reports one.
fn change(
    night: usize,
    before: f64,
    after: f64,
    change_pct: f64,
    confidence: f64,
    new: bool,
    regression: bool,
) -> crate::history::ChangePoint {
    crate::history::ChangePoint {
        night,
        before,
        after,
        change_pct,
        confidence,
        new,
        regression,
        change: after - before,
        median_before: before,
        median_after: after,
        nights_after: 20 - night,
        method: crate::history::Method::EDivisive,
    }
}

/// The history of `runs` ([`nightly`]) with three change points set by hand (whatever the
/// detector finds is dropped): the arm64 startup's count at night 14 (a regression), the
/// benchmark's ns/op on the newest night (new), and an older improvement of a size (listed,
/// not drawn).
fn with_changes(runs: &[(RunMeta, Vec<CellRecord>)]) -> crate::history::History {
    let mut history = crate::history::analyze(runs, &crate::history::DetectOptions::default());
    for s in &mut history.series {
        s.changes.clear();
    }
    for (i, night) in history.nights.iter_mut().enumerate() {
        night.commit = Some(format!("{i:02}{}", "abcdef0123456789".repeat(2)));
    }
    let find = |h: &crate::history::History, subject: &str, unit: &str, target: &str| {
        h.series
            .iter()
            .position(|s| s.subject == subject && s.unit == unit && s.target == target)
            .unwrap()
    };
    let step = find(&history, "startup", "instructions", "linux-arm64");
    history.series[step].changes.push(change(
        14,
        1_000_000.0,
        1_200_000.0,
        20.0,
        0.999,
        false,
        true,
    ));
    let slower = find(&history, "BenchmarkParse/small-8", "ns/op", "linux-arm64");
    history.series[slower]
        .changes
        .push(change(19, 1000.0, 2000.0, 100.0, 0.95, true, true));
    // An older improvement of a series without a chart (size) is listed, not drawn.
    let size = find(&history, "size", "bytes", "linux-riscv64");
    history.series[size].changes.push(change(
        3,
        1_700_000.0,
        1_600_000.0,
        -5.9,
        0.99,
        false,
        false,
    ));
    history
}

#[test]
fn change_points_are_marked_and_the_newest_nights_listed_first() {
    let runs = nightly(20);
    let history = with_changes(&runs);
    let html = history::history_page(&runs, &history);
    well_formed(&html);
    // The list: the newest night's change first, then the older ones, newest first.
    let list =
        &html[html.find("<h2 id=\"changes\">").unwrap()..html.find("<h2 id=\"series\">").unwrap()];
    let rows: Vec<&str> = list.split("<tr class=\"").skip(1).collect();
    assert_eq!(rows.len(), 3, "{list}");
    assert!(
        list.find("Starting on the newest night (2025-01-20T03:00:00Z)")
            .unwrap()
            < list.find("Earlier").unwrap()
    );
    assert!(
        rows[0].starts_with("regression") && rows[0].contains("BenchmarkParse/small-8</a>"),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains("<td>1.00 µs/op → 2.00 µs/op</td><td class=\"worse\">+100.0%</td><td>95.0%</td><td><code>19abcdef0123</code></td>"), "{}", rows[0]);
    assert!(rows[1].contains("<td>1.00M instructions → 1.20M instructions</td><td class=\"worse\">+20.0%</td><td>99.9%</td><td><code>14abcdef0123</code></td>"), "{}", rows[1]);
    assert!(
        rows[2].starts_with("improvement")
            && rows[2].contains("<b>size</b>")
            && rows[2].contains("\u{2212}5.9%"),
        "{}",
        rows[2]
    );
    // Each drawn change is marked in its chart, at the night it starts, with what changed.
    assert_eq!(html.matches("<g class=\"cp\">").count(), 2);
    let href = rows[1]
        .split("href=\"#")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let row = &html[html.find(&format!("<tr id=\"{href}\">")).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<code>linux-arm64</code>"), "{row}");
    let instructions = row.split("<svg").nth(1).unwrap();
    let marker = instructions
        .split("<g class=\"cp\">")
        .nth(1)
        .expect("a marker in the instructions chart");
    assert!(marker.starts_with(
        "<title>startup linux-arm64 go1.24: 1.00M instructions → 1.20M instructions (+20.0%), confidence 99.9%\nfrom the night of 2025-01-15T03:00:00Z, commit 14abcdef0123456789abcdef0123456789\nregression</title>"
    ), "{marker}");
    assert!(marker.contains(&format!("stroke=\"{REGRESSION_COLOR}\"")));
    // Night 14 of 0..=19 on a 260-wide plot from x=64.
    let x = 64.0 + 14.0 * 260.0 / 19.0;
    assert!(
        marker.contains(&format!("x1=\"{}\"", f64::round(x))),
        "{marker}"
    );
    assert!(
        !row.split("<svg").nth(2).unwrap().contains("class=\"cp\""),
        "no marker on the time chart"
    );
}

#[test]
fn values_read_in_their_units() {
    use history::format_value;
    assert_eq!(
        format_value(1_234_567.0, "instructions"),
        "1.23M instructions"
    );
    assert_eq!(
        format_value(987.0, "instructions/op"),
        "987 instructions/op"
    );
    assert_eq!(
        format_value(12_345.0, "instructions/op"),
        "12.3k instructions/op"
    );
    assert_eq!(format_value(0.5, "ns/op"), "0.500 ns/op");
    assert_eq!(format_value(1500.0, "ns/op"), "1.50 µs/op");
    assert_eq!(format_value(2.5e9, "ns/op"), "2.50 s/op");
    assert_eq!(format_value(12.34, "ms"), "12.3 ms");
    assert_eq!(format_value(1_572_864.0, "bytes"), "1.5 MiB");
    assert_eq!(format_value(3.5, "MB/s"), "3.50 MB/s");
}

#[test]
fn text_is_escaped() {
    let mut r = cell(
        "go1.24/linux-arm64/cgo0/rootfs-scratch/probe",
        CellStatus::Fail,
    )
    .cause(crate::Cause::WrongOutput);
    r.hint = Some("expected <ok> & got \"</svg>\" \u{1b}[0m".into());
    let html = crate::render(
        crate::ReportFormat::Html,
        &[r],
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    well_formed(&html);
    assert!(html.contains("expected &lt;ok&gt; &amp; got &quot;&lt;/svg&gt;&quot;"));
}

/// Renders the dashboard in headless chromium and checks the screenshot is not blank.
#[test]
fn chromium_renders_something() {
    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|p| p.exists())
    else {
        println!("SKIPPED: chromium is not installed (/usr/bin/chromium); ci/setup installs it");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let png_path = dir.path().join("shot.png");
    std::fs::write(&page, dashboard()).unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg("--window-size=1200,900")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        png_path.exists(),
        "chromium wrote no screenshot: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let channels = info.color_type.samples();
    // Luma of each pixel; a blank page has (almost) no variance.
    let luma: Vec<f64> = bytes
        .chunks(channels)
        .map(|p| p.iter().take(3).map(|v| f64::from(*v)).sum::<f64>() / p.len().min(3) as f64)
        .collect();
    let mean = luma.iter().sum::<f64>() / luma.len() as f64;
    let var = luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / luma.len() as f64;
    assert!(
        var > 50.0,
        "the screenshot looks blank (luma variance {var:.1})"
    );
    // Status colours made it to the screen: some strongly green pixel (pass).
    let green = bytes
        .chunks(channels)
        .any(|p| p.len() >= 3 && p[1] > 140 && p[0] < 80 && p[2] < 110);
    assert!(green, "no pass-green pixel in the screenshot");
}

/// Writes the dashboards and a history page to `$CROSSMATRIX_HTML_PREVIEW` for a look.
#[test]
fn preview_when_asked() {
    let Some(dir) = std::env::var_os("CROSSMATRIX_HTML_PREVIEW") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report.html"), dashboard()).unwrap();
    let three = crate::render(
        crate::ReportFormat::Html,
        &three_toolchains(),
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    std::fs::write(dir.join("three-toolchains.html"), three).unwrap();
    let runs = nightly(20);
    std::fs::write(
        dir.join("history.html"),
        history::history_page(&runs, &with_changes(&runs)),
    )
    .unwrap();
}

#[test]
fn counted_instructions_are_a_side_by_side_table_only_when_counted() {
    use crate::schema::{CounterInfo, InstructionsRecord};
    assert!(!dashboard().contains("Instructions of one run"));
    let mut recs = Vec::new();
    for (tc, count) in [("go1.26", 256_000u64), ("go1.27", 256_507)] {
        let mut r = cell(
            &format!("{tc}/linux-arm64/cgo0/rootfs-scratch/probe"),
            CellStatus::Pass,
        );
        r.instructions = Some(InstructionsRecord {
            count,
            samples: vec![count; 3],
            excluded: vec![],
            counter: CounterInfo {
                qemu_version: "10.0.13".into(),
                cpu: Some("cortex-a57".into()),
                arch: "aarch64".into(),
            },
        });
        recs.push(r);
    }
    let html = crate::render(
        crate::ReportFormat::Html,
        &recs,
        None,
        &RenderOptions::default(),
    )
    .unwrap();
    well_formed(&html);
    assert!(
        html.contains("Instructions of one run (counted, exact)"),
        "{html}"
    );
    assert!(
        html.contains("256507 (qemu-10.0.13 cpu=cortex-a57)"),
        "{html}"
    );
    assert!(
        html.contains("+0.2%"),
        "the change from the oldest toolchain: {html}"
    );
}
