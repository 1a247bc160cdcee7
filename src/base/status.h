// Status and Result<T>: how every boundary that touches files, network or
// user input reports failure. Messages name the source (file, offset) and
// what was expected; CHECK is reserved for internal invariants.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace leanlm {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), true); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

  // Prepends context ("reading model.gguf: ") to an error; OK stays OK.
  Status WithContext(const std::string& context) const {
    return ok() ? *this : Error(context + ": " + message_);
  }

 private:
  Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
  std::string message_;
  bool failed_ = false;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {    // NOLINT: implicit by design
    if (std::get<Status>(v_).ok()) v_ = Status::Error("internal: Result built from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Status> v_;
};

[[noreturn]] inline void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "leanlm internal error: CHECK(%s) failed at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace leanlm

#define LEANLM_CHECK(cond) \
  ((cond) ? (void)0 : ::leanlm::CheckFailed(#cond, __FILE__, __LINE__))

// Early-returns the status of an expression that yields Status.
#define LEANLM_RETURN_IF_ERROR(expr)             \
  do {                                           \
    ::leanlm::Status leanlm_status_ = (expr);    \
    if (!leanlm_status_.ok()) return leanlm_status_; \
  } while (0)

#define LEANLM_CONCAT_INNER(a, b) a##b
#define LEANLM_CONCAT(a, b) LEANLM_CONCAT_INNER(a, b)
// Assigns the value of a Result expression to lhs, or returns its error.
#define LEANLM_ASSIGN_OR_RETURN(lhs, expr) \
  LEANLM_ASSIGN_OR_RETURN_IMPL(LEANLM_CONCAT(leanlm_result_, __LINE__), lhs, expr)
#define LEANLM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
