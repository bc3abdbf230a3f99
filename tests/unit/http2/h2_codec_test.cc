// H2Codec: a client and a server codec wired to each other in memory (no sockets), checked for
// whole heads, bodies, trailers, flow control held to the window until consumed, the early
// response's RST_STREAM NO_ERROR (RFC 9113 §8.1) and GOAWAY.
#include "http2/h2_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace podrouter {
namespace {

struct Peer : H2Codec::Delegate {
  struct Stream {
    std::vector<std::string> heads;  // "kind method url status" per block
    std::map<std::string, std::string> fields;
    std::string data;
    bool ended = false;
    int closed = -1;       // the error code, once closed
    std::string outgoing;  // body to send
    bool outgoing_end = true;
    HttpHead trailers;
  };

  uint32_t OnHead(int32_t id, H2Codec::HeadKind kind, HttpHead& head, bool end) override {
    Stream& s = streams[id];
    static const char* kKinds[] = {"request", "informational", "response", "trailers"};
    s.heads.push_back(std::string(kKinds[static_cast<int>(kind)]) + " " + head.method + " " +
                      head.url + " " + std::to_string(head.status));
    for (const HttpHeader& h : head.headers()) s.fields[h.name] = h.value;
    if (end) s.ended = true;
    last_stream = id;
    return 0;
  }
  void OnData(int32_t id, const uint8_t* data, size_t len) override {
    streams[id].data.append(reinterpret_cast<const char*>(data), len);
    if (auto_consume) codec->Consume(id, len);
  }
  void OnEndStream(int32_t id) override { streams[id].ended = true; }
  void OnStreamClose(int32_t id, uint32_t error_code) override {
    streams[id].closed = static_cast<int>(error_code);
  }
  void OnGoaway(int32_t last, uint32_t) override { goaway_last = last; }
  ssize_t ReadBody(int32_t id, uint8_t* buf, size_t len, H2Codec::BodyEnd* end) override {
    Stream& s = streams[id];
    size_t n = std::min(len, s.outgoing.size());
    if (n > 0) {
      memcpy(buf, s.outgoing.data(), n);
      s.outgoing.erase(0, n);
      return static_cast<ssize_t>(n);
    }
    if (!s.outgoing_end) return H2Codec::kDeferred;
    end->eof = true;
    if (!s.trailers.headers().empty()) end->trailers = &s.trailers;
    return 0;
  }

  H2Codec* codec = nullptr;
  bool auto_consume = true;
  std::map<int32_t, Stream> streams;
  int32_t last_stream = 0;
  int32_t goaway_last = -1;
};

class CodecPair : public ::testing::Test {
 protected:
  CodecPair() {
    client_peer.codec = &client;
    server_peer.codec = &server;
  }
  // Moves bytes both ways until neither side has any to send.
  void Pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      std::string_view out;
      while (client.Pull(&out) && !out.empty()) {
        ASSERT_TRUE(server.Receive(out.data(), out.size()));
        moved = true;
      }
      while (server.Pull(&out) && !out.empty()) {
        ASSERT_TRUE(client.Receive(out.data(), out.size()));
        moved = true;
      }
      if (!moved) return;
    }
    FAIL() << "the codecs never went quiet";
  }
  static HttpHead Request(const char* method, const char* url) {
    HttpHead head;
    head.method = method;
    head.url = url;
    head.AddHeader("host", "mydb");
    head.AddHeader("x-tenant-id", "t-7");
    return head;
  }

  Peer client_peer, server_peer;
  H2Codec client{H2Codec::Role::kClient, &client_peer};
  H2Codec server{H2Codec::Role::kServer, &server_peer};
};

TEST_F(CodecPair, RequestAndResponseWithBodiesAndTrailers) {
  int32_t id = client.SubmitRequest(Request("POST", "/svc/M"), true, nullptr);
  ASSERT_GT(id, 0);
  client_peer.streams[id].outgoing = "hello";
  client_peer.streams[id].trailers.AddHeader("x-checksum", "5");
  Pump();
  Peer::Stream& at_server = server_peer.streams[id];
  ASSERT_EQ(at_server.heads.size(), 2u);
  EXPECT_EQ(at_server.heads[0], "request POST /svc/M 0");
  EXPECT_EQ(at_server.heads[1], "trailers   0");
  EXPECT_EQ(at_server.fields["host"], "mydb");  // :authority
  EXPECT_EQ(at_server.fields["x-tenant-id"], "t-7");
  EXPECT_EQ(at_server.fields["x-checksum"], "5");
  EXPECT_EQ(at_server.data, "hello");

  HttpHead response;
  response.status = 200;
  response.AddHeader("content-type", "application/grpc");
  server_peer.streams[id].outgoing = "world";
  server_peer.streams[id].trailers.AddHeader("grpc-status", "0");
  ASSERT_EQ(server.SubmitResponse(id, response, true), 0);
  Pump();
  Peer::Stream& at_client = client_peer.streams[id];
  ASSERT_EQ(at_client.heads.size(), 2u);
  EXPECT_EQ(at_client.heads[0], "response   200");
  EXPECT_EQ(at_client.heads[1], "trailers   0");
  EXPECT_EQ(at_client.fields["grpc-status"], "0");
  EXPECT_EQ(at_client.data, "world");
  EXPECT_EQ(at_client.closed, 0);
  EXPECT_EQ(server_peer.streams[id].closed, 0);
}

// A header block nghttp2 will not encode (over its 64 KiB send limit) must not leave the stream
// waiting for it (found by the breaker: an HTTP/1.1 pod's 70 KB trailer hung an HTTP/2 client).
TEST_F(CodecPair, AHeaderBlockTooLargeToSendResetsTheStream) {
  int32_t id = client.SubmitRequest(Request("GET", "/"), false, nullptr);
  ASSERT_GT(id, 0);
  Pump();
  HttpHead response;
  response.status = 200;
  server_peer.streams[id].outgoing = "abc";
  server_peer.streams[id].trailers.AddHeader("x-big", std::string(70000, 'a'));
  ASSERT_EQ(server.SubmitResponse(id, response, true), 0);
  Pump();
  EXPECT_EQ(client_peer.streams[id].data, "abc");
  EXPECT_EQ(client_peer.streams[id].closed, NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(server_peer.streams[id].closed, NGHTTP2_INTERNAL_ERROR);
}

// A stream cancelled before its HEADERS left (a client giving up while the pod's connection is
// still being made) must leave nothing on the wire: RST_STREAM for a stream the peer never saw
// is a connection error (RFC 9113 §6.4) that would end every other stream on the connection.
TEST_F(CodecPair, AStreamCancelledBeforeItsHeadersLeftIsNeverAnnounced) {
  int32_t cancelled = client.SubmitRequest(Request("POST", "/b"), true, nullptr);
  client.Reset(cancelled, NGHTTP2_CANCEL);
  Pump();
  EXPECT_EQ(server_peer.streams.count(cancelled), 0u);
  int32_t next = client.SubmitRequest(Request("GET", "/c"), false, nullptr);
  Pump();
  EXPECT_EQ(client_peer.goaway_last, -1);  // the server saw no protocol error
  EXPECT_EQ(server_peer.streams[next].heads.size(), 1u);
}

TEST_F(CodecPair, ThePeerGetsNoMoreThanAWindowUntilItIsConsumed) {
  server_peer.auto_consume = false;
  int32_t id = client.SubmitRequest(Request("POST", "/upload"), true, nullptr);
  client_peer.streams[id].outgoing.assign(1 << 20, 'x');
  client_peer.streams[id].outgoing_end = false;
  Pump();
  EXPECT_EQ(server_peer.streams[id].data.size(), static_cast<size_t>(H2Codec::kStreamWindow));
  // The bytes went on: as many may come again (nghttp2 updates the window once half of it is
  // consumed, so less than that is not announced yet).
  server.Consume(id, 100 * 1024);
  Pump();
  EXPECT_EQ(server_peer.streams[id].data.size(), static_cast<size_t>(H2Codec::kStreamWindow));
  server.Consume(id, 50 * 1024);
  Pump();
  EXPECT_EQ(server_peer.streams[id].data.size(),
            static_cast<size_t>(H2Codec::kStreamWindow) + 150 * 1024);
}

TEST_F(CodecPair, AResponseBeforeTheRequestEndsResetsTheStreamWithNoError) {
  int32_t id = client.SubmitRequest(Request("POST", "/early"), true, nullptr);
  client_peer.streams[id].outgoing = "part";
  client_peer.streams[id].outgoing_end = false;  // the request goes on
  Pump();
  H2HeaderList answer;
  GrpcTrailersOnly(GrpcStatus::kInvalidArgument, "missing_key", &answer);
  ASSERT_EQ(server.SubmitHeaders(id, &answer, true), 0);
  Pump();
  EXPECT_EQ(client_peer.streams[id].fields["grpc-status"], "3");
  EXPECT_EQ(client_peer.streams[id].closed, static_cast<int>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(server_peer.streams[id].closed, static_cast<int>(NGHTTP2_NO_ERROR));
}

TEST_F(CodecPair, GoawayTellsTheClientTheLastStreamProcessed) {
  int32_t id = client.SubmitRequest(Request("GET", "/a"), false, nullptr);
  Pump();
  server.Goaway(NGHTTP2_NO_ERROR);
  Pump();
  EXPECT_EQ(client_peer.goaway_last, id);
  // A stream opened after the GOAWAY never reaches the server: it ends as refused.
  int32_t late = client.SubmitRequest(Request("GET", "/b"), false, nullptr);
  Pump();
  EXPECT_EQ(server_peer.streams.count(late), 0u);
  EXPECT_EQ(client_peer.streams[late].closed, static_cast<int>(NGHTTP2_REFUSED_STREAM));
}

TEST_F(CodecPair, GarbageIsAConnectionErrorEndingInGoaway) {
  Pump();
  const std::string garbage(64, '\xff');
  server.Receive(garbage.data(), garbage.size());
  std::string_view out;
  while (server.Pull(&out) && !out.empty()) client.Receive(out.data(), out.size());
  EXPECT_EQ(client_peer.goaway_last, 0);
  // The GOAWAY went out: the server neither reads nor writes any more, so the connection closes.
  EXPECT_FALSE(server.want_read());
  EXPECT_FALSE(server.want_write());
}

}  // namespace
}  // namespace podrouter

namespace podrouter {
namespace {

TEST_F(CodecPair, AStreamNobodyReadsDoesNotStallTheConnectionsOtherStreams) {
  server_peer.auto_consume = false;
  int32_t stuck = client.SubmitRequest(Request("POST", "/stuck"), true, nullptr);
  client_peer.streams[stuck].outgoing.assign(1 << 20, 's');
  client_peer.streams[stuck].outgoing_end = false;
  Pump();
  ASSERT_EQ(server_peer.streams[stuck].data.size(), static_cast<size_t>(H2Codec::kStreamWindow));
  // Another stream moves more than a connection window while the first is never consumed.
  int32_t moving = client.SubmitRequest(Request("POST", "/moving"), true, nullptr);
  client_peer.streams[moving].outgoing_end = false;
  const size_t total = 2 * static_cast<size_t>(H2Codec::kConnectionWindow);
  size_t consumed = 0;
  for (size_t sent = 0; sent < total; sent += 64 * 1024) {
    client_peer.streams[moving].outgoing.assign(64 * 1024, 'm');
    client.ResumeData(moving);
    Pump();
    server.Consume(moving, server_peer.streams[moving].data.size() - consumed);
    consumed = server_peer.streams[moving].data.size();
    Pump();
  }
  EXPECT_EQ(server_peer.streams[moving].data.size(), total);
  EXPECT_EQ(server_peer.streams[stuck].data.size(), static_cast<size_t>(H2Codec::kStreamWindow));
}

}  // namespace
}  // namespace podrouter
