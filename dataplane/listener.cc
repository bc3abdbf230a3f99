// Listener: bind, accept, route each connection to its pod.
#include "dataplane/listener.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "dataplane/connection_balancer.h"
#include "dataplane/http_session.h"
#include "dataplane/tcp_session.h"

namespace podrouter {
namespace {

bool SockAddr(const config::BindAddress& bind, uint16_t port, sockaddr_storage* out) {
  if (bind.ipv6)
    return uv_ip6_addr(bind.ip.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0;
  return uv_ip4_addr(bind.ip.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0;
}

}  // namespace

namespace {

constexpr uint64_t kAcceptPauseMs = 100;  // a port that can accept nothing rests this long

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

Listener::Listener(WorkerContext* worker, config::Listener config,
                   std::shared_ptr<const ServiceResolver> service,
                   metrics::ListenerMetrics* metrics)
    : worker_(worker), ref_(std::make_shared<ListenerRef>()) {
  ref_->current = MakeState(std::move(config), std::move(service), metrics);
}

bool Listener::Open(const config::Listener& config, bool reuse_port, std::vector<int>* fds,
                    std::string* error) {
  for (uint32_t port = config.bind.port_first; port <= config.bind.port_last; ++port) {
    sockaddr_storage addr{};
    int rc = SockAddr(config.bind, static_cast<uint16_t>(port), &addr) ? 0 : UV_EINVAL;
    int fd = rc == 0 ? socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
    int one = 1;
    if (rc == 0 &&
        (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
         (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
         bind(fd, reinterpret_cast<const sockaddr*>(&addr),
              addr.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in)) != 0 ||
         listen(fd, SOMAXCONN) != 0)) {
      rc = uv_translate_sys_error(errno);
    }
    if (rc != 0) {
      if (fd >= 0) ::close(fd);
      for (int open : *fds) ::close(open);
      fds->clear();
      config::BindAddress one_port = config.bind;
      one_port.port_first = one_port.port_last = static_cast<uint16_t>(port);
      *error = "listener " + config.name + ": cannot listen on " + one_port.ToString() + ": " +
               uv_strerror(rc);
      return false;
    }
    fds->push_back(fd);
  }
  return true;
}

void Listener::Start(const std::vector<int>& fds) {
  uv_timer_init(worker_->loop, &resume_);
  resume_.data = this;
  started_ = true;
  for (int fd : fds) {
    auto p = std::make_unique<Port>();
    p->owner = this;
    p->fd = fd;
    p->offset = static_cast<uint32_t>(ports_.size());
    p->poll.data = p.get();
    uv_poll_init_socket(worker_->loop, &p->poll, fd);
    uv_poll_start(&p->poll, UV_READABLE, &Listener::OnReadable);
    ports_.push_back(std::move(p));
  }
}

void Listener::Update(config::Listener config, std::shared_ptr<const ServiceResolver> service,
                      metrics::ListenerMetrics* metrics) {
  ref_->current = MakeState(std::move(config), std::move(service), metrics);
}

void Listener::Close(std::unique_ptr<Listener> listener) {
  Listener* l = listener.get();
  l->self_ = std::move(listener);
  if (!l->started_) {
    auto self = std::move(l->self_);
    return;
  }
  l->closing_handles_ = static_cast<int>(l->ports_.size()) + 1;
  for (auto& p : l->ports_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&p->poll), &Listener::OnHandleClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&l->resume_), &Listener::OnHandleClosed);
}

void Listener::OnHandleClosed(uv_handle_t* handle) {
  Listener* l;
  if (handle->type == UV_POLL) {
    Port* port = static_cast<Port*>(handle->data);
    ::close(port->fd);  // the poll handle is closed; the socket is ours to close
    l = port->owner;
  } else {
    l = static_cast<Listener*>(handle->data);
  }
  if (--l->closing_handles_ == 0) auto self = std::move(l->self_);  // the listener ends here
}

void Listener::OnResume(uv_timer_t* timer) {
  Listener* l = static_cast<Listener*>(timer->data);
  if (l->worker_->reserve_fd < 0) l->worker_->reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
  for (auto& p : l->ports_) uv_poll_start(&p->poll, UV_READABLE, &Listener::OnReadable);
}

void Listener::OnReadable(uv_poll_t* poll, int status, int) {
  Port* port = static_cast<Port*>(poll->data);
  if (status < 0) {
    LOG_WARN("listener=%s event=poll_failed error=%s", port->owner->config().name.c_str(),
             uv_strerror(status));
    return;
  }
  port->owner->Accept(*port);
}

void Listener::Accept(Port& port) {
  // A bounded batch per wake-up keeps one busy port from starving the rest of the loop.
  for (int i = 0; i < 128; ++i) {
    int fd = accept4(port.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      OnConnection(port, fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EMFILE || errno == ENFILE) {
      if (worker_->pipes.CloseFree() > 0) continue;  // pooled pipes' descriptors, for this one
      Shed(port, errno);
      return;
    }
    ref_->current->metrics->Failure(metrics::RouteFailure::kAcceptError).Increment();
    LOG_WARN("listener=%s event=accept_failed error=%s", config().name.c_str(),
             uv_strerror(uv_translate_sys_error(errno)));
    return;
  }
}

void Listener::Shed(Port& port, int error) {
  metrics::ListenerMetrics* m = ref_->current->metrics;
  int shed = 0;
  if (worker_->reserve_fd >= 0) {
    ::close(worker_->reserve_fd);
    worker_->reserve_fd = -1;
    // With the reserve descriptor free, take each waiting connection and close it: the client
    // learns at once instead of waiting in the backlog.
    int fd;
    while ((fd = accept4(port.fd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0) {
      ::close(fd);
      ++shed;
    }
    // Another worker's thread may take the descriptor just freed: then the reserve is
    // reopened when accepting resumes.
    worker_->reserve_fd = open("/", O_RDONLY | O_CLOEXEC);
  }
  m->Failure(metrics::RouteFailure::kAcceptError).Increment(shed > 0 ? shed : 1);
  if (shed == 0) {
    // Nothing could be accepted, not even to close it: pause this port for a while instead of
    // waking for the same waiting connections on every loop turn.
    uv_poll_stop(&port.poll);
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&resume_)))
      uv_timer_start(&resume_, &Listener::OnResume, kAcceptPauseMs, 0);
  }
  // At most one line a second per listener: the condition lasts, the log must not flood.
  const uint64_t now = uv_now(worker_->loop);
  if (shed_logged_ != 0 && now - shed_logged_ < 1000) {
    ++shed_unlogged_;
    return;
  }
  LOG_WARN(
      "listener=%s event=accept_failed error=%s closed=%d paused_ms=%d repeats=%lu "
      "note=\"out of file descriptors\"",
      config().name.c_str(), uv_strerror(uv_translate_sys_error(error)), shed,
      shed == 0 ? static_cast<int>(kAcceptPauseMs) : 0, shed_unlogged_);
  shed_logged_ = now;
  shed_unlogged_ = 0;
}

void Listener::OnConnection(Port& port, int fd) {
  if (worker_->balancer &&
      worker_->balancer->Rehome(worker_->index, config().bind.ToString(), port.offset, fd)) {
    return;
  }
  Serve(port, fd);
}

void Listener::Adopt(uint32_t offset, int fd) {
  for (auto& port : ports_) {
    if (port->offset == offset && port->fd >= 0) return Serve(*port, fd);
  }
  ::close(fd);  // the bind lost that port in a reload while the connection was on its way
}

void Listener::Serve(Port& port, int fd) {
  std::shared_ptr<const ListenerState> state = ref_->current;
  metrics::ListenerMetrics* m = state->metrics;
  const config::Listener& config = state->config;
  m->connections_total->Increment();
  if (m->connections_active->Value() >= config.limits.max_connections) {
    Reject(fd, metrics::RouteFailure::kMaxConnections,
           "limit=" + std::to_string(config.limits.max_connections));
    return;
  }
  WorkerContext* w = worker_;
  if (config.protocol == config::Protocol::kHttp) {
    auto session = std::make_unique<HttpSession>(w, w->NextSessionId(), ref_, port.offset);
    HttpSession* raw = session.get();
    w->sessions.Add(std::move(session));
    raw->Start(fd);
    return;
  }
  EndpointSnapshot pods = state->service->snapshot();
  const Endpoint* endpoint = Route(config.route, state->service->service(),
                                   RouteInput{nullptr, port.offset}, pods, &ref_->pickers, nullptr)
                                 .endpoint;
  if (!endpoint) {
    std::string target =
        config.route.kind == config::Route::Kind::kBalance
            ? "any"
            : std::to_string(config.route.kind == config::Route::Kind::kOrdinal
                                 ? config.route.ordinal
                                 : state->service->service().ordinal_start + port.offset);
    Reject(fd, metrics::RouteFailure::kNoEndpoint,
           "service=" + config.service + " ordinal=" + target);
    return;
  }
  auto session = std::make_unique<TcpSession>(w, w->NextSessionId(), config, m);
  TcpSession* raw = session.get();
  w->sessions.Add(std::move(session));
  raw->Start(fd, *endpoint);
}

void Listener::Reject(int fd, metrics::RouteFailure reason, const std::string& detail) {
  ref_->current->metrics->Failure(reason).Increment();
  LOG_WARN("listener=%s event=rejected reason=%s %s", config().name.c_str(),
           metrics::ToString(reason), detail.c_str());
  ::close(fd);
}

}  // namespace podrouter
