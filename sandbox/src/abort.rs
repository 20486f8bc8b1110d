//! Stopping a whole run at once (an interrupt): a handle every child of the run is started
//! with, instead of process-wide state.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Kills every child started with it, now and from now on, when [`Abort::abort`] is called.
///
/// Clones share the abort. A [`Abort::scope`] shares it too but keeps its own record of
/// whether a child it ran was cut short ([`Abort::was_hit`]): the scheduler gives each cell
/// a scope and so tells a cell the interrupt killed from one that failed. A fresh handle
/// (`Abort::default()`) is one nobody aborts: for host commands outside a run.
#[derive(Debug, Clone, Default)]
pub struct Abort {
    shared: Arc<Mutex<Shared>>,
    hit: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct Shared {
    aborted: bool,
    /// Process groups running now, by their leader's pid.
    running: HashSet<u32>,
}

impl Abort {
    pub fn new() -> Abort {
        Abort::default()
    }

    /// Kills every running child's process group (with everything in it: sandboxes,
    /// emulators, the programs) and every one started from now on. There is no way back.
    pub fn abort(&self) {
        let mut s = self.lock();
        s.aborted = true;
        for pid in s.running.drain() {
            kill_group(pid);
        }
    }

    /// Whether [`Abort::abort`] was called on this handle or any it shares the abort with.
    pub fn is_aborted(&self) -> bool {
        self.lock().aborted
    }

    /// A handle with the same abort and its own [`Abort::was_hit`].
    pub fn scope(&self) -> Abort {
        Abort {
            shared: Arc::clone(&self.shared),
            hit: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether a step run with this scope ended after the abort: its outcome says nothing
    /// about the program.
    pub fn was_hit(&self) -> bool {
        self.hit.load(Ordering::SeqCst)
    }

    /// Marks this scope's step as cut short (for steps that run in process, such as wasm).
    pub fn mark_hit(&self) {
        self.hit.store(true, Ordering::SeqCst);
    }

    /// Tracks `pid`'s group while it runs; kills it at once when the run is already aborted.
    pub(crate) fn register(&self, pid: u32) {
        let mut s = self.lock();
        if s.aborted {
            kill_group(pid);
        } else {
            s.running.insert(pid);
        }
    }

    /// Stops tracking `pid`'s group. Returns whether the run was aborted meanwhile (and then
    /// marks the scope).
    pub(crate) fn unregister(&self, pid: u32) -> bool {
        let mut s = self.lock();
        s.running.remove(&pid);
        if s.aborted {
            self.mark_hit();
        }
        s.aborted
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Kills the process group led by `pid` (the child was spawned with `process_group(0)`).
pub fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_share_the_abort_but_not_the_hit() {
        let run = Abort::new();
        let (a, b) = (run.scope(), run.scope());
        a.register(2_147_483_000);
        run.abort();
        assert!(b.is_aborted() && a.is_aborted());
        assert!(a.unregister(2_147_483_000));
        assert!(a.was_hit());
        assert!(!b.was_hit());
        assert!(!Abort::default().is_aborted());
    }
}
