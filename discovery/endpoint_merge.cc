// MergeLookups: address choice and last-known-good, per pod.
#include "discovery/endpoint_merge.h"

#include <algorithm>
#include <tuple>

namespace podrouter {

MergeResult MergeLookups(std::vector<PodLookup> lookups, const EndpointSet& before,
                         bool all_addresses) {
  MergeResult out;
  for (auto& lookup : lookups) {
    // A stable choice among several addresses, so a server's rotation is not a change.
    std::sort(lookup.addresses.begin(), lookup.addresses.end(), [](auto& a, auto& b) {
      bool a6 = a.find(':') != std::string::npos, b6 = b.find(':') != std::string::npos;
      return std::tie(a6, a) < std::tie(b6, b);
    });
    lookup.addresses.erase(std::unique(lookup.addresses.begin(), lookup.addresses.end()),
                           lookup.addresses.end());
    if (lookup.addresses.empty() && lookup.failed) {
      out.partial = true;
      // Keep what was known: for `a` that is every pod, else the one pod whose lookup failed.
      for (const auto& e : before.all()) {
        if (all_addresses || e.pod == lookup.pod) out.endpoints.push_back(e);
      }
      continue;
    }
    const size_t count =
        all_addresses ? lookup.addresses.size() : std::min<size_t>(1, lookup.addresses.size());
    for (size_t i = 0; i < count; ++i) {
      const std::string& address = lookup.addresses[i];
      Endpoint e;
      if (MakeEndpoint(lookup.ordinal, lookup.pod.empty() ? address : lookup.pod, address,
                       lookup.port, &e)) {
        out.endpoints.push_back(std::move(e));
      }
    }
  }
  return out;
}

}  // namespace podrouter
