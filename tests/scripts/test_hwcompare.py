"""collbench-hwcompare: normalized busbw table, summary and figure data."""

import re

import pytest

import gen_results as gen
from conftest import read_json, run_script

MIB = 1024 * 1024
SIZES = [8, 4096, MIB, 64 * MIB]


def _sets(tmp_path):
    paths = []
    for seed, label, gbps in ((1, "H100", 10.0), (2, "B200", 18.0), (3, "GB300", 25.0)):
        data = gen.make_result(seed=seed, sizes=SIZES, algorithms=("ring", "native"),
                               ranks=(8,), ranks_per_node=8, gbps=gbps, hardware_label=label,
                               sigma=0.01, outlier_rate=0)
        paths.append((gen.write(tmp_path / f"{label.lower()}.json", data), data))
    return paths


def _busbw(data, algorithm, size):
    (rec,) = [r for r in data["records"] if r["algorithm"] == algorithm and r["bytes"] == size]
    return rec["busbw_gbps"]


def test_table_summary_and_figure(tmp_path):
    (a, da), (b, db), (c, dc) = _sets(tmp_path)
    out = run_script("collbench-hwcompare", a, b, c, "--out", tmp_path / "p", "--json",
                     tmp_path / "hw.json")
    assert out.returncode == 0, out.stderr
    report = read_json(tmp_path / "hw.json")
    assert report["baseline"] == "H100"
    assert [s["label"] for s in report["sets"]] == ["H100", "B200", "GB300"]
    ring = [g for g in report["groups"] if g["key"]["algorithm"] == "ring"][0]
    assert [r["bytes"] for r in ring["rows"]] == SIZES
    for row in ring["rows"]:
        base = _busbw(da, "ring", row["bytes"])
        assert row["values"]["H100"] == pytest.approx(base)
        assert row["ratios"]["B200"] == pytest.approx(_busbw(db, "ring", row["bytes"]) / base)
        assert row["ratios"]["GB300"] == pytest.approx(_busbw(dc, "ring", row["bytes"]) / base)
    # Bandwidth-bound sizes approach the link-speed ratio 1.8; latency-bound stay near 1.
    assert 1.6 < ring["rows"][-1]["ratios"]["B200"] < 1.85
    assert 0.9 < ring["rows"][0]["ratios"]["B200"] < 1.1

    summary = report["summary"]
    match = re.search(r"allreduce/ring [^:]*: B200 at 64M: ×(\d\.\d\d) of H100", summary)
    assert match, summary
    assert float(match.group(1)) == pytest.approx(ring["rows"][-1]["ratios"]["B200"], abs=0.006)
    assert "GB300 at 64M" in summary
    assert summary in out.stdout
    assert "| size | H100 GB/s | B200 GB/s | B200 / H100 | GB300 GB/s | GB300 / H100 |" \
        in out.stdout

    fig = read_json(tmp_path / "p" / "hwcompare.json")
    assert (tmp_path / "p" / "hwcompare.png").stat().st_size > 10_000
    assert (tmp_path / "p" / "hwcompare.svg").stat().st_size > 10_000
    assert {s["label"] for s in fig["series"]} == {"H100", "B200", "GB300"}
    assert {s["label"] for s in fig["ratio_series"]} == {"B200", "GB300"}
    assert len(fig["series"]) == 6  # 3 sets x 2 algorithms
    ratio = [s for s in fig["ratio_series"] if s["label"] == "B200" and "ring" in s["group"]][0]
    assert [p[1] for p in ratio["points"]] == pytest.approx(
        [r["ratios"]["B200"] for r in ring["rows"]])


def test_baseline_and_labels_from_the_command_line(tmp_path):
    (a, _), (b, _), _ = _sets(tmp_path)
    out = run_script("collbench-hwcompare", a, b, "--label", "old", "--label", "new",
                     "--baseline", "new", "--no-plot", "--json", tmp_path / "hw.json",
                     "--markdown", tmp_path / "hw.md")
    assert out.returncode == 0, out.stderr
    report = read_json(tmp_path / "hw.json")
    assert report["baseline"] == "new"
    top = report["groups"][0]["rows"][-1]
    assert top["ratios"]["old"] < 0.65  # the older hardware is slower
    assert "(baseline: new)" in (tmp_path / "hw.md").read_text()
    assert not (tmp_path / "collbench-plots").exists()


def test_best_algorithm_per_size(tmp_path):
    (a, da), (b, db), _ = _sets(tmp_path)
    out = run_script("collbench-hwcompare", a, b, "--best", "--no-plot", "--json",
                     tmp_path / "hw.json")
    assert out.returncode == 0, out.stderr
    (group,) = read_json(tmp_path / "hw.json")["groups"]
    assert group["key"]["algorithm"] == "best"
    for row in group["rows"]:
        best = max(_busbw(da, alg, row["bytes"]) for alg in ("ring", "native"))
        assert row["values"]["H100"] == pytest.approx(best)


@pytest.mark.parametrize("extra,phrase", [
    (["--baseline", "A100"], "--baseline 'A100' is not one of the set labels"),
    (["--algorithm", "nope"], "no records match the filters"),
])
def test_unusable_options(tmp_path, extra, phrase):
    (a, _), (b, _), _ = _sets(tmp_path)
    out = run_script("collbench-hwcompare", a, b, "--no-plot", *extra)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("collbench-hwcompare: error: ")
    assert phrase in out.stderr and "\n" not in out.stderr.strip()


def test_one_set_or_no_common_points(tmp_path):
    (a, _), _, _ = _sets(tmp_path)
    out = run_script("collbench-hwcompare", a, "--no-plot")
    assert out.returncode == 2 and "at least two result sets" in out.stderr
    other = gen.write(tmp_path / "other.json", gen.make_result(seed=5, sizes=SIZES, ranks=(4,),
                                                               algorithms=("ring",)))
    out = run_script("collbench-hwcompare", a, other, "--no-plot")
    assert out.returncode == 2 and "no matching points" in out.stderr
    out = run_script("collbench-hwcompare", a, other, "--no-plot", "--ignore-ranks")
    assert out.returncode == 0, out.stderr


def test_wrong_schema_is_rejected(tmp_path):
    (a, _), _, _ = _sets(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "collbench.result", "schema_version": 1, "complete": true}')
    out = run_script("collbench-hwcompare", a, bad, "--no-plot")
    assert out.returncode == 2
    assert "bad.json: does not follow the result schema: $ lacks the required field " \
           "'provenance'" in out.stderr


def test_help():
    out = run_script("collbench-hwcompare", "--help")
    assert out.returncode == 0 and "--baseline" in out.stdout
