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
  if (!closed_ && x_) x_->writer.Cork();
}

void HttpSession::OnUpstreamCallbackEnd() {
  in_upstream_callback_ = false;
  UncorkDownstream();
  if (std::exchange(resume_after_callback_, false)) ResumeDownstream();
  MaybeRest();
}

bool HttpSession::OnUpstreamHead(HttpHead& head, std::string* error) {
  if (closed_ || !x_ || !x_->req.up) return false;
  UpstreamConn* c = x_->req.up;
  const int status = head.status;
  if (status >= 100 && status < 200 && status != 101) {
    // Interim answers (100 Continue for Expect, 103 Early Hints) are passed on to HTTP/1.1
    // clients; only the final response stops the request timeout.
    if (x_->req.minor == 1) {
      SerializeResponseHead(head, 1, BodyFraming::kNone, true, false, &x_->head_buf);
      WriteDownstream(x_->head_buf);
      if (x_->writer.above_high()) c->PauseReading();  // as for the body: the client reads slower
    }
    return true;
  }
  request_deadline_ = 0;
  if (status == 101 && !x_->req.upgrade) {
    *error = "101 Switching Protocols without an upgrade request";
    return false;
  }
  const BodyFraming framing = DownstreamFraming(c->response_framing().body, status, x_->req.minor);
  // Whether the client connection outlives this response is decided here, once, and said in the
  // head: a final answer that comes before the whole request was read (an early 413 to an
  // Expect: 100-continue, say) leaves the rest of the request unread, so the connection closes.
  bool keep = x_->req.keep_alive && framing != BodyFraming::kClose && !downstream_eof_ &&
              !draining_ && x_->req.complete && (x_->req.upgrade ? status == 101 : true);
  SerializeResponseHead(head, x_->req.minor, framing, keep, status == 101, &x_->head_buf);
  WriteDownstream(x_->head_buf);
  x_->req.responded = true;
  x_->req.status = status;
  x_->req.framing = framing;
  if (!keep) x_->req.keep_alive = false;
  return true;
}

void HttpSession::OnUpstreamBody(const char* data, size_t len) {
  if (closed_ || !x_ || !x_->req.up) return;
  Touch();
  if (x_->req.framing == BodyFraming::kChunked) {
    ChunkFrame chunk(data, len);
    WriteDownstream(chunk.bufs, 3);
  } else if (x_->req.framing != BodyFraming::kNone) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    WriteDownstream(&b, 1);
  }
  if (x_->writer.above_high() && x_->req.up) x_->req.up->PauseReading();  // the client reads slower
}

void HttpSession::OnUpstreamComplete(bool clean) {
  if (closed_ || !x_ || !x_->req.up) return;
  UpstreamConn* c = x_->req.up;
  if (x_->req.framing == BodyFraming::kChunked) {
    // RFC 9112 §7.1.2: the last chunk carries the response's trailer section on.
    SerializeLastChunk(&c->response_trailers(), &x_->head_buf);
    WriteDownstream(x_->head_buf);
  }
  if (clean && x_->req.complete && c->reusable() && c->unsent() == 0) {
    worker_->pool->Release(c);
  } else {
    worker_->pool->Discard(c);
  }
  x_->req.up = nullptr;
  // The head said whether the connection stays (OnUpstreamHead): keep to it. A client that has
  // half-closed since has no further requests to send.
  EndRequest(/*close=*/!x_->req.keep_alive || downstream_eof_);
}

void HttpSession::OnUpstreamUpgraded() {
  if (closed_ || !x_ || !x_->req.up) return;
  state_ = State::kTunnel;
  metrics_->http_request_duration->Observe(static_cast<double>(uv_hrtime() - x_->req.started_ns) /
                                           1e9);
  worker_->HttpRequests(*metrics_, x_->req.endpoint->metrics, 101).Increment();
  LOG_DEBUG("c=%lu event=tunnel pod=%s", id(), x_->req.endpoint->pod.c_str());
  if (!x_->pending.empty()) {
    std::string early = std::move(x_->pending);
    x_->pending.clear();
    uv_buf_t b = uv_buf_init(early.data(), static_cast<unsigned>(early.size()));
    WriteUpstream(&b, 1);
  }
  if (downstream_eof_) {
    tunnel_downstream_eof_ = true;
    if (x_->req.up) x_->req.up->ShutdownWrite();
  } else {
    StartReadingDownstream();
  }
}

void HttpSession::OnUpstreamTunnelData(const char* data, size_t len) {
  if (closed_ || !x_ || !x_->req.up) return;
  Touch();
  uv_buf_t b = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  WriteDownstream(&b, 1);
  if (x_->writer.above_high() && x_->req.up) x_->req.up->PauseReading();
}

void HttpSession::OnUpstreamTunnelEof() {
  if (closed_ || !x_ || !x_->req.up) return;
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
  if (closed_ || !x_ || !x_->req.up) return;
  if (state_ == State::kRequest || state_ == State::kTunnel) StartReadingDownstream();
}

void HttpSession::OnUpstreamError(int status) {
  if (closed_ || !x_ || !x_->req.up) return;
  if (in_downstream_parse_) {
    deferred_error_ = status;  // handled once the parser has returned
    return;
  }
  HandleUpstreamError(status);
}

void HttpSession::HandleUpstreamError(int status) {
  UpstreamConn* c = x_->req.up;
  if (!c) return;
  const bool connected = c->connected();
  const bool may_retry = c->MayRetry(x_->req.reused, x_->req.idempotent);
  x_->req.up = nullptr;
  worker_->pool->Discard(c, true);
  request_deadline_ = 0;
  const std::string& pod = x_->req.endpoint->pod;
  if (state_ == State::kTunnel) {
    Close("pod_reset", true);
    return;
  }
  if (x_->req.responded) {
    // Part of the response is with the client: all we can do is end the connection.
    LOG_WARN("c=%lu event=pod_failed_mid_response pod=%s error=%s", id(), pod.c_str(),
             uv_strerror(status));
    metrics_->Failure(metrics::RouteFailure::kUpstreamReset).Increment();
    Close("pod_reset_mid_response", true);
    return;
  }
  // A pooled connection the pod had closed before it could answer: the request goes once more,
  // on a fresh connection, if it may be sent twice (RFC 9110 §9.2.2) or provably was not sent.
  if (may_retry && x_->req.retriable && !x_->req.retried) {
    LOG_DEBUG("c=%lu event=retry pod=%s error=%s", id(), pod.c_str(), uv_strerror(status));
    if (x_->req.endpoint->metrics) x_->req.endpoint->metrics->retries->Increment();
    x_->req.retried = true;
    std::string replay = std::move(x_->replay);
    x_->replay.clear();
    x_->req.up = worker_->pool->Acquire(
        *x_->req.endpoint, this,
        static_cast<uint64_t>(x_->req.listener->config.timeouts.connect.count()),
        /*fresh=*/true, &x_->req.reused);
    x_->req.up->BeginRequest(x_->req.head_method);
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
                ErrorBody(error, "pod", pod), /*close=*/!x_->req.complete);
}

}  // namespace podrouter
