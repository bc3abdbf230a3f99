// The shard key a route reads from a request: a header, a query parameter, a cookie or a path
// segment (SPEC "Routing rules").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "http/http_head.h"

namespace podrouter {

// The request's shard key from the configured source; nullopt when absent or empty. Query values
// and path segments are percent-decoded into `scratch`, which the result may point into.
std::optional<std::string_view> ExtractShardKey(const HttpHead& request,
                                                const config::ShardKey& key, std::string* scratch);

}  // namespace podrouter
