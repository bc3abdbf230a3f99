// HttpParser: llhttp callbacks → HttpHead, body slices and message boundaries.
#include "proxy/http_parser.h"

#include <array>
#include <cstring>
#include <string_view>

namespace podrouter {
namespace {

// RFC 9110 §5.6.2 token characters, as a table: this runs for every header of every message.
constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = 33; c < 127; ++c) t[c] = true;
  for (unsigned char c : std::string_view("\"(),/:;<=>?@[\\]{}")) t[c] = false;
  return t;
}();

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (!kTokenChars[c]) return false;
  }
  return true;
}

// NUL, CR or LF inside a header value: one pass instead of three memchr calls.
bool HasBadValueByte(const char* at, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    char c = at[i];
    if (c == '\0' || c == '\r' || c == '\n') return true;
  }
  return false;
}

}  // namespace

const llhttp_settings_t* HttpParser::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = [](llhttp_t* p) {
      HttpParser* self = Self(p);
      self->head_.Clear();
      self->head_bytes_ = 0;
      self->in_value_ = false;
      self->in_message_ = true;
      self->head_done_ = false;
      return 0;
    };
    s.on_method = [](llhttp_t* p, const char* at, size_t len) {
      Self(p)->head_.method.append(at, len);
      return Self(p)->CountHead(len);
    };
    s.on_url = [](llhttp_t* p, const char* at, size_t len) {
      Self(p)->head_.url.append(at, len);
      return Self(p)->CountHead(len);
    };
    s.on_status = [](llhttp_t* p, const char* at, size_t len) {
      Self(p)->head_.reason.append(at, len);
      return Self(p)->CountHead(len);
    };
    s.on_header_field = [](llhttp_t* p, const char* at, size_t len) {
      HttpParser* self = Self(p);
      if (self->in_value_ || self->head_.headers().empty()) self->head_.AddHeader();
      self->in_value_ = false;
      self->head_.headers().back().name.append(at, len);
      return self->CountHead(len + 4);  // ": " and CRLF
    };
    s.on_header_value = [](llhttp_t* p, const char* at, size_t len) {
      HttpParser* self = Self(p);
      // A value arrives in one span unless a read boundary cuts it; any other second span is an
      // obs-fold continuation line (RFC 9112 §5.2), which llhttp passes through.
      if (self->in_value_ && !(self->value_at_end_ && at == self->feed_begin_)) {
        return self->Fail(400, "obsolete line folding in a header");
      }
      self->value_at_end_ = at + len == self->feed_end_;
      self->in_value_ = true;
      if (HasBadValueByte(at, len)) {
        return self->Fail(400, "invalid character in a header value");
      }
      self->head_.headers().back().value.append(at, len);
      return self->CountHead(len);
    };
    s.on_headers_complete = [](llhttp_t* p) {
      HttpParser* self = Self(p);
      HttpHead& h = self->head_;
      h.major = p->http_major;
      h.minor = p->http_minor;
      h.status = p->status_code;
      self->head_done_ = true;
      if (h.major != 1 || h.minor > 1) return self->Fail(400, "unsupported HTTP version");
      if (p->type == HTTP_REQUEST && h.minor == 0 && (p->flags & F_TRANSFER_ENCODING)) {
        return self->Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      }
      for (const auto& header : h.headers()) {
        if (!IsToken(header.name)) return self->Fail(400, "invalid header name");
      }
      // Trim trailing whitespace llhttp leaves on values (RFC 9110 §5.5 optional whitespace).
      for (auto& header : h.headers()) {
        while (!header.value.empty() &&
               (header.value.back() == ' ' || header.value.back() == '\t')) {
          header.value.pop_back();
        }
      }
      std::string error;
      if (!self->delegate_->OnHead(h, &error)) {
        self->error_status_ = 400;
        self->error_ = error;
        llhttp_set_error_reason(p, "rejected by podrouter");
        return static_cast<int>(HPE_USER);
      }
      if (self->skip_body_) {
        self->skip_body_ = false;
        return 1;  // a response to HEAD: no body whatever the headers say
      }
      return 0;
    };
    s.on_body = [](llhttp_t* p, const char* at, size_t len) {
      Self(p)->delegate_->OnBody(at, len);
      return 0;
    };
    s.on_message_complete = [](llhttp_t* p) {
      HttpParser* self = Self(p);
      self->in_message_ = false;
      self->delegate_->OnMessageComplete();
      return static_cast<int>(HPE_PAUSED);  // one message at a time
    };
    return s;
  }();
  return &settings;
}

HttpParser::HttpParser(Kind kind, Delegate* delegate, size_t max_head_bytes)
    : delegate_(delegate), max_head_bytes_(max_head_bytes) {
  llhttp_init(&parser_, kind == Kind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, Settings());
  parser_.data = this;
}

int HttpParser::CountHead(size_t len) {
  head_bytes_ += len;
  if (head_bytes_ > max_head_bytes_) return Fail(431, "request head too large");
  return 0;
}

int HttpParser::Fail(int status, const char* reason) {
  error_status_ = status;
  error_ = reason;
  llhttp_set_error_reason(&parser_, reason);
  return static_cast<int>(HPE_USER);
}

HttpParser::Result HttpParser::Translate(llhttp_errno_t err, const char* data, size_t len) {
  switch (err) {
    case HPE_OK:
      return {Status::kNeedMore, len};
    case HPE_PAUSED: {
      size_t used = Consumed(data, len);
      llhttp_resume(&parser_);
      return {Status::kMessageComplete, used};
    }
    case HPE_PAUSED_UPGRADE:
      upgraded_ = true;  // llhttp stays paused here: nothing after this is HTTP
      return {Status::kUpgrade, Consumed(data, len)};
    default:
      if (error_status_ == 0) {
        error_status_ = 400;
        error_ = llhttp_get_error_reason(&parser_) ? llhttp_get_error_reason(&parser_)
                                                   : llhttp_errno_name(err);
      }
      return {Status::kError, 0};
  }
}

size_t HttpParser::Consumed(const char* data, size_t len) const {
  const char* pos = llhttp_get_error_pos(&parser_);
  return pos && data && pos >= data && pos <= data + len ? static_cast<size_t>(pos - data) : 0;
}

HttpParser::Result HttpParser::Feed(const char* data, size_t len) {
  if (error_status_) return {Status::kError, 0};
  if (upgraded_) return {Status::kUpgrade, 0};
  feed_begin_ = data;
  feed_end_ = data + len;
  return Translate(llhttp_execute(&parser_, data, len), data, len);
}

HttpParser::Result HttpParser::Finish() {
  if (error_status_) return {Status::kError, 0};
  if (upgraded_) return {Status::kUpgrade, 0};
  llhttp_errno_t err = llhttp_finish(&parser_);
  if (err == HPE_PAUSED) {  // a read-until-close body ended here
    llhttp_resume(&parser_);
    return {Status::kMessageComplete, 0};
  }
  if (err == HPE_OK && in_message_) {
    error_status_ = 400;
    error_ = "connection closed in the middle of a message";
    return {Status::kError, 0};
  }
  return Translate(err, nullptr, 0);
}

}  // namespace podrouter
