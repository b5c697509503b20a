#include "topology/model/workload.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "collectives/error.h"
#include "collectives/input_file.h"

namespace collbench::model {
namespace {

using nlohmann::json;

std::string prefix(const std::string& where) { return where.empty() ? "" : where + ": "; }

[[noreturn]] void bad(const std::string& where, const std::string& field, const std::string& why) {
  throw UsageError(prefix(where) + field + ": " + why);
}

double number(const json& o, const char* key, const std::string& where, const std::string& path,
              bool required, double fallback) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) {
    if (required) bad(where, path + key, "missing (a number is required)");
    return fallback;
  }
  if (!it->is_number()) bad(where, path + key, "must be a number, got " + it->dump());
  const double v = it->get<double>();
  if (!std::isfinite(v)) bad(where, path + key, "must be finite");
  return v;
}

std::int64_t integer(const json& o, const char* key, const std::string& where,
                     const std::string& path, bool required, std::int64_t fallback) {
  const double v = number(o, key, where, path, required, static_cast<double>(fallback));
  if (v != std::floor(v)) bad(where, path + key, "must be an integer");
  // Every count and degree of a training step fits in 31 bits; larger values are typos, and
  // would overflow the products of degrees.
  if (std::fabs(v) > 2147483647.0) bad(where, path + key, "must be at most 2147483647 in size");
  return static_cast<std::int64_t>(v);
}

std::string str(std::int64_t v) { return std::to_string(v); }

}  // namespace

std::string parallel_text(const Parallelism& p) {
  return "TP" + std::to_string(p.tp) + " x CP" + std::to_string(p.cp) + " x PP" +
         std::to_string(p.pp) + " x DP" + std::to_string(p.dp) +
         (p.ep > 1 ? " (EP" + std::to_string(p.ep) + ")" : std::string());
}

Collective step_collective(StepOp op) {
  switch (op) {
    case StepOp::kAllReduce:
    case StepOp::kSendRecv:
      return Collective::kAllReduce;
    case StepOp::kReduceScatter:
      return Collective::kReduceScatter;
    case StepOp::kAllGather:
      return Collective::kAllGather;
    case StepOp::kAllToAll:
      return Collective::kAllToAll;
  }
  return Collective::kAllReduce;
}

const char* step_op_name(StepOp op) {
  switch (op) {
    case StepOp::kAllReduce:
      return "all-reduce";
    case StepOp::kReduceScatter:
      return "reduce-scatter";
    case StepOp::kAllGather:
      return "all-gather";
    case StepOp::kAllToAll:
      return "all-to-all";
    case StepOp::kSendRecv:
      return "send/recv";
  }
  return "?";
}

Workload workload_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) bad(where, "workload", "must be a JSON object");
  Workload w;
  if (auto it = j.find("name"); it != j.end() && it->is_string()) w.name = it->get<std::string>();
  if (auto it = j.find("description"); it != j.end() && it->is_string())
    w.description = it->get<std::string>();
  if (auto it = j.find("source"); it != j.end() && it->is_string())
    w.source = it->get<std::string>();
  w.power_mw = number(j, "power_mw", where, "", false, 300);
  auto m = j.find("model");
  if (m == j.end() || !m->is_object()) bad(where, "model", "missing (an object is required)");
  const std::string mp = "model.";
  ModelShape& s = w.model;
  s.params = number(*m, "params", where, mp, true, 0);
  s.expert_params = number(*m, "expert_params", where, mp, false, 0);
  s.layers = static_cast<int>(integer(*m, "layers", where, mp, true, 0));
  s.hidden = static_cast<int>(integer(*m, "hidden", where, mp, true, 0));
  s.heads = static_cast<int>(integer(*m, "heads", where, mp, false, 0));
  s.kv_heads = static_cast<int>(integer(*m, "kv_heads", where, mp, false, 0));
  s.seq = static_cast<int>(integer(*m, "seq", where, mp, true, 0));
  s.micro_batch = static_cast<int>(integer(*m, "micro_batch", where, mp, false, 1));
  s.global_batch = integer(*m, "global_batch", where, mp, false, 0);
  s.microbatches = static_cast<int>(integer(*m, "microbatches", where, mp, false, 0));
  s.moe_layers = static_cast<int>(integer(*m, "moe_layers", where, mp, false, 0));
  s.experts = static_cast<int>(integer(*m, "experts", where, mp, false, 0));
  s.top_k = static_cast<int>(integer(*m, "top_k", where, mp, false, 0));
  s.grad_bytes = number(*m, "grad_bytes", where, mp, false, 2);
  s.act_bytes = number(*m, "act_bytes", where, mp, false, 2);
  s.dispatch_bytes = number(*m, "dispatch_bytes", where, mp, false, s.act_bytes);
  s.combine_bytes = number(*m, "combine_bytes", where, mp, false, s.act_bytes);
  auto p = j.find("parallel");
  if (p == j.end() || !p->is_object()) bad(where, "parallel", "missing (an object is required)");
  const std::string pp = "parallel.";
  Parallelism& par = w.parallel;
  par.tp = integer(*p, "tp", where, pp, false, 1);
  par.cp = integer(*p, "cp", where, pp, false, 1);
  par.pp = integer(*p, "pp", where, pp, false, 1);
  par.ep = integer(*p, "ep", where, pp, false, 1);
  par.zero = static_cast<int>(integer(*p, "zero", where, pp, false, 0));
  par.gpus = integer(*p, "gpus", where, pp, false, 0);
  auto dp = p->find("dp");
  if (dp != p->end() && dp->is_string()) {
    if (*dp != "fill") bad(where, pp + "dp", "must be an integer or \"fill\", got " + dp->dump());
    par.dp_fill = true;
    par.dp = 1;
  } else {
    par.dp = integer(*p, "dp", where, pp, true, 1);
  }
  // Field checks, before any site is known; the message names the file (or the origin).
  try {
    resolve_workload(w, par.dp_fill ? 1 << 20 : 0);
  } catch (const UsageError& e) {
    throw UsageError(prefix(where) + e.what());
  }
  return w;
}

json workload_to_json(const Workload& w) {
  json j;
  j["name"] = w.name;
  if (!w.description.empty()) j["description"] = w.description;
  if (!w.source.empty()) j["source"] = w.source;
  j["power_mw"] = w.power_mw;
  const ModelShape& s = w.model;
  json m;
  m["params"] = s.params;
  if (s.expert_params > 0) m["expert_params"] = s.expert_params;
  m["layers"] = s.layers;
  m["hidden"] = s.hidden;
  if (s.heads > 0) m["heads"] = s.heads;
  if (s.kv_heads > 0) m["kv_heads"] = s.kv_heads;
  m["seq"] = s.seq;
  m["micro_batch"] = s.micro_batch;
  if (s.global_batch > 0) m["global_batch"] = s.global_batch;
  if (s.microbatches > 0) m["microbatches"] = s.microbatches;
  // The MoE fields whenever any is set (a file may give experts without MoE layers; what is
  // written must read back as what was read).
  if (s.moe_layers > 0 || s.experts > 0 || s.top_k > 0) {
    m["moe_layers"] = s.moe_layers;
    m["experts"] = s.experts;
    m["top_k"] = s.top_k;
  }
  if (s.moe_layers > 0 || s.dispatch_bytes != s.act_bytes || s.combine_bytes != s.act_bytes) {
    m["dispatch_bytes"] = s.dispatch_bytes;
    m["combine_bytes"] = s.combine_bytes;
  }
  m["grad_bytes"] = s.grad_bytes;
  m["act_bytes"] = s.act_bytes;
  j["model"] = m;
  const Parallelism& p = w.parallel;
  json pj;
  pj["tp"] = p.tp;
  pj["cp"] = p.cp;
  pj["pp"] = p.pp;
  if (p.dp_fill) {
    pj["dp"] = "fill";
  } else {
    pj["dp"] = p.dp;
  }
  pj["ep"] = p.ep;
  pj["zero"] = p.zero;
  if (p.gpus > 0) pj["gpus"] = p.gpus;
  j["parallel"] = pj;
  return j;
}

Workload load_workload(const std::string& path) {
  return workload_from_json(read_input_json(path, "workload file"), path);
}

std::vector<std::string> builtin_workload_names() {
  return {"llama3-405b", "deepseek-v3", "frontier-300mw"};
}

Workload builtin_workload(const std::string& name) {
  Workload w;
  w.name = name;
  if (name == "llama3-405b") {
    w.description = "dense 405B like Llama 3: 16,384 H100, TP8 x PP16 x DP128, 16M-token batch";
    w.source =
        "Llama 3 paper, Table 3 and section 3.3 (docs/sources.md §5): shape h=16384, s=8192; 126 "
        "layers, "
        "128 heads, 8 KV heads; 16M tokens per step = 2048 sequences";
    w.model.params = 405e9;
    w.model.layers = 126;
    w.model.hidden = 16384;
    w.model.heads = 128;
    w.model.kv_heads = 8;
    w.model.seq = 8192;
    w.model.micro_batch = 1;
    w.model.global_batch = 2048;
    w.parallel = {8, 1, 16, 128, 1, 1, 16384, false};
  } else if (name == "deepseek-v3") {
    w.description =
        "MoE like DeepSeek-V3: 671B (37B active), 256 experts top-8, 2,048 GPUs, "
        "PP16 x DP128 with EP64";
    w.source =
        "DeepSeek-V3 technical report (docs/sources.md §5): hidden 7168, 58 MoE layers of "
        "61, FP8 dispatch / BF16 combine; expert params = 256 x 58 x 3 x 7168 x 2048";
    w.model.params = 671e9;
    w.model.expert_params = 256.0 * 58 * 3 * 7168 * 2048;
    w.model.layers = 61;
    w.model.hidden = 7168;
    w.model.heads = 128;
    w.model.kv_heads = 128;
    w.model.seq = 4096;
    w.model.micro_batch = 1;
    w.model.global_batch = 15360;
    w.model.moe_layers = 58;
    w.model.experts = 256;
    w.model.top_k = 8;
    w.model.dispatch_bytes = 1;
    w.model.combine_bytes = 2;
    w.parallel = {1, 1, 16, 128, 64, 1, 2048, false};
  } else if (name == "frontier-300mw") {
    w.description =
        "dense 1T-parameter model filling a 300 MW site: TP8 x PP16 x DP fill, 16 "
        "micro-batches per step";
    w.source =
        "illustrative: 128 layers x hidden 25600 (12 L h^2 = 1.0e12 parameters); the DP "
        "degree is what the site holds";
    w.model.params = 12.0 * 128 * 25600.0 * 25600.0;
    w.model.layers = 128;
    w.model.hidden = 25600;
    w.model.heads = 160;
    w.model.kv_heads = 16;
    w.model.seq = 8192;
    w.model.micro_batch = 1;
    w.model.microbatches = 16;
    w.parallel = {8, 1, 16, 1, 1, 1, 0, true};
  } else {
    std::string names;
    for (const auto& n : builtin_workload_names()) names += (names.empty() ? "" : ", ") + n;
    throw UsageError("unknown workload example '" + name + "' (known: " + names + ")");
  }
  return w;
}

Workload resolve_workload(const Workload& in, std::int64_t fill_gpus) {
  Workload w = in;
  const ModelShape& s = w.model;
  Parallelism& p = w.parallel;
  const std::string where = w.name.empty() ? std::string() : "workload '" + w.name + "'";
  if (!(s.params > 0)) bad(where, "model.params", "must be > 0");
  if (s.expert_params < 0 || s.expert_params >= s.params)
    bad(where, "model.expert_params", "must be >= 0 and below model.params");
  if (s.layers < 1) bad(where, "model.layers", "must be >= 1");
  if (s.hidden < 1) bad(where, "model.hidden", "must be >= 1");
  if (s.seq < 1) bad(where, "model.seq", "must be >= 1");
  if (s.micro_batch < 1) bad(where, "model.micro_batch", "must be >= 1");
  if (s.heads < 0) bad(where, "model.heads", "must be >= 0");
  if (s.kv_heads < 0 || (s.heads > 0 && s.kv_heads > s.heads))
    bad(where, "model.kv_heads", "must be between 0 and model.heads");
  if (s.grad_bytes <= 0) bad(where, "model.grad_bytes", "must be > 0");
  if (s.act_bytes <= 0) bad(where, "model.act_bytes", "must be > 0");
  if (s.dispatch_bytes <= 0) bad(where, "model.dispatch_bytes", "must be > 0");
  if (s.combine_bytes <= 0) bad(where, "model.combine_bytes", "must be > 0");
  if (s.moe_layers < 0 || s.moe_layers > s.layers)
    bad(where, "model.moe_layers", "must be between 0 and model.layers (" + str(s.layers) + ")");
  if (s.moe_layers > 0 && (s.experts < 1 || s.top_k < 1))
    bad(where, s.experts < 1 ? "model.experts" : "model.top_k",
        "must be >= 1 when model.moe_layers > 0");
  if (s.top_k > s.experts) bad(where, "model.top_k", "must be <= model.experts");
  for (auto [name, v] : {std::pair<const char*, std::int64_t>{"tp", p.tp},
                         {"cp", p.cp},
                         {"pp", p.pp},
                         {"ep", p.ep}}) {
    if (v < 1) bad(where, std::string("parallel.") + name, "must be >= 1");
  }
  if (!p.dp_fill && p.dp < 1) bad(where, "parallel.dp", "must be >= 1 or \"fill\"");
  if (p.zero < 0 || p.zero > 3) bad(where, "parallel.zero", "must be 0, 1, 2 or 3");
  if (s.heads > 0 && s.heads % p.tp != 0)
    bad(where, "parallel.tp", str(p.tp) + " must divide model.heads (" + str(s.heads) + ")");
  if (s.seq % p.cp != 0)
    bad(where, "parallel.cp", str(p.cp) + " must divide model.seq (" + str(s.seq) + ")");
  if (p.pp > s.layers)
    bad(where, "parallel.pp", str(p.pp) + " must be <= model.layers (" + str(s.layers) + ")");
  if (p.ep > 1 && s.experts < 1)
    bad(where, "parallel.ep", "is " + str(p.ep) + " but the model has no experts (model.experts)");
  if (p.ep > 1 && s.experts % p.ep != 0)
    bad(where, "parallel.ep", str(p.ep) + " must divide model.experts (" + str(s.experts) + ")");
  if (static_cast<double>(p.tp) * static_cast<double>(p.cp) * static_cast<double>(p.pp) *
          static_cast<double>(p.dp_fill ? 1 : p.dp) >
      static_cast<double>(std::int64_t{1} << 40))
    bad(where, "parallel", "tp*cp*pp*dp is more than 2^40 GPUs");
  const std::int64_t replica = p.tp * p.cp * p.pp;
  if (p.dp_fill) {
    if (fill_gpus <= 0) bad(where, "parallel.dp", "\"fill\" needs a site size");
    p.dp = fill_gpus / replica;
    if (p.ep > 1) p.dp = (p.dp / p.ep) * p.ep;
    if (p.dp < 1)
      bad(where, "parallel.dp",
          "the site holds " + str(fill_gpus) + " GPUs, fewer than one model replica (tp*cp*pp = " +
              str(replica) + (p.ep > 1 ? " x ep " + str(p.ep) : std::string()) + ")");
  }
  if (p.ep > 1 && p.dp % p.ep != 0)
    bad(where, "parallel.ep", str(p.ep) + " must divide parallel.dp (" + str(p.dp) + ")");
  const std::int64_t product = replica * p.dp;
  if (p.gpus > 0 && !p.dp_fill && p.gpus != product)
    bad(where, "parallel",
        "tp*cp*pp*dp = " + str(p.tp) + "*" + str(p.cp) + "*" + str(p.pp) + "*" + str(p.dp) + " = " +
            str(product) + " but parallel.gpus = " + str(p.gpus));
  p.gpus = product;
  if (s.global_batch > 0) {
    const std::int64_t per = p.dp * s.micro_batch;
    if (p.dp_fill) {
      bad(where, "model.global_batch",
          "a fixed global batch cannot follow \"dp\": \"fill\"; give model.microbatches instead");
    }
    if (s.global_batch % per != 0)
      bad(where, "model.global_batch",
          str(s.global_batch) + " sequences is not a multiple of dp*micro_batch (" + str(per) +
              ")");
    w.model.microbatches = static_cast<int>(s.global_batch / per);
  } else if (s.microbatches < 1) {
    bad(where, "model.microbatches", "must be >= 1 (or give model.global_batch)");
  }
  if (!(w.power_mw > 0)) bad(where, "power_mw", "must be > 0");
  if (!(w.power_mw <= 1e6)) bad(where, "power_mw", "must be at most 1000000 (MW, 1 TW)");
  return w;
}

std::vector<StepCollective> step_collectives(const Workload& w) {
  const ModelShape& s = w.model;
  const Parallelism& p = w.parallel;
  std::vector<StepCollective> out;
  const double mb = s.microbatches;
  const double layers_stage = std::ceil(static_cast<double>(s.layers) / p.pp);
  const double moe_stage = std::ceil(static_cast<double>(s.moe_layers) / p.pp);
  const double seq_rank = static_cast<double>(s.seq) / p.cp;
  const double dense = s.params - s.expert_params;
  const auto add = [&](std::string what, StepOp op, std::string group, std::int64_t size,
                       std::int64_t stride, double bytes, double count) {
    if (size <= 1 && op != StepOp::kSendRecv) return;
    out.push_back({std::move(what), op, std::move(group), size, stride, bytes, count});
  };

  // Data parallel: gradients of this rank's shard of the dense weights.
  const std::int64_t dp_group = p.dp * p.cp;
  const double dp_bytes = s.grad_bytes * dense / static_cast<double>(p.tp * p.pp);
  if (p.zero == 0) {
    add("DP gradients", StepOp::kAllReduce, "DP", dp_group, p.tp, dp_bytes, 1);
  } else {
    add("DP gradients (ZeRO)", StepOp::kReduceScatter, "DP", dp_group, p.tp, dp_bytes, 1);
    add("DP weights (ZeRO)", StepOp::kAllGather, "DP", dp_group, p.tp, dp_bytes,
        p.zero == 3 ? 2 : 1);
  }
  // Expert weights: each expert shard has dp*cp/ep replicas, ep*tp ranks apart.
  if (s.expert_params > 0) {
    const std::int64_t replicas = dp_group / p.ep;
    const double eb = s.grad_bytes * s.expert_params / static_cast<double>(p.ep * p.pp * p.tp);
    if (p.zero == 0) {
      add("expert gradients", StepOp::kAllReduce, "DP/EP", replicas, p.tp * p.ep, eb, 1);
    } else {
      add("expert gradients (ZeRO)", StepOp::kReduceScatter, "DP/EP", replicas, p.tp * p.ep, eb, 1);
      add("expert weights (ZeRO)", StepOp::kAllGather, "DP/EP", replicas, p.tp * p.ep, eb,
          p.zero == 3 ? 2 : 1);
    }
  }
  // Tensor parallel: 2 all-reduces forward, 2 backward per layer and micro-batch.
  const double act = s.micro_batch * seq_rank * s.hidden * s.act_bytes;
  add("TP activations", StepOp::kAllReduce, "TP", p.tp, 1, act, 4 * layers_stage * mb);
  // Context parallel: K and V gathered forward, their gradients reduce-scattered backward.
  if (p.cp > 1) {
    const double kv_ratio =
        s.heads > 0 && s.kv_heads > 0 ? static_cast<double>(s.kv_heads) / s.heads : 1.0;
    const double kv = 2.0 * s.micro_batch * s.seq * s.hidden * kv_ratio * s.act_bytes / p.tp;
    add("CP keys/values", StepOp::kAllGather, "CP", p.cp, p.tp, kv, layers_stage * mb);
    add("CP key/value gradients", StepOp::kReduceScatter, "CP", p.cp, p.tp, kv, layers_stage * mb);
  }
  // Pipeline: one activation forward and one gradient backward per micro-batch.
  if (p.pp > 1)
    add("PP activations", StepOp::kSendRecv, "PP", 2, p.tp * p.cp * p.dp, act / p.tp, 2 * mb);
  // Expert parallel: dispatch and combine, forward and backward.
  if (p.ep > 1 && moe_stage > 0) {
    const double tokens = s.micro_batch * seq_rank / p.tp;
    add("EP dispatch", StepOp::kAllToAll, "EP", p.ep, p.tp,
        tokens * s.top_k * s.hidden * s.dispatch_bytes, 2 * moe_stage * mb);
    add("EP combine", StepOp::kAllToAll, "EP", p.ep, p.tp,
        tokens * s.top_k * s.hidden * s.combine_bytes, 2 * moe_stage * mb);
  }
  return out;
}

StepTiming time_step(const Workload& w, const ModelNet& net) {
  return time_collectives(step_collectives(w), net);
}

namespace {
std::int64_t largest_divisor_upto(std::int64_t n, std::int64_t cap) {
  for (std::int64_t d = std::min(n, cap); d > 1; --d)
    if (n % d == 0) return d;
  return 1;
}
}  // namespace

Workload scaled_parallelism(const Workload& resolved, std::int64_t ranks) {
  if (ranks < 1) throw UsageError("--scale-to " + str(ranks) + ": must be >= 1");
  Workload w = resolved;
  Parallelism& p = w.parallel;
  std::int64_t left = ranks;
  p.tp = largest_divisor_upto(left, p.tp);
  left /= p.tp;
  p.cp = largest_divisor_upto(left, p.cp);
  left /= p.cp;
  p.dp = largest_divisor_upto(left, p.dp);
  left /= p.dp;
  p.pp = largest_divisor_upto(left, p.pp);
  p.ep = largest_divisor_upto(p.dp, p.ep);
  p.gpus = p.tp * p.cp * p.dp * p.pp;
  p.dp_fill = false;
  return w;
}

std::vector<StepCollective> scaled_step(const Workload& resolved, std::int64_t ranks) {
  const std::vector<StepCollective> full = step_collectives(resolved);
  const std::vector<StepCollective> small = step_collectives(scaled_parallelism(resolved, ranks));
  std::vector<StepCollective> out;
  for (const StepCollective& f : full) {
    for (const StepCollective& s : small) {
      if (s.what != f.what) continue;
      StepCollective c = f;  // the full step's sizes and counts
      c.group_size = s.group_size;
      c.stride = s.stride;
      out.push_back(c);
    }
  }
  return out;
}

StepTiming time_collectives(const std::vector<StepCollective>& collectives, const ModelNet& net) {
  StepTiming t;
  for (const StepCollective& c : collectives) {
    StepCost sc;
    sc.c = c;
    if (c.op == StepOp::kSendRecv) {
      sc.algorithm = "p2p";
      sc.time_each_s = predict_p2p(net, c.stride, c.bytes);
    } else {
      const ModelNet g = strided_net(net, c.stride);
      const BestChoice b = best_algorithm(g, step_collective(c.op), c.bytes, c.group_size);
      sc.algorithm = std::string(model_algorithm(b.algo).name);
      sc.time_each_s = b.time_s;
    }
    sc.time_step_s = sc.time_each_s * c.count;
    t.total_s += sc.time_step_s;
    t.items.push_back(std::move(sc));
  }
  return t;
}

}  // namespace collbench::model
