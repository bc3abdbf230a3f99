// H2Stream: route one client stream, relay it to its pod (HTTP/2 or HTTP/1.1), answer errors.
#include "dataplane/h2_stream.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "base/log.h"
#include "dataplane/chunk_frame.h"
#include "dataplane/h2_session.h"
#include "dataplane/h2_upstream_pool.h"
#include "dataplane/upstream_pool.h"
#include "http2/h2_headers.h"
#include "routing/router.h"

namespace podrouter {
namespace {

using namespace std::string_view_literals;
using metrics::RouteFailure;

// The gRPC status podrouter answers a call with for each reason it fails it (SPEC "Routing
// rules"): the request's fault is INVALID_ARGUMENT, a deadline DEADLINE_EXCEEDED, anything about
// the pod UNAVAILABLE (clients retry those).
GrpcStatus GrpcStatusFor(RouteFailure reason) {
  switch (reason) {
    case RouteFailure::kBadRequest:
    case RouteFailure::kMissingKey:
    case RouteFailure::kBadOrdinal:
      return GrpcStatus::kInvalidArgument;
    case RouteFailure::kUpstreamTimeout:
      return GrpcStatus::kDeadlineExceeded;
    case RouteFailure::kHeadersTooLarge:
      return GrpcStatus::kResourceExhausted;
    case RouteFailure::kGrpcNeedsHttp2:
      return GrpcStatus::kUnimplemented;
    default:
      return GrpcStatus::kUnavailable;
  }
}

}  // namespace

void H2Stream::Begin(int32_t id) {
  x_ = Exchange{};
  x_.id = id;
  request_.Clear();
  request_trailers_.Clear();
  trailers_.Clear();
  body_.clear();
  response_.clear();
}

void H2Stream::OnRequestHead(HttpHead& head, bool end_stream) {
  WorkerContext* worker = session_->worker_;
  x_.started_ns = uv_hrtime();
  x_.listener = session_->listener_->current;
  // The head is copied: it is needed again for a retry (and the codec reuses its own).
  request_.method = head.method;
  request_.url = head.url;
  request_.major = 2;
  request_.minor = 0;
  // RFC 9113 §8.2.3: cookie fields may arrive split; an HTTP/1.1 pod needs them as one. (An
  // index, not a pointer: adding headers may move the slots.)
  size_t cookie = SIZE_MAX;
  for (const HttpHeader& h : head.headers()) {
    if (h.name == "cookie"sv && cookie != SIZE_MAX) {
      request_.headers()[cookie].value.append("; "sv).append(h.value);
      continue;
    }
    if (h.name == "cookie"sv) cookie = request_.headers().size();
    request_.AddHeader(h.name, h.value);
  }
  x_.request_end = end_stream;
  x_.grpc = IsGrpc(request_);
  x_.head_method = request_.method == "HEAD"sv;
  x_.idempotent = IsIdempotentMethod(request_.method);
  const config::Listener& config = x_.listener->config;
  const uint64_t now = uv_now(worker->loop);
  uint64_t head_wait = static_cast<uint64_t>(config.timeouts.request.count());
  if (const std::string* t = request_.Find("grpc-timeout"sv); t && x_.grpc) {
    if (auto ms = ParseGrpcTimeoutMs(*t)) {
      x_.call_deadline = now + std::max<uint64_t>(*ms, 1);
      head_wait = std::min(head_wait, *ms);
    }
  }
  x_.head_deadline = now + std::max<uint64_t>(head_wait, 1);
  if (session_->codec_.head_oversized()) {
    AnswerLocally(431, RouteFailure::kHeadersTooLarge, ErrorBody("headers_too_large"));
    return;
  }
  if (request_.method == "CONNECT"sv) {
    AnswerLocally(400, RouteFailure::kBadRequest,
                  ErrorBody("bad_request", "detail", "CONNECT is not supported"));
    return;
  }
  if (x_.grpc && config.upstream_protocol == config::UpstreamProtocol::kHttp1) {
    // gRPC needs trailers, which an HTTP/1.1 response cannot be trusted to carry.
    AnswerLocally(501, RouteFailure::kGrpcNeedsHttp2,
                  ErrorBody(metrics::ToString(RouteFailure::kGrpcNeedsHttp2)));
    return;
  }
  x_.pods = x_.listener->service->snapshot();
  RouteResult route = Route(config.route, x_.listener->service->service(),
                            RouteInput{&request_, session_->port_offset_}, x_.pods,
                            &session_->listener_->pickers, &session_->key_scratch_);
  if (!route.endpoint) {
    AnswerLocally(route.status, route.reason, route.body);
    return;
  }
  x_.endpoint = route.endpoint;
  Dispatch();
}

void H2Stream::Dispatch() {
  const config::Listener& config = x_.listener->config;
  const uint64_t connect_ms = static_cast<uint64_t>(config.timeouts.connect.count());
  if (config.upstream_protocol == config::UpstreamProtocol::kHttp1) {
    DispatchHttp1();
    return;
  }
  x_.up2 = session_->worker_->h2_pool->Acquire(*x_.endpoint, connect_ms,
                                               static_cast<uint64_t>(config.timeouts.idle.count()));
  const bool has_body = !x_.request_end || body_.size() > 0 || request_trailers_.headers().size();
  x_.up_stream = x_.up2->Open(request_, has_body, this);
  if (x_.up_stream == 0) {
    x_.up2 = nullptr;
    AnswerLocally(502, RouteFailure::kConnectFailed,
                  ErrorBody(ErrorWord(RouteFailure::kConnectFailed), "pod", x_.endpoint->pod));
  }
}

void H2Stream::DispatchHttp1() {
  WorkerContext* worker = session_->worker_;
  x_.up1 = worker->pool->Acquire(
      *x_.endpoint, this, static_cast<uint64_t>(x_.listener->config.timeouts.connect.count()),
      /*fresh=*/x_.retried, &x_.up1_reused);
  x_.up1->BeginRequest(x_.head_method);
  if (request_.Find("content-length"sv)) {
    x_.up1_framing = BodyFraming::kLength;
  } else if (x_.request_end && body_.empty()) {
    x_.up1_framing = BodyFraming::kNone;
  } else {
    x_.up1_framing = BodyFraming::kChunked;
  }
  std::string head;
  SerializeRequestHead(request_, x_.up1_framing, /*upgrade=*/false, &head);
  if (x_.up1->Write(head) != 0) return;  // reported through OnUpstreamError
  WriteHttp1Body();
}

void H2Stream::WriteHttp1Body() {
  if (!x_.up1) return;
  if (x_.body_sent < body_.size()) {
    const char* data = body_.data() + x_.body_sent;
    size_t len = body_.size() - x_.body_sent;
    int rc;
    if (x_.up1_framing == BodyFraming::kChunked) {
      ChunkFrame frame(data, len);
      rc = x_.up1->Write(frame.bufs, 3);
    } else {
      rc = x_.up1->Write(std::string_view(data, len));
    }
    x_.body_sent = body_.size();
    x_.body_unconsumed += len;
    if (rc != 0) return;
    if (!x_.up1->above_high()) {
      session_->codec_.Consume(x_.id, x_.body_unconsumed);
      x_.body_unconsumed = 0;
    }
  }
  if (x_.request_end && x_.up1_framing == BodyFraming::kChunked && x_.body_sent == body_.size()) {
    x_.up1_framing = BodyFraming::kNone;  // the last chunk goes once, with the trailers
    std::string last;
    SerializeLastChunk(&request_trailers_, &last);
    x_.up1->Write(last);
  }
  if (!x_.replayable || body_.size() > kMaxReplay) {
    x_.replayable = false;
    body_.clear();
    x_.body_sent = 0;
  }
  session_->ScheduleFlush();
}

void H2Stream::OnRequestTrailers(HttpHead& trailers) {
  if (session_->codec_.head_oversized()) {
    // A trailer section over the limit was not kept whole, so none of it goes on: the pod's
    // request is cancelled, unfinished, and the client answered 431 (found by the breaker: the
    // first fields went on, the rest were lost, and the request succeeded).
    x_.request_end = true;
    DetachUpstream(/*cancel=*/true);
    if (!x_.responded) {
      AnswerLocally(431, RouteFailure::kHeadersTooLarge, ErrorBody("headers_too_large"));
    } else {
      FailResponse(RouteFailure::kHeadersTooLarge);
    }
    return;
  }
  request_trailers_.Clear();
  for (const HttpHeader& h : trailers.headers()) request_trailers_.AddHeader(h.name, h.value);
  OnRequestEnd();
}

void H2Stream::OnRequestData(const uint8_t* data, size_t len) {
  if (!x_.up1 && !x_.up2) {
    session_->codec_.Consume(x_.id, len);  // answered already: not needed
    return;
  }
  body_.append(reinterpret_cast<const char*>(data), len);
  if (x_.up2) x_.up2->ResumeBody(x_.up_stream);
  if (x_.up1) WriteHttp1Body();
}

void H2Stream::OnRequestEnd() {
  x_.request_end = true;
  if (x_.up2) x_.up2->ResumeBody(x_.up_stream);
  if (x_.up1) WriteHttp1Body();
}

ssize_t H2Stream::ReadUpstreamBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) {
  size_t n = std::min(len, body_.size() - x_.body_sent);
  if (n > 0) {
    memcpy(buf, body_.data() + x_.body_sent, n);
    x_.body_sent += n;
    session_->codec_.Consume(x_.id, n);  // the client may send as much again
    session_->ScheduleFlush();
    if (!x_.replayable || body_.size() > kMaxReplay) {
      // Too large to send twice: only what has not gone out yet is kept.
      x_.replayable = false;
      body_.erase(0, x_.body_sent);
      x_.body_sent = 0;
    }
    return static_cast<ssize_t>(n);
  }
  if (x_.request_end) {
    end->eof = true;
    if (request_trailers_.headers().size()) end->trailers = &request_trailers_;
    return 0;
  }
  return H2Codec::kDeferred;
}

void H2Stream::OnUpstreamHead(H2Codec::HeadKind kind, HttpHead& head, bool end_stream) {
  switch (kind) {
    case H2Codec::HeadKind::kInformational:
      if (!x_.responded) session_->codec_.SubmitResponse(x_.id, head, true);
      break;
    case H2Codec::HeadKind::kResponse:
      ResponseHead(head, end_stream);
      break;
    case H2Codec::HeadKind::kTrailers:
      trailers_.Clear();
      for (const HttpHeader& h : head.headers()) trailers_.AddHeader(h.name, h.value);
      x_.has_trailers = true;
      if (int g = GrpcStatusOf(trailers_); g >= 0) x_.grpc_status = g;
      x_.response_end = true;
      ResumeClient();
      break;
    case H2Codec::HeadKind::kRequest:
      break;
  }
  session_->ScheduleFlush();
}

void H2Stream::ResponseHead(const HttpHead& head, bool end_stream) {
  if (x_.responded) return;
  x_.responded = true;
  x_.status = head.status;
  if (int g = GrpcStatusOf(head); g >= 0) x_.grpc_status = g;  // Trailers-Only
  x_.response_end = end_stream;
  const bool bodiless = x_.head_method || x_.status == 204 || x_.status == 304;
  if (bodiless) x_.response_end = true;
  session_->codec_.SubmitResponse(x_.id, head, !(end_stream || bodiless));
}

void H2Stream::OnUpstreamData(const uint8_t* data, size_t len) {
  if (x_.response_end) {
    if (x_.up2) x_.up2->Consume(x_.up_stream, len);
    return;
  }
  response_.append(reinterpret_cast<const char*>(data), len);
  ResumeClient();
}

void H2Stream::OnUpstreamEnd() {
  x_.response_end = true;
  ResumeClient();
}

void H2Stream::ResumeClient() {
  session_->codec_.ResumeData(x_.id);
  session_->ScheduleFlush();
}

ssize_t H2Stream::ReadResponseBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) {
  size_t n = std::min(len, response_.size() - x_.response_sent);
  if (n > 0) {
    memcpy(buf, response_.data() + x_.response_sent, n);
    x_.response_sent += n;
    if (x_.response_sent == response_.size()) {
      response_.clear();
      x_.response_sent = 0;
    }
    if (x_.up2) x_.up2->Consume(x_.up_stream, n);  // the pod may send as much again
    if (x_.up1 && x_.up1_paused &&
        response_.size() - x_.response_sent < H2Codec::kStreamWindow / 2) {
      x_.up1_paused = false;
      x_.up1->ResumeReading();
    }
    return static_cast<ssize_t>(n);
  }
  if (x_.response_end) {
    end->eof = true;
    x_.response_ended = true;
    if (x_.has_trailers) end->trailers = &trailers_;
    return 0;
  }
  return H2Codec::kDeferred;
}

void H2Stream::OnUpstreamClose(uint32_t error_code, bool retriable) {
  x_.up2 = nullptr;
  x_.up_stream = 0;
  if (error_code == NGHTTP2_NO_ERROR && x_.responded) {
    x_.response_end = true;  // the response ended with the stream
    ResumeClient();
    return;
  }
  if (!x_.responded && retriable && !x_.retried && x_.replayable) {
    Retry();
    return;
  }
  const RouteFailure reason = StreamFailure(error_code, retriable);
  if (!x_.responded) {
    AnswerLocally(502, reason, ErrorBody(ErrorWord(reason), "pod", x_.endpoint->pod));
  } else {
    FailResponse(reason);
  }
}

void H2Stream::Retry() {
  x_.retried = true;
  x_.body_sent = 0;
  if (x_.endpoint && x_.endpoint->metrics) x_.endpoint->metrics->retries->Increment();
  LOG_DEBUG("c=%lu stream=%d event=retry pod=%s", session_->id(), x_.id, x_.endpoint->pod.c_str());
  Dispatch();
}

bool H2Stream::OnUpstreamHead(HttpHead& head, std::string* error) {
  if (head.status == 101) {
    *error = "101 Switching Protocols: no upgrades over HTTP/2";
    return false;
  }
  if (H2HeaderListSize(head) > H2Codec::kMaxHeaderList) {
    *error = "response head too large for HTTP/2";
    return false;
  }
  if (head.status < 200) {
    if (!x_.responded) session_->codec_.SubmitResponse(x_.id, head, true);
  } else {
    ResponseHead(head, false);
  }
  session_->ScheduleFlush();
  return true;
}

void H2Stream::OnUpstreamBody(const char* data, size_t len) {
  response_.append(data, len);
  if (x_.up1 && response_.size() - x_.response_sent >= H2Codec::kStreamWindow) {
    x_.up1_paused = true;  // the client reads slower than the pod sends
    x_.up1->PauseReading();
  }
  ResumeClient();
}

void H2Stream::OnUpstreamComplete(bool clean) {
  UpstreamConn* c = x_.up1;
  x_.up1 = nullptr;
  // A chunked response's trailer section goes on as HTTP/2 trailers, unless it is more than one
  // header block carries: then the response fails as a bad one, and no part of it goes on.
  const bool oversized = H2HeaderListSize(c->response_trailers()) > H2Codec::kMaxHeaderList;
  if (!oversized && !c->response_trailers().headers().empty()) {
    trailers_.Clear();
    for (const HttpHeader& h : c->response_trailers().headers())
      trailers_.AddHeader(h.name, h.value);
    x_.has_trailers = true;
  }
  if (clean && x_.request_end && c->reusable() && c->unsent() == 0) {
    session_->worker_->pool->Release(c);
  } else {
    session_->worker_->pool->Discard(c);
  }
  if (x_.body_unconsumed) session_->codec_.Consume(x_.id, x_.body_unconsumed);
  x_.body_unconsumed = 0;
  if (oversized) {
    LOG_WARN("c=%lu stream=%d event=upstream_bad_response pod=%s note=\"trailers over %zu bytes\"",
             session_->id(), x_.id, x_.endpoint->pod.c_str(), H2Codec::kMaxHeaderList);
    FailResponse(RouteFailure::kUpstreamBadResponse);
    return;
  }
  x_.response_end = true;
  ResumeClient();
}

void H2Stream::OnUpstreamBelowLowWatermark() {
  if (x_.body_unconsumed) session_->codec_.Consume(x_.id, x_.body_unconsumed);
  x_.body_unconsumed = 0;
  session_->ScheduleFlush();
}

void H2Stream::OnUpstreamError(int status) {
  UpstreamConn* c = x_.up1;
  if (!c) return;
  const bool connected = c->connected();
  const bool may_retry = c->MayRetry(x_.up1_reused, x_.idempotent);
  x_.up1 = nullptr;
  session_->worker_->pool->Discard(c, true);
  if (x_.body_unconsumed) session_->codec_.Consume(x_.id, x_.body_unconsumed);
  x_.body_unconsumed = 0;
  if (may_retry && !x_.responded && !x_.retried && x_.replayable) {
    Retry();
    return;
  }
  RouteFailure reason = !connected            ? RouteFailure::kConnectFailed
                        : status == UV_EPROTO ? RouteFailure::kUpstreamBadResponse
                                              : RouteFailure::kUpstreamReset;
  if (!x_.responded) {
    AnswerLocally(502, reason, ErrorBody(ErrorWord(reason), "pod", x_.endpoint->pod));
  } else {
    FailResponse(reason);
  }
}

void H2Stream::AnswerLocally(int status, RouteFailure reason, const std::string& body) {
  if (x_.responded) return;
  x_.responded = true;
  x_.response_end = true;
  session_->metrics_->Failure(reason).Increment();
  LOG_DEBUG("c=%lu stream=%d event=answered status=%d reason=%s", session_->id(), x_.id, status,
            metrics::ToString(reason));
  if (x_.grpc) {
    H2HeaderList headers;
    GrpcStatus g = GrpcStatusFor(reason);
    x_.grpc_status = static_cast<int>(g);
    x_.status = 200;
    GrpcTrailersOnly(g, ErrorWord(reason), &headers);
    session_->codec_.SubmitHeaders(x_.id, &headers, /*end_stream=*/true);
  } else {
    HttpHead head;
    head.status = x_.status = status;
    head.AddHeader("content-type"sv, "application/json"sv);
    head.AddHeader("content-length"sv, std::to_string(body.size()));
    response_ = body;
    x_.response_sent = 0;
    session_->codec_.SubmitResponse(x_.id, head, !x_.head_method);
  }
  session_->ScheduleFlush();
}

void H2Stream::FailResponse(RouteFailure reason) {
  session_->metrics_->Failure(reason).Increment();
  if (x_.grpc && !x_.response_ended) {
    // The call ends with what gRPC clients know as a failed call: UNAVAILABLE trailers.
    trailers_.Clear();
    trailers_.AddHeader("grpc-status"sv, std::to_string(static_cast<int>(GrpcStatusFor(reason))));
    trailers_.AddHeader("grpc-message"sv, ErrorWord(reason));
    x_.grpc_status = static_cast<int>(GrpcStatusFor(reason));
    x_.has_trailers = true;
    x_.response_end = true;
    ResumeClient();
    return;
  }
  session_->codec_.Reset(x_.id, NGHTTP2_INTERNAL_ERROR);
  session_->ScheduleFlush();
}

uint64_t H2Stream::deadline() const {
  if (x_.response_ended) return 0;
  if (x_.responded) return x_.call_deadline;
  if (x_.call_deadline == 0) return x_.head_deadline;
  return std::min(x_.head_deadline, x_.call_deadline);
}

void H2Stream::Expire() {
  DetachUpstream(/*cancel=*/true);
  if (!x_.responded) {
    AnswerLocally(504, RouteFailure::kUpstreamTimeout,
                  ErrorBody("upstream_timeout", "pod", x_.endpoint ? x_.endpoint->pod : "none"));
  } else {
    FailResponse(RouteFailure::kUpstreamTimeout);
  }
  x_.head_deadline = x_.call_deadline = 0;
}

void H2Stream::DetachUpstream(bool cancel) {
  if (x_.up2) {
    if (cancel) x_.up2->Cancel(x_.up_stream);
    x_.up2 = nullptr;
    x_.up_stream = 0;
  }
  if (x_.up1) {
    session_->worker_->pool->Discard(x_.up1, true);
    x_.up1 = nullptr;
  }
}

void H2Stream::End(uint32_t error_code) {
  // A response that ended completes the exchange; anything still open at the pod is cancelled.
  DetachUpstream(/*cancel=*/true);
  if (error_code != 0 && !x_.response_ended) {
    LOG_DEBUG("c=%lu stream=%d event=cancelled", session_->id(), x_.id);
  }
  Count();
  x_.listener.reset();  // an idle object holds no config or endpoint snapshot
  x_.pods = {};
}

void H2Stream::Count() {
  if (x_.status == 0) return;  // nothing was answered (the client went first)
  WorkerContext* worker = session_->worker_;
  metrics::ListenerMetrics& m = *session_->metrics_;
  const metrics::PodMetrics* pod = x_.endpoint ? x_.endpoint->metrics : nullptr;
  m.http_request_duration->Observe(static_cast<double>(uv_hrtime() - x_.started_ns) / 1e9);
  worker->HttpRequests(m, pod, x_.status).Increment();
  if (x_.grpc) worker->GrpcRequests(m, pod, x_.grpc_status < 0 ? 2 : x_.grpc_status).Increment();
}

}  // namespace podrouter
