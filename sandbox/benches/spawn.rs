//! What one sandboxed exec costs: `/bin/true` spawned bare, in crossmatrix's bubblewrap
//! sandbox (every namespace, tmpfs root, host /usr bound), and the run-step capture path.

use criterion::{Criterion, criterion_group, criterion_main};
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::bwrap::Sandbox;
use crossmatrix_sandbox::process::run_captured;
use std::process::Command;
use std::time::Duration;

fn bench(c: &mut Criterion) {
    let Ok(bwrap) = which_bwrap() else {
        eprintln!("SKIPPED: bwrap is not installed (apt-get install bubblewrap)");
        return;
    };
    let t = Duration::from_secs(10);
    let abort = Abort::default();
    c.bench_function("spawn /bin/true bare", |b| {
        b.iter(|| run_captured(Command::new("/bin/true"), t, &abort).expect("spawn"))
    });
    let sb = Sandbox::new(&bwrap).host_system();
    c.bench_function("spawn /bin/true in the sandbox", |b| {
        b.iter(|| run_captured(sb.command(&["/bin/true".into()]), t, &abort).expect("spawn"))
    });
}

fn which_bwrap() -> Result<std::path::PathBuf, ()> {
    ["/usr/bin/bwrap", "/usr/local/bin/bwrap"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .ok_or(())
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = bench
}
criterion_main!(benches);
