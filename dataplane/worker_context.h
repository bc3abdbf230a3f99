// What every listener and session on one event loop shares. Nothing here is touched by another
// thread: with `workers: N` each loop has its own WorkerContext.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "dataplane/buffer_pool.h"
#include "dataplane/flush_queue.h"
#include "dataplane/pipe_pool.h"
#include "dataplane/session.h"
#include "metrics/metrics.h"

namespace podrouter {

constexpr size_t kReadBufferSize = 64 * 1024;
// Unsent bytes queued towards one side: above kHighWatermark the other side stops being read,
// below kLowWatermark it is read again.
constexpr size_t kHighWatermark = 256 * 1024;
constexpr size_t kLowWatermark = 64 * 1024;

class UpstreamPool;
struct HttpExchange;

// Rested HTTP/1.x exchanges (http_exchange.h), kept for the next request of any connection of
// this worker; at most `max_free`, the rest freed.
class HttpExchangePool {
 public:
  explicit HttpExchangePool(size_t max_free) : max_free_(max_free) {}
  ~HttpExchangePool();
  HttpExchangePool(const HttpExchangePool&) = delete;
  HttpExchangePool& operator=(const HttpExchangePool&) = delete;
  // One exchange, or nullptr when none rests here.
  std::unique_ptr<HttpExchange> Take();
  void Give(std::unique_ptr<HttpExchange> exchange);

 private:
  size_t max_free_;
  std::vector<HttpExchange*> free_;  // owned (HttpExchange is incomplete here)
};

class H2UpstreamPool;
class ConnectionBalancer;

struct WorkerContext {
  // WorkerContext `index` of `count` numbers its sessions index+1, index+1+count, ... so that
  // session ids in the logs are unique across workers.
  WorkerContext(uv_loop_t* l, metrics::Metrics* m, uint32_t index = 0, uint32_t count = 1)
      : loop(l), metrics(m), index(index), next_session_id(index + 1), session_id_step(count) {}

  uint64_t NextSessionId() {
    uint64_t id = next_session_id;
    next_session_id += session_id_step;
    return id;
  }

  // podrouter_http_requests_total{listener, pod, code}: a pointer-keyed hit after first use.
  metrics::Counter& HttpRequests(const metrics::ListenerMetrics& l, const metrics::PodMetrics* pod,
                                 int code) {
    metrics::Counter*& slot = http_requests[{&l, pod, code}];
    if (!slot) slot = &metrics->HttpRequests(l, pod, code);
    return *slot;
  }

  uv_loop_t* loop;
  metrics::Metrics* metrics;
  uint32_t index;
  UpstreamPool* pool = nullptr;       // owned by the WorkerLoop, closed after the sessions
  H2UpstreamPool* h2_pool = nullptr;  // likewise, for pods spoken to in HTTP/2
  FlushQueue flush;                   // HTTP/2 output, once per loop iteration
  SessionSet sessions;
  BufferPool buffers{kReadBufferSize, 64};
  HttpExchangePool exchanges{256};
  PipePool pipes{
      kHighWatermark,
      PipePool::MaxFreeForLimit()};  // for spliced TCP sessions: a watermark's worth each
  uint64_t next_session_id;
  uint64_t session_id_step;
  int reserve_fd = -1;                     // kept open to shed connections when descriptors run out
  ConnectionBalancer* balancer = nullptr;  // with more than one worker; shared, thread-safe
  std::map<std::tuple<const metrics::ListenerMetrics*, const metrics::PodMetrics*, int>,
           metrics::Counter*>
      http_requests;
  std::map<std::tuple<const metrics::ListenerMetrics*, const metrics::PodMetrics*, int>,
           metrics::Counter*>
      grpc_requests;

  // uv_tcp_connect (its arguments and result), tried once more after the pooled pipes gave their
  // descriptors back when the first try found none (UV_EMFILE, UV_ENFILE): a pipe kept for reuse
  // never costs a connection.
  int ConnectTcp(uv_connect_t* req, uv_tcp_t* tcp, const sockaddr* addr, uv_connect_cb cb) {
    int rc = uv_tcp_connect(req, tcp, addr, cb);
    if ((rc == UV_EMFILE || rc == UV_ENFILE) && pipes.CloseFree() > 0)
      rc = uv_tcp_connect(req, tcp, addr, cb);
    return rc;
  }

  // podrouter_grpc_requests_total{listener, pod, grpc_status}, cached as HttpRequests.
  metrics::Counter& GrpcRequests(const metrics::ListenerMetrics& l, const metrics::PodMetrics* pod,
                                 int status) {
    metrics::Counter*& slot = grpc_requests[{&l, pod, status}];
    if (!slot) slot = &metrics->GrpcRequests(l, pod, status);
    return *slot;
  }
};

}  // namespace podrouter
