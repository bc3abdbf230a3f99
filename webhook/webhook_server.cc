// WebhookServer: accept, TLS through memory BIOs, one HTTP/1.1 request, one answer, close.
#include "webhook/webhook_server.h"

#include <llhttp.h>
#include <openssl/bio.h>

#include <cstring>

#include "base/close_countdown.h"
#include "base/log.h"
#include "http/http_head.h"
#include "inject/admission.h"

namespace podrouter::webhook {
namespace {

constexpr size_t kMaxHead = 32 << 10;  // counted by reads, so one read (16 KiB) of slack
constexpr uint64_t kRequestTimeoutMs = 10'000;
constexpr size_t kMaxConnections = 1024;

}  // namespace

struct WebhookServer::Connection {
  WebhookServer* server = nullptr;
  uv_tcp_t tcp;
  uv_timer_t timer;
  CloseCountdown handles{2};
  SSL* ssl = nullptr;  // owns both BIOs
  BIO* in = nullptr;   // ciphertext read from the socket, for OpenSSL
  BIO* out = nullptr;  // ciphertext OpenSSL wrote, for the socket
  llhttp_t parser;
  std::string url;
  std::string body;
  size_t head_bytes = 0;  // read before the head was complete
  bool head_done = false;
  int limit_status = 0;  // 413 or 431 once a limit was passed
  bool complete = false;
  bool answered = false;  // the response is written; the connection closes once it is out
  bool linger = false;    // answered before the whole request was read: read on, and discard
  bool finishing = false;
  bool closing = false;
  uv_shutdown_t shutdown_req;
  bool counted_for_drain = false;  // open when a drain began; the server waits for it
  int writes = 0;

  ~Connection() {
    if (ssl) SSL_free(ssl);
  }
  void Close();
  // The answer is out: close, or (lingering) send FIN and read on until the client closes.
  void Finish();
  void Flush();
  void OnCiphertext(const char* data, size_t size);
  void Respond(int status, const std::string& content_type, const std::string& body);
  // An answer to a request that may not have been read to its end (413, 431, malformed): the
  // connection lingers, so closing with unread bytes does not reset it before the client has
  // read the answer (RFC 9112 §9.6).
  void RespondError(int status, const std::string& reason) {
    config::AdmissionAnswer a = config::AdmissionError(status, reason);
    linger = !complete;
    Respond(a.status, "application/json", a.body);
  }
};

namespace {

llhttp_settings_t* Settings() {
  static llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_url = [](llhttp_t* p, const char* at, size_t len) {
      auto* c = static_cast<WebhookServer::Connection*>(p->data);
      c->url.append(at, len);
      return 0;
    };
    s.on_headers_complete = [](llhttp_t* p) {
      auto* c = static_cast<WebhookServer::Connection*>(p->data);
      c->head_done = true;
      if ((p->flags & F_CONTENT_LENGTH) && p->content_length > kMaxBody) {
        c->limit_status = 413;  // refused before a byte of the body is read
        return -1;
      }
      return 0;
    };
    s.on_body = [](llhttp_t* p, const char* at, size_t len) {
      auto* c = static_cast<WebhookServer::Connection*>(p->data);
      if (c->body.size() + len > kMaxBody) {
        c->limit_status = 413;  // a chunked body that grew too large
        return -1;
      }
      c->body.append(at, len);
      return 0;
    };
    s.on_message_complete = [](llhttp_t* p) {
      static_cast<WebhookServer::Connection*>(p->data)->complete = true;
      return static_cast<int>(HPE_PAUSED);
    };
    return s;
  }();
  return &settings;
}

}  // namespace

void WebhookServer::Connection::Close() {
  if (closing) return;
  closing = true;
  if (!counted_for_drain) ++server->closing_;  // a draining server counted it already
  auto closed = [](uv_handle_t* h) {
    auto* c = static_cast<Connection*>(h->data);
    if (!c->handles.Done()) return;
    WebhookServer* s = c->server;
    s->connections_.erase(c);  // ends the connection
    s->HandleClosed();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), closed);
}

void WebhookServer::Connection::Flush() {
  while (!closing && BIO_ctrl_pending(out) > 0) {
    struct Write {
      uv_write_t req;
      std::string bytes;
      Connection* c;
    };
    auto* w = new Write{{}, std::string(BIO_ctrl_pending(out), '\0'), this};
    const int n = BIO_read(out, w->bytes.data(), static_cast<int>(w->bytes.size()));
    if (n <= 0) {
      delete w;
      return;
    }
    w->bytes.resize(static_cast<size_t>(n));
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
    ++writes;
    const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp), &buf, 1,
                            [](uv_write_t* req, int status) {
                              auto* w = static_cast<Write*>(req->data);
                              Connection* c = w->c;
                              delete w;
                              --c->writes;
                              if (status < 0) {
                                c->Close();
                              } else if (c->answered && c->writes == 0) {
                                c->Finish();
                              }
                            });
    if (rc != 0) {
      --writes;
      delete w;
      Close();
      return;
    }
  }
}

void WebhookServer::Connection::Respond(int status, const std::string& content_type,
                                        const std::string& payload) {
  answered = true;
  if (!linger) uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
  const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) +
                               "\r\nContent-Type: " + content_type +
                               "\r\nContent-Length: " + std::to_string(payload.size()) +
                               "\r\nConnection: close\r\n\r\n" + payload;
  if (SSL_write(ssl, response.data(), static_cast<int>(response.size())) <= 0) {
    LOG_DEBUG("event=webhook_tls_write_failed error=\"%s\"", TlsError().c_str());
  }
  SSL_shutdown(ssl);  // close_notify, after the response
  Flush();
  if (writes == 0) Finish();
}

void WebhookServer::Connection::Finish() {
  if (finishing || closing) return;
  finishing = true;
  if (!linger) return Close();
  // The request timer (10 s from accept) still bounds how long the client may keep sending.
  shutdown_req.data = this;
  if (uv_shutdown(&shutdown_req, reinterpret_cast<uv_stream_t*>(&tcp),
                  [](uv_shutdown_t*, int) {}) != 0) {
    Close();
  }
}

void WebhookServer::Connection::OnCiphertext(const char* data, size_t size) {
  BIO_write(in, data, static_cast<int>(size));
  if (!SSL_is_init_finished(ssl)) {
    const int rc = SSL_do_handshake(ssl);
    if (rc != 1) {
      const int e = SSL_get_error(ssl, rc);
      Flush();  // the handshake's next flight, or an alert
      if (e == SSL_ERROR_WANT_READ) return;
      LOG_INFO("event=webhook_tls_handshake_failed error=\"%s\"", TlsError().c_str());
      answered = true;
      if (writes == 0) Close();
      return;
    }
  }
  char plain[16384];
  while (!answered && !closing) {
    const int n = SSL_read(ssl, plain, sizeof(plain));
    if (n <= 0) {
      const int e = SSL_get_error(ssl, n);
      if (e != SSL_ERROR_WANT_READ) {
        if (e != SSL_ERROR_ZERO_RETURN) {
          LOG_DEBUG("event=webhook_tls_read_failed error=\"%s\"", TlsError().c_str());
        }
        Close();
        return;
      }
      break;
    }
    if (!head_done) head_bytes += static_cast<size_t>(n);
    if (head_bytes > kMaxHead) limit_status = 431;
    const llhttp_errno_t err = limit_status ? HPE_USER : llhttp_execute(&parser, plain, n);
    if (err == HPE_PAUSED && complete) {
      server->Handle(*this);
    } else if (limit_status == 413) {
      RespondError(413,
                   "the request body is larger than " + std::to_string(kMaxBody >> 20) + " MiB");
    } else if (limit_status == 431 || err != HPE_OK) {
      RespondError(limit_status ? 431 : 400, limit_status ? "the request head is too large"
                                                          : std::string("malformed HTTP: ") +
                                                                llhttp_get_error_reason(&parser));
    }
  }
  Flush();
}

std::unique_ptr<WebhookServer> WebhookServer::Start(uv_loop_t* loop, WebhookOptions options,
                                                    std::string* error) {
  std::unique_ptr<WebhookServer> s(new WebhookServer());
  s->loop_ = loop;
  s->tls_ = LoadTlsContext(options.cert_file, options.key_file, error);
  if (!s->tls_) return nullptr;
  s->options_ = std::move(options);
  const config::BindAddress& bind = s->options_.listen;
  sockaddr_storage addr{};
  int rc =
      bind.ipv6
          ? uv_ip6_addr(bind.ip.c_str(), bind.port_first, reinterpret_cast<sockaddr_in6*>(&addr))
          : uv_ip4_addr(bind.ip.c_str(), bind.port_first, reinterpret_cast<sockaddr_in*>(&addr));
  uv_tcp_init(loop, &s->listen_);
  s->listen_.data = s.get();
  if (rc == 0) rc = uv_tcp_bind(&s->listen_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->listen_), 128, &OnConnection);
  if (rc != 0) {
    *error = "cannot listen on " + bind.ToString() + ": " + uv_strerror(rc);
    Close(std::move(s));
    return nullptr;
  }
  LOG_INFO("event=webhook_listening bind=%s image=%s config_map=%s", bind.ToString().c_str(),
           s->options_.inject.image.c_str(), s->options_.inject.config_map.c_str());
  return s;
}

WebhookServer::~WebhookServer() = default;

void WebhookServer::Close(std::unique_ptr<WebhookServer> server, bool drain) {
  WebhookServer* s = server.get();
  s->self_ = std::move(server);
  ++s->closing_;  // held until every close below is issued
  ++s->closing_;
  uv_close(reinterpret_cast<uv_handle_t*>(&s->listen_),
           [](uv_handle_t* h) { static_cast<WebhookServer*>(h->data)->HandleClosed(); });
  // Draining, each open connection ends as it would have (its answer, or its 10 s timer), and
  // holds one count of closing_ until then.
  std::vector<Connection*> open;
  for (auto& [raw, c] : s->connections_) open.push_back(raw);
  for (Connection* c : open) {
    if (drain && !c->closing) {
      c->counted_for_drain = true;
      ++s->closing_;
    } else {
      c->Close();
    }
  }
  s->HandleClosed();
}

void WebhookServer::Abort() {
  std::vector<Connection*> open;
  for (auto& [raw, c] : connections_) open.push_back(raw);
  for (Connection* c : open) c->Close();
}

void WebhookServer::HandleClosed() {
  if (--closing_ == 0 && self_) auto self = std::move(self_);  // the server ends here
}

void WebhookServer::OnConnection(uv_stream_t* listen, int status) {
  auto* s = static_cast<WebhookServer*>(listen->data);
  if (status < 0 || s->self_) return;
  auto owned = std::make_unique<Connection>();
  Connection* c = owned.get();
  c->server = s;
  uv_tcp_init(s->loop_, &c->tcp);
  uv_timer_init(s->loop_, &c->timer);
  c->tcp.data = c->timer.data = c;
  s->connections_.emplace(c, std::move(owned));
  if (uv_accept(listen, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    c->Close();
    return;
  }
  if (s->connections_.size() > kMaxConnections) {
    const uint64_t now = uv_now(s->loop_);
    if (s->limit_logged_ms_ == 0 || now - s->limit_logged_ms_ >= 10'000) {
      s->limit_logged_ms_ = now;  // once per 10 s: a flood is one line, not thousands
      LOG_WARN(
          "event=webhook_connection_limit limit=%zu note=\"new connections are closed "
          "until open ones finish (each has at most 10 s)\"",
          kMaxConnections);
    }
    c->Close();
    return;
  }
  c->ssl = SSL_new(s->tls_.get());
  c->in = BIO_new(BIO_s_mem());
  c->out = BIO_new(BIO_s_mem());
  if (!c->ssl || !c->in || !c->out) {
    BIO_free(c->in);  // not yet the SSL's (null is fine)
    BIO_free(c->out);
    LOG_ERROR("event=webhook_tls_failed error=\"%s\"", TlsError().c_str());
    c->Close();
    return;
  }
  SSL_set_bio(c->ssl, c->in, c->out);
  SSL_set_accept_state(c->ssl);
  llhttp_init(&c->parser, HTTP_REQUEST, Settings());
  c->parser.data = c;
  uv_timer_start(
      &c->timer,
      [](uv_timer_t* t) {
        auto* conn = static_cast<Connection*>(t->data);
        LOG_INFO("event=webhook_request_timeout note=\"no complete request within %llus\"",
                 static_cast<unsigned long long>(kRequestTimeoutMs / 1000));
        conn->Close();
      },
      kRequestTimeoutMs, 0);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static char scratch[65536];
        *buf = uv_buf_init(scratch, sizeof(scratch));
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* conn = static_cast<Connection*>(stream->data);
        if (conn->closing) return;
        if (nread < 0) {
          conn->Close();
          return;
        }
        if (conn->answered) return;  // lingering after an early answer: discarded
        conn->OnCiphertext(buf->base, static_cast<size_t>(nread));
      });
}

void WebhookServer::Handle(Connection& c) {
  const std::string method = llhttp_method_name(static_cast<llhttp_method_t>(c.parser.method));
  const std::string path = c.url.substr(0, c.url.find('?'));
  if (path == "/healthz") {
    if (method != "GET") return c.RespondError(405, "/healthz takes GET");
    return c.Respond(200, "text/plain; charset=utf-8", "ok\n");
  }
  if (path != "/inject" && path != "/inject-namespace") {
    return c.RespondError(404, "no such path (POST /inject or /inject-namespace)");
  }
  if (method != "POST") return c.RespondError(405, path + " takes POST");
  const config::Scope scope = path == "/inject" ? config::Scope::kPod : config::Scope::kNamespace;
  config::AdmissionAnswer a = config::Admit(c.body, scope, options_.inject);
  // Everything here may come from the request: quoted and escaped, never raw.
  LOG_INFO("event=admission path=%s outcome=%s uid=%s pod=%s%s%s", path.c_str(), a.outcome.c_str(),
           LogQuote(a.uid).c_str(), LogQuote(a.pod).c_str(),
           a.reason.empty() ? "" : " reason=", a.reason.empty() ? "" : LogQuote(a.reason).c_str());
  c.Respond(a.status, "application/json", a.body);
}

}  // namespace podrouter::webhook
