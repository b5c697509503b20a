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
_KAPPA_GATE = 0.1


@dataclass
class ChangePoint:
    index: int       # first observation after the change
    p_value: float
    statistic: float
    permutations: int


def ranks_rows(matrix):
    """Ranks 0..n-1 within each row, ties broken in an order drawn from the row's values.

    Breaking ties in an arbitrary order keeps ranks a permutation of 0..n-1, so every
    segment of one length shares a null distribution (average ranks would give each
    pattern of ties its own); drawing the order from the values (not from the series'
    place in the store) gives the same ranks for the same runs wherever they are tested.
    """
    matrix = np.atleast_2d(np.asarray(matrix, dtype=float))
    count, n = matrix.shape
    crc = np.array([zlib.crc32(row.tobytes()) for row in matrix], dtype=np.uint64)
    positions = np.arange(1, n + 1, dtype=np.uint64)[None, :]
    shuffle = (positions * np.uint64(2654435761) + crc[:, None] * np.uint64(40503)) \
        % np.uint64(1 << 32)
    order = np.lexsort((shuffle, matrix), axis=-1)
    out = np.empty((count, n), dtype=np.int64)
    np.put_along_axis(out, order, np.broadcast_to(np.arange(n), (count, n)), axis=1)
    return out


def ranks(values):
    return ranks_rows(values)[0]


def _prefix_abs_sums(z):
    """inc[p, t] = sum over i < t of |z[p, i] - z[p, t]| for integer rows z (P, n).

    With c = #{i < t: z_i < z_t} and s their sum, inc = 2 z_t c - 2 s + sum_{i<t} z_i -
    z_t t. c and s come from the levels of a merge sort: at level h every element in the
    right half of a block of 2^(h+1) positions counts the smaller elements of the left
    half, found by sorting each block by value (one stable sort of all rows and blocks at
    once, nearly sorted after the first level). O(P n log^2 n) in a few dozen array
    operations, however many rows.
    """
    count, n = z.shape
    z = z.astype(np.int64)
    pos = np.arange(n)
    groups = (np.arange(count, dtype=np.int64) * n)[:, None]
    values = z.ravel()
    c = np.zeros(count * n, dtype=np.int64)
    s = np.zeros(count * n, dtype=np.int64)
    order = None
    for level in range(max(1, (n - 1).bit_length())):
        group = ((pos >> (level + 1))[None, :] + groups).ravel()
        key = group * n + values
        if order is None:
            order = np.argsort(key, kind="stable")
        else:
            order = order[np.argsort(key[order], kind="stable")]
        in_left = np.broadcast_to(((pos >> level) & 1) == 0, (count, n)).ravel()[order]
        sorted_group = group[order]
        left_values = np.where(in_left, values[order], 0)
        left_count = np.cumsum(in_left) - in_left
        left_sum = np.cumsum(left_values) - left_values
        starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
        first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        right = ~in_left
        target = order[right]
        c[target] += (left_count - left_count[first])[right]
        s[target] += (left_sum - left_sum[first])[right]
    c = c.reshape(count, n)
    s = s.reshape(count, n)
    prefix = np.cumsum(z, axis=1) - z
    return 2 * z * c - 2 * s + prefix - z * pos


def end_statistics(z, min_size):
    """Q(tau, n) for every tau of each row of z (P, n), rows permutations of 0..n-1.

    O(n log^2 n) per row: the test every window of every series takes first.
    """
    z = np.asarray(z, dtype=np.int64)
    count, n = z.shape
    inc = _prefix_abs_sums(z).astype(float)
    # For ranks 0..n-1, an element's summed distance to all others is known in closed form.
    v = z.astype(float)
    rowsum = v * (v + 1) / 2 + (n - 1 - v) * (n - v) / 2
    within_left = np.concatenate([np.zeros((count, 1)), np.cumsum(inc, axis=1)], axis=1)
    between = np.concatenate([np.zeros((count, 1)), np.cumsum(rowsum - 2 * inc, axis=1)],
                             axis=1)
    within_right = (n ** 3 - n) / 6.0 - within_left - between
    m = np.arange(n + 1, dtype=float)
    k = n - m
    with np.errstate(divide="ignore", invalid="ignore"):
        energy = 2 * between / (m * k) \
            - np.where(m > 1, 2 * within_left / (m * (m - 1)), 0.0) \
            - np.where(k > 1, 2 * within_right / (k * (k - 1)), 0.0)
        q = m * k / n * energy
    q[:, (m < min_size) | (k < min_size)] = -np.inf
    return q


_COEFFICIENTS = {}


def _coefficients(n, min_size):
    """Q = a W(0,kappa) - b W(0,tau) - c W(tau,kappa) + mask, per (tau, kappa); cached."""
    key = (n, min_size)
    if key not in _COEFFICIENTS:
        m = np.arange(n + 1, dtype=float)[:, None]
        k = np.arange(n + 1, dtype=float)[None, :] - m
        valid = (m >= min_size) & (k >= min_size)
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(valid, m * k / (m + k), 0.0)
            a = weight * np.where(valid, 2.0 / (m * k), 0.0)
            b = a + weight * np.where(m > 1, 2.0 / (m * (m - 1)), 0.0)
            c = a + weight * np.where(k > 1, 2.0 / (k * (k - 1)), 0.0)
        mask = np.where(valid, 0.0, -np.inf)
        _COEFFICIENTS[key] = tuple(x.astype(np.float32) for x in (a, b, c, mask))
    return _COEFFICIENTS[key]


def _split_table(z, min_size):
    """Q[b, tau, kappa] for rows z (B, n); -inf where a side is shorter than min_size.

    With W(a, c) the sum of |z_i - z_j| over a <= i < j < c (a 2-D cumulative sum of the
    distance matrix), the part sums are W(0, tau), W(tau, kappa) and, between the parts,
    W(0, kappa) - W(0, tau) - W(tau, kappa). float32: sums of rank distances in a window
    of a few hundred runs are integers well inside its exact range.
    """
    z = np.asarray(z, dtype=np.float32)
    count, n = z.shape
    dist = np.abs(z[:, :, None] - z[:, None, :])
    dist *= np.tri(n, n, 0, dtype=np.float32) == 0     # keep i < j
    pairs = np.zeros((count, n + 1, n + 1), dtype=np.float32)
    np.cumsum(dist, axis=2, out=dist)
    pairs[:, :n, 1:] = np.cumsum(dist[:, ::-1, :], axis=1)[:, ::-1, :]
    prefix = pairs[:, 0, :]
    a, b, c, mask = _coefficients(n, min_size)
    q = a * prefix[:, None, :]
    q -= b * prefix[:, :, None]
    q -= c * pairs
    q += mask
    return q


def kappa_statistics(z, min_size):
    """(max over kappa of Q(tau, kappa), its kappa) for every tau of each row of z."""
    z = np.asarray(z)
    count, n = z.shape
    per_batch = max(1, _BATCH_ELEMENTS // ((n + 1) ** 2))
    best = np.empty((count, n + 1))
    kappa = np.empty((count, n + 1), dtype=np.int64)
    for start in range(0, count, per_batch):
        table = _split_table(z[start:start + per_batch], min_size)
        best[start:start + per_batch] = table.max(axis=2)
        kappa[start:start + per_batch] = table.argmax(axis=2)
    return best, kappa


_STATISTICS = {"end": end_statistics,
               "kappa": lambda z, min_size: kappa_statistics(z, min_size)[0]}


class NullCache:
    """Permutation distributions of max Q by statistic and length, on a fixed seed.

    Ranks are a permutation of 0..n-1, so the distribution depends only on the length and
    the series of a store share it. Values are kept in the order drawn and a test reads a
    prefix, so results do not depend on which series asked first.
    """

    def __init__(self, seed=DEFAULT_SEED):
        self.seed = seed
        self._draws = {}
        self.evaluations = 0

    def draws(self, kind, n, min_size, count):
        have = self._draws.setdefault((kind, n, min_size), [])
        if len(have) < count:
            rng = np.random.default_rng([self.seed, n, min_size, zlib.crc32(kind.encode()),
                                         len(have)])
            perms = rng.permuted(np.tile(np.arange(n), (count - len(have), 1)), axis=1)
            have.extend(_STATISTICS[kind](perms, min_size).max(axis=1).tolist())
            self.evaluations += len(perms)
        return np.asarray(have[:count])


def permutation_p_value(kind, n, q, min_size, permutations, p_max, cache):
    """(p, permutations used): Monte Carlo p-value of max Q, stopping when it cannot pass.

    Significant means (1 + exceedances) / (1 + permutations) <= p_max; once the
    exceedances pass that allowance no further draws can change the verdict.
    """
    allowed = math.floor(p_max * (permutations + 1) - 1 + 1e-9)
    drawn = 0
    while True:
        drawn = min(permutations, max(drawn * 4, 16))
        null = cache.draws(kind, n, min_size, drawn)
        # The same arrangement scores the same up to float32 rounding.
        exceed = int(np.count_nonzero(null >= q - 1e-5 * max(1.0, abs(q))))
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
    Deviations from the two medians see the gap. They are capped at the step's size (or
    three robust standard deviations, if larger), so that an outlier run next to the step
    (a hiccup at twice the time) weighs the same on either side and does not drag the step
    onto itself, while an ordinary run on the wrong side still costs the whole step;
    between equally good cuts the first run after the cut should look like the level after
    it.
    """
    y = np.log(np.maximum(values, 1e-300))
    n = len(y)

    def residuals(k):
        return np.r_[y[:k] - np.median(y[:k]), y[k:] - np.median(y[k:])]

    step = abs(float(np.median(y[tau:]) - np.median(y[:tau])))
    cap = max(step, 3 * 1.4826 * float(np.median(np.abs(residuals(tau)))), 1e-9)
    best = None
    for k in range(max(min_size, tau - _REFINE), min(n - min_size, tau + _REFINE) + 1):
        cost = float(np.minimum(np.abs(residuals(k)), cap).sum())
        key = (round(cost / cap, 9), abs(y[k] - np.median(y[k:])), abs(k - tau))
        if best is None or key < best[0]:
            best = (key, k)
    return best[1]


def _test_segment(values, z, at_end, min_size, permutations, p_max, cache):
    """(p, permutations, statistics per tau, kappa per tau) of the segment's best test.

    First the split against the rest of the segment: a step, however close to the newest
    run. Failing that, and only if that test leaned towards a change (p <= _KAPPA_GATE),
    with kappa searched: a change that was undone, a bump inside the segment. The gate
    spares the O(n^2) search to most flat segments; each test runs at p_max.
    """
    n = len(z)
    q = float(at_end.max())
    p, used = permutation_p_value("end", n, q, min_size, permutations, p_max, cache)
    if p <= p_max or p > _KAPPA_GATE:
        return p, used, at_end, np.full(n + 1, n)
    best, kappa = (row[0] for row in kappa_statistics(z[None, :], min_size))
    p, used = permutation_p_value("kappa", n, float(best.max()), min_size, permutations,
                                  p_max, cache)
    return p, used, best, kappa


def detect(values, p_max=DEFAULT_P_VALUE, min_size=DEFAULT_MIN_SIZE,
           permutations=DEFAULT_PERMUTATIONS, cache=None, min_effect=0.0, first=None):
    """Significant change points of `values` (one per run, in order), sorted by index.

    The whole sequence is one segment: detect_windows calls this once per window.
    min_effect: only splits that change the median by at least this fraction are placed.
    first: the segment's (ranks, Q at end) when the caller computed them already.
    """
    cache = cache if cache is not None else NullCache()
    values = np.asarray(values, dtype=float)
    found = []
    pending = [(0, len(values), first)]
    while pending:
        start, end, known = pending.pop()
        if end - start < 2 * min_size:
            continue
        segment = values[start:end]
        if segment.min() == segment.max():
            continue
        if known is None:
            z = ranks(segment)
            known = (z, end_statistics(z[None, :], min_size)[0])
        z, at_end = known
        p, used, stats, kappas = _test_segment(segment, z, at_end, min_size, permutations,
                                               p_max, cache)
        if p > p_max:
            continue
        tau, stop = _placed_split(segment, stats, kappas, min_effect)
        if tau is None:
            continue
        tau = _refine(values[start:start + stop], tau, min_size)
        found.append(ChangePoint(start + tau, p, float(stats.max()), used))
        pending.append((start, start + tau, None))
        pending.append((start + tau, end, None))
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


def first_tests(all_values, window, min_size):
    """Ranks and Q(tau, end) of every window of every series, in batches by length.

    Returns, per series, {window span: (ranks, statistics)} for detect_windows: most
    windows are flat and are settled by this first test and the shared null alone.
    """
    jobs = {}
    for number, values in enumerate(all_values):
        for start, end in windows(len(values), window):
            jobs.setdefault(end - start, []).append((number, start, end))
    out = [{} for _ in all_values]
    for length, items in jobs.items():
        for first in range(0, len(items), max(1, _BATCH_ELEMENTS // (8 * length))):
            chunk = items[first:first + max(1, _BATCH_ELEMENTS // (8 * length))]
            z = ranks_rows([all_values[i][s:e] for i, s, e in chunk])
            stats = end_statistics(z, min_size)
            for row, (i, s, e) in enumerate(chunk):
                out[i][(s, e)] = (z[row], stats[row])
    return out


def detect_windows(values, window=DEFAULT_WINDOW, p_max=DEFAULT_P_VALUE,
                   min_size=DEFAULT_MIN_SIZE, permutations=DEFAULT_PERMUTATIONS, cache=None,
                   min_effect=0.0, firsts=None, after=0):
    """detect() in each window; one change point per cluster of nearby detections.

    A change seen by two windows keeps the detection with the smaller p-value, and among
    equals the one further from its window's edges (more runs on both sides).
    firsts: this series' entry of first_tests(), when the caller batched them.
    after: only the windows that end after this run (the rest are known already).
    """
    cache = cache if cache is not None else NullCache()
    values = np.asarray(values, dtype=float)
    spans = [span for span in windows(len(values), window) if span[1] > after]
    if firsts is None:
        firsts = first_tests([values], window, min_size)[0]
    seen = []
    for start, end in spans:
        known = firsts.get((start, end))
        if known is not None and values[start:end].min() < values[start:end].max():
            q = float(known[1].max())
            p, _ = permutation_p_value("end", end - start, q, min_size, permutations,
                                       max(_KAPPA_GATE, p_max), cache) \
                if math.isfinite(q) else (1.0, 0)
            if p > _KAPPA_GATE and p > p_max:
                continue
        for cp in detect(values[start:end], p_max, min_size, permutations, cache,
                         min_effect, known):
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
