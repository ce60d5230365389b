//! libFuzzer entry for the `layers` target; the checks live in `airlock_fuzz::layers`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| airlock_fuzz::layers::check(data));
