// Minimal JSON text helpers for the admin endpoints and error bodies.
#pragma once

#include <string>
#include <string_view>

namespace podrouter {

// A JSON string literal, quotes included, with everything RFC 8259 requires escaped.
std::string JsonString(std::string_view text);

}  // namespace podrouter
