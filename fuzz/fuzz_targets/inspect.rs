//! libFuzzer entry for the `inspect` target; the checks live in `airlock_fuzz::inspect`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| airlock_fuzz::inspect::check(data));
