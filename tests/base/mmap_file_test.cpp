#include "base/mmap_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "support/cli_runner.h"

namespace leanlm {
namespace {

using testing::TempDir;

constexpr size_t kBytes = size_t{16} << 20;

std::string WritePattern(const TempDir& dir) {
  const std::string path = dir / "pattern.bin";
  std::vector<char> bytes(kBytes);
  for (size_t i = 0; i < kBytes; ++i) bytes[i] = static_cast<char>(i * 131 + i / 4096);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

bool HasPattern(const MappedFile& f) {
  for (size_t i = 0; i < kBytes; ++i) {
    if (f.data()[i] != static_cast<uint8_t>(i * 131 + i / 4096)) return false;
  }
  return true;
}

// Resident pages of this process backed by files (RssFile), in bytes.
size_t FileResidentBytes() {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return 0;
  char line[256];
  size_t kb = 0;
  while (std::fgets(line, sizeof line, status)) {
    if (std::sscanf(line, "RssFile: %zu kB", &kb) == 1) break;
  }
  std::fclose(status);
  return kb << 10;
}

TEST(MappedFileTest, ReleasedPagesLeaveTheResidentSetAndReadBackTheFile) {
  TempDir dir;
  auto file = MappedFile::Open(WritePattern(dir), MappedFile::Mode::kMap);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_TRUE(HasPattern(**file));  // every page faulted in
  const size_t before = FileResidentBytes();
  if (before == 0) GTEST_SKIP() << "no RssFile in /proc/self/status";
  (*file)->ReleasePages((*file)->data() + 100, kBytes - 200);  // partial first and last pages stay
  const size_t after = FileResidentBytes();
  EXPECT_GE(before, after + kBytes / 2) << "RssFile " << before << " -> " << after;
  EXPECT_TRUE(HasPattern(**file));
}

// A copy in anonymous memory would read back as zeros: it is left alone.
TEST(MappedFileTest, LoadedCopyIsNotReleased) {
  TempDir dir;
  auto file = MappedFile::Open(WritePattern(dir), MappedFile::Mode::kLoadIntoMemory);
  ASSERT_TRUE(file.ok()) << file.status().message();
  (*file)->ReleasePages((*file)->data(), kBytes);
  EXPECT_TRUE(HasPattern(**file));
}

TEST(MappedFileTest, RangesOutsideTheMappingAreIgnored) {
  TempDir dir;
  auto file = MappedFile::Open(WritePattern(dir), MappedFile::Mode::kMap);
  ASSERT_TRUE(file.ok()) << file.status().message();
  std::vector<uint8_t> other(kBytes);
  (*file)->ReleasePages(other.data(), other.size());
  (*file)->ReleasePages((*file)->data() + kBytes / 2, kBytes);  // runs past the end
  (*file)->ReleasePages((*file)->data() + kBytes, 1);
  EXPECT_TRUE(HasPattern(**file));
}

}  // namespace
}  // namespace leanlm
