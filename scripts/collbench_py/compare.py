"""collbench-compare: the regression gate between a baseline and a current result set."""

import argparse
import json
import math
import sys
import zlib

from . import InputError, check_output, filters_text, make_parser, write_text
from .results import KEY_FIELDS, group_records, key_text, load_set, sort_key
from .units import format_ratio, format_size, format_us, parse_size

PROG = "collbench-compare"
MIN_SAMPLES = 3

DESCRIPTION = """\
Compare a CURRENT collbench run with a BASELINE and decide whether it got slower.

Records are matched by (collective, algorithm, dtype, op, bytes, ranks, placement); records
with the same key in one set (several files, or --repeat repetitions) are pooled as runs of
one point. Per point: the ratio of median times current/baseline, with a confidence
interval from a two-level bootstrap of samples_us (runs, then iterations), on a fixed seed.
A point regresses only when BOTH the ratio exceeds the threshold AND the slowdown is
significant: the interval's lower bound is above 1 (with --strict: above 1 + threshold).
Intervals are Bonferroni-adjusted over all compared points, so the chance of any false
alarm in a comparison of unchanged runs stays near --alpha or below.
"""

EPILOG = """\
exit status: 0 no regression, 1 regression (or wrong results in CURRENT), 2 unusable input
example: collbench-compare results/reference/ci-baseline.json results/runs/ --markdown report.md
"""


def _percent(text):
    try:
        value = float(str(text).rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a percentage (e.g. 5 or 5%)")
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"{text}: percentage out of range")
    return value


def _size(text):
    try:
        return parse_size(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc))


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number")
    if not 0 <= value < 2 ** 63:
        raise argparse.ArgumentTypeError(f"{text}: must be between 0 and 2^63 - 1")
    return value


def _unit_interval(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be between 0 and 1")
    return value


def build_parser():
    parser = make_parser(PROG, DESCRIPTION, EPILOG)
    parser.add_argument("baseline", metavar="BASELINE", help="result file or folder")
    parser.add_argument("current", metavar="CURRENT", help="result file or folder")
    parser.add_argument("--threshold", type=_percent, default=5.0, metavar="PCT",
                        help="slowdown (%%) a point must exceed to regress (default 5)")
    parser.add_argument("--small-threshold", type=_percent, default=10.0, metavar="PCT",
                        help="threshold for sizes below --small-bytes (default 10)")
    parser.add_argument("--small-bytes", type=_size, default=64 * 1024, metavar="SIZE",
                        help="sizes below this are latency-bound (default 64K)")
    parser.add_argument("--alpha", type=_unit_interval, default=0.05,
                        help="family-wise false-alarm level over all points (default 0.05)")
    parser.add_argument("--strict", action="store_true",
                        help="require the interval's lower bound above 1 + threshold")
    parser.add_argument("--resamples", type=int, default=1000, metavar="N",
                        help="bootstrap resamples per point (default 1000)")
    parser.add_argument("--seed", type=_seed, default=20240601,
                        help="bootstrap RNG seed (fixed, so verdicts are reproducible)")
    parser.add_argument("--collective", action="append", metavar="NAME",
                        help="compare only this collective (repeatable)")
    parser.add_argument("--algorithm", action="append", metavar="NAME",
                        help="compare only this algorithm (repeatable)")
    parser.add_argument("--markdown", metavar="FILE",
                        help="write the Markdown report here (default: standard output)")
    parser.add_argument("--json", metavar="FILE", help="write the JSON report here")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the verdict line on standard output")
    return parser


# --- analysis -----------------------------------------------------------------------------

def _runs(entries):
    """Sample arrays of one point's records; a record without samples contributes its p50."""
    import numpy as np
    runs = []
    for _, rec in entries:
        samples = rec.get("samples_us")
        if samples is not None and len(samples) > 0:
            runs.append(np.asarray(samples, dtype=float))
        else:
            runs.append(np.array([float(rec["time_us"]["p50"])]))
    return runs


def _provenance_summary(result_set):
    def one(name):
        values = [v for v in result_set.provenance_values(name) if v not in (None, "")]
        return ", ".join(str(v) for v in values) if values else "–"
    hosts = []
    for result in result_set.files:
        for host in result.provenance.get("hostnames") or []:
            if host not in hosts:
                hosts.append(host)
    host_text = ", ".join(hosts[:3]) + (f" +{len(hosts) - 3}" if len(hosts) > 3 else "")
    dates = sorted({(r.provenance.get("start_time") or "?")[:10] for r in result_set.files})
    return {
        "source": result_set.source,
        "label": result_set.label,
        "files": len(result_set.files),
        "hosts": host_text or "?",
        "dates": ", ".join(dates),
        "mpi_library": one("mpi_library"),
        "nccl_version": one("nccl_version"),
        "reduce_isa": one("reduce_isa"),
        "git_sha": one("git_sha"),
        "collbench_version": one("collbench_version"),
    }


_HW_FIELDS = (("cpu_model", "CPU model"), ("gpus", "GPUs"), ("hardware_label", "hardware label"),
              ("mpi_library", "MPI library"), ("nccl_version", "NCCL version"),
              ("backend", "backend"), ("reduce_isa", "host reduction kernels"))


def _environment_warnings(base, cur):
    warnings = []
    for name, title in _HW_FIELDS:
        b = [v for v in base.provenance_values(name) if v not in (None, "", "[]")]
        c = [v for v in cur.provenance_values(name) if v not in (None, "", "[]")]
        if b != c and (b or c):
            warnings.append(f"{title} differs: baseline {_short(b)} vs current {_short(c)}")
    for name, title in (("iters", "timed iterations"), ("warmup", "warm-up iterations"),
                        ("rotate_buffers", "buffer rotation"), ("buffer_passes", "buffer passes")):
        b = sorted({json.dumps(r.data.get("options", {}).get(name)) for r in base.files})
        c = sorted({json.dumps(r.data.get("options", {}).get(name)) for r in cur.files})
        if b != c:
            warnings.append(f"{title} differ: baseline {', '.join(b)} vs current {', '.join(c)}")
    for label, result_set in (("baseline", base), ("current", cur)):
        for result in result_set.files:
            if not result.complete:
                why = result.data.get("failure") or "no reason given"
                warnings.append(f"{label} file {result.path} is incomplete ({why})")
    return warnings


def _short(values):
    text = ", ".join(str(v) for v in values) if values else "(none)"
    return text if len(text) <= 120 else text[:117] + "..."


def _layout(entries):
    shapes = set()
    for _, rec in entries:
        shapes.add((rec.get("nodes"), rec.get("ranks_per_node")))
    return shapes


def _layout_text(shapes):
    parts = []
    for nodes, per_node in sorted(shapes, key=str):
        text = f"{nodes} node{'s' if nodes != 1 else ''}"
        if per_node is not None:
            text += f" × {per_node}/node"
        parts.append(text)
    return ", ".join(parts)


def _timing_modes(groups):
    # Files from before --timing existed timed every call: per-call.
    return {rec.get("timing", "per-call") for entries in groups.values() for _, rec in entries}


def _same_timing(args, base, cur):
    """Times taken under different --timing modes measure different quantities (a loop
    average is not a per-iteration maximum): such sets are not compared."""
    b, c = _timing_modes(base), _timing_modes(cur)
    if len(b) > 1 or len(c) > 1 or b != c:
        raise InputError(
            f"different timing modes: {args.baseline} has --timing {', '.join(sorted(b))}, "
            f"{args.current} has --timing {', '.join(sorted(c))}; compare runs of one mode")


def analyse(args):
    def wanted(rec):
        if args.collective and rec["collective"] not in args.collective:
            return False
        if args.algorithm and rec["algorithm"] not in args.algorithm:
            return False
        return True

    base_set = load_set(args.baseline, array_samples=True)
    cur_set = load_set(args.current, array_samples=True)
    base = group_records(base_set, wanted)
    cur = group_records(cur_set, wanted)
    _same_timing(args, base, cur)
    common = sorted(set(base) & set(cur), key=sort_key)
    only_base = sorted(set(base) - set(cur), key=sort_key)
    only_cur = sorted(set(cur) - set(base), key=sort_key)
    if not base:
        raise InputError(f"{args.baseline}: no records{filters_text(args)}")
    if not cur:
        raise InputError(f"{args.current}: no records{filters_text(args)}")
    if not common:
        raise InputError(
            f"no matching points: {args.baseline} ({len(base)} points) and {args.current} "
            f"({len(cur)} points) share no (collective, algorithm, dtype, op, bytes, ranks, "
            f"placement); e.g. baseline {key_text(sorted(base, key=sort_key)[0])}, current "
            f"{key_text(sorted(cur, key=sort_key)[0])}")

    warnings = _environment_warnings(base_set, cur_set)
    layout_diffs = []
    for key in common:
        b, c = _layout(base[key]), _layout(cur[key])
        if b != c:
            layout_diffs.append(f"{key_text(key)}: baseline {_layout_text(b)} vs current "
                                f"{_layout_text(c)}")
    if layout_diffs:
        warnings.append(f"rank layout differs at {len(layout_diffs)} point(s), e.g. "
                        f"{layout_diffs[0]}")
    for label, skipped in (("baseline", base_set.skipped), ("current", cur_set.skipped)):
        for path, why in skipped:
            warnings.append(f"{label}: skipped {path} ({why})")

    tested = [key for key in common
              if sum(len(r) for r in _runs(base[key])) >= MIN_SAMPLES
              and sum(len(r) for r in _runs(cur[key])) >= MIN_SAMPLES]
    family = max(1, len(tested))
    import numpy as np
    from .stats import ratio_test

    points = []
    for key in common:
        fields = dict(zip(KEY_FIELDS, key))
        threshold = (args.small_threshold if fields["bytes"] < args.small_bytes
                     else args.threshold) / 100.0
        base_runs, cur_runs = _runs(base[key]), _runs(cur[key])
        point = dict(fields)
        point["threshold"] = threshold
        point["baseline_runs"] = len(base_runs)
        point["current_runs"] = len(cur_runs)
        point["baseline_samples"] = sum(len(r) for r in base_runs)
        point["current_samples"] = sum(len(r) for r in cur_runs)
        wrong = sum(max(0, int(rec.get("wrong", 0))) for _, rec in cur[key])
        point["current_wrong"] = wrong
        if key in tested:
            seed = [args.seed, zlib.crc32(key_text(key).encode())]
            result = ratio_test(base_runs, cur_runs, family, args.alpha, args.resamples,
                                np.random.default_rng(seed))
        else:
            result = None
        if result is None:
            from .stats import pooled_median
            b_med, c_med = pooled_median(base_runs), pooled_median(cur_runs)
            point.update(baseline_median_us=b_med, current_median_us=c_med,
                         ratio=(c_med / b_med) if b_med > 0 else None,
                         lower=None, upper=None, status="untested")
        else:
            point.update(result)
            bound = 1.0 + threshold if args.strict else 1.0
            faster_bound = 1.0 / (1.0 + threshold) if args.strict else 1.0
            ratio = result["ratio"]
            if ratio > 1.0 + threshold and result["lower"] > bound:
                point["status"] = "regression"
            elif ratio < 1.0 / (1.0 + threshold) and result["upper"] < faster_bound:
                point["status"] = "improvement"
            elif ratio > 1.0 + threshold or ratio < 1.0 / (1.0 + threshold):
                point["status"] = "not significant"
            else:
                point["status"] = "ok"
        # A point whose samples switched regime (or whose repeats disagree) on either side is
        # reported apart: its median is not one number, so it must not decide the verdict.
        unstable = [side for side, recs in (("baseline", base[key]), ("current", cur[key]))
                    if any(rec.get("stable") is False for _, rec in recs)]
        if unstable:
            point["unstable"] = unstable
            point["status"] = "unstable"
        if wrong > 0:
            point["status"] = "wrong results"
        points.append(point)

    untested = [p for p in points if p["status"] == "untested"]
    if untested:
        warnings.append(f"{len(untested)} point(s) have fewer than {MIN_SAMPLES} samples on a "
                        "side and were not tested (ratio shown only)")
    return {
        "schema": "collbench.compare",
        "schema_version": 1,
        "baseline": _provenance_summary(base_set),
        "current": _provenance_summary(cur_set),
        "rule": {
            "threshold": args.threshold / 100.0,
            "small_threshold": args.small_threshold / 100.0,
            "small_bytes": args.small_bytes,
            "alpha": args.alpha,
            "strict": args.strict,
            "family_size": family,
            "resamples": args.resamples,
            "seed": args.seed,
            "statistic": "median of samples_us (max over ranks per iteration)",
        },
        "points": points,
        "only_baseline": [dict(zip(KEY_FIELDS, k)) for k in only_base],
        "only_current": [dict(zip(KEY_FIELDS, k)) for k in only_cur],
        "warnings": warnings,
    }


def verdict(report):
    points = report["points"]
    bad = [p for p in points if p["status"] == "regression"]
    wrong = [p for p in points if p["status"] == "wrong results"]
    improved = sum(1 for p in points if p["status"] == "improvement")
    unstable = sum(1 for p in points if p["status"] == "unstable")
    noisy = sum(1 for p in points if p["status"] == "not significant")
    extras = []
    if improved:
        extras.append(f"{improved} improved")
    if noisy:
        extras.append(f"{noisy} beyond threshold but not significant")
    if unstable:
        extras.append(f"{unstable} unstable point(s) reported apart (samples not one regime: "
                      "rerun them with --stable)")
    if report["only_baseline"]:
        extras.append(f"{len(report['only_baseline'])} only in baseline")
    if report["only_current"]:
        extras.append(f"{len(report['only_current'])} only in current")
    if report["warnings"]:
        extras.append(f"{len(report['warnings'])} warning(s)")
    tail = f" ({'; '.join(extras)})" if extras else ""
    if bad or wrong:
        parts = []
        if bad:
            worst = max(bad, key=lambda p: p["ratio"])
            parts.append(f"{len(bad)} of {len(points)} points slower; worst "
                         f"{_point_text(worst)} {format_ratio(worst['ratio'])} "
                         f"[{worst['lower']:.3f}, {worst['upper']:.3f}]")
        if wrong:
            parts.append(f"{len(wrong)} point(s) with wrong results in current")
        code = 1
        text = f"REGRESSION: {'; '.join(parts)}{tail}"
    else:
        code = 0
        text = f"OK: no regression in {len(points)} points{tail}"
    return code, text


def _point_text(p):
    return (f"{p['collective']}/{p['algorithm']} {p['dtype']} {p['op']} "
            f"{format_size(p['bytes'])} {p['ranks']} ranks {p['placement']}")


# --- output -------------------------------------------------------------------------------

_STATUS_MARK = {"regression": "🔴 regression", "improvement": "🟢 improvement",
                "unstable": "🟡 unstable (not judged)",
                "not significant": "⚪ not significant", "ok": "ok",
                "untested": "untested", "wrong results": "🔴 wrong results"}


def _table(points):
    lines = ["| collective | algorithm | dtype | op | size | ranks | placement | baseline p50 µs "
             "| current p50 µs | ratio | interval | status |",
             "|---|---|---|---|---:|---:|---|---:|---:|---:|---|---|"]
    for p in points:
        interval = (f"[{p['lower']:.3f}, {p['upper']:.3f}]" if p.get("lower") is not None
                    else "–")
        ratio = format_ratio(p["ratio"]) if p.get("ratio") is not None else "–"
        lines.append(
            f"| {p['collective']} | {p['algorithm']} | {p['dtype']} | {p['op']} | "
            f"{format_size(p['bytes'])} | {p['ranks']} | {p['placement']} | "
            f"{format_us(p['baseline_median_us'])} | {format_us(p['current_median_us'])} | "
            f"{ratio} | {interval} | {_STATUS_MARK.get(p['status'], p['status'])} |")
    return lines


def markdown(report, verdict_text):
    rule = report["rule"]
    b, c = report["baseline"], report["current"]
    lines = [f"## collbench regression check: {verdict_text}", ""]
    lines.append("| | baseline | current |")
    lines.append("|---|---|---|")
    for name, title in (("source", "source"), ("label", "label"), ("files", "files"),
                        ("hosts", "hosts"), ("dates", "date"), ("mpi_library", "MPI"),
                        ("nccl_version", "NCCL"), ("reduce_isa", "reduce kernels"),
                        ("collbench_version", "collbench"),
                        ("git_sha", "git")):
        lines.append(f"| {title} | {b[name]} | {c[name]} |")
    lines.append("")
    strict = " the interval's lower bound is above 1 + threshold" if rule["strict"] else \
        " the slowdown is significant (interval above 1)"
    lines.append(
        f"Rule: a point regresses when its median time is more than "
        f"{rule['threshold'] * 100:g}% slower ({rule['small_threshold'] * 100:g}% below "
        f"{format_size(rule['small_bytes'])}) and{strict}. Intervals: "
        f"{(1 - rule['alpha']) * 100:g}% family-wise over {rule['family_size']} points "
        f"(Bonferroni), bootstrap of samples_us with {rule['resamples']} resamples, "
        f"seed {rule['seed']}.")
    lines.append("")
    if report["warnings"]:
        lines.append("### Warnings")
        lines.append("")
        lines.extend(f"- {w}" for w in report["warnings"])
        lines.append("")
    flagged = [p for p in report["points"]
               if p["status"] in ("regression", "wrong results", "improvement", "unstable",
                                  "not significant")]
    if flagged:
        lines.append("### Points beyond the threshold")
        lines.append("")
        lines.extend(_table(flagged))
        lines.append("")
    lines.append("<details><summary>All {} compared points</summary>".format(
        len(report["points"])))
    lines.append("")
    lines.extend(_table(report["points"]))
    lines.append("")
    lines.append("</details>")
    lines.append("")
    for side, title in (("only_baseline", "Only in baseline"), ("only_current",
                                                                 "Only in current")):
        missing = report[side]
        if missing:
            lines.append(f"### {title} ({len(missing)})")
            lines.append("")
            for fields in missing[:200]:
                lines.append(f"- {_point_text(fields)}")
            if len(missing) > 200:
                lines.append(f"- … and {len(missing) - 200} more")
            lines.append("")
    return "\n".join(lines)


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _write(path, text):
    write_text(path, text)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not 100 <= args.resamples <= 1_000_000:
        raise InputError(f"--resamples {args.resamples}: use 100 to 1000000")
    for flag, path in (("--markdown", args.markdown), ("--json", args.json)):
        if path:
            check_output(path, flag)
    report = analyse(args)
    code, text = verdict(report)
    report["verdict"] = text
    report["exit_code"] = code
    md = markdown(report, text)
    if args.markdown:
        _write(args.markdown, md + "\n")
    elif not args.quiet:
        sys.stdout.write(md + "\n")
    if args.json:
        _write(args.json, json.dumps(_json_safe(report), indent=1) + "\n")
    for warning in report["warnings"]:
        sys.stderr.write(f"{PROG}: warning: {warning}\n")
    sys.stdout.write(f"{PROG}: {text}\n")
    sys.stdout.flush()
    return code
