// UpstreamConn and UpstreamPool: connections to pods, leased per request and pooled between them.
#include "dataplane/upstream_pool.h"

#include <algorithm>

#include "base/log.h"
#include "dataplane/http_session.h"

namespace podrouter {
namespace {

PodAddress AddressKey(const sockaddr_storage& addr) {
  PodAddress key;
  key.bytes[18] = addr.ss_family == AF_INET ? 4 : 6;
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    memcpy(key.bytes.data(), &v4->sin_addr, 4);
    memcpy(key.bytes.data() + 16, &v4->sin_port, 2);
    return key;
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
  memcpy(key.bytes.data(), &v6->sin6_addr, 16);
  memcpy(key.bytes.data() + 16, &v6->sin6_port, 2);
  return key;
}

// Responses from pods may carry large heads; the client's limit applies to requests only.
constexpr size_t kMaxResponseHead = 256 * 1024;

}  // namespace

UpstreamConn::UpstreamConn(UpstreamPool* pool, const Endpoint& endpoint, uint64_t id)
    : pool_(pool),
      id_(id),
      key_(AddressKey(endpoint.sockaddr)),
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
  int rc = uv_tcp_connect(&connect_req_, &tcp_,
                          reinterpret_cast<const sockaddr*>(&endpoint.sockaddr), &OnConnect);
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
  HttpSession* owner = c->owner_;
  if (nread < 0) {
    buffers.Put(std::move(buffer));
    if (!owner) {
      c->pool_->Discard(c);  // the pod closed an idle connection
      return;
    }
    if (nread == UV_EOF && c->tunnel_) {
      owner->OnUpstreamTunnelEof(c);
      return;
    }
    if (nread == UV_EOF && c->parser_.head_done() && c->parser_.needs_eof()) {
      // A response delimited by the connection's end is complete now.
      HttpParser::Result r = c->parser_.Finish();
      if (r.status == HttpParser::Status::kMessageComplete) {
        owner->OnUpstreamComplete(c, /*clean=*/false);
        return;
      }
    }
    c->Fail(static_cast<int>(nread));
    return;
  }
  if (c->metrics_) c->metrics_->bytes_received->Increment(static_cast<double>(nread));
  if (!owner) {
    buffers.Put(std::move(buffer));
    c->pool_->Discard(c);  // bytes nobody asked for: the connection is out of step
    return;
  }
  c->got_bytes_ = true;
  const char* data = buffer.get();
  size_t len = static_cast<size_t>(nread);
  if (c->tunnel_) {
    owner->OnUpstreamTunnelData(c, data, len);
    buffers.Put(std::move(buffer));
    return;
  }
  owner->CorkClient();
  while (len > 0) {
    HttpParser::Result r = c->parser_.Feed(data, len);
    data += r.consumed;
    len -= r.consumed;
    if (r.status == HttpParser::Status::kNeedMore) break;
    if (r.status == HttpParser::Status::kError) {
      LOG_WARN("u=%lu pod=%s event=invalid_response error=%s", c->id_, c->pod_.c_str(),
               LogQuote(c->parser_.error()).c_str());
      c->Fail(UV_EPROTO);
      break;
    }
    // llhttp ends the 101's message first and reports the upgrade on the next call: either way,
    // what follows a 101 is the new protocol's.
    if (r.status == HttpParser::Status::kUpgrade || c->parser_.head().status == 101) {
      c->tunnel_ = true;
      owner->OnUpstreamUpgraded(c);
      if (len > 0 && c->owner_ == owner) owner->OnUpstreamTunnelData(c, data, len);
      break;
    }
    // A message ended. Interim (1xx) responses are followed by the real one.
    int status = c->parser_.head().status;
    if (status >= 100 && status < 200) continue;
    // After this call the connection may be back in the pool or leased anew: touch nothing.
    owner->OnUpstreamComplete(c, /*clean=*/len == 0);
    break;
  }
  owner->UncorkClient();  // the session outlives this call: it ends in close callbacks only
  buffers.Put(std::move(buffer));
}

bool UpstreamConn::OnHead(HttpHead& head, std::string* error) {
  if (!owner_) return false;
  return owner_->OnUpstreamHead(this, head, error);
}

void UpstreamConn::OnBody(const char* data, size_t len) {
  if (owner_) owner_->OnUpstreamBody(this, data, len);
}

void UpstreamConn::OnWriteDrained(StreamWriter*) {
  if (owner_) owner_->OnUpstreamDrained(this);
}

void UpstreamConn::OnWriteError(StreamWriter*, int status) { Fail(status); }

void UpstreamConn::Fail(int status) {
  if (closing_) return;
  if (HttpSession* owner = owner_) {
    owner->OnUpstreamError(this, status);  // the owner discards the connection
  } else {
    pool_->Discard(this);
  }
}

UpstreamPool::~UpstreamPool() = default;

UpstreamConn* UpstreamPool::Acquire(const Endpoint& endpoint, HttpSession* owner,
                                    uint64_t connect_timeout_ms, bool fresh, bool* reused) {
  if (!fresh) {
    auto it = idle_.find(AddressKey(endpoint.sockaddr));
    if (it != idle_.end() && !it->second.empty()) {
      UpstreamConn* c = it->second.back();
      it->second.pop_back();
      c->owner_ = owner;  // the idle timer may still run: OnTimer ignores leased connections
      *reused = true;
      return c;
    }
  }
  auto conn = std::make_unique<UpstreamConn>(this, endpoint, next_id_++);
  UpstreamConn* c = conn.get();
  conns_.emplace(c, std::move(conn));
  c->owner_ = owner;
  c->Connect(endpoint, connect_timeout_ms);
  *reused = false;
  return c;
}

void UpstreamPool::Release(UpstreamConn* c) {
  c->owner_ = nullptr;
  auto& idle = idle_[c->key_];
  if (c->closing_ || !c->reusable() || c->unsent() > 0 || idle.size() >= kMaxIdlePerPod) {
    Discard(c);
    return;
  }
  c->ResumeReading();  // to notice the pod closing it
  idle.push_back(c);
  c->idle_since_ = uv_now(worker_->loop);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&c->timer_))) {
    uv_timer_start(&c->timer_, &UpstreamConn::OnTimer, kIdleTimeoutMs, 0);
  }
}

void UpstreamPool::Unpool(UpstreamConn* c) {
  auto it = idle_.find(c->key_);
  if (it == idle_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), c), list.end());
  if (list.empty()) idle_.erase(it);
}

void UpstreamPool::Discard(UpstreamConn* c, bool reset) {
  if (c->closing_) return;
  c->closing_ = true;
  c->owner_ = nullptr;
  Unpool(c);
  auto on_closed = [](uv_handle_t* h) {
    auto* conn = static_cast<UpstreamConn*>(h->data);
    if (--conn->open_handles_ == 0) conn->pool_->Remove(conn);
  };
  if (!reset || uv_tcp_close_reset(&c->tcp_, on_closed) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_), on_closed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer_), on_closed);
}

void UpstreamPool::Remove(UpstreamConn* c) { conns_.erase(c); }

void UpstreamPool::CloseAll() {
  std::vector<UpstreamConn*> all;
  for (auto& [raw, conn] : conns_) all.push_back(raw);
  for (UpstreamConn* c : all) Discard(c);
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, list] : idle_) n += list.size();
  return n;
}

}  // namespace podrouter
