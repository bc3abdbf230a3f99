// RouteRequest: shard keys, ordinal headers, fixed ordinals and balance routes.
#include "routing/http_router.h"

#include <charconv>

#include "base/json.h"
#include "routing/shard_key.h"

namespace podrouter {
namespace {

using Kind = config::Route::Kind;

RouteResult Fail(int status, metrics::RouteFailure reason, std::string body) {
  RouteResult r;
  r.status = status;
  r.reason = reason;
  r.body = std::move(body);
  return r;
}

RouteResult NoEndpoint(const ListenerState& l, std::optional<uint32_t> ordinal) {
  std::string body = "{\"error\":\"no_endpoint\",\"service\":" + JsonString(l.config.service);
  if (ordinal) body += ",\"ordinal\":" + std::to_string(*ordinal);
  return Fail(503, metrics::RouteFailure::kNoEndpoint, body + "}\n");
}

RouteResult Found(const Endpoint* e) {
  RouteResult r;
  r.endpoint = e;
  return r;
}

const Endpoint* Any(const ListenerState& l, const EndpointSet& pods) {
  if (pods.empty()) return nullptr;
  return &pods.all()[l.round_robin++ % pods.size()];
}

// The pod for `ordinal`, or with fallback: next the next present ordinal in [start, start + span).
RouteResult ByOrdinal(const ListenerState& l, const EndpointSet& pods, uint32_t ordinal,
                      uint32_t span) {
  if (const Endpoint* e = pods.ByOrdinal(ordinal)) return Found(e);
  const uint32_t start = l.service->service().ordinal_start;
  if (l.config.route.fallback_next && span > 0 && ordinal >= start && ordinal - start < span) {
    if (const Endpoint* e = NextPresent(pods, ordinal, start, span)) return Found(e);
  }
  return NoEndpoint(l, ordinal);
}

}  // namespace

std::string ErrorBody(std::string_view error, std::string_view detail_key,
                      std::string_view detail) {
  std::string body = "{\"error\":";
  body += JsonString(error);
  if (!detail_key.empty()) {
    body += ',';
    body += JsonString(detail_key);
    body += ':';
    body += JsonString(detail);
  }
  body += "}\n";
  return body;
}

RouteResult RouteRequest(const ListenerState& l, const HttpHead& request,
                         const EndpointSnapshot& snapshot, uint32_t port_offset,
                         std::string* scratch) {
  const EndpointSet& pods = *snapshot;
  const config::Route& route = l.config.route;
  const config::Service& service = l.service->service();
  switch (route.kind) {
    case Kind::kOrdinal:
      return ByOrdinal(l, pods, route.ordinal, 0);
    case Kind::kPortOffset:
      return ByOrdinal(l, pods, service.ordinal_start + port_offset, 0);
    case Kind::kShardKey: {
      auto key = ExtractShardKey(request, *route.shard_key, scratch);
      if (!key) {
        if (!route.missing_key_any) {
          return Fail(400, metrics::RouteFailure::kMissingKey, ErrorBody("missing_key"));
        }
        const Endpoint* e = Any(l, pods);
        return e ? Found(e) : NoEndpoint(l, std::nullopt);
      }
      return ByOrdinal(l, pods, ShardOrdinal(*key, route.shards, service.ordinal_start),
                       route.shards);
    }
    case Kind::kOrdinalHeader: {
      const std::string* value = request.Find(route.ordinal_header);
      if (!value) {
        return Fail(400, metrics::RouteFailure::kBadOrdinal,
                    ErrorBody("missing_ordinal", "header", route.ordinal_header));
      }
      uint32_t ordinal = 0;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), ordinal);
      if (value->empty() || ec != std::errc() || end != value->data() + value->size()) {
        return Fail(400, metrics::RouteFailure::kBadOrdinal,
                    ErrorBody("bad_ordinal", "header", route.ordinal_header));
      }
      return ByOrdinal(l, pods, ordinal, service.replicas.value_or(0));
    }
    case Kind::kBalance: {
      if (route.balance == config::Route::Balance::kRoundRobin) {
        const Endpoint* e = Any(l, pods);
        return e ? Found(e) : NoEndpoint(l, std::nullopt);
      }
      auto key =
          route.shard_key ? ExtractShardKey(request, *route.shard_key, scratch) : std::nullopt;
      if (!key && !route.missing_key_any) {
        return Fail(400, metrics::RouteFailure::kMissingKey, ErrorBody("missing_key"));
      }
      if (pods.empty()) return NoEndpoint(l, std::nullopt);
      if (!key) return Found(Any(l, pods));
      if (l.maglev_pods != snapshot) {  // rebuilt only when the endpoint set changed
        l.maglev = std::make_unique<MaglevTable>(pods);
        l.maglev_pods = snapshot;
      }
      return Found(&pods.all()[static_cast<size_t>(l.maglev->Pick(HashKey(*key)))]);
    }
  }
  return NoEndpoint(l, std::nullopt);
}

}  // namespace podrouter
