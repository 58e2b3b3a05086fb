// Minimal leveled logging to stderr, shared by all programs. One line per message.
#pragma once

#include <optional>
#include <string_view>

namespace tsd::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void setLevel(Level l);
Level level();
std::optional<Level> parseLevel(std::string_view s);
inline bool enabled(Level l) { return static_cast<int>(l) >= static_cast<int>(level()); }

void write(Level l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace tsd::log

// Arguments are not evaluated when the level is off (debug lines on the per-connection path).
#define TSD_LOG(lvl, ...)                                     \
  do {                                                        \
    if (::tsd::log::enabled(::tsd::log::Level::lvl)) {        \
      ::tsd::log::write(::tsd::log::Level::lvl, __VA_ARGS__); \
    }                                                         \
  } while (0)
#define LOG_DEBUG(...) TSD_LOG(kDebug, __VA_ARGS__)
#define LOG_INFO(...) TSD_LOG(kInfo, __VA_ARGS__)
#define LOG_WARN(...) TSD_LOG(kWarn, __VA_ARGS__)
#define LOG_ERROR(...) TSD_LOG(kError, __VA_ARGS__)
