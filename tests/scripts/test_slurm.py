"""Slurm template: a private single-node Slurm runs scripts/slurm/collbench-sweep.sbatch.

Also tests the collect step alone on synthetic results (no Slurm needed).
"""

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import gen_results as gen
from collbench_py.results import read_result_file
from conftest import MPI_ENV, REPO, SCRIPTS, collbench_binary, read_json

TEMPLATE = SCRIPTS / "slurm" / "collbench-sweep.sbatch"
COLLECT = SCRIPTS / "slurm" / "collbench-collect"


# --- collect step on its own ---------------------------------------------------------------

def _sweep_folder(tmp_path, node_counts):
    folder = tmp_path / "sweep"
    folder.mkdir()
    for nodes in node_counts:
        data = gen.make_result(seed=nodes, sizes=[8, 1024, 65536, 1 << 20],
                               algorithms=("ring",), ranks=(2 * nodes,), ranks_per_node=2)
        gen.write(folder / f"collbench-{nodes}nodes.json", data)
    return folder


def test_collect_writes_manifest_and_scaling_plot(tmp_path):
    folder = _sweep_folder(tmp_path, (1, 2, 4))
    out = subprocess.run([str(COLLECT), str(folder), "--expect-nodes", "1 2 4", "--plot",
                          str(folder / "plots")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    manifest = read_json(folder / "manifest.json")
    assert manifest["node_counts"] == [1, 2, 4]
    assert [f["ranks"] for f in manifest["files"]] == [2, 4, 8]
    assert not manifest["problems"]
    scaling = read_json(folder / "plots" / "allreduce-scaling-busbw.json")
    assert [p[0] for p in scaling["series"][0]["points"]] == [2, 4, 8]
    # Running collect again must not read its own manifest or the plot data as results.
    again = subprocess.run([str(COLLECT), str(folder)], capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr


def test_collect_reports_missing_and_broken_results(tmp_path):
    folder = _sweep_folder(tmp_path, (1,))
    (folder / "collbench-2nodes.json").write_text('{"schema": "collbench.result", "sch')
    out = subprocess.run([str(COLLECT), str(folder), "--expect-nodes", "1 2 4"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "collbench-2nodes.json: malformed JSON" in out.stderr
    assert "no result for 4 node(s)" in out.stderr
    assert read_json(folder / "manifest.json")["missing_node_counts"] == [2, 4]


# --- a real single-node Slurm --------------------------------------------------------------

def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(pid_file):
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _tail(path, lines=5):
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture
def slurm(tmp_path):
    """A private slurmctld + slurmd on this host; yields the environment to talk to it."""
    for daemon in ("slurmctld", "slurmd", "sbatch", "squeue", "scontrol"):
        if shutil.which(daemon) is None:
            pytest.skip(f"Slurm is not installed ({daemon} not on PATH; Debian: slurm-wlm)")
    if os.geteuid() != 0:
        pytest.skip("the private Slurm runs with SlurmUser=root and needs root")
    # A short path: slurmstepd's Unix sockets live in the spool folder (108-byte limit).
    base = Path(tempfile.mkdtemp(prefix="cbslurm", dir="/tmp"))
    for sub in ("state", "spool"):
        (base / sub).mkdir(parents=True)
    host = socket.gethostname()
    # Distinct job ids per instance: srun's PMIx plugin keys /tmp/spmix_appdir_<uid>_<job>.<step>
    # by them, and another private Slurm on this host may be at job 1 too.
    first_job_id = 1000 + (os.getpid() * 7919 + int(time.time() * 1000)) % 50_000_000
    conf = base / "slurm.conf"
    conf.write_text(f"""\
ClusterName=cbt{os.getpid() % 100000}
FirstJobId={first_job_id}
SlurmctldHost={host}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    env = dict(os.environ, SLURM_CONF=str(conf))
    pid_files = [base / "slurmd.pid", base / "slurmctld.pid"]
    try:
        for daemon in ("slurmctld", "slurmd"):
            started = subprocess.run([daemon], env=env, capture_output=True, text=True,
                                     timeout=60)
            if started.returncode != 0:
                pytest.skip(f"{daemon} did not start: "
                            f"{(started.stderr or started.stdout).strip()[:300]} "
                            f"{_tail(base / (daemon + '.log'))}")
        deadline = time.time() + 60
        state = ""
        while time.time() < deadline:
            info = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                  text=True, timeout=30)
            state = info.stdout.strip()
            if info.returncode == 0 and state.startswith("idle"):
                break
            time.sleep(0.5)
        else:
            pytest.skip(f"the private Slurm node never became idle (state '{state}'): "
                        f"{_tail(base / 'slurmctld.log')} {_tail(base / 'slurmd.log')}")
        yield env, base
    finally:
        for pid_file in pid_files:
            _stop(pid_file)
        for log in ("slurmctld.log", "slurmd.log"):  # keep the logs beside the test's files
            if (base / log).exists():
                shutil.copy(base / log, tmp_path / log)
        shutil.rmtree(base, ignore_errors=True)


def _wait_for_job(env, base, job_id, limit_s):
    deadline = time.time() + limit_s
    while time.time() < deadline:
        queue = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T|%r"], env=env,
                               capture_output=True, text=True, timeout=30)
        status = queue.stdout.strip()
        if queue.returncode == 0 and not status:
            break
        if "launch failed" in status.lower() or status.startswith("REQUEUE"):
            subprocess.run(["scancel", job_id], env=env, timeout=30)
            pytest.fail(f"Slurm could not launch job {job_id} ({status}): "
                        f"{_tail(base / 'slurmd.log')}")
        time.sleep(1)
    else:
        subprocess.run(["scancel", job_id], env=env, timeout=30)
        pytest.fail(f"Slurm job {job_id} did not finish within {limit_s} s: "
                    f"{_tail(base / 'slurmd.log')}")
    show = subprocess.run(["scontrol", "show", "job", job_id], env=env, capture_output=True,
                          text=True, timeout=30)
    return show.stdout


@pytest.mark.parametrize("launcher", ["mpirun", "srun"])
def test_sweep_template_runs_under_slurm(slurm, tmp_path, launcher):
    binary = collbench_binary()
    if binary is None:
        pytest.skip("collbench is not built (set COLLBENCH_BIN to the binary; ctest does)")
    env, base = slurm
    out_dir = tmp_path / "results"
    log = tmp_path / "job.out"
    env = dict(env, **MPI_ENV)
    env.update(COLLBENCH=binary, COLLBENCH_ROOT=str(REPO), OUT_DIR=str(out_dir),
               COLLBENCH_ARGS="allreduce -b 8 -e 4K -f 8 -n 10 -w 2 --quiet",
               NODE_COUNTS="1", LAUNCHER=launcher, LABEL="slurm-test", PLOT="1",
               STEP_TIMEOUT="120", HISTORY=str(tmp_path / "history.sqlite"),
               MPIRUN_ARGS="--oversubscribe --bind-to none --mca btl self,vader,tcp")
    submit = subprocess.run(["sbatch", "--parsable", "--nodes=1", "--ntasks-per-node=2",
                             f"--output={log}", "--time=5", str(TEMPLATE)],
                            env=env, capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert submit.returncode == 0, submit.stderr
    job_id = submit.stdout.strip().split(";")[0]
    job = _wait_for_job(env, base, job_id, 240)
    text = log.read_text(errors="replace") if log.exists() else "(no job output)"
    if launcher == "srun" and "COMPLETED" not in job and re.search(
            r"plugin name for mpi/pmix|invalid MPI type|Cannot create context for mpi/pmix", text):
        pytest.skip(f"this Slurm has no usable PMIx plugin for srun: {text[-300:]}")
    assert "JobState=COMPLETED" in job and "ExitCode=0:0" in job, text
    result_path = out_dir / "collbench-1nodes.json"
    result = read_result_file(str(result_path))
    assert result.complete
    assert result.provenance["ranks"] == 2 and result.provenance["nodes"] == 1
    assert result.provenance.get("hardware_label") == "slurm-test"
    assert {r["bytes"] for r in result.records} >= {8, 64, 512, 4096}
    assert all(r["wrong"] == 0 for r in result.records)
    manifest = read_json(out_dir / "manifest.json")
    assert manifest["node_counts"] == [1] and not manifest["problems"]
    assert (out_dir / "plots" / "allreduce-busbw.png").stat().st_size > 0
    assert "collbench-collect: 1 result file(s)" in text
    # The history hook: the sweep (not its manifest or plot data) is in the store.
    assert "collbench-history: 1 stored, 0 replaced, 0 already present; 1 runs in" in text
    conn = sqlite3.connect(tmp_path / "history.sqlite")
    assert conn.execute("SELECT machine, records FROM runs").fetchall() == \
        [("slurm-test", len(result.records))]
    conn.close()
