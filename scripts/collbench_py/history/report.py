"""The change report: a terminal table, Markdown for CI, JSON for tools."""

from ..units import format_us
from . import provenance
from .analysis import changes_of, series_label


def _percent(change):
    return f"{change * 100:+.1f}%"


def _run_text(history, run_id):
    run = history.runs[run_id]
    sha = (run["git_sha"] or "?")[:12]
    return f"run {run_id} ({run['start_time']}, {sha})"


def verdict(history, since=None):
    """(exit code, one line): 1 when a new regression appeared in the latest run."""
    new = [(s, c) for s, c in changes_of(history, None, ("regression",)) if c.get("new")]
    shown = changes_of(history, since)
    opened = [(s, c) for s, c in changes_of(history, None, ("regression",))
              if c["status"] == "open"]
    tail = f"{len(shown)} change(s)" + (f" since {since}" if since else "") + \
        f", {len(opened)} open regression(s) in {len(history.series)} series"
    if new:
        series, change = max(new, key=lambda sc: sc[1]["time_change"])
        return 1, (f"REGRESSION: {len(new)} new in the latest run; worst "
                   f"{series_label(series.key)} time {_percent(change['time_change'])} "
                   f"from {_run_text(history, change['run_id'])} ({tail})")
    return 0, f"OK: no new regression ({tail})"


def text(history, since=None):
    lines = []
    rows = changes_of(history, since)
    if not rows:
        lines.append("no change points" + (f" since {since}" if since else ""))
    for series, change in rows:
        flag = " NEW" if change.get("new") else ""
        lines.append(
            f"{change['kind']:<11} {_percent(change['time_change']):>7} time "
            f"({_percent(change['busbw_change'])} busbw) {change['shape']:<5} "
            f"p={change['p_value']:.3f} {change['status']}{flag}  {series_label(series.key)}")
        lines.append(f"    first run after: {_run_text(history, change['run_id'])}; "
                     f"{format_us(change['before_us'])} -> {format_us(change['after_us'])} us;"
                     f" {provenance.summary(change.get('provenance_diff') or [])}")
    return "\n".join(lines) + "\n"


def _md_escape(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(history, rows):
    out = ["| | series | change (time / busbw) | shape | confidence | first run after "
           "| what changed |", "|---|---|---|---|---|---|---|"]
    for series, change in rows:
        mark = "🔴" if change["kind"] == "regression" else "🟢"
        if change["status"] in ("recovered", "lost"):
            mark = "⚪"
        if change.get("new"):
            mark += " **new**"
        out.append(
            f"| {mark} | {_md_escape(series_label(series.key))} | "
            f"{_percent(change['time_change'])} / {_percent(change['busbw_change'])} | "
            f"{change['shape']} | {change['confidence'] * 100:.1f}% "
            f"({change['runs_before']}+{change['runs_after']} runs) | "
            f"{_md_escape(_run_text(history, change['run_id']))} | "
            f"{_md_escape(provenance.summary(change.get('provenance_diff') or []))} |")
    return out


def markdown(history, since=None):
    code, line = verdict(history, since)
    opts = history.options
    out = [f"## collbench history: {line}", ""]
    new = [(s, c) for s, c in changes_of(history, None, ("regression",)) if c.get("new")]
    if new:
        out += ["### New regressions", ""] + _md_table(history, new) + [""]
    opened = [(s, c) for s, c in changes_of(history, None, ("regression",))
              if c["status"] == "open" and not c.get("new")]
    if opened:
        out += ["### Open regressions", ""] + _md_table(history, opened) + [""]
    rows = [(s, c) for s, c in changes_of(history, since)
            if not c.get("new") and not (c["kind"] == "regression" and c["status"] == "open")]
    if rows:
        title = "Other changes" + (f" since {since}" if since else "")
        out += [f"### {title}", ""] + _md_table(history, rows) + [""]
    runs = len(history.runs)
    out += [f"<sub>{runs} runs, {len(history.series)} series; E-Divisive means on ranks, "
            f"permutation test ({opts.permutations} permutations, p ≤ {opts.p_value}, seed "
            f"{opts.seed}), effects below {opts.min_effect * 100:g}% ignored, at least "
            f"{opts.min_runs} run(s) each side; order: {opts.order}.</sub>", ""]
    return "\n".join(out), code
