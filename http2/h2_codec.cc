// H2Codec: nghttp2's callbacks turned into whole heads, body bytes and stream ends.
#include "http2/h2_codec.h"

#include <algorithm>
#include <cstdlib>

namespace podrouter {
namespace {

using namespace std::string_view_literals;

H2Codec* Self(void* user) { return static_cast<H2Codec*>(user); }

}  // namespace

H2Codec::H2Codec(Role role, Delegate* delegate, size_t max_header_list)
    : role_(role),
      delegate_(delegate),
      max_header_list_(std::min(max_header_list, kMaxHeaderList)) {
  nghttp2_session_callbacks* callbacks;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) abort();
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClosed);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, &OnFrameNotSent);
  if (role == Role::kServer)
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &OnFrameSent);
  nghttp2_option* option;
  if (nghttp2_option_new(&option) != 0) abort();
  nghttp2_option_set_no_auto_window_update(option, 1);
  int rc = role == Role::kServer ? nghttp2_session_server_new2(&session_, callbacks, this, option)
                                 : nghttp2_session_client_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (rc != 0) abort();  // out of memory only
  nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(max_header_list_)},
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  // A server may not send ENABLE_PUSH (RFC 9113 §6.5.2), and a client grants no streams.
  size_t count = role == Role::kServer ? 3 : 4;
  if (role == Role::kClient) settings[2] = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 0};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, count);
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
}

H2Codec::~H2Codec() { nghttp2_session_del(session_); }

bool H2Codec::Receive(const char* data, size_t len) {
  ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(data), len);
  if (n >= 0) return true;
  // A fatal error (e.g. a CONTINUATION flood): nghttp2 has not always queued its own GOAWAY.
  nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
  return false;
}

bool H2Codec::Pull(std::string_view* out) {
  const uint8_t* data = nullptr;
  ssize_t n = nghttp2_session_mem_send(session_, &data);
  if (n < 0) return false;
  *out = std::string_view(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  return true;
}

int32_t H2Codec::SubmitRequest(const HttpHead& request, bool has_body, void* stream_data) {
  ToH2Request(request, "http"sv, &headers_);
  nghttp2_data_provider body{};
  body.read_callback = &OnReadBody;
  return nghttp2_submit_request(session_, nullptr, headers_.data(), headers_.size(),
                                has_body ? &body : nullptr, stream_data);
}

int H2Codec::SubmitResponse(int32_t stream, const HttpHead& response, bool has_body) {
  ToH2Response(response, &headers_);
  if (response.status < 200) {
    return nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, stream, nullptr, headers_.data(),
                                  headers_.size(), nullptr);
  }
  nghttp2_data_provider body{};
  body.read_callback = &OnReadBody;
  return nghttp2_submit_response(session_, stream, headers_.data(), headers_.size(),
                                 has_body ? &body : nullptr);
}

int H2Codec::SubmitHeaders(int32_t stream, H2HeaderList* headers, bool end_stream) {
  return nghttp2_submit_headers(session_, end_stream ? NGHTTP2_FLAG_END_STREAM : NGHTTP2_FLAG_NONE,
                                stream, nullptr, headers->data(), headers->size(), nullptr);
}

void H2Codec::Consume(int32_t stream, size_t len) {
  if (len > 0) nghttp2_session_consume_stream(session_, stream, len);
}

void H2Codec::Reset(int32_t stream, uint32_t error_code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, error_code);
}

void H2Codec::Goaway(uint32_t error_code) {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), error_code, nullptr, 0);
}

void H2Codec::Ping() { nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr); }

uint32_t H2Codec::peer_max_concurrent_streams() const {
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

int H2Codec::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type == NGHTTP2_HEADERS) {
    H2Codec* self = Self(user);
    self->head_.Clear();
    self->header_bytes_ = 0;
    self->head_.major = 2;
    self->head_.minor = 0;
  }
  return 0;
}

int H2Codec::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  H2Codec* self = Self(user);
  self->header_bytes_ += namelen + valuelen + 32;
  if (self->head_oversized()) return 0;  // counted, not kept
  HttpHead& head = self->head_;
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  // nghttp2 has checked the block (RFC 9113 §8.3: pseudo-headers first, known, once each).
  if (!n.empty() && n[0] == ':') {
    if (n == ":method"sv) {
      head.method = v;
    } else if (n == ":path"sv) {
      head.url = v;
    } else if (n == ":authority"sv) {
      head.AddHeader("host"sv, v);
    } else if (n == ":status"sv) {
      head.status = 0;
      for (char c : v) head.status = head.status * 10 + (c - '0');
    }
    return 0;
  }
  // A Host header and :authority (RFC 9113 §8.3.1): the first found (:authority) wins.
  if (n == "host"sv && head.Find("host"sv)) return 0;
  head.AddHeader(n, v);
  return 0;
}

int H2Codec::OnFrameNotSent(nghttp2_session* session, const nghttp2_frame* frame, int lib_error,
                            void*) {
  // A head or trailer block nghttp2 would not encode (over its 64 KiB send limit): the stream
  // must not wait for a block that never comes. Only that error: a request cancelled before its
  // HEADERS left is "not sent" too, but the peer never saw that stream, and RST_STREAM on it would
  // be a connection error (RFC 9113 §6.4) ending every stream of the connection.
  if (frame->hd.type == NGHTTP2_HEADERS && lib_error == NGHTTP2_ERR_FRAME_SIZE_ERROR) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                              NGHTTP2_INTERNAL_ERROR);
  }
  return 0;
}

int H2Codec::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  H2Codec* self = Self(user);
  const int32_t stream = frame->hd.stream_id;
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      HeadKind kind;
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        kind = HeadKind::kRequest;
      } else if (self->head_.status != 0) {
        if (self->head_.status < 100 || self->head_.status > 599) {
          self->Reset(stream, NGHTTP2_PROTOCOL_ERROR);  // not an HTTP status (RFC 9110 §15)
          break;
        }
        kind = self->head_.status < 200 ? HeadKind::kInformational : HeadKind::kResponse;
      } else {
        kind = HeadKind::kTrailers;
      }
      uint32_t error = self->delegate_->OnHead(stream, kind, self->head_, end_stream);
      if (error != 0) self->Reset(stream, error);
      break;
    }
    case NGHTTP2_DATA:
      if (end_stream) self->delegate_->OnEndStream(stream);
      break;
    case NGHTTP2_RST_STREAM:
      self->delegate_->OnResetReceived(stream, frame->rst_stream.error_code);
      break;
    case NGHTTP2_GOAWAY:
      self->delegate_->OnGoaway(frame->goaway.last_stream_id, frame->goaway.error_code);
      break;
    case NGHTTP2_SETTINGS:
      if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) self->settings_received_ = true;
      break;
    default:
      break;
  }
  return 0;
}

int H2Codec::OnFrameSent(nghttp2_session* session, const nghttp2_frame* frame, void*) {
  // RFC 9113 §8.1: a response complete before its request ends (an early answer, an error) ends
  // the stream with RST_STREAM NO_ERROR, so the client stops sending and sees the stream closed.
  const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (ends && (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int H2Codec::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream, const uint8_t* data,
                         size_t len, void* user) {
  nghttp2_session_consume_connection(session, len);  // the stream's own window holds it back
  Self(user)->delegate_->OnData(stream, data, len);
  return 0;
}

int H2Codec::OnStreamClosed(nghttp2_session*, int32_t stream, uint32_t error_code, void* user) {
  Self(user)->delegate_->OnStreamClose(stream, error_code);
  return 0;
}

ssize_t H2Codec::OnReadBody(nghttp2_session* session, int32_t stream, uint8_t* buf, size_t len,
                            uint32_t* flags, nghttp2_data_source*, void* user) {
  H2Codec* self = Self(user);
  BodyEnd end;
  ssize_t n = self->delegate_->ReadBody(stream, buf, len, &end);
  if (n == kDeferred) return NGHTTP2_ERR_DEFERRED;
  if (n < 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
  if (end.eof) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (end.trailers) ToH2Trailers(*end.trailers, &self->headers_);
    if (end.trailers && self->headers_.size() > 0) {
      if (nghttp2_submit_trailer(session, stream, self->headers_.data(), self->headers_.size()) ==
          0) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
  }
  return n;
}

}  // namespace podrouter
