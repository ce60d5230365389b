//! What the always-on set costs before it is warm, in wasm instructions (wasmtime fuel): the
//! VM's policy load (`configure`, where the set is not built), its first warm-up tick (which
//! builds the set, and with the blind set the originals of its widened patterns), and, on a VM
//! that had no tick, its first request (json and prose, 8 KiB), which then builds the set itself.
//! `AIRLOCK_HARNESS_FUEL=on AIRLOCK_WASM=path cargo run --release -p airlock-benches --example
//! set_first_use`

use airlock_benches::corpus::{chat_body, Class};
use airlock_benches::fresh_vm::{request_fuel, uncached_vm};

fn main() {
    if std::env::var_os("AIRLOCK_HARNESS_FUEL").is_none() {
        std::env::set_var("AIRLOCK_HARNESS_FUEL", "on");
    }
    airlock_benches::harness_defaults();
    let host = uncached_vm();
    println!("load (start and configure) {}", host.fuel_used());
    let mut host = host;
    let before = host.fuel_used();
    host.tick().unwrap_or_else(|e| panic!("tick: {e:?}"));
    println!("first tick {}", host.fuel_used() - before);
    for class in [Class::Json, Class::Prose] {
        let mut host = uncached_vm();
        let fuel = request_fuel(&mut host, &chat_body(class, 8 << 10, 2));
        println!(
            "first request, {} 8 KiB, no tick before {fuel}",
            class.name()
        );
    }
}
