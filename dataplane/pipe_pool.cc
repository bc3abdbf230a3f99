#include "dataplane/pipe_pool.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace podrouter {

PipePool::~PipePool() { CloseFree(); }

size_t PipePool::MaxFreeForLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 16;
  return std::min<size_t>(16, static_cast<size_t>(limit.rlim_cur / 256));
}

size_t PipePool::CloseFree() {
  size_t n = free_.size();
  for (Pipe& p : free_) {
    ::close(p.read_fd);
    ::close(p.write_fd);
  }
  free_.clear();
  return n;
}

bool PipePool::Get(Pipe* pipe) {
  if (!free_.empty()) {
    *pipe = free_.back();
    free_.pop_back();
    return true;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  // Best effort: an unprivileged user past fs.pipe-user-pages-soft keeps a smaller pipe, which
  // still works, in more splices.
  if (size_ > 0) ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(size_));
  *pipe = Pipe{fds[0], fds[1]};
  return true;
}

void PipePool::Put(Pipe pipe, bool empty) {
  if (pipe.read_fd < 0) return;
  if (empty && free_.size() < max_free_) {
    free_.push_back(pipe);
    return;
  }
  ::close(pipe.read_fd);
  ::close(pipe.write_fd);
}

}  // namespace podrouter
