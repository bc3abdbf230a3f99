// UpstreamPool keeps HTTP connections to pods, per pod address, for reuse by any session on the
// loop: Acquire leases one (idle, or new and connecting), Release takes it back after a complete
// response, Discard closes it. The pool owns every connection; the last close callback frees it.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "dataplane/upstream_conn.h"

namespace podrouter {

class UpstreamPool {
 public:
  static constexpr size_t kMaxIdlePerPod = 64;
  static constexpr uint64_t kIdleTimeoutMs = 30000;

  explicit UpstreamPool(WorkerContext* worker) : worker_(worker) {}
  ~UpstreamPool();

  // An idle connection to `endpoint` (*reused = true), or a new one connecting (false).
  UpstreamConn* Acquire(const Endpoint& endpoint, UpstreamConn::Owner* owner,
                        uint64_t connect_timeout_ms, bool fresh, bool* reused);
  // Back to the pool after a complete response, or closed when it cannot be reused.
  void Release(UpstreamConn* conn);
  void Discard(UpstreamConn* conn, bool reset = false);
  void CloseAll();
  size_t idle_count() const;
  size_t size() const { return conns_.size(); }

 private:
  friend class UpstreamConn;
  void Remove(UpstreamConn* conn);  // from the last close callback
  void Unpool(UpstreamConn* conn);

  WorkerContext* worker_;
  uint64_t next_id_ = 1;
  std::unordered_map<PodAddress, std::vector<UpstreamConn*>, PodAddress::Hash> idle_;
  std::unordered_map<UpstreamConn*, std::unique_ptr<UpstreamConn>> conns_;
};

}  // namespace podrouter
