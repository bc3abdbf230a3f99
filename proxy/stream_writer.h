// StreamWriter: writes to one libuv stream. uv_try_write first; whatever the socket does not take
// is copied and queued with uv_write. It counts unsent bytes so the caller can stop reading the
// other side above the high watermark, and tells its observer when the queue drains below the low
// one (or fails).
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <string>

#include "proxy/worker.h"

namespace podrouter {

class StreamWriter {
 public:
  class Observer {
   public:
    virtual ~Observer() = default;
    virtual void OnWriteDrained(StreamWriter* writer) = 0;  // crossed below the low watermark
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

  size_t unsent() const { return unsent_; }
  bool above_high() const { return unsent_ > kHighWatermark; }

 private:
  struct Req {
    uv_write_t req;
    StreamWriter* writer;
    std::string data;
  };
  static void OnWrite(uv_write_t* req, int status);

  uv_stream_t* stream_ = nullptr;
  Observer* observer_ = nullptr;
  size_t unsent_ = 0;
  bool was_high_ = false;
};

}  // namespace podrouter
