// StreamWriter: try_write, then copy the rest and queue it.
#include "dataplane/stream_writer.h"

namespace podrouter {

namespace {

constexpr size_t kGatherBytes = 16 * 1024;  // larger writes are not copied while corked
constexpr unsigned kMaxBufs = 8;

}  // namespace

int StreamWriter::Write(const uv_buf_t* bufs, unsigned count) {
  size_t total = 0;
  for (unsigned i = 0; i < count; ++i) total += bufs[i].len;
  if (total == 0) return 0;
  if (!corked_ || (gathered_.empty() && total > kGatherBytes)) return WriteNow(bufs, count, total);
  if (gathered_.size() + total <= kGatherBytes) {
    for (unsigned i = 0; i < count; ++i) gathered_.append(bufs[i].base, bufs[i].len);
    return 0;
  }
  // The gathered bytes go first, in the same writev.
  uv_buf_t all[kMaxBufs];
  unsigned n = 0;
  all[n++] = uv_buf_init(gathered_.data(), static_cast<unsigned>(gathered_.size()));
  for (unsigned i = 0; i < count && n < kMaxBufs; ++i) all[n++] = bufs[i];
  if (n != count + 1) return UV_E2BIG;  // callers pass at most three buffers
  int rc = WriteNow(all, n, total + gathered_.size());
  gathered_.clear();  // WriteNow copied what the socket did not take
  return rc;
}

int StreamWriter::Uncork() {
  corked_ = false;
  if (gathered_.empty()) return 0;
  uv_buf_t b = uv_buf_init(gathered_.data(), static_cast<unsigned>(gathered_.size()));
  int rc = WriteNow(&b, 1, gathered_.size());
  gathered_.clear();
  return rc;
}

int StreamWriter::WriteNow(const uv_buf_t* bufs, unsigned count, size_t total) {
  int written = uv_try_write(stream_, bufs, count);
  if (written > 0) handed_over_ += static_cast<uint64_t>(written);
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
  w->handed_over_ += req->data.size();
  if (status != 0) {
    if (w->observer_) w->observer_->OnWriteError(w, status);
    return;
  }
  if (w->was_high_ && w->unsent_ <= kLowWatermark) {
    w->was_high_ = false;
    if (w->observer_) w->observer_->OnBelowLowWatermark(w);
  }
  if (w->unsent_ == 0 && w->observer_) w->observer_->OnWriteFlushed(w);
}

}  // namespace podrouter
