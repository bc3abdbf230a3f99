// UpstreamPool keeps HTTP connections to pods, per pod address, for reuse by any session on the
// loop. An UpstreamConn is either leased to one HttpSession (which gets its events) or idle in the
// pool (where any byte or EOF from the pod retires it, as does the idle timeout).
#pragma once

#include <uv.h>
#include <xxhash.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dataplane/stream_writer.h"
#include "dataplane/worker.h"
#include "discovery/endpoint_set.h"
#include "http/http_parser.h"
#include "metrics/metrics.h"

namespace podrouter {

class HttpSession;
class UpstreamPool;

// A pod's address (IPv4 or IPv6 bytes, the port, the family) as a fixed-size map key.
struct PodAddress {
  std::array<uint8_t, 19> bytes{};
  bool operator==(const PodAddress&) const = default;
  struct Hash {
    size_t operator()(const PodAddress& a) const {
      return static_cast<size_t>(XXH3_64bits(a.bytes.data(), a.bytes.size()));
    }
  };
};

class UpstreamConn : public HttpParser::Delegate, public StreamWriter::Observer {
 public:
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
  // The framing of the pod's current response (RFC 9112 §6.3), once its head is in.
  const MessageFraming& response_framing() const { return parser_.framing(); }
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
  void OnWriteDrained(StreamWriter*) override;
  void OnWriteError(StreamWriter*, int status) override;

  static void OnConnect(uv_connect_t* req, int status);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnTimer(uv_timer_t* timer);
  void Connect(const Endpoint& endpoint, uint64_t timeout_ms);
  void Fail(int status);  // reports to the owner, or retires an idle connection

  UpstreamPool* pool_;
  HttpSession* owner_ = nullptr;
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
  int open_handles_ = 2;
  int connect_error_ = 0;  // a connect that failed before it started
  bool connected_ = false;
  bool reading_ = false;
  bool got_bytes_ = false;
  bool tunnel_ = false;
  bool closing_ = false;
};

class UpstreamPool {
 public:
  static constexpr size_t kMaxIdlePerPod = 64;
  static constexpr uint64_t kIdleTimeoutMs = 30000;

  explicit UpstreamPool(Worker* worker) : worker_(worker) {}
  ~UpstreamPool();

  // An idle connection to `endpoint` (*reused = true), or a new one connecting (false).
  UpstreamConn* Acquire(const Endpoint& endpoint, HttpSession* owner, uint64_t connect_timeout_ms,
                        bool fresh, bool* reused);
  // Back to the pool after a complete response, or closed when it cannot be reused.
  void Release(UpstreamConn* conn);
  void Discard(UpstreamConn* conn, bool reset = false);
  void CloseAll();
  size_t idle_count() const;
  size_t size() const { return conns_.size(); }

 private:
  friend class UpstreamConn;
  void Remove(UpstreamConn* conn);  // from the last close callback
  void Unpool(UpstreamConn* conn);

  Worker* worker_;
  uint64_t next_id_ = 1;
  std::unordered_map<PodAddress, std::vector<UpstreamConn*>, PodAddress::Hash> idle_;
  std::unordered_map<UpstreamConn*, std::unique_ptr<UpstreamConn>> conns_;
};

}  // namespace podrouter
