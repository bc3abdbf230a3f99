// The shard key of a request, from the source its route names (header, query, cookie, path).
#include "routing/shard_key.h"

namespace podrouter {

std::optional<std::string_view> ExtractShardKey(const HttpHead& request,
                                                const config::ShardKey& key, std::string* scratch) {
  using Source = config::ShardKey::Source;
  std::optional<std::string_view> found;
  // Decodes `text` into the scratch buffer (kept between requests: no allocation once warm).
  auto decode = [scratch](std::string_view text) {
    scratch->clear();
    PercentDecodeTo(text, scratch);
    return std::string_view(*scratch);
  };
  switch (key.source) {
    case Source::kHeader:
      if (const std::string* v = request.Find(key.name)) found = TrimOws(*v);
      break;
    case Source::kQuery: {
      size_t q = request.url.find('?');
      if (q == std::string::npos) break;
      std::string_view query = std::string_view(request.url).substr(q + 1);
      query = query.substr(0, query.find('#'));
      while (!query.empty() && !found) {
        size_t amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        size_t eq = pair.find('=');
        if (decode(pair.substr(0, eq)) == key.name) {
          found = eq == std::string_view::npos ? std::string_view() : decode(pair.substr(eq + 1));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
      }
      break;
    }
    case Source::kCookie:
      for (const auto& h : request.headers()) {
        if (found || !EqualsIgnoreCase(h.name, "cookie")) continue;
        std::string_view cookies = h.value;
        while (!cookies.empty() && !found) {
          size_t semi = cookies.find(';');
          std::string_view pair = TrimOws(cookies.substr(0, semi));
          size_t eq = pair.find('=');
          if (eq != std::string_view::npos && pair.substr(0, eq) == key.name) {
            std::string_view value = pair.substr(eq + 1);
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
              value = value.substr(1, value.size() - 2);
            }
            found = value;
          }
          if (semi == std::string_view::npos) break;
          cookies.remove_prefix(semi + 1);
        }
      }
      break;
    case Source::kPathSegment: {
      std::string_view path = request.url;
      path = path.substr(0, path.find_first_of("?#"));
      // Absolute-form targets ("http://host/path") carry their path after the authority.
      if (size_t scheme = path.find("://"); scheme != std::string_view::npos) {
        size_t slash = path.find('/', scheme + 3);
        path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
      }
      if (path.empty() || path.front() != '/') break;
      path.remove_prefix(1);
      for (uint32_t i = 0;; ++i) {
        size_t slash = path.find('/');
        if (i == key.segment) {
          found = decode(path.substr(0, slash));
          break;
        }
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
      }
      break;
    }
  }
  if (found && found->empty()) return std::nullopt;
  return found;
}

}  // namespace podrouter
