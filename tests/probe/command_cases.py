"""Probe cases of the command line as a whole (subcommands, flag combinations, fault hooks,
model commands, scripts/run.sh) and of the scripts' flags; the tables of flags, inputs and
outputs are in cases.py."""

import re

from cases import BENCH_BASE, PY, Case, safe


# --- the command line as a whole ------------------------------------------------------------

def command_cases():
    c = []
    for word, near in (("allreduc", "allreduce"), ("alltoal", "alltoall"), ("tun", "tune"),
                       ("modle", "model"), ("reducescater", "reducescatter")):
        c.append(Case(f"subcommand_{word}", ["{cb}", word, "-e", "1K"],
                      message=rf"unknown subcommand '{word}'.*did you mean {near}\?"))
    c += [
        Case("subcommand_unknown_far", ["{cb}", "frobnicate"],
             message=r"unknown subcommand 'frobnicate'.*known: allreduce"),
        Case("subcommand_model_misspelt", ["{cb}", "model", "fitt", "x"],
             message=r"unknown subcommand 'fitt' of collbench model \(did you mean fit\?\)"),
        Case("subcommand_workload_misspelt", ["{cb}", "workload", "rn"],
             message=r"unknown subcommand 'rn'.*did you mean run\?"),
        Case("subcommand_none", ["{cb}"], rc=2, one_line=False, message=r"Usage|usage"),
        Case("subcommand_model_none", ["{cb}", "model"], message=r"subcommand"),
        Case("flag_unknown", ["{cb}", "allreduce", "--bogus"], message=r"--bogus"),
        Case("flag_step_factor_and_bytes", ["{cb}", "allreduce", "-f", "4", "-i", "64"],
             message=r"--step-bytes.*--step-factor|excludes"),
        Case("flag_list", ["{cb}", "--list"], rc=0, message=r"allreduce:"),
        Case("flag_version", ["{cb}", "--version"], rc=0, message=r"collbench"),
        Case("flag_help", ["{cb}", "allreduce", "--help"], rc=0, message=r"--min-bytes"),
        Case("flag_extra_positional", ["{cb}", "allreduce", "extra"], message=r"extra"),
        Case("flag_algo_other_backend", ["{cb}", "allreduce", "-a", "nccl"] + BENCH_BASE,
             message=r"needs --backend nccl"),
        Case("flag_algo_list_trailing_comma", ["{cb}", "allreduce", "-a", "ring,,", "-d",
                                               "f32,"] + BENCH_BASE, rc=0),
        Case("flag_sweep_too_long", ["{cb}", "allreduce", "-b", "1", "-e", "1G", "-f",
                                     "1.0000001"], message=r"more than \d+ sizes"),
        Case("flag_selection_without_auto", ["{cb}", "allreduce", "--selection",
                                             "{fx:selection.json}"] + BENCH_BASE,
             message=r"--selection.*only with --algo auto"),
        Case("flag_duplicate_json", ["{cb}", "allreduce", "--json", "a.json", "--json",
                                     "b.json"], message=r"--json"),
        Case("fault_rank_out_of_range", ["{cb}", "allreduce"] + BENCH_BASE,
             env={"COLLBENCH_FAULT": "stall:5:1K"}, message=r"COLLBENCH_FAULT.*rank 5"),
        Case("fault_rank_not_a_number", ["{cb}", "allreduce"] + BENCH_BASE,
             env={"COLLBENCH_FAULT": "kill:x:1K"}, message=r"COLLBENCH_FAULT.*rank 'x'"),
        Case("fault_size_beyond_sweep", ["{cb}", "allreduce"] + BENCH_BASE,
             env={"COLLBENCH_FAULT": "stall:0:1G"}, message=r"COLLBENCH_FAULT.*no size"),
        Case("fault_index_beyond_buffer", ["{cb}", "allreduce"] + BENCH_BASE,
             env={"COLLBENCH_FAULT": "corrupt:0:100000"}, message=r"COLLBENCH_FAULT.*element"),
        Case("fault_kind_unknown", ["{cb}", "allreduce"] + BENCH_BASE,
             env={"COLLBENCH_FAULT": "explode:0:1K"}, message=r"COLLBENCH_FAULT kind"),
        Case("fault_corrupt_is_wrong_results", ["{cb}", "allreduce", "-e", "2K", "-n", "2"],
             env={"COLLBENCH_FAULT": "corrupt:0:5"}, rc=1, message=r"wrong result"),
        Case("model_step_scale_above_full", ["{cb}", "model", "step", "--example",
                                             "llama3-405b", "--scale-to", "1000000000"],
             message=r"--scale-to 1000000000: above the full step"),
        Case("model_step_power_zero", ["{cb}", "model", "step", "--power-mw", "0"],
             message=r"--power-mw"),
        Case("model_site_switch_radix_negative", ["{cb}", "model", "site", "--switch-radix",
                                                  "-4"], message=r"--switch-radix.*-4"),
        Case("model_fit_gamma_negative", ["{cb}", "model", "fit", "{fx:result.json}",
                                          "--gamma-gbps", "-1"], message=r"--gamma-gbps"),
        Case("model_site_node_kw_tiny", ["{cb}", "model", "site", "--node-kw", "0.0001"],
             message=r"--node-kw 0.0001: below"),
    ]
    for ranks in ("0", "-1", "x", "1.5", "", "99999999"):
        c.append(Case(f"run_sh_ranks_{safe(ranks)}", ["bash", "{scripts}/run.sh", "--ranks",
                                                      ranks], kind="script",
                      message=r"run\.sh: error: --ranks"))
    c += [
        Case("run_sh_ranks_missing", ["bash", "{scripts}/run.sh", "--ranks"], kind="script",
             message=r"run\.sh: error: --ranks needs a value"),
        Case("run_sh_max_bytes_bad", ["bash", "{scripts}/run.sh", "--max-bytes", "12Q"],
             kind="script", message=r"run\.sh: error: --max-bytes"),
        Case("run_sh_out_is_file", ["bash", "{scripts}/run.sh", "--out", "{fx:result.json}"],
             kind="script", message=r"run\.sh: error: --out"),
        Case("run_sh_unknown", ["bash", "{scripts}/run.sh", "--rank", "4"], kind="script",
             message=r"run\.sh: error: unknown option"),
    ]
    return c


# --- script flags -------------------------------------------------------------------------

SCRIPT_FLAGS = [
    ("compare", ["{fx:result.json}", "{fx:result.json}"], [
        ("--threshold", {"": 2, "-1": 2, "nan": 2, "x": 2, "1e400": 2, "5": 0}),
        ("--small-threshold", {"-1": 2, "nan": 2, "x": 2}),
        ("--small-bytes", {"": 2, "-1": 2, "12Q": 2, "x": 2, "1K": 0}),
        ("--alpha", {"": 2, "0": 2, "1": 2, "nan": 2, "x": 2, "-0.5": 2, "0.1": 0}),
        ("--resamples", {"": 2, "0": 2, "-5": 2, "x": 2, "1.5": 2, "100000000000": 2,
                         "200": 0}),
        ("--seed", {"": 2, "x": 2, "-1": 2, "1.5": 2, "7": 0}),
        ("--collective", {"": 2, "nope": 2}),
        ("--algorithm", {"": 2, "nope": 2}),
    ]),
    ("plot", ["{fx:result.json}", "-o", "{dir}/p"], [
        ("--ranks", {"": 2, "0": 2, "-1": 2, "x": 2, "99": 2}),
        ("--placement", {"": 2, "x": 2}),
        ("--sizes", {"": 2, "x": 2, "-1": 2, "12Q": 2}),
        ("--formats", {"": 2, "x": 2, ",": 2, "png,,": 0}),
        ("--time-stat", {"": 2, "x": 2}),
        ("--collective", {"": 2, "nope": 2}),
        ("--prefix", {"a/../../b": 2, "x": 0}),
    ]),
    ("hwcompare", ["{fx:result.json}", "{fx:result.json}", "--no-plot"], [
        ("--baseline", {"": 2, "nope": 2}),
        ("--bw-stat", {"": 2, "x": 2}),
        ("--collective", {"": 2, "nope": 2}),
    ]),
]


def script_flag_cases():
    out = []
    for script, base, table in SCRIPT_FLAGS:
        for flag, values in table:
            for value, rc in values.items():
                argv = [PY, f"{{scripts}}/collbench-{script}"] + base + [flag, value]
                out.append(Case(f"script_{script}_{safe(flag)}_{safe(value)}", argv, rc=rc,
                                kind="script", message=(re.escape(flag) if rc == 2 else "")))
    return out
