"""The promises every probe case is checked against, and the checks cases add (cases.py)."""

import json
import os
import re

# Output no user should ever see: each is a promise broken whatever the exit code.
BANNED = [
    (r"Traceback \(most recent call last\)", "a Python traceback"),
    (r"terminate called", "an escaped C++ exception (terminate called)"),
    (r"what\(\):", "a C++ exception text (what():)"),
    (r"basic_(filebuf|string|ios)|std::(ios_base|bad_|out_of_range|invalid_argument|"
     r"logic_error|runtime_error|filesystem)", "a C++ library exception text"),
    (r"\[json\.exception", "the JSON library's exception tag"),
    (r"Segmentation fault|core dumped|Bus error", "a crash"),
    (r"AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer", "a sanitizer report"),
    (r"(User|Runtime|Deprecation|Future)Warning|matplotlib.*[Ww]arning",
     "a Python warning"),
]

TEMP_NAME = re.compile(r"\.tmp\.\d+$|\.probe\.\d+$")


def collbench_lines(text):
    """Non-empty lines of stderr, without Open MPI's reports (blocks between lines of dashes,
    which mpirun prints whenever a rank exits non-zero)."""
    lines, inside = [], False
    for line in text.splitlines():
        if re.match(r"^-{20,}$", line.strip()):
            inside = not inside
            continue
        if inside or not line.strip():
            continue
        lines.append(line)
    return lines


def standard(case, result, folder):
    problems = []
    want = case.rc if isinstance(case.rc, (tuple, list, set)) else (case.rc,)
    if result.rc not in want:
        problems.append(f"exit code {result.rc}, expected {' or '.join(map(str, want))}")
    text = result.out + "\n" + result.err
    if case.message and not re.search(case.message, text, re.M):
        problems.append(f"output does not match /{case.message}/")
    for pattern, what in BANNED:
        match = re.search(pattern, text)
        if match:
            problems.append(f"{what} in the output: {match.group(0)!r}")
    if case.one_line and result.rc == 2:
        lines = collbench_lines(result.err)
        if len(lines) != 1:
            shown = " / ".join(lines[:4])
            problems.append(f"{len(lines)} lines on stderr instead of one: {shown[:300]}")
    for base, dirs, files in os.walk(folder):
        for name in files + dirs:
            if TEMP_NAME.search(name):
                problems.append(f"temporary file left: {os.path.join(base, name)}")
    return problems


# --- checks a case adds ------------------------------------------------------------------

def no_file(name):
    def check(result, folder, ctx):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return f"{name} was written"
    return check


def unchanged(name, content):
    def check(result, folder, ctx):
        path = os.path.join(folder, name)
        try:
            with open(path, "rb") as handle:
                now = handle.read()
        except OSError as exc:
            return f"{name} is gone ({exc.strerror})"
        if now != content:
            return f"{name} was changed"
    return check


def result_file(name, complete=None, failure=None, min_records=0, rows_from_table=False):
    """A result file (schema collbench.result) that parses, with the given state. With
    rows_from_table, it must hold at least the records of every row the table printed."""
    def check(result, folder, ctx):
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            if min_records == 0 and not rows_from_table and complete is None:
                return None
            return f"{name} does not exist"
        except (OSError, ValueError) as exc:
            return f"{name} is not valid JSON: {exc}"
        if data.get("schema") != "collbench.result":
            return f"{name}: schema {data.get('schema')!r}"
        records = data.get("records")
        if not isinstance(records, list):
            return f"{name}: no records array"
        if complete is not None and data.get("complete") is not complete:
            return f"{name}: complete is {data.get('complete')!r}, expected {complete}"
        if failure and not re.search(failure, data.get("failure") or ""):
            return f"{name}: failure {data.get('failure')!r} does not match /{failure}/"
        if len(records) < min_records:
            return f"{name}: {len(records)} records, expected at least {min_records}"
        if rows_from_table:
            printed = table_records(result.out)
            if len(records) < printed:
                return f"{name}: {len(records)} records, but the table printed {printed}"
    return check


_ROW = re.compile(r"^\s+\d+\s+\d+\s+\S+\s+\S+\s+\S+(\s+(-|[\d.]+)){8}\s*$")


def table_records(stdout):
    """Records behind the rows of the console table: one per measured placement."""
    count = 0
    for line in stdout.splitlines():
        if _ROW.match(line):
            fields = line.split()
            count += sum(1 for i in (5, 9) if i < len(fields) and fields[i] != "-")
    return count


def json_file(name, schema=None):
    def check(result, folder, ctx):
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as exc:
            return f"{name}: {exc}"
        if schema and data.get("schema") != schema:
            return f"{name}: schema {data.get('schema')!r}, expected {schema}"
    return check


def stderr_lacks(pattern, why):
    def check(result, folder, ctx):
        match = re.search(pattern, result.err + result.out)
        if match:
            return f"{why}: {match.group(0)!r}"
    return check
