"""Shared fixtures of the script tests (run with /usr/bin/python3 -m pytest tests/scripts)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(SCRIPTS))
sys.path.insert(0, str(HERE))

SYSTEM_PYTHON = "/usr/bin/python3"


def script(name):
    return str(SCRIPTS / name)


def run_script(name, *args, env=None, timeout=300, cwd=None):
    """Run scripts/NAME with ARGS (through its #! line); return CompletedProcess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([script(name)] + [str(a) for a in args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, cwd=cwd)


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def collbench_binary():
    """Path of the built collbench (COLLBENCH_BIN from ctest), or None."""
    path = os.environ.get("COLLBENCH_BIN")
    if path and os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    return None


MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_mpi_yield_when_idle": "1"}


def mpirun_command(np_, *args):
    mpirun = shutil.which("mpirun") or "mpirun"
    return [mpirun, "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader,tcp",
            "-np", str(np_)] + [str(a) for a in args]


@pytest.fixture
def collbench():
    path = collbench_binary()
    if path is None:
        pytest.skip("collbench is not built (set COLLBENCH_BIN to the binary; ctest does)")
    return path
