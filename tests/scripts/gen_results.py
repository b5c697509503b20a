"""Synthetic collbench result files for the script tests (results/schema/result-v1).

The timing model is the α-β cost of a ring all-reduce / pairwise all-to-all with
multiplicative log-normal noise and a few outliers, so that medians, percentiles and
bandwidths look like a real run's. Two calls with the same model and different seeds are
independent draws from the same distribution: an unchanged re-run.

Run as a script to write a file: gen_results.py OUT.json [--seed N] [--slowdown 1.1 ...]
"""

import argparse
import copy
import json
import math

import numpy as np

KIB = 1024
MIB = 1024 * 1024


def default_sizes(lo=8, hi=4 * MIB):
    sizes, size = [], lo
    while size <= hi:
        sizes.append(size)
        size *= 4
    return sizes


def _model_us(collective, algorithm, nbytes, ranks, alpha_us, gbps):
    n = max(ranks, 1)
    if n == 1:
        return 0.2 + nbytes / (gbps * 1e3) * 0.1
    if collective == "allreduce":
        steps = 2 * (n - 1) if algorithm != "recursive_doubling" else 2 * math.ceil(math.log2(n))
        volume = 2 * (n - 1) / n * nbytes
    else:
        steps = n - 1
        volume = (n - 1) / n * nbytes
    penalty = {"ring": 1.0, "native": 0.8, "recursive_doubling": 1.4}.get(algorithm, 1.1)
    return steps * alpha_us + penalty * volume / (gbps * 1e3)


def _stats(samples):
    s = np.asarray(samples, dtype=float)
    return {
        "min": float(s.min()), "mean": float(s.mean()), "p50": float(np.percentile(s, 50)),
        "p95": float(np.percentile(s, 95)), "p99": float(np.percentile(s, 99)),
        "max": float(s.max()), "stdev": float(s.std(ddof=1)) if len(s) > 1 else 0.0,
    }


def busbw_factor(collective, ranks):
    if ranks <= 1:
        return 1.0 if collective == "allreduce" else 0.0
    return 2.0 * (ranks - 1) / ranks if collective == "allreduce" else (ranks - 1) / ranks


def fill_record(rec, samples):
    """Set samples_us and everything derived from them (time_us, algbw, busbw)."""
    samples = [float(x) for x in samples]
    rec["samples_us"] = samples
    rec["iters"] = len(samples)
    rec["time_us"] = _stats(samples)
    factor = busbw_factor(rec["collective"], rec["ranks"])
    mean, p50 = rec["time_us"]["mean"], rec["time_us"]["p50"]
    rec["algbw_gbps"] = rec["bytes"] / mean / 1e3 if mean > 0 else 0.0
    rec["busbw_gbps"] = rec["algbw_gbps"] * factor
    rec["algbw_p50_gbps"] = rec["bytes"] / p50 / 1e3 if p50 > 0 else 0.0
    rec["busbw_p50_gbps"] = rec["algbw_p50_gbps"] * factor
    rec["busbw_factor"] = factor
    return rec


def make_result(seed=1, collectives=("allreduce",), algorithms=("ring", "native"),
                sizes=None, ranks=(4,), ranks_per_node=2, repeats=1, iters=40, sigma=0.04,
                outlier_rate=0.02, alpha_us=2.0, gbps=10.0, slowdown=None,
                hardware_label=None, cpu_model="Synthetic CPU @ 2.0GHz",
                mpi_library="Open MPI v4.1.4 (synthetic)", nccl_version=None,
                hostname_prefix="node", start_time="2025-01-15T10:00:00Z", backend="mpi",
                dtype="float32", placement="out", reduce_isa=None):
    """A complete result file as a dict. `slowdown` is (factor, min_bytes) or None."""
    rng = np.random.default_rng(seed)
    sizes = list(sizes or default_sizes())
    max_ranks = max(ranks)
    nodes_total = max(1, math.ceil(max_ranks / ranks_per_node))
    hostnames = [f"{hostname_prefix}{r // ranks_per_node:03d}" for r in range(max_ranks)]
    records = []
    for repeat in range(repeats):
        for collective in collectives:
            op = "sum" if collective == "allreduce" else "none"
            for n in ranks:
                nodes = max(1, math.ceil(n / ranks_per_node))
                for algorithm in algorithms:
                    for nbytes in sizes:
                        base = _model_us(collective, algorithm, nbytes, n, alpha_us, gbps)
                        if slowdown and nbytes >= slowdown[1]:
                            base *= slowdown[0]
                        noise = rng.lognormal(0.0, sigma, iters)
                        outliers = rng.random(iters) < outlier_rate
                        noise[outliers] *= rng.uniform(1.5, 3.0, int(outliers.sum()))
                        rec = {
                            "collective": collective, "algorithm": algorithm,
                            "backend": backend, "dtype": dtype, "op": op,
                            "placement": placement, "bytes": int(nbytes),
                            "count": int(nbytes) // 4, "ranks": n, "nodes": nodes,
                            "ranks_per_node": min(n, ranks_per_node), "repeat": repeat,
                            "warmup": 5, "slowest_rank": int(rng.integers(0, n)),
                            "slowest_rank_share": 0.5, "wrong": 0, "first_wrong": None,
                        }
                        records.append(fill_record(rec, base * noise))
    result = {
        "schema": "collbench.result",
        "schema_version": 1,
        "complete": True,
        "failure": None,
        "provenance": {
            "collbench_version": "0.1.0",
            "git_sha": f"synthetic{seed:04d}",
            "command_line": ["collbench", "allreduce", "-b", "8", "-e", "4M"],
            "start_time": start_time,
            "end_time": start_time,
            "backend": backend,
            "mpi_library": mpi_library,
            "nccl_version": nccl_version,
            "compiler": "GCC 12.2.0",
            "cpu_model": cpu_model,
            "hostnames": hostnames,
            "ranks": max_ranks,
            "nodes": nodes_total,
            "ranks_per_node": [min(ranks_per_node, max_ranks - i * ranks_per_node)
                               for i in range(nodes_total)],
            "hardware_label": hardware_label,
            "gpus": [],
        },
        "options": {"warmup": 5, "iters": iters, "check": 1, "rotate_buffers": False,
                    "timeout_s": 60},
        "topology": None,
        "records": records,
    }
    if reduce_isa:  # files from before the field existed have none
        result["provenance"]["reduce_isa"] = reduce_isa
    return result


def resampled_copy(data, rng, slowdown=None):
    """A copy whose samples are drawn with replacement from each record's own samples
    (an unchanged re-run with the same noise distribution); with `slowdown` =
    (factor, min_bytes), records of at least min_bytes are that much slower."""
    out = copy.deepcopy(data)
    for rec in out["records"]:
        samples = np.asarray(rec["samples_us"], dtype=float)
        new = rng.choice(samples, size=len(samples), replace=True)
        if slowdown and rec["bytes"] >= slowdown[1]:
            new = new * slowdown[0]
        fill_record(rec, new)
    return out


def scaled_copy(data, factor, min_bytes=0):
    """Every sample of records >= min_bytes multiplied by `factor` (same noise draw)."""
    out = copy.deepcopy(data)
    for rec in out["records"]:
        if rec["bytes"] >= min_bytes:
            fill_record(rec, [x * factor for x in rec["samples_us"]])
    return out


def write(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slowdown", type=float, default=None)
    parser.add_argument("--slowdown-from", type=int, default=MIB)
    parser.add_argument("--ranks", default="4")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--label", default=None)
    parser.add_argument("--gbps", type=float, default=10.0)
    args = parser.parse_args()
    slowdown = (args.slowdown, args.slowdown_from) if args.slowdown else None
    ranks = tuple(int(x) for x in args.ranks.split(","))
    write(args.out, make_result(seed=args.seed, slowdown=slowdown, ranks=ranks,
                                repeats=args.repeats, hardware_label=args.label,
                                gbps=args.gbps))


if __name__ == "__main__":
    main()
