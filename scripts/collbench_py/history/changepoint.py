"""Change points in one series: E-Divisive means on ranks, a permutation test, windows.

E-Divisive (Matteson & James 2014) looks in a segment for the split tau, and the end
kappa of the part after it, where the energy distance between X = Z[:tau] and
Y = Z[tau:kappa] is largest,

    Q(tau, kappa) = m k / (m + k) * ( 2/(m k) sum |x_i - y_j|
                                      - 1/C(m,2) sum_{i<i'} |x_i - x_i'|
                                      - 1/C(k,2) sum_{j<j'} |y_j - y_j'| ),

(exponent alpha = 1), judges the best split by a permutation test, and recurses into
both parts while splits stay significant. Searching kappa, not only the segment's end,
is what finds a regression that came back: a bump in the middle of a segment. The
search over kappa also raises the bar (its maximum under no change is larger), which
costs power for a step in the last few runs; so each segment is tested twice, first with
kappa at its end, then with kappa searched, each at the same level. On flat histories the
two together still stay within the measured false-alarm rates (docs/history.md).

Our choices, each for a reason:

* The statistic is computed on the ranks of the values within the segment. Benchmark
  series have outlier runs and skewed noise, which ranks shrug off; and for ranks the
  permutation distribution of max Q depends only on the segment length (and ties), not
  on the data, so it is simulated once per length and shared by every series of a store.
* Permutation p-values stop early (Besag & Clifford 1991): once more permuted statistics
  beat the observed one than a significant result allows, no more are drawn. Most
  segments are flat, and a flat segment is settled after a few permutations.
* Long histories are searched in windows (as Hunter does, Fleming et al. 2023) of
  `window` runs overlapping by half, the last one ending at the newest run: the cost stays
  linear in the history's length, every window of a store shares one null distribution,
  and an old, large change does not mask a newer, smaller one.
* Ranks cannot see the size of a gap, so the cut is placed among the splits that move
  the median by the minimum effect, then moved by up to five runs to where two medians
  fit best (see _placed_split and _refine).
"""

import math
import zlib
from dataclasses import dataclass

import numpy as np

DEFAULT_PERMUTATIONS = 199
DEFAULT_P_VALUE = 0.01
DEFAULT_MIN_SIZE = 2
DEFAULT_WINDOW = 100
DEFAULT_SEED = 20240601
_BATCH_ELEMENTS = 2_000_000     # rows x n^2 per batch of statistics (memory bound)
_REFINE = 5
_CANDIDATES = 64
_MERGE_RUNS = 3                 # detections this close in overlapping windows are one


@dataclass
class ChangePoint:
    index: int       # first observation after the change
    p_value: float
    statistic: float
    permutations: int


def ranks2(values):
    """Twice the average rank of each value (integers: ties share the mean of their ranks)."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    boundary = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    starts = np.flatnonzero(boundary)
    ends = np.r_[starts[1:], len(values)] - 1
    group = np.cumsum(boundary) - 1
    out = np.empty(len(values), dtype=np.int64)
    out[order] = (starts + ends)[group]
    return out


def _split_table(z, min_size):
    """Q[b, tau, kappa] for rows z (B, n); -inf where a side is shorter than min_size.

    With W(a, c) the sum of |z_i - z_j| over a <= i < j < c (a 2-D cumulative sum of the
    distance matrix), the part sums are W(0, tau), W(tau, kappa) and, between the parts,
    W(0, kappa) - W(0, tau) - W(tau, kappa).
    """
    z = np.asarray(z, dtype=float)
    count, n = z.shape
    dist = np.triu(np.abs(z[:, :, None] - z[:, None, :]), 1)
    pairs = np.zeros((count, n + 1, n + 1))
    below = np.cumsum(dist, axis=2)
    pairs[:, :n, 1:] = np.cumsum(below[:, ::-1, :], axis=1)[:, ::-1, :]
    prefix = pairs[:, 0, :]
    m = np.arange(n + 1, dtype=float)[:, None]
    k = np.arange(n + 1, dtype=float)[None, :] - m
    valid = (m >= min_size) & (k >= min_size)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = prefix[:, None, :] - prefix[:, :, None] - pairs
        energy = 2 * between / (m * k) \
            - np.where(m > 1, 2 * prefix[:, :, None] / (m * (m - 1)), 0.0) \
            - np.where(k > 1, 2 * pairs / (k * (k - 1)), 0.0)
        q = m * k / (m + k) * energy
    q[:, ~valid] = -np.inf
    return q


def split_statistics(z, min_size, with_kappa=False):
    """(Q(tau, end), max over kappa of Q(tau, kappa)) for every tau of each row of z.

    with_kappa: also the kappa of each maximum (rows, n + 1).
    """
    z = np.asarray(z)
    count, n = z.shape
    per_batch = max(1, _BATCH_ELEMENTS // ((n + 1) ** 2))
    at_end = np.empty((count, n + 1))
    best = np.empty((count, n + 1))
    kappa = np.empty((count, n + 1), dtype=np.int64) if with_kappa else None
    for start in range(0, count, per_batch):
        table = _split_table(z[start:start + per_batch], min_size)
        at_end[start:start + per_batch] = table[:, :, n]
        best[start:start + per_batch] = table.max(axis=2)
        if with_kappa:
            kappa[start:start + per_batch] = table.argmax(axis=2)
    return (at_end, best, kappa) if with_kappa else (at_end, best)


class NullCache:
    """Permutation distributions of max Q, by segment shape, drawn on a fixed seed.

    For ranks the shape is the length and the multiset of ranks (only ties change it), so
    the series of a store share them. Values are kept in the order drawn and a test reads
    a prefix, so results do not depend on which series asked first.
    """

    def __init__(self, seed=DEFAULT_SEED):
        self.seed = seed
        self._draws = {}
        self.evaluations = 0

    def draws(self, z_sorted, min_size, count):
        key = (min_size, z_sorted.tobytes())
        have = self._draws.setdefault(key, [])
        if len(have) < count:
            n = len(z_sorted)
            rng = np.random.default_rng([self.seed, n, min_size,
                                         zlib.crc32(z_sorted.tobytes()), len(have)])
            order = rng.permuted(np.tile(np.arange(n), (count - len(have), 1)), axis=1)
            at_end, best = split_statistics(z_sorted[order], min_size)
            have.extend(zip(at_end.max(axis=1).tolist(), best.max(axis=1).tolist()))
            self.evaluations += len(order)
        return np.asarray(have[:count]).reshape(-1, 2)


def permutation_p_value(z, q, min_size, permutations, p_max, cache, column=0):
    """(p, permutations used): Monte Carlo p-value of max Q, stopping when it cannot pass.

    column 0: the statistic with kappa at the segment's end; 1: with kappa searched.

    Significant means (1 + exceedances) / (1 + permutations) <= p_max; once the
    exceedances pass that allowance no further draws can change the verdict.
    """
    allowed = math.floor(p_max * (permutations + 1) - 1 + 1e-9)
    z_sorted = np.sort(np.asarray(z, dtype=np.int64))
    drawn = 0
    while True:
        drawn = min(permutations, max(drawn * 4, 16))
        null = cache.draws(z_sorted, min_size, drawn)[:, column]
        exceed = int(np.count_nonzero(null >= q - 1e-9 * max(1.0, abs(q))))
        if exceed > allowed or drawn >= permutations:
            return (1 + exceed) / (1 + drawn), drawn


def _placed_split(values, q, kappa, min_effect):
    """(tau, kappa): the largest Q among splits that move the median by min_effect.

    The permutation test asks whether the segment changed at all; where to cut is a
    second question. Ranks weigh balanced splits up and cannot see a gap, so a large step
    in the last few runs can score below a split halfway into the flat part before it;
    cutting there would bury the step in a segment too short to test again. Only splits
    that would be reported are candidates (largest Q first, at most _CANDIDATES); the
    part after the cut ends at the split's kappa.
    """
    for tau in np.argsort(-q, kind="stable")[:_CANDIDATES]:
        if not math.isfinite(q[tau]):
            break
        left, right = np.median(values[:tau]), np.median(values[tau:kappa[tau]])
        if left > 0 and abs(right / left - 1.0) >= min_effect:
            return int(tau), int(kappa[tau])
    return None, None


def _refine(values, tau, min_size):
    """Move a split by up to _REFINE runs to where two medians fit the values best.

    Ranks are blind to the size of a gap: a clean 20% step whose last runs before it are
    the highest of their segment looks, in ranks, as if it began a few runs early.
    Absolute deviations from the two medians see the gap and still shrug off outliers.
    """
    y = np.log(np.maximum(values, 1e-300))
    n = len(y)

    def cost(k):
        a, b = y[:k], y[k:]
        return float(np.abs(a - np.median(a)).sum() + np.abs(b - np.median(b)).sum())

    candidates = range(max(min_size, tau - _REFINE), min(n - min_size, tau + _REFINE) + 1)
    return min(candidates, key=lambda k: (cost(k), abs(k - tau)))


def detect(values, p_max=DEFAULT_P_VALUE, min_size=DEFAULT_MIN_SIZE,
           permutations=DEFAULT_PERMUTATIONS, cache=None, min_effect=0.0):
    """Significant change points of `values` (one per run, in order), sorted by index.

    The whole sequence is one segment: detect_windows calls this once per window.
    min_effect: only splits that change the median by at least this fraction are placed.
    """
    cache = cache if cache is not None else NullCache()
    values = np.asarray(values, dtype=float)
    found = []
    pending = [(0, len(values))]
    while pending:
        start, end = pending.pop()
        if end - start < 2 * min_size:
            continue
        z = ranks2(values[start:end])
        if z.min() == z.max():
            continue
        at_end, best, kappa = (row[0] for row in
                               split_statistics(z[None, :], min_size, with_kappa=True))
        # First the split against the rest of the segment (a step, however close to the
        # newest run); failing that, with kappa searched (a change that was undone).
        ends = np.full(len(at_end), end - start)
        for column, (stats, kappas) in enumerate(((at_end, ends), (best, kappa))):
            q = float(stats.max())
            if not math.isfinite(q):
                break
            p, used = permutation_p_value(z, q, min_size, permutations, p_max, cache,
                                          column)
            if p <= p_max:
                break
        if not math.isfinite(q) or p > p_max:
            continue
        tau, stop = _placed_split(values[start:end], stats, kappas, min_effect)
        if tau is None:
            continue
        tau = _refine(values[start:start + stop], tau, min_size)
        found.append(ChangePoint(start + tau, p, q, used))
        pending.append((start, start + tau))
        pending.append((start + tau, end))
    return sorted(found, key=lambda cp: cp.index)


def windows(n, window):
    """(start, end) of windows of `window` runs overlapping by half; the last ends at n."""
    if n <= window:
        return [(0, n)]
    step = max(1, window // 2)
    starts = list(range(0, n - window + 1, step))
    if starts[-1] != n - window:
        starts.append(n - window)
    return [(s, s + window) for s in starts]


def detect_windows(values, window=DEFAULT_WINDOW, p_max=DEFAULT_P_VALUE,
                   min_size=DEFAULT_MIN_SIZE, permutations=DEFAULT_PERMUTATIONS, cache=None,
                   min_effect=0.0):
    """detect() in each window; one change point per cluster of nearby detections.

    A change seen by two windows keeps the detection with the smaller p-value, and among
    equals the one further from its window's edges (more runs on both sides).
    """
    cache = cache if cache is not None else NullCache()
    values = np.asarray(values, dtype=float)
    seen = []
    for start, end in windows(len(values), window):
        for cp in detect(values[start:end], p_max, min_size, permutations, cache,
                         min_effect):
            margin = min(cp.index, end - start - cp.index)
            seen.append((ChangePoint(start + cp.index, cp.p_value, cp.statistic,
                                     cp.permutations), margin))
    seen.sort(key=lambda item: item[0].index)
    merged, cluster = [], []
    for item in seen:
        if cluster and item[0].index - cluster[-1][0].index > _MERGE_RUNS:
            merged.append(min(cluster, key=lambda it: (it[0].p_value, -it[1]))[0])
            cluster = []
        cluster.append(item)
    if cluster:
        merged.append(min(cluster, key=lambda it: (it[0].p_value, -it[1]))[0])
    return merged
