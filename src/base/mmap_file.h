// Read-only memory-mapped files: weights are used in place, never copied.
// `populate` prefaults every page at open (MAP_POPULATE), which keeps page
// faults out of timed decode; kLoadIntoMemory copies the file to anonymous
// memory on huge pages instead (faster decoding, and safe from page-cache
// eviction under load).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/huge_buffer.h"
#include "base/status.h"

namespace leanlm {

class MappedFile {
 public:
  enum class Mode { kMap, kMapPopulate, kLoadIntoMemory };
  static Result<std::shared_ptr<MappedFile>> Open(const std::string& path, Mode mode = Mode::kMap);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Unmaps from this process the whole pages of [begin, begin + n) that lie
  // in the file mapping (madvise MADV_DONTNEED): they leave its resident
  // set, stay in the page cache, and fault back in with the file's bytes if
  // read again. A copy loaded into memory is left alone (there the same call
  // would zero it).
  void ReleasePages(const void* begin, size_t n) const;

 private:
  MappedFile() = default;
  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  HugeBuffer memory_;  // kLoadIntoMemory's copy
};

// Reads a whole (small) file into a string: config.json, tokenizer files.
Result<std::string> ReadTextFile(const std::string& path, size_t max_bytes = size_t{1} << 30);

// Writes a file atomically: to PATH.tmp, fsync, then rename over PATH, so a
// crash or error never leaves a half-written PATH.
class AtomicFileWriter {
 public:
  static Result<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path);
  ~AtomicFileWriter();  // removes the temporary file unless Commit() succeeded
  Status Write(const void* data, size_t n);
  Status WriteZeros(size_t n);
  uint64_t offset() const { return offset_; }
  Status Commit();

 private:
  AtomicFileWriter() = default;
  std::string path_, tmp_path_;
  int fd_ = -1;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

}  // namespace leanlm
