// The immutable, sorted set of pods a service resolves to. Identity is the pod name (and ordinal),
// never the address: a pod recreated with a new IP is the same pod at a new address.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podrouter::metrics {
struct PodMetrics;
}

namespace podrouter {

struct Endpoint {
  std::optional<uint32_t> ordinal;  // StatefulSet ordinal, when the pod has one
  std::string pod;                  // "mydb-2" (the address itself for discovery: a)
  std::string address;              // textual IP
  uint16_t port = 0;
  sockaddr_storage sockaddr{};  // address and port, ready for connect()
  metrics::PodMetrics* metrics = nullptr;

  bool SameAs(const Endpoint& o) const {
    return ordinal == o.ordinal && pod == o.pod && address == o.address && port == o.port;
  }
};

// Builds an Endpoint; false when `address` is not an IP literal.
bool MakeEndpoint(std::optional<uint32_t> ordinal, std::string pod, const std::string& address,
                  uint16_t port, Endpoint* out);

class EndpointSet {
 public:
  EndpointSet() = default;
  // Sorts by (ordinal, pod); of two entries for one pod the first in sort order wins.
  explicit EndpointSet(std::vector<Endpoint> endpoints);

  const std::vector<Endpoint>& all() const { return endpoints_; }
  size_t size() const { return endpoints_.size(); }
  bool empty() const { return endpoints_.empty(); }
  const Endpoint* ByOrdinal(uint32_t ordinal) const;
  const Endpoint* ByPod(std::string_view pod) const;
  bool SameAs(const EndpointSet& other) const;

 private:
  std::vector<Endpoint> endpoints_;
};

using EndpointSnapshot = std::shared_ptr<const EndpointSet>;

// What changed between two sets, by pod name.
struct EndpointDiff {
  std::vector<const Endpoint*> added;
  std::vector<const Endpoint*> removed;
  std::vector<std::pair<const Endpoint*, const Endpoint*>> changed;  // before, after
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
EndpointDiff Diff(const EndpointSet& before, const EndpointSet& after);

// The StatefulSet ordinal of a DNS target (SPEC "Discovery"): its first label must be exactly
// `<statefulset>-<decimal>`, ASCII case-insensitive, with no leading zeros and at most INT32_MAX.
// ("mydb-2.mydb.default.svc.cluster.local", "mydb") → 2; with the same stem "mydb-2-0" (a pod
// of StatefulSet mydb-2), "10-1-0-13" (CoreDNS's dashed-IP name) and "mydb-03" → nullopt.
std::optional<uint32_t> OrdinalFromHost(std::string_view host, std::string_view statefulset);
// The first DNS label, lower-cased: the pod's name.
std::string PodNameFromHost(std::string_view host);

}  // namespace podrouter
