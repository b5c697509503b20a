"""What differs between two runs: provenance, options, environment, topology.

Every run records far more than what changes between two runs of a stable setup, and
some fields change every time (start time, the MPI launcher's job id and contact URI,
topology discovery times). Those are left out twice over: a short list of fields known to
change every run, and any field that changed between most consecutive runs of the
machine's recent history, which keeps new per-run fields out without a list to maintain.
"""

import fnmatch
import json

VOLATILITY_RUNS = 40
_VOLATILE_SHARE = 0.5

_ALWAYS_VOLATILE = (
    "provenance.start_time", "provenance.end_time", "topology.discovery_ms.*",
    "provenance.environment.OMPI_MCA_ess_base_jobid",
    "provenance.environment.OMPI_MCA_orte_hnp_uri",
    "provenance.environment.OMPI_MCA_orte_local_daemon_uri",
    "provenance.environment.OMPI_MCA_orte_jobfam_session_dir",
    "provenance.environment.OMPI_MCA_orte_precondition_transports",
    "provenance.environment.OMPI_MCA_pmix_*", "provenance.environment.PMIX_*",
    "provenance.environment.SLURM_JOB_ID",
)

# Shown first and named plainly: what usually explains a change.
HEADLINE = (("provenance.git_sha", "collbench SHA"),
            ("provenance.collbench_version", "collbench version"),
            ("provenance.mpi_library", "MPI library"),
            ("provenance.nccl_version", "NCCL"),
            ("provenance.nvidia_driver", "driver"),
            ("provenance.cuda_driver_version", "CUDA driver"),
            ("provenance.hosts", "hosts"),
            ("provenance.cpu_model", "CPU"),
            ("provenance.compiler", "compiler"),
            ("provenance.os", "OS"))


def flatten(header):
    """{dotted field: scalar or JSON text} of a run's header (provenance, options, ...).

    Lists of scalars stay one value; host names become the sorted set of hosts, since
    their per-rank order says nothing about what changed.
    """
    out = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for key in value:
                walk(f"{prefix}.{key}" if prefix else str(key), value[key])
        elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]", item)
        elif isinstance(value, list):
            out[prefix] = json.dumps(value)
        else:
            out[prefix] = value

    header = dict(header or {})
    prov = dict(header.get("provenance") or {})
    hosts = prov.pop("hostnames", None)
    if isinstance(hosts, list):
        prov["hosts"] = sorted({str(h) for h in hosts})
    header["provenance"] = prov
    for key in ("provenance", "options", "topology", "complete", "failure"):
        if key in header:
            walk(key, header[key])
    return out


def _is_always_volatile(name):
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _ALWAYS_VOLATILE)


def volatile_fields(headers):
    """Fields that changed between most consecutive runs among `headers` (in order)."""
    flat = [flatten(h) for h in headers]
    if len(flat) < 4:
        return set()
    changed = {}
    for a, b in zip(flat[:-1], flat[1:]):
        for name in set(a) | set(b):
            if a.get(name) != b.get(name):
                changed[name] = changed.get(name, 0) + 1
    pairs = len(flat) - 1
    return {name for name, count in changed.items() if count / pairs > _VOLATILE_SHARE}


def diff(before, after, volatile=frozenset()):
    """[{field, label, before, after}] that differ; headline fields first."""
    if before is None or after is None:
        return []
    a, b = flatten(before), flatten(after)
    headline = {name: label for name, label in HEADLINE}
    # The headline fields stay even when they change every run (a SHA per nightly run):
    # they are what a change is attributed to.
    names = [n for n in set(a) | set(b) if a.get(n) != b.get(n) and
             (n in headline or n not in volatile and not _is_always_volatile(n))]
    rank = {name: i for i, (name, _) in enumerate(HEADLINE)}
    names.sort(key=lambda n: (rank.get(n, len(rank)), n))
    out = []
    for name in names:
        entry = {"field": name, "label": headline.get(name, name),
                 "before": a.get(name), "after": b.get(name)}
        if name == "provenance.hosts":
            old = set(json.loads(a[name])) if name in a else set()
            new = set(json.loads(b[name])) if name in b else set()
            entry["added"] = sorted(new - old)
            entry["removed"] = sorted(old - new)
        out.append(entry)
    return out


def _short(value, width=60):
    text = "(none)" if value is None else str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def summary(entries, limit=4):
    """One line: 'collbench SHA 1a2b -> 3c4d; NCCL 2.19 -> 2.21; +2 more'."""
    if not entries:
        return "no recorded difference"
    parts = []
    for entry in entries[:limit]:
        if "added" in entry:
            moves = [f"+{h}" for h in entry["added"][:3]] + \
                [f"-{h}" for h in entry["removed"][:3]]
            parts.append(f"hosts {' '.join(moves)}")
        else:
            parts.append(f"{entry['label']} {_short(entry['before'], 24)} -> "
                         f"{_short(entry['after'], 24)}")
    if len(entries) > limit:
        parts.append(f"+{len(entries) - limit} more")
    return "; ".join(parts)
