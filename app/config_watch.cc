// ConfigWatch: a directory watch (inotify), a debounce timer and a content comparison.
#include "app/config_watch.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <optional>
#include <string_view>

#include "base/file.h"
#include "base/log.h"
#include "config/loader.h"

namespace podrouter {
namespace {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The file's content, or nothing when it cannot be read as a config (missing mid-swap, not a
// regular file, too large: the reload that follows, if any, says which).
std::optional<std::string> ReadAll(const std::string& path) {
  std::string content, error;
  if (!ReadRegularFile(path, config::kMaxConfigBytes, &content, &error)) return std::nullopt;
  return content;
}

// What can complete a change of an entry in a watched directory (inotify(7)): a write ending in
// close, an entry created, deleted or renamed (the kubelet's `..data` swap), the directory itself
// gone. IN_MODIFY, one event per write(2), is left out on purpose.
constexpr uint32_t kWatchMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

// In the directory's parent, only what can replace the directory's own entry.
constexpr uint32_t kParentMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR;

// How often a config directory that went away is looked for.
constexpr uint64_t kLostDirectoryRetryMs = 1000;

}  // namespace

std::unique_ptr<ConfigWatch> ConfigWatch::Start(uv_loop_t* loop, const std::string& path,
                                                uint64_t debounce_ms,
                                                std::function<void()> on_change,
                                                std::string* error) {
  std::unique_ptr<ConfigWatch> w(new ConfigWatch());
  w->path_ = path;
  w->name_ = path.substr(path.rfind('/') + 1);  // npos + 1 == 0: the whole path
  w->content_ = ReadAll(path).value_or("");
  w->debounce_ms_ = debounce_ms;
  w->on_change_ = std::move(on_change);
  w->dir_ = DirectoryOf(path);
  w->inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->inotify_fd_ < 0 || !w->WatchDirectory()) {
    *error = "cannot watch " + w->dir_ + " for config changes: " + strerror(errno);
    if (w->inotify_fd_ >= 0) ::close(w->inotify_fd_);
    return nullptr;
  }
  uv_poll_init(loop, &w->poll_, w->inotify_fd_);
  uv_timer_init(loop, &w->timer_);
  w->poll_.data = w->timer_.data = w.get();
  uv_poll_start(&w->poll_, UV_READABLE, &OnReadable);
  // The directory's entry in its parent ("/" has none; failing to watch it costs only that).
  if (const size_t slash = w->dir_.rfind('/'); w->dir_ != "/" && w->dir_ != ".") {
    w->dir_name_ = w->dir_.substr(slash == std::string::npos ? 0 : slash + 1);
    w->Watch(DirectoryOf(w->dir_), &w->parent_wd_, kParentMask);
  }
  w->FollowTarget();
  return w;
}

bool ConfigWatch::Watch(const std::string& directory, int* wd, uint32_t mask) {
  if (*wd >= 0) inotify_rm_watch(inotify_fd_, *wd);
  *wd = directory.empty() ? -1 : inotify_add_watch(inotify_fd_, directory.c_str(), mask);
  return *wd >= 0;
}

bool ConfigWatch::WatchDirectory() {
  char real[PATH_MAX];
  dir_real_ = ::realpath(dir_.c_str(), real) ? real : "";
  return Watch(dir_, &dir_wd_, kWatchMask);
}

void ConfigWatch::OnReadable(uv_poll_t* poll, int status, int) {
  auto* self = static_cast<ConfigWatch*>(poll->data);
  if (status < 0) return;
  alignas(inotify_event) char buf[4096];
  ssize_t n;
  while ((n = ::read(self->inotify_fd_, buf, sizeof(buf))) > 0) {
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      if (e->mask & (IN_IGNORED | IN_MOVE_SELF)) self->OnWatchGone(e->wd);
      self->OnEvent(e->wd, e->mask & IN_Q_OVERFLOW ? nullptr : e->len ? e->name : "");
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
}

void ConfigWatch::OnWatchGone(int wd) {
  if (wd < 0 || (wd != dir_wd_ && wd != target_wd_)) return;  // a watch replaced earlier
  // A directory renamed away keeps its watch (on the inode): dropped, so the path is watched.
  inotify_rm_watch(inotify_fd_, wd);
  if (wd == target_wd_) {
    target_wd_ = -1;
    target_dir_.clear();  // OnSettled follows the link again
    return;
  }
  dir_wd_ = -1;
  LOG_WARN(
      "event=config_watch_lost dir=%s note=\"the config directory went away; edits are "
      "followed again when it is back, SIGHUP reloads meanwhile\"",
      dir_.c_str());
}

void ConfigWatch::OnEvent(int wd, const char* filename) {
  if (wd == parent_wd_) {  // only the directory's own entry counts there
    if (!filename || dir_name_ == filename) SettleAfter(debounce_ms_);
    return;
  }
  const std::string& name = wd == target_wd_ ? target_name_ : name_;
  // Inotify names the entry that changed ("" for the directory itself, nothing after an
  // overflow: anything may have). The kubelet's entries start with "..".
  if (filename && *filename && name != filename && std::string_view(filename).substr(0, 2) != "..")
    return;
  SettleAfter(debounce_ms_);
}

void ConfigWatch::SettleAfter(uint64_t ms) {
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<ConfigWatch*>(t->data)->OnSettled(); }, ms, 0);
}

void ConfigWatch::FollowTarget() {
  char real[PATH_MAX], real_dir[PATH_MAX];
  std::string target_dir;
  if (::realpath(path_.c_str(), real) && ::realpath(DirectoryOf(path_).c_str(), real_dir) &&
      DirectoryOf(real) != real_dir) {
    target_dir = DirectoryOf(real);
  }
  if (!target_dir.empty())
    target_name_ = std::string(real).substr(std::string(real).rfind('/') + 1);
  if (target_dir == target_dir_) return;
  target_dir_ = Watch(target_dir, &target_wd_, kWatchMask) ? target_dir : "";
}

void ConfigWatch::Seen() {
  if (std::optional<std::string> now = ReadAll(path_)) content_ = std::move(*now);
}

void ConfigWatch::OnSettled() {
  char real[PATH_MAX];
  if (dir_wd_ < 0) {
    if (!WatchDirectory()) {
      SettleAfter(kLostDirectoryRetryMs);
      return;
    }
    LOG_INFO("event=config_watch_resumed dir=%s", dir_.c_str());
  } else if (::realpath(dir_.c_str(), real) && dir_real_ != real) {
    // The path leads elsewhere now (a directory replaced, a link re-aimed): the watch follows.
    if (!WatchDirectory()) {
      SettleAfter(kLostDirectoryRetryMs);
      return;
    }
    LOG_INFO("event=config_watch_moved dir=%s to=%s", dir_.c_str(), dir_real_.c_str());
  }
  FollowTarget();  // the link may point elsewhere now
  std::optional<std::string> now = ReadAll(path_);
  // A file caught mid-swap (a dangling link) is not a change: the swap's next event settles it.
  if (!now || *now == content_) return;
  content_ = std::move(*now);
  on_change_();
}

void ConfigWatch::Close(std::unique_ptr<ConfigWatch> watch) {
  ConfigWatch* w = watch.release();
  auto closed = [](uv_handle_t* h) {
    auto* self = static_cast<ConfigWatch*>(h->data);
    if (!self->handles_.Done()) return;
    ::close(self->inotify_fd_);  // the poll has stopped watching it
    delete self;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->timer_), closed);
}

}  // namespace podrouter
