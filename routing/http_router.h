// Per-request routing for HTTP listeners: from a request head and the pods present now to one pod,
// or to the error podrouter answers itself (with its JSON body and the failure reason).
#pragma once

#include <string>

#include "discovery/endpoint_set.h"
#include "http/http_head.h"
#include "metrics/metrics.h"
#include "routing/listener_state.h"

namespace podrouter {

struct RouteResult {
  const Endpoint* endpoint = nullptr;  // set on success; points into `pods`
  int status = 0;                      // otherwise: 400 or 503
  metrics::RouteFailure reason = metrics::RouteFailure::kNoEndpoint;
  std::string body;  // JSON
};

// `pods` is the snapshot to route over; results point into it. `scratch` holds a decoded shard
// key (the caller keeps it from request to request, so routing does not allocate).
RouteResult RouteRequest(const ListenerState& listener, const HttpHead& request,
                         const EndpointSnapshot& pods, uint32_t port_offset, std::string* scratch);

// {"error":"...",...} bodies for the errors podrouter answers.
std::string ErrorBody(std::string_view error, std::string_view detail_key = {},
                      std::string_view detail = {});

}  // namespace podrouter
