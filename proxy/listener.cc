// Listener: bind, accept, route each connection to its pod.
#include "proxy/listener.h"

#include <sys/socket.h>

#include "proxy/http_session.h"
#include "proxy/log.h"
#include "proxy/tcp_session.h"

namespace podrouter {
namespace {

bool SockAddr(const config::BindAddress& bind, uint16_t port, sockaddr_storage* out) {
  if (bind.ipv6)
    return uv_ip6_addr(bind.ip.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0;
  return uv_ip4_addr(bind.ip.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0;
}

}  // namespace

namespace {

std::shared_ptr<const ListenerState> MakeState(config::Listener config,
                                               std::shared_ptr<const ServiceResolver> service,
                                               metrics::ListenerMetrics* metrics) {
  auto state = std::make_shared<ListenerState>();
  state->config = std::move(config);
  state->service = std::move(service);
  state->metrics = metrics;
  return state;
}

}  // namespace

Listener::Listener(Worker* worker, config::Listener config,
                   std::shared_ptr<const ServiceResolver> service,
                   metrics::ListenerMetrics* metrics)
    : worker_(worker), ref_(std::make_shared<ListenerRef>()) {
  ref_->current = MakeState(std::move(config), std::move(service), metrics);
}

bool Listener::Bind(std::string* error) {
  const config::Listener& config = ref_->current->config;
  for (uint32_t port = config.bind.port_first; port <= config.bind.port_last; ++port) {
    auto p = std::make_unique<Port>();
    p->owner = this;
    p->offset = port - config.bind.port_first;
    p->handle.data = p.get();
    uv_tcp_init(worker_->loop, &p->handle);
    Port* raw = p.get();
    ports_.push_back(std::move(p));
    sockaddr_storage addr{};
    int rc = SockAddr(config.bind, static_cast<uint16_t>(port), &addr) ? 0 : UV_EINVAL;
    if (rc == 0) rc = uv_tcp_bind(&raw->handle, reinterpret_cast<const sockaddr*>(&addr), 0);
    if (rc == 0) {
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(&raw->handle), SOMAXCONN,
                     &Listener::OnConnection);
    }
    if (rc != 0) {
      config::BindAddress one = config.bind;
      one.port_first = one.port_last = static_cast<uint16_t>(port);
      *error = "listener " + config.name + ": cannot listen on " + one.ToString() + ": " +
               uv_strerror(rc);
      return false;
    }
  }
  LOG_INFO("listener=%s event=listening bind=%s protocol=%s service=%s", config.name.c_str(),
           config.bind.ToString().c_str(),
           config.protocol == config::Protocol::kTcp ? "tcp" : "http", config.service.c_str());
  return true;
}

void Listener::Update(config::Listener config, std::shared_ptr<const ServiceResolver> service,
                      metrics::ListenerMetrics* metrics) {
  ref_->current = MakeState(std::move(config), std::move(service), metrics);
}

void Listener::Close(std::unique_ptr<Listener> listener) {
  Listener* l = listener.get();
  l->self_ = std::move(listener);
  l->closing_ports_ = static_cast<int>(l->ports_.size());
  if (l->closing_ports_ == 0) {
    auto self = std::move(l->self_);
    return;
  }
  for (auto& p : l->ports_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &Listener::OnPortClosed);
  }
}

void Listener::OnPortClosed(uv_handle_t* handle) {
  Listener* l = static_cast<Port*>(handle->data)->owner;
  if (--l->closing_ports_ == 0) auto self = std::move(l->self_);  // the listener ends here
}

const Endpoint* Listener::PickTcp(const ListenerState& state, const EndpointSet& pods,
                                  uint32_t port_offset) {
  const config::Route& route = state.config.route;
  switch (route.kind) {
    case config::Route::Kind::kOrdinal:
      return pods.ByOrdinal(route.ordinal);
    case config::Route::Kind::kPortOffset:
      return pods.ByOrdinal(state.service->service().ordinal_start + port_offset);
    case config::Route::Kind::kBalance:
      // TCP carries no key: maglev needs one (config rejects it), so every balance is round robin.
      if (pods.empty()) return nullptr;
      return &pods.all()[state.round_robin++ % pods.size()];
    case config::Route::Kind::kShardKey:
    case config::Route::Kind::kOrdinalHeader:
      break;  // HTTP routes; rejected for TCP listeners by the config loader
  }
  return nullptr;
}

void Listener::OnConnection(uv_stream_t* server, int status) {
  Port* port = static_cast<Port*>(server->data);
  Listener* l = port->owner;
  std::shared_ptr<const ListenerState> state = l->ref_->current;
  metrics::ListenerMetrics* m = state->metrics;
  const config::Listener& config = state->config;
  if (status < 0) {
    m->Failure(metrics::RouteFailure::kAcceptError).Increment();
    LOG_WARN("listener=%s event=accept_failed error=%s", config.name.c_str(), uv_strerror(status));
    return;
  }
  m->connections_total->Increment();
  if (m->connections_active->Value() >= config.limits.max_connections) {
    l->Reject(server, metrics::RouteFailure::kMaxConnections,
              "limit=" + std::to_string(config.limits.max_connections));
    return;
  }
  Worker* w = l->worker_;
  if (config.protocol == config::Protocol::kHttp) {
    auto session = std::make_unique<HttpSession>(w, w->next_session_id++, l->ref_, port->offset);
    HttpSession* raw = session.get();
    w->sessions.Add(std::move(session));
    raw->Start(server);
    return;
  }
  EndpointSnapshot pods = state->service->snapshot();
  const Endpoint* endpoint = l->PickTcp(*state, *pods, port->offset);
  if (!endpoint) {
    std::string target =
        config.route.kind == config::Route::Kind::kBalance
            ? "any"
            : std::to_string(config.route.kind == config::Route::Kind::kOrdinal
                                 ? config.route.ordinal
                                 : state->service->service().ordinal_start + port->offset);
    l->Reject(server, metrics::RouteFailure::kNoEndpoint,
              "service=" + config.service + " ordinal=" + target);
    return;
  }
  auto session = std::make_unique<TcpSession>(w, w->next_session_id++, config, m);
  TcpSession* raw = session.get();
  w->sessions.Add(std::move(session));
  raw->Start(server, *endpoint);
}

void Listener::Reject(uv_stream_t* server, metrics::RouteFailure reason,
                      const std::string& detail) {
  ref_->current->metrics->Failure(reason).Increment();
  LOG_WARN("listener=%s event=rejected reason=%s %s", config().name.c_str(),
           metrics::ToString(reason), detail.c_str());
  auto client = std::make_unique<uv_tcp_t>();
  uv_tcp_init(worker_->loop, client.get());
  uv_accept(server, reinterpret_cast<uv_stream_t*>(client.get()));
  uv_close(reinterpret_cast<uv_handle_t*>(client.release()),
           [](uv_handle_t* h) { std::unique_ptr<uv_tcp_t>(reinterpret_cast<uv_tcp_t*>(h)); });
}

}  // namespace podrouter
