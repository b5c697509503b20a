"""The measuring scripts: bench-peers' parsers of OSU and IMB output, and bad input of
bench-peers, bench-stability and bench-invariance (one line, exit 2, nothing run)."""

import importlib.machinery
import importlib.util
import stat

import pytest

from conftest import run_script, script


def load(name):
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), script(name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


OSU_TEXT = """
# OSU MPI Allreduce Latency Test v5.3
# Size       Avg Latency(us)   Min Latency(us)   Max Latency(us)  Iterations
4                       0.49              0.46              0.51        1000
8                       0.87              0.57              1.16        1000
1048576               760.10            755.00            765.50         100
"""

IMB_TEXT = """
#----------------------------------------------------------------
# Benchmarking Allreduce
# #processes = 2
#----------------------------------------------------------------
       #bytes #repetitions  t_min[usec]  t_max[usec]  t_avg[usec]
            0          100         0.03         0.03         0.03
            8          100         0.56         0.67         0.61
      1048576           20       350.00       380.00       365.00
#----------------------------------------------------------------
# Benchmarking Alltoall
# #processes = 2
#----------------------------------------------------------------
       #bytes #repetitions  t_min[usec]  t_max[usec]  t_avg[usec]
            8          100         9.00         9.50         9.25
"""


def test_osu_columns_are_avg_min_max():
    peers = load("bench-peers")
    rows = peers.parse_osu(OSU_TEXT)
    assert rows == {4: (0.49, 0.46, 0.51), 8: (0.87, 0.57, 1.16),
                    1048576: (760.10, 755.00, 765.50)}


def test_imb_rows_come_from_the_named_benchmark_only():
    peers = load("bench-peers")
    assert peers.parse_imb(IMB_TEXT, "Allreduce") == {0: (0.03, 0.03, 0.03),
                                                      8: (0.61, 0.56, 0.67),
                                                      1048576: (365.0, 350.0, 380.0)}
    assert peers.parse_imb(IMB_TEXT, "Alltoall") == {8: (9.25, 9.0, 9.5)}


def test_summary_takes_medians_over_rounds_and_scales_alltoall_sizes():
    peers = load("bench-peers")

    def rec(avg, p50):
        return {"rank_time_us": {"avg": avg, "min": avg * 0.9, "max": avg * 1.1},
                "time_us": {"p50": p50, "mean": p50}}

    rounds = []
    for k in (1.0, 2.0, 3.0):
        rounds.append({"osu": {8: (k, k, 2 * k)}, "imb": {8: (2 * k, k, 3 * k)},
                       "barrier": {8: rec(k, 1)}, "loop": {8: rec(4 * k, 1)},
                       "per-call": {8: rec(1, 3 * k)}})
    (row,) = peers.summarise(rounds, "alltoall", 4)
    assert row["peer_bytes"] == 8 and row["collbench_bytes"] == 32
    assert row["osu_avg"] == 2.0 and row["imb_avg"] == 4.0 and row["osu_max"] == 4.0
    assert row["barrier_vs_osu"] == pytest.approx(1.0)
    assert row["loop_vs_imb"] == pytest.approx(2.0)
    assert row["percall_vs_osu_max"] == pytest.approx(1.5)


def test_peers_missing_is_one_line(tmp_path):
    fake = tmp_path / "collbench"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    out = run_script("bench-peers", "--osu-dir", tmp_path, "--imb", tmp_path / "IMB-MPI1",
                     "--collbench", fake)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"bench-peers: error: peer binaries not found: imb, osu_allreduce, osu_alltoall "
        f"(OSU: --osu-dir, in {tmp_path}; IMB: --imb PATH)"]


@pytest.mark.parametrize("name,args,words", [
    ("bench-peers", ["--max", "3M"], "powers of two"),
    ("bench-peers", ["--max", "x"], "invalid size"),
    ("bench-peers", ["--ranks", "1"], "need >= 2 ranks"),
    ("bench-peers", ["--collectives", "bcast"], "allreduce and/or alltoall"),
    ("bench-stability", ["--trials", "0"], "need --trials >= 1"),
    ("bench-stability", ["--switch-at", "30"], "0 < --switch-at < --iters"),
    ("bench-invariance", ["--sizes", "12Q"], "invalid size"),
])
def test_bad_input_is_one_line_exit_2(name, args, words):
    out = run_script(name, *args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], out.stderr
