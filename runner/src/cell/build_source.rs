//! Where a cell's source is and how `go build` sees it: the directories bound into the build
//! sandbox, where the build runs, what it builds, and what the build cache key hashes as the
//! source. Read by the build step and its key.

use crate::cache::build::SourceScope;
use crate::cell::shared::IN_GOMODCACHE;
use crate::cell::shared::IN_SRC;
use crate::cell::shared::Shared;
use crate::diagnose::Failure;
use crossmatrix_matrix::{Cause, Cell, ProgramSource};
use std::path::{Path, PathBuf};

/// How a cell's source reaches `go build`.
pub(crate) struct BuildSource {
    /// (host path, path in the sandbox), bound read-only.
    pub(crate) binds: Vec<(PathBuf, PathBuf)>,
    /// Where `go build` runs.
    pub(crate) chdir: PathBuf,
    /// What it builds there: `.` or `./FILE.go`.
    pub(crate) target: String,
    pub(crate) env: Vec<(&'static str, String)>,
    pub(crate) key: KeySource,
}

/// What the build cache key hashes as the source.
pub(crate) enum KeySource {
    /// A standard-library package: the toolchain (already in the key) is its source.
    Std(String),
    /// The files of a directory (GOPATH-style source, single files, the probe).
    Tree(PathBuf, SourceScope),
    /// The files `go list -deps` says the package's build reads.
    Package,
}

/// Where a cell's source is and how `go build` sees it: the directories bound into the
/// build sandbox, where it runs, what it builds, and the environment that goes with it.
pub(crate) fn build_source(sh: &Shared, cell: &Cell) -> Result<BuildSource, Failure> {
    let in_src = PathBuf::from(IN_SRC);
    let flat = |dir: PathBuf, target: String, module_mode: bool| BuildSource {
        binds: vec![(dir.clone(), in_src.clone())],
        chdir: in_src.clone(),
        target,
        env: if module_mode {
            vec![]
        } else {
            vec![("GO111MODULE", "off".to_string())]
        },
        key: KeySource::Tree(dir, SourceScope::Tree),
    };
    Ok(match &cell.program.source {
        ProgramSource::Probe => flat(sh.probe_dir.clone(), ".".into(), true),
        ProgramSource::Dir(d) => flat(d.clone(), ".".into(), d.join("go.mod").exists()),
        ProgramSource::File(f) => {
            let dir = f
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| ".".into());
            let name = f
                .file_name()
                .map(|n| format!("./{}", n.to_string_lossy()))
                .unwrap_or_default();
            BuildSource {
                key: KeySource::Tree(dir.clone(), SourceScope::Flat),
                ..flat(dir, name, true)
            }
        }
        ProgramSource::Package(gp) => {
            // The module (or workspace) at its own path, so go.work `use` and `replace`
            // directives with relative paths resolve as on the host; the module cache
            // read-only: builds never download (`crossmatrix fetch` fills it).
            let mut binds: Vec<(PathBuf, PathBuf)> =
                gp.roots.iter().map(|r| (r.clone(), r.clone())).collect();
            let mut env = vec![
                (
                    "GOWORK",
                    gp.workspace
                        .as_ref()
                        .map_or_else(|| "off".to_string(), |w| w.display().to_string()),
                ),
                ("GOSUMDB", "off".to_string()),
            ];
            if !gp.vendored {
                binds.push((sh.cfg.modcache.clone(), PathBuf::from(IN_GOMODCACHE)));
                env.push(("GOMODCACHE", IN_GOMODCACHE.to_string()));
            }
            BuildSource {
                binds,
                chdir: gp.dir.clone(),
                target: gp.target.clone(),
                env,
                key: KeySource::Package,
            }
        }
        ProgramSource::Std(import) => BuildSource {
            binds: vec![],
            chdir: cell.toolchain.goroot.join("src").join(import),
            target: ".".into(),
            env: vec![("GOWORK", "off".to_string())],
            key: KeySource::Std(import.clone()),
        },
        ProgramSource::Pattern { pattern, .. } => {
            return Err(Failure::new(
                Cause::BuildError,
                format!("the pattern {pattern} was not expanded by the planner"),
            ));
        }
    })
}
