// A Listener accepts on every port of one configured bind (a port range is one socket per port),
// and hands each new connection to a TcpSession (routed now) or an HttpSession (routed per
// request).
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "metrics/metrics.h"
#include "proxy/listener_state.h"
#include "proxy/worker.h"

namespace podrouter {

class Listener {
 public:
  Listener(Worker* worker, config::Listener config, std::shared_ptr<const ServiceResolver> service,
           metrics::ListenerMetrics* metrics);

  // Binds and listens on every port, or on none (the error names the port that failed).
  bool Bind(std::string* error);
  // A reload that keeps this bind: new route, service and limits, same sockets; open HTTP
  // connections route their next request by the new state.
  void Update(config::Listener config, std::shared_ptr<const ServiceResolver> service,
              metrics::ListenerMetrics* metrics);
  // Stops accepting; the listener is destroyed when its sockets have closed. Sessions live on.
  static void Close(std::unique_ptr<Listener> listener);

  const config::Listener& config() const { return ref_->current->config; }

  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  struct Port {
    uv_tcp_t handle;
    Listener* owner;
    uint32_t offset;  // from the first port of the range
  };

  static void OnConnection(uv_stream_t* server, int status);
  static void OnPortClosed(uv_handle_t* handle);
  // Takes the pending connection and closes it at once.
  void Reject(uv_stream_t* server, metrics::RouteFailure reason, const std::string& detail);
  const Endpoint* PickTcp(const ListenerState& state, const EndpointSet& pods,
                          uint32_t port_offset);

  Worker* worker_;
  std::shared_ptr<ListenerRef> ref_;
  std::vector<std::unique_ptr<Port>> ports_;
  int closing_ports_ = 0;
  std::unique_ptr<Listener> self_;  // set while closing
};

}  // namespace podrouter
