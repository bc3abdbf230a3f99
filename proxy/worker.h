// What every listener and session on one event loop shares.
#pragma once

#include <uv.h>

#include <cstdint>

#include "metrics/metrics.h"
#include "proxy/buffer_pool.h"
#include "proxy/session.h"

namespace podrouter {

constexpr size_t kReadBufferSize = 64 * 1024;
// Unsent bytes queued towards one side: above kHighWatermark the other side stops being read,
// below kLowWatermark it is read again.
constexpr size_t kHighWatermark = 256 * 1024;
constexpr size_t kLowWatermark = 64 * 1024;

class UpstreamPool;

struct Worker {
  Worker(uv_loop_t* l, metrics::Metrics* m) : loop(l), metrics(m) {}
  uv_loop_t* loop;
  metrics::Metrics* metrics;
  UpstreamPool* pool = nullptr;  // owned by the Server, closed after the sessions
  SessionSet sessions;
  BufferPool buffers{kReadBufferSize, 64};
  uint64_t next_session_id = 1;
  int reserve_fd = -1;  // kept open to shed connections when descriptors run out
};

}  // namespace podrouter
