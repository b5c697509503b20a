"""Synthetic histories from measured noise: for the detection rates and the benchmark.

The noise comes from real runs (`extract_noise`): for every series, each invocation's
per-repeat median times divided by the series' median over all invocations. A synthetic
run draws one whole invocation, so repeats of one run stay as alike as real repeats are
(they share the machine's state), and runs differ as much as real invocations did.
"""

import json
import math

import numpy as np

NOISE_SCHEMA = "collbench.history-noise"
_KEY = ("collective", "algorithm", "placement", "bytes")


# --- noise ------------------------------------------------------------------------------

def extract_noise(result_files, shapes_per_series=4, seed=1):
    """Noise of each series over `result_files` (ResultFile-like: .data dicts), in order."""
    rng = np.random.default_rng(seed)
    per_series = {}
    for result in result_files:
        by_key = {}
        for rec in result.data["records"]:
            key = tuple(rec[k] for k in _KEY)
            by_key.setdefault(key, []).append(rec)
        for key, recs in by_key.items():
            recs.sort(key=lambda r: r.get("repeat", 0))
            per_series.setdefault(key, []).append(recs)
    series = []
    for key, invocations in sorted(per_series.items()):
        repeats = min(len(recs) for recs in invocations)
        table = np.array([[r["time_us"]["p50"] for r in recs[:repeats]]
                          for recs in invocations], dtype=float)
        centre = float(np.median(table))
        shapes = []
        picks = rng.choice(len(invocations), size=min(shapes_per_series, len(invocations)),
                           replace=False)
        for pick in picks:
            rec = invocations[int(pick)][0]
            samples = np.asarray(rec["samples_us"], dtype=float)
            if len(samples) and rec["time_us"]["p50"] > 0:
                shapes.append([round(float(x), 3) for x in samples / rec["time_us"]["p50"]])
        series.append({**dict(zip(_KEY, key)), "median_us": round(centre, 4),
                       "runs": [[round(float(x), 4) for x in row] for row in table / centre],
                       "shapes": shapes})
    return {"schema": NOISE_SCHEMA, "schema_version": 1, "invocations": len(result_files),
            "series": series}


def load_noise(path):
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if data.get("schema") != NOISE_SCHEMA:
        raise ValueError(f"{path}: not a noise file ({NOISE_SCHEMA})")
    for entry in data["series"]:
        entry["runs"] = np.asarray(entry["runs"], dtype=float)
        entry["shapes"] = [np.asarray(s, dtype=float) for s in entry["shapes"]]
    return data


def scale_noise(noise, power):
    """Shrink (power < 1) or grow the measured deviations, in log terms, in place."""
    if power != 1.0:
        for entry in noise["series"]:
            entry["runs"] = entry["runs"] ** power
            entry["shapes"] = [shape ** power for shape in entry["shapes"]]
    return noise


def spread(entry):
    """Run-to-run spread of a noise series: half the 16-84% range of one repeat, in %."""
    lo, hi = np.percentile(entry["runs"][:, 0], [16, 84])
    return 50.0 * (hi - lo)


# --- histories --------------------------------------------------------------------------

def history(entry, runs, repeats, rng, steps=()):
    """(run values, repeat values (runs, repeats)) relative to 1; steps: (first run, factor).

    Each run is one drawn invocation; its first `repeats` repeats are used (one repeat:
    a randomly chosen one of them).
    """
    table = entry["runs"]
    picks = rng.integers(0, len(table), runs)
    if repeats == 1:
        cols = rng.integers(0, table.shape[1], runs)
        rep = table[picks, cols][:, None]
    else:
        rep = table[picks, :repeats]
    rep = rep.copy()
    for start, factor in steps:
        rep[start:] *= factor
    return np.median(rep, axis=1), rep


def detection_rates(noise, detect, trials=200, runs=50, seed=7):
    """Rates per noise series for the three scenarios of docs/history.md.

    detect(values) -> list of change dicts (index, kind). Returns a list of dicts.
    """
    out = []
    for number, entry in enumerate(noise["series"]):
        rng = np.random.default_rng([seed, number])
        row = {k: entry[k] for k in _KEY}
        row["spread_pct"] = round(spread(entry), 2)
        flat = step10 = step10_near = step3 = step3_near = extra10 = 0
        for _ in range(trials):
            values, _ = history(entry, runs, 1, rng)
            flat += not detect(values)
            at = int(rng.integers(runs // 5, runs - runs // 5))
            values, _ = history(entry, runs, 1, rng, [(at, 1.10)])
            found = detect(values)
            hit = any(c["index"] == at and c["kind"] == "regression" for c in found)
            step10 += hit
            step10_near += any(abs(c["index"] - at) <= 1 and c["kind"] == "regression"
                               for c in found)
            extra10 += any(c["index"] != at for c in found)
            values, _ = history(entry, runs, 3, rng, [(at, 1.03)])
            found = detect(values)
            step3 += any(c["index"] == at and c["kind"] == "regression" for c in found)
            step3_near += any(abs(c["index"] - at) <= 2 and c["kind"] == "regression"
                              for c in found)
        row.update(trials=trials, flat_quiet=flat / trials, step10_exact=step10 / trials,
                   step10_within1=step10_near / trials, step10_extra=extra10 / trials,
                   step3_exact=step3 / trials, step3_within2=step3_near / trials)
        out.append(row)
    return out


# --- result files -----------------------------------------------------------------------

def _model_us(collective, nbytes, ranks, algorithm_index):
    """An alpha-beta time with a per-algorithm factor: plausible, not a measurement."""
    n = max(2, ranks)
    steps = 2 * (n - 1) if collective == "allreduce" else n - 1
    volume = (2 if collective == "allreduce" else 1) * (n - 1) / n * nbytes
    return (steps * 2.0 + volume / 10e3) * (1.0 + 0.15 * algorithm_index)


def _stats(samples):
    s = np.sort(samples)
    pick = lambda q: float(np.percentile(s, q))  # noqa: E731
    return {"min": float(s[0]), "mean": float(s.mean()), "p50": pick(50), "p95": pick(95),
            "p99": pick(99), "max": float(s[-1]),
            "stdev": float(s.std(ddof=1)) if len(s) > 1 else 0.0}


def record(collective, algorithm, nbytes, ranks, repeat, samples, dtype="f32"):
    factor = (2.0 if collective == "allreduce" else 1.0) * (ranks - 1) / ranks
    stats = _stats(samples)
    algbw = nbytes / stats["mean"] / 1e3
    return {"collective": collective, "algorithm": algorithm, "backend": "mpi",
            "dtype": dtype, "op": "sum" if collective == "allreduce" else "none",
            "placement": "out", "bytes": int(nbytes), "count": int(nbytes) // 4,
            "ranks": ranks, "nodes": 2, "ranks_per_node": ranks // 2, "repeat": repeat,
            "iters": len(samples), "warmup": 5, "time_us": stats, "algbw_gbps": algbw,
            "busbw_gbps": algbw * factor, "busbw_factor": factor, "wrong": 0,
            "first_wrong": None, "samples_us": [round(float(x), 3) for x in samples]}


def result_file(index, start_time, records, sha="0123456789ab", mpi="Open MPI v4.1.4",
                nccl=None, hosts=("node001", "node002"), label="synthetic", env=None):
    """A schema-v1 result file around `records`."""
    ranks = records[0]["ranks"] if records else 2
    per_node = max(1, ranks // len(hosts))
    environment = {"OMPI_MCA_ess_base_jobid": str(1000 + index)}
    environment.update(env or {})
    return {
        "schema": "collbench.result", "schema_version": 1, "complete": True, "failure": None,
        "provenance": {
            "collbench_version": "0.1.0", "git_sha": sha,
            "command_line": ["collbench", "allreduce", "--json", f"run-{index:04d}.json"],
            "start_time": start_time, "end_time": start_time, "backend": "mpi",
            "mpi_library": mpi, "nccl_version": nccl, "compiler": "GNU 12.2.0",
            "cpu_model": "Synthetic CPU", "hostnames": [h for h in hosts
                                                         for _ in range(per_node)],
            "ranks": ranks, "nodes": len(hosts), "ranks_per_node": [per_node] * len(hosts),
            "hardware_label": label, "environment": environment},
        "options": {"warmup": 5, "iters": 20, "check": 1, "rotate_buffers": True},
        "topology": None, "records": records}


def day_time(day, hour=2):
    """ISO time of a nightly run `day` days after 2025-01-01."""
    base = np.datetime64("2025-01-01T00:00:00") + np.timedelta64(int(day), "D") \
        + np.timedelta64(hour, "h")
    return str(base) + "Z"


def sampled(entry, rng, value_us, iters):
    """`iters` samples around a repeat's median `value_us` in the shape of a real repeat."""
    shape = entry["shapes"][int(rng.integers(0, len(entry["shapes"])))]
    if len(shape) != iters:
        shape = rng.choice(shape, iters)
    return value_us * shape / np.median(shape)


def finite(values):
    return [v for v in values if v is not None and math.isfinite(v)]
