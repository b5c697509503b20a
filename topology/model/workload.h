// One training step as collectives: a model shape and its parallelism (TP, CP, PP, DP, EP, ZeRO)
// → which collectives run, how large, over which group, how many times per step → their time on
// a fabric (the best modelled algorithm for each, the group placed as the rank order puts it).
//
// Rank order (Megatron's default): TP fastest, then CP, then DP, then PP. So a TP group is
// consecutive ranks, a CP group strides by TP, a DP group strides by TP·CP, pipeline neighbours
// are TP·CP·DP apart, and an EP group is EP consecutive members of the DP dimension.
//
// Per step, per GPU (docs/model.md §6; shapes and sizes in docs/sources.md §5):
//   DP   all-reduce of grad_bytes · P_dense / (TP·PP) over DP·CP (ZeRO-1/2: reduce-scatter +
//        all-gather of the same size; ZeRO-3: reduce-scatter + 2 all-gathers); expert weights
//        over DP·CP·TP / EP replicas.
//   TP   4 all-reduces per layer and micro-batch of b · s/CP · h · act_bytes (2 forward, 2 back).
//   CP   per layer and micro-batch an all-gather of K and V forward, a reduce-scatter backward.
//   PP   per micro-batch one activation send forward and one gradient send backward.
//   EP   per MoE layer and micro-batch dispatch + combine all-to-all forward and again backward:
//        tokens · top-k · h · (dispatch | combine) bytes, tokens = b · s / (CP · TP).
// Reduce-scatter and all-gather of a buffer of n bytes cost half the best all-reduce of n (every
// modelled all-reduce of large buffers is a reduce-scatter followed by an all-gather).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "topology/model/cost_model.h"
#include "topology/model/fabric.h"

namespace collbench::model {

struct ModelShape {
  double params = 0;         // total parameters
  double expert_params = 0;  // of which in routed experts (sharded by EP)
  int layers = 0;
  int hidden = 0;
  int heads = 0;
  int kv_heads = 0;               // 0: same as heads
  int seq = 0;                    // tokens per sequence
  int micro_batch = 1;            // sequences per micro-batch
  std::int64_t global_batch = 0;  // sequences per step (0: use microbatches)
  int microbatches = 0;           // per pipeline per step, when global_batch is 0
  int moe_layers = 0;
  int experts = 0;
  int top_k = 0;
  double grad_bytes = 2;      // bytes per gradient element (bf16)
  double act_bytes = 2;       // bytes per activation element
  double dispatch_bytes = 2;  // bytes per element sent to experts (FP8: 1)
  double combine_bytes = 2;   // bytes per element returned by experts
};

struct Parallelism {
  std::int64_t tp = 1, cp = 1, pp = 1, dp = 1, ep = 1;
  int zero = 0;           // 0: all-reduce, 1-2: reduce-scatter + all-gather, 3: FSDP
  std::int64_t gpus = 0;  // 0: tp·cp·pp·dp; otherwise must equal it
  bool dp_fill = false;   // DP grows to fill the site ("dp": "fill")
};

struct Workload {
  std::string name;
  std::string description;
  ModelShape model;
  Parallelism parallel;
  double power_mw = 300;  // site size for "dp": "fill" and the DP scaling table
  std::string source;     // where the shape comes from
};

// JSON form: {"name", "description", "model": {...}, "parallel": {...}, "power_mw"}.
// Throws UsageError naming the field ("parallel.tp: must be >= 1").
Workload workload_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json workload_to_json(const Workload& w);
Workload load_workload(const std::string& path);

// Built-in examples: "llama3-405b", "deepseek-v3", "frontier-300mw".
std::vector<std::string> builtin_workload_names();
Workload builtin_workload(const std::string& name);

// Throws UsageError naming the field when the configuration is inconsistent (degrees that do not
// multiply to the GPU count, EP that does not divide the experts, ...). `fill_gpus` > 0 resolves
// "dp": "fill" (DP = fill_gpus / (TP·CP·PP)).
Workload resolve_workload(const Workload& w, std::int64_t fill_gpus = 0);

enum class StepOp { kAllReduce, kReduceScatter, kAllGather, kAllToAll, kSendRecv };
const char* step_op_name(StepOp op);
// "TP8 x CP1 x PP16 x DP128 (EP8)".
std::string parallel_text(const Parallelism& p);

// The collective a step operation is (kSendRecv is none: kAllReduce, never used for it).
Collective step_collective(StepOp op);

struct StepCollective {
  std::string what;  // "DP gradients", "TP activations", ...
  StepOp op = StepOp::kAllReduce;
  std::string group;  // "DP", "TP", ...
  std::int64_t group_size = 1;
  std::int64_t stride = 1;  // ranks between consecutive members (send: distance)
  double bytes = 0;         // per GPU per call (all-reduce / RS / AG: the full buffer)
  double count = 0;         // calls per step
};

// The collectives of one step of a resolved workload.
std::vector<StepCollective> step_collectives(const Workload& w);

struct StepCost {
  StepCollective c;
  std::string algorithm;  // best modelled algorithm
  double time_each_s = 0;
  double time_step_s = 0;  // time_each · count
};

struct StepTiming {
  std::vector<StepCost> items;
  double total_s = 0;  // sum, as if nothing overlapped
};

StepTiming time_step(const Workload& resolved, const ModelNet& net);
StepTiming time_collectives(const std::vector<StepCollective>& collectives, const ModelNet& net);

// The step scaled down to `ranks` ranks, for measuring it where only a few exist: each degree
// becomes the largest divisor of the ranks left that does not exceed it (in rank order TP, CP,
// DP, PP; EP divides the new DP), group shapes follow, and the message sizes and counts stay those
// of the full step. Collectives whose group shrinks to one rank are left out.
Workload scaled_parallelism(const Workload& resolved, std::int64_t ranks);
std::vector<StepCollective> scaled_step(const Workload& resolved, std::int64_t ranks);

}  // namespace collbench::model
