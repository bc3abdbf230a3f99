// Routing: one pure function from what is known of a request — its HTTP head, or nothing for a
// TCP connection — and the pods present now, to one pod or to the reason there is none (with the
// JSON body podrouter answers). No I/O, no event loop: the route, the service and the endpoint
// snapshot come in as values, and the only state is the caller's PickerState (SPEC "Routing
// rules").
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "discovery/endpoint_set.h"
#include "http/http_head.h"
#include "metrics/metrics.h"
#include "routing/pickers.h"

namespace podrouter {

// What a route remembers between decisions, per listener and event loop (one thread touches it).
struct PickerState {
  uint64_t round_robin = 0;
  EndpointSnapshot maglev_pods;               // the snapshot `maglev` was built for
  std::shared_ptr<const MaglevTable> maglev;  // shared by every worker (MaglevFor)
};

// What the router may read of the request: the head (nullptr for a TCP connection, which has no
// headers and no key) and the offset of the listening port in its bind range.
struct RouteInput {
  const HttpHead* request = nullptr;
  uint32_t port_offset = 0;
};

struct RouteResult {
  const Endpoint* endpoint = nullptr;  // set on success; points into the snapshot routed over
  int status = 0;                      // otherwise: 400 or 503
  metrics::RouteFailure reason = metrics::RouteFailure::kNoEndpoint;
  std::string body;  // JSON, for the answer podrouter gives itself
};

// Routes over `pods` (results point into it) by `route` of a listener on `service`. `scratch`
// holds a decoded shard key (the caller keeps it from request to request, so routing does not
// allocate once warm).
RouteResult Route(const config::Route& route, const config::Service& service,
                  const RouteInput& input, const EndpointSnapshot& pods, PickerState* state,
                  std::string* scratch);

// The error word of a JSON body (and of a gRPC answer's grpc-message) for a route failure: its
// metric label, except `upstream_connect_failed` for a failed connect.
const char* ErrorWord(metrics::RouteFailure reason);

// {"error":"...",...} bodies for the errors podrouter answers.
std::string ErrorBody(std::string_view error, std::string_view detail_key = {},
                      std::string_view detail = {});

}  // namespace podrouter
