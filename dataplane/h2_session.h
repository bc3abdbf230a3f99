// H2Session: one client connection speaking HTTP/2 (prior knowledge, RFC 9113 §3.3) to an HTTP
// listener. HttpSession hands the connection over when it starts with the client preface. Every
// stream is routed on its own (H2Stream) and goes to its pod over HTTP/2 (a shared multiplexed
// connection, H2UpstreamPool) or HTTP/1.1 (a pooled connection per request, UpstreamPool), as the
// listener's upstream_protocol says.
//
//   client bytes ─► H2Codec (server) ─► OnHead ─► H2Stream: Route() ─► H2UpstreamConn /
//   UpstreamConn client ◄─ Flush() ◄─ H2Codec ◄─ ReadBody ◄─ H2Stream's response buffer ◄─ pod
//
// Flow control: the client's DATA is acknowledged (WINDOW_UPDATE) only once it went to the pod,
// and the pod's only once it went to the client, so each side holds the other to a window.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/close_countdown.h"
#include "dataplane/flush_queue.h"
#include "dataplane/listener_state.h"
#include "dataplane/session.h"
#include "dataplane/stream_writer.h"
#include "dataplane/worker_context.h"
#include "http2/h2_codec.h"

namespace podrouter {

class H2Stream;

class H2Session : public Session,
                  public H2Codec::Delegate,
                  public StreamWriter::Observer,
                  public FlushQueue::Flushable {
 public:
  // The client preface (RFC 9113 §3.4) that tells HTTP/2 from HTTP/1.1 on one port.
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

  H2Session(WorkerContext* worker, uint64_t id, std::shared_ptr<ListenerRef> listener,
            uint32_t port_offset);
  ~H2Session() override;

  // Takes the connected socket `fd` and the bytes already read from it (the preface first).
  void Start(int fd, std::string_view received);
  // Ends the connection now (drain timeout, shutdown), with a GOAWAY the client can read.
  void Abort() override;
  // A graceful GOAWAY: streams in flight finish, new ones are refused, then the connection closes.
  void Drain() override;
  void NoticeDrain() override;

 private:
  friend class H2Stream;

  // H2Codec::Delegate: the client's frames.
  uint32_t OnHead(int32_t stream, H2Codec::HeadKind kind, HttpHead& head, bool end) override;
  void OnData(int32_t stream, const uint8_t* data, size_t len) override;
  void OnEndStream(int32_t stream) override;
  void OnStreamClose(int32_t stream, uint32_t error_code) override;
  void OnResetReceived(int32_t stream, uint32_t error_code) override;
  ssize_t ReadBody(int32_t stream, uint8_t* buf, size_t len, H2Codec::BodyEnd* end) override;
  // StreamWriter::Observer
  void OnBelowLowWatermark(StreamWriter*) override { ScheduleFlush(); }
  void OnWriteError(StreamWriter*, int) override { Close("client_write_failed", true); }
  // FlushQueue::Flushable: frames nghttp2 has ready go to the client while the socket takes them.
  void Flush() override;

  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnTimer(uv_timer_t* timer);
  static void OnClosed(uv_handle_t* handle);
  void Receive(const char* data, size_t len);
  void ScheduleFlush();
  void UpdateStreamGauge();  // once per flush, not per stream: the gauge is an atomic
  // The timer is due at the earliest stream deadline, or at the idle timeout without streams.
  void ArmTimer(uint64_t due);
  // The end of a connection nghttp2 is done with (after the last GOAWAY): FIN, then drop what
  // the client still sends until it closes or kLingerMs pass, then close.
  void Linger();
  void Close(const char* reason, bool reset);
  H2Stream* Find(int32_t stream);

  WorkerContext* worker_;
  std::shared_ptr<ListenerRef> listener_;
  metrics::ListenerMetrics* metrics_;
  const uint32_t port_offset_;
  uv_tcp_t down_;
  uv_timer_t timer_;
  StreamWriter writer_;
  H2Codec codec_;
  std::unordered_map<int32_t, std::unique_ptr<H2Stream>> streams_;
  // Stream objects whose streams ended, kept for the next ones (at most kSpareStreams).
  std::vector<std::unique_ptr<H2Stream>> spare_;
  static constexpr size_t kSpareStreams = 128;
  double streams_gauged_ = 0;  // streams_.size() as last added to the active-streams gauge
  std::string key_scratch_;    // a percent-decoded shard key
  uint64_t last_activity_ = 0;
  uint64_t timer_due_ = 0;  // loop time the timer fires at; 0: not armed
  bool reading_ = false;
  bool draining_ = false;  // a GOAWAY is out: close once the streams are done
  bool lingering_ = false;
  static constexpr uint64_t kLingerMs = 1000;
  bool final_goaway_ = false;  // the GOAWAY with the last stream id processed went out
  uint64_t notice_at_ = 0;     // loop time of the drain's first GOAWAY
  // Between the drain's two GOAWAYs: a stream the client sent before it saw the first is taken.
  static constexpr uint64_t kGoawayGraceMs = 1000;
  bool closed_ = false;
  CloseCountdown handles_{2};  // down_, timer_
};

}  // namespace podrouter
