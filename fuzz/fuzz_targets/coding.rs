//! libFuzzer entry for the `coding` target; the checks live in `airlock_fuzz::coding`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| airlock_fuzz::coding::check(data));
