// H2UpstreamConn: one HTTP/2 connection to a pod, multiplexing the streams of every downstream
// session on the loop (owned by the H2UpstreamPool). Each stream reports to the Owner that opened
// it; Cancel() detaches an owner, which then hears nothing more. The connection:
//   - opens streams until the pod's SETTINGS_MAX_CONCURRENT_STREAMS (the pool opens another
//     connection beyond it);
//   - after the pod's GOAWAY takes no new streams, lets those in flight finish, and reports those
//     the pod never processed as refused (safe to send again), then closes;
//   - sends a PING after the ping interval (the idle timeout of the listener that opened it)
//     without a frame from the pod, and closes as dead when nothing answers within kPingTimeoutMs
//     (its streams fail: UNAVAILABLE). gRPC servers answer PINGs more often than every 5 minutes
//     without data with GOAWAY ENHANCE_YOUR_CALM, hence no fixed short interval;
//   - acknowledges a stream's DATA only as its owner Consume()s it, so a slow downstream reader
//     holds at most a stream window in podrouter, and never stalls the connection's other streams.
#pragma once

#include <uv.h>

#include <cstdint>
#include <unordered_map>

#include "base/close_countdown.h"
#include "dataplane/flush_queue.h"
#include "dataplane/stream_writer.h"
#include "dataplane/upstream_conn.h"
#include "dataplane/worker_context.h"
#include "discovery/endpoint_set.h"
#include "http2/h2_codec.h"

namespace podrouter {

class H2UpstreamPool;

// Why a stream to a pod ended without a usable answer, as the route failure (and error word) the
// client is told: a stream the pod refused (REFUSED_STREAM, or above its GOAWAY's last stream) or
// reset is `upstream_reset`; a protocol error `upstream_bad_response`; a connection that never
// carried a byte (`retriable` otherwise) failed to connect.
metrics::RouteFailure StreamFailure(uint32_t error_code, bool retriable);

class H2UpstreamConn : public H2Codec::Delegate,
                       public StreamWriter::Observer,
                       public FlushQueue::Flushable {
 public:
  static constexpr uint64_t kPingTimeoutMs = 5000;
  static constexpr uint64_t kIdleTimeoutMs = 30000;  // closed after this long without streams
  // Streams one connection takes before the pod's SETTINGS say how many it allows.
  static constexpr uint32_t kStreamsBeforeSettings = 100;

  // What one stream reports to the downstream stream that opened it. Calls come from the
  // connection's libuv callbacks; the owner may call back into the connection from them.
  class Owner {
   public:
    virtual ~Owner() = default;
    // A complete header block: informational, response or trailers.
    virtual void OnUpstreamHead(H2Codec::HeadKind kind, HttpHead& head, bool end_stream) = 0;
    virtual void OnUpstreamData(const uint8_t* data, size_t len) = 0;
    virtual void OnUpstreamEnd() = 0;  // the response body ended (END_STREAM on DATA)
    // The stream is over: `error_code` 0 when clean, else the RFC 9113 code (reset by the pod,
    // or NGHTTP2_INTERNAL_ERROR when the connection failed). `retriable`: the pod never processed
    // the request (refused, or the connection never carried it). Nothing follows.
    virtual void OnUpstreamClose(uint32_t error_code, bool retriable) = 0;
    // The request body: as H2Codec::Delegate::ReadBody.
    virtual ssize_t ReadUpstreamBody(uint8_t* buf, size_t len, H2Codec::BodyEnd* end) = 0;
  };

  // `ping_interval_ms`: silence from the pod after which a PING checks it is alive.
  H2UpstreamConn(H2UpstreamPool* pool, const Endpoint& endpoint, uint64_t id,
                 uint64_t ping_interval_ms);
  ~H2UpstreamConn();

  // Opens a stream for `request` (`has_body`: DATA follows, pulled from the owner). Returns its
  // id, or 0 when this connection can take no stream (the caller asks the pool again).
  int32_t Open(const HttpHead& request, bool has_body, Owner* owner);
  void ResumeBody(int32_t stream);
  // `len` bytes of `stream`'s response left podrouter.
  void Consume(int32_t stream, size_t len);
  // Resets the stream (RST_STREAM CANCEL) and forgets its owner.
  void Cancel(int32_t stream);

  // Whether a new stream may go here now.
  bool accepting() const;
  size_t streams() const { return streams_.size(); }
  const PodAddress& key() const { return key_; }
  const std::string& pod() const { return pod_; }

 private:
  friend class H2UpstreamPool;
  struct StreamState {
    Owner* owner;
  };

  // H2Codec::Delegate
  uint32_t OnHead(int32_t stream, H2Codec::HeadKind kind, HttpHead& head, bool end) override;
  void OnData(int32_t stream, const uint8_t* data, size_t len) override;
  void OnEndStream(int32_t stream) override;
  void OnStreamClose(int32_t stream, uint32_t error_code) override;
  void OnGoaway(int32_t last_stream, uint32_t error_code) override;
  void OnResetReceived(int32_t stream, uint32_t error_code) override;
  ssize_t ReadBody(int32_t stream, uint8_t* buf, size_t len, H2Codec::BodyEnd* end) override;
  // StreamWriter::Observer
  void OnBelowLowWatermark(StreamWriter*) override { ScheduleFlush(); }
  void OnWriteError(StreamWriter*, int status) override { Fail(status); }
  // FlushQueue::Flushable: frames nghttp2 has ready go out, while the socket takes them.
  void Flush() override;

  static void OnConnect(uv_connect_t* req, int status);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnTimer(uv_timer_t* timer);
  void Connect(const sockaddr_storage& addr, uint64_t timeout_ms);
  void ScheduleFlush();
  // The connection failed (a libuv status): every stream ends, the connection closes.
  void Fail(int status);
  void Close();
  StreamState* Find(int32_t stream);

  H2UpstreamPool* pool_;
  uint64_t id_;
  PodAddress key_;
  std::string pod_;
  metrics::PodMetrics* metrics_;
  H2Codec codec_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;  // connect timeout, then PING, idle and dead-pod checks
  uv_connect_t connect_req_;
  StreamWriter writer_;
  CloseCountdown handles_{2};  // tcp_, timer_
  std::unordered_map<int32_t, StreamState> streams_;
  const uint64_t ping_interval_ms_;
  uint64_t last_frame_ = 0;  // loop time of the last bytes from the pod
  uint64_t idle_since_ = 0;  // loop time the last stream ended
  uint64_t ping_sent_ = 0;   // loop time of an unanswered PING, 0: none
  uint64_t written_ = 0;     // bytes handed to the socket: 0 proves the pod saw nothing
  int connect_error_ = 0;
  bool connected_ = false;
  bool goaway_ = false;  // the pod said GOAWAY (or the connection is failing): no new streams
  bool closing_ = false;
};

}  // namespace podrouter
