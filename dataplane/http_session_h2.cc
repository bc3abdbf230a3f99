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
  const ListenerState& l = *x_->req.listener;
  const HttpHead& head = x_->parser.head();
  if (H2HeaderListSize(head) > H2Codec::kMaxHeaderList) {  // more than HTTP/2 can carry
    x_->req.error_status = 431;
    x_->req.error_reason = metrics::RouteFailure::kHeadersTooLarge;
    x_->req.error_body = ErrorBody("headers_too_large", "detail", "too large for an HTTP/2 pod");
    return;
  }
  x_->req.up2 = worker_->h2_pool->Acquire(*x_->req.endpoint,
                                          static_cast<uint64_t>(l.config.timeouts.connect.count()),
                                          static_cast<uint64_t>(l.config.timeouts.idle.count()));
  const bool has_body = x_->parser.framing().body != BodyFraming::kNone;
  x_->req.up2_stream = x_->req.up2->Open(head, has_body, this);
  if (x_->req.up2_stream == 0) {
    x_->req.up2 = nullptr;
    x_->req.error_status = 502;
    x_->req.error_reason = metrics::RouteFailure::kConnectFailed;
    x_->req.error_body = ErrorBody("upstream_connect_failed", "pod", x_->req.endpoint->pod);
    return;
  }
  LOG_DEBUG("c=%lu event=request method=%s url=%s pod=%s stream=%d", id(), head.method.c_str(),
            LogQuote(head.url).c_str(), x_->req.endpoint->pod.c_str(), x_->req.up2_stream);
}

ssize_t HttpSession::ReadUpstreamBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) {
  size_t n = std::min(len, x_->h2_body.size() - x_->h2_body_sent);
  if (n > 0) {
    memcpy(buf, x_->h2_body.data() + x_->h2_body_sent, n);
    x_->h2_body_sent += n;
    if (!x_->h2_body_replayable || x_->h2_body.size() > kMaxH2Replay) {
      x_->h2_body_replayable = false;
      x_->h2_body.erase(0, x_->h2_body_sent);
      x_->h2_body_sent = 0;
    }
    // The client is read again once the pod took enough of what it sent.
    if (state_ == State::kRequest && x_->h2_body.size() - x_->h2_body_sent < kLowWatermark) {
      StartReadingDownstream();
    }
    return static_cast<ssize_t>(n);
  }
  if (x_->req.complete) {
    end->eof = true;
    end->trailers = &x_->h2_trailers;
    return 0;
  }
  return H2Codec::kDeferred;
}

void HttpSession::OnUpstreamHead(H2Codec::HeadKind kind, HttpHead& head, bool end_stream) {
  if (closed_ || !x_ || !x_->req.up2) return;
  OnUpstreamCallbackBegin();
  if (kind == H2Codec::HeadKind::kResponse && !x_->req.responded) {
    request_deadline_ = 0;
    const int status = head.status;
    BodyFraming framing;
    if (x_->req.head_method || status == 204 || status == 304) {
      framing = BodyFraming::kNone;
    } else if (head.Find("content-length")) {
      framing = BodyFraming::kLength;
    } else if (end_stream) {
      head.AddHeader("content-length", "0");
      framing = BodyFraming::kLength;
    } else {
      framing = x_->req.minor == 0 ? BodyFraming::kClose : BodyFraming::kChunked;
    }
    const bool keep = x_->req.keep_alive && framing != BodyFraming::kClose && !downstream_eof_ &&
                      !draining_ && x_->req.complete;
    head.major = 1;
    SerializeResponseHead(head, x_->req.minor, framing, keep, false, &x_->head_buf);
    WriteDownstream(x_->head_buf);
    x_->req.responded = true;
    x_->req.status = status;
    x_->req.framing = framing;
    if (!keep) x_->req.keep_alive = false;
  } else if (kind == H2Codec::HeadKind::kTrailers && x_->req.framing == BodyFraming::kChunked) {
    SerializeLastChunk(&head, &x_->head_buf);  // RFC 9112 §7.1.2
    WriteDownstream(x_->head_buf);
    x_->req.framing = BodyFraming::kNone;  // the body is terminated
  }
  OnUpstreamCallbackEnd();
}

void HttpSession::OnUpstreamData(const uint8_t* data, size_t len) {
  if (closed_ || !x_ || !x_->req.up2) return;
  OnUpstreamCallbackBegin();
  Touch();
  const char* bytes = reinterpret_cast<const char*>(data);
  if (x_->req.framing == BodyFraming::kChunked) {
    ChunkFrame chunk(bytes, len);
    WriteDownstream(chunk.bufs, 3);
  } else if (x_->req.framing != BodyFraming::kNone) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(bytes), static_cast<unsigned>(len));
    WriteDownstream(&b, 1);
  }
  x_->h2_unconsumed += len;
  // Acknowledged at once while the client keeps up; otherwise when its socket drains.
  if (!x_->writer.above_high()) ConsumeHttp2();
  OnUpstreamCallbackEnd();
}

void HttpSession::ConsumeHttp2() {
  if (!x_) return;
  if (x_->req.up2 && x_->h2_unconsumed > 0)
    x_->req.up2->Consume(x_->req.up2_stream, x_->h2_unconsumed);
  x_->h2_unconsumed = 0;
}

void HttpSession::OnUpstreamEnd() {
  if (closed_ || !x_ || !x_->req.up2) return;
  if (x_->req.complete) return;  // the stream closes next (OnUpstreamClose), the request is sent
  // The pod answered before the whole request was read: the rest is not wanted.
  OnUpstreamCallbackBegin();
  CancelHttp2Stream();
  x_->req.keep_alive = false;
  EndHttp2Response();
  OnUpstreamCallbackEnd();
}

void HttpSession::EndHttp2Response() {
  if (x_->req.framing == BodyFraming::kChunked) WriteDownstream("0\r\n\r\n");
  const bool close =
      !x_->req.keep_alive || downstream_eof_ || x_->req.framing == BodyFraming::kClose;
  EndRequest(close);
}

void HttpSession::OnUpstreamClose(uint32_t error_code, bool retriable) {
  if (closed_ || !x_ || !x_->req.up2) return;
  OnUpstreamCallbackBegin();
  x_->req.up2 = nullptr;
  x_->req.up2_stream = 0;
  x_->h2_unconsumed = 0;
  const std::string& pod = x_->req.endpoint->pod;
  if (error_code == 0 && x_->req.responded) {
    EndHttp2Response();
  } else if (x_->req.responded) {
    LOG_WARN("c=%lu event=pod_failed_mid_response pod=%s http2_error=%u", id(), pod.c_str(),
             error_code);
    metrics_->Failure(metrics::RouteFailure::kUpstreamReset).Increment();
    Close("pod_reset_mid_response", true);
  } else if (retriable && !x_->req.retried && x_->h2_body_replayable) {
    // Refused by the pod (GOAWAY, REFUSED_STREAM) or never sent: once more, on another stream.
    LOG_DEBUG("c=%lu event=retry pod=%s http2_error=%u", id(), pod.c_str(), error_code);
    if (x_->req.endpoint->metrics) x_->req.endpoint->metrics->retries->Increment();
    x_->req.retried = true;
    x_->h2_body_sent = 0;
    OpenHttp2Stream();
    if (!x_->req.up2) {
      AnswerLocally(x_->req.error_status, x_->req.error_reason, x_->req.error_body,
                    !x_->req.complete);
    }
  } else {
    const metrics::RouteFailure reason = StreamFailure(error_code, retriable);
    const char* error = ErrorWord(reason);
    LOG_WARN("c=%lu listener=%s event=%s pod=%s http2_error=%u", id(), metrics_->name.c_str(),
             error, pod.c_str(), error_code);
    AnswerLocally(502, reason, ErrorBody(error, "pod", pod), /*close=*/!x_->req.complete);
  }
  OnUpstreamCallbackEnd();
}

void HttpSession::CancelHttp2Stream() {
  if (!x_ || !x_->req.up2) return;
  x_->req.up2->Cancel(x_->req.up2_stream);
  x_->req.up2 = nullptr;
  x_->req.up2_stream = 0;
  x_->h2_unconsumed = 0;
}

}  // namespace podrouter
