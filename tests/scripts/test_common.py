"""The shared module: sizes, schema validation, result sets, interpreter fallback."""

import os
import shutil
import subprocess

import numpy as np
import pytest

import gen_results as gen
from collbench_py import InputError
from collbench_py.results import load_set, read_result_file, record_key, validate
from collbench_py.stats import bootstrap_medians, ratio_test
from collbench_py.units import format_size, parse_size
from conftest import script


@pytest.mark.parametrize("nbytes,text", [(0, "0"), (8, "8"), (1000, "1000"), (1024, "1K"),
                                          (1536, "1.5K"), (65536, "64K"), (1 << 20, "1M"),
                                          (3 << 30, "3G"), (1 << 40, "1T")])
def test_format_size(nbytes, text):
    assert format_size(nbytes) == text


@pytest.mark.parametrize("text,nbytes", [("8", 8), ("64K", 65536), ("1m", 1 << 20),
                                          ("1GiB", 1 << 30), ("1.5K", 1536), (" 2M ", 2 << 20)])
def test_parse_size(text, nbytes):
    assert parse_size(text) == nbytes


@pytest.mark.parametrize("text", ["", "K", "12Q", "-1", "0.3"])
def test_parse_size_rejects(text):
    with pytest.raises(InputError):
        parse_size(text)


def test_validator_subset():
    schema = {"type": "object", "required": ["a"],
              "properties": {"a": {"type": "integer", "minimum": 1},
                             "b": {"enum": ["x", "y"]},
                             "c": {"type": ["string", "null"]},
                             "d": {"type": "array", "items": {"type": "number"}}}}
    assert validate({"a": 1, "b": "x", "c": None, "d": [1, 2.5]}, schema) is None
    assert validate({"a": 2.0}, schema) is None  # JSON integers may be written as 2.0
    assert validate({}, schema) == "$ lacks the required field 'a'"
    assert validate({"a": 0}, schema) == "$.a is 0, below the minimum 1"
    assert validate({"a": True}, schema) == "$.a is a boolean, expected integer"
    assert validate({"a": 1, "b": "z"}, schema) == '$.b is "z", expected one of "x", "y"'
    assert validate({"a": 1, "c": 3}, schema) == "$.c is a number, expected string or null"
    assert validate({"a": 1, "d": [1, "x"]}, schema) == "$.d[1] is a string, expected number"


def test_generated_fixture_follows_the_real_schema(tmp_path):
    data = gen.make_result(seed=1, collectives=("allreduce", "alltoall"), ranks=(2, 4),
                           repeats=2)
    result = read_result_file(str(gen.write(tmp_path / "r.json", data)))
    assert len(result.records) == 2 * 2 * 2 * 2 * len(gen.default_sizes())
    assert record_key(result.records[0]) == ("allreduce", "ring", "float32", "sum", 8, 2, "out",
                                                "")


def test_folder_set_skips_foreign_json(tmp_path):
    gen.write(tmp_path / "a.json", gen.make_result(seed=1, hardware_label="H100"))
    (tmp_path / "sub").mkdir()
    gen.write(tmp_path / "sub" / "b.json", gen.make_result(seed=2, hardware_label="H100"))
    (tmp_path / "plot.json").write_text('{"schema": "collbench.plot-data", "series": []}')
    result_set = load_set(str(tmp_path))
    assert len(result_set.files) == 2
    assert result_set.label == "H100"
    assert [os.path.basename(p) for p, _ in result_set.skipped] == ["plot.json"]


def test_bootstrap_two_level_counts_run_spread():
    """Runs that disagree widen the interval; the same samples in one run do not."""
    rng = np.random.default_rng(0)
    runs = [100 + rng.normal(0, 1, 50), 110 + rng.normal(0, 1, 50), 90 + rng.normal(0, 1, 50)]
    pooled = [np.concatenate(runs)]
    spread_runs = np.std(bootstrap_medians(runs, 500, np.random.default_rng(1)))
    spread_pooled = np.std(bootstrap_medians(pooled, 500, np.random.default_rng(1)))
    assert spread_runs > 2 * spread_pooled
    result = ratio_test(runs, [r * 1.05 for r in runs], family_size=1)
    assert result["ratio"] == pytest.approx(1.05)
    assert result["lower"] < 1.0  # with three disagreeing runs, 5% is not significant


def test_reexec_under_system_python_or_clear_error(tmp_path):
    """Started by an interpreter without numpy, a script re-executes /usr/bin/python3;
    when that is not possible it exits 2 with one line saying what is missing."""
    candidates = [shutil.which("python3"), shutil.which("python3.11"), shutil.which("python")]
    bare = None
    for candidate in candidates:
        if not candidate or os.path.realpath(candidate) == os.path.realpath("/usr/bin/python3"):
            continue
        probe = subprocess.run([candidate, "-c", "import numpy"], capture_output=True)
        if probe.returncode != 0:
            bare = candidate
            break
    if bare is None:
        pytest.skip("no Python without numpy on PATH to test the fallback with")
    out = subprocess.run([bare, script("collbench-compare"), "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "exit status" in out.stdout, out.stderr
    env = dict(os.environ, COLLBENCH_PY_REEXEC="1")  # as if the re-exec already happened
    out = subprocess.run([bare, script("collbench-plot"), "--help"], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line
    assert line.startswith("collbench-plot: error: Python modules not found: numpy")
    assert "/usr/bin/python3" in line
