// Builds DNS response packets for tests (no name compression, except where a test adds it).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <vector>

namespace podrouter::testing {

struct RR {
  std::string name;
  uint16_t type;
  uint32_t ttl;
  std::vector<uint8_t> rdata;
};

inline void PutU16(std::vector<uint8_t>* out, uint16_t v) {
  out->push_back(static_cast<uint8_t>(v >> 8));
  out->push_back(static_cast<uint8_t>(v));
}

inline void PutName(std::vector<uint8_t>* out, const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out->push_back(static_cast<uint8_t>(dot - start));
    out->insert(out->end(), name.begin() + static_cast<long>(start),
                name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  out->push_back(0);
}

inline RR A(const std::string& name, const char* ip, uint32_t ttl = 30) {
  RR rr{name, 1, ttl, std::vector<uint8_t>(4)};
  inet_pton(AF_INET, ip, rr.rdata.data());
  return rr;
}

inline RR AAAA(const std::string& name, const char* ip, uint32_t ttl = 30) {
  RR rr{name, 28, ttl, std::vector<uint8_t>(16)};
  inet_pton(AF_INET6, ip, rr.rdata.data());
  return rr;
}

inline RR SRV(const std::string& name, uint16_t port, const std::string& target,
              uint32_t ttl = 30) {
  RR rr{name, 33, ttl, {}};
  PutU16(&rr.rdata, 0);   // priority
  PutU16(&rr.rdata, 10);  // weight
  PutU16(&rr.rdata, port);
  PutName(&rr.rdata, target);
  return rr;
}

inline std::vector<uint8_t> BuildResponse(uint16_t id, const std::string& qname, uint16_t qtype,
                                          int rcode, const std::vector<RR>& answers,
                                          const std::vector<RR>& additional = {},
                                          bool truncated = false) {
  std::vector<uint8_t> out;
  PutU16(&out, id);
  PutU16(&out, static_cast<uint16_t>(0x8000 | 0x0400 | (truncated ? 0x0200 : 0) | 0x0100 | 0x0080 |
                                     (rcode & 0xf)));
  PutU16(&out, 1);
  PutU16(&out, static_cast<uint16_t>(answers.size()));
  PutU16(&out, 0);
  PutU16(&out, static_cast<uint16_t>(additional.size()));
  PutName(&out, qname);
  PutU16(&out, qtype);
  PutU16(&out, 1);
  for (const auto* section : {&answers, &additional}) {
    for (const RR& rr : *section) {
      PutName(&out, rr.name);
      PutU16(&out, rr.type);
      PutU16(&out, 1);
      PutU16(&out, static_cast<uint16_t>(rr.ttl >> 16));
      PutU16(&out, static_cast<uint16_t>(rr.ttl));
      PutU16(&out, static_cast<uint16_t>(rr.rdata.size()));
      out.insert(out.end(), rr.rdata.begin(), rr.rdata.end());
    }
  }
  return out;
}

}  // namespace podrouter::testing
