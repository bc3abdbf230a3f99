// H2UpstreamPool: find a connection with room for a stream, or open one.
#include "dataplane/h2_upstream_pool.h"

#include <algorithm>

namespace podrouter {

H2UpstreamPool::~H2UpstreamPool() = default;

H2UpstreamConn* H2UpstreamPool::Acquire(const Endpoint& endpoint, uint64_t connect_timeout_ms,
                                        uint64_t ping_interval_ms) {
  std::vector<H2UpstreamConn*>& list = by_pod_[PodAddress::Of(endpoint.sockaddr)];
  for (H2UpstreamConn* c : list) {
    if (c->accepting()) return c;
  }
  auto conn = std::make_unique<H2UpstreamConn>(this, endpoint, next_id_++, ping_interval_ms);
  H2UpstreamConn* c = conn.get();
  conns_.emplace(c, std::move(conn));
  list.push_back(c);
  c->Connect(endpoint.sockaddr, connect_timeout_ms);
  return c;
}

void H2UpstreamPool::Unlist(H2UpstreamConn* c) {
  auto it = by_pod_.find(c->key());
  if (it == by_pod_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), c), list.end());
  if (list.empty()) by_pod_.erase(it);
}

void H2UpstreamPool::Remove(H2UpstreamConn* c) { conns_.erase(c); }

void H2UpstreamPool::CloseAll() {
  std::vector<H2UpstreamConn*> all;
  for (auto& [raw, conn] : conns_) all.push_back(raw);
  for (H2UpstreamConn* c : all) c->Fail(UV_ECANCELED);
}

}  // namespace podrouter
