// Parsers for the scalar forms the config file uses: durations and addresses.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace podrouter::config {

// "250ms", "2s", "1.5s", "5m". Returns nullopt on anything else.
std::optional<Millis> ParseDuration(std::string_view text);

// "IP:PORT" or "[IPv6]:PORT"; with allow_range also "IP:FIRST-LAST". Sets *error on failure.
std::optional<BindAddress> ParseBindAddress(std::string_view text, bool allow_range,
                                            std::string* error);

// "IP" or "IP:PORT" or "[IPv6]" or "[IPv6]:PORT" → c-ares server form with the port (53 default).
std::optional<std::string> ParseDnsServer(std::string_view text, std::string* error);

// True when `text` is a literal IPv4 (family 4) or IPv6 (family 6) address.
bool IsIpLiteral(const std::string& text, bool ipv6);

}  // namespace podrouter::config
