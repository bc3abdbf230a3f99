// Fixed-size read buffers, recycled: a session holds buffers only while bytes are in flight, so an
// idle connection costs none.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace podrouter {

class BufferPool {
 public:
  BufferPool(size_t buffer_size, size_t max_free) : size_(buffer_size), max_free_(max_free) {}

  size_t buffer_size() const { return size_; }

  std::unique_ptr<char[]> Get() {
    if (free_.empty()) return std::make_unique_for_overwrite<char[]>(size_);
    auto buffer = std::move(free_.back());
    free_.pop_back();
    return buffer;
  }

  void Put(std::unique_ptr<char[]> buffer) {
    if (buffer && free_.size() < max_free_) free_.push_back(std::move(buffer));
  }

 private:
  size_t size_;
  size_t max_free_;
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace podrouter
