// HttpParser: llhttp behind a small interface for one side of a connection. It collects each
// message head (capped at max_head_bytes), streams body bytes to its delegate, pauses at the end of
// every message so callers answer pipelined requests one at a time, and refuses anything that
// could be read two ways (request smuggling): both Content-Length and Transfer-Encoding, bad
// chunks, conflicting lengths, NUL or obs-fold in headers, versions other than HTTP/1.0 and 1.1.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <string>

#include "proxy/http_head.h"

namespace podrouter {

class HttpParser {
 public:
  enum class Kind { kRequest, kResponse };

  class Delegate {
   public:
    virtual ~Delegate() = default;
    // The head is complete. Return false to fail the message with `error` (a 400).
    virtual bool OnHead(HttpHead& head, std::string* error) = 0;
    virtual void OnBody(const char* data, size_t len) = 0;
    virtual void OnMessageComplete() = 0;
  };

  enum class Status {
    kNeedMore,         // everything consumed, message not finished
    kMessageComplete,  // stopped right after a message; `consumed` bytes were used
    kUpgrade,          // an upgrade/CONNECT head ended; the rest is not HTTP
    kError,            // malformed: error_status() is 400 or 431
  };
  struct Result {
    Status status;
    size_t consumed;
  };

  HttpParser(Kind kind, Delegate* delegate, size_t max_head_bytes);

  Result Feed(const char* data, size_t len);
  // The peer closed: completes a read-until-close body, or reports a truncated message.
  Result Finish();
  // For responses: the request was HEAD, so the next response has no body.
  void ExpectNoBody() { skip_body_ = true; }

  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }
  const HttpHead& head() const { return head_; }
  bool keep_alive() const { return llhttp_should_keep_alive(&parser_) != 0; }
  bool chunked() const { return (parser_.flags & F_CHUNKED) != 0; }
  bool has_length() const { return (parser_.flags & F_CONTENT_LENGTH) != 0; }
  uint64_t content_length() const { return parser_.content_length; }
  bool upgrade() const { return parser_.upgrade != 0; }
  bool in_message() const { return in_message_; }
  bool head_done() const { return head_done_; }
  bool needs_eof() const { return llhttp_message_needs_eof(&parser_) != 0; }

 private:
  static const llhttp_settings_t* Settings();
  static HttpParser* Self(llhttp_t* p) { return static_cast<HttpParser*>(p->data); }
  int CountHead(size_t len);
  int Fail(int status, const char* reason);
  Result Translate(llhttp_errno_t err, const char* data, size_t len);
  // Bytes of `data` llhttp used before it paused (0 when it paused before this call's data).
  size_t Consumed(const char* data, size_t len) const;

  llhttp_t parser_;
  Delegate* delegate_;
  size_t max_head_bytes_;
  HttpHead head_;
  size_t head_bytes_ = 0;
  bool in_value_ = false;
  bool value_at_end_ = false;  // the last value span ended at the end of its Feed
  const char* feed_begin_ = nullptr;
  const char* feed_end_ = nullptr;
  bool in_message_ = false;
  bool head_done_ = false;
  bool skip_body_ = false;
  bool upgraded_ = false;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace podrouter
