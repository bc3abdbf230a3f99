// HttpSession, the pod's side: the events of the leased UpstreamConn (UpstreamConn::Owner) — the
// response head and body on their way to the client, upgrades to a tunnel, and what a failed
// pod connection becomes (a retry, a 502, or the end of the client connection).
#include <cassert>
#include <utility>

#include "base/log.h"
#include "dataplane/chunk_frame.h"
#include "dataplane/http_session.h"
#include "http/http_framing.h"
#include "routing/router.h"

namespace podrouter {

void HttpSession::OnUpstreamCallbackBegin() {
  assert(!in_upstream_callback_);
  in_upstream_callback_ = true;
  if (!closed_) down_writer_.Cork();
}

void HttpSession::OnUpstreamCallbackEnd() {
  in_upstream_callback_ = false;
  UncorkDownstream();
  if (std::exchange(resume_after_callback_, false)) ResumeDownstream();
}

bool HttpSession::OnUpstreamHead(HttpHead& head, std::string* error) {
  if (closed_ || !req_.up) return false;
  UpstreamConn* c = req_.up;
  request_deadline_ = 0;
  const int status = head.status;
  if (status >= 100 && status < 200 && status != 101) {
    // Interim answers (100 Continue for Expect) are passed on to HTTP/1.1 clients.
    if (req_.minor == 1) {
      SerializeResponseHead(head, 1, BodyFraming::kNone, true, false, &head_buf_);
      WriteDownstream(head_buf_);
    }
    return true;
  }
  if (status == 101 && !req_.upgrade) {
    *error = "101 Switching Protocols without an upgrade request";
    return false;
  }
  const BodyFraming framing = DownstreamFraming(c->response_framing().body, status, req_.minor);
  // Whether the client connection outlives this response is decided here, once, and said in the
  // head: a final answer that comes before the whole request was read (an early 413 to an
  // Expect: 100-continue, say) leaves the rest of the request unread, so the connection closes.
  bool keep = req_.keep_alive && framing != BodyFraming::kClose && !downstream_eof_ && !draining_ &&
              req_.complete && (req_.upgrade ? status == 101 : true);
  SerializeResponseHead(head, req_.minor, framing, keep, status == 101, &head_buf_);
  WriteDownstream(head_buf_);
  req_.responded = true;
  req_.status = status;
  req_.framing = framing;
  if (!keep) req_.keep_alive = false;
  return true;
}

void HttpSession::OnUpstreamBody(const char* data, size_t len) {
  if (closed_ || !req_.up) return;
  Touch();
  if (req_.framing == BodyFraming::kChunked) {
    ChunkFrame chunk(data, len);
    WriteDownstream(chunk.bufs, 3);
  } else if (req_.framing != BodyFraming::kNone) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    WriteDownstream(&b, 1);
  }
  if (down_writer_.above_high() && req_.up) req_.up->PauseReading();  // the client reads slower
}

void HttpSession::OnUpstreamComplete(bool clean) {
  if (closed_ || !req_.up) return;
  UpstreamConn* c = req_.up;
  if (req_.framing == BodyFraming::kChunked) WriteDownstream("0\r\n\r\n");
  if (clean && req_.complete && c->reusable() && c->unsent() == 0) {
    worker_->pool->Release(c);
  } else {
    worker_->pool->Discard(c);
  }
  req_.up = nullptr;
  // The head said whether the connection stays (OnUpstreamHead): keep to it. A client that has
  // half-closed since has no further requests to send.
  EndRequest(/*close=*/!req_.keep_alive || downstream_eof_);
}

void HttpSession::OnUpstreamUpgraded() {
  if (closed_ || !req_.up) return;
  state_ = State::kTunnel;
  metrics_->http_request_duration->Observe(static_cast<double>(uv_hrtime() - req_.started_ns) /
                                           1e9);
  worker_->HttpRequests(*metrics_, req_.endpoint->metrics, 101).Increment();
  LOG_DEBUG("c=%lu event=tunnel pod=%s", id(), req_.endpoint->pod.c_str());
  if (!pending_.empty()) {
    std::string early = std::move(pending_);
    pending_.clear();
    uv_buf_t b = uv_buf_init(early.data(), static_cast<unsigned>(early.size()));
    WriteUpstream(&b, 1);
  }
  if (downstream_eof_) {
    tunnel_downstream_eof_ = true;
    if (req_.up) req_.up->ShutdownWrite();
  } else {
    StartReadingDownstream();
  }
}

void HttpSession::OnUpstreamTunnelData(const char* data, size_t len) {
  if (closed_ || !req_.up) return;
  Touch();
  uv_buf_t b = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  WriteDownstream(&b, 1);
  if (down_writer_.above_high() && req_.up) req_.up->PauseReading();
}

void HttpSession::OnUpstreamTunnelEof() {
  if (closed_ || !req_.up) return;
  tunnel_upstream_eof_ = true;
  if (tunnel_downstream_eof_) {
    CloseWhenFlushed();
    return;
  }
  auto req = std::make_unique<uv_shutdown_t>();  // pass the pod's FIN on once the data is out
  if (uv_shutdown(req.get(), reinterpret_cast<uv_stream_t*>(&down_),
                  [](uv_shutdown_t* r, int) { std::unique_ptr<uv_shutdown_t> owned(r); }) == 0) {
    req.release();
  }
}

void HttpSession::OnUpstreamBelowLowWatermark() {
  if (closed_ || !req_.up) return;
  if (state_ == State::kRequest || state_ == State::kTunnel) StartReadingDownstream();
}

void HttpSession::OnUpstreamError(int status) {
  if (closed_ || !req_.up) return;
  if (in_downstream_parse_) {
    deferred_error_ = status;  // handled once the parser has returned
    return;
  }
  HandleUpstreamError(status);
}

void HttpSession::HandleUpstreamError(int status) {
  UpstreamConn* c = req_.up;
  if (!c) return;
  const bool connected = c->connected(), got_bytes = c->got_response_bytes();
  const bool sent = c->sent_request_bytes();
  req_.up = nullptr;
  worker_->pool->Discard(c, true);
  request_deadline_ = 0;
  const std::string& pod = req_.endpoint->pod;
  if (state_ == State::kTunnel) {
    Close("pod_reset", true);
    return;
  }
  if (req_.responded) {
    // Part of the response is with the client: all we can do is end the connection.
    LOG_WARN("c=%lu event=pod_failed_mid_response pod=%s error=%s", id(), pod.c_str(),
             uv_strerror(status));
    metrics_->Failure(metrics::RouteFailure::kUpstreamReset).Increment();
    Close("pod_reset_mid_response", true);
    return;
  }
  // A pooled connection the pod had closed before it could answer: the request goes once more,
  // on a fresh connection, if it may be sent twice (RFC 9110 §9.2.2) or provably was not sent.
  if (connected && !got_bytes && req_.reused && req_.retriable && !req_.retried &&
      (req_.idempotent || !sent)) {
    LOG_DEBUG("c=%lu event=retry pod=%s error=%s", id(), pod.c_str(), uv_strerror(status));
    if (req_.endpoint->metrics) req_.endpoint->metrics->retries->Increment();
    req_.retried = true;
    std::string replay = std::move(replay_);
    replay_.clear();
    req_.up = worker_->pool->Acquire(
        *req_.endpoint, this, static_cast<uint64_t>(req_.listener->config.timeouts.connect.count()),
        /*fresh=*/true, &req_.reused);
    req_.up->BeginRequest(req_.head_method);
    uv_buf_t b = uv_buf_init(replay.data(), static_cast<unsigned>(replay.size()));
    WriteUpstream(&b, 1);
    if (state_ == State::kWaiting) ArmRequestTimer();
    return;
  }
  // Why the pod gave no usable answer: it refused, it broke the connection, or it spoke garbage.
  const bool refused = !connected, garbled = status == UV_EPROTO;
  const char* error = refused   ? "upstream_connect_failed"
                      : garbled ? "upstream_bad_response"
                                : "upstream_reset";
  LOG_WARN("c=%lu listener=%s event=%s pod=%s error=%s", id(), metrics_->name.c_str(), error,
           pod.c_str(), uv_strerror(status));
  AnswerLocally(502,
                refused   ? metrics::RouteFailure::kConnectFailed
                : garbled ? metrics::RouteFailure::kUpstreamBadResponse
                          : metrics::RouteFailure::kUpstreamReset,
                ErrorBody(error, "pod", pod), /*close=*/!req_.complete);
}

}  // namespace podrouter
