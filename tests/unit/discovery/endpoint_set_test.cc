// EndpointSet: ordinal parsing from pod names, sorting, lookup and diffing.
#include "discovery/endpoint_set.h"

#include <gtest/gtest.h>

namespace podrouter {
namespace {

Endpoint E(std::optional<uint32_t> ordinal, const std::string& pod, const std::string& ip,
           uint16_t port = 5432) {
  Endpoint e;
  EXPECT_TRUE(MakeEndpoint(ordinal, pod, ip, port, &e));
  return e;
}

TEST(OrdinalFromHost, OnlyTheStatefulSetsOwnPodsHaveOrdinals) {
  struct Case {
    const char* host;
    const char* statefulset;
    std::optional<uint32_t> ordinal;
  } cases[] = {
      {"mydb-2.mydb.default.svc.cluster.local", "mydb", 2},
      {"mydb-0", "mydb", 0},
      {"MyDB-4.mydb.default", "mydb", 4},  // names compare case-insensitively
      {"my-db-17.my-db.ns.svc.cluster.local", "my-db", 17},
      {"mydb-2147483647.x", "mydb", 2147483647u},
      // Issue 10, item 5: a pod of StatefulSet mydb-2, CoreDNS's dashed-IP name, a leading zero.
      {"mydb-2-0.mydb.default.svc.cluster.local", "mydb", std::nullopt},
      {"10-1-0-13.mydb.default.svc.cluster.local", "mydb", std::nullopt},
      {"mydb-03.mydb.default.svc.cluster.local", "mydb", std::nullopt},
      {"web-007.web", "web", std::nullopt},
      {"mydb-2-0.mydb", "mydb-2", 0},  // ...which is ordinal 0 of mydb-2
      {"otherdb-1.mydb", "mydb", std::nullopt},
      {"xmydb-1.mydb", "mydb", std::nullopt},
      {"mydb.default.svc.cluster.local", "mydb", std::nullopt},
      {"mydb-.x", "mydb", std::nullopt},
      {"mydb--1.x", "mydb", std::nullopt},
      {"mydb-2a.x", "mydb", std::nullopt},
      {"mydb-+2.x", "mydb", std::nullopt},
      {"mydb-2147483648.x", "mydb", std::nullopt},  // above int32
      {"mydb-12345678901.x", "mydb", std::nullopt},
      {"mydb-1", "", std::nullopt},
      {"", "mydb", std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(OrdinalFromHost(c.host, c.statefulset), c.ordinal)
        << c.host << " / " << c.statefulset;
  }
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
