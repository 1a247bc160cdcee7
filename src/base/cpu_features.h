// Run-time CPU feature detection and the instruction-set level the kernels
// dispatch on. The library is compiled for baseline x86-64; faster kernels
// are chosen once per call site from ActiveCpuLevel(), which the environment
// variable LEANLM_CPU=scalar|avx2|avx512 can lower (for tests, benchmarks and
// bug reports). A level above what the CPU and OS support is never chosen.
#pragma once

#include <optional>
#include <string_view>

namespace leanlm {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
};

// Ordered: each level implies the ones before it.
enum class CpuLevel : int {
  kScalar = 0,
  kAvx2 = 1,    // AVX2 + FMA + F16C
  kAvx512 = 2,  // AVX-512 F/BW/VL + FMA + F16C (Skylake-X, Zen 4 and later)
};
inline constexpr int kNumCpuLevels = 3;

// What cpuid reports, with AVX/AVX-512 cleared unless the OS saves the
// registers (xgetbv). Computed once.
const CpuFeatures& DetectedCpuFeatures();

// The highest level the detected features allow.
CpuLevel DetectedCpuLevel();

// DetectedCpuLevel(), lowered by LEANLM_CPU when set (read once; an unknown
// value or one above the detected level is reported to the log and clamped).
CpuLevel ActiveCpuLevel();

bool CpuLevelSupported(CpuLevel level);
const char* CpuLevelName(CpuLevel level);  // "scalar", "avx2", "avx512"
std::optional<CpuLevel> ParseCpuLevel(std::string_view name);

}  // namespace leanlm
