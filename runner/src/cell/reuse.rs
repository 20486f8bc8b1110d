//! A passing result reused: when every input of a cell's run is unchanged since an earlier run
//! that passed (the binary, executor, sandbox, root, settings, crossmatrix, this machine in
//! this boot), its record stands in for running again ([`crate::cache::result`]).

use crate::cache::file_stamp;
use crate::cell::prepare::Prepared;
use crate::cell::run_record::describe_choice;
use crate::cell::shared::Shared;
use crate::inspect::BinaryInfo;
use crossmatrix_matrix::{Cell, ProgramSource};
use crossmatrix_results::CellRecord;
use crossmatrix_toolchains::executor::ExecutorChoice;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The key of everything a cell's run and timing depend on (see [`crate::cache::result`]):
/// the binary's content, the executor and its file, the sandbox and command line (the
/// binary's host path masked: it differs per OUT), the rootfs tree, the cell's settings,
/// the run's timeout, limits, reps, warm-ups and timing mode, crossmatrix itself and this
/// machine in this boot. `None` (never reused) when the binary or rootfs cannot be hashed.
pub(crate) fn result_key(
    sh: &Shared,
    cell: &Cell,
    binary: &Path,
    info: &BinaryInfo,
    choice: &ExecutorChoice,
    prepared: &Prepared,
) -> Option<String> {
    if info.sha256.is_empty() {
        return None;
    }
    let rootfs = match &prepared.root {
        Some(root) => sh.results.tree_stamp(root)?,
        None => String::new(),
    };
    let mut h = Sha256::new();
    let mut put = |b: &[u8]| {
        h.update(b);
        h.update([0]);
    };
    put(b"crossmatrix cell result v1");
    put(env!("CARGO_PKG_VERSION").as_bytes());
    put(file_stamp(&sh.cfg.self_exe).as_bytes());
    put(sh.machine.as_bytes());
    put(info.sha256.as_bytes());
    let (executor, version) = describe_choice(choice);
    put(format!("{executor} {version:?}").as_bytes());
    match choice {
        ExecutorChoice::QemuBinfmt { interpreter, .. } => put(file_stamp(interpreter).as_bytes()),
        ExecutorChoice::QemuDirect(q) => put(file_stamp(&q.path).as_bytes()),
        _ => {}
    }
    let bin = binary.as_os_str().as_encoded_bytes();
    for a in prepared.sandbox.args().iter().chain(&prepared.argv) {
        let a = a.as_encoded_bytes();
        put(if a == bin { b"<binary>" } else { a });
    }
    put(rootfs.as_bytes());
    // A test reads its package's directory (testdata/): any change there runs it again.
    if cell.program.is_test() {
        let dir = match &cell.program.source {
            ProgramSource::Package(gp) => gp.dir.clone(),
            ProgramSource::Std(import) => cell.toolchain.goroot.join("src").join(import),
            ProgramSource::Dir(d) => d.clone(),
            _ => PathBuf::new(),
        };
        put(sh
            .results
            .tree_stamp(&std::fs::canonicalize(&dir).unwrap_or(dir))?
            .as_bytes());
    }
    put(format!("{:?} {:?}", cell.program.expect, cell.settings).as_bytes());
    put(format!(
        "{:?} {:?} {} {} {:?} {}",
        sh.cfg.run_timeout,
        sh.run_limits(cell),
        sh.cfg.reps,
        sh.cfg.warmups,
        sh.cfg.timing,
        sh.cfg.recheck
    )
    .as_bytes());
    // What the counted runs depend on: the metric, the counter (its qemu), the repetitions.
    if sh.cfg.metric.counts() {
        let counter = match &sh.cfg.counter {
            Ok(c) => format!("{} {}", c.dir.display(), c.qemu_version),
            Err(e) => e.clone(),
        };
        put(format!("{} {counter} {}", sh.cfg.metric.as_str(), sh.cfg.count_reps).as_bytes());
    }
    Some(format!("{:x}", h.finalize()))
}

/// `rec` (built and inspected in this run) finished with the run and startup figures of `prev`,
/// an earlier run of the same binary with the same inputs, measured at `measured_at`.
pub(crate) fn reuse(mut rec: CellRecord, prev: CellRecord, measured_at: String) -> CellRecord {
    rec.run = prev.run;
    rec.startup = prev.startup;
    rec.instructions = prev.instructions;
    rec.uncounted = prev.uncounted;
    rec.status = prev.status;
    rec.cause = prev.cause;
    rec.hint = prev.hint;
    rec.tests = prev.tests;
    rec.reused_from = Some(measured_at);
    rec
}
