// PipePool: empty non-blocking pipes for splice(2), recycled per worker so that a spliced TCP
// session does not pay pipe2(2) and two closes each time. Linux only (splice is).
#pragma once

#include <cstddef>
#include <vector>

namespace podrouter {

// A pipe's two descriptors; bytes written to `write_fd` are read from `read_fd`.
struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
};

class PipePool {
 public:
  // How many empty pipes a worker keeps: 16, or fewer under a low descriptor limit
  // (RLIMIT_NOFILE / 256, so at most 1/128 of the limit per worker: none below 256).
  static size_t MaxFreeForLimit();

  // `size`: bytes each new pipe is asked to hold (F_SETPIPE_SZ; 0 keeps the kernel's default,
  // 64 KiB). `max_free`: how many empty pipes are kept for reuse; more are closed.
  PipePool(size_t size, size_t max_free) : size_(size), max_free_(max_free) {}
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // An empty pipe, reused or new (O_NONBLOCK, O_CLOEXEC). Returns false with errno set when no
  // pipe can be made (EMFILE, ENFILE: descriptors ran out).
  bool Get(Pipe* pipe);
  // Gives `pipe` back. `empty`: no bytes are left in it; a pipe still holding bytes is closed,
  // never reused.
  void Put(Pipe pipe, bool empty);
  // Closes every pooled pipe (descriptors ran out: connections need them more). Returns how many.
  size_t CloseFree();

 private:
  size_t size_;
  size_t max_free_;
  std::vector<Pipe> free_;
};

}  // namespace podrouter
