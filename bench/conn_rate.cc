// Connection-rate client: for SECONDS, THREADS threads each connect, send one byte, read it back
// and close, as fast as they can. Prints completed connections per second and failures.
// Usage: bench_conn_rate IP PORT SECONDS THREADS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s IP PORT SECONDS THREADS\n", argv[0]);
    return 1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(atoi(argv[2])));
  inet_pton(AF_INET, argv[1], &addr.sin_addr);
  const double seconds = atof(argv[3]);
  const int threads = atoi(argv[4]);
  std::atomic<long> ok{0}, failed{0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (std::chrono::steady_clock::now() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        // Close with RST so the client side leaves no TIME_WAIT behind to exhaust ports.
        linger l{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
        char c = 'x';
        bool good = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                    write(fd, &c, 1) == 1 && read(fd, &c, 1) == 1;
        close(fd);
        (good ? ok : failed)++;
      }
    });
  }
  for (auto& t : pool) t.join();
  printf("%.1f %ld\n", static_cast<double>(ok) / seconds, failed.load());
  return 0;
}
