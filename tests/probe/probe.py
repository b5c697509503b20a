#!/usr/bin/python3
"""Probes of collbench's documented promises under hostile input and signals.

Every case runs a real command (collbench alone, under mpirun, or one of the scripts) in a folder
of its own and checks what the documentation promises:
  - the exit code: 0 ok, 1 wrong results, 2 bad input, 3 timeout, 128 + N after signal N
    (and never 1 for bad input);
  - bad input is said in one line that matches the case's pattern;
  - no Python traceback and no C++ exception text in the output;
  - no temporary file left in the case's folder;
  - result files are valid JSON holding every row the table printed, marked complete or not as
    the case expects;
  - no process of the case left behind.
The cases come from tables (cases.py): a flag, an input file or an output gets its probes by
adding a row there.

  tests/probe/probe.py --collbench build/bench/collbench [-j 2] [-k REGEX] [--list] [--seed N]

Exit status: 0 when every case kept its promises, 1 otherwise.
"""

import argparse
import concurrent.futures
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cases as case_table  # noqa: E402
import checks  # noqa: E402

MARKER = "COLLBENCH_PROBE_CASE"


def processes_of(marker):
    """PIDs of live processes whose environment carries MARKER=marker (mpirun passes its
    environment to the ranks, so this finds the whole tree, whatever sessions they made)."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat", "rb") as stat:
                        if stat.read().split(b") ")[-1][:1] != b"Z":
                            found.append(int(entry))
        except OSError:
            continue
    return found


def kill_all(marker):
    for _ in range(3):
        pids = processes_of(marker)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.2)


class Result:
    def __init__(self, case):
        self.case = case
        self.problems = []
        self.rc = None
        self.out = ""
        self.err = ""
        self.seconds = 0.0
        self.notes = []


def run_case(case, ctx, seed):
    """Runs one case in its folder; returns a Result with the broken promises in problems."""
    result = Result(case)
    folder = os.path.join(ctx.root, "cases", case.name)
    os.makedirs(folder, exist_ok=True)
    marker = f"{os.getpid()}-{case.name}"
    env = dict(os.environ)
    env.update(ctx.env)
    env.update(case.env)
    env[MARKER] = marker
    try:
        if case.setup:
            case.setup(folder, ctx)
        argv = ctx.expand(case.argv, folder)
    except Exception as exc:  # a broken fixture is a failure of the suite, said as such
        result.problems.append(f"setup failed: {exc!r}")
        return result
    start = time.monotonic()
    try:
        if case.driver:
            case.driver(result, argv, folder, env, ctx, random.Random(f"{seed}:{case.name}"))
        else:
            proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            try:
                out, err = proc.communicate(timeout=case.timeout)
            except subprocess.TimeoutExpired:
                kill_all(marker)
                out, err = proc.communicate()
                result.problems.append(f"hung: no exit within {case.timeout} s")
            result.rc = proc.returncode
            result.out = out.decode("utf-8", "replace")
            result.err = err.decode("utf-8", "replace")
    finally:
        result.seconds = time.monotonic() - start
    # Processes the command left behind (mpirun and its ranks end within a second or two).
    for _ in range(30):
        if not processes_of(marker):
            break
        time.sleep(0.1)
    left = processes_of(marker)
    if left:
        kill_all(marker)
        result.problems.append(f"processes left behind: {left}")
    result.problems.extend(checks.standard(case, result, folder))
    for name, text in (("probe-stdout.txt", result.out), ("probe-stderr.txt", result.err)):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    for check in case.checks:
        problem = check(result, folder, ctx)
        if problem:
            result.problems.append(problem)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collbench", required=True, help="the collbench executable")
    parser.add_argument("--source-dir", default=os.path.dirname(os.path.dirname(HERE)),
                        help="the repository (scripts/, tests/data/)")
    parser.add_argument("-j", "--jobs", type=int, default=2,
                        help="cases without ranks run this many at a time")
    parser.add_argument("-k", "--filter", default="", help="only cases whose name matches")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the random moments of the signal cases")
    parser.add_argument("--keep", action="store_true", help="keep the case folders")
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args()

    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    root = tempfile.mkdtemp(prefix="collbench-probe-")
    ctx = case_table.Context(root=root, collbench=os.path.abspath(args.collbench),
                             source=os.path.abspath(args.source_dir))
    all_cases = case_table.all_cases(ctx)
    names = [c.name for c in all_cases]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        print(f"probe: duplicate case names: {sorted(duplicates)}")
        return 1
    selected = [c for c in all_cases if re.search(args.filter, c.name)]
    if args.list:
        for c in selected:
            print(f"{c.name:60s} {c.kind:7s} rc={c.rc}  {' '.join(map(str, c.argv))}")
        print(f"{len(selected)} cases")
        return 0

    print(f"probe: {len(selected)} cases, seed {seed}, folder {root}", flush=True)
    start = time.monotonic()
    try:
        ctx.prepare()
    except Exception as exc:
        print(f"probe: fixtures could not be prepared: {exc!r}")
        return 1
    parallel = [c for c in selected if c.kind in ("plain", "script")]
    serial = [c for c in selected if c not in parallel]
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for result in pool.map(lambda c: run_case(c, ctx, seed), parallel):
            results.append(result)
            report(result, args.verbose)
    # Cases that launch ranks run alone: their timeouts assume the cores are theirs.
    for case in serial:
        result = run_case(case, ctx, seed)
        results.append(result)
        report(result, args.verbose)

    failed = [r for r in results if r.problems]
    elapsed = time.monotonic() - start
    by_kind = {}
    for r in results:
        by_kind.setdefault(r.case.kind, [0, 0])
        by_kind[r.case.kind][0] += 1
        by_kind[r.case.kind][1] += bool(r.problems)
    kinds = ", ".join(f"{k} {n - f}/{n}" for k, (n, f) in sorted(by_kind.items()))
    for r in results:
        for note in r.notes:
            print(f"probe: note: {r.case.name}: {note}")
    print(f"probe: {len(results) - len(failed)} of {len(results)} cases kept every promise "
          f"({kinds}) in {elapsed:.0f} s, seed {seed}")
    if failed:
        print(f"probe: {len(failed)} broke a promise: "
              + ", ".join(r.case.name for r in failed[:20]) + (" ..." if len(failed) > 20 else ""))
    if not args.keep and not failed:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"probe: case folders kept in {root}")
    return 1 if failed else 0


def report(result, verbose):
    if result.problems:
        print(f"FAIL {result.case.name} ({result.seconds:.1f} s, exit {result.rc})")
        print(f"     command: {' '.join(map(str, result.case.argv))}")
        for p in result.problems:
            print(f"     - {p}")
        tail = (result.err.strip() or result.out.strip()).splitlines()[-6:]
        for line in tail:
            print(f"     | {line[:200]}")
        sys.stdout.flush()
    elif verbose:
        print(f"ok   {result.case.name} ({result.seconds:.1f} s, exit {result.rc})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
