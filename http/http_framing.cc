// Message framing by RFC 9112 §6: the Transfer-Encoding list, Content-Length, and the statuses
// that never carry a body.
#include "http/http_framing.h"

namespace podrouter {
namespace {

using namespace std::string_view_literals;

enum class Codings { kAbsent, kChunked, kUnknown, kMalformed };

// What a head says about its framing, from one pass over its fields: every Transfer-Encoding
// field read as one list (RFC 9110 §5.3), and one Content-Length of 1*DIGIT (RFC 9110 §8.6).
struct FramingFields {
  Codings codings = Codings::kAbsent;
  const char* coding_error = nullptr;
  bool has_length = false;
  bool length_ok = true;
  uint64_t length = 0;
  const char* length_error = nullptr;
};

// One Transfer-Encoding field value, added to what earlier fields said.
void ReadCodings(std::string_view value, FramingFields* f, bool* chunked_last) {
  if (f->codings == Codings::kMalformed) return;
  bool chunked_seen = f->codings == Codings::kChunked || *chunked_last;
  while (true) {
    size_t comma = value.find(',');
    std::string_view coding = TrimOws(value.substr(0, comma));
    if (coding.empty()) {
      f->coding_error = "empty element in Transfer-Encoding";
      f->codings = Codings::kMalformed;
      return;
    }
    if (EqualsIgnoreCase(coding, "chunked"sv)) {
      if (chunked_seen) {
        f->coding_error = "chunked applied twice in Transfer-Encoding";
        f->codings = Codings::kMalformed;
        return;
      }
      chunked_seen = *chunked_last = true;
      if (f->codings == Codings::kAbsent) f->codings = Codings::kChunked;
    } else {
      // A coding may carry parameters (RFC 9112 §7): none that podrouter implements does.
      if (!IsToken(TrimOws(coding.substr(0, coding.find(';'))))) {
        f->coding_error = "invalid transfer coding";
        f->codings = Codings::kMalformed;
        return;
      }
      if (chunked_seen) {
        f->coding_error = "chunked is not the final transfer coding";
        f->codings = Codings::kMalformed;
        return;
      }
      f->coding_error = "transfer coding other than chunked";
      f->codings = Codings::kUnknown;
      *chunked_last = false;
    }
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

void ReadLength(std::string_view value, FramingFields* f) {
  if (f->has_length) {
    f->length_ok = false;
    f->length_error = "more than one Content-Length";
    return;
  }
  f->has_length = true;
  std::string_view digits = TrimOws(value);
  if (digits.empty() || digits.size() > 18) {
    f->length_ok = false;
    f->length_error = digits.empty() ? "empty Content-Length" : "Content-Length too large";
    return;
  }
  for (char c : digits) {
    if (c < '0' || c > '9') {
      f->length_ok = false;
      f->length_error = "Content-Length is not a number";
      return;
    }
    f->length = f->length * 10 + static_cast<uint64_t>(c - '0');
  }
}

FramingFields ReadFramingFields(const HttpHead& head) {
  FramingFields f;
  bool chunked_last = false;
  for (const auto& h : head.headers()) {
    // By length first: most fields are neither of the two.
    if (h.name.size() == 17 && EqualsIgnoreCase(h.name, "transfer-encoding"sv)) {
      ReadCodings(h.value, &f, &chunked_last);
    } else if (h.name.size() == 14 && EqualsIgnoreCase(h.name, "content-length"sv)) {
      ReadLength(h.value, &f);
    }
  }
  return f;
}

MessageFraming Refuse(int status, const char* error) {
  MessageFraming f;
  f.error_status = status;
  f.error = error;
  return f;
}

}  // namespace

MessageFraming RequestFraming(const HttpHead& request) {
  const FramingFields f = ReadFramingFields(request);
  if (f.codings != Codings::kAbsent) {
    if (request.minor == 0) return Refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (f.has_length) return Refuse(400, "both Content-Length and Transfer-Encoding");
    if (f.codings == Codings::kMalformed) return Refuse(400, f.coding_error);
    if (f.codings == Codings::kUnknown) return Refuse(501, f.coding_error);
    return {BodyFraming::kChunked, 0, 0, nullptr};
  }
  if (!f.length_ok) return Refuse(400, f.length_error);
  if (f.has_length) return {BodyFraming::kLength, f.length, 0, nullptr};
  return {BodyFraming::kNone, 0, 0, nullptr};
}

MessageFraming ResponseFraming(const HttpHead& response, bool head_request) {
  const int status = response.status;
  if (head_request || (status >= 100 && status < 200) || status == 204 || status == 304) {
    return {BodyFraming::kNone, 0, 0, nullptr};
  }
  const FramingFields f = ReadFramingFields(response);
  if (f.codings != Codings::kAbsent) {
    if (f.has_length) return Refuse(502, "both Content-Length and Transfer-Encoding");
    if (f.codings != Codings::kChunked) return Refuse(502, f.coding_error);
    return {BodyFraming::kChunked, 0, 0, nullptr};
  }
  if (!f.length_ok) return Refuse(502, f.length_error);
  if (f.has_length) return {BodyFraming::kLength, f.length, 0, nullptr};
  return {BodyFraming::kClose, 0, 0, nullptr};
}

BodyFraming DownstreamFraming(BodyFraming received, int status, uint8_t client_minor) {
  if (status == 101 || received == BodyFraming::kNone) return BodyFraming::kNone;
  if (received == BodyFraming::kLength) return BodyFraming::kLength;
  return client_minor >= 1 ? BodyFraming::kChunked : BodyFraming::kClose;
}

}  // namespace podrouter
