// EndpointSet: ordinal parsing from pod names, sorting, lookup and diffing.
#include "proxy/endpoint_set.h"

#include <gtest/gtest.h>

namespace podrouter {
namespace {

Endpoint E(std::optional<uint32_t> ordinal, const std::string& pod, const std::string& ip,
           uint16_t port = 5432) {
  Endpoint e;
  EXPECT_TRUE(MakeEndpoint(ordinal, pod, ip, port, &e));
  return e;
}

TEST(OrdinalFromHost, Table) {
  struct Case {
    const char* host;
    std::optional<uint32_t> ordinal;
  } cases[] = {
      {"mydb-2.mydb.default.svc.cluster.local", 2},
      {"mydb-0", 0},
      {"my-db-17.my-db.ns.svc.cluster.local", 17},
      {"web-007.web", 7},
      {"mydb.default.svc.cluster.local", std::nullopt},  // no -<digits>
      {"mydb-.x", std::nullopt},
      {"-3.x", std::nullopt},
      {"mydb-2a.x", std::nullopt},
      {"mydb-x2.x", std::nullopt},
      {"10-0-0-1.mydb.default.svc.cluster.local", 1},  // a hashed-IP pod name still ends in -1
      {"mydb-1234567890.x", std::nullopt},             // too many digits for an ordinal
      {"", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(OrdinalFromHost(c.host), c.ordinal) << c.host;
  EXPECT_EQ(PodNameFromHost("MyDB-2.mydb.default"), "mydb-2");
}

TEST(EndpointSet, SortsByOrdinalThenNameAndDedupes) {
  EndpointSet set({E(2, "db-2", "10.0.0.3"), E(std::nullopt, "zz", "10.0.0.9"),
                   E(0, "db-0", "10.0.0.1"), E(2, "db-2", "10.0.0.4"), E(1, "db-1", "::1")});
  ASSERT_EQ(set.size(), 4u);
  EXPECT_EQ(set.all()[0].pod, "db-0");
  EXPECT_EQ(set.all()[1].pod, "db-1");
  EXPECT_EQ(set.all()[2].address, "10.0.0.3");  // the first of the duplicate pod wins
  EXPECT_EQ(set.all()[3].pod, "zz");            // pods without ordinals last
  EXPECT_EQ(set.ByOrdinal(1)->address, "::1");
  EXPECT_EQ(set.ByOrdinal(1)->sockaddr.ss_family, AF_INET6);
  EXPECT_EQ(set.ByOrdinal(3), nullptr);
  EXPECT_EQ(set.ByPod("zz")->address, "10.0.0.9");
}

TEST(EndpointSet, ByOrdinalOnEmptyAndUnorderedSets) {
  EXPECT_EQ(EndpointSet().ByOrdinal(0), nullptr);
  EndpointSet only_names({E(std::nullopt, "a", "10.0.0.1")});
  EXPECT_EQ(only_names.ByOrdinal(0), nullptr);
}

TEST(EndpointSet, MakeEndpointRejectsNonAddresses) {
  Endpoint e;
  EXPECT_FALSE(MakeEndpoint(0, "p", "mydb-0", 1, &e));
}

TEST(EndpointDiff, AddedRemovedChangedByPodName) {
  EndpointSet before(
      {E(0, "db-0", "10.0.0.1"), E(1, "db-1", "10.0.0.2"), E(2, "db-2", "10.0.0.3")});
  EndpointSet after(
      {E(0, "db-0", "10.0.0.1"), E(1, "db-1", "10.0.0.12"), E(3, "db-3", "10.0.0.4")});
  EndpointDiff d = Diff(before, after);
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0]->pod, "db-3");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0]->pod, "db-2");
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].first->address, "10.0.0.2");
  EXPECT_EQ(d.changed[0].second->address, "10.0.0.12");
  EXPECT_FALSE(before.SameAs(after));
  EXPECT_TRUE(Diff(after, after).empty());
  EXPECT_TRUE(after.SameAs(EndpointSet(after.all())));
}

TEST(EndpointDiff, PortChangeIsAChange) {
  EndpointSet a({E(0, "db-0", "10.0.0.1", 1)}), b({E(0, "db-0", "10.0.0.1", 2)});
  EXPECT_EQ(Diff(a, b).changed.size(), 1u);
  EXPECT_FALSE(a.SameAs(b));
}

}  // namespace
}  // namespace podrouter
