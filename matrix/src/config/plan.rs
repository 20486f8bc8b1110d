//! Expansion of a [`Config`] into a [`Plan`]: the axis product, then `exclude`, then
//! `include` (GitHub Actions semantics), then the settings each cell resolves to.

use super::{
    Config, ConfigError, ConfiguredProgram, ConfiguredTarget, target_matches, toolchain_matches,
};
use crate::expand::skip_reason;
use crate::{
    BuildSettings, Cell, CellId, CellSettings, Libc, Plan, Program, RootfsSpec, RunSettings,
    Target, Toolchain, VariantKnob,
};
use std::collections::HashMap;
use std::sync::Arc;

type Mode = (bool, Option<Libc>);

/// A cell under construction: where its settings come from.
struct Draft {
    cell: Cell,
    target: usize,
    program: usize,
    includes: Vec<usize>,
    /// From the axis product (not added by an `include`).
    original: bool,
}

impl Config {
    /// Expands the config into cells. `toolchains` are the config's [`ToolchainSpec`]s
    /// resolved by the caller (or every toolchain found when `toolchains` is omitted), in the
    /// order cells should list them; `default_targets` is used when `targets` is omitted
    /// (e.g. every runnable linux arch + wasip1/wasm). Impossible combinations become skipped
    /// cells with a reason. Fails only when an `include` names a toolchain that none of
    /// `toolchains` matches.
    ///
    /// [`ToolchainSpec`]: super::ToolchainSpec
    pub fn to_plan(
        &self,
        toolchains: &[Arc<Toolchain>],
        default_targets: &[Target],
    ) -> Result<Plan, ConfigError> {
        let mut targets: Vec<ConfiguredTarget> = match &self.targets {
            Some(t) => t.clone(),
            None => default_targets
                .iter()
                .map(|t| ConfiguredTarget {
                    target: t.clone(),
                    build: BuildSettings::default(),
                    run: RunSettings::default(),
                })
                .collect(),
        };
        let programs: Vec<ConfiguredProgram> = if self.programs.is_empty() {
            vec![ConfiguredProgram::plain(Program::probe())]
        } else {
            self.programs.clone()
        };
        let cgo: Vec<bool> = if self.cgo.is_empty() {
            vec![false]
        } else {
            self.cgo.clone()
        };
        let base_modes = self.modes(&cgo, self.libc.as_deref());

        // Cell id → index in `drafts`; filled after `exclude`.
        let mut seen: HashMap<CellId, usize> = HashMap::new();
        let rootfs_count = self.rootfs.as_ref().map_or(1, Vec::len);
        let mut drafts: Vec<Draft> = Vec::with_capacity(
            toolchains.len() * targets.len() * base_modes.len() * rootfs_count * programs.len(),
        );
        let add = |drafts: &mut Vec<Draft>,
                   seen: &mut HashMap<CellId, usize>,
                   tc: &Arc<Toolchain>,
                   ti: usize,
                   target: &Target,
                   mode: Mode,
                   rootfs: Option<&RootfsSpec>,
                   pi: usize,
                   includes: Vec<usize>| {
            let program = &programs[pi].program;
            let rootfs = rootfs
                .cloned()
                .unwrap_or_else(|| RootfsSpec::default_for(target, mode.0, mode.1, program));
            let cell = Cell::new(
                tc.clone(),
                target.clone(),
                mode.0,
                mode.1,
                rootfs,
                program.clone(),
            );
            match seen.get(&cell.id) {
                // Described again by a later include: it takes that include's settings too.
                Some(&i) => drafts[i].includes.extend(includes),
                None => {
                    seen.insert(cell.id.clone(), drafts.len());
                    drafts.push(Draft {
                        original: includes.is_empty(),
                        cell,
                        target: ti,
                        program: pi,
                        includes,
                    });
                }
            }
        };

        for tc in toolchains {
            for (ti, t) in targets.iter().enumerate() {
                for &mode in &base_modes {
                    for rootfs in self.rootfs_for(None) {
                        for (pi, prog) in programs.iter().enumerate() {
                            let rootfs = rootfs.cloned().unwrap_or_else(|| {
                                RootfsSpec::default_for(&t.target, mode.0, mode.1, &prog.program)
                            });
                            drafts.push(Draft {
                                cell: Cell::new(
                                    tc.clone(),
                                    t.target.clone(),
                                    mode.0,
                                    mode.1,
                                    rootfs,
                                    prog.program.clone(),
                                ),
                                target: ti,
                                program: pi,
                                includes: vec![],
                                original: true,
                            });
                        }
                    }
                }
            }
        }

        // Exclude, and drop repeats (two toolchains of one name): ids are unique.
        seen.reserve(drafts.len());
        drafts.retain(|d| {
            !self.exclude.iter().any(|m| m.matches(&d.cell))
                && seen.insert(d.cell.id.clone(), 0).is_none()
        });
        for (i, d) in drafts.iter().enumerate() {
            if let Some(slot) = seen.get_mut(&d.cell.id) {
                *slot = i;
            }
        }

        for (ri, rule) in self.include.iter().enumerate() {
            let m = &rule.matcher;
            // As in GitHub Actions, an include extends the original combinations it matches
            // (here with its settings, and the cells earlier includes added that it also
            // matches); matching no original one, it adds the combinations it describes.
            if drafts.iter().any(|d| d.original && m.matches(&d.cell)) {
                for d in drafts.iter_mut().filter(|d| m.matches(&d.cell)) {
                    d.includes.push(ri);
                }
                continue;
            }
            let tcs: Vec<&Arc<Toolchain>> = toolchains
                .iter()
                .filter(|tc| {
                    m.toolchain.is_empty() || m.toolchain.iter().any(|w| toolchain_matches(w, tc))
                })
                .collect();
            if tcs.is_empty() && !m.toolchain.is_empty() {
                let found: Vec<&str> = toolchains.iter().map(|t| t.version.as_str()).collect();
                return Err(ConfigError::new(
                    &self.file,
                    format!(
                        "include names toolchain {} but the matrix has none such",
                        m.toolchain
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .at(rule.location.clone())
                .key(format!("include[{ri}].toolchain"))
                .expected(format!(
                    "one of the matrix's toolchains: {}",
                    found.join(", ")
                ))
                .did_you_mean(&m.toolchain[0], found.iter().copied()));
            }
            let slots = self.include_targets(&mut targets, m);
            let modes = self.include_modes(m, &base_modes);
            let rootfs_override = (!m.rootfs.is_empty()).then_some(m.rootfs.as_slice());
            let progs: Vec<usize> = (0..programs.len())
                .filter(|pi| {
                    m.program.is_empty() || m.program.contains(&programs[*pi].program.name)
                })
                .collect();
            for tc in &tcs {
                for &ti in &slots {
                    let target = targets[ti].target.clone();
                    for &mode in &modes {
                        for rootfs in self.rootfs_for(rootfs_override) {
                            for &pi in &progs {
                                add(
                                    &mut drafts,
                                    &mut seen,
                                    tc,
                                    ti,
                                    &target,
                                    mode,
                                    rootfs,
                                    pi,
                                    vec![ri],
                                );
                            }
                        }
                    }
                }
            }
        }

        let mut base: HashMap<(usize, usize), Arc<CellSettings>> = HashMap::new();
        let cells = drafts
            .into_iter()
            .map(|d| {
                let Draft {
                    mut cell,
                    target,
                    program,
                    includes,
                    ..
                } = d;
                let prog = &programs[program];
                let shared = base
                    .entry((target, program))
                    .or_insert_with(|| {
                        let mut s = CellSettings::default();
                        self.build.apply_to(&mut s);
                        self.run.apply_to(&mut s);
                        targets[target].build.apply_to(&mut s);
                        targets[target].run.apply_to(&mut s);
                        prog.build.apply_to(&mut s);
                        prog.run.apply_to(&mut s);
                        s.stdin = prog.stdin.clone();
                        Arc::new(s)
                    })
                    .clone();
                let expect_fail = Config::expected_failure(prog, &cell);
                cell.settings = if includes.is_empty() && expect_fail.is_none() {
                    shared
                } else {
                    let mut s = (*shared).clone();
                    for ri in includes {
                        self.include[ri].build.apply_to(&mut s);
                        self.include[ri].run.apply_to(&mut s);
                    }
                    s.expect_fail = expect_fail;
                    Arc::new(s)
                };
                cell.skip = skip_reason(&cell);
                cell
            })
            .collect();
        Ok(Plan { cells })
    }

    /// cgo=1 cells take every libc; cgo=0 cells none, unless `libc` is set with no cgo=1 at
    /// all (then they carry it and are skipped: a libc means nothing without cgo).
    fn modes(&self, cgo: &[bool], libc: Option<&[Libc]>) -> Vec<Mode> {
        let libcs: Vec<Libc> = libc
            .map(<[Libc]>::to_vec)
            .unwrap_or_else(|| vec![Libc::Gnu, Libc::Musl]);
        let any_cgo = cgo.contains(&true);
        let mut out = Vec::new();
        for &c in cgo {
            if c {
                out.extend(libcs.iter().map(|l| (true, Some(*l))));
            } else if libc.is_some() && !any_cgo {
                out.extend(libcs.iter().map(|l| (false, Some(*l))));
            } else {
                out.push((false, None));
            }
        }
        out
    }

    /// The roots named for a block (an include's, else the config's); `[None]` when none is:
    /// each cell then gets [`RootfsSpec::default_for`] its build and program.
    fn rootfs_for<'a>(&'a self, over: Option<&'a [RootfsSpec]>) -> Vec<Option<&'a RootfsSpec>> {
        match over.or(self.rootfs.as_deref()) {
            Some(list) => list.iter().map(Some).collect(),
            None => vec![None],
        }
    }

    /// The include's modes: its cgo and libc values, the config's for what it leaves out.
    fn include_modes(&self, m: &super::AxisMatch, base: &[Mode]) -> Vec<Mode> {
        let config_libcs = self
            .libc
            .clone()
            .unwrap_or_else(|| vec![Libc::Gnu, Libc::Musl]);
        match (m.cgo.is_empty(), m.libc.is_empty()) {
            (true, true) => base.to_vec(),
            (true, false) => m.libc.iter().map(|l| (true, Some(*l))).collect(),
            (false, libc_empty) => {
                let mut out = Vec::new();
                for &c in &m.cgo {
                    match (c, libc_empty) {
                        (true, true) => out.extend(config_libcs.iter().map(|l| (true, Some(*l)))),
                        (true, false) => out.extend(m.libc.iter().map(|l| (true, Some(*l)))),
                        (false, true) => out.push((false, None)),
                        (false, false) => out.extend(m.libc.iter().map(|l| (false, Some(*l)))),
                    }
                }
                out
            }
        }
    }

    /// Target slots an include adds cells for; targets the config does not list are added
    /// (with their variants when the include names some).
    fn include_targets(
        &self,
        targets: &mut Vec<ConfiguredTarget>,
        m: &super::AxisMatch,
    ) -> Vec<usize> {
        let variant_ok = |t: &Target| {
            m.variant.is_empty() || t.variant.as_ref().is_some_and(|v| m.variant.contains(v))
        };
        if m.target.is_empty() {
            return (0..targets.len())
                .filter(|i| variant_ok(&targets[*i].target))
                .collect();
        }
        let mut out = Vec::new();
        for pattern in &m.target {
            let hits: Vec<usize> = (0..targets.len())
                .filter(|i| {
                    target_matches(pattern, &targets[*i].target) && variant_ok(&targets[*i].target)
                })
                .collect();
            if !hits.is_empty() {
                out.extend(hits);
                continue;
            }
            let knob = VariantKnob::for_goarch(&pattern.goarch);
            let mut new: Vec<Target> = m
                .variant
                .iter()
                .filter_map(|v| v.split_once('='))
                .filter(|(k, _)| knob.is_some_and(|kn| kn.name == *k))
                .map(|(k, v)| pattern.with_variant(k, v))
                .collect();
            if new.is_empty() && m.variant.is_empty() {
                new.push(pattern.clone());
            }
            for t in new {
                out.push(targets.len());
                targets.push(ConfiguredTarget {
                    target: t,
                    build: BuildSettings::default(),
                    run: RunSettings::default(),
                });
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}
