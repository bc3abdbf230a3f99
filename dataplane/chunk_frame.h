// ChunkFrame: one chunk of a chunked body as three buffers — its size line, the data and the
// CRLF (RFC 9112 §7.1) — ready for one writev, without copying the data.
#pragma once

#include <uv.h>

#include <cstdio>

namespace podrouter {

struct ChunkFrame {
  ChunkFrame(const char* data, size_t len) {
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    bufs[0] = uv_buf_init(size, static_cast<unsigned>(n));
    bufs[1] = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    bufs[2] = uv_buf_init(const_cast<char*>("\r\n"), 2);
  }
  char size[24];
  uv_buf_t bufs[3];
};

}  // namespace podrouter
