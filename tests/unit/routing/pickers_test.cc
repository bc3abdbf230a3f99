// Pickers against fixed tables computed by an independent implementation (tests/e2e/shardmap.py),
// plus the disruption properties the contract promises.
#include "routing/pickers.h"

#include <gtest/gtest.h>

#include <set>

namespace podrouter {
namespace {

EndpointSet Pods(std::vector<std::string> names) {
  std::vector<Endpoint> endpoints;
  int i = 1;
  for (auto& name : names) {
    Endpoint e;
    const std::string stem = name.substr(0, name.rfind('-'));
    EXPECT_TRUE(
        MakeEndpoint(OrdinalFromHost(name, stem), name, "10.0.0." + std::to_string(i++), 80, &e));
    endpoints.push_back(std::move(e));
  }
  return EndpointSet(std::move(endpoints));
}

TEST(Hashing, KnownVectors) {
  EXPECT_EQ(HashKey("user42"), 0x934164743b6a6a0cULL);
  EXPECT_EQ(HashKey(""), 17241709254077376921ULL);
  EXPECT_EQ(HashKey("a"), 15154266338359012955ULL);
  EXPECT_EQ(HashKey(std::string(40, 'x')), 10551747345416853717ULL);
  EXPECT_EQ(JumpConsistentHash(12345678901234567ULL, 1000), 368);
  EXPECT_EQ(JumpConsistentHash(0, 1), 0);
}

TEST(ShardOrdinal, FixedTable) {
  const char* keys[] = {"user42", "alice", "bob", "carol", "dave", "k0", "k1", "k2"};
  const uint32_t owners[] = {2, 1, 2, 1, 2, 2, 2, 2};
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(ShardOrdinal(keys[i], 3, 0), owners[i]) << keys[i];
  EXPECT_EQ(ShardOrdinal("user42", 5, 10), 12u);
  EXPECT_EQ(ShardOrdinal("alice", 5, 10), 11u);
}

TEST(ShardOrdinal, GrowingShardsMovesOnlyToTheNewShard) {
  int moved = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string key = "key-" + std::to_string(i);
    uint32_t before = ShardOrdinal(key, 10, 0), after = ShardOrdinal(key, 11, 0);
    if (before != after) {
      ++moved;
      EXPECT_EQ(after, 10u) << key;  // a key only ever moves to the new shard
    }
  }
  EXPECT_GT(moved, 10000 / 11 - 200);  // about 1/(N+1)
  EXPECT_LT(moved, 10000 / 11 + 200);
}

TEST(NextPresent, WrapsWithinTheSpan) {
  EndpointSet pods = Pods({"db-0", "db-2", "db-4"});
  EXPECT_EQ(NextPresent(pods, 1, 0, 4)->pod, "db-2");
  EXPECT_EQ(NextPresent(pods, 2, 0, 4)->pod, "db-0");  // db-3 absent, db-4 outside the span
  EXPECT_EQ(NextPresent(Pods({"db-1"}), 1, 0, 2), nullptr);
}

TEST(Maglev, FixedTable) {
  MaglevTable t(Pods({"mydb-0", "mydb-1", "mydb-2"}));
  ASSERT_EQ(t.size(), 65537u);
  const int expected[] = {0, 1, 1, 1, 2, 1, 0, 0, 0, 1, 2, 2, 2, 0, 2, 0, 0, 0, 2, 2, 1, 0, 1, 1};
  for (int i = 0; i < 24; ++i) EXPECT_EQ(t.Pick(static_cast<uint64_t>(i)), expected[i]) << i;
  int counts[3] = {0, 0, 0};
  for (uint64_t i = 0; i < 65537; ++i) ++counts[t.Pick(i)];
  EXPECT_EQ(counts[0], 21846);
  EXPECT_EQ(counts[1], 21846);
  EXPECT_EQ(counts[2], 21845);
}

TEST(Maglev, TableSizeIsAPrimeWellAboveTheFleet) {
  EXPECT_EQ(MaglevTable::TableSizeFor(1), 65537u);
  EXPECT_EQ(MaglevTable::TableSizeFor(655), 65537u);
  EXPECT_EQ(MaglevTable::TableSizeFor(1000), 262139u);
  EXPECT_EQ(MaglevTable(EndpointSet()).Pick(7), -1);
}

// Name → the pod a table picks for each of many keys.
std::vector<std::string> Assign(const EndpointSet& pods, int keys) {
  MaglevTable t(pods);
  std::vector<std::string> out;
  for (int i = 0; i < keys; ++i) {
    out.push_back(pods.all()[static_cast<size_t>(t.Pick(HashKey("k" + std::to_string(i))))].pod);
  }
  return out;
}

TEST(Maglev, MinimalDisruptionWhenAPodLeavesOrJoins) {
  std::vector<std::string> names;
  for (int i = 0; i < 10; ++i) names.push_back("cache-" + std::to_string(i));
  EndpointSet all = Pods(names);
  auto before = Assign(all, 20000);
  names.erase(names.begin() + 4);  // cache-4 goes away
  auto after = Assign(Pods(names), 20000);
  int moved_others = 0, moved = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    if (before[i] != "cache-4") ++moved_others;
  }
  EXPECT_GT(moved, 20000 / 10 - 400);    // cache-4's share
  EXPECT_LT(moved_others, 20000 / 100);  // Maglev moves a little more than the minimum: < 1 %
  // Identity is the name: the same pods at other addresses pick identically.
  std::vector<Endpoint> moved_ips;
  int octet = 100;
  for (const auto& e : all.all()) {
    Endpoint copy;
    EXPECT_TRUE(MakeEndpoint(e.ordinal, e.pod, "10.9.0." + std::to_string(octet++), 80, &copy));
    moved_ips.push_back(copy);
  }
  EXPECT_EQ(Assign(EndpointSet(moved_ips), 20000), before);
}

}  // namespace
}  // namespace podrouter
