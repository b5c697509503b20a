"""Loading and validating collbench result files (results/schema/result-v1.schema.json).

A *result set* is what the user names on the command line: one file, or a folder whose
*.json files (recursively) are result files. Records with the same key in one set
(several files of the same configuration, or `repeat` indices from `--repeat`) are
treated as repetitions of one point.
"""

import json
import math
import os
import re
import stat
import warnings
from dataclasses import dataclass, field

from . import InputError

SCHEMA_NAME = "collbench.result"
KNOWN_VERSIONS = (1,)

# The fields that identify a measured point (the same configuration in two runs).
# "step" is the training-step item of a `workload run` record ("" elsewhere): two items of one
# step can share every other field (a TP and a DP all-reduce of the same size).
KEY_FIELDS = ("collective", "algorithm", "dtype", "op", "bytes", "ranks", "placement", "step")


def _field(rec, name):
    if name == "step":
        step = rec.get("step")
        return step.get("what", "") if isinstance(step, dict) else ""
    return rec[name]

# Used only when the schema file cannot be found next to the scripts.
_FALLBACK_TOP = ("schema", "schema_version", "complete", "provenance", "options", "records")
_FALLBACK_RECORD = ("collective", "algorithm", "dtype", "op", "placement", "bytes", "count",
                    "ranks", "nodes", "iters", "time_us", "algbw_gbps", "busbw_gbps", "wrong",
                    "samples_us")


def _schema_path():
    env = os.environ.get("COLLBENCH_SCHEMA")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, os.pardir, os.pardir, "results", "schema",
                        "result-v1.schema.json")


_SCHEMA_CACHE = {}


def load_schema():
    """The JSON schema of result files, or None when it is not installed beside the scripts."""
    path = os.path.normpath(_schema_path())
    if path not in _SCHEMA_CACHE:
        try:
            with open(path, encoding="utf-8") as handle:
                _SCHEMA_CACHE[path] = json.load(handle)
        except (OSError, ValueError):
            _SCHEMA_CACHE[path] = None
    return _SCHEMA_CACHE[path]


# --- a validator for the subset of JSON Schema that result-v1 uses -----------------------

def _type_ok(value, name):
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    return True


def _describe(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number" if math.isfinite(value) else f"non-finite {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def validate(value, schema, where="$"):
    """Return None when `value` follows `schema`, else a message naming the first problem."""
    return _compiled(schema)(value, lambda: where)


_COMPILED = {}


def _compiled(schema):
    """A checker for `schema`: fn(value, where) -> problem or None, `where` a function that
    builds the path only when there is a problem (a large file has millions of fields)."""
    key = id(schema)
    if key not in _COMPILED:
        _COMPILED[key] = (schema, _compile(schema))  # keep schema alive: ids stay unique
    return _COMPILED[key][1]


def _compile(schema):
    checks = []
    if "const" in schema:
        const = schema["const"]

        def check_const(value, where):
            if value != const:
                return f"{where()} is {json.dumps(value)}, expected {json.dumps(const)}"
        checks.append(check_const)
    if "enum" in schema:
        allowed_values = schema["enum"]

        def check_enum(value, where):
            if value not in allowed_values:
                allowed = ", ".join(json.dumps(v) for v in allowed_values)
                return f"{where()} is {json.dumps(value)}, expected one of {allowed}"
        checks.append(check_enum)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        tests = [_TYPE_TESTS.get(t, lambda v, t=t: _type_ok(v, t)) for t in types]

        def check_type(value, where):
            for test in tests:
                if test(value):
                    return None
            return f"{where()} is {_describe(value)}, expected {' or '.join(types)}"
        checks.append(check_type)
    if "minimum" in schema:
        minimum = schema["minimum"]

        def check_minimum(value, where):
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and value < minimum:
                return f"{where()} is {value}, below the minimum {minimum}"
        checks.append(check_minimum)
    required = tuple(schema.get("required", ()))
    properties = [(k, _compile(sub)) for k, sub in schema.get("properties", {}).items()]
    if required or properties:
        def check_object(value, where):
            if not isinstance(value, dict):
                return None
            for name in required:
                if name not in value:
                    return f"{where()} lacks the required field '{name}'"
            for name, sub in properties:
                if name in value:
                    problem = sub(value[name], lambda name=name: f"{where()}.{name}")
                    if problem:
                        return problem
            return None
        checks.append(check_object)
    if "items" in schema:
        item_schema = schema["items"]
        # Numbers in samples arrays are the bulk of a file: check them without recursion.
        if item_schema.get("type") == "number" and len(item_schema) == 1:
            def check_items(value, where):
                if not isinstance(value, list):
                    return None
                for index, item in enumerate(value):
                    if not _type_ok(item, "number"):
                        return f"{where()}[{index}] is {_describe(item)}, expected number"
                return None
        else:
            sub = _compile(item_schema)

            def check_items(value, where):
                if not isinstance(value, list):
                    return None
                for index, item in enumerate(value):
                    problem = sub(item, lambda index=index: f"{where()}[{index}]")
                    if problem:
                        return problem
                return None
        checks.append(check_items)

    if len(checks) == 1:
        return checks[0]

    def check(value, where):
        for one in checks:
            problem = one(value, where)
            if problem:
                return problem
        return None
    return check


# The common types without the general function's branches (called once per field).
_TYPE_TESTS = {
    "string": lambda v: v.__class__ is str,
    "boolean": lambda v: v.__class__ is bool,
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "number": lambda v: (v.__class__ is int or (v.__class__ is float and math.isfinite(v))
                         or _type_ok(v, "number")),
    "integer": lambda v: v.__class__ is int or _type_ok(v, "integer"),
}


def _fallback_validate(data):
    for key in _FALLBACK_TOP:
        if key not in data:
            return f"$ lacks the required field '{key}'"
    if not isinstance(data["records"], list):
        return "$.records is not an array"
    for index, rec in enumerate(data["records"]):
        if not isinstance(rec, dict):
            return f"$.records[{index}] is not an object"
        for key in _FALLBACK_RECORD:
            if key not in rec:
                return f"$.records[{index}] lacks the required field '{key}'"
    return None


# --- files and sets ---------------------------------------------------------------------

@dataclass
class ResultFile:
    path: str
    data: dict

    @property
    def provenance(self):
        return self.data.get("provenance") or {}

    @property
    def records(self):
        return self.data.get("records") or []

    @property
    def complete(self):
        return bool(self.data.get("complete", True))


@dataclass
class ResultSet:
    """One command-line argument: a file or a folder of result files."""
    source: str
    files: list
    label: str = ""
    skipped: list = field(default_factory=list)  # (path, reason) of non-result JSON files

    def records(self):
        for result in self.files:
            for rec in result.records:
                yield result, rec

    def provenance_values(self, name):
        """Distinct values of a provenance field over the files, in first-seen order."""
        seen = []
        for result in self.files:
            value = result.provenance.get(name)
            if isinstance(value, (list, dict)):
                value = json.dumps(value, sort_keys=True)
            if value not in seen:
                seen.append(value)
        return seen


_SAMPLES = re.compile(rb'"samples_us"\s*:\s*\[([^\[\]{}"]*)\]')


def _cut_samples(raw):
    """Every samples_us array of the raw file parsed by numpy and replaced in the text by its
    index: (text without the arrays, arrays), or None when an array is not plain finite
    non-negative numbers (then the caller parses the whole file, for the exact message).

    The arrays are most of a result file; as Python floats in lists they take about four
    times their text, as numpy arrays half of it, and numpy parses them much faster."""
    import numpy as np
    arrays, pieces, last = [], [], 0
    for match in _SAMPLES.finditer(raw):
        body = match.group(1)
        if body.strip():
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # numpy warns when it stops at a bad number
                try:
                    values = np.fromstring(body, dtype=float, sep=",")
                except (ValueError, DeprecationWarning):
                    return None
            if len(values) != body.count(b",") + 1 or \
                    not (np.isfinite(values).all() and (values >= 0).all()):
                return None
        else:
            values = np.empty(0)
        pieces.append(raw[last:match.start()])
        pieces.append(b'"samples_us": %d' % len(arrays))
        arrays.append(values)
        last = match.end()
    pieces.append(raw[last:])
    return b"".join(pieces), arrays


def _with_arrays(path, raw):
    """read_result_file's result with samples_us as numpy arrays, or None (see _cut_samples)."""
    cut = _cut_samples(raw)
    if cut is None:
        return None
    text, arrays = cut
    try:
        data = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        return None
    placed = 0
    for rec in records:
        index = rec.get("samples_us") if isinstance(rec, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or index != placed:
            return None  # the pattern matched something else than a record's array
        rec["samples_us"] = []  # validated as an empty array; the numbers were checked above
        placed += 1
    if placed != len(arrays):
        return None
    result = check_result_data(path, data, check_times=False)
    for rec, values in zip(records, arrays):
        rec["samples_us"] = values
    problem = _time_problem(records)
    if problem:
        raise InputError(f"{path}: {problem}")
    return result


def read_result_file(path, array_samples=False):
    """Parse and validate one result file; raise InputError naming the file and the problem.

    array_samples: samples_us as numpy arrays (much faster and smaller for large files);
    the checks and messages are the same."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) and not os.path.isdir(path):
            # A FIFO or a device would block or never end.
            raise InputError(f"{path}: is not a regular file; expected a result file")
        with open(path, "rb") as handle:
            raw = handle.read()
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, expected a result file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise InputError(f"{path}: file is empty (the run may have died before writing it)")
    if array_samples:
        result = _with_arrays(path, raw)
        if result is not None:
            return result
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); not a result file") \
            from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply; not a result file") from None
    except json.JSONDecodeError as exc:
        hint = ""
        if exc.pos >= len(text.rstrip()) - 1:
            hint = " (the file looks truncated)"
        raise InputError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: "
                         f"{exc.msg}{hint}") from None
    return check_result_data(path, data)


def check_result_data(path, data, check_times=True):
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a collbench result file (top level is "
                         f"{_describe(data)}, expected an object)")
    schema_name = data.get("schema")
    if schema_name != SCHEMA_NAME:
        what = "has no 'schema' field" if schema_name is None else \
            f"has schema {json.dumps(schema_name)}"
        raise InputError(f"{path}: not a collbench result file ({what}, expected "
                         f"\"{SCHEMA_NAME}\")")
    version = data.get("schema_version")
    if version not in KNOWN_VERSIONS:
        known = ", ".join(str(v) for v in KNOWN_VERSIONS)
        raise InputError(f"{path}: schema_version {json.dumps(version)} is not supported "
                         f"(this script reads version {known}); use a matching collbench "
                         "scripts release")
    schema = load_schema()
    problem = validate(data, schema) if schema else _fallback_validate(data)
    if problem:
        raise InputError(f"{path}: does not follow the result schema: {problem}")
    problem = _time_problem(data["records"]) if check_times else None
    if problem:
        raise InputError(f"{path}: {problem}")
    return ResultFile(path=path, data=data)


def _time_problem(records):
    """Times no collbench run can produce (the schema cannot say 'not all zero')."""
    for index, rec in enumerate(records):
        samples = rec.get("samples_us")
        times = rec.get("time_us") or {}
        values = [times.get(k) for k in ("min", "mean", "p50", "max")]
        if any(isinstance(v, (int, float)) and v < 0 for v in values):
            return f"$.records[{index}].time_us has a negative time"
        if samples is not None and len(samples) > 0:
            low, high = (samples.min(), samples.max()) if hasattr(samples, "min") else \
                (min(samples), max(samples))
            if low < 0:
                return f"$.records[{index}].samples_us has a negative time"
            if high <= 0:
                return f"$.records[{index}].samples_us: every sample is 0 µs (nothing was timed)"
        elif not (isinstance(times.get("p50"), (int, float)) and times["p50"] > 0):
            return f"$.records[{index}] has neither samples nor a positive time_us.p50"
    return None


def _looks_foreign(path):
    """True for JSON files in a folder that are clearly not result files (plot data etc.)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False  # unreadable or malformed: let the reader report it
    return isinstance(data, dict) and "schema" in data and data["schema"] != SCHEMA_NAME \
        or isinstance(data, dict) and "schema" not in data and "records" not in data


def load_set(source, label=None, array_samples=False):
    """Load a file or folder into a ResultSet; raise InputError if nothing usable is there.
    array_samples: see read_result_file."""
    if os.path.isdir(source):
        paths = []
        for root, dirs, names in os.walk(source):
            dirs.sort()
            for name in sorted(names):
                if name.endswith(".json"):
                    paths.append(os.path.join(root, name))
        files, skipped = [], []
        for path in paths:
            if _looks_foreign(path):
                skipped.append((path, "not a collbench result file"))
                continue
            files.append(read_result_file(path, array_samples))
        if not files:
            raise InputError(f"{source}: folder holds no collbench result files (*.json)")
    elif os.path.exists(source):
        files, skipped = [read_result_file(source, array_samples)], []
    else:
        raise InputError(f"{source}: no such file or folder")
    result_set = ResultSet(source=source, files=files, skipped=skipped)
    result_set.label = label or default_label(result_set)
    return result_set


def default_label(result_set):
    labels = [v for v in result_set.provenance_values("hardware_label") if v]
    if len(labels) == 1:
        return labels[0]
    if len(labels) > 1:
        return " + ".join(labels)
    base = os.path.basename(os.path.normpath(result_set.source))
    return base[:-5] if base.endswith(".json") else base


def record_key(rec):
    return tuple(_field(rec, name) for name in KEY_FIELDS)


def key_text(key):
    """'allreduce ring float32 sum 1M 8 ranks out'"""
    from .units import format_size
    values = dict(zip(KEY_FIELDS, key))
    step = f" [{values['step']}]" if values.get("step") else ""
    return (f"{values['collective']}/{values['algorithm']} {values['dtype']} {values['op']} "
            f"{format_size(values['bytes'])} {values['ranks']} ranks {values['placement']}{step}")


def group_records(result_set, predicate=None):
    """key -> list of (ResultFile, record), repetitions of one point kept together."""
    groups = {}
    for result, rec in result_set.records():
        if predicate is not None and not predicate(rec):
            continue
        groups.setdefault(record_key(rec), []).append((result, rec))
    return groups


def sort_key(key):
    values = dict(zip(KEY_FIELDS, key))
    return (values["collective"], values["algorithm"], values["dtype"], values["op"],
            values["placement"], values["ranks"], values["bytes"], values.get("step", ""))
