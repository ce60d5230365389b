//! Turns criterion's saved estimates into the markdown tables of RESULTS.md.
//!
//! `cargo run --release -p airlock-benches --example report [-- CRITERION_DIR]`
//! (default `$CARGO_TARGET_DIR/criterion`, else `target/criterion`). Times are criterion's median;
//! MB/s are decimal megabytes (10^6 bytes) per second of request body.
use airlock_benches::corpus::{size_label, Class, SIZES};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Estimate {
    median_ns: f64,
    bytes: Option<f64>,
}

fn load(dir: &Path, out: &mut BTreeMap<String, Estimate>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.ends_with("new") {
                let read = |f: &str| -> Option<Value> {
                    serde_json::from_slice(&std::fs::read(path.join(f)).ok()?).ok()
                };
                if let (Some(bench), Some(est)) = (read("benchmark.json"), read("estimates.json")) {
                    let id = bench["full_id"].as_str().unwrap_or_default().to_string();
                    let median_ns = est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
                    let bytes = bench["throughput"]["Bytes"].as_f64();
                    out.insert(id, Estimate { median_ns, bytes });
                }
            } else {
                load(&path, out);
            }
        }
    }
}

fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

fn mbps(bytes: f64, ns: f64) -> f64 {
    bytes / ns * 1e3
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
                .join("criterion")
        });
    let mut e = BTreeMap::new();
    load(&dir, &mut e);
    let get = |id: String| e.get(&id);

    println!("### Native engine (default policy)\n");
    println!("| class | 8 KiB | 64 KiB | 1 MiB |");
    println!("| --- | ---: | ---: | ---: |");
    for class in Class::ALL {
        let cells: Vec<String> = SIZES
            .iter()
            .map(
                |&s| match get(format!("engine/{}/{}", class.name(), size_label(s))) {
                    Some(x) => format!(
                        "{} · {:.0} MB/s",
                        time(x.median_ns),
                        mbps(x.bytes.unwrap_or(0.0), x.median_ns)
                    ),
                    None => "–".into(),
                },
            )
            .collect();
        println!("| {} | {} |", class.name(), cells.join(" | "));
    }

    let minimal = |prefix: &str| {
        e.iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map(|(_, x)| x.median_ns)
    };
    let base = minimal("wasm/minimal/");
    let base_noop = minimal("wasm-noop/minimal/");
    println!("\n### In wasm (wasmtime via airlock-host-tests)\n");
    if let (Some(b), Some(n)) = (base, base_noop) {
        println!(
            "Fixed cost of one request (62-byte body): Airlock {}, no-op filter {}.\n",
            time(b),
            time(n)
        );
    }
    println!("Engine time in wasm = Airlock round trip − no-op round trip (same body, same harness, same copy into the VM). Ratio = native time / wasm engine time.\n");
    println!("| class | size | round trip | no-op round trip | engine in wasm | MB/s | native | wasm ÷ native speed |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for class in Class::ALL {
        for s in SIZES {
            let label = size_label(s);
            let (Some(a), Some(n)) = (
                get(format!("wasm/{}/{label}", class.name())),
                get(format!("wasm-noop/{}/{label}", class.name())),
            ) else {
                continue;
            };
            let engine = a.median_ns - n.median_ns;
            let bytes = a.bytes.unwrap_or(0.0);
            let native = get(format!("engine/{}/{label}", class.name()));
            let ratio = native.map_or("–".into(), |x| format!("{:.2}×", x.median_ns / engine));
            println!(
                "| {} | {label} | {} | {} | {} | {:.0} | {} | {ratio} |",
                class.name(),
                time(a.median_ns),
                time(n.median_ns),
                time(engine),
                mbps(bytes, engine),
                native.map_or("–".into(), |x| time(x.median_ns)),
            );
        }
    }

    println!("\n### Scaling with detector count (native, 64 KiB bodies)\n");
    let scaling_classes = ["prose", "code", "json", "logs", "cjk"];
    println!("| detectors | {} |", scaling_classes.join(" | "));
    println!("| --- |{}", " ---: |".repeat(scaling_classes.len()));
    for n in [100, 300, 1000] {
        let cells: Vec<String> = scaling_classes
            .iter()
            .map(|c| match get(format!("scaling/{n}/{c}")) {
                Some(x) => format!("{:.0} MB/s", mbps(x.bytes.unwrap_or(0.0), x.median_ns)),
                None => "–".into(),
            })
            .collect();
        println!("| {n} | {} |", cells.join(" | "));
    }
    let default_cells: Vec<String> = scaling_classes
        .iter()
        .map(|c| match get(format!("engine/{c}/64KiB")) {
            Some(x) => format!("{:.0} MB/s", mbps(x.bytes.unwrap_or(0.0), x.median_ns)),
            None => "–".into(),
        })
        .collect();
    println!("| default (320) | {} |", default_cells.join(" | "));

    println!("\n### Policy load (parse + compile)\n");
    println!("| policy | native | in wasm (`proxy_on_configure`, fresh VM) |");
    println!("| --- | ---: | ---: |");
    for (name, wasm_name) in [
        ("default", "default-embedded"),
        ("synthetic-100", "synthetic-100"),
        ("synthetic-300", "synthetic-300"),
        ("synthetic-1000", "synthetic-1000"),
    ] {
        let n = get(format!("load/native/{name}")).map_or("–".into(), |x| time(x.median_ns));
        let w = get(format!("load/wasm/{wasm_name}")).map_or("–".into(), |x| time(x.median_ns));
        println!("| {name} | {n} | {w} |");
    }
}
