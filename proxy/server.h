// Server ties the parts of a running podrouter together and owns their lifecycle:
//
//            SIGHUP: Apply(new config)        SIGTERM/SIGINT: drain, then Shutdown()
//                         │                                │
//   Server ── DnsClient ◄─┼── ServiceResolver (per service) ── EndpointSnapshot ──┐
//      │                  │                                                       │ read per
//      ├── WorkerLoop (per worker; 0 is this loop, others have threads)             │ connection
//      │     └─ Listener (per bind) ── accept ─┬─ TcpSession ── pod (by ordinal) ◄──┘ or request
//      │                                       └─ HttpSession ── per request ── UpstreamPool ── pod
//      └── AdminServer: /metrics /healthz /ready /endpoints
//
// The Server runs on the main loop. It opens every listening socket itself (one set per worker),
// so a start or reload either binds everything or changes nothing, then hands each worker its
// listeners; resolvers publish snapshots that every worker reads without locks.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "metrics/metrics.h"
#include "proxy/admin_server.h"
#include "proxy/dns_client.h"
#include "proxy/listener.h"
#include "proxy/service_resolver.h"
#include "proxy/worker_loop.h"

namespace podrouter {

class Server {
 public:
  Server(uv_loop_t* loop, std::string config_path, metrics::Metrics* metrics);
  ~Server();

  // Binds everything `config` names and starts resolving. On failure nothing is left running.
  bool Start(config::Config config, std::string* error);

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

 private:
  bool Apply(config::Config next, std::string* error);
  void Reload();
  void Drain(const char* signal);
  void OnLoopDrained();
  void Shutdown();
  void StopLoops();
  bool Ready() const;
  AdminResponse HandleAdmin(const std::string& method, const std::string& path);
  std::string EndpointsJson() const;

  uv_loop_t* loop_;
  std::string config_path_;
  metrics::Metrics* metrics_;
  std::vector<std::unique_ptr<WorkerLoop>> loops_;
  size_t loops_drained_ = 0;
  config::Config config_;
  std::unique_ptr<DnsClient> dns_;
  std::map<std::string, std::shared_ptr<ServiceResolver>> services_;  // by service id
  std::map<std::string, std::string> binds_;  // listener name by running bind address
  std::unique_ptr<AdminServer> admin_;
  uv_signal_t sigterm_, sigint_, sighup_;
  uv_timer_t drain_timer_;
  bool started_ = false;
  bool draining_ = false;
  bool shut_down_ = false;
};

}  // namespace podrouter
