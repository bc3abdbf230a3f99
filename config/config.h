// The validated configuration: plain values, no YAML. Everything the proxy reads at run time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace podrouter::config {

using Millis = std::chrono::milliseconds;

// An IP address with a port range; a single port has first == last.
struct BindAddress {
  std::string ip;  // textual, without brackets
  bool ipv6 = false;
  uint16_t port_first = 0;
  uint16_t port_last = 0;

  std::string ToString() const;  // "127.0.0.1:80", "[::1]:80-90"
  bool operator==(const BindAddress&) const = default;
};

struct Timeouts {
  Millis connect{1000};
  Millis request{15000};
  Millis idle{300000};
  bool operator==(const Timeouts&) const = default;
};

struct Limits {
  uint32_t max_connections = 10000;
  uint32_t max_header_bytes = 65536;
  bool operator==(const Limits&) const = default;
};

struct Dns {
  std::vector<std::string> servers;  // "IP:port" / "[IPv6]:port", c-ares CSV form
  Millis timeout{2000};
  Millis min_refresh{1000};
  Millis max_refresh{30000};
  bool operator==(const Dns&) const = default;
};

enum class Discovery { kSrv, kOrdinals, kA };
const char* ToString(Discovery d);

struct Service {
  std::string id;    // the key under `services:`
  std::string name;  // DNS name, without the trailing dot
  Discovery discovery = Discovery::kSrv;
  std::string port_name;
  std::optional<uint16_t> port;
  std::string statefulset;  // defaults to the first label of name
  std::optional<uint32_t> replicas;
  uint32_t ordinal_start = 0;
  bool operator==(const Service&) const = default;
};

enum class Protocol { kTcp, kHttp };
// How an HTTP listener speaks to its pods (clients may use either on the listener's port).
enum class UpstreamProtocol { kHttp1, kHttp2 };

struct ShardKey {
  enum class Source { kHeader, kQuery, kCookie, kPathSegment };
  Source source = Source::kHeader;
  std::string name;      // header, query parameter or cookie name (headers lower-cased)
  uint32_t segment = 0;  // path_segment index
  bool operator==(const ShardKey&) const = default;
};

struct Route {
  enum class Kind {
    kOrdinal,        // a fixed ordinal
    kPortOffset,     // ordinal_start + (local port - first port of the bind range)
    kShardKey,       // jump hash of the key
    kOrdinalHeader,  // the request names the ordinal
    kBalance,        // maglev or round robin over the pods present
  };
  enum class Balance { kMaglev, kRoundRobin };

  Kind kind = Kind::kOrdinal;
  uint32_t ordinal = 0;
  std::optional<ShardKey> shard_key;
  uint32_t shards = 0;           // resolved: explicit or the service's replicas
  bool missing_key_any = false;  // on_missing_key: any
  bool fallback_next = false;    // fallback: next
  std::string ordinal_header;    // lower-cased
  Balance balance = Balance::kRoundRobin;
  bool operator==(const Route&) const = default;
};

struct Listener {
  std::string name;
  BindAddress bind;
  Protocol protocol = Protocol::kTcp;
  UpstreamProtocol upstream_protocol = UpstreamProtocol::kHttp1;
  std::string service;
  Route route;
  Timeouts timeouts;
  Limits limits;
  bool operator==(const Listener&) const = default;
};

struct Config {
  BindAddress admin_bind{"127.0.0.1", false, 9901, 9901};
  uint32_t workers = 1;  // 0: one per core
  Dns dns;
  Millis drain_timeout{20000};  // the longest a drain may take
  // A drain ends once no client connection has been open for this long (the application, which
  // got its SIGTERM with podrouter's, has finished with it).
  Millis drain_quiet{2000};
  Timeouts timeouts;
  Limits limits;
  std::vector<Service> services;  // in file order
  std::vector<Listener> listeners;

  const Service* FindService(const std::string& id) const;
};

}  // namespace podrouter::config
