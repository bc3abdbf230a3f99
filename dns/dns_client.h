// c-ares driven from the libuv loop: one uv_poll_t per DNS socket (opened and closed from c-ares'
// socket-state callback) and one uv_timer_t re-armed from ares_timeout().
#pragma once

#include <ares.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/config.h"

namespace podrouter {

class DnsClient {
 public:
  // status is an ARES_* code; answer/len hold the raw response when c-ares has one.
  using Callback = std::function<void(int status, const unsigned char* answer, int len)>;

  static std::unique_ptr<DnsClient> Create(uv_loop_t* loop, const config::Dns& dns,
                                           std::string* error);
  // Ends every query (callbacks see ARES_EDESTRUCTION) and closes the handles; the client is
  // destroyed by the last close callback.
  static void Close(std::unique_ptr<DnsClient> client);
  ~DnsClient();

  // `name` is absolute (ends with a dot): no search domains are tried.
  void Query(const std::string& name, int type, Callback callback);

  // What an ARES_* status means, in the words of DNS operators (SERVFAIL, REFUSED, NXDOMAIN,
  // timeout, connection refused), for logs and /endpoints.
  std::string Describe(int status) const;

  DnsClient(const DnsClient&) = delete;
  DnsClient& operator=(const DnsClient&) = delete;

 private:
  struct Poll {
    uv_poll_t handle;
    DnsClient* owner;
    ares_socket_t fd;
  };

  explicit DnsClient(uv_loop_t* loop) : loop_(loop) {}
  static void OnSocketState(void* data, ares_socket_t fd, int readable, int writable);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnTimer(uv_timer_t* timer);
  static void OnHandleClosed(uv_handle_t* handle);
  void ArmTimer();
  void ClosePoll(ares_socket_t fd);

  uv_loop_t* loop_;
  ares_channel channel_ = nullptr;
  uv_timer_t timer_;
  int servers_ = 0;  // name servers the channel uses
  std::unordered_map<ares_socket_t, std::unique_ptr<Poll>> polls_;
  int closing_handles_ = 0;
  std::unique_ptr<DnsClient> self_;  // set while closing: freed by the last close callback
};

}  // namespace podrouter
