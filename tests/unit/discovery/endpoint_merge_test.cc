// MergeLookups (discovery/endpoint_merge.h) against fixed tables: address choice, last known good
// per pod, `a` discovery, invalid addresses.
#include "discovery/endpoint_merge.h"

#include <gtest/gtest.h>

namespace podrouter {
namespace {

std::string Describe(const std::vector<Endpoint>& endpoints) {
  EndpointSet set(endpoints);
  std::string out;
  for (const auto& e : set.all()) {
    out += (out.empty() ? "" : " ") + e.pod + "=" + (e.ordinal ? std::to_string(*e.ordinal) : "-") +
           "@" + e.address;
  }
  return out;
}

PodLookup Lookup(std::string pod, std::optional<uint32_t> ordinal,
                 std::vector<std::string> addresses, bool failed = false) {
  return PodLookup{std::move(pod), "", ordinal, 5432, std::move(addresses), failed};
}

EndpointSet Before() {
  std::vector<Endpoint> all;
  for (auto [pod, ordinal, ip] : std::vector<std::tuple<std::string, uint32_t, std::string>>{
           {"mydb-0", 0, "10.0.0.1"}, {"mydb-1", 1, "10.0.0.2"}, {"mydb-2", 2, "10.0.0.3"}}) {
    Endpoint e;
    EXPECT_TRUE(MakeEndpoint(ordinal, pod, ip, 5432, &e));
    all.push_back(e);
  }
  return EndpointSet(all);
}

TEST(MergeLookups, PerPodTable) {
  const EndpointSet before = Before();
  struct Case {
    const char* what;
    std::vector<PodLookup> lookups;
    std::string want;
    bool partial;
  } cases[] = {
      {"one address each",
       {Lookup("mydb-0", 0, {"10.0.0.1"}), Lookup("mydb-1", 1, {"10.0.0.9"})},
       "mydb-0=0@10.0.0.1 mydb-1=1@10.0.0.9",
       false},
      {"the lowest IPv4 of several, whatever the order",
       {Lookup("mydb-0", 0, {"10.0.0.7", "::1", "10.0.0.5", "10.0.0.7"})},
       "mydb-0=0@10.0.0.5",
       false},
      {"IPv6 only", {Lookup("mydb-0", 0, {"fd00::2", "fd00::1"})}, "mydb-0=0@fd00::1", false},
      {"a failed lookup keeps that pod's last address, and only that pod's",
       {Lookup("mydb-0", 0, {"10.0.0.8"}), Lookup("mydb-1", 1, {}, /*failed=*/true)},
       "mydb-0=0@10.0.0.8 mydb-1=1@10.0.0.2",
       true},
      {"a pod not known before whose lookup failed is not invented",
       {Lookup("mydb-5", 5, {}, /*failed=*/true)},
       "",
       true},
      {"an authoritative empty answer drops the pod",
       {Lookup("mydb-0", 0, {"10.0.0.1"}), Lookup("mydb-1", 1, {})},
       "mydb-0=0@10.0.0.1",
       false},
      {"a pod without an ordinal",
       {Lookup("mydb-2-0", std::nullopt, {"10.0.0.4"})},
       "mydb-2-0=-@10.0.0.4",
       false},
      {"an address that is not an IP is skipped",
       {Lookup("mydb-0", 0, {"not-an-ip"}), Lookup("mydb-1", 1, {"10.0.0.2"})},
       "mydb-1=1@10.0.0.2",
       false},
  };
  for (auto& c : cases) {
    MergeResult r = MergeLookups(c.lookups, before, /*all_addresses=*/false);
    EXPECT_EQ(Describe(r.endpoints), c.want) << c.what;
    EXPECT_EQ(r.partial, c.partial) << c.what;
  }
}

TEST(MergeLookups, ADiscoveryTakesEveryAddressAndKeepsAllOnFailure) {
  const EndpointSet before = Before();
  MergeResult r = MergeLookups({Lookup("", std::nullopt, {"10.0.0.3", "10.0.0.1", "10.0.0.3"})},
                               before, /*all_addresses=*/true);
  EXPECT_EQ(Describe(r.endpoints), "10.0.0.1=-@10.0.0.1 10.0.0.3=-@10.0.0.3");
  EXPECT_FALSE(r.partial);
  r = MergeLookups({Lookup("", std::nullopt, {}, /*failed=*/true)}, before, true);
  EXPECT_EQ(Describe(r.endpoints), "mydb-0=0@10.0.0.1 mydb-1=1@10.0.0.2 mydb-2=2@10.0.0.3");
  EXPECT_TRUE(r.partial);
}

}  // namespace
}  // namespace podrouter
