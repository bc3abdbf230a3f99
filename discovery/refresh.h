// When to resolve a service again: at the answer's TTL clamped to [min, max], or with exponential
// backoff after failures; both jittered so that many sidecars do not query in lockstep.
#pragma once

#include <chrono>
#include <cstdint>

namespace podrouter {

using Millis = std::chrono::milliseconds;

// `unit` is a uniform random number in [0, 1). The result is in [0.9, 1.0] × clamp(ttl, min, max),
// never below `min`.
Millis RefreshDelay(std::chrono::seconds ttl, Millis min, Millis max, double unit);

// After `failures` consecutive failures (1 = the first): min × 2^(failures-1), capped at max, then
// jittered into [0.5, 1.0] × that, never below min(250ms, min) so a dead server is not hammered.
Millis BackoffDelay(uint32_t failures, Millis min, Millis max, double unit);

}  // namespace podrouter
