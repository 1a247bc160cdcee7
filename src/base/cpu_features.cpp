#include "base/cpu_features.h"

#include <cstdint>
#include <cstdlib>

#include "base/log.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define LEANLM_X86 1
#endif

namespace leanlm {
namespace {

#if defined(LEANLM_X86)
// XCR0 through xgetbv; only valid when cpuid says OSXSAVE.
uint64_t ReadXcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures Detect() {
  CpuFeatures f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  f.fma = ecx & (1u << 12);
  f.f16c = ecx & (1u << 29);
  if (!osxsave || !avx) return CpuFeatures{};
  const uint64_t xcr0 = ReadXcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xe6) == 0xe6;   // plus opmask and both ZMM halves
  if (!os_ymm) return CpuFeatures{};
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = ebx & (1u << 5);
  if (os_zmm) {
    f.avx512f = ebx & (1u << 16);
    f.avx512bw = ebx & (1u << 30);
    f.avx512vl = ebx & (1u << 31);
    f.avx512vnni = ecx & (1u << 11);
    unsigned eax1, ebx1, ecx1, edx1;
    __cpuid_count(7, 1, eax1, ebx1, ecx1, edx1);
    f.avx512bf16 = eax1 & (1u << 5);
  }
  return f;
}
#else
CpuFeatures Detect() { return CpuFeatures{}; }
#endif

CpuLevel LevelOf(const CpuFeatures& f) {
  if (!(f.avx2 && f.fma && f.f16c)) return CpuLevel::kScalar;
  if (f.avx512f && f.avx512bw && f.avx512vl) return CpuLevel::kAvx512;
  return CpuLevel::kAvx2;
}

CpuLevel ReadActiveLevel() {
  const CpuLevel detected = DetectedCpuLevel();
  const char* env = std::getenv("LEANLM_CPU");
  if (env == nullptr || *env == '\0') return detected;
  const std::optional<CpuLevel> wanted = ParseCpuLevel(env);
  if (!wanted) {
    LEANLM_WARN("LEANLM_CPU='%s' is not one of scalar, avx2, avx512; using %s", env, CpuLevelName(detected));
    return detected;
  }
  if (static_cast<int>(*wanted) > static_cast<int>(detected)) {
    LEANLM_WARN("LEANLM_CPU=%s is not supported by this CPU; using %s", env, CpuLevelName(detected));
    return detected;
  }
  return *wanted;
}

}  // namespace

const CpuFeatures& DetectedCpuFeatures() {
  static const CpuFeatures features = Detect();
  return features;
}

CpuLevel DetectedCpuLevel() { return LevelOf(DetectedCpuFeatures()); }

CpuLevel ActiveCpuLevel() {
  static const CpuLevel level = ReadActiveLevel();
  return level;
}

bool CpuLevelSupported(CpuLevel level) { return static_cast<int>(level) <= static_cast<int>(DetectedCpuLevel()); }

const char* CpuLevelName(CpuLevel level) {
  switch (level) {
    case CpuLevel::kScalar: return "scalar";
    case CpuLevel::kAvx2: return "avx2";
    case CpuLevel::kAvx512: return "avx512";
  }
  return "unknown";
}

std::optional<CpuLevel> ParseCpuLevel(std::string_view name) {
  for (int i = 0; i < kNumCpuLevels; ++i) {
    const auto level = static_cast<CpuLevel>(i);
    if (name == CpuLevelName(level)) return level;
  }
  return std::nullopt;
}

}  // namespace leanlm
