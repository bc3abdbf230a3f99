// ReadRegularFile: fstat the open descriptor (no race between the check and the read), then read.
#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace podrouter {
namespace {

std::string Size(size_t bytes) {
  if (bytes >= (1u << 20)) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 10)) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

bool ReadRegularFile(const std::string& path, size_t max_bytes, std::string* content,
                     std::string* error) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below anyway).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *error = std::string("cannot read: ") + std::strerror(errno);
    return false;
  }
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0;
  if (!ok) {
    *error = std::string("cannot read: ") + std::strerror(errno);
  } else if (S_ISDIR(st.st_mode)) {
    *error = "is a directory, not a file";
    ok = false;
  } else if (!S_ISREG(st.st_mode)) {
    *error = "is not a regular file (a device, pipe or socket)";
    ok = false;
  } else if (static_cast<size_t>(st.st_size) > max_bytes) {
    *error = "is " + std::to_string(st.st_size) + " bytes, more than the " + Size(max_bytes) +
             " it may be";
    ok = false;
  }
  content->clear();
  char buffer[65536];
  while (ok) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::string("cannot read: ") + std::strerror(errno);
      ok = false;
    } else if (content->size() + static_cast<size_t>(n) > max_bytes) {
      *error = "grew past the " + Size(max_bytes) + " it may be while being read";
      ok = false;
    } else {
      content->append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  if (!ok) content->clear();
  return ok;
}

}  // namespace podrouter
