// Refresh and backoff arithmetic (pure, unit-tested).
#include "discovery/refresh.h"

#include <algorithm>

namespace podrouter {

Millis RefreshDelay(std::chrono::seconds ttl, Millis min, Millis max, double unit) {
  Millis base = std::clamp<Millis>(ttl, min, max);
  auto jittered =
      Millis(static_cast<int64_t>(static_cast<double>(base.count()) * (1.0 - 0.1 * unit)));
  return std::max(jittered, min);
}

Millis BackoffDelay(uint32_t failures, Millis min, Millis max, double unit) {
  Millis base = min;
  for (uint32_t i = 1; i < failures && base < max; ++i) base *= 2;
  base = std::min(base, max);
  auto jittered =
      Millis(static_cast<int64_t>(static_cast<double>(base.count()) * (1.0 - 0.5 * unit)));
  return std::max(jittered, std::min(Millis(250), min));
}

}  // namespace podrouter
