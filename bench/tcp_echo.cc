// Benchmark pod: a libuv TCP echo server. Usage: bench_tcp_echo IP PORT
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

struct Conn {
  uv_tcp_t tcp;
  char buf[65536];
};

struct Write {
  uv_write_t req;
  std::unique_ptr<char[]> data;
};

void OnClose(uv_handle_t* h) { std::unique_ptr<Conn>(static_cast<Conn*>(h->data)); }

void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  if (n < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), OnClose);
    return;
  }
  if (n == 0) return;
  uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(n));
  int w = uv_try_write(s, &out, 1);
  if (w == n) return;
  if (w < 0 && w != UV_EAGAIN) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), OnClose);
    return;
  }
  size_t done = w > 0 ? static_cast<size_t>(w) : 0;
  auto wr = std::make_unique<Write>();
  wr->data = std::make_unique<char[]>(static_cast<size_t>(n) - done);
  std::copy(buf->base + done, buf->base + n, wr->data.get());
  out = uv_buf_init(wr->data.get(), static_cast<unsigned>(static_cast<size_t>(n) - done));
  wr->req.data = wr.get();
  uv_write(&wr->req, s, &out, 1,
           [](uv_write_t* r, int) { std::unique_ptr<Write>(static_cast<Write*>(r->data)); });
  wr.release();
}

void OnConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto c = std::make_unique<Conn>();
  c->tcp.data = c.get();
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c.release()->tcp), OnClose);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* b) {
        auto* conn = static_cast<Conn*>(h->data);
        *b = uv_buf_init(conn->buf, sizeof(conn->buf));
      },
      OnRead);
  c.release();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IP PORT\n", argv[0]);
    return 1;
  }
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  sockaddr_in addr;
  uv_ip4_addr(argv[1], atoi(argv[2]), &addr);
  int rc = uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 4096, OnConnection);
  if (rc != 0) {
    fprintf(stderr, "listen: %s\n", uv_strerror(rc));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
