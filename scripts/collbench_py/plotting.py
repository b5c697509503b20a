"""Figure helpers: Agg backend, binary size axes, styles, provenance captions, data JSON.

Every figure is written as PNG and SVG plus NAME.json holding the plotted data (series
names and points) so that tests and other tools read numbers, not pixels.
"""

import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import (FixedLocator, FuncFormatter, LogLocator,  # noqa: E402
                               NullFormatter)

from . import InputError  # noqa: E402
from .units import format_size  # noqa: E402

PLOT_DATA_SCHEMA = "collbench.plot-data"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
LINESTYLES = ("-", "--", "-.", ":")
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#17becf", "#7f7f7f", "#bcbd22")

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": 130,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
    "legend.fontsize": 8.5,
    "svg.hashsalt": "collbench",
    "svg.fonttype": "none",
})


def style(index):
    """Distinct colour, marker and line style for series `index`."""
    return {
        "color": COLORS[index % len(COLORS)],
        "marker": MARKERS[index % len(MARKERS)],
        "linestyle": LINESTYLES[(index // len(COLORS)) % len(LINESTYLES)],
        "markersize": 5,
        "linewidth": 1.6,
    }


def binary_size_axis(axis, values):
    """log2 scale on `axis` (ax.xaxis) with labels 8, 1K, 1M, ... at powers of two."""
    lo = max(1.0, min(values))
    hi = max(lo, max(values))
    k_lo, k_hi = math.floor(math.log2(lo)), math.ceil(math.log2(hi))
    span = max(1, k_hi - k_lo)
    step = 1
    for candidate in (1, 2, 3, 4, 5, 10):
        step = candidate
        if span / candidate <= 10:
            break
    start = k_lo
    if step in (2, 5, 10):  # prefer 1K/1M/1G-aligned labels
        start = k_lo - (k_lo % step)
    majors = [2.0 ** k for k in range(start, k_hi + 1, step) if k >= k_lo]
    minors = [2.0 ** k for k in range(k_lo, k_hi + 1)]
    axis.set_major_locator(FixedLocator(majors))
    axis.set_minor_locator(FixedLocator(minors))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: format_size(round(v))))
    axis.set_minor_formatter(NullFormatter())


def _plain(value, _pos=None):
    if value >= 1e6:
        return f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
    if value >= 1:
        return f"{value:g}"
    return f"{value:.3g}"


def log_value_axis(axis):
    """log10 scale labels as plain numbers (60, 100, 400 µs), 1-2-5 steps."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(_plain))
    axis.set_minor_formatter(NullFormatter())


def rank_axis(axis, ranks, nodes_of=None):
    """log2 scale with a tick at each measured rank count (thinned to powers of two when
    there are many), labelled 'R' or 'R\\n(N nodes)'."""
    ticks = sorted(set(int(r) for r in ranks))
    if len(ticks) > 10:
        lo, hi = math.floor(math.log2(ticks[0])), math.ceil(math.log2(ticks[-1]))
        step = max(1, math.ceil((hi - lo) / 10))
        ticks = [2 ** k for k in range(lo, hi + 1, step)]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_minor_locator(FixedLocator([]))

    def label(value, _pos):
        r = int(round(value))
        text = f"{r / 1000:.0f}k" if r >= 10000 else str(r)
        if nodes_of and r in nodes_of and len(set(nodes_of.values())) > 1:
            n = nodes_of[r]
            return f"{text}\n({n} node{'s' if n != 1 else ''})"
        return text
    axis.set_major_formatter(FuncFormatter(label))


def legend_outside(ax, title=None):
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              title=title, borderaxespad=0.0)


def provenance_lines(result_files, extra=None):
    """A short caption: host, date, MPI library, ranks x nodes, collbench version."""
    hosts, dates, mpis, layouts, versions, labels, gpus = [], [], [], [], [], [], []

    def add(bucket, value):
        if value and value not in bucket:
            bucket.append(value)
    for result in result_files:
        prov = result.provenance
        names = prov.get("hostnames") or []
        distinct = []
        for name in names:
            if name not in distinct:
                distinct.append(name)
        if distinct:
            add(hosts, distinct[0] + (f"…{distinct[-1]}" if len(distinct) > 1 else ""))
        add(dates, (prov.get("start_time") or "")[:16].replace("T", " "))
        mpi = prov.get("mpi_library") or ""
        add(mpis, mpi.splitlines()[0].split(",")[0][:60] if mpi else "")
        nccl = prov.get("nccl_version")
        if nccl:
            add(mpis, f"NCCL {nccl}")
        ranks, nodes = prov.get("ranks"), prov.get("nodes")
        if ranks:
            add(layouts, f"{ranks} ranks × {nodes} node{'s' if nodes != 1 else ''}")
        sha = prov.get("git_sha")
        add(versions, f"collbench {prov.get('collbench_version', '?')}"
                      + (f" ({sha})" if sha else ""))
        add(labels, prov.get("hardware_label"))
        cpu = prov.get("cpu_model")
        if prov.get("gpus"):
            add(gpus, f"{len(prov['gpus'])} GPU(s)")
        elif cpu:
            add(gpus, cpu[:50])

    def join(values, limit=3):
        text = ", ".join(values[:limit])
        return text + (f" +{len(values) - limit} more" if len(values) > limit else "")
    first = " · ".join(part for part in (
        ("hardware: " + join(labels)) if labels else "",
        "host " + join(hosts) if hosts else "",
        join(dates, 2) + " UTC" if dates else "",
        join(layouts)) if part)
    second = " · ".join(part for part in (join(mpis, 2), join(gpus, 2), join(versions, 2),
                                          extra or "") if part)
    return [line for line in (first, second) if line]


def add_caption(fig, lines):
    if lines:
        fig.text(0.005, 0.005, "\n".join(lines), fontsize=7, color="#444444", ha="left",
                 va="bottom")


def save(fig, out_dir, name, data, formats=("png", "svg")):
    """Write NAME.png/.svg and NAME.json (the data); return the list of written paths."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the output folder: "
                         f"{exc.strerror or exc}") from None
    written = []
    for fmt in formats:
        path = os.path.join(out_dir, f"{name}.{fmt}")
        try:
            fig.savefig(path, format=fmt, bbox_inches="tight", pad_inches=0.15,
                        metadata={"Date": None} if fmt == "svg" else None)
        except OSError as exc:
            raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        written.append(path)
    plt.close(fig)
    payload = {"schema": PLOT_DATA_SCHEMA, "schema_version": 1, "figure": name,
               "images": [os.path.basename(p) for p in written]}
    payload.update(data)
    path = os.path.join(out_dir, f"{name}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)
        handle.write("\n")
    written.append(path)
    return written


def new_figure(width=9.0, height=5.4):
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax


def subplots(ncols, width=13.0, height=5.4):
    fig, axes = plt.subplots(1, ncols, figsize=(width, height))
    return fig, axes
