// The admin HTTP server (/metrics, /healthz, /ready, /endpoints) on the proxy's own loop: one
// request per connection, parsed with llhttp, answered by a handler the Server supplies.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/config.h"

namespace podrouter {

struct AdminResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class AdminServer {
 public:
  using Handler = std::function<AdminResponse(const std::string& method, const std::string& path)>;

  AdminServer(uv_loop_t* loop, Handler handler);
  ~AdminServer();
  bool Bind(const config::BindAddress& bind, std::string* error);
  // Closes the listening socket and every connection; destroyed by the last close callback.
  static void Close(std::unique_ptr<AdminServer> server);

  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

 private:
  struct Connection;
  static void OnConnection(uv_stream_t* server, int status);
  void Respond(Connection& c, const AdminResponse& response, bool head);
  void CloseConnection(Connection& c);
  void HandleClosed();

  uv_loop_t* loop_;
  Handler handler_;
  uv_tcp_t listen_;
  bool listen_open_ = false;
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  int closing_ = 0;
  std::unique_ptr<AdminServer> self_;  // set while closing
};

}  // namespace podrouter
