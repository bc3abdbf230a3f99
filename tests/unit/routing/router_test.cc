// Route (routing/router.h) against fixed tables, one row per route kind and case: fixed ordinal,
// port_offset, ordinal header (valid, missing, bad, out of range, fallback), every shard-key
// source, on_missing_key, fallback: next, ordinal_start ≠ 0, maglev, round robin, TCP (no head).
#include "routing/router.h"

#include <gtest/gtest.h>

#include <set>

namespace podrouter {
namespace {

using Kind = config::Route::Kind;
using Source = config::ShardKey::Source;

// Pods `stem`-<ordinal> for the given ordinals, at 10.0.0.<ordinal+1>.
EndpointSnapshot Pods(std::vector<uint32_t> ordinals, const std::string& stem = "mydb") {
  std::vector<Endpoint> endpoints;
  for (uint32_t o : ordinals) {
    Endpoint e;
    EXPECT_TRUE(MakeEndpoint(o, stem + "-" + std::to_string(o),
                             "10.0.0." + std::to_string(o % 250 + 1), 5432, &e));
    endpoints.push_back(std::move(e));
  }
  return std::make_shared<const EndpointSet>(std::move(endpoints));
}

config::Service Service(uint32_t replicas, uint32_t ordinal_start = 0) {
  config::Service s;
  s.id = "mydb";
  s.name = "mydb.default.svc.cluster.local";
  s.replicas = replicas;
  s.ordinal_start = ordinal_start;
  return s;
}

HttpHead Request(std::string url, std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpHead h;
  h.method = "GET";
  h.url = std::move(url);
  for (auto& [n, v] : headers) h.AddHeader(n, v);
  return h;
}

config::Route ShardRoute(Source source, std::string name, uint32_t shards, uint32_t segment = 0) {
  config::Route r;
  r.kind = Kind::kShardKey;
  r.shard_key = config::ShardKey{source, std::move(name), segment};
  r.shards = shards;
  return r;
}

// The pod a route picks ("" when none), or "status:error" for an answer podrouter gives itself.
std::string Pick(const config::Route& route, const config::Service& service,
                 const EndpointSnapshot& pods, const HttpHead* request, uint32_t port_offset = 0,
                 PickerState* state = nullptr) {
  PickerState local;
  std::string scratch;
  RouteResult r = Route(route, service, RouteInput{request, port_offset}, pods,
                        state ? state : &local, &scratch);
  if (r.endpoint) return r.endpoint->pod;
  return std::to_string(r.status) + ":" + metrics::ToString(r.reason);
}

TEST(Router, FixedOrdinalAndPortOffset) {
  const auto pods = Pods({0, 1, 3});
  config::Route fixed;
  fixed.kind = Kind::kOrdinal;
  fixed.ordinal = 1;
  EXPECT_EQ(Pick(fixed, Service(4), pods, nullptr), "mydb-1");  // TCP: no head needed
  fixed.ordinal = 2;
  EXPECT_EQ(Pick(fixed, Service(4), pods, nullptr), "503:no_endpoint");
  config::Route offset;
  offset.kind = Kind::kPortOffset;
  EXPECT_EQ(Pick(offset, Service(4), pods, nullptr, 3), "mydb-3");
  EXPECT_EQ(Pick(offset, Service(4), pods, nullptr, 2), "503:no_endpoint");
  // ordinal_start ≠ 0: port offset 1 is ordinal 11.
  EXPECT_EQ(Pick(offset, Service(3, 10), Pods({10, 11, 12}), nullptr, 1), "mydb-11");
}

TEST(Router, OrdinalHeaderTable) {
  config::Route route;
  route.kind = Kind::kOrdinalHeader;
  route.ordinal_header = "x-pod-ordinal";
  const auto pods = Pods({0, 1, 3});
  struct Case {
    const char* value;  // nullptr: no header
    bool fallback;
    std::string want;
  } cases[] = {
      {"1", false, "mydb-1"},
      {"3", false, "mydb-3"},
      {nullptr, false, "400:bad_ordinal"},  // missing_ordinal
      {"", false, "400:bad_ordinal"},
      {"x", false, "400:bad_ordinal"},
      {"-1", false, "400:bad_ordinal"},
      {"1x", false, "400:bad_ordinal"},
      {"+1", false, "400:bad_ordinal"},
      {"99999999999", false, "400:bad_ordinal"},
      {"2", false, "503:no_endpoint"},
      {"2", true, "mydb-3"},           // fallback: next present
      {"7", true, "503:no_endpoint"},  // out of range: no fallback beyond the replicas
      {"4", false, "503:no_endpoint"},
  };
  for (const auto& c : cases) {
    route.fallback_next = c.fallback;
    HttpHead h = c.value ? Request("/", {{"X-Pod-Ordinal", c.value}}) : Request("/");
    EXPECT_EQ(Pick(route, Service(4), pods, &h), c.want) << (c.value ? c.value : "(none)");
  }
}

TEST(Router, EveryShardKeySourceReachesTheOwner) {
  const auto pods = Pods({0, 1, 2, 3, 4});
  const std::string owner = "mydb-" + std::to_string(ShardOrdinal("user 42", 5, 0));
  struct Case {
    config::Route route;
    HttpHead request;
  } cases[] = {
      {ShardRoute(Source::kHeader, "x-shard-key", 5), Request("/", {{"X-Shard-Key", "user 42"}})},
      {ShardRoute(Source::kHeader, "x-shard-key", 5), Request("/", {{"x-shard-key", " user 42 "}})},
      {ShardRoute(Source::kQuery, "k", 5), Request("/p?a=1&k=user%2042#f")},
      {ShardRoute(Source::kCookie, "sid", 5), Request("/", {{"Cookie", "a=b; sid=\"user 42\""}})},
      {ShardRoute(Source::kPathSegment, "", 5, 1), Request("/t/user%2042/x")},
      {ShardRoute(Source::kPathSegment, "", 5, 1), Request("http://h:1/t/user%2042?q")},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Pick(c.route, Service(5), pods, &c.request), owner) << c.request.url;
  }
}

TEST(Router, MissingKeysAndDownOwners) {
  config::Route route = ShardRoute(Source::kHeader, "x-shard-key", 5);
  const HttpHead none = Request("/");
  EXPECT_EQ(Pick(route, Service(5), Pods({0, 1, 2, 3, 4}), &none), "400:missing_key");
  route.missing_key_any = true;
  EXPECT_NE(Pick(route, Service(5), Pods({0, 1, 2, 3, 4}), &none).rfind("mydb-", 0),
            std::string::npos);
  EXPECT_EQ(Pick(route, Service(5), Pods({}), &none), "503:no_endpoint");
  // The owner is down: its keys fail (or go to the next present ordinal), nobody else's move.
  const uint32_t owner = ShardOrdinal("k", 5, 0);
  std::vector<uint32_t> others;
  for (uint32_t o = 0; o < 5; ++o) {
    if (o != owner) others.push_back(o);
  }
  const HttpHead keyed = Request("/", {{"X-Shard-Key", "k"}});
  route.missing_key_any = false;
  EXPECT_EQ(Pick(route, Service(5), Pods(others), &keyed), "503:no_endpoint");
  route.fallback_next = true;
  EXPECT_EQ(Pick(route, Service(5), Pods(others), &keyed),
            "mydb-" + std::to_string((owner + 1) % 5));
  // ordinal_start ≠ 0: the same key, shifted.
  route.fallback_next = false;
  EXPECT_EQ(Pick(route, Service(5, 100), Pods({100, 101, 102, 103, 104}), &keyed),
            "mydb-" + std::to_string(100 + owner));
}

TEST(Router, RoundRobinCyclesAndTcpBalanceIgnoresKeys) {
  config::Route route;
  route.kind = Kind::kBalance;
  route.balance = config::Route::Balance::kRoundRobin;
  const auto pods = Pods({0, 1, 2});
  PickerState state;
  const HttpHead h = Request("/");
  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) seen.push_back(Pick(route, Service(3), pods, &h, 0, &state));
  EXPECT_EQ(seen,
            (std::vector<std::string>{"mydb-0", "mydb-1", "mydb-2", "mydb-0", "mydb-1", "mydb-2"}));
  route.balance = config::Route::Balance::kMaglev;
  route.shard_key = config::ShardKey{Source::kHeader, "x-user", 0};
  EXPECT_EQ(Pick(route, Service(3), pods, nullptr, 0, &state), "mydb-0");  // TCP: round robin
  EXPECT_EQ(Pick(route, Service(3), Pods({}), nullptr), "503:no_endpoint");
}

TEST(Router, MaglevIsStableAndBuiltOncePerSnapshot) {
  config::Route route;
  route.kind = Kind::kBalance;
  route.balance = config::Route::Balance::kMaglev;
  route.shard_key = config::ShardKey{Source::kHeader, "x-user", 0};
  const auto pods = Pods({0, 1, 2, 3});
  PickerState a, b;  // two workers
  std::set<std::string> used;
  for (int i = 0; i < 200; ++i) {
    const HttpHead h = Request("/", {{"X-User", "u" + std::to_string(i)}});
    const std::string first = Pick(route, Service(4), pods, &h, 0, &a);
    EXPECT_EQ(Pick(route, Service(4), pods, &h, 0, &b), first);  // same key, same pod
    used.insert(first);
  }
  EXPECT_EQ(used.size(), 4u);
  EXPECT_EQ(a.maglev.get(), b.maglev.get());  // one table for the snapshot, shared
  EXPECT_EQ(a.maglev, MaglevFor(pods));
  // A new snapshot (a pod recreated with a new IP) gets its own table; keys stay with names.
  std::vector<Endpoint> moved = pods->all();
  ASSERT_TRUE(MakeEndpoint(2, "mydb-2", "10.9.9.9", 5432, &moved[2]));
  auto next = std::make_shared<const EndpointSet>(std::move(moved));
  for (int i = 0; i < 50; ++i) {
    const HttpHead h = Request("/", {{"X-User", "u" + std::to_string(i)}});
    EXPECT_EQ(Pick(route, Service(4), next, &h, 0, &a), Pick(route, Service(4), pods, &h, 0, &b));
  }
  EXPECT_NE(a.maglev.get(), b.maglev.get());
  // Without a key: reject, or any pod with on_missing_key: any.
  const HttpHead none = Request("/");
  EXPECT_EQ(Pick(route, Service(4), pods, &none), "400:missing_key");
}

}  // namespace
}  // namespace podrouter
