//! From the programs a user named to the programs each cell builds, as the go command sees
//! them: a directory or file inside a module becomes a package of that module (built from
//! the module root, with the module's dependencies); a pattern (`./cmd/...`) becomes one
//! program per `main` package it matches for any of the plan's targets; a cell whose target
//! the program's build constraints exclude, or whose toolchain is older than the module's `go`
//! line, is skipped with the reason.

use crate::constraint::{Exclusion, TagSet, exclusion, test_exclusion};
use crate::context::{BuildContext, Tags};
use crate::list::{Listed, go_list, tree_stamp};
use crate::module::{ModuleError, Project, find_project};
use crossmatrix_matrix::{
    Cause, Cell, GoPackage, ModuleRef, Plan, Program, ProgramSource, Skip, Toolchain,
};
use crossmatrix_toolchains::version::compare_go_versions;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where resolution keeps what it learns, and the user's environment it honours.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// `go list` answers are remembered here (`<cache>/golist`).
    pub memo_dir: PathBuf,
    /// The user's `GOWORK` (`off`, a file, or unset).
    pub gowork: Option<String>,
    /// The module cache the builds read (crossmatrix's own, or `--modcache`): `go list` loads
    /// the module graph from it, read-only and offline. A module with an old `go` line (an
    /// unpruned graph) needs the `go.mod` of every dependency for that, which `crossmatrix
    /// fetch` puts there.
    pub modcache: Option<PathBuf>,
}

/// A program that cannot be what the user said it is: a usage error, before any work.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Module(#[from] ModuleError),
    #[error(transparent)]
    List(#[from] crate::list::GoListError),
    #[error(transparent)]
    Context(#[from] crate::context::ContextError),
    #[error("{}: not a Go package: {message}", dir.display())]
    NotAPackage { dir: PathBuf, message: String },
    #[error(
        "{} is package {name}, not a command: give a directory holding package main (`crossmatrix test` runs a package's tests)",
        dir.display()
    )]
    NotMain { dir: PathBuf, name: String },
    #[error(
        "pattern {pattern} matches no main package in {} for any target of the matrix: check the path (patterns are relative, like ./cmd/...)",
        dir.display()
    )]
    NoMainPackage { pattern: String, dir: PathBuf },
    #[error(
        "{pattern} matches no package (from {}) for any target of the matrix: give package directories (./pkg), patterns (./...) or import paths (strings)",
        dir.display()
    )]
    NoPackage { pattern: String, dir: PathBuf },
    #[error("{}: {source}", file.display())]
    Constraint {
        file: PathBuf,
        source: crate::constraint::BadConstraint,
    },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The go command used to read `go.mod` files: the newest toolchain of the plan (an older one
/// may not know a newer file's directives).
fn reader_go(plan: &Plan) -> Option<PathBuf> {
    plan.cells
        .iter()
        .map(|c| &c.toolchain)
        .max_by(|a, b| compare_go_versions(&a.version, &b.version))
        .map(|t| t.goroot.join("bin/go"))
}

fn context_of(cell: &Cell) -> BuildContext {
    BuildContext {
        goroot: cell.toolchain.goroot.clone(),
        go_version: cell.toolchain.version.clone(),
        goos: cell.target.goos.clone(),
        goarch: cell.target.goarch.clone(),
        variant: cell.target.variant_env(),
        cgo: cell.cgo,
        tags: cell.settings.tags.clone(),
    }
}

/// What one user program turned out to be.
enum Resolved {
    /// Not a Go project program (the probe), or GOPATH-style source: as it was.
    Keep,
    /// One package (a directory or file of a module): its program, and per context whether it
    /// is excluded and why.
    One {
        program: Arc<Program>,
        project: Option<Project>,
        excluded: HashMap<BuildContext, Skip>,
    },
    /// A pattern: its main packages, each with its program and where it is excluded.
    Many {
        packages: Vec<(Arc<Program>, HashMap<BuildContext, Skip>)>,
        project: Option<Project>,
    },
}

/// Resolves every Go project program of `plan` (see the module doc).
pub fn resolve_plan(plan: Plan, opts: &ResolveOptions) -> Result<Plan, ResolveError> {
    let Some(go) = reader_go(&plan) else {
        return Ok(plan);
    };
    let mut r = Resolver {
        opts,
        go,
        stamps: HashMap::new(),
        tags: HashMap::new(),
    };
    // Each program's contexts (the cells that will build it).
    let mut programs: Vec<Arc<Program>> = Vec::new();
    let mut contexts: HashMap<String, Vec<BuildContext>> = HashMap::new();
    for c in &plan.cells {
        if c.skip.is_some() {
            continue;
        }
        let ctxs = contexts.entry(c.program.name.clone()).or_default();
        if ctxs.is_empty() {
            programs.push(c.program.clone());
        }
        let ctx = context_of(c);
        if !ctxs.contains(&ctx) {
            ctxs.push(ctx);
        }
    }
    let mut resolved: HashMap<String, Resolved> = HashMap::new();
    for p in &programs {
        let ctxs = &contexts[&p.name];
        resolved.insert(p.name.clone(), r.resolve(p, ctxs)?);
    }
    name_packages(&mut resolved, &programs);
    let mut cells = Vec::with_capacity(plan.cells.len());
    for cell in plan.cells {
        match resolved.get(&cell.program.name) {
            None | Some(Resolved::Keep) => cells.push(cell),
            Some(_) if cell.skip.is_some() => cells.push(cell),
            Some(Resolved::One {
                program,
                project,
                excluded,
            }) => cells.push(respun(&cell, program, project.as_ref(), excluded)),
            Some(Resolved::Many { packages, project }) => {
                for (program, excluded) in packages {
                    cells.push(respun(&cell, program, project.as_ref(), excluded));
                }
            }
        }
    }
    let mut seen = HashSet::new();
    cells.retain(|c| seen.insert(c.id.clone()));
    Ok(Plan { cells })
}

/// `cell` building `program` instead, skipped where its constraints exclude the cell's
/// target or its module needs a newer toolchain.
fn respun(
    cell: &Cell,
    program: &Arc<Program>,
    project: Option<&Project>,
    excluded: &HashMap<BuildContext, Skip>,
) -> Cell {
    let mut c = Cell::new(
        cell.toolchain.clone(),
        cell.target.clone(),
        cell.cgo,
        cell.libc,
        cell.rootfs.clone(),
        program.clone(),
    );
    c.settings = cell.settings.clone();
    if let Some(reason) = too_old(&cell.toolchain, project) {
        c.skip = Some(Skip {
            cause: Cause::ToolchainTooOld,
            reason,
        });
    } else if let Some(skip) = excluded.get(&context_of(cell)) {
        c.skip = Some(skip.clone());
    }
    c
}

/// Why `toolchain` cannot build the project (its `go` line is newer), if it cannot.
fn too_old(toolchain: &Toolchain, project: Option<&Project>) -> Option<String> {
    let line = project?.go_line()?;
    let required = format!("go{line}");
    (compare_go_versions(&toolchain.version, &required) == std::cmp::Ordering::Less).then(|| {
        format!(
            "{} requires go >= {line} and {} is older (GOTOOLCHAIN=local: no toolchain is downloaded)",
            project
                .map(|p| match &p.workspace {
                    Some(w) => w.gowork.display().to_string(),
                    None => p.module.gomod.display().to_string(),
                })
                .unwrap_or_default(),
            toolchain.version
        )
    })
}

struct Resolver<'a> {
    opts: &'a ResolveOptions,
    go: PathBuf,
    /// Tree stamps of project roots, once per plan.
    stamps: HashMap<PathBuf, Option<String>>,
    tags: HashMap<BuildContext, Tags>,
}

impl Resolver<'_> {
    fn project(&self, dir: &Path) -> Result<Option<Project>, ResolveError> {
        Ok(find_project(dir, &self.go, self.opts.gowork.as_deref())?)
    }

    fn stamp(&mut self, root: &Path) -> Option<String> {
        self.stamps
            .entry(root.to_path_buf())
            .or_insert_with(|| tree_stamp(root))
            .clone()
    }

    fn tags(&mut self, ctx: &BuildContext) -> Result<&Tags, ResolveError> {
        if !self.tags.contains_key(ctx) {
            let t = ctx.tags()?;
            self.tags.insert(ctx.clone(), t);
        }
        Ok(&self.tags[ctx])
    }

    /// `go list` of `args` in `cwd` for `ctx`, memoized against the project's tree.
    fn list(
        &mut self,
        ctx: &BuildContext,
        cwd: &Path,
        args: &[String],
        project: Option<&Project>,
    ) -> Result<Vec<Listed>, ResolveError> {
        // What the answer depends on besides the toolchain: the project's Go files, or outside
        // any module the directory a relative pattern names (an import path such as `strings`
        // is the toolchain's own).
        let relative = args
            .iter()
            .any(|a| a.starts_with('.') || a.starts_with('/'));
        let stamp = match project.and_then(|p| p.roots().into_iter().next()) {
            Some(root) => self.stamp(&root),
            None if relative => self.stamp(cwd),
            None => Some("the toolchain's own packages".to_string()),
        };
        let memo = self.opts.memo_dir.clone();
        let modcache = self.opts.modcache.clone();
        Ok(go_list(
            ctx,
            cwd,
            args,
            stamp.as_deref(),
            &memo,
            modcache.as_deref(),
        )?)
    }

    fn resolve(
        &mut self,
        p: &Arc<Program>,
        ctxs: &[BuildContext],
    ) -> Result<Resolved, ResolveError> {
        match &p.source {
            ProgramSource::Dir(dir) => self.resolve_dir(p, dir, ctxs),
            ProgramSource::File(file) => self.resolve_file(p, file, ctxs),
            ProgramSource::Pattern { dir, pattern } => self.resolve_pattern(p, dir, pattern, ctxs),
            ProgramSource::Probe | ProgramSource::Package(_) | ProgramSource::Std(_) => {
                Ok(Resolved::Keep)
            }
        }
    }

    fn resolve_dir(
        &mut self,
        p: &Arc<Program>,
        dir: &Path,
        ctxs: &[BuildContext],
    ) -> Result<Resolved, ResolveError> {
        let project = self.project(dir)?;
        let mut excluded = HashMap::new();
        let mut import_path = None;
        for ctx in ctxs {
            if too_old_ctx(ctx, project.as_ref()) {
                continue;
            }
            let listed = self.list(ctx, dir, &[".".to_string()], project.as_ref())?;
            let Some(l) = listed.first() else {
                continue;
            };
            let err = l.error.as_ref().map(|e| e.err.clone()).unwrap_or_default();
            if err.contains("no Go files in") && !l.has_tests() {
                return Err(ResolveError::NotAPackage {
                    dir: dir.to_path_buf(),
                    message: err,
                });
            }
            // Known whatever comes next: a package without tests or left out by constraints
            // is still recorded under its import path.
            import_path.get_or_insert_with(|| l.import_path.clone());
            if p.is_test() {
                if !l.has_tests() {
                    excluded.insert(ctx.clone(), self.no_tests(dir, ctx)?);
                    continue;
                }
            } else if !l.builds() {
                let reason = self.exclusion_reason(dir, ctx, &err, false)?;
                excluded.insert(ctx.clone(), constrained(reason));
                continue;
            } else if l.name != "main" {
                return Err(ResolveError::NotMain {
                    dir: dir.to_path_buf(),
                    name: l.name.clone(),
                });
            }
        }
        let Some(project) = project else {
            return Ok(if excluded.is_empty() {
                Resolved::Keep
            } else {
                Resolved::One {
                    program: p.clone(),
                    project: None,
                    excluded,
                }
            });
        };
        Ok(in_module(
            p,
            project,
            dir,
            ".",
            import_path.unwrap_or_default(),
            excluded,
        ))
    }

    fn resolve_file(
        &mut self,
        p: &Arc<Program>,
        file: &Path,
        ctxs: &[BuildContext],
    ) -> Result<Resolved, ResolveError> {
        let dir = file.parent().unwrap_or(Path::new("/"));
        let project = self.project(dir)?;
        let content = std::fs::read_to_string(file).map_err(|source| ResolveError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut excluded = HashMap::new();
        for ctx in ctxs {
            let tags = self.tags(ctx)?;
            // A single file is built whatever its name says (`go build f.go`): only the
            // header's constraints and cgo count.
            match exclusion("program.go", &content, tags) {
                Ok(Some(e)) => {
                    excluded.insert(ctx.clone(), constrained(format!("{name}: {e}")));
                }
                Ok(None) => {}
                Err(source) => {
                    return Err(ResolveError::Constraint {
                        file: file.to_path_buf(),
                        source,
                    });
                }
            }
        }
        let Some(project) = project else {
            return Ok(Resolved::One {
                program: p.clone(),
                project: None,
                excluded,
            });
        };
        let target = format!("./{name}");
        let import = "command-line-arguments".to_string();
        Ok(in_module(p, project, dir, &target, import, excluded))
    }

    fn resolve_pattern(
        &mut self,
        p: &Arc<Program>,
        dir: &Path,
        pattern: &str,
        ctxs: &[BuildContext],
    ) -> Result<Resolved, ResolveError> {
        let project = self.project(dir)?;
        let tests = p.is_test();
        // Package dir → (import path, standard library, contexts that build it, that test it).
        struct Found {
            import_path: String,
            standard: bool,
            builds: HashSet<BuildContext>,
            tested: HashSet<BuildContext>,
        }
        let mut found: BTreeMap<PathBuf, Found> = BTreeMap::new();
        let mut listed_ctxs = Vec::new();
        for ctx in ctxs {
            if too_old_ctx(ctx, project.as_ref()) {
                continue;
            }
            listed_ctxs.push(ctx.clone());
            for l in self.list(ctx, dir, &[pattern.to_string()], project.as_ref())? {
                let wanted = if tests {
                    l.builds() || l.has_tests()
                } else {
                    l.name == "main" && l.builds()
                };
                if !wanted {
                    continue;
                }
                // A standard package's directory is each toolchain's own: key by import path.
                let key = if l.standard {
                    PathBuf::from(format!("std:{}", l.import_path))
                } else {
                    l.dir.clone()
                };
                let e = found.entry(key).or_insert_with(|| Found {
                    import_path: l.import_path.clone(),
                    standard: l.standard,
                    builds: HashSet::new(),
                    tested: HashSet::new(),
                });
                e.builds.insert(ctx.clone());
                if l.has_tests() {
                    e.tested.insert(ctx.clone());
                }
            }
        }
        if found.is_empty() && !listed_ctxs.is_empty() {
            return Err(if tests {
                ResolveError::NoPackage {
                    pattern: p.name.clone(),
                    dir: dir.to_path_buf(),
                }
            } else {
                ResolveError::NoMainPackage {
                    pattern: p.name.clone(),
                    dir: dir.to_path_buf(),
                }
            });
        }
        if listed_ctxs.is_empty() {
            // Every toolchain is older than the module's go line, and go lists nothing for it:
            // the pattern's cells stay, each skipped as too old.
            return Ok(Resolved::One {
                program: p.clone(),
                project,
                excluded: HashMap::new(),
            });
        }
        let mut packages = Vec::new();
        for (pkg_dir, f) in found {
            let mut excluded = HashMap::new();
            for ctx in &listed_ctxs {
                if !f.builds.contains(ctx) {
                    let reason = if f.standard {
                        format!(
                            "{} is not built for {}/{}",
                            f.import_path, ctx.goos, ctx.goarch
                        )
                    } else {
                        self.exclusion_reason(&pkg_dir, ctx, "", false)?
                    };
                    excluded.insert(ctx.clone(), constrained(reason));
                } else if tests && !f.tested.contains(ctx) {
                    excluded.insert(ctx.clone(), self.no_tests(&pkg_dir, ctx)?);
                }
            }
            let source = match (&project, f.standard) {
                (_, true) => ProgramSource::Std(f.import_path.clone()),
                (Some(proj), false) => ProgramSource::Package(Box::new(package(
                    proj,
                    &pkg_dir,
                    ".",
                    f.import_path.clone(),
                ))),
                (None, false) => ProgramSource::Dir(pkg_dir.clone()),
            };
            let program = Arc::new(Program {
                // Named by `name_packages` once every program is known.
                name: f.import_path,
                source,
                ..(**p).clone()
            });
            packages.push((program, excluded));
        }
        Ok(Resolved::Many { packages, project })
    }

    /// Why a test cell for `ctx` has nothing to test in `dir`: no `_test.go` file at all
    /// (`no-test-files`), or every one left out for `ctx` by its constraints (a `//go:build
    /// cgo` test on a cgo=0 cell: `excluded-by-constraints`, naming them).
    fn no_tests(&mut self, dir: &Path, ctx: &BuildContext) -> Result<Skip, ResolveError> {
        let is_test = |name: &str| name.ends_with("_test.go");
        let has_test_files = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .any(|e| is_test(&e.file_name().to_string_lossy()))
            })
            .unwrap_or(false);
        if !has_test_files {
            return Ok(Skip {
                cause: Cause::NoTestFiles,
                reason: format!("{} has no _test.go files: nothing to test", dir.display()),
            });
        }
        Ok(constrained(self.exclusion_reason(dir, ctx, "", true)?))
    }

    /// Why `ctx` builds nothing in `dir`: each file's constraint, as its header or name says
    /// (of the `_test.go` files only, as `go test` reads them, when `tests`).
    fn exclusion_reason(
        &mut self,
        dir: &Path,
        ctx: &BuildContext,
        go_says: &str,
        tests: bool,
    ) -> Result<String, ResolveError> {
        let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
            .map_err(|source| ResolveError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .filter(|(n, _)| n.ends_with(".go") && (!tests || n.ends_with("_test.go")))
            .collect();
        files.sort();
        let tags = self.tags(ctx)?.clone();
        let mut why: Vec<String> = Vec::new();
        for (name, path) in files {
            let Ok(content) = std::fs::read_to_string(&path) else {
                continue;
            };
            let excluded = if tests {
                test_exclusion(&name, &content, &tags)
            } else {
                exclusion(&name, &content, &tags)
            };
            match excluded {
                Ok(Some(Exclusion::NotBuilt)) | Ok(None) => {}
                Ok(Some(e)) => why.push(format!("{name}: {e}")),
                Err(e) => why.push(format!("{name}: {e}")),
            }
        }
        let target = format!(
            "{}/{}{}",
            tags.goos(),
            tags.goarch(),
            if tags.cgo() { " cgo=1" } else { " cgo=0" }
        );
        Ok(match (why.len(), go_says.is_empty()) {
            (0, true) => format!(
                "no {}file of {} is built for {target}",
                if tests { "_test.go " } else { "" },
                dir.display()
            ),
            (0, false) => go_says.to_string(),
            (n, _) if n > 3 => format!(
                "excluded for {target}: {} (and {} more)",
                why[..3].join("; "),
                n - 3
            ),
            _ => format!("excluded for {target}: {}", why.join("; ")),
        })
    }
}

fn constrained(reason: String) -> Skip {
    Skip {
        cause: Cause::ExcludedByConstraints,
        reason,
    }
}

fn too_old_ctx(ctx: &BuildContext, project: Option<&Project>) -> bool {
    let Some(line) = project.and_then(Project::go_line) else {
        return false;
    };
    compare_go_versions(&ctx.go_version, &format!("go{line}")) == std::cmp::Ordering::Less
}

/// The elements of an import path that name a package, a major version suffix kept with the
/// element before it (`github.com/cespare/xxhash/v2` → `…, cespare, xxhash-v2`): `v2` alone
/// says nothing.
fn name_parts(ip: &str) -> Vec<String> {
    let is_major = |e: &str| {
        e.strip_prefix('v').is_some_and(|n| {
            !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && n != "0" && n != "1"
        })
    };
    let mut parts: Vec<String> = Vec::new();
    for e in ip.split('/') {
        match parts.last_mut() {
            Some(prev) if is_major(e) => {
                prev.push('-');
                prev.push_str(e);
            }
            _ => parts.push(e.to_string()),
        }
    }
    parts
}

/// `p` as a package of `project` built from `dir` (`target`: `.` or `./file.go`).
fn in_module(
    p: &Arc<Program>,
    project: Project,
    dir: &Path,
    target: &str,
    import_path: String,
    excluded: HashMap<BuildContext, Skip>,
) -> Resolved {
    let program = Arc::new(Program {
        source: ProgramSource::Package(Box::new(package(&project, dir, target, import_path))),
        ..(**p).clone()
    });
    Resolved::One {
        program,
        project: Some(project),
        excluded,
    }
}

fn package(project: &Project, dir: &Path, target: &str, import_path: String) -> GoPackage {
    GoPackage {
        dir: dir.to_path_buf(),
        target: target.to_string(),
        import_path,
        module: ModuleRef {
            path: project.module.path.clone(),
            gomod: project.module.gomod.clone(),
            go: project.go_line().map(str::to_string),
            toolchain: project
                .workspace
                .as_ref()
                .and_then(|w| w.toolchain.clone())
                .or_else(|| project.module.toolchain.clone()),
        },
        workspace: project.workspace.as_ref().map(|w| w.gowork.clone()),
        roots: project.roots(),
        vendored: project.module.vendored && project.workspace.is_none(),
    }
}

/// Names the packages patterns expanded to: the last element of the import path, or the
/// shortest suffix of it (elements joined by `-`) that no other program of the plan has.
fn name_packages(resolved: &mut HashMap<String, Resolved>, order: &[Arc<Program>]) {
    let mut taken: HashSet<String> = order
        .iter()
        .filter(|p| !matches!(p.source, ProgramSource::Pattern { .. }))
        .map(|p| p.name.clone())
        .collect();
    let mut imports: Vec<String> = Vec::new();
    for p in order {
        if let Some(Resolved::Many { packages, .. }) = resolved.get(&p.name) {
            imports.extend(packages.iter().map(|(pkg, _)| pkg.name.clone()));
        }
    }
    let suffix = |ip: &str, n: usize| {
        let parts = name_parts(ip);
        parts[parts.len().saturating_sub(n)..].join("-")
    };
    let mut names: HashMap<String, String> = HashMap::new();
    for ip in &imports {
        let depth = name_parts(ip).len();
        let mut n = 1;
        let name = loop {
            let cand = suffix(ip, n);
            let clash = taken.contains(&cand)
                || imports
                    .iter()
                    .any(|other| other != ip && suffix(other, n) == cand);
            if !clash || n >= depth {
                break cand;
            }
            n += 1;
        };
        taken.insert(name.clone());
        names.insert(ip.clone(), name);
    }
    for p in order {
        if let Some(Resolved::Many { packages, .. }) = resolved.get_mut(&p.name) {
            for (pkg, _) in packages.iter_mut() {
                let name = names
                    .get(&pkg.name)
                    .cloned()
                    .unwrap_or_else(|| pkg.name.clone());
                *pkg = Arc::new(Program {
                    name,
                    ..(**pkg).clone()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::name_parts;

    #[test]
    fn a_major_version_suffix_stays_with_its_element() {
        assert_eq!(
            name_parts("github.com/cespare/xxhash/v2"),
            ["github.com", "cespare", "xxhash-v2"]
        );
        assert_eq!(
            name_parts("github.com/cespare/xxhash/v2/xxhsum"),
            ["github.com", "cespare", "xxhash-v2", "xxhsum"]
        );
        assert_eq!(
            name_parts("example.com/m/v1/x"),
            ["example.com", "m", "v1", "x"]
        );
        assert_eq!(
            name_parts("example.com/m/vendor"),
            ["example.com", "m", "vendor"]
        );
        assert_eq!(name_parts("gopkg.in/yaml.v3"), ["gopkg.in", "yaml.v3"]);
    }
}
