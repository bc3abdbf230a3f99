// HttpSession towards HTTP/2 pods (upstream_protocol: http2): an HTTP/1.1 request becomes a
// stream on the pod's shared connection (H2UpstreamConn), and the stream's response an HTTP/1.1
// response — Content-Length kept, otherwise chunked (trailers become the chunked trailer section),
// or delimited by the close for HTTP/1.0 clients.
#include <algorithm>
#include <cstring>

#include "base/log.h"
#include "dataplane/chunk_frame.h"
#include "dataplane/h2_upstream_pool.h"
#include "dataplane/http_session.h"
#include "routing/router.h"

namespace podrouter {
namespace {

constexpr size_t kMaxH2Replay = 64 * 1024;  // request body kept for a refused stream's retry

}  // namespace

void HttpSession::OpenHttp2Stream() {
  const ListenerState& l = *req_.listener;
  const HttpHead& head = parser_.head();
  if (H2HeaderListSize(head) > H2Codec::kMaxHeaderList) {  // more than HTTP/2 can carry
    req_.error_status = 431;
    req_.error_reason = metrics::RouteFailure::kHeadersTooLarge;
    req_.error_body = ErrorBody("headers_too_large", "detail", "too large for an HTTP/2 pod");
    return;
  }
  req_.up2 = worker_->h2_pool->Acquire(*req_.endpoint,
                                       static_cast<uint64_t>(l.config.timeouts.connect.count()),
                                       static_cast<uint64_t>(l.config.timeouts.idle.count()));
  const bool has_body = parser_.framing().body != BodyFraming::kNone;
  req_.up2_stream = req_.up2->Open(head, has_body, this);
  if (req_.up2_stream == 0) {
    req_.up2 = nullptr;
    req_.error_status = 502;
    req_.error_reason = metrics::RouteFailure::kConnectFailed;
    req_.error_body = ErrorBody("upstream_connect_failed", "pod", req_.endpoint->pod);
    return;
  }
  LOG_DEBUG("c=%lu event=request method=%s url=%s pod=%s stream=%d", id(), head.method.c_str(),
            LogQuote(head.url).c_str(), req_.endpoint->pod.c_str(), req_.up2_stream);
}

ssize_t HttpSession::ReadUpstreamBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) {
  size_t n = std::min(len, h2_body_.size() - h2_body_sent_);
  if (n > 0) {
    memcpy(buf, h2_body_.data() + h2_body_sent_, n);
    h2_body_sent_ += n;
    if (!h2_body_replayable_ || h2_body_.size() > kMaxH2Replay) {
      h2_body_replayable_ = false;
      h2_body_.erase(0, h2_body_sent_);
      h2_body_sent_ = 0;
    }
    // The client is read again once the pod took enough of what it sent.
    if (state_ == State::kRequest && h2_body_.size() - h2_body_sent_ < kLowWatermark) {
      StartReadingDownstream();
    }
    return static_cast<ssize_t>(n);
  }
  if (req_.complete) {
    end->eof = true;
    return 0;
  }
  return H2Codec::kDeferred;
}

void HttpSession::OnUpstreamHead(H2Codec::HeadKind kind, HttpHead& head, bool end_stream) {
  if (closed_ || !req_.up2) return;
  OnUpstreamCallbackBegin();
  if (kind == H2Codec::HeadKind::kResponse && !req_.responded) {
    request_deadline_ = 0;
    const int status = head.status;
    BodyFraming framing;
    if (req_.head_method || status == 204 || status == 304) {
      framing = BodyFraming::kNone;
    } else if (head.Find("content-length")) {
      framing = BodyFraming::kLength;
    } else if (end_stream) {
      head.AddHeader("content-length", "0");
      framing = BodyFraming::kLength;
    } else {
      framing = req_.minor == 0 ? BodyFraming::kClose : BodyFraming::kChunked;
    }
    const bool keep = req_.keep_alive && framing != BodyFraming::kClose && !downstream_eof_ &&
                      !draining_ && req_.complete;
    head.major = 1;
    SerializeResponseHead(head, req_.minor, framing, keep, false, &head_buf_);
    WriteDownstream(head_buf_);
    req_.responded = true;
    req_.status = status;
    req_.framing = framing;
    if (!keep) req_.keep_alive = false;
  } else if (kind == H2Codec::HeadKind::kTrailers && req_.framing == BodyFraming::kChunked) {
    // RFC 9112 §7.1.2: trailer fields after the last chunk.
    head_buf_.assign("0\r\n");
    for (const HttpHeader& h : head.headers()) {
      head_buf_.append(h.name).append(": ").append(h.value).append("\r\n");
    }
    head_buf_.append("\r\n");
    WriteDownstream(head_buf_);
    req_.framing = BodyFraming::kNone;  // the body is terminated
  }
  OnUpstreamCallbackEnd();
}

void HttpSession::OnUpstreamData(const uint8_t* data, size_t len) {
  if (closed_ || !req_.up2) return;
  OnUpstreamCallbackBegin();
  Touch();
  const char* bytes = reinterpret_cast<const char*>(data);
  if (req_.framing == BodyFraming::kChunked) {
    ChunkFrame chunk(bytes, len);
    WriteDownstream(chunk.bufs, 3);
  } else if (req_.framing != BodyFraming::kNone) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(bytes), static_cast<unsigned>(len));
    WriteDownstream(&b, 1);
  }
  h2_unconsumed_ += len;
  // Acknowledged at once while the client keeps up; otherwise when its socket drains.
  if (!down_writer_.above_high()) ConsumeHttp2();
  OnUpstreamCallbackEnd();
}

void HttpSession::ConsumeHttp2() {
  if (req_.up2 && h2_unconsumed_ > 0) req_.up2->Consume(req_.up2_stream, h2_unconsumed_);
  h2_unconsumed_ = 0;
}

void HttpSession::OnUpstreamEnd() {
  if (closed_ || !req_.up2) return;
  if (req_.complete) return;  // the stream closes next (OnUpstreamClose), the request is sent
  // The pod answered before the whole request was read: the rest is not wanted.
  OnUpstreamCallbackBegin();
  CancelHttp2Stream();
  req_.keep_alive = false;
  EndHttp2Response();
  OnUpstreamCallbackEnd();
}

void HttpSession::EndHttp2Response() {
  if (req_.framing == BodyFraming::kChunked) WriteDownstream("0\r\n\r\n");
  const bool close = !req_.keep_alive || downstream_eof_ || req_.framing == BodyFraming::kClose;
  EndRequest(close);
}

void HttpSession::OnUpstreamClose(uint32_t error_code, bool retriable) {
  if (closed_ || !req_.up2) return;
  OnUpstreamCallbackBegin();
  req_.up2 = nullptr;
  req_.up2_stream = 0;
  h2_unconsumed_ = 0;
  const std::string& pod = req_.endpoint->pod;
  if (error_code == 0 && req_.responded) {
    EndHttp2Response();
  } else if (req_.responded) {
    LOG_WARN("c=%lu event=pod_failed_mid_response pod=%s http2_error=%u", id(), pod.c_str(),
             error_code);
    metrics_->Failure(metrics::RouteFailure::kUpstreamReset).Increment();
    Close("pod_reset_mid_response", true);
  } else if (retriable && !req_.retried && h2_body_replayable_) {
    // Refused by the pod (GOAWAY, REFUSED_STREAM) or never sent: once more, on another stream.
    LOG_DEBUG("c=%lu event=retry pod=%s http2_error=%u", id(), pod.c_str(), error_code);
    if (req_.endpoint->metrics) req_.endpoint->metrics->retries->Increment();
    req_.retried = true;
    h2_body_sent_ = 0;
    OpenHttp2Stream();
    if (!req_.up2) {
      AnswerLocally(req_.error_status, req_.error_reason, req_.error_body, !req_.complete);
    }
  } else {
    const metrics::RouteFailure reason =
        retriable ? metrics::RouteFailure::kConnectFailed : metrics::RouteFailure::kUpstreamReset;
    const char* error = retriable ? "upstream_connect_failed" : "upstream_reset";
    LOG_WARN("c=%lu listener=%s event=%s pod=%s http2_error=%u", id(), metrics_->name.c_str(),
             error, pod.c_str(), error_code);
    AnswerLocally(502, reason, ErrorBody(error, "pod", pod), /*close=*/!req_.complete);
  }
  OnUpstreamCallbackEnd();
}

void HttpSession::CancelHttp2Stream() {
  if (!req_.up2) return;
  req_.up2->Cancel(req_.up2_stream);
  req_.up2 = nullptr;
  req_.up2_stream = 0;
  h2_unconsumed_ = 0;
}

}  // namespace podrouter
