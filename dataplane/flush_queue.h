// FlushQueue: output that waits for the end of the loop iteration's I/O callbacks. An HTTP/2
// connection asks to be flushed whenever a stream produced frames; the queue's uv_check handle
// (which libuv runs right after the I/O callbacks) flushes each connection once, so the frames of
// every stream that one read produced leave in one write. What timer callbacks schedule (they run
// before the poll) is flushed by a uv_idle handle before the poll, which it keeps from blocking.
#pragma once

#include <uv.h>

#include <algorithm>
#include <vector>

namespace podrouter {

class FlushQueue {
 public:
  class Flushable {
   public:
    virtual void Flush() = 0;

   protected:
    ~Flushable() = default;

   private:
    friend class FlushQueue;
    bool queued_ = false;
  };

  // The queue's handle is owned here: Init once on the loop's thread, Close before the loop ends.
  void Init(uv_loop_t* loop) {
    uv_check_init(loop, &check_);
    uv_idle_init(loop, &idle_);
    check_.data = idle_.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
    uv_unref(reinterpret_cast<uv_handle_t*>(&idle_));
  }
  void Close() {
    due_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&idle_), nullptr);
  }

  // `f` is flushed at the end of this loop iteration's I/O callbacks (or by Run()).
  void Schedule(Flushable* f) {
    if (f->queued_) return;
    f->queued_ = true;
    due_.push_back(f);
    if (due_.size() == 1) {
      uv_check_start(&check_, [](uv_check_t* h) { static_cast<FlushQueue*>(h->data)->Run(); });
      uv_idle_start(&idle_, [](uv_idle_t* h) { static_cast<FlushQueue*>(h->data)->Run(); });
    }
  }
  // `f` is going away: it is not flushed.
  void Cancel(Flushable* f) {
    if (!f->queued_) return;
    f->queued_ = false;
    due_.erase(std::remove(due_.begin(), due_.end(), f), due_.end());
    std::replace(running_.begin(), running_.end(), f, static_cast<Flushable*>(nullptr));
  }
  // Flushes everything due, also what flushing makes due.
  void Run() {
    while (!due_.empty()) {
      running_.swap(due_);
      for (size_t i = 0; i < running_.size(); ++i) {
        Flushable* f = running_[i];
        if (!f) continue;
        f->queued_ = false;
        f->Flush();
      }
      running_.clear();
    }
    uv_check_stop(&check_);
    uv_idle_stop(&idle_);
  }

 private:
  uv_check_t check_;
  uv_idle_t idle_;
  std::vector<Flushable*> due_;
  std::vector<Flushable*> running_;
};

}  // namespace podrouter
