// A bounds-checked walk over a DNS message; names are expanded (with compression) by c-ares.
#include "dns/dns_message.h"

#include <ares.h>
#include <arpa/inet.h>

namespace podrouter {
namespace {

constexpr uint16_t kTypeA = 1, kTypeAAAA = 28, kTypeSRV = 33, kClassIN = 1;

class Reader {
 public:
  Reader(const unsigned char* data, int len) : data_(data), len_(len) {}

  bool U16(uint16_t* v) {
    if (pos_ + 2 > len_) return false;
    *v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    uint16_t hi, lo;
    if (!U16(&hi) || !U16(&lo)) return false;
    *v = static_cast<uint32_t>(hi) << 16 | lo;
    return true;
  }
  bool Name(std::string* out) {
    if (pos_ >= len_) return false;
    char* name = nullptr;
    long used = 0;
    if (ares_expand_name(data_ + pos_, data_, len_, &name, &used) != ARES_SUCCESS) return false;
    out->assign(name);
    ares_free_string(name);
    for (char& c : *out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (!out->empty() && out->back() == '.') out->pop_back();
    pos_ += static_cast<int>(used);
    return true;
  }
  bool Skip(int n) {
    if (n < 0 || pos_ + n > len_) return false;
    pos_ += n;
    return true;
  }
  int pos() const { return pos_; }
  const unsigned char* at(int pos) const { return data_ + pos; }

 private:
  const unsigned char* data_;
  int len_;
  int pos_ = 0;
};

}  // namespace

bool ParseDnsMessage(const unsigned char* data, int len, DnsMessage* out, std::string* error) {
  *out = DnsMessage{};
  Reader r(data, len);
  uint16_t id, flags, qd, an, ns, ar;
  if (!r.U16(&id) || !r.U16(&flags) || !r.U16(&qd) || !r.U16(&an) || !r.U16(&ns) || !r.U16(&ar)) {
    *error = "short header";
    return false;
  }
  if (!(flags & 0x8000)) {
    *error = "not a response";
    return false;
  }
  out->rcode = flags & 0xf;
  out->truncated = flags & 0x0200;
  for (int i = 0; i < qd; ++i) {
    std::string name;
    if (!r.Name(&name) || !r.Skip(4)) {
      *error = "malformed question";
      return false;
    }
  }
  const int total = an + ns + ar;
  for (int i = 0; i < total; ++i) {
    std::string owner;
    uint16_t type, klass, rdlen;
    uint32_t ttl;
    if (!r.Name(&owner) || !r.U16(&type) || !r.U16(&klass) || !r.U32(&ttl) || !r.U16(&rdlen)) {
      *error = "malformed record header";
      return false;
    }
    const int rdata = r.pos();
    if (!r.Skip(rdlen)) {
      *error = "record data past the end";
      return false;
    }
    // RFC 2181 §8: a TTL with the top bit set is read as zero.
    if (ttl & 0x80000000u) ttl = 0;
    const DnsSection section = i < an ? DnsSection::kAnswer : DnsSection::kAdditional;
    if (klass != kClassIN || (i >= an && i < an + ns)) continue;  // authority: SOA/NS, not ours
    if ((type == kTypeA && rdlen == 4) || (type == kTypeAAAA && rdlen == 16)) {
      char text[INET6_ADDRSTRLEN];
      inet_ntop(type == kTypeA ? AF_INET : AF_INET6, r.at(rdata), text, sizeof(text));
      out->addresses.push_back({owner, text, ttl, section});
    } else if (type == kTypeA || type == kTypeAAAA) {
      *error = "address record of the wrong length";
      return false;
    } else if (type == kTypeSRV && section == DnsSection::kAnswer) {
      Reader srv(data, len);
      SrvRecord rec;
      rec.ttl = ttl;
      if (rdlen < 7 || !srv.Skip(rdata) || !srv.U16(&rec.priority) || !srv.U16(&rec.weight) ||
          !srv.U16(&rec.port) || !srv.Name(&rec.target) || srv.pos() != rdata + rdlen) {
        *error = "malformed SRV record";
        return false;
      }
      out->srv.push_back(std::move(rec));
    }
  }
  return true;
}

}  // namespace podrouter
