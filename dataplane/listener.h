// A Listener accepts on every port of one configured bind (a port range is one socket per port),
// and hands each new connection to a TcpSession (routed now) or an HttpSession (routed per
// request). It runs its own accept loop on a uv_poll_t so that running out of file descriptors is
// seen, logged and counted (libuv's own accept silently drops those connections); while none can
// be had, accepting pauses (NGINX disables its accept events the same way) rather than spin.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/listener_state.h"
#include "dataplane/worker_context.h"
#include "metrics/metrics.h"

namespace podrouter {

class Listener {
 public:
  Listener(WorkerContext* worker, config::Listener config,
           std::shared_ptr<const ServiceResolver> service, metrics::ListenerMetrics* metrics);

  // Opens a listening socket on every port of the bind, or none (the error names the port that
  // failed). With `reuse_port` each worker opens its own set and the kernel spreads connections.
  static bool Open(const config::Listener& config, bool reuse_port, std::vector<int>* fds,
                   std::string* error);
  // Accepts on sockets from Open(), which the listener now owns; on its worker's thread.
  void Start(const std::vector<int>& fds);
  // A reload that keeps this bind: new route, service and limits, same sockets; open HTTP
  // connections route their next request by the new state.
  void Update(config::Listener config, std::shared_ptr<const ServiceResolver> service,
              metrics::ListenerMetrics* metrics);
  // Stops accepting; the listener is destroyed when its sockets have closed. Sessions live on.
  static void Close(std::unique_ptr<Listener> listener);

  // Serves `fd`, a connection another worker accepted on port `offset` of this bind and handed
  // here (ConnectionBalancer); closes it when this listener has no such port.
  void Adopt(uint32_t offset, int fd);

  const config::Listener& config() const { return ref_->current->config; }

  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

 private:
  struct Port {
    uv_poll_t poll;
    int fd = -1;
    Listener* owner;
    uint32_t offset;  // from the first port of the range
  };

  static void OnReadable(uv_poll_t* poll, int status, int events);
  static void OnResume(uv_timer_t* timer);
  static void OnHandleClosed(uv_handle_t* handle);
  void Accept(Port& port);
  // A connection accepted here: served here, or handed to a less busy worker.
  void OnConnection(Port& port, int fd);
  void Serve(Port& port, int fd);
  // Out of file descriptors: empty the backlog with the reserve descriptor, counting each. When
  // no descriptor can be had, `port` stops accepting until resume_ fires.
  void Shed(Port& port, int error);
  // Closes an accepted connection at once, counted under `reason`.
  void Reject(int fd, metrics::RouteFailure reason, const std::string& detail);

  WorkerContext* worker_;
  std::shared_ptr<ListenerRef> ref_;
  std::vector<std::unique_ptr<Port>> ports_;
  uv_timer_t resume_;         // restarts ports paused by Shed
  uint64_t shed_logged_ = 0;  // loop time of the last "out of file descriptors" line
  uint64_t shed_unlogged_ = 0;
  bool started_ = false;  // Start() ran: resume_ is initialised
  int closing_handles_ = 0;
  std::unique_ptr<Listener> self_;  // set while closing
};

}  // namespace podrouter
