//! The lookup both index kinds share: entries sorted by key within buckets of the key's top
//! bits, so a lookup is two bucket bounds and a binary search in a short slice, and the table
//! is flat arrays (a load is a copy, no per-entry allocation).

/// The positions of the entries whose key is `key` in bucket `bucket` (empty when none):
/// `buckets[b]..buckets[b + 1]` are bucket `b`'s entries in `keys` (sorted); the arrays of
/// values parallel to `keys` are read at these positions.
pub fn lookup_range<K: Ord + Copy>(
    buckets: &[u32],
    keys: &[K],
    bucket: usize,
    key: K,
) -> std::ops::Range<usize> {
    let (Some(&from), Some(&to)) = (buckets.get(bucket), buckets.get(bucket + 1)) else {
        return 0..0;
    };
    let (from, to) = (from as usize, to as usize);
    let Some(bucket_keys) = keys.get(from..to) else {
        return 0..0;
    };
    let first = bucket_keys.partition_point(|&k| k < key);
    let last = bucket_keys.partition_point(|&k| k <= key);
    from + first..from + last
}

/// Checks a loaded table's bucket offsets: non-decreasing, from 0 to `entries`, so every
/// `lookup` slice lies inside the entries.
pub fn check_partition(
    buckets: &[u32],
    entries: usize,
) -> Result<(), super::container::IndexError> {
    let monotone = buckets.windows(2).all(|w| w.first() <= w.get(1));
    if !monotone
        || buckets.first() != Some(&0)
        || buckets.last().map(|&b| b as usize) != Some(entries)
    {
        return Err(super::container::IndexError::Malformed(
            "bucket offsets are not a partition of the entries",
        ));
    }
    Ok(())
}
