// Large anonymous memory backed by 2 MiB pages where the kernel allows them
// (transparent huge pages in `madvise` mode, the Debian default). Decoding
// streams every weight once per token; with 4 KiB pages the TLB misses cost
// ~20% of the read bandwidth on our machines (bench/RESULTS.md).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace leanlm {

class HugeBuffer {
 public:
  // Zero-filled, page-aligned memory of `bytes` bytes.
  static Result<HugeBuffer> Allocate(size_t bytes);
  HugeBuffer() = default;
  HugeBuffer(HugeBuffer&& other) noexcept;
  HugeBuffer& operator=(HugeBuffer&& other) noexcept;
  HugeBuffer(const HugeBuffer&) = delete;
  HugeBuffer& operator=(const HugeBuffer&) = delete;
  ~HugeBuffer();

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace leanlm
