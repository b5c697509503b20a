"""Statistics for the regression gate: bootstrap of the ratio of medians.

Each side of a comparison is a list of *runs* (one sample array per record: a file or a
`repeat` of the same point). The bootstrap resamples runs with replacement and then
iterations within each chosen run (a two-level bootstrap), so run-to-run spread counts
when there are several runs; with one run per side it is the ordinary bootstrap of the
per-iteration samples. The statistic of a side is the median of its pooled samples.

Drawing every iteration of every resample costs resamples x samples: minutes for a result
file of 100 MB. From MIN_ANALYTIC pooled samples on, the inner level (iterations within the
chosen runs) is therefore integrated instead of drawn: given how often each run was chosen,
the number of resampled values at or below t is a sum of binomials, whose normal
approximation gives P(median <= t) on a grid of t around the median, and from it the
moments of log(median). Only the choice of runs is drawn (for one run, nothing is). The
result is the same bootstrap distribution, without the Monte Carlo noise of the inner level.
"""

import math
from statistics import NormalDist

import numpy as np

DEFAULT_SEED = 20240601
DEFAULT_RESAMPLES = 1000
_CHUNK_ELEMENTS = 4_000_000  # bound memory: resamples x pooled samples per chunk
MIN_ANALYTIC = 64  # pooled samples from which the inner level is integrated (normal approx.)
_GRID = 96  # points of t at which P(median <= t) is evaluated
_TAIL = 1e-6  # probability left outside the grid on each side


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


def _normal_cdf(z):
    try:
        from scipy.special import ndtr  # C, several times faster than the formula below
        return ndtr(z)
    except ImportError:
        return 0.5 * (1.0 + _erf(np.asarray(z, dtype=float) / np.sqrt(2.0)))


def _erf(x):
    """erf of an array, from the Chebyshev fit of erfc in Numerical Recipes (erfcc),
    fractional error below 1.2e-7 everywhere (math.erf works on scalars only)."""
    x = np.asarray(x, dtype=float)
    t = 1.0 / (1.0 + 0.5 * np.abs(x))
    y = 1.0 - t * np.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (
        0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (
            1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    return np.where(x >= 0, y, -y)


def _median_cdf(sorted_runs, counts, grid):
    """P(pooled median <= t) for each row of run counts (R x k) at each t of `grid` (G):
    (R x G), with the iterations drawn within the chosen runs integrated (normal approx.)."""
    lengths = np.array([len(r) for r in sorted_runs], dtype=float)
    below = np.stack([np.searchsorted(r, grid, side="right") / len(r) for r in sorted_runs])
    weights = counts * lengths[None, :]  # values drawn from each run
    mean = weights @ below  # expected number at or below t
    var = weights @ (below * (1.0 - below))
    half = weights.sum(axis=1)[:, None] / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (mean - half) / np.sqrt(var)
    # No spread (every value of every chosen run on one side of t): a step.
    z = np.where(var > 0, z, np.where(mean >= half, np.inf, -np.inf))
    return _normal_cdf(z)


def _log_moments_analytic(runs, resamples, rng):
    """(mean, variance) of log(pooled median) under the two-level bootstrap, inner level
    integrated; None when no positive median is possible."""
    sorted_runs = [np.sort(np.asarray(r, dtype=float)) for r in runs if len(r) > 0]
    k = len(sorted_runs)
    if k == 1:
        counts, weights = np.ones((1, 1)), np.ones(1)
    else:
        # How often each run is chosen in each resample (multinomial, by counting draws). With
        # few runs most resamples repeat a choice: each distinct one is computed once, weighted.
        picks = rng.integers(0, k, size=(resamples, k))
        flat = (picks + np.arange(resamples)[:, None] * k).ravel()
        counts = np.bincount(flat, minlength=resamples * k).reshape(resamples, k)
        counts, weights = np.unique(counts, axis=0, return_counts=True)
        counts = counts.astype(float)
        weights = weights / weights.sum()
    pooled = np.sort(np.concatenate(sorted_runs))
    # Coarse grid over the whole range (a few resamples suffice to find where the median
    # lives), then a fine one there.
    coarse = np.unique(np.quantile(pooled, np.linspace(0.0, 1.0, 65)))
    cdf = weights @ _median_cdf(sorted_runs, counts, coarse)
    lo_i = max(0, int(np.searchsorted(cdf, _TAIL, side="left")) - 1)
    hi_i = min(len(coarse) - 1, int(np.searchsorted(cdf, 1.0 - _TAIL, side="left")) + 1)
    inside = pooled[(pooled >= coarse[lo_i]) & (pooled <= coarse[hi_i])]
    grid = np.unique(inside)
    if len(grid) > _GRID:
        grid = np.unique(grid[np.linspace(0, len(grid) - 1, _GRID).round().astype(int)])
    grid = grid[grid > 0]
    if len(grid) == 0:
        return None
    cdf = _median_cdf(sorted_runs, counts, grid)  # R x G
    # Mass of each grid value: the cdf's step there; below the first, the first's.
    mass = np.diff(np.concatenate([np.zeros((cdf.shape[0], 1)), cdf], axis=1), axis=1)
    mass[:, -1] += 1.0 - cdf[:, -1]
    mass = np.clip(mass, 0.0, None)
    total = mass.sum(axis=1)
    keep = total > 0
    if not keep.any():
        return None
    mass = mass[keep] / total[keep, None]
    weights = weights[keep] / weights[keep].sum()
    logs = np.log(grid)
    mean = float(weights @ (mass @ logs))
    var = float(max(0.0, weights @ (mass @ (logs * logs)) - mean * mean))
    return mean, var


def log_median_moments(runs, resamples, rng):
    """(mean, variance) of log(pooled median) under the two-level bootstrap of `runs`, or
    None when no resample has a positive median."""
    pooled = sum(len(r) for r in runs)
    if pooled >= MIN_ANALYTIC:
        return _log_moments_analytic(runs, resamples, rng)
    boot = bootstrap_medians(runs, resamples, rng)
    boot = boot[boot > 0]
    if len(boot) < 2:
        return None
    logs = np.log(boot)
    return float(logs.mean()), float(np.var(logs, ddof=1))


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
    # The two sides are resampled independently: the variances of their logs add up.
    moments_b = log_median_moments(baseline_runs, resamples, rng)
    moments_c = log_median_moments(current_runs, resamples, rng)
    if moments_b is None or moments_c is None:
        se = 0.0
    else:
        se = math.sqrt(moments_b[1] + moments_c[1])
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
