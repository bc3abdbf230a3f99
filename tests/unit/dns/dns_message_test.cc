// DNS answer parsing: SRV with additional records, TTLs, compression, and malformed packets.
#include "dns/dns_message.h"

#include <gtest/gtest.h>

#include "tests/unit/dns/dns_builder.h"

namespace podrouter {
namespace {

using testing::A;
using testing::AAAA;
using testing::BuildResponse;
using testing::SRV;

constexpr char kSrvName[] = "_pg._tcp.mydb.default.svc.cluster.local";

TEST(DnsMessage, SrvWithAdditionalAddresses) {
  auto packet = BuildResponse(7, kSrvName, 33, 0,
                              {SRV(kSrvName, 5432, "mydb-0.mydb.default.svc.cluster.local", 30),
                               SRV(kSrvName, 5432, "MYDB-1.mydb.default.svc.cluster.local", 5)},
                              {A("mydb-0.mydb.default.svc.cluster.local", "10.1.0.1", 20),
                               AAAA("mydb-1.mydb.default.svc.cluster.local", "fd00::1", 10)});
  DnsMessage m;
  std::string error;
  ASSERT_TRUE(ParseDnsMessage(packet.data(), static_cast<int>(packet.size()), &m, &error)) << error;
  ASSERT_EQ(m.srv.size(), 2u);
  EXPECT_EQ(m.srv[0].target, "mydb-0.mydb.default.svc.cluster.local");
  EXPECT_EQ(m.srv[0].port, 5432);
  EXPECT_EQ(m.srv[0].ttl, 30u);
  EXPECT_EQ(m.srv[1].target, "mydb-1.mydb.default.svc.cluster.local");  // lower-cased
  ASSERT_EQ(m.addresses.size(), 2u);
  EXPECT_EQ(m.addresses[0].address, "10.1.0.1");
  EXPECT_EQ(m.addresses[0].section, DnsSection::kAdditional);
  EXPECT_EQ(m.addresses[1].address, "fd00::1");
  EXPECT_EQ(m.addresses[1].ttl, 10u);
  EXPECT_EQ(m.rcode, 0);
}

TEST(DnsMessage, RcodeAndTruncation) {
  auto packet = BuildResponse(1, "x.cluster.local", 1, 3, {}, {}, true);
  DnsMessage m;
  std::string error;
  ASSERT_TRUE(ParseDnsMessage(packet.data(), static_cast<int>(packet.size()), &m, &error));
  EXPECT_EQ(m.rcode, 3);
  EXPECT_TRUE(m.truncated);
}

TEST(DnsMessage, CompressedNamesAndHugeTtl) {
  // Answer owner is a pointer to the question name (offset 12); TTL has the top bit set.
  auto packet = BuildResponse(1, "a.b", 1, 0, {});
  packet[7] = 1;  // ancount = 1
  const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0x80, 0, 0, 0, 0, 4, 192, 0, 2, 1};
  packet.insert(packet.end(), rr, rr + sizeof(rr));
  DnsMessage m;
  std::string error;
  ASSERT_TRUE(ParseDnsMessage(packet.data(), static_cast<int>(packet.size()), &m, &error)) << error;
  ASSERT_EQ(m.addresses.size(), 1u);
  EXPECT_EQ(m.addresses[0].owner, "a.b");
  EXPECT_EQ(m.addresses[0].ttl, 0u);
  EXPECT_EQ(m.addresses[0].address, "192.0.2.1");
}

TEST(DnsMessage, EveryTruncationOfAValidPacketFailsCleanly) {
  auto packet = BuildResponse(7, kSrvName, 33, 0,
                              {SRV(kSrvName, 5432, "mydb-0.mydb.default.svc.cluster.local")},
                              {A("mydb-0.mydb.default.svc.cluster.local", "10.1.0.1")});
  for (size_t len = 0; len < packet.size(); ++len) {
    std::vector<uint8_t> cut(packet.begin(), packet.begin() + static_cast<long>(len));
    DnsMessage m;
    std::string error;
    EXPECT_FALSE(ParseDnsMessage(cut.data(), static_cast<int>(cut.size()), &m, &error)) << len;
    EXPECT_FALSE(error.empty());
  }
}

TEST(DnsMessage, MalformedRecords) {
  DnsMessage m;
  std::string error;
  auto bad_a = BuildResponse(1, "a.b", 1, 0, {{"a.b", 1, 5, {1, 2, 3}}});
  EXPECT_FALSE(ParseDnsMessage(bad_a.data(), static_cast<int>(bad_a.size()), &m, &error));
  EXPECT_EQ(error, "address record of the wrong length");
  auto bad_srv = BuildResponse(1, "a.b", 33, 0, {{"a.b", 33, 5, {0, 0, 0, 0, 0, 1}}});
  EXPECT_FALSE(ParseDnsMessage(bad_srv.data(), static_cast<int>(bad_srv.size()), &m, &error));
  EXPECT_EQ(error, "malformed SRV record");
  auto query = BuildResponse(1, "a.b", 1, 0, {});
  query[2] &= 0x7f;  // QR bit clear: a query, not a response
  EXPECT_FALSE(ParseDnsMessage(query.data(), static_cast<int>(query.size()), &m, &error));
  EXPECT_EQ(error, "not a response");
  // A compression pointer loop must not hang.
  std::vector<uint8_t> loop = BuildResponse(1, "a.b", 1, 0, {});
  loop[7] = 1;
  const uint8_t rr[] = {
      0xc0, static_cast<uint8_t>(loop.size()), 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4};
  loop.insert(loop.end(), rr, rr + sizeof(rr));
  EXPECT_FALSE(ParseDnsMessage(loop.data(), static_cast<int>(loop.size()), &m, &error));
}

}  // namespace
}  // namespace podrouter
