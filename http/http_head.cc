// HttpHead: lookups and serialisation.
#include "http/http_head.h"

#include <algorithm>

namespace podrouter {
namespace {

// Connection-specific headers (RFC 9110 §7.6.1) plus the framing podrouter rewrites itself.
// Compared by length first: most headers differ in length from all of these.
bool IsFixedHopByHop(std::string_view name) {
  using namespace std::string_view_literals;
  switch (name.size()) {
    case 2:
      return EqualsIgnoreCase(name, "te"sv);
    case 7:
      return EqualsIgnoreCase(name, "trailer"sv) || EqualsIgnoreCase(name, "upgrade"sv);
    case 10:
      return EqualsIgnoreCase(name, "connection"sv) || EqualsIgnoreCase(name, "keep-alive"sv);
    case 16:
      return EqualsIgnoreCase(name, "proxy-connection"sv);
    case 17:
      return EqualsIgnoreCase(name, "transfer-encoding"sv);
    default:
      return false;
  }
}

// True when `name` is one of the comma-separated tokens of a Connection header value (empty list
// elements are no names, RFC 9110 §5.6.1).
bool InTokenList(std::string_view tokens, std::string_view name) {
  while (!tokens.empty()) {
    size_t comma = tokens.find(',');
    std::string_view token = TrimOws(tokens.substr(0, comma));
    if (!token.empty() && EqualsIgnoreCase(token, name)) return true;
    if (comma == std::string_view::npos) break;
    tokens.remove_prefix(comma + 1);
  }
  return false;
}

// A Connection header listing more names than this is sorted rather than scanned per field.
constexpr size_t kFewConnectionNames = 8;

bool LessIgnoreCase(std::string_view a, std::string_view b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return AsciiLower(x) < AsciiLower(y); });
}

void AppendHeaders(const HttpHead& head, BodyFraming framing, std::string* out) {
  using namespace std::string_view_literals;
  const HopByHopFields hop(head);
  const bool drop_length = framing != BodyFraming::kLength && framing != BodyFraming::kNone;
  for (const auto& h : head.headers()) {
    if (hop.Contains(h.name)) continue;
    if (drop_length && EqualsIgnoreCase(h.name, "content-length"sv)) continue;
    out->append(h.name).append(": "sv).append(h.value).append("\r\n"sv);
  }
  if (framing == BodyFraming::kChunked) out->append("Transfer-Encoding: chunked\r\n"sv);
}

void AppendUpgrade(const HttpHead& head, std::string* out) {
  using namespace std::string_view_literals;
  if (const std::string* u = head.Find("upgrade"sv)) {
    out->append("Connection: upgrade\r\nUpgrade: "sv).append(*u).append("\r\n"sv);
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = AsciiLower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool IsIdempotentMethod(std::string_view method) {
  using namespace std::string_view_literals;
  for (std::string_view m : {"GET"sv, "HEAD"sv, "PUT"sv, "DELETE"sv, "OPTIONS"sv, "TRACE"sv}) {
    if (method == m) return true;
  }
  return false;
}

HopByHopFields::HopByHopFields(const HttpHead& section) {
  const std::string* connection = section.Find(std::string_view("connection"));
  if (!connection) return;
  connection_ = *connection;
  if (static_cast<size_t>(std::count(connection_.begin(), connection_.end(), ',')) <
      kFewConnectionNames) {
    return;
  }
  for (std::string_view rest = connection_; !rest.empty();) {
    const size_t comma = rest.find(',');
    if (std::string_view name = TrimOws(rest.substr(0, comma)); !name.empty()) {
      sorted_.push_back(name);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(sorted_.begin(), sorted_.end(), LessIgnoreCase);
}

bool HopByHopFields::Contains(std::string_view name) const {
  if (IsFixedHopByHop(name)) return true;
  if (connection_.empty()) return false;
  if (sorted_.empty()) return InTokenList(connection_, name);
  return std::binary_search(sorted_.begin(), sorted_.end(), name, LessIgnoreCase);
}

bool IsForwardableTrailer(const HopByHopFields& hop, std::string_view name) {
  return !hop.Contains(name) && !EqualsIgnoreCase(name, std::string_view("content-length")) &&
         !EqualsIgnoreCase(name, std::string_view("host"));
}

void SerializeLastChunk(const HttpHead* trailers, std::string* out) {
  out->assign("0\r\n");
  if (trailers) {
    const HopByHopFields hop(*trailers);
    for (const HttpHeader& h : trailers->headers()) {
      if (!IsForwardableTrailer(hop, h.name)) continue;
      out->append(h.name).append(": ").append(h.value).append("\r\n");
    }
  }
  out->append("\r\n");
}

HttpHeader& HttpHead::AddHeader() {
  if (count_ == slots_.size()) slots_.emplace_back();
  HttpHeader& h = slots_[count_++];
  h.name.clear();
  h.value.clear();
  return h;
}

void HttpHead::AddHeader(std::string_view name, std::string_view value) {
  HttpHeader& h = AddHeader();
  h.name = name;
  h.value = value;
}

const std::string* HttpHead::Find(std::string_view name) const {
  for (const auto& h : headers()) {
    if (EqualsIgnoreCase(h.name, name)) return &h.value;
  }
  return nullptr;
}

void HttpHead::Clear() {
  method.clear();
  url.clear();
  status = 0;
  reason.clear();
  major = minor = 1;
  count_ = 0;
}

void PercentDecodeTo(std::string_view text, std::string* out) {
  for (size_t i = 0; i < text.size(); ++i) {
    int hi, lo;
    if (text[i] == '%' && i + 2 < text.size() && (hi = HexValue(text[i + 1])) >= 0 &&
        (lo = HexValue(text[i + 2])) >= 0) {
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      *out += text[i];
    }
  }
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  PercentDecodeTo(text, &out);
  return out;
}

void SerializeRequestHead(const HttpHead& request, BodyFraming framing, bool upgrade,
                          std::string* out) {
  out->clear();
  *out += request.method;
  *out += ' ';
  *out += request.url;
  *out += " HTTP/1.1\r\n";
  AppendHeaders(request, framing, out);
  if (upgrade) AppendUpgrade(request, out);
  *out += "\r\n";
}

void SerializeResponseHead(const HttpHead& response, uint8_t client_minor, BodyFraming framing,
                           bool keep_alive, bool upgrade, std::string* out) {
  out->clear();
  *out += client_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
  *out += std::to_string(response.status);
  *out += ' ';
  *out += response.reason;
  *out += "\r\n";
  AppendHeaders(response, framing, out);
  if (upgrade) {
    AppendUpgrade(response, out);
  } else if (!keep_alive) {
    *out += "Connection: close\r\n";
  } else if (client_minor == 0) {
    *out += "Connection: keep-alive\r\n";
  }
  *out += "\r\n";
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Error";
  }
}

}  // namespace podrouter
