// HTTP/2 header lists from HTTP/1.1 heads, and gRPC's header conventions.
#include "http2/h2_headers.h"

#include "base/text.h"

namespace podrouter {
namespace {

using namespace std::string_view_literals;

// Every header a proxy forwards (RFC 9113 §8.2.2): not connection-specific, `te` only as
// "trailers" in a request, and not Host (which became :authority).
void AddForwarded(const HttpHead& head, bool request, H2HeaderList* out) {
  const HopByHopFields hop(head);
  for (const HttpHeader& h : head.headers()) {
    if (EqualsIgnoreCase(h.name, "te"sv)) {
      if (request && EqualsIgnoreCase(TrimOws(h.value), "trailers"sv)) {
        out->Add("te"sv, "trailers"sv);
      }
      continue;
    }
    if (EqualsIgnoreCase(h.name, "host"sv) || hop.Contains(h.name)) continue;
    out->Add(h.name, h.value);
  }
}

}  // namespace

void H2HeaderList::Add(std::string_view name, std::string_view value) {
  const size_t at = arena_.size();
  arena_.append(name).append(value);
  // Names from HTTP/2 peers are lower case already; only HTTP/1.1 ones need the pass.
  for (size_t i = at; i < at + name.size(); ++i) {
    char& c = arena_[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  spans_.push_back(Span{at, name.size(), at + name.size(), value.size()});
}

void H2HeaderList::Clear() {
  arena_.clear();
  spans_.clear();
}

const nghttp2_nv* H2HeaderList::data() {
  nv_.resize(spans_.size());
  auto* base = reinterpret_cast<uint8_t*>(arena_.data());
  for (size_t i = 0; i < spans_.size(); ++i) {
    const Span& s = spans_[i];
    nv_[i] =
        nghttp2_nv{base + s.name, base + s.value, s.name_len, s.value_len, NGHTTP2_NV_FLAG_NONE};
  }
  return nv_.data();
}

void ToH2Request(const HttpHead& request, std::string_view scheme, H2HeaderList* out) {
  out->Clear();
  out->Add(":method"sv, request.method);
  out->Add(":scheme"sv, scheme);
  const std::string* host = request.Find("host"sv);
  out->Add(":authority"sv, host ? std::string_view(*host) : "localhost"sv);
  out->Add(":path"sv, request.url.empty() ? "/"sv : std::string_view(request.url));
  AddForwarded(request, true, out);
}

void ToH2Response(const HttpHead& response, H2HeaderList* out) {
  out->Clear();
  char status[4] = {static_cast<char>('0' + response.status / 100 % 10),
                    static_cast<char>('0' + response.status / 10 % 10),
                    static_cast<char>('0' + response.status % 10), 0};
  out->Add(":status"sv, std::string_view(status, 3));
  AddForwarded(response, false, out);
}

void ToH2Trailers(const HttpHead& trailers, H2HeaderList* out) {
  out->Clear();
  const HopByHopFields hop(trailers);
  for (const HttpHeader& h : trailers.headers()) {
    if (!IsForwardableTrailer(hop, h.name)) continue;
    out->Add(h.name, h.value);
  }
}

size_t H2HeaderListSize(const HttpHead& head) {
  size_t n = 4 * 32 + head.method.size() + head.url.size() + 32;  // pseudo-headers
  for (const HttpHeader& h : head.headers()) n += h.name.size() + h.value.size() + 32;
  return n;
}

bool IsGrpc(const HttpHead& request) {
  const std::string* type = request.Find("content-type"sv);
  if (!type) return false;
  constexpr std::string_view kGrpc = "application/grpc";
  std::string_view t = *type;
  if (t.size() < kGrpc.size() || !EqualsIgnoreCase(t.substr(0, kGrpc.size()), kGrpc)) {
    return false;
  }
  return t.size() == kGrpc.size() || t[kGrpc.size()] == '+' || t[kGrpc.size()] == ';';
}

std::optional<uint64_t> ParseGrpcTimeoutMs(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  uint64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  auto ceil_div = [](uint64_t a, uint64_t b) { return (a + b - 1) / b; };
  switch (value.back()) {
    case 'H':
      return n * 3600 * 1000;
    case 'M':
      return n * 60 * 1000;
    case 'S':
      return n * 1000;
    case 'm':
      return n;
    case 'u':
      return ceil_div(n, 1000);
    case 'n':
      return ceil_div(n, 1000 * 1000);
    default:
      return std::nullopt;
  }
}

void GrpcTrailersOnly(GrpcStatus status, std::string_view message, H2HeaderList* out) {
  out->Clear();
  out->Add(":status"sv, "200"sv);
  out->Add("content-type"sv, "application/grpc"sv);
  int code = static_cast<int>(status);
  char digits[3] = {static_cast<char>('0' + code / 10), static_cast<char>('0' + code % 10), 0};
  out->Add("grpc-status"sv,
           code >= 10 ? std::string_view(digits, 2) : std::string_view(digits + 1, 1));
  out->Add("grpc-message"sv, message);
}

int GrpcStatusOf(const HttpHead& head) {
  const std::string* value = head.Find("grpc-status"sv);
  if (!value || value->empty() || value->size() > 3) return -1;
  int n = 0;
  for (char c : *value) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace podrouter
