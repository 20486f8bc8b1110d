//! The build cache key of a cell: everything the sandboxed `go build` sees.

use crate::cache::file_stamp;
use crate::cell::build_source::{BuildSource, KeySource};
use crate::cell::shared::Shared;
use crate::cell::shared::{IN_GOMODCACHE, IN_OUT};
use crossmatrix_matrix::Cell;
use crossmatrix_sandbox::Abort;
use crossmatrix_sandbox::bwrap::Sandbox;
use crossmatrix_toolchains::cc::CCompiler;
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::Path;

/// The build cache key of a cell: everything the sandboxed `go build` sees — its bubblewrap
/// arguments (mounts, environment; the output dir masked, since it differs per run), its
/// command line, the toolchain, the C compiler's files, and the content of the source
/// files (for a module's package, the files its build reads: [`crate::cell::build_deps`]). `None`
/// (no caching) when the source cannot be hashed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_key(
    sh: &Shared,
    cell: &Cell,
    src: &BuildSource,
    bin_dir: &Path,
    sb: &Sandbox,
    argv: &[OsString],
    cc: Option<&CCompiler>,
    abort: &Abort,
) -> Option<String> {
    let mut h = Sha256::new();
    let out = bin_dir.as_os_str().as_encoded_bytes();
    for a in sb.args().iter().chain(argv) {
        let a = a.as_encoded_bytes();
        h.update(if a == out { b"<out>" } else { a });
        h.update([0]);
    }
    h.update(cell.toolchain.version.as_bytes());
    h.update(file_stamp(&cell.toolchain.goroot.join("bin/go")).as_bytes());
    if let Some(cc) = cc {
        h.update(format!("{cc:?}").as_bytes());
        let exe = cc.cc.split_whitespace().next().unwrap_or_default();
        h.update(file_stamp(Path::new(exe)).as_bytes());
    }
    let source = match &src.key {
        KeySource::Std(import) => format!("std {import}"),
        KeySource::Tree(dir, scope) => sh.build_cache.source_hash(dir, *scope)?,
        KeySource::Package => {
            let memo_key = format!("{:x}", h.clone().finalize());
            // go list takes the build's flags (tags, -mod, -race… decide the file set).
            let mut flags: Vec<OsString> = argv
                .iter()
                .skip(2)
                .filter(|a| a.to_string_lossy().starts_with('-'))
                .filter(|a| *a != "-o" && *a != "-c" && !a.to_string_lossy().starts_with(IN_OUT))
                .cloned()
                .collect();
            if cell.program.is_test() {
                flags.push("-test".into());
            }
            crate::cell::build_deps::package_digest(
                sb,
                &cell.toolchain.goroot.join("bin/go"),
                &flags,
                &src.target,
                Path::new(IN_GOMODCACHE),
                &sh.cfg.cache_dir.join("deps"),
                &memo_key,
                abort,
            )?
        }
    };
    h.update(source.as_bytes());
    Some(format!("{:x}", h.finalize()))
}
