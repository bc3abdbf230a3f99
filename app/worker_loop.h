// A WorkerLoop is one event loop that serves traffic, with its own WorkerContext (sessions,
// buffers, metric handles), upstream pool and listeners. Loop 0 is the main loop, which also runs
// DNS, the admin endpoints and signals; `workers: N` adds N-1 loops on threads of their own, each
// accepting on its own SO_REUSEPORT sockets. Only a loop's own thread touches its handles: the main
// thread hands it work with Run().
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "dataplane/h2_upstream_pool.h"
#include "dataplane/listener.h"
#include "dataplane/upstream_pool.h"
#include "dataplane/worker_context.h"
#include "metrics/metrics.h"

namespace podrouter {

// One listener as a loop should run it after a start or reload.
struct ListenerPlan {
  std::string key;  // the bind: a loop keeps the sockets of a key it already has
  config::Listener config;
  std::shared_ptr<const ServiceResolver> service;
  metrics::ListenerMetrics* metrics;
  std::vector<int> fds;  // this loop's new sockets (from Listener::Open); empty when kept
};

class WorkerLoop {
 public:
  using Task = std::function<void(WorkerLoop&)>;

  // Loop 0 runs on `main_loop`; any other index gets a loop and a thread of its own.
  WorkerLoop(uint32_t index, uint32_t count, uv_loop_t* main_loop, metrics::Metrics* metrics);
  // Joins the thread: Stop() must have been run.
  ~WorkerLoop();

  // Runs `task` on this loop's thread: at once when already there, else soon after. Tasks for a
  // stopped loop are dropped.
  void Run(Task task);

  // The following run on this loop's thread.
  // Closes listeners the plan drops, updates kept ones, starts new ones on the plan's sockets.
  void ApplyListeners(std::vector<ListenerPlan> plan);
  // Stops accepting and drains sessions; `drained` runs (here) once none is left.
  void Drain(std::function<void()> drained);
  void AbortSessions();
  // Serves `fd`, accepted by another worker on port `offset` of the listener bound to `bind`;
  // closes it when this loop has no such listener (a reload removed it meanwhile).
  void Adopt(const std::string& bind, uint32_t offset, int fd);
  // Accepted connections consult `balancer` from now on (null: none).
  void SetBalancer(ConnectionBalancer* balancer) { worker_.balancer = balancer; }
  // The drain began: sessions that can ask their clients to reconnect do (HTTP/2 GOAWAY).
  void NoticeDrain() { worker_.sessions.NoticeDrainAll(); }
  // Closes what the loop owns; a loop with a thread then lets it end.
  void Stop();

  uint32_t index() const { return worker_.index; }
  size_t sessions() const { return worker_.sessions.size(); }
  // Safe from any thread: client connections open now, and accepted since the start.
  size_t open_sessions() const { return worker_.sessions.open_count(); }
  uint64_t opened_sessions() const { return worker_.sessions.opened_count(); }

  WorkerLoop(const WorkerLoop&) = delete;
  WorkerLoop& operator=(const WorkerLoop&) = delete;

 private:
  void RunQueued();
  void CloseListeners();

  uv_loop_t own_loop_;  // unused by loop 0
  WorkerContext worker_;
  std::unique_ptr<UpstreamPool> pool_;
  std::unique_ptr<H2UpstreamPool> h2_pool_;
  std::map<std::string, std::unique_ptr<Listener>> listeners_;  // by bind
  uv_async_t wake_;
  std::mutex mu_;  // guards the two below
  std::vector<Task> queued_;
  bool stopped_ = false;
  std::thread::id thread_id_;
  std::thread thread_;
};

}  // namespace podrouter
