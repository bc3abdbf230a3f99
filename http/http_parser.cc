// HttpParser: llhttp callbacks → HttpHead, body slices and message boundaries.
#include "http/http_parser.h"

#include <cstring>

namespace podrouter {
namespace {

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
      self->head_pending_ = false;
      self->framing_ = MessageFraming{};
      self->trailers_.Clear();
      self->delegate_->OnMessageBegin();
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
      HttpHead& fields = self->fields();
      if (self->in_value_ || fields.headers().empty()) fields.AddHeader();
      self->in_value_ = false;
      fields.headers().back().name.append(at, len);
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
      self->fields().headers().back().value.append(at, len);
      return self->CountHead(len);
    };
    s.on_headers_complete = [](llhttp_t* p) { return Self(p)->HeadComplete(); };
    s.on_body = [](llhttp_t* p, const char* at, size_t len) {
      HttpParser* self = Self(p);
      self->Accept();
      self->delegate_->OnBody(at, len);
      return 0;
    };
    s.on_message_complete = [](llhttp_t* p) {
      HttpParser* self = Self(p);
      if (!self->trailers_.headers().empty()) {
        if (int rc = self->TrailersComplete()) return rc;
      }
      self->Accept();
      self->in_message_ = false;
      self->delegate_->OnMessageComplete();
      return static_cast<int>(HPE_PAUSED);  // one message at a time
    };
    return s;
  }();
  return &settings;
}

int HttpParser::HeadComplete() {
  HttpHead& h = head_;
  h.major = parser_.http_major;
  h.minor = parser_.http_minor;
  h.status = parser_.status_code;
  head_done_ = true;
  if (h.major != 1 || h.minor > 1) return Fail(400, "unsupported HTTP version");
  const bool request = parser_.type == HTTP_REQUEST;
  int hosts = 0;
  in_value_ = false;  // a trailer section, if any, starts with a new field
  head_connection_flags_ = parser_.flags & kConnectionFlags;
  if (!CheckFields(&h)) return Fail(request ? 400 : 502, "invalid header name");
  for (const auto& header : h.headers()) {
    if (header.name.size() == 4 && EqualsIgnoreCase(header.name, "host")) ++hosts;
  }
  if (request) {
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1 (at most one in 1.0), or the pod and the hops
    // after it may each pick another.
    if (hosts > 1) return Fail(400, "more than one Host header");
    if (hosts == 0 && h.minor == 1) return Fail(400, "no Host header in an HTTP/1.1 request");
  } else if (h.status < 100 || h.status > 599) {
    return Fail(502, "status code outside 100-599");  // RFC 9110 §15
  }
  framing_ = request ? RequestFraming(h) : ResponseFraming(h, head_request_);
  head_request_ = false;
  if (framing_.error_status) return Fail(framing_.error_status, framing_.error);
  // llhttp's reading must be the RFC's. It takes `chunked` followed by a tab for another coding:
  // that one difference is settled the RFC's way; any other is refused rather than guessed at.
  const bool no_body_status = !request && framing_.body == BodyFraming::kNone;
  if (framing_.body == BodyFraming::kChunked && !(parser_.flags & F_CHUNKED) &&
      (parser_.flags & F_TRANSFER_ENCODING)) {
    parser_.flags |= F_CHUNKED;
  }
  const bool agrees =
      no_body_status || h.status == 101 ||
      (framing_.body == BodyFraming::kChunked ? (parser_.flags & F_CHUNKED) != 0
       : framing_.body == BodyFraming::kLength
           ? (parser_.flags & F_CONTENT_LENGTH) && parser_.content_length == framing_.length &&
                 !(parser_.flags & F_TRANSFER_ENCODING)
           : !(parser_.flags & (F_CHUNKED | F_CONTENT_LENGTH | F_TRANSFER_ENCODING)));
  if (!agrees) {
    return Fail(request ? 400 : 502, "message framing that podrouter's parser reads differently");
  }
  std::string error;
  if (!delegate_->OnHead(h, &error)) {
    error_status_ = 400;
    error_ = error;
    llhttp_set_error_reason(&parser_, "rejected by podrouter");
    return static_cast<int>(HPE_USER);
  }
  head_pending_ = true;
  // Responses to HEAD, 1xx (101 aside: llhttp hands it over as an upgrade), 204 and 304 end at
  // the blank line whatever their headers say (RFC 9112 §6.3 rule 1).
  return no_body_status && h.status != 101 ? 1 : 0;
}

bool HttpParser::CheckFields(HttpHead* fields) {
  for (auto& field : fields->headers()) {
    if (!IsToken(field.name)) return false;
    // Trim trailing whitespace llhttp leaves on values (RFC 9110 §5.5 optional whitespace).
    while (!field.value.empty() && (field.value.back() == ' ' || field.value.back() == '\t')) {
      field.value.pop_back();
    }
  }
  return true;
}

int HttpParser::TrailersComplete() {
  if (!CheckFields(&trailers_)) {
    return Fail(parser_.type == HTTP_REQUEST ? 400 : 502, "invalid trailer field name");
  }
  // llhttp reads a Connection field in the trailers as if it were in the head. The connection's
  // fate was decided by the head, and said in the answer: a trailer does not change it
  // (RFC 9110 §6.5.1), or a pipelined request after `Connection: close` in a trailer would be
  // dropped by llhttp while the session waits for it.
  parser_.flags = (parser_.flags & ~kConnectionFlags) | head_connection_flags_;
  return 0;
}

void HttpParser::Accept() {
  if (!head_pending_) return;
  head_pending_ = false;
  delegate_->OnHeadAccepted();
}

HttpParser::HttpParser(Kind kind, Delegate* delegate, size_t max_head_bytes)
    : delegate_(delegate), max_head_bytes_(max_head_bytes) {
  llhttp_init(&parser_, kind == Kind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, Settings());
  parser_.data = this;
}

void HttpParser::Rebind(Delegate* delegate, size_t max_head_bytes) {
  llhttp_reset(&parser_);
  delegate_ = delegate;
  max_head_bytes_ = max_head_bytes;
  head_bytes_ = 0;
  in_message_ = head_done_ = head_pending_ = head_request_ = upgraded_ = false;
  error_status_ = 0;
  error_.clear();
}

int HttpParser::CountHead(size_t len) {
  head_bytes_ += len;
  if (head_bytes_ > max_head_bytes_) {
    return Fail(431, head_done_ ? "head and trailer section too large" : "request head too large");
  }
  return 0;
}

int HttpParser::Fail(int status, const char* reason) {
  error_status_ = status;
  error_ = reason;
  llhttp_set_error_reason(&parser_, reason);
  return static_cast<int>(HPE_USER);
}

HttpParser::Result HttpParser::Translate(llhttp_errno_t err, const char* data, size_t len) {
  if (err == HPE_OK || err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) Accept();
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
