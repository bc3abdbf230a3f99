// HttpSession: per-request routing, pooled upstreams, streaming both ways, local error answers.
#include "dataplane/http_session.h"

#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <cassert>
#include <cinttypes>
#include <cstdio>

#include "base/log.h"
#include "dataplane/chunk_frame.h"
#include "dataplane/h2_session.h"
#include "routing/router.h"

namespace podrouter {
namespace {

bool HasToken(const std::string* list, std::string_view token) {
  if (!list) return false;
  std::string_view rest = *list;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

constexpr size_t kMaxReplay = 64 * 1024;  // request bytes kept for a retry on a stale connection
constexpr size_t kKeptReplay = 8 * 1024;  // replay storage an idle connection keeps

}  // namespace

HttpSession::HttpSession(WorkerContext* worker, uint64_t id, std::shared_ptr<ListenerRef> listener,
                         uint32_t port_offset)
    : Session(id),
      worker_(worker),
      listener_(std::move(listener)),
      metrics_(listener_->current->metrics),
      port_offset_(port_offset) {
  uv_tcp_init(worker->loop, &down_);
  uv_timer_init(worker->loop, &request_timer_);
  uv_timer_init(worker->loop, &idle_timer_);
  down_.data = request_timer_.data = idle_timer_.data = this;
  metrics_->connections_active->Increment();
}

HttpSession::~HttpSession() {
  if (!x_) return;
  // Its handles are closed: what the exchange still holds is dropped, its storage kept.
  x_->req = Request{};
  x_->pending.clear();
  x_->preface_probe.clear();
  x_->writer.DropCorked();
  if (x_->writer.unsent() == 0 && !x_->parser.in_message()) worker_->exchanges.Give(std::move(x_));
}

void HttpSession::TakeExchange() {
  if (x_) return;
  const size_t max_head = listener_->current->config.limits.max_header_bytes;
  auto* stream = reinterpret_cast<uv_stream_t*>(&down_);
  x_ = worker_->exchanges.Take();
  if (x_) {
    x_->Rebind(this, this, stream, max_head);
  } else {
    x_ = std::make_unique<HttpExchange>(this, this, stream, max_head);
  }
}

void HttpSession::MaybeRest() {
  if (!x_ || closed_ || state_ != State::kIdle || in_downstream_parse_ || in_upstream_callback_ ||
      !x_->at_rest()) {
    return;
  }
  worker_->exchanges.Give(std::move(x_));
}

void HttpSession::Start(int fd) {
  int rc = uv_tcp_open(&down_, fd);
  if (rc != 0) {
    ::close(fd);
    metrics_->Failure(metrics::RouteFailure::kAcceptError).Increment();
    Close("accept_failed", false);
    return;
  }
  uv_tcp_nodelay(&down_, 1);
  Touch();
  uint64_t idle = static_cast<uint64_t>(listener_->current->config.timeouts.idle.count());
  uv_timer_start(&idle_timer_, &OnIdleTimer, idle, 0);
  StartReadingDownstream();
}

void HttpSession::StartReadingDownstream() {
  if (reading_ || closed_) return;
  reading_ = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&down_),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* s = static_cast<HttpSession*>(h->data);
        BufferPool& buffers = s->worker_->buffers;
        *buf = uv_buf_init(buffers.Get().release(), static_cast<unsigned>(buffers.buffer_size()));
      },
      &OnDownstreamRead);
}

void HttpSession::StopReadingDownstream() {
  if (!reading_) return;
  reading_ = false;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&down_));
}

void HttpSession::OnDownstreamRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* s = static_cast<HttpSession*>(stream->data);
  std::unique_ptr<char[]> buffer(buf->base);
  if (nread > 0 && !s->closed_) {
    s->Touch();
    s->TakeExchange();
    if (s->state_ == State::kTunnel) {
      if (s->x_->req.up) {
        uv_buf_t b = uv_buf_init(buffer.get(), static_cast<unsigned>(nread));
        s->WriteUpstream(&b, 1);
        if (s->x_->req.up && s->x_->req.up->above_high()) s->StopReadingDownstream();
      }
    } else if (s->sniffed_ || !s->SniffPreface(buffer.get(), static_cast<size_t>(nread))) {
      s->ProcessDownstreamBytes(buffer.get(), static_cast<size_t>(nread));
    }
  } else if (nread == UV_EOF) {
    s->OnDownstreamEof();
  } else if (nread < 0) {
    s->Close("client_reset", true);
  }
  s->worker_->buffers.Put(std::move(buffer));
  s->MaybeRest();
}

bool HttpSession::SniffPreface(const char* data, size_t len) {
  const std::string_view preface = H2Session::kPreface;
  const size_t have = x_->preface_probe.size();
  const size_t n = std::min(len, preface.size() - have);
  if (preface.substr(have, n) != std::string_view(data, n)) {
    sniffed_ = true;  // HTTP/1.x: what was held back is parsed first
    if (have > 0) {
      std::string probe = std::move(x_->preface_probe);
      x_->preface_probe = std::string();
      ProcessDownstreamBytes(probe.data(), probe.size());
    }
    return closed_;
  }
  x_->preface_probe.append(data, len);
  if (x_->preface_probe.size() >= preface.size()) HandOverToHttp2();
  return true;
}

void HttpSession::HandOverToHttp2() {
  sniffed_ = true;
  int fd = -1;
  uv_fileno(reinterpret_cast<uv_handle_t*>(&down_), &fd);
  // The socket moves to an H2Session, which owns a handle of its own on a copy of the descriptor;
  // closing this handle then closes only the original descriptor.
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    LOG_WARN("c=%lu listener=%s event=http2_handover_failed error=%s", id(), metrics_->name.c_str(),
             uv_strerror(uv_translate_sys_error(errno)));
    Close("http2_handover_failed", true);
    return;
  }
  auto session = std::make_unique<H2Session>(worker_, id(), listener_, port_offset_);
  H2Session* h2 = session.get();
  worker_->sessions.Add(std::move(session));
  std::string received = std::move(x_->preface_probe);
  StopReadingDownstream();
  Close("http2", false);
  h2->Start(copy, received);
}

void HttpSession::ProcessDownstreamBytes(const char* data, size_t len) {
  in_downstream_parse_ = true;
  while (len > 0 && !closed_) {
    if (state_ != State::kIdle && state_ != State::kRequest) {
      // A request is being answered: later (pipelined) bytes wait their turn.
      x_->pending.append(data, len);
      StopReadingDownstream();
      break;
    }
    HttpParser::Result r = x_->parser.Feed(data, len);
    data += r.consumed;
    len -= r.consumed;
    if (deferred_error_) {
      int status = deferred_error_;
      deferred_error_ = 0;
      in_downstream_parse_ = false;
      HandleUpstreamError(status);
      in_downstream_parse_ = true;
      if (closed_) break;
    }
    if (r.status == HttpParser::Status::kNeedMore) {
      if (x_->req.up && x_->req.up->above_high()) StopReadingDownstream();  // the pod reads slower
      if (x_->req.up2 && x_->h2_body.size() - x_->h2_body_sent > kHighWatermark)
        StopReadingDownstream();
      break;
    }
    if (r.status == HttpParser::Status::kError) {
      const int status = x_->parser.error_status();
      LOG_DEBUG("c=%lu event=bad_request status=%d error=%s", id(), status,
                LogQuote(x_->parser.error()).c_str());
      if (x_->req.up) worker_->pool->Discard(x_->req.up, true);
      x_->req.up = nullptr;
      CancelHttp2Stream();
      // The refused message's own start (a request refused before its head was complete has
      // not reached OnHead, which sets it for the others).
      x_->req.started_ns = message_started_ns_ ? message_started_ns_ : uv_hrtime();
      const metrics::RouteFailure reason = status == 431 ? metrics::RouteFailure::kHeadersTooLarge
                                           : status == 501
                                               ? metrics::RouteFailure::kUnsupportedTransferCoding
                                               : metrics::RouteFailure::kBadRequest;
      AnswerLocally(status, reason,
                    ErrorBody(metrics::ToString(reason), "detail", x_->parser.error()),
                    /*close=*/true);
      break;
    }
    // A message ended (kMessageComplete), or an upgrade request's head did (kUpgrade).
    OnRequestComplete();
    if (x_->req.upgrade && state_ == State::kWaiting) {
      x_->pending.append(data, len);  // tunnel bytes, for after the pod's 101
      StopReadingDownstream();
      break;
    }
  }
  in_downstream_parse_ = false;
}

void HttpSession::OnMessageBegin() { message_started_ns_ = uv_hrtime(); }

bool HttpSession::OnHead(HttpHead& head, std::string*) {
  state_ = State::kRequest;
  x_->req = Request{};
  x_->req.listener = listener_->current;
  x_->req.started_ns = message_started_ns_;
  x_->req.minor = head.minor;
  x_->req.keep_alive = x_->parser.keep_alive() && !draining_;
  x_->req.head_method = head.method == "HEAD";
  const ListenerState& l = *x_->req.listener;
  if (head.method == "CONNECT") {
    x_->req.error_status = 400;
    x_->req.error_reason = metrics::RouteFailure::kBadRequest;
    x_->req.error_body = ErrorBody("bad_request", "detail", "CONNECT is not supported");
    x_->req.keep_alive = false;
    return true;
  }
  x_->req.upgrade = head.Find("upgrade") && HasToken(head.Find("connection"), "upgrade");
  if (x_->req.upgrade && l.config.upstream_protocol == config::UpstreamProtocol::kHttp2) {
    // An HTTP/2 pod has no Upgrade (RFC 9113 §8.6); WebSockets need HTTP/1.1 pods.
    x_->req.error_status = 501;
    x_->req.error_reason = metrics::RouteFailure::kBadRequest;
    x_->req.error_body =
        ErrorBody("bad_request", "detail", "Upgrade needs upstream_protocol: http1");
    x_->req.keep_alive = false;
    return true;
  }
  x_->req.pods = l.service->snapshot();
  RouteResult route = Route(l.config.route, l.service->service(), RouteInput{&head, port_offset_},
                            x_->req.pods, &listener_->pickers, &x_->key_scratch);
  if (!route.endpoint) {
    x_->req.error_status = route.status;
    x_->req.error_reason = route.reason;
    x_->req.error_body = std::move(route.body);
    if (x_->req.upgrade) x_->req.keep_alive = false;
    return true;  // the body, if any, is read and dropped; the answer follows at its end
  }
  x_->req.endpoint = route.endpoint;
  x_->req.chunked = x_->parser.framing().body == BodyFraming::kChunked;
  x_->req.idempotent = IsIdempotentMethod(head.method);  // others: retried only when unsent
  // Nothing goes to the pod yet: llhttp has the last word on the head (OnHeadAccepted).
  return true;
}

void HttpSession::OnHeadAccepted() {
  if (x_->req.error_status || !x_->req.endpoint || closed_) return;
  const ListenerState& l = *x_->req.listener;
  const HttpHead& head = x_->parser.head();
  if (l.config.upstream_protocol == config::UpstreamProtocol::kHttp2) {
    OpenHttp2Stream();
    return;
  }
  SerializeRequestHead(head, x_->parser.framing().body, x_->req.upgrade, &x_->head_buf);
  x_->req.up = worker_->pool->Acquire(*x_->req.endpoint, this,
                                      static_cast<uint64_t>(l.config.timeouts.connect.count()),
                                      /*fresh=*/false, &x_->req.reused);
  x_->req.up->BeginRequest(x_->req.head_method);
  x_->req.retriable = !x_->req.upgrade;
  x_->replay.clear();
  uv_buf_t b = uv_buf_init(x_->head_buf.data(), static_cast<unsigned>(x_->head_buf.size()));
  WriteUpstream(&b, 1);
  LOG_DEBUG("c=%lu event=request method=%s url=%s pod=%s upstream=%lu reused=%d", id(),
            head.method.c_str(), LogQuote(head.url).c_str(), x_->req.endpoint->pod.c_str(),
            x_->req.up ? x_->req.up->id() : 0, x_->req.reused);
}

void HttpSession::WriteUpstream(const uv_buf_t* bufs, unsigned count) {
  if (!x_->req.up) return;
  if (x_->req.retriable) {
    size_t n = 0;
    for (unsigned i = 0; i < count; ++i) n += bufs[i].len;
    if (x_->replay.size() + n > kMaxReplay) {
      x_->req.retriable = false;
      x_->replay.clear();
    } else {
      // Power-of-two steps: a connection's requests of similar size reuse one buffer.
      if (x_->replay.size() + n > x_->replay.capacity())
        x_->replay.reserve(std::bit_ceil(x_->replay.size() + n));
      for (unsigned i = 0; i < count; ++i) x_->replay.append(bufs[i].base, bufs[i].len);
    }
  }
  int rc = x_->req.up->Write(bufs, count);
  if (rc != 0) OnUpstreamError(rc);
}

void HttpSession::OnBody(const char* data, size_t len) {
  if (x_->req.up2 && !x_->req.error_status) {
    x_->h2_body.append(data, len);
    x_->req.up2->ResumeBody(x_->req.up2_stream);
    return;
  }
  if (x_->req.error_status || !x_->req.up) return;  // answered locally: the body is dropped
  if (x_->req.chunked) {
    ChunkFrame chunk(data, len);
    WriteUpstream(chunk.bufs, 3);
  } else {
    uv_buf_t b = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
    WriteUpstream(&b, 1);
  }
}

void HttpSession::OnMessageComplete() {
  x_->req.complete = true;
  if (x_->req.up2) {
    x_->h2_trailers.Clear();  // sent with the stream's end (ReadUpstreamBody)
    for (const HttpHeader& h : x_->parser.trailers().headers()) {
      x_->h2_trailers.AddHeader(h.name, h.value);
    }
    x_->req.up2->ResumeBody(x_->req.up2_stream);
  }
  if (x_->req.up && x_->req.chunked && !x_->req.error_status) {
    // RFC 9112 §7.1.2: the last chunk carries the request's trailer section on.
    SerializeLastChunk(&x_->parser.trailers(), &x_->head_buf);
    uv_buf_t end = uv_buf_init(x_->head_buf.data(), static_cast<unsigned>(x_->head_buf.size()));
    WriteUpstream(&end, 1);
  }
}

void HttpSession::OnRequestComplete() {
  if (x_->req.error_status) {
    AnswerLocally(x_->req.error_status, x_->req.error_reason, x_->req.error_body,
                  /*close=*/!x_->req.keep_alive || x_->req.upgrade);
    return;
  }
  if (state_ != State::kRequest) return;  // already answered (an early response or an error)
  state_ = State::kWaiting;
  x_->req.complete = true;
  if (!x_->req.responded) ArmRequestTimer();
}

void HttpSession::ArmRequestTimer() {
  const uint64_t timeout = static_cast<uint64_t>(x_->req.listener->config.timeouts.request.count());
  request_deadline_ = uv_now(worker_->loop) + timeout;
  // A pending expiry from an earlier request is kept when it is no later than this deadline
  // (OnRequestTimeout then re-arms): most requests end without touching the timer heap.
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&request_timer_)) ||
      uv_timer_get_due_in(&request_timer_) > timeout) {
    uv_timer_start(&request_timer_, &OnRequestTimeout, timeout, 0);
  }
}

void HttpSession::OnRequestTimeout(uv_timer_t* timer) {
  auto* s = static_cast<HttpSession*>(timer->data);
  if (s->request_deadline_ == 0) return;  // no request waits: the timer rests
  const uint64_t now = uv_now(s->worker_->loop);
  if (now < s->request_deadline_) {
    uv_timer_start(timer, &OnRequestTimeout, s->request_deadline_ - now, 0);
    return;
  }
  s->request_deadline_ = 0;
  if (s->closed_ || !s->x_ || s->x_->req.responded || (!s->x_->req.up && !s->x_->req.up2)) return;
  if (s->x_->req.up) s->worker_->pool->Discard(s->x_->req.up, true);
  s->x_->req.up = nullptr;
  s->CancelHttp2Stream();
  LOG_WARN("c=%lu listener=%s event=pod_timeout pod=%s timeout_ms=%" PRId64, s->id(),
           s->metrics_->name.c_str(), s->x_->req.endpoint->pod.c_str(),
           static_cast<int64_t>(s->x_->req.listener->config.timeouts.request.count()));
  s->AnswerLocally(504, metrics::RouteFailure::kUpstreamTimeout,
                   ErrorBody("upstream_timeout", "pod", s->x_->req.endpoint->pod), false);
  s->MaybeRest();
}

void HttpSession::AnswerLocally(int status, metrics::RouteFailure reason, const std::string& body,
                                bool close) {
  metrics_->Failure(reason).Increment();
  if (!x_->req.keep_alive || draining_ || downstream_eof_) close = true;
  std::string wire =
      std::string(x_->req.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) + " " +
      ReasonPhrase(status) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + body;
  // Corked so the request is counted before the client can see the answer (with several
  // workers, a client may read /metrics from another thread at once).
  x_->writer.Cork();
  WriteDownstream(wire);
  x_->req.status = status;
  EndRequest(close);
  UncorkDownstream();
}

void HttpSession::EndRequest(bool close) {
  request_deadline_ = 0;
  assert(x_->req.started_ns != 0);  // every observation has the request's own start
  message_started_ns_ = 0;
  const double seconds = static_cast<double>(uv_hrtime() - x_->req.started_ns) / 1e9;
  metrics_->http_request_duration->Observe(seconds);
  worker_
      ->HttpRequests(*metrics_, x_->req.endpoint ? x_->req.endpoint->metrics : nullptr,
                     x_->req.status)
      .Increment();
  LOG_DEBUG("c=%lu event=response status=%d pod=%s ms=%.3f close=%d", id(), x_->req.status,
            x_->req.endpoint ? x_->req.endpoint->pod.c_str() : "none", seconds * 1e3, close);
  if (x_->req.up) worker_->pool->Discard(x_->req.up, true);
  CancelHttp2Stream();
  x_->req = Request{};
  x_->h2_body.clear();
  x_->h2_body_sent = 0;
  x_->h2_body_replayable = true;
  x_->h2_trailers.Clear();
  // Up to 64 KiB of a large request stays for a retry; an idle connection should not keep it.
  if (x_->replay.capacity() > kKeptReplay) std::string().swap(x_->replay);
  if (close) {
    CloseWhenFlushed();
    return;
  }
  state_ = State::kIdle;
  // Pipelined requests resume at the end of the top-level callback: never inside one of the pod
  // connection's callbacks (which could lease it again from within) nor inside the parser.
  if (in_upstream_callback_) {
    resume_after_callback_ = true;
  } else if (!in_downstream_parse_) {
    ResumeDownstream();
  }
}

void HttpSession::ResumeDownstream() {
  if (!x_->pending.empty()) {
    // Parsed from a local (a nested resume may refill x_->pending), whose storage goes back to
    // x_->pending afterwards: a pipelining client stops allocating once warm.
    std::string bytes = std::move(x_->pending);
    x_->pending.clear();
    ProcessDownstreamBytes(bytes.data(), bytes.size());
    if (x_->pending.empty() && x_->pending.capacity() < bytes.capacity()) {
      bytes.clear();
      x_->pending.swap(bytes);
    }
  }
  if (closed_ || state_ == State::kClosing) return;
  if (state_ == State::kIdle || state_ == State::kRequest) {
    if (downstream_eof_) {
      if (state_ == State::kIdle) CloseWhenFlushed();
      return;
    }
    StartReadingDownstream();
  }
}

void HttpSession::OnDownstreamEof() {
  downstream_eof_ = true;
  StopReadingDownstream();
  switch (state_) {
    case State::kTunnel:
      tunnel_downstream_eof_ = true;
      if (tunnel_upstream_eof_) {
        CloseWhenFlushed();
      } else if (x_->req.up) {
        x_->req.up->ShutdownWrite();
      }
      break;
    case State::kIdle:
      if (x_ && x_->parser.in_message()) {
        Close("client_closed_mid_request", true);
      } else {
        CloseWhenFlushed();
      }
      break;
    case State::kRequest:
      Close("client_closed_mid_request", true);
      break;
    case State::kWaiting:
      // A client that closes while its answer is pending or streaming has given up, as NGINX
      // (499) and Envoy take it: the pod's request is cancelled — its connection closed, or its
      // HTTP/2 stream reset — instead of running until a timeout. (A client that half-closes
      // and still reads cannot be told apart; HTTP/1.1 clients do not do that in practice.) A
      // reset, since the answer is cut (found by the breaker: the pod's work and both
      // connections were held until the request or idle timeout).
      if (x_ && (x_->req.up || x_->req.up2)) {
        LOG_DEBUG("c=%lu event=client_closed pod=%s", id(), x_->req.endpoint->pod.c_str());
        Close("client_closed_waiting", true);
      }
      break;
    case State::kClosing:
      break;  // the response still goes out; then the connection closes
  }
}

void HttpSession::Drain() {
  draining_ = true;
  if (state_ == State::kIdle && !(x_ && x_->parser.in_message())) CloseWhenFlushed();
}

void HttpSession::WriteDownstream(const uv_buf_t* bufs, unsigned count) {
  int rc = x_->writer.Write(bufs, count);
  if (rc != 0) Close("client_write_failed", true);
}

void HttpSession::WriteDownstream(std::string_view data) {
  uv_buf_t b = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
  WriteDownstream(&b, 1);
}

void HttpSession::UncorkDownstream() {
  if (!x_) return;
  if (closed_) {
    x_->writer.DropCorked();
    return;
  }
  if (x_->writer.Uncork() != 0) Close("client_write_failed", true);
}

void HttpSession::OnBelowLowWatermark(StreamWriter*) {
  Touch();
  ConsumeHttp2();
  if (x_->req.up &&
      (state_ == State::kWaiting || state_ == State::kRequest || state_ == State::kTunnel)) {
    x_->req.up->ResumeReading();
  }
}

void HttpSession::OnWriteFlushed(StreamWriter*) {
  Touch();
  if (state_ == State::kClosing) {
    Close("done", false);
    return;
  }
  MaybeRest();
}

void HttpSession::OnWriteError(StreamWriter*, int) { Close("client_write_failed", true); }

void HttpSession::CloseWhenFlushed() {
  state_ = State::kClosing;
  StopReadingDownstream();
  if (!x_) {
    Close("done", false);  // at rest: nothing to send
    return;
  }
  if (x_->writer.Uncork() != 0) {
    Close("client_write_failed", true);
    return;
  }
  if (x_->writer.unsent() == 0) Close("done", false);
}

void HttpSession::OnIdleTimer(uv_timer_t* timer) {
  auto* s = static_cast<HttpSession*>(timer->data);
  uint64_t idle = static_cast<uint64_t>(s->listener_->current->config.timeouts.idle.count());
  uint64_t quiet = uv_now(s->worker_->loop) - s->last_activity_;
  if (quiet >= idle) {
    s->Close("idle_timeout", false);
    return;
  }
  uv_timer_start(&s->idle_timer_, &OnIdleTimer, idle - quiet, 0);
}

void HttpSession::Close(const char* reason, bool reset) {
  if (closed_) return;
  closed_ = true;
  state_ = State::kClosing;
  // Gathered bytes get one try on a graceful close (uv_close cancels queued writes anyway).
  if (x_) {
    if (reset || x_->writer.Uncork() != 0) x_->writer.DropCorked();
    if (x_->req.up) worker_->pool->Discard(x_->req.up, true);
    x_->req.up = nullptr;
    CancelHttp2Stream();
  }
  metrics_->connections_active->Decrement();
  LOG_DEBUG("c=%lu listener=%s event=closed reason=%s", id(), metrics_->name.c_str(), reason);
  if (!reset || uv_tcp_close_reset(&down_, &OnClosed) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&down_), &OnClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&request_timer_), &OnClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_timer_), &OnClosed);
}

void HttpSession::OnClosed(uv_handle_t* handle) {
  auto* s = static_cast<HttpSession*>(handle->data);
  if (s->handles_.Done()) s->worker_->sessions.Remove(s);  // destroys s
}

}  // namespace podrouter
