// HttpSession: one client connection to an HTTP listener. Each request is routed on its own (also
// on a kept-alive connection), sent over a pooled connection to its pod, and its response streamed
// back; pipelined requests wait their turn. Bodies stream both ways under the watermarks, and
// after a 101 the connection becomes a byte tunnel.
//
// How the data path's objects relate (one event loop; each box owns what hangs below it):
//
//   Listener (per bind, per loop) ── accept ──► SessionSet (WorkerContext) owns every downstream
//   session
//      │                                              ├── TcpSession: down_ ⇄ up_, byte relay
//      └── ListenerRef: state of the moment,          └── HttpSession (this class)
//          PickerState (round robin, Maglev)                │ downstream: down_; while a request
//                                                           │   is in flight an HttpExchange
//                                                           │   (HttpParser, StreamWriter)
//   request head ─► Route() (routing/, pure) ─► Endpoint ──┤
//                                                           │ leases per request
//   UpstreamPool (per loop) owns every UpstreamConn ◄───────┘ (Acquire / Release / Discard)
//      └── UpstreamConn: tcp_, its HttpParser for responses, StreamWriter to the pod; reports
//          to its owner of the moment through UpstreamConn::Owner (http_session_upstream.cc)
//
//   response ─► UpstreamConn ─► Owner events ─► re-framed onto the exchange's writer ─► client
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "base/close_countdown.h"
#include "dataplane/h2_upstream_conn.h"
#include "dataplane/http_exchange.h"
#include "dataplane/listener_state.h"
#include "dataplane/session.h"
#include "dataplane/stream_writer.h"
#include "dataplane/upstream_pool.h"
#include "dataplane/worker_context.h"
#include "http/http_head.h"
#include "http/http_parser.h"

namespace podrouter {

class HttpSession : public Session,
                    public HttpParser::Delegate,
                    public StreamWriter::Observer,
                    public UpstreamConn::Owner,
                    public H2UpstreamConn::Owner {
 public:
  HttpSession(WorkerContext* worker, uint64_t id, std::shared_ptr<ListenerRef> listener,
              uint32_t port_offset);
  ~HttpSession() override;

  void Start(int fd);  // takes the accepted socket
  void Abort() override { Close("aborted", true); }
  void Drain() override;

 private:
  enum class State {
    kIdle,     // between requests
    kRequest,  // a request's head is in; its body streams to the pod
    kWaiting,  // the request is complete, its response is not
    kTunnel,   // after a 101
    kClosing,
  };

  using Request = HttpExchange::Request;

  // UpstreamConn::Owner: the leased pod connection's events (http_session_upstream.cc).
  void OnUpstreamCallbackBegin() override;
  void OnUpstreamCallbackEnd() override;
  bool OnUpstreamHead(HttpHead& head, std::string* error) override;
  void OnUpstreamBody(const char* data, size_t len) override;
  void OnUpstreamComplete(bool clean) override;
  void OnUpstreamUpgraded() override;
  void OnUpstreamTunnelData(const char* data, size_t len) override;
  void OnUpstreamTunnelEof() override;
  void OnUpstreamBelowLowWatermark() override;
  void OnUpstreamError(int status) override;
  void UncorkDownstream();

  // H2UpstreamConn::Owner: the request's stream to an HTTP/2 pod (http_session_h2.cc).
  void OnUpstreamHead(H2Codec::HeadKind kind, HttpHead& head, bool end_stream) override;
  void OnUpstreamData(const uint8_t* data, size_t len) override;
  void OnUpstreamEnd() override;
  void OnUpstreamClose(uint32_t error_code, bool retriable) override;
  ssize_t ReadUpstreamBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) override;
  void OpenHttp2Stream();  // the accepted head goes to the pod as an HTTP/2 stream
  void EndHttp2Response();
  void CancelHttp2Stream();
  void ConsumeHttp2();  // response bytes the client's socket took: the pod may send more

  // HttpParser::Delegate: the client's requests.
  void OnMessageBegin() override;
  bool OnHead(HttpHead& head, std::string* error) override;  // routes; sends nothing
  void OnHeadAccepted() override;                            // the head goes to the pod
  void OnBody(const char* data, size_t len) override;
  void OnMessageComplete() override;
  // StreamWriter::Observer: writes to the client.
  void OnBelowLowWatermark(StreamWriter*) override;
  void OnWriteError(StreamWriter*, int status) override;
  void OnWriteFlushed(StreamWriter*) override;

  static void OnDownstreamRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnRequestTimeout(uv_timer_t* timer);
  static void OnIdleTimer(uv_timer_t* timer);
  static void OnClosed(uv_handle_t* handle);

  // At a connection's start: true when the bytes were taken as (a prefix of) the HTTP/2 client
  // preface, or the session closed; false when they are HTTP/1.x for ProcessDownstreamBytes.
  bool SniffPreface(const char* data, size_t len);
  void HandOverToHttp2();  // the connection continues as an H2Session
  void ProcessDownstreamBytes(const char* data, size_t len);
  void OnRequestComplete();
  void ArmRequestTimer();  // the pod has timeouts.request from now to start its response
  void OnDownstreamEof();
  void ResumeDownstream();  // continue with pipelined bytes, then read again
  void StartReadingDownstream();
  void StopReadingDownstream();
  void WriteUpstream(const uv_buf_t* bufs, unsigned count);
  void WriteDownstream(const uv_buf_t* bufs, unsigned count);
  void WriteDownstream(std::string_view data);
  void HandleUpstreamError(int status);
  void AnswerLocally(int status, metrics::RouteFailure reason, const std::string& body, bool close);
  void EndRequest(bool close);
  void CloseWhenFlushed();
  void Close(const char* reason, bool reset);
  void Touch() { last_activity_ = uv_now(worker_->loop); }
  void TakeExchange();  // before bytes are read into a request
  void MaybeRest();     // at the end of a top-level callback: gives the exchange back if at rest

  WorkerContext* worker_;
  std::shared_ptr<ListenerRef> listener_;
  metrics::ListenerMetrics* metrics_;
  const uint32_t port_offset_;
  uv_tcp_t down_;
  uv_timer_t request_timer_;
  uv_timer_t idle_timer_;
  // The request's working state: held from the first byte of a request until the connection
  // rests again (MaybeRest), then given back to the worker's pool.
  std::unique_ptr<HttpExchange> x_;
  State state_ = State::kIdle;
  uint64_t last_activity_ = 0;
  uint64_t message_started_ns_ = 0;  // when the client's current message began
  uint64_t request_deadline_ = 0;    // loop time the response head is due by; 0: none awaited
  int deferred_error_ = 0;           // an upstream failure seen while parsing client bytes
  bool in_downstream_parse_ = false;
  bool in_upstream_callback_ = false;   // inside an UpstreamConn callback (Begin..End)
  bool resume_after_callback_ = false;  // a request ended there: pipelined bytes wait for its End
  bool reading_ = false;
  bool sniffed_ = false;  // the connection is known to speak HTTP/1.x
  bool downstream_eof_ = false;
  bool draining_ = false;
  bool tunnel_downstream_eof_ = false;
  bool tunnel_upstream_eof_ = false;
  bool closed_ = false;        // Close() ran: the handles are closing and nothing else happens
  CloseCountdown handles_{3};  // down_, request_timer_, idle_timer_
};

}  // namespace podrouter
