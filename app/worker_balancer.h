// WorkerBalancer: with `workers: N`, a connection accepted on a worker that has more client
// connections open than another is handed to the one with the fewest. SO_REUSEPORT's address hash
// balances many connections but not the few long-lived ones an application pools (measured: two
// connections on one worker in two rounds of three, docs/benchmarks.md); counting balances them by
// construction. A connection moves at most once, at accept, so requests never cross threads.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "dataplane/connection_balancer.h"

namespace podrouter {

class WorkerLoop;

class WorkerBalancer : public ConnectionBalancer {
 public:
  // `loops`: every worker, by index; they outlive the balancer's use (Stop() before they stop).
  explicit WorkerBalancer(std::vector<WorkerLoop*> loops);

  // Moves `fd` when some worker has fewer connections (open, plus handed over and not yet
  // adopted) than `from` has, by more than an eighth of `from`'s (so a busy listener does not
  // trade connections back and forth over a difference of one).
  bool Rehome(uint32_t from, const std::string& bind, uint32_t offset, int fd) override;
  // From the drain on, every worker keeps what it accepts (a handed-over connection must not
  // reach a worker that has closed its listeners).
  void Stop() { stopped_.store(true, std::memory_order_relaxed); }

 private:
  std::vector<WorkerLoop*> loops_;
  std::unique_ptr<std::atomic<size_t>[]> incoming_;  // handed to worker i, not yet adopted
  std::atomic<bool> stopped_{false};
};

}  // namespace podrouter
