//! libFuzzer entry for the `inspect` target; the checks live in `airlock_fuzz::inspect`.
//! The policies compile before the first input (seconds in an instrumented build, which
//! would otherwise count against the first input's timeout).
#![no_main]

libfuzzer_sys::fuzz_target!(init: airlock_fuzz::inspect::warm_up(), |data: &[u8]| {
    airlock_fuzz::inspect::check(data)
});
