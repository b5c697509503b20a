"""collbench-compare: verdicts on known changes, false-alarm rate, unusable input."""

import json

import numpy as np
import pytest

import gen_results as gen
from collbench_py import compare
from conftest import read_json, run_script

MIB = 1024 * 1024
SIZES = [8, 64, 512, 4096, 32768, 262144, MIB, 4 * MIB, 16 * MIB]
LARGE = MIB  # "the large sizes": 1M and above


def model(seed, **kw):
    params = dict(sizes=SIZES, algorithms=("ring", "native"), ranks=(4,), iters=40,
                  sigma=0.04)
    params.update(kw)
    return gen.make_result(seed=seed, **params)


def in_process(base_path, cur_path, *extra):
    """Run the comparison without a subprocess (for the many-trial tests)."""
    args = compare.build_parser().parse_args([str(base_path), str(cur_path)] + list(extra))
    report = compare.analyse(args)
    code, _ = compare.verdict(report)
    return code, report


@pytest.fixture
def baseline(tmp_path):
    return gen.write(tmp_path / "baseline.json", model(1))


# --- verdicts ------------------------------------------------------------------------------

def test_unchanged_rerun_is_not_flagged(tmp_path, baseline):
    current = gen.write(tmp_path / "current.json", model(2))
    out = run_script("collbench-compare", baseline, current, "--json", tmp_path / "r.json",
                     "--markdown", tmp_path / "r.md")
    assert out.returncode == 0, out.stdout + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("collbench-compare: OK: no regression in 18 points"), last
    report = read_json(tmp_path / "r.json")
    assert report["exit_code"] == 0
    assert len(report["points"]) == 18
    assert all(p["status"] in ("ok", "not significant") for p in report["points"])
    assert "OK: no regression" in (tmp_path / "r.md").read_text()


def test_ten_percent_slowdown_at_large_sizes_is_flagged(tmp_path, baseline):
    current = gen.write(tmp_path / "current.json", model(2, slowdown=(1.10, LARGE)))
    out = run_script("collbench-compare", baseline, current, "--json", tmp_path / "r.json")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "REGRESSION" in out.stdout.strip().splitlines()[-1]
    report = read_json(tmp_path / "r.json")
    flagged = {(p["algorithm"], p["bytes"]) for p in report["points"]
               if p["status"] == "regression"}
    expected = {(a, s) for a in ("ring", "native") for s in SIZES if s >= LARGE}
    assert flagged == expected
    for p in report["points"]:
        if p["status"] == "regression":
            assert 1.05 < p["ratio"] < 1.16
            assert p["lower"] > 1.0 and p["upper"] > p["ratio"] > p["lower"]


def test_slowdown_detection_power(tmp_path, baseline):
    """A 10% slowdown at the large sizes is caught in nearly every independent re-run."""
    caught = 0
    trials = 40
    for trial in range(trials):
        current = gen.write(tmp_path / "current.json",
                            model(1000 + trial, slowdown=(1.10, LARGE)))
        code, report = in_process(baseline, current)
        caught += code == 1
        small = [p for p in report["points"] if p["bytes"] < LARGE]
        assert all(p["status"] != "regression" for p in small)
    assert caught >= 0.95 * trials


def test_false_alarm_rate_of_independent_reruns(tmp_path, baseline):
    """Unchanged re-runs drawn from the same distribution: under 5% flagged over 100."""
    alarms = 0
    trials = 100
    for trial in range(trials):
        current = gen.write(tmp_path / "current.json", model(5000 + trial))
        code, _ = in_process(baseline, current)
        alarms += code != 0
    assert alarms / trials < 0.05, f"{alarms} false alarms in {trials}"


def test_false_alarm_rate_of_resampled_copies(tmp_path):
    """Copies of one run with its samples resampled (noisier, heavy-tailed): under 5%."""
    noisy = model(3, sigma=0.15, outlier_rate=0.08, iters=25)
    base = gen.write(tmp_path / "base.json", noisy)
    rng = np.random.default_rng(77)
    alarms = 0
    trials = 100
    for trial in range(trials):
        current = gen.write(tmp_path / "cur.json", gen.resampled_copy(noisy, rng))
        code, _ = in_process(base, current)
        alarms += code != 0
    assert alarms / trials < 0.05, f"{alarms} false alarms in {trials}"


def test_slowdown_below_threshold_is_not_a_regression(tmp_path):
    """A precisely measured 3% slowdown is significant but under the 5% threshold."""
    base = gen.write(tmp_path / "b.json", model(1, sigma=0.005, outlier_rate=0))
    cur = gen.write(tmp_path / "c.json", model(2, sigma=0.005, outlier_rate=0,
                                                   slowdown=(1.03, LARGE)))
    code, report = in_process(base, cur)
    assert code == 0
    large = [p for p in report["points"] if p["bytes"] >= LARGE]
    assert all(p["lower"] > 1.0 for p in large)  # significant, yet not flagged
    code, report = in_process(base, cur, "--threshold", "2")
    assert code == 1


def test_small_sizes_use_the_small_threshold(tmp_path):
    """7% slower everywhere: flagged only at >= 64K by default, everywhere at 5%."""
    base = gen.write(tmp_path / "b.json", model(1, sigma=0.01, outlier_rate=0))
    cur = gen.write(tmp_path / "c.json", model(2, sigma=0.01, outlier_rate=0,
                                                   slowdown=(1.07, 0)))
    code, report = in_process(base, cur)
    assert code == 1
    flagged = {p["bytes"] for p in report["points"] if p["status"] == "regression"}
    assert flagged == {s for s in SIZES if s >= 64 * 1024}
    code, report = in_process(base, cur, "--small-threshold", "5")
    assert {p["bytes"] for p in report["points"] if p["status"] == "regression"} == set(SIZES)
    code, report = in_process(base, cur, "--small-bytes", "1M")
    assert {p["bytes"] for p in report["points"]
            if p["status"] == "regression"} == {s for s in SIZES if s >= MIB}


def _one_point(samples, nbytes=MIB):
    data = model(1, sizes=[nbytes], algorithms=("ring",))
    gen.fill_record(data["records"][0], samples)
    return data


def test_large_but_insignificant_slowdown_is_not_flagged(tmp_path):
    """Ratio of medians 1.08 but samples so spread that the interval includes 1."""
    spread = [40.0, 160.0, 55.0, 145.0, 70.0, 130.0, 100.0, 60.0, 150.0, 90.0, 110.0, 50.0]
    base = gen.write(tmp_path / "b.json", _one_point(spread))
    cur = gen.write(tmp_path / "c.json", _one_point([x * 1.08 for x in spread]))
    code, report = in_process(base, cur)
    (point,) = report["points"]
    assert point["ratio"] == pytest.approx(1.08)
    assert point["lower"] < 1.0
    assert point["status"] == "not significant"
    assert code == 0


def test_strict_needs_the_interval_above_the_threshold(tmp_path):
    rng = np.random.default_rng(5)
    samples = list(100 * rng.lognormal(0, 0.03, 30))
    base = gen.write(tmp_path / "b.json", _one_point(samples))
    cur = gen.write(tmp_path / "c.json", _one_point([x * 1.065 for x in samples]))
    code, report = in_process(base, cur)
    (point,) = report["points"]
    assert code == 1 and 1.0 < point["lower"] < 1.05
    code, report = in_process(base, cur, "--strict")
    assert code == 0


def test_improvement_is_reported_not_failed(tmp_path, baseline):
    cur = gen.write(tmp_path / "c.json", model(2, slowdown=(0.8, LARGE)))
    code, report = in_process(baseline, cur)
    assert code == 0
    assert {p["bytes"] for p in report["points"]
            if p["status"] == "improvement"} == {s for s in SIZES if s >= LARGE}


def test_wrong_results_in_current_fail(tmp_path, baseline):
    data = model(2)
    data["records"][3]["wrong"] = 12
    cur = gen.write(tmp_path / "c.json", data)
    out = run_script("collbench-compare", baseline, cur, "--quiet")
    assert out.returncode == 1
    assert "wrong results" in out.stdout


def test_verdict_is_deterministic(tmp_path, baseline):
    cur = gen.write(tmp_path / "c.json", model(9, slowdown=(1.06, LARGE)))
    first = run_script("collbench-compare", baseline, cur, "--json", tmp_path / "1.json")
    second = run_script("collbench-compare", baseline, cur, "--json", tmp_path / "2.json")
    assert first.stdout == second.stdout
    assert read_json(tmp_path / "1.json") == read_json(tmp_path / "2.json")


def test_folders_pool_repeats_as_runs(tmp_path):
    for side, seeds in (("base", (1, 2, 3)), ("cur", (4, 5, 6))):
        folder = tmp_path / side
        folder.mkdir()
        for seed in seeds:
            slow = (1.10, LARGE) if side == "cur" else None
            gen.write(folder / f"run{seed}.json", model(seed, slowdown=slow))
        (folder / "notes.json").write_text('{"comment": "not a result file"}')
    code, report = in_process(tmp_path / "base", tmp_path / "cur")
    assert code == 1
    assert all(p["baseline_runs"] == 3 and p["current_runs"] == 3 for p in report["points"])
    assert any("notes.json" in w for w in report["warnings"])


def test_repeat_records_are_pooled(tmp_path):
    base = gen.write(tmp_path / "b.json", model(1, repeats=3))
    cur = gen.write(tmp_path / "c.json", model(2, repeats=2))
    code, report = in_process(base, cur)
    assert code == 0
    assert {(p["baseline_runs"], p["current_runs"]) for p in report["points"]} == {(3, 2)}


# --- warnings and one-sided points ---------------------------------------------------------

def test_environment_differences_are_warned(tmp_path, baseline):
    data = model(2, cpu_model="Other CPU", mpi_library="MPICH 4.0", hardware_label="B200",
                 ranks_per_node=4)
    cur = gen.write(tmp_path / "c.json", data)
    out = run_script("collbench-compare", baseline, cur, "--json", tmp_path / "r.json",
                     "--markdown", tmp_path / "r.md")
    assert out.returncode == 0, out.stderr
    warnings = read_json(tmp_path / "r.json")["warnings"]
    text = "\n".join(warnings)
    assert "CPU model differs" in text
    assert "MPI library differs" in text
    assert "hardware label differs" in text
    assert "rank layout differs" in text
    assert "warning: CPU model differs" in out.stderr
    assert "### Warnings" in (tmp_path / "r.md").read_text()


def test_points_on_one_side_are_listed(tmp_path):
    base = gen.write(tmp_path / "b.json", model(1, algorithms=("ring", "native")))
    cur = gen.write(tmp_path / "c.json", model(2, algorithms=("ring", "tree")))
    out = run_script("collbench-compare", base, cur, "--json", tmp_path / "r.json")
    assert out.returncode == 0, out.stderr
    report = read_json(tmp_path / "r.json")
    assert len(report["points"]) == len(SIZES)
    assert {p["algorithm"] for p in report["only_baseline"]} == {"native"}
    assert {p["algorithm"] for p in report["only_current"]} == {"tree"}
    assert "### Only in baseline (9)" in out.stdout
    assert "### Only in current (9)" in out.stdout


# --- unusable input: exit 2 and one line naming the file ----------------------------------

def _assert_unusable(out, *phrases):
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("collbench-compare: error: ")
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def test_truncated_file(tmp_path, baseline):
    text = baseline.read_text()
    bad = tmp_path / "truncated.json"
    bad.write_text(text[: len(text) // 2])
    _assert_unusable(run_script("collbench-compare", baseline, bad),
                     "truncated.json", "malformed JSON", "truncated")


def test_malformed_json(tmp_path, baseline):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "collbench.result", "schema_version": 1,,}')
    _assert_unusable(run_script("collbench-compare", bad, baseline), "bad.json",
                     "malformed JSON at line 1")


def test_empty_file(tmp_path, baseline):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    _assert_unusable(run_script("collbench-compare", baseline, empty), "empty.json",
                     "file is empty")


def test_wrong_schema_version(tmp_path, baseline):
    data = model(2)
    data["schema_version"] = 2
    bad = gen.write(tmp_path / "v2.json", data)
    _assert_unusable(run_script("collbench-compare", baseline, bad), "v2.json",
                     "schema_version 2 is not supported")


def test_wrong_schema_name(tmp_path, baseline):
    data = model(2)
    data["schema"] = "nccl-tests"
    bad = gen.write(tmp_path / "other.json", data)
    _assert_unusable(run_script("collbench-compare", baseline, bad), "other.json",
                     "not a collbench result file")


def test_record_violating_schema(tmp_path, baseline):
    data = model(2)
    del data["records"][4]["time_us"]["p50"]
    bad = gen.write(tmp_path / "broken.json", data)
    _assert_unusable(run_script("collbench-compare", baseline, bad), "broken.json",
                     "$.records[4].time_us lacks the required field 'p50'")
    data = model(2)
    data["records"][0]["samples_us"][3] = "fast"
    bad = gen.write(tmp_path / "broken2.json", data)
    _assert_unusable(run_script("collbench-compare", baseline, bad),
                     "$.records[0].samples_us[3] is a string, expected number")


def test_no_matching_points(tmp_path, baseline):
    cur = gen.write(tmp_path / "c.json", model(2, ranks=(8,)))
    _assert_unusable(run_script("collbench-compare", baseline, cur), "no matching points")


def test_missing_path_and_empty_folder(tmp_path, baseline):
    _assert_unusable(run_script("collbench-compare", baseline, tmp_path / "nope.json"),
                     "nope.json", "no such file or folder")
    (tmp_path / "empty").mkdir()
    _assert_unusable(run_script("collbench-compare", tmp_path / "empty", baseline),
                     "holds no collbench result files")


def test_bad_option_is_one_line(baseline):
    out = run_script("collbench-compare", baseline, baseline, "--threshold", "abc")
    _assert_unusable(out, "--threshold")


def test_help():
    out = run_script("collbench-compare", "--help")
    assert out.returncode == 0
    assert "exit status: 0 no regression, 1 regression" in out.stdout
    assert "--small-threshold" in out.stdout


def test_json_report_round_trips(tmp_path, baseline):
    cur = gen.write(tmp_path / "c.json", model(2, slowdown=(1.10, LARGE)))
    run_script("collbench-compare", baseline, cur, "--json", tmp_path / "r.json", "--quiet")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["schema"] == "collbench.compare"
    assert report["rule"]["threshold"] == 0.05
    assert report["rule"]["small_threshold"] == 0.10
    assert report["rule"]["small_bytes"] == 65536
    assert report["rule"]["family_size"] == 18
    assert report["exit_code"] == 1


# --- timing modes and unstable points -------------------------------------------------------

def test_different_timing_modes_are_refused(tmp_path, baseline):
    data = model(2)
    for rec in data["records"]:
        rec["timing"] = "loop"
    current = gen.write(tmp_path / "current.json", data)
    result = run_script("collbench-compare", str(baseline), str(current))
    assert result.returncode == 2
    assert "different timing modes" in result.stderr
    assert "--timing loop" in result.stderr and "--timing per-call" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unstable_points_are_reported_apart(tmp_path, baseline):
    data = model(2)
    slowed = gen.scaled_copy(data, 1.5, min_bytes=LARGE)
    for rec in slowed["records"]:
        if rec["bytes"] >= LARGE:
            rec["stable"] = False
    current = gen.write(tmp_path / "current.json", slowed)
    code, report = in_process(baseline, current)
    assert code == 0, "unstable points must not decide the verdict"
    statuses = {p["status"] for p in report["points"] if p["bytes"] >= LARGE}
    assert statuses == {"unstable"}
    assert all(p["unstable"] == ["current"] for p in report["points"] if p["bytes"] >= LARGE)
    _, text = compare.verdict(report)
    assert "unstable point(s) reported apart" in text
