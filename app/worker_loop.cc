// WorkerLoop: a loop's thread, its task queue and the listeners it runs.
#include "app/worker_loop.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <string>

#include "base/log.h"

namespace podrouter {

WorkerLoop::WorkerLoop(uint32_t index, uint32_t count, uv_loop_t* main_loop,
                       metrics::Metrics* metrics)
    : worker_(index == 0 ? main_loop : &own_loop_, metrics, index, count),
      pool_(std::make_unique<UpstreamPool>(&worker_)),
      h2_pool_(std::make_unique<H2UpstreamPool>(&worker_)) {
  if (index != 0) uv_loop_init(&own_loop_);
  worker_.pool = pool_.get();
  worker_.h2_pool = h2_pool_.get();
  worker_.flush.Init(worker_.loop);
  worker_.sessions.SetGauge(&metrics->WorkerConnections(index));
  worker_.reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
  uv_async_init(worker_.loop, &wake_,
                [](uv_async_t* a) { static_cast<WorkerLoop*>(a->data)->RunQueued(); });
  wake_.data = this;
  if (index == 0) {
    thread_id_ = std::this_thread::get_id();
    return;
  }
  std::lock_guard lock(mu_);  // thread_id_ is read by Run() on either thread
  thread_ = std::thread([this] {
    // Named so that top -H, perf and the tests can tell the workers apart.
    pthread_setname_np(pthread_self(), ("worker-" + std::to_string(worker_.index)).c_str());
    uv_run(&own_loop_, UV_RUN_DEFAULT);
    if (uv_loop_close(&own_loop_) != 0) {
      LOG_ERROR("event=exit worker=%u note=\"handles left open at exit\"", worker_.index);
    }
  });
  thread_id_ = thread_.get_id();
}

WorkerLoop::~WorkerLoop() {
  if (thread_.joinable()) thread_.join();
  if (worker_.reserve_fd >= 0) close(worker_.reserve_fd);
}

void WorkerLoop::Run(Task task) {
  std::unique_lock lock(mu_);
  if (stopped_) return;
  if (std::this_thread::get_id() == thread_id_) {
    lock.unlock();
    task(*this);
    return;
  }
  queued_.push_back(std::move(task));
  uv_async_send(&wake_);
}

void WorkerLoop::Adopt(const std::string& bind, uint32_t offset, int fd) {
  auto it = listeners_.find(bind);
  if (it == listeners_.end()) {
    ::close(fd);
    return;
  }
  it->second->Adopt(offset, fd);
}

void WorkerLoop::RunQueued() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(queued_);
  }
  for (Task& t : tasks) t(*this);
}

void WorkerLoop::ApplyListeners(std::vector<ListenerPlan> plan) {
  std::map<std::string, std::unique_ptr<Listener>> next;
  for (ListenerPlan& p : plan) {
    auto old = listeners_.find(p.key);
    if (old != listeners_.end()) {
      old->second->Update(std::move(p.config), std::move(p.service), p.metrics);
      next[p.key] = std::move(old->second);
      listeners_.erase(old);
      continue;
    }
    auto l =
        std::make_unique<Listener>(&worker_, std::move(p.config), std::move(p.service), p.metrics);
    l->Start(p.fds);
    next[p.key] = std::move(l);
  }
  CloseListeners();  // what the plan dropped
  listeners_ = std::move(next);
}

void WorkerLoop::CloseListeners() {
  for (auto& [key, l] : listeners_) Listener::Close(std::move(l));
  listeners_.clear();
}

void WorkerLoop::Drain(std::function<void()> drained) {
  CloseListeners();
  worker_.sessions.DrainAll();  // idle keep-alive connections close now, busy ones after
  if (worker_.sessions.size() == 0) {
    drained();
    return;
  }
  worker_.sessions.OnEmpty(std::move(drained));
}

void WorkerLoop::AbortSessions() {
  if (worker_.sessions.size() > 0) {
    LOG_WARN("event=aborting worker=%u sessions=%zu", worker_.index, worker_.sessions.size());
  }
  worker_.sessions.AbortAll();
}

void WorkerLoop::Stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    queued_.clear();
  }
  worker_.sessions.OnEmpty(nullptr);
  CloseListeners();
  pool_->CloseAll();
  h2_pool_->CloseAll();
  worker_.flush.Run();
  worker_.flush.Close();
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
}

}  // namespace podrouter
