// UpstreamConn: connect, read responses through the parser, report to the owner of the moment.
#include "dataplane/upstream_conn.h"

#include <algorithm>

#include "base/log.h"
#include "dataplane/upstream_pool.h"

namespace podrouter {
namespace {

// Responses from pods may carry large heads; the client's limit applies to requests only.
constexpr size_t kMaxResponseHead = 256 * 1024;

}  // namespace

UpstreamConn::UpstreamConn(UpstreamPool* pool, const Endpoint& endpoint, uint64_t id)
    : pool_(pool),
      id_(id),
      key_(PodAddress::Of(endpoint.sockaddr)),
      pod_(endpoint.pod),
      metrics_(endpoint.metrics),
      parser_(HttpParser::Kind::kResponse, this, kMaxResponseHead) {
  uv_tcp_init(pool->worker_->loop, &tcp_);
  uv_timer_init(pool->worker_->loop, &timer_);
  tcp_.data = this;
  timer_.data = this;
  writer_.Init(reinterpret_cast<uv_stream_t*>(&tcp_), this);
}

void UpstreamConn::Connect(const Endpoint& endpoint, uint64_t timeout_ms) {
  connect_req_.data = this;
  int rc = pool_->worker_->ConnectTcp(
      &connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&endpoint.sockaddr), &OnConnect);
  if (rc != 0) {
    // Reported from the loop, not from inside Acquire, so the caller sees one path for failures.
    connect_error_ = rc;
    uv_timer_start(&timer_, &OnTimer, 0, 0);
    return;
  }
  uv_timer_start(&timer_, &OnTimer, timeout_ms, 0);
}

void UpstreamConn::OnConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<UpstreamConn*>(req->data);
  if (c->closing_) return;
  uv_timer_stop(&c->timer_);
  if (status != 0) {
    if (c->metrics_) c->metrics_->connect_failures->Increment();
    OwnerScope scope(c->owner_);
    c->Fail(status);
    return;
  }
  c->connected_ = true;
  if (c->metrics_) c->metrics_->connections_total->Increment();
  uv_tcp_nodelay(&c->tcp_, 1);
  c->ResumeReading();
}

void UpstreamConn::OnTimer(uv_timer_t* timer) {
  auto* c = static_cast<UpstreamConn*>(timer->data);
  if (c->closing_) return;
  if (!c->connected_) {
    if (c->metrics_) c->metrics_->connect_failures->Increment();
    OwnerScope scope(c->owner_);
    c->Fail(c->connect_error_ ? c->connect_error_ : UV_ETIMEDOUT);
    return;
  }
  if (c->owner_) return;  // leased since the timer was set: it rests until the next Release
  const uint64_t idle = uv_now(c->pool_->worker_->loop) - c->idle_since_;
  if (idle < UpstreamPool::kIdleTimeoutMs) {  // pooled again since: wait for the rest
    uv_timer_start(timer, &OnTimer, UpstreamPool::kIdleTimeoutMs - idle, 0);
    return;
  }
  c->pool_->Discard(c);  // idle for too long in the pool
}

void UpstreamConn::BeginRequest(bool head_request) {
  got_bytes_ = false;
  request_start_ = writer_.handed_over();
  if (head_request) parser_.ExpectNoBody();
}

int UpstreamConn::Write(const uv_buf_t* bufs, unsigned count) {
  if (metrics_) {
    size_t n = 0;
    for (unsigned i = 0; i < count; ++i) n += bufs[i].len;
    metrics_->bytes_sent->Increment(static_cast<double>(n));
  }
  return writer_.Write(bufs, count);
}

int UpstreamConn::Write(std::string_view data) {
  uv_buf_t b = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
  return Write(&b, 1);
}

void UpstreamConn::PauseReading() {
  if (!reading_) return;
  reading_ = false;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
}

void UpstreamConn::ResumeReading() {
  if (reading_ || !connected_ || closing_) return;
  reading_ = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&tcp_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* c = static_cast<UpstreamConn*>(h->data);
        BufferPool& buffers = c->pool_->worker_->buffers;
        *buf = uv_buf_init(buffers.Get().release(), static_cast<unsigned>(buffers.buffer_size()));
      },
      &OnRead);
}

void UpstreamConn::ShutdownWrite() {
  auto req = std::make_unique<uv_shutdown_t>();  // freed in its callback
  if (uv_shutdown(req.get(), reinterpret_cast<uv_stream_t*>(&tcp_),
                  [](uv_shutdown_t* r, int) { std::unique_ptr<uv_shutdown_t> owned(r); }) == 0) {
    req.release();
  }
}

void UpstreamConn::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<UpstreamConn*>(stream->data);
  std::unique_ptr<char[]> buffer(buf->base);
  BufferPool& buffers = c->pool_->worker_->buffers;
  if (nread == 0 || c->closing_) {
    buffers.Put(std::move(buffer));
    return;
  }
  if (nread < 0) {
    buffers.Put(std::move(buffer));
    if (!c->owner_) {
      c->pool_->Discard(c);  // the pod closed an idle connection
      return;
    }
    OwnerScope scope(c->owner_);
    if (nread == UV_EOF && c->tunnel_) {
      c->owner_->OnUpstreamTunnelEof();
      return;
    }
    if (nread == UV_EOF && c->parser_.head_done() && c->parser_.needs_eof()) {
      // A response delimited by the connection's end is complete now.
      HttpParser::Result r = c->parser_.Finish();
      if (r.status == HttpParser::Status::kMessageComplete) {
        c->owner_->OnUpstreamComplete(/*clean=*/false);
        return;
      }
    }
    c->Fail(static_cast<int>(nread));
    return;
  }
  if (c->metrics_) c->metrics_->bytes_received->Increment(static_cast<double>(nread));
  if (!c->owner_) {
    buffers.Put(std::move(buffer));
    c->pool_->Discard(c);  // bytes nobody asked for: the connection is out of step
    return;
  }
  c->got_bytes_ = true;
  {
    OwnerScope scope(c->owner_);  // pipelined requests resume as it ends, after this read
    c->Deliver(buffer.get(), static_cast<size_t>(nread));
  }
  buffers.Put(std::move(buffer));
}

void UpstreamConn::Deliver(const char* data, size_t len) {
  if (tunnel_) {
    owner_->OnUpstreamTunnelData(data, len);
    return;
  }
  // Every event goes to the owner of the moment: a callback may have ended the lease.
  while (len > 0 && owner_ && !closing_) {
    HttpParser::Result r = parser_.Feed(data, len);
    data += r.consumed;
    len -= r.consumed;
    if (r.status == HttpParser::Status::kNeedMore) return;
    if (r.status == HttpParser::Status::kError) {
      LOG_WARN("u=%lu pod=%s event=invalid_response error=%s", id_, pod_.c_str(),
               LogQuote(parser_.error()).c_str());
      Fail(UV_EPROTO);
      return;
    }
    if (!owner_) return;
    // llhttp ends the 101's message first and reports the upgrade on the next call: either way,
    // what follows a 101 is the new protocol's.
    if (r.status == HttpParser::Status::kUpgrade || parser_.head().status == 101) {
      tunnel_ = true;
      owner_->OnUpstreamUpgraded();
      if (len > 0 && owner_) owner_->OnUpstreamTunnelData(data, len);
      return;
    }
    // A message ended. Interim (1xx) responses are followed by the real one.
    const int status = parser_.head().status;
    if (status >= 100 && status < 200) continue;
    // The owner releases or discards the connection: nothing here touches it afterwards.
    owner_->OnUpstreamComplete(/*clean=*/len == 0);
    return;
  }
}

bool UpstreamConn::OnHead(HttpHead& head, std::string* error) {
  if (!owner_) return false;
  return owner_->OnUpstreamHead(head, error);
}

void UpstreamConn::OnBody(const char* data, size_t len) {
  if (owner_) owner_->OnUpstreamBody(data, len);
}

void UpstreamConn::OnBelowLowWatermark(StreamWriter*) {
  OwnerScope scope(owner_);
  if (owner_) owner_->OnUpstreamBelowLowWatermark();
}

void UpstreamConn::OnWriteError(StreamWriter*, int status) {
  OwnerScope scope(owner_);
  Fail(status);
}

void UpstreamConn::Fail(int status) {
  if (closing_) return;
  if (owner_) {
    owner_->OnUpstreamError(status);  // the owner discards the connection
  } else {
    pool_->Discard(this);
  }
}

}  // namespace podrouter
