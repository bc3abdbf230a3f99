// Fuzz target: `podrouter inject` over any bytes (YAML streams, Lists, JSON streams) must give
// output or errors, never both and never a crash; what it injected it counts, and its output,
// injected again, is left as it is (every rewritten value reads back as written).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "inject/inject.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  podrouter::config::InjectOptions options;
  options.image = "podrouter:fuzz";
  auto result = podrouter::config::Inject(text, options);
  if (!result.errors.empty() && !result.output.empty()) abort();
  for (const auto& e : result.errors) {
    if (e.empty()) abort();
  }
  if (result.errors.empty() && result.injected > 0 &&
      result.output.find("podrouter:fuzz") == std::string::npos) {
    abort();  // said it injected, wrote no sidecar
  }
  if (result.errors.empty() && result.injected + result.converted > 0) {
    // What it wrote reads back as the same objects: injecting it again changes nothing.
    auto again = podrouter::config::Inject(result.output, options);
    if (!again.errors.empty() || again.injected != 0 || again.converted != 0) abort();
  }
  return 0;
}
