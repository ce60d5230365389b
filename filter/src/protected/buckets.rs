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
