// Message framing by RFC 9112 §6: the Transfer-Encoding list, Content-Length, and the statuses
// that never carry a body.
#include "proxy/http_framing.h"

#include <array>

namespace podrouter {
namespace {

using namespace std::string_view_literals;

// RFC 9110 §5.6.2 token characters, as a table: this runs for every header of every message.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = 33; c < 127; ++c) t[c] = true;
  for (unsigned char c : std::string_view("\"(),/:;<=>?@[\\]{}")) t[c] = false;
  return t;
}();

// Optional whitespace (RFC 9110 §5.6.3) is SP and HTAB, on either side of a list element.
std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

enum class Codings { kAbsent, kChunked, kUnknown, kMalformed };

// Every Transfer-Encoding field of the head, read as one list (RFC 9110 §5.3).
Codings ReadTransferEncoding(const HttpHead& head, const char** error) {
  bool present = false, chunked_last = false, chunked_seen = false, unknown = false;
  for (const auto& h : head.headers()) {
    if (!EqualsIgnoreCase(h.name, "transfer-encoding"sv)) continue;
    present = true;
    std::string_view rest = h.value;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view coding = TrimOws(rest.substr(0, comma));
      if (coding.empty()) {
        *error = "empty element in Transfer-Encoding";
        return Codings::kMalformed;
      }
      if (EqualsIgnoreCase(coding, "chunked"sv)) {
        if (chunked_seen) {
          *error = "chunked applied twice in Transfer-Encoding";
          return Codings::kMalformed;
        }
        chunked_seen = chunked_last = true;
      } else {
        // A coding may carry parameters (RFC 9112 §7): none that podrouter implements does.
        if (!IsToken(TrimOws(coding.substr(0, coding.find(';'))))) {
          *error = "invalid transfer coding";
          return Codings::kMalformed;
        }
        unknown = true;
        chunked_last = false;
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (!present) return Codings::kAbsent;
  if (unknown) {
    *error = chunked_seen && !chunked_last ? "chunked is not the final transfer coding"
                                           : "transfer coding other than chunked";
    return chunked_seen && !chunked_last ? Codings::kMalformed : Codings::kUnknown;
  }
  return Codings::kChunked;
}

// One Content-Length field of 1*DIGIT (RFC 9110 §8.6); *present is false when there is none.
bool ReadContentLength(const HttpHead& head, bool* present, uint64_t* length, const char** error) {
  *present = false;
  for (const auto& h : head.headers()) {
    if (!EqualsIgnoreCase(h.name, "content-length"sv)) continue;
    if (*present) {
      *error = "more than one Content-Length";
      return false;
    }
    *present = true;
    std::string_view digits = TrimOws(h.value);
    if (digits.empty() || digits.size() > 18) {
      *error = digits.empty() ? "empty Content-Length" : "Content-Length too large";
      return false;
    }
    *length = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') {
        *error = "Content-Length is not a number";
        return false;
      }
      *length = *length * 10 + static_cast<uint64_t>(c - '0');
    }
  }
  return true;
}

MessageFraming Refuse(int status, const char* error) {
  MessageFraming f;
  f.error_status = status;
  f.error = error;
  return f;
}

}  // namespace

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!kTokenChars[c]) return false;
  }
  return true;
}

MessageFraming RequestFraming(const HttpHead& request) {
  const char* error = nullptr;
  const Codings codings = ReadTransferEncoding(request, &error);
  bool has_length = false;
  uint64_t length = 0;
  const bool length_ok = ReadContentLength(request, &has_length, &length, &error);
  if (codings != Codings::kAbsent) {
    if (request.minor == 0) return Refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (has_length) return Refuse(400, "both Content-Length and Transfer-Encoding");
    if (codings == Codings::kMalformed) return Refuse(400, error);
    if (codings == Codings::kUnknown) return Refuse(501, error);
    return {BodyFraming::kChunked, 0, 0, nullptr};
  }
  if (!length_ok) return Refuse(400, error);
  if (has_length) return {BodyFraming::kLength, length, 0, nullptr};
  return {BodyFraming::kNone, 0, 0, nullptr};
}

MessageFraming ResponseFraming(const HttpHead& response, bool head_request) {
  const int status = response.status;
  if (head_request || (status >= 100 && status < 200) || status == 204 || status == 304) {
    return {BodyFraming::kNone, 0, 0, nullptr};
  }
  const char* error = nullptr;
  const Codings codings = ReadTransferEncoding(response, &error);
  bool has_length = false;
  uint64_t length = 0;
  const bool length_ok = ReadContentLength(response, &has_length, &length, &error);
  if (codings != Codings::kAbsent) {
    if (has_length) return Refuse(502, "both Content-Length and Transfer-Encoding");
    if (codings != Codings::kChunked) return Refuse(502, error);
    return {BodyFraming::kChunked, 0, 0, nullptr};
  }
  if (!length_ok) return Refuse(502, error);
  if (has_length) return {BodyFraming::kLength, length, 0, nullptr};
  return {BodyFraming::kClose, 0, 0, nullptr};
}

}  // namespace podrouter
