// The host-side pieces of the NCCL backend, which run on any machine (label `unit`): --gpu-map
// parsing, the GPU choice per node-local rank, the backend flag checks, and (built with NCCL)
// the dtype/op mapping to NCCL's types, version strings and what the metadata says without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/backend_select.h"
#include "bench/cli.h"
#include "collectives/error.h"
#include "collectives/nccl/gpu_map.h"
#include "collectives/nccl/nccl_backend.h"
#include "collectives/registry.h"

#if COLLBENCH_HAVE_NCCL
#include <nccl.h>

#include "collectives/nccl/native_nccl.h"
#include "collectives/nccl/nccl_api.h"
#endif

namespace collbench::bench {
namespace {

using collectives::choose_gpu;
using collectives::Collective;
using collectives::kBuiltWithoutNccl;
using collectives::nccl_backend_built;
using collectives::parse_gpu_map;
using collectives::shares_gpu_with;
#if COLLBENCH_HAVE_NCCL
using collectives::gpu_library_versions;
using collectives::gpu_visibility_problem;
using collectives::local_gpu_info;
#endif

TEST(GpuMap, ParsesListsAndRanges) {
  EXPECT_EQ(parse_gpu_map(""), std::vector<int>{});
  EXPECT_EQ(parse_gpu_map("3"), std::vector<int>{3});
  EXPECT_EQ(parse_gpu_map("0,1,2,3"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(parse_gpu_map("0-3"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(parse_gpu_map("4-7,0-3"), (std::vector<int>{4, 5, 6, 7, 0, 1, 2, 3}));
  EXPECT_EQ(parse_gpu_map(" 1, 0 "), (std::vector<int>{1, 0}));
  EXPECT_EQ(parse_gpu_map("2-2"), std::vector<int>{2});
}

TEST(GpuMap, RejectsMalformedInput) {
  for (const char* bad : {",", "0,", ",1", "0,,1", "a", "1-", "-1", "3-1", "0-1-2", "1.5", "x,0",
                          "99999", "0,1,0", "0-3,2"}) {
    try {
      parse_gpu_map(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("--gpu-map"), std::string::npos) << e.what();
    }
  }
}

TEST(GpuMap, RepeatedGpuNamesBothRanksAndTheFix) {
  try {
    parse_gpu_map("0,1,0");
    ADD_FAILURE() << "accepted a repeated GPU";
  } catch (const UsageError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("GPU 0 is listed for node-local ranks 0 and 2"), std::string::npos) << m;
    EXPECT_NE(m.find("--gpus-per-task=1"), std::string::npos) << m;
  }
}

TEST(GpuMap, ChoosesByLocalRankOrMap) {
  EXPECT_EQ(choose_gpu(0, 8, {}), 0);
  EXPECT_EQ(choose_gpu(7, 8, {}), 7);
  // One GPU visible per process (Slurm --gpus-per-task=1): every local rank takes its GPU 0.
  EXPECT_EQ(choose_gpu(5, 1, {}), 0);
  EXPECT_EQ(choose_gpu(1, 8, {4, 5, 6}), 5);
  EXPECT_EQ(choose_gpu(0, 2, {1}), 1);
}

TEST(GpuMap, SaysWhatToChange) {
  auto message = [](int local, int visible, std::vector<int> map) {
    try {
      choose_gpu(local, visible, map);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(8, 8, {}).find("start at most 8 ranks per node, give --gpu-map, or let the "
                                   "scheduler give each rank one GPU (Slurm --gpus-per-task=1)"),
            std::string::npos);
  EXPECT_NE(message(2, 8, {0, 1}).find("--gpu-map lists 2 GPU(s) but node-local rank 2"),
            std::string::npos);
  EXPECT_NE(message(0, 2, {5}).find("GPU 5 but only 2 GPU(s) are visible"), std::string::npos);
  EXPECT_NE(message(1, 1, {0, 3}).find("list only visible GPUs in --gpu-map, or leave it out"),
            std::string::npos);
  EXPECT_NE(message(0, 0, {}).find("no GPU"), std::string::npos);
}

TEST(GpuMap, TwoRanksOnOneGpuAreFound) {
  const std::vector<std::string> ids = {"0000:1B:00.0", "0000:43:00.0", "0000:1B:00.0", "", ""};
  EXPECT_EQ(shares_gpu_with(ids, 0), 2);
  EXPECT_EQ(shares_gpu_with(ids, 2), 0);
  EXPECT_EQ(shares_gpu_with(ids, 1), std::nullopt);
  EXPECT_EQ(shares_gpu_with(ids, 3), std::nullopt);  // no GPU is not a shared GPU
  EXPECT_EQ(shares_gpu_with(ids, 7), std::nullopt);
  EXPECT_EQ(shares_gpu_with({"a", "b", "c"}, 2), std::nullopt);
}

std::string usage_error(const Options& o) {
  try {
    validate_backend_options(o);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(BackendOptions, ChecksTheFlags) {
  Options o;
  EXPECT_EQ(usage_error(o), "");
  o.backend = "cuda";
  EXPECT_NE(usage_error(o).find("unknown --backend 'cuda' (use mpi or nccl)"), std::string::npos);
  o.backend = "mpi";
  o.cuda_graph = 2;
  EXPECT_NE(usage_error(o).find("--cuda-graph needs --backend nccl"), std::string::npos);
  o.cuda_graph = 0;
  o.gpu_map = "0,1";
  EXPECT_NE(usage_error(o).find("--gpu-map needs --backend nccl"), std::string::npos);
  o.backend = "nccl";
  o.gpu_map = "0,,1";
  o.cuda_graph = -1;
  EXPECT_NE(usage_error(o).find("--cuda-graph cannot be negative"), std::string::npos);
  o.cuda_graph = 3;
  if (nccl_backend_built()) {
    EXPECT_NE(usage_error(o).find("invalid --gpu-map"), std::string::npos);
    o.gpu_map = "0-3";
    EXPECT_EQ(usage_error(o), "");  // whether a GPU is visible is checked later, under MPI
  } else {
    EXPECT_EQ(usage_error(o), kBuiltWithoutNccl);
  }
}

TEST(BackendOptions, DefaultAlgorithmFollowsTheBackend) {
  for (Collective c : {Collective::kAllReduce, Collective::kAllToAll}) {
    Options o;
    o.collective = c;
    validate_options(o, {}, {"f32"}, {"sum"}, "both");
    ASSERT_EQ(o.algorithms.size(), 1u);
    EXPECT_EQ(o.algorithms[0], c == Collective::kAllReduce ? "MPI_Allreduce" : "MPI_Alltoall");
    o.backend = "nccl";
    validate_options(o, {}, {"f32"}, {"sum"}, "both");
    ASSERT_EQ(o.algorithms.size(), 1u);
    EXPECT_EQ(o.algorithms[0], "nccl");
  }
}

TEST(BackendOptions, CanonicalFormSeesTheBackendFlags) {
  Options a, b;
  EXPECT_EQ(a.canonical(), b.canonical());
  b.backend = "nccl";
  EXPECT_NE(a.canonical(), b.canonical());
  Options c;
  c.cuda_graph = 2;
  EXPECT_NE(a.canonical(), c.canonical());
  Options d;
  d.gpu_map = "1,0";
  EXPECT_NE(a.canonical(), d.canonical());
}

TEST(Registry, NcclRowsAreNativesOfTheNcclBackend) {
  for (Collective c : collectives::kAllCollectives) {
    const auto* info = collectives::find_algorithm(c, "nccl");
    ASSERT_NE(info, nullptr);
    EXPECT_TRUE(info->native());
    EXPECT_EQ(info->backend, "nccl");
    EXPECT_EQ(collectives::backend_built("nccl"), nccl_backend_built());
    if (!nccl_backend_built()) continue;
#if COLLBENCH_HAVE_NCCL
    auto algo = collectives::make_nccl_native(info->id);
    ASSERT_NE(algo, nullptr);
    EXPECT_EQ(algo->collective(), c);
    // Any transport but NCCL's is refused with a reason (here: none at all).
    collectives::AlgorithmContext none;
    auto why = algo->supports(none, collectives::CollectiveArgs{c, 8});
    ASSERT_TRUE(why.has_value());
    EXPECT_NE(why->find("--backend nccl"), std::string::npos) << *why;
#endif
  }
}

#if COLLBENCH_HAVE_NCCL

TEST(NcclMapping, EveryDtypeAndOp) {
  using collectives::DType;
  using collectives::ReduceOp;
  const std::pair<DType, ncclDataType_t> types[] = {
      {DType::kI8, ncclInt8},     {DType::kU8, ncclUint8},      {DType::kI32, ncclInt32},
      {DType::kU32, ncclUint32},  {DType::kI64, ncclInt64},     {DType::kU64, ncclUint64},
      {DType::kF16, ncclFloat16}, {DType::kBF16, ncclBfloat16}, {DType::kF32, ncclFloat32},
      {DType::kF64, ncclFloat64}};
  ASSERT_EQ(std::size(types), collectives::all_dtypes().size());
  for (auto [t, n] : types) {
    ASSERT_TRUE(collectives::nccl_datatype(t).has_value()) << collectives::dtype_name(t);
    EXPECT_EQ(*collectives::nccl_datatype(t), n) << collectives::dtype_name(t);
  }
  EXPECT_EQ(collectives::nccl_redop(ReduceOp::kSum), ncclSum);
  EXPECT_EQ(collectives::nccl_redop(ReduceOp::kProd), ncclProd);
  EXPECT_EQ(collectives::nccl_redop(ReduceOp::kMin), ncclMin);
  EXPECT_EQ(collectives::nccl_redop(ReduceOp::kMax), ncclMax);
}

TEST(NcclMapping, VersionStrings) {
  EXPECT_EQ(collectives::nccl_version_string(22809), "2.28.9");
  EXPECT_EQ(collectives::nccl_version_string(21903), "2.19.3");
  EXPECT_EQ(collectives::nccl_version_string(2804), "2.8.4");  // the pre-2.9 scheme
  EXPECT_EQ(collectives::nccl_version_string(NCCL_VERSION_CODE),
            std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR) + "." +
                std::to_string(NCCL_PATCH));
}

TEST(NcclMapping, ErrorTextsNameTheCode) {
  const std::string cuda = collectives::cuda_error_text(cudaErrorInsufficientDriver);
  EXPECT_NE(cuda.find("cudaErrorInsufficientDriver, error 35"), std::string::npos) << cuda;
  EXPECT_FALSE(collectives::nccl_error_text(ncclInvalidArgument).empty());
}

TEST(GpuMetadata, LibraryVersionsWithoutAGpu) {
  const auto v = gpu_library_versions();
  // ncclGetVersion needs no GPU; the header and the library may differ, both are recorded.
  ASSERT_TRUE(v["nccl_version"].is_string());
  EXPECT_EQ(v["nccl_version_built"], collectives::nccl_version_string(NCCL_VERSION_CODE));
  int loaded = 0;
  ASSERT_EQ(ncclGetVersion(&loaded), ncclSuccess);
  EXPECT_EQ(v["nccl_version"], collectives::nccl_version_string(loaded));
  ASSERT_TRUE(v["cuda_runtime_version"].is_string());
  EXPECT_NE(v["cuda_runtime_version"].get<std::string>().find('.'), std::string::npos);
  EXPECT_TRUE(v.contains("cuda_driver_version"));
  EXPECT_TRUE(v.contains("nvidia_driver"));
}

TEST(GpuMetadata, NoGpuIsNamedWithCudasError) {
  int visible = 0;
  const auto why = gpu_visibility_problem(&visible);
  if (!why) GTEST_SKIP() << visible << " GPU(s) visible: this test covers the no-GPU path";
  EXPECT_NE(why->find("cudaGetDeviceCount"), std::string::npos) << *why;
  // Either CUDA's error text with its code, or a zero count with the hint.
  EXPECT_TRUE(why->find("error ") != std::string::npos ||
              why->find("returned 0 devices") != std::string::npos)
      << *why;
  EXPECT_EQ(why->find('\n'), std::string::npos) << "one line";
  const auto info = local_gpu_info(0);
  EXPECT_EQ(info["device"], 0);
  ASSERT_TRUE(info.contains("error"));
  EXPECT_NE(info["error"].get<std::string>().find("cudaGetDeviceProperties"), std::string::npos);
  EXPECT_FALSE(info.contains("uuid"));
}

TEST(GpuMetadata, EstimateIsAbsentForOtherAlgorithms) {
  auto ring = collectives::make_own_algorithm(collectives::AlgorithmId::kRingAllreduce);
  EXPECT_FALSE(collectives::nccl_estimate_us(*ring, collectives::CollectiveArgs{}).has_value());
  // A native NCCL algorithm that has not run has no buffers to simulate with.
  auto nccl = collectives::make_nccl_native(collectives::AlgorithmId::kNcclAllreduce);
  EXPECT_FALSE(collectives::nccl_estimate_us(*nccl, collectives::CollectiveArgs{}).has_value());
}

#endif  // COLLBENCH_HAVE_NCCL

}  // namespace
}  // namespace collbench::bench
