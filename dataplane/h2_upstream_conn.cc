// H2UpstreamConn: one multiplexed connection to a pod; streams report to their owners.
#include "dataplane/h2_upstream_conn.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "base/log.h"
#include "dataplane/h2_upstream_pool.h"

namespace podrouter {

H2UpstreamConn::H2UpstreamConn(H2UpstreamPool* pool, const Endpoint& endpoint, uint64_t id,
                               uint64_t ping_interval_ms)
    : pool_(pool),
      id_(id),
      key_(PodAddress::Of(endpoint.sockaddr)),
      pod_(endpoint.pod),
      metrics_(endpoint.metrics),
      codec_(H2Codec::Role::kClient, this),
      ping_interval_ms_(std::max<uint64_t>(ping_interval_ms, 1000)) {
  uv_tcp_init(pool->worker_->loop, &tcp_);
  uv_timer_init(pool->worker_->loop, &timer_);
  tcp_.data = this;
  timer_.data = this;
  writer_.Init(reinterpret_cast<uv_stream_t*>(&tcp_), this);
}

H2UpstreamConn::~H2UpstreamConn() = default;

void H2UpstreamConn::Connect(const sockaddr_storage& addr, uint64_t timeout_ms) {
  connect_req_.data = this;
  int rc = pool_->worker_->ConnectTcp(&connect_req_, &tcp_,
                                      reinterpret_cast<const sockaddr*>(&addr), &OnConnect);
  if (rc != 0) {
    connect_error_ = rc;  // reported from the loop, as every connect failure
    timeout_ms = 0;
  }
  uv_timer_start(&timer_, &OnTimer, timeout_ms, 0);
}

bool H2UpstreamConn::accepting() const {
  if (goaway_ || closing_) return false;
  uint32_t limit = codec_.peer_settings_received() ? codec_.peer_max_concurrent_streams()
                                                   : kStreamsBeforeSettings;
  return streams_.size() < limit;
}

int32_t H2UpstreamConn::Open(const HttpHead& request, bool has_body, Owner* owner) {
  if (!accepting()) return 0;
  int32_t stream = codec_.SubmitRequest(request, has_body, nullptr);
  if (stream <= 0) {
    goaway_ = true;  // out of stream ids: new streams go to a new connection
    pool_->Unlist(this);
    return 0;
  }
  streams_.emplace(stream, StreamState{owner});
  ScheduleFlush();
  return stream;
}

void H2UpstreamConn::ResumeBody(int32_t stream) {
  codec_.ResumeData(stream);
  ScheduleFlush();
}

void H2UpstreamConn::Consume(int32_t stream, size_t len) {
  codec_.Consume(stream, len);
  ScheduleFlush();
}

void H2UpstreamConn::Cancel(int32_t stream) {
  StreamState* s = Find(stream);
  if (!s) return;
  s->owner = nullptr;
  codec_.Reset(stream, NGHTTP2_CANCEL);
  ScheduleFlush();
}

H2UpstreamConn::StreamState* H2UpstreamConn::Find(int32_t stream) {
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : &it->second;
}

void H2UpstreamConn::ScheduleFlush() {
  if (!closing_ && connected_) pool_->worker_->flush.Schedule(this);
}

void H2UpstreamConn::Flush() {
  if (closing_ || !connected_) return;
  // Frames go out while the socket keeps up; above the high watermark the rest waits for
  // OnBelowLowWatermark (nghttp2 keeps it, and stops pulling bodies meanwhile).
  writer_.Cork();
  std::string_view out;
  while (!writer_.above_high()) {
    if (!codec_.Pull(&out)) {
      writer_.DropCorked();
      Fail(UV_EPROTO);
      return;
    }
    if (out.empty()) break;
    written_ += out.size();
    if (metrics_) metrics_->bytes_sent->Increment(static_cast<double>(out.size()));
    if (writer_.Write(out) != 0) return;  // OnWriteError has failed the connection
  }
  if (writer_.Uncork() != 0) return;
  if (!codec_.want_read() && !codec_.want_write() && writer_.unsent() == 0) Close();
}

void H2UpstreamConn::OnConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<H2UpstreamConn*>(req->data);
  if (c->closing_) return;
  if (status != 0) {
    if (c->metrics_) c->metrics_->connect_failures->Increment();
    c->Fail(status);
    return;
  }
  c->connected_ = true;
  if (c->metrics_) {
    c->metrics_->connections_total->Increment();
    c->metrics_->h2_connections->Increment();
  }
  uv_tcp_nodelay(&c->tcp_, 1);
  uv_loop_t* loop = c->pool_->worker_->loop;
  c->last_frame_ = c->idle_since_ = uv_now(loop);
  uv_timer_start(&c->timer_, &OnTimer, c->ping_interval_ms_, 0);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* conn = static_cast<H2UpstreamConn*>(h->data);
        BufferPool& buffers = conn->pool_->worker_->buffers;
        *buf = uv_buf_init(buffers.Get().release(), static_cast<unsigned>(buffers.buffer_size()));
      },
      &OnRead);
  c->ScheduleFlush();  // the preface, SETTINGS and the streams opened meanwhile
}

void H2UpstreamConn::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<H2UpstreamConn*>(stream->data);
  std::unique_ptr<char[]> buffer(buf->base);
  BufferPool& buffers = c->pool_->worker_->buffers;
  if (nread > 0 && !c->closing_) {
    c->last_frame_ = uv_now(c->pool_->worker_->loop);
    c->ping_sent_ = 0;
    if (c->metrics_) c->metrics_->bytes_received->Increment(static_cast<double>(nread));
    if (!c->codec_.Receive(buffer.get(), static_cast<size_t>(nread))) {
      LOG_WARN("pod=%s event=upstream_http2_error note=\"the pod broke the HTTP/2 protocol\"",
               c->pod_.c_str());
      c->Flush();  // nghttp2's GOAWAY, if the socket takes it
      c->Fail(UV_EPROTO);
    } else {
      c->ScheduleFlush();
    }
  } else if (nread < 0 && !c->closing_) {
    if (c->streams_.empty()) {  // the pod closed a connection nothing was using
      LOG_DEBUG("pod=%s event=upstream_http2_closed_by_pod", c->pod_.c_str());
      c->Close();
    } else {
      c->Fail(nread == UV_EOF ? UV_ECONNRESET : static_cast<int>(nread));
    }
  }
  buffers.Put(std::move(buffer));
}

void H2UpstreamConn::OnTimer(uv_timer_t* timer) {
  auto* c = static_cast<H2UpstreamConn*>(timer->data);
  if (c->closing_) return;
  FlushQueue& flush = c->pool_->worker_->flush;
  if (!c->connected_) {
    if (c->metrics_) c->metrics_->connect_failures->Increment();
    c->Fail(c->connect_error_ ? c->connect_error_ : UV_ETIMEDOUT);
    flush.Run();
    return;
  }
  const uint64_t now = uv_now(c->pool_->worker_->loop);
  if (c->ping_sent_ && now - c->ping_sent_ >= kPingTimeoutMs) {
    LOG_WARN("pod=%s event=upstream_dead note=\"no answer to PING in %lu ms\" streams=%zu",
             c->pod_.c_str(), static_cast<unsigned long>(kPingTimeoutMs), c->streams_.size());
    c->Fail(UV_ETIMEDOUT);
    flush.Run();
    return;
  }
  if (c->streams_.empty() && now - c->idle_since_ >= kIdleTimeoutMs) {
    c->goaway_ = true;
    c->pool_->Unlist(c);
    c->Close();
    flush.Run();
    return;
  }
  uint64_t next = c->ping_interval_ms_;
  if (!c->ping_sent_ && now - c->last_frame_ >= c->ping_interval_ms_) {
    c->codec_.Ping();
    c->ping_sent_ = now;
    c->ScheduleFlush();
    next = kPingTimeoutMs;
  } else if (c->ping_sent_) {
    next = kPingTimeoutMs - (now - c->ping_sent_);
  } else {
    next = c->ping_interval_ms_ - (now - c->last_frame_);
  }
  uv_timer_start(&c->timer_, &OnTimer, next, 0);
  flush.Run();
}

void H2UpstreamConn::OnResetReceived(int32_t stream, uint32_t error_code) {
  LOG_DEBUG("pod=%s stream=%d event=upstream_reset error_code=%u", pod_.c_str(), stream,
            error_code);
  if (error_code != NGHTTP2_REFUSED_STREAM && metrics_) metrics_->h2_resets->Increment();
}

uint32_t H2UpstreamConn::OnHead(int32_t stream, H2Codec::HeadKind kind, HttpHead& head, bool end) {
  StreamState* s = Find(stream);
  if (!s || !s->owner) return NGHTTP2_CANCEL;
  if (codec_.head_oversized()) {
    LOG_WARN("pod=%s event=upstream_bad_response note=\"header list over %zu bytes\"", pod_.c_str(),
             H2Codec::kMaxHeaderList);
    return NGHTTP2_PROTOCOL_ERROR;  // the stream fails: its owner answers 502
  }
  s->owner->OnUpstreamHead(kind, head, end);
  return 0;
}

void H2UpstreamConn::OnData(int32_t stream, const uint8_t* data, size_t len) {
  StreamState* s = Find(stream);
  if (s && s->owner) s->owner->OnUpstreamData(data, len);
}

void H2UpstreamConn::OnEndStream(int32_t stream) {
  StreamState* s = Find(stream);
  if (s && s->owner) s->owner->OnUpstreamEnd();
}

void H2UpstreamConn::OnStreamClose(int32_t stream, uint32_t error_code) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  StreamState s = it->second;
  streams_.erase(it);
  if (streams_.empty()) idle_since_ = uv_now(pool_->worker_->loop);
  if (s.owner) s.owner->OnUpstreamClose(error_code, error_code == NGHTTP2_REFUSED_STREAM);
  if (goaway_ && streams_.empty()) ScheduleFlush();  // Flush closes once all is sent
}

void H2UpstreamConn::OnGoaway(int32_t last_stream, uint32_t error_code) {
  LOG_INFO("pod=%s event=upstream_goaway last_stream=%d error_code=%u streams=%zu", pod_.c_str(),
           last_stream, error_code, streams_.size());
  if (metrics_) metrics_->h2_goaways->Increment();
  goaway_ = true;
  pool_->Unlist(this);
  if (streams_.empty()) ScheduleFlush();
}

ssize_t H2UpstreamConn::ReadBody(int32_t stream, uint8_t* buf, size_t len, H2Codec::BodyEnd* end) {
  StreamState* s = Find(stream);
  if (!s || !s->owner) {
    end->eof = true;
    return 0;
  }
  return s->owner->ReadUpstreamBody(buf, len, end);
}

metrics::RouteFailure StreamFailure(uint32_t error_code, bool retriable) {
  if (error_code == NGHTTP2_PROTOCOL_ERROR) return metrics::RouteFailure::kUpstreamBadResponse;
  if (retriable && error_code != NGHTTP2_REFUSED_STREAM) {
    return metrics::RouteFailure::kConnectFailed;
  }
  return metrics::RouteFailure::kUpstreamReset;
}

void H2UpstreamConn::Fail(int status) {
  if (closing_) return;
  goaway_ = true;
  pool_->Unlist(this);
  if (status != UV_ECANCELED) {
    LOG_WARN("pod=%s event=upstream_http2_failed error=%s streams=%zu", pod_.c_str(),
             uv_strerror(status), streams_.size());
  }
  // Streams end before the handles close; nothing was processed when nothing was ever written.
  const bool retriable = written_ == 0;
  std::vector<std::pair<int32_t, StreamState>> ended(streams_.begin(), streams_.end());
  streams_.clear();
  for (auto& [id, s] : ended) {
    if (s.owner) s.owner->OnUpstreamClose(NGHTTP2_INTERNAL_ERROR, retriable);
  }
  Close();
}

void H2UpstreamConn::Close() {
  if (closing_) return;
  closing_ = true;
  pool_->Unlist(this);
  pool_->worker_->flush.Cancel(this);
  if (connected_ && metrics_) metrics_->h2_connections->Decrement();
  // Streams still here (a graceful close has none) end as failed.
  std::vector<std::pair<int32_t, StreamState>> ended(streams_.begin(), streams_.end());
  streams_.clear();
  for (auto& [id, s] : ended) {
    if (s.owner) s.owner->OnUpstreamClose(NGHTTP2_INTERNAL_ERROR, false);
  }
  auto on_closed = [](uv_handle_t* h) {
    auto* conn = static_cast<H2UpstreamConn*>(h->data);
    if (conn->handles_.Done()) conn->pool_->Remove(conn);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_closed);
}

}  // namespace podrouter
