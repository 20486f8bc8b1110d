//! Interrupts: the first SIGINT or SIGTERM asks a session to stop (no new cells, the running
//! ones killed and not recorded, what finished kept, `run.json` written); a second one exits
//! at once with status 130 (every sandbox dies with crossmatrix: `--die-with-parent`).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// A stop flag that the first SIGINT/SIGTERM sets; give it to [`crate::Session::run`].
pub fn stop_on_signals() -> std::io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}
