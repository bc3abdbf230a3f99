// ServiceResolver: the srv / ordinals / a discovery modes on top of DnsClient.
#include "discovery/service_resolver.h"

#include <arpa/nameser.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>

#include "base/log.h"
#include "discovery/endpoint_merge.h"
#include "discovery/refresh.h"
#include "dns/dns_message.h"

namespace podrouter {
namespace {

enum class Outcome { kData, kNoData, kError };

// NXDOMAIN and NOERROR-without-records are authoritative "nothing there"; anything else is a
// failure that must not empty the set.
Outcome Classify(int status) {
  if (status == ARES_SUCCESS) return Outcome::kData;
  if (status == ARES_ENOTFOUND || status == ARES_ENODATA) return Outcome::kNoData;
  return Outcome::kError;
}

int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Describe(const Endpoint& e) {
  return e.pod + "@" +
         (e.address.find(':') != std::string::npos ? "[" + e.address + "]" : e.address) + ":" +
         std::to_string(e.port);
}

}  // namespace

const char* ToString(ServiceResolver::Result r) {
  switch (r) {
    case ServiceResolver::Result::kNone:
      return "none";
    case ServiceResolver::Result::kOk:
      return "ok";
    case ServiceResolver::Result::kEmpty:
      return "empty";
    case ServiceResolver::Result::kError:
      return "error";
  }
  return "?";
}

struct ServiceResolver::Attempt {
  uint64_t started_ns = uv_hrtime();
  int pending = 1;      // outstanding queries, plus one while queries are still being issued
  bool failed = false;  // the service-level query failed: keep the whole last known good set
  std::string error;
  uint32_t min_ttl = UINT32_MAX;
  std::vector<PodLookup> pods;

  void Fail(const std::string& what) {
    failed = true;
    if (error.empty()) error = what;
  }
  void Ttl(uint32_t ttl) { min_ttl = std::min(min_ttl, ttl); }
};

ServiceResolver::ServiceResolver(uv_loop_t* loop, DnsClient* dns, config::Service service,
                                 config::Dns dns_config, metrics::Metrics* metrics,
                                 EndpointSnapshot seed)
    : loop_(loop),
      dns_(dns),
      service_(std::move(service)),
      dns_config_(std::move(dns_config)),
      metrics_(metrics),
      service_metrics_(metrics->ForService(service_.id)),
      snapshot_(seed ? seed : std::make_shared<const EndpointSet>()),
      ready_(seed != nullptr) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  service_metrics_.endpoints->Set(static_cast<double>(snapshot()->size()));
}

void ServiceResolver::Close(std::shared_ptr<ServiceResolver> resolver) {
  ServiceResolver* r = resolver.get();
  r->attempt_.reset();  // in-flight answers now find nothing to report to
  r->self_ = std::move(resolver);
  uv_close(reinterpret_cast<uv_handle_t*>(&r->timer_), [](uv_handle_t* h) {
    auto self = std::move(static_cast<ServiceResolver*>(h->data)->self_);
  });
}

void ServiceResolver::Start() { Schedule(Millis(0)); }

void ServiceResolver::PrepareSnapshots(std::function<void(const EndpointSnapshot&)> prepare) {
  prepare_ = std::move(prepare);
  if (prepare_) prepare_(snapshot());
}

void ServiceResolver::Schedule(Millis delay) {
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<ServiceResolver*>(t->data)->Resolve(); },
      static_cast<uint64_t>(delay.count()), 0);
}

void ServiceResolver::Resolve() {
  auto attempt = std::make_shared<Attempt>();
  attempt_ = attempt;
  std::weak_ptr<Attempt> weak = attempt;
  switch (service_.discovery) {
    case config::Discovery::kSrv: {
      std::string name = "_" + service_.port_name + "._tcp." + service_.name + ".";
      ++attempt->pending;
      dns_->Query(name, ns_t_srv, [this, weak](int status, const unsigned char* a, int len) {
        if (auto at = weak.lock()) OnSrv(*at, status, a, len);
      });
      break;
    }
    case config::Discovery::kOrdinals:
      for (uint32_t i = 0; i < *service_.replicas; ++i) {
        uint32_t ordinal = service_.ordinal_start + i;
        std::string pod = service_.statefulset + "-" + std::to_string(ordinal);
        attempt->pods.push_back({pod, pod + "." + service_.name, ordinal, *service_.port, {}});
      }
      for (size_t i = 0; i < attempt->pods.size(); ++i) LookupAddresses(attempt, i);
      break;
    case config::Discovery::kA:
      attempt->pods.push_back({"", service_.name, std::nullopt, *service_.port, {}});
      LookupAddresses(attempt, 0);
      break;
  }
  Done(*attempt);
}

void ServiceResolver::OnSrv(Attempt& attempt, int status, const unsigned char* answer, int len) {
  std::shared_ptr<Attempt> keep = attempt_;  // OnAddresses may be reached synchronously
  Outcome outcome = Classify(status);
  DnsMessage message;
  std::string error;
  if (outcome == Outcome::kError) {
    attempt.Fail("SRV: " + dns_->Describe(status));
  } else if (outcome == Outcome::kData && !ParseDnsMessage(answer, len, &message, &error)) {
    attempt.Fail("SRV: malformed answer: " + error);
  } else {
    for (const auto& srv : message.srv) {
      attempt.Ttl(srv.ttl);
      std::string pod = PodNameFromHost(srv.target);
      bool seen = std::any_of(attempt.pods.begin(), attempt.pods.end(),
                              [&](const PodLookup& p) { return p.host == srv.target; });
      if (seen || srv.target.empty()) continue;
      PodLookup lookup{pod,
                       srv.target,
                       OrdinalFromHost(srv.target, service_.statefulset),
                       service_.port.value_or(srv.port),
                       {}};
      if (!lookup.ordinal) NoteTargetWithoutOrdinal(pod);
      for (const auto& a : message.addresses) {
        if (a.section == DnsSection::kAdditional && a.owner == srv.target) {
          lookup.addresses.push_back(a.address);
          attempt.Ttl(a.ttl);
        }
      }
      attempt.pods.push_back(std::move(lookup));
    }
    // Targets the server sent no addresses for are looked up one by one.
    for (size_t i = 0; i < attempt.pods.size(); ++i) {
      if (attempt.pods[i].addresses.empty()) LookupAddresses(keep, i);
    }
  }
  Done(attempt);
}

void ServiceResolver::NoteTargetWithoutOrdinal(const std::string& pod) {
  if (!without_ordinal_.insert(pod).second) return;
  if (without_ordinal_.size() > kMaxRemembered) without_ordinal_ = {pod};  // Deployment churn
  service_metrics_.pods_without_ordinal->Increment();
  LOG_WARN(
      "service=%s event=target_without_ordinal pod=%s statefulset=%s "
      "note=\"not <statefulset>-<ordinal>: routed by balance routes only\"",
      service_.id.c_str(), pod.c_str(), service_.statefulset.c_str());
}

void ServiceResolver::LookupAddresses(const std::shared_ptr<Attempt>& attempt, size_t pod) {
  std::weak_ptr<Attempt> weak = attempt;
  for (int type : {ns_t_a, ns_t_aaaa}) {
    ++attempt->pending;
    dns_->Query(attempt->pods[pod].host + ".", type,
                [this, weak, pod](int status, const unsigned char* a, int len) {
                  if (auto at = weak.lock()) OnAddresses(*at, pod, status, a, len);
                });
  }
}

void ServiceResolver::OnAddresses(Attempt& attempt, size_t pod, int status,
                                  const unsigned char* answer, int len) {
  PodLookup& lookup = attempt.pods[pod];
  Outcome outcome = Classify(status);
  DnsMessage message;
  std::string error;
  if (outcome == Outcome::kError) {
    lookup.failed = true;
    if (attempt.error.empty()) attempt.error = lookup.host + ": " + dns_->Describe(status);
  } else if (outcome == Outcome::kData && !ParseDnsMessage(answer, len, &message, &error)) {
    lookup.failed = true;
    if (attempt.error.empty()) attempt.error = lookup.host + ": malformed answer: " + error;
  } else {
    // Any owner: a CNAME chain ends at the pod's address.
    for (const auto& a : message.addresses) {
      if (a.section != DnsSection::kAnswer) continue;
      lookup.addresses.push_back(a.address);
      attempt.Ttl(a.ttl);
    }
  }
  Done(attempt);
}

void ServiceResolver::Done(Attempt& attempt) {
  if (--attempt.pending == 0) Finish(attempt);
}

void ServiceResolver::Finish(Attempt& attempt) {
  auto done = std::move(attempt_);  // keeps `attempt` alive to the end of this function
  const double seconds = static_cast<double>(uv_hrtime() - attempt.started_ns) / 1e9;
  service_metrics_.resolution_duration->Observe(seconds);
  const EndpointSnapshot before = snapshot();
  status_.finished_ms = WallMillis();

  if (attempt.failed) {
    ++failures_;
    service_metrics_.resolutions_error->Increment();
    status_.result = Result::kError;
    status_.error = attempt.error;
    status_.stale = !before->empty();
    Millis retry =
        BackoffDelay(failures_, dns_config_.min_refresh, dns_config_.max_refresh, Random());
    LOG_WARN("service=%s event=dns_error error=%s keeping=%zu retry_in_ms=%" PRId64,
             service_.id.c_str(), LogQuote(attempt.error).c_str(), before->size(),
             static_cast<int64_t>(retry.count()));
    Schedule(retry);
    return;
  }

  MergeResult merged =
      MergeLookups(std::move(attempt.pods), *before, service_.discovery == config::Discovery::kA);
  const bool partial = merged.partial;
  for (auto& e : merged.endpoints) {
    if (!e.metrics) e.metrics = &metrics_->ForPod(service_.id, e.pod);
  }
  std::vector<Endpoint>& endpoints = merged.endpoints;
  auto next = std::make_shared<const EndpointSet>(std::move(endpoints));
  if (partial) {
    ++failures_;
    service_metrics_.resolutions_error->Increment();
    status_.result = Result::kError;
    status_.error = attempt.error;
  } else {
    failures_ = 0;
    (next->empty() ? service_metrics_.resolutions_empty : service_metrics_.resolutions_ok)
        ->Increment();
    status_.result = next->empty() ? Result::kEmpty : Result::kOk;
    status_.error.clear();
  }
  status_.stale = partial;
  if (!next->SameAs(*before)) Publish(next);
  if (!ready_.load()) {
    ready_ = true;
    LOG_INFO("service=%s event=first_resolution result=%s pods=%zu", service_.id.c_str(),
             ToString(status_.result), next->size());
  }
  Millis delay =
      partial
          ? BackoffDelay(failures_, dns_config_.min_refresh, dns_config_.max_refresh, Random())
          : RefreshDelay(std::chrono::seconds(attempt.min_ttl == UINT32_MAX ? 0 : attempt.min_ttl),
                         dns_config_.min_refresh, dns_config_.max_refresh, Random());
  LOG_DEBUG("service=%s event=resolved result=%s pods=%zu ttl=%s next_in_ms=%" PRId64,
            service_.id.c_str(), ToString(status_.result), next->size(),
            attempt.min_ttl == UINT32_MAX ? "-" : std::to_string(attempt.min_ttl).c_str(),
            static_cast<int64_t>(delay.count()));
  Schedule(delay);
}

void ServiceResolver::Publish(EndpointSnapshot next) {
  EndpointSnapshot before = snapshot();
  EndpointDiff diff = Diff(*before, *next);
  // Appended piece by piece: `"," + Describe(...)` trips GCC 12's -Wrestrict false positive at -O3.
  std::string added, removed, changed;
  auto list = [](std::string* out, const std::string& item) {
    if (!out->empty()) out->push_back(',');
    out->append(item);
  };
  for (const auto* e : diff.added) list(&added, Describe(*e));
  for (const auto* e : diff.removed) list(&removed, Describe(*e));
  for (const auto& [b, a] : diff.changed) list(&changed, Describe(*b) + "->" + Describe(*a));
  LOG_INFO("service=%s event=endpoints_changed pods=%zu added=%s removed=%s changed=%s",
           service_.id.c_str(), next->size(), added.empty() ? "-" : added.c_str(),
           removed.empty() ? "-" : removed.c_str(), changed.empty() ? "-" : changed.c_str());
  service_metrics_.endpoints->Set(static_cast<double>(next->size()));
  if (prepare_) prepare_(next);
  snapshot_.store(std::move(next), std::memory_order_release);
}

}  // namespace podrouter
