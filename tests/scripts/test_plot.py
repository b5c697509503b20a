"""collbench-plot: files written, and the data behind each figure (not pixels)."""

import pytest

import gen_results as gen
from conftest import read_json, run_script

MIB = 1024 * 1024
SIZES = [8, 1024, 65536, MIB, 4 * MIB]


def _check_images(folder, name):
    png = folder / f"{name}.png"
    svg = folder / f"{name}.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    text = svg.read_text()
    assert "<svg" in text and text.rstrip().endswith("</svg>")
    return read_json(folder / f"{name}.json")


def test_size_plots_of_one_run(tmp_path):
    data = gen.make_result(seed=1, sizes=SIZES, algorithms=("ring", "native"), ranks=(4,),
                           hardware_label=None)
    src = gen.write(tmp_path / "run.json", data)
    out = run_script("collbench-plot", src, "--out", tmp_path / "plots")
    assert out.returncode == 0, out.stderr
    assert "wrote" in out.stdout
    plots = tmp_path / "plots"
    index = read_json(plots / "index.json")
    assert index["figures"] == ["allreduce-busbw", "allreduce-latency"]  # one rank count

    busbw = _check_images(plots, "allreduce-busbw")
    assert busbw["schema"] == "collbench.plot-data"
    assert busbw["x"]["scale"] == "log2" and busbw["y"]["unit"] == "GB/s"
    assert {s["name"] for s in busbw["series"]} == {"ring", "native"}
    by_key = {(r["algorithm"], r["bytes"]): r for r in data["records"]}
    for series in busbw["series"]:
        assert [p[0] for p in series["points"]] == SIZES
        for size, value in series["points"]:
            assert value == pytest.approx(by_key[(series["name"], size)]["busbw_gbps"])

    latency = _check_images(plots, "allreduce-latency")
    assert latency["y"]["scale"] == "log10"
    for series in latency["series"]:
        for size, value in series["points"]:
            assert value == pytest.approx(by_key[(series["name"], size)]["time_us"]["p50"])

    caption = " ".join(busbw["caption"])
    assert "node000" in caption                       # host
    assert "2025-01-15" in caption                    # date
    assert "Open MPI v4.1.4" in caption               # MPI library
    assert "4 ranks × 2 nodes" in caption             # ranks x nodes
    assert "float32" in busbw["subtitle"] and "4 ranks × 2 nodes" in busbw["subtitle"]


def test_scaling_curves_from_several_rank_counts(tmp_path):
    data = gen.make_result(seed=2, sizes=SIZES, algorithms=("ring",), ranks=(2, 4, 8, 16),
                           ranks_per_node=4, repeats=3)
    src = gen.write(tmp_path / "sweep.json", data)
    out = run_script("collbench-plot", src, "-o", tmp_path / "p", "--sizes", "1K,4M")
    assert out.returncode == 0, out.stderr
    assert "size plots show 16 ranks only" in out.stderr
    scaling = _check_images(tmp_path / "p", "allreduce-scaling-busbw")
    assert scaling["x"]["field"] == "ranks"
    assert [s["name"] for s in scaling["series"]] == ["ring @ 1K", "ring @ 4M"]
    for series in scaling["series"]:
        assert [p[0] for p in series["points"]] == [2, 4, 8, 16]
        assert all(s[3] == 3 for s in series["spread"])  # three repeats per point
        size = series["fields"]["bytes"]
        for (ranks, value), spread in zip(series["points"], series["spread"]):
            values = sorted(r["busbw_gbps"] for r in data["records"]
                            if r["ranks"] == ranks and r["bytes"] == size)
            assert value == pytest.approx(values[1])  # median of the three repeats
            assert spread[1:3] == pytest.approx([values[0], values[2]])
    assert scaling["nodes_of_ranks"] == {"2": 1, "4": 1, "8": 2, "16": 4}
    time_fig = _check_images(tmp_path / "p", "allreduce-scaling-time")
    assert time_fig["y"]["field"] == "time_us.p50"
    busbw = read_json(tmp_path / "p" / "allreduce-busbw.json")
    assert busbw["series"][0]["fields"]["ranks"] == 16


def test_default_scaling_sizes_and_ranks_filter(tmp_path):
    data = gen.make_result(seed=3, sizes=SIZES, algorithms=("ring",), ranks=(2, 4))
    src = gen.write(tmp_path / "s.json", data)
    out = run_script("collbench-plot", src, "-o", tmp_path / "p", "--scaling-metric", "time",
                     "--ranks", "2")
    assert out.returncode == 0, out.stderr
    scaling = read_json(tmp_path / "p" / "allreduce-scaling-time.json")
    assert scaling["sizes"] == [8, 65536, 4 * MIB]  # smallest, middle, largest
    assert not (tmp_path / "p" / "allreduce-scaling-busbw.json").exists()
    busbw = read_json(tmp_path / "p" / "allreduce-busbw.json")
    assert [s["name"] for s in busbw["series"]] == ["ring"]
    assert "2 ranks" in busbw["subtitle"]


def test_two_sources_are_labelled(tmp_path):
    a = gen.write(tmp_path / "a.json", gen.make_result(seed=1, sizes=SIZES,
                                                       algorithms=("ring",)))
    b = gen.write(tmp_path / "b.json", gen.make_result(seed=2, sizes=SIZES,
                                                       algorithms=("ring",),
                                                       hardware_label="B200"))
    out = run_script("collbench-plot", a, b, "--label", "A100", "-o", tmp_path / "p")
    assert out.returncode == 0, out.stderr
    busbw = read_json(tmp_path / "p" / "allreduce-busbw.json")
    assert {s["name"] for s in busbw["series"]} == {"A100: ring", "B200: ring"}
    assert "B200" in " ".join(busbw["caption"])


def test_alltoall_and_allreduce_get_their_own_figures(tmp_path):
    data = gen.make_result(seed=4, sizes=SIZES, collectives=("allreduce", "alltoall"),
                           algorithms=("pairwise",))
    src = gen.write(tmp_path / "r.json", data)
    out = run_script("collbench-plot", src, "-o", tmp_path / "p", "--prefix", "x-")
    assert out.returncode == 0, out.stderr
    index = read_json(tmp_path / "p" / "x-index.json")
    assert index["figures"] == ["x-allreduce-busbw", "x-allreduce-latency",
                                "x-alltoall-busbw", "x-alltoall-latency"]
    alltoall = read_json(tmp_path / "p" / "x-alltoall-busbw.json")
    assert alltoall["collective"] == "alltoall"
    assert "none" in alltoall["subtitle"]  # op of all-to-all


@pytest.mark.parametrize("content,phrase", [
    ("", "file is empty"),
    ('{"schema": "collbench.result", "schema_version": 1, "records": [', "malformed JSON"),
    ('{"schema": "collbench.result", "schema_version": 7}', "schema_version 7 is not supported"),
])
def test_unusable_input(tmp_path, content, phrase):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    out = run_script("collbench-plot", bad, "-o", tmp_path / "p")
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line and line.startswith("collbench-plot: error: ")
    assert "bad.json" in line and phrase in line
    assert not (tmp_path / "p").exists()


def test_unknown_size_and_empty_filter(tmp_path):
    src = gen.write(tmp_path / "s.json", gen.make_result(seed=1, sizes=SIZES, ranks=(2, 4)))
    out = run_script("collbench-plot", src, "-o", tmp_path / "p", "--sizes", "3M")
    assert out.returncode == 2 and "--sizes: 3M not measured" in out.stderr
    out = run_script("collbench-plot", src, "-o", tmp_path / "p", "--algorithm", "nope")
    assert out.returncode == 2 and "no records to plot" in out.stderr


def test_help():
    out = run_script("collbench-plot", "--help")
    assert out.returncode == 0 and "scaling" in out.stdout and "--sizes" in out.stdout


def _projection(path, gpus, sizes, algorithms=("ring", "recursive_doubling"), bands=False):
    """A file shaped like `collbench model predict --json`: time = a + b * bytes; with `bands`,
    each point carries the calibration record's band (-20%/+10%) and counts above 8 GPUs are
    extrapolated."""
    points = []
    for algorithm in algorithms:
        for g in gpus:
            for size in sizes:
                t = 5.0 * g + size / 2e3
                point = {"fabric": "h100", "collective": "allreduce",
                         "algorithm": algorithm, "bytes": size, "gpus": g, "time_us": t,
                         "algbw_gbps": size / t / 1e3,
                         "busbw_gbps": size / t / 1e3 * 2 * (g - 1) / g}
                if bands:
                    point.update({"busbw_low_gbps": point["busbw_gbps"] * 0.8,
                                  "busbw_high_gbps": point["busbw_gbps"] * 1.1,
                                  "time_low_us": t / 1.1, "time_high_us": t / 0.8,
                                  "extrapolated": g > 8, "regime": "multi_domain"})
                points.append(point)
    import json
    path.write_text(json.dumps({"command": "model predict", "sizes": sizes, "gpus": gpus,
                                "points": points}))
    return path


def test_model_projection_beside_the_measurements(tmp_path):
    data = gen.make_result(seed=6, sizes=SIZES, algorithms=("ring", "native"), ranks=(2, 4))
    src = gen.write(tmp_path / "m.json", data)
    proj = _projection(tmp_path / "p.json", [2, 4, 8, 1024], [4, 8, 1024, MIB, 4 * MIB, 64 * MIB])
    out = run_script("collbench-plot", src, "--projection", proj, "-o", tmp_path / "p",
                     "--sizes", "1M")
    assert out.returncode == 0, out.stderr
    busbw = read_json(tmp_path / "p" / "allreduce-busbw.json")
    (model,) = busbw["projection_series"]  # only ring was measured; 4 ranks shown
    assert model["name"] == "model: ring"
    assert model["fields"]["gpus"] == 4
    assert [p[0] for p in model["points"]] == [8, 1024, MIB, 4 * MIB]  # within measured sizes
    assert model["points"][-1][1] == pytest.approx(4 * MIB / (20 + 4 * MIB / 2e3) / 1e3 * 1.5)
    scaling = read_json(tmp_path / "p" / "allreduce-scaling-time.json")
    (model,) = scaling["projection_series"]
    assert model["name"] == "model: ring @ 1M"
    assert [p[0] for p in model["points"]] == [2, 4, 8, 1024]  # projects beyond 4 ranks
    assert (tmp_path / "p" / "allreduce-scaling-time.png").stat().st_size > 10_000


def test_projection_draws_the_calibration_band(tmp_path):
    data = gen.make_result(seed=6, sizes=SIZES, algorithms=("ring",), ranks=(2, 4))
    src = gen.write(tmp_path / "m.json", data)
    proj = _projection(tmp_path / "p.json", [2, 4, 8, 1024], [4, 8, 1024, MIB], bands=True)
    out = run_script("collbench-plot", src, "--projection", proj, "-o", tmp_path / "p",
                     "--sizes", "1M")
    assert out.returncode == 0, out.stderr
    busbw = read_json(tmp_path / "p" / "allreduce-busbw.json")
    (model,) = busbw["projection_series"]
    for (x, y), (bx, lo, hi) in zip(model["points"], model["band"]):
        assert x == bx and lo == pytest.approx(0.8 * y) and hi == pytest.approx(1.1 * y)
    scaling = read_json(tmp_path / "p" / "allreduce-scaling-time.json")
    (model,) = scaling["projection_series"]
    assert model["extrapolated"] == [1024]
    assert [b[2] for b in model["band"]] == pytest.approx([p[1] / 0.8 for p in model["points"]])


def test_bad_projection_file(tmp_path):
    src = gen.write(tmp_path / "m.json", gen.make_result(seed=6, sizes=SIZES))
    bad = tmp_path / "proj.json"
    bad.write_text('{"command": "model predict", "points": [{"collective": "allreduce"}]}')
    out = run_script("collbench-plot", src, "--projection", bad, "-o", tmp_path / "p")
    assert out.returncode == 2
    assert "proj.json: points[0] lacks 'algorithm'" in out.stderr
    bad.write_text('{"records": []}')
    out = run_script("collbench-plot", src, "--projection", bad, "-o", tmp_path / "p")
    assert out.returncode == 2 and "not a model projection" in out.stderr
