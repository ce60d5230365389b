//! libFuzzer entry for the `multipart` target; the checks live in `airlock_fuzz::multipart`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| airlock_fuzz::multipart::check(data));
