// What a listener's connections consult when they route: the listener's config of the moment,
// its service's resolver and its metric handles. A reload swaps the state behind the ListenerRef,
// so kept-alive HTTP connections follow the new route on their next request.
#pragma once

#include <memory>

#include "config/config.h"
#include "discovery/service_resolver.h"
#include "metrics/metrics.h"
#include "routing/pickers.h"

namespace podrouter {

struct ListenerState {
  config::Listener config;
  std::shared_ptr<const ServiceResolver> service;  // outlives a reload that replaces it
  metrics::ListenerMetrics* metrics;

  // Per-listener routing state (one event loop touches it).
  mutable uint64_t round_robin = 0;
  mutable EndpointSnapshot maglev_pods;  // the set `maglev` was built for
  mutable std::unique_ptr<MaglevTable> maglev;
};

struct ListenerRef {
  std::shared_ptr<const ListenerState> current;
};

}  // namespace podrouter
