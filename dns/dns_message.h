// Reads the records podrouter needs out of a raw DNS response: SRV targets and A/AAAA addresses
// with their TTLs. c-ares 1.18's ares_parse_srv_reply drops TTLs and the additional section, both
// of which headless-Service discovery needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace podrouter {

enum class DnsSection { kAnswer, kAdditional };

struct SrvRecord {
  std::string target;  // lower-case, without the trailing dot
  uint16_t priority = 0, weight = 0, port = 0;
  uint32_t ttl = 0;
};

struct AddressRecord {
  std::string owner;    // lower-case, without the trailing dot
  std::string address;  // textual IPv4 or IPv6
  uint32_t ttl = 0;
  DnsSection section = DnsSection::kAnswer;
};

struct DnsMessage {
  int rcode = 0;
  bool truncated = false;
  std::vector<SrvRecord> srv;            // answer section
  std::vector<AddressRecord> addresses;  // answer and additional sections
};

// Parses `len` bytes; false (with *error) when the message is malformed.
bool ParseDnsMessage(const unsigned char* data, int len, DnsMessage* out, std::string* error);

}  // namespace podrouter
