// How an HTTP/1.1 message's body is delimited, decided from its head alone by the rules of
// RFC 9112 §6.1-§6.3 (and RFC 9110 §5.5, §8.6 for field values). The parser checks llhttp's
// reading against this one and refuses a message where they differ, so podrouter never relays a
// body framed one way by itself and another way by the peer it forwards to.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/text.h"
#include "http/http_head.h"

namespace podrouter {

struct MessageFraming {
  BodyFraming body = BodyFraming::kNone;  // kLength, kChunked, kClose (until close) or kNone
  uint64_t length = 0;                    // kLength: the Content-Length
  // 0, or the status the message earns: 400 (malformed framing), 501 (a request's transfer
  // coding podrouter does not implement), 502 (a response podrouter cannot frame).
  int error_status = 0;
  const char* error = nullptr;  // why, in words for the log and the error body
};

// A request (RFC 9112 §6.3 rules 3-7): Transfer-Encoding must be exactly `chunked` (any other
// coding: 501; chunked not last, repeated, or with Content-Length, or in HTTP/1.0: 400);
// otherwise one Content-Length of digits; otherwise no body.
MessageFraming RequestFraming(const HttpHead& request);

// A response to a request whose method was HEAD when `head_request` (RFC 9112 §6.3 rules 1-7):
// HEAD responses, 1xx, 204 and 304 end at the blank line whatever their headers say; then
// chunked, then Content-Length, then until close. A transfer coding other than chunked, or
// anything malformed, is a 502: podrouter will not guess.
MessageFraming ResponseFraming(const HttpHead& response, bool head_request);

// How a response body goes downstream, given how the pod framed it (`received`): as received
// when it has a length or no body; re-framed as chunked for an HTTP/1.1 client when it was
// chunked or delimited by the pod's close; delimited by closing for an HTTP/1.0 client, which
// knows no chunking (RFC 9112 §6.3, §7). A 101's "body" is the tunnel: kNone.
BodyFraming DownstreamFraming(BodyFraming received, int status, uint8_t client_minor);

}  // namespace podrouter
