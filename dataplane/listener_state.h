// What a listener's connections consult when they route: the listener's config of the moment,
// its service's resolver and its metric handles. A reload swaps the state behind the ListenerRef,
// so kept-alive HTTP connections follow the new route on their next request.
#pragma once

#include <memory>

#include "config/config.h"
#include "discovery/service_resolver.h"
#include "metrics/metrics.h"
#include "routing/router.h"

namespace podrouter {

struct ListenerState {
  config::Listener config;
  std::shared_ptr<const ServiceResolver> service;  // outlives a reload that replaces it
  metrics::ListenerMetrics* metrics;
};

// One listener on one event loop: the state of the moment (swapped by a reload) and what its
// routes remember between decisions (kept across reloads; only this loop touches it).
struct ListenerRef {
  std::shared_ptr<const ListenerState> current;
  PickerState pickers;
};

}  // namespace podrouter
