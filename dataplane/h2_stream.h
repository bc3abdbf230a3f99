// H2Stream: one client HTTP/2 stream (one request, one gRPC call) of an H2Session: routed on its
// own, sent to its pod over HTTP/2 (H2UpstreamConn) or translated to HTTP/1.1 (UpstreamConn), and
// its response relayed back with its trailers. Errors podrouter answers itself are JSON, or for a
// gRPC call a Trailers-Only response (grpc-status 14 UNAVAILABLE, 3 INVALID_ARGUMENT,
// 4 DEADLINE_EXCEEDED, with the JSON error's reason word as grpc-message).
//
// Deadlines: the pod has min(timeouts.request, grpc-timeout) to start its response; after that
// only grpc-timeout ends the call, so a long stream is not cut.
// Retries: a stream the pod refused (GOAWAY, REFUSED_STREAM) or a connection that never carried
// it goes once to a fresh connection, as does an idempotent request on a stale HTTP/1.1
// connection; the request body is kept for it up to kMaxReplay bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/h2_upstream_conn.h"
#include "dataplane/listener_state.h"
#include "dataplane/upstream_conn.h"
#include "http/http_head.h"
#include "http2/h2_codec.h"
#include "metrics/metrics.h"

namespace podrouter {

class H2Session;

class H2Stream : public H2UpstreamConn::Owner, public UpstreamConn::Owner {
 public:
  static constexpr size_t kMaxReplay = 64 * 1024;

  explicit H2Stream(H2Session* session) : session_(session) {}
  ~H2Stream() override { DetachUpstream(/*cancel=*/true); }

  // Takes on client stream `id` (a new object, or one whose last stream was Ended).
  void Begin(int32_t id);

  // The client's side, from the session's codec callbacks.
  void OnRequestHead(HttpHead& head, bool end_stream);  // routes and sends
  void OnRequestTrailers(HttpHead& trailers);
  void OnRequestData(const uint8_t* data, size_t len);
  void OnRequestEnd();
  // The response body for the client (H2Codec::Delegate::ReadBody).
  ssize_t ReadResponseBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end);
  // The client's stream closed (`error_code` != 0: reset, e.g. a cancelled call): whatever is
  // open towards the pod is cancelled, the request counted; the object may Begin() again.
  void End(uint32_t error_code);
  // Loop time the stream must have progressed by (0: none); Expire() when it has passed.
  uint64_t deadline() const;
  void Expire();

 private:
  // H2UpstreamConn::Owner
  void OnUpstreamHead(H2Codec::HeadKind kind, HttpHead& head, bool end_stream) override;
  void OnUpstreamData(const uint8_t* data, size_t len) override;
  void OnUpstreamEnd() override;
  void OnUpstreamClose(uint32_t error_code, bool retriable) override;
  ssize_t ReadUpstreamBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) override;
  // UpstreamConn::Owner (HTTP/1.1 pods)
  void OnUpstreamCallbackBegin() override {}
  void OnUpstreamCallbackEnd() override {}
  bool OnUpstreamHead(HttpHead& head, std::string* error) override;
  void OnUpstreamBody(const char* data, size_t len) override;
  void OnUpstreamComplete(bool clean) override;
  void OnUpstreamUpgraded() override { OnUpstreamError(UV_EPROTO); }
  void OnUpstreamTunnelData(const char*, size_t) override {}
  void OnUpstreamTunnelEof() override {}
  void OnUpstreamBelowLowWatermark() override;
  void OnUpstreamError(int status) override;

  void Dispatch();       // to the routed pod, over the listener's upstream protocol
  void DispatchHttp1();  // HTTP/1.1: the head now, the body as it comes
  void WriteHttp1Body();
  void Retry();
  // Answers the request itself (no response head has gone out): JSON, or Trailers-Only for gRPC.
  void AnswerLocally(int status, metrics::RouteFailure reason, const std::string& body);
  // The pod failed after the response began: a gRPC call ends with grpc-status 14 trailers,
  // anything else is reset.
  void FailResponse(metrics::RouteFailure reason);
  void ResponseHead(const HttpHead& head, bool end_stream);
  void ResumeClient();  // the client's stream has new response bytes or its end
  void DetachUpstream(bool cancel);
  void Count();

  H2Session* session_;
  // Buffers kept from stream to stream: the session reuses stream objects, so a connection
  // stops allocating for them once it has seen its largest requests.
  HttpHead request_;
  HttpHead request_trailers_;
  HttpHead trailers_;  // the response's
  // The request body: bytes before x_.body_sent went to the pod (kept for a retry while
  // x_.replayable), the rest waits.
  std::string body_;
  std::string response_;  // body bytes for the client; x_.response_sent of them went out
  // Everything else about the stream of the moment, reset by Begin().
  struct Exchange {
    int32_t id = 0;
    std::shared_ptr<const ListenerState> listener;
    EndpointSnapshot pods;  // keeps endpoint alive
    const Endpoint* endpoint = nullptr;
    bool grpc = false;
    bool head_method = false;
    bool idempotent = false;
    size_t body_sent = 0;
    size_t body_unconsumed = 0;  // HTTP/1.1: written to the pod, not yet acknowledged
    bool request_end = false;
    bool replayable = true;
    bool retried = false;
    bool up1_reused = false;  // up1 came from the pool
    // Towards the pod: one of these while the exchange is open.
    H2UpstreamConn* up2 = nullptr;
    int32_t up_stream = 0;
    UpstreamConn* up1 = nullptr;
    BodyFraming up1_framing = BodyFraming::kNone;
    bool up1_paused = false;
    // The response.
    size_t response_sent = 0;
    bool has_trailers = false;
    bool responded = false;  // a final response head went to the client
    bool response_end = false;
    bool response_ended = false;  // ReadResponseBody reported the end
    int status = 0;
    int grpc_status = -1;
    uint64_t started_ns = 0;
    uint64_t head_deadline = 0;  // loop ms: the response head is due (0: none)
    uint64_t call_deadline = 0;  // loop ms: grpc-timeout (0: none)
  } x_;
};

}  // namespace podrouter
