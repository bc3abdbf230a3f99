// Fuzz target: the config loader must turn any bytes into a Config or positioned errors, never a
// crash, and never both.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto result = podrouter::config::LoadConfigString(text, "fuzz.yaml");
  if (result.config.has_value() == !result.errors.empty()) abort();
  for (const auto& e : result.errors) {
    if (e.message.empty()) abort();
  }
  return 0;
}
