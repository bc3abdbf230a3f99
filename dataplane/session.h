// A Session is one downstream connection and whatever it opened upstream. SessionSet owns them all
// on one loop: a session removes itself from its last close callback.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>

#include "metrics/metrics.h"

namespace podrouter {

class Session {
 public:
  explicit Session(uint64_t id) : id_(id) {}
  virtual ~Session() = default;
  uint64_t id() const { return id_; }
  // Ends the session now (drain timeout, shutdown): handles close, the set erases it later.
  virtual void Abort() = 0;
  // The drain's last phase (listeners are closed): finish what is in flight, then close.
  virtual void Drain() {}
  // The drain's start: podrouter keeps serving, but a client that can be told to move to a new
  // connection (HTTP/2's GOAWAY) is told now, so long-lived connections do not hold the drain.
  virtual void NoticeDrain() {}

 private:
  uint64_t id_;
};

class SessionSet {
 public:
  Session* Add(std::unique_ptr<Session> session) {
    Session* raw = session.get();
    sessions_.emplace(raw, std::move(session));
    opened_.fetch_add(1, std::memory_order_relaxed);
    open_.store(sessions_.size(), std::memory_order_relaxed);
    if (gauge_) gauge_->Set(static_cast<double>(sessions_.size()));
    return raw;
  }

  // From a session's last close callback: the session is destroyed here.
  void Remove(Session* session) {
    sessions_.erase(session);
    open_.store(sessions_.size(), std::memory_order_relaxed);
    if (gauge_) gauge_->Set(static_cast<double>(sessions_.size()));
    if (sessions_.empty() && on_empty_) std::exchange(on_empty_, nullptr)();
  }

  size_t size() const { return sessions_.size(); }
  // For other threads (the drain's quiet check): sessions open now, and ever opened.
  size_t open_count() const { return open_.load(std::memory_order_relaxed); }
  uint64_t opened_count() const { return opened_.load(std::memory_order_relaxed); }

  void AbortAll() {
    // Abort only closes handles; removal happens in later close callbacks, so iterating is safe.
    for (auto& [raw, session] : sessions_) session->Abort();
  }

  void NoticeDrainAll() {
    for (auto& [raw, session] : sessions_) session->NoticeDrain();
  }

  void DrainAll() {
    // Drain may close idle sessions; removal happens in later close callbacks.
    for (auto& [raw, session] : sessions_) session->Drain();
  }

  // The gauge that shows how many sessions are open (this worker's series).
  void SetGauge(metrics::Gauge* gauge) { gauge_ = gauge; }

  // Runs `callback` once, when the set next becomes empty.
  void OnEmpty(std::function<void()> callback) { on_empty_ = std::move(callback); }

 private:
  std::unordered_map<Session*, std::unique_ptr<Session>> sessions_;
  std::function<void()> on_empty_;
  std::atomic<size_t> open_{0};
  std::atomic<uint64_t> opened_{0};
  metrics::Gauge* gauge_ = nullptr;
};

}  // namespace podrouter
