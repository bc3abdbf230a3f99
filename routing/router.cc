// Route: fixed ordinals, port offsets, shard keys, ordinal headers and balance routes.
#include "routing/router.h"

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

RouteResult NoEndpoint(const config::Service& service, std::optional<uint32_t> ordinal) {
  std::string body = "{\"error\":\"no_endpoint\",\"service\":";
  body += JsonString(service.id);
  if (ordinal) body += ",\"ordinal\":" + std::to_string(*ordinal);
  return Fail(503, metrics::RouteFailure::kNoEndpoint, body + "}\n");
}

RouteResult Found(const Endpoint* e) {
  RouteResult r;
  r.endpoint = e;
  return r;
}

const Endpoint* Any(PickerState* state, const EndpointSet& pods) {
  if (pods.empty()) return nullptr;
  return &pods.all()[state->round_robin++ % pods.size()];
}

// The pod for `ordinal`, or with fallback: next the next present ordinal in [start, start + span).
RouteResult ByOrdinal(const config::Route& route, const config::Service& service,
                      const EndpointSet& pods, uint32_t ordinal, uint32_t span) {
  if (const Endpoint* e = pods.ByOrdinal(ordinal)) return Found(e);
  const uint32_t start = service.ordinal_start;
  if (route.fallback_next && span > 0 && ordinal >= start && ordinal - start < span) {
    if (const Endpoint* e = NextPresent(pods, ordinal, start, span)) return Found(e);
  }
  return NoEndpoint(service, ordinal);
}

}  // namespace

const char* ErrorWord(metrics::RouteFailure reason) {
  return reason == metrics::RouteFailure::kConnectFailed ? "upstream_connect_failed"
                                                         : metrics::ToString(reason);
}

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

RouteResult Route(const config::Route& route, const config::Service& service,
                  const RouteInput& input, const EndpointSnapshot& snapshot, PickerState* state,
                  std::string* scratch) {
  const EndpointSet& pods = *snapshot;
  // A TCP connection has no head: routes that read one are HTTP-only (the loader refuses them).
  static const HttpHead kNoHead;
  const HttpHead& request = input.request ? *input.request : kNoHead;
  switch (route.kind) {
    case Kind::kOrdinal:
      return ByOrdinal(route, service, pods, route.ordinal, 0);
    case Kind::kPortOffset:
      return ByOrdinal(route, service, pods, service.ordinal_start + input.port_offset, 0);
    case Kind::kShardKey: {
      auto key = ExtractShardKey(request, *route.shard_key, scratch);
      if (!key) {
        if (!route.missing_key_any) {
          return Fail(400, metrics::RouteFailure::kMissingKey, ErrorBody("missing_key"));
        }
        const Endpoint* e = Any(state, pods);
        return e ? Found(e) : NoEndpoint(service, std::nullopt);
      }
      return ByOrdinal(route, service, pods,
                       ShardOrdinal(*key, route.shards, service.ordinal_start), route.shards);
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
      return ByOrdinal(route, service, pods, ordinal, service.replicas.value_or(0));
    }
    case Kind::kBalance: {
      // Round robin, and every balance of a TCP connection (it has no key), ignore keys.
      if (route.balance == config::Route::Balance::kRoundRobin || !input.request) {
        const Endpoint* e = Any(state, pods);
        return e ? Found(e) : NoEndpoint(service, std::nullopt);
      }
      auto key =
          route.shard_key ? ExtractShardKey(request, *route.shard_key, scratch) : std::nullopt;
      if (!key && !route.missing_key_any) {
        return Fail(400, metrics::RouteFailure::kMissingKey, ErrorBody("missing_key"));
      }
      if (pods.empty()) return NoEndpoint(service, std::nullopt);
      if (!key) return Found(Any(state, pods));
      if (state->maglev_pods != snapshot) {  // looked up again only when the snapshot changed
        state->maglev = MaglevFor(snapshot);
        state->maglev_pods = snapshot;
      }
      return Found(&pods.all()[static_cast<size_t>(state->maglev->Pick(HashKey(*key)))]);
    }
  }
  return NoEndpoint(service, std::nullopt);
}

}  // namespace podrouter
