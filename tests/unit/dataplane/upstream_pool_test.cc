// UpstreamPool and UpstreamConn against a real pod socket on the loop (port 0): a leased
// connection reports to its owner of the moment and nobody else, is reused after a complete
// response, is retired when the pod closes it while idle, and brackets every report in
// OnUpstreamCallbackBegin/End (so no pipelined request can resume inside its callbacks).
#include "dataplane/upstream_pool.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace podrouter {
namespace {

// A pod on 127.0.0.1:0: answers every request head with `response`; `close_idle` closes a
// connection once it has answered.
class Pod {
 public:
  Pod(uv_loop_t* loop, std::string response) : response_(std::move(response)) {
    uv_tcp_init(loop, &server_);
    server_.data = this;
    sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    EXPECT_EQ(uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&addr), 0), 0);
    EXPECT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 16, &OnConnection), 0);
    sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  void Close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
    for (auto& c : conns_) {
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) {
        uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), nullptr);
      }
    }
  }
  uint16_t port() const { return port_; }
  int accepted() const { return static_cast<int>(conns_.size()); }
  bool close_idle = false;

 private:
  struct Conn {
    uv_tcp_t tcp;
    Pod* pod;
    std::string buf;
  };
  static void OnConnection(uv_stream_t* server, int) {
    auto* pod = static_cast<Pod*>(server->data);
    auto conn = std::make_unique<Conn>();
    conn->pod = pod;
    uv_tcp_init(server->loop, &conn->tcp);
    conn->tcp.data = conn.get();
    uv_accept(server, reinterpret_cast<uv_stream_t*>(&conn->tcp));
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&conn->tcp),
        [](uv_handle_t*, size_t, uv_buf_t* b) { *b = uv_buf_init(new char[4096], 4096); }, &OnRead);
    pod->conns_.push_back(std::move(conn));
  }
  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    std::unique_ptr<char[]> data(b->base);
    auto* c = static_cast<Conn*>(s->data);
    if (n < 0) {
      if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) {
        uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
      }
      return;
    }
    c->buf.append(b->base, static_cast<size_t>(n));
    if (c->buf.find("\r\n\r\n") == std::string::npos) return;
    c->buf.clear();
    uv_buf_t out = uv_buf_init(c->pod->response_.data(), c->pod->response_.size());
    uv_try_write(s, &out, 1);
    if (c->pod->close_idle) uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }

  std::string response_;
  uv_tcp_t server_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
};

// Records what the connection reports, and checks every report sits inside a Begin/End pair.
class Owner : public UpstreamConn::Owner {
 public:
  void OnUpstreamCallbackBegin() override {
    EXPECT_FALSE(inside);
    inside = true;
  }
  void OnUpstreamCallbackEnd() override {
    EXPECT_TRUE(inside);
    inside = false;
    if (after_callback) std::exchange(after_callback, nullptr)();
  }
  bool OnUpstreamHead(HttpHead& head, std::string*) override {
    Note("head " + std::to_string(head.status));
    return true;
  }
  void OnUpstreamBody(const char* data, size_t len) override {
    Note("body " + std::string(data, len));
  }
  void OnUpstreamComplete(bool clean) override {
    Note(clean ? "complete" : "complete unclean");
    if (on_complete) on_complete();
  }
  void OnUpstreamUpgraded() override { Note("upgraded"); }
  void OnUpstreamTunnelData(const char*, size_t) override { Note("tunnel"); }
  void OnUpstreamTunnelEof() override { Note("tunnel eof"); }
  void OnUpstreamBelowLowWatermark() override {}
  void OnUpstreamError(int status) override {
    Note(std::string("error ") + uv_err_name(status));
    if (on_error) on_error();
  }
  void Note(const std::string& event) {
    EXPECT_TRUE(inside) << event << " outside a callback bracket";
    events.push_back(event);
  }

  std::vector<std::string> events;
  bool inside = false;
  std::function<void()> on_complete, on_error, after_callback;
};

class UpstreamPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    context_ = std::make_unique<WorkerContext>(&loop_, &metrics_);
    pool_ = std::make_unique<UpstreamPool>(context_.get());
    context_->pool = pool_.get();
  }
  void TearDown() override {
    pool_->CloseAll();
    if (pod_) pod_->Close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(pool_->size(), 0u);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }
  Endpoint PodEndpoint(uint16_t port) {
    Endpoint e;
    EXPECT_TRUE(MakeEndpoint(0, "mydb-0", "127.0.0.1", port, &e));
    e.metrics = &metrics_.ForPod("mydb", "mydb-0");
    return e;
  }
  // Runs the loop until `done`, at most `ms` milliseconds.
  bool RunUntil(const std::function<bool()>& done, int ms = 3000) {
    uint64_t deadline = uv_now(&loop_) + static_cast<uint64_t>(ms);
    while (!done() && uv_now(&loop_) < deadline) uv_run(&loop_, UV_RUN_ONCE);
    return done();
  }

  uv_loop_t loop_;
  metrics::Metrics metrics_{"test"};
  std::unique_ptr<WorkerContext> context_;
  std::unique_ptr<UpstreamPool> pool_;
  std::unique_ptr<Pod> pod_;
};

TEST_F(UpstreamPoolTest, ReusedAfterACompleteResponseAndOnlyTheOwnerHearsIt) {
  pod_ = std::make_unique<Pod>(&loop_, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  const Endpoint pod = PodEndpoint(pod_->port());
  Owner first;
  bool reused = true;
  UpstreamConn* c = pool_->Acquire(pod, &first, 1000, false, &reused);
  EXPECT_FALSE(reused);
  c->BeginRequest(false);
  first.on_complete = [&] { pool_->Release(c); };
  ASSERT_EQ(c->Write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  ASSERT_TRUE(RunUntil([&] { return first.events.size() == 3; }));
  EXPECT_EQ(first.events, (std::vector<std::string>{"head 200", "body ok", "complete"}));
  EXPECT_EQ(pool_->idle_count(), 1u);

  Owner second;
  UpstreamConn* again = pool_->Acquire(pod, &second, 1000, false, &reused);
  EXPECT_TRUE(reused);
  EXPECT_EQ(again, c);
  again->BeginRequest(false);
  second.on_complete = [&] { pool_->Release(again); };
  ASSERT_EQ(again->Write("GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  ASSERT_TRUE(RunUntil([&] { return second.events.size() == 3; }));
  EXPECT_EQ(first.events.size(), 3u);  // the first owner let go: it heard nothing more
  EXPECT_EQ(pod_->accepted(), 1);
}

TEST_F(UpstreamPoolTest, APodClosingAnIdleConnectionRetiresIt) {
  pod_ = std::make_unique<Pod>(&loop_, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  pod_->close_idle = true;
  const Endpoint pod = PodEndpoint(pod_->port());
  Owner owner;
  bool reused = false;
  UpstreamConn* c = pool_->Acquire(pod, &owner, 1000, false, &reused);
  c->BeginRequest(false);
  owner.on_complete = [&] { pool_->Release(c); };
  ASSERT_EQ(c->Write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
  ASSERT_TRUE(RunUntil([&] { return pool_->size() == 0; }));  // EOF while idle: discarded
  EXPECT_EQ(pool_->idle_count(), 0u);
  UpstreamConn* fresh = pool_->Acquire(pod, &owner, 1000, false, &reused);
  EXPECT_FALSE(reused);
  pool_->Discard(fresh);
}

TEST_F(UpstreamPoolTest, ConnectFailureIsReportedInsideACallbackBracket) {
  // Nothing listens on this port: the failure comes from the connect callback, bracketed, and
  // what the owner does at End (resume a pipelined request, here: acquire again) runs after it.
  Pod closed(&loop_, "");
  const uint16_t port = closed.port();
  closed.Close();
  uv_run(&loop_, UV_RUN_NOWAIT);
  const Endpoint pod = PodEndpoint(port);
  Owner owner;
  bool reused = false, acquired_after = false;
  UpstreamConn* c = pool_->Acquire(pod, &owner, 1000, false, &reused);
  owner.on_error = [&] {
    pool_->Discard(c, true);
    owner.after_callback = [&] {
      EXPECT_FALSE(owner.inside);
      pool_->Discard(pool_->Acquire(pod, &owner, 1000, false, &reused));
      acquired_after = true;
    };
  };
  ASSERT_TRUE(RunUntil([&] { return acquired_after; }));
  ASSERT_EQ(owner.events.size(), 1u);
  EXPECT_EQ(owner.events[0], "error ECONNREFUSED");
}

}  // namespace
}  // namespace podrouter
