// HttpExchange: what an HTTP/1.x client connection needs only while a request is in flight — the
// parser, the writer to the client, the request's routing and the buffers reused from request to
// request. A connection at rest gives it back to its worker's HttpExchangePool (NGINX frees its
// request pool and pgbouncer its buffers the same way), and takes one again with the next byte it
// reads: a kept-alive connection under load reuses the same few exchanges without allocating,
// and an idle one costs only its socket, timers and flags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/listener_state.h"
#include "dataplane/stream_writer.h"
#include "dataplane/upstream_conn.h"
#include "http/http_parser.h"

namespace podrouter {

class H2UpstreamConn;

struct HttpExchange {
  // Everything about the request in flight.
  struct Request {
    std::shared_ptr<const ListenerState> listener;
    EndpointSnapshot pods;  // keeps `endpoint` alive
    const Endpoint* endpoint = nullptr;
    UpstreamConn* up = nullptr;
    // Or, on a listener with upstream_protocol: http2, a stream to the pod (the request
    // translated; http_session_h2.cc).
    H2UpstreamConn* up2 = nullptr;
    int32_t up2_stream = 0;
    uint64_t started_ns = 0;
    uint8_t minor = 1;
    bool keep_alive = true;    // the client's wish
    bool head_method = false;  // a HEAD request: the response has no body
    bool upgrade = false;
    bool chunked = false;     // the body goes to the pod chunked
    bool complete = false;    // the whole request has been read
    bool reused = false;      // `up` came from the pool
    bool idempotent = false;  // RFC 9110 §9.2.2: may be sent twice
    bool retriable = false;   // replay holds every byte sent to the pod so far
    bool retried = false;
    int error_status = 0;  // set when podrouter answers this request itself
    metrics::RouteFailure error_reason = metrics::RouteFailure::kBadRequest;
    std::string error_body;
    bool responded = false;  // a response head went to the client
    int status = 0;
    BodyFraming framing = BodyFraming::kNone;
  };

  // For the connection `delegate` (also the writer's observer) on `stream`, with heads up to
  // `max_head_bytes`.
  HttpExchange(HttpParser::Delegate* delegate, StreamWriter::Observer* observer,
               uv_stream_t* stream, size_t max_head_bytes)
      : parser(HttpParser::Kind::kRequest, delegate, max_head_bytes) {
    writer.Init(stream, observer);
  }
  // Hands a rested exchange to another connection, as the constructor does; the buffers keep
  // their storage.
  void Rebind(HttpParser::Delegate* delegate, StreamWriter::Observer* observer, uv_stream_t* stream,
              size_t max_head_bytes) {
    parser.Rebind(delegate, max_head_bytes);
    writer.Init(stream, observer);
  }
  // True when nothing of a request is held: no message begun, no bytes waiting, nothing unsent
  // or gathered, no pod leased. Only such an exchange is given back.
  bool at_rest() const {
    return !parser.in_message() && pending.empty() && preface_probe.empty() &&
           writer.unsent() == 0 && !writer.corked() && !req.up && !req.up2;
  }

  HttpParser parser;
  StreamWriter writer;  // to the client
  Request req;
  std::string pending;        // client bytes read beyond the request in flight
  std::string preface_probe;  // the start of an HTTP/2 client preface, held back until complete
  // Buffers reused from request to request, so a kept-alive connection does not allocate.
  std::string head_buf;     // a serialised head on its way out
  std::string replay;       // the request's bytes, for a retry on a stale pooled connection
  std::string key_scratch;  // a percent-decoded shard key
  // HTTP/2 pods: the request body on its way (kept from the start while a retry may need it)
  // and response bytes written to the client but not yet acknowledged to the pod.
  std::string h2_body;
  size_t h2_body_sent = 0;
  size_t h2_unconsumed = 0;
  bool h2_body_replayable = true;
  HttpHead h2_trailers;  // the request's trailer section, sent with the stream's end
};

}  // namespace podrouter
