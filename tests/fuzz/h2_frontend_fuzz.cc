// Fuzz target: the HTTP/2 front end. The input follows the client preface into a server H2Codec
// whose delegate does what H2Session does with a client's streams: every request head is checked
// as a route would read it (gRPC or not, grpc-timeout, the head as HTTP/2 towards a pod), answered
// (a Trailers-Only error for gRPC, a body with trailers otherwise; every third one early, before
// its request ends), request bodies are consumed as they arrive, and output is pulled after every
// slice of input. Invariants: no crash or sanitizer report; a stream's events arrive only between
// its head and its close; body bytes never exceed the input.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "http2/h2_codec.h"
#include "http2/h2_headers.h"

namespace {

using podrouter::H2Codec;

class Frontend : public H2Codec::Delegate {
 public:
  uint32_t OnHead(int32_t stream, H2Codec::HeadKind kind, podrouter::HttpHead& head,
                  bool end) override {
    if (kind == H2Codec::HeadKind::kTrailers) {
      if (!open_.count(stream)) abort();
      return 0;
    }
    if (kind != H2Codec::HeadKind::kRequest) abort();  // a server only sees requests
    if (open_.count(stream)) abort();
    open_[stream] = end;
    const bool grpc = podrouter::IsGrpc(head);
    if (const std::string* t = head.Find("grpc-timeout")) podrouter::ParseGrpcTimeoutMs(*t);
    podrouter::ToH2Request(head, "http", &scratch_);
    scratch_.data();
    if (grpc) {
      podrouter::GrpcTrailersOnly(podrouter::GrpcStatus::kUnavailable, "no_endpoint", &answer_);
      codec->SubmitHeaders(stream, &answer_, true);
    } else if (++requests_ % 3 == 0 || end) {
      podrouter::HttpHead response;
      response.status = 200;
      response.AddHeader("content-type", "text/plain");
      codec->SubmitResponse(stream, response, true);
    }
    return 0;
  }
  void OnData(int32_t stream, const uint8_t*, size_t len) override {
    if (!open_.count(stream)) abort();
    body_ += len;
    codec->Consume(stream, len);
  }
  void OnEndStream(int32_t stream) override {
    if (!open_.count(stream)) abort();
    open_[stream] = true;
  }
  void OnStreamClose(int32_t stream, uint32_t) override { open_.erase(stream); }
  ssize_t ReadBody(int32_t, uint8_t* buf, size_t len, H2Codec::BodyEnd* end) override {
    static const char kBody[] = "pod=mydb-0\n";
    if (len < sizeof(kBody) - 1) return H2Codec::kDeferred;
    for (size_t i = 0; i + 1 < sizeof(kBody); ++i) buf[i] = static_cast<uint8_t>(kBody[i]);
    end->eof = true;
    trailers_.Clear();
    trailers_.AddHeader("x-trailer", "1");
    end->trailers = &trailers_;
    return sizeof(kBody) - 1;
  }

  H2Codec* codec = nullptr;
  size_t body_ = 0;

 private:
  std::map<int32_t, bool> open_;  // stream -> the client's side has ended
  podrouter::H2HeaderList scratch_, answer_;
  podrouter::HttpHead trailers_;
  unsigned requests_ = 0;
};

bool Drain(H2Codec& codec) {
  std::string_view out;
  for (int i = 0; i < 10000; ++i) {
    if (!codec.Pull(&out)) return false;
    if (out.empty()) return true;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Frontend frontend;
  H2Codec codec(H2Codec::Role::kServer, &frontend);
  frontend.codec = &codec;
  static const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  if (!codec.Receive(kPreface, sizeof(kPreface) - 1)) abort();
  // Slices of up to 97 bytes, output pulled in between, as reads and writes interleave.
  const char* at = reinterpret_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    size_t n = left < 97 ? left : 97;
    if (!codec.Receive(at, n)) break;
    if (!Drain(codec)) break;
    at += n;
    left -= n;
  }
  if (frontend.body_ > size) abort();
  return 0;
}
