// Fuzz target: the HTTP front end. The input is split in two at a point chosen by its first byte
// and fed as a client would, resuming after every message; the parser must never crash, never
// report more than it was given, never accept a head it then refuses, never let a trailer section
// into the head or report a trailer field whose name is not a token (RFC 9112 §7.1.2), and must
// refuse with 400, 431, or (framing it will not relay) 501 for a request and 502 for a response.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/text.h"
#include "http/http_parser.h"

namespace {

class Sink : public podrouter::HttpParser::Delegate {
 public:
  bool OnHead(podrouter::HttpHead& head, std::string*) override {
    ++heads;
    head_fields = head.headers().size();
    return !head.method.empty() || head.status != 0;
  }
  void OnHeadAccepted() override {
    if (++accepted != heads) abort();  // once per head, and only after OnHead
  }
  void OnBody(const char*, size_t len) override { body += len; }
  void OnMessageComplete() override {
    ++messages;
    if (parser->head_done() && parser->head().headers().size() != head_fields) abort();
    for (const auto& field : parser->trailers().headers()) {
      if (!podrouter::IsToken(field.name)) abort();
    }
  }
  const podrouter::HttpParser* parser = nullptr;
  size_t head_fields = 0;
  size_t body = 0;
  size_t messages = 0;
  size_t heads = 0;
  size_t accepted = 0;
};

void Feed(podrouter::HttpParser::Kind kind, const char* data, size_t size, size_t cut) {
  Sink sink;
  podrouter::HttpParser parser(kind, &sink, 4096);
  sink.parser = &parser;
  for (auto [at, len] : {std::pair{data, cut}, std::pair{data + cut, size - cut}}) {
    while (len > 0) {
      auto r = parser.Feed(at, len);
      if (r.consumed > len) abort();
      at += r.consumed;
      len -= r.consumed;
      if (r.status == podrouter::HttpParser::Status::kError) {
        const int status = parser.error_status();
        const int framing = kind == podrouter::HttpParser::Kind::kRequest ? 501 : 502;
        if (status != 400 && status != 431 && status != framing) abort();
        // A head refused while it was being read was never accepted.
        if (!parser.head_done() && sink.accepted > sink.messages + 1) abort();
        return;
      }
      if (r.status != podrouter::HttpParser::Status::kMessageComplete) break;
    }
  }
  parser.Finish();
  if (sink.body > size) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t cut = (data[0] * (size - 1)) / 255;
  const char* text = reinterpret_cast<const char*>(data + 1);
  Feed(podrouter::HttpParser::Kind::kRequest, text, size - 1, cut);
  Feed(podrouter::HttpParser::Kind::kResponse, text, size - 1, cut);
  return 0;
}
