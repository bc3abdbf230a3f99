// Server: start, reload (SIGHUP), drain (SIGTERM/SIGINT) and the admin endpoints' answers.
#include "proxy/server.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <ctime>

#include "config/loader.h"
#include "proxy/json.h"
#include "proxy/log.h"

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

// Which bind a listener's sockets belong to: a reload keeps sockets whose key is unchanged.
std::string BindKey(const config::Listener& l) { return l.bind.ToString(); }

}  // namespace

Server::Server(uv_loop_t* loop, std::string config_path, metrics::Metrics* metrics)
    : loop_(loop),
      config_path_(std::move(config_path)),
      metrics_(metrics),
      worker_(loop, metrics),
      pool_(std::make_unique<UpstreamPool>(&worker_)) {
  worker_.pool = pool_.get();
  worker_.reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
}

Server::~Server() {
  if (worker_.reserve_fd >= 0) close(worker_.reserve_fd);
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
  if (!Apply(std::move(config), error)) {
    AdminServer::Close(std::move(admin_));
    return false;
  }
  started_ = true;
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
      &sighup_, [](uv_signal_t* s, int) { static_cast<Server*>(s->data)->Reload(); }, SIGHUP);
  uv_timer_init(loop_, &drain_timer_);
  drain_timer_.data = this;
  return true;
}

bool Server::Apply(config::Config next, std::string* error) {
  if (next.workers != 1) {
    LOG_WARN("event=config_note workers=%u note=\"this build runs one event loop\"", next.workers);
  }
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

  // 3. Listeners: keep sockets of unchanged binds, bind new ones; any failure undoes this step.
  std::map<std::string, std::unique_ptr<Listener>> listeners;
  std::vector<std::pair<Listener*, config::Listener>> updates;
  bool ok = true;
  for (const auto& l : next.listeners) {
    std::shared_ptr<const ServiceResolver> service = services.at(l.service);
    auto old = listeners_.find(BindKey(l));
    if (old != listeners_.end()) {
      updates.emplace_back(old->second.get(), l);
      listeners[BindKey(l)] = std::move(old->second);
      listeners_.erase(old);
      continue;
    }
    auto listener =
        std::make_unique<Listener>(&worker_, l, service, &metrics_->ForListener(l.name));
    bool bound = listener->Bind(error);
    listeners[BindKey(l)] = std::move(listener);
    if (!bound) {
      ok = false;
      break;
    }
  }
  if (!ok) {
    // Put the kept parts back, close the new ones; the running config stays as it was.
    for (auto& entry : listeners) {
      Listener* l = entry.second.get();
      bool kept =
          std::any_of(updates.begin(), updates.end(), [l](const auto& u) { return u.first == l; });
      if (kept) {
        listeners_[entry.first] = std::move(entry.second);
      } else {
        Listener::Close(std::move(entry.second));
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

  // 4. Commit: retire what the new config dropped, then start what it added.
  for (auto& [l, c] : updates) {
    l->Update(c, services.at(c.service), &metrics_->ForListener(c.name));
  }
  for (auto& [key, l] : listeners_) {
    LOG_INFO("listener=%s event=closed bind=%s", l->config().name.c_str(), key.c_str());
    Listener::Close(std::move(l));
  }
  for (auto& [id, r] : services_) ServiceResolver::Close(std::move(r));
  if (new_dns) {
    if (dns_) DnsClient::Close(std::move(dns_));
    dns_ = std::move(new_dns);
  }
  listeners_ = std::move(listeners);
  services_ = std::move(services);
  config_ = std::move(next);
  for (ServiceResolver* r : to_start) r->Start();
  return true;
}

void Server::Reload() {
  if (draining_) return;
  LOG_INFO("event=reload_requested config=%s", config_path_.c_str());
  config::LoadResult loaded = config::LoadConfigFile(config_path_);
  std::string error;
  if (loaded.config && !(loaded.config->admin_bind == config_.admin_bind)) {
    error = "admin.bind cannot change on reload (restart to move it)";
  }
  if (!loaded.config || !error.empty() || !Apply(std::move(*loaded.config), &error)) {
    for (const auto& e : loaded.errors) LOG_ERROR("event=config_error %s", e.ToString().c_str());
    if (!error.empty()) LOG_ERROR("event=config_error %s", error.c_str());
    LOG_ERROR("event=reload_failed note=\"keeping the running config\"");
    metrics_->ConfigReload(false).Increment();
    return;
  }
  metrics_->ConfigReload(true).Increment();
  LOG_INFO("event=reloaded listeners=%zu services=%zu", listeners_.size(), services_.size());
}

void Server::Drain(const char* signal) {
  if (draining_) {
    LOG_WARN("event=shutdown_now signal=%s sessions=%zu", signal, worker_.sessions.size());
    worker_.sessions.AbortAll();
    return;
  }
  draining_ = true;
  LOG_INFO("event=draining signal=%s sessions=%zu timeout_ms=%" PRId64, signal,
           worker_.sessions.size(), static_cast<int64_t>(config_.drain_timeout.count()));
  for (auto& [key, l] : listeners_) Listener::Close(std::move(l));
  listeners_.clear();
  worker_.sessions.DrainAll();  // idle keep-alive connections close now, busy ones after
  if (worker_.sessions.size() == 0) {
    Shutdown();
    return;
  }
  worker_.sessions.OnEmpty([this] { Shutdown(); });
  uv_timer_start(
      &drain_timer_,
      [](uv_timer_t* t) {
        auto* s = static_cast<Server*>(t->data);
        LOG_WARN("event=drain_timeout aborting=%zu", s->worker_.sessions.size());
        s->worker_.sessions.AbortAll();
      },
      static_cast<uint64_t>(config_.drain_timeout.count()), 0);
}

void Server::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  LOG_INFO("event=stopped");
  worker_.sessions.OnEmpty(nullptr);
  for (auto& [key, l] : listeners_) Listener::Close(std::move(l));
  listeners_.clear();
  for (auto& [id, r] : services_) ServiceResolver::Close(std::move(r));
  services_.clear();
  if (dns_) DnsClient::Close(std::move(dns_));
  if (admin_) AdminServer::Close(std::move(admin_));
  pool_->CloseAll();
  for (uv_signal_t* s : {&sigterm_, &sigint_, &sighup_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_timer_), nullptr);
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
