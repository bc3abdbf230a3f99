// Turns one configured service into an EndpointSet, again and again: at the answer's TTL (clamped,
// jittered), with backoff and the last known good set on failure, publishing only on change.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <unordered_set>

#include "config/config.h"
#include "discovery/endpoint_merge.h"
#include "discovery/endpoint_set.h"
#include "dns/dns_client.h"
#include "metrics/metrics.h"

namespace podrouter {

class ServiceResolver {
 public:
  enum class Result { kNone, kOk, kEmpty, kError };
  struct Status {
    Result result = Result::kNone;
    std::string error;        // for kError
    int64_t finished_ms = 0;  // wall clock (ms since the epoch) of the last finished resolution
    bool stale = false;       // the set is the last known good one, kept through a failure
  };

  // A non-null `seed` is published at once and counts as resolved: a reload keeps what it knew.
  ServiceResolver(uv_loop_t* loop, DnsClient* dns, config::Service service, config::Dns dns_config,
                  metrics::Metrics* metrics, EndpointSnapshot seed);
  // Stops resolving. Listeners may still hold the resolver (and read its last set) after this.
  static void Close(std::shared_ptr<ServiceResolver> resolver);

  void Start();  // first resolution now

  // Runs `prepare` (on this loop) on every snapshot before it is published, and on the current
  // one at once: what workers will derive from a snapshot (a Maglev table) is built here, once,
  // rather than on a request's path. One hook; a later call replaces it.
  void PrepareSnapshots(std::function<void(const EndpointSnapshot&)> prepare);

  // Safe from any thread: workers take a snapshot per connection or request.
  EndpointSnapshot snapshot() const { return snapshot_.load(std::memory_order_acquire); }
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  const config::Service& service() const { return service_; }
  const Status& status() const { return status_; }

  ServiceResolver(const ServiceResolver&) = delete;
  ServiceResolver& operator=(const ServiceResolver&) = delete;

 private:
  struct Attempt;

  void Resolve();
  void OnSrv(Attempt& attempt, int status, const unsigned char* answer, int len);
  void LookupAddresses(const std::shared_ptr<Attempt>& attempt, size_t pod);
  void OnAddresses(Attempt& attempt, size_t pod, int status, const unsigned char* answer, int len);
  void Done(Attempt& attempt);  // one outstanding step of the attempt finished
  void Finish(Attempt& attempt);
  void Publish(EndpointSnapshot next);
  // An SRV target that is not `<statefulset>-<ordinal>`: logged and counted once per pod name.
  void NoteTargetWithoutOrdinal(const std::string& pod);
  void Schedule(config::Millis delay);
  double Random() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

  uv_loop_t* loop_;
  DnsClient* dns_;
  const config::Service service_;
  const config::Dns dns_config_;
  metrics::Metrics* metrics_;
  metrics::ServiceMetrics& service_metrics_;
  uv_timer_t timer_;
  std::shared_ptr<Attempt> attempt_;  // queries hold weak references: dropping it cancels them
  std::atomic<EndpointSnapshot> snapshot_;
  std::atomic<bool> ready_{false};
  Status status_;
  uint32_t failures_ = 0;
  static constexpr size_t kMaxRemembered = 4096;
  std::unordered_set<std::string> without_ordinal_;  // pod names already reported
  std::mt19937_64 rng_{std::random_device{}()};
  std::function<void(const EndpointSnapshot&)> prepare_;
  std::shared_ptr<ServiceResolver> self_;  // set while closing: the timer's close ends it
};

const char* ToString(ServiceResolver::Result r);

}  // namespace podrouter
