// Server ties the parts of a running podrouter together and owns their lifecycle:
//
//            SIGHUP: Apply(new config)        SIGTERM/SIGINT: drain, then Shutdown()
//                         │                                │
//   Server ── DnsClient ◄─┼── ServiceResolver (per service) ── EndpointSnapshot ──┐
//      │                  │                                                       │ read per
//      ├── Listener (per bind) ── accept ─┬─ TcpSession ── pod (by ordinal) ◄─────┘ connection
//      │                                  └─ HttpSession ── per request ── UpstreamPool ── pod
//      ├── Worker: SessionSet + BufferPool + UpstreamPool (sessions outlive their listener)
//      └── AdminServer: /metrics /healthz /ready /endpoints
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
#include "proxy/upstream_pool.h"
#include "proxy/worker.h"

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
  void Shutdown();
  bool Ready() const;
  AdminResponse HandleAdmin(const std::string& method, const std::string& path);
  std::string EndpointsJson() const;

  uv_loop_t* loop_;
  std::string config_path_;
  metrics::Metrics* metrics_;
  Worker worker_;
  std::unique_ptr<UpstreamPool> pool_;
  config::Config config_;
  std::unique_ptr<DnsClient> dns_;
  std::map<std::string, std::shared_ptr<ServiceResolver>> services_;  // by service id
  std::map<std::string, std::unique_ptr<Listener>> listeners_;        // by bind address
  std::unique_ptr<AdminServer> admin_;
  uv_signal_t sigterm_, sigint_, sighup_;
  uv_timer_t drain_timer_;
  bool started_ = false;
  bool draining_ = false;
  bool shut_down_ = false;
};

}  // namespace podrouter
