"""bench-history: the figures behind docs/history.md.

  perf        ingest a thousand realistic result files, time changes, site, and the
              biggest page opening in headless Chromium
  rates       detection rates on synthetic histories built from measured noise
  noise       extract the noise file from real result files (tests/data/history-noise.json)

Timings are wall-clock of the command-line tools run as a user would (a fresh process each).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from .. import InputError, make_parser
from . import synth

PROG = "bench-history"
HERE = os.path.dirname(os.path.realpath(__file__))
SCRIPTS = os.path.dirname(os.path.dirname(HERE))
REPO = os.path.dirname(SCRIPTS)
DEFAULT_NOISE = os.path.join(REPO, "tests", "data", "history-noise.json")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")

# Known events in the benchmark's history: (first run as a fraction of the history, or
# runs before its end when negative; collective, algorithm or None, smallest size, factor,
# provenance change).
EVENTS = (
    (0.30, "allreduce", None, 1 << 20, 1.08, {"nccl": "2.21.5"}),
    (0.55, "alltoall", None, 0, 0.94, {"mpi": "Open MPI v5.0.3"}),
    (0.80, "allreduce", "ring", 0, 1.15, {}),
    (0.86, "allreduce", "ring", 0, 1 / 1.15, {}),
    (-4, "alltoall", "pairwise", 1 << 16, 1.12, {}),
)
ALGORITHMS = {"allreduce": ("ring", "recursive_doubling", "rabenseifner", "tree",
                            "MPI_Allreduce"),
              "alltoall": ("linear", "pairwise", "bruck", "hierarchical", "MPI_Alltoall")}


def _tool(*args, timeout=600):
    """(wall s, CPU s of the child: user + system, CompletedProcess)."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.join(SCRIPTS, "collbench-history"),
                          *map(str, args)], capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, out


def _factor(day, files, collective, algorithm, nbytes):
    factor, prov = 1.0, {}
    for where, coll, algo, smallest, change, what in EVENTS:
        start = files + where if where < 0 else int(where * files)
        if day >= start and coll == collective and algo in (None, algorithm) \
                and nbytes >= smallest:
            factor *= change
        if day >= start:
            prov.update(what)
    return factor, prov


def write_files(folder, noise, files, sizes, samples, noise_scale, seed=11):
    """`files` nightly result files of 2 collectives x 5 algorithms x len(sizes) records."""
    rng = np.random.default_rng(seed)
    entries = noise["series"]
    paths = []
    for day in range(files):
        records = []
        prov = {}
        for collective, algorithms in ALGORITHMS.items():
            for number, algorithm in enumerate(algorithms):
                for nbytes in sizes:
                    entry = min(entries, key=lambda e: (abs(np.log2(e["bytes"] / nbytes)),
                                                        e["algorithm"] != algorithm))
                    rel, _ = synth.history(entry, 1, 1, rng)
                    rel = float(rel[0]) ** noise_scale
                    factor, prov = _factor(day, files, collective, algorithm, nbytes)
                    value = synth._model_us(collective, nbytes, 16, number) * rel * factor
                    records.append(synth.record(collective, algorithm, nbytes, 16, 0,
                                                synth.sampled(entry, rng, value, samples)))
        sha = f"{(day // 3) * 2654435761 % (1 << 48):012x}"
        data = synth.result_file(day, synth.day_time(day), records, sha=sha,
                                 mpi=prov.get("mpi", "Open MPI v4.1.4"),
                                 nccl=prov.get("nccl", "2.19.3"), label="bench-box")
        path = os.path.join(folder, f"run-{day:04d}.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        paths.append(path)
    return paths


def chromium_load(page):
    """Wall time of headless Chromium on a blank page and on `page` (best of three), and
    the page's own count: from navigation start to the first frame after its load event
    (performance.now(), written into the DOM)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        return None

    def run(url):
        with tempfile.TemporaryDirectory() as profile:
            start = time.perf_counter()
            out = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                  "--dump-dom", url], capture_output=True, text=True,
                                 timeout=120)
            return time.perf_counter() - start, out.stdout

    blank_dir = tempfile.mkdtemp()
    try:
        blank = os.path.join(blank_dir, "blank.html")
        with open(blank, "w", encoding="utf-8") as handle:
            handle.write("<!DOCTYPE html><html><body>blank</body></html>")
        walls, pages, renders = [], [], []
        for _ in range(3):
            walls.append(run("file://" + blank)[0])
            wall, dom = run("file://" + os.path.abspath(page))
            pages.append(wall)
            match = re.search(r'data-load-ms="(\d+)"', dom)
            renders.append(int(match.group(1)) if match else None)
    finally:
        shutil.rmtree(blank_dir)
    return {"blank_wall_s": round(min(walls), 2), "page_wall_s": round(min(pages), 2),
            "load_ms": min(r for r in renders if r is not None) if any(renders) else None,
            "ready": all(r is not None for r in renders)}


def screenshot(page, out, size="1280,1700"):
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise InputError("--screenshot needs chromium (scripts/setup.sh --test installs it)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                        f"--window-size={size}", f"--screenshot={os.path.abspath(out)}",
                        "file://" + os.path.abspath(page)], capture_output=True, timeout=120)


def perf(args):
    noise = synth.load_noise(args.noise)
    first = max(0, int(args.smallest).bit_length() - 1)
    sizes = [1 << k for k in range(first, first + args.sizes)]
    work = tempfile.mkdtemp(prefix="bench-history-")
    try:
        start = time.perf_counter()
        files = write_files(work, noise, args.files, sizes, args.samples, args.noise_scale)
        made = time.perf_counter() - start
        store = os.path.join(work, "history.sqlite")
        size_mb = sum(os.path.getsize(p) for p in files) / 1e6
        load_before = os.getloadavg()[0]
        ingest_s, ingest_cpu, out = _tool("ingest", "--quiet", work, "--store", store)
        _check(out, "ingest")
        again_s, _, out = _tool("ingest", "--quiet", work, "--store", store)
        _check(out, "ingest again")
        changes_s, changes_cpu, out = _tool("changes", "--quiet", "--store", store, "--json",
                                            os.path.join(work, "changes.json"))
        if out.returncode not in (0, 1):
            _check(out, "changes")
        with open(os.path.join(work, "changes.json"), encoding="utf-8") as handle:
            report = json.load(handle)
        site_s, site_cpu, out = _tool("site", "-o", os.path.join(work, "www"), "--store",
                                      store)
        _check(out, "site")
        pages = [os.path.join(work, "www", p) for p in os.listdir(os.path.join(work, "www"))]
        biggest = max(pages, key=os.path.getsize)
        load = chromium_load(biggest)
        if args.screenshot:
            screenshot(os.path.join(work, "www", "collective-allreduce.html"),
                       args.screenshot)
        result = {
            "files": args.files, "records_per_file": 2 * 5 * len(sizes),
            "sizes": [sizes[0], sizes[-1]],
            "samples_per_record": args.samples, "input_mb": round(size_mb, 1),
            "generate_s": round(made, 1), "ingest_s": round(ingest_s, 2),
            "ingest_cpu_s": round(ingest_cpu, 2), "ingest_again_s": round(again_s, 2),
            "changes_s": round(changes_s, 2), "changes_cpu_s": round(changes_cpu, 2),
            "changes_exit": out.returncode, "change_points": len(report["changes"]),
            "new_regressions": sum(1 for c in report["changes"] if c["new"]),
            "verdict": report["verdict"], "site_s": round(site_s, 2),
            "site_cpu_s": round(site_cpu, 2),
            "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "cores": os.cpu_count(),
            "store_mb": round(os.path.getsize(store) / 1e6, 1),
            "biggest_page": os.path.basename(biggest),
            "biggest_page_mb": round(os.path.getsize(biggest) / 1e6, 2),
            "chromium": load, "noise_scale": args.noise_scale,
        }
        if args.keep:
            result["folder"] = work
        return result
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _check(out, what):
    if out.returncode != 0:
        raise InputError(f"{what} failed ({out.returncode}): "
                         f"{(out.stderr or out.stdout).strip()[-300:]}")


def rates(args):
    from .analysis import Options, value_changes
    from .changepoint import NullCache
    noise = synth.load_noise(args.noise)
    synth.scale_noise(noise, args.noise_scale)
    options = Options(p_value=args.p_value, min_effect=args.min_effect / 100.0)
    cache = NullCache(options.seed)
    start = time.perf_counter()
    rows = synth.detection_rates(noise, lambda v: value_changes(v, options, cache),
                                 trials=args.trials, runs=args.runs)
    keys = ("flat_quiet", "step10_exact", "step10_extra", "step3_exact", "step3_within2")
    mean = {k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys}
    return {"trials": args.trials, "runs": args.runs, "noise": args.noise,
            "noise_scale": args.noise_scale,
            "invocations": noise.get("invocations"), "series": rows, "mean": mean,
            "seconds": round(time.perf_counter() - start, 1)}


def extract(args):
    from ..results import read_result_file
    files = [read_result_file(p) for p in args.inputs]
    files.sort(key=lambda r: r.data["provenance"]["start_time"])
    noise = synth.extract_noise(files)
    if args.placement:
        noise["series"] = [s for s in noise["series"] if s["placement"] == args.placement]
    noise["produced_by"] = args.note or ""
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(noise, handle, separators=(",", ":"))
        handle.write("\n")
    return {"output": args.output, "series": len(noise["series"]),
            "invocations": noise["invocations"]}


def _print_rates(result):
    print(f"{'series':<28} {'spread':>7} {'flat ok':>8} {'10% exact':>10} {'3%x3 exact':>11} "
          f"{'3%x3 ±2':>8}")
    for row in result["series"]:
        name = f"{row['collective']}/{row['algorithm']} {row['bytes']}"
        print(f"{name:<28} {row['spread_pct']:>6.1f}% {row['flat_quiet']:>8.3f} "
              f"{row['step10_exact']:>10.3f} {row['step3_exact']:>11.3f} "
              f"{row['step3_within2']:>8.3f}")
    m = result["mean"]
    print(f"{'mean':<28} {'':>7} {m['flat_quiet']:>8.3f} {m['step10_exact']:>10.3f} "
          f"{m['step3_exact']:>11.3f} {m['step3_within2']:>8.3f}")


def build_parser():
    parser = make_parser(PROG, __doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("perf", help="ingest / changes / site / Chromium timings")
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--sizes", type=int, default=20, help="sizes per algorithm (default 20)")
    p.add_argument("--smallest", type=int, default=8, help="smallest size, a power of two "
                   "(default 8)")
    p.add_argument("--samples", type=int, default=20)
    p.add_argument("--noise", default=DEFAULT_NOISE)
    p.add_argument("--noise-scale", type=float, default=1.0,
                   help="raise the measured ratios to this power (1: as measured)")
    p.add_argument("--keep", action="store_true", help="keep the generated folder")
    p.add_argument("--screenshot", metavar="PNG", help="also a screenshot of the all-reduce "
                   "page (the picture in docs/history.md)")
    p.add_argument("--json", metavar="FILE")
    p = sub.add_parser("rates", help="detection rates on synthetic histories")
    p.add_argument("--noise", default=DEFAULT_NOISE)
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--p-value", type=float, default=0.01)
    p.add_argument("--min-effect", type=float, default=2.0, metavar="PCT")
    p.add_argument("--noise-scale", type=float, default=1.0,
                   help="raise the measured ratios to this power (0.25: a quarter of the "
                        "spread, in log terms; 1: as measured)")
    p.add_argument("--json", metavar="FILE")
    p = sub.add_parser("noise", help="extract a noise file from result files")
    p.add_argument("inputs", nargs="+", metavar="RESULT")
    p.add_argument("--output", "-o", required=True)
    p.add_argument("--placement", choices=("in", "out"))
    p.add_argument("--note", help="how the inputs were made (kept in the file)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    result = {"perf": perf, "rates": rates, "noise": extract}[args.command](args)
    if args.command == "rates":
        _print_rates(result)
    else:
        print(json.dumps(result, indent=1))
    if getattr(args, "json", None):
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)
    return 0
