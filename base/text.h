// ASCII text helpers for protocol names and values (HTTP fields, DNS labels, config keys):
// case-insensitive comparison, optional-whitespace trimming and the RFC 9110 token test. Inline:
// the HTTP parser calls them for every header of every message.
#pragma once

#include <array>
#include <string_view>

namespace podrouter {

constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII case-insensitive equality (field names, DNS names: RFC 9110 §5.1, RFC 4343).
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// `s` without the optional whitespace (SP, HTAB) around it: RFC 9110 §5.6.3, §5.5.
inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 §5.6.2 token characters, as a table.
inline constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = 33; c < 127; ++c) t[c] = true;
  for (unsigned char c : std::string_view("\"(),/:;<=>?@[\\]{}")) t[c] = false;
  return t;
}();

// RFC 9110 §5.6.2: a non-empty run of tchar (what a field, cookie or coding name is made of).
inline bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!kTokenChars[c]) return false;
  }
  return true;
}

}  // namespace podrouter
