//! libFuzzer entry for the `json` target; the checks live in `airlock_fuzz::json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| airlock_fuzz::json::check(data));
