// An HTTP/1.x message head as podrouter needs it: method, target, status and headers, plus the
// shard-key extraction the routes use and the re-serialisation that drops hop-by-hop headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace podrouter {

struct HttpHeader {
  std::string name;  // as received
  std::string value;
};

struct HttpHead {
  std::string method;  // requests
  std::string url;
  int status = 0;  // responses
  std::string reason;
  uint8_t major = 1, minor = 1;
  std::vector<HttpHeader> headers;

  // The first header called `name` (ASCII case-insensitive), or nullptr.
  const std::string* Find(std::string_view name) const;
  void Clear();
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The request's shard key from the configured source; nullopt when absent or empty. Query values
// and path segments are percent-decoded.
std::optional<std::string> ExtractShardKey(const HttpHead& request, const config::ShardKey& key);

// How a body travels on the wire that podrouter writes.
enum class BodyFraming {
  kNone,     // no body (HEAD responses, 204, 304, GET without a body)
  kLength,   // Content-Length, forwarded as received
  kChunked,  // Transfer-Encoding: chunked (podrouter re-frames the decoded body)
  kClose,    // until the connection closes (HTTP/1.0 clients)
};

// Request head for a pod: always HTTP/1.1 with keep-alive; hop-by-hop headers dropped;
// `upgrade` keeps Upgrade and sends Connection: upgrade.
void SerializeRequestHead(const HttpHead& request, BodyFraming framing, bool upgrade,
                          std::string* out);

// Response head for the client, in the client's HTTP version.
void SerializeResponseHead(const HttpHead& response, uint8_t client_minor, BodyFraming framing,
                           bool keep_alive, bool upgrade, std::string* out);

std::string PercentDecode(std::string_view text);

// The reason phrase for the statuses podrouter answers itself ("Error" for others).
const char* ReasonPhrase(int status);

}  // namespace podrouter
