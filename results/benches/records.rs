//! Hot paths of the results crate: encoding a record as a `cells.jsonl` line, reading a run's
//! records back, and rendering every report format — for a 1,000-cell run.

use criterion::{Criterion, criterion_group, criterion_main};
use crossmatrix_results::{
    CellRecord, CellWriter, RenderOptions, ReportFormat, RunMeta, read_cells, render,
};
use std::hint::black_box;

/// 1,000 records: the golden fixture's six, repeated with distinct ids.
fn records() -> Vec<CellRecord> {
    let golden = include_str!("../tests/golden/cells.json");
    let base: Vec<CellRecord> = serde_json::from_str(golden).expect("golden cells.json");
    (0..1000)
        .map(|i| {
            let mut r = base[i % base.len()].clone();
            r.id = format!("{}/{i}", r.id);
            r
        })
        .collect()
}

fn meta() -> Option<RunMeta> {
    None
}

fn bench(c: &mut Criterion) {
    let recs = records();
    c.bench_function("encode 1000 records (jsonl lines)", |b| {
        b.iter(|| {
            let mut n = 0;
            for r in &recs {
                n += serde_json::to_string(black_box(r)).expect("encode").len();
            }
            n
        })
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = CellWriter::create(dir.path()).expect("writer");
    for r in &recs {
        w.append(r).expect("append");
    }
    drop(w);
    c.bench_function("read_cells 1000 records", |b| {
        b.iter(|| {
            read_cells(black_box(dir.path()))
                .expect("read")
                .records
                .len()
        })
    });
    let opts = RenderOptions { color: false };
    for format in [
        ReportFormat::Table,
        ReportFormat::Markdown,
        ReportFormat::Json,
        ReportFormat::Junit,
        ReportFormat::Benchstat,
        ReportFormat::Html,
    ] {
        c.bench_function(&format!("render {format:?} 1000 records"), |b| {
            b.iter(|| render(format, black_box(&recs), meta().as_ref(), &opts).expect("render"))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
