"""The scripts on result files made by the project itself: a short real run under mpirun.

Skips when collbench is not built (COLLBENCH_BIN). The copies with known changes are made
from the real samples: a bootstrap-resampled copy (unchanged, same noise distribution) and a
copy 10% slower at the large sizes of the run.
"""

import os
import subprocess

import numpy as np
import pytest

import gen_results as gen
from collbench_py import compare
from collbench_py.results import read_result_file
from conftest import MPI_ENV, mpirun_command, read_json, run_script

LARGE = 64 * 1024  # the "large sizes" of this short run: 64K and 256K (default --small-bytes)


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    from conftest import collbench_binary
    binary = collbench_binary()
    if binary is None:
        pytest.skip("collbench is not built (set COLLBENCH_BIN to the binary; ctest does)")
    folder = tmp_path_factory.mktemp("real")
    path = folder / "run.json"
    cmd = mpirun_command(2, binary, "allreduce", "-b", "16", "-e", "256K", "-f", "4", "-n", "100",
                         "-w", "10", "-a", "ring,MPI_Allreduce", "--quiet", "--label",
                         "this-vm", "--json", path)
    env = dict(os.environ, **MPI_ENV)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return path


def test_real_file_follows_the_schema(real_run):
    result = read_result_file(str(real_run))
    assert result.complete
    sizes = {r["bytes"] for r in result.records}
    assert sizes == {16, 64, 256, 1024, 4096, 16384, 65536, 262144}
    assert {r["algorithm"] for r in result.records} == {"ring", "MPI_Allreduce"}
    assert all(len(r["samples_us"]) == 100 for r in result.records)


def test_real_run_against_itself(real_run, tmp_path):
    out = run_script("collbench-compare", real_run, real_run, "--json", tmp_path / "r.json")
    assert out.returncode == 0, out.stderr
    report = read_json(tmp_path / "r.json")
    assert len(report["points"]) == 32  # 8 sizes x 2 algorithms x 2 placements
    assert all(p["ratio"] == pytest.approx(1.0) for p in report["points"])
    assert not report["warnings"]


def test_real_run_resampled_copies_rarely_alarm(real_run, tmp_path):
    data = read_json(real_run)
    rng = np.random.default_rng(11)
    alarms, trials = 0, 100
    for _ in range(trials):
        cur = gen.write(tmp_path / "cur.json", gen.resampled_copy(data, rng))
        args = compare.build_parser().parse_args([str(real_run), str(cur)])
        code, _ = compare.verdict(compare.analyse(args))
        alarms += code != 0
    assert alarms / trials < 0.05, f"{alarms} false alarms in {trials}"


def test_real_run_ten_percent_slower_at_large_sizes(real_run, tmp_path):
    """Every sample at 64K and 256K times 1.10, the rest untouched."""
    data = read_json(real_run)
    slow = gen.write(tmp_path / "slow.json", gen.scaled_copy(data, 1.10, LARGE))
    out = run_script("collbench-compare", real_run, slow, "--json", tmp_path / "r.json")
    report = read_json(tmp_path / "r.json")
    flagged = [p for p in report["points"] if p["status"] == "regression"]
    assert all(p["bytes"] >= LARGE for p in flagged), flagged
    large = [p for p in report["points"] if p["bytes"] >= LARGE]
    assert all(p["ratio"] == pytest.approx(1.10) for p in large)
    # With the ratio exactly 1.10, a point is significant when its interval is narrower than
    # x1.21 (1.10 squared). The run's own noise decides which points qualify; on a machine
    # too loaded for any, say so instead of failing.
    # Points flagged unstable (their samples switched regime) are reported apart and never
    # judged, so only the stable ones can be expected to be called a regression.
    judged = [p for p in large if p["status"] != "unstable"]
    resolvable = [p for p in judged if p["upper"] / p["lower"] < 1.21]
    if not resolvable:
        widths = ", ".join(f"{p['upper'] / p['lower']:.2f}" for p in large)
        pytest.skip(f"this run is too noisy to resolve 10% (interval widths {widths})")
    assert all(p["status"] == "regression" for p in resolvable)
    assert out.returncode == 1, out.stdout[-1500:]
    assert "REGRESSION" in out.stdout.strip().splitlines()[-1]


def test_real_run_plots(real_run, tmp_path):
    out = run_script("collbench-plot", real_run, "--out", tmp_path / "p", "--placement",
                     "both")
    assert out.returncode == 0, out.stderr
    data = read_json(real_run)
    busbw = read_json(tmp_path / "p" / "allreduce-busbw.json")
    names = {s["name"] for s in busbw["series"]}
    assert names == {"MPI_Allreduce in-place", "MPI_Allreduce out-of-place", "ring in-place",
                     "ring out-of-place"}
    records = {(r["algorithm"], r["placement"], r["bytes"]): r for r in data["records"]}
    for series in busbw["series"]:
        fields = series["fields"]
        for size, value in series["points"]:
            rec = records[(fields["algorithm"], fields["placement"], size)]
            assert value == pytest.approx(rec["busbw_gbps"])
    caption = " ".join(busbw["caption"])
    assert "Open MPI" in caption and "2 ranks × 1 node" in caption and "this-vm" in caption
    for name in ("allreduce-busbw", "allreduce-latency"):
        for ext in ("png", "svg"):
            assert (tmp_path / "p" / f"{name}.{ext}").stat().st_size > 10_000


def test_real_run_hwcompare_against_a_faster_copy(real_run, tmp_path):
    faster = gen.write(tmp_path / "fast.json", gen.scaled_copy(read_json(real_run), 0.5))
    out = run_script("collbench-hwcompare", real_run, faster, "--label", "vm", "--label",
                     "twice", "--out", tmp_path / "p", "--json", tmp_path / "hw.json")
    assert out.returncode == 0, out.stderr
    report = read_json(tmp_path / "hw.json")
    for group in report["groups"]:
        for row in group["rows"]:
            assert row["ratios"]["twice"] == pytest.approx(2.0, rel=1e-6)
    assert "twice at 256K: ×2.00 of vm" in report["summary"]


def test_real_run_with_the_model_projection(real_run, tmp_path):
    from conftest import collbench_binary
    proj = tmp_path / "predict.json"
    done = subprocess.run([collbench_binary(), "model", "predict", "--profile", "h100", "-b", "16",
                           "-e", "256K", "-f", "4", "--gpus", "2:16", "--json", str(proj)],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and "model" in done.stderr and "not expected" in done.stderr:
        pytest.skip("this collbench has no 'model' subcommand")
    assert done.returncode == 0, done.stderr
    out = run_script("collbench-plot", real_run, "--projection", proj, "--out", tmp_path / "p")
    assert out.returncode == 0, out.stderr
    busbw = read_json(tmp_path / "p" / "allreduce-busbw.json")
    names = {s["name"] for s in busbw["projection_series"]}
    assert "model: ring" in names
    ring = [s for s in busbw["projection_series"] if s["name"] == "model: ring"][0]
    assert ring["fields"]["gpus"] == 2
    assert [p[0] for p in ring["points"]] == [16, 64, 256, 1024, 4096, 16384, 65536, 262144]
    assert all(p[1] > 0 for p in ring["points"])
