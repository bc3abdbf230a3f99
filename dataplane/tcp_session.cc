// TcpSession: the byte relay. Reads go straight to a uv_try_write; what the socket does not take
// is queued with uv_write, and the source stops being read above the high watermark.
#include "dataplane/tcp_session.h"

#include <unistd.h>

#include "base/log.h"

namespace podrouter {

struct TcpSession::WriteReq {
  uv_write_t req;
  TcpSession* session;
  Direction* direction;
  std::unique_ptr<char[]> buffer;
  size_t len;
};

TcpSession::TcpSession(WorkerContext* worker, uint64_t id, const config::Listener& listener,
                       metrics::ListenerMetrics* listener_metrics)
    : Session(id),
      worker_(worker),
      timeouts_(listener.timeouts),
      listener_name_(listener.name),
      listener_metrics_(listener_metrics) {
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&down_), reinterpret_cast<uv_handle_t*>(&up_),
        reinterpret_cast<uv_handle_t*>(&timer_)}) {
    h->data = this;
  }
  uv_tcp_init(worker->loop, &down_);
  uv_tcp_init(worker->loop, &up_);
  uv_timer_init(worker->loop, &timer_);
  listener_metrics_->connections_active->Increment();
}

TcpSession::~TcpSession() = default;

void TcpSession::Start(int fd, const Endpoint& endpoint) {
  pod_ = endpoint.pod;
  pod_metrics_ = endpoint.metrics;
  if (pod_metrics_) {
    to_up_.bytes = pod_metrics_->bytes_sent;
    to_down_.bytes = pod_metrics_->bytes_received;
  }
  int rc = uv_tcp_open(&down_, fd);
  if (rc != 0) {
    ::close(fd);
    listener_metrics_->Failure(metrics::RouteFailure::kAcceptError).Increment();
    LOG_WARN("c=%lu listener=%s event=accept_failed error=%s", id(), listener_name_.c_str(),
             uv_strerror(rc));
    Close("accept_failed", false);
    return;
  }
  last_activity_ = uv_now(worker_->loop);
  connect_req_.data = this;
  rc = worker_->ConnectTcp(&connect_req_, &up_,
                           reinterpret_cast<const sockaddr*>(&endpoint.sockaddr),
                           &TcpSession::OnConnect);
  if (rc != 0) {
    // Synchronous failures (e.g. no file descriptors) are reported like refused connects.
    OnConnect(&connect_req_, rc);
    return;
  }
  uv_timer_start(&timer_, &TcpSession::OnTimer, static_cast<uint64_t>(timeouts_.connect.count()),
                 0);
  LOG_DEBUG("c=%lu listener=%s event=connecting pod=%s address=%s:%u", id(), listener_name_.c_str(),
            pod_.c_str(), endpoint.address.c_str(), endpoint.port);
}

void TcpSession::OnConnect(uv_connect_t* req, int status) {
  auto* s = static_cast<TcpSession*>(req->data);
  if (s->closing_) return;  // UV_ECANCELED after Close()
  if (status != 0) {
    if (s->pod_metrics_) s->pod_metrics_->connect_failures->Increment();
    s->listener_metrics_->Failure(metrics::RouteFailure::kConnectFailed).Increment();
    LOG_WARN("c=%lu listener=%s event=connect_failed pod=%s error=%s", s->id(),
             s->listener_name_.c_str(), s->pod_.c_str(), uv_strerror(status));
    s->Close("connect_failed", true);
    return;
  }
  if (s->pod_metrics_) s->pod_metrics_->connections_total->Increment();
  s->connected_ = true;
  uv_tcp_nodelay(&s->down_, 1);
  uv_tcp_nodelay(&s->up_, 1);
  s->last_activity_ = uv_now(s->worker_->loop);
  uv_timer_start(&s->timer_, &TcpSession::OnTimer, static_cast<uint64_t>(s->timeouts_.idle.count()),
                 0);
  s->StartReading(s->to_up_);
  s->StartReading(s->to_down_);
}

void TcpSession::StartReading(Direction& d) {
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(d.src), &TcpSession::OnAlloc,
                         &TcpSession::OnRead);
  if (rc != 0) Close("read_start_failed", true);
}

void TcpSession::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* s = static_cast<TcpSession*>(handle->data);
  *buf = uv_buf_init(s->worker_->buffers.Get().release(),
                     static_cast<unsigned>(s->worker_->buffers.buffer_size()));
}

void TcpSession::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* s = static_cast<TcpSession*>(stream->data);
  std::unique_ptr<char[]> buffer(buf->base);
  Direction& d = s->DirectionFrom(stream);
  if (nread > 0) {
    s->last_activity_ = uv_now(s->worker_->loop);
    if (d.bytes) d.bytes->Increment(static_cast<double>(nread));
    if (static_cast<size_t>(nread) == s->worker_->buffers.buffer_size()) s->splice_wanted_ = true;
    s->Forward(d, std::move(buffer), static_cast<size_t>(nread));
    s->MaybeSplice();
    return;
  }
  s->worker_->buffers.Put(std::move(buffer));
  if (nread == 0) return;  // EAGAIN
  if (nread == UV_EOF) {
    d.eof = true;
    uv_read_stop(stream);
    s->MaybeShutdown(d);
    return;
  }
  LOG_DEBUG("c=%lu event=read_error side=%s error=%s", s->id(), &d == &s->to_up_ ? "client" : "pod",
            uv_strerror(static_cast<int>(nread)));
  s->Close(&d == &s->to_up_ ? "client_reset" : "pod_reset", true);
}

void TcpSession::Forward(Direction& d, std::unique_ptr<char[]> buffer, size_t len) {
  if (closing_) return;
  uv_buf_t chunk = uv_buf_init(buffer.get(), static_cast<unsigned>(len));
  // uv_try_write returns UV_EAGAIN while earlier writes are queued, which keeps bytes in order.
  int written = uv_try_write(reinterpret_cast<uv_stream_t*>(d.dst), &chunk, 1);
  if (written == static_cast<int>(len)) {
    worker_->buffers.Put(std::move(buffer));
    return;
  }
  if (written < 0 && written != UV_EAGAIN) {
    Close(&d == &to_up_ ? "pod_write_failed" : "client_write_failed", true);
    return;
  }
  size_t done = written > 0 ? static_cast<size_t>(written) : 0;
  auto req = std::make_unique<WriteReq>();
  req->session = this;
  req->direction = &d;
  req->len = len - done;
  chunk = uv_buf_init(buffer.get() + done, static_cast<unsigned>(req->len));
  req->buffer = std::move(buffer);
  req->req.data = req.get();
  int rc =
      uv_write(&req->req, reinterpret_cast<uv_stream_t*>(d.dst), &chunk, 1, &TcpSession::OnWrite);
  if (rc != 0) {
    Close("write_failed", true);
    return;
  }
  d.unsent += req->len;
  req.release();  // owned by libuv until OnWrite
  if (d.unsent > kHighWatermark && !d.paused) {
    d.paused = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(d.src));
  }
}

void TcpSession::OnWrite(uv_write_t* raw, int status) {
  std::unique_ptr<WriteReq> req(static_cast<WriteReq*>(raw->data));
  TcpSession* s = req->session;
  Direction& d = *req->direction;
  d.unsent -= req->len;
  s->worker_->buffers.Put(std::move(req->buffer));
  if (s->closing_) return;
  if (status != 0) {
    s->Close(&d == &s->to_up_ ? "pod_write_failed" : "client_write_failed", true);
    return;
  }
  s->last_activity_ = uv_now(s->worker_->loop);
  if (d.paused && d.unsent <= kLowWatermark && !d.eof) {
    d.paused = false;
    s->StartReading(d);
  }
  s->MaybeShutdown(d);
  s->MaybeSplice();
}

void TcpSession::MaybeShutdown(Direction& d) {
  if (!d.eof || d.unsent != 0 || d.shutdown_started || closing_) return;
  d.shutdown_started = true;
  d.shutdown_req.data = this;
  int rc =
      uv_shutdown(&d.shutdown_req, reinterpret_cast<uv_stream_t*>(d.dst), &TcpSession::OnShutdown);
  if (rc != 0) Close("shutdown_failed", false);
}

void TcpSession::OnShutdown(uv_shutdown_t* req, int status) {
  auto* s = static_cast<TcpSession*>(req->data);
  if (s->closing_) return;
  Direction& d = req == &s->to_up_.shutdown_req ? s->to_up_ : s->to_down_;
  d.shutdown_done = true;
  if (status != 0) {
    s->Close("shutdown_failed", false);
  } else if (s->to_up_.shutdown_done && s->to_down_.shutdown_done) {
    s->Close("done", false);
  }
}

void TcpSession::OnTimer(uv_timer_t* timer) {
  auto* s = static_cast<TcpSession*>(timer->data);
  if (!s->connected_) {
    if (s->pod_metrics_) s->pod_metrics_->connect_failures->Increment();
    s->listener_metrics_->Failure(metrics::RouteFailure::kConnectFailed).Increment();
    LOG_WARN("c=%lu listener=%s event=connect_timeout pod=%s timeout_ms=%ld", s->id(),
             s->listener_name_.c_str(), s->pod_.c_str(),
             static_cast<long>(s->timeouts_.connect.count()));
    s->Close("connect_timeout", true);
    return;
  }
  uint64_t idle = static_cast<uint64_t>(s->timeouts_.idle.count());
  uint64_t quiet = uv_now(s->worker_->loop) - s->last_activity_;
  if (quiet >= idle) {
    s->Close("idle_timeout", false);
    return;
  }
  uv_timer_start(&s->timer_, &TcpSession::OnTimer, idle - quiet, 0);
}

void TcpSession::Close(const char* reason, bool reset) {
  if (closing_) return;
  closing_ = true;
  // A close that throws away bytes still on their way is a reset, never a clean end that
  // would make a cut stream look complete (an idle timeout while both peers stopped reading).
  if (to_up_.unsent || to_down_.unsent ||
      (spliced_ && (spliced_->to_up.in_pipe || spliced_->to_down.in_pipe))) {
    reset = true;
  }
  listener_metrics_->connections_active->Decrement();
  LOG_DEBUG("c=%lu listener=%s event=closed reason=%s pod=%s", id(), listener_name_.c_str(), reason,
            pod_.c_str());
  CloseSplice();  // first: the poll handles let go of the descriptors the uv_tcp_t handles close
  for (uv_tcp_t* tcp : {&down_, &up_}) {
    // A reset tells each peer the relay broke, rather than pretending the stream ended.
    auto* h = reinterpret_cast<uv_handle_t*>(tcp);
    if (!reset || uv_tcp_close_reset(tcp, &TcpSession::OnClosed) != 0)
      uv_close(h, &TcpSession::OnClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &TcpSession::OnClosed);
}

void TcpSession::OnClosed(uv_handle_t* handle) {
  auto* s = static_cast<TcpSession*>(handle->data);
  if (s->handles_.Done()) s->worker_->sessions.Remove(s);  // destroys s
}

}  // namespace podrouter
