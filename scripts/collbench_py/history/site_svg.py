"""SVG charts for the site, written as text: no chart library, nothing to vendor.

Coordinates are rounded to 0.1 px and long histories are thinned to a minimum and a
maximum per pixel column, so a thousand-run trend costs a few kilobytes and the page stays
quick to open while every spike stays visible.
"""

import math
from html import escape

from ..units import format_size

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")
REGRESSION = "#c62828"
IMPROVEMENT = "#2e7d32"
SETTLED = "#9e9e9e"


def nice_ticks(lo, hi, count=4):
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.ceil(lo / step) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def fmt_num(value):
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _path(points):
    parts = []
    for i, (x, y) in enumerate(points):
        parts.append(f"{'M' if i == 0 else 'L'}{x:.1f} {y:.1f}")
    return "".join(parts)


def thin(xs, ys, width_px):
    """Per pixel column, the lowest and the highest point (in x order), when the points
    outnumber the columns twice over; fewer points draw the same picture."""
    if len(xs) <= 2 * width_px:
        return list(zip(xs, ys))
    out = []
    column, bucket = None, []
    for x, y in zip(xs, ys):
        col = int(x)
        if col != column and bucket:
            out.extend(_extremes(bucket))
            bucket = []
        column = col
        bucket.append((x, y))
    if bucket:
        out.extend(_extremes(bucket))
    return out


def _extremes(bucket):
    if len(bucket) <= 2:
        return bucket
    lo = min(bucket, key=lambda p: p[1])
    hi = max(bucket, key=lambda p: p[1])
    return sorted({lo, hi}, key=lambda p: p[0])


def _robust_range(values, levels):
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return 0.0, 1.0
    cut = len(finite) // 50                  # 2% at each end
    lo = min([finite[cut]] + levels)
    hi = max([finite[len(finite) - 1 - cut]] + levels)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    return lo - pad, hi + pad


def trend_chart(series_id, values, levels, changes, width=330, height=130, unit="GB/s"):
    """Trend of one series: value per run, segment medians, change markers.

    values: per run (already in the displayed unit); levels: (start, end, value) per
    segment; changes: (index, kind, status, change number) per change point.
    """
    left, right, top, bottom = 46, 8, 10, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(values)
    lo, hi = _robust_range(values, [level for _, _, level in levels])
    # Outlier runs (a machine hiccup can be 100x slow) are drawn at the edge, so that
    # they do not flatten the band where the runs are.
    values = [None if v is None else min(max(v, lo), hi) for v in values]

    def sx(i):
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def sy(v):
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    out = [f'<svg class="trend" data-series="{series_id}" data-n="{n}" '
           f'data-left="{left}" data-width="{plot_w}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">']
    for tick in nice_ticks(lo, hi, 3):
        y = sy(tick)
        out.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" '
                   f'y2="{y:.1f}"/><text class="tick" x="{left - 4}" y="{y + 3:.1f}" '
                   f'text-anchor="end">{fmt_num(tick)}</text>')
    out.append(f'<text class="unit" x="{left - 4}" y="{height - 4}" text-anchor="end">'
               f'{escape(unit)}</text>')
    points = thin([sx(i) for i in range(n)], [sy(v) for v in values], plot_w)
    out.append(f'<path class="line" d="{_path(points)}"/>')
    for start, end, level in levels:
        x1, x2 = sx(start), sx(max(start, end - 1))
        out.append(f'<line class="level" x1="{x1:.1f}" x2="{x2:.1f}" y1="{sy(level):.1f}" '
                   f'y2="{sy(level):.1f}"/>')
    for index, kind, status, number in changes:
        x = (sx(index - 1) + sx(index)) / 2
        colour = SETTLED if status in ("recovered", "lost") else \
            REGRESSION if kind == "regression" else IMPROVEMENT
        out.append(f'<g class="cp {kind}" data-change="{number}" tabindex="0">'
                   f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" '
                   f'stroke="{colour}"/><path d="M{x - 5:.1f} {top - 1}L{x + 5:.1f} '
                   f'{top - 1}L{x:.1f} {top + 7}Z" fill="{colour}"/>'
                   f'<rect x="{x - 6:.1f}" y="{top - 2}" width="12" height="{plot_h + 4}" '
                   f'fill="transparent"/></g>')
    out.append(f'<line class="cursor" x1="0" x2="0" y1="{top}" y2="{top + plot_h}" '
               f'visibility="hidden"/></svg>')
    return "".join(out)


def size_chart(lines, width=600, height=300, unit="busbw (GB/s)"):
    """Value vs size on a log2 axis. lines: (name, colour, dashed, [(bytes, value)])."""
    left, right, top, bottom = 56, 190, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    sizes = sorted({b for _, _, _, pts in lines for b, v in pts if v is not None})
    values = [v for _, _, _, pts in lines for _, v in pts if v is not None]
    if not sizes or not values:
        return '<svg class="latest" width="10" height="10"></svg>'
    x_lo, x_hi = math.log2(sizes[0]), math.log2(sizes[-1])
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    hi = max(values) * 1.08 or 1.0

    def sx(b):
        return left + plot_w * (math.log2(b) - x_lo) / (x_hi - x_lo)

    def sy(v):
        return top + plot_h * (1 - v / hi)

    out = [f'<svg class="latest" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img">']
    for tick in nice_ticks(0, hi, 4):
        y = sy(tick)
        out.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" '
                   f'y2="{y:.1f}"/><text class="tick" x="{left - 4}" y="{y + 3:.1f}" '
                   f'text-anchor="end">{fmt_num(tick)}</text>')
    step = max(1, len(sizes) // 8)
    for b in sizes[::step]:
        out.append(f'<text class="tick" x="{sx(b):.1f}" y="{top + plot_h + 14}" '
                   f'text-anchor="middle">{format_size(b)}</text>')
    out.append(f'<text class="unit" x="{left + plot_w / 2:.1f}" y="{height - 4}" '
               f'text-anchor="middle">size (bytes per rank)</text>')
    out.append(f'<text class="unit" x="12" y="{top + plot_h / 2:.1f}" '
               f'transform="rotate(-90 12 {top + plot_h / 2:.1f})" text-anchor="middle">'
               f'{escape(unit)}</text>')
    for row, (name, colour, dashed, pts) in enumerate(lines):
        pts = [(b, v) for b, v in sorted(pts) if v is not None]
        dash = ' stroke-dasharray="5 3" opacity="0.75"' if dashed else ""
        out.append(f'<g class="sizeline" data-name="{escape(name)}">'
                   f'<path d="{_path([(sx(b), sy(v)) for b, v in pts])}" fill="none" '
                   f'stroke="{colour}" stroke-width="1.6"{dash}/>')
        for b, v in pts:
            out.append(f'<circle cx="{sx(b):.1f}" cy="{sy(v):.1f}" r="{2 if dashed else 3}" '
                       f'fill="{"white" if dashed else colour}" stroke="{colour}">'
                       f'<title>{escape(name)} {format_size(b)}: {fmt_num(v)}</title>'
                       f'</circle>')
        out.append("</g>")
        y = top + 12 + row * 16
        out.append(f'<line x1="{left + plot_w + 10}" x2="{left + plot_w + 30}" y1="{y - 4}" '
                   f'y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash}/>'
                   f'<text class="legend" x="{left + plot_w + 34}" y="{y}">'
                   f'{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
