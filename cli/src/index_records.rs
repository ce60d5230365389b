//! `airlock index records`: a CSV or JSON Lines table into a records (exact data match) index.
//!
//! Every bad input is a clear error or a counted outcome, never a crash or a silent nothing: a
//! named column the input lacks, an unknown `--unique` column, more than 16 columns, a CSV
//! line that does not parse (with its line number), a JSON line that is not an object (with
//! its line number), and an input with no rows are errors; duplicate rows, empty rows and empty
//! cells are counted in the summary.

use crate::index::{random_key, write_atomically};
use airlock_filter::protected::records::{Builder, RecordStats, MAX_COLUMNS};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::ExitCode;

pub fn run(
    out: &Path,
    columns: &[String],
    unique: &[String],
    input: &Path,
) -> Result<ExitCode, String> {
    let columns: Vec<String> = columns
        .iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    if columns.is_empty() {
        return Err("--columns: name at least one column".to_owned());
    }
    if columns.len() > MAX_COLUMNS {
        return Err(format!(
            "--columns: {} columns named, at most {MAX_COLUMNS} are supported",
            columns.len()
        ));
    }
    for (i, c) in columns.iter().enumerate() {
        if columns.iter().take(i).any(|d| d == c) {
            return Err(format!("--columns: {c:?} is named twice"));
        }
    }
    for u in unique {
        if !columns.contains(u) {
            return Err(format!("--unique {u:?}: not one of --columns {columns:?}"));
        }
    }
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let uniques: Vec<&str> = unique.iter().map(String::as_str).collect();
    let mut builder = Builder::new(random_key()?, &names, &uniques);
    let show = input.display();
    let ext = input
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let read = match ext.as_str() {
        "csv" => csv_rows(input, &columns, &mut builder),
        "jsonl" | "ndjson" => jsonl_rows(input, &columns, &mut builder),
        _ => Err("unknown input type: name a .csv (with a header line) or .jsonl file".to_owned()),
    };
    let read_rows = read.map_err(|e| format!("{show}: {e}"))?;
    if read_rows == 0 {
        return Err(format!("{show}: no data rows; nothing written"));
    }
    let (file, stats) = builder.finish();
    if stats.rows == 0 {
        return Err(format!(
            "{show}: every row is empty in the named columns; nothing written"
        ));
    }
    write_atomically(out, &file)?;
    summary(out, &file, &stats, &columns, unique);
    Ok(ExitCode::SUCCESS)
}

fn summary(out: &Path, file: &[u8], stats: &RecordStats, columns: &[String], unique: &[String]) {
    println!(
        "airlock: wrote {} ({} bytes): {} rows x {} columns ({}){}",
        out.display(),
        file.len(),
        stats.rows,
        columns.len(),
        columns.join(", "),
        if unique.is_empty() {
            String::new()
        } else {
            format!("; unique: {}", unique.join(", "))
        },
    );
    println!(
        "airlock: skipped {} duplicate rows, {} empty rows; {} empty cells; {} cells dropped as shared by more than {} rows{}",
        stats.duplicate_rows,
        stats.empty_rows,
        stats.empty_cells,
        stats.dropped_common,
        airlock_filter::protected::records::common_limit(stats.rows),
        if stats.over_limit > 0 { format!("; {} rows over the limit not indexed", stats.over_limit) } else { String::new() },
    );
}

/// Reads CSV rows into the builder; returns the number of data rows read.
fn csv_rows(input: &Path, columns: &[String], builder: &mut Builder) -> Result<usize, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(input)
        .map_err(|e| csv_error(&e))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(&e))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_owned())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err("empty input: no header line".to_owned());
    }
    let positions = columns
        .iter()
        .map(|c| {
            headers
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| format!("no column {c:?}; the header has {headers:?}"))
        })
        .collect::<Result<Vec<usize>, String>>()?;
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let cells: Vec<&str> = positions
                    .iter()
                    .map(|&p| record.get(p).unwrap_or(""))
                    .collect();
                builder.add_row(&cells);
                rows += 1;
            }
            Err(e) => return Err(csv_error(&e)),
        }
    }
    Ok(rows)
}

fn csv_error(e: &csv::Error) -> String {
    match e.position() {
        Some(p) => format!("line {}: {}", p.line(), csv_kind(e)),
        None => csv_kind(e),
    }
}

fn csv_kind(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

/// Reads JSON Lines objects into the builder; returns the number of data rows read.
fn jsonl_rows(input: &Path, columns: &[String], builder: &mut Builder) -> Result<usize, String> {
    let file = std::fs::File::open(input).map_err(|e| e.to_string())?;
    let mut rows = 0;
    let mut seen = vec![false; columns.len()];
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let number = i + 1;
        let line = line.map_err(|e| format!("line {number}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|e| format!("line {number}: invalid JSON: {e}"))?;
        let Value::Object(object) = value else {
            return Err(format!("line {number}: not a JSON object"));
        };
        let cells: Vec<String> = columns
            .iter()
            .zip(seen.iter_mut())
            .map(|(c, seen)| match object.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => {
                    *seen = true;
                    s.clone()
                }
                Some(other) => {
                    *seen = true;
                    other.to_string()
                }
            })
            .collect();
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        builder.add_row(&refs);
        rows += 1;
    }
    if rows > 0 {
        if let Some((c, _)) = columns.iter().zip(&seen).find(|(_, s)| !**s) {
            return Err(format!("no row has the column {c:?}"));
        }
    }
    Ok(rows)
}
