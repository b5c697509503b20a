"""collbench-history site: the pages, and the pages in headless Chromium.

The Chromium tests skip where Debian's `chromium` is missing (scripts/setup.sh --test
installs it). Script errors are caught twice: the page writes them into #errors, which
the DOM dump shows, and Chromium's console log goes to stderr.
"""

import re
import shutil
import subprocess
import tempfile

import pytest

import gen_results as gen
from collbench_py.history import synth
from conftest import run_script

MIB = 1024 * 1024
SIZES = [1024, 65536, MIB, 4 * MIB]
DAYS = 30
STEP_DAY = 20
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--enable-logging=stderr",
                  "--v=0")


def _day_files(folder, day):
    """Two files per nightly job, as the CI example writes: all-reduce and all-to-all."""
    out = []
    for hour, collective in ((2, "allreduce"), (3, "alltoall")):
        slow = (1.2, MIB) if collective == "allreduce" and day >= STEP_DAY else None
        data = gen.make_result(seed=1000 + 2 * day + hour, collectives=(collective,),
                               algorithms=("ring", "native"), sizes=SIZES, iters=20,
                               sigma=0.02, slowdown=slow, hardware_label="ci-box",
                               start_time=synth.day_time(day, hour))
        if day >= STEP_DAY:
            data["provenance"]["nccl_version"] = "2.21.5"
        out.append(gen.write(folder / f"{collective}-{day:03d}.json", data))
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    paths = [p for day in range(DAYS) for p in _day_files(folder, day)]
    store = folder / "history.sqlite"
    out = run_script("collbench-history", "ingest", "--quiet", *paths, "--store", store)
    assert out.returncode == 0, out.stderr
    out = run_script("collbench-history", "site", "-o", folder / "www", "--store", store)
    assert out.returncode == 0, out.stdout + out.stderr
    return folder / "www"


def test_pages_and_their_content(site):
    names = sorted(p.name for p in site.iterdir())
    assert names == ["collective-allreduce.html", "collective-alltoall.html", "index.html"]
    allreduce = (site / "collective-allreduce.html").read_text()
    alltoall = (site / "collective-alltoall.html").read_text()
    assert allreduce.count('<svg class="trend"') == 8
    assert alltoall.count('<svg class="trend"') == 8
    assert allreduce.count('<g class="cp regression"') == 4      # 1M and 4M, 2 algorithms
    assert alltoall.count('<g class="cp ') == 0
    assert allreduce.count('<tr class="regression"') == 4
    assert allreduce.count('<svg class="latest"') == 1
    assert "NCCL" in allreduce  # the provenance difference: NCCL (none) -> 2.21.5
    for page in site.iterdir():
        html = page.read_text()
        assert "Content-Security-Policy" in html
        assert not re.search(r'(src|href)="(https?:)?//', html), page.name


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("chromium is not installed (scripts/setup.sh --test installs Debian's)")
    return path


def _run(args, timeout=90):
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                               *args], capture_output=True, text=True, timeout=timeout)


def _console_lines(stderr):
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def _dom(url):
    out = _run(["--virtual-time-budget=5000", "--dump-dom", url])
    assert out.returncode == 0, out.stderr[-2000:]
    assert not _console_lines(out.stderr), _console_lines(out.stderr)
    return out.stdout


def _errors(dom):
    match = re.search(r'<pre id="errors"[^>]*>(.*?)</pre>', dom, re.S)
    return match.group(1) if match else "(no #errors element)"


@pytest.mark.parametrize("page,trends,markers", [("collective-allreduce.html", 8, 4),
                                                  ("collective-alltoall.html", 8, 0),
                                                  ("index.html", 0, 0)])
def test_page_loads_in_chromium(site, page, trends, markers):
    # On the page with changes, the address opens the first one's detail as a click does.
    dom = _dom((site / page).as_uri() + ("#change-0" if markers else ""))
    assert 'data-ready="1"' in dom, "the page script did not finish"
    assert _errors(dom) == ""
    assert dom.count('<svg class="trend"') == trends
    assert len(re.findall(r'<g class="cp (regression|improvement)', dom)) == markers
    if markers:
        detail = re.search(r'<div id="detail"([^>]*)>(.*?)</table>', dom, re.S)
        assert detail and "hidden" not in detail.group(1)
        assert "what changed" in detail.group(2)
        assert "NCCL" in detail.group(2) and "2.21.5" in detail.group(2)


def test_screenshot(site, tmp_path):
    shot = tmp_path / "page.png"
    out = _run(["--window-size=1280,1600", f"--screenshot={shot}",
                (site / "collective-allreduce.html").as_uri()])
    assert out.returncode == 0, out.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
