// StreamWriter: try_write, then copy the rest and queue it.
#include "proxy/stream_writer.h"

namespace podrouter {

int StreamWriter::Write(const uv_buf_t* bufs, unsigned count) {
  size_t total = 0;
  for (unsigned i = 0; i < count; ++i) total += bufs[i].len;
  if (total == 0) return 0;
  int written = uv_try_write(stream_, bufs, count);
  if (written == static_cast<int>(total)) return 0;
  if (written < 0 && written != UV_EAGAIN) return written;
  size_t skip = written > 0 ? static_cast<size_t>(written) : 0;
  auto req = std::make_unique<Req>();
  req->writer = this;
  req->data.reserve(total - skip);
  for (unsigned i = 0; i < count; ++i) {
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    req->data.append(bufs[i].base + skip, len - skip);
    skip = 0;
  }
  req->req.data = req.get();
  uv_buf_t rest = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  int rc = uv_write(&req->req, stream_, &rest, 1, &StreamWriter::OnWrite);
  if (rc != 0) return rc;
  unsent_ += req->data.size();
  if (unsent_ > kHighWatermark) was_high_ = true;
  req.release();  // libuv owns it until OnWrite
  return 0;
}

void StreamWriter::OnWrite(uv_write_t* raw, int status) {
  std::unique_ptr<Req> req(static_cast<Req*>(raw->data));
  StreamWriter* w = req->writer;
  w->unsent_ -= req->data.size();
  if (status == UV_ECANCELED) return;  // the stream is closing
  if (status != 0) {
    if (w->observer_) w->observer_->OnWriteError(w, status);
    return;
  }
  if (w->was_high_ && w->unsent_ <= kLowWatermark) {
    w->was_high_ = false;
    if (w->observer_) w->observer_->OnWriteDrained(w);
  }
  if (w->unsent_ == 0 && w->observer_) w->observer_->OnWriteFlushed(w);
}

}  // namespace podrouter
