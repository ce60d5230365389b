//! Builds a public-shapes table (issue 12) from projects on this machine and prints how many
//! shapes occur in how many projects, to choose `--min-projects`.
//!
//! `cargo run --release -p airlock-benches --example public_shapes -- OUT MIN_PROJECTS DIR...`:
//! each `DIR` is one project; its code files (by extension, as `airlock index documents` reads
//! them) are read, at most `AIRLOCK_PROJECT_MB` (default 8) megabytes of each.
use airlock_filter::protected::documents::{Settings, View};
use airlock_filter::protected::public_shapes::ShapeCounter;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(out), Some(min), dirs) =
        (args.first(), args.get(1), args.get(2..).unwrap_or_default())
    else {
        eprintln!("usage: public_shapes OUT MIN_PROJECTS DIR...");
        std::process::exit(2);
    };
    let min: u32 = min.parse().expect("MIN_PROJECTS is a number");
    let per_project = std::env::var("AIRLOCK_PROJECT_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(8)
        << 20;
    let start = Instant::now();
    let mut counter = ShapeCounter::new(Settings::default().code, Settings::default().comment);
    let (mut files, mut bytes) = (0usize, 0usize);
    for dir in dirs {
        let texts =
            airlock_benches::files::text_files(&[PathBuf::from(dir)], per_project, 4 << 20, &|p| {
                View::for_name(&p.to_string_lossy()) == View::Code
            });
        counter.next_project();
        for (_, text) in &texts {
            counter.add_file(text.as_bytes());
            files += 1;
            bytes += text.len();
        }
    }
    let histogram = counter.histogram(10);
    println!(
        "{} projects, {files} files, {:.1} MB in {:.1} s; shapes in n projects (n = 1.., last 10+): {histogram:?}",
        dirs.len(),
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    // Names as `airlock index shapes` keeps them by default (at least 5 projects).
    let table = counter.finish(min, min.max(5));
    let file = table.to_bytes();
    std::fs::write(out, &file).expect("write the table");
    println!(
        "{} shapes in ≥ {min} projects: {:.2} MB",
        table.len(),
        file.len() as f64 / 1e6
    );
}
