#!/usr/bin/python3
"""The calibration record of published collective measurements: check and list, without a build.

  calib.py check [FILES]    every rule of README.md; exit 2 on the first bad case
  calib.py table [FILES]    the README's table of cases (Markdown)

FILES default to every *.json in the folder above this script except schema.json. Standard library
only (Debian's python3). The model against the record is `collbench model validate --published`,
whose loader (topology/model/calibration.cc) makes the same checks.
"""
import argparse
import glob
import hashlib
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDER = os.path.dirname(HERE)

ENUMS = {
    "regime": {"one_domain", "multi_domain", "multi_rack"},
    "collective": {"allreduce", "alltoall", "allgather", "reducescatter"},
    "algorithm": {"ring", "tree", "nvls", "nvls_tree", "collnet", "pat", "p2p", "deepep_normal",
                  "deepep_low_latency", "unknown"},
    "algorithm_basis": {"stated", "inferred"},
    "protocol": {"ll", "ll128", "simple", "unknown"},
    "metric": {"busbw", "bandwidth", "time"},
    "unit": {"GB/s", "us"},
    "placement": {"out", "in", "unknown"},
    "assessment": {"maintainer-confirmed", "vendor-published", "user-reported"},
    "role": {"train", "test"},
}
CASE_KEYS = {"id", "source", "system", "gpus", "regime", "collective", "algorithm", "algorithm_basis",
             "protocol", "bytes", "bytes_stated", "metric", "value", "unit", "placement", "assessment",
             "role", "sets_constant", "model", "notes"}
CASE_OPTIONAL = {"convention", "workload"}
SOURCE_KEYS = {"title", "url", "date", "kind", "quote"}
SYSTEM_KEYS = {"gpu", "gpu_model", "gpus_per_node", "gpus_per_domain", "domains", "nodes",
               "nics_per_node", "nic_gbps", "fabric", "in_switch_reduction",
               "network_in_switch_reduction", "software"}
GPUS = {"h100", "h200", "b200", "gb200", "gb300", "mi300x", "h800"}
MODEL_KEYS = {"profile", "gpus", "collective", "algorithm", "bytes", "compare"}
OVERRIDES = {"scaleup_gpus", "scaleup_gbps", "nic_gbps", "in_switch", "nvlink_fanout"}
# What the built-in profiles say (topology/profiles.cc): scale-up GPUs and NIC GB/s per GPU.
PROFILES = {"h100": (8, 50.0), "h200": (8, 50.0), "b200": (8, 50.0), "gb200": (72, 50.0),
            "mi300x": (8, 50.0)}
TEST_SHARE_MIN = 0.2


class Bad(Exception):
    pass


def role_rule(case):
    """The fixed train/test rule: hash of the run (source address without its #fragment, GPU count,
    collective); 3 in 10 runs are test cases. Every size of one run lands on the same side."""
    key = "%s|%d|%s" % (case["source"]["url"].split("#")[0], case["gpus"], case["collective"])
    h = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)
    return "test" if h % 10 < 3 else "train"


def regime_rule(system):
    if system["domains"] == 1:
        return "one_domain"
    return "multi_rack" if system["gpus_per_domain"] >= 36 else "multi_domain"


def default_files():
    return sorted(f for f in glob.glob(os.path.join(FOLDER, "*.json"))
                  if os.path.basename(f) != "schema.json")


def need(cond, where, msg):
    if not cond:
        raise Bad("%s: %s" % (where, msg))


def check_keys(obj, required, optional, where):
    need(isinstance(obj, dict), where, "must be an object")
    missing = sorted(required - obj.keys())
    need(not missing, where, "missing field(s) " + ", ".join(missing))
    extra = sorted(obj.keys() - required - optional)
    need(not extra, where, "unknown field(s) " + ", ".join(extra))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_case(c, where):
    check_keys(c, CASE_KEYS, CASE_OPTIONAL, where)
    w = where + " (" + str(c.get("id")) + ")"
    need(isinstance(c["id"], str) and c["id"].replace("-", "").isalnum() and c["id"] == c["id"].lower()
         and 3 <= len(c["id"]) <= 64, w, "id must be 3-64 characters of a-z, 0-9, '-'")
    for k, allowed in ENUMS.items():
        need(c[k] in allowed, w, "%s '%s' not one of %s" % (k, c[k], sorted(allowed)))
    s = c["source"]
    check_keys(s, SOURCE_KEYS, set(), w + ".source")
    need(isinstance(s["url"], str) and s["url"].startswith("https://"), w, "source.url must be https")
    need(s["kind"] in {"issue", "blog", "paper", "repo"}, w, "source.kind '%s'" % s["kind"])
    d = s["date"]
    need(isinstance(d, str) and len(d) in (7, 10) and d[4] == "-" and d[:4].isdigit()
         and d[5:7].isdigit() and 1 <= int(d[5:7]) <= 12, w, "source.date must be YYYY-MM[-DD]")
    need(isinstance(s["quote"], str) and s["quote"].strip(), w, "source.quote is empty")
    y = c["system"]
    check_keys(y, SYSTEM_KEYS, set(), w + ".system")
    need(y["gpu"] in GPUS, w, "system.gpu '%s' not one of %s" % (y["gpu"], sorted(GPUS)))
    for k in ("gpus_per_node", "gpus_per_domain", "domains", "nodes"):
        need(is_int(y[k]) and y[k] >= 1, w, "system.%s must be a positive integer" % k)
    need(is_int(y["nics_per_node"]) and y["nics_per_node"] >= 0, w, "system.nics_per_node")
    need(is_num(y["nic_gbps"]) and y["nic_gbps"] >= 0, w, "system.nic_gbps")
    need(is_int(c["gpus"]) and c["gpus"] >= 2, w, "gpus must be an integer >= 2")
    need(c["gpus"] == y["nodes"] * y["gpus_per_node"], w,
         "gpus %s != nodes %s x gpus_per_node %s" % (c["gpus"], y["nodes"], y["gpus_per_node"]))
    need(y["gpus_per_domain"] % y["gpus_per_node"] == 0, w,
         "gpus_per_domain %d is not a whole number of %d-GPU nodes" % (y["gpus_per_domain"],
                                                                        y["gpus_per_node"]))
    need(y["domains"] == -(-c["gpus"] // y["gpus_per_domain"]), w,
         "system.domains %d != ceil(gpus / gpus_per_domain)" % y["domains"])
    need(c["regime"] == regime_rule(y), w, "regime '%s' but the rule gives '%s'" % (c["regime"],
                                                                                   regime_rule(y)))
    if y["domains"] > 1:
        need(y["nics_per_node"] > 0 and y["nic_gbps"] > 0, w,
             "%d GPUs span %d scale-up domains but no NIC is stated: no fabric holds them"
             % (c["gpus"], y["domains"]))
    need(is_int(c["bytes"]) and c["bytes"] > 0, w, "bytes must be a positive integer")
    need(isinstance(c["bytes_stated"], bool), w, "bytes_stated must be true or false")
    need(is_num(c["value"]) and c["value"] > 0, w, "value must be a positive number")
    want_unit = "us" if c["metric"] == "time" else "GB/s"
    need(c["unit"] == want_unit, w, "unit '%s' for metric '%s' (expected '%s')" % (c["unit"], c["metric"],
                                                                                  want_unit))
    if c["metric"] == "bandwidth":
        need("convention" in c and "workload" in c, w,
             "metric 'bandwidth' needs 'convention' (how bytes are counted) and 'workload'")
    need(c["sets_constant"] is None or isinstance(c["sets_constant"], str), w, "sets_constant")
    need(c["role"] == role_rule(c), w, "role '%s' but the fixed rule gives '%s'" % (c["role"],
                                                                                    role_rule(c)))
    m = c["model"]
    check_keys(m, MODEL_KEYS, {"overrides"}, w + ".model")
    need(m["profile"] in PROFILES, w, "model.profile '%s' not one of %s" % (m["profile"],
                                                                            sorted(PROFILES)))
    need(m["gpus"] == c["gpus"], w, "model.gpus %s != gpus %s" % (m["gpus"], c["gpus"]))
    need(is_int(m["bytes"]) and m["bytes"] > 0, w, "model.bytes")
    need(m["compare"] in {"busbw", "algbw", "time"}, w, "model.compare '%s'" % m["compare"])
    need(m["compare"] == {"busbw": "busbw", "bandwidth": "algbw", "time": "time"}[c["metric"]], w,
         "model.compare '%s' does not fit metric '%s'" % (m["compare"], c["metric"]))
    ov = m.get("overrides", {})
    need(isinstance(ov, dict) and ov.keys() <= OVERRIDES, w, "model.overrides: unknown field")
    dom, nic = PROFILES[m["profile"]]
    need(ov.get("scaleup_gpus", dom) == y["gpus_per_domain"], w,
         "model scale-up domain %d GPUs but the system has %d (set model.overrides.scaleup_gpus)"
         % (ov.get("scaleup_gpus", dom), y["gpus_per_domain"]))
    if y["domains"] > 1:
        per_gpu = y["nics_per_node"] * y["nic_gbps"] / 8.0 / y["gpus_per_node"]
        need(abs(ov.get("nic_gbps", nic) - per_gpu) < 1e-6, w,
             "model NIC %.1f GB/s per GPU but the system has %.1f (set model.overrides.nic_gbps)"
             % (ov.get("nic_gbps", nic), per_gpu))


def load(files):
    cases = []
    for f in files:
        try:
            doc = json.load(open(f))
        except (OSError, ValueError) as e:
            raise Bad("%s: %s" % (f, e))
        need(isinstance(doc, dict) and doc.get("schema") == "collbench.published", f,
             "'schema' must be 'collbench.published'")
        need(doc.get("schema_version") == 1, f, "schema_version %r is not 1" % doc.get("schema_version"))
        need(isinstance(doc.get("cases"), list) and doc["cases"], f, "'cases' must be a non-empty list")
        for i, c in enumerate(doc["cases"]):
            check_case(c, "%s: cases[%d]" % (os.path.basename(f), i))
            cases.append(c)
    seen, runs = {}, {}
    for c in cases:
        need(c["id"] not in seen, c["id"], "duplicate id")
        seen[c["id"]] = c
        key = (c["source"]["url"].split("#")[0], c["gpus"], c["collective"], c["algorithm"],
               c["bytes"], c["metric"], c["placement"], c["model"]["algorithm"],
               json.dumps(c["model"].get("overrides", {}), sort_keys=True), c["value"])
        need(key not in runs, c["id"], "duplicate case: same measurement as " + str(runs.get(key)))
        runs[key] = c["id"]
    share = sum(c["role"] == "test" for c in cases) / len(cases)
    need(share >= TEST_SHARE_MIN, "record", "only %.0f%% of the cases are test cases (< 20%%)"
         % (100 * share))
    return cases


def human_bytes(b):
    for unit, k in (("G", 30), ("M", 20), ("K", 10)):
        if b >= 1 << k and b % (1 << k) == 0:
            return "%d %siB" % (b >> k, unit)
    if b >= 1 << 20:
        return "%.1f MB" % (b / 1e6)
    return "%d B" % b


def short_source(url):
    parts = url.split("#")[0].split("/")
    if len(parts) > 6 and parts[2] == "github.com" and parts[5] in ("issues", "pull"):
        return "%s/%s#%s" % (parts[3], parts[4], parts[6])
    if len(parts) > 4 and parts[2] == "github.com":
        return "%s/%s" % (parts[3], parts[4])
    return parts[2] if len(parts) > 2 else url


def cmd_table(cases):
    print("| id | system | GPUs | regime | collective | algorithm | size | published | role | source |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        y = c["system"]
        nic = ("%d x %gG" % (y["nics_per_node"], y["nic_gbps"])) if y["nics_per_node"] else "—"
        sysdesc = "%s, %d/node, domain %d, NIC %s" % (y["gpu"].upper(), y["gpus_per_node"],
                                                      y["gpus_per_domain"], nic)
        size = human_bytes(c["bytes"]) + ("" if c["bytes_stated"] else " (not stated)")
        metric = {"busbw": "busbw", "bandwidth": "bw*", "time": "time"}[c["metric"]]
        print("| %s | %s | %d | %s | %s | %s | %s | %s %g %s | %s | [%s](%s) |" % (
            c["id"], sysdesc, c["gpus"], c["regime"], c["collective"], c["algorithm"], size, metric,
            c["value"], c["unit"], c["role"], short_source(c["source"]["url"]), c["source"]["url"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("command", choices=["check", "table"])
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    try:
        cases = load(a.files or default_files())
        if a.command == "check":
            tests = sum(c["role"] == "test" for c in cases)
            beyond = sum(c["system"]["domains"] > 1 for c in cases)
            print("%d cases OK: %d beyond one scale-up domain, %d test / %d train"
                  % (len(cases), beyond, tests, len(cases) - tests))
        else:
            cmd_table(cases)
    except Bad as e:
        print("calib.py: " + str(e), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
