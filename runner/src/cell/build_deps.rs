//! What a build of a module's package reads, for the build cache key: `go list -deps` in the
//! build's own sandbox names every package the program imports and each one's files (Go, cgo,
//! C, assembly, `.syso`, embedded). Packages of the module, the workspace and local
//! replacements count by content; modules from the module cache by path and version (`go.sum`
//! holds their checksums, and counts by content too); the standard library by the toolchain,
//! which the key already holds. A README, or a command the program does not import, changes
//! nothing.
//!
//! The listing costs a go command per cold cell; it is remembered (`<cache>/deps/`) with the
//! identity of every file it named and the file names of every directory it read, so a warm
//! run only looks at those.

use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::bwrap::Sandbox;
use crossmatrix_sandbox::capture::Caps;
use crossmatrix_sandbox::process::{CaptureOptions, run_captured_opts};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LIST_TIMEOUT: Duration = Duration::from_secs(300);

/// The fields of `go list -json` the digest needs.
const LIST_FIELDS: &str = "Dir,ImportPath,Standard,GoFiles,CgoFiles,CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles,SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles,Module,Error,DepsErrors";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedDep {
    #[serde(default)]
    dir: PathBuf,
    #[serde(default)]
    standard: bool,
    #[serde(default)]
    go_files: Vec<String>,
    #[serde(default)]
    cgo_files: Vec<String>,
    #[serde(default)]
    c_files: Vec<String>,
    #[serde(default, rename = "CXXFiles")]
    cxx_files: Vec<String>,
    #[serde(default)]
    m_files: Vec<String>,
    #[serde(default)]
    h_files: Vec<String>,
    #[serde(default)]
    f_files: Vec<String>,
    #[serde(default)]
    s_files: Vec<String>,
    #[serde(default)]
    swig_files: Vec<String>,
    #[serde(default, rename = "SwigCXXFiles")]
    swig_cxx_files: Vec<String>,
    #[serde(default)]
    syso_files: Vec<String>,
    #[serde(default)]
    embed_files: Vec<String>,
    #[serde(default)]
    module: Option<DepModule>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    deps_errors: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DepModule {
    #[serde(default)]
    path: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    go_mod: Option<PathBuf>,
}

/// What a digest was computed from, to tell later whether it still holds.
#[derive(Debug, Serialize, Deserialize)]
struct Memo {
    /// Every local file the digest read, with its identity then.
    files: Vec<(PathBuf, String)>,
    /// Every local package directory, with the names of its entries then.
    dirs: Vec<(PathBuf, String)>,
    digest: String,
}

/// The digest of what `go list -deps` in `sandbox` (the build's, running in the package's
/// directory) says the build of `target` reads; remembered under `memo_key` in `memo_dir`.
/// `None` when the listing fails or reports errors (a missing module): the build then runs
/// uncached and its failure is classified.
#[allow(clippy::too_many_arguments)]
pub fn package_digest(
    sandbox: &Sandbox,
    go: &Path,
    list_flags: &[OsString],
    target: &str,
    modcache_inside: &Path,
    memo_dir: &Path,
    memo_key: &str,
    abort: &Abort,
) -> Option<String> {
    let memo_file = memo_dir.join(format!("{memo_key}.json"));
    if let Some(d) = still_valid(&memo_file) {
        return Some(d);
    }
    let mut argv: Vec<OsString> = vec![
        go.into(),
        "list".into(),
        "-deps".into(),
        "-e".into(),
        format!("-json={LIST_FIELDS}").into(),
    ];
    argv.extend(list_flags.iter().cloned());
    argv.push(target.into());
    let opts = CaptureOptions {
        caps: Caps::TOOL,
        ..CaptureOptions::default()
    };
    let out = run_captured_opts(sandbox.command(&argv), LIST_TIMEOUT, abort, &opts).ok()?;
    if out.code() != Some(0) || out.stdout.dropped > 0 {
        return None;
    }
    let text = out.stdout.text();
    let deps: Vec<ListedDep> = serde_json::Deserializer::from_str(&text)
        .into_iter::<ListedDep>()
        .collect::<Result<_, _>>()
        .ok()?;
    let memo = digest(&deps, modcache_inside)?;
    let _ = std::fs::create_dir_all(memo_dir).and_then(|()| {
        let tmp = tempfile::NamedTempFile::new_in(memo_dir)?;
        serde_json::to_writer(&tmp, &memo)?;
        tmp.persist(&memo_file).map_err(|e| e.error)?;
        Ok(())
    });
    Some(memo.digest)
}

/// The memo's digest, when every file and directory it read is as it was.
fn still_valid(memo_file: &Path) -> Option<String> {
    let memo: Memo = serde_json::from_str(&std::fs::read_to_string(memo_file).ok()?).ok()?;
    for (f, stamp) in &memo.files {
        if identity(f)? != *stamp {
            return None;
        }
    }
    for (d, names) in &memo.dirs {
        if listing(d)? != *names {
            return None;
        }
    }
    Some(memo.digest)
}

fn digest(deps: &[ListedDep], modcache_inside: &Path) -> Option<Memo> {
    let mut h = Sha256::new();
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let mut dirs: Vec<(PathBuf, String)> = Vec::new();
    let mut gomods: Vec<PathBuf> = Vec::new();
    for d in deps {
        if d.error.is_some() || d.deps_errors.as_ref().is_some_and(|e| !e.is_empty()) {
            return None;
        }
        if d.standard {
            continue;
        }
        if let Some(m) = &d.module {
            if let Some(g) = &m.go_mod {
                if !g.starts_with(modcache_inside) && !gomods.contains(g) {
                    gomods.push(g.clone());
                }
            }
            // A module from the module cache is immutable per version (and go.sum, hashed
            // below, holds its checksum).
            if !m.version.is_empty() && d.dir.starts_with(modcache_inside) {
                h.update(format!("module {}@{}\0", m.path, m.version).as_bytes());
                continue;
            }
        }
        dirs.push((d.dir.clone(), listing(&d.dir)?));
        let lists = [
            &d.go_files,
            &d.cgo_files,
            &d.c_files,
            &d.cxx_files,
            &d.m_files,
            &d.h_files,
            &d.f_files,
            &d.s_files,
            &d.swig_files,
            &d.swig_cxx_files,
            &d.syso_files,
            &d.embed_files,
        ];
        for name in lists.into_iter().flatten() {
            files.push((d.dir.join(name), String::new()));
        }
    }
    // go.mod, go.sum (checksums of every module), go.work(.sum) and vendor/modules.txt of each
    // local module in play.
    for g in gomods {
        let root = g.parent()?.to_path_buf();
        for extra in [
            g.clone(),
            root.join("go.sum"),
            root.join("vendor/modules.txt"),
        ] {
            if extra.is_file() {
                files.push((extra, String::new()));
            }
        }
        for anc in root.ancestors() {
            for w in ["go.work", "go.work.sum"] {
                let f = anc.join(w);
                if f.is_file() && !files.iter().any(|(p, _)| *p == f) {
                    files.push((f, String::new()));
                }
            }
        }
    }
    files.sort();
    files.dedup_by(|a, b| a.0 == b.0);
    let mut buf = vec![0u8; 64 * 1024];
    for (f, stamp) in files.iter_mut() {
        *stamp = identity(f)?;
        h.update(f.as_os_str().as_encoded_bytes());
        h.update([0]);
        crate::cache::hash_file(&mut h, f, &mut buf)?;
        h.update([0xff]);
    }
    for (d, names) in &dirs {
        h.update(d.as_os_str().as_encoded_bytes());
        h.update(names.as_bytes());
    }
    Some(Memo {
        files,
        dirs,
        digest: format!("{:x}", h.finalize()),
    })
}

/// A file's identity: device, inode, size, modification and change times.
fn identity(p: &Path) -> Option<String> {
    crossmatrix_project::file_stamp(p)
}

/// The sorted names of a directory's entries (a new file may join its package).
fn listing(dir: &Path) -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Some(names.join("\n"))
}
