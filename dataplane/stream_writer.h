// StreamWriter: writes to one libuv stream. uv_try_write first; whatever the socket does not take
// is copied and queued with uv_write. It counts unsent bytes so the caller can stop reading the
// other side above the high watermark, and tells its observer when the queue falls below the low
// one (or fails). While corked, small writes are gathered (copied) and leave together, so a
// response head and its body cost one writev rather than one write each.
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>

#include "dataplane/worker_context.h"

namespace podrouter {

class StreamWriter {
 public:
  class Observer {
   public:
    virtual ~Observer() = default;
    virtual void OnBelowLowWatermark(StreamWriter* writer) = 0;  // crossed below the low watermark
    virtual void OnWriteError(StreamWriter* writer, int status) = 0;
    virtual void OnWriteFlushed(StreamWriter*) {}  // nothing left queued
  };

  void Init(uv_stream_t* stream, Observer* observer) {
    stream_ = stream;
    observer_ = observer;
  }
  void set_observer(Observer* observer) { observer_ = observer; }

  // Returns 0 or a libuv error (the stream is then unusable).
  int Write(const uv_buf_t* bufs, unsigned count);
  int Write(std::string_view data) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(data.data()), static_cast<unsigned>(data.size()));
    return Write(&b, 1);
  }

  // Gathers writes until Uncork(); a write that does not fit the gather buffer takes the
  // gathered bytes along in its writev.
  void Cork() { corked_ = true; }
  // Writes what was gathered; returns 0 or a libuv error.
  int Uncork();
  // Forgets what was gathered (the stream is being reset).
  void DropCorked() {
    corked_ = false;
    gathered_.clear();
  }

  size_t unsent() const { return unsent_; }
  // Bytes handed to the kernel so far: taken by a write, or in a queued write that completed,
  // failed or not (a failed write may have sent part of its bytes). Bytes still queued or
  // refused at once are not counted, so 0 proves the peer was sent nothing.
  uint64_t handed_over() const { return handed_over_; }
  bool above_high() const { return unsent_ > kHighWatermark; }
  bool corked() const { return corked_; }

 private:
  struct Req {
    uv_write_t req;
    StreamWriter* writer;
    std::string data;
  };
  static void OnWrite(uv_write_t* req, int status);
  int WriteNow(const uv_buf_t* bufs, unsigned count, size_t total);

  uv_stream_t* stream_ = nullptr;
  Observer* observer_ = nullptr;
  size_t unsent_ = 0;
  uint64_t handed_over_ = 0;
  bool was_high_ = false;
  bool corked_ = false;
  std::string gathered_;  // while corked; its storage is kept between uses
};

}  // namespace podrouter
