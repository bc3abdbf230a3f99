// ConfigWatch follows the config file the way Kubernetes updates it: the kubelet writes a mounted
// ConfigMap into a new timestamped directory, then renames a `..data` symlink over the old one, so
// the file's own inode never changes. The watch is therefore on the file's directory (inotify(7),
// read under a uv_poll_t); every event there restarts a short timer, and when it fires the file is
// read and compared with the content last seen. Only events that can complete a change are asked
// for — a file closed after writing, created, deleted or renamed — never each write(2): libuv's
// uv_fs_event asks for IN_MODIFY too, so a busy neighbour (a log file next to the config) woke
// the loop once per write. A change calls `on_change` once, however
// many events one update made (the kubelet's swap makes five or so). Events for other files in the
// directory (a log file, say) are ignored: only the file's own name and the kubelet's `..`-prefixed
// entries count. A config file that links into another directory has that one watched as well.
// A watched directory that is deleted or renamed away is logged and looked for once a second
// until it is back (then the file is compared as after any event). The directory's own entry in
// its parent is watched too (creations, deletions and renames only), so a directory replaced by
// another, or a link to one re-aimed, is followed: the watch moves to what the path now leads
// to. Not followed: directories further up the path.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "base/close_countdown.h"

namespace podrouter {

class ConfigWatch {
 public:
  // Watches the directory holding `path` on `loop`. `debounce_ms`: quiet time after the last event
  // before the file is read. `on_change` runs on `loop` when the content differs from what was
  // there at Start (or at the previous change). Returns nullptr, with *error in the operator's
  // terms, when the directory cannot be watched (the caller keeps running: SIGHUP still works).
  static std::unique_ptr<ConfigWatch> Start(uv_loop_t* loop, const std::string& path,
                                            uint64_t debounce_ms, std::function<void()> on_change,
                                            std::string* error);
  // Records the file's present content as seen, so a reload done for another reason (SIGHUP)
  // is not repeated when the directory settles.
  void Seen();
  // Stops watching; the handles' close callbacks free the watch.
  static void Close(std::unique_ptr<ConfigWatch> watch);

  ConfigWatch(const ConfigWatch&) = delete;
  ConfigWatch& operator=(const ConfigWatch&) = delete;

 private:
  ConfigWatch() = default;
  static void OnReadable(uv_poll_t* poll, int status, int events);
  // One event on watch descriptor `wd` about the entry `filename` (nullptr: unknown, as after
  // an overflow): restarts the timer when it may concern the config file.
  void OnEvent(int wd, const char* filename);
  // The kernel dropped watch `wd` (its directory deleted) or its directory moved away.
  void OnWatchGone(int wd);
  // Watches `directory` (replacing the watch `*wd`, -1 for none); false when it cannot.
  bool Watch(const std::string& directory, int* wd, uint32_t mask);
  // Watches dir_ (again), remembering where it leads; false when it cannot.
  bool WatchDirectory();
  // When the config file is a link into another directory (not the kubelet's `..data` in the same
  // one), that directory is watched too, so an edit of the file itself is seen; re-aimed when the
  // link is.
  void FollowTarget();
  // (Re)starts the timer: OnSettled after `ms` milliseconds.
  void SettleAfter(uint64_t ms);
  void OnSettled();

  std::string path_;
  std::string dir_;          // the file's directory
  std::string dir_real_;     // where dir_ led when watched
  std::string dir_name_;     // dir_'s entry in its parent
  std::string name_;         // the file's name within its directory
  std::string target_dir_;   // the directory the link leads to, when watched; else ""
  std::string target_name_;  // the file's name there
  std::string content_;      // the file as last seen (empty when it could not be read at Start)
  uint64_t debounce_ms_ = 0;
  std::function<void()> on_change_;
  int inotify_fd_ = -1;  // owned; closed in the poll's close callback
  int dir_wd_ = -1;      // dir_, or -1 while it is gone
  int target_wd_ = -1;   // target_dir_, or -1
  int parent_wd_ = -1;   // dir_'s parent, or -1
  uv_poll_t poll_;       // inotify_fd_ readable
  uv_timer_t timer_;
  CloseCountdown handles_{2};
};

}  // namespace podrouter
