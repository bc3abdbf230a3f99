// H2Codec: the protocol state of one HTTP/2 connection (RFC 9113), server or client side, on
// nghttp2: framing, HPACK, stream states, flow control, PING and GOAWAY are nghttp2's; this class
// turns its callbacks into whole header blocks (as HttpHead), body bytes and stream ends for a
// Delegate, and takes heads, bodies (pulled from the Delegate) and resets to send. No I/O: bytes
// come in through Receive() and go out through Pull(), so the event loop stays with the caller.
//
// Flow control is the caller's, per stream: a stream's DATA is not acknowledged until Consume()
// says the bytes have left podrouter, so a peer never has more than a stream window per stream in
// podrouter's buffers. The connection's window is opened as DATA arrives: on a connection shared
// by many clients' streams (to a pod), one client that stops reading must not stall the others.
// Header lists are held to a size (RFC 9113 §6.5.2 SETTINGS_MAX_HEADER_LIST_SIZE, counted as
// RFC 7541 §4.1 does): a larger one is never accumulated (an HPACK "bomb" costs no memory) and is
// reported through head_oversized().
#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "http/http_head.h"
#include "http2/h2_headers.h"

namespace podrouter {

class H2Codec {
 public:
  enum class Role { kServer, kClient };
  // What a complete header block is (RFC 9113 §8.1).
  enum class HeadKind { kRequest, kInformational, kResponse, kTrailers };

  // Windows podrouter advertises: per stream and for the whole connection, in bytes.
  static constexpr int32_t kStreamWindow = 256 * 1024;
  static constexpr int32_t kConnectionWindow = 4 * 1024 * 1024;
  // SETTINGS_MAX_CONCURRENT_STREAMS podrouter grants a client (as HAProxy and NGINX, about
  // 100): with a stream window each, what one client connection can make podrouter hold.
  static constexpr uint32_t kMaxConcurrentStreams = 100;

  // How a body pulled by ReadBody ends.
  struct BodyEnd {
    bool eof = false;                    // the body has ended
    const HttpHead* trailers = nullptr;  // with eof: sent as a trailer block ending the stream
  };

  class Delegate {
   public:
    virtual ~Delegate() = default;
    // A complete header block on `stream`; `head` is reused after the call (HTTP/2 heads have
    // major 2; requests carry :authority as Host). Returns 0, or an RFC 9113 §7 error code that
    // resets the stream.
    virtual uint32_t OnHead(int32_t stream, HeadKind kind, HttpHead& head, bool end_stream) = 0;
    virtual void OnData(int32_t stream, const uint8_t* data, size_t len) = 0;
    virtual void OnEndStream(int32_t stream) = 0;  // END_STREAM on a DATA frame
    // The stream is closed (both ways); `error_code` 0 when it ended cleanly, else the RST_STREAM
    // code received or sent (NGHTTP2_REFUSED_STREAM: the peer never processed it).
    virtual void OnStreamClose(int32_t stream, uint32_t error_code) = 0;
    // The peer's GOAWAY: streams above `last_stream` will be closed as refused.
    virtual void OnGoaway(int32_t /*last_stream*/, uint32_t /*error_code*/) {}
    // The peer reset `stream` (RST_STREAM received; OnStreamClose follows).
    virtual void OnResetReceived(int32_t /*stream*/, uint32_t /*error_code*/) {}
    // Body bytes for `stream`, at most `len`, into `buf`: the count, or 0 with end->eof, or
    // kDeferred when none are ready (ResumeData() when there are).
    virtual ssize_t ReadBody(int32_t stream, uint8_t* buf, size_t len, BodyEnd* end) = 0;
  };
  static constexpr ssize_t kDeferred = NGHTTP2_ERR_DEFERRED;

  // The largest header list nghttp2 can send again as one block: heads bigger than this cannot be
  // relayed to HTTP/2 peers, so no codec accepts one.
  static constexpr size_t kMaxHeaderList = 60 * 1024;

  // `max_header_list`: the largest header list accepted from the peer (at most kMaxHeaderList).
  H2Codec(Role role, Delegate* delegate, size_t max_header_list = kMaxHeaderList);
  ~H2Codec();
  H2Codec(const H2Codec&) = delete;
  H2Codec& operator=(const H2Codec&) = delete;

  // Feeds the peer's bytes. Returns false on a connection error: a GOAWAY is queued and nothing
  // more is read; Pull() what is left, then close.
  bool Receive(const char* data, size_t len);
  // The next bytes to write (empty when nothing is due); valid until the next call. Returns false
  // on a fatal error.
  bool Pull(std::string_view* out);
  bool want_read() const { return nghttp2_session_want_read(session_) != 0; }
  bool want_write() const { return nghttp2_session_want_write(session_) != 0; }

  // Client: opens a stream for `request`; `has_body` false ends it with the head. Returns the
  // stream id, or <0 (nghttp2 error; e.g. no stream ids left after GOAWAY).
  int32_t SubmitRequest(const HttpHead& request, bool has_body, void* stream_data);
  // Server: the response head on `stream` (1xx heads too: has_body must then be true).
  int SubmitResponse(int32_t stream, const HttpHead& response, bool has_body);
  // A prepared header list as the response (e.g. a gRPC Trailers-Only answer), no body.
  int SubmitHeaders(int32_t stream, H2HeaderList* headers, bool end_stream);
  void ResumeData(int32_t stream) { nghttp2_session_resume_data(session_, stream); }
  // `len` bytes of `stream`'s DATA have left podrouter: the peer may send as many again.
  void Consume(int32_t stream, size_t len);
  void Reset(int32_t stream, uint32_t error_code);
  // Server: a graceful GOAWAY (RFC 9113 §6.8: the last stream id processed), new streams refused.
  void Goaway(uint32_t error_code);
  void Ping();
  // Server: the first GOAWAY of a graceful shutdown (RFC 9113 §6.8: last stream id 2^31-1): the
  // client opens no more streams here, those in flight are still taken.
  void ShutdownNotice() { nghttp2_submit_shutdown_notice(session_); }
  void* stream_data(int32_t stream) const {
    return nghttp2_session_get_stream_user_data(session_, stream);
  }
  void set_stream_data(int32_t stream, void* data) {
    nghttp2_session_set_stream_user_data(session_, stream, data);
  }
  // Client: the peer's SETTINGS_MAX_CONCURRENT_STREAMS (unbounded until its SETTINGS arrive).
  uint32_t peer_max_concurrent_streams() const;
  // Client: true once the server's first SETTINGS has arrived.
  bool peer_settings_received() const { return settings_received_; }
  // Inside Delegate::OnHead: the block was larger than the limit, and `head` holds only its
  // start (requests: answer 431; responses: the pod's answer is refused).
  bool head_oversized() const { return header_bytes_ > max_header_list_; }

 private:
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                      void* user);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnFrameSent(nghttp2_session* session, const nghttp2_frame* frame, void* user);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream, const uint8_t* data,
                         size_t len, void* user);
  static int OnStreamClosed(nghttp2_session*, int32_t stream, uint32_t error_code, void* user);
  // A frame nghttp2 could not send: a HEADERS frame too large to encode resets its stream.
  static int OnFrameNotSent(nghttp2_session*, const nghttp2_frame* frame, int lib_error,
                            void* user);
  static ssize_t OnReadBody(nghttp2_session*, int32_t stream, uint8_t* buf, size_t len,
                            uint32_t* flags, nghttp2_data_source*, void* user);

  Role role_;
  Delegate* delegate_;
  nghttp2_session* session_ = nullptr;
  HttpHead head_;  // the header block being received (blocks never interleave, §4.3)
  size_t max_header_list_;
  size_t header_bytes_ = 0;  // of the block being received, as RFC 7541 §4.1 counts
  H2HeaderList headers_;
  bool settings_received_ = false;
};

}  // namespace podrouter
