//! The lookup both index kinds share: entries sorted by key within buckets of the key's top
//! bits, so a lookup is two bucket bounds and a binary search in a short slice, and the table
//! is flat arrays (a load is a copy, no per-entry allocation).

/// The values of the entries whose key is `key`, in bucket `bucket`. `buckets[b]..buckets[b + 1]`
/// are bucket `b`'s entries in `keys` (sorted) and `values` (parallel to `keys`).
pub fn lookup<'v, K: Ord + Copy>(
    buckets: &[u32],
    keys: &[K],
    values: &'v [u32],
    bucket: usize,
    key: K,
) -> &'v [u32] {
    let (Some(&from), Some(&to)) = (buckets.get(bucket), buckets.get(bucket + 1)) else {
        return &[];
    };
    let (from, to) = (from as usize, to as usize);
    let Some(bucket_keys) = keys.get(from..to) else {
        return &[];
    };
    let first = bucket_keys.partition_point(|&k| k < key);
    let last = bucket_keys.partition_point(|&k| k <= key);
    values.get(from + first..from + last).unwrap_or_default()
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
