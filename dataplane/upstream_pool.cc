// UpstreamPool: lease, release and discard connections to pods; idle ones are found by address.
#include "dataplane/upstream_pool.h"

#include <algorithm>

namespace podrouter {

UpstreamPool::~UpstreamPool() = default;

UpstreamConn* UpstreamPool::Acquire(const Endpoint& endpoint, UpstreamConn::Owner* owner,
                                    uint64_t connect_timeout_ms, bool fresh, bool* reused) {
  if (!fresh) {
    auto it = idle_.find(PodAddress::Of(endpoint.sockaddr));
    if (it != idle_.end() && !it->second.empty()) {
      UpstreamConn* c = it->second.back();
      it->second.pop_back();
      c->owner_ = owner;  // the idle timer may still run: OnTimer ignores leased connections
      *reused = true;
      return c;
    }
  }
  auto conn = std::make_unique<UpstreamConn>(this, endpoint, next_id_++);
  UpstreamConn* c = conn.get();
  conns_.emplace(c, std::move(conn));
  c->owner_ = owner;
  c->Connect(endpoint, connect_timeout_ms);
  *reused = false;
  return c;
}

void UpstreamPool::Release(UpstreamConn* c) {
  c->owner_ = nullptr;
  auto& idle = idle_[c->key_];
  if (c->closing_ || !c->reusable() || c->unsent() > 0 || idle.size() >= kMaxIdlePerPod) {
    Discard(c);
    return;
  }
  c->ResumeReading();  // to notice the pod closing it
  idle.push_back(c);
  c->idle_since_ = uv_now(worker_->loop);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&c->timer_))) {
    uv_timer_start(&c->timer_, &UpstreamConn::OnTimer, kIdleTimeoutMs, 0);
  }
}

void UpstreamPool::Unpool(UpstreamConn* c) {
  auto it = idle_.find(c->key_);
  if (it == idle_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), c), list.end());
  if (list.empty()) idle_.erase(it);
}

void UpstreamPool::Discard(UpstreamConn* c, bool reset) {
  if (c->closing_) return;
  c->closing_ = true;
  c->owner_ = nullptr;
  Unpool(c);
  auto on_closed = [](uv_handle_t* h) {
    auto* conn = static_cast<UpstreamConn*>(h->data);
    if (conn->handles_.Done()) conn->pool_->Remove(conn);
  };
  if (!reset || uv_tcp_close_reset(&c->tcp_, on_closed) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_), on_closed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer_), on_closed);
}

void UpstreamPool::Remove(UpstreamConn* c) { conns_.erase(c); }

void UpstreamPool::CloseAll() {
  std::vector<UpstreamConn*> all;
  for (auto& [raw, conn] : conns_) all.push_back(raw);
  for (UpstreamConn* c : all) Discard(c);
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

}  // namespace podrouter
