"""collbench-hwcompare: busbw of several result sets (hardware generations) side by side."""

import json
import math
import os
import sys

from . import InputError, check_output, filters_text, make_parser, write_text
from .results import load_set
from .units import format_gbps, format_size

PROG = "collbench-hwcompare"

DESCRIPTION = """\
Compare the bus bandwidth of several result sets (one per hardware generation or cluster),
normalized to a baseline set. Each SET is a result file or folder; its label is the next
--label, else provenance.hardware_label (collbench --label), else the file name.

Points are matched by (collective, algorithm, dtype, op, placement, ranks, bytes); repeats
inside a set are aggregated by their median. Output: a Markdown table (stdout or
--markdown), a one-paragraph summary, an optional JSON report, and a figure OUT/hwcompare
(PNG, SVG and the plotted data as JSON): busbw vs size per set and busbw / baseline.
"""

EPILOG = """\
exit status: 0 written, 2 unusable input
example: collbench-hwcompare h100.json b200.json --baseline H100 --out plots/
"""

GROUP_FIELDS = ("collective", "algorithm", "dtype", "op", "placement", "ranks")


def build_parser():
    parser = make_parser(PROG, DESCRIPTION, EPILOG)
    parser.add_argument("sets", nargs="+", metavar="SET", help="result file or folder")
    parser.add_argument("--label", action="append", default=[], metavar="LABEL",
                        help="label of the next SET, in order (repeatable)")
    parser.add_argument("--baseline", metavar="LABEL",
                        help="label of the set the others are normalized to (default: first)")
    parser.add_argument("--collective", action="append", metavar="NAME",
                        help="only this collective (repeatable)")
    parser.add_argument("--algorithm", action="append", metavar="NAME",
                        help="only this algorithm (repeatable)")
    parser.add_argument("--best", action="store_true",
                        help="per set and size take the best algorithm instead of matching "
                             "algorithms by name")
    parser.add_argument("--ignore-ranks", action="store_true",
                        help="match points across different rank counts (each set's largest "
                             "rank count is used)")
    parser.add_argument("--bw-stat", choices=("mean", "p50"), default="mean",
                        help="busbw from the mean (busbw_gbps) or median time (default mean)")
    parser.add_argument("-o", "--out", default="collbench-plots", metavar="DIR",
                        help="output folder of the figure (default ./collbench-plots)")
    parser.add_argument("--prefix", default="", help="prefix of the figure file names")
    parser.add_argument("--no-plot", action="store_true", help="write no figure")
    parser.add_argument("--markdown", metavar="FILE",
                        help="write the Markdown report here (default: standard output)")
    parser.add_argument("--json", metavar="FILE", help="write the JSON report here")
    return parser


def _busbw(rec, stat):
    if stat == "p50" and "busbw_p50_gbps" in rec:
        return float(rec["busbw_p50_gbps"])
    return float(rec["busbw_gbps"])


def _median(values):
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def _table_of(result_set, args):
    """group key -> {bytes: busbw} for one set, after filters, --best and --ignore-ranks."""
    raw = {}
    layouts = {}
    for _, rec in result_set.records():
        if args.collective and rec["collective"] not in args.collective:
            continue
        if args.algorithm and rec["algorithm"] not in args.algorithm:
            continue
        if rec["bytes"] <= 0:
            continue
        key = tuple(rec[f] for f in GROUP_FIELDS)
        raw.setdefault(key, {}).setdefault(rec["bytes"], []).append(_busbw(rec, args.bw_stat))
        layouts.setdefault(key, set()).add((rec.get("nodes"), rec.get("ranks_per_node")))
    table = {key: {size: _median(v) for size, v in sizes.items()} for key, sizes in raw.items()}
    if args.ignore_ranks:
        largest = {}
        for key in table:
            reduced = key[:-1]
            if reduced not in largest or key[-1] > largest[reduced][-1]:
                largest[reduced] = key
        table = {key[:-1] + ("*",): table[key] for key in largest.values()}
        layouts = {key[:-1] + ("*",): layouts[key] for key in largest.values()}
    if args.best:
        best, chosen = {}, {}
        for key, sizes in table.items():
            reduced = (key[0], "best") + key[2:]
            for size, value in sizes.items():
                if value > best.setdefault(reduced, {}).get(size, -1.0):
                    best[reduced][size] = value
                    chosen.setdefault(reduced, {})[size] = key[1]
        table = best
        layouts = {}
    return table, layouts


def _group_text(key):
    values = dict(zip(GROUP_FIELDS, key))
    ranks = "any ranks" if values["ranks"] == "*" else f"{values['ranks']} ranks"
    place = "in-place" if values["placement"] == "in" else "out-of-place"
    op = "" if values["op"] == "none" else f" {values['op']}"
    return f"{values['collective']}/{values['algorithm']} {values['dtype']}{op} {place} {ranks}"


def analyse(args):
    if len(args.sets) < 2:
        raise InputError("give at least two result sets to compare")
    if len(args.label) > len(args.sets):
        raise InputError(f"{len(args.label)} --label values for {len(args.sets)} sets")
    sets = []
    for index, source in enumerate(args.sets):
        label = args.label[index] if index < len(args.label) else None
        sets.append(load_set(source, label))
    labels = [s.label for s in sets]
    for index, label in enumerate(labels):
        if labels.count(label) > 1:
            sets[index].label = f"{label} [{index + 1}]"
    labels = [s.label for s in sets]
    if args.baseline is None:
        base_index = 0
    elif args.baseline in labels:
        base_index = labels.index(args.baseline)
    else:
        raise InputError(f"--baseline '{args.baseline}' is not one of the set labels: "
                         f"{', '.join(labels)}")
    tables, layouts = [], []
    for result_set in sets:
        table, layout = _table_of(result_set, args)
        if not table:
            raise InputError(f"{result_set.source}: no records{filters_text(args)}")
        tables.append(table)
        layouts.append(layout)
    base_table = tables[base_index]
    groups = []
    warnings = []
    for key in sorted(base_table, key=lambda k: tuple(str(v) for v in k)):
        sizes = sorted(base_table[key])
        others = [i for i in range(len(sets)) if i != base_index and key in tables[i]]
        if not others:
            continue
        rows = []
        for size in sizes:
            base_value = base_table[key][size]
            row = {"bytes": size, "values": {}, "ratios": {}}
            row["values"][labels[base_index]] = base_value
            present = False
            for i in others:
                value = tables[i][key].get(size)
                if value is None:
                    continue
                present = True
                row["values"][labels[i]] = value
                row["ratios"][labels[i]] = value / base_value if base_value > 0 else None
            if present:
                rows.append(row)
        if rows:
            groups.append({"key": dict(zip(GROUP_FIELDS, key)), "name": _group_text(key),
                           "labels": [labels[base_index]] + [labels[i] for i in others],
                           "rows": rows})
            shapes = [layouts[i].get(key) for i in [base_index] + others if layouts[i]]
            shapes = [s for s in shapes if s]
            if len({json.dumps(sorted(s, key=str)) for s in shapes}) > 1:
                warnings.append(f"{_group_text(key)}: the sets place ranks differently "
                                "(nodes × ranks per node); busbw compares unlike layouts")
    if not groups:
        raise InputError(f"no matching points between the baseline '{labels[base_index]}' and "
                         "the other sets (same collective, algorithm, dtype, op, placement, "
                         "ranks and size); try --best or --ignore-ranks")
    for name in ("mpi_library", "nccl_version"):
        values = {json.dumps(s.provenance_values(name)) for s in sets}
        if len(values) > 1:
            warnings.append(f"{name} differs between the sets: the comparison mixes software "
                            "and hardware changes")
    return {
        "schema": "collbench.hwcompare",
        "schema_version": 1,
        "baseline": labels[base_index],
        "sets": [{"label": s.label, "source": s.source, "files": len(s.files),
                  "hardware_label": s.provenance_values("hardware_label"),
                  "cpu_model": s.provenance_values("cpu_model"),
                  "reduce_isa": s.provenance_values("reduce_isa"),
                  "hosts": sorted({h for r in s.files
                                   for h in (r.provenance.get("hostnames") or [])})[:8]}
                 for s in sets],
        "metric": "busbw_gbps" if args.bw_stat == "mean" else "busbw_p50_gbps",
        "groups": groups,
        "warnings": warnings,
        "summary": "",
    }, sets


def _geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def summary(report):
    base = report["baseline"]
    sentences = []
    for group in report["groups"][:4]:
        parts = []
        for label in group["labels"][1:]:
            rows = [r for r in group["rows"] if r["ratios"].get(label) is not None]
            if not rows:
                continue
            top = rows[-1]
            text = (f"{label} at {format_size(top['bytes'])}: "
                    f"×{top['ratios'][label]:.2f} of {base} "
                    f"({format_gbps(top['values'][label])} vs "
                    f"{format_gbps(top['values'][base])} GB/s)")
            if len(rows) > 1:
                small = rows[0]
                text += (f", at {format_size(small['bytes'])}: "
                         f"×{small['ratios'][label]:.2f}")
            large = [r["ratios"][label] for r in rows if r["bytes"] >= 1024 * 1024]
            if len(large) > 1:
                text += f", geometric mean over sizes ≥ 1M: ×{_geomean(large):.2f}"
            parts.append(text)
        if parts:
            sentences.append(f"{group['name']}: " + "; ".join(parts) + ".")
    if len(report["groups"]) > 4:
        sentences.append(f"({len(report['groups']) - 4} more groups in the table.)")
    return f"Bus bandwidth relative to {base}. " + " ".join(sentences)


def markdown(report):
    lines = [f"## collbench hardware comparison (baseline: {report['baseline']})", ""]
    lines.append("| label | source | files | CPU | hosts |")
    lines.append("|---|---|---:|---|---|")
    for s in report["sets"]:
        cpus = ", ".join(str(c) for c in s["cpu_model"] if c) or "–"
        hosts = ", ".join(s["hosts"][:3]) + (" …" if len(s["hosts"]) > 3 else "")
        lines.append(f"| {s['label']} | {s['source']} | {s['files']} | {cpus} | {hosts or '–'} |")
    lines.append("")
    lines.append(report["summary"])
    lines.append("")
    if report["warnings"]:
        lines.extend(f"- warning: {w}" for w in report["warnings"])
        lines.append("")
    for group in report["groups"]:
        labels = group["labels"]
        base = labels[0]
        lines.append(f"### {group['name']}")
        lines.append("")
        header = ["size", f"{base} GB/s"]
        for label in labels[1:]:
            header += [f"{label} GB/s", f"{label} / {base}"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---:|" * len(header))
        for row in group["rows"]:
            cells = [format_size(row["bytes"]), format_gbps(row["values"][base])]
            for label in labels[1:]:
                value = row["values"].get(label)
                ratio = row["ratios"].get(label)
                cells += [format_gbps(value) if value is not None else "–",
                          f"×{ratio:.2f}" if ratio is not None else "–"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def figure(report, sets, args):
    from . import plotting
    fig, (ax_abs, ax_rel) = plotting.subplots(2)
    series_abs, series_rel = [], []
    many_groups = len(report["groups"]) > 1
    all_labels = [s.label for s in sets]
    # Colour says which hardware, marker and line style which algorithm group.
    for g_index, group in enumerate(report["groups"]):
        base = group["labels"][0]
        for label in group["labels"]:
            kwargs = plotting.style(all_labels.index(label))
            kwargs["marker"] = plotting.MARKERS[g_index % len(plotting.MARKERS)]
            kwargs["linestyle"] = plotting.LINESTYLES[g_index % len(plotting.LINESTYLES)]
            points = [[r["bytes"], r["values"][label]] for r in group["rows"]
                      if label in r["values"]]
            name = f"{label} · {group['name']}" if many_groups else label
            series_abs.append({"name": name, "label": label, "group": group["name"],
                               "points": points})
            ax_abs.plot([p[0] for p in points], [p[1] for p in points], label=name, **kwargs)
            if label != base:
                rel = [[r["bytes"], r["ratios"][label]] for r in group["rows"]
                       if r["ratios"].get(label) is not None]
                series_rel.append({"name": name, "label": label, "group": group["name"],
                                   "points": rel})
                ax_rel.plot([p[0] for p in rel], [p[1] for p in rel], label=name, **kwargs)
    sizes = [p[0] for s in series_abs for p in s["points"]]
    for ax in (ax_abs, ax_rel):
        ax.set_xscale("log", base=2)
        plotting.binary_size_axis(ax.xaxis, sizes)
        ax.set_xlabel("message size (bytes; K/M/G = 1024^k)")
    ax_abs.set_ylabel("bus bandwidth (GB/s, decimal)")
    ax_abs.set_ylim(bottom=0)
    ax_abs.set_title("bus bandwidth", fontsize=10)
    ax_rel.axhline(1.0, color="#555555", linewidth=1, linestyle=":")
    ax_rel.set_ylabel(f"busbw / {report['baseline']} (×)")
    ax_rel.set_title(f"relative to {report['baseline']}", fontsize=10)
    handles, names = ax_abs.get_legend_handles_labels()
    ax_rel.legend(handles, names, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
                  borderaxespad=0.0)
    title = "collbench hardware comparison"
    if not many_groups:
        title += f": {report['groups'][0]['name']}"
    fig.suptitle(title, fontsize=11)
    caption = []
    for result_set in sets:
        lines = plotting.provenance_lines(result_set.files)
        caption.append(f"{result_set.label}: " + " · ".join(lines))
    plotting.add_caption(fig, caption)
    fig.subplots_adjust(bottom=0.12 + 0.03 * len(caption), wspace=0.25)
    data = {"kind": "hwcompare", "title": title, "baseline": report["baseline"],
            "caption": caption,
            "x": {"field": "bytes", "scale": "log2", "unit": "bytes"},
            "y": {"field": report["metric"], "unit": "GB/s"},
            "series": series_abs, "ratio_series": series_rel}
    return plotting.save(fig, args.out, f"{args.prefix}hwcompare", data)


def _write(path, text):
    write_text(path, text)


def main(argv=None):
    args = build_parser().parse_args(argv)
    for flag, path in (("--markdown", args.markdown), ("--json", args.json)):
        if path:
            check_output(path, flag)
    report, sets = analyse(args)
    report["summary"] = summary(report)
    if not args.no_plot:
        written = figure(report, sets, args)
        report["figure"] = [os.path.basename(p) for p in written]
    md = markdown(report)
    if args.markdown:
        _write(args.markdown, md + "\n")
    else:
        sys.stdout.write(md + "\n")
    if args.json:
        _write(args.json, json.dumps(report, indent=1) + "\n")
    for warning in report["warnings"]:
        sys.stderr.write(f"{PROG}: warning: {warning}\n")
    if not args.no_plot:
        sys.stderr.write(f"{PROG}: wrote {os.path.join(args.out, args.prefix + 'hwcompare')}"
                         ".{png,svg,json}\n")
    return 0
