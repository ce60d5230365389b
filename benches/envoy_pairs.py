"""The statistics of benches/envoy-paired.sh, apart from Envoy so that they can be tested:
the interleaved schedule, quantiles, and the paired added latency with its confidence intervals.

Two intervals for two estimates, both 95 %:
  * the median of the paired differences (a variant's request minus the reference's request of
    the same block): a distribution-free order-statistic interval (the binomial ranks around n/2;
    it assumes only that the blocks are independent, not a shape of the distribution);
  * the difference of the two medians (what "median added latency" says literally): a bootstrap
    over blocks, resampling whole blocks so that the pairing, and the noise the two requests
    shared, stay together.
Standard library only (the venv has no numpy), hence a few thousand resamples rather than more."""
import math
import random


def schedule(variants: list, blocks: int, seed: int) -> list:
    """`blocks` lists, each the variants in a fresh random order: every variant meets each
    position in the block equally often on average, so an effect of going first cancels."""
    rng = random.Random(seed)
    out = []
    for _ in range(blocks):
        order = list(variants)
        rng.shuffle(order)
        out.append(order)
    return out


def quantile(sorted_xs: list, q: float) -> float:
    """The q-quantile (0..1) of sorted values, linear between the two nearest ranks."""
    if not sorted_xs:
        raise ValueError("no values")
    pos = q * (len(sorted_xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def median(xs: list) -> float:
    return quantile(sorted(xs), 0.5)


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple:
    """0-based ranks (lo, hi) of the sorted sample such that [x[lo], x[hi]] holds the population
    median with probability >= `confidence`. With B ~ Binomial(n, 1/2) the number of values below
    the median, P(median < x[lo]) = P(B <= lo): lo is the largest rank with P(B <= lo) <= alpha/2,
    and hi = n - 1 - lo by symmetry."""
    alpha = (1 - confidence) / 2
    log_half_n = n * math.log(0.5)  # logs: n in the tens of thousands underflows 0.5**n
    cdf, log_c, lo = 0.0, 0.0, -1   # log_c = log C(n, i)
    for i in range(n // 2 + 1):
        if i:
            log_c += math.log(n - i + 1) - math.log(i)
        cdf += math.exp(log_c + log_half_n)
        if cdf > alpha:
            break
        lo = i
    if lo < 0:
        raise ValueError(f"{n} values are too few for a {confidence:.0%} interval of the median")
    return lo, n - 1 - lo


def median_with_ci(xs: list, confidence: float = 0.95) -> tuple:
    """(median, low, high) of `xs` with the order-statistic interval."""
    s = sorted(xs)
    lo, hi = median_ci_ranks(len(s), confidence)
    return quantile(s, 0.5), s[lo], s[hi]


def paired_blocks(records: dict, reference: str, variant: str) -> list:
    """The blocks where both the reference and the variant answered, in order."""
    return sorted(set(records[reference]) & set(records[variant]))


def paired(records: dict, reference: str, variant: str) -> tuple:
    """From records {variant: {block: latency}}, the blocks where both answered, as two lists
    in block order (reference's, variant's)."""
    blocks = paired_blocks(records, reference, variant)
    return [records[reference][b] for b in blocks], [records[variant][b] for b in blocks]


def median_difference_ci(ref: list, var: list, resamples: int = 2000, seed: int = 1,
                         confidence: float = 0.95) -> tuple:
    """(median(var) - median(ref), low, high): a percentile bootstrap over paired blocks."""
    if len(ref) != len(var) or not ref:
        raise ValueError("two non-empty lists of the same length (paired blocks)")
    n = len(ref)
    rng = random.Random(seed)
    stats = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        stats.append(median([var[i] for i in idx]) - median([ref[i] for i in idx]))
    stats.sort()
    alpha = (1 - confidence) / 2
    return median(var) - median(ref), quantile(stats, alpha), quantile(stats, 1 - alpha)


def pressure_by_block(starts: dict, samples: list) -> dict:
    """Each block's CPU pressure: the share of wall time some task waited for a CPU over the
    sampling interval (about a second) its start falls in. `samples` are (s, total µs) in time
    order (the client's cpu_pressure_us()); {} when the kernel has no PSI."""
    if len(samples) < 2 or any(p is None for _, p in samples):
        return {}
    shares = [((t1 - t0), (p1 - p0) / 1e6 / (t1 - t0) if t1 > t0 else 0.0)
              for (t0, p0), (t1, p1) in zip(samples, samples[1:])]
    out, i = {}, 0
    for b, t in sorted(starts.items(), key=lambda kv: kv[1]):
        while i + 1 < len(samples) - 1 and t >= samples[i + 1][0]:
            i += 1
        out[b] = shares[i][1]
    return out


def by_pressure(diffs: dict, pressure: dict, groups: int = 3) -> list:
    """The paired differences {block: d} split into `groups` equal parts by their block's CPU
    pressure, lowest first: [(lowest pressure, highest pressure, (median, low, high))]."""
    blocks = sorted((b for b in diffs if b in pressure), key=lambda b: pressure[b])
    size = len(blocks) // groups
    out = []
    for g in range(groups):
        part = blocks[g * size:(g + 1) * size] if g < groups - 1 else blocks[g * size:]
        if len(part) < 6:
            return []
        out.append((pressure[part[0]], pressure[part[-1]], median_with_ci([diffs[b] for b in part])))
    return out
