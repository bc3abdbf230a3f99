// What every listener and session on one event loop shares.
#pragma once

#include <uv.h>

#include <cstdint>

#include "proxy/buffer_pool.h"
#include "proxy/session.h"

namespace podrouter {

constexpr size_t kReadBufferSize = 64 * 1024;
// Unsent bytes queued towards one side: above kHighWatermark the other side stops being read,
// below kLowWatermark it is read again.
constexpr size_t kHighWatermark = 256 * 1024;
constexpr size_t kLowWatermark = 64 * 1024;

struct Worker {
  explicit Worker(uv_loop_t* l) : loop(l) {}
  uv_loop_t* loop;
  SessionSet sessions;
  BufferPool buffers{kReadBufferSize, 64};
  uint64_t next_session_id = 1;
};

}  // namespace podrouter
