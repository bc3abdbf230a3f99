// H2Stream: route one client stream, relay it to its pod (HTTP/2 or HTTP/1.1), answer errors.
#include "dataplane/h2_stream.h"

#include <algorithm>
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

// The error word of the JSON body and grpc-message: the same as HTTP/1.1 answers use.
const char* ErrorWord(RouteFailure reason) {
  return reason == RouteFailure::kConnectFailed ? "upstream_connect_failed"
                                                : metrics::ToString(reason);
}

bool IsIdempotent(std::string_view method) {
  for (std::string_view m : {"GET"sv, "HEAD"sv, "PUT"sv, "DELETE"sv, "OPTIONS"sv, "TRACE"sv}) {
    if (method == m) return true;
  }
  return false;
}

}  // namespace

H2Stream::H2Stream(H2Session* session, int32_t id) : session_(session), id_(id) {
  session_->metrics_->http2_streams_active->Increment();
}

H2Stream::~H2Stream() {
  DetachUpstream(/*cancel=*/true);
  session_->metrics_->http2_streams_active->Decrement();
}

void H2Stream::OnRequestHead(HttpHead& head, bool end_stream) {
  WorkerContext* worker = session_->worker_;
  started_ns_ = uv_hrtime();
  listener_ = session_->listener_->current;
  // The head is copied: it is needed again for a retry (and the codec reuses its own).
  request_.Clear();
  request_.method = head.method;
  request_.url = head.url;
  request_.major = 2;
  request_.minor = 0;
  for (const HttpHeader& h : head.headers()) request_.AddHeader(h.name, h.value);
  request_end_ = end_stream;
  grpc_ = IsGrpc(request_);
  head_method_ = request_.method == "HEAD"sv;
  idempotent_ = IsIdempotent(request_.method);
  const config::Listener& config = listener_->config;
  const uint64_t now = uv_now(worker->loop);
  uint64_t head_wait = static_cast<uint64_t>(config.timeouts.request.count());
  if (const std::string* t = request_.Find("grpc-timeout"sv); t && grpc_) {
    if (auto ms = ParseGrpcTimeoutMs(*t)) {
      call_deadline_ = now + std::max<uint64_t>(*ms, 1);
      head_wait = std::min(head_wait, *ms);
    }
  }
  head_deadline_ = now + std::max<uint64_t>(head_wait, 1);
  if (request_.method == "CONNECT"sv) {
    AnswerLocally(400, RouteFailure::kBadRequest,
                  ErrorBody("bad_request", "detail", "CONNECT is not supported"));
    return;
  }
  if (grpc_ && config.upstream_protocol == config::UpstreamProtocol::kHttp1) {
    // gRPC needs trailers, which an HTTP/1.1 response cannot be trusted to carry.
    AnswerLocally(501, RouteFailure::kGrpcNeedsHttp2,
                  ErrorBody(metrics::ToString(RouteFailure::kGrpcNeedsHttp2)));
    return;
  }
  pods_ = listener_->service->snapshot();
  RouteResult route = Route(config.route, listener_->service->service(),
                            RouteInput{&request_, session_->port_offset_}, pods_,
                            &session_->listener_->pickers, &session_->key_scratch_);
  if (!route.endpoint) {
    AnswerLocally(route.status, route.reason, route.body);
    return;
  }
  endpoint_ = route.endpoint;
  Dispatch();
}

void H2Stream::Dispatch() {
  const config::Listener& config = listener_->config;
  const uint64_t connect_ms = static_cast<uint64_t>(config.timeouts.connect.count());
  if (config.upstream_protocol == config::UpstreamProtocol::kHttp1) {
    DispatchHttp1();
    return;
  }
  up2_ = session_->worker_->h2_pool->Acquire(*endpoint_, connect_ms);
  const bool has_body = !request_end_ || body_.size() > 0 || request_trailers_.headers().size();
  up_stream_ = up2_->Open(request_, has_body, this);
  if (up_stream_ == 0) {
    up2_ = nullptr;
    AnswerLocally(502, RouteFailure::kConnectFailed,
                  ErrorBody(ErrorWord(RouteFailure::kConnectFailed), "pod", endpoint_->pod));
  }
}

void H2Stream::DispatchHttp1() {
  WorkerContext* worker = session_->worker_;
  bool reused = false;
  up1_ = worker->pool->Acquire(*endpoint_, this,
                               static_cast<uint64_t>(listener_->config.timeouts.connect.count()),
                               /*fresh=*/retried_, &reused);
  up1_->BeginRequest(head_method_);
  if (request_.Find("content-length"sv)) {
    up1_framing_ = BodyFraming::kLength;
  } else if (request_end_ && body_.empty()) {
    up1_framing_ = BodyFraming::kNone;
  } else {
    up1_framing_ = BodyFraming::kChunked;
  }
  std::string head;
  SerializeRequestHead(request_, up1_framing_, /*upgrade=*/false, &head);
  if (up1_->Write(head) != 0) return;  // reported through OnUpstreamError
  WriteHttp1Body();
}

void H2Stream::WriteHttp1Body() {
  if (!up1_) return;
  if (body_sent_ < body_.size()) {
    const char* data = body_.data() + body_sent_;
    size_t len = body_.size() - body_sent_;
    int rc;
    if (up1_framing_ == BodyFraming::kChunked) {
      ChunkFrame frame(data, len);
      rc = up1_->Write(frame.bufs, 3);
    } else {
      rc = up1_->Write(std::string_view(data, len));
    }
    body_sent_ = body_.size();
    body_unconsumed_ += len;
    if (rc != 0) return;
    if (!up1_->above_high()) {
      session_->codec_.Consume(id_, body_unconsumed_);
      body_unconsumed_ = 0;
    }
  }
  if (request_end_ && up1_framing_ == BodyFraming::kChunked && body_sent_ == body_.size()) {
    up1_framing_ = BodyFraming::kNone;  // the last chunk goes once
    up1_->Write("0\r\n\r\n"sv);
  }
  if (!replayable_ || body_.size() > kMaxReplay) {
    replayable_ = false;
    body_.clear();
    body_sent_ = 0;
  }
  session_->ScheduleFlush();
}

void H2Stream::OnRequestTrailers(HttpHead& trailers) {
  request_trailers_.Clear();
  for (const HttpHeader& h : trailers.headers()) request_trailers_.AddHeader(h.name, h.value);
  OnRequestEnd();
}

void H2Stream::OnRequestData(const uint8_t* data, size_t len) {
  if (!up1_ && !up2_) {
    session_->codec_.Consume(id_, len);  // answered already: not needed
    return;
  }
  body_.append(reinterpret_cast<const char*>(data), len);
  if (up2_) up2_->ResumeBody(up_stream_);
  if (up1_) WriteHttp1Body();
}

void H2Stream::OnRequestEnd() {
  request_end_ = true;
  if (up2_) up2_->ResumeBody(up_stream_);
  if (up1_) WriteHttp1Body();
}

ssize_t H2Stream::ReadUpstreamBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) {
  size_t n = std::min(len, body_.size() - body_sent_);
  if (n > 0) {
    memcpy(buf, body_.data() + body_sent_, n);
    body_sent_ += n;
    session_->codec_.Consume(id_, n);  // the client may send as much again
    session_->ScheduleFlush();
    if (!replayable_ || body_.size() > kMaxReplay) {
      // Too large to send twice: only what has not gone out yet is kept.
      replayable_ = false;
      body_.erase(0, body_sent_);
      body_sent_ = 0;
    }
    return static_cast<ssize_t>(n);
  }
  if (request_end_) {
    end->eof = true;
    if (request_trailers_.headers().size()) end->trailers = &request_trailers_;
    return 0;
  }
  return H2Codec::kDeferred;
}

void H2Stream::OnUpstreamHead(H2Codec::HeadKind kind, HttpHead& head, bool end_stream) {
  switch (kind) {
    case H2Codec::HeadKind::kInformational:
      if (!responded_) session_->codec_.SubmitResponse(id_, head, true);
      break;
    case H2Codec::HeadKind::kResponse:
      ResponseHead(head, end_stream);
      break;
    case H2Codec::HeadKind::kTrailers:
      trailers_.Clear();
      for (const HttpHeader& h : head.headers()) trailers_.AddHeader(h.name, h.value);
      has_trailers_ = true;
      if (int g = GrpcStatusOf(trailers_); g >= 0) grpc_status_ = g;
      response_end_ = true;
      ResumeClient();
      break;
    case H2Codec::HeadKind::kRequest:
      break;
  }
  session_->ScheduleFlush();
}

void H2Stream::ResponseHead(const HttpHead& head, bool end_stream) {
  if (responded_) return;
  responded_ = true;
  status_ = head.status;
  if (int g = GrpcStatusOf(head); g >= 0) grpc_status_ = g;  // Trailers-Only
  response_end_ = end_stream;
  const bool bodiless = head_method_ || status_ == 204 || status_ == 304;
  if (bodiless) response_end_ = true;
  session_->codec_.SubmitResponse(id_, head, !(end_stream || bodiless));
}

void H2Stream::OnUpstreamData(const uint8_t* data, size_t len) {
  if (response_end_) {
    if (up2_) up2_->Consume(up_stream_, len);
    return;
  }
  response_.append(reinterpret_cast<const char*>(data), len);
  ResumeClient();
}

void H2Stream::OnUpstreamEnd() {
  response_end_ = true;
  ResumeClient();
}

void H2Stream::ResumeClient() {
  session_->codec_.ResumeData(id_);
  session_->ScheduleFlush();
}

ssize_t H2Stream::ReadResponseBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) {
  size_t n = std::min(len, response_.size() - response_sent_);
  if (n > 0) {
    memcpy(buf, response_.data() + response_sent_, n);
    response_sent_ += n;
    if (response_sent_ == response_.size()) {
      response_.clear();
      response_sent_ = 0;
    }
    if (up2_) up2_->Consume(up_stream_, n);  // the pod may send as much again
    if (up1_ && up1_paused_ && response_.size() - response_sent_ < H2Codec::kStreamWindow / 2) {
      up1_paused_ = false;
      up1_->ResumeReading();
    }
    return static_cast<ssize_t>(n);
  }
  if (response_end_) {
    end->eof = true;
    response_ended_ = true;
    if (has_trailers_) end->trailers = &trailers_;
    return 0;
  }
  return H2Codec::kDeferred;
}

void H2Stream::OnUpstreamClose(uint32_t error_code, bool retriable) {
  up2_ = nullptr;
  up_stream_ = 0;
  if (error_code == 0 || (response_end_ && error_code == NGHTTP2_NO_ERROR)) {
    if (!responded_) FailResponse(RouteFailure::kUpstreamReset);
    response_end_ = true;
    ResumeClient();
    return;
  }
  if (!responded_ && retriable && !retried_ && replayable_) {
    Retry();
    return;
  }
  const RouteFailure reason =
      retriable ? RouteFailure::kConnectFailed : RouteFailure::kUpstreamReset;
  if (!responded_) {
    AnswerLocally(502, reason, ErrorBody(ErrorWord(reason), "pod", endpoint_->pod));
  } else {
    FailResponse(reason);
  }
}

void H2Stream::Retry() {
  retried_ = true;
  body_sent_ = 0;
  if (endpoint_ && endpoint_->metrics) endpoint_->metrics->retries->Increment();
  LOG_DEBUG("c=%lu stream=%d event=retry pod=%s", session_->id(), id_, endpoint_->pod.c_str());
  Dispatch();
}

bool H2Stream::OnUpstreamHead(HttpHead& head, std::string*) {
  if (head.status == 101) return false;  // no upgrades over HTTP/2
  if (head.status < 200) {
    if (!responded_) session_->codec_.SubmitResponse(id_, head, true);
  } else {
    ResponseHead(head, false);
  }
  session_->ScheduleFlush();
  return true;
}

void H2Stream::OnUpstreamBody(const char* data, size_t len) {
  response_.append(data, len);
  if (up1_ && response_.size() - response_sent_ >= H2Codec::kStreamWindow) {
    up1_paused_ = true;  // the client reads slower than the pod sends
    up1_->PauseReading();
  }
  ResumeClient();
}

void H2Stream::OnUpstreamComplete(bool clean) {
  UpstreamConn* c = up1_;
  up1_ = nullptr;
  if (clean && request_end_ && c->reusable() && c->unsent() == 0) {
    session_->worker_->pool->Release(c);
  } else {
    session_->worker_->pool->Discard(c);
  }
  if (body_unconsumed_) session_->codec_.Consume(id_, body_unconsumed_);
  body_unconsumed_ = 0;
  response_end_ = true;
  ResumeClient();
}

void H2Stream::OnUpstreamBelowLowWatermark() {
  if (body_unconsumed_) session_->codec_.Consume(id_, body_unconsumed_);
  body_unconsumed_ = 0;
  session_->ScheduleFlush();
}

void H2Stream::OnUpstreamError(int status) {
  UpstreamConn* c = up1_;
  if (!c) return;
  const bool connected = c->connected();
  const bool sent = c->sent_request_bytes();
  up1_ = nullptr;
  session_->worker_->pool->Discard(c, true);
  if (body_unconsumed_) session_->codec_.Consume(id_, body_unconsumed_);
  body_unconsumed_ = 0;
  if (!responded_ && !retried_ && replayable_ && (idempotent_ || !sent || !connected)) {
    Retry();
    return;
  }
  RouteFailure reason = !connected            ? RouteFailure::kConnectFailed
                        : status == UV_EPROTO ? RouteFailure::kUpstreamBadResponse
                                              : RouteFailure::kUpstreamReset;
  if (!responded_) {
    AnswerLocally(502, reason, ErrorBody(ErrorWord(reason), "pod", endpoint_->pod));
  } else {
    FailResponse(reason);
  }
}

void H2Stream::AnswerLocally(int status, RouteFailure reason, const std::string& body) {
  if (responded_) return;
  responded_ = true;
  response_end_ = true;
  session_->metrics_->Failure(reason).Increment();
  LOG_DEBUG("c=%lu stream=%d event=answered status=%d reason=%s", session_->id(), id_, status,
            metrics::ToString(reason));
  if (grpc_) {
    H2HeaderList headers;
    GrpcStatus g = GrpcStatusFor(reason);
    grpc_status_ = static_cast<int>(g);
    status_ = 200;
    GrpcTrailersOnly(g, ErrorWord(reason), &headers);
    session_->codec_.SubmitHeaders(id_, &headers, /*end_stream=*/true);
  } else {
    HttpHead head;
    head.status = status_ = status;
    head.AddHeader("content-type"sv, "application/json"sv);
    head.AddHeader("content-length"sv, std::to_string(body.size()));
    response_ = body;
    response_sent_ = 0;
    session_->codec_.SubmitResponse(id_, head, !head_method_);
  }
  session_->ScheduleFlush();
}

void H2Stream::FailResponse(RouteFailure reason) {
  session_->metrics_->Failure(reason).Increment();
  if (grpc_ && !response_ended_) {
    // The call ends with what gRPC clients know as a failed call: UNAVAILABLE trailers.
    trailers_.Clear();
    trailers_.AddHeader("grpc-status"sv, std::to_string(static_cast<int>(GrpcStatusFor(reason))));
    trailers_.AddHeader("grpc-message"sv, ErrorWord(reason));
    grpc_status_ = static_cast<int>(GrpcStatusFor(reason));
    has_trailers_ = true;
    response_end_ = true;
    ResumeClient();
    return;
  }
  session_->codec_.Reset(id_, NGHTTP2_INTERNAL_ERROR);
  session_->ScheduleFlush();
}

uint64_t H2Stream::deadline() const {
  if (response_ended_) return 0;
  if (responded_) return call_deadline_;
  if (call_deadline_ == 0) return head_deadline_;
  return std::min(head_deadline_, call_deadline_);
}

void H2Stream::Expire() {
  DetachUpstream(/*cancel=*/true);
  if (!responded_) {
    AnswerLocally(504, RouteFailure::kUpstreamTimeout,
                  ErrorBody("upstream_timeout", "pod", endpoint_ ? endpoint_->pod : "none"));
  } else {
    FailResponse(RouteFailure::kUpstreamTimeout);
  }
  head_deadline_ = call_deadline_ = 0;
}

void H2Stream::DetachUpstream(bool cancel) {
  if (up2_) {
    if (cancel) up2_->Cancel(up_stream_);
    up2_ = nullptr;
    up_stream_ = 0;
  }
  if (up1_) {
    session_->worker_->pool->Discard(up1_, true);
    up1_ = nullptr;
  }
}

void H2Stream::OnClientClose(uint32_t error_code) {
  // A response that ended completes the exchange; anything still open at the pod is cancelled.
  DetachUpstream(/*cancel=*/true);
  if (error_code != 0 && !response_ended_) {
    LOG_DEBUG("c=%lu stream=%d event=cancelled", session_->id(), id_);
  }
  Count();
}

void H2Stream::Count() {
  if (status_ == 0) return;  // nothing was answered (the client went first)
  WorkerContext* worker = session_->worker_;
  metrics::ListenerMetrics& m = *session_->metrics_;
  const metrics::PodMetrics* pod = endpoint_ ? endpoint_->metrics : nullptr;
  m.http_request_duration->Observe(static_cast<double>(uv_hrtime() - started_ns_) / 1e9);
  worker->HttpRequests(m, pod, status_).Increment();
  if (grpc_) worker->GrpcRequests(m, pod, grpc_status_ < 0 ? 2 : grpc_status_).Increment();
}

}  // namespace podrouter
