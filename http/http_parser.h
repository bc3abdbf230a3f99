// HttpParser: llhttp behind a small interface for one side of a connection. It collects each
// message head (capped at max_head_bytes), streams body bytes to its delegate, pauses at the end of
// every message so callers answer pipelined requests one at a time, and refuses anything that
// could be read two ways (request smuggling): both Content-Length and Transfer-Encoding, bad
// chunks, conflicting lengths, NUL or obs-fold in headers, versions other than HTTP/1.0 and 1.1.
// Each message's framing is decided by RFC 9112 §6 (http_framing.h) and llhttp must agree with
// it; where llhttp alone misreads `chunked` followed by whitespace, the RFC's reading is applied.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <string>

#include "http/http_framing.h"
#include "http/http_head.h"

namespace podrouter {

class HttpParser {
 public:
  enum class Kind { kRequest, kResponse };

  class Delegate {
   public:
    virtual ~Delegate() = default;
    // The first byte of a message was read.
    virtual void OnMessageBegin() {}
    // The head is complete and its framing() known. Return false to fail the message with
    // `error` (a 400). Nothing of the message may be forwarded yet: llhttp has not accepted it.
    virtual bool OnHead(HttpHead& head, std::string* error) = 0;
    // llhttp accepted the head (it went on to the body, the message's end or the end of the
    // bytes it was given): from here on the message may be forwarded.
    virtual void OnHeadAccepted() {}
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

  // For another connection, between messages: the parser starts afresh (llhttp_reset keeps the
  // kind and lenient flags) with a new delegate and head limit.
  void Rebind(Delegate* delegate, size_t max_head_bytes);

  Result Feed(const char* data, size_t len);
  // The peer closed: completes a read-until-close body, or reports a truncated message.
  Result Finish();
  // For responses: the request was HEAD, so the next response has no body.
  void ExpectNoBody() { head_request_ = true; }

  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }
  const HttpHead& head() const { return head_; }
  // The trailer section of the chunked message that just ended (RFC 9112 §7.1.2), names checked
  // as tokens and values trimmed like the head's: valid from OnMessageComplete until the next
  // message begins, empty when the message had none. Its bytes count against max_head_bytes
  // together with the head's.
  const HttpHead& trailers() const { return trailers_; }
  bool keep_alive() const { return llhttp_should_keep_alive(&parser_) != 0; }
  // The current message's framing by RFC 9112 §6, once its head is complete.
  const MessageFraming& framing() const { return framing_; }
  bool upgrade() const { return parser_.upgrade != 0; }
  bool in_message() const { return in_message_; }
  bool head_done() const { return head_done_; }
  bool needs_eof() const { return llhttp_message_needs_eof(&parser_) != 0; }

 private:
  static const llhttp_settings_t* Settings();
  static HttpParser* Self(llhttp_t* p) { return static_cast<HttpParser*>(p->data); }
  int CountHead(size_t len);
  // Where header fields go: the head until it is complete, then the trailer section.
  HttpHead& fields() { return head_done_ ? trailers_ : head_; }
  // Checks every name is a token and trims trailing whitespace from values; false on a bad name.
  static bool CheckFields(HttpHead* fields);
  // At the end of a message with trailer fields: 0, or HPE_USER when one is malformed.
  int TrailersComplete();
  int Fail(int status, const char* reason);
  // on_headers_complete: validates the head and settles its framing with llhttp's. Returns what
  // the callback returns (0, 1 for "no body", or HPE_USER).
  int HeadComplete();
  // Tells the delegate the head was accepted, once per message.
  void Accept();
  Result Translate(llhttp_errno_t err, const char* data, size_t len);
  // Bytes of `data` llhttp used before it paused (0 when it paused before this call's data).
  size_t Consumed(const char* data, size_t len) const;

  llhttp_t parser_;
  Delegate* delegate_;
  size_t max_head_bytes_;
  HttpHead head_;
  HttpHead trailers_;
  size_t head_bytes_ = 0;
  bool in_value_ = false;
  bool value_at_end_ = false;  // the last value span ended at the end of its Feed
  const char* feed_begin_ = nullptr;
  const char* feed_end_ = nullptr;
  bool in_message_ = false;
  bool head_done_ = false;
  bool head_pending_ = false;  // OnHead said yes; OnHeadAccepted is still to come
  bool head_request_ = false;  // responses: the request was HEAD
  MessageFraming framing_;
  // llhttp's flags from the head's Connection header, restored after a trailer section.
  static constexpr uint16_t kConnectionFlags =
      F_CONNECTION_KEEP_ALIVE | F_CONNECTION_CLOSE | F_CONNECTION_UPGRADE;
  uint16_t head_connection_flags_ = 0;
  bool upgraded_ = false;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace podrouter
