// Message framing by RFC 9112 §6 (http_framing.h) against fixed tables, and the parser holding
// llhttp to it: a refused head is never accepted, `chunked` + whitespace is chunked, bodiless
// statuses end at the blank line whatever their headers say.
#include "http/http_framing.h"

#include <gtest/gtest.h>

#include "http/http_parser.h"

namespace podrouter {
namespace {

HttpHead Head(std::vector<std::pair<std::string, std::string>> headers, int status = 0,
              uint8_t minor = 1) {
  HttpHead h;
  h.method = status ? "" : "POST";
  h.status = status;
  h.minor = minor;
  for (auto& [n, v] : headers) h.AddHeader(n, v);
  return h;
}

struct Case {
  std::vector<std::pair<std::string, std::string>> headers;
  BodyFraming body;
  int error_status;
};

// Each case's head through `framing`: its error status, or its body framing when there is none.
template <typename Framing>
void CheckTable(const std::vector<Case>& cases, Framing framing) {
  for (const auto& c : cases) {
    MessageFraming f = framing(c.headers);
    std::string what =
        c.headers.empty() ? "(none)" : c.headers[0].first + ": " + c.headers[0].second;
    EXPECT_EQ(f.error_status, c.error_status) << what;
    if (!c.error_status) {
      EXPECT_EQ(f.body, c.body) << what;
    } else {
      EXPECT_NE(f.error, nullptr) << what;
    }
  }
}

TEST(RequestFraming, Table) {
  std::vector<Case> cases = {
      {{}, BodyFraming::kNone, 0},
      {{{"Content-Length", "3"}}, BodyFraming::kLength, 0},
      {{{"content-length", " 0 "}}, BodyFraming::kLength, 0},
      {{{"Transfer-Encoding", "chunked"}}, BodyFraming::kChunked, 0},
      {{{"Transfer-Encoding", "Chunked"}}, BodyFraming::kChunked, 0},
      {{{"Transfer-Encoding", "chunked\t"}}, BodyFraming::kChunked, 0},  // OWS, RFC 9110 §5.5
      {{{"Transfer-Encoding", "gzip"}}, BodyFraming::kNone, 501},
      {{{"Transfer-Encoding", "identity"}}, BodyFraming::kNone, 501},
      {{{"Transfer-Encoding", "gzip, chunked"}}, BodyFraming::kNone, 501},
      {{{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}, BodyFraming::kNone, 501},
      {{{"Transfer-Encoding", "chunked, gzip"}}, BodyFraming::kNone, 400},
      {{{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}},
       BodyFraming::kNone,
       400},
      {{{"Transfer-Encoding", "chunked,"}}, BodyFraming::kNone, 400},
      {{{"Transfer-Encoding", ""}}, BodyFraming::kNone, 400},
      {{{"Transfer-Encoding", "chun ked"}}, BodyFraming::kNone, 400},
      {{{"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}}, BodyFraming::kNone, 400},
      {{{"Content-Length", "3"}, {"Content-Length", "3"}}, BodyFraming::kNone, 400},
      {{{"Content-Length", "3, 3"}}, BodyFraming::kNone, 400},
      {{{"Content-Length", "-1"}}, BodyFraming::kNone, 400},
      {{{"Content-Length", "+1"}}, BodyFraming::kNone, 400},
      {{{"Content-Length", ""}}, BodyFraming::kNone, 400},
      {{{"Content-Length", "1234567890123456789"}}, BodyFraming::kNone, 400},
  };
  CheckTable(cases, [](const auto& headers) { return RequestFraming(Head(headers)); });
  EXPECT_EQ(RequestFraming(Head({{"Content-Length", "42"}})).length, 42u);
  EXPECT_EQ(RequestFraming(Head({{"Transfer-Encoding", "chunked"}}, 0, /*minor=*/0)).error_status,
            400);
}

TEST(ResponseFraming, BodilessStatusesEndAtTheBlankLineWhateverTheirHeaders) {
  for (int status : {100, 102, 103, 204, 304}) {
    MessageFraming f = ResponseFraming(Head({{"Content-Length", "1048576"}}, status), false);
    EXPECT_EQ(f.error_status, 0) << status;
    EXPECT_EQ(f.body, BodyFraming::kNone) << status;
    f = ResponseFraming(Head({{"Transfer-Encoding", "chunked"}}, status), false);
    EXPECT_EQ(f.body, BodyFraming::kNone) << status;
  }
  EXPECT_EQ(ResponseFraming(Head({{"Content-Length", "10"}}, 200), true).body, BodyFraming::kNone);
}

TEST(ResponseFraming, Table) {
  std::vector<Case> cases = {
      {{}, BodyFraming::kClose, 0},
      {{{"Content-Length", "5"}}, BodyFraming::kLength, 0},
      {{{"Transfer-Encoding", "chunked"}}, BodyFraming::kChunked, 0},
      {{{"Transfer-Encoding", "chunked\t"}}, BodyFraming::kChunked, 0},
      {{{"Transfer-Encoding", " chunked "}}, BodyFraming::kChunked, 0},
      {{{"Transfer-Encoding", "gzip"}}, BodyFraming::kNone, 502},
      {{{"Transfer-Encoding", "gzip, chunked"}}, BodyFraming::kNone, 502},
      {{{"Transfer-Encoding", "chunked, gzip"}}, BodyFraming::kNone, 502},
      {{{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}, BodyFraming::kNone, 502},
      {{{"Content-Length", "5"}, {"Content-Length", "6"}}, BodyFraming::kNone, 502},
      {{{"Content-Length", "five"}}, BodyFraming::kNone, 502},
  };
  CheckTable(cases, [](const auto& headers) { return ResponseFraming(Head(headers, 200), false); });
}

TEST(DownstreamFraming, Table) {
  using B = BodyFraming;
  struct Case {
    B received;
    int status;
    uint8_t minor;
    B want;
  } cases[] = {
      {B::kLength, 200, 1, B::kLength},   {B::kLength, 200, 0, B::kLength},
      {B::kChunked, 200, 1, B::kChunked}, {B::kChunked, 200, 0, B::kClose},
      {B::kClose, 200, 1, B::kChunked},   {B::kClose, 200, 0, B::kClose},
      {B::kNone, 304, 1, B::kNone},       {B::kNone, 204, 0, B::kNone},
      {B::kClose, 101, 1, B::kNone},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(DownstreamFraming(c.received, c.status, c.minor), c.want)
        << static_cast<int>(c.received) << " " << c.status << " 1." << int(c.minor);
  }
}

// Records heads, acceptances, bodies and ends.
class Transcript : public HttpParser::Delegate {
 public:
  bool OnHead(HttpHead& head, std::string*) override {
    log += "H" + std::to_string(head.status);
    return true;
  }
  void OnHeadAccepted() override { log += "A"; }
  void OnBody(const char* data, size_t len) override { log += "B(" + std::string(data, len) + ")"; }
  void OnMessageComplete() override { log += "C"; }
  std::string log;
};

// Feeds `wire` split at `split` (and whole when split is 0), resuming after each message.
std::string Feed(HttpParser::Kind kind, const std::string& wire, size_t split, bool head = false,
                 int* error_status = nullptr) {
  Transcript t;
  HttpParser p(kind, &t, 8192);
  if (head) p.ExpectNoBody();
  std::vector<std::string> pieces = {wire};
  if (split) pieces = {wire.substr(0, split), wire.substr(split)};
  for (const auto& piece : pieces) {
    size_t at = 0;
    while (at < piece.size()) {
      auto r = p.Feed(piece.data() + at, piece.size() - at);
      at += r.consumed;
      if (r.status == HttpParser::Status::kError) {
        if (error_status) *error_status = p.error_status();
        return t.log + "E";
      }
      if (r.status != HttpParser::Status::kMessageComplete) break;
    }
  }
  return t.log;
}

TEST(HttpParserFraming, RefusedRequestHeadsAreNeverAccepted) {
  // Issue 10, item 1: the head was forwarded before llhttp's verdict on Transfer-Encoding.
  for (const char* te : {"gzip", "identity", "chunked, gzip", "chunked\x01"}) {
    const std::string wire = std::string("POST /w HTTP/1.1\r\nHost: mydb\r\nTransfer-Encoding: ") +
                             te + "\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    for (size_t split = 0; split < wire.size(); ++split) {
      std::string log = Feed(HttpParser::Kind::kRequest, wire, split);
      EXPECT_EQ(log.find('A'), std::string::npos) << te << " split " << split << ": " << log;
      EXPECT_EQ(log.back(), 'E') << te;
    }
  }
}

TEST(HttpParserFraming, AcceptanceComesBeforeTheBodyAndTheEnd) {
  EXPECT_EQ(Feed(HttpParser::Kind::kRequest, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0), "H0AC");
  EXPECT_EQ(Feed(HttpParser::Kind::kRequest,
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", 0),
            "H0AB(ab)C");
  // A head whose body has not arrived yet is accepted when the bytes run out.
  EXPECT_EQ(Feed(HttpParser::Kind::kRequest,
                 "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n", 0),
            "H0A");
}

TEST(HttpParserFraming, ChunkedFollowedByWhitespaceIsChunkedAtEverySplit) {
  // Issue 10, item 2: llhttp alone reads this response until the connection closes.
  const std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
  for (size_t split = 0; split < response.size(); ++split) {
    std::string log = Feed(HttpParser::Kind::kResponse, response + response, split);
    std::string joined;
    for (size_t i = 0; i < log.size(); ++i) {
      if (log.compare(i, 2, "B(") == 0) {
        size_t end = log.find(')', i);
        joined += log.substr(i + 2, end - i - 2);
        i = end;
      } else {
        joined += log[i];
      }
    }
    EXPECT_EQ(joined, "H200AhelloCH200AhelloC") << "split " << split << ": " << log;
  }
  std::string request =
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked \t\r\n\r\n2\r\nab\r\n0\r\n\r\n";
  EXPECT_EQ(Feed(HttpParser::Kind::kRequest, request, 0), "H0AB(ab)C");
}

TEST(HttpParserFraming, BodilessResponsesEndAtTheBlankLine) {
  // Issue 10, item 3: a 304 with Content-Length was read as having a 1 MiB body.
  const std::string r304 =
      "HTTP/1.1 304 Not Modified\r\nETag: \"v7\"\r\nContent-Length: 1048576\r\n\r\n";
  const std::string r200 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(Feed(HttpParser::Kind::kResponse, r304 + r200, 0), "H304ACH200AB(ok)C");
  EXPECT_EQ(Feed(HttpParser::Kind::kResponse,
                 "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n" + r200, 0),
            "H204ACH200AB(ok)C");
  EXPECT_EQ(Feed(HttpParser::Kind::kResponse,
                 "HTTP/1.1 103 Early Hints\r\nContent-Length: 4\r\n\r\n" + r200, 0),
            "H103ACH200AB(ok)C");
  EXPECT_EQ(Feed(HttpParser::Kind::kResponse, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", 0,
                 /*head=*/true),
            "H200AC");
}

TEST(HttpParserFraming, RequestsNeedExactlyOneHost) {
  // RFC 9112 §3.2 (found by trying issue 10's work): two Hosts, or none in HTTP/1.1, went to the
  // pod, which may pick another Host than the next hop.
  int status = 0;
  EXPECT_EQ(Feed(HttpParser::Kind::kRequest, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0,
                 false, &status),
            "E");
  EXPECT_EQ(status, 400);
  EXPECT_EQ(Feed(HttpParser::Kind::kRequest, "GET / HTTP/1.1\r\n\r\n", 0, false, &status), "E");
  EXPECT_EQ(status, 400);
  EXPECT_EQ(Feed(HttpParser::Kind::kRequest, "GET / HTTP/1.0\r\n\r\n", 0), "H0AC");
  EXPECT_EQ(Feed(HttpParser::Kind::kRequest, "GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", 0), "H0AC");
}

TEST(HttpParserFraming, StatusCodesOutside100To599Are502) {
  for (const char* code : {"000", "001", "099"}) {
    int status = 0;
    std::string log = Feed(HttpParser::Kind::kResponse,
                           std::string("HTTP/1.1 ") + code + " X\r\nContent-Length: 2\r\n\r\nok", 0,
                           false, &status);
    EXPECT_EQ(log, "E") << code;
    EXPECT_EQ(status, 502) << code;
  }
  EXPECT_EQ(Feed(HttpParser::Kind::kResponse, "HTTP/1.1 599 X\r\nContent-Length: 2\r\n\r\nok", 0),
            "H599AB(ok)C");
}

TEST(HttpParserFraming, ResponsesPodrouterCannotFrameAre502) {
  for (const char* te : {"gzip", "gzip, chunked", "identity"}) {
    int status = 0;
    std::string log = Feed(HttpParser::Kind::kResponse,
                           std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: ") + te +
                               "\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                           0, false, &status);
    EXPECT_EQ(log, "E") << te;
    EXPECT_EQ(status, 502) << te;
  }
}

}  // namespace
}  // namespace podrouter
