"""The probe cases, generated from tables: flags x bad values, input files x ways of being
wrong, outputs x ways of being unwritable, signals x targets, and the defects found by hand.

To probe a new flag, add a row to the flag table of its command (FLAGS_* below) with its kind;
the values tried for each kind and the outcome expected for each are in KINDS. A row may
override the outcome of single values ({"0": 0} = "0 is accepted").
"""

import json
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass, field

import checks
import signals

PY = "/usr/bin/python3"


@dataclass
class Case:
    name: str
    argv: list
    rc: object = 2  # expected exit code, or a tuple of them
    message: str = ""  # regex the output must match
    kind: str = "plain"  # plain (no ranks), script, mpi (under mpirun), signal
    one_line: bool = True  # exit 2: exactly one line of collbench's on stderr
    checks: list = field(default_factory=list)
    setup: object = None  # fn(folder, ctx): files the case needs in its folder
    env: dict = field(default_factory=dict)
    timeout: float = 60
    driver: object = None  # fn(result, argv, folder, env, ctx, rng): runs the case itself


class Context:
    """Paths, the launcher's command line, and the input files shared by the cases."""

    def __init__(self, root, collbench, source):
        self.root = root
        self.collbench = collbench
        self.source = source
        self.fixtures = os.path.join(root, "fixtures")
        self.mpirun = ["mpirun", "--oversubscribe", "--bind-to", "none", "--mca", "btl",
                       "self,vader,tcp", "--mca", "mpi_yield_when_idle", "1"]
        self.env = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                    "OMPI_MCA_rmaps_base_oversubscribe": "1",
                    "OMPI_MCA_mpi_yield_when_idle": "1", "MPLBACKEND": "Agg",
                    "COLLBENCH_FAULT": ""}

    def fx(self, name):
        return os.path.join(self.fixtures, name)

    def expand(self, argv, folder):
        out = []
        for item in argv:
            if item == "{mpirun}":
                out.extend(self.mpirun)
                continue
            item = (item.replace("{cb}", self.collbench)
                    .replace("{scripts}", os.path.join(self.source, "scripts"))
                    .replace("{data}", os.path.join(self.source, "tests", "data"))
                    .replace("{dir}", folder))
            while "{fx:" in item:
                start = item.index("{fx:")
                end = item.index("}", start)
                item = item[:start] + self.fx(item[start + 4:end]) + item[end + 1:]
            out.append(item)
        return out

    def prepare(self):
        """Writes the fixtures: valid inputs (from short real runs) and broken ones."""
        os.makedirs(self.fixtures, exist_ok=True)
        env = dict(os.environ)
        env.update(self.env)

        def run(argv):
            done = subprocess.run(argv, cwd=self.fixtures, env=env, capture_output=True,
                                  timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"{argv}: exit {done.returncode}: {done.stderr[-500:]!r}")

        run(self.mpirun + ["-np", "2", self.collbench, "allreduce", "-b", "1K", "-e", "256K",
                           "-f", "4", "-n", "5", "-w", "1", "-a", "ring,recursive_doubling",
                           "-q", "--json", self.fx("result.json")])
        run([self.collbench, "model", "site", "--gpu", "h100", "--power-mw", "10",
             "--fabric-out", self.fx("fabric.json")])
        shutil.copy(os.path.join(self.source, "tests", "data", "workload_zero.json"),
                    self.fx("workload.json"))
        shutil.copy(os.path.join(self.source, "tests", "data", "gpu-server-2s-8gpu-8nic.xml"),
                    self.fx("topology.xml"))
        with open(self.fx("selection.json"), "w") as handle:
            json.dump({"schema": "collbench.selection", "rules": {}}, handle)
        with open(self.fx("result.json"), encoding="utf-8") as handle:
            result = json.load(handle)
        # Broken inputs, each wrong in one way.
        write = lambda name, data: open(self.fx(name), "wb").write(data)  # noqa: E731
        write("empty.json", b"")
        write("blank.json", b"  \n\t\n")
        raw = open(self.fx("result.json"), "rb").read()
        write("truncated.json", raw[: len(raw) // 2])
        write("binary.json", bytes(range(256)) * 8)
        write("other.json", b'{"schema": "something.else", "schema_version": 1}\n')
        write("array.json", b"[1, 2, 3]\n")
        write("nested.json", b"[" * 100000 + b"]" * 100000)
        write("bignum.json", b'{"schema": "collbench.fabric", "gpus": 1e999}\n')
        os.makedirs(self.fx("folder.json"), exist_ok=True)
        os.mkfifo(self.fx("fifo.json"))
        for name, change in (("negative_times.json", -1.0), ("zero_times.json", 0.0)):
            bad = json.loads(json.dumps(result))
            for rec in bad["records"]:
                rec["samples_us"] = [change * abs(x) for x in rec["samples_us"]]
                for k in rec["time_us"]:
                    rec["time_us"][k] = change * abs(rec["time_us"][k])
            with open(self.fx(name), "w") as handle:
                json.dump(bad, handle)
        wrong = json.loads(json.dumps(result))
        for rec in wrong["records"]:
            rec["wrong"] = 3
        with open(self.fx("all_wrong.json"), "w") as handle:
            json.dump(wrong, handle)
        fabric = json.load(open(self.fx("fabric.json")))
        fabric["tiers"][0]["bandwidth_gbps"] = 1e19
        fabric["tiers"][-1]["flow_gbps"] = 0
        for tier in fabric["tiers"]:
            tier["bandwidth_gbps"] = max(tier["bandwidth_gbps"], 1e19)
        with open(self.fx("fabric_huge_bw.json"), "w") as handle:
            json.dump(fabric, handle)
        # A result of each collective, for the scripts (every collective must be readable).
        for coll in ("alltoall", "reducescatter", "allgather"):
            run([self.collbench, coll, "-b", "1K", "-e", "4K", "-n", "3", "-w", "1", "-q",
                 "--json", self.fx(f"result_{coll}.json")])


def readonly_file(name, content=b'{"kept": true}\n'):
    """Setup: an existing output file someone made read-only."""
    def setup(folder, ctx):
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(content)
        os.chmod(path, 0o444)
    return setup


def existing_folder(name):
    def setup(folder, ctx):
        os.makedirs(os.path.join(folder, name), exist_ok=True)
    return setup


def symlink_to(name, target):
    def setup(folder, ctx):
        with open(os.path.join(folder, target), "w") as handle:
            handle.write("old\n")
        os.symlink(target, os.path.join(folder, name))
    return setup


def chain(*setups):
    def setup(folder, ctx):
        for one in setups:
            one(folder, ctx)
    return setup


# --- flags x values ------------------------------------------------------------------------

# The values tried for each kind of flag, and what each must give: 0 (accepted: the command
# runs) or 2 (refused in one line naming the flag). Every kind is tried with an empty value,
# zero, a negative number, NaN, a huge number and a value of the wrong type.
KINDS = {
    # sizes (K/M/G/T suffixes)
    "size": {"": 2, "0": 0, "-1": 2, "nan": 2, "99999999999999999999": 2, "1.5.5": 2,
             "12Q": 2, "1K": 0},
    # whole numbers at least 1
    "count1": {"": 2, "0": 2, "-1": 2, "nan": 2, "99999999999999999999": 2, "1.5": 2,
               "x": 2, "2": 0},
    # whole numbers at least 0
    "count0": {"": 2, "0": 0, "-1": 2, "nan": 2, "99999999999999999999": 2, "1.5": 2,
               "x": 2, "1": 0},
    # numbers above 0 (0 given explicitly is not "the default")
    "positive": {"": 2, "0": 2, "-1": 2, "nan": 2, "inf": 2, "1e400": 2, "x": 2, "0x": 2},
    # numbers at least 0
    "nonneg": {"": 2, "-1": 2, "nan": 2, "inf": 2, "1e400": 2, "x": 2},
    # seconds: 0 (never) or 1 .. 1e6
    "timeout": {"": 2, "0": 0, "-1": 2, "nan": 2, "inf": 2, "0.001": 2, "1e300": 2, "x": 2,
                "5": 0},
    # a size factor above 1
    "factor": {"": 2, "0": 2, "1": 2, "-2": 2, "nan": 2, "x": 2, "1e400": 2, "4": 0},
    # names from a fixed list
    "name": {"": 2, "0": 2, "-1": 2, "nan": 2, "x" * 300: 2, "a b": 2},
    # free text (labels)
    "text": {"": 2, " ": 2, "lab el": 0},
    # output files
    "output": {"": 2, "/": 2, "/nonexistent/x.json": 2, "/proc/x.json": 2, "/dev/null": 2},
    # input files
    "input": {"": 2, "{fx:missing.json}": 2, "{fx:folder.json}": 2, "{fx:empty.json}": 2,
              "{fx:binary.json}": 2, "{fx:fifo.json}": 2},
}

Flag = tuple  # (flag, kind, {value: rc override}, message regex or None)

# The benchmark subcommands: base command small enough to run in a second.
BENCH_BASE = ["-b", "1K", "-e", "2K", "-n", "2", "-w", "1", "-q"]
FLAGS_BENCH = [
    ("-b", "size", {"0": 0}, r"--min-bytes|-b\b"),
    ("-e", "size", {"0": 2}, r"--max-bytes|-e\b"),
    ("-i", "size", {"0": 2, "1K": 0}, r"--step-bytes|-i\b"),
    ("--segment", "size", {"0": 0, "1K": 0}, r"--segment"),
    # An infinite factor is documented: one size, then the sweep ends.
    ("-f", "factor", {"1e400": 0}, r"--step-factor|-f\b"),
    ("-n", "count1", {}, r"--iters|-n\b"),
    ("-w", "count0", {}, r"--warmup|-w\b"),
    ("-c", "count0", {}, r"--check|-c\b"),
    ("--repeat", "count1", {}, r"--repeat"),
    ("--buffer-passes", "count0", {"17": 2}, r"--buffer-passes"),
    ("--ranks-per-node", "count0", {}, r"--ranks-per-node"),
    ("--mpi-max-count", "count1", {}, r"--mpi-max-count"),
    ("--cuda-graph", "count0", {"1": 2}, r"--cuda-graph"),
    ("-T", "timeout", {}, r"--timeout|-T\b"),
    ("-d", "name", {}, r"dtype|-d\b"),
    ("-a", "name", {}, r"algorithm|--algo|-a\b"),
    ("--placement", "name", {}, r"--placement"),
    ("--backend", "name", {}, r"--backend"),
    ("--gpu-map", "name", {"0": 2}, r"--gpu-map"),
    ("--label", "text", {}, r"--label"),
    ("--timing", "name", {}, r"--timing"),
    ("--stable", "nonneg", {}, r"--stable"),
    ("--instability-threshold", "positive", {"1": 2, "0.5": 0}, r"--instability-threshold"),
    ("--json", "output", {}, r"--json"),
    ("--csv", "output", {}, r"--csv"),
    ("--selection", "input", {}, r"--selection|selection table"),
    ("--topology-xml", "input", {}, r"--topology-xml|topology"),
]
FLAGS_REDUCING = [
    ("-o", "name", {}, r"op\b|-o\b"),
    ("--inter-node-algo", "name", {}, r"--inter-node-algo"),
]

MODEL_SITE = [
    ("--power-mw", "positive", {"1e7": 2, "1": 0}, r"--power-mw"),
    ("--gpus", "count1", {"0": 2, "1e9": 2, "2000000000": 2, "2": 2, "1024": 0}, r"--gpus"),
    ("--pue", "positive", {"0.5": 2, "6": 2, "1.3": 0}, r"--pue"),
    ("--overhead", "nonneg", {"3": 2, "0": 0}, r"--overhead"),
    ("--node-kw", "positive", {"0.0001": 2, "20": 0}, r"--node-kw"),
    ("--switch-radix", "positive", {"-4": 2, "3": 2, "7": 2, "64": 0}, r"--switch-radix"),
    ("--oversub-leaf", "positive", {"0.5": 2, "2": 0}, r"--oversub-leaf"),
    ("--oversub-spine", "positive", {"0.5": 2, "2": 0}, r"--oversub-spine"),
    ("--pod-gpus", "positive", {"7": 2}, r"--pod-gpus"),
    ("--gpu", "name", {}, r"--gpu"),
    ("--json", "output", {}, r"--json"),
    ("--fabric-out", "output", {}, r"--fabric-out"),
]
MODEL_PREDICT = [
    ("-b", "size", {"0": 2}, r"--min-bytes|-b\b"),
    ("-e", "size", {"0": 2, "1K": 0}, r"--max-bytes|-e\b"),
    ("-f", "factor", {}, r"--step-factor|-f\b"),
    ("--gpus", "name", {"8:4": 2, "0:8": 2, "8": 0}, r"--gpus"),
    ("--collective", "name", {}, r"--collective"),
    ("--algo", "name", {}, r"--algo"),
    ("--profile", "name", {}, r"--profile"),
    ("--fabric", "input", {}, r"--fabric|fabric"),
    ("--json", "output", {}, r"--json"),
]
MODEL_STEP = [
    ("--power-mw", "positive", {"1": 0}, r"--power-mw"),
    ("--scale-to", "count1", {"1000000000": 2, "99999999999999999999": 2, "8": 0},
     r"--scale-to"),
    ("--example", "name", {}, r"--example|workload"),
    ("--profile", "name", {}, r"--profile"),
    ("--config", "input", {}, r"--config|workload"),
    ("--switch-radix", "positive", {"-4": 2, "64": 0}, r"--switch-radix"),
    ("--node-kw", "positive", {"0.0001": 2}, r"--node-kw"),
    ("--json", "output", {}, r"--json"),
]
MODEL_FIT = [
    ("--gamma-gbps", "nonneg", {"0": 0, "5": 0}, r"--gamma-gbps"),
    ("--stat", "name", {}, r"--stat"),
    ("--tiers", "name", {}, r"--tiers"),
    ("-b", "size", {"0": 0, "1K": 0, "1.5.5": 2}, r"--min-bytes|-b\b"),
    ("-e", "size", {"0": 2, "1K": 2}, r"--max-bytes|-e\b|records"),
    ("--eager-limit", "size", {"0": 2, "1K": 0}, r"--eager-limit"),
    ("--dtype", "name", {}, r"--dtype|dtype"),
    ("--json", "output", {}, r"--json"),
    ("-o", "output", {}, r"--output|-o\b"),
]
MODEL_VALIDATE = [
    ("--target", "positive", {"0.2": 0}, r"--target"),
    ("--holdout-every", "count1", {"1": 2, "2": 0}, r"--holdout-every"),
    ("--bands", "name", {}, r"--bands"),
    ("--gamma-gbps", "nonneg", {}, r"--gamma-gbps"),
    ("--json", "output", {}, r"--json"),
]
# validate --published: the published record built in, or calibration files given instead.
MODEL_PUBLISHED = [
    ("--baseline", "input", {}, r"--baseline|baseline"),
    ("--baseline-out", "output", {}, r"--baseline-out"),
    ("--json", "output", {}, r"--json"),
]
TUNE = [
    ("-C", "name", {}, r"--collective|-C\b"),
    ("-b", "size", {}, r"--min-bytes|-b\b"),
    ("-n", "count1", {}, r"--iters|-n\b"),
    ("-T", "timeout", {}, r"--timeout|-T\b"),
    ("-O", "output", {}, r"--output|-O\b"),
    ("--json", "output", {}, r"--json"),
]
# Run without mpirun (one rank): what is checked before MPI starts is probed here; the folder of
# --json is checked by rank 0 after the launch (the files cases run that under mpirun).
WORKLOAD_RUN = [
    ("--max-bytes", "size", {"0": 2}, r"--max-bytes"),
    ("-n", "count1", {}, r"--iters|-n\b"),
    ("-w", "count0", {}, r"--warmup|-w\b"),
    ("-c", "count0", {}, r"--check|-c\b"),
    ("--timeout", "timeout", {}, r"--timeout"),
    ("--example", "name", {}, r"--example|workload"),
    ("--fabric", "input", {}, r"--fabric|fabric"),
    ("--json", "output", {"/nonexistent/x.json": 2, "/proc/x.json": 2},
     r"--json|no collective with more than one rank"),
]

COMMANDS = [
    # (name, command words, base arguments, flag table, accepted values run?)
    ("allreduce", ["{cb}", "allreduce"], BENCH_BASE, FLAGS_BENCH + FLAGS_REDUCING, True),
    ("alltoall", ["{cb}", "alltoall"], BENCH_BASE, FLAGS_BENCH, False),
    ("reducescatter", ["{cb}", "reducescatter"], BENCH_BASE, FLAGS_BENCH + FLAGS_REDUCING,
     False),
    ("allgather", ["{cb}", "allgather"], BENCH_BASE, FLAGS_BENCH + FLAGS_REDUCING[1:], False),
    ("site", ["{cb}", "model", "site"], [], MODEL_SITE, True),
    ("predict", ["{cb}", "model", "predict"], ["--profile", "h100", "-e", "1M", "--gpus",
                                               "8:64"], MODEL_PREDICT, True),
    ("step", ["{cb}", "model", "step"], ["--profile", "h100"], MODEL_STEP, True),
    ("fit", ["{cb}", "model", "fit", "{fx:result.json}"], [], MODEL_FIT, True),
    ("validate", ["{cb}", "model", "validate", "{fx:result.json}"], [], MODEL_VALIDATE, True),
    ("published", ["{cb}", "model", "validate", "--published"], [], MODEL_PUBLISHED, True),
    ("tune", ["{cb}", "tune"], ["-O", "{dir}/sel.json", "-e", "1K"], TUNE, False),
    ("workload", ["{cb}", "workload", "run"], [], WORKLOAD_RUN, False),
]

# Flags whose value is not checked before the run: the named value is then a valid one that
# the run refuses later (the kind's list says what is valid).
VALID_NAME = {"-d": "f32", "-a": "ring", "--placement": "out", "--backend": "mpi",
              "--gpu": "h100", "--collective": "allreduce", "--algo": "ring",
              "--profile": "h100", "--stat": "p50", "--tiers": "auto", "--example":
              "llama3-405b", "-o": "sum", "--inter-node-algo": "ring", "-C": "allreduce"}


_SPELL = {"-": "m", ".": "d", "/": "s", " ": "sp", ",": "c", ":": "col", "_": "_", "=": "eq"}


def safe(text):
    """A case-name spelling of a value: distinct values give distinct names."""
    if text == "":
        return "empty"
    spelt = "".join(c if c.isalnum() else _SPELL.get(c, "x") for c in text.strip("{}"))
    return spelt if len(spelt) <= 24 else f"{spelt[:12]}_len{len(text)}"


# Short and long names of the flags the base commands give, so that the flag under test
# replaces the base's value instead of repeating the flag.
SAME_FLAG = {"-b": "--min-bytes", "-e": "--max-bytes", "-n": "--iters", "-w": "--warmup",
             "-O": "--output", "--profile": "--profile", "--gpus": "--gpus"}


def without(base, flag):
    names = {flag, SAME_FLAG.get(flag, flag)}
    names |= {k for k, v in SAME_FLAG.items() if v == flag}
    out, skip = [], False
    for item in base:
        if skip:
            skip = False
            continue
        if item in names:
            skip = True
            continue
        out.append(item)
    return out


def flag_cases():
    out = []
    for cname, words, base, table, run_accepted in COMMANDS:
        for flag, kind, overrides, pattern in table:
            values = dict(KINDS[kind])
            values.update(overrides)
            for value, rc in values.items():
                if rc == 0 and not run_accepted:
                    continue  # accepted values run once, on the first command of the kind
                if flag == "--cuda-graph" and value == "0":
                    rc = 0
                name = f"flag_{cname}_{safe(flag)}_{safe(value)}"
                argv = list(words) + without(base, flag) + [flag, value]
                message = pattern
                if kind in ("input", "output") and value:
                    # The message names the flag or the file.
                    base_name = os.path.basename(value.replace("{fx:", "").strip("{}"))
                    message = f"{pattern}|{re.escape(base_name)}"
                case = Case(name=name, argv=argv, rc=rc,
                            message=(message if rc == 2 else ""), timeout=90)
                if kind == "output" and rc == 2:
                    case.checks.append(checks.stderr_lacks(r"^wrote ", "wrote a file"))
                out.append(case)
    return out


# --- input files x ways of being wrong ------------------------------------------------------

INPUT_VARIANTS = {
    "missing": ("{fx:missing.json}", r"missing\.json.*(?i:No such file|cannot open|not found)"),
    "folder": ("{fx:folder.json}", r"folder\.json.*(folder|directory)"),
    "empty": ("{fx:empty.json}", r"empty\.json.*(empty|not valid|not an hwloc)"),
    "blank": ("{fx:blank.json}", r"blank\.json.*(empty|not valid|not an hwloc)"),
    "truncated": ("{fx:truncated.json}",
                  r"truncated\.json.*(not valid|malformed|truncated|not an hwloc)"),
    "binary": ("{fx:binary.json}", r"binary\.json.*(not valid|not UTF-8|malformed|not an)"),
    "schema": ("{fx:other.json}", r"other\.json"),
    "array": ("{fx:array.json}", r"array\.json"),
    "nested": ("{fx:nested.json}", r"nested\.json"),
    "fifo": ("{fx:fifo.json}", r"fifo\.json.*(regular file|not a)"),
}

INPUTS = [
    # (name, argv with {IN} for the file, kind)
    ("fit", ["{cb}", "model", "fit", "{IN}"], "plain"),
    ("validate", ["{cb}", "model", "validate", "{IN}"], "plain"),
    ("predict_fabric", ["{cb}", "model", "predict", "--fabric", "{IN}", "-e", "1K"], "plain"),
    ("step_config", ["{cb}", "model", "step", "--config", "{IN}"], "plain"),
    ("step_fabric", ["{cb}", "model", "step", "--scale-to", "4", "--fabric", "{IN}"], "plain"),
    ("bench_selection", ["{cb}", "allreduce", "-a", "auto", "--selection", "{IN}"] + BENCH_BASE,
     "plain"),
    ("bench_topology_xml", ["{cb}", "allreduce", "--topology-xml", "{IN}"] + BENCH_BASE,
     "plain"),
    ("published_file", ["{cb}", "model", "validate", "--published", "{IN}"], "plain"),
    ("published_baseline", ["{cb}", "model", "validate", "--published", "--baseline", "{IN}"],
     "plain"),
    ("tune_selection", ["{cb}", "tune", "-O", "{dir}/t.json", "--selection", "{IN}"], "plain"),
    ("topo_xml", ["{cb}", "topo", "--xml", "{IN}"], "plain"),
    ("workload_config", ["{mpirun}", "-np", "2", "{cb}", "workload", "run", "{IN}"], "mpi"),
    ("workload_fabric", ["{mpirun}", "-np", "2", "{cb}", "workload", "run", "--fabric", "{IN}"],
     "mpi"),
    ("compare_base", [PY, "{scripts}/collbench-compare", "{IN}", "{fx:result.json}"], "script"),
    ("compare_cur", [PY, "{scripts}/collbench-compare", "{fx:result.json}", "{IN}"], "script"),
    ("plot", [PY, "{scripts}/collbench-plot", "{IN}", "-o", "{dir}/plots"], "script"),
    ("hwcompare", [PY, "{scripts}/collbench-hwcompare", "{IN}", "{fx:result.json}",
                   "--no-plot"], "script"),
]
# Under mpirun, every rank would read the file: only a subset of the variants (the others are
# the same code path as without mpirun).
MPI_VARIANTS = ("missing", "folder", "binary")


def input_cases():
    out = []
    for name, argv, kind in INPUTS:
        for variant, (path, pattern) in INPUT_VARIANTS.items():
            if kind == "mpi" and variant not in MPI_VARIANTS:
                continue
            if name.startswith("workload") and variant == "fifo":
                continue
            full = [path if a == "{IN}" else a for a in argv]
            out.append(Case(name=f"input_{name}_{variant}", argv=full, rc=2, message=pattern,
                            kind=kind, timeout=120 if kind == "mpi" else 60))
    # Files that parse but hold nonsense for what reads them.
    out += [
        Case("input_fit_all_wrong", ["{cb}", "model", "fit", "{fx:all_wrong.json}"],
             message=r"no record can be fitted \(\d+ records: wrong results\)"),
        Case("input_fit_fabric_as_result", ["{cb}", "model", "fit", "{fx:fabric.json}"],
             message=r"fabric\.json.*not a collbench result"),
        Case("input_predict_result_as_fabric", ["{cb}", "model", "predict", "--fabric",
                                                "{fx:result.json}"], message=r"result\.json"),
        Case("input_predict_bignum", ["{cb}", "model", "predict", "--fabric", "{fx:bignum.json}"],
             message=r"bignum\.json"),
        Case("input_predict_huge_bandwidth", ["{cb}", "model", "predict", "--fabric",
                                              "{fx:fabric_huge_bw.json}", "-e", "1K",
                                              "--gpus", "8"], rc=0,
             checks=[checks.stderr_lacks(r"--\d|-9,223,372", "an overflowed number printed")]),
        Case("input_compare_negative_times", [PY, "{scripts}/collbench-compare",
                                              "{fx:negative_times.json}", "{fx:result.json}"],
             kind="script", message=r"negative_times\.json.*negative"),
        Case("input_compare_zero_times", [PY, "{scripts}/collbench-compare",
                                          "{fx:result.json}", "{fx:zero_times.json}"],
             kind="script", message=r"zero_times\.json.*every sample is 0"),
        Case("input_plot_negative_times", [PY, "{scripts}/collbench-plot",
                                           "{fx:negative_times.json}", "-o", "{dir}/p"],
             kind="script", message=r"negative", checks=[checks.no_file("p")]),
        Case("input_plot_zero_times", [PY, "{scripts}/collbench-plot", "{fx:zero_times.json}",
                                       "-o", "{dir}/p"], kind="script", message=r"is 0"),
        Case("input_hwcompare_zero_times", [PY, "{scripts}/collbench-hwcompare",
                                            "{fx:zero_times.json}", "{fx:result.json}",
                                            "--no-plot"], kind="script", message=r"is 0"),
    ]
    # Every collective's result file is read by every script.
    for coll in ("alltoall", "reducescatter", "allgather"):
        out += [
            Case(f"input_compare_{coll}", [PY, "{scripts}/collbench-compare",
                                           f"{{fx:result_{coll}.json}}",
                                           f"{{fx:result_{coll}.json}}"], rc=0, kind="script"),
            Case(f"input_plot_{coll}", [PY, "{scripts}/collbench-plot",
                                        f"{{fx:result_{coll}.json}}", "-o", "{dir}/p"], rc=0,
                 kind="script"),
            Case(f"input_hwcompare_{coll}", [PY, "{scripts}/collbench-hwcompare",
                                             f"{{fx:result_{coll}.json}}", "{fx:result.json}",
                                             "--no-plot"], rc=(0, 2), kind="script"),
            Case(f"input_fit_{coll}", ["{cb}", "model", "fit", f"{{fx:result_{coll}.json}}"],
                 rc=2, message=r"no record can be fitted|one rank"),
        ]
    return out


# --- outputs x ways of being unwritable -----------------------------------------------------

OUTPUTS = [
    # (name, argv with {OUT} for the output, kind)
    ("bench_json", ["{cb}", "allreduce"] + BENCH_BASE + ["--json", "{OUT}"], "plain"),
    ("bench_csv", ["{cb}", "allreduce"] + BENCH_BASE + ["--csv", "{OUT}"], "plain"),
    ("tune_output", ["{cb}", "tune", "-e", "1K", "-O", "{OUT}"], "plain"),
    ("site_json", ["{cb}", "model", "site", "--json", "{OUT}"], "plain"),
    ("site_fabric", ["{cb}", "model", "site", "--fabric-out", "{OUT}"], "plain"),
    ("fit_output", ["{cb}", "model", "fit", "{fx:result.json}", "-o", "{OUT}"], "plain"),
    ("fit_json", ["{cb}", "model", "fit", "{fx:result.json}", "--json", "{OUT}"], "plain"),
    ("validate_json", ["{cb}", "model", "validate", "{fx:result.json}", "--json", "{OUT}"],
     "plain"),
    ("predict_json", ["{cb}", "model", "predict", "-e", "1K", "--json", "{OUT}"], "plain"),
    ("published_baseline_out", ["{cb}", "model", "validate", "--published", "--baseline-out",
                                "{OUT}"], "plain"),
    ("step_json", ["{cb}", "model", "step", "--json", "{OUT}"], "plain"),
    ("profiles_json", ["{cb}", "model", "profiles", "--json", "{OUT}"], "plain"),
    ("topo_json", ["{cb}", "topo", "--json", "{OUT}"], "plain"),
    ("compare_json", [PY, "{scripts}/collbench-compare", "{fx:result.json}", "{fx:result.json}",
                      "--json", "{OUT}"], "script"),
    ("compare_markdown", [PY, "{scripts}/collbench-compare", "{fx:result.json}",
                          "{fx:result.json}", "--markdown", "{OUT}"], "script"),
    ("hwcompare_json", [PY, "{scripts}/collbench-hwcompare", "{fx:result.json}",
                        "{fx:result.json}", "--no-plot", "--json", "{OUT}"], "script"),
]


def output_cases():
    out = []
    for name, argv, kind in OUTPUTS:
        def make(variant, path, rc, pattern, setup=None, extra=()):
            full = [path if a == "{OUT}" else a for a in argv]
            out.append(Case(name=f"output_{name}_{variant}", argv=full, rc=rc, message=pattern,
                            kind=kind, setup=setup, checks=list(extra)))
        make("readonly", "{dir}/ro.json", 2, r"ro\.json.*read-only", readonly_file("ro.json"),
             [checks.unchanged("ro.json", b'{"kept": true}\n')])
        make("folder", "{dir}/d", 2, r"\bd\b.*(directory|folder)", existing_folder("d"))
        make("no_folder", "{dir}/nope/x.json", 2, r"nope.*(does not exist|No such)")
        # collbench writes by rename, which would replace a device: refused. The scripts write
        # a device in place (--json /dev/null discards the report).
        make("device", "/dev/null", 2 if kind == "plain" else 0,
             r"/dev/null.*(regular file|not a)" if kind == "plain" else "", None,
             [lambda r, f, c: None if stat.S_ISCHR(os.stat("/dev/null").st_mode)
              else "/dev/null is no longer a device"])
        if kind == "plain":
            make("symlink", "{dir}/link.json", 0, "", symlink_to("link.json", "target.json"),
                 [lambda r, f, c: None if os.path.islink(os.path.join(f, "link.json")) and
                  open(os.path.join(f, "target.json")).read() != "old\n"
                  else "the link was replaced or its target not written"])
    # Two outputs of one command naming one file.
    out += [
        Case("output_json_csv_same", ["{cb}", "allreduce"] + BENCH_BASE +
             ["--json", "x.json", "--csv", "x.json"], message=r"--json and --csv name the same",
             checks=[checks.no_file("x.json")]),
        Case("output_json_csv_same_path_spelling", ["{cb}", "allreduce"] + BENCH_BASE +
             ["--json", "x.json", "--csv", "./sub/../x.json"], setup=existing_folder("sub"),
             message=r"name the same"),
        Case("output_fit_same", ["{cb}", "model", "fit", "{fx:result.json}", "-o", "f.json",
                                 "--json", "f.json"], message=r"name the same"),
        Case("output_site_same", ["{cb}", "model", "site", "--json", "f.json", "--fabric-out",
                                  "f.json"], message=r"name the same"),
        Case("output_tune_same", ["{cb}", "tune", "-O", "t.json", "--json", "t.json"],
             message=r"name the same"),
    ]
    return out


def all_cases(ctx):
    import command_cases  # imports this module's table helpers; loaded once they exist
    cases = (flag_cases() + input_cases() + output_cases() + command_cases.command_cases() +
             command_cases.script_flag_cases() + signals.cases(ctx))
    return cases
