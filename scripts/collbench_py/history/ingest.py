"""Result files into the store: read, check, convert, then each file atomically.

Every file is read and checked before anything is written, so an unusable file among
many leaves the store as it was. The checks are the parts of the result schema the store
relies on, written out by hand: the generic schema validator costs ~25 ms for a file of
200 records, too slow for a history of a thousand files, and its enums would refuse
collectives and fields newer than this tool, which the store is meant to take as they come.
"""

import hashlib
import json
import math
import os
from array import array
from dataclasses import dataclass, field

from .. import InputError
from ..results import KNOWN_VERSIONS, SCHEMA_NAME, _describe, _looks_foreign
from .store import SERIES_FIELDS, now_text

# Record fields that have a column (or make the series key); the rest go to points.extra.
_COLUMN_FIELDS = frozenset((
    "collective", "algorithm", "dtype", "op", "bytes", "ranks", "nodes", "placement",
    "timing", "backend", "repeat", "time_us", "busbw_gbps", "busbw_factor", "iters", "wrong",
    "samples_us", "warmup", "ranks_per_node", "slowest_rank", "slowest_rank_share"))
# Derivable from the columns or the samples; not worth repeating per point.
_DROPPED_FIELDS = frozenset(("algbw_gbps", "algbw_p50_gbps", "busbw_p50_gbps", "count"))
_KNOWN_FIELDS = _COLUMN_FIELDS | _DROPPED_FIELDS | {"first_wrong"}
_STRINGS = ("collective", "algorithm", "dtype", "op", "placement")
_INTEGERS = ("bytes", "ranks", "nodes", "iters", "wrong")

_RECORD_TYPES = (("collective", str), ("algorithm", str), ("dtype", str), ("op", str),
                 ("placement", str), ("bytes", int), ("ranks", int), ("nodes", int),
                 ("iters", int), ("wrong", int))
_PROVENANCE_TYPES = (("collbench_version", str), ("git_sha", str), ("start_time", str),
                     ("hostnames", list), ("ranks", int), ("nodes", int))
_TIME_FIELDS = ("min", "mean", "p50", "p95", "p99", "max", "stdev")


@dataclass
class Run:
    """One result file, checked and converted, ready to store."""
    path: str
    digest: str
    identity: str
    machine: str
    header: dict
    points: list = field(default_factory=list)  # (series key tuple, repeat, values tuple)

    @property
    def provenance(self):
        return self.header["provenance"]


def _reject_constant(name):
    raise ValueError(f"non-finite number {name}")


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a result file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _parse(path, raw):
    if not raw.strip():
        raise InputError(f"{path}: file is empty (the run may have died before writing it)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); not a result file") \
            from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) - 1 else ""
        raise InputError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg}{hint}") from None
    except ValueError as exc:
        raise InputError(f"{path}: {exc}; not a valid result file") from None
    return raw, data


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool) or \
        isinstance(value, float) and value.is_integer()


def _type_problem(value, kind, where):
    if kind is int:
        ok = _is_int(value)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value)
    else:
        ok = isinstance(value, kind)
    if ok:
        return None
    name = {int: "integer", float: "number", str: "string", list: "an array",
            dict: "an object", bool: "a boolean"}[kind]
    return f"{where} is {_describe(value)}, expected {name}"


def _check_header(path, data):
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a collbench result file (top level is "
                         f"{_describe(data)}, expected an object)")
    name = data.get("schema")
    if name != SCHEMA_NAME:
        what = "has no 'schema' field" if name is None else f"has schema {json.dumps(name)}"
        raise InputError(f"{path}: not a collbench result file ({what}, expected "
                         f"\"{SCHEMA_NAME}\")")
    version = data.get("schema_version")
    newest = max(KNOWN_VERSIONS)
    if _is_int(version) and version > newest:
        raise InputError(f"{path}: schema_version {version} is newer than this tool (reads "
                         f"{newest}); update collbench's scripts before ingesting it")
    if version not in KNOWN_VERSIONS:
        raise InputError(f"{path}: schema_version {json.dumps(version)} is not supported "
                         f"(this tool reads {', '.join(map(str, KNOWN_VERSIONS))})")
    for key, kind in (("complete", bool), ("provenance", dict), ("options", dict),
                      ("records", list)):
        if key not in data:
            raise InputError(f"{path}: does not follow the result schema: $ lacks the "
                             f"required field '{key}'")
        problem = _type_problem(data[key], kind, f"$.{key}")
        if problem:
            raise InputError(f"{path}: does not follow the result schema: {problem}")
    prov = data["provenance"]
    for key, kind in _PROVENANCE_TYPES:
        if key not in prov:
            raise InputError(f"{path}: does not follow the result schema: $.provenance "
                             f"lacks the required field '{key}'")
        problem = _type_problem(prov[key], kind, f"$.provenance.{key}")
        if problem:
            raise InputError(f"{path}: does not follow the result schema: {problem}")


def _fast_values(rec):
    """The stored values of a plainly well-formed record, else None (then the slow path
    names the problem). A handful of C-level operations per record: a thousand files of
    200 records are 200,000 of them.
    """
    try:
        times = rec["time_us"]
        head = (rec["collective"], rec["algorithm"], rec["dtype"], rec["op"],
                rec["placement"])
        counts = (rec["bytes"], rec["ranks"], rec["nodes"], rec["iters"], rec["wrong"],
                  rec.get("repeat", 0))
        stats = (times["p50"], times["mean"], times["min"], times["max"], times["stdev"],
                 times["p95"], times["p99"], rec["busbw_gbps"], rec["algbw_gbps"])
        samples = rec["samples_us"]
    except (KeyError, TypeError):
        return None
    if set(map(type, head)) != {str} or set(map(type, counts)) != {int} or \
            not set(map(type, stats)) <= {float, int} or type(samples) is not list:
        return None
    if not math.isfinite(sum(stats)):
        return None
    return stats, counts, samples


def _record_problem(rec, where):
    """The first problem of a record that failed _fast_ok (None if there is none)."""
    if not isinstance(rec, dict):
        return f"{where} is {_describe(rec)}, expected an object"
    for key, kind in _RECORD_TYPES:
        if key not in rec:
            return f"{where} lacks the required field '{key}'"
        problem = _type_problem(rec[key], kind, f"{where}.{key}")
        if problem:
            return problem
    times = rec.get("time_us")
    if not isinstance(times, dict):
        return f"{where}.time_us is {_describe(times)}, expected an object"
    for key in _TIME_FIELDS:
        if key not in times:
            return f"{where}.time_us lacks the required field '{key}'"
        problem = _type_problem(times[key], float, f"{where}.time_us.{key}")
        if problem:
            return problem
    for key in ("busbw_gbps", "algbw_gbps"):
        problem = _type_problem(rec.get(key), float, f"{where}.{key}")
        if problem:
            return problem
    if not isinstance(rec.get("samples_us"), list):
        return f"{where}.samples_us is {_describe(rec.get('samples_us'))}, expected an array"
    if not _is_int(rec.get("repeat", 0)):
        return f"{where}.repeat is {_describe(rec.get('repeat'))}, expected integer"
    return None


def _optional(rec, key, kind):
    value = rec.get(key)
    return kind(value) if type(value) is int or type(value) is float else None


def _record_values(rec, where):
    """The stored values of one record, or a problem text."""
    fast = _fast_values(rec)
    if fast is None:
        problem = _record_problem(rec, where)
        if problem:
            return problem
        fast = _fast_values(_normalised(rec))
    stats, counts, samples = fast
    try:
        packed = array("d", samples)
    except TypeError:
        bad = next(i for i, x in enumerate(samples)
                   if not isinstance(x, (int, float)) or isinstance(x, bool))
        return f"{where}.samples_us[{bad}] is {_describe(samples[bad])}, expected number"
    if packed and (max(packed) == math.inf or min(packed) == -math.inf):
        return f"{where}.samples_us holds a non-finite number"
    factor = rec.get("busbw_factor")
    if type(factor) is not float and type(factor) is not int:
        factor = stats[7] / stats[8] if stats[8] > 0 else None
    extra = None
    if not _KNOWN_FIELDS.issuperset(rec) or rec.get("first_wrong") is not None:
        rest = {k: v for k, v in rec.items()
                if k not in _COLUMN_FIELDS and k not in _DROPPED_FIELDS
                and not (k == "first_wrong" and v is None)}
        extra = json.dumps(rest, sort_keys=True) if rest else None
    return (counts[5], stats[0], stats[1], stats[2], stats[3], stats[4], stats[7], factor,
            counts[3], _optional(rec, "warmup", int), counts[4],
            _optional(rec, "ranks_per_node", int), _optional(rec, "slowest_rank", int),
            _optional(rec, "slowest_rank_share", float), packed.tobytes(), extra)


def _normalised(rec):
    """A record that passed _record_problem with its integers written as integers."""
    out = dict(rec)
    for key in _INTEGERS + ("repeat",):
        if key in out:
            out[key] = int(out[key])
    out.setdefault("repeat", 0)
    return out


def machine_name(prov, override=None):
    """The history a run belongs to: --label, else its hardware label, else its hosts."""
    if override:
        return override
    label = prov.get("hardware_label")
    if isinstance(label, str) and label.strip():
        return label.strip()
    hosts = sorted({str(h) for h in prov.get("hostnames") or []})
    if not hosts:
        return "unknown"
    if len(hosts) <= 4:
        return ",".join(hosts)
    tag = hashlib.sha256("\n".join(hosts).encode()).hexdigest()[:8]
    return f"{hosts[0]}..{hosts[-1]} ({len(hosts)} hosts, {tag})"


def run_identity(prov):
    """What names one run of collbench: the same run re-read or rewritten has the same."""
    parts = [prov.get(k) for k in ("start_time", "git_sha", "collbench_version", "hostnames",
                                   "command_line", "ranks")]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def read_run(path, label=None, raw=None):
    """Read and check one result file into a Run; raise InputError naming the problem."""
    raw = _read(path) if raw is None else raw
    raw, data = _parse(path, raw)
    _check_header(path, data)
    prov = data["provenance"]
    machine = machine_name(prov, label)
    run = Run(path=path, digest=hashlib.sha256(raw).hexdigest(),
              identity=run_identity(prov), machine=machine,
              header={k: v for k, v in data.items() if k != "records"})
    for index, rec in enumerate(data["records"]):
        values = _record_values(rec, f"$.records[{index}]")
        if isinstance(values, str):
            raise InputError(f"{path}: does not follow the result schema: {values}")
        key = (machine, rec["collective"], rec["algorithm"], rec["dtype"], rec["op"],
               int(rec["bytes"]), int(rec["ranks"]), int(rec["nodes"]), rec["placement"],
               str(rec.get("timing") or "per-call"),
               str(rec.get("backend") or prov.get("backend") or ""))
        run.points.append((key, values))
    return run


def expand_inputs(inputs):
    """Files named on the command line; folders give their *.json result files."""
    paths = []
    for source in inputs:
        if os.path.isdir(source):
            found = []
            for root, dirs, names in os.walk(source):
                dirs.sort()
                found.extend(os.path.join(root, n) for n in sorted(names)
                             if n.endswith(".json"))
            found = [p for p in found if not _looks_foreign(p)]
            if not found:
                raise InputError(f"{source}: folder holds no collbench result files (*.json)")
            paths.extend(found)
        elif os.path.exists(source):
            paths.append(source)
        else:
            raise InputError(f"{source}: no such file or folder")
    return paths


def _driver(prov):
    for key in ("nvidia_driver", "cuda_driver_version", "driver_version", "driver"):
        value = prov.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def store_run(batch, run, series_ids):
    """Store one checked run under its own savepoint. Returns (status, run id).

    status: "stored", "present" (the same file, or the same run already complete) or
    "replaced" (the stored copy of this run was incomplete and this one has more).
    """
    prov = run.provenance
    complete = bool(run.header.get("complete"))
    with batch.file() as conn:
        row = conn.execute("SELECT id, digest, complete, records FROM runs WHERE identity = ?",
                           (run.identity,)).fetchone()
        status = "stored"
        if row is not None:
            old_id, old_digest, old_complete, old_records = row
            if old_digest == run.digest or old_complete or \
                    (not complete and len(run.points) <= old_records):
                return "present", old_id
            conn.execute("DELETE FROM runs WHERE id = ?", (old_id,))
            status = "replaced"
        hosts = sorted({str(h) for h in prov.get("hostnames") or []})
        cursor = conn.execute(
            "INSERT INTO runs (identity, digest, source, ingested_at, start_time, end_time,"
            " machine, git_sha, collbench_version, backend, mpi_library, nccl_version, driver,"
            " hosts, ranks, nodes, complete, records, header)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run.identity, run.digest, os.path.abspath(run.path), now_text(),
             prov["start_time"], prov.get("end_time"), run.machine, prov.get("git_sha"),
             prov.get("collbench_version"), prov.get("backend"), prov.get("mpi_library"),
             prov.get("nccl_version"), _driver(prov), json.dumps(hosts), prov.get("ranks"),
             prov.get("nodes"), int(complete), len(run.points),
             json.dumps(run.header, sort_keys=True)))
        run_id = cursor.lastrowid
        rows, blobs, seen = [], [], set()
        for key, values in run.points:
            series_id = series_ids.get(key)
            if series_id is None:
                series_id = _series_id(conn, key)
                series_ids[key] = series_id
            repeat = values[0]
            # Two records of one series and repeat (a field this store does not key on
            # told them apart): keep both as further repeats rather than drop one.
            while (series_id, repeat) in seen:
                repeat += 1000
            seen.add((series_id, repeat))
            rows.append((run_id, series_id, repeat) + values[1:-2] + values[-1:])
            blobs.append((run_id, series_id, repeat, values[-2]))
        conn.executemany(
            "INSERT INTO points (run_id, series_id, repeat, p50_us, mean_us, min_us, max_us,"
            " stdev_us, busbw_gbps, busbw_factor, iters, warmup, wrong, ranks_per_node,"
            " slowest_rank, slowest_rank_share, extra)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO samples (run_id, series_id, repeat, samples_us)"
                         " VALUES (?, ?, ?, ?)", blobs)
    return status, run_id


def _series_id(conn, key):
    marks = " AND ".join(f"{name} = ?" for name in SERIES_FIELDS)
    row = conn.execute(f"SELECT id FROM series WHERE {marks}", key).fetchone()
    if row:
        return row[0]
    cursor = conn.execute(
        f"INSERT INTO series ({', '.join(SERIES_FIELDS)}) VALUES "
        f"({', '.join('?' * len(SERIES_FIELDS))})", key)
    return cursor.lastrowid


def check_files(paths, label=None, stored=None):
    """(runs to store, [(path, (run id, records, machine))] already stored).

    stored: digest -> (run id, records, machine) of the store; a file whose bytes are
    already there is recognised by its digest and not parsed again.
    """
    stored = stored or {}
    runs, present = [], []
    for path in paths:
        raw = _read(path)
        digest = hashlib.sha256(raw).hexdigest()
        if digest in stored:
            present.append((path, stored[digest]))
        else:
            runs.append(read_run(path, label, raw))
    return runs, present


def stored_digests(store):
    return {digest: (run_id, records, machine) for digest, run_id, records, machine in
            store.query("SELECT digest, id, records, machine FROM runs")}


def ingest(store, runs, present, report=None):
    """Store checked runs, each atomically. Returns counts by status.

    report(path, status, run id, records, machine) is called per file.
    """
    counts = {"stored": 0, "present": len(present), "replaced": 0}
    for path, (run_id, records, machine) in present:
        if report:
            report(path, "present", run_id, records, machine)
    series_ids = {}
    with store.batch() as batch:
        for run in runs:
            status, run_id = store_run(batch, run, series_ids)
            counts[status] += 1
            if report:
                report(run.path, status, run_id, len(run.points), run.machine)
    return counts
