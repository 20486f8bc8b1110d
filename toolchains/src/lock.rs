//! Exclusive flock(2) locks that serialise installers across threads and processes.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// Held until dropped (closing the file releases the lock).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

/// Locks `path` (created if missing). When another holder has it, calls `on_wait` once and
/// blocks until it is released. flock locks belong to the open file, so two threads of one
/// process exclude each other too.
pub(crate) fn lock_exclusive(path: &Path, on_wait: impl FnOnce()) -> std::io::Result<FileLock> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    // SAFETY: flock on a descriptor we own for the life of `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(FileLock { _file: file });
    }
    let err = std::io::Error::last_os_error();
    if err.kind() != ErrorKind::WouldBlock {
        return Err(err);
    }
    on_wait();
    loop {
        // SAFETY: as above.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(FileLock { _file: file });
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn second_locker_waits() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let first = lock_exclusive(&p, || panic!("free lock must not wait")).unwrap();
        let waited = AtomicBool::new(false);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                let _second = lock_exclusive(&p, || waited.store(true, Ordering::SeqCst)).unwrap();
            });
            while !waited.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            drop(first);
            h.join().unwrap();
        });
    }
}
