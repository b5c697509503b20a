"""Series from the store, their change points, and what changed around each.

A series is one (machine, collective, algorithm, dtype, op, size, ranks, nodes, placement,
timing, backend). Its value per run is the median over the run's repeats of each repeat's
median time (p50 of samples_us), so all repeats count and one odd repeat does not move
it. Change points come from changepoint.detect on those values in run order (time, or
commit order from a git repository).
"""

import json
import subprocess
from dataclasses import dataclass, field

import numpy as np

from .. import InputError
from . import changepoint, provenance
from .store import run_headers, runs as store_runs, series as store_series

DEFAULT_MIN_EFFECT = 0.02
_SHAPE_WINDOW = 10      # runs each side of a change used to tell a step from a drift
_MATCH_RUNS = 2         # a change moved by this many runs is the same change


@dataclass
class Options:
    p_value: float = changepoint.DEFAULT_P_VALUE
    min_effect: float = DEFAULT_MIN_EFFECT
    min_runs: int = changepoint.DEFAULT_MIN_SIZE
    window: int = changepoint.DEFAULT_WINDOW
    permutations: int = changepoint.DEFAULT_PERMUTATIONS
    seed: int = changepoint.DEFAULT_SEED
    order: str = "time"
    repo: str = None
    machine: list = None
    collective: list = None
    algorithm: list = None


@dataclass
class Series:
    key: dict                  # the store's series row (id and the key fields)
    run_ids: np.ndarray        # runs holding this series, in order
    values: np.ndarray         # per run: median over repeats of the p50 time (µs)
    repeats: np.ndarray        # per run: number of repeats
    busbw_factor: float = None
    changes: list = field(default_factory=list)

    def busbw(self, time_us):
        """Bus bandwidth (GB/s) of a time at this series' size, None without a factor."""
        if not self.busbw_factor or time_us <= 0:
            return None
        return self.key["bytes"] / time_us / 1e3 * self.busbw_factor


@dataclass
class History:
    runs: dict                 # run id -> run row (store.runs)
    order: dict                # machine -> run ids in order
    series: list
    options: Options
    left_out: int = 0          # runs without a place in commit order
    headers: dict = field(default_factory=dict)


# --- loading ----------------------------------------------------------------------------

def _git_positions(repo):
    try:
        out = subprocess.run(["git", "-C", repo, "rev-list", "--topo-order", "--reverse",
                              "--all"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"--repo {repo}: cannot run git: {exc}") from None
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or ["git failed"])[-1]
        raise InputError(f"--repo {repo}: not a git repository ({reason})")
    return {sha: index for index, sha in enumerate(out.stdout.split())}


def _commit_index(positions, sha, cache):
    sha = (sha or "").split("-")[0].lower()
    if len(sha) < 7:
        return None
    if len(sha) not in cache:
        cache[len(sha)] = {}
        for full, index in positions.items():
            cache[len(sha)].setdefault(full[:len(sha)], index)
    return cache[len(sha)].get(sha)


def order_runs(runs, order="time", repo=None):
    """machine -> run ids in order; and how many runs commit order could not place."""
    by_machine = {}
    for run in runs:                        # store.runs gives time order
        by_machine.setdefault(run["machine"], []).append(run)
    if order == "time":
        return {m: [r["id"] for r in rs] for m, rs in by_machine.items()}, 0
    positions = _git_positions(repo or ".")
    cache, out, left_out = {}, {}, 0
    for machine, machine_runs in by_machine.items():
        placed = []
        for seq, run in enumerate(machine_runs):
            index = _commit_index(positions, run["git_sha"], cache)
            if index is None:
                left_out += 1
            else:
                placed.append((index, seq, run["id"]))
        out[machine] = [run_id for _, _, run_id in sorted(placed)]
    return out, left_out


def _group_medians(series_ids, ranks, values):
    """Median of values per (series, rank) group, and the group sizes."""
    order = np.lexsort((values, ranks, series_ids))
    s, r, v = series_ids[order], ranks[order], values[order]
    starts = np.flatnonzero(np.r_[True, (s[1:] != s[:-1]) | (r[1:] != r[:-1])])
    sizes = np.diff(np.r_[starts, len(v)])
    low = v[starts + (sizes - 1) // 2]
    high = v[starts + sizes // 2]
    return s[starts], r[starts], 0.5 * (low + high), sizes


def load(store, options):
    """All wanted series with their per-run values, in run order."""
    runs = store_runs(store, machine=None)
    order, left_out = order_runs(runs, options.order, options.repo)
    wanted = store_series(store, options.machine, options.collective, options.algorithm)
    keys = {row["id"]: row for row in wanted}
    rank_of = {}
    for machine, ids in order.items():
        for index, run_id in enumerate(ids):
            rank_of[run_id] = index
    if not keys:
        return History({r["id"]: r for r in runs}, order, [], options, left_out)
    rows = store.query("SELECT series_id, run_id, p50_us, busbw_factor FROM points")
    data = np.array(rows, dtype=float).reshape(-1, 4)
    # Constant per series (it depends on the collective and the rank count only).
    known = np.isfinite(data[:, 3])
    factors = dict(zip(data[known, 0].astype(np.int64).tolist(), data[known, 3].tolist()))
    # run id -> position in its machine's order (-1: not placed, e.g. not in commit order)
    lookup = np.full(max(rank_of, default=0) + 2, -1, dtype=np.int64)
    lookup[list(rank_of)] = list(rank_of.values())
    wanted_ids = np.array(sorted(keys), dtype=float)
    run_ids = data[:, 1].astype(np.int64)
    ranks = lookup[np.minimum(run_ids, len(lookup) - 1)]
    keep = (ranks >= 0) & np.isin(data[:, 0], wanted_ids)
    data, ranks = data[keep], ranks[keep]
    sid, rnk, med, sizes = _group_medians(data[:, 0].astype(np.int64), ranks, data[:, 2])
    bounds = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1], True])
    series = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        key = keys[int(sid[a])]
        machine_ids = order[key["machine"]]
        series.append(Series(key=key, run_ids=np.array([machine_ids[i] for i in rnk[a:b]]),
                             values=med[a:b], repeats=sizes[a:b],
                             busbw_factor=factors.get(int(sid[a])) or None))
    series.sort(key=lambda s: [s.key[f] for f in ("machine", "collective", "algorithm",
                                                   "dtype", "op", "placement", "timing",
                                                   "backend", "ranks", "nodes", "bytes")])
    return History({r["id"]: r for r in runs}, order, series, options, left_out)


# --- change points ----------------------------------------------------------------------

def _segments(cuts, n):
    bounds = [0] + list(cuts) + [n]
    return list(zip(bounds[:-1], bounds[1:]))


def _effects(values, points, min_effect):
    """Keep change points whose effect reaches min_effect, smallest dropped first."""
    points = list(points)
    while True:
        cuts = [cp.index for cp in points]
        segs = _segments(cuts, len(values))
        effects = []
        for i, cp in enumerate(points):
            before = float(np.median(values[segs[i][0]:segs[i][1]]))
            after = float(np.median(values[segs[i + 1][0]:segs[i + 1][1]]))
            effects.append((after / before - 1.0, before, after))
        small = [i for i, e in enumerate(effects) if abs(e[0]) < min_effect]
        if not small:
            return list(zip(points, effects, segs[:-1], segs[1:]))
        points.pop(min(small, key=lambda i: abs(effects[i][0])))


def _shape(values, index, before_seg, after_seg):
    """'step' or 'drift': does a level shift or a straight line fit the runs around it?"""
    lo = max(before_seg[0], index - _SHAPE_WINDOW)
    hi = min(after_seg[1], index + _SHAPE_WINDOW)
    y = np.log(values[lo:hi])
    if hi - lo < 4:
        return "step"
    split = index - lo
    step_rss = float(((y[:split] - y[:split].mean()) ** 2).sum()
                     + ((y[split:] - y[split:].mean()) ** 2).sum())
    x = np.arange(hi - lo, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    line_rss = float(((y - (slope * x + intercept)) ** 2).sum())
    return "drift" if line_rss < step_rss else "step"


def value_changes(values, options, cache, firsts=None, after=0):
    """Change dicts (without run ids) of one sequence of per-run values.

    after: search only the windows that end after this run.
    """
    found = changepoint.detect_windows(values, options.window, options.p_value,
                                       options.min_runs, options.permutations, cache,
                                       options.min_effect, firsts, after)
    out = []
    for cp, (effect, before, after), seg_before, seg_after in \
            _effects(values, found, options.min_effect):
        out.append({
            "index": cp.index,
            "kind": "regression" if effect > 0 else "improvement",
            "shape": _shape(values, cp.index, seg_before, seg_after),
            "time_change": effect,
            "busbw_change": before / after - 1.0,
            "before_us": before,
            "after_us": after,
            "runs_before": seg_before[1] - seg_before[0],
            "runs_after": seg_after[1] - seg_after[0],
            "p_value": cp.p_value,
            "confidence": 1.0 - cp.p_value,
            "permutations": cp.permutations,
        })
    return out


def series_changes(series, options, cache, firsts=None):
    """Change dicts of one series."""
    values = series.values
    out = value_changes(values, options, cache, firsts)
    for change in out:
        change["run_id"] = int(series.run_ids[change["index"]])
        change["previous_run_id"] = int(series.run_ids[change["index"] - 1])
    _mark_recovery(out, options.min_effect)
    return out


def _mark_recovery(changes, min_effect):
    """A regression is open until a later level is back within min_effect of its start."""
    for i, change in enumerate(changes):
        change["status"] = "open"
        change["recovered_run_id"] = None
        base = change["before_us"]
        for later in changes[i + 1:]:
            ratio = later["after_us"] / base - 1.0
            settled = ratio < min_effect if change["kind"] == "regression" \
                else ratio > -min_effect
            if settled:
                change["status"] = "recovered" if change["kind"] == "regression" \
                    else "lost"
                change["recovered_run_id"] = later["run_id"]
                break


def analyse(store, options):
    """Load the series and find their change points; mark the new regressions."""
    history = load(store, options)
    cache = changepoint.NullCache(options.seed)
    firsts = changepoint.first_tests([s.values for s in history.series], options.window,
                                     options.min_runs)
    for series, first in zip(history.series, firsts):
        series.changes = series_changes(series, options, cache, first)
    _mark_new(history, cache)
    _attach_provenance(store, history)
    return history


def _mark_new(history, cache):
    """A regression is new when the history without its series' latest run lacks it.

    Only series measured in the latest run of their machine, collective and rank layout
    can have a new regression (a CI job may write one file per collective, a Slurm sweep
    one per node count): an algorithm dropped from the sweep long ago does not keep the
    gate failing.
    """
    position = {}
    for machine, ids in history.order.items():
        position.update((run_id, index) for index, run_id in enumerate(ids))
    def group(series):
        return tuple(series.key[f] for f in ("machine", "collective", "ranks", "nodes"))

    newest = {}
    for series in history.series:
        newest[group(series)] = max(newest.get(group(series), -1),
                                    position[int(series.run_ids[-1])])
    for series in history.series:
        for change in series.changes:
            change["new"] = False
        if position[int(series.run_ids[-1])] != newest[group(series)]:
            continue
        n = len(series.values)
        # Windows away from the newest run are the same with or without it: only a
        # change in the last window can be new.
        candidates = [c for c in series.changes if c["kind"] == "regression"
                      and c["status"] == "open" and c["index"] >= n - history.options.window]
        if not candidates:
            continue
        # The same windows as the analysis before the latest run would have searched, as
        # far as they can hold these candidates.
        before = value_changes(series.values[:n - 1], history.options, cache,
                               after=n - 1 - history.options.window) if n > 1 else []
        for change in candidates:
            change["new"] = not any(
                old["kind"] == "regression" and abs(old["index"] - change["index"])
                <= _MATCH_RUNS for old in before)


def _attach_provenance(store, history):
    needed = set()
    for series in history.series:
        for change in series.changes:
            needed.update((change["run_id"], change["previous_run_id"]))
    if not needed:
        return
    volatile = {}
    sample_ids = set()
    for machine, ids in history.order.items():
        sample_ids.update(ids[-provenance.VOLATILITY_RUNS:])
    headers = run_headers(store, needed | sample_ids)
    history.headers = headers
    for machine, ids in history.order.items():
        recent = [headers[i] for i in ids[-provenance.VOLATILITY_RUNS:] if i in headers]
        volatile[machine] = provenance.volatile_fields(recent)
    for series in history.series:
        for change in series.changes:
            change["provenance_diff"] = provenance.diff(
                headers.get(change["previous_run_id"]), headers.get(change["run_id"]),
                volatile.get(series.key["machine"], set()))


def changes_of(history, since=None, kinds=("regression", "improvement")):
    """(series, change) pairs, newest first; `since`: first run after at or after it."""
    out = []
    for series in history.series:
        for change in series.changes:
            if change["kind"] not in kinds:
                continue
            start = history.runs[change["run_id"]]["start_time"]
            if since and start < since:
                continue
            out.append((series, change))
    out.sort(key=lambda sc: (history.runs[sc[1]["run_id"]]["start_time"],
                             abs(sc[1]["time_change"])), reverse=True)
    return out


def series_label(key, with_machine=True):
    from ..units import format_size
    text = (f"{key['collective']}/{key['algorithm']} {key['dtype']} {key['op']} "
            f"{format_size(key['bytes'])} {key['ranks']} ranks")
    if key["nodes"] != 1:
        text += f" {key['nodes']} nodes"
    text += f" {key['placement']}"
    if key["timing"] != "per-call":
        text += f" {key['timing']}"
    if with_machine:
        text = f"[{key['machine']}] " + text
    return text


def to_json(history, since=None):
    """The analysis as plain data (for --json and the site)."""
    out = []
    for series, change in changes_of(history, since):
        item = dict(change)
        item["series"] = {k: v for k, v in series.key.items()}
        run = history.runs[change["run_id"]]
        item["run"] = {k: run[k] for k in ("id", "start_time", "git_sha", "source")}
        out.append(item)
    return json.loads(json.dumps(out))
