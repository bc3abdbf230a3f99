// H2UpstreamPool: the loop's HTTP/2 connections to pods, per pod address. Acquire gives the
// connection a new stream should go to: one that takes more streams, or a new one (after the pod's
// GOAWAY, or when every connection is at the pod's SETTINGS_MAX_CONCURRENT_STREAMS). The pool owns
// every connection; the last close callback frees it.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "dataplane/h2_upstream_conn.h"

namespace podrouter {

class H2UpstreamPool {
 public:
  explicit H2UpstreamPool(WorkerContext* worker) : worker_(worker) {}
  ~H2UpstreamPool();

  // A connection to `endpoint` that takes a new stream now (possibly still connecting); a new one
  // checks a silent pod with PING after `ping_interval_ms`.
  H2UpstreamConn* Acquire(const Endpoint& endpoint, uint64_t connect_timeout_ms,
                          uint64_t ping_interval_ms);
  // Closes every connection (the loop is stopping); their streams fail.
  void CloseAll();
  size_t size() const { return conns_.size(); }

 private:
  friend class H2UpstreamConn;
  void Unlist(H2UpstreamConn* conn);  // no new streams go to it
  void Remove(H2UpstreamConn* conn);  // from the last close callback

  WorkerContext* worker_;
  uint64_t next_id_ = 1;
  std::unordered_map<PodAddress, std::vector<H2UpstreamConn*>, PodAddress::Hash> by_pod_;
  std::unordered_map<H2UpstreamConn*, std::unique_ptr<H2UpstreamConn>> conns_;
};

}  // namespace podrouter
