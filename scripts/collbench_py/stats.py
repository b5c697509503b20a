"""Statistics for the regression gate: bootstrap of the ratio of medians.

Each side of a comparison is a list of *runs* (one sample array per record: a file or a
`repeat` of the same point). The bootstrap resamples runs with replacement and then
iterations within each chosen run (a two-level bootstrap), so run-to-run spread counts
when there are several runs; with one run per side it is the ordinary bootstrap of the
per-iteration samples. The statistic of a side is the median of its pooled samples.
"""

import math
from statistics import NormalDist

import numpy as np

DEFAULT_SEED = 20240601
DEFAULT_RESAMPLES = 1000
_CHUNK_ELEMENTS = 4_000_000  # bound memory: resamples x pooled samples per chunk


def pooled_median(runs):
    return float(np.median(np.concatenate([np.asarray(r, dtype=float) for r in runs])))


def _row_medians(values):
    """Median of each row of a 2-D array (partition, in place: faster than np.median)."""
    width = values.shape[1]
    mid = width // 2
    if width % 2:
        values.partition(mid, axis=1)
        return values[:, mid].copy()
    values.partition([mid - 1, mid], axis=1)
    return 0.5 * (values[:, mid - 1] + values[:, mid])


def bootstrap_medians(runs, resamples, rng):
    """`resamples` bootstrap replicates of the pooled median of `runs` (list of arrays)."""
    arrays = [np.asarray(r, dtype=float) for r in runs if len(r) > 0]
    k = len(arrays)
    lengths = np.array([len(a) for a in arrays])
    width = int(lengths.max())
    table = np.full((k, width), np.nan)
    for index, array in enumerate(arrays):
        table[index, :len(array)] = array
    equal = bool((lengths == width).all())
    out = np.empty(resamples)
    if k == 1:
        data = arrays[0]
        per_chunk = max(1, _CHUNK_ELEMENTS // width)
        for start in range(0, resamples, per_chunk):
            count = min(per_chunk, resamples - start)
            out[start:start + count] = _row_medians(data[rng.integers(0, width,
                                                                      (count, width))])
        return out
    per_chunk = max(1, _CHUNK_ELEMENTS // (k * width))
    for start in range(0, resamples, per_chunk):
        count = min(per_chunk, resamples - start)
        if k == 1:
            picks = np.zeros((count, 1), dtype=np.int64)
        else:
            picks = rng.integers(0, k, size=(count, k))
        chosen_len = lengths[picks]  # (count, k)
        within = (rng.random((count, k, width)) * chosen_len[:, :, None]).astype(np.int64)
        values = table[picks[:, :, None], within]  # (count, k, width)
        if not equal:
            mask = np.arange(width)[None, None, :] >= chosen_len[:, :, None]
            values[mask] = np.nan
            out[start:start + count] = np.nanmedian(values.reshape(count, -1), axis=1)
        else:
            out[start:start + count] = _row_medians(values.reshape(count, -1))
    return out


def ratio_test(baseline_runs, current_runs, family_size, alpha=0.05,
               resamples=DEFAULT_RESAMPLES, rng=None):
    """Ratio of medians current/baseline with a confidence interval.

    The interval is log(ratio) +- z * SE, SE the bootstrap standard deviation of the
    log-ratio and z the normal quantile for a Bonferroni-adjusted level (alpha split over
    `family_size` points, each tail alpha/family_size): across all points of a
    comparison, the chance that any interval misses its true ratio is about alpha or
    less. A normal interval on the log scale is used instead of bootstrap percentiles
    because the adjusted tails are too far out for a few thousand resamples.

    Returns dict(ratio, lower, upper, se_log, p_slower, p_faster).
    """
    rng = rng if rng is not None else np.random.default_rng(DEFAULT_SEED)
    base = pooled_median(baseline_runs)
    cur = pooled_median(current_runs)
    if base <= 0 or cur <= 0:
        return None
    log_ratio = math.log(cur / base)
    boot_b = bootstrap_medians(baseline_runs, resamples, rng)
    boot_c = bootstrap_medians(current_runs, resamples, rng)
    valid = (boot_b > 0) & (boot_c > 0)
    logs = np.log(boot_c[valid]) - np.log(boot_b[valid])
    se = float(np.std(logs, ddof=1)) if len(logs) > 1 else 0.0
    tail = alpha / max(1, family_size)
    z = NormalDist().inv_cdf(1.0 - tail)
    if se > 0:
        p_slower = 1.0 - NormalDist().cdf(log_ratio / se)
        p_faster = NormalDist().cdf(log_ratio / se)
    else:
        # No spread at all: a difference is exact, no difference is not significant.
        p_slower = 0.0 if log_ratio > 0 else 1.0
        p_faster = 0.0 if log_ratio < 0 else 1.0
    return {
        "baseline_median_us": base,
        "current_median_us": cur,
        "ratio": cur / base,
        "lower": math.exp(log_ratio - z * se),
        "upper": math.exp(log_ratio + z * se),
        "se_log": se,
        "p_slower": p_slower,
        "p_faster": p_faster,
        "confidence": 1.0 - 2.0 * tail,
    }
