// WorkerBalancer: compare counts, hand over through the target loop's task queue.
#include "app/worker_balancer.h"

#include <unistd.h>

#include "app/worker_loop.h"
#include "base/log.h"

namespace podrouter {
namespace {

// An accepted descriptor on its way to another loop: closed if the task never runs (the loop
// stopped first), so no connection leaks.
struct HeldFd {
  int fd;
  explicit HeldFd(int f) : fd(f) {}
  ~HeldFd() {
    if (fd >= 0) ::close(fd);
  }
  int Release() { return std::exchange(fd, -1); }
};

}  // namespace

WorkerBalancer::WorkerBalancer(std::vector<WorkerLoop*> loops)
    : loops_(std::move(loops)), incoming_(new std::atomic<size_t>[loops_.size()]) {
  for (size_t i = 0; i < loops_.size(); ++i) incoming_[i].store(0);
}

bool WorkerBalancer::Rehome(uint32_t from, const std::string& bind, uint32_t offset, int fd) {
  if (stopped_.load(std::memory_order_relaxed)) return false;
  auto load = [&](size_t i) {
    return loops_[i]->open_sessions() + incoming_[i].load(std::memory_order_relaxed);
  };
  const size_t own = load(from);
  size_t best = from, best_load = own;
  for (size_t i = 0; i < loops_.size(); ++i) {
    if (size_t l = load(i); l < best_load) best = i, best_load = l;
  }
  if (best == from || best_load + own / 8 >= own) return false;
  incoming_[best].fetch_add(1, std::memory_order_relaxed);
  LOG_DEBUG("event=connection_rehomed bind=%s from_worker=%u to_worker=%zu open=%zu/%zu",
            bind.c_str(), from, best, own, best_load);
  auto held = std::make_shared<HeldFd>(fd);
  loops_[best]->Run([this, best, bind, offset, held](WorkerLoop& w) {
    incoming_[best].fetch_sub(1, std::memory_order_relaxed);
    w.Adopt(bind, offset, held->Release());
  });
  return true;
}

}  // namespace podrouter
