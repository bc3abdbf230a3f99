// Shard-key extraction from each source, and head serialisation without hop-by-hop headers.
#include "http/http_head.h"

#include <gtest/gtest.h>

#include "routing/shard_key.h"

namespace podrouter {
namespace {

using Source = config::ShardKey::Source;

HttpHead Request(const std::string& url, std::vector<HttpHeader> headers = {}) {
  HttpHead h;
  h.method = "GET";
  h.url = url;
  for (const auto& header : headers) h.AddHeader(header.name, header.value);
  return h;
}

std::optional<std::string> Key(const HttpHead& h, Source source, std::string name,
                               uint32_t segment = 0) {
  config::ShardKey key;
  key.source = source;
  key.name = std::move(name);
  key.segment = segment;
  std::string scratch;
  auto found = ExtractShardKey(h, key, &scratch);
  return found ? std::optional<std::string>(*found) : std::nullopt;
}

TEST(ShardKey, Header) {
  HttpHead h = Request("/", {{"X-Shard-Key", " user42 "}, {"x-shard-key", "second"}});
  EXPECT_EQ(Key(h, Source::kHeader, "x-shard-key"), "user42");
  EXPECT_EQ(Key(h, Source::kHeader, "x-other"), std::nullopt);
  EXPECT_EQ(Key(Request("/", {{"X-Shard-Key", ""}}), Source::kHeader, "x-shard-key"), std::nullopt);
}

TEST(ShardKey, Query) {
  HttpHead h = Request("/p?a=1&user=al%20ice&user=bob#frag");
  EXPECT_EQ(Key(h, Source::kQuery, "user"), "al ice");
  EXPECT_EQ(Key(h, Source::kQuery, "a"), "1");
  EXPECT_EQ(Key(h, Source::kQuery, "none"), std::nullopt);
  EXPECT_EQ(Key(Request("/p?user="), Source::kQuery, "user"), std::nullopt);
  EXPECT_EQ(Key(Request("/p?user"), Source::kQuery, "user"), std::nullopt);
  EXPECT_EQ(Key(Request("/p"), Source::kQuery, "user"), std::nullopt);
  EXPECT_EQ(Key(Request("/p?us%65r=x"), Source::kQuery, "user"), "x");
}

TEST(ShardKey, Cookie) {
  HttpHead h = Request("/", {{"Cookie", "a=1; sid=\"abc\""}, {"cookie", "sid=later"}});
  EXPECT_EQ(Key(h, Source::kCookie, "sid"), "abc");
  EXPECT_EQ(Key(h, Source::kCookie, "a"), "1");
  EXPECT_EQ(Key(h, Source::kCookie, "b"), std::nullopt);
}

TEST(ShardKey, PathSegment) {
  HttpHead h = Request("/t/KEY%2F1/x?q=1");
  EXPECT_EQ(Key(h, Source::kPathSegment, "", 0), "t");
  EXPECT_EQ(Key(h, Source::kPathSegment, "", 1), "KEY/1");
  EXPECT_EQ(Key(h, Source::kPathSegment, "", 2), "x");
  EXPECT_EQ(Key(h, Source::kPathSegment, "", 3), std::nullopt);
  EXPECT_EQ(Key(Request("http://host:80/a/b"), Source::kPathSegment, "", 1), "b");
  EXPECT_EQ(Key(Request("/a//b"), Source::kPathSegment, "", 1), std::nullopt);
  EXPECT_EQ(Key(Request("*"), Source::kPathSegment, "", 0), std::nullopt);
}

TEST(Serialize, RequestDropsHopByHopAndReframes) {
  HttpHead h = Request("/x", {{"Host", "h"},
                              {"Connection", "keep-alive, X-Private"},
                              {"X-Private", "secret"},
                              {"Keep-Alive", "timeout=5"},
                              {"Transfer-Encoding", "chunked"},
                              {"X-Shard-Key", "k"}});
  std::string out;
  SerializeRequestHead(h, BodyFraming::kChunked, false, &out);
  EXPECT_EQ(out,
            "GET /x HTTP/1.1\r\nHost: h\r\nX-Shard-Key: k\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(Serialize, ResponseForHttp10ClientWithoutLength) {
  HttpHead h;
  h.status = 200;
  h.reason = "OK";
  h.AddHeader("Content-Type", "text/plain");
  h.AddHeader("Transfer-Encoding", "chunked");
  std::string out;
  SerializeResponseHead(h, 0, BodyFraming::kClose, false, false, &out);
  EXPECT_EQ(out, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
  h.Clear();
  h.status = 200;
  h.reason = "OK";
  h.AddHeader("Content-Length", "2");
  SerializeResponseHead(h, 1, BodyFraming::kLength, true, false, &out);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
}

TEST(Serialize, UpgradeKeepsUpgradeHeaders) {
  HttpHead h = Request("/ws", {{"Connection", "Upgrade"}, {"Upgrade", "websocket"}});
  std::string out;
  SerializeRequestHead(h, BodyFraming::kNone, true, &out);
  EXPECT_EQ(out, "GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
}

// The same answers whether the Connection header lists a few names (scanned) or many (sorted
// once, so a head of thousands of fields is not checked in quadratic time).
TEST(HopByHopFields, FewAndManyConnectionNamesGiveTheSameAnswers) {
  for (int names : {1, 8, 9, 40}) {
    HttpHead h;
    std::string list = "keep-alive";
    for (int i = 1; i < names; ++i) list += (i % 2 ? ", X-Hop-" : ",x-hop-") + std::to_string(i);
    h.AddHeader("Connection", list + " ,, ");
    const HopByHopFields hop(h);
    EXPECT_TRUE(hop.Contains("Keep-Alive")) << names;
    EXPECT_TRUE(hop.Contains("transfer-encoding")) << names;
    EXPECT_FALSE(hop.Contains("X-Other")) << names;
    EXPECT_FALSE(hop.Contains("")) << names;
    for (int i = 1; i < names; ++i) {
      EXPECT_TRUE(hop.Contains("X-HOP-" + std::to_string(i))) << names << " " << i;
    }
    EXPECT_FALSE(hop.Contains("x-hop-" + std::to_string(names))) << names;
  }
  EXPECT_FALSE(HopByHopFields(HttpHead()).Contains("x-hop-1"));
}

// A trailer section goes on without what frames, routes or is meant for one hop only.
TEST(Serialize, LastChunkCarriesForwardableTrailers) {
  std::string out;
  SerializeLastChunk(nullptr, &out);
  EXPECT_EQ(out, "0\r\n\r\n");
  HttpHead t;
  t.AddHeader("X-Checksum", "abc");
  t.AddHeader("Connection", "X-Hop");
  t.AddHeader("X-Hop", "1");
  t.AddHeader("Content-Length", "5");
  t.AddHeader("Host", "elsewhere");
  t.AddHeader("Transfer-Encoding", "chunked");
  t.AddHeader("grpc-status", "0");
  SerializeLastChunk(&t, &out);
  EXPECT_EQ(out, "0\r\nX-Checksum: abc\r\ngrpc-status: 0\r\n\r\n");
}

TEST(PercentDecode, KeepsBadEscapes) { EXPECT_EQ(PercentDecode("a%20b%zz%4"), "a b%zz%4"); }

}  // namespace
}  // namespace podrouter
