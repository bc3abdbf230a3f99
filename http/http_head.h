// An HTTP/1.x message head as podrouter needs it: method, target, status and headers, and the
// re-serialisation that drops hop-by-hop headers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/text.h"

namespace podrouter {

struct HttpHeader {
  std::string name;  // as received
  std::string value;
};

// One parser's heads are reused message after message: Clear() keeps every string's storage, so
// a kept-alive connection stops allocating once it has seen its largest head.
struct HttpHead {
  std::string method;  // requests
  std::string url;
  int status = 0;  // responses
  std::string reason;
  uint8_t major = 1, minor = 1;

  std::span<const HttpHeader> headers() const { return {slots_.data(), count_}; }
  std::span<HttpHeader> headers() { return {slots_.data(), count_}; }
  // Appends an empty header (a reused slot when there is one).
  HttpHeader& AddHeader();
  void AddHeader(std::string_view name, std::string_view value);
  // The first header called `name` (ASCII case-insensitive), or nullptr.
  const std::string* Find(std::string_view name) const;
  void Clear();

 private:
  std::vector<HttpHeader> slots_;  // the first count_ are this message's
  size_t count_ = 0;
};

// How a body travels on the wire that podrouter writes.
enum class BodyFraming {
  kNone,     // no body (HEAD responses, 204, 304, GET without a body)
  kLength,   // Content-Length, forwarded as received
  kChunked,  // Transfer-Encoding: chunked (podrouter re-frames the decoded body)
  kClose,    // until the connection closes (HTTP/1.0 clients)
};

// The connection-specific fields of one head or trailer section (RFC 9110 §7.6.1: Connection,
// Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, and every name its
// Connection header lists), which a proxy does not forward and HTTP/2 forbids (RFC 9113 §8.2.2).
// Built once per section, so that checking all its fields stays linear however many names the
// Connection header lists: more than a few are sorted once and found by binary search (the only
// case that allocates).
class HopByHopFields {
 public:
  explicit HopByHopFields(const HttpHead& section);
  // True when the field called `name` (any case) is connection-specific.
  bool Contains(std::string_view name) const;

 private:
  std::string_view connection_;           // the Connection header's value; "" when none
  std::vector<std::string_view> sorted_;  // its names, case-insensitively sorted, when many
};

// True for a field of a trailer section that podrouter forwards: not connection-specific (`hop`,
// the section's own HopByHopFields), not Content-Length or Host, which frame or route a message
// and mean nothing after its body (RFC 9110 §6.5.1).
bool IsForwardableTrailer(const HopByHopFields& hop, std::string_view name);

// The end of a chunked body (RFC 9112 §7.1.2): the last chunk, the forwardable fields of
// `trailers` (may be null) and the final CRLF, replacing `out`.
void SerializeLastChunk(const HttpHead* trailers, std::string* out);

// RFC 9110 §9.2.2: the methods a proxy may send twice (GET, HEAD, PUT, DELETE, OPTIONS, TRACE).
bool IsIdempotentMethod(std::string_view method);

// Request head for a pod: always HTTP/1.1 with keep-alive; hop-by-hop headers dropped;
// `upgrade` keeps Upgrade and sends Connection: upgrade.
void SerializeRequestHead(const HttpHead& request, BodyFraming framing, bool upgrade,
                          std::string* out);

// Response head for the client, in the client's HTTP version.
void SerializeResponseHead(const HttpHead& response, uint8_t client_minor, BodyFraming framing,
                           bool keep_alive, bool upgrade, std::string* out);

std::string PercentDecode(std::string_view text);
// Appends the decoding of `text` to `out`.
void PercentDecodeTo(std::string_view text, std::string* out);

// The reason phrase for the statuses podrouter answers itself ("Error" for others).
const char* ReasonPhrase(int status);

}  // namespace podrouter
