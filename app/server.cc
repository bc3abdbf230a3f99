// Server: start, reload (SIGHUP), drain (SIGTERM/SIGINT) and the admin endpoints' answers.
#include "app/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <ctime>
#include <thread>

#include "base/json.h"
#include "base/log.h"
#include "config/loader.h"
#include "routing/pickers.h"

namespace podrouter {
namespace {

std::string Rfc3339(int64_t ms) {
  time_t seconds = static_cast<time_t>(ms / 1000);
  tm utc;
  gmtime_r(&seconds, &utc);
  char text[40];
  size_t n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(text + n, sizeof(text) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return text;
}

// How long the config directory must be quiet before the file is read: one kubelet update is a
// burst of events within a millisecond or two; an editor's save, a few.
constexpr uint64_t kConfigDebounceMs = 200;

// Which bind a listener's sockets belong to: a reload keeps sockets whose key is unchanged.
std::string BindKey(const config::Listener& l) { return l.bind.ToString(); }

}  // namespace

Server::Server(uv_loop_t* loop, std::string config_path, metrics::Metrics* metrics)
    : loop_(loop), config_path_(std::move(config_path)), metrics_(metrics) {}

Server::~Server() {
  loops_.clear();  // joins the worker threads; Shutdown() or a failed Start() stopped them
}

bool Server::Start(config::Config config, std::string* error) {
  admin_ = std::make_unique<AdminServer>(
      loop_, [this](const std::string& m, const std::string& p) { return HandleAdmin(m, p); });
  if (!admin_->Bind(config.admin_bind, error)) {
    AdminServer::Close(std::move(admin_));
    return false;
  }
  if (config.admin_bind.ip != "127.0.0.1" && config.admin_bind.ip != "::1") {
    LOG_WARN("event=admin_exposed bind=%s note=\"admin endpoints reachable beyond loopback\"",
             config.admin_bind.ToString().c_str());
  }
  uint32_t workers = config.workers;
  if (workers == 0) workers = std::max(1u, std::thread::hardware_concurrency());
  for (uint32_t i = 0; i < workers; ++i) {
    loops_.push_back(std::make_unique<WorkerLoop>(i, workers, loop_, metrics_));
  }
  if (workers > 1) {
    std::vector<WorkerLoop*> raw;
    for (auto& l : loops_) raw.push_back(l.get());
    balancer_ = std::make_unique<WorkerBalancer>(std::move(raw));
    // Queued ahead of the listeners, so every accept sees it.
    for (auto& l : loops_) l->Run([b = balancer_.get()](WorkerLoop& w) { w.SetBalancer(b); });
  }
  if (!Apply(std::move(config), error)) {
    AdminServer::Close(std::move(admin_));
    StopLoops();
    return false;
  }
  started_ = true;
  LOG_INFO("event=workers count=%u", workers);
  for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_}) {
    uv_signal_init(loop_, s);
    s->data = this;
  }
  uv_signal_start(
      &sigterm_, [](uv_signal_t* s, int) { static_cast<Server*>(s->data)->Drain("SIGTERM"); },
      SIGTERM);
  uv_signal_start(
      &sigint_, [](uv_signal_t* s, int) { static_cast<Server*>(s->data)->Drain("SIGINT"); },
      SIGINT);
  uv_signal_start(
      &sighup_, [](uv_signal_t* s, int) { static_cast<Server*>(s->data)->Reload("SIGHUP"); },
      SIGHUP);
  // A ConfigMap edit reaches the file, not a signal: it reloads the same way.
  std::string watch_error;
  watch_ = ConfigWatch::Start(
      loop_, config_path_, kConfigDebounceMs, [this] { Reload("config_changed"); }, &watch_error);
  if (!watch_) {
    LOG_WARN("event=config_watch_failed error=\"%s\" note=\"reload with SIGHUP\"",
             watch_error.c_str());
  }
  uv_timer_init(loop_, &drain_timer_);
  uv_timer_init(loop_, &quiet_timer_);
  drain_timer_.data = quiet_timer_.data = this;
  return true;
}

bool Server::Apply(config::Config next, std::string* error) {
  // 1. DNS: a new client when its settings changed; resolvers follow it.
  std::unique_ptr<DnsClient> new_dns;
  if (!dns_ || !(next.dns == config_.dns)) {
    new_dns = DnsClient::Create(loop_, next.dns, error);
    if (!new_dns) return false;
  }
  DnsClient* dns = new_dns ? new_dns.get() : dns_.get();

  // 2. Services: keep unchanged resolvers; new ones start from the old pods when the definition
  // is the same (only the DNS client changed), so a reload never forgets a pod.
  std::map<std::string, std::shared_ptr<ServiceResolver>> services;
  std::vector<ServiceResolver*> to_start;
  for (const auto& s : next.services) {
    auto old = services_.find(s.id);
    bool same = old != services_.end() && old->second->service() == s;
    if (same && !new_dns) {
      services[s.id] = std::move(old->second);
      services_.erase(old);
      continue;
    }
    EndpointSnapshot seed = same && old->second->ready() ? old->second->snapshot() : nullptr;
    auto r = std::make_shared<ServiceResolver>(loop_, dns, s, next.dns, metrics_, seed);
    to_start.push_back(r.get());
    services[s.id] = std::move(r);
  }

  // 3. Sockets for new binds, one set per worker; any failure closes them and undoes step 2.
  std::vector<std::vector<ListenerPlan>> plans(loops_.size());
  std::map<std::string, std::string> binds;
  bool ok = true;
  for (const auto& l : next.listeners) {
    std::string key = BindKey(l);
    bool kept = binds_.count(key) > 0;
    for (size_t i = 0; i < loops_.size(); ++i) {
      ListenerPlan plan{key, l, services.at(l.service), &metrics_->ForListener(l.name), {}};
      if (!kept && !Listener::Open(l, loops_.size() > 1, &plan.fds, error)) ok = false;
      plans[i].push_back(std::move(plan));
      if (!ok) break;
    }
    if (!ok) break;
    if (!kept) {
      LOG_INFO("listener=%s event=listening bind=%s protocol=%s service=%s", l.name.c_str(),
               key.c_str(), l.protocol == config::Protocol::kTcp ? "tcp" : "http",
               l.service.c_str());
    }
    binds[key] = l.name;
  }
  if (!ok) {
    for (auto& plan : plans) {
      for (auto& p : plan) {
        for (int fd : p.fds) ::close(fd);
      }
    }
    for (auto& [id, r] : services) {
      if (std::find(to_start.begin(), to_start.end(), r.get()) != to_start.end()) {
        ServiceResolver::Close(std::move(r));
      } else {
        services_[id] = std::move(r);
      }
    }
    if (new_dns) DnsClient::Close(std::move(new_dns));
    return false;
  }

  // 4. Commit: every worker switches to the new listeners, then what the config dropped retires.
  for (const auto& [key, name] : binds_) {
    if (!binds.count(key)) LOG_INFO("listener=%s event=closed bind=%s", name.c_str(), key.c_str());
  }
  for (size_t i = 0; i < loops_.size(); ++i) {
    loops_[i]->Run(
        [plan = std::move(plans[i])](WorkerLoop& w) mutable { w.ApplyListeners(std::move(plan)); });
  }
  for (auto& [id, r] : services_) ServiceResolver::Close(std::move(r));
  if (new_dns) {
    if (dns_) DnsClient::Close(std::move(dns_));
    dns_ = std::move(new_dns);
  }
  binds_ = std::move(binds);
  services_ = std::move(services);
  config_ = std::move(next);
  // Maglev tables are built when a snapshot is published, once, for every worker to share.
  for (auto& [id, r] : services_) r->PrepareSnapshots(nullptr);
  for (const auto& l : config_.listeners) {
    if (l.route.kind == config::Route::Kind::kBalance &&
        l.route.balance == config::Route::Balance::kMaglev) {
      services_.at(l.service)->PrepareSnapshots([](const EndpointSnapshot& pods) {
        if (!pods->empty()) MaglevFor(pods);
      });
    }
  }
  for (ServiceResolver* r : to_start) r->Start();
  return true;
}

void Server::Reload(const char* trigger) {
  if (draining_) return;
  LOG_INFO("event=reload_requested trigger=%s config=%s", trigger, config_path_.c_str());
  if (watch_) watch_->Seen();
  config::LoadResult loaded = config::LoadConfigFile(config_path_);
  std::string error;
  if (loaded.config && !(loaded.config->admin_bind == config_.admin_bind)) {
    error = "admin.bind cannot change on reload (restart to move it)";
  } else if (loaded.config && loaded.config->workers != config_.workers) {
    error = "workers cannot change on reload (restart to apply it)";
  }
  if (!loaded.config || !error.empty() || !Apply(std::move(*loaded.config), &error)) {
    for (const auto& e : loaded.errors) LOG_ERROR("event=config_error %s", e.ToString().c_str());
    if (!error.empty()) LOG_ERROR("event=config_error %s", error.c_str());
    LOG_ERROR("event=reload_failed note=\"keeping the running config\"");
    metrics_->ConfigReload(false).Increment();
    return;
  }
  metrics_->ConfigReload(true).Increment();
  LOG_INFO("event=reloaded listeners=%zu services=%zu", binds_.size(), services_.size());
}

void Server::Drain(const char* signal) {
  if (draining_) {
    LOG_WARN("event=shutdown_now signal=%s", signal);
    FinishDrain("second_signal");
    for (auto& l : loops_) l->Run([](WorkerLoop& w) { w.AbortSessions(); });
    return;
  }
  draining_ = true;
  if (balancer_) balancer_->Stop();
  LOG_INFO("event=draining signal=%s workers=%zu quiet_ms=%" PRId64 " timeout_ms=%" PRId64
           " note=\"serving until no client connection is open\"",
           signal, loops_.size(), static_cast<int64_t>(config_.drain_quiet.count()),
           static_cast<int64_t>(config_.drain_timeout.count()));
  for (auto& l : loops_) l->Run([](WorkerLoop& w) { w.NoticeDrain(); });
  uv_timer_start(
      &drain_timer_,
      [](uv_timer_t* t) {
        auto* s = static_cast<Server*>(t->data);
        LOG_WARN("event=drain_timeout");
        s->FinishDrain("timeout");
        for (auto& l : s->loops_) l->Run([](WorkerLoop& w) { w.AbortSessions(); });
      },
      static_cast<uint64_t>(config_.drain_timeout.count()), 0);
  quiet_since_ = uv_now(loop_);
  opened_at_check_ = 0;
  for (const auto& l : loops_) opened_at_check_ += l->opened_sessions();
  // Sampled a few times per quiet period: a connection opened and closed between two samples
  // still counts, through the number ever opened.
  const uint64_t period = std::clamp<uint64_t>(config_.drain_quiet.count() / 8, 1, 100);
  uv_timer_start(
      &quiet_timer_, [](uv_timer_t* t) { static_cast<Server*>(t->data)->CheckQuiet(); }, 0, period);
}

void Server::CheckQuiet() {
  size_t open = 0;
  uint64_t opened = 0;
  for (const auto& l : loops_) {
    open += l->open_sessions();
    opened += l->opened_sessions();
  }
  const uint64_t now = uv_now(loop_);
  if (open > 0 || opened != opened_at_check_) {
    quiet_since_ = now;
    opened_at_check_ = opened;
    return;
  }
  if (now - quiet_since_ >= static_cast<uint64_t>(config_.drain_quiet.count())) {
    FinishDrain("quiet");
  }
}

void Server::FinishDrain(const char* why) {
  if (finishing_) return;
  finishing_ = true;
  uv_timer_stop(&quiet_timer_);
  LOG_INFO("event=drain_finishing reason=%s", why);
  binds_.clear();
  WorkerLoop* main = loops_.front().get();
  for (auto& l : loops_) {
    // Each worker closes its listeners and idle connections, and reports here once empty (which
    // may be at once: the last report shuts the server down).
    l->Run([this, main](WorkerLoop& w) {
      LOG_INFO("event=worker_draining worker=%u sessions=%zu", w.index(), w.sessions());
      w.Drain([this, main] { main->Run([this](WorkerLoop&) { OnLoopDrained(); }); });
    });
  }
}

void Server::OnLoopDrained() {
  if (++loops_drained_ == loops_.size()) Shutdown();
}

void Server::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  LOG_INFO("event=stopped");
  for (auto& [id, r] : services_) ServiceResolver::Close(std::move(r));
  services_.clear();
  if (dns_) DnsClient::Close(std::move(dns_));
  if (admin_) AdminServer::Close(std::move(admin_));
  if (watch_) ConfigWatch::Close(std::move(watch_));
  StopLoops();
  for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&quiet_timer_), nullptr);
}

void Server::StopLoops() {
  for (auto& l : loops_) l->Run([](WorkerLoop& w) { w.Stop(); });
}

bool Server::Ready() const {
  if (draining_) return false;
  for (const auto& [id, r] : services_) {
    if (!r->ready()) return false;
  }
  return true;
}

AdminResponse Server::HandleAdmin(const std::string&, const std::string& path) {
  if (path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Serialize()};
  }
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/ready") {
    if (Ready()) return {200, "text/plain; charset=utf-8", "ready\n"};
    return {503, "text/plain; charset=utf-8", draining_ ? "draining\n" : "resolving\n"};
  }
  if (path == "/endpoints") return {200, "application/json", EndpointsJson()};
  return {404, "application/json", "{\"error\":\"not_found\"}\n"};
}

std::string Server::EndpointsJson() const {
  std::string out = "{\"ready\":" + std::string(Ready() ? "true" : "false") + ",\"services\":{";
  bool first_service = true;
  for (const auto& s : config_.services) {
    auto it = services_.find(s.id);
    if (it == services_.end()) continue;
    const ServiceResolver& r = *it->second;
    const ServiceResolver::Status& st = r.status();
    out += first_service ? "" : ",";
    first_service = false;
    out += JsonString(s.id) + ":{\"name\":" + JsonString(s.name) +
           ",\"discovery\":" + JsonString(config::ToString(s.discovery)) +
           ",\"ready\":" + (r.ready() ? "true" : "false") + ",\"last_resolution\":{\"time\":" +
           (st.finished_ms ? JsonString(Rfc3339(st.finished_ms)) : "null") +
           ",\"result\":" + JsonString(ToString(st.result)) +
           ",\"error\":" + (st.error.empty() ? "null" : JsonString(st.error)) + "},\"pods\":[";
    bool first_pod = true;
    for (const auto& e : r.snapshot()->all()) {
      out += first_pod ? "" : ",";
      first_pod = false;
      out += "{\"name\":" + JsonString(e.pod) +
             ",\"ordinal\":" + (e.ordinal ? std::to_string(*e.ordinal) : "null") +
             ",\"address\":" + JsonString(e.address) + ",\"port\":" + std::to_string(e.port) +
             ",\"state\":" + (st.stale ? "\"stale\"" : "\"ready\"") + "}";
    }
    out += "]}";
  }
  return out + "}}\n";
}

}  // namespace podrouter
