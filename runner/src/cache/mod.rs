//! What crossmatrix keeps between runs, in one place: built binaries by the hash of their
//! inputs ([`build`]), passing cells' results by the hash of their run's inputs ([`result`]),
//! and the pruning of whatever was not used for a while ([`prune`]) — with the file hashing
//! and stamps their keys share.

pub mod build;
pub mod prune;
pub mod result;

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// Size and modification time of a file, to notice a toolchain or compiler replaced in place.
pub fn file_stamp(p: &Path) -> String {
    match std::fs::metadata(p) {
        Ok(m) => format!(
            "{} {:?}",
            m.len(),
            m.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        ),
        Err(_) => "missing".into(),
    }
}

/// Feeds `path`'s content into `h` (through `buf`); `None` when it cannot be read.
pub(crate) fn hash_file(h: &mut Sha256, path: &Path, buf: &mut [u8]) -> Option<()> {
    let mut file = std::fs::File::open(path).ok()?;
    loop {
        let n = file.read(buf).ok()?;
        if n == 0 {
            return Some(());
        }
        h.update(&buf[..n]);
    }
}
