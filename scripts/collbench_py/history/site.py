"""The static dashboard: index.html and one page per collective.

Each page carries its own style, script and data, so it opens from a file:// URL, an
artifact download or any static host, with no server and no network.
"""

import json
import math
import os
import re
from html import escape

from ..units import format_size
from . import provenance, site_assets, site_svg
from .analysis import series_label

_GROUP_FIELDS = ("machine", "dtype", "op", "ranks", "nodes", "placement", "timing",
                 "backend")


def _page_name(collective):
    return "collective-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", collective) + ".html"


def _group_title(key):
    text = f"{key['machine']} · {key['dtype']} {key['op']} · {key['ranks']} ranks"
    if key["nodes"] != 1:
        text += f" on {key['nodes']} nodes"
    text += f" · {key['placement']}-of-place" if key["placement"] in ("in", "out") \
        else f" · {key['placement']}"
    if key["timing"] != "per-call":
        text += f" · {key['timing']}"
    return text


def _display(series):
    """(unit, values in that unit, converter): busbw where the factor is known, else time."""
    if series.busbw_factor:
        return "GB/s", [series.busbw(v) for v in series.values], series.busbw
    return "µs", list(series.values), lambda v: v


def _sig(value):
    return None if value is None or not math.isfinite(value) else float(f"{value:.3g}")


def _pct(x):
    return f"{x * 100:+.1f}%"


def _run_cell(history, run_id):
    run = history.runs[run_id]
    return f"run {run_id} · {run['start_time'][:16].replace('T', ' ')} · " \
        f"{(run['git_sha'] or '?')[:12]}"


class _Page:
    """Collects the data and the HTML of one collective's page."""

    def __init__(self, history, collective):
        self.history = history
        self.collective = collective
        self.data = {"machines": {}, "series": {}, "changes": []}
        self.change_numbers = {}

    def machine_runs(self, machine):
        if machine not in self.data["machines"]:
            rows = []
            for run_id in self.history.order.get(machine, []):
                run = self.history.runs[run_id]
                rows.append([run_id, run["start_time"], (run["git_sha"] or "?")[:12]])
            self.data["machines"][machine] = rows
        return self.data["machines"][machine]

    def register(self, series):
        """Series and its changes into the page data; returns the displayed values."""
        unit, values, convert = _display(series)
        positions = {rid: i for i, rid in
                     enumerate(self.history.order.get(series.key["machine"], []))}
        self.machine_runs(series.key["machine"])
        idx = [positions[int(r)] for r in series.run_ids]
        entry = {"machine": series.key["machine"], "unit": unit,
                 "values": [_sig(v) for v in values]}
        if idx == list(range(idx[0], idx[0] + len(idx))):
            entry["start"] = idx[0]
        else:
            entry["idx"] = idx
        self.data["series"][str(series.key["id"])] = entry
        for change in series.changes:
            self.change_numbers[id(change)] = len(self.data["changes"])
            self.data["changes"].append(self.change_data(series, change))
        return unit, values, convert

    def change_data(self, series, change):
        runs = self.history.runs

        def run_row(run_id):
            run = runs[run_id]
            return [run_id, run["start_time"], (run["git_sha"] or "?")[:12]]

        return {"series": series.key["id"], "label": series_label(series.key),
                "kind": change["kind"], "status": change["status"],
                "new": bool(change.get("new")), "shape": change["shape"],
                "time_change": change["time_change"], "busbw_change": change["busbw_change"],
                "p_value": change["p_value"], "confidence": change["confidence"],
                "runs_before": change["runs_before"], "runs_after": change["runs_after"],
                "run": run_row(change["run_id"]), "prev": run_row(change["previous_run_id"]),
                "diff": [[d["label"], d["before"], d["after"]]
                         for d in change.get("provenance_diff") or []]}


def _trend_figure(page, series):
    unit, values, convert = page.register(series)
    cuts = [c["index"] for c in series.changes]
    bounds = [0] + cuts + [len(values)]
    levels = []
    for start, end in zip(bounds[:-1], bounds[1:]):
        ordered = sorted(series.values[start:end])
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])
        levels.append((start, end, convert(median)))
    marks = [(c["index"], c["kind"], c["status"], page.change_numbers[id(c)])
             for c in series.changes]
    svg = site_svg.trend_chart(series.key["id"], values, levels, marks, unit=unit)
    titles = []
    for change in series.changes:
        titles.append(f"{change['kind']} {_pct(change['time_change'])} time at "
                      f"{_run_cell(page.history, change['run_id'])}: "
                      f"{provenance.summary(change.get('provenance_diff') or [])}")
    # A native tooltip on every marker: the provenance difference shows on hover.
    for number, title in zip((m[3] for m in marks), titles):
        svg = svg.replace(f'data-change="{number}" tabindex="0">',
                          f'data-change="{number}" tabindex="0"><title>{escape(title)}'
                          '</title>', 1)
    last = values[-1] if values else None
    caption = f"{format_size(series.key['bytes'])}: {site_svg.fmt_num(last)} {unit} " \
        f"latest, {len(values)} runs" if last is not None else format_size(series.key["bytes"])
    return f'<figure id="series-{series.key["id"]}">{svg}<figcaption>{escape(caption)}' \
        "</figcaption></figure>"


def _latest_chart(page, group):
    """busbw vs size: the group's latest run beside the run before it."""
    machine = group[0].key["machine"]
    order = page.history.order.get(machine, [])
    position = {rid: i for i, rid in enumerate(order)}
    present = sorted({position[int(r)] for s in group for r in s.run_ids})
    if not present:
        return ""
    latest = order[present[-1]]
    previous = order[present[-2]] if len(present) > 1 else None
    by_algorithm = {}
    for series in group:
        by_algorithm.setdefault(series.key["algorithm"], []).append(series)
    lines = []
    unit = "busbw (GB/s)" if all(s.busbw_factor for s in group) else "time (µs)"
    for number, (algorithm, members) in enumerate(sorted(by_algorithm.items())):
        colour = site_svg.PALETTE[number % len(site_svg.PALETTE)]
        for run_id, dashed, suffix in ((latest, False, ""), (previous, True, " (prev)")):
            if run_id is None:
                continue
            pts = []
            for series in members:
                hits = [i for i, r in enumerate(series.run_ids) if int(r) == run_id]
                if hits:
                    value = series.values[hits[0]]
                    shown = series.busbw(value) if unit.startswith("busbw") else value
                    pts.append((series.key["bytes"], shown))
            if pts:
                lines.append((algorithm + suffix, colour, dashed, pts))
    svg = site_svg.size_chart(lines, unit=unit)
    note = f"latest: {_run_cell(page.history, latest)}"
    if previous is not None:
        note += f"; dashed: {_run_cell(page.history, previous)}"
    return f'<figure class="latest-figure">{svg}<figcaption>{escape(note)}</figcaption>' \
        "</figure>"


def _regression_rows(page, rows):
    out = ['<table class="regressions"><tr><th>series</th><th>time</th><th>busbw</th>'
           '<th>shape</th><th>confidence</th><th>first run after</th><th>what changed</th>'
           '</tr>']
    for series, change in rows:
        number = page.change_numbers.get(id(change))
        flag = ' <span class="new">new</span>' if change.get("new") else ""
        out.append(
            f'<tr class="regression" data-change="{number}">'
            f'<td><a href="#series-{series.key["id"]}">'
            f'{escape(series_label(series.key))}</a>{flag}</td>'
            f'<td class="num bad">{_pct(change["time_change"])}</td>'
            f'<td class="num bad">{_pct(change["busbw_change"])}</td>'
            f'<td>{change["shape"]}</td><td class="num">{change["confidence"] * 100:.1f}%</td>'
            f'<td>{escape(_run_cell(page.history, change["run_id"]))}</td>'
            f'<td>{escape(provenance.summary(change.get("provenance_diff") or []))}</td></tr>')
    out.append("</table>")
    return "".join(out)


def _collective_page(history, collective, members, nav, title):
    page = _Page(history, collective)
    groups = {}
    for series in members:
        groups.setdefault(tuple(series.key[f] for f in _GROUP_FIELDS), []).append(series)
    sections = []
    for key_values, group in groups.items():
        key = dict(zip(_GROUP_FIELDS, key_values))
        parts = [f"<h2>{escape(_group_title(key))}</h2>", _latest_chart(page, group)]
        by_algorithm = {}
        for series in group:
            by_algorithm.setdefault(series.key["algorithm"], []).append(series)
        for algorithm, algo_series in sorted(by_algorithm.items()):
            figures = [_trend_figure(page, s)
                       for s in sorted(algo_series, key=lambda s: s.key["bytes"])]
            parts.append(f"<h3>{escape(algorithm)}: trend per size over runs</h3>"
                         f'<div class="grid-charts">{"".join(figures)}</div>')
        sections.append("".join(parts))
    open_rows = [(s, c) for s in members for c in s.changes
                 if c["kind"] == "regression" and c["status"] == "open"]
    open_rows.sort(key=lambda sc: (not sc[1].get("new"), -sc[1]["time_change"]))
    table = _regression_rows(page, open_rows) if open_rows else \
        '<p class="empty">no open regressions</p>'
    counts = (f"{len(members)} series, {sum(len(s.changes) for s in members)} change points, "
              f"{len(open_rows)} open regressions")
    body = (f"<h1>{escape(collective)}</h1><p class=\"meta\">{escape(counts)}. Markers: "
            "red regression, green improvement, grey undone later; click one (or a table "
            "row) for what changed between the two runs around it.</p>"
            f"<h2>Open regressions</h2>{table}{''.join(sections)}")
    return _html(f"{title}: {collective}", nav, body, page.data)


def _html(title, nav, body, data):
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{site_assets.CSP}\">"
        f"<title>{escape(title)}</title><style>{site_assets.CSS}</style></head><body>"
        "<pre id=\"errors\" hidden></pre>"
        f"<script>{site_assets.ERROR_HOOK}</script>"
        f"<nav>{nav}</nav>{body}"
        "<div id=\"tip\" hidden></div>"
        "<div id=\"detail\" hidden><button id=\"detail-close\" type=\"button\">close</button>"
        "<div id=\"detail-body\"></div></div>"
        f"<script type=\"application/json\" id=\"history-data\">{payload}</script>"
        f"<script>{site_assets.SCRIPT}</script></body></html>")


def _index_page(history, by_collective, nav, title):
    machines = []
    for machine, ids in sorted(history.order.items()):
        if not ids:
            continue
        run = history.runs[ids[-1]]
        mpi = (run["mpi_library"] or "?").split(",")[0]
        machines.append(f"<tr><td>{escape(machine)}</td><td class=\"num\">{len(ids)}</td>"
                        f"<td>{escape(_run_cell(history, ids[-1]))}</td>"
                        f"<td>{escape(mpi)}</td><td>{escape(run['nccl_version'] or '–')}"
                        "</td></tr>")
    rows = []
    for collective, members in sorted(by_collective.items()):
        changes = [c for s in members for c in s.changes]
        opened = [c for c in changes if c["kind"] == "regression" and c["status"] == "open"]
        new = [c for c in opened if c.get("new")]
        rows.append(f"<tr><td><a href=\"{_page_name(collective)}\">{escape(collective)}</a>"
                    f"</td><td class=\"num\">{len(members)}</td><td class=\"num\">"
                    f"{len(changes)}</td><td class=\"num{' bad' if opened else ''}\">"
                    f"{len(opened)}</td><td class=\"num{' bad' if new else ''}\">{len(new)}"
                    "</td></tr>")
    opts = history.options
    body = (f"<h1>{escape(title)}</h1>"
            "<h2>Machines</h2><table><tr><th>machine</th><th>runs</th><th>latest run</th>"
            f"<th>MPI</th><th>NCCL</th></tr>{''.join(machines)}</table>"
            "<h2>Collectives</h2><table><tr><th>collective</th><th>series</th>"
            "<th>change points</th><th>open regressions</th><th>new in the latest run</th>"
            f"</tr>{''.join(rows)}</table>"
            f"<p class=\"meta\">Change points: E-Divisive means on ranks with a permutation "
            f"test ({opts.permutations} permutations, p ≤ {opts.p_value}, seed {opts.seed}); "
            f"changes below {opts.min_effect * 100:g}% of the median time are ignored; runs "
            f"in {opts.order} order. Values per run: median over repeats of the median "
            f"time; busbw from it. See docs/history.md.</p>")
    return _html(title, nav, body, {"machines": {}, "series": {}, "changes": []})


def write_site(store, history, outdir, title):
    """Write the pages; returns their paths."""
    os.makedirs(outdir, exist_ok=True)
    by_collective = {}
    for series in history.series:
        by_collective.setdefault(series.key["collective"], []).append(series)
    links = ['<a href="index.html">overview</a>'] + [
        f'<a href="{_page_name(c)}">{escape(c)}</a>' for c in sorted(by_collective)]
    nav = "".join(links)
    pages = {"index.html": _index_page(history, by_collective, nav, title)}
    for collective, members in by_collective.items():
        pages[_page_name(collective)] = _collective_page(history, collective, members, nav,
                                                         title)
    written = []
    for name, html in pages.items():
        path = os.path.join(outdir, name)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(html)
        os.replace(tmp, path)
        written.append(path)
    return written
