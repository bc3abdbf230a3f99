// Fuzz target: DNS answers are hostile input from the network; parsing must stay in bounds.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "dns/dns_message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65535) return 0;
  podrouter::DnsMessage message;
  std::string error;
  bool ok = podrouter::ParseDnsMessage(data, static_cast<int>(size), &message, &error);
  if (!ok && error.empty()) abort();
  for (const auto& a : message.addresses) {
    if (a.address.empty()) abort();
  }
  return 0;
}
