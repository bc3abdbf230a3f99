// FakeDnsServer: parses the question of each query and replies with the handler's answer.
#include "tests/unit/dns/fake_dns_server.h"

#include <memory>

namespace podrouter::testing {

FakeDnsServer::FakeDnsServer(uv_loop_t* loop) {
  uv_udp_init(loop, &udp_);
  udp_.data = this;
  sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_udp_bind(&udp_, reinterpret_cast<const sockaddr*>(&addr), 0);
  sockaddr_storage bound;
  int len = sizeof(bound);
  uv_udp_getsockname(&udp_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  uv_udp_recv_start(
      &udp_,
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = static_cast<FakeDnsServer*>(h->data);
        *buf = uv_buf_init(self->buffer_, sizeof(self->buffer_));
      },
      &FakeDnsServer::OnRecv);
}

void FakeDnsServer::Close() { uv_close(reinterpret_cast<uv_handle_t*>(&udp_), nullptr); }

void FakeDnsServer::OnRecv(uv_udp_t* udp, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                           unsigned) {
  auto* self = static_cast<FakeDnsServer*>(udp->data);
  if (nread < 12 || !from) return;
  const auto* q = reinterpret_cast<const uint8_t*>(buf->base);
  uint16_t id = static_cast<uint16_t>(q[0] << 8 | q[1]);
  std::string name;
  size_t pos = 12;
  while (pos < static_cast<size_t>(nread) && q[pos] != 0) {
    size_t len = q[pos];
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(q + pos + 1), len);
    pos += len + 1;
  }
  if (pos + 5 > static_cast<size_t>(nread)) return;
  uint16_t qtype = static_cast<uint16_t>(q[pos + 1] << 8 | q[pos + 2]);
  ++self->queries_;
  FakeAnswer answer = self->handler_ ? self->handler_(name, qtype) : FakeAnswer{3};
  if (answer.drop) return;
  auto packet = std::make_unique<std::vector<uint8_t>>(
      answer.raw.empty()
          ? BuildResponse(id, name, qtype, answer.rcode, answer.answers, answer.additional)
          : answer.raw);
  if (!answer.raw.empty() && packet->size() >= 2) {
    (*packet)[0] = static_cast<uint8_t>(id >> 8);
    (*packet)[1] = static_cast<uint8_t>(id);
  }
  auto* req = new uv_udp_send_t;
  uv_buf_t out =
      uv_buf_init(reinterpret_cast<char*>(packet->data()), static_cast<unsigned>(packet->size()));
  req->data = packet.release();
  uv_udp_send(req, udp, &out, 1, from, [](uv_udp_send_t* r, int) {
    delete static_cast<std::vector<uint8_t>*>(r->data);
    delete r;
  });
}

}  // namespace podrouter::testing
