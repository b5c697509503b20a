"""collbench-plot: curves from collbench result files (PNG + SVG + the data as JSON)."""

import json
import os
import sys

from . import InputError, make_parser, write_text
from .results import load_set
from .plot_projection import _draw_projection, _projection_series, load_projections
from .units import format_size, parse_size_list

PROG = "collbench-plot"

DESCRIPTION = """\
Draw curves from one or more collbench result files or folders. Per collective it writes:
  COLL-busbw       bus bandwidth vs message size, one series per algorithm (log2 x axis)
  COLL-latency     time per collective vs message size (log-log)
  COLL-scaling-busbw, COLL-scaling-time
                   bus bandwidth / time vs rank count at a few sizes, when the records hold
                   more than one rank count (--ranks-sweep, or runs at several node counts)
each as NAME.png, NAME.svg and NAME.json (the plotted series and points), plus index.json.
Records of the same point within one INPUT (several files in a folder, --repeat) are
aggregated: the plotted value is their median, the spread is kept in the JSON. Each INPUT
is one source; with several sources the series names carry the source label
(provenance.hardware_label, --label, or the file name).
"""

EPILOG = """\
exit status: 0 figures written, 2 unusable input (nothing plotted)
example: collbench-plot results/runs/ --out plots/ --sizes 1K,1M,64M
"""

FIELD_ORDER = ("source", "algorithm", "backend", "dtype", "op", "placement", "ranks")


# What the size axis means per collective (nccl-tests' size convention, as the result files).
SIZE_LABELS = {
    "allreduce": "message size: each rank's vector (K/M/G = 1024^k)",
    "alltoall": "message size: total bytes each rank sends (K/M/G = 1024^k)",
    "reducescatter": "message size: each rank's input, p blocks (K/M/G = 1024^k)",
    "allgather": "message size: each rank's output, p blocks (K/M/G = 1024^k)",
}

def build_parser():
    parser = make_parser(PROG, DESCRIPTION, EPILOG)
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="result file or folder")
    parser.add_argument("-o", "--out", default="collbench-plots", metavar="DIR",
                        help="output folder (default ./collbench-plots)")
    parser.add_argument("--label", action="append", default=[], metavar="LABEL",
                        help="label of the next INPUT, in order (repeatable)")
    parser.add_argument("--prefix", default="", help="prefix of every output file name")
    parser.add_argument("--collective", action="append", metavar="NAME",
                        help="plot only this collective (repeatable)")
    parser.add_argument("--algorithm", action="append", metavar="NAME",
                        help="plot only this algorithm (repeatable)")
    parser.add_argument("--ranks", type=int, action="append", metavar="N",
                        help="rank count(s) for the size plots (default: the largest)")
    parser.add_argument("--placement", choices=("out", "in", "both"), default=None,
                        help="placement shown in the size plots (default out, or the only one "
                             "present)")
    parser.add_argument("--sizes", metavar="LIST",
                        help="sizes for the scaling curves, e.g. 1K,1M,64M (default: the "
                             "smallest, a middle and the largest size measured at every "
                             "rank count)")
    parser.add_argument("--scaling-metric", choices=("busbw", "time", "both"), default="both",
                        help="what the scaling curves show (default both)")
    parser.add_argument("--time-stat", choices=("p50", "mean", "min", "p95", "p99", "max"),
                        default="p50", help="time statistic for latency/time plots "
                                            "(default p50)")
    parser.add_argument("--bw-stat", choices=("mean", "p50"), default="mean",
                        help="bus bandwidth from the mean time (busbw_gbps, as the console "
                             "prints) or from the median (busbw_p50_gbps); default mean")
    parser.add_argument("--projection", action="append", default=[], metavar="FILE",
                        help="cost-model projection (collbench model predict --json FILE) drawn "
                             "dashed beside the measurements, at the measured rank counts, with "
                             "the calibration record's error band shaded and a cross on points "
                             "beyond every published case (extrapolated)")
    parser.add_argument("--formats", default="png,svg",
                        help="image formats, comma-separated (default png,svg)")
    parser.add_argument("--title", default=None, help="text added to every title")
    return parser


# --- data ---------------------------------------------------------------------------------

def _busbw(rec, stat):
    if stat == "p50":
        if "busbw_p50_gbps" in rec:
            return float(rec["busbw_p50_gbps"])
        p50 = float(rec["time_us"]["p50"])
        factor = rec.get("busbw_factor")
        if factor is None:
            factor = rec["busbw_gbps"] / rec["algbw_gbps"] if rec["algbw_gbps"] else 0.0
        return rec["bytes"] / p50 / 1e3 * factor if p50 > 0 else 0.0
    return float(rec["busbw_gbps"])


def _fields(source, result, rec):
    return {
        "source": source,
        "algorithm": rec["algorithm"],
        "backend": rec.get("backend") or result.provenance.get("backend", "?"),
        "dtype": rec["dtype"],
        "op": rec["op"],
        "placement": rec["placement"],
        "ranks": rec["ranks"],
    }


def _field_text(name, value):
    if name == "placement":
        return {"in": "in-place", "out": "out-of-place"}.get(value, value)
    if name == "ranks":
        return f"{value} ranks"
    if name == "backend":
        return f"backend {value}"
    return str(value)


def _median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


class Entry:
    __slots__ = ("fields", "result", "rec")

    def __init__(self, fields, result, rec):
        self.fields, self.result, self.rec = fields, result, rec


def _varying(entries, names):
    return [name for name in names if len({e.fields[name] for e in entries}) > 1]


def _series_name(fields, varying):
    parts = []
    if "source" in varying:
        parts.append(f"{fields['source']}:")
    parts.append(str(fields["algorithm"]))
    for name in varying:
        if name not in ("source", "algorithm"):
            parts.append(_field_text(name, fields[name]))
    return " ".join(parts)


def _constant_text(entries, names, skip=()):
    parts = []
    for name in names:
        if name in skip or name in ("source", "algorithm"):
            continue
        values = {e.fields[name] for e in entries}
        if len(values) == 1:
            value = next(iter(values))
            if name == "ranks":
                nodes = sorted({e.rec.get("nodes") for e in entries if e.rec.get("nodes")})
                node_text = ""
                if len(nodes) == 1:
                    node_text = f" × {nodes[0]} node{'s' if nodes[0] != 1 else ''}"
                parts.append(f"{value} ranks{node_text}")
            else:
                parts.append(_field_text(name, value))
    return " · ".join(parts)


def _aggregate(entries, value_of, x_of):
    """(series key -> {x: [values]}) -> sorted points with median and spread; the spread's
    last field counts the records flagged unstable at that x (their samples are not one
    regime), which the figures ring in red."""
    buckets, unstable = {}, {}
    for entry in entries:
        x = x_of(entry)
        buckets.setdefault(x, []).append(value_of(entry))
        unstable[x] = unstable.get(x, 0) + (1 if entry.rec.get("stable") is False else 0)
    points, spread = [], []
    for x in sorted(buckets):
        values = buckets[x]
        points.append([x, _median(values)])
        spread.append([x, min(values), max(values), len(values), unstable[x]])
    return points, spread


# --- figures ------------------------------------------------------------------------------

def _draw_series(ax, series):
    """Colour = source and algorithm; line style and marker = the other varying fields
    (placement, ranks, size, ...), so one algorithm keeps its colour in every figure."""
    from .plotting import COLORS, LINESTYLES, MARKERS
    primaries, secondaries = [], []
    for item in series:
        primary = (item["fields"].get("source"), item["fields"].get("algorithm"))
        secondary = tuple(sorted((k, str(v)) for k, v in item["fields"].items()
                                 if k not in ("source", "algorithm")))
        if primary not in primaries:
            primaries.append(primary)
        if secondary not in secondaries:
            secondaries.append(secondary)
    styles = []
    for item in series:
        primary = (item["fields"].get("source"), item["fields"].get("algorithm"))
        secondary = tuple(sorted((k, str(v)) for k, v in item["fields"].items()
                                 if k not in ("source", "algorithm")))
        p_index, s_index = primaries.index(primary), secondaries.index(secondary)
        marker_index = s_index if len(secondaries) > 1 else p_index
        kwargs = {"color": COLORS[p_index % len(COLORS)],
                  "linestyle": LINESTYLES[s_index % len(LINESTYLES)],
                  "marker": MARKERS[marker_index % len(MARKERS)],
                  "markersize": 5, "linewidth": 1.6}
        styles.append(kwargs)
        xs = [p[0] for p in item["points"]]
        ys = [p[1] for p in item["points"]]
        ax.plot(xs, ys, label=item["name"], **kwargs)
        if any(s[3] > 1 for s in item["spread"]):
            low = [y - s[1] for y, s in zip(ys, item["spread"])]
            high = [s[2] - y for y, s in zip(ys, item["spread"])]
            ax.errorbar(xs, ys, yerr=[low, high], fmt="none", ecolor=kwargs["color"],
                        alpha=0.5, capsize=2, linewidth=1)
    _mark_unstable(ax, series)
    return styles


def _mark_unstable(ax, series):
    """Red rings on the points measured unstable (one legend entry for all of them)."""
    xs, ys = [], []
    for item in series:
        for point, spread in zip(item["points"], item["spread"]):
            if len(spread) > 4 and spread[4] > 0:
                xs.append(point[0])
                ys.append(point[1])
    if xs:
        ax.scatter(xs, ys, s=110, facecolors="none", edgecolors="red", linewidths=1.5,
                   zorder=5, label="unstable (samples not one regime)")


def size_figure(kind, collective, entries, args, caption_files):
    from . import plotting
    varying = _varying(entries, FIELD_ORDER)
    groups = {}
    for entry in entries:
        if entry.rec["bytes"] <= 0:
            continue
        key = tuple(entry.fields[name] for name in FIELD_ORDER)
        groups.setdefault(key, []).append(entry)
    if not groups:
        return None
    series = []
    for key in sorted(groups, key=lambda k: tuple(str(v) for v in k)):
        group = groups[key]
        if kind == "busbw":
            points, spread = _aggregate(group, lambda e: _busbw(e.rec, args.bw_stat),
                                        lambda e: e.rec["bytes"])
        else:
            points, spread = _aggregate(group, lambda e: float(e.rec["time_us"][args.time_stat]),
                                        lambda e: e.rec["bytes"])
        series.append({"name": _series_name(group[0].fields, varying),
                       "fields": dict(group[0].fields), "points": points, "spread": spread})
    projection = []
    if args.projections:
        ranks = {e.rec["ranks"] for e in entries}
        projection = _projection_series(args.projections, collective, series, "bytes",
                                        {"gpus": ranks}, kind)
    fig, ax = plotting.new_figure()
    styles = _draw_series(ax, series)
    _draw_projection(ax, projection, series, styles)
    sizes = [p[0] for s in series for p in s["points"]]
    ax.set_xscale("log", base=2)
    plotting.binary_size_axis(ax.xaxis, sizes)
    ax.set_xlabel(SIZE_LABELS.get(collective, "message size (bytes; K/M/G = 1024^k)"))
    if kind == "busbw":
        what = "bus bandwidth"
        ax.set_ylabel(f"bus bandwidth (GB/s, decimal; from {args.bw_stat} time)")
        ax.set_ylim(bottom=0)
        y_label = "busbw_gbps" if args.bw_stat == "mean" else "busbw_p50_gbps"
    else:
        what = "time per call"
        ax.set_yscale("log")
        plotting.log_value_axis(ax.yaxis)
        ax.set_ylabel(f"time per {collective} (µs, {args.time_stat} over iterations)")
        y_label = f"time_us.{args.time_stat}"
    constant = _constant_text(entries, FIELD_ORDER)
    title = f"{collective}: {what} vs message size"
    if args.title:
        title = f"{args.title} — {title}"
    ax.set_title(title + (f"\n{constant}" if constant else ""), fontsize=11)
    plotting.legend_outside(ax)
    caption = plotting.provenance_lines(caption_files)
    plotting.add_caption(fig, caption)
    fig.subplots_adjust(bottom=0.17)
    name = f"{args.prefix}{collective}-{'busbw' if kind == 'busbw' else 'latency'}"
    data = {"kind": kind, "collective": collective, "title": title, "subtitle": constant,
            "caption": caption,
            "x": {"field": "bytes", "scale": "log2", "unit": "bytes"},
            "y": {"field": y_label, "scale": "linear" if kind == "busbw" else "log10",
                  "unit": "GB/s" if kind == "busbw" else "us"},
            "series": series, "projection_series": projection}
    return plotting.save(fig, args.out, name, data, args.formats_list)


def _pick_sizes(entries, requested):
    by_ranks = {}
    for entry in entries:
        by_ranks.setdefault(entry.rec["ranks"], set()).add(entry.rec["bytes"])
    common = set.intersection(*by_ranks.values()) if by_ranks else set()
    if requested:
        present = {e.rec["bytes"] for e in entries}
        missing = [s for s in requested if s not in present]
        if missing:
            known = ", ".join(format_size(s) for s in sorted(present))
            raise InputError(f"--sizes: {', '.join(format_size(s) for s in missing)} not "
                             f"measured (sizes present: {known})")
        return list(requested)
    common = sorted(s for s in common if s > 0)
    if not common:
        return []
    if len(common) <= 3:
        return common
    return [common[0], common[len(common) // 2], common[-1]]


def scaling_figure(metric, collective, entries, sizes, args, caption_files):
    from . import plotting
    chosen = [e for e in entries if e.rec["bytes"] in sizes]
    names = tuple(n for n in FIELD_ORDER if n != "ranks")
    varying = _varying(chosen, names)
    groups = {}
    for entry in chosen:
        key = tuple(entry.fields[name] for name in names) + (entry.rec["bytes"],)
        groups.setdefault(key, []).append(entry)
    series = []
    for key in sorted(groups, key=lambda k: (k[-1],) + tuple(str(v) for v in k[:-1])):
        group = groups[key]
        if metric == "busbw":
            points, spread = _aggregate(group, lambda e: _busbw(e.rec, args.bw_stat),
                                        lambda e: e.rec["ranks"])
        else:
            points, spread = _aggregate(group, lambda e: float(e.rec["time_us"][args.time_stat]),
                                        lambda e: e.rec["ranks"])
        if len(points) < 2:
            continue
        base = _series_name(group[0].fields, varying)
        fields = dict(group[0].fields)
        fields.pop("ranks", None)
        fields["bytes"] = key[-1]
        series.append({"name": f"{base} @ {format_size(key[-1])}", "fields": fields,
                       "points": points, "spread": spread})
    if not series:
        return None
    nodes_of = {}
    for entry in chosen:
        if entry.rec.get("nodes"):
            nodes_of.setdefault(entry.rec["ranks"], entry.rec["nodes"])
    projection = []
    if args.projections:
        projection = _projection_series(args.projections, collective, series, "gpus",
                                        {"bytes": set(sizes)}, metric)
    fig, ax = plotting.new_figure()
    styles = _draw_series(ax, series)
    _draw_projection(ax, projection, series, styles)
    ax.set_xscale("log", base=2)
    plotting.rank_axis(ax.xaxis, [p[0] for s in series + projection for p in s["points"]],
                       nodes_of)
    ax.set_xlabel("ranks")
    if metric == "busbw":
        ax.set_ylabel(f"bus bandwidth (GB/s, decimal; from {args.bw_stat} time)")
        ax.set_ylim(bottom=0)
        y_field = "busbw_gbps" if args.bw_stat == "mean" else "busbw_p50_gbps"
        what = "bus bandwidth"
    else:
        ax.set_yscale("log")
        plotting.log_value_axis(ax.yaxis)
        ax.set_ylabel(f"time per {collective} (µs, {args.time_stat} over iterations)")
        y_field = f"time_us.{args.time_stat}"
        what = "time per call"
    constant = _constant_text(chosen, names)
    title = f"{collective}: {what} vs rank count (scaling)"
    if args.title:
        title = f"{args.title} — {title}"
    ax.set_title(title + (f"\n{constant}" if constant else ""), fontsize=11)
    plotting.legend_outside(ax)
    caption = plotting.provenance_lines(caption_files)
    plotting.add_caption(fig, caption)
    fig.subplots_adjust(bottom=0.17)
    name = f"{args.prefix}{collective}-scaling-{metric}"
    data = {"kind": f"scaling-{metric}", "collective": collective, "title": title,
            "subtitle": constant, "caption": caption, "sizes": list(sizes),
            "nodes_of_ranks": {str(k): v for k, v in sorted(nodes_of.items())},
            "x": {"field": "ranks", "scale": "log2", "unit": "ranks"},
            "y": {"field": y_field, "scale": "linear" if metric == "busbw" else "log10",
                  "unit": "GB/s" if metric == "busbw" else "us"},
            "series": series, "projection_series": projection}
    return plotting.save(fig, args.out, name, data, args.formats_list)


def _placed(entries, args, collective):
    """Keep one placement (default out-of-place, or whichever is present)."""
    if args.placement == "both":
        return entries
    wanted = [e for e in entries if e.rec["placement"] == args.placement]
    if wanted:
        return wanted
    if args.placement_given:
        present = ", ".join(sorted({e.rec["placement"] for e in entries}))
        raise InputError(f"--placement {args.placement}: no {collective} records with that "
                         f"placement (present: {present})")
    return entries


# --- main ---------------------------------------------------------------------------------

def main(argv=None):
    args = build_parser().parse_args(argv)
    args.placement_given = args.placement is not None
    args.placement = args.placement or "out"
    if len(args.label) > len(args.inputs):
        raise InputError(f"{len(args.label)} --label values for {len(args.inputs)} inputs")
    args.formats_list = tuple(f.strip().lower() for f in args.formats.split(",") if f.strip())
    for fmt in args.formats_list:
        if fmt not in ("png", "svg", "pdf"):
            raise InputError(f"--formats: unknown image format '{fmt}' (png, svg, pdf)")
    if not args.formats_list:
        raise InputError(f"--formats {args.formats!r}: no image format (png, svg, pdf)")
    if "/" in args.prefix or args.prefix in (".", ".."):
        raise InputError(f"--prefix {args.prefix}: a file-name prefix cannot name folders "
                         "(use -o for the folder)")
    try:
        sizes = parse_size_list(args.sizes) if args.sizes else []
    except InputError as exc:
        raise InputError(f"--sizes {args.sizes}: {exc}") from None
    args.projections = load_projections(args.projection)

    sets = []
    for index, source in enumerate(args.inputs):
        label = args.label[index] if index < len(args.label) else None
        sets.append(load_set(source, label))
    labels = [s.label for s in sets]
    for index, label in enumerate(labels):  # two inputs with one label stay apart
        if labels.count(label) > 1:
            sets[index].label = f"{label} [{index + 1}]"

    entries = []
    for result_set in sets:
        for result, rec in result_set.records():
            if args.collective and rec["collective"] not in args.collective:
                continue
            if args.algorithm and rec["algorithm"] not in args.algorithm:
                continue
            entries.append(Entry(_fields(result_set.label, result, rec), result, rec))
    if not entries:
        filtered = " after the --collective/--algorithm filters" \
            if args.collective or args.algorithm else ""
        raise InputError(f"no records to plot in {', '.join(args.inputs)}{filtered}")

    written, figures, notes = [], [], []
    collectives = sorted({e.rec["collective"] for e in entries})
    scaling_sizes = {}
    for collective in collectives:  # check --sizes before writing anything
        mine = _placed([e for e in entries if e.rec["collective"] == collective], args,
                       collective)
        if len({e.rec["ranks"] for e in mine}) > 1:
            scaling_sizes[collective] = _pick_sizes(mine, sizes)
    for collective in collectives:
        mine = _placed([e for e in entries if e.rec["collective"] == collective], args,
                       collective)
        caption_files = []
        for entry in mine:
            if entry.result not in caption_files:
                caption_files.append(entry.result)
        rank_counts = sorted({e.rec["ranks"] for e in mine})
        if args.ranks:
            size_entries = [e for e in mine if e.rec["ranks"] in args.ranks]
            if not size_entries:
                raise InputError(f"--ranks {args.ranks}: no {collective} records at those "
                                 f"rank counts (present: {rank_counts})")
        elif len(rank_counts) > 1:
            size_entries = [e for e in mine if e.rec["ranks"] == rank_counts[-1]]
            notes.append(f"{collective}: size plots show {rank_counts[-1]} ranks only "
                         f"(rank counts present: {rank_counts}; --ranks picks others)")
        else:
            size_entries = mine

        for kind in ("busbw", "latency"):
            paths = size_figure(kind, collective, size_entries, args, caption_files)
            if paths:
                written.extend(paths)
                figures.append(os.path.splitext(os.path.basename(paths[0]))[0])
        if len(rank_counts) > 1:
            chosen = scaling_sizes[collective]
            metrics = ("busbw", "time") if args.scaling_metric == "both" \
                else (args.scaling_metric,)
            for metric in metrics:
                paths = scaling_figure(metric, collective, mine, chosen, args, caption_files)
                if paths:
                    written.extend(paths)
                    figures.append(os.path.splitext(os.path.basename(paths[0]))[0])
        elif sizes:
            notes.append(f"{collective}: one rank count ({rank_counts[0]}), no scaling curve")
    if not figures:
        raise InputError(f"nothing to plot in {', '.join(args.inputs)} (all sizes are 0 "
                         "bytes?)")
    index_path = os.path.join(args.out, f"{args.prefix}index.json")
    write_text(index_path, json.dumps({"schema": "collbench.plot-index", "schema_version": 1,
                                       "inputs": args.inputs,
                                       "labels": [s.label for s in sets],
                                       "figures": figures, "notes": notes}, indent=1) + "\n")
    for note in notes:
        sys.stderr.write(f"{PROG}: note: {note}\n")
    for figure in figures:
        sys.stdout.write(f"{PROG}: wrote {os.path.join(args.out, figure)}."
                         f"{{{','.join(args.formats_list)},json}}\n")
    return 0
