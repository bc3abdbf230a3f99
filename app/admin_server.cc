// AdminServer: a deliberately small HTTP/1.1 server; every answer ends with Connection: close.
#include "app/admin_server.h"

#include <llhttp.h>

#include "base/log.h"
#include "http/http_head.h"

namespace podrouter {
namespace {

constexpr size_t kMaxRequestHead = 8192;

}  // namespace

struct AdminServer::Connection {
  uv_tcp_t handle;
  uv_write_t write_req;
  llhttp_t parser;
  AdminServer* server;
  std::string url;
  std::string out;
  size_t head_bytes = 0;
  bool done = false;  // a response is on its way; nothing more is read
  bool complete = false;
  bool closing = false;
};

namespace {

llhttp_settings_t* Settings() {
  static llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_url = [](llhttp_t* p, const char* at, size_t len) {
      static_cast<std::string*>(p->data)->append(at, len);
      return 0;
    };
    s.on_message_complete = [](llhttp_t*) {
      // p->data points at Connection::url; the connection sees `complete` through HPE_PAUSED.
      return static_cast<int>(HPE_PAUSED);
    };
    return s;
  }();
  return &settings;
}

}  // namespace

AdminServer::AdminServer(uv_loop_t* loop, Handler handler)
    : loop_(loop), handler_(std::move(handler)) {}

AdminServer::~AdminServer() = default;

bool AdminServer::Bind(const config::BindAddress& bind, std::string* error) {
  sockaddr_storage addr{};
  int rc =
      bind.ipv6
          ? uv_ip6_addr(bind.ip.c_str(), bind.port_first, reinterpret_cast<sockaddr_in6*>(&addr))
          : uv_ip4_addr(bind.ip.c_str(), bind.port_first, reinterpret_cast<sockaddr_in*>(&addr));
  uv_tcp_init(loop_, &listen_);
  listen_.data = this;
  listen_open_ = true;
  if (rc == 0) rc = uv_tcp_bind(&listen_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listen_), 128, &OnConnection);
  if (rc != 0) {
    *error = "admin: cannot listen on " + bind.ToString() + ": " + uv_strerror(rc);
    return false;
  }
  LOG_INFO("event=admin_listening bind=%s", bind.ToString().c_str());
  return true;
}

void AdminServer::Close(std::unique_ptr<AdminServer> server) {
  AdminServer* s = server.get();
  s->self_ = std::move(server);
  ++s->closing_;  // held until every close below is issued
  if (s->listen_open_) {
    ++s->closing_;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->listen_),
             [](uv_handle_t* h) { static_cast<AdminServer*>(h->data)->HandleClosed(); });
  }
  for (auto& [raw, c] : s->connections_) s->CloseConnection(*c);
  s->HandleClosed();
}

void AdminServer::HandleClosed() {
  if (--closing_ == 0 && self_) auto self = std::move(self_);  // the server ends here
}

void AdminServer::CloseConnection(Connection& c) {
  if (c.closing) return;
  c.closing = true;
  ++closing_;
  uv_close(reinterpret_cast<uv_handle_t*>(&c.handle), [](uv_handle_t* h) {
    auto* conn = static_cast<Connection*>(h->data);
    AdminServer* s = conn->server;
    s->connections_.erase(conn);
    s->HandleClosed();
  });
}

void AdminServer::OnConnection(uv_stream_t* listen, int status) {
  auto* s = static_cast<AdminServer*>(listen->data);
  if (status < 0 || s->self_) return;
  auto c = std::make_unique<Connection>();
  c->server = s;
  c->handle.data = c.get();
  uv_tcp_init(s->loop_, &c->handle);
  Connection* raw = c.get();
  s->connections_.emplace(raw, std::move(c));
  if (uv_accept(listen, reinterpret_cast<uv_stream_t*>(&raw->handle)) != 0) {
    s->CloseConnection(*raw);
    return;
  }
  llhttp_init(&raw->parser, HTTP_REQUEST, Settings());
  raw->parser.data = &raw->url;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&raw->handle),
      [](uv_handle_t*, size_t, uv_buf_t* buf) {
        static thread_local char scratch[4096];
        *buf = uv_buf_init(scratch, sizeof(scratch));
      },
      [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
        auto* conn = static_cast<Connection*>(stream->data);
        AdminServer* server = conn->server;
        if (conn->done || conn->closing) return;
        if (nread < 0) {
          server->CloseConnection(*conn);
          return;
        }
        conn->head_bytes += static_cast<size_t>(nread);
        if (conn->head_bytes > kMaxRequestHead) {
          server->Respond(*conn, {431, "application/json", "{\"error\":\"headers_too_large\"}\n"},
                          false);
          return;
        }
        llhttp_errno_t err = llhttp_execute(&conn->parser, buf->base, static_cast<size_t>(nread));
        if (err == HPE_PAUSED) {
          std::string method =
              llhttp_method_name(static_cast<llhttp_method_t>(conn->parser.method));
          bool head = method == "HEAD";
          AdminResponse response;
          if (method != "GET" && !head) {
            response = {405, "application/json", "{\"error\":\"method_not_allowed\"}\n"};
          } else {
            std::string path = conn->url.substr(0, conn->url.find('?'));
            response = server->handler_(method, path);
          }
          server->Respond(*conn, response, head);
        } else if (err != HPE_OK) {
          server->Respond(*conn, {400, "application/json", "{\"error\":\"bad_request\"}\n"}, false);
        }
      });
}

void AdminServer::Respond(Connection& c, const AdminResponse& r, bool head) {
  c.done = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&c.handle));
  c.out = "HTTP/1.1 " + std::to_string(r.status) + " " + ReasonPhrase(r.status) +
          "\r\nContent-Type: " + r.content_type +
          "\r\nContent-Length: " + std::to_string(r.body.size()) +
          (r.status == 405 ? "\r\nAllow: GET, HEAD" : "") +
          "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  if (!head) c.out += r.body;
  uv_buf_t buf = uv_buf_init(c.out.data(), static_cast<unsigned>(c.out.size()));
  c.write_req.data = &c;
  int rc = uv_write(&c.write_req, reinterpret_cast<uv_stream_t*>(&c.handle), &buf, 1,
                    [](uv_write_t* req, int) {
                      auto* conn = static_cast<Connection*>(req->data);
                      conn->server->CloseConnection(*conn);
                    });
  if (rc != 0) CloseConnection(c);
}

}  // namespace podrouter
