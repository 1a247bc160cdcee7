#include "base/huge_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace leanlm {

Result<HugeBuffer> HugeBuffer::Allocate(size_t bytes) {
  HugeBuffer buffer;
  if (bytes == 0) return buffer;
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    return Status::Error("cannot allocate " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
  }
  // Advice only: where huge pages are off or fragmented the kernel uses 4 KiB pages.
  ::madvise(mem, bytes, MADV_HUGEPAGE);
  buffer.data_ = static_cast<uint8_t*>(mem);
  buffer.size_ = bytes;
  return buffer;
}

HugeBuffer::HugeBuffer(HugeBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& other) noexcept {
  if (this != &other) {
    this->~HugeBuffer();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

HugeBuffer::~HugeBuffer() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace leanlm
