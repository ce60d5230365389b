//! Memory per VM, two ways.
//!
//! 1. Native heap, with a counting allocator: after compiling the default policy, after creating its
//!    scratch, peak and retained bytes while inspecting the corpus, and growth over repeated passes.
//! 2. Wasm linear memory, exactly: the module's memory section is rewritten with a maximum of N MiB
//!    and the harness runs a workload in it; an allocation beyond the cap traps. The smallest N that
//!    runs the workload is the VM's peak linear memory (1 MiB resolution). Running the workload
//!    several times under that same cap shows whether memory grows across requests.
//!
//! `cargo run --release -p airlock-benches --example memory [-- --native-only]`
use airlock_benches::corpus::{self, Class, SIZES};
use airlock_benches::{headers, policies, request, wasm_path, AIRLOCK_WASM};
use airlock_filter::engine::bench_hooks::scanner::Scanner;
use airlock_host_tests::{send_request, Host};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                let now =
                    CURRENT.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / f64::from(1 << 20))
}

fn native() {
    let base = CURRENT.load(Relaxed);
    let policy = policies::default_policy();
    let compiled = CURRENT.load(Relaxed) - base;
    let compile_peak = PEAK.load(Relaxed) - base;
    let mut scratch = policy.scratch();
    let with_scratch = CURRENT.load(Relaxed) - base;
    println!("## Native heap (default policy)\n");
    println!("| stage | heap |");
    println!("| --- | ---: |");
    println!("| compiled policy (retained) | {} |", mib(compiled));
    println!("| peak while compiling | {} |", mib(compile_peak));
    println!(
        "| automata (`memory_usage()` of keyword automaton, regexes, set) | {} |",
        mib(Scanner::of(&policy).automata_heap_bytes())
    );
    println!("| + fresh scratch | {} |", mib(with_scratch));
    let bodies: Vec<(Class, usize, Vec<u8>)> = Class::ALL
        .iter()
        .flat_map(|&c| {
            SIZES
                .iter()
                .map(move |&s| (c, s, corpus::chat_body(c, s, 1)))
        })
        .collect();
    let bodies_bytes = CURRENT.load(Relaxed) - base - with_scratch;
    for pass in 1..=3 {
        let mut worst = (0usize, "", 0usize);
        for (class, size, body) in &bodies {
            let before = CURRENT.load(Relaxed);
            PEAK.store(before, Relaxed);
            let verdict = policy.inspect(&request(body), &mut scratch);
            let peak = PEAK.load(Relaxed) - before;
            drop(verdict);
            if peak > worst.0 {
                worst = (peak, class.name(), *size);
            }
        }
        let retained = CURRENT.load(Relaxed) - base - bodies_bytes;
        println!(
            "| after corpus pass {pass}: policy + scratch (retained) | {} (lazy-DFA caches {}) |",
            mib(retained),
            mib(Scanner::scratch_heap_bytes(&scratch))
        );
        if pass == 1 {
            println!(
                "| largest transient peak of one inspection ({} {}) | {} |",
                worst.1,
                corpus::size_label(worst.2),
                mib(worst.0)
            );
        }
    }
    println!();
}

fn uleb(bytes: &[u8], at: &mut usize) -> u64 {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let b = bytes[*at];
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return value;
        }
        shift += 7;
    }
}

fn put_uleb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// The sections of a module: (id, payload).
fn sections(wasm: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let size = uleb(wasm, &mut at) as usize;
        out.push((id, &wasm[at..at + size]));
        at += size;
    }
    out
}

/// The module's initial memory in pages (its single defined memory).
fn initial_pages(wasm: &[u8]) -> u64 {
    let (_, payload) = sections(wasm)
        .into_iter()
        .find(|(id, _)| *id == 5)
        .expect("a memory section");
    let mut p = 0;
    assert_eq!(uleb(payload, &mut p), 1, "one memory");
    assert!(payload[p] <= 1, "32-bit unshared memory");
    p += 1;
    uleb(payload, &mut p)
}

/// The module with its memory's maximum set to `pages` 64 KiB pages (never below the initial size).
fn cap_memory(wasm: &[u8], pages: u32) -> Vec<u8> {
    let min = initial_pages(wasm);
    let mut out = wasm[..8].to_vec();
    for (id, payload) in sections(wasm) {
        out.push(id);
        let mut body = Vec::new();
        if id == 5 {
            put_uleb(1, &mut body);
            body.push(1);
            put_uleb(min, &mut body);
            put_uleb(u64::from(pages).max(min), &mut body);
        } else {
            body.extend_from_slice(payload);
        }
        put_uleb(body.len() as u64, &mut out);
        out.extend_from_slice(&body);
    }
    out
}

type Workload = Vec<(String, Vec<u8>)>;

/// Runs `passes` passes of `workload` in a VM capped at `mib` MiB; true if every request was decided.
fn fits(wasm: &[u8], config: &[u8], mib: u32, workload: &Workload, passes: usize) -> bool {
    let Ok(mut host) = Host::from_bytes(&cap_memory(wasm, mib * 16)) else {
        return false;
    };
    host.set_env("AIRLOCK_HASH_KEY", "airlock-bench-key-0123456789abcdef");
    if !matches!(host.configure(config), Ok(true)) {
        return false;
    }
    for _ in 0..passes {
        for (_, body) in workload {
            let Ok(outcome) = send_request(&mut host, &headers(body.len()), &[body], None) else {
                return false;
            };
            host.clear_logs();
            if host.trapped() || outcome.decision().is_none() {
                return false;
            }
        }
    }
    !host.trapped()
}

/// The smallest cap in MiB (1..=64) that runs the workload.
fn smallest_cap(wasm: &[u8], config: &[u8], workload: &Workload) -> Option<u32> {
    let (mut lo, mut hi) = (1u32, 64u32);
    if !fits(wasm, config, hi, workload, 1) {
        return None;
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fits(wasm, config, mid, workload, 1) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(hi)
}

fn wasm() {
    if std::env::var_os("AIRLOCK_HARNESS_COMPILER").is_none() {
        // Memory does not depend on the compiler; Winch compiles the capped variants fastest.
        std::env::set_var("AIRLOCK_HARNESS_COMPILER", "winch");
    }
    let wasm = std::fs::read(wasm_path(AIRLOCK_WASM)).expect("read the module");
    let config = policies::plugin_config(&policies::with_max_body(
        policies::default_value(),
        policies::BENCH_MAX_BODY,
    ));
    let body = |c: Class, s: usize| {
        (
            format!("{} {}", c.name(), corpus::size_label(s)),
            corpus::chat_body(c, s, 1),
        )
    };
    let realistic_small: Workload = Class::REALISTIC
        .iter()
        .flat_map(|&c| [8 << 10, 64 << 10].map(|s| body(c, s)))
        .collect();
    let realistic: Workload = Class::REALISTIC
        .iter()
        .flat_map(|&c| SIZES.map(|s| body(c, s)))
        .collect();
    let everything: Workload = Class::ALL
        .iter()
        .flat_map(|&c| SIZES.map(|s| body(c, s)))
        .collect();
    println!("## Wasm linear memory per VM (default policy, exact to 1 MiB)\n");
    println!(
        "Initial memory of the module: {} MiB.\n",
        initial_pages(&wasm) as f64 / 16.0
    );
    println!("| workload | smallest memory cap that runs it | same cap, workload 5× |");
    println!("| --- | ---: | --- |");
    let workloads = [
        (
            "policy load only (empty configuration: embedded default)",
            Workload::new(),
            true,
        ),
        ("+ realistic classes, 8 and 64 KiB", realistic_small, false),
        ("+ realistic classes, 8 KiB to 1 MiB", realistic, false),
        (
            "+ adversarial classes, 8 KiB to 1 MiB (whole corpus)",
            everything,
            false,
        ),
    ];
    for (name, workload, embedded) in workloads {
        let config: &[u8] = if embedded { b"" } else { &config };
        match smallest_cap(&wasm, config, &workload) {
            None => println!("| {name} | > 64 MiB | |"),
            Some(cap) => {
                let repeated = if workload.is_empty() {
                    "n/a".to_string()
                } else if fits(&wasm, config, cap, &workload, 5) {
                    "runs: no growth".to_string()
                } else {
                    "fails: memory grows".to_string()
                };
                println!("| {name} | {cap} MiB | {repeated} |");
            }
        }
    }
}

fn main() {
    native();
    if !std::env::args().any(|a| a == "--native-only") {
        wasm();
    }
}
