// The mapping between HTTP/1.1 heads (HttpHead) and HTTP/2 header lists (RFC 9113 §8.3), and
// gRPC's conventions on top of them (gRPC over HTTP/2, doc/PROTOCOL-HTTP2.md of grpc/grpc).
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_head.h"

namespace podrouter {

// A header list ready for nghttp2_submit_*: names lower-cased, every byte kept in one arena that
// Clear() keeps, so a connection stops allocating once it has sent its largest list. The
// nghttp2_nv array stays valid until the next Add or Clear.
class H2HeaderList {
 public:
  void Add(std::string_view name, std::string_view value);
  void Clear();
  const nghttp2_nv* data();
  size_t size() const { return spans_.size(); }

 private:
  struct Span {
    size_t name, name_len, value, value_len;
  };
  std::string arena_;
  std::vector<Span> spans_;
  std::vector<nghttp2_nv> nv_;
};

// A request head as HTTP/2: :method, :scheme (`scheme`), :authority (the Host header, which is
// dropped), :path, then every header but the connection-specific ones (RFC 9113 §8.2.2; `te`
// only as "trailers").
void ToH2Request(const HttpHead& request, std::string_view scheme, H2HeaderList* out);
// A response head as HTTP/2: :status, then the headers as for a request.
void ToH2Response(const HttpHead& response, H2HeaderList* out);
// The forwardable fields of a trailer section (IsForwardableTrailer) as HTTP/2 (no
// pseudo-headers).
void ToH2Trailers(const HttpHead& trailers, H2HeaderList* out);

// The size of `head` as an HTTP/2 header list (RFC 7541 §4.1: name + value + 32 per field, the
// pseudo-headers included), to compare with H2Codec::kMaxHeaderList.
size_t H2HeaderListSize(const HttpHead& head);

// True when the request is a gRPC call: content-type "application/grpc", alone or followed by
// '+' or ';' (case-insensitive).
bool IsGrpc(const HttpHead& request);

// The grpc-timeout header (1 to 8 digits, then H, M, S, m, u or n) in milliseconds, rounded up;
// nullopt when malformed.
std::optional<uint64_t> ParseGrpcTimeoutMs(std::string_view value);

// gRPC status codes podrouter answers with (grpc/doc/statuscodes.md).
enum class GrpcStatus : int {
  kOk = 0,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kResourceExhausted = 8,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
};

// A Trailers-Only response (HTTP 200, content-type application/grpc, grpc-status, grpc-message):
// how a gRPC server answers a call it fails before any message.
void GrpcTrailersOnly(GrpcStatus status, std::string_view message, H2HeaderList* out);

// The gRPC status of a response's trailers (or of a Trailers-Only head): the grpc-status header's
// value, or -1 when absent or not a number.
int GrpcStatusOf(const HttpHead& head);

}  // namespace podrouter
