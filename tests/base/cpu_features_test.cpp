#include "base/cpu_features.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace leanlm {
namespace {

TEST(CpuFeaturesTest, LevelNamesRoundTrip) {
  for (int l = 0; l < kNumCpuLevels; ++l) {
    const auto level = static_cast<CpuLevel>(l);
    EXPECT_EQ(ParseCpuLevel(CpuLevelName(level)), level);
  }
  EXPECT_EQ(ParseCpuLevel("avx1024"), std::nullopt);
  EXPECT_EQ(ParseCpuLevel(""), std::nullopt);
}

TEST(CpuFeaturesTest, LevelFollowsFeatures) {
  const CpuFeatures& f = DetectedCpuFeatures();
  const CpuLevel level = DetectedCpuLevel();
  EXPECT_TRUE(CpuLevelSupported(CpuLevel::kScalar));
  EXPECT_EQ(CpuLevelSupported(CpuLevel::kAvx2), f.avx2 && f.fma && f.f16c);
  EXPECT_EQ(CpuLevelSupported(CpuLevel::kAvx512), f.avx2 && f.fma && f.f16c && f.avx512f && f.avx512bw && f.avx512vl);
  EXPECT_LE(static_cast<int>(ActiveCpuLevel()), static_cast<int>(level));
}

// cpuid agrees with what the Linux kernel reports (it also checks OS support).
TEST(CpuFeaturesTest, AgreesWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line) && line.rfind("flags", 0) != 0) {
  }
  if (line.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line";
  line += ' ';
  auto has = [&](const char* flag) { return line.find(std::string(" ") + flag + " ") != std::string::npos; };
  const CpuFeatures& f = DetectedCpuFeatures();
  EXPECT_EQ(f.avx2, has("avx2"));
  EXPECT_EQ(f.fma, has("fma"));
  EXPECT_EQ(f.f16c, has("f16c"));
  EXPECT_EQ(f.avx512f, has("avx512f"));
  EXPECT_EQ(f.avx512bw, has("avx512bw"));
  EXPECT_EQ(f.avx512vl, has("avx512vl"));
  EXPECT_EQ(f.avx512vnni, has("avx512_vnni"));
  EXPECT_EQ(f.avx512bf16, has("avx512_bf16"));
}

}  // namespace
}  // namespace leanlm
