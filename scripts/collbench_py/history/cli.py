"""collbench-history: the command line (ingest, ls, show, export, changes, site)."""

import argparse
import csv
import json
import os
import re
import sqlite3
import sys
from array import array
from datetime import datetime, timedelta

from .. import InputError, make_parser
from ..units import format_gbps, format_size, format_us
from . import PROG, store as store_mod

DESCRIPTION = """\
Regression tracking over the history of collbench runs.

  ingest RESULT...   put result files (or folders of them) into the store
  ls                 runs in the store (--series: the series)
  show RUN           one run's provenance and records
  export --csv       every point as CSV
  changes            change points per series; exit 1 on a new regression
  site -o DIR        a static HTML dashboard

The store is one SQLite file: --store FILE, else $COLLBENCH_HISTORY, else
results/history.sqlite. See docs/history.md for the method and its measured error rates.
"""

EPILOG = """\
exit status: 0 ok, 1 a new regression in the latest run (changes, site --fail-on-new),
2 unusable input (store, file or option): one line on standard error, the store unchanged
"""

DEFAULT_STORE = os.path.join("results", "history.sqlite")


def _store_path(args):
    return args.store or os.environ.get("COLLBENCH_HISTORY") or DEFAULT_STORE


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def _probability(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be between 0 and 1")
    return value


def _percent(text):
    try:
        value = float(str(text).rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a percentage (e.g. 2 or 2%)") \
            from None
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"{text}: percentage out of range")
    return value / 100.0


_RELATIVE = re.compile(r"^(\d+)([hdw])$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?Z?)?$")


def resolve_since(text, latest_start):
    """ISO date/time, or 12h / 7d / 2w before the newest run; None for no limit."""
    if not text:
        return None
    match = _RELATIVE.match(text)
    if match:
        if not latest_start:
            return None
        hours = int(match.group(1)) * {"h": 1, "d": 24, "w": 168}[match.group(2)]
        latest = datetime.strptime(latest_start[:19], "%Y-%m-%dT%H:%M:%S")
        return (latest - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if _ISO.match(text):
        return text
    raise InputError(f"--since {text}: expected a date (2025-01-31), a time "
                     "(2025-01-31T12:00:00Z) or an age before the newest run (12h, 7d, 2w)")


def _add_store(parser):
    parser.add_argument("--store", "-s", metavar="FILE",
                        help="the store (default $COLLBENCH_HISTORY, else "
                             f"{DEFAULT_STORE})")
    parser.add_argument("--wait", type=float, default=store_mod.DEFAULT_WAIT_S,
                        metavar="SECONDS",
                        help="how long to wait for another process's lock (default 2)")


def add_analysis_options(parser):
    from .analysis import DEFAULT_MIN_EFFECT
    from .changepoint import (DEFAULT_MIN_SIZE, DEFAULT_P_VALUE, DEFAULT_PERMUTATIONS,
                              DEFAULT_SEED, DEFAULT_WINDOW)
    group = parser.add_argument_group("change points")
    group.add_argument("--p-value", type=_probability, default=DEFAULT_P_VALUE,
                       help=f"significance level per split (default {DEFAULT_P_VALUE})")
    group.add_argument("--min-effect", type=_percent, default=DEFAULT_MIN_EFFECT,
                       metavar="PCT", help="ignore changes of the median time smaller than "
                       f"this (default {DEFAULT_MIN_EFFECT * 100:g})")
    group.add_argument("--min-runs", type=_positive_int, default=DEFAULT_MIN_SIZE,
                       metavar="N", help="runs needed on each side of a change (default "
                       f"{DEFAULT_MIN_SIZE}; 1 lets the latest run alone show a change)")
    group.add_argument("--window", type=_positive_int, default=DEFAULT_WINDOW, metavar="N",
                       help="search windows of N runs overlapping by half (default "
                       f"{DEFAULT_WINDOW})")
    group.add_argument("--permutations", type=_positive_int, default=DEFAULT_PERMUTATIONS,
                       metavar="N", help=f"permutations per test (default "
                       f"{DEFAULT_PERMUTATIONS})")
    group.add_argument("--seed", type=int, default=DEFAULT_SEED,
                       help="permutation RNG seed (fixed: the same store gives the same "
                            "answer)")
    group.add_argument("--order", choices=("time", "commit"), default="time",
                       help="run order: start time, or collbench commit order in --repo")
    group.add_argument("--repo", metavar="DIR", help="git repository for --order commit "
                       "(default: the current directory)")
    group.add_argument("--machine", action="append", metavar="NAME",
                       help="only this machine (label or host set; repeatable)")
    group.add_argument("--collective", action="append", metavar="NAME",
                       help="only this collective (repeatable)")
    group.add_argument("--algorithm", action="append", metavar="NAME",
                       help="only this algorithm (repeatable)")


def analysis_options(args):
    from .analysis import Options
    if args.permutations + 1 < 1.0 / args.p_value:
        raise InputError(f"--permutations {args.permutations} cannot reach --p-value "
                         f"{args.p_value}: use at least {int(1.0 / args.p_value) - 1}")
    if args.window < 4 * args.min_runs:
        raise InputError(f"--window {args.window} is too short for --min-runs "
                         f"{args.min_runs}: use at least {4 * args.min_runs}")
    return Options(p_value=args.p_value, min_effect=args.min_effect, min_runs=args.min_runs,
                   window=args.window, permutations=args.permutations, seed=args.seed,
                   order=args.order, repo=args.repo, machine=args.machine,
                   collective=args.collective, algorithm=args.algorithm)


def build_parser():
    parser = make_parser(PROG, DESCRIPTION, EPILOG)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("ingest", help="put result files into the store")
    p.add_argument("inputs", nargs="+", metavar="RESULT", help="result file or folder")
    p.add_argument("--label", metavar="NAME", help="file these runs under NAME (default: "
                   "each run's hardware label, else its host names)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")
    _add_store(p)

    p = sub.add_parser("ls", help="runs (or --series) in the store")
    p.add_argument("--series", action="store_true", help="list series, not runs")
    p.add_argument("--machine", metavar="NAME", help="only this machine")
    p.add_argument("--since", metavar="WHEN", help="runs since a date or age (7d)")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    _add_store(p)

    p = sub.add_parser("show", help="one run's provenance and records")
    p.add_argument("run", metavar="RUN", help="run id (see ls), or 'latest'")
    p.add_argument("--json", action="store_true", help="the stored header and records")
    _add_store(p)

    p = sub.add_parser("export", help="every point as CSV")
    p.add_argument("--csv", action="store_true", help="CSV (the only format; default)")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default stdout)")
    p.add_argument("--samples", action="store_true",
                   help="add a column with every sample (space-separated, µs)")
    p.add_argument("--machine", metavar="NAME", help="only this machine")
    p.add_argument("--collective", metavar="NAME", help="only this collective")
    p.add_argument("--since", metavar="WHEN", help="runs since a date or age (7d)")
    _add_store(p)

    p = sub.add_parser("changes", help="change points; exit 1 on a new regression")
    p.add_argument("--since", metavar="WHEN", help="list changes whose first run after is "
                   "this recent: a date, a time or an age before the newest run (7d)")
    p.add_argument("--markdown", nargs="?", const="-", metavar="FILE",
                   help="write the Markdown report (for a CI summary) to FILE or stdout")
    p.add_argument("--json", metavar="FILE", help="write the changes as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the verdict line")
    add_analysis_options(p)
    _add_store(p)

    p = sub.add_parser("site", help="write the static HTML dashboard")
    p.add_argument("--output", "-o", metavar="DIR", required=True, help="output folder")
    p.add_argument("--title", default="collbench history", help="site title")
    p.add_argument("--fail-on-new", action="store_true",
                   help="exit 1 when a new regression appeared in the latest run")
    add_analysis_options(p)
    _add_store(p)
    return parser


# --- commands ---------------------------------------------------------------------------

def cmd_ingest(args):
    from .ingest import check_files, expand_inputs, ingest, stored_digests
    paths = expand_inputs(args.inputs)
    path = _store_path(args)
    if os.path.exists(path):
        with store_mod.open_store(path, wait_s=args.wait) as store:
            known = stored_digests(store)
    else:
        known = {}
    # Every file is checked before the store is touched (or made): bad input leaves it
    # as it was, or absent.
    runs, present = check_files(paths, args.label, known)

    def report(file_path, status, run_id, records, machine):
        if args.quiet:
            return
        what = {"stored": "stored", "present": "already stored",
                "replaced": "replaced an incomplete copy"}[status]
        print(f"{file_path}: {what} as run {run_id} ({records} records, {machine})")

    with store_mod.open_store(path, create=True, wait_s=args.wait) as store:
        counts = ingest(store, runs, present, report)
        total = store.query("SELECT count(*) FROM runs")[0][0]
    print(f"{PROG}: {counts['stored']} stored, {counts['replaced']} replaced, "
          f"{counts['present']} already present; {total} runs in {store.path}")
    return 0


def _open(args):
    return store_mod.open_store(_store_path(args), wait_s=args.wait)


def _latest_start(store):
    rows = store.query("SELECT max(start_time) FROM runs")
    return rows[0][0] if rows else None


def cmd_ls(args):
    with _open(args) as store:
        if args.series:
            return _ls_series(store, args)
        since = resolve_since(args.since, _latest_start(store))
        runs = store_mod.runs(store, args.machine, since)
    if args.json:
        print(json.dumps(runs, indent=1))
        return 0
    print(f"{'id':>5}  {'start (UTC)':<20} {'machine':<20} {'git SHA':<12} {'records':>7}  "
          f"{'MPI / NCCL':<30} source")
    for run in runs:
        mpi = (run["mpi_library"] or "?").split(",")[0]
        if run["nccl_version"]:
            mpi += f" / NCCL {run['nccl_version']}"
        flag = "" if run["complete"] else " (incomplete)"
        print(f"{run['id']:>5}  {run['start_time']:<20} {run['machine'][:20]:<20} "
              f"{(run['git_sha'] or '?')[:12]:<12} {run['records']:>7}  {mpi[:30]:<30} "
              f"{os.path.basename(run['source'])}{flag}")
    print(f"{len(runs)} run(s)")
    return 0


def _ls_series(store, args):
    from .analysis import series_label
    rows = store_mod.series(store, args.machine)
    counts = dict(store.query("SELECT series_id, count(DISTINCT run_id) FROM points "
                              "GROUP BY series_id"))
    if args.json:
        for row in rows:
            row["runs"] = counts.get(row["id"], 0)
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print(f"{row['id']:>5}  {counts.get(row['id'], 0):>5} runs  {series_label(row)}")
    print(f"{len(rows)} series")
    return 0


def _find_run(store, text):
    if text == "latest":
        rows = store.query("SELECT id FROM runs ORDER BY start_time DESC, id DESC LIMIT 1")
    elif text.isdigit():
        rows = store.query("SELECT id FROM runs WHERE id = ?", (int(text),))
    else:
        raise InputError(f"run '{text}': expected a run id (see ls) or 'latest'")
    if not rows:
        raise InputError(f"run '{text}': no such run in {store.path}")
    return rows[0][0]


_POINT_COLUMNS = ("collective", "algorithm", "dtype", "op", "bytes", "ranks", "nodes",
                  "placement", "timing", "backend", "repeat", "iters", "warmup", "p50_us",
                  "mean_us", "min_us", "max_us", "stdev_us", "busbw_gbps", "busbw_factor",
                  "wrong", "ranks_per_node", "slowest_rank", "slowest_rank_share", "extra")


def _points(store, where, params, samples=False):
    cols = ", ".join(f"s.{c}" if c in store_mod.SERIES_FIELDS else f"p.{c}"
                     for c in _POINT_COLUMNS)
    extra = ", x.samples_us" if samples else ""
    join = (" JOIN samples x ON x.run_id = p.run_id AND x.series_id = p.series_id"
            " AND x.repeat = p.repeat") if samples else ""
    sql = (f"SELECT p.run_id, s.machine, {cols}{extra} FROM points p "
           f"JOIN series s ON s.id = p.series_id JOIN runs r ON r.id = p.run_id{join} "
           f"WHERE {where} ORDER BY r.start_time, r.id, s.collective, s.algorithm, "
           f"s.dtype, s.op, s.placement, s.ranks, s.bytes, p.repeat")
    return store.query(sql, params)


def cmd_show(args):
    with _open(args) as store:
        run_id = _find_run(store, args.run)
        header = store_mod.run_header(store, run_id)
        run = [r for r in store_mod.runs(store) if r["id"] == run_id][0]
        points = _points(store, "p.run_id = ?", (run_id,))
    if args.json:
        records = [dict(zip(("run_id", "machine") + _POINT_COLUMNS, row)) for row in points]
        print(json.dumps({"run": run, "header": header, "records": records}, indent=1))
        return 0
    prov = header.get("provenance", {})
    print(f"run {run_id}: {run['start_time']} .. {run['end_time'] or '?'}, machine "
          f"{run['machine']}, {'complete' if run['complete'] else 'INCOMPLETE'}")
    collbench = f"{prov.get('collbench_version')} {prov.get('git_sha')}"
    for label, value in (("source", run["source"]), ("collbench", collbench),
                         ("MPI", prov.get("mpi_library")),
                         ("NCCL", prov.get("nccl_version")), ("driver", run["driver"]),
                         ("hosts", ", ".join(run["hosts"])), ("CPU", prov.get("cpu_model")),
                         ("command", " ".join(prov.get("command_line") or []))):
        if value not in (None, "", "None"):
            print(f"  {label:<10} {value}")
    print(f"{'collective':<10} {'algorithm':<16} {'dtype':<5} {'op':<4} {'size':>6} "
          f"{'ranks':>5} {'pl':<3} {'rep':>3} {'p50 (us)':>10} {'busbw':>8}")
    for row in points:
        v = dict(zip(("run_id", "machine") + _POINT_COLUMNS, row))
        print(f"{v['collective']:<10} {v['algorithm'][:16]:<16} {v['dtype']:<5} "
              f"{v['op']:<4} {format_size(v['bytes']):>6} {v['ranks']:>5} "
              f"{v['placement']:<3} {v['repeat']:>3} {format_us(v['p50_us']):>10} "
              f"{format_gbps(v['busbw_gbps']):>8}")
    return 0


def cmd_export(args):
    header = ("run_id", "start_time", "machine", "git_sha", "collbench_version",
              "mpi_library", "nccl_version", "driver") + _POINT_COLUMNS[:]
    with _open(args) as store:
        since = resolve_since(args.since, _latest_start(store))
        runs = {r["id"]: r for r in store_mod.runs(store, args.machine, since)}
        where, params = ["1"], []
        if args.machine:
            where.append("s.machine = ?")
            params.append(args.machine)
        if args.collective:
            where.append("s.collective = ?")
            params.append(args.collective)
        if since:
            where.append("r.start_time >= ?")
            params.append(since)
        points = _points(store, " AND ".join(where), params, args.samples)
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(header[:2] + header[2:] + (("samples_us",) if args.samples else ()))
        for row in points:
            run = runs[row[0]]
            values = list(row[2:2 + len(_POINT_COLUMNS)])
            line = [run["id"], run["start_time"], row[1], run["git_sha"],
                    run["collbench_version"], run["mpi_library"], run["nccl_version"],
                    run["driver"]] + values
            if args.samples:
                line.append(" ".join(repr(x) for x in array("d", row[-1] or b"")))
            writer.writerow(line)
    finally:
        if args.output:
            out.close()
    return 0


def _analyse(args, store):
    from .analysis import analyse
    return analyse(store, analysis_options(args))


def _write_text(path, text):
    if path == "-":
        sys.stdout.write(text)
        return
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def cmd_changes(args):
    from . import report
    from .analysis import to_json
    with _open(args) as store:
        history = _analyse(args, store)
        since = resolve_since(args.since, _latest_start(store))
    if not history.series:
        raise InputError(f"{_store_path(args)}: no series" +
                         (" match the filters" if args.machine or args.collective
                          or args.algorithm else " (ingest some results first)"))
    code, line = report.verdict(history, since)
    if args.json:
        payload = {"schema": "collbench.history-changes", "schema_version": 1,
                   "exit_code": code, "verdict": line, "since": since,
                   "left_out_runs": history.left_out, "changes": to_json(history, since)}
        _write_text(args.json, json.dumps(payload, indent=1) + "\n")
    if args.markdown:
        text, _ = report.markdown(history, since)
        _write_text(args.markdown, text)
    if not args.quiet and args.markdown != "-":
        sys.stdout.write(report.text(history, since))
    if history.left_out:
        print(f"{PROG}: note: {history.left_out} run(s) whose collbench SHA is not in the "
              "repository's history were left out of commit order", file=sys.stderr)
    print(f"{PROG}: {line}", file=sys.stderr if args.markdown == "-" else sys.stdout)
    return code


def cmd_site(args):
    from . import report
    from .site import write_site
    with _open(args) as store:
        history = _analyse(args, store)
        if not history.series:
            raise InputError(f"{_store_path(args)}: no series to draw" +
                             (" (filters match nothing)" if args.machine or args.collective
                              or args.algorithm else " (ingest some results first)"))
        pages = write_site(store, history, args.output, args.title)
    code, line = report.verdict(history)
    print(f"{PROG}: wrote {len(pages)} page(s) to {args.output}; {line}")
    return code if args.fail_on_new else 0


COMMANDS = {"ingest": cmd_ingest, "ls": cmd_ls, "show": cmd_show, "export": cmd_export,
            "changes": cmd_changes, "site": cmd_site}


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except sqlite3.Error as exc:
        raise InputError(f"store {_store_path(args)}: SQLite error: {exc}") from None
    except BrokenPipeError:
        raise
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        raise InputError(f"{where}{exc.strerror or exc}") from None
    except MemoryError:
        raise InputError("out of memory") from None
    except (InputError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if os.environ.get("COLLBENCH_DEBUG"):
            raise
        raise InputError(f"internal error ({type(exc).__name__}: {exc}); rerun with "
                         "COLLBENCH_DEBUG=1 for the traceback") from None
