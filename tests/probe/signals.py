"""Signal cases: a benchmark under mpirun gets SIGTERM or SIGINT (to mpirun), or one of its
ranks (rank 0 or another) gets SIGKILL, SIGSTOP or SIGTERM, at a random moment after the table
started. Checked: the exit code, the result file (valid JSON, every row the table printed,
marked incomplete with the reason), no temporary file, no process left; for a frozen rank, that
the run ends within 1.5 x --timeout of the freeze, naming the frozen rank."""

import json
import os
import re
import signal
import subprocess
import threading
import time

import cases as case_table
import checks

TIMEOUT = 2.0  # --timeout of the frozen-rank cases (seconds)
# Scheduling slack on a loaded 2-core machine, on top of the promised 1.5 x --timeout.
SLACK = 1.0


def rank_pids(marker, env_name="OMPI_COMM_WORLD_RANK"):
    """rank -> pid of the case's collbench processes."""
    needle = f"COLLBENCH_PROBE_CASE={marker}".encode()
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                env = handle.read().split(b"\0")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmd = handle.read().split(b"\0")
        except OSError:
            continue
        if needle not in env or not cmd or not cmd[0].endswith(b"collbench"):
            continue
        for item in env:
            if item.startswith(env_name.encode() + b"="):
                out[int(item.split(b"=", 1)[1])] = int(entry)
    return out


def drive(target, sig, nranks, json_name, timeout_s=None):
    """A driver: starts the run, waits for the table plus a random moment, signals target
    ('mpirun' or a rank number), and collects the outcome into the result."""
    def run(result, argv, folder, env, ctx, rng):
        marker = env["COLLBENCH_PROBE_CASE"]
        proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        out_lines, err_chunks = [], []
        started = threading.Event()

        def read_out():
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                out_lines.append(line)
                if checks.table_records(line) > 0:
                    started.set()

        reported = []

        def read_err():
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace")
                err_chunks.append(line)
                if "Ranks that had not arrived" in line and not reported:
                    reported.append(time.monotonic())

        readers = [threading.Thread(target=read_out), threading.Thread(target=read_err)]
        for t in readers:
            t.start()
        signalled_at = None
        if started.wait(60):
            time.sleep(rng.uniform(0.0, 1.0))  # the random moment
            if target == "mpirun":
                pid = proc.pid
            else:
                pid = None
                for _ in range(50):
                    pid = rank_pids(marker).get(target)
                    if pid:
                        break
                    time.sleep(0.05)
            if pid and proc.poll() is None:
                os.kill(pid, sig)
                signalled_at = time.monotonic()
                result.notes.append(f"signal {sig} to {target} (pid {pid}) after "
                                    f"{checks.table_records(''.join(out_lines))} records")
            else:
                result.problems.append("the run ended before the signal could be sent")
        else:
            result.problems.append("no table row within 60 s")
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            result.problems.append("hung: no exit within 60 s of the signal")
            from probe import kill_all
            kill_all(marker)
            proc.wait()
        ended = time.monotonic()
        for t in readers:
            t.join()
        result.rc = proc.returncode
        result.out = "".join(out_lines)
        result.err = "".join(err_chunks)
        if timeout_s and signalled_at:
            took = (reported[0] if reported else ended) - signalled_at
            result.notes.append(f"reported {took:.1f} s and ended {ended - signalled_at:.1f} s "
                                f"after the freeze (--timeout {timeout_s})")
            if took > 1.5 * timeout_s + SLACK:
                result.problems.append(f"the frozen rank was reported after {took:.1f} s, more "
                                       f"than 1.5 x --timeout {timeout_s} (+{SLACK} s slack)")
    return run


def frozen_named(rank):
    """The result file holds the timeout naming `rank` as the one that had not arrived."""
    def check(result, folder, ctx):
        pattern = rf"Ranks that had not arrived: {rank}\b"
        if not re.search(pattern, result.err):
            return f"stderr does not name rank {rank} as not arrived"
        try:
            data = json.load(open(os.path.join(folder, "r.json")))
        except (OSError, ValueError) as exc:
            return f"r.json: {exc}"
        if not re.search(pattern, data.get("failure") or ""):
            return f"r.json's failure does not name rank {rank}: {data.get('failure')!r}"
    return check


def cases(ctx):
    out = []
    base = ["{mpirun}", "-np", "3", "{cb}", "allreduce", "-b", "1K", "-e", "64K", "-f", "2",
            "-n", "20", "-w", "2", "--repeat", "1000", "--json", "r.json"]
    for moment in (1, 2):
        for target, sig, rc, failure in (
                # Open MPI's mpirun, signalled itself, sends SIGTERM to the ranks and exits 1
                # whatever they return; the result file tells it from wrong results.
                ("mpirun", signal.SIGTERM, (143, 1), r"interrupted by SIGTERM"),
                ("mpirun", signal.SIGINT, (130, 1), r"interrupted by SIG(INT|TERM)"),
                (0, signal.SIGTERM, 143, r"interrupted by SIGTERM"),
                (1, signal.SIGTERM, (143, 1), None),
                (0, signal.SIGKILL, 137, r"run did not finish"),
                (1, signal.SIGKILL, (137, 143), None)):
            name = f"signal_{signal.Signals(sig).name}_to_{target}_{moment}"
            if target == "mpirun" or target == 0:
                file_check = checks.result_file("r.json", complete=False, failure=failure,
                                                rows_from_table=True)
            else:
                file_check = checks.result_file("r.json", complete=False, rows_from_table=True)
            out.append(case_table.Case(
                name=name, argv=base + ["-T", "30"], rc=rc, kind="signal", one_line=False,
                driver=drive(target, sig, 3, "r.json"), checks=[file_check], timeout=90))
        for rank in (0, 1, 2):
            out.append(case_table.Case(
                name=f"signal_SIGSTOP_to_{rank}_{moment}", argv=base + ["-T", str(TIMEOUT)],
                rc=3, kind="signal", one_line=False,
                driver=drive(rank, signal.SIGSTOP, 3, "r.json", timeout_s=TIMEOUT),
                checks=[checks.result_file("r.json", complete=False, failure=r"timeout",
                                           rows_from_table=True), frozen_named(rank)],
                timeout=90))
    return out
