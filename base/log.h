// One line per event on stderr: "TIME LEVEL key=value ...". Levels error/warn/info/debug.
#pragma once

#include <string>
#include <string_view>

namespace podrouter {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void SetLogLevel(LogLevel level);
bool ParseLogLevel(std::string_view text, LogLevel* out);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Quotes a value for a key=value log line when it holds spaces, quotes or control bytes.
std::string LogQuote(std::string_view value);

}  // namespace podrouter

#define PR_LOG(level, ...)                                             \
  do {                                                                 \
    if (::podrouter::LogEnabled(::podrouter::LogLevel::level)) {       \
      ::podrouter::LogLine(::podrouter::LogLevel::level, __VA_ARGS__); \
    }                                                                  \
  } while (0)
#define LOG_ERROR(...) PR_LOG(kError, __VA_ARGS__)
#define LOG_WARN(...) PR_LOG(kWarn, __VA_ARGS__)
#define LOG_INFO(...) PR_LOG(kInfo, __VA_ARGS__)
#define LOG_DEBUG(...) PR_LOG(kDebug, __VA_ARGS__)
