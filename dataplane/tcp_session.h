// TcpSession: one client connection relayed byte for byte to one pod, both ways, with bounded
// buffers, half-close passed through, and connect/idle timeouts. Bulk traffic (a read that fills
// a whole buffer) moves to splice(2): socket → pipe → socket, the bytes never copied through
// user space, with the same watermark, half-close, reset and byte-accounting rules.
#pragma once

#include <uv.h>

#include <memory>

#include "base/close_countdown.h"
#include "config/config.h"
#include "dataplane/pipe_pool.h"
#include "dataplane/session.h"
#include "dataplane/worker_context.h"
#include "discovery/endpoint_set.h"
#include "metrics/metrics.h"

namespace podrouter {

class TcpSession : public Session {
 public:
  TcpSession(WorkerContext* worker, uint64_t id, const config::Listener& listener,
             metrics::ListenerMetrics* listener_metrics);
  ~TcpSession() override;

  // Takes the accepted socket `fd` and connects to `endpoint`. On failure the session is already
  // closing.
  void Start(int fd, const Endpoint& endpoint);
  void Abort() override { Close("aborted", true); }

 private:
  // One way of the relay: bytes read from `src` are written to `dst`.
  struct Direction {
    uv_tcp_t* src;
    uv_tcp_t* dst;
    metrics::Counter* bytes = nullptr;
    size_t unsent = 0;    // queued in uv_write, not yet written
    bool paused = false;  // reading src stopped for backpressure
    bool eof = false;     // src sent FIN
    bool shutdown_started = false;
    bool shutdown_done = false;
    uv_shutdown_t shutdown_req;
  };
  struct WriteReq;
  // Splice mode. libuv allows one watcher per descriptor: once each uv_tcp_t has stopped reading
  // (and has no write or shutdown queued) its descriptor is watched by a uv_poll_t instead; the
  // uv_tcp_t still owns, closes (or resets) the socket, after the poll handle is closed. Not a
  // dup(2): libuv closes with a raw syscall ThreadSanitizer cannot see, so a dup'ed number looks
  // raced between workers, and two descriptors more per session would count against the limit.
  // Made only when a session turns bulk, so an idle session pays nothing for it.
  struct SpliceSide {
    uv_poll_t poll;
    int fd = -1;          // the socket's descriptor (owned by its uv_tcp_t)
    int events = 0;       // UV_READABLE | UV_WRITABLE being watched
    bool polled = false;  // `poll` initialised: closed with the session
  };
  struct SpliceWay {  // one direction: src socket → pipe → dst socket
    Direction* direction;
    SpliceSide* src;
    SpliceSide* dst;
    Pipe pipe;
    size_t in_pipe = 0;  // bytes spliced into the pipe, not yet out of it
  };
  struct Spliced {
    SpliceSide down, up;
    SpliceWay to_up{nullptr, &down, &up}, to_down{nullptr, &up, &down};
  };

  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnConnect(uv_connect_t* req, int status);
  static void OnTimer(uv_timer_t* timer);
  static void OnClosed(uv_handle_t* handle);

  Direction& DirectionFrom(uv_stream_t* src) {
    return src == reinterpret_cast<uv_stream_t*>(&down_) ? to_up_ : to_down_;
  }
  void Forward(Direction& d, std::unique_ptr<char[]> buffer, size_t len);
  void StartReading(Direction& d);
  void MaybeShutdown(Direction& d);
  void Close(const char* reason, bool reset);

  // tcp_splice.cc: entering splice mode once both directions have nothing queued, and the
  // relay in it.
  void MaybeSplice();
  bool StartSplice();
  static void OnPoll(uv_poll_t* poll, int status, int events);
  void Pump(SpliceWay& way);
  void WatchSplicedSockets();
  void CloseSplice();

  WorkerContext* worker_;
  const config::Timeouts timeouts_;
  const std::string listener_name_;
  metrics::ListenerMetrics* listener_metrics_;
  metrics::PodMetrics* pod_metrics_ = nullptr;
  std::string pod_;
  uv_tcp_t down_;
  uv_tcp_t up_;
  uv_timer_t timer_;
  uv_connect_t connect_req_;
  Direction to_up_{&down_, &up_};
  Direction to_down_{&up_, &down_};
  uint64_t last_activity_ = 0;
  bool connected_ = false;
  bool closing_ = false;
  bool splice_wanted_ = false;  // a read filled a whole buffer: bulk traffic
  std::unique_ptr<Spliced> spliced_;
  CloseCountdown handles_{3};  // down_, up_, timer_ (and the two polls once spliced)
};

}  // namespace podrouter
