//! Planning cost: expanding a large config into cells and sharding it.
//! 5 toolchains × 20 targets × 2 cgo × 2 libc × 3 rootfs × 100 programs = 120 000 cells
//! (cgo=0 cells have no libc, so the product is 5 × 20 × 3 modes × 3 rootfs × 100 = 90 000).

use criterion::{Criterion, criterion_group, criterion_main};
use crossmatrix_matrix::{Plan, Shard, Toolchain, github_matrix, parse_config};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

const TARGETS: &[&str] = &[
    "linux/386",
    "linux/amd64",
    "linux/arm",
    "linux/arm64",
    "linux/loong64",
    "linux/mips",
    "linux/mipsle",
    "linux/mips64",
    "linux/mips64le",
    "linux/ppc64",
    "linux/ppc64le",
    "linux/riscv64",
    "linux/s390x",
    "wasip1/wasm",
    "darwin/amd64",
    "darwin/arm64",
    "windows/amd64",
    "windows/arm64",
    "freebsd/amd64",
    "openbsd/amd64",
];

fn config_text(programs: usize, exclude: bool) -> String {
    let targets: Vec<String> = TARGETS.iter().map(|t| format!("\"{t}\"")).collect();
    let mut s = format!(
        "targets = [{}]\ncgo = [0, 1]\nlibc = [\"gnu\", \"musl\"]\nrootfs = [\"scratch\", \"glibc\", \"musl\"]\n\
         {}\
         include = [{{ target = \"linux/arm64\", libc = \"musl\", build = {{ ldflags = \"-s -w\" }} }}]\n\
         [build]\ntrimpath = true\n",
        targets.join(", "),
        if exclude {
            "exclude = [{ target = \"linux/mips\", cgo = 1 }]\n"
        } else {
            ""
        }
    );
    let dir = std::env::temp_dir().join("crossmatrix-bench-programs");
    std::fs::create_dir_all(&dir).expect("temp dir");
    for i in 0..programs {
        let f = dir.join(format!("p{i:03}.go"));
        if !f.exists() {
            std::fs::write(&f, "package main\nfunc main() {}\n").expect("write program");
        }
        s.push_str(&format!("[[programs]]\npath = \"{}\"\n", f.display()));
    }
    s
}

fn toolchains() -> Vec<Arc<Toolchain>> {
    [
        "go1.20.14",
        "go1.21.13",
        "go1.22.12",
        "go1.23.8",
        "go1.24.4",
    ]
    .iter()
    .map(|v| {
        Arc::new(Toolchain {
            name: v[..6].into(),
            version: (*v).into(),
            goroot: format!("/usr/lib/{v}").into(),
            ports: vec![],
        })
    })
    .collect()
}

fn bench(c: &mut Criterion) {
    let text = config_text(100, true);
    let tcs = toolchains();
    let cfg = parse_config(&text, Path::new("/tmp/crossmatrix.toml")).expect("valid config");
    let plan = cfg.to_plan(&tcs, &[]).expect("plan");
    eprintln!("plan: {} cells", plan.len());

    let mut g = c.benchmark_group("plan");
    g.sample_size(10);
    g.bench_function("parse config (100 programs)", |b| {
        b.iter(|| {
            parse_config(black_box(&text), Path::new("/tmp/crossmatrix.toml")).expect("valid")
        })
    });
    g.bench_function(format!("expand {} cells", plan.len()), |b| {
        b.iter(|| cfg.to_plan(black_box(&tcs), &[]).expect("plan"))
    });
    g.bench_function(format!("shard 3/8 of {} cells", plan.len()), |b| {
        b.iter_batched(
            || plan.clone(),
            |p: Plan| p.shard(Shard { index: 3, count: 8 }),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function(
        format!("github matrix, 16 shards of {} cells", plan.len()),
        |b| b.iter(|| github_matrix(black_box(&plan), 16)),
    );
    g.bench_function(format!("expand + shard {} cells", plan.len()), |b| {
        b.iter(|| {
            cfg.to_plan(&tcs, &[])
                .expect("plan")
                .shard(Shard { index: 1, count: 4 })
        })
    });
    // 5 × 20 × (cgo0 + cgo1-gnu + cgo1-musl) × 3 rootfs × 134 programs = 120 600 cells.
    let big = parse_config(&config_text(134, false), Path::new("/tmp/crossmatrix.toml"))
        .expect("valid config");
    let n = big.to_plan(&tcs, &[]).expect("plan").len();
    g.bench_function(format!("expand + shard {n} cells"), |b| {
        b.iter(|| {
            big.to_plan(&tcs, &[])
                .expect("plan")
                .shard(Shard { index: 2, count: 8 })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
