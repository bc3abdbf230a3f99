// TcpSession's splice mode: bulk bytes go socket → pipe → socket with splice(2) (Linux), never
// copied through user space. A pipe per direction is the buffer, sized kHighWatermark: its
// source is read only while it is empty, so at most a watermark's worth waits in the kernel per
// direction, and a pipe the destination has not emptied stops the source as the watermark does.
#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "dataplane/tcp_session.h"

namespace podrouter {
namespace {

constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
// More than any pipe holds: one splice moves whatever the pipe takes.
constexpr size_t kSpliceMax = 1 << 20;
// Pipe fills per wake-up per direction, so that one busy connection cannot starve the others.
constexpr int kSplicesPerWake = 4;

int Descriptor(uv_tcp_t* tcp) {
  uv_os_fd_t fd;
  return uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd) == 0 ? fd : -1;
}

}  // namespace

void TcpSession::MaybeSplice() {
  if (!splice_wanted_ || spliced_ || closing_ || !connected_) return;
  // Bytes already in user space go out first, in order; a direction that has ended stays with
  // the relay that ended it.
  if (to_up_.unsent || to_down_.unsent || to_up_.eof || to_down_.eof) return;
  splice_wanted_ = false;
  if (!StartSplice()) return;
  LOG_DEBUG("c=%lu listener=%s event=splice_started pod=%s", id(), listener_name_.c_str(),
            pod_.c_str());
}

bool TcpSession::StartSplice() {
  auto sp = std::make_unique<Spliced>();
  sp->to_up.direction = &to_up_;
  sp->to_down.direction = &to_down_;
  sp->down.fd = Descriptor(&down_);
  sp->up.fd = Descriptor(&up_);
  bool pipes = sp->down.fd >= 0 && sp->up.fd >= 0 && worker_->pipes.Get(&sp->to_up.pipe) &&
               worker_->pipes.Get(&sp->to_down.pipe);
  if (!pipes) {
    // Out of descriptors: the read/write relay goes on as before.
    LOG_DEBUG("c=%lu event=splice_unavailable error=%s", id(), std::strerror(errno));
    worker_->pipes.Put(sp->to_up.pipe, true);
    worker_->pipes.Put(sp->to_down.pipe, true);
    return false;
  }
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&down_));
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&up_));
  spliced_ = std::move(sp);
  for (SpliceSide* side : {&spliced_->down, &spliced_->up}) {
    // uv_poll_init_socket fails for a descriptor the loop still watches, which a stopped
    // uv_tcp_t's is not; should it fail, the session closes.
    if (uv_poll_init_socket(worker_->loop, &side->poll, side->fd) != 0) {
      Close("splice_failed", true);
      return false;
    }
    side->poll.data = this;
    side->polled = true;
    handles_.Add(1);
  }
  WatchSplicedSockets();
  return true;
}

void TcpSession::OnPoll(uv_poll_t* poll, int status, int events) {
  auto* s = static_cast<TcpSession*>(poll->data);
  if (s->closing_) return;
  Spliced& sp = *s->spliced_;
  bool down = poll == &sp.down.poll;
  if (status < 0) {
    s->Close(down ? "client_reset" : "pod_reset", true);
    return;
  }
  // Readable: fill the pipe that this socket feeds. Writable: empty the pipe that feeds it.
  if (events & UV_READABLE) s->Pump(down ? sp.to_up : sp.to_down);
  if (!s->closing_ && (events & UV_WRITABLE)) s->Pump(down ? sp.to_down : sp.to_up);
  if (!s->closing_) s->WatchSplicedSockets();
}

void TcpSession::Pump(SpliceWay& way) {
  Direction& d = *way.direction;
  bool to_pod = &d == &to_up_;
  for (int i = 0; i < kSplicesPerWake; ++i) {
    bool source_dry = false;
    if (way.in_pipe == 0 && !d.eof) {
      ssize_t n =
          ::splice(way.src->fd, nullptr, way.pipe.write_fd, nullptr, kSpliceMax, kSpliceFlags);
      if (n > 0) {
        way.in_pipe = static_cast<size_t>(n);
        if (d.bytes) d.bytes->Increment(static_cast<double>(n));
        last_activity_ = uv_now(worker_->loop);
      } else if (n == 0) {
        d.eof = true;
      } else if (errno == EAGAIN || errno == EINTR) {
        source_dry = true;
      } else {
        LOG_DEBUG("c=%lu event=read_error side=%s error=%s", id(), to_pod ? "client" : "pod",
                  std::strerror(errno));
        Close(to_pod ? "client_reset" : "pod_reset", true);
        return;
      }
    }
    if (way.in_pipe > 0) {
      ssize_t n =
          ::splice(way.pipe.read_fd, nullptr, way.dst->fd, nullptr, way.in_pipe, kSpliceFlags);
      if (n > 0) {
        way.in_pipe -= static_cast<size_t>(n);
        last_activity_ = uv_now(worker_->loop);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        Close(to_pod ? "pod_write_failed" : "client_write_failed", true);
        return;
      }
    }
    if (source_dry || d.eof || way.in_pipe > 0) break;  // wait for the next readiness
  }
  if (d.eof && way.in_pipe == 0 && !d.shutdown_started) {
    // Half-close passes through once everything before the FIN has gone out.
    d.shutdown_started = true;
    if (::shutdown(way.dst->fd, SHUT_WR) != 0) {
      Close("shutdown_failed", false);
      return;
    }
    d.shutdown_done = true;
    if (to_up_.shutdown_done && to_down_.shutdown_done) Close("done", false);
  }
}

void TcpSession::WatchSplicedSockets() {
  Spliced& sp = *spliced_;
  for (SpliceSide* side : {&sp.down, &sp.up}) {
    SpliceWay& out = side == &sp.down ? sp.to_up : sp.to_down;  // this socket is its source
    SpliceWay& in = side == &sp.down ? sp.to_down : sp.to_up;   // this socket is its destination
    int events = 0;
    if (!out.direction->eof && out.in_pipe == 0) events |= UV_READABLE;
    if (in.in_pipe > 0) events |= UV_WRITABLE;
    if (events == side->events) continue;
    side->events = events;
    if (events == 0)
      uv_poll_stop(&side->poll);
    else
      uv_poll_start(&side->poll, events, &TcpSession::OnPoll);
  }
}

void TcpSession::CloseSplice() {
  if (!spliced_) return;
  for (SpliceSide* side : {&spliced_->down, &spliced_->up}) {
    // Unwatched at once (uv_close drops it from epoll); the socket itself closes with its
    // uv_tcp_t, after this.
    if (side->polled) uv_close(reinterpret_cast<uv_handle_t*>(&side->poll), &TcpSession::OnClosed);
  }
  for (SpliceWay* way : {&spliced_->to_up, &spliced_->to_down}) {
    worker_->pipes.Put(way->pipe, way->in_pipe == 0);
    way->pipe = Pipe{};
  }
}

}  // namespace podrouter
