// DnsClient: c-ares' sockets and timeouts on the libuv loop.
#include "dns/dns_client.h"

#include <arpa/nameser.h>

#include <algorithm>

#include "base/log.h"

namespace podrouter {

std::unique_ptr<DnsClient> DnsClient::Create(uv_loop_t* loop, const config::Dns& dns,
                                             std::string* error) {
  std::unique_ptr<DnsClient> client(new DnsClient(loop));
  // Opens the channel with `flags`; on failure leaves no channel and says why.
  auto open = [&](int flags) {
    ares_options options{};
    // Two tries per server: c-ares doubles the wait for the second, so both fit in dns.timeout.
    options.timeout = static_cast<int>(std::max<int64_t>(dns.timeout.count() / 3, 50));
    options.tries = 2;
    options.flags = ARES_FLAG_EDNS | flags;
    options.ednspsz = 1232;  // DNS flag day 2020: fits any path MTU; bigger answers go over TCP
    options.sock_state_cb = &DnsClient::OnSocketState;
    options.sock_state_cb_data = client.get();
    int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ |
               ARES_OPT_SOCK_STATE_CB;
    int rc = ares_init_options(&client->channel_, &options, mask);
    if (rc != ARES_SUCCESS) {
      *error = std::string("c-ares init: ") + ares_strerror(rc);
      client->channel_ = nullptr;
      return false;
    }
    if (!dns.servers.empty()) {
      std::string csv;
      for (const auto& s : dns.servers) csv += (csv.empty() ? "" : ",") + s;
      rc = ares_set_servers_ports_csv(client->channel_, csv.c_str());
      if (rc != ARES_SUCCESS) {
        *error = "c-ares servers " + csv + ": " + ares_strerror(rc);
        ares_destroy(client->channel_);
        client->channel_ = nullptr;
        return false;
      }
    }
    return true;
  };
  if (!open(0)) return nullptr;
  ares_addr_port_node* servers = nullptr;
  if (ares_get_servers_ports(client->channel_, &servers) == ARES_SUCCESS) {
    for (ares_addr_port_node* n = servers; n; n = n->next) ++client->servers_;
    ares_free_data(servers);
  }
  if (client->servers_ == 1) {
    // With one server there is nothing to fail over to, so c-ares may hand us SERVFAIL and
    // REFUSED answers as they are (it reports them as "could not contact" otherwise).
    ares_destroy(client->channel_);
    if (!open(ARES_FLAG_NOCHECKRESP)) return nullptr;
  }
  uv_timer_init(loop, &client->timer_);
  client->timer_.data = client.get();
  return client;
}

DnsClient::~DnsClient() {
  // Close() must have run; a channel left here would call back into freed memory.
  if (channel_) ares_destroy(channel_);
}

void DnsClient::Close(std::unique_ptr<DnsClient> client) {
  DnsClient* c = client.get();
  c->self_ = std::move(client);
  ares_channel channel = c->channel_;
  c->channel_ = nullptr;
  ares_destroy(channel);  // fails pending queries and reports their sockets closed
  for (auto& [fd, poll] : c->polls_) {
    (void)fd;
    ++c->closing_handles_;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll->handle), &DnsClient::OnHandleClosed);
  }
  ++c->closing_handles_;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer_), &DnsClient::OnHandleClosed);
}

void DnsClient::OnHandleClosed(uv_handle_t* handle) {
  DnsClient* c;
  if (handle->type == UV_POLL) {
    std::unique_ptr<Poll> poll(static_cast<Poll*>(handle->data));
    c = poll->owner;
  } else {
    c = static_cast<DnsClient*>(handle->data);
  }
  if (--c->closing_handles_ == 0 && c->self_) {
    c->polls_.clear();
    auto self = std::move(c->self_);  // the client ends here
  }
}

void DnsClient::Query(const std::string& name, int type, Callback callback) {
  auto owned = std::make_unique<Callback>(std::move(callback));
  ares_query(
      channel_, name.c_str(), ns_c_in, type,
      [](void* arg, int status, int /*timeouts*/, unsigned char* answer, int len) {
        std::unique_ptr<Callback> cb(static_cast<Callback*>(arg));
        (*cb)(status, answer, len);
      },
      owned.release());
  ArmTimer();
}

std::string DnsClient::Describe(int status) const {
  switch (status) {
    case ARES_ESERVFAIL:
      return "SERVFAIL (the DNS server could not answer)";
    case ARES_EREFUSED:
      return "REFUSED (the DNS server refused the query)";
    case ARES_ENOTIMP:
      return "NOTIMP (the DNS server does not do this query)";
    case ARES_EFORMERR:
      return "FORMERR (the DNS server could not read the query)";
    case ARES_ENOTFOUND:
      return "NXDOMAIN (no such name)";
    case ARES_ENODATA:
      return "no records of this type";
    case ARES_ETIMEOUT:
      return "timeout (no usable answer within dns.timeout)";
    case ARES_EBADRESP:
      return "malformed answer";
    case ARES_ECONNREFUSED:
      // c-ares 1.18 folds SERVFAIL and REFUSED into this when it fails over between servers.
      // It also stands for a TCP connection (a truncated answer's retry) closed without an answer.
      return servers_ == 1 ? "no answer: the DNS server refused or closed the connection"
                           : "no DNS server gave a usable answer (each answered SERVFAIL or "
                             "REFUSED, or refused or closed the connection)";
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
      return "cancelled";
    default:
      return ares_strerror(status);
  }
}

void DnsClient::OnSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* c = static_cast<DnsClient*>(data);
  if (!c->channel_ && !c->self_) return;  // during Create's failure path
  if (!readable && !writable) {
    c->ClosePoll(fd);
    return;
  }
  auto& poll = c->polls_[fd];
  if (!poll) {
    poll = std::make_unique<Poll>();
    poll->owner = c;
    poll->fd = fd;
    poll->handle.data = poll.get();
    uv_poll_init_socket(c->loop_, &poll->handle, fd);
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  uv_poll_start(&poll->handle, events, &DnsClient::OnPoll);
}

void DnsClient::ClosePoll(ares_socket_t fd) {
  auto it = polls_.find(fd);
  if (it == polls_.end()) return;
  // c-ares closes the socket right after this callback: stop polling it now.
  Poll* poll = it->second.release();
  polls_.erase(it);
  ++closing_handles_;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll->handle), &DnsClient::OnHandleClosed);
}

void DnsClient::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* poll = static_cast<Poll*>(handle->data);
  DnsClient* c = poll->owner;
  if (!c->channel_) return;
  ares_socket_t fd = poll->fd;
  // On a poll error let c-ares read and write, so it sees the socket's error itself.
  bool r = status < 0 || (events & UV_READABLE), w = status < 0 || (events & UV_WRITABLE);
  ares_process_fd(c->channel_, r ? fd : ARES_SOCKET_BAD, w ? fd : ARES_SOCKET_BAD);
  c->ArmTimer();
}

void DnsClient::OnTimer(uv_timer_t* timer) {
  auto* c = static_cast<DnsClient*>(timer->data);
  if (!c->channel_) return;
  ares_process_fd(c->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  c->ArmTimer();
}

void DnsClient::ArmTimer() {
  if (!channel_) return;
  timeval tv;
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    uv_timer_stop(&timer_);
    return;
  }
  uint64_t ms = static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
  uv_timer_start(&timer_, &DnsClient::OnTimer, ms + 1, 0);
}

}  // namespace podrouter
