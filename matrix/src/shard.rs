//! Cost-balanced sharding (`--shard K/N`) and the GitHub Actions matrix (`plan --format github`).
//! Costs are estimated from the cell alone, never from the host, so every machine computes the
//! same shards for the same plan.

use crate::{Cell, Libc, Plan, Shard};
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// GitHub Actions refuses a matrix of more than 256 jobs.
pub const GITHUB_MAX_JOBS: usize = 256;

impl Cell {
    /// A rough, host-independent estimate of what the cell costs, in arbitrary units: a cgo
    /// musl build (zig compiles musl) ≫ a cgo glibc build > a pure-Go build; an emulated run
    /// costs more than a native (amd64/386) one; build-only targets do not run; skipped cells
    /// cost 1 so that they still spread over the shards.
    pub fn estimated_cost(&self) -> u32 {
        if self.skip.is_some() {
            return 1;
        }
        let build = match (self.cgo, self.libc) {
            (false, _) => 10,
            (true, Some(Libc::Musl)) => 50,
            (true, _) => 25,
        };
        let run = if self.target.is_build_only() {
            0
        } else if self.target.is_wasip1() {
            6
        } else if matches!(self.target.goarch.as_str(), "amd64" | "386") {
            2
        } else {
            5
        };
        let reps = self.settings.reps.unwrap_or(10).min(1000);
        build + run * (10 + reps) / 10
    }
}

/// For each cell, the 0-based shard (of `count`) it belongs to. Longest-processing-time
/// first: cells by decreasing cost (then id), each to the cheapest shard so far (then the one
/// with fewest cells, then the lowest index). Shards' total costs therefore differ by at most
/// the largest single cell cost.
pub fn shard_assignment(cells: &[Cell], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let costs: Vec<u32> = cells.iter().map(Cell::estimated_cost).collect();
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|a, b| {
        costs[*b]
            .cmp(&costs[*a])
            .then_with(|| cells[*a].id.cmp(&cells[*b].id))
    });
    let mut heap: BinaryHeap<Reverse<(u64, usize, usize)>> =
        (0..count).map(|k| Reverse((0, 0, k))).collect();
    let mut owner = vec![0; cells.len()];
    for i in order {
        let Some(Reverse((cost, n, k))) = heap.pop() else {
            break;
        };
        owner[i] = k;
        heap.push(Reverse((cost + u64::from(costs[i]), n + 1, k)));
    }
    owner
}

/// The matrix a GitHub Actions workflow consumes with `fromJSON`: one entry per shard,
/// `{"include": [{"shard": "1/4", "index": 1, "count": 4, "cells": 12, "cost": 340,
/// "ids": [...]}, ...]}`. A job runs `crossmatrix run --shard ${{ matrix.shard }}`. The shard
/// count is clamped to 1..=min(cells, 256) so no job gets an empty shard.
pub fn github_matrix(plan: &Plan, shards: usize) -> Value {
    let n = shards.min(plan.len()).clamp(1, GITHUB_MAX_JOBS);
    let include: Vec<Value> = plan
        .split(n)
        .into_iter()
        .enumerate()
        .map(|(k, part)| {
            let shard = Shard {
                index: k + 1,
                count: n,
            };
            json!({
                "shard": shard.to_string(),
                "index": shard.index,
                "count": shard.count,
                "cells": part.len(),
                "cost": part.cells.iter().map(|c| u64::from(c.estimated_cost())).sum::<u64>(),
                "ids": part.cells.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "include": include })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Axes, CgoMode, Program, Target, Toolchain};
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::sync::Arc;

    const ARCHES: &[&str] = &["amd64", "arm64", "riscv64", "s390x", "386"];

    fn plan_from(bits: &[(u8, u8, u8, u8)], programs: usize) -> Plan {
        let tcs: Vec<Arc<Toolchain>> = ["go1.22.12", "go1.24.4"]
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
        let progs: Vec<Arc<Program>> = (0..programs.max(1))
            .map(|i| {
                let mut p = Program::probe();
                p.name = format!("p{i}");
                Arc::new(p)
            })
            .collect();
        let blocks: Vec<Axes> = bits
            .iter()
            .map(|(t, a, m, os)| Axes {
                toolchains: vec![tcs[*t as usize % 2].clone()],
                targets: vec![match os % 4 {
                    0 => Target::new("wasip1", "wasm"),
                    1 => Target::new("darwin", "arm64"),
                    _ => Target::linux(ARCHES[*a as usize % ARCHES.len()]),
                }],
                modes: vec![match m % 3 {
                    0 => CgoMode::Off,
                    1 => CgoMode::On(Libc::Gnu),
                    _ => CgoMode::On(Libc::Musl),
                }],
                rootfs: None,
                programs: progs.clone(),
            })
            .collect();
        Plan::expand(&blocks)
    }

    proptest! {
        #[test]
        fn shards_partition_and_balance(
            bits in proptest::collection::vec((0u8..2, 0u8..5, 0u8..3, 0u8..4), 0..40),
            programs in 1usize..4,
            n in 1usize..9,
        ) {
            let plan = plan_from(&bits, programs);
            let full: BTreeSet<_> = plan.cells.iter().map(|c| c.id.clone()).collect();
            let max_cell = plan.cells.iter().map(Cell::estimated_cost).max().unwrap_or(0) as u64;
            let mut seen = Vec::new();
            let mut costs = Vec::new();
            for k in 1..=n {
                let part = plan.clone().shard(Shard { index: k, count: n });
                costs.push(part.cells.iter().map(|c| u64::from(c.estimated_cost())).sum::<u64>());
                seen.extend(part.cells.into_iter().map(|c| c.id));
            }
            let unique: BTreeSet<_> = seen.iter().cloned().collect();
            prop_assert_eq!(unique.len(), seen.len(), "a cell is in two shards");
            prop_assert_eq!(unique, full);
            let (lo, hi) = (costs.iter().min().unwrap(), costs.iter().max().unwrap());
            prop_assert!(hi - lo <= max_cell, "costs {:?} differ by more than {}", costs, max_cell);
            // Deterministic: the same input gives the same shards, whatever the input order.
            let mut reversed = plan.clone();
            reversed.cells.reverse();
            for k in 1..=n {
                let a: BTreeSet<_> = plan.clone().shard(Shard { index: k, count: n }).cells.into_iter().map(|c| c.id).collect();
                let b: BTreeSet<_> = reversed.clone().shard(Shard { index: k, count: n }).cells.into_iter().map(|c| c.id).collect();
                prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn costs_rank_musl_over_gnu_over_static() {
        let plan = plan_from(&[(0, 1, 0, 2), (0, 1, 1, 2), (0, 1, 2, 2), (0, 0, 0, 2)], 1);
        let cost = |frag: &str| {
            plan.cells
                .iter()
                .find(|c| c.id.as_str().contains(frag))
                .unwrap()
                .estimated_cost()
        };
        assert!(cost("arm64/cgo1-musl") > cost("arm64/cgo1-gnu"));
        assert!(cost("arm64/cgo1-gnu") > cost("arm64/cgo0"));
        assert!(cost("arm64/cgo0") > cost("amd64/cgo0"));
        let wasm_cgo = plan_from(&[(0, 0, 1, 0)], 1);
        assert_eq!(wasm_cgo.cells[0].estimated_cost(), 1);
    }

    #[test]
    fn github_matrix_has_one_entry_per_shard() {
        let plan = plan_from(&[(0, 1, 0, 2), (1, 2, 2, 2), (0, 3, 1, 3), (1, 0, 0, 0)], 3);
        let m = github_matrix(&plan, 4);
        let include = m["include"].as_array().unwrap();
        assert_eq!(include.len(), 4);
        assert_eq!(include[0]["shard"], "1/4");
        assert_eq!(include[3]["count"], 4);
        let total: u64 = include.iter().map(|e| e["cells"].as_u64().unwrap()).sum();
        assert_eq!(total as usize, plan.len());
        let ids: BTreeSet<&str> = include
            .iter()
            .flat_map(|e| {
                e["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
            })
            .collect();
        assert_eq!(ids.len(), plan.len());
        // Never more shards than cells, never zero.
        assert_eq!(
            github_matrix(&plan_from(&[(0, 0, 0, 2)], 1), 8)["include"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            github_matrix(&Plan::default(), 0)["include"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}
