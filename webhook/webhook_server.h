// `podrouter webhook`: the mutating admission webhook over HTTPS. One libuv loop; TLS by OpenSSL
// through memory BIOs (the loop does the socket I/O), HTTP/1.1 by llhttp, one request per
// connection, answered by inject/admission.h.
//
//   POST /inject            pods that opt in (annotation podrouter.io/inject: enabled)
//   POST /inject-namespace  pods of a namespace that opted in, unless annotated disabled
//   GET  /healthz           200 "ok" (the Deployment's probes)
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "inject/sidecar.h"
#include "webhook/tls_context.h"

namespace podrouter::webhook {

struct WebhookOptions {
  config::BindAddress listen;    // port_first is the port
  std::string cert_file;         // PEM: the serving certificate, then any intermediates
  std::string key_file;          // PEM private key
  config::InjectOptions inject;  // the sidecar's image, default ConfigMap, native form, admin port
};

// Limits: an AdmissionReview body (the Pod, twice at most) of up to 3 MiB, the request head at
// least 16 KiB (431 once 32 KiB were read before it ended), 10 s to send a request, 1,024
// connections at once. Beyond them: 413, 431 or a
// close, and every other connection keeps being served.
inline constexpr size_t kMaxBody = 3 << 20;

class WebhookServer {
 public:
  // Loads the certificate and key, binds `options.listen` on `loop` and serves. On failure returns
  // null with *error in the operator's terms (which file, which address, and why).
  static std::unique_ptr<WebhookServer> Start(uv_loop_t* loop, WebhookOptions options,
                                              std::string* error);
  // Stops listening. With `drain`, open connections finish their request first (each within its
  // 10 s); without, they are closed now. The last close callback frees the server.
  static void Close(std::unique_ptr<WebhookServer> server, bool drain = false);
  // Closes every open connection now (a second signal during a drain). Only while closing.
  void Abort();

  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;
  ~WebhookServer();

  struct Connection;  // one accepted connection, defined in webhook_server.cc

 private:
  WebhookServer() = default;
  static void OnConnection(uv_stream_t* listen, int status);
  void Handle(Connection& c);
  void HandleClosed();

  uv_loop_t* loop_ = nullptr;
  WebhookOptions options_;
  SslContext tls_;
  uv_tcp_t listen_;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  int closing_ = 0;
  uint64_t limit_logged_ms_ = 0;         // loop time the connection limit was last logged
  std::unique_ptr<WebhookServer> self_;  // set while closing
};

}  // namespace podrouter::webhook
