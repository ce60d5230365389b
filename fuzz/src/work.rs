//! Work bound: CPU time of the calling thread, so that other processes on a busy machine
//! do not count against the engine.
//!
//! The bound is generous (orders of magnitude above the engine's measured cost per byte,
//! see README.md): it catches work that grows faster than the input, not slow constants.

use std::time::Duration;

/// CPU time this thread has used so far.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant libc defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Unoptimized builds (the replay test) run the engine tens of times slower.
const SLOWDOWN: u32 = if cfg!(debug_assertions) { 40 } else { 1 };

/// The most CPU time one inspection of `bytes` input bytes may take.
pub fn budget(bytes: usize) -> Duration {
    const BASE: Duration = Duration::from_millis(100);
    const PER_BYTE: Duration = Duration::from_micros(10);
    let per_input = PER_BYTE.saturating_mul(u32::try_from(bytes).unwrap_or(u32::MAX));
    (BASE + per_input).saturating_mul(SLOWDOWN)
}
