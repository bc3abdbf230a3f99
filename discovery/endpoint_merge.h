// The merge step of a resolution, as a pure function: what each pod's lookup answered, and the
// set published before, to the endpoints to publish now. Among several addresses of one pod the
// lowest IPv4 (then the lowest IPv6) is chosen, so a server's answer rotation is not a change; a
// pod whose own lookup failed keeps its last known address (for `a` discovery, where the service
// name is the only lookup, every pod is kept). SPEC "Discovery".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "discovery/endpoint_set.h"

namespace podrouter {

// One pod's (or, for `a` discovery, the service name's) lookup.
struct PodLookup {
  std::string pod;   // the pod's name; empty for `a` (each address is then a pod of its own)
  std::string host;  // the name queried, without the trailing dot
  std::optional<uint32_t> ordinal;
  uint16_t port = 0;
  std::vector<std::string> addresses;  // IP literals, in the order the server gave them
  bool failed = false;                 // its A/AAAA lookup failed: keep what was known of it
};

struct MergeResult {
  std::vector<Endpoint> endpoints;  // unsorted; EndpointSet sorts them (metrics left unset)
  bool partial = false;             // some lookup failed, and its pods are the last known ones
};

// `all_addresses`: every address of a lookup is an endpoint (`a` discovery) rather than one per
// pod. Addresses that are not IP literals are skipped.
MergeResult MergeLookups(std::vector<PodLookup> lookups, const EndpointSet& before,
                         bool all_addresses);

}  // namespace podrouter
