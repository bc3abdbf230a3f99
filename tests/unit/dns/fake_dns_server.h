// An in-process DNS server on the test's libuv loop (UDP, 127.0.0.1, port 0): answers every query
// from a handler, so resolver tests can script SERVFAIL, NXDOMAIN, TTLs, silence and garbage.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/unit/dns/dns_builder.h"

namespace podrouter::testing {

struct FakeAnswer {
  int rcode = 0;
  std::vector<RR> answers;
  std::vector<RR> additional;
  bool drop = false;         // no reply at all: the client times out
  std::vector<uint8_t> raw;  // when set, sent as is (garbage, truncated packets)
};

class FakeDnsServer {
 public:
  using Handler = std::function<FakeAnswer(const std::string& qname, uint16_t qtype)>;

  explicit FakeDnsServer(uv_loop_t* loop);
  void set_handler(Handler h) { handler_ = std::move(h); }
  int port() const { return port_; }
  int queries() const { return queries_; }
  void Close();  // before the loop ends

 private:
  static void OnRecv(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                     unsigned flags);
  uv_udp_t udp_;
  Handler handler_;
  int port_ = 0;
  int queries_ = 0;
  char buffer_[4096];
};

}  // namespace podrouter::testing
