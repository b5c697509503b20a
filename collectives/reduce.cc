// Host reduction kernels: the portable level, and the choice of level.
//
// The portable level is one plain loop per (dtype, op) that the compiler vectorizes at -O3
// (checked with -fopt-info-vec-optimized, see docs/algorithms.md). Signed integer sum and
// product wrap like MPI's (computed in the unsigned type, so no undefined overflow). f16, bf16
// and fp8 are widened to float, combined, and rounded once per element inside the same loop;
// the conversions are branch-free (half_convert.h, fp8.h) so that they vectorize too.
//
// On x86-64 the same loops are compiled again for AVX2 and AVX-512 (reduce_x86_*.cc), where
// hand-written vector loops take over the 16- and 8-bit floats; the level is chosen once from
// the CPU's features (or COLLBENCH_REDUCE_ISA). Every level gives the same bits: the tests run
// each one the CPU has against the portable one.
#include "collectives/reduce.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <type_traits>

#include "collectives/error.h"
#include "collectives/fp8.h"
#include "collectives/half_convert.h"
#include "collectives/reduce_impl.h"

namespace collbench::collectives {
namespace detail {
namespace {
namespace portable {
#include "collectives/reduce_kernels.inc"
}  // namespace portable
}  // namespace

void reduce_portable(void* out, const void* a, const void* b, std::size_t n, DType t, ReduceOp op) {
  portable::reduce(out, a, b, n, t, op);
}

}  // namespace detail

namespace {

constexpr ReduceIsa kAllIsas[] = {ReduceIsa::kPortable, ReduceIsa::kAvx2, ReduceIsa::kAvx512,
                                  ReduceIsa::kAvx512Bf16};

#if defined(__x86_64__)
// CPUID and XCR0 directly (not __builtin_cpu_supports, whose feature names differ between GCC
// and clang versions): a feature counts only when the OS also saves its registers.
struct X86Features {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512bf16 = false, avx512vbmi = false;
};

X86Features detect_x86() {
  X86Features f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (!osxsave || !avx) return f;
  unsigned lo = 0, hi = 0;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  const std::uint64_t xcr0 = (static_cast<std::uint64_t>(hi) << 32) | lo;
  if ((xcr0 & 0x6) != 0x6) return f;             // XMM and YMM state
  const bool zmm_state = (xcr0 & 0xe0) == 0xe0;  // opmask, upper ZMM halves, ZMM16-31
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = b & (1u << 5);
  if (zmm_state) {
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vbmi = c & (1u << 1);
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512bf16 = a & (1u << 5);
  }
  return f;
}
#endif

bool cpu_has(ReduceIsa isa) {
#if defined(__x86_64__)
  static const X86Features f = detect_x86();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  const bool avx512 = avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (isa) {
    case ReduceIsa::kPortable:
      return true;
    case ReduceIsa::kAvx2:
      return avx2;
    case ReduceIsa::kAvx512:
      return avx512;
    case ReduceIsa::kAvx512Bf16:
      return avx512 && f.avx512bf16 && f.avx512vbmi;
  }
  return false;
#else
  return isa == ReduceIsa::kPortable;
#endif
}

// The kernels of `isa` for dtype t. The avx512 levels have loops of their own only for the 16-
// and 8-bit floats; f32, f64 and the integers keep the avx2 build (today's code for them), which
// the 512-bit build of the same loops did not beat from L2 on. Chosen here, per dtype, so that a
// call costs one indirect jump.
detail::ReduceFn kernels_of(ReduceIsa isa, DType t) {
#if defined(__x86_64__)
  const bool own_512 = t == DType::kF16 || t == DType::kBF16 || dtype_is_fp8(t);
  switch (isa) {
    case ReduceIsa::kAvx2:
      return detail::reduce_avx2;
    case ReduceIsa::kAvx512:
      return own_512 ? detail::reduce_avx512 : detail::reduce_avx2;
    case ReduceIsa::kAvx512Bf16:
      return own_512 ? detail::reduce_avx512bf16 : detail::reduce_avx2;
    case ReduceIsa::kPortable:
      break;
  }
#else
  (void)isa;
  (void)t;
#endif
  return detail::reduce_portable;
}

std::string available_list() {
  std::string s;
  for (ReduceIsa isa : available_reduce_isas()) {
    if (!s.empty()) s += ", ";
    s += reduce_isa_name(isa);
  }
  return s;
}

ReduceIsa initial_isa() {
  const char* env = std::getenv("COLLBENCH_REDUCE_ISA");
  if (env && *env && std::string_view(env) != "auto") {
    const auto isa = parse_reduce_isa(env);
    if (!isa)
      throw Error("COLLBENCH_REDUCE_ISA=" + std::string(env) +
                  " is not a kernel level (known: auto, portable, avx2, avx512, avx512bf16)");
    if (!cpu_has(*isa))
      throw Error("COLLBENCH_REDUCE_ISA=" + std::string(env) +
                  ": this CPU cannot run it (available: " + available_list() + ")");
    return *isa;
  }
  // No allocation here: the first reduction may run inside a timed or allocation-counted region.
  ReduceIsa best = ReduceIsa::kPortable;
  for (ReduceIsa isa : kAllIsas)
    if (cpu_has(isa)) best = isa;
  return best;
}

constexpr std::size_t kDTypes = static_cast<std::size_t>(DType::kF8E5M2) + 1;

struct Active {
  std::atomic<detail::ReduceFn> fn[kDTypes];
  std::atomic<ReduceIsa> isa;

  void set(ReduceIsa level) {
    for (DType t : all_dtypes())
      fn[static_cast<std::size_t>(t)].store(kernels_of(level, t), std::memory_order_relaxed);
    isa.store(level, std::memory_order_relaxed);
  }
};

// Chosen on first use; a bad COLLBENCH_REDUCE_ISA throws from here (again on every call, so that
// no path reduces with a level the user did not ask for).
Active& active() {
  static Active& a = []() -> Active& {
    const ReduceIsa isa = initial_isa();
    static Active level;
    level.set(isa);
    return level;
  }();
  return a;
}

}  // namespace

std::string_view reduce_isa_name(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kPortable:
      return "portable";
    case ReduceIsa::kAvx2:
      return "avx2";
    case ReduceIsa::kAvx512:
      return "avx512";
    case ReduceIsa::kAvx512Bf16:
      return "avx512bf16";
  }
  return "?";
}

std::optional<ReduceIsa> parse_reduce_isa(std::string_view s) {
  for (ReduceIsa isa : kAllIsas)
    if (s == reduce_isa_name(isa)) return isa;
  return std::nullopt;
}

std::vector<ReduceIsa> available_reduce_isas() {
  std::vector<ReduceIsa> v;
  for (ReduceIsa isa : kAllIsas)
    if (cpu_has(isa)) v.push_back(isa);
  return v;
}

ReduceIsa active_reduce_isa() { return active().isa.load(std::memory_order_relaxed); }
std::string_view reduce_isa_name() { return reduce_isa_name(active_reduce_isa()); }

void set_reduce_isa(ReduceIsa isa) {
  if (!cpu_has(isa))
    throw Error("reduction kernels '" + std::string(reduce_isa_name(isa)) +
                "' need CPU features this machine lacks (available: " + available_list() + ")");
  active().set(isa);
}

void reduce_into(void* out, const void* a, const void* b, std::size_t count, DType t, ReduceOp op) {
  if (count == 0) return;
  active().fn[static_cast<std::size_t>(t)].load(std::memory_order_relaxed)(out, a, b, count, t, op);
}

void reduce_inplace(void* inout, const void* in, std::size_t count, DType t, ReduceOp op) {
  reduce_into(inout, inout, in, count, t, op);
}

}  // namespace collbench::collectives
