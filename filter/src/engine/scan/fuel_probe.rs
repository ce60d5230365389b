//! Fuel probes: a tagged `proxy_log` call at a stage boundary, so that a host tracing calls
//! with fuel metering reads what each stretch of code between two tags cost in wasm
//! instructions (issue 16; `benches/examples/scan_probes.rs` sums them per pair of tags).
//! Only with the `fuel-probes` feature in a wasm build, which is never shipped: the tags are
//! log lines. Otherwise [`tag`] is an empty inline function and the module has no trace of
//! them. A stage of another folder can be measured by adding tags there in a scratch build.

#[cfg(all(target_arch = "wasm32", feature = "fuel-probes"))]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message: *const u8, size: usize) -> u32;
}

/// Marks a stage boundary named `name`.
#[inline(always)]
pub fn tag(name: &'static str) {
    #[cfg(all(target_arch = "wasm32", feature = "fuel-probes"))]
    // SAFETY: the host reads `name.len()` bytes at `name.as_ptr()`, a live static string.
    unsafe {
        proxy_log(0, name.as_ptr(), name.len());
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "fuel-probes")))]
    let _ = name;
}
