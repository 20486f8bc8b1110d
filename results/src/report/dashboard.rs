//! What the dashboard formats (`bmf`, `github-action-benchmark`, `openmetrics`) export: one
//! series per cell axes × subject × quantity, built once here so the three formats name the
//! same things the same way.
//!
//! A series' identity is only what stays put from one night to the next on the same matrix:
//! the cell's axes (toolchain *name* `go1.24`, not its patch version; target with its variant;
//! mode; rootfs; the emulator's name when the matrix has that axis; program), and for a Go
//! benchmark its package, its name and its GOMAXPROCS (as `go test` prints it,
//! `BenchmarkParse/small-8`: a different GOMAXPROCS is a different measurement). What changes
//! without making the figures incomparable (Go's patch version, the executor and its version,
//! the number of samples) is a note beside the value, never part of the name.

use crate::schema::{CellRecord, CellStatus};

/// The axes of a cell, in the order every format writes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Axes {
    pub toolchain: String,
    /// `linux-arm64`, `linux-arm-GOARM7`.
    pub target: String,
    /// `cgo0`, `cgo1-gnu`, `cgo1-musl`.
    pub mode: String,
    pub rootfs: String,
    /// Only when the cell records one (a matrix with an emulator axis).
    pub emulator: Option<String>,
    pub program: String,
}

impl Axes {
    fn of(r: &CellRecord) -> Axes {
        Axes {
            toolchain: r.toolchain.name.clone(),
            target: r.target_label().replace('/', "-"),
            mode: r.mode(),
            rootfs: r.rootfs.clone(),
            emulator: r.emulator.as_ref().map(|e| e.name.clone()),
            program: r.program.clone(),
        }
    }

    /// `(label, value)` pairs, in the fixed order: toolchain, target, mode, rootfs, emulator
    /// (when recorded), program.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut v = vec![
            ("toolchain", self.toolchain.as_str()),
            ("target", self.target.as_str()),
            ("mode", self.mode.as_str()),
            ("rootfs", self.rootfs.as_str()),
        ];
        if let Some(e) = &self.emulator {
            v.push(("emulator", e.as_str()));
        }
        v.push(("program", self.program.as_str()));
        v
    }
}

/// What a series measures the quantity of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Subject {
    /// The cell's program started and ran to its end (the timed runs).
    Startup,
    /// The cell's binary.
    Size,
    /// A Go benchmark of a test cell.
    Bench {
        package: String,
        /// Without the `-GOMAXPROCS` suffix.
        name: String,
        procs: u32,
    },
}

impl Subject {
    /// `startup`, `size`, or the benchmark as `go test` prints it (`BenchmarkParse/small-8`;
    /// no suffix for GOMAXPROCS 1).
    pub fn label(&self) -> String {
        match self {
            Subject::Startup => "startup".into(),
            Subject::Size => "size".into(),
            Subject::Bench { name, procs, .. } if *procs > 1 => format!("{name}-{procs}"),
            Subject::Bench { name, .. } => name.clone(),
        }
    }
}

/// The quantity, in the unit crossmatrix recorded it in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Quantity {
    /// Startup median, milliseconds.
    StartupMs,
    /// Binary size, bytes.
    SizeBytes,
    /// Go's `ns/op`.
    NsPerOp,
    /// Go's `B/op` (`-benchmem`).
    BytesPerOp,
    /// Go's `allocs/op` (`-benchmem`).
    AllocsPerOp,
    /// Any other unit a benchmark reported, as Go printed it: `MB/s` (`b.SetBytes`) or a
    /// `b.ReportMetric` unit.
    Other(String),
    /// Guest instructions of one run of the program, counted (`--metric instructions|both`).
    Instructions,
    /// A Go benchmark's guest instructions per op, counted.
    InstructionsPerOp,
}

impl Quantity {
    /// The unit as Go or crossmatrix writes it: `ms`, `bytes`, `ns/op`, `B/op`, `allocs/op`,
    /// `MB/s`, ….
    pub fn unit(&self) -> &str {
        match self {
            Quantity::StartupMs => "ms",
            Quantity::SizeBytes => "bytes",
            Quantity::NsPerOp => "ns/op",
            Quantity::BytesPerOp => "B/op",
            Quantity::AllocsPerOp => "allocs/op",
            Quantity::Other(u) => u,
            Quantity::Instructions => "instructions",
            Quantity::InstructionsPerOp => "instructions/op",
        }
    }

    /// A count, exact to a few instructions from run to run (a change of one per op is real),
    /// rather than a time or a size a noisy machine moves.
    pub fn is_exact(&self) -> bool {
        matches!(self, Quantity::Instructions | Quantity::InstructionsPerOp)
    }

    /// A rate (`MB/s`, any unit ending in `/s`): bigger is better. Every other quantity is
    /// smaller-is-better.
    pub fn bigger_is_better(&self) -> bool {
        self.unit().ends_with("/s")
    }
}

/// One value of one series: the median of its samples, with their range.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub axes: Axes,
    pub subject: Subject,
    pub quantity: Quantity,
    /// The median of the samples (for startup, the recorded median).
    pub value: f64,
    pub min: f64,
    pub max: f64,
    /// Median absolute deviation of the samples (0 for one sample).
    pub mad: f64,
    pub samples: usize,
    /// What the value came from but does not identify it: `go1.24.4`, `qemu-binfmt 7.2.22`.
    pub notes: Vec<String>,
    /// For a count: what counted it, `qemu-10.0.13 cpu=cortex-a57` — part of the series'
    /// identity (counts by another qemu or CPU model are another series), written as a note
    /// or a label by the formats, never in the name.
    pub counter: Option<String>,
}

impl Series {
    /// The name `bmf` and `github-action-benchmark` key a series by: the subject, then
    /// `key=value` for every axis in the fixed order, separated by single spaces (no value
    /// holds white space: it becomes `_`), then `pkg=` for a Go benchmark:
    /// `BenchmarkParse/small-8 toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch
    /// program=parse pkg=example.com/m/parse`.
    pub fn name(&self) -> String {
        let mut s = clean(&self.subject.label());
        for (k, v) in self.axes.pairs() {
            s.push_str(&format!(" {k}={}", clean(v)));
        }
        if let Subject::Bench { package, .. } = &self.subject {
            s.push_str(&format!(" pkg={}", clean(package)));
        }
        s
    }
}

/// White space becomes `_`, so a name splits back into its parts at spaces.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect()
}

/// Every series of `records`, in record order: each passing cell's startup median, each
/// passing or built cell's binary size, each Go benchmark's quantities. Samples of one series
/// seen more than once (a benchmark run with `-count N`) are pooled; a cell recorded twice
/// keeps its last startup and size. Non-finite values are left out.
pub(crate) fn series(records: &[CellRecord]) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    // Index of each key in `out`, and the raw samples of each.
    let mut index: std::collections::HashMap<(Axes, Subject, Quantity, Option<String>), usize> =
        std::collections::HashMap::new();
    let mut raw: Vec<Vec<f64>> = Vec::new();
    let mut put = |out: &mut Vec<Series>,
                   axes: &Axes,
                   subject: Subject,
                   quantity: Quantity,
                   samples: &[f64],
                   value: Option<f64>,
                   notes: &[String],
                   counter: Option<String>,
                   pool: bool| {
        let samples: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        if samples.is_empty() || value.is_some_and(|v| !v.is_finite()) {
            return;
        }
        let key = (
            axes.clone(),
            subject.clone(),
            quantity.clone(),
            counter.clone(),
        );
        let i = *index.entry(key).or_insert_with(|| {
            raw.push(Vec::new());
            out.push(Series {
                axes: axes.clone(),
                subject,
                quantity,
                value: 0.0,
                min: 0.0,
                max: 0.0,
                mad: 0.0,
                samples: 0,
                notes: Vec::new(),
                counter,
            });
            out.len() - 1
        });
        if !pool {
            raw[i].clear();
        }
        raw[i].extend(samples);
        let spread = crate::stats::spread(&raw[i]).expect("not empty");
        let s = &mut out[i];
        s.value = value.unwrap_or(spread.median);
        s.min = spread.min;
        s.max = raw[i].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        s.mad = spread.mad;
        s.samples = raw[i].len();
        s.notes = notes.to_vec();
    };
    for r in records {
        let axes = Axes::of(r);
        let mut notes = vec![r.toolchain.version.clone()];
        notes.extend(r.executor_label());
        if let Some(cpu) = r.run.as_ref().and_then(|run| run.cpu.as_ref()) {
            notes.push(format!("cpu {cpu}"));
        }
        if let Some(st) = r.startup.as_ref().filter(|_| r.status == CellStatus::Pass) {
            let samples: &[f64] = if st.samples_ms.is_empty() {
                std::slice::from_ref(&st.median_ms)
            } else {
                &st.samples_ms
            };
            put(
                &mut out,
                &axes,
                Subject::Startup,
                Quantity::StartupMs,
                samples,
                Some(st.median_ms),
                &notes,
                None,
                false,
            );
        }
        if let Some(ins) = r
            .instructions
            .as_ref()
            .filter(|_| r.status == CellStatus::Pass)
        {
            let samples: Vec<f64> = ins.samples.iter().map(|&v| v as f64).collect();
            put(
                &mut out,
                &axes,
                Subject::Startup,
                Quantity::Instructions,
                &samples,
                Some(ins.count as f64),
                &notes[..1],
                Some(counter_label(&ins.counter)),
                false,
            );
        }
        if let Some(bin) = r.binary.as_ref() {
            if matches!(r.status, CellStatus::Pass | CellStatus::Built) {
                put(
                    &mut out,
                    &axes,
                    Subject::Size,
                    Quantity::SizeBytes,
                    &[bin.size_bytes as f64],
                    None,
                    &notes[..1],
                    None,
                    false,
                );
            }
        }
        let Some(t) = r.tests.as_ref() else { continue };
        for b in &t.benchmarks {
            let subject = Subject::Bench {
                package: t.package.clone(),
                name: b.name.clone(),
                procs: b.procs.max(1),
            };
            let mut quantities = vec![(Quantity::NsPerOp, b.ns_per_op)];
            quantities.extend(b.bytes_per_op.map(|v| (Quantity::BytesPerOp, v)));
            quantities.extend(b.allocs_per_op.map(|v| (Quantity::AllocsPerOp, v)));
            quantities.extend(
                b.metrics
                    .iter()
                    .map(|(unit, v)| (Quantity::Other(unit.clone()), *v)),
            );
            for (q, v) in quantities {
                put(
                    &mut out,
                    &axes,
                    subject.clone(),
                    q,
                    &[v],
                    None,
                    &notes,
                    None,
                    true,
                );
            }
            if let Some(ins) = &b.instructions {
                put(
                    &mut out,
                    &axes,
                    subject.clone(),
                    Quantity::InstructionsPerOp,
                    &ins.samples_per_op,
                    Some(ins.per_op),
                    &notes[..1],
                    Some(counter_label(&ins.counter)),
                    true,
                );
            }
        }
    }
    out
}

/// `qemu-10.0.13 cpu=cortex-a57`: what counted a count, as series carry it.
pub(crate) fn counter_label(c: &crate::schema::CounterInfo) -> String {
    match &c.cpu {
        Some(cpu) => format!("qemu-{} cpu={cpu}", c.qemu_version),
        None => format!("qemu-{}", c.qemu_version),
    }
}

/// `1.25`, `1572864`, `0.000000987`: the shortest decimal that reads back as the same f64
/// (Rust's `Display`), never an exponent, so every consumer's number parser takes it.
pub(super) fn number(v: f64) -> String {
    format!("{v}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fixtures::{RecordExt, cell, test_cell};
    use crate::schema::{BenchmarkResult, EmulatorInfo};

    pub(crate) fn bench(name: &str, procs: u32, ns: f64) -> BenchmarkResult {
        BenchmarkResult {
            name: name.into(),
            procs,
            iterations: 1000,
            ns_per_op: ns,
            instructions: None,
            bytes_per_op: Some(64.0),
            allocs_per_op: Some(2.0),
            metrics: [("MB/s".to_string(), 3.5)].into_iter().collect(),
        }
    }

    #[test]
    fn one_series_per_axes_subject_and_quantity() {
        let mut t = test_cell(
            "go1.24/linux-arm64/cgo0/rootfs-scratch/parse",
            &[("TestParse", crate::TestStatus::Pass, "")],
        );
        // -count 3: three results of one benchmark pool into one series.
        t.tests.as_mut().unwrap().benchmarks = vec![
            bench("BenchmarkParse/small", 8, 990.0),
            bench("BenchmarkParse/small", 8, 1000.0),
            bench("BenchmarkParse/small", 8, 1100.0),
            bench("BenchmarkWalk", 1, 5.0),
        ];
        let mut emu = cell(
            "go1.24/linux-riscv64/cgo0/rootfs-scratch/probe",
            CellStatus::Pass,
        )
        .size(1_600_000)
        .startup(&[40.0, 42.0, 41.0]);
        emu.emulator = Some(EmulatorInfo {
            name: "qemu-10.0.2".into(),
            dir: None,
            version: Some("10.0.2".into()),
        });
        let s = series(&[t, emu]);
        let names: Vec<(String, &str)> = s.iter().map(|s| (s.name(), s.quantity.unit())).collect();
        assert_eq!(
            names,
            vec![
                ("BenchmarkParse/small-8 toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse".to_string(), "ns/op"),
                ("BenchmarkParse/small-8 toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse".to_string(), "B/op"),
                ("BenchmarkParse/small-8 toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse".to_string(), "allocs/op"),
                ("BenchmarkParse/small-8 toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse".to_string(), "MB/s"),
                ("BenchmarkWalk toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse".to_string(), "ns/op"),
                ("BenchmarkWalk toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse".to_string(), "B/op"),
                ("BenchmarkWalk toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse".to_string(), "allocs/op"),
                ("BenchmarkWalk toolchain=go1.24 target=linux-arm64 mode=cgo0 rootfs=scratch program=parse pkg=example.com/m/parse".to_string(), "MB/s"),
                ("startup toolchain=go1.24 target=linux-riscv64 mode=cgo0 rootfs=scratch emulator=qemu-10.0.2 program=probe".to_string(), "ms"),
                ("size toolchain=go1.24 target=linux-riscv64 mode=cgo0 rootfs=scratch emulator=qemu-10.0.2 program=probe".to_string(), "bytes"),
            ]
        );
        let parse = &s[0];
        assert_eq!(
            (parse.value, parse.min, parse.max, parse.samples),
            (1000.0, 990.0, 1100.0, 3)
        );
        assert_eq!(s[8].value, 41.0);
        assert_eq!(s[8].notes, vec!["go1.24.4".to_string()]);
    }

    #[test]
    fn the_identity_ignores_what_changes_between_nights() {
        let night = |version: &str, executor: &str, samples: &[f64]| {
            let mut r = cell(
                "go1.24/linux-arm64/cgo1-musl/rootfs-musl/probe",
                CellStatus::Pass,
            )
            .size(1_000)
            .startup(samples);
            r.toolchain.version = version.into();
            let mut run = crate::RunRecord::started(executor.into(), Some("7.2.22".into()));
            run.status = crate::StepStatus::Ok;
            r.run = Some(run);
            series(&[r])
        };
        let a = night("go1.24.4", "qemu-binfmt", &[1.0, 2.0, 3.0]);
        let b = night("go1.24.5", "qemu-direct", &[4.0, 5.0]);
        let names = |s: &[Series]| s.iter().map(Series::name).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        assert_ne!(a[0].notes, b[0].notes);
    }

    #[test]
    fn failed_cells_give_no_startup_and_non_finite_values_are_dropped() {
        let failed = cell(
            "go1.24/linux-mips/cgo0/rootfs-scratch/probe",
            CellStatus::Fail,
        )
        .size(10)
        .startup(&[9.0]);
        let built = cell(
            "go1.24/linux-s390x/cgo0/rootfs-scratch/probe",
            CellStatus::Built,
        )
        .size(20);
        let mut nan = test_cell("go1.24/linux-amd64/cgo0/rootfs-host/m", &[]);
        nan.tests.as_mut().unwrap().benchmarks = vec![bench("BenchmarkNaN", 1, f64::NAN)];
        let s = series(&[failed, built, nan]);
        let got: Vec<_> = s
            .iter()
            .map(|s| (s.axes.target.as_str(), s.quantity.unit()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("linux-s390x", "bytes"),
                ("linux-amd64", "B/op"),
                ("linux-amd64", "allocs/op"),
                ("linux-amd64", "MB/s"),
            ]
        );
    }
}
