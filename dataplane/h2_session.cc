// H2Session: the client's HTTP/2 connection, its streams, its deadlines and its output.
#include "dataplane/h2_session.h"

#include <unistd.h>

#include <algorithm>
#include <vector>

#include "base/log.h"
#include "dataplane/h2_stream.h"

namespace podrouter {

H2Session::H2Session(WorkerContext* worker, uint64_t id, std::shared_ptr<ListenerRef> listener,
                     uint32_t port_offset)
    : Session(id),
      worker_(worker),
      listener_(std::move(listener)),
      metrics_(listener_->current->metrics),
      port_offset_(port_offset),
      codec_(H2Codec::Role::kServer, this, listener_->current->config.limits.max_header_bytes) {
  uv_tcp_init(worker->loop, &down_);
  uv_timer_init(worker->loop, &timer_);
  down_.data = timer_.data = this;
  writer_.Init(reinterpret_cast<uv_stream_t*>(&down_), this);
  metrics_->connections_active->Increment();
}

H2Session::~H2Session() = default;

void H2Session::Start(int fd, std::string_view received) {
  if (uv_tcp_open(&down_, fd) != 0) {
    ::close(fd);
    Close("accept_failed", false);
    return;
  }
  uv_tcp_nodelay(&down_, 1);
  last_activity_ = uv_now(worker_->loop);
  ArmTimer(last_activity_ +
           static_cast<uint64_t>(listener_->current->config.timeouts.idle.count()));
  LOG_DEBUG("c=%lu listener=%s event=http2", id(), metrics_->name.c_str());
  reading_ = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&down_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* s = static_cast<H2Session*>(h->data);
        BufferPool& buffers = s->worker_->buffers;
        *buf = uv_buf_init(buffers.Get().release(), static_cast<unsigned>(buffers.buffer_size()));
      },
      &OnRead);
  Receive(received.data(), received.size());
}

void H2Session::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* s = static_cast<H2Session*>(stream->data);
  std::unique_ptr<char[]> buffer(buf->base);
  if (nread > 0 && !s->closed_) {
    s->Receive(buffer.get(), static_cast<size_t>(nread));
  } else if (nread < 0 && !s->closed_) {
    s->Close(nread == UV_EOF ? "client_closed" : "client_reset", nread != UV_EOF);
  }
  s->worker_->buffers.Put(std::move(buffer));
}

void H2Session::Receive(const char* data, size_t len) {
  last_activity_ = uv_now(worker_->loop);
  if (lingering_) return;  // the connection is ending: what the client still sends is dropped
  if (!codec_.Receive(data, len)) {
    LOG_WARN(
        "c=%lu listener=%s event=http2_protocol_error note=\"the client broke HTTP/2; "
        "closing after GOAWAY\"",
        id(), metrics_->name.c_str());
    metrics_->Failure(metrics::RouteFailure::kBadRequest).Increment();
    Flush();  // the GOAWAY, then the lingering close
    Linger();
    return;
  }
  ScheduleFlush();
}

void H2Session::ScheduleFlush() {
  if (!closed_) worker_->flush.Schedule(this);
}

void H2Session::UpdateStreamGauge() {
  const double now = static_cast<double>(streams_.size());
  if (now != streams_gauged_) metrics_->http2_streams_active->Increment(now - streams_gauged_);
  streams_gauged_ = now;
}

void H2Session::Flush() {
  if (closed_) return;
  UpdateStreamGauge();
  if (draining_ && streams_.empty() && !final_goaway_ &&
      uv_now(worker_->loop) - notice_at_ >= kGoawayGraceMs) {
    final_goaway_ = true;  // the client has moved on: the last word, then the close
    codec_.Goaway(NGHTTP2_NO_ERROR);
  }
  writer_.Cork();
  std::string_view out;
  while (!writer_.above_high()) {
    if (!codec_.Pull(&out)) {
      writer_.DropCorked();
      Close("http2_error", true);
      return;
    }
    if (out.empty()) break;
    if (writer_.Write(out) != 0) return;  // OnWriteError closed the session
  }
  if (writer_.Uncork() != 0) return;
  const bool done = !codec_.want_read() && !codec_.want_write();
  if ((done || (final_goaway_ && streams_.empty() && !codec_.want_write())) &&
      writer_.unsent() == 0) {
    Linger();
  }
}

void H2Session::Linger() {
  if (lingering_ || closed_) return;
  lingering_ = true;
  // A close with unread bytes in the socket is a reset, which can destroy the GOAWAY still in
  // flight: so FIN first, then read and drop until the client closes, for at most kLingerMs.
  auto* req = new uv_shutdown_t;
  if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&down_),
                  [](uv_shutdown_t* r, int) { delete r; }) != 0) {
    delete req;
    Close("done", false);
    return;
  }
  ArmTimer(uv_now(worker_->loop) + kLingerMs);
}

uint32_t H2Session::OnHead(int32_t stream, H2Codec::HeadKind kind, HttpHead& head, bool end) {
  if (kind == H2Codec::HeadKind::kTrailers) {
    if (H2Stream* s = Find(stream)) s->OnRequestTrailers(head);
    return 0;
  }
  if (kind != H2Codec::HeadKind::kRequest) return NGHTTP2_PROTOCOL_ERROR;
  std::unique_ptr<H2Stream> owned;
  if (spare_.empty()) {
    owned = std::make_unique<H2Stream>(this);
  } else {
    owned = std::move(spare_.back());
    spare_.pop_back();
  }
  H2Stream* s = owned.get();
  s->Begin(stream);
  streams_.emplace(stream, std::move(owned));
  s->OnRequestHead(head, end);
  if (uint64_t due = s->deadline()) ArmTimer(due);
  return 0;
}

void H2Session::OnData(int32_t stream, const uint8_t* data, size_t len) {
  if (H2Stream* s = Find(stream)) {
    s->OnRequestData(data, len);
  } else {
    codec_.Consume(stream, len);
  }
}

void H2Session::OnEndStream(int32_t stream) {
  if (H2Stream* s = Find(stream)) s->OnRequestEnd();
}

void H2Session::OnStreamClose(int32_t stream, uint32_t error_code) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  std::unique_ptr<H2Stream> s = std::move(it->second);
  streams_.erase(it);
  s->End(error_code);
  if (spare_.size() < kSpareStreams) spare_.push_back(std::move(s));
  if (streams_.empty()) {
    last_activity_ = uv_now(worker_->loop);
    ArmTimer(last_activity_ +
             static_cast<uint64_t>(listener_->current->config.timeouts.idle.count()));
  }
}

void H2Session::OnResetReceived(int32_t stream, uint32_t error_code) {
  metrics_->http2_client_resets->Increment();
  LOG_DEBUG("c=%lu stream=%d event=client_reset error_code=%u", id(), stream, error_code);
}

ssize_t H2Session::ReadBody(int32_t stream, uint8_t* buf, size_t len, H2Codec::BodyEnd* end) {
  H2Stream* s = Find(stream);
  if (!s) {
    end->eof = true;
    return 0;
  }
  return s->ReadResponseBody(buf, len, end);
}

H2Stream* H2Session::Find(int32_t stream) {
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : it->second.get();
}

void H2Session::ArmTimer(uint64_t due) {
  if (closed_ || due == 0) return;
  if (timer_due_ != 0 && timer_due_ <= due) return;  // fires earlier anyway
  timer_due_ = due;
  uint64_t now = uv_now(worker_->loop);
  uv_timer_start(&timer_, &OnTimer, due > now ? due - now : 0, 0);
}

void H2Session::OnTimer(uv_timer_t* timer) {
  auto* s = static_cast<H2Session*>(timer->data);
  s->timer_due_ = 0;
  if (s->lingering_) {
    s->Close("done", false);
    return;
  }
  const uint64_t now = uv_now(s->worker_->loop);
  std::vector<H2Stream*> expired;
  uint64_t next = 0;
  for (auto& [id, stream] : s->streams_) {
    uint64_t due = stream->deadline();
    if (due == 0) continue;
    if (due <= now) {
      expired.push_back(stream.get());
    } else if (next == 0 || due < next) {
      next = due;
    }
  }
  // Expiring only submits frames: no stream closes until the next Flush.
  for (H2Stream* stream : expired) stream->Expire();
  if (s->streams_.empty()) {
    uint64_t idle = static_cast<uint64_t>(s->listener_->current->config.timeouts.idle.count());
    if (now - s->last_activity_ >= idle) {
      s->codec_.Goaway(NGHTTP2_NO_ERROR);
      s->draining_ = s->final_goaway_ = true;
      LOG_DEBUG("c=%lu event=idle_timeout", s->id());
    } else {
      next = s->last_activity_ + idle;
    }
  }
  for (H2Stream* stream : expired) {
    if (uint64_t due = stream->deadline(); due > now && (next == 0 || due < next)) next = due;
  }
  s->ArmTimer(next);
  s->ScheduleFlush();
  s->worker_->flush.Run();
}

void H2Session::Abort() {
  if (closed_) return;
  if (!final_goaway_) codec_.Goaway(NGHTTP2_NO_ERROR);
  final_goaway_ = true;
  Flush();
  Close("aborted", false);
}

void H2Session::NoticeDrain() {
  if (closed_ || draining_) return;
  draining_ = true;
  notice_at_ = uv_now(worker_->loop);
  codec_.ShutdownNotice();
  ArmTimer(notice_at_ + kGoawayGraceMs);
  ScheduleFlush();
}

void H2Session::Drain() {
  if (closed_ || final_goaway_) return;
  draining_ = final_goaway_ = true;
  codec_.Goaway(NGHTTP2_NO_ERROR);
  ScheduleFlush();
}

void H2Session::Close(const char* reason, bool reset) {
  if (closed_) return;
  closed_ = true;
  worker_->flush.Cancel(this);
  if (reset) writer_.DropCorked();
  // Streams end first: each cancels what it has open towards its pod.
  std::vector<std::unique_ptr<H2Stream>> ended;
  for (auto& [id, s] : streams_) ended.push_back(std::move(s));
  streams_.clear();
  for (auto& s : ended) s->End(NGHTTP2_CANCEL);
  ended.clear();
  spare_.clear();
  UpdateStreamGauge();
  metrics_->connections_active->Decrement();
  LOG_DEBUG("c=%lu listener=%s event=closed reason=%s", id(), metrics_->name.c_str(), reason);
  if (!reset || uv_tcp_close_reset(&down_, &OnClosed) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&down_), &OnClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &OnClosed);
}

void H2Session::OnClosed(uv_handle_t* handle) {
  auto* s = static_cast<H2Session*>(handle->data);
  if (s->handles_.Done()) s->worker_->sessions.Remove(s);  // destroys s
}

}  // namespace podrouter
