#include "base/mmap_file.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

namespace leanlm {
namespace {

std::string ErrnoMessage(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

}  // namespace

Result<std::shared_ptr<MappedFile>> MappedFile::Open(const std::string& path, Mode mode) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error(ErrnoMessage("cannot open", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::Error(ErrnoMessage("cannot stat", path));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error(path + " is not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ == 0) {
    ::close(fd);
    return file;
  }
  if (mode == Mode::kLoadIntoMemory) {
    auto memory = HugeBuffer::Allocate(file->size_);
    if (!memory.ok()) {
      ::close(fd);
      return Status::Error(path + ": " + memory.status().message());
    }
    uint8_t* mem = memory->data();
    size_t done = 0;
    while (done < file->size_) {
      const ssize_t got = ::pread(fd, mem + done, file->size_ - done, static_cast<off_t>(done));
      if (got <= 0) {
        ::close(fd);
        return Status::Error(ErrnoMessage("cannot read", path));
      }
      done += static_cast<size_t>(got);
    }
    file->memory_ = std::move(*memory);
    file->data_ = mem;
    ::close(fd);
    return file;
  }
  const int flags = MAP_PRIVATE | (mode == Mode::kMapPopulate ? MAP_POPULATE : 0);
  void* mem = ::mmap(nullptr, file->size_, PROT_READ, flags, fd, 0);
  if (mem == MAP_FAILED) {
    ::close(fd);
    return Status::Error(ErrnoMessage("cannot mmap", path));
  }
  file->data_ = static_cast<uint8_t*>(mem);
  file->mapped_ = true;
  ::close(fd);
  return file;
}

void MappedFile::ReleasePages(const void* begin, size_t n) const {
  const auto b = reinterpret_cast<uintptr_t>(begin), data = reinterpret_cast<uintptr_t>(data_);
  if (!mapped_ || b < data || n > size_ || b - data > size_ - n) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (b + page - 1) / page * page, last = (b + n) / page * page;
  if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (mapped_) ::munmap(data_, size_);
}

Result<std::string> ReadTextFile(const std::string& path, size_t max_bytes) {
  LEANLM_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  if (file->size() > max_bytes) {
    return Status::Error(path + " is " + std::to_string(file->size()) + " bytes, more than the " +
                         std::to_string(max_bytes) + " allowed");
  }
  return std::string(reinterpret_cast<const char*>(file->data()), file->size());
}

Result<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(const std::string& path) {
  std::unique_ptr<AtomicFileWriter> w(new AtomicFileWriter());
  w->path_ = path;
  w->tmp_path_ = path + ".tmp";
  w->fd_ = ::open(w->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) return Status::Error(ErrnoMessage("cannot create", w->tmp_path_));
  return w;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
}

Status AtomicFileWriter::Write(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    const ssize_t put = ::write(fd_, p, n);
    if (put < 0) {
      if (errno == EINTR) continue;
      return Status::Error(ErrnoMessage("cannot write", tmp_path_));
    }
    p += put;
    n -= static_cast<size_t>(put);
    offset_ += static_cast<uint64_t>(put);
  }
  return Status::Ok();
}

Status AtomicFileWriter::WriteZeros(size_t n) {
  static const uint8_t zeros[4096] = {};
  while (n > 0) {
    const size_t chunk = n < sizeof(zeros) ? n : sizeof(zeros);
    LEANLM_RETURN_IF_ERROR(Write(zeros, chunk));
    n -= chunk;
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (::fsync(fd_) != 0) return Status::Error(ErrnoMessage("cannot fsync", tmp_path_));
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) return Status::Error(ErrnoMessage("cannot rename to", path_));
  committed_ = true;
  return Status::Ok();
}

}  // namespace leanlm
