// EndpointSet construction, lookup and diffing.
#include "discovery/endpoint_set.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/text.h"

namespace podrouter {
bool MakeEndpoint(std::optional<uint32_t> ordinal, std::string pod, const std::string& address,
                  uint16_t port, Endpoint* out) {
  Endpoint e;
  e.ordinal = ordinal;
  e.pod = std::move(pod);
  e.address = address;
  e.port = port;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&e.sockaddr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.sockaddr);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
  } else {
    return false;
  }
  *out = std::move(e);
  return true;
}

EndpointSet::EndpointSet(std::vector<Endpoint> endpoints) : endpoints_(std::move(endpoints)) {
  // Pods without an ordinal sort after those with one.
  auto key = [](const Endpoint& e) {
    return std::make_tuple(!e.ordinal.has_value(), e.ordinal.value_or(0), std::string_view(e.pod),
                           std::string_view(e.address));
  };
  std::stable_sort(endpoints_.begin(), endpoints_.end(),
                   [&](const Endpoint& a, const Endpoint& b) { return key(a) < key(b); });
  endpoints_.erase(std::unique(endpoints_.begin(), endpoints_.end(),
                               [](const Endpoint& a, const Endpoint& b) { return a.pod == b.pod; }),
                   endpoints_.end());
}

const Endpoint* EndpointSet::ByOrdinal(uint32_t ordinal) const {
  auto it = std::lower_bound(
      endpoints_.begin(), endpoints_.end(), ordinal,
      [](const Endpoint& e, uint32_t o) { return e.ordinal.has_value() && *e.ordinal < o; });
  if (it != endpoints_.end() && it->ordinal == ordinal) return &*it;
  return nullptr;
}

const Endpoint* EndpointSet::ByPod(std::string_view pod) const {
  for (const auto& e : endpoints_) {
    if (e.pod == pod) return &e;
  }
  return nullptr;
}

bool EndpointSet::SameAs(const EndpointSet& other) const {
  return std::equal(endpoints_.begin(), endpoints_.end(), other.endpoints_.begin(),
                    other.endpoints_.end(),
                    [](const Endpoint& a, const Endpoint& b) { return a.SameAs(b); });
}

EndpointDiff Diff(const EndpointSet& before, const EndpointSet& after) {
  EndpointDiff diff;
  for (const auto& a : after.all()) {
    const Endpoint* b = before.ByPod(a.pod);
    if (!b) {
      diff.added.push_back(&a);
    } else if (!b->SameAs(a)) {
      diff.changed.emplace_back(b, &a);
    }
  }
  for (const auto& b : before.all()) {
    if (!after.ByPod(b.pod)) diff.removed.push_back(&b);
  }
  return diff;
}

std::string PodNameFromHost(std::string_view host) {
  std::string label(host.substr(0, host.find('.')));
  for (char& c : label) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return label;
}

std::optional<uint32_t> OrdinalFromHost(std::string_view host, std::string_view statefulset) {
  std::string_view label = host.substr(0, host.find('.'));
  if (statefulset.empty() || label.size() < statefulset.size() + 2 ||
      !EqualsIgnoreCase(label.substr(0, statefulset.size()), statefulset) ||
      label[statefulset.size()] != '-') {
    return std::nullopt;
  }
  std::string_view digits = label.substr(statefulset.size() + 1);
  // Kubernetes ordinals are int32 (StatefulSet .spec.ordinals.start + index), written plainly.
  if (digits.size() > 10 || (digits.size() > 1 && digits[0] == '0')) return std::nullopt;
  uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > INT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(value);
}

}  // namespace podrouter
