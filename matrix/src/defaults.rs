//! The default matrix crossmatrix runs when no config says otherwise.

use crate::{Axes, CgoMode, Libc, Program, Target, Toolchain};
use std::sync::Arc;

/// The GOARCHes that get cgo=1 cells (gnu and musl) in the default matrix.
pub const DEFAULT_CGO_ARCHES: &[&str] = &["amd64", "arm64", "riscv64"];

/// Every toolchain × every runnable linux arch (+ wasip1/wasm) with cgo=0, plus cgo=1 cells
/// with gnu and musl for the arches in [`DEFAULT_CGO_ARCHES`] that are runnable.
pub fn default_matrix(
    toolchains: &[Arc<Toolchain>],
    runnable_arches: &[String],
    programs: &[Arc<Program>],
) -> Vec<Axes> {
    let mut targets: Vec<Target> = runnable_arches.iter().map(|a| Target::linux(a)).collect();
    targets.push(Target::new("wasip1", "wasm"));
    let cgo_targets: Vec<Target> = DEFAULT_CGO_ARCHES
        .iter()
        .filter(|a| runnable_arches.iter().any(|r| r == *a))
        .map(|a| Target::linux(a))
        .collect();
    vec![
        Axes {
            toolchains: toolchains.to_vec(),
            targets,
            modes: vec![CgoMode::Off],
            rootfs: None,
            programs: programs.to_vec(),
        },
        Axes {
            toolchains: toolchains.to_vec(),
            targets: cgo_targets,
            modes: vec![CgoMode::On(Libc::Gnu), CgoMode::On(Libc::Musl)],
            rootfs: None,
            programs: programs.to_vec(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LINUX_ARCHES, Plan};

    #[test]
    fn default_matrix_shape() {
        let tcs: Vec<_> = ["go1.22.12", "go1.24.4"]
            .iter()
            .map(|v| {
                Arc::new(Toolchain {
                    name: v[..6].into(),
                    version: (*v).into(),
                    goroot: "/x".into(),
                    ports: vec![],
                })
            })
            .collect();
        let arches: Vec<String> = LINUX_ARCHES.iter().map(|s| s.to_string()).collect();
        let plan = Plan::expand(&default_matrix(
            &tcs,
            &arches,
            &[Arc::new(Program::probe())],
        ));
        // (13 linux + wasip1) × 2 toolchains + 3 arches × 2 libcs × 2 toolchains.
        assert_eq!(plan.len(), 14 * 2 + 3 * 2 * 2);
        assert!(
            plan.cells
                .iter()
                .any(|c| c.id.as_str() == "go1.24/linux-riscv64/cgo1-gnu/rootfs-glibc/probe")
        );
        // Without qemu only the native arch (and wasm) remain.
        let plan = Plan::expand(&default_matrix(
            &tcs,
            &["amd64".to_string()],
            &[Arc::new(Program::probe())],
        ));
        assert_eq!(plan.len(), 2 * 2 + 2 * 2);
    }
}
