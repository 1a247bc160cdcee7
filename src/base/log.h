// Diagnostics go to stderr; the library never prints to stdout.
#pragma once

#include <cstdarg>
#include <cstdio>

namespace leanlm {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace leanlm

#define LEANLM_WARN(...) ::leanlm::Log(::leanlm::LogLevel::kWarning, __VA_ARGS__)
#define LEANLM_INFO(...) ::leanlm::Log(::leanlm::LogLevel::kInfo, __VA_ARGS__)
