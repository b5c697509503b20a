"""Model projections on collbench-plot's figures: `collbench model predict --json` files read
and checked, their points matched to the measured series, drawn dashed with the error band."""

import os

from . import InputError
from .units import format_size

_PROJECTION_FIELDS = ("collective", "algorithm", "bytes", "gpus", "time_us", "busbw_gbps")


def load_projections(paths):
    """Points of `collbench model predict --json` files: list of dicts with a 'fabric'."""
    import json as _json
    points = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                data = _json.load(handle)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise InputError(f"{path}: malformed JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            raise InputError(f"{path}: not a model projection (expected the 'points' list "
                             "that `collbench model predict --json` writes)")
        for index, point in enumerate(data["points"]):
            missing = [f for f in _PROJECTION_FIELDS if not isinstance(point, dict)
                       or f not in point]
            if missing:
                raise InputError(f"{path}: points[{index}] lacks '{missing[0]}'")
            item = dict(point)
            item.setdefault("fabric", os.path.basename(path))
            points.append(item)
        if not data["points"]:
            raise InputError(f"{path}: the projection holds no points")
    return points


def _projection_series(projections, collective, measured, x_field, fixed, metric):
    """Model series matching the measured algorithms (all algorithms when none match)."""
    mine = [p for p in projections if p["collective"] == collective
            and all(p[k] in v for k, v in fixed.items())]
    algorithms = {s["fields"]["algorithm"] for s in measured}
    if any(p["algorithm"] in algorithms for p in mine):
        mine = [p for p in mine if p["algorithm"] in algorithms]
    xs = [pt[0] for s in measured for pt in s["points"]]
    lo, hi = (min(xs), max(xs)) if xs else (0, float("inf"))
    if x_field == "gpus":
        hi = float("inf")  # a scaling projection may reach beyond the measured rank counts
    fabrics = sorted({p["fabric"] for p in mine})
    groups = {}
    for p in mine:
        if lo <= p[x_field] <= hi:
            key = (p["fabric"], p["algorithm"]) + tuple(p[k] for k in sorted(fixed))
            groups.setdefault(key, []).append(p)
    series = []
    for key in sorted(groups, key=lambda k: tuple(str(v) for v in k)):
        group = sorted(groups[key], key=lambda p: p[x_field])
        fabric, algorithm = key[0], key[1]
        name = f"model: {algorithm}" + (f" ({fabric})" if len(fabrics) > 1 else "")
        if x_field == "gpus" and "bytes" in fixed:
            name += f" @ {format_size(group[0]['bytes'])}"
        value = "busbw_gbps" if metric == "busbw" else "time_us"
        item = {"name": name, "fields": {"algorithm": algorithm, "fabric": fabric,
                                         **{k: group[0][k] for k in fixed}},
                "points": [[p[x_field], float(p[value])] for p in group]}
        # The calibration record's error band of each point (model predict writes it where a
        # published case covers the point's regime), and where the model extrapolates.
        low, high = _BAND_FIELDS["busbw" if metric == "busbw" else "time"]
        if all(low in p and high in p for p in group):
            item["band"] = [[p[x_field], float(p[low]), float(p[high])] for p in group]
        item["extrapolated"] = [p[x_field] for p in group if p.get("extrapolated")]
        series.append(item)
    return series


_BAND_FIELDS = {"busbw": ("busbw_low_gbps", "busbw_high_gbps"),
                "time": ("time_low_us", "time_high_us")}


def _draw_projection(ax, projection, measured, styles):
    """Dashed, hollow markers, in the colour and marker of the matching measured series."""
    from .plotting import COLORS, MARKERS
    for index, item in enumerate(projection):
        fields = item["fields"]
        match = None
        for series, style in zip(measured, styles):
            if series["fields"].get("algorithm") != fields["algorithm"]:
                continue
            if "bytes" in fields and series["fields"].get("bytes") != fields["bytes"]:
                continue
            match = style
            break
        color = match["color"] if match else COLORS[(len(measured) + index) % len(COLORS)]
        marker = match["marker"] if match else MARKERS[(len(measured) + index) % len(MARKERS)]
        ax.plot([p[0] for p in item["points"]], [p[1] for p in item["points"]],
                label=item["name"], color=color, linestyle=(0, (4, 2)), linewidth=1.3,
                marker=marker, markersize=4, markerfacecolor="none", alpha=0.85)
        if item.get("band"):
            ax.fill_between([b[0] for b in item["band"]], [b[1] for b in item["band"]],
                            [b[2] for b in item["band"]], color=color, alpha=0.12, linewidth=0,
                            label=item["name"] + " (calibration band)")
        extrapolated = set(item.get("extrapolated", []))
        if extrapolated:
            # Hollow markers only say "model"; a cross says "beyond every published case".
            xs = [p for p in item["points"] if p[0] in extrapolated]
            ax.plot([p[0] for p in xs], [p[1] for p in xs], linestyle="none", marker="x",
                    markersize=5, color=color, alpha=0.85)
