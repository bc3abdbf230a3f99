// HTTP/2 header lists from HTTP/1.1 heads (RFC 9113 §8.2.2, §8.3) and gRPC's header conventions.
#include "http2/h2_headers.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace podrouter {
namespace {

std::vector<std::pair<std::string, std::string>> Fields(H2HeaderList& list) {
  std::vector<std::pair<std::string, std::string>> out;
  const nghttp2_nv* nv = list.data();
  for (size_t i = 0; i < list.size(); ++i) {
    out.emplace_back(std::string(reinterpret_cast<const char*>(nv[i].name), nv[i].namelen),
                     std::string(reinterpret_cast<const char*>(nv[i].value), nv[i].valuelen));
  }
  return out;
}

TEST(ToH2Request, PseudoHeadersFirstAndConnectionSpecificHeadersDropped) {
  HttpHead head;
  head.method = "POST";
  head.url = "/svc/Method?x=1";
  head.AddHeader("Host", "mydb:8080");
  head.AddHeader("Connection", "keep-alive, X-Hop");
  head.AddHeader("X-Hop", "dropped: named by Connection");
  head.AddHeader("Keep-Alive", "timeout=5");
  head.AddHeader("Transfer-Encoding", "chunked");
  head.AddHeader("Upgrade", "h2c");
  head.AddHeader("TE", "trailers");
  head.AddHeader("X-Tenant-Id", "t-1");
  H2HeaderList list;
  ToH2Request(head, "http", &list);
  std::vector<std::pair<std::string, std::string>> want = {
      {":method", "POST"},          {":scheme", "http"}, {":authority", "mydb:8080"},
      {":path", "/svc/Method?x=1"}, {"te", "trailers"},  {"x-tenant-id", "t-1"}};
  EXPECT_EQ(Fields(list), want);
}

TEST(ToH2Request, TeOtherThanTrailersIsDroppedAndAMissingHostIsLocalhost) {
  HttpHead head;
  head.method = "GET";
  head.url = "";
  head.AddHeader("TE", "gzip");
  H2HeaderList list;
  ToH2Request(head, "http", &list);
  std::vector<std::pair<std::string, std::string>> want = {
      {":method", "GET"}, {":scheme", "http"}, {":authority", "localhost"}, {":path", "/"}};
  EXPECT_EQ(Fields(list), want);
}

TEST(ToH2Response, StatusThenHeadersLowerCased) {
  HttpHead head;
  head.status = 204;
  head.AddHeader("X-Pod", "mydb-1");
  head.AddHeader("Connection", "close");
  H2HeaderList list;
  ToH2Response(head, &list);
  std::vector<std::pair<std::string, std::string>> want = {{":status", "204"}, {"x-pod", "mydb-1"}};
  EXPECT_EQ(Fields(list), want);
  // The arena is reused: a second list replaces the first.
  head.status = 503;
  ToH2Response(head, &list);
  EXPECT_EQ(Fields(list)[0], (std::pair<std::string, std::string>{":status", "503"}));
}

TEST(IsGrpc, ContentTypeApplicationGrpcAloneOrWithASuffix) {
  struct Case {
    const char* type;
    bool grpc;
  } cases[] = {{"application/grpc", true},
               {"application/grpc+proto", true},
               {"Application/GRPC;x=1", true},
               {"application/grpc-web", false},
               {"application/grpcx", false},
               {"application/json", false},
               {"", false}};
  for (const Case& c : cases) {
    HttpHead head;
    head.AddHeader("content-type", c.type);
    EXPECT_EQ(IsGrpc(head), c.grpc) << c.type;
  }
  EXPECT_FALSE(IsGrpc(HttpHead{}));
}

TEST(ParseGrpcTimeoutMs, UnitsRoundUpAndMalformedValuesAreRefused) {
  EXPECT_EQ(ParseGrpcTimeoutMs("1H"), 3600000u);
  EXPECT_EQ(ParseGrpcTimeoutMs("2M"), 120000u);
  EXPECT_EQ(ParseGrpcTimeoutMs("3S"), 3000u);
  EXPECT_EQ(ParseGrpcTimeoutMs("300m"), 300u);
  EXPECT_EQ(ParseGrpcTimeoutMs("1500u"), 2u);
  EXPECT_EQ(ParseGrpcTimeoutMs("1n"), 1u);
  EXPECT_EQ(ParseGrpcTimeoutMs("99999999S"), 99999999000u);  // 8 digits, the most allowed
  for (const char* bad : {"", "S", "100", "123456789S", "1x", "-1S", "1.5S", " 1S"}) {
    EXPECT_FALSE(ParseGrpcTimeoutMs(bad).has_value()) << bad;
  }
}

TEST(GrpcTrailersOnly, Http200WithStatusAndMessage) {
  H2HeaderList list;
  GrpcTrailersOnly(GrpcStatus::kUnavailable, "no_endpoint", &list);
  std::vector<std::pair<std::string, std::string>> want = {{":status", "200"},
                                                           {"content-type", "application/grpc"},
                                                           {"grpc-status", "14"},
                                                           {"grpc-message", "no_endpoint"}};
  EXPECT_EQ(Fields(list), want);
  GrpcTrailersOnly(GrpcStatus::kInvalidArgument, "missing_key", &list);
  EXPECT_EQ(Fields(list)[2], (std::pair<std::string, std::string>{"grpc-status", "3"}));
}

TEST(GrpcStatusOf, NumberOrMinusOne) {
  HttpHead head;
  EXPECT_EQ(GrpcStatusOf(head), -1);
  head.AddHeader("grpc-status", "14");
  EXPECT_EQ(GrpcStatusOf(head), 14);
  HttpHead bad;
  bad.AddHeader("grpc-status", "1x");
  EXPECT_EQ(GrpcStatusOf(bad), -1);
}

}  // namespace
}  // namespace podrouter
