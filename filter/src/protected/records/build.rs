//! Building a records index from rows of cells.
//!
//! Rows are numbered in input order after skipping empty and duplicate rows (a duplicate is a
//! row whose normalized cells all equal an earlier row's; it is counted, not indexed twice). A
//! value held by more than [`common_limit`] rows is dropped: it identifies nobody (a city, a
//! common first name, `N/A`) and would make most texts candidates. The caller validates column
//! names; this type only sees cells in column order.

use super::cell::{normalize_cell, Keying, ValueHasher};
use super::{encode, Column, MAX_COLUMNS};
use crate::protected::fold::Folder;
use crate::protected::keyed::Key;
use std::collections::HashSet;

/// The most rows an index holds.
pub const MAX_ROWS: u32 = 1 << 28;

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Rows indexed.
    pub rows: u32,
    /// Rows skipped because an earlier row has the same normalized cells.
    pub duplicate_rows: u64,
    /// Rows skipped because every selected cell is empty.
    pub empty_rows: u64,
    /// Empty cells in indexed rows.
    pub empty_cells: u64,
    /// Cells dropped because their value is held by too many rows.
    pub dropped_common: u64,
    /// Rows past [`MAX_ROWS`], not indexed.
    pub over_limit: u64,
    /// (hash, row, column) entries written.
    pub entries: usize,
}

/// What [`Builder::add_row`] did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    /// Indexed as this row number.
    Indexed(u32),
    /// Skipped: same normalized cells as an earlier row.
    Duplicate,
    /// Skipped: no non-empty cell.
    Empty,
    /// Skipped: the index is full.
    OverLimit,
}

/// The most rows one value may be held by before it is dropped as common.
pub fn common_limit(rows: u32) -> usize {
    (rows as usize / 1000).max(16)
}

/// Accumulates rows into a records index.
pub struct Builder {
    key: Key,
    columns: Vec<Column>,
    folder: Folder,
    keying: Keying,
    entries: Vec<(u64, u32, u8)>,
    /// Keyed prefix hashes of the indexed values (for the prefilter).
    prefixes: Vec<u64>,
    seen: HashSet<u64>,
    row_cells: Vec<(u64, u64, usize)>,
    stats: RecordStats,
}

impl Builder {
    /// A builder for `columns` (at most [`MAX_COLUMNS`]; extra ones are ignored), of which
    /// those named in `unique` are unique. Draw `key` at random per index.
    pub fn new(key: Key, columns: &[&str], unique: &[&str]) -> Builder {
        let columns = columns
            .iter()
            .take(MAX_COLUMNS)
            .map(|name| Column {
                name: (*name).to_owned(),
                unique: unique.contains(name),
            })
            .collect();
        Builder {
            key,
            columns,
            folder: Folder::new(),
            keying: Keying::new(&key),
            entries: Vec::new(),
            prefixes: Vec::new(),
            seen: HashSet::new(),
            row_cells: Vec::new(),
            stats: RecordStats::default(),
        }
    }

    /// Adds one row: its cells in column order (missing trailing cells count as empty).
    pub fn add_row(&mut self, cells: &[&str]) -> RowOutcome {
        if self.stats.rows >= MAX_ROWS {
            self.stats.over_limit += 1;
            return RowOutcome::OverLimit;
        }
        self.row_cells.clear();
        let mut row_key = Vec::new();
        let mut empty = 0u64;
        for column in 0..self.columns.len() {
            let cell = cells.get(column).copied().unwrap_or("");
            match normalize_cell(&mut self.folder, cell) {
                Some((kind, value)) => {
                    let mut hasher = ValueHasher::default();
                    hasher.write(value.as_bytes());
                    self.row_cells.push((
                        self.keying.value(kind, &hasher),
                        self.keying.prefix(kind, &hasher),
                        column,
                    ));
                    row_key.extend_from_slice(&(column as u32).to_le_bytes());
                    row_key.extend_from_slice(value.as_bytes());
                    row_key.push(0xff);
                }
                None => empty += 1,
            }
        }
        if self.row_cells.is_empty() {
            self.stats.empty_rows += 1;
            return RowOutcome::Empty;
        }
        if !self.seen.insert(self.key.hash_bytes(0, &row_key)) {
            self.stats.duplicate_rows += 1;
            return RowOutcome::Duplicate;
        }
        let row = self.stats.rows;
        self.stats.rows += 1;
        self.stats.empty_cells += empty;
        for &(hash, prefix, column) in &self.row_cells {
            self.entries.push((hash, row, column as u8));
            self.prefixes.push(prefix);
        }
        RowOutcome::Indexed(row)
    }

    /// Drops common values and writes the index file.
    pub fn finish(mut self) -> (Vec<u8>, RecordStats) {
        self.entries.sort_unstable();
        self.entries.dedup();
        let limit = common_limit(self.stats.rows);
        let mut kept = Vec::with_capacity(self.entries.len());
        for group in self.entries.chunk_by(|a, b| a.0 == b.0) {
            if group.len() > limit {
                self.stats.dropped_common += group.len() as u64;
            } else {
                kept.extend_from_slice(group);
            }
        }
        self.stats.entries = kept.len();
        self.prefixes.sort_unstable();
        self.prefixes.dedup();
        let file = encode(
            &self.key,
            &self.columns,
            self.stats.rows,
            &kept,
            &self.prefixes,
        );
        (file, self.stats)
    }
}
