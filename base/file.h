// Reading a whole file that a person named (a config, a manifest): only a regular file, of bounded
// size, with the reason in the operator's terms when it cannot be read.
#pragma once

#include <cstddef>
#include <string>

namespace podrouter {

// Reads `path` (following symlinks) into *content when it is a regular file of at most
// `max_bytes`. Otherwise returns false with *error saying why, for the caller to put after the
// path: "cannot read: No such file or directory", "is a directory, not a file", "is not a regular
// file (a device, pipe or socket)", "is 83886080 bytes, more than the 1 MiB it may be".
bool ReadRegularFile(const std::string& path, size_t max_bytes, std::string* content,
                     std::string* error);

}  // namespace podrouter
