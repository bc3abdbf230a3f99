// UpstreamConn: one HTTP/1.1 connection to a pod, leased to one downstream session per request
// (which hears its events through UpstreamConn::Owner) or idle in the UpstreamPool, where any byte
// or EOF from the pod retires it, as does the idle timeout.
#pragma once

#include <uv.h>
#include <xxhash.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "base/close_countdown.h"
#include "dataplane/stream_writer.h"
#include "dataplane/worker_context.h"
#include "discovery/endpoint_set.h"
#include "http/http_parser.h"
#include "metrics/metrics.h"

namespace podrouter {

class UpstreamPool;

// A pod's address (IPv4 or IPv6 bytes, the port, the family) as a fixed-size map key.
struct PodAddress {
  std::array<uint8_t, 19> bytes{};
  bool operator==(const PodAddress&) const = default;
  // The key of an IPv4 or IPv6 socket address (address bytes, port, family).
  static PodAddress Of(const sockaddr_storage& addr) {
    PodAddress key;
    key.bytes[18] = addr.ss_family == AF_INET ? 4 : 6;
    if (addr.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
      memcpy(key.bytes.data(), &v4->sin_addr, 4);
      memcpy(key.bytes.data() + 16, &v4->sin_port, 2);
      return key;
    }
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    memcpy(key.bytes.data(), &v6->sin6_addr, 16);
    memcpy(key.bytes.data() + 16, &v6->sin6_port, 2);
    return key;
  }
  struct Hash {
    size_t operator()(const PodAddress& a) const {
      return static_cast<size_t>(XXH3_64bits(a.bytes.data(), a.bytes.size()));
    }
  };
};

class UpstreamConn : public HttpParser::Delegate, public StreamWriter::Observer {
 public:
  // What a leased connection reports to the downstream session holding it. Events go to the
  // owner of the moment only: Release and Discard end the lease, so a session never hears from
  // a connection it has let go.
  class Owner {
   public:
    virtual ~Owner() = default;
    // Around every libuv callback in which the connection reports (a read, a connect, a timer, a
    // write's completion): what it produces downstream leaves in one writev, and pipelined
    // requests resume only at OnUpstreamCallbackEnd, never inside the connection's own callback
    // (where the same connection could be leased again). Pairs may not nest; the owner outlives
    // the callback (it ends in close callbacks only).
    virtual void OnUpstreamCallbackBegin() = 0;
    virtual void OnUpstreamCallbackEnd() = 0;
    // A response head (1xx included); false refuses it with `error` (the connection fails).
    virtual bool OnUpstreamHead(HttpHead& head, std::string* error) = 0;
    virtual void OnUpstreamBody(const char* data, size_t len) = 0;
    // The response ended; `clean` when nothing followed it in the same read.
    virtual void OnUpstreamComplete(bool clean) = 0;
    virtual void OnUpstreamUpgraded() = 0;  // after a 101: bytes flow untouched from now on
    virtual void OnUpstreamTunnelData(const char* data, size_t len) = 0;
    virtual void OnUpstreamTunnelEof() = 0;
    // Unsent bytes to the pod fell below the low watermark: the downstream may be read again.
    virtual void OnUpstreamBelowLowWatermark() = 0;
    // Connect, read or write failed (a libuv status; UV_EPROTO for an invalid response).
    virtual void OnUpstreamError(int status) = 0;
  };

  UpstreamConn(UpstreamPool* pool, const Endpoint& endpoint, uint64_t id);

  // Per request: a HEAD's response has no body.
  void BeginRequest(bool head_request);
  int Write(const uv_buf_t* bufs, unsigned count);
  int Write(std::string_view data);
  void PauseReading();
  void ResumeReading();
  // Lets the pod's bytes through untouched from now on (after a 101).
  void StartTunnel() { tunnel_ = true; }
  void ShutdownWrite();

  bool connected() const { return connected_; }
  bool got_response_bytes() const { return got_bytes_; }
  // Whether any byte of the current request reached the kernel (see StreamWriter::handed_over).
  bool sent_request_bytes() const { return writer_.handed_over() > request_start_; }
  // After a failure, whether the request may go once more on a fresh connection — the one rule
  // for every owner: this connection came from the pool (`reused`: the pod may have closed it
  // while idle), it was connected, the pod sent no byte of any response (an interim 1xx
  // included), and the request may be sent twice (RFC 9110 §9.2.2) or none of it was sent.
  bool MayRetry(bool reused, bool idempotent) const {
    return reused && connected_ && !got_bytes_ && (idempotent || !sent_request_bytes());
  }
  // The framing of the pod's current response (RFC 9112 §6.3), once its head is in.
  const MessageFraming& response_framing() const { return parser_.framing(); }
  // The trailer section of the response that just completed (HttpParser::trailers): valid in
  // OnUpstreamComplete, before the connection is released.
  const HttpHead& response_trailers() const { return parser_.trailers(); }
  size_t unsent() const { return writer_.unsent(); }
  bool above_high() const { return writer_.above_high(); }
  bool reusable() const { return parser_.keep_alive() && !parser_.needs_eof() && !tunnel_; }
  int last_status() const { return parser_.head().status; }
  uint64_t id() const { return id_; }
  const std::string& pod() const { return pod_; }

 private:
  friend class UpstreamPool;

  // HttpParser::Delegate: the pod's responses.
  bool OnHead(HttpHead& head, std::string* error) override;
  void OnBody(const char* data, size_t len) override;
  void OnMessageComplete() override {}
  // StreamWriter::Observer: writes to the pod.
  void OnBelowLowWatermark(StreamWriter*) override;
  void OnWriteError(StreamWriter*, int status) override;

  static void OnConnect(uv_connect_t* req, int status);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnTimer(uv_timer_t* timer);
  void Connect(const Endpoint& endpoint, uint64_t timeout_ms);
  // Brackets one libuv callback's reports to the owner of its start (Owner::OnUpstreamCallback*).
  class OwnerScope {
   public:
    explicit OwnerScope(Owner* owner) : owner_(owner) {
      if (owner_) owner_->OnUpstreamCallbackBegin();
    }
    ~OwnerScope() {
      if (owner_) owner_->OnUpstreamCallbackEnd();
    }
    OwnerScope(const OwnerScope&) = delete;
    OwnerScope& operator=(const OwnerScope&) = delete;

   private:
    Owner* owner_;
  };
  // One read's bytes through the response parser (or the tunnel) to the owner.
  void Deliver(const char* data, size_t len);
  void Fail(int status);  // reports to the owner, or retires an idle connection

  UpstreamPool* pool_;
  Owner* owner_ = nullptr;
  uint64_t id_;
  PodAddress key_;  // idle connections are found by it
  std::string pod_;
  metrics::PodMetrics* metrics_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;            // connect timeout, then idle timeout while pooled
  uint64_t idle_since_ = 0;     // loop time of the last Release
  uint64_t request_start_ = 0;  // writer_.handed_over() when the current request began
  uv_connect_t connect_req_;
  StreamWriter writer_;
  HttpParser parser_;
  CloseCountdown handles_{2};  // tcp_, timer_
  int connect_error_ = 0;      // a connect that failed before it started
  bool connected_ = false;
  bool reading_ = false;
  bool got_bytes_ = false;
  bool tunnel_ = false;
  bool closing_ = false;
};

}  // namespace podrouter
