"""collbench-history: the store, change points on known histories, unusable input."""

import json
import sqlite3
import subprocess

import numpy as np
import pytest

import gen_results as gen
from collbench_py.history import analysis, changepoint, cli, synth
from collbench_py.history.store import open_store
from conftest import HERE, read_json, run_script

MIB = 1024 * 1024
SIZES = [1024, 65536, MIB, 4 * MIB]
NOISE = HERE.parent / "data" / "history-noise.json"


def result(day, seed=None, slowdown=None, **kw):
    """A small result file of night `day` (one run of a nightly history)."""
    params = dict(sizes=SIZES, algorithms=("ring", "native"), ranks=(4,), iters=20,
                  sigma=0.02, hardware_label="ci-box", start_time=synth.day_time(day))
    params.update(kw)
    data = gen.make_result(seed=seed if seed is not None else 100 + day,
                           slowdown=slowdown, **params)
    data["provenance"]["environment"] = {"OMPI_MCA_ess_base_jobid": str(5000 + day),
                                         "NCCL_ALGO": "Ring"}
    return data


def write_history(folder, days, step_day=None, factor=1.2, step_kw=None):
    """Nightly result files; from step_day on, sizes >= 1M are `factor` slower."""
    paths = []
    for day in range(days):
        stepped = step_day is not None and day >= step_day
        kw = dict(step_kw or {}) if stepped else {}
        data = result(day, slowdown=(factor, MIB) if stepped else None, **kw)
        paths.append(gen.write(folder / f"run-{day:03d}.json", data))
    return paths


def history(store, *args, **kw):
    return run_script("collbench-history", *args, "--store", store, **kw)


def dump(path):
    """The store's whole content as SQL text (equal before and after = unchanged)."""
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def one_error_line(out):
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("collbench-history: error: "), lines[0]
    assert "Traceback" not in out.stderr + out.stdout
    return lines[0]


@pytest.fixture
def store(tmp_path):
    return tmp_path / "history.sqlite"


# --- the store ----------------------------------------------------------------------------

def test_ingest_ls_show_export(tmp_path, store):
    paths = write_history(tmp_path, 3)
    out = history(store, "ingest", *paths)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith(
        "collbench-history: 3 stored, 0 replaced, 0 already present; 3 runs in")
    out = history(store, "ls", "--json")
    runs = json.loads(out.stdout)
    assert [r["start_time"] for r in runs] == [synth.day_time(d) for d in range(3)]
    assert {r["machine"] for r in runs} == {"ci-box"}
    assert all(r["records"] == 8 for r in runs)
    out = history(store, "ls", "--series")
    assert out.returncode == 0 and out.stdout.strip().endswith("8 series")
    out = history(store, "show", "latest")
    assert out.returncode == 0 and "allreduce  native" in out.stdout
    shown = json.loads(history(store, "show", "2", "--json").stdout)
    assert shown["header"]["provenance"]["start_time"] == synth.day_time(1)
    assert len(shown["records"]) == 8
    out = history(store, "export", "--csv", "--samples", "-o", tmp_path / "all.csv")
    lines = (tmp_path / "all.csv").read_text().strip().splitlines()
    assert lines[0].startswith("run_id,start_time,machine,git_sha")
    assert len(lines) == 1 + 3 * 8
    assert len(lines[1].split(",")[-1].split()) == 20  # the samples column


def test_ingest_twice_changes_nothing(tmp_path, store):
    paths = write_history(tmp_path, 2)
    assert history(store, "ingest", *paths).returncode == 0
    before = dump(store)
    out = history(store, "ingest", tmp_path)  # the folder: the same two files
    assert out.returncode == 0, out.stderr
    assert "0 stored, 0 replaced, 2 already present" in out.stdout
    assert dump(store) == before


def test_a_sweep_folder_leaves_its_manifest_and_plot_data_out(tmp_path, store):
    """What scripts/slurm/collbench-sweep.sbatch ingests with HISTORY set."""
    sweep = tmp_path / "sweep"
    (sweep / "plots").mkdir(parents=True)
    for nodes in (1, 2):
        gen.write(sweep / f"collbench-{nodes}nodes.json",
                  result(0, ranks=(2 * nodes,), start_time=synth.day_time(0, nodes)))
    (sweep / "manifest.json").write_text(json.dumps({"schema": "collbench.collect",
                                                     "files": []}))
    (sweep / "plots" / "allreduce-busbw.json").write_text(json.dumps(
        {"schema": "collbench.plot-data", "series": []}))
    out = history(store, "ingest", sweep)
    assert out.returncode == 0, out.stderr
    assert "2 stored" in out.stdout
    series = json.loads(history(store, "ls", "--series", "--json").stdout)
    assert {s["ranks"] for s in series} == {2, 4}


def test_incomplete_run_is_replaced_by_its_complete_file(tmp_path, store):
    full = result(0)
    partial = json.loads(json.dumps(full))
    partial["complete"] = False
    partial["failure"] = "killed"
    partial["records"] = partial["records"][:3]
    gen.write(tmp_path / "partial.json", partial)
    gen.write(tmp_path / "full.json", full)
    assert history(store, "ingest", tmp_path / "partial.json").returncode == 0
    out = history(store, "ingest", tmp_path / "full.json")
    assert "replaced an incomplete copy" in out.stdout
    runs = json.loads(history(store, "ls", "--json").stdout)
    assert len(runs) == 1 and runs[0]["records"] == 8 and runs[0]["complete"] == 1
    assert "0 stored, 0 replaced, 1 already present" in \
        history(store, "ingest", tmp_path / "partial.json").stdout


def test_newer_fields_and_collectives_are_kept(tmp_path, store):
    data = result(0)
    for rec in data["records"][:4]:
        rec["collective"] = "reducescatter"
        rec["timing"] = "loop-average"
        rec["stable"] = True
    data["provenance"]["new_field"] = {"x": 1}
    gen.write(tmp_path / "new.json", data)
    out = history(store, "ingest", tmp_path / "new.json")
    assert out.returncode == 0, out.stderr
    series = json.loads(history(store, "ls", "--series", "--json").stdout)
    timings = {(s["collective"], s["timing"]) for s in series}
    assert timings == {("reducescatter", "loop-average"), ("allreduce", "per-call")}
    conn = sqlite3.connect(store)
    extras = [json.loads(x) for (x,) in conn.execute(
        "SELECT extra FROM points WHERE extra IS NOT NULL")]
    header = json.loads(conn.execute("SELECT header FROM runs").fetchone()[0])
    conn.close()
    assert extras == [{"stable": True}] * 4  # the known fields have columns
    assert header["provenance"]["new_field"] == {"x": 1}


# --- unusable input: one line, exit 2, the store unchanged -------------------------------

@pytest.fixture
def filled(tmp_path, store):
    assert history(store, "ingest", *write_history(tmp_path, 2)).returncode == 0
    return dump(store)


def _bad_file(tmp_path, kind):
    data = result(5)
    path = tmp_path / f"{kind}.json"
    if kind == "truncated":
        path.write_text(json.dumps(data)[:-300])
    elif kind == "foreign":
        path.write_text(json.dumps({"schema": "collbench.plot-data", "series": []}))
    elif kind == "newer":
        data["schema_version"] = 2
        gen.write(path, data)
    elif kind == "broken-record":
        data["records"][3]["bytes"] = "1M"
        gen.write(path, data)
    elif kind == "nan":
        path.write_text(json.dumps(data).replace('"samples_us": [', '"samples_us": [NaN, ', 1))
    return path


@pytest.mark.parametrize("kind,message", [
    ("truncated", "looks truncated"), ("foreign", "not a collbench result file"),
    ("newer", "schema_version 2 is newer than this tool"),
    ("broken-record", "$.records[3].bytes is a string, expected integer"),
    ("nan", "non-finite number NaN")])
def test_unusable_file_is_refused_and_nothing_stored(tmp_path, store, filled, kind, message):
    good = gen.write(tmp_path / "good.json", result(9))
    out = history(store, "ingest", good, _bad_file(tmp_path, kind))
    assert out.returncode == 2
    assert message in one_error_line(out)
    assert dump(store) == filled  # not even the good file before it


def test_unusable_file_does_not_create_a_store(tmp_path, store):
    out = history(store, "ingest", _bad_file(tmp_path, "truncated"))
    assert out.returncode == 2 and "looks truncated" in one_error_line(out)
    assert not store.exists()


def test_store_that_is_not_a_store(tmp_path):
    paths = write_history(tmp_path, 1)
    text = tmp_path / "notes.sqlite"
    text.write_text("just text\n")
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    for path, message in ((text, "not an SQLite database"),
                          (other, "SQLite database with tables t")):
        before = path.read_bytes()
        for args in (("ingest", *paths), ("changes",), ("ls",)):
            out = history(path, *args)
            assert out.returncode == 2 and message in one_error_line(out), args
        assert path.read_bytes() == before


def test_store_written_by_a_newer_tool(tmp_path, store, filled):
    conn = sqlite3.connect(store)
    conn.execute("UPDATE collbench_history SET value = '7' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    before = dump(store)
    out = history(store, "ingest", write_history(tmp_path, 3)[2])
    assert out.returncode == 2
    assert "store schema version 7 is newer than this tool" in one_error_line(out)
    assert dump(store) == before


def test_locked_store(tmp_path, store, filled):
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another job in the middle of an ingest
    try:
        out = run_script("collbench-history", "ingest", result_path := gen.write(
            tmp_path / "late.json", result(7)), "--store", store, "--wait", "0.2")
        assert out.returncode == 2
        assert f"store {store} is locked by another process" in one_error_line(out)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert dump(store) == filled
    assert history(store, "ingest", result_path).returncode == 0


def test_missing_store_and_bad_options(tmp_path, store):
    out = history(tmp_path / "none.sqlite", "changes")
    assert out.returncode == 2 and "no such store" in one_error_line(out)
    assert history(store, "ingest", *write_history(tmp_path, 1)).returncode == 0
    out = history(store, "changes", "--since", "last tuesday")
    assert out.returncode == 2 and "--since last tuesday" in one_error_line(out)
    out = history(store, "changes", "--permutations", "20")
    assert out.returncode == 2 and "cannot reach --p-value" in one_error_line(out)
    out = history(store, "show", "99")
    assert out.returncode == 2 and "no such run" in one_error_line(out)
    out = run_script("collbench-history", "frobnicate")
    assert out.returncode == 2 and "invalid choice" in one_error_line(out)


# --- change points ------------------------------------------------------------------------

def _energy_q(x, y):
    m, k = len(x), len(y)
    within_x = np.abs(x[:, None] - x[None, :]).sum() / 2
    within_y = np.abs(y[:, None] - y[None, :]).sum() / 2
    e = 2 * np.abs(x[:, None] - y[None, :]).sum() / (m * k) \
        - (within_x * 2 / (m * (m - 1)) if m > 1 else 0) \
        - (within_y * 2 / (k * (k - 1)) if k > 1 else 0)
    return m * k / (m + k) * e


def test_statistics_match_the_definition():
    """Q(tau, end) and max over kappa of Q(tau, kappa), checked pair by pair."""
    rng = np.random.default_rng(1)
    for n in (2, 3, 7, 16, 33):
        for values in (rng.random(n), rng.integers(0, 4, n).astype(float)):
            z = changepoint.ranks(values)
            assert sorted(z) == list(range(n))
            at_end = changepoint.end_statistics(z[None, :], 1)[0]
            best, kappa = (r[0] for r in changepoint.kappa_statistics(z[None, :], 1))
            zf = z.astype(float)
            for tau in range(1, n):
                assert at_end[tau] == pytest.approx(_energy_q(zf[:tau], zf[tau:])), (n, tau)
                per_kappa = [_energy_q(zf[:tau], zf[tau:c]) for c in range(tau + 1, n + 1)]
                assert best[tau] == pytest.approx(max(per_kappa), rel=1e-5), (n, tau)  # float32
                assert kappa[tau] == tau + 1 + int(np.argmax(per_kappa))


def test_windows_cover_the_history_and_end_at_the_newest_run():
    assert changepoint.windows(50, 100) == [(0, 50)]
    assert changepoint.windows(250, 100) == [(0, 100), (50, 150), (100, 200), (150, 250)]
    assert changepoint.windows(260, 100)[-1] == (160, 260)
    rng = np.random.default_rng(4)
    values = 100 + rng.normal(0, 1, 400)
    values[130:] += 8
    values[330:] -= 8
    found = changepoint.detect_windows(values, window=100)
    assert [cp.index for cp in found] == [130, 330]


def test_detect_clean_step_flat_and_constant():
    rng = np.random.default_rng(2)
    values = np.r_[100 + rng.normal(0, 1, 30), 110 + rng.normal(0, 1, 20)]
    found = changepoint.detect(values)
    assert [cp.index for cp in found] == [30]
    assert found[0].p_value <= 0.01
    assert changepoint.detect(100 + rng.normal(0, 1, 50)) == []
    assert changepoint.detect(np.full(40, 5.0)) == []


def test_permutation_test_is_reproducible_and_order_free():
    rng = np.random.default_rng(3)
    series = [100 + rng.normal(0, 1, 40) + 3 * (np.arange(40) >= s) for s in (10, 25, 33)]
    first = [changepoint.detect(v, cache=changepoint.NullCache(5)) for v in series]
    shared = changepoint.NullCache(5)
    second = [changepoint.detect(v, cache=shared) for v in reversed(series)][::-1]
    assert [[(c.index, c.p_value) for c in f] for f in first] == \
        [[(c.index, c.p_value) for c in s] for s in second]


def test_changes_finds_the_step_and_its_provenance(tmp_path, store):
    paths = write_history(tmp_path, 30, step_day=20, step_kw={
        "mpi_library": "Open MPI v5.0.3 (synthetic)"})
    assert history(store, "ingest", *paths).returncode == 0
    out = history(store, "changes", "--json", tmp_path / "c.json", "--markdown",
                  tmp_path / "c.md")
    assert out.returncode == 0, out.stdout + out.stderr  # not new: 10 runs after it
    report = read_json(tmp_path / "c.json")
    changes = report["changes"]
    assert {(c["series"]["algorithm"], c["series"]["bytes"]) for c in changes} == \
        {(a, b) for a in ("ring", "native") for b in (MIB, 4 * MIB)}
    for change in changes:
        assert change["kind"] == "regression" and change["status"] == "open"
        assert change["run"]["start_time"] == synth.day_time(20)
        assert change["time_change"] == pytest.approx(0.2, abs=0.03)
        assert change["busbw_change"] == pytest.approx(1 / 1.2 - 1, abs=0.03)
        assert change["shape"] == "step" and not change["new"]
        fields = {d["field"]: d for d in change["provenance_diff"]}
        assert fields["provenance.mpi_library"]["after"] == "Open MPI v5.0.3 (synthetic)"
        assert "provenance.git_sha" in fields  # the generator's SHA follows the seed
        assert not any("jobid" in f for f in fields)  # changes every run: not news
    text = (tmp_path / "c.md").read_text()
    assert "### Open regressions" in text and "MPI library" in text


def test_a_regression_is_new_in_the_run_that_confirms_it(tmp_path, store, capsys):
    """E-Divisive favours balanced splits: a clean step near the newest run reaches
    p <= 0.01 once three or four runs follow it (docs/history.md). It is new in the run
    that shows it after a run that did not (a change near the threshold can come and go);
    the report names the first run after the step. In process: eleven commands."""
    paths = write_history(tmp_path, 31, step_day=25)

    def run(*args):
        code = cli.main([*map(str, args), "--store", str(store)])
        capsys.readouterr()
        return code

    assert run("ingest", "--quiet", *paths[:26]) == 0
    seen, previous = set(), set()
    for day in range(26, 31):
        code = run("changes", "--json", tmp_path / "c.json", "--markdown", tmp_path / "c.md")
        changes = read_json(tmp_path / "c.json")["changes"]
        keys = {(c["series"]["algorithm"], c["series"]["bytes"]) for c in changes}
        new = {(c["series"]["algorithm"], c["series"]["bytes"]) for c in changes if c["new"]}
        assert new == keys - previous, day
        assert code == (1 if new else 0)
        if new:
            assert "### New regressions" in (tmp_path / "c.md").read_text()
        assert all(c["run"]["start_time"] == synth.day_time(25) for c in changes)
        seen |= keys
        previous = keys
        assert run("ingest", "--quiet", paths[day]) == 0
    assert seen == {(a, b) for a in ("ring", "native") for b in (MIB, 4 * MIB)}
    # --since filters the listing, not the gate.
    run("changes", "--since", "1d", "--json", tmp_path / "s.json")
    assert read_json(tmp_path / "s.json")["changes"] == []


def test_new_in_a_history_longer_than_a_window():
    """With 150 runs (two windows and more) only the windows at the end are searched again
    without the latest run: a step confirmed by the latest run is new, an old one is not."""
    rng = np.random.default_rng(8)
    values = 100 + rng.normal(0, 0.5, 150)
    values[40:] *= 1.2
    values[145:] *= 1.2

    def analysed(count):
        ids = np.arange(1, count + 1)
        key = {"id": 1, "machine": "m", "collective": "allreduce", "algorithm": "ring",
               "dtype": "f32", "op": "sum", "bytes": 1 << 20, "ranks": 4, "nodes": 1,
               "placement": "out", "timing": "per-call", "backend": "mpi"}
        series = analysis.Series(key=key, run_ids=ids, values=values[:count],
                                 repeats=np.ones(count))
        runs = {int(i): {"start_time": synth.day_time(int(i))} for i in ids}
        found = analysis.History(runs=runs, order={"m": [int(i) for i in ids]},
                                 series=[series], options=analysis.Options())
        cache = changepoint.NullCache()
        series.changes = analysis.series_changes(series, found.options, cache)
        analysis._mark_new(found, cache)
        return [(c["index"], c["new"]) for c in series.changes]

    flags = {count: analysed(count) for count in range(146, 151)}
    assert all((40, False) in found for found in flags.values())
    first = min(count for count, found in flags.items() if (145, True) in found)
    assert first <= 150 and all(not any(c[0] == 145 for c in flags[count])
                                for count in range(146, first))


def test_a_recovered_regression_is_not_open(tmp_path, store):
    paths = []
    for day in range(36):
        slow = (1.25, MIB) if 12 <= day < 24 else None
        paths.append(gen.write(tmp_path / f"r{day}.json", result(day, slowdown=slow)))
    assert history(store, "ingest", *paths).returncode == 0
    out = history(store, "changes", "--json", tmp_path / "c.json")
    assert out.returncode == 0
    changes = read_json(tmp_path / "c.json")["changes"]
    regressions = [c for c in changes if c["kind"] == "regression"]
    assert len(regressions) == 4 and all(c["status"] == "recovered" for c in regressions)
    assert all(c["run"]["start_time"] == synth.day_time(12) for c in regressions)
    improvements = [c for c in changes if c["kind"] == "improvement"]
    assert len(improvements) == 4
    assert all(c["run"]["start_time"] == synth.day_time(24) for c in improvements)


def test_commit_order(tmp_path, store):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git + ["init", "-q"], check=True)
    shas = []
    for number in range(3):
        subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", f"c{number}"],
                       check=True)
        shas.append(subprocess.run(git + ["rev-parse", "--short=12", "HEAD"],
                                   capture_output=True, text=True).stdout.strip())
    # Measured out of commit order (a bisection): days 0, 1, 2 ran commits 2, 0, 1.
    for day, sha in enumerate((shas[2], shas[0], shas[1])):
        data = result(day)
        data["provenance"]["git_sha"] = sha
        gen.write(tmp_path / f"c{day}.json", data)
    data = result(3)
    data["provenance"]["git_sha"] = "unknown"
    gen.write(tmp_path / "c3.json", data)
    assert history(store, "ingest", *[tmp_path / f"c{d}.json" for d in range(4)]).returncode \
        == 0
    with open_store(str(store)) as opened:
        options = analysis.Options(order="commit", repo=str(repo))
        loaded = analysis.load(opened, options)
        order = [loaded.runs[r]["git_sha"] for r in loaded.order["ci-box"]]
    assert order == shas and loaded.left_out == 1


def test_measured_noise_rates_sanity():
    """A few trials on the stored noise of this machine: the full rates are in bench."""
    noise = synth.load_noise(str(NOISE))
    quiet = min(noise["series"], key=synth.spread)
    noise["series"] = [quiet]
    options = analysis.Options()
    cache = changepoint.NullCache()
    rows = synth.detection_rates(noise, lambda v: analysis.value_changes(v, options, cache),
                                 trials=20)
    assert rows[0]["flat_quiet"] >= 0.9
    assert rows[0]["trials"] == 20
