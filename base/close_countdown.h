// CloseCountdown: the handles an object still has to see closed. An object that owns several
// libuv handles closes each once; every close callback calls Done(), and the one that returns
// true is the last: it ends the object's lifetime (Node.js's handle_wrap rule).
#pragma once

#include <cassert>

namespace podrouter {

class CloseCountdown {
 public:
  // `handles`: how many handles the object owns (each must be closed exactly once).
  explicit CloseCountdown(int handles) : open_(handles) {}
  // Counts `handles` more, opened after construction.
  void Add(int handles) { open_ += handles; }
  // From a close callback: true when it was the last handle.
  bool Done() {
    assert(open_ > 0);
    return --open_ == 0;
  }

 private:
  int open_;
};

}  // namespace podrouter
