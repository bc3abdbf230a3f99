// Duration and address parsing for the config loader.
#include "config/values.h"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>

namespace podrouter::config {
namespace {

std::optional<uint16_t> ParsePort(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

// Splits "IP[:PORT]" / "[IPv6][:PORT]" into host and port text (port empty when absent).
bool SplitHostPort(std::string_view text, std::string* host, std::string_view* port, bool* v6) {
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    *host = std::string(text.substr(1, close - 1));
    *v6 = true;
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) {
      *port = {};
      return true;
    }
    if (rest.front() != ':') return false;
    *port = rest.substr(1);
    return true;
  }
  *v6 = false;
  size_t colon = text.rfind(':');
  if (colon != std::string_view::npos && text.find(':') != colon) return false;  // bare IPv6
  if (colon == std::string_view::npos) {
    *host = std::string(text);
    *port = {};
  } else {
    *host = std::string(text.substr(0, colon));
    *port = text.substr(colon + 1);
  }
  return true;
}

}  // namespace

std::optional<Millis> ParseDuration(std::string_view text) {
  size_t unit_at = 0;
  while (unit_at < text.size() &&
         ((text[unit_at] >= '0' && text[unit_at] <= '9') || text[unit_at] == '.')) {
    ++unit_at;
  }
  std::string_view number = text.substr(0, unit_at), unit = text.substr(unit_at);
  if (number.empty() || number.front() == '.' || number.back() == '.' ||
      number.find('.') != number.rfind('.')) {
    return std::nullopt;
  }
  double scale;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60000;
  } else {
    return std::nullopt;
  }
  double value = std::stod(std::string(number)) * scale;
  if (!std::isfinite(value) || value > 1e12) return std::nullopt;
  return Millis(static_cast<int64_t>(std::llround(value)));
}

bool IsIpLiteral(const std::string& text, bool ipv6) {
  unsigned char buf[16];
  return inet_pton(ipv6 ? AF_INET6 : AF_INET, text.c_str(), buf) == 1;
}

std::optional<BindAddress> ParseBindAddress(std::string_view text, bool allow_range,
                                            std::string* error) {
  BindAddress out;
  std::string_view port;
  if (!SplitHostPort(text, &out.ip, &port, &out.ipv6) || !IsIpLiteral(out.ip, out.ipv6)) {
    *error = "expected IPv4:PORT or [IPv6]:PORT";
    return std::nullopt;
  }
  if (port.empty()) {
    *error = "missing port";
    return std::nullopt;
  }
  size_t dash = port.find('-');
  if (dash != std::string_view::npos) {
    if (!allow_range) {
      *error = "a port range is not allowed here";
      return std::nullopt;
    }
    auto first = ParsePort(port.substr(0, dash)), last = ParsePort(port.substr(dash + 1));
    if (!first || !last || *last < *first) {
      *error = "expected a port range FIRST-LAST with 1 <= FIRST <= LAST <= 65535";
      return std::nullopt;
    }
    out.port_first = *first;
    out.port_last = *last;
    return out;
  }
  auto single = ParsePort(port);
  if (!single) {
    *error = "expected a port between 1 and 65535";
    return std::nullopt;
  }
  out.port_first = out.port_last = *single;
  return out;
}

std::optional<std::string> ParseDnsServer(std::string_view text, std::string* error) {
  std::string host;
  std::string_view port;
  bool v6 = false;
  if (!SplitHostPort(text, &host, &port, &v6) || !IsIpLiteral(host, v6)) {
    *error = "expected IP, IP:PORT or [IPv6]:PORT";
    return std::nullopt;
  }
  uint16_t number = 53;
  if (!port.empty()) {
    auto parsed = ParsePort(port);
    if (!parsed) {
      *error = "expected a port between 1 and 65535";
      return std::nullopt;
    }
    number = *parsed;
  }
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(number);
}

std::string BindAddress::ToString() const {
  std::string out;
  if (ipv6) out += '[';
  out += ip;
  if (ipv6) out += ']';
  out += ':';
  out += std::to_string(port_first);
  if (port_last != port_first) {
    out += '-';
    out += std::to_string(port_last);
  }
  return out;
}

const char* ToString(Discovery d) {
  switch (d) {
    case Discovery::kSrv:
      return "srv";
    case Discovery::kOrdinals:
      return "ordinals";
    case Discovery::kA:
      return "a";
  }
  return "?";
}

const Service* Config::FindService(const std::string& id) const {
  for (const auto& s : services) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

}  // namespace podrouter::config
