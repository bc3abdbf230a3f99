// Server ties the parts of a running podrouter together and owns their lifecycle:
//
//   SIGHUP or a changed config file
//   (ConfigWatch): Apply(new config)          SIGTERM/SIGINT: Drain() (keep serving until
//                         │                    quiet), FinishDrain(), then Shutdown()
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

#include "app/admin_server.h"
#include "app/config_watch.h"
#include "app/worker_balancer.h"
#include "app/worker_loop.h"
#include "config/config.h"
#include "dataplane/listener.h"
#include "discovery/service_resolver.h"
#include "dns/dns_client.h"
#include "metrics/metrics.h"

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
  // Loads the config file again and applies it; `trigger` names the cause in the log (SIGHUP,
  // config_changed). A bad file is logged and counted, and the running config kept.
  void Reload(const char* trigger);
  // First signal: /ready turns 503 and everything keeps serving (new connections too) until no
  // client connection has been open for drain_quiet, or drain_timeout runs out. Second: abort.
  void Drain(const char* signal);
  // Samples every worker's connections; the drain finishes after drain_quiet without any.
  void CheckQuiet();
  // Closes the listeners and waits for what is left (all of it, at drain_timeout, is aborted).
  void FinishDrain(const char* why);
  void OnLoopDrained();
  void Shutdown();
  void StopLoops();
  bool Ready() const;
  AdminResponse HandleAdmin(const std::string& method, const std::string& path);
  std::string EndpointsJson() const;

  uv_loop_t* loop_;
  std::string config_path_;
  metrics::Metrics* metrics_;
  std::unique_ptr<WorkerBalancer> balancer_;  // with more than one worker; outlives the loops
  std::vector<std::unique_ptr<WorkerLoop>> loops_;
  size_t loops_drained_ = 0;
  config::Config config_;
  std::unique_ptr<DnsClient> dns_;
  std::map<std::string, std::shared_ptr<ServiceResolver>> services_;  // by service id
  std::map<std::string, std::string> binds_;  // listener name by running bind address
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<ConfigWatch> watch_;  // null when the directory cannot be watched
  uv_signal_t sigterm_, sigint_, sighup_;
  uv_timer_t drain_timer_;
  uv_timer_t quiet_timer_;
  uint64_t quiet_since_ = 0;      // loop time since which no client connection was open
  uint64_t opened_at_check_ = 0;  // connections ever opened, at the last CheckQuiet
  bool started_ = false;
  bool draining_ = false;
  bool finishing_ = false;  // FinishDrain ran
  bool shut_down_ = false;
};

}  // namespace podrouter
