// ConfigWatch: a directory watch, a debounce timer and a content comparison.
#include "app/config_watch.h"

#include <limits.h>
#include <stdlib.h>

#include <optional>
#include <string_view>

#include "base/file.h"
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
  uv_fs_event_init(loop, &w->event_);
  uv_fs_event_init(loop, &w->target_event_);
  uv_timer_init(loop, &w->timer_);
  w->event_.data = w->target_event_.data = w->timer_.data = w.get();
  const std::string directory = DirectoryOf(path);
  int rc = uv_fs_event_start(&w->event_, &OnEvent, directory.c_str(), 0);
  if (rc != 0) {
    *error = "cannot watch " + directory + " for config changes: " + uv_strerror(rc);
    Close(std::move(w));
    return nullptr;
  }
  w->FollowTarget();
  return w;
}

void ConfigWatch::OnEvent(uv_fs_event_t* e, const char* filename, int, int) {
  auto* self = static_cast<ConfigWatch*>(e->data);
  const std::string& name = e == &self->event_ ? self->name_ : self->target_name_;
  // Inotify names the entry that changed (none after an overflow: anything may have). The
  // kubelet's entries start with "..".
  if (filename && name != filename && std::string_view(filename).substr(0, 2) != "..") return;
  uv_timer_start(
      &self->timer_, [](uv_timer_t* t) { static_cast<ConfigWatch*>(t->data)->OnSettled(); },
      self->debounce_ms_, 0);
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
  if (!target_dir_.empty()) uv_fs_event_stop(&target_event_);
  target_dir_.clear();
  if (!target_dir.empty() &&
      uv_fs_event_start(&target_event_, &OnEvent, target_dir.c_str(), 0) == 0) {
    target_dir_ = target_dir;
  }
}

void ConfigWatch::Seen() {
  if (std::optional<std::string> now = ReadAll(path_)) content_ = std::move(*now);
}

void ConfigWatch::OnSettled() {
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
    if (self->handles_.Done()) delete self;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&w->event_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->target_event_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->timer_), closed);
}

}  // namespace podrouter
