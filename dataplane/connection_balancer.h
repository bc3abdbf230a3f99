// ConnectionBalancer: where a client connection a worker accepted is served. SO_REUSEPORT spreads
// connections by a hash of their addresses, which evens out over many connections but not over
// the few long-lived ones a sidecar's application keeps (two can land on one worker, leaving the
// other idle); a balancer moves such a connection to a worker with fewer open.
#pragma once

#include <cstdint>
#include <string>

namespace podrouter {

class ConnectionBalancer {
 public:
  virtual ~ConnectionBalancer() = default;
  // On worker `from`'s thread, for connection `fd` just accepted on the listener whose bind is
  // `bind` (config::BindAddress::ToString()), port `offset` of its range. True when `fd` was
  // handed to another worker, which now owns it; false when `from` serves it.
  virtual bool Rehome(uint32_t from, const std::string& bind, uint32_t offset, int fd) = 0;
};

}  // namespace podrouter
